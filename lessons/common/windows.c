/* windows.c — running-text windows with BERT's corruption (windows.h). */
#include "lessons/common/windows.h"

#include <stdlib.h>
#include <string.h>

#include "engine/ops.h" /* IGNORE_INDEX */

int kit_mlm_batch_alloc(KitMlmBatch *b, int B, int T)
{
    size_t n = (size_t)B * T;
    size_t *start = calloc((size_t)B * sizeof(size_t) + (n * 6 + (n * 2 + 3) / 4) * 4, 1);
    if (!start) return -1;
    int32_t *p = (int32_t *)(start + B);
    *b = (KitMlmBatch){.B = B, .T = T, .original = p, .input = p + n, .labels = p + 2 * n, .token_types = p + 3 * n,
                       .rows = p + 4 * n, .targets = p + 5 * n, .start = start};
    b->kind = (uint8_t *)(p + 6 * n);
    b->attention_mask = b->kind + n;
    memset(b->attention_mask, 1, n);
    return 0;
}

void kit_mlm_batch_free(KitMlmBatch *b)
{
    free(b->start);
    memset(b, 0, sizeof *b);
}

void kit_mlm_batch_select(KitMlmBatch *b)
{
    b->nsel = 0;
    for (int i = 0; i < b->B * b->T; i++)
        if (b->labels[i] != IGNORE_INDEX) {
            b->rows[b->nsel] = i;
            b->targets[b->nsel++] = b->labels[i];
        }
}

void kit_mlm_batch_draw(const MaskingConfig *mc, const Corpus *c, Rng *r, KitMlmBatch *b)
{
    for (int i = 0; i < b->B; i++) {
        b->start[i] = corpus_window_start(c, r, b->T, true);
        corpus_window(c, b->start[i], b->T, true, b->original + (size_t)i * b->T);
    }
    mlm_corrupt(mc, r, b->original, b->B * b->T, b->input, b->labels, b->kind);
    kit_mlm_batch_select(b);
}

const void *kit_mlm_batch_data(const KitMlmBatch *b, int i)
{
    const void *data[] = {b->input, b->original, b->labels, b->kind, b->attention_mask, b->token_types};
    return i >= 0 && i < 6 ? data[i] : NULL;
}
