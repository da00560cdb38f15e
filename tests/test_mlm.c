/* test_mlm.c — fmlab-mlm's objective and training.
 *
 * The corruption (lessons/common/masking.c, and the student's exercise.c when built as the exercise test):
 * exact structure on every position, then its proportions over many batches with tests at
 * about p = 1e-6: the selection rate (binomial), the 80/10/10 split (chi-square, 2 dof), and
 * the random replacements spread uniformly over the non-special tokens (chi-square).
 * Training on the kit: 300 steps at the defaults must bring the held-out loss below a stated
 * bound; a reset to the same seed replays the run; a NaN stops the step before the update.
 * Static masking: a window drawn again keeps its mask; under dynamic masking it does not. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "lessons/common/trained.h"
#include "lessons/mlm/lesson.h"

#ifdef EXERCISE
void exercise_corrupt(const MaskingConfig *c, Rng *r, const int32_t *original, int n, int32_t *input_ids,
                      int32_t *labels, uint8_t *kind);
#define CORRUPT exercise_corrupt
#else
#define CORRUPT mlm_corrupt
#endif

enum { V = 2000, N = 32 * 32 };

/* A batch like the lesson's: [CLS] text [SEP] rows, a few [UNK] and [PAD] mixed in. */
static void make_tokens(Rng *r, int32_t *ids)
{
    for (int i = 0; i < N; i++) {
        int t = i % 32;
        ids[i] = t == 0 ? TOK_CLS : t == 31 ? TOK_SEP : (int32_t)(5 + rng_below(r, V - 5));
        if (t != 0 && t != 31 && rng_bernoulli(r, 0.02f)) ids[i] = rng_bernoulli(r, 0.5f) ? TOK_UNK : TOK_PAD;
    }
}

/* A failed check says in words what is wrong, for the student running the exercise. */
#define EXPECT(cond, ...)                                                                             \
    do {                                                                                              \
        if (!(cond)) fail_msg(__VA_ARGS__);                                                           \
    } while (0)

static const char *const special_names[TOK_NUM_SPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

static void check_structure(const int32_t *orig, const int32_t *in, const int32_t *lab, const uint8_t *kind, int n)
{
    for (int i = 0; i < n; i++) {
        if (vocab_is_special(orig[i])) { /* specials are never selected, never changed */
            const char *sp = special_names[orig[i]];
            EXPECT(kind[i] == KIND_NOT_SELECTED, "%s at position %d was selected (kind %d); special tokens are never selected", sp,
                   i, kind[i]);
            EXPECT(in[i] == orig[i], "%s at position %d was changed to id %d; special tokens stay as they are", sp, i, in[i]);
            EXPECT(lab[i] == IGNORE_INDEX, "%s at position %d has label %d; positions not selected have label -100", sp, i,
                   lab[i]);
            continue;
        }
        switch (kind[i]) {
        case KIND_NOT_SELECTED:
            EXPECT(lab[i] == IGNORE_INDEX, "position %d was not selected but has label %d; it should be -100", i, lab[i]);
            EXPECT(in[i] == orig[i], "position %d was not selected but its token changed from %d to %d", i, orig[i], in[i]);
            break;
        case KIND_MASK:
            EXPECT(lab[i] == orig[i], "position %d became [MASK] but its label is %d, not the original token %d", i, lab[i],
                   orig[i]);
            EXPECT(in[i] == TOK_MASK, "position %d is marked KIND_MASK but its input is %d, not [MASK] (%d)", i, in[i], TOK_MASK);
            break;
        case KIND_RANDOM:
            EXPECT(lab[i] == orig[i], "position %d got a random token but its label is %d, not the original token %d", i,
                   lab[i], orig[i]);
            EXPECT(in[i] >= TOK_NUM_SPECIAL && in[i] < V,
                   "position %d got random token %d; random tokens are drawn from the non-special ids %d..%d", i, in[i],
                   TOK_NUM_SPECIAL, V - 1);
            break;
        case KIND_KEPT:
            EXPECT(lab[i] == orig[i], "position %d was kept but its label is %d, not the original token %d", i, lab[i], orig[i]);
            EXPECT(in[i] == orig[i], "position %d is marked kept but its token changed from %d to %d", i, orig[i], in[i]);
            break;
        default:
            fail_msg("position %d has kind %d; kinds are 0 not selected, 1 [MASK], 2 random, 3 kept", i, kind[i]);
        }
    }
}

static void test_structure(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 1, 0);
    int32_t orig[N], in[N], lab[N];
    uint8_t kind[N];
    MaskingConfig c = {0.15f, 0.8f, 0.1f, V};
    for (int b = 0; b < 50; b++) {
        make_tokens(&r, orig);
        CORRUPT(&c, &r, orig, N, in, lab, kind);
        check_structure(orig, in, lab, kind, N);
    }
    /* the edges: nothing selected, everything eligible selected, all [MASK], none [MASK] */
    MaskingConfig none = {0, 0.8f, 0.1f, V}, all = {1, 1, 0, V}, keep = {1, 0, 0, V};
    make_tokens(&r, orig);
    CORRUPT(&none, &r, orig, N, in, lab, kind);
    for (int i = 0; i < N; i++)
        EXPECT(kind[i] == KIND_NOT_SELECTED, "with mlm_probability 0, position %d was selected (kind %d)", i, kind[i]);
    CORRUPT(&all, &r, orig, N, in, lab, kind);
    check_structure(orig, in, lab, kind, N);
    for (int i = 0; i < N; i++)
        EXPECT(kind[i] == (vocab_is_special(orig[i]) ? KIND_NOT_SELECTED : KIND_MASK),
               "with mlm_probability 1 and mask_replace_prob 1, position %d has kind %d; every non-special token "
               "becomes [MASK]", i, kind[i]);
    CORRUPT(&keep, &r, orig, N, in, lab, kind);
    for (int i = 0; i < N; i++)
        EXPECT(kind[i] == (vocab_is_special(orig[i]) ? KIND_NOT_SELECTED : KIND_KEPT),
               "with mask_replace_prob 0 and random_replace_prob 0, position %d has kind %d; every selected token is kept",
               i, kind[i]);
    /* the same seed gives the same corruption */
    int32_t in2[N];
    Rng a, b;
    rng_seed(&a, 9, 0);
    rng_seed(&b, 9, 0);
    CORRUPT(&c, &a, orig, N, in, lab, kind);
    CORRUPT(&c, &b, orig, N, in2, lab, kind);
    assert_memory_equal(in, in2, sizeof in);
}

