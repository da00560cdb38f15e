/* test_engine.c — the engine's parts other than gradients: the matmul kernels against a
 * plain triple loop, bit-identical results across thread counts, the RNG's distributions
 * (statistical tests at p ≈ 1e-6 or stricter, so a correct generator practically never
 * fails and a biased one does), the tape (printing, accumulation, mark and rewind, op names),
 * the parameter block, the activations' exp against expf (special values included), the
 * optimizers against PyTorch, the schedule, and safetensors, including files that are broken
 * on purpose, checksums, and writers that race each other or are killed half-way. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------- exp_fast ---------------- */

/* distance in units in the last place between two finite floats of the same sign */
static int64_t ulps(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    return llabs((int64_t)ia - ib);
}

/* The activations' exp against expf: 2 ulp inside [-87, 88], saturation outside for finite
 * inputs, and the special values as expf has them (each of them was undefined behaviour
 * once: a float-to-int cast of NaN, a left shift of a negative number). */
static void test_exp_fast(void **state)
{
    (void)state;
    int64_t worst = 0;
    for (int i = 0; i <= 175000; i++) {
        float x = -87.0f + (float)i * 0.001f;
        if (x > 88.0f) break;
        int64_t u = ulps(op_exp_fast(x), expf(x));
        if (u > worst) worst = u;
    }
    assert_true(worst <= 2);
    assert_true(isnan(op_exp_fast(NAN)));
    assert_true(isnan(op_exp_fast(-NAN)));
    assert_true(isinf(op_exp_fast(INFINITY)) && op_exp_fast(INFINITY) > 0);
    assert_true(op_exp_fast(-INFINITY) == 0.0f && !signbit(op_exp_fast(-INFINITY)));
    assert_true(op_exp_fast(0.0f) == 1.0f && op_exp_fast(-0.0f) == 1.0f);
    assert_true(op_exp_fast(FLT_MIN) == 1.0f && op_exp_fast(1e-45f) == 1.0f && op_exp_fast(-1e-45f) == 1.0f);
    const float hi = op_exp_fast(88.0f), lo = op_exp_fast(-87.0f);
    assert_true(ulps(hi, expf(88.0f)) <= 2 && ulps(lo, expf(-87.0f)) <= 2);
    const float big[] = {88.5f, 89.0f, 104.0f, 1e10f, FLT_MAX};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        assert_true(op_exp_fast(big[i]) == hi);
        assert_true(op_exp_fast(-big[i]) == lo);
    }
}

/* ---------------- gemm ---------------- */

static void check_gemm_shapes(const char *kernel)
{
    const char *got = gemm_select_kernel(kernel);
    if (strcmp(got, kernel) != 0) {
        print_message("kernel %s not supported here, skipping its shapes\n", kernel);
        gemm_select_kernel(NULL);
        return;
    }
    static const int shapes[][3] = {
        {1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {13, 17, 11}, {12, 32, 64}, {97, 33, 257},
        {100, 300, 40}, {6, 16, 256}, {200, 19, 600}, {64, 2000, 64},
    };
    Rng r;
    rng_seed(&r, 99, 0);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc((size_t)M * K * sizeof(float)), *B = malloc((size_t)K * N * sizeof(float));
        float *C = malloc((size_t)M * N * sizeof(float)), *Cr = malloc((size_t)M * N * sizeof(float));
        fill_normal(A, (size_t)M * K, &r, 1);
        fill_normal(B, (size_t)K * N, &r, 1);
        for (int v = 0; v < 8; v++) {
            bool ta = v & 1, tb = v & 2, acc = v & 4;
            fill_normal(C, (size_t)M * N, &r, 1);
            memcpy(Cr, C, (size_t)M * N * sizeof(float));
            gemm(M, N, K, A, ta ? M : K, ta, B, tb ? K : N, tb, C, N, acc);
            gemm_reference(M, N, K, A, ta ? M : K, ta, B, tb ? K : N, tb, Cr, N, acc);
            /* float sums of K terms of size ~1: error grows like √K·ε */
            char what[96];
            snprintf(what, sizeof what, "%s %dx%dx%d ta%d tb%d acc%d", kernel, M, N, K, ta, tb, acc);
            assert_close_f(what, C, Cr, (size_t)M * N, 2e-5 * sqrt(K), 1e-5);
        }
        free(A);
        free(B);
        free(C);
        free(Cr);
    }
    gemm_select_kernel(NULL);
}

static void test_gemm_kernels(void **state)
{
    (void)state;
    check_gemm_shapes("generic");
    check_gemm_shapes("avx2");
    check_gemm_shapes("avx512");
}

/* gemm with ldc > N must leave the columns beyond N alone. */
static void test_gemm_leading_dims(void **state)
{
    (void)state;
    int M = 7, N = 5, K = 9, ldc = 8;
    float A[7 * 9], B[9 * 5], C[7 * 8];
    Rng r;
    rng_seed(&r, 4, 0);
    fill_normal(A, 63, &r, 1);
    fill_normal(B, 45, &r, 1);
    for (int i = 0; i < 56; i++) C[i] = 1234.0f;
    gemm(M, N, K, A, K, false, B, N, false, C, ldc, false);
    for (int i = 0; i < M; i++)
        for (int j = N; j < ldc; j++) assert_true(C[i * ldc + j] == 1234.0f);
    float ref[7 * 8];
    gemm_reference(M, N, K, A, K, false, B, N, false, ref, ldc, false);
    for (int i = 0; i < M; i++) assert_close_f("ldc", C + i * ldc, ref + i * ldc, (size_t)N, 1e-5, 1e-5);
}

/* gemm's faster paths against its plain one, to the bit: A read in place against A packed,
 * an untransposed B read in place against the same B transposed and packed, and the bias
 * added where the tile is stored against the bias written first and the product accumulated
 * onto it. Every path makes the same products and sums them in the same order. */
static void test_gemm_paths_bit_identical(void **state)
{
    (void)state;
    static const int shapes[][3] = {
        {1024, 64, 64}, {1024, 256, 64}, {154, 2000, 64}, {64, 64, 1024}, {97, 33, 257}, {13, 17, 11}, {64, 256, 300},
    };
    Rng r;
    rng_seed(&r, 7, 0);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
        size_t nc = (size_t)M * N;
        float *A = malloc((size_t)M * K * sizeof(float)), *B = malloc((size_t)K * N * sizeof(float));
        float *Bt = malloc((size_t)K * N * sizeof(float)), *bias = malloc((size_t)N * sizeof(float));
        float *C0 = malloc(nc * sizeof(float)), *C1 = malloc(nc * sizeof(float)), *C2 = malloc(nc * sizeof(float));
        fill_normal(A, (size_t)M * K, &r, 1);
        fill_normal(B, (size_t)K * N, &r, 1);
        fill_normal(bias, (size_t)N, &r, 1);
        for (int p = 0; p < K; p++)
            for (int j = 0; j < N; j++) Bt[(size_t)j * K + p] = B[(size_t)p * N + j];
        for (int v = 0; v < 4; v++) {
            bool ta = v & 1, acc = v & 2;
            fill_normal(C0, nc, &r, 1);
            memcpy(C1, C0, nc * sizeof(float));
            memcpy(C2, C0, nc * sizeof(float));
            gemm_set_pack_a_threshold(0); /* always packed */
            gemm(M, N, K, A, ta ? M : K, ta, Bt, K, true, C0, N, acc);
            gemm_set_pack_a_threshold(-1); /* the default: A in place for narrow N, B in place */
            gemm(M, N, K, A, ta ? M : K, ta, B, N, false, C1, N, acc);
            gemm_set_pack_a_threshold(1 << 20); /* A always in place */
            gemm(M, N, K, A, ta ? M : K, ta, Bt, K, true, C2, N, acc);
            gemm_set_pack_a_threshold(-1);
            char what[96];
            snprintf(what, sizeof what, "%dx%dx%d ta%d acc%d", M, N, K, ta, acc);
            if (memcmp(C0, C1, nc * sizeof(float)) || memcmp(C0, C2, nc * sizeof(float)))
                fail_msg("gemm paths differ: %s", what);
        }
        for (int i = 0; i < M; i++) memcpy(C0 + (size_t)i * N, bias, (size_t)N * sizeof(float));
        gemm(M, N, K, A, K, false, Bt, K, true, C0, N, true);
        gemm_bias(M, N, K, A, K, false, Bt, K, true, bias, C1, N);
        if (memcmp(C0, C1, nc * sizeof(float))) fail_msg("gemm_bias differs from bias + accumulate: %dx%dx%d", M, N, K);
        free(A); free(B); free(Bt); free(bias); free(C0); free(C1); free(C2);
    }
}

