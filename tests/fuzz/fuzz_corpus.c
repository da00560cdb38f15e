/* fuzz_corpus.c — any bytes as a corpus file (datasets/corpus.h): corpus_load with the
 * shipped Moby-Dick vocabulary, and corpus_read_documents followed by vocab_learn of a small
 * vocabulary (what fmlab-vocab does with a teacher's own text). A corpus that loads is
 * consistent (sentences tile the ids, documents tile the sentences, every id in the
 * vocabulary) and gives batches of windows and pairs. A bad file is an error message, never
 * a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/corpus.h"
#include "fuzz.h"

static Vocab vocab;

static void check_corpus(const Corpus *c)
{
    if (c->nsent < 2 || c->ndocs < 1 || c->nids < 16) abort();
    for (int s = 0; s < c->nsent; s++)
        if (c->sent_start[s] >= c->sent_start[s + 1]) abort();   /* no empty sentence */
    if (c->sent_start[0] != 0 || c->sent_start[c->nsent] != c->nids) abort();
    for (int d = 0; d < c->ndocs; d++)
        if (c->doc_start[d] >= c->doc_start[d + 1]) abort();
    if (c->doc_start[0] != 0 || c->doc_start[c->ndocs] != c->nsent) abort();
    for (size_t i = 0; i < c->nids; i++)
        if (c->ids[i] < 0 || c->ids[i] >= vocab.size) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    if (!vocab.size && vocab_load(&vocab, FMLAB_DATASETS "/moby_dick/vocab.txt", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    const char *path = fuzz_write("train.txt", data, size);
    Corpus c;
    if (corpus_load(&c, path, &vocab, err, sizeof err) == 0) {
        check_corpus(&c);
        /* the smallest batches a lesson cuts (seq_len 8 and more fit in the 16-token minimum) */
        enum { B = 2, T = 8 };
        int32_t ids[B * T], types[B * T], labels[B];
        uint8_t mask[B * T];
        Rng r;
        rng_seed(&r, size, 0);
        corpus_windows(&c, &r, B, T, true, ids);
        corpus_pairs(&c, &r, PAIR_NSP, B, T, ids, types, mask, labels, NULL);
        corpus_pairs(&c, &r, PAIR_SOP, B, T, ids, types, mask, labels, NULL);
        double entropy, best;
        corpus_unigram_baseline(&c, vocab.size, &entropy, &best);
        corpus_free(&c);
    }
    char **texts;
    int n;
    if (corpus_read_documents(path, &texts, &n, err, sizeof err) == 0) {
        Vocab v;
        if (vocab_learn(&v, (const char *const *)texts, n, 64, err, sizeof err) == 0) vocab_free(&v);
        corpus_texts_free(texts, n);
    }
    return 0;
}
