/* checkpoint.h — everything a run needs to continue exactly where it stopped, in one
 * safetensors file: every parameter of every block ("param.<name>"; block i > 0:
 * "param<i>.<name>"), AdamW's moments of the trained blocks ("adam_m.<name>", "adam_v.<name>",
 * likewise numbered), the metrics history ("metrics", rows × columns), the lesson's counters,
 * and in its metadata the lesson, the step, each AdamW's step count ("adam_step",
 * "adam_step<i>"), the RNG's state and the settings. A resumed run then
 * draws the same batches and makes the same updates as an uninterrupted one: the same
 * losses, bit for bit. */
#ifndef FMLAB_CHECKPOINT_H
#define FMLAB_CHECKPOINT_H

#include "engine/engine.h"
#include "lessons/common/metrics.h"

#define CHECKPOINT_MAX_BLOCKS 4

typedef struct CheckpointState {
    const char *lesson;
    long step;
    int nblocks;
    ParamBlock *pb[CHECKPOINT_MAX_BLOCKS];
    AdamW *opt[CHECKPOINT_MAX_BLOCKS];   /* NULL: a frozen block (weights only) */
    Rng *rng;
    Metrics *metrics;
    const char *settings_json;   /* save: the settings; load: ignored */
    int64_t *counters;           /* a lesson's running counts (saved and restored), or NULL */
    int ncounters;
    /* save: one more table and one more metadata string of the caller's (the word-order
       history), or NULLs; load: read them back with checkpoint_read_table */
    const char *table_name, *meta_key, *meta;
    const float *table;
    int64_t table_rows, table_cols;
} CheckpointState;

/* Only the saved settings (to shape the model before checkpoint_load). malloc'd. */
int checkpoint_read_settings(const char *path, char **settings_json, char *err, size_t errlen);
int checkpoint_save(const char *path, const CheckpointState *s, char *err, size_t errlen);
/* Loads into s (whose ParamBlock and Metrics are already shaped). *settings_json receives a
 * malloc'd copy of the saved settings for the caller to compare. 0, or -1 with a message
 * (missing, corrupt, another lesson, another model shape). */
int checkpoint_load(const char *path, CheckpointState *s, char **settings_json, char *err, size_t errlen);

/* A table saved with the checkpoint (rows × cols, malloc'd into *data, NULL when absent) and
 * a metadata string (malloc'd, or NULL). 0, or -1 with a message. */
int checkpoint_read_extra(const char *path, const char *table_name, float **data, int64_t *rows, int64_t *cols,
                          const char *meta_key, char **meta, char *err, size_t errlen);

#endif
