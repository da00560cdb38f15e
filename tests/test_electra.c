/* test_electra.c — fmlab-electra's objective, its two models and its training.
 *
 * The pieces by hand: the sampler's inverse CDF on three logits at three temperatures, its
 * draws against softmax(logits / T) by a chi-square test at p = 1e-6, a tiny temperature
 * giving the argmax; the corruption, the loss reference, the ranking figure and the
 * generator's size on small examples; the divergence bound following rtd_weight.
 * On the lesson's own run: after real training steps every position of the discriminator's
 * input and labels is what ELECTRA says (the sample where selected, the original elsewhere,
 * replaced exactly where they differ, a sample equal to the original labelled 0); backward
 * from rtd alone leaves every generator-only gradient exactly 0 and backward from mlm every
 * discriminator-only one, while the shared embeddings get the sum mlm + λ·rtd and are one
 * tensor in both models; the losses against a double-precision recomputation from the
 * pass's logits; the train setting freezes what it says and reports the total all the same;
 * the masking rates by binomial tests; going back in time across changes of rtd_weight and
 * train; and a training smoke test with stated bounds. */
#define _POSIX_C_SOURCE 200809L
#include "lessontest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lessons/electra/lesson.h"

/* A failed check says in words what is wrong, for the student running the exercise too. */
#define EXPECT(cond, ...)                                                                             \
    do {                                                                                              \
        if (!(cond)) fail_msg(__VA_ARGS__);                                                           \
    } while (0)

#ifndef EXERCISE
/* metrics.csv's columns: loss, mlm, rtd, lr, then the lesson's extra ones */
enum { COL_LOSS, COL_MLM, COL_RTD, COL_LR, COL_EXTRA };

static Run *start(const char *const *flags) { return lesson_start(&electra_lesson, NULL, flags); }
static int key(const Run *r, const char *name) { return runtime_key_index(&r->lesson->info, name); }

/* ---- the sampler ---- */

/* softmax(logits / T) in double */
static void softmax_ref(const float *x, int V, double T, double *p)
{
    double mx = x[0], z = 0;
    for (int v = 1; v < V; v++) mx = fmax(mx, x[v]);
    for (int v = 0; v < V; v++) z += p[v] = exp((x[v] - mx) / T);
    for (int v = 0; v < V; v++) p[v] /= z;
}

/* V = 3, logits (0, ln 2, ln 5): at T = 1 the probabilities are 1/8, 2/8, 5/8 (CDF 0.125,
 * 0.375); at T = 2 they are proportional to 1, √2, √5 (CDF 0.2150, 0.5192); at T = 0.5 to
 * 1, 4, 25 (CDF 0.0333, 0.1667). Each u lies inside one step of the CDF, away from its edges. */
