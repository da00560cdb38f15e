/* viz.h — immediate-mode drawing for the lesson dashboards (in the manner of rxi/microui):
 * each frame the lesson calls viz_heatmap(...), viz_lineplot(...), viz_tokens(...) with plain
 * arrays and a rectangle, and viz draws them. Viz knows nothing of the engine.
 *
 * The same code draws into a window (SDL_Renderer of the window) or into an offscreen
 * surface with SDL's software renderer (--screenshot, the export's frame.png, the tests).
 * Text goes through SDL2_ttf with DejaVu Sans / Sans Mono; what DejaVu has no glyph for
 * (Hangul, kana, CJK ideographs) is drawn with a fallback face of the same style found
 * through fontconfig (Noto Sans CJK KR on Debian, package fonts-noto-cjk). Rendered strings
 * and measured widths are cached, so a frame does not rasterise or shape text that did not
 * change. Colormaps are
 * perceptually uniform: viridis for probabilities, a blue–white–red diverging map for signed
 * values.
 * Hovering a heatmap cell, a plot or a token shows its exact value in a tooltip. */
#ifndef FMLAB_VIZ_H
#define FMLAB_VIZ_H

#include <SDL.h>
#include <stdbool.h>

typedef struct VizColor { unsigned char r, g, b, a; } VizColor;
typedef struct VizRect { int x, y, w, h; } VizRect;

/* FONT_ITALIC is DejaVu Sans slanted by SDL_ttf (the Markdown's *emphasis*). */
typedef enum VizFont { FONT_SANS, FONT_BOLD, FONT_MONO, FONT_ITALIC, FONT_COUNT } VizFont;
typedef enum VizAlign { ALIGN_LEFT, ALIGN_CENTER, ALIGN_RIGHT } VizAlign;
typedef enum VizColormap { CMAP_VIRIDIS, CMAP_DIVERGING } VizColormap;

/* The theme: dark background for projection, light text, colour-blind-safe accents
 * (Okabe–Ito palette). */
extern const VizColor VIZ_BG, VIZ_PANEL, VIZ_TEXT, VIZ_DIM, VIZ_GRID, VIZ_ACCENT[8];

#define VIZ_TEXT_CACHE 1024
#define VIZ_WIDTH_CACHE 8192     /* measured widths kept (see viz_text_width) */
#define VIZ_BATCH_QUADS 1024     /* solid shapes queued before one draw call (see viz_flush) */

typedef struct VizTextEntry {
    char *text;
    int font, size;
    VizColor color;
    SDL_Texture *tex;
    int w, h;
    int ink_x, ink_y, ink_w, ink_h;  /* the pixels with any coverage: all viz_text copies */
    unsigned last_frame;
} VizTextEntry;

/* A width measured, by string, face and pixel size (not colour). */
typedef struct VizWidthEntry {
    uint64_t hash;               /* of text, font and size: compared before the text */
    char *text;                  /* owned, cap bytes: kept for the next string of the slot */
    size_t cap;
    int font, size, w;
    unsigned last_frame;
} VizWidthEntry;

typedef struct Viz {
    SDL_Renderer *r;
    SDL_Surface *surface;        /* offscreen target, or NULL for a window */
    bool soft;                   /* r is SDL's software renderer (see viz_fill) */
    int w, h;                    /* drawing size in pixels */
    float scale;                 /* text size factor (HiDPI × font scale) */
    void *fonts[FONT_COUNT][64]; /* TTF_Font * by size in px (cached) */
    char font_path[FONT_COUNT][4096];
    void *fallback[FONT_COUNT][64];          /* the fallback face's TTF_Font * by size in px */
    char fallback_path[FONT_COUNT][4096];    /* "" when the machine has none */
    long fallback_index[FONT_COUNT];         /* face in a collection (.ttc) */
    VizTextEntry cache[VIZ_TEXT_CACHE];
    size_t text_bytes;           /* the cached textures' pixels, in bytes (see viz_text_budget) */
    VizWidthEntry *widths;       /* VIZ_WIDTH_CACHE of them, allocated when viz opens */
    SDL_Texture *cells;          /* software renderer: where heatmaps are written as pixels */
    int cells_w, cells_h;
    bool cells_direct;           /* ... or straight into the offscreen surface */
    struct { uint64_t key; int height; bool used; } md_height[4];  /* viz_markdown's, by text and width */
    int md_next;
    unsigned frame;
    int mouse_x, mouse_y;
    bool mouse_down, mouse_clicked;
    char tooltip[256];           /* set by widgets under the mouse, drawn at frame end */
    float batch_xy[VIZ_BATCH_QUADS * 6 * 2];     /* queued triangles: x, y of each vertex */
    SDL_Color batch_color[VIZ_BATCH_QUADS * 6];
    int nbatch;                  /* vertices queued */
} Viz;

