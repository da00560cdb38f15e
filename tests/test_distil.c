/* test_distil.c — fmlab-distil's losses, models and training.
 *
 * Each loss part against a hand computation on a tiny example (T² included) and, on the
 * lesson's own batch, the three parts and the total against a double-precision recomputation
 * from the two models' logits and hidden states; the student's layers, embeddings and head
 * equal the teacher's chosen ones at the start (and not with student_init=random); the
 * teacher receives no gradient and does not change while the student trains; the masking of
 * the batches by a binomial test; and a training smoke test with a stated bound. The teacher
 * is built once by fmlab-mlm into a temporary cache, with few steps. */
#define _POSIX_C_SOURCE 200809L
#include "lessontest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lessons/distil/lesson.h"

#ifndef EXERCISE
/* a small teacher (2 layers, 300 steps) keeps the tests quick */
static Run *start(const char *const *flags)
{
    return lesson_start(&distil_lesson,
                        (const char *const[]){"--set", "teacher_steps=300", "--set", "num_hidden_layers=2", "--set",
                                              "student_layers=1", "--batch", "32", NULL},
                        flags);
}
#endif

#ifndef EXERCISE
/* ---- the losses by hand ---- */

/* Two positions, V = 2, H = 2. Position 0: student logits (0, 0), teacher (ln 3, 0); position 1
 * is padding (keep 0) with logits that would dominate if it counted. */
static void test_losses_by_hand(void **state)
{
    (void)state;
    float s[4] = {0, 0, 5, -5}, t[4] = {(float)log(3.0), 0, -5, 5};
    float hs[4] = {1, 0, 1, 0}, ht[4] = {1, 1, 0, 1};
    int32_t labels[2] = {1, -100};
    uint8_t keep[2] = {1, 0};
    /* T = 1: p = (3/4, 1/4), q = (1/2, 1/2): KL = 3/4 ln(3/2) + 1/4 ln(1/2) */
    DistilLoss d = distil_reference(s, t, hs, ht, labels, keep, 2, 2, 2, 1, 5, 2, 1);
    double kl1 = 0.75 * log(1.5) + 0.25 * log(0.5);
    assert_true(fabs(d.ce - kl1) < 1e-6);
    /* mlm: the student's cross-entropy for label 1 at (0, 0) is ln 2 */
    assert_true(fabs(d.mlm - log(2.0)) < 1e-6);
    /* cos: (1, 0) against (1, 1) is 1/√2 */
    assert_true(fabs(d.cos - (1 - 1 / sqrt(2.0))) < 1e-6);
    assert_true(fabs(d.total - (5 * kl1 + 2 * log(2.0) + 1 * (1 - 1 / sqrt(2.0)))) < 1e-6);
    /* T = 2: p = softmax(ln3/2, 0) = (√3, 1)/(1 + √3); q uniform; times T² = 4 */
    d = distil_reference(s, t, hs, ht, labels, keep, 2, 2, 2, 2, 5, 2, 1);
    double p0 = sqrt(3.0) / (1 + sqrt(3.0)), p1 = 1 - p0;
    double kl2 = p0 * log(2 * p0) + p1 * log(2 * p1);
    assert_true(fabs(d.ce - 4 * kl2) < 1e-6);
    assert_true(fabs(d.mlm - log(2.0)) < 1e-6); /* mlm is at T = 1 whatever T is */
    /* both positions kept: the mean of the two */
    uint8_t both[2] = {1, 1};
    DistilLoss e = distil_reference(s, t, hs, ht, labels, both, 2, 2, 2, 1, 5, 2, 1);
    double kl_pad = 0; /* position 1: p = softmax(-5, 5), q = softmax(5, -5) */
    double a = 1 / (1 + exp(10.0)), b = 1 - a;
    kl_pad = a * log(a / b) + b * log(b / a);
    assert_true(fabs(e.ce - (kl1 + kl_pad) / 2) < 1e-6);
    assert_true(fabs(e.cos - ((1 - 1 / sqrt(2.0)) + 1) / 2) < 1e-6); /* (1, 0) ⟂ (0, 1) */
}

