/* test_nsp.c — fmlab-nsp's objective and training.
 *
 * Packing a pair (corpus_pack_pair, and the student's exercise.c when built as the exercise
 * test): the exact row for many lengths, truncation of the longer side first from either end.
 * The lesson's batches, for both objectives over many draws: [CLS] A [SEP] B [SEP] [PAD]...,
 * segment ids, attention_mask, A and B non-empty, the MLM corruption only on the text, IsNext
 * and SOP's in-order pairs running text, NotNext's B from another chapter, SOP's swapped pairs
 * running text when swapped back; the labels split 50/50 (binomial test at about p = 1e-6).
 * The word-overlap baseline; the probe; and a training smoke test with stated bounds. */
#define _POSIX_C_SOURCE 200809L
#include "lessontest.h"

#include <stdlib.h>
#include <string.h>

#include "lessons/nsp/lesson.h"

#ifdef EXERCISE
int exercise_pack_pair(Rng *r, const int32_t *a, int na, const int32_t *b, int nb, int T, int32_t *ids, int32_t *types,
                       uint8_t *mask);
#define PACK exercise_pack_pair
#else
#define PACK corpus_pack_pair
#endif

#define EXPECT(cond, ...)                                                                             \
    do {                                                                                              \
        if (!(cond)) fail_msg(__VA_ARGS__);                                                           \
    } while (0)

/* The row written by hand from the contract: the truncation replayed with a copy of the RNG. */
static int expected_row(Rng r, const int32_t *a, int na, const int32_t *b, int nb, int T, int32_t *ids, int32_t *types,
                        uint8_t *mask)
{
    int a0 = 0, b0 = 0;
    while (na + nb > T - 3) {
        bool front = rng_bernoulli(&r, 0.5f);
        if (na > nb) {
            a0 += front;
            na--;
        } else {
            b0 += front;
            nb--;
        }
    }
    int k = 0;
    ids[k] = TOK_CLS, types[k] = 0, mask[k++] = 1;
    for (int i = 0; i < na; i++) ids[k] = a[a0 + i], types[k] = 0, mask[k++] = 1;
    ids[k] = TOK_SEP, types[k] = 0, mask[k++] = 1;
    for (int i = 0; i < nb; i++) ids[k] = b[b0 + i], types[k] = 1, mask[k++] = 1;
    ids[k] = TOK_SEP, types[k] = 1, mask[k++] = 1;
    int len = k;
    for (; k < T; k++) ids[k] = TOK_PAD, types[k] = 0, mask[k] = 0;
    return len;
}

static void test_pack_pair(void **state)
{
    (void)state;
    int32_t a[80], b[80];
    for (int i = 0; i < 80; i++) a[i] = 100 + i, b[i] = 500 + i;
    /* a hand-made case first: A 20 tokens, B 5, T 16: A is cut to 8 (room 13), B untouched */
    {
        int32_t ids[16], types[16];
        uint8_t mask[16];
        Rng r;
        rng_seed(&r, 3, 0);
        int len = PACK(&r, a, 20, b, 5, 16, ids, types, mask);
        EXPECT(len == 16, "A of 20 and B of 5 in 16 tokens: length %d, want 16 (cut A to 8)", len);
        EXPECT(ids[0] == TOK_CLS && ids[9] == TOK_SEP && ids[15] == TOK_SEP, "[CLS] at 0, [SEP] at 9 and 15 expected");
        for (int i = 0; i < 5; i++) EXPECT(ids[10 + i] == b[i], "B was cut although A was the longer side");
        for (int i = 2; i < 9; i++) EXPECT(ids[i] == ids[i - 1] + 1, "A is not one contiguous piece of the original A");
    }
    for (int trial = 0; trial < 3000; trial++) {
        Rng pick;
        rng_seed(&pick, 77, (uint64_t)trial);
        int T = 5 + (int)rng_below(&pick, 60), na = 1 + (int)rng_below(&pick, 70), nb = 1 + (int)rng_below(&pick, 70);
        int32_t ids[80], types[80], wids[80], wtypes[80];
        uint8_t mask[80], wmask[80];
        Rng r, keep;
        rng_seed(&r, 5, (uint64_t)trial);
        keep = r;
        int len = PACK(&r, a, na, b, nb, T, ids, types, mask);
        int want = expected_row(keep, a, na, b, nb, T, wids, wtypes, wmask);
        EXPECT(len == want, "A %d, B %d tokens, T %d: returned length %d, want %d", na, nb, T, len, want);
        for (int i = 0; i < T; i++) {
            EXPECT(ids[i] == wids[i], "A %d, B %d, T %d: ids[%d] is %d, want %d", na, nb, T, i, ids[i], wids[i]);
            EXPECT(types[i] == wtypes[i], "A %d, B %d, T %d: token_type_ids[%d] is %d, want %d", na, nb, T, i, types[i],
                   wtypes[i]);
            EXPECT(mask[i] == wmask[i], "A %d, B %d, T %d: attention_mask[%d] is %d, want %d", na, nb, T, i, mask[i],
                   wmask[i]);
        }
    }
}

