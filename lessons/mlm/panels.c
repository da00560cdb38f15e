/* panels.c — the dashboard of fmlab-mlm:
 *
 *   header: lesson, step, loss, accuracy, state
 *   left:   the focus sequence as the corpus has it and as the model sees it, each token
 *           coloured by what the corruption did (legend), the realised selection rate and
 *           80/10/10 split since step 1 against the settings, and the model's top-5 guesses
 *           at the selected positions
 *   middle: attention of every layer × head (thumbnails; click one to enlarge) and the
 *           enlarged head with its tokens on both axes
 *   right:  loss and accuracy curves, train and held-out, with the unigram bar to beat,
 *           and the lesson's notes */
#define _POSIX_C_SOURCE 200809L
#include "panels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mlm_view_alloc(MlmView *w, const Mlm *L)
{
    memset(w, 0, sizeof *w);
    w->T = L->T;
    w->L = L->model.cfg.num_hidden_layers;
    w->NH = L->model.cfg.num_attention_heads;
    size_t T = (size_t)L->T;
    w->original = calloc(T, 4);
    w->input = calloc(T, 4);
    w->labels = calloc(T, 4);
    w->kind = calloc(T, 1);
    w->top_p = calloc(T * TOPK, sizeof(float));
    w->top_id = calloc(T * TOPK, 4);
    w->attn = calloc((size_t)w->L * w->NH * T * T, sizeof(float));
    w->vocab = &L->vocab;
    return w->original && w->input && w->labels && w->kind && w->top_p && w->top_id && w->attn ? 0 : -1;
}

void mlm_view_free(MlmView *w)
{
    free(w->original);
    free(w->input);
    free(w->labels);
    free(w->kind);
    free(w->top_p);
    free(w->top_id);
    free(w->attn);
    free(w->metrics);
    memset(w, 0, sizeof *w);
}

void mlm_view_fill(MlmView *w, const Mlm *L, int focus)
{
    const MlmBatch *b = &L->batch;
    int T = w->T;
    w->step = L->step;
    w->B = b->B;
    w->V = L->vocab.size;
    w->focus = focus < 0 ? 0 : focus % b->B;
    w->loss = L->last_loss;
    w->accuracy = L->last_accuracy;
    w->lr = lr_at(&L->schedule, L->step);
    w->mlm_probability = L->mask.mlm_probability;
    w->mask_replace_prob = L->mask.mask_replace_prob;
    w->random_replace_prob = L->mask.random_replace_prob;
    w->unigram_entropy = L->unigram_entropy;
    w->unigram_accuracy = L->unigram_accuracy;
    memcpy(w->tally, L->tally, sizeof w->tally);
    w->eligible = L->tally[4];
    size_t off = (size_t)w->focus * T;
    memcpy(w->original, b->original + off, (size_t)T * 4);
    memcpy(w->input, b->input + off, (size_t)T * 4);
    memcpy(w->labels, b->labels + off, (size_t)T * 4);
    memcpy(w->kind, b->kind + off, (size_t)T);
    memcpy(w->top_p, L->top_p + off * TOPK, (size_t)T * TOPK * sizeof(float));
    memcpy(w->top_id, L->top_id + off * TOPK, (size_t)T * TOPK * 4);
    w->have_batch = L->fwd.attn != NULL;
    for (int l = 0; w->have_batch && l < w->L; l++)
        for (int h = 0; h < w->NH; h++)
            memcpy(w->attn + ((size_t)l * w->NH + h) * T * T,
                   L->fwd.attn[l] + (((size_t)w->focus * w->NH + h) * T) * T, (size_t)T * T * sizeof(float));
    if (L->metrics.rows > w->rows_cap) {
        long cap = L->metrics.rows * 2 + 1024;
        float *m = realloc(w->metrics, (size_t)cap * NCOLS * sizeof(float));
        if (!m) return;
        w->metrics = m;
        w->rows_cap = cap;
    }
    /* rows never change once written, so only the new ones are copied (a reset starts over) */
    long from = w->run == L->run && w->rows <= L->metrics.rows ? w->rows : 0;
    w->run = L->run;
    if (L->metrics.rows > from)
        memcpy(w->metrics + from * NCOLS, L->metrics.data + from * NCOLS, (size_t)(L->metrics.rows - from) * NCOLS * sizeof(float));
    w->rows = L->metrics.rows;
}

