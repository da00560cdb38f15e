/* xlnet_finding.c — the lesson's finding in miniature: at equal steps, is the permutation
 * objective's held-out loss on a set of target positions lower than a masked LM's on the same
 * positions, and does seeing the earlier targets help?
 *
 * XLNet (Yang et al. 2019, §2.6, the "New York is a city" example): BERT predicts the masked
 * tokens independently of each other, log p(New | is a city) + log p(York | is a city), while
 * the permutation objective factorizes them, log p(New | is a city) + log p(York | New, is a
 * city), so it learns the dependency between targets that BERT cannot; Table 1 (same data,
 * BERT's hyperparameters) puts XLNet-Large ahead of BERT-Large downstream. The paper compares
 * fine-tuned scores, not pretraining losses. Here the comparison is the one both objectives
 * share: fmlab-xlnet trains, at its defaults (2 layers, H 64, batch 64 windows of 18 tokens,
 * lr 2e-3, constant after 100 warm-up steps, the last 3 positions of each order predicted),
 * the XLNet and beside it a BERT of the same size on the same windows, whose targets are the
 * same positions, and measures both on a fixed held-out set (8 batches, 1,536 targets; the
 * BERT sees every target as [MASK]). The XLNet's loss is also split into each order's first
 * target, which sees exactly what the BERT sees (every non-target), and its later ones, which
 * also see the targets before them: later < first is the dependency the paper speaks of,
 * first against BERT is the rest of the difference (the objective, the two streams, no [MASK]
 * in the input).
 *
 * Both models sit for a long time on the unigram plateau (predicting every target by its
 * frequency) and leave it at a step that depends on the seed, so equal steps compare runs
 * that may or may not have left it yet: every seed's numbers are printed, with the step each
 * model left the plateau, defined as the first held-out evaluation at least 0.2 nats below
 * the held-out unigram line (the cross-entropy of the held-out text under the training text's
 * token frequencies, corpus_ngram_baselines). The curves are read every 50 steps; the
 * learning rate is constant after warm-up, so the step-S reading of a longer run is what a run
 * of S steps would give.
 *
 * A second configuration, if asked for, trains the BERT with every target a [MASK] in training
 * too (mask_replace_prob=1 random_replace_prob=0): the pure comparison of §2.6. Its runs draw
 * fewer random numbers per batch, so their XLNet sees other orders than the first
 * configuration's of the same seed; it is reported from those runs.
 *
 *   xlnet_finding [steps [seeds [all_mask_seeds]]] [--write]
 *
 * Defaults: 8000 steps, seeds 1-6, all-[MASK] seeds 1-3: about 2,000 processor seconds, some
 * 17 minutes on two idle cores (45 when other work shares them). Each
 * run is this build's fmlab-xlnet (path compiled in: FMLAB_XLNET_PROGRAM) headless, one engine
 * thread, two runs side by side, its export (metrics.csv) in a temporary folder removed at the
 * end. --write stores lessons/xlnet/finding.csv: one row per step read (rows "1000", ...; the
 * all-[MASK] configuration's "mask_1000", ...), columns the mean and standard deviation over
 * seeds of the held-out losses (XLNet, BERT, XLNet first target, XLNet later targets), how many
 * seeds' XLNet and BERT had left the plateau by then, and the seeds; a last row "unigram" holds
 * the plateau itself, the unigram lines of the same held-out targets (all, first, later). */
#define _XOPEN_SOURCE 700 /* nftw, setenv */
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/bench/jobs.h"
#include "lessons/xlnet/lesson.h"

#define EVAL_EVERY 50
#define MAX_EVALS 640           /* steps at most EVAL_EVERY × MAX_EVALS */
#define MAX_SEEDS 12
#define ESCAPE_MARGIN 0.2       /* nats below the unigram line: off the plateau */
#define NREAD 5                 /* the steps read: 1/8, 1/4, 1/2, 3/4 and all of the run */

enum { CFG_DEFAULT, CFG_ALL_MASK, NCFG };
static const char *const cfg_name[NCFG] = {"BERT 80/10/10 (the lesson's default)", "BERT all [MASK] in training too"};
static const char *const cfg_row[NCFG] = {"", "mask_"};

