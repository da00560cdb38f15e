/* distil_finding.c — the lesson's finding in miniature.
 *
 * DistilBERT (Sanh et al. 2019): a student of half BERT-base's layers, initialised from one
 * teacher layer out of two and trained with ce + mlm + cos, has 40% fewer parameters, runs
 * 60% faster and keeps 97% of the teacher's GLUE score (Tables 1 and 3); without ce, or
 * without the teacher's initialisation, it keeps less (Table 4's ablation). Here, at the
 * lesson's defaults: the teacher (fmlab-mlm's 4-layer BERT, the lesson's cache) and three
 * students of 2 layers trained the same steps on the same batches: distilled (ce + mlm + cos,
 * from the teacher's layers), the same with the masked LM alone (alpha_ce = alpha_cos = 0),
 * distilled from random weights, and from random weights with the masked LM alone (a small
 * BERT with no teacher at all). For each: parameters and their share of the teacher's,
 * the teacher's forward time over the model's (speed-up, on the lesson's training batches,
 * one thread), held-out masked-token accuracy and its share of the teacher's, held-out MLM
 * loss, and how often its top-1 is the teacher's. Mean over seeds.
 *
 *   distil_finding [steps [seeds]] [--write]
 *
 * Each run is its own process, two at a time, one engine thread each. --write stores the
 * table as lessons/distil/finding.csv, which the window shows. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/bench/jobs.h"
#include "lessons/distil/lesson.h"

enum { CFG_DISTILLED, CFG_MLM_ONLY, CFG_RANDOM, CFG_SCRATCH, NCFG };
static const char *const cfg_name[NCFG] = {"distilled", "mlm_only", "random_init", "scratch"};
static const char *const cfg_sets[NCFG][3] = {{"alpha_ce=5", "alpha_cos=1", "student_init=teacher"},
                                              {"alpha_ce=0", "alpha_cos=0", "student_init=teacher"},
                                              {"alpha_ce=5", "alpha_cos=1", "student_init=random"},
                                              {"alpha_ce=0", "alpha_cos=0", "student_init=random"}};

typedef struct Result {
    double params[DI_MODELS], ms[DI_MODELS], acc[DI_MODELS], mlm[DI_MODELS], agreement;
} Result;

static int train_one(int cfg, int seed, long steps, Result *out)
{
    char sb[16];
    snprintf(sb, sizeof sb, "%d", seed);
    char *args[] = {"fmlab-distil", "--headless", "--threads", "1", "--seed", sb, "--set", (char *)cfg_sets[cfg][0],
                    "--set", (char *)cfg_sets[cfg][1], "--set", (char *)cfg_sets[cfg][2], NULL};
    RunOptions o;
    if (runtime_parse(12, args, &distil_lesson.info, &o) >= 0) return -1;
    static Run L;
    if (kit_init(&L, &distil_lesson, &o) >= 0) return -1;
    if (bench_train(&L, steps)) return -1;
    float extra[KIT_MAX_EXTRA];
    kit_evaluate(&L, extra);
    const Distil *m = KIT_SELF(&L, Distil);
    /* each model's forward alone, on the same 20 training batches, the median of 3 rounds */
    for (int i = 0; i < DI_MODELS; i++) {
        double best[3];
        for (int round = 0; round < 3; round++) {
            double t0 = runtime_seconds();
            for (int k = 0; k < 20; k++) {
                KitScope scope = kit_eval_begin(&L);
                Batch in = {m->batch.B, m->batch.T, m->batch.input, m->batch.token_types, m->batch.attention_mask};
                Forward f = {0};
                Model *md = kit_model(&L, i);
                model_forward(md, &L.tape, &in, &f);
                model_lm_logits(md, &L.tape, f.hidden);
                kit_eval_end(&L, scope);
            }
            best[round] = (runtime_seconds() - t0) * 1e3 / 20;
        }
        double a = best[0], b = best[1], c = best[2];
        out->ms[i] = a > b ? (b > c ? b : a > c ? c : a) : (a > c ? a : b > c ? c : b);
        out->params[i] = (double)m->params[i];
        out->acc[i] = extra[DI_EVAL_ACCURACY + i];
        out->mlm[i] = extra[DI_EVAL_MLM_LOSS + i];
    }
    out->agreement = extra[DI_EVAL_AGREEMENT];
    kit_free(&L);
    return 0;
}

static int job(int i, void *out, void *ctx) { return train_one(i % NCFG, 1 + i / NCFG, *(const long *)ctx, out); }

