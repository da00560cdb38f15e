/* windows.h — the masked-LM batch of running text for the lessons that corrupt it as BERT does
 * (mlm, distil): each row is "[CLS] window [SEP]" from a corpus (no padding), then the
 * corruption of masking.h, with the selected positions listed for a gathered loss. */
#ifndef FMLAB_LESSONS_WINDOWS_H
#define FMLAB_LESSONS_WINDOWS_H

#include <stddef.h>

#include "datasets/corpus.h"
#include "lessons/common/kit.h"
#include "lessons/common/masking.h"

typedef struct KitMlmBatch {
    int B, T;
    int32_t *original, *input, *labels;   /* (B,T); labels: the original id where selected, -100 elsewhere */
    uint8_t *kind;                        /* (B,T) KIND_* */
    uint8_t *attention_mask;              /* (B,T) all 1: windows have no padding */
    int32_t *token_types;                 /* (B,T) all 0 */
    int32_t *rows, *targets;              /* the selected positions (flattened) and their labels */
    int nsel;
    size_t *start;                        /* (B) where each window starts in its text: its identity */
} KitMlmBatch;

/* Every array in one allocation; -1 when out of memory. */
int kit_mlm_batch_alloc(KitMlmBatch *b, int B, int T);
void kit_mlm_batch_free(KitMlmBatch *b);
/* rows, targets and nsel from labels (after the corruption). */
void kit_mlm_batch_select(KitMlmBatch *b);
/* B windows drawn uniformly from c, then BERT's corruption of all of them from the same r,
 * then the selection: a dynamic mask, as fmlab-mlm draws by default. */
void kit_mlm_batch_draw(const MaskingConfig *mc, const Corpus *c, Rng *r, KitMlmBatch *b);

/* batch.safetensors: the mlm tensors (EXPORT.md), the table a lesson's `batch` points to, and
 * its batch_data hook's array i. */
#define KIT_MLM_BATCH_TENSORS                                                                           \
    {"input_ids", KIT_I32, "BT"},      {"original_ids", KIT_I32, "BT"},   {"labels", KIT_I32, "BT"},   \
    {"mask_kind", KIT_U8, "BT"},       {"attention_mask", KIT_U8, "BT"}, {"token_type_ids", KIT_I32, "BT"}
const void *kit_mlm_batch_data(const KitMlmBatch *b, int i);

#endif