static void test_sample_by_hand(void **state)
{
    (void)state;
    const float x[3] = {0, (float)log(2.0), (float)log(5.0)};
    const struct { double T, u; int want; } cases[] = {
        {1, 0.0, 0},  {1, 0.1, 0},  {1, 0.2, 1},  {1, 0.3, 1},  {1, 0.4, 2},  {1, 0.9, 2}, {1, 0x1.fffffep-1, 2},
        {2, 0.1, 0},  {2, 0.2, 0},  {2, 0.3, 1},  {2, 0.5, 1},  {2, 0.53, 2}, {2, 0.99, 2},
        {0.5, 0.02, 0}, {0.5, 0.1, 1}, {0.5, 0.16, 1}, {0.5, 0.2, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int got = electra_sample(x, 3, cases[i].T, cases[i].u);
        EXPECT(got == cases[i].want, "logits (0, ln 2, ln 5) at temperature %g, u = %g: sampled %d, not %d", cases[i].T,
               cases[i].u, got, cases[i].want);
    }
    /* the same three logits in another order, shifted by 1000 (the maximum is subtracted):
       T = 1 gives (5, 1, 2)/8, CDF 0.625, 0.75 */
    const float y[3] = {1000 + (float)log(5.0), 1000, 1000 + (float)log(2.0)};
    const double u[] = {0.3, 0.6, 0.7, 0.74, 0.76, 0.95};
    const int want[] = {0, 0, 1, 1, 2, 2};
    for (int i = 0; i < 6; i++) EXPECT(electra_sample(y, 3, 1, u[i]) == want[i], "shifted logits, u = %g: sampled %d, not %d",
                                       u[i], electra_sample(y, 3, 1, u[i]), want[i]);
}

/* Many draws with the run's kind of uniforms (rng_uniform, as the batches hold them) have the
 * frequencies of softmax(logits / T): chi-square with V − 1 = 7 degrees of freedom, rejected
 * above 40.52 (its upper 1e-6 point). */
static void test_sample_distribution(void **state)
{
    (void)state;
    enum { V = 8, N = 200000 };
    const float x[V] = {2.0f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, 1.5f, -2.0f};
    const double temps[] = {1, 0.5, 2, 0.25};
    Rng g;
    rng_seed(&g, 21, 0);
    for (int t = 0; t < 4; t++) {
        double p[V], chi = 0;
        long hits[V] = {0};
        softmax_ref(x, V, temps[t], p);
        for (int n = 0; n < N; n++) {
            int v = electra_sample(x, V, temps[t], rng_uniform(&g));
            EXPECT(v >= 0 && v < V, "sampled id %d of %d", v, V);
            hits[v]++;
        }
        for (int v = 0; v < V; v++) chi += pow(hits[v] - N * p[v], 2) / (N * p[v]);
        print_message("temperature %g: chi-square %.2f with 7 dof (limit 40.52)\n", temps[t], chi);
        EXPECT(chi < 40.52, "temperature %g: the drawn tokens' frequencies do not match softmax(logits / T) (chi-square "
               "%.1f, 7 dof, p = 1e-6 limit 40.52)", temps[t], chi);
    }
    /* a temperature near 0 is greedy: logits at least 0.1 apart make every other token's
       weight below e^-100 of the largest, so any u the run can hold picks the argmax */
    float z[50];
    int best = 0;
    for (int v = 0; v < 50; v++) {
        z[v] = (float)((v * 37) % 50) * 0.1f - 2;
        if (z[v] > z[best]) best = v;
    }
    for (int n = 0; n < 1000; n++) {
        double u = n == 0 ? 0x1p-24 : n == 1 ? 0x1.fffffep-1 : rng_uniform(&g);
        if (u == 0) continue; /* u = 0 takes the first token of any weight, however small */
        int v = electra_sample(z, 50, 1e-3, u);
        EXPECT(v == best, "temperature 0.001, u = %g: sampled %d, not the argmax %d", u, v, best);
    }
}

/* ---- the corruption, the reference, the ranking, the sizes ---- */

static void test_corrupt_by_hand(void **state)
{
    (void)state;
    /* [CLS] 10 11 12 13 [SEP]: positions 1, 3, 4 selected; the samples 10 (the original
       itself), 20 (a replacement) and 13 (the original) */
    const int32_t orig[6] = {TOK_CLS, 10, 11, 12, 13, TOK_SEP}, rows[3] = {1, 3, 4}, samples[3] = {10, 20, 13};
    int32_t cor[6];
    uint8_t rtd[6];
    electra_corrupt(orig, 6, rows, samples, 3, cor, rtd);
    const int32_t want_cor[6] = {TOK_CLS, 10, 11, 20, 13, TOK_SEP};
    const uint8_t want_rtd[6] = {0, 0, 0, 1, 0, 0};
    assert_memory_equal(cor, want_cor, sizeof cor);
    assert_memory_equal(rtd, want_rtd, sizeof rtd);
    /* every sample a replacement */
    const int32_t other[3] = {7, 8, 9};
    electra_corrupt(orig, 6, rows, other, 3, cor, rtd);
    const int32_t want2[6] = {TOK_CLS, 7, 11, 8, 9, TOK_SEP};
    const uint8_t rtd2[6] = {0, 1, 0, 1, 1, 0};
    assert_memory_equal(cor, want2, sizeof cor);
    assert_memory_equal(rtd, rtd2, sizeof rtd);
    /* nothing selected: the original, nothing replaced */
    memset(rtd, 7, sizeof rtd);
    electra_corrupt(orig, 6, NULL, NULL, 0, cor, rtd);
    assert_memory_equal(cor, orig, sizeof cor);
    for (int i = 0; i < 6; i++) assert_int_equal(rtd[i], 0);
}

/* Two generator rows over V = 2 and five discriminator logits, worked out by hand. */
static void test_reference_by_hand(void **state)
{
    (void)state;
    const float gen[4] = {0, 0, (float)log(3.0), 0};
    const int32_t targets[2] = {1, 0};
    /* row 0: −ln(1/2) = ln 2; row 1: −ln(3/4) = ln(4/3) */
    double mlm = (log(2.0) + log(4.0 / 3)) / 2;
    const float disc[5] = {0, (float)log(3.0), (float)-log(3.0), 80, -80};
    const uint8_t rtd[5] = {1, 1, 0, 0, 1}, keep[5] = {1, 1, 1, 0, 0};
    /* kept: σ(0) = 1/2 for 1: ln 2; σ(ln 3) = 3/4 for 1: ln(4/3); σ(−ln 3) = 1/4 for 0: ln(4/3) */
    double r3 = (log(2.0) + 2 * log(4.0 / 3)) / 3;
    /* the two padded ones: a logit of 80 for 0, of −80 for 1: 80 + ln(1 + e^−80) each */
    double r5 = (log(2.0) + 2 * log(4.0 / 3) + 2 * (80 + log1p(exp(-80.0)))) / 5;
    ElectraLoss e = electra_reference(gen, targets, 2, 2, disc, rtd, keep, 5, 50);
    assert_true(fabs(e.mlm - mlm) < 1e-7 && fabs(e.rtd - r3) < 1e-7 && fabs(e.total - (mlm + 50 * r3)) < 1e-6);
    e = electra_reference(gen, targets, 2, 2, disc, rtd, NULL, 5, 0.5);
    assert_true(fabs(e.rtd - r5) < 1e-7 && fabs(e.total - (mlm + 0.5 * r5)) < 1e-6);
    e = electra_reference(gen, targets, 0, 2, disc, rtd, (const uint8_t[5]){0}, 5, 50);
    assert_true(e.mlm == 0 && e.rtd == 0 && e.total == 0); /* nothing to count: 0, as the lesson defines it */
}

static void test_auc_by_hand(void **state)
{
    (void)state;
    const float p[4] = {0.9f, 0.8f, 0.1f, 0.2f};
    const uint8_t y[4] = {1, 1, 0, 0}, rev[4] = {0, 0, 1, 1}, all[4] = {1, 1, 1, 1}, none[4] = {0};
    assert_true(electra_auc(p, y, NULL, 4) == 1.0);        /* every replaced token above every original */
    assert_true(electra_auc(p, rev, NULL, 4) == 0.0);      /* every one below */
    const float flat[4] = {0.3f, 0.3f, 0.3f, 0.3f};
    assert_true(electra_auc(flat, y, NULL, 4) == 0.5);     /* all tied: each pair counts half */
    assert_true(isnan(electra_auc(p, all, NULL, 4)));      /* no originals */
    assert_true(isnan(electra_auc(p, none, NULL, 4)));     /* no replaced */
    /* scores 0.1 (0), 0.4 (0), 0.35 (1), 0.8 (1): 0.35 beats 0.1 only, 0.8 both: 3 of 4 pairs */
    const float q[4] = {0.1f, 0.4f, 0.35f, 0.8f};
    const uint8_t yq[4] = {0, 0, 1, 1};
    assert_true(fabs(electra_auc(q, yq, NULL, 4) - 0.75) < 1e-12);
    /* a tie across the classes: replaced 0.5 and 0.9, originals 0.5 and 0.2: 3.5 of 4 */
    const float t[4] = {0.5f, 0.5f, 0.2f, 0.9f};
    const uint8_t yt[4] = {1, 0, 0, 1};
    assert_true(fabs(electra_auc(t, yt, NULL, 4) - 0.875) < 1e-12);
    /* keep leaves out the original at 0.4: then 0.35 beats every original left */
    const uint8_t kq[4] = {1, 0, 1, 1};
    assert_true(electra_auc(q, yq, kq, 4) == 1.0);
    const uint8_t only_pos[4] = {0, 0, 1, 1};
    assert_true(isnan(electra_auc(q, yq, only_pos, 4)));  /* keep leaves no original */
}

static void test_generator_size(void **state)
{
    (void)state;
    const struct { int H, NH; double f; int hidden, heads, inter; } cases[] = {
        {64, 4, 0.25, 16, 1, 64},   {64, 4, 0.5, 32, 2, 128},   {256, 4, 0.25, 64, 1, 256},
        {64, 4, 1, 64, 4, 256},     {64, 4, 0.0625, 16, 1, 64}, /* a quarter of a head: still one head */
        {64, 1, 0.25, 64, 1, 256},  /* one 64-wide head cannot be cut: never 0 heads */
        {48, 4, 0.5, 24, 2, 96},    {768, 12, 0.25, 192, 3, 768}, {64, 4, 0.4, 32, 2, 128},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int h = -1, nh = -1, in = -1;
        electra_generator_size(cases[i].H, cases[i].NH, cases[i].f, &h, &nh, &in);
        EXPECT(h == cases[i].hidden && nh == cases[i].heads && in == cases[i].inter,
               "H %d, %d heads, generator_size %g: %d wide, %d heads, ffn %d; expected %d, %d, %d", cases[i].H, cases[i].NH,
               cases[i].f, h, nh, in, cases[i].hidden, cases[i].heads, cases[i].inter);
    }
}

/* The run's generator is what the setting asks for, and the divergence bound follows λ. */
static void test_run_config(void **state)
{
    (void)state;
    Run *r = start((const char *const[]){"--set", "generator_size=0.5", NULL});
    const ModelConfig *g = &r->models[EL_GEN].model.cfg, *d = &r->models[EL_DISC].model.cfg;
    assert_int_equal(d->kind, MODEL_ELECTRA_DISC);
    assert_int_equal(g->kind, MODEL_ELECTRA_GEN);
    assert_int_equal(g->hidden_size, 32);
    assert_int_equal(g->num_attention_heads, 2);
    assert_int_equal(g->intermediate_size, 128);
    assert_int_equal(g->num_hidden_layers, d->num_hidden_layers);
    assert_int_equal(g->embedding_size, d->hidden_size); /* the shared embeddings' width */
    double lnV = log((double)g->vocab_size);
    assert_float_equal(r->diverge_above, (float)(3 * (lnV + 50 * log(2.0))), 0);
    kit_set(r, key(r, "rtd_weight"), 10);
    assert_float_equal(r->diverge_above, (float)(3 * (lnV + 10 * log(2.0))), 0);
    kit_set(r, key(r, "rtd_weight"), 0);
    assert_float_equal(r->diverge_above, (float)(3 * lnV), 0);
    lesson_stop(r);
}

/* ---- on the lesson's run: the discriminator's input and labels ---- */

static void test_rtd_labels(void **state)
{
    (void)state;
    Run *r = start(NULL);
    Electra *m = KIT_SELF(r, Electra);
    /* a generator that has learnt a little, sampling near its argmax: at the positions kept as
       they were (mask_kind KEPT) it sees the original, and some of its samples are the
       original there and at [MASK]s (at temperature 1 hardly any are this early: 4 of 1,360
       selected positions between steps 60 and 80) */
    lesson_train(r, 60);
    kit_set(r, key(r, "sampling_temperature"), 0.1);
    long same_kept = 0, kept = 0, same_masked = 0, masked = 0, replaced = 0, nsel = 0;
    int V = r->models[EL_GEN].model.cfg.vocab_size, n = r->B * r->T;
    uint8_t *selected = malloc((size_t)n);
    for (int step = 0; step < 20; step++) {
        lesson_train(r, 1); /* the batch as the step trained on it */
        const ElectraBatch *b = &m->batch;
        const KitMlmBatch *mb = &b->mlm;
        memset(selected, 0, (size_t)n);
        for (int s = 0; s < mb->nsel; s++) {
            int i = mb->rows[s];
            EXPECT(s == 0 || i > mb->rows[s - 1], "selected rows out of order at %d", s);
            selected[i] = 1;
            EXPECT(b->samples[s] >= 0 && b->samples[s] < V, "sample %d is id %d", s, b->samples[s]);
            EXPECT(mb->targets[s] == mb->original[i], "target %d is not the original at row %d", s, i);
            EXPECT(b->corrupted[i] == b->samples[s], "position %d is selected: corrupted %d, the sample %d", i,
                   b->corrupted[i], b->samples[s]);
            bool same = b->samples[s] == mb->original[i];
            EXPECT(!same || b->rtd[i] == 0, "position %d: the sample is the original, yet labelled replaced", i);
            if (mb->kind[i] == KIND_KEPT) kept++, same_kept += same;
            if (mb->kind[i] == KIND_MASK) masked++, same_masked += same;
        }
        for (int i = 0; i < n; i++) {
            EXPECT(selected[i] == (mb->kind[i] != KIND_NOT_SELECTED) && selected[i] == (mb->labels[i] != -100),
                   "position %d: kind %d, label %d, selected %d disagree", i, mb->kind[i], mb->labels[i], selected[i]);
            if (!selected[i])
                EXPECT(b->corrupted[i] == mb->original[i] && mb->input[i] == mb->original[i],
                       "position %d is not selected, yet corrupted %d / input %d differ from the original %d", i,
                       b->corrupted[i], mb->input[i], mb->original[i]);
            EXPECT(b->rtd[i] == (b->corrupted[i] != mb->original[i]), "position %d: rtd %d, corrupted %d, original %d", i,
                   b->rtd[i], b->corrupted[i], mb->original[i]);
            EXPECT(b->rtd_f[i] == (float)b->rtd[i], "position %d: the loss's label %g, rtd %d", i, b->rtd_f[i], b->rtd[i]);
            replaced += b->rtd[i];
        }
        nsel += mb->nsel;
        /* the batch's figures say the same */
        assert_float_equal(r->extra[EL_SIGNAL_MLM], mb->nsel, 0);
        assert_float_equal(r->extra[EL_SIGNAL_ELECTRA], n, 0);
    }
    print_message("%ld selected, %ld replaced; samples equal to the original: %ld of %ld kept, %ld of %ld [MASK]ed\n",
                  nsel, replaced, same_kept, kept, same_masked, masked);
    assert_true(same_kept > 0 && same_masked > 0); /* some samples are the original, and labelled 0 */
    assert_true(replaced > 0 && replaced < nsel);
    free(selected);
    lesson_stop(r);
}

/* ---- the gradients: none across the samples, the sum in the shared embeddings ---- */

enum { ROLE_GEN, ROLE_DISC, ROLE_SHARED };
static const char *const role_name[] = {"generator-only", "discriminator-only", "shared"};
static const char *const train_name[] = {"both", "generator", "discriminator"};

static bool in_model(const Model *m, const Tensor *t)
{
    for (int k = 0; k < m->nnamed; k++)
        if (m->named[k].t == t) return true;
    return false;
}

static int role(Run *r, const Tensor *t)
{
    bool g = in_model(&r->models[EL_GEN].model, t), d = in_model(&r->models[EL_DISC].model, t);
    assert_true(g || d);
    return g && d ? ROLE_SHARED : g ? ROLE_GEN : ROLE_DISC;
}

static double sumsq(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

/* ‖a − (b + w·c)‖ over one tensor (b or c NULL: 0), relative to ‖b + w·c‖ or, when that is
 * below 1e-3 of `typical` (the key biases: softmax ignores a constant added to a row's
 * scores, so their gradient is 0 in exact arithmetic and rounding noise in floats, a
 * different noise in each pass), to `typical`, the size of the model's gradients. */
static double rel_err(const float *a, const float *b, const float *c, double w, size_t n, double typical)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double want = (b ? (double)b[i] : 0) + (c ? w * c[i] : 0);
        d += (a[i] - want) * (a[i] - want);
        s += want * want;
    }
    return sqrt(d) / fmax(sqrt(s), 1e-3 * typical);
}

