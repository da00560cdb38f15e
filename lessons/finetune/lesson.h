/* lesson.h — fmlab-finetune's state, shared by its objective (finetune.c), its panels
 * (panels.c) and its tests. */
#ifndef FMLAB_FINETUNE_LESSON_H
#define FMLAB_FINETUNE_LESSON_H

#include "datasets/corpus.h"
#include "lessons/common/kit.h"
#include "lessons/common/pretrained.h"

extern const Lesson finetune_lesson;

/* The three runs trained side by side on the same batches (the `run` setting's choices: the
 * one exported). Model i of the lesson is run i. */
enum { RUN_FINETUNE = 0, RUN_PROBE = 1, RUN_SCRATCH = 2, RUN_COUNT = 3 };
extern const char *const finetune_run_names[RUN_COUNT + 1];   /* "finetune", "probe", "scratch" */

/* metrics.csv columns after loss, cls, lr: each run's batch loss and accuracy, and its
 * held-out loss and accuracy (all 700 held-out messages) */
enum { FT_LOSS = 0, FT_ACCURACY = 3, FT_EVAL_LOSS = 6, FT_EVAL_ACCURACY = 9, FT_NEXTRA = 12 };
/* the curves' reference lines (run->refs) */
enum { REF_CHANCE_LOSS, REF_CHANCE_ACCURACY };

#define FT_PROBE_MAX 128

#define FT_HELD_STEP (RUN_COUNT * 4)
#define FT_HELD (FT_HELD_STEP + 1)
/* where in held the count of held-out messages of label t that a run called p is */
static inline int finetune_cell(int run, int t, int p) { return run * 4 + t * 2 + p; }

/* One batch of labelled messages: [CLS] message [SEP] [PAD]... */
typedef struct FtBatch {
    int B, T;
    int32_t *ids, *types;      /* (B,T); token_type_ids are 0 */
    uint8_t *mask;             /* (B,T) 1 on the message's tokens, 0 on [PAD] */
    int32_t *labels;           /* (B) 0 ham, 1 spam */
    int32_t *msg;              /* (B) which message of its set */
} FtBatch;

typedef struct Finetune {
    Vocab vocab;
    Messages train, eval;
    int *budget;               /* the training messages the label budget allows */
    int nbudget;
    int budget_count[2];       /* of them, ham and spam */
    FtBatch batch;
    FtBatch eval_all;          /* every held-out message, B = eval.n */
    int run;                   /* the run exported (the `run` setting) */
    KitPretrained pre;         /* the pretrained encoder, kept to restart from at a reset */
    bool pre_built;            /* it was built into the cache by this run */
    float *p_spam[RUN_COUNT];  /* (B) P(spam) of each run on the current batch */
    /* held-out, at the last evaluation: each run's confusion counts (finetune_confusion), then
       the step (held[FT_HELD_STEP]); one array, the lesson's counters, so a checkpoint and the
       window's history keep them */
    int64_t held[FT_HELD];
} Finetune;

/* The probe: one message through the three runs. */
typedef struct FtProbe {
    int32_t ids[FT_PROBE_MAX];
    int len;                   /* tokens with [CLS] and [SEP] */
    bool cut;                  /* the message was longer than seq_len */
    float p[RUN_COUNT];        /* P(spam) */
} FtProbe;

/* [CLS] text [SEP] through each run's model. */
void finetune_probe(Run *r, const char *text, FtProbe *out);
/* P(spam) from a row of the classifier's two logits. */
static inline float finetune_p_spam(const float *z)
{
    float d = z[0] - z[1];
    return 1.0f / (1.0f + __builtin_expf(d));
}

#endif