/* The row reductions that run in fixed lanes instead of one running sum, against double:
 *  - argmax: the first index of the largest value, as the plain loop finds it (ties, -inf,
 *    NaN passed over);
 *  - logsumexp and cross-entropy over V = 2000: a float sum in 16 lanes of V/16 terms, then
 *    the 16 lanes, errs by at most (V/16 + 16)·ε relative (each term's rounding is bounded by
 *    the partial sum it joins), plus 2 ulp of each exp: within 4e-5 of the exact value here;
 *  - LayerNorm's mean and 1/σ: sums of 64 floats in double lanes instead of one double sum,
 *    a difference around 1e-16 relative, so after rounding to float they agree with the
 *    sequential double sums to the bit (or, rarely, 1 ulp where the double lands on a tie). */
static void test_row_reductions(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 11, 0);
    enum { V = 2000, R = 40 };
    static float x[R * V], probs[R * V], row_loss[R];
    static int32_t tgt[R];
    fill_normal(x, (size_t)R * V, &r, 3);
    for (int i = 0; i < R; i++) tgt[i] = (int32_t)rng_below(&r, V);
    x[5 * V + 17] = x[5 * V + 1500] = 50.0f;            /* a tie: the first wins */
    x[6 * V + 3] = NAN;                                  /* passed over */
    for (int v = 0; v < V; v++) x[7 * V + v] = -INFINITY;
    x[7 * V + 999] = 0.0f;
    for (int i = 0; i < R; i++) {
        const float *xr = x + (size_t)i * V;
        int want = 0;
        for (int v = 1; v < V; v++)
            if (xr[v] > xr[want] || xr[want] != xr[want]) want = v;
        assert_int_equal(op_argmax(xr, V), want);
    }
    assert_int_equal(op_argmax(x + 5 * V, V), 17);
    assert_int_equal(op_argmax(x + 7 * V, V), 999);
    x[6 * V + 3] = 0.5f;
    tgt[7] = 999;
    double total = 0;
    for (int i = 0; i < R; i++) {
        const float *xr = x + (size_t)i * V;
        double mx = -INFINITY, z = 0;
        for (int v = 0; v < V; v++) mx = xr[v] > mx ? xr[v] : mx;
        for (int v = 0; v < V; v++) z += exp((double)xr[v] - mx);
        double lse = mx + log(z);
        assert_true(fabs(op_logsumexp(xr, V) - lse) <= 4e-5 * fmax(1, fabs(lse)));
        total += lse - xr[tgt[i]];
    }
    float loss;
    op_cross_entropy_forward(&loss, probs, row_loss, x, tgt, R, R, V);
    assert_true(fabs(loss - total / R) <= 4e-5 * fmax(1, fabs(total / R)));
    double psum = 0;
    for (int v = 0; v < V; v++) psum += probs[v];
    assert_true(fabs(psum - 1) < 1e-5);

    enum { LR = 64, C = 64 };
    static float lx[LR * C], w[C], b[C], out[LR * C], mean[LR], rstd[LR];
    fill_normal(lx, LR * C, &r, 2);
    for (int i = 0; i < LR * C; i++) lx[i] += 3.0f;
    fill_normal(w, C, &r, 1);
    fill_normal(b, C, &r, 1);
    op_layernorm_forward(out, mean, rstd, lx, w, b, 1e-12f, LR, C);
    int exact = 0;
    for (int i = 0; i < LR; i++) {
        double m = 0, v = 0;
        for (int c = 0; c < C; c++) m += lx[i * C + c];
        m /= C;
        for (int c = 0; c < C; c++) v += (lx[i * C + c] - m) * (lx[i * C + c] - m);
        v /= C;
        float fm = (float)m, fs = (float)(1.0 / sqrt(v + 1e-12f));
        assert_true(ulps(mean[i], fm) <= 1 && ulps(rstd[i], fs) <= 1);
        exact += mean[i] == fm && rstd[i] == fs;
    }
    assert_true(exact >= LR - 2);
}

/* A small transformer-shaped step run with 1 thread and with 2: every output and gradient
 * must be the same to the bit. */
static void transformer_step(Tape *tp, ParamBlock *pb, float *out_copy, float *grad_copy)
{
    enum { B = 8, T = 32, C = 64, V = 300, NH = 4 };
    static int32_t ids[B * T], tgt[B * T];
    for (int i = 0; i < B * T; i++) {
        ids[i] = (i * 37 + 11) % V;
        tgt[i] = i % 7 == 0 ? IGNORE_INDEX : (i * 13 + 5) % V;
    }
    Tensor *wte = pb->params[0], *wq = pb->params[1], *wf = pb->params[2], *lw = pb->params[3],
           *lb = pb->params[4];
    tape_reset(tp);
    params_zero_grad(pb);
    int is[2] = {B, T};
    Tensor *x = op_embedding(tp, wte, ids, 2, is, -1);
    Tensor *qkv = op_linear(tp, x, wq, NULL);
    Tensor *q = op_slice_last(tp, qkv, 0, C), *k = op_slice_last(tp, qkv, C, C), *v = op_slice_last(tp, qkv, 2 * C, C);
    Tensor *a = op_attention(tp, q, k, v, NH, (AttnMask){MASK_NONE, NULL, true}, NULL);
    Tensor *h = op_layernorm(tp, op_add(tp, x, a), lw, lb, 1e-5f);
    h = op_add(tp, h, op_gelu_erf(tp, op_linear(tp, h, wf, NULL)));
    Tensor *logits = op_matmul(tp, h, wte, false, true);
    Tensor *loss = op_cross_entropy(tp, logits, tgt);
    tape_backward(tp, loss);
    memcpy(out_copy, logits->data, logits->size * sizeof(float));
    memcpy(grad_copy, pb->grad, pb->n * sizeof(float));
}

