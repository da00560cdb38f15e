/* trained.h — a model of the lesson trained long past its turning point, shipped with the
 * lesson so the window can show it next to the live one: its attention on the batch on
 * screen and its answers to the probe.
 *
 * lessons/<name>/trained/ is a trimmed export of the lesson's own program (EXPORT.md): the
 * first model's folder (config.json, model.safetensors, vocab.txt), lesson.json (its step
 * and settings), metrics.csv (its held-out rows) and PROVENANCE.md (the command that made it,
 * regenerate.sh re-runs it). */
#ifndef FMLAB_LESSONS_TRAINED_H
#define FMLAB_LESSONS_TRAINED_H

#include <stdbool.h>

#include "lessons/common/kit.h"

struct KitTrained {
    bool ok;                 /* loaded and comparable with this run */
    char why[256];           /* else: why not, in a sentence for the screen */
    Model model;
    ParamBlock pb;
    Vocab vocab;
    Tape tape;               /* its forward passes (no gradients) */
    long step;               /* optimizer steps it was trained for */
    int seq_len;             /* the sequence length it was trained at */
    double eval_loss, eval_accuracy;   /* its last held-out figures (NaN if none) */
    char label[96];          /* "trained 12000 steps" */
};

/* Loads lessons/<name>/trained/ of the run's lesson (its first model's kind). On any failure
 * t->ok is false and t->why says what is missing or different (another vocabulary, a
 * shorter sequence length); nothing is printed. */
void kit_trained_load(KitTrained *t, const Run *r);
void kit_trained_free(KitTrained *t);
/* r->trained, loaded once (the window and the PNG renderer call it; kit_free frees it). */
KitTrained *kit_trained(Run *r);
/* Its forward on one sequence (1 × n ids): the attention of every layer, (1, NH, n, n) each,
 * valid until the next call. NULL when not ok or n is longer than it was trained for. */
float **kit_trained_attention(KitTrained *t, const int32_t *ids, int n);

#endif
