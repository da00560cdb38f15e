/* ops.c — every differentiable op: forward kernel, backward kernel and builder side by side,
 * under one comment with the shapes and the derivative; at the end the backward dispatch.
 *
 * Conventions (llm.c's): outputs first, inputs next, dims last; backward kernels ADD into
 * gradients (+=), and those of ops with several inputs skip a NULL gradient. Row-wise work
 * is split across threads by rows and every reduction runs in a fixed order, so results do
 * not depend on the thread count. */
#include "ops.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GEMM_LIKE_X86 1
#endif

#define SQRT1_2 0.70710678118654752f

#define PRAGMA(x) _Pragma(#x)
#ifdef FMLAB_OPENMP
/* Parallel over independent rows, only when the work is worth waking the threads for. */
#define PARALLEL_FOR(work) PRAGMA(omp parallel for schedule(static) if ((work) > 32768))
#else
#define PARALLEL_FOR(work)
#endif

static Tensor *new_like(Tape *tp, const Tensor *x) { return tape_tensor(tp, x->ndim, x->shape); }

static const char *shp(const Tensor *t, char *buf) { return tensor_shape_str(t, buf, 64); }

/* ======================================================================================
 * add: out = a + b, b broadcast over the leading dims of a (b's shape is a suffix of a's).
 * a (N), b (BN) with N % BN == 0 -> out (N)
 * da += dout;  db[j] += Σ_rows dout[r·BN + j]
 * ====================================================================================== */
static void check_broadcast(const Tensor *a, const Tensor *b, const char *op)
{
    char s1[64], s2[64];
    bool ok = b->ndim <= a->ndim;
    for (int i = 0; ok && i < b->ndim; i++)
        ok = b->shape[b->ndim - 1 - i] == a->shape[a->ndim - 1 - i];
    ENGINE_CHECK(ok, "%s: shape %s does not broadcast onto %s (it must equal the trailing dims)",
                 op, shp(b, s2), shp(a, s1));
}

void op_add_forward(float *out, const float *a, const float *b, size_t n, size_t bn)
{
    if (bn == n) { /* the residual connections: elementwise, split among threads */
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
        return;
    }
    for (size_t i = 0; i < n; i += bn)
        for (size_t j = 0; j < bn; j++) out[i + j] = a[i + j] + b[j];
}

void op_add_backward(float *da, float *db, const float *dout, size_t n, size_t bn)
{
    if (da) {
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) da[i] += dout[i];
    }
    if (db)
        for (size_t i = 0; i < n; i += bn)
            for (size_t j = 0; j < bn; j++) db[j] += dout[i + j];
}

Tensor *op_add(Tape *tp, Tensor *a, Tensor *b)
{
    check_broadcast(a, b, "add");
    Tensor *out = new_like(tp, a);
    op_add_forward(out->data, a->data, b->data, a->size, b->size);
    tape_record(tp, OP_ADD, out, a, b, NULL);
    return out;
}

/* ======================================================================================
 * mul: out = a ⊙ b, b broadcast as in add.
 * da += dout ⊙ b;  db[j] += Σ_rows dout ⊙ a
 * ====================================================================================== */
void op_mul_forward(float *out, const float *a, const float *b, size_t n, size_t bn)
{
    for (size_t i = 0; i < n; i += bn)
        for (size_t j = 0; j < bn; j++) out[i + j] = a[i + j] * b[j];
}

void op_mul_backward(float *da, float *db, const float *dout, const float *a, const float *b,
                     size_t n, size_t bn)
{
    for (size_t i = 0; i < n; i += bn)
        for (size_t j = 0; j < bn; j++) {
            if (da) da[i + j] += dout[i + j] * b[j];
            if (db) db[j] += dout[i + j] * a[i + j];
        }
}

Tensor *op_mul(Tape *tp, Tensor *a, Tensor *b)
{
    check_broadcast(a, b, "mul");
    Tensor *out = new_like(tp, a);
    op_mul_forward(out->data, a->data, b->data, a->size, b->size);
    tape_record(tp, OP_MUL, out, a, b, NULL);
    return out;
}

/* ======================================================================================
 * scale: x (N) -> out (N), out = s·x
 * dx += s·dout
 * ====================================================================================== */
void op_scale_forward(float *out, const float *x, float s, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = s * x[i];
}

void op_scale_backward(float *dx, const float *dout, float s, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] += s * dout[i];
}

Tensor *op_scale(Tape *tp, Tensor *x, float s)
{
    Tensor *out = new_like(tp, x);
    op_scale_forward(out->data, x->data, s, x->size);
    TapeEntry *e = tape_record(tp, OP_SCALE, out, x, NULL, NULL);
    if (e) e->fa[0] = s;
    return out;
}

/* ======================================================================================
 * exp, erf and tanh without calls or branches, so that the loops over activations
 * vectorise. exp_fast: x = k·ln2 + r, |r| ≤ ln2/2, e^r by its Taylor polynomial to r⁸, 2^k
 * put into the exponent bits; within 2 ulp of expf on [-87, 88]. A finite x outside that
 * range saturates at its end (e^-87, e^88); the other inputs are expf's: NaN gives NaN,
 * +Inf gives +Inf, -Inf gives 0. Every step is defined for every float: the clamps let only
 * a NaN through, k is read from the rounding constant's bits (no float-to-int cast of a NaN)
 * and the exponent is built in unsigned arithmetic; the infinities cost two vector ops each.
 * erf_fast: Numerical Recipes' erfc Chebyshev fit (fractional error < 1.2e-7) on top of it.
 * GELU computed with them, x·½(1 + erf(x/√2)) in float as PyTorch writes it, is within one
 * ulp of x·Φ(x) plus 2|x|ε on [-12, 12] (Φ as ½(1 + erf) has an absolute error of about ε,
 * so far left, where x·Φ(x) is tiny, the error is absolute, not relative; tested).
 * -Inf gives exactly 0, which the attention's masked softmax relies on.
 * ====================================================================================== */
static inline float exp_fast(float x)
{
    float xc = x < -87.0f ? -87.0f : x;
    xc = xc > 88.0f ? 88.0f : xc;
    /* round to nearest by adding 1.5·2²³: the sum's low mantissa bits hold k, |k| ≤ 127 */
    float big = xc * 1.44269504088896341f + 12582912.0f;
    float kf = big - 12582912.0f;
    float r = (xc - kf * 0.693145751953125f) - kf * 1.428606765330187045e-06f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.6666667e-1f + r * (4.1666667e-2f + r * (8.3333333e-3f +
              r * (1.3888889e-3f + r * 1.9841270e-4f))))));
    uint32_t bits;
    memcpy(&bits, &big, sizeof bits);
    bits = (bits - 0x4B400000u + 127u) << 23; /* 0x4B400000 is 1.5·2²³: bits - it = k; NaN: any bits, p is NaN */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = p * scale;
    float over = x - FLT_MAX; /* +Inf for x = +Inf, at most 0 for any finite x: a max, not a select */
    y = over > y ? over : y;
    return x == -INFINITY ? 0.0f : y;
}

float op_exp_fast(float x) { return exp_fast(x); }

/* The largest of x[0..n-1] (NaNs passed over; -inf for none), in 16 interleaved lanes
 * combined in a fixed order: a loop the compiler vectorises in each caller's clone. */
static inline float lanes_max(const float *restrict x, int n)
{
    enum { LANES = 16 };
    float ml[LANES];
    int body = n / LANES * LANES;
    for (int l = 0; l < LANES; l++) ml[l] = -INFINITY;
    for (int i = 0; i < body; i += LANES)
        for (int l = 0; l < LANES; l++) ml[l] = x[i + l] > ml[l] ? x[i + l] : ml[l];
    float mx = -INFINITY;
    for (int l = 0; l < LANES; l++) mx = ml[l] > mx ? ml[l] : mx;
    for (int i = body; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    return mx;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
int op_argmax(const float *x, int n)
{
    float mx = lanes_max(x, n);
    for (int i = 0; i < n; i++)
        if (x[i] == mx) return i;
    return 0; /* empty, or every value NaN */
}

static inline float erf_fast(float x)
{
    float z = fabsf(x), t = 1.0f / (1.0f + 0.5f * z);
    float erfc = t * exp_fast(-z * z - 1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f +
                 t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f +
                 t * (-0.82215223f + t * 0.17087277f)))))))));
    float e = 1.0f - erfc;
    return x < 0.0f ? -e : e;
}

static inline float tanh_fast(float u) { return 1.0f - 2.0f / (exp_fast(2.0f * u) + 1.0f); }

/* The activation loops are compiled three times (AVX-512, AVX2, SSE2) and the processor's
 * best is picked at load time. Every element is computed by the same operations in the same
 * order in each version (no reductions, no FMA contraction under -std=c11), so the results
 * are the same bits on any of them. Threads split the tensor into fixed chunks. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ACT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ACT_CLONES
#endif
/* Loops built on fused multiply-adds: the AVX2 clone needs FMA too (Haswell has both). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FMA_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define FMA_CLONES
#endif
#define ACT_CHUNK 4096
#define FOR_CHUNKS(n, body)                                                   \
    do {                                                                      \
        size_t nchunks_ = ((n) + ACT_CHUNK - 1) / ACT_CHUNK;                  \
        PARALLEL_FOR((n))                                                     \
        for (size_t c_ = 0; c_ < nchunks_; c_++) {                            \
            size_t lo = c_ * ACT_CHUNK, len = (n) - lo < ACT_CHUNK ? (n) - lo : ACT_CHUNK; \
            body;                                                             \
        }                                                                     \
    } while (0)

/* cdf (n) or NULL: Φ(x) kept for the backward, which then needs only φ(x) (one exp instead
 * of the erf's division, polynomial and exp) and gives the same bits as recomputing it.
 * erf_fast's operations, in two loops over blocks of 256: the division and the polynomial,
 * then the exp and the rest. In one loop a vector's chain of some 40 dependent operations
 * filled the processor's scheduler with waiting work (72 cycles a vector where the
 * operations need 35); two shorter chains overlap better (a fifth faster). Every element
 * takes the same operations in the same order as erf_fast: the same bits. */
