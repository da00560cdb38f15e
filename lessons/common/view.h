/* view.h — what a lesson adds to the kit's window: its snapshot, its panels, its keys and
 * its probe. The kit draws the rest of the dashboard (header, the attention of every model ×
 * layer × head with one enlarged, the curves, the notes with their answers, the help and the
 * footer), runs training on a worker thread and renders the same dashboard to PNGs.
 *
 * The snapshot: after every step the worker copies what the dashboard shows into a KitSnap
 * (under a lock held only for that copy); the UI thread draws its own copy. The kit's part
 * (step, losses, metrics, the focus sequence's tokens and attention) is standard; a lesson
 * adds a flat blob of its own (snapshot_bind lays it out, snapshot_fill fills it), which the
 * kit copies with memcpy and re-binds, so a lesson writes no alloc/copy/free code. */
#ifndef FMLAB_LESSONS_VIEW_H
#define FMLAB_LESSONS_VIEW_H

#include "lessons/common/kit.h"
#include "lessons/common/layout.h"
#include "viz/viz.h"

#define KIT_MAX_ATTN (KIT_MAX_MODELS * KIT_MAX_STREAMS)

typedef struct KitAttn {
    char name[48];                 /* "bert", "xlnet · query" */
    int L, NH;
    float *p;                      /* (L, NH, T, T) of the focus sequence */
    uint8_t *hatch;                /* (T, T): 1 where the objective forbids attention (Lesson's
                                      allowed hook); NULL: nothing is forbidden */
    int32_t *ids;                  /* (T) the tokens this model read, when they are not the
                                      snapshot's `tokens` (Lesson's model_input); NULL: those */
} KitAttn;

typedef struct KitSnap KitSnap;
struct KitSnap {
    long step;
    uint64_t seed;                 /* the run's seed (R keeps it, Shift+R takes the next) */
    int run;                       /* the run's reset count: a new run means a new history */
    int B, T, focus;
    bool have_forward;
    bool batch_trained;            /* the batch on screen was trained on (else only looked at) */
    float loss, lr, parts[KIT_MAX_PARTS], extra[KIT_MAX_EXTRA];
    double refs[KIT_MAX_REFS];
    double value[MAX_KEYS];        /* the settings now (the window can change some) */
    int nattn;
    KitAttn attn[KIT_MAX_ATTN];
    int32_t *tokens;               /* (T) input_ids of the focus sequence: the attention axes */
    float *metrics;                /* rows × ncols, as metrics.csv without the step */
    long rows, rows_cap;
    int ncols;
    const Metrics *names;          /* column names (read-only after start) */
    float *order;                  /* word order, as run->order: order_rows × order_cols */
    long order_rows, order_cap, order_from, order_found;
    int order_cols, order_layer, order_head, order_dir;
    float order_share;
    const char *order_mark;        /* what that head means, a word or two ("word order"; gpt's leak) */
    /* the long-trained model on the same sequence: its most positional head (share 0: none) */
    float trained_share;
    int trained_layer, trained_head, trained_dir;
    long trained_step;
    long set_step;                 /* the step of the last setting changed while it ran (0: none) */
    char set_what[64];             /* "objective = sop" */
    long set_step2;                /* the change before it, at an earlier step (0: none): U off, */
    char set_what2[64];            /* then U on, leaves both marks on the curves */
    const Vocab *vocab;            /* read-only after start */
    const KitFinding *finding;     /* the lesson's stored experiment (read-only after start) */
    const LessonInfo *info;
    void *lesson;                  /* the lesson's blob */
    size_t lesson_size;
};

