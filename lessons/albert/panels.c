/* panels.c — fmlab-albert's own part of the dashboard (the kit draws the header, the
 * attention of both models, the curves of both side by side: held-out MLM loss and SOP
 * accuracy, MLM and SOP loss on each batch; the notes and help):
 *
 *   parameters:  each group of parameters (embeddings, the E→H projection, the encoder layers
 *                as stored, pooler + heads) counted from the two live models, ALBERT's bar
 *                over BERT's on one linear scale; the totals and their ratio; the two ideas
 *                in numbers of the live configuration (V×H against V×E + E×H + H; one layer
 *                stored and applied L times against L layers); each model's forward time
 *   papers:      the same formulas at the lecture's V = 5000, H = 4096, E = 256, and
 *                BERT-base against ALBERT-base counted from their configurations, beside the
 *                paper's Table 1
 *   each layer:  the enlarged head in every layer of ALBERT and of BERT, side by side, and
 *                under each map how differently it attends from the layer before (the same
 *                weights in every ALBERT layer, yet each layer's input differs); a click
 *                enlarges that map in the kit's attention panel
 *   the batch:   the focus pair as the models read it, [CLS] A [SEP] B [SEP] [PAD]…,
 *                coloured by segment and by how the masked LM corrupted it; its label; both
 *                models' P(in order) for the pairs of the batch, right or wrong
 *   probe:       two typed sentences, A | B: P(in order) of both models, both ways round
 *
 * and its keys: [ ] change the masking rate. The panels that have room to spare (Z, a page
 * of its own) draw their text larger; those that have too little show the essentials and say
 * that Z shows the rest. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lessons/albert/lesson.h"
#include "lessons/common/view.h"

/* the two models' colours, the same in every panel and curve: ALBERT orange, BERT sky blue */
static const char *const MODEL_NAME[] = {"ALBERT", "BERT", NULL};
static const int MODEL_ACCENT[] = {0, 1};
/* the token strip's colours keep clear of the two models' */
static const VizColor SEG_A = {0, 114, 178, 255}, SEG_B = {0, 158, 115, 255}, SPECIAL = {120, 124, 140, 255},
                      PAD = {44, 47, 58, 255}, K_MASK = {204, 121, 167, 255}, K_RANDOM = {213, 94, 0, 255},
                      K_KEPT = {240, 228, 66, 255}, RIGHT = {0, 158, 115, 255}, WRONG = {213, 94, 0, 255},
                      NOTE = {240, 228, 66, 255};

static VizColor model_color(int m) { return VIZ_ACCENT[MODEL_ACCENT[m]]; }

/* ------------------------------------------------------------------ snapshot ---- */

typedef struct AlbertSnap {
    AlbertCount count[AL_MODELS];
    double forward_ms[AL_MODELS];
    int V, H, E, P, types;                /* ALBERT's live configuration (BERT's is the same but E) */
    int32_t *pair_label, *docs;           /* (B), (B,2) */
    float *p;                             /* (AL_MODELS,B) P(in order) */
    int32_t *input, *original, *types_ids; /* (B,T) */
    uint8_t *kind, *mask;                 /* (B,T) */
} AlbertSnap;

static size_t snapshot_bind(void *blob, const KitSnap *s)
{
    size_t B = (size_t)s->B, T = (size_t)s->T;
    size_t size = sizeof(AlbertSnap) + (B + 2 * B + AL_MODELS * B + 3 * B * T) * 4 + 2 * B * T;
    if (!blob) return size;
    AlbertSnap *w = blob;
    w->pair_label = (int32_t *)(w + 1);
    w->docs = w->pair_label + B;
    w->p = (float *)(w->docs + 2 * B);
    w->input = (int32_t *)(w->p + AL_MODELS * B);
    w->original = w->input + B * T;
    w->types_ids = w->original + B * T;
    w->kind = (uint8_t *)(w->types_ids + B * T);
    w->mask = w->kind + B * T;
    return size;
}

static void snapshot_fill(void *blob, const Run *r, int focus)
{
    (void)focus; /* every pair of the batch is kept: the list shows them all */
    AlbertSnap *w = blob;
    const Albert *m = KIT_SELF(r, Albert);
    const KitPairBatch *b = &m->batch;
    const ModelConfig *c = &r->models[AL_ALBERT].model.cfg;
    size_t B = (size_t)r->B, T = (size_t)r->T;
    memcpy(w->count, m->count, sizeof w->count);
    /* wall-clock times only in the window: a PNG and an export are the same on every machine */
    if (r->keep_history) memcpy(w->forward_ms, m->forward_ms, sizeof w->forward_ms);
    else memset(w->forward_ms, 0, sizeof w->forward_ms);
    w->V = c->vocab_size, w->H = c->hidden_size, w->E = c->embedding_size, w->P = c->max_position_embeddings;
    w->types = c->type_vocab_size;
    memcpy(w->pair_label, b->pair_label, B * 4);
    memcpy(w->docs, b->docs, B * 2 * 4);
    for (int i = 0; i < AL_MODELS; i++) memcpy(w->p + i * B, m->p_in_order[i], B * 4);
    memcpy(w->input, b->input, B * T * 4);
    memcpy(w->original, b->original, B * T * 4);
    memcpy(w->types_ids, b->token_types, B * T * 4);
    memcpy(w->kind, b->kind, B * T);
    memcpy(w->mask, b->attention_mask, B * T);
}

/* ------------------------------------------------------------------ helpers ---- */

static int imax(int a, int b) { return a > b ? a : b; }

static const char *const GROUP_NAME[PG_COUNT] = {"embeddings", "E→H projection", "encoder layers", "pooler + heads"};
static const char *const GROUP_NOTE[PG_COUNT] = {"words, positions, types", "E×H + H; BERT: none", "as stored",
                                                 "pooler, MLM, SOP"};

/* The tooltip of a group's bars: where its count comes from. */
static void group_tooltip(Viz *v, const AlbertSnap *w, int g)
{
    const AlbertCount *a = &w->count[AL_ALBERT], *b = &w->count[AL_BERT];
    int64_t V = w->V, H = w->H, E = w->E, P = w->P, Ty = w->types;
    switch (g) {
    case PG_EMBEDDINGS:
        viz_tooltip(v, "embeddings: ALBERT %s = words V×E %s + positions P×E %s + types %s + LayerNorm %s; BERT %s = "
                    "words V×H %s + positions P×H %s + types %s + LayerNorm %s", kit_count(a->group[g]), kit_count(V * E), kit_count(P * E),
                    kit_count(Ty * E), kit_count(2 * E), kit_count(b->group[g]), kit_count(V * H), kit_count(P * H), kit_count(Ty * H), kit_count(2 * H));
        break;
    case PG_PROJECTION:
        viz_tooltip(v, "ALBERT's embedding_hidden_mapping_in: E×H weights %s + H biases %s = %s; BERT has none (its "
                    "embeddings are H wide already)", kit_count(E * H), kit_count(H), kit_count(a->group[g]));
        break;
    case PG_LAYERS:
        viz_tooltip(v, "encoder layers as stored: ALBERT %d × %s = %s (applied %d times); BERT %d × %s = %s. A layer: "
                    "q, k, v, output (4 × (H×H + H)), feed-forward H×I + I and I×H + H, two LayerNorms",
                    a->stored, kit_count(a->layer), kit_count(a->group[g]), a->applied, b->stored, kit_count(b->layer), kit_count(b->group[g]));
        break;
    default:
        viz_tooltip(v, "pooler + heads: ALBERT %s, BERT %s: the pooler H×H + H, the MLM head's dense layer, LayerNorm and "
                    "output bias (its decoder weights are the word embeddings, counted there), the SOP classifier 2×H + 2",
                    kit_count(a->group[g]), kit_count(b->group[g]));
    }
}

/* ----------------------------------------------------------- parameters panel ---- */

