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
    int task, H;                          /* how the batch's pairs were made; hidden_size */
    int32_t *pair_label, *docs;           /* (B), (B,2) */
    float *p;                             /* (B) P(label 0) */
    int32_t *original, *input, *types;    /* (T) of the focus pair */
    uint8_t *kind, *mask;                 /* (T) */
    uint8_t *shared;                      /* (T) a word of A that B has too, or of B that A has
                                             (the frequent ones left out): a topic cue */
    float *emb;                           /* (T,3,H) token, segment, position rows */
} NspSnap;

static size_t snapshot_bind(void *blob, const KitSnap *s)
{
    size_t B = (size_t)s->B, T = (size_t)s->T, H = (size_t)kit_snap_value(s, "hidden_size");
    size_t size = sizeof(NspSnap) + (B * 4 + T * 3 + T * 3 * H) * 4 + T * 3;
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
    w->shared = w->mask + T;
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
    w->task = b->task;
    memcpy(w->pair_label, b->pair_label, B * 4);
    memcpy(w->docs, b->docs, B * 2 * 4);
    memcpy(w->p, m->p_is_next, B * 4);
    memcpy(w->original, b->original + off, T * 4);
    memcpy(w->input, b->input + off, T * 4);
    memcpy(w->types, b->token_types + off, T * 4);
    memcpy(w->kind, b->kind + off, T);
    memcpy(w->mask, b->attention_mask + off, T);
    for (size_t t = 0; t < T; t++) { /* the words the two segments share, as the overlap counts them */
        w->shared[t] = 0;
        if (!w->mask[t] || vocab_is_special(w->original[t]) || (m->common && m->common[w->original[t]])) continue;
        for (size_t u = 0; u < T && w->mask[u] && !w->shared[t]; u++)
            w->shared[t] = w->original[u] == w->original[t] && w->types[u] != w->types[t];
    }
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

/* its initial, for the small squares of a batch that does not fit as text */
static const char *label_initial(int task, int label)
{
    static const char *const initials[2][2] = {{"I", "N"}, {"O", "S"}};
    return initials[task][label];
}

static void headline(const KitFrame *f, char *buf, size_t n)
{
    const NspSnap *w = f->snap;
    /* the held-out figure of the task on screen (eval_pair_* is of the task trained when it
       was measured, which a switch of the objective leaves behind) */
    double held = kit_last_value(f->s, w->task == OBJ_SOP ? "eval_sop_accuracy" : "eval_nsp_accuracy");
    int len = snprintf(buf, n, "%s accuracy %.0f%%", w->task == OBJ_SOP ? "SOP" : "NSP",
                       100.0 * f->s->extra[NSP_PAIR_ACCURACY]);
    if (!isnan(held) && len > 0 && (size_t)len < n) snprintf(buf + len, n - (size_t)len, " (held-out %.0f%%)", 100 * held);
}

/* ------------------------------------------------------------------- panels ---- */

static const VizColor SEG_A = {86, 180, 233, 255}, SEG_B = {230, 159, 0, 255}, SPECIAL = {120, 124, 140, 255},
                      PAD = {44, 47, 58, 255}, SELECTED = {204, 121, 167, 255}, RIGHT = {0, 158, 115, 255},
                      WRONG = {213, 94, 0, 255};

static int chosen = -1;   /* the token whose embeddings are shown (the UI thread's own) */

/* Four strips of H cells: the token's, the segment's and the position's embedding rows and
 * their sum, each on its own diverging scale symmetric about 0 (blue below, red above; its
 * range at the right end), so that the small segment and position rows show their pattern
 * too. Returns the height used (0: no room). */
static int embedding_strips(Viz *v, VizRect c, const KitSnap *s, const NspSnap *w, int t)
{
    int H = w->H, lh = viz_text_height(v, FONT_SANS, 10), gap = viz_px(v, 2);
    const float *e = w->emb + (size_t)t * 3 * H;
    float rows[4][1024], mx[4] = {1e-6f, 1e-6f, 1e-6f, 1e-6f};
    if (H > 1024) return 0;
    for (int i = 0; i < H; i++) {
        rows[0][i] = e[i], rows[1][i] = e[H + i], rows[2][i] = e[2 * H + i];
        rows[3][i] = e[i] + e[H + i] + e[2 * H + i];
        for (int k = 0; k < 4; k++) mx[k] = fabsf(rows[k][i]) > mx[k] ? fabsf(rows[k][i]) : mx[k];
    }
    char title[2][160], labels[4][64], range[4][16];
    snprintf(title[0], sizeof title[0], "position %d's input = the sum of three lookups, %d numbers each (blue < 0 < red; "
             "each strip on its own scale)", t, H);
    snprintf(title[1], sizeof title[1], "position %d: three lookups, summed (blue < 0 < red)", t);
    snprintf(labels[0], sizeof labels[0], "token \"%s\"", kit_token(s, w->input[t]));
    snprintf(labels[1], sizeof labels[1], "+ segment %s", w->types[t] ? "B" : "A");
    snprintf(labels[2], sizeof labels[2], "+ position %d", t);
    snprintf(labels[3], sizeof labels[3], "= sum (then LayerNorm)");
    for (int k = 0; k < 4; k++) snprintf(range[k], sizeof range[k], "±%.2f", (double)mx[k]);
    /* rows of at least half a line: the labels shrink with them, to 8 points at least */
    int row = (c.h - lh) / 4 - gap;
    if (row < lh / 2) return 0;
    row = row > lh * 3 / 2 ? lh * 3 / 2 : row;
    float size = 10.0f * (float)row / (float)lh;
    size = size > 10 ? 10 : size < 8 ? 8 : size;
    int pick = viz_text_width(v, title[0], FONT_SANS, 10) <= c.w ? 0 : 1;
    viz_text_fit(v, c.x, c.y, c.w, title[pick], FONT_SANS, 10, VIZ_DIM);
    if (viz_hover(v, (VizRect){c.x, c.y, c.w, lh}))
        viz_tooltip(v, "the token's row of word_embeddings, the segment's row of token_type_embeddings and the position's row "
                    "of position_embeddings, added; the embedding LayerNorm follows. Hover a token above to choose it.");
    int y = c.y + lh, label_w = 0, range_w = viz_text_width(v, "±0.000", FONT_MONO, size) + viz_px(v, 4);
    for (int k = 0; k < 4; k++) {
        int lw = viz_text_width(v, labels[k], FONT_SANS, size);
        label_w = lw > label_w ? lw : label_w;
    }
    label_w += viz_px(v, 6);
    if (label_w > c.w / 3) label_w = c.w / 3;
    int lrow = viz_text_height(v, FONT_SANS, size);
    float cell = (float)(c.w - label_w - range_w) / (float)H;
    for (int k = 0; k < 4; k++, y += row + gap) {
        viz_text_fit(v, c.x, y + (row - lrow) / 2, label_w - viz_px(v, 4), labels[k], FONT_SANS, size,
                     k == 3 ? VIZ_TEXT : VIZ_DIM);
        for (int i = 0; i < H; i++) {
            VizRect r = {c.x + label_w + (int)(i * cell), y, (int)((i + 1) * cell) - (int)(i * cell), row};
            viz_fill(v, r, viz_colormap(CMAP_DIVERGING, 0.5f + 0.5f * rows[k][i] / mx[k]));
            if (viz_hover(v, r)) viz_tooltip(v, "%s, number %d of %d: %+.4f", labels[k], i + 1, H, (double)rows[k][i]);
        }
        viz_text(v, c.x + c.w, y + (row - lrow) / 2, range[k], FONT_MONO, size, VIZ_DIM, ALIGN_RIGHT);
    }
    return y - c.y;
}

static void input_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const NspSnap *w = f->snap;
    int T = s->T, b = s->focus, gap = viz_px(v, 6);
    const char *names[512], *under[512];
    uint8_t outline[512];
    char pos[512][32];
    VizColor fills[512], bars[512];
    /* [CLS]'s row of the enlarged head: what the pooler's input attends to */
    const KitAttn *a = &s->attn[f->ui->attn < s->nattn ? f->ui->attn : 0];
    int layer = f->ui->layer < a->L ? f->ui->layer : a->L - 1, head = f->ui->head < a->NH ? f->ui->head : a->NH - 1;
    const float *cls = a->p + (((size_t)layer * a->NH + head) * T) * T;
    float mx = 1e-6f;
    for (int t = 0; t < T; t++) mx = cls[t] > mx ? cls[t] : mx;
    int shown = 0;
    for (int t = 0; t < T && t < 512; t++) {
        if (!w->mask[t] && t > 0 && !w->mask[t - 1]) continue; /* one [PAD] stands for the rest */
        names[shown] = kit_token(s, w->input[t]);
        if (!w->mask[t] && t + 1 < T) snprintf(pos[shown], sizeof pos[shown], "%d–%d", t, T - 1);
        else snprintf(pos[shown], sizeof pos[shown], "%d", t);
        under[shown] = pos[shown];
        fills[shown] = !w->mask[t] ? PAD : vocab_is_special(w->input[t]) && !w->kind[t] ? SPECIAL
                       : w->kind[t] ? SELECTED : w->types[t] ? SEG_B : SEG_A;
        bars[shown] = w->mask[t] ? viz_colormap(CMAP_VIRIDIS, cls[t] / mx) : VIZ_PANEL;
        outline[shown] = w->shared[t];
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
    y += gap / 2;
    char selected[48];
    snprintf(selected, sizeof selected, "selected for MLM (mlm_probability %.2f)", kit_snap_value(s, "mlm_probability"));
    const char *const legend[7] = {"segment A", "segment B", "[CLS] [SEP]", selected, "[PAD]",
                                   "white frame: a token in both A and B",
                                   "band: attention from [CLS] (yellow = most)"};
    const VizColor lc[7] = {SEG_A, SEG_B, SPECIAL, SELECTED, PAD, VIZ_TEXT, viz_colormap(CMAP_VIRIDIS, 1.0f)};
    int hover = -1;
    float size = 11;
    int lh = viz_text_height(v, FONT_SANS, 10), legend_h = viz_legend_height(v, c.w, legend, 7);
    int strips_h = lh + 4 * (lh / 2 + viz_px(v, 2)); /* the title and four strips of the embeddings */
    while (size > 7 && viz_tokens_under_height(v, c.w, names, shown, size, under, true) >
                           c.y + c.h - y - legend_h - strips_h - gap)
        size -= 0.5f;
    y += viz_tokens_under(v, (VizRect){c.x, y, c.w, c.y + c.h - y}, names, fills, shown, size, under, bars, outline, &hover) + gap / 2;
    int t_hover = -1;
    if (hover >= 0) {
        t_hover = atoi(pos[hover]);
        chosen = t_hover;
        const char *seg = !w->mask[t_hover] ? "padding (attention_mask 0: no token attends to it)"
                          : w->types[t_hover] ? "segment B (token_type_ids 1)" : "segment A (token_type_ids 0)";
        viz_tooltip(v, "position %d: \"%s\" (original \"%s\"), %s%s; [CLS] attention %.3f (layer %d head %d)%s", t_hover,
                    kit_token(s, w->input[t_hover]), kit_token(s, w->original[t_hover]), seg,
                    w->kind[t_hover] ? ", selected for MLM" : "", (double)cls[t_hover], layer + 1, head + 1,
                    w->shared[t_hover] ? "; in both A and B: a topic cue, which the word-overlap baseline counts" : "");
    }
    y += viz_legend(v, c.x, y, c.w, legend, lc, 7) + gap / 2;
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
    snprintf(lines[nl++], 256, "A and B share %.1f tokens on average when IsNext, %.1f when B is from another chapter",
             w->overlap.same_doc, w->overlap.other_doc);
    /* the stored table of tests/bench/nsp_finding, a model per objective */
    const KitFinding *fd = s->finding;
    if (fd && fd->rows) {
        for (int o = OBJ_NSP; o <= OBJ_SOP; o++) {
            const char *row = o ? "sop" : "nsp";
            snprintf(lines[nl++], 256, "stored, %.0f seeds × %.0f steps, trained on %s: NSP %.0f%% · SOP %.0f%%",
                     kit_finding(fd, row, "seeds"), kit_finding(fd, row, "steps"), o ? "SOP" : "NSP",
                     100 * kit_finding(fd, row, "eval_nsp_accuracy"), 100 * kit_finding(fd, row, "eval_sop_accuracy"));
        }
    } else {
        snprintf(lines[nl++], 256, "%s: tests/bench/nsp_finding --write makes it", fd ? fd->why : "no stored table");
    }
    char caption[256];
    snprintf(caption, sizeof caption, "each pair: frame green = right, orange = wrong; its label (%s = %s, %s = %s); the bar: "
             "the model's P(%s)", label_initial(w->task, 0), label_name(w->task, 0), label_initial(w->task, 1),
             label_name(w->task, 1), label_name(w->task, 0));
    int cap_h = viz_text_wrap_height(v, c.w, caption, FONT_SANS, 10);
    c.y += viz_text_wrap(v, c.x, c.y, c.w, caption, FONT_SANS, 10, VIZ_DIM);
    c.h -= cap_h;
    int text_h = 0;
    for (int i = 0; i < nl; i++) text_h += viz_text_wrap_height(v, c.w, lines[i], FONT_MONO, 10);
    /* the grid: one cell per pair, P(label 0) as a bar, the label, a ✓ or ✗; where the text
       cells do not all fit, small squares (the bar from below, the label's initial) */
    int avail = c.h - text_h - pad, cols = c.w / viz_px(v, 130) > 0 ? c.w / viz_px(v, 130) : 1;
    int rows = (s->B + cols - 1) / cols, cell_w = c.w / cols, cell_h = avail / rows;
    bool text = cell_h >= lh + pad;
    if (cell_h > lh * 3 / 2 + 2 * pad) cell_h = lh * 3 / 2 + 2 * pad;
    if (!text) { /* the largest squares that hold the whole batch */
        int side = viz_px(v, 8);
        for (int sd = avail; sd >= viz_px(v, 8); sd--) {
            int cc = c.w / sd;
            if (cc > 0 && ((s->B + cc - 1) / cc) * sd <= avail) { side = sd; break; }
        }
        cols = c.w / side > 0 ? c.w / side : 1;
        rows = (s->B + cols - 1) / cols;
        cell_w = cell_h = side;
        if (rows * side > avail) rows = avail / side;
    }
    int y = c.y;
    for (int i = 0; i < s->B && i / cols < rows; i++) {
        VizRect cell = {c.x + (i % cols) * cell_w, c.y + (i / cols) * cell_h, cell_w - pad, cell_h - pad};
        bool ok = (w->p[i] < 0.5f) == (w->pair_label[i] == 1);
        viz_fill(v, cell, (VizColor){40, 43, 54, 255});
        if (text) { /* P(label 0) as a bar behind the text, from the left */
            viz_fill(v, (VizRect){cell.x, cell.y, (int)(cell.w * w->p[i]), cell.h}, viz_mix(SEG_A, VIZ_PANEL, 0.7f));
            char t[64];
            snprintf(t, sizeof t, "%s · P(%s) %.2f", label_name(w->task, w->pair_label[i]), label_name(w->task, 0),
                     (double)w->p[i]);
            int mark = viz_text(v, cell.x + pad, cell.y + (cell.h - lh) / 2, ok ? "✓" : "✗", FONT_MONO, 10,
                                ok ? RIGHT : WRONG, ALIGN_LEFT);
            if (viz_text_width(v, t, FONT_MONO, 10) > cell.w - 3 * pad - mark)
                snprintf(t, sizeof t, "%s %.2f", label_name(w->task, w->pair_label[i]), (double)w->p[i]);
            viz_text_fit(v, cell.x + 2 * pad + mark, cell.y + (cell.h - lh) / 2, cell.w - 3 * pad - mark, t, FONT_MONO, 10,
                         VIZ_TEXT);
        } else { /* P(label 0) as a bar from below; the label's initial if it fits */
            int bh = (int)(cell.h * w->p[i]);
            viz_fill(v, (VizRect){cell.x, cell.y + cell.h - bh, cell.w, bh}, viz_mix(SEG_A, VIZ_PANEL, 0.5f));
            const char *initial = label_initial(w->task, w->pair_label[i]);
            if (cell.h >= lh) viz_text(v, cell.x + cell.w / 2, cell.y + (cell.h - lh) / 2, initial, FONT_MONO, 10, VIZ_TEXT,
                                       ALIGN_CENTER);
        }
        viz_frame(v, cell, i == s->focus ? VIZ_TEXT : ok ? RIGHT : WRONG);
        if (!text) viz_frame(v, (VizRect){cell.x + 1, cell.y + 1, cell.w - 2, cell.h - 2}, i == s->focus ? VIZ_TEXT : ok ? RIGHT : WRONG);
        if (viz_hover(v, cell))
            viz_tooltip(v, "pair %d: label %s (%d); the model's P(%s) = %.3f, so it says %s: %s%s", i + 1,
                        label_name(w->task, w->pair_label[i]), w->pair_label[i], label_name(w->task, 0), (double)w->p[i],
                        label_name(w->task, w->p[i] < 0.5f), ok ? "right" : "wrong",
                        i == s->focus ? " (the pair shown in the input panel)" : "");
        y = cell.y + cell.h + pad;
    }
    if (rows * cols < s->B) /* not every pair fits: say so */
        snprintf(lines[0] + strlen(lines[0]), 256 - strlen(lines[0]), " (%d of them shown; Z enlarges)", rows * cols);
    y += pad;
    for (int i = 0; i < nl && y < c.y + c.h; i++)
        y += viz_text_wrap(v, c.x, y, c.w, lines[i], FONT_MONO, 10, i == 2 || i == 3 ? VIZ_ACCENT[3] : VIZ_TEXT);
}

/* The probe: "A | B" both ways round, P(IsNext) (or P(in order)) of each, at the largest
 * token size that shows both rows whole. */
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
    const char *names[2][KIT_PAIR_PROBE_MAX];
    VizColor fills[2][KIT_PAIR_PROBE_MAX];
    for (int dir = 0; dir < 2; dir++)
        for (int i = 0; i < pr->len[dir]; i++) {
            names[dir][i] = kit_token(s, pr->ids[dir][i]);
            fills[dir][i] = vocab_is_special(pr->ids[dir][i]) ? SPECIAL : i < pr->split[dir] ? SEG_A : SEG_B;
        }
    const char *cut = "The pair was cut to seq_len: the model was trained at that length.";
    int lh = viz_text_height(v, FONT_SANS, 11), gap = viz_px(v, 4);
    int cut_h = pr->cut ? viz_text_wrap_height(v, c.w, cut, FONT_SANS, 10) : 0;
    float size = 10;
    for (; size > 7; size -= 0.5f)
        if (2 * (lh + gap) + viz_tokens_height(v, c.w, names[0], pr->len[0], size) +
                viz_tokens_height(v, c.w, names[1], pr->len[1], size) + cut_h <= c.h)
            break;
    int y = c.y;
    for (int dir = 0; dir < 2 && y < c.y + c.h; dir++) {
        char head[96];
        snprintf(head, sizeof head, "%s: P(%s) = %.2f", dir ? "B then A" : "A then B", label_name(w->task, 0),
                 (double)pr->p[dir]);
        viz_text_fit(v, c.x, y, c.w * 2 / 3 - gap, head, FONT_SANS, 11, VIZ_TEXT);
        viz_fill(v, (VizRect){c.x + c.w * 2 / 3, y + lh / 4, (int)(c.w / 3 * pr->p[dir]), lh / 2}, SEG_A);
        viz_frame(v, (VizRect){c.x + c.w * 2 / 3, y + lh / 4, c.w / 3, lh / 2}, VIZ_DIM);
        y += lh;
        int hover;
        y += viz_tokens(v, (VizRect){c.x, y, c.w, c.y + c.h - y}, names[dir], fills[dir], pr->len[dir], size, &hover) + gap;
        if (hover >= 0) viz_tooltip(v, "position %d: \"%s\", segment %s", hover, names[dir][hover], hover < pr->split[dir] ? "A" : "B");
    }
    if (pr->cut && y < c.y + c.h) viz_text_wrap(v, c.x, y, c.w, cut, FONT_SANS, 10, VIZ_ACCENT[3]);
}

