/* model_io.c — a model on disk as Hugging Face lays it out: config.json with the class's own
 * keys, model.safetensors with its parameter names and layouts (tied weights once, under
 * the embedding's name). Files are written to a temporary name and renamed into place. */
#define _POSIX_C_SOURCE 200809L
#include <cJSON.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nn.h"
#include "safetensors.h"

static const char *act_name(Activation a) { return a == ACT_GELU_NEW ? "gelu_new" : "gelu"; }

static cJSON *config_json(const ModelConfig *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(j, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString(model_kind_name[c->kind]));
    cJSON_AddStringToObject(j, "model_type", model_type_name[c->kind]);
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(j, "pad_token_id", c->pad_token_id);
    cJSON_AddNumberToObject(j, "initializer_range", engine_json_float(c->initializer_range));
    cJSON_AddBoolToObject(j, "tie_word_embeddings", true);
    switch (c->kind) {
    case MODEL_GPT2:
        cJSON_AddNumberToObject(j, "n_embd", c->hidden_size);
        cJSON_AddNumberToObject(j, "n_layer", c->num_hidden_layers);
        cJSON_AddNumberToObject(j, "n_head", c->num_attention_heads);
        cJSON_AddNumberToObject(j, "n_inner", c->intermediate_size);
        cJSON_AddNumberToObject(j, "n_positions", c->max_position_embeddings);
        cJSON_AddNumberToObject(j, "n_ctx", c->max_position_embeddings);
        cJSON_AddStringToObject(j, "activation_function", act_name(c->hidden_act));
        cJSON_AddNumberToObject(j, "layer_norm_epsilon", engine_json_float(c->layer_norm_eps));
        cJSON_AddNumberToObject(j, "resid_pdrop", 0);
        cJSON_AddNumberToObject(j, "embd_pdrop", 0);
        cJSON_AddNumberToObject(j, "attn_pdrop", 0);
        cJSON_AddBoolToObject(j, "scale_attn_weights", true);
        break;
    case MODEL_DISTILBERT:
        cJSON_AddNumberToObject(j, "dim", c->hidden_size);
        cJSON_AddNumberToObject(j, "n_layers", c->num_hidden_layers);
        cJSON_AddNumberToObject(j, "n_heads", c->num_attention_heads);
        cJSON_AddNumberToObject(j, "hidden_dim", c->intermediate_size);
        cJSON_AddNumberToObject(j, "max_position_embeddings", c->max_position_embeddings);
        cJSON_AddStringToObject(j, "activation", act_name(c->hidden_act));
        cJSON_AddNumberToObject(j, "dropout", 0);
        cJSON_AddNumberToObject(j, "attention_dropout", 0);
        cJSON_AddNumberToObject(j, "qa_dropout", 0);
        cJSON_AddNumberToObject(j, "seq_classif_dropout", 0);
        cJSON_AddBoolToObject(j, "sinusoidal_pos_embds", false);
        break;
    default:
        cJSON_AddNumberToObject(j, "hidden_size", c->hidden_size);
        cJSON_AddNumberToObject(j, "num_hidden_layers", c->num_hidden_layers);
        cJSON_AddNumberToObject(j, "num_attention_heads", c->num_attention_heads);
        cJSON_AddNumberToObject(j, "intermediate_size", c->intermediate_size);
        cJSON_AddNumberToObject(j, "max_position_embeddings", c->max_position_embeddings);
        cJSON_AddNumberToObject(j, "type_vocab_size", c->type_vocab_size);
        cJSON_AddStringToObject(j, "hidden_act", act_name(c->hidden_act));
        cJSON_AddNumberToObject(j, "layer_norm_eps", engine_json_float(c->layer_norm_eps));
        cJSON_AddNumberToObject(j, "hidden_dropout_prob", 0);
        cJSON_AddNumberToObject(j, "attention_probs_dropout_prob", 0);
        cJSON_AddStringToObject(j, "position_embedding_type", "absolute");
        if (c->kind == MODEL_ALBERT || c->kind == MODEL_ELECTRA_GEN || c->kind == MODEL_ELECTRA_DISC)
            cJSON_AddNumberToObject(j, "embedding_size", c->embedding_size);
        if (c->kind == MODEL_BERT_SEQ_CLS) {
            /* BertConfig as BertForSequenceClassification.save_pretrained writes it (id2label,
             * label2id, problem_type, classifier_dropout null: hidden_dropout_prob's 0), plus
             * num_labels, which HF derives from id2label but fmlab's readers ask for */
            cJSON_AddNumberToObject(j, "num_labels", 2);
            cJSON *id2label = cJSON_AddObjectToObject(j, "id2label");
            cJSON_AddStringToObject(id2label, "0", "ham");
            cJSON_AddStringToObject(id2label, "1", "spam");
            cJSON *label2id = cJSON_AddObjectToObject(j, "label2id");
            cJSON_AddNumberToObject(label2id, "ham", 0);
            cJSON_AddNumberToObject(label2id, "spam", 1);
            cJSON_AddStringToObject(j, "problem_type", "single_label_classification");
            cJSON_AddNullToObject(j, "classifier_dropout");
        }
        if (c->kind == MODEL_ALBERT) {
            cJSON_AddNumberToObject(j, "num_hidden_groups", c->num_hidden_groups);
            cJSON_AddNumberToObject(j, "inner_group_num", 1);
            cJSON_AddNumberToObject(j, "classifier_dropout_prob", 0);
        }
        break;
    }
    return j;
}

