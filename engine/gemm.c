/* gemm.c — blocked, packed matrix multiply with run-time kernel choice.
 *
 * Loop order (BLIS): for each NC-wide block of columns of C, for each KC-deep slice of K,
 * pack that slice of op(B) into NR-wide panels (an untransposed B of a narrow product is
 * read in place); then, in parallel over MC-tall blocks of rows (and column panels, for a
 * narrow N), run the MR×NR micro-kernel on every pair of panels, with the block of op(A)
 * packed into MR-tall panels when a wide N reuses it, read in place otherwise. The
 * micro-kernel keeps an MR×NR tile of C in registers for the whole KC loop.
 * Pack buffers are per thread (thread-local), so nothing is allocated per call. */
#include "gemm.h"

#include <stdlib.h>
#include <string.h>
#include <threads.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GEMM_X86 1
#endif
#ifdef FMLAB_OPENMP
#include <omp.h>
#endif

enum { MC = 96, KC = 256, NC = 1024, MR_MAX = 12 };

/* The micro-kernel multiplies an MR-tall panel of op(A) by an NR-wide panel of op(B), whose
 * row p is NR floats at pb + p·bs: packed (bs = NR), or, for an untransposed B, read in
 * place (bs = ldb), which saves copying the activations a weight gradient is summed over.
 * The A panel is read where it lies: element (r, p) at a[r·rs + p·ps], with (rs, ps) =
 * (1, MR) for a packed panel, (1, lda) for a transposed A (its rows are op(A)'s columns:
 * the panel is already MR floats side by side per p) and (lda, 1) for a plain row-major A.
 * Reading A in place saves the pass that would copy it: with the lessons' narrow products
 * (N = 64: two NR panels) that copy cost as much as the multiply. Where the tile is stored,
 * bias (NULL: none) is added to each row, so a linear layer's bias needs no pass of its own;
 * the sum is acc + bias (or C + acc), the same float operations as writing the bias first
 * and accumulating onto it. */
typedef void (*KernelFn)(int kc, const float *a, size_t rs, size_t ps, const float *pb, size_t bs, float *c,
                         int ldc, int mr, int nr, bool add, const float *bias);

typedef struct {
    const char *name;
    int mr, nr;
    KernelFn fn;
} Kernel;

/* Writes the MR×NR tile `acc` (row stride NR) into C, only its mr×nr valid corner. */
static inline void tile_store(const float *acc, int NR, float *c, int ldc, int mr, int nr, bool add,
                              const float *bias)
{
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++) {
            float *cj = c + (size_t)r * ldc + j;
            *cj = add ? *cj + acc[r * NR + j] : bias ? bias[j] + acc[r * NR + j] : acc[r * NR + j];
        }
}

/* Plain C kernel, 4×8: the fallback on any processor. */
static void kernel_generic(int kc, const float *a, size_t rs, size_t ps, const float *pb, size_t bs, float *c,
                           int ldc, int mr, int nr, bool add, const float *bias)
{
    float acc[4 * 8] = {0};
    for (int p = 0; p < kc; p++) {
        for (int r = 0; r < 4; r++) {
            float av = a[r * rs + p * ps];
            for (int j = 0; j < 8; j++) acc[r * 8 + j] += av * pb[p * bs + j];
        }
    }
    tile_store(acc, 8, c, ldc, mr, nr, add, bias);
}

#ifdef GEMM_X86
/* The x86 kernels are written once as a body over the vector type, inlined into one
 * function per layout of A (panel: rs = 1, so the MR values of a step p are side by side;
 * rows: ps = 1, each row read along p), so that the inner loop's addressing is fixed at
 * compile time. */
