/* strips.c — aligned token rows (view.h): the same positions in several rows, column under
 * column, so that what happened to a token reads straight down (electra: the text, the
 * generator's input, the discriminator's input, P(replaced)). */
#include "lessons/common/view.h"

static int imax(int a, int b) { return a > b ? a : b; }

KitStripFit kit_strip_fit(Viz *v, int width, const KitStrip *rows, int nrows, int n, float size)
{
    KitStripFit k = {.size = size, .rh = viz_text_height(v, FONT_SANS, size) + viz_px(v, 3), .band = viz_px(v, 3),
                     .gap = viz_px(v, 4)};
    int wide[2] = {0, 0};
    for (int i = 0; i < nrows; i++)
        for (int j = 0; j < 2; j++) wide[j] = imax(wide[j], viz_text_width(v, rows[i].name[j], FONT_SANS, size));
    k.name = wide[0] > width / 5;
    k.lw = wide[k.name] + viz_px(v, 6);
    /* a column holds "0.87" and most of a word; a longer word ends in "…" (hover: whole) */
    int least = imax(viz_text_width(v, "0.00", FONT_SANS, size) + viz_px(v, 8), viz_px(v, 4.2f * size));
    for (k.blocks = 1;; k.blocks++) {
        k.per = (n + k.blocks - 1) / k.blocks;
        k.colw = (width - k.lw) / imax(k.per, 1);
        if (k.colw >= least || k.per <= 1) break;
    }
    k.blocks = (n + k.per - 1) / imax(k.per, 1);
    return k;
}

/* 9 points on a screen; under large text (a projector) a little smaller, which is still
   larger than that on the wall */
float kit_strip_smallest(const Viz *v) { return v->scale >= 1.4f ? 7 : v->scale >= 1.15f ? 8 : 9; }

int kit_strip_block_height(const KitStripFit *k, const KitStrip *rows, int nrows)
{
    int h = 0;
    for (int i = 0; i < nrows; i++) h += k->rh + (rows[i].band ? k->band : 0);
    return h;
}

VizColor kit_ink_on(VizColor c) { return 0.299f * c.r + 0.587f * c.g + 0.114f * c.b < 140 ? VIZ_TEXT : VIZ_BG; }

int kit_strip_draw(Viz *v, VizRect c, int *y, const KitStripFit *k, const KitStrip *rows, int nrows, int n, int pick,
                   VizColor pick_color, bool *all)
{
    int hover = -1, lh = viz_text_height(v, FONT_SANS, k->size), pad = viz_px(v, 2);
    int bh = kit_strip_block_height(k, rows, nrows);
    *all = true;
    for (int b = 0; b < k->blocks; b++) {
        if (*y + bh > c.y + c.h) {
            *all = false;
            break;
        }
        int y0 = *y;
        for (int i = 0; i < nrows; i++) {
            viz_text(v, c.x, *y + (k->rh - lh) / 2, rows[i].name[k->name], FONT_SANS, k->size, VIZ_DIM, ALIGN_LEFT);
            for (int j = 0, t = b * k->per; j < k->per && t < n; j++, t++) {
                VizRect r = {c.x + k->lw + j * k->colw + 1, *y + 1, k->colw - 2, k->rh - 2};
                viz_fill(v, r, rows[i].fill[t]);
                const char *txt = rows[i].text[t];
                VizColor ink = kit_ink_on(rows[i].fill[t]);
                if (viz_text_width(v, txt, FONT_SANS, k->size) <= r.w - 2 * pad)
                    viz_text(v, r.x + r.w / 2, r.y + (r.h - lh) / 2, txt, FONT_SANS, k->size, ink, ALIGN_CENTER);
                else viz_text_fit(v, r.x + pad, r.y + (r.h - lh) / 2, r.w - 2 * pad, txt, FONT_SANS, k->size, ink);
                if (rows[i].frame && rows[i].frame[t]) {
                    viz_frame(v, r, VIZ_TEXT);
                    viz_frame(v, (VizRect){r.x + 1, r.y + 1, r.w - 2, r.h - 2}, VIZ_TEXT);
                }
                if (rows[i].band && rows[i].band[t].a) viz_fill(v, (VizRect){r.x, *y + k->rh, r.w, k->band - 1}, rows[i].band[t]);
                if (viz_hover(v, (VizRect){r.x - 1, *y, k->colw, k->rh})) hover = t;
            }
            *y += k->rh + (rows[i].band ? k->band : 0);
        }
        if (pick >= b * k->per && pick < (b + 1) * k->per) {
            VizRect r = {c.x + k->lw + (pick - b * k->per) * k->colw, y0, k->colw, bh};
            viz_frame(v, r, pick_color);
            viz_frame(v, (VizRect){r.x - 1, r.y - 1, r.w + 2, r.h + 2}, pick_color);
        }
        *y += k->gap;
    }
    return hover;
}
