/* mlm.c — fmlab-mlm: BERT's masked language model, trained live on Moby-Dick.
 *
 * What is new here: the model sees each sentence with about 15% of its tokens hidden or
 * changed (masking.c: 80% [MASK], 10% a random token, 10% unchanged) and learns to say what
 * was there, from both sides at once. Nothing tells it which tokens were changed; it has to
 * predict the original at every selected position.
 *
 * What to watch: the masked-token loss falling below the unigram line (the loss of knowing
 * only how often each token occurs) and the accuracy rising above the unigram baseline
 * (always guessing "the"); the attention heads changing from uniform smears into patterns;
 * the top-5 predictions at each masked position becoming sensible words.
 *
 * How to run: fmlab-mlm (window); fmlab-mlm --headless --steps 300 --export out/
 * The sections below are in the same order in every lesson: settings, data and corruption,
 * model, loss and train step, evaluation, export and checkpoint, main. */
#define _GNU_SOURCE /* strcasestr */
#include "lesson.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"

/* ------------------------------------------------------------------ settings ---- */

static const KeyDef keys[] = {
    /* model (Hugging Face BertConfig names) */
    {"vocab_size", 2000, 100, 30000, true, "WordPiece vocabulary size (2000 is shipped; others are learned at start)"},
    {"hidden_size", 64, 8, 1024, true, "width of every token's vector"},
    {"num_hidden_layers", 2, 1, 24, true, "encoder layers"},
    {"num_attention_heads", 4, 1, 32, true, "heads per layer (must divide hidden_size)"},
    {"intermediate_size", 256, 8, 8192, true, "feed-forward width"},
    /* lesson */
    {"seq_len", 32, 8, 512, true, "tokens per sequence, [CLS] and [SEP] included"},
    {"mlm_probability", 0.15, 0, 1, false, "chance that a token is selected for prediction"},
    {"mask_replace_prob", 0.8, 0, 1, false, "of the selected: replaced by [MASK]"},
    {"random_replace_prob", 0.1, 0, 1, false, "of the selected: replaced by a random token"},
    {"warmup_steps", 100, 0, 1000000, true, "steps of linear learning-rate warm-up"},
    {"weight_decay", 0.01, 0, 1, false, "AdamW's decoupled weight decay"},
    {"max_grad_norm", 1.0, 0, 1000, false, "clip the gradient's global norm (0 = off)"},
    {"eval_every", 25, 1, 1000000, true, "steps between held-out evaluations"},
};

const LessonInfo mlm_info = {
    "mlm", "BERT masked language model (80/10/10)",
    "Hide 15% of the tokens of Moby-Dick and train a tiny BERT to say what was there.",
    keys, (int)(sizeof keys / sizeof keys[0]), 32, 1e-3f,
};

#define KEY(L, name) runtime_value(&mlm_info, &(L)->opt, name)

static const char *const col_names[NCOLS] = {"loss", "mlm", "lr", "accuracy", "eval_loss", "eval_accuracy"};

/* ---------------------------------------------------------- data and corruption ---- */

static int batch_alloc(MlmBatch *b, int B, int T)
{
    size_t n = (size_t)B * T;
    b->B = B;
    b->T = T;
    b->original = calloc(n, 4);
    b->input = calloc(n, 4);
    b->labels = calloc(n, 4);
    b->kind = calloc(n, 1);
    b->attention_mask = malloc(n);
    b->token_types = calloc(n, 4);
    b->rows = calloc(n, 4);
    b->targets = calloc(n, 4);
    if (!b->original || !b->input || !b->labels || !b->kind || !b->attention_mask || !b->token_types || !b->rows ||
        !b->targets)
        return -1;
    memset(b->attention_mask, 1, n);
    return 0;
}

static void batch_free(MlmBatch *b)
{
    free(b->original);
    free(b->input);
    free(b->labels);
    free(b->kind);
    free(b->attention_mask);
    free(b->token_types);
    free(b->rows);
    free(b->targets);
    memset(b, 0, sizeof *b);
}