/* ALBERT's bar over BERT's for each group, on one linear scale, each with its count.
 * stacked: two rows per group; else one row per group, the two models in two columns (the
 * same scale). Returns the height drawn. */
static int group_bars(Viz *v, VizRect c, const AlbertSnap *w, bool stacked, bool draw)
{
    int lh = viz_text_height(v, FONT_MONO, 10), pad = viz_px(v, 2), small = viz_text_height(v, FONT_SANS, 8.5f);
    int64_t top = 1;
    int count_w = 0, label_w = 0;
    for (int g = 0; g < PG_COUNT; g++)
        for (int m = 0; m < AL_MODELS; m++) {
            top = w->count[m].group[g] > top ? w->count[m].group[g] : top;
            count_w = imax(count_w, viz_text_width(v, kit_count(w->count[m].group[g]), FONT_MONO, 10));
        }
    for (int g = 0; g < PG_COUNT; g++) label_w = imax(label_w, viz_text_width(v, GROUP_NAME[g], FONT_SANS, 10));
    label_w = imax(label_w, viz_text_width(v, "words, positions, types", FONT_SANS, 8.5f));
    label_w += viz_px(v, 8);
    if (label_w > c.w * 2 / 5) label_w = c.w * 2 / 5;
    count_w += viz_px(v, 5);
    int row = lh + pad, group_gap = viz_px(v, 5), y = c.y;
    int cols = stacked ? 1 : 2, col_w = (c.w - label_w) / cols, bar_w = col_w - count_w - (stacked ? 0 : viz_px(v, 8));
    if (!stacked && draw) { /* the column heads */
        for (int m = 0; m < AL_MODELS; m++)
            viz_text(v, c.x + label_w + m * col_w, y, MODEL_NAME[m], FONT_BOLD, 10, model_color(m), ALIGN_LEFT);
    }
    if (!stacked) y += lh + pad;
    for (int g = 0; g < PG_COUNT; g++) {
        int gy = y, gh = stacked ? 2 * row : row;
        if (draw) {
            viz_text_fit(v, c.x, gy + (stacked ? 0 : (row - lh) / 2), label_w - viz_px(v, 6), GROUP_NAME[g], FONT_SANS, 10,
                         VIZ_TEXT);
            if (stacked) viz_text_fit(v, c.x, gy + row + (row - small) / 2, label_w - viz_px(v, 6), GROUP_NOTE[g], FONT_SANS,
                                      8.5f, VIZ_DIM);
            for (int m = 0; m < AL_MODELS; m++) {
                int64_t n = w->count[m].group[g];
                int x0 = c.x + label_w + (stacked ? 0 : m * col_w), yy = gy + (stacked ? m * row : 0);
                int len = (int)((double)bar_w * (double)n / (double)top + 0.5);
                if (n > 0 && len < 2) len = 2; /* a count too small for the scale still shows */
                VizRect track = {x0, yy + pad, bar_w, lh - pad};
                viz_fill(v, track, viz_mix(VIZ_PANEL, VIZ_GRID, 0.5f));
                if (n > 0) viz_fill(v, (VizRect){x0, yy + pad, len, lh - pad}, model_color(m));
                if (n > 0) viz_text(v, x0 + len + viz_px(v, 4), yy, kit_count(n), FONT_MONO, 10, model_color(m), ALIGN_LEFT);
                else viz_text(v, x0 + viz_px(v, 4), yy, "none", FONT_MONO, 10, VIZ_DIM, ALIGN_LEFT);
            }
            if (viz_hover(v, (VizRect){c.x, gy, c.w, gh})) group_tooltip(v, w, g);
        }
        y += gh + (g + 1 < PG_COUNT ? (stacked ? group_gap : pad) : 0);
    }
    return y - c.y;
}

/* The two ideas in numbers of the live configuration, and the forward times: in full, or
 * (brief) a line for each. */
static void idea_lines(KitLines *l, const AlbertSnap *w, bool brief)
{
    const AlbertCount *a = &w->count[AL_ALBERT], *b = &w->count[AL_BERT];
    long long H = w->H, E = w->E;
    int64_t albert_words = a->word + a->group[PG_PROJECTION];
    char fwd[160];
    if (w->forward_ms[0] > 0)
        snprintf(fwd, sizeof fwd, "ALBERT %.1f ms · BERT %.1f ms", w->forward_ms[0], w->forward_ms[1]);
    else snprintf(fwd, sizeof fwd, "timed in the window from step 3 (not in PNGs)");
    l->n = 0;
    l->bars = false;
    if (brief) {
        kit_lines_add(l, FONT_MONO, VIZ_TEXT, "words: V×H %s → V×E + E×H + H %s", kit_count(b->word), kit_count(albert_words));
        if (a->stored == 1) kit_lines_add(l, FONT_MONO, VIZ_TEXT, "layers: %d × %s → 1 stored, applied %d×", b->stored, kit_count(b->layer),
                                a->applied);
        else kit_lines_add(l, FONT_MONO, VIZ_TEXT, "layers: %d × %s → %d × %s (not shared)", b->stored, kit_count(b->layer), a->stored,
                 kit_count(a->layer));
        kit_lines_add(l, FONT_SANS, VIZ_TEXT, "forward: %s (sharing saves parameters, not computation)", fwd);
        return;
    }
    kit_lines_add(l, FONT_BOLD, VIZ_TEXT, "1. Factorized embeddings: V = %s, H = %lld, E = %lld", kit_count(w->V), H, E);
    kit_lines_add(l, FONT_MONO, model_color(AL_BERT), "BERT    V×H = %s×%lld = %s", kit_count(w->V), H, kit_count(b->word));
    kit_lines_add(l, FONT_MONO, model_color(AL_ALBERT), "ALBERT  V×E + E×H + H = %s + %s + %lld = %s", kit_count(a->word), kit_count(E * H), H,
        kit_count(albert_words));
    if (b->word > albert_words)
        kit_lines_add(l, FONT_SANS, VIZ_DIM, "(+ H: the projection's biases) · %s fewer (%.2f×)", kit_count(b->word - albert_words),
                      (double)b->word / (double)albert_words);
    else
        kit_lines_add(l, FONT_SANS, VIZ_DIM, "(+ H: the projection's biases) · E = %lld, not below H: %s more, nothing saved", E,
                      kit_count(albert_words - b->word));
    kit_lines_add(l, FONT_BOLD, VIZ_TEXT, "2. Cross-layer sharing: L = %d", a->applied);
    kit_lines_add(l, FONT_MONO, model_color(AL_BERT), "BERT    %d layers × %s = %s", b->stored, kit_count(b->layer), kit_count(b->group[PG_LAYERS]));
    if (a->stored == 1)
        kit_lines_add(l, FONT_MONO, model_color(AL_ALBERT), "ALBERT  1 layer stored (%s), applied %d times", kit_count(a->layer), a->applied);
    else
        kit_lines_add(l, FONT_MONO, model_color(AL_ALBERT), "ALBERT  %d layers × %s = %s (share_layers = 0)", a->stored, kit_count(a->layer),
            kit_count(a->group[PG_LAYERS]));
    char all[32];
    snprintf(all, sizeof all, a->applied == 1 ? "its one layer still runs" : a->applied == 2 ? "both layers still run"
                                                                                             : "all %d layers still run",
             a->applied);
    kit_lines_add(l, FONT_SANS, VIZ_TEXT, "Forward per batch: %s. Sharing saves parameters, not computation: %s.", fwd, all);
}

/* "ALBERT: 27% of BERT's parameters (92,688 of 339,856)" */
static void ratio_text(const AlbertSnap *w, char *buf, size_t n)
{
    const AlbertCount *a = &w->count[AL_ALBERT], *b = &w->count[AL_BERT];
    snprintf(buf, n, "ALBERT: %.0f%% of BERT's parameters (%s of %s)", 100.0 * (double)a->total / (double)b->total,
             kit_count(a->total), kit_count(b->total));
}

