/* kit.c — the trainer every lesson shares: settings (with those of --resume), the lesson's
 * init, weights, AdamW per trained block, the schedule, one step with its NaN check and
 * metrics row, evaluation cadence, reset, save and resume. */
#include "lessons/common/kit.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer.h"
#include "lessons/common/checkpoint.h"
#include "lessons/common/trained.h"

const char *kit_prog(const Run *r)
{
    static char name[64];
    snprintf(name, sizeof name, "fmlab-%s", r->lesson->info.name);
    return name;
}

double kit_value(const Run *r, const char *key) { return runtime_value(&r->lesson->info, &r->opt, key); }

Model *kit_model(Run *r, int i)
{
    ENGINE_CHECK(i >= 0 && i < r->lesson->nmodels, "lesson %s has no model %d", r->lesson->info.name, i);
    return &r->models[i].model;
}

ParamBlock *kit_block(Run *r, int i)
{
    ENGINE_CHECK(i >= 0 && i < r->nblocks, "lesson %s has no block %d", r->lesson->info.name, i);
    return &r->blocks[i].pb;
}

void kit_keep_attention(Run *r, int model, int stream, float **attn)
{
    ENGINE_CHECK(model >= 0 && model < r->lesson->nmodels && stream >= 0 && stream < KIT_MAX_STREAMS,
                 "attention of model %d stream %d", model, stream);
    r->models[model].attn[stream] = attn;
}

void kit_report_total(Run *r, float total)
{
    r->total_set = true;
    r->total = total;
}

KitScope kit_eval_begin(Run *r)
{
    KitScope s = {tape_mark(&r->tape), r->tape.no_grad};
    r->tape.no_grad = true;
    return s;
}

void kit_eval_end(Run *r, KitScope s)
{
    r->tape.no_grad = s.no_grad;
    tape_rewind(&r->tape, s.mark);
}

int kit_data_path(const Run *r, const char *rel, char *path, size_t n)
{
    char err[512];
    const char *data = runtime_data_dir(err, sizeof err);
    if (!data) return runtime_usage_error(&r->lesson->info, "%s", err);
    snprintf(path, n, "%s/%s", data, rel);
    return -1;
}

int kit_load_vocab(Run *r, Vocab *v, int vocab_size)
{
    char path[4096], err[512];
    int rc;
    if (vocab_size == 2000) {
        if ((rc = kit_data_path(r, "moby_dick/vocab.txt", path, sizeof path)) >= 0) return rc;
        if (vocab_load(v, path, err, sizeof err)) return runtime_usage_error(&r->lesson->info, "%s", err);
        return -1;
    }
    /* another size: learn it from the training chapters (a second or two) */
    char **docs;
    int ndocs;
    if ((rc = kit_data_path(r, "moby_dick/train.txt", path, sizeof path)) >= 0) return rc;
    if (corpus_read_documents(path, &docs, &ndocs, err, sizeof err)) return runtime_usage_error(&r->lesson->info, "%s", err);
    rc = vocab_learn(v, (const char *const *)docs, ndocs, vocab_size, err, sizeof err);
    corpus_texts_free(docs, ndocs);
    if (rc) return runtime_usage_error(&r->lesson->info, "vocab_size=%d: %s", vocab_size, err);
    if (v->size < vocab_size)
        runtime_message(kit_prog(r), "vocab_size is %d, but the text yields only %d distinct tokens: the vocabulary has that many", vocab_size, v->size);
    return -1;
}

int kit_load_moby_dick(Run *r, Vocab *v, Corpus *train, Corpus *eval)
{
    const LessonInfo *info = &r->lesson->info;
    int rc = kit_load_vocab(r, v, (int)kit_value(r, "vocab_size"));
    if (rc >= 0) return rc;
    r->vocab = v;
    char path[4096], err[1024];
    if ((rc = kit_data_path(r, "moby_dick/train.txt", path, sizeof path)) >= 0) return rc;
    if (corpus_load(train, path, v, err, sizeof err)) return runtime_usage_error(info, "%s", err);
    if ((rc = kit_data_path(r, "moby_dick/eval.txt", path, sizeof path)) >= 0) return rc;
    if (corpus_load(eval, path, v, err, sizeof err)) return runtime_usage_error(info, "%s", err);
    if ((size_t)r->T > eval->nids / 2) return runtime_usage_error(info, "seq_len %d is too long for the held-out text", r->T);
    return -1;
}

int kit_masking_config(Run *r, MaskingConfig *mc)
{
    *mc = (MaskingConfig){(float)kit_value(r, "mlm_probability"), (float)kit_value(r, "mask_replace_prob"),
                          (float)kit_value(r, "random_replace_prob"), mc->vocab_size};
    if (mc->mask_replace_prob + mc->random_replace_prob > 1.0f + 1e-6f)
        return runtime_usage_error(&r->lesson->info, "mask_replace_prob + random_replace_prob is %g; it cannot exceed 1",
                                   (double)(mc->mask_replace_prob + mc->random_replace_prob));
    return -1;
}

