/* panels.c — fmlab-xlnet's own part of the dashboard (the kit draws the header, the attention
 * of the content stream, the query stream and the BERT with the forbidden cells hatched, the
 * curves, the notes and the help):
 *
 *   the order:    the focus window's tokens with each one's step in its factorization order
 *                 under it, the targets (the last steps of the order) coloured, what the BERT
 *                 beside it reads there; at step t (keys , and .) what predicting z_t may see;
 *                 a clicked token explained
 *   the masks:    the content and the query mask side by side, by position or in the order (V)
 *   the targets:  each target's token, both models' guesses and p(true) on the same position,
 *                 the paper's "New York" sum on this window, both top 5s at the target picked
 *   stored:       tests/bench/xlnet_finding's table (finding.csv) and this run's figures under it
 *   probe:        a sentence with [mask]s: XLNet fills them one after another, BERT all at once
 *
 * and its keys: , and . step back and on through the order, V the masks by position ⇄ in order. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer.h"
#include "lessons/common/view.h"
#include "lessons/xlnet/lesson.h"

#define MAXT 512
#define MAXM 128   /* the masks are drawn for windows of up to this many tokens */
static const VizColor PLAIN = {58, 62, 76, 255}, LATER_STEP = {44, 47, 58, 255};
#define C_XL VIZ_ACCENT[1]       /* the XLNet: sky blue, as on the curves */
#define C_BERT VIZ_ACCENT[5]     /* the BERT: vermillion */
#define C_FIRST VIZ_ACCENT[4]    /* the order's first target: it sees what the BERT sees */
#define C_LATER VIZ_ACCENT[2]    /* a later target: it also sees the targets before it */
#define C_MASK VIZ_ACCENT[0]     /* the BERT's input at a target, coloured as fmlab-mlm does */
#define C_RANDOM VIZ_ACCENT[6]
#define C_KEPT VIZ_ACCENT[1]
#define C_SEEN VIZ_ACCENT[3]     /* what step t sees */
#define C_NOW VIZ_TEXT           /* z_t itself: its content stream only */
#define C_PICK VIZ_ACCENT[3]

static int imin(int a, int b) { return a < b ? a : b; }

/* ------------------------------------------------------------------ snapshot ---- */

typedef struct XlSnap {
    int K;
    bool fw;                               /* the predictions are from a forward on this batch */
    int32_t *order, *rank, *bert_in;       /* (T) the order, its inverse, the BERT's input */
    int32_t *label;                        /* (K) the targets' tokens, in their order */
    int32_t *top[XL_MODELS];               /* (K, XL_TOPK) each model's most probable tokens */
    float *p[XL_MODELS];                   /* (K, XL_TOPK) */
    float *truth[XL_MODELS];               /* (K) the probability it gave the target's token */
} XlSnap;

static size_t snapshot_bind(void *blob, const KitSnap *s)
{
    size_t T = (size_t)s->T, size = sizeof(XlSnap) + 4 * T * (4 + XL_MODELS * (2 * XL_TOPK + 1));
    if (!blob) return size;
    XlSnap *w = blob;
    int32_t *p = (int32_t *)(w + 1);
    w->order = p, w->rank = p + T, w->bert_in = p + 2 * T, w->label = p + 3 * T;
    p += 4 * T;
    for (int i = 0; i < XL_MODELS; i++, p += T * (2 * XL_TOPK + 1)) {
        w->top[i] = p;
        w->p[i] = (float *)(p + T * XL_TOPK);
        w->truth[i] = (float *)(p + 2 * T * XL_TOPK);
    }
    return size;
}

/* The focus window's order and targets, and both models' top 5 at each target from the
 * logits of the last forward (still on the step's tape). */
static void snapshot_fill(void *blob, const Run *r, int focus)
{
    XlSnap *w = blob;
    const Xlnet *m = KIT_SELF(r, Xlnet);
    const XlnetBatch *b = &m->batch;
    size_t T = (size_t)r->T, o = (size_t)focus * T;
    int K = b->K;
    memcpy(w->order, b->order + o, T * 4);
    memcpy(w->rank, b->rank + o, T * 4);
    memcpy(w->bert_in, b->mlm_ids + o, T * 4);
    memcpy(w->label, b->labels + (size_t)focus * K, (size_t)K * 4);
    w->K = K;
    const Tensor *lg[XL_MODELS] = {m->pass.logits, m->pass.bert_logits};
    w->fw = r->have_forward && lg[0] && lg[1];
    for (int i = 0; i < XL_MODELS; i++)
        for (int k = 0; k < K; k++) {
            size_t row = (size_t)focus * K + k;
            if (!w->fw) {
                for (int j = 0; j < XL_TOPK; j++) w->top[i][k * XL_TOPK + j] = -1, w->p[i][k * XL_TOPK + j] = 0;
                w->truth[i][k] = NAN;
                continue;
            }
            int V = lg[i]->shape[lg[i]->ndim - 1];
            kit_top_k(lg[i]->data + row * V, V, 0, XL_TOPK, w->p[i] + k * XL_TOPK, w->top[i] + k * XL_TOPK);
            w->truth[i][k] = expf(-m->row_loss[i][row]);
        }
}

/* ------------------------------------------------------------------ helpers ---- */

/* the step of the order highlighted (order_step, within the window; 0: none) */
static int step_shown(const KitSnap *s)
{
    int t = (int)kit_snap_value(s, "order_step");
    return t < 0 ? 0 : t > s->T ? s->T : t;
}

static int picked(const KitFrame *f) { return f->ui->pick > 0 && f->ui->pick <= f->s->T ? f->ui->pick - 1 : -1; }

/* which target a position is, 0..K-1 in the order (the last K steps), or -1 */
static int target_of(const XlSnap *w, int T, int pos)
{
    int k = w->rank[pos] - (T - w->K);
    return k >= 0 ? k : -1;
}