/* [CLS] + a window of running text + [SEP], then the corruption of masking.c. */
static void draw_batch(Mlm *L, const Corpus *c, Rng *r, MlmBatch *b, bool tally)
{
    corpus_windows(c, r, b->B, b->T, true, b->original);
    mlm_corrupt(&L->mask, r, b->original, b->B * b->T, b->input, b->labels, b->kind);
    b->nsel = 0;
    for (int i = 0; i < b->B * b->T; i++) {
        if (b->labels[i] != IGNORE_INDEX) {
            b->rows[b->nsel] = i;
            b->targets[b->nsel++] = b->labels[i];
        }
        if (tally && !vocab_is_special(b->original[i])) {
            L->tally[4]++;
            L->tally[b->kind[i]]++;
        }
    }
}

void mlm_next_batch(Mlm *L) { draw_batch(L, &L->train, &L->rng, &L->batch, true); }

/* ------------------------------------------------------------------- model ---- */

static const char *settings_json(const Mlm *L)
{
    static char buf[4096];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "seed", (double)L->opt.seed);
    cJSON_AddNumberToObject(j, "batch", L->opt.batch);
    cJSON_AddNumberToObject(j, "lr", L->opt.lr);
    cJSON *k = cJSON_AddObjectToObject(j, "keys");
    for (int i = 0; i < mlm_info.nkeys; i++) cJSON_AddNumberToObject(k, mlm_info.keys[i].name, L->opt.value[i]);
    char *s = cJSON_PrintUnformatted(j);
    snprintf(buf, sizeof buf, "%s", s ? s : "{}");
    free(s);
    cJSON_Delete(j);
    return buf;
}

/* --resume: the checkpoint's settings are the run's; a flag that says otherwise is an error. */
static int apply_checkpoint_settings(RunOptions *o, const char *json)
{
    cJSON *j = cJSON_Parse(json);
    if (!j) return runtime_usage_error(&mlm_info, "--resume %s: unreadable settings", o->resume);
    int rc = -1;
    const cJSON *seed = cJSON_GetObjectItem(j, "seed"), *batch = cJSON_GetObjectItem(j, "batch"),
                *lr = cJSON_GetObjectItem(j, "lr"), *k = cJSON_GetObjectItem(j, "keys");
    if (!cJSON_IsNumber(seed) || !cJSON_IsNumber(batch) || !cJSON_IsNumber(lr) || !cJSON_IsObject(k)) {
        cJSON_Delete(j);
        return runtime_usage_error(&mlm_info, "--resume %s: incomplete settings", o->resume);
    }
    if (o->seed_set && (double)o->seed != seed->valuedouble)
        rc = runtime_usage_error(&mlm_info, "--seed %llu conflicts with the checkpoint's %.0f", (unsigned long long)o->seed, seed->valuedouble);
    else if (o->batch_set && o->batch != batch->valueint)
        rc = runtime_usage_error(&mlm_info, "--batch %d conflicts with the checkpoint's %d", o->batch, batch->valueint);
    else if (o->lr_set && (float)lr->valuedouble != o->lr)
        rc = runtime_usage_error(&mlm_info, "--lr conflicts with the checkpoint's %g", lr->valuedouble);
    for (int i = 0; rc < 0 && i < mlm_info.nkeys; i++) {
        const cJSON *v = cJSON_GetObjectItem(k, mlm_info.keys[i].name);
        if (!cJSON_IsNumber(v)) continue;
        if (o->set[i] && o->value[i] != v->valuedouble)
            rc = runtime_usage_error(&mlm_info, "--set %s=%g conflicts with the checkpoint's %g", mlm_info.keys[i].name,
                                     o->value[i], v->valuedouble);
        o->value[i] = v->valuedouble;
    }
    if (rc < 0) {
        o->seed = (uint64_t)seed->valuedouble;
        o->batch = batch->valueint;
        o->lr = (float)lr->valuedouble;
    }
    cJSON_Delete(j);
    return rc;
}

