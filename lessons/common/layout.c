/* layout.c — the dashboard's rectangles for a window size, text scale and view state
 * (layout.h). Nothing here draws or measures text: the caller passes the heights of the
 * header, footer and tabs and the width of each tab, so the placement is tested as numbers. */
#include "lessons/common/layout.h"

/* Design pixels below which the columns no longer fit their content at a readable size:
   1280×800 at text scale 1 has three columns, at 1.5 (853×533) two, at 2 (640×400) one page */
#define WIDE_W 1150
#define WIDE_H 700
#define COMPACT_W 800
#define COMPACT_H 500

KitLayoutMode kit_layout_mode(int w, int h, float scale)
{
    float s = scale > 0 ? scale : 1, dw = (float)w / s, dh = (float)h / s;
    if (dw >= WIDE_W && dh >= WIDE_H) return KIT_LAYOUT_WIDE;
    if (dw >= COMPACT_W && dh >= COMPACT_H) return KIT_LAYOUT_COMPACT;
    return KIT_LAYOUT_PAGED;
}

static int total_panels(const KitLayoutSpec *s)
{
    int nc = s->ncurves < KIT_MAX_CURVES ? s->ncurves : KIT_MAX_CURVES;
    return kit_panel_notes(s->nlesson, nc);
}

/* Whether the panel can be shown at all: a hidden lesson panel (a probe not in use) cannot. */
static bool shown(const KitLayoutSpec *s, int id)
{
    if (id < 1 || id > total_panels(s)) return false;
    return id > s->nlesson || !(s->hidden & (1u << (id - 1)));
}

static void place(KitLayout *l, int id, VizRect r)
{
    if (l->n >= KIT_MAX_PANELS) return;
    l->id[l->n] = id;
    l->rect[l->n++] = r;
}

/* The lesson's panels stacked in a column by weight. */
static void lesson_column(const KitLayoutSpec *s, KitLayout *l, VizRect col)
{
    float w[KIT_MAX_LESSON_PANELS] = {0};
    int ids[KIT_MAX_LESSON_PANELS], n = 0;
    for (int i = 0; i < s->nlesson && n < KIT_MAX_LESSON_PANELS; i++)
        if (shown(s, i + 1)) {
            w[n] = s->weight ? s->weight[i] : 1;
            ids[n++] = i + 1;
        }
    VizRect rows[KIT_MAX_LESSON_PANELS];
    viz_split(col, false, w, NULL, n, s->gap, rows);
    for (int i = 0; i < n; i++) place(l, ids[i], rows[i]);
}

void kit_layout(const KitLayoutSpec *s, KitLayout *l)
{
    *l = (KitLayout){0};
    int g = s->gap, top = s->head_h + g;
    VizRect body = {g, top, s->w - 2 * g, s->h - s->foot_h - g - top};
    if (body.w < 0) body.w = 0;
    if (body.h < 0) body.h = 0;
    int nc = s->ncurves < KIT_MAX_CURVES ? s->ncurves : KIT_MAX_CURVES;
    int att = kit_panel_attention(s->nlesson), order = kit_panel_order(s->nlesson, nc),
        notes = kit_panel_notes(s->nlesson, nc);
    l->mode = kit_layout_mode(s->w, s->h, s->scale);
    l->page = s->page;
    if (shown(s, s->zoom)) {
        place(l, s->zoom, body);
        return;
    }
    if (l->mode == KIT_LAYOUT_WIDE) {
        VizRect cols[3];
        viz_split(body, true, (const float[]){39, 30, 31}, NULL, 3, g, cols);
        lesson_column(s, l, cols[0]);
        place(l, att, cols[1]);
        float w[KIT_MAX_CURVES + 2];
        VizRect rows[KIT_MAX_CURVES + 2];
        for (int i = 0; i <= nc; i++) w[i] = 23; /* the curves and the word order */
        w[nc + 1] = 31;                          /* the notes */
        viz_split(cols[2], false, w, NULL, nc + 2, g, rows);
        for (int i = 0; i < nc; i++) place(l, kit_panel_curve(s->nlesson, i), rows[i]);
        place(l, order, rows[nc]);
        place(l, notes, rows[nc + 1]);
    } else if (l->mode == KIT_LAYOUT_COMPACT) {
        VizRect cols[2];
        viz_split(body, true, NULL, NULL, 2, g, cols);
        lesson_column(s, l, cols[0]);
        VizRect right = cols[1];
        /* the curves and the word order side by side under the attention; four or more in
           two rows, since a curve narrower than a quarter of the column has no room to plot */
        int n = nc + 1, per_row = n >= 4 ? (n + 1) / 2 : n;
        place(l, att, viz_cut_top(&right, right.h * (n >= 4 ? 42 : 56) / 100, g));
        VizRect rows2[2], cv[KIT_MAX_CURVES + 1];
        int nrows = n >= 4 ? 2 : 1;
        viz_split(right, false, NULL, NULL, nrows, g, rows2);
        for (int rw = 0, i = 0; rw < nrows; rw++) {
            int k = rw == 0 ? per_row : n - per_row;
            viz_split(rows2[rw], true, NULL, NULL, k, g, cv + i);
            i += k;
        }
        for (int i = 0; i < nc; i++) place(l, kit_panel_curve(s->nlesson, i), cv[i]);
        place(l, order, cv[nc]);
    } else {
        /* the row of tabs, then the page under it */
        for (int id = 1; id <= notes; id++)
            if (shown(s, id)) l->page_id[l->npages++] = id;
        l->page = shown(s, s->page) ? s->page : l->npages ? l->page_id[0] : 0;
        int at = 0, w[KIT_MAX_PANELS];
        for (int i = 0; i < l->npages; i++) {
            if (l->page_id[i] == l->page) at = i;
            w[i] = s->tab_w ? s->tab_w[l->page_id[i] - 1] : body.w;
            if (w[i] > body.w) w[i] = body.w;
        }
        /* the page's tab, then its neighbours, next and previous in turn, while they fit */
        int first = at, last = at, used = w[at];
        for (bool grew = true; grew;) {
            grew = false;
            if (last + 1 < l->npages && used + g / 2 + w[last + 1] <= body.w) {
                used += g / 2 + w[++last];
                grew = true;
            }
            if (first > 0 && used + g / 2 + w[first - 1] <= body.w) {
                used += g / 2 + w[--first];
                grew = true;
            }
        }
        for (int i = first, x = body.x; i <= last && l->npages; i++) {
            l->tab_id[l->ntabs] = l->page_id[i];
            l->tab[l->ntabs++] = (VizRect){x, body.y, w[i], s->tab_h};
            x += w[i] + g / 2;
        }
        viz_cut_top(&body, s->tab_h, g);
        if (l->page) place(l, l->page, body);
    }
}

static bool inside(VizRect r, int x, int y) { return x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h; }

int kit_layout_panel_at(const KitLayout *l, int x, int y)
{
    for (int i = 0; i < l->n; i++)
        if (inside(l->rect[i], x, y)) return l->id[i];
    return 0;
}

int kit_layout_tab_at(const KitLayout *l, int x, int y)
{
    for (int i = 0; i < l->ntabs; i++)
        if (inside(l->tab[i], x, y)) return l->tab_id[i];
    return 0;
}

int kit_layout_turn(const KitLayout *l, int dir)
{
    if (l->mode != KIT_LAYOUT_PAGED || !l->npages) return l->page;
    int at = 0;
    for (int i = 0; i < l->npages; i++)
        if (l->page_id[i] == l->page) at = i;
    int k = ((at + dir) % l->npages + l->npages) % l->npages;
    return l->page_id[k];
}
