/* panels.c — fmlab-mlm's own part of the dashboard (the kit draws the header, attention,
 * curves, notes and help):
 *
 *   the objective: the focus sequence as the corpus has it and as the model sees it, each
 *                  token coloured by what the corruption did (legend), the realised selection
 *                  rate and 80/10/10 split since step 1 against the settings
 *   predictions:   the model's top-5 guesses at the selected positions
 *   probe:         a typed sentence with [mask] in it and the model's guesses there
 *
 * and its keys: [ ] ; ' , . change the corruption's rates while it trains, D switches between
 * dynamic and static masking. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lessons/common/view.h"
#include "lessons/mlm/lesson.h"

/* ------------------------------------------------------------------ snapshot ---- */

/* what the panels show of the focus sequence, in one flat blob (view.h) */
typedef struct MlmSnap {
    int64_t tally[6];
    int32_t *original, *input, *labels;   /* (T) */
    int32_t *top_id;                      /* (T, TOPK) */
    float *top_p;
    uint8_t *kind;                        /* (T) */
} MlmSnap;

static size_t snapshot_bind(void *blob, const KitSnap *s)
{
    size_t T = (size_t)s->T, size = sizeof(MlmSnap) + T * (3 + 2 * TOPK) * 4 + T;
    if (!blob) return size;
    MlmSnap *w = blob;
    int32_t *p = (int32_t *)(w + 1);
    w->original = p;
    w->input = p + T;
    w->labels = p + 2 * T;
    w->top_id = p + 3 * T;
    w->top_p = (float *)(p + (3 + TOPK) * T);
    w->kind = (uint8_t *)(p + (3 + 2 * TOPK) * T);
    return size;
}

static void snapshot_fill(void *blob, const Run *r, int focus)
{
    MlmSnap *w = blob;
    const Mlm *m = KIT_SELF(r, Mlm);
    const MlmBatch *b = &m->batch;
    size_t T = (size_t)r->T, off = (size_t)focus * T;
    memcpy(w->tally, m->tally, sizeof w->tally);
    memcpy(w->original, b->original + off, T * 4);
    memcpy(w->input, b->input + off, T * 4);
    memcpy(w->labels, b->labels + off, T * 4);
    memcpy(w->kind, b->kind + off, T);
    memcpy(w->top_p, m->top_p + off * TOPK, T * TOPK * sizeof(float));
    memcpy(w->top_id, m->top_id + off * TOPK, T * TOPK * 4);
}

static void headline(const KitFrame *f, char *buf, size_t n)
{
    snprintf(buf, n, "masked-token accuracy %.1f%%", 100.0 * f->s->extra[MLM_ACCURACY]);
}

/* ------------------------------------------------------------------- panels ---- */

static const char *const kind_names[4] = {"not selected", "replaced by [MASK]", "replaced by a random token", "kept, still predicted"};

static VizColor kind_color(int k)
{
    switch (k) {
    case KIND_MASK: return VIZ_ACCENT[0];        /* orange */
    case KIND_RANDOM: return VIZ_ACCENT[6];      /* reddish purple */
    case KIND_KEPT: return VIZ_ACCENT[1];        /* sky blue */
    default: return (VizColor){58, 62, 76, 255};
    }
}

