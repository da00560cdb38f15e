/* nsp_finding.c — the lesson's two findings in miniature.
 *
 * ALBERT §4.6 (Lan et al. 2020, Table 5): a model trained with NSP barely beats chance on
 * sentence order (SOP 52.0%), while one trained with SOP also does well on NSP (78.9%). Here:
 * one model per objective, trained the same steps at the lesson's defaults, each evaluated on
 * the lesson's held-out NSP and SOP pairs (256 of each per seed): the 2×2 table.
 *
 * RoBERTa's critique (Liu et al. 2019, §4.2): NSP is easy because the topic gives NotNext
 * away. The word-overlap baseline (no model, no word order: a threshold on how many words A
 * and B share, fitted on training pairs) on 2048 held-out pairs of each task, beside it.
 *
 *   nsp_finding [steps [seeds]] [--write]
 *
 * Each (objective, seed) runs in its own process, two at a time, one engine thread each.
 * --write stores the table as lessons/nsp/finding.csv, which the window shows beside the live
 * model. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/bench/jobs.h"
#include "lessons/nsp/lesson.h"

typedef struct Result { double nsp, sop, overlap_nsp, overlap_sop, mlm; } Result;

static int train_one(int objective, int seed, long steps, Result *out)
{
    char sb[16];
    snprintf(sb, sizeof sb, "%d", seed);
    char *args[] = {"fmlab-nsp", "--headless", "--threads", "1", "--seed", sb, "--set",
                    objective == OBJ_SOP ? "objective=sop" : "objective=nsp", NULL};
    RunOptions o;
    if (runtime_parse(8, args, &nsp_lesson.info, &o) >= 0) return -1;
    static Run L;
    if (kit_init(&L, &nsp_lesson, &o) >= 0) return -1;
    if (bench_train(&L, steps)) return -1;
    float extra[KIT_MAX_EXTRA];
    kit_evaluate(&L, extra);
    const Nsp *m = KIT_SELF(&L, Nsp);
    *out = (Result){extra[NSP_EVAL_NSP_ACCURACY], extra[NSP_EVAL_SOP_ACCURACY], m->overlap.nsp, m->overlap.sop,
                    extra[NSP_EVAL_MLM_LOSS]};
    kit_free(&L);
    return 0;
}

static int job(int i, void *out, void *ctx) { return train_one(i % 2, 1 + i / 2, *(const long *)ctx, out); }

int main(int argc, char **argv)
{
    long steps = 3000;
    int seeds = 2;
    bool store;
    if (bench_args(argc, argv, "nsp_finding", &steps, &seeds, 16, &store)) return 2;
    const LessonInfo *in = &nsp_lesson.info;
    printf("fmlab-nsp at its defaults (BERT %gx%g, %g heads, batch %d x %g tokens, lr %g), Moby-Dick, %ld steps, "
           "seeds 1-%d\n",
           in->keys[runtime_key_index(in, "num_hidden_layers")].def, in->keys[runtime_key_index(in, "hidden_size")].def,
           in->keys[runtime_key_index(in, "num_attention_heads")].def, in->default_batch,
           in->keys[runtime_key_index(in, "seq_len")].def, (double)in->default_lr, steps, seeds);
    fflush(stdout);
    /* every (objective, seed) in a child, two at once (tests/bench/jobs.h) */
    int jobs = 2 * seeds;
    Result res[32];
    if (bench_jobs(jobs, sizeof *res, res, job, &steps)) {
        fprintf(stderr, "nsp_finding: a run failed\n");
        return 1;
    }
    printf("\n%-5s %-12s %-14s %-14s %s\n", "seed", "trained on", "held-out NSP", "held-out SOP", "held-out MLM loss");
    double acc[2][2] = {{0}}, overlap[2] = {0};
    for (int j = 0; j < jobs; j++) {
        printf("%-5d %-12s %-14.1f %-14.1f %.3f\n", 1 + j / 2, j % 2 ? "SOP" : "NSP", 100 * res[j].nsp, 100 * res[j].sop,
               res[j].mlm);
        acc[j % 2][0] += res[j].nsp / seeds;
        acc[j % 2][1] += res[j].sop / seeds;
        overlap[0] += res[j].overlap_nsp / jobs;
        overlap[1] += res[j].overlap_sop / jobs;
    }
    printf("\nheld-out accuracy, mean of %d seeds (%d pairs of each task per seed; chance 50%%)\n", seeds, 8 * in->default_batch);
    printf("%-26s %-8s %s\n", "", "NSP", "SOP");
    printf("%-26s %-8.1f %.1f\n", "trained on NSP", 100 * acc[0][0], 100 * acc[0][1]);
    printf("%-26s %-8.1f %.1f\n", "trained on SOP", 100 * acc[1][0], 100 * acc[1][1]);
    printf("%-26s %-8.1f %.1f\n", "word overlap, no model", 100 * overlap[0], 100 * overlap[1]);
    printf("ALBERT, Table 5 (BERT-base size, 125k steps): NSP-trained 90.5 / 52.0, SOP-trained 78.9 / 86.5\n");
    if (store) {
        char path[4096];
        snprintf(path, sizeof path, "%s/lessons/nsp/finding.csv", FMLAB_SOURCE_ROOT);
        FILE *f = fopen(path, "w");
        if (!f) {
            perror(path);
            return 1;
        }
        fprintf(f, "trained_on,steps,seeds,eval_nsp_accuracy,eval_sop_accuracy,overlap_nsp_accuracy,overlap_sop_accuracy\n");
        for (int o = 0; o < 2; o++)
            fprintf(f, "%s,%ld,%d,%.4f,%.4f,%.4f,%.4f\n", o ? "sop" : "nsp", steps, seeds, acc[o][0], acc[o][1], overlap[0],
                    overlap[1]);
        fclose(f);
        printf("written: %s\n", path);
    }
    return 0;
}
