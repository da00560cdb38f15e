/* lesson.h — fmlab-electra's state, shared by its objective (electra.c), its panels (panels.c)
 * and its tests. */
#ifndef FMLAB_ELECTRA_LESSON_H
#define FMLAB_ELECTRA_LESSON_H

#include "datasets/corpus.h"
#include "lessons/common/kit.h"
#include "lessons/common/masking.h"
#include "lessons/common/windows.h"

extern const Lesson electra_lesson;

/* the two models, in one parameter block (they share the embeddings module) and one AdamW:
   the discriminator is the model kept after pretraining and comes first (the kit's word-order
   moment and the first attention maps are its) */
enum { EL_DISC = 0, EL_GEN = 1, EL_MODELS };

/* the loss parts, in lesson.json's and metrics.csv's order */
enum { PART_MLM, PART_RTD, PART_COUNT };

/* the lesson's extra metrics.csv columns (after loss, mlm, rtd, lr): the batch's figures, the
   weight in effect at the step, then the held-out ones */
enum { EL_GEN_ACCURACY,    /* the generator's top-1 is the original, at the selected positions */
       EL_REPLACED_SHARE,  /* of the selected positions, the share whose sample differs from the original */
       EL_DISC_ACCURACY,   /* the discriminator's verdict (P(replaced) > 0.5) is right, every token */
       EL_TP, EL_FN, EL_FP, EL_TN,   /* the batch's confusion counts: replaced said replaced, replaced said
                                        original, original said replaced, original said original */
       EL_SIGNAL_ELECTRA,  /* tokens with a term in the discriminator's loss: every non-pad token */
       EL_SIGNAL_MLM,      /* tokens with a term in a masked LM's loss: the selected ones */
       EL_RTD_WEIGHT,      /* λ at this step (the loss column is mlm + λ·rtd with it) */
       EL_EVAL_MLM, EL_EVAL_RTD, EL_EVAL_GEN_ACCURACY, EL_EVAL_DISC_ACCURACY, EL_EVAL_RECALL,
       EL_EVAL_RANKING,        /* the chance that a replaced token gets a higher P(replaced) than an original one
                              (0.5: the discriminator cannot tell them apart; 1: it ranks every one right) */
       EL_NEXTRA };
/* the curves' reference lines (run->refs) */
enum { REF_UNIGRAM_ENTROPY, REF_BASE_RATE, REF_COIN };
/* the train setting: which model a step updates (GAN Lab's keys) */
enum { TRAIN_BOTH, TRAIN_GENERATOR, TRAIN_DISCRIMINATOR };

#define EL_EVAL_BATCHES 4     /* the held-out set: 4 batches (2,048 tokens at the defaults) */
#define EL_TOPK 5

/* The generator's width for a discriminator of hidden size H and NH heads: H × generator_size,
 * rounded to whole heads of the discriminator's head size (at least one); its heads are that
 * many, its feed-forward 4 × its width, its layers the discriminator's (the ELECTRA code's
 * get_generator_config, which keeps 64-wide heads). */
void electra_generator_size(int H, int NH, double fraction, int *hidden, int *heads, int *intermediate);

/* Sampling one replacement from a row of generator logits at `temperature`: the token whose
 * cumulative softmax probability first exceeds u (u in [0,1)), in double: the inverse of the
 * distribution's CDF, so a uniform u gives a token with exactly the softmax's probability. */
int32_t electra_sample(const float *logits, int V, double temperature, double u);

/* The corruption of the discriminator's input: corrupted = the sample at each selected
 * position (rows[s] gets samples[s]), the original elsewhere; rtd = 1 where corrupted differs
 * from original (a sample equal to the original counts as original), else 0. */
void electra_corrupt(const int32_t *original, int n, const int32_t *rows, const int32_t *samples, int nsel,
                     int32_t *corrupted, uint8_t *rtd);

/* The loss of one batch, in double: mlm = mean cross-entropy of the generator's rows of
 * logits (nsel, V) against targets; rtd = mean binary cross-entropy of the discriminator's
 * logits (n) against rtd over the kept positions (keep NULL: all); total = mlm + weight·rtd.
 * The tests' reference and the notes' exercise (exercise.c has the student's rtd). */
typedef struct ElectraLoss { double mlm, rtd, total; } ElectraLoss;
ElectraLoss electra_reference(const float *gen_logits, const int32_t *targets, int nsel, int V,
                              const float *disc_logits, const uint8_t *rtd, const uint8_t *keep, int n, double weight);
/* the student's version of rtd alone (exercise.c) */
double exercise_electra_rtd(const float *disc_logits, const uint8_t *rtd, const uint8_t *keep, int n);

/* The ranking figure (EL_EVAL_RANKING) of scores p (n) against labels y: the share of (replaced,
 * original) pairs in which the replaced token scores higher, ties counting half (the area
 * under the ROC curve). NaN when either class is empty. */
double electra_auc(const float *p, const uint8_t *y, const uint8_t *keep, int n);

/* one batch with what ELECTRA adds to the masked-LM batch */
typedef struct ElectraBatch {
    KitMlmBatch mlm;                 /* input (the generator's, [MASK]s), original, labels, ... */
    float *u;                        /* (B·T) the uniforms the samples are drawn with (row s uses u[rows[s]]) */
    int32_t *samples;                /* (nsel) the generator's sample at each selected position */
    int32_t *corrupted;              /* (B,T) the discriminator's input */
    uint8_t *rtd;                    /* (B,T) 1: replaced */
    float *rtd_f;                    /* (B,T) the same as float, for the loss */
} ElectraBatch;

/* one forward of both models on a batch (tensors on the run's tape) */
typedef struct ElectraPass {
    Forward f[EL_MODELS];
    Tensor *gen_logits;              /* (nsel, V), or NULL when nothing is selected */
    Tensor *disc_logits;             /* (B,T) */
    Tensor *part[PART_COUNT];
    Tensor *total;                   /* mlm + λ·rtd */
} ElectraPass;

/* the focus sequence's figures kept for the window (the snapshot copies them) */
typedef struct Electra {
    MaskingConfig mask;
    Vocab vocab;
    Corpus train, eval;
    ElectraBatch batch;
    ElectraBatch eval_batches[EL_EVAL_BATCHES];
    ElectraPass pass;
    float *p_replaced;               /* (B,T) the discriminator's P(replaced) on the batch */
    float *top_p;                    /* (B,T,EL_TOPK) the generator's top-5 at selected positions, at
                                        sampling_temperature (0 and id -1 elsewhere) */
    int32_t *top_id;
    float *sample_p;                 /* (B,T) the probability its sample was drawn with (0 elsewhere) */
    float *scaled;                   /* (V) a row of logits / temperature */
    int64_t params[EL_MODELS];       /* each model's parameters (the shared embeddings in both) */
    int64_t shared;                  /* the shared embeddings' parameters */
} Electra;

/* Draws a batch: B windows and BERT's corruption (as kit_mlm_batch_draw), then one uniform per
 * position for the sampling; the samples themselves come from the generator in the loss. */
int electra_batch_alloc(ElectraBatch *b, int B, int T);
void electra_batch_free(ElectraBatch *b);
void electra_batch_draw(const MaskingConfig *mc, const Corpus *c, Rng *r, ElectraBatch *b);
/* Both models on a batch: the generator on its input, its samples (at sampling_temperature,
 * no gradient: they are ids) make the discriminator's input and the labels, the discriminator
 * on that; the two losses and the total. */
void electra_forward(Run *r, ElectraBatch *b, ElectraPass *p);

#endif