#ifndef EXERCISE
static Run *start(const char *const *flags) { return lesson_start(&nsp_lesson, NULL, flags); }

static void stop(Run *r) { lesson_stop(r); }

/* where ids[0..n) occurs in the corpus's text (the first place from `from` on), or -1 */
static long find_run(const Corpus *c, const int32_t *ids, int n, long from)
{
    for (size_t s = (size_t)from; s + (size_t)n <= c->nids; s++)
        if (c->ids[s] == ids[0] && !memcmp(c->ids + s, ids, (size_t)n * 4)) return (long)s;
    return -1;
}

/* the chapter (document) that holds token position pos */
static int chapter_at(const Corpus *c, long pos)
{
    for (int d = 0; d < c->ndocs; d++)
        if ((size_t)pos < c->sent_start[c->doc_start[d + 1]]) return d;
    return -1;
}

static void test_batches(void **state)
{
    (void)state;
    enum { DRAWS = 120 };
    for (int task = OBJ_NSP; task <= OBJ_SOP; task++) {
        Run *r = start((const char *const[]){"--set", task ? "objective=sop" : "objective=nsp", "--batch", "32", NULL});
        Nsp *m = KIT_SELF(r, Nsp);
        NspBatch *b = &m->batch;
        int T = r->T, B = r->B;
        long ones = 0, n = 0, contiguous = 0, checked = 0, other_doc = 0, not_next = 0;
        long padded[2] = {0}, count[2] = {0};
        for (int draw = 0; draw < DRAWS; draw++) {
            kit_next_batch(r);
            assert_int_equal(b->task, task);
            for (int i = 0; i < B; i++) {
                const int32_t *row = b->original + (size_t)i * T, *in = b->input + (size_t)i * T,
                              *ty = b->token_types + (size_t)i * T;
                const uint8_t *mk = b->attention_mask + (size_t)i * T, *kind = b->kind + (size_t)i * T;
                int sep1 = -1, sep2 = -1;
                for (int t = 1; t < T; t++)
                    if (row[t] == TOK_SEP) {
                        if (sep1 < 0) sep1 = t;
                        else if (sep2 < 0) sep2 = t;
                    }
                assert_int_equal(row[0], TOK_CLS);
                assert_true(sep1 >= 2 && sep2 >= sep1 + 2); /* A and B non-empty */
                for (int t = 0; t < T; t++) {
                    assert_int_equal(ty[t], t <= sep1 ? 0 : t <= sep2 ? 1 : 0);
                    assert_int_equal(mk[t], t <= sep2);
                    if (t > sep2) assert_int_equal(row[t], TOK_PAD);
                    if (t > 0 && t != sep1 && t < sep2 && vocab_is_special(row[t]) && row[t] != TOK_UNK)
                        fail_msg("pair %d position %d: special token %d inside the text", i, t, row[t]);
                    if (vocab_is_special(row[t])) { /* [CLS] [SEP] [PAD] are never selected */
                        assert_int_equal(kind[t], KIND_NOT_SELECTED);
                        assert_int_equal(in[t], row[t]);
                    }
                    if (kind[t] == KIND_NOT_SELECTED) assert_int_equal(b->labels[(size_t)i * T + t], IGNORE_INDEX);
                    else assert_int_equal(b->labels[(size_t)i * T + t], row[t]);
                }
                int label = b->pair_label[i];
                assert_true(label == 0 || label == 1);
                ones += label;
                count[label]++;
                padded[label] += sep2 < T - 1;
                n++;
                /* the text (segments of 8 tokens or more: a shorter run may occur in several
                   places): A and B are each running text. In order (IsNext, SOP's label 0, or
                   SOP's label 1 swapped back) the second follows the first in one chapter, with
                   only what truncation cut from their ends between them; NotNext's B is from
                   another chapter */
                const int32_t *A = row + 1, *Bs = row + sep1 + 1;
                int na = sep1 - 1, nb = sep2 - sep1 - 1;
                if (na >= 8 && nb >= 8 && draw < 40) {
                    bool swapped = task == OBJ_SOP && label == 1;
                    long pa = find_run(&m->train, A, na, 0), pb = find_run(&m->train, Bs, nb, 0);
                    /* a phrase can recur: the second segment is looked for after the first */
                    if (!(task == OBJ_NSP && label == 1) && pa >= 0 && pb >= 0) {
                        if (swapped) pa = find_run(&m->train, A, na, pb + nb);
                        else pb = find_run(&m->train, Bs, nb, pa + na);
                    }
                    assert_true(pa >= 0 && pb >= 0);
                    int da = chapter_at(&m->train, pa), db = chapter_at(&m->train, pb);
                    assert_int_equal(da, b->docs[2 * i]);
                    assert_int_equal(db, b->docs[2 * i + 1]);
                    if (task == OBJ_NSP && label == 1) {
                        not_next++;
                        other_doc += da != db;
                    } else {
                        long gap = swapped ? pa - (pb + nb) : pb - (pa + na);
                        checked++;
                        contiguous += da == db && gap >= 0 && gap <= 512;
                    }
                }
                if (task == OBJ_NSP && label == 1) assert_int_not_equal(b->docs[2 * i], b->docs[2 * i + 1]);
            }
        }
        print_message("%s: %ld pairs, %ld labelled 1; %ld of %ld in-order pairs running text; %ld of %ld NotNext from "
                      "another chapter\n", task ? "sop" : "nsp", n, ones, contiguous, checked, other_doc, not_next);
        assert_int_equal(contiguous, checked);
        assert_true(checked > 100);
        if (task == OBJ_NSP) {
            assert_true(not_next > 50);
            assert_int_equal(other_doc, not_next);
        }
        /* a pair's length says nothing about its label: as many IsNext as NotNext pairs end in
           padding (two-proportion z-test at about p = 1e-6) */
        double p0 = (double)padded[0] / count[0], p1 = (double)padded[1] / count[1], pp = (double)(padded[0] + padded[1]) / n;
        double zp = (p0 - p1) / sqrt(pp * (1 - pp) * (1.0 / count[0] + 1.0 / count[1]));
        print_message("%s: padded pairs %.3f with label 0, %.3f with label 1\n", task ? "sop" : "nsp", p0, p1);
        assert_true(fabs(zp) < 4.89);
        /* the labels: Bernoulli(1/2), two-sided binomial test at about p = 1e-6 */
        double z = ((double)ones - 0.5 * (double)n) / sqrt(0.25 * (double)n);
        assert_true(fabs(z) < 4.89);
        stop(r);
    }
}

