/* ops.h — the differentiable operations.
 *
 * Each op comes in three parts, side by side in ops.c under one comment that gives the
 * shapes and the derivative:
 *   op_<name>(tape, inputs...)            checks the shapes, computes the output through the
 *                                         forward kernel and records a tape entry;
 *   op_<name>_forward(out, in..., dims)   the math on plain float arrays;
 *   op_<name>_backward(din..., dout, saved..., dims)  ADDS into the input gradients; in ops
 *                                         with several inputs a NULL gradient means "not needed".
 * The exceptions: reshape is a view and has no forward kernel; softmax and masked_softmax
 * share both kernels (the mask is an argument); linear and conv1d share op_linear_* (a flag
 * says which layout w has); split_heads and merge_heads are reshape + transpose12, recorded
 * as those. op_backward_entry is the one switch that unpacks a tape entry and calls the
 * op's backward kernel.
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
    const uint8_t *keep; /* borrowed: must stay alive until backward has run */
    bool causal;         /* also forbid j > i (GPT) */
} AttnMask;

/* The masks by name. A query with no key allowed gets an all-zero row (and no gradient). */
static inline AttnMask attn_mask_all(void) { return (AttnMask){MASK_NONE, NULL, false}; }
static inline AttnMask attn_mask_causal(void) { return (AttnMask){MASK_NONE, NULL, true}; }
/* Hugging Face's attention_mask (B,T), 1 = real token, 0 = padding; NULL = no padding. */
static inline AttnMask attn_mask_padding(const uint8_t *attention_mask, bool causal)
{
    return (AttnMask){attention_mask ? MASK_KEYS : MASK_NONE, attention_mask, causal};
}
/* An explicit allow-mask (B,T,T), allow[b][i][j] = 1 if query i may see key j: XLNet's
 * content and query masks, or any pattern a lesson builds. */
static inline AttnMask attn_mask_full(const uint8_t *allow) { return (AttnMask){MASK_FULL, allow, false}; }

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

/* ---- the kernels (plain arrays; used by the tape and by tests) ----
 * Shapes and derivatives are in the comment above each pair in ops.c. */
void op_add_forward(float *out, const float *a, const float *b, size_t n, size_t bn);
void op_add_backward(float *da, float *db, const float *dout, size_t n, size_t bn);
void op_mul_forward(float *out, const float *a, const float *b, size_t n, size_t bn);
void op_mul_backward(float *da, float *db, const float *dout, const float *a, const float *b, size_t n, size_t bn);
void op_scale_forward(float *out, const float *x, float s, size_t n);
void op_scale_backward(float *dx, const float *dout, float s, size_t n);
void op_gelu_erf_forward(float *out, const float *x, size_t n);
void op_gelu_erf_backward(float *dx, const float *dout, const float *x, size_t n);
void op_gelu_tanh_forward(float *out, const float *x, size_t n);
void op_gelu_tanh_backward(float *dx, const float *dout, const float *x, size_t n);
void op_tanh_forward(float *out, const float *x, size_t n);
/* The exp of the activation kernels (GELU, cross-entropy's softmax), for tests: within 2 ulp of
 * expf on [-87, 88], saturating at those ends for finite x; NaN, +Inf, -Inf as expf. */
float op_exp_fast(float x);
/* The index of the largest of x[0..n-1], the first of equal ones (what torch.argmax returns
 * for finite values); NaNs are passed over, and 0 is returned when every value is NaN.
 * Vectorised: the max in fixed lanes, then the first index that holds it. */
int op_argmax(const float *x, int n);
/* log Σ e^x[i] over x[0..n-1] (max-shifted, exp_fast, sums in fixed lanes), n >= 1. */
float op_logsumexp(const float *x, int n);
void op_tanh_backward(float *dx, const float *dout, const float *out, size_t n);

/* per batch op(a) (M,K) · op(b) (K,N); shared: b is one (K,N) for every batch */
typedef struct MatmulDims { int M, N, K, batch; bool ta, tb, shared; } MatmulDims;
void op_matmul_forward(float *out, const float *a, const float *b, MatmulDims d);
void op_matmul_backward(float *da, float *db, const float *dout, const float *a, const float *b, MatmulDims d);
void op_linear_forward(float *out, const float *x, const float *w, const float *b, int R, int IN, int OUT,
                       bool conv1d);
void op_linear_backward(float *dx, float *dw, float *db, const float *dout, const float *x, const float *w,
                        int R, int IN, int OUT, bool conv1d);
void op_reshape_backward(float *dx, const float *dout, size_t n);
void op_transpose12_forward(float *out, const float *x, int A, int B, int C, int D);
void op_transpose12_backward(float *dx, const float *dout, int A, int B, int C, int D);
void op_slice_last_forward(float *out, const float *x, size_t R, int C, int start, int len);
void op_slice_last_backward(float *dx, const float *dout, size_t R, int C, int start, int len);
void op_gather_rows_forward(float *out, const float *x, const int32_t *rows, int n, int C);
void op_gather_rows_backward(float *dx, const float *dout, const int32_t *rows, int n, int C);
void op_embedding_forward(float *out, const float *table, const int32_t *ids, size_t N, int C);
void op_embedding_backward(float *dtable, const float *dout, const int32_t *ids, int padding_idx, size_t N, int C);

void op_layernorm_forward(float *out, float *mean, float *rstd, const float *x,
                          const float *w, const float *b, float eps, size_t rows, int C);
void op_layernorm_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                           const float *w, const float *mean, const float *rstd, size_t rows, int C);
void op_softmax_forward(float *out, const float *x, const uint8_t *keep, size_t rows, int C);
void op_softmax_backward(float *dx, const float *dout, const float *y, size_t rows, int C);
/* scratch: forward (B,NH,HS,T) floats; backward (B,NH,T,T) + (B,NH,HS,T) */
void op_attention_forward(float *out, float *P, float *scratch, const float *q, const float *k, const float *v,
                          const AttnMask *m, int B, int NH, int T, int HS);
void op_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *P,
                           const float *q, const float *k, const float *v, int B, int NH, int T, int HS);

void op_cross_entropy_forward(float *loss, float *probs, float *row_loss, const float *logits,
                              const int32_t *targets, int n, size_t R, int V);
void op_cross_entropy_backward(float *dx, float dout, const float *probs, const int32_t *targets,
                               int n, size_t R, int V);
void op_bce_logits_forward(float *loss, int *n, const float *x, const float *y, const uint8_t *keep, size_t N);
void op_bce_logits_backward(float *dx, float dout, const float *x, const float *y, const uint8_t *keep,
                            int n, size_t N);
void op_kl_div_forward(float *loss, int *n, float *saved, const float *student, const float *teacher,
                       const uint8_t *keep, float temperature, size_t R, int V);
void op_kl_div_backward(float *ds, float *dt, float dout, const float *s, const float *t,
                        const float *saved, const uint8_t *keep, float temperature, int n, size_t R, int V);
void op_cosine_loss_forward(float *loss, int *n, const float *a, const float *b, const uint8_t *keep,
                            size_t R, int C);
void op_cosine_loss_backward(float *da, float *db, float dout, const float *a, const float *b,
                             const uint8_t *keep, int n, size_t R, int C);
void op_sum_forward(float *out, const float *x, size_t n);
void op_sum_backward(float *dx, float dout, size_t n);
void op_mean_forward(float *out, const float *x, size_t n);
void op_mean_backward(float *dx, float dout, size_t n);

#endif