static int load_vocab(Mlm *L, const char *data, int vocab_size)
{
    char path[4096], err[512];
    if (vocab_size == 2000) {
        snprintf(path, sizeof path, "%s/moby_dick/vocab.txt", data);
        if (vocab_load(&L->vocab, path, err, sizeof err)) return runtime_usage_error(&mlm_info, "%s", err);
        return -1;
    }
    /* another size: learn it from the training chapters (a second or two) */
    char **docs;
    int ndocs;
    snprintf(path, sizeof path, "%s/moby_dick/train.txt", data);
    if (corpus_read_documents(path, &docs, &ndocs, err, sizeof err)) return runtime_usage_error(&mlm_info, "%s", err);
    int rc = vocab_learn(&L->vocab, (const char *const *)docs, ndocs, vocab_size, err, sizeof err);
    corpus_texts_free(docs, ndocs);
    if (rc) return runtime_usage_error(&mlm_info, "vocab_size=%d: %s", vocab_size, err);
    if (L->vocab.size < vocab_size)
        fprintf(stderr, "fmlab-mlm: the text yields only %d tokens; vocab_size is %d\n", L->vocab.size, L->vocab.size);
    return -1;
}

int mlm_init(Mlm *L, const RunOptions *o)
{
    memset(L, 0, sizeof *L);
    L->opt = *o;
    char err[1024];
    char *saved = NULL;
    if (o->resume) {
        if (checkpoint_read_settings(o->resume, &saved, err, sizeof err)) return runtime_usage_error(&mlm_info, "--resume %s", err);
        int rc = apply_checkpoint_settings(&L->opt, saved);
        free(saved);
        if (rc >= 0) return rc;
    }
    if (L->opt.threads) engine_set_threads(L->opt.threads);
    L->B = L->opt.batch;
    L->T = (int)KEY(L, "seq_len");
    L->mask = (MaskingConfig){(float)KEY(L, "mlm_probability"), (float)KEY(L, "mask_replace_prob"),
                              (float)KEY(L, "random_replace_prob"), 0};
    if (L->mask.mask_replace_prob + L->mask.random_replace_prob > 1.0f + 1e-6f)
        return runtime_usage_error(&mlm_info, "mask_replace_prob + random_replace_prob is %g; it cannot exceed 1",
                                   (double)(L->mask.mask_replace_prob + L->mask.random_replace_prob));
    ModelConfig cfg = model_config_default(MODEL_BERT_MLM);
    cfg.hidden_size = (int)KEY(L, "hidden_size");
    cfg.num_hidden_layers = (int)KEY(L, "num_hidden_layers");
    cfg.num_attention_heads = (int)KEY(L, "num_attention_heads");
    cfg.intermediate_size = (int)KEY(L, "intermediate_size");
    cfg.max_position_embeddings = L->T > 512 ? L->T : 512;
    if (cfg.hidden_size % cfg.num_attention_heads)
        return runtime_usage_error(&mlm_info, "hidden_size %d is not a multiple of num_attention_heads %d",
                                   cfg.hidden_size, cfg.num_attention_heads);
    L->schedule = (LrSchedule){SCHEDULE_CONSTANT, L->opt.lr, (int)KEY(L, "warmup_steps"), 0};
    L->max_grad_norm = (float)KEY(L, "max_grad_norm");
    L->eval_every = (int)KEY(L, "eval_every");

    const char *data = runtime_data_dir(err, sizeof err);
    if (!data) return runtime_usage_error(&mlm_info, "%s", err);
    int rc = load_vocab(L, data, (int)KEY(L, "vocab_size"));
    if (rc >= 0) return rc;
    cfg.vocab_size = L->vocab.size;
    L->mask.vocab_size = L->vocab.size;
    char path[4096];
    snprintf(path, sizeof path, "%s/moby_dick/train.txt", data);
    if (corpus_load(&L->train, path, &L->vocab, err, sizeof err)) return runtime_usage_error(&mlm_info, "%s", err);
    snprintf(path, sizeof path, "%s/moby_dick/eval.txt", data);
    if (corpus_load(&L->eval, path, &L->vocab, err, sizeof err)) return runtime_usage_error(&mlm_info, "%s", err);
    if ((size_t)L->T > L->eval.nids / 2) return runtime_usage_error(&mlm_info, "seq_len %d is too long for the held-out text", L->T);

    /* the bar to beat: predicting each selected token by its frequency alone */
    int64_t *counts = calloc((size_t)L->vocab.size, sizeof *counts);
    if (!counts) return runtime_usage_error(&mlm_info, "out of memory");
    corpus_unigram(&L->train, L->vocab.size, counts);
    double total = 0, best = 0;
    for (int i = TOK_NUM_SPECIAL; i < L->vocab.size; i++) total += (double)counts[i];
    for (int i = TOK_NUM_SPECIAL; i < L->vocab.size; i++) {
        if (!counts[i]) continue;
        double p = counts[i] / total;
        L->unigram_entropy -= p * log(p);
        if (p > best) best = p;
    }
    L->unigram_accuracy = best;
    free(counts);

    params_init(&L->pb);
    model_init(&L->model, &cfg, &L->pb, "", NULL);
    if (!params_finalize(&L->pb)) return runtime_usage_error(&mlm_info, "out of memory for the model");
    Rng init;
    rng_seed(&init, L->opt.seed, 1);
    model_init_weights(&L->model, &init);
    L->adam = adamw_default();
    L->adam.weight_decay = (float)KEY(L, "weight_decay");
    rng_seed(&L->rng, L->opt.seed, 0);
    metrics_init(&L->metrics, NCOLS, col_names);

    /* activations of one step: about 6 KiB per token per layer at the defaults, plus logits */
    size_t tokens = (size_t)L->B * L->T;
    size_t arena = tokens * (size_t)cfg.num_hidden_layers *
                       (size_t)(24 * cfg.hidden_size + 6 * cfg.intermediate_size + 8 * cfg.num_attention_heads * L->T) * 4 +
                   tokens * (size_t)cfg.vocab_size * 8 + (64u << 20);
    if (!tape_init(&L->tape, arena, 8192)) return runtime_usage_error(&mlm_info, "out of memory for the activations");
    if (batch_alloc(&L->batch, L->B, L->T)) return runtime_usage_error(&mlm_info, "out of memory");
    L->top_p = calloc(tokens * TOPK, sizeof *L->top_p);
    L->top_id = calloc(tokens * TOPK, sizeof *L->top_id);

    /* a fixed held-out set: 4 batches of eval text, the same for every run with this seed */
    Rng er;
    rng_seed(&er, L->opt.seed, 2);
    L->n_eval = 4;
    L->eval_batches = calloc((size_t)L->n_eval, sizeof *L->eval_batches);
    for (int i = 0; i < L->n_eval; i++) {
        if (batch_alloc(&L->eval_batches[i], L->B, L->T)) return runtime_usage_error(&mlm_info, "out of memory");
        draw_batch(L, &L->eval, &er, &L->eval_batches[i], false);
    }
    if (L->opt.resume) {
        CheckpointState cs = {"mlm", 0, &L->pb, &L->adam, &L->rng, &L->metrics, NULL, L->tally, 5};
        char *s = NULL;
        if (checkpoint_load(L->opt.resume, &cs, &s, err, sizeof err)) return runtime_usage_error(&mlm_info, "--resume %s", err);
        free(s);
        L->step = cs.step;
    }
    return -1;
}

