/* test_layout.c — where the dashboard puts its panels (lessons/common/layout.c), as numbers:
 * for window sizes from a small laptop to a projector and text scales from 1 to 3, every
 * panel that can be shown is on screen or a key away, nothing overlaps, nothing leaves the
 * body between the header and the footer, and each panel keeps a readable size. And the text
 * blocks panels draw inside them (lines.c): a line is drawn whole or not at all. */
#include "testutil.h"

#include <string.h>

#include "lessons/common/layout.h"
#include "lessons/common/view.h"

/* fmlab-mlm's dashboard: three panels of its own (the last a probe), two curves */
static const float weights[3] = {47, 31, 30};
enum { NLESSON = 3, NCURVES = 2, NOTES = NLESSON + 3 + NCURVES, PROBE_HIDDEN = 1u << 2 };

static KitLayoutSpec spec_for(int w, int h, float scale, int page, unsigned hidden, int *tab_w)
{
    for (int i = 0; i < KIT_MAX_PANELS; i++) tab_w[i] = (int)(110 * scale); /* "Word order" at 11 pt */
    int line = (int)(15 * scale);
    return (KitLayoutSpec){.w = w, .h = h, .scale = scale, .head_h = (int)(31 * scale), .foot_h = line + (int)(6 * scale),
                           .gap = (int)(6 * scale), .nlesson = NLESSON, .weight = weights, .hidden = hidden,
                           .ncurves = NCURVES, .page = page, .tab_w = tab_w, .tab_h = line + (int)(8 * scale)};
}

static bool overlap(VizRect a, VizRect b)
{
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/* Everything placed lies in the body, has a size, overlaps nothing else, and is readable:
 * at least 120 × 90 design pixels (a plot with its axes at the smallest). */
static void assert_sound(const KitLayoutSpec *s, const KitLayout *l)
{
    VizRect all[2 * KIT_MAX_PANELS];
    int n = 0;
    for (int i = 0; i < l->n; i++) all[n++] = l->rect[i];
    for (int i = 0; i < l->ntabs; i++) all[n++] = l->tab[i];
    int top = s->head_h, bottom = s->h - s->foot_h;
    for (int i = 0; i < n; i++) {
        VizRect r = all[i];
        assert_true(r.w > 0 && r.h > 0);
        assert_true(r.x >= 0 && r.x + r.w <= s->w);
        assert_true(r.y >= top && r.y + r.h <= bottom);
        for (int j = 0; j < i; j++) assert_false(overlap(r, all[j]));
    }
    for (int i = 0; i < l->n; i++) {
        if (l->rect[i].w < 120 * s->scale || l->rect[i].h < 90 * s->scale)
            print_message("%dx%d scale %.2f mode %d: panel %d is %dx%d\n", s->w, s->h, (double)s->scale, l->mode, l->id[i],
                          l->rect[i].w, l->rect[i].h);
        assert_true(l->rect[i].w >= 120 * s->scale);
        assert_true(l->rect[i].h >= 90 * s->scale);
    }
}

static bool placed(const KitLayout *l, int id)
{
    for (int i = 0; i < l->n; i++)
        if (l->id[i] == id) return true;
    return false;
}

static bool has_tab(const KitLayout *l, int id)
{
    for (int i = 0; i < l->ntabs; i++)
        if (l->tab_id[i] == id) return true;
    return false;
}

static bool has_page(const KitLayout *l, int id)
{
    for (int i = 0; i < l->npages; i++)
        if (l->page_id[i] == id) return true;
    return false;
}

static void test_layout_modes(void **state)
{
    (void)state;
    assert_int_equal(kit_layout_mode(1280, 800, 1), KIT_LAYOUT_WIDE);
    assert_int_equal(kit_layout_mode(1920, 1080, 1.35f), KIT_LAYOUT_WIDE);   /* 1920x1080 at 1 */
    assert_int_equal(kit_layout_mode(1280, 800, 1.5f), KIT_LAYOUT_COMPACT);
    assert_int_equal(kit_layout_mode(1024, 640, 1), KIT_LAYOUT_COMPACT);
    assert_int_equal(kit_layout_mode(1280, 800, 2), KIT_LAYOUT_PAGED);
    assert_int_equal(kit_layout_mode(1280, 800, 3), KIT_LAYOUT_PAGED);
    assert_int_equal(kit_layout_mode(1920, 1080, 2.7f), KIT_LAYOUT_PAGED);    /* 1920x1080 at 2 */
    assert_int_equal(kit_layout_mode(1280, 800, 0), KIT_LAYOUT_WIDE);         /* no scale: 1 */
}

/* Every size and scale, the probe hidden and shown, every page: sound, and every panel that
 * can be shown is on screen, or on a tab (paged), or behind O (the notes, compact). */
static void test_layout_every_size(void **state)
{
    (void)state;
    static const int sizes[][2] = {{1024, 640}, {1280, 720}, {1280, 800}, {1366, 768}, {1600, 900}, {1920, 1080},
                                   {2560, 1440}, {3840, 2160}};
    static const float scales[] = {1, 1.25f, 1.5f, 2, 2.5f, 3};
    int tab_w[KIT_MAX_PANELS], checked[3] = {0};
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++)
        for (size_t b = 0; b < sizeof scales / sizeof *scales; b++)
            for (int probe = 0; probe < 2; probe++)
                for (int page = 0; page <= NOTES; page++) {
                    /* a display's scale grows with its size, as the window's does */
                    float fit = (float)sizes[a][0] / 1280 < (float)sizes[a][1] / 800 ? (float)sizes[a][0] / 1280
                                                                                     : (float)sizes[a][1] / 800;
                    float scale = scales[b] * (fit > 1 ? fit : 1);
                    unsigned hidden = probe ? 0 : PROBE_HIDDEN;
                    KitLayoutSpec s = spec_for(sizes[a][0], sizes[a][1], scale, page, hidden, tab_w);
                    KitLayout l;
                    kit_layout(&s, &l);
                    assert_sound(&s, &l);
                    checked[l.mode]++;
                    for (int id = 1; id <= NOTES; id++) {
                        bool can = !(id == 3 && !probe);
                        if (l.mode == KIT_LAYOUT_WIDE) assert_int_equal(placed(&l, id), can);
                        else if (l.mode == KIT_LAYOUT_COMPACT) assert_int_equal(placed(&l, id), can && id != NOTES);
                        else {
                            assert_int_equal(has_page(&l, id), can);
                            assert_int_equal(placed(&l, id), id == l.page);
                            if (id == l.page) assert_true(has_tab(&l, id));
                        }
                    }
                    if (l.mode == KIT_LAYOUT_PAGED) { /* the page asked for, if it can be shown */
                        assert_int_equal(l.n, 1);
                        assert_int_equal(l.page, page >= 1 && !(page == 3 && !probe) ? page : 1);
                    }
                }
    assert_true(checked[KIT_LAYOUT_WIDE] && checked[KIT_LAYOUT_COMPACT] && checked[KIT_LAYOUT_PAGED]);
}

