/* export.c — EXPORT.md written from the lesson's tables: lesson.json, metrics.csv, one folder
 * per model (config.json, model.safetensors, grads.safetensors when trained, vocab.txt),
 * batch.safetensors, attentions.safetensors and frame.png, into a temporary sibling folder
 * renamed into place only when every file is written. Also --describe, the same tables as
 * JSON for the contract tests. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lessons/common/kit.h"

/* The size of one shape symbol: B batch, T seq_len, K num_predict. */
static int64_t symbol_size(const Run *r, char c)
{
    switch (c) {
    case 'B': return r->B;
    case 'T': return r->T;
    case 'K': return (int64_t)kit_value(r, "num_predict");
    default: engine_fail(__FILE__, __LINE__, "unknown shape symbol '%c'", c);
    }
}

/* lesson.json's and --describe's "tied": the groups of "model/name" weights that are one */
static void add_tied(cJSON *j, const Lesson *l)
{
    cJSON *tied = cJSON_AddArrayToObject(j, "tied");
    for (int t = 0; l->tied && l->tied[t]; t++) {
        cJSON *group = cJSON_CreateArray();
        for (int k = 0; l->tied[t][k]; k++) cJSON_AddItemToArray(group, cJSON_CreateString(l->tied[t][k]));
        cJSON_AddItemToArray(tied, group);
    }
}

static char *lesson_json(const Run *r)
{
    const Lesson *l = r->lesson;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "lesson", l->info.name);
    cJSON_AddNumberToObject(j, "step", (double)r->step);
    char seed[32]; /* 64-bit, exactly: a double would round seeds above 2^53 */
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->opt.seed);
    cJSON_AddRawToObject(j, "seed", seed);
    cJSON_AddNumberToObject(j, "batch_size", r->B);
    cJSON_AddNumberToObject(j, "seq_len", r->T);
    cJSON *losses = cJSON_AddObjectToObject(j, "losses");
    cJSON_AddNumberToObject(losses, "total", engine_json_float(r->loss));
    for (int i = 0; i < l->nparts; i++) cJSON_AddNumberToObject(losses, l->parts[i], engine_json_float(r->parts[i]));
    cJSON *settings = cJSON_AddObjectToObject(j, "settings");
    for (int i = 0; i < l->info.nkeys; i++) {
        const KeyDef *k = &l->info.keys[i];
        if (k->choices) cJSON_AddStringToObject(settings, k->name, runtime_choice_name(k, r->opt.value[i]));
        else cJSON_AddNumberToObject(settings, k->name, r->opt.value[i]);
    }
    cJSON_AddNumberToObject(settings, "lr", engine_json_float(r->opt.lr));
    cJSON_AddNumberToObject(settings, "batch_size", r->B);
    add_tied(j, l);
    cJSON_AddStringToObject(j, "version", FMLAB_VERSION);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    return text;
}

static int write_batch(const Run *r, const char *path, char *err, size_t errlen)
{
    const Lesson *l = r->lesson;
    void *bufs[KIT_MAX_BATCH] = {0};
    StWriter w;
    st_writer_init(&w);
    int rc = 0;
    for (int i = 0; i < l->nbatch && !rc; i++) {
        const KitTensorSpec *t = &l->batch[i];
        int64_t shape[4];
        int nd = (int)strlen(t->shape);
        size_t n = 1;
        ENGINE_CHECK(nd >= 1 && nd <= 4, "batch tensor %s: shape \"%s\"", t->name, t->shape);
        for (int d = 0; d < nd; d++) n *= (size_t)(shape[d] = symbol_size(r, t->shape[d]));
        const void *src = l->batch_data(r, i);
        if (t->src == KIT_F32) {
            rc = st_writer_add(&w, t->name, ST_F32, nd, shape, src);
            continue;
        }
        int64_t *b = malloc(n * sizeof *b);
        if (!b) { rc = engine_error(err, errlen, "%s: out of memory", path); break; }
        bufs[i] = b;
        for (size_t k = 0; k < n; k++) b[k] = t->src == KIT_I32 ? ((const int32_t *)src)[k] : ((const uint8_t *)src)[k];
        rc = st_writer_add(&w, t->name, ST_I64, nd, shape, b);
    }
    if (!rc) rc = st_writer_save(&w, path, err, errlen);
    else if (!err[0]) engine_error(err, errlen, "%s: out of memory", path);
    st_writer_free(&w);
    for (int i = 0; i < KIT_MAX_BATCH; i++) free(bufs[i]);
    return rc;
}