void mlm_view_copy(MlmView *dst, const MlmView *src)
{
    size_t T = (size_t)src->T, nattn = (size_t)src->L * src->NH * T * T;
    MlmView keep = *dst;
    *dst = *src;
    dst->original = keep.original;
    dst->input = keep.input;
    dst->labels = keep.labels;
    dst->kind = keep.kind;
    dst->top_p = keep.top_p;
    dst->top_id = keep.top_id;
    dst->attn = keep.attn;
    dst->metrics = keep.metrics;
    dst->rows_cap = keep.rows_cap;
    memcpy(dst->original, src->original, T * 4);
    memcpy(dst->input, src->input, T * 4);
    memcpy(dst->labels, src->labels, T * 4);
    memcpy(dst->kind, src->kind, T);
    memcpy(dst->top_p, src->top_p, T * TOPK * sizeof(float));
    memcpy(dst->top_id, src->top_id, T * TOPK * 4);
    memcpy(dst->attn, src->attn, nattn * sizeof(float));
    if (src->rows > dst->rows_cap) {
        long cap = src->rows * 2 + 1024;
        float *m = realloc(dst->metrics, (size_t)cap * NCOLS * sizeof(float));
        if (!m) { dst->rows = 0; return; }
        dst->metrics = m;
        dst->rows_cap = cap;
    }
    /* the same for the copy: only rows it does not have yet (keep.rows: what dst had) */
    long from = keep.run == src->run && keep.rows <= src->rows ? keep.rows : 0;
    if (src->rows > from)
        memcpy(dst->metrics + from * NCOLS, src->metrics + from * NCOLS, (size_t)(src->rows - from) * NCOLS * sizeof(float));
}

const char *mlm_notes(void)
{
    static char *notes;
    static char missing[512];
    if (notes) return notes;
    const char *root = runtime_source_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/lessons/mlm/notes.md", root ? root : ".");
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(missing, sizeof missing, "# Notes\nThe notes file was not found at `%.400s`.", path);
        return missing;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    notes = calloc((size_t)n + 1, 1);
    if (notes && fread(notes, 1, (size_t)n, f) != (size_t)n) notes[0] = 0;
    fclose(f);
    return notes ? notes : "";
}

/* ------------------------------------------------------------------ drawing ---- */

static const char *const kind_names[4] = {"not selected", "[MASK] (80%)", "random token (10%)", "kept, predicted (10%)"};

static VizColor kind_color(int k)
{
    switch (k) {
    case KIND_MASK: return VIZ_ACCENT[0];        /* orange */
    case KIND_RANDOM: return VIZ_ACCENT[6];      /* reddish purple */
    case KIND_KEPT: return VIZ_ACCENT[1];        /* sky blue */
    default: return (VizColor){58, 62, 76, 255};
    }
}

static void header(Viz *v, VizRect r, const MlmView *w, const MlmUi *ui)
{
    viz_fill(v, r, (VizColor){30, 32, 40, 255});
    int lh = viz_text_height(v, FONT_BOLD, 16), y = r.y + (r.h - lh) / 2;
    int x = r.x + viz_px(v, 10);
    x += viz_text(v, x, y, "fmlab · BERT masked language model", FONT_BOLD, 16, VIZ_TEXT, ALIGN_LEFT) + viz_px(v, 24);
    char buf[256];
    snprintf(buf, sizeof buf, "step %ld   loss %.3f   masked-token accuracy %.1f%%   lr %.2g", w->step, (double)w->loss,
             100.0 * w->accuracy, (double)w->lr);
    viz_text(v, x, y + viz_px(v, 2), buf, FONT_MONO, 13, VIZ_TEXT, ALIGN_LEFT);
    const char *state = ui ? (ui->running ? "RUNNING" : "PAUSED") : "";
    if (ui && ui->running) snprintf(buf, sizeof buf, "%s ×%d", state, ui->steps_per_frame);
    else snprintf(buf, sizeof buf, "%s", state);
    viz_text(v, r.x + r.w - viz_px(v, 10), y, buf, FONT_BOLD, 14, ui && ui->running ? VIZ_ACCENT[2] : VIZ_ACCENT[0],
             ALIGN_RIGHT);
}

