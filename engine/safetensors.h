/* safetensors.h — read and write the safetensors format (Hugging Face):
 *
 *   8 bytes   little-endian u64 N: the header's length
 *   N bytes   JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *             optionally "__metadata__": {string: string}}
 *   the data  tensors packed back to back, offsets relative to the data's start
 *
 * Reading checks everything before it trusts it: that the path is a regular file (a folder or
 * a FIFO is refused by name, never waited on), the header length against the file size, that
 * the header is UTF-8 JSON without NUL characters, each dtype, shape and offset pair, that
 * names are unique (found by sorting, so a header of many tensors costs n log n) and at most
 * ST_MAX_TENSORS, that byte counts match the shapes, and that the tensors tile the data
 * exactly with no gap or overlap. A malformed or truncated file returns an error message,
 * never a crash, a hang or a read out of bounds.
 *
 * A writer may make the file self-verifying (StWriter.checksum): the metadata then holds
 * "fmlab_crc32", the CRC-32 (zlib's) of the whole file (length, header and data) as 8 hex
 * digits, computed with those 8 digits written as '0'. A reader checks it whenever it is
 * present, so a file damaged or altered after it was written, or one mixed from two writers,
 * is refused. It detects accidents, not forgery: anyone can recompute it.
 *
 * Writing goes through engine_write_atomic (common.h): a temporary file of its own next to
 * the real one, synced and renamed into place, so a crash never leaves half a file. */
#ifndef FMLAB_ENGINE_SAFETENSORS_H
#define FMLAB_ENGINE_SAFETENSORS_H

#include "common.h"

typedef enum StDtype { ST_F32, ST_I64, ST_I32, ST_DTYPE_COUNT } StDtype;

#define ST_MAX_DIMS 8
#define ST_MAX_NAME 256
/* More tensors than any model of fmlab has (a 24-layer BERT's checkpoint holds about 1,200):
 * a header that claims more is refused before anything is allocated for them. */
#define ST_MAX_TENSORS 65536
#define ST_CHECKSUM_KEY "fmlab_crc32"

typedef struct StTensor {
    char name[ST_MAX_NAME];
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t count;          /* elements */
    const void *data;       /* into the file's buffer: may be unaligned, copy with memcpy */
    size_t nbytes;
} StTensor;

typedef struct SafeTensors {
    unsigned char *buf;     /* the whole file */
    size_t size;
    StTensor *tensors;
    int count;
    const StTensor **by_name;   /* the tensors sorted by name, for st_find */
    void *metadata;         /* the "__metadata__" object (a cJSON *), or NULL */
    bool verified;          /* it carried a checksum, and the checksum matched */
} SafeTensors;

const char *st_dtype_name(StDtype d);
size_t st_dtype_size(StDtype d);

/* 0 on success; otherwise -1 with a one-line reason in err. */
int st_load(SafeTensors *st, const char *path, char *err, size_t errlen);
/* The same from memory (the bytes are copied). */
int st_parse(SafeTensors *st, const void *bytes, size_t size, char *err, size_t errlen);
void st_free(SafeTensors *st);
const StTensor *st_find(const SafeTensors *st, const char *name);
/* A string of "__metadata__", or NULL if absent. */
const char *st_metadata(const SafeTensors *st, const char *key);
/* Copies a tensor out as float32 (it must be F32 with `count` elements). 0 or -1 + err. */
int st_read_f32(const SafeTensors *st, const char *name, float *dst, int64_t count, char *err, size_t errlen);
/* The same, but the tensor must have exactly this shape (a transposed matrix is refused). */
int st_read_f32_shape(const SafeTensors *st, const char *name, float *dst, int ndim, const int64_t *shape, char *err,
                      size_t errlen);

/* Writer: collects borrowed pointers, writes them in the order added. */
typedef struct StEntry {
    char name[ST_MAX_NAME];
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;
} StEntry;

typedef struct StWriter {
    StEntry *entries;
    int count, cap;
    char *metadata_json;    /* optional: a JSON object of strings, owned */
    bool checksum;          /* add ST_CHECKSUM_KEY to the metadata (see the top) */
} StWriter;

void st_writer_init(StWriter *w);
void st_writer_free(StWriter *w);
/* The data must stay alive until st_writer_save. Returns -1 only when out of memory. */
int st_writer_add(StWriter *w, const char *name, StDtype dtype, int ndim, const int64_t *shape, const void *data);
int st_writer_metadata(StWriter *w, const char *key, const char *value);
/* Writes atomically (engine_write_atomic). 0 or -1 with err. */
int st_writer_save(const StWriter *w, const char *path, char *err, size_t errlen);

#endif