/* The window's interaction state, which panels read and may change (a click). */
typedef struct KitUiState {
    int attn, layer, head;         /* the enlarged map: which model/stream, layer, head */
    int notes_scroll;
    bool help, running, reveal;
    int help_scroll;               /* pixels, when the help is taller than the window */
    int steps_per_frame;
    char status[256];              /* a message line (divergence, saved files) */
    long steps_done, steps_total;  /* a command of several steps under way (--steps) */
    int zoom;                      /* 0, or the panel shown on the whole window (Z; O: -1, the notes) */
    int page;                      /* the panel shown when the window shows one at a time */
    KitLayout layout;              /* where the last frame put the panels: what Z, P and a
                                      click on a tab refer to */
    int lang;                      /* 0 English, 1 Korean (L) */
    bool attn_fixed;               /* attention colours on a fixed 0–1 range (C) */
    bool no_breakpoint;            /* B: do not pause when a head discovers word order */
    bool probing;                  /* typing a probe */
    char probe[256];
    char preedit[128];             /* the input method's composition (Hangul being typed), not
                                      yet part of probe; drawn underlined at the caret */
    int preedit_caret;             /* the caret inside preedit, in bytes */
    VizRect caret;                 /* where the last frame drew the caret (for the IME window) */
    bool probe_asked;              /* a probe was sent: its panel stays while the answer comes */
    const void *probe_result;      /* the lesson's answer to the probe, or NULL */
    const void *probe_trained;     /* the long-trained model's answer, or NULL */
    int pick;                      /* 1 + the position the student clicked in a lesson panel (0: none) */
    const char *trained;           /* "trained 12000 steps", or why there is none */
    const char *notes;
} KitUiState;

typedef struct KitFrame {
    const KitSnap *s;
    const void *snap;              /* the lesson's blob (s->lesson) */
    KitUiState *ui;                /* never NULL (a default state when rendering a PNG) */
} KitFrame;

/* KIT_PANEL_PROBE: shown only while probing or showing an answer; the kit draws the line
 * being typed at its top and hands the panel the rectangle below it. */
enum { KIT_PANEL_PROBE = 1 };

typedef struct KitPanel {
    const char *title;
    void (*draw)(Viz *v, VizRect content, const KitFrame *f);
    float weight;                  /* share of the lesson's column */
    int flags;
    const char *short_title;       /* a word or two: the panel's tab, and its title when the
                                      full one does not fit (NULL: the title) */
} KitPanel;

/* A key that changes a setting while the window runs: value += step, clamped to its range. */
typedef struct KitKey {
    int key;                       /* the character ('[') */
    const char *setting;
    double step;
    const char *help;              /* "mlm_probability −0.05" */
    const double *cycle;           /* instead of step: the values the key goes through in turn
                                      (labels 16, 64, 256, all); NULL: step */
    int ncycle;
} KitKey;

/* A curve panel: the metric columns of train and held-out, and a reference line. */
typedef struct KitCurve {
    const char *title, *ylabel;
    const char *train, *heldout;   /* metric column names (heldout may be NULL) */
    int ref;                       /* index into run->refs, or -1 */
    const char *ref_name;
    bool bounded;                  /* the quantity's domain: the axis stays inside [lo, hi] */
    float lo, hi;
    const char *short_title;       /* as KitPanel's */
    int ref2;                      /* a second reference line: index into run->refs + 1 (0: none) */
    const char *ref2_name;
    /* instead of train and held-out: columns of several models side by side, each a named
       series in its own accent colour (NULL-terminated; NULL: train and held-out) */
    const char *const *series;
    const char *const *series_name;
    const int *series_color;       /* VIZ_ACCENT indices */
    bool series_points;            /* held-out figures: dots joined */
    bool logy;                     /* a logarithmic y axis (perplexity, from thousands down to tens) */
} KitCurve;

typedef struct LessonView {
    /* With snap NULL: the blob's size for this snapshot (s->T, s->B are set). Otherwise
     * points the blob's arrays into the blob itself (after it was allocated or copied). */
    size_t (*snapshot_bind)(void *snap, const KitSnap *s);
    void (*snapshot_fill)(void *snap, const Run *r, int focus);
    /* The header's figures after "step N  loss x" (e.g. "masked-token accuracy 12.0%"). */
    void (*headline)(const KitFrame *f, char *buf, size_t n);
    const KitPanel *panels;
    int npanels;
    const KitCurve *curves;
    int ncurves;
    const KitKey *keys;
    int nkeys;
    /* The probe (key /): runs on the worker with the run's model, and with the lesson's
     * long-trained one when it ships (trained.h); result is probe_size bytes. NULL: none. */
    void (*probe)(Run *r, Model *model, const char *text, void *result);
    size_t probe_size;
    const char *probe_help;        /* what to type, for the help ("a sentence with [mask] in it") */
    const char *item;              /* what a row of the batch is called ("pair"); NULL: "sequence" */
    /* A probe answered from the start, before anything is typed (its panel is then always
       shown, in PNGs too): fmlab-gpt's prompt. NULL: none. */
    const char *probe_default;
    /* The head the lesson wants enlarged, once there is one (fmlab-icl: the induction head when
       it forms): true with its layer and head. The window switches the enlarged map to it the
       first time in a run (as it does for the word-order head); PNGs show it. NULL: none. */
    bool (*spotlight)(const KitSnap *s, const void *snap, int *layer, int *head);
} LessonView;

