/* test_gpt.c — fmlab-gpt's objective, generation and training.
 *
 * Generation's distribution (gpt_distribution, or the student's exercise_distribution when
 * built as the exercise test): against a hand computation; temperature 0 is the argmax and a
 * temperature near 0 tends to it; top-k never keeps a token outside the top k (ties at the
 * k-th value kept, as Hugging Face does); tokens drawn from it come with the frequencies of
 * the renormalised softmax (chi-square at p = 1e-6).
 * The model on the kit: attention never reaches a later position (the probabilities
 * themselves, and by perturbation: changing token j changes no output before j); the loss
 * is the shifted next-token cross-entropy computed by hand from the logits; generation is
 * reproducible from the seed, and top-k 1 is greedy; training lowers the held-out loss
 * below a stated bound, and without the mask (the leak) the training loss falls below a
 * bound the causal model cannot reach while its loss with the mask put back stays high. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lessons/gpt/lesson.h"

#ifdef EXERCISE
void exercise_distribution(const float *logits, int V, float temperature, int top_k, float *probs);
#define DISTRIBUTION exercise_distribution
#else
#define DISTRIBUTION gpt_distribution
#endif

/* A failed check says in words what is wrong, for the student running the exercise. */
#define EXPECT(cond, ...)                                                                             \
    do {                                                                                              \
        if (!(cond)) fail_msg(__VA_ARGS__);                                                           \
    } while (0)

/* softmax(x / temperature) over the entries with keep[v], in double */
static void reference(const float *x, int V, double temperature, const bool *keep, double *p)
{
    double mx = -INFINITY, z = 0;
    for (int v = 0; v < V; v++)
        if (keep[v] && x[v] > mx) mx = x[v];
    for (int v = 0; v < V; v++) z += p[v] = keep[v] ? exp((x[v] - mx) / temperature) : 0;
    for (int v = 0; v < V; v++) p[v] /= z;
}

static void test_distribution_by_hand(void **state)
{
    (void)state;
    enum { V = 7 };
    const float x[V] = {1.5f, -0.25f, 3.0f, 0.5f, 3.0f, -2.0f, 2.25f};
    float p[V];
    double want[V];
    bool all[V] = {1, 1, 1, 1, 1, 1, 1};
    /* the plain softmax, and at temperatures 0.5 and 2 */
    const float temps[] = {1.0f, 0.5f, 2.0f};
    for (int i = 0; i < 3; i++) {
        DISTRIBUTION(x, V, temps[i], 0, p);
        reference(x, V, temps[i], all, want);
        for (int v = 0; v < V; v++)
            EXPECT(fabs(p[v] - want[v]) < 1e-6, "temperature %.1f, top_k 0: P(token %d) is %.6f, expected %.6f", (double)temps[i],
                   v, (double)p[v], want[v]);
    }
    /* top-k 3: the logits 3.0, 3.0 and 2.25 stay, renormalised */
    bool top3[V] = {0, 0, 1, 0, 1, 0, 1};
    DISTRIBUTION(x, V, 0.8f, 3, p);
    reference(x, V, 0.8, top3, want);
    for (int v = 0; v < V; v++)
        EXPECT(fabs(p[v] - want[v]) < 1e-6, "temperature 0.8, top_k 3: P(token %d) is %.6f, expected %.6f (only ids 2, 4, 6 stay)",
               v, (double)p[v], want[v]);
    /* top-k 1 with a tie at the top: both tied logits stay (Hugging Face keeps every logit >= the k-th) */
    bool tie[V] = {0, 0, 1, 0, 1, 0, 0};
    DISTRIBUTION(x, V, 1.0f, 1, p);
    reference(x, V, 1.0, tie, want);
    for (int v = 0; v < V; v++)
        EXPECT(fabs(p[v] - want[v]) < 1e-6, "top_k 1 with ids 2 and 4 tied at the top: P(token %d) is %.6f, expected %.6f", v,
               (double)p[v], want[v]);
    /* greedy: all on the largest logit, the lower id of a tie */
    DISTRIBUTION(x, V, 0.0f, 0, p);
    for (int v = 0; v < V; v++)
        EXPECT(p[v] == (v == 2 ? 1.0f : 0.0f), "temperature 0 (greedy): P(token %d) is %g; expected 1 for id 2 (the first of the "
               "largest logits) and 0 elsewhere", v, (double)p[v]);
    /* a temperature near 0 tends to the argmax */
    const float y[V] = {0.1f, 0.7f, 0.3f, 0.69f, -1, 0, 0.2f};
    DISTRIBUTION(y, V, 1e-4f, 0, p);
    EXPECT(p[1] > 0.99999f, "temperature 0.0001: P(argmax) is %.6f; it should be nearly 1 (the runner-up is 0.01 lower: "
           "e^-100 times as likely)", (double)p[1]);
    /* large logits do not overflow */
    const float big[3] = {1000.0f, 999.0f, -1000.0f};
    bool all3[3] = {1, 1, 1};
    double want3[3];
    DISTRIBUTION(big, 3, 1.0f, 0, p);
    reference(big, 3, 1.0, all3, want3);
    for (int v = 0; v < 3; v++)
        EXPECT(isfinite(p[v]) && fabs(p[v] - want3[v]) < 1e-6, "logits 1000, 999, -1000: P(token %d) is %g, expected %.6f "
               "(subtract the largest logit before exp)", v, (double)p[v], want3[v]);
}