/* ---- the lesson's loss against the reference ---- */

static void check_batch(Run *r, double T, double ace, double amlm, double acos)
{
    Distil *m = KIT_SELF(r, Distil);
    char what[128];
    bool div;
    kit_next_batch(r);
    float total = kit_step(r, false, &div, what, sizeof what);
    assert_false(div);
    const DistilPass *p = &m->pass;
    int V = p->logits[0]->shape[2], H = p->f[0].hidden->shape[2], rows = r->B * r->T;
    DistilLoss d = distil_reference(p->logits[DI_STUDENT]->data, p->logits[DI_TEACHER]->data, p->f[DI_STUDENT].hidden->data,
                                    p->f[DI_TEACHER].hidden->data, m->batch.labels, m->batch.attention_mask, rows, V, H, T,
                                    ace, amlm, acos);
    double got[4] = {r->parts[PART_CE], r->parts[PART_MLM], r->parts[PART_COS], total}, want[4] = {d.ce, d.mlm, d.cos, d.total};
    for (int k = 0; k < 4; k++)
        if (fabs(got[k] - want[k]) > 1e-5 * fmax(1, fabs(want[k])) + 1e-7)
            fail_msg("T %g, alphas %g %g %g: part %d is %.8g, the reference %.8g", T, ace, amlm, acos, k, got[k], want[k]);
    assert_true(d.ce > 0 && d.cos > 0 && d.mlm > 0);
}

static void test_loss_matches_reference(void **state)
{
    (void)state;
    Run *r = start(NULL);
    check_batch(r, 2, 5, 2, 1);
    lesson_train(r, 5); /* the student moves away from the teacher's layers */
    check_batch(r, 2, 5, 2, 1);
    kit_set(r, runtime_key_index(&r->lesson->info, "temperature"), 4);
    kit_set(r, runtime_key_index(&r->lesson->info, "alpha_cos"), 0);
    check_batch(r, 4, 5, 2, 0);
    kit_set(r, runtime_key_index(&r->lesson->info, "temperature"), 0.5);
    kit_set(r, runtime_key_index(&r->lesson->info, "alpha_ce"), 1.5);
    check_batch(r, 0.5, 1.5, 2, 0);
    lesson_stop(r);
}

/* ---- the student starts from the teacher's layers ---- */

static bool same(const Tensor *a, const Tensor *b) { return a->size == b->size && !memcmp(a->data, b->data, a->size * 4); }

static bool block_same(const Block *a, const Block *b)
{
    return same(a->q.w, b->q.w) && same(a->q.b, b->q.b) && same(a->k.w, b->k.w) && same(a->v.b, b->v.b) &&
           same(a->o.w, b->o.w) && same(a->ln1.w, b->ln1.w) && same(a->ln2.b, b->ln2.b) && same(a->ffn_in.w, b->ffn_in.w) &&
           same(a->ffn_out.w, b->ffn_out.w) && same(a->ffn_out.b, b->ffn_out.b);
}

