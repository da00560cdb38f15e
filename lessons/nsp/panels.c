/* panels.c — fmlab-nsp's own part of the dashboard (the kit draws the header, attention,
 * curves, notes and help):
 *
 *   the input:  the focus pair as the model reads it, [CLS] A [SEP] B [SEP] [PAD]…, coloured
 *               by segment, each token's position under it and, under that, how much
 *               attention [CLS] pays it in the enlarged head; for the token under the mouse,
 *               its three embeddings (token, segment, position) and their sum
 *   the pairs:  every pair of the batch, its label and the model's P(IsNext), right or wrong;
 *               held-out NSP and SOP accuracy beside the word-overlap baseline and the
 *               stored NSP-vs-SOP table of tests/bench/nsp_finding
 *   probe:      two typed sentences, P(IsNext) both ways round
 *
 * and its keys: T switches the objective (NSP ⇄ SOP), [ ] change the masking rate. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lessons/common/view.h"
#include "lessons/nsp/lesson.h"

/* ------------------------------------------------------------------ snapshot ---- */

typedef struct NspSnap {
    NspOverlap overlap;
    NspFinding finding;
    int task, H;                          /* how the batch's pairs were made; hidden_size */
    int32_t *pair_label, *docs;           /* (B), (B,2) */
    float *p;                             /* (B) P(label 0) */
    int32_t *original, *input, *types;    /* (T) of the focus pair */
    uint8_t *kind, *mask;                 /* (T) */
    float *emb;                           /* (T,3,H) token, segment, position rows */
} NspSnap;

static size_t snapshot_bind(void *blob, const KitSnap *s)
{
    size_t B = (size_t)s->B, T = (size_t)s->T, H = (size_t)kit_snap_value(s, "hidden_size");
    size_t size = sizeof(NspSnap) + (B * 4 + T * 3 + T * 3 * H) * 4 + T * 2;
    if (!blob) return size;
    NspSnap *w = blob;
    int32_t *p = (int32_t *)(w + 1);
    w->H = (int)H;
    w->pair_label = p;
    w->docs = p + B;
    w->p = (float *)(p + 3 * B);
    w->original = p + 4 * B;
    w->input = w->original + T;
    w->types = w->input + T;
    w->emb = (float *)(w->types + T);
    w->kind = (uint8_t *)(w->emb + T * 3 * H);
    w->mask = w->kind + T;
    return size;
}

static void snapshot_fill(void *blob, const Run *r, int focus)
{
    NspSnap *w = blob;
    const Nsp *m = KIT_SELF(r, Nsp);
    const NspBatch *b = &m->batch;
    const Model *model = &r->models[0].model;
    size_t T = (size_t)r->T, B = (size_t)r->B, H = (size_t)w->H, off = (size_t)focus * T;
    w->overlap = m->overlap;
    w->finding = m->finding;
    w->task = b->task;
    memcpy(w->pair_label, b->pair_label, B * 4);
    memcpy(w->docs, b->docs, B * 2 * 4);
    memcpy(w->p, m->p_is_next, B * 4);
    memcpy(w->original, b->original + off, T * 4);
    memcpy(w->input, b->input + off, T * 4);
    memcpy(w->types, b->token_types + off, T * 4);
    memcpy(w->kind, b->kind + off, T);
    memcpy(w->mask, b->attention_mask + off, T);
    for (size_t t = 0; t < T; t++) { /* the three rows the embedding layer adds up */
        memcpy(w->emb + (t * 3 + 0) * H, model->word_emb->data + (size_t)w->input[t] * H, H * 4);
        memcpy(w->emb + (t * 3 + 1) * H, model->type_emb->data + (size_t)w->types[t] * H, H * 4);
        memcpy(w->emb + (t * 3 + 2) * H, model->pos_emb->data + t * H, H * 4);
    }
}

/* the names of the two labels of a task */
static const char *label_name(int task, int label)
{
    static const char *const names[2][2] = {{"IsNext", "NotNext"}, {"in order", "swapped"}};
    return names[task][label];
}