static void token_label(const MlmView *w, int32_t id, char *buf, size_t n)
{
    snprintf(buf, n, "%s", id >= 0 && id < w->vocab->size ? vocab_token(w->vocab, id) : "?");
}

static void corruption_panel(Viz *v, VizRect r, const MlmView *w)
{
    VizRect c = viz_panel(v, r, "The objective: hide tokens, predict them");
    int T = w->T, lh = viz_text_height(v, FONT_SANS, 11);
    char store[2][512][40];
    const char *names[2][512];
    VizColor fills[2][512];
    for (int t = 0; t < T && t < 512; t++) {
        token_label(w, w->original[t], store[0][t], sizeof store[0][t]);
        token_label(w, w->input[t], store[1][t], sizeof store[1][t]);
        names[0][t] = store[0][t];
        names[1][t] = store[1][t];
        fills[0][t] = w->kind[t] ? viz_mix(kind_color(w->kind[t]), VIZ_PANEL, 0.55f) : kind_color(0);
        fills[1][t] = kind_color(w->kind[t]);
    }
    int y = c.y;
    char title[96];
    snprintf(title, sizeof title, "original text (sequence %d of %d; Tab: next)", w->focus + 1, w->B);
    viz_text(v, c.x, y, title, FONT_SANS, 11, VIZ_DIM, ALIGN_LEFT);
    y += lh;
    int hover = -1;
    /* the largest token size at which both strips, the legend and the tallies fit */
    float tsize = 11;
    int fixed = 5 * lh + 2 * viz_text_height(v, FONT_MONO, 11) + viz_px(v, 16);
    while (tsize > 7 && 2 * viz_tokens_height(v, c.w, names[1], T, tsize) + fixed > c.h) tsize -= 0.5f;
    int avail = viz_tokens_height(v, c.w, names[1], T, tsize) + 1;
    y += viz_tokens(v, (VizRect){c.x, y, c.w, avail}, names[0], fills[0], T, tsize, &hover) + viz_px(v, 6);
    if (hover >= 0) viz_tooltip(v, "position %d: \"%s\" (id %d)", hover, names[0][hover], w->original[hover]);
    viz_text(v, c.x, y, "what the model sees (input_ids)", FONT_SANS, 11, VIZ_DIM, ALIGN_LEFT);
    y += lh;
    y += viz_tokens(v, (VizRect){c.x, y, c.w, avail}, names[1], fills[1], T, tsize, &hover) + viz_px(v, 6);
    if (hover >= 0)
        viz_tooltip(v, "position %d: %s; input \"%s\", label %s", hover, kind_names[w->kind[hover]], names[1][hover],
                    w->labels[hover] >= 0 ? names[0][hover] : "-100 (ignored)");
    VizColor lc[4] = {kind_color(0), kind_color(1), kind_color(2), kind_color(3)};
    static const char *const legend[4] = {"not selected", "[MASK]", "random token", "kept (still predicted)"};
    y += viz_legend(v, c.x, y, c.w, legend, lc, 4) + viz_px(v, 4);
    /* the realised rates since step 1 against the settings */
    double n = (double)w->eligible, sel = (double)(w->tally[1] + w->tally[2] + w->tally[3]);
    char buf[256];
    if (n > 0 && sel > 0) {
        int ml = viz_text_height(v, FONT_MONO, 11);
        snprintf(buf, sizeof buf, "since step 1: selected %5.2f%% (target %.0f%%)", 100 * sel / n, 100.0 * w->mlm_probability);
        viz_text(v, c.x, y, buf, FONT_MONO, 11, VIZ_TEXT, ALIGN_LEFT);
        y += ml;
        snprintf(buf, sizeof buf, "[MASK] %.1f%% (%.0f) random %.1f%% (%.0f) kept %.1f%% (%.0f)",
                 100 * w->tally[1] / sel, 100.0 * w->mask_replace_prob, 100 * w->tally[2] / sel,
                 100.0 * w->random_replace_prob, 100 * w->tally[3] / sel,
                 100.0 * (1 - w->mask_replace_prob - w->random_replace_prob));
        viz_text_fit(v, c.x, y, c.w, buf, FONT_MONO, 11, VIZ_TEXT);
        if (viz_hover(v, (VizRect){c.x, y - ml, c.w, 2 * ml}))
            viz_tooltip(v, "%.0f tokens seen, %.0f selected: %lld [MASK], %lld random, %lld kept", n, sel,
                        (long long)w->tally[1], (long long)w->tally[2], (long long)w->tally[3]);
    }
}

