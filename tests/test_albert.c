/* test_albert.c — fmlab-albert's parameter accounting, its shared layer and its training.
 *
 * Parameter counts: the formulas (albert_count_formula) against the tensors of live models,
 * group by group, for ALBERT with every sharing (one group, a group per layer, groups of two)
 * and several E, and for BERT; then the numbers the lesson quotes: BERT-base's BertModel
 * 109,482,240 and ALBERT-base's AlbertModel 11,683,584, and the lecture's V = 5000, H = 4096,
 * E = 256 (20,480,000 against 1,280,000 + 1,048,576). The student's exercise.c (built as the
 * exercise test) is held to the same counts.
 * The shared layer: its gradient is the sum of the gradients of its uses, checked against an
 * unshared ALBERT whose layers are copies of it (same loss, same gradients elsewhere).
 * The lesson: both models on the same SOP batches (swapped labels 50/50, binomial test at
 * about p = 1e-6), only ALBERT exported, the metrics row, and a training smoke test with
 * stated bounds. */
#define _POSIX_C_SOURCE 200809L
#include "lessontest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lessons/albert/lesson.h"

int64_t exercise_albert_params(int V, int E, int H, int I, int L, int P, int groups);

/* AlbertModel's parameters by the formulas: the exercise's contract */
static int64_t albert_params(int V, int E, int H, int I, int L, int P, int groups)
{
#ifdef EXERCISE
    return exercise_albert_params(V, E, H, I, L, P, groups);
#else
    ModelConfig c = model_config_default(MODEL_ALBERT);
    c.vocab_size = V, c.embedding_size = E, c.hidden_size = H, c.intermediate_size = I;
    c.num_hidden_layers = L, c.max_position_embeddings = P, c.num_hidden_groups = groups;
    AlbertCount n;
    albert_count_formula(&c, &n);
    return n.base;
#endif
}

/* the exercise's count against the expected one, in words a student can act on */
static void expect_params(int V, int E, int H, int I, int L, int P, int groups, int64_t want)
{
    int64_t got = albert_params(V, E, H, I, L, P, groups);
    if (got != want)
        fail_msg("AlbertModel with V=%d E=%d H=%d I=%d L=%d P=%d groups=%d: counted %lld, it has %lld (%+lld)", V, E, H, I,
                 L, P, groups, (long long)got, (long long)want, (long long)(got - want));
}

/* Written out by hand from Hugging Face's AlbertModel, independent of albert.c: the check
 * the exercise and the lesson's formula are both held to. */
static int64_t by_hand(int64_t V, int64_t E, int64_t H, int64_t I, int64_t L, int64_t P, int64_t groups)
{
    (void)L;
    int64_t embeddings = V * E + P * E + 2 * E + 2 * E;
    int64_t mapping = E * H + H;
    int64_t attention = 4 * (H * H + H) + 2 * H, ffn = H * I + I + I * H + H + 2 * H;
    int64_t pooler = H * H + H;
    return embeddings + mapping + groups * (attention + ffn) + pooler;
}

static void test_paper_counts(void **state)
{
    (void)state;
    AlbertCount c;
    ModelConfig bert = albert_paper_config(MODEL_BERT_PRETRAIN), albert = albert_paper_config(MODEL_ALBERT);
    albert_count_formula(&bert, &c);
    assert_int_equal(c.base, 109482240);   /* BertModel of bert-base-uncased */
    albert_count_formula(&albert, &c);
    assert_int_equal(c.base, 11683584);    /* AlbertModel of albert-base-v2 */
    expect_params(30000, 128, 768, 3072, 12, 512, 1, 11683584);
    assert_int_equal(by_hand(30000, 128, 768, 3072, 12, 512, 1), 11683584);
    /* the lecture's example: V×H against V×E + E×H */
    ModelConfig lec = model_config_default(MODEL_BERT_PRETRAIN);
    lec.vocab_size = 5000, lec.hidden_size = 4096, lec.num_attention_heads = 64, lec.intermediate_size = 16384;
    albert_count_formula(&lec, &c);
    assert_int_equal(c.word, 20480000);
    lec.kind = MODEL_ALBERT, lec.embedding_size = 256;
    albert_count_formula(&lec, &c);
    assert_int_equal(c.word, 1280000);
    assert_int_equal(c.group[PG_PROJECTION] - lec.hidden_size, 1048576);   /* E×H, without its H biases */
    assert_int_equal(c.word + c.group[PG_PROJECTION] - lec.hidden_size, 2328576);
}