void kit_masking_set(Run *r, int key, MaskingConfig *mc)
{
    const LessonInfo *info = &r->lesson->info;
    int im = runtime_key_index(info, "mask_replace_prob"), ir = runtime_key_index(info, "random_replace_prob");
    double *v = r->opt.value;
    if (key == im && v[im] + v[ir] > 1) v[ir] = 1 - v[im];
    if (key == ir && v[im] + v[ir] > 1) v[im] = 1 - v[ir];
    kit_masking_config(r, mc); /* the shares fit now: no message */
}

int kit_model_config(Run *r, ModelKind kind, ModelConfig *cfg)
{
    *cfg = model_config_default(kind);
    cfg->hidden_size = (int)kit_value(r, "hidden_size");
    cfg->num_hidden_layers = (int)kit_value(r, "num_hidden_layers");
    cfg->num_attention_heads = (int)kit_value(r, "num_attention_heads");
    cfg->intermediate_size = (int)kit_value(r, "intermediate_size");
    cfg->max_position_embeddings = r->T > 512 ? r->T : 512;
    if (cfg->hidden_size % cfg->num_attention_heads)
        return runtime_usage_error(&r->lesson->info, "hidden_size %d is not a multiple of num_attention_heads %d",
                                   cfg->hidden_size, cfg->num_attention_heads);
    return -1;
}

size_t kit_forward_bytes(const ModelConfig *c, int rows, int T)
{
    /* about 6 KiB per token per layer at mlm's defaults, plus logits and their gradient */
    size_t tokens = (size_t)rows * (size_t)T;
    return tokens * (size_t)c->num_hidden_layers *
               (size_t)(24 * c->hidden_size + 6 * c->intermediate_size + 8 * c->num_attention_heads * T) * 4 +
           tokens * (size_t)c->vocab_size * 8;
}

size_t kit_arena_bytes(const Run *r, const ModelConfig *c) { return kit_forward_bytes(c, r->B, r->T) + (64u << 20); }

int kit_lm_batch_alloc(KitLmBatch *b, int B, int T)
{
    size_t n = (size_t)B * T;
    b->B = B;
    b->T = T;
    b->ids = malloc(n * sizeof *b->ids);
    b->targets = malloc(n * sizeof *b->targets);
    b->attention_mask = malloc(n);
    if (!b->ids || !b->targets || !b->attention_mask) return -1;
    memset(b->attention_mask, 1, n);
    return 0;
}

void kit_lm_batch_free(KitLmBatch *b)
{
    free(b->ids);
    free(b->targets);
    free(b->attention_mask);
}

void kit_lm_targets(KitLmBatch *b)
{
    for (int i = 0; i < b->B; i++)
        for (int t = 0; t < b->T; t++) {
            size_t o = (size_t)i * b->T + t;
            b->targets[o] = t + 1 < b->T ? b->ids[o + 1] : IGNORE_INDEX;
        }
}

const KitTensorSpec kit_lm_batch_tensors[3] = {
    {"input_ids", KIT_I32, "BT"},
    {"labels", KIT_I32, "BT"},
    {"attention_mask", KIT_U8, "BT"},
};

const void *kit_lm_batch_data(const KitLmBatch *b, int i)
{
    const void *data[] = {b->ids, b->ids, b->attention_mask};
    return data[i];
}

int kit_probe_encode(const Run *r, const char *text, int32_t *ids, int max, bool *cut)
{
    int fit = (r->T < max ? r->T : max) - 2, k = 0;
    int n = tokenizer_encode_masked(r->vocab, text, ids + 1, max - 2);
    *cut = n > fit;
    ids[k++] = TOK_CLS;
    k += n < fit ? n : fit;
    ids[k++] = TOK_SEP;
    return k;
}

void kit_causal_allow(int T, uint8_t *allow)
{
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) allow[(size_t)i * T + j] = j <= i;
}

/* The k largest logits are found first (comparisons only; the first of equal ones wins), and
 * only they are turned into probabilities, e^(x − logsumexp): a row costs one vectorised
 * pass for the normaliser and one scan, not an exp per token. */
void kit_top_k(const float *x, int V, int first, int k, float *ps, int32_t *ids)
{
    float top[KIT_TOP_K_MAX];
    ENGINE_CHECK(k >= 1 && k <= KIT_TOP_K_MAX, "kit_top_k: k = %d, at most %d", k, KIT_TOP_K_MAX);
    for (int j = 0; j < k; j++) { ids[j] = -1; ps[j] = -1; top[j] = -INFINITY; }
    for (int v = first; v < V; v++) {
        /* once k are held, a block of 16 with none above the k-th is passed over whole (NaN
           is above nothing): a test the compiler vectorises, where most of the vocabulary goes */
        if (ids[k - 1] >= 0 && (v - first) % 16 == 0 && v + 16 <= V) {
            bool above = false;
            for (int j = 0; j < 16; j++) above |= x[v + j] > top[k - 1];
            if (!above) {
                v += 15;
                continue;
            }
        }
        if (x[v] != x[v] || (!(x[v] > top[k - 1]) && ids[k - 1] >= 0)) continue; /* NaN, or not in the top k */
        for (int j = 0; j < k; j++)
            if (x[v] > top[j] || ids[j] < 0) {
                memmove(top + j + 1, top + j, (size_t)(k - 1 - j) * sizeof *top);
                memmove(ids + j + 1, ids + j, (size_t)(k - 1 - j) * sizeof *ids);
                top[j] = x[v];
                ids[j] = v;
                break;
            }
    }
    float lse = op_logsumexp(x, V);
    for (int j = 0; j < k && ids[j] >= 0; j++) ps[j] = (float)exp((double)top[j] - lse);
}

