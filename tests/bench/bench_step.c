/* bench_step.c — one full training step of BertForMaskedLM at the lesson's size (vocab 2000,
 * hidden 64, 2 layers, 4 heads, intermediate 256, seq_len 32, batch 32, 15% of positions
 * labelled): forward, backward and AdamW, timed over many steps on one thread and on all.
 * Logits are computed at the labelled positions only (the loss and every gradient are the
 * same as with all positions; fairseq's masked LM does the same); bench_step.py's PyTorch
 * step does the same.
 * Prints "fmlab threads=N ms_per_step=X" lines; bench_step.py puts PyTorch beside them. */
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

enum { B = 32, T = 32 };

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 100;
    ModelConfig cfg = model_config_default(MODEL_BERT_MLM);
    ParamBlock pb;
    params_init(&pb);
    Model m;
    model_init(&m, &cfg, &pb, "", NULL);
    if (!params_finalize(&pb)) return 1;
    Rng r;
    rng_seed(&r, 1, 0);
    model_init_weights(&m, &r);
    static int32_t ids[B * T], rows[B * T], targets[B * T];
    int n = 0;
    for (int i = 0; i < B * T; i++) {
        ids[i] = 5 + (int32_t)rng_below(&r, (uint32_t)cfg.vocab_size - 5);
        if (rng_bernoulli(&r, 0.15f)) { rows[n] = i; targets[n++] = ids[i]; }
    }
    Batch batch = {B, T, ids, NULL, NULL};
    Tape tp;
    if (!tape_init(&tp, 256u << 20, 4096)) return 1;
    AdamW opt = adamw_default();
    int all = engine_threads();
    int counts[2] = {1, all};
    for (int c = 0; c < (all > 1 ? 2 : 1); c++) {
        engine_set_threads(counts[c]);
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
        printf("fmlab threads=%d ms_per_step=%.3f best_ms=%.3f loss=%.4f arena_peak_mb=%.1f\n", counts[c],
               1e3 * total / steps, 1e3 * best, (double)loss, tp.arena.peak / 1048576.0);
    }
    tape_free(&tp);
    model_free(&m);
    params_free(&pb);
    return 0;
}