/* the formulas against the live models' tensors, group by group, and against the hand count */
static void test_counts_match_models(void **state)
{
    (void)state;
    struct { ModelKind kind; int V, E, H, NH, I, L, P, groups; } cfgs[] = {
        {MODEL_ALBERT, 2000, 16, 64, 4, 256, 4, 512, 1},  {MODEL_ALBERT, 2000, 16, 64, 4, 256, 4, 512, 4},
        {MODEL_ALBERT, 2000, 16, 64, 4, 256, 4, 512, 2},  {MODEL_ALBERT, 300, 64, 64, 2, 100, 3, 48, 1},
        {MODEL_ALBERT, 97, 40, 24, 3, 50, 6, 33, 3},      {MODEL_ALBERT, 50, 8, 8, 1, 8, 1, 8, 1},
        {MODEL_BERT_PRETRAIN, 2000, 64, 64, 4, 256, 4, 512, 1}, {MODEL_BERT_PRETRAIN, 97, 24, 24, 3, 50, 6, 33, 1},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        ModelConfig c = model_config_default(cfgs[i].kind);
        c.vocab_size = cfgs[i].V, c.embedding_size = cfgs[i].E, c.hidden_size = cfgs[i].H;
        c.num_attention_heads = cfgs[i].NH, c.intermediate_size = cfgs[i].I, c.num_hidden_layers = cfgs[i].L;
        c.max_position_embeddings = cfgs[i].P, c.num_hidden_groups = cfgs[i].groups;
        ParamBlock pb;
        params_init(&pb);
        Model m;
        model_init(&m, &c, &pb, "", NULL);
        assert_true(params_finalize(&pb));
        AlbertCount live, formula;
        albert_count_model(&m, &live);
        albert_count_formula(&c, &formula);
        int64_t all = 0;
        for (int k = 0; k < pb.count; k++) all += (int64_t)pb.params[k]->size;
        assert_int_equal(live.total, all);   /* every parameter once, the tied decoder included once */
        assert_int_equal(formula.total, all);
        for (int g = 0; g < PG_COUNT; g++) assert_int_equal(live.group[g], formula.group[g]);
        assert_int_equal(live.base, formula.base);
        assert_int_equal(live.word, formula.word);
        assert_int_equal(live.layer, formula.layer);
        assert_int_equal(live.stored, cfgs[i].kind == MODEL_ALBERT ? cfgs[i].groups : cfgs[i].L);
        if (cfgs[i].kind == MODEL_ALBERT) {
            assert_int_equal(live.base, by_hand(c.vocab_size, c.embedding_size, c.hidden_size, c.intermediate_size,
                                                c.num_hidden_layers, c.max_position_embeddings, c.num_hidden_groups));
            expect_params(c.vocab_size, c.embedding_size, c.hidden_size, c.intermediate_size, c.num_hidden_layers,
                          c.max_position_embeddings, c.num_hidden_groups, live.base);
        }
        model_free(&m);
        params_free(&pb);
    }
}

#ifndef EXERCISE
/* total = mlm + sop of one model on a fixed batch; gradients into the block */
static float pretrain_loss(Model *m, ParamBlock *pb, const Batch *b, const int32_t *rows, const int32_t *targets,
                           int nsel, const int32_t *labels)
{
    Tape tp;
    assert_true(tape_init(&tp, 64u << 20, 4096));
    params_zero_grad(pb);
    Forward f = {0};
    model_forward(m, &tp, b, &f);
    Tensor *sop = op_cross_entropy(&tp, model_seq_logits(m, &tp, model_pooled(m, &tp, f.hidden)), labels);
    Tensor *mlm = op_cross_entropy(&tp, model_lm_logits(m, &tp, op_gather_rows(&tp, f.hidden, rows, nsel)), targets);
    Tensor *total = op_add(&tp, mlm, sop);
    tape_backward(&tp, total);
    float v = total->data[0];
    tape_free(&tp);
    return v;
}

