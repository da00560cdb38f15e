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
    s->names = &r->metrics;
    s->ncols = r->metrics.ncols;
    size_t T = (size_t)r->T;
    s->tokens = calloc(T, sizeof *s->tokens);
    bool ok = s->tokens != NULL;
    for (int i = 0; i < l->nmodels; i++)
        for (int st = 0; st < KIT_MAX_STREAMS && l->models[i].streams[st]; st++) {
            KitAttn *a = &s->attn[s->nattn++];
            const ModelConfig *c = &r->models[i].model.cfg;
            if (l->models[i].streams[st][0])
                snprintf(a->name, sizeof a->name, "%s · %s", l->models[i].folder, l->models[i].streams[st]);
            else snprintf(a->name, sizeof a->name, "%s", l->models[i].folder);
            a->L = c->num_hidden_layers;
            a->NH = c->num_attention_heads;
            a->p = calloc((size_t)a->L * a->NH * T * T, sizeof *a->p);
            ok = ok && a->p;
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
    for (int i = 0; i < s->nattn; i++) free(s->attn[i].p);
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
    s->B = r->B;
    s->focus = focus < 0 ? 0 : focus % r->B;
    s->have_forward = r->have_forward;
    s->batch_trained = r->batch_trained;
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
            for (int layer = 0; attn && s->have_forward && layer < a->L; layer++)
                for (int h = 0; h < a->NH; h++)
                    memcpy(a->p + ((size_t)layer * a->NH + h) * T * T, attn[layer] + (((size_t)s->focus * a->NH + h) * T) * T,
                           (size_t)T * T * sizeof(float));
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
    viz_bars(v, r, labels, vals, n, color, "%.3f");
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
    char title[160];
    snprintf(title, sizeof title, "fmlab · %s", s->info->title);
    int avail = r.w - 2 * pad - sw - viz_px(v, 24);
    if (viz_text_width(v, title, FONT_BOLD, 16) > avail / 2) snprintf(title, sizeof title, "fmlab-%s", s->info->name);
    int x = r.x + pad;
    x += viz_text_fit(v, x, y, avail / 2, title, FONT_BOLD, 16, VIZ_TEXT) + viz_px(v, 20);
    avail = r.x + r.w - pad - sw - viz_px(v, 12) - x;
    /* which batch is on screen, and so whose loss this is */
    char more[200] = "", loss[80], buf[320];
    if (view && view->headline) view->headline(f, more, sizeof more);
    for (int brief = 0; brief < 3; brief++) {
        if (!s->have_forward) snprintf(loss, sizeof loss, "loss —");
        else if (brief < 2)
            snprintf(loss, sizeof loss, "loss %.3f (%s)", (double)s->loss,
                     s->batch_trained ? (brief ? "trained batch" : "this batch, before its update")
                                      : (brief ? "new batch" : "new batch, not trained on"));
        else snprintf(loss, sizeof loss, "loss %.3f", (double)s->loss);
        snprintf(buf, sizeof buf, "step %ld   %s   %s%slr %.2g", s->step, loss, brief < 2 ? more : "",
                 brief < 2 && more[0] ? "   " : "", (double)s->lr);
        if (viz_text_width(v, buf, FONT_MONO, 13) <= avail) break;
    }
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
    VizRect c = viz_panel(v, r, ptitle);
    int T = s->T, lh = viz_text_height(v, FONT_SANS, 10);
    if (ui->layer >= a->L) ui->layer = a->L - 1;
    if (ui->head >= a->NH) ui->head = a->NH - 1;
    int layer = ui->layer, head = ui->head;
    /* thumbnails above the enlarged map, or beside it when the panel is wide (Z) */
    bool wide = c.w > c.h * 13 / 10;
    int gap = viz_px(v, 6);
    VizRect tr_area = wide ? (VizRect){c.x, c.y, c.w / 2, c.h} : (VizRect){c.x, c.y, c.w, c.h * 2 / 5};
    int tw = (tr_area.w - lh - gap * (a->NH - 1)) / a->NH, th = (tr_area.h - lh - gap * (a->L - 1)) / a->L;
    int side = tw < th ? tw : th;
    if (side < 8) side = 8;
    bool short_heads = viz_text_width(v, "head 8", FONT_SANS, 10) > side + gap;
    for (int h = 0; h < a->NH; h++) {
        char t[16];
        snprintf(t, sizeof t, short_heads ? "h%d" : "head %d", h + 1);
        viz_text(v, c.x + lh + h * (side + gap) + side / 2, c.y, t, FONT_SANS, 10, VIZ_DIM, ALIGN_CENTER);
    }
    for (int l = 0; l < a->L; l++) {
        char t[16];
        snprintf(t, sizeof t, "L%d", l + 1);
        viz_text(v, c.x, c.y + lh + l * (side + gap) + side / 2 - lh / 2, t, FONT_SANS, 10, VIZ_DIM, ALIGN_LEFT);
        for (int h = 0; h < a->NH; h++) {
            VizRect tr = {c.x + lh + h * (side + gap), c.y + lh + l * (side + gap), side, side};
            const float *p = a->p + ((size_t)l * a->NH + h) * T * T;
            VizHeatmap hm = {p, T, T, 0, 1, CMAP_VIRIDIS, NULL, NULL, "p", false, NULL};
            map_range(p, T * T, ui->attn_fixed, &hm.vmin, &hm.vmax);
            int hr, hc;
            viz_heatmap(v, tr, &hm, &hr, &hc);
            if (l == layer && h == head) viz_frame(v, (VizRect){tr.x - 2, tr.y - 2, tr.w + 4, tr.h + 4}, VIZ_ACCENT[3]);
            if (viz_hover(v, tr)) {
                viz_tooltip(v, "layer %d head %d: query %d → key %d: p = %.4f (click to enlarge)", l + 1, h + 1, hr, hc,
                            hr >= 0 ? (double)hm.data[(size_t)hr * T + hc] : 0.0);
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
    viz_text_fit(v, x, y, w, title, FONT_BOLD, 11, VIZ_TEXT);
    y += viz_text_height(v, FONT_BOLD, 11) + viz_px(v, 2);
    snprintf(title, sizeof title, "colour: %s (C: %s) · 1–9 layer · click a thumbnail",
             ui->attn_fixed ? "fixed 0–1" : "each map's own min–max", ui->attn_fixed ? "own range" : "fixed 0–1");
    viz_text_fit(v, x, y, w, title, FONT_SANS, 10, VIZ_DIM);
    y += viz_text_height(v, FONT_SANS, 10) + viz_px(v, 2);
    const char *labels[512];
    for (int t = 0; t < T && t < 512; t++) labels[t] = kit_token(s, s->tokens[t]);
    const float *p = a->p + ((size_t)layer * a->NH + head) * T * T;
    VizHeatmap big = {p, T, T, 0, 1, CMAP_VIRIDIS, labels, labels, "attention p", true, NULL};
    map_range(p, T * T, ui->attn_fixed, &big.vmin, &big.vmax);
    int hr, hc;
    viz_heatmap(v, (VizRect){x, y, w, c.y + c.h - y}, &big, &hr, &hc);
    if (hr >= 0)
        viz_tooltip(v, "\"%s\" (query %d) attends to \"%s\" (key %d): p = %.4f", labels[hr], hr, labels[hc], hc,
                    (double)big.data[(size_t)hr * T + hc]);
}

static void curves_panel(Viz *v, VizRect r, const KitSnap *s, const KitCurve *cv)
{
    VizRect c = viz_panel(v, r, cv->title);
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
    p.hline[0] = cv->ref >= 0 ? (float)s->refs[cv->ref] : NAN;
    p.hline_name[0] = cv->ref_name;
    if (s->order_found > 0 && s->order_found <= s->rows) { /* the word-order breakpoint, on every curve */
        p.xmark = s->order_found;
        p.xmark_name = "word order";
        p.xmark_color = VIZ_ACCENT[3];
    }
    p.hline_color[0] = VIZ_ACCENT[7];
    p.hline[1] = NAN;
    p.smooth = 10;
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
    VizRect c = viz_panel(v, r, "Word order: attention on the neighbouring token");
    static const char *const names[6] = {"layer 1", "layer 2", "layer 3", "layer 4", "layer 5", "layer 6"};
    VizPlot p = {0};
    p.xlabel = s->order_from ? "optimizer steps since the checkpoint" : "optimizer step";
    p.ylabel = "share on prev/next";
    for (int l = 0; l < s->order_cols && l < 6; l++)
        p.series[p.nseries++] = (VizSeries){.name = names[l], .y = s->order + l, .n = s->order_rows, .color = VIZ_ACCENT[(l + 1) % 8],
                                            .stride = s->order_cols};
    if (!s->order_rows) p.nseries = 0;
    p.hline[0] = s->T > 0 ? 1.0f / (float)s->T : NAN;
    p.hline_name[0] = "1/T: spread evenly";
    p.hline_color[0] = VIZ_ACCENT[7];
    p.hline[1] = KIT_ORDER_FOUND;
    p.hline_name[1] = NULL;
    p.hline_color[1] = VIZ_GRID;
    p.bounded = true;
    p.lo = 0;
    p.hi = 1;
    if (s->order_found > s->order_from) {
        p.xmark = s->order_found - s->order_from;
        p.xmark_color = VIZ_ACCENT[3];
    }
    if (s->order_found) {
        char line[160];
        snprintf(line, sizeof line, "step %ld: layer %d head %d looks at the %s token (%.2f)", s->order_found,
                 s->order_layer + 1, s->order_head + 1, s->order_dir < 0 ? "previous" : "next", (double)s->order_share);
        int lh = viz_text_height(v, FONT_SANS, 10);
        viz_text_fit(v, c.x, c.y + c.h - lh, c.w, line, FONT_SANS, 10, VIZ_ACCENT[3]);
        c.h -= lh;
    }
    if (s->trained_share > 0) { /* where this goes: the long-trained model on this sequence */
        char line[160];
        snprintf(line, sizeof line, "trained %ld steps: layer %d head %d, %.2f on the %s token", s->trained_step,
                 s->trained_layer + 1, s->trained_head + 1, (double)s->trained_share,
                 s->trained_dir < 0 ? "previous" : "next");
        int lh = viz_text_height(v, FONT_SANS, 10);
        viz_text_fit(v, c.x, c.y + c.h - lh, c.w, line, FONT_SANS, 10, VIZ_ACCENT[2]);
        c.h -= lh;
    }
    viz_lineplot(v, c, &p);
}

/* The shared keys, then the lesson's: the help overlay and the footer come from here. */
static const char *const shared_help[] = {
    "**Space**: one training step (one batch); **←**: back one step, exactly",
    "**Enter**: run / pause",
    "**+ / -**: more or fewer steps per frame while running",
    "**N**: draw a new batch without training",
    "**R**: reset with the same seed; **Shift+R**: with a new seed",
    "**Tab** / **Shift+Tab**: next / previous sequence of the batch",
    "**1–9**: layer of the enlarged attention map; click a thumbnail for a head",
    "**S**: screenshot PNG; **E**: export (weights, gradients, batch)",
    "**F** or **F11**: full screen; **Ctrl+= / Ctrl+-**: text size",
    "**A**: reveal the answers of the notes' questions; **L**: notes in English / 한국어",
    "**Z**: the panel under the mouse on the whole window, and back; **O**: the notes on the whole window",
    "**C**: attention colours from each map's own min–max, or fixed 0–1",
    "**B**: pause (or not) when a head first looks at the neighbouring token",
    "**Page Up / Page Down** or the wheel over the notes: scroll",
    "**H** or **F1**: this help; **Esc**: leave input, or quit",
};

static void help_overlay(Viz *v, const LessonView *view, const KitSnap *s)
{
    VizRect r = {v->w / 6, v->h / 8, v->w * 2 / 3, v->h * 3 / 4};
    viz_fill(v, r, (VizColor){16, 18, 24, 255});
    viz_frame(v, r, VIZ_ACCENT[3]);
    static char help[4096];
    int n = snprintf(help, sizeof help, "# Keys\n");
    for (size_t i = 0; i < sizeof shared_help / sizeof *shared_help; i++)
        n += snprintf(help + n, sizeof help - (size_t)n, "- %s\n", shared_help[i]);
    if (view && view->probe)
        n += snprintf(help + n, sizeof help - (size_t)n, "- **/**: type a probe for the model; **Enter** to run it\n");
    if (s->nattn > 1) n += snprintf(help + n, sizeof help - (size_t)n, "- **M**: the next model's attention\n");
    for (int i = 0; view && i < view->nkeys; i++)
        n += snprintf(help + n, sizeof help - (size_t)n, "- **%c**: %s\n", view->keys[i].key, view->keys[i].help);
    int scroll = 0;
    viz_markdown(v, (VizRect){r.x + viz_px(v, 16), r.y + viz_px(v, 12), r.w - viz_px(v, 32), r.h - viz_px(v, 24)}, help,
                 &scroll);
}

/* The notes with the "## Answers" section folded until the student asks (key A). */
static const char *notes_shown(const char *md, bool reveal)
{
    static char *buf;
    static const char *made_from;
    if (reveal) return md;
    if (buf && made_from == md) return buf;
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
    return buf;
}

/* The panels of the dashboard, numbered from 1: the lesson's, the attention, the curves,
 * the notes. Z shows the one under the mouse on the whole window. */
static void draw_panel(Viz *v, VizRect r, int id, const KitFrame *f, const LessonView *view)
{
    const KitSnap *s = f->s;
    KitUiState *ui = f->ui;
    int np = view ? view->npanels : 0, nc = view ? view->ncurves : 0;
    if (viz_hover(v, r)) ui->hover_panel = id;
    if (id <= np) {
        const KitPanel *p = &view->panels[id - 1];
        VizRect c = viz_panel(v, r, p->title);
        if (p->flags & KIT_PANEL_PROBE) { /* the line being typed, then the lesson's answer */
            char line[300];
            snprintf(line, sizeof line, "> %s%s", ui->probe, ui->probing ? "_" : "");
            viz_text_fit(v, c.x, c.y, c.w, line, FONT_MONO, 12, VIZ_ACCENT[3]);
            int dy = viz_text_height(v, FONT_MONO, 12) + viz_px(v, 4);
            c.y += dy;
            c.h -= dy;
        }
        viz_clip(v, &r); /* a lesson panel never draws over its neighbours */
        p->draw(v, c, f);
        viz_clip(v, NULL);
    } else if (id == np + 1) {
        attention_panel(v, r, f);
    } else if (id <= np + 1 + nc) {
        curves_panel(v, r, s, &view->curves[id - np - 2]);
    } else if (id == np + 2 + nc) {
        order_panel(v, r, s);
    } else {
        char title[96];
        snprintf(title, sizeof title, "Notes (lessons/%s/%s; L: %s)", s->info->name, ui->lang ? "notes.ko.md" : "notes.md",
                 ui->lang ? "English" : "한국어");
        VizRect c = viz_panel(v, r, title);
        int scroll = ui->notes_scroll;
        viz_markdown(v, c, notes_shown(ui->notes ? ui->notes : kit_notes(s->info, ui->lang), ui->reveal), &scroll);
        ui->notes_scroll = scroll;
    }
}

void kit_draw(Viz *v, const KitSnap *s, KitUiState *ui, const LessonView *view)
{
    KitFrame f = {s, s->lesson, ui};
    int W = v->w, H = v->h, g = viz_px(v, 6);
    int head_h = viz_text_height(v, FONT_BOLD, 16) + viz_px(v, 12);
    int foot_h = viz_text_height(v, FONT_SANS, 11) + viz_px(v, 6);
    header(v, (VizRect){0, 0, W, head_h}, &f, view);
    int top = head_h + g, bottom = H - foot_h - g, body = bottom - top;
    int np = view ? view->npanels : 0, nc = view ? view->ncurves : 0, order_id = np + 2 + nc, notes_id = np + 3 + nc;
    ui->hover_panel = 0;
    if (ui->zoom > notes_id) ui->zoom = 0;
    if (ui->zoom < 0) ui->zoom = notes_id;
    bool probe_on = ui->probing || ui->probe_result;
    /* design pixels: at 1280×800 and scale 1 the three columns fit; a projector's larger text
       (1280×800 × 1.5, 1920×1080 × 2) gets two columns, the curves side by side, and the notes
       on request (O), so nothing is cut */
    bool compact = W / v->scale < 1150 || H / v->scale < 700;
    if (ui->zoom) {
        draw_panel(v, (VizRect){g, top, W - 2 * g, body}, ui->zoom, &f, view);
    } else {
        VizRect cols[3], area = {g, top, W - 2 * g, body};
        if (compact) viz_split(area, true, (const float[]){50, 50}, NULL, 2, g, cols);
        else viz_split(area, true, (const float[]){39, 30, 31}, NULL, 3, g, cols);
        /* the lesson's panels, stacked by weight; a probe panel only while it is in use */
        float weights[16];
        int ids[16], n = 0;
        for (int i = 0; i < np && n < 16; i++)
            if (!(view->panels[i].flags & KIT_PANEL_PROBE) || probe_on) {
                weights[n] = view->panels[i].weight;
                ids[n++] = i + 1;
            }
        VizRect rows[16];
        viz_split(cols[0], false, weights, NULL, n, g, rows);
        for (int i = 0; i < n; i++) draw_panel(v, rows[i], ids[i], &f, view);
        VizRect right = compact ? cols[1] : cols[2];
        if (compact) {
            VizRect att = viz_cut_top(&right, right.h * 56 / 100, g);
            draw_panel(v, att, np + 1, &f, view);
            VizRect cv[8];
            int n = nc < 7 ? nc : 7;
            viz_split(right, true, NULL, NULL, n + 1, g, cv);
            for (int i = 0; i < n; i++) draw_panel(v, cv[i], np + 2 + i, &f, view);
            draw_panel(v, cv[n], order_id, &f, view);
        } else {
            draw_panel(v, cols[1], np + 1, &f, view);
            for (int i = 0; i < nc; i++) draw_panel(v, viz_cut_top(&right, body * 23 / 100, g), np + 2 + i, &f, view);
            draw_panel(v, viz_cut_top(&right, body * 23 / 100, g), order_id, &f, view);
            draw_panel(v, right, notes_id, &f, view);
        }
    }
    /* footer */
    static char keys[512];
    int n = snprintf(keys, sizeof keys, "Space step · Enter run/pause · ← back · N new batch · Tab sequence · 1-9 layer · ");
    if (view && view->probe) n += snprintf(keys + n, sizeof keys - (size_t)n, "/ probe · ");
    if (compact) n += snprintf(keys + n, sizeof keys - (size_t)n, "O notes · ");
    snprintf(keys + n, sizeof keys - (size_t)n, "Z %s · S screenshot · E export · H help · Esc quit", ui->zoom ? "back" : "zoom");
    viz_text_fit(v, g, H - foot_h, W - 2 * g, ui->status[0] ? ui->status : keys, FONT_SANS, 11,
                 ui->status[0] ? VIZ_ACCENT[3] : VIZ_DIM);
    if (ui->help) {
        help_overlay(v, view, s);
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
    if (rc == 0) {
        KitUiState ui = {0};
        ui.lang = r->opt.lang;
        viz_begin(&v);
        kit_draw(&v, &s, &ui, view);
        viz_end(&v);
        rc = viz_save_png(&v, path, err, errlen);
        viz_close(&v);
    }
    kit_snap_free(&s);
    return rc;
}