static VizColor target_color(int k) { return k < 0 ? PLAIN : k == 0 ? C_FIRST : C_LATER; }

/* what the BERT read at a position: the token itself (not a target), [MASK], random or kept */
enum { IN_SAME, IN_MASK, IN_RANDOM, IN_KEPT };
static int bert_kind(const KitSnap *s, const XlSnap *w, int pos)
{
    if (target_of(w, s->T, pos) < 0) return IN_SAME;
    return w->bert_in[pos] == TOK_MASK ? IN_MASK : w->bert_in[pos] == s->tokens[pos] ? IN_KEPT : IN_RANDOM;
}
static VizColor kind_color(int k) { return k == IN_MASK ? C_MASK : k == IN_RANDOM ? C_RANDOM : k == IN_KEPT ? C_KEPT : PLAIN; }
static const char *kind_words(int k)
{
    return k == IN_MASK ? "[MASK]" : k == IN_RANDOM ? "a random token" : k == IN_KEPT ? "the token itself (kept)" : "it";
}

/* a probability as a student reads it: three decimals, or two significant figures below 0.01 */
static const char *pstr(char *buf, size_t n, double p)
{
    snprintf(buf, n, p >= 0.01 || p <= 0 ? "%.3f" : "%.2g", p);
    return buf;
}

/* a probability's colour, on a log scale from 0.0001 (dark) to 1 (bright) */
static VizColor p_color(float p)
{
    float t = p > 0 ? (log10f(p) + 4) / 4 : 0;
    return viz_colormap(CMAP_VIRIDIS, t < 0 ? 0 : t > 1 ? 1 : t);
}

/* the strips' rows fit at the largest size (11 points down) that leaves `rest` pixels of c */
static KitStripFit strip_fit(Viz *v, VizRect c, const KitStrip *rows, int nrows, int n, int rest)
{
    KitStripFit k = {0};
    for (float size = 11; size >= kit_strip_smallest(v); size -= 1) {
        k = kit_strip_fit(v, c.w, rows, nrows, n, size);
        if (k.blocks * (kit_strip_block_height(&k, rows, nrows) + k.gap) + rest <= c.h) break;
    }
    return k;
}
static int strips_height(const KitStripFit *k, const KitStrip *rows, int nrows)
{
    return k->blocks * (kit_strip_block_height(k, rows, nrows) + k->gap);
}

/* ------------------------------------------------------------- the order ---- */

typedef struct OrderRows {
    const char *text[3][MAXT];
    VizColor fill[3][MAXT];
    char num[MAXT][12];
    KitStrip rows[3];
    const char *legend[8];
    VizColor lc[8];
    char seen[40], now[40];
    int nl;
} OrderRows;

/* the rows, and the key to their colours (BERT's kinds of input only where this window has
   them, and only with the BERT's row) */
static void order_rows(const KitFrame *f, OrderRows *q, int t, bool bert)
{
    const KitSnap *s = f->s;
    const XlSnap *w = f->snap;
    for (int i = 0; i < s->T && i < MAXT; i++) {
        int r = w->rank[i] + 1;
        q->text[0][i] = kit_token(s, s->tokens[i]);
        q->fill[0][i] = target_color(target_of(w, s->T, i));
        snprintf(q->num[i], sizeof q->num[i], "%d", r);
        q->text[1][i] = q->num[i];
        q->fill[1][i] = !t ? PLAIN : r < t ? C_SEEN : r == t ? C_NOW : LATER_STEP;
        q->text[2][i] = kit_token(s, w->bert_in[i]);
        q->fill[2][i] = kind_color(bert_kind(s, w, i));
    }
    q->rows[0] = (KitStrip){{"text", "text"}, q->text[0], q->fill[0], NULL, NULL};
    q->rows[1] = (KitStrip){{"step", "step"}, q->text[1], q->fill[1], NULL, NULL};
    q->rows[2] = (KitStrip){{"BERT reads", "BERT"}, q->text[2], q->fill[2], NULL, NULL};
    bool has[4] = {false};
    for (int i = 0; bert && i < s->T; i++) has[bert_kind(s, w, i)] = true;
    int n = 0;
    q->legend[n] = "first target", q->lc[n++] = C_FIRST;
    if (w->K > 1) q->legend[n] = "later target", q->lc[n++] = C_LATER;
    static const char *const KIND[4] = {"", "BERT: [MASK]", "BERT: random", "BERT: kept"};
    for (int k = IN_MASK; k <= IN_KEPT; k++)
        if (has[k]) q->legend[n] = KIND[k], q->lc[n++] = kind_color(k);
    if (t) {
        snprintf(q->seen, sizeof q->seen, "seen at step %d", t);
        snprintf(q->now, sizeof q->now, "z_%d: content only", t);
        q->legend[n] = q->seen, q->lc[n++] = C_SEEN;
        q->legend[n] = q->now, q->lc[n++] = C_NOW;
        q->legend[n] = "later: unseen", q->lc[n++] = LATER_STEP;
    }
    q->nl = n;
}

/* what the models said at target k, in words (nothing before the first forward) */
static void target_words(char *out, size_t n, const KitSnap *s, const XlSnap *w, int k, int pos)
{
    char a[32], b[32];
    if (!w->fw) {
        snprintf(out, n, "Press Space: both models predict it.");
        return;
    }
    const char *tok = kit_token(s, w->label[k]);
    snprintf(out, n, "XLNet guesses \"%s\" and gives \"%s\" p = %s; BERT reads %s there, guesses \"%s\", p = %s.",
             kit_token(s, w->top[XL_XLNET][k * XL_TOPK]), tok, pstr(a, sizeof a, w->truth[XL_XLNET][k]),
             kind_words(bert_kind(s, w, pos)), kit_token(s, w->top[XL_BERT][k * XL_TOPK]),
             pstr(b, sizeof b, w->truth[XL_BERT][k]));
}

