/* dashboard.c — the snapshot and the standard panels every lesson shares:
 *
 *   header: lesson, step, loss, the lesson's headline figures, state
 *   left:   the lesson's own panels (LessonView.panels), stacked by weight
 *   middle: attention of every layer × head of the selected model (thumbnails; click one to
 *           enlarge) and the enlarged head with its tokens on both axes
 *   right:  the lesson's curves (train and held-out, with a reference line), then its notes
 *   footer: the keys, or the last message
 *
 * and the help overlay generated from the shared keys and the lesson's key table. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lessons/common/trained.h"
#include "lessons/common/view.h"

/* ---------------------------------------------------------------- snapshot ---- */

int kit_snap_init(KitSnap *s, const Run *r, const LessonView *view)
{
    const Lesson *l = r->lesson;
    memset(s, 0, sizeof *s);
    s->T = r->T;
    s->B = r->B;
    s->info = &l->info;
    s->vocab = r->vocab;
    s->finding = &r->finding;
    memcpy(s->value, r->opt.value, sizeof s->value); /* snapshot_bind may size by a setting */
    s->names = &r->metrics;
    s->ncols = r->metrics.ncols;
    size_t T = (size_t)r->T;
    s->tokens = calloc(T, sizeof *s->tokens);
    bool ok = s->tokens != NULL;
    for (int i = 0; i < l->nmodels; i++)
        for (int st = 0; st < KIT_MAX_STREAMS && l->models[i].streams[st]; st++) {
            KitAttn *a = &s->attn[s->nattn++];
            const ModelConfig *c = &r->models[i].model.cfg;
            const char *name = l->models[i].label ? l->models[i].label : l->models[i].folder;
            if (l->models[i].streams[st][0]) snprintf(a->name, sizeof a->name, "%s · %s", name, l->models[i].streams[st]);
            else snprintf(a->name, sizeof a->name, "%s", name);
            a->L = c->num_hidden_layers;
            a->NH = c->num_attention_heads;
            a->p = calloc((size_t)a->L * a->NH * T * T, sizeof *a->p);
            ok = ok && a->p;
            if (l->allowed) {
                a->hatch = calloc(T * T, 1);
                ok = ok && a->hatch;
            }
            if (l->model_input && l->model_input[i]) {
                a->ids = calloc(T, sizeof *a->ids);
                ok = ok && a->ids;
            }
        }
    if (r->trained && r->trained->ok) { /* the long-trained model on the same sequence */
        KitAttn *a = &s->attn[s->nattn++];
        snprintf(a->name, sizeof a->name, "%.16s · %.24s", l->models[0].folder, r->trained->label);
        a->L = r->trained->model.cfg.num_hidden_layers;
        a->NH = r->trained->model.cfg.num_attention_heads;
        a->p = calloc((size_t)a->L * a->NH * T * T, sizeof *a->p);
        ok = ok && a->p;
    }
    if (view && view->snapshot_bind) {
        s->lesson_size = view->snapshot_bind(NULL, s);
        s->lesson = calloc(1, s->lesson_size);
        if (s->lesson) view->snapshot_bind(s->lesson, s);
        ok = ok && s->lesson;
    }
    return ok ? 0 : -1;
}

void kit_snap_free(KitSnap *s)
{
    free(s->order);
    free(s->tokens);
    for (int i = 0; i < s->nattn; i++) {
        free(s->attn[i].p);
        free(s->attn[i].hatch);
        free(s->attn[i].ids);
    }
    free(s->metrics);
    free(s->lesson);
    memset(s, 0, sizeof *s);
}

/* A history table (rows × cols, growing): only the rows the copy lacks are copied, since rows
 * never change once written; a new run (a reset, a rewind) starts over. */
static void copy_table(float **dst, long *cap, long *dst_rows, bool same_run, const float *src, long rows, int cols)
{
    if (!cols) return;
    if (rows > *cap) {
        long c = rows * 2 + 1024;
        float *m = realloc(*dst, (size_t)c * (size_t)cols * sizeof(float));
        if (!m) { *dst_rows = 0; return; }
        *dst = m;
        *cap = c;
    }
    long from = same_run && *dst_rows <= rows ? *dst_rows : 0;
    if (rows > from) memcpy(*dst + from * cols, src + from * cols, (size_t)(rows - from) * cols * sizeof(float));
    *dst_rows = rows;
}

void kit_snap_fill(KitSnap *s, const Run *r, const LessonView *view, int focus)
{
    const Lesson *l = r->lesson;
    int T = s->T;
    s->step = r->step;
    s->seed = r->opt.seed;
    s->B = r->B;
    s->focus = focus < 0 ? 0 : focus % r->B;
    s->have_forward = r->have_forward;
    s->batch_trained = r->batch_trained;
    s->set_step = s->set_step2 = 0; /* the last two settings changed while it ran, as marks on the curves */
    for (int e = r->nset - 1, found = 0; e >= 0 && found < 2; e--)
        if (r->setlog[e].step <= r->step && (!found || r->setlog[e].step + 1 < s->set_step)) {
            const KeyDef *k = &l->info.keys[r->setlog[e].key];
            char *what = found ? s->set_what2 : s->set_what;
            *(found ? &s->set_step2 : &s->set_step) = r->setlog[e].step + 1; /* the first step with the new value */
            if (k->choices) snprintf(what, sizeof s->set_what, "%s = %s", k->name, runtime_choice_name(k, r->setlog[e].value));
            else snprintf(what, sizeof s->set_what, "%s = %g", k->name, r->setlog[e].value);
            found++;
        }
    s->loss = r->loss;
    s->lr = lr_at(&r->schedule, r->step);
    memcpy(s->parts, r->parts, sizeof s->parts);
    memcpy(s->extra, r->extra, sizeof s->extra);
    memcpy(s->refs, r->refs, sizeof s->refs);
    memcpy(s->value, r->opt.value, sizeof s->value);
    size_t off = (size_t)s->focus * T;
    for (int i = 0; i < l->nbatch; i++)
        if (!strcmp(l->batch[i].name, "input_ids") && l->batch[i].src == KIT_I32)
            memcpy(s->tokens, (const int32_t *)l->batch_data(r, i) + off, (size_t)T * sizeof *s->tokens);
    int k = 0;
    for (int i = 0; i < l->nmodels; i++)
        for (int st = 0; st < KIT_MAX_STREAMS && l->models[i].streams[st]; st++) {
            KitAttn *a = &s->attn[k++];
            float **attn = r->models[i].attn[st];
            for (int b = 0; a->ids && b < l->nbatch; b++)
                if (!strcmp(l->batch[b].name, l->model_input[i]) && l->batch[b].src == KIT_I32)
                    memcpy(a->ids, (const int32_t *)l->batch_data(r, b) + off, (size_t)T * sizeof *a->ids);
            for (int layer = 0; attn && s->have_forward && layer < a->L; layer++)
                for (int h = 0; h < a->NH; h++)
                    memcpy(a->p + ((size_t)layer * a->NH + h) * T * T, attn[layer] + (((size_t)s->focus * a->NH + h) * T) * T,
                           (size_t)T * T * sizeof(float));
            if (a->hatch) { /* what the objective forbids: 1 - allowed */
                bool masked = l->allowed(r, i, st, s->focus, a->hatch);
                for (size_t c = 0; c < (size_t)T * T; c++) a->hatch[c] = masked && !a->hatch[c];
            }
        }
    float **trained = k < s->nattn ? kit_trained_attention(r->trained, s->tokens, T) : NULL;
    s->trained_share = 0;
    for (int layer = 0; trained && layer < s->attn[k].L; layer++) {
        int NH = s->attn[k].NH;
        memcpy(s->attn[k].p + (size_t)layer * NH * T * T, trained[layer], (size_t)NH * T * T * sizeof(float));
        for (int h = 0; h < NH; h++)
            for (int dir = -1; dir <= 1 && T > 1; dir += 2) {
                float share = kit_neighbour_share(trained[layer], 1, NH, T, h, dir);
                if (share > s->trained_share)
                    s->trained_share = share, s->trained_layer = layer, s->trained_head = h, s->trained_dir = dir;
            }
    }
    s->trained_step = trained ? r->trained->step : 0;
    int run = s->run;
    s->run = r->run;
    copy_table(&s->metrics, &s->rows_cap, &s->rows, run == r->run, r->metrics.data, r->metrics.rows, s->ncols);
    s->order_cols = r->order_cols;
    copy_table(&s->order, &s->order_cap, &s->order_rows, run == r->run, r->order, r->order_rows, r->order_cols);
    s->order_from = r->order_from;
    s->order_found = r->order_found;
    s->order_layer = r->order_layer;
    s->order_head = r->order_head;
    s->order_dir = r->order_dir;
    s->order_share = r->order_share;
    s->order_mark = kit_order_meaning(l, r->order_dir, true);
    if (view && view->snapshot_fill) view->snapshot_fill(s->lesson, r, s->focus);
}

