/* panels.c — fmlab-electra's own part of the dashboard (the kit draws the header, the
 * attention of both models, the curves, the notes and help):
 *
 *   generator and discriminator: the focus window four times, column under column: the text,
 *                 the generator's input ([MASK]s), its samples (what the discriminator reads:
 *                 replaced, or by luck the original again) and the discriminator's P(replaced)
 *                 with the truth under it; at the position clicked, the generator's top 5
 *   confusion:    the discriminator's verdicts over the last steps, against "always original"
 *   signal:       the tokens with a term in the loss, ELECTRA's discriminator against a masked LM
 *   the loss:     mlm and λ·rtd stacked over the steps
 *   two models:   which one trains, their sizes and shared embeddings, the stored experiment
 *   probe:        a typed sentence: P(replaced) at every token, the generator's top 5 at [mask]
 *
 * and its keys: G the generator only ⇄ both, D the discriminator only ⇄ both, W cycles λ. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer.h"
#include "lessons/common/view.h"
#include "lessons/electra/lesson.h"

/* the loss parts, and the model each belongs to: generator yellow (mlm), discriminator green (rtd) */
static const VizColor PART_COLOR[PART_COUNT] = {{240, 228, 66, 255}, {0, 158, 115, 255}};
static const char *const PART_NAME[PART_COUNT] = {"mlm", "rtd"};
static const char *const WEIGHT[PART_COUNT] = {NULL, "rtd_weight"};
#define C_GEN PART_COLOR[PART_MLM]
#define C_DISC PART_COLOR[PART_RTD]
/* what happened to a token: BERT's kinds as fmlab-mlm colours them, then the generator's doing */
static const VizColor PLAIN = {58, 62, 76, 255};
#define C_MASK VIZ_ACCENT[0]
#define C_KEPT VIZ_ACCENT[1]
#define C_RANDOM VIZ_ACCENT[6]
#define C_REPLACED VIZ_ACCENT[5]
#define C_LUCKY VIZ_ACCENT[2]
#define C_PICK VIZ_ACCENT[3]
#define MAXT 512
#define WINDOW 20   /* the confusion matrix sums this many steps */

static int imax(int a, int b) { return a > b ? a : b; }
static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* ------------------------------------------------------------------ snapshot ---- */

typedef struct ElSnap {
    int64_t params[EL_MODELS], shared;
    int width[EL_MODELS], heads[EL_MODELS], layers[EL_MODELS];
    int32_t *original, *input, *corrupted;   /* (T) the text, the generator's input, the discriminator's */
    int32_t *top_id;                         /* (T, EL_TOPK) the generator's top 5, at selected positions */
    float *top_p, *p_replaced, *sample_p;    /* (T, EL_TOPK), (T), (T) */
    uint8_t *kind, *rtd;                     /* (T) KIND_*, 1: replaced */
} ElSnap;

static size_t snapshot_bind(void *blob, const KitSnap *s)
{
    size_t T = (size_t)s->T, size = sizeof(ElSnap) + T * (5 + 2 * EL_TOPK) * 4 + 2 * T;
    if (!blob) return size;
    ElSnap *w = blob;
    w->original = (int32_t *)(w + 1);
    w->input = w->original + T;
    w->corrupted = w->input + T;
    w->top_id = w->corrupted + T;
    w->top_p = (float *)(w->top_id + T * EL_TOPK);
    w->p_replaced = w->top_p + T * EL_TOPK;
    w->sample_p = w->p_replaced + T;
    w->kind = (uint8_t *)(w->sample_p + T);
    w->rtd = w->kind + T;
    return size;
}

static void snapshot_fill(void *blob, const Run *r, int focus)
{
    ElSnap *w = blob;
    const Electra *m = KIT_SELF(r, Electra);
    const ElectraBatch *b = &m->batch;
    size_t T = (size_t)r->T, off = (size_t)focus * T;
    memcpy(w->params, m->params, sizeof w->params);
    w->shared = m->shared;
    for (int i = 0; i < EL_MODELS; i++) {
        const ModelConfig *cfg = &r->models[i].model.cfg;
        w->width[i] = cfg->hidden_size, w->heads[i] = cfg->num_attention_heads, w->layers[i] = cfg->num_hidden_layers;
    }
    memcpy(w->original, b->mlm.original + off, T * 4);
    memcpy(w->input, b->mlm.input + off, T * 4);
    memcpy(w->corrupted, b->corrupted + off, T * 4);
    memcpy(w->kind, b->mlm.kind + off, T);
    memcpy(w->rtd, b->rtd + off, T);
    memcpy(w->p_replaced, m->p_replaced + off, T * 4);
    memcpy(w->sample_p, m->sample_p + off, T * 4);
    memcpy(w->top_p, m->top_p + off * EL_TOPK, T * EL_TOPK * 4);
    memcpy(w->top_id, m->top_id + off * EL_TOPK, T * EL_TOPK * 4);
}

/* The key to the colours, in rows of c.w: a square and a name each, then (heat) the scale of
 * P(replaced); returns its height (with draw false, only that). */
static int key_flow(Viz *v, VizRect c, int y, const char *const *names, const VizColor *cols, int n, float size, bool heat,
                    bool draw)
{
    int lh = viz_text_height(v, FONT_SANS, size), sq = lh * 3 / 5, pad = viz_px(v, 4), gw = viz_px(v, 50), x = c.x, y0 = y;
    const char *end = "1 (over 0.5: \"replaced\")";
    for (int i = 0; i < n + heat; i++) {
        const char *t = i < n ? names[i] : "P(replaced) 0";
        int tw = viz_text_width(v, t, FONT_SANS, size);
        int w = i < n ? sq + pad + tw : tw + gw + 2 * pad + viz_text_width(v, end, FONT_SANS, size);
        if (x > c.x && x + w > c.x + c.w) x = c.x, y += lh;
        if (draw && i < n) {
            viz_fill(v, (VizRect){x, y + (lh - sq) / 2, sq, sq}, cols[i]);
            viz_frame(v, (VizRect){x, y + (lh - sq) / 2, sq, sq}, VIZ_DIM);
            viz_text(v, x + sq + pad, y, t, FONT_SANS, size, VIZ_TEXT, ALIGN_LEFT);
        } else if (draw) {
            int gx = x + tw + pad;
            viz_text(v, x, y, t, FONT_SANS, size, VIZ_TEXT, ALIGN_LEFT);
            for (int k = 0; k < gw; k++)
                viz_fill(v, (VizRect){gx + k, y + lh / 4, 1, lh / 2}, viz_colormap(CMAP_VIRIDIS, (float)k / (float)(gw - 1)));
            viz_text(v, gx + gw + pad, y, end, FONT_SANS, size, VIZ_TEXT, ALIGN_LEFT);
        }
        x += w + viz_px(v, size);
    }
    return y + lh - y0;
}

