/* metrics.c — the step history. */
#define _POSIX_C_SOURCE 200809L
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

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

int metrics_write_csv(const Metrics *m, const char *path, char *err, size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
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
        fputc('\n', f);
    }
    bool ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}
