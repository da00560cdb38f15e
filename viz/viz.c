/* viz.c — primitives, text cache, colormaps and widgets. */
#define _POSIX_C_SOURCE 200809L
#include "viz.h"

#include <SDL_image.h>
#include <dirent.h>
#include <SDL_ttf.h>
#include <cglm/cglm.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef VIZ_HAVE_FONTCONFIG
#include <fontconfig/fontconfig.h>
#endif

const VizColor VIZ_BG = {24, 26, 32, 255};
const VizColor VIZ_PANEL = {34, 37, 46, 255};
const VizColor VIZ_TEXT = {235, 236, 240, 255};
const VizColor VIZ_DIM = {160, 164, 176, 255};
const VizColor VIZ_GRID = {64, 68, 82, 255};
/* Okabe–Ito: orange, sky blue, bluish green, yellow, blue, vermillion, reddish purple, grey */
const VizColor VIZ_ACCENT[8] = {{230, 159, 0, 255},   {86, 180, 233, 255},  {0, 158, 115, 255},
                                {240, 228, 66, 255},  {0, 114, 178, 255},   {213, 94, 0, 255},
                                {204, 121, 167, 255}, {153, 153, 153, 255}};

static const char *font_files[FONT_COUNT] = {"DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf",
                                             "DejaVuSans.ttf"};

/* ------------------------------------------------------------------ setup ---- */

static int find_fonts(Viz *v, const char *assets_dir, char *err, size_t errlen)
{
    const char *dirs[3] = {assets_dir, "/usr/share/fonts/truetype/dejavu", NULL};
    for (int f = 0; f < FONT_COUNT; f++) {
        v->font_path[f][0] = 0;
        for (int d = 0; d < 2 && !v->font_path[f][0]; d++) {
            if (!dirs[d]) continue;
            char p[4096];
            snprintf(p, sizeof p, d == 0 ? "%s/fonts/%s" : "%s/%s", dirs[d], font_files[f]);
            FILE *fp = fopen(p, "rb");
            if (fp) {
                fclose(fp);
                snprintf(v->font_path[f], sizeof v->font_path[f], "%s", p);
            }
        }
        if (!v->font_path[f][0]) {
            snprintf(err, errlen, "font %s not found in %s/fonts", font_files[f], assets_dir ? assets_dir : "(none)");
            return -1;
        }
    }
    return 0;
}

/* The fallback faces, for what DejaVu lacks: asked of fontconfig as a sans-serif (bold, mono)
 * face for Korean, else looked for where Debian's packages put them. A candidate counts only
 * if it opens and has Hangul (fontconfig answers its best match even when nothing has it,
 * DejaVu itself then). Nothing found is no error: those characters draw DejaVu's boxes. */
static bool has_hangul(const char *path, long index)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return false;
    fclose(fp);
    TTF_Font *f = TTF_OpenFontIndex(path, 12, index);
    if (!f) return false;
    bool ok = TTF_GlyphIsProvided32(f, 0xD55C) != 0;
    TTF_CloseFont(f);
    return ok;
}

#ifdef VIZ_HAVE_FONTCONFIG
static bool fontconfig_match(FcConfig *cfg, const char *pattern, char *path, size_t pathlen, long *index)
{
    bool found = false;
    FcPattern *pat = cfg ? FcNameParse((const FcChar8 *)pattern) : NULL;
    if (pat) {
        FcConfigSubstitute(cfg, pat, FcMatchPattern);
        FcDefaultSubstitute(pat);
        FcResult res;
        FcPattern *m = FcFontMatch(cfg, pat, &res);
        FcChar8 *file = NULL;
        int idx = 0;
        if (m && FcPatternGetString(m, FC_FILE, 0, &file) == FcResultMatch) {
            if (FcPatternGetInteger(m, FC_INDEX, 0, &idx) != FcResultMatch) idx = 0;
            if (has_hangul((const char *)file, idx)) {
                snprintf(path, pathlen, "%s", (const char *)file);
                *index = idx;
                found = true;
            }
        }
        if (m) FcPatternDestroy(m);
        FcPatternDestroy(pat);
    }
    return found;
}
#endif

