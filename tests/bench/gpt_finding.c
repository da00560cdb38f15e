/* gpt_finding.c — the lesson's finding in miniature: why GPT needs the causal mask.
 *
 * GPT (Radford et al. 2018, §3.1) trains a Transformer decoder on L = Σ log P(u_i | u_<i):
 * each position predicts the next token from the tokens before it only, which the masked
 * self-attention guarantees (Vaswani et al. 2017, §3.2.3: "we need to prevent leftward
 * information flow in the decoder to preserve the auto-regressive property"). Here: the same
 * model trained the same steps at the lesson's defaults with the mask (causal=1) and without
 * it (causal=0, the leak: position t also reads t+1, its own target). The leak's training
 * loss and its held-out loss with its own mask fall far below anything a language model can
 * reach (below the bigram line), but scored with the causal mask — as when it generates, where
 * the next token is not there to read — it is worse than the causal model, and what it
 * writes shows it. Per seed and mean: training loss (mean of the last 50 steps), held-out
 * loss with the run's own mask and with the causal mask, held-out next-token accuracy, and the
 * unigram and bigram lines; then seed 1's text from the same prompt and seed, at T=1 and greedy.
 *
 *   gpt_finding [steps [seeds]]
 *
 * Each (mode, seed) runs in its own process, two at a time, one engine thread each. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/bench/jobs.h"
#include "datasets/tokenizer.h"
#include "lessons/gpt/lesson.h"

#define PROMPT "the white whale"
#define NEW_TOKENS 24
#define TAIL 50      /* training loss: the mean of the last TAIL steps' batch loss */
#define SAMPLE_CAP 1024

enum { MODE_CAUSAL, MODE_LEAK, NMODES };
static const char *const mode_name[NMODES] = {"causal", "leak"};

typedef struct Result {
    double train, eval_loss, eval_causal, eval_acc, unigram, bigram;
    char sample[2][SAMPLE_CAP]; /* seed 1 only: T=1, greedy */
} Result;

/* the prompt and what the trained model writes after it, decoded */
static void sample(Run *L, float temperature, uint64_t seed, char *out)
{
    static GptGen gen;
    gpt_generate(L, kit_model(L, 0), PROMPT, NEW_TOKENS, temperature, 0, seed, &gen);
    if (gen.empty) snprintf(out, SAMPLE_CAP, "(nothing generated)");
    else tokenizer_decode(L->vocab, gen.ids, gen.len, out, SAMPLE_CAP);
}

static int train_one(int mode, int seed, long steps, Result *out)
{
    char sb[16];
    snprintf(sb, sizeof sb, "%d", seed);
    /* no periodic evaluation: the one at the end is all this table reads */
    char *args[] = {"fmlab-gpt", "--headless", "--threads", "1", "--seed", sb, "--set",
                    mode == MODE_CAUSAL ? "causal=1" : "causal=0", "--set", "eval_every=1000000", NULL};
    RunOptions o;
    if (runtime_parse(10, args, &gpt_lesson.info, &o) >= 0) return -1;
    static Run L;
    if (kit_init(&L, &gpt_lesson, &o) >= 0) return -1;
    char what[128];
    double tail = 0;
    for (long s = 1; s <= steps; s++) {
        kit_next_batch(&L);
        bool div;
        float loss = kit_step(&L, true, &div, what, sizeof what);
        if (div) {
            fprintf(stderr, "%s\n", what);
            kit_free(&L);
            return -1;
        }
        if (s > steps - TAIL) tail += loss;
    }
    float extra[KIT_MAX_EXTRA];
    kit_evaluate(&L, extra);
    memset(out, 0, sizeof *out);
    out->train = tail / (double)(steps < TAIL ? steps : TAIL);
    out->eval_loss = extra[GPT_EVAL_LOSS];
    out->eval_causal = extra[GPT_EVAL_CAUSAL_LOSS];
    out->eval_acc = extra[GPT_EVAL_ACCURACY];
    out->unigram = L.refs[REF_UNIGRAM];
    out->bigram = L.refs[REF_BIGRAM];
    if (seed == 1) {
        sample(&L, 1.0f, (uint64_t)seed, out->sample[0]);
        sample(&L, 0.0f, (uint64_t)seed, out->sample[1]);
    }
    kit_free(&L);
    return 0;
}

