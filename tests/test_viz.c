/* test_viz.c — the widgets drawn offscreen, checked pixel by pixel: heatmap cells carry the
 * colormap's colour for their value, nothing is drawn outside a widget's rectangle, token
 * boxes carry their fills, text puts ink where it says, colormaps hit their published end
 * points, the text cache does not grow for repeated strings, Hangul (which DejaVu lacks) is
 * drawn by the fallback face with widths that agree and wraps in Markdown, PNGs round-trip,
 * and the layout helper hands out exact rectangles. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <SDL_image.h>

#include "viz/viz.h"

static Viz v;

static VizColor pixel(int x, int y)
{
    viz_flush(&v); /* solid shapes are drawn in batches */
    uint32_t p = ((uint32_t *)v.surface->pixels)[y * (v.surface->pitch / 4) + x];
    return (VizColor){(unsigned char)(p >> 16), (unsigned char)(p >> 8), (unsigned char)p, 255};
}

static bool near(VizColor a, VizColor b, int tol)
{
    return abs(a.r - b.r) <= tol && abs(a.g - b.g) <= tol && abs(a.b - b.b) <= tol;
}

/* Every pixel outside r is still the background. */
static void assert_only_inside(VizRect r)
{
    int bad = 0, x0 = v.w, x1 = -1, y0 = v.h, y1 = -1;
    for (int y = 0; y < v.h; y++)
        for (int x = 0; x < v.w; x++) {
            bool in = x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h;
            if (!in && !near(pixel(x, y), VIZ_BG, 0)) {
                bad++;
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
        }
    if (bad)
        print_message("%d pixels drawn outside (%d,%d %dx%d), within x %d..%d y %d..%d\n", bad, r.x, r.y, r.w, r.h, x0,
                      x1, y0, y1);
    assert_int_equal(bad, 0);
}

static void test_colormaps(void **state)
{
    (void)state;
    /* matplotlib's viridis: #440154 at 0, #21918c at 0.5, #fde725 at 1 */
    assert_true(near(viz_colormap(CMAP_VIRIDIS, 0), (VizColor){0x44, 0x01, 0x54, 255}, 3));
    assert_true(near(viz_colormap(CMAP_VIRIDIS, 0.5f), (VizColor){0x21, 0x91, 0x8c, 255}, 3));
    assert_true(near(viz_colormap(CMAP_VIRIDIS, 1), (VizColor){0xfd, 0xe7, 0x25, 255}, 3));
    /* perceptually ordered: lightness grows monotonically */
    float last = -1;
    for (int i = 0; i <= 20; i++) {
        VizColor c = viz_colormap(CMAP_VIRIDIS, i / 20.0f);
        float l = 0.2126f * c.r + 0.7152f * c.g + 0.0722f * c.b;
        assert_true(l > last);
        last = l;
    }
    VizColor mid = viz_colormap(CMAP_DIVERGING, 0.5f), lo = viz_colormap(CMAP_DIVERGING, 0), hi = viz_colormap(CMAP_DIVERGING, 1);
    assert_true(mid.r > 240 && mid.g > 240 && mid.b > 240);
    assert_true(lo.b > lo.r && hi.r > hi.b);
    assert_true(near(viz_colormap(CMAP_VIRIDIS, -3), viz_colormap(CMAP_VIRIDIS, 0), 0));
    assert_true(near(viz_colormap(CMAP_VIRIDIS, NAN), viz_colormap(CMAP_VIRIDIS, 0), 0));
}

static void test_heatmap_cells(void **state)
{
    (void)state;
    viz_begin(&v);
    float data[2 * 4] = {0, 0.25f, 0.5f, 1, 0.75f, 0.1f, 0.9f, 0.6f};
    VizHeatmap h = {data, 2, 4, 0, 1, CMAP_VIRIDIS, NULL, NULL, "p", false, NULL};
    VizRect r = {40, 30, 200, 100};
    viz_heatmap(&v, r, &h, NULL, NULL);
    /* square cells of 49.5 px: the 2×4 grid fills the 198×98 inside a 1-px frame */
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            VizColor want = viz_colormap(CMAP_VIRIDIS, data[i * 4 + j]);
            VizColor got = pixel(41 + j * 49 + 24, 31 + i * 49 + 24);
            if (!near(got, want, 1)) print_message("cell %d,%d: %d %d %d vs %d %d %d\n", i, j, got.r, got.g, got.b, want.r, want.g, want.b);
            assert_true(near(got, want, 1));
        }
    assert_only_inside(r);
    /* masked cells are hatched grey, not a colormap colour */
    uint8_t hatch[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    h.hatch = hatch;
    viz_begin(&v);
    viz_heatmap(&v, r, &h, NULL, NULL);
    assert_true(near(pixel(41 + 49 + 5, 31 + 24), (VizColor){78, 80, 90, 255}, 0));
    /* hover: the cell under the mouse is reported and a tooltip with its exact value is set */
    viz_set_mouse(&v, 41 + 3 * 49 + 10, 31 + 49 + 10, false, false);
    viz_begin(&v);
    int hr, hc;
    viz_heatmap(&v, r, &h, &hr, &hc);
    assert_int_equal(hr, 1);
    assert_int_equal(hc, 3);
    assert_non_null(strstr(v.tooltip, "0.6000"));
    viz_set_mouse(&v, -1, -1, false, false);
}

/* More cells than pixels: every pixel is the mean of its block of cells (the left half 0, the
 * right half 1, a column of 0.5 averaged in), and the hover names a cell of the block. */
static void test_heatmap_more_cells_than_pixels(void **state)
{
    (void)state;
    enum { N = 300 };
    static float data[N * N];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) data[i * N + j] = j < N / 2 ? 0.0f : 1.0f;
    VizHeatmap h = {data, N, N, 0, 1, CMAP_VIRIDIS, NULL, NULL, "p", false, NULL};
    VizRect r = {20, 20, 102, 102};   /* 100 × 100 pixels inside the frame: blocks of 3 × 3 */
    viz_set_mouse(&v, 21 + 80, 21 + 10, false, false);
    viz_begin(&v);
    int hr, hc;
    viz_heatmap(&v, r, &h, &hr, &hc);
    assert_true(near(pixel(21 + 10, 21 + 50), viz_colormap(CMAP_VIRIDIS, 0), 1));
    assert_true(near(pixel(21 + 90, 21 + 50), viz_colormap(CMAP_VIRIDIS, 1), 1));
    assert_only_inside(r);
    assert_int_equal(hr, 30);
    assert_int_equal(hc, 240);
    viz_set_mouse(&v, -1, -1, false, false);
}

/* A tooltip longer than the window wraps inside it: its frame is whole (both sides drawn,
 * within the window) and holds several lines. */