static void headline(const KitFrame *f, char *buf, size_t n)
{
    const NspSnap *w = f->snap;
    double held = kit_last_value(f->s, "eval_pair_accuracy");
    int len = snprintf(buf, n, "%s accuracy %.0f%%", w->task == OBJ_SOP ? "SOP" : "NSP",
                       100.0 * f->s->extra[NSP_PAIR_ACCURACY]);
    if (!isnan(held) && len > 0 && (size_t)len < n) snprintf(buf + len, n - (size_t)len, " (held-out %.0f%%)", 100 * held);
}

/* ------------------------------------------------------------------- panels ---- */

static const VizColor SEG_A = {86, 180, 233, 255}, SEG_B = {230, 159, 0, 255}, SPECIAL = {120, 124, 140, 255},
                      PAD = {44, 47, 58, 255}, SELECTED = {204, 121, 167, 255}, RIGHT = {0, 158, 115, 255},
                      WRONG = {213, 94, 0, 255};

static int chosen = -1;   /* the token whose embeddings are shown (the UI thread's own) */

/* four heat strips of H cells: token, segment, position and their sum, on one diverging
 * scale symmetric about 0 */
static int embedding_strips(Viz *v, VizRect c, const KitSnap *s, const NspSnap *w, int t)
{
    int H = w->H;
    float rows[4 * 1024];
    if (H > 1024) return 0;
    float mx = 1e-6f;
    for (int i = 0; i < H; i++) {
        const float *e = w->emb + (size_t)t * 3 * H;
        rows[i] = e[i], rows[H + i] = e[H + i], rows[2 * H + i] = e[2 * H + i];
        rows[3 * H + i] = e[i] + e[H + i] + e[2 * H + i];
        for (int k = 0; k < 4; k++) mx = fabsf(rows[k * H + i]) > mx ? fabsf(rows[k * H + i]) : mx;
    }
    char l0[64], l1[32], l2[32];
    snprintf(l0, sizeof l0, "token \"%s\"", kit_token(s, w->input[t]));
    snprintf(l1, sizeof l1, "segment %s (%d)", w->types[t] ? "B" : "A", w->types[t]);
    snprintf(l2, sizeof l2, "position %d", t);
    const char *labels[4] = {l0, l1, l2, "sum (then LayerNorm)"};
    int lh = viz_text_height(v, FONT_SANS, 10);
    char title[128];
    snprintf(title, sizeof title, "the input of position %d is a sum of three lookups (%d numbers each; hover a token)", t, H);
    int y = c.y + viz_text_wrap(v, c.x, c.y, c.w, title, FONT_SANS, 10, VIZ_DIM);
    VizHeatmap hm = {rows, 4, H, -mx, mx, CMAP_DIVERGING, labels, NULL, "value", true, NULL};
    int h = 4 * (lh + viz_px(v, 2)) + lh;
    if (y + h > c.y + c.h) h = c.y + c.h - y;
    if (h < 4 * lh) return y - c.y;
    int hr, hc;
    viz_heatmap(v, (VizRect){c.x, y, c.w, h}, &hm, &hr, &hc);
    return y + h - c.y;
}