/* ------------------------------------------------- generator and discriminator ---- */

static bool selected(const ElSnap *w, int t) { return w->kind[t] != KIND_NOT_SELECTED; }

/* the position shown: the one clicked, else the first replaced one, else the first selected */
static int picked(const KitFrame *f)
{
    const ElSnap *w = f->snap;
    int T = f->s->T, first = -1;
    if (f->ui->pick > 0 && f->ui->pick <= T) return f->ui->pick - 1;
    for (int t = T - 1; t >= 0; t--)
        if (selected(w, t) && (w->rtd[t] || first < 0 || !w->rtd[first])) first = t;
    return first >= 0 ? first : T > 1 ? 1 : 0;
}

static const char *verdict(const ElSnap *w, int t)
{
    bool said = w->p_replaced[t] > 0.5f;
    return said == (bool)w->rtd[t] ? (said ? "says replaced: right" : "says original: right")
                                   : (said ? "says replaced: wrong" : "says original: wrong, a miss");
}

/* the four rows of the focus window (text and colours into the caller's arrays) */
typedef struct Four {
    const char *text[4][MAXT];
    VizColor fill[4][MAXT], band[MAXT];
    uint8_t miss[MAXT];
    char num[MAXT][8];
    KitStrip rows[4];
} Four;

static void four_rows(const KitFrame *f, Four *q)
{
    const KitSnap *s = f->s;
    const ElSnap *w = f->snap;
    for (int t = 0; t < s->T && t < MAXT; t++) {
        int k = w->kind[t];
        bool fw = s->have_forward;
        q->text[0][t] = kit_token(s, w->original[t]);
        q->text[1][t] = kit_token(s, w->input[t]);
        q->text[2][t] = fw ? kit_token(s, w->corrupted[t]) : "";
        snprintf(q->num[t], sizeof q->num[t], "%.2f", (double)w->p_replaced[t]);
        if (!fw) q->num[t][0] = 0;
        q->text[3][t] = q->num[t];
        q->fill[0][t] = PLAIN;
        q->fill[1][t] = k == KIND_MASK ? C_MASK : k == KIND_KEPT ? C_KEPT : k == KIND_RANDOM ? C_RANDOM : PLAIN;
        q->fill[2][t] = !fw || !k ? PLAIN : w->rtd[t] ? C_REPLACED : C_LUCKY;
        q->fill[3][t] = fw ? viz_colormap(CMAP_VIRIDIS, w->p_replaced[t]) : PLAIN;
        q->band[t] = fw && w->rtd[t] ? C_REPLACED : (VizColor){0, 0, 0, 0};
        q->miss[t] = fw && (w->p_replaced[t] > 0.5f) != (bool)w->rtd[t];
    }
    q->rows[0] = (KitStrip){{"text", "text"}, q->text[0], q->fill[0], NULL, NULL};
    q->rows[1] = (KitStrip){{"generator reads", "gen. reads"}, q->text[1], q->fill[1], NULL, NULL};
    q->rows[2] = (KitStrip){{"discriminator reads", "disc. reads"}, q->text[2], q->fill[2], NULL, NULL};
    q->rows[3] = (KitStrip){{"P(replaced)", "P(repl.)"}, q->text[3], q->fill[3], q->band, q->miss};
}

static const char *const LEGEND[] = {"[MASK]", "kept", "replaced (the band under P too)", "sampled the original",
                                     "not selected", "wrong verdict (frame)", "random token"};
static int legend_n(const KitSnap *s) { return kit_snap_value(s, "random_replace_prob") > 0 ? 7 : 6; }

static void tooltip(Viz *v, const KitSnap *s, const ElSnap *w, int t)
{
    const char *orig = kit_token(s, w->original[t]);
    if (!s->have_forward) viz_tooltip(v, "position %d: \"%s\"; Space trains a step", t, orig);
    else if (!selected(w, t))
        viz_tooltip(v, "position %d: \"%s\", not selected: the discriminator reads the original. P(replaced) = %.3f: it %s",
                    t, orig, (double)w->p_replaced[t], verdict(w, t));
    else
        viz_tooltip(v, "position %d: \"%s\". The generator read \"%s\" and sampled \"%s\" (P = %.3f)%s. P(replaced) = %.3f: "
                       "the discriminator %s. Click: the generator's top 5",
                    t, orig, kit_token(s, w->input[t]), kit_token(s, w->corrupted[t]), (double)w->sample_p[t],
                    w->rtd[t] ? ", a replacement" : ", the original again", (double)w->p_replaced[t], verdict(w, t));
}