void kit_snap_copy(KitSnap *dst, const KitSnap *src, const LessonView *view)
{
    KitSnap keep = *dst;
    *dst = *src;
    dst->tokens = keep.tokens;
    dst->metrics = keep.metrics;
    dst->rows_cap = keep.rows_cap;
    dst->order = keep.order;
    dst->order_cap = keep.order_cap;
    dst->rows = keep.rows;
    dst->order_rows = keep.order_rows;
    copy_table(&dst->order, &dst->order_cap, &dst->order_rows, keep.run == src->run, src->order, src->order_rows,
               src->order_cols);
    dst->lesson = keep.lesson;
    size_t T = (size_t)src->T;
    memcpy(dst->tokens, src->tokens, T * sizeof *dst->tokens);
    for (int i = 0; i < src->nattn; i++) {
        dst->attn[i].p = keep.attn[i].p;
        memcpy(dst->attn[i].p, src->attn[i].p, (size_t)src->attn[i].L * src->attn[i].NH * T * T * sizeof(float));
        dst->attn[i].hatch = keep.attn[i].hatch;
        if (src->attn[i].hatch) memcpy(dst->attn[i].hatch, src->attn[i].hatch, T * T);
        dst->attn[i].ids = keep.attn[i].ids;
        if (src->attn[i].ids) memcpy(dst->attn[i].ids, src->attn[i].ids, T * sizeof *dst->attn[i].ids);
    }
    copy_table(&dst->metrics, &dst->rows_cap, &dst->rows, keep.run == src->run, src->metrics, src->rows, src->ncols);
    if (src->lesson_size) {
        memcpy(dst->lesson, src->lesson, src->lesson_size);
        view->snapshot_bind(dst->lesson, dst);
    }
}

const char *kit_token(const KitSnap *s, int32_t id)
{
    return id >= 0 && id < s->vocab->size ? vocab_token(s->vocab, id) : "?";
}

int kit_value_index(const KitSnap *s, const char *key) { return runtime_key_index(s->info, key); }

double kit_snap_value(const KitSnap *s, const char *key)
{
    int i = kit_value_index(s, key);
    ENGINE_CHECK(i >= 0, "no setting %s", key);
    return s->value[i];
}

void kit_topk_bars(Viz *v, VizRect r, const KitSnap *s, const int32_t *ids, const float *p, int k, int32_t mark,
                   VizColor color)
{
    char lab[16][48];
    const char *labels[16];
    float vals[16];
    int n = 0;
    for (int j = 0; j < k && j < 16 && ids[j] >= 0; j++) {
        snprintf(lab[n], sizeof lab[n], "%s%s", kit_token(s, ids[j]), ids[j] == mark ? " ✓" : "");
        labels[n] = lab[n];
        vals[n++] = p[j];
    }
    viz_bars_range(v, r, labels, vals, n, color, "%.3f", 1); /* probabilities on one scale, 0 to 1 */
}

int kit_attention_rows(Viz *v, VizRect r, const KitSnap *s, const float *attn, int L, int NH, size_t stride,
                       const int32_t *ids, int n, int mark, int *col)
{
    static float grid[KIT_ATTN_ROWS * KIT_ATTN_COLS]; /* the UI thread's: one panel draws at a time */
    static char rlab[KIT_ATTN_ROWS][24];
    const char *rl[KIT_ATTN_ROWS], *cl[KIT_ATTN_COLS];
    int rows = L * NH < KIT_ATTN_ROWS ? L * NH : KIT_ATTN_ROWS;
    n = n < KIT_ATTN_COLS ? n : KIT_ATTN_COLS;
    *col = -1;
    if (rows <= 0 || n <= 0 || r.h <= 0) return -1;
    for (int i = 0; i < rows; i++) {
        memcpy(grid + (size_t)i * n, attn + (size_t)i * stride, (size_t)n * sizeof(float));
        snprintf(rlab[i], sizeof rlab[i], "%sL%d h%d", i == mark ? "▶" : "", i / NH + 1, i % NH + 1);
        rl[i] = rlab[i];
    }
    for (int j = 0; j < n; j++) cl[j] = kit_token(s, ids[j]);
    VizHeatmap hm = {grid, rows, n, 0, 1, CMAP_VIRIDIS, rl, cl, "attention p", false, NULL};
    int hr;
    viz_heatmap(v, r, &hm, &hr, col);
    return hr;
}

double kit_last_value(const KitSnap *s, const char *col)
{
    int c = kit_metric_col(s, col);
    for (long i = s->rows - 1; c >= 0 && i >= 0; i--)
        if (!isnan(s->metrics[i * s->ncols + c])) return s->metrics[i * s->ncols + c];
    return NAN;
}

int kit_metric_col(const KitSnap *s, const char *name) { return name ? metrics_col(s->names, name) : -1; }

const char *kit_notes(const LessonInfo *info, int lang)
{
    static char *cache[2];
    static char missing[2][512];
    lang = lang ? 1 : 0;
    char **notes = &cache[lang];
    if (*notes) return *notes;
    const char *root = runtime_source_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/lessons/%s/%s", root ? root : ".", info->name, lang ? "notes.ko.md" : "notes.md");
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(missing[lang], sizeof missing[lang], "# Notes\nThe notes file was not found at `%.400s`.", path);
        return missing[lang];
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *notes = calloc((size_t)n + 1, 1);
    if (*notes && fread(*notes, 1, (size_t)n, f) != (size_t)n) (*notes)[0] = 0;
    fclose(f);
    return *notes ? *notes : "";
}

/* ------------------------------------------------------------------ panels ---- */

/* The header's figures, shorter as `brief` grows (0–5): the loss's note goes, then the
 * learning rate, then the lesson's headline (more) but its first figure (up to " · "), then
 * that too; the step, the loss and the seed stay. */
