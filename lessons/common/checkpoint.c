/* checkpoint.c — save and resume. */
#define _POSIX_C_SOURCE 200809L
#include "checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int checkpoint_save(const char *path, const CheckpointState *s, char *err, size_t errlen)
{
    StWriter w;
    st_writer_init(&w);
    char buf[64];
    st_writer_metadata(&w, "format", "fmlab-checkpoint");
    st_writer_metadata(&w, "lesson", s->lesson);
    st_writer_metadata(&w, "version", FMLAB_VERSION);
    snprintf(buf, sizeof buf, "%ld", s->step);
    st_writer_metadata(&w, "step", buf);
    snprintf(buf, sizeof buf, "%" PRId64, s->opt->step);
    st_writer_metadata(&w, "adam_step", buf);
    snprintf(buf, sizeof buf, "%" PRIu64 " %" PRIu64, s->rng->state, s->rng->inc);
    st_writer_metadata(&w, "rng", buf);
    st_writer_metadata(&w, "settings", s->settings_json);
    char **names = calloc((size_t)s->pb->count * 3, sizeof *names);
    int rc = names ? 0 : -1;
    for (int i = 0; i < s->pb->count && rc == 0; i++) {
        const Tensor *t = s->pb->params[i];
        int64_t shape[4];
        for (int k = 0; k < t->ndim; k++) shape[k] = t->shape[k];
        size_t off = (size_t)(t->data - s->pb->data);
        const char *prefix[3] = {"param.", "adam_m.", "adam_v."};
        const float *src[3] = {t->data, s->pb->m + off, s->pb->v + off};
        for (int j = 0; j < 3 && rc == 0; j++) {
            names[i * 3 + j] = malloc(strlen(t->name) + 8);
            if (!names[i * 3 + j]) { rc = -1; break; }
            sprintf(names[i * 3 + j], "%s%s", prefix[j], t->name);
            rc = st_writer_add(&w, names[i * 3 + j], ST_F32, t->ndim, shape, src[j]);
        }
    }
    int64_t mshape[2] = {s->metrics->rows, s->metrics->ncols};
    int64_t cshape[1] = {s->ncounters};
    if (rc == 0 && s->ncounters) rc = st_writer_add(&w, "counters", ST_I64, 1, cshape, s->counters);
    if (rc == 0) rc = st_writer_add(&w, "metrics", ST_F32, 2, mshape, s->metrics->data ? (void *)s->metrics->data : (void *)"");
    if (rc) snprintf(err, errlen, "%s: out of memory", path);
    else rc = st_writer_save(&w, path, err, errlen);
    for (int i = 0; names && i < s->pb->count * 3; i++) free(names[i]);
    free(names);
    st_writer_free(&w);
    return rc;
}

int checkpoint_read_settings(const char *path, char **settings_json, char *err, size_t errlen)
{
    SafeTensors st;
    if (st_load(&st, path, err, errlen)) return -1;
    const char *fmt = st_metadata(&st, "format"), *settings = st_metadata(&st, "settings");
    int rc = 0;
    if (!fmt || strcmp(fmt, "fmlab-checkpoint") || !settings) {
        snprintf(err, errlen, "%s: not an fmlab checkpoint (its metadata is missing)", path);
        rc = -1;
    } else {
        *settings_json = strdup(settings);
    }
    st_free(&st);
    return rc;
}

int checkpoint_load(const char *path, CheckpointState *s, char **settings_json, char *err, size_t errlen)
{
    SafeTensors st;
    if (st_load(&st, path, err, errlen)) return -1;
    int rc = 0;
    const char *fmt = st_metadata(&st, "format"), *lesson = st_metadata(&st, "lesson");
    const char *step = st_metadata(&st, "step"), *astep = st_metadata(&st, "adam_step"), *rng = st_metadata(&st, "rng");
    const char *settings = st_metadata(&st, "settings");
    if (!fmt || strcmp(fmt, "fmlab-checkpoint") || !lesson || !step || !astep || !rng || !settings) {
        snprintf(err, errlen, "%s: not an fmlab checkpoint (its metadata is missing)", path);
        rc = -1;
    } else if (strcmp(lesson, s->lesson)) {
        snprintf(err, errlen, "%s: a checkpoint of lesson %s, not %s", path, lesson, s->lesson);
        rc = -1;
    }
    uint64_t state = 0, inc = 0;
    if (rc == 0 && sscanf(rng, "%" SCNu64 " %" SCNu64, &state, &inc) != 2) {
        snprintf(err, errlen, "%s: bad rng state", path);
        rc = -1;
    }
    char name[300];
    for (int i = 0; i < s->pb->count && rc == 0; i++) {
        const Tensor *t = s->pb->params[i];
        size_t off = (size_t)(t->data - s->pb->data);
        const char *prefix[3] = {"param.", "adam_m.", "adam_v."};
        float *dst[3] = {t->data, s->pb->m + off, s->pb->v + off};
        for (int j = 0; j < 3 && rc == 0; j++) {
            snprintf(name, sizeof name, "%s%s", prefix[j], t->name);
            char inner[256];
            if (st_read_f32(&st, name, dst[j], (int64_t)t->size, inner, sizeof inner)) {
                snprintf(err, errlen, "%s: %s (was it saved with other model settings?)", path, inner);
                rc = -1;
            }
        }
    }
    const StTensor *mt = rc == 0 ? st_find(&st, "metrics") : NULL;
    if (rc == 0 && (!mt || mt->dtype != ST_F32 || mt->ndim != 2 || mt->shape[1] != s->metrics->ncols ||
                    mt->shape[0] != atol(step))) {
        snprintf(err, errlen, "%s: the metrics history does not fit this lesson", path);
        rc = -1;
    }
    if (rc == 0) {
        s->metrics->rows = 0;
        float row[METRICS_MAX_COLS];
        for (int64_t r = 0; r < mt->shape[0] && rc == 0; r++) {
            memcpy(row, (const char *)mt->data + (size_t)r * s->metrics->ncols * sizeof(float),
                   (size_t)s->metrics->ncols * sizeof(float));
            if (metrics_append(s->metrics, row)) { snprintf(err, errlen, "out of memory"); rc = -1; }
        }
    }
    if (rc == 0 && s->ncounters) {
        const StTensor *ct = st_find(&st, "counters");
        if (!ct || ct->dtype != ST_I64 || ct->count != s->ncounters) {
            snprintf(err, errlen, "%s: the lesson's counters are missing", path);
            rc = -1;
        } else {
            memcpy(s->counters, ct->data, (size_t)s->ncounters * sizeof(int64_t));
        }
    }
    if (rc == 0) {
        s->step = atol(step);
        s->opt->step = atoll(astep);
        s->rng->state = state;
        s->rng->inc = inc;
        *settings_json = strdup(settings);
    }
    st_free(&st);
    return rc;
}
