/* tensor.h — the engine's one data type: a float32 array of up to four dimensions.
 *
 * Row-major and contiguous, always. `data` and `grad` point either into a model's parameter
 * block (params.h: weights live across steps) or into a step's arena (tape.h: activations,
 * freed all at once by tape_reset). An activation's grad stays NULL until backward reaches it.
 * Shape letters follow llm.c: B batch, T time, C channels, V vocab, NH heads, HS head size. */
#ifndef FMLAB_ENGINE_TENSOR_H
#define FMLAB_ENGINE_TENSOR_H

#include "common.h"

#define TENSOR_MAX_DIMS 4

typedef struct Tensor {
    float *data;
    float *grad;           /* d(loss)/d(data), same size, or NULL */
    int ndim;              /* 0 for a scalar */
    int shape[TENSOR_MAX_DIMS];
    size_t size;           /* number of elements */
    bool requires_grad;
    int tape_index;        /* the tape entry that made it, -1 for leaves and parameters */
    const char *name;      /* a parameter's Hugging Face name, or NULL */
} Tensor;

/* Sets ndim, shape and size; checks the dims. */
void tensor_set_shape(Tensor *t, int ndim, const int *shape);
/* "(32, 16, 64)" into buf; returns buf. */
const char *tensor_shape_str(const Tensor *t, char *buf, size_t len);
bool tensor_same_shape(const Tensor *a, const Tensor *b);
/* Product of the dims before the last one: the number of rows of the last dim. */
size_t tensor_rows(const Tensor *t);
static inline int tensor_last(const Tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }

#endif