/* the picked position in words, and where it was selected the generator's top 5 with its sample */
static int detail(Viz *v, VizRect c, int y, const KitFrame *f, int at, bool draw)
{
    const KitSnap *s = f->s;
    const ElSnap *w = f->snap;
    char head[400];
    const char *orig = kit_token(s, w->original[at]);
    bool sel = selected(w, at);
    if (!sel)
        snprintf(head, sizeof head, "Position %d, \"%s\": not selected, so the generator left it alone. The discriminator "
                 "reads the original: P(replaced) %.2f, it %s.", at, orig, (double)w->p_replaced[at], verdict(w, at));
    else
        snprintf(head, sizeof head, "Position %d, \"%s\": the generator read %s%s%s and sampled \"%s\" (P %.3f%s): %s. The "
                 "discriminator: P(replaced) %.2f, it %s.", at, orig,
                 w->kind[at] == KIND_MASK ? "[MASK]" : w->kind[at] == KIND_KEPT ? "the word itself" : "\"",
                 w->kind[at] == KIND_RANDOM ? kit_token(s, w->input[at]) : "", w->kind[at] == KIND_RANDOM ? "\"" : "",
                 kit_token(s, w->corrupted[at]), (double)w->sample_p[at],
                 kit_snap_value(s, "sampling_temperature") != 1 ? " at its temperature" : "",
                 w->rtd[at] ? "replaced" : "the original again, so not replaced", (double)w->p_replaced[at], verdict(w, at));
    /* the top 5, the original ✓ and the sample marked; the sample added when it is not among them */
    int32_t ids[EL_TOPK + 1];
    float vals[EL_TOPK + 1];
    int n = 0;
    bool in_top = false;
    for (int j = 0; j < EL_TOPK && sel; j++)
        if ((ids[n] = w->top_id[(size_t)at * EL_TOPK + j]) >= 0) {
            in_top |= ids[n] == w->corrupted[at];
            vals[n++] = w->top_p[(size_t)at * EL_TOPK + j];
        }
    if (sel && !in_top) ids[n] = w->corrupted[at], vals[n++] = w->sample_p[at];
    char lab[EL_TOPK + 1][80], words[480];
    const char *labels[EL_TOPK + 1];
    int len = snprintf(words, sizeof words, "The generator's top 5:");
    for (int j = 0; j < n; j++) {
        const char *mark = ids[j] == w->original[at] ? " ✓" : "", *smp = ids[j] == w->corrupted[at] ? " ← sample" : "";
        snprintf(lab[j], sizeof lab[j], "%s%s%s", kit_token(s, ids[j]), mark, smp);
        labels[j] = lab[j];
        if (len > 0 && (size_t)len < sizeof words)
            len += snprintf(words + len, sizeof words - (size_t)len, "%s \"%s\"%s %.2f%s", j ? "," : "", kit_token(s, ids[j]), mark,
                            (double)vals[j], smp);
    }
    /* where it fits: the words beside the bars, above them, above the top 5 in a line, or alone */
    const char *cap = "The generator's top 5 (✓ the original)";
    int lh = viz_text_height(v, FONT_SANS, 10), gap = viz_px(v, 8), half = c.w * 9 / 20;
    int bars = n * (viz_text_height(v, FONT_MONO, 11) + viz_px(v, 2)), bottom = c.y + c.h;
    int full = viz_text_wrap_height(v, c.w, head, FONT_SANS, 10), cap_h = viz_text_wrap_height(v, half, cap, FONT_SANS, 10);
    int side = viz_text_wrap_height(v, half, head, FONT_SANS, 10) + cap_h;
    if (!draw) return full + (n ? lh + bars : 0);
    if (y + full > bottom) return 0;
    if (n && half >= viz_px(v, 190) && y + imax(side, bars) <= bottom) { /* the bars beside the words */
        int yt = y + viz_text_wrap(v, c.x, y, half, head, FONT_SANS, 10, VIZ_TEXT);
        viz_text_wrap(v, c.x, yt, half, cap, FONT_SANS, 10, C_GEN);
        viz_bars_range(v, (VizRect){c.x + half + gap, y, c.w - half - gap, bars}, labels, vals, n, C_GEN, "%.3f", 1);
        return 1;
    }
    y += viz_text_wrap(v, c.x, y, c.w, head, FONT_SANS, 10, VIZ_TEXT);
    if (n && y + lh + bars <= bottom) {
        viz_text_fit(v, c.x, y, c.w, cap, FONT_SANS, 10, C_GEN);
        viz_bars_range(v, (VizRect){c.x, y + lh, c.w, bars}, labels, vals, n, C_GEN, "%.3f", 1);
    } else if (n && !kit_put(v, c, &y, words, FONT_SANS, 10, C_GEN)) kit_more_hint(v, c, y, f, "the generator's top 5 here");
    return 1;
}

/* the whole panel at v's scale; with draw false, only its height */
static int replaced_draw(Viz *v, VizRect c, const KitFrame *f, bool draw)
{
    const KitSnap *s = f->s;
    const ElSnap *w = f->snap;
    int T = s->T < MAXT ? s->T : MAXT, at = picked(f), gap = viz_px(v, 4), lh = viz_text_height(v, FONT_SANS, 10);
    static Four q; /* the UI thread's own: one panel draws at a time */
    four_rows(f, &q);
    char cap[200];
    snprintf(cap, sizeof cap, "Window %d of %d (Tab: next). Click a token: framed in yellow, it is explained below.",
             s->focus + 1, s->B);
    VizColor lc[7] = {C_MASK, C_KEPT, C_REPLACED, C_LUCKY, PLAIN, VIZ_TEXT, C_RANDOM};
    int nl = legend_n(s), cap_h = viz_text_wrap_height(v, c.w, cap, FONT_SANS, 10);
    /* the largest strips with the whole key; else the smallest with a smaller key, then without
       the scale of P (the cells have the numbers) */
    KitStripFit k = {0};
    int leg = 0, leg_h = 0;
    for (bool fits = false; leg < 3 && !fits; leg += !fits) {
        leg_h = key_flow(v, c, 0, LEGEND, lc, nl, leg ? 9 : 10, leg < 2, false) + gap;
        for (float size = leg ? kit_strip_smallest(v) : 11; size >= kit_strip_smallest(v) && !fits; size -= 1) {
            k = kit_strip_fit(v, c.w, q.rows, 4, T, size);
            fits = k.blocks * (kit_strip_block_height(&k, q.rows, 4) + k.gap) + leg_h <= c.h;
        }
    }
    leg = leg > 2 ? 2 : leg;
    int strips = k.blocks * (kit_strip_block_height(&k, q.rows, 4) + k.gap);
    if (!draw) return cap_h + strips + leg_h + detail(v, c, c.y, f, at, false);
    int y = c.y;
    if (cap_h + strips + leg_h + lh <= c.h) y += viz_text_wrap(v, c.x, y, c.w, cap, FONT_SANS, 10, VIZ_DIM) + gap;
    bool all;
    int hover = kit_strip_draw(v, c, &y, &k, q.rows, 4, T, at, C_PICK, &all);
    if (hover >= 0) {
        tooltip(v, s, w, hover);
        if (v->mouse_clicked) f->ui->pick = hover + 1;
    }
    if (!all || y + leg_h > c.y + c.h) {
        kit_more_hint(v, c, y, f, all ? "what the colours mean" : "every position of the window");
        return 0;
    }
    y += key_flow(v, c, y, LEGEND, lc, nl, leg ? 9 : 10, leg < 2, true) + gap;
    if (!s->have_forward) viz_text_fit(v, c.x, y, c.w, "Press Space to train one step.", FONT_SANS, 11, VIZ_DIM);
    else if (!detail(v, c, y, f, at, true)) kit_more_hint(v, c, y, f, "the token clicked, in words");
    return 0;
}

