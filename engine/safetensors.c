/* safetensors.c — a bounds-checked reader and an atomic writer, JSON by cJSON. */
#define _POSIX_C_SOURCE 200809L
#include "safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A header larger than this is refused rather than parsed (the reference library uses 100 MB). */
#define ST_MAX_HEADER (100u * 1024u * 1024u)

static const char *const dtype_names[ST_DTYPE_COUNT] = {"F32", "I64", "I32"};
static const size_t dtype_sizes[ST_DTYPE_COUNT] = {4, 8, 4};

const char *st_dtype_name(StDtype d) { return dtype_names[d]; }
size_t st_dtype_size(StDtype d) { return dtype_sizes[d]; }

static int cmp_offset(const void *a, const void *b)
{
    const StTensor *x = a, *y = b;
    uintptr_t px = (uintptr_t)x->data, py = (uintptr_t)y->data;
    return px < py ? -1 : px > py;
}

/* Fills st from the buffer it already owns. */
static int parse_owned(SafeTensors *st, char *err, size_t errlen)
{
    if (st->size < 8) return engine_error(err, errlen, "file too short for a safetensors header (%zu bytes)", st->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | st->buf[i];
    if (hlen > ST_MAX_HEADER) return engine_error(err, errlen, "header length %llu is larger than the %u-byte limit",
                                          (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen > st->size - 8) return engine_error(err, errlen, "header length %llu runs past the end of the file (%zu bytes): truncated?",
                                         (unsigned long long)hlen, st->size);
    const unsigned char *data = st->buf + 8 + hlen;
    size_t data_size = st->size - 8 - (size_t)hlen;
    cJSON *root = cJSON_ParseWithLength((const char *)st->buf + 8, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return engine_error(err, errlen, "header is not a JSON object");
    }
    int n = 0;
    for (cJSON *it = root->child; it; it = it->next)
        if (strcmp(it->string, "__metadata__") != 0) n++;
    st->tensors = calloc((size_t)n + 1, sizeof *st->tensors);
    if (!st->tensors) { cJSON_Delete(root); return engine_error(err, errlen, "out of memory"); }
    int rc = 0;
    for (cJSON *it = root->child; it && rc == 0; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(it)) rc = engine_error(err, errlen, "__metadata__ is not an object");
            else if (!st->metadata) st->metadata = cJSON_Duplicate(it, true);
            continue;
        }
        StTensor *t = &st->tensors[st->count];
        if (strlen(it->string) >= ST_MAX_NAME) { rc = engine_error(err, errlen, "tensor name longer than %d bytes", ST_MAX_NAME - 1); break; }
        strcpy(t->name, it->string);
        if (st_find(st, t->name)) { rc = engine_error(err, errlen, "tensor \"%s\" appears twice in the header", t->name); break; }
        cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
        cJSON *of = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsObject(it) || !cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of) ||
            cJSON_GetArraySize(of) != 2) {
            rc = engine_error(err, errlen, "tensor \"%s\": needs dtype, shape and data_offsets [begin, end]", t->name);
            break;
        }
        int d = 0;
        while (d < ST_DTYPE_COUNT && strcmp(dt->valuestring, dtype_names[d]) != 0) d++;
        if (d == ST_DTYPE_COUNT) { rc = engine_error(err, errlen, "tensor \"%s\": dtype %s is not F32, I64 or I32", t->name, dt->valuestring); break; }
        t->dtype = (StDtype)d;
        t->ndim = cJSON_GetArraySize(sh);
        if (t->ndim > ST_MAX_DIMS) { rc = engine_error(err, errlen, "tensor \"%s\": %d dims, at most %d", t->name, t->ndim, ST_MAX_DIMS); break; }
        t->count = 1;
        int k = 0;
        for (cJSON *x = sh->child; x; x = x->next, k++) {
            double v = x->valuedouble;
            if (!cJSON_IsNumber(x) || v < 0 || v != (double)(int64_t)v || v > 1e15) {
                rc = engine_error(err, errlen, "tensor \"%s\": shape entry %d is not a non-negative integer", t->name, k);
                break;
            }
            t->shape[k] = (int64_t)v;
            if (t->shape[k] && t->count > INT64_MAX / 16 / t->shape[k]) {
                rc = engine_error(err, errlen, "tensor \"%s\": shape too large", t->name);
                break;
            }
            t->count *= t->shape[k];
        }
        if (rc) break;
        double b = cJSON_GetArrayItem(of, 0)->valuedouble, e = cJSON_GetArrayItem(of, 1)->valuedouble;
        if (!cJSON_IsNumber(cJSON_GetArrayItem(of, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(of, 1)) ||
            b < 0 || e < b || b != (double)(int64_t)b || e != (double)(int64_t)e || e > (double)data_size) {
            rc = engine_error(err, errlen, "tensor \"%s\": data_offsets [%.0f, %.0f] outside the %zu data bytes",
                      t->name, b, e, data_size);
            break;
        }
        t->nbytes = (size_t)e - (size_t)b;
        if ((uint64_t)t->count * dtype_sizes[d] != t->nbytes) {
            rc = engine_error(err, errlen, "tensor \"%s\": %lld elements of %s need %llu bytes, offsets give %zu",
                      t->name, (long long)t->count, dtype_names[d],
                      (unsigned long long)t->count * dtype_sizes[d], t->nbytes);
            break;
        }
        t->data = data + (size_t)b;
        st->count++;
    }
    cJSON_Delete(root);
    if (rc) return rc;
    /* the tensors must tile the data: sorted by offset, each starts where the last ended */
    StTensor *sorted = malloc(((size_t)st->count + 1) * sizeof *sorted);
    if (!sorted) return engine_error(err, errlen, "out of memory");
    memcpy(sorted, st->tensors, (size_t)st->count * sizeof *sorted);
    qsort(sorted, (size_t)st->count, sizeof *sorted, cmp_offset);
    size_t pos = 0;
    for (int i = 0; i < st->count && rc == 0; i++) {
        size_t begin = (size_t)((const unsigned char *)sorted[i].data - data);
        if (begin != pos) rc = engine_error(err, errlen, "tensor \"%s\" starts at byte %zu, expected %zu (gap or overlap)",
                                    sorted[i].name, begin, pos);
        pos = begin + sorted[i].nbytes;
    }
    if (rc == 0 && pos != data_size)
        rc = engine_error(err, errlen, "the tensors cover %zu of the %zu data bytes", pos, data_size);
    free(sorted);
    return rc;
}

