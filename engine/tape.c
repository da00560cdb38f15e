/* tape.c — recording, backward and printing. The per-op math is in ops.c. */
#include "tape.h"

#include <stdlib.h>
#include <string.h>

#include "ops.h"

const char *const op_name[] = {
    [OP_ADD] = "add",
    [OP_MUL] = "mul",
    [OP_SCALE] = "scale",
    [OP_MATMUL] = "matmul",
    [OP_LINEAR] = "linear",
    [OP_RESHAPE] = "reshape",
    [OP_TRANSPOSE12] = "transpose12",
    [OP_SLICE_LAST] = "slice_last",
    [OP_GATHER_ROWS] = "gather_rows",
    [OP_EMBEDDING] = "embedding",
    [OP_LAYERNORM] = "layernorm",
    [OP_GELU_ERF] = "gelu_erf",
    [OP_GELU_TANH] = "gelu_tanh",
    [OP_TANH] = "tanh",
    [OP_SOFTMAX] = "softmax",
    [OP_MASKED_SOFTMAX] = "masked_softmax",
    [OP_ATTENTION] = "attention",
    [OP_CROSS_ENTROPY] = "cross_entropy",
    [OP_BCE_LOGITS] = "bce_logits",
    [OP_KL_DIV] = "kl_div",
    [OP_COSINE_LOSS] = "cosine_loss",
    [OP_SUM] = "sum",
    [OP_MEAN] = "mean",
};
_Static_assert(sizeof op_name / sizeof op_name[0] == OP_COUNT, "every op needs a name");

bool tape_init(Tape *tp, size_t arena_bytes, int max_entries)
{
    for (int i = 0; i < OP_COUNT; i++)
        ENGINE_CHECK(op_name[i] && op_name[i][0], "op %d has no name in tape.c's op_name table", i);
    memset(tp, 0, sizeof *tp);
    if (!arena_init(&tp->arena, arena_bytes)) return false;
    tp->entries = calloc((size_t)max_entries, sizeof *tp->entries);
    if (!tp->entries) { arena_free(&tp->arena); return false; }
    tp->cap = max_entries;
    return true;
}

void tape_free(Tape *tp)
{
    arena_free(&tp->arena);
    free(tp->entries);
    memset(tp, 0, sizeof *tp);
}

void tape_reset(Tape *tp)
{
    arena_reset(&tp->arena);
    tp->count = 0;
}

TapeMark tape_mark(const Tape *tp)
{
    TapeMark m = {tp->arena.used, tp->count};
    return m;
}

/* True if p points into the part of the arena that a rewind to `used` gives back. */
static bool in_dropped(const Arena *a, size_t used, const void *p)
{
    uintptr_t u = (uintptr_t)p, lo = (uintptr_t)(a->base + used), hi = (uintptr_t)(a->base + a->cap);
    return p && u >= lo && u < hi;
}

static void drop_late_grad(const Arena *a, size_t used, Tensor *t)
{
    if (t && !in_dropped(a, used, t) && in_dropped(a, used, t->grad)) t->grad = NULL;
}

void tape_rewind(Tape *tp, TapeMark m)
{
    ENGINE_CHECK(m.used <= tp->arena.used && m.count <= tp->count,
                 "tape_rewind: the mark (%zu bytes, %d entries) is ahead of the tape (%zu bytes, %d entries): "
                 "was the tape reset after tape_mark?",
                 m.used, m.count, tp->arena.used, tp->count);
    /* A tensor that survives (made before the mark) may have been given a grad buffer after
     * it, which would dangle. Every tensor backward can reach is an input or output of an
     * entry, and the dropped entries are still readable until the arena is used again. */
    for (int i = 0; i < tp->count; i++) {
        TapeEntry *e = &tp->entries[i];
        drop_late_grad(&tp->arena, m.used, e->out);
        for (int k = 0; k < 3; k++) drop_late_grad(&tp->arena, m.used, e->in[k]);
    }
    tp->arena.used = m.used;
    tp->count = m.count;
}

Tensor *tape_tensor(Tape *tp, int ndim, const int *shape)
{
    Tensor *t = arena_alloc(&tp->arena, sizeof *t);
    memset(t, 0, sizeof *t);
    tensor_set_shape(t, ndim, shape);
    t->data = arena_alloc(&tp->arena, t->size * sizeof(float));
    t->tape_index = -1;
    return t;
}

Tensor *tape_leaf(Tape *tp, int ndim, const int *shape, bool requires_grad)
{
    Tensor *t = tape_tensor(tp, ndim, shape);
    memset(t->data, 0, t->size * sizeof(float));
    t->requires_grad = requires_grad;
    return t;
}

TapeEntry *tape_record(Tape *tp, OpType op, Tensor *out, Tensor *a, Tensor *b, Tensor *c)
{
    bool needs = (a && a->requires_grad) || (b && b->requires_grad) || (c && c->requires_grad);
    if (tp->no_grad || !needs) return NULL;
    ENGINE_CHECK(tp->count < tp->cap, "tape full (%d entries): give tape_init more entries", tp->cap);
    TapeEntry *e = &tp->entries[tp->count];
    memset(e, 0, sizeof *e);
    e->op = op;
    e->out = out;
    e->in[0] = a;
    e->in[1] = b;
    e->in[2] = c;
    out->requires_grad = true;
    out->tape_index = tp->count++;
    return e;
}

float *tape_grad(Tape *tp, Tensor *t)
{
    if (!t->requires_grad) return NULL;
    if (!t->grad) t->grad = arena_calloc(&tp->arena, t->size * sizeof(float));
    return t->grad;
}

static void backward_walk(Tape *tp, int last)
{
    for (int i = last; i >= 0; i--) {
        TapeEntry *e = &tp->entries[i];
        if (!e->out->grad) continue; /* nothing flowed into this output */
        op_backward_entry(tp, e);
    }
}

void tape_backward(Tape *tp, Tensor *loss)
{
    ENGINE_CHECK(loss->size == 1, "backward needs a scalar loss, got %zu elements", loss->size);
    ENGINE_CHECK(loss->tape_index >= 0 && loss->tape_index < tp->count && tp->entries[loss->tape_index].out == loss,
                 "backward without a loss on this tape: was it computed with no_grad, from inputs "
                 "that need no gradient, or before tape_reset?");
    tape_grad(tp, loss)[0] += 1.0f;
    backward_walk(tp, loss->tape_index);
}

void tape_backward_from(Tape *tp, Tensor *out, const float *dout)
{
    ENGINE_CHECK(out->tape_index >= 0 && out->tape_index < tp->count, "backward from a tensor not on this tape");
    float *g = tape_grad(tp, out);
    for (size_t i = 0; i < out->size; i++) g[i] += dout[i];
    backward_walk(tp, out->tape_index);
}

void tape_print(const Tape *tp, FILE *f)
{
    char s[64];
    for (int i = 0; i < tp->count; i++) {
        const TapeEntry *e = &tp->entries[i];
        fprintf(f, "%4d %-15s", i, op_name[e->op]);
        for (int k = 0; k < 3 && e->in[k]; k++)
            fprintf(f, "%s%s%s", k ? ", " : "", e->in[k]->name ? e->in[k]->name : "",
                    tensor_shape_str(e->in[k], s, sizeof s));
        fprintf(f, " -> %s\n", tensor_shape_str(e->out, s, sizeof s));
    }
}