static void header_figures(const KitSnap *s, int brief, const char *more, char *buf, size_t n)
{
    char loss[80], lr[32] = "";
    /* which batch is on screen, and so whose loss this is */
    if (!s->have_forward) snprintf(loss, sizeof loss, "loss —");
    else if (brief < 2)
        snprintf(loss, sizeof loss, "loss %.3f (%s)", (double)s->loss,
                 s->batch_trained ? (brief ? "trained batch" : "this batch, before its update")
                                  : (brief ? "new batch" : "new batch, not trained on"));
    else snprintf(loss, sizeof loss, "loss %.3f", (double)s->loss);
    if (brief < 3) snprintf(lr, sizeof lr, "lr %.2g   ", (double)s->lr);
    const char *sep = brief < 4 ? "   " : "  ";
    char first[200];
    snprintf(first, sizeof first, "%s", brief < 5 ? more : "");
    char *dot = brief == 4 ? strstr(first, " · ") : NULL;
    if (dot) *dot = 0;
    snprintf(buf, n, "step %ld%s%s%s%s%s%sseed %llu", s->step, sep, loss, sep, first, first[0] ? sep : "", lr,
             (unsigned long long)s->seed);
}

static void header(Viz *v, VizRect r, const KitFrame *f, const LessonView *view)
{
    const KitSnap *s = f->s;
    const KitUiState *ui = f->ui;
    viz_fill(v, r, (VizColor){30, 32, 40, 255});
    int lh = viz_text_height(v, FONT_BOLD, 16), y = r.y + (r.h - lh) / 2, pad = viz_px(v, 10);
    /* the state on the right, the title on the left, the figures between, shortened to fit */
    char state[64];
    if (ui->steps_total) snprintf(state, sizeof state, "TRAINING %ld of %ld", ui->steps_done, ui->steps_total);
    else if (ui->running) snprintf(state, sizeof state, "RUNNING ×%d", ui->steps_per_frame);
    else snprintf(state, sizeof state, "%s", ui->status[0] || ui->steps_per_frame ? "PAUSED" : "");
    int sw = viz_text(v, r.x + r.w - pad, y, state, FONT_BOLD, 14, ui->running || ui->steps_total ? VIZ_ACCENT[2] : VIZ_ACCENT[0],
                      ALIGN_RIGHT);
    int room = r.w - 2 * pad - sw - viz_px(v, 12) - (sw ? viz_px(v, 12) : 0);
    char more[200] = "", buf[320];
    if (view && view->headline) view->headline(f, more, sizeof more);
    /* the figures at their fullest that fit beside the lesson's long title (its headline
       kept), else beside its short name (fmlab-mlm), shortened as far as needed */
    char title[2][160];
    snprintf(title[0], sizeof title[0], "fmlab · %s", s->info->title);
    snprintf(title[1], sizeof title[1], "fmlab-%s", s->info->name);
    int t = 0, brief = 0, gap = viz_px(v, 20);
    for (t = 0; t < 2; t++) {
        int avail = room - viz_text_width(v, title[t], FONT_BOLD, 16) - gap;
        for (brief = 0; brief < (t ? 6 : 4); brief++) {
            header_figures(s, brief, more, buf, sizeof buf);
            if (viz_text_width(v, buf, FONT_MONO, 13) <= avail) break;
        }
        if (brief < (t ? 6 : 4)) break;
    }
    if (t == 2) t = 1;
    int x = r.x + pad;
    x += viz_text_fit(v, x, y, room, title[t], FONT_BOLD, 16, VIZ_TEXT) + gap;
    int avail = r.x + r.w - pad - sw - viz_px(v, 12) - x;
    viz_text_fit(v, x, y + viz_px(v, 2), avail, buf, FONT_MONO, 13, VIZ_TEXT);
}

/* The colour range of one map: 0–1, or (the default) its own min to max, so that structure
 * shows even when every weight is near 1/T; the colorbar states the range. */
static void map_range(const float *p, int n, bool fixed, float *lo, float *hi)
{
    *lo = 0;
    *hi = 1;
    if (fixed) return;
    float mn = p[0], mx = p[0];
    for (int i = 1; i < n; i++) {
        mn = p[i] < mn ? p[i] : mn;
        mx = p[i] > mx ? p[i] : mx;
    }
    if (mx > mn) {
        *lo = mn;
        *hi = mx;
    }
}

