/* make_seeds.c — the seed inputs of the binary fuzz targets, made by fmlab's own writers so
 * they are valid by construction and follow the formats as they change:
 *
 *   OUT/safetensors/   model.safetensors of a tiny model of every class (model_save), and a
 *                      file with a tensor of each dtype and metadata
 *   OUT/config/        the config.json of each of those models
 *   OUT/checkpoint/    a checkpoint of fuzz_checkpoint's run (checkpoint_save), and one
 *                      without history
 *
 * Text inputs (vocab.txt, corpora, command lines) are small files under corpus/ instead.
 * Usage: make_seeds OUT (OUT is created or refreshed). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/nn.h"
#include "engine/safetensors.h"
#include "fuzz_checkpoint_state.h"

static char err[1024];

static void fail(const char *what)
{
    fprintf(stderr, "make_seeds: %s: %s\n", what, err);
    exit(1);
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0755) && errno != EEXIST) {
        snprintf(err, sizeof err, "%s", strerror(errno));
        fail(path);
    }
}

static void rename_to(const char *from, const char *to)
{
    if (rename(from, to)) {
        snprintf(err, sizeof err, "%s", strerror(errno));
        fail(to);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUT\n");
        return 2;
    }
    char path[4096], to[4096];
    const char *out = argv[1];
    make_dir(out);
    const char *sub[] = {"safetensors", "config", "checkpoint", "tmp"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", out, sub[i]);
        make_dir(path);
    }

    /* a tiny model of every class: its config.json and model.safetensors */
    for (int k = 0; k < MODEL_KIND_COUNT; k++) {
        ModelConfig cfg = model_config_default((ModelKind)k);
        cfg.vocab_size = 8;
        cfg.hidden_size = 4;
        cfg.num_hidden_layers = 1;
        cfg.num_attention_heads = 2;
        cfg.intermediate_size = 8;
        cfg.embedding_size = k == MODEL_ALBERT || k == MODEL_ELECTRA_GEN ? 2 : 4;
        cfg.max_position_embeddings = 6;
        Model m;
        ParamBlock pb;
        params_init(&pb);
        model_init(&m, &cfg, &pb, NULL, NULL);
        if (!params_finalize(&pb)) fail("out of memory");
        Rng r;
        rng_seed(&r, 1, 1);
        model_init_weights(&m, &r);
        snprintf(path, sizeof path, "%s/tmp", out);
        if (model_save(&m, path, err, sizeof err)) fail(path);
        snprintf(path, sizeof path, "%s/tmp/config.json", out);
        snprintf(to, sizeof to, "%s/config/%s.json", out, model_kind_name[k]);
        rename_to(path, to);
        snprintf(path, sizeof path, "%s/tmp/model.safetensors", out);
        snprintf(to, sizeof to, "%s/safetensors/%s.safetensors", out, model_kind_name[k]);
        rename_to(path, to);
        model_free(&m);
        params_free(&pb);
    }
    snprintf(path, sizeof path, "%s/tmp", out);
    rmdir(path);

    /* every dtype, an empty tensor, a scalar and metadata */
    static const float f[6] = {1, -2, 0.5f, 3e-8f, 1e30f, -0.0f};
    static const int64_t l[2] = {-1, 1LL << 40};
    static const int32_t i32[3] = {7, -7, 0};
    StWriter w;
    st_writer_init(&w);
    st_writer_add(&w, "a.weight", ST_F32, 2, (const int64_t[]){2, 3}, f);
    st_writer_add(&w, "steps", ST_I64, 1, (const int64_t[]){2}, l);
    st_writer_add(&w, "ids", ST_I32, 3, (const int64_t[]){1, 3, 1}, i32);
    st_writer_add(&w, "empty", ST_F32, 2, (const int64_t[]){0, 4}, f);
    st_writer_add(&w, "scalar", ST_F32, 0, NULL, f + 2);
    st_writer_metadata(&w, "format", "pt");
    st_writer_metadata(&w, "note", "seed");
    snprintf(path, sizeof path, "%s/safetensors/dtypes.safetensors", out);
    if (st_writer_save(&w, path, err, sizeof err)) fail(path);
    st_writer_free(&w);

    /* fuzz_checkpoint's run, after two steps and before any */
    FuzzRun run;
    fuzz_run_init(&run);
    const char *settings = "{\"seed\":\"42\",\"batch\":4,\"lr\":0.001,\"keys\":{\"hidden_size\":64,\"seq_len\":32}}";
    for (int s = 0; s < 2; s++) {
        const float row[3] = {7.5f - (float)s, 1e-3f, 0.1f};
        if (metrics_append(&run.metrics, row)) fail("out of memory");
        adamw_step(&run.opt, &run.pb[0], 1e-3f);
        run.counters[0] += 3;
        run.counters[1] += 1;
        run.order[3 * s] = (float)s;
    }
    CheckpointState cs = fuzz_run_state(&run, 2, settings);
    snprintf(path, sizeof path, "%s/checkpoint/step2.safetensors", out);
    if (checkpoint_save(path, &cs, err, sizeof err)) fail(path);
    fuzz_run_free(&run);
    fuzz_run_init(&run);
    cs = fuzz_run_state(&run, 0, settings);
    cs.table_rows = 0;
    snprintf(path, sizeof path, "%s/checkpoint/step0.safetensors", out);
    if (checkpoint_save(path, &cs, err, sizeof err)) fail(path);
    fuzz_run_free(&run);
    return 0;
}