static Tensor *named(const Model *m, const char *name)
{
    for (int i = 0; i < m->nnamed; i++)
        if (!strcmp(m->named[i].name, name)) return m->named[i].t;
    fail_msg("no parameter %s", name);
    return NULL;
}

/* One shared layer applied L = 3 times against three layer groups that are copies of it:
 * the same loss, the same gradient everywhere outside the layers, and the shared layer's
 * gradient equal to the sum of the three copies' gradients. */
static void test_shared_gradient_is_sum(void **state)
{
    (void)state;
    enum { L = 3, B = 3, T = 9 };
    ModelConfig c = model_config_default(MODEL_ALBERT);
    c.vocab_size = 60, c.hidden_size = 16, c.embedding_size = 8, c.num_attention_heads = 2;
    c.intermediate_size = 24, c.num_hidden_layers = L, c.max_position_embeddings = T;
    ModelConfig u = c;
    u.num_hidden_groups = L;
    ParamBlock pa, pu;
    params_init(&pa), params_init(&pu);
    Model shared, unshared;
    model_init(&shared, &c, &pa, "", NULL);
    model_init(&unshared, &u, &pu, "", NULL);
    assert_true(params_finalize(&pa) && params_finalize(&pu));
    Rng r;
    rng_seed(&r, 7, 0);
    model_init_weights(&shared, &r);
    for (int i = 0; i < pa.count; i++) /* biases and LayerNorms away from 0 and 1 */
        if (pa.params[i]->ndim == 1)
            for (size_t j = 0; j < pa.params[i]->size; j++) pa.params[i]->data[j] += rng_normal(&r, 0, 0.1f);
    /* everything outside the layers by name; each group's layer a copy of the shared one */
    int copied = model_copy_matching(&unshared, &shared);
    assert_true(copied > 0);
    const char *pre0 = "albert.encoder.albert_layer_groups.0.";
    int layer_tensors = 0;
    for (int i = 0; i < shared.nnamed; i++) {
        const char *n = shared.named[i].name;
        if (strncmp(n, pre0, strlen(pre0))) continue;
        layer_tensors++;
        for (int g = 1; g < L; g++) {
            char other[200];
            snprintf(other, sizeof other, "albert.encoder.albert_layer_groups.%d.%s", g, n + strlen(pre0));
            Tensor *t = named(&unshared, other);
            memcpy(t->data, shared.named[i].t->data, t->size * sizeof(float));
        }
    }
    assert_int_equal(layer_tensors, 16);   /* q k v o, attention LayerNorm, ffn in/out, full LayerNorm */

    int32_t ids[B * T], types[B * T], rows[B * T], targets[B * T], labels[B] = {0, 1, 1};
    uint8_t mask[B * T];
    int nsel = 0;
    for (int i = 0; i < B * T; i++) {
        ids[i] = i % T == 0 ? TOK_CLS : 5 + (int32_t)rng_below(&r, 55);
        types[i] = i % T >= T / 2;
        mask[i] = !(i / T == 1 && i % T == T - 1);   /* the second row ends in padding */
        if (!mask[i]) ids[i] = TOK_PAD;
        if (i % 3 == 1 && mask[i]) rows[nsel] = i, targets[nsel++] = 5 + (int32_t)rng_below(&r, 55);
    }
    Batch b = {B, T, ids, types, mask};
    float la = pretrain_loss(&shared, &pa, &b, rows, targets, nsel, labels);
    float lu = pretrain_loss(&unshared, &pu, &b, rows, targets, nsel, labels);
    assert_near(la, lu, 1e-5 * fabsf(la));
    /* the key bias's gradient is 0 in exact arithmetic (softmax ignores a constant added to a
       row of scores): both sides hold rounding noise, compared against the typical gradient */
    double typical = 0;
    for (int i = 0; i < unshared.nnamed; i++)
        for (size_t j = 0; j < unshared.named[i].t->size; j++) typical += (double)unshared.named[i].t->grad[j] * unshared.named[i].t->grad[j];
    typical = sqrt(typical / unshared.nnamed);
    for (int i = 0; i < shared.nnamed; i++) {
        const char *n = shared.named[i].name;
        const Tensor *ts = shared.named[i].t;
        size_t size = ts->size;
        double *want = calloc(size, sizeof *want);
        if (strncmp(n, pre0, strlen(pre0))) {
            const Tensor *tu = named(&unshared, n);
            for (size_t j = 0; j < size; j++) want[j] = tu->grad[j];
        } else {
            for (int g = 0; g < L; g++) {
                char other[200];
                snprintf(other, sizeof other, "albert.encoder.albert_layer_groups.%d.%s", g, n + strlen(pre0));
                const Tensor *tu = named(&unshared, other);
                for (size_t j = 0; j < size; j++) want[j] += tu->grad[j];
            }
        }
        /* the shared gradient and the sum differ only by rounding: within 1e-4 of the
           tensor's gradient norm */
        double diff = 0, norm = 0;
        for (size_t j = 0; j < size; j++) {
            diff += (ts->grad[j] - want[j]) * (ts->grad[j] - want[j]);
            norm += want[j] * want[j];
        }
        double scale = strstr(n, "attention.key.bias") ? typical : sqrt(norm);
        if (sqrt(diff) > 1e-4 * scale) fail_msg("%s: gradient differs by %.3g of its norm", n, sqrt(diff / norm));
        /* and the shared gradient is not just one use's: layer 0's copy alone differs */
        if (!strcmp(n, "albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight")) {
            const Tensor *first = named(&unshared, n);
            double d0 = 0;
            for (size_t j = 0; j < size; j++) d0 += (ts->grad[j] - first->grad[j]) * (ts->grad[j] - first->grad[j]);
            assert_true(sqrt(d0) > 0.05 * sqrt(norm));
        }
        free(want);
    }
    model_free(&shared), model_free(&unshared);
    params_free(&pa), params_free(&pu);
}

