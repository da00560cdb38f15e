/* common.c — engine_fail and the thread setting. */
#include "common.h"

#include <stdarg.h>
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
