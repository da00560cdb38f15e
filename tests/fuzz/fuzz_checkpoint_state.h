/* fuzz_checkpoint_state.h — the small run whose checkpoints fuzz_checkpoint reads and
 * make_seeds writes: lesson "mlm", a trained block of two parameters with AdamW and a frozen
 * block of one (so both "param." and "param1." names, and the moments of block 0 only), a
 * metrics history of 3 columns and 2 rows, two counters and a word-order table. Small, so
 * that the fuzzer spends its time in the reader and not in copying floats. */
#ifndef FMLAB_FUZZ_CHECKPOINT_STATE_H
#define FMLAB_FUZZ_CHECKPOINT_STATE_H

#include <stdlib.h>
#include <string.h>

#include "lessons/common/checkpoint.h"

typedef struct FuzzRun {
    ParamBlock pb[2];
    AdamW opt;
    Rng rng;
    Metrics metrics;
    int64_t counters[2];
    float order[2 * 3];
} FuzzRun;

static inline void fuzz_run_init(FuzzRun *f)
{
    static const char *const cols[3] = {"loss", "lr", "accuracy"};
    memset(f, 0, sizeof *f);
    params_init(&f->pb[0]);
    params_init(&f->pb[1]);
    params_add(&f->pb[0], "embeddings.weight", 2, (const int[]){6, 4}, true);
    params_add(&f->pb[0], "head.bias", 1, (const int[]){6}, false);
    params_add(&f->pb[1], "teacher.weight", 2, (const int[]){2, 3}, true);
    if (!params_finalize(&f->pb[0]) || !params_finalize(&f->pb[1])) abort();
    for (size_t i = 0; i < f->pb[0].n; i++) f->pb[0].data[i] = 0.01f * (float)i;
    f->opt = adamw_default();
    rng_seed(&f->rng, 42, 0);
    metrics_init(&f->metrics, 3, cols);
}

static inline void fuzz_run_free(FuzzRun *f)
{
    params_free(&f->pb[0]);
    params_free(&f->pb[1]);
    metrics_free(&f->metrics);
}

static inline CheckpointState fuzz_run_state(FuzzRun *f, long step, const char *settings)
{
    CheckpointState cs = {"mlm", step, 2, {&f->pb[0], &f->pb[1]}, {&f->opt, NULL}, &f->rng, &f->metrics, settings,
                          f->counters, 2, "word_order", "word_order_found", "5 1 2 1 0.75", f->order, 2, 3};
    return cs;
}

#endif
