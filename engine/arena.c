/* arena.c — the bump allocator. */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 64

bool arena_init(Arena *a, size_t cap_bytes)
{
    cap_bytes = (cap_bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    a->base = aligned_alloc(ARENA_ALIGN, cap_bytes);
    a->cap = a->base ? cap_bytes : 0;
    a->used = 0;
    a->peak = 0;
    return a->base != NULL;
}

void arena_free(Arena *a)
{
    free(a->base);
    a->base = NULL;
    a->cap = a->used = a->peak = 0;
}

void *arena_alloc(Arena *a, size_t bytes)
{
    size_t need = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    ENGINE_CHECK(a->base != NULL, "arena used before arena_init");
    ENGINE_CHECK(need <= a->cap - a->used,
                 "arena overflow: %zu bytes wanted, %zu of %zu in use; "
                 "give the step's arena more capacity (its peak so far is %zu)",
                 bytes, a->used, a->cap, a->peak);
    void *p = a->base + a->used;
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

void *arena_calloc(Arena *a, size_t bytes)
{
    void *p = arena_alloc(a, bytes);
    memset(p, 0, bytes);
    return p;
}

void arena_reset(Arena *a) { a->used = 0; }