static void attention_panel(Viz *v, VizRect r, const KitFrame *f)
{
    const KitSnap *s = f->s;
    KitUiState *ui = f->ui;
    if (ui->attn >= s->nattn) ui->attn = 0;
    const KitAttn *a = &s->attn[ui->attn];
    char ptitle[128];
    if (s->nattn > 1) snprintf(ptitle, sizeof ptitle, "Attention of %s, every layer × head (M: next model)", a->name);
    else snprintf(ptitle, sizeof ptitle, "Attention of every layer × head");
    char brief[96];
    if (s->nattn > 1) snprintf(brief, sizeof brief, "Attention of %s (M: next)", a->name);
    else snprintf(brief, sizeof brief, "Attention");
    VizRect c = viz_panel(v, r, ptitle, brief);
    int T = s->T, lh = viz_text_height(v, FONT_SANS, 10);
    if (ui->layer >= a->L) ui->layer = a->L - 1;
    if (ui->head >= a->NH) ui->head = a->NH - 1;
    int layer = ui->layer, head = ui->head;
    /* thumbnails above the enlarged map, or beside it when the panel is wide (Z) */
    bool wide = c.w > c.h * 13 / 10;
    int gap = viz_px(v, 6);
    char widest[16]; /* the layer labels' column: as wide as "L12" needs */
    snprintf(widest, sizeof widest, "L%d", a->L);
    int lw = viz_text_width(v, widest, FONT_SANS, 10) + viz_px(v, 4);
    if (lw < lh) lw = lh;
    VizRect tr_area = wide ? (VizRect){c.x, c.y, c.w / 2, c.h} : (VizRect){c.x, c.y, c.w, c.h * 2 / 5};
    int tw = (tr_area.w - lw - gap * (a->NH - 1)) / a->NH, th = (tr_area.h - lh - gap * (a->L - 1)) / a->L;
    int side = tw < th ? tw : th;
    if (side < 8) side = 8;
    bool short_heads = viz_text_width(v, "head 8", FONT_SANS, 10) > side + gap;
    for (int h = 0; h < a->NH; h++) {
        char t[16];
        snprintf(t, sizeof t, short_heads ? "h%d" : "head %d", h + 1);
        viz_text(v, c.x + lw + h * (side + gap) + side / 2, c.y, t, FONT_SANS, 10, VIZ_DIM, ALIGN_CENTER);
    }
    for (int l = 0; l < a->L; l++) {
        char t[16];
        snprintf(t, sizeof t, "L%d", l + 1);
        viz_text(v, c.x, c.y + lh + l * (side + gap) + side / 2 - lh / 2, t, FONT_SANS, 10, VIZ_DIM, ALIGN_LEFT);
        for (int h = 0; h < a->NH; h++) {
            VizRect tr = {c.x + lw + h * (side + gap), c.y + lh + l * (side + gap), side, side};
            const float *p = a->p + ((size_t)l * a->NH + h) * T * T;
            VizHeatmap hm = {p, T, T, 0, 1, CMAP_VIRIDIS, NULL, NULL, "p", false, a->hatch};
            map_range(p, T * T, ui->attn_fixed, &hm.vmin, &hm.vmax);
            int hr, hc;
            viz_heatmap(v, tr, &hm, &hr, &hc);
            if (l == layer && h == head) viz_frame(v, (VizRect){tr.x - 2, tr.y - 2, tr.w + 4, tr.h + 4}, VIZ_ACCENT[3]);
            if (viz_hover(v, tr)) {
                viz_tooltip(v, "layer %d head %d: query %d → key %d: p = %.4f%s (click to enlarge)", l + 1, h + 1, hr, hc,
                            hr >= 0 ? (double)hm.data[(size_t)hr * T + hc] : 0.0,
                            hr >= 0 && a->hatch && a->hatch[(size_t)hr * T + hc] ? ", masked" : "");
                if (v->mouse_clicked) {
                    ui->layer = l;
                    ui->head = h;
                }
            }
        }
    }
    /* the enlarged head: rows are queries, columns keys */
    int x = wide ? c.x + tr_area.w + gap : c.x;
    int y = wide ? c.y : c.y + lh + a->L * (side + gap) + gap;
    int w = wide ? c.w - tr_area.w - gap : c.w;
    char title[160];
    snprintf(title, sizeof title, "layer %d, head %d: rows = query, columns = key", layer + 1, head + 1);
    y += viz_text_wrap(v, x, y, w, title, FONT_BOLD, 11, VIZ_TEXT) + viz_px(v, 2);
    snprintf(title, sizeof title, "colour: %s (C: %s) · 1–9 layer · click a thumbnail",
             ui->attn_fixed ? "fixed 0–1" : "each map's own min–max", ui->attn_fixed ? "own range" : "fixed 0–1");
    if (viz_text_width(v, title, FONT_SANS, 10) > w) /* the keys are in the help (H) */
        snprintf(title, sizeof title, "colour: %s (C: %s)", ui->attn_fixed ? "fixed 0–1" : "own min–max",
                 ui->attn_fixed ? "own range" : "0–1");
    y += viz_text_wrap(v, x, y, w, title, FONT_SANS, 10, VIZ_DIM) + viz_px(v, 2);
    const char *labels[512];
    for (int t = 0; t < T && t < 512; t++) labels[t] = kit_token(s, (a->ids ? a->ids : s->tokens)[t]);
    const float *p = a->p + ((size_t)layer * a->NH + head) * T * T;
    VizHeatmap big = {p, T, T, 0, 1, CMAP_VIRIDIS, labels, labels, "attention p", true, a->hatch};
    map_range(p, T * T, ui->attn_fixed, &big.vmin, &big.vmax);
    int hr, hc;
    viz_heatmap(v, (VizRect){x, y, w, c.y + c.h - y}, &big, &hr, &hc);
    if (hr >= 0)
    {
        if (a->hatch && a->hatch[(size_t)hr * T + hc])
            viz_tooltip(v, "\"%s\" (query %d) may not attend to \"%s\" (key %d): the mask sets p = 0 (hatched)", labels[hr],
                        hr, labels[hc], hc);
        else
            viz_tooltip(v, "\"%s\" (query %d) attends to \"%s\" (key %d): p = %.4f", labels[hr], hr, labels[hc], hc,
                        (double)big.data[(size_t)hr * T + hc]);
    }
}

static void curves_panel(Viz *v, VizRect r, const KitSnap *s, const KitCurve *cv)
{
    VizRect c = viz_panel(v, r, cv->title, cv->short_title);
    int a = kit_metric_col(s, cv->train), b = kit_metric_col(s, cv->heldout);
    VizPlot p = {0};
    p.xlabel = "optimizer step";
    p.ylabel = cv->ylabel;
    /* the columns are read in place from the snapshot's table: a frame allocates nothing */
    if (s->rows && a >= 0)
        p.series[p.nseries++] = (VizSeries){.name = "train (batch)", .y = s->metrics + a, .n = s->rows,
                                            .color = VIZ_ACCENT[1], .stride = s->ncols};
    if (s->rows && b >= 0)
        p.series[p.nseries++] = (VizSeries){.name = "held-out", .y = s->metrics + b, .n = s->rows, .color = VIZ_ACCENT[0],
                                            .points = true, .stride = s->ncols};
    for (int i = 0; cv->series && cv->series[i] && p.nseries < VIZ_MAX_SERIES; i++) {
        int col = kit_metric_col(s, cv->series[i]);
        if (s->rows && col >= 0)
            p.series[p.nseries++] = (VizSeries){.name = cv->series_name[i], .y = s->metrics + col, .n = s->rows,
                                                .color = VIZ_ACCENT[cv->series_color[i] % 8], .points = cv->series_points,
                                                .stride = s->ncols};
    }
    p.hline[0] = cv->ref >= 0 ? (float)s->refs[cv->ref] : NAN;
    p.hline_name[0] = cv->ref_name;
    /* the word-order breakpoint, on every curve; not when the weights it started from had it
       (step 1: a pretrained encoder, a student with its teacher's layers) */
    if (s->order_found > 1 && s->order_found <= s->rows) {
        p.xmark = s->order_found;
        p.xmark_name = s->order_mark;
        p.xmark_color = VIZ_TEXT; /* not the yellow of a reference line */
    }
    if (s->set_step > 0 && s->set_step <= s->rows) { /* where the last setting changed */
        p.xmark2 = s->set_step;
        p.xmark2_name = s->set_what;
        p.xmark2_color = VIZ_ACCENT[6];
    }
    if (s->set_step2 > 0 && s->set_step2 <= s->rows) {
        p.xmark3 = s->set_step2;
        p.xmark3_name = s->set_what2;
        p.xmark3_color = VIZ_ACCENT[6];
    }
    p.hline_color[0] = VIZ_ACCENT[7];
    p.hline[1] = cv->ref2 > 0 ? (float)s->refs[cv->ref2 - 1] : NAN;
    p.hline_name[1] = cv->ref2_name;
    p.hline_color[1] = VIZ_ACCENT[3];
    p.smooth = 10;
    p.logy = cv->logy;
    p.bounded = cv->bounded;
    p.lo = cv->lo;
    p.hi = cv->hi;
    viz_lineplot(v, c, &p);
}

/* Word order: per layer, the largest share of attention a head puts on the neighbouring
 * token, step by step, against 1/T (attention spread evenly). When a head first passes
 * one half, the window pauses (B turns that off) and the step is marked here. */