static Run *start(const char *const *flags) { return lesson_start(&albert_lesson, NULL, flags); }

static void stop(Run *r) { lesson_stop(r); }

/* The lesson's two models as the settings make them, and their batches: SOP pairs, the
 * swapped ones half of them. */
static void test_lesson_models_and_batches(void **state)
{
    (void)state;
    Run *r = start((const char *const[]){"--seed", "3", NULL});
    Albert *m = KIT_SELF(r, Albert);
    const Model *a = kit_model(r, AL_ALBERT), *b = kit_model(r, AL_BERT);
    assert_int_equal(a->cfg.kind, MODEL_ALBERT);
    assert_int_equal(b->cfg.kind, MODEL_BERT_PRETRAIN);
    assert_int_equal(a->cfg.embedding_size, 16);
    assert_int_equal(a->cfg.num_hidden_groups, 1);
    assert_int_equal(a->nblocks, 1);
    assert_int_equal(b->nblocks, 4);
    assert_int_equal(a->cfg.hidden_act, b->cfg.hidden_act);   /* the activation is not a difference */
    assert_int_equal(a->cfg.hidden_size, b->cfg.hidden_size);
    assert_int_equal(a->cfg.intermediate_size, b->cfg.intermediate_size);
    /* the live counts: BERT's layers are L times ALBERT's one; the word embeddings V×H against V×E */
    assert_int_equal(m->count[AL_BERT].group[PG_LAYERS], 4 * m->count[AL_ALBERT].group[PG_LAYERS]);
    assert_int_equal(m->count[AL_BERT].word, (int64_t)m->vocab.size * 64);
    assert_int_equal(m->count[AL_ALBERT].word, (int64_t)m->vocab.size * 16);
    assert_int_equal(m->count[AL_ALBERT].group[PG_PROJECTION], 16 * 64 + 64);
    assert_true(m->count[AL_ALBERT].total * 3 < m->count[AL_BERT].total);
    /* the pairs: sentence order, labels Bernoulli(1/2) (two-sided binomial test, |z| < 4.9) */
    long ones = 0, n = 0;
    for (int d = 0; d < 60; d++) {
        kit_next_batch(r);
        assert_int_equal(m->batch.task, PAIR_SOP);
        for (int i = 0; i < r->B; i++) {
            assert_true(m->batch.pair_label[i] == 0 || m->batch.pair_label[i] == 1);
            ones += m->batch.pair_label[i];
            n++;
        }
    }
    double z = ((double)ones - 0.5 * (double)n) / sqrt(0.25 * (double)n);
    print_message("swapped %ld of %ld pairs (z = %.2f)\n", ones, n, z);
    assert_true(fabs(z) < 4.9);
    /* only ALBERT is exported and described */
    assert_true(albert_lesson.exported(r, AL_ALBERT));
    assert_false(albert_lesson.exported(r, AL_BERT));
    stop(r);
    /* share_layers=0: a group per layer, as many layer weights as BERT */
    r = start((const char *const[]){"--set", "share_layers=0", "--set", "embedding_size=64", NULL});
    m = KIT_SELF(r, Albert);
    assert_int_equal(kit_model(r, AL_ALBERT)->cfg.num_hidden_groups, 4);
    assert_int_equal(kit_model(r, AL_ALBERT)->nblocks, 4);
    assert_int_equal(m->count[AL_BERT].group[PG_LAYERS], m->count[AL_ALBERT].group[PG_LAYERS]);
    assert_int_equal(m->count[AL_BERT].word, m->count[AL_ALBERT].word);
    stop(r);
}