/* The longer side is cut first: with seq_len 12 most pairs do not fit, and then the two
 * segments end up as long as each other, or the shorter one whole. */
static void test_truncation(void **state)
{
    (void)state;
    Run *r = start((const char *const[]){"--set", "seq_len=12", "--batch", "64", NULL});
    Nsp *m = KIT_SELF(r, Nsp);
    int cut = 0;
    for (int draw = 0; draw < 20; draw++) {
        kit_next_batch(r);
        for (int i = 0; i < r->B; i++) {
            const int32_t *row = m->batch.original + (size_t)i * r->T;
            int sep1 = 1;
            while (row[sep1] != TOK_SEP) sep1++;
            int na = sep1 - 1, nb = 12 - 3 - na;
            if (row[11] != TOK_SEP) continue; /* it fitted */
            cut++;
            assert_true(na >= 1 && nb >= 1);
            /* after cutting the longer side down, the two differ by at most one token, unless
               the shorter was shorter than half the room and was left whole */
            if (abs(na - nb) > 1) {
                int shorter = na < nb ? na : nb;
                assert_true(shorter < (12 - 3) / 2);
            }
        }
    }
    assert_true(cut > 500);
    stop(r);
}

static void test_overlap(void **state)
{
    (void)state;
    /* [CLS] a b a [SEP] b c [SEP] [PAD]: tokens {a,b} and {b,c}: one shared */
    int32_t ids[9] = {TOK_CLS, 10, 11, 10, TOK_SEP, 11, 12, TOK_SEP, TOK_PAD};
    int32_t types[9] = {0, 0, 0, 0, 0, 1, 1, 1, 0};
    uint8_t mask[9] = {1, 1, 1, 1, 1, 1, 1, 1, 0};
    assert_float_equal(nsp_overlap(ids, types, mask, 9, NULL), 1.0, 1e-6);
    ids[6] = 10; /* B = b a: both shared, a counted once though A has it twice */
    assert_float_equal(nsp_overlap(ids, types, mask, 9, NULL), 2.0, 1e-6);
    uint8_t skip[16] = {0};
    skip[10] = 1; /* a frequent token left out */
    assert_float_equal(nsp_overlap(ids, types, mask, 9, skip), 1.0, 1e-6);
    ids[8] = 12; /* padding is not read, whatever it holds */
    assert_float_equal(nsp_overlap(ids, types, mask, 9, NULL), 2.0, 1e-6);
    ids[5] = 13, ids[6] = 14; /* nothing shared */
    assert_float_equal(nsp_overlap(ids, types, mask, 9, NULL), 0.0, 1e-6);
    /* the baseline in the lesson: above chance on NSP (topic), at chance on SOP (the same words
       swapped), within the binomial spread of its 2048 held-out pairs (5 sigma) */
    Run *r = start(NULL);
    Nsp *m = KIT_SELF(r, Nsp);
    double sd = sqrt(0.25 / NSP_OVERLAP_PAIRS);
    print_message("word overlap: threshold %.3f, NSP %.3f, SOP %.3f; IsNext overlap %.3f, NotNext %.3f\n",
                  (double)m->overlap.threshold, m->overlap.nsp, m->overlap.sop, m->overlap.same_doc, m->overlap.other_doc);
    assert_true(m->overlap.nsp > 0.5 + 5 * sd);
    assert_true(fabs(m->overlap.sop - 0.5) < 5 * sd);
    assert_true(m->overlap.same_doc > m->overlap.other_doc);
    assert_true(r->refs[REF_OVERLAP] == m->overlap.nsp);
    kit_set(r, runtime_key_index(&r->lesson->info, "objective"), OBJ_SOP); /* the line follows the task */
    assert_true(r->refs[REF_OVERLAP] == m->overlap.sop);
    stop(r);
}