/* The program: kit_main with this lesson's window and dashboard. */
int lesson_main(const Lesson *l, const LessonView *view, int argc, char **argv);

/* ---- for panels ---- */
const char *kit_token(const KitSnap *s, int32_t id);   /* the token's text, or "?" */
int kit_value_index(const KitSnap *s, const char *key);
double kit_snap_value(const KitSnap *s, const char *key);
/* Bars of the k most probable tokens on one scale from 0 to 1, so two models side by side
 * compare (ids < 0 end the list); the id `mark` gets a ✓. */
void kit_topk_bars(Viz *v, VizRect r, const KitSnap *s, const int32_t *ids, const float *p, int k, int32_t mark,
                   VizColor color);
/* One query's attention in every layer and head, as a heatmap: row l·NH + h (labelled "L1 h2";
 * the row `mark`, or none with -1, gets a ▶), one column per key, labelled with the tokens ids
 * (n of them). attn's rows lie `stride` floats apart. At most KIT_ATTN_ROWS rows and
 * KIT_ATTN_COLS columns. Returns the row under the mouse (or -1) and its column in *col: the
 * caller words the tooltip. */
#define KIT_ATTN_ROWS 64
#define KIT_ATTN_COLS 128
int kit_attention_rows(Viz *v, VizRect r, const KitSnap *s, const float *attn, int L, int NH, size_t stride,
                       const int32_t *ids, int n, int mark, int *col);
/* The newest value of a metric column that is not NaN (held-out figures), or NaN. */
double kit_last_value(const KitSnap *s, const char *col);
/* A metric column by name, or -1. */
int kit_metric_col(const KitSnap *s, const char *name);

/* ---- text blocks for panels (lines.c): nothing is ever drawn cut ---- */
/* n with thousands separators ("109,482,240"), in one of a ring of 24 buffers (several may
 * appear in one printf; the UI thread's own) */
const char *kit_count(int64_t n);
/* Text wrapped at c's width from *y, only if all of it fits above c's bottom; returns whether
 * it was drawn (and *y moved past it). */
bool kit_put(Viz *v, VizRect c, int *y, const char *text, VizFont font, float size, VizColor color);
/* Lines of text, each in its font and colour (a bold one starts a paragraph: a little space
 * above it), and, when bars is set, under some of them a bar: a share of the width in two
 * parts split at `split` (1: one part). A bar of -2 or less marks a line that is a note on
 * the bars, shown only with them. At most 16 lines. */