/* ------------------------------------------------------------------ settings ---- */

static char *settings_json(const Run *r)
{
    const LessonInfo *info = &r->lesson->info;
    cJSON *j = cJSON_CreateObject();
    char seed[32]; /* as text: a double would round seeds above 2^53 */
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->opt.seed);
    cJSON_AddStringToObject(j, "seed", seed);
    cJSON_AddNumberToObject(j, "batch", r->opt.batch);
    cJSON_AddNumberToObject(j, "lr", r->opt.lr);
    cJSON *k = cJSON_AddObjectToObject(j, "keys");
    for (int i = 0; i < info->nkeys; i++) cJSON_AddNumberToObject(k, info->keys[i].name, r->opt.value[i]);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* A settings name from a checkpoint, fit to print in a one-line message. */
static const char *printable_key(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");
    return n && n <= 40 && !s[n] ? s : "(an unprintable name)";
}

/* One saved setting as a number that passes the command line's own check of it. */
static int saved_number(const LessonInfo *info, const char *ck, const cJSON *j, const char *name, double *out)
{
    char msg[160];
    if (!j) return runtime_usage_error(info, "--resume %s: its settings have no %s", ck, name);
    if (!cJSON_IsNumber(j)) return runtime_usage_error(info, "--resume %s: its setting %s is not a number", ck, name);
    if (runtime_check_setting(info, name, j->valuedouble, msg, sizeof msg))
        return runtime_usage_error(info, "--resume %s: its setting %s is %g, but %s", ck, name, j->valuedouble, msg);
    *out = j->valuedouble;
    return -1;
}

/* --resume: the checkpoint's settings become the run's. A file may come from anywhere, so
 * they pass exactly the checks of the command line (runtime_check_setting) and every one must
 * be there: a missing, unknown or non-numeric setting is an error that names it. A flag that
 * says otherwise than the checkpoint is an error too. */
bool kit_display_key(const Lesson *l, int key)
{
    for (int i = 0; l->display_keys && l->display_keys[i]; i++)
        if (!strcmp(l->display_keys[i], l->info.keys[key].name)) return true;
    return false;
}

const char *kit_order_meaning(const Lesson *l, int dir, bool mark)
{
    if (dir > 0 && l->order_next) return mark ? l->order_next_mark : l->order_next;
    return mark ? "word order" : "the model has started to use word order";
}

static int apply_checkpoint_settings(const Lesson *l, RunOptions *o, const char *json)
{
    const LessonInfo *info = &l->info;
    const char *ck = o->resume;
    cJSON *j = cJSON_Parse(json);
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(j, "seed"), *k = cJSON_GetObjectItemCaseSensitive(j, "keys");
    double batch = 0, lr = 0, value[MAX_KEYS];
    uint64_t saved_seed = 0;
    int rc = -1;
    if (!cJSON_IsObject(j)) rc = runtime_usage_error(info, "--resume %s: its settings are not a JSON object", ck);
    else if (!cJSON_IsString(seed) || !runtime_parse_seed(seed->valuestring, &saved_seed))
        rc = runtime_usage_error(info, "--resume %s: its seed is not a whole number from 0 to 2^64-1", ck);
    if (rc < 0) rc = saved_number(info, ck, cJSON_GetObjectItemCaseSensitive(j, "batch"), "batch", &batch);
    if (rc < 0) rc = saved_number(info, ck, cJSON_GetObjectItemCaseSensitive(j, "lr"), "lr", &lr);
    if (rc < 0 && !cJSON_IsObject(k)) rc = runtime_usage_error(info, "--resume %s: its settings have no keys", ck);
    for (const cJSON *it = rc < 0 ? k->child : NULL; it && rc < 0; it = it->next)
        if (runtime_key_index(info, it->string) < 0)
            rc = runtime_usage_error(info, "--resume %s: unknown setting \"%s\"", ck, printable_key(it->string));
    for (int i = 0; rc < 0 && i < info->nkeys; i++)
        rc = saved_number(info, ck, cJSON_GetObjectItemCaseSensitive(k, info->keys[i].name), info->keys[i].name, &value[i]);
    if (rc >= 0) {
        cJSON_Delete(j);
        return rc;
    }
    if (o->seed_set && o->seed != saved_seed)
        rc = runtime_usage_error(info, "--seed %llu conflicts with the checkpoint's %llu", (unsigned long long)o->seed,
                                 (unsigned long long)saved_seed);
    else if (o->batch_set && o->batch != (int)batch)
        rc = runtime_usage_error(info, "--batch %d conflicts with the checkpoint's %d", o->batch, (int)batch);
    else if (o->lr_set && (float)lr != o->lr)
        rc = runtime_usage_error(info, "--lr conflicts with the checkpoint's %g", lr);
    for (int i = 0; i < info->nkeys; i++) /* a setting of what is shown only: the new value holds */
        if (o->set[i] && kit_display_key(l, i)) value[i] = o->value[i];
    for (int i = 0; rc < 0 && i < info->nkeys; i++)
        if (o->set[i] && o->value[i] != value[i]) {
            const KeyDef *k = &info->keys[i];
            if (k->choices)
                rc = runtime_usage_error(info, "--set %s=%s conflicts with the checkpoint's %s", k->name,
                                         runtime_choice_name(k, o->value[i]), runtime_choice_name(k, value[i]));
            else
                rc = runtime_usage_error(info, "--set %s=%g conflicts with the checkpoint's %g", k->name, o->value[i],
                                         value[i]);
        }
    if (rc < 0) {
        o->seed = saved_seed;
        o->batch = (int)batch;
        o->lr = (float)lr;
        memcpy(o->value, value, (size_t)info->nkeys * sizeof *value);
    }
    cJSON_Delete(j);
    return rc;
}

