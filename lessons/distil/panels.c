/* panels.c — fmlab-distil's own part of the dashboard (the kit draws the header, the
 * attention of both models, the curves side by side: held-out accuracy and MLM loss of the
 * student and the teacher, ce on each batch and held out, cos on each batch; the notes and
 * help):
 *
 *   soft targets: the focus window as both models read it, each token coloured by what the
 *                 masking did and banded by how far the student is from the teacher there;
 *                 at the position picked (click), the teacher's top tokens at temperature 1
 *                 and at T beside the student's at T: softening lifts the ranks below the
 *                 top-1, the "dark knowledge" ce passes on
 *   the loss:     the three parts, each times its weight, stacked over the steps so far, and
 *                 the sum written out for this batch
 *   two models:   the parameters of each, group by group on one scale; each one's forward
 *                 time; the student's share of the teacher's held-out accuracy; the lesson's
 *                 stored experiment beside the paper's numbers
 *   probe:        a typed sentence with [mask]: the teacher's and the student's top-5
 *
 * and its keys: [ ] temperature −/+ 0.5; K, J, V switch ce, mlm and cos off and on again. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer.h"
#include "lessons/common/view.h"
#include "lessons/distil/lesson.h"

/* the two models' colours in every panel and curve: student orange, teacher sky blue */
static const char *const MODEL_NAME[] = {"student", "teacher", NULL};
static const int MODEL_ACCENT[] = {0, 1};
static VizColor model_color(int m) { return VIZ_ACCENT[MODEL_ACCENT[m]]; }
/* the loss parts' colours (the stack and its legend): ce bluish green, mlm yellow, cos purple */
static const VizColor PART_COLOR[PART_COUNT] = {{0, 158, 115, 255}, {240, 228, 66, 255}, {204, 121, 167, 255}};
static const char *const PART_NAME[PART_COUNT] = {"ce", "mlm", "cos"};
static const char *const ALPHA[PART_COUNT] = {"alpha_ce", "alpha_mlm", "alpha_cos"};
static const VizColor PLAIN = {58, 62, 76, 255}, K_MASK = {213, 94, 0, 255}, K_RANDOM = {120, 90, 200, 255},
                      K_KEPT = {90, 110, 150, 255}, WARN = {240, 228, 66, 255};

/* ------------------------------------------------------------------ snapshot ---- */

/* the logits of at most this many floats are kept per model (the focus window's first
   positions when V·T is larger) */
#define KEEP_FLOATS (1 << 21)

typedef struct DistilSnap {
    int64_t params[DI_MODELS], group[DI_MODELS][DG_COUNT];
    double forward_ms[DI_MODELS];
    int layers[DI_MODELS], V, npos;
    char teacher[200];                   /* where the teacher came from: lesson, steps, file */
    int32_t *input, *original;           /* (T) */
    uint8_t *kind;                       /* (T) */
    float *kl;                           /* (T) T²·KL(teacher ‖ student) at each position, at the run's T */
    float *cos;                          /* (T) cosine of the two last hidden states */
    float *logits;                       /* (DI_MODELS, npos, V) */
} DistilSnap;

static int kept_positions(int T, int V)
{
    int most = KEEP_FLOATS / (V > 0 ? V : 1);
    return most < T ? most : T;
}

static size_t snapshot_bind(void *blob, const KitSnap *s)
{
    size_t T = (size_t)s->T;
    int V = s->vocab ? s->vocab->size : 1;
    size_t npos = (size_t)kept_positions(s->T, V);
    size_t size = sizeof(DistilSnap) + T * (4 + 4 + 4 + 4) + T + DI_MODELS * npos * (size_t)V * 4;
    if (!blob) return size;
    DistilSnap *w = blob;
    w->input = (int32_t *)(w + 1);
    w->original = w->input + T;
    w->kl = (float *)(w->original + T);
    w->cos = w->kl + T;
    w->logits = w->cos + T;
    w->kind = (uint8_t *)(w->logits + DI_MODELS * npos * (size_t)V);
    w->V = V;
    w->npos = (int)npos;
    return size;
}

