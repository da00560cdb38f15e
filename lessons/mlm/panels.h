/* panels.h — fmlab-mlm's dashboard: a snapshot of the lesson (copied after each step, so
 * the window can draw while the next step trains) and the function that draws it. */
#ifndef FMLAB_MLM_PANELS_H
#define FMLAB_MLM_PANELS_H

#include "lesson.h"
#include "viz.h"

typedef struct MlmView {
    long step;
    int run;                      /* the lesson's reset count: a new run means a new history */
    int B, T, L, NH, V;
    int focus;                    /* which sequence of the batch is shown */
    float loss, accuracy, lr;
    float mlm_probability, mask_replace_prob, random_replace_prob;
    double unigram_entropy, unigram_accuracy;
    int64_t tally[5], eligible;
    int32_t *original, *input, *labels;   /* (T) of the focus sequence */
    uint8_t *kind;
    float *top_p;                 /* (T, TOPK) */
    int32_t *top_id;
    float *attn;                  /* (L, NH, T, T) of the focus sequence */
    float *metrics;               /* rows × NCOLS */
    long rows, rows_cap;
    const Vocab *vocab;           /* read-only after start */
    bool have_batch;
} MlmView;

/* What the window adds on top: interaction state. */
typedef struct MlmUi {
    int layer, head;              /* the enlarged head */
    int notes_scroll;
    bool help, paused, running;
    int steps_per_frame;
    char status[256];             /* a message line (divergence, saved files) */
    bool probing;
    char probe[256];
    int32_t probe_ids[128];
    int probe_len;
    float probe_p[128 * TOPK];
    int32_t probe_id[128 * TOPK];
    int reveal;                   /* exercises whose answers are shown (bit mask) */
    const char *notes;            /* notes.md */
} MlmUi;

int mlm_view_alloc(MlmView *w, const Mlm *L);
void mlm_view_free(MlmView *w);
/* Copies what the dashboard shows out of the lesson (the caller holds the lesson's lock). */
void mlm_view_fill(MlmView *w, const Mlm *L, int focus);
/* Copies a snapshot into another of the same lesson (both allocated by mlm_view_alloc), so
 * that the UI can take the latest under the lock and draw it after releasing the lock. */
void mlm_view_copy(MlmView *dst, const MlmView *src);
void mlm_draw(Viz *v, const MlmView *w, MlmUi *ui);
/* notes.md of the lesson, or a line saying where it was looked for (static storage). */
const char *mlm_notes(void);
/* The engine threads the window's training worker uses (app.c). */
int mlm_window_threads(int requested);

#endif
