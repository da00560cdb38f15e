/* masking.c — BERT's masked-LM corruption, as the paper defines it (fmlab-mlm's objective, and the
 * MLM half of fmlab-nsp's):
 *
 *   "The training data generator chooses 15% of the token positions at random for
 *    prediction. If the i-th token is chosen, we replace the i-th token with (1) the [MASK]
 *    token 80% of the time (2) a random token 10% of the time (3) the unchanged i-th token
 *    10% of the time. Then, T_i will be used to predict the original token with cross
 *    entropy loss."  — BERT, section 3.1
 *
 * As in Hugging Face's collator, every eligible token is selected by its own Bernoulli draw
 * (so a batch holds about 15%, not exactly 15%), and only the selected positions carry a
 * label; the loss ignores the rest (-100). Why keep 10% unchanged and 10% random? If the
 * model only ever had to predict at [MASK], it would learn nothing useful about the real
 * tokens it sees at fine-tuning time, where [MASK] never appears. */
#include "lessons/common/masking.h"

#include "engine/ops.h"      /* IGNORE_INDEX */
#include "datasets/tokenizer.h"

void mlm_corrupt(const MaskingConfig *c, Rng *r, const int32_t *original, int n, int32_t *input_ids,
                 int32_t *labels, uint8_t *kind)
{
    for (int i = 0; i < n; i++) {
        int32_t tok = original[i];
        input_ids[i] = tok;
        labels[i] = IGNORE_INDEX;
        kind[i] = KIND_NOT_SELECTED;
        if (vocab_is_special(tok) || !rng_bernoulli(r, c->mlm_probability)) continue;
        labels[i] = tok;                       /* predict the original token here */
        float u = rng_uniform(r);
        if (u < c->mask_replace_prob) {        /* 80%: [MASK] */
            input_ids[i] = TOK_MASK;
            kind[i] = KIND_MASK;
        } else if (u < c->mask_replace_prob + c->random_replace_prob) {   /* 10%: a random token */
            input_ids[i] = TOK_NUM_SPECIAL + (int32_t)rng_below(r, (uint32_t)(c->vocab_size - TOK_NUM_SPECIAL));
            kind[i] = KIND_RANDOM;
        } else {                               /* 10%: unchanged, but still predicted */
            kind[i] = KIND_KEPT;
        }
    }
}
