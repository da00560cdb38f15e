/* params.h — a model's parameter block: every weight, its gradient and AdamW's two moments
 * in four equally long flat arrays, in the same order.
 *
 *   mem = [ data (n) | grad (n) | m (n) | v (n) ]
 *
 * so zeroing the gradients, clipping, and the optimizer update are flat loops. A model
 * declares its parameters with params_add (Hugging Face names), then params_finalize
 * allocates the block and points each Tensor's data and grad into it.
 *
 * Every parameter starts with requires_grad true. One set to false is frozen (fine-tuning
 * only a head, model_freeze in nn.h): no op records a gradient for it (tape.c), so its grad
 * stays as params_zero_grad left it, the optimizers skip it (optim.h) and model_save_grads
 * leaves it out. Its slots in the four arrays stay, so the layout never depends on it. */
#ifndef FMLAB_ENGINE_PARAMS_H
#define FMLAB_ENGINE_PARAMS_H

#include "rng.h"
#include "tensor.h"

typedef struct ParamBlock {
    Tensor **params;       /* owned, in declaration order */
    bool *decay;           /* weight decay applies to params[i] (not to biases and LayerNorms) */
    int count, cap;
    float *mem;
    float *data, *grad, *m, *v;
    size_t n;              /* total floats per array */
} ParamBlock;

void params_init(ParamBlock *pb);
/* Declares a parameter; the name is copied. Its data exists after params_finalize. */
Tensor *params_add(ParamBlock *pb, const char *name, int ndim, const int *shape, bool decay);
/* Allocates the block (zeroed). Resource error: false. */
bool params_finalize(ParamBlock *pb);
void params_free(ParamBlock *pb);
void params_zero_grad(ParamBlock *pb);
Tensor *params_find(const ParamBlock *pb, const char *name);
/* The first parameter whose gradient holds a NaN or Inf, or NULL. */
const Tensor *params_nonfinite_grad(const ParamBlock *pb);
/* The first parameter whose value holds a NaN or Inf, or NULL (checked after each update:
 * finite gradients can still make a non-finite step). */
const Tensor *params_nonfinite_data(const ParamBlock *pb);

/* Initialisation as BERT and GPT-2 do it: normal(0, 0.02) weights, zero biases, LayerNorm
 * weight 1. */
void init_normal(Tensor *t, Rng *r, float std);
void init_constant(Tensor *t, float value);

#endif
