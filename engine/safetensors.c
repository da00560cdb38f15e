/* safetensors.c — a bounds-checked reader and an atomic writer, JSON by cJSON. */
#define _POSIX_C_SOURCE 200809L
#include "safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const StTensor *const *)a)->name, (*(const StTensor *const *)b)->name);
}

/* The header's bytes before cJSON sees them: UTF-8 throughout (no overlong forms, no
 * surrogates, nothing above U+10FFFF), no control byte but whitespace, and no "\u0000"
 * escape in a string, which cJSON would turn into a C string cut short ("F32\u0000x" would
 * read as "F32"). 0, or -1 with the reason. */
static int check_header_text(const unsigned char *s, size_t n, char *err, size_t errlen)
{
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        if (c < 0x20) {
            if (in_string || (c != ' ' && c != '\t' && c != '\n' && c != '\r'))
                return engine_error(err, errlen, "header has a control character (byte %zu)", i);
        } else if (c == '"') {
            in_string = !in_string;
        } else if (c == '\\' && in_string) {
            if (i + 1 < n && s[i + 1] == 'u' && i + 5 < n && !memcmp(s + i + 2, "0000", 4))
                return engine_error(err, errlen, "header has a NUL character (\\u0000) in a string (byte %zu)", i);
            i++; /* the escaped character cannot end the string */
        } else if (c >= 0x80) {
            int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
            uint32_t cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0f : 0x1f);
            bool ok = len > 0 && c <= 0xf4 && i + (size_t)len <= n;
            for (int k = 1; ok && k < len; k++) {
                ok = (s[i + k] & 0xc0) == 0x80;
                cp = (cp << 6) | (s[i + k] & 0x3f);
            }
            static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
            if (!ok || cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return engine_error(err, errlen, "header is not valid UTF-8 (byte %zu)", i);
            i += (size_t)len - 1;
        }
    }
    return 0;
}

/* CRC-32 as zlib computes it (polynomial 0xedb88320): what zip, gzip and PNG use to notice
 * damage, and what anyone can check (Python: zlib.crc32). */
typedef struct Crc32 {
    uint32_t table[256];
    uint32_t crc;
} Crc32;

static void crc32_begin(Crc32 *c)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t x = n;
        for (int k = 0; k < 8; k++) x = x & 1 ? 0xedb88320u ^ (x >> 1) : x >> 1;
        c->table[n] = x;
    }
    c->crc = 0xffffffffu;
}

static void crc32_add(Crc32 *c, const void *p, size_t n)
{
    const unsigned char *b = p;
    uint32_t crc = c->crc;
    for (size_t i = 0; i < n; i++) crc = c->table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    c->crc = crc;
}

static uint32_t crc32_end(const Crc32 *c) { return c->crc ^ 0xffffffffu; }

#define CHECKSUM_DIGITS 8
static const unsigned char checksum_zeros[CHECKSUM_DIGITS] = "00000000";

/* The checksum of buf[0, size) with the digits at `at` taken as '0'. */
static uint32_t checksum_of(const unsigned char *buf, size_t size, size_t at)
{
    Crc32 c;
    crc32_begin(&c);
    crc32_add(&c, buf, at);
    crc32_add(&c, checksum_zeros, CHECKSUM_DIGITS);
    crc32_add(&c, buf + at + CHECKSUM_DIGITS, size - at - CHECKSUM_DIGITS);
    return crc32_end(&c);
}

/* The place of the checksum's digits in the header: the one occurrence of
 * "fmlab_crc32":"<8 hex digits>" (an escaped or repeated key is refused). */