static CheckpointState checkpoint_state(Run *r)
{
    CheckpointState cs = {r->lesson->info.name, r->step, r->nblocks, {0}, {0}, &r->rng, &r->metrics, NULL, NULL, 0,
                          "word_order", "word_order_found", NULL, r->order, r->order_rows, r->order_cols};
    for (int b = 0; b < r->nblocks; b++) {
        cs.pb[b] = &r->blocks[b].pb;
        cs.opt[b] = r->blocks[b].trained ? &r->blocks[b].adam : NULL;
    }
    if (r->lesson->counters) cs.counters = r->lesson->counters(r, &cs.ncounters);
    return cs;
}

/* ---------------------------------------------------------------- lifecycle ---- */

static void init_weights(Run *r, uint64_t seed)
{
    Rng init;
    rng_seed(&init, seed, 1);
    for (int i = 0; i < r->lesson->nmodels; i++) model_init_weights(&r->models[i].model, &init);
    if (r->lesson->weights) r->lesson->weights(r);
}

/* The word-order history and its first discovery, so that a resumed run shows what an
 * uninterrupted one does. The table has a column per layer of the first model and a row per
 * step up to the checkpoint's; the discovery ("step layer head dir share", step 0: none) names
 * a step, layer and head that exist. */
static int read_word_order(Run *r, const CheckpointFile *ck, char *err, size_t errlen)
{
    int64_t rows, cols;
    char *found;
    if (checkpoint_read_extra(ck, "word_order", &r->order, &rows, &cols, "word_order_found", &found, err, errlen)) return -1;
    const ModelConfig *c = &r->models[0].model.cfg;
    int rc = 0;
    if (rows && (rows > r->step || cols != c->num_hidden_layers))
        rc = engine_error(err, errlen, "%s: the word-order table is %lld × %lld, not at most %ld × %d", ck->path,
                          (long long)rows, (long long)cols, r->step, c->num_hidden_layers);
    for (int64_t i = 0; rc == 0 && i < rows * cols; i++)
        if (!(r->order[i] >= 0 && r->order[i] <= 1))
            rc = engine_error(err, errlen, "%s: the word-order table holds %g, not a share from 0 to 1", ck->path,
                              (double)r->order[i]);
    if (rc == 0 && found) {
        /* five numbers, one space apart; converted with range checks (sscanf's are undefined) */
        double v[5];
        const char *p = found;
        int n = 0;
        for (; n < 5; n++) {
            char *end;
            errno = 0;
            v[n] = strtod(p, &end);
            if (errno || end == p || *p == ' ' || !isfinite(v[n]) || *end != (n < 4 ? ' ' : '\0')) break;
            p = end + (n < 4);
        }
        bool none = n == 5 && v[0] == 0;
        bool ok = n == 5 && v[0] == floor(v[0]) && v[0] >= 1 && v[0] <= (double)r->step && v[1] == floor(v[1]) &&
                  v[1] >= 0 && v[1] < c->num_hidden_layers && v[2] == floor(v[2]) && v[2] >= 0 &&
                  v[2] < c->num_attention_heads && (v[3] == -1 || v[3] == 1) && v[4] >= 0 && v[4] <= 1;
        if (ok) {
            r->order_found = (long)v[0];
            r->order_layer = (int)v[1];
            r->order_head = (int)v[2];
            r->order_dir = (int)v[3];
            r->order_share = (float)v[4];
        } else if (!none) {
            rc = engine_error(err, errlen, "%s: word_order_found is not \"step layer head direction share\" of this model",
                              ck->path);
        }
    }
    free(found);
    if (rc) return rc;
    r->order_rows = r->order_cap = rows;
    r->order_cols = rows ? (int)cols : 0;
    r->order_from = r->step - rows;
    return 0;
}

