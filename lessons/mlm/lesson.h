/* lesson.h — fmlab-mlm's state, shared by its objective (mlm.c), its panels (panels.c) and
 * its tests. */
#ifndef FMLAB_MLM_LESSON_H
#define FMLAB_MLM_LESSON_H

#include "datasets/corpus.h"
#include "lessons/common/kit.h"
#include "lessons/common/masking.h"
#include "lessons/common/windows.h"

extern const Lesson mlm_lesson;

/* the lesson's extra metrics.csv columns (after loss, mlm, lr) */
enum { MLM_ACCURACY, MLM_EVAL_LOSS, MLM_EVAL_ACCURACY, MLM_EVAL_MASK_LOSS, MLM_EVAL_RANDOM_LOSS, MLM_EVAL_KEPT_LOSS,
       MLM_EVAL_MASK_ACC, MLM_EVAL_RANDOM_ACC, MLM_EVAL_KEPT_ACC, MLM_NEXTRA };
/* the curves' reference lines (run->refs) */
enum { REF_UNIGRAM_ENTROPY, REF_UNIGRAM_ACCURACY };
/* the masking setting's choices: a fresh mask at every draw of a window (RoBERTa), or one
   mask per window for the whole run (the original BERT's data, at its most static) */
enum { MASKING_DYNAMIC, MASKING_STATIC };

#define TOPK 5
#define PROBE_MAX 128

/* One batch as the objective made it: the kit's windows (lessons/common/windows.h). */
typedef KitMlmBatch MlmBatch;

typedef struct Mlm {
    MaskingConfig mask;
    int masking;              /* MASKING_DYNAMIC or MASKING_STATIC */
    size_t *windows;          /* train_windows > 0: the starts of the only windows trained on, */
    int nwindows;             /* drawn once from the seed; 0: every window of the text */
    Vocab vocab;
    Corpus train, eval;
    MlmBatch batch;           /* the current batch (the last one trained on, or a fresh one) */
    MlmBatch *eval_batches;   /* a fixed held-out set, drawn once from the seed */
    int n_eval;
    int64_t tally[6];         /* realised KIND_* counts over eligible tokens, the eligible count,
                                 and the step they count from (the last change of a rate):
                                 saved in checkpoints as they are */
    float *top_p;             /* (B·T, TOPK) probabilities at selected positions */
    int32_t *top_id;
    Forward fwd;              /* the last forward on the batch (its tensors are on the tape) */
} Mlm;

/* The model's answer to a typed sentence: top predictions at every position. */
typedef struct MlmProbe {
    int32_t ids[PROBE_MAX];
    int len;
    bool cut;                 /* the sentence was longer than seq_len: its end was left out */
    float top_p[PROBE_MAX * TOPK];
    int32_t top_id[PROBE_MAX * TOPK];
} MlmProbe;

/* Runs "[CLS] text [SEP]" (every "[mask]" becomes [MASK]; at most seq_len tokens, the
 * length the models were trained at) through the model: the run's or the trained one. */
void mlm_probe(Run *r, Model *model, const char *text, MlmProbe *out);

#endif