static void test_proportions(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 2, 0);
    int32_t orig[N], in[N], lab[N];
    uint8_t kind[N];
    MaskingConfig cfgs[2] = {{0.15f, 0.8f, 0.1f, V}, {0.4f, 0.5f, 0.3f, V}};
    for (int ci = 0; ci < 2; ci++) {
        MaskingConfig c = cfgs[ci];
        int64_t eligible = 0, counts[4] = {0}, random_hits[V] = {0};
        for (int b = 0; b < 600; b++) {
            make_tokens(&r, orig);
            CORRUPT(&c, &r, orig, N, in, lab, kind);
            for (int i = 0; i < N; i++) {
                if (vocab_is_special(orig[i])) continue;
                eligible++;
                counts[kind[i]]++;
                if (kind[i] == KIND_RANDOM) random_hits[in[i]]++;
            }
        }
        double sel = (double)(counts[1] + counts[2] + counts[3]), p = c.mlm_probability;
        double z = (sel - eligible * p) / sqrt(eligible * p * (1 - p));
        print_message("p=%.2f: %.0f of %lld selected (z = %.2f); split %lld/%lld/%lld\n", p, sel, (long long)eligible, z,
                      (long long)counts[1], (long long)counts[2], (long long)counts[3]);
        EXPECT(fabs(z) < 5, "mlm_probability %.2f: %.0f of %lld eligible tokens were selected (%.2f%%), too far from %.0f%% "
               "(z = %.1f); select each eligible token with its own coin flip of probability mlm_probability",
               p, sel, (long long)eligible, 100 * sel / eligible, 100 * p, z);
        double want[3] = {c.mask_replace_prob, c.random_replace_prob, 1 - c.mask_replace_prob - c.random_replace_prob};
        double chi = 0;
        for (int k = 0; k < 3; k++) chi += pow(counts[k + 1] - sel * want[k], 2) / (sel * want[k]);
        EXPECT(chi < 27.6, /* chi-square, 2 dof, p = 1e-6 */
               "of the selected: %.1f%% [MASK], %.1f%% random, %.1f%% kept, but the settings ask for %.0f/%.0f/%.0f "
               "(chi-square %.1f)", 100 * counts[1] / sel, 100 * counts[2] / sel, 100 * counts[3] / sel, 100 * want[0],
               100 * want[1], 100 * want[2], chi);
        /* random replacements: uniform over ids 5..V-1, never special */
        for (int t = 0; t < TOK_NUM_SPECIAL; t++)
            EXPECT(random_hits[t] == 0, "a random replacement was the special token %s %lld times; draw from ids 5..V-1",
                   special_names[t], (long long)random_hits[t]);
        double nr = (double)counts[KIND_RANDOM], e = nr / (V - TOK_NUM_SPECIAL);
        chi = 0;
        for (int t = TOK_NUM_SPECIAL; t < V; t++) chi += pow(random_hits[t] - e, 2) / e;
        int dof = V - TOK_NUM_SPECIAL - 1;
        /* Wilson–Hilferty: the 1 - 1e-6 quantile of chi-square with dof degrees of freedom */
        double zq = 4.753, crit = dof * pow(1 - 2.0 / (9 * dof) + zq * sqrt(2.0 / (9 * dof)), 3);
        print_message("random tokens: chi-square %.0f with %d dof (limit %.0f)\n", chi, dof, crit);
        EXPECT(chi < crit, "the random replacements are not uniform over the non-special tokens (chi-square %.0f, limit %.0f)",
               chi, crit);
    }
}

