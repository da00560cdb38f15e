/* electra_finding.c — the lesson's finding in miniature: is an encoder that learned from every
 * token worth more downstream than one that learned from the 15% it hid?
 *
 * ELECTRA (Clark et al. 2020, Table 1 and the efficiency analysis): at the same model size and
 * comparable compute, a discriminator trained on replaced-token detection fine-tunes better on
 * GLUE than a masked LM, largely because its loss has a term at every position instead of at
 * the masked ones. Here: for each pretraining seed, fmlab-mlm's BertForMaskedLM and
 * fmlab-electra's ElectraForPreTraining (the same encoder: vocab 2000, hidden 64, 2 layers, 4
 * heads, intermediate 256) trained the same steps at the same batch, learning rate and seq_len
 * 32; then each encoder goes into fmlab-finetune (--pretrained FILE) at its defaults for 300
 * steps, at label budgets 16, 64, 256 and all (2,804), fine-tuning seeds 1-F, and its frozen
 * linear probe and its fine-tuned model are measured on all 700 held-out messages (chance 50%).
 * fmlab-finetune's scratch run, the same for both encoders, is shown beside them.
 *
 *   electra_finding [pretrain_steps [pretrain_seeds [finetune_seeds]]] [--write]
 *
 * Defaults: 2000 steps, pretraining seeds 1-2, fine-tuning seeds 1-3 (each mean is over
 * 2 × 3 = 6 runs). The batch is fmlab-mlm's default, 64 windows (fmlab-electra's is 32; the
 * two must be equal for equal steps to mean equal text), the learning rate both lessons' 2e-3.
 * The MLM encoder of seed 1 has the weights of the one fmlab-finetune builds for itself
 * (fmlab-mlm at its defaults; evaluating less often changes no weight).
 *
 * Equal steps are not equal compute: ELECTRA runs its generator beside the discriminator. Each
 * pretraining runs with one engine thread, the two seeds of one lesson side by side, held-out
 * evaluation only at the last step. Its time per step is measured two ways: the wall clock (the
 * program's own steps per second), and the processor time the whole program used over its
 * steps (start-up, the one evaluation and the export add well under 1%). With one thread the two
 * agree on an idle machine; on a busy one only the processor time still measures the work, so
 * the ELECTRA/MLM ratio stored is that one.
 * The pretraining figures come from each run's export (metrics.csv): the MLM's held-out
 * masked-token loss and accuracy; the discriminator's held-out accuracy, the share of replaced
 * tokens it calls replaced (recall at P > 0.5), its ranking figure (0.5: cannot tell replaced
 * from original) and its loss, and the generator's accuracy. One more figure says how much the
 * encoder's output still depends on its input (its spread: encoder_spread below), read from
 * the encoder as fmlab-finetune starts from it.
 *
 * The programs are this build's (paths compiled in: FMLAB_MLM_PROGRAM, FMLAB_ELECTRA_PROGRAM);
 * their files go to a temporary folder, removed at the end. Fine-tuning runs two at a time, one
 * engine thread each (finetune_runs.h). --write stores lessons/electra/finding.csv: rows the
 * budgets, columns the four means (0..1), their standard deviations, the runs per mean (seeds),
 * the pretraining steps and the time ratio. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/bench/finetune_runs.h"

#define PRETRAIN_BATCH 64     /* fmlab-mlm's default batch (fmlab-electra's is 32) */
#define PRETRAIN_LR "0.002"   /* both lessons' default */
#define FINETUNE_STEPS 300    /* finetune_finding's */
#define MAX_PRE_SEEDS 4
#define MAX_FT_SEEDS 8

enum { ENC_MLM, ENC_ELECTRA, NENC };
static const char *const enc_name[NENC] = {"MLM", "ELECTRA"};
static const char *const enc_program[NENC] = {FMLAB_MLM_PROGRAM, FMLAB_ELECTRA_PROGRAM};
static const char *const enc_file[NENC] = {"mlm", "el"};

/* the pretraining figures read from metrics.csv, by column */
enum { FIG_MLM_LOSS, FIG_MLM_ACC, FIG_DISC_ACC, FIG_RECALL, FIG_RANKING, FIG_RTD_LOSS, FIG_GEN_ACC, FIG_ORIGINAL,
       FIG_SPREAD, NFIG };