/* the position clicked in words, then step t */
static void order_lines(KitLines *l, const KitFrame *f, int t, int at)
{
    const KitSnap *s = f->s;
    const XlSnap *w = f->snap;
    int T = s->T, K = w->K;
    char words[240], steps[32];
    if (K > 1) snprintf(steps, sizeof steps, "steps %d–%d", T - K + 1, T);
    else snprintf(steps, sizeof steps, "step %d", T);
    *l = (KitLines){0};
    if (at >= 0 && (!t || at != w->order[t - 1])) {
        int r = w->rank[at], k = target_of(w, T, at);
        const char *tok = kit_token(s, s->tokens[at]);
        kit_lines_add(l, FONT_BOLD, C_PICK, "Position %d, \"%s\" (clicked): step %d of %d", at, tok, r + 1, T);
        if (r == 0)
            kit_lines_add(l, FONT_SANS, VIZ_TEXT, "First in the order: its query stream sees no token, its content stream "
                          "only \"%s\" itself.", tok);
        else
            kit_lines_add(l, FONT_SANS, VIZ_TEXT, "Query stream: the %d token%s before it in the order. Content stream: "
                          "%s and \"%s\" itself.", r, r > 1 ? "s" : "", r > 1 ? "those" : "that one", tok);
        if (k >= 0) {
            target_words(words, sizeof words, s, w, k, at);
            kit_lines_add(l, FONT_SANS, target_color(k), "Target %d of %d. %s", k + 1, K, words);
        } else kit_lines_add(l, FONT_SANS, VIZ_DIM, "Not a target: nothing is predicted here, and BERT reads it as it is.");
    }
    if (t) {
        int z = w->order[t - 1], k = target_of(w, T, z);
        const char *tok = kit_token(s, s->tokens[z]);
        kit_lines_add(l, FONT_BOLD, VIZ_TEXT, "Step %d of %d: predicting z_%d, \"%s\" (position %d)", t, T, t, tok, z);
        if (t == 1)
            kit_lines_add(l, FONT_SANS, VIZ_TEXT, "Query stream: no token, only its own position. Content stream: \"%s\" "
                          "itself (white).", tok);
        else if (t == 2)
            kit_lines_add(l, FONT_SANS, VIZ_TEXT, "Query stream: the token of step 1 (yellow) and its own position, not its "
                          "token. Content stream: \"%s\" too (white).", tok);
        else
            kit_lines_add(l, FONT_SANS, VIZ_TEXT, "Query stream: the %d tokens of steps 1–%d (yellow) and its own position, "
                          "not its token. Content stream: \"%s\" too (white).", t - 1, t - 1, tok);
        if (k >= 0) {
            target_words(words, sizeof words, s, w, k, z);
            kit_lines_add(l, FONT_SANS, target_color(k), "Target %d of %d. %s", k + 1, K, words);
        } else
            kit_lines_add(l, FONT_SANS, VIZ_DIM, "Not a target (%s %s): it hands its content on to later steps.", steps,
                          K > 1 ? "are" : "is");
    }
    if (!l->n)
        kit_lines_add(l, FONT_SANS, VIZ_DIM, "Keys , and . step back and on through the order: what predicting z_t may see. "
                      "Target%s: %s, the end of the order. Click a token to explain it.", K > 1 ? "s" : "", steps);
}

static int order_draw(Viz *v, VizRect c, const KitFrame *f, bool draw)
{
    const KitSnap *s = f->s;
    const XlSnap *w = f->snap;
    int T = imin(s->T, MAXT), t = step_shown(s), at = picked(f), gap = viz_px(v, 4);
    static OrderRows q; /* the UI thread's own: one panel draws at a time */
    char cap[200];
    snprintf(cap, sizeof cap, "Window %d of %d (Tab: next) · under each token, its step in the order", s->focus + 1, s->B);
    KitLines l;
    order_lines(&l, f, t, at);
    static KitLines first; /* the strips leave room for the first two lines at least */
    first = l;
    first.n = imin(l.n, 2);
    int cap_h = viz_text_wrap_height(v, c.w, cap, FONT_SANS, 10), lines_h = kit_lines_height(v, c.w, &l), leg_h = 0;
    int least = kit_lines_height(v, c.w, &first), nrows = 3, strips = 0;
    KitStripFit k = {0};
    for (; nrows >= 2; nrows--) { /* drawn, the BERT's row goes when the rest would not fit with it */
        order_rows(f, &q, t, nrows == 3);
        leg_h = viz_legend_height(v, c.w, q.legend, q.nl) + gap;
        k = strip_fit(v, c, q.rows, nrows, T, leg_h + least);
        strips = strips_height(&k, q.rows, nrows);
        if (!draw || strips + leg_h + least <= c.h) break;
    }
    nrows = nrows < 2 ? 2 : nrows;
    if (!draw) return cap_h + strips + leg_h + lines_h;
    int y = c.y; /* the caption only when everything else fits too */
    if (cap_h + strips + leg_h + lines_h <= c.h) y += viz_text_wrap(v, c.x, y, c.w, cap, FONT_SANS, 10, VIZ_DIM);
    bool all;
    int hover = kit_strip_draw(v, c, &y, &k, q.rows, nrows, T, at, C_PICK, &all);
    if (hover >= 0) {
        int r = w->rank[hover] + 1, kk = target_of(w, s->T, hover);
        char tw[240] = "";
        if (kk >= 0) target_words(tw, sizeof tw, s, w, kk, hover);
        viz_tooltip(v, "position %d, \"%s\": step %d of %d in this order. %s %s Click: explain it", hover, q.text[0][hover], r,
                    s->T, kk < 0 ? "Not a target." : kk == 0 ? "The first target." : "A later target.", tw);
        if (v->mouse_clicked) f->ui->pick = hover + 1 == f->ui->pick ? 0 : hover + 1;
    }
    if (!all || y + leg_h > c.y + c.h) {
        kit_more_hint(v, c, y, f, all ? "what the colours mean" : "every position of the window");
        return 0;
    }
    y += viz_legend(v, c.x, y, c.w, q.legend, q.lc, q.nl) + gap;
    if (kit_lines_draw(v, c, &y, &l) < l.n) kit_more_hint(v, c, y, f, "the step and the token clicked, in words");
    return 0;
}