#ifndef EXERCISE
/* Training: the held-out loss after 300 steps at the defaults, seed 1, must be below 6.35
 * nats (it starts at ln 2000 ≈ 7.6; the unigram entropy of the text is about 6.3). */
static void test_training_smoke(void **state)
{
    (void)state;
    RunOptions o;
    char *argv[] = {"fmlab-mlm", "--headless", "--seed", "1", NULL};
    assert_int_equal(runtime_parse(4, argv, &mlm_lesson.info, &o), -1);
    static Run r;
    assert_int_equal(kit_init(&r, &mlm_lesson, &o), -1);
    Mlm *m = KIT_SELF(&r, Mlm);
    double entropy = r.refs[REF_UNIGRAM_ENTROPY];
    print_message("unigram entropy %.4f nats, unigram accuracy %.4f\n", entropy, r.refs[REF_UNIGRAM_ACCURACY]);
    assert_true(entropy > 5.5 && entropy < 7);
    char what[128];
    float first = 0;
    for (int s = 0; s < 300; s++) {
        kit_next_batch(&r);
        bool div;
        float l = kit_step(&r, true, &div, what, sizeof what);
        assert_false(div);
        if (s == 0) first = l;
    }
    float extra[KIT_MAX_EXTRA];
    kit_evaluate(&r, extra);
    float el = extra[MLM_EVAL_LOSS], ea = extra[MLM_EVAL_ACCURACY];
    print_message("loss: first batch %.3f, held-out after 300 steps %.3f (accuracy %.3f)\n", first, el, ea);
    assert_true(first > 7.0f);
    assert_true(el < 6.35f);
    assert_int_equal(r.metrics.rows, 300);
    /* the metrics row: loss = the mlm part, then lr, accuracy, and the held-out columns
       every eval_every (25) steps, NaN between */
    assert_int_equal(r.metrics.ncols, 3 + MLM_NEXTRA);
    assert_float_equal(metrics_get(&r.metrics, 299, 0), metrics_get(&r.metrics, 299, 1), 0);
    assert_true(isnan(metrics_get(&r.metrics, 298, 4)) && !isnan(metrics_get(&r.metrics, 299, 4)));
    /* the realised selection rate of the whole run is near 15% */
    double sel = (double)(m->tally[1] + m->tally[2] + m->tally[3]) / (double)m->tally[4];
    assert_true(fabs(sel - 0.15) < 5 * sqrt(0.15 * 0.85 / (double)m->tally[4]));
    /* a reset to the same seed replays the run exactly */
    float replay[3], again[3];
    for (int s = 0; s < 3; s++) replay[s] = metrics_get(&r.metrics, s, 0);
    kit_reset(&r, 1);
    assert_int_equal(r.step, 0);
    assert_int_equal(r.metrics.rows, 0);
    assert_int_equal(m->tally[4], 0);
    for (int s = 0; s < 3; s++) {
        kit_next_batch(&r);
        bool div;
        again[s] = kit_step(&r, true, &div, what, sizeof what);
    }
    assert_memory_equal(replay, again, sizeof replay);
    /* a NaN in a weight is caught after the step, naming the step */
    kit_model(&r, 0)->blocks[0].q.w->data[0] = NAN;
    kit_next_batch(&r);
    bool div;
    kit_step(&r, true, &div, what, sizeof what);
    assert_true(div);
    assert_non_null(strstr(what, "step 4"));
    assert_int_equal(r.step, 3); /* and no update was made */
    kit_free(&r);
}