/* the root mean square of the tensors' gradient norms (b + w·c, as above) */
static double typical_norm(const ParamBlock *pb, const float *b, const float *c, double w)
{
    double s = 0;
    for (int i = 0; i < pb->count; i++) {
        size_t off = (size_t)(pb->params[i]->data - pb->data);
        for (size_t k = 0; k < pb->params[i]->size; k++) {
            double x = (b ? (double)b[off + k] : 0) + (c ? w * c[off + k] : 0);
            s += x * x;
        }
    }
    return sqrt(s / pb->count);
}

/* One forward of both models on the run's batch and backward from one part (PART_COUNT: the
 * total), as a fresh step would: the block's gradients into grad. */
static void backward_from(Run *r, int part, float *grad)
{
    Electra *m = KIT_SELF(r, Electra);
    ParamBlock *pb = &r->blocks[0].pb;
    tape_reset(&r->tape);
    params_zero_grad(pb);
    electra_forward(r, &m->batch, &m->pass);
    tape_backward(&r->tape, part == PART_COUNT ? m->pass.total : m->pass.part[part]);
    memcpy(grad, pb->grad, pb->n * sizeof *grad);
}

/* what one forward produced, to compare with the next */
typedef struct Seen { int32_t *samples, *corrupted; uint8_t *rtd; float *gen, *disc; size_t ngen; } Seen;