/* the run of kit_init, after the settings: the lesson, its model, the trainer, and the state
   of a checkpoint when ck is not NULL */
static int kit_build(Run *r, const CheckpointFile *ck)
{
    const Lesson *l = r->lesson;
    const LessonInfo *info = &l->info;
    char err[1024];
    if (r->opt.threads) engine_set_threads(r->opt.threads);
    r->B = r->opt.batch;
    r->T = runtime_key_index(info, "seq_len") >= 0 ? (int)kit_value(r, "seq_len") : 0;
    r->schedule = (LrSchedule){SCHEDULE_CONSTANT, r->opt.lr, (int)kit_value(r, "warmup_steps"), 0};
    r->max_grad_norm = (float)kit_value(r, "max_grad_norm");
    r->eval_every = (int)kit_value(r, "eval_every");
    for (int i = 0; i < l->nmodels; i++) {
        int b = l->models[i].block;
        ENGINE_CHECK(b >= 0 && b < KIT_MAX_BLOCKS, "model %d: block %d", i, b);
        if (b >= r->nblocks) r->nblocks = b + 1;
        r->blocks[b].trained |= l->models[i].trained;
    }
    for (int b = 0; b < r->nblocks; b++) params_init(&r->blocks[b].pb);
    r->self = calloc(1, l->state_size ? l->state_size : 1);
    if (!r->self) return runtime_usage_error(info, "out of memory");

    kit_finding_load(&r->finding, l->info.name);
    int rc = l->init(r);
    if (rc >= 0) return rc;

    for (int b = 0; b < r->nblocks; b++)
        if (!params_finalize(&r->blocks[b].pb)) return runtime_usage_error(info, "out of memory for the model");
    init_weights(r, r->opt.seed);
    for (int b = 0; b < r->nblocks; b++) {
        r->blocks[b].adam = adamw_default();
        r->blocks[b].adam.weight_decay = (float)kit_value(r, "weight_decay");
    }
    rng_seed(&r->rng, r->opt.seed, 0);
    const char *cols[METRICS_MAX_COLS];
    int nc = 0;
    cols[nc++] = "loss";
    for (int i = 0; i < l->nparts; i++) cols[nc++] = l->parts[i];
    cols[nc++] = "lr";
    for (int i = 0; i < l->nextra; i++) cols[nc++] = l->extra[i];
    metrics_init(&r->metrics, nc, cols);
    if (!tape_init(&r->tape, r->arena_bytes ? r->arena_bytes : (64u << 20), 8192))
        return runtime_usage_error(info, "out of memory for the activations");
    if (ck) {
        CheckpointState cs = checkpoint_state(r);
        if (checkpoint_load(ck, &cs, err, sizeof err)) return runtime_usage_error(info, "--resume %s", err);
        r->step = cs.step;
        if (read_word_order(r, ck, err, sizeof err)) return runtime_usage_error(info, "--resume %s", err);
    }
    return -1;
}

int kit_init(Run *r, const Lesson *l, const RunOptions *o)
{
    const LessonInfo *info = &l->info;
    ENGINE_CHECK(l->nmodels <= KIT_MAX_MODELS && l->nparts <= KIT_MAX_PARTS && l->nextra <= KIT_MAX_EXTRA &&
                     l->nbatch <= KIT_MAX_BATCH && 3 + l->nparts + l->nextra <= METRICS_MAX_COLS,
                 "lesson %s: a table is larger than the kit's limits", info->name);
    memset(r, 0, sizeof *r);
    r->lesson = l;
    r->opt = *o;
    if (!o->resume) return kit_build(r, NULL);
    /* the checkpoint is read once: its settings shape the run, then it fills the run in */
    char err[1024];
    CheckpointFile ck;
    if (checkpoint_open(&ck, o->resume, info->name, err, sizeof err)) return runtime_usage_error(info, "--resume %s", err);
    int rc = apply_checkpoint_settings(r->lesson, &r->opt, checkpoint_settings(&ck));
    if (rc < 0) rc = kit_build(r, &ck);
    checkpoint_close(&ck);
    return rc;
}

static void history_free(Run *r)
{
    for (int i = 0; i < KIT_SLOTS; i++)
        for (int b = 0; b < KIT_MAX_BLOCKS; b++) {
            free(r->slots[i].mem[b]);
            r->slots[i].mem[b] = NULL;
        }
    r->nslots = 0;
}

void kit_free(Run *r)
{
    history_free(r);
    if (r->trained) kit_trained_free(r->trained);
    free(r->trained);
    r->trained = NULL;
    free(r->order);
    r->order = NULL;
    free(r->step_rng);
    free(r->setlog);
    r->step_rng = NULL;
    r->setlog = NULL;
    if (r->lesson && r->lesson->free && r->self) r->lesson->free(r);
    free(r->self);
    r->self = NULL;
    tape_free(&r->tape);
    metrics_free(&r->metrics);
    for (int i = 0; r->lesson && i < r->lesson->nmodels; i++) model_free(&r->models[i].model);
    for (int b = 0; b < r->nblocks; b++) params_free(&r->blocks[b].pb);
    r->nblocks = 0;
}

