/* runtime.h — what every lesson program shares: the command line of docs/CLI.md,
 * the settings (Hugging Face model keys and the lesson's own keys, each with a range), where
 * the shipped data lives, progress on the terminal, and the files a run writes (export,
 * checkpoint, screenshot), always to a temporary name renamed into place.
 *
 * A lesson describes itself in a LessonInfo (name, keys, defaults), the first member of its
 * Lesson (kit.h); the kit keeps the rest of the contract with these functions. */
#ifndef FMLAB_RUNTIME_H
#define FMLAB_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/engine.h"

/* Exit statuses of CLI.md */
enum { EXIT_OK = 0, EXIT_INTERNAL = 1, EXIT_USAGE = 2, EXIT_DIVERGED = 3 };

#define MAX_KEYS 32

/* --size's range, in pixels: the window and the screenshot drawn offscreen at that size */
#define RUNTIME_MIN_WIDTH 640
#define RUNTIME_MIN_HEIGHT 400
#define RUNTIME_MAX_SIZE 8192

/* One --set key: model keys use Hugging Face config names; lesson keys are the lesson's. */
typedef struct KeyDef {
    const char *name;
    double def, min, max;
    bool integer;
    const char *help;
    /* a setting that is one of a few named choices (NULL-terminated; NULL: a number). Its
       value is the index (min 0, max the last index, integer); --set and lesson.json use the
       name ("objective=sop"), checkpoints the index. */
    const char *const *choices;
} KeyDef;
/* The name of a choice setting's value ("sop"), or NULL for a number setting. */
const char *runtime_choice_name(const KeyDef *k, double v);

typedef struct LessonInfo {
    const char *name;          /* "mlm": the program is fmlab-mlm */
    const char *title;         /* "BERT masked language model" */
    const char *summary;       /* one line for --help and the launcher */
    const KeyDef *keys;        /* model keys first, then lesson keys */
    int nkeys;
    int default_batch;
    float default_lr;
    /* a lesson that starts from another model takes it with a flag of its own ("pretrained":
       --pretrained FILE), or NULL; its line in --help */
    const char *model_flag;
    const char *model_flag_help;
    /* when a training loss counts as divergence, for --help ("rose above ..."); NULL: 3 × ln(V);
       "": no bound on the loss (only NaN and Inf) */
    const char *diverge_rule;
} LessonInfo;

typedef struct RunOptions {
    uint64_t seed;
    long steps;
    int batch;
    float lr;
    bool headless;
    const char *export_dir;
    bool force;
    const char *screenshot;
    bool no_screenshot;
    const char *save, *resume;
    int width, height;
    bool fullscreen;
    float font_scale;
    int threads;
    bool describe;             /* --describe: print the lesson's tables and exit */
    const char *model_file;    /* the lesson's model flag's FILE (--pretrained), or NULL */
    int lang;                  /* --lang: 0 en, 1 ko (notes and the window's words) */
    bool seed_set, batch_set, lr_set;   /* given on the command line */
    double value[MAX_KEYS];    /* one per LessonInfo key, in order */
    bool set[MAX_KEYS];        /* given with --set */
} RunOptions;

/* Parses argv. Returns -1 to go on; otherwise the exit status to leave with (0 after
 * --help/--version, 2 after a usage error, whose one-line message is already printed). */
int runtime_parse(int argc, char **argv, const LessonInfo *info, RunOptions *o);
void runtime_usage(const LessonInfo *info, FILE *f);
/* The value of a key by name (the key must exist: a programmer error otherwise). */
double runtime_value(const LessonInfo *info, const RunOptions *o, const char *name);
int runtime_key_index(const LessonInfo *info, const char *name);
/* The one check of a setting's value, for the command line and for a resumed checkpoint's
 * settings alike: name is "batch" (--batch), "lr" (--lr) or one of the lesson's keys. 0 when
 * v is a valid value (finite, in range, whole where it must be); otherwise -1 and err says
 * which values are ("num_attention_heads takes a whole number from 1 to 32"). NaN, for a
 * value that is not a number at all, always fails. */
