/* checkpoint.h — everything a run needs to continue exactly where it stopped, in one
 * safetensors file: every parameter of every block ("param.<name>"; block i > 0:
 * "param<i>.<name>"), AdamW's moments of the trained blocks ("adam_m.<name>", "adam_v.<name>",
 * likewise numbered), the metrics history ("metrics", rows × columns), the lesson's counters,
 * and in its metadata the lesson, the step, each AdamW's step count ("adam_step",
 * "adam_step<i>"), the RNG's state and the settings. A resumed run then
 * draws the same batches and makes the same updates as an uninterrupted one: the same
 * losses, bit for bit.
 *
 * A checkpoint is untrusted input (students pass them around): it is read once, whole, and
 * must carry the checksum of safetensors.h, so a damaged file or one mixed from two runs is
 * refused. Loading then checks every value before the run uses it: integers are whole decimal
 * numbers, the step equals the metrics history's rows, each AdamW step lies in 0..step, the
 * RNG's increment is odd, tensors have exactly the model's shapes, weights and moments are
 * finite (second moments >= 0), counters lie in 0..2^53. The settings go through the command
 * line's own checks (kit.c). Every error names the file and the value. */
#ifndef FMLAB_CHECKPOINT_H
#define FMLAB_CHECKPOINT_H

#include "engine/engine.h"
#include "lessons/common/metrics.h"

#define CHECKPOINT_MAX_BLOCKS 4
/* counters are counts of events (tokens, steps): far below this, which a double holds exactly */
#define CHECKPOINT_MAX_COUNT (INT64_C(1) << 53)

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
       history), or NULLs; load: read them back with checkpoint_read_extra */
    const char *table_name, *meta_key, *meta;
    const float *table;
    int64_t table_rows, table_cols;
} CheckpointState;

int checkpoint_save(const char *path, const CheckpointState *s, char *err, size_t errlen);

/* A checkpoint read into memory and checked as a file: a safetensors file of fmlab with a
 * matching checksum, the lesson's name and all of its metadata present. */
typedef struct CheckpointFile {
    SafeTensors st;
    const char *path;            /* borrowed */
} CheckpointFile;
/* 0, or -1 with a message naming the path (missing, not a file, corrupt, another lesson).
 * lesson NULL: a checkpoint of any lesson (the caller reads st_metadata "lesson"). */
int checkpoint_open(CheckpointFile *f, const char *path, const char *lesson, char *err, size_t errlen);
void checkpoint_close(CheckpointFile *f);
/* The saved settings (a JSON object, owned by f): they shape the model before checkpoint_load. */
const char *checkpoint_settings(const CheckpointFile *f);
/* Loads into s (whose ParamBlock and Metrics are already shaped). 0, or -1 with a message
 * naming the file and what is wrong; s may then be partly overwritten. */
int checkpoint_load(const CheckpointFile *f, CheckpointState *s, char *err, size_t errlen);
/* A table saved with the checkpoint (rows × cols, malloc'd into *data, NULL when absent) and
 * a metadata string (malloc'd, or NULL). 0, or -1 with a message. */
int checkpoint_read_extra(const CheckpointFile *f, const char *table_name, float **data, int64_t *rows, int64_t *cols,
                          const char *meta_key, char **meta, char *err, size_t errlen);
/* A whole decimal number in 0..max and nothing else (no sign, space or exponent). */
bool checkpoint_parse_u64(const char *s, uint64_t max, uint64_t *out);

#endif