ACT_CLONES static void gelu_erf_fw(float *restrict out, float *restrict cdf, const float *restrict x, size_t n)
{
    enum { CH = 256 };
    float ta[CH], pa[CH], cbuf[CH];
    for (size_t lo = 0; lo < n; lo += CH) {
        size_t len = n - lo < CH ? n - lo : CH;
        float *restrict cd = cdf ? cdf + lo : cbuf;
        for (size_t i = 0; i < len; i++) {
            float z = fabsf(x[lo + i] * SQRT1_2), t = 1.0f / (1.0f + 0.5f * z);
            ta[i] = t;
            pa[i] = -z * z - 1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f +
                    t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f +
                    t * (-0.82215223f + t * 0.17087277f))))))));
        }
        for (size_t i = 0; i < len; i++) {
            float v = x[lo + i], e = 1.0f - ta[i] * exp_fast(pa[i]);
            float c = 0.5f * (1.0f + (v * SQRT1_2 < 0.0f ? -e : e));
            cd[i] = c;
            out[lo + i] = v * c;
        }
    }
}

/* store: dx is a fresh buffer, written instead of added to (see grad_for_store) */
ACT_CLONES static void gelu_erf_bw(float *restrict dx, const float *restrict dout, const float *restrict x,
                                   const float *restrict cdf_saved, size_t n, bool store)
{
    const float inv_sqrt_2pi = 0.3989422804014327f;
    if (cdf_saved && store)
        for (size_t i = 0; i < n; i++) {
            float pdf = inv_sqrt_2pi * exp_fast(-0.5f * x[i] * x[i]);
            dx[i] = dout[i] * (cdf_saved[i] + x[i] * pdf);
        }
    else if (cdf_saved)
        for (size_t i = 0; i < n; i++) {
            float pdf = inv_sqrt_2pi * exp_fast(-0.5f * x[i] * x[i]);
            dx[i] += dout[i] * (cdf_saved[i] + x[i] * pdf);
        }
    else
        for (size_t i = 0; i < n; i++) {
            float cdf = 0.5f * (1.0f + erf_fast(x[i] * SQRT1_2));
            float pdf = inv_sqrt_2pi * exp_fast(-0.5f * x[i] * x[i]);
            dx[i] += dout[i] * (cdf + x[i] * pdf);
        }
}

#define GELU_K 0.7978845608028654f /* √(2/π) */
ACT_CLONES static void gelu_tanh_fw(float *restrict out, const float *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + tanh_fast(GELU_K * (v + 0.044715f * v * v * v)));
    }
}

ACT_CLONES static void gelu_tanh_bw(float *restrict dx, const float *restrict dout, const float *restrict x, size_t n,
                                    bool store)
{
    /* the derivative first (into dx when storing, else into a stack chunk), then one plain
     * loop: a store-or-add choice inside the loop would keep it from being vectorised */
    enum { CH = 256 };
    for (size_t lo = 0; lo < n; lo += CH) {
        size_t len = n - lo < CH ? n - lo : CH;
        float tmp[CH], *d = store ? dx + lo : tmp;
        for (size_t i = 0; i < len; i++) {
            float v = x[lo + i];
            float th = tanh_fast(GELU_K * (v + 0.044715f * v * v * v));
            d[i] = dout[lo + i] * (0.5f * (1.0f + th) +
                                   0.5f * v * (1.0f - th * th) * GELU_K * (1.0f + 3.0f * 0.044715f * v * v));
        }
        if (!store)
            for (size_t i = 0; i < len; i++) dx[lo + i] += tmp[i];
    }
}

/* ======================================================================================
 * gelu (erf form, BERT): out = x·Φ(x) = ½x(1 + erf(x/√2))
 * dx += dout · (Φ(x) + x·φ(x)),  φ(x) = e^{-x²/2}/√(2π)
 * saved: Φ(x) (when recording)
 * ====================================================================================== */
void op_gelu_erf_forward(float *out, const float *x, size_t n)
{
    FOR_CHUNKS(n, gelu_erf_fw(out + lo, NULL, x + lo, len));
}

void op_gelu_erf_backward(float *dx, const float *dout, const float *x, size_t n)
{
    FOR_CHUNKS(n, gelu_erf_bw(dx + lo, dout + lo, x + lo, NULL, len, false));
}

Tensor *op_gelu_erf(Tape *tp, Tensor *x)
{
    Tensor *out = new_like(tp, x);
    float *cdf = tp->no_grad ? NULL : arena_alloc(&tp->arena, x->size * sizeof(float));
    size_t n = x->size;
    FOR_CHUNKS(n, gelu_erf_fw(out->data + lo, cdf ? cdf + lo : NULL, x->data + lo, len));
    TapeEntry *e = tape_record(tp, OP_GELU_ERF, out, x, NULL, NULL);
    if (e) e->saved = cdf;
    return out;
}

/* ======================================================================================
 * gelu (tanh form, GPT-2's gelu_new): out = ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³)
 * dx += dout · (½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²))
 * ====================================================================================== */
void op_gelu_tanh_forward(float *out, const float *x, size_t n)
{
    FOR_CHUNKS(n, gelu_tanh_fw(out + lo, x + lo, len));
}

void op_gelu_tanh_backward(float *dx, const float *dout, const float *x, size_t n)
{
    FOR_CHUNKS(n, gelu_tanh_bw(dx + lo, dout + lo, x + lo, len, false));
}

Tensor *op_gelu_tanh(Tape *tp, Tensor *x)
{
    Tensor *out = new_like(tp, x);
    op_gelu_tanh_forward(out->data, x->data, x->size);
    tape_record(tp, OP_GELU_TANH, out, x, NULL, NULL);
    return out;
}

/* ======================================================================================
 * tanh: x (N) -> out (N), out = tanh x
 * dx += dout · (1 − out²)      (from the output, which the tape keeps anyway)
 * ====================================================================================== */
void op_tanh_forward(float *out, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = tanhf(x[i]);
}

void op_tanh_backward(float *dx, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] += dout[i] * (1.0f - out[i] * out[i]);
}

Tensor *op_tanh(Tape *tp, Tensor *x)
{
    Tensor *out = new_like(tp, x);
    op_tanh_forward(out->data, x->data, x->size);
    tape_record(tp, OP_TANH, out, x, NULL, NULL);
    return out;
}

/* ======================================================================================
 * matmul: per batch, out (M,N) = op(a) (M,K) · op(b) (K,N); b shared (2-D) or batched.
 * !ta: da += dout · op(b)ᵀ           ta: da (K,M) += op(b) · doutᵀ
 * !tb: db += op(a)ᵀ · dout           tb: db (N,K) += doutᵀ · op(a)
 * A shared b with !ta is one big product: the batch folds into M (and db sums over it).
 * ia: M N K batch ta tb shared (MatmulDims, ops.h)
 * ====================================================================================== */
static void matmul_fold(MatmulDims *d)
{
    if (d->shared && !d->ta) { d->M *= d->batch; d->batch = 1; }
}

void op_matmul_forward(float *out, const float *a, const float *b, MatmulDims d)
{
    matmul_fold(&d);
    int lda = d.ta ? d.M : d.K, ldb = d.tb ? d.K : d.N;
    size_t sa = (size_t)d.M * d.K, sb = d.shared ? 0 : (size_t)d.K * d.N, so = (size_t)d.M * d.N;
    for (int i = 0; i < d.batch; i++)
        gemm(d.M, d.N, d.K, a + i * sa, lda, d.ta, b + i * sb, ldb, d.tb, out + i * so, d.N, false);
}

void op_matmul_backward(float *da, float *db, const float *dout, const float *a, const float *b,
                        MatmulDims d)
{
    matmul_fold(&d);
    int M = d.M, N = d.N, K = d.K;
    int lda = d.ta ? M : K, ldb = d.tb ? K : N;
    size_t sa = (size_t)M * K, sb = d.shared ? 0 : (size_t)K * N, so = (size_t)M * N;
    for (int i = 0; i < d.batch; i++) {
        const float *ai = a + i * sa, *bi = b + i * sb, *dc = dout + i * so;
        if (da) {
            if (!d.ta) gemm(M, K, N, dc, N, false, bi, ldb, !d.tb, da + i * sa, K, true);
            else       gemm(K, M, N, bi, ldb, d.tb, dc, N, true, da + i * sa, M, true);
        }
        if (db) {
            if (!d.tb) gemm(K, N, M, ai, lda, !d.ta, dc, N, false, db + i * sb, N, true);
            else       gemm(N, K, M, dc, N, true, ai, lda, d.ta, db + i * sb, K, true);
        }
    }
}