static int write_attentions(const Run *r, const char *path, char *err, size_t errlen)
{
    const Lesson *l = r->lesson;
    StWriter w;
    st_writer_init(&w);
    int rc = 0, k = 0;
    static char names[KIT_MAX_MODELS * KIT_MAX_STREAMS * 64][96];
    for (int i = 0; i < l->nmodels && !rc; i++) {
        if (l->exported && !l->exported(r, i)) continue;
        const ModelConfig *c = &r->models[i].model.cfg;
        for (int s = 0; s < KIT_MAX_STREAMS && l->models[i].streams[s] && !rc; s++) {
            if (!r->models[i].attn[s]) { rc = engine_error(err, errlen, "%s: no forward pass to export", path); break; }
            for (int layer = 0; layer < c->num_hidden_layers && layer < 64; layer++) {
                const char *stream = l->models[i].streams[s];
                if (stream[0]) snprintf(names[k], sizeof names[k], "%s.layer.%d.%s", l->models[i].folder, layer, stream);
                else snprintf(names[k], sizeof names[k], "%s.layer.%d", l->models[i].folder, layer);
                int64_t shape[4] = {r->B, c->num_attention_heads, r->T, r->T};
                if ((rc = st_writer_add(&w, names[k++], ST_F32, 4, shape, r->models[i].attn[s][layer]))) break;
            }
        }
    }
    if (!rc) rc = st_writer_save(&w, path, err, errlen);
    else if (!err[0]) engine_error(err, errlen, "%s: out of memory", path);
    st_writer_free(&w);
    return rc;
}

int kit_export(Run *r, const char *dir, KitRenderFn render, char *err, size_t errlen)
{
    const Lesson *l = r->lesson;
    char tmp[4096], path[4400];
    err[0] = 0;
    if (export_check_target(dir, r->opt.force, err, errlen)) return -1;
    if (export_begin(dir, tmp, sizeof tmp, err, errlen)) return -1;
    char *text = lesson_json(r);
    snprintf(path, sizeof path, "%s/lesson.json", tmp);
    int rc = text ? engine_write_text_atomic(path, text, err, errlen) : engine_error(err, errlen, "out of memory");
    free(text);
    snprintf(path, sizeof path, "%s/metrics.csv", tmp);
    if (!rc) rc = metrics_write_csv(&r->metrics, path, err, errlen);
    for (int i = 0; i < l->nmodels && !rc; i++) {
        const KitModelSpec *m = &l->models[i];
        if (l->exported && !l->exported(r, i)) continue;
        snprintf(path, sizeof path, "%s/%s", tmp, m->folder);
        if (mkdir(path, 0755)) { rc = engine_error(err, errlen, "%s: cannot create", path); break; }
        rc = model_save(&r->models[i].model, path, err, errlen);
        snprintf(path, sizeof path, "%s/%s/grads.safetensors", tmp, m->folder);
        if (!rc && m->trained) rc = model_save_grads(&r->models[i].model, path, err, errlen);
        snprintf(path, sizeof path, "%s/%s/vocab.txt", tmp, m->folder);
        if (!rc) rc = vocab_save(r->vocab, path, err, errlen);
    }
    snprintf(path, sizeof path, "%s/batch.safetensors", tmp);
    if (!rc) rc = write_batch(r, path, err, errlen);
    snprintf(path, sizeof path, "%s/attentions.safetensors", tmp);
    if (!rc) rc = write_attentions(r, path, err, errlen);
    snprintf(path, sizeof path, "%s/frame.png", tmp);
    if (!rc && render) rc = render(r, path, err, errlen);
    if (!rc) rc = export_commit(tmp, dir, r->opt.force, err, errlen);
    if (rc) export_abort(tmp);
    return rc ? -1 : 0;
}