static void replaced_panel(Viz *v, VizRect c, const KitFrame *f) { kit_draw_grown(v, c, f, replaced_draw); }

/* ------------------------------------------------------------ confusion ---- */

/* the verdicts summed over the last WINDOW steps: [TP, FN, FP, TN]; returns the steps summed */
static long last_counts(const KitSnap *s, double n[4])
{
    static const char *const COL[4] = {"tp", "fn", "fp", "tn"};
    long r0 = s->rows > WINDOW ? s->rows - WINDOW : 0;
    for (int k = 0; k < 4; k++) {
        int col = kit_metric_col(s, COL[k]);
        n[k] = 0;
        for (long r = r0; col >= 0 && r < s->rows; r++) n[k] += s->metrics[r * s->ncols + col];
    }
    return s->rows - r0;
}

/* accuracy against the trivial answer first: with 13% replaced, 87% is what "never replaced" gets */
static void verdict_lines(KitLines *l, const KitSnap *s, const double n[4])
{
    double rep = n[0] + n[1], tot = n[0] + n[1] + n[2] + n[3], acc = (n[0] + n[3]) / tot, triv = 1 - rep / tot;
    *l = (KitLines){0};
    kit_lines_add(l, FONT_BOLD, acc > triv + 0.0005 ? C_LUCKY : C_PICK, "Accuracy %.1f%%; always \"original\": %.1f%%",
                  100 * acc, 100 * triv);
    if (rep > 0) kit_lines_add(l, FONT_SANS, VIZ_TEXT, "Recall %.0f%% of %s replaced", 100 * n[0] / rep, kit_count((int64_t)rep));
    if (n[0] + n[2] > 0)
        kit_lines_add(l, FONT_SANS, VIZ_TEXT, "Precision %.0f%% of %s called replaced", 100 * n[0] / (n[0] + n[2]),
                      kit_count((int64_t)(n[0] + n[2])));
    else kit_lines_add(l, FONT_SANS, VIZ_TEXT, "Precision: none called replaced");
    double ea = kit_last_value(s, "eval_disc_accuracy"), er = kit_last_value(s, "eval_replaced_recall"),
           rk = kit_last_value(s, "eval_ranking");
    char rank[32] = "";
    if (!isnan(rk)) snprintf(rank, sizeof rank, ", ranking %.2f", rk);
    if (!isnan(ea))
        kit_lines_add(l, FONT_SANS, VIZ_DIM, "Held out: accuracy %.1f%%, recall %.0f%%%s", 100 * ea, isnan(er) ? 0 : 100 * er, rank);
}

static int confusion_draw(Viz *v, VizRect c, const KitFrame *f, bool draw)
{
    const KitSnap *s = f->s;
    double n[4];
    long used = last_counts(s, n);
    double rep = n[0] + n[1], tot = n[0] + n[1] + n[2] + n[3];
    if (!(tot > 0)) {
        if (draw) viz_text_wrap(v, c.x, c.y, c.w, "Press Space to train: the matrix sums the verdicts of the last 20 steps.",
                                FONT_SANS, 11, VIZ_DIM);
        return 0;
    }
    int y = c.y, pad = viz_px(v, 4), lh = viz_text_height(v, FONT_MONO, 10), small = viz_text_height(v, FONT_SANS, 9);
    int lab = viz_text_width(v, "replaced", FONT_SANS, 10) + 2 * pad;
    int cw = imax(viz_text_width(v, "said original", FONT_SANS, 9), viz_text_width(v, "00,000 · 100%", FONT_MONO, 10)) + 2 * pad;
    int ch = lh + pad, mw = lab + 2 * cw;
    static const char *const KEY[] = {"right", "wrong (deeper: larger share)"};
    VizColor kc[2] = {C_LUCKY, C_REPLACED};
    bool side = c.w - mw - 3 * pad >= viz_px(v, 200);
    char line[200];
    snprintf(line, sizeof line, "Last %ld step%s, %s tokens, %.1f%% replaced; verdict: P(replaced) > 0.5", used,
             used > 1 ? "s" : "", kit_count((int64_t)tot), 100 * rep / tot);
    KitLines l;
    verdict_lines(&l, s, n);
    int head = viz_text_wrap_height(v, c.w, line, FONT_SANS, 10) + pad, keyw = side ? mw : c.w;
    int mh = small + 2 * ch + pad + viz_legend_height(v, keyw, KEY, 2);
    int text = kit_lines_height(v, side ? c.w - mw - 3 * pad : c.w, &l);
    if (!draw) return head + (side ? imax(mh, text) : mh + pad + text);
    if (head + mh > c.h) { /* no room for the matrix: its figures in words */
        if (kit_lines_draw(v, c, &y, &l) < l.n) kit_more_hint(v, c, y, f, "the confusion matrix");
        return 0;
    }
    y += viz_text_wrap(v, c.x, y, c.w, line, FONT_SANS, 10, VIZ_DIM) + pad;
    /* rows: the truth; columns: what it said; a cell: its count and its share of the row */
    viz_text(v, c.x, y, "truth", FONT_SANS, 9, VIZ_DIM, ALIGN_LEFT);
    viz_text(v, c.x + lab + cw / 2, y, "said replaced", FONT_SANS, 9, VIZ_DIM, ALIGN_CENTER);
    viz_text(v, c.x + lab + cw + cw / 2, y, "said original", FONT_SANS, 9, VIZ_DIM, ALIGN_CENTER);
    for (int t = 0; t < 2; t++) {
        int yy = y + small + t * ch;
        viz_text(v, c.x, yy + (ch - viz_text_height(v, FONT_SANS, 10)) / 2, t ? "original" : "replaced", FONT_SANS, 10,
                 VIZ_TEXT, ALIGN_LEFT);
        double row = n[2 * t] + n[2 * t + 1];
        for (int p = 0; p < 2; p++) {
            double k = n[2 * t + p], share = row > 0 ? k / row : 0;
            VizRect r = {c.x + lab + p * cw, yy, cw - 2, ch - 2};
            VizColor fill = viz_mix(VIZ_PANEL, kc[t != p], 0.12f + 0.7f * (float)share);
            viz_fill(v, r, fill);
            char num[40];
            snprintf(num, sizeof num, "%s · %.0f%%", kit_count((int64_t)k), 100 * share);
            viz_text(v, r.x + r.w / 2, r.y + (r.h - lh) / 2, num, FONT_MONO, 10, kit_ink_on(fill), ALIGN_CENTER);
            if (viz_hover(v, r))
                viz_tooltip(v, "%s tokens were %s and the discriminator said %s: %.1f%% of the %s %s ones (last %ld steps)",
                            kit_count((int64_t)k), t ? "the original" : "replaced", p ? "original" : "replaced", 100 * share,
                            kit_count((int64_t)row), t ? "original" : "replaced", used);
        }
    }
    int ym = y + small + 2 * ch + pad;
    ym += viz_legend(v, c.x, ym, keyw, KEY, kc, 2);
    VizRect tr = side ? (VizRect){c.x + mw + 3 * pad, y, c.w - mw - 3 * pad, c.y + c.h - y}
                      : (VizRect){c.x, ym + pad, c.w, c.y + c.h - ym - pad};
    int ty = tr.y;
    if (kit_lines_draw(v, tr, &ty, &l) < l.n) kit_more_hint(v, c, side ? ym : ty, f, "precision, held-out figures");
    return 0;
}

