/* fuzz.h — what every fuzz target shares. A target is one libFuzzer entry point,
 * LLVMFuzzerTestOneInput(data, size), that hands the bytes to one reader of untrusted input
 * the way fmlab reads them (a file on disk, a string, an argv). Built with clang and
 * -Dfuzz=enabled it links libFuzzer's main; otherwise replay.c's main runs it over the files
 * of its corpus, so the corpora are regression tests of the normal suite.
 *
 * A target must not leak, keep state between inputs (other than what it sets up once), print
 * on every input, or exit: each of those hides findings or slows the search. */
#ifndef FMLAB_FUZZ_H
#define FMLAB_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a file of the reader's: fuzz_write() writes the bytes to <folder>/<name> and
 * returns that path, the folder being a private one made once per process in $TMPDIR (else
 * /dev/shm, else /tmp) and removed at exit; fuzz_dir() is the folder (a reader that wants
 * <dir>/config.json is given it). A failure to write is a broken machine: it aborts. */
const char *fuzz_write(const char *name, const uint8_t *data, size_t size);
const char *fuzz_dir(void);

/* The input as a NUL-terminated string (malloc'd; free it). */
char *fuzz_string(const uint8_t *data, size_t size);

#endif