/* T²·KL(softmax(t/T) ‖ softmax(s/T)) of one position, in double */
static double kl_at(const float *s, const float *t, int V, double T)
{
    double ms = s[0], mt = t[0];
    for (int v = 1; v < V; v++) ms = fmax(ms, s[v]), mt = fmax(mt, t[v]);
    double zs = 0, zt = 0;
    for (int v = 0; v < V; v++) zs += exp((s[v] - ms) / T), zt += exp((t[v] - mt) / T);
    double kl = 0, ls = log(zs), lt = log(zt);
    for (int v = 0; v < V; v++) {
        double lp = (t[v] - mt) / T - lt, lq = (s[v] - ms) / T - ls;
        kl += exp(lp) * (lp - lq);
    }
    return kl * T * T;
}

static void snapshot_fill(void *blob, const Run *r, int focus)
{
    DistilSnap *w = blob;
    const Distil *m = KIT_SELF(r, Distil);
    const KitMlmBatch *b = &m->batch;
    size_t T = (size_t)r->T, off = (size_t)focus * T, V = (size_t)w->V;
    memcpy(w->params, m->params, sizeof w->params);
    const char *file = strrchr(m->teacher.path, '/');
    snprintf(w->teacher, sizeof w->teacher, "fmlab-%.20s, %ld steps, %s%.120s", m->teacher.lesson, m->teacher.step,
             r->opt.model_file ? "--teacher " : "cached as ", file ? file + 1 : m->teacher.path);
    memcpy(w->group, m->group, sizeof w->group);
    for (int i = 0; i < DI_MODELS; i++) w->layers[i] = r->models[i].model.cfg.num_hidden_layers;
    /* wall-clock times only in the window: a PNG and an export are the same on every machine */
    if (r->keep_history) memcpy(w->forward_ms, m->forward_ms, sizeof w->forward_ms);
    else memset(w->forward_ms, 0, sizeof w->forward_ms);
    memcpy(w->input, b->input + off, T * 4);
    memcpy(w->original, b->original + off, T * 4);
    memcpy(w->kind, b->kind + off, T);
    const DistilPass *p = &m->pass;
    if (!r->have_forward || !p->logits[0]) {
        memset(w->kl, 0, T * 4), memset(w->cos, 0, T * 4);
        return;
    }
    double temp = kit_value(r, "temperature");
    int H = r->models[DI_STUDENT].model.cfg.hidden_size;
    for (size_t t = 0; t < T; t++) {
        const float *s = p->logits[DI_STUDENT]->data + (off + t) * V, *te = p->logits[DI_TEACHER]->data + (off + t) * V;
        w->kl[t] = (float)kl_at(s, te, (int)V, temp);
        const float *a = p->f[DI_STUDENT].hidden->data + (off + t) * H, *c = p->f[DI_TEACHER].hidden->data + (off + t) * H;
        double ab = 0, aa = 0, cc = 0;
        for (int k = 0; k < H; k++) ab += (double)a[k] * c[k], aa += (double)a[k] * a[k], cc += (double)c[k] * c[k];
        w->cos[t] = (float)(ab / sqrt((aa + 1e-12) * (cc + 1e-12)));
        if ((int)t < w->npos)
            for (int i = 0; i < DI_MODELS; i++)
                memcpy(w->logits + ((size_t)i * w->npos + t) * V, p->logits[i]->data + (off + t) * V, V * 4);
    }
}

/* ------------------------------------------------------------------ helpers ---- */

static VizColor kind_color(int k)
{
    return k == KIND_MASK ? K_MASK : k == KIND_RANDOM ? K_RANDOM : k == KIND_KEPT ? K_KEPT : PLAIN;
}

/* softmax(x/T) into p (V floats); returns the entropy in nats */
static double softmax_t(const float *x, int V, double T, float *p)
{
    double mx = x[0], z = 0, h = 0;
    for (int v = 1; v < V; v++) mx = fmax(mx, x[v]);
    for (int v = 0; v < V; v++) z += exp((x[v] - mx) / T);
    for (int v = 0; v < V; v++) {
        double q = exp((x[v] - mx) / T) / z;
        p[v] = (float)q;
        if (q > 0) h -= q * log(q);
    }
    return h;
}