/* <dir>/<name> into path; -1 with a message when it does not fit (never a cut path, which
 * would name another file). */
static int join_path(char *path, size_t n, const char *dir, const char *name, char *err, size_t errlen)
{
    int k = snprintf(path, n, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= n) return engine_error(err, errlen, "%.200s...: the path is longer than %zu bytes", dir, n - 1);
    return 0;
}

static int save_tensors(const Model *m, const char *path, bool grads, char *err, size_t errlen)
{
    StWriter w;
    st_writer_init(&w);
    st_writer_metadata(&w, "format", "pt");
    int rc = 0;
    for (int i = 0; i < m->nnamed && rc == 0; i++) {
        const Tensor *t = m->named[i].t;
        if (grads && !t->requires_grad) continue;   /* frozen: it has no gradient to write */
        int64_t shape[4];
        for (int k = 0; k < t->ndim; k++) shape[k] = t->shape[k];
        rc = st_writer_add(&w, m->named[i].name, ST_F32, t->ndim, shape, grads ? t->grad : t->data);
    }
    if (rc) rc = engine_error(err, errlen, "out of memory");
    else rc = st_writer_save(&w, path, err, errlen);
    st_writer_free(&w);
    return rc;
}

int model_save(const Model *m, const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if (join_path(path, sizeof path, dir, "model.safetensors", err, errlen)) return -1;
    cJSON *j = config_json(&m->cfg);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) return engine_error(err, errlen, "out of memory");
    join_path(path, sizeof path, dir, "config.json", err, errlen);   /* shorter: fits */
    size_t n = strlen(text);
    char *line = malloc(n + 2);
    if (!line) { free(text); return engine_error(err, errlen, "out of memory"); }
    memcpy(line, text, n);
    strcpy(line + n, "\n");
    int rc = engine_write_text_atomic(path, line, err, errlen);
    free(line);
    free(text);
    if (rc) return rc;
    join_path(path, sizeof path, dir, "model.safetensors", err, errlen);
    return save_tensors(m, path, false, err, errlen);
}

int model_save_grads(const Model *m, const char *path, char *err, size_t errlen)
{
    return save_tensors(m, path, true, err, errlen);
}

/* A config's value by key: absent or null is false (the caller keeps its default or reports
 * the key missing, as transformers does for GPT-2's "pad_token_id": null); present but unusable (not a number, not whole, outside an int; for floats, not
 * finite or outside float) is false too, with the key in *bad, so a value is never silently
 * truncated, clamped or rounded to infinity. */
static bool get_int(const cJSON *j, const char *key, int *out, const char **bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v)) return false;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= INT_MIN && d <= INT_MAX) || d != floor(d)) {
        if (!*bad) *bad = key;
        return false;
    }
    *out = (int)d;
    return true;
}