/* Back in time: rewinding replays from a kept state with the batches and settings of the
 * first time, so the weights and the history come back bit for bit; stepping on from there
 * gives the same numbers again. */
static float *copy_params(Run *r)
{
    ParamBlock *pb = kit_block(r, 0);
    float *c = malloc(pb->n * sizeof *c);
    memcpy(c, pb->data, pb->n * sizeof *c);
    return c;
}

static void train(Run *r, long to)
{
    char what[128];
    while (r->step < to) {
        kit_next_batch(r);
        bool div;
        kit_step(r, true, &div, what, sizeof what);
        assert_false(div);
    }
}

static void test_rewind(void **state)
{
    (void)state;
    RunOptions o;
    char *argv[] = {"fmlab-mlm", "--headless", "--seed", "5", "--set", "hidden_size=32", "--set", "eval_every=10", NULL};
    assert_int_equal(runtime_parse(8, argv, &mlm_lesson.info, &o), -1);
    static Run r;
    assert_int_equal(kit_init(&r, &mlm_lesson, &o), -1);
    kit_history_on(&r);
    int key = runtime_key_index(&mlm_lesson.info, "mlm_probability");
    train(&r, 37);
    float *at37 = copy_params(&r);
    train(&r, 80);
    kit_set(&r, key, 0.3); /* a setting changed during the run is replayed too */
    assert_float_equal(KIT_SELF(&r, Mlm)->mask.mlm_probability, 0.3f, 0);
    train(&r, 100);
    float *at100 = copy_params(&r);
    train(&r, 120);
    long rows = r.metrics.rows, nc = r.metrics.ncols;
    float *hist = malloc((size_t)(rows * nc) * sizeof *hist);
    memcpy(hist, r.metrics.data, (size_t)(rows * nc) * sizeof *hist);
    kit_next_batch(&r); /* N: a look at a new batch draws from the RNG without training */
    char what[128], err[256];
    bool div;
    kit_step(&r, false, &div, what, sizeof what);

    kit_set(&r, key, 0.5);
    assert_int_equal(kit_rewind(&r, 100, err, sizeof err), 0);
    assert_int_equal(r.step, 100);
    assert_int_equal(r.metrics.rows, 100);
    assert_memory_equal(kit_block(&r, 0)->data, at100, kit_block(&r, 0)->n * sizeof(float));
    assert_memory_equal(r.metrics.data, hist, (size_t)(100 * nc) * sizeof *hist);
    assert_float_equal(KIT_SELF(&r, Mlm)->mask.mlm_probability, 0.3f, 0); /* as it was at step 100 */
    /* on screen: step 100's batch with its loss before the update, as the first time */
    assert_true(r.batch_trained && r.have_forward);
    assert_float_equal(r.loss, hist[99 * nc], 0);

    assert_int_equal(kit_rewind(&r, 37, err, sizeof err), 0);
    assert_memory_equal(kit_block(&r, 0)->data, at37, kit_block(&r, 0)->n * sizeof(float));
    assert_float_equal(KIT_SELF(&r, Mlm)->mask.mlm_probability, 0.15f, 0);
    train(&r, 80); /* stepping on gives the same numbers as the first time */
    assert_memory_equal(r.metrics.data, hist, (size_t)(80 * nc) * sizeof *hist);
    /* not further back than the oldest kept state */
    assert_int_equal(kit_rewind(&r, -1, err, sizeof err), 0);
    assert_int_equal(r.step, 0);
    free(at37);
    free(at100);
    free(hist);
    kit_free(&r);
}

/* The long-trained model that ships with the lesson (lessons/mlm/trained/) loads next to a
 * run at the defaults, refuses a run it cannot be compared with (another vocabulary, longer
 * sequences) with a sentence saying so, and has learned what the live model has not yet:
 * context. Its probe puts "whale" among the top 3 after "the white", and a head that
 * attends to a neighbouring token. */