#define DEFINE_KERNEL(NAME, TARGET, VEC, W, MR_, LOAD, STORE, ADD, FMA, SET1, ZERO)                    \
    __attribute__((target(TARGET), always_inline)) static inline void NAME##_body(                  \
        int kc, const float *a, size_t rs, size_t ps, const float *pb, size_t bs, float *c, int ldc, int mr, \
        int nr, bool add, const float *bias)                                                         \
    {                                                                                                \
        VEC acc[MR_][2];                                                                             \
        for (int r = 0; r < MR_; r++) acc[r][0] = acc[r][1] = ZERO();                                \
        for (int p = 0; p < kc; p++) {                                                               \
            VEC b0 = LOAD(pb), b1 = LOAD(pb + W);                                                    \
            _Pragma("GCC unroll 12") for (int r = 0; r < MR_; r++)                                   \
            {                                                                                        \
                VEC av = SET1(a[r * rs]);                                                            \
                acc[r][0] = FMA(av, b0, acc[r][0]);                                                  \
                acc[r][1] = FMA(av, b1, acc[r][1]);                                                  \
            }                                                                                        \
            a += ps;                                                                                 \
            pb += bs;                                                                                \
        }                                                                                            \
        if (mr == MR_ && nr == 2 * W) {                                                              \
            VEC bias0 = ZERO(), bias1 = ZERO();                                                      \
            if (bias && !add) { bias0 = LOAD(bias); bias1 = LOAD(bias + W); }                        \
            for (int r = 0; r < MR_; r++) {                                                          \
                float *cr = c + (size_t)r * ldc;                                                     \
                VEC c0 = acc[r][0], c1 = acc[r][1];                                                  \
                if (add) {                                                                           \
                    c0 = ADD(LOAD(cr), c0);                                                          \
                    c1 = ADD(LOAD(cr + W), c1);                                                      \
                } else if (bias) {                                                                   \
                    c0 = ADD(bias0, c0);                                                             \
                    c1 = ADD(bias1, c1);                                                             \
                }                                                                                    \
                STORE(cr, c0);                                                                       \
                STORE(cr + W, c1);                                                                   \
            }                                                                                        \
        } else {                                                                                     \
            float tmp[MR_ * 2 * W];                                                                  \
            for (int r = 0; r < MR_; r++) {                                                          \
                STORE(tmp + r * 2 * W, acc[r][0]);                                                   \
                STORE(tmp + r * 2 * W + W, acc[r][1]);                                               \
            }                                                                                        \
            tile_store(tmp, 2 * W, c, ldc, mr, nr, add, bias);                                       \
        }                                                                                            \
    }                                                                                                \
    __attribute__((target(TARGET))) static void NAME(int kc, const float *a, size_t rs, size_t ps,   \
                                                      const float *pb, size_t bs, float *c, int ldc, \
                                                      int mr, int nr, bool add, const float *bias)   \
    {                                                                                                \
        if (rs == 1) NAME##_body(kc, a, 1, ps, pb, bs, c, ldc, mr, nr, add, bias);                   \
        else NAME##_body(kc, a, rs, 1, pb, bs, c, ldc, mr, nr, add, bias);                           \
    }

/* AVX2 + FMA kernel, 6×16: 12 accumulators, 2 loads of B, 1 broadcast of A = 15 registers. */
DEFINE_KERNEL(kernel_avx2, "avx2,fma", __m256, 8, 6, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_add_ps,
              _mm256_fmadd_ps, _mm256_set1_ps, _mm256_setzero_ps)
/* AVX-512 kernel, 12×32: 24 accumulators, 2 loads of B, 1 broadcast of A = 27 registers. */
DEFINE_KERNEL(kernel_avx512, "avx512f", __m512, 16, 12, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_add_ps,
              _mm512_fmadd_ps, _mm512_set1_ps, _mm512_setzero_ps)
#endif

static const Kernel kernels[] = {
#ifdef GEMM_X86
    {"avx512", 12, 32, kernel_avx512},
    {"avx2", 6, 16, kernel_avx2},
#endif
    {"generic", 4, 8, kernel_generic},
};
static const Kernel *active;

