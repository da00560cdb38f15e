/* ops.h — the differentiable operations.
 *
 * Each op comes in three parts, side by side in ops.c:
 *   op_<name>(tape, inputs...)            computes the output and records a tape entry;
 *   op_<name>_forward(out, in..., dims)   the math on plain float arrays;
 *   op_<name>_backward(din..., dout, saved..., dims)  ADDS into the input gradients
 *                                         (a NULL gradient pointer means "not needed").
 * Shapes use llm.c's letters. Integer inputs (token ids, targets, masks) are borrowed plain
 * arrays that must stay alive until backward has run. */
#ifndef FMLAB_ENGINE_OPS_H
#define FMLAB_ENGINE_OPS_H

#include "tape.h"

#define IGNORE_INDEX (-100)

/* Which keys a query may attend to in op_attention. keep == NULL with MASK_NONE. */
typedef enum MaskKind { MASK_NONE, MASK_KEYS, MASK_FULL } MaskKind;
typedef struct AttnMask {
    MaskKind kind;       /* MASK_KEYS: keep is (B,T), 1 = this key may be attended (padding = 0);
                            MASK_FULL: keep is (B,T,T), keep[b][i][j] = 1 if query i may see key j */
    const uint8_t *keep;
    bool causal;         /* also forbid j > i (GPT) */
} AttnMask;

/* ---- elementwise ---- */
Tensor *op_add(Tape *tp, Tensor *a, Tensor *b);      /* b's shape equals a's or is a suffix of it (bias) */
Tensor *op_mul(Tape *tp, Tensor *a, Tensor *b);      /* same broadcasting as op_add */
Tensor *op_scale(Tape *tp, Tensor *x, float s);
Tensor *op_gelu_erf(Tape *tp, Tensor *x);            /* BERT's "gelu" */
Tensor *op_gelu_tanh(Tape *tp, Tensor *x);           /* GPT-2's "gelu_new" */
Tensor *op_tanh(Tape *tp, Tensor *x);

/* ---- matrices and shapes ---- */
/* a (...,M,K) · b (K,N) or a batch of the same leading dims (...,K,N); ta/tb transpose the
 * last two dims of a/b first. Output (...,M,N). */
Tensor *op_matmul(Tape *tp, Tensor *a, Tensor *b, bool ta, bool tb);
/* nn.Linear, fused with its bias: x (...,IN) · wᵀ + bias, w stored (OUT,IN); bias may be NULL. */
Tensor *op_linear(Tape *tp, Tensor *x, Tensor *w, Tensor *bias);
/* GPT-2's Conv1D, fused likewise: x (...,IN) · w + bias, w stored (IN,OUT). */
Tensor *op_conv1d(Tape *tp, Tensor *x, Tensor *w, Tensor *bias);
Tensor *op_reshape(Tape *tp, Tensor *x, int ndim, const int *shape);   /* a view: same data */
Tensor *op_transpose12(Tape *tp, Tensor *x);         /* (A,B,C,D) -> (A,C,B,D) */
Tensor *op_split_heads(Tape *tp, Tensor *x, int nh); /* (B,T,NH*HS) -> (B,NH,T,HS) */
Tensor *op_merge_heads(Tape *tp, Tensor *x);         /* (B,NH,T,HS) -> (B,T,NH*HS) */
Tensor *op_slice_last(Tape *tp, Tensor *x, int start, int len);   /* x[..., start:start+len] */
/* x viewed as rows of its last dim (R,C); out (n,C) = x[rows[i]] */
Tensor *op_gather_rows(Tape *tp, Tensor *x, const int32_t *rows, int n);
/* table (V,C), ids of shape `shape` -> (shape..., C). Rows looked up with id == padding_idx
 * get no gradient (nn.Embedding's padding_idx); -1 = none. */
Tensor *op_embedding(Tape *tp, Tensor *table, const int32_t *ids, int ndim, const int *shape, int padding_idx);

/* ---- normalisation and attention ---- */
Tensor *op_layernorm(Tape *tp, Tensor *x, Tensor *w, Tensor *b, float eps);
Tensor *op_softmax(Tape *tp, Tensor *x);             /* over the last dim */
/* keep has x's size: keep = 0 gives probability exactly 0; a row with no keep gives zeros. */
Tensor *op_masked_softmax(Tape *tp, Tensor *x, const uint8_t *keep);
/* Multi-head scaled dot-product attention: q k v (B,T,C) hold nh heads of HS = C/nh columns
 * each; per head softmax(q·kᵀ/√HS)·v; out (B,T,C) with the heads side by side again.
 * *probs (if not NULL) receives the (B,nh,T,T) probabilities (arena; rows = queries). */
Tensor *op_attention(Tape *tp, Tensor *q, Tensor *k, Tensor *v, int nh, AttnMask mask, float **probs);

/* ---- losses (scalar outputs) ---- */
/* logits (...,V) as rows; targets one per row, IGNORE_INDEX skipped; mean over counted rows,
 * 0 when none count. */
Tensor *op_cross_entropy(Tape *tp, Tensor *logits, const int32_t *targets);
/* mean over kept elements of max(x,0) - x·y + log(1 + e^-|x|); keep NULL = all. */
Tensor *op_bce_logits(Tape *tp, Tensor *logits, const float *targets, const uint8_t *keep);
/* mean over kept rows of KL(softmax(teacher/T) ‖ softmax(student/T)) (no T² factor). */
Tensor *op_kl_div(Tape *tp, Tensor *student, Tensor *teacher, float temperature, const uint8_t *keep);
/* mean over kept rows of 1 - cos(a_r, b_r), a b (R,C) */
Tensor *op_cosine_loss(Tape *tp, Tensor *a, Tensor *b, const uint8_t *keep);
Tensor *op_sum(Tape *tp, Tensor *x);
Tensor *op_mean(Tape *tp, Tensor *x);

/* Called by tape_backward for one entry. */
void op_backward_entry(Tape *tp, TapeEntry *e);

/* ---- the kernels (plain arrays; used by the tape and by tests) ---- */
void op_gelu_erf_forward(float *out, const float *x, size_t n);
void op_gelu_erf_backward(float *dx, const float *dout, const float *x, size_t n);
void op_gelu_tanh_forward(float *out, const float *x, size_t n);
void op_gelu_tanh_backward(float *dx, const float *dout, const float *x, size_t n);
void op_softmax_forward(float *out, const float *x, const uint8_t *keep, size_t rows, int C);
void op_layernorm_forward(float *out, float *mean, float *rstd, const float *x,
                          const float *w, const float *b, float eps, size_t rows, int C);

#endif
