/* stack.c — the loss, part by part (view.h): each loss part times the weight it had at every
 * step, stacked over the run, and the sum written out for the batch on screen. For the lessons
 * whose total weighs several parts (distil: alpha_ce·ce + alpha_mlm·mlm + alpha_cos·cos;
 * electra: mlm + rtd_weight·rtd). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lessons/common/view.h"

/* the weight of part k: its metrics column at step r, or 1 without one */
static double weight_at(const KitSnap *s, long r, int wcol) { return wcol < 0 ? 1 : s->metrics[r * s->ncols + wcol]; }

/* the mean over steps r0..r1-1 of one part times the weight it had at each step */
static double weighted(const KitSnap *s, long r0, long r1, int col, int wcol)
{
    double a = 0;
    long n = 0;
    for (long r = r0; r < r1 && r < s->rows; r++, n++) a += (double)s->metrics[r * s->ncols + col] * weight_at(s, r, wcol);
    return n ? a / (double)n : 0;
}

static void stack_draw(Viz *v, VizRect c, const KitFrame *f, const KitStack *st)
{
    const KitSnap *s = f->s;
    int n = st->n < KIT_MAX_PARTS ? st->n : KIT_MAX_PARTS;
    int col[KIT_MAX_PARTS], wcol[KIT_MAX_PARTS], gap = viz_px(v, 4), lh = viz_text_height(v, FONT_SANS, 10);
    double now[KIT_MAX_PARTS], sum_now = 0;
    bool have = true;
    for (int k = 0; k < n; k++) {
        col[k] = kit_metric_col(s, st->parts[k]);
        wcol[k] = st->weights[k] ? kit_metric_col(s, st->weights[k]) : -1; /* the weight in effect at each step */
        now[k] = st->weights[k] ? kit_snap_value(s, st->weights[k]) : 1;
        sum_now += now[k];
        have = have && col[k] >= 0 && (!st->weights[k] || wcol[k] >= 0);
    }
    /* this batch: total = the sum of the weighted parts */
    char sum[300];
    int len = snprintf(sum, sizeof sum, "This batch: total %.3f =", (double)s->loss);
    for (int k = 0; k < n && len > 0 && (size_t)len < sizeof sum; k++)
        len += snprintf(sum + len, sizeof sum - (size_t)len, "%s %g × %s %.3f", k ? " +" : "", now[k], st->parts[k],
                        (double)s->parts[k]);
    int y = c.y;
    if (s->have_forward) y += viz_text_wrap(v, c.x, y, c.w, sum, FONT_MONO, 9, VIZ_TEXT);
    else y += viz_text_wrap(v, c.x, y, c.w, "Press Space to train one step.", FONT_SANS, 11, VIZ_DIM);
    char names[KIT_MAX_PARTS][64];
    const char *lnames[KIT_MAX_PARTS];
    for (int k = 0; k < n; k++) {
        snprintf(names[k], sizeof names[k], "%g × %s", now[k], st->parts[k]);
        lnames[k] = names[k];
    }
    y += viz_legend(v, c.x, y, c.w, lnames, st->colors, n) + gap;
    if (sum_now <= 0)
        y += viz_text_wrap(v, c.x, y, c.w, "Every weight is 0: the loss is 0 and nothing is learned.", FONT_SANS, 9,
                           (VizColor){240, 228, 66, 255});
    /* the stack over the steps: one column of pixels per bucket of steps */
    long rows = s->rows;
    int axis_w = viz_text_width(v, "00.0", FONT_SANS, 9) + viz_px(v, 6);
    VizRect plot = {c.x + axis_w, y + lh / 2, c.w - axis_w - viz_px(v, 4), c.y + c.h - y - lh / 2 - 2 * lh};
    if (rows < 1 || plot.h < 2 * lh || plot.w < 20 || !have) {
        if (rows >= 1) kit_more_hint(v, c, y, f, "the parts over the steps");
        return;
    }
    double top = 0;
    int W = plot.w;
    for (int x = 0; x < W; x++) {
        long r0 = rows * x / W, r1 = rows * (x + 1) / W;
        if (r1 <= r0) r1 = r0 + 1;
        double tot = 0;
        for (int k = 0; k < n; k++) tot += weighted(s, r0, r1, col[k], wcol[k]);
        top = fmax(top, tot);
    }
    if (!(top > 0)) top = 1;
    /* ticks at 1, 2 or 5 times a power of ten, at most 4 of them */
    double nice = pow(10, floor(log10(top / 4)));
    if (top / nice > 4) nice *= 2;
    if (top / nice > 4) nice *= 2.5;
    if (top / nice > 4) nice *= 2;
    double ymax = ceil(top / nice) * nice;
    for (double t = 0; t <= ymax + 1e-9; t += nice) {
        int ty = plot.y + plot.h - (int)(plot.h * t / ymax);
        char lab[16];
        snprintf(lab, sizeof lab, "%g", t);
        viz_line(v, plot.x, ty, plot.x + plot.w - 1, ty, (VizColor){52, 56, 68, 255});
        viz_text(v, plot.x - viz_px(v, 4), ty - lh / 2, lab, FONT_SANS, 9, VIZ_DIM, ALIGN_RIGHT);
    }
    int hx = -1;
    if (viz_hover(v, plot)) hx = v->mouse_x - plot.x;
    for (int x = 0; x < W; x++) {
        long r0 = rows * x / W, r1 = rows * (x + 1) / W;
        if (r1 <= r0) {
            if (rows >= W) continue;
            r1 = r0 + 1;
        }
        if (rows < W && r0 != rows * x / W) continue;
        double base = 0;
        for (int k = 0; k < n; k++) {
            double a = weighted(s, r0, r1, col[k], wcol[k]);
            int yb = plot.y + plot.h - (int)(plot.h * base / ymax), yt = plot.y + plot.h - (int)(plot.h * (base + a) / ymax);
            /* with fewer steps than pixels a step is a bar as wide as its share */
            int x1 = rows < W ? (int)(W * (r0 + 1) / rows) : x + 1;
            viz_fill(v, (VizRect){plot.x + x, yt, x1 - x > 1 ? x1 - x - (rows < W / 4 ? 1 : 0) : 1, yb - yt}, st->colors[k]);
            base += a;
        }
    }
    if (hx >= 0) { /* that step's parts, with the weights it had */
        long r = rows * hx / W;
        if (r >= rows) r = rows - 1;
        const float *row = s->metrics + r * s->ncols;
        char tip[300];
        int t = snprintf(tip, sizeof tip, "step %ld:", r + 1);
        for (int k = 0; k < n && t > 0 && (size_t)t < sizeof tip; k++)
            t += snprintf(tip + t, sizeof tip - (size_t)t, "%s %g × %s %.3f", k ? " +" : "", weight_at(s, r, wcol[k]),
                          st->parts[k], (double)row[col[k]]);
        if (t > 0 && (size_t)t < sizeof tip) snprintf(tip + t, sizeof tip - (size_t)t, " = %.3f", (double)row[0]);
        viz_tooltip(v, "%s", tip);
    }
    char xl[64];
    viz_text(v, plot.x, plot.y + plot.h + viz_px(v, 2), "1", FONT_SANS, 9, VIZ_DIM, ALIGN_LEFT);
    snprintf(xl, sizeof xl, "%ld", rows);
    if (rows > 1) viz_text(v, plot.x + plot.w, plot.y + plot.h + viz_px(v, 2), xl, FONT_SANS, 9, VIZ_DIM, ALIGN_RIGHT);
    viz_text(v, plot.x + plot.w / 2, plot.y + plot.h + viz_px(v, 2), "step (y: nats, each part × its weight)", FONT_SANS, 9,
             VIZ_DIM, ALIGN_CENTER);
}

void kit_stack_panel(Viz *v, VizRect c, const KitFrame *f, const KitStack *st)
{
    float keep = v->scale;
    if (c.h > viz_px(v, 520) && c.w > viz_px(v, 700)) v->scale *= 1.3f; /* room to spare: read from further away */
    stack_draw(v, c, f, st);
    v->scale = keep;
}