static void confusion_panel(Viz *v, VizRect c, const KitFrame *f) { kit_draw_grown(v, c, f, confusion_draw); }

/* -------------------------------------------------------- learning signal ---- */

static int signal_draw(Viz *v, VizRect c, const KitFrame *f, bool draw)
{
    const KitSnap *s = f->s;
    int ce = kit_metric_col(s, "signal_electra"), cm = kit_metric_col(s, "signal_mlm");
    double e = s->extra[EL_SIGNAL_ELECTRA], m = s->extra[EL_SIGNAL_MLM], se = 0, sm = 0;
    for (long r = 0; ce >= 0 && cm >= 0 && r < s->rows; r++)
        se += s->metrics[r * s->ncols + ce], sm += s->metrics[r * s->ncols + cm];
    const char *note = "The generator is itself a masked LM: its mlm learns from the selected tokens too.";
    int lh = viz_text_height(v, FONT_SANS, 10) + viz_px(v, 2), pad = viz_px(v, 6), y = c.y;
    if (!draw) return 3 * lh + viz_text_wrap_height(v, c.w, note, FONT_SANS, 10);
    if (!s->have_forward || !(se > 0) || !(m > 0) || !(sm > 0)) {
        viz_text_wrap(v, c.x, c.y, c.w, "Press Space to train one step.", FONT_SANS, 11, VIZ_DIM);
        return 0;
    }
    char head[2][80];
    snprintf(head[0], sizeof head[0], "this batch: %.1f× as many", e / m);
    snprintf(head[1], sizeof head[1], "in %ld step%s: %.1f× as many", s->rows, s->rows > 1 ? "s" : "", se / sm);
    if (3 * lh > c.h) { /* no room for the bars: the ratio in words */
        snprintf(head[0], sizeof head[0], "The discriminator learns from %.1f× as many tokens as a masked LM", se / sm);
        if (!kit_put(v, c, &y, head[0], FONT_BOLD, 10, VIZ_TEXT)) kit_more_hint(v, c, y, f, "the tokens learned from");
        return 0;
    }
    /* two columns of bars, this batch and the run so far, each on its own scale */
    int lab = imax(viz_text_width(v, "discriminator", FONT_SANS, 10), viz_text_width(v, "masked LM", FONT_SANS, 10)) + pad;
    int cw = (c.w - lab) / 2, nw = viz_text_width(v, "0,000,000", FONT_MONO, 10), bh = lh * 3 / 5;
    for (int j = 0; j < 2; j++) viz_text_fit(v, c.x + lab + j * cw, y, cw - pad, head[j], FONT_BOLD, 10, VIZ_TEXT);
    static const char *const WHO[2] = {"discriminator", "masked LM"};
    double count[2][2] = {{e, se}, {m, sm}};
    for (int i = 0; i < 2; i++) {
        y += lh;
        VizColor col = i ? C_GEN : C_DISC;
        viz_text(v, c.x, y, WHO[i], FONT_SANS, 10, col, ALIGN_LEFT);
        for (int j = 0; j < 2; j++) {
            int x = c.x + lab + j * cw, len = imax(2, (int)((cw - pad - nw) * count[i][j] / count[0][j]));
            viz_fill(v, (VizRect){x, y + (lh - bh) / 2, len, bh}, col);
            viz_text(v, x + len + viz_px(v, 3), y, kit_count((int64_t)count[i][j]), FONT_MONO, 10, VIZ_TEXT, ALIGN_LEFT);
        }
    }
    if (viz_hover(v, (VizRect){c.x, c.y, c.w, 3 * lh}))
        viz_tooltip(v, "A term in the loss: the discriminator at every token (%s in this batch), a masked LM only at the "
                    "selected ones (%s). Since step 1: %s against %s", kit_count((int64_t)e), kit_count((int64_t)m),
                    kit_count((int64_t)se), kit_count((int64_t)sm));
    y += lh;
    kit_put(v, c, &y, note, FONT_SANS, 10, VIZ_DIM);
    return 0;
}

static void signal_panel(Viz *v, VizRect c, const KitFrame *f) { kit_draw_grown(v, c, f, signal_draw); }

