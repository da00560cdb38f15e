/* gemm.c — blocked, packed matrix multiply with run-time kernel choice.
 *
 * Loop order (BLIS): for each NC-wide block of columns of C, for each KC-deep slice of K,
 * pack that slice of op(B) into NR-wide panels; then, in parallel over MC-tall blocks of rows,
 * pack the block of op(A) into MR-tall panels and run the MR×NR micro-kernel on every pair of
 * panels. The micro-kernel keeps an MR×NR tile of C in registers for the whole KC loop.
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

typedef void (*KernelFn)(int kc, const float *pa, const float *pb, float *c, int ldc,
                         int mr, int nr, bool add);

typedef struct {
    const char *name;
    int mr, nr;
    KernelFn fn;
} Kernel;

/* Writes the MR×NR tile `acc` (row stride NR) into C, only its mr×nr valid corner. */
static inline void tile_store(const float *acc, int NR, float *c, int ldc, int mr, int nr, bool add)
{
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++)
            c[(size_t)r * ldc + j] = add ? c[(size_t)r * ldc + j] + acc[r * NR + j] : acc[r * NR + j];
}

/* Plain C kernel, 4×8: the fallback on any processor. */
static void kernel_generic(int kc, const float *pa, const float *pb, float *c, int ldc,
                           int mr, int nr, bool add)
{
    float acc[4 * 8] = {0};
    for (int p = 0; p < kc; p++) {
        for (int r = 0; r < 4; r++) {
            float a = pa[p * 4 + r];
            for (int j = 0; j < 8; j++) acc[r * 8 + j] += a * pb[p * 8 + j];
        }
    }
    tile_store(acc, 8, c, ldc, mr, nr, add);
}

#ifdef GEMM_X86
/* AVX2 + FMA kernel, 6×16: 12 accumulators, 2 loads of B, 1 broadcast of A = 15 registers. */
__attribute__((target("avx2,fma")))
static void kernel_avx2(int kc, const float *pa, const float *pb, float *c, int ldc,
                        int mr, int nr, bool add)
{
    __m256 acc[6][2];
    for (int r = 0; r < 6; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int p = 0; p < kc; p++) {
        __m256 b0 = _mm256_loadu_ps(pb), b1 = _mm256_loadu_ps(pb + 8);
#pragma GCC unroll 6
        for (int r = 0; r < 6; r++) {
            __m256 a = _mm256_broadcast_ss(pa + r);
            acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
        }
        pa += 6;
        pb += 16;
    }
    if (mr == 6 && nr == 16) {
        for (int r = 0; r < 6; r++) {
            float *cr = c + (size_t)r * ldc;
            __m256 c0 = acc[r][0], c1 = acc[r][1];
            if (add) {
                c0 = _mm256_add_ps(_mm256_loadu_ps(cr), c0);
                c1 = _mm256_add_ps(_mm256_loadu_ps(cr + 8), c1);
            }
            _mm256_storeu_ps(cr, c0);
            _mm256_storeu_ps(cr + 8, c1);
        }
    } else {
        float tmp[6 * 16];
        for (int r = 0; r < 6; r++) {
            _mm256_storeu_ps(tmp + r * 16, acc[r][0]);
            _mm256_storeu_ps(tmp + r * 16 + 8, acc[r][1]);
        }
        tile_store(tmp, 16, c, ldc, mr, nr, add);
    }
}

/* AVX-512 kernel, 12×32: 24 accumulators, 2 loads of B, 1 broadcast of A = 27 registers. */
__attribute__((target("avx512f")))
static void kernel_avx512(int kc, const float *pa, const float *pb, float *c, int ldc,
                          int mr, int nr, bool add)
{
    __m512 acc[12][2];
    for (int r = 0; r < 12; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int p = 0; p < kc; p++) {
        __m512 b0 = _mm512_loadu_ps(pb), b1 = _mm512_loadu_ps(pb + 16);
#pragma GCC unroll 12
        for (int r = 0; r < 12; r++) {
            __m512 a = _mm512_set1_ps(pa[r]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
        pa += 12;
        pb += 32;
    }
    if (mr == 12 && nr == 32) {
        for (int r = 0; r < 12; r++) {
            float *cr = c + (size_t)r * ldc;
            __m512 c0 = acc[r][0], c1 = acc[r][1];
            if (add) {
                c0 = _mm512_add_ps(_mm512_loadu_ps(cr), c0);
                c1 = _mm512_add_ps(_mm512_loadu_ps(cr + 16), c1);
            }
            _mm512_storeu_ps(cr, c0);
            _mm512_storeu_ps(cr + 16, c1);
        }
    } else {
        float tmp[12 * 32];
        for (int r = 0; r < 12; r++) {
            _mm512_storeu_ps(tmp + r * 32, acc[r][0]);
            _mm512_storeu_ps(tmp + r * 32 + 16, acc[r][1]);
        }
        tile_store(tmp, 32, c, ldc, mr, nr, add);
    }
}
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
    for (int jr = 0; jr < nc; jr += NR) {
        int nr = nc - jr < NR ? nc - jr : NR;
        for (int p = 0; p < kc; p++) {
            float *d = dst + (size_t)p * NR;
            if (!tb) {
                const float *s = B + (size_t)(p0 + p) * ldb + j0 + jr;
                memcpy(d, s, (size_t)nr * sizeof(float));
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

void gemm(int M, int N, int K,
          const float *A, int lda, bool ta,
          const float *B, int ldb, bool tb,
          float *C, int ldc, bool accumulate)
{
    ENGINE_CHECK(M >= 0 && N >= 0 && K >= 0, "gemm: negative size %d×%d×%d", M, N, K);
    if (M == 0 || N == 0) return;
    if (K == 0) {
        if (!accumulate)
            for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof(float));
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
        for (int p0 = 0; p0 < K; p0 += KC) {
            int kc = K - p0 < KC ? K - p0 : KC;
            bool add = accumulate || p0 > 0;
            pack_b(pb, B, ldb, tb, p0, kc, j0, nc, NR);
#ifdef FMLAB_OPENMP
#pragma omp parallel for schedule(static) if (mblocks > 1 && flops > 2e5)
#endif
            for (int ib = 0; ib < mblocks; ib++) {
                int i0 = ib * MC;
                int mc = M - i0 < MC ? M - i0 : MC;
                float *pa = pack_a_buf;
                pack_a(pa, A, lda, ta, i0, mc, p0, kc, MR);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    const float *pbj = pb + (size_t)(jr / NR) * NR * kc;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = mc - ir < MR ? mc - ir : MR;
                        k->fn(kc, pa + (size_t)(ir / MR) * MR * kc, pbj,
                              C + (size_t)(i0 + ir) * ldc + j0 + jr, ldc, mr, nr, add);
                    }
                }
            }
        }
    }
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