int st_parse(SafeTensors *st, const void *bytes, size_t size, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    st->buf = malloc(size ? size : 1);
    if (!st->buf) return engine_error(err, errlen, "out of memory");
    memcpy(st->buf, bytes, size);
    st->size = size;
    int rc = parse_owned(st, err, errlen);
    if (rc) st_free(st);
    return rc;
}

int st_load(SafeTensors *st, const char *path, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return engine_error(err, errlen, "%s: %s, not a safetensors file", path, S_ISDIR(sb.st_mode) ? "a folder" : "not a regular file");
    FILE *f = fopen(path, "rb");
    if (!f) return engine_error(err, errlen, "%s: %s", path, strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return engine_error(err, errlen, "%s: cannot tell its size", path);
    }
    st->buf = malloc((size_t)size + 1);
    if (!st->buf) { fclose(f); return engine_error(err, errlen, "%s: out of memory (%ld bytes)", path, size); }
    st->size = fread(st->buf, 1, (size_t)size, f);
    fclose(f);
    if (st->size != (size_t)size) { st_free(st); return engine_error(err, errlen, "%s: read error", path); }
    char inner[256];
    int rc = parse_owned(st, inner, sizeof inner);
    if (rc) {
        st_free(st);
        return engine_error(err, errlen, "%s: %s", path, inner);
    }
    return 0;
}

void st_free(SafeTensors *st)
{
    cJSON_Delete(st->metadata);
    free(st->buf);
    free(st->tensors);
    memset(st, 0, sizeof *st);
}

