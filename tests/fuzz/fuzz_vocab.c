/* fuzz_vocab.c — any bytes as a vocab.txt (datasets/tokenizer.h vocab_load). A vocabulary
 * that loads is then used: every token is found again under its own id, and a text made of
 * its tokens encodes and decodes within bounds. A malformed file is an error message, never
 * a crash. */
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Vocab v;
    char err[512];
    if (vocab_load(&v, fuzz_write("vocab.txt", data, size), err, sizeof err)) return 0;
    if (v.size <= TOK_NUM_SPECIAL) abort();
    /* the first tokens, joined by spaces, as a text to encode */
    size_t cap = 1, len = 0;
    for (int i = 0; i < v.size && i < 64; i++) cap += strlen(vocab_token(&v, i)) + 1;
    char *text = malloc(cap);
    if (!text) abort();
    for (int i = 0; i < v.size && i < 64; i++) {
        const char *t = vocab_token(&v, i);
        if (vocab_id(&v, t, strlen(t)) != i) abort();   /* a token is found under its own id */
        memcpy(text + len, t, strlen(t));
        len += strlen(t);
        text[len++] = ' ';
    }
    text[len] = 0;
    int32_t ids[256];
    int n = tokenizer_encode(&v, text, ids, 256);
    n = n < 256 ? n : 256;
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= v.size) abort();
    char out[512];
    size_t need = tokenizer_decode(&v, ids, n, out, sizeof out);
    if (strlen(out) != (need < sizeof out ? need : sizeof out - 1)) abort();
    free(text);
    vocab_free(&v);
    return 0;
}