static void seen_take(Seen *s, const Run *r)
{
    const Electra *m = KIT_SELF(r, Electra);
    int n = r->B * r->T;
    s->ngen = m->pass.gen_logits->size;
    s->samples = malloc((size_t)n * sizeof(int32_t));
    s->corrupted = malloc((size_t)n * sizeof(int32_t));
    s->rtd = malloc((size_t)n);
    s->gen = malloc(s->ngen * sizeof(float));
    s->disc = malloc((size_t)n * sizeof(float));
    memcpy(s->samples, m->batch.samples, (size_t)m->batch.mlm.nsel * sizeof(int32_t));
    memcpy(s->corrupted, m->batch.corrupted, (size_t)n * sizeof(int32_t));
    memcpy(s->rtd, m->batch.rtd, (size_t)n);
    memcpy(s->gen, m->pass.gen_logits->data, s->ngen * sizeof(float));
    memcpy(s->disc, m->pass.disc_logits->data, (size_t)n * sizeof(float));
}

static void seen_same(const Seen *s, const Run *r)
{
    const Electra *m = KIT_SELF(r, Electra);
    int n = r->B * r->T;
    assert_memory_equal(s->samples, m->batch.samples, (size_t)m->batch.mlm.nsel * sizeof(int32_t));
    assert_memory_equal(s->corrupted, m->batch.corrupted, (size_t)n * sizeof(int32_t));
    assert_memory_equal(s->rtd, m->batch.rtd, (size_t)n);
    assert_memory_equal(s->gen, m->pass.gen_logits->data, s->ngen * sizeof(float));
    assert_memory_equal(s->disc, m->pass.disc_logits->data, (size_t)n * sizeof(float));
}

static void seen_free(Seen *s) { free(s->samples), free(s->corrupted), free(s->rtd), free(s->gen), free(s->disc); }

