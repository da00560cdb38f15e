/* fuzz_checkpoint.c — any bytes as a checkpoint file given to --resume
 * (lessons/common/checkpoint.h), read as the kit reads it: the saved settings first
 * (checkpoint_read_settings), then everything into a run of the expected shape
 * (checkpoint_load; the run of fuzz_checkpoint_state.h), then the word-order table
 * (checkpoint_read_extra); a checkpoint that loads is then resumed for one AdamW update and a
 * few draws of its RNG, as the first step after --resume does. A malformed, hostile or
 * mismatched checkpoint is an error message, never a crash or a hang. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_checkpoint_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FuzzRun run;
    static bool ready;
    if (!ready) {
        fuzz_run_init(&run);
        ready = true;
    }
    const char *path = fuzz_write("checkpoint.safetensors", data, size);
    char err[1024], *settings = NULL;
    if (checkpoint_read_settings(path, &settings, err, sizeof err)) return 0;
    free(settings);
    settings = NULL;
    run.opt = adamw_default();
    rng_seed(&run.rng, 42, 0);
    CheckpointState cs = fuzz_run_state(&run, 0, NULL);
    if (checkpoint_load(path, &cs, &settings, err, sizeof err)) return 0;
    free(settings);
    float *table;
    int64_t rows, cols;
    char *found;
    if (checkpoint_read_extra(path, "word_order", &table, &rows, &cols, "word_order_found", &found, err, sizeof err) == 0) {
        free(table);
        free(found);
    }
    adamw_step(cs.opt[0], cs.pb[0], 1e-3f);
    for (int i = 0; i < 4; i++) (void)rng_below(cs.rng, 1000);
    return 0;
}