Tensor *op_matmul(Tape *tp, Tensor *a, Tensor *b, bool ta, bool tb)
{
    char s1[64], s2[64];
    ENGINE_CHECK(a->ndim >= 2 && b->ndim >= 2, "matmul: %s · %s: both need 2+ dims", shp(a, s1), shp(b, s2));
    bool shared = b->ndim == 2;
    ENGINE_CHECK(shared || b->ndim == a->ndim, "matmul: %s · %s: b must be 2-D or have a's batch dims",
                 shp(a, s1), shp(b, s2));
    for (int i = 0; !shared && i < a->ndim - 2; i++)
        ENGINE_CHECK(a->shape[i] == b->shape[i], "matmul: batch dims of %s and %s differ", shp(a, s1), shp(b, s2));
    int ra = a->shape[a->ndim - 2], ca = a->shape[a->ndim - 1];
    int rb = b->shape[b->ndim - 2], cb = b->shape[b->ndim - 1];
    MatmulDims d = {ta ? ca : ra, tb ? rb : cb, ta ? ra : ca, (int)(a->size / ((size_t)ra * ca)), ta, tb, shared};
    ENGINE_CHECK((tb ? cb : rb) == d.K, "matmul: inner dims differ: %s%s · %s%s",
                 shp(a, s1), ta ? "ᵀ" : "", shp(b, s2), tb ? "ᵀ" : "");
    int shape[TENSOR_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 2] = d.M;
    shape[a->ndim - 1] = d.N;
    Tensor *out = tape_tensor(tp, a->ndim, shape);
    op_matmul_forward(out->data, a->data, b->data, d);
    TapeEntry *e = tape_record(tp, OP_MATMUL, out, a, b, NULL);
    if (e) {
        e->ia[0] = d.M; e->ia[1] = d.N; e->ia[2] = d.K; e->ia[3] = d.batch;
        e->ia[4] = ta; e->ia[5] = tb; e->ia[6] = shared;
    }
    return out;
}

/* ======================================================================================
 * linear (fused matmul + bias), x (R,IN) as rows of its last dim -> out (R,OUT):
 *   nn.Linear: out = x·wᵀ + b, w (OUT,IN);   Conv1D: out = x·w + b, w (IN,OUT);  b (OUT) or NULL
 *   dx += dout·op(w);  dw += doutᵀ·x (or xᵀ·dout);  db += Σ_rows dout
 * gemm adds the bias where it stores the product, so neither the forward nor the backward
 * makes a pass or a buffer for the sum alone.
 * ====================================================================================== */
void op_linear_forward(float *out, const float *x, const float *w, const float *b, int R, int IN, int OUT,
                       bool conv1d)
{
    gemm_bias(R, OUT, IN, x, IN, false, w, conv1d ? OUT : IN, !conv1d, b, out, OUT);
}

/* db[j] += Σ_r dout[r][j], each column summed row by row in order (the bits of the plain
 * loop), 64 columns at a time kept in registers: the plain loop stored and reloaded db[j]
 * for every row, a fortieth of a lesson's step. */
ACT_CLONES static void column_sums_add(float *restrict db, const float *restrict dout, int R, int OUT)
{
    enum { W = 64 };
    int j0 = 0;
    for (; j0 + W <= OUT; j0 += W) {
        float acc[W];
        for (int j = 0; j < W; j++) acc[j] = db[j0 + j];
        for (int r = 0; r < R; r++)
            for (int j = 0; j < W; j++) acc[j] += dout[(size_t)r * OUT + j0 + j];
        for (int j = 0; j < W; j++) db[j0 + j] = acc[j];
    }
    for (int r = 0; r < R; r++)
        for (int j = j0; j < OUT; j++) db[j] += dout[(size_t)r * OUT + j];
}

static void linear_backward(float *dx, bool dx_store, float *dw, float *db, const float *dout, const float *x,
                            const float *w, int R, int IN, int OUT, bool conv1d)
{
    if (dx) gemm(R, IN, OUT, dout, OUT, false, w, conv1d ? OUT : IN, conv1d, dx, IN, !dx_store);
    if (dw) {
        if (conv1d) gemm(IN, OUT, R, x, IN, true, dout, OUT, false, dw, OUT, true);
        else gemm(OUT, IN, R, dout, OUT, true, x, IN, false, dw, IN, true);
    }
    if (db) column_sums_add(db, dout, R, OUT);
}

void op_linear_backward(float *dx, float *dw, float *db, const float *dout, const float *x, const float *w,
                        int R, int IN, int OUT, bool conv1d)
{
    linear_backward(dx, false, dw, db, dout, x, w, R, IN, OUT, conv1d);
}

static Tensor *linear_op(Tape *tp, Tensor *x, Tensor *w, Tensor *bias, bool conv1d)
{
    char s1[64], s2[64];
    int IN = tensor_last(x);
    ENGINE_CHECK(w->ndim == 2 && w->shape[conv1d ? 0 : 1] == IN,
                 "%s: input %s does not fit weight %s", conv1d ? "conv1d" : "linear", shp(x, s1), shp(w, s2));
    int OUT = w->shape[conv1d ? 1 : 0];
    ENGINE_CHECK(!bias || bias->size == (size_t)OUT, "linear: bias %s for %d outputs", shp(bias, s1), OUT);
    int shape[TENSOR_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = OUT;
    Tensor *out = tape_tensor(tp, x->ndim, shape);
    op_linear_forward(out->data, x->data, w->data, bias ? bias->data : NULL, (int)tensor_rows(x), IN, OUT, conv1d);
    TapeEntry *e = tape_record(tp, OP_LINEAR, out, x, w, bias);
    if (e) e->ia[0] = conv1d;
    return out;
}

Tensor *op_linear(Tape *tp, Tensor *x, Tensor *w, Tensor *bias) { return linear_op(tp, x, w, bias, false); }
Tensor *op_conv1d(Tape *tp, Tensor *x, Tensor *w, Tensor *bias) { return linear_op(tp, x, w, bias, true); }

/* ======================================================================================
 * reshape: x (N) -> out (N) under another shape, a view of the same data (no forward kernel)
 * dx += dout
 * ====================================================================================== */
void op_reshape_backward(float *dx, const float *dout, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] += dout[i];
}

Tensor *op_reshape(Tape *tp, Tensor *x, int ndim, const int *shape)
{
    Tensor *out = tape_tensor(tp, 0, NULL);
    tensor_set_shape(out, ndim, shape);
    char s1[64], s2[64];
    ENGINE_CHECK(out->size == x->size, "reshape: %s has %zu elements, %s has %zu",
                 shp(x, s1), x->size, shp(out, s2), out->size);
    out->data = x->data;
    tape_record(tp, OP_RESHAPE, out, x, NULL, NULL);
    return out;
}

/* ======================================================================================
 * transpose12: out[a][c][b][d] = x[a][b][c][d], x (A,B,C,D) -> (A,C,B,D)
 * dx[a][b][c][d] += dout[a][c][b][d]
 * ====================================================================================== */
void op_transpose12_forward(float *out, const float *x, int A, int B, int C, int D)
{
    PARALLEL_FOR((size_t)A * B * C * D)
    for (int a = 0; a < A; a++)
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++) {
                size_t src = (((size_t)a * B + b) * C + c) * D;
                size_t dst = (((size_t)a * C + c) * B + b) * D;
                memcpy(out + dst, x + src, (size_t)D * sizeof(float));
            }
}

/* dx (A,B,C,D), dout (A,C,B,D): the same walk with the roles of the two offsets swapped */
void op_transpose12_backward(float *dx, const float *dout, int A, int B, int C, int D)
{
    PARALLEL_FOR((size_t)A * B * C * D)
    for (int a = 0; a < A; a++)
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++) {
                size_t xo = (((size_t)a * B + b) * C + c) * D;
                size_t oo = (((size_t)a * C + c) * B + b) * D;
                for (int d = 0; d < D; d++) dx[xo + d] += dout[oo + d];
            }
}

Tensor *op_transpose12(Tape *tp, Tensor *x)
{
    char s[64];
    ENGINE_CHECK(x->ndim == 4, "transpose12 needs a 4-D tensor, got %s", shp(x, s));
    int shape[4] = {x->shape[0], x->shape[2], x->shape[1], x->shape[3]};
    Tensor *out = tape_tensor(tp, 4, shape);
    op_transpose12_forward(out->data, x->data, x->shape[0], x->shape[1], x->shape[2], x->shape[3]);
    tape_record(tp, OP_TRANSPOSE12, out, x, NULL, NULL);
    return out;
}

Tensor *op_split_heads(Tape *tp, Tensor *x, int nh)
{
    char s[64];
    ENGINE_CHECK(x->ndim == 3 && x->shape[2] % nh == 0, "split_heads: %s does not split into %d heads",
                 shp(x, s), nh);
    int shape[4] = {x->shape[0], x->shape[1], nh, x->shape[2] / nh};
    return op_transpose12(tp, op_reshape(tp, x, 4, shape));
}

Tensor *op_merge_heads(Tape *tp, Tensor *x)
{
    Tensor *t = op_transpose12(tp, x); /* (B,T,NH,HS) */
    int shape[3] = {t->shape[0], t->shape[1], t->shape[2] * t->shape[3]};
    return op_reshape(tp, t, 3, shape);
}

/* ======================================================================================
 * slice_last: x (R,C) -> out (R,len), out[r][j] = x[r][start + j], j < len
 * dx[r][start + j] += dout[r][j]
 * ====================================================================================== */
void op_slice_last_forward(float *out, const float *x, size_t R, int C, int start, int len)
{
    for (size_t r = 0; r < R; r++) memcpy(out + r * len, x + r * C + start, (size_t)len * sizeof(float));
}

void op_slice_last_backward(float *dx, const float *dout, size_t R, int C, int start, int len)
{
    for (size_t r = 0; r < R; r++)
        for (int j = 0; j < len; j++) dx[r * C + start + j] += dout[r * len + j];
}