void kit_describe(const Lesson *l, FILE *f)
{
    cJSON *j = cJSON_CreateObject();
    char prog[64];
    snprintf(prog, sizeof prog, "fmlab-%s", l->info.name);
    cJSON_AddStringToObject(j, "lesson", l->info.name);
    cJSON_AddStringToObject(j, "program", prog);
    cJSON_AddStringToObject(j, "title", l->info.title);
    cJSON_AddStringToObject(j, "summary", l->info.summary);
    cJSON_AddNumberToObject(j, "default_batch", l->info.default_batch);
    cJSON_AddNumberToObject(j, "default_lr", engine_json_float(l->info.default_lr));
    cJSON *keys = cJSON_AddArrayToObject(j, "settings");
    for (int i = 0; i < l->info.nkeys; i++) {
        const KeyDef *k = &l->info.keys[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", k->name);
        cJSON_AddNumberToObject(o, "default", k->def);
        cJSON_AddNumberToObject(o, "min", k->min);
        cJSON_AddNumberToObject(o, "max", k->max);
        cJSON_AddBoolToObject(o, "integer", k->integer);
        cJSON_AddStringToObject(o, "help", k->help);
        if (k->choices) {
            cJSON *c = cJSON_AddArrayToObject(o, "choices");
            for (int n = 0; k->choices[n]; n++) cJSON_AddItemToArray(c, cJSON_CreateString(k->choices[n]));
        }
        cJSON_AddItemToArray(keys, o);
    }
    cJSON *models = cJSON_AddArrayToObject(j, "models");
    cJSON *attn = cJSON_AddArrayToObject(j, "attentions");
    for (int i = 0; i < l->nmodels; i++) {
        const KitModelSpec *m = &l->models[i];
        if (m->alt) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "folder", m->folder);
        cJSON_AddStringToObject(o, "class", m->class_name);
        cJSON_AddBoolToObject(o, "trained", m->trained);
        cJSON_AddItemToArray(models, o);
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "model", m->folder);
        cJSON *streams = cJSON_AddArrayToObject(a, "streams");
        for (int s = 0; s < KIT_MAX_STREAMS && m->streams[s]; s++) cJSON_AddItemToArray(streams, cJSON_CreateString(m->streams[s]));
        cJSON_AddItemToArray(attn, a);
    }
    cJSON *losses = cJSON_AddArrayToObject(j, "losses");
    for (int i = 0; i < l->nparts; i++) cJSON_AddItemToArray(losses, cJSON_CreateString(l->parts[i]));
    cJSON *metrics = cJSON_AddArrayToObject(j, "metrics");
    cJSON_AddItemToArray(metrics, cJSON_CreateString("loss"));
    for (int i = 0; i < l->nparts; i++) cJSON_AddItemToArray(metrics, cJSON_CreateString(l->parts[i]));
    cJSON_AddItemToArray(metrics, cJSON_CreateString("lr"));
    for (int i = 0; i < l->nextra; i++) cJSON_AddItemToArray(metrics, cJSON_CreateString(l->extra[i]));
    cJSON *batch = cJSON_AddArrayToObject(j, "batch");
    for (int i = 0; i < l->nbatch; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", l->batch[i].name);
        cJSON_AddStringToObject(o, "dtype", l->batch[i].src == KIT_F32 ? "F32" : "I64");
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        for (const char *c = l->batch[i].shape; *c; c++) {
            char sym[2] = {*c, 0};
            cJSON_AddItemToArray(shape, cJSON_CreateString(sym));
        }
        cJSON_AddItemToArray(batch, o);
    }
    add_tied(j, l);
    char *s = cJSON_Print(j);
    if (s) fprintf(f, "%s\n", s);
    free(s);
    cJSON_Delete(j);
}