static const char *const fig_column[NENC][NFIG] = {
    [ENC_MLM] = {"eval_loss", "eval_accuracy"},
    [ENC_ELECTRA] = {[FIG_DISC_ACC] = "eval_disc_accuracy", [FIG_RECALL] = "eval_replaced_recall",
                     [FIG_RANKING] = "eval_ranking", [FIG_RTD_LOSS] = "eval_rtd_loss",
                     [FIG_GEN_ACC] = "eval_gen_accuracy"},
};

typedef struct Pretrained {
    double steps_per_s;               /* wall clock, the program's own figure */
    double cpu_s;                     /* processor time of the whole program */
    double fig[NFIG];                 /* NaN: not this lesson's, or not in its metrics.csv */
} Pretrained;

typedef struct Plan {
    char dir[4096];
    long steps;
    int pre_seeds, ft_seeds;
    int enc;                          /* the lesson pretrained by the current bench_jobs */
} Plan;

static void path_of(const Plan *p, int enc, int seed, const char *suffix, char *out, size_t n)
{
    snprintf(out, n, "%s/%s_%d%s", p->dir, enc_file[enc], seed, suffix);
}

/* metrics.csv's figures: each column's value in the last row that has one; ELECTRA's share
   of original tokens in its last training batch from the confusion counts (tp fn fp tn), what
   a discriminator saying "original" everywhere would score */
static int read_metrics(const char *path, int enc, double *fig)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    int col[NFIG + 4];
    const char *const counts[4] = {"tp", "fn", "fp", "tn"};
    for (int k = 0; k < NFIG + 4; k++) col[k] = -1;
    for (int k = 0; k < NFIG; k++) fig[k] = NAN;
    double c[4] = {NAN, NAN, NAN, NAN};
    for (int row = 0; getline(&line, &cap, f) > 0; row++) {
        line[strcspn(line, "\r\n")] = 0;
        int i = 0;
        for (char *cell = line, *end; cell; cell = end ? end + 1 : NULL, i++) {
            end = strchr(cell, ',');
            if (end) *end = 0;
            for (int k = 0; k < NFIG + 4; k++) {
                const char *name = k < NFIG ? fig_column[enc][k] : enc == ENC_ELECTRA ? counts[k - NFIG] : NULL;
                if (!name) continue;
                if (row == 0 && !strcmp(cell, name)) col[k] = i;
                else if (row > 0 && col[k] == i && *cell) {
                    if (k < NFIG) fig[k] = atof(cell);
                    else c[k - NFIG] = atof(cell);
                }
            }
        }
    }
    free(line);
    fclose(f);
    double all = c[0] + c[1] + c[2] + c[3];
    if (enc == ENC_ELECTRA && all > 0) fig[FIG_ORIGINAL] = (c[2] + c[3]) / all;
    return 0;
}

/* the last progress line's rate: "step S/S loss L (R steps/s)" */
static double read_rate(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NAN;
    char line[512];
    double rate = NAN, loss, r;
    long s, t;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "step %ld/%ld loss %lf (%lf steps/s)", &s, &t, &loss, &r) == 4 && s == t) rate = r;
    fclose(f);
    return rate;
}

/* One pretraining: the lesson's program headless, one thread, held-out figures only at the end
   (evaluating every 25 steps would be timed too), its checkpoint and export into the folder. */
/* How much the encoder's last hidden state depends on the message: for each of the 700 held-out
   messages, the state averaged over its tokens; the variance of those averages between messages
   (summed over dimensions) over their mean square. 1 would be all variation, 0 the same vector
   for every message. A masked LM must keep tokens apart to name them; an encoder under a head
   that gives every token the same answer may let them all drift to one vector, and then a
   classifier on it has nothing to read. Read from fmlab-finetune's finetune run before any
   step, which holds the pretrained encoder. */