/* the metrics.csv columns read, every held-out evaluation */
enum { C_XL, C_BERT, C_FIRST, C_LATER, C_XL_ACC, C_BERT_ACC, NC };
static const char *const col_name[NC] = {"eval_loss", "eval_bert_loss", "eval_loss_first", "eval_loss_later",
                                         "eval_accuracy", "eval_bert_accuracy"};

typedef struct Curve {
    int n;                      /* evaluations */
    int step[MAX_EVALS];
    float v[NC][MAX_EVALS];
    double cpu_s;               /* processor time of the whole run */
} Curve;

typedef struct Plan {
    char dir[4096];
    long steps;
    int seeds, mask_seeds;
} Plan;

/* job i: the default configuration's seeds first, then the all-[MASK] ones */
static void job_of(const Plan *p, int i, int *cfg, int *seed)
{
    *cfg = i < p->seeds ? CFG_DEFAULT : CFG_ALL_MASK;
    *seed = 1 + (i < p->seeds ? i : i - p->seeds);
}

static int read_curve(const char *path, Curve *c)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    int col[NC], step_col = -1;
    for (int k = 0; k < NC; k++) col[k] = -1;
    c->n = 0;
    for (int row = 0; getline(&line, &cap, f) > 0; row++) {
        line[strcspn(line, "\r\n")] = 0;
        float v[NC];
        long step = -1;
        bool have = true;
        int i = 0;
        for (char *cell = line, *end; cell; cell = end ? end + 1 : NULL, i++) {
            end = strchr(cell, ',');
            if (end) *end = 0;
            if (row == 0) {
                if (!strcmp(cell, "step")) step_col = i;
                for (int k = 0; k < NC; k++)
                    if (!strcmp(cell, col_name[k])) col[k] = i;
                continue;
            }
            if (i == step_col) step = atol(cell);
            for (int k = 0; k < NC; k++)
                if (col[k] == i) {
                    if (!*cell) have = false;
                    else v[k] = (float)atof(cell);
                }
        }
        if (row == 0) {
            for (int k = 0; k < NC; k++) have = have && col[k] >= 0;
            if (step_col < 0 || !have) break;
            continue;
        }
        if (!have || step < 0 || c->n >= MAX_EVALS) continue;
        c->step[c->n] = (int)step;
        for (int k = 0; k < NC; k++) c->v[k][c->n] = v[k];
        c->n++;
    }
    free(line);
    fclose(f);
    return c->n > 0 ? 0 : -1;
}

static int run_job(int i, void *out, void *ctx)
{
    const Plan *p = ctx;
    Curve *c = out;
    int cfg, seed;
    job_of(p, i, &cfg, &seed);
    char steps[32], seedb[16], eval[48], exp[4200], err[4300], metrics[4300];
    snprintf(steps, sizeof steps, "%ld", p->steps);
    snprintf(seedb, sizeof seedb, "%d", seed);
    snprintf(eval, sizeof eval, "eval_every=%d", EVAL_EVERY);
    snprintf(exp, sizeof exp, "%s/%s%d", p->dir, cfg == CFG_DEFAULT ? "default_" : "mask_", seed);
    snprintf(err, sizeof err, "%s.err", exp);
    const char *argv[] = {FMLAB_XLNET_PROGRAM, "--headless", "--threads", "1", "--steps", steps, "--seed", seedb,
                          "--set", eval, "--export", exp, "--no-screenshot",
                          cfg == CFG_ALL_MASK ? "--set" : NULL, "mask_replace_prob=1", "--set", "random_replace_prob=0",
                          NULL};
    if (bench_program(argv, "/dev/null", err, &c->cpu_s)) {
        fprintf(stderr, "xlnet_finding: %s failed; its messages are in %s\n", FMLAB_XLNET_PROGRAM, err);
        return -1;
    }
    snprintf(metrics, sizeof metrics, "%s/metrics.csv", exp);
    if (read_curve(metrics, c)) {
        fprintf(stderr, "xlnet_finding: cannot read the held-out columns of %s\n", metrics);
        return -1;
    }
    return 0;
}