Tensor *op_slice_last(Tape *tp, Tensor *x, int start, int len)
{
    int C = tensor_last(x);
    ENGINE_CHECK(start >= 0 && len > 0 && start + len <= C, "slice_last: [%d, %d) outside 0..%d",
                 start, start + len, C);
    int shape[TENSOR_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = len;
    Tensor *out = tape_tensor(tp, x->ndim, shape);
    op_slice_last_forward(out->data, x->data, tensor_rows(x), C, start, len);
    TapeEntry *e = tape_record(tp, OP_SLICE_LAST, out, x, NULL, NULL);
    if (e) { e->ia[0] = start; e->ia[1] = len; }
    return out;
}

/* ======================================================================================
 * gather_rows: x (R,C) -> out (n,C), out[i] = x[rows[i]]
 * dx[rows[i]] += dout[i]      (in order of i, so a repeated row sums the same way every time)
 * ====================================================================================== */
void op_gather_rows_forward(float *out, const float *x, const int32_t *rows, int n, int C)
{
    for (int i = 0; i < n; i++)
        memcpy(out + (size_t)i * C, x + (size_t)rows[i] * C, (size_t)C * sizeof(float));
}

void op_gather_rows_backward(float *dx, const float *dout, const int32_t *rows, int n, int C)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < C; j++) dx[(size_t)rows[i] * C + j] += dout[(size_t)i * C + j];
}

Tensor *op_gather_rows(Tape *tp, Tensor *x, const int32_t *rows, int n)
{
    int C = tensor_last(x);
    size_t R = tensor_rows(x);
    for (int i = 0; i < n; i++)
        ENGINE_CHECK(rows[i] >= 0 && (size_t)rows[i] < R, "gather_rows: row %d outside 0..%zu", rows[i], R);
    int shape[2] = {n, C};
    Tensor *out = tape_tensor(tp, 2, shape);
    op_gather_rows_forward(out->data, x->data, rows, n, C);
    TapeEntry *e = tape_record(tp, OP_GATHER_ROWS, out, x, NULL, NULL);
    if (e) { e->aux = rows; e->ia[0] = n; }
    return out;
}

/* ======================================================================================
 * embedding: table (V,C), ids (N) -> out (N,C), out[n] = table[ids[n]]
 * dtable[ids[n]] += dout[n] (scatter-add, in row order, so repeated ids sum the same way
 * every time), except where ids[n] == padding_idx (-1: none)
 * ====================================================================================== */
void op_embedding_forward(float *out, const float *table, const int32_t *ids, size_t N, int C)
{
    for (size_t i = 0; i < N; i++) memcpy(out + i * C, table + (size_t)ids[i] * C, (size_t)C * sizeof(float));
}

void op_embedding_backward(float *dtable, const float *dout, const int32_t *ids, int padding_idx, size_t N, int C)
{
    for (size_t i = 0; i < N; i++)
        if (ids[i] != padding_idx)
            for (int j = 0; j < C; j++) dtable[(size_t)ids[i] * C + j] += dout[i * C + j];
}

Tensor *op_embedding(Tape *tp, Tensor *table, const int32_t *ids, int ndim, const int *shape, int padding_idx)
{
    char s[64];
    ENGINE_CHECK(table->ndim == 2, "embedding: the table must be (V,C), got %s", shp(table, s));
    ENGINE_CHECK(ndim < TENSOR_MAX_DIMS, "embedding: ids may have at most 3 dims");
    int V = table->shape[0], C = table->shape[1];
    int oshape[TENSOR_MAX_DIMS];
    memcpy(oshape, shape, (size_t)ndim * sizeof(int));
    oshape[ndim] = C;
    Tensor *out = tape_tensor(tp, ndim + 1, oshape);
    size_t n = out->size / (size_t)C;
    for (size_t i = 0; i < n; i++)
        ENGINE_CHECK(ids[i] >= 0 && ids[i] < V, "embedding: id %d at %zu is outside the table's 0..%d",
                     ids[i], i, V - 1);
    op_embedding_forward(out->data, table->data, ids, n, C);
    TapeEntry *e = tape_record(tp, OP_EMBEDDING, out, table, NULL, NULL);
    if (e) { e->aux = ids; e->ia[0] = padding_idx; }
    return out;
}

/* ======================================================================================
 * layernorm over the last dim: out = (x − μ)·rstd·w + b, rstd = 1/√(σ² + eps) (biased σ²)
 * with n̂ = (x − μ)·rstd and g = dout ⊙ w:
 *   dx += rstd · (g − mean(g) − n̂ · mean(g ⊙ n̂));  dw += Σ_rows dout ⊙ n̂;  db += Σ_rows dout
 * saved: μ and rstd per row.
 * ====================================================================================== */
/* Σ a[i] (and Σ a[i]·b[i]) over a row in double, in 8 interleaved lanes combined in a fixed
 * order: vectorisable without reassociation, the same on every processor and thread count. */
enum { LN_LANES = 8 };
ACT_CLONES static double row_sum(const float *restrict a, int C)
{
    double l8[LN_LANES] = {0};
    int body = C / LN_LANES * LN_LANES;
    for (int i = 0; i < body; i += LN_LANES)
        for (int l = 0; l < LN_LANES; l++) l8[l] += a[i + l];
    double s = 0;
    for (int l = 0; l < LN_LANES; l++) s += l8[l];
    for (int i = body; i < C; i++) s += a[i];
    return s;
}

ACT_CLONES static double row_sq_dev(const float *restrict a, double m, int C)
{
    double l8[LN_LANES] = {0};
    int body = C / LN_LANES * LN_LANES;
    for (int i = 0; i < body; i += LN_LANES)
        for (int l = 0; l < LN_LANES; l++) l8[l] += (a[i + l] - m) * (a[i + l] - m);
    double s = 0;
    for (int l = 0; l < LN_LANES; l++) s += l8[l];
    for (int i = body; i < C; i++) s += (a[i] - m) * (a[i] - m);
    return s;
}

ACT_CLONES static void ln_row_fw(float *restrict o, const float *restrict xr, const float *restrict w,
                                 const float *restrict b, float m, float s, int C)
{
    for (int i = 0; i < C; i++) o[i] = ((xr[i] - m) * s) * w[i] + b[i];
}

void op_layernorm_forward(float *out, float *mean, float *rstd, const float *x,
                          const float *w, const float *b, float eps, size_t rows, int C)
{
    PARALLEL_FOR(rows * C)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * C;
        double m = row_sum(xr, C) / C;
        double v = row_sq_dev(xr, m, C) / C;
        float s = (float)(1.0 / sqrt(v + eps));
        ln_row_fw(out + r * C, xr, w, b, (float)m, s, C);
        mean[r] = (float)m;
        rstd[r] = s;
    }
}

/* One row of dx: with g = dout ⊙ w and n̂ the normalised input, the sums Σg and Σg·n̂ (double,
 * lanes as above), then dx += rstd·(g − mean(g) − n̂·mean(g·n̂)). */
ACT_CLONES static void ln_row_bw(float *restrict dx, const float *restrict dr, const float *restrict xr,
                                 const float *restrict w, float mean, float rstd, int C, bool store)
{
    double gl[LN_LANES] = {0}, gnl[LN_LANES] = {0};
    int body = C / LN_LANES * LN_LANES;
    for (int i = 0; i < body; i += LN_LANES)
        for (int l = 0; l < LN_LANES; l++) {
            float nh = (xr[i + l] - mean) * rstd;
            gl[l] += dr[i + l] * w[i + l];
            gnl[l] += dr[i + l] * w[i + l] * nh;
        }
    double gm = 0, gnm = 0;
    for (int l = 0; l < LN_LANES; l++) { gm += gl[l]; gnm += gnl[l]; }
    for (int i = body; i < C; i++) {
        float nh = (xr[i] - mean) * rstd;
        gm += dr[i] * w[i];
        gnm += dr[i] * w[i] * nh;
    }
    float gmf = (float)(gm / C), gnmf = (float)(gnm / C);
    if (store)
        for (int i = 0; i < C; i++) {
            float nh = (xr[i] - mean) * rstd;
            dx[i] = rstd * (dr[i] * w[i] - gmf - nh * gnmf);
        }
    else
        for (int i = 0; i < C; i++) {
            float nh = (xr[i] - mean) * rstd;
            dx[i] += rstd * (dr[i] * w[i] - gmf - nh * gnmf);
        }
}

/* dw and db: sums over rows, in row order for each column (vectorised along the columns). */
ACT_CLONES static void ln_params_bw(float *restrict dw, float *restrict db, const float *restrict dout,
                                    const float *restrict x, const float *restrict mean, const float *restrict rstd,
                                    size_t rows, int C)
{
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * C, *dr = dout + r * C;
        float m = mean[r], s = rstd[r];
        if (dw)
            for (int i = 0; i < C; i++) dw[i] += dr[i] * (xr[i] - m) * s;
        if (db)
            for (int i = 0; i < C; i++) db[i] += dr[i];
    }
}

static void layernorm_backward(float *dx, bool dx_store, float *dw, float *db, const float *dout, const float *x,
                               const float *w, const float *mean, const float *rstd, size_t rows, int C)
{
    if (dx) {
        PARALLEL_FOR(rows * C)
        for (size_t r = 0; r < rows; r++)
            ln_row_bw(dx + r * C, dout + r * C, x + r * C, w, mean[r], rstd[r], C, dx_store);
    }
    if (dw || db) ln_params_bw(dw, db, dout, x, mean, rstd, rows, C);
}

void op_layernorm_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                           const float *w, const float *mean, const float *rstd, size_t rows, int C)
{
    layernorm_backward(dx, false, dw, db, dout, x, w, mean, rstd, rows, C);
}

