/* lesson.h — fmlab-nsp's state, shared by its objective (nsp.c), its panels (panels.c) and
 * its tests. */
#ifndef FMLAB_NSP_LESSON_H
#define FMLAB_NSP_LESSON_H

#include "datasets/corpus.h"
#include "lessons/common/kit.h"
#include "lessons/common/masking.h"
#include "lessons/common/pairs.h"

extern const Lesson nsp_lesson;

/* the objective setting's choices: what the pair classifier is asked */
enum { OBJ_NSP = 0, OBJ_SOP = 1 };

/* the lesson's extra metrics.csv columns (after loss, mlm, nsp, lr). "pair" is the objective
 * being trained (NSP, or SOP with objective=sop); eval_nsp_* and eval_sop_* are the held-out
 * NSP and SOP pairs, measured whichever objective is trained. */
enum { NSP_PAIR_ACCURACY, NSP_MLM_ACCURACY, NSP_EVAL_MLM_LOSS, NSP_EVAL_MLM_ACCURACY, NSP_EVAL_PAIR_LOSS,
       NSP_EVAL_PAIR_ACCURACY, NSP_EVAL_NSP_ACCURACY, NSP_EVAL_SOP_ACCURACY, NSP_NEXTRA };
/* the curves' reference lines (run->refs) */
enum { REF_UNIGRAM_ENTROPY, REF_CHANCE_LOSS, REF_CHANCE_ACCURACY, REF_OVERLAP /* on the task trained */ };

#define NSP_EVAL_BATCHES 8      /* held-out batches per task: 256 pairs at the default batch */
#define NSP_OVERLAP_PAIRS 2048  /* pairs to fit and to test the word-overlap baseline */
#define NSP_COMMON 10          /* the most frequent tokens, which the overlap leaves out */

/* One batch of pairs as the objective made it (lessons/common/pairs.h). */
typedef KitPairBatch NspBatch;

/* The word-overlap baseline: no order, no model. How many distinct tokens A and B share
 * (the most frequent ones left out); "IsNext" when at least `threshold`, fitted on training
 * pairs. */
typedef struct NspOverlap {
    float threshold;
    double nsp, sop;          /* its held-out accuracy on NSP and on SOP pairs */
    double same_doc, other_doc;   /* tokens shared on average by IsNext and NotNext held-out pairs */
} NspOverlap;

typedef struct Nsp {
    MaskingConfig mask;
    int objective;
    Vocab vocab;
    Corpus train, eval;
    NspBatch batch;
    NspBatch eval_batches[2][NSP_EVAL_BATCHES];   /* [task] */
    Forward fwd;
    float *p_is_next;         /* (B) P(label 0) of the pair classifier on the current batch */
    NspOverlap overlap;
    uint8_t *common;          /* (V) 1 for the NSP_COMMON most frequent tokens */
} Nsp;

/* The probe: two sentences, both ways round (lessons/common/pairs.h). */
typedef KitPairProbe NspProbe;

/* Reads "A | B" (or two sentences: the split is after the first . ! or ?) and runs
 * [CLS] A [SEP] B [SEP] and [CLS] B [SEP] A [SEP] through the model. */
void nsp_probe(Run *r, Model *model, const char *text, NspProbe *out);
/* How many distinct tokens the two segments of a packed row share, leaving out the special
 * tokens and those with skip[id] set (NULL: none). */
float nsp_overlap(const int32_t *ids, const int32_t *types, const uint8_t *mask, int T, const uint8_t *skip);

#endif
