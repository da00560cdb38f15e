/* test_finetune.c — fmlab-finetune's model, data and training.
 *
 * The classifier's names and shapes (BertForSequenceClassification); the pretrained encoder
 * copied into finetune and probe and nowhere else; the probe's encoder bit-identical after
 * training with no gradient, its classifier moving; the label budget (exactly N, balanced,
 * nested, batches drawn only from it, spam in half of their rows and every budgeted message
 * about equally often by a statistical test); the cache (built once, reused, rebuilt when what is
 * there does not match its name); the loss against a hand computation from the logits and
 * the reported total of the exported run; and a training smoke test with a stated bound. */
#define _POSIX_C_SOURCE 200809L
#include "lessontest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lessons/finetune/lesson.h"

static Run *start(const char *const *flags) { return lesson_start(&finetune_lesson, (const char *const[]){"--set", "pretrain_steps=20", NULL}, flags); }

static void stop(Run *r) { lesson_stop(r); }

static const Tensor *param(const Model *m, const char *name)
{
    for (int i = 0; i < m->nnamed; i++)
        if (!strcmp(m->named[i].name, name)) return m->named[i].t;
    return NULL;
}

static void test_names_and_shapes(void **state)
{
    (void)state;
    Run *r = start(NULL);
    const Model *m = &r->models[RUN_FINETUNE].model;
    const Tensor *w = param(m, "classifier.weight"), *b = param(m, "classifier.bias"), *p = param(m, "bert.pooler.dense.weight");
    assert_non_null(w);
    assert_non_null(b);
    assert_non_null(p);
    assert_int_equal(w->ndim, 2);
    assert_int_equal(w->shape[0], 2);
    assert_int_equal(w->shape[1], 64);
    assert_int_equal(b->shape[0], 2);
    assert_int_equal(p->shape[0], 64);
    assert_int_equal(p->shape[1], 64);
    /* BertForPreTraining's parameters, less its two heads (cls.*), plus the classifier */
    ModelConfig cfg = m->cfg;
    cfg.kind = MODEL_BERT_PRETRAIN;
    ParamBlock pb;
    params_init(&pb);
    Model pre;
    model_init(&pre, &cfg, &pb, "", NULL);
    int want = 0;
    for (int i = 0; i < pre.nnamed; i++) want += strncmp(pre.named[i].name, "cls.", 4) != 0;
    assert_int_equal(m->nnamed, want + 2);
    for (int i = 0; i < m->nnamed; i++) {
        const char *n = m->named[i].name;
        if (!strncmp(n, "classifier.", 11)) continue;
        assert_true(!strncmp(n, "bert.", 5));
        const Tensor *q = param(&pre, n);
        assert_non_null(q);
        assert_true(tensor_same_shape(q, m->named[i].t));
    }
    model_free(&pre);
    params_free(&pb);
    /* the probe's encoder is frozen, nothing else */
    const Model *probe = &r->models[RUN_PROBE].model;
    for (int i = 0; i < probe->nnamed; i++)
        assert_int_equal(probe->named[i].t->requires_grad, strncmp(probe->named[i].name, "classifier.", 11) == 0);
    stop(r);
}

/* The pretrained encoder is in finetune and probe (all of bert.* but the pooler, which
 * BertForMaskedLM has not), not in scratch; probe starts equal to finetune. */
static void test_pretrained_copied(void **state)
{
    (void)state;
    Run *r = start(NULL);
    Finetune *m = KIT_SELF(r, Finetune);
    const Model *pre = &m->pre.model, *ft = &r->models[RUN_FINETUNE].model, *pr = &r->models[RUN_PROBE].model,
                *sc = &r->models[RUN_SCRATCH].model;
    int copied = 0;
    for (int i = 0; i < ft->nnamed; i++) {
        const Tensor *a = ft->named[i].t, *s = param(pre, ft->named[i].name), *b = param(pr, ft->named[i].name),
                     *c = param(sc, ft->named[i].name);
        assert_memory_equal(a->data, b->data, a->size * sizeof(float));
        if (s) {
            assert_memory_equal(a->data, s->data, a->size * sizeof(float));
            copied++;
            if (strstr(ft->named[i].name, "LayerNorm") == NULL && strstr(ft->named[i].name, "bias") == NULL)
                assert_true(memcmp(a->data, c->data, a->size * sizeof(float)) != 0);
        }
    }
    assert_int_equal(copied, ft->nnamed - 4);   /* not the pooler's weight and bias, not the classifier */
    assert_string_equal(m->pre.lesson, "mlm");
    assert_int_equal(m->pre.step, 20);
    stop(r);
}

/* Training moves finetune's encoder and the probe's classifier, never the probe's encoder,
 * which has no gradient; the export of the probe has only classifier.* gradients. */