static void test_long_tooltip_wraps(void **state)
{
    (void)state;
    viz_set_mouse(&v, v.w - 10, 10, false, false);
    viz_begin(&v);
    viz_tooltip(&v, "every parameter once: ALBERT 98,690, BERT 371,538; ALBERT / BERT = 0.2656; embeddings 40,256 "
                    "against 161,024, one layer of 49,984 applied four times against four of them");
    viz_end(&v);
    VizColor frame = VIZ_ACCENT[3];
    int x0 = v.w, x1 = -1, y0 = v.h, y1 = -1;
    for (int y = 0; y < v.h; y++)
        for (int x = 0; x < v.w; x++)
            if (near(pixel(x, y), frame, 0)) {
                x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
            }
    print_message("tooltip frame x %d-%d, y %d-%d in %dx%d\n", x0, x1, y0, y1, v.w, v.h);
    assert_true(x1 > x0 && x1 < v.w - 1 && x0 > 0);
    assert_true(near(pixel(x1, (y0 + y1) / 2), frame, 0) && near(pixel(x0, (y0 + y1) / 2), frame, 0));
    assert_true(y1 - y0 > 3 * viz_text_height(&v, FONT_MONO, 12));
    viz_set_mouse(&v, -1, -1, false, false);
}

static void test_heatmap_labels_and_colorbar(void **state)
{
    (void)state;
    viz_begin(&v);
    float data[3 * 3] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f};
    const char *labels[3] = {"the", "whale", "sea"};
    VizHeatmap h = {data, 3, 3, 0, 1, CMAP_VIRIDIS, labels, labels, "p", true, NULL};
    VizRect r = {20, 20, 300, 220};
    viz_heatmap(&v, r, &h, NULL, NULL);
    assert_only_inside(r);
    /* labels put ink left of the grid */
    int ink = 0;
    for (int y = 20; y < 200; y++)
        for (int x = 20; x < 60; x++) ink += !near(pixel(x, y), VIZ_BG, 30);
    assert_true(ink > 20);
    /* the colour bar runs from the top colour (vmax) to the bottom one (vmin) */
    int bx = -1;
    for (int x = 319; x > 20 && bx < 0; x--)
        if (near(pixel(x, 21), viz_colormap(CMAP_VIRIDIS, 1), 3)) bx = x;
    assert_true(bx > 0);
}

/* A loss curve of n values with one reference line at `ref`, as the lessons draw it. */
static VizPlot loss_plot(const float *y, int n, float ref)
{
    VizPlot p = {0};
    p.xlabel = "step";
    p.ylabel = "loss";
    p.series[0] = (VizSeries){.name = "train", .y = y, .n = n, .color = VIZ_ACCENT[1]};
    p.nseries = 1;
    p.hline[0] = ref;
    p.hline_name[0] = "unigram";
    p.hline_color[0] = VIZ_ACCENT[7];
    p.hline[1] = NAN;
    return p;
}

static void test_lineplot_and_bars_stay_inside(void **state)
{
    (void)state;
    viz_begin(&v);
    float y[50];
    for (int i = 0; i < 50; i++) y[i] = 7.0f * expf(-i / 10.0f) + (i == 20 ? 100.0f : 0.0f);
    VizPlot p = loss_plot(y, 50, 3);
    VizRect r = {30, 40, 300, 180};
    viz_lineplot(&v, r, &p);
    assert_only_inside(r);
    int series_ink = 0;
    for (int yy = r.y; yy < r.y + r.h; yy++)
        for (int x = r.x; x < r.x + r.w; x++) series_ink += near(pixel(x, yy), VIZ_ACCENT[1], 10);
    assert_true(series_ink > 50);
    viz_begin(&v);
    const char *labels[3] = {"whale", "ship", "sea"};
    float vals[3] = {0.5f, 0.25f, 0.125f};
    VizRect b = {10, 10, 200, 60};
    viz_bars(&v, b, labels, vals, 3, VIZ_ACCENT[2], "%.3f");
    assert_only_inside(b);
    /* the first bar is twice as long as the second */
    int len[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        int yy = b.y + k * (60 / 3) + 8;
        for (int x = b.x; x < b.x + b.w; x++) len[k] += near(pixel(x, yy), VIZ_ACCENT[2], 0);
    }
    assert_true(abs(len[0] - 2 * len[1]) <= 2);
}

/* Grouped bars: inside their box, heights in proportion to the values on the 0–100% axis (a
 * bar of 1.0 twice as tall as one of 0.5), a NaN drawn as no bar, and the hovered bar named. */
static void test_bars_grouped(void **state)
{
    (void)state;
    viz_begin(&v);
    const char *groups[2] = {"0-shot", "1-shot"};
    float vals[4] = {0.5f, 1.0f, NAN, 0.25f}; /* series 0: 0.5, 1.0; series 1: none, 0.25 */
    VizColor colors[2] = {VIZ_ACCENT[2], VIZ_ACCENT[3]};
    VizRect r = {20, 20, 300, 200};
    int hover = viz_bars_grouped(&v, r, groups, 2, vals, 2, colors, 0.1f);
    assert_int_equal(hover, -1);
    assert_only_inside(r);
    /* the tallest column of each colour, per group half */
    int h[2][2] = {{0, 0}, {0, 0}};
    for (int x = r.x; x < r.x + r.w; x++) {
        int g = x < r.x + r.w / 2 + 20 ? 0 : 1;
        for (int c = 0; c < 2; c++) {
            int n = 0;
            for (int y = r.y; y < r.y + r.h; y++) n += near(pixel(x, y), colors[c], 0);
            h[c][g] = n > h[c][g] ? n : h[c][g];
        }
    }
    assert_true(h[0][0] > 20);
    assert_true(abs(h[0][1] - 2 * h[0][0]) <= 3);
    assert_int_equal(h[1][0], 0);                  /* NaN: no bar */
    assert_true(abs(2 * h[1][1] - h[0][0]) <= 3);  /* 0.25 is half of 0.5 */
    /* the mouse over the second group's first bar */
    int bx = -1;
    for (int x = r.x + r.w / 2; x < r.x + r.w && bx < 0; x++)
        if (near(pixel(x, r.y + r.h - 30), colors[0], 0)) bx = x;
    assert_true(bx > 0);
    viz_set_mouse(&v, bx + 2, r.y + r.h - 30, false, false);
    viz_begin(&v);
    assert_int_equal(viz_bars_grouped(&v, r, groups, 2, vals, 2, colors, NAN), 0 * 2 + 1);
    viz_set_mouse(&v, -1, -1, false, false);
}

/* On an axis to `full`: a bar of full fills the plot as 1.0 does on the plain axis, a bar of
 * full/2 is half as tall, and a value above full is drawn at full height, not past the box. */
static void test_bars_grouped_range(void **state)
{
    (void)state;
    const char *groups[2] = {"a", "b"};
    VizColor colors[1] = {VIZ_ACCENT[2]};
    VizRect r = {20, 20, 300, 200};
    int h[3];
    float sets[3][2] = {{1.0f, 0.5f}, {0.08f, 0.04f}, {0.5f, 0.04f}};
    for (int k = 0; k < 3; k++) {
        viz_begin(&v);
        if (k == 0) viz_bars_grouped(&v, r, groups, 2, sets[k], 1, colors, NAN);
        else viz_bars_grouped_range(&v, r, groups, 2, sets[k], 1, colors, NAN, 0.08f);
        assert_only_inside(r);
        int tall[2] = {0, 0};
        for (int x = r.x; x < r.x + r.w; x++) {
            int g = x < r.x + r.w / 2 + 20 ? 0 : 1, n = 0;
            for (int y = r.y; y < r.y + r.h; y++) n += near(pixel(x, y), colors[0], 0);
            tall[g] = n > tall[g] ? n : tall[g];
        }
        assert_true(abs(tall[1] * 2 - tall[0]) <= 3 || k == 2);
        h[k] = tall[0];
    }
    assert_true(h[0] > 50);
    assert_true(abs(h[1] - h[0]) <= 1);   /* 0.08 of 0.08 fills as 1.0 of 1 */
    assert_true(abs(h[2] - h[0]) <= 1);   /* 0.5 of 0.08: clamped to the top */
}