/* ---- layout: rectangles for the panels, immediate mode, nothing allocated ----
 * A dashboard takes strips off its window (header, footer, a side column) and splits what is
 * left into rows or columns by weights, each with a minimum size below which the panel is
 * useless. When the window is small or the text large, the least important panels are
 * dropped whole instead of every panel being squeezed unreadable. */

/* Takes a strip of h pixels off the top of *r and returns it; *r keeps what is below the
 * strip and a gap of `gap` pixels. The strip and the gap are clipped to what *r has, so *r
 * never gets a negative size (and then keeps to its far edge); negative h or gap count as 0.
 * The other three do the same from the bottom, the left and the right. */
VizRect viz_cut_top(VizRect *r, int h, int gap);
VizRect viz_cut_bottom(VizRect *r, int h, int gap);
VizRect viz_cut_left(VizRect *r, int w, int gap);
VizRect viz_cut_right(VizRect *r, int w, int gap);

/* Divides r into n parts side by side (horizontal: columns, left to right) or stacked
 * (rows, top to bottom), `gap` pixels apart, into out[0..n-1].
 * Sizes follow the weights (NULL: all equal; negative counts as 0), except that a part whose
 * share is under its minimum min_px[i] (NULL: no minimums) gets exactly its minimum and the
 * others share the rest by weight; so weight 0 with a minimum is a part of fixed size.
 * Every pixel of r is given out: the sizes and the gaps between the parts that got space add
 * up to r's length exactly (shares are rounded down at each boundary and the last sharing
 * part ends at r's end; when no part has weight left to share by, the last part that got
 * space takes what the minimums leave).
 * When the minimums and gaps do not all fit, parts get space in order of weight, largest
 * first (of equal weights, the earlier one): each part whose minimum (and gap) still fits
 * beside those already in gets space, the others are collapsed. A collapsed part gets a
 * rectangle of zero width and height at the place it would have had, and no gap.
 * Returns how many parts got space (0..n). */
int viz_split(VizRect r, bool horizontal, const float *weights, const int *min_px, int n, int gap, VizRect *out);

/* Opens viz on an offscreen surface of w×h (software rendering, no display needed).
 * 0, or -1 with a message (fonts not found, out of memory). */
int viz_open_offscreen(Viz *v, int w, int h, float scale, const char *assets_dir, char *err, size_t errlen);
/* Creates the renderer for a dashboard window: SDL's accelerated one on a machine with a
 * GPU, else SDL's software renderer drawing straight into the window (no OpenGL at all).
 * Without a GPU (Linux: no /dev/dri render node; or LIBGL_ALWAYS_SOFTWARE), SDL's
 * "accelerated" renderer is OpenGL rasterised on the CPU by Mesa's llvmpipe, which loads
 * LLVM, keeps a large heap and runs rasteriser threads beside the training: the mlm window
 * measured about 200 MB resident that way, 74 MB flat with the software renderer (Xvfb,
 * 1280x800). SDL_RENDER_DRIVER, when set, decides instead. vsync asks the accelerated
 * renderer to wait for the display (the software renderer does not, so the caller paces its
 * frames). NULL, with SDL_GetError(), if no renderer can be made. */
SDL_Renderer *viz_create_renderer(SDL_Window *win, bool vsync);
/* Opens viz on a window's renderer. */
int viz_open_renderer(Viz *v, SDL_Renderer *r, int w, int h, float scale, const char *assets_dir, char *err,
                      size_t errlen);
