/* test_datasets.c — the tokenizer, the shipped corpora and the batches cut from them.
 *
 * Learning the vocabulary from the training chapters must give the shipped vocab.txt byte
 * for byte; WordPiece must cut words as BERT does; batches must have the exact structure
 * the lessons and EXPORT.md rely on, and their labels the stated proportions (binomial tests
 * at about p = 1e-6). Broken input files must give a message, not a crash. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datasets/corpus.h"
#include "datasets/tokenizer.h"

#define DATA FMLAB_DATASETS "/moby_dick"

static Vocab vocab;
static Corpus train;
static char tmpdir[64];

static int encode_str(const char *s, char *out, size_t cap)
{
    int32_t ids[256];
    int n = tokenizer_encode(&vocab, s, ids, 256);
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < n && i < 256; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s%s", i ? " " : "", vocab_token(&vocab, ids[i]));
    return n;
}

static void test_vocab_shipped(void **state)
{
    (void)state;
    assert_int_equal(vocab.size, 2000);
    const char *special[5] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(vocab_token(&vocab, i), special[i]);
        assert_true(vocab_is_special(i));
    }
    assert_false(vocab_is_special(5));
    assert_true(vocab_id(&vocab, "whale", 5) >= 0);
    assert_true(vocab_id(&vocab, "ahab", 4) >= 0);
    assert_int_equal(vocab_id(&vocab, "zzzz-not-a-token", 16), -1);
}

static void test_basic_split_and_wordpiece(void **state)
{
    (void)state;
    char out[2048];
    /* lower-cased, punctuation split off, the em dash a word of its own */
    encode_str("Call me Ishmael.", out, sizeof out);
    assert_string_equal(out, "call me is ##h ##m ##a ##el .");
    encode_str("ago\xe2\x80\x94never", out, sizeof out);
    assert_string_equal(out, "ago \xe2\x80\x94 never");
    encode_str("WHALE, whale!", out, sizeof out);
    assert_string_equal(out, "whale , whale !");
    /* continuation pieces carry ##, and the longest match comes first */
    int32_t ids[16];
    int n = tokenizer_encode_word(&vocab, "precisely", 9, ids, 16);
    assert_true(n >= 2);
    assert_true(vocab_starts_word(&vocab, ids[0]));
    for (int i = 1; i < n; i++) assert_false(vocab_starts_word(&vocab, ids[i]));
    /* a character never seen makes the whole word [UNK], as BERT does */
    n = tokenizer_encode(&vocab, "\xc3\xbc" "ber whale", ids, 16);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], TOK_UNK);
    /* a word over 100 bytes is [UNK] */
    char longw[160];
    memset(longw, 'a', 150);
    longw[150] = 0;
    n = tokenizer_encode(&vocab, longw, ids, 16);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], TOK_UNK);
    /* cap: the count is returned even when the buffer is smaller */
    n = tokenizer_encode(&vocab, "the whale the whale the whale", ids, 2);
    assert_int_equal(n, 6);
    assert_int_equal(tokenizer_encode(&vocab, "", ids, 16), 0);
    assert_int_equal(tokenizer_encode(&vocab, "   \t\n ", ids, 16), 0);
}

/* decode(encode(s)) gives back the lower-cased words of s, one space apart. */
static void test_roundtrip_on_corpus(void **state)
{
    (void)state;
    char buf[8192];
    for (int s = 0; s < train.nsent; s += 97) {
        const int32_t *ids = train.ids + train.sent_start[s];
        int n = corpus_sent_len(&train, s);
        size_t len = tokenizer_decode(&vocab, ids, n, buf, sizeof buf);
        assert_true(len < sizeof buf);
        int32_t again[1024];
        int m = tokenizer_encode(&vocab, buf, again, 1024);
        assert_int_equal(m, n);
        assert_memory_equal(again, ids, (size_t)n * sizeof *ids);
    }
    int32_t ids[3] = {vocab_id(&vocab, "harp", 4), vocab_id(&vocab, "##oon", 5), vocab_id(&vocab, "the", 3)};
    if (ids[0] >= 0 && ids[1] >= 0) {
        tokenizer_decode(&vocab, ids, 3, buf, sizeof buf);
        assert_string_equal(buf, "harpoon the");
    }
    /* decode into a small buffer is cut and terminated, and reports the full length */
    char small[4];
    size_t need = tokenizer_decode(&vocab, train.ids, 10, small, sizeof small);
    assert_true(need > 3);
    assert_int_equal(strlen(small), 3);
}