static void test_threads_bit_identical(void **state)
{
    (void)state;
#ifndef FMLAB_OPENMP
    print_message("built without OpenMP: the engine runs on one thread, there is no second count to compare\n");
    skip();
    return;
#endif
    ParamBlock pb;
    params_init(&pb);
    int s0[2] = {300, 64}, s1[2] = {192, 64}, s2[2] = {64, 64}, s3[1] = {64};
    params_add(&pb, "wte", 2, s0, true);
    params_add(&pb, "wqkv", 2, s1, true);
    params_add(&pb, "wf", 2, s2, true);
    params_add(&pb, "ln.weight", 1, s3, false);
    params_add(&pb, "ln.bias", 1, s3, false);
    assert_true(params_finalize(&pb));
    Rng r;
    rng_seed(&r, 1, 0);
    for (int i = 0; i < 3; i++) init_normal(pb.params[i], &r, 0.1f);
    init_constant(pb.params[3], 1.0f);
    Tape tp;
    assert_true(tape_init(&tp, 64u << 20, 256));
    size_t nout = 8 * 32 * 300;
    float *o1 = malloc(nout * sizeof(float)), *o2 = malloc(nout * sizeof(float));
    float *g1 = malloc(pb.n * sizeof(float)), *g2 = malloc(pb.n * sizeof(float));
    engine_set_threads(1);
    assert_int_equal(engine_threads(), 1);
    transformer_step(&tp, &pb, o1, g1);
    engine_set_threads(2);
    assert_int_equal(engine_threads(), 2); /* else the comparison below proves nothing */
    transformer_step(&tp, &pb, o2, g2);
    engine_set_threads(0);
    assert_memory_equal(o1, o2, nout * sizeof(float));
    assert_memory_equal(g1, g2, pb.n * sizeof(float));
    /* and the gradient is not trivially zero */
    double norm = 0;
    for (size_t i = 0; i < pb.n; i++) norm += (double)g1[i] * g1[i];
    assert_true(norm > 1e-6);
    free(o1); free(o2); free(g1); free(g2);
    tape_free(&tp);
    params_free(&pb);
}

/* ---------------- tape ---------------- */

static void test_tape_print_and_accumulate(void **state)
{
    (void)state;
    Tape tp;
    assert_true(tape_init(&tp, 1u << 20, 64));
    int s[2] = {2, 3};
    Tensor *x = tape_leaf(&tp, 2, s, true);
    for (int i = 0; i < 6; i++) x->data[i] = (float)i;
    /* x used twice: d/dx Σ(x ⊙ x + 3x) = 2x + 3 */
    Tensor *y = op_add(&tp, op_mul(&tp, x, x), op_scale(&tp, x, 3.0f));
    Tensor *l = op_sum(&tp, y);
    tape_backward(&tp, l);
    for (int i = 0; i < 6; i++) assert_true(x->grad[i] == 2.0f * i + 3.0f);
    assert_true(l->data[0] == (0 + 1 + 4 + 9 + 16 + 25) + 3.0f * 15);
    char buf[1024] = {0};
    FILE *f = fmemopen(buf, sizeof buf, "w");
    tape_print(&tp, f);
    fclose(f);
    assert_non_null(strstr(buf, "mul"));
    assert_non_null(strstr(buf, "scale"));
    assert_non_null(strstr(buf, "sum"));
    assert_non_null(strstr(buf, "(2, 3) -> ()"));
    assert_int_equal(tp.count, 4);
    /* no_grad records nothing */
    tape_reset(&tp);
    tp.no_grad = true;
    x = tape_leaf(&tp, 2, s, true);
    op_sum(&tp, op_mul(&tp, x, x));
    assert_int_equal(tp.count, 0);
    tape_free(&tp);
}

/* Every op has a name of its own (a gap in op_name's designated initialisers is a NULL). */
static void test_op_names(void **state)
{
    (void)state;
    for (int i = 0; i < OP_COUNT; i++) {
        assert_non_null(op_name[i]);
        assert_true(op_name[i][0] != '\0');
        for (int j = 0; j < i; j++) assert_string_not_equal(op_name[i], op_name[j]);
    }
    assert_string_equal(op_name[OP_ADD], "add");
    assert_string_equal(op_name[OP_MEAN], "mean");
}

/* The evaluation pattern: mark, run more on the same tape, rewind. Rewinding restores the
 * arena's usage and the entry count exactly, drops gradient buffers handed out after the
 * mark (also those of tensors made before it), and a forward redone after the rewind lands
 * at the same addresses with the same bits. */
static Tensor *mark_forward(Tape *tp, Tensor *h, Tensor *w, const int32_t *tgt)
{
    Tensor *a = op_gelu_tanh(tp, op_linear(tp, h, w, NULL));          /* (2,4,6) */
    Tensor *q = op_slice_last(tp, a, 0, 3), *k = op_slice_last(tp, a, 3, 3);
    Tensor *o = op_attention(tp, q, k, q, 1, (AttnMask){MASK_NONE, NULL, true}, NULL);
    return op_cross_entropy(tp, o, tgt);
}

static void test_tape_mark_rewind(void **state)
{
    (void)state;
    Tape tp;
    assert_true(tape_init(&tp, 1u << 20, 64));
    int sx[3] = {2, 4, 5}, sw[2] = {6, 5};
    static const int32_t tgt[8] = {0, 2, IGNORE_INDEX, 1, 1, 0, 2, 2};
    Tensor *x = tape_leaf(&tp, 3, sx, true), *w = tape_leaf(&tp, 2, sw, true);
    Rng r;
    rng_seed(&r, 17, 0);
    fill_normal(x->data, x->size, &r, 1);
    fill_normal(w->data, w->size, &r, 1);
    Tensor *h = op_tanh(&tp, x); /* made before the mark, used after it */
    TapeMark m = tape_mark(&tp);
    assert_int_equal(m.count, 1);
    assert_true(m.used == tp.arena.used);

    Tensor *l1 = mark_forward(&tp, h, w, tgt);
    size_t used1 = tp.arena.used;
    int count1 = tp.count;
    assert_true(used1 > m.used);
    assert_int_equal(count1, 1 + 6);
    float loss1 = l1->data[0];
    tape_backward(&tp, l1);
    float gx1[40], gw1[30];
    memcpy(gx1, x->grad, sizeof gx1);
    memcpy(gw1, w->grad, sizeof gw1);
    assert_non_null(h->grad);

    tape_rewind(&tp, m);
    assert_true(tp.arena.used == m.used);
    assert_int_equal(tp.count, m.count);
    assert_null(h->grad); /* handed out by the backward after the mark */
    assert_null(x->grad);
    assert_null(w->grad);

    Tensor *l2 = mark_forward(&tp, h, w, tgt);
    assert_true(l2 == l1); /* the same memory again */
    assert_true(tp.arena.used == used1);
    assert_int_equal(tp.count, count1);
    assert_memory_equal(&l2->data[0], &loss1, sizeof loss1);
    tape_backward(&tp, l2);
    assert_memory_equal(x->grad, gx1, sizeof gx1);
    assert_memory_equal(w->grad, gw1, sizeof gw1);

    /* no_grad work records nothing, and a rewind still gives its memory back */
    TapeMark m2 = tape_mark(&tp);
    tp.no_grad = true;
    Tensor *l3 = mark_forward(&tp, h, w, tgt);
    tp.no_grad = false;
    assert_int_equal(tp.count, m2.count);
    assert_true(tp.arena.used > m2.used);
    assert_memory_equal(&l3->data[0], &loss1, sizeof loss1);
    tape_rewind(&tp, m2);
    assert_true(tp.arena.used == m2.used);
    assert_memory_equal(x->grad, gx1, sizeof gx1); /* buffers from before the mark stay */
    tape_free(&tp);
}

/* ---------------- rng ---------------- */

static void test_rng_determinism(void **state)
{
    (void)state;
    Rng a, b, c;
    rng_seed(&a, 42, 0);
    rng_seed(&b, 42, 0);
    rng_seed(&c, 43, 0);
    int same = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t x = rng_u32(&a), y = rng_u32(&b), z = rng_u32(&c);
        assert_true(x == y);
        same += x == z;
    }
    assert_true(same < 3);
    /* the PCG32 reference stream (pcg32-demo, seed 42 stream 54) */
    Rng d;
    rng_seed(&d, 42, 54);
    static const uint32_t want[6] = {0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e};
    for (int i = 0; i < 6; i++) assert_true(rng_u32(&d) == want[i]);
}