static bool kernel_supported(const Kernel *k)
{
#ifdef GEMM_X86
    if (k->fn == kernel_avx512) return __builtin_cpu_supports("avx512f");
    if (k->fn == kernel_avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return k->fn == kernel_generic;
}

const char *gemm_select_kernel(const char *name)
{
    active = NULL;
    size_t n = sizeof kernels / sizeof kernels[0];
    for (size_t i = 0; i < n && name; i++)
        if (strcmp(kernels[i].name, name) == 0 && kernel_supported(&kernels[i])) active = &kernels[i];
    for (size_t i = 0; i < n && !active; i++)
        if (kernel_supported(&kernels[i])) active = &kernels[i];
    return active->name;
}

/* Chosen once at start-up, before any thread can call gemm. */
__attribute__((constructor)) static void gemm_init(void) { gemm_select_kernel(NULL); }

const char *engine_kernel_name(void) { return active->name; }

/* op(A)[i][p] and op(B)[p][j] */
static inline float at_a(const float *A, int lda, bool ta, int i, int p)
{
    return ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
}

/* Packs rows i0..i0+mc, depth p0..p0+kc of op(A) into MR-tall panels, zero-padding the last.
 * Reads run along A's stored rows in both layouts. */
static void pack_a(float *restrict dst, const float *A, int lda, bool ta, int i0, int mc, int p0, int kc, int MR)
{
    for (int ir = 0; ir < mc; ir += MR) {
        int mr = mc - ir < MR ? mc - ir : MR;
        if (ta) {
            for (int p = 0; p < kc; p++) {
                const float *src = A + (size_t)(p0 + p) * lda + i0 + ir;
                for (int r = 0; r < mr; r++) dst[p * MR + r] = src[r];
                for (int r = mr; r < MR; r++) dst[p * MR + r] = 0.0f;
            }
        } else if (mr == MR) {
            /* MR rows side by side: each step of p gathers one column of the MR rows */
            const float *rows[MR_MAX];
            for (int r = 0; r < MR; r++) rows[r] = A + (size_t)(i0 + ir + r) * lda + p0;
            for (int p = 0; p < kc; p++)
                for (int r = 0; r < MR; r++) dst[p * MR + r] = rows[r][p];
        } else {
            for (int r = 0; r < MR; r++) {
                if (r >= mr) {
                    for (int p = 0; p < kc; p++) dst[p * MR + r] = 0.0f;
                    continue;
                }
                const float *src = A + (size_t)(i0 + ir + r) * lda + p0;
                for (int p = 0; p < kc; p++) dst[p * MR + r] = src[p];
            }
        }
        dst += (size_t)MR * kc;
    }
}

/* Packs depth p0..p0+kc, columns j0..j0+nc of op(B) into NR-wide panels. */
static void pack_b(float *dst, const float *B, int ldb, bool tb, int p0, int kc, int j0, int nc, int NR)
{
    if (!tb && nc % NR == 0) {
        /* whole panels of a row-major B: each stored row is read once, front to back, and
         * dealt out to the panels (walking the panels first read every row nc/NR times,
         * 128 bytes at a time) */
        size_t panel = (size_t)NR * kc;
        for (int p = 0; p < kc; p++) {
            const float *s = B + (size_t)(p0 + p) * ldb + j0;
            float *d = dst + (size_t)p * NR;
            for (int jr = 0; jr < nc; jr += NR, d += panel, s += NR) {
                if (NR == 32) memcpy(d, s, 32 * sizeof(float));
                else if (NR == 16) memcpy(d, s, 16 * sizeof(float));
                else memcpy(d, s, (size_t)NR * sizeof(float));
            }
        }
        return;
    }
    for (int jr = 0; jr < nc; jr += NR) {
        int nr = nc - jr < NR ? nc - jr : NR;
        for (int p = 0; p < kc; p++) {
            float *d = dst + (size_t)p * NR;
            if (!tb) {
                const float *s = B + (size_t)(p0 + p) * ldb + j0 + jr;
                /* a whole panel row is a copy of known size, which the compiler inlines as a
                 * few vector moves (a call to memcpy per 128 bytes cost more than the copy) */
                if (nr == 32 && NR == 32) memcpy(d, s, 32 * sizeof(float));
                else if (nr == 16 && NR == 16) memcpy(d, s, 16 * sizeof(float));
                else memcpy(d, s, (size_t)nr * sizeof(float));
            }
            for (int j = nr; j < NR; j++) d[j] = 0.0f;
        }
        if (tb) /* B stored (N,K): walk each stored row once */
            for (int j = 0; j < nr; j++) {
                const float *src = B + (size_t)(j0 + jr + j) * ldb + p0;
                for (int p = 0; p < kc; p++) dst[(size_t)p * NR + j] = src[p];
            }
        dst += (size_t)NR * kc;
    }
}

/* A blocks are small (MC·KC floats, 96 KiB) and live in thread-local storage; the B block
 * (KC·NC floats, 1 MiB) is one heap buffer per calling thread, freed when the thread ends. */
static _Thread_local float pack_a_buf[MC * KC] __attribute__((aligned(64)));
static tss_t pack_b_key;
static once_flag pack_b_once = ONCE_FLAG_INIT;
static void pack_b_key_init(void) { ENGINE_CHECK(tss_create(&pack_b_key, free) == thrd_success, "tss_create"); }

static float *pack_b_buffer(void)
{
    call_once(&pack_b_once, pack_b_key_init);
    float *p = tss_get(pack_b_key);
    if (!p) {
        p = aligned_alloc(64, (size_t)KC * NC * sizeof(float));
        ENGINE_CHECK(p, "out of memory for gemm's pack buffer");
        tss_set(pack_b_key, p);
    }
    return p;
}

/* Whether to copy a block of A into panels before multiplying, or read it in place. Packing
 * pays when a panel of A is reused across many panels of B (wide N): the copy is made once
 * and every reuse then streams contiguous memory. For the lessons' usual N (64 or 256, two to
 * eight panels) the copy costs more than it saves. Either way the products and their order
 * are the same, so the choice never changes a bit of the result. */
enum { PACK_A_MIN_PANELS = 16, DIRECT_B_MAX_N = 256 };
static int pack_a_min_panels = PACK_A_MIN_PANELS;

void gemm_set_pack_a_threshold(int panels) { pack_a_min_panels = panels < 0 ? PACK_A_MIN_PANELS : panels; }

static void gemm_run(int M, int N, int K,
                     const float *A, int lda, bool ta,
                     const float *B, int ldb, bool tb,
                     const float *bias, float *C, int ldc, bool accumulate)
{
    ENGINE_CHECK(M >= 0 && N >= 0 && K >= 0, "gemm: negative size %d×%d×%d", M, N, K);
    if (M == 0 || N == 0) return;
    if (K == 0) {
        if (!accumulate)
            for (int i = 0; i < M; i++) {
                float *ci = C + (size_t)i * ldc;
                if (bias) memcpy(ci, bias, (size_t)N * sizeof(float));
                else memset(ci, 0, (size_t)N * sizeof(float));
            }
        return;
    }
    const Kernel *k = active;
    const int MR = k->mr, NR = k->nr;
    float *pb = pack_b_buffer();
    int mblocks = (M + MC - 1) / MC;
    double flops = 2.0 * M * N * K;
    (void)flops;
    for (int j0 = 0; j0 < N; j0 += NC) {
        int nc = N - j0 < NC ? N - j0 : NC;
        bool pack_all = (nc + NR - 1) / NR >= pack_a_min_panels;
        for (int p0 = 0; p0 < K; p0 += KC) {
            int kc = K - p0 < KC ? K - p0 : KC;
            bool add = accumulate || p0 > 0;
            const float *bias_j = add ? NULL : bias ? bias + j0 : NULL;
            /* an untransposed B's full panels are read in place when N is narrow (a weight
             * gradient's B: the activations it sums over, read once); a wide B is packed,
             * since every row panel of A rereads it and a packed panel is contiguous */
            int direct_n = tb || nc > DIRECT_B_MAX_N ? 0 : nc / NR * NR;
            if (direct_n < nc) pack_b(pb, B, ldb, tb, p0, kc, j0 + direct_n, nc - direct_n, NR);
            /* Work items for the threads: blocks of rows, and for a narrow N each column panel
             * on its own too (a weight gradient has M = 64 rows: one block, which one thread
             * alone would compute). Every tile is computed by one item, whole, so the split
             * never changes a sum. */
            int groups = pack_all ? 1 : (nc + NR - 1) / NR;
#ifdef FMLAB_OPENMP
#pragma omp parallel for schedule(static) if (mblocks * groups > 1 && flops > 2e5)
#endif
            for (int item = 0; item < mblocks * groups; item++) {
                int ib = item / groups, g = item % groups;
                int i0 = ib * MC;
                int mc = M - i0 < MC ? M - i0 : MC;
                int full = pack_all ? 0 : mc / MR * MR; /* rows read in place; the rest packed */
                float *pa = pack_a_buf;
                if (full < mc) pack_a(pa, A, lda, ta, i0 + full, mc - full, p0, kc, MR);
                int jfirst = pack_all ? 0 : g * NR, jend = pack_all ? nc : jfirst + NR < nc ? jfirst + NR : nc;
                int ntile_j = (jend - jfirst + NR - 1) / NR, ntile_i = (mc + MR - 1) / MR;
                for (int t = 0; t < ntile_j * ntile_i; t++) {
                    int jr = jfirst + (pack_all ? t % ntile_j : t / ntile_i) * NR;
                    int ir = (pack_all ? t / ntile_j : t % ntile_i) * MR;
                    int nr = nc - jr < NR ? nc - jr : NR;
                    int mr = mc - ir < MR ? mc - ir : MR;
                    bool bd = jr < direct_n;
                    const float *pbj = bd ? B + (size_t)p0 * ldb + j0 + jr : pb + (size_t)((jr - direct_n) / NR) * NR * kc;
                    size_t bs = bd ? (size_t)ldb : (size_t)NR;
                    const float *bj = bias_j ? bias_j + jr : NULL;
                    float *cij = C + (size_t)(i0 + ir) * ldc + j0 + jr;
                    if (ir >= full)
                        k->fn(kc, pa + (size_t)((ir - full) / MR) * MR * kc, 1, (size_t)MR, pbj, bs, cij, ldc,
                              mr, nr, add, bj);
                    else if (ta)
                        k->fn(kc, A + (size_t)p0 * lda + i0 + ir, 1, (size_t)lda, pbj, bs, cij, ldc, mr, nr, add, bj);
                    else
                        k->fn(kc, A + (size_t)(i0 + ir) * lda + p0, (size_t)lda, 1, pbj, bs, cij, ldc, mr, nr, add, bj);
                }
            }
        }
    }
}

void gemm(int M, int N, int K,
          const float *A, int lda, bool ta,
          const float *B, int ldb, bool tb,
          float *C, int ldc, bool accumulate)
{
    gemm_run(M, N, K, A, lda, ta, B, ldb, tb, NULL, C, ldc, accumulate);
}

void gemm_bias(int M, int N, int K,
               const float *A, int lda, bool ta,
               const float *B, int ldb, bool tb,
               const float *bias, float *C, int ldc)
{
    gemm_run(M, N, K, A, lda, ta, B, ldb, tb, bias, C, ldc, false);
}

void gemm_reference(int M, int N, int K,
                    const float *A, int lda, bool ta,
                    const float *B, int ldb, bool tb,
                    float *C, int ldc, bool accumulate)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = accumulate ? C[(size_t)i * ldc + j] : 0.0;
            for (int p = 0; p < K; p++)
                s += (double)at_a(A, lda, ta, i, p) * (tb ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j]);
            C[(size_t)i * ldc + j] = (float)s;
        }
}