static void params_draw(Viz *v, VizRect c, const KitFrame *f)
{
    const AlbertSnap *w = f->snap;
    const AlbertCount *a = &w->count[AL_ALBERT], *b = &w->count[AL_BERT];
    int gap = viz_px(v, 5), lh = viz_text_height(v, FONT_SANS, 10), hint_h = viz_text_height(v, FONT_SANS, 9);
    char ratio[200];
    KitLines full, brief;
    idea_lines(&full, w, false);
    idea_lines(&brief, w, true);
    ratio_text(w, ratio, sizeof ratio);
    const char *legend[2] = {"ALBERT", "BERT"};
    const VizColor lc[2] = {model_color(0), model_color(1)};
    /* the bars (ALBERT's over BERT's, else side by side in two columns), the totals and the
       ratio first; then the ideas beside them when the panel is wide, else under them, in
       full or in brief, as fits */
    int head_h = lh + gap, total_h = viz_text_wrap_height(v, c.w, ratio, FONT_BOLD, 12) + gap;
    int stacked_h = head_h + group_bars(v, c, w, true, false), table_h = group_bars(v, c, w, false, false);
    int full_h = kit_lines_height(v, c.w, &full);
    bool fits = stacked_h + total_h + gap + full_h <= c.h, side = !fits && c.w > viz_px(v, 640), stacked = true;
    const KitLines *ideas = &full;
    if (side) stacked = stacked_h + total_h <= c.h;
    else if (!fits) {
        stacked = false;
        if (table_h + total_h + gap + full_h > c.h) ideas = &brief;
    }
    VizRect left = c, right = c;
    if (side) {
        left.w = c.w * 11 / 20;
        right.x = c.x + left.w + viz_px(v, 14);
        right.w = c.x + c.w - right.x;
        if (kit_lines_height(v, right.w, &full) > right.h) ideas = &brief;
    }
    int y = c.y;
    if (stacked) {
        viz_legend(v, left.x, y, left.w, legend, lc, 2);
        viz_text(v, left.x + left.w, y, "one linear scale", FONT_SANS, 9, VIZ_DIM, ALIGN_RIGHT);
        y += head_h;
    }
    y += group_bars(v, (VizRect){left.x, y, left.w, left.y + left.h - y}, w, stacked, true) + gap;
    kit_put(v, left, &y, ratio, FONT_BOLD, 12, model_color(AL_ALBERT));
    if (viz_hover(v, (VizRect){left.x, y - total_h, left.w, total_h}))
        viz_tooltip(v, "every parameter once: ALBERT %s, BERT %s; ALBERT / BERT = %.4f", kit_count(a->total), kit_count(b->total),
                    (double)a->total / (double)b->total);
    VizRect col = side ? right : (VizRect){c.x, y + gap, c.w, c.y + c.h - y - gap};
    int yy = col.y;
    VizRect room = col; /* a line kept for the hint when not everything fits, and a line of it does */
    if ((ideas != &full || kit_lines_height(v, col.w, ideas) > col.h) &&
        viz_text_wrap_height(v, col.w, ideas->text[0], ideas->font[0], 10) + hint_h <= col.h)
        room.h -= hint_h;
    int shown = kit_lines_draw(v, room, &yy, ideas);
    if (shown < ideas->n || ideas != &full) kit_more_hint(v, col, yy, f, "the two ideas in full");
}

/* the height of the parameters panel in full: the bars one over the other, every idea */
static int params_need(Viz *v, VizRect c, const KitFrame *f)
{
    const AlbertSnap *w = f->snap;
    KitLines full;
    char ratio[200];
    idea_lines(&full, w, false);
    ratio_text(w, ratio, sizeof ratio);
    int gap = viz_px(v, 5), lh = viz_text_height(v, FONT_SANS, 10);
    return lh + gap + group_bars(v, c, w, true, false) + gap + viz_text_wrap_height(v, c.w, ratio, FONT_BOLD, 12) + gap +
           gap + kit_lines_height(v, c.w, &full);
}

static void params_panel(Viz *v, VizRect c, const KitFrame *f)
{
    float keep = v->scale;
    v->scale *= kit_grow(v, c, f, params_need);
    params_draw(v, c, f);
    v->scale = keep;
}

/* ------------------------------------------------------------- papers panel ---- */

/* the lecture's example, multiplied out here */
static const int64_t LV = 5000, LH = 4096, LE = 256;

/* The papers' figures in full (with bars when bars is set) or in brief; bert and albert get
 * the base models' counts. */
static void papers_lines(KitLines *full, KitLines *brief, AlbertCount *bert, AlbertCount *albert, const KitFinding *fd)
{
    int64_t vh = LV * LH, words = LV * LE, proj = LE * LH, fact = words + proj;
    /* the base models as Hugging Face builds them (AlbertModel, BertModel: no pretraining heads) */
    ModelConfig bc = albert_paper_config(MODEL_BERT_PRETRAIN), ac = albert_paper_config(MODEL_ALBERT);
    albert_count_formula(&bc, bert);
    albert_count_formula(&ac, albert);
    *full = (KitLines){0};
    *brief = (KitLines){0};
    kit_lines_add(full, FONT_BOLD, VIZ_TEXT, "The lecture's example: V = %s, H = %s, E = %s", kit_count(LV), kit_count(LH), kit_count(LE));
    kit_lines_add(full, FONT_MONO, model_color(AL_BERT), "V×H       = %s×%s = %s", kit_count(LV), kit_count(LH), kit_count(vh));
    kit_lines_bar(full, 1, 1);
    kit_lines_add(full, FONT_MONO, model_color(AL_ALBERT), "V×E + E×H = %s + %s = %s (%.1f× fewer)", kit_count(words), kit_count(proj), kit_count(fact),
        (double)vh / (double)fact);
    kit_lines_bar(full, (double)fact / (double)vh, (double)words / (double)fact);
    kit_lines_add(full, FONT_SANS, NOTE, "The slide's “≈ 1M + 0.6M” is a slip: V×E = %.2fM and E×H = %.2fM.", (double)words / 1e6,
        (double)proj / 1e6);
    kit_lines_add(full, FONT_BOLD, VIZ_TEXT, "The base models (BertModel, AlbertModel: no pretraining heads)");
    kit_lines_add(full, FONT_MONO, model_color(AL_BERT), "BERT-base   %11s  (the paper's Table 1: 108M)", kit_count(bert->base));
    kit_lines_bar(full, 1, (double)bert->group[PG_EMBEDDINGS] / (double)bert->base);
    kit_lines_add(full, FONT_MONO, model_color(AL_ALBERT), "ALBERT-base %11s  (the paper's Table 1: 12M)", kit_count(albert->base));
    kit_lines_bar(full, (double)albert->base / (double)bert->base,
            (double)(albert->group[PG_EMBEDDINGS] + albert->group[PG_PROJECTION]) / (double)albert->base);
    kit_lines_add(full, FONT_SANS, VIZ_DIM, "ALBERT-base has %.1f%% of BERT-base's parameters: words %s×%d + %d×%d against %s×%d; "
        "1 layer of %s stored against %d.", 100.0 * (double)albert->base / (double)bert->base, kit_count(ac.vocab_size),
        ac.embedding_size, ac.embedding_size, ac.hidden_size, kit_count(bc.vocab_size), bc.hidden_size, kit_count(albert->layer),
        bert->stored);
    kit_lines_add(full, FONT_SANS, VIZ_DIM, "Bars: each pair on one linear scale; solid: the embeddings (V×E, V×H), light: E×H, "
        "or the encoder and pooler.");
    full->bar[full->n - 1] = -2; /* a line only with the bars */
    kit_lines_add(brief, FONT_MONO, VIZ_TEXT, "V×H %s → V×E + E×H %s", kit_count(vh), kit_count(fact));
    kit_lines_add(brief, FONT_MONO, VIZ_TEXT, "base: BERT %s → ALBERT %s", kit_count(bert->base), kit_count(albert->base));
    kit_lines_add(brief, FONT_SANS, NOTE, "(V = %s, H = %s, E = %s; Table 1: 108M, 12M; the slide's “≈ 1M + 0.6M” is a slip: "
        "%.2fM + %.2fM)", kit_count(LV), kit_count(LH), kit_count(LE), (double)words / 1e6, (double)proj / 1e6);
    /* the four encoders of tests/bench/albert_finding (lessons/albert/finding.csv) */
    static const char *const rows[] = {"bert", "factorized", "shared", "both"};
    static const char *const names[] = {"BERT", "factorized only", "shared only", "both (ALBERT)"};
    if (fd->rows > 0) {
        kit_lines_add(full, FONT_BOLD, VIZ_TEXT, "Here: %.0f steps, mean of %.0f seeds (tests/bench/albert_finding)",
                      kit_finding(fd, "bert", "steps"), kit_finding(fd, "bert", "seeds"));
        for (int i = 0; i < 4; i++)
            kit_lines_add(full, FONT_MONO, i == 0 ? model_color(AL_BERT) : i == 3 ? model_color(AL_ALBERT) : VIZ_TEXT,
                          "%-16s %8s params  MLM loss %.3f  SOP %.0f%%", names[i],
                          kit_count((int64_t)kit_finding(fd, rows[i], "parameters")), kit_finding(fd, rows[i], "eval_mlm_loss"),
                          100 * kit_finding(fd, rows[i], "eval_sop_accuracy"));
        kit_lines_add(brief, FONT_MONO, VIZ_TEXT, "measured here, held-out MLM loss: BERT %.2f · factorized %.2f · shared %.2f · both %.2f",
                      kit_finding(fd, "bert", "eval_mlm_loss"), kit_finding(fd, "factorized", "eval_mlm_loss"),
                      kit_finding(fd, "shared", "eval_mlm_loss"), kit_finding(fd, "both", "eval_mlm_loss"));
    } else {
        kit_lines_add(full, FONT_SANS, VIZ_DIM, "The measured table: %s", fd->why);
    }
}

