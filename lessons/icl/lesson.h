/* lesson.h — fmlab-icl's state, shared by its objective (icl.c), its panels (panels.c), its
 * tests and its benchmark. */
#ifndef FMLAB_ICL_LESSON_H
#define FMLAB_ICL_LESSON_H

#include "lessons/common/kit.h"

extern const Lesson icl_lesson;

/* The vocabulary: the five special tokens, the letters a–z (the x of a pair, what is asked),
 * the digits 0–9 (the y, the answer) and "_", the gap between words of the text rows. 42
 * tokens. */
enum { ICL_LETTER0 = TOK_NUM_SPECIAL, ICL_LETTERS = 26, ICL_DIGIT0 = ICL_LETTER0 + ICL_LETTERS, ICL_DIGITS = 10,
       ICL_SYMBOLS = ICL_LETTERS + ICL_DIGITS, ICL_GAP = ICL_DIGIT0 + ICL_DIGITS, ICL_V = ICL_GAP + 1 };
static inline bool icl_is_letter(int id) { return id >= ICL_LETTER0 && id < ICL_LETTER0 + ICL_LETTERS; }
static inline bool icl_is_digit(int id) { return id >= ICL_DIGIT0 && id < ICL_DIGIT0 + ICL_DIGITS; }

/* the shot counts of the accuracy table: GPT-3's zero-, one- and few-shot */
#define ICL_NSHOTS 5
static const int icl_shots[ICL_NSHOTS] = {0, 1, 2, 4, 8};

/* the lesson's extra metrics.csv columns (after loss, lm, lr) */
enum { ICL_ANSWER_ACCURACY,  /* training batch: answers the row's earlier pairs determine */
       ICL_EVAL_LOSS,
       ICL_ACC0, ICL_ACC1, ICL_ACC2, ICL_ACC4, ICL_ACC8,   /* held-out k-shot prompts */
       ICL_FIRST_LOSS, ICL_SECOND_LOSS, ICL_SCORE,        /* held-out repeated segments */
       ICL_INDUCTION, ICL_PREVIOUS,                       /* the best head of each kind */
       ICL_NEXTRA };
/* the curves' reference lines (run->refs) */
enum { REF_UNIFORM_LOSS,     /* ln 36: a uniform guess among the symbols */
       REF_CHANCE,           /* 1/10: a guessed digit */
       REF_UNIFORM_INDUCTION /* the induction score of attention spread evenly (causal) */ };

/* Row kinds of a batch. */
enum { ICL_FEWSHOT, ICL_REPEAT, ICL_TEXT };
/* What each position of a row is, for the window's colours. */
enum { ROLE_X_NEW,      /* a letter not seen before in the row */
       ROLE_X_SEEN,     /* a letter seen before: its digit follows from the context */
       ROLE_Y_FREE,     /* the digit of a new letter: no way to know it */
       ROLE_Y_ANSWER,   /* the digit of a letter seen before: the context determines it */
       ROLE_FIRST,      /* a token of a random segment */
       ROLE_COPY_START, /* the first token of a copy: the token before it is new, so it is not known */
       ROLE_COPY,       /* a later token of a copy: the token after the earlier occurrence of its predecessor */
       ROLE_NOISE,      /* a random symbol around them */
       ROLE_TEXT };     /* a character of Moby-Dick */

typedef struct IclBatch {
    KitLmBatch lm;               /* ids, targets (the next token), attention_mask: GPT's batch */
    uint8_t *kind;               /* (B) ICL_FEWSHOT, ICL_REPEAT or ICL_TEXT */
    uint8_t *role;               /* (B,T) ROLE_* of each position */
    uint8_t *seg_at, *seg_len;   /* (B) a repeated segment's start and length (0: another kind) */
} IclBatch;

/* k-shot prompts of the held-out set: x1 y1 … xk yk xq, their answers */
typedef struct IclEpisodes {
    int k, n;
    int32_t *ids;                /* (n, 2k+1) */
    int32_t *answer;             /* (n) the digit that follows */
} IclEpisodes;

#define ICL_MAX_HEADS 256
#define ICL_INDUCTION_FOUND 0.3f /* a head scoring this much is called an induction head on screen */
#define ICL_EVAL_ROWS 64         /* rows per held-out forward */