void viz_close(Viz *v);
void viz_begin(Viz *v);          /* clears, and starts a frame */
void viz_end(Viz *v);            /* draws the tooltip; presents a window's renderer */
/* Draws the solid shapes viz has queued (fills, frames, straight and plot lines are drawn in
 * batches). viz_end and every viz call that draws otherwise do it; call it before drawing on
 * v->r with SDL directly, or reading an offscreen surface's pixels before viz_end. */
void viz_flush(Viz *v);
/* Draws only inside r from now on (NULL: everywhere again); what a panel draws past its
 * rectangle at a large text size is cut off rather than drawn over its neighbours. */
void viz_clip(Viz *v, const VizRect *r);
/* Writes the offscreen surface (or the window's pixels) to a PNG, atomically. */
int viz_save_png(Viz *v, const char *path, char *err, size_t errlen);
void viz_set_mouse(Viz *v, int x, int y, bool down, bool clicked);

/* ---- primitives ---- */
int viz_px(const Viz *v, float size);   /* a text size (points at scale 1) in pixels */
void viz_fill(Viz *v, VizRect r, VizColor c);
void viz_frame(Viz *v, VizRect r, VizColor c);
void viz_line(Viz *v, int x0, int y0, int x1, int y1, VizColor c);
/* Text: a string is split into runs by whether the style's DejaVu face has each character;
 * runs it lacks are drawn with the fallback face (same style, same pixel size) when that has
 * them, their baselines on DejaVu's, all into the one cached texture of the string. A
 * character neither face has draws DejaVu's box. The line's height stays DejaVu's, and widths
 * are the sums of the runs', so they agree with what is drawn. */
/* The fallback face of a style: its file (the face index of a collection in *index, if
 * given), or NULL when the machine has no font with Hangul (text then draws boxes for it). */
const char *viz_fallback_font(const Viz *v, VizFont font, long *index);
/* Draws text with its top at y; returns its width in pixels. size in points (× scale). */
int viz_text(Viz *v, int x, int y, const char *text, VizFont font, float size, VizColor c, VizAlign align);
int viz_text_width(Viz *v, const char *text, VizFont font, float size);
/* The bytes of texture pixels the text cache keeps at most, besides the strings of the frame
 * being drawn: six times the drawing's own pixels, at least 8 MB. */
size_t viz_text_budget(const Viz *v);
int viz_text_height(Viz *v, VizFont font, float size);
/* Text broken at spaces into lines of at most max_w (a word wider than that is cut with
 * "…"); returns the height drawn. viz_text_wrap_height: the same height, nothing drawn. */