static void test_gradients(void **state)
{
    (void)state;
    Run *r = start(NULL);
    Electra *m = KIT_SELF(r, Electra);
    ParamBlock *pb = &r->blocks[0].pb;
    lesson_train(r, 20);
    kit_next_batch(r);
    double w = kit_value(r, "rtd_weight");
    float *g_rtd = malloc(pb->n * sizeof *g_rtd), *g_mlm = malloc(pb->n * sizeof *g_mlm), *g_tot = malloc(pb->n * sizeof *g_tot);
    Seen seen;
    backward_from(r, PART_RTD, g_rtd);
    seen_take(&seen, r);
    int replaced = 0;
    for (int i = 0; i < r->B * r->T; i++) replaced += m->batch.rtd[i];
    assert_true(replaced > 0); /* the discriminator's loss has both classes to learn from */
    /* the forward draws nothing: the samples come from the batch's uniforms, so each
       forward on this batch makes the same samples, labels and logits */
    backward_from(r, PART_MLM, g_mlm);
    seen_same(&seen, r);
    backward_from(r, PART_COUNT, g_tot);
    seen_same(&seen, r);
    float total = m->pass.total->data[0];

    int count[3] = {0};
    double worst = 0, typ_tot = typical_norm(pb, g_mlm, g_rtd, w), typ_mlm = typical_norm(pb, g_mlm, NULL, 0),
           typ_rtd = typical_norm(pb, NULL, g_rtd, w);
    for (int i = 0; i < pb->count; i++) {
        const Tensor *t = pb->params[i];
        size_t off = (size_t)(t->data - pb->data), n = t->size;
        int ro = role(r, t);
        count[ro]++;
        double sr = sumsq(g_rtd + off, n), sm = sumsq(g_mlm + off, n);
        if (ro == ROLE_GEN) EXPECT(sr == 0, "%s (%s) has a gradient from rtd: the samples let it through", t->name, role_name[ro]);
        else EXPECT(sr > 0, "%s (%s) has no gradient from rtd", t->name, role_name[ro]);
        if (ro == ROLE_DISC) EXPECT(sm == 0, "%s (%s) has a gradient from mlm", t->name, role_name[ro]);
        else EXPECT(sm > 0, "%s (%s) has no gradient from mlm", t->name, role_name[ro]);
        /* the total's gradient is mlm's plus λ times rtd's, in every tensor, and in the shared
           embeddings both at once */
        double e = rel_err(g_tot + off, g_mlm + off, g_rtd + off, w, n, typ_tot);
        worst = fmax(worst, e);
        EXPECT(e < 1e-5, "%s (%s): grad(total) differs from grad(mlm) + %g·grad(rtd) by %.2e (relative)", t->name,
               role_name[ro], w, e);
    }
    print_message("%d generator-only, %d discriminator-only, %d shared tensors; grad(total) vs grad(mlm) + λ·grad(rtd): "
                  "worst relative error %.2e\n", count[ROLE_GEN], count[ROLE_DISC], count[ROLE_SHARED], worst);
    assert_int_equal(count[ROLE_SHARED], 5); /* word, position, token type, LayerNorm weight and bias */
    assert_true(count[ROLE_GEN] > 0 && count[ROLE_DISC] > 0);

    /* the exported tied names are the shared tensors: one tensor in both models */
    int groups = 0;
    for (int k = 0; electra_lesson.tied[k]; k++, groups++) {
        const Tensor *t[2] = {NULL, NULL};
        for (int j = 0; j < 2; j++) {
            const char *name = electra_lesson.tied[k][j];
            assert_non_null(name);
            int mi = strncmp(name, "generator/", 10) == 0 ? EL_GEN : EL_DISC;
            const Model *md = &r->models[mi].model;
            const char *local = strchr(name, '/') + 1;
            for (int q = 0; q < md->nnamed; q++)
                if (strcmp(md->named[q].name, local) == 0) t[j] = md->named[q].t;
            EXPECT(t[j], "tied name %s is not a tensor of its model", name);
        }
        assert_null(electra_lesson.tied[k][2]);
        assert_true(strncmp(electra_lesson.tied[k][0], "generator/", 10) == 0);
        assert_true(strncmp(electra_lesson.tied[k][1], "discriminator/", 14) == 0);
        EXPECT(t[0] == t[1], "%s and %s are two tensors", electra_lesson.tied[k][0], electra_lesson.tied[k][1]);
        assert_int_equal(role(r, t[0]), ROLE_SHARED);
    }
    assert_int_equal(groups, 5);

    /* the train setting through the kit's step, on the same batch: the shared embeddings get
       mlm's gradient alone with train=generator and λ·rtd's alone with train=discriminator,
       the frozen model none; the loss reported is the total either way */
    const int modes[2] = {TRAIN_GENERATOR, TRAIN_DISCRIMINATOR};
    worst = 0;
    for (int k = 0; k < 2; k++) {
        kit_set(r, key(r, "train"), modes[k]);
        bool div;
        char what[128];
        float loss = kit_step(r, false, &div, what, sizeof what);
        assert_false(div);
        seen_same(&seen, r);
        assert_float_equal(loss, total, 0);
        for (int i = 0; i < pb->count; i++) {
            const Tensor *t = pb->params[i];
            size_t off = (size_t)(t->data - pb->data), n = t->size;
            int ro = role(r, t);
            bool frozen = (modes[k] == TRAIN_GENERATOR && ro == ROLE_DISC) || (modes[k] == TRAIN_DISCRIMINATOR && ro == ROLE_GEN);
            EXPECT(t->requires_grad == !frozen, "train=%s: %s (%s) requires_grad %d", train_name[modes[k]], t->name, role_name[ro],
                   t->requires_grad);
            if (frozen) {
                EXPECT(sumsq(pb->grad + off, n) == 0, "train=%s: the frozen %s (%s) has a gradient", train_name[modes[k]], t->name,
                       role_name[ro]);
                continue;
            }
            double e = modes[k] == TRAIN_GENERATOR ? rel_err(pb->grad + off, g_mlm + off, NULL, 0, n, typ_mlm)
                                                   : rel_err(pb->grad + off, NULL, g_rtd + off, w, n, typ_rtd);
            worst = fmax(worst, e);
            EXPECT(e < 1e-5, "train=%s: %s (%s) has a gradient %.2e (relative) away from %s", train_name[modes[k]], t->name,
                   role_name[ro], e, modes[k] == TRAIN_GENERATOR ? "grad(mlm)" : "λ·grad(rtd)");
        }
    }
    print_message("the train setting: worst relative error %.2e\n", worst);
    kit_set(r, key(r, "train"), TRAIN_BOTH);
    seen_free(&seen);
    free(g_rtd), free(g_mlm), free(g_tot);
    lesson_stop(r);
}

/* ---- the lesson's loss against the reference ---- */

/* A fresh batch looked at (no update): mlm, rtd and the total of the step against
 * electra_reference from the pass's own logits, samples and labels, and the batch's counts. */
