/* exercise.c — your turn: write BERT's corruption yourself.
 *
 * Fill in exercise_corrupt below so that it does what mlm_corrupt in lessons/common/masking.c does (read
 * masking.h for the contract, not masking.c!). For every position i of original[0..n):
 *   - special tokens (ids 0-4, see vocab_is_special) are never selected;
 *   - any other token is selected with probability c->mlm_probability (rng_bernoulli);
 *   - a selected token gets labels[i] = original[i] and, with probabilities
 *     c->mask_replace_prob / c->random_replace_prob / the rest, becomes [MASK] (TOK_MASK),
 *     a random non-special token (ids 5 .. c->vocab_size-1), or stays as it is;
 *   - kind[i] records what happened (KIND_NOT_SELECTED, KIND_MASK, KIND_RANDOM, KIND_KEPT);
 *   - a position not selected keeps its token and gets labels[i] = IGNORE_INDEX (-100).
 *
 * Check it with:  meson test -C build --suite exercise
 * The test checks the structure at every position and the proportions over many batches. */
#include "lessons/common/masking.h"
#include "engine/ops.h"
#include "datasets/tokenizer.h"

void exercise_corrupt(const MaskingConfig *c, Rng *r, const int32_t *original, int n, int32_t *input_ids,
                      int32_t *labels, uint8_t *kind);

void exercise_corrupt(const MaskingConfig *c, Rng *r, const int32_t *original, int n, int32_t *input_ids,
                      int32_t *labels, uint8_t *kind)
{
    (void)c;
    (void)r;
    for (int i = 0; i < n; i++) {
        /* TODO: select, label and corrupt, as described above. This starting point selects
           nothing, so the model would have nothing to learn. */
        input_ids[i] = original[i];
        labels[i] = IGNORE_INDEX;
        kind[i] = KIND_NOT_SELECTED;
    }
}
