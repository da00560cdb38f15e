/* fuzz_checkpoint.c — any bytes as a checkpoint file given to --resume
 * (lessons/common/checkpoint.h), read as the kit reads it: opened and checked as a file
 * (checkpoint_open), its saved settings, then everything into a run of the expected shape
 * (checkpoint_load; the run of fuzz_checkpoint_state.h), then the word-order table
 * (checkpoint_read_extra). An input that carries the checksum key gets its checksum made to
 * match first, so that mutations reach the readers behind it; a checkpoint that loads is then resumed for one AdamW update and a
 * few draws of its RNG, as the first step after --resume does. A malformed, hostile or
 * mismatched checkpoint is an error message, never a crash or a hang. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_checkpoint_state.h"

/* zlib's CRC-32, as engine/safetensors.c checks it */
static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xffffffffu;
}

/* The checksum's 8 hex digits, when the input has the key: computed with them read as "0". */
static void fix_checksum(uint8_t *d, size_t n)
{
    static const char key[] = "\"" ST_CHECKSUM_KEY "\":\"";
    size_t kl = sizeof key - 1;
    for (size_t i = 0; i + kl + 8 <= n; i++)
        if (!memcmp(d + i, key, kl)) {
            memset(d + i + kl, '0', 8);
            char hex[9];
            snprintf(hex, sizeof hex, "%08x", (unsigned)crc32_of(d, n));
            memcpy(d + i + kl, hex, 8);
            return;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FuzzRun run;
    static bool ready;
    if (!ready) {
        fuzz_run_init(&run);
        ready = true;
    }
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    fix_checksum(copy, size);
    const char *path = fuzz_write("checkpoint.safetensors", copy, size);
    free(copy);
    char err[1024];
    CheckpointFile f;
    if (checkpoint_open(&f, path, "mlm", err, sizeof err)) return 0;
    (void)checkpoint_settings(&f);
    run.opt = adamw_default();
    rng_seed(&run.rng, 42, 0);
    CheckpointState cs = fuzz_run_state(&run, 0, NULL);
    if (checkpoint_load(&f, &cs, err, sizeof err) == 0) {
        float *table;
        int64_t rows, cols;
        char *found;
        if (checkpoint_read_extra(&f, "word_order", &table, &rows, &cols, "word_order_found", &found, err, sizeof err) == 0) {
            free(table);
            free(found);
        }
        adamw_step(cs.opt[0], cs.pb[0], 1e-3f);
        for (int i = 0; i < 4; i++) (void)rng_below(cs.rng, 1000);
    }
    checkpoint_close(&f);
    return 0;
}