/* Z and O: one panel on the whole body; the probe, when hidden, cannot be zoomed. */
static void test_layout_zoom(void **state)
{
    (void)state;
    int tab_w[KIT_MAX_PANELS];
    KitLayoutSpec s = spec_for(1280, 800, 2, 2, PROBE_HIDDEN, tab_w);
    KitLayout l;
    s.zoom = NOTES;
    kit_layout(&s, &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.id[0], NOTES);
    assert_int_equal(l.ntabs, 0);
    assert_int_equal(l.rect[0].y, s.head_h + s.gap);
    assert_int_equal(l.rect[0].y + l.rect[0].h, s.h - s.foot_h - s.gap);
    assert_int_equal(l.page, 2); /* the page stays for when Z goes back */
    assert_int_equal(kit_layout_turn(&l, 1), 2);
    s.zoom = 3; /* the hidden probe */
    kit_layout(&s, &l);
    assert_int_equal(l.mode, KIT_LAYOUT_PAGED);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.id[0], 2);
}

/* Z takes the panel at the mouse: the centre of each rectangle is its panel, the header, the
 * footer and the gaps none. */
static void test_layout_panel_at(void **state)
{
    (void)state;
    int tab_w[KIT_MAX_PANELS];
    KitLayoutSpec s = spec_for(1280, 800, 1, 0, PROBE_HIDDEN, tab_w);
    KitLayout l;
    kit_layout(&s, &l);
    assert_int_equal(l.mode, KIT_LAYOUT_WIDE);
    for (int i = 0; i < l.n; i++) {
        VizRect r = l.rect[i];
        assert_int_equal(kit_layout_panel_at(&l, r.x + r.w / 2, r.y + r.h / 2), l.id[i]);
        assert_int_equal(kit_layout_panel_at(&l, r.x, r.y), l.id[i]);
        assert_int_equal(kit_layout_panel_at(&l, r.x + r.w - 1, r.y + r.h - 1), l.id[i]);
    }
    assert_int_equal(kit_layout_panel_at(&l, 640, 5), 0);            /* header */
    assert_int_equal(kit_layout_panel_at(&l, 640, 800 - 3), 0);      /* footer */
    assert_int_equal(kit_layout_panel_at(&l, 2, 400), 0);            /* the gap at the edge */
    /* paged: the tabs are no panel, but a tab */
    s = spec_for(1280, 800, 2, 0, PROBE_HIDDEN, tab_w);
    kit_layout(&s, &l);
    VizRect t = l.tab[1];
    assert_int_equal(kit_layout_panel_at(&l, t.x + 1, t.y + 1), 0);
    assert_int_equal(kit_layout_tab_at(&l, t.x + 1, t.y + 1), l.tab_id[1]);
}