static int find_checksum(const unsigned char *h, size_t n, size_t *at)
{
    static const char key[] = "\"" ST_CHECKSUM_KEY "\":\"";
    size_t kl = sizeof key - 1, found = 0;
    for (size_t i = 0; i + kl + CHECKSUM_DIGITS + 1 <= n; i++)
        if (h[i] == '"' && !memcmp(h + i, key, kl)) {
            if (found++) return -1;
            *at = i + kl;
        }
    if (found != 1 || h[*at + CHECKSUM_DIGITS] != '"') return -1;
    for (int k = 0; k < CHECKSUM_DIGITS; k++)
        if (!strchr("0123456789abcdef", h[*at + k]) || !h[*at + k]) return -1;
    return 0;
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
    if (check_header_text(st->buf + 8, (size_t)hlen, err, errlen)) return -1;
    cJSON *root = cJSON_ParseWithLength((const char *)st->buf + 8, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return engine_error(err, errlen, "header is not a JSON object");
    }
    long n = 0;
    for (cJSON *it = root->child; it && n <= ST_MAX_TENSORS; it = it->next)
        if (strcmp(it->string, "__metadata__") != 0) n++;
    if (n > ST_MAX_TENSORS) {
        cJSON_Delete(root);
        return engine_error(err, errlen, "more than %d tensors in the header", ST_MAX_TENSORS);
    }
    st->tensors = calloc((size_t)n + 1, sizeof *st->tensors);
    st->by_name = calloc((size_t)n + 1, sizeof *st->by_name);
    if (!st->tensors || !st->by_name) { cJSON_Delete(root); return engine_error(err, errlen, "out of memory"); }
    int rc = 0;
    for (cJSON *it = root->child; it && rc == 0; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(it)) rc = engine_error(err, errlen, "__metadata__ is not an object");
            else if (st->metadata) rc = engine_error(err, errlen, "__metadata__ appears twice in the header");
            else if (!(st->metadata = cJSON_Duplicate(it, true))) rc = engine_error(err, errlen, "out of memory");
            continue;
        }
        StTensor *t = &st->tensors[st->count];
        if (strlen(it->string) >= ST_MAX_NAME) { rc = engine_error(err, errlen, "tensor name longer than %d bytes", ST_MAX_NAME - 1); break; }
        for (const unsigned char *c = (const unsigned char *)it->string; *c && rc == 0; c++)
            if (*c < 0x20 || *c == 0x7f) rc = engine_error(err, errlen, "a tensor name has a control character");
        if (rc) break;
        strcpy(t->name, it->string);
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
        if (d == ST_DTYPE_COUNT) { rc = engine_error(err, errlen, "tensor \"%s\": dtype %.16s is not F32, I64 or I32", t->name, dt->valuestring); break; }
        t->dtype = (StDtype)d;
        t->ndim = cJSON_GetArraySize(sh);
        if (t->ndim > ST_MAX_DIMS) { rc = engine_error(err, errlen, "tensor \"%s\": %d dims, at most %d", t->name, t->ndim, ST_MAX_DIMS); break; }
        t->count = 1;
        int k = 0;
        for (cJSON *x = sh->child; x; x = x->next, k++) {
            double v = x->valuedouble;
            /* the range first: converting a double out of int64's range is undefined */
            if (!cJSON_IsNumber(x) || !(v >= 0 && v <= 1e15) || v != floor(v)) {
                rc = engine_error(err, errlen, "tensor \"%s\": shape entry %d is not a whole number from 0 to 10^15", t->name, k);
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
        const cJSON *ob = cJSON_GetArrayItem(of, 0), *oe = cJSON_GetArrayItem(of, 1);
        double b = ob->valuedouble, e = oe->valuedouble;
        if (!cJSON_IsNumber(ob) || !cJSON_IsNumber(oe) || !(b >= 0 && b <= e && e <= (double)data_size) ||
            b != floor(b) || e != floor(e)) {
            rc = engine_error(err, errlen, "tensor \"%s\": data_offsets [%.0f, %.0f] outside the %zu data bytes",
                      t->name, cJSON_IsNumber(ob) ? b : -1.0, cJSON_IsNumber(oe) ? e : -1.0, data_size);
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
        st->by_name[st->count] = t;
        st->count++;
    }
    cJSON_Delete(root);
    if (rc) return rc;
    /* unique names: sorted, a name repeated sits next to itself */
    qsort(st->by_name, (size_t)st->count, sizeof *st->by_name, cmp_name);
    for (int i = 1; i < st->count; i++)
        if (!strcmp(st->by_name[i - 1]->name, st->by_name[i]->name))
            return engine_error(err, errlen, "tensor \"%s\" appears twice in the header", st->by_name[i]->name);
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
    if (rc) return rc;
    const cJSON *sum = st->metadata ? cJSON_GetObjectItemCaseSensitive(st->metadata, ST_CHECKSUM_KEY) : NULL;
    if (sum) {
        size_t at = 0;
        if (find_checksum(st->buf + 8, (size_t)hlen, &at))
            return engine_error(err, errlen, "its checksum is not %d hex digits written once", CHECKSUM_DIGITS);
        at += 8;
        char want[CHECKSUM_DIGITS + 1];
        snprintf(want, sizeof want, "%08lx", (unsigned long)checksum_of(st->buf, st->size, at));
        if (memcmp(want, st->buf + at, CHECKSUM_DIGITS))
            return engine_error(err, errlen, "checksum mismatch: the file was damaged or changed after it was written");
        st->verified = true;
    }
    return 0;
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
    /* opened without blocking, then asked what it is: a FIFO or a device is refused by name
       instead of waited on, and a folder is not read as a file of absurd size */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return engine_error(err, errlen, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return engine_error(err, errlen, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return engine_error(err, errlen, "%s: %s, not a safetensors file", path,
                            S_ISDIR(sb.st_mode) ? "a folder" : "not a regular file");
    }
    if ((uint64_t)sb.st_size >= SIZE_MAX / 2) { close(fd); return engine_error(err, errlen, "%s: too large", path); }
    size_t size = (size_t)sb.st_size;
    st->buf = malloc(size + 1);
    if (!st->buf) { close(fd); return engine_error(err, errlen, "%s: out of memory (%zu bytes)", path, size); }
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, st->buf + got, size - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd);
    st->size = got;
    if (got != size) { st_free(st); return engine_error(err, errlen, "%s: read error (it changed while being read?)", path); }
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
    free(st->by_name);
    memset(st, 0, sizeof *st);
}

static int cmp_key_name(const void *key, const void *elem)
{
    return strcmp(key, (*(const StTensor *const *)elem)->name);
}

const StTensor *st_find(const SafeTensors *st, const char *name)
{
    if (!st->count) return NULL;
    const StTensor *const *t = bsearch(name, st->by_name, (size_t)st->count, sizeof *st->by_name, cmp_key_name);
    return t ? *t : NULL;
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

static void shape_text(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && k < n; d++) k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

int st_read_f32_shape(const SafeTensors *st, const char *name, float *dst, int ndim, const int64_t *shape, char *err,
                      size_t errlen)
{
    const StTensor *t = st_find(st, name);
    if (!t) return engine_error(err, errlen, "no tensor \"%s\"", name);
    bool same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char have[96], want[96];
        shape_text(have, sizeof have, t->ndim, t->shape);
        shape_text(want, sizeof want, ndim, shape);
        return engine_error(err, errlen, "tensor \"%s\" has shape %s, expected %s", name, have, want);
    }
    return st_read_f32(st, name, dst, t->count, err, errlen);
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

/* What st_writer_save hands to engine_write_atomic: the length, the header (padded with
 * spaces so the data starts 8-byte aligned) and each tensor's bytes. */
typedef struct StFile {
    const StWriter *w;
    unsigned char len8[8];
    const char *json;
    size_t hlen, padded;
} StFile;

static bool write_st(FILE *f, const void *ctx)
{
    const StFile *sf = ctx;
    bool ok = fwrite(sf->len8, 1, 8, f) == 8 && fwrite(sf->json, 1, sf->hlen, f) == sf->hlen;
    for (size_t i = sf->hlen; ok && i < sf->padded; i++) ok = fputc(' ', f) != EOF;
    for (int i = 0; ok && i < sf->w->count; i++) {
        size_t nb = entry_bytes(&sf->w->entries[i]);
        ok = nb == 0 || fwrite(sf->w->entries[i].data, 1, nb, f) == nb;
    }
    return ok;
}

int st_writer_save(const StWriter *w, const char *path, char *err, size_t errlen)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return engine_error(err, errlen, "out of memory");
    if (w->metadata_json || w->checksum) {
        cJSON *meta = w->metadata_json ? cJSON_Parse(w->metadata_json) : cJSON_CreateObject();
        if (!meta) {
            cJSON_Delete(root);
            return engine_error(err, errlen, "out of memory");
        }
        /* the digits are filled in below, once the hash of everything else is known */
        if (w->checksum) cJSON_AddStringToObject(meta, ST_CHECKSUM_KEY, "00000000");
        cJSON_AddItemToObject(root, "__metadata__", meta);
    }
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
    StFile sf = {w, {0}, json, strlen(json), 0};
    sf.padded = (sf.hlen + 7) / 8 * 8;
    for (int i = 0; i < 8; i++) sf.len8[i] = (unsigned char)((uint64_t)sf.padded >> (8 * i));
    if (w->checksum) {
        size_t at = 0;
        ENGINE_CHECK(find_checksum((const unsigned char *)json, sf.hlen, &at) == 0,
                     "st_writer_save: the checksum's place in the header is ambiguous");
        static const unsigned char spaces[8] = "        ";
        Crc32 c;
        crc32_begin(&c);
        crc32_add(&c, sf.len8, 8);
        crc32_add(&c, json, sf.hlen);
        crc32_add(&c, spaces, sf.padded - sf.hlen);
        for (int i = 0; i < w->count; i++) crc32_add(&c, w->entries[i].data, entry_bytes(&w->entries[i]));
        char digits[CHECKSUM_DIGITS + 1];
        snprintf(digits, sizeof digits, "%08lx", (unsigned long)crc32_end(&c));
        memcpy(json + at, digits, CHECKSUM_DIGITS);
    }
    int rc = engine_write_atomic(path, write_st, &sf, err, errlen);
    free(json);
    return rc;
}
