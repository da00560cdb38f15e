/* mlm_finding.c — the lesson's headline in miniature, for three seeds: after how many steps
 * does the held-out masked-token loss drop below the unigram entropy (the loss of knowing
 * only token frequencies) for good, and the accuracy rise above the unigram baseline (always
 * the most frequent token) for good? "For good": the first evaluation from which every later
 * one stays on the right side of the line. Evaluated every 25 steps on the fixed held-out
 * set, up to 3000 steps.
 *   mlm_finding [max_steps] */
#include <stdio.h>
#include <stdlib.h>

#include "lesson.h"

int main(int argc, char **argv)
{
    long max_steps = argc > 1 ? atol(argv[1]) : 3000;
    printf("fmlab-mlm at its defaults (BERT 2x64, 4 heads, batch 32 x 32 tokens, lr 1e-3), Moby-Dick\n");
    printf("%-5s %-10s %-12s %-22s %-26s %s\n", "seed", "unigram H", "unigram acc", "loss < H for good from",
           "accuracy > unigram from", "held-out loss / accuracy at the end");
    for (int seed = 1; seed <= 3; seed++) {
        RunOptions o;
        char sb[16];
        snprintf(sb, sizeof sb, "%d", seed);
        char *args[] = {"fmlab-mlm", "--headless", "--seed", sb, NULL};
        if (runtime_parse(4, args, &mlm_info, &o) >= 0) return 1;
        static Mlm L;
        if (mlm_init(&L, &o) >= 0) return 1;
        long loss_step = -1, acc_step = -1;
        float el = 0, ea = 0;
        char what[128];
        for (long s = 1; s <= max_steps; s++) {
            mlm_next_batch(&L);
            bool div;
            mlm_train_step(&L, true, &div, what, sizeof what);
            if (s % 25) continue;
            mlm_evaluate(&L, &el, &ea);
            if (el < L.unigram_entropy) { if (loss_step < 0) loss_step = s; }
            else loss_step = -1;
            if (ea > L.unigram_accuracy) { if (acc_step < 0) acc_step = s; }
            else acc_step = -1;
        }
        char a[64], b[64], c[64];
        snprintf(a, sizeof a, loss_step > 0 ? "%ld" : "not within %ld", loss_step > 0 ? loss_step : max_steps);
        snprintf(b, sizeof b, acc_step > 0 ? "%ld" : "not within %ld", acc_step > 0 ? acc_step : max_steps);
        snprintf(c, sizeof c, "%.3f / %.1f%%", (double)el, 100.0 * ea);
        char u[16];
        snprintf(u, sizeof u, "%.1f%%", 100 * L.unigram_accuracy);
        printf("%-5d %-10.3f %-12s %-22s %-26s %s\n", seed, L.unigram_entropy, u, a, b, c);
        fflush(stdout);
        mlm_free(&L);
    }
    return 0;
}