static int papers_need(Viz *v, VizRect c, const KitFrame *f)
{
    (void)f;
    KitLines full, brief;
    AlbertCount bert, albert;
    papers_lines(&full, &brief, &bert, &albert, f->s->finding);
    full.bars = true;
    return kit_lines_height(v, c.w, &full);
}

static void papers_panel(Viz *v, VizRect c, const KitFrame *f)
{
    float keep = v->scale;
    v->scale *= kit_grow(v, c, f, papers_need);
    KitLines full, brief;
    AlbertCount bert, albert;
    papers_lines(&full, &brief, &bert, &albert, f->s->finding);
    full.bars = true;
    if (kit_lines_height(v, c.w, &full) > c.h) full.bars = false;
    int y = c.y;
    const KitLines *l = kit_lines_height(v, c.w, &full) <= c.h ? &full : &brief;
    VizRect room = c; /* a line kept for the hint when not everything fits, and a line of it does */
    int hint_h = viz_text_height(v, FONT_SANS, 9);
    if (l != &full && viz_text_wrap_height(v, c.w, l->text[0], l->font[0], 10) + hint_h <= c.h) room.h -= hint_h;
    int shown = kit_lines_draw(v, room, &y, l);
    if (shown < l->n || l != &full) kit_more_hint(v, c, y, f, "the lecture's example, the base models and the measured table");
    if (viz_hover(v, c))
        viz_tooltip(v, "BERT-base: embeddings %s + %d layers × %s + pooler %s = %s. ALBERT-base: embeddings %s + "
                    "projection %s + 1 layer %s + pooler %s = %s (Hugging Face's BertModel and AlbertModel at the "
                    "papers' sizes; the paper's Table 1 rounds them to 108M and 12M)",
                    kit_count(bert.group[PG_EMBEDDINGS]), bert.stored, kit_count(bert.layer),
                    kit_count(bert.base - bert.group[PG_EMBEDDINGS] - bert.group[PG_LAYERS]), kit_count(bert.base),
                    kit_count(albert.group[PG_EMBEDDINGS]), kit_count(albert.group[PG_PROJECTION]), kit_count(albert.layer),
                    kit_count(albert.base - albert.group[PG_EMBEDDINGS] - albert.group[PG_PROJECTION] - albert.group[PG_LAYERS]),
                    kit_count(albert.base));
    v->scale = keep;
}

/* ---------------------------------------------------------- attention panel ---- */

/* how many positions of the focus pair are real (the rest is padding) */
static int real_len(const uint8_t *mask, int T)
{
    int n = 0;
    for (int t = 0; t < T; t++) n += mask[t] != 0;
    return n;
}

/* The mean total-variation distance between two attention maps (T × T): ½ Σ |p − q| over
 * the keys, averaged over the real query rows. */
static double tv_mean(const float *p, const float *q, const uint8_t *mask, int T)
{
    double sum = 0;
    int rows = 0;
    for (int i = 0; i < T; i++) {
        if (!mask[i]) continue;
        double d = 0;
        for (int j = 0; j < T; j++) d += fabs((double)p[(size_t)i * T + j] - (double)q[(size_t)i * T + j]);
        sum += 0.5 * d;
        rows++;
    }
    return rows ? sum / rows : NAN;
}

/* One attention map of the focus pair's n real tokens (the top-left n × n of T × T in p) as a
 * heatmap (viz_heatmap averages blocks of cells when the map has fewer pixels than tokens).
 * Returns the query and key under the mouse, or -1. */
static void small_map(Viz *v, VizRect r, const float *p, int T, int n, bool fixed, int *q, int *k)
{
    static float grid[512 * 512];   /* seq_len is at most 512 */
    if (n > 512) n = 512;
    float lo = 1, hi = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            float x = grid[i * n + j] = p[(size_t)i * T + j];
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
    if (fixed || hi <= lo) lo = 0, hi = 1;
    VizHeatmap hm = {grid, n, n, lo, hi, CMAP_VIRIDIS, NULL, NULL, "p", false, NULL};
    viz_heatmap(v, r, &hm, q, k);
}

/* Text centred under (or over) a map at x of width mw, kept inside the panel. */
static void centred(Viz *v, VizRect c, int x, int mw, int y, const char *t, VizFont font, float size, VizColor color)
{
    int tw = viz_text_width(v, t, font, size), cx = x + mw / 2;
    if (cx - tw / 2 < c.x) cx = c.x + tw / 2;
    if (cx + tw / 2 > c.x + c.w) cx = c.x + c.w - tw / 2;
    viz_text(v, cx, y, t, font, size, color, ALIGN_CENTER);
}