void kit_reset(Run *r, uint64_t seed)
{
    r->opt.seed = seed;
    init_weights(r, seed);
    for (int b = 0; b < r->nblocks; b++) {
        ParamBlock *pb = &r->blocks[b].pb;
        memset(pb->m, 0, pb->n * sizeof(float));
        memset(pb->v, 0, pb->n * sizeof(float));
        r->blocks[b].adam.step = 0;
    }
    rng_seed(&r->rng, seed, 0);
    r->metrics.rows = 0;
    r->order_rows = 0;
    r->order_from = 0;
    r->order_found = 0;
    r->run++;
    r->step = 0;
    r->have_forward = false;
    r->loss = 0;
    memset(r->parts, 0, sizeof r->parts);
    for (int i = 0; i < KIT_MAX_EXTRA; i++) r->extra[i] = NAN;
    for (int i = 0; i < KIT_MAX_MODELS; i++) memset(r->models[i].attn, 0, sizeof r->models[i].attn);
    int n = 0;
    int64_t *c = r->lesson->counters ? r->lesson->counters(r, &n) : NULL;
    if (c) memset(c, 0, (size_t)n * sizeof *c);
    tape_reset(&r->tape);
    if (r->lesson->reset) r->lesson->reset(r);
}

void kit_next_batch(Run *r)
{
    r->pending_rng = r->rng;
    r->lesson->next_batch(r);
    r->batch_trained = false;
}

/* ------------------------------------------------------------------ history ---- */

static int64_t *lesson_counters(Run *r, int *n)
{
    *n = 0;
    int64_t *c = r->lesson->counters ? r->lesson->counters(r, n) : NULL;
    ENGINE_CHECK(*n <= KIT_MAX_COUNTERS, "lesson %s: %d counters", r->lesson->info.name, *n);
    return c;
}

/* the state now, as the newest slot (the oldest goes when all are used) */
static void save_slot(Run *r)
{
    if (r->nslots && r->slots[r->nslots - 1].step == r->step) r->nslots--; /* the same step again */
    if (r->nslots == KIT_SLOTS) {
        KitSlot old = r->slots[0];
        memmove(r->slots, r->slots + 1, (KIT_SLOTS - 1) * sizeof *r->slots);
        r->slots[KIT_SLOTS - 1] = old; /* reuse its memory */
        r->nslots--;
    }
    KitSlot *s = &r->slots[r->nslots];
    for (int b = 0; b < r->nblocks; b++) {
        ParamBlock *pb = &r->blocks[b].pb;
        if (!r->blocks[b].trained) continue; /* a frozen block (a teacher) never changes within a run */
        if (!s->mem[b]) s->mem[b] = malloc(3 * pb->n * sizeof(float));
        if (!s->mem[b]) return; /* out of memory: this slot is not kept */
        memcpy(s->mem[b], pb->data, pb->n * sizeof(float));
        memcpy(s->mem[b] + pb->n, pb->m, pb->n * sizeof(float));
        memcpy(s->mem[b] + 2 * pb->n, pb->v, pb->n * sizeof(float));
        s->adam_step[b] = r->blocks[b].adam.step;
    }
    int n;
    int64_t *c = lesson_counters(r, &n);
    if (c) memcpy(s->counters, c, (size_t)n * sizeof *c);
    memcpy(s->value, r->opt.value, sizeof s->value);
    s->step = r->step;
    r->nslots++;
}

static void restore_slot(Run *r, const KitSlot *s)
{
    for (int b = 0; b < r->nblocks; b++) {
        ParamBlock *pb = &r->blocks[b].pb;
        if (!r->blocks[b].trained) continue;
        memcpy(pb->data, s->mem[b], pb->n * sizeof(float));
        memcpy(pb->m, s->mem[b] + pb->n, pb->n * sizeof(float));
        memcpy(pb->v, s->mem[b] + 2 * pb->n, pb->n * sizeof(float));
        r->blocks[b].adam.step = s->adam_step[b];
    }
    memcpy(r->opt.value, s->value, sizeof s->value);
    for (int k = 0; r->lesson->on_setting && k < r->lesson->info.nkeys; k++) r->lesson->on_setting(r, k);
    int n; /* after on_setting, which may restart a lesson's counts */
    int64_t *c = lesson_counters(r, &n);
    if (c) memcpy(c, s->counters, (size_t)n * sizeof *c);
    r->step = s->step;
    r->metrics.rows = s->step;
    if (r->order_rows > s->step - r->order_from) r->order_rows = s->step > r->order_from ? s->step - r->order_from : 0;
    if (r->order_found > s->step) r->order_found = 0;
}

void kit_history_on(Run *r)
{
    r->keep_history = true;
    history_free(r);
    r->nset = 0;
    save_slot(r);
}