/* P turns through every panel that can be shown and comes back; Shift+P the other way. */
static void test_layout_turn_pages(void **state)
{
    (void)state;
    int tab_w[KIT_MAX_PANELS];
    for (int probe = 0; probe < 2; probe++) {
        KitLayoutSpec s = spec_for(1280, 800, 3, 0, probe ? 0 : PROBE_HIDDEN, tab_w);
        KitLayout l;
        kit_layout(&s, &l);
        int n = NOTES - !probe, seen = 0, page = l.page;
        assert_int_equal(l.npages, n);
        do {
            s.page = kit_layout_turn(&l, 1);
            assert_true(s.page != 3 || probe);
            kit_layout(&s, &l);
            assert_int_equal(l.page, s.page);
            seen++;
        } while (l.page != page && seen <= n);
        assert_int_equal(seen, n);
        s.page = kit_layout_turn(&l, -1);
        assert_int_equal(s.page, NOTES); /* before the first: the last */
    }
    /* not paged: P changes nothing */
    KitLayoutSpec s = spec_for(1280, 800, 1, 0, PROBE_HIDDEN, tab_w);
    KitLayout l;
    kit_layout(&s, &l);
    assert_int_equal(kit_layout_turn(&l, 1), 0);
}

/* KitLines: the lines that fit are drawn in order and the first that does not stops the
 * block (none is drawn cut: no ink below the rectangle); the heights add up; kit_count. */
static void test_lines(void **state)
{
    (void)state;
    Viz v;
    char err[256];
    if (viz_open_offscreen(&v, 400, 300, 1.0f, FMLAB_ASSETS, err, sizeof err)) fail_msg("%s", err);
    assert_string_equal(kit_count(109482240), "109,482,240");
    assert_string_equal(kit_count(-1000), "-1,000");
    assert_string_equal(kit_count(999), "999");
    KitLines l = {0};
    for (int i = 0; i < 20; i++) kit_lines_add(&l, i % 4 ? FONT_MONO : FONT_BOLD, VIZ_TEXT, "line %d of the block", i);
    assert_int_equal(l.n, 16);   /* at most 16: the rest are left out */
    int one = viz_text_wrap_height(&v, 380, "line 1 of the block", FONT_MONO, 10);
    int all = kit_lines_height(&v, 380, &l);
    assert_true(all >= 16 * one);
    VizRect c = {10, 10, 380, 5 * one + one / 2};   /* room for five lines and a half */
    viz_begin(&v);
    int y = c.y, drawn = kit_lines_draw(&v, c, &y, &l);
    viz_end(&v);
    assert_true(drawn >= 4 && drawn <= 5);
    assert_true(y <= c.y + c.h);
    /* nothing inked below the block's rectangle */
    SDL_Surface *s = v.surface;
    int ink = 0;
    for (int yy = c.y + c.h; yy < v.h; yy++)
        for (int x = 0; x < v.w; x++) {
            uint32_t p = ((uint32_t *)s->pixels)[yy * (s->pitch / 4) + x], bg = ((uint32_t *)s->pixels)[(v.h - 1) * (s->pitch / 4)];
            ink += p != bg;
        }
    assert_int_equal(ink, 0);
    /* a paragraph that does not fit is not drawn at all */
    y = c.y;
    viz_begin(&v);
    assert_false(kit_put(&v, (VizRect){10, 10, 60, one}, &y, "a sentence far too long for one short line", FONT_SANS, 10, VIZ_TEXT));
    viz_end(&v);
    assert_int_equal(y, c.y);
    viz_close(&v);
}

/* kit_draw_grown: a panel whose content is 100 px high at scale 1 (and grows with the
 * scale) is drawn 1.3 times larger in a rectangle of 200 px, 1.2 times in one of 125, and at
 * its own size in one of 105 and of 50; it is measured (draw false) before it is drawn once,
 * and the scale is v's own again afterwards. */
static float drawn_at;
static int measured, drawn;
static int grown_panel(Viz *v, VizRect c, const KitFrame *f, bool draw)
{
    (void)c, (void)f;
    if (draw) drawn++, drawn_at = v->scale;
    else measured++;
    return (int)(100 * v->scale + 0.5f);
}

