/* metrics.h — the per-step history a lesson plots and exports as metrics.csv: named columns
 * of floats, one row per optimizer step; NAN marks a value not measured at that step (the
 * held-out loss is measured every few steps), written as an empty CSV cell. */
#ifndef FMLAB_METRICS_H
#define FMLAB_METRICS_H

#include <stddef.h>

#define METRICS_MAX_COLS 24

typedef struct Metrics {
    int ncols;
    const char *names[METRICS_MAX_COLS];   /* borrowed, static strings */
    float *data;                           /* rows × ncols */
    long rows, cap;
} Metrics;

void metrics_init(Metrics *m, int ncols, const char *const *names);
void metrics_free(Metrics *m);
/* Returns -1 when out of memory. */
int metrics_append(Metrics *m, const float *row);
static inline float metrics_get(const Metrics *m, long row, int col) { return m->data[row * m->ncols + col]; }
int metrics_col(const Metrics *m, const char *name);
/* "step,<names...>" then one line per row, step counting from 1; floats with 9 digits. */
int metrics_write_csv(const Metrics *m, const char *path, char *err, size_t errlen);

#endif