/* -------------------------------------------------------------- the loss ---- */

static const KitStack stack = {PART_COUNT, PART_NAME, WEIGHT, PART_COLOR};
static void loss_panel(Viz *v, VizRect c, const KitFrame *f) { kit_stack_panel(v, c, f, &stack); }

/* ------------------------------------------------------------ two models ---- */

static const char *const TRAIN_LINE[] = {
    "Training both (G: generator only · D: discriminator only · W: λ)",
    "Training the generator only, on mlm; the discriminator is frozen (G: both again)",
    "Training the discriminator only, on λ·rtd; the generator is frozen (D: both again)"};

static void models_lines(KitLines *l, const KitFrame *f, bool brief)
{
    const KitSnap *s = f->s;
    const ElSnap *w = f->snap;
    int mode = (int)kit_snap_value(s, "train");
    const int64_t *ps = w->params;
    *l = (KitLines){.bars = !brief};
    if (!brief) kit_lines_add(l, FONT_BOLD, VIZ_TEXT, "%s", TRAIN_LINE[mode >= 0 && mode <= 2 ? mode : 0]);
    else /* one line of sizes (the train setting is in the header), then the experiment */
        kit_lines_add(l, FONT_SANS, VIZ_TEXT, "Generator %d wide, %s parameters; discriminator %d wide, %s; %s shared",
                      w->width[EL_GEN], kit_count(ps[EL_GEN]), w->width[EL_DISC], kit_count(ps[EL_DISC]), kit_count(w->shared));
    for (int i = EL_MODELS - 1; i >= 0 && !brief; i--) {
        kit_lines_add(l, FONT_SANS, i == EL_GEN ? C_GEN : C_DISC, "%s: %d wide, %d head%s, %d layers: %s parameters",
                      i == EL_GEN ? "Generator" : "Discriminator", w->width[i], w->heads[i], w->heads[i] > 1 ? "s" : "",
                      w->layers[i], kit_count(ps[i]));
        kit_lines_bar(l, (double)ps[i] / (double)(ps[0] > ps[1] ? ps[0] : ps[1]), ps[i] ? (double)w->shared / (double)ps[i] : 1);
    }
    if (!brief) {
        kit_lines_add(l, FONT_SANS, VIZ_DIM, "Shared: the embeddings, %s parameters in both (%s in all)", kit_count(w->shared),
                      kit_count(ps[0] + ps[1] - w->shared));
        kit_lines_add(l, FONT_SANS, VIZ_DIM, "Bars: the shared part dark, each model's own light");
        kit_lines_bar(l, -2, 0);
    }
    const KitFinding *fd = s->finding;
    if (!fd || fd->rows <= 0) kit_lines_add(l, FONT_SANS, VIZ_DIM, "No stored experiment (tests/bench/electra_finding --write).");
    else {
        kit_lines_add(l, FONT_BOLD, VIZ_TEXT, "Stored experiment: spam or ham after %g steps of pretraining",
                      kit_finding(fd, fd->row[0], "steps"));
        kit_lines_add(l, FONT_MONO, VIZ_DIM, "labels  MLM probe  MLM fine-tune  ELECTRA probe  ELECTRA fine-tune");
    }
    static const char *const COLS[4] = {"mlm_probe", "mlm_finetune", "electra_probe", "electra_finetune"};
    for (int i = 0; fd && i < fd->rows && l->n < 14; i++) {
        char a[4][24], sd[48];
        for (int k = 0; k < 4; k++) { /* mean ± standard deviation over the runs, in percent */
            snprintf(sd, sizeof sd, "%s_sd", COLS[k]);
            double m = kit_finding(fd, fd->row[i], COLS[k]), d = kit_finding(fd, fd->row[i], sd);
            if (isnan(m)) snprintf(a[k], sizeof a[k], "—");
            else if (isnan(d)) snprintf(a[k], sizeof a[k], "%.1f", 100 * m);
            else snprintf(a[k], sizeof a[k], "%.1f±%.1f", 100 * m, 100 * d);
        }
        kit_lines_add(l, FONT_MONO, VIZ_TEXT, "%-6s %10s %14s %14s %18s", fd->row[i], a[0], a[1], a[2], a[3]);
    }
    if (fd && fd->rows > 0) {
        double tr = kit_finding(fd, fd->row[0], "time_ratio");
        char time[80] = "";
        if (!isnan(tr)) snprintf(time, sizeof time, "; an ELECTRA step takes %.2f× as long", tr);
        kit_lines_add(l, FONT_SANS, VIZ_DIM, "Held-out accuracy in %%, ± the spread of %g runs (chance 50%%)%s",
                      kit_finding(fd, fd->row[0], "seeds"), time);
    }
}

static int models_need(Viz *v, VizRect c, const KitFrame *f)
{
    KitLines l;
    models_lines(&l, f, false);
    return kit_lines_height(v, c.w, &l);
}

static void models_panel(Viz *v, VizRect c, const KitFrame *f)
{
    float keep = v->scale;
    v->scale *= kit_grow(v, c, f, models_need);
    KitLines l;
    models_lines(&l, f, false);
    if (kit_lines_height(v, c.w, &l) > c.h) l.bars = false;
    if (kit_lines_height(v, c.w, &l) > c.h) models_lines(&l, f, true);
    int y = c.y;
    if (kit_lines_draw(v, c, &y, &l) < l.n) kit_more_hint(v, c, y, f, "the models' sizes, the stored experiment");
    v->scale = keep;
}

/* -------------------------------------------------------------------- probe ---- */

#define PROBE_MAX 64
typedef struct ElProbe {
    int32_t ids[PROBE_MAX];              /* as typed ([mask] is [MASK]) */
    int32_t read[PROBE_MAX];             /* what the discriminator read: each [MASK] filled by the generator */
    int len;
    bool cut, gen;                       /* gen: the generator filled the [mask]s */
    float p[PROBE_MAX];                  /* the discriminator's P(replaced) at every token */
    float top_p[PROBE_MAX * EL_TOPK];    /* the generator's top 5 at each [mask] */
    int32_t top_id[PROBE_MAX * EL_TOPK];
} ElProbe;