Tensor *op_layernorm(Tape *tp, Tensor *x, Tensor *w, Tensor *b, float eps)
{
    char s1[64], s2[64];
    int C = tensor_last(x);
    ENGINE_CHECK(w->size == (size_t)C && b->size == (size_t)C, "layernorm: weight %s / bias for last dim of %s",
                 shp(w, s1), shp(x, s2));
    size_t rows = tensor_rows(x);
    Tensor *out = new_like(tp, x);
    float *saved = arena_alloc(&tp->arena, 2 * rows * sizeof(float));
    op_layernorm_forward(out->data, saved, saved + rows, x->data, w->data, b->data, eps, rows, C);
    TapeEntry *e = tape_record(tp, OP_LAYERNORM, out, x, w, b);
    if (e) { e->saved = saved; e->fa[0] = eps; }
    return out;
}

/* ======================================================================================
 * softmax over the last dim, with an optional keep mask (keep = 0 -> probability exactly 0;
 * a row with nothing kept -> all zeros, never NaN)
 * dx += y ⊙ (dout − Σ dout ⊙ y)      (masked entries have y = 0, so they get no gradient)
 * ====================================================================================== */
void op_softmax_forward(float *out, const float *x, const uint8_t *keep, size_t rows, int C)
{
    PARALLEL_FOR(rows * C)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * C;
        const uint8_t *kr = keep ? keep + r * C : NULL;
        float *o = out + r * C;
        float mx = -INFINITY;
        for (int i = 0; i < C; i++)
            if (!kr || kr[i]) mx = xr[i] > mx ? xr[i] : mx;
        if (mx == -INFINITY) { memset(o, 0, (size_t)C * sizeof(float)); continue; }
        float sum = 0;
        for (int i = 0; i < C; i++) {
            o[i] = (!kr || kr[i]) ? expf(xr[i] - mx) : 0.0f;
            sum += o[i];
        }
        float inv = 1.0f / sum;
        for (int i = 0; i < C; i++) o[i] *= inv;
    }
}

void op_softmax_backward(float *dx, const float *dout, const float *y, size_t rows, int C)
{
    PARALLEL_FOR(rows * C)
    for (size_t r = 0; r < rows; r++) {
        const float *yr = y + r * C, *dr = dout + r * C;
        float dot = 0;
        for (int i = 0; i < C; i++) dot += dr[i] * yr[i];
        for (int i = 0; i < C; i++) dx[r * C + i] += yr[i] * (dr[i] - dot);
    }
}

Tensor *op_softmax(Tape *tp, Tensor *x)
{
    Tensor *out = new_like(tp, x);
    op_softmax_forward(out->data, x->data, NULL, tensor_rows(x), tensor_last(x));
    tape_record(tp, OP_SOFTMAX, out, x, NULL, NULL);
    return out;
}

Tensor *op_masked_softmax(Tape *tp, Tensor *x, const uint8_t *keep)
{
    Tensor *out = new_like(tp, x);
    op_softmax_forward(out->data, x->data, keep, tensor_rows(x), tensor_last(x));
    tape_record(tp, OP_MASKED_SOFTMAX, out, x, NULL, NULL);
    return out;
}

/* ======================================================================================
 * attention (fused), q k v (B,T,C) with C = NH·HS, per batch b and head h, s = 1/√HS:
 *   S = s·Q·Kᵀ (T,T);  P = masked softmax of S by rows;  O = P·V
 * backward:  dP = dO·Vᵀ;  dV += Pᵀ·dO;  dS = P ⊙ (dP − rowsum(dP ⊙ P));
 *            dQ += s·dS·K;  dK += s·dSᵀ·Q
 * P (B,NH,T,T) is saved: backward needs it, and the viz shows it.
 * ====================================================================================== */
static inline bool attn_allowed(const AttnMask *m, int b, int i, int j, int T)
{
    if (m->causal && j > i) return false;
    if (m->kind == MASK_KEYS) return m->keep[(size_t)b * T + j] != 0;
    if (m->kind == MASK_FULL) return m->keep[((size_t)b * T + i) * T + j] != 0;
    return true;
}

/* Softmax of one row of scores in place, scaled by s first, over the allowed keys (mask row
 * `allow`, NULL = all): forbidden keys get exactly 0, a row with none allowed becomes all
 * zeros. Max and sum in 16 interleaved lanes (as in cross-entropy), exp_fast (exactly 0 at
 * -inf): loops the compiler vectorises, with the same result on every processor. */
static inline void softmax_row(float *restrict pr, const uint8_t *restrict allow, float s, int T)
{
    enum { LANES = 16 };
    float suml[LANES];
    int body = T / LANES * LANES;
    if (allow)
        for (int j = 0; j < T; j++) pr[j] = allow[j] ? pr[j] * s : -INFINITY;
    else
        for (int j = 0; j < T; j++) pr[j] *= s;
    float mx = lanes_max(pr, T);
    if (mx == -INFINITY) { memset(pr, 0, (size_t)T * sizeof(float)); return; }
    for (int j = 0; j < T; j++) pr[j] = exp_fast(pr[j] - mx);
    for (int l = 0; l < LANES; l++) suml[l] = 0.0f;
    for (int j = 0; j < body; j += LANES)
        for (int l = 0; l < LANES; l++) suml[l] += pr[j + l];
    float sum = 0.0f;
    for (int l = 0; l < LANES; l++) sum += suml[l];
    for (int j = body; j < T; j++) sum += pr[j];
    float inv = 1.0f / sum;
    for (int j = 0; j < T; j++) pr[j] *= inv;
}

/* The keys query i of sequence b may see, as a 0/1 row (NULL when all may be seen). */
static inline const uint8_t *mask_row(const AttnMask *m, uint8_t *buf, int b, int i, int T)
{
    if (m->kind == MASK_NONE && !m->causal) return NULL;
    for (int j = 0; j < T; j++) buf[j] = attn_allowed(m, b, i, j, T);
    return buf;
}

/* Every row of one (batch, head)'s scores: one call per pair, so the per-processor version is
 * chosen once for T rows rather than once per row. */
ACT_CLONES static void softmax_rows(float *restrict pb, const AttnMask *m, int b, float s, int T)
{
    uint8_t allow[T];
    for (int i = 0; i < T; i++) softmax_row(pb + (size_t)i * T, mask_row(m, allow, b, i, T), s, T);
}

/* dS = s·P ⊙ (dP − rowsum(dP ⊙ P)), in place over dP, every row of one pair; the row sums in
 * 16 interleaved lanes (vectorised, the same on every processor). */
ACT_CLONES static void softmax_back_rows(float *restrict ds, const float *restrict P, float s, int T)
{
    enum { LANES = 16 };
    int body = T / LANES * LANES;
    for (int i = 0; i < T; i++) {
        const float *pr = P + (size_t)i * T;
        float *dr = ds + (size_t)i * T, dl[LANES];
        for (int l = 0; l < LANES; l++) dl[l] = 0.0f;
        for (int j = 0; j < body; j += LANES)
            for (int l = 0; l < LANES; l++) dl[l] += dr[j + l] * pr[j + l];
        float rowdot = 0.0f;
        for (int l = 0; l < LANES; l++) rowdot += dl[l];
        for (int j = body; j < T; j++) rowdot += dr[j] * pr[j];
        for (int j = 0; j < T; j++) dr[j] = pr[j] * (dr[j] - rowdot) * s;
    }
}

/* Each (batch, head) pair is independent and small (T × HS, e.g. 32 × 16): too small for
 * gemm's blocking and packing, whose panels (12 × 32) would be half empty. So the products
 * are plain loops, in place in the (B,T,C) tensors (leading dimension C, head h at columns
 * h·HS..), vectorised along their innermost dimension, and each element is summed exactly
 * as gemm sums it: from zero, in order of the inner index, with fused multiply-adds, then
 * added to the output when it accumulates. So the results are the same bits as gemm's
 * (whose depth blocks are 256 long: for T or HS above that, gemm would split the sum where
 * these loops do not), with none of its overhead. Threads split the pairs.
 * Kᵀ (and Vᵀ in backward) is copied once per pair into scratch so that every inner loop
 * runs along contiguous memory; Pᵀ and dSᵀ are read in place, by columns. */

/* out (M × n, row stride ldo) = (or +=, when add) op(a) (M × K) · rows (K × n, row stride ldr):
 * out[i][j] = Σ_k a(i,k)·rows[k][j], summed from zero over k in order with fused
 * multiply-adds, then stored or added; a(i,k) = a[i·lda + k], or a[k·lda + i] when at (a
 * stored transposed: Pᵀ and dSᵀ are read where they lie). The portable loop keeps one row's
 * sums in memory; each of its sums is a chain of dependent FMAs, so it runs at the FMA's
 * latency. */
FMA_CLONES static void rows_combination(float *restrict out, size_t ldo, const float *restrict a, size_t lda, bool at,
                                        const float *restrict rows, size_t ldr, int M, int K, int n, bool add)
{
    float acc[n];
    size_t ri = at ? 1 : lda, rk = at ? lda : 1;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < n; j++) acc[j] = 0.0f;
        for (int k = 0; k < K; k++) {
            float ak = a[(size_t)i * ri + (size_t)k * rk];
            const float *r = rows + (size_t)k * ldr;
            for (int j = 0; j < n; j++) acc[j] = fmaf(ak, r[j], acc[j]);
        }
        float *o = out + (size_t)i * ldo;
        if (add)
            for (int j = 0; j < n; j++) o[j] += acc[j];
        else
            for (int j = 0; j < n; j++) o[j] = acc[j];
    }
}

#ifdef GEMM_LIKE_X86
/* The same with AVX-512 when n is a multiple of 16 up to 64: four rows at a time keep 4 × n/16
 * independent chains in registers, which hides the FMA's latency (the same sums, the same
 * order: the same bits as the loop above). AT: a stored transposed. */