static void check_batch(Run *r, double w)
{
    Electra *m = KIT_SELF(r, Electra);
    char what[128];
    bool div;
    kit_next_batch(r);
    float total = kit_step(r, false, &div, what, sizeof what);
    assert_false(div);
    const ElectraPass *p = &m->pass;
    const ElectraBatch *b = &m->batch;
    int n = r->B * r->T, V = p->gen_logits->shape[1];
    assert_int_equal(p->gen_logits->shape[0], b->mlm.nsel);
    assert_int_equal((int)p->disc_logits->size, n);
    ElectraLoss e = electra_reference(p->gen_logits->data, b->mlm.targets, b->mlm.nsel, V, p->disc_logits->data, b->rtd,
                                      b->mlm.attention_mask, n, w);
    double got[3] = {r->parts[PART_MLM], r->parts[PART_RTD], total}, want[3] = {e.mlm, e.rtd, e.total};
    const char *name[3] = {"mlm", "rtd", "total"};
    for (int k = 0; k < 3; k++)
        EXPECT(fabs(got[k] - want[k]) <= 1e-5 * fabs(want[k]), "rtd_weight %g, step %ld: %s is %.8g, the reference %.8g", w,
               r->step, name[k], got[k], want[k]);
    assert_float_equal(r->loss, total, 0);
    assert_true(e.mlm > 0 && e.rtd > 0);
    /* the batch's figures: confusion counts over every token, the share of samples replaced */
    int tp = 0, fn = 0, fp = 0, tn = 0, rep = 0;
    for (int i = 0; i < n; i++) {
        bool said = p->disc_logits->data[i] > 0;
        if (b->rtd[i]) said ? tp++ : fn++;
        else said ? fp++ : tn++;
        rep += b->rtd[i];
    }
    assert_float_equal(r->extra[EL_TP], tp, 0);
    assert_float_equal(r->extra[EL_FN], fn, 0);
    assert_float_equal(r->extra[EL_FP], fp, 0);
    assert_float_equal(r->extra[EL_TN], tn, 0);
    assert_float_equal(r->extra[EL_REPLACED_SHARE], (float)rep / (float)b->mlm.nsel, 0);
    assert_float_equal(r->extra[EL_RTD_WEIGHT], (float)w, 0);
}

static void test_loss_matches_reference(void **state)
{
    (void)state;
    Run *r = start(NULL);
    int kw = key(r, "rtd_weight");
    check_batch(r, 50);
    kit_set(r, kw, 7.5);
    check_batch(r, 7.5);
    lesson_train(r, 30);
    check_batch(r, 7.5);
    kit_set(r, kw, 50);
    kit_set(r, key(r, "sampling_temperature"), 2);
    check_batch(r, 50);
    lesson_stop(r);
}

/* ---- the train setting ---- */

typedef struct State { float *data, *m, *v; } State;

static State state_take(const ParamBlock *pb)
{
    State s = {malloc(pb->n * 4), malloc(pb->n * 4), malloc(pb->n * 4)};
    memcpy(s.data, pb->data, pb->n * 4);
    memcpy(s.m, pb->m, pb->n * 4);
    memcpy(s.v, pb->v, pb->n * 4);
    return s;
}

static void state_free(State *s) { free(s->data), free(s->m), free(s->v); }

/* After `steps` steps under `mode` from the state s: the frozen model's weights and AdamW
 * moments as they were, bit for bit; every other tensor (the shared embeddings among them)
 * moved; each row's loss the total. */
static void check_frozen(Run *r, int mode, const State *s, long steps)
{
    const ParamBlock *pb = &r->blocks[0].pb;
    for (int i = 0; i < pb->count; i++) {
        const Tensor *t = pb->params[i];
        size_t off = (size_t)(t->data - pb->data), n = t->size * 4;
        int ro = role(r, t);
        bool frozen = (mode == TRAIN_GENERATOR && ro == ROLE_DISC) || (mode == TRAIN_DISCRIMINATOR && ro == ROLE_GEN);
        bool same = !memcmp(pb->data + off, s->data + off, n), msame = !memcmp(pb->m + off, s->m + off, n),
             vsame = !memcmp(pb->v + off, s->v + off, n);
        if (frozen)
            EXPECT(same && msame && vsame, "train=%s: the frozen %s (%s) changed (weights %d, m %d, v %d the same)",
                   train_name[mode], t->name, role_name[ro], same, msame, vsame);
        else
            EXPECT(!same && !msame && !vsame, "train=%s: %s (%s) did not move", train_name[mode], t->name, role_name[ro]);
    }
    for (long row = r->metrics.rows - steps; row < r->metrics.rows; row++) {
        double w = metrics_get(&r->metrics, row, COL_EXTRA + EL_RTD_WEIGHT);
        double want = metrics_get(&r->metrics, row, COL_MLM) + w * metrics_get(&r->metrics, row, COL_RTD);
        double got = metrics_get(&r->metrics, row, COL_LOSS);
        EXPECT(fabs(got - want) <= 1e-6 * want, "train=%s, step %ld: the loss %.8g is not mlm + %g·rtd = %.8g",
               train_name[mode], row + 1, got, w, want);
    }
}

static void test_train_setting(void **state)
{
    (void)state;
    Run *r = start(NULL);
    ParamBlock *pb = &r->blocks[0].pb;
    int kt = key(r, "train");
    lesson_train(r, 3); /* AdamW's moments are under way everywhere */
    const int modes[2] = {TRAIN_GENERATOR, TRAIN_DISCRIMINATOR};
    for (int k = 0; k < 2; k++) {
        kit_set(r, kt, modes[k]);
        State s = state_take(pb);
        lesson_train(r, 3);
        check_frozen(r, modes[k], &s, 3);
        state_free(&s);
    }
    kit_set(r, kt, TRAIN_BOTH);
    for (int i = 0; i < pb->count; i++) assert_true(pb->params[i]->requires_grad);
    lesson_stop(r);

    /* from the command line: the generator frozen from the first step (its moments stay 0),
       and again after a reset */
    r = start((const char *const[]){"--set", "train=discriminator", NULL});
    pb = &r->blocks[0].pb;
    for (int pass = 0; pass < 2; pass++) {
        State s = state_take(pb);
        lesson_train(r, 3);
        check_frozen(r, TRAIN_DISCRIMINATOR, &s, 3);
        for (int i = 0; i < pb->count; i++) {
            const Tensor *t = pb->params[i];
            size_t off = (size_t)(t->data - pb->data);
            if (role(r, t) == ROLE_GEN) assert_true(sumsq(pb->m + off, t->size) == 0 && sumsq(pb->v + off, t->size) == 0);
        }
        state_free(&s);
        kit_reset(r, 3);
    }
    lesson_stop(r);
}

/* ---- the batches: ELECTRA's masking at its rates ---- */