/* the evaluation at `step`, or -1 */
static int at_step(const Curve *c, long step)
{
    for (int i = 0; i < c->n; i++)
        if (c->step[i] == step) return i;
    return -1;
}

/* the first evaluation at least ESCAPE_MARGIN below `line` in column k: its step, or -1 */
static int escape_step(const Curve *c, int k, double line)
{
    for (int i = 0; i < c->n; i++)
        if (c->v[k][i] <= line - ESCAPE_MARGIN) return c->step[i];
    return -1;
}

/* the evaluations after the escape that came back within ESCAPE_MARGIN / 2 of the line */
static int relapses(const Curve *c, int k, double line)
{
    int esc = escape_step(c, k, line), n = 0;
    for (int i = 0; esc >= 0 && i < c->n; i++)
        if (c->step[i] > esc && c->v[k][i] > line - ESCAPE_MARGIN / 2) n++;
    return n;
}

typedef struct Stat { double mean, sd; } Stat;
static Stat stat_of(const double *x, int n)
{
    Stat s = {0, 0};
    for (int i = 0; i < n; i++) s.mean += x[i] / n;
    for (int i = 0; n > 1 && i < n; i++) s.sd += (x[i] - s.mean) * (x[i] - s.mean) / (n - 1);
    s.sd = sqrt(s.sd);
    return s;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* The unigram lines of one seed's held-out set (xlnet_unigram_lines: the cross-entropy of its
   targets, all, each order's first, the later ones, under the training text's token
   frequencies), what a model on the plateau scores. The held-out set depends on the seed
   alone (not on the BERT's corruption), so the lesson is set up here with that seed and its
   set read. Also the training text's entropy (the lesson's
   reference line) and the held-out text's unigram cross-entropy. */
enum { L_ALL, L_FIRST, L_LATER, NL };
static int unigram_lines(int seed, double line[NL], double *entropy, double *text)
{
    char sb[16];
    snprintf(sb, sizeof sb, "%d", seed);
    char *args[] = {"fmlab-xlnet", "--headless", "--threads", "1", "--seed", sb, NULL};
    RunOptions o;
    if (runtime_parse(6, args, &xlnet_lesson.info, &o) >= 0) return -1;
    static Run L;
    if (kit_init(&L, &xlnet_lesson, &o) >= 0) return -1;
    const Xlnet *m = KIT_SELF(&L, Xlnet);
    double bigram, lambda;
    int rc = corpus_ngram_baselines(&m->train, &m->eval, L.vocab->size, text, &bigram, &lambda);
    xlnet_unigram_lines(m, &line[L_ALL], &line[L_FIRST], &line[L_LATER]);
    *entropy = L.refs[REF_UNIGRAM_ENTROPY];
    kit_free(&L);
    return rc;
}