/* Draws from the distribution: never outside the top k, and with the frequencies of the
 * renormalised softmax (chi-square, k - 1 dof, p = 1e-6). */
static void test_topk_sampling(void **state)
{
    (void)state;
    enum { V = 300, K = 6, N = 200000 };
    Rng r;
    rng_seed(&r, 11, 0);
    float x[V], p[V];
    for (int v = 0; v < V; v++) x[v] = rng_normal(&r, 0, 2);
    bool keep[V] = {0};
    int order[V];
    for (int v = 0; v < V; v++) order[v] = v;
    for (int i = 0; i < K; i++) /* the K largest, by selection */
        for (int j = i + 1; j < V; j++)
            if (x[order[j]] > x[order[i]]) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    for (int i = 0; i < K; i++) keep[order[i]] = true;
    double want[V];
    reference(x, V, 0.7, keep, want);
    DISTRIBUTION(x, V, 0.7f, K, p);
    static int64_t hits[V];
    memset(hits, 0, sizeof hits);
    for (int n = 0; n < N; n++) hits[gpt_draw(p, V, rng_uniform_double(&r))]++;
    for (int v = 0; v < V; v++)
        EXPECT(keep[v] || hits[v] == 0, "token %d is not among the top %d but was drawn %lld times", v, K, (long long)hits[v]);
    double chi = 0;
    for (int i = 0; i < K; i++) {
        int v = order[i];
        chi += pow((double)hits[v] - N * want[v], 2) / (N * want[v]);
    }
    print_message("top-%d at temperature 0.7: chi-square %.2f with %d dof (limit 33.4)\n", K, chi, K - 1);
    EXPECT(chi < 33.4, "the frequencies of the drawn tokens do not match the renormalised softmax (chi-square %.1f, 5 dof, "
           "p = 1e-6 limit 33.4)", chi);
    /* greedy draws are always the argmax */
    DISTRIBUTION(x, V, 0.0f, 0, p);
    for (int n = 0; n < 1000; n++) EXPECT(gpt_draw(p, V, rng_uniform_double(&r)) == order[0], "a greedy draw was not the argmax");
}

#ifndef EXERCISE
/* A run of the lesson: tiny (a forward takes microseconds), or the lesson's model on windows of
 * 16 tokens, 16 to a batch, at lr 4e-3 (the training tests: a few seconds for 300 steps). */
