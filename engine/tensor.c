/* tensor.c — shape helpers. */
#include "tensor.h"

#include <stdio.h>
#include <string.h>

void tensor_set_shape(Tensor *t, int ndim, const int *shape)
{
    ENGINE_CHECK(ndim >= 0 && ndim <= TENSOR_MAX_DIMS, "a tensor has 0 to 4 dims, not %d", ndim);
    t->ndim = ndim;
    t->size = 1;
    for (int i = 0; i < TENSOR_MAX_DIMS; i++) t->shape[i] = 0;
    for (int i = 0; i < ndim; i++) {
        ENGINE_CHECK(shape[i] > 0, "dim %d is %d: every dim must be positive", i, shape[i]);
        t->shape[i] = shape[i];
        t->size *= (size_t)shape[i];
    }
}

const char *tensor_shape_str(const Tensor *t, char *buf, size_t len)
{
    size_t off = 0;
    off += (size_t)snprintf(buf + off, len - off, "(");
    for (int i = 0; i < t->ndim && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, i ? ", %d" : "%d", t->shape[i]);
    if (off < len) snprintf(buf + off, len - off, ")");
    return buf;
}

bool tensor_same_shape(const Tensor *a, const Tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

size_t tensor_rows(const Tensor *t)
{
    size_t r = 1;
    for (int i = 0; i + 1 < t->ndim; i++) r *= (size_t)t->shape[i];
    return r;
}
