/* exercise_finetune.c — checks lessons/finetune/exercise.c (exercise_classify) against the
 * engine: the pooler, the classifier and the cross-entropy of BertForSequenceClassification.
 *
 * A short run of fmlab-finetune (its encoder pretrained for 20 steps into a temporary cache,
 * then 5 steps of all three runs) so that the weights are not at their start; then for each
 * run, each message of a batch: the engine's logits and per-message loss against the
 * exercise's, from the same [CLS] hidden state. */
#define _POSIX_C_SOURCE 200809L
#include "lessontest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lessons/finetune/lesson.h"

float exercise_classify(const float *h, int H, const float *pool_w, const float *pool_b, const float *cls_w,
                        const float *cls_b, int label, float logits[2]);

static const Tensor *param(const Model *m, const char *name)
{
    for (int i = 0; i < m->nnamed; i++)
        if (!strcmp(m->named[i].name, name)) return m->named[i].t;
    return NULL;
}

static void test_classify(void **state)
{
    (void)state;
    RunOptions o;
    char *argv[] = {"fmlab-finetune", "--headless", "--set", "pretrain_steps=20", "--set", "labels=0", NULL};
    assert_int_equal(runtime_parse(6, argv, &finetune_lesson.info, &o), -1);
    Run *r = calloc(1, sizeof *r);
    assert_int_equal(kit_init(r, &finetune_lesson, &o), -1);
    char what[256];
    bool div;
    for (int s = 0; s < 5; s++) {
        kit_next_batch(r);
        kit_step(r, true, &div, what, sizeof what);
        assert_false(div);
    }
    kit_next_batch(r);
    const FtBatch *b = &KIT_SELF(r, Finetune)->batch;
    Tape tp;
    assert_true(tape_init(&tp, 64u << 20, 4096));
    tp.no_grad = true;
    for (int run = 0; run < RUN_COUNT; run++) {
        Model *m = &r->models[run].model;
        int H = m->cfg.hidden_size, T = b->T;
        Batch in = {b->B, T, b->ids, b->types, b->mask};
        Forward f = {0};
        model_forward(m, &tp, &in, &f);
        Tensor *z = model_seq_logits(m, &tp, model_pooled(m, &tp, f.hidden));
        Tensor *l = op_cross_entropy(&tp, z, b->labels);
        const Tensor *pw = param(m, "bert.pooler.dense.weight"), *pb = param(m, "bert.pooler.dense.bias"),
                     *cw = param(m, "classifier.weight"), *cb = param(m, "classifier.bias");
        assert_non_null(pw);
        assert_non_null(pb);
        assert_non_null(cw);
        assert_non_null(cb);
        double mean = 0;
        for (int i = 0; i < b->B; i++) {
            float mine[2] = {NAN, NAN};
            float loss = exercise_classify(f.hidden->data + (size_t)i * T * H, H, pw->data, pb->data, cw->data, cb->data,
                                           b->labels[i], mine);
            const float *want = z->data + 2 * i;
            float hi = want[0] > want[1] ? want[0] : want[1];
            double ref = -(want[b->labels[i]] - hi - log(exp(want[0] - hi) + exp(want[1] - hi)));
            if (!(fabsf(mine[0] - want[0]) < 1e-4f && fabsf(mine[1] - want[1]) < 1e-4f))
                fail_msg("run %s, message %d: logits (%g, %g), the engine's (%g, %g)", finetune_run_names[run], i,
                         (double)mine[0], (double)mine[1], (double)want[0], (double)want[1]);
            if (!(fabs(loss - ref) < 1e-4))
                fail_msg("run %s, message %d (label %d): loss %g, the engine's %g", finetune_run_names[run], i, b->labels[i],
                         (double)loss, ref);
            mean += loss / b->B;
        }
        assert_float_equal(mean, l->data[0], 1e-4);
        tape_reset(&tp);
    }
    /* a confident model: the loss stays finite (the stable softmax) */
    float h[2] = {0, 0}, w[4] = {1, 0, 0, 1}, pbias[2] = {0, 0}, cw[4] = {0, 0, 0, 0}, cb[2] = {100, -100}, z2[2];
    float big = exercise_classify(h, 2, w, pbias, cw, cb, 1, z2);
    if (!(isfinite(big) && fabsf(big - 200.0f) < 1e-2f)) fail_msg("logits (100, -100), label 1: loss %g, want 200", (double)big);
    tape_free(&tp);
    kit_free(r);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_classify)};
    return cmocka_run_group_tests(tests, lesson_cache_setup, lesson_cache_teardown);
}
