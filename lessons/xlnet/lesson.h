/* lesson.h — fmlab-xlnet's state, shared by its objective (xlnet.c), its panels (panels.c),
 * its tests, its exercise and its benchmark. */
#ifndef FMLAB_XLNET_LESSON_H
#define FMLAB_XLNET_LESSON_H

#include "datasets/corpus.h"
#include "lessons/common/kit.h"

extern const Lesson xlnet_lesson;

/* the two models, each in its own parameter block and AdamW: the two-stream permutation model
   (exported) and a BERT of the same size trained beside it on the same windows, whose [MASK]s
   stand on the same target positions: the yardstick of the finding, never exported */
enum { XL_XLNET = 0, XL_BERT = 1, XL_MODELS };
/* the two attention streams of the XLNet model (KitModelSpec.streams) */
enum { XL_CONTENT = 0, XL_QUERY = 1 };

/* the lesson's extra metrics.csv columns (after loss, plm, lr): the batch's figures, then the
   held-out ones, all over the same target positions for both models */
enum { XL_BERT_MLM,          /* the BERT's mean cross-entropy on the batch's targets, all [MASK] */
       XL_ACCURACY,          /* the XLNet's top-1 is the target, the batch's targets */
       XL_BERT_ACCURACY,     /* the same for the BERT */
       XL_EVAL_LOSS,         /* held-out plm: the XLNet's cross-entropy on the held-out targets */
       XL_EVAL_BERT_LOSS,    /* the BERT's on the same targets, each a [MASK] */
       XL_EVAL_ACCURACY, XL_EVAL_BERT_ACCURACY,
       XL_EVAL_LOSS_FIRST,   /* the XLNet's held-out loss on each order's first target, which sees
                                exactly the tokens the BERT sees (every non-target) */
       XL_EVAL_LOSS_LATER,   /* on its later targets, which also see the targets before them */
       XL_EVAL_BERT_LOSS_FIRST, XL_EVAL_BERT_LOSS_LATER,   /* the BERT's on the same two sets of targets */
       XL_NEXTRA };
/* the curves' reference lines (run->refs): the training text's unigram entropy and the share
   of its most frequent token; the unigram cross-entropy of the held-out set's first targets
   and of its later ones (they are different tokens: on the plateau their losses differ by
   this much without any context) */
enum { REF_UNIGRAM_ENTROPY, REF_UNIGRAM_ACCURACY, REF_UNIGRAM_FIRST, REF_UNIGRAM_LATER };

#define XL_EVAL_BATCHES 8     /* the held-out set: 8 batches (1,536 targets at the defaults) */
#define XL_TOPK 5
#define XL_PROBE_MAX 64       /* probe tokens kept */

/* One batch: B windows of T consecutive tokens of the text (no [CLS], no [SEP], no padding),
 * each with its own factorization order, and the K = num_predict positions it predicts. */
typedef struct XlnetBatch {
    int B, T, K;
    int32_t *ids;                /* (B,T) input_ids: the text, never corrupted */
    int32_t *order;              /* (B,T) perm_order: the position predicted at step k of the order */
    int32_t *rank;               /* (B,T) the inverse: at which step of the order position i comes */
    uint8_t *content;            /* (B,T,T) content_mask: 1 where i may attend to j, rank(j) <= rank(i) */
    uint8_t *query;              /* (B,T,T) query_mask: 1 where i may attend to j, rank(j) < rank(i) */
    uint8_t *perm;               /* (B,T,T) perm_mask = 1 - query_mask: 1 where i may NOT attend to j */
    float *target_mapping;       /* (B,K,T) one-hot: row k marks the position order[T-K+k] */
    int32_t *labels;             /* (B,K) the token at each target position, in order */
    int32_t *rows;               /* (B·K) b·T + the target position: the rows the loss reads */
    /* the yardstick's input: the same windows, BERT's corruption on the same target positions
       (training: 80% [MASK], 10% random, 10% kept; held-out: all [MASK]) */
    int32_t *mlm_ids;            /* (B,T) */
} XlnetBatch;

/* One forward of both models on a batch (tensors on the step's tape). */
typedef struct XlnetPass {
    Tensor *plm, *mlm;           /* mean cross-entropies over the B·K targets */
    Tensor *logits, *bert_logits;   /* (B·K, V), rows in the order of labels */
    float **content_attn, **query_attn, **bert_attn;   /* per layer (B,NH,T,T) */
} XlnetPass;

