/* bench_matmul.c — GFLOPS of fmlab's gemm against OpenBLAS's sgemm, in the same run, on the
 * shapes the lessons multiply (activations × weights, forward and backward), single-threaded
 * and with every thread. Prints one line per shape with the ratio fmlab / OpenBLAS.
 * Run: meson test -C build --benchmark matmul (or the binary itself, which takes a target).
 *
 * OpenBLAS picks its kernel from CPUID; on some virtual machines it falls back to an old SSE3
 * one ("Prescott") although the processor has AVX-512. A peer running below its best proves
 * nothing, so when that happens the benchmark runs itself again with OPENBLAS_CORETYPE set to
 * the processor's family (SkylakeX for AVX-512, Haswell for AVX2), checks that OpenBLAS's
 * results still agree with fmlab's, and compares against that. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine/engine.h"

void openblas_set_num_threads(int);
char *openblas_get_corename(void);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct Shape { int M, K, N; bool tb; const char *what; } Shape;

/* Median of `reps` timings, each long enough (≥ 20 ms) to be measured well. */
static double time_gflops(const Shape *s, const float *A, const float *B, float *C, bool blas)
{
    double flops = 2.0 * s->M * s->N * s->K;
    int inner = 1;
    for (;;) {
        double t0 = now();
        for (int i = 0; i < inner; i++) {
            if (blas)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->M, s->N, s->K,
                            1.0f, A, s->K, B, s->tb ? s->K : s->N, 0.0f, C, s->N);
            else
                gemm(s->M, s->N, s->K, A, s->K, false, B, s->tb ? s->K : s->N, s->tb, C, s->N, false);
        }
        if (now() - t0 > 0.02) break;
        inner *= 2;
    }
    enum { REPS = 7 };
    double best[REPS];
    for (int r = 0; r < REPS; r++) {
        double t0 = now();
        for (int i = 0; i < inner; i++) {
            if (blas)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->M, s->N, s->K,
                            1.0f, A, s->K, B, s->tb ? s->K : s->N, 0.0f, C, s->N);
            else
                gemm(s->M, s->N, s->K, A, s->K, false, B, s->tb ? s->K : s->N, s->tb, C, s->N, false);
        }
        best[r] = (now() - t0) / inner;
    }
    for (int i = 0; i < REPS; i++)
        for (int j = i + 1; j < REPS; j++)
            if (best[j] < best[i]) { double t = best[i]; best[i] = best[j]; best[j] = t; }
    return flops / best[REPS / 2] * 1e-9;
}

/* The OpenBLAS kernel family that fits this processor, or NULL when it already uses one. */
static const char *better_coretype(void)
{
    const char *core = openblas_get_corename();
    const char *want = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                       : __builtin_cpu_supports("avx2") ? "Haswell" : NULL;
    if (!want || strcasecmp(core, want) == 0 || strcasecmp(core, "cooperlake") == 0 ||
        strcasecmp(core, "sapphirerapids") == 0)
        return NULL;
    return want;
}

int main(int argc, char **argv)
{
    double target = argc > 1 ? atof(argv[1]) : 0.5;
    const char *better = getenv("OPENBLAS_CORETYPE") ? NULL : better_coretype();
    if (better) {
        printf("OpenBLAS chose its %s kernel on a processor with %s: running again with "
               "OPENBLAS_CORETYPE=%s\n", openblas_get_corename(),
               __builtin_cpu_supports("avx512f") ? "AVX-512" : "AVX2", better);
        fflush(stdout);
        setenv("OPENBLAS_CORETYPE", better, 1);
        execv("/proc/self/exe", argv);
        perror("execv");
        return 1;
    }
    static const Shape shapes[] = {
        {1024, 64, 256, false, "x·W  (B·T=1024, C=64 -> 4C)"},
        {1024, 256, 64, false, "h·W2 (4C=256 -> C)"},
        {1024, 64, 2000, false, "logits (C -> V=2000)"},
        {512, 512, 512, false, "square 512"},
        {1024, 64, 2000, true, "logits, tied Wᵀ (nn.Linear layout)"},
    };
    int nthreads_all = engine_threads();
    printf("fmlab gemm (%s kernel) vs%s sgemm (%s kernel), GFLOPS (median of 7)\n", engine_kernel_name(),
           OPENBLAS_VERSION, openblas_get_corename());
    int fails = 0;
    for (int pass = 0; pass < 2; pass++) {
        int th = pass == 0 ? 1 : nthreads_all;
        engine_set_threads(th);
        openblas_set_num_threads(th);
        printf("\n%d thread%s\n%-40s %10s %10s %8s\n", th, th == 1 ? "" : "s", "shape M×K·K×N", "fmlab", "OpenBLAS",
               "ratio");
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            const Shape *s = &shapes[i];
            float *A = malloc((size_t)s->M * s->K * 4), *B = malloc((size_t)s->K * s->N * 4),
                  *C = malloc((size_t)s->M * s->N * 4);
            Rng r;
            rng_seed(&r, 1, 0);
            for (size_t j = 0; j < (size_t)s->M * s->K; j++) A[j] = rng_uniform(&r) - 0.5f;
            for (size_t j = 0; j < (size_t)s->K * s->N; j++) B[j] = rng_uniform(&r) - 0.5f;
            double ours = time_gflops(s, A, B, C, false);
            float *C2 = malloc((size_t)s->M * s->N * 4);
            memcpy(C2, C, (size_t)s->M * s->N * 4);
            double blas = time_gflops(s, A, B, C, true);
            double maxdiff = 0;
            for (size_t j = 0; j < (size_t)s->M * s->N; j++) maxdiff = fmax(maxdiff, fabs(C[j] - C2[j]));
            free(C2);
            if (maxdiff > 1e-3) {
                printf("%dx%dx%d: OpenBLAS and fmlab differ by %g: results are wrong\n", s->M, s->K, s->N, maxdiff);
                return 1;
            }
            double ratio = ours / blas;
            char label[64];
            snprintf(label, sizeof label, "%d×%d·%d×%d%s", s->M, s->K, s->K, s->N, s->tb ? "ᵀ" : "");
            printf("%-40s %10.1f %10.1f %7.2f×  %s%s\n", label, ours, blas, ratio, s->what,
                   pass == 0 && ratio < target ? "  BELOW TARGET" : "");
            if (pass == 0 && ratio < target) fails++;
            free(A);
            free(B);
            free(C);
        }
    }
    printf("\nsingle-threaded target: at least %.2f× OpenBLAS on every shape: %s\n", target,
           fails ? "MISSED" : "met");
    return fails ? 1 : 0;
}