static double encoder_spread(const char *ckpt)
{
    char *args[] = {"fmlab-finetune", "--headless", "--threads", "1", "--pretrained", (char *)ckpt, NULL};
    RunOptions o;
    if (runtime_parse(6, args, &finetune_lesson.info, &o) >= 0) return NAN;
    static Run L;
    if (kit_init(&L, &finetune_lesson, &o) >= 0) return NAN;
    const FtBatch *b = &KIT_SELF(&L, Finetune)->eval_all;
    Model *md = kit_model(&L, RUN_FINETUNE);
    int H = md->cfg.hidden_size, n = b->B, T = b->T;
    double *avg = calloc((size_t)n * H, sizeof *avg), *mean = calloc((size_t)H, sizeof *mean);
    if (!avg || !mean) return NAN;
    for (int from = 0; from < n; from += L.B) {
        int rows = n - from < L.B ? n - from : L.B;
        size_t off = (size_t)from * T;
        KitScope scope = kit_eval_begin(&L);
        Batch in = {rows, T, b->ids + off, b->types + off, b->mask + off};
        Forward f = {0};
        model_forward(md, &L.tape, &in, &f);
        for (int i = 0; i < rows; i++) {
            double *a = avg + (size_t)(from + i) * H;
            int tokens = 0;
            for (int t = 0; t < T; t++) {
                if (!in.attention_mask[i * T + t]) continue;
                const float *h = f.hidden->data + ((size_t)i * T + t) * H;
                for (int k = 0; k < H; k++) a[k] += h[k];
                tokens++;
            }
            for (int k = 0; k < H; k++) a[k] /= tokens, mean[k] += a[k] / n;
        }
        kit_eval_end(&L, scope);
    }
    double var = 0, square = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < H; k++) {
            double x = avg[(size_t)i * H + k];
            var += (x - mean[k]) * (x - mean[k]) / n;
            square += x * x / n;
        }
    free(avg), free(mean);
    kit_free(&L);
    return var / square;
}

static int pretrain_job(int i, void *out, void *ctx)
{
    const Plan *p = ctx;
    Pretrained *res = out;
    int seed = 1 + i;
    char steps[32], seedb[16], batch[16], eval[48], ckpt[4200], exp[4200], err[4200], metrics[4300];
    snprintf(steps, sizeof steps, "%ld", p->steps);
    snprintf(seedb, sizeof seedb, "%d", seed);
    snprintf(batch, sizeof batch, "%d", PRETRAIN_BATCH);
    snprintf(eval, sizeof eval, "eval_every=%ld", p->steps);
    path_of(p, p->enc, seed, ".ckpt", ckpt, sizeof ckpt);
    path_of(p, p->enc, seed, "", exp, sizeof exp);
    path_of(p, p->enc, seed, ".err", err, sizeof err);
    const char *argv[] = {enc_program[p->enc], "--headless", "--threads", "1", "--steps", steps, "--seed", seedb,
                          "--batch", batch, "--lr", PRETRAIN_LR, "--set", "seq_len=32", "--set", eval,
                          "--save", ckpt, "--export", exp, "--no-screenshot", NULL};
    if (bench_program(argv, "/dev/null", err, &res->cpu_s)) {
        fprintf(stderr, "electra_finding: %s failed; its messages are in %s\n", enc_program[p->enc], err);
        return -1;
    }
    res->steps_per_s = read_rate(err);
    snprintf(metrics, sizeof metrics, "%s/metrics.csv", exp);
    if (read_metrics(metrics, p->enc, res->fig)) {
        fprintf(stderr, "electra_finding: cannot read %s\n", metrics);
        return -1;
    }
    res->fig[FIG_SPREAD] = encoder_spread(ckpt);
    return 0;
}

/* fine-tuning job i: encoder, pretraining seed, budget, fine-tuning seed (budget fastest) */
static void ft_index(const Plan *p, int i, int *enc, int *pre, int *budget, int *seed)
{
    *budget = i % FT_NBUDGETS;
    i /= FT_NBUDGETS;
    *seed = 1 + i % p->ft_seeds;
    i /= p->ft_seeds;
    *pre = 1 + i % p->pre_seeds;
    *enc = i / p->pre_seeds;
}