void mlm_reset(Mlm *L, uint64_t seed)
{
    L->opt.seed = seed;
    Rng init;
    rng_seed(&init, seed, 1);
    model_init_weights(&L->model, &init);
    memset(L->pb.m, 0, L->pb.n * sizeof(float));
    memset(L->pb.v, 0, L->pb.n * sizeof(float));
    L->adam.step = 0;
    rng_seed(&L->rng, seed, 0);
    L->metrics.rows = 0;
    L->run++;
    L->step = 0;
    
    memset(L->tally, 0, sizeof L->tally);
    L->fwd = (Forward){0};
    L->last_loss = L->last_accuracy = 0;
    Rng er;
    rng_seed(&er, seed, 2);
    for (int i = 0; i < L->n_eval; i++) draw_batch(L, &L->eval, &er, &L->eval_batches[i], false);
    tape_reset(&L->tape);
}

void mlm_free(Mlm *L)
{
    batch_free(&L->batch);
    for (int i = 0; i < L->n_eval; i++) batch_free(&L->eval_batches[i]);
    free(L->eval_batches);
    free(L->top_p);
    free(L->top_id);
    tape_free(&L->tape);
    metrics_free(&L->metrics);
    model_free(&L->model);
    params_free(&L->pb);
    corpus_free(&L->train);
    corpus_free(&L->eval);
    vocab_free(&L->vocab);
}

/* --------------------------------------------------------- loss and train step ---- */

/* Forward pass on a batch and the masked-LM loss: cross-entropy at the selected positions
 * only (HF computes logits everywhere and ignores label -100; the loss and its gradients are
 * the same). Returns the loss tensor; *logits gets (nsel, V). */
