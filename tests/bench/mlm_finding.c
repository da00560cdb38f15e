/* mlm_finding.c — the lesson's headline in miniature, for three seeds: after how many steps
 * does the held-out masked-token loss drop below the unigram entropy (the loss of knowing
 * only token frequencies) for good, and the accuracy rise above the unigram baseline (always
 * the most frequent token) for good? "For good": the first evaluation from which every later
 * one stays on the right side of the line. Evaluated every 25 steps on the fixed held-out
 * set, up to 3000 steps. And the step at which a head first puts half its attention on the
 * neighbouring token (the window's word-order breakpoint): the end of the plateau.
 *   mlm_finding [max_steps] */
#include <stdio.h>
#include <stdlib.h>

#include "lessons/mlm/lesson.h"

int main(int argc, char **argv)
{
    long max_steps = argc > 1 ? atol(argv[1]) : 3000;
    const LessonInfo *in = &mlm_lesson.info;
    printf("fmlab-mlm at its defaults (BERT %gx%g, %g heads, batch %d x %g tokens, lr %g), Moby-Dick\n",
           in->keys[runtime_key_index(in, "num_hidden_layers")].def, in->keys[runtime_key_index(in, "hidden_size")].def,
           in->keys[runtime_key_index(in, "num_attention_heads")].def, in->default_batch,
           in->keys[runtime_key_index(in, "seq_len")].def, (double)in->default_lr);
    printf("%-5s %-10s %-12s %-22s %-26s %-20s %s\n", "seed", "unigram H", "unigram acc", "loss < H for good from",
           "accuracy > unigram from", "word order found at", "held-out loss / accuracy at the end");
    for (int seed = 1; seed <= 3; seed++) {
        RunOptions o;
        char sb[16];
        snprintf(sb, sizeof sb, "%d", seed);
        char *args[] = {"fmlab-mlm", "--headless", "--seed", sb, NULL};
        if (runtime_parse(4, args, &mlm_lesson.info, &o) >= 0) return 1;
        static Run L;
        if (kit_init(&L, &mlm_lesson, &o) >= 0) return 1;
        double H = L.refs[REF_UNIGRAM_ENTROPY], U = L.refs[REF_UNIGRAM_ACCURACY];
        long loss_step = -1, acc_step = -1;
        float el = 0, ea = 0;
        char what[128];
        for (long s = 1; s <= max_steps; s++) {
            kit_next_batch(&L);
            bool div;
            kit_step(&L, true, &div, what, sizeof what);
            if (s % 25) continue;
            float extra[KIT_MAX_EXTRA];
            kit_evaluate(&L, extra);
            el = extra[MLM_EVAL_LOSS];
            ea = extra[MLM_EVAL_ACCURACY];
            if (el < H) { if (loss_step < 0) loss_step = s; }
            else loss_step = -1;
            if (ea > U) { if (acc_step < 0) acc_step = s; }
            else acc_step = -1;
        }
        char a[64], b[64], c[64], d[64];
        snprintf(d, sizeof d, L.order_found ? "%ld" : "not within %ld", L.order_found ? L.order_found : max_steps);
        snprintf(a, sizeof a, loss_step > 0 ? "%ld" : "not within %ld", loss_step > 0 ? loss_step : max_steps);
        snprintf(b, sizeof b, acc_step > 0 ? "%ld" : "not within %ld", acc_step > 0 ? acc_step : max_steps);
        snprintf(c, sizeof c, "%.3f / %.1f%%", (double)el, 100.0 * ea);
        char u[16];
        snprintf(u, sizeof u, "%.1f%%", 100 * U);
        printf("%-5d %-10.3f %-12s %-22s %-26s %-20s %s\n", seed, H, u, a, b, d, c);
        fflush(stdout);
        kit_free(&L);
    }
    return 0;
}