#define COMB_AVX512(NV, AT)                                                                              \
    __attribute__((target("avx512f"))) static void comb_avx512_##NV##_##AT(                            \
        float *out, size_t ldo, const float *a, size_t lda, const float *rows, size_t ldr, int M, int K, bool add) \
    {                                                                                                     \
        const size_t ri = AT ? 1 : lda, rk = AT ? lda : 1;                                                \
        int i = 0;                                                                                        \
        for (; i + 4 <= M; i += 4) {                                                                      \
            __m512 acc[4][NV];                                                                            \
            for (int r = 0; r < 4; r++)                                                                   \
                for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();                             \
            const float *ai = a + (size_t)i * ri;                                                         \
            for (int k = 0; k < K; k++) {                                                                 \
                const float *rw = rows + (size_t)k * ldr;                                                 \
                __m512 b[NV];                                                                             \
                for (int v = 0; v < NV; v++) b[v] = _mm512_loadu_ps(rw + 16 * v);                        \
                for (int r = 0; r < 4; r++) {                                                             \
                    __m512 av = _mm512_set1_ps(ai[(size_t)r * ri + (size_t)k * rk]);                      \
                    for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(av, b[v], acc[r][v]);        \
                }                                                                                         \
            }                                                                                             \
            for (int r = 0; r < 4; r++) {                                                                 \
                float *o = out + (size_t)(i + r) * ldo;                                                   \
                for (int v = 0; v < NV; v++) {                                                            \
                    __m512 x = acc[r][v];                                                                 \
                    if (add) x = _mm512_add_ps(_mm512_loadu_ps(o + 16 * v), x);                            \
                    _mm512_storeu_ps(o + 16 * v, x);                                                      \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        if (i < M) rows_combination(out + (size_t)i * ldo, ldo, a + (size_t)i * ri, lda, AT, rows, ldr,   \
                                    M - i, K, 16 * NV, add);                                              \
    }
COMB_AVX512(1, 0)
COMB_AVX512(2, 0)
COMB_AVX512(3, 0)
COMB_AVX512(4, 0)
COMB_AVX512(1, 1)
COMB_AVX512(2, 1)
COMB_AVX512(3, 1)
COMB_AVX512(4, 1)
#endif

/* rows_combination, by the fastest way this processor has. */
static void combine(float *out, size_t ldo, const float *a, size_t lda, bool at, const float *rows, size_t ldr,
                    int M, int K, int n, bool add)
{
#ifdef GEMM_LIKE_X86
    static int avx512 = -1;
    if (avx512 < 0) avx512 = __builtin_cpu_supports("avx512f");
    if (avx512 && n % 16 == 0 && n <= 64) {
        typedef void (*Comb)(float *, size_t, const float *, size_t, const float *, size_t, int, int, bool);
        static const Comb comb[2][4] = {
            {comb_avx512_1_0, comb_avx512_2_0, comb_avx512_3_0, comb_avx512_4_0},
            {comb_avx512_1_1, comb_avx512_2_1, comb_avx512_3_1, comb_avx512_4_1},
        };
        comb[at][n / 16 - 1](out, ldo, a, lda, rows, ldr, M, K, add);
        return;
    }
#endif
    rows_combination(out, ldo, a, lda, at, rows, ldr, M, K, n, add);
}

/* dst (n × m, row stride m) = the transpose of src (m rows of n, row stride ld). */
static void transpose_into(float *restrict dst, const float *restrict src, size_t ld, int m, int n)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) dst[(size_t)j * m + i] = src[(size_t)i * ld + j];
}

/* scratch: (B,NH,HS,T) floats for Kᵀ. */
void op_attention_forward(float *out, float *P, float *scratch, const float *q, const float *k, const float *v,
                          const AttnMask *m, int B, int NH, int T, int HS)
{
    int C = NH * HS;
    float s = 1.0f / sqrtf((float)HS);
    PARALLEL_FOR((size_t)B * NH * T * T * HS)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        size_t off = (size_t)b * T * C + (size_t)h * HS;
        float *pb = P + (size_t)bh * T * T, *kt = scratch + (size_t)bh * HS * T;
        transpose_into(kt, k + off, C, T, HS);
        combine(pb, T, q + off, C, false, kt, T, T, HS, T, false);              /* S = Q·Kᵀ */
        softmax_rows(pb, m, b, s, T);                                            /* P */
        combine(out + off, C, pb, T, false, v + off, C, T, T, HS, false);        /* O = P·V */
    }
}

/* scratch: (B,NH,T,T) + (B,NH,HS,T) floats: dP then dS, and Vᵀ. */
/* store[3]: dq, dk, dv are fresh buffers to write instead of add to (NULL: add to all) */
static void attention_backward(float *dq, float *dk, float *dv, const bool *store, float *scratch, const float *dout,
                               const float *P, const float *q, const float *k, const float *v, int B, int NH, int T,
                               int HS)
{
    bool add_q = !store || !store[0], add_k = !store || !store[1], add_v = !store || !store[2];
    int C = NH * HS;
    float s = 1.0f / sqrtf((float)HS);
    size_t per = (size_t)T * T + (size_t)T * HS;
    PARALLEL_FOR((size_t)B * NH * T * T * HS)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        size_t off = (size_t)b * T * C + (size_t)h * HS;
        const float *pb = P + (size_t)bh * T * T;
        float *ds = scratch + (size_t)bh * per, *vt = ds + (size_t)T * T;
        transpose_into(vt, v + off, C, T, HS);
        combine(ds, T, dout + off, C, false, vt, T, T, HS, T, false);           /* dP = dO·Vᵀ */
        softmax_back_rows(ds, pb, s, T);                                         /* dS, scaled */
        if (dv) combine(dv + off, C, pb, T, true, dout + off, C, T, T, HS, add_v); /* dV += Pᵀ·dO */
        if (dq) combine(dq + off, C, ds, T, false, k + off, C, T, T, HS, add_q);   /* dQ += dS·K */
        if (dk) combine(dk + off, C, ds, T, true, q + off, C, T, T, HS, add_k);    /* dK += dSᵀ·Q */
    }
}

void op_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *P,
                           const float *q, const float *k, const float *v, int B, int NH, int T, int HS)
{
    attention_backward(dq, dk, dv, NULL, scratch, dout, P, q, k, v, B, NH, T, HS);
}

Tensor *op_attention(Tape *tp, Tensor *q, Tensor *k, Tensor *v, int nh, AttnMask mask, float **probs)
{
    char s1[64], s2[64];
    ENGINE_CHECK(q->ndim == 3 && tensor_same_shape(q, k) && tensor_same_shape(q, v) && nh > 0 &&
                 q->shape[2] % nh == 0,
                 "attention: q %s, k, v must all be (B,T,C) with C a multiple of %d heads; k is %s",
                 shp(q, s1), nh, shp(k, s2));
    ENGINE_CHECK(mask.kind == MASK_NONE || mask.keep, "attention: mask kind set but keep is NULL");
    int B = q->shape[0], T = q->shape[1], HS = q->shape[2] / nh;
    Tensor *out = new_like(tp, q);
    float *P = arena_alloc(&tp->arena, (size_t)B * nh * T * T * sizeof(float));
    TapeMark scratch_mark = tape_mark(tp);
    float *kt = arena_alloc(&tp->arena, q->size * sizeof(float));
    op_attention_forward(out->data, P, kt, q->data, k->data, v->data, &mask, B, nh, T, HS);
    tape_rewind(tp, scratch_mark); /* Kᵀ is not needed after the forward */
    if (probs) *probs = P;
    TapeEntry *e = tape_record(tp, OP_ATTENTION, out, q, k, v);
    if (e) { e->saved = P; e->ia[0] = nh; }
    return out;
}

/* ======================================================================================
 * cross-entropy with ignore_index, fused with log-softmax, logits (R,V):
 *   loss = (1/n) Σ_{r counted} (logsumexp(x_r) − x_r[t_r]),  n = number of counted rows
 *   dx_r += dout · (softmax(x_r) − onehot(t_r)) / n;   n = 0 gives loss 0 and no gradient.
 * saved: softmax of each counted row.
 * ====================================================================================== */
/* One row's softmax into p and its log-sum-exp. The max and the sum run in 16 interleaved
 * lanes (lane l takes elements l, l+16, ...) combined in a fixed order at the end: loops
 * the compiler can vectorise without reassociating anything, so the result is the same on
 * every processor and thread count, and the sum is more accurate than one running total. */
ACT_CLONES static float softmax_lse_row(float *restrict p, const float *restrict x, int V)
{
    enum { LANES = 16 };
    float suml[LANES];
    int body = V / LANES * LANES;
    float mx = lanes_max(x, V);
    for (int l = 0; l < LANES; l++) suml[l] = 0.0f;
    for (int i = 0; i < body; i += LANES)
        for (int l = 0; l < LANES; l++) {
            p[i + l] = exp_fast(x[i + l] - mx);
            suml[l] += p[i + l];
        }
    for (int i = body; i < V; i++) p[i] = exp_fast(x[i] - mx);
    float sum = 0.0f;
    for (int l = 0; l < LANES; l++) sum += suml[l];
    for (int i = body; i < V; i++) sum += p[i];
    float inv = 1.0f / sum;
    for (int i = 0; i < V; i++) p[i] *= inv;
    return mx + logf(sum);
}

ACT_CLONES static float logsumexp_row(const float *restrict x, int n)
{
    enum { LANES = 16 };
    float sl[LANES];
    int body = n / LANES * LANES;
    float mx = lanes_max(x, n);
    if (mx == -INFINITY || mx == INFINITY) return mx;
    for (int l = 0; l < LANES; l++) sl[l] = 0.0f;
    for (int i = 0; i < body; i += LANES)
        for (int l = 0; l < LANES; l++) sl[l] += exp_fast(x[i + l] - mx);
    float sum = 0.0f;
    for (int l = 0; l < LANES; l++) sum += sl[l];
    for (int i = body; i < n; i++) sum += exp_fast(x[i] - mx);
    return mx + logf(sum);
}