const StTensor *st_find(const SafeTensors *st, const char *name)
{
    for (int i = 0; i < st->count; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

const char *st_metadata(const SafeTensors *st, const char *key)
{
    const cJSON *v = st->metadata ? cJSON_GetObjectItemCaseSensitive(st->metadata, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int st_read_f32(const SafeTensors *st, const char *name, float *dst, int64_t count, char *err, size_t errlen)
{
    const StTensor *t = st_find(st, name);
    if (!t) return engine_error(err, errlen, "no tensor \"%s\"", name);
    if (t->dtype != ST_F32) return engine_error(err, errlen, "tensor \"%s\" is %s, expected F32", name, dtype_names[t->dtype]);
    if (t->count != count) return engine_error(err, errlen, "tensor \"%s\" has %lld elements, expected %lld",
                                       name, (long long)t->count, (long long)count);
    memcpy(dst, t->data, t->nbytes);
    return 0;
}

/* ---- writer ---- */

void st_writer_init(StWriter *w) { memset(w, 0, sizeof *w); }

void st_writer_free(StWriter *w)
{
    free(w->entries);
    free(w->metadata_json);
    memset(w, 0, sizeof *w);
}

int st_writer_add(StWriter *w, const char *name, StDtype dtype, int ndim, const int64_t *shape, const void *data)
{
    ENGINE_CHECK(strlen(name) < ST_MAX_NAME && ndim >= 0 && ndim <= ST_MAX_DIMS,
                 "st_writer_add: name \"%s\" too long or %d dims", name, ndim);
    if (w->count == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        StEntry *e = realloc(w->entries, (size_t)cap * sizeof *e);
        if (!e) return -1;
        w->entries = e;
        w->cap = cap;
    }
    StEntry *e = &w->entries[w->count++];
    strcpy(e->name, name);
    e->dtype = dtype;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->data = data;
    return 0;
}

int st_writer_metadata(StWriter *w, const char *key, const char *value)
{
    cJSON *m = w->metadata_json ? cJSON_Parse(w->metadata_json) : cJSON_CreateObject();
    if (!m) return -1;
    cJSON_DeleteItemFromObjectCaseSensitive(m, key);
    cJSON_AddStringToObject(m, key, value);
    char *s = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    if (!s) return -1;
    free(w->metadata_json);
    w->metadata_json = s;
    return 0;
}

static size_t entry_bytes(const StEntry *e)
{
    size_t n = st_dtype_size(e->dtype);
    for (int i = 0; i < e->ndim; i++) n *= (size_t)e->shape[i];
    return n;
}

int st_writer_save(const StWriter *w, const char *path, char *err, size_t errlen)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return engine_error(err, errlen, "out of memory");
    if (w->metadata_json) cJSON_AddItemToObject(root, "__metadata__", cJSON_Parse(w->metadata_json));
    size_t off = 0;
    for (int i = 0; i < w->count; i++) {
        const StEntry *e = &w->entries[i];
        cJSON *t = cJSON_AddObjectToObject(root, e->name);
        cJSON_AddStringToObject(t, "dtype", st_dtype_name(e->dtype));
        cJSON *sh = cJSON_AddArrayToObject(t, "shape");
        for (int k = 0; k < e->ndim; k++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)e->shape[k]));
        cJSON *of = cJSON_AddArrayToObject(t, "data_offsets");
        size_t nb = entry_bytes(e);
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(off + nb)));
        off += nb;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) return engine_error(err, errlen, "out of memory");
    size_t hlen = strlen(json);
    size_t padded = (hlen + 7) / 8 * 8; /* pad with spaces so the data starts 8-byte aligned */

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    if (!tmp) { free(json); return engine_error(err, errlen, "out of memory"); }
    snprintf(tmp, plen + 8, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int e = errno;
        free(json);
        free(tmp);
        return engine_error(err, errlen, "%s: %s", path, strerror(e));
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    bool ok = fwrite(len8, 1, 8, f) == 8 && fwrite(json, 1, hlen, f) == hlen;
    for (size_t i = hlen; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    for (int i = 0; ok && i < w->count; i++) {
        size_t nb = entry_bytes(&w->entries[i]);
        ok = nb == 0 || fwrite(w->entries[i].data, 1, nb, f) == nb;
    }
    ok = (fclose(f) == 0) && ok;
    free(json);
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        free(tmp);
        return engine_error(err, errlen, "%s: write failed: %s", path, strerror(e));
    }
    free(tmp);
    return 0;
}