static void test_probe(void **state)
{
    (void)state;
    Run *r = start(NULL);
    NspProbe p;
    nsp_probe(r, kit_model(r, 0), "the whale swam away. the ship followed it", &p);
    assert_false(p.one);
    for (int dir = 0; dir < 2; dir++) {
        assert_true(p.p[dir] > 0 && p.p[dir] < 1);
        assert_int_equal(p.ids[dir][0], TOK_CLS);
        assert_int_equal(p.ids[dir][p.split[dir] - 1], TOK_SEP);
        assert_int_equal(p.ids[dir][p.len[dir] - 1], TOK_SEP);
    }
    /* both ways round: the same tokens, segments swapped */
    assert_int_equal(p.len[0], p.len[1]);
    assert_int_equal(p.split[0] - 2 + p.split[1] - 2, p.len[0] - 3);
    NspProbe q;
    nsp_probe(r, kit_model(r, 0), "the whale swam away. | the ship followed it", &q);
    assert_memory_equal(q.ids, p.ids, sizeof p.ids);
    assert_float_equal(q.p[0], p.p[0], 1e-6);
    nsp_probe(r, kit_model(r, 0), "only one sentence here", &q);
    assert_true(q.one);
    nsp_probe(r, kit_model(r, 0), "a | ", &q);
    assert_true(q.one);
    stop(r);
}