static bool get_float(const cJSON *j, const char *key, float *out, const char **bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v)) return false;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= -FLT_MAX && d <= FLT_MAX)) {
        if (!*bad) *bad = key;
        return false;
    }
    *out = (float)d;
    return true;
}

/* BertForSequenceClassification's labels: fmlab's classifier has exactly 2 (its logits are
 * (B,2)) and is trained with cross-entropy, so a config asking for another count or another
 * loss is refused rather than loaded into a model that would silently differ. HF writes
 * id2label and not num_labels; either may be absent (HF's default is 2 labels). 0, or -1. */
static int check_labels(const cJSON *j, const char *path, char *err, size_t errlen)
{
    const char *bad = NULL;
    int labels = 2;
    get_int(j, "num_labels", &labels, &bad);
    if (bad) return engine_error(err, errlen, "%s: the value of \"num_labels\" is not a whole number", path);
    if (labels != 2)
        return engine_error(err, errlen, "%s: num_labels is %d; fmlab's BertForSequenceClassification has 2 labels "
                            "(ham, spam)", path, labels);
    const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(j, "id2label");
    if (id2label && !cJSON_IsNull(id2label) && (!cJSON_IsObject(id2label) || cJSON_GetArraySize(id2label) != 2))
        return engine_error(err, errlen, "%s: id2label does not name 2 labels; fmlab's BertForSequenceClassification "
                            "has 2 (ham, spam)", path);
    const cJSON *problem = cJSON_GetObjectItemCaseSensitive(j, "problem_type");
    if (problem && !cJSON_IsNull(problem) &&
        !(cJSON_IsString(problem) && strcmp(problem->valuestring, "single_label_classification") == 0))
        return engine_error(err, errlen, "%s: problem_type is not \"single_label_classification\", the only one "
                            "fmlab's classifier is trained for", path);
    return 0;
}

/* config.json is a few hundred bytes; a larger file is refused, not read in part. */
#define CONFIG_MAX_BYTES (1 << 20)

