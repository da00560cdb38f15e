/* lesson.h — fmlab-mlm's state and steps, shared by its main program (mlm.c), its dashboard
 * (panels.c) and its tests. */
#ifndef FMLAB_MLM_LESSON_H
#define FMLAB_MLM_LESSON_H

#include "corpus.h"
#include "engine.h"
#include "masking.h"
#include "metrics.h"
#include "runtime.h"

extern const LessonInfo mlm_info;

/* metrics.csv columns (EXPORT.md: loss, its parts, lr, then accuracy columns) */
enum { COL_LOSS, COL_MLM, COL_LR, COL_ACCURACY, COL_EVAL_LOSS, COL_EVAL_ACCURACY, NCOLS };

#define TOPK 5

/* One batch as the objective made it, and what the model said about it. */
typedef struct MlmBatch {
    int B, T;
    int32_t *original, *input, *labels;   /* (B,T) */
    uint8_t *kind;                        /* (B,T) KIND_* */
    uint8_t *attention_mask;              /* (B,T) all 1: windows have no padding */
    int32_t *token_types;                 /* (B,T) all 0 */
    int32_t *rows, *targets;              /* the selected positions (flattened) and their labels */
    int nsel;
} MlmBatch;

typedef struct Mlm {
    RunOptions opt;
    int B, T;
    MaskingConfig mask;
    LrSchedule schedule;
    float max_grad_norm;
    int eval_every;
    Vocab vocab;
    Corpus train, eval;
    ParamBlock pb;
    Model model;
    AdamW adam;
    Rng rng;                  /* batches and masking, in the order they are drawn */
    Tape tape;
    Metrics metrics;
    long step;                /* optimizer steps done */
    int run;                  /* counts resets, so snapshots know their history restarted */
    MlmBatch batch;           /* the current batch (the last one trained on, or a fresh one) */
    MlmBatch *eval_batches;   /* a fixed held-out set, drawn once from the seed */
    int n_eval;
    double unigram_entropy;   /* nats: the loss of predicting every token by its frequency */
    double unigram_accuracy;  /* always guessing the most frequent token */
    int64_t tally[5];         /* realised KIND_* counts over eligible tokens since step 1, then
                                 the eligible count: saved in checkpoints as they are */
    /* filled by the last forward pass, for the dashboard and the export */
    Forward fwd;
    float last_loss, last_accuracy;
    float *top_p;             /* (B·T, TOPK) probabilities at selected positions */
    int32_t *top_id;
} Mlm;

/* Loads data, builds the model. 0, or an exit status with the message printed. */
int mlm_init(Mlm *L, const RunOptions *o);
void mlm_free(Mlm *L);
/* Back to step 0 with this seed: fresh weights, optimizer, data order and history. */
void mlm_reset(Mlm *L, uint64_t seed);
/* Draws the next batch and corrupts it (no training). */
void mlm_next_batch(Mlm *L);
/* Forward and backward on the current batch; with update, clips, steps AdamW and records
 * the metrics. Returns the loss; sets *diverged (naming the tensor in what) on NaN/Inf. */
float mlm_train_step(Mlm *L, bool update, bool *diverged, char *what, size_t whatlen);
/* Held-out loss and accuracy over the fixed eval set. */
void mlm_evaluate(Mlm *L, float *loss, float *accuracy);
/* EXPORT.md: trains nothing; uses batch N+1 (already drawn by the caller). */
int mlm_export(Mlm *L, const char *dir, const char *frame_png, char *err, size_t errlen);
int mlm_save(Mlm *L, const char *path, char *err, size_t errlen);
/* The dashboard, drawn offscreen at w×h and saved as a PNG (panels.c). */
int mlm_render_png(Mlm *L, const char *path, int w, int h, float font_scale, char *err, size_t errlen);
/* The window: training on a worker thread, the dashboard on this one (app.c). Exit status. */
int mlm_window(Mlm *L);

/* Re-applies a probe sentence to the model: top predictions at each [MASK]. n = written. */
int mlm_probe(Mlm *L, const char *text, int32_t *ids, int maxlen, int *len, float *top_p, int32_t *top_id);

#endif
