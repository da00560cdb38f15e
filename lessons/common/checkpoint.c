/* checkpoint.c — save and resume. */
#define _POSIX_C_SOURCE 200809L
#include "lessons/common/checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "param.", "adam_m.", "adam_v." for block 0; "param1.", ... for block 1 */
static void tensor_key(char *buf, size_t n, int kind, int block, const char *name)
{
    static const char *const prefix[3] = {"param", "adam_m", "adam_v"};
    if (block) snprintf(buf, n, "%s%d.%s", prefix[kind], block, name);
    else snprintf(buf, n, "%s.%s", prefix[kind], name);
}

static void adam_key(char *buf, size_t n, int block)
{
    if (block) snprintf(buf, n, "adam_step%d", block);
    else snprintf(buf, n, "adam_step");
}

int checkpoint_save(const char *path, const CheckpointState *s, char *err, size_t errlen)
{
    StWriter w;
    st_writer_init(&w);
    char buf[64], key[32];
    st_writer_metadata(&w, "format", "fmlab-checkpoint");
    st_writer_metadata(&w, "lesson", s->lesson);
    st_writer_metadata(&w, "version", FMLAB_VERSION);
    snprintf(buf, sizeof buf, "%ld", s->step);
    st_writer_metadata(&w, "step", buf);
    for (int b = 0; b < s->nblocks; b++) {
        if (!s->opt[b]) continue;
        snprintf(buf, sizeof buf, "%" PRId64, s->opt[b]->step);
        adam_key(key, sizeof key, b);
        st_writer_metadata(&w, key, buf);
    }
    snprintf(buf, sizeof buf, "%" PRIu64 " %" PRIu64, s->rng->state, s->rng->inc);
    st_writer_metadata(&w, "rng", buf);
    st_writer_metadata(&w, "settings", s->settings_json);
    int total = 0;
    for (int b = 0; b < s->nblocks; b++) total += s->pb[b]->count * 3;
    char **names = calloc((size_t)total + 1, sizeof *names);
    int rc = names ? 0 : -1, k = 0;
    for (int b = 0; b < s->nblocks && rc == 0; b++) {
        const ParamBlock *pb = s->pb[b];
        for (int i = 0; i < pb->count && rc == 0; i++) {
            const Tensor *t = pb->params[i];
            int64_t shape[4];
            for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[d];
            size_t off = (size_t)(t->data - pb->data);
            const float *src[3] = {t->data, pb->m + off, pb->v + off};
            for (int j = 0; j < (s->opt[b] ? 3 : 1) && rc == 0; j++) {
                size_t n = strlen(t->name) + 16;
                names[k] = malloc(n);
                if (!names[k]) { rc = -1; break; }
                tensor_key(names[k], n, j, b, t->name);
                rc = st_writer_add(&w, names[k++], ST_F32, t->ndim, shape, src[j]);
            }
        }
    }
    int64_t mshape[2] = {s->metrics->rows, s->metrics->ncols};
    int64_t cshape[1] = {s->ncounters};
    if (rc == 0 && s->ncounters) rc = st_writer_add(&w, "counters", ST_I64, 1, cshape, s->counters);
    if (rc == 0) rc = st_writer_add(&w, "metrics", ST_F32, 2, mshape, s->metrics->data ? (void *)s->metrics->data : (void *)"");
    int64_t tshape[2] = {s->table_rows, s->table_cols};
    if (rc == 0 && s->table_name && s->table && s->table_rows) rc = st_writer_add(&w, s->table_name, ST_F32, 2, tshape, s->table);
    if (rc == 0 && s->meta_key && s->meta) rc = st_writer_metadata(&w, s->meta_key, s->meta);
    if (rc) snprintf(err, errlen, "%s: out of memory", path);
    else rc = st_writer_save(&w, path, err, errlen);
    for (int i = 0; names && i < k; i++) free(names[i]);
    free(names);
    st_writer_free(&w);
    return rc;
}

int checkpoint_read_settings(const char *path, char **settings_json, char *err, size_t errlen)
{
    SafeTensors st;
    char inner[512];
    if (st_load(&st, path, inner, sizeof inner)) {
        if (strstr(inner, "No such file") || strstr(inner, "a folder") || strstr(inner, "not a regular file"))
            snprintf(err, errlen, "%s", inner);
        else snprintf(err, errlen, "%s: not an fmlab checkpoint (not a safetensors file: %.300s)", path, inner);
        return -1;
    }
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
    const char *step = st_metadata(&st, "step"), *rng = st_metadata(&st, "rng");
    const char *settings = st_metadata(&st, "settings");
    const char *astep[CHECKPOINT_MAX_BLOCKS] = {0};
    bool have_adam = true;
    for (int b = 0; b < s->nblocks; b++) {
        char key[32];
        adam_key(key, sizeof key, b);
        astep[b] = st_metadata(&st, key);
        if (s->opt[b] && !astep[b]) have_adam = false;
    }
    if (!fmt || strcmp(fmt, "fmlab-checkpoint") || !lesson || !step || !have_adam || !rng || !settings) {
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
    for (int b = 0; b < s->nblocks && rc == 0; b++) {
        ParamBlock *pb = s->pb[b];
        for (int i = 0; i < pb->count && rc == 0; i++) {
            const Tensor *t = pb->params[i];
            size_t off = (size_t)(t->data - pb->data);
            float *dst[3] = {t->data, pb->m + off, pb->v + off};
            for (int j = 0; j < (s->opt[b] ? 3 : 1) && rc == 0; j++) {
                tensor_key(name, sizeof name, j, b, t->name);
                char inner[256];
                if (st_read_f32(&st, name, dst[j], (int64_t)t->size, inner, sizeof inner)) {
                    snprintf(err, errlen, "%s: %s (was it saved with other model settings?)", path, inner);
                    rc = -1;
                }
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
        for (int b = 0; b < s->nblocks; b++)
            if (s->opt[b]) s->opt[b]->step = atoll(astep[b]);
        s->rng->state = state;
        s->rng->inc = inc;
        *settings_json = strdup(settings);
    }
    st_free(&st);
    return rc;
}

int checkpoint_read_extra(const char *path, const char *table_name, float **data, int64_t *rows, int64_t *cols,
                          const char *meta_key, char **meta, char *err, size_t errlen)
{
    *data = NULL;
    *rows = *cols = 0;
    *meta = NULL;
    SafeTensors st;
    if (st_load(&st, path, err, errlen)) return -1;
    int rc = 0;
    const StTensor *t = st_find(&st, table_name);
    if (t && (t->dtype != ST_F32 || t->ndim != 2)) rc = engine_error(err, errlen, "%s: %s is not a table", path, table_name);
    else if (t) {
        *data = malloc((size_t)(t->count ? t->count : 1) * sizeof(float));
        if (!*data) rc = engine_error(err, errlen, "out of memory");
        else {
            memcpy(*data, t->data, (size_t)t->count * sizeof(float));
            *rows = t->shape[0];
            *cols = t->shape[1];
        }
    }
    const char *m = st_metadata(&st, meta_key);
    if (rc == 0 && m) *meta = strdup(m);
    st_free(&st);
    return rc;
}
