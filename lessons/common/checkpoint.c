/* checkpoint.c — save, and resume from a file that may come from anywhere. */
#define _POSIX_C_SOURCE 200809L
#include "lessons/common/checkpoint.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
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
    w.checksum = true; /* checked by checkpoint_open: a damaged or mixed file is refused */
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

bool checkpoint_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s || strlen(s) > 20) return false;
    uint64_t v = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9') return false;
        unsigned d = (unsigned)(*c - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (v > max) return false;
    *out = v;
    return true;
}

/* A name from the file, fit to print: lower-case letters, digits, '-' and '_' only. */
static const char *printable_name(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-");
    return n && n <= 32 && !s[n] ? s : "(an unprintable name)";
}

void checkpoint_close(CheckpointFile *f) { st_free(&f->st); }

const char *checkpoint_settings(const CheckpointFile *f) { return st_metadata(&f->st, "settings"); }

int checkpoint_open(CheckpointFile *f, const char *path, const char *lesson, char *err, size_t errlen)
{
    f->path = path;
    char inner[512];
    if (st_load(&f->st, path, inner, sizeof inner)) {
        if (strstr(inner, "No such file") || strstr(inner, "a folder") || strstr(inner, "not a regular file") ||
            strstr(inner, "Permission denied") || strstr(inner, "checksum"))
            snprintf(err, errlen, "%s", inner);
        else snprintf(err, errlen, "%s: not an fmlab checkpoint (not a safetensors file: %.300s)", path, inner);
        return -1;
    }
    const char *fmt = st_metadata(&f->st, "format"), *name = st_metadata(&f->st, "lesson");
    const char *need[] = {"step", "rng", "settings"};
    const char *missing = !fmt || strcmp(fmt, "fmlab-checkpoint") ? "format" : !name ? "lesson" : NULL;
    for (size_t i = 0; !missing && i < sizeof need / sizeof *need; i++)
        if (!st_metadata(&f->st, need[i])) missing = need[i];
    int rc = 0;
    if (missing) rc = engine_error(err, errlen, "%s: not an fmlab checkpoint (its metadata has no \"%s\")", path, missing);
    else if (lesson && strcmp(name, lesson))
        rc = engine_error(err, errlen, "%s: a checkpoint of lesson %s, not %s", path, printable_name(name), lesson);
    else if (!f->st.verified)
        rc = engine_error(err, errlen, "%s: the checkpoint has no checksum (written by an older fmlab?)", path);
    if (rc) st_free(&f->st);
    return rc;
}

/* NaN or Inf anywhere, or (nonneg) a value below zero: the first index, or -1 */
static long first_bad(const float *x, size_t n, bool nonneg)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || (nonneg && x[i] < 0)) return (long)i;
    return -1;
}