static void corruption_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const MlmSnap *w = f->snap;
    int T = s->T, lh = viz_text_height(v, FONT_SANS, 11), gap = viz_px(v, 6);
    const char *names[2][512];
    VizColor fills[2][512];
    for (int t = 0; t < T && t < 512; t++) {
        names[0][t] = kit_token(s, w->original[t]);
        names[1][t] = kit_token(s, w->input[t]);
        fills[0][t] = w->kind[t] ? viz_mix(kind_color(w->kind[t]), VIZ_PANEL, 0.55f) : kind_color(0);
        fills[1][t] = kind_color(w->kind[t]);
    }
    /* the realised rates since the last change of a rate (or step 1) against the targets, and
       the held-out loss and accuracy by kind: which positions are easy, which hard */
    double n = (double)w->tally[4], sel = (double)(w->tally[1] + w->tally[2] + w->tally[3]);
    double mask = kit_snap_value(s, "mask_replace_prob"), rnd = kit_snap_value(s, "random_replace_prob");
    char rate[2][256] = {"", ""}, held[256] = "";
    if (n > 0 && sel > 0) {
        snprintf(rate[0], sizeof rate[0], "since step %lld: selected %.2f%% (target %.0f%%)", (long long)w->tally[5] + 1,
                 100 * sel / n, 100.0 * kit_snap_value(s, "mlm_probability"));
        /* no-break spaces (U+00A0) keep "(targets 80 · 10 · 10)" on one line when it wraps */
        snprintf(rate[1], sizeof rate[1],
                 "[MASK] %.1f%% · random %.1f%% · kept %.1f%% (targets\u00a0%.0f\u00a0·\u00a0%.0f\u00a0·\u00a0%.0f)",
                 100 * w->tally[1] / sel, 100 * w->tally[2] / sel, 100 * w->tally[3] / sel, 100.0 * mask, 100.0 * rnd,
                 100.0 * (1 - mask - rnd));
    }
    /* which masks, and on what data: static masks only come again when windows do, so with
       train_windows the epoch says how often each window (and its mask) has been seen */
    char data[160];
    double nwin = kit_snap_value(s, "train_windows");
    bool fixed = kit_snap_value(s, "masking") == MASKING_STATIC;
    int k = snprintf(data, sizeof data, "%s", fixed ? "static masks: each window keeps its mask (D: dynamic)"
                                                   : "dynamic masks: fresh at every draw (D: static)");
    if (nwin > 0)
        snprintf(data + k, sizeof data - (size_t)k, " · %.0f training windows, epoch %.1f", nwin, (double)s->step * s->B / nwin);
    static const char *const cols[6] = {"eval_mask_loss",     "eval_random_loss",     "eval_kept_loss",
                                        "eval_mask_accuracy", "eval_random_accuracy", "eval_kept_accuracy"};
    double e[6];
    for (int i = 0; i < 6; i++) e[i] = kit_last_value(s, cols[i]);
    if (!isnan(e[0]))
        snprintf(held, sizeof held, "held-out loss (nats) / accuracy: [MASK] %.2f / %.0f%% · random %.2f / %.0f%% · kept %.2f / %.0f%%", e[0],
                 100 * e[3], e[1], 100 * e[4], e[2], 100 * e[5]);
    VizColor lc[4] = {kind_color(0), kind_color(1), kind_color(2), kind_color(3)};
    static const char *const legend[4] = {"not selected", "[MASK]", "random token", "kept (still predicted)"};
    int h_rate = viz_text_wrap_height(v, c.w, rate[0], FONT_MONO, 11) + viz_text_wrap_height(v, c.w, rate[1], FONT_MONO, 11) +
                 viz_text_wrap_height(v, c.w, data, FONT_MONO, 11);
    int h_held = viz_text_wrap_height(v, c.w, held, FONT_MONO, 11);
    int h_legend = viz_legend_height(v, c.w, legend, 4) + viz_px(v, 4);
    /* what fits, most needed first: what the model sees, the legend and the rates; then the
       original text above them at the largest token size that fits (else its tokens are in
       the tooltips of what the model sees); then the held-out line */
    float tsize = 11;
    bool original = false;
    for (int both = 1; both >= 0 && !original; both--)
        for (tsize = 11; tsize >= 9; tsize -= 0.5f)
            if ((1 + both) * (lh + viz_tokens_height(v, c.w, names[1], T, tsize) + gap) + h_legend + h_rate <= c.h) {
                original = both;
                break;
            }
    if (tsize < 9) tsize = 9;
    int strip = viz_tokens_height(v, c.w, names[1], T, tsize) + 1, hover = -1, y = c.y;
    char title[96];
    if (original) {
        snprintf(title, sizeof title, "original text (sequence %d of %d; Tab: next)", s->focus + 1, s->B);
        y += viz_text_wrap(v, c.x, y, c.w, title, FONT_SANS, 11, VIZ_DIM);
        y += viz_tokens(v, (VizRect){c.x, y, c.w, strip}, names[0], fills[0], T, tsize, &hover) + gap;
        if (hover >= 0) viz_tooltip(v, "position %d: \"%s\" (id %d)", hover, names[0][hover], w->original[hover]);
        snprintf(title, sizeof title, "what the model sees (input_ids)");
    } else {
        snprintf(title, sizeof title, "what the model sees (sequence %d of %d; hover: the original)", s->focus + 1, s->B);
    }
    y += viz_text_wrap(v, c.x, y, c.w, title, FONT_SANS, 11, VIZ_DIM);
    y += viz_tokens(v, (VizRect){c.x, y, c.w, strip}, names[1], fills[1], T, tsize, &hover) + gap;
    if (hover >= 0)
        viz_tooltip(v, "position %d: %s; input \"%s\", original \"%s\", label %s", hover, kind_names[w->kind[hover]],
                    names[1][hover], names[0][hover], w->labels[hover] >= 0 ? "the original" : "-100 (ignored)");
    y += viz_legend(v, c.x, y, c.w, legend, lc, 4) + viz_px(v, 4);
    if (rate[0][0]) {
        int y0 = y;
        y += viz_text_wrap(v, c.x, y, c.w, rate[0], FONT_MONO, 11, VIZ_TEXT);
        y += viz_text_wrap(v, c.x, y, c.w, rate[1], FONT_MONO, 11, VIZ_TEXT);
        if (viz_hover(v, (VizRect){c.x, y0, c.w, y - y0}))
            viz_tooltip(v, "%.0f tokens seen, %.0f selected: %lld [MASK], %lld random, %lld kept", n, sel,
                        (long long)w->tally[1], (long long)w->tally[2], (long long)w->tally[3]);
    }
    int yd = y;
    y += viz_text_wrap(v, c.x, y, c.w, data, FONT_MONO, 11, VIZ_TEXT);
    if (viz_hover(v, (VizRect){c.x, yd, c.w, y - yd}))
        viz_tooltip(v, "RoBERTa's dynamic masking draws a new mask each time a sequence is fed; BERT's masks were drawn once. "
                       "They differ only when windows come again: --set train_windows=N trains on N windows only");
    if (held[0] && y + h_held <= c.y + c.h) {
        viz_text_wrap(v, c.x, y, c.w, held, FONT_MONO, 11, VIZ_ACCENT[3]);
        if (viz_hover(v, (VizRect){c.x, y, c.w, h_held}))
            viz_tooltip(v, "loss (nats) and accuracy on the held-out set at each kind of selected position, last evaluation");
    }
}