/* the position shown: the one clicked, else the first selected one, else 1 */
static int picked(const KitFrame *f)
{
    const DistilSnap *w = f->snap;
    int T = f->s->T;
    if (f->ui->pick > 0 && f->ui->pick <= T) return f->ui->pick - 1;
    for (int t = 0; t < T && t < w->npos; t++)
        if (w->kind[t] != KIND_NOT_SELECTED) return t;
    return T > 1 ? 1 : 0;
}

/* ------------------------------------------------------------- soft targets ---- */

#define SHOW 8   /* the teacher's top tokens shown */

static void soft_draw(Viz *v, VizRect c, const KitFrame *f);

/* a panel with room to spare (zoomed) is read from further away: its text 30% larger, as kit_grow makes them */
static void soft_panel(Viz *v, VizRect c, const KitFrame *f)
{
    float keep = v->scale;
    if (c.h > viz_px(v, 520) && c.w > viz_px(v, 700)) v->scale *= 1.3f;
    soft_draw(v, c, f);
    v->scale = keep;
}

static void soft_draw(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const DistilSnap *w = f->snap;
    int T = s->T, V = w->V, gap = viz_px(v, 6), at = picked(f);
    double temp = kit_snap_value(s, "temperature");
    /* the window as both models read it, banded by T²·KL at each position */
    const char *names[512], *under[512];
    char unders[512][32];
    VizColor fills[512], bands[512];
    uint8_t outline[512];
    float klmax = 1e-6f;
    for (int t = 0; t < T && t < 512; t++) klmax = fmaxf(klmax, w->kl[t]);
    for (int t = 0; t < T && t < 512; t++) {
        names[t] = kit_token(s, w->input[t]);
        snprintf(unders[t], sizeof unders[t], "%s", w->kind[t] ? kit_token(s, w->original[t]) : "");
        under[t] = unders[t];
        fills[t] = kind_color(w->kind[t]);
        bands[t] = viz_colormap(CMAP_VIRIDIS, s->have_forward ? w->kl[t] / klmax : 0);
        outline[t] = t == at;
    }
    char title[200];
    snprintf(title, sizeof title,
             "Window %d of %d (Tab: next) as both models read it; under a selected token, the original. Band: how far "
             "the student is from the teacher there (bright: far). Click a token:", s->focus + 1, s->B);
    int y = c.y + viz_text_wrap(v, c.x, c.y, c.w, title, FONT_SANS, 10, VIZ_DIM);
    float tsize = 11;
    while (tsize > 8 && viz_tokens_under_height(v, c.w, names, T, tsize, under, true) > c.h / 3) tsize -= 0.5f;
    /* the whole window, even when that leaves less room below (Z gives it all) */
    int strip = viz_tokens_under_height(v, c.w, names, T, tsize, under, true);
    if (strip > c.y + c.h - y) strip = c.y + c.h - y;
    int hover = -1;
    y += viz_tokens_under(v, (VizRect){c.x, y, c.w, strip}, names, fills, T, tsize, under, bands, outline, &hover);
    static const char *const legend[4] = {"not selected", "[MASK]", "random token", "kept"};
    VizColor lc[4] = {kind_color(0), kind_color(1), kind_color(2), kind_color(3)};
    y += viz_legend(v, c.x, y, c.w, legend, lc, 4) + gap / 2;
    if (hover >= 0) {
        if (s->have_forward)
            viz_tooltip(v, "position %d: reads \"%s\"%s%s%s. Here T²·KL(teacher ‖ student) = %.4f nats at T = %g, cosine of "
                           "their hidden states %.3f. Click: both distributions",
                        hover, names[hover], w->kind[hover] ? ", originally \"" : "",
                        w->kind[hover] ? kit_token(s, w->original[hover]) : "", w->kind[hover] ? "\"" : "",
                        (double)w->kl[hover], temp, (double)w->cos[hover]);
        if (v->mouse_clicked) f->ui->pick = hover + 1;
    }
    if (!s->have_forward) {
        viz_text_fit(v, c.x, y, c.w, "Press Space to train one step.", FONT_SANS, 12, VIZ_DIM);
        return;
    }
    if (at >= w->npos) {
        viz_text_fit(v, c.x, y, c.w, "Pick an earlier position: this one's distributions are not kept (V·T is large).",
                     FONT_SANS, 11, WARN);
        return;
    }
    /* the distributions at the picked position */
    float *pt1 = malloc((size_t)V * 3 * sizeof(float));
    if (!pt1) return;
    float *ptT = pt1 + V, *psT = ptT + V;
    const float *sl = w->logits + (size_t)at * V, *tl = w->logits + ((size_t)w->npos + at) * V;
    double h1 = softmax_t(tl, V, 1, pt1), hT = softmax_t(tl, V, temp, ptT);
    softmax_t(sl, V, temp, psT);
    int order[SHOW];
    int n = 0;
    for (int k = 0; k < SHOW && k < V; k++) { /* the teacher's top tokens at temperature 1 (the same order at any T) */
        int best = -1;
        for (int v2 = 0; v2 < V; v2++) {
            bool taken = false;
            for (int j = 0; j < n && !taken; j++) taken = order[j] == v2;
            if (!taken && (best < 0 || pt1[v2] > pt1[best])) best = v2;
        }
        order[n++] = best;
    }
    char head[300];
    const char *orig = kit_token(s, w->original[at]);
    snprintf(head, sizeof head, "Position %d (\"%s\"%s%s%s): the teacher's %d most probable tokens", at,
             kit_token(s, w->input[at]), w->kind[at] ? ", originally \"" : "", w->kind[at] ? orig : "",
             w->kind[at] ? "\"" : "", SHOW);
    y += viz_text_wrap(v, c.x, y, c.w, head, FONT_SANS, 11, VIZ_TEXT);
    char ln[3][64];
    snprintf(ln[0], sizeof ln[0], "teacher, T = %g", temp);
    snprintf(ln[1], sizeof ln[1], "student, T = %g", temp);
    snprintf(ln[2], sizeof ln[2], "teacher, T = 1");
    const char *lnames[3] = {ln[0], ln[1], ln[2]};
    VizColor cols[3] = {model_color(DI_TEACHER), model_color(DI_STUDENT), viz_mix(model_color(DI_TEACHER), VIZ_PANEL, 0.6f)};
    y += viz_legend(v, c.x, y, c.w, lnames, cols, 3);
    /* below the bars: what softening did, in numbers */
    double rest1 = 1 - pt1[order[0]], restT = 1 - ptT[order[0]];
    char l1[220], l2[220];
    snprintf(l1, sizeof l1, "Teacher: top-1 \"%s\" %.0f%% at T = 1, %.0f%% at T = %g; the ranks below it hold %.0f%% → %.0f%%; "
                            "entropy %.2f → %.2f nats (uniform: %.2f)",
             kit_token(s, order[0]), 100 * pt1[order[0]], 100 * ptT[order[0]], temp, 100 * rest1, 100 * restT, h1, hT,
             log((double)V));
    snprintf(l2, sizeof l2, "Here T²·KL = %.4f nats (ce is its mean over all %d positions of the batch), cosine of the "
                            "hidden states %.3f.  [ ] change T",
             (double)w->kl[at], s->B * T, (double)w->cos[at]);
    int h_lines = viz_text_wrap_height(v, c.w, l1, FONT_SANS, 10) + viz_text_wrap_height(v, c.w, l2, FONT_SANS, 10);
    int bars_h = c.y + c.h - y - h_lines - viz_px(v, 2);
    if (bars_h <= viz_px(v, 60)) { /* no room for the bars: say where they are, before the figures */
        kit_more_hint(v, c, y, f, "the distributions as bars");
        y += viz_text_height(v, FONT_SANS, 9);
    }
    if (bars_h > viz_px(v, 60)) {
        const char *groups[SHOW];
        float vals[3 * SHOW];
        for (int k = 0; k < n; k++) {
            groups[k] = kit_token(s, order[k]);
            vals[0 * n + k] = ptT[order[k]];
            vals[1 * n + k] = psT[order[k]];
            vals[2 * n + k] = pt1[order[k]];
        }
        float top = 0;
        for (int k = 0; k < 3 * n; k++) top = fmaxf(top, vals[k]);
        /* the axis: the smallest of these at or above the tallest bar, so its quarters are round */
        static const float fulls[] = {0.02f, 0.04f, 0.08f, 0.2f, 0.4f, 0.6f, 0.8f, 1};
        float full = 1;
        for (int k = (int)(sizeof fulls / sizeof *fulls) - 1; k >= 0; k--)
            if (fulls[k] >= top) full = fulls[k];
        int hb = viz_bars_grouped_range(v, (VizRect){c.x, y, c.w, bars_h}, groups, n, vals, 3, cols, NAN, full);
        if (hb >= 0) {
            int k = hb % n;
            viz_tooltip(v, "\"%s\": teacher %.2f%% at T = 1, %.2f%% at T = %g; student %.2f%% at T = %g", groups[k],
                        100 * pt1[order[k]], 100 * ptT[order[k]], temp, 100 * psT[order[k]], temp);
        }
        y += bars_h + viz_px(v, 2);
    }
    /* the figures whole or not at all; without the bars, say where they are */
    if (kit_put(v, c, &y, l1, FONT_SANS, 10, VIZ_TEXT)) kit_put(v, c, &y, l2, FONT_SANS, 10, VIZ_DIM);
    free(pt1);
}