static void row(const char *mode, const char *seed, const Result *r)
{
    printf("%-8s %5s %11.3f %25.3f %28.3f %13.1f%% %8.3f %7.3f\n", mode, seed, r->train, r->eval_loss, r->eval_causal,
           100 * r->eval_acc, r->unigram, r->bigram);
}

static int job(int i, void *out, void *ctx)
{
    return train_one(i % NMODES, 1 + i / NMODES, *(const long *)ctx, out);
}

int main(int argc, char **argv)
{
    long steps = 1500;
    int seeds = 3;
    bool bad = false;
    for (int i = 1, n = 0; i < argc; i++) {
        if (n == 0) steps = atol(argv[i]);
        else if (n == 1) seeds = atoi(argv[i]);
        else bad = true;
        n++;
    }
    if (bad || steps <= 0 || seeds <= 0 || seeds > 16) {
        fprintf(stderr, "usage: gpt_finding [steps [seeds]]\n");
        return 2;
    }
    const LessonInfo *in = &gpt_lesson.info;
    printf("fmlab-gpt at its defaults (GPT-2 %gx%g, %g heads, batch %d x %g tokens, lr %g), Moby-Dick, %ld steps, "
           "seeds 1-%d\n",
           in->keys[runtime_key_index(in, "num_hidden_layers")].def, in->keys[runtime_key_index(in, "hidden_size")].def,
           in->keys[runtime_key_index(in, "num_attention_heads")].def, in->default_batch,
           in->keys[runtime_key_index(in, "seq_len")].def, (double)in->default_lr, steps, seeds);
    fflush(stdout);
    /* every (mode, seed) in a child, two at once (tests/bench/jobs.h) */
    int jobs = NMODES * seeds;
    static Result res[NMODES * 16];
    if (bench_jobs(jobs, sizeof *res, res, job, &steps)) {
        fprintf(stderr, "gpt_finding: a run failed\n");
        return 1;
    }
    printf("\nlosses in nats per token; held-out: 4 batches of the held-out chapters per seed; unigram / bigram: the\n"
           "held-out loss of a model that knows token frequencies only / also the previous token\n\n");
    printf("%-8s %5s %11s %25s %28s %14s %8s %7s\n", "mode", "seed", "train loss", "held-out loss (own mask)",
           "held-out loss (causal mask)", "held-out acc", "unigram", "bigram");
    Result mean[NMODES];
    memset(mean, 0, sizeof mean);
    for (int m = 0; m < NMODES; m++) {
        for (int s = 0; s < seeds; s++) {
            const Result *r = &res[s * NMODES + m];
            char sb[16];
            snprintf(sb, sizeof sb, "%d", s + 1);
            row(mode_name[m], sb, r);
            mean[m].train += r->train / seeds;
            mean[m].eval_loss += r->eval_loss / seeds;
            mean[m].eval_causal += r->eval_causal / seeds;
            mean[m].eval_acc += r->eval_acc / seeds;
            mean[m].unigram += r->unigram / seeds;
            mean[m].bigram += r->bigram / seeds;
        }
    }
    for (int m = 0; m < NMODES; m++) row(mode_name[m], "mean", &mean[m]);
    printf("\nseed 1 of each mode, prompt \"%s\", %d new tokens, the same draws (seed 1):\n", PROMPT, NEW_TOKENS);
    for (int m = 0; m < NMODES; m++) {
        const Result *r = &res[m]; /* seed 1 */
        printf("%s, T=1: %s\n", mode_name[m], r->sample[0]);
        printf("%s, greedy: %s\n", mode_name[m], r->sample[1]);
    }
    return 0;
}