/* Learning from the training chapters reproduces the shipped vocab.txt exactly. */
static void test_learn_reproduces_vocab(void **state)
{
    (void)state;
    char **docs, err[256];
    int ndocs;
    assert_int_equal(corpus_read_documents(DATA "/train.txt", &docs, &ndocs, err, sizeof err), 0);
    assert_int_equal(ndocs, 125);
    Vocab learned;
    assert_int_equal(vocab_learn(&learned, (const char *const *)docs, ndocs, 2000, err, sizeof err), 0);
    assert_int_equal(learned.size, vocab.size);
    for (int i = 0; i < vocab.size; i++) assert_string_equal(vocab_token(&learned, i), vocab_token(&vocab, i));
    vocab_free(&learned);
    /* a size below the alphabet is refused with a reason */
    assert_int_equal(vocab_learn(&learned, (const char *const *)docs, ndocs, 20, err, sizeof err), -1);
    assert_non_null(strstr(err, "vocab_size 20"));
    /* a smaller vocabulary is a prefix of merges: every token of it is in the big one */
    assert_int_equal(vocab_learn(&learned, (const char *const *)docs, ndocs, 500, err, sizeof err), 0);
    assert_int_equal(learned.size, 500);
    for (int i = 0; i < learned.size; i++) assert_string_equal(vocab_token(&learned, i), vocab_token(&vocab, i));
    vocab_free(&learned);
    corpus_texts_free(docs, ndocs);
}

/* A text of more distinct adjacent pairs than a fixed table of 2^18 holds (600 CJK
 * characters, every two-character word of them: 360,000 pairs) learns its merge instead of
 * looping forever. */
static void test_learn_many_pairs(void **state)
{
    (void)state;
    enum { A = 600 };
    char *text = malloc((size_t)A * A * 7 + 1), *p = text, err[256];
    assert_non_null(text);
    for (int a = 0; a < A; a++)
        for (int b = 0; b < A; b++) {
            for (int k = 0; k < 2; k++) {
                unsigned c = 0x4E00u + (unsigned)(k ? b : a); /* 3 bytes of UTF-8 */
                *p++ = (char)(0xE0 | (c >> 12));
                *p++ = (char)(0x80 | ((c >> 6) & 0x3F));
                *p++ = (char)(0x80 | (c & 0x3F));
            }
            *p++ = ' ';
        }
    *p = 0;
    const char *texts[1] = {text};
    Vocab learned;
    /* the specials, each character as a word start and as "##" continuation, one merge */
    assert_int_equal(vocab_learn(&learned, texts, 1, TOK_NUM_SPECIAL + 2 * A + 1, err, sizeof err), 0);
    assert_int_equal(learned.size, TOK_NUM_SPECIAL + 2 * A + 1);
    /* every pair occurs once: the tie goes to the alphabetically first, the first two characters */
    assert_string_equal(vocab_token(&learned, learned.size - 1), "\xe4\xb8\x80\xe4\xb8\x80");
    vocab_free(&learned);
    free(text);
}

static void test_coverage(void **state)
{
    (void)state;
    /* WordPiece leaves (almost) nothing unknown, on training and held-out text */
    assert_int_equal(train.unk, 0);
    Corpus ev;
    char err[256];
    assert_int_equal(corpus_load(&ev, DATA "/eval.txt", &vocab, err, sizeof err), 0);
    assert_true(ev.ndocs == 11);
    print_message("eval: %zu tokens, %lld [UNK]\n", ev.nids, (long long)ev.unk);
    assert_true((double)ev.unk / (double)ev.nids < 1e-3);
    int64_t counts[2000];
    corpus_unigram(&ev, 2000, counts);
    int64_t total = 0;
    for (int i = 0; i < 2000; i++) total += counts[i];
    assert_int_equal(total, (int64_t)ev.nids);
    assert_int_equal(counts[TOK_PAD] + counts[TOK_CLS] + counts[TOK_SEP] + counts[TOK_MASK], 0);
    corpus_free(&ev);
    assert_int_equal(train.ndocs, 125);
    assert_true(train.nsent > 7000);
}

