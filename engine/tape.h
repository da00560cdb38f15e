/* tape.h — reverse-mode automatic differentiation.
 *
 * Every op a step runs appends one entry (op, inputs, output, saved values) to the tape, in
 * execution order. tape_backward seeds d(loss)/d(loss) = 1 and walks the entries in reverse
 * through one switch on the op enum, each case calling the op's backward kernel, which ADDS
 * into the gradients of the inputs (a tensor used twice gets both contributions).
 * The tape owns the step's arena, where activations and their gradients live, and a fixed
 * array of entries beside it (tape_init's max_entries); tape_reset drops both after the
 * optimizer update, tape_rewind drops what came after a mark.
 * Ownership: tensors returned by ops belong to the tape; parameters belong to a ParamBlock. */
#ifndef FMLAB_ENGINE_TAPE_H
#define FMLAB_ENGINE_TAPE_H

#include <stdio.h>

#include "arena.h"
#include "tensor.h"

typedef enum OpType {
    OP_ADD,
    OP_MUL,
    OP_SCALE,
    OP_MATMUL,
    OP_LINEAR,
    OP_RESHAPE,
    OP_TRANSPOSE12,
    OP_SLICE_LAST,
    OP_GATHER_ROWS,
    OP_EMBEDDING,
    OP_LAYERNORM,
    OP_GELU_ERF,
    OP_GELU_TANH,
    OP_TANH,
    OP_SOFTMAX,
    OP_MASKED_SOFTMAX,
    OP_ATTENTION,
    OP_CROSS_ENTROPY,
    OP_BCE_LOGITS,
    OP_KL_DIV,
    OP_COSINE_LOSS,
    OP_SUM,
    OP_MEAN,
    OP_COUNT
} OpType;

/* "add", "matmul", ...: op_name[op] for every op below OP_COUNT. Declared without a size so
 * that the definition's designated initialisers alone fix it, and the _Static_assert next
 * to them fails when an op is added at the end without a name; a name missing in the
 * middle leaves a NULL that tape_init stops on. */
extern const char *const op_name[];

typedef struct TapeEntry {
    OpType op;
    Tensor *out;
    Tensor *in[3];
    int ia[8];             /* integer arguments (dims, flags), per op */
    float fa[2];           /* float arguments (scale, eps, temperature) */
    const void *aux;       /* borrowed: ids, targets, masks (must outlive backward) */
    const void *aux2;
    float *saved;          /* arena: values forward kept for backward */
    float *saved2;
} TapeEntry;

typedef struct Tape {
    Arena arena;
    TapeEntry *entries;
    int count, cap;
    bool no_grad;          /* when true, ops compute but record nothing (evaluation) */
} Tape;

/* Resource error (memory) returns false. arena_bytes: activations + tape of one step. */
bool tape_init(Tape *tp, size_t arena_bytes, int max_entries);
void tape_free(Tape *tp);
/* Drops every activation and entry: call after the optimizer update. */
void tape_reset(Tape *tp);

/* A point on the tape to come back to: the arena's bytes in use and the entry count.
 * tape_rewind drops every tensor, gradient buffer and entry made after the mark, and keeps
 * everything before it, so a step can run extra work (an evaluation, a probe, a forward
 * under no_grad) in the same arena and give the memory back without tape_reset:
 *     TapeMark m = tape_mark(tp);  ...forward...;  tape_rewind(tp, m);
 * A gradient buffer that backward gave, after the mark, to a tensor made before it is
 * dropped too (the tensor's grad is NULL again); buffers from before the mark stay, with
 * whatever a later backward added into them. Rewinding past a tape_reset, or forward
 * to a mark the tape has not reached, is a programmer error. */
typedef struct TapeMark { size_t used; int count; } TapeMark;
TapeMark tape_mark(const Tape *tp);
void tape_rewind(Tape *tp, TapeMark m);

/* A new tensor in the tape's arena (data uninitialised, grad NULL, no entry). */
Tensor *tape_tensor(Tape *tp, int ndim, const int *shape);
/* The same, zero-filled, as a leaf that may require a gradient (inputs of tests). */
Tensor *tape_leaf(Tape *tp, int ndim, const int *shape, bool requires_grad);
/* Appends an entry for `out` if any input requires grad; returns it or NULL. */
TapeEntry *tape_record(Tape *tp, OpType op, Tensor *out, Tensor *a, Tensor *b, Tensor *c);
/* The grad buffer of t, allocated zeroed in the arena on first use; NULL if t needs none. */
float *tape_grad(Tape *tp, Tensor *t);

/* Backward from a scalar loss (d loss = 1). The loss must have been made by this tape. */
void tape_backward(Tape *tp, Tensor *loss);
/* Backward from any tensor with a given upstream gradient (same size as out): for tests. */
void tape_backward_from(Tape *tp, Tensor *out, const float *dout);

/* One line per entry: index, op, inputs (a parameter's name, then its shape) -> output shape:
 *    12 matmul         (32, 32, 64), bert.encoder.layer.0.attention.self.query.weight(64, 64) -> (32, 32, 64) */
void tape_print(const Tape *tp, FILE *f);

#endif