typedef struct Icl {
    Vocab vocab;
    IclBatch batch;              /* the current batch */
    IclBatch eval[2];            /* held-out rows: few-shot, repeated segments (ICL_EVAL_ROWS each) */
    IclEpisodes episodes[ICL_NSHOTS];
    int domain;                  /* letters per few-shot row */
    float repeat_share, text_share;
    int32_t *text;               /* Moby-Dick's training chapters letter by letter (ICL_LETTER0.., ICL_GAP) */
    size_t ntext;
    Forward fwd;                 /* the last forward on the batch */
    Tensor *logits;              /* (B,T,V) of that forward */
    int L, NH;
} Icl;

/* ---- the data (deterministic from the Rng) ---- */
/* A few-shot row of T tokens (T even): a fresh random mapping from `domain` letters (drawn
 * from the 26) to digits, shown as T/2 pairs "x y" with x drawn uniformly from those letters.
 * The digit after a letter seen earlier in the row is the one shown then. */
void icl_fewshot_row(Rng *r, int T, int domain, int32_t *ids);
/* Moby-Dick as the text rows read it: letters lower-cased, digits kept, every run of other
 * characters (spaces, punctuation) one "_". Returns the tokens written (at most cap). */
size_t icl_text_tokens(const char *text, int32_t *out, size_t cap);
/* A row of a random segment of T/2 distinct symbols followed by its copy (the held-out rows;
 * training rows place a segment of random length anywhere among random symbols). */
void icl_repeat_row(Rng *r, int T, int32_t *ids);
/* A k-shot prompt: k pairs of distinct letters with random digits, then a query letter, one
 * of the k (k = 0: any letter). ids (2k+1); returns the answer (the query's digit; for k = 0
 * a random digit, which nothing in the prompt determines). */
int32_t icl_episode(Rng *r, int k, int32_t *ids);
/* Each position's role (ROLE_X_* or ROLE_Y_*) in a few-shot row. */
void icl_roles(const int32_t *ids, int T, uint8_t *role);

/* ---- the induction score (Olsson et al. 2022) ---- */
/* One head's attention (T,T: row = query, column = key, rows sum to 1) on a sequence whose
 * tokens L..2L-1 repeat tokens 0..L-1: the mean over the queries i of the copy (L <= i < 2L)
 * of the attention on i-L+1, the token after the earlier occurrence of token i. An induction
 * head ("find where this token was before, look at what came next") scores near 1. */
float icl_induction_score(const float *attn, int T, int L);
/* The mean attention of queries 1..T-1 on the token just before them. */
float icl_previous_score(const float *attn, int T);
/* Each head's scores (layer·NH + head) on the current batch, from the attention of its last
 * forward: the induction score over its repeated segments (every query of a copy, on the
 * token after the same token one period back) and the previous-token score over all its
 * rows. What the window shows at every step; the metrics' best-head columns are measured on
 * the held-out rows. Returns false before the batch's first forward or without segments. */
bool icl_head_scores(const Run *r, float *induction, float *previous);

/* ---- the probe: a few-shot prompt typed by the student ---- */
#define PROBE_MAX 64
#define PROBE_TOP 5
typedef struct IclProbe {
    int n;                       /* tokens of the prompt (the last seq_len kept) */
    int32_t ids[PROBE_MAX];
    int ignored;                 /* characters that are neither letters nor digits nor spaces */
    char ignored_example[8];
    bool cut;                    /* longer than seq_len: its start was left out */
    long step;
    int32_t top[PROBE_TOP];      /* the most probable next tokens (specials left out) */
    float p[PROBE_TOP];
    int32_t expected;            /* the digit the prompt's own pairs give the last letter, or -1 */
    bool seen_before;            /* the last letter appeared earlier (with a digit after it or not) */
    int pairs;                   /* letter-digit pairs in the prompt */
    float expected_p;
    int expected_at;             /* the position of that digit in the prompt, or -1 */
    int L, NH;                   /* the last token's attention per layer × head: (L·NH, n) */
    float attn[ICL_MAX_HEADS * PROBE_MAX];
    int induction_head;          /* layer·NH + head of the best head on the batch if it scores
                                    ICL_INDUCTION_FOUND or more, else -1 */
} IclProbe;
/* Reads a prompt ("c 7 a 2 a": letters and digits, spaces and punctuation between them
 * ignored, letters of any case) and runs the model on it. */
void icl_probe(Run *r, Model *model, const char *text, IclProbe *out);

#endif