static void test_student_from_teacher(void **state)
{
    (void)state;
    assert_int_equal(distil_teacher_layer(0, 6, 12), 0);
    assert_int_equal(distil_teacher_layer(5, 6, 12), 10);
    assert_int_equal(distil_teacher_layer(1, 2, 4), 2);
    assert_int_equal(distil_teacher_layer(2, 3, 4), 2);
    const char *const layers[][6] = {{"--set", "student_layers=1", NULL},
                                     {"--set", "student_layers=2", NULL},
                                     {"--set", "student_layers=2", "--set", "num_hidden_layers=2", NULL}};
    for (size_t c = 0; c < sizeof layers / sizeof *layers; c++) {
        Run *r = start(layers[c]);
        const Model *s = &r->models[DI_STUDENT].model, *t = &r->models[DI_TEACHER].model;
        int S = s->cfg.num_hidden_layers, L = t->cfg.num_hidden_layers;
        assert_int_equal(s->cfg.kind, MODEL_DISTILBERT);
        assert_int_equal(t->cfg.kind, MODEL_BERT_MLM);
        assert_true(same(s->word_emb, t->word_emb) && same(s->pos_emb, t->pos_emb) && same(s->emb_ln.w, t->emb_ln.w));
        assert_true(same(s->head_dense.w, t->head_dense.w) && same(s->head_ln.b, t->head_ln.b) &&
                    same(s->head_bias, t->head_bias));
        for (int k = 0; k < S; k++)
            for (int l = 0; l < L; l++)
                assert_int_equal(block_same(&s->blocks[k], &t->blocks[l]), l == distil_teacher_layer(k, S, L));
        /* the teacher is the checkpoint's, bit for bit */
        const Model *ck = &KIT_SELF(r, Distil)->teacher.model;
        for (int i = 0; i < t->nnamed; i++) assert_true(same(t->named[i].t, ck->named[i].t));
        lesson_stop(r);
    }
    Run *r = start((const char *const[]){"--set", "student_init=random", NULL});
    const Model *s = &r->models[DI_STUDENT].model, *t = &r->models[DI_TEACHER].model;
    assert_false(same(s->word_emb, t->word_emb));
    assert_false(block_same(&s->blocks[0], &t->blocks[0]));
    lesson_stop(r);
}

/* ---- the teacher is frozen ---- */

static void test_teacher_frozen(void **state)
{
    (void)state;
    Run *r = start(NULL);
    Model *t = &r->models[DI_TEACHER].model, *s = &r->models[DI_STUDENT].model;
    size_t nt = r->blocks[DI_TEACHER].pb.n, ns = r->blocks[DI_STUDENT].pb.n;
    float *t0 = malloc(nt * 4), *s0 = malloc(ns * 4);
    memcpy(t0, r->blocks[DI_TEACHER].pb.data, nt * 4);
    memcpy(s0, r->blocks[DI_STUDENT].pb.data, ns * 4);
    assert_false(r->blocks[DI_TEACHER].trained);
    for (int i = 0; i < t->nnamed; i++) assert_false(t->named[i].t->requires_grad);
    lesson_train(r, 10);
    assert_memory_equal(t0, r->blocks[DI_TEACHER].pb.data, nt * 4);
    assert_true(memcmp(s0, r->blocks[DI_STUDENT].pb.data, ns * 4) != 0);
    /* after a backward: no gradient anywhere in the teacher, some in every student tensor */
    kit_next_batch(r);
    bool div;
    char what[128];
    kit_step(r, false, &div, what, sizeof what);
    const float *g = r->blocks[DI_TEACHER].pb.grad;
    assert_non_null(g);
    for (size_t i = 0; i < nt; i++)
        if (g[i] != 0) fail_msg("teacher gradient %zu is %g", i, g[i]);
    for (int i = 0; i < s->nnamed; i++) {
        const Tensor *p = s->named[i].t;
        double sq = 0;
        for (size_t k = 0; k < p->size; k++) sq += (double)p->grad[k] * p->grad[k];
        if (!(sq > 0)) fail_msg("%s has no gradient", s->named[i].name);
    }
    free(t0);
    free(s0);
    lesson_stop(r);
}

/* ---- going back: the student's state is kept, the teacher's needs no copy ---- */