static void write_file(const char *name, const void *data, size_t n, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void test_bad_files(void **state)
{
    (void)state;
    char path[128], err[512];
    Corpus c;
    Vocab v;
    assert_int_equal(corpus_load(&c, "/nonexistent/corpus.txt", &vocab, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/corpus.txt"));
    write_file("empty.txt", "", 0, path, sizeof path);
    assert_int_equal(corpus_load(&c, path, &vocab, err, sizeof err), -1);
    assert_non_null(strstr(err, "empty"));
    write_file("binary.txt", "abc\0def\n", 8, path, sizeof path);
    assert_int_equal(corpus_load(&c, path, &vocab, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a text file"));
    write_file("blank.txt", "\n\n  \n", 5, path, sizeof path);
    assert_int_equal(corpus_load(&c, path, &vocab, err, sizeof err), -1);
    assert_non_null(strstr(err, "no text"));

    const char *bad_vocabs[][2] = {
        {"[PAD]\n[UNK]\n[CLS]\n[SEP]\n", "needs the 5 special tokens"},
        {"[UNK]\n[PAD]\n[CLS]\n[SEP]\n[MASK]\na\n", "line 1 must be [PAD]"},
        {"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n\nb\n", "line 7 is empty"},
        {"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\na\n", "repeats"},
    };
    for (size_t i = 0; i < sizeof bad_vocabs / sizeof bad_vocabs[0]; i++) {
        write_file("vocab.txt", bad_vocabs[i][0], strlen(bad_vocabs[i][0]), path, sizeof path);
        assert_int_equal(vocab_load(&v, path, err, sizeof err), -1);
        if (!strstr(err, bad_vocabs[i][1])) print_message("got \"%s\"\n", err);
        assert_non_null(strstr(err, bad_vocabs[i][1]));
    }
    assert_int_equal(vocab_load(&v, "/nonexistent/vocab.txt", err, sizeof err), -1);
    /* save and load again: the same tokens; CRLF files load too */
    snprintf(path, sizeof path, "%s/saved.txt", tmpdir);
    assert_int_equal(vocab_save(&vocab, path, err, sizeof err), 0);
    assert_int_equal(vocab_load(&v, path, err, sizeof err), 0);
    assert_int_equal(v.size, vocab.size);
    for (int i = 0; i < v.size; i += 37) assert_string_equal(vocab_token(&v, i), vocab_token(&vocab, i));
    vocab_free(&v);
    const char *crlf = "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nwhale\r\n";
    write_file("crlf.txt", crlf, strlen(crlf), path, sizeof path);
    assert_int_equal(vocab_load(&v, path, err, sizeof err), 0);
    assert_int_equal(vocab_id(&v, "whale", 5), 5);
    vocab_free(&v);
}

/* Is needle (n tokens) a contiguous run of the corpus? */
static bool in_corpus(const int32_t *needle, size_t n)
{
    for (size_t i = 0; i + n <= train.nids; i++)
        if (train.ids[i] == needle[0] && memcmp(train.ids + i, needle, n * sizeof *needle) == 0) return true;
    return false;
}

/* where needle[0..n) occurs in the training text from `from` on, or -1 */
static long find_from(const int32_t *needle, size_t n, long from)
{
    for (size_t i = (size_t)from; i + n <= train.nids; i++)
        if (train.ids[i] == needle[0] && memcmp(train.ids + i, needle, n * sizeof *needle) == 0) return (long)i;
    return -1;
}

static void test_windows(void **state)
{
    (void)state;
    enum { B = 16, T = 24 };
    int32_t ids[B * T];
    Rng r;
    rng_seed(&r, 5, 0);
    corpus_windows(&train, &r, B, T, false, ids);
    for (int b = 0; b < B; b++) assert_true(in_corpus(ids + b * T, T));
    corpus_windows(&train, &r, B, T, true, ids);
    for (int b = 0; b < B; b++) {
        assert_int_equal(ids[b * T], TOK_CLS);
        assert_int_equal(ids[b * T + T - 1], TOK_SEP);
        assert_true(in_corpus(ids + b * T + 1, T - 2));
    }
    /* the same seed gives the same batch */
    int32_t again[B * T];
    Rng r2;
    rng_seed(&r2, 5, 0);
    corpus_windows(&train, &r2, B, T, false, again);
    rng_seed(&r, 5, 0);
    corpus_windows(&train, &r, B, T, false, ids);
    assert_memory_equal(ids, again, sizeof ids);
    /* a batch is its windows' starts, drawn in order: a lesson that keeps the starts gets the
       same batch (and knows each window again by its start) */
    rng_seed(&r2, 5, 0);
    for (int b = 0; b < B; b++) {
        size_t start = corpus_window_start(&train, &r2, T, false);
        assert_true(start + T <= train.nids);
        assert_memory_equal(ids + b * T, train.ids + start, T * sizeof *ids);
        corpus_window(&train, start, T, true, again);
        assert_int_equal(again[0], TOK_CLS);
        assert_memory_equal(again + 1, train.ids + start, (T - 2) * sizeof *ids);
        assert_int_equal(again[T - 1], TOK_SEP);
    }
    /* the last window that fits is the text's end */
    corpus_window(&train, train.nids - (T - 2), T, true, again);
    assert_int_equal(again[T - 2], train.ids[train.nids - 1]);
}

/* Checks the [CLS] A [SEP] B [SEP] [PAD]... layout of one row; returns A and B. */
static void check_pair_row(const int32_t *ids, const int32_t *types, const uint8_t *mask, int T,
                           int *a0, int *alen, int *b0, int *blen)
{
    assert_int_equal(ids[0], TOK_CLS);
    int sep1 = -1, sep2 = -1;
    for (int i = 1; i < T; i++)
        if (ids[i] == TOK_SEP) {
            if (sep1 < 0) sep1 = i;
            else if (sep2 < 0) sep2 = i;
        }
    assert_true(sep1 > 1);            /* A non-empty */
    assert_true(sep2 > sep1 + 1);     /* B non-empty */
    for (int i = 0; i < T; i++) {
        bool real = i <= sep2;
        assert_int_equal(mask[i], real);
        assert_int_equal(types[i], i > sep1 && i <= sep2 ? 1 : 0);
        if (!real) assert_int_equal(ids[i], TOK_PAD);
        else if (i != 0 && i != sep1 && i != sep2) assert_false(vocab_is_special(ids[i]) && ids[i] != TOK_UNK);
    }
    *a0 = 1;
    *alen = sep1 - 1;
    *b0 = sep1 + 1;
    *blen = sep2 - sep1 - 1;
}

static void test_pairs(void **state)
{
    (void)state;
    enum { B = 64 };
    for (int task = 0; task < 2; task++) {
        int Ts[3] = {5, 16, 512};
        for (int ti = 0; ti < 3; ti++) {
            int T = Ts[ti];
            int32_t *ids = malloc(sizeof(int32_t) * B * T), *types = malloc(sizeof(int32_t) * B * T), labels[B];
            uint8_t *mask = malloc((size_t)B * T);
            Rng r;
            rng_seed(&r, 40 + (uint64_t)T, (uint64_t)task);
            corpus_pairs(&train, &r, (PairTask)task, B, T, ids, types, mask, labels, NULL);
            int contiguous_ok = 0, checked = 0;
            for (int b = 0; b < B; b++) {
                int a0, al, b0, bl;
                check_pair_row(ids + b * T, types + b * T, mask + b * T, T, &a0, &al, &b0, &bl);
                assert_true(labels[b] == 0 || labels[b] == 1);
                if (T < 512) continue;
                /* in order (IsNext, or SOP's pair swapped back): the second segment follows the
                   first in the text, with only what truncation cut from their ends between */
                int first = labels[b] == 1 && task == PAIR_SOP ? b0 : a0, flen = first == a0 ? al : bl;
                int second = first == a0 ? b0 : a0, slen = first == a0 ? bl : al;
                long p1 = find_from(ids + b * T + first, (size_t)flen, 0);
                long p2 = p1 >= 0 ? find_from(ids + b * T + second, (size_t)slen, p1 + flen) : -1;
                bool contiguous = p2 >= 0 && p2 - (p1 + flen) <= 2 * T;
                if (task == PAIR_NSP && labels[b] == 1) {
                    checked++;
                    contiguous_ok += !contiguous; /* NotNext: B from another document */
                } else {
                    checked++;
                    contiguous_ok += contiguous;
                }
            }
            if (T == 512) {
                print_message("task %d: %d of %d pairs as their label says\n", task, contiguous_ok, checked);
                assert_true(contiguous_ok >= checked - 2); /* a rare cut at the front may break a run */
            }
            free(ids);
            free(types);
            free(mask);
        }
    }
    /* labels: Bernoulli(1/2) over many pairs, within 5 standard deviations */
    enum { N = 4000, T2 = 32 };
    int32_t *ids = malloc(sizeof(int32_t) * N * T2), *types = malloc(sizeof(int32_t) * N * T2);
    int32_t *labels = malloc(sizeof(int32_t) * N);
    uint8_t *mask = malloc((size_t)N * T2);
    Rng r;
    rng_seed(&r, 99, 0);
    corpus_pairs(&train, &r, PAIR_NSP, N, T2, ids, types, mask, labels, NULL);
    int ones = 0;
    for (int i = 0; i < N; i++) ones += labels[i];
    assert_true(fabs(ones - N / 2.0) < 5 * sqrt(N * 0.25));
    free(ids);
    free(types);
    free(labels);
    free(mask);
}

/* The labelled spam/ham set: label<TAB>text lines, balanced in both splits. */
static void test_spam_files(void **state)
{
    (void)state;
    const char *files[2] = {FMLAB_DATASETS "/spam/train.tsv", FMLAB_DATASETS "/spam/eval.tsv"};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        assert_non_null(f);
        char *line = NULL;
        size_t cap = 0;
        int spam = 0, ham = 0;
        while (getline(&line, &cap, f) > 0) {
            char *tab = strchr(line, '\t');
            assert_non_null(tab);
            assert_null(strchr(tab + 1, '\t'));
            *tab = 0;
            assert_true(strcmp(line, "spam") == 0 || strcmp(line, "ham") == 0);
            spam += line[0] == 's';
            ham += line[0] == 'h';
            assert_true(strlen(tab + 1) >= 20);
        }
        free(line);
        fclose(f);
        print_message("%s: %d spam, %d ham\n", files[i], spam, ham);
        assert_int_equal(spam, ham);
        assert_true(spam > 300);
    }
}

static int setup(void **state)
{
    (void)state;
    char err[512];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fmlab_ds_XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    if (vocab_load(&vocab, DATA "/vocab.txt", err, sizeof err)) { fprintf(stderr, "%s\n", err); return -1; }
    if (corpus_load(&train, DATA "/train.txt", &vocab, err, sizeof err)) { fprintf(stderr, "%s\n", err); return -1; }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vocab_free(&vocab);
    corpus_free(&train);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The next-token reference lines on a corpus small enough to count by hand: train
 * 5 6 5 6 5 7, held-out 5 6 5 7, V = 8. Unigram (add-1/2 over 8 ids, 6 + 4 = 10 in all):
 * p(5) = 3.5/10, p(6) = 2.5/10, p(7) = 1.5/10. Held-out pairs (5,6), (6,5), (5,7); in train
 * c(5,·) = 3 with c(5,6) = 2, c(5,7) = 1, and c(6,·) = 2 with c(6,5) = 2. */
static void test_ngram_baselines(void **state)
{
    (void)state;
    int32_t tr[] = {5, 6, 5, 6, 5, 7}, ev[] = {5, 6, 5, 7};
    Corpus train = {.ids = tr, .nids = 6}, eval = {.ids = ev, .nids = 4};
    double uni, bi, lambda;
    assert_int_equal(corpus_ngram_baselines(&train, &eval, 8, &uni, &bi, &lambda), 0);
    double want_uni = -(log(0.25) + log(0.35) + log(0.15)) / 3;
    assert_near(uni, want_uni, 1e-12);
    double best = INFINITY, best_l = 0;
    for (int k = 1; k <= 19; k++) {
        double l = 0.05 * k;
        double ce = -(log(l * 2 / 3 + (1 - l) * 0.25) + log(l * 1 + (1 - l) * 0.35) + log(l / 3 + (1 - l) * 0.15)) / 3;
        if (ce < best) best = ce, best_l = l;
    }
    print_message("unigram %.4f, bigram %.4f at lambda %.2f\n", uni, bi, lambda);
    assert_near(bi, best, 1e-12);
    assert_near(lambda, best_l, 1e-12);
    assert_true(bi < uni);
    /* a held-out token never seen in train still has a probability: the unigram's 0.5/10 */
    int32_t ev2[] = {5, 3};
    Corpus eval2 = {.ids = ev2, .nids = 2};
    assert_int_equal(corpus_ngram_baselines(&train, &eval2, 8, &uni, &bi, &lambda), 0);
    assert_near(uni, -log(0.05), 1e-12);
    assert_true(isfinite(bi));
    Corpus tiny = {.ids = ev2, .nids = 1};
    assert_int_equal(corpus_ngram_baselines(&train, &tiny, 8, &uni, &bi, &lambda), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_shipped),
        cmocka_unit_test(test_basic_split_and_wordpiece),
        cmocka_unit_test(test_roundtrip_on_corpus),
        cmocka_unit_test(test_learn_reproduces_vocab),
        cmocka_unit_test(test_coverage),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_learn_many_pairs),
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_spam_files),
        cmocka_unit_test(test_ngram_baselines),
    };
    return cmocka_run_group_tests_name("datasets", tests, setup, teardown);
}
