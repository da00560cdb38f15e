/* test_icl.c — fmlab-icl's objective: the rows it trains on, the held-out prompts, the
 * induction score, the probe, and a short training run.
 *
 * The data: in a few-shot row the digit after a letter seen earlier is the digit shown then
 * (the context determines it), letters and digits alternate, at most `domain` letters appear;
 * the code differs from row to row (two rows agree on a shared letter's digit 1 time in 10: a
 * binomial test); a k-shot prompt has exactly k pairs of distinct letters and a query among
 * them whose answer is its digit; a repeated segment is distinct symbols then the same again.
 * The induction score: 1 for a perfect induction pattern, the hand-computed mean of 1/(i+1)
 * for even attention, 0 for attention on the token itself. Built twice: as the lesson's test,
 * and with -DEXERCISE against the student's exercise_induction_score (suite exercise). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lessons/icl/lesson.h"
#include "tests/testutil.h"

#ifdef EXERCISE
float exercise_induction_score(const float *attn, int T, int L);
#define INDUCTION exercise_induction_score
#else
#define INDUCTION icl_induction_score
#endif

#define EXPECT(cond, ...)                                                                             \
    do {                                                                                              \
        if (!(cond)) fail_msg(__VA_ARGS__);                                                           \
    } while (0)

/* ---- the induction score on hand-made patterns ---- */

static void test_induction_score(void **state)
{
    (void)state;
    for (int L = 2; L <= 16; L += 7) {
        int T = 2 * L;
        float *a = calloc((size_t)T * T, sizeof *a);
        /* perfect: every query of the copy puts all its attention on i-L+1; the first half on itself */
        for (int i = 0; i < T; i++) a[(size_t)i * T + (i >= L ? i - L + 1 : i)] = 1;
        float s = INDUCTION(a, T, L);
        EXPECT(fabsf(s - 1) < 1e-6f, "L=%d: a perfect induction pattern scores %g, not 1", L, (double)s);
        /* even attention over the keys a causal query may read: the mean of 1/(i+1) over the copy */
        double want = 0;
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++) a[(size_t)i * T + j] = j <= i ? 1.0f / (float)(i + 1) : 0;
        for (int i = L; i < T; i++) want += 1.0 / (i + 1);
        want /= L;
        s = INDUCTION(a, T, L);
        EXPECT(fabs(s - want) < 1e-6, "L=%d: even attention scores %g, by hand %g", L, (double)s, want);
        EXPECT(L < 16 || s < 0.05, "L=16: even attention should score near 0, got %g", (double)s);
        /* attention on the token itself, or on the earlier occurrence (not the one after it): 0 */
        memset(a, 0, (size_t)T * T * sizeof *a);
        for (int i = 0; i < T; i++) a[(size_t)i * T + i] = 1;
        s = INDUCTION(a, T, L);
        EXPECT(fabsf(s) < 1e-6f, "L=%d: attention on the token itself scores %g, not 0", L, (double)s);
        memset(a, 0, (size_t)T * T * sizeof *a);
        for (int i = 0; i < T; i++) a[(size_t)i * T + (i >= L ? i - L : i)] = 1;
        s = INDUCTION(a, T, L);
        EXPECT(fabsf(s) < 1e-6f, "L=%d: attention on the earlier occurrence itself scores %g, not 0 (the induction head "
               "looks at the token AFTER it)", L, (double)s);
        /* half on the induction target: 0.5 */
        memset(a, 0, (size_t)T * T * sizeof *a);
        for (int i = 0; i < T; i++) {
            a[(size_t)i * T + i] += 0.5f;
            a[(size_t)i * T + (i >= L ? i - L + 1 : i)] += 0.5f;
        }
        s = INDUCTION(a, T, L);
        EXPECT(fabsf(s - 0.5f) < 1e-6f, "L=%d: half the attention on the target scores %g, not 0.5", L, (double)s);
        free(a);
    }
}

#ifndef EXERCISE
static void test_previous_score(void **state)
{
    (void)state;
    int T = 10;
    float a[100] = {0};
    for (int i = 0; i < T; i++) a[i * T + (i ? i - 1 : 0)] = 1;
    assert_near(icl_previous_score(a, T), 1, 1e-6);
    memset(a, 0, sizeof a);
    for (int i = 0; i < T; i++) a[i * T + i] = 1;
    assert_near(icl_previous_score(a, T), 0, 1e-6);
}

/* ---- the data ---- */

