/* lesson.h — fmlab-gpt's state, shared by its objective (gpt.c), its panels (panels.c), its
 * tests and its benchmark. */
#ifndef FMLAB_GPT_LESSON_H
#define FMLAB_GPT_LESSON_H

#include "datasets/corpus.h"
#include "lessons/common/kit.h"

extern const Lesson gpt_lesson;

/* the lesson's extra metrics.csv columns (after loss, lm, lr) */
enum { GPT_ACCURACY, GPT_PERPLEXITY, GPT_EVAL_LOSS, GPT_EVAL_PERPLEXITY, GPT_EVAL_ACCURACY, GPT_EVAL_CAUSAL_LOSS,
       GPT_NEXTRA };
/* the curves' reference lines (run->refs): held-out cross-entropy (nats) and perplexity of a
   model that knows token frequencies only, and of one that sees the previous token only */
enum { REF_UNIGRAM, REF_BIGRAM, REF_UNIGRAM_PPL, REF_BIGRAM_PPL };

#define TOPK 5
#define GEN_MAX 64        /* tokens generated after the prompt, at most (the new_tokens key) */
#define PROMPT_MAX 64     /* prompt tokens kept */
#define GEN_TOP 10        /* bars of the next-token distribution */
#define GEN_ROWS 64       /* layer × head rows of the newest token's attention kept */
#define GEN_CTX 128       /* keys of that row kept */

/* One batch: B windows of T consecutive tokens of the text, read left to right; every position
 * predicts the token after it (the kit's next-token batch: targets = ids one place left, -100
 * at the last position; labels in the export = ids). */
typedef KitLmBatch GptBatch;

typedef struct Gpt {
    Vocab vocab;
    Corpus train, eval;
    GptBatch batch;              /* the current batch (the last one trained on, or a fresh one) */
    GptBatch *eval_batches;      /* a fixed held-out set, drawn once from the seed */
    int n_eval;
    bool causal;                 /* the causal key: false is the leak */
    double bigram_lambda;        /* the bigram line's interpolation weight */
    Forward fwd;                 /* the last forward on the batch (its tensors are on the tape) */
    Tensor *logits;              /* (B,T,V) of that forward */
} Gpt;

/* ---- the objective, for tests and the exercise ---- */
/* Position i may attend to position j (GPT's mask: j <= i; without it, every j). */
static inline bool gpt_may_attend(bool causal, int i, int j) { return !causal || j <= i; }
/* The distribution generation draws the next token from, as Hugging Face's TemperatureLogitsWarper
 * then TopKLogitsWarper make it: softmax(logits / temperature), where only the logits at least
 * as large as the top_k-th largest take part (0: all; ties at the k-th value all stay) and the
 * rest get probability 0. temperature 0 is greedy: probability 1 on the largest logit (the
 * lowest id among equals). probs (V). */
void gpt_distribution(const float *logits, int V, float temperature, int top_k, float *probs);
/* One token from probs: the first id whose cumulative probability exceeds u (u uniform in
 * [0, 1), one rng_uniform_double draw); an id of probability 0 is never drawn. */
int gpt_draw(const float *probs, int V, double u);

/* ---- generation (the window's prompt panel and the benchmark) ---- */
typedef struct GptGen {
    int32_t ids[PROMPT_MAX + GEN_MAX];
    float drawn_p[PROMPT_MAX + GEN_MAX];   /* generated tokens: the probability each had when drawn */
    int nprompt, len;            /* prompt tokens, then generated ones up to len */
    bool cut;                    /* the prompt was longer than PROMPT_MAX tokens: its start was left out */
    int unk;                     /* [UNK] tokens in the prompt (words outside the vocabulary) */
    bool empty;                  /* nothing to start from: the prompt had no tokens */
    float temperature;
    int top_k;
    bool causal;
    long step;                   /* the model's step */
    /* the distribution of the next token after ids[0..len): its GEN_TOP most probable tokens
       as generation draws (p) and at temperature 1 without top-k (p_raw), and the token the
       next press of G adds */
    int32_t top[GEN_TOP];
    float p[GEN_TOP], p_raw[GEN_TOP];
    int32_t next;
    float next_p;
    int kept;                    /* tokens with probability > 0 under the settings */
    /* the newest token's attention over the tokens the model reads (the last seq_len), per
       layer and head: rows = L·NH (at most GEN_ROWS), columns = ctx (at most GEN_CTX) */
    int L, NH, ctx;
    int32_t ctx_ids[GEN_CTX];
    float attn[GEN_ROWS * GEN_CTX];
} GptGen;
/* Tokenizes the prompt and generates n_new tokens (at most GEN_MAX) with the model as it is,
 * reading at most the last seq_len tokens (the length it was trained at) and with the run's
 * causal setting; the draws come from Rng (seed, 3), one per token, so the same prompt, seed,
 * settings and weights give the same text. */
void gpt_generate(Run *r, Model *model, const char *prompt, int n_new, float temperature, int top_k, uint64_t seed,
                  GptGen *out);

#endif