static void order_panel(Viz *v, VizRect r, const KitSnap *s)
{
    VizRect c = viz_panel(v, r, "Word order: attention on the neighbouring token", "Word order");
    static const char *const names[6] = {"layer 1", "layer 2", "layer 3", "layer 4", "layer 5", "layer 6"};
    VizPlot p = {0};
    p.xlabel = s->order_from ? "optimizer steps since the checkpoint" : "optimizer step";
    p.ylabel = "share";
    for (int l = 0; l < s->order_cols && l < 6; l++)
        p.series[p.nseries++] = (VizSeries){.name = names[l], .y = s->order + l, .n = s->order_rows, .color = VIZ_ACCENT[(l + 1) % 8],
                                            .stride = s->order_cols};
    if (!s->order_rows) p.nseries = 0;
    p.hline[0] = s->T > 0 ? 1.0f / (float)s->T : NAN;
    p.hline_name[0] = "1/T: spread evenly";
    p.hline_color[0] = VIZ_ACCENT[7];
    p.hline[1] = KIT_ORDER_FOUND;
    p.hline_name[1] = "0.5: breakpoint";
    p.hline_color[1] = VIZ_ACCENT[3];
    p.bounded = true;
    p.lo = 0;
    p.hi = 1;
    if (s->order_found > s->order_from) {
        p.xmark = s->order_found - s->order_from;
        p.xmark_color = VIZ_TEXT;
    }
    if (s->order_found) {
        char line[200];
        /* "from step 1": the weights it started from had it (a pretrained encoder, a teacher's layers) */
        snprintf(line, sizeof line, "%s %ld: layer %d head %d looks at the %s token (%.2f)%s%s",
                 s->order_found == 1 ? "from step" : "step", s->order_found, s->order_layer + 1, s->order_head + 1,
                 s->order_dir < 0 ? "previous" : "next", (double)s->order_share,
                 strcmp(s->order_mark, "word order") ? ": " : "", strcmp(s->order_mark, "word order") ? s->order_mark : "");
        int h = viz_text_wrap_height(v, c.w, line, FONT_SANS, 10); /* wrapped: a narrow panel keeps it whole */
        viz_text_wrap(v, c.x, c.y + c.h - h, c.w, line, FONT_SANS, 10, VIZ_ACCENT[3]);
        c.h -= h;
    }
    if (s->trained_share > 0) { /* where this goes: the long-trained model on this sequence */
        char line[160];
        snprintf(line, sizeof line, "trained %ld steps: layer %d head %d, %.2f on the %s token", s->trained_step,
                 s->trained_layer + 1, s->trained_head + 1, (double)s->trained_share,
                 s->trained_dir < 0 ? "previous" : "next");
        int h = viz_text_wrap_height(v, c.w, line, FONT_SANS, 10); /* wrapped: a narrow panel keeps it whole */
        viz_text_wrap(v, c.x, c.y + c.h - h, c.w, line, FONT_SANS, 10, VIZ_ACCENT[2]);
        c.h -= h;
    }
    viz_lineplot(v, c, &p);
}

/* ---------------------------------------------------------------- help ---- */

/* The help overlay: every key, the shared ones and the lesson's, in groups (training, the
 * lesson's settings, view, probe, files), laid out in as many columns as fit, each as wide as
 * its text; what does not fit the window's height scrolls (Page Up / Page Down). */
typedef struct HelpEntry { char key[40], what[112]; } HelpEntry;
typedef struct HelpGroup { const char *name; int first, n; } HelpGroup;

#define HELP_MAX 64
#define HELP_GROUPS 5

static void help_add(HelpEntry *e, int *n, const char *key, const char *what)
{
    if (*n >= HELP_MAX) return;
    snprintf(e[*n].key, sizeof e[*n].key, "%s", key);
    snprintf(e[*n].what, sizeof e[*n].what, "%s", what);
    (*n)++;
}

/* The lesson's keys, a pair that moves one setting down and up on one line ("[ / ]"). */
static void help_lesson_keys(HelpEntry *e, int *n, const LessonView *view)
{
    for (int i = 0; view && i < view->nkeys; i++) {
        const KitKey *k = &view->keys[i], *k2 = i + 1 < view->nkeys ? &view->keys[i + 1] : NULL;
        const char *sp = strrchr(k->help, ' ');
        size_t stem = sp ? (size_t)(sp - k->help) : 0;
        if (k2 && sp && !strcmp(k->setting, k2->setting) && k->step < 0 && k2->step > 0 &&
            !strncmp(k->help, k2->help, stem + 1) && strrchr(k2->help, ' ') == k2->help + stem) {
            char key[40], what[112];
            snprintf(key, sizeof key, "%c / %c", k->key, k2->key);
            snprintf(what, sizeof what, "%s / %s", k->help, k2->help + stem + 1);
            help_add(e, n, key, what);
            i++;
        } else {
            char key[8]; /* a letter as it is printed on the key */
            snprintf(key, sizeof key, "%c", k->key >= 'a' && k->key <= 'z' ? k->key - 'a' + 'A' : k->key);
            help_add(e, n, key, k->help);
        }
    }
}

static int help_groups(HelpEntry *e, HelpGroup *g, const LessonView *view, const KitSnap *s)
{
    int n = 0, ng = 0;
    g[ng] = (HelpGroup){"Training", n, 0};
    help_add(e, &n, "Space", "one training step (one batch)");
    help_add(e, &n, "←", "back one step, exactly");
    help_add(e, &n, "Enter", "run / pause");
    help_add(e, &n, "+ / -", "more / fewer steps per frame while running");
    help_add(e, &n, "N", "a new batch without training");
    help_add(e, &n, "R", "reset with the same seed");
    help_add(e, &n, "Shift+R", "reset with the next seed");
    help_add(e, &n, "B", "pause (or not) when a head first looks at the neighbouring token");
    g[ng].n = n - g[ng].first;
    ng++;
    if (view && view->nkeys) {
        g[ng] = (HelpGroup){"Settings, while it trains", n, 0};
        help_lesson_keys(e, &n, view);
        g[ng].n = n - g[ng].first;
        ng++;
    }
    g[ng] = (HelpGroup){"View", n, 0};
    char tab[64];
    snprintf(tab, sizeof tab, "next / previous %s of the batch", view && view->item ? view->item : "sequence");
    help_add(e, &n, "Tab / Shift+Tab", tab);
    help_add(e, &n, "1–9", "layer of the enlarged attention map (click a thumbnail for a head)");
    if (s->nattn > 1) help_add(e, &n, "M", "the next model's attention");
    help_add(e, &n, "C", "attention colours: each map's own min–max, or fixed 0–1");
    help_add(e, &n, "Z", "the panel under the mouse on the whole window, and back");
    help_add(e, &n, "P / Shift+P", "next / previous panel, when large text shows one at a time (or click its tab)");
    help_add(e, &n, "O", "the notes on the whole window, and back");
    help_add(e, &n, "Page Up / Down", "scroll the notes (or the wheel over them)");
    help_add(e, &n, "A", "show the answers of the notes' questions");
    help_add(e, &n, "L", "notes in English / 한국어");
    help_add(e, &n, "F or F11", "full screen");
    help_add(e, &n, "Ctrl+= / Ctrl+-", "larger / smaller text");
    help_add(e, &n, "H or F1", "this help, and back");
    help_add(e, &n, "Esc Esc", "quit (twice within 3 s)");
    g[ng].n = n - g[ng].first;
    ng++;
    if (view && view->probe) {
        g[ng] = (HelpGroup){"Probe", n, 0};
        help_add(e, &n, "/", view->probe_help ? view->probe_help : "type a probe for the model");
        help_add(e, &n, "Enter", "ask the model (asked again after every step); the keys are keys again");
        help_add(e, &n, "Ctrl+U", "clear the line (/ goes on from the last one)");
        help_add(e, &n, "Esc", "stop typing");
        g[ng].n = n - g[ng].first;
        ng++;
    }
    g[ng] = (HelpGroup){"Files", n, 0};
    help_add(e, &n, "S", "screenshot (PNG)");
    help_add(e, &n, "E", "pause and export: weights, gradients, batch, attention");
    g[ng].n = n - g[ng].first;
    return ng + 1;
}