static void order_panel(Viz *v, VizRect c, const KitFrame *f) { kit_draw_grown(v, c, f, order_draw); }

/* ------------------------------------------------------------- the masks ---- */

static const VizColor HATCHED = {78, 80, 90, 255};

static void masks_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const XlSnap *w = f->snap;
    int T = s->T, t = step_shown(s), gap = viz_px(v, 8), lh = viz_text_height(v, FONT_SANS, 10);
    bool by_order = kit_snap_value(s, "mask_order") >= 0.5;
    if (T > MAXM) {
        viz_text_wrap(v, c.x, c.y, c.w, "The masks are drawn for windows of up to 128 tokens; the attention panel hatches them.",
                      FONT_SANS, 10, VIZ_DIM);
        return;
    }
    static float val[2][MAXM * MAXM];
    static uint8_t hatch[2][MAXM * MAXM];
    const char *labels[MAXM];
    int at[MAXM]; /* the position at row (and column) i */
    for (int i = 0; i < T; i++) {
        at[i] = by_order ? w->order[i] : i;
        labels[i] = kit_token(s, s->tokens[at[i]]);
    }
    int lit = t ? (by_order ? t - 1 : w->order[t - 1]) : -1; /* z_t's row */
    for (int m = 0; m < 2; m++)
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++) {
                int ri = w->rank[at[i]], rj = w->rank[at[j]];
                bool ok = m == XL_CONTENT ? rj <= ri : rj < ri;
                hatch[m][i * T + j] = !ok;
                val[m][i * T + j] = ok ? (lit < 0 || i == lit ? 1.0f : 0.3f) : 0;
            }
    const char *cap = by_order ? "Rows and columns in the factorization order, step 1 first: content is lower-triangular with "
                                 "its diagonal, query without it. V: by position."
                               : "Row = the token attending, column = the token read, by position. V: in the factorization order.";
    char lit_name[48];
    snprintf(lit_name, sizeof lit_name, "z_%d's row: what step %d may see", t, t);
    const char *leg[3] = {"may attend", lit_name, "may not (hatched)"};
    VizColor lcol[3] = {viz_colormap(CMAP_VIRIDIS, t ? 0.3f : 1), viz_colormap(CMAP_VIRIDIS, 1), HATCHED};
    int nl = 3;
    if (!t) leg[1] = leg[2], lcol[1] = lcol[2], nl = 2;
    int leg_h = viz_legend_height(v, c.w, leg, nl), colw = (c.w - gap) / 2;
    /* the whole caption when the maps keep nine tenths of their size with it, else one line */
    int below = leg_h + viz_px(v, 4) + lh + viz_px(v, 2), most = imin(colw, c.h - below - lh);
    int y = c.y;
    if (imin(colw, c.h - below - viz_text_wrap_height(v, c.w, cap, FONT_SANS, 10)) >= most * 9 / 10)
        kit_put(v, c, &y, cap, FONT_SANS, 10, VIZ_DIM);
    else
        y += viz_text_fit(v, c.x, y, c.w, by_order ? "in the order (V: by position)" : "row reads column · by position (V: in "
                          "the order)", FONT_SANS, 10, VIZ_DIM) ? lh : 0;
    int top = y + lh + viz_px(v, 2), side = imin(colw, c.y + c.h - leg_h - viz_px(v, 4) - top);
    if (side < viz_px(v, 40)) {
        kit_more_hint(v, c, y, f, "the two masks");
        return;
    }
    static const char *const NAME[2] = {"content stream: step(j) ≤ step(i)", "query stream: step(j) < step(i)"};
    static const char *const SHORT[2] = {"content: ≤", "query: <"};
    for (int m = 0; m < 2; m++) {
        int x = c.x + m * (colw + gap);
        const char *name = viz_text_width(v, NAME[m], FONT_BOLD, 10) <= colw ? NAME[m] : SHORT[m];
        viz_text_fit(v, x, y, colw, name, FONT_BOLD, 10, VIZ_TEXT);
        VizHeatmap hm = {val[m], T, T, 0, 1, CMAP_VIRIDIS, labels, labels, "may attend", false, hatch[m]};
        int hr, hc;
        viz_heatmap(v, (VizRect){x, top, colw, side}, &hm, &hr, &hc);
        if (hr < 0) continue;
        int ri = w->rank[at[hr]] + 1, rj = w->rank[at[hc]] + 1;
        if (hr == hc)
            viz_tooltip(v, "%s stream of \"%s\" (step %d): %s", m ? "query" : "content", labels[hr], ri,
                        m ? "may NOT read its own token: it is what this stream predicts" : "reads its own token (step ≤ itself)");
        else
            viz_tooltip(v, "%s stream: \"%s\" (step %d) %s \"%s\" (step %d)%s", m ? "query" : "content", labels[hr], ri,
                        hatch[m][hr * T + hc] ? "may NOT read" : "may read", labels[hc], rj,
                        hatch[m][hr * T + hc] ? ": it comes later in the order" : ": it comes earlier in the order");
    }
    viz_legend(v, c.x, top + side + viz_px(v, 4), c.w, leg, lcol, nl);
}

/* ------------------------------------------------------------- the targets ---- */