typedef struct KitLines {
    int n;
    bool bars;
    char text[16][240];
    VizFont font[16];
    VizColor color[16];
    float bar[16], split[16];     /* bar < 0: none */
} KitLines;
void kit_lines_add(KitLines *l, VizFont font, VizColor color, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* a bar under the last line added */
void kit_lines_bar(KitLines *l, double share, double split);
/* the height of every line (at 10 points) at this width */
int kit_lines_height(Viz *v, int width, const KitLines *l);
/* Draws the lines that fit in c from *y, in order, stopping at the first that does not;
 * returns how many were drawn. */
int kit_lines_draw(Viz *v, VizRect c, int *y, const KitLines *l);
/* "(Z enlarges: what)" (zoomed: "(a larger window shows what)") at y, if a line fits there */
void kit_more_hint(Viz *v, VizRect c, int y, const KitFrame *f, const char *what);
/* The text scale, from 1 up to 1.3, at which a panel's content still fits c: a panel with room
 * to spare (zoomed, a page of its own) is read from further away. need(v, c, f) is the
 * content's height at v's scale. */
float kit_grow(Viz *v, VizRect c, const KitFrame *f, int (*need)(Viz *, VizRect, const KitFrame *));
/* A panel whose one function both measures (draw false: returns its height, draws nothing)
 * and draws it (draw true), drawn at the scale kit_grow would find. */
void kit_draw_grown(Viz *v, VizRect c, const KitFrame *f, int (*draw)(Viz *, VizRect, const KitFrame *, bool draw));

/* ---- the loss, part by part (stack.c) ---- */
/* For a total that weighs several parts (distil: alpha_ce·ce + alpha_mlm·mlm + alpha_cos·cos):
 * each part's metrics column times the weight it had at each step (the lesson writes the
 * weights as metrics columns of the same names as their settings), stacked over the steps, in
 * one colour per part; the sum written out for the batch on screen; a step's figures on hover.
 * A part whose weight is NULL counts once (weight 1). */
typedef struct KitStack {
    int n;
    const char *const *parts;      /* metrics columns (the loss parts) */
    const char *const *weights;    /* their weights: a setting, and a metrics column, of that name; or NULL */
    const VizColor *colors;
} KitStack;
void kit_stack_panel(Viz *v, VizRect c, const KitFrame *f, const KitStack *st);

/* ---- aligned token rows (strips.c) ---- */
/* The same n positions in several rows, column under column (the text, what one model read,
 * what another read, a score), so what happened to a token reads straight down. When n columns
 * do not fit side by side at a readable width the rows are drawn in blocks of `per` columns,
 * each labelled at its left; a word too long for its cell ends in "…". */
typedef struct KitStrip {
    const char *name[2];           /* the row's label, and a shorter one for a narrow panel */
    const char *const *text;       /* n cells */
    const VizColor *fill;          /* n cells; the text is drawn in the ink that reads on it */
    const VizColor *band;          /* a band under the row (alpha 0: none there), or NULL */
    const uint8_t *frame;          /* 1: a white frame (electra: a wrong verdict), or NULL */
} KitStrip;
typedef struct KitStripFit { int per, blocks, lw, colw, rh, band, gap, name; float size; } KitStripFit;
/* The layout of nrows rows of n cells at `size` points in `width` pixels. */
KitStripFit kit_strip_fit(Viz *v, int width, const KitStrip *rows, int nrows, int n, float size);
/* The height of one block of rows (k->gap after each block is extra). */
int kit_strip_block_height(const KitStripFit *k, const KitStrip *rows, int nrows);
/* The smallest size a strip's text may have at v's scale. */
float kit_strip_smallest(const Viz *v);
/* The text colour that reads on a fill. */
VizColor kit_ink_on(VizColor fill);
/* Draws the blocks that fit in c from *y (moved past them); the column `pick` (or -1) framed
 * in pick_color. Returns the position under the mouse, or -1; *all: every block was drawn. */
int kit_strip_draw(Viz *v, VizRect c, int *y, const KitStripFit *k, const KitStrip *rows, int nrows, int n, int pick,
                   VizColor pick_color, bool *all);

/* ---- the snapshot and the dashboard (dashboard.c) ---- */
int kit_snap_init(KitSnap *s, const Run *r, const LessonView *view);
void kit_snap_free(KitSnap *s);
/* Copies what the dashboard shows out of the run (the caller owns the run: the worker). */
void kit_snap_fill(KitSnap *s, const Run *r, const LessonView *view, int focus);
/* dst = src (both made by kit_snap_init for the same run): only new metric rows are copied. */
void kit_snap_copy(KitSnap *dst, const KitSnap *src, const LessonView *view);
void kit_draw(Viz *v, const KitSnap *s, KitUiState *ui, const LessonView *view);
/* notes.md (lang 0) or notes.ko.md (lang 1) of the lesson, or a line saying where it was
 * looked for (static storage, read once). */
const char *kit_notes(const LessonInfo *info, int lang);
/* The dashboard drawn offscreen at the run's --size and --font-scale, saved as a PNG. */
int kit_render_png(Run *r, const char *path, char *err, size_t errlen);
/* Engine threads of the window's worker: --threads, or all cores but the one that draws. */
int kit_window_threads(int requested);
int kit_window(Run *r, const void *view);

#endif