static void test_probe_frozen(void **state)
{
    (void)state;
    Run *r = start((const char *const[]){"--set", "labels=0", NULL});
    Model *pr = &r->models[RUN_PROBE].model, *ft = &r->models[RUN_FINETUNE].model;
    size_t n = r->blocks[RUN_PROBE].pb.n;
    float *before = malloc(n * sizeof *before), *ft_before = malloc(r->blocks[RUN_FINETUNE].pb.n * sizeof(float));
    memcpy(before, r->blocks[RUN_PROBE].pb.data, n * sizeof *before);
    memcpy(ft_before, r->blocks[RUN_FINETUNE].pb.data, r->blocks[RUN_FINETUNE].pb.n * sizeof(float));
    char what[256];
    bool div;
    for (int s = 0; s < 5; s++) {
        kit_next_batch(r);
        kit_step(r, true, &div, what, sizeof what);
        assert_false(div);
    }
    size_t off = 0;
    for (int i = 0; i < pr->nnamed; i++) {
        const Tensor *t = pr->named[i].t;
        bool cls = !strncmp(pr->named[i].name, "classifier.", 11);
        if (cls) assert_true(memcmp(before + off, t->data, t->size * sizeof(float)) != 0);
        else {
            assert_memory_equal(before + off, t->data, t->size * sizeof(float));
            for (size_t k = 0; k < t->size; k++) assert_true(t->grad[k] == 0.0f);
        }
        const Tensor *f = ft->named[i].t; /* the same layout: finetune moved everywhere */
        assert_true(memcmp(ft_before + off, f->data, f->size * sizeof(float)) != 0 || strstr(ft->named[i].name, "position"));
        off += t->size;
    }
    char dir[] = "/tmp/fmlab-test-finetune-XXXXXX", path[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/grads.safetensors", dir);
    char err[512];
    assert_int_equal(model_save_grads(pr, path, err, sizeof err), 0);
    SafeTensors st;
    assert_int_equal(st_load(&st, path, err, sizeof err), 0);
    assert_int_equal(st.count, 2);
    assert_non_null(st_find(&st, "classifier.weight"));
    assert_non_null(st_find(&st, "classifier.bias"));
    st_free(&st);
    unlink(path);
    rmdir(dir);
    free(before);
    free(ft_before);
    stop(r);
}

static bool in_budget(const Finetune *m, int msg)
{
    for (int i = 0; i < m->nbudget; i++)
        if (m->budget[i] == msg) return true;
    return false;
}

static void test_label_budget(void **state)
{
    (void)state;
    Run *r = start((const char *const[]){"--set", "labels=16", NULL});
    Finetune *m = KIT_SELF(r, Finetune);
    assert_int_equal(m->nbudget, 16);
    assert_int_equal(m->budget_count[0], 8);
    assert_int_equal(m->budget_count[1], 8);
    int small[16];
    memcpy(small, m->budget, sizeof small);
    for (int i = 0; i < 16; i++) /* distinct */
        for (int j = 0; j < i; j++) assert_int_not_equal(small[i], small[j]);
    for (int s = 0; s < 50; s++) { /* batches come only from the budget */
        kit_next_batch(r);
        for (int b = 0; b < r->B; b++) {
            assert_true(in_budget(m, m->batch.msg[b]));
            assert_int_equal(m->batch.labels[b], m->train.label[m->batch.msg[b]]);
        }
    }
    kit_set(r, runtime_key_index(&r->lesson->info, "labels"), 64);
    assert_int_equal(m->nbudget, 64);
    /* a balanced budget drawn uniformly: spam in half of the rows (binomial, |z| < 5, about
       p = 6e-7 for a fair draw), and every message of the budget drawn about as often */
    long spam = 0, draws = 0, seen[2804] = {0};
    for (int s = 0; s < 300; s++) {
        kit_next_batch(r);
        for (int b = 0; b < r->B; b++, draws++) {
            spam += m->batch.labels[b];
            seen[m->batch.msg[b]]++;
        }
    }
    double z = (spam - 0.5 * draws) / sqrt(0.25 * draws);
    print_message("labels=64: %ld of %ld rows spam (z = %.2f)\n", spam, draws, z);
    assert_true(fabs(z) < 5);
    for (int i = 0; i < m->nbudget; i++) { /* each expected draws/64 = 150 times: within 5 sd */
        double e = (double)draws / m->nbudget, sd = sqrt(e * (1 - 1.0 / m->nbudget));
        assert_true(fabs(seen[m->budget[i]] - e) < 5 * sd);
    }
    assert_int_equal(m->budget_count[0], 32);
    for (int i = 0; i < 16; i++) assert_true(in_budget(m, small[i]));   /* 16 is part of 64 */
    kit_set(r, runtime_key_index(&r->lesson->info, "labels"), 17);
    assert_int_equal(m->nbudget, 17);
    assert_int_equal(m->budget_count[0], 9);
    assert_int_equal(m->budget_count[1], 8);
    kit_set(r, runtime_key_index(&r->lesson->info, "labels"), 0);
    assert_int_equal(m->nbudget, m->train.n);
    assert_int_equal(m->train.n, 2804);
    assert_int_equal(m->budget_count[0], m->train.count[0]);
    stop(r);
}

/* cls against -mean log p(label) from the logits, computed here; the total reported is the
 * exported run's, whichever it is. */
static void test_loss_by_hand(void **state)
{
    (void)state;
    for (int run = 0; run < RUN_COUNT; run++) {
        char set[32];
        snprintf(set, sizeof set, "run=%s", finetune_run_names[run]);
        Run *r = start((const char *const[]){"--set", set, "--set", "labels=0", NULL});
        Finetune *m = KIT_SELF(r, Finetune);
        char what[256];
        bool div;
        for (int s = 0; s < 3; s++) {
            kit_next_batch(r);
            kit_step(r, true, &div, what, sizeof what);
        }
        kit_next_batch(r);
        kit_step(r, false, &div, what, sizeof what);
        for (int k = 0; k < RUN_COUNT; k++) {
            double sum = 0;
            for (int b = 0; b < r->B; b++) {
                double p = m->p_spam[k][b];
                sum -= log(m->batch.labels[b] ? p : 1 - p);
            }
            assert_float_equal(r->extra[FT_LOSS + k], sum / r->B, 1e-4);
        }
        assert_float_equal(r->loss, r->extra[FT_LOSS + run], 0);
        assert_float_equal(r->parts[0], r->extra[FT_LOSS + run], 0);
        stop(r);
    }
}

/* Built once, reused, and built again when the file under its name is another one. */
static void test_cache(void **state)
{
    (void)state;
    Run *r = start((const char *const[]){"--set", "pretrain_steps=12", NULL});
    assert_true(KIT_SELF(r, Finetune)->pre_built);
    char path[4096];
    snprintf(path, sizeof path, "%s", KIT_SELF(r, Finetune)->pre.path);
    stop(r);
    r = start((const char *const[]){"--set", "pretrain_steps=12", NULL});
    assert_false(KIT_SELF(r, Finetune)->pre_built);
    assert_int_equal(KIT_SELF(r, Finetune)->pre.step, 12);
    stop(r);
    /* the 20-step file copied under the 12-step name: not reused */
    r = start(NULL);
    char other[4096];
    snprintf(other, sizeof other, "%s", KIT_SELF(r, Finetune)->pre.path);
    stop(r);
    FILE *in = fopen(other, "rb"), *out = fopen(path, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    for (size_t k; (k = fread(buf, 1, sizeof buf, in)) > 0;) assert_int_equal(fwrite(buf, 1, k, out), k);
    fclose(in);
    fclose(out);
    r = start((const char *const[]){"--set", "pretrain_steps=12", NULL});
    assert_true(KIT_SELF(r, Finetune)->pre_built);
    assert_int_equal(KIT_SELF(r, Finetune)->pre.step, 12);
    stop(r);
}

/* All labels, 150 steps: the fine-tuned run's training loss well below ln 2 and its held-out
 * accuracy far above chance. */
static void test_training_smoke(void **state)
{
    (void)state;
    Run *r = start((const char *const[]){"--set", "labels=0", "--set", "eval_every=150", NULL});
    char what[256];
    bool div;
    double tail = 0;
    for (int s = 0; s < 150; s++) {
        kit_next_batch(r);
        kit_step(r, true, &div, what, sizeof what);
        assert_false(div);
        if (s >= 130) tail += r->extra[FT_LOSS + RUN_FINETUNE] / 20;
    }
    double acc = r->metrics.data[(r->metrics.rows - 1) * r->metrics.ncols + 3 + FT_EVAL_ACCURACY + RUN_FINETUNE];
    print_message("150 steps, all labels: fine-tune loss (last 20) %.3f, held-out accuracy %.3f\n", tail, acc);
    assert_true(tail < 0.4);
    assert_true(acc > 0.75);
    stop(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_shapes), cmocka_unit_test(test_pretrained_copied),
        cmocka_unit_test(test_probe_frozen),     cmocka_unit_test(test_label_budget),
        cmocka_unit_test(test_loss_by_hand),     cmocka_unit_test(test_cache),
        cmocka_unit_test(test_training_smoke),
    };
    return cmocka_run_group_tests(tests, lesson_cache_setup, lesson_cache_teardown);
}
