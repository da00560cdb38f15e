/* gemm.h — the one matrix multiply every heavy op goes through.
 *
 *   C (M,N) = op(A) (M,K) · op(B) (K,N)        (+ C when accumulate)
 *
 * op(A) is A, stored row-major with leading dimension lda, or its transpose when ta (A then
 * stored (K,M)); likewise B with tb. Blocked and packed like BLIS/GotoBLAS: panels of B are
 * copied into contiguous buffers (and of A, when wide N reuses them), and a small register-tiled kernel (AVX-512, AVX2+FMA or
 * plain C, picked once at run time) multiplies them. Threads split C into fixed blocks of
 * rows (and, for narrow products, of columns), each computed whole by one thread, so every
 * element is summed in the same order whatever the thread count: results are bit-identical
 * for 1 and N threads. */
#ifndef FMLAB_ENGINE_GEMM_H
#define FMLAB_ENGINE_GEMM_H

#include "common.h"

void gemm(int M, int N, int K,
          const float *A, int lda, bool ta,
          const float *B, int ldb, bool tb,
          float *C, int ldc, bool accumulate);

/* C (M,N) = op(A) · op(B) + bias, bias (N) added to every row (a linear layer's forward):
 * the same float operations as writing the bias into C and accumulating onto it. */
void gemm_bias(int M, int N, int K,
               const float *A, int lda, bool ta,
               const float *B, int ldb, bool tb,
               const float *bias, float *C, int ldc);

/* The same product by three plain loops, summed in double: the reference the tests use. */
void gemm_reference(int M, int N, int K,
                    const float *A, int lda, bool ta,
                    const float *B, int ldb, bool tb,
                    float *C, int ldc, bool accumulate);

/* For tests and benchmarks: A is copied into panels only when at least this many panels of
 * B reuse it (default 16; 0 = always copy; negative = back to the default). The result is
 * the same to the bit either way. */
void gemm_set_pack_a_threshold(int panels);

/* Force a kernel ("avx512", "avx2", "generic") for tests; NULL or unknown = best available.
 * Returns the name in use. */
const char *gemm_select_kernel(const char *name);

#endif