static void test_tokens_and_text(void **state)
{
    (void)state;
    viz_begin(&v);
    const char *toks[5] = {"[CLS]", "call", "me", "[MASK]", "[SEP]"};
    VizColor fills[5] = {VIZ_GRID, VIZ_GRID, VIZ_GRID, VIZ_ACCENT[0], VIZ_GRID};
    VizRect r = {10, 10, 380, 60};
    int used = viz_tokens(&v, r, toks, fills, 5, 11, NULL);
    assert_true(used > 10 && used < 60);
    assert_only_inside(r);
    int orange = 0;
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x < r.x + r.w; x++) orange += near(pixel(x, y), VIZ_ACCENT[0], 0);
    assert_true(orange > 50);
    /* text: ink inside its box only, and the width it reports */
    viz_begin(&v);
    int w = viz_text(&v, 50, 50, "Moby-Dick", FONT_SANS, 14, VIZ_TEXT, ALIGN_LEFT);
    assert_int_equal(w, viz_text_width(&v, "Moby-Dick", FONT_SANS, 14));
    assert_only_inside((VizRect){50, 50, w, viz_text_height(&v, FONT_SANS, 14)});
    /* drawing the same string again uses the cache */
    int before = 0, after = 0;
    for (int i = 0; i < VIZ_TEXT_CACHE; i++) before += v.cache[i].tex != NULL;
    for (int k = 0; k < 10; k++) viz_text(&v, 50, 50, "Moby-Dick", FONT_SANS, 14, VIZ_TEXT, ALIGN_LEFT);
    for (int i = 0; i < VIZ_TEXT_CACHE; i++) after += v.cache[i].tex != NULL;
    assert_int_equal(before, after);
}

/* The whole surface after drawing plot p in r, into out (pitch × height bytes). */
static void plot_pixels(const VizPlot *p, VizRect r, uint32_t *out)
{
    viz_begin(&v);
    viz_lineplot(&v, r, p);
    viz_flush(&v);
    memcpy(out, v.surface->pixels, (size_t)v.surface->pitch * v.h);
}

/* A sparse series (held-out figures, drawn as points) is never smoothed: with points 25 rows
 * apart a window of 10 rows never holds two, the moving sum never drops one, and the line would
 * be the mean of every point so far (a step from 0 to 1 drawn as a slow climb). The same pixels
 * with smooth 10 as with none. */
static void test_lineplot_sparse_not_smoothed(void **state)
{
    (void)state;
    enum { N = 200 };
    float y[N];
    for (int i = 0; i < N; i++) y[i] = i % 25 == 24 ? (i < N / 2 ? 0.0f : 1.0f) : NAN; /* every 25 rows, as eval_every 25 */
    VizPlot p = {0};
    p.xlabel = "step";
    p.ylabel = "score";
    p.series[0] = (VizSeries){.name = "held-out", .y = y, .n = N, .color = VIZ_ACCENT[2], .points = true};
    p.nseries = 1;
    p.hline[0] = p.hline[1] = NAN;
    VizRect r = {20, 20, 360, 260};
    size_t bytes = (size_t)v.surface->pitch * v.h;
    uint32_t *want = malloc(bytes), *got = malloc(bytes);
    assert_true(want && got);
    plot_pixels(&p, r, want);
    p.smooth = 10;
    plot_pixels(&p, r, got);
    assert_memory_equal(got, want, bytes);
    free(want);
    free(got);
}

/* A plot reads a column of a row-major table in place (stride = the table's width): the
 * same pixels as from a contiguous copy, and the hover value of the right row. */
static void test_lineplot_stride(void **state)
{
    (void)state;
    enum { N = 80, COLS = 3 };
    float table[N * COLS], copy[N];
    for (int i = 0; i < N; i++) {
        table[i * COLS + 0] = 1000.0f + i;                     /* other columns: far off the plot's range */
        table[i * COLS + 1] = 2.0f + sinf(i / 7.0f) + (i % 9 == 0 ? NAN : 0.0f);
        table[i * COLS + 2] = -1000.0f - i;
        copy[i] = table[i * COLS + 1];
    }
    VizPlot p = {0};
    p.xlabel = "step";
    p.ylabel = "loss";
    p.series[0] = (VizSeries){.name = "train", .y = copy, .n = N, .color = VIZ_ACCENT[1]};
    p.nseries = 1;
    p.hline[0] = p.hline[1] = NAN;
    p.smooth = 5;
    VizRect r = {20, 20, 360, 260};
    size_t bytes = (size_t)v.surface->pitch * v.h;
    uint32_t *want = malloc(bytes), *got = malloc(bytes);
    assert_true(want && got);
    plot_pixels(&p, r, want);
    p.series[0].y = &table[1];
    p.series[0].stride = COLS;
    plot_pixels(&p, r, got);
    assert_memory_equal(got, want, bytes);
    free(want);
    free(got);
    /* hover over the middle of the plot: the tooltip has the value of that step's row */
    viz_set_mouse(&v, r.x + r.w / 2, r.y + r.h / 2, false, false);
    viz_begin(&v);
    viz_lineplot(&v, r, &p);
    long step = -1;
    float val = NAN;
    assert_int_equal(sscanf(v.tooltip, "step %ld  train %f", &step, &val), 2);
    assert_true(step >= 1 && step <= N);
    float expect = table[(step - 1) * COLS + 1];
    for (long k = step - 1; !isfinite(expect) && k >= 0; k--) expect = table[k * COLS + 1]; /* NaN: the one before */
    assert_float_equal(val, expect, 1e-4);
    viz_set_mouse(&v, -1, -1, false, false);
}

/* Fills, frames and straight lines are queued and drawn in batches: exactly their pixels. */
static void test_batched_shapes_exact(void **state)
{
    (void)state;
    viz_begin(&v);
    VizColor c = VIZ_ACCENT[5];
    viz_fill(&v, (VizRect){10, 12, 7, 5}, c);
    viz_frame(&v, (VizRect){40, 40, 6, 4}, c);
    viz_line(&v, 100, 100, 90, 100, c);          /* horizontal, right to left: both ends */
    viz_line(&v, 120, 90, 120, 95, c);
    viz_fill(&v, (VizRect){200, 200, 0, 5}, c);  /* empty */
    int n = 0;
    for (int y = 0; y < v.h; y++)
        for (int x = 0; x < v.w; x++) {
            bool in_fill = x >= 10 && x < 17 && y >= 12 && y < 17;
            bool in_frame = x >= 40 && x < 46 && y >= 40 && y < 44 && (x == 40 || x == 45 || y == 40 || y == 43);
            bool in_line = (y == 100 && x >= 90 && x <= 100) || (x == 120 && y >= 90 && y <= 95);
            bool drawn = near(pixel(x, y), c, 0);
            if (drawn != (in_fill || in_frame || in_line)) print_message("pixel %d,%d\n", x, y);
            assert_int_equal(drawn, in_fill || in_frame || in_line);
            n += drawn;
        }
    assert_int_equal(n, 7 * 5 + (2 * 6 + 2 * 2) + 11 + 6);
    /* more shapes than one batch holds, in order: the last colour drawn wins */
    viz_begin(&v);
    int last = -1; /* the last square over pixel (55, 5) */
    for (int k = 0; k < 3 * VIZ_BATCH_QUADS + 7; k++) {
        viz_fill(&v, (VizRect){k % 50, 0, 10, 10}, VIZ_ACCENT[k % 7]);
        if (k % 50 > 45) last = k;
    }
    assert_true(near(pixel(55, 5), VIZ_ACCENT[last % 7], 0));
}

