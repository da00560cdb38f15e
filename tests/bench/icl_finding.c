/* icl_finding.c — the lesson's finding in miniature: in-context learning needs two layers.
 *
 * GPT-3 (Brown et al. 2020, Figure 1.2 and §3): with frozen weights, a model does a task
 * better the more solved examples its prompt holds (zero-, one-, few-shot). Olsson et al.
 * (2022): in small attention models this ability appears suddenly, in a phase change early in
 * training, at the moment induction heads form, and a model of one attention layer forms none
 * (an induction head needs a previous-token head in an earlier layer). Here: fmlab-icl at its
 * defaults with 2 layers and with 1, the same steps, seeds 1-3: the held-out accuracy at the
 * query after 0, 1, 2, 4 and 8 examples, the in-context learning score (loss on a segment
 * minus loss on its copy), the best head's induction score, and the step at which the score
 * jumps (the first evaluation where the copy costs at least 1 nat less than the segment).
 *
 *   icl_finding [steps [seeds]] [--write]
 *
 * --write stores the mean rows as lessons/icl/finding.csv, which the lesson's window shows
 * beside the live run. Each (layers, seed) runs in its own process, two at a time. */
#include "tests/bench/jobs.h"

#include <math.h>
#include <stdbool.h>

#include "lessons/icl/lesson.h"

#define EVAL_EVERY 100
#define JUMP 1.0 /* nats: the copy at least this much cheaper than the segment */

typedef struct Result {
    double acc[ICL_NSHOTS], score, induction, previous, eval_loss;
    long jump; /* the step of the jump, or 0: none */
} Result;

typedef struct Plan {
    long steps;
    int seeds;
} Plan;

static const int layers_of[2] = {2, 1};

static int run_one(int i, void *out, void *ctx)
{
    const Plan *p = ctx;
    Result *res = out;
    int layers = layers_of[i % 2], seed = 1 + i / 2;
    char sb[16], lb[40], eb[40];
    snprintf(sb, sizeof sb, "%d", seed);
    snprintf(lb, sizeof lb, "num_hidden_layers=%d", layers);
    snprintf(eb, sizeof eb, "eval_every=%d", EVAL_EVERY);
    char *args[] = {"fmlab-icl", "--headless", "--threads", "1", "--seed", sb, "--set", lb, "--set", eb, NULL};
    RunOptions o;
    if (runtime_parse(10, args, &icl_lesson.info, &o) >= 0) return -1;
    static Run L;
    if (kit_init(&L, &icl_lesson, &o) >= 0) return -1;
    char what[128];
    for (long s = 1; s <= p->steps; s++) {
        kit_next_batch(&L);
        bool div;
        kit_step(&L, true, &div, what, sizeof what);
        if (div) {
            fprintf(stderr, "%s\n", what);
            return -1;
        }
    }
    /* the jump: the first evaluation (every EVAL_EVERY steps) with the copy JUMP nats cheaper */
    int col = metrics_col(&L.metrics, "icl_score");
    for (long row = 0; col >= 0 && row < L.metrics.rows && !res->jump; row++) {
        float v = metrics_get(&L.metrics, row, col);
        if (!isnan(v) && v >= JUMP) res->jump = row + 1;
    }
    float extra[KIT_MAX_EXTRA];
    kit_evaluate(&L, extra);
    for (int k = 0; k < ICL_NSHOTS; k++) res->acc[k] = extra[ICL_ACC0 + k];
    res->score = extra[ICL_SCORE];
    res->induction = extra[ICL_INDUCTION];
    res->previous = extra[ICL_PREVIOUS];
    res->eval_loss = extra[ICL_EVAL_LOSS];
    kit_free(&L);
    return 0;
}

static void row(FILE *f, const char *name, const char *seed, const Result *r)
{
    fprintf(f, "%-8s %5s", name, seed);
    for (int k = 0; k < ICL_NSHOTS; k++) fprintf(f, " %6.1f%%", 100 * r->acc[k]);
    fprintf(f, " %10.2f %10.2f %10.2f %10.3f", r->score, r->induction, r->previous, r->eval_loss);
    if (r->jump) fprintf(f, " %10ld\n", r->jump);
    else fprintf(f, " %10s\n", "none");
}

