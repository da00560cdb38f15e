/* pretrained.h — a lesson that starts from another lesson's model (finetune's encoder,
 * distil's teacher): read it from a checkpoint that lesson wrote with --save, or build it
 * once by running that lesson's program and keep it in the user's cache.
 *
 * Reading: the checkpoint's lesson must be one the caller accepts, its model settings must
 * equal the run's (a mismatch is an error naming both values and the --set that takes the
 * file's), and every parameter of the model must be in it with its shape and finite values.
 * A model that shared its lesson's parameter block is found under the prefix it was declared
 * with there: fmlab-electra's discriminator (MODEL_ELECTRA_DISC) as
 * "param.discriminator/electra.…", its generator ignored; it is read with embedding_size =
 * hidden_size, as that lesson builds it. Every other kind is read as "param.<name>".
 * Building: `fmlab-<lesson> --headless --steps N --seed S --set ... --save FILE` beside this
 * program, its progress shown as a bar on stderr; the file goes to
 * $XDG_CACHE_HOME/fmlab (else ~/.cache/fmlab) under a name made of its settings, and a file
 * there whose settings do not match its name is built again, never used. */
#ifndef FMLAB_LESSONS_PRETRAINED_H
#define FMLAB_LESSONS_PRETRAINED_H

#include "lessons/common/kit.h"

#define KIT_PRETRAINED_KEYS 8

/* What to build and how: the lesson whose program builds it, the model it makes, and the
 * settings passed with --set (model keys and lesson keys, by name). */
typedef struct KitPretrainSpec {
    const char *lesson;              /* "mlm" */
    ModelKind kind;                  /* MODEL_BERT_MLM */
    long steps;
    uint64_t seed;
    double lr;                       /* --lr; 0: that lesson's default */
    int nkeys;
    const char *key[KIT_PRETRAINED_KEYS];
    double value[KIT_PRETRAINED_KEYS];
} KitPretrainSpec;

/* A model read from a checkpoint: its own parameter block, weights only. */
typedef struct KitPretrained {
    Model model;
    ParamBlock pb;
    char lesson[32];                 /* the lesson that wrote it */
    long step;                       /* its training steps */
    int seq_len;                     /* the sequence length it was trained at (0: not recorded) */
    char path[4096];
} KitPretrained;

/* Reads the model of a checkpoint of one of `lessons` (NULL-terminated, with the model kind
 * of each in kinds). The model keys named in `keys` (NULL-terminated: "vocab_size",
 * "hidden_size", ...) must have the run's values. 0, or -1 with a one-line message in err. */
int kit_pretrained_read(Run *r, const char *path, const char *const *lessons, const ModelKind *kinds,
                        const char *const *keys, KitPretrained *out, char *err, size_t errlen);
void kit_pretrained_free(KitPretrained *p);
/* The cache file for spec (the folder is made if missing): 0, or -1 with a message. */
int kit_cache_path(const KitPretrainSpec *spec, char *path, size_t n, char *err, size_t errlen);
/* Builds the model of spec into path by running the lesson's program (progress on stderr,
 * the file renamed into place only when whole). 0, or -1 with a message. */
int kit_pretrain(Run *r, const KitPretrainSpec *spec, const char *path, char *err, size_t errlen);
/* The cache file for spec, built when it is missing or does not match (another program
 * building the same file at the same time is waited for, not raced: a lock beside it).
 * *built says whether this call built it. 0, or -1 with a message. */
int kit_pretrained_cached(Run *r, const KitPretrainSpec *spec, char *path, size_t n, bool *built, char *err, size_t errlen);
/* The model a lesson starts from, the whole way: the file of its own flag (--pretrained,
 * --teacher: r->opt.model_file) read as kit_pretrained_read does, else spec's cache file, built
 * when missing or not matching. The spec's settings are `keys` (the run's values) and seq_len,
 * so every position the lesson reads was trained; spec's lesson, kind, steps, seed and lr are
 * the caller's. *built says whether this run built it. -1 to go on, or an exit status with
 * the message printed (2 for a bad file of the flag). */
int kit_pretrained_load(Run *r, KitPretrainSpec spec, const char *const *lessons, const ModelKind *kinds,
                        const char *const *keys, KitPretrained *out, bool *built);
/* Progress of a build while a window program starts (the window build sets it, view.h):
 * called at each progress line of the building program with its step, total and loss, and
 * once with total -1 when the build is over. Returns false when the student closed the
 * window, which stops the build. NULL (headless, or no window in this build): the bar on
 * stderr only. */
typedef bool (*KitProgressFn)(const Run *r, const char *what, long step, long total, double loss);
extern KitProgressFn kit_progress_window;
/* Whether the checkpoint at path has spec's lesson, step count and settings. */
bool kit_pretrained_matches(const KitPretrainSpec *spec, const char *path);

#endif