static Tensor *forward_loss(Mlm *L, MlmBatch *b, Tensor **logits)
{
    Batch in = {b->B, b->T, b->input, b->token_types, NULL};
    L->fwd = (Forward){0};
    model_forward(&L->model, &L->tape, &in, &L->fwd);
    if (b->nsel == 0) { /* nothing selected (mlm_probability 0): the loss is 0, with no gradient */
        *logits = NULL;
        Tensor *zero = tape_tensor(&L->tape, 0, NULL);
        zero->data[0] = 0.0f;
        return zero;
    }
    Tensor *h = op_gather_rows(&L->tape, L->fwd.hidden, b->rows, b->nsel);
    *logits = model_lm_logits(&L->model, &L->tape, h);
    return op_cross_entropy(&L->tape, *logits, b->targets);
}

/* The TOPK most probable tokens of one row of logits (softmax over the whole row), largest
 * first, from id `first` on (the probe skips the special tokens). */
static void top_k(const float *x, int V, int first, float *ps, int32_t *ids)
{
    float mx = -INFINITY;
    for (int v = 0; v < V; v++) mx = x[v] > mx ? x[v] : mx;
    double z = 0;
    for (int v = 0; v < V; v++) z += exp((double)(x[v] - mx));
    for (int k = 0; k < TOPK; k++) { ids[k] = -1; ps[k] = -1; }
    for (int v = first; v < V; v++) {
        float p = (float)(exp((double)(x[v] - mx)) / z);
        for (int k = 0; k < TOPK; k++)
            if (p > ps[k]) {
                memmove(ps + k + 1, ps + k, (size_t)(TOPK - 1 - k) * sizeof *ps);
                memmove(ids + k + 1, ids + k, (size_t)(TOPK - 1 - k) * sizeof *ids);
                ps[k] = p;
                ids[k] = v;
                break;
            }
    }
}

/* Accuracy and the top-5 of each selected row. */
static float read_predictions(Mlm *L, const MlmBatch *b, const Tensor *logits)
{
    if (!logits) return 0;
    int V = logits->shape[1], correct = 0;
    for (int s = 0; s < b->nsel; s++) {
        int32_t *ids = L->top_id + (size_t)b->rows[s] * TOPK;
        top_k(logits->data + (size_t)s * V, V, 0, L->top_p + (size_t)b->rows[s] * TOPK, ids);
        correct += ids[0] == b->targets[s];
    }
    return b->nsel ? (float)correct / (float)b->nsel : 0;
}

float mlm_train_step(Mlm *L, bool update, bool *diverged, char *what, size_t whatlen)
{
    *diverged = false;
    tape_reset(&L->tape);
    params_zero_grad(&L->pb);
    Tensor *logits;
    Tensor *loss = forward_loss(L, &L->batch, &logits);
    if (loss->tape_index >= 0) tape_backward(&L->tape, loss);
    float l = loss->data[0];
    L->last_loss = l;
    L->last_accuracy = read_predictions(L, &L->batch, logits);
    const Tensor *bad = params_nonfinite_grad(&L->pb);
    if (!isfinite(l) || bad) {
        *diverged = true;
        snprintf(what, whatlen, "step %ld: %s became %s", L->step + 1, isfinite(l) ? bad->name : "the loss",
                 isfinite(l) ? "NaN or Inf in its gradient" : "NaN or Inf");
        return l;
    }
    if (!update) return l;
    if (L->max_grad_norm > 0) clip_grad_norm(&L->pb, L->max_grad_norm);
    float lr = lr_at(&L->schedule, L->step);
    adamw_step(&L->adam, &L->pb, lr);
    L->step++;
    float row[NCOLS] = {l, l, lr, L->last_accuracy, NAN, NAN};
    if (L->step % L->eval_every == 0) mlm_evaluate(L, &row[COL_EVAL_LOSS], &row[COL_EVAL_ACCURACY]);
    metrics_append(&L->metrics, row);
    return l;
}

/* ---------------------------------------------------------------- evaluation ---- */