int main(int argc, char **argv)
{
    Plan p = {3000, 3};
    bool write = false, bad = false;
    for (int i = 1, n = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--write")) write = true;
        else if (n == 0) p.steps = atol(argv[i]), n++;
        else if (n == 1) p.seeds = atoi(argv[i]), n++;
        else bad = true;
    }
    if (bad || p.steps <= 0 || p.seeds <= 0 || p.seeds > 8) {
        fprintf(stderr, "usage: icl_finding [steps [seeds]] [--write]\n");
        return 2;
    }
    const LessonInfo *in = &icl_lesson.info;
    printf("fmlab-icl at its defaults (GPT-2 hidden %g, %g heads, batch %d x %g tokens, lr %g), %ld steps, seeds 1-%d,\n"
           "2 layers and 1 layer; held-out: %d prompts per shot count, %d repeated segments\n\n",
           in->keys[runtime_key_index(in, "hidden_size")].def, in->keys[runtime_key_index(in, "num_attention_heads")].def,
           in->default_batch, in->keys[runtime_key_index(in, "seq_len")].def, (double)in->default_lr, p.steps, p.seeds,
           ICL_EVAL_ROWS, ICL_EVAL_ROWS);
    int jobs = 2 * p.seeds;
    Result *res = calloc((size_t)jobs, sizeof *res);
    if (!res || bench_jobs(jobs, sizeof *res, res, run_one, &p)) {
        fprintf(stderr, "icl_finding: a run failed\n");
        return 1;
    }
    printf("%-8s %5s %7s %7s %7s %7s %7s %10s %10s %10s %10s %10s\n", "layers", "seed", "0-shot", "1-shot", "2-shot",
           "4-shot", "8-shot", "ICL score", "induction", "prev-tok", "held-out", "jump step");
    Result mean[2];
    int jumps[2] = {0, 0};
    memset(mean, 0, sizeof mean);
    for (int l = 0; l < 2; l++) {
        char name[16];
        snprintf(name, sizeof name, "%d", layers_of[l]);
        for (int s = 0; s < p.seeds; s++) {
            const Result *r = &res[s * 2 + l];
            char sb[16];
            snprintf(sb, sizeof sb, "%d", s + 1);
            row(stdout, name, sb, r);
            for (int k = 0; k < ICL_NSHOTS; k++) mean[l].acc[k] += r->acc[k] / p.seeds;
            mean[l].score += r->score / p.seeds;
            mean[l].induction += r->induction / p.seeds;
            mean[l].previous += r->previous / p.seeds;
            mean[l].eval_loss += r->eval_loss / p.seeds;
            if (r->jump) mean[l].jump += r->jump, jumps[l]++;
        }
        if (jumps[l]) mean[l].jump /= jumps[l];
    }
    for (int l = 0; l < 2; l++) {
        char name[16];
        snprintf(name, sizeof name, "%d", layers_of[l]);
        row(stdout, name, "mean", &mean[l]);
    }
    printf("\naccuracy: the digit after the query letter; chance 10%% (a guessed digit). ICL score: held-out loss on a\n"
           "random segment minus on its copy (nats). induction / prev-tok: the best head's score. jump: the first\n"
           "evaluation (every %d steps) with the copy %.0f nat cheaper; the mean is over the seeds that jumped.\n",
           EVAL_EVERY, JUMP);
    if (write) {
        char path[1024];
        snprintf(path, sizeof path, "%s/lessons/icl/finding.csv", FMLAB_SOURCE_ROOT);
        FILE *f = fopen(path, "w");
        if (!f) {
            fprintf(stderr, "icl_finding: cannot write %s\n", path);
            return 1;
        }
        fprintf(f, "model,steps,seeds,accuracy_0_shot,accuracy_1_shot,accuracy_2_shot,accuracy_4_shot,accuracy_8_shot,"
                   "icl_score,induction_score,jump_step,seeds_jumped\n");
        for (int l = 0; l < 2; l++) {
            fprintf(f, "layers_%d,%ld,%d", layers_of[l], p.steps, p.seeds);
            for (int k = 0; k < ICL_NSHOTS; k++) fprintf(f, ",%.4f", mean[l].acc[k]);
            fprintf(f, ",%.4f,%.4f,", mean[l].score, mean[l].induction);
            if (jumps[l]) fprintf(f, "%ld", mean[l].jump);
            else fprintf(f, "nan");
            fprintf(f, ",%d\n", jumps[l]);
        }
        fclose(f);
        printf("\nwrote %s\n", path);
    }
    free(res);
    return 0;
}