static void input_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const NspSnap *w = f->snap;
    int T = s->T, b = s->focus, gap = viz_px(v, 6);
    const char *names[512], *under[512];
    char pos[512][8];
    VizColor fills[512], bars[512];
    /* [CLS]'s row of the enlarged head: what the pooler's input attends to */
    const KitAttn *a = &s->attn[f->ui->attn < s->nattn ? f->ui->attn : 0];
    int layer = f->ui->layer < a->L ? f->ui->layer : a->L - 1, head = f->ui->head < a->NH ? f->ui->head : a->NH - 1;
    const float *cls = a->p + (((size_t)layer * a->NH + head) * T) * T;
    float mx = 1e-6f;
    for (int t = 0; t < T; t++) mx = cls[t] > mx ? cls[t] : mx;
    int shown = 0;
    for (int t = 0; t < T && t < 512; t++) {
        if (!w->mask[t] && t > 0 && !w->mask[t - 1] && t + 1 < T) continue; /* one [PAD] stands for the rest */
        names[shown] = kit_token(s, w->input[t]);
        snprintf(pos[shown], sizeof pos[shown], "%d", t);
        under[shown] = pos[shown];
        fills[shown] = !w->mask[t] ? PAD : vocab_is_special(w->input[t]) && !w->kind[t] ? SPECIAL
                       : w->kind[t] ? SELECTED : w->types[t] ? SEG_B : SEG_A;
        bars[shown] = w->mask[t] ? viz_colormap(CMAP_VIRIDIS, cls[t] / mx) : VIZ_PANEL;
        shown++;
    }
    /* the pair's label and the model's answer */
    char line[256];
    int label = w->pair_label[b];
    bool right = (w->p[b] < 0.5f) == (label == 1);
    if (w->task == OBJ_NSP && label == 1)
        snprintf(line, sizeof line, "pair %d of %d (Tab: next): NotNext — A from chapter %d, B from chapter %d", b + 1, s->B,
                 w->docs[2 * b] + 1, w->docs[2 * b + 1] + 1);
    else if (w->task == OBJ_NSP)
        snprintf(line, sizeof line, "pair %d of %d (Tab: next): IsNext — B follows A in chapter %d", b + 1, s->B,
                 w->docs[2 * b] + 1);
    else
        snprintf(line, sizeof line, "pair %d of %d (Tab: next): %s — two consecutive segments of chapter %d", b + 1, s->B,
                 label_name(OBJ_SOP, label), w->docs[2 * b] + 1);
    int y = c.y + viz_text_wrap(v, c.x, c.y, c.w, line, FONT_SANS, 11, VIZ_TEXT);
    if (s->have_forward) {
        snprintf(line, sizeof line, "the model: P(%s) = %.2f — %s", label_name(w->task, 0), (double)w->p[b],
                 right ? "right ✓" : "wrong ✗");
        y += viz_text_wrap(v, c.x, y, c.w, line, FONT_SANS, 11, right ? RIGHT : WRONG);
    }
    int hover = -1;
    float size = 11;
    while (size > 8 && viz_tokens_under_height(v, c.w, names, shown, size, under, true) > c.h / 2) size -= 0.5f;
    y += viz_tokens_under(v, (VizRect){c.x, y, c.w, c.y + c.h - y}, names, fills, shown, size, under, bars, &hover) + gap / 2;
    int t_hover = -1;
    if (hover >= 0) {
        t_hover = atoi(pos[hover]);
        chosen = t_hover;
        const char *seg = !w->mask[t_hover] ? "padding (attention_mask 0: no token attends to it)"
                          : w->types[t_hover] ? "segment B (token_type_ids 1)" : "segment A (token_type_ids 0)";
        viz_tooltip(v, "position %d: \"%s\" (original \"%s\"), %s%s; [CLS] attention %.3f (layer %d head %d)", t_hover,
                    kit_token(s, w->input[t_hover]), kit_token(s, w->original[t_hover]), seg,
                    w->kind[t_hover] ? ", selected for MLM" : "", (double)cls[t_hover], layer + 1, head + 1);
    }
    static const char *const legend[6] = {"segment A", "segment B", "[CLS] [SEP]", "selected for MLM", "[PAD]",
                                          "band: attention from [CLS]"};
    const VizColor lc[6] = {SEG_A, SEG_B, SPECIAL, SELECTED, PAD, viz_colormap(CMAP_VIRIDIS, 0.8f)};
    y += viz_legend(v, c.x, y, c.w, legend, lc, 6) + gap / 2;
    if (chosen < 0 || chosen >= T || !w->mask[chosen]) { /* first token of B, where the segment changes */
        chosen = 1;
        for (int t = 1; t < T; t++)
            if (w->types[t]) { chosen = t; break; }
    }
    if (y < c.y + c.h) embedding_strips(v, (VizRect){c.x, y, c.w, c.y + c.h - y}, s, w, chosen);
}