int runtime_check_setting(const LessonInfo *info, const char *name, double v, char *err, size_t errlen);
/* --seed's value: a whole decimal number from 0 to 2^64-1 and nothing else. */
bool runtime_parse_seed(const char *s, uint64_t *out);
/* A usage error: "fmlab-<lesson>: <message> (see fmlab-<lesson> --help)" on stderr, escaped as
 * runtime_message does; returns EXIT_USAGE. */
int runtime_usage_error(const LessonInfo *info, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "<prog>: <message>" and a newline on stderr, the message passed through runtime_escape: every
 * message that quotes a flag value, a path or text read from a file is printed this way, so
 * that it stays one line and cannot drive the terminal. */
void runtime_message(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s made safe to print: newline, carriage return and tab as \n \r \t, other control bytes and
 * bytes that are not well-formed UTF-8 as \xNN, C1 controls, line separators and bidirectional
 * controls as \uNNNN; other text, UTF-8 included, unchanged. Cut short (never inside a sequence)
 * to fit outlen, which should be 4 times strlen(s) + 8 to hold all of it. Returns out. */
const char *runtime_escape(const char *s, char *out, size_t outlen);

/* The folder of the shipped datasets (datasets/ of the source tree, or the installed
 * share/fmlab/datasets), or NULL with a message in err. FMLAB_DATA overrides. */
const char *runtime_data_dir(char *err, size_t errlen);
/* The folder of the lesson notes and assets likewise (lessons/ and assets/ roots). */
const char *runtime_source_dir(void);

/* Headless progress on stderr: a bar with step, loss, steps/s and ETA on a terminal, a
 * plain line every tenth of the run otherwise. */
void runtime_progress(long step, long total, double loss, double seconds);

/* Export directory handling (EXPORT.md): the directory must not exist or be empty unless
 * force. export_begin removes what killed runs left of earlier exports to dir (below), makes a
 * fresh temporary sibling directory and returns its path; export_commit renames it into place.
 * Under force a non-empty dir is swapped with the new one in one step (renameat2's
 * RENAME_EXCHANGE), so an interruption leaves dir whole, old or new; where the file system
 * cannot swap, export_commit_aside moves the old dir to dir.old-<pid>-XXXXXX first, and the
 * next export to dir puts it back if the run died before the new one was in place. */
int export_check_target(const char *dir, bool force, char *err, size_t errlen);
int export_begin(const char *dir, char *tmp, size_t tmplen, char *err, size_t errlen);
int export_commit(const char *tmp, const char *dir, bool force, char *err, size_t errlen);
int export_commit_aside(const char *tmp, const char *dir, char *err, size_t errlen);
void export_abort(const char *tmp);

/* Temporaries of a file or folder target are named <target>.<kind>-<pid>-XXXXXX (kind "tmp",
 * or "old" for an export moved aside), in target's folder. runtime_stale_name writes such a
 * name for mkstemp/mkdtemp (-1 with errno ENAMETOOLONG if it does not fit). runtime_stale_sweep
 * removes target's temporaries whose process no longer runs (a run killed with SIGKILL or a
 * power cut cannot clean up after itself), if they belong to this user; a link is removed,
 * never followed; an "old" folder goes back to target if target is missing. Returns how many
 * it removed or put back. Processes are told apart by pid only: a folder that two machines
 * share can lose the other machine's temporary, and that run then fails with an error. */
int runtime_stale_name(char *buf, size_t n, const char *target, const char *kind);
int runtime_stale_sweep(const char *target);
/* Checks that a file can be created at path (its folder exists and is writable). */
int check_writable(const char *path, char *err, size_t errlen);

/* Monotonic seconds, for progress and benchmarks only: never for anything that changes a
 * number of the run. */
double runtime_seconds(void);

#endif