static void assert_rect(VizRect got, int x, int y, int w, int h)
{
    if (got.x != x || got.y != y || got.w != w || got.h != h)
        print_message("got (%d,%d %dx%d), want (%d,%d %dx%d)\n", got.x, got.y, got.w, got.h, x, y, w, h);
    assert_true(got.x == x && got.y == y && got.w == w && got.h == h);
}

static void test_layout_cuts(void **state)
{
    (void)state;
    VizRect r = {10, 20, 300, 200};
    assert_rect(viz_cut_top(&r, 30, 4), 10, 20, 300, 30);
    assert_rect(r, 10, 54, 300, 166);
    assert_rect(viz_cut_bottom(&r, 16, 4), 10, 204, 300, 16);
    assert_rect(r, 10, 54, 300, 146);
    assert_rect(viz_cut_left(&r, 100, 6), 10, 54, 100, 146);
    assert_rect(r, 116, 54, 194, 146);
    assert_rect(viz_cut_right(&r, 50, 6), 260, 54, 50, 146);
    assert_rect(r, 116, 54, 138, 146);
    /* more than there is: the strip gets all, the rest is empty at the far edge, no gap */
    VizRect s = {0, 0, 40, 10};
    assert_rect(viz_cut_top(&s, 25, 5), 0, 0, 40, 10);
    assert_rect(s, 0, 10, 40, 0);
    s = (VizRect){0, 0, 40, 10};
    assert_rect(viz_cut_left(&s, 38, 5), 0, 0, 38, 10); /* the gap is cut to the 2 px left */
    assert_rect(s, 40, 0, 0, 10);
    s = (VizRect){0, 0, 40, 10};
    assert_rect(viz_cut_right(&s, -3, 5), 40, 0, 0, 10); /* negative: nothing, but the gap */
    assert_rect(s, 0, 0, 35, 10);
}

static void test_layout_split(void **state)
{
    (void)state;
    VizRect out[4];
    /* equal weights: rounding down at each boundary, the last part ends at the end */
    assert_int_equal(viz_split((VizRect){0, 0, 100, 50}, true, NULL, NULL, 3, 0, out), 3);
    assert_rect(out[0], 0, 0, 33, 50);
    assert_rect(out[1], 33, 0, 33, 50);
    assert_rect(out[2], 66, 0, 34, 50);
    /* weights and gaps, stacked */
    float w13[2] = {1, 3};
    assert_int_equal(viz_split((VizRect){10, 20, 80, 110}, false, w13, NULL, 2, 10, out), 2);
    assert_rect(out[0], 10, 20, 80, 25);
    assert_rect(out[1], 10, 55, 80, 75);
    /* a minimum over the share: that part gets its minimum, the others share the rest */
    float w111[3] = {1, 1, 1};
    int m070[3] = {0, 70, 0};
    assert_int_equal(viz_split((VizRect){0, 0, 130, 10}, true, w111, m070, 3, 0, out), 3);
    assert_rect(out[0], 0, 0, 30, 10);
    assert_rect(out[1], 30, 0, 70, 10);
    assert_rect(out[2], 100, 0, 30, 10);
    /* fixing one part can push another under its minimum: both get theirs */
    float w411[3] = {4, 1, 1};
    int m0_30_25[3] = {0, 30, 25};
    assert_int_equal(viz_split((VizRect){0, 0, 120, 10}, true, w411, m0_30_25, 3, 0, out), 3);
    assert_rect(out[0], 0, 0, 65, 10);
    assert_rect(out[1], 65, 0, 30, 10);
    assert_rect(out[2], 95, 0, 25, 10);
    /* weight 0 with a minimum: a part of fixed size */
    float w01[2] = {0, 1};
    int m40[2] = {40, 0};
    assert_int_equal(viz_split((VizRect){0, 0, 200, 10}, true, w01, m40, 2, 5, out), 2);
    assert_rect(out[0], 0, 0, 40, 10);
    assert_rect(out[1], 45, 0, 155, 10);
    /* all at their minimums: the last part that got space takes the rest */
    float w00[2] = {0, 0};
    int m30_20[2] = {30, 20};
    assert_int_equal(viz_split((VizRect){0, 0, 100, 10}, true, w00, m30_20, 2, 0, out), 2);
    assert_rect(out[0], 0, 0, 30, 10);
    assert_rect(out[1], 30, 0, 70, 10);
    /* too small: the part of smallest weight collapses (zero size where it would be) */
    float w312[3] = {3, 1, 2};
    int m50_40_40[3] = {50, 40, 40};
    assert_int_equal(viz_split((VizRect){0, 0, 120, 10}, true, w312, m50_40_40, 3, 5, out), 2);
    assert_rect(out[0], 0, 0, 69, 10);
    assert_rect(out[1], 74, 0, 0, 0);
    assert_rect(out[2], 74, 0, 46, 10);
    /* of equal weights the later collapses first; then the next; gaps count */
    int m50[3] = {50, 50, 50};
    assert_int_equal(viz_split((VizRect){0, 0, 150, 10}, true, NULL, m50, 3, 1, out), 2);
    assert_rect(out[0], 0, 0, 74, 10);
    assert_rect(out[1], 75, 0, 75, 10);
    assert_rect(out[2], 150, 0, 0, 0);
    assert_int_equal(viz_split((VizRect){0, 0, 100, 10}, true, NULL, m50, 3, 1, out), 1);
    assert_rect(out[0], 0, 0, 100, 10);
    assert_rect(out[1], 100, 0, 0, 0);
    assert_int_equal(viz_split((VizRect){0, 0, 49, 10}, true, NULL, m50, 3, 1, out), 0);
    assert_rect(out[0], 0, 0, 0, 0);
    /* a heavier part that cannot fit does not take a lighter one that can with it */
    float w3_2_1[3] = {3, 2, 1};
    int m60_50_10[3] = {60, 50, 10};
    assert_int_equal(viz_split((VizRect){0, 0, 100, 10}, true, w3_2_1, m60_50_10, 3, 0, out), 2);
    assert_rect(out[0], 0, 0, 75, 10);
    assert_rect(out[1], 75, 0, 0, 0);
    assert_rect(out[2], 75, 0, 25, 10);
    /* no pixel unassigned, none twice, minimums honoured: many random cases */
    unsigned seed = 12345;
#define RND(n) ((int)((seed = seed * 1103515245u + 12345u) >> 8) % (n))
    for (int t = 0; t < 20000; t++) {
        int n = 1 + RND(4), gap = RND(8), len = RND(400);
        float wt[4];
        int mn[4];
        for (int i = 0; i < n; i++) { wt[i] = RND(5) * 0.7f; mn[i] = RND(3) ? RND(120) : 0; }
        bool horizontal = RND(2);
        int x0 = RND(50), y0 = RND(50); /* in this order: an initializer list's is unspecified */
        VizRect r = {x0, y0, horizontal ? len : 30, horizontal ? 30 : len};
        int k = viz_split(r, horizontal, wt, mn, n, gap, out);
        int pos = horizontal ? r.x : r.y, got = 0, sum = 0;
        long need = 0;
        for (int i = 0; i < n; i++) {
            int at = horizontal ? out[i].x : out[i].y, size = horizontal ? out[i].w : out[i].h;
            if (out[i].w == 0 && out[i].h == 0) continue; /* collapsed (kept parts are 30 across) */
            assert_int_equal(at, pos);
            assert_true(size >= mn[i]);
            pos += size + gap;
            sum += size;
            got++;
            need += mn[i];
        }
        assert_int_equal(got, k);
        if (k > 0) assert_int_equal(sum + gap * (k - 1), len);
        /* it collapsed only what did not fit: none of them would beside the others */
        need += (long)gap * (k > 0 ? k - 1 : 0);
        assert_true(need <= len);
        for (int i = 0; i < n; i++)
            if (out[i].w == 0 && out[i].h == 0) assert_true(need + (k > 0 ? gap : 0) + mn[i] > len);
    }
#undef RND
}