static void test_masking_rates(void **state)
{
    (void)state;
    Run *r = start(NULL);
    const ElectraBatch *b = &KIT_SELF(r, Electra)->batch;
    const KitMlmBatch *mb = &b->mlm;
    long eligible = 0, selected = 0, kind[4] = {0};
    for (int k = 0; k < 200; k++) {
        kit_next_batch(r);
        for (int i = 0; i < mb->B * mb->T; i++) {
            EXPECT(b->u[i] >= 0 && b->u[i] < 1, "uniform %d is %g", i, b->u[i]);
            EXPECT(mb->attention_mask[i] == 1, "position %d is padding", i);
            if (vocab_is_special(mb->original[i])) {
                assert_int_equal(mb->kind[i], KIND_NOT_SELECTED);
                continue;
            }
            eligible++;
            selected += mb->kind[i] != KIND_NOT_SELECTED;
            kind[mb->kind[i]]++;
            assert_int_equal(mb->labels[i] != -100, mb->kind[i] != KIND_NOT_SELECTED);
            if (mb->kind[i] == KIND_MASK) assert_int_equal(mb->input[i], TOK_MASK);
            else assert_int_equal(mb->input[i], mb->original[i]);
        }
    }
    /* binomial z-scores, |z| < 4.9 (two-sided p below 1e-6); the generator makes the
       replacements, so the input holds no random token at all */
    double z = (selected - 0.15 * eligible) / sqrt(0.15 * 0.85 * eligible);
    double zm = (kind[KIND_MASK] - 0.85 * selected) / sqrt(0.85 * 0.15 * selected);
    print_message("%ld eligible, %ld selected: z %.2f; [MASK] z %.2f; %ld random, %ld kept\n", eligible, selected, z, zm,
                  kind[KIND_RANDOM], kind[KIND_KEPT]);
    assert_true(fabs(z) < 4.9 && fabs(zm) < 4.9);
    assert_int_equal(kind[KIND_RANDOM], 0);
    assert_int_equal(kind[KIND_KEPT], selected - kind[KIND_MASK]);
    lesson_stop(r);
}

/* ---- going back: across a change of rtd_weight and of train ---- */

static void test_rewind(void **state)
{
    (void)state;
    Run *r = start(NULL);
    ParamBlock *pb = &r->blocks[0].pb;
    kit_history_on(r);
    int kw = key(r, "rtd_weight"), kt = key(r, "train");
    lesson_train(r, 54);
    State at54 = state_take(pb);
    lesson_train(r, 1);
    kit_set(r, kw, 20); /* after step 55 */
    lesson_train(r, 10);
    kit_set(r, kt, TRAIN_DISCRIMINATOR); /* after step 65 */
    lesson_train(r, 20);
    long nc = r->metrics.ncols;
    size_t bytes = (size_t)(85 * nc) * sizeof(float);
    float *hist = malloc(bytes);
    memcpy(hist, r->metrics.data, bytes);
    State at85 = state_take(pb);
    char err[256];
    /* back to step 70: replayed from the state kept at step 50, through both changes */
    assert_int_equal(kit_rewind(r, 70, err, sizeof err), 0);
    assert_memory_equal(r->metrics.data, hist, (size_t)(70 * nc) * sizeof(float));
    assert_float_equal(kit_value(r, "rtd_weight"), 20, 0);
    assert_float_equal(kit_value(r, "train"), TRAIN_DISCRIMINATOR, 0);
    for (int i = 0; i < pb->count; i++) assert_int_equal(pb->params[i]->requires_grad, role(r, pb->params[i]) != ROLE_GEN);
    lesson_train(r, 15); /* stepping on gives the same numbers as the first time */
    assert_memory_equal(r->metrics.data, hist, bytes);
    assert_memory_equal(pb->data, at85.data, pb->n * 4);
    assert_memory_equal(pb->m, at85.m, pb->n * 4);
    assert_memory_equal(pb->v, at85.v, pb->n * 4);
    /* back to step 54, before both: the models as they were, the settings too */
    assert_int_equal(kit_rewind(r, 54, err, sizeof err), 0);
    assert_memory_equal(pb->data, at54.data, pb->n * 4);
    assert_memory_equal(pb->m, at54.m, pb->n * 4);
    assert_float_equal(kit_value(r, "rtd_weight"), 50, 0);
    assert_float_equal(kit_value(r, "train"), TRAIN_BOTH, 0);
    for (int i = 0; i < pb->count; i++) assert_true(pb->params[i]->requires_grad);
    assert_float_equal(r->diverge_above, (float)(3 * (log(KIT_SELF(r, Electra)->vocab.size) + 50 * log(2.0))), 0);
    state_free(&at54);
    state_free(&at85);
    free(hist);
    lesson_stop(r);
}

/* ---- training ---- */