static int finetune_job(int i, void *out, void *ctx)
{
    const Plan *p = ctx;
    int enc, pre, b, seed;
    ft_index(p, i, &enc, &pre, &b, &seed);
    char ckpt[4200];
    path_of(p, enc, pre, ".ckpt", ckpt, sizeof ckpt);
    return ft_train_one(ckpt, ft_budgets[b], seed, FINETUNE_STEPS, out);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* mean, sample standard deviation, min and max of n values */
typedef struct Stat { double mean, sd, lo, hi; } Stat;
static Stat stat_of(const double *x, int n)
{
    Stat s = {0, 0, x[0], x[0]};
    for (int i = 0; i < n; i++) {
        s.mean += x[i] / n;
        s.lo = x[i] < s.lo ? x[i] : s.lo;
        s.hi = x[i] > s.hi ? x[i] : s.hi;
    }
    for (int i = 0; n > 1 && i < n; i++) s.sd += (x[i] - s.mean) * (x[i] - s.mean) / (n - 1);
    s.sd = sqrt(s.sd);
    return s;
}

int main(int argc, char **argv)
{
    Plan plan = {.steps = 2000, .pre_seeds = 2, .ft_seeds = 3};
    bool store = false;
    int given = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--write")) store = true;
        else if (given == 0) plan.steps = atol(argv[i]), given++;
        else if (given == 1) plan.pre_seeds = atoi(argv[i]), given++;
        else if (given == 2) plan.ft_seeds = atoi(argv[i]), given++;
        else given = -1;
    }
    if (given < 0 || plan.steps <= 0 || plan.pre_seeds < 1 || plan.pre_seeds > MAX_PRE_SEEDS || plan.ft_seeds < 1 ||
        plan.ft_seeds > MAX_FT_SEEDS) {
        fprintf(stderr, "usage: electra_finding [pretrain_steps [pretrain_seeds (at most %d) [finetune_seeds (at most %d)]]] "
                        "[--write]\n", MAX_PRE_SEEDS, MAX_FT_SEEDS);
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(plan.dir, sizeof plan.dir, "%s/electra_finding.XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
    if (!mkdtemp(plan.dir)) {
        perror(plan.dir);
        return 1;
    }
    double t0 = runtime_seconds();
    printf("pretraining: %ld steps, batch %d windows of 32 tokens, lr %s, seeds 1-%d, one thread (the two seeds of a "
           "lesson side by side)\n  fmlab-mlm     BertForMaskedLM         %s\n  fmlab-electra ElectraForPreTraining   %s\n"
           "fine-tuning: fmlab-finetune at its defaults (batch %d, lr %g), %d steps, seeds 1-%d, labels 16/64/256/all; "
           "files in %s\n",
           plan.steps, PRETRAIN_BATCH, PRETRAIN_LR, plan.pre_seeds, FMLAB_MLM_PROGRAM, FMLAB_ELECTRA_PROGRAM,
           finetune_lesson.info.default_batch, (double)finetune_lesson.info.default_lr, FINETUNE_STEPS, plan.ft_seeds,
           plan.dir);
    fflush(stdout);

    Pretrained pre[NENC][MAX_PRE_SEEDS];
    for (int e = 0; e < NENC; e++) {
        plan.enc = e;
        double t = runtime_seconds();
        if (bench_jobs(plan.pre_seeds, sizeof(Pretrained), pre[e], pretrain_job, &plan)) {
            fprintf(stderr, "electra_finding: a pretraining failed; its files are kept in %s\n", plan.dir);
            return 1;
        }
        printf("  %s pretrained in %.0f s\n", enc_name[e], runtime_seconds() - t);
        fflush(stdout);
    }

    int per_enc = plan.pre_seeds * plan.ft_seeds * FT_NBUDGETS, jobs = NENC * per_enc;
    FtResult *res = calloc((size_t)jobs, sizeof *res);
    if (!res) return 1;
    double t = runtime_seconds();
    if (bench_jobs(jobs, sizeof *res, res, finetune_job, &plan)) {
        fprintf(stderr, "electra_finding: a fine-tuning run failed; the encoders are kept in %s\n", plan.dir);
        return 1;
    }
    printf("  %d fine-tuning runs in %.0f s\n", jobs, runtime_seconds() - t);

    printf("\npretraining, held-out figures after %ld steps; ms/step: wall clock / processor time\n", plan.steps);
    double wall[NENC] = {0}, cpu[NENC] = {0};
    for (int s = 0; s < plan.pre_seeds; s++)
        for (int e = 0; e < NENC; e++) {
            wall[e] += 1000 / pre[e][s].steps_per_s / plan.pre_seeds;
            cpu[e] += 1000 * pre[e][s].cpu_s / plan.steps / plan.pre_seeds;
        }
    printf("MLM      seed  loss    accuracy  spread  ms/step\n");
    for (int s = 0; s < plan.pre_seeds; s++) {
        const Pretrained *m = &pre[ENC_MLM][s];
        printf("         %-5d %-7.3f %5.1f%%    %-7.3f %5.1f / %.1f\n", 1 + s, m->fig[FIG_MLM_LOSS], 100 * m->fig[FIG_MLM_ACC],
               m->fig[FIG_SPREAD], 1000 / m->steps_per_s, 1000 * m->cpu_s / plan.steps);
    }
    printf("ELECTRA  seed  disc acc  all-orig  recall  ranking  rtd loss  gen acc  spread  ms/step\n");
    for (int s = 0; s < plan.pre_seeds; s++) {
        const Pretrained *x = &pre[ENC_ELECTRA][s];
        printf("         %-5d %5.1f%%    %5.1f%%    %-7.3f %-8.3f %-9.3f %5.1f%%   %-7.3f %5.1f / %.1f\n", 1 + s,
               100 * x->fig[FIG_DISC_ACC], 100 * x->fig[FIG_ORIGINAL], x->fig[FIG_RECALL], x->fig[FIG_RANKING],
               x->fig[FIG_RTD_LOSS], 100 * x->fig[FIG_GEN_ACC], x->fig[FIG_SPREAD], 1000 / x->steps_per_s,
               1000 * x->cpu_s / plan.steps);
    }
    double ratio = cpu[ENC_ELECTRA] / cpu[ENC_MLM];
    printf("(all-orig: the share of original tokens in the last training batch, what saying \"original\" everywhere "
           "scores; recall: of the replaced tokens, the share called replaced; ranking: 0.5 cannot tell them apart; "
           "spread: how much the encoder's output varies between messages, 0 = one vector for all)\n");
    printf("time per step, one thread: MLM %.1f ms, ELECTRA %.1f ms of processor time: ELECTRA/MLM = %.2f "
           "(wall clock: %.1f and %.1f ms, %.2f)\n", cpu[ENC_MLM], cpu[ENC_ELECTRA], ratio, wall[ENC_MLM],
           wall[ENC_ELECTRA], wall[ENC_ELECTRA] / wall[ENC_MLM]);

    /* per budget: each encoder's probe and fine-tune over (pretraining seed, fine-tuning seed);
       scratch does not read the encoder, so the MLM runs' is every run's */
    int n = plan.pre_seeds * plan.ft_seeds;
    enum { C_MLM_PROBE, C_MLM_FT, C_EL_PROBE, C_EL_FT, C_SCRATCH, NCOL };
    static const char *const col_name[NCOL] = {"MLM probe", "MLM fine-tune", "ELECTRA probe", "ELECTRA fine-tune",
                                               "scratch"};
    Stat st[FT_NBUDGETS][NCOL];
    double diff_probe[FT_NBUDGETS], diff_ft[FT_NBUDGETS];
    int wins_probe[FT_NBUDGETS] = {0}, wins_ft[FT_NBUDGETS] = {0};
    for (int b = 0; b < FT_NBUDGETS; b++) {
        double x[NCOL][MAX_PRE_SEEDS * MAX_FT_SEEDS];
        int k = 0;
        diff_probe[b] = diff_ft[b] = 0;
        for (int i = 0; i < per_enc; i++) {
            int enc, ps, bb, fs;
            ft_index(&plan, i, &enc, &ps, &bb, &fs);
            if (bb != b) continue;
            const FtResult *m = &res[i], *el = &res[per_enc + i];   /* the same seeds and budget */
            x[C_MLM_PROBE][k] = m->acc[RUN_PROBE];
            x[C_MLM_FT][k] = m->acc[RUN_FINETUNE];
            x[C_EL_PROBE][k] = el->acc[RUN_PROBE];
            x[C_EL_FT][k] = el->acc[RUN_FINETUNE];
            x[C_SCRATCH][k] = m->acc[RUN_SCRATCH];
            diff_probe[b] += (el->acc[RUN_PROBE] - m->acc[RUN_PROBE]) / n;
            diff_ft[b] += (el->acc[RUN_FINETUNE] - m->acc[RUN_FINETUNE]) / n;
            wins_probe[b] += el->acc[RUN_PROBE] > m->acc[RUN_PROBE];
            wins_ft[b] += el->acc[RUN_FINETUNE] > m->acc[RUN_FINETUNE];
            k++;
        }
        for (int c = 0; c < NCOL; c++) st[b][c] = stat_of(x[c], n);
    }

    printf("\nper run, held-out accuracy %% (probe / fine-tune; scratch)\n%-7s %-9s %-8s %-15s %-15s %s\n", "labels",
           "pretrain", "finetune", "MLM", "ELECTRA", "scratch");
    for (int i = 0; i < per_enc; i++) {
        int enc, ps, b, fs;
        ft_index(&plan, i, &enc, &ps, &b, &fs);
        const FtResult *m = &res[i], *el = &res[per_enc + i];
        printf("%-7s %-9d %-8d %5.1f / %-7.1f %5.1f / %-7.1f %5.1f\n", ft_budget_names[b], ps, fs,
               100 * m->acc[RUN_PROBE], 100 * m->acc[RUN_FINETUNE], 100 * el->acc[RUN_PROBE],
               100 * el->acc[RUN_FINETUNE], 100 * m->acc[RUN_SCRATCH]);
    }

    printf("\nheld-out accuracy %% (700 messages, chance 50), mean ± sd over %d runs (%d pretraining × %d fine-tuning "
           "seeds) [min-max]\n%-7s", n, plan.pre_seeds, plan.ft_seeds, "labels");
    for (int c = 0; c < NCOL; c++) printf(" %-24s", col_name[c]);
    printf("\n");
    for (int b = 0; b < FT_NBUDGETS; b++) {
        printf("%-7s", ft_budget_names[b]);
        for (int c = 0; c < NCOL; c++)
            printf(" %4.1f ± %4.1f [%4.1f-%4.1f] ", 100 * st[b][c].mean, 100 * st[b][c].sd, 100 * st[b][c].lo,
                   100 * st[b][c].hi);
        printf("\n");
    }
    printf("\nELECTRA − MLM, paired by seeds and budget (points; ELECTRA ahead in how many of %d)\n", n);
    for (int b = 0; b < FT_NBUDGETS; b++)
        printf("%-7s probe %+5.1f (%d/%d)   fine-tune %+5.1f (%d/%d)\n", ft_budget_names[b], 100 * diff_probe[b],
               wins_probe[b], n, 100 * diff_ft[b], wins_ft[b], n);
    printf("\ntotal: %.0f s\n", runtime_seconds() - t0);

    if (store) {
        char path[4096];
        snprintf(path, sizeof path, "%s/lessons/electra/finding.csv", FMLAB_SOURCE_ROOT);
        FILE *f = fopen(path, "w");
        if (!f) {
            perror(path);
            return 1;
        }
        fprintf(f, "labels,mlm_probe,mlm_finetune,electra_probe,electra_finetune,mlm_probe_sd,mlm_finetune_sd,"
                   "electra_probe_sd,electra_finetune_sd,seeds,steps,time_ratio\n");
        for (int b = 0; b < FT_NBUDGETS; b++) {
            fprintf(f, "%s", ft_budget_names[b]);
            for (int c = 0; c < 4; c++) fprintf(f, ",%.4f", st[b][c].mean);
            for (int c = 0; c < 4; c++) fprintf(f, ",%.4f", st[b][c].sd);
            fprintf(f, ",%d,%ld,%.3f\n", n, plan.steps, ratio);
        }
        fclose(f);
        printf("written: %s\n", path);
    }
    free(res);
    nftw(plan.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