int main(int argc, char **argv)
{
    Plan plan = {.steps = 8000, .seeds = 6, .mask_seeds = 3};
    bool store = false;
    int given = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--write")) store = true;
        else if (given == 0) plan.steps = atol(argv[i]), given++;
        else if (given == 1) plan.seeds = atoi(argv[i]), given++;
        else if (given == 2) plan.mask_seeds = atoi(argv[i]), given++;
        else given = -1;
    }
    if (given < 0 || plan.steps < 8 * EVAL_EVERY || plan.steps > (long)EVAL_EVERY * MAX_EVALS || plan.seeds < 1 ||
        plan.seeds > MAX_SEEDS || plan.mask_seeds < 0 || plan.mask_seeds > MAX_SEEDS) {
        fprintf(stderr, "usage: xlnet_finding [steps (%d..%d) [seeds (1..%d) [all_mask_seeds (0..%d)]]] [--write]\n",
                8 * EVAL_EVERY, EVAL_EVERY * MAX_EVALS, MAX_SEEDS, MAX_SEEDS);
        return 2;
    }
    /* the steps read: 1/8, 1/4, 1/2, 3/4 and all of the run, on the evaluation grid */
    long read[NREAD];
    const int eighths[NREAD] = {1, 2, 4, 6, 8};
    for (int r = 0; r < NREAD; r++) read[r] = plan.steps * eighths[r] / 8 / EVAL_EVERY * EVAL_EVERY;

    const LessonInfo *in = &xlnet_lesson.info;
    int T = (int)in->keys[runtime_key_index(in, "seq_len")].def, K = (int)in->keys[runtime_key_index(in, "num_predict")].def;
    printf("fmlab-xlnet at its defaults (H %g, L %g, %g heads, FFN %g, batch %d windows of %d tokens, the last %d of "
           "each order predicted, lr %g), Moby-Dick, %ld steps, held-out every %d steps (%d targets: %d first, %d later), "
           "one engine thread per run, two runs side by side\n  program %s\n  seeds 1-%d with the lesson's BERT "
           "(80/10/10 on its targets in training), seeds %s%d with a BERT trained all [MASK]\n",
           in->keys[runtime_key_index(in, "hidden_size")].def, in->keys[runtime_key_index(in, "num_hidden_layers")].def,
           in->keys[runtime_key_index(in, "num_attention_heads")].def,
           in->keys[runtime_key_index(in, "intermediate_size")].def, in->default_batch, T, K, (double)in->default_lr,
           plan.steps, EVAL_EVERY, XL_EVAL_BATCHES * in->default_batch * K, XL_EVAL_BATCHES * in->default_batch,
           XL_EVAL_BATCHES * in->default_batch * (K - 1), FMLAB_XLNET_PROGRAM, plan.seeds, plan.mask_seeds ? "1-" : "",
           plan.mask_seeds);

    /* every seed's unigram lines on its own held-out targets */
    int nlines = plan.seeds > plan.mask_seeds ? plan.seeds : plan.mask_seeds;
    double line[MAX_SEEDS][NL], entropy = NAN, text = NAN;
    for (int s = 0; s < nlines; s++)
        if (unigram_lines(s + 1, line[s], &entropy, &text)) {
            fprintf(stderr, "xlnet_finding: cannot set up the lesson (seed %d)\n", s + 1);
            return 1;
        }
    printf("unigram lines (nats; a model that predicts every target by its training frequency): the training text's "
           "entropy %.4f (the lesson's reference line), the held-out text %.4f, and each seed's held-out targets:\n"
           "%-5s %-8s %-8s %-8s\n", entropy, text, "seed", "all", "first", "later");
    for (int s = 0; s < nlines; s++) printf("%-5d %-8.4f %-8.4f %-8.4f\n", s + 1, line[s][L_ALL], line[s][L_FIRST], line[s][L_LATER]);
    printf("off the plateau: the first held-out loss at least %.1f below the line of the same targets\n", ESCAPE_MARGIN);

    const char *tmp = getenv("TMPDIR");
    snprintf(plan.dir, sizeof plan.dir, "%s/xlnet_finding.XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
    if (!mkdtemp(plan.dir)) {
        perror(plan.dir);
        return 1;
    }
    printf("files in %s\n", plan.dir);
    fflush(stdout);
    setenv("OMP_NUM_THREADS", "1", 1);
    double t0 = runtime_seconds();
    int jobs = plan.seeds + plan.mask_seeds;
    Curve *res = calloc((size_t)jobs, sizeof *res);
    if (!res) return 1;
    if (bench_jobs(jobs, sizeof *res, res, run_job, &plan)) {
        fprintf(stderr, "xlnet_finding: a run failed; its files are kept in %s\n", plan.dir);
        return 1;
    }
    double wall = runtime_seconds() - t0, cpu = 0;
    for (int j = 0; j < jobs; j++) {
        for (int r = 0; r < NREAD; r++)
            if (at_step(&res[j], read[r]) < 0) {
                fprintf(stderr, "xlnet_finding: run %d has no held-out evaluation at step %ld\n", j, read[r]);
                return 1;
            }
        cpu += res[j].cpu_s;
    }

    /* per seed: the escape steps, then the losses at the steps read */
    const int esc_col[4] = {C_XL, C_BERT, C_FIRST, C_LATER}, esc_line[4] = {L_ALL, L_ALL, L_FIRST, L_LATER};
    for (int cfg = 0; cfg < NCFG; cfg++) {
        int n = cfg == CFG_DEFAULT ? plan.seeds : plan.mask_seeds, base = cfg == CFG_DEFAULT ? 0 : plan.seeds;
        if (!n) continue;
        printf("\n== %s: per seed ==\n", cfg_name[cfg]);
        printf("step each left the plateau (-: not by step %ld; in brackets the later evaluations back within %.1f of "
               "the line)\n%-5s %-14s %-14s %-14s %-14s  %s\n", read[NREAD - 1], ESCAPE_MARGIN / 2, "seed", "XLNet",
               "BERT", "XLNet first", "XLNet later", "processor s");
        for (int s = 0; s < n; s++) {
            const Curve *c = &res[base + s];
            printf("%-5d", s + 1);
            for (int q = 0; q < 4; q++) {
                double l = line[s][esc_line[q]];
                int e = escape_step(c, esc_col[q], l);
                char b[32];
                if (e < 0) snprintf(b, sizeof b, "-");
                else snprintf(b, sizeof b, "%d (%d)", e, relapses(c, esc_col[q], l));
                printf(" %-14s", b);
            }
            printf("  %.0f\n", c->cpu_s);
        }
        printf("held-out loss (nats) at equal steps; first / later: the XLNet on each order's first target / on the "
               "later ones; gain: the line of those targets minus the loss; dep = later's gain - first's gain (> 0: "
               "seeing the earlier targets helps); accuracy %%\n%-5s %-6s %-8s %-8s %-8s %-8s %-8s %-8s %-8s %-8s "
               "%-7s %-7s\n", "seed", "step", "XLNet", "BERT", "XL-BERT", "first", "later", "1st-BERT", "gain 1st",
               "dep", "XL acc", "BT acc");
        for (int s = 0; s < n; s++)
            for (int r = 0; r < NREAD; r++) {
                const Curve *c = &res[base + s];
                int i = at_step(c, read[r]);
                double g1 = line[s][L_FIRST] - c->v[C_FIRST][i], g2 = line[s][L_LATER] - c->v[C_LATER][i];
                printf("%-5d %-6ld %-8.4f %-8.4f %+-8.4f %-8.4f %-8.4f %+-8.4f %+-8.4f %+-8.4f %-7.1f %-7.1f\n", s + 1,
                       read[r], c->v[C_XL][i], c->v[C_BERT][i], c->v[C_XL][i] - c->v[C_BERT][i], c->v[C_FIRST][i],
                       c->v[C_LATER][i], c->v[C_FIRST][i] - c->v[C_BERT][i], g1, g2 - g1, 100 * c->v[C_XL_ACC][i],
                       100 * c->v[C_BERT_ACC][i]);
            }
    }

    /* summary: mean ± sd over seeds, paired differences, seeds off the plateau */
    Stat table[NCFG][NREAD][NC];
    int left[NCFG][NREAD][2];
    for (int cfg = 0; cfg < NCFG; cfg++) {
        int n = cfg == CFG_DEFAULT ? plan.seeds : plan.mask_seeds, base = cfg == CFG_DEFAULT ? 0 : plan.seeds;
        if (!n) continue;
        printf("\n== %s: mean ± sd over %d seeds ==\n", cfg_name[cfg], n);
        printf("%-6s %-16s %-16s %-16s %-16s %-6s %-6s %-16s %-6s %-16s %-6s %-16s %-6s\n", "step", "XLNet", "BERT",
               "first", "later", "XL off", "BT off", "XLNet - BERT", "<0", "first - BERT", "<0", "dep", ">0");
        for (int r = 0; r < NREAD; r++) {
            double x[NC][MAX_SEEDS], d[3][MAX_SEEDS];
            int count[3] = {0}, off[2] = {0};
            for (int s = 0; s < n; s++) {
                const Curve *c = &res[base + s];
                int i = at_step(c, read[r]);
                for (int k = 0; k < NC; k++) x[k][s] = c->v[k][i];
                d[0][s] = x[C_XL][s] - x[C_BERT][s];
                d[1][s] = x[C_FIRST][s] - x[C_BERT][s];
                d[2][s] = (line[s][L_LATER] - x[C_LATER][s]) - (line[s][L_FIRST] - x[C_FIRST][s]);
                count[0] += d[0][s] < 0, count[1] += d[1][s] < 0, count[2] += d[2][s] > 0;
                int e0 = escape_step(c, C_XL, line[s][L_ALL]), e1 = escape_step(c, C_BERT, line[s][L_ALL]);
                off[0] += e0 >= 0 && e0 <= read[r];
                off[1] += e1 >= 0 && e1 <= read[r];
            }
            for (int k = 0; k < NC; k++) table[cfg][r][k] = stat_of(x[k], n);
            left[cfg][r][0] = off[0], left[cfg][r][1] = off[1];
            printf("%-6ld", read[r]);
            for (int k = 0; k < 4; k++) printf(" %6.4f ± %-6.4f", table[cfg][r][k].mean, table[cfg][r][k].sd);
            printf(" %d/%-4d %d/%-4d", off[0], n, off[1], n);
            for (int q = 0; q < 3; q++) {
                Stat st = stat_of(d[q], n);
                printf(" %+7.4f ± %-6.4f %d/%-4d", st.mean, st.sd, count[q], n);
            }
            printf("\n");
        }
    }
    double ul[NL][MAX_SEEDS];
    Stat uline[NL];
    for (int k = 0; k < NL; k++) {
        for (int s = 0; s < plan.seeds; s++) ul[k][s] = line[s][k];
        uline[k] = stat_of(ul[k], plan.seeds);
    }
    printf("unigram lines of the same targets, seeds 1-%d: all %.4f ± %.4f, first %.4f ± %.4f, later %.4f ± %.4f\n",
           plan.seeds, uline[L_ALL].mean, uline[L_ALL].sd, uline[L_FIRST].mean, uline[L_FIRST].sd, uline[L_LATER].mean,
           uline[L_LATER].sd);
    printf("(off: seeds off the plateau by that step; <0, >0: in how many seeds the difference is on that side; dep: "
           "the later targets' gain over their unigram line minus the first target's)\n");
    printf("total: %.0f s wall, %.0f s processor over %d runs of %ld steps (%.1f steps per processor second)\n", wall,
           cpu, jobs, plan.steps, (double)jobs * plan.steps / cpu);

    if (store) {
        char path[4096];
        snprintf(path, sizeof path, "%s/lessons/xlnet/finding.csv", FMLAB_SOURCE_ROOT);
        FILE *f = fopen(path, "w");
        if (!f) {
            perror(path);
            return 1;
        }
        fprintf(f, "step,eval_loss,eval_loss_sd,eval_bert_loss,eval_bert_loss_sd,eval_loss_first,eval_loss_first_sd,"
                   "eval_loss_later,eval_loss_later_sd,xlnet_off_plateau,bert_off_plateau,seeds\n");
        for (int cfg = 0; cfg < NCFG; cfg++) {
            int n = cfg == CFG_DEFAULT ? plan.seeds : plan.mask_seeds;
            for (int r = 0; n && r < NREAD; r++) {
                fprintf(f, "%s%ld", cfg_row[cfg], read[r]);
                for (int k = 0; k < 4; k++) fprintf(f, ",%.4f,%.4f", table[cfg][r][k].mean, table[cfg][r][k].sd);
                fprintf(f, ",%d,%d,%d\n", left[cfg][r][0], left[cfg][r][1], n);
            }
        }
        /* the plateau: every target predicted by its training frequency (the same held-out sets) */
        fprintf(f, "unigram,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,,,%d\n", uline[L_ALL].mean, uline[L_ALL].sd,
                uline[L_ALL].mean, uline[L_ALL].sd, uline[L_FIRST].mean, uline[L_FIRST].sd, uline[L_LATER].mean,
                uline[L_LATER].sd, plan.seeds);
        fclose(f);
        printf("written: %s\n", path);
    }
    free(res);
    nftw(plan.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
