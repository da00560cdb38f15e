/* masking.h — BERT's masked-LM corruption (Devlin et al. 2019, §3.1 and appendix A.1), with
 * the semantics of Hugging Face's DataCollatorForLanguageModeling. */
#ifndef FMLAB_MLM_MASKING_H
#define FMLAB_MLM_MASKING_H

#include "engine/rng.h"

/* What happened at a position: the mask_kind tensor of the export. */
enum { KIND_NOT_SELECTED = 0, KIND_MASK = 1, KIND_RANDOM = 2, KIND_KEPT = 3 };

typedef struct MaskingConfig {
    float mlm_probability;      /* chance that a non-special token is selected (0.15) */
    float mask_replace_prob;    /* of the selected: replaced by [MASK] (0.8) */
    float random_replace_prob;  /* of the selected: replaced by a random non-special token (0.1) */
    int vocab_size;             /* random tokens are drawn from ids 5 .. vocab_size-1 */
} MaskingConfig;

/* Corrupts n tokens: input_ids = the model's input, labels = the original id where selected
 * and -100 elsewhere, kind = one of the KIND_ values. Special tokens (ids 0-4: [PAD] [UNK]
 * [CLS] [SEP] [MASK]) are never selected. */
void mlm_corrupt(const MaskingConfig *c, Rng *r, const int32_t *original, int n, int32_t *input_ids,
                 int32_t *labels, uint8_t *kind);

#endif