void kit_set(Run *r, int key, double value)
{
    const KeyDef *k = &r->lesson->info.keys[key];
    if (k->choices) value = value < k->min ? k->max : value > k->max ? k->min : value; /* a key cycles the choices */
    value = value < k->min ? k->min : value > k->max ? k->max : value;
    double before[MAX_KEYS];
    memcpy(before, r->opt.value, sizeof before);
    if (!k->integer && fabs(value * 1e6 - round(value * 1e6)) < 1e-3) value = round(value * 1e6) / 1e6; /* 0.15 + 0.05 = 0.2 */
    if (k->integer) value = round(value);
    r->opt.value[key] = value;
    if (r->lesson->on_setting) r->lesson->on_setting(r, key);
    if (!r->keep_history) return;
    if (r->nset + r->lesson->info.nkeys > r->setcap) { /* room for every key that may change */
        int cap = 2 * r->setcap + r->lesson->info.nkeys + 64;
        KitSetting *p = realloc(r->setlog, (size_t)cap * sizeof *p);
        if (!p) return;
        r->setlog = p;
        r->setcap = cap;
    }
    /* what on_setting made of every key (it may move one to honour another) */
    for (int i = 0; i < r->lesson->info.nkeys && r->nset < r->setcap; i++)
        if (i == key || r->opt.value[i] != before[i]) r->setlog[r->nset++] = (KitSetting){r->step, i, r->opt.value[i]};
}

int kit_rewind(Run *r, long step, char *err, size_t errlen)
{
    if (step < 0) step = 0;
    /* a state strictly before the target (unless it is step 0), so the target's own step is
       replayed and the screen shows it as it was: its batch, its loss before the update */
    int s = r->nslots - 1;
    while (s >= 0 && (step > 0 ? r->slots[s].step >= step : r->slots[s].step > 0)) s--;
    if (s < 0 || !r->keep_history)
        return engine_error(err, errlen, "cannot go back before step %ld (the oldest state kept)",
                           r->nslots ? r->slots[0].step : r->step);
    restore_slot(r, &r->slots[s]);
    r->nslots = s + 1;
    r->run++; /* the history on screen starts over */
    /* replay: the same batches (the RNG as it was before each), the same settings changes */
    int e = 0;
    char what[256];
    for (;;) {
        for (; e < r->nset && r->setlog[e].step <= r->step; e++)
            if (r->setlog[e].step >= r->slots[s].step) {
                r->opt.value[r->setlog[e].key] = r->setlog[e].value;
                if (r->lesson->on_setting) r->lesson->on_setting(r, r->setlog[e].key);
            }
        if (r->step >= step) break;
        r->rng = r->step_rng[r->step];
        kit_next_batch(r);
        bool div;
        kit_step(r, true, &div, what, sizeof what);
        if (div) return engine_error(err, errlen, "replaying diverged at %s", what);
    }
    while (r->nset && r->setlog[r->nset - 1].step > step) r->nset--;
    if (step == 0) r->have_forward = false; /* back at the start: nothing trained or looked at */
    return 0;
}

/* ---------------------------------------------------------------- word order ---- */

/* The share of attention on the previous and next token, per layer (the best head), of the
 * batch just trained on; the first head past KIT_ORDER_FOUND is remembered. */
float kit_neighbour_share(const float *attn, int B, int NH, int T, int h, int dir)
{
    double sum = 0;
    for (int b = 0; b < B; b++) {
        const float *P = attn + ((size_t)b * NH + h) * T * T;
        for (int q = dir < 0 ? 1 : 0; q < (dir < 0 ? T : T - 1); q++) sum += P[(size_t)q * T + q + dir];
    }
    return (float)(sum / ((double)B * (T - 1)));
}

static void record_order(Run *r)
{
    float **attn = r->models[0].attn[0];
    const ModelConfig *c = &r->models[0].model.cfg;
    int L = c->num_hidden_layers, NH = c->num_attention_heads, B = r->B, T = r->T;
    if (!attn || T < 2 || L > 64) return;
    if (!r->order_cols) r->order_cols = L;
    if (r->order_rows == r->order_cap) {
        long cap = r->order_cap ? 2 * r->order_cap : 1024;
        float *p = realloc(r->order, (size_t)cap * (size_t)L * sizeof *p);
        if (!p) return;
        r->order = p;
        r->order_cap = cap;
    }
    float *row = r->order + r->order_rows * L;
    for (int l = 0; l < L; l++) {
        row[l] = 0;
        for (int h = 0; h < NH; h++)
            for (int dir = -1; dir <= 1; dir += 2) {
                float share = kit_neighbour_share(attn[l], B, NH, T, h, dir);
                if (share > row[l]) row[l] = share;
                if (!r->order_found && share > KIT_ORDER_FOUND) {
                    r->order_found = r->step;
                    r->order_layer = l;
                    r->order_head = h;
                    r->order_dir = dir;
                    r->order_share = share;
                }
            }
    }
    r->order_rows++;
}

/* ---------------------------------------------------------------- one step ---- */