typedef struct TargetRows {
    const char *text[5][MAXT];
    VizColor fill[5][MAXT];
    char cell[3][MAXT][64];
    KitStrip rows[5];
} TargetRows;

/* a column per target: its token, its step, each model's p(target) and top guess (coloured by
   p), and what the BERT read there */
static void target_rows(const KitFrame *f, TargetRows *q)
{
    const KitSnap *s = f->s;
    const XlSnap *w = f->snap;
    int T = s->T;
    char pb[32];
    for (int k = 0; k < w->K && k < MAXT; k++) {
        int pos = w->order[T - w->K + k];
        q->text[0][k] = kit_token(s, w->label[k]);
        q->fill[0][k] = target_color(k);
        snprintf(q->cell[0][k], sizeof q->cell[0][k], "%d (pos. %d)", T - w->K + k + 1, pos);
        q->text[1][k] = q->cell[0][k];
        q->fill[1][k] = PLAIN;
        q->text[3][k] = kit_token(s, w->bert_in[pos]);
        q->fill[3][k] = kind_color(bert_kind(s, w, pos));
        for (int m = 0; m < XL_MODELS; m++) {
            int32_t top = w->top[m][k * XL_TOPK];
            char *g = q->cell[1 + m][k];
            if (w->fw)
                snprintf(g, 64, "%s · %s%s", pstr(pb, sizeof pb, w->truth[m][k]), kit_token(s, top), top == w->label[k] ? " ✓" : "");
            else g[0] = 0;
            q->text[m ? 4 : 2][k] = g;
            q->fill[m ? 4 : 2][k] = w->fw ? p_color(w->truth[m][k]) : PLAIN;
        }
    }
    static const char *const NAME[5][2] = {
        {"target", "target"}, {"step (pos.)", "step"}, {"XLNet p · top", "XLNet"}, {"BERT reads", "BERT in"}, {"BERT p · top", "BERT"}};
    for (int i = 0; i < 5; i++) q->rows[i] = (KitStrip){{NAME[i][0], NAME[i][1]}, q->text[i], q->fill[i], NULL, NULL};
}

/* The window's log-likelihood of its targets, term by term: the paper's "New York" example on
 * this window (XLNet's target k sees the k-1 targets before it, the BERT's never another). */
static void sum_lines(KitLines *l, const KitSnap *s, const XlSnap *w)
{
    int K = w->K, others = s->T - K;
    *l = (KitLines){0};
    if (w->fw) {
        kit_lines_add(l, FONT_BOLD, VIZ_TEXT, "This window: log p of its %d target%s, in the order (nats)", K, K > 1 ? "s" : "");
        for (int m = 0; m < XL_MODELS; m++) {
            char terms[160] = "";
            double sum = 0;
            int len = 0;
            for (int k = 0; k < K; k++) {
                double lp = log(fmax(w->truth[m][k], 1e-30));
                sum += lp;
                if (k < 4 && len >= 0 && (size_t)len < sizeof terms)
                    len += snprintf(terms + len, sizeof terms - (size_t)len, "%s%.2f", k ? " − " : "−", -lp);
            }
            if (K > 4) snprintf(terms, sizeof terms, "%d terms", K);
            kit_lines_add(l, FONT_MONO, m ? C_BERT : C_XL, "%-5s %s = −%.2f", m ? "BERT" : "XLNet", terms, -sum);
        }
        if (K > 1)
            kit_lines_add(l, FONT_SANS, VIZ_DIM, "XLNet's target k reads the %d other tokens and the k−1 targets before it; "
                          "the BERT's reads the %d others only, never another target.", others, others);
        else
            kit_lines_add(l, FONT_SANS, VIZ_DIM, "One target: both models read the same %d other tokens (num_predict 1; ] "
                          "adds targets).", others);
    }
    for (int k = 0; w->fw && k < K; k++)
        if (bert_kind(s, w, w->order[s->T - K + k]) == IN_KEPT) {
            double kept = 1 - kit_snap_value(s, "mask_replace_prob") - kit_snap_value(s, "random_replace_prob");
            kit_lines_add(l, FONT_SANS, C_KEPT, "BERT read target %d as it is (kept, as %.0f%% of its training targets): its "
                          "p there is no guess. Held out, it reads [MASK] at every target.", k + 1, 100 * kept);
            break;
        }
    if (w->fw)
        kit_lines_add(l, FONT_SANS, VIZ_DIM, "Cells: p(target) · the top guess (✓ the target), coloured by p from 0.0001 (dark) "
                      "to 1 (yellow) on a log scale.");
    kit_lines_add(l, FONT_SANS, VIZ_DIM, "The paper's example, order [is, a, city, New, York]: BERT log p(New | is a city) + "
                  "log p(York | is a city); XLNet log p(New | is a city) + log p(York | New, is a city).");
}