static void start(Run *r, bool tiny, const char *causal)
{
    RunOptions o;
    char set[32];
    snprintf(set, sizeof set, "causal=%s", causal);
    char *fast[] = {"fmlab-gpt", "--headless", "--seed", "1", "--threads", "1", "--batch", "16", "--lr", "4e-3", "--set", set,
                    "--set", "seq_len=16", "--set", "warmup_steps=20", NULL};
    char *small[] = {"fmlab-gpt", "--headless", "--seed", "3", "--batch", "3", "--set", set, "--set", "seq_len=12", "--set",
                     "hidden_size=16", "--set", "num_attention_heads=2", "--set", "intermediate_size=32", NULL};
    assert_int_equal(runtime_parse(16, tiny ? small : fast, &gpt_lesson.info, &o), -1);
    assert_int_equal(kit_init(r, &gpt_lesson, &o), -1);
}

static void look(Run *r)
{
    char what[128];
    bool div;
    kit_step(r, false, &div, what, sizeof what);
    assert_false(div);
}

/* The attention probabilities above the diagonal are exactly 0 with the mask, and not all 0
 * without it; changing token j changes no logit before j (and some at or after it). */
static void test_causal_mask(void **state)
{
    (void)state;
    static Run r;
    start(&r, true, "1");
    Gpt *m = KIT_SELF(&r, Gpt);
    kit_next_batch(&r);
    look(&r);
    int B = r.B, T = r.T, L = kit_model(&r, 0)->cfg.num_hidden_layers, NH = kit_model(&r, 0)->cfg.num_attention_heads;
    for (int l = 0; l < L; l++) {
        const float *a = r.models[0].attn[0][l];
        for (int b = 0; b < B * NH; b++)
            for (int i = 0; i < T; i++) {
                double sum = 0;
                for (int j = 0; j < T; j++) {
                    float p = a[((size_t)b * T + i) * T + j];
                    if (j > i) assert_true(p == 0.0f);
                    sum += p;
                }
                assert_near(sum, 1.0, 1e-5);
            }
    }
    int V = m->logits->shape[2];
    size_t n = (size_t)B * T * V;
    float *before = malloc(n * sizeof *before);
    memcpy(before, m->logits->data, n * sizeof *before);
    for (int j = 1; j < T; j += 4) {
        int32_t keep = m->batch.ids[j];
        m->batch.ids[j] = keep == 7 ? 8 : 7; /* another token at position j of sequence 0 */
        look(&r);
        double same = 0, changed = 0;
        for (int t = 0; t < T; t++)
            for (int v = 0; v < V; v++) {
                double d = fabs(m->logits->data[(size_t)t * V + v] - before[(size_t)t * V + v]);
                if (t < j) same = fmax(same, d);
                else changed = fmax(changed, d);
            }
        print_message("token %d changed: logits before it move by %.3g, at or after it by %.3g\n", j, same, changed);
        assert_true(same == 0);
        assert_true(changed > 1e-4);
        m->batch.ids[j] = keep;
        look(&r);
    }
    /* without the mask, attention reaches later positions */
    kit_set(&r, runtime_key_index(&gpt_lesson.info, "causal"), 0);
    look(&r);
    double above = 0;
    for (int b = 0; b < B * NH; b++)
        for (int i = 0; i < T; i++)
            for (int j = i + 1; j < T; j++) above += r.models[0].attn[0][0][((size_t)b * T + i) * T + j];
    assert_true(above > 1.0);
    free(before);
    kit_free(&r);
}

/* The loss is the mean over the B·(T-1) positions with a next token of -log softmax(logits)[next],
 * from the logits themselves, in double. */
