/* fuzz_config.c — any bytes as a model folder's config.json (engine/nn.h model_config_load).
 * A config that loads must be one model_config_check accepts and whose sizes the engine can
 * compute with: every count the model derives from it (4·hidden, heads·head size, the
 * parameter counts) fits in an int. Anything else is an error message, never a crash. */
#include <stdlib.h>

#include "engine/nn.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write("config.json", data, size);
    ModelConfig c;
    char err[8192];
    if (model_config_load(&c, fuzz_dir(), err, sizeof err)) return 0;
    if (model_config_check(&c)) abort();   /* loaded, yet invalid */
    return 0;
}