static void pairs_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const NspSnap *w = f->snap;
    if (!s->have_forward) {
        viz_text(v, c.x, c.y, "Press Space to train one step.", FONT_SANS, 12, VIZ_DIM, ALIGN_LEFT);
        return;
    }
    int lh = viz_text_height(v, FONT_MONO, 10), pad = viz_px(v, 3);
    /* the text below the grid, measured first: the grid gets the rest */
    char lines[6][256];
    int nl = 0, right = 0;
    for (int i = 0; i < s->B; i++) right += (w->p[i] < 0.5f) == (w->pair_label[i] == 1);
    snprintf(lines[nl++], 256, "this batch: %d of %d right (%.0f%%); chance 50%%", right, s->B, 100.0 * right / s->B);
    double nsp = kit_last_value(s, "eval_nsp_accuracy"), sop = kit_last_value(s, "eval_sop_accuracy");
    if (!isnan(nsp))
        snprintf(lines[nl++], 256, "held-out, this model: NSP %.0f%% · SOP %.0f%%", 100 * nsp, 100 * sop);
    snprintf(lines[nl++], 256, "word overlap alone (no model, no order): NSP %.0f%% · SOP %.0f%%", 100 * w->overlap.nsp,
             100 * w->overlap.sop);
    snprintf(lines[nl++], 256, "A and B share %.0f%% of their words when IsNext, %.0f%% when B is from another chapter",
             100 * w->overlap.same_doc, 100 * w->overlap.other_doc);
    if (w->finding.loaded) {
        snprintf(lines[nl++], 256, "stored (tests/bench, %d seeds × %ld steps): trained on NSP → NSP %.0f%%, SOP %.0f%%",
                 w->finding.seeds, w->finding.steps, 100 * w->finding.acc[OBJ_NSP][OBJ_NSP], 100 * w->finding.acc[OBJ_NSP][OBJ_SOP]);
        snprintf(lines[nl++], 256, "stored: trained on SOP → NSP %.0f%%, SOP %.0f%%", 100 * w->finding.acc[OBJ_SOP][OBJ_NSP],
                 100 * w->finding.acc[OBJ_SOP][OBJ_SOP]);
    } else {
        snprintf(lines[nl++], 256, "no stored table (lessons/nsp/finding.csv): run tests/bench/nsp_finding --write");
    }
    int text_h = 0;
    for (int i = 0; i < nl; i++) text_h += viz_text_wrap_height(v, c.w, lines[i], FONT_MONO, 10);
    /* the grid: one cell per pair, P(label 0) as a bar, the label, a ✓ or ✗ */
    int cols = c.w / viz_px(v, 120) > 0 ? c.w / viz_px(v, 120) : 1, rows = (s->B + cols - 1) / cols;
    int cell_h = (c.h - text_h - pad) / (rows > 0 ? rows : 1);
    if (cell_h > 2 * lh + 2 * pad) cell_h = 2 * lh + 2 * pad;
    if (cell_h < lh + pad) { /* too many pairs for the room: as many rows as fit */
        cell_h = lh + pad;
        rows = (c.h - text_h - pad) / cell_h;
    }
    int cell_w = c.w / cols, y = c.y;
    for (int i = 0; i < s->B && i / cols < rows; i++) {
        VizRect cell = {c.x + (i % cols) * cell_w, c.y + (i / cols) * cell_h, cell_w - pad, cell_h - pad};
        bool ok = (w->p[i] < 0.5f) == (w->pair_label[i] == 1);
        viz_fill(v, cell, (VizColor){40, 43, 54, 255});
        viz_fill(v, (VizRect){cell.x, cell.y + cell.h - viz_px(v, 4), (int)(cell.w * w->p[i]), viz_px(v, 4)}, SEG_A);
        viz_frame(v, cell, i == s->focus ? VIZ_TEXT : ok ? RIGHT : WRONG);
        char t[48];
        snprintf(t, sizeof t, "%s %s %.2f", ok ? "✓" : "✗", label_name(w->task, w->pair_label[i]), (double)w->p[i]);
        viz_text_fit(v, cell.x + pad, cell.y + pad / 2, cell.w - 2 * pad, t, FONT_MONO, 10, ok ? RIGHT : WRONG);
        if (viz_hover(v, cell))
            viz_tooltip(v, "pair %d: label %s (%d); the model's P(%s) = %.3f, so it says %s%s", i + 1,
                        label_name(w->task, w->pair_label[i]), w->pair_label[i], label_name(w->task, 0), (double)w->p[i],
                        label_name(w->task, w->p[i] < 0.5f), i == s->focus ? " (the pair shown in the input panel)" : "");
        y = cell.y + cell.h + pad;
    }
    y += pad;
    for (int i = 0; i < nl && y < c.y + c.h; i++)
        y += viz_text_wrap(v, c.x, y, c.w, lines[i], FONT_MONO, 10, i == 2 || i == 3 ? VIZ_ACCENT[3] : VIZ_TEXT);
}