static void predictions_panel(Viz *v, VizRect r, const MlmView *w)
{
    VizRect c = viz_panel(v, r, "Top-5 guesses at the selected positions");
    int shown = 0, cols = c.w > viz_px(v, 560) ? 3 : 2, lh = viz_text_height(v, FONT_MONO, 11);
    int cell_w = c.w / cols, cell_h = lh * 2 + 5 * (lh + viz_px(v, 2));
    int rows = c.h / cell_h;
    if (!w->have_batch) {
        viz_text(v, c.x, c.y, "Press Space to train one step.", FONT_SANS, 12, VIZ_DIM, ALIGN_LEFT);
        return;
    }
    for (int t = 0; t < w->T && shown < rows * cols; t++) {
        if (w->labels[t] < 0) continue;
        int cx = c.x + (shown % cols) * cell_w, cy = c.y + (shown / cols) * cell_h;
        char head[96], target[40];
        token_label(w, w->labels[t], target, sizeof target);
        const char *how = w->kind[t] == KIND_MASK ? "[MASK]" : w->kind[t] == KIND_RANDOM ? "random" : "kept";
        snprintf(head, sizeof head, "pos %d (%s) → \"%s\"", t, how, target);
        viz_text_fit(v, cx, cy, cell_w - viz_px(v, 8), head, FONT_SANS, 10, VIZ_TEXT);
        char lab[TOPK][48];
        const char *labels[TOPK];
        float vals[TOPK];
        int n = 0;
        for (int k = 0; k < TOPK; k++) {
            int32_t id = w->top_id[(size_t)t * TOPK + k];
            if (id < 0) break;
            token_label(w, id, lab[n], sizeof lab[n]);
            if (id == w->labels[t]) strncat(lab[n], " ✓", sizeof lab[n] - strlen(lab[n]) - 1);
            labels[n] = lab[n];
            vals[n++] = w->top_p[(size_t)t * TOPK + k];
        }
        viz_bars(v, (VizRect){cx, cy + lh + viz_px(v, 2), cell_w - viz_px(v, 10), cell_h - lh * 2}, labels, vals, n,
                 VIZ_ACCENT[2], "%.3f");
        shown++;
    }
    if (!shown) viz_text(v, c.x, c.y, "No position of this sequence was selected.", FONT_SANS, 12, VIZ_DIM, ALIGN_LEFT);
}