static void test_fewshot_rows(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 11, 0);
    enum { T = 32, ROWS = 4000 };
    int32_t row[T], prev_code[ICL_V];
    bool prev_has[ICL_V] = {false};
    long shared = 0, agree = 0;
    for (int n = 0; n < ROWS; n++) {
        int domain = 2 + n % 25;
        icl_fewshot_row(&r, T, domain, row);
        int code[ICL_V];
        bool has[ICL_V] = {false};
        int distinct = 0;
        uint8_t role[T];
        icl_roles(row, T, role);
        for (int t = 0; t < T; t += 2) {
            EXPECT(icl_is_letter(row[t]) && icl_is_digit(row[t + 1]), "row %d: position %d is not a letter then a digit", n, t);
            if (has[row[t]]) {
                /* the context determines it: the digit shown after this letter before */
                EXPECT(row[t + 1] == code[row[t]], "row %d: letter at %d maps to two digits in one row", n, t);
                EXPECT(role[t] == ROLE_X_SEEN && role[t + 1] == ROLE_Y_ANSWER, "row %d: roles at %d", n, t);
            } else {
                EXPECT(role[t] == ROLE_X_NEW && role[t + 1] == ROLE_Y_FREE, "row %d: roles at %d", n, t);
                has[row[t]] = true;
                code[row[t]] = row[t + 1];
                distinct++;
            }
        }
        EXPECT(distinct <= domain, "row %d: %d letters, domain %d", n, distinct, domain);
        /* a fresh code: a letter of this row and the one before agrees on its digit 1 time in 10 */
        for (int v = 0; v < ICL_V; v++) {
            if (has[v] && prev_has[v]) {
                shared++;
                agree += code[v] == prev_code[v];
            }
            prev_has[v] = has[v];
            prev_code[v] = has[v] ? code[v] : -1;
        }
    }
    double p = 0.1, z = (agree - shared * p) / sqrt(shared * p * (1 - p));
    EXPECT(shared > 5000, "only %ld shared letters", shared);
    EXPECT(fabs(z) < 5.0, "rows agree on a shared letter's digit %ld of %ld times (%.3f; a fresh code: 0.1, z = %.1f)", agree,
           shared, (double)agree / (double)shared, z);
}

static void test_episodes(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 5, 3);
    for (int s = 0; s < ICL_NSHOTS; s++) {
        int k = icl_shots[s];
        int32_t ids[2 * 8 + 1];
        long counts[ICL_DIGITS] = {0}, at[8] = {0};
        int n = 20000;
        for (int e = 0; e < n; e++) {
            int32_t ans = icl_episode(&r, k, ids);
            EXPECT(icl_is_digit(ans), "k=%d: the answer is not a digit", k);
            EXPECT(icl_is_letter(ids[2 * k]), "k=%d: the query is not a letter", k);
            int pairs = 0, found = -1;
            for (int i = 0; i < k; i++) {
                EXPECT(icl_is_letter(ids[2 * i]) && icl_is_digit(ids[2 * i + 1]), "k=%d: pair %d", k, i);
                for (int j = 0; j < i; j++) EXPECT(ids[2 * j] != ids[2 * i], "k=%d: letter repeated among the examples", k);
                pairs++;
                if (ids[2 * i] == ids[2 * k]) found = i;
            }
            EXPECT(pairs == k, "k=%d: %d examples", k, pairs);
            if (k) {
                /* the answer is determined: the digit after the query's example */
                EXPECT(found >= 0, "k=%d: the query is not among the examples", k);
                EXPECT(ans == ids[2 * found + 1], "k=%d: the answer is not the digit shown for the query", k);
                at[found]++;
            }
            counts[ans - ICL_DIGIT0]++;
        }
        /* the answer's digit is uniform (chi-square, 9 dof, p = 1e-6: 42.6), and so is the query's example */
        double chi = 0;
        for (int d = 0; d < ICL_DIGITS; d++) chi += pow(counts[d] - n / 10.0, 2) / (n / 10.0);
        EXPECT(chi < 42.6, "k=%d: answers not uniform over digits (chi-square %.1f)", k, chi);
        for (int i = 0; i < k; i++)
            EXPECT(fabs(at[i] - (double)n / k) < 6 * sqrt((double)n / k), "k=%d: the query is example %d %ld times of %d", k,
                   i, at[i], n);
    }
}