/* The probe: "A | B" both ways round, P(IsNext) (or P(in order)) of each. */
static void probe_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const NspProbe *pr = f->ui->probe_result;
    const NspSnap *w = f->snap;
    if (!pr || pr->one) {
        viz_text_wrap(v, c.x, c.y, c.w,
                      pr ? "Two sentences are needed: write them as  A | B  (or end the first with . ! or ?)."
                         : "Type two sentences,  A | B  , then Enter: the model says whether B follows A, both ways round.",
                      FONT_SANS, 11, pr ? VIZ_ACCENT[3] : VIZ_DIM);
        return;
    }
    int y = c.y, lh = viz_text_height(v, FONT_SANS, 11);
    for (int dir = 0; dir < 2 && y < c.y + c.h; dir++) {
        const char *names[NSP_PROBE_MAX];
        VizColor fills[NSP_PROBE_MAX];
        for (int i = 0; i < pr->len[dir]; i++) {
            names[i] = kit_token(s, pr->ids[dir][i]);
            fills[i] = vocab_is_special(pr->ids[dir][i]) ? SPECIAL : i < pr->split[dir] ? SEG_A : SEG_B;
        }
        char head[96];
        snprintf(head, sizeof head, "%s: P(%s) = %.2f", dir ? "B then A" : "A then B", label_name(w->task, 0),
                 (double)pr->p[dir]);
        viz_text(v, c.x, y, head, FONT_SANS, 11, VIZ_TEXT, ALIGN_LEFT);
        viz_fill(v, (VizRect){c.x + c.w * 2 / 3, y + lh / 4, (int)(c.w / 3 * pr->p[dir]), lh / 2}, SEG_A);
        viz_frame(v, (VizRect){c.x + c.w * 2 / 3, y + lh / 4, c.w / 3, lh / 2}, VIZ_DIM);
        y += lh;
        int hover;
        y += viz_tokens(v, (VizRect){c.x, y, c.w, (c.y + c.h - y) / (2 - dir)}, names, fills, pr->len[dir], 10, &hover) +
             viz_px(v, 6);
    }
    if (pr->cut && y < c.y + c.h)
        viz_text_fit(v, c.x, y, c.w, "The pair was cut to seq_len: the model was trained at that length.", FONT_SANS, 10,
                     VIZ_ACCENT[3]);
}

static void probe_run(Run *r, Model *model, const char *text, void *result) { nsp_probe(r, model, text, result); }

/* ------------------------------------------------------------- description ---- */

static const KitPanel panels[] = {
    {"The input: [CLS] A [SEP] B [SEP] = token + segment + position", input_panel, 46, 0, "The input"},
    {"Every pair of the batch: the label and the model's answer", pairs_panel, 34, 0, "The pairs"},
    {"Probe: two sentences, A | B, then Enter (Esc leaves)", probe_panel, 30, KIT_PANEL_PROBE, "Probe"},
};

static const KitCurve curves[] = {
    {"Masked-LM loss (nats)", "cross-entropy", "mlm", "eval_mlm_loss", REF_UNIGRAM_ENTROPY, "unigram entropy", false, 0, 0,
     "MLM loss"},
    {"Pair loss: NSP, or SOP (nats)", "cross-entropy", "nsp", "eval_pair_loss", REF_CHANCE_LOSS, "chance (ln 2)", false, 0,
     0, "Pair loss"},
    {"Pair accuracy: NSP, or SOP", "accuracy", "pair_accuracy", "eval_pair_accuracy", REF_CHANCE_ACCURACY, "chance (50%)",
     true, 0, 1, "Pair accuracy"},
};

static const KitKey keys[] = {
    {'t', "objective", +1, "objective: NSP ⇄ SOP"},
    {'[', "mlm_probability", -0.05, "mlm_probability −0.05"},
    {']', "mlm_probability", +0.05, "mlm_probability +0.05"},
};

const LessonView nsp_view = {
    .snapshot_bind = snapshot_bind,
    .snapshot_fill = snapshot_fill,
    .headline = headline,
    .panels = panels,
    .npanels = 3,
    .curves = curves,
    .ncurves = 3,
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .probe = probe_run,
    .probe_size = sizeof(NspProbe),
};