static void predictions_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const MlmSnap *w = f->snap;
    int shown = 0, cols = c.w > viz_px(v, 560) ? 3 : 2, lh = viz_text_height(v, FONT_MONO, 11);
    int cell_w = c.w / cols, cell_h = lh * 2 + 5 * (lh + viz_px(v, 2));
    int rows = c.h / cell_h;
    if (!s->have_forward) {
        viz_text(v, c.x, c.y, "Press Space to train one step.", FONT_SANS, 12, VIZ_DIM, ALIGN_LEFT);
        return;
    }
    for (int t = 0; t < s->T && shown < rows * cols; t++) {
        if (w->labels[t] < 0) continue;
        int cx = c.x + (shown % cols) * cell_w, cy = c.y + (shown / cols) * cell_h;
        char head[96];
        const char *target = kit_token(s, w->labels[t]);
        const char *how = w->kind[t] == KIND_MASK ? "[MASK]" : w->kind[t] == KIND_RANDOM ? "random" : "kept";
        snprintf(head, sizeof head, "pos %d (%s) → \"%s\"", t, how, target);
        viz_text_fit(v, cx, cy, cell_w - viz_px(v, 8), head, FONT_SANS, 10, VIZ_TEXT);
        kit_topk_bars(v, (VizRect){cx, cy + lh + viz_px(v, 2), cell_w - viz_px(v, 10), cell_h - lh * 2}, s,
                      w->top_id + (size_t)t * TOPK, w->top_p + (size_t)t * TOPK, TOPK, w->labels[t], VIZ_ACCENT[2]);
        shown++;
    }
    bool any = false;
    for (int t = 0; t < s->T; t++) any |= w->labels[t] >= 0;
    if (!shown)
        viz_text_fit(v, c.x, c.y, c.w, any ? "Too little room at this text size: Z enlarges this panel."
                                           : "No position of this sequence was selected.", FONT_SANS, 12, VIZ_DIM);
}

/* The probe: the typed sentence as the model reads it (its WordPiece pieces, each [mask]
 * numbered), then the model's top-5 at every [mask], re-run after each training step. */