static void test_shifted_loss(void **state)
{
    (void)state;
    static Run r;
    start(&r, true, "1");
    Gpt *m = KIT_SELF(&r, Gpt);
    for (int s = 0; s < 3; s++) {
        kit_next_batch(&r);
        look(&r);
        int B = r.B, T = r.T, V = m->logits->shape[2];
        double sum = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t + 1 < T; t++) {
                const float *x = m->logits->data + ((size_t)b * T + t) * V;
                double mx = -INFINITY, z = 0;
                for (int v = 0; v < V; v++) mx = fmax(mx, x[v]);
                for (int v = 0; v < V; v++) z += exp(x[v] - mx);
                sum += mx + log(z) - x[m->batch.ids[b * T + t + 1]];
                assert_int_equal(m->batch.targets[b * T + t], m->batch.ids[b * T + t + 1]);
            }
        for (int b = 0; b < B; b++) assert_int_equal(m->batch.targets[b * T + T - 1], IGNORE_INDEX);
        double want = sum / (B * (T - 1));
        print_message("loss %.7f, by hand %.7f\n", (double)r.loss, want);
        assert_near(r.loss, want, 1e-5 * want);
        assert_near(r.parts[0], want, 1e-5 * want);
        assert_near(r.extra[GPT_PERPLEXITY], exp(want), 1e-4 * exp(want));
    }
    kit_free(&r);
}

/* The same prompt, seed and weights give the same text; another seed another text (at
 * temperature 1); top-k 1 is greedy, and greedy draws every token with its largest probability. */
static void test_generation(void **state)
{
    (void)state;
    static Run r;
    start(&r, true, "1");
    char what[128];
    for (int s = 0; s < 20; s++) {
        kit_next_batch(&r);
        bool div;
        kit_step(&r, true, &div, what, sizeof what);
    }
    static GptGen a, b, c, d;
    Model *model = kit_model(&r, 0);
    gpt_generate(&r, model, "the white whale", 20, 1.0f, 0, 7, &a);
    gpt_generate(&r, model, "the white whale", 20, 1.0f, 0, 7, &b);
    assert_int_equal(a.nprompt, 3);
    assert_int_equal(a.len, 23);
    assert_memory_equal(a.ids, b.ids, sizeof a.ids);
    gpt_generate(&r, model, "the white whale", 20, 1.0f, 0, 8, &c);
    assert_memory_not_equal(a.ids, c.ids, sizeof a.ids);
    /* G adds the token the panel announces: one more token extends the text by `next` */
    gpt_generate(&r, model, "the white whale", 21, 1.0f, 0, 7, &d);
    assert_memory_equal(a.ids, d.ids, (size_t)a.len * sizeof a.ids[0]);
    assert_int_equal(d.ids[a.len], a.next);
    gpt_generate(&r, model, "the white whale", 20, 0.0f, 0, 7, &c);
    gpt_generate(&r, model, "the white whale", 20, 1.0f, 1, 9, &d);
    assert_memory_equal(c.ids, d.ids, sizeof c.ids);
    for (int i = c.nprompt; i < c.len; i++) assert_true(c.drawn_p[i] == 1.0f);
    assert_int_equal(c.kept, 1);
    /* an empty prompt: nothing to start from, said so */
    gpt_generate(&r, model, "   ", 5, 1.0f, 0, 7, &c);
    assert_true(c.empty);
    /* resuming: a generation setting takes the new value, a training setting must be the file's */
    char path[] = "/tmp/fmlab-test-gpt-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[256];
    assert_int_equal(kit_save(&r, path, err, sizeof err), 0);
    kit_free(&r);
    const char *sets[2] = {"temperature=0", "causal=0"};
    for (int i = 0; i < 2; i++) {
        RunOptions o;
        char *argv[] = {"fmlab-gpt", "--headless", "--resume", path, "--set", (char *)sets[i], NULL};
        assert_int_equal(runtime_parse(6, argv, &gpt_lesson.info, &o), -1);
        int rc = kit_init(&r, &gpt_lesson, &o);
        print_message("--resume with --set %s: %s\n", sets[i], rc < 0 ? "taken" : "refused");
        assert_int_equal(rc, i == 0 ? -1 : EXIT_USAGE);
        if (rc < 0) {
            assert_true(kit_value(&r, "temperature") == 0);
            assert_int_equal(r.step, 20);
        }
        kit_free(&r);
    }
    unlink(path);
}