static void test_rewind(void **state)
{
    (void)state;
    Run *r = start(NULL);
    kit_history_on(r);
    int key = runtime_key_index(&r->lesson->info, "temperature");
    size_t ns = r->blocks[DI_STUDENT].pb.n, nt = r->blocks[DI_TEACHER].pb.n;
    float *t0 = malloc(nt * 4);
    memcpy(t0, r->blocks[DI_TEACHER].pb.data, nt * 4);
    lesson_train(r, 54);
    float *at54 = malloc(ns * 4);
    memcpy(at54, r->blocks[DI_STUDENT].pb.data, ns * 4);
    lesson_train(r, 1);
    kit_set(r, key, 4); /* a temperature changed during the run (after step 55) is replayed too */
    lesson_train(r, 30);
    long nc = r->metrics.ncols;
    float *hist = malloc((size_t)(85 * nc) * sizeof *hist);
    memcpy(hist, r->metrics.data, (size_t)(85 * nc) * sizeof *hist);
    char err[256];
    /* back to step 70: replayed from the state kept at step 50, through the change after 55 */
    assert_int_equal(kit_rewind(r, 70, err, sizeof err), 0);
    assert_memory_equal(r->metrics.data, hist, (size_t)(70 * nc) * sizeof *hist);
    assert_float_equal(kit_value(r, "temperature"), 4, 0);
    assert_memory_equal(r->blocks[DI_TEACHER].pb.data, t0, nt * 4);
    lesson_train(r, 15); /* stepping on gives the same numbers as the first time */
    assert_memory_equal(r->metrics.data, hist, (size_t)(85 * nc) * sizeof *hist);
    /* back to step 54, before the change: the student as it was, and the temperature too */
    assert_int_equal(kit_rewind(r, 54, err, sizeof err), 0);
    assert_memory_equal(r->blocks[DI_STUDENT].pb.data, at54, ns * 4);
    assert_memory_equal(r->blocks[DI_TEACHER].pb.data, t0, nt * 4);
    assert_float_equal(kit_value(r, "temperature"), 2, 0);
    assert_true(r->slots[0].mem[DI_TEACHER] == NULL); /* no copies of the frozen teacher */
    free(t0);
    free(at54);
    free(hist);
    lesson_stop(r);
}

/* ---- the batches: BERT's masking at its rates ---- */

static void test_masking_rates(void **state)
{
    (void)state;
    Run *r = start(NULL);
    const KitMlmBatch *b = &KIT_SELF(r, Distil)->batch;
    long eligible = 0, selected = 0, kind[4] = {0};
    for (int k = 0; k < 40; k++) {
        kit_next_batch(r);
        for (int i = 0; i < b->B * b->T; i++) {
            if (vocab_is_special(b->original[i])) {
                assert_int_equal(b->kind[i], KIND_NOT_SELECTED);
                continue;
            }
            eligible++;
            selected += b->kind[i] != KIND_NOT_SELECTED;
            kind[b->kind[i]]++;
            assert_int_equal(b->labels[i] != -100, b->kind[i] != KIND_NOT_SELECTED);
            if (b->kind[i] == KIND_MASK) assert_int_equal(b->input[i], TOK_MASK);
            if (b->kind[i] == KIND_KEPT || b->kind[i] == KIND_NOT_SELECTED) assert_int_equal(b->input[i], b->original[i]);
        }
    }
    /* binomial z-scores, |z| < 4.9 (two-sided p below 1e-6) */
    double z = (selected - 0.15 * eligible) / sqrt(0.15 * 0.85 * eligible);
    double zm = (kind[KIND_MASK] - 0.8 * selected) / sqrt(0.8 * 0.2 * selected);
    double zr = (kind[KIND_RANDOM] - 0.1 * selected) / sqrt(0.1 * 0.9 * selected);
    print_message("%ld eligible, %ld selected: z %.2f; [MASK] z %.2f, random z %.2f\n", eligible, selected, z, zm, zr);
    assert_true(fabs(z) < 4.9 && fabs(zm) < 4.9 && fabs(zr) < 4.9);
    lesson_stop(r);
}

#endif

/* ---- the code exercise ---- */