float op_logsumexp(const float *x, int n) { return logsumexp_row(x, n); }

/* row_loss: (R) scratch; n: the number of counted rows */
void op_cross_entropy_forward(float *loss, float *probs, float *row_loss, const float *logits,
                              const int32_t *targets, int n, size_t R, int V)
{
    PARALLEL_FOR(R * V)
    for (size_t r = 0; r < R; r++) {
        row_loss[r] = 0;
        if (targets[r] == IGNORE_INDEX) continue;
        row_loss[r] = softmax_lse_row(probs + r * V, logits + r * V, V) - logits[r * V + targets[r]];
    }
    double total = 0;
    for (size_t r = 0; r < R; r++) total += row_loss[r];
    *loss = n ? (float)(total / n) : 0.0f;
}

/* store: dx is a fresh buffer (see grad_for_store): every row is written, ignored ones with 0 */
static void cross_entropy_backward(float *dx, bool store, float dout, const float *probs, const int32_t *targets,
                                   int n, size_t R, int V)
{
    float g = n ? dout / (float)n : 0.0f;
    PARALLEL_FOR(R * V)
    for (size_t r = 0; r < R; r++) {
        float *d = dx + r * V;
        const float *p = probs + r * V;
        if (n == 0 || targets[r] == IGNORE_INDEX) {
            if (store) memset(d, 0, (size_t)V * sizeof(float));
            continue;
        }
        if (store)
            for (int i = 0; i < V; i++) d[i] = g * p[i];
        else
            for (int i = 0; i < V; i++) d[i] += g * p[i];
        d[targets[r]] -= g;
    }
}

void op_cross_entropy_backward(float *dx, float dout, const float *probs, const int32_t *targets,
                               int n, size_t R, int V)
{
    cross_entropy_backward(dx, false, dout, probs, targets, n, R, V);
}

Tensor *op_cross_entropy(Tape *tp, Tensor *logits, const int32_t *targets)
{
    size_t R = tensor_rows(logits);
    int V = tensor_last(logits);
    Tensor *out = tape_tensor(tp, 0, NULL);
    float *probs = arena_alloc(&tp->arena, logits->size * sizeof(float));
    float *row_loss = arena_alloc(&tp->arena, R * sizeof(float));
    int n = 0;
    for (size_t r = 0; r < R; r++) {
        ENGINE_CHECK(targets[r] == IGNORE_INDEX || (targets[r] >= 0 && targets[r] < V),
                     "cross_entropy: target %d at row %zu is outside 0..%d (or -100)", targets[r], r, V - 1);
        n += targets[r] != IGNORE_INDEX;
    }
    op_cross_entropy_forward(out->data, probs, row_loss, logits->data, targets, n, R, V);
    TapeEntry *e = tape_record(tp, OP_CROSS_ENTROPY, out, logits, NULL, NULL);
    if (e) { e->saved = probs; e->aux = targets; e->ia[0] = n; }
    return out;
}

/* ======================================================================================
 * binary cross-entropy with logits, mean over kept elements (stable form):
 *   ℓ = max(x,0) − x·y + log(1 + e^{−|x|});   dx += dout · (σ(x) − y) / n
 * ====================================================================================== */
/* *n: the number of kept elements */
void op_bce_logits_forward(float *loss, int *n, const float *x, const float *y, const uint8_t *keep, size_t N)
{
    double total = 0;
    int k = 0;
    for (size_t i = 0; i < N; i++) {
        if (keep && !keep[i]) continue;
        total += fmaxf(x[i], 0.0f) - x[i] * y[i] + log1pf(expf(-fabsf(x[i])));
        k++;
    }
    *loss = k ? (float)(total / k) : 0.0f;
    *n = k;
}

void op_bce_logits_backward(float *dx, float dout, const float *x, const float *y, const uint8_t *keep,
                            int n, size_t N)
{
    if (n == 0) return;
    for (size_t i = 0; i < N; i++) {
        if (keep && !keep[i]) continue;
        float sig = 1.0f / (1.0f + expf(-x[i]));
        dx[i] += dout * (sig - y[i]) / (float)n;
    }
}

Tensor *op_bce_logits(Tape *tp, Tensor *logits, const float *targets, const uint8_t *keep)
{
    Tensor *out = tape_tensor(tp, 0, NULL);
    int n;
    op_bce_logits_forward(out->data, &n, logits->data, targets, keep, logits->size);
    TapeEntry *e = tape_record(tp, OP_BCE_LOGITS, out, logits, NULL, NULL);
    if (e) { e->aux = targets; e->aux2 = keep; e->ia[0] = n; }
    return out;
}

/* ======================================================================================
 * KL divergence between temperature-softened distributions, rows of (R,V):
 *   p = softmax(t/T) (teacher), q = softmax(s/T) (student)
 *   ℓ = (1/n) Σ_{r kept} Σ_v p (log p − log q)
 *   ds += dout · (q − p) / (T·n);   dt += dout · p ⊙ ((log p − log q) − ℓ_r) / (T·n)
 * saved: logsumexp of s/T and t/T, and ℓ_r, per row.
 * ====================================================================================== */
static float row_lse(const float *x, int V, float invT)
{
    float mx = -INFINITY;
    for (int i = 0; i < V; i++) mx = x[i] * invT > mx ? x[i] * invT : mx;
    double sum = 0;
    for (int i = 0; i < V; i++) sum += exp(x[i] * invT - mx);
    return mx + (float)log(sum);
}

/* *n: the number of kept rows; saved (3R): see above */
void op_kl_div_forward(float *loss, int *n, float *saved, const float *student, const float *teacher,
                       const uint8_t *keep, float temperature, size_t R, int V)
{
    float invT = 1.0f / temperature;
    float *lse_s = saved, *lse_t = saved + R, *kl = saved + 2 * R;
    PARALLEL_FOR(R * V)
    for (size_t r = 0; r < R; r++) {
        kl[r] = 0;
        if (keep && !keep[r]) continue;
        const float *s = student + r * V, *t = teacher + r * V;
        lse_s[r] = row_lse(s, V, invT);
        lse_t[r] = row_lse(t, V, invT);
        double acc = 0;
        for (int i = 0; i < V; i++) {
            float lp = t[i] * invT - lse_t[r], lq = s[i] * invT - lse_s[r];
            acc += exp(lp) * (lp - lq);
        }
        kl[r] = (float)acc;
    }
    double total = 0;
    int k = 0;
    for (size_t r = 0; r < R; r++)
        if (!keep || keep[r]) { total += kl[r]; k++; }
    *loss = k ? (float)(total / k) : 0.0f;
    *n = k;
}

void op_kl_div_backward(float *ds, float *dt, float dout, const float *s, const float *t,
                        const float *saved, const uint8_t *keep, float temperature, int n, size_t R, int V)
{
    if (n == 0) return;
    float invT = 1.0f / temperature, g = dout * invT / (float)n;
    const float *lse_s = saved, *lse_t = saved + R, *kl = saved + 2 * R;
    PARALLEL_FOR(R * V)
    for (size_t r = 0; r < R; r++) {
        if (keep && !keep[r]) continue;
        for (int i = 0; i < V; i++) {
            float lp = t[r * V + i] * invT - lse_t[r], lq = s[r * V + i] * invT - lse_s[r];
            float p = expf(lp), q = expf(lq);
            if (ds) ds[r * V + i] += g * (q - p);
            if (dt) dt[r * V + i] += g * p * ((lp - lq) - kl[r]);
        }
    }
}

Tensor *op_kl_div(Tape *tp, Tensor *student, Tensor *teacher, float temperature, const uint8_t *keep)
{
    char s1[64], s2[64];
    ENGINE_CHECK(tensor_same_shape(student, teacher), "kl_div: student %s and teacher %s differ",
                 shp(student, s1), shp(teacher, s2));
    ENGINE_CHECK(temperature > 0, "kl_div: temperature must be positive, got %g", temperature);
    size_t R = tensor_rows(student);
    float *saved = arena_alloc(&tp->arena, 3 * R * sizeof(float));
    Tensor *out = tape_tensor(tp, 0, NULL);
    int n;
    op_kl_div_forward(out->data, &n, saved, student->data, teacher->data, keep, temperature, R, tensor_last(student));
    TapeEntry *e = tape_record(tp, OP_KL_DIV, out, student, teacher, NULL);
    if (e) { e->saved = saved; e->aux = keep; e->fa[0] = temperature; e->ia[0] = n; }
    return out;
}

/* ======================================================================================
 * cosine-embedding loss with target 1, rows of (R,C), as torch computes cos:
 *   cos = a·b / √((|a|² + ε)(|b|² + ε)),  ε = 1e-12;  ℓ = (1/n) Σ_{r kept} (1 − cos_r)
 *   ∂cos/∂a = b/√(..) − cos·a/(|a|² + ε);  ∂cos/∂b = a/√(..) − cos·b/(|b|² + ε)
 *   da += −dout/n · ∂cos/∂a;  db += −dout/n · ∂cos/∂b
 * ====================================================================================== */
#define COS_EPS 1e-12
static void cos_parts(const float *a, const float *b, int C, double *ab, double *aa, double *bb)
{
    *ab = *aa = *bb = 0;
    for (int i = 0; i < C; i++) {
        *ab += (double)a[i] * b[i];
        *aa += (double)a[i] * a[i];
        *bb += (double)b[i] * b[i];
    }
    *aa += COS_EPS;
    *bb += COS_EPS;
}