static void layers_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const AlbertSnap *w = f->snap;
    KitUiState *ui = f->ui;
    int T = s->T;
    if (!s->have_forward || s->nattn < AL_MODELS) {
        viz_text_wrap(v, c.x, c.y, c.w, "Press Space to train one step: then each layer's attention.", FONT_SANS, 11, VIZ_DIM);
        return;
    }
    const uint8_t *mask = w->mask + (size_t)s->focus * T;
    const int32_t *ids = w->input + (size_t)s->focus * T;
    int n = real_len(mask, T), head = ui->head;
    int L = s->attn[0].L > s->attn[1].L ? s->attn[0].L : s->attn[1].L;
    if (n < 1 || L < 1) return;
    if (L > 64) L = 64;
    int lh = viz_text_height(v, FONT_SANS, 10), gap = viz_px(v, 4);
    /* the numbers at 10 points, or 8 when the layers are many */
    int cell = c.w / L;
    float nsize = viz_text_width(v, "0.00", FONT_MONO, 10) <= cell - gap ? 10 : 8;
    bool numbers = viz_text_width(v, "0.00", FONT_MONO, nsize) <= cell - 2;
    int lm = viz_text_height(v, FONT_MONO, nsize);
    char widest[32];
    snprintf(widest, sizeof widest, "vs L%d 0.00", L - 1);
    bool long_numbers = viz_text_width(v, widest, FONT_MONO, nsize) <= cell - gap; /* "vs L1 0.23", or "0.23" */
    char caption[400];
    snprintf(caption, sizeof caption, "Head %d (the enlarged one: 1–9, click) in every layer, on the focus pair's %d tokens. "
             "Under each map: how far it moved from the layer before, ½Σ|p − q| over keys, averaged over queries "
             "(0 = the same, 1 = disjoint). ALBERT's layers usually move less than BERT's: its paper (Fig. 1) finds "
             "smoother layer-to-layer transitions.", head + 1, n);
    char brief[160];
    snprintf(brief, sizeof brief, "head %d; each layer against the one before: 0 = the same attention, 1 = disjoint",
             head + 1);
    /* the layer labels, and each row's title and numbers (fixed), with the maps' frames
       (fixed_maps) */
    int y = c.y, fixed = 2 * (lh + 2 + lm + gap) + lh, fixed_maps = 2 * (lh + 4 + viz_px(v, 2) + lm + gap) + lh;
    int min_side = viz_px(v, 18);
    int cap_h = viz_text_wrap_height(v, c.w, caption, FONT_SANS, 9), brief_h = viz_text_height(v, FONT_SANS, 9);
    bool maps = c.h - fixed_maps >= 2 * min_side; /* without a caption */
    if (c.h - cap_h - gap - fixed_maps >= 2 * viz_px(v, 40)) {
        y += viz_text_wrap(v, c.x, y, c.w, caption, FONT_SANS, 9, VIZ_DIM) + gap;
    } else if ((maps && c.h - brief_h - gap - fixed_maps >= 2 * min_side) || (!maps && c.h - brief_h - gap >= fixed) ||
               (c.h < fixed && c.h >= brief_h + gap / 2 + 2 * (lm + viz_px(v, 2)))) {
        viz_text_fit(v, c.x, y, c.w, brief, FONT_SANS, 9, VIZ_DIM);
        y += brief_h + gap / 2;
    }
    if (c.y + c.h - y < fixed) { /* no room for the columns: a line per model */
        for (int m = 0; m < AL_MODELS; m++) {
            const KitAttn *a = &s->attn[m];
            int h = head < a->NH ? head : a->NH - 1;
            char line[400];
            double mean = 0;
            size_t len = (size_t)snprintf(line, sizeof line, "%s:", m == AL_BERT ? "BERT" : w->count[m].stored == 1
                                                                                       ? "ALBERT (shared)" : "ALBERT");
            for (int l = 1; l < a->L && l < 64 && len < sizeof line; l++) {
                double tv = tv_mean(a->p + ((size_t)l * a->NH + h) * T * T, a->p + ((size_t)(l - 1) * a->NH + h) * T * T,
                                    mask, T);
                mean += tv / (a->L - 1);
                len += (size_t)snprintf(line + len, sizeof line - len, " L%d %.2f", l + 1, tv);
            }
            if (a->L > 1 && len < sizeof line) snprintf(line + len, sizeof line - len, " · mean %.2f", mean);
            if (y + lm > c.y + c.h) break;
            viz_text_fit(v, c.x, y, c.w, line, FONT_MONO, 10, model_color(m));
            if (viz_hover(v, (VizRect){c.x, y, c.w, lm}))
                viz_tooltip(v, "%s, head %d: layer l against layer l − 1, mean total-variation distance over the %d real "
                            "query rows (Z enlarges: the maps)", MODEL_NAME[m], h + 1, n);
            y += lm + viz_px(v, 2);
        }
        return;
    }
    int side = (c.y + c.h - y - fixed_maps) / 2;
    if (side > cell - gap) side = cell - gap;
    if (side < min_side) side = 0; /* too small to see: the numbers alone */
    int mw = side ? side + 2 : cell - gap;
    /* the layer labels over the columns */
    for (int l = 0; l < L; l++) {
        char t[16];
        snprintf(t, sizeof t, viz_text_width(v, "layer 12", FONT_SANS, 10) <= cell - gap ? "layer %d" : "L%d", l + 1);
        if (viz_text_width(v, t, FONT_SANS, 10) <= cell - 2) centred(v, c, c.x + l * cell, mw, y, t, FONT_SANS, 10, VIZ_DIM);
    }
    y += lh;
    for (int m = 0; m < AL_MODELS && y + lh <= c.y + c.h; m++) {
        const KitAttn *a = &s->attn[m];
        int h = head < a->NH ? head : a->NH - 1;
        double tv[64] = {0}, mean = 0;
        int ntv = 0;
        for (int l = 1; l < a->L && l < 64; l++) {
            tv[l] = tv_mean(a->p + ((size_t)l * a->NH + h) * T * T, a->p + ((size_t)(l - 1) * a->NH + h) * T * T, mask, T);
            mean += tv[l];
            ntv++;
        }
        char title[160];
        if (m == AL_ALBERT && w->count[m].stored == 1)
            snprintf(title, sizeof title, "ALBERT: one layer's weights, applied %d times", a->L);
        else if (m == AL_ALBERT)
            snprintf(title, sizeof title, "ALBERT: %d layers, %d stored (share_layers = 0)", a->L, w->count[m].stored);
        else snprintf(title, sizeof title, "BERT: %d layers, each its own weights", a->L);
        if (ntv) snprintf(title + strlen(title), sizeof title - strlen(title), " · mean change %.2f", mean / ntv);
        viz_text_fit(v, c.x, y, c.w, title, FONT_SANS, 10, model_color(m));
        y += lh + 2;
        for (int l = 0; l < a->L && l < 64; l++) {
            const float *p = a->p + ((size_t)l * a->NH + h) * T * T;
            int x = c.x + l * cell;
            if (side) {
                VizRect r = {x, y, side + 2, side + 2};
                int q, k;
                small_map(v, r, p, T, n, ui->attn_fixed, &q, &k);
                if (ui->attn == m && ui->layer == l) viz_frame(v, (VizRect){r.x - 1, r.y - 1, r.w + 2, r.h + 2}, NOTE);
                if (q >= 0)
                    viz_tooltip(v, "%s, layer %d, head %d: \"%s\" (query %d) → \"%s\" (key %d): p = %.4f (click: enlarge "
                                "it)", MODEL_NAME[m], l + 1, h + 1, kit_token(s, ids[q]), q, kit_token(s, ids[k]), k,
                                (double)p[(size_t)q * T + k]);
                if (viz_hover(v, r) && v->mouse_clicked) {
                    ui->attn = m;
                    ui->layer = l;
                }
            }
            char t[32];
            if (l == 0) snprintf(t, sizeof t, "—");
            else if (long_numbers) snprintf(t, sizeof t, "vs L%d %.2f", l, tv[l]);
            else snprintf(t, sizeof t, "%.2f", tv[l]);
            VizRect nr = {x, y + (side ? side + 2 + viz_px(v, 2) : 0), cell - 2, lm};
            if (numbers && nr.y + lm <= c.y + c.h)
                centred(v, c, x, mw, nr.y, t, FONT_MONO, nsize, l ? model_color(m) : VIZ_DIM);
            if (viz_hover(v, nr)) {
                if (l) viz_tooltip(v, "%s, head %d: layer %d against layer %d: mean total-variation distance %.4f over the %d "
                                   "real query rows", MODEL_NAME[m], h + 1, l + 1, l, tv[l], n);
                else viz_tooltip(v, "layer 1 has no layer before it");
            }
        }
        y += (side ? side + 2 + viz_px(v, 2) : 0) + lm + gap;
    }
}

/* -------------------------------------------------------------- batch panel ---- */

static const char *label_name(int label) { return label ? "swapped" : "in order"; }

static VizColor token_fill(const AlbertSnap *w, size_t at)
{
    if (!w->mask[at]) return PAD;
    switch (w->kind[at]) {
    case KIND_MASK: return K_MASK;
    case KIND_RANDOM: return K_RANDOM;
    case KIND_KEPT: return K_KEPT;
    default: break;
    }
    if (vocab_is_special(w->input[at])) return SPECIAL;
    return w->types_ids[at] ? SEG_B : SEG_A;
}