/* -------------------------------------------------------------- the loss ---- */

static const KitStack stack = {PART_COUNT, PART_NAME, ALPHA, PART_COLOR};

static void loss_panel(Viz *v, VizRect c, const KitFrame *f) { kit_stack_panel(v, c, f, &stack); }

/* -------------------------------------------------------------- two models ---- */

static const char *const GROUP_NAME[DG_COUNT] = {"embeddings", "encoder layers", "MLM head"};

/* brief: the essentials when the panel is small (the totals in one line, no bars, no
   teacher file, no paper line), so that the stored experiment still shows */
static void models_lines(KitLines *l, const KitFrame *f, bool brief)
{
    const KitSnap *s = f->s;
    const DistilSnap *w = f->snap;
    const int64_t *ps = w->params;
    *l = (KitLines){.bars = !brief};
    kit_lines_add(l, FONT_BOLD, VIZ_TEXT, "Parameters: student %s, teacher %s (%.0f%%)%s", kit_count(ps[DI_STUDENT]),
                  kit_count(ps[DI_TEACHER]), 100.0 * (double)ps[DI_STUDENT] / (double)ps[DI_TEACHER],
                  brief ? ": the same embeddings and head, half the layers (Z: by group)"
                        : "; bars: the teacher's pale, the student's orange");
    int64_t most = 1;
    for (int i = 0; i < DI_MODELS; i++)
        for (int g = 0; g < DG_COUNT; g++) most = w->group[i][g] > most ? w->group[i][g] : most;
    for (int g = 0; g < DG_COUNT && !brief; g++) {
        kit_lines_add(l, FONT_SANS, model_color(DI_STUDENT), "%s: student %s, teacher %s%s", GROUP_NAME[g],
                      kit_count(w->group[DI_STUDENT][g]),
                      kit_count(w->group[DI_TEACHER][g]),
                      g == DG_LAYERS ? (w->layers[0] == w->layers[1] ? "" : "  (half the layers, half of these)") : "");
        kit_lines_bar(l, (double)w->group[DI_TEACHER][g] / (double)most,
                      w->group[DI_TEACHER][g] ? (double)w->group[DI_STUDENT][g] / (double)w->group[DI_TEACHER][g] : 1);
    }
    if (!brief) kit_lines_add(l, FONT_SANS, VIZ_DIM, "The teacher: %s", w->teacher);
    if (w->forward_ms[0] > 0 && w->forward_ms[1] > 0)
        kit_lines_add(l, FONT_SANS, VIZ_TEXT, "Forward on a batch: student %.1f ms, teacher %.1f ms (%.0f%% faster)",
                      w->forward_ms[DI_STUDENT], w->forward_ms[DI_TEACHER],
                      100.0 * (w->forward_ms[DI_TEACHER] / w->forward_ms[DI_STUDENT] - 1));
    else if (!brief)
        kit_lines_add(l, FONT_SANS, VIZ_DIM, "Forward times: measured in the window, once a few steps have run");
    double a = kit_last_value(s, "eval_accuracy"), b = kit_last_value(s, "eval_teacher_accuracy");
    double ag = kit_last_value(s, "eval_agreement");
    if (!isnan(a) && !isnan(b) && b > 0)
        kit_lines_add(l, FONT_BOLD, VIZ_TEXT, "Held out: student %.1f%%, teacher %.1f%% of masked tokens right: %.0f%% of "
                      "the teacher's; same top-1 as the teacher at %.0f%% of positions", 100 * a, 100 * b, 100 * a / b, 100 * ag);
    else
        kit_lines_add(l, FONT_SANS, VIZ_DIM, "Held out: at the first evaluation (every eval_every steps)");
    if (!brief)
        kit_lines_add(l, FONT_SANS, VIZ_DIM, "DistilBERT (Sanh et al. 2019, Tables 1 and 3): 40%% fewer parameters, 60%% "
                      "faster, 97%% of BERT-base's GLUE score");
    const KitFinding *fd = s->finding;
    if (fd && fd->rows > 0) {
        kit_lines_add(l, FONT_BOLD, VIZ_TEXT, "Here, %.0f steps on the same batches (tests/bench/distil_finding):",
                      kit_finding(fd, fd->row[0], "steps"));
        kit_lines_add(l, FONT_MONO, VIZ_DIM, "%-22s %6s %6s %s", "start, loss", "params", "speed", "held-out right (of teacher)");
        static const char *const what[] = {"teacher",  "teacher (frozen)",        "distilled",   "teacher's, distilled",
                                           "mlm_only", "teacher's, MLM alone",    "random_init", "random, distilled",
                                           "scratch",  "random, MLM alone"};
        for (int i = 0; i < fd->rows && l->n < 16; i++) {
            const char *name = fd->row[i];
            for (size_t k = 0; k + 1 < sizeof what / sizeof *what; k += 2)
                if (!strcmp(name, what[k])) name = what[k + 1];
            kit_lines_add(l, FONT_MONO, VIZ_TEXT, "%-22s %5.0f%% %5.2fx %5.1f%% (%3.0f%%)", name,
                          100 * kit_finding(fd, fd->row[i], "param_share"), kit_finding(fd, fd->row[i], "speedup"),
                          100 * kit_finding(fd, fd->row[i], "eval_accuracy"), 100 * kit_finding(fd, fd->row[i], "accuracy_share"));
        }
    } else if (fd && fd->why[0]) {
        kit_lines_add(l, FONT_SANS, VIZ_DIM, "The stored experiment: %s", fd->why);
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
    if (kit_lines_height(v, c.w, &l) > c.h) models_lines(&l, f, true);
    int y = c.y, n = kit_lines_draw(v, c, &y, &l);
    if (n < l.n) kit_more_hint(v, c, y, f, "the stored experiment");
    v->scale = keep;
}

/* -------------------------------------------------------------------- probe ---- */

#define PROBE_MAX 64
typedef struct DistilProbe {
    int32_t ids[PROBE_MAX];
    int len;
    bool cut;
    float top_p[DI_MODELS][PROBE_MAX * DI_TOPK];
    int32_t top_id[DI_MODELS][PROBE_MAX * DI_TOPK];
} DistilProbe;

static void probe_run(Run *r, Model *model, const char *text, void *result)
{
    (void)model; /* both of the run's models answer */
    DistilProbe *out = result;
    int32_t *ids = out->ids;
    int k = kit_probe_encode(r, text, ids, PROBE_MAX, &out->cut);
    out->len = 0;
    Tape tp;
    if (!tape_init(&tp, (size_t)k * 1024 * 1024 + (16u << 20), 4096)) return;
    tp.no_grad = true;
    Batch in = {1, k, ids, NULL, NULL};
    for (int i = 0; i < DI_MODELS; i++) {
        Model *md = (Model *)&r->models[i].model;
        Forward fw = {0};
        model_forward(md, &tp, &in, &fw);
        Tensor *logits = model_lm_logits(md, &tp, fw.hidden);
        int V = logits->shape[logits->ndim - 1];
        for (int t = 0; t < k; t++)
            kit_top_k(logits->data + (size_t)t * V, V, TOK_NUM_SPECIAL, DI_TOPK, out->top_p[i] + t * DI_TOPK,
                      out->top_id[i] + t * DI_TOPK);
        tape_reset(&tp);
    }
    tape_free(&tp);
    out->len = k;
}

static void probe_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const DistilProbe *pr = f->ui->probe_result;
    if (!pr) {
        viz_text_fit(v, c.x, c.y, c.w, "Type a sentence with [mask] in it, then Enter.", FONT_SANS, 11, VIZ_DIM);
        return;
    }
    const char *names[PROBE_MAX];
    VizColor fills[PROBE_MAX];
    char labels[PROBE_MAX][24];
    int nmask = 0, lh = viz_text_height(v, FONT_SANS, 10);
    for (int i = 0; i < pr->len; i++) {
        if (pr->ids[i] == TOK_MASK) snprintf(labels[i], sizeof labels[i], "[mask %d]", ++nmask);
        else snprintf(labels[i], sizeof labels[i], "%s", kit_token(s, pr->ids[i]));
        names[i] = labels[i];
        fills[i] = pr->ids[i] == TOK_MASK ? K_MASK : PLAIN;
    }
    int hover, y = c.y;
    if (c.h > 10 * lh) /* the sentence as the models read it (WordPiece), when there is room besides the answers */
        y += viz_tokens(v, (VizRect){c.x, c.y, c.w, c.h / 3}, names, fills, pr->len, 11, &hover) + viz_px(v, 4);
    if (pr->cut) {
        char msg[96];
        snprintf(msg, sizeof msg, "Only the first %d tokens are read: the models were trained at seq_len %d.", s->T, s->T);
        viz_text_fit(v, c.x, y, c.w, msg, FONT_SANS, 10, WARN);
        y += lh;
    }
    if (!nmask) {
        viz_text_fit(v, c.x, y, c.w, "No [mask] in the sentence: add one where the models should guess.", FONT_SANS, 11, WARN);
        return;
    }
    /* a row per [mask], the two models side by side; as many rows as fit five bars each */
    int bar = viz_text_height(v, FONT_MONO, 10) + viz_px(v, 2), rh = lh + DI_TOPK * bar + viz_px(v, 4);
    int room = c.y + c.h - y, rows = room / rh, cw = c.w / 2, k = 0;
    if (rows < 1 && room > 2 * lh) rows = 1, rh = room; /* one [mask], its bars squeezed into what is left */
    int shown = nmask < rows ? nmask : rows;
    for (int i = 0; i < pr->len && k < shown; i++) {
        if (pr->ids[i] != TOK_MASK) continue;
        for (int mo = 0; mo < DI_MODELS; mo++) {
            int cx = c.x + mo * cw, cy = y + k * rh;
            char head[48];
            snprintf(head, sizeof head, "[mask %d]: the %s", k + 1, MODEL_NAME[mo]);
            viz_text_fit(v, cx, cy, cw - viz_px(v, 6), head, FONT_SANS, 10, model_color(mo));
            int nb = (rh - lh - viz_px(v, 4)) / bar; /* as many of the top-5 as fit, each readable */
            if (nb > DI_TOPK) nb = DI_TOPK;
            if (nb > 0)
                kit_topk_bars(v, (VizRect){cx, cy + lh, cw - viz_px(v, 10), nb * bar}, s, pr->top_id[mo] + i * DI_TOPK,
                              pr->top_p[mo] + i * DI_TOPK, nb, -1, model_color(mo));
        }
        k++;
    }
    if (shown < nmask) {
        char more[96];
        if (shown) snprintf(more, sizeof more, "%d of %d [mask]s shown: Z enlarges the panel", shown, nmask);
        else snprintf(more, sizeof more, "(Z enlarges: the answers at %d [mask]%s)", nmask, nmask > 1 ? "s" : "");
        viz_text_fit(v, c.x, c.y + c.h - lh, c.w, more, FONT_SANS, 10, VIZ_DIM);
    }
}