static void test_draw_grown(void **state)
{
    (void)state;
    Viz v;
    char err[256];
    if (viz_open_offscreen(&v, 400, 300, 1.0f, FMLAB_ASSETS, err, sizeof err)) fail_msg("%s", err);
    KitUiState ui = {0};
    KitFrame f = {NULL, NULL, &ui};
    const int heights[4] = {200, 125, 105, 50};
    const float want[4] = {1.3f, 1.2f, 1.0f, 1.0f};
    for (int i = 0; i < 4; i++) {
        measured = drawn = 0;
        kit_draw_grown(&v, (VizRect){0, 0, 300, heights[i]}, &f, grown_panel);
        assert_int_equal(drawn, 1);
        assert_true(measured >= 1);
        assert_float_equal(drawn_at, want[i], 1e-5);
        assert_float_equal(v.scale, 1.0f, 0);
    }
    viz_close(&v);
}

/* The loss, part by part: 100 steps of two parts (a = 1, b = 2), a's weight 3 for the first
 * half and 0 after it, b's always 1 (no weight column). a's colour stands only over the first
 * half of the plot, b's over all of it, and a's
 * band (3 × 1) is 1.5 times b's (1 × 2). */
static void test_stack(void **state)
{
    (void)state;
    Viz v;
    char err[256];
    if (viz_open_offscreen(&v, 600, 400, 1.0f, FMLAB_ASSETS, err, sizeof err)) fail_msg("%s", err);
    enum { ROWS = 100, COLS = 4 };   /* loss, a, b, w_a */
    static float rows[ROWS * COLS];
    for (int r = 0; r < ROWS; r++) {
        float w = r < ROWS / 2 ? 3 : 0;
        rows[r * COLS + 0] = w * 1 + 2, rows[r * COLS + 1] = 1, rows[r * COLS + 2] = 2, rows[r * COLS + 3] = w;
    }
    Metrics names;
    const char *cols[COLS] = {"loss", "a", "b", "w_a"};
    metrics_init(&names, COLS, cols);
    static const KeyDef keys[] = {{"w_a", 3, 0, 10, false, "a's weight", NULL}};
    LessonInfo info = {"t", "test", "a test", keys, 1, 8, 1e-3f, NULL, NULL, NULL};
    KitSnap s = {.rows = ROWS, .ncols = COLS, .metrics = rows, .names = &names, .info = &info, .have_forward = true,
                 .loss = 2, .parts = {1, 2}};
    s.value[0] = 0; /* a's weight now */
    KitUiState ui = {0};
    KitFrame f = {&s, NULL, &ui};
    static const char *const parts[] = {"a", "b"}, *const weights[] = {"w_a", NULL};
    static const VizColor colors[] = {{0, 158, 115, 255}, {240, 228, 66, 255}};
    KitStack st = {2, parts, weights, colors};
    VizRect c = {0, 0, 600, 400};
    viz_begin(&v);
    kit_stack_panel(&v, c, &f, &st);
    viz_end(&v);
    SDL_Surface *sf = v.surface;
    /* the columns of each colour, and the tallest run of each */
    int first[2] = {-1, -1}, last[2] = {-1, -1}, tall[2] = {0, 0};
    for (int x = 0; x < v.w; x++)
        for (int k = 0; k < 2; k++) {
            int n = 0;
            for (int y = 40; y < v.h; y++) { /* below the sum and the legend's squares */
                uint32_t p = ((uint32_t *)sf->pixels)[y * (sf->pitch / 4) + x];
                uint8_t r, g, b;
                SDL_GetRGB(p, sf->format, &r, &g, &b);
                n += r == colors[k].r && g == colors[k].g && b == colors[k].b;
            }
            if (n > 20) {
                if (first[k] < 0) first[k] = x;
                last[k] = x;
                tall[k] = n > tall[k] ? n : tall[k];
            }
        }
    print_message("a: x %d..%d, %d px; b: x %d..%d, %d px\n", first[0], last[0], tall[0], first[1], last[1], tall[1]);
    assert_true(first[0] >= 0 && first[1] >= 0);
    assert_true(abs(first[0] - first[1]) <= 2);                        /* both from step 1 */
    int mid = first[1] + (last[1] - first[1]) / 2;
    assert_true(abs(last[0] - mid) <= 4);                             /* a ends halfway, with its weight */
    assert_true(abs(2 * tall[0] - 3 * tall[1]) <= 4);                 /* 3 × 1 against 1 × 2 */
    viz_close(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_modes),
        cmocka_unit_test(test_layout_every_size),
        cmocka_unit_test(test_layout_zoom),
        cmocka_unit_test(test_layout_panel_at),
        cmocka_unit_test(test_layout_turn_pages),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_stack),
        cmocka_unit_test(test_draw_grown),
    };
    return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