/* Two layers (the lesson's default is four) keep the test inside CI's time; the sharing is
 * the same idea at any depth. */
static void test_training_smoke(void **state)
{
    (void)state;
    Run *r = start((const char *const[]){"--seed", "1", "--set", "num_hidden_layers=2", NULL});
    float first = lesson_train(r, 300);
    float extra[KIT_MAX_EXTRA];
    kit_evaluate(r, extra);
    print_message("first batch %.3f; after 300 steps held-out mlm ALBERT %.3f BERT %.3f, SOP %.3f %.3f\n", first,
                  extra[AL_EVAL_MLM_LOSS], extra[AL_EVAL_BERT_MLM_LOSS], extra[AL_EVAL_SOP_ACCURACY],
                  extra[AL_EVAL_BERT_SOP_ACCURACY]);
    /* ln 2000 + ln 2 = 8.29 at the start; both well below the uniform guess after 300 steps */
    assert_true(first > 7.5f);
    assert_true(extra[AL_EVAL_MLM_LOSS] < 6.6f);
    assert_true(extra[AL_EVAL_BERT_MLM_LOSS] < 6.6f);
    /* the metrics row: loss = ALBERT's mlm + sop; BERT's losses in their own columns */
    assert_int_equal(r->metrics.ncols, 4 + AL_NEXTRA);
    long last = r->metrics.rows - 1;
    assert_float_equal(metrics_get(&r->metrics, last, 0), metrics_get(&r->metrics, last, 1) + metrics_get(&r->metrics, last, 2),
                       1e-5);
    assert_true(metrics_get(&r->metrics, last, 4 + AL_BERT_MLM) != metrics_get(&r->metrics, last, 1));
    assert_reset_replays(r, 1);
    stop(r);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paper_counts),
        cmocka_unit_test(test_counts_match_models),
#ifndef EXERCISE
        cmocka_unit_test(test_shared_gradient_is_sum),
        cmocka_unit_test(test_lesson_models_and_batches),
        cmocka_unit_test(test_training_smoke),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