/* ------------------------------------------------------------------ headline ---- */

static void headline(const KitFrame *f, char *buf, size_t n)
{
    const DistilSnap *w = f->snap;
    double a = kit_last_value(f->s, "eval_accuracy"), b = kit_last_value(f->s, "eval_teacher_accuracy");
    int len = snprintf(buf, n, "student %s params, teacher %s · T = %g", kit_count(w->params[DI_STUDENT]),
                       kit_count(w->params[DI_TEACHER]), kit_snap_value(f->s, "temperature"));
    if (!isnan(a) && !isnan(b) && b > 0 && len > 0 && (size_t)len < n)
        snprintf(buf + len, n - (size_t)len, " · held-out accuracy %.1f%% (teacher %.1f%%)", 100 * a, 100 * b);
}

/* ------------------------------------------------------------- description ---- */

static const KitPanel panels[] = {
    {"Soft targets: the teacher's distribution at T, and the student's", soft_panel, 46, 0, "Soft targets"},
    {"The loss, part by part: alpha_ce·ce + alpha_mlm·mlm + alpha_cos·cos", loss_panel, 26, 0, "The loss"},
    {"Teacher and student: size, speed, accuracy", models_panel, 30, 0, "Two models"},
    {"Probe: a sentence with [mask] in it, then Enter (Esc leaves)", probe_panel, 26, KIT_PANEL_PROBE, "Probe"},
};

