/* fuzz_runtime.c — any bytes as a lesson's command line (lessons/common/runtime.h
 * runtime_parse with fmlab-mlm's LessonInfo): the input split at NUL bytes into arguments
 * after "fmlab-mlm", so a value may hold newlines, escapes or invalid UTF-8. The parse either
 * stops with an exit status of CLI.md (0 after --help or --version, 2 after a usage error) or
 * accepts, and then every setting is inside the range of its key (whole for integer keys)
 * and every option inside its documented range. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lessons/mlm/lesson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;   /* a command line, not a file */
    char *buf = fuzz_string(data, size);
    int argc = 1;
    for (size_t i = 0; i < size; i++) argc += buf[i] == 0;
    argc += 1;
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    if (!argv) abort();
    int n = 0;
    argv[n++] = "fmlab-mlm";
    for (size_t i = 0; i <= size; i += strlen(buf + i) + 1) argv[n++] = buf + i;
    argv[n] = NULL;

    const LessonInfo *info = &mlm_lesson.info;
    RunOptions o;
    int rc = runtime_parse(n, argv, info, &o);
    if (rc != -1 && rc != EXIT_OK && rc != EXIT_USAGE) abort();
    if (rc == -1) {
        for (int i = 0; i < info->nkeys; i++) {
            const KeyDef *k = &info->keys[i];
            double v = o.value[i];
            if (!(v >= k->min && v <= k->max) || (k->integer && v != floor(v))) abort();
        }
        if (o.batch < 1 || o.batch > 4096 || !(o.lr > 0 && o.lr <= 10) || o.steps < 0 || o.width < 640 ||
            o.height < 400 || o.width > 8192 || o.height > 8192 || !(o.font_scale >= 0.5f && o.font_scale <= 4) ||
            o.threads < 0 || o.threads > 256)
            abort();
    }
    free(argv);
    free(buf);
    return 0;
}
