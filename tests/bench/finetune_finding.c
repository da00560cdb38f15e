/* finetune_finding.c — the lesson's finding in miniature: how much does pretraining help
 * when labels are few?
 *
 * BERT (Devlin et al. 2019, §4 and §5.3): one new output layer on a pretrained encoder,
 * everything fine-tuned, beats training from scratch; a frozen encoder read by a classifier
 * (the feature-based approach) comes close on NER. Here: fmlab-finetune at its defaults, for
 * label budgets 16, 64, 256 and all (2,804), seeds 1-3, the three runs (finetune, probe,
 * scratch) trained side by side on the same batches for S steps, then measured on all 700
 * held-out messages (350 ham, 350 spam: chance is 50%).
 *
 *   finetune_finding [steps [seeds [pretrain_steps]]] [--write]
 *
 * Defaults: 300 fine-tuning steps, 3 seeds, and the encoder the lesson uses by default
 * (pretrain_steps 2000); a smaller pretrain_steps builds (and caches) a less trained encoder.
 *
 * The pretrained encoder. The lesson builds it at start by running fmlab-mlm, which it looks
 * for beside its own program; this benchmark lives in tests/bench/ where there is none. So
 * the benchmark does the building itself, once, before any run: it runs the fmlab-mlm of this
 * build (its path is compiled in: FMLAB_MLM_PROGRAM) with exactly the settings the lesson
 * would use at its defaults (fmlab-mlm's defaults, seq_len 32, 2000 steps, seed 1), into the
 * same cache file the lesson uses ($XDG_CACHE_HOME/fmlab, else ~/.cache/fmlab). A file already
 * there, built by the lesson or by an earlier benchmark, is used as it is when its settings
 * match its name. Every run is then started with --pretrained FILE, so the lesson never needs
 * to find fmlab-mlm. Building takes about 5 minutes; set XDG_CACHE_HOME to keep it elsewhere.
 *
 * Each (budget, seed) runs in its own process, two at a time, one engine thread each.
 * --write stores the table as lessons/finetune/finding.csv (rows: the budgets; columns: the
 * mean held-out accuracy of each run), which the window shows beside the live runs. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/bench/finetune_runs.h"

/* The cache file the lesson at its defaults reads (finetune.c load_pretrained), built with
 * this build's fmlab-mlm when it is missing or does not match its name. */
static int encoder(long pretrain_steps, char *path, size_t n)
{
    static const char *const model_keys[] = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                             "intermediate_size", "seq_len", NULL};
    KitPretrainSpec spec = {.lesson = "mlm", .kind = MODEL_BERT_MLM, .steps = pretrain_steps, .seed = 1};
    for (int i = 0; model_keys[i]; i++) {
        spec.key[spec.nkeys] = model_keys[i];
        spec.value[spec.nkeys++] = ft_default(model_keys[i]);
    }
    char err[1200];
    if (kit_cache_path(&spec, path, n, err, sizeof err)) {
        fprintf(stderr, "finetune_finding: %s\n", err);
        return -1;
    }
    if (access(path, F_OK) == 0 && kit_pretrained_matches(&spec, path)) return 0;
    char tmp[4200], steps[32], sets[KIT_PRETRAINED_KEYS][96];
    snprintf(tmp, sizeof tmp, "%s.bench.tmp", path);
    snprintf(steps, sizeof steps, "%ld", spec.steps);
    const char *argv[16 + 2 * KIT_PRETRAINED_KEYS];
    int a = 0;
    argv[a++] = FMLAB_MLM_PROGRAM;
    argv[a++] = "--headless";
    argv[a++] = "--steps";
    argv[a++] = steps;
    argv[a++] = "--seed";
    argv[a++] = "1";
    for (int i = 0; i < spec.nkeys; i++) {
        snprintf(sets[i], sizeof sets[i], "%s=%.17g", spec.key[i], spec.value[i]);
        argv[a++] = "--set";
        argv[a++] = sets[i];
    }
    argv[a++] = "--save";
    argv[a++] = tmp;
    argv[a] = NULL;
    printf("building the pretrained encoder once (%ld steps of fmlab-mlm, about 5 minutes for 2000 on an idle machine):\n"
           "  %s ... --save %s\n", spec.steps, FMLAB_MLM_PROGRAM, path);
    if (bench_program(argv, "/dev/null", NULL, NULL) || rename(tmp, path)) {
        fprintf(stderr, "finetune_finding: building the encoder with %s failed\n", FMLAB_MLM_PROGRAM);
        return -1;
    }
    return 0;
}

typedef struct Plan {
    const char *pretrained;
    long steps;
} Plan;