static void test_repeat_and_text(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 2, 0);
    for (int T = 8; T <= 72; T += 16) {
        int32_t row[72];
        icl_repeat_row(&r, T, row);
        for (int i = 0; i < T / 2; i++) {
            EXPECT(row[T / 2 + i] == row[i], "T=%d: the copy differs at %d", T, i);
            EXPECT(icl_is_letter(row[i]) || icl_is_digit(row[i]), "T=%d: not a symbol", T);
            for (int j = 0; j < i; j++) EXPECT(row[i] != row[j], "T=%d: the segment repeats a symbol", T);
        }
    }
    int32_t out[64];
    size_t n = icl_text_tokens("Call me Ishmael. Some years—2 ago, the whale's", out, 64);
    const char *want = "call_me_ishmael_some_years_2_ago_the_whales";
    EXPECT(n == strlen(want), "%zu tokens, want %zu", n, strlen(want));
    for (size_t i = 0; i < n && i < strlen(want); i++) {
        char c = want[i];
        int32_t id = c == '_' ? ICL_GAP : c >= '0' && c <= '9' ? ICL_DIGIT0 + (c - '0') : ICL_LETTER0 + (c - 'a');
        EXPECT(out[i] == id, "token %zu: %d, want '%c'", i, out[i], c);
    }
}

/* ---- the lesson ---- */

static void start(Run *r, const char *extra_set)
{
    RunOptions o;
    char *args[] = {"fmlab-icl", "--headless", "--seed", "1", "--threads", "1", "--set", (char *)extra_set, NULL};
    assert_int_equal(runtime_parse(8, args, &icl_lesson.info, &o), -1);
    assert_int_equal(kit_init(r, &icl_lesson, &o), -1);
}

static void test_probe(void **state)
{
    (void)state;
    static Run r;
    start(&r, "seq_len=12");
    static IclProbe p;
    icl_probe(&r, kit_model(&r, 0), "C 7, a 2; f→9 a", &p);
    assert_int_equal(p.n, 7);
    const int32_t want[] = {ICL_LETTER0 + 2, ICL_DIGIT0 + 7, ICL_LETTER0, ICL_DIGIT0 + 2, ICL_LETTER0 + 5, ICL_DIGIT0 + 9,
                            ICL_LETTER0};
    for (int i = 0; i < 7; i++) assert_int_equal(p.ids[i], want[i]);
    assert_int_equal(p.ignored, 1); /* the arrow */
    assert_string_equal(p.ignored_example, "→");
    assert_int_equal(p.expected, ICL_DIGIT0 + 2);
    assert_int_equal(p.expected_at, 3);
    assert_false(p.cut);
    double sum = 0;
    for (int j = 0; j < p.n; j++) sum += p.attn[j]; /* layer 1 head 1's row sums to 1 */
    assert_near(sum, 1, 1e-5);
    for (int k = 0; k < PROBE_TOP; k++) assert_true(p.top[k] >= TOK_NUM_SPECIAL && p.top[k] < ICL_V);
    /* a prompt longer than seq_len keeps its end */
    icl_probe(&r, kit_model(&r, 0), "a1 b2 c3 d4 e5 f6 g7 h8", &p);
    assert_true(p.cut);
    assert_int_equal(p.n, 12);
    assert_int_equal(p.ids[0], ICL_LETTER0 + 2);
    assert_int_equal(p.expected, -1); /* ends with a digit */
    icl_probe(&r, kit_model(&r, 0), "  ,, ", &p);
    assert_int_equal(p.n, 0);
    kit_free(&r);
}

static void test_shares(void **state)
{
    (void)state;
    static Run r;
    start(&r, "seq_len=8");
    int text = runtime_key_index(&icl_lesson.info, "text_share"), rep = runtime_key_index(&icl_lesson.info, "repeat_share");
    kit_set(&r, rep, 0.9); /* 0.5 + 0.9 > 1: text gives way */
    assert_near(r.opt.value[text], 0.1, 1e-9);
    kit_set(&r, text, 1);
    assert_near(r.opt.value[rep], 0, 1e-9);
    kit_set(&r, rep, 0.5);
    kit_set(&r, text, 0.25);
    /* the mix drawn: 25% text, 50% repeated, 25% few-shot (multinomial, 8 rows x 3000 batches) */
    long kinds[3] = {0};
    for (int b = 0; b < 3000; b++) {
        kit_next_batch(&r);
        const Icl *m = KIT_SELF(&r, Icl);
        for (int i = 0; i < m->batch.lm.B; i++) kinds[m->batch.kind[i]]++;
    }
    double n = 3000.0 * KIT_SELF(&r, Icl)->batch.lm.B, want[3] = {0.25, 0.5, 0.25};
    for (int k = 0; k < 3; k++)
        EXPECT(fabs(kinds[k] - n * want[k]) < 5 * sqrt(n * want[k] * (1 - want[k])), "kind %d drawn %ld of %.0f", k, kinds[k], n);
    kit_free(&r);
    RunOptions o;
    char *bad[] = {"fmlab-icl", "--headless", "--set", "text_share=0.8", "--set", "repeat_share=0.5", NULL};
    assert_int_equal(runtime_parse(6, bad, &icl_lesson.info, &o), -1);
    assert_int_equal(kit_init(&r, &icl_lesson, &o), 2); /* a usage error */
    kit_free(&r);
}