#define HELP_KEY_PT 12
#define HELP_TEXT_PT 12
#define HELP_HEAD_PT 13

/* One column of groups g[a..b) at most col_cap wide: the width of its keys (*key_w), its
 * own width (keys, a gap, the descriptions wrapped to what is left) and its height. */
static int help_column(Viz *v, const HelpEntry *e, const HelpGroup *g, int a, int b, int col_cap, int *key_w,
                       int *width)
{
    int kw = 0, ww = 0, h = 0, gap = viz_px(v, 10);
    for (int i = a; i < b; i++)
        for (int k = g[i].first; k < g[i].first + g[i].n; k++) {
            int w = viz_text_width(v, e[k].key, FONT_BOLD, HELP_KEY_PT);
            kw = w > kw ? w : kw;
            w = viz_text_width(v, e[k].what, FONT_SANS, HELP_TEXT_PT);
            ww = w > ww ? w : ww;
        }
    if (ww > col_cap - kw - gap) ww = col_cap - kw - gap;
    if (ww < viz_px(v, 40)) ww = viz_px(v, 40);
    int head = viz_text_height(v, FONT_BOLD, HELP_HEAD_PT) + viz_px(v, 4), skip = viz_px(v, 10);
    for (int i = a; i < b; i++) {
        h += head + (i > a ? skip : 0);
        for (int k = g[i].first; k < g[i].first + g[i].n; k++)
            h += viz_text_wrap_height(v, ww, e[k].what, FONT_SANS, HELP_TEXT_PT);
    }
    *key_w = kw;
    *width = kw + gap + ww;
    return h;
}

/* The tallest column when groups are cut into columns at split[1..cols-1]. */
static int help_tallest(Viz *v, const HelpEntry *e, const HelpGroup *g, const int *split, int cols, int cap)
{
    int tallest = 0, kw, w;
    for (int c = 0; c < cols; c++) {
        int h = help_column(v, e, g, split[c], split[c + 1], cap, &kw, &w);
        tallest = h > tallest ? h : tallest;
    }
    return tallest;
}

static void help_overlay(Viz *v, KitUiState *ui, const LessonView *view, const KitSnap *s)
{
    static HelpEntry e[HELP_MAX];
    HelpGroup g[HELP_GROUPS];
    int ng = help_groups(e, g, view, s);
    int margin = viz_px(v, 16), pad = viz_px(v, 14), colgap = viz_px(v, 28);
    int avail_w = v->w - 2 * margin - 2 * pad;
    int title_h = viz_text_height(v, FONT_BOLD, 16) + viz_px(v, 6);
    int avail_h = v->h - 2 * margin - 2 * pad - title_h;
    /* the most columns (up to 3) that fit the height; columns take whole groups in order, cut
       where the tallest column is shortest; if none fits, the shortest, scrolled */
    int cols = 1, split[4] = {0, ng, ng, ng}, height = 1 << 30;
    for (int n = ng < 3 ? ng : 3; n >= 1; n--) {
        int cap = (avail_w - (n - 1) * colgap) / n, best = 1 << 30, cut[4] = {0, ng, ng, ng}, at[4] = {0, ng, ng, ng};
        for (int c1 = n > 1 ? 1 : ng; c1 <= (n > 1 ? ng - n + 1 : ng); c1++)
            for (int c2 = n > 2 ? c1 + 1 : ng; c2 <= (n > 2 ? ng - 1 : ng); c2++) {
                at[1] = c1;
                at[2] = n > 2 ? c2 : ng;
                int t = help_tallest(v, e, g, at, n, cap);
                if (t < best) {
                    best = t;
                    memcpy(cut, at, sizeof cut);
                }
            }
        if (best < height || best <= avail_h) {
            height = best;
            cols = n;
            memcpy(split, cut, sizeof split);
        }
        if (best <= avail_h) break;
    }
    int cap = (avail_w - (cols - 1) * colgap) / cols, kw[3], cw[3], total_w = 0;
    for (int c = 0; c < cols; c++) {
        help_column(v, e, g, split[c], split[c + 1], cap, &kw[c], &cw[c]);
        total_w += cw[c] + (c ? colgap : 0);
    }
    bool scrolls = height > avail_h;
    const char *title = scrolls ? "Keys (Page Up / Page Down: more)" : "Keys";
    int tw = viz_text_width(v, title, FONT_BOLD, 16), view_h = scrolls ? avail_h : height;
    if (total_w < tw) total_w = tw;
    VizRect box = {(v->w - total_w) / 2 - pad, (v->h - view_h - title_h) / 2 - pad, total_w + 2 * pad,
                   view_h + title_h + 2 * pad};
    viz_fill(v, box, (VizColor){16, 18, 24, 255});
    viz_frame(v, box, VIZ_ACCENT[3]);
    int max_scroll = scrolls ? height - avail_h : 0;
    if (ui->help_scroll > max_scroll) ui->help_scroll = max_scroll;
    if (ui->help_scroll < 0) ui->help_scroll = 0;
    viz_text_fit(v, box.x + pad, box.y + pad, total_w, title, FONT_BOLD, 16, VIZ_ACCENT[0]);
    VizRect area = {box.x + pad, box.y + pad + title_h, total_w, view_h};
    viz_clip(v, &area);
    int x = area.x, head = viz_text_height(v, FONT_BOLD, HELP_HEAD_PT) + viz_px(v, 4), skip = viz_px(v, 10);
    for (int c = 0; c < cols; c++) {
        int y = area.y - ui->help_scroll, ww = cw[c] - kw[c] - viz_px(v, 10);
        for (int i = split[c]; i < split[c + 1]; i++) {
            if (i > split[c]) y += skip;
            viz_text(v, x, y, g[i].name, FONT_BOLD, HELP_HEAD_PT, VIZ_ACCENT[1], ALIGN_LEFT);
            y += head;
            for (int k = g[i].first; k < g[i].first + g[i].n; k++) {
                viz_text(v, x, y, e[k].key, FONT_BOLD, HELP_KEY_PT, VIZ_ACCENT[3], ALIGN_LEFT);
                y += viz_text_wrap(v, x + kw[c] + viz_px(v, 10), y, ww, e[k].what, FONT_SANS, HELP_TEXT_PT, VIZ_TEXT);
            }
        }
        x += cw[c] + colgap;
    }
    viz_clip(v, NULL);
    if (scrolls) { /* a scroll bar at the box's right edge */
        int bh = view_h * view_h / height, by = area.y + (view_h - bh) * ui->help_scroll / (max_scroll ? max_scroll : 1);
        viz_fill(v, (VizRect){box.x + box.w - viz_px(v, 6), by, viz_px(v, 3), bh}, VIZ_GRID);
    }
}

/* The notes with the "## Answers" section (Korean notes: "## 답") folded until the student
 * asks (key A). */
static const char *notes_shown(const char *md, bool reveal)
{
    static char *buf;
    static const char *made_from;
    if (reveal) return md;
    if (buf && made_from == md) return buf;
    free(buf);
    buf = NULL;
    const char *a = strstr(md, "## Answers"), *ko = strstr(md, "## 답");
    bool korean = !a && ko;
    if (korean) a = ko;
    if (!a) return md;
    const char *next = strstr(a + 3, "\n## ");
    const char *hidden = korean ? "## 답\n*먼저 예측해 보고,* **A** *를 눌러 답을 보세요.*\n"
                                : "## Answers\n*Predict first, then press* **A** *to show the answers.*\n";
    size_t n = (size_t)(a - md) + strlen(hidden) + (next ? strlen(next) : 0) + 1;
    buf = malloc(n);
    if (!buf) return md;
    snprintf(buf, n, "%.*s%s%s", (int)(a - md), md, hidden, next ? next + 1 : "");
    made_from = md;
    return buf;
}

