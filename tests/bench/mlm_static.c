/* mlm_static.c — RoBERTa's static against dynamic masking (Liu et al. 2019, Table 1), in
 * miniature: fmlab-mlm at its defaults trained on a small fixed set of windows for many
 * epochs, once with one mask per window for the whole run (masking=static, as the original
 * BERT's data had them) and once with a fresh mask at every draw (masking=dynamic), from the
 * same seed, so both see the same windows in the same order and differ only in their masks.
 *
 * For each run it prints:
 *   train loss     the masked-token loss of the last epoch's batches, as trained on;
 *   fresh masks    the loss on the same training windows with masks never seen (a few
 *                  batches after the run): the part of the train loss that was the masks
 *                  memorised, not the text;
 *   held-out       the loss and accuracy on the lesson's held-out set (other chapters, their
 *                  own masks) at the end, and its lowest value during the run with the epoch.
 * A last pair of runs trains on the whole text (train_windows=0) for the same steps: there
 * windows almost never come again, so static and dynamic masking should not differ.
 *   mlm_static [windows] [epochs] [seeds] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "lessons/mlm/lesson.h"

typedef struct Result {
    double train_loss, train_acc, fresh_loss, fresh_acc, eval_loss, eval_acc, best_loss;
    long best_step;
} Result;

/* One run of `steps` steps; its last `epoch` steps are the last epoch of the train figures. */
static int run(int seed, int masking, int windows, long steps, long epoch, Result *out)
{
    RunOptions o;
    char sb[16], sw[32], ss[24];
    snprintf(sb, sizeof sb, "%d", seed);
    snprintf(sw, sizeof sw, "train_windows=%d", windows);
    snprintf(ss, sizeof ss, "%ld", steps);
    char *args[] = {"fmlab-mlm", "--headless", "--threads", "1", "--seed", sb, "--steps", ss, "--set", sw, "--set",
                    masking == MASKING_STATIC ? "masking=static" : "masking=dynamic", NULL};
    if (runtime_parse(12, args, &mlm_lesson.info, &o) >= 0) return -1;
    static Run L;
    if (kit_init(&L, &mlm_lesson, &o) >= 0) return -1;
    Mlm *m = KIT_SELF(&L, Mlm);
    double tl = 0, ta = 0;
    long tn = 0;
    *out = (Result){.best_loss = INFINITY};
    char what[128];
    for (long s = 1; s <= steps; s++) {
        kit_next_batch(&L);
        bool div;
        float l = kit_step(&L, true, &div, what, sizeof what);
        if (div) {
            fprintf(stderr, "%s\n", what);
            kit_free(&L);
            return -1;
        }
        if (s > steps - epoch) { /* the last epoch */
            tl += l;
            ta += L.extra[MLM_ACCURACY];
            tn++;
        }
        if (s % L.eval_every && s != steps) continue;
        float extra[KIT_MAX_EXTRA];
        kit_evaluate(&L, extra);
        if (extra[MLM_EVAL_LOSS] < out->best_loss) out->best_loss = extra[MLM_EVAL_LOSS], out->best_step = s;
        out->eval_loss = extra[MLM_EVAL_LOSS];
        out->eval_acc = extra[MLM_EVAL_ACCURACY];
    }
    out->train_loss = tl / (double)tn;
    out->train_acc = ta / (double)tn;
    /* the same windows with masks the run never saw: draws of the dynamic kind, looked at
       without training (the run is over, so the batches they take from the RNG change nothing) */
    m->masking = MASKING_DYNAMIC;
    double fl = 0, fa = 0;
    int nf = 8;
    for (int i = 0; i < nf; i++) {
        kit_next_batch(&L);
        bool div;
        fl += kit_step(&L, false, &div, what, sizeof what);
        fa += L.extra[MLM_ACCURACY];
    }
    out->fresh_loss = fl / nf;
    out->fresh_acc = fa / nf;
    kit_free(&L);
    return 0;
}

/* epoch 0: the lowest held-out loss is placed by its step, not its epoch */
static void print_row(int seed, const char *name, const Result *r, long epoch)
{
    char best[48];
    if (epoch) snprintf(best, sizeof best, "%.3f (epoch %.0f)", r->best_loss, (double)r->best_step / (double)epoch);
    else snprintf(best, sizeof best, "%.3f (step %ld)", r->best_loss, r->best_step);
    printf("%-5d %-8s %6.3f / %4.1f%%   %6.3f / %4.1f%%   %6.3f / %4.1f%%   %s\n", seed, name, r->train_loss,
           100 * r->train_acc, r->fresh_loss, 100 * r->fresh_acc, r->eval_loss, 100 * r->eval_acc, best);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int windows = argc > 1 ? atoi(argv[1]) : 256, epochs = argc > 2 ? atoi(argv[2]) : 100;
    int seeds = argc > 3 ? atoi(argv[3]) : 3;
    const LessonInfo *in = &mlm_lesson.info;
    int B = in->default_batch;
    long epoch = (windows + B - 1) / B, steps = epoch * epochs;
    printf("fmlab-mlm at its defaults (batch %d x %g tokens, lr %g, one thread), %d training windows of Moby-Dick, "
           "%d epochs (%ld steps)\n", B, in->keys[runtime_key_index(in, "seq_len")].def, (double)in->default_lr, windows,
           epochs, steps);
    printf("loss in nats / accuracy at the selected positions\n");
    printf("%-5s %-8s %-16s %-16s %-16s %s\n", "seed", "masking", "train (last ep.)", "fresh masks", "held-out, end",
           "held-out, lowest");
    double sum[2][2] = {{0}};
    for (int seed = 1; seed <= seeds; seed++)
        for (int k = 0; k < 2; k++) {
            Result r;
            if (run(seed, k, windows, steps, epoch, &r)) return 1;
            print_row(seed, k ? "static" : "dynamic", &r, epoch);
            sum[k][0] += r.eval_loss;
            sum[k][1] += r.eval_acc;
        }
    for (int k = 0; k < 2; k++)
        printf("mean  %-8s held-out at the end %.3f / %.1f%%\n", k ? "static" : "dynamic", sum[k][0] / seeds,
               100 * sum[k][1] / seeds);
    printf("the whole text (train_windows=0), %ld steps, seed 1: windows almost never come again "
           "(train: its last %ld steps)\n", steps, epoch);
    for (int k = 0; k < 2; k++) {
        Result r;
        if (run(1, k, 0, steps, epoch, &r)) return 1;
        print_row(1, k ? "static" : "dynamic", &r, 0);
    }
    return 0;
}