/* *n: the number of kept rows */
void op_cosine_loss_forward(float *loss, int *n, const float *a, const float *b, const uint8_t *keep,
                            size_t R, int C)
{
    double total = 0;
    int k = 0;
    for (size_t r = 0; r < R; r++) {
        if (keep && !keep[r]) continue;
        double ab, aa, bb;
        cos_parts(a + r * C, b + r * C, C, &ab, &aa, &bb);
        total += 1.0 - ab / sqrt(aa * bb);
        k++;
    }
    *loss = k ? (float)(total / k) : 0.0f;
    *n = k;
}

void op_cosine_loss_backward(float *da, float *db, float dout, const float *a, const float *b,
                             const uint8_t *keep, int n, size_t R, int C)
{
    if (n == 0) return;
    double g = -(double)dout / n;
    for (size_t r = 0; r < R; r++) {
        if (keep && !keep[r]) continue;
        const float *ar = a + r * C, *br = b + r * C;
        double ab, aa, bb;
        cos_parts(ar, br, C, &ab, &aa, &bb);
        double d = sqrt(aa * bb), cs = ab / d;
        for (int i = 0; i < C; i++) {
            if (da) da[r * C + i] += (float)(g * (br[i] / d - cs * ar[i] / aa));
            if (db) db[r * C + i] += (float)(g * (ar[i] / d - cs * br[i] / bb));
        }
    }
}

Tensor *op_cosine_loss(Tape *tp, Tensor *a, Tensor *b, const uint8_t *keep)
{
    char s1[64], s2[64];
    ENGINE_CHECK(tensor_same_shape(a, b), "cosine_loss: %s and %s differ", shp(a, s1), shp(b, s2));
    Tensor *out = tape_tensor(tp, 0, NULL);
    int n;
    op_cosine_loss_forward(out->data, &n, a->data, b->data, keep, tensor_rows(a), tensor_last(a));
    TapeEntry *e = tape_record(tp, OP_COSINE_LOSS, out, a, b, NULL);
    if (e) { e->aux = keep; e->ia[0] = n; }
    return out;
}

/* ======================================================================================
 * sum and mean to a scalar: x (N) -> out (), out = Σ x (or Σ x / N), summed in double
 * dx += dout (or dout / N)
 * ====================================================================================== */
void op_sum_forward(float *out, const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    *out = (float)s;
}

void op_sum_backward(float *dx, float dout, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] += dout;
}

void op_mean_forward(float *out, const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    *out = (float)(s / (double)n);
}

void op_mean_backward(float *dx, float dout, size_t n)
{
    op_sum_backward(dx, dout / (float)n, n);
}

static Tensor *reduce(Tape *tp, Tensor *x, OpType op)
{
    Tensor *out = tape_tensor(tp, 0, NULL);
    if (op == OP_MEAN) op_mean_forward(out->data, x->data, x->size);
    else op_sum_forward(out->data, x->data, x->size);
    tape_record(tp, op, out, x, NULL, NULL);
    return out;
}

Tensor *op_sum(Tape *tp, Tensor *x) { return reduce(tp, x, OP_SUM); }
Tensor *op_mean(Tape *tp, Tensor *x) { return reduce(tp, x, OP_MEAN); }

/* ======================================================================================
 * The backward dispatch: one case per op, called by tape_backward in reverse tape order.
 * Each case only unpacks the entry (inputs, gradients, saved values, integer and float
 * arguments) and calls the op's backward kernel above.
 * ====================================================================================== */
/* Input k's gradient buffer for a backward that writes every element of it. A buffer made
 * now is taken from the arena without zero-filling, and *store tells the op to write its
 * gradient instead of adding it (the first writer overwrites): zero-filling every
 * activation's gradient cost about a twentieth of a step. Same values: 0 + g is g (only the
 * sign of an exact zero can differ). An input that appears twice in the entry is zeroed as
 * usual, since both of its gradients add into the one buffer. */
static float *grad_for_store(Tape *tp, TapeEntry *e, int k, bool *store)
{
    Tensor *t = e->in[k];
    *store = false;
    if (!t || !t->requires_grad) return NULL;
    for (int o = 0; o < 3; o++)
        if (o != k && e->in[o] == t) return tape_grad(tp, t);
    if (!t->grad) {
        t->grad = arena_alloc(&tp->arena, t->size * sizeof(float));
        *store = true;
    }
    return t->grad;
}

void op_backward_entry(Tape *tp, TapeEntry *e)
{
    Tensor *out = e->out, *a = e->in[0], *b = e->in[1], *c = e->in[2];
    const float *dout = out->grad;
    /* the ops whose backward writes the whole of an input's gradient: see grad_for_store */
    bool st[3] = {false, false, false};
    switch (e->op) {
    case OP_ADD:
    case OP_LINEAR:
    case OP_RESHAPE:
    case OP_LAYERNORM:
    case OP_GELU_ERF:
    case OP_GELU_TANH:
    case OP_CROSS_ENTROPY:
        grad_for_store(tp, e, 0, &st[0]);
        if (e->op == OP_ADD && b->size == a->size) grad_for_store(tp, e, 1, &st[1]);
        break;
    case OP_ATTENTION:
        for (int k = 0; k < 3; k++) grad_for_store(tp, e, k, &st[k]);
        break;
    default:
        break;
    }
    float *da = tape_grad(tp, a), *db = b ? tape_grad(tp, b) : NULL, *dc = c ? tape_grad(tp, c) : NULL;
    switch (e->op) {
    case OP_ADD:
        if (st[0]) { memcpy(da, dout, a->size * sizeof(float)); da = NULL; }
        if (st[1]) { memcpy(db, dout, b->size * sizeof(float)); db = NULL; }
        op_add_backward(da, db, dout, a->size, b->size);
        break;
    case OP_MUL:
        op_mul_backward(da, db, dout, a->data, b->data, a->size, b->size);
        break;
    case OP_SCALE:
        op_scale_backward(da, dout, e->fa[0], a->size);
        break;
    case OP_MATMUL: {
        MatmulDims d = {e->ia[0], e->ia[1], e->ia[2], e->ia[3], e->ia[4], e->ia[5], e->ia[6]};
        op_matmul_backward(da, db, dout, a->data, b->data, d);
        break;
    }
    case OP_LINEAR: {
        bool conv1d = e->ia[0];
        linear_backward(da, st[0], db, dc, dout, a->data, b->data, (int)tensor_rows(a), tensor_last(a),
                        b->shape[conv1d ? 1 : 0], conv1d);
        break;
    }
    case OP_RESHAPE:
        if (st[0]) memcpy(da, dout, a->size * sizeof(float));
        else op_reshape_backward(da, dout, a->size);
        break;
    case OP_TRANSPOSE12:
        op_transpose12_backward(da, dout, a->shape[0], a->shape[1], a->shape[2], a->shape[3]);
        break;
    case OP_SLICE_LAST:
        op_slice_last_backward(da, dout, tensor_rows(a), tensor_last(a), e->ia[0], e->ia[1]);
        break;
    case OP_GATHER_ROWS:
        op_gather_rows_backward(da, dout, e->aux, e->ia[0], tensor_last(a));
        break;
    case OP_EMBEDDING:
        op_embedding_backward(da, dout, e->aux, e->ia[0], out->size / (size_t)a->shape[1], a->shape[1]);
        break;
    case OP_LAYERNORM: {
        size_t rows = tensor_rows(a);
        layernorm_backward(da, st[0], db, dc, dout, a->data, b->data, e->saved, e->saved + rows, rows,
                           tensor_last(a));
        break;
    }
    case OP_GELU_ERF: {
        size_t n = a->size;
        FOR_CHUNKS(n, gelu_erf_bw(da + lo, dout + lo, a->data + lo, e->saved ? e->saved + lo : NULL, len, st[0]));
        break;
    }
    case OP_GELU_TANH: {
        size_t n = a->size;
        FOR_CHUNKS(n, gelu_tanh_bw(da + lo, dout + lo, a->data + lo, len, st[0]));
        break;
    }
    case OP_TANH:
        op_tanh_backward(da, dout, out->data, a->size);
        break;
    case OP_SOFTMAX:
    case OP_MASKED_SOFTMAX:
        op_softmax_backward(da, dout, out->data, tensor_rows(a), tensor_last(a));
        break;
    case OP_ATTENTION: {
        int B = a->shape[0], T = a->shape[1], NH = e->ia[0];
        int HS = a->shape[2] / NH;
        float *scratch = arena_alloc(&tp->arena, (size_t)B * NH * ((size_t)T * T + (size_t)T * HS) *
                                                     sizeof(float));
        attention_backward(da, db, dc, st, scratch, dout, e->saved, a->data, b->data, c->data, B, NH, T, HS);
        break;
    }
    case OP_CROSS_ENTROPY:
        cross_entropy_backward(da, st[0], dout[0], e->saved, e->aux, e->ia[0], tensor_rows(a), tensor_last(a));
        break;
    case OP_BCE_LOGITS:
        op_bce_logits_backward(da, dout[0], a->data, e->aux, e->aux2, e->ia[0], a->size);
        break;
    case OP_KL_DIV:
        op_kl_div_backward(da, db, dout[0], a->data, b->data, e->saved, e->aux, e->fa[0], e->ia[0],
                           tensor_rows(a), tensor_last(a));
        break;
    case OP_COSINE_LOSS:
        op_cosine_loss_backward(da, db, dout[0], a->data, b->data, e->aux, e->ia[0], tensor_rows(a),
                                tensor_last(a));
        break;
    case OP_SUM:
        op_sum_backward(da, dout[0], a->size);
        break;
    case OP_MEAN:
        op_mean_backward(da, dout[0], a->size);
        break;
    case OP_COUNT:
        ENGINE_CHECK(false, "OP_COUNT is not an op");
    }
}
