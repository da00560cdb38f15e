/* lesson.h — fmlab-distil's state, shared by its objective (distil.c), its panels (panels.c)
 * and its tests. */
#ifndef FMLAB_DISTIL_LESSON_H
#define FMLAB_DISTIL_LESSON_H

#include "datasets/corpus.h"
#include "lessons/common/kit.h"
#include "lessons/common/masking.h"
#include "lessons/common/pretrained.h"
#include "lessons/common/windows.h"

extern const Lesson distil_lesson;

/* the two models: the student is trained and comes first (the kit's word-order moment and
   the first attention maps are its); the teacher is frozen in a block of its own */
enum { DI_STUDENT = 0, DI_TEACHER = 1, DI_MODELS };

/* the lesson's extra metrics.csv columns (after loss, ce, mlm, cos, lr): the batch's figures, the
   held-out ones, then the three weights in effect at the step (the total is their sum of products) */
enum { DI_TEACHER_MLM, DI_ACCURACY, DI_TEACHER_ACCURACY, DI_AGREEMENT, DI_EVAL_MLM_LOSS, DI_EVAL_TEACHER_MLM_LOSS,
       DI_EVAL_ACCURACY, DI_EVAL_TEACHER_ACCURACY, DI_EVAL_CE, DI_EVAL_AGREEMENT, DI_ALPHA_CE, DI_ALPHA_MLM,
       DI_ALPHA_COS, DI_NEXTRA };
/* the loss parts, in lesson.json's and metrics.csv's order */
enum { PART_CE, PART_MLM, PART_COS, PART_COUNT };
/* the curves' reference lines (run->refs) */
enum { REF_UNIGRAM_ENTROPY, REF_UNIGRAM_ACCURACY };
/* student_init's choices */
enum { INIT_TEACHER, INIT_RANDOM };

/* parameter groups, by Hugging Face name: embeddings, encoder layers, MLM head */
enum { DG_EMB, DG_LAYERS, DG_HEAD, DG_COUNT };
int distil_group_of(const char *name);

#define DI_EVAL_BATCHES 4     /* the held-out set: 4 batches (4,096 tokens at the defaults) */
#define DI_TOPK 5
/* the learning rate of the teacher fmlab-mlm builds: its own 2e-3 unsettles four layers (their
   held-out loss jumps back to the unigram level after some 4,500 steps) */
#define DI_TEACHER_LR 1e-3

/* The teacher layer the student's layer k starts from, of L teacher layers and S student
 * layers: k·L/S, "one layer out of two" when S = L/2 (DistilBERT, section 3). */
int distil_teacher_layer(int k, int S, int L);
/* The student (DistilBertForMaskedLM) from the teacher (BertForMaskedLM), as Hugging Face's
 * extract_distilbert.py does with --vocab_transform: word and position embeddings and their
 * LayerNorm (DistilBERT has no token types: the teacher's type-0 row is left out), layer k from
 * teacher layer distil_teacher_layer(k), the MLM head's transform, LayerNorm and bias (the
 * decoder is tied to the word embeddings in both). */
void distil_init_student(Model *student, const Model *teacher);

/* The three losses of one batch, as DistilBERT's distiller computes them (keep: the non-pad
 * positions, attention_mask):
 *   ce  = T² · mean over kept positions of KL(softmax(t/T) ‖ softmax(s/T))
 *   mlm = mean cross-entropy of the student at the selected positions (labels ≠ -100)
 *   cos = mean over kept positions of 1 − cos(student's last hidden, teacher's)
 * total = alpha_ce·ce + alpha_mlm·mlm + alpha_cos·cos. Plain arrays, double sums: the tests'
 * hand computation and the notes' exercise (exercise.c has the student's version). */
typedef struct DistilLoss { double ce, mlm, cos, total; } DistilLoss;
DistilLoss distil_reference(const float *s_logits, const float *t_logits, const float *s_hidden,
                            const float *t_hidden, const int32_t *labels, const uint8_t *keep, int rows, int V,
                            int H, double T, double alpha_ce, double alpha_mlm, double alpha_cos);
/* the student's version of ce alone (exercise.c): T² · mean KL over kept rows */
double exercise_distil_ce(const float *s_logits, const float *t_logits, const uint8_t *keep, int rows, int V, double T);

/* one forward of both models on a batch, with the loss parts (tensors on the run's tape) */
typedef struct DistilPass {
    Forward f[DI_MODELS];
    Tensor *logits[DI_MODELS];           /* (B,T,V): every position (ce needs them all) */
    Tensor *part[PART_COUNT];            /* scalars: ce (with T²), mlm, cos */
    Tensor *total;
    double ms[DI_MODELS];                /* each model's forward, wall clock (shown, never a number of the run) */
} DistilPass;

typedef struct Distil {
    MaskingConfig mask;
    Vocab vocab;
    Corpus train, eval;
    KitMlmBatch batch;
    KitMlmBatch eval_batches[DI_EVAL_BATCHES];
    KitPretrained teacher;               /* as read: --teacher FILE or the cache */
    bool teacher_built;                  /* this run built the cached teacher */
    DistilPass pass;                     /* the last forward on the batch (tensors on the tape) */
    int64_t params[DI_MODELS];           /* each model's parameters, every tensor once */
    int64_t group[DI_MODELS][DG_COUNT];  /* the same by group, for the panel's bars */
    double forward_ms[DI_MODELS];        /* smoothed; 0 for the first 10 forwards, which warm up */
    int forwards;
} Distil;

#endif
