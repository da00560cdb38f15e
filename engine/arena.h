/* arena.h — a bump allocator: the scratch memory of one training step.
 *
 * Every activation, every gradient of an activation and the tape itself come from one arena
 * that is reset after the optimizer update, so a step never calls malloc per op and never
 * frees per tensor (ggml's context works the same way). Allocations are 64-byte aligned and
 * zero-filled on request. Running out is a programmer error: the hint names the capacity. */
#ifndef FMLAB_ENGINE_ARENA_H
#define FMLAB_ENGINE_ARENA_H

#include "common.h"

typedef struct Arena {
    unsigned char *base;
    size_t cap;   /* bytes */
    size_t used;  /* bytes handed out since the last reset */
    size_t peak;  /* the most ever used: size the arena from this */
} Arena;

/* Returns false if the memory cannot be had (a resource error, reported to the caller). */
bool arena_init(Arena *a, size_t cap_bytes);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t bytes);        /* uninitialised */
void *arena_calloc(Arena *a, size_t bytes);       /* zero-filled */
void arena_reset(Arena *a);

#endif
