/* metrics.c — the step history. */
#define _POSIX_C_SOURCE 200809L
#include "lessons/common/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/common.h"

void metrics_init(Metrics *m, int ncols, const char *const *names)
{
    ENGINE_CHECK(ncols > 0 && ncols <= METRICS_MAX_COLS, "metrics: %d columns", ncols);
    memset(m, 0, sizeof *m);
    m->ncols = ncols;
    for (int i = 0; i < ncols; i++) m->names[i] = names[i];
}

void metrics_free(Metrics *m)
{
    free(m->data);
    m->data = NULL;
    m->rows = m->cap = 0;
}

int metrics_append(Metrics *m, const float *row)
{
    if (m->rows == m->cap) {
        long cap = m->cap ? 2 * m->cap : 1024;
        float *d = realloc(m->data, (size_t)cap * (size_t)m->ncols * sizeof *d);
        if (!d) return -1;
        m->data = d;
        m->cap = cap;
    }
    memcpy(m->data + m->rows * m->ncols, row, (size_t)m->ncols * sizeof *row);
    m->rows++;
    return 0;
}

int metrics_col(const Metrics *m, const char *name)
{
    for (int i = 0; i < m->ncols; i++)
        if (!strcmp(m->names[i], name)) return i;
    return -1;
}

static bool write_csv(FILE *f, const void *ctx)
{
    const Metrics *m = ctx;
    fprintf(f, "step");
    for (int c = 0; c < m->ncols; c++) fprintf(f, ",%s", m->names[c]);
    fputc('\n', f);
    for (long r = 0; r < m->rows; r++) {
        fprintf(f, "%ld", r + 1);
        for (int c = 0; c < m->ncols; c++) {
            float v = metrics_get(m, r, c);
            if (isnan(v)) fputc(',', f);
            else fprintf(f, ",%.9g", (double)v);
        }
        if (fputc('\n', f) == EOF) return false;
    }
    return true;
}

int metrics_write_csv(const Metrics *m, const char *path, char *err, size_t errlen)
{
    return engine_write_atomic(path, write_csv, m, err, errlen);
}