int checkpoint_load(const CheckpointFile *f, CheckpointState *s, char *err, size_t errlen)
{
    const SafeTensors *st = &f->st;
    const char *path = f->path;
    const char *step = st_metadata(st, "step"), *rng = st_metadata(st, "rng");
    uint64_t nstep, astep[CHECKPOINT_MAX_BLOCKS] = {0};
    if (!checkpoint_parse_u64(step, (uint64_t)LONG_MAX, &nstep))
        return engine_error(err, errlen, "%s: its step is not a whole number", path);
    for (int b = 0; b < s->nblocks; b++) {
        if (!s->opt[b]) continue;
        char key[32];
        adam_key(key, sizeof key, b);
        /* AdamW's bias correction divides by 1 - beta^step: step 0 after the increment (a saved
           -1) is a division by zero, and a step beyond the run's overflows */
        if (!checkpoint_parse_u64(st_metadata(st, key), nstep, &astep[b]))
            return engine_error(err, errlen, "%s: its %s is not a whole number from 0 to the step, %llu", path, key,
                                (unsigned long long)nstep);
    }
    /* "state inc", both decimal, one space between */
    uint64_t state, inc;
    char num[2][24] = {"", ""};
    const char *sp = strchr(rng, ' ');
    bool ok = sp && (size_t)(sp - rng) < sizeof num[0] && strlen(sp + 1) < sizeof num[1];
    if (ok) {
        memcpy(num[0], rng, (size_t)(sp - rng));
        strcpy(num[1], sp + 1);
    }
    if (!ok || !checkpoint_parse_u64(num[0], UINT64_MAX, &state) || !checkpoint_parse_u64(num[1], UINT64_MAX, &inc))
        return engine_error(err, errlen, "%s: its rng state is not two whole numbers", path);
    Rng restored;
    if (!rng_set_state(&restored, state, inc))
        return engine_error(err, errlen, "%s: its rng state is invalid (the increment %llu is even; PCG needs it odd)", path,
                            (unsigned long long)inc);
    char name[300], inner[256];
    for (int b = 0; b < s->nblocks; b++) {
        ParamBlock *pb = s->pb[b];
        for (int i = 0; i < pb->count; i++) {
            const Tensor *t = pb->params[i];
            size_t off = (size_t)(t->data - pb->data);
            float *dst[3] = {t->data, pb->m + off, pb->v + off};
            int64_t shape[ST_MAX_DIMS];
            for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[d];
            for (int j = 0; j < (s->opt[b] ? 3 : 1); j++) {
                tensor_key(name, sizeof name, j, b, t->name);
                if (st_read_f32_shape(st, name, dst[j], t->ndim, shape, inner, sizeof inner))
                    return engine_error(err, errlen, "%s: %s (was it saved with other model settings?)", path, inner);
                long bad = first_bad(dst[j], t->size, j == 2);
                if (bad >= 0)
                    return engine_error(err, errlen, "%s: tensor \"%s\" holds %s at element %ld", path, name,
                                        isfinite(dst[j][bad]) ? "a negative second moment" : "NaN or Inf", bad);
            }
        }
    }
    const StTensor *mt = st_find(st, "metrics");
    if (!mt || mt->dtype != ST_F32 || mt->ndim != 2 || mt->shape[1] != s->metrics->ncols ||
        (uint64_t)mt->shape[0] != nstep)
        return engine_error(err, errlen, "%s: the metrics history does not fit this lesson and step %llu", path,
                            (unsigned long long)nstep);
    s->metrics->rows = 0;
    float row[METRICS_MAX_COLS];
    for (int64_t r = 0; r < mt->shape[0]; r++) {
        memcpy(row, (const char *)mt->data + (size_t)r * s->metrics->ncols * sizeof(float),
               (size_t)s->metrics->ncols * sizeof(float));
        if (metrics_append(s->metrics, row)) return engine_error(err, errlen, "%s: out of memory", path);
    }
    if (s->ncounters) {
        const StTensor *ct = st_find(st, "counters");
        if (!ct || ct->dtype != ST_I64 || ct->ndim != 1 || ct->count != s->ncounters)
            return engine_error(err, errlen, "%s: the lesson's counters are missing", path);
        for (int i = 0; i < s->ncounters; i++) {
            int64_t c;
            memcpy(&c, (const int64_t *)ct->data + i, sizeof c);
            if (c < 0 || c > CHECKPOINT_MAX_COUNT)
                return engine_error(err, errlen, "%s: counter %d is %lld, not a count from 0 to 2^53", path, i, (long long)c);
        }
        memcpy(s->counters, ct->data, (size_t)s->ncounters * sizeof(int64_t));
    }
    s->step = (long)nstep;
    for (int b = 0; b < s->nblocks; b++)
        if (s->opt[b]) s->opt[b]->step = (int64_t)astep[b];
    *s->rng = restored;
    return 0;
}

int checkpoint_read_extra(const CheckpointFile *f, const char *table_name, float **data, int64_t *rows, int64_t *cols,
                          const char *meta_key, char **meta, char *err, size_t errlen)
{
    *data = NULL;
    *rows = *cols = 0;
    *meta = NULL;
    const StTensor *t = st_find(&f->st, table_name);
    if (t && (t->dtype != ST_F32 || t->ndim != 2)) return engine_error(err, errlen, "%s: %s is not a table", f->path, table_name);
    if (t) {
        *data = malloc((size_t)(t->count ? t->count : 1) * sizeof(float));
        if (!*data) return engine_error(err, errlen, "%s: out of memory", f->path);
        memcpy(*data, t->data, (size_t)t->count * sizeof(float));
        *rows = t->shape[0];
        *cols = t->shape[1];
    }
    const char *m = st_metadata(&f->st, meta_key);
    if (m && !(*meta = strdup(m))) {
        free(*data);
        *data = NULL;
        return engine_error(err, errlen, "%s: out of memory", f->path);
    }
    return 0;
}