static void test_training_smoke(void **state)
{
    (void)state;
    Run *r = start((const char *const[]){"--seed", "1", NULL});
    float first = lesson_train(r, 300);
    long rows = r->metrics.rows;
    assert_int_equal(rows, 300);
    const float *last = r->metrics.data + (size_t)(rows - 1) * r->metrics.ncols;
    double tail = 0, mlm_tail = 0, rtd_tail = 0;
    for (long s = rows - 20; s < rows; s++) {
        tail += metrics_get(&r->metrics, s, COL_LOSS) / 20;
        mlm_tail += metrics_get(&r->metrics, s, COL_MLM) / 20;
        rtd_tail += metrics_get(&r->metrics, s, COL_RTD) / 20;
    }
    /* the base rate of the same batches: the loss of a discriminator that says the share of
       replaced tokens everywhere without reading them (its binary entropy) */
    double rep = 0, tok = 0;
    for (long s = rows - 20; s < rows; s++) {
        rep += metrics_get(&r->metrics, s, COL_EXTRA + EL_TP) + metrics_get(&r->metrics, s, COL_EXTRA + EL_FN);
        tok += metrics_get(&r->metrics, s, COL_EXTRA + EL_SIGNAL_ELECTRA);
    }
    double p = rep / tok, base = -(p * log(p) + (1 - p) * log(1 - p));
    double eval_mlm = last[COL_EXTRA + EL_EVAL_MLM], eval_rtd = last[COL_EXTRA + EL_EVAL_RTD];
    double auc = last[COL_EXTRA + EL_EVAL_RANKING];
    print_message("loss %.3f -> %.3f (last 20: mlm %.3f, rtd %.4f); held-out mlm %.3f (unigram entropy %.3f), rtd %.4f "
                  "(the batches' base rate %.4f), ranking %.3f, disc accuracy %.3f\n",
                  first, tail, mlm_tail, rtd_tail, eval_mlm, r->refs[REF_UNIGRAM_ENTROPY], eval_rtd, base,
                  auc, last[COL_EXTRA + EL_EVAL_DISC_ACCURACY]);
    /* the first step: a generator guessing uniformly, a discriminator saying 50/50,
       ln 2000 + 50 ln 2 = 42.26 (measured 42.19) */
    double V = r->models[EL_GEN].model.cfg.vocab_size;
    assert_true(fabs(first - (log(V) + 50 * log(2.0))) < 0.3);
    /* measured at seed 1: the total 24.10 over the last 20 steps (seeds 1-6: 24.1 to 25.3);
       a discriminator still at 50/50 would be near 41, one at the base rate beside a
       generator that learnt nothing (ln V) near 26.3 */
    assert_true(tail < 25.5);
    /* the generator below the unigram entropy on held-out text (6.219 against 6.308; seeds 1-6:
       5.94 to 6.22), the discriminator below the base rate of its batches (0.358 against
       0.374; seeds 1-6 all 0.016 to 0.018 below) */
    assert_true(eval_mlm < r->refs[REF_UNIGRAM_ENTROPY]);
    assert_true(rtd_tail < base);
    /* and it ranks replaced tokens above originals better than chance (0.5) at each of the
       last four evaluations (seed 1: 0.645 to 0.673 and 0.579; seeds 1-6: at least 0.559) */
    for (long s = rows - 1, k = 0; k < 4; s -= r->eval_every, k++) {
        double a = metrics_get(&r->metrics, s, COL_EXTRA + EL_EVAL_RANKING);
        EXPECT(a > 0.55, "step %ld: the held-out ranking is %.3f", s + 1, a);
    }
    for (long s = 0; s < rows; s++) { /* loss = mlm + λ·rtd in every row, λ in it */
        double w = metrics_get(&r->metrics, s, COL_EXTRA + EL_RTD_WEIGHT);
        assert_float_equal(w, 50, 0);
        double want = metrics_get(&r->metrics, s, COL_MLM) + w * metrics_get(&r->metrics, s, COL_RTD);
        EXPECT(fabs(metrics_get(&r->metrics, s, COL_LOSS) - want) <= 1e-6 * want, "step %ld: loss %.8g, mlm + 50·rtd %.8g",
               s + 1, metrics_get(&r->metrics, s, COL_LOSS), want);
    }
    assert_reset_replays(r, r->opt.seed);
    lesson_stop(r);
}
#endif

/* ---- the code exercise ---- */

#ifdef EXERCISE
static void test_exercise(void **state)
{
    (void)state;
    /* the hand example: logits 0, ln 3, −ln 3 labelled replaced, replaced, original */
    const float x[3] = {0, (float)log(3.0), (float)-log(3.0)};
    const uint8_t y[3] = {1, 1, 0};
    double want = (log(2.0) + 2 * log(4.0 / 3)) / 3, got = exercise_electra_rtd(x, y, NULL, 3);
    EXPECT(fabs(got - want) < 1e-6, "logits (0, ln 3, -ln 3) labelled (1, 1, 0): your rtd is %.8g, expected "
           "(ln 2 + 2 ln(4/3)) / 3 = %.8g", got, want);
    /* a fourth position of padding changes nothing: the mean stays over 3 */
    const float x4[4] = {x[0], x[1], x[2], 5};
    const uint8_t y4[4] = {1, 1, 0, 0}, k4[4] = {1, 1, 1, 0};
    got = exercise_electra_rtd(x4, y4, k4, 4);
    EXPECT(fabs(got - want) < 1e-6, "the same three and a fourth position of padding (keep 0): your rtd is %.8g, expected "
           "%.8g as without it (padding counts neither in the sum nor in n)", got, want);
    /* random logits, labels and padding, with and without keep */
    Rng g;
    rng_seed(&g, 12, 0);
    enum { N = 40 };
    float d[N];
    uint8_t lab[N], keep[N];
    for (int i = 0; i < N; i++) {
        d[i] = 8 * rng_uniform(&g) - 4;
        lab[i] = rng_bernoulli(&g, 0.3f);
        keep[i] = i % 7 != 3;
    }
    for (int mask = 0; mask < 2; mask++) {
        ElectraLoss e = electra_reference(NULL, NULL, 0, 1, d, lab, mask ? keep : NULL, N, 1);
        got = exercise_electra_rtd(d, lab, mask ? keep : NULL, N);
        EXPECT(fabs(got - e.rtd) < 1e-6 * fmax(1, e.rtd), "%s: your rtd is %.8g, the lesson's %.8g (the mean over the %s)",
               mask ? "positions 3, 10, 17, ... padding" : "every position kept", got, e.rtd,
               mask ? "kept positions only: keep[i] = 0 counts neither in the sum nor in n" : "40 positions");
    }
    /* nothing kept: 0, not 0/0 */
    const uint8_t none[3] = {0, 0, 0};
    got = exercise_electra_rtd(x, y, none, 3);
    EXPECT(got == 0, "no position kept: your rtd is %g, not 0", got);
    /* logits far from 0, as a confident discriminator gives: log(1 − σ(40)) is log(0) in double
       unless it is computed in the stable form */
    const float big[4] = {40, -40, 100, -100};
    const uint8_t by[4] = {0, 1, 1, 0};
    ElectraLoss e = electra_reference(NULL, NULL, 0, 1, big, by, NULL, 4, 1);
    got = exercise_electra_rtd(big, by, NULL, 4);
    EXPECT(isfinite(got) && fabs(got - e.rtd) < 1e-6 * e.rtd, "logits ±40 and ±100: your rtd is %g, the lesson's %.8g "
           "(use max(x, 0) - x·y + log1p(exp(-|x|)), which never takes the log of 0)", got, e.rtd);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
#ifdef EXERCISE
        cmocka_unit_test(test_exercise),
#else
        cmocka_unit_test(test_sample_by_hand),    cmocka_unit_test(test_sample_distribution),
        cmocka_unit_test(test_corrupt_by_hand),   cmocka_unit_test(test_reference_by_hand),
        cmocka_unit_test(test_auc_by_hand),       cmocka_unit_test(test_generator_size),
        cmocka_unit_test(test_run_config),        cmocka_unit_test(test_rtd_labels),
        cmocka_unit_test(test_gradients),         cmocka_unit_test(test_loss_matches_reference),
        cmocka_unit_test(test_train_setting),     cmocka_unit_test(test_masking_rates),
        cmocka_unit_test(test_rewind),            cmocka_unit_test(test_training_smoke),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