static int targets_draw(Viz *v, VizRect c, const KitFrame *f, bool draw)
{
    const KitSnap *s = f->s;
    const XlSnap *w = f->snap;
    int K = w->K, gap = viz_px(v, 4), lh = viz_text_height(v, FONT_SANS, 10);
    static TargetRows q;
    target_rows(f, &q);
    KitLines l;
    sum_lines(&l, s, w);
    int lines_h = kit_lines_height(v, c.w, &l), bar = viz_text_height(v, FONT_MONO, 11) + viz_px(v, 2);
    int bars_h = w->fw ? lh + XL_TOPK * bar + gap : 0;
    KitLines two = l; /* the table leaves room for the first two lines at least */
    two.n = imin(l.n, 2);
    KitStripFit k = strip_fit(v, c, q.rows, 5, K, kit_lines_height(v, c.w, &two));
    int strips = strips_height(&k, q.rows, 5);
    if (!draw) return strips + lines_h + bars_h;
    /* the target explained below: the one clicked, else the one at step t, else the last (it sees the most) */
    int at = picked(f), t = step_shown(s), kt = at >= 0 ? target_of(w, s->T, at) : -1;
    if (kt < 0 && t) kt = target_of(w, s->T, w->order[t - 1]);
    if (kt < 0) kt = K - 1;
    int y = c.y;
    bool all;
    int hover = kit_strip_draw(v, c, &y, &k, q.rows, 5, K, kt, C_PICK, &all);
    if (hover >= 0) {
        int pos = w->order[s->T - K + hover];
        char tw[240];
        target_words(tw, sizeof tw, s, w, hover, pos);
        viz_tooltip(v, "target %d of %d, \"%s\" at position %d, step %d: XLNet read %d tokens, BERT %d. %s Click: both top 5s",
                    hover + 1, K, q.text[0][hover], pos, s->T - K + hover + 1, s->T - K + hover, s->T - K, tw);
        if (v->mouse_clicked) f->ui->pick = pos + 1;
    }
    if (!all) {
        kit_more_hint(v, c, y, f, "every target");
        return 0;
    }
    if (kit_lines_draw(v, c, &y, &l) < l.n) {
        kit_more_hint(v, c, y, f, "the window's log p, the paper's example");
        return 0;
    }
    if (!w->fw) return 0;
    if (y + bars_h > c.y + c.h) {
        kit_more_hint(v, c, y, f, "both top 5s");
        return 0;
    }
    y += gap;
    int half = (c.w - 2 * gap) / 2;
    for (int m = 0; m < XL_MODELS; m++) {
        char head[120];
        snprintf(head, sizeof head, "%s's top 5 at target %d (✓ \"%s\")", m ? "BERT" : "XLNet", kt + 1,
                 kit_token(s, w->label[kt]));
        int x = c.x + m * (half + 2 * gap);
        viz_text_fit(v, x, y, half, head, FONT_SANS, 10, m ? C_BERT : C_XL);
        kit_topk_bars(v, (VizRect){x, y + lh, half, XL_TOPK * bar}, s, w->top[m] + kt * XL_TOPK, w->p[m] + kt * XL_TOPK,
                      XL_TOPK, w->label[kt], m ? C_BERT : C_XL);
    }
    return 0;
}

static void targets_panel(Viz *v, VizRect c, const KitFrame *f) { kit_draw_grown(v, c, f, targets_draw); }

/* -------------------------------------------------------------------- probe ---- */

static void probe_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const XlnetProbe *pr = f->ui->probe_result;
    int y = c.y, lh = viz_text_height(v, FONT_SANS, 10), gap = viz_px(v, 4);
    if (!pr || pr->n < 2 || pr->nhidden == pr->n) {
        kit_put(v, c, &y, !pr ? "Type a sentence with [mask] in it (no [mask]: its last two tokens are hidden), then Enter."
                        : pr->n < 2 ? "Type at least two tokens, then Enter."
                                    : "Everything is hidden: leave some tokens for the models to read.",
                FONT_SANS, 11, VIZ_DIM);
        return;
    }
    static const char *text[3][XL_PROBE_MAX];
    static VizColor fill[3][XL_PROBE_MAX];
    int hid[XL_PROBE_MAX], nh = 0;
    for (int i = 0; i < pr->n; i++) {
        text[0][i] = text[1][i] = text[2][i] = kit_token(s, pr->ids[i]);
        fill[0][i] = fill[1][i] = fill[2][i] = PLAIN;
        if (!pr->hidden[i]) continue;
        fill[0][i] = C_MASK;
        text[1][i] = kit_token(s, pr->xl_top[nh][0]), fill[1][i] = target_color(nh);
        text[2][i] = pr->untrained_bert ? "" : kit_token(s, pr->bert_top[nh][0]), fill[2][i] = C_BERT;
        hid[nh++] = i;
    }
    KitStrip rows[3] = {{{"typed", "typed"}, text[0], fill[0], NULL, NULL},
                        {{"XLNet fills", "XLNet"}, text[1], fill[1], NULL, NULL},
                        {{"BERT fills", "BERT"}, text[2], fill[2], NULL, NULL}};
    int nrows = pr->untrained_bert ? 2 : 3, bar = viz_text_height(v, FONT_MONO, 11) + viz_px(v, 2);
    KitStripFit k = strip_fit(v, c, rows, nrows, pr->n, 3 * lh + XL_TOPK * bar);
    bool all;
    int hover = kit_strip_draw(v, c, &y, &k, rows, nrows, pr->n, -1, C_PICK, &all);
    if (hover >= 0) viz_tooltip(v, "position %d: %s", hover, pr->hidden[hover] ? "hidden, filled by each model" : "read by both");
    char line[200];
    snprintf(line, sizeof line, "XLNet fills the hidden tokens left to right, each reading the ones it filled before; BERT "
             "reads every one as [MASK] and fills them at once.%s", pr->cut ? " (Only the first tokens are read: seq_len.)" : "");
    if (!all || !kit_put(v, c, &y, line, FONT_SANS, 10, VIZ_DIM)) {
        kit_more_hint(v, c, y, f, "the whole sentence");
        return;
    }
    /* each hidden position: both models' top 5 side by side, as many as fit */
    int half = (c.w - 2 * gap) / 2, shown = 0;
    for (int h = 0; h < nh && y + lh + XL_TOPK * bar <= c.y + c.h; h++, shown++) {
        for (int m = 0; m < (pr->untrained_bert ? 1 : 2); m++) {
            int x = c.x + m * (half + 2 * gap);
            if (m) snprintf(line, sizeof line, "BERT at position %d, all [MASK]", hid[h]);
            else if (h == 1)
                snprintf(line, sizeof line, "XLNet at position %d, reading \"%s\" at %d", hid[h], kit_token(s, pr->xl_top[0][0]),
                         hid[0]);
            else snprintf(line, sizeof line, "XLNet at position %d%s", hid[h], h ? ", reading its fills before" : "");
            viz_text_fit(v, x, y, half, line, FONT_SANS, 10, m ? C_BERT : C_XL);
            kit_topk_bars(v, (VizRect){x, y + lh, half, XL_TOPK * bar}, s, m ? pr->bert_top[h] : pr->xl_top[h],
                          m ? pr->bert_p[h] : pr->xl_p[h], XL_TOPK, -1, m ? C_BERT : C_XL);
        }
        y += lh + XL_TOPK * bar + gap;
    }
    if (shown < nh) kit_more_hint(v, c, y, f, "the top 5 at every hidden token");
}