static int npanels(const LessonView *view) { return view ? view->npanels : 0; }
static int ncurves(const LessonView *view)
{
    int nc = view ? view->ncurves : 0;
    return nc < KIT_MAX_CURVES ? nc : KIT_MAX_CURVES;
}

/* A panel's short name: its tab, and its title where the full one does not fit. */
static const char *short_title(int id, const LessonView *view)
{
    int np = npanels(view), nc = ncurves(view);
    if (id <= np) return view->panels[id - 1].short_title ? view->panels[id - 1].short_title : view->panels[id - 1].title;
    if (id == kit_panel_attention(np)) return "Attention";
    if (id < kit_panel_order(np, nc)) {
        const KitCurve *c = &view->curves[id - kit_panel_curve(np, 0)];
        return c->short_title ? c->short_title : c->title;
    }
    if (id == kit_panel_order(np, nc)) return "Word order";
    return "Notes";
}

/* The line being typed: "> " and the text, then the input method's composition underlined
 * (Hangul being put together), then the caret. When it is wider than the panel, its start
 * gives way ("…") so the caret stays in view. Returns the height used. */
static int probe_line(Viz *v, VizRect c, KitUiState *ui)
{
    const float size = 12;
    const VizColor col = VIZ_ACCENT[3];
    const char *text = ui->probe, *pre = ui->probing ? ui->preedit : "";
    int lh = viz_text_height(v, FONT_MONO, size);
    char head[300];
    int tail_w = viz_text_width(v, pre, FONT_MONO, size) + viz_text_width(v, "_", FONT_MONO, size);
    for (;;) { /* drop characters from the start until the line fits */
        snprintf(head, sizeof head, "%s%s", text == ui->probe ? "> " : "…", text);
        if (!*text || viz_text_width(v, head, FONT_MONO, size) + tail_w <= c.w) break;
        text++;
        while ((*text & 0xC0) == 0x80) text++;
    }
    int x = c.x + viz_text(v, c.x, c.y, head, FONT_MONO, size, col, ALIGN_LEFT);
    if (pre[0]) {
        int pw = viz_text(v, x, c.y, pre, FONT_MONO, size, VIZ_TEXT, ALIGN_LEFT);
        viz_fill(v, (VizRect){x, c.y + lh - viz_px(v, 2), pw, viz_px(v, 1.5f) > 1 ? viz_px(v, 1.5f) : 1}, VIZ_TEXT);
        /* the caret inside the composition, where the input method puts it */
        char part[128];
        snprintf(part, sizeof part, "%.*s", ui->preedit_caret, pre);
        ui->caret = (VizRect){x + viz_text_width(v, part, FONT_MONO, size), c.y, viz_px(v, 2), lh};
        x += pw;
    } else {
        ui->caret = (VizRect){x, c.y, viz_px(v, 2), lh};
    }
    if (ui->probing) viz_text(v, x, c.y, "_", FONT_MONO, size, col, ALIGN_LEFT);
    return lh + viz_px(v, 4);
}

/* The panels of the dashboard, numbered from 1: the lesson's, the attention, the curves,
 * the word order, the notes (layout.h). */
static void draw_panel(Viz *v, VizRect r, int id, const KitFrame *f, const LessonView *view)
{
    const KitSnap *s = f->s;
    KitUiState *ui = f->ui;
    int np = npanels(view), nc = ncurves(view);
    if (id <= np) {
        const KitPanel *p = &view->panels[id - 1];
        VizRect c = viz_panel(v, r, p->title, p->short_title);
        viz_clip(v, &r); /* a lesson panel never draws over its neighbours */
        if (p->flags & KIT_PANEL_PROBE) { /* the line being typed, then the lesson's answer */
            int dy = probe_line(v, c, ui);
            c.y += dy;
            c.h -= dy;
        }
        p->draw(v, c, f);
        viz_clip(v, NULL);
    } else if (id == kit_panel_attention(np)) {
        attention_panel(v, r, f);
    } else if (id < kit_panel_order(np, nc)) {
        curves_panel(v, r, s, &view->curves[id - kit_panel_curve(np, 0)]);
    } else if (id == kit_panel_order(np, nc)) {
        order_panel(v, r, s);
    } else {
        char title[96], brief[64];
        snprintf(title, sizeof title, "Notes (lessons/%s/%s; L: %s)", s->info->name, ui->lang ? "notes.ko.md" : "notes.md",
                 ui->lang ? "English" : "한국어");
        snprintf(brief, sizeof brief, "Notes (L: %s)", ui->lang ? "English" : "한국어");
        VizRect c = viz_panel(v, r, title, brief);
        /* lines of some 80 characters at most, centred: longer ones are hard to follow */
        const char *sample = "the quick brown fox jumps over the lazy dog, ";
        int measure = viz_text_width(v, sample, FONT_SANS, 12) * 80 / (int)strlen(sample);
        if (c.w > measure) {
            c.x += (c.w - measure) / 2;
            c.w = measure;
        }
        int scroll = ui->notes_scroll;
        viz_markdown(v, c, notes_shown(ui->notes ? ui->notes : kit_notes(s->info, ui->lang), ui->reveal), &scroll);
        ui->notes_scroll = scroll;
    }
}

/* The footer's keys, the most useful first: as many as fit, then always H (all the keys). */
static void footer_keys(Viz *v, char *out, size_t n, int max_w, const KitUiState *ui, const LessonView *view,
                        const KitLayout *l)
{
    char page[64] = "";
    if (l->mode == KIT_LAYOUT_PAGED && !ui->zoom) {
        int at = 0;
        for (int i = 0; i < l->npages; i++)
            if (l->page_id[i] == l->page) at = i;
        snprintf(page, sizeof page, "P next panel (%d of %d)", at + 1, l->npages);
    }
    const char *items[16];
    int k = 0;
    if (ui->probing) { /* every other key types into the probe now */
        snprintf(out, n, "%s", "Typing: Enter ask the model (and stop typing) · Backspace delete · Ctrl+U clear · Esc stop typing");
        return;
    }
    if (ui->zoom) items[k++] = ui->zoom == kit_panel_notes(npanels(view), ncurves(view)) ? "O back" : "Z back";
    if (page[0] && !ui->probing) items[k++] = page;
    items[k++] = "Space step";
    items[k++] = "Enter run/pause";
    items[k++] = "← back";
    items[k++] = "N new batch";
    char tab[32];
    snprintf(tab, sizeof tab, "Tab %s", view && view->item ? view->item : "sequence");
    items[k++] = tab;
    items[k++] = "1-9 layer";
    if (view && view->probe) items[k++] = "/ probe";
    if (l->mode == KIT_LAYOUT_COMPACT && !ui->zoom) items[k++] = "O notes";
    if (!ui->zoom) items[k++] = "Z zoom";
    items[k++] = "S screenshot";
    items[k++] = "E export";
    const char *last = "H all keys · Esc Esc quit";
    if (viz_text_width(v, last, FONT_SANS, 11) > max_w) last = "H keys";
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < k; i++) {
        char try[512];
        snprintf(try, sizeof try, "%s%s · %s", out, items[i], last);
        if (viz_text_width(v, try, FONT_SANS, 11) > max_w) continue; /* a shorter one may still fit */
        len += (size_t)snprintf(out + len, n - len, "%s · ", items[i]);
        if (len >= n) len = n - 1;
    }
    snprintf(out + len, n - len, "%s", last);
}

