/* bench_step.c — one full training step of BertForMaskedLM: forward, backward and AdamW,
 * timed over many steps, on one thread and on two, at two sizes:
 *   lesson: vocab 2000, hidden 64, 2 layers, 4 heads, intermediate 256, seq_len 32, batch 32
 *   big:    vocab 2000, hidden 128, 4 layers, 4 heads, intermediate 512, seq_len 64, batch 32
 * with 15% of the positions labelled. Logits are computed at the labelled positions only
 * (the loss and every gradient are the same as with all positions; fairseq's masked LM does
 * the same); bench_step.py's PyTorch step does the same.
 *
 * Also measured in the same run: the single-thread gemm peak (a 512×512×512 product, best of
 * several), and from it the step's MFU = its matrix-multiply FLOPs / time / that peak. The
 * FLOPs are counted from the shapes: every product of the forward (the four projections and
 * the two feed-forward layers per layer and token, QKᵀ and PV per head, the MLM head at the
 * labelled rows) twice for its multiply-adds, and the backward twice the forward.
 * Every thread count starts from the same weights and batch; the weights after the steps
 * must be the same bits (the engine splits work by output rows only).
 *
 * Prints one line per (config, threads):
 *   fmlab config=lesson threads=1 ms_per_step=X best_ms=X gflop=X mfu=X loss=X arena_peak_mb=X
 * and "gemm_peak_gflops=X", "identical_across_threads=yes|no".
 *   bench_step [steps [config threads]]   (default 100 steps, every config, 1 and 2 threads;
 *   with a config and a thread count only that run: what a profiler wants) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct Config { const char *name; int H, L, NH, I, T, B; } Config;
static const Config configs[] = {
    {"lesson", 64, 2, 4, 256, 32, 32},
    {"big", 128, 4, 4, 512, 64, 32},
};

/* GFLOP of one step: 3 × the forward's multiply-adds × 2 */
static double step_gflop(const Config *c, int V, int labelled)
{
    double tok = (double)c->B * c->T, hs = (double)c->H / c->NH;
    double layer = tok * 2 * (4.0 * c->H * c->H + 2.0 * c->H * c->I)      /* projections, feed-forward */
                   + (double)c->B * c->NH * 2 * (2.0 * c->T * c->T * hs);  /* QKᵀ, PV */
    double head = labelled * 2 * ((double)c->H * c->H + (double)c->H * V);
    return 3 * (c->L * layer + head) / 1e9;
}

/* Best GFLOPS of one thread on a 512³ product (what "one core's gemm" reaches here). */
static double gemm_peak(void)
{
    enum { N = 512 };
    float *A = malloc(sizeof(float) * N * N), *B = malloc(sizeof(float) * N * N), *C = malloc(sizeof(float) * N * N);
    for (int i = 0; i < N * N; i++) { A[i] = (float)(i % 7) * 0.1f; B[i] = (float)(i % 5) * 0.1f; }
    engine_set_threads(1);
    double best = 1e9;
    for (int r = 0; r < 40; r++) {
        double t0 = now();
        gemm(N, N, N, A, N, false, B, N, false, C, N, false);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    free(A); free(B); free(C);
    return 2.0 * N * N * N / best / 1e9;
}

static uint64_t hash_floats(const float *x, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p = (const unsigned char *)x;
    for (size_t i = 0; i < n * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Runs `steps` timed steps (after 5 warm-up ones) of config c on `threads` threads, from the
 * seed's weights; returns the hash of the weights after them. */
static uint64_t run(const Config *c, int threads, int steps, double peak)
{
    ModelConfig cfg = model_config_default(MODEL_BERT_MLM);
    cfg.hidden_size = c->H;
    cfg.num_hidden_layers = c->L;
    cfg.num_attention_heads = c->NH;
    cfg.intermediate_size = c->I;
    cfg.embedding_size = c->H;
    ParamBlock pb;
    params_init(&pb);
    Model m;
    model_init(&m, &cfg, &pb, "", NULL);
    if (!params_finalize(&pb)) exit(1);
    Rng r;
    rng_seed(&r, 1, 0);
    model_init_weights(&m, &r);
    int BT = c->B * c->T;
    int32_t *ids = malloc(sizeof(int32_t) * BT), *rows = malloc(sizeof(int32_t) * BT),
            *targets = malloc(sizeof(int32_t) * BT);
    int n = 0;
    for (int i = 0; i < BT; i++) {
        ids[i] = 5 + (int32_t)rng_below(&r, (uint32_t)cfg.vocab_size - 5);
        if (rng_bernoulli(&r, 0.15f)) { rows[n] = i; targets[n++] = ids[i]; }
    }
    Batch batch = {c->B, c->T, ids, NULL, NULL};
    Tape tp;
    if (!tape_init(&tp, 1024u << 20, 4096)) exit(1);
    AdamW opt = adamw_default();
    engine_set_threads(threads);
    double best = 1e9, total = 0;
    float loss = 0;
    for (int s = -5; s < steps; s++) {
        double t0 = now();
        tape_reset(&tp);
        params_zero_grad(&pb);
        Forward f = {0};
        model_forward(&m, &tp, &batch, &f);
        Tensor *h = op_gather_rows(&tp, f.hidden, rows, n);
        Tensor *l = op_cross_entropy(&tp, model_lm_logits(&m, &tp, h), targets);
        tape_backward(&tp, l);
        adamw_step(&opt, &pb, 1e-4f);
        loss = l->data[0];
        double dt = now() - t0;
        if (s >= 0) { total += dt; if (dt < best) best = dt; }
    }
    double gf = step_gflop(c, cfg.vocab_size, n), ms = 1e3 * total / steps;
    printf("fmlab config=%s threads=%d ms_per_step=%.3f best_ms=%.3f gflop=%.3f mfu=%.3f loss=%.6f "
           "arena_peak_mb=%.1f\n", c->name, threads, ms, 1e3 * best, gf, gf / (ms / 1e3) / peak, (double)loss,
           tp.arena.peak / 1048576.0);
    fflush(stdout);
    uint64_t hash = hash_floats(pb.data, pb.n);
    free(ids); free(rows); free(targets);
    tape_free(&tp);
    model_free(&m);
    params_free(&pb);
    return hash;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 100;
    int all = engine_threads();
    double peak = gemm_peak();
    if (argc > 3) {
        for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++)
            if (strcmp(configs[c].name, argv[2]) == 0) run(&configs[c], atoi(argv[3]), steps, peak);
        return 0;
    }
    printf("gemm_peak_gflops=%.1f kernel=%s\n", peak, engine_kernel_name());
    bool same = true;
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
        int cs = c == 0 ? steps : (steps + 4) / 5; /* the big step is ~15× longer */
        uint64_t h1 = run(&configs[c], 1, cs, peak);
        if (all > 1) same &= run(&configs[c], all < 2 ? all : 2, cs, peak) == h1;
    }
    engine_set_threads(0);
    printf("identical_across_threads=%s\n", same ? "yes" : "no");
    return same ? 0 : 1;
}