/* Training: 300 steps at the defaults, seed 1: the masked LM falls from ln 2000 ≈ 7.6 below
 * 6.35 nats on held-out pairs, while the pair loss stays near ln 2 (NSP is not learned this
 * early: the notes give the numbers); a reset to the same seed replays the run exactly. */
static void test_training_smoke(void **state)
{
    (void)state;
    Run *r = start((const char *const[]){"--seed", "1", NULL});
    float first = lesson_train(r, 300);
    float extra[KIT_MAX_EXTRA];
    kit_evaluate(r, extra);
    print_message("first batch %.3f; after 300 steps held-out mlm %.3f (accuracy %.3f), pair loss %.4f, NSP %.3f, SOP %.3f\n",
                  first, extra[NSP_EVAL_MLM_LOSS], extra[NSP_EVAL_MLM_ACCURACY], extra[NSP_EVAL_PAIR_LOSS],
                  extra[NSP_EVAL_NSP_ACCURACY], extra[NSP_EVAL_SOP_ACCURACY]);
    assert_true(first > 7.5f);
    assert_true(extra[NSP_EVAL_MLM_LOSS] < 6.35f);
    assert_true(fabsf(extra[NSP_EVAL_PAIR_LOSS] - logf(2.0f)) < 0.05f);
    /* the metrics row: loss = mlm + nsp */
    assert_int_equal(r->metrics.ncols, 4 + NSP_NEXTRA);
    assert_float_equal(metrics_get(&r->metrics, 299, 0), metrics_get(&r->metrics, 299, 1) + metrics_get(&r->metrics, 299, 2),
                       1e-5);
    assert_reset_replays(r, 1);
    /* switching the objective while it runs: the next batch is made of SOP pairs */
    kit_set(r, runtime_key_index(&r->lesson->info, "objective"), 1);
    kit_next_batch(r);
    assert_int_equal(KIT_SELF(r, Nsp)->batch.task, OBJ_SOP);
    kit_set(r, runtime_key_index(&r->lesson->info, "objective"), 2); /* a key press cycles round */
    assert_true(kit_value(r, "objective") == 0);
    stop(r);
}
/* The classifier learns: trained again and again on one batch, the pooler and the two-way
 * classifier get every one of its 32 pair labels right, and the pair loss falls from ln 2
 * below 0.1. (Gradients reach [CLS] through both heads; a broken pooler would stay at ln 2.) */
static void test_classifier_learns(void **state)
{
    (void)state;
    Run *r = start((const char *const[]){"--seed", "3", "--set", "warmup_steps=0", NULL});
    Nsp *m = KIT_SELF(r, Nsp);
    char what[128];
    kit_next_batch(r);
    float parts0 = 0;
    for (int s = 0; s < 200; s++) {
        bool div;
        kit_step(r, true, &div, what, sizeof what);
        assert_false(div);
        if (s == 0) parts0 = r->parts[1];
    }
    kit_step(r, false, &(bool){0}, what, sizeof what); /* the same batch, after the updates */
    int right = 0;
    for (int i = 0; i < r->B; i++) right += (m->p_is_next[i] < 0.5f) == (m->batch.pair_label[i] == 1);
    print_message("one batch, 200 steps: pair loss %.4f -> %.4f, %d of %d right\n", parts0, r->parts[1], right, r->B);
    assert_true(fabsf(parts0 - logf(2.0f)) < 0.1f);
    assert_true(r->parts[1] < 0.1f);
    assert_int_equal(right, r->B);
    stop(r);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_pair),
#ifndef EXERCISE
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_training_smoke),
        cmocka_unit_test(test_classifier_learns),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