static void test_rng_distributions(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 7, 1);
    const int N = 200000;
    /* uniform: mean 1/2, variance 1/12 */
    double s = 0, ss = 0, mn = 1, mx = 0;
    for (int i = 0; i < N; i++) {
        double u = rng_uniform(&r);
        s += u; ss += u * u;
        mn = fmin(mn, u); mx = fmax(mx, u);
    }
    double mean = s / N, var = ss / N - mean * mean;
    assert_true(fabs(mean - 0.5) < 5 * sqrt(1.0 / 12 / N));
    assert_true(fabs(var - 1.0 / 12) < 0.002);
    assert_true(mn >= 0 && mx < 1);
    /* normal(2, 3): mean and std */
    s = ss = 0;
    for (int i = 0; i < N; i++) {
        double z = rng_normal(&r, 2.0f, 3.0f);
        s += z; ss += z * z;
    }
    mean = s / N;
    double sd = sqrt(ss / N - mean * mean);
    assert_true(fabs(mean - 2.0) < 5 * 3.0 / sqrt(N));
    assert_true(fabs(sd - 3.0) < 5 * 3.0 / sqrt(2.0 * N));
    /* rng_below(10): chi-square with 9 dof; 0.999999 quantile ≈ 42.6 */
    int counts[10] = {0};
    for (int i = 0; i < N; i++) counts[rng_below(&r, 10)]++;
    double chi = 0;
    for (int i = 0; i < 10; i++) chi += (counts[i] - N / 10.0) * (counts[i] - N / 10.0) / (N / 10.0);
    assert_true(chi < 42.6);
    /* bernoulli(0.15): a binomial count within 5 standard deviations */
    int hits = 0;
    for (int i = 0; i < N; i++) hits += rng_bernoulli(&r, 0.15f);
    assert_true(fabs(hits - 0.15 * N) < 5 * sqrt(N * 0.15 * 0.85));
    /* range is inclusive on both ends */
    int lo = 0, hi = 0;
    for (int i = 0; i < 1000; i++) {
        int v = rng_range(&r, -2, 2);
        assert_true(v >= -2 && v <= 2);
        lo += v == -2; hi += v == 2;
    }
    assert_true(lo > 0 && hi > 0);
}

static void test_rng_shuffle(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 3, 0);
    /* a permutation, and every position equally likely for element 0 */
    int pos[5] = {0};
    const int N = 50000;
    for (int t = 0; t < N; t++) {
        int a[5] = {0, 1, 2, 3, 4};
        rng_shuffle(&r, a, 5);
        int seen = 0;
        for (int i = 0; i < 5; i++) {
            seen |= 1 << a[i];
            if (a[i] == 0) pos[i]++;
        }
        assert_int_equal(seen, 31);
    }
    double chi = 0;
    for (int i = 0; i < 5; i++) chi += (pos[i] - N / 5.0) * (pos[i] - N / 5.0) / (N / 5.0);
    assert_true(chi < 33.4); /* 4 dof, p = 1e-6 */
}

static void test_rng_categorical(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 5, 0);
    const float logits[5] = {1.0f, 2.0f, 0.5f, 2.0f, -1.0f};
    const int N = 100000;
    float temps[2] = {1.0f, 0.5f};
    for (int ti = 0; ti < 2; ti++) {
        float T = temps[ti];
        int counts[5] = {0};
        for (int i = 0; i < N; i++) counts[rng_categorical(&r, logits, 5, T, 0)]++;
        double z = 0, p[5];
        for (int i = 0; i < 5; i++) z += exp(logits[i] / T);
        double chi = 0;
        for (int i = 0; i < 5; i++) {
            p[i] = exp(logits[i] / T) / z;
            chi += (counts[i] - N * p[i]) * (counts[i] - N * p[i]) / (N * p[i]);
        }
        assert_true(chi < 33.4); /* 4 dof, p = 1e-6 */
    }
    /* top-2 of {1, 2, 0.5, 2, -1} is indices 1 and 3 (tied), each half the time */
    int c1 = 0, other = 0;
    for (int i = 0; i < N; i++) {
        int k = rng_categorical(&r, logits, 5, 1.0f, 2);
        c1 += k == 1;
        other += k != 1 && k != 3;
    }
    assert_int_equal(other, 0);
    assert_true(fabs(c1 - N / 2.0) < 5 * sqrt(N * 0.25));
    /* top-1 is greedy: the lower index of a tie */
    for (int i = 0; i < 100; i++) assert_int_equal(rng_categorical(&r, logits, 5, 1.0f, 1), 1);
    /* top-3 at temperature 1: indices 1, 3, 0 with probabilities ∝ e², e², e */
    int c[5] = {0};
    for (int i = 0; i < N; i++) c[rng_categorical(&r, logits, 5, 1.0f, 3)]++;
    assert_int_equal(c[2] + c[4], 0);
    double z = 2 * exp(2.0) + exp(1.0), p0 = exp(1.0) / z;
    assert_true(fabs(c[0] - N * p0) < 5 * sqrt(N * p0 * (1 - p0)));
}

/* ---------------- params and optimizers ---------------- */

static void test_params_layout(void **state)
{
    (void)state;
    ParamBlock pb;
    params_init(&pb);
    int a[2] = {3, 4}, b[1] = {5};
    Tensor *w = params_add(&pb, "layer.weight", 2, a, true);
    Tensor *bias = params_add(&pb, "layer.bias", 1, b, false);
    assert_true(params_finalize(&pb));
    assert_int_equal(pb.n, 17);
    assert_ptr_equal(w->data, pb.data);
    assert_ptr_equal(bias->data, pb.data + 12);
    assert_ptr_equal(w->grad, pb.grad);
    assert_ptr_equal(pb.grad, pb.data + 17);
    assert_ptr_equal(pb.m, pb.data + 34);
    assert_ptr_equal(pb.v, pb.data + 51);
    assert_ptr_equal(params_find(&pb, "layer.bias"), bias);
    assert_null(params_find(&pb, "nope"));
    Rng r;
    rng_seed(&r, 1, 0);
    init_normal(w, &r, 0.02f);
    double s = 0;
    for (int i = 0; i < 12; i++) s += fabs(w->data[i]);
    assert_true(s > 0 && s / 12 < 0.1);
    for (int i = 0; i < 5; i++) assert_true(bias->data[i] == 0.0f);
    assert_null(params_nonfinite_grad(&pb));
    bias->grad[2] = NAN;
    assert_ptr_equal(params_nonfinite_grad(&pb), bias);
    params_free(&pb);
    /* the checks of every step, over a tensor longer than their chunks: any NaN or ±Inf at
       any place is found, in the tensor it is in; the largest float, the smallest normal
       and subnormals, zeros of both signs are finite */
    params_init(&pb);
    int big[1] = {10007}, small[1] = {3};
    Tensor *head = params_add(&pb, "head", 1, small, true), *wide = params_add(&pb, "wide", 1, big, true);
    assert_true(params_finalize(&pb));
    memset(pb.data, 0, 2 * pb.n * sizeof(float)); /* weights and gradients */
    const float finite[] = {FLT_MAX, -FLT_MAX, FLT_MIN, FLT_TRUE_MIN, -FLT_TRUE_MIN, -0.0f, 0.0f, 1.0f};
    const float bad[] = {NAN, -NAN, INFINITY, -INFINITY};
    const size_t where[] = {0, 4095, 4096, 8191, 10006};
    for (size_t k = 0; k < sizeof where / sizeof *where; k++) {
        for (size_t f = 0; f < sizeof finite / sizeof *finite; f++) {
            wide->grad[where[k]] = wide->data[where[k]] = finite[f];
            assert_null(params_nonfinite_grad(&pb));
            assert_null(params_nonfinite_data(&pb));
        }
        for (size_t f = 0; f < sizeof bad / sizeof *bad; f++) {
            wide->grad[where[k]] = bad[f];
            wide->data[where[k]] = 0;
            assert_ptr_equal(params_nonfinite_grad(&pb), wide);
            assert_null(params_nonfinite_data(&pb));
            wide->data[where[k]] = bad[f];
            assert_ptr_equal(params_nonfinite_data(&pb), wide);
            head->grad[1] = bad[f]; /* the first tensor with one is named */
            assert_ptr_equal(params_nonfinite_grad(&pb), head);
            head->grad[1] = 0;
        }
        wide->grad[where[k]] = wide->data[where[k]] = 0;
    }
    params_free(&pb);
}