/* Without a GPU (SDL's dummy video driver has none to offer), a window gets SDL's software
 * renderer, drawing into the window itself, and viz draws on it. */
static void test_create_renderer(void **state)
{
    (void)state;
    const char *driver = getenv("SDL_VIDEODRIVER");
    char *saved = driver ? strdup(driver) : NULL;
    setenv("SDL_VIDEODRIVER", "dummy", 1);
    assert_int_equal(SDL_InitSubSystem(SDL_INIT_VIDEO), 0);
    SDL_Window *win = SDL_CreateWindow("viz", 0, 0, 320, 200, 0);
    assert_non_null(win);
    SDL_Renderer *r = viz_create_renderer(win, true);
    assert_non_null(r);
    SDL_RendererInfo info;
    assert_int_equal(SDL_GetRendererInfo(r, &info), 0);
    assert_string_equal(info.name, "software");
    Viz w;
    char err[256];
    assert_int_equal(viz_open_renderer(&w, r, 320, 200, 1.0f, FMLAB_ASSETS, err, sizeof err), 0);
    viz_begin(&w);
    viz_fill(&w, (VizRect){10, 10, 20, 20}, VIZ_ACCENT[2]);
    viz_end(&w);
    viz_close(&w);
    SDL_DestroyRenderer(r);
    SDL_DestroyWindow(win);
    SDL_QuitSubSystem(SDL_INIT_VIDEO);
    if (saved) setenv("SDL_VIDEODRIVER", saved, 1);
    else unsetenv("SDL_VIDEODRIVER");
    free(saved);
}

/* ---- Hangul: what DejaVu lacks, drawn by the fallback face ---- */

/* Whether this machine has a font with Hangul, asked of fontconfig (and at Debian's paths)
 * apart from viz, so that viz not finding one it should is a failure, not a skip. */
static bool machine_has_hangul_font(void)
{
    char line[1024] = "";
    FILE *p = popen("fc-list :lang=ko file 2>/dev/null", "r");
    if (p) {
        if (!fgets(line, sizeof line, p)) line[0] = 0;
        pclose(p);
    }
    if (line[0]) return true;
    const char *known[] = {"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                           "/usr/share/fonts/truetype/nanum/NanumGothic.ttf"};
    for (size_t k = 0; k < sizeof known / sizeof *known; k++) {
        FILE *f = fopen(known[k], "rb");
        if (f) {
            fclose(f);
            return true;
        }
    }
    return false;
}

#define SKIP_WITHOUT_HANGUL_FONT()                                                                  \
    do {                                                                                            \
        if (!machine_has_hangul_font()) {                                                           \
            print_message("skipped: no font with Hangul on this machine (Debian: fonts-noto-cjk)\n"); \
            skip();                                                                                 \
        }                                                                                           \
    } while (0)

/* The pixels of a string drawn alone at (10, 10), w × h of them, into out (a w*h array),
 * as 0 for background and 1 for ink; returns the count of ink pixels. */
enum { GW = 120, GH = 60 };
static int glyph_pixels(const char *text, VizFont font, float size, unsigned char out[GH][GW])
{
    viz_begin(&v);
    viz_text(&v, 10, 10, text, font, size, VIZ_TEXT, ALIGN_LEFT);
    int ink = 0;
    for (int y = 0; y < GH; y++)
        for (int x = 0; x < GW; x++) ink += out[y][x] = !near(pixel(10 + x, 10 + y), VIZ_BG, 40);
    return ink;
}

static int differing(unsigned char a[GH][GW], unsigned char b[GH][GW])
{
    int n = 0;
    for (int y = 0; y < GH; y++)
        for (int x = 0; x < GW; x++) n += a[y][x] != b[y][x];
    return n;
}

/* Hangul draws glyphs, not DejaVu's box: in every style, "한" is ink unlike a code point that
 * no font has (U+10FFFD, private use), and different syllables draw differently. */
static void test_hangul_glyphs(void **state)
{
    (void)state;
    SKIP_WITHOUT_HANGUL_FONT();
    for (int f = 0; f < FONT_COUNT; f++) {
        long index = -1;
        const char *path = viz_fallback_font(&v, (VizFont)f, &index);
        assert_non_null(path);
        assert_true(index >= 0);
        static unsigned char han[GH][GW], guk[GH][GW], none[GH][GW];
        int ink_han = glyph_pixels("\xED\x95\x9C", (VizFont)f, 24, han);       /* 한 */
        int ink_guk = glyph_pixels("\xEA\xB5\xAD", (VizFont)f, 24, guk);       /* 국 */
        int ink_none = glyph_pixels("\xF4\x8F\xBF\xBD", (VizFont)f, 24, none); /* U+10FFFD */
        assert_true(ink_han > 40 && ink_guk > 40 && ink_none > 0);
        int d_box = differing(han, none), d_syl = differing(han, guk);
        if (d_box < 40 || d_syl < 40)
            print_message("font %d (%s, face %ld): 한 differs from the box in %d pixels, from 국 in %d\n", f, path,
                          index, d_box, d_syl);
        assert_true(d_box >= 40);
        assert_true(d_syl >= 40);
    }
}

/* Widths agree with what is drawn: a mixed string is as wide as its parts, viz_text returns
 * viz_text_width, ink stays in the box of that width and the line height, and the Hangul
 * sits on the Latin baseline. */
static void test_hangul_mixed_width_and_baseline(void **state)
{
    (void)state;
    SKIP_WITHOUT_HANGUL_FONT();
    const char *mixed = "loss \xEC\x86\x90\xEC\x8B\xA4"; /* loss 손실 */
    for (int f = 0; f < FONT_COUNT; f++) {
        float size = 30;
        int w = viz_text_width(&v, mixed, (VizFont)f, size);
        int parts = viz_text_width(&v, "loss ", (VizFont)f, size) +
                    viz_text_width(&v, "\xEC\x86\x90\xEC\x8B\xA4", (VizFont)f, size);
        if (abs(w - parts) > 2) print_message("font %d: width %d, parts %d\n", f, w, parts);
        assert_true(abs(w - parts) <= 2);
        assert_true(viz_text_width(&v, "\xEC\x86\x90\xEC\x8B\xA4", (VizFont)f, size) > viz_px(&v, size));
        viz_begin(&v);
        int drawn = viz_text(&v, 20, 20, mixed, (VizFont)f, size, VIZ_TEXT, ALIGN_LEFT);
        assert_int_equal(drawn, w);
        int lh = viz_text_height(&v, (VizFont)f, size);
        assert_only_inside((VizRect){20, 20, w, lh});
        /* the lowest ink of "loss" (no descenders) is the baseline; Hangul sits on it */
        int wl = viz_text_width(&v, "loss", (VizFont)f, size), wls = viz_text_width(&v, "loss ", (VizFont)f, size);
        int low_latin = -1, low_hangul = -1;
        for (int y = 20; y < 20 + lh; y++)
            for (int x = 20; x < 20 + w; x++)
                if (!near(pixel(x, y), VIZ_BG, 100)) {
                    if (x < 20 + wl) low_latin = y;
                    else if (x >= 20 + wls) low_hangul = y;
                }
        assert_true(low_latin > 20 && low_hangul > 20);
        if (abs(low_latin - low_hangul) > 3)
            print_message("font %d: baseline of loss at %d, of Hangul at %d\n", f, low_latin, low_hangul);
        assert_true(abs(low_latin - low_hangul) <= 3);
    }
    /* text_fit cuts Hangul by its own width */
    viz_begin(&v);
    const char *long_ko = "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 \xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 "
                          "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 \xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4";
    int fw = viz_text_fit(&v, 30, 30, 100, long_ko, FONT_SANS, 14, VIZ_TEXT);
    assert_true(fw > 50 && fw <= 100);
    assert_only_inside((VizRect){30, 30, 100, viz_text_height(&v, FONT_SANS, 14)});
    /* a Korean string drawn again comes from the cache */
    int before = 0, after = 0;
    for (int i = 0; i < VIZ_TEXT_CACHE; i++) before += v.cache[i].tex != NULL;
    for (int k = 0; k < 10; k++) viz_text(&v, 20, 20, mixed, FONT_SANS, 14, VIZ_TEXT, ALIGN_LEFT);
    for (int i = 0; i < VIZ_TEXT_CACHE; i++) after += v.cache[i].tex != NULL;
    assert_true(after <= before + 1);
}

static int ink_in(VizRect r)
{
    int ink = 0;
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x < r.x + r.w; x++) ink += !near(pixel(x, y), VIZ_BG, 0);
    return ink;
}