/* As in training: the generator fills the [mask]s (here with its most probable token, not a
 * sample, so the same sentence gets the same answer), then the discriminator reads the filled
 * sentence; it never reads [MASK] itself in training. */
static void probe_run(Run *r, Model *model, const char *text, void *result)
{
    ElProbe *out = result;
    int k = kit_probe_encode(r, text, out->ids, PROBE_MAX, &out->cut);
    memcpy(out->read, out->ids, (size_t)k * sizeof *out->read);
    int32_t rows[PROBE_MAX];
    int n = 0;
    for (int t = 0; t < k; t++)
        if (out->ids[t] == TOK_MASK) rows[n++] = t;
    Batch in = {1, k, out->ids, NULL, NULL};
    KitScope scope = kit_eval_begin(r);
    /* the run's generator beside the run's discriminator (not beside a long-trained one) */
    out->gen = n > 0 && model == kit_model(r, EL_DISC);
    if (out->gen) {
        Model *gen = kit_model(r, EL_GEN);
        Forward fg = {0};
        model_forward(gen, &r->tape, &in, &fg);
        Tensor *lg = model_lm_logits(gen, &r->tape, op_gather_rows(&r->tape, fg.hidden, rows, n));
        int V = lg->shape[lg->ndim - 1];
        for (int j = 0; j < n; j++) {
            kit_top_k(lg->data + (size_t)j * V, V, TOK_NUM_SPECIAL, EL_TOPK, out->top_p + rows[j] * EL_TOPK,
                      out->top_id + rows[j] * EL_TOPK);
            out->read[rows[j]] = out->top_id[rows[j] * EL_TOPK];
        }
    }
    Batch din = {1, k, out->read, NULL, NULL};
    Forward fd = {0};
    model_forward(model, &r->tape, &din, &fd);
    Tensor *logits = model_disc_logits(model, &r->tape, fd.hidden);
    for (int t = 0; t < k; t++) out->p[t] = sigmoid(logits->data[t]);
    kit_eval_end(r, scope);
    out->len = k;
}

static void probe_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const ElProbe *pr = f->ui->probe_result;
    if (!pr || pr->len == 0) {
        viz_text_wrap(v, c.x, c.y, c.w, "Type a sentence, perhaps with one word swapped for an odd one (or a [mask]), then "
                      "Enter: the discriminator's P(replaced) at every token.", FONT_SANS, 11, VIZ_DIM);
        return;
    }
    const char *text[PROBE_MAX], *read[PROBE_MAX], *num[PROBE_MAX];
    char nums[PROBE_MAX][8];
    VizColor fill[PROBE_MAX], rfill[PROBE_MAX], heat[PROBE_MAX];
    int top = -1;
    for (int t = 0; t < pr->len; t++) {
        text[t] = kit_token(s, pr->ids[t]);
        read[t] = kit_token(s, pr->read[t]);
        fill[t] = pr->ids[t] == TOK_MASK ? C_MASK : PLAIN;
        rfill[t] = pr->read[t] != pr->ids[t] ? C_REPLACED : PLAIN;
        snprintf(nums[t], sizeof nums[t], "%.2f", (double)pr->p[t]);
        num[t] = nums[t];
        heat[t] = viz_colormap(CMAP_VIRIDIS, pr->p[t]);
        if (pr->read[t] >= TOK_NUM_SPECIAL && (top < 0 || pr->p[t] > pr->p[top])) top = t;
    }
    KitStrip rows[3] = {{{"typed", "typed"}, text, fill, NULL, NULL},
                        {{"discriminator reads", "disc. reads"}, read, rfill, NULL, NULL},
                        {{"P(replaced)", "P(repl.)"}, num, heat, NULL, NULL}};
    if (!pr->gen) rows[1] = rows[2]; /* nothing filled: the typed sentence is what it read */
    int nrows = pr->gen ? 3 : 2;
    int lh = viz_text_height(v, FONT_SANS, 10), y = c.y;
    KitStripFit k = {0};
    for (float size = 11; size >= kit_strip_smallest(v); size -= 1) {
        k = kit_strip_fit(v, c.w, rows, nrows, pr->len, size);
        if (k.blocks * (kit_strip_block_height(&k, rows, nrows) + k.gap) + 2 * lh <= c.h) break;
    }
    bool all;
    int hover = kit_strip_draw(v, c, &y, &k, rows, nrows, pr->len, -1, C_PICK, &all);
    if (hover >= 0)
        viz_tooltip(v, "position %d \"%s\"%s: P(replaced) = %.3f, the discriminator says %s", hover, read[hover],
                    pr->read[hover] != pr->ids[hover] ? " (the generator's fill for [MASK])" : "", (double)pr->p[hover],
                    pr->p[hover] > 0.5f ? "replaced" : "original");
    char line[400];
    if (top >= 0 && pr->p[top] > 0.5f)
        snprintf(line, sizeof line, "It calls \"%s\" at position %d replaced (P = %.2f).", read[top], top, (double)pr->p[top]);
    else if (top >= 0)
        snprintf(line, sizeof line, "It calls no token replaced (P > 0.5); the highest P is %.2f, at \"%s\" (position %d).",
                 (double)pr->p[top], read[top], top);
    if (top >= 0) kit_put(v, c, &y, line, FONT_SANS, 10, VIZ_TEXT);
    if (pr->len < s->T)
        kit_put(v, c, &y, "[SEP] came only at the end of a full window in training: here it may look replaced.",
                FONT_SANS, 10, VIZ_DIM);
    snprintf(line, sizeof line, "Only the first %d tokens are read: the models were trained at seq_len %d.", s->T, s->T);
    if (pr->cut) kit_put(v, c, &y, line, FONT_SANS, 10, C_PICK);
    /* the generator's top 5 at each [MASK]: as bars side by side, or in words, as many as fit */
    int bar = viz_text_height(v, FONT_MONO, 11) + viz_px(v, 2), nmask = 0, j = 0, cw = c.w / 2;
    for (int t = 0; t < pr->len; t++) nmask += pr->ids[t] == TOK_MASK;
    if (nmask > 2) cw = c.w / 3;
    nmask = 0;
    bool bars = y + lh + EL_TOPK * bar <= c.y + c.h;
    for (int t = 0; t < pr->len && pr->gen; t++) {
        if (pr->ids[t] != TOK_MASK) continue;
        nmask++;
        const int32_t *id = pr->top_id + t * EL_TOPK;
        const float *p = pr->top_p + t * EL_TOPK;
        int len = snprintf(line, sizeof line, "[MASK] at %d, the generator's top 5 (it fills the first):", t);
        if (bars && j < 3) {
            viz_text_fit(v, c.x + j * cw, y, cw - viz_px(v, 6), line, FONT_SANS, 10, C_GEN);
            kit_topk_bars(v, (VizRect){c.x + j++ * cw, y + lh, cw - viz_px(v, 10), EL_TOPK * bar}, s, id, p, EL_TOPK, -1, C_GEN);
            continue;
        }
        for (int q = 0; q < EL_TOPK && id[q] >= 0 && len > 0 && (size_t)len < sizeof line; q++)
            len += snprintf(line + len, sizeof line - (size_t)len, "%s \"%s\" %.2f", q ? "," : "", kit_token(s, id[q]), (double)p[q]);
        if (!bars && kit_put(v, c, &y, line, FONT_SANS, 10, C_GEN)) j++;
    }
    if (j < nmask) kit_more_hint(v, c, bars ? y + lh + EL_TOPK * bar : y, f, "the generator's top 5 at every [MASK]");
}