static void find_fallbacks(Viz *v)
{
    static const char *patterns[FONT_COUNT] = {"sans-serif:lang=ko", "sans-serif:lang=ko:weight=bold",
                                               "monospace:lang=ko", "sans-serif:lang=ko"};
    /* Debian: fonts-noto-cjk (faces 1 and 6 of the collections: Sans CJK KR, Sans Mono CJK
       KR), fonts-nanum, fonts-nanum-coding; each style falls back to the regular faces */
    static const struct { const char *path; long index; } known[FONT_COUNT][5] = {
        {{"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 1},
         {"/usr/share/fonts/truetype/nanum/NanumGothic.ttf", 0}},
        {{"/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 1},
         {"/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf", 0},
         {"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 1},
         {"/usr/share/fonts/truetype/nanum/NanumGothic.ttf", 0}},
        {{"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 6},
         {"/usr/share/fonts/truetype/nanum/NanumGothicCoding.ttf", 0},
         {"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 1},
         {"/usr/share/fonts/truetype/nanum/NanumGothic.ttf", 0}},
        {{"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 1},
         {"/usr/share/fonts/truetype/nanum/NanumGothic.ttf", 0}},
    };
#ifdef VIZ_HAVE_FONTCONFIG
    FcConfig *cfg = FcInitLoadConfigAndFonts();
#else
    (void)patterns;
#endif
    for (int f = 0; f < FONT_COUNT; f++) {
        v->fallback_path[f][0] = 0;
        v->fallback_index[f] = 0;
#ifdef VIZ_HAVE_FONTCONFIG
        if (fontconfig_match(cfg, patterns[f], v->fallback_path[f], sizeof v->fallback_path[f], &v->fallback_index[f]))
            continue;
#endif
        for (int k = 0; k < 5 && known[f][k].path && !v->fallback_path[f][0]; k++)
            if (has_hangul(known[f][k].path, known[f][k].index)) {
                snprintf(v->fallback_path[f], sizeof v->fallback_path[f], "%s", known[f][k].path);
                v->fallback_index[f] = known[f][k].index;
            }
    }
#ifdef VIZ_HAVE_FONTCONFIG
    if (cfg) FcConfigDestroy(cfg);
#endif
}

const char *viz_fallback_font(const Viz *v, VizFont font, long *index)
{
    if (font < 0 || font >= FONT_COUNT || !v->fallback_path[font][0]) return NULL;
    if (index) *index = v->fallback_index[font];
    return v->fallback_path[font];
}

static int common_open(Viz *v, int w, int h, float scale, const char *assets_dir, char *err, size_t errlen)
{
    if (!TTF_WasInit() && TTF_Init() != 0) {
        snprintf(err, errlen, "SDL_ttf: %s", TTF_GetError());
        return -1;
    }
    v->w = w;
    v->h = h;
    v->scale = scale;
    v->mouse_x = v->mouse_y = -1;
    v->widths = calloc(VIZ_WIDTH_CACHE, sizeof *v->widths);
    if (!v->widths) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    SDL_RendererInfo info;
    v->soft = SDL_GetRendererInfo(v->r, &info) == 0 && (info.flags & SDL_RENDERER_SOFTWARE);
    SDL_SetRenderDrawBlendMode(v->r, SDL_BLENDMODE_BLEND);
    if (find_fonts(v, assets_dir, err, errlen)) return -1;
    find_fallbacks(v);
    return 0;
}

int viz_open_offscreen(Viz *v, int w, int h, float scale, const char *assets_dir, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    v->surface = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32, SDL_PIXELFORMAT_ARGB8888);
    if (!v->surface) {
        snprintf(err, errlen, "offscreen surface %dx%d: %s", w, h, SDL_GetError());
        return -1;
    }
    v->r = SDL_CreateSoftwareRenderer(v->surface);
    if (!v->r) {
        snprintf(err, errlen, "software renderer: %s", SDL_GetError());
        SDL_FreeSurface(v->surface);
        return -1;
    }
    if (common_open(v, w, h, scale, assets_dir, err, errlen)) {
        viz_close(v);
        return -1;
    }
    return 0;
}

int viz_open_renderer(Viz *v, SDL_Renderer *r, int w, int h, float scale, const char *assets_dir, char *err,
                      size_t errlen)
{
    memset(v, 0, sizeof *v);
    v->r = r;
    if (common_open(v, w, h, scale, assets_dir, err, errlen)) {
        viz_close(v); /* what was opened; the renderer stays the caller's */
        return -1;
    }
    return 0;
}

/* A GPU that OpenGL can use: on Linux, a DRM render node (Xvfb and containers have none, and
 * then Mesa falls back to llvmpipe). Elsewhere, assumed. */
static bool have_gpu(void)
{
    const char *sw = getenv("LIBGL_ALWAYS_SOFTWARE");
    if (sw && *sw && strcmp(sw, "0") != 0) return false;
#ifdef __linux__
    DIR *d = opendir("/dev/dri");
    if (!d) return false;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) found = strncmp(e->d_name, "renderD", 7) == 0;
    closedir(d);
    return found;
#else
    return true;
#endif
}

SDL_Renderer *viz_create_renderer(SDL_Window *win, bool vsync)
{
    Uint32 flags = vsync ? SDL_RENDERER_PRESENTVSYNC : 0;
    if (SDL_GetHint(SDL_HINT_RENDER_DRIVER)) return SDL_CreateRenderer(win, -1, flags);
    SDL_Renderer *r = have_gpu() ? SDL_CreateRenderer(win, -1, SDL_RENDERER_ACCELERATED | flags) : NULL;
    if (r) return r;
    /* SDL would otherwise present the software renderer's pixels through an OpenGL texture */
    SDL_SetHint(SDL_HINT_FRAMEBUFFER_ACCELERATION, "0");
    return SDL_CreateRenderer(win, -1, SDL_RENDERER_SOFTWARE);
}

void viz_close(Viz *v)
{
    for (int i = 0; i < VIZ_TEXT_CACHE; i++) {
        if (v->cache[i].tex) SDL_DestroyTexture(v->cache[i].tex);
        free(v->cache[i].text);
    }
    for (int i = 0; v->widths && i < VIZ_WIDTH_CACHE; i++) free(v->widths[i].text);
    free(v->widths);
    if (v->cells) SDL_DestroyTexture(v->cells);
    for (int f = 0; f < FONT_COUNT; f++)
        for (int s = 0; s < 64; s++) {
            if (v->fonts[f][s]) TTF_CloseFont(v->fonts[f][s]);
            if (v->fallback[f][s]) TTF_CloseFont(v->fallback[f][s]);
        }
    if (v->surface) {
        SDL_DestroyRenderer(v->r);
        SDL_FreeSurface(v->surface);
    }
    memset(v, 0, sizeof *v);
}

void viz_begin(Viz *v)
{
    v->frame++;
    v->tooltip[0] = 0;
    v->nbatch = 0; /* what a frame left unflushed would be cleared anyway */
    SDL_SetRenderDrawColor(v->r, VIZ_BG.r, VIZ_BG.g, VIZ_BG.b, 255);
    SDL_RenderClear(v->r);
}

void viz_set_mouse(Viz *v, int x, int y, bool down, bool clicked)
{
    v->mouse_x = x;
    v->mouse_y = y;
    v->mouse_down = down;
    v->mouse_clicked = clicked;
}

void viz_tooltip(Viz *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->tooltip, sizeof v->tooltip, fmt, ap);
    va_end(ap);
}

void viz_end(Viz *v)
{
    if (v->tooltip[0] && v->mouse_x >= 0) {
        float size = 12;
        int tw = viz_text_width(v, v->tooltip, FONT_MONO, size), th = viz_text_height(v, FONT_MONO, size);
        int pad = viz_px(v, 5), most = v->w * 3 / 5 - 2 * pad; /* a long tip wraps at 3/5 of the window */
        bool wrap = tw > most && most > 0;
        if (wrap) {
            tw = most;
            th = viz_text_wrap_height(v, most, v->tooltip, FONT_MONO, size);
        }
        VizRect r = {v->mouse_x + viz_px(v, 14), v->mouse_y + viz_px(v, 14), tw + 2 * pad, th + 2 * pad};
        if (r.x + r.w > v->w) r.x = v->mouse_x - r.w - viz_px(v, 6);
        if (r.y + r.h > v->h) r.y = v->mouse_y - r.h - viz_px(v, 6);
        if (r.x < 0) r.x = r.w < v->w ? (v->w - r.w) / 2 : 0; /* wider than either side: centred */
        if (r.y < 0) r.y = 0;
        viz_fill(v, r, (VizColor){12, 12, 16, 240});
        viz_frame(v, r, VIZ_ACCENT[3]);
        if (wrap) viz_text_wrap(v, r.x + pad, r.y + pad, most, v->tooltip, FONT_MONO, size, VIZ_TEXT);
        else viz_text(v, r.x + pad, r.y + pad, v->tooltip, FONT_MONO, size, VIZ_TEXT, ALIGN_LEFT);
    }
    viz_flush(v);
    if (!v->surface) SDL_RenderPresent(v->r);
}

int viz_save_png(Viz *v, const char *path, char *err, size_t errlen)
{
    viz_flush(v);
    SDL_Surface *s = v->surface;
    SDL_Surface *owned = NULL;
    if (!s) {
        owned = SDL_CreateRGBSurfaceWithFormat(0, v->w, v->h, 32, SDL_PIXELFORMAT_ARGB8888);
        if (!owned || SDL_RenderReadPixels(v->r, NULL, SDL_PIXELFORMAT_ARGB8888, owned->pixels, owned->pitch)) {
            snprintf(err, errlen, "%s: cannot read the window's pixels: %s", path, SDL_GetError());
            SDL_FreeSurface(owned);
            return -1;
        }
        s = owned;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = IMG_SavePNG(s, tmp);
    if (rc == 0 && rename(tmp, path) != 0) rc = -1;
    if (rc) {
        snprintf(err, errlen, "%s: %s", path, errno ? strerror(errno) : IMG_GetError());
        remove(tmp);
    }
    SDL_FreeSurface(owned);
    return rc ? -1 : 0;
}

/* ----------------------------------------------------------------- layout ---- */

static int clamp_int(int x, int lo, int hi) { return x < lo ? lo : x > hi ? hi : x; }

VizRect viz_cut_top(VizRect *r, int h, int gap)
{
    int have = r->h > 0 ? r->h : 0;
    h = clamp_int(h, 0, have);
    gap = clamp_int(gap, 0, have - h);
    VizRect strip = {r->x, r->y, r->w, h};
    r->y += h + gap;
    r->h = have - h - gap;
    return strip;
}

VizRect viz_cut_bottom(VizRect *r, int h, int gap)
{
    int have = r->h > 0 ? r->h : 0;
    h = clamp_int(h, 0, have);
    gap = clamp_int(gap, 0, have - h);
    VizRect strip = {r->x, r->y + have - h, r->w, h};
    r->h = have - h - gap;
    return strip;
}

VizRect viz_cut_left(VizRect *r, int w, int gap)
{
    int have = r->w > 0 ? r->w : 0;
    w = clamp_int(w, 0, have);
    gap = clamp_int(gap, 0, have - w);
    VizRect strip = {r->x, r->y, w, r->h};
    r->x += w + gap;
    r->w = have - w - gap;
    return strip;
}

VizRect viz_cut_right(VizRect *r, int w, int gap)
{
    int have = r->w > 0 ? r->w : 0;
    w = clamp_int(w, 0, have);
    gap = clamp_int(gap, 0, have - w);
    VizRect strip = {r->x + have - w, r->y, w, r->h};
    r->w = have - w - gap;
    return strip;
}

/* viz_split keeps its working state in out[] itself (no scratch arrays, so no limit on n):
 * until the last pass, out[i].x is the part's state and out[i].w its size. */
enum { PART_SHARES, PART_AT_MIN, PART_COLLAPSED, PART_UNDECIDED };

static float part_weight(const float *weights, int i) { return !weights ? 1.0f : weights[i] > 0 ? weights[i] : 0.0f; }
static int part_min(const int *min_px, int i) { return min_px && min_px[i] > 0 ? min_px[i] : 0; }

int viz_split(VizRect r, bool horizontal, const float *weights, const int *min_px, int n, int gap, VizRect *out)
{
    if (n <= 0) return 0;
    int total = horizontal ? r.w : r.h;
    if (total < 0) total = 0;
    if (gap < 0) gap = 0;
    for (int i = 0; i < n; i++) out[i] = (VizRect){PART_UNDECIDED, 0, 0, 0};
    /* which parts get space: by weight, largest first (the earlier of equals), each one whose
       minimum and gap still fit beside those already in */
    int k = 0;
    long need = 0;
    for (int round = 0; round < n; round++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (out[i].x == PART_UNDECIDED && (best < 0 || part_weight(weights, i) > part_weight(weights, best))) best = i;
        long more = part_min(min_px, best) + (k > 0 ? gap : 0);
        if (need + more <= total) {
            out[best].x = PART_SHARES;
            need += more;
            k++;
        } else {
            out[best].x = PART_COLLAPSED;
        }
    }
    int avail = k > 0 ? total - gap * (k - 1) : 0;
    /* parts whose share by weight is under their minimum get the minimum; the others share
       what is left, which may push more of them under theirs */
    long at_min;
    double wsum;
    int nshare;
    for (bool changed = true; changed;) {
        changed = false;
        at_min = 0;
        wsum = 0;
        nshare = 0;
        for (int i = 0; i < n; i++) {
            if (out[i].x == PART_AT_MIN) at_min += part_min(min_px, i);
            if (out[i].x == PART_SHARES) { wsum += part_weight(weights, i); nshare++; }
        }
        for (int i = 0; i < n; i++) {
            if (out[i].x != PART_SHARES) continue;
            double share = wsum > 0 ? (double)(avail - at_min) * part_weight(weights, i) / wsum : 0;
            if (share < part_min(min_px, i)) { out[i].x = PART_AT_MIN; changed = true; }
        }
    }
    /* whole pixels: each boundary rounded down, the last sharing part ends at the end */
    long free_px = avail - at_min;
    double cum = 0;
    long given = 0;
    int seen = 0, last = -1;
    for (int i = 0; i < n; i++) {
        if (out[i].x == PART_COLLAPSED) continue;
        last = i;
        if (out[i].x == PART_AT_MIN) { out[i].w = part_min(min_px, i); continue; }
        if (wsum <= 0) { out[i].w = 0; continue; }
        cum += part_weight(weights, i);
        long edge = ++seen == nshare ? free_px : (long)floor((double)free_px * cum / wsum + 1e-7);
        out[i].w = (int)(edge - given);
        given = edge;
    }
    if (wsum <= 0 && last >= 0) out[last].w += (int)free_px;
    /* place them */
    int start = horizontal ? r.x : r.y, pos = start;
    for (int i = 0; i < n; i++) {
        bool gone = out[i].x == PART_COLLAPSED;
        int size = gone ? 0 : out[i].w, at = pos < start + total ? pos : start + total;
        if (horizontal) out[i] = (VizRect){at, r.y, size, gone || r.h < 0 ? 0 : r.h};
        else out[i] = (VizRect){r.x, at, gone || r.w < 0 ? 0 : r.w, size};
        if (!gone) pos += size + gap;
    }
    return k;
}

/* ------------------------------------------------------------- primitives ---- */

int viz_px(const Viz *v, float size) { return (int)lroundf(size * v->scale); }

static void set_color(Viz *v, VizColor c) { SDL_SetRenderDrawColor(v->r, c.r, c.g, c.b, c.a); }

/* Solid shapes are queued as triangles with their colours and drawn by one SDL_RenderGeometry
 * call per VIZ_BATCH_QUADS, not one SDL call each: a dashboard has some ten thousand cells,
 * bars and plot columns per frame, and an OpenGL renderer keeps state for every draw call
 * until the frame is presented (under Mesa's llvmpipe, tens of MB per frame). Anything drawn
 * otherwise (text, thin diagonal lines, clipping) flushes the queue first, so the order on
 * screen is the order of the calls. SDL's software renderer has no such state, and draws a
 * queued rectangle no faster than a fill of its own: there rectangles are not queued at all
 * (fill_soft), only the plot lines' slanted parallelograms. */
void viz_flush(Viz *v)
{
    if (!v->nbatch) return;
    /* SDL's software renderer blends a triangle by rasterising it into a surface of its own,
       allocated for it, and blitting that: when every shape queued is opaque (the plots' lines
       are) it is written straight in instead, unblended, the same pixels */
    bool opaque = v->soft;
    for (int k = 0; opaque && k < v->nbatch; k += 6) opaque = v->batch_color[k].a == 255;
    if (opaque) SDL_SetRenderDrawBlendMode(v->r, SDL_BLENDMODE_NONE);
    SDL_RenderGeometryRaw(v->r, NULL, v->batch_xy, 2 * sizeof(float), v->batch_color, sizeof(SDL_Color), NULL, 0,
                          v->nbatch, NULL, 0, 0);
    if (opaque) SDL_SetRenderDrawBlendMode(v->r, SDL_BLENDMODE_BLEND);
    v->nbatch = 0;
}

/* A quadrilateral (corners in order around it) as two triangles of the queue. */
static void quad(Viz *v, const float xy[8], VizColor c)
{
    if (v->nbatch + 6 > VIZ_BATCH_QUADS * 6) viz_flush(v);
    static const int corner[6] = {0, 1, 2, 0, 2, 3};
    float *dst = v->batch_xy + 2 * v->nbatch;
    for (int k = 0; k < 6; k++) {
        dst[2 * k] = xy[2 * corner[k]];
        dst[2 * k + 1] = xy[2 * corner[k] + 1];
        v->batch_color[v->nbatch + k] = (SDL_Color){c.r, c.g, c.b, c.a};
    }
    v->nbatch += 6;
}

/* Cells as pixels. On SDL's software renderer a fill is a call through SDL's command queue
 * and then SDL_FillRect, which writes rows of 16 pixels or more with non-temporal stores (see
 * fill_soft): for a heatmap's thousands of small cells (an attention map's thumbnails, the
 * enlarged map's cells some 20 pixels wide) that came to most of a frame. Instead the cells
 * are written as pixels with plain stores, opaque, the same pixels as the fills:
 *   offscreen, straight into the target surface when they lie inside it and inside its clip
 *   rectangle (once SDL has drawn what it has queued), nothing copied;
 *   else into the top left of one streaming texture kept for the purpose, copied to the
 *   target at once (unblended), which grows to the largest rectangle asked for (the
 *   window's size at most), not per frame.
 * cells_begin returns the pixels of rectangle d (pitch in pixels), or NULL when neither can
 * be had (the caller then fills as before); cells_end puts them in place. */
static bool cells_in_target(Viz *v, VizRect d)
{
    const SDL_Surface *s = v->surface;
    if (!s || SDL_MUSTLOCK(s) || d.x < 0 || d.y < 0 || d.x + d.w > s->w || d.y + d.h > s->h) return false;
    SDL_Rect clip;
    if (!SDL_RenderIsClipEnabled(v->r)) return true;
    SDL_RenderGetClipRect(v->r, &clip);
    return d.x >= clip.x && d.y >= clip.y && d.x + d.w <= clip.x + clip.w && d.y + d.h <= clip.y + clip.h;
}

static uint32_t *cells_begin(Viz *v, VizRect d, int *pitch)
{
    if (!v->soft || d.w <= 0 || d.h <= 0) return NULL;
    v->cells_direct = cells_in_target(v, d);
    if (v->cells_direct) {
        viz_flush(v);
        SDL_RenderFlush(v->r);
        *pitch = v->surface->pitch / 4;
        return (uint32_t *)v->surface->pixels + (size_t)d.y * *pitch + d.x;
    }
    if (d.w > v->cells_w || d.h > v->cells_h) {
        if (v->cells) SDL_DestroyTexture(v->cells);
        v->cells_w = d.w > v->cells_w ? d.w : v->cells_w;
        v->cells_h = d.h > v->cells_h ? d.h : v->cells_h;
        v->cells = SDL_CreateTexture(v->r, SDL_PIXELFORMAT_ARGB8888, SDL_TEXTUREACCESS_STREAMING, v->cells_w,
                                     v->cells_h);
        if (!v->cells) {
            v->cells_w = v->cells_h = 0;
            return NULL;
        }
        SDL_SetTextureBlendMode(v->cells, SDL_BLENDMODE_NONE);
    }
    void *px;
    int bytes;
    if (SDL_LockTexture(v->cells, &(SDL_Rect){0, 0, d.w, d.h}, &px, &bytes)) return NULL;
    *pitch = bytes / 4;
    return px;
}

static void cells_end(Viz *v, VizRect d)
{
    if (v->cells_direct) return;
    SDL_UnlockTexture(v->cells);
    viz_flush(v);
    SDL_RenderCopy(v->r, v->cells, &(SDL_Rect){0, 0, d.w, d.h}, &(SDL_Rect){d.x, d.y, d.w, d.h});
}

/* Rectangle c (relative to the pixels' top left) in colour col, opaque. */
static void cells_put(uint32_t *px, int pitch, VizRect c, VizColor col)
{
    uint32_t argb = 0xFF000000u | (uint32_t)col.r << 16 | (uint32_t)col.g << 8 | col.b;
    for (int y = c.y; y < c.y + c.h; y++)
        for (int x = c.x; x < c.x + c.w; x++) px[(size_t)y * pitch + x] = argb;
}

/* On SDL's software renderer a queued rectangle would cost more than it saves: SDL turns
 * each one back into a fill of its own, always alpha-blended, pixel by pixel (and a
 * dashboard's panels cover the window). So a translucent rectangle is the blended fill SDL
 * would have made of the quad, and an opaque one is written unblended (the same pixels:
 * blending at alpha 255 gives the colour itself), in the way that is fastest for its width.
 * SDL_FillRect writes a row of 16 pixels or more with non-temporal stores in 64-byte steps
 * from a 16-byte boundary: fast over whole cache lines, but some 200 ns a row when the steps
 * straddle lines, which they do unless the row starts on a multiple of 16 pixels (a
 * surface's pixels start on 64 bytes, and so do its rows when it is 1280 or 1920 wide; at
 * other widths the split below is as right, only less fast). Hence: narrower than 16
 * pixels, SDL_FillRect as it is (plain stores); 256 or wider (panels), split at multiples of
 * 16 pixels into a middle of whole lines and two narrow edges (a panel's background 4 times
 * faster); in between (the cells of a strip, token boxes, bars), written as pixels as a
 * heatmap's cells are (cells_begin, above): a strip of 30-pixel cells 8 times faster. */
static void fill_soft(Viz *v, VizRect r, VizColor c)
{
    viz_flush(v); /* what was queued before it stays under it */
    if (c.a != 255) {
        set_color(v, c);
        SDL_RenderFillRect(v->r, &(SDL_Rect){r.x, r.y, r.w, r.h});
        return;
    }
    int pitch;
    uint32_t *px = r.w >= 16 && r.w < 256 ? cells_begin(v, r, &pitch) : NULL;
    if (px) {
        cells_put(px, pitch, (VizRect){0, 0, r.w, r.h}, c);
        cells_end(v, r);
        return;
    }
    SDL_SetRenderDrawBlendMode(v->r, SDL_BLENDMODE_NONE);
    set_color(v, c);
    int a = (r.x + 15) & ~15, b = (r.x + r.w) & ~15; /* the multiples of 16 inside */
    if (r.w >= 256) {
        if (a > r.x) SDL_RenderFillRect(v->r, &(SDL_Rect){r.x, r.y, a - r.x, r.h});
        SDL_RenderFillRect(v->r, &(SDL_Rect){a, r.y, b - a, r.h});
        if (r.x + r.w > b) SDL_RenderFillRect(v->r, &(SDL_Rect){b, r.y, r.x + r.w - b, r.h});
    } else {
        SDL_RenderFillRect(v->r, &(SDL_Rect){r.x, r.y, r.w, r.h});
    }
    SDL_SetRenderDrawBlendMode(v->r, SDL_BLENDMODE_BLEND);
}

void viz_fill(Viz *v, VizRect r, VizColor c)
{
    if (r.w <= 0 || r.h <= 0) return;
    if (v->soft) {
        fill_soft(v, r, c);
        return;
    }
    float x0 = (float)r.x, y0 = (float)r.y, x1 = (float)(r.x + r.w), y1 = (float)(r.y + r.h);
    quad(v, (const float[8]){x0, y0, x1, y0, x1, y1, x0, y1}, c);
}

void viz_frame(Viz *v, VizRect r, VizColor c)
{
    if (r.w <= 0 || r.h <= 0) return;
    viz_fill(v, (VizRect){r.x, r.y, r.w, 1}, c);
    if (r.h > 1) viz_fill(v, (VizRect){r.x, r.y + r.h - 1, r.w, 1}, c);
    viz_fill(v, (VizRect){r.x, r.y + 1, 1, r.h - 2}, c);
    if (r.w > 1) viz_fill(v, (VizRect){r.x + r.w - 1, r.y + 1, 1, r.h - 2}, c);
}

/* Both end points included, as SDL draws lines. */
void viz_line(Viz *v, int x0, int y0, int x1, int y1, VizColor c)
{
    if (y0 == y1) {
        viz_fill(v, (VizRect){x0 < x1 ? x0 : x1, y0, abs(x1 - x0) + 1, 1}, c);
    } else if (x0 == x1) {
        viz_fill(v, (VizRect){x0, y0 < y1 ? y0 : y1, 1, abs(y1 - y0) + 1}, c);
    } else {
        viz_flush(v);
        set_color(v, c);
        SDL_RenderDrawLine(v->r, x0, y0, x1, y1);
    }
}

/* A line `thick` pixels wide from pixel (x0,y0) to pixel (x1,y1), both included (SDL2 draws
 * only thin lines): a parallelogram `thick` pixels tall (wide, for a steep line) over the
 * pixel columns (rows) from one end to the other, queued with the other solid shapes. */
static void line_thick(Viz *v, int x0, int y0, int x1, int y1, int thick, VizColor c)
{
    if (x0 == x1 || y0 == y1) { /* the parallelogram is a rectangle: a fill, as viz_line makes */
        int o = -(thick / 2);
        if (y0 == y1) viz_fill(v, (VizRect){x0 < x1 ? x0 : x1, y0 + o, abs(x1 - x0) + 1, thick}, c);
        else viz_fill(v, (VizRect){x0 + o, y0 < y1 ? y0 : y1, thick, abs(y1 - y0) + 1}, c);
        return;
    }
    bool steep = abs(y1 - y0) > abs(x1 - x0);
    if (steep ? y0 > y1 : x0 > x1) { /* run from the smaller end along the long axis */
        int t = x0; x0 = x1; x1 = t;
        t = y0; y0 = y1; y1 = t;
    }
    float o = (float)(-(thick / 2)), a0 = steep ? (float)y0 : (float)x0, a1 = steep ? (float)y1 + 1 : (float)x1 + 1;
    float b0 = steep ? (float)x0 : (float)y0, b1 = steep ? (float)x1 : (float)y1;
    float slope = a1 - 1 > a0 ? (b1 - b0) / (a1 - 1 - a0) : 0;
    /* the centre line through the pixel centres; its ends half a pixel out along the run */
    float e0 = b0 + 0.5f + o - 0.5f * slope, e1 = b1 + 0.5f + o + 0.5f * slope;
    float q[8];
    if (steep) {
        float pts[8] = {e0, a0, e1, a1, e1 + thick, a1, e0 + thick, a0};
        memcpy(q, pts, sizeof q);
    } else {
        float pts[8] = {a0, e0, a1, e1, a1, e1 + thick, a0, e0 + thick};
        memcpy(q, pts, sizeof q);
    }
    /* centres of the pixels a band [e, e + thick) covers are those of `thick` whole pixels
       once e is moved back by half a pixel */
    for (int k = 0; k < 8; k++)
        if (steep ? k % 2 == 0 : k % 2 == 1) q[k] -= 0.5f;
    quad(v, q, c);
}

static int font_px(int px) { return px < 6 ? 6 : px > 63 + 6 ? 63 + 6 : px; }

/* FONT_ITALIC: the regular face, slanted by SDL_ttf (a face object of its own, since the
   style belongs to the object) */
static void set_style(VizFont f, TTF_Font *font)
{
    if (font && f == FONT_ITALIC) TTF_SetFontStyle(font, TTF_STYLE_ITALIC);
}

static TTF_Font *font_at(Viz *v, VizFont f, int px)
{
    void **slot = &v->fonts[f][font_px(px) - 6];
    if (!*slot) {
        *slot = TTF_OpenFont(v->font_path[f], font_px(px));
        set_style(f, *slot);
    }
    return *slot;
}

/* The fallback face at a size, opened the first time a string needs it (an English dashboard
 * never opens one), or NULL without one. */
static TTF_Font *fallback_at(Viz *v, VizFont f, int px)
{
    if (!v->fallback_path[f][0]) return NULL;
    void **slot = &v->fallback[f][font_px(px) - 6];
    if (!*slot) {
        *slot = TTF_OpenFontIndex(v->fallback_path[f], font_px(px), v->fallback_index[f]);
        set_style(f, *slot);
    }
    return *slot;
}

/* The code point at *s, moving *s past it; a malformed sequence is U+FFFD, one byte long. */
static Uint32 utf8_next(const char **s)
{
    const unsigned char *p = (const unsigned char *)*s;
    Uint32 c = p[0];
    int n = c < 0x80 ? 0 : c < 0xC2 ? -1 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : c < 0xF5 ? 3 : -1;
    if (n < 0) {
        (*s)++;
        return 0xFFFD;
    }
    c &= n == 0 ? 0x7F : n == 1 ? 0x1F : n == 2 ? 0x0F : 0x07;
    for (int k = 1; k <= n; k++) {
        if ((p[k] & 0xC0) != 0x80) {
            (*s)++;
            return 0xFFFD;
        }
        c = c << 6 | (p[k] & 0x3F);
    }
    *s += n + 1;
    return c;
}

/* The face that draws code point c: the style's DejaVu face, unless it lacks c and the
 * fallback has it. */
static TTF_Font *face_of(Viz *v, VizFont font, int px, TTF_Font *prim, Uint32 c)
{
    if (c < 0x80 || TTF_GlyphIsProvided32(prim, c)) return prim;
    TTF_Font *fb = fallback_at(v, font, px);
    return fb && TTF_GlyphIsProvided32(fb, c) ? fb : prim;
}

/* The length in bytes of the run at the start of s that one face draws, and that face. */
static size_t run_length(Viz *v, VizFont font, int px, TTF_Font *prim, const char *s, TTF_Font **face)
{
    const char *p = s;
    *face = NULL;
    while (*p) {
        const char *q = p;
        TTF_Font *f = face_of(v, font, px, prim, utf8_next(&q));
        if (*face && f != *face) break;
        *face = f;
        p = q;
    }
    return (size_t)(p - s);
}

/* Whether DejaVu draws all of text (then it is measured and rendered whole, as SDL_ttf does). */
static bool one_face(Viz *v, VizFont font, int px, TTF_Font *prim, const char *text)
{
    TTF_Font *face;
    return text[run_length(v, font, px, prim, text, &face)] == 0 && face == prim;
}

/* The width of text drawn run by run: each run as wide as SDL_ttf renders it (no kerning
 * across the face change). Works on a copy, each run NUL-terminated in turn; the copy is on
 * the stack for any line the Markdown panel measures, as widths are measured every frame. */
static int runs_width(Viz *v, const char *text, VizFont font, int px, TTF_Font *prim)
{
    size_t n = strlen(text);
    char local[2048], *copy = n < sizeof local ? local : malloc(n + 1);
    if (!copy) return 0;
    memcpy(copy, text, n + 1);
    int total = 0;
    for (char *p = copy; *p;) {
        TTF_Font *face;
        size_t len = run_length(v, font, px, prim, p, &face);
        char keep = p[len];
        p[len] = 0;
        int w = 0, h = 0;
        if (TTF_SizeUTF8(face, p, &w, &h) == 0) total += w;
        p[len] = keep;
        p += len;
    }
    if (copy != local) free(copy);
    return total;
}

/* text rendered: by SDL_ttf whole when DejaVu has every character, else run by run into one
 * surface of DejaVu's line height, each run's baseline (its face's ascent below its top) on
 * DejaVu's. */
static SDL_Surface *render_text(Viz *v, const char *text, VizFont font, int px, VizColor c)
{
    TTF_Font *prim = font_at(v, font, px);
    if (!prim) return NULL;
    SDL_Color col = {c.r, c.g, c.b, c.a};
    if (one_face(v, font, px, prim, text)) return TTF_RenderUTF8_Blended(prim, text, col);
    int w = runs_width(v, text, font, px, prim), base = TTF_FontAscent(prim);
    if (w <= 0) return NULL;
    SDL_Surface *out = SDL_CreateRGBSurfaceWithFormat(0, w, TTF_FontHeight(prim), 32, SDL_PIXELFORMAT_ARGB8888);
    size_t n = strlen(text);
    char *copy = out ? malloc(n + 1) : NULL;
    if (!copy) {
        SDL_FreeSurface(out);
        return NULL;
    }
    memcpy(copy, text, n + 1);
    SDL_FillRect(out, NULL, 0);
    int x = 0;
    for (char *p = copy; *p;) {
        TTF_Font *face;
        size_t len = run_length(v, font, px, prim, p, &face);
        char keep = p[len];
        p[len] = 0;
        SDL_Surface *s = TTF_RenderUTF8_Blended(face, p, col);
        if (s) {
            /* runs do not overlap: copy the pixels, coverage in alpha, as they are */
            SDL_SetSurfaceBlendMode(s, SDL_BLENDMODE_NONE);
            SDL_BlitSurface(s, NULL, out, &(SDL_Rect){x, base - TTF_FontAscent(face), s->w, s->h});
            x += s->w;
            SDL_FreeSurface(s);
        }
        p[len] = keep;
        p += len;
    }
    free(copy);
    return out;
}

/* The smallest rectangle of s (ARGB8888, as rendered) that holds every pixel with some
 * coverage. Drawing text is blending its texture over the target pixel by pixel, and a line's
 * texture is as tall as the font's line with leading, as wide as its advance: copying only
 * the ink leaves out pixels of alpha 0, which blending leaves as they are, so the same pixels
 * come out for a third less work. No ink (spaces): a 0×0 rectangle. */
static void ink_bounds(SDL_Surface *s, VizTextEntry *e)
{
    int x0 = s->w, y0 = s->h, x1 = -1, y1 = -1;
    if (s->format->format != SDL_PIXELFORMAT_ARGB8888 || (SDL_MUSTLOCK(s) && SDL_LockSurface(s))) {
        x0 = y0 = 0; /* not as expected: all of it */
        x1 = s->w - 1;
        y1 = s->h - 1;
    } else {
        for (int y = 0; y < s->h; y++) {
            const uint32_t *row = (const uint32_t *)((const char *)s->pixels + (size_t)y * s->pitch);
            for (int x = 0; x < s->w; x++)
                if (row[x] >> 24) {
                    x0 = x < x0 ? x : x0;
                    x1 = x > x1 ? x : x1;
                    y0 = y < y0 ? y : y0;
                    y1 = y;
                }
        }
        if (SDL_MUSTLOCK(s)) SDL_UnlockSurface(s);
    }
    e->ink_x = x1 >= 0 ? x0 : 0;
    e->ink_y = x1 >= 0 ? y0 : 0;
    e->ink_w = x1 >= 0 ? x1 - x0 + 1 : 0;
    e->ink_h = x1 >= 0 ? y1 - y0 + 1 : 0;
}

static uint64_t hash_text(const char *s, int font, int size, VizColor c)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(font * 131 + size * 7919) ^ ((uint64_t)c.r << 40 | (uint64_t)c.g << 48 | (uint64_t)c.b << 56);
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The texture of a string, from the cache or rendered now (then kept).
 * This is the one place of the frame path that allocates (TTF's surface, SDL's texture, the
 * strdup'd key), and only for a string not drawn recently (besides a width cache's buffer
 * growing, viz_text_width, and the cells texture growing to the largest heatmap,
 * cells_begin): the cache holds at most VIZ_TEXT_CACHE entries, a new one taking the place of
 * the least recently drawn of the 8 slots its hash points to, so it stays bounded however
 * long a run is. Its texture pixels are bounded too (viz_text_budget): a dashboard whose
 * numbers change every step (fmlab-icl's) otherwise filled all 1,024 entries with strings of
 * steps long past, some 40 MB at 1280x800. Fonts are opened once per size (at most 64 sizes
 * per face) and kept. */
static void text_drop(Viz *v, VizTextEntry *e)
{
    if (e->tex) {
        SDL_DestroyTexture(e->tex);
        v->text_bytes -= (size_t)e->w * e->h * 4;
    }
    free(e->text);
    memset(e, 0, sizeof *e);
}

size_t viz_text_budget(const Viz *v)
{
    size_t frame = (size_t)v->w * v->h * 4, floor = (size_t)8 << 20;
    return 6 * frame > floor ? 6 * frame : floor;
}

/* Over the budget, the least recently drawn strings go first, but never one drawn in this
 * frame: a frame's own text stays, whatever it costs (then the cache is over until the next
 * string is rendered). A scan of the cache per string dropped, and only when one is rendered. */
static void text_trim(Viz *v)
{
    while (v->text_bytes > viz_text_budget(v)) {
        int oldest = -1;
        for (int i = 0; i < VIZ_TEXT_CACHE; i++)
            if (v->cache[i].tex && v->cache[i].last_frame != v->frame &&
                (oldest < 0 || v->cache[i].last_frame < v->cache[oldest].last_frame))
                oldest = i;
        if (oldest < 0) return;
        text_drop(v, &v->cache[oldest]);
    }
}

static VizTextEntry *text_entry(Viz *v, const char *text, VizFont font, float size, VizColor c)
{
    int px = viz_px(v, size);
    uint64_t h = hash_text(text, font, px, c);
    int base = (int)(h % VIZ_TEXT_CACHE), victim = -1;
    for (int k = 0; k < 8; k++) {
        VizTextEntry *e = &v->cache[(base + k) % VIZ_TEXT_CACHE];
        if (e->tex && e->font == (int)font && e->size == px && e->color.r == c.r && e->color.g == c.g &&
            e->color.b == c.b && e->color.a == c.a && strcmp(e->text, text) == 0) {
            e->last_frame = v->frame;
            return e;
        }
        if (victim < 0 || !e->tex || e->last_frame < v->cache[victim].last_frame) victim = (base + k) % VIZ_TEXT_CACHE;
    }
    VizTextEntry *e = &v->cache[victim];
    text_drop(v, e);
    SDL_Surface *s = render_text(v, text, font, px, c);
    if (!s) return NULL;
    e->tex = SDL_CreateTextureFromSurface(v->r, s);
    e->w = s->w;
    e->h = s->h;
    ink_bounds(s, e);
    SDL_FreeSurface(s);
    if (!e->tex) return NULL;
    e->text = strdup(text);
    if (!e->text) { /* a texture without its key could never be found again */
        SDL_DestroyTexture(e->tex);
        memset(e, 0, sizeof *e);
        return NULL;
    }
    e->font = (int)font;
    e->size = px;
    e->color = c;
    e->last_frame = v->frame;
    v->text_bytes += (size_t)e->w * e->h * 4;
    text_trim(v);
    return e;
}

/* The width of text as SDL_ttf lays it out, measured now (-1: no font at that size). */
static int measure_text(Viz *v, const char *text, VizFont font, int px)
{
    int w = 0, h = 0;
    TTF_Font *f = font_at(v, font, px);
    if (!f) return -1;
    if (!one_face(v, font, px, f, text)) return runs_width(v, text, font, px, f);
    TTF_SizeUTF8(f, text, &w, &h);
    return w;
}

/* Widths come from a cache, as textures do: a frame measures thousands of strings (every word
 * of the notes to wrap them, each panel title word by word, the footer's keys one more at a
 * time), nearly all of them measured the frame before, and SDL_ttf shapes a string anew with
 * HarfBuzz each time it is asked (a third of a dashboard frame went there). A width takes the
 * place of the least recently used of the 8 slots its hash points to, so the cache stays
 * bounded; a slot keeps its text buffer for the next string, so once the buffers have grown
 * to the lengths measured, a miss allocates nothing either. */
int viz_text_width(Viz *v, const char *text, VizFont font, float size)
{
    if (!text[0]) return 0;
    int px = viz_px(v, size);
    uint64_t h = hash_text(text, font, px, (VizColor){0, 0, 0, 0});
    int base = (int)(h % VIZ_WIDTH_CACHE), victim = -1;
    for (int k = 0; k < 8; k++) {
        VizWidthEntry *e = &v->widths[(base + k) % VIZ_WIDTH_CACHE];
        if (e->text && e->hash == h && e->font == (int)font && e->size == px && strcmp(e->text, text) == 0) {
            e->last_frame = v->frame;
            return e->w;
        }
        if (victim < 0 || !e->text || e->last_frame < v->widths[victim].last_frame) victim = (base + k) % VIZ_WIDTH_CACHE;
    }
    int w = measure_text(v, text, font, px);
    if (w < 0) return 0;
    VizWidthEntry *e = &v->widths[victim];
    size_t n = strlen(text) + 1;
    if (n > e->cap) {
        char *grown = realloc(e->text, n);
        if (!grown) return w; /* measured, not kept */
        e->text = grown;
        e->cap = n;
    }
    memcpy(e->text, text, n);
    e->hash = h;
    e->font = (int)font;
    e->size = px;
    e->w = w;
    e->last_frame = v->frame;
    return w;
}

int viz_text_height(Viz *v, VizFont font, float size)
{
    TTF_Font *f = font_at(v, font, viz_px(v, size));
    return f ? TTF_FontHeight(f) : viz_px(v, size);
}

int viz_text(Viz *v, int x, int y, const char *text, VizFont font, float size, VizColor c, VizAlign align)
{
    if (!text || !text[0]) return 0;
    VizTextEntry *e = text_entry(v, text, font, size, c);
    if (!e) return 0;
    int dx = align == ALIGN_CENTER ? -e->w / 2 : align == ALIGN_RIGHT ? -e->w : 0;
    if (!e->ink_w) return e->w;
    viz_flush(v);
    SDL_RenderCopy(v->r, e->tex, &(SDL_Rect){e->ink_x, e->ink_y, e->ink_w, e->ink_h},
                   &(SDL_Rect){x + dx + e->ink_x, y + e->ink_y, e->ink_w, e->ink_h});
    return e->w;
}

int viz_text_fit(Viz *v, int x, int y, int max_w, const char *text, VizFont font, float size, VizColor c)
{
    if (viz_text_width(v, text, font, size) <= max_w) return viz_text(v, x, y, text, font, size, c, ALIGN_LEFT);
    char buf[512];
    size_t n = strlen(text);
    if (n >= sizeof buf - 4) n = sizeof buf - 4;
    while (n > 0) {
        n--;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) n--;
        memcpy(buf, text, n);
        strcpy(buf + n, "…");
        if (viz_text_width(v, buf, font, size) <= max_w) break;
    }
    return viz_text(v, x, y, buf, font, size, c, ALIGN_LEFT);
}

/* Text broken at spaces into lines of at most max_w, drawn when `draw`; at most max_lines
 * lines (0: no limit), the last one cut with "…" if text remains, as is a word wider than a
 * line. Returns the number of lines. */
static int wrap_text(Viz *v, int x, int y, int max_w, const char *text, VizFont font, float size, VizColor c,
                     int max_lines, bool draw)
{
    int lh = viz_text_height(v, font, size), lines = 0;
    char buf[512];
    const char *p = text;
    while (*p == ' ') p++;
    while (*p && (max_lines <= 0 || lines < max_lines)) {
        size_t len = strlen(p), best = 0;
        for (size_t e = 0; e < len;) { /* the longest run of whole words that fits */
            while (e < len && p[e] == ' ') e++;
            while (e < len && p[e] != ' ') e++;
            if (e >= sizeof buf) break;
            memcpy(buf, p, e);
            buf[e] = 0;
            if (viz_text_width(v, buf, font, size) > max_w) break;
            best = e;
        }
        bool last = max_lines > 0 && lines + 1 == max_lines;
        if (!best || (last && best < len)) { /* cut: the rest on the last line, or a long word */
            size_t e = 0;
            if (!last) while (e < len && p[e] != ' ') e++;
            else e = len;
            if (e >= sizeof buf) e = sizeof buf - 1;
            memcpy(buf, p, e);
            buf[e] = 0;
            if (draw) viz_text_fit(v, x, y + lines * lh, max_w, buf, font, size, c);
            best = e;
        } else if (draw) {
            memcpy(buf, p, best);
            buf[best] = 0;
            viz_text(v, x, y + lines * lh, buf, font, size, c, ALIGN_LEFT);
        }
        lines++;
        p += best;
        while (*p == ' ') p++;
    }
    return lines;
}

int viz_text_wrap(Viz *v, int x, int y, int max_w, const char *text, VizFont font, float size, VizColor c)
{
    return wrap_text(v, x, y, max_w, text, font, size, c, 0, true) * viz_text_height(v, font, size);
}

int viz_text_wrap_height(Viz *v, int max_w, const char *text, VizFont font, float size)
{
    return wrap_text(v, 0, 0, max_w, text, font, size, VIZ_TEXT, 0, false) * viz_text_height(v, font, size);
}

bool viz_hover(const Viz *v, VizRect r)
{
    return v->mouse_x >= r.x && v->mouse_x < r.x + r.w && v->mouse_y >= r.y && v->mouse_y < r.y + r.h;
}

VizColor viz_mix(VizColor a, VizColor b, float t)
{
    vec3 x = {a.r, a.g, a.b}, y = {b.r, b.g, b.b}, z;
    glm_vec3_lerp(x, y, t, z);
    return (VizColor){(unsigned char)lroundf(z[0]), (unsigned char)lroundf(z[1]), (unsigned char)lroundf(z[2]), 255};
}

/* 256-entry tables from matplotlib (viridis; RdBu reversed: blue negative, red positive),
 * made by assets/colormaps/generate.py. */
#include "colormaps.inc"

/* lroundf(x) for x in [0, 255], inline and without a branch: a heatmap asks for tens of
 * thousands of colours a frame. x - (int)x is exact in that range, so halves go up exactly as
 * lroundf's do (checked for every float in the range). */
static unsigned char round_channel(float x)
{
    int i = (int)x;
    return (unsigned char)(i + (x - (float)i >= 0.5f));
}

/* viz_colormap, inlined where a heatmap asks for a colour per cell: the CPU then works on
   several cells' conversions at once instead of waiting on each call's in turn */
static inline VizColor colormap(VizColormap m, float t)
{
    if (!(t >= 0)) t = 0; /* NaN too */
    if (t > 1) t = 1;
    /* linear interpolation between the two nearest table entries, in cglm */
    const unsigned char (*lut)[3] = m == CMAP_VIRIDIS ? cmap_viridis : cmap_diverging;
    float x = t * 255.0f;
    int i = (int)x;
    if (i > 254) i = 254;
    vec3 a = {lut[i][0], lut[i][1], lut[i][2]}, b = {lut[i + 1][0], lut[i + 1][1], lut[i + 1][2]}, c;
    glm_vec3_lerp(a, b, x - (float)i, c);
    return (VizColor){round_channel(c[0]), round_channel(c[1]), round_channel(c[2]), 255};
}

VizColor viz_colormap(VizColormap m, float t) { return colormap(m, t); }

/* ---------------------------------------------------------------- widgets ---- */

VizRect viz_panel(Viz *v, VizRect r, const char *title, const char *short_title)
{
    viz_fill(v, r, VIZ_PANEL);
    int pad = viz_px(v, 8), w = r.w - 2 * pad;
    if (title && short_title && viz_text_width(v, title, FONT_BOLD, 13) > w) title = short_title;
    int lines = title ? wrap_text(v, r.x + pad, r.y + pad / 2, w, title, FONT_BOLD, 13, VIZ_TEXT, 2, true) : 0;
    int th = lines * viz_text_height(v, FONT_BOLD, 13);
    return (VizRect){r.x + pad, r.y + pad / 2 + th + pad / 2, w, r.h - th - pad - pad / 2};
}

static void format_value(char *buf, size_t n, float x)
{
    float a = fabsf(x);
    if (x == 0) snprintf(buf, n, "0");
    else if (a >= 1000 || a < 0.001f) snprintf(buf, n, "%.2e", (double)x);
    else if (a >= 100) snprintf(buf, n, "%.0f", (double)x);
    else if (a >= 10) snprintf(buf, n, "%.1f", (double)x);
    else snprintf(buf, n, "%.3g", (double)x);
}

/* The label margins (left: row labels, bottom: column labels, each at most a quarter of r)
 * and the side of a square cell, for labels of `lsize` points. */
static float heatmap_geometry(Viz *v, VizRect r, const VizHeatmap *h, float lsize, int *left, int *bottom)
{
    int right = h->colorbar ? viz_px(v, 62) : 0;
    *left = *bottom = 0;
    if (h->row_labels)
        for (int i = 0; i < h->rows; i++) {
            int w = viz_text_width(v, h->row_labels[i], FONT_MONO, lsize);
            if (w > *left) *left = w;
        }
    if (*left) *left += viz_px(v, 4);
    if (*left > r.w / 4) *left = r.w / 4;
    if (h->col_labels) {
        for (int j = 0; j < h->cols; j++) {
            int w = viz_text_width(v, h->col_labels[j], FONT_MONO, lsize);
            if (w > *bottom) *bottom = w;
        }
        *bottom += viz_px(v, 4);
        if (*bottom > r.h / 4) *bottom = r.h / 4;
    }
    int gw = r.w - *left - right - 2, gh = r.h - *bottom - 2; /* 1 px each side for the frame */
    if (gw < h->cols || gh < h->rows) return 0;
    float cw = (float)gw / h->cols, ch = (float)gh / h->rows;
    return cw < ch ? cw : ch; /* square cells */
}

/* Whether labels of line height lh can label every row: DejaVu's line height has some 20%
   of leading, so neighbours a little closer than a line apart still do not touch. */
static bool labels_fit(float cell, int lh) { return cell >= lh * 0.8f; }

void viz_heatmap(Viz *v, VizRect r, const VizHeatmap *h, int *hover_row, int *hover_col)
{
    if (hover_row) *hover_row = -1;
    if (hover_col) *hover_col = -1;
    /* labels at 10 points, or a little smaller if that labels every token */
    float lsize = 10;
    int left, bottom;
    float cell = heatmap_geometry(v, r, h, lsize, &left, &bottom);
    if (cell <= 0 && h->rows > 1 && h->cols > 1) {
        /* fewer pixels than cells: each pixel the mean of a block of cells (a block is
           hatched when all its cells are), without the labels, which could not fit either */
        VizHeatmap s = *h;
        s.row_labels = s.col_labels = NULL;
        int gw = r.w - (h->colorbar ? viz_px(v, 62) : 0) - 2, gh = r.h - 2;
        s.rows = gh < h->rows ? gh : h->rows;
        s.cols = gw < h->cols ? gw : h->cols;
        if (s.rows < 1 || s.cols < 1) return;
        float *grid = malloc((size_t)s.rows * s.cols * sizeof *grid);
        unsigned char *hatch = h->hatch ? malloc((size_t)s.rows * s.cols) : NULL;
        if (!grid || (h->hatch && !hatch)) {
            free(grid), free(hatch);
            return;
        }
        for (int i = 0; i < s.rows; i++)
            for (int j = 0; j < s.cols; j++) {
                int i0 = i * h->rows / s.rows, i1 = (i + 1) * h->rows / s.rows;
                int j0 = j * h->cols / s.cols, j1 = (j + 1) * h->cols / s.cols;
                double sum = 0;
                bool all = true;
                for (int a = i0; a < i1; a++)
                    for (int b = j0; b < j1; b++) {
                        sum += h->data[(size_t)a * h->cols + b];
                        all = all && h->hatch && h->hatch[(size_t)a * h->cols + b];
                    }
                grid[(size_t)i * s.cols + j] = (float)(sum / ((double)(i1 - i0) * (j1 - j0)));
                if (hatch) hatch[(size_t)i * s.cols + j] = all;
            }
        s.data = grid;
        s.hatch = hatch;
        int hr, hc;
        viz_heatmap(v, r, &s, &hr, &hc);
        if (hover_row && hr >= 0) *hover_row = hr * h->rows / s.rows;
        if (hover_col && hc >= 0) *hover_col = hc * h->cols / s.cols;
        free(grid), free(hatch);
        return;
    }
    if ((h->row_labels || h->col_labels) && cell > 0 && !labels_fit(cell, viz_text_height(v, FONT_MONO, lsize)))
        for (float sz = 9.5f; sz >= 9; sz -= 0.5f) {
            int l2, b2;
            float c2 = heatmap_geometry(v, r, h, sz, &l2, &b2);
            if (labels_fit(c2, viz_text_height(v, FONT_MONO, sz))) {
                lsize = sz;
                cell = c2;
                left = l2;
                bottom = b2;
                break;
            }
        }
    if (cell <= 0) return;
    int lh = viz_text_height(v, FONT_MONO, lsize);
    int x0 = r.x + left + 1, y0 = r.y + 1;
    int used_w = (int)(h->cols * cell), used_h = (int)(h->rows * cell); /* the cells tile this exactly */
    float range = h->vmax - h->vmin;
    /* a flat grey for a cell the mask forbids, lighter than the colour map's dark end, so it
       never looks like one the model merely ignores; a diagonal stroke where the cell is big
       enough (drawn over the cells written as pixels once they are copied: each stroke stays
       inside its own cell, so the order does not change a pixel) */
    const VizColor masked = {78, 80, 90, 255}, stroke = {118, 120, 132, 255};
    int pitch = 0;
    VizRect grid = {x0, y0, used_w, used_h};
    uint32_t *px = cells_begin(v, grid, &pitch);
    for (int i = 0; i < h->rows; i++) {
        for (int j = 0; j < h->cols; j++) {
            VizRect c = {x0 + (int)(j * cell), y0 + (int)(i * cell), (int)((j + 1) * cell) - (int)(j * cell),
                         (int)((i + 1) * cell) - (int)(i * cell)};
            float val = h->data[(size_t)i * h->cols + j];
            bool hatched = h->hatch && h->hatch[(size_t)i * h->cols + j];
            VizColor col = hatched ? masked : colormap(h->cmap, range > 0 ? (val - h->vmin) / range : 0.5f);
            if (px) {
                cells_put(px, pitch, (VizRect){c.x - x0, c.y - y0, c.w, 1}, col); /* its top row (below: the rest) */
            } else {
                viz_fill(v, c, col);
                if (hatched && c.w > 5) viz_line(v, c.x, c.y + c.h - 1, c.x + c.w - 1, c.y, stroke);
            }
            if (viz_hover(v, c)) {
                if (hover_row) *hover_row = i;
                if (hover_col) *hover_col = j;
                viz_tooltip(v, "%s = %.4f   row %s, col %s", h->value_name ? h->value_name : "value", (double)val,
                            h->row_labels ? h->row_labels[i] : "", h->col_labels ? h->col_labels[j] : "");
            }
        }
        /* the cells of a row share their pixel rows: the first one, copied down the row's height */
        int top = (int)(i * cell), height = (int)((i + 1) * cell) - top;
        for (int k = 1; px && k < height; k++)
            memcpy(px + (size_t)(top + k) * pitch, px + (size_t)top * pitch, (size_t)used_w * sizeof *px);
    }
    if (px) {
        cells_end(v, grid);
        for (int i = 0; h->hatch && i < h->rows; i++)
            for (int j = 0; j < h->cols; j++) {
                VizRect c = {x0 + (int)(j * cell), y0 + (int)(i * cell), (int)((j + 1) * cell) - (int)(j * cell),
                             (int)((i + 1) * cell) - (int)(i * cell)};
                if (h->hatch[(size_t)i * h->cols + j] && c.w > 5)
                    viz_line(v, c.x, c.y + c.h - 1, c.x + c.w - 1, c.y, stroke);
            }
    }
    viz_frame(v, (VizRect){x0 - 1, y0 - 1, used_w + 2, used_h + 2}, VIZ_GRID);
    /* labels: every row/column when they fit, else every k-th */
    int step_r = labels_fit(cell, lh) ? 1 : (int)ceilf(lh * 0.8f / cell);
    for (int i = 0; h->row_labels && i < h->rows; i += step_r) {
        int w = viz_text_width(v, h->row_labels[i], FONT_MONO, lsize);
        if (w > left) continue;
        viz_text(v, x0 - viz_px(v, 3), y0 + (int)(i * cell + cell / 2) - lh / 2, h->row_labels[i], FONT_MONO, lsize,
                 VIZ_DIM, ALIGN_RIGHT);
    }
    int step_c = step_r;
    for (int j = 0; h->col_labels && j < h->cols; j += step_c) {
        /* vertical column labels: drawn letter-stacked would be unreadable, so rotate */
        VizTextEntry *e = text_entry(v, h->col_labels[j], FONT_MONO, lsize, VIZ_DIM);
        if (!e) continue;
        int tw = e->w > bottom ? bottom : e->w;
        SDL_Rect src = {0, 0, tw, e->h};
        /* rotated 90° about its centre, so it reads downwards below its column */
        SDL_Rect dst = {x0 + (int)(j * cell + cell / 2) - tw / 2, y0 + used_h + viz_px(v, 3) + tw / 2 - e->h / 2, tw, e->h};
        SDL_Point center = {tw / 2, e->h / 2};
        viz_flush(v);
        SDL_RenderCopyEx(v->r, e->tex, &src, &dst, 90.0, &center, SDL_FLIP_NONE);
    }
    if (h->colorbar) {
        int bx = x0 + used_w + viz_px(v, 10), bw = viz_px(v, 12), by = y0, bh = used_h;
        VizRect bar = {bx, by, bw, bh};
        px = cells_begin(v, bar, &pitch); /* a row of pixels per colour, as the cells */
        for (int k = 0; k < bh; k++) {
            float t = 1.0f - (float)k / (bh > 1 ? bh - 1 : 1);
            if (px) cells_put(px, pitch, (VizRect){0, k, bw, 1}, colormap(h->cmap, t));
            else viz_fill(v, (VizRect){bx, by + k, bw, 1}, viz_colormap(h->cmap, t));
        }
        if (px) cells_end(v, bar);
        viz_frame(v, (VizRect){bx - 1, by - 1, bw + 2, bh + 2}, VIZ_GRID);
        char a[32], b[32];
        format_value(a, sizeof a, h->vmax);
        format_value(b, sizeof b, h->vmin);
        viz_text(v, bx + bw + viz_px(v, 4), by, a, FONT_MONO, lsize, VIZ_DIM, ALIGN_LEFT);
        viz_text(v, bx + bw + viz_px(v, 4), by + bh - lh, b, FONT_MONO, lsize, VIZ_DIM, ALIGN_LEFT);
        if (viz_hover(v, (VizRect){bx, by, bw, bh})) {
            float t = 1.0f - (float)(v->mouse_y - by) / (bh > 1 ? bh - 1 : 1);
            viz_tooltip(v, "colour scale: %.4f", (double)(h->vmin + t * range));
        }
    }
}

static float nice_step(float range, int target)
{
    float raw = range / (float)target;
    float mag = powf(10.0f, floorf(log10f(raw)));
    float n = raw / mag;
    return (n < 1.5f ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
}

/* The i-th value of a series: y[i * stride], so a column of a row-major table is read in place. */
static float series_y(const VizSeries *se, long i) { return se->y[i * (se->stride > 1 ? se->stride : 1)]; }

void viz_lineplot(Viz *v, VizRect r, const VizPlot *p)
{
    float tsize = 10;
    int lh = viz_text_height(v, FONT_SANS, tsize);
    long n = 0;
    float ymin = INFINITY, ymax = -INFINITY;
    for (int s = 0; s < p->nseries; s++) {
        if (p->series[s].n > n) n = p->series[s].n;
        for (long i = 0; i < p->series[s].n; i++) {
            float y = series_y(&p->series[s], i);
            if (!isfinite(y) || (p->logy && y <= 0)) continue;
            ymin = fminf(ymin, y);
            ymax = fmaxf(ymax, y);
        }
    }
    for (int k = 0; k < 2; k++)
        if (isfinite(p->hline[k]) && p->hline_name[k]) { ymin = fminf(ymin, p->hline[k]); ymax = fmaxf(ymax, p->hline[k]); }
    if (!isfinite(ymin)) { ymin = 0; ymax = 1; }
    if (ymax - ymin < 1e-6f) { ymax += 0.5f; ymin -= 0.5f; }
    if (p->logy && ymin > 0) { /* the margin in decades: a linear one would reach below 0 */
        float f = powf(ymax / ymin, 0.06f);
        ymin /= f;
        ymax *= f;
    } else {
        float pad_y = (ymax - ymin) * 0.06f;
        ymin -= pad_y;
        ymax += pad_y;
    }
    if (p->bounded) { /* the quantity's own domain: an accuracy never below 0 */
        ymin = fmaxf(ymin, p->lo);
        ymax = fminf(ymax, p->hi);
        if (ymax <= ymin) ymax = ymin + 1e-3f;
    }
    if (n < 2) n = 2;
    /* legend on top, its entries in as many rows as they need (never cut off at the side;
       only a name wider than the whole plot is shortened), axes left and bottom */
    const char *lname[VIZ_MAX_SERIES + 2];
    VizColor lcolor[VIZ_MAX_SERIES + 2];
    bool ldashed[VIZ_MAX_SERIES + 2];
    int nl = 0;
    for (int s = 0; s < p->nseries; s++) {
        lname[nl] = p->series[s].name;
        lcolor[nl] = p->series[s].color;
        ldashed[nl++] = false;
    }
    for (int k = 0; k < 2; k++)
        if (isfinite(p->hline[k]) && p->hline_name[k]) {
            lname[nl] = p->hline_name[k];
            lcolor[nl] = p->hline_color[k];
            ldashed[nl++] = true;
        }
    int key_w = viz_px(v, 18), sep = viz_px(v, 12), legend_h = 0;
    for (int pass = 0; pass < 2; pass++) { /* 0: measure the rows, 1: draw them */
        int lx = r.x, ly = r.y, row_h = 0;
        for (int i = 0; i < nl; i++) {
            int tw = viz_text_width(v, lname[i], FONT_SANS, tsize), th = lh;
            if (key_w + tw > r.w) { /* a name wider than the plot: on lines of its own */
                tw = r.w - key_w;
                th = viz_text_wrap_height(v, tw, lname[i], FONT_SANS, tsize);
            }
            if (lx + key_w + tw > r.x + r.w && lx > r.x) {
                lx = r.x;
                ly += row_h;
                row_h = 0;
            }
            if (pass == 1) {
                if (ldashed[i])
                    for (int d = 0; d < 3; d++)
                        viz_fill(v, (VizRect){lx + d * viz_px(v, 5), ly + lh / 3, viz_px(v, 3), viz_px(v, 3)}, lcolor[i]);
                else viz_fill(v, (VizRect){lx, ly + lh / 3, viz_px(v, 14), viz_px(v, 4)}, lcolor[i]);
                viz_text_wrap(v, lx + key_w, ly, tw, lname[i], FONT_SANS, tsize, VIZ_TEXT);
            }
            row_h = th > row_h ? th : row_h;
            lx += key_w + tw + sep;
        }
        legend_h = ly + row_h - r.y + (nl ? viz_px(v, 4) : 0);
        if (pass == 0 && r.h - legend_h - 2 * lh - viz_px(v, 6) < 20) return; /* no room for a plot */
    }
    char lab[32];
    int bottom = 2 * lh + viz_px(v, 6);
    float ylo = p->logy ? log10f(fmaxf(ymin, 1e-6f)) : ymin, yhi = p->logy ? log10f(ymax) : ymax;
    /* y ticks: as many as fit two text lines apart; on a log axis at 1, 2 and 5 times a power
       of ten (only the powers when those do not fit), written in full up to 100000. The axis
       is as wide as the widest of them and the ends (0.2 is wider than 0 and 1). */
    int ny = (r.h - legend_h - bottom) / (2 * lh);
    float step = nice_step(yhi - ylo, ny < 2 ? 2 : ny > 5 ? 5 : ny);
    static const float mant[3] = {1, 2, 5};
    int nmant = p->logy && (yhi - ylo) * 3 <= (ny < 2 ? 2 : ny) ? 3 : 1;
    float tick[64];
    int nt = 0;
    for (float t = p->logy ? floorf(ylo) : ceilf(ylo / step) * step, k = 0; t <= yhi && nt < 64;) {
        float val = p->logy ? mant[(int)k] * powf(10, t) : t, ty = p->logy ? log10f(val) : t;
        if (p->logy && ++k >= nmant) k = 0, t += 1;
        if (!p->logy) t += step;
        if (ty >= ylo && ty <= yhi) tick[nt++] = val;
    }
    int left = 0;
    for (int i = -2; i < nt; i++) {
        float val = i == -2 ? ymax : i == -1 ? ymin : tick[i];
        if (i >= 0 && p->logy && val >= 1 && val < 1e5f) snprintf(lab, sizeof lab, "%.0f", (double)val);
        else format_value(lab, sizeof lab, val);
        int w = viz_text_width(v, lab, FONT_MONO, tsize) + viz_px(v, 8) + lh;
        if (w > left) left = w;
    }
    VizRect g = {r.x + left, r.y + legend_h, r.w - left - viz_px(v, 6), r.h - legend_h - bottom};
    if (g.w < 20 || g.h < 20) return;
    viz_frame(v, g, VIZ_GRID);
#define YPIX(val) (g.y + g.h - (int)(((p->logy ? log10f(fmaxf(val, 1e-6f)) : (val)) - ylo) / (yhi - ylo) * g.h))
#define XPIX(i) (g.x + (int)((double)(i) / (double)(n - 1) * (g.w - 1)))
    for (int i = 0; i < nt; i++) {
        float val = tick[i], ty = p->logy ? log10f(val) : val;
        int y = g.y + g.h - (int)((ty - ylo) / (yhi - ylo) * g.h);
        viz_line(v, g.x, y, g.x + g.w - 1, y, (VizColor){VIZ_GRID.r, VIZ_GRID.g, VIZ_GRID.b, 120});
        if (p->logy && val >= 1 && val < 1e5f) snprintf(lab, sizeof lab, "%.0f", (double)val);
        else format_value(lab, sizeof lab, val);
        viz_text(v, g.x - viz_px(v, 4), y - lh / 2, lab, FONT_MONO, tsize, VIZ_DIM, ALIGN_RIGHT);
    }
    /* x ticks: steps, as many as their labels fit side by side */
    snprintf(lab, sizeof lab, "%ld", n);
    int nx = g.w / (viz_text_width(v, lab, FONT_MONO, tsize) * 2 + viz_px(v, 8));
    float xstep = nice_step((float)n, nx < 2 ? 2 : nx > 5 ? 5 : nx);
    if (xstep < 1) xstep = 1;
    /* neighbouring labels never touch: widen the step until they are a label and a gap apart */
    float room = (float)(viz_text_width(v, lab, FONT_MONO, tsize) + viz_px(v, 8));
    while (xstep < n && xstep * (float)(g.w - 1) / (float)(n - 1) < room) xstep *= 2;
    if (xstep > n) xstep = (float)n; /* at least one labelled step: the last */
    for (float t = xstep; t <= n; t += xstep) {
        int x = XPIX(t - 1);
        viz_line(v, x, g.y + g.h, x, g.y + g.h + viz_px(v, 3), VIZ_GRID);
        snprintf(lab, sizeof lab, "%.0f", (double)t);
        viz_text(v, x, g.y + g.h + viz_px(v, 3), lab, FONT_MONO, tsize, VIZ_DIM, ALIGN_CENTER);
    }
    /* the x label centred under the plot, but inside r */
    int xw = viz_text_width(v, p->xlabel, FONT_SANS, tsize), xc = g.x + g.w / 2;
    if (xc + xw / 2 > r.x + r.w) xc = r.x + r.w - xw / 2;
    if (xc - xw / 2 < r.x) xc = r.x + xw / 2;
    viz_text_fit(v, xw > r.w ? r.x : xc - xw / 2, g.y + g.h + lh + viz_px(v, 4), r.w, p->xlabel, FONT_SANS, tsize, VIZ_DIM);
    /* y label, rotated, never longer than the plot is high (it would run into the legend):
       smaller when it must be, left out below a legible size */
    VizTextEntry *e = text_entry(v, p->ylabel, FONT_SANS, tsize, VIZ_DIM);
    if (e && e->w > g.h) {
        float ys = tsize * (float)g.h / (float)e->w;
        e = ys >= 7 ? text_entry(v, p->ylabel, FONT_SANS, floorf(ys * 2) / 2, VIZ_DIM) : NULL;
        if (e && e->w > g.h) e = NULL;
    }
    if (e) {
        SDL_Rect dst = {r.x + lh / 2 - e->w / 2, g.y + g.h / 2 - e->h / 2, e->w, e->h};
        viz_flush(v);
        SDL_RenderCopyEx(v->r, e->tex, NULL, &dst, -90.0, NULL, SDL_FLIP_NONE);
    }
    /* reference lines */
    for (int k = 0; k < 2; k++) {
        if (!isfinite(p->hline[k])) continue;
        int y = YPIX(p->hline[k]);
        if (y < g.y || y > g.y + g.h) continue;
        int thick = viz_px(v, 1.5f) > 1 ? viz_px(v, 1.5f) : 1;
        for (int x = g.x; x < g.x + g.w; x += viz_px(v, 10))
            line_thick(v, x, y, x + viz_px(v, 5) < g.x + g.w ? x + viz_px(v, 5) : g.x + g.w - 1, y, thick, p->hline_color[k]);
    }
    /* moments: dashed vertical lines, each name beside its line at the top (each a line lower
       than the one before, so that close moments do not write over each other) */
    const long marks[3] = {p->xmark, p->xmark2, p->xmark3};
    const char *const mnames[3] = {p->xmark_name, p->xmark2_name, p->xmark3_name};
    const VizColor mcolors[3] = {p->xmark_color, p->xmark2_color, p->xmark3_color};
    for (int k = 0; k < 3; k++) {
        if (marks[k] <= 0 || marks[k] > n) continue;
        int x = XPIX(marks[k] - 1), thick = viz_px(v, 1.5f) > 1 ? viz_px(v, 1.5f) : 1;
        for (int y = g.y; y < g.y + g.h; y += viz_px(v, 8))
            line_thick(v, x, y, x, y + viz_px(v, 4) < g.y + g.h ? y + viz_px(v, 4) : g.y + g.h - 1, thick, mcolors[k]);
        if (mnames[k]) {
            int tw = viz_text_width(v, mnames[k], FONT_SANS, tsize), pad = viz_px(v, 4);
            bool left = x + pad + tw > g.x + g.w; /* beside the line, on the side with room */
            viz_text(v, left ? x - pad : x + pad, g.y + pad + k * viz_text_height(v, FONT_SANS, tsize), mnames[k], FONT_SANS,
                     tsize, mcolors[k], left ? ALIGN_RIGHT : ALIGN_LEFT);
        }
    }
    /* series: at most one vertical min–max span per pixel column, so a plot of 100,000 steps
       costs what one of 1,000 does, and single-step spikes stay visible */
    for (int s = 0; s < p->nseries; s++) {
        const VizSeries *se = &p->series[s];
        /* a dense first series only: points of a sparse (held-out) series lie further apart
           than the window, which would then average every point so far */
        int win = s == 0 && !se->points ? p->smooth : 0;
        int col = -1, cmin = 0, cmax = 0, clast = 0, px_prev = -1, py_prev = -1;
        int thick = viz_px(v, 1.5f) > 1 ? viz_px(v, 1.5f) : 1;
        double acc = 0;
        long accn = 0;
        for (long i = 0; i <= se->n; i++) {
            bool end = i == se->n;
            float y = end ? NAN : series_y(se, i);
            float yy = y;
            if (!end && isfinite(y) && win > 1) {
                acc += y;
                accn++;
                if (i >= win && isfinite(series_y(se, i - win))) { acc -= series_y(se, i - win); accn--; }
                yy = (float)(acc / accn);
            }
            int x = end ? -2 : XPIX(i);
            if ((end || x != col) && col >= 0) { /* flush the finished column */
                if (px_prev >= 0) line_thick(v, px_prev, py_prev, col, cmin == cmax ? cmin : (cmin + cmax) / 2, thick, se->color);
                if (cmin != cmax) line_thick(v, col, cmin, col, cmax, thick, se->color);
                if (se->points) viz_fill(v, (VizRect){col - 2, clast - 2, 5, 5}, se->color);
                px_prev = col;
                py_prev = clast;
                col = -1;
            }
            if (end || !isfinite(y)) continue;
            int yp = YPIX(yy);
            if (yp < g.y) yp = g.y;
            if (yp > g.y + g.h) yp = g.y + g.h;
            if (col < 0) { col = x; cmin = cmax = yp; }
            cmin = yp < cmin ? yp : cmin;
            cmax = yp > cmax ? yp : cmax;
            clast = yp;
        }
    }
    /* hover: the values at the step under the mouse */
    if (viz_hover(v, g) && n > 1) {
        long i = lround((double)(v->mouse_x - g.x) / (g.w - 1) * (n - 1));
        int x = XPIX(i);
        viz_line(v, x, g.y, x, g.y + g.h, VIZ_DIM);
        char buf[256];
        int off = snprintf(buf, sizeof buf, "step %ld", i + 1);
        for (int s = 0; s < p->nseries && off < (int)sizeof buf; s++) {
            const VizSeries *se = &p->series[s];
            float y = i < se->n ? series_y(se, i) : NAN;
            if (!isfinite(y)) { /* sparse series: the nearest measured value before */
                for (long k = i; k >= 0 && k < se->n; k--)
                    if (isfinite(series_y(se, k))) { y = series_y(se, k); break; }
            }
            if (isfinite(y)) off += snprintf(buf + off, sizeof buf - (size_t)off, "  %s %.4f", se->name, (double)y);
        }
        viz_tooltip(v, "%s", buf);
    }
#undef YPIX
#undef XPIX
}

void viz_bars(Viz *v, VizRect r, const char *const *labels, const float *values, int n, VizColor c, const char *fmt)
{
    viz_bars_range(v, r, labels, values, n, c, fmt, 0);
}

void viz_bars_range(Viz *v, VizRect r, const char *const *labels, const float *values, int n, VizColor c, const char *fmt,
                    float full)
{
    if (n <= 0) return;
    float size = 11;
    int lh = viz_text_height(v, FONT_MONO, size);
    int row = r.h / n;
    if (row > lh + viz_px(v, 6)) row = lh + viz_px(v, 6);
    int label_w = 0;
    for (int i = 0; i < n; i++) {
        int w = viz_text_width(v, labels[i], FONT_MONO, size);
        if (w > label_w) label_w = w;
    }
    if (label_w > r.w / 3) label_w = r.w / 3;
    int value_w = viz_text_width(v, "0.000", FONT_MONO, size) + viz_px(v, 6);
    int bar_w = r.w - label_w - value_w - viz_px(v, 8);
    float vmax = full;
    for (int i = 0; full <= 0 && i < n; i++) vmax = fmaxf(vmax, values[i]);
    if (vmax <= 0) vmax = 1;
    for (int i = 0; i < n; i++) {
        int y = r.y + i * row;
        viz_text_fit(v, r.x, y + (row - lh) / 2, label_w, labels[i], FONT_MONO, size, VIZ_TEXT);
        int bw = (int)(bar_w * fminf(fmaxf(values[i], 0), vmax) / vmax);
        VizRect b = {r.x + label_w + viz_px(v, 4), y + viz_px(v, 2), bw, row - viz_px(v, 4)};
        if (full > 0) /* a fixed scale: its track shows where full is */
            viz_fill(v, (VizRect){b.x, b.y, bar_w, b.h}, (VizColor){VIZ_GRID.r, VIZ_GRID.g, VIZ_GRID.b, 90});
        viz_fill(v, b, c);
        char val[32];
        snprintf(val, sizeof val, fmt ? fmt : "%.3f", (double)values[i]);
        viz_text(v, b.x + bw + viz_px(v, 4), y + (row - lh) / 2, val, FONT_MONO, size, VIZ_DIM, ALIGN_LEFT);
        if (viz_hover(v, (VizRect){r.x, y, r.w, row})) viz_tooltip(v, "%s: %.5f", labels[i], (double)values[i]);
    }
}

static bool dark(VizColor c) { return 0.299f * c.r + 0.587f * c.g + 0.114f * c.b < 140; }

int viz_bars_grouped(Viz *v, VizRect r, const char *const *groups, int ngroups, const float *values, int nseries,
                     const VizColor *colors, float ref)
{
    return viz_bars_grouped_range(v, r, groups, ngroups, values, nseries, colors, ref, 1);
}

int viz_bars_grouped_range(Viz *v, VizRect r, const char *const *groups, int ngroups, const float *values, int nseries,
                           const VizColor *colors, float ref, float full)
{
    if (!(full > 0) || full > 1) full = 1;
    int lh = viz_text_height(v, FONT_SANS, 10), axis_w = viz_text_width(v, "100%", FONT_SANS, 10) + viz_px(v, 6);
    VizRect plot = {r.x + axis_w, r.y + lh / 2, r.w - axis_w, r.h - lh / 2 - lh - viz_px(v, 2)};
    if (plot.h < 2 * lh || ngroups <= 0 || nseries <= 0) return -1;
    for (int t = 0; t <= 4; t++) { /* 0, 25, 50, 75, 100% of full */
        int ty = plot.y + plot.h - plot.h * t / 4;
        char lab[8];
        double pc = 25.0 * t * full;
        snprintf(lab, sizeof lab, pc >= 10 || pc == 0 ? "%.0f%%" : "%.1f%%", pc);
        viz_line(v, plot.x, ty, plot.x + plot.w - 1, ty, (VizColor){52, 56, 68, 255});
        viz_text(v, plot.x - viz_px(v, 4), ty - lh / 2, lab, FONT_SANS, 10, VIZ_DIM, ALIGN_RIGHT);
    }
    int group = plot.w / ngroups, bw = (group - viz_px(v, 10)) / nseries, hover = -1;
    for (int g = 0; g < ngroups; g++) {
        int gx = plot.x + g * group + viz_px(v, 5);
        for (int i = 0; i < nseries; i++) {
            float a = values[i * ngroups + g];
            if (isnan(a)) continue;
            a = a < 0 ? 0 : a > full ? 1 : a / full;
            int h = (int)(a * (float)plot.h), bx = gx + i * bw;
            VizRect bar = {bx, plot.y + plot.h - h, bw - viz_px(v, 2), h};
            viz_fill(v, bar, colors[i]);
            if (i == 0 && bw >= viz_text_width(v, "100", FONT_SANS, 9)) { /* above the bar, or inside near the top */
                char lab[8];
                double pc = 100 * (double)a * full;
                snprintf(lab, sizeof lab, pc >= 9.95 || full == 1 ? "%.0f" : "%.1f", pc);
                bool inside = bar.y - lh < plot.y;
                viz_text(v, bx + bar.w / 2, inside ? bar.y + viz_px(v, 2) : bar.y - lh, lab, FONT_SANS, 9,
                         inside && !dark(colors[i]) ? (VizColor){20, 22, 28, 255} : VIZ_TEXT, ALIGN_CENTER);
            }
            if (viz_hover(v, (VizRect){bx, plot.y, bw, plot.h})) hover = i * ngroups + g;
        }
        viz_text_fit(v, gx, plot.y + plot.h + viz_px(v, 2), group - viz_px(v, 4), groups[g], FONT_SANS, 10, VIZ_TEXT);
    }
    if (!isnan(ref)) {
        int cy = plot.y + plot.h - (int)(fminf(ref / full, 1) * (float)plot.h);
        for (int x = plot.x; x < plot.x + plot.w; x += viz_px(v, 8))
            viz_line(v, x, cy, x + viz_px(v, 4) < plot.x + plot.w ? x + viz_px(v, 4) : plot.x + plot.w - 1, cy, VIZ_TEXT);
    }
    return hover;
}

/* The token strip, with (under != NULL) a small label under each box and (bars != NULL) a
 * colour band between the box and its label; draw false only measures. */
static int tokens(Viz *v, VizRect r, const char *const *toks, const VizColor *fills, int n, float size,
                  const char *const *under, const VizColor *bars, const uint8_t *outline, int *hover, bool draw)
{
    if (hover) *hover = -1;
    float small = size * 0.8f;
    int lh = viz_text_height(v, FONT_MONO, size), pad = viz_px(v, 3), gap = viz_px(v, 3);
    int band = bars ? viz_px(v, 5) : 0, sub = under ? viz_text_height(v, FONT_SANS, small) : 0;
    int box = lh + 2 * pad, row = box + band + sub + gap;
    int x = r.x, y = r.y;
    for (int i = 0; i < n; i++) {
        int w = viz_text_width(v, toks[i], FONT_MONO, size) + 2 * pad;
        if (under) {
            int wu = viz_text_width(v, under[i], FONT_SANS, small) + pad;
            w = wu > w ? wu : w;
        }
        if (w > r.w) w = r.w;
        if (x + w > r.x + r.w && x > r.x) {
            x = r.x;
            y += row;
        }
        if (draw) {
            if (y + box > r.y + r.h) break;
            VizRect b = {x, y, w, box};
            viz_fill(v, b, fills[i]);
            viz_text_fit(v, x + pad, y + pad, w - 2 * pad, toks[i], FONT_MONO, size,
                         dark(fills[i]) ? VIZ_TEXT : (VizColor){10, 10, 10, 255});
            if (outline && outline[i]) { /* a frame two pixels wide, in the text colour */
                viz_frame(v, b, VIZ_TEXT);
                viz_frame(v, (VizRect){b.x + 1, b.y + 1, b.w - 2, b.h - 2}, VIZ_TEXT);
            }
            if (bars) viz_fill(v, (VizRect){x, y + box, w, band}, bars[i]);
            if (under) viz_text(v, x + w / 2, y + box + band, under[i], FONT_SANS, small, VIZ_DIM, ALIGN_CENTER);
            if (hover && viz_hover(v, (VizRect){x, y, w, box + band + sub})) *hover = i;
        }
        x += w + gap;
    }
    return y + row - gap - r.y;
}

int viz_tokens_height(Viz *v, int width, const char *const *toks, int n, float size)
{
    return tokens(v, (VizRect){0, 0, width, 0}, toks, NULL, n, size, NULL, NULL, NULL, NULL, false);
}

int viz_tokens(Viz *v, VizRect r, const char *const *toks, const VizColor *fills, int n, float size, int *hover)
{
    return tokens(v, r, toks, fills, n, size, NULL, NULL, NULL, hover, true);
}

int viz_tokens_under_height(Viz *v, int width, const char *const *toks, int n, float size, const char *const *under,
                            bool bars)
{
    static const VizColor none = {0, 0, 0, 0};
    return tokens(v, (VizRect){0, 0, width, 0}, toks, NULL, n, size, under, bars ? &none : NULL, NULL, NULL, false);
}

int viz_tokens_under(Viz *v, VizRect r, const char *const *toks, const VizColor *fills, int n, float size,
                     const char *const *under, const VizColor *bars, const uint8_t *outline, int *hover)
{
    return tokens(v, r, toks, fills, n, size, under, bars, outline, hover, true);
}

static int legend(Viz *v, int x, int y, int max_w, const char *const *names, const VizColor *colors, int n, bool draw)
{
    float size = 10;
    int lh = viz_text_height(v, FONT_SANS, size), x0 = x, y0 = y, sq = lh - viz_px(v, 4);
    for (int i = 0; i < n; i++) {
        int w = sq + viz_px(v, 4) + viz_text_width(v, names[i], FONT_SANS, size) + viz_px(v, 12);
        if (x + w > x0 + max_w && x > x0) {
            x = x0;
            y += lh + viz_px(v, 2);
        }
        if (draw) {
            viz_fill(v, (VizRect){x, y + viz_px(v, 2), sq, sq}, colors[i]);
            viz_frame(v, (VizRect){x, y + viz_px(v, 2), sq, sq}, VIZ_DIM);
            viz_text(v, x + sq + viz_px(v, 4), y, names[i], FONT_SANS, size, VIZ_TEXT, ALIGN_LEFT);
        }
        x += w;
    }
    return y - y0 + lh;
}

int viz_legend(Viz *v, int x, int y, int max_w, const char *const *names, const VizColor *colors, int n)
{
    return legend(v, x, y, max_w, names, colors, n, true);
}

int viz_legend_height(Viz *v, int max_w, const char *const *names, int n)
{
    return legend(v, 0, 0, max_w, names, NULL, n, false);
}

/* Markdown: one pass over lines; inline spans switch fonts; words wrap at the width. */
/* A Markdown table's cells: split at |, trimmed, with the ** and ` marks taken out (a
 * cell is drawn in one font). Returns the count; a separator row (--- cells) gives 0. */
#define MD_COLS 8
static int md_cells(const char *row, char cells[MD_COLS][160])
{
    int n = 0;
    bool rule = true;
    const char *c = row + (row[0] == '|');
    while (*c && n < MD_COLS) {
        const char *end = strchr(c, '|');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (!end && len == 0) break;
        size_t k = 0;
        for (size_t i = 0; i < len && k < 159; i++)
            if (c[i] != '*' && c[i] != '`') cells[n][k++] = c[i];
        cells[n][k] = 0;
        char *t = cells[n];
        while (*t == ' ') t++;
        memmove(cells[n], t, strlen(t) + 1);
        for (k = strlen(cells[n]); k > 0 && cells[n][k - 1] == ' '; k--) cells[n][k - 1] = 0;
        if (strspn(cells[n], "-: ") != strlen(cells[n])) rule = false;   /* text: not a | --- | row */
        n++;
        if (!end) break;
        c = end + 1;
        if (!*c) break;
    }
    return rule ? 0 : n;
}

/* Draws the table that starts with `first` (the rest are the lines at *p that start with |,
 * *p moved past them): the first row bold, columns as wide as their widest cell, the text
 * made smaller (down to 6) when the table is wider than r. Returns the y below it. */
static int md_table(Viz *v, VizRect r, int y, const char *first, const char **p, float size)
{
    static char cells[32][MD_COLS][160];
    int ncells[32], rows = 0, cols = 0;
    char line[2048];
    snprintf(line, sizeof line, "%s", first);
    for (;;) {
        if (rows < 32) {
            int n = md_cells(line, cells[rows]);
            if (n) { /* separator rows are left out */
                ncells[rows++] = n;
                cols = n > cols ? n : cols;
            }
        }
        if (**p != '|') break;
        const char *e = strchr(*p, '\n');
        size_t len = e ? (size_t)(e - *p) : strlen(*p);
        if (len >= sizeof line) len = sizeof line - 1;
        memcpy(line, *p, len);
        line[len] = 0;
        *p = e ? e + 1 : *p + len;
    }
    int gap = viz_px(v, 10), width[MD_COLS] = {0}, total;
    for (int pass = 0; pass < 2; pass++) {
        total = 0;
        for (int c = 0; c < cols; c++) {
            width[c] = 0;
            for (int i = 0; i < rows; i++)
                if (c < ncells[i]) {
                    int w = viz_text_width(v, cells[i][c], i ? FONT_SANS : FONT_BOLD, size);
                    width[c] = w > width[c] ? w : width[c];
                }
            total += width[c] + (c ? gap : 0);
        }
        if (total <= r.w - viz_px(v, 8) || pass) break;
        size *= (float)(r.w - viz_px(v, 8)) / (float)total;
        if (size < 6) size = 6;
    }
    int lh = viz_text_height(v, FONT_SANS, size) + viz_px(v, 2);
    y += viz_px(v, 2);
    for (int i = 0; i < rows; i++) {
        if (i % 2 == 0 && i) viz_fill(v, (VizRect){r.x, y, total + viz_px(v, 8), lh}, (VizColor){36, 39, 50, 255});
        int x = r.x + viz_px(v, 4);
        for (int c = 0; c < ncells[i]; c++) {
            if (y + lh >= r.y && y < r.y + r.h)
                viz_text(v, x, y + viz_px(v, 1), cells[i][c], i ? FONT_SANS : FONT_BOLD, size, VIZ_TEXT, ALIGN_LEFT);
            x += width[c] + gap;
        }
        y += lh;
        if (i == 0) viz_fill(v, (VizRect){r.x, y - 1, total + viz_px(v, 8), 1}, VIZ_GRID);
    }
    return y + viz_px(v, 4);
}

/* The height of a Markdown text laid out at a width, remembered: only the scroll bar needs
 * it, and measuring every word of a lesson's notes (some 3,000) to find it took a tenth of a
 * frame, when all but the few hundred words on screen are past the panel's bottom. The key
 * is the text itself (hashed: a buffer may be reused for other notes), the width and the
 * scale, which are all the layout depends on. -1: not known yet. */
static uint64_t md_key(const Viz *v, const char *md, int w)
{
    uint32_t scale;
    memcpy(&scale, &v->scale, sizeof scale);
    return hash_text(md, 0, 0, (VizColor){0, 0, 0, 0}) ^ (uint64_t)w * 0x9E3779B97F4A7C15ULL ^ (uint64_t)scale << 20;
}

static int md_height_known(const Viz *v, uint64_t key)
{
    for (int i = 0; i < 4; i++)
        if (v->md_height[i].used && v->md_height[i].key == key) return v->md_height[i].height;
    return -1;
}

static void md_height_keep(Viz *v, uint64_t key, int height)
{
    if (md_height_known(v, key) >= 0) return;
    v->md_height[v->md_next].key = key;
    v->md_height[v->md_next].height = height;
    v->md_height[v->md_next].used = true;
    v->md_next = (v->md_next + 1) % 4;
}

void viz_markdown(Viz *v, VizRect r, const char *md, int *scroll)
{
    SDL_Rect clip = {r.x, r.y, r.w, r.h};
    viz_flush(v);
    SDL_RenderSetClipRect(v->r, &clip);
    int y = r.y - (scroll ? *scroll : 0);
    const char *p = md;
    float base = 12, code_size = base;
    bool fence = false;
    uint64_t key = md_key(v, md, r.w);
    int known = md_height_known(v, key);
    while (*p) {
        if (known >= 0 && y >= r.y + r.h) break; /* the rest is below the panel, and its height known */
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[2048];
        if (len >= sizeof line) len = sizeof line - 1;
        memcpy(line, p, len);
        line[len] = 0;
        p = e ? e + 1 : p + len;
        if (!strncmp(line, "```", 3)) { /* a code block: monospace, no wrapping, columns kept */
            fence = !fence;
            y += viz_px(v, 4);
            if (fence) { /* one size for the block, small enough for its widest line (at least 6) */
                code_size = base - 1;
                int widest = 0;
                for (const char *q = p; *q && strncmp(q, "```", 3);) {
                    const char *qe = strchr(q, '\n');
                    size_t ql = qe ? (size_t)(qe - q) : strlen(q);
                    char l[2048];
                    if (ql >= sizeof l) ql = sizeof l - 1;
                    memcpy(l, q, ql);
                    l[ql] = 0;
                    int w = viz_text_width(v, l, FONT_MONO, code_size);
                    widest = w > widest ? w : widest;
                    q = qe ? qe + 1 : q + ql;
                }
                if (widest > r.w - viz_px(v, 8)) code_size *= (float)(r.w - viz_px(v, 8)) / (float)widest;
                if (code_size < 6) code_size = 6;
            }
            continue;
        }
        if (fence) {
            int lh = viz_text_height(v, FONT_MONO, code_size);
            viz_fill(v, (VizRect){r.x, y, r.w, lh}, (VizColor){36, 39, 50, 255});
            viz_text(v, r.x + viz_px(v, 4), y, line, FONT_MONO, code_size, VIZ_TEXT, ALIGN_LEFT);
            y += lh;
            continue;
        }
        if (line[0] == '|') { /* a table: this line and the next ones that start with | */
            y = md_table(v, r, y, line, &p, base - 1);
            continue;
        }
        float size = base;
        VizFont font = FONT_SANS;
        VizColor color = VIZ_TEXT;
        char *text = line;
        int indent = 0;
        if (line[0] == '#') {
            int level = 0;
            while (text[0] == '#') { text++; level++; }
            while (*text == ' ') text++;
            size = level == 1 ? base + 5 : level == 2 ? base + 3 : base + 1;
            font = FONT_BOLD;
            color = level == 1 ? VIZ_ACCENT[0] : VIZ_ACCENT[1];
            y += viz_px(v, 4);
        } else if ((line[0] == '-' || line[0] == '*') && line[1] == ' ') {
            viz_text(v, r.x + viz_px(v, 4), y, "•", FONT_SANS, size, VIZ_DIM, ALIGN_LEFT);
            text += 2;
            indent = viz_px(v, 16);
        } else if (line[0] >= '1' && line[0] <= '9' && line[1] == '.' && line[2] == ' ') {
            char num[4] = {line[0], '.', 0, 0};
            viz_text(v, r.x + viz_px(v, 2), y, num, FONT_SANS, size, VIZ_DIM, ALIGN_LEFT);
            text += 3;
            indent = viz_px(v, 16);
        } else if (line[0] == 0) {
            y += viz_text_height(v, FONT_SANS, size) / 2;
            continue;
        }
        int lh = viz_text_height(v, font, size);
        int x = r.x + indent;
        /* words, with **bold**, *italic* (slanted, in the text's colour: the accent colours
           are for headings and code, and blue reads as a link) and `code` spans */
        bool bold = false, italic = false, code = false;
        char *q = text;
        while (*q) {
            if (q[0] == '*' && q[1] == '*') { bold = !bold; q += 2; continue; }
            if (q[0] == '`') { code = !code; q++; continue; }
            if (q[0] == '*' && !code) { italic = !italic; q++; continue; }
            char word[512];
            size_t k = 0;
            while (*q && *q != ' ' && !(q[0] == '*') && *q != '`' && k < sizeof word - 2) word[k++] = *q++;
            if (*q == ' ' && k < sizeof word - 2) word[k++] = *q++;
            if (!k) { q++; continue; }
            word[k] = 0;
            VizFont f = code ? FONT_MONO : bold || font == FONT_BOLD ? FONT_BOLD : italic ? FONT_ITALIC : FONT_SANS;
            VizColor c = code ? VIZ_ACCENT[3] : color;
            int w = viz_text_width(v, word, f, size);
            if (x + w > r.x + r.w && x > r.x + indent) {
                x = r.x + indent;
                y += lh;
            }
            if (y + lh >= r.y && y < r.y + r.h) viz_text(v, x, y, word, f, size, c, ALIGN_LEFT);
            x += w;
        }
        y += lh;
    }
    int content = known >= 0 ? known : y + (scroll ? *scroll : 0) - r.y;
    md_height_keep(v, key, content);
    if (scroll) {
        int max_scroll = content - r.h > 0 ? content - r.h : 0;
        if (*scroll > max_scroll) *scroll = max_scroll;
        if (*scroll < 0) *scroll = 0;
        if (content > r.h) { /* scroll bar */
            int bh = r.h * r.h / content, by = r.y + (int)((long)(r.h - bh) * *scroll / (max_scroll ? max_scroll : 1));
            viz_fill(v, (VizRect){r.x + r.w - viz_px(v, 4), by, viz_px(v, 3), bh}, VIZ_GRID);
        }
    }
    viz_flush(v);
    SDL_RenderSetClipRect(v->r, NULL);
}

bool viz_button(Viz *v, VizRect r, const char *label, bool active)
{
    bool hover = viz_hover(v, r);
    viz_fill(v, r, active ? VIZ_ACCENT[4] : hover ? (VizColor){60, 66, 84, 255} : (VizColor){48, 52, 66, 255});
    viz_frame(v, r, VIZ_GRID);
    int lh = viz_text_height(v, FONT_SANS, 11);
    viz_text(v, r.x + r.w / 2, r.y + (r.h - lh) / 2, label, FONT_SANS, 11, VIZ_TEXT, ALIGN_CENTER);
    return hover && v->mouse_clicked;
}

void viz_clip(Viz *v, const VizRect *r)
{
    viz_flush(v);
    if (r) {
        SDL_Rect c = {r->x, r->y, r->w > 0 ? r->w : 0, r->h > 0 ? r->h : 0};
        SDL_RenderSetClipRect(v->r, &c);
    } else {
        SDL_RenderSetClipRect(v->r, NULL);
    }
}