/* A long Korean paragraph wraps at the spaces between its words: drawn into a narrow
 * rectangle it takes several lines and all of its ink is there (a word running past the edge
 * would be clipped and lose ink): as much as its words drawn one by one. */
static void test_hangul_markdown_wraps(void **state)
{
    (void)state;
    SKIP_WITHOUT_HANGUL_FONT();
    const char *para = "\xEB\xB3\xB4\xED\x86\xB5\xEC\x9D\x98 language model\xEC\x9D\x80 "          /* 보통의 … 은 */
                       "\xEC\x99\xBC\xEC\xAA\xBD\xEC\x97\x90\xEC\x84\x9C "                          /* 왼쪽에서 */
                       "\xEC\x98\xA4\xEB\xA5\xB8\xEC\xAA\xBD\xEC\x9C\xBC\xEB\xA1\x9C "              /* 오른쪽으로 */
                       "\xEC\x9D\xBD\xEC\x8A\xB5\xEB\x8B\x88\xEB\x8B\xA4. "                         /* 읽습니다. */
                       "\xEB\xAC\xB8\xEC\x9E\xA5 \xEC\xA0\x84\xEC\xB2\xB4\xEB\xA5\xBC "             /* 문장 전체를 */
                       "\xED\x95\x9C \xEB\xB2\x88\xEC\x97\x90 "                                     /* 한 번에 */
                       "\xEC\x9D\xBD\xEA\xB8\xB0 \xEB\x95\x8C\xEB\xAC\xB8\xEC\x97\x90";             /* 읽기 때문에 */
    VizRect r = {20, 20, 150, 200};
    viz_begin(&v);
    viz_markdown(&v, r, para, NULL);
    assert_only_inside(r);
    int ink = ink_in(r);
    /* it takes four lines of the narrow rectangle (ink from the first to beyond the third) */
    int top = -1, bottom = -1, lh = viz_text_height(&v, FONT_SANS, 12);
    for (int y = r.y; y < r.y + r.h; y++)
        if (ink_in((VizRect){r.x, y, r.w, 1}) > 0) {
            if (top < 0) top = y;
            bottom = y;
        }
    assert_true(top >= r.y && bottom - top + 1 > 3 * lh);
    /* the same words, each drawn alone (with the space after it, as the panel draws them) */
    int words_ink = 0;
    char word[256];
    for (const char *p = para; *p;) {
        size_t k = 0;
        while (p[k] && p[k] != ' ') k++;
        if (p[k] == ' ') k++;
        memcpy(word, p, k);
        word[k] = 0;
        p += k;
        viz_begin(&v);
        viz_text(&v, 10, 10, word, FONT_SANS, 12, VIZ_TEXT, ALIGN_LEFT);
        words_ink += ink_in((VizRect){0, 0, v.w, v.h});
    }
    if (ink < words_ink * 98 / 100) print_message("paragraph ink %d, its words' %d\n", ink, words_ink);
    assert_true(ink >= words_ink * 98 / 100);
}

/* A Markdown table in the notes: drawn as a table (the | --- | row is a rule, not a row of
 * text), the same height with or without that row, and one too wide for its panel made
 * smaller to fit inside it. */
/* A scene with every shape the software renderer's shortcuts draw: fills narrower than 16
 * pixels, between 16 and 256, wider (at odd offsets), translucent ones, thick horizontal and
 * vertical lines, plot lines, heatmaps with hatched cells and a colour bar written as pixels
 * straight into the surface, one cut by a clip rectangle (written into the cells texture and
 * copied), text, and notes. */