/* ------------------------------------------------------------------ headline ---- */

/* the train setting first: G and D change it, and a narrow header keeps only the first part */
static void headline(const KitFrame *f, char *buf, size_t n)
{
    const KitSnap *s = f->s;
    static const char *const MODE[] = {"training both", "training the generator", "training the discriminator"};
    int mode = (int)kit_snap_value(s, "train");
    int len = snprintf(buf, n, "%s · λ = %g", MODE[mode >= 0 && mode <= 2 ? mode : 0], kit_snap_value(s, "rtd_weight"));
    const float *e = s->extra;
    double rep = e[EL_TP] + e[EL_FN], tot = rep + e[EL_FP] + e[EL_TN];
    if (s->have_forward && rep > 0 && len > 0 && (size_t)len < n)
        snprintf(buf + len, n - (size_t)len, " · this batch: discriminator %.1f%% right (always \"original\": %.1f%%), recall %.0f%%",
                 100.0 * e[EL_DISC_ACCURACY], 100 * (1 - rep / tot), 100 * e[EL_TP] / rep);
}

/* ------------------------------------------------------------- description ---- */

static const KitPanel panels[] = {
    {"Generator and discriminator: who replaced what, who noticed", replaced_panel, 38, 0, "Generator and discriminator"},
    {"Discriminator: confusion matrix", confusion_panel, 17, 0, "Confusion"},
    {"Learning signal: tokens with a term in the loss", signal_panel, 10, 0, "Learning signal"},
    {"The loss, part by part: mlm + λ·rtd", loss_panel, 17, 0, "The loss"},
    {"Two models: which learns, their sizes, the stored experiment", models_panel, 18, 0, "Two models"},
    {"Probe: a sentence, then Enter (Esc leaves)", probe_panel, 34, KIT_PANEL_PROBE, "Probe"},
};

static const char *const disc_series[] = {"eval_replaced_recall", "eval_ranking", NULL};
static const char *const disc_names[] = {"held-out recall", "held-out ranking", NULL};
static const int disc_colors[] = {5, 6};
static const char *const gen_series[] = {"replaced_share", NULL};
static const char *const gen_names[] = {"samples that replace", NULL};
static const int gen_colors[] = {6};

static const KitCurve curves[] = {
    {.title = "The generator's masked-LM loss (nats)", .ylabel = "cross-entropy", .train = "mlm",
     .heldout = "eval_mlm_loss", .ref = REF_UNIGRAM_ENTROPY, .ref_name = "unigram entropy", .short_title = "mlm"},
    {.title = "The discriminator's replaced-token loss (nats)", .ylabel = "binary cross-entropy", .train = "rtd",
     .heldout = "eval_rtd_loss", .ref = REF_BASE_RATE, .ref_name = "base rate", .ref2 = REF_COIN + 1,
     .ref2_name = "coin (ln 2)", .short_title = "rtd"},
    {.title = "The discriminator: accuracy, and recall of replaced tokens", .ylabel = "share", .train = "disc_accuracy",
     .heldout = "eval_disc_accuracy", .ref = -1, .bounded = true, .lo = 0, .hi = 1, .short_title = "Discriminator",
     .series = disc_series, .series_name = disc_names, .series_color = disc_colors, .series_points = true},
    {.title = "The generator: accuracy, and its samples that replace", .ylabel = "share", .train = "gen_accuracy",
     .heldout = "eval_gen_accuracy", .ref = -1, .bounded = true, .lo = 0, .hi = 1, .short_title = "Generator",
     .series = gen_series, .series_name = gen_names, .series_color = gen_colors},
};

static const double only_gen[] = {TRAIN_GENERATOR, TRAIN_BOTH}, only_disc[] = {TRAIN_DISCRIMINATOR, TRAIN_BOTH},
                    lambdas[] = {1, 10, 50, 100};

static const KitKey keys[] = {
    {'g', "train", 0, "train: the generator only ⇄ both", only_gen, 2},
    {'d', "train", 0, "train: the discriminator only ⇄ both", only_disc, 2},
    {'w', "rtd_weight", 0, "λ (rtd_weight): 1 → 10 → 50 → 100", lambdas, 4},
};

const LessonView electra_view = {
    .snapshot_bind = snapshot_bind,
    .snapshot_fill = snapshot_fill,
    .headline = headline,
    .panels = panels,
    .npanels = (int)(sizeof panels / sizeof panels[0]),
    .curves = curves,
    .ncurves = (int)(sizeof curves / sizeof curves[0]),
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .probe = probe_run,
    .probe_size = sizeof(ElProbe),
    .probe_help = "a sentence, perhaps with one word swapped for an odd one: which token does the discriminator call replaced?",
    .item = "window",
};