static void test_adamw_vs_torch(void **state)
{
    (void)state;
    FILE *f = fopen(FMLAB_TEST_DATA "/adamw_torch.txt", "r");
    assert_non_null(f);
    struct { const char *name; float lr, b1, b2, eps, wd; } cases[3] = {
        {"default", 1e-2f, 0.9f, 0.999f, 1e-8f, 1e-2f},
        {"strong", 3e-2f, 0.8f, 0.95f, 1e-6f, 0.1f},
        {"nodecay", 1e-3f, 0.9f, 0.98f, 1e-8f, 0.0f},
    };
    char line[512];
    int checked = 0;
    ParamBlock pb;
    AdamW opt = {0};
    Tensor *p = NULL;
    char cur[32] = "";
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char name[32];
        int t, used;
        float want[8];
        assert_int_equal(sscanf(line, "%31s %d%n", name, &t, &used), 2);
        char *rest = line + used;
        for (int j = 0; j < 8; j++) want[j] = strtof(rest, &rest);
        if (strcmp(name, cur) != 0) {
            if (cur[0]) params_free(&pb);
            strcpy(cur, name);
            params_init(&pb);
            int s[1] = {8};
            p = params_add(&pb, "p", 1, s, true);
            assert_true(params_finalize(&pb));
            for (int j = 0; j < 8; j++) p->data[j] = (float)(0.1 * (j - 3));
            int ci = 0;
            while (strcmp(cases[ci].name, name) != 0) ci++;
            opt = (AdamW){cases[ci].b1, cases[ci].b2, cases[ci].eps, cases[ci].wd, 0};
        }
        int ci = 0;
        while (strcmp(cases[ci].name, name) != 0) ci++;
        for (int j = 0; j < 8; j++) p->grad[j] = (float)(sin(0.7 * j + 1.3 * t) * (j + 1) / 4);
        adamw_step(&opt, &pb, cases[ci].lr);
        assert_int_equal(opt.step, t);
        char what[64];
        snprintf(what, sizeof what, "adamw %s step %d", name, t);
        assert_close_f(what, p->data, want, 8, 1e-7, 2e-6);
        checked++;
    }
    fclose(f);
    if (cur[0]) params_free(&pb);
    assert_int_equal(checked, 18);
}

static void test_sgd_and_clip(void **state)
{
    (void)state;
    ParamBlock pb;
    params_init(&pb);
    int s[1] = {2};
    Tensor *p = params_add(&pb, "p", 1, s, true);
    assert_true(params_finalize(&pb));
    p->data[0] = 1.0f;
    p->data[1] = -2.0f;
    Sgd opt = {0.9f, 0.0f, 0};
    /* step 1: buf = g; p -= lr·buf.  step 2: buf = 0.9·buf + g */
    p->grad[0] = 0.5f; p->grad[1] = 1.0f;
    sgd_step(&opt, &pb, 0.1f);
    assert_true(fabsf(p->data[0] - 0.95f) < 1e-7f && fabsf(p->data[1] + 2.1f) < 1e-6f);
    p->grad[0] = 0.5f; p->grad[1] = 1.0f;
    sgd_step(&opt, &pb, 0.1f);
    assert_true(fabsf(p->data[0] - (0.95f - 0.1f * 0.95f)) < 1e-6f);
    assert_true(fabsf(p->data[1] - (-2.1f - 0.1f * 1.9f)) < 1e-6f);
    /* clip: norm 5 -> 1 */
    p->grad[0] = 3.0f; p->grad[1] = 4.0f;
    float n = clip_grad_norm(&pb, 1.0f);
    assert_true(fabsf(n - 5.0f) < 1e-6f);
    assert_true(fabsf(p->grad[0] - 0.6f) < 1e-5f && fabsf(p->grad[1] - 0.8f) < 1e-5f);
    /* below the limit: untouched */
    n = clip_grad_norm(&pb, 10.0f);
    assert_true(fabsf(p->grad[0] - 0.6f) < 1e-5f);
    params_free(&pb);
    /* a long block (lanes and a tail): the norm against a sequential sum in long double */
    params_init(&pb);
    int len[1] = {100003};
    p = params_add(&pb, "long", 1, len, true);
    assert_true(params_finalize(&pb));
    Rng r;
    rng_seed(&r, 7, 0);
    long double ss = 0;
    for (int i = 0; i < len[0]; i++) {
        p->grad[i] = rng_normal(&r, 0.0f, i % 17 == 0 ? 30.0f : 0.01f);
        ss += (long double)p->grad[i] * p->grad[i];
    }
    float want = (float)sqrtl(ss), first = p->grad[5];
    n = clip_grad_norm(&pb, 1e9f);
    assert_true(n == want);          /* a double sum of 1e5 squares is far inside a float's ulp */
    assert_true(p->grad[5] == first); /* below the limit */
    n = clip_grad_norm(&pb, want / 4);
    assert_true(fabsf(p->grad[5] - first * (want / 4) / (want + 1e-6f)) <= 1e-6f * fabsf(first));
    params_free(&pb);
}

/* A frozen parameter (requires_grad false) is skipped by both optimizers, even with a
 * gradient and weight decay: value and moments bit for bit as they were. The others take
 * exactly the step they take when nothing is frozen. */
static void test_frozen_params(void **state)
{
    (void)state;
    ParamBlock pb[2];
    Tensor *w[2], *b[2], *u[2];
    for (int k = 0; k < 2; k++) {
        params_init(&pb[k]);
        int s2[2] = {3, 4}, s1[1] = {5};
        w[k] = params_add(&pb[k], "frozen.weight", 2, s2, true);   /* decayed, were it trained */
        b[k] = params_add(&pb[k], "frozen.bias", 1, s1, false);
        u[k] = params_add(&pb[k], "head.weight", 2, s2, true);
        assert_true(params_finalize(&pb[k]));
        for (size_t i = 0; i < pb[k].n; i++) {
            pb[k].data[i] = (float)sin(0.3 * (double)i + 1.0);
            pb[k].grad[i] = (float)cos(0.7 * (double)i) + 0.1f;   /* nonzero everywhere */
            pb[k].m[i] = 0.01f * (float)i;
            pb[k].v[i] = 0.001f * (float)i;
        }
    }
    w[0]->requires_grad = b[0]->requires_grad = false;
    size_t nf = w[0]->size + b[0]->size;   /* the frozen ones come first in the block */
    float *before = malloc(3 * nf * sizeof(float));
    assert_non_null(before);
    memcpy(before, pb[0].data, nf * sizeof(float));
    memcpy(before + nf, pb[0].m, nf * sizeof(float));
    memcpy(before + 2 * nf, pb[0].v, nf * sizeof(float));
    AdamW opt[2] = {adamw_default(), adamw_default()};
    assert_true(opt[0].weight_decay == 0.01f);
    for (int t = 0; t < 3; t++)
        for (int k = 0; k < 2; k++) adamw_step(&opt[k], &pb[k], 1e-2f);
    assert_memory_equal(pb[0].data, before, nf * sizeof(float));
    assert_memory_equal(pb[0].m, before + nf, nf * sizeof(float));
    assert_memory_equal(pb[0].v, before + 2 * nf, nf * sizeof(float));
    for (size_t i = 0; i < nf; i++) assert_true(pb[1].data[i] != before[i]);   /* the same, unfrozen: moved */
    /* the trained one: moved, and exactly as far as with nothing frozen */
    float head[12];
    for (int i = 0; i < 12; i++) {
        head[i] = (float)sin(0.3 * (double)(nf + (size_t)i) + 1.0);
        assert_true(u[0]->data[i] != head[i]);
    }
    assert_memory_equal(u[0]->data, u[1]->data, u[0]->size * sizeof(float));
    /* SGD with momentum and weight decay: the same */
    Sgd sgd = {0.9f, 0.01f, 0};
    memcpy(head, u[0]->data, sizeof head);
    sgd_step(&sgd, &pb[0], 0.1f);
    assert_memory_equal(pb[0].data, before, nf * sizeof(float));
    assert_memory_equal(pb[0].m, before + nf, nf * sizeof(float));
    for (int i = 0; i < 12; i++) assert_true(u[0]->data[i] != head[i]);
    free(before);
    for (int k = 0; k < 2; k++) params_free(&pb[k]);
}

