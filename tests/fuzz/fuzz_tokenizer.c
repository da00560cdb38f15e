/* fuzz_tokenizer.c — any bytes as text for the tokenizer (datasets/tokenizer.h), with the
 * shipped Moby-Dick vocabulary: tokenizer_encode and tokenizer_encode_masked (the probe a
 * student types) into a buffer too small and one large enough, which must agree; decoding
 * what came out; and decoding the bytes themselves read as ids (out-of-range ids included)
 * into buffers of every small size. Every id is in the vocabulary, nothing is written past a
 * buffer, and nothing crashes, whatever the bytes (invalid UTF-8, NUL, huge words). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer.h"
#include "fuzz.h"

static Vocab vocab;

static void check_ids(const int32_t *ids, int n)
{
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab.size) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!vocab.size) {
        char err[512];
        if (vocab_load(&vocab, FMLAB_DATASETS "/moby_dick/vocab.txt", err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            abort();
        }
    }
    char *text = fuzz_string(data, size);
    int cap = (int)size + 8;
    int32_t *ids = malloc((size_t)cap * sizeof *ids), small[4];
    if (!ids) abort();

    int n = tokenizer_encode(&vocab, text, ids, cap);
    if (n < 0 || n > cap) abort();   /* at most one id per byte */
    check_ids(ids, n);
    int ns = tokenizer_encode(&vocab, text, small, 4);
    if (ns != n || memcmp(small, ids, (size_t)(n < 4 ? n : 4) * sizeof *ids)) abort();

    int nm = tokenizer_encode_masked(&vocab, text, ids, cap);
    if (nm < 0 || nm > cap) abort();
    check_ids(ids, nm);
    int nms = tokenizer_encode_masked(&vocab, text, small, 4);
    if (nms < 0 || nms > 4) abort();
    check_ids(small, nms);

    size_t need = tokenizer_decode(&vocab, ids, nm, NULL, 0);
    char *out = malloc(need + 1);
    if (!out) abort();
    if (tokenizer_decode(&vocab, ids, nm, out, need + 1) != need || strlen(out) != need) abort();
    free(out);

    /* the bytes as ids, into every buffer size up to 8 */
    int nraw = (int)(size / sizeof(int32_t));
    int32_t *raw = malloc((size_t)(nraw ? nraw : 1) * sizeof *raw);
    if (!raw) abort();
    memcpy(raw, data, (size_t)nraw * sizeof *raw);
    for (size_t c = 0; c <= 8; c++) {
        char *buf = c ? malloc(c) : NULL;
        need = tokenizer_decode(&vocab, raw, nraw, buf, c);
        if (c && strlen(buf) != (need < c ? need : c - 1)) abort();
        free(buf);
    }
    free(raw);
    free(ids);
    free(text);
    return 0;
}