static bool in_top(const MlmProbe *p, const Vocab *v, int pos, int k, const char *word)
{
    for (int j = 0; j < k; j++)
        if (!strcmp(vocab_token(v, p->top_id[pos * TOPK + j]), word)) return true;
    return false;
}

static void open_run(Run *r, int argc, char **argv)
{
    RunOptions o;
    assert_int_equal(runtime_parse(argc, argv, &mlm_lesson.info, &o), -1);
    assert_int_equal(kit_init(r, &mlm_lesson, &o), -1);
}

static void test_trained(void **state)
{
    (void)state;
    static Run r;
    char *argv[] = {"fmlab-mlm", "--headless", NULL};
    open_run(&r, 2, argv);
    KitTrained *t = kit_trained(&r);
    assert_non_null(t);
    if (!t->ok) print_message("%s\n", t->why);
    assert_true(t->ok);
    assert_int_equal(t->seq_len, r.T);
    assert_true(t->step >= 5000);
    print_message("%s: held-out loss %.3f, accuracy %.3f\n", t->label, t->eval_loss, t->eval_accuracy);
    assert_true(t->eval_loss < 4.8 && t->eval_accuracy > 0.2);
    static MlmProbe live, trained;
    mlm_probe(&r, kit_model(&r, 0), "the white [mask] .", &live);
    mlm_probe(&r, &t->model, "the white [mask] .", &trained);
    assert_int_equal(trained.len, 6); /* [CLS] the white [MASK] . [SEP] */
    assert_int_equal(trained.ids[3], TOK_MASK);
    for (int j = 0; j < TOPK; j++) print_message("  %-10s %.3f\n", vocab_token(r.vocab, trained.top_id[3 * TOPK + j]),
                                                trained.top_p[3 * TOPK + j]);
    assert_true(in_top(&trained, r.vocab, 3, 3, "whale"));
    assert_false(in_top(&live, r.vocab, 3, 3, "whale")); /* a fresh model knows no context */
    /* a sentence longer than seq_len is cut to it, and says so */
    mlm_probe(&r, &t->model, "call me [mask] . some years ago never mind how long precisely having little or no money",
              &trained);
    assert_true(trained.cut);
    assert_int_equal(trained.len, r.T);
    /* its attention on a sequence: some head looks at a neighbour */
    int32_t ids[64];
    int n = 0;
    ids[n++] = TOK_CLS;
    n += tokenizer_encode(r.vocab, "it was the whale , the white whale , that ahab hunted .", ids + n, r.T - 2);
    ids[n++] = TOK_SEP;
    float **attn = kit_trained_attention(t, ids, n);
    assert_non_null(attn);
    float best = 0;
    for (int l = 0; l < t->model.cfg.num_hidden_layers; l++)
        for (int h = 0; h < t->model.cfg.num_attention_heads; h++)
            for (int dir = -1; dir <= 1; dir += 2) best = fmaxf(best, kit_neighbour_share(attn[l], 1, t->model.cfg.num_attention_heads, n, h, dir));
    print_message("most positional head of the trained model: %.2f\n", best);
    assert_true(best > KIT_ORDER_FOUND);
    kit_free(&r);

    /* runs it cannot be compared with */
    char *longer[] = {"fmlab-mlm", "--headless", "--set", "seq_len=32", NULL};
    open_run(&r, 4, longer);
    t = kit_trained(&r);
    assert_false(t->ok);
    assert_non_null(strstr(t->why, "seq_len is 32"));
    kit_free(&r);
    char *vocab[] = {"fmlab-mlm", "--headless", "--set", "vocab_size=500", NULL};
    open_run(&r, 4, vocab);
    t = kit_trained(&r);
    assert_false(t->ok);
    assert_non_null(strstr(t->why, "vocabulary"));
    kit_free(&r);
}

/* Static and dynamic masking (RoBERTa, Table 1). With train_windows=8 and batches of 8, each
 * of the 8 windows comes back about once a step. Under static masking a window that comes
 * again is corrupted exactly as the first time it was drawn (the same selected positions,
 * kinds and random tokens); under dynamic masking it gets a fresh mask, the same one only by
 * chance (about 1 time in 100: no position selected either time, 0.85^28). */
enum { WIN_T = 16, WIN_N = 8, WIN_STEPS = 40 };
typedef struct SeenWindow {
    size_t start;
    int32_t input[WIN_T], labels[WIN_T];
    uint8_t kind[WIN_T];
} SeenWindow;