/* The loss equals the shifted cross-entropy computed from the logits in double. */
static void test_loss(void **state)
{
    (void)state;
    static Run r;
    start(&r, "seq_len=16");
    for (int step = 0; step < 3; step++) {
        kit_next_batch(&r);
        float parts[KIT_MAX_PARTS], extra[KIT_MAX_EXTRA];
        Tensor *l = icl_lesson.loss(&r, parts, extra);
        const Icl *m = KIT_SELF(&r, Icl);
        double sum = 0;
        int n = 0, T = r.T;
        for (int i = 0; i < r.B; i++)
            for (int t = 0; t + 1 < T; t++) {
                const float *x = m->logits->data + ((size_t)i * T + t) * ICL_V;
                double mx = -INFINITY, z = 0;
                for (int v = 0; v < ICL_V; v++) mx = x[v] > mx ? x[v] : mx;
                for (int v = 0; v < ICL_V; v++) z += exp(x[v] - mx);
                sum += log(z) - (x[m->batch.lm.ids[(size_t)i * T + t + 1]] - mx);
                n++;
            }
        assert_near(l->data[0], sum / n, 1e-5);
        tape_reset(&r.tape);
    }
    kit_free(&r);
}

/* The lesson's claim at its defaults with seed 1: by step 700 the phase change is behind (it
 * comes at step 550-600): an induction head, the copy far cheaper than the segment, and the
 * 4-shot prompts answered, while zero-shot stays near chance. With one layer, the same 700
 * steps form no induction head. */
static void train(Run *r, const char *set, long steps, float *extra)
{
    start(r, set);
    char what[128];
    for (long s = 0; s < steps; s++) {
        kit_next_batch(r);
        bool div;
        kit_step(r, true, &div, what, sizeof what);
        assert_false(div);
    }
    kit_evaluate(r, extra);
    kit_free(r);
}

static void test_training(void **state)
{
    (void)state;
    static Run r;
    float two[KIT_MAX_EXTRA], one[KIT_MAX_EXTRA];
    train(&r, "num_hidden_layers=2", 700, two);
    EXPECT(two[ICL_EVAL_LOSS] < 2.6f, "held-out loss %.3f after 700 steps (uniform: ln 42 = 3.74)", (double)two[ICL_EVAL_LOSS]);
    EXPECT(two[ICL_INDUCTION] > 0.5f, "best induction score %.2f after 700 steps", (double)two[ICL_INDUCTION]);
    EXPECT(two[ICL_SCORE] > 1.5f, "in-context learning score %.2f nats after 700 steps", (double)two[ICL_SCORE]);
    EXPECT(two[ICL_ACC4] > 0.8f, "4-shot accuracy %.2f after 700 steps", (double)two[ICL_ACC4]);
    EXPECT(two[ICL_ACC0] < 0.2f, "0-shot accuracy %.2f: nothing in the prompt determines it", (double)two[ICL_ACC0]);
    train(&r, "num_hidden_layers=1", 700, one);
    EXPECT(one[ICL_INDUCTION] < 0.3f, "one layer: best induction score %.2f", (double)one[ICL_INDUCTION]);
    EXPECT(one[ICL_ACC4] < 0.7f, "one layer: 4-shot accuracy %.2f", (double)one[ICL_ACC4]);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_induction_score),
#ifndef EXERCISE
        cmocka_unit_test(test_previous_score),
        cmocka_unit_test(test_fewshot_rows),
        cmocka_unit_test(test_episodes),
        cmocka_unit_test(test_repeat_and_text),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_shares),
        cmocka_unit_test(test_loss),
        cmocka_unit_test(test_training),
#endif
    };
    return cmocka_run_group_tests_name("icl", tests, NULL, NULL);
}