typedef struct Xlnet {
    Vocab vocab;
    Corpus train, eval;
    XlnetBatch batch;            /* the current batch (the last one trained on, or a fresh one) */
    XlnetBatch eval_batches[XL_EVAL_BATCHES];   /* a fixed held-out set, drawn once from the seed */
    XlnetPass pass;              /* the last forward on the batch */
    float *unigram_nll;          /* (V) −log p(token) under the training text's frequencies, add-½ smoothed */
    float *row_loss[XL_MODELS];  /* (B·K) each target's cross-entropy in that forward */
    int32_t *row_top[XL_MODELS]; /* (B·K) each target's most probable token */
} Xlnet;

/* ---- the objective, for tests, the exercise and the benchmark ---- */
/* A factorization order: a permutation of 0..T-1 drawn uniformly (Fisher–Yates, T-1 draws
 * from r). order[k] is the position at step k. */
void xlnet_sample_order(Rng *r, int T, int32_t *order);
/* The masks of one sequence from its order (all (T,T), row = query i, column = key j):
 * rank[order[k]] = k; content[i][j] = 1 iff rank(j) <= rank(i) (the content stream sees its
 * own token); query[i][j] = 1 iff rank(j) < rank(i) (the query stream knows its position,
 * not its token); perm[i][j] = 1 - query[i][j] (Hugging Face's perm_mask: 1 = may NOT attend).
 * Any of the outputs may be NULL. The code exercise re-implements it (exercise.c). */
void xlnet_masks(const int32_t *order, int T, int32_t *rank, uint8_t *content, uint8_t *query, uint8_t *perm);
/* The K targets of one sequence: the last K positions of its order, in order. target_mapping
 * (K,T) one-hot, labels (K) the tokens of ids at those positions. */
void xlnet_targets(const int32_t *order, const int32_t *ids, int T, int K, float *target_mapping, int32_t *labels);

/* The objective on a batch whose ids are drawn (b->B, T, K set): every row's factorization
 * order (xlnet_sample_order), masks, targets and rows, then the BERT's input mlm_ids: the same
 * targets, each replaced by [MASK] with probability mask_p, by a random token of ids
 * TOK_NUM_SPECIAL..V-1 with probability random_p, else kept (mask_p 1: every one a [MASK], no
 * draw). The draws come from r: each row's order, then its targets' corruption. */
void xlnet_apply_objective(Rng *r, XlnetBatch *b, double mask_p, double random_p, int V);

/* Both forwards on a batch, on r->tape: the XLNet's two streams under the batch's masks (the
 * query stream starts from LN(mask_emb + position), the content stream from LN(word +
 * position)), its logits at the targets from the query stream; the BERT on mlm_ids. */
void xlnet_forward(Run *r, const XlnetBatch *b, XlnetPass *p);
/* The XLNet alone: its query stream's logits (B·K, V) at the targets, and the attention of
 * both streams (content_attn / query_attn may be NULL). */
Tensor *xlnet_query_logits(Run *r, Model *m, const XlnetBatch *b, float **content_attn, float **query_attn);

/* The probe: the typed text's tokens (at most seq_len); each "[mask]" is hidden. XLNet
 * predicts the hidden ones in a factorization order that puts every visible token first and
 * the hidden ones after them left to right, each from the ones before it in that order: it
 * fills the first with its most probable token, which the next one then sees (New, then York
 * knowing New). The BERT sees every hidden one as [MASK] and fills them all at once, each
 * without the others. With no [mask], the last two tokens are hidden. */
typedef struct XlnetProbe {
    int n;                       /* tokens */
    int32_t ids[XL_PROBE_MAX];   /* the text (hidden ones as typed: [MASK]) */
    uint8_t hidden[XL_PROBE_MAX];
    int nhidden;
    bool cut, untrained_bert;    /* the text was longer than seq_len; no BERT to ask (a shipped model) */
    long step;
    /* per hidden position, left to right: each model's top tokens and probabilities */
    int32_t xl_top[XL_PROBE_MAX][XL_TOPK], bert_top[XL_PROBE_MAX][XL_TOPK];
    float xl_p[XL_PROBE_MAX][XL_TOPK], bert_p[XL_PROBE_MAX][XL_TOPK];
} XlnetProbe;
void xlnet_probe(Run *r, Model *model, const char *text, void *result);

/* The unigram lines of the held-out set: the mean −log p(token) under the training text's
 * frequencies (add-½ smoothed over the vocabulary, as corpus_ngram_baselines) of every
 * held-out target, of each order's first target and of the later ones: what a model on the
 * plateau scores on each set. */
void xlnet_unigram_lines(const Xlnet *m, double *all, double *first, double *later);

/* The loss of one batch's logits, in double (the tests' reference): the mean over the rows of
 * logsumexp(row) - row[label]. */
double xlnet_reference_loss(const float *logits, const int32_t *labels, int rows, int V);

#endif