static bool right_of(float p, int label) { return (p < 0.5f) == (label == 1); }

static void batch_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const AlbertSnap *w = f->snap;
    int T = s->T, B = s->B, b = s->focus, gap = viz_px(v, 4);
    size_t off = (size_t)b * T;
    const char *names[514];
    VizColor fills[514];
    char pad_name[32], rest[32];
    int at[514], shown = 0;
    for (int t = 0; t < T && shown < 512; t++) {
        if (!w->mask[off + t]) { /* one [PAD] stands for the rest */
            snprintf(pad_name, sizeof pad_name, T - t > 1 ? "[PAD]×%d" : "[PAD]", T - t);
            names[shown] = pad_name;
            fills[shown] = PAD;
            at[shown++] = t;
            break;
        }
        names[shown] = kit_token(s, w->input[off + t]);
        fills[shown] = token_fill(w, off + t);
        at[shown++] = t;
    }
    char line[300];
    int label = w->pair_label[b];
    snprintf(line, sizeof line, "Pair %d of %d (Tab: next): %s%s, chapter %d", b + 1, B, label_name(label),
             label ? " (B first)" : "", w->docs[2 * b] + 1);
    int y = c.y;
    if (!kit_put(v, c, &y, line, FONT_SANS, 11, VIZ_TEXT)) return;
    /* the legend, in full or (when that takes more than a line) in brief */
    const char *const legend_full[7] = {"segment A", "segment B", "[CLS] [SEP]", "→ [MASK]", "→ random token",
                                        "selected, kept", "[PAD]"};
    const char *const legend_brief[7] = {"A", "B", "[CLS] [SEP]", "→ [MASK]", "→ random", "kept", "[PAD]"};
    const VizColor lc[7] = {SEG_A, SEG_B, SPECIAL, K_MASK, K_RANDOM, K_KEPT, PAD};
    int lm = viz_text_height(v, FONT_MONO, 10), ls = viz_text_height(v, FONT_SANS, 10);
    const char *const *legend = viz_legend_height(v, c.w, legend_full, 7) <= ls ? legend_full : legend_brief;
    int legend_h = viz_legend_height(v, c.w, legend, 7);
    /* the tokens at the largest size that leaves room for the legend, both answers and four
       pairs; at the smallest, as many as fit, then "…" */
    int answers_h = s->have_forward ? lm + gap : 0;
    int want = legend_h + gap + answers_h + 5 * (lm + viz_px(v, 2));
    float size = 10;
    while (size > 7.5f && viz_tokens_height(v, c.w, names, shown, size) > c.y + c.h - y - want) size -= 0.5f;
    int room = c.y + c.h - y - legend_h - gap - answers_h - gap;
    int count = shown;
    if (viz_tokens_height(v, c.w, names, shown, size) > room) {
        while (count > 1) {
            snprintf(rest, sizeof rest, "… %d more", shown - count + 1);
            names[count - 1] = rest;
            fills[count - 1] = VIZ_PANEL;
            if (viz_tokens_height(v, c.w, names, count, size) <= room) break;
            count--;
        }
    }
    int hover = -1;
    y += viz_tokens(v, (VizRect){c.x, y, c.w, c.y + c.h - y}, names, fills, count, size, &hover) + gap;
    if (hover >= 0 && !(count < shown && hover == count - 1)) {
        int t = at[hover];
        size_t k = off + t;
        const char *how = !w->mask[k] ? "padding (attention_mask 0: no token attends to it)"
                          : w->kind[k] == KIND_MASK ? "selected for MLM, replaced by [MASK]"
                          : w->kind[k] == KIND_RANDOM ? "selected for MLM, replaced by a random token"
                          : w->kind[k] == KIND_KEPT ? "selected for MLM, kept as it was (still predicted)"
                          : vocab_is_special(w->input[k]) ? "a special token, never selected"
                          : w->types_ids[k] ? "segment B (token_type_ids 1)" : "segment A (token_type_ids 0)";
        viz_tooltip(v, "position %d: \"%s\" (original \"%s\"): %s", t, kit_token(s, w->input[k]), kit_token(s, w->original[k]),
                    how);
    } else if (hover >= 0) {
        viz_tooltip(v, "%d more tokens: Z enlarges the panel", shown - count + 1);
    }
    if (y + legend_h <= c.y + c.h) {
        int lx = c.x;
        y += viz_legend(v, lx, y, c.w, legend, lc, 7) + gap;
        if (viz_hover(v, (VizRect){c.x, y - legend_h - gap, c.w, legend_h}))
            viz_tooltip(v, "mlm_probability %.2f of the tokens are selected for the masked LM ([ ] change it); of those, "
                        "%.0f%% become [MASK], %.0f%% a random token, the rest stay as they were",
                        kit_snap_value(s, "mlm_probability"), 100 * kit_snap_value(s, "mask_replace_prob"),
                        100 * kit_snap_value(s, "random_replace_prob"));
    }
    if (!s->have_forward) {
        kit_put(v, c, &y, "Press Space to train one step: then both models' answers.", FONT_SANS, 10, VIZ_DIM);
        return;
    }
    /* this pair's answers in a line, in the models' colours; the batch's score */
    int right[AL_MODELS] = {0, 0};
    for (int m = 0; m < AL_MODELS; m++)
        for (int i = 0; i < B; i++) right[m] += right_of(w->p[(size_t)m * B + i], w->pair_label[i]);
    char piece[AL_MODELS][64];
    const char *lead = "this pair, P(in order):";
    int x = c.x, pw = viz_text_width(v, lead, FONT_SANS, 10) + viz_px(v, 6);
    for (int m = 0; m < AL_MODELS; m++) {
        float p = w->p[(size_t)m * B + b];
        snprintf(piece[m], sizeof piece[m], "%s %.2f %s", MODEL_NAME[m], (double)p, right_of(p, label) ? "✓" : "✗");
        pw += viz_text_width(v, piece[m], FONT_MONO, 10) + viz_px(v, 12);
    }
    if (y + lm > c.y + c.h) return;
    if (pw <= c.w) x += viz_text(v, x, y, lead, FONT_SANS, 10, VIZ_TEXT, ALIGN_LEFT) + viz_px(v, 6);
    for (int m = 0; m < AL_MODELS; m++)
        x += viz_text(v, x, y, piece[m], FONT_MONO, 10, model_color(m), ALIGN_LEFT) + viz_px(v, 12);
    if (viz_hover(v, (VizRect){c.x, y, c.w, lm}))
        viz_tooltip(v, "the pair above is %s: P(in order) ALBERT %.3f, BERT %.3f (above 0.5: the model says in order)",
                    label_name(label), (double)w->p[b], (double)w->p[B + b]);
    y += lm;
    snprintf(line, sizeof line, "this batch: ALBERT %d of %d right · BERT %d of %d (chance: half)", right[0], B, right[1], B);
    if (!kit_put(v, c, &y, line, FONT_SANS, 10, VIZ_TEXT)) return;
    y += gap;
    /* the pairs: number, label, both models' P(in order) as bars, the start of the pair */
    int row = lm + viz_px(v, 2), pad = viz_px(v, 3);
    int rows = (c.y + c.h - y - row) / row;
    if (rows < 2) return;
    if (rows > B) rows = B;
    int num_w = viz_text_width(v, "#32", FONT_MONO, 10) + pad, lab_w = viz_text_width(v, "in order", FONT_MONO, 10) + pad;
    int mark_w = viz_text_width(v, "✗", FONT_MONO, 10) + pad;
    int bar_w = (c.w - num_w - lab_w) / 4;
    if (bar_w > viz_px(v, 90)) bar_w = viz_px(v, 90);
    int x_bar = c.x + num_w + lab_w, x_text = x_bar + AL_MODELS * (bar_w + mark_w + pad);
    viz_text(v, c.x, y, "#", FONT_SANS, 9, VIZ_DIM, ALIGN_LEFT);
    viz_text(v, c.x + num_w, y, "label", FONT_SANS, 9, VIZ_DIM, ALIGN_LEFT);
    for (int m = 0; m < AL_MODELS; m++)
        viz_text_fit(v, x_bar + m * (bar_w + mark_w + pad), y, bar_w + mark_w, m ? "BERT" : "ALBERT P(in order)", FONT_SANS, 9,
                     model_color(m));
    bool text = x_text + viz_px(v, 60) < c.x + c.w;
    if (text) viz_text_fit(v, x_text, y, c.x + c.w - x_text, "the pair (A | B)", FONT_SANS, 9, VIZ_DIM);
    y += row;
    int first = b >= rows ? b - rows + 1 : 0; /* the focus pair stays in view */
    for (int k = 0; k < rows; k++) {
        int i = first + k, yy = y + k * row;
        VizRect line_r = {c.x, yy, c.w, row};
        if (i == b) viz_fill(v, line_r, viz_mix(VIZ_PANEL, VIZ_TEXT, 0.12f));
        char t[16];
        snprintf(t, sizeof t, "#%d", i + 1);
        viz_text(v, c.x, yy, t, FONT_MONO, 10, VIZ_DIM, ALIGN_LEFT);
        viz_text(v, c.x + num_w, yy, label_name(w->pair_label[i]), FONT_MONO, 10, VIZ_TEXT, ALIGN_LEFT);
        for (int m = 0; m < AL_MODELS; m++) {
            float p = w->p[(size_t)m * B + i];
            bool ok = right_of(p, w->pair_label[i]);
            VizRect bar = {x_bar + m * (bar_w + mark_w + pad), yy + 1, bar_w, lm - 1};
            viz_fill(v, (VizRect){bar.x, bar.y, (int)(bar.w * p), bar.h}, viz_mix(VIZ_PANEL, model_color(m), 0.6f));
            viz_frame(v, bar, VIZ_GRID);
            char num_s[16];
            snprintf(num_s, sizeof num_s, "%.2f", (double)p);
            viz_text(v, bar.x + bar.w - pad, yy, num_s, FONT_MONO, 10, VIZ_TEXT, ALIGN_RIGHT);
            viz_text(v, bar.x + bar.w + pad, yy, ok ? "✓" : "✗", FONT_MONO, 10, ok ? RIGHT : WRONG, ALIGN_LEFT);
        }
        if (text) { /* the pair as it was before the corruption, A | B */
            char words[200];
            size_t len = 0;
            words[0] = 0;
            const int32_t *in = w->original + (size_t)i * T;
            for (int t = 1; t < T && w->mask[(size_t)i * T + t] && len < sizeof words - 40; t++) {
                if (in[t] == TOK_SEP && (t + 1 >= T || !w->mask[(size_t)i * T + t + 1])) break;
                const char *tok = in[t] == TOK_SEP ? "|" : kit_token(s, in[t]);
                bool cont = !strncmp(tok, "##", 2) && in[t - 1] != TOK_SEP;
                len += (size_t)snprintf(words + len, sizeof words - len, "%s%s", cont || !len ? "" : " ",
                                        !strncmp(tok, "##", 2) ? tok + 2 : tok);
            }
            viz_text_fit(v, x_text, yy, c.x + c.w - x_text, words, FONT_MONO, 10, VIZ_DIM);
        }
        if (viz_hover(v, line_r))
            viz_tooltip(v, "pair %d, %s: P(in order) ALBERT %.3f (%s), BERT %.3f (%s)%s", i + 1, label_name(w->pair_label[i]),
                        (double)w->p[i], right_of(w->p[i], w->pair_label[i]) ? "right" : "wrong", (double)w->p[B + i],
                        right_of(w->p[B + i], w->pair_label[i]) ? "right" : "wrong",
                        i == b ? " (the pair shown above)" : "; Tab picks the pair shown above");
    }
    if (rows < B && y + rows * row + viz_text_height(v, FONT_SANS, 9) <= c.y + c.h)
        viz_text(v, c.x, y + rows * row, "(more pairs: Tab picks the pair; Z enlarges)", FONT_SANS, 9, VIZ_DIM, ALIGN_LEFT);
}