int main(int argc, char **argv)
{
    long steps = 2000;
    int seeds = 2;
    bool store;
    if (bench_args(argc, argv, "distil_finding", &steps, &seeds, 8, &store)) return 2;
    const LessonInfo *in = &distil_lesson.info;
    printf("fmlab-distil at its defaults (teacher L %g, student L %g, H %g, batch %d x %g tokens, lr %g, T %g, "
           "alphas %g/%g/%g), Moby-Dick, %ld steps, seeds 1-%d\n",
           in->keys[runtime_key_index(in, "num_hidden_layers")].def, in->keys[runtime_key_index(in, "student_layers")].def,
           in->keys[runtime_key_index(in, "hidden_size")].def, in->default_batch, in->keys[runtime_key_index(in, "seq_len")].def,
           (double)in->default_lr, in->keys[runtime_key_index(in, "temperature")].def,
           in->keys[runtime_key_index(in, "alpha_ce")].def, in->keys[runtime_key_index(in, "alpha_mlm")].def,
           in->keys[runtime_key_index(in, "alpha_cos")].def, steps, seeds);
    fflush(stdout);
    int jobs = NCFG * seeds;
    Result res[32];
    if (bench_jobs(jobs, sizeof *res, res, job, &steps)) {
        fprintf(stderr, "distil_finding: a run failed\n");
        return 1;
    }
    /* rows: the teacher (mean over every run), then the three students */
    enum { COL_PARAMS, COL_SPEEDUP, COL_ACC, COL_MLM, COL_AGREE, NCOL };
    double t[1 + NCFG][NCOL] = {{0}};
    printf("\n%-5s %-12s %-14s %-12s %-12s %s\n", "seed", "student", "held-out acc", "teacher acc", "held-out MLM", "speed-up");
    for (int j = 0; j < jobs; j++) {
        const Result *x = &res[j];
        int k = 1 + j % NCFG;
        double speed = x->ms[DI_TEACHER] / x->ms[DI_STUDENT];
        printf("%-5d %-12s %-14.2f %-12.2f %-12.4f %.2f\n", 1 + j / NCFG, cfg_name[j % NCFG], 100 * x->acc[0],
               100 * x->acc[1], x->mlm[0], speed);
        t[k][COL_PARAMS] = x->params[DI_STUDENT];
        t[k][COL_SPEEDUP] += speed / seeds;
        t[k][COL_ACC] += x->acc[DI_STUDENT] / seeds;
        t[k][COL_MLM] += x->mlm[DI_STUDENT] / seeds;
        t[k][COL_AGREE] += x->agreement / seeds;
        t[0][COL_PARAMS] = x->params[DI_TEACHER];
        t[0][COL_ACC] += x->acc[DI_TEACHER] / jobs;
        t[0][COL_MLM] += x->mlm[DI_TEACHER] / jobs;
    }
    t[0][COL_SPEEDUP] = 1;
    t[0][COL_AGREE] = 1;
    static const char *const row[1 + NCFG] = {"teacher", "distilled", "mlm_only", "random_init", "scratch"};
    static const char *const label[1 + NCFG] = {"teacher (4 layers, frozen)", "distilled: ce + mlm + cos",
                                                "teacher's layers, MLM alone", "distilled, random init",
                                                "random init, MLM alone"};
    printf("\nmean of %d seeds; held-out: %d windows per seed\n", seeds, DI_EVAL_BATCHES * in->default_batch);
    printf("%-27s %-11s %-7s %-9s %-13s %-9s %-13s %s\n", "model", "parameters", "share", "speed-up", "held-out acc",
           "of teacher", "held-out MLM", "same top-1");
    for (int k = 0; k <= NCFG; k++)
        printf("%-27s %-11.0f %-7.1f %-9.2f %-13.2f %-9.1f %-13.4f %.1f\n", label[k], t[k][COL_PARAMS],
               100 * t[k][COL_PARAMS] / t[0][COL_PARAMS], t[k][COL_SPEEDUP], 100 * t[k][COL_ACC],
               100 * t[k][COL_ACC] / t[0][COL_ACC], t[k][COL_MLM], 100 * t[k][COL_AGREE]);
    printf("DistilBERT, Tables 1, 3 and 4: 66M parameters of BERT-base's 110M (60%%), 60%% faster, 97%% of its GLUE "
           "score; without ce -2.96 points, without the teacher's initialisation -3.69\n");
    if (store) {
        char path[4096];
        snprintf(path, sizeof path, "%s/lessons/distil/finding.csv", FMLAB_SOURCE_ROOT);
        FILE *f = fopen(path, "w");
        if (!f) {
            perror(path);
            return 1;
        }
        fprintf(f, "model,steps,seeds,params,param_share,speedup,eval_accuracy,accuracy_share,eval_mlm_loss,agreement\n");
        for (int k = 0; k <= NCFG; k++)
            fprintf(f, "%s,%ld,%d,%.0f,%.4f,%.3f,%.4f,%.4f,%.4f,%.4f\n", row[k], steps, seeds, t[k][COL_PARAMS],
                    t[k][COL_PARAMS] / t[0][COL_PARAMS], t[k][COL_SPEEDUP], t[k][COL_ACC], t[k][COL_ACC] / t[0][COL_ACC],
                    t[k][COL_MLM], t[k][COL_AGREE]);
        fclose(f);
        printf("written: %s\n", path);
    }
    return 0;
}
