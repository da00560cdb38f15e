/* test_viz.c — the widgets drawn offscreen, checked pixel by pixel: heatmap cells carry the
 * colormap's colour for their value, nothing is drawn outside a widget's rectangle, token
 * boxes carry their fills, text puts ink where it says, colormaps hit their published end
 * points, the text cache does not grow for repeated strings, and PNGs round-trip. */
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
    assert_true(near(pixel(41 + 49 + 5, 31 + 24), (VizColor){48, 48, 56, 255}, 0));
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

static void test_lineplot_and_bars_stay_inside(void **state)
{
    (void)state;
    viz_begin(&v);
    float y[50];
    for (int i = 0; i < 50; i++) y[i] = 7.0f * expf(-i / 10.0f) + (i == 20 ? 100.0f : 0.0f);
    VizPlot p = {0};
    p.xlabel = "step";
    p.ylabel = "loss";
    p.series[0] = (VizSeries){"train", y, 50, VIZ_ACCENT[1], false, false};
    p.nseries = 1;
    p.hline[0] = 3;
    p.hline_name[0] = "unigram";
    p.hline_color[0] = VIZ_ACCENT[7];
    p.hline[1] = NAN;
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
        cmocka_unit_test(test_heatmap_labels_and_colorbar),
        cmocka_unit_test(test_lineplot_and_bars_stay_inside),
        cmocka_unit_test(test_tokens_and_text),
        cmocka_unit_test(test_png_roundtrip),
    };
    return cmocka_run_group_tests_name("viz", tests, setup, teardown);
}