static int job(int i, void *out, void *ctx)
{
    const Plan *p = ctx;
    return ft_train_one(p->pretrained, ft_budgets[i % FT_NBUDGETS], 1 + i / FT_NBUDGETS, p->steps, out);
}

int main(int argc, char **argv)
{
    long steps = 300, pretrain_steps = (long)ft_default("pretrain_steps");
    int seeds = 3;
    bool store = false;
    for (int i = 1, n = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--write")) store = true;
        else if (n++ == 0) steps = atol(argv[i]);
        else if (n == 2) seeds = atoi(argv[i]);
        else pretrain_steps = atol(argv[i]);
    }
    if (steps <= 0 || seeds <= 0 || seeds > 8 || pretrain_steps <= 0) {
        fprintf(stderr, "usage: finetune_finding [steps [seeds [pretrain_steps]]] [--write]\n");
        return 2;
    }
    char pretrained[4096];
    if (encoder(pretrain_steps, pretrained, sizeof pretrained)) return 1;
    const LessonInfo *in = &finetune_lesson.info;
    printf("fmlab-finetune at its defaults (BERT %gx%g, %g heads, batch %d x %g tokens, lr %g), spam/ham, %ld steps, "
           "seeds 1-%d\nencoder: fmlab-mlm, %ld steps: %s\n",
           ft_default("num_hidden_layers"), ft_default("hidden_size"), ft_default("num_attention_heads"),
           in->default_batch, ft_default("seq_len"),
           (double)in->default_lr, steps, seeds, pretrain_steps, pretrained);
    fflush(stdout);
    /* every (budget, seed) in a child, two at once (tests/bench/jobs.h) */
    int jobs = FT_NBUDGETS * seeds;
    FtResult res[FT_NBUDGETS * 8];
    Plan plan = {pretrained, steps};
    fflush(NULL);
    if (bench_jobs(jobs, sizeof *res, res, job, &plan)) {
        fprintf(stderr, "finetune_finding: a run failed\n");
        return 1;
    }
    printf("\n%-7s %-5s %-18s %-18s %s\n", "labels", "seed", "finetune acc/loss", "probe acc/loss", "scratch acc/loss");
    for (int j = 0; j < jobs; j++)
        printf("%-7s %-5d %5.1f%% / %-9.3f %5.1f%% / %-9.3f %5.1f%% / %.3f\n", ft_budget_names[j % FT_NBUDGETS],
               1 + j / FT_NBUDGETS,
               100 * res[j].acc[0], res[j].loss[0], 100 * res[j].acc[1], res[j].loss[1], 100 * res[j].acc[2], res[j].loss[2]);
    double mean[FT_NBUDGETS][RUN_COUNT] = {{0}}, lo[FT_NBUDGETS][RUN_COUNT], hi[FT_NBUDGETS][RUN_COUNT];
    for (int b = 0; b < FT_NBUDGETS; b++)
        for (int k = 0; k < RUN_COUNT; k++) lo[b][k] = 2, hi[b][k] = -1;
    for (int j = 0; j < jobs; j++)
        for (int k = 0; k < RUN_COUNT; k++) {
            int b = j % FT_NBUDGETS;
            double a = res[j].acc[k];
            mean[b][k] += a / seeds;
            if (a < lo[b][k]) lo[b][k] = a;
            if (a > hi[b][k]) hi[b][k] = a;
        }
    printf("\nheld-out accuracy (700 messages, chance 50%%), mean of %d seeds [min-max]\n", seeds);
    printf("%-7s %-22s %-22s %s\n", "labels", "finetune", "probe", "scratch");
    for (int b = 0; b < FT_NBUDGETS; b++) {
        printf("%-7s", ft_budget_names[b]);
        for (int k = 0; k < RUN_COUNT; k++)
            printf(" %5.1f [%5.1f-%5.1f]     ", 100 * mean[b][k], 100 * lo[b][k], 100 * hi[b][k]);
        printf("\n");
    }
    if (store) {
        char path[4096];
        snprintf(path, sizeof path, "%s/lessons/finetune/finding.csv", FMLAB_SOURCE_ROOT);
        FILE *f = fopen(path, "w");
        if (!f) {
            perror(path);
            return 1;
        }
        fprintf(f, "labels,steps,seeds,pretrain_steps,eval_finetune_accuracy,eval_probe_accuracy,eval_scratch_accuracy\n");
        for (int b = 0; b < FT_NBUDGETS; b++)
            fprintf(f, "%s,%ld,%d,%ld,%.4f,%.4f,%.4f\n", ft_budget_names[b], steps, seeds, pretrain_steps, mean[b][0],
                    mean[b][1], mean[b][2]);
        fclose(f);
        printf("written: %s\n", path);
    }
    return 0;
}