void mlm_evaluate(Mlm *L, float *loss, float *accuracy)
{
    /* the dashboard reads L->fwd of the training batch: keep it by evaluating on a copy */
    Forward keep = L->fwd;
    float keep_loss = L->last_loss, keep_acc = L->last_accuracy;
    double lsum = 0, asum = 0;
    int total = 0;
    for (int i = 0; i < L->n_eval; i++) {
        MlmBatch *b = &L->eval_batches[i];
        size_t mark = L->tape.arena.used;
        int count = L->tape.count;
        bool ng = L->tape.no_grad;
        L->tape.no_grad = true;
        Tensor *logits;
        Tensor *l = forward_loss(L, b, &logits);
        int V = logits ? logits->shape[1] : 0, correct = 0;
        for (int s = 0; logits && s < b->nsel; s++) {
            const float *x = logits->data + (size_t)s * V;
            int arg = 0;
            for (int v = 1; v < V; v++) if (x[v] > x[arg]) arg = v;
            correct += arg == b->targets[s];
        }
        lsum += (double)l->data[0] * b->nsel;
        asum += correct;
        total += b->nsel;
        L->tape.no_grad = ng;
        L->tape.arena.used = mark; /* drop the evaluation's activations */
        L->tape.count = count;
    }
    L->fwd = keep;
    L->last_loss = keep_loss;
    L->last_accuracy = keep_acc;
    *loss = total ? (float)(lsum / total) : 0;
    *accuracy = total ? (float)(asum / total) : 0;
}

/* ------------------------------------------------------- export and checkpoint ---- */

static void add_ids(StWriter *w, const char *name, const int32_t *src, int B, int T, int64_t *buf)
{
    for (int i = 0; i < B * T; i++) buf[i] = src[i];
    int64_t shape[2] = {B, T};
    st_writer_add(w, name, ST_I64, 2, shape, buf);
}

static void add_bytes(StWriter *w, const char *name, const uint8_t *src, int B, int T, int64_t *buf)
{
    for (int i = 0; i < B * T; i++) buf[i] = src[i];
    int64_t shape[2] = {B, T};
    st_writer_add(w, name, ST_I64, 2, shape, buf);
}

