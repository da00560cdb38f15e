/* albert_finding.c — the lesson's finding in miniature.
 *
 * ALBERT (Lan et al. 2020, Tables 3 and 4): factorizing the embeddings (E = 128 instead of
 * 768) costs little (not shared: 108M → 89M parameters, average score 82.3 → 81.7); sharing
 * every layer costs more (E = 128: 89M → 12M, 81.7 → 80.1); both together give ALBERT-base,
 * a ninth of BERT-base's parameters for about two points. Here: four encoders trained the same
 * steps on the same batches at the lesson's defaults (H 64, L 4), each evaluated on the
 * lesson's held-out pairs: BERT, factorized only (E 16, a layer group per layer), shared only
 * (E = H = 64, one group), and both (E 16, one group: the lesson's ALBERT). Parameters,
 * held-out MLM loss and accuracy, held-out SOP accuracy, mean over seeds.
 *
 *   albert_finding [steps [seeds]] [--write]
 *
 * Each run trains the lesson's pair (one ALBERT setting beside the BERT) in its own process,
 * two at a time, one engine thread each; BERT's figures are the mean over every run (its
 * batches are the same in all; its initial weights follow ALBERT's in the seed's stream).
 * --write stores the table as lessons/albert/finding.csv, which the window shows. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/bench/jobs.h"
#include "lessons/albert/lesson.h"

enum { CFG_BOTH, CFG_FACTORIZED, CFG_SHARED, NCFG };
static const char *const cfg_name[NCFG] = {"both", "factorized", "shared"};
static const char *const cfg_sets[NCFG][2] = {
    {"embedding_size=16", "share_layers=1"}, {"embedding_size=16", "share_layers=0"}, {"embedding_size=64", "share_layers=1"}};

typedef struct Result { double params[2], mlm[2], mlm_acc[2], sop[2]; } Result;

static int train_one(int cfg, int seed, long steps, Result *out)
{
    char sb[16];
    snprintf(sb, sizeof sb, "%d", seed);
    char *args[] = {"fmlab-albert", "--headless", "--threads", "1", "--seed", sb, "--set", (char *)cfg_sets[cfg][0],
                    "--set", (char *)cfg_sets[cfg][1], NULL};
    RunOptions o;
    if (runtime_parse(10, args, &albert_lesson.info, &o) >= 0) return -1;
    static Run L;
    if (kit_init(&L, &albert_lesson, &o) >= 0) return -1;
    if (bench_train(&L, steps)) return -1;
    float extra[KIT_MAX_EXTRA];
    kit_evaluate(&L, extra);
    const Albert *m = KIT_SELF(&L, Albert);
    for (int i = 0; i < AL_MODELS; i++) {
        out->params[i] = (double)m->count[i].total;
        out->mlm[i] = extra[AL_EVAL_MLM_LOSS + i];
        out->mlm_acc[i] = extra[AL_EVAL_MLM_ACCURACY + i];
        out->sop[i] = extra[AL_EVAL_SOP_ACCURACY + i];
    }
    kit_free(&L);
    return 0;
}

static int job(int i, void *out, void *ctx) { return train_one(i % NCFG, 1 + i / NCFG, *(const long *)ctx, out); }

int main(int argc, char **argv)
{
    long steps = 3000;
    int seeds = 2;
    bool store;
    if (bench_args(argc, argv, "albert_finding", &steps, &seeds, 8, &store)) return 2;
    const LessonInfo *in = &albert_lesson.info;
    printf("fmlab-albert at its defaults (H %g, L %g, %g heads, FFN %g, batch %d x %g tokens, lr %g), Moby-Dick, "
           "%ld steps, seeds 1-%d\n",
           in->keys[runtime_key_index(in, "hidden_size")].def, in->keys[runtime_key_index(in, "num_hidden_layers")].def,
           in->keys[runtime_key_index(in, "num_attention_heads")].def,
           in->keys[runtime_key_index(in, "intermediate_size")].def, in->default_batch,
           in->keys[runtime_key_index(in, "seq_len")].def, (double)in->default_lr, steps, seeds);
    fflush(stdout);
    int jobs = NCFG * seeds;
    Result res[32];
    if (bench_jobs(jobs, sizeof *res, res, job, &steps)) {
        fprintf(stderr, "albert_finding: a run failed\n");
        return 1;
    }
    /* rows: bert, factorized, shared, both; columns: parameters, MLM loss, MLM accuracy, SOP */
    const char *row[4] = {"bert", "factorized", "shared", "both"};
    const int of[4] = {-1, CFG_FACTORIZED, CFG_SHARED, CFG_BOTH};
    double t[4][4] = {{0}};
    printf("\n%-5s %-11s %-11s %-15s %-15s %s\n", "seed", "encoder", "parameters", "held-out MLM", "MLM accuracy",
           "SOP accuracy");
    for (int j = 0; j < jobs; j++) {
        const Result *x = &res[j];
        printf("%-5d %-11s %-11.0f %-15.4f %-15.2f %.1f\n", 1 + j / NCFG, cfg_name[j % NCFG], x->params[0], x->mlm[0],
               100 * x->mlm_acc[0], 100 * x->sop[0]);
        for (int k = 1; k < 4; k++)
            if (of[k] == j % NCFG) {
                t[k][0] = x->params[0];
                t[k][1] += x->mlm[0] / seeds, t[k][2] += x->mlm_acc[0] / seeds, t[k][3] += x->sop[0] / seeds;
            }
        t[0][0] = x->params[1];
        t[0][1] += x->mlm[1] / jobs, t[0][2] += x->mlm_acc[1] / jobs, t[0][3] += x->sop[1] / jobs;
    }
    printf("\nmean of %d seeds (BERT: of all %d runs); held-out %d pairs per seed, chance 50%% on SOP\n", seeds, jobs,
           AL_EVAL_BATCHES * in->default_batch);
    printf("%-28s %-12s %-9s %-14s %-14s %s\n", "encoder", "parameters", "share", "held-out MLM", "MLM accuracy",
           "SOP accuracy");
    const char *label[4] = {"BERT (E = H = 64, L layers)", "factorized only (E 16)", "shared only (E = H, 1 layer)",
                            "both: ALBERT (E 16, 1 layer)"};
    for (int k = 0; k < 4; k++)
        printf("%-28s %-12.0f %-9.1f %-14.4f %-14.2f %.1f\n", label[k], t[k][0], 100 * t[k][0] / t[0][0], t[k][1],
               100 * t[k][2], 100 * t[k][3]);
    printf("ALBERT, Tables 3-4 (BERT-base size): not shared E=768 108M 82.3, E=128 89M 81.7; all-shared E=768 31M 79.8, "
           "E=128 12M 80.1 (average of SQuAD, MNLI, SST-2, RACE)\n");
    if (store) {
        char path[4096];
        snprintf(path, sizeof path, "%s/lessons/albert/finding.csv", FMLAB_SOURCE_ROOT);
        FILE *f = fopen(path, "w");
        if (!f) {
            perror(path);
            return 1;
        }
        fprintf(f, "encoder,steps,seeds,parameters,eval_mlm_loss,eval_mlm_accuracy,eval_sop_accuracy\n");
        for (int k = 0; k < 4; k++)
            fprintf(f, "%s,%ld,%d,%.0f,%.4f,%.4f,%.4f\n", row[k], steps, seeds, t[k][0], t[k][1], t[k][2], t[k][3]);
        fclose(f);
        printf("written: %s\n", path);
    }
    return 0;
}