/* mean of the training loss over the last n steps */
static double last_losses(const Run *r, int n)
{
    double s = 0;
    for (long i = r->metrics.rows - n; i < r->metrics.rows; i++) s += metrics_get(&r->metrics, i, 0);
    return s / n;
}

static void train(Run *r, int steps)
{
    char what[128];
    for (int s = 0; s < steps; s++) {
        kit_next_batch(r);
        bool div;
        kit_step(r, true, &div, what, sizeof what);
        assert_false(div);
    }
}

/* The lesson's model on windows of 16 tokens, seed 1, 300 steps: with the mask the held-out
 * loss falls below 6.0 nats, under the unigram line of about 6.3 (it starts near ln 2000 = 7.6; the
 * bigram line about 4.8) and the training loss stays above 4.5 (no causal model of the text
 * gets near 0: the next word is not certain). Without the mask the training loss falls below
 * 2.0 (the model copies each target from the position after it), and so does the held-out
 * loss with the same leaking mask, while its loss with the mask put back (as when it
 * generates) stays above the unigram line. */
static void test_training(void **state)
{
    (void)state;
    static Run r;
    start(&r, false, "1");
    print_message("reference lines: unigram %.4f, bigram %.4f nats\n", r.refs[REF_UNIGRAM], r.refs[REF_BIGRAM]);
    assert_true(r.refs[REF_UNIGRAM] > 5.5 && r.refs[REF_UNIGRAM] < 7);
    assert_true(r.refs[REF_BIGRAM] > 3.5 && r.refs[REF_BIGRAM] < r.refs[REF_UNIGRAM] - 0.5);
    train(&r, 300);
    float extra[KIT_MAX_EXTRA];
    kit_evaluate(&r, extra);
    double causal_train = last_losses(&r, 20);
    print_message("causal, 300 steps: training loss %.3f, held-out %.3f (accuracy %.3f)\n", causal_train,
                  (double)extra[GPT_EVAL_LOSS], (double)extra[GPT_EVAL_ACCURACY]);
    assert_true(metrics_get(&r.metrics, 0, 0) > 7.0);
    assert_true(extra[GPT_EVAL_LOSS] < 6.0f);
    assert_true(extra[GPT_EVAL_CAUSAL_LOSS] == extra[GPT_EVAL_LOSS]);
    assert_true(causal_train > 4.5);
    assert_int_equal(r.metrics.ncols, 3 + GPT_NEXTRA);
    kit_free(&r);

    start(&r, false, "0");
    train(&r, 300);
    kit_evaluate(&r, extra);
    double leak_train = last_losses(&r, 20);
    print_message("leak, 300 steps: training loss %.3f, held-out %.3f, held-out with the mask put back %.3f\n", leak_train,
                  (double)extra[GPT_EVAL_LOSS], (double)extra[GPT_EVAL_CAUSAL_LOSS]);
    assert_true(leak_train < 2.0);
    assert_true(extra[GPT_EVAL_LOSS] < 2.0f);
    assert_true(extra[GPT_EVAL_CAUSAL_LOSS] > r.refs[REF_UNIGRAM]);
    kit_free(&r);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distribution_by_hand),
        cmocka_unit_test(test_topk_sampling),
#ifndef EXERCISE
        cmocka_unit_test(test_causal_mask),
        cmocka_unit_test(test_shifted_loss),
        cmocka_unit_test(test_generation),
        cmocka_unit_test(test_training),
#endif
    };
    return cmocka_run_group_tests_name("gpt", tests, NULL, NULL);
}