static void attention_panel(Viz *v, VizRect r, const MlmView *w, MlmUi *ui)
{
    VizRect c = viz_panel(v, r, "Attention of every layer × head");
    int T = w->T, lh = viz_text_height(v, FONT_SANS, 10);
    int layer = ui ? ui->layer : 0, head = ui ? ui->head : 0;
    if (layer >= w->L) layer = w->L - 1;
    if (head >= w->NH) head = w->NH - 1;
    /* thumbnails */
    int thumb_h = c.h * 2 / 5;
    int gap = viz_px(v, 6);
    int tw = (c.w - lh - gap * (w->NH - 1)) / w->NH, th = (thumb_h - lh - gap * (w->L - 1)) / w->L;
    int side = tw < th ? tw : th;
    if (side < 8) side = 8;
    for (int h = 0; h < w->NH; h++) {
        char s[16];
        snprintf(s, sizeof s, "head %d", h + 1);
        viz_text(v, c.x + lh + h * (side + gap) + side / 2, c.y, s, FONT_SANS, 10, VIZ_DIM, ALIGN_CENTER);
    }
    for (int l = 0; l < w->L; l++) {
        char s[16];
        snprintf(s, sizeof s, "L%d", l + 1);
        viz_text(v, c.x, c.y + lh + l * (side + gap) + side / 2 - lh / 2, s, FONT_SANS, 10, VIZ_DIM, ALIGN_LEFT);
        for (int h = 0; h < w->NH; h++) {
            VizRect tr = {c.x + lh + h * (side + gap), c.y + lh + l * (side + gap), side, side};
            VizHeatmap hm = {w->attn + ((size_t)l * w->NH + h) * T * T, T, T, 0, 1, CMAP_VIRIDIS, NULL, NULL, "p",
                             false, NULL};
            int hr, hc;
            viz_heatmap(v, tr, &hm, &hr, &hc);
            if (l == layer && h == head) viz_frame(v, (VizRect){tr.x - 2, tr.y - 2, tr.w + 4, tr.h + 4}, VIZ_ACCENT[3]);
            if (viz_hover(v, tr)) {
                viz_tooltip(v, "layer %d head %d: query %d → key %d: p = %.4f (click to enlarge)", l + 1, h + 1, hr, hc,
                            hr >= 0 ? (double)hm.data[(size_t)hr * T + hc] : 0.0);
                if (ui && v->mouse_clicked) { ui->layer = l; ui->head = h; }
            }
        }
    }
    /* the enlarged head */
    int y = c.y + lh + w->L * (side + gap) + gap;
    char title[96];
    snprintf(title, sizeof title, "layer %d, head %d (keys 1–9 pick the layer)", layer + 1, head + 1);
    viz_text(v, c.x, y, title, FONT_BOLD, 11, VIZ_TEXT, ALIGN_LEFT);
    y += viz_text_height(v, FONT_BOLD, 11) + viz_px(v, 2);
    char store[512][40];
    const char *labels[512];
    for (int t = 0; t < T && t < 512; t++) {
        token_label(w, w->input[t], store[t], sizeof store[t]);
        labels[t] = store[t];
    }
    VizHeatmap big = {w->attn + ((size_t)layer * w->NH + head) * T * T, T, T, 0, 1, CMAP_VIRIDIS, labels, labels,
                      "attention p", true, NULL};
    int hr, hc;
    viz_heatmap(v, (VizRect){c.x, y, c.w, c.y + c.h - y}, &big, &hr, &hc);
    if (hr >= 0)
        viz_tooltip(v, "\"%s\" (query %d) attends to \"%s\" (key %d): p = %.4f", labels[hr], hr, labels[hc], hc,
                    (double)big.data[(size_t)hr * T + hc]);
}

static void curves_panel(Viz *v, VizRect r, const MlmView *w, bool accuracy)
{
    VizRect c = viz_panel(v, r, accuracy ? "Accuracy at selected tokens" : "Loss at selected tokens (nats)");
    static float *cols[4];
    static long cap;
    if (w->rows > cap) {
        for (int i = 0; i < 4; i++) {
            free(cols[i]);
            cols[i] = malloc((size_t)(w->rows * 2 + 256) * sizeof(float));
        }
        cap = w->rows * 2 + 256;
    }
    int a = accuracy ? COL_ACCURACY : COL_MLM, b = accuracy ? COL_EVAL_ACCURACY : COL_EVAL_LOSS;
    for (long i = 0; i < w->rows && cols[0]; i++) {
        cols[0][i] = w->metrics[i * NCOLS + a];
        cols[1][i] = w->metrics[i * NCOLS + b];
    }
    VizPlot p = {0};
    p.xlabel = "optimizer step";
    p.ylabel = accuracy ? "accuracy" : "cross-entropy";
    p.series[0] = (VizSeries){"train (batch)", cols[0], w->rows, VIZ_ACCENT[1], false, false};
    p.series[1] = (VizSeries){"held-out", cols[1], w->rows, VIZ_ACCENT[0], false, true};
    p.nseries = w->rows ? 2 : 0;
    p.hline[0] = accuracy ? (float)w->unigram_accuracy : (float)w->unigram_entropy;
    p.hline_name[0] = accuracy ? "unigram (most frequent token)" : "unigram entropy";
    p.hline_color[0] = VIZ_ACCENT[7];
    p.hline[1] = NAN;
    p.smooth = 10;
    viz_lineplot(v, c, &p);
}