/* ------------------------------------------------------ the stored experiment ---- */

static const char *const FINDING_COL[4] = {"eval_loss", "eval_bert_loss", "eval_loss_first", "eval_loss_later"};

/* a row of finding.csv: the four held-out losses (mean, ± sd) and the seeds off the plateau */
static void finding_row(KitLines *l, const KitFinding *fd, const char *row, int w, bool sd)
{
    char a[4][24], col[48], off[64] = "";
    for (int k = 0; k < 4; k++) {
        snprintf(col, sizeof col, "%s_sd", FINDING_COL[k]);
        double m = kit_finding(fd, row, FINDING_COL[k]), d = kit_finding(fd, row, col);
        snprintf(a[k], sizeof a[k], !sd || isnan(d) ? "%.2f" : "%.2f±%.2f", m, d);
    }
    double n = kit_finding(fd, row, "seeds"), xo = kit_finding(fd, row, "xlnet_off_plateau");
    if (!isnan(xo)) snprintf(off, sizeof off, "%g/%-5g %g/%g", xo, n, kit_finding(fd, row, "bert_off_plateau"), n);
    w += strstr(a[0], "±") != NULL; /* ± is two bytes */
    kit_lines_add(l, FONT_MONO, VIZ_TEXT, "%-8s %-*s %-*s %-*s %-*s %s", row, w, a[0], w, a[1], w, a[2], w, a[3], off);
}

/* finding.csv (tests/bench/xlnet_finding): each step read, then this run, the unigram lines and
   the all-[MASK] BERT's last step. brief 1: no sd; 2: only the steps at half and all of the run */
static void finding_lines(KitLines *l, const KitFrame *f, int brief)
{
    const KitSnap *s = f->s;
    const KitFinding *fd = s->finding;
    *l = (KitLines){0};
    if (!fd || fd->rows <= 0) {
        kit_lines_add(l, FONT_SANS, VIZ_DIM, "No stored experiment (tests/bench/xlnet_finding --write). %s", fd ? fd->why : "");
        return;
    }
    int w = brief ? 8 : 10;
    kit_lines_add(l, FONT_MONO, VIZ_DIM, "%-8s %-*s %-*s %-*s %-*s %s", "step", w, "XLNet", w, "BERT", w, "XL first", w,
                  "XL later", "XL off  BERT off");
    const char *mask = NULL;
    long last = 0;
    for (int i = 0; i < fd->rows; i++)
        if (!strncmp(fd->row[i], "mask_", 5)) mask = fd->row[i];
        else if (atol(fd->row[i]) > 0) last = atol(fd->row[i]);
    for (int i = 0; i < fd->rows; i++) { /* the step rows ("mask_…" and "unigram" read as 0) */
        long at = atol(fd->row[i]);
        if (at > 0 && (brief < 2 || at == last || 2 * at == last)) finding_row(l, fd, fd->row[i], w, !brief);
    }
    double v[4], K = kit_snap_value(s, "num_predict");
    for (int k = 0; k < 4; k++) v[k] = kit_last_value(s, FINDING_COL[k]);
    if (!isnan(v[0]) && !isnan(v[1]) && K >= 1) { /* this run, against its line: a first and K-1 later targets */
        double line = (s->refs[REF_UNIGRAM_FIRST] + (K - 1) * s->refs[REF_UNIGRAM_LATER]) / K - 0.2;
        char step[24];
        snprintf(step, sizeof step, s->step < 100000 ? "now %ld" : "now", s->step);
        kit_lines_add(l, FONT_MONO, C_SEEN, "%-8s %-*.2f %-*.2f %-*.2f %-*.2f %-7s %s", step, w, v[0], w, v[1], w, v[2], w, v[3],
                      v[0] <= line ? "yes" : "no", v[1] <= line ? "yes" : "no");
    }
    if (!isnan(kit_finding(fd, "unigram", FINDING_COL[0]))) finding_row(l, fd, "unigram", w, !brief);
    if (mask)
        kit_lines_add(l, FONT_SANS, VIZ_TEXT, "A BERT all [MASK], step %s: %.2f (%g/%g off), the XLNet beside it %.2f (%g/%g)",
                      mask + 5, kit_finding(fd, mask, "eval_bert_loss"), kit_finding(fd, mask, "bert_off_plateau"),
                      kit_finding(fd, mask, "seeds"), kit_finding(fd, mask, "eval_loss"),
                      kit_finding(fd, mask, "xlnet_off_plateau"), kit_finding(fd, mask, "seeds"));
    kit_lines_add(l, FONT_SANS, VIZ_DIM, "Held-out nats, mean%s of %g seeds at the defaults; off: 0.2 below the targets' "
                  "unigram line.%s", brief ? "" : " ± sd", kit_finding(fd, fd->row[0], "seeds"), brief ? "" : " XL first: each "
                  "order's first target, which reads what the BERT reads (tests/bench/xlnet_finding).");
}

/* the lines' height, or more than c's when a line of the table is wider than c */
static int lines_need(Viz *v, VizRect c, const KitLines *l)
{
    for (int i = 0; i < l->n; i++)
        if (l->font[i] == FONT_MONO && viz_text_width(v, l->text[i], FONT_MONO, 10) > c.w) return c.h + 1;
    return kit_lines_height(v, c.w, l);
}