static void draw_scene(void)
{
    viz_begin(&v);
    VizRect in = viz_panel(&v, (VizRect){3, 2, 391, 290}, "every path", NULL);
    viz_fill(&v, (VizRect){in.x + 1, in.y + 3, 9, 7}, VIZ_ACCENT[0]);
    viz_fill(&v, (VizRect){in.x + 13, in.y + 3, 37, 7}, VIZ_ACCENT[1]);
    viz_fill(&v, (VizRect){in.x + 5, in.y + 12, 301, 5}, VIZ_ACCENT[2]);
    viz_fill(&v, (VizRect){in.x + 20, in.y + 8, 60, 20}, (VizColor){200, 30, 30, 120});
    viz_line(&v, in.x + 100, in.y + 30, in.x + 180, in.y + 30, VIZ_ACCENT[3]);
    float data[12 * 12];
    unsigned char hatch[12 * 12];
    for (int i = 0; i < 12 * 12; i++) {
        data[i] = (float)((i * 37) % 101) / 100.0f;
        hatch[i] = i % 12 > i / 12; /* a causal mask */
    }
    VizHeatmap h = {data, 12, 12, 0, 1, CMAP_VIRIDIS, NULL, NULL, "p", true, hatch};
    viz_heatmap(&v, (VizRect){in.x + 2, in.y + 40, 150, 130}, &h, NULL, NULL);
    viz_clip(&v, &(VizRect){in.x + 170, in.y + 60, 90, 70});
    h.colorbar = false;
    h.cmap = CMAP_DIVERGING;
    viz_heatmap(&v, (VizRect){in.x + 160, in.y + 40, 120, 120}, &h, NULL, NULL);
    viz_clip(&v, NULL);
    float y[40];
    for (int i = 0; i < 40; i++) y[i] = 3.0f + sinf((float)i / 4.0f);
    VizPlot p = loss_plot(y, 40, 3.5f);
    viz_lineplot(&v, (VizRect){in.x + 2, in.y + 175, 200, 100}, &p);
    const char *labels[3] = {"whale", "ship", "sea"};
    float vals[3] = {0.5f, 0.25f, 0.125f};
    viz_bars(&v, (VizRect){in.x + 290, in.y + 40, 90, 60}, labels, vals, 3, VIZ_ACCENT[2], "%.2f");
    int scroll = 0;
    viz_markdown(&v, (VizRect){in.x + 210, in.y + 175, 170, 100},
                 "# Notes\n\nThe **mask** hides a token; the model *guesses* it.\n\n- one\n- two\n", &scroll);
    viz_end(&v);
}

/* SDL's software renderer is drawn with shortcuts of viz's own (fills split at cache lines or
 * written as pixels, heatmaps written as pixels, opaque batches unblended, text copied by its
 * ink only): every one must give exactly the pixels of the general path, which queues shapes
 * as triangles for any renderer. The scene twice, once each way, pixel for pixel; then once
 * more the fast way, its widths and note heights now from the caches. */
static void test_software_shortcuts_same_pixels(void **state)
{
    (void)state;
    assert_true(v.soft); /* an offscreen surface is drawn by SDL's software renderer */
    size_t bytes = (size_t)v.surface->pitch * v.h;
    uint32_t *fast = malloc(bytes), *general = malloc(bytes);
    assert_non_null(fast);
    assert_non_null(general);
    draw_scene();
    memcpy(fast, v.surface->pixels, bytes);
    v.soft = false;
    draw_scene();
    memcpy(general, v.surface->pixels, bytes);
    v.soft = true;
    int differ = 0, first = -1;
    for (size_t i = 0; i < bytes / 4; i++)
        if (fast[i] != general[i]) {
            differ++;
            if (first < 0) first = (int)i;
        }
    if (differ)
        print_message("%d pixels differ, the first at %d,%d\n", differ, first % (v.surface->pitch / 4),
                      first / (v.surface->pitch / 4));
    assert_int_equal(differ, 0);
    draw_scene(); /* cached widths and note heights */
    assert_memory_equal(v.surface->pixels, fast, bytes);
    free(fast);
    free(general);
}

/* Widths come from a cache (viz_text_width): more strings than it holds, measured in one
 * order and then again in another, give what SDL_ttf gives for each (a slot's text compared,
 * not only its hash; an evicted width measured anew). */
static void test_text_width_cache(void **state)
{
    (void)state;
    enum { N = VIZ_WIDTH_CACHE + 500 };
    static int first[N];
    char s[32];
    for (int i = 0; i < N; i++) {
        snprintf(s, sizeof s, "w%d%s", i, i % 3 ? "mm" : "i");
        first[i] = viz_text_width(&v, s, FONT_SANS, 12);
        assert_true(first[i] > 0);
    }
    for (int i = N - 1; i >= 0; i -= 7) {
        snprintf(s, sizeof s, "w%d%s", i, i % 3 ? "mm" : "i");
        assert_int_equal(viz_text_width(&v, s, FONT_SANS, 12), first[i]);
        assert_int_equal(viz_text_width(&v, s, FONT_MONO, 12), (int)strlen(s) * viz_text_width(&v, "m", FONT_MONO, 12));
    }
    /* the same string at another size or face is another width */
    assert_true(viz_text_width(&v, "whale", FONT_SANS, 24) > viz_text_width(&v, "whale", FONT_SANS, 12));
    assert_true(viz_text_width(&v, "iiii", FONT_MONO, 12) > viz_text_width(&v, "iiii", FONT_SANS, 12));
}

/* The text cache's pixels stay within its budget however many different strings are drawn
 * (a frame each, as numbers that change every step are), its count of bytes is the sum of
 * its textures', and a frame's own strings stay cached even past the budget. */
static size_t cached_bytes(void)
{
    size_t b = 0;
    for (int i = 0; i < VIZ_TEXT_CACHE; i++)
        if (v.cache[i].tex) b += (size_t)v.cache[i].w * v.cache[i].h * 4;
    return b;
}

static void test_text_cache_budget(void **state)
{
    (void)state;
    size_t budget = viz_text_budget(&v), most = 0;
    assert_true(budget >= (size_t)8 << 20);
    char s[64];
    for (int i = 0; i < 900; i++) { /* ~100 KB a string at 40 points: 90 MB unbounded */
        viz_begin(&v);
        snprintf(s, sizeof s, "step %d: loss %.4f", i, 1.0 / (i + 1));
        viz_text(&v, 0, 0, s, FONT_SANS, 40, VIZ_TEXT, ALIGN_LEFT);
        assert_int_equal(v.text_bytes, cached_bytes());
        most = cached_bytes() > most ? cached_bytes() : most;
        viz_end(&v);
    }
    assert_true(most <= budget);
    assert_true(most > budget / 2); /* it does fill up to it: strings are kept, not dropped at once */
    /* one frame with more than the budget: all of its strings stay while it is drawn */
    viz_begin(&v);
    int n = 0;
    size_t frame = 0;
    while (frame <= budget + (budget >> 2)) {
        snprintf(s, sizeof s, "frame string %d with some width", n++);
        frame += (size_t)viz_text_width(&v, s, FONT_SANS, 40) * viz_text_height(&v, FONT_SANS, 40) * 4;
        viz_text(&v, 0, 0, s, FONT_SANS, 40, VIZ_TEXT, ALIGN_LEFT);
    }
    assert_true(v.text_bytes > budget);
    unsigned kept = 0;
    for (int i = 0; i < VIZ_TEXT_CACHE; i++) kept += v.cache[i].tex && v.cache[i].last_frame == v.frame;
    assert_int_equal(kept, n);
    viz_end(&v);
    viz_begin(&v); /* the next frame's first new string trims back to the budget */
    viz_text(&v, 0, 0, "after", FONT_SANS, 12, VIZ_TEXT, ALIGN_LEFT);
    assert_true(v.text_bytes <= budget);
    assert_int_equal(v.text_bytes, cached_bytes());
    viz_end(&v);
}

static int md_height(const char *md, VizRect r)
{
    int scroll = 1 << 20;   /* clamped to what the text needs beyond the panel */
    viz_begin(&v);
    viz_markdown(&v, r, md, &scroll);
    return scroll + r.h;
}

/* Note heights are remembered by text, width and scale (viz_markdown): the same buffer with
 * other text in it, or the same text at another width, is measured anew. */