static void help_overlay(Viz *v)
{
    VizRect r = {v->w / 6, v->h / 8, v->w * 2 / 3, v->h * 2 / 3};
    viz_fill(v, r, (VizColor){16, 18, 24, 255});
    viz_frame(v, r, VIZ_ACCENT[3]);
    static const char *help =
        "# Keys\n"
        "- **Space**: one training step (one batch)\n"
        "- **Enter**: run / pause\n"
        "- **+ / -**: more or fewer steps per frame while running\n"
        "- **N**: draw a new batch without training (watch the masks change)\n"
        "- **R**: reset with the same seed; **Shift+R**: with a new seed\n"
        "- **Tab**: next sequence of the batch\n"
        "- **1–9**: layer of the enlarged attention map; click a thumbnail for a head\n"
        "- **S**: screenshot PNG; **E**: export (weights, gradients, batch)\n"
        "- **F** or **F11**: full screen; **Ctrl+= / Ctrl+-**: text size\n"
        "- **/**: type a probe sentence with [mask] in it; **Enter** to run it\n"
        "- **[ ]**: mlm_probability −/+ 0.05; **; '**: [MASK] share −/+ 0.1; **, .**: random share −/+ 0.05\n"
        "- **A**: reveal the answers of the notes' questions\n"
        "- **Page Up / Page Down** or the wheel over the notes: scroll\n"
        "- **H** or **F1**: this help; **Esc**: leave input, or quit\n";
    int scroll = 0;
    viz_markdown(v, (VizRect){r.x + viz_px(v, 16), r.y + viz_px(v, 12), r.w - viz_px(v, 32), r.h - viz_px(v, 24)}, help,
                 &scroll);
}

static void probe_panel(Viz *v, VizRect r, const MlmView *w, MlmUi *ui)
{
    VizRect c = viz_panel(v, r, "Probe: a sentence with [mask] in it, then Enter");
    char line[300];
    snprintf(line, sizeof line, "> %s%s", ui->probe, ui->probing ? "_" : "");
    viz_text_fit(v, c.x, c.y, c.w, line, FONT_MONO, 12, VIZ_ACCENT[3]);
    int y = c.y + viz_text_height(v, FONT_MONO, 12) + viz_px(v, 4), x = c.x;
    for (int i = 0; i < ui->probe_len; i++) {
        if (ui->probe_ids[i] != TOK_MASK) continue;
        char lab[TOPK][48];
        const char *labels[TOPK];
        float vals[TOPK];
        int n = 0;
        for (int k = 0; k < TOPK; k++) {
            int32_t id = ui->probe_id[i * TOPK + k];
            if (id < 0) break;
            token_label(w, id, lab[n], sizeof lab[n]);
            labels[n] = lab[n];
            vals[n++] = ui->probe_p[i * TOPK + k];
        }
        viz_bars(v, (VizRect){x, y, c.w / 2 - viz_px(v, 6), c.y + c.h - y}, labels, vals, n, VIZ_ACCENT[0], "%.3f");
        x += c.w / 2;
        if (x > c.x + c.w / 2 + 1) break;
    }
}

/* The notes with the "## Answers" section folded until the student asks (key A). */
static const char *notes_shown(const char *md, bool reveal)
{
    static char *buf;
    static const char *made_from;
    static bool made_reveal;
    if (reveal) return md;
    if (buf && made_from == md && made_reveal == reveal) return buf;
    free(buf);
    buf = NULL;
    const char *a = strstr(md, "## Answers");
    if (!a) return md;
    const char *next = strstr(a + 3, "\n## ");
    const char *hidden = "## Answers\n*Predict first, then press* **A** *to show the answers.*\n";
    size_t n = (size_t)(a - md) + strlen(hidden) + (next ? strlen(next) : 0) + 1;
    buf = malloc(n);
    if (!buf) return md;
    snprintf(buf, n, "%.*s%s%s", (int)(a - md), md, hidden, next ? next + 1 : "");
    made_from = md;
    made_reveal = reveal;
    return buf;
}