static int finding_draw(Viz *v, VizRect c, const KitFrame *f, bool draw)
{
    KitLines l;
    finding_lines(&l, f, 0); /* grown only when the full table fits */
    if (!draw) return lines_need(v, c, &l);
    for (int brief = 1; brief <= 2 && lines_need(v, c, &l) > c.h; brief++) finding_lines(&l, f, brief);
    int y = c.y;
    VizRect r = c; /* room for the hint when not every line fits */
    if (kit_lines_height(v, c.w, &l) > c.h) r.h -= viz_text_height(v, FONT_SANS, 9);
    if (kit_lines_draw(v, r, &y, &l) < l.n) kit_more_hint(v, c, y, f, "the stored experiment");
    return 0;
}

static void finding_panel(Viz *v, VizRect c, const KitFrame *f) { kit_draw_grown(v, c, f, finding_draw); }

/* ------------------------------------------------------------------ headline ---- */

static void headline(const KitFrame *f, char *buf, size_t n)
{
    const KitSnap *s = f->s;
    double xl = kit_last_value(s, "eval_loss"), bert = kit_last_value(s, "eval_bert_loss");
    double first = kit_last_value(s, "eval_loss_first"), later = kit_last_value(s, "eval_loss_later");
    buf[0] = 0;
    if (!isnan(xl) && !isnan(bert)) {
        int len = snprintf(buf, n, "held-out loss XLNet %.2f vs BERT %.2f", xl, bert);
        if (!isnan(first) && !isnan(later) && len > 0 && (size_t)len < n)
            snprintf(buf + len, n - (size_t)len, " · XLNet's first target %.2f, later ones %.2f", first, later);
    } else if (s->have_forward)
        snprintf(buf, n, "this batch: XLNet %.2f vs BERT %.2f on the same targets", (double)s->parts[0],
                 (double)s->extra[XL_BERT_MLM]);
}

/* ------------------------------------------------------------- description ---- */

static const KitPanel panels[] = {
    {"The factorization order and its targets", order_panel, 30, 0, "The order"},
    {"The masks the order sets: content and query stream", masks_panel, 33, 0, "The masks"},
    {"The targets: XLNet and BERT on the same positions", targets_panel, 32, 0, "The targets"},
    {"The stored experiment: XLNet and BERT over seeds", finding_panel, 25, 0, "Stored experiment"},
    {"Probe: a sentence with [mask], then Enter (Esc leaves)", probe_panel, 32, KIT_PANEL_PROBE, "Probe"},
};

static const char *const split_cols[] = {"eval_loss_first", "eval_loss_later", "eval_bert_loss_first",
                                         "eval_bert_loss_later", NULL};
static const char *const split_names[] = {"XL 1st", "XL later", "BERT 1st", "later", NULL};
static const int split_colors[] = {4, 2, 5, 0};
static const char *const eval_cols[] = {"eval_loss", "eval_bert_loss", NULL};
static const char *const train_cols[] = {"plm", "bert_mlm", NULL};
static const char *const acc_cols[] = {"eval_accuracy", "eval_bert_accuracy", NULL};
static const char *const model_names[] = {"XLNet", "BERT", NULL};
static const int model_colors[] = {1, 5};

static const KitCurve curves[] = {
    {.title = "Held-out loss: each order's first target and the later ones, both models",
     .ylabel = "cross-entropy", .ref = REF_UNIGRAM_FIRST, .ref_name = "unigram 1st", .ref2 = REF_UNIGRAM_LATER + 1,
     .ref2_name = "later", .short_title = "First vs later",
     .series = split_cols, .series_name = split_names, .series_color = split_colors, .series_points = true},
    {.title = "Held-out loss on the same targets (nats)", .ylabel = "cross-entropy", .ref = REF_UNIGRAM_ENTROPY,
     .ref_name = "unigram", .short_title = "Held-out loss", .series = eval_cols, .series_name = model_names,
     .series_color = model_colors, .series_points = true},
    {.title = "Training loss on each batch: PLM vs MLM", .ylabel = "cross-entropy",
     .ref = REF_UNIGRAM_ENTROPY, .ref_name = "unigram", .short_title = "Training loss", .series = train_cols,
     .series_name = model_names, .series_color = model_colors},
    {.title = "Held-out accuracy on the same targets", .ylabel = "top-1 accuracy", .ref = REF_UNIGRAM_ACCURACY,
     .ref_name = "most frequent token", .bounded = true, .lo = 0, .hi = 1, .short_title = "Accuracy", .series = acc_cols,
     .series_name = model_names, .series_color = model_colors, .series_points = true},
};

static const double flip[] = {1, 0};

static const KitKey keys[] = {
    {'[', "num_predict", -1, "targets per window (num_predict) −1", NULL, 0},
    {']', "num_predict", +1, "targets per window (num_predict) +1", NULL, 0},
    {',', "order_step", -1, "factorization order: the step shown −1", NULL, 0},
    {'.', "order_step", +1, "factorization order: the step shown +1", NULL, 0},
    {'v', "mask_order", 0, "the masks by position ⇄ in the factorization order", flip, 2},
};

const LessonView xlnet_view = {
    .snapshot_bind = snapshot_bind,
    .snapshot_fill = snapshot_fill,
    .headline = headline,
    .panels = panels,
    .npanels = (int)(sizeof panels / sizeof panels[0]),
    .curves = curves,
    .ncurves = (int)(sizeof curves / sizeof curves[0]),
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .probe = xlnet_probe,
    .probe_size = sizeof(XlnetProbe),
    .probe_help = "a sentence with [mask] in it (no [mask]: its last two tokens are hidden)",
    .item = "window",
};