int viz_text_wrap(Viz *v, int x, int y, int max_w, const char *text, VizFont font, float size, VizColor c);
int viz_text_wrap_height(Viz *v, int max_w, const char *text, VizFont font, float size);
/* Text cut with "…" to fit max_w. */
int viz_text_fit(Viz *v, int x, int y, int max_w, const char *text, VizFont font, float size, VizColor c);
bool viz_hover(const Viz *v, VizRect r);
void viz_tooltip(Viz *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
VizColor viz_colormap(VizColormap m, float t);   /* t in [0,1] */
VizColor viz_mix(VizColor a, VizColor b, float t);

/* ---- widgets ---- */
/* A panel with a title bar; returns the content rectangle. The title is short_title (when
 * given) if title does not fit on one line, and wraps to a second line if that does not fit
 * either (cut with "…" only past two lines). */
VizRect viz_panel(Viz *v, VizRect r, const char *title, const char *short_title);

typedef struct VizHeatmap {
    const float *data;           /* rows × cols, row-major */
    int rows, cols;
    float vmin, vmax;
    VizColormap cmap;
    const char *const *row_labels, *const *col_labels;   /* may be NULL */
    const char *value_name;      /* "p" in the tooltip "p = 0.213" */
    bool colorbar;
    const unsigned char *hatch;  /* rows × cols: 1 draws the cell as masked (not allowed) */
} VizHeatmap;
/* Returns the (row, col) under the mouse or -1s. */
void viz_heatmap(Viz *v, VizRect r, const VizHeatmap *h, int *hover_row, int *hover_col);

#define VIZ_MAX_SERIES 6
typedef struct VizSeries {
    const char *name;
    const float *y;              /* n values at x = 1..n (NaN = no value): y[0], y[stride], … */
    long n;
    VizColor color;
    bool dashed;                 /* a reference line */
    bool points;                 /* sparse values: draw dots and joins */
    long stride;                 /* elements from one value to the next (0 = 1): a column of a
                                    row-major table of `stride` columns is plotted in place,
                                    with y = &table[column] */
} VizSeries;
typedef struct VizPlot {
    const char *xlabel, *ylabel;
    VizSeries series[VIZ_MAX_SERIES];
    int nseries;
    float hline[2];              /* horizontal reference lines (NaN = none) */
    const char *hline_name[2];
    VizColor hline_color[2];
    long xmark;                  /* a moment marked by a vertical line: the series index + 1 (0 = none) */
    const char *xmark_name;      /* written beside it at the top */
    VizColor xmark_color;
    long xmark2;                 /* a second moment, the same way (0 = none) */
    const char *xmark2_name;
    VizColor xmark2_color;
    long xmark3;                 /* a third (0 = none) */
    const char *xmark3_name;
    VizColor xmark3_color;
    bool logy;
    int smooth;                  /* moving-average window for the first series when dense (0 = off) */
    bool bounded;                /* the y axis stays inside [lo, hi], the quantity's domain */
    float lo, hi;
} VizPlot;
void viz_lineplot(Viz *v, VizRect r, const VizPlot *p);

/* Bars with labels and values, largest first as given (top-k predictions). */
void viz_bars(Viz *v, VizRect r, const char *const *labels, const float *values, int n, VizColor c,
              const char *fmt);
/* The same on a fixed scale: a value of `full` fills the bar (probabilities: 1), over a faint
 * track; full <= 0 scales to the largest value as viz_bars does. */
void viz_bars_range(Viz *v, VizRect r, const char *const *labels, const float *values, int n, VizColor c, const char *fmt,
                    float full);

/* Grouped vertical bars on a 0–100% axis (ticks every 25%): ngroups groups, labelled under
 * them, of nseries bars each (values[series · ngroups + group] in 0..1, NaN: no bar), one
 * colour per series; the first series' values are written on its bars, and `ref` (NaN: none)
 * is a dashed line across. Returns the bar under the mouse as series · ngroups + group, or -1. */
int viz_bars_grouped(Viz *v, VizRect r, const char *const *groups, int ngroups, const float *values, int nseries,
                     const VizColor *colors, float ref);
/* The same on an axis from 0 to `full` (0 < full <= 1: a share; ticks at quarters of it), for
 * values far below 100%: a value of full fills the plot's height. */
int viz_bars_grouped_range(Viz *v, VizRect r, const char *const *groups, int ngroups, const float *values, int nseries,
                           const VizColor *colors, float ref, float full);

/* A row-wrapped strip of token boxes, each with its fill colour; returns the height used.
 * *hover gets the token index under the mouse (or -1). */
/* The height viz_tokens would use at this width (nothing drawn). */
int viz_tokens_height(Viz *v, int width, const char *const *tokens, int n, float size);
int viz_tokens(Viz *v, VizRect r, const char *const *tokens, const VizColor *fills, int n, float size, int *hover);
/* The same with a small label under each box (its position, say), when bars is not NULL a
 * colour band between box and label (an attention weight, say), and a frame around the boxes
 * whose outline[i] is set (outline may be NULL). *_height measures (bars: whether there will
 * be a band). */
int viz_tokens_under(Viz *v, VizRect r, const char *const *tokens, const VizColor *fills, int n, float size,
                     const char *const *under, const VizColor *bars, const uint8_t *outline, int *hover);
int viz_tokens_under_height(Viz *v, int width, const char *const *tokens, int n, float size, const char *const *under,
                            bool bars);

/* A legend: coloured squares with names, in rows of at most max_w; returns the height used.
 * viz_legend_height: that height, nothing drawn. */
int viz_legend(Viz *v, int x, int y, int max_w, const char *const *names, const VizColor *colors, int n);
int viz_legend_height(Viz *v, int max_w, const char *const *names, int n);

/* A scrollable panel of Markdown: # headings, paragraphs, - lists, **bold**, *italic*,
 * `code`; formulas as Unicode text. *scroll is in pixels. */
void viz_markdown(Viz *v, VizRect r, const char *md, int *scroll);

bool viz_button(Viz *v, VizRect r, const char *label, bool active);

#endif