static void test_lr_schedule(void **state)
{
    (void)state;
    LrSchedule lin = {SCHEDULE_LINEAR, 1e-3f, 10, 110};
    assert_true(lr_at(&lin, 0) == 0.0f);
    assert_true(fabsf(lr_at(&lin, 5) - 5e-4f) < 1e-9f);
    assert_true(fabsf(lr_at(&lin, 10) - 1e-3f) < 1e-9f);
    assert_true(fabsf(lr_at(&lin, 60) - 5e-4f) < 1e-9f);
    assert_true(lr_at(&lin, 110) == 0.0f);
    assert_true(lr_at(&lin, 500) == 0.0f);
    LrSchedule cosd = {SCHEDULE_COSINE, 2e-3f, 0, 100};
    assert_true(fabsf(lr_at(&cosd, 0) - 2e-3f) < 1e-9f);
    assert_true(fabsf(lr_at(&cosd, 50) - 1e-3f) < 1e-8f);
    assert_true(fabsf(lr_at(&cosd, 25) - 2e-3f * 0.5f * (1 + cosf(3.14159265f / 4))) < 1e-8f);
    assert_true(fabsf(lr_at(&cosd, 100)) < 1e-9f);
    LrSchedule c = {SCHEDULE_CONSTANT, 3e-4f, 4, 0};
    assert_true(fabsf(lr_at(&c, 2) - 1.5e-4f) < 1e-10f && lr_at(&c, 1000) == 3e-4f);
}

/* ---------------- safetensors ---------------- */

static char tmpdir[64];

static void path_in_tmp(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tmpdir, name); }

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void test_safetensors_roundtrip(void **state)
{
    (void)state;
    char path[128];
    path_in_tmp(path, sizeof path, "a.safetensors");
    float w[6] = {1, -2, 3.5f, 0, 1e-30f, -7};
    int64_t ids[3] = {0, 4, (int64_t)1 << 40};
    int32_t small[2] = {-1, 7};
    StWriter wr;
    st_writer_init(&wr);
    int64_t sw[2] = {2, 3}, si[1] = {3}, ss[2] = {1, 2}, se[1] = {0};
    assert_int_equal(st_writer_add(&wr, "bert.embeddings.word_embeddings.weight", ST_F32, 2, sw, w), 0);
    assert_int_equal(st_writer_add(&wr, "input_ids", ST_I64, 1, si, ids), 0);
    assert_int_equal(st_writer_add(&wr, "small", ST_I32, 2, ss, small), 0);
    assert_int_equal(st_writer_add(&wr, "empty", ST_F32, 1, se, w), 0);
    assert_int_equal(st_writer_metadata(&wr, "format", "pt"), 0);
    char err[256];
    assert_int_equal(st_writer_save(&wr, path, err, sizeof err), 0);
    st_writer_free(&wr);
    char tmp[140];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1); /* renamed into place */

    SafeTensors st;
    assert_int_equal(st_load(&st, path, err, sizeof err), 0);
    assert_int_equal(st.count, 4);
    /* header length is a multiple of 8 so the data is aligned */
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | st.buf[i];
    assert_int_equal(hlen % 8, 0);
    const StTensor *t = st_find(&st, "bert.embeddings.word_embeddings.weight");
    assert_non_null(t);
    assert_int_equal(t->dtype, ST_F32);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->shape[1], 3);
    float back[6];
    assert_int_equal(st_read_f32(&st, t->name, back, 6, err, sizeof err), 0);
    assert_memory_equal(back, w, sizeof w);
    t = st_find(&st, "input_ids");
    assert_int_equal(t->dtype, ST_I64);
    int64_t ib[3];
    memcpy(ib, t->data, sizeof ib);
    assert_memory_equal(ib, ids, sizeof ids);
    t = st_find(&st, "small");
    assert_int_equal(t->dtype, ST_I32);
    assert_int_equal(t->count, 2);
    assert_int_equal(st_find(&st, "empty")->count, 0);
    assert_string_equal(st_metadata(&st, "format"), "pt");
    assert_null(st_metadata(&st, "nope"));
    assert_int_equal(st_read_f32(&st, "input_ids", back, 3, err, sizeof err), -1);
    assert_non_null(strstr(err, "I64"));
    assert_int_equal(st_read_f32(&st, "nope", back, 3, err, sizeof err), -1);
    st_free(&st);
}

/* Builds a file from a header string and n data bytes, then expects a load error that
 * mentions `needle`. */
static void expect_bad(const char *name, const char *header, size_t hlen_override, size_t data_bytes,
                       const char *needle)
{
    size_t hl = strlen(header);
    size_t n = 8 + hl + data_bytes;
    unsigned char *b = calloc(n, 1);
    uint64_t h = hlen_override ? hlen_override : hl;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(h >> (8 * i));
    memcpy(b + 8, header, hl);
    char path[128], err[256] = "";
    path_in_tmp(path, sizeof path, name);
    write_bytes(path, b, n);
    free(b);
    SafeTensors st;
    int rc = st_load(&st, path, err, sizeof err);
    if (rc == 0 || !strstr(err, needle)) print_message("%s: rc %d, err \"%s\"\n", name, rc, err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, needle));
    assert_non_null(strstr(err, path)); /* the message names the file */
    assert_null(st.buf);
}