/* -------------------------------------------------------------- probe panel ---- */

typedef struct AlbertProbe {
    KitPairProbe m[AL_MODELS];
    int n;                        /* models answered: 2 (the live ones), 1 (a long-trained model) */
} AlbertProbe;

static void probe_run(Run *r, Model *model, const char *text, void *result)
{
    AlbertProbe *pr = result;
    memset(pr, 0, sizeof *pr);
    if (model == kit_model(r, AL_ALBERT)) { /* the live run: both models answer */
        for (int i = 0; i < AL_MODELS; i++) kit_pair_probe(r, kit_model(r, i), text, &pr->m[i]);
        pr->n = AL_MODELS;
    } else { /* a long-trained model, when one ships: only it */
        kit_pair_probe(r, model, text, &pr->m[0]);
        pr->n = 1;
    }
}

/* One way round (dir 0: A then B): its name, and each model's P(in order) as a number and a
 * bar from 0 to 1. Returns the height used. */
static int probe_answer(Viz *v, VizRect c, int y, int dir, const AlbertProbe *pr)
{
    int lh = viz_text_height(v, FONT_SANS, 11), lm = viz_text_height(v, FONT_MONO, 10), gap = viz_px(v, 4);
    int label_w = viz_text_width(v, "B then A", FONT_BOLD, 11) + viz_px(v, 10), per = (c.w - label_w) / AL_MODELS;
    if (y + lh > c.y + c.h) return 0;
    viz_text(v, c.x, y, dir ? "B then A" : "A then B", FONT_BOLD, 11, VIZ_TEXT, ALIGN_LEFT);
    for (int m = 0; m < pr->n; m++) {
        float p = pr->m[m].p[dir];
        char t[48];
        snprintf(t, sizeof t, "%s %.2f", pr->n > 1 ? MODEL_NAME[m] : "trained", (double)p);
        int x = c.x + label_w + m * per, tw = viz_text_width(v, "ALBERT 0.00", FONT_MONO, 10) + gap;
        viz_text(v, x, y + (lh - lm) / 2, t, FONT_MONO, 10, model_color(m), ALIGN_LEFT);
        int bw = per - tw - 2 * gap;
        if (bw > viz_px(v, 12)) {
            VizRect bar = {x + tw, y + lh / 4, bw, lh / 2};
            viz_fill(v, (VizRect){bar.x, bar.y, (int)(bar.w * p), bar.h}, model_color(m));
            viz_frame(v, bar, VIZ_DIM);
        }
        if (viz_hover(v, (VizRect){x, y, per, lh}))
            viz_tooltip(v, "%s: P(in order) of [CLS] %s [SEP] %s [SEP] = %.4f", MODEL_NAME[m], dir ? "B" : "A", dir ? "A" : "B",
                        (double)p);
    }
    return lh + gap / 2;
}

