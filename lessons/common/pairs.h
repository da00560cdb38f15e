/* pairs.h — sentence pairs for the lessons of BERT's pretraining heads (nsp, albert):
 * "[CLS] A [SEP] B [SEP]" rows as BERT's create_pretraining_data makes them (datasets/corpus.c),
 * with the masked-LM corruption on top, and the forward of a model with both heads
 * (BertForPreTraining, AlbertForPreTraining): total = mlm + pair. */
#ifndef FMLAB_LESSONS_PAIRS_H
#define FMLAB_LESSONS_PAIRS_H

#include "lessons/common/kit.h"

/* One batch of pairs: the mlm tensors plus the pair labels. */
typedef struct KitPairBatch {
    int B, T;
    int32_t *original, *input, *labels;   /* (B,T) */
    uint8_t *kind;                        /* (B,T) KIND_* of masking.h */
    uint8_t *attention_mask;              /* (B,T) 1 on [CLS] A [SEP] B [SEP], 0 on [PAD] */
    int32_t *token_types;                 /* (B,T) 0 through the first [SEP], 1 after */
    int32_t *pair_label;                  /* (B) NSP: 0 IsNext, 1 NotNext; SOP: 0 in order, 1 swapped */
    int32_t *docs;                        /* (B,2) the chapter of A and of B (not exported) */
    int32_t *rows, *targets;              /* the selected positions (flattened) and their labels */
    int nsel;
    PairTask task;                        /* how the pairs were made */
} KitPairBatch;

/* Every array in one allocation; -1 when out of memory. */
int kit_pair_batch_alloc(KitPairBatch *b, int B, int T);
void kit_pair_batch_free(KitPairBatch *b);
/* B pairs of `task` from c, then BERT's corruption ([PAD], [CLS] and [SEP] never selected). */
void kit_pair_batch_draw(const MaskingConfig *mc, const Corpus *c, Rng *r, PairTask task, KitPairBatch *b);
/* batch.safetensors: the mlm tensors, then the pair labels under `label_name`
 * (next_sentence_label, sentence_order_label): the table a lesson's `batch` points to, and
 * its batch_data hook's array i. */
#define KIT_PAIR_BATCH_TENSORS(label_name)                                                              \
    {"input_ids", KIT_I32, "BT"},      {"original_ids", KIT_I32, "BT"},   {"labels", KIT_I32, "BT"},   \
    {"mask_kind", KIT_U8, "BT"},       {"attention_mask", KIT_U8, "BT"}, {"token_type_ids", KIT_I32, "BT"}, \
    {label_name, KIT_I32, "B"}
const void *kit_pair_batch_data(const KitPairBatch *b, int i);

/* The forward of a model with an MLM head and a pair classifier on the pooled [CLS]: mlm =
 * cross-entropy at the selected positions (none: 0, no gradient), pair = cross-entropy of the
 * (B,2) classifier logits *seq against the pair labels; returns mlm + pair. *logits: the
 * (nsel, V) MLM logits, NULL without a selection. */
Tensor *kit_pair_forward(Run *r, Model *model, const KitPairBatch *b, Forward *f, Tensor **mlm, Tensor **pair,
                         Tensor **seq, Tensor **logits);
/* P(label 0) from a row of the classifier's two logits */
float kit_pair_p_first(const float *z);
/* How many of n rows of logits have their argmax at the target */
int kit_argmax_right(const Tensor *logits, const int32_t *targets, int n);

/* The probe: two sentences, both ways round. */
#define KIT_PAIR_PROBE_MAX 128
typedef struct KitPairProbe {
    int32_t ids[2][KIT_PAIR_PROBE_MAX];
    int len[2], split[2];     /* the row's length and where B starts */
    float p[2];               /* P(label 0): IsNext (or in order) for A→B and for B→A */
    bool cut, one;            /* cut to seq_len; only one sentence was found */
} KitPairProbe;
/* Reads "A | B" (or two sentences: the split is after the first . ! or ?), tokenizes with
 * r->vocab and runs [CLS] A [SEP] B [SEP] and [CLS] B [SEP] A [SEP] through the model. */
void kit_pair_probe(Run *r, Model *model, const char *text, KitPairProbe *out);

#endif