static const char *const eval_acc_cols[] = {"eval_accuracy", "eval_teacher_accuracy", NULL};
static const char *const eval_mlm_cols[] = {"eval_mlm_loss", "eval_teacher_mlm_loss", NULL};

static const KitCurve curves[] = {
    {.title = "Held-out masked-token accuracy of both models", .ylabel = "accuracy", .ref = REF_UNIGRAM_ACCURACY,
     .ref_name = "unigram", .bounded = true, .lo = 0, .hi = 1, .short_title = "Accuracy",
     .series = eval_acc_cols, .series_name = MODEL_NAME, .series_color = MODEL_ACCENT, .series_points = true},
    {.title = "Held-out masked-LM loss of both models (nats)", .ylabel = "cross-entropy", .ref = REF_UNIGRAM_ENTROPY,
     .ref_name = "unigram entropy", .short_title = "Held-out MLM", .series = eval_mlm_cols, .series_name = MODEL_NAME,
     .series_color = MODEL_ACCENT, .series_points = true},
    {.title = "ce = T²·KL(teacher ‖ student), every position (nats)", .ylabel = "T²·KL", .train = "ce",
     .heldout = "eval_ce", .ref = -1, .short_title = "ce"},
    {.title = "cos = 1 − cosine of the last hidden states", .ylabel = "1 − cos", .train = "cos", .ref = -1,
     .short_title = "cos"},
};

static const double on_off_ce[] = {0, 5}, on_off_mlm[] = {0, 2}, on_off_cos[] = {0, 1};

static const KitKey keys[] = {
    {'[', "temperature", -0.5, "temperature −0.5", NULL, 0},
    {']', "temperature", +0.5, "temperature +0.5", NULL, 0},
    {'k', "alpha_ce", 0, "alpha_ce: 0 ⇄ 5 (distillation off and on)", on_off_ce, 2},
    {'j', "alpha_mlm", 0, "alpha_mlm: 0 ⇄ 2 (the true tokens off and on)", on_off_mlm, 2},
    {'v', "alpha_cos", 0, "alpha_cos: 0 ⇄ 1 (hidden-state alignment off and on)", on_off_cos, 2},
};

const LessonView distil_view = {
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
    .probe_size = sizeof(DistilProbe),
    .probe_help = "a sentence with [mask] in it: the teacher's and the student's top-5 there",
    .item = "window",
};