static void test_markdown_height_cache(void **state)
{
    (void)state;
    char md[512] = "A whale.\n";
    VizRect r = {10, 10, 200, 60};
    int one = md_height(md, r);
    strcat(md, "\nA ship, and the sea around it, and the long voyage of the Pequod.\n\n- one\n- two\n");
    int more = md_height(md, r);
    assert_true(more > one);
    assert_int_equal(md_height(md, r), more);
    r.w = 90;
    assert_true(md_height(md, r) > more);
    r.w = 200;
    assert_int_equal(md_height(md, r), more);
}

static void test_markdown_table(void **state)
{
    (void)state;
    VizRect tiny = {20, 20, 400, 10};
    const char *with = "| labels | finetune | scratch |\n| --- | --- | --- |\n| 16 | 63.5% | 68.3% |\n| 64 | 67.7% | 77.4% |\n";
    const char *without = "| labels | finetune | scratch |\n| 16 | 63.5% | 68.3% |\n| 64 | 67.7% | 77.4% |\n";
    const char *one = "| labels | finetune | scratch |\n";
    int h3 = md_height(without, tiny), h1 = md_height(one, tiny);
    assert_int_equal(md_height(with, tiny), h3);
    assert_true(h3 > h1 && h3 - h1 >= 2 * viz_text_height(&v, FONT_SANS, 8));   /* two more rows */
    /* no cell starts with "|": the pipes are not drawn (a row's ink is its cells' ink) */
    VizRect r = {20, 20, 400, 200};
    viz_begin(&v);
    viz_markdown(&v, r, with, NULL);
    assert_only_inside(r);
    assert_true(ink_in(r) > 200);
    const char *wide = "| a very long first column heading | and a second one just as long | and a third |\n"
                       "| some text in the first cell | more text in the second | 123456789 |\n";
    VizRect narrow = {20, 20, 220, 100};
    viz_begin(&v);
    viz_markdown(&v, narrow, wide, NULL);
    assert_only_inside(narrow);
    assert_true(ink_in((VizRect){narrow.x + narrow.w * 3 / 4, narrow.y, narrow.w / 4, narrow.h}) > 0);   /* the last column is there */
}

/* The Korean notes of the mlm lesson, in a panel: drawn, and only inside it. */
static void test_korean_notes_panel(void **state)
{
    (void)state;
    SKIP_WITHOUT_HANGUL_FONT();
    FILE *f = fopen(FMLAB_ASSETS "/../lessons/mlm/notes.ko.md", "rb");
    assert_non_null(f);
    static char md[65536];
    size_t n = fread(md, 1, sizeof md - 1, f);
    fclose(f);
    md[n] = 0;
    VizRect r = {30, 30, 260, 240};
    int scroll = 0;
    viz_begin(&v);
    viz_markdown(&v, r, md, &scroll);
    assert_only_inside(r);
    assert_true(ink_in(r) > 2000);
    /* scrolled to the end (clamped by the panel), still only inside */
    scroll = 1 << 20;
    viz_begin(&v);
    viz_markdown(&v, r, md, &scroll);
    assert_true(scroll > 0 && scroll < (1 << 20));
    assert_only_inside(r);
    /* a Korean token strip, tooltip-free, and a Korean rotated y label stay inside too */
    const char *toks[3] = {"\xEC\x86\x90\xEC\x8B\xA4", "loss", "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4"};
    VizColor fills[3] = {VIZ_GRID, VIZ_GRID, VIZ_ACCENT[0]};
    VizRect tr = {10, 10, 380, 60};
    viz_begin(&v);
    assert_true(viz_tokens(&v, tr, toks, fills, 3, 11, NULL) == viz_tokens_height(&v, tr.w, toks, 3, 11));
    assert_only_inside(tr);
    float y[20];
    for (int i = 0; i < 20; i++) y[i] = 1.0f / (i + 1);
    VizPlot p = {0};
    p.xlabel = "\xEB\x8B\xA8\xEA\xB3\x84";  /* 단계 */
    p.ylabel = "\xEC\x86\x90\xEC\x8B\xA4";  /* 손실 */
    p.series[0] = (VizSeries){.name = "\xED\x95\x99\xEC\x8A\xB5", .y = y, .n = 20, .color = VIZ_ACCENT[1]};
    p.nseries = 1;
    p.hline[0] = p.hline[1] = NAN;
    VizRect pr = {30, 40, 300, 180};
    viz_begin(&v);
    viz_lineplot(&v, pr, &p);
    assert_only_inside(pr);
}

static void test_png_roundtrip(void **state)
{
    (void)state;
    viz_begin(&v);
    viz_fill(&v, (VizRect){5, 5, 10, 10}, VIZ_ACCENT[5]);
    viz_end(&v);
    char path[] = "/tmp/fmlab_viz_XXXXXX.png";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    char err[256];
    assert_int_equal(viz_save_png(&v, path, err, sizeof err), 0);
    SDL_Surface *s = IMG_Load(path);
    assert_non_null(s);
    SDL_Surface *c = SDL_ConvertSurfaceFormat(s, SDL_PIXELFORMAT_ARGB8888, 0);
    uint32_t p = ((uint32_t *)c->pixels)[7 * (c->pitch / 4) + 7];
    assert_true(near((VizColor){(unsigned char)(p >> 16), (unsigned char)(p >> 8), (unsigned char)p, 255}, VIZ_ACCENT[5], 0));
    assert_int_equal(c->w, v.w);
    SDL_FreeSurface(c);
    SDL_FreeSurface(s);
    remove(path);
    assert_int_equal(viz_save_png(&v, "/nonexistent/dir/x.png", err, sizeof err), -1);
}

static int setup(void **state)
{
    (void)state;
    char err[256];
    if (viz_open_offscreen(&v, 400, 300, 1.0f, FMLAB_ASSETS, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    viz_close(&v);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_colormaps),
        cmocka_unit_test(test_heatmap_cells),
        cmocka_unit_test(test_heatmap_more_cells_than_pixels),
        cmocka_unit_test(test_long_tooltip_wraps),
        cmocka_unit_test(test_heatmap_labels_and_colorbar),
        cmocka_unit_test(test_lineplot_and_bars_stay_inside),
        cmocka_unit_test(test_tokens_and_text),
        cmocka_unit_test(test_lineplot_stride),
        cmocka_unit_test(test_lineplot_sparse_not_smoothed),
        cmocka_unit_test(test_bars_grouped),
        cmocka_unit_test(test_bars_grouped_range),
        cmocka_unit_test(test_batched_shapes_exact),
        cmocka_unit_test(test_software_shortcuts_same_pixels),
        cmocka_unit_test(test_text_width_cache),
        cmocka_unit_test(test_text_cache_budget),
        cmocka_unit_test(test_layout_cuts),
        cmocka_unit_test(test_layout_split),
        cmocka_unit_test(test_create_renderer),
        cmocka_unit_test(test_png_roundtrip),
        cmocka_unit_test(test_hangul_glyphs),
        cmocka_unit_test(test_hangul_mixed_width_and_baseline),
        cmocka_unit_test(test_hangul_markdown_wraps),
        cmocka_unit_test(test_markdown_table),
        cmocka_unit_test(test_markdown_height_cache),
        cmocka_unit_test(test_korean_notes_panel),
    };
    return cmocka_run_group_tests_name("viz", tests, setup, teardown);
}