static void test_static_masking(void **state)
{
    (void)state;
    static Run r;
    for (int st = 0; st < 2; st++) {
        char *argv[] = {"fmlab-mlm", "--headless", "--seed", "3", "--batch", "8", "--set", "train_windows=8", "--set",
                        st ? "masking=static" : "masking=dynamic", NULL};
        open_run(&r, 10, argv);
        Mlm *m = KIT_SELF(&r, Mlm);
        assert_int_equal(m->masking, st ? MASKING_STATIC : MASKING_DYNAMIC);
        assert_int_equal(r.T, WIN_T);
        SeenWindow seen[WIN_N];
        int nseen = 0, again = 0, same = 0, selected = 0;
        for (int step = 0; step < WIN_STEPS; step++) {
            kit_next_batch(&r);
            const MlmBatch *b = &m->batch;
            for (int i = 0; i < b->B; i++) {
                size_t o = (size_t)i * WIN_T;
                /* the row is the text at its start: the start is the window */
                assert_memory_equal(b->original + o + 1, m->train.ids + b->start[i], (WIN_T - 2) * sizeof(int32_t));
                int k = 0;
                while (k < nseen && seen[k].start != b->start[i]) k++;
                if (k == nseen) {
                    assert_true(nseen < WIN_N); /* never a window outside the fixed set */
                    seen[k].start = b->start[i];
                    memcpy(seen[k].input, b->input + o, sizeof seen[k].input);
                    memcpy(seen[k].labels, b->labels + o, sizeof seen[k].labels);
                    memcpy(seen[k].kind, b->kind + o, sizeof seen[k].kind);
                    for (int t = 0; t < WIN_T; t++) selected += b->kind[o + t] != KIND_NOT_SELECTED;
                    nseen++;
                    continue;
                }
                again++;
                same += !memcmp(seen[k].input, b->input + o, sizeof seen[k].input) &&
                        !memcmp(seen[k].labels, b->labels + o, sizeof seen[k].labels) &&
                        !memcmp(seen[k].kind, b->kind + o, sizeof seen[k].kind);
            }
        }
        print_message("%s: %d windows, drawn again %d times, with the same mask %d times\n", st ? "static" : "dynamic",
                      nseen, again, same);
        assert_int_equal(nseen, WIN_N);
        assert_int_equal(again, WIN_STEPS * WIN_N - WIN_N);
        assert_true(selected > 0); /* there is a mask to keep: 8 x 14 tokens at 15% */
        if (st) {
            assert_int_equal(same, again);
            /* each window its own mask, not one pattern for all */
            int differ = 0;
            for (int k = 1; k < WIN_N; k++) differ += memcmp(seen[0].kind, seen[k].kind, sizeof seen[0].kind) != 0;
            assert_true(differ > 0);
        } else {
            assert_true(same < again / 10);
        }
        /* the fixed set is the seed's: another seed draws another, the same seed the same again */
        size_t windows[WIN_N];
        memcpy(windows, m->windows, sizeof windows);
        kit_reset(&r, 4);
        assert_memory_not_equal(windows, m->windows, sizeof windows);
        kit_reset(&r, 3);
        assert_memory_equal(windows, m->windows, sizeof windows);
        kit_free(&r);
    }
    /* static masking over the whole text still selects 15% (a generator per window, not one
       that repeats): binomial z-test at about p = 1e-6 */
    char *argv[] = {"fmlab-mlm", "--headless", "--set", "masking=static", NULL};
    open_run(&r, 4, argv);
    Mlm *m = KIT_SELF(&r, Mlm);
    for (int step = 0; step < 30; step++) kit_next_batch(&r);
    double n = (double)m->tally[4], sel = (double)(m->tally[1] + m->tally[2] + m->tally[3]);
    double z = (sel - 0.15 * n) / sqrt(n * 0.15 * 0.85);
    print_message("static masking, whole text: %.0f of %.0f selected (z = %.2f)\n", sel, n, z);
    assert_true(n > 20000 && fabs(z) < 5);
    kit_free(&r);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_proportions),
#ifndef EXERCISE
        cmocka_unit_test(test_training_smoke),
        cmocka_unit_test(test_rewind),
        cmocka_unit_test(test_trained),
        cmocka_unit_test(test_static_masking),
#endif
    };
    return cmocka_run_group_tests_name("mlm", tests, NULL, NULL);
}
