/* fmlab.c — the launcher: `fmlab` lists the lessons in lecture order; `fmlab <lesson> [flags]`
 * runs one. Each lesson is its own program, fmlab-<lesson>, next to this one. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "engine.h"

typedef struct Lesson {
    const char *name;
    const char *title;
    const char *summary;
} Lesson;

/* Lecture order. A lesson appears here once its program exists. */
static const Lesson lessons[] = {
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fmlab [<lesson> [flags]]\n"
            "  with no argument, lists the lessons in lecture order\n"
            "  -h, --help     this text\n"
            "  --version      the version\n");
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("fmlab %s\n", FMLAB_VERSION);
        return 0;
    }
    int n = 0;
    for (const Lesson *l = lessons; l->name; l++) n++;
    if (argc > 1) {
        fprintf(stderr, "fmlab: no lesson named \"%s\"%s\n", argv[1],
                n ? "" : " (no lesson is built yet)");
        return 2;
    }
    printf("fmlab %s: foundation-model pretraining, one lesson per objective.\n", FMLAB_VERSION);
    printf("engine: matmul kernel %s, %d thread%s\n", engine_kernel_name(), engine_threads(),
           engine_threads() == 1 ? "" : "s");
    if (!n) printf("No lesson is built yet: the engine and its test suites are.\n");
    for (const Lesson *l = lessons; l->name; l++) printf("  %-10s %s: %s\n", l->name, l->title, l->summary);
    return 0;
}
