/* fuzz_safetensors.c — any bytes as a safetensors file (engine/safetensors.h), from memory
 * (st_parse) and from a file (st_load), then read the way the model and checkpoint loaders
 * read it: every tensor found by name and copied out, the metadata strings looked up.
 * Both paths must agree: a file that parses from memory loads from disk, with the same
 * tensors. A malformed file is an error message, never a crash, a hang or a read out of
 * bounds. */
#include <stdlib.h>
#include <string.h>

#include "engine/safetensors.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    SafeTensors a, b;
    char err[512];
    int ra = st_parse(&a, data, size, err, sizeof err);
    int rb = st_load(&b, fuzz_write("input.safetensors", data, size), err, sizeof err);
    if (ra != rb || (ra == 0 && a.count != b.count)) abort();   /* memory and file disagree */
    if (rb == 0) st_free(&b);
    if (ra) return 0;
    for (int i = 0; i < a.count; i++) {
        const StTensor *t = &a.tensors[i];
        if (st_find(&a, t->name) != t) abort();   /* names are unique */
        if (t->dtype != ST_F32) continue;
        float *dst = malloc(t->nbytes ? t->nbytes : 1);
        if (!dst) continue;
        if (st_read_f32(&a, t->name, dst, t->count, err, sizeof err)) abort();
        free(dst);
    }
    static const char *const keys[] = {"format", "lesson", "step", "rng", "settings", "adam_step"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        const char *v = st_metadata(&a, keys[k]);
        if (v) (void)strlen(v);
    }
    st_free(&a);
    return 0;
}