float kit_step(Run *r, bool update, bool *diverged, char *what, size_t whatlen)
{
    const Lesson *l = r->lesson;
    *diverged = false;
    tape_reset(&r->tape);
    for (int b = 0; b < r->nblocks; b++)
        if (r->blocks[b].trained) params_zero_grad(&r->blocks[b].pb);
    float parts[KIT_MAX_PARTS] = {0}, extra[KIT_MAX_EXTRA];
    for (int i = 0; i < KIT_MAX_EXTRA; i++) extra[i] = NAN;
    r->total_set = false;
    Tensor *loss = l->loss(r, parts, extra);
    if (loss->tape_index >= 0) tape_backward(&r->tape, loss);
    float v = r->total_set ? r->total : loss->data[0];
    if (!isfinite(loss->data[0])) v = loss->data[0];   /* a model beside the exported one diverged */
    r->loss = v;
    memcpy(r->parts, parts, sizeof parts);
    memcpy(r->extra, extra, sizeof extra);
    r->have_forward = true;
    const Tensor *bad = NULL;
    for (int b = 0; b < r->nblocks && !bad; b++)
        if (r->blocks[b].trained) bad = params_nonfinite_grad(&r->blocks[b].pb);
    if (!isfinite(v) || bad) {
        *diverged = true;
        snprintf(what, whatlen, "step %ld: %s became %s", r->step + 1, isfinite(v) ? bad->name : "the loss",
                 isfinite(v) ? "NaN or Inf in its gradient" : "NaN or Inf");
        return v;
    }
    if (r->diverge_above > 0 && v > r->diverge_above) {
        *diverged = true;
        snprintf(what, whatlen, "step %ld: the loss reached %.4g, above %.4g (%s, far worse than a uniform guess)",
                 r->step + 1, (double)v, (double)r->diverge_above,
                 r->lesson->info.diverge_rule ? "see --help" : "3 × ln V");
        return v;
    }
    if (!update) return v;
    float lr = lr_at(&r->schedule, r->step);
    for (int b = 0; b < r->nblocks; b++) {
        if (!r->blocks[b].trained) continue;
        if (r->max_grad_norm > 0) clip_grad_norm(&r->blocks[b].pb, r->max_grad_norm);
        adamw_step(&r->blocks[b].adam, &r->blocks[b].pb, lr);
    }
    /* finite gradients can still make a step that is not (a huge learning rate, a moment
       gone wrong): the weights are checked too, so the run stops at the step that broke them */
    for (int b = 0; b < r->nblocks && !bad; b++)
        if (r->blocks[b].trained) bad = params_nonfinite_data(&r->blocks[b].pb);
    if (bad) {
        *diverged = true;
        snprintf(what, whatlen, "step %ld: %s became NaN or Inf in the update", r->step + 1, bad->name);
        return v;
    }
    r->step++;
    float row[METRICS_MAX_COLS];
    int c = 0;
    row[c++] = v;
    for (int i = 0; i < l->nparts; i++) row[c++] = parts[i];
    row[c++] = lr;
    float *row_extra = row + c;
    for (int i = 0; i < l->nextra; i++) row[c++] = extra[i];
    if (l->evaluate && r->step % r->eval_every == 0) kit_evaluate(r, row_extra);
    metrics_append(&r->metrics, row);
    long kept = r->step - 1 - r->order_from; /* after a rewind, what came later goes */
    if (kept < r->order_rows) r->order_rows = kept < 0 ? 0 : kept;
    record_order(r);
    r->batch_trained = true;
    if (r->keep_history) {
        if (r->step > r->step_rng_cap) {
            long cap = r->step * 2 + 1024;
            Rng *p = realloc(r->step_rng, (size_t)cap * sizeof *p);
            if (p) {
                r->step_rng = p;
                r->step_rng_cap = cap;
            }
        }
        if (r->step <= r->step_rng_cap) r->step_rng[r->step - 1] = r->pending_rng;
        if (r->step % KIT_SLOT_EVERY == 0) save_slot(r);
    }
    return v;
}

void kit_evaluate(Run *r, float *extra)
{
    /* the lesson's evaluation must not disturb what the dashboard shows of the batch */
    float **keep[KIT_MAX_MODELS][KIT_MAX_STREAMS];
    for (int i = 0; i < KIT_MAX_MODELS; i++) memcpy(keep[i], r->models[i].attn, sizeof keep[i]);
    r->lesson->evaluate(r, extra);
    for (int i = 0; i < KIT_MAX_MODELS; i++) memcpy(r->models[i].attn, keep[i], sizeof keep[i]);
}

int kit_save(Run *r, const char *path, char *err, size_t errlen)
{
    CheckpointState cs = checkpoint_state(r);
    char *s = settings_json(r), found[96];
    if (!s) return engine_error(err, errlen, "%s: out of memory", path);
    cs.settings_json = s;
    snprintf(found, sizeof found, "%ld %d %d %d %.9g", r->order_found, r->order_layer, r->order_head, r->order_dir,
             (double)r->order_share);
    cs.meta = found;
    int rc = checkpoint_save(path, &cs, err, errlen);
    free(s);
    return rc;
}