int model_config_load(ModelConfig *cfg, const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if (join_path(path, sizeof path, dir, "config.json", err, errlen)) return -1;
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) return engine_error(err, errlen, "%s: not a regular file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return engine_error(err, errlen, "%s: %s", path, strerror(errno));
    char *buf = malloc(CONFIG_MAX_BYTES + 1);
    if (!buf) { fclose(f); return engine_error(err, errlen, "%s: out of memory", path); }
    size_t n = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
    bool bad_read = ferror(f);
    fclose(f);
    if (bad_read) { free(buf); return engine_error(err, errlen, "%s: read error", path); }
    if (n > CONFIG_MAX_BYTES) { free(buf); return engine_error(err, errlen, "%s: larger than %d bytes: not a config.json", path, CONFIG_MAX_BYTES); }
    cJSON *j = cJSON_ParseWithLength(buf, n);
    free(buf);
    if (!j) return engine_error(err, errlen, "%s: not valid JSON", path);
    const cJSON *arch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "architectures"), 0);
    int kind = -1;
    for (int k = 0; k < MODEL_KIND_COUNT && cJSON_IsString(arch); k++)
        if (strcmp(arch->valuestring, model_kind_name[k]) == 0) kind = k;
    if (kind < 0) {
        cJSON_Delete(j);
        return engine_error(err, errlen, "%s: \"architectures\" names no class fmlab knows", path);
    }
    ModelConfig c = model_config_default((ModelKind)kind);
    const char *bad = NULL;
    bool ok = get_int(j, "vocab_size", &c.vocab_size, &bad);
    get_int(j, "pad_token_id", &c.pad_token_id, &bad);
    get_float(j, "initializer_range", &c.initializer_range, &bad);
    const char *act_key = "hidden_act";
    if (kind == MODEL_GPT2) {
        ok = ok && get_int(j, "n_embd", &c.hidden_size, &bad) && get_int(j, "n_layer", &c.num_hidden_layers, &bad) &&
             get_int(j, "n_head", &c.num_attention_heads, &bad) &&
             get_int(j, "n_positions", &c.max_position_embeddings, &bad);
        /* GPT-2's default inner width; check bounds hidden_size, so 4 times it is an int */
        if (!get_int(j, "n_inner", &c.intermediate_size, &bad))
            c.intermediate_size = c.hidden_size <= 0 ? 1 : c.hidden_size <= MODEL_MAX_DIM / 4 ? 4 * c.hidden_size : INT_MAX;
        get_float(j, "layer_norm_epsilon", &c.layer_norm_eps, &bad);
        act_key = "activation_function";
    } else if (kind == MODEL_DISTILBERT) {
        ok = ok && get_int(j, "dim", &c.hidden_size, &bad) && get_int(j, "n_layers", &c.num_hidden_layers, &bad) &&
             get_int(j, "n_heads", &c.num_attention_heads, &bad) &&
             get_int(j, "hidden_dim", &c.intermediate_size, &bad) &&
             get_int(j, "max_position_embeddings", &c.max_position_embeddings, &bad);
        act_key = "activation";
    } else {
        ok = ok && get_int(j, "hidden_size", &c.hidden_size, &bad) &&
             get_int(j, "num_hidden_layers", &c.num_hidden_layers, &bad) &&
             get_int(j, "num_attention_heads", &c.num_attention_heads, &bad) &&
             get_int(j, "intermediate_size", &c.intermediate_size, &bad) &&
             get_int(j, "max_position_embeddings", &c.max_position_embeddings, &bad);
        get_int(j, "type_vocab_size", &c.type_vocab_size, &bad);
        get_float(j, "layer_norm_eps", &c.layer_norm_eps, &bad);
        if (!get_int(j, "embedding_size", &c.embedding_size, &bad)) c.embedding_size = c.hidden_size;
        if (kind == MODEL_ALBERT) {
            int inner = 1;
            get_int(j, "num_hidden_groups", &c.num_hidden_groups, &bad);
            get_int(j, "inner_group_num", &inner, &bad);
            ok = ok && inner == 1;   /* several layers inside a group: not built by fmlab */
        }
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(j, act_key);
    if (cJSON_IsString(act)) {
        if (strcmp(act->valuestring, "gelu") == 0) c.hidden_act = ACT_GELU;
        else if (strcmp(act->valuestring, "gelu_new") == 0) c.hidden_act = ACT_GELU_NEW;
        else ok = false;
    }
    if (bad) {
        /* the key's name is from fmlab's own table, not from the file: safe to print */
        cJSON_Delete(j);
        return engine_error(err, errlen, "%s: the value of \"%s\" is not a number in range (sizes and ids are whole)",
                            path, bad);
    }
    if (kind == MODEL_BERT_SEQ_CLS && check_labels(j, path, err, errlen)) {
        cJSON_Delete(j);
        return -1;
    }
    cJSON_Delete(j);
    if (!ok) return engine_error(err, errlen, "%s: missing or unsupported fields for %s", path, model_kind_name[kind]);
    const char *why = model_config_check(&c);
    if (why) return engine_error(err, errlen, "%s: %s", path, why);
    *cfg = c;
    return 0;
}

int model_load_weights(Model *m, const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if (join_path(path, sizeof path, dir, "model.safetensors", err, errlen)) return -1;
    SafeTensors st;
    if (st_load(&st, path, err, errlen)) return -1;
    int rc = 0;
    for (int i = 0; i < m->nnamed && rc == 0; i++) {
        char inner[256];
        const Tensor *t = m->named[i].t;
        const StTensor *s = st_find(&st, m->named[i].name);
        bool same = s && s->ndim == t->ndim;
        for (int k = 0; same && k < t->ndim; k++) same = s->shape[k] == t->shape[k];
        if (s && !same)
            rc = engine_error(err, errlen, "%s: tensor \"%s\" has another shape than this model's", path, m->named[i].name);
        else if (st_read_f32(&st, m->named[i].name, t->data, (int64_t)t->size, inner, sizeof inner))
            rc = engine_error(err, errlen, "%s: %s", path, inner);
        for (int64_t k = 0; rc == 0 && k < (int64_t)t->size; k++) /* a weight is a number: NaN or Inf is damage */
            if (!isfinite(t->data[k]))
                rc = engine_error(err, errlen, "%s: tensor \"%s\" holds a value that is not finite (element %lld)", path,
                                  m->named[i].name, (long long)k);
    }
    st_free(&st);
    return rc;
}