static void test_safetensors_malformed(void **state)
{
    (void)state;
    const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    expect_bad("empty-header.st", "", 0, 0, "not a JSON object");
    expect_bad("oversized.st", ok, (size_t)1 << 40, 8, "larger than");
    expect_bad("pastend.st", ok, strlen(ok) + 100, 8, "past the end");
    expect_bad("truncated.st", ok, 0, 5, "data_offsets");
    expect_bad("notjson.st", "{\"a\":", 0, 0, "not a JSON object");
    expect_bad("dtype.st", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 0, 4, "F16");
    expect_bad("count.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 0, 8, "need 12 bytes");
    expect_bad("negoff.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 0, 8, "data_offsets");
    expect_bad("backwards.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 0, 8, "data_offsets");
    expect_bad("gap.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 0, 8, "gap or overlap");
    expect_bad("overlap.st",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 0, 12, "gap or overlap");
    expect_bad("tail.st", ok, 0, 12, "cover 8 of the 12");
    expect_bad("shape.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 0, 8, "shape");
    expect_bad("fraction.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 0, 8, "shape");
    expect_bad("huge.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1000000000,1000000000,1000000],\"data_offsets\":[0,8]}}", 0, 8, "shape");
    expect_bad("dup.st",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 0, 8, "twice");
    expect_bad("missing.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 0, 8, "data_offsets");
    char err[256];
    SafeTensors st;
    assert_int_equal(st_parse(&st, "\x08\0\0", 3, err, sizeof err), -1);
    assert_non_null(strstr(err, "too short"));
    assert_int_equal(st_load(&st, "/nonexistent/x.safetensors", err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file"));
    /* a valid file cut at every length is refused cleanly (and ASan sees no bad read) */
    char path[128];
    path_in_tmp(path, sizeof path, "full.st");
    float w[4] = {1, 2, 3, 4};
    StWriter wr;
    st_writer_init(&wr);
    int64_t s[1] = {4};
    st_writer_add(&wr, "w", ST_F32, 1, s, w);
    assert_int_equal(st_writer_save(&wr, path, err, sizeof err), 0);
    st_writer_free(&wr);
    FILE *f = fopen(path, "rb");
    unsigned char buf[256];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    for (size_t cut = 0; cut < n; cut++) assert_int_equal(st_parse(&st, buf, cut, err, sizeof err), -1);
    assert_int_equal(st_parse(&st, buf, n, err, sizeof err), 0);
    st_free(&st);
    /* an unwritable destination is an error, not a crash */
    assert_int_equal(st_writer_save(&wr, "/nonexistent/dir/x.safetensors", err, sizeof err), -1);
}

/* What a careful reader refuses beyond the structure: a NUL hidden in a string, bytes that are
 * not UTF-8, control characters in names, numbers too large to convert, a folder or a FIFO in
 * place of a file, a transposed matrix, and more tensors than ST_MAX_TENSORS. */
static void test_safetensors_strict(void **state)
{
    (void)state;
    expect_bad("nul-dtype.st", "{\"a\":{\"dtype\":\"F32\\u0000x\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8, "NUL");
    expect_bad("nul-name.st", "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8, "NUL");
    expect_bad("utf8.st", "{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8, "UTF-8");
    expect_bad("overlong.st", "{\"a\xc0\xaf\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8, "UTF-8");
    expect_bad("surrogate.st", "{\"a\xed\xa0\x80\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8, "UTF-8");
    expect_bad("cut-utf8.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}\xe2\x82", 0, 8, "UTF-8");
    expect_bad("raw-ctl.st", "{\"a\x1b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8, "control");
    expect_bad("esc-ctl.st", "{\"a\\u001b[2J\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8, "control");
    expect_bad("bigshape.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,8]}}", 0, 8, "shape");
    expect_bad("infshape.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1e999],\"data_offsets\":[0,8]}}", 0, 8, "shape");
    expect_bad("bigoff.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1e300,1e301]}}", 0, 8, "data_offsets");
    expect_bad("stroff.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",8]}}", 0, 8, "data_offsets");
    expect_bad("twometa.st", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, 0, "twice");
    /* a UTF-8 name is fine */
    char err[256], path[160];
    SafeTensors st;
    const char *ok = "{\"\xea\xb3\xa0\xeb\x9e\x98\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    unsigned char file[128] = {0};
    size_t hl = strlen(ok);
    file[0] = (unsigned char)hl;
    memcpy(file + 8, ok, hl);
    assert_int_equal(st_parse(&st, file, 8 + hl + 8, err, sizeof err), 0);
    st_free(&st);

    /* not a regular file: refused by name, at once (a FIFO with no writer would block fopen) */
    assert_int_equal(st_load(&st, tmpdir, err, sizeof err), -1);
    assert_non_null(strstr(err, "a folder"));
    path_in_tmp(path, sizeof path, "fifo");
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(st_load(&st, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(st_load(&st, "/dev/zero", err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));

    /* the shape, not only the element count */
    float w[6] = {1, 2, 3, 4, 5, 6}, back[6];
    StWriter wr;
    st_writer_init(&wr);
    int64_t s23[2] = {2, 3}, s32[2] = {3, 2};
    st_writer_add(&wr, "w", ST_F32, 2, s23, w);
    path_in_tmp(path, sizeof path, "shape.st");
    assert_int_equal(st_writer_save(&wr, path, err, sizeof err), 0);
    st_writer_free(&wr);
    assert_int_equal(st_load(&st, path, err, sizeof err), 0);
    assert_int_equal(st_read_f32_shape(&st, "w", back, 2, s32, err, sizeof err), -1);
    assert_non_null(strstr(err, "[2, 3], expected [3, 2]"));
    assert_int_equal(st_read_f32_shape(&st, "w", back, 2, s23, err, sizeof err), 0);
    assert_memory_equal(back, w, sizeof w);
    st_free(&st);

    /* many tensors: names checked by sorting (a quadratic check took minutes at 65536) */
    for (int n = 50000; n <= ST_MAX_TENSORS + 1; n += ST_MAX_TENSORS + 1 - 50000) {
        size_t cap = (size_t)n * 64 + 64, k = 8;
        char *b = malloc(cap);
        assert_non_null(b);
        k += (size_t)sprintf(b + k, "{");
        for (int i = 0; i < n; i++)
            k += (size_t)sprintf(b + k, "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}", i ? "," : "",
                                 i == n - 1 && n == 50000 ? 17 : i); /* the last repeats t17 */
        k += (size_t)sprintf(b + k, "}");
        for (int i = 0; i < 8; i++) b[i] = (char)((uint64_t)(k - 8) >> (8 * i));
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(st_parse(&st, b, k, err, sizeof err), -1);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        print_message("%d tensors refused in %.3f s: %s\n", n, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9, err);
        assert_non_null(strstr(err, n == 50000 ? "\"t17\" appears twice" : "more than 65536 tensors"));
        /* without the repeat, all of them load and are found */
        if (n == 50000) {
            char *last = strstr(b + k - 80, "\"t17\"");
            assert_non_null(last);
            memcpy(last, "\"t00\"", 5);
            assert_int_equal(st_parse(&st, b, k, err, sizeof err), 0);
            assert_int_equal(st.count, n);
            assert_non_null(st_find(&st, "t49998"));
            assert_non_null(st_find(&st, "t00"));
            assert_null(st_find(&st, "t50000"));
            st_free(&st);
        }
        free(b);
    }
}

static void save_pattern(const char *path, float value, int64_t n, bool checksum)
{
    float *w = malloc((size_t)n * sizeof *w);
    assert_non_null(w);
    for (int64_t i = 0; i < n; i++) w[i] = value;
    StWriter wr;
    st_writer_init(&wr);
    wr.checksum = checksum;
    st_writer_add(&wr, "w", ST_F32, 1, &n, w);
    char name[32];
    snprintf(name, sizeof name, "%g", (double)value);
    st_writer_metadata(&wr, "value", name);
    char err[256];
    int rc = st_writer_save(&wr, path, err, sizeof err);
    if (rc) print_message("%s\n", err);
    assert_int_equal(rc, 0);
    st_writer_free(&wr);
    free(w);
}

/* 0 when path holds one whole pattern written by save_pattern: every value the same and the
 * same as its metadata, as many as that writer writes (n_of(value)). */
static int check_pattern(const char *path, int64_t (*n_of)(float), char *err, size_t errlen)
{
    SafeTensors st;
    if (st_load(&st, path, err, errlen)) return -1;
    const StTensor *t = st_find(&st, "w");
    const char *v = st_metadata(&st, "value");
    int rc = t && v && st.verified ? 0 : engine_error(err, errlen, "no tensor, value or checksum");
    float first = 0;
    if (rc == 0) memcpy(&first, t->data, sizeof first);
    if (rc == 0 && (strtof(v, NULL) != first || t->count != n_of(first)))
        rc = engine_error(err, errlen, "metadata %s, data %g, %lld values", v, (double)first, (long long)t->count);
    for (int64_t i = 0; rc == 0 && i < t->count; i++) {
        float x;
        memcpy(&x, (const float *)t->data + i, sizeof x);
        if (x != first) rc = engine_error(err, errlen, "value %lld is %g, not %g", (long long)i, (double)x, (double)first);
    }
    st_free(&st);
    return rc;
}

static int count_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) n += strstr(e->d_name, ".tmp") != NULL;
    if (d) closedir(d);
    return n;
}

static void test_safetensors_checksum(void **state)
{
    (void)state;
    char path[160], err[256];
    path_in_tmp(path, sizeof path, "sum.st");
    save_pattern(path, 3.0f, 1000, true);
    SafeTensors st;
    assert_int_equal(st_load(&st, path, err, sizeof err), 0);
    assert_true(st.verified);
    char sum[9];
    assert_non_null(st_metadata(&st, ST_CHECKSUM_KEY));
    assert_int_equal(strlen(st_metadata(&st, ST_CHECKSUM_KEY)), 8);
    strcpy(sum, st_metadata(&st, ST_CHECKSUM_KEY));
    size_t size = st.size;
    unsigned char *b = malloc(size);
    memcpy(b, st.buf, size);
    st_free(&st);
    /* one bit anywhere in the data, in a metadata value or in the checksum itself */
    size_t at_value = (size_t)(strstr((char *)b + 8, "\"value\":\"3\"") - (char *)b) + 9;
    size_t at_sum = (size_t)(strstr((char *)b + 8, sum) - (char *)b);
    size_t where[] = {size - 1, size - 4000, at_value, at_sum, at_sum + 7};
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        b[where[i]] ^= 1;
        int rc = st_parse(&st, b, size, err, sizeof err);
        if (rc == 0) print_message("a flipped bit at byte %zu was not noticed\n", where[i]);
        assert_int_equal(rc, -1);
        assert_non_null(strstr(err, "checksum"));
        b[where[i]] ^= 1;
    }
    assert_int_equal(st_parse(&st, b, size, err, sizeof err), 0);
    st_free(&st);
    free(b);
    /* without the option, no checksum: the files of an export stay as before */
    save_pattern(path, 3.0f, 10, false);
    assert_int_equal(st_load(&st, path, err, sizeof err), 0);
    assert_false(st.verified);
    assert_null(st_metadata(&st, ST_CHECKSUM_KEY));
    st_free(&st);
}

static int64_t two_sizes(float v) { return v == 1.0f ? 1000 : 3000; }

/* Two processes save to one path 60 times each while this one reads it: every read is one
 * writer's whole file (the old fixed PATH.tmp let their bytes mix), and no temporary stays. */
static void test_atomic_concurrent_writers(void **state)
{
    (void)state;
    char dir[160], path[192], err[256];
    path_in_tmp(dir, sizeof dir, "race");
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/ck.st", dir);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            for (int i = 0; i < 60; i++) save_pattern(path, k ? 2.0f : 1.0f, two_sizes(k ? 2.0f : 1.0f), true);
            _exit(0);
        }
    }
    int reads = 0, running = 2;
    while (running) {
        if (access(path, F_OK) == 0) {
            int rc = check_pattern(path, two_sizes, err, sizeof err);
            if (rc) print_message("read %d: %s\n", reads, err);
            assert_int_equal(rc, 0);
            reads++;
        }
        running = 0;
        for (int k = 0; k < 2; k++) running += waitpid(kids[k], NULL, WNOHANG) == 0;
    }
    for (int k = 0; k < 2; k++) waitpid(kids[k], NULL, 0);
    assert_int_equal(check_pattern(path, two_sizes, err, sizeof err), 0);
    assert_true(reads > 0);
    assert_int_equal(count_temporaries(dir), 0);
}

static int64_t big_size(float v) { return v == 7.0f ? 10 : 1 << 21; }

/* kill -9 at random moments of saves of 8 MB: the file under the real name is always a whole
 * one (the old or a new), a temporary left behind is removed by the next save, and a symlink
 * planted at the old fixed temporary name is not followed. */
static void test_atomic_killed_writer(void **state)
{
    (void)state;
    char dir[160], path[192], err[256], victim[192], planted[200];
    path_in_tmp(dir, sizeof dir, "kill");
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/ck.st", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(planted, sizeof planted, "%s.tmp", path);
    FILE *f = fopen(victim, "w");
    fputs("mine", f);
    fclose(f);
    assert_int_equal(symlink(victim, planted), 0);
    save_pattern(path, 7.0f, big_size(7.0f), true);
    Rng r;
    rng_seed(&r, 42, 0);
    int left = 0;
    for (int i = 0; i < 12; i++) {
        pid_t kid = fork();
        assert_true(kid >= 0);
        if (kid == 0) {
            for (;;) save_pattern(path, (float)(8 + i), big_size(8), true);
        }
        struct timespec ts = {0, (long)rng_below(&r, 40) * 1000000L};
        nanosleep(&ts, NULL);
        kill(kid, SIGKILL);
        waitpid(kid, NULL, 0);
        int rc = check_pattern(path, big_size, err, sizeof err);
        if (rc) print_message("kill %d: %s\n", i, err);
        assert_int_equal(rc, 0);
        left += count_temporaries(dir) > 1; /* beyond the planted link */
    }
    print_message("%d of 12 kills left a temporary\n", left);
    /* the next save removes what the killed writers left, and only that */
    save_pattern(path, 7.0f, big_size(7.0f), true);
    assert_int_equal(check_pattern(path, big_size, err, sizeof err), 0);
    assert_int_equal(count_temporaries(dir), 1);
    f = fopen(victim, "r");
    char back[8] = "";
    assert_non_null(fgets(back, sizeof back, f));
    fclose(f);
    assert_string_equal(back, "mine");
    /* the temporary of a process that still runs is left alone */
    char live[240];
    snprintf(live, sizeof live, "%s.tmp-%ld-0", path, (long)getppid());
    f = fopen(live, "w");
    fclose(f);
    save_pattern(path, 7.0f, 10, true);
    assert_int_equal(access(live, F_OK), 0);
    unlink(live);
    unlink(planted);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fmlab_test_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_fast),
        cmocka_unit_test(test_gemm_kernels),
        cmocka_unit_test(test_gemm_leading_dims),
        cmocka_unit_test(test_gemm_paths_bit_identical),
        cmocka_unit_test(test_row_reductions),
        cmocka_unit_test(test_threads_bit_identical),
        cmocka_unit_test(test_tape_print_and_accumulate),
        cmocka_unit_test(test_tape_mark_rewind),
        cmocka_unit_test(test_op_names),
        cmocka_unit_test(test_rng_determinism),
        cmocka_unit_test(test_rng_distributions),
        cmocka_unit_test(test_rng_shuffle),
        cmocka_unit_test(test_rng_categorical),
        cmocka_unit_test(test_params_layout),
        cmocka_unit_test(test_adamw_vs_torch),
        cmocka_unit_test(test_sgd_and_clip),
        cmocka_unit_test(test_frozen_params),
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_safetensors_roundtrip),
        cmocka_unit_test(test_safetensors_malformed),
        cmocka_unit_test(test_safetensors_strict),
        cmocka_unit_test(test_safetensors_checksum),
        cmocka_unit_test(test_atomic_concurrent_writers),
        cmocka_unit_test(test_atomic_killed_writer),
    };
    return cmocka_run_group_tests_name("engine", tests, setup, teardown);
}
