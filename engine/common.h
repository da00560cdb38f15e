/* common.h — what every engine file needs: the programmer-error check that stops with
 * file:line and a hint, and the engine's thread setting.
 *
 * Programmer errors (shape mismatch, arena overflow, backward without a loss) are bugs in the
 * calling code: they stop the program at once, naming the place and what to look at.
 * Resource errors (files, memory) are returned to the caller instead; see safetensors.h. */
#ifndef FMLAB_ENGINE_COMMON_H
#define FMLAB_ENGINE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#if defined(__GNUC__)
#define ENGINE_NORETURN __attribute__((noreturn))
#define ENGINE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ENGINE_NORETURN
#define ENGINE_PRINTF(a, b)
#endif

ENGINE_NORETURN ENGINE_PRINTF(3, 4)
void engine_fail(const char *file, int line, const char *fmt, ...);

/* ENGINE_CHECK(cond, "hint with %d", x): stops with file:line when cond is false. */
#define ENGINE_CHECK(cond, ...) \
    do { if (!(cond)) engine_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)

/* Resource errors are reported, not fatal: writes the one-line reason into err (if err is
 * not NULL) and returns -1, so that `return engine_error(err, errlen, "...", ...);` reads
 * as what it does. */
ENGINE_PRINTF(3, 4)
int engine_error(char *err, size_t errlen, const char *fmt, ...);

/* A float as a person would type it, for JSON: the double nearest the shortest decimal that
 * reads back as the same float (0.001f -> 0.001, not 0.0010000000474974513). */
double engine_json_float(float x);

/* Writes a file so that a crash never leaves half of it under its real name: write() fills
 * a temporary of this call's own next to PATH (PATH.tmp-<pid>-<n>, created exclusively, never
 * through a symlink), which is synced to disk, renamed to PATH, and the folder synced. Two runs
 * writing PATH at once each rename a whole file of their own; the last one wins. Temporaries
 * left by a killed run (its pid no longer running) are removed by the next write to PATH.
 * write returns false on an error of its own. 0, or -1 with a message naming PATH. */
#include <stdio.h>
typedef bool (*EngineWriteFn)(FILE *f, const void *ctx);
int engine_write_atomic(const char *path, EngineWriteFn write, const void *ctx, char *err, size_t errlen);
/* The common case: one string. */
int engine_write_text_atomic(const char *path, const char *text, char *err, size_t errlen);

/* Threads used by the heavy ops (matmul, attention, row-wise ops). 0 = all cores.
 * Results are bit-identical for any thread count: work is split by output rows, never by
 * a reduction. Without OpenMP at build time this is a no-op and everything runs on one. */
void engine_set_threads(int n);
int engine_threads(void);
/* "avx512", "avx2" or "generic": the matmul kernel this processor runs. */
const char *engine_kernel_name(void);

#endif