static void probe_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const MlmProbe *pr = f->ui->probe_result;
    if (!pr) {
        viz_text(v, c.x, c.y, "Type a sentence with [mask] in it, then Enter.", FONT_SANS, 11, VIZ_DIM, ALIGN_LEFT);
        return;
    }
    const char *names[PROBE_MAX] = {0};
    VizColor fills[PROBE_MAX] = {{0}};
    char labels[PROBE_MAX][24];
    int nmask = 0;
    for (int i = 0; i < pr->len; i++) {
        if (pr->ids[i] == TOK_MASK) snprintf(labels[i], sizeof labels[i], "[mask %d]", ++nmask);
        else snprintf(labels[i], sizeof labels[i], "%s", kit_token(s, pr->ids[i]));
        names[i] = labels[i];
        fills[i] = pr->ids[i] == TOK_MASK ? VIZ_ACCENT[0] : (VizColor){58, 62, 76, 255};
    }
    int hover;
    int y = c.y + viz_tokens(v, (VizRect){c.x, c.y, c.w, c.h / 3}, names, fills, pr->len, 11, &hover) + viz_px(v, 4);
    int lh = viz_text_height(v, FONT_SANS, 10);
    if (pr->cut) {
        char msg[96];
        snprintf(msg, sizeof msg, "Only the first %d tokens are read: the models were trained at seq_len %d.", s->T, s->T);
        viz_text_fit(v, c.x, y, c.w, msg, FONT_SANS, 10, VIZ_ACCENT[3]);
        y += lh;
    }
    if (!nmask) {
        viz_text(v, c.x, y, "No [mask] in the sentence: add one where the model should guess.", FONT_SANS, 11, VIZ_ACCENT[3],
                 ALIGN_LEFT);
        return;
    }
    /* the guesses at every [mask]: this run's model, and the long-trained one's beside it */
    const MlmProbe *tr = f->ui->probe_trained;
    int models = tr ? 2 : 1, bottom = c.y + c.h;
    if (!tr && f->ui->trained) { /* why there is no trained model to compare with */
        bottom -= lh;
        viz_text_fit(v, c.x, bottom, c.w, f->ui->trained, FONT_SANS, 10, VIZ_DIM);
    }
    if (tr) {
        char a[64], b[96];
        snprintf(a, sizeof a, "this run, step %ld", s->step);
        snprintf(b, sizeof b, "%s", f->ui->trained);
        viz_text_fit(v, c.x, y, c.w / 2 - viz_px(v, 6), a, FONT_SANS, 10, VIZ_TEXT);
        viz_text_fit(v, c.x + c.w / 2, y, c.w / 2, b, FONT_SANS, 10, VIZ_ACCENT[2]);
        y += lh;
    }
    int per_row = tr ? (nmask < 2 ? 1 : 2) : (nmask < 4 ? nmask : 4);   /* masks side by side */
    int rows = (nmask + per_row - 1) / per_row, cw = c.w / (per_row * models), rh = (bottom - y) / rows, k = 0;
    for (int i = 0; i < pr->len; i++) {
        if (pr->ids[i] != TOK_MASK) continue;
        int cy = y + (k / per_row) * rh;
        for (int mo = 0; mo < models; mo++) {
            const MlmProbe *p = mo ? tr : pr;
            int cx = c.x + (tr ? mo * (c.w / 2) + (k % per_row) * cw : (k % per_row) * cw);
            char head[32];
            snprintf(head, sizeof head, "[mask %d]", k + 1);
            viz_text(v, cx, cy, head, FONT_SANS, 10, mo ? VIZ_ACCENT[2] : VIZ_ACCENT[0], ALIGN_LEFT);
            kit_topk_bars(v, (VizRect){cx, cy + lh, cw - viz_px(v, 6), rh - lh}, s, p->top_id + i * TOPK,
                          p->top_p + i * TOPK, TOPK, -1, mo ? VIZ_ACCENT[2] : VIZ_ACCENT[0]);
        }
        k++;
    }
}

static void probe_run(Run *r, Model *model, const char *text, void *result) { mlm_probe(r, model, text, result); }

/* ------------------------------------------------------------- description ---- */

static const KitPanel panels[] = {
    {"The objective: hide tokens, predict them", corruption_panel, 47, 0, "The objective"},
    {"Top-5 guesses at the selected positions", predictions_panel, 31, 0, "Top-5 guesses"},
    {"Probe: a sentence with [mask] in it, then Enter (Esc leaves)", probe_panel, 30, KIT_PANEL_PROBE, "Probe"},
};

static const KitCurve curves[] = {
    {"Loss at selected tokens (nats)", "cross-entropy", "mlm", "eval_loss", REF_UNIGRAM_ENTROPY, "unigram entropy", false, 0, 0,
     "Loss (nats)", 0, NULL, NULL, NULL, NULL, false, false},
    {"Accuracy at selected tokens", "accuracy", "accuracy", "eval_accuracy", REF_UNIGRAM_ACCURACY,
     "unigram (most frequent token)", true, 0, 1, "Accuracy", 0, NULL, NULL, NULL, NULL, false, false},
};

static const KitKey keys[] = {
    {'[', "mlm_probability", -0.05, "mlm_probability −0.05", NULL, 0},
    {']', "mlm_probability", +0.05, "mlm_probability +0.05", NULL, 0},
    {';', "mask_replace_prob", -0.1, "[MASK] share −0.1", NULL, 0},
    {'\'', "mask_replace_prob", +0.1, "[MASK] share +0.1", NULL, 0},
    {',', "random_replace_prob", -0.05, "random-token share −0.05", NULL, 0},
    {'.', "random_replace_prob", +0.05, "random-token share +0.05", NULL, 0},
    {'d', "masking", +1, "masking: dynamic or static", NULL, 0},
};

const LessonView mlm_view = {
    .snapshot_bind = snapshot_bind,
    .snapshot_fill = snapshot_fill,
    .headline = headline,
    .panels = panels,
    .npanels = 3,
    .curves = curves,
    .ncurves = 2,
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .probe = probe_run,
    .probe_size = sizeof(MlmProbe),
    .probe_help = "type a sentence with [mask] in it",
};