void mlm_draw(Viz *v, const MlmView *w, MlmUi *ui)
{
    int W = v->w, H = v->h, g = viz_px(v, 6);
    int head_h = viz_text_height(v, FONT_BOLD, 16) + viz_px(v, 12);
    int foot_h = viz_text_height(v, FONT_SANS, 11) + viz_px(v, 6);
    header(v, (VizRect){0, 0, W, head_h}, w, ui);
    int top = head_h + g, bottom = H - foot_h - g, body = bottom - top;
    int left_w = W * 39 / 100, mid_w = W * 30 / 100, right_w = W - left_w - mid_w - 4 * g;
    int lx = g, mx = lx + left_w + g, rx = mx + mid_w + g;
    int corr_h = body * 47 / 100;
    corruption_panel(v, (VizRect){lx, top, left_w, corr_h}, w);
    if (ui && (ui->probing || ui->probe_len)) {
        int probe_h = body * 22 / 100;
        predictions_panel(v, (VizRect){lx, top + corr_h + g, left_w, body - corr_h - probe_h - 2 * g}, w);
        probe_panel(v, (VizRect){lx, bottom - probe_h, left_w, probe_h}, w, ui);
    } else {
        predictions_panel(v, (VizRect){lx, top + corr_h + g, left_w, body - corr_h - g}, w);
    }
    attention_panel(v, (VizRect){mx, top, mid_w, body}, w, ui);
    int plot_h = body * 30 / 100;
    curves_panel(v, (VizRect){rx, top, right_w, plot_h}, w, false);
    curves_panel(v, (VizRect){rx, top + plot_h + g, right_w, plot_h}, w, true);
    VizRect notes = {rx, top + 2 * (plot_h + g), right_w, body - 2 * (plot_h + g)};
    VizRect nc = viz_panel(v, notes, "Notes (lessons/mlm/notes.md)");
    int scroll = ui ? ui->notes_scroll : 0;
    viz_markdown(v, nc, notes_shown(ui && ui->notes ? ui->notes : mlm_notes(), ui && ui->reveal), &scroll);
    if (ui) ui->notes_scroll = scroll;
    /* footer */
    const char *keys = ui && ui->status[0] ? ui->status
                                           : "Space step · Enter run/pause · N new batch · Tab sequence · 1-9 layer · "
                                             "/ probe · S screenshot · E export · H help · Esc quit";
    viz_text_fit(v, g, H - foot_h, W - 2 * g, keys, FONT_SANS, 11, ui && ui->status[0] ? VIZ_ACCENT[3] : VIZ_DIM);
    if (ui && ui->help) {
        help_overlay(v);
        v->tooltip[0] = 0; /* nothing under the mouse shows through the overlay */
    }
}

int mlm_render_png(Mlm *L, const char *path, int w, int h, float font_scale, char *err, size_t errlen)
{
    MlmView view;
    if (mlm_view_alloc(&view, L)) { snprintf(err, errlen, "out of memory"); return -1; }
    mlm_view_fill(&view, L, 0);
    Viz v;
    float scale = font_scale * fminf((float)w / 1280.0f, (float)h / 800.0f);
    if (scale < font_scale) scale = font_scale;
    char assets[4096];
    const char *root = runtime_source_dir();
    snprintf(assets, sizeof assets, "%s/assets", root ? root : ".");
    int rc = viz_open_offscreen(&v, w, h, scale, assets, err, errlen);
    if (rc == 0) {
        viz_begin(&v);
        mlm_draw(&v, &view, NULL);
        viz_end(&v);
        rc = viz_save_png(&v, path, err, errlen);
        viz_close(&v);
    }
    mlm_view_free(&view);
    return rc;
}
