/* finetune_runs.h — fmlab-finetune's three runs for one label budget and seed, measured on
 * the held-out messages: what the findings that compare pretrained encoders downstream share
 * (finetune_finding: one encoder of fmlab-mlm; electra_finding: fmlab-mlm against fmlab-electra).
 *
 * A run is the lesson at its defaults, one engine thread, --pretrained FILE, trained `steps`
 * steps; then every held-out message is classified by each of finetune, probe and scratch.
 * Call it in a child of bench_jobs (jobs.h): it leaves its Run to the process's end. */
#ifndef FMLAB_BENCH_FINETUNE_RUNS_H
#define FMLAB_BENCH_FINETUNE_RUNS_H

#include "tests/bench/jobs.h"
#include "lessons/finetune/lesson.h"

/* the label budgets of the lesson's K key: 16, 64, 256 and all (0) */
#define FT_NBUDGETS 4
static const int ft_budgets[FT_NBUDGETS] = {16, 64, 256, 0};
static const char *const ft_budget_names[FT_NBUDGETS] = {"16", "64", "256", "all"};

/* held-out accuracy and loss of each run, indexed by RUN_FINETUNE, RUN_PROBE, RUN_SCRATCH */
typedef struct FtResult { double acc[RUN_COUNT], loss[RUN_COUNT]; } FtResult;

/* fmlab-finetune's default of a setting */
static inline double ft_default(const char *key)
{
    const LessonInfo *in = &finetune_lesson.info;
    return in->keys[runtime_key_index(in, key)].def;
}

/* One (budget, seed) from the encoder in `pretrained`: 0, or -1 (a usage error or a
 * divergence, said on stderr). labels 0: all of them. */
static inline int ft_train_one(const char *pretrained, int labels, int seed, long steps, FtResult *out)
{
    char sb[16], lb[32];
    snprintf(sb, sizeof sb, "%d", seed);
    snprintf(lb, sizeof lb, "labels=%d", labels);
    char *args[] = {"fmlab-finetune", "--headless", "--threads", "1", "--seed", sb, "--set", lb,
                    "--pretrained", (char *)pretrained, NULL};
    RunOptions o;
    if (runtime_parse(10, args, &finetune_lesson.info, &o) >= 0) return -1;
    static Run L;
    if (kit_init(&L, &finetune_lesson, &o) >= 0) return -1;
    if (bench_train(&L, steps)) return -1;
    float extra[KIT_MAX_EXTRA];
    kit_evaluate(&L, extra);
    for (int k = 0; k < RUN_COUNT; k++) {
        out->acc[k] = extra[FT_EVAL_ACCURACY + k];
        out->loss[k] = extra[FT_EVAL_LOSS + k];
    }
    kit_free(&L);
    return 0;
}

#endif