static void probe_draw(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const AlbertProbe *pr = f->ui->probe_result;
    if (!pr || !pr->n || pr->m[0].one) {
        viz_text_wrap(v, c.x, c.y, c.w,
                      pr ? "Two sentences are needed: write them as  A | B  (or end the first with . ! or ?)."
                         : "Type two sentences,  A | B  , then Enter: both models say whether they are in order, both ways "
                           "round.",
                      FONT_SANS, 11, pr ? NOTE : VIZ_DIM);
        return;
    }
    const KitPairProbe *q = &pr->m[0]; /* the two models read the same tokens */
    const char *names[2][KIT_PAIR_PROBE_MAX];
    VizColor fills[2][KIT_PAIR_PROBE_MAX];
    for (int dir = 0; dir < 2; dir++)
        for (int i = 0; i < q->len[dir]; i++) {
            names[dir][i] = kit_token(s, q->ids[dir][i]);
            fills[dir][i] = vocab_is_special(q->ids[dir][i]) ? SPECIAL : i < q->split[dir] ? SEG_A : SEG_B;
        }
    const char *cut = "The pair was cut to seq_len: the models were trained at that length.";
    int lh = viz_text_height(v, FONT_SANS, 11), gap = viz_px(v, 4);
    char verdict[240];
    size_t len = (size_t)snprintf(verdict, sizeof verdict, "P(A then B) − P(B then A):");
    for (int m = 0; m < pr->n && len < sizeof verdict; m++) {
        double d = (double)(pr->m[m].p[0] - pr->m[m].p[1]);
        len += (size_t)snprintf(verdict + len, sizeof verdict - len, "%s %s %+.2f", m ? " ·" : "",
                                pr->n > 1 ? MODEL_NAME[m] : "trained", fabs(d) < 0.005 ? 0.0 : d); /* no "-0.00" */
    }
    if (len < sizeof verdict) snprintf(verdict + len, sizeof verdict - len, " (above 0: it prefers the order typed)");
    int cut_h = q->cut ? viz_text_wrap_height(v, c.w, cut, FONT_SANS, 10) : 0;
    int verdict_h = viz_text_wrap_height(v, c.w, verdict, FONT_SANS, 10);
    /* each way round, its answers and its tokens, at the largest size (down to 7 points) that
       shows both; else both answers first, then the tokens of A then B as far as they fit */
    int answers_h = 2 * (lh + gap / 2 + gap);
    float size = 10;
    int tokens_h = 0;
    for (; size >= 7; size -= 0.5f) {
        tokens_h = viz_tokens_height(v, c.w, names[0], q->len[0], size) + viz_tokens_height(v, c.w, names[1], q->len[1], size);
        if (answers_h + tokens_h + verdict_h + cut_h <= c.h) break;
    }
    bool both = answers_h + tokens_h + verdict_h <= c.h;
    if (size < 7) size = 7;
    int y = c.y, hover;
    for (int dir = 0; dir < 2; dir++) {
        y += probe_answer(v, c, y, dir, pr);
        if (!both) continue;
        y += viz_tokens(v, (VizRect){c.x, y, c.w, c.y + c.h - y}, names[dir], fills[dir], q->len[dir], size, &hover) + gap;
        if (hover >= 0)
            viz_tooltip(v, "position %d: \"%s\", segment %s", hover, names[dir][hover], hover < q->split[dir] ? "A" : "B");
    }
    kit_put(v, c, &y, verdict, FONT_SANS, 10, VIZ_TEXT);
    if (!both && y + viz_tokens_height(v, c.w, names[0], q->len[0], size) <= c.y + c.h) {
        y += viz_tokens(v, (VizRect){c.x, y, c.w, c.y + c.h - y}, names[0], fills[0], q->len[0], size, &hover) + gap;
        if (hover >= 0)
            viz_tooltip(v, "A then B, position %d: \"%s\", segment %s", hover, names[0][hover], hover < q->split[0] ? "A" : "B");
    }
    if (q->cut) kit_put(v, c, &y, cut, FONT_SANS, 10, NOTE);
}

/* the probe's height with the tokens at 10 points */
static int probe_need(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const AlbertProbe *pr = f->ui->probe_result;
    if (!pr || !pr->n || pr->m[0].one) return c.h + 1;
    const KitPairProbe *q = &pr->m[0];
    const char *names[KIT_PAIR_PROBE_MAX];
    int h = 2 * (viz_text_height(v, FONT_SANS, 11) + viz_px(v, 2) + viz_px(v, 4)) + 2 * viz_text_height(v, FONT_SANS, 10);
    for (int dir = 0; dir < 2; dir++) {
        for (int i = 0; i < q->len[dir]; i++) names[i] = kit_token(s, q->ids[dir][i]);
        h += viz_tokens_height(v, c.w, names, q->len[dir], 10);
    }
    return h;
}

static void probe_panel(Viz *v, VizRect c, const KitFrame *f)
{
    float keep = v->scale;
    v->scale *= kit_grow(v, c, f, probe_need);
    probe_draw(v, c, f);
    v->scale = keep;
}

/* ------------------------------------------------------------------ headline ---- */

static void headline(const KitFrame *f, char *buf, size_t n)
{
    const AlbertSnap *w = f->snap;
    const AlbertCount *a = &w->count[AL_ALBERT], *b = &w->count[AL_BERT];
    double ea = kit_last_value(f->s, "eval_mlm_loss"), eb = kit_last_value(f->s, "eval_bert_mlm_loss");
    int len = snprintf(buf, n, "ALBERT %s params · BERT %s (%.0f%%)", kit_count(a->total), kit_count(b->total),
                       100.0 * (double)a->total / (double)b->total);
    if (!isnan(ea) && !isnan(eb) && len > 0 && (size_t)len < n)
        snprintf(buf + len, n - (size_t)len, " · held-out MLM: ALBERT %.2f, BERT %.2f", ea, eb);
}

/* ------------------------------------------------------------- description ---- */

static const KitPanel panels[] = {
    {"Parameters, counted from the live models", params_panel, 44, 0, "Parameters"},
    {"At the papers' scale: the same formulas", papers_panel, 14, 0, "Papers' scale"},
    {"Each layer's attention against the layer before (ALBERT: one layer's weights)", layers_panel, 27, 0, "Each layer"},
    {"The batch: the focus pair and both models' P(in order)", batch_panel, 31, 0, "The batch"},
    {"Probe: two sentences, A | B, then Enter (Esc leaves)", probe_panel, 24, KIT_PANEL_PROBE, "Probe"},
};

static const char *const mlm_cols[] = {"mlm", "bert_mlm", NULL};
static const char *const sop_cols[] = {"sop", "bert_sop", NULL};
static const char *const eval_mlm_cols[] = {"eval_mlm_loss", "eval_bert_mlm_loss", NULL};
static const char *const eval_sop_cols[] = {"eval_sop_accuracy", "eval_bert_sop_accuracy", NULL};

static const KitCurve curves[] = {
    {.title = "Held-out masked-LM loss of both models (nats)", .ylabel = "cross-entropy", .ref = REF_UNIGRAM_ENTROPY,
     .ref_name = "unigram entropy", .short_title = "Held-out MLM", .series = eval_mlm_cols, .series_name = MODEL_NAME,
     .series_color = MODEL_ACCENT, .series_points = true},
    {.title = "Held-out sentence-order accuracy of both models", .ylabel = "accuracy", .ref = REF_CHANCE_ACCURACY,
     .ref_name = "chance (50%)", .bounded = true, .lo = 0, .hi = 1, .short_title = "Held-out SOP",
     .series = eval_sop_cols, .series_name = MODEL_NAME, .series_color = MODEL_ACCENT, .series_points = true},
    {.title = "Masked-LM loss on each batch (nats)", .ylabel = "cross-entropy", .ref = REF_UNIGRAM_ENTROPY,
     .ref_name = "unigram entropy", .short_title = "Training MLM", .series = mlm_cols, .series_name = MODEL_NAME,
     .series_color = MODEL_ACCENT},
    {.title = "Sentence-order loss on each batch (nats)", .ylabel = "cross-entropy", .ref = REF_CHANCE_LOSS,
     .ref_name = "chance (ln 2)", .short_title = "Training SOP", .series = sop_cols, .series_name = MODEL_NAME,
     .series_color = MODEL_ACCENT},
};

static const KitKey keys[] = {
    {'[', "mlm_probability", -0.05, "mlm_probability −0.05", NULL, 0},
    {']', "mlm_probability", +0.05, "mlm_probability +0.05", NULL, 0},
};

const LessonView albert_view = {
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
    .probe_size = sizeof(AlbertProbe),
    .probe_help = "type two sentences, A | B: P(in order) of both models, both ways round",
    .item = "pair",
};