#ifdef EXERCISE
static void test_exercise(void **state)
{
    (void)state;
    Rng g;
    rng_seed(&g, 11, 0);
    int rows = 6, V = 7;
    float s[42], t[42], hs[6] = {0}, ht[6] = {0};
    int32_t labels[6] = {-100, -100, -100, -100, -100, -100};
    for (int i = 0; i < 42; i++) s[i] = 4 * rng_uniform(&g) - 2, t[i] = 6 * rng_uniform(&g) - 3;
    t[3] = 80; /* a logit whose exp overflows a float */
    uint8_t keep[6] = {1, 1, 0, 1, 0, 1};
    double temps[] = {1, 2, 0.5, 8};
    for (int k = 0; k < 4; k++)
        for (int mask = 0; mask < 2; mask++) {
            DistilLoss d = distil_reference(s, t, hs, ht, labels, mask ? keep : NULL, rows, V, 1, temps[k], 1, 0, 0);
            double got = exercise_distil_ce(s, t, mask ? keep : NULL, rows, V, temps[k]);
            if (!(fabs(got - d.ce) < 1e-6 * fmax(1, d.ce)))
                fail_msg("T = %g, %s: your ce is %.8g, the lesson's %.8g", temps[k], mask ? "rows 2 and 4 padding" : "every row kept",
                         got, d.ce);
        }
}
#endif

#ifndef EXERCISE
/* ---- training ---- */

static void test_training_smoke(void **state)
{
    (void)state;
    Run *r = start(NULL);
    float first = lesson_train(r, 200);
    int cols = r->metrics.ncols;
    const float *last = r->metrics.data + (size_t)(r->metrics.rows - 1) * cols;
    float ce_first = metrics_get(&r->metrics, 0, 1), ce_tail = 0;
    for (long s = r->metrics.rows - 20; s < r->metrics.rows; s++) ce_tail += metrics_get(&r->metrics, s, 1) / 20;
    double eval_s = last[5 + DI_EVAL_MLM_LOSS], eval_t = last[5 + DI_EVAL_TEACHER_MLM_LOSS];
    float tail = 0;
    for (long s = r->metrics.rows - 20; s < r->metrics.rows; s++) tail += metrics_get(&r->metrics, s, 0) / 20;
    print_message("loss %.3f -> %.3f (last 20); ce %.4f -> %.4f; held-out MLM student %.3f, teacher %.3f, unigram %.3f\n",
                  first, tail, ce_first, ce_tail, eval_s, eval_t, r->refs[REF_UNIGRAM_ENTROPY]);
    assert_true(tail < 13.0f);
    assert_true(ce_tail < 0.5f * ce_first);
    assert_true(eval_s < eval_t + 0.1 && eval_s < r->refs[REF_UNIGRAM_ENTROPY]);
    for (long s = 0; s < r->metrics.rows; s++) { /* loss = 5 ce + 2 mlm + 1 cos in every row, the weights in it */
        for (int k = 0; k < 3; k++) assert_float_equal(metrics_get(&r->metrics, s, 5 + DI_ALPHA_CE + k), (k ? 3 - k : 5), 0);
        double want = 5 * metrics_get(&r->metrics, s, 1) + 2 * metrics_get(&r->metrics, s, 2) + metrics_get(&r->metrics, s, 3);
        assert_true(fabs(metrics_get(&r->metrics, s, 0) - want) < 1e-4 * fmax(1, want));
    }
    assert_reset_replays(r, r->opt.seed);
    lesson_stop(r);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
#ifdef EXERCISE
        cmocka_unit_test(test_exercise),
#else
        cmocka_unit_test(test_losses_by_hand),      cmocka_unit_test(test_loss_matches_reference),
        cmocka_unit_test(test_student_from_teacher), cmocka_unit_test(test_teacher_frozen),
        cmocka_unit_test(test_masking_rates),       cmocka_unit_test(test_rewind),
        cmocka_unit_test(test_training_smoke),
#endif
    };
    return cmocka_run_group_tests(tests, lesson_cache_setup, lesson_cache_teardown);
}