int mlm_export(Mlm *L, const char *dir, const char *frame_png, char *err, size_t errlen)
{
    char tmp[4096], path[4200];
    if (export_check_target(dir, L->opt.force, err, errlen)) return EXIT_USAGE;
    if (export_begin(dir, tmp, sizeof tmp, err, errlen)) return EXIT_USAGE;
    int rc = 0;
    const MlmBatch *b = &L->batch;
    int B = b->B, T = b->T;
    /* lesson.json */
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "lesson", "mlm");
    cJSON_AddNumberToObject(j, "step", (double)L->step);
    cJSON_AddNumberToObject(j, "seed", (double)L->opt.seed);
    cJSON_AddNumberToObject(j, "batch_size", B);
    cJSON_AddNumberToObject(j, "seq_len", T);
    cJSON *losses = cJSON_AddObjectToObject(j, "losses");
    cJSON_AddNumberToObject(losses, "total", L->last_loss);
    cJSON_AddNumberToObject(losses, "mlm", L->last_loss);
    cJSON *settings = cJSON_AddObjectToObject(j, "settings");
    for (int i = 0; i < mlm_info.nkeys; i++) cJSON_AddNumberToObject(settings, mlm_info.keys[i].name, L->opt.value[i]);
    cJSON_AddNumberToObject(settings, "lr", L->opt.lr);
    cJSON_AddNumberToObject(settings, "batch_size", B);
    cJSON_AddArrayToObject(j, "tied");
    cJSON_AddStringToObject(j, "version", FMLAB_VERSION);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    snprintf(path, sizeof path, "%s/lesson.json", tmp);
    rc = engine_write_text_atomic(path, text, err, errlen);
    free(text);
    snprintf(path, sizeof path, "%s/metrics.csv", tmp);
    if (!rc) rc = metrics_write_csv(&L->metrics, path, err, errlen);
    snprintf(path, sizeof path, "%s/bert", tmp);
    if (!rc && mkdir(path, 0755)) { snprintf(err, errlen, "%s: cannot create", path); rc = -1; }
    if (!rc) rc = model_save(&L->model, path, err, errlen);
    snprintf(path, sizeof path, "%s/bert/grads.safetensors", tmp);
    if (!rc) rc = model_save_grads(&L->model, path, err, errlen);
    snprintf(path, sizeof path, "%s/bert/vocab.txt", tmp);
    if (!rc) rc = vocab_save(&L->vocab, path, err, errlen);
    /* batch.safetensors: ids and labels of batch N+1 as I64 */
    int64_t *buf = malloc((size_t)6 * B * T * sizeof *buf);
    if (!rc && buf) {
        StWriter w;
        st_writer_init(&w);
        add_ids(&w, "input_ids", b->input, B, T, buf);
        add_ids(&w, "original_ids", b->original, B, T, buf + B * T);
        add_ids(&w, "labels", b->labels, B, T, buf + 2 * B * T);
        add_bytes(&w, "mask_kind", b->kind, B, T, buf + 3 * B * T);
        add_bytes(&w, "attention_mask", b->attention_mask, B, T, buf + 4 * B * T);
        add_ids(&w, "token_type_ids", b->token_types, B, T, buf + 5 * B * T);
        snprintf(path, sizeof path, "%s/batch.safetensors", tmp);
        rc = st_writer_save(&w, path, err, errlen);
        st_writer_free(&w);
    }
    free(buf);
    /* attentions.safetensors: every layer's probabilities of batch N+1 */
    if (!rc) {
        StWriter w;
        st_writer_init(&w);
        char names[24][32];
        int NL = L->model.cfg.num_hidden_layers;
        for (int l = 0; l < NL && l < 24; l++) {
            snprintf(names[l], sizeof names[l], "bert.layer.%d", l);
            int64_t shape[4] = {B, L->model.cfg.num_attention_heads, T, T};
            st_writer_add(&w, names[l], ST_F32, 4, shape, L->fwd.attn[l]);
        }
        snprintf(path, sizeof path, "%s/attentions.safetensors", tmp);
        rc = st_writer_save(&w, path, err, errlen);
        st_writer_free(&w);
    }
    if (!rc && frame_png) {
        snprintf(path, sizeof path, "%s/frame.png", tmp);
        rc = mlm_render_png(L, path, L->opt.width, L->opt.height, L->opt.font_scale, err, errlen);
    }
    if (!rc) rc = export_commit(tmp, dir, L->opt.force, err, errlen);
    if (rc) {
        export_abort(tmp);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int mlm_save(Mlm *L, const char *path, char *err, size_t errlen)
{
    CheckpointState cs = {"mlm", L->step, &L->pb, &L->adam, &L->rng, &L->metrics, settings_json(L), L->tally, 5};
    return checkpoint_save(path, &cs, err, errlen);
}

int mlm_probe(Mlm *L, const char *text, int32_t *ids, int maxlen, int *len, float *top_p, int32_t *top_id)
{
    /* [CLS] text [SEP], where every "[mask]" (any case) becomes the [MASK] token */
    int k = 0;
    ids[k++] = TOK_CLS;
    char part[512];
    const char *p = text;
    while (*p && k < maxlen - 1) {
        const char *m = strcasestr(p, "[mask]");
        size_t n = m ? (size_t)(m - p) : strlen(p);
        if (n >= sizeof part) n = sizeof part - 1;
        memcpy(part, p, n);
        part[n] = 0;
        int got = tokenizer_encode(&L->vocab, part, ids + k, maxlen - 1 - k);
        k += got < maxlen - 1 - k ? got : maxlen - 1 - k;
        if (!m) break;
        if (k < maxlen - 1) ids[k++] = TOK_MASK;
        p = m + 6;
    }
    ids[k++] = TOK_SEP;
    *len = k;
    Tape tp;
    if (!tape_init(&tp, (size_t)k * 1024 * 1024 + (16u << 20), 4096)) return 0;
    tp.no_grad = true;
    Batch in = {1, k, ids, NULL, NULL};
    Forward f = {0};
    model_forward(&L->model, &tp, &in, &f);
    Tensor *logits = model_lm_logits(&L->model, &tp, f.hidden);
    int V = logits->shape[2];
    for (int i = 0; i < k; i++)
        top_k(logits->data + (size_t)i * V, V, TOK_NUM_SPECIAL, top_p + (size_t)i * TOPK, top_id + (size_t)i * TOPK);
    tape_free(&tp);
    return k;
}