/* The tabs of the paged layout: every panel by its short name, the one shown lit. */
static void draw_tabs(Viz *v, KitUiState *ui, const LessonView *view)
{
    const KitLayout *l = &ui->layout;
    int pad = viz_px(v, 8), lh = viz_text_height(v, FONT_SANS, 11);
    for (int i = 0; i < l->ntabs; i++) {
        VizRect t = l->tab[i];
        bool on = l->tab_id[i] == l->page;
        viz_fill(v, t, on ? VIZ_ACCENT[4] : viz_hover(v, t) ? (VizColor){60, 66, 84, 255} : VIZ_PANEL);
        viz_text_fit(v, t.x + pad, t.y + (t.h - lh) / 2, t.w - 2 * pad, short_title(l->tab_id[i], view),
                     on ? FONT_BOLD : FONT_SANS, 11, on ? VIZ_TEXT : VIZ_DIM);
        if (viz_hover(v, t) && v->mouse_clicked) ui->page = l->tab_id[i];
    }
}

void kit_draw(Viz *v, const KitSnap *s, KitUiState *ui, const LessonView *view)
{
    KitFrame f = {s, s->lesson, ui};
    int W = v->w, H = v->h, g = viz_px(v, 6);
    int np = npanels(view), nc = ncurves(view), notes_id = kit_panel_notes(np, nc);
    if (ui->zoom > notes_id) ui->zoom = 0;
    if (ui->zoom < 0) ui->zoom = notes_id;
    /* the probe's panel (and its page) stays from Enter until the answer is there */
    bool probe_on = ui->probing || ui->probe_result || ui->probe_asked;
    KitLayoutSpec spec = {.w = W, .h = H, .scale = v->scale, .gap = g, .nlesson = np, .ncurves = nc, .zoom = ui->zoom,
                          .page = ui->page};
    spec.head_h = viz_text_height(v, FONT_BOLD, 16) + viz_px(v, 12);
    /* the footer: one line of keys, or the message, wrapped to three lines at most */
    int foot_lh = viz_text_height(v, FONT_SANS, 11);
    int foot_lines = ui->status[0] ? viz_text_wrap_height(v, W - 2 * g, ui->status, FONT_SANS, 11) / foot_lh : 1;
    if (foot_lines > 3) foot_lines = 3;
    if (foot_lines < 1) foot_lines = 1;
    spec.foot_h = foot_lines * foot_lh + viz_px(v, 6);
    float weight[KIT_MAX_LESSON_PANELS];
    int tab_w[KIT_MAX_PANELS];
    for (int i = 0; i < np && i < KIT_MAX_LESSON_PANELS; i++) {
        weight[i] = view->panels[i].weight;
        if ((view->panels[i].flags & KIT_PANEL_PROBE) && !probe_on) spec.hidden |= 1u << i;
        /* typing a probe when one panel is shown at a time: the probe's page */
        if ((view->panels[i].flags & KIT_PANEL_PROBE) && ui->probing && kit_layout_mode(W, H, v->scale) == KIT_LAYOUT_PAGED)
            spec.page = ui->page = i + 1;
    }
    for (int id = 1; id <= notes_id; id++)
        tab_w[id - 1] = viz_text_width(v, short_title(id, view), FONT_BOLD, 11) + 2 * viz_px(v, 8);
    spec.weight = weight;
    spec.tab_w = tab_w;
    spec.tab_h = foot_lh + viz_px(v, 8);
    kit_layout(&spec, &ui->layout);
    ui->page = ui->layout.page;
    header(v, (VizRect){0, 0, W, spec.head_h}, &f, view);
    draw_tabs(v, ui, view);
    /* a panel on the whole window (Z, O) is drawn with larger text where the window has room
       for it, up to 1.6 times: what it is zoomed for is to be read from the back of a room */
    float keep = v->scale;
    if (ui->zoom) {
        float zf = fminf((float)W / v->scale / 800.0f, (float)H / v->scale / 560.0f);
        v->scale *= zf > 1.6f ? 1.6f : zf < 1 ? 1 : zf;
    }
    for (int i = 0; i < ui->layout.n; i++) draw_panel(v, ui->layout.rect[i], ui->layout.id[i], &f, view);
    v->scale = keep;
    /* footer */
    int fy = H - spec.foot_h + viz_px(v, 3);
    if (ui->status[0]) {
        VizRect fr = {g, fy, W - 2 * g, foot_lines * foot_lh + viz_px(v, 3)}; /* the descenders: "top_k" keeps its "_" */
        viz_clip(v, &fr); /* a message longer than three lines ends there */
        viz_text_wrap(v, g, fy, W - 2 * g, ui->status, FONT_SANS, 11, VIZ_ACCENT[3]);
        viz_clip(v, NULL);
    } else {
        static char keys[512];
        footer_keys(v, keys, sizeof keys, W - 2 * g, ui, view, &ui->layout);
        viz_text_fit(v, g, fy, W - 2 * g, keys, FONT_SANS, 11, VIZ_DIM);
    }
    if (ui->help) {
        help_overlay(v, ui, view, s);
        v->tooltip[0] = 0; /* nothing under the mouse shows through the overlay */
    }
}

int kit_render_png(Run *r, const char *path, char *err, size_t errlen)
{
    const LessonView *view = r->view;
    KitSnap s;
    kit_trained(r);
    if (kit_snap_init(&s, r, view)) {
        kit_snap_free(&s);
        return engine_error(err, errlen, "out of memory");
    }
    kit_snap_fill(&s, r, view, 0);
    int w = r->opt.width, h = r->opt.height;
    float font_scale = r->opt.font_scale;
    Viz v;
    float scale = font_scale * fminf((float)w / 1280.0f, (float)h / 800.0f);
    if (scale < font_scale) scale = font_scale;
    char assets[4096];
    const char *root = runtime_source_dir();
    snprintf(assets, sizeof assets, "%s/assets", root ? root : ".");
    int rc = viz_open_offscreen(&v, w, h, scale, assets, err, errlen);
    void *probe = NULL;
    if (rc == 0) {
        KitUiState ui = {0};
        ui.lang = r->opt.lang;
        if (view->spotlight && !view->spotlight(&s, s.lesson, &ui.layer, &ui.head)) ui.layer = ui.head = 0;
        if (view->probe && view->probe_default && (probe = calloc(1, view->probe_size))) { /* fmlab-gpt's prompt */
            view->probe(r, kit_model(r, 0), view->probe_default, probe);
            snprintf(ui.probe, sizeof ui.probe, "%s", view->probe_default);
            ui.probe_result = probe;
        }
        viz_begin(&v);
        kit_draw(&v, &s, &ui, view);
        viz_end(&v);
        rc = viz_save_png(&v, path, err, errlen);
        viz_close(&v);
    }
    free(probe);
    kit_snap_free(&s);
    return rc;
}
