/* vocab_tool.c — fmlab-vocab CORPUS SIZE OUT: learns a WordPiece vocabulary of SIZE tokens
 * from a corpus file and writes it as BERT's vocab.txt, with a line on how well it covers
 * the corpus. Exit 0 done, 2 bad usage or input. */
#include <stdio.h>
#include <stdlib.h>

#include "datasets/corpus.h"
#include "datasets/tokenizer.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fmlab-vocab CORPUS SIZE OUT\n");
        return 2;
    }
    char *end;
    long size = strtol(argv[2], &end, 10);
    if (*end || size < 6 || size > 1000000) {
        fprintf(stderr, "fmlab-vocab: SIZE must be a whole number from 6 to 1000000, not \"%s\"\n", argv[2]);
        return 2;
    }
    char err[512];
    char **docs;
    int ndocs;
    if (corpus_read_documents(argv[1], &docs, &ndocs, err, sizeof err)) {
        fprintf(stderr, "fmlab-vocab: %s\n", err);
        return 2;
    }
    Vocab v;
    int rc = vocab_learn(&v, (const char *const *)docs, ndocs, (int)size, err, sizeof err);
    corpus_texts_free(docs, ndocs);
    if (rc || vocab_save(&v, argv[3], err, sizeof err)) {
        fprintf(stderr, "fmlab-vocab: %s\n", err);
        return 2;
    }
    Corpus c;
    if (corpus_load(&c, argv[1], &v, err, sizeof err) == 0) {
        fprintf(stderr, "fmlab-vocab: %d tokens; the corpus is %zu pieces, %lld of them [UNK]\n", v.size, c.nids,
                (long long)c.unk);
        corpus_free(&c);
    }
    vocab_free(&v);
    return 0;
}