static void probe_run(Run *r, Model *model, const char *text, void *result) { nsp_probe(r, model, text, result); }

/* ------------------------------------------------------------- description ---- */

static const KitPanel panels[] = {
    {"The input: [CLS] A [SEP] B [SEP] = token + segment + position", input_panel, 54, 0, "The input"},
    {"Every pair of the batch: the label and the model's answer", pairs_panel, 30, 0, "The pairs"},
    {"Probe: two sentences, A | B, then Enter (Esc leaves)", probe_panel, 30, KIT_PANEL_PROBE, "Probe"},
};

static const KitCurve curves[] = {
    {.title = "Masked-LM loss (nats)", .ylabel = "cross-entropy", .train = "mlm", .heldout = "eval_mlm_loss",
     .ref = REF_UNIGRAM_ENTROPY, .ref_name = "unigram entropy", .short_title = "MLM loss"},
    {.title = "Pair loss: NSP, or SOP (nats)", .ylabel = "cross-entropy", .train = "nsp", .heldout = "eval_pair_loss",
     .ref = REF_CHANCE_LOSS, .ref_name = "chance (ln 2)", .short_title = "Pair loss"},
    {.title = "Pair accuracy: NSP, or SOP", .ylabel = "accuracy", .train = "pair_accuracy", .heldout = "eval_pair_accuracy",
     .ref = REF_CHANCE_ACCURACY, .ref_name = "chance (50%)", .bounded = true, .lo = 0, .hi = 1,
     .short_title = "Pair accuracy", .ref2 = REF_OVERLAP + 1, .ref2_name = "word overlap, no model"},
};

static const KitKey keys[] = {
    {'t', "objective", +1, "objective: NSP ⇄ SOP", NULL, 0},
    {'[', "mlm_probability", -0.05, "mlm_probability −0.05", NULL, 0},
    {']', "mlm_probability", +0.05, "mlm_probability +0.05", NULL, 0},
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
    .probe_help = "type two sentences, A | B: P(IsNext) both ways round",
    .item = "pair",
};
