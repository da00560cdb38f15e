/* common.c — engine_fail and the thread setting. */
#include "common.h"

#include <math.h>

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef FMLAB_OPENMP
#include <omp.h>
#endif

void engine_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fmlab engine: %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

int engine_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

int engine_write_atomic(const char *path, EngineWriteFn write, const void *ctx, char *err, size_t errlen)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return engine_error(err, errlen, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return engine_error(err, errlen, "%s: %s", path, strerror(errno));
    bool ok = write(f, ctx) && !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return engine_error(err, errlen, "%s: write failed: %s", path, e ? strerror(e) : "short write");
    }
    return 0;
}

static bool write_text(FILE *f, const void *text) { return fputs(text, f) >= 0; }

int engine_write_text_atomic(const char *path, const char *text, char *err, size_t errlen)
{
    return engine_write_atomic(path, write_text, text, err, errlen);
}

void engine_set_threads(int n)
{
#ifdef FMLAB_OPENMP
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

int engine_threads(void)
{
#ifdef FMLAB_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

double engine_json_float(float x)
{
    if (!isfinite(x)) return x;
    char buf[32];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)x);
        if (strtof(buf, NULL) == x) return strtod(buf, NULL);
    }
    return x;
}
