/* gpt.c — fmlab-gpt: GPT's next-token prediction with the causal mask, trained live on
 * Moby-Dick.
 *
 * What is new here: BERT (fmlab-mlm) is an encoder that reads every token from both sides
 * and predicts the hidden ones; GPT is a decoder that reads left to right. Every position t
 * predicts the token at t + 1, so every token of the window is a target (not 15% of them),
 * and the causal mask keeps position t from looking at any later position, where its answer
 * is. The model that results can write: feed it a prompt, draw the next token from its
 * prediction, append it, and go on (generation).
 *
 * What to watch: the loss falling below the unigram line (knowing token frequencies) and
 * then the bigram line (knowing the previous token); the attention maps, whose upper triangle
 * stays empty; the generated text turning from noise into Moby-Dick-like phrases. Then
 * --set causal=0 (U in the window): without the mask the loss falls towards zero, because
 * each position can read its own target one place to the right, and generation falls apart,
 * because when generating there is no token to the right to read.
 *
 * How to run: fmlab-gpt (window); fmlab-gpt --headless --steps 300 --export out/
 * The sections below are in the same order in every lesson: settings, data, model, loss,
 * evaluation, export tables, generation, the description. */
#include "lessons/gpt/lesson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ settings ---- */

static const KeyDef keys[] = {
    /* model (Hugging Face names: GPT2Config maps them to n_embd, n_layer, n_head, n_inner) */
    {"vocab_size", 2000, 100, 30000, true, "WordPiece vocabulary size (2000 is shipped; others are learned at start)", NULL},
    {"hidden_size", 64, 8, 1024, true, "width of every token's vector (n_embd)", NULL},
    {"num_hidden_layers", 2, 1, 24, true, "decoder layers (n_layer)", NULL},
    {"num_attention_heads", 4, 1, 32, true, "heads per layer (n_head; must divide hidden_size)", NULL},
    {"intermediate_size", 256, 8, 8192, true, "feed-forward width (n_inner)", NULL},
    /* lesson */
    {"seq_len", 32, 4, 512, true, "tokens per window of running text (the context the model reads)", NULL},
    {"causal", 1, 0, 1, true,
     "1: the causal mask, position t sees positions 0..t only; 0: no mask, t also sees t+1, its own target (the leak)",
     NULL},
    /* generation (the window's prompt panel; training does not depend on them) */
    {"temperature", 1, 0, 5, false, "generation: divide the logits by it before the softmax (0: greedy, always the most probable)", NULL},
    {"top_k", 0, 0, 30000, true, "generation: draw among the k most probable tokens only (0: all of them)", NULL},
    {"new_tokens", 12, 0, GEN_MAX, true, "generation: tokens generated after the prompt", NULL},
    KIT_TRAINER_KEYS(100, 25),
};

#define KEY(r, name) kit_value(r, name)

/* The lesson's own generator, past the kit's three (kit.h): generation's draws. */
enum { STREAM_GENERATE = 3 };

/* ---------------------------------------------------------------------- data ---- */

/* B windows of running text (across sentence and chapter ends, as GPT read BooksCorpus),
 * and their targets: the same tokens one place to the left. */
static void draw_batch(const Corpus *c, Rng *r, GptBatch *b)
{
    corpus_windows(c, r, b->B, b->T, false, b->ids);
    kit_lm_targets(b);
}

static void next_batch(Run *r)
{
    Gpt *m = KIT_SELF(r, Gpt);
    draw_batch(&m->train, &r->rng, &m->batch);
}

/* the held-out set: 4 batches of the held-out chapters, the same for every run with this seed */
static void draw_eval(Run *r)
{
    Gpt *m = KIT_SELF(r, Gpt);
    Rng er;
    rng_seed(&er, r->opt.seed, 2);
    for (int i = 0; i < m->n_eval; i++) draw_batch(&m->eval, &er, &m->eval_batches[i]);
}

/* The causal key changes while the window runs; the generation keys are read when generating. */
static void on_setting(Run *r, int key)
{
    (void)key;
    KIT_SELF(r, Gpt)->causal = KEY(r, "causal") != 0;
}

/* ------------------------------------------------------------------- model ---- */

static int init(Run *r)
{
    Gpt *m = KIT_SELF(r, Gpt);
    const LessonInfo *info = &r->lesson->info;
    m->causal = KEY(r, "causal") != 0;
    ModelConfig cfg;
    int rc;
    if ((rc = kit_model_config(r, MODEL_GPT2, &cfg)) >= 0) return rc;
    if ((rc = kit_load_moby_dick(r, &m->vocab, &m->train, &m->eval)) >= 0) return rc;
    cfg.vocab_size = m->vocab.size;
    r->diverge_above = 3.0f * logf((float)m->vocab.size); /* far worse than a uniform guess */
    /* the bars to beat on the held-out text: token frequencies, and the previous token */
    if (corpus_ngram_baselines(&m->train, &m->eval, m->vocab.size, &r->refs[REF_UNIGRAM], &r->refs[REF_BIGRAM],
                               &m->bigram_lambda))
        return runtime_usage_error(info, "out of memory");
    r->refs[REF_UNIGRAM_PPL] = exp(r->refs[REF_UNIGRAM]);
    r->refs[REF_BIGRAM_PPL] = exp(r->refs[REF_BIGRAM]);

    model_init(kit_model(r, 0), &cfg, kit_block(r, 0), "", NULL);

    r->arena_bytes = kit_arena_bytes(r, &cfg);
    m->n_eval = 4;
    m->eval_batches = calloc((size_t)m->n_eval, sizeof *m->eval_batches);
    if (!m->eval_batches || kit_lm_batch_alloc(&m->batch, r->B, r->T)) return runtime_usage_error(info, "out of memory");
    for (int i = 0; i < m->n_eval; i++)
        if (kit_lm_batch_alloc(&m->eval_batches[i], r->B, r->T)) return runtime_usage_error(info, "out of memory");
    draw_eval(r);
    return -1;
}

static void lesson_free(Run *r)
{
    Gpt *m = KIT_SELF(r, Gpt);
    kit_lm_batch_free(&m->batch);
    for (int i = 0; m->eval_batches && i < m->n_eval; i++) kit_lm_batch_free(&m->eval_batches[i]);
    free(m->eval_batches);
    corpus_free(&m->train);
    corpus_free(&m->eval);
    vocab_free(&m->vocab);
}

/* The mask the window draws beside the attention: the lower triangle, or nothing to draw. */
static bool allowed(const Run *r, int model, int stream, int seq, uint8_t *allow)
{
    (void)model, (void)stream, (void)seq;
    int T = r->T;
    bool causal = KIT_SELF(r, Gpt)->causal;
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) allow[(size_t)i * T + j] = gpt_may_attend(causal, i, j);
    return causal;
}

/* ---------------------------------------------------------------------- loss ---- */

/* Forward on a batch and the mean next-token cross-entropy over the B·(T-1) positions that
 * have a next token in the window: what GPT2LMHeadModel computes from labels = input_ids,
 * logits[:, :-1] against labels[:, 1:]. *logits gets (B,T,V). */
static Tensor *forward_loss(Run *r, const GptBatch *b, bool causal, Forward *f, Tensor **logits)
{
    Model *model = kit_model(r, 0);
    model->no_causal_mask = !causal;
    Batch in = {b->B, b->T, b->ids, NULL, NULL};
    *f = (Forward){0};
    model_forward(model, &r->tape, &in, f);
    *logits = model_lm_logits(model, &r->tape, f->hidden);
    return op_cross_entropy(&r->tape, *logits, b->targets);
}

/* How many positions' most probable token is the one that comes next. */
static int correct_next(const Tensor *logits, const int32_t *targets, int rows)
{
    int V = logits->shape[logits->ndim - 1], correct = 0;
    for (int i = 0; i < rows; i++) {
        if (targets[i] == IGNORE_INDEX) continue;
        correct += op_argmax(logits->data + (size_t)i * V, V) == targets[i];
    }
    return correct;
}

static Tensor *loss(Run *r, float *parts, float *extra)
{
    Gpt *m = KIT_SELF(r, Gpt);
    GptBatch *b = &m->batch;
    Tensor *l = forward_loss(r, b, m->causal, &m->fwd, &m->logits);
    kit_keep_attention(r, 0, 0, m->fwd.attn);
    parts[0] = l->data[0];
    extra[GPT_PERPLEXITY] = expf(l->data[0]);
    extra[GPT_ACCURACY] = (float)correct_next(m->logits, b->targets, b->B * b->T) / (float)(b->B * (b->T - 1));
    return l;
}

/* ---------------------------------------------------------------- evaluation ---- */

/* The held-out loss and accuracy with the run's mask, and the loss with the causal mask
 * whatever the run uses: what the model scores when the next token is not there to read,
 * as when it generates. The two are the same for a causal run. */
static void evaluate(Run *r, float *extra)
{
    Gpt *m = KIT_SELF(r, Gpt);
    double lsum = 0, csum = 0;
    int correct = 0, total = 0;
    for (int pass = 0; pass < (m->causal ? 1 : 2); pass++)
        for (int i = 0; i < m->n_eval; i++) {
            const GptBatch *b = &m->eval_batches[i];
            KitScope scope = kit_eval_begin(r);
            Forward f;
            Tensor *logits;
            Tensor *l = forward_loss(r, b, pass ? true : m->causal, &f, &logits);
            if (pass) csum += l->data[0];
            else {
                lsum += l->data[0];
                correct += correct_next(logits, b->targets, b->B * b->T);
                total += b->B * (b->T - 1);
            }
            kit_eval_end(r, scope); /* drop the evaluation's activations */
        }
    kit_model(r, 0)->no_causal_mask = !m->causal;
    extra[GPT_EVAL_LOSS] = (float)(lsum / m->n_eval);
    extra[GPT_EVAL_PERPLEXITY] = expf(extra[GPT_EVAL_LOSS]);
    extra[GPT_EVAL_ACCURACY] = total ? (float)correct / (float)total : 0;
    extra[GPT_EVAL_CAUSAL_LOSS] = m->causal ? extra[GPT_EVAL_LOSS] : (float)(csum / m->n_eval);
}

/* ------------------------------------------------------------- export tables ---- */

static const void *batch_data(const Run *r, int i) { return kit_lm_batch_data(&KIT_SELF(r, Gpt)->batch, i); }

/* ---------------------------------------------------------------- generation ---- */

void gpt_distribution(const float *logits, int V, float temperature, int top_k, float *probs)
{
    if (temperature <= 0) { /* greedy */
        int arg = 0;
        for (int v = 1; v < V; v++)
            if (logits[v] > logits[arg]) arg = v;
        for (int v = 0; v < V; v++) probs[v] = v == arg;
        return;
    }
    float kth = -INFINITY; /* the top_k-th largest logit: those below it take no part */
    if (top_k > 0 && top_k < V) {
        float *best = malloc((size_t)top_k * sizeof *best); /* the k largest so far, descending */
        if (best) {
            int n = 0;
            for (int v = 0; v < V; v++) {
                float x = logits[v];
                if (n == top_k && x <= best[n - 1]) continue;
                int j = n < top_k ? n++ : n - 1;
                while (j > 0 && best[j - 1] < x) {
                    best[j] = best[j - 1];
                    j--;
                }
                best[j] = x;
            }
            kth = best[top_k - 1];
            free(best);
        }
    }
    float mx = -INFINITY;
    for (int v = 0; v < V; v++) mx = logits[v] > mx ? logits[v] : mx;
    double z = 0;
    for (int v = 0; v < V; v++) {
        double e = logits[v] >= kth ? exp((double)(logits[v] - mx) / temperature) : 0;
        probs[v] = (float)e;
        z += e;
    }
    for (int v = 0; v < V; v++) probs[v] = (float)(probs[v] / z);
}

int gpt_draw(const float *probs, int V, double u)
{
    double c = 0;
    int last = 0;
    for (int v = 0; v < V; v++) {
        if (probs[v] <= 0) continue;
        c += probs[v];
        last = v;
        if (u < c) return v;
    }
    return last; /* rounding left u above the total: the last possible token */
}

/* the GEN_TOP largest of p, descending (ids < 0 when fewer are positive) */
static void top_of(const float *p, int V, int32_t *ids, float *out)
{
    for (int j = 0; j < GEN_TOP; j++) ids[j] = -1, out[j] = 0;
    for (int v = 0; v < V; v++) {
        if (p[v] <= out[GEN_TOP - 1]) continue;
        int j = GEN_TOP - 1;
        while (j > 0 && out[j - 1] < p[v]) {
            out[j] = out[j - 1];
            ids[j] = ids[j - 1];
            j--;
        }
        out[j] = p[v];
        ids[j] = v;
    }
}

void gpt_generate(Run *r, Model *model, const char *prompt, int n_new, float temperature, int top_k, uint64_t seed,
                  GptGen *g)
{
    Gpt *m = KIT_SELF(r, Gpt);
    memset(g, 0, sizeof *g);
    g->temperature = temperature;
    g->top_k = top_k;
    g->causal = m->causal;
    g->step = r->step;
    int32_t buf[1024];
    int n = tokenizer_encode(&m->vocab, prompt, buf, 1024);
    if (n > 1024) n = 1024;
    g->cut = n > PROMPT_MAX;
    int from = n > PROMPT_MAX ? n - PROMPT_MAX : 0;
    for (int i = from; i < n; i++) {
        g->ids[g->len++] = buf[i];
        g->unk += buf[i] == TOK_UNK;
    }
    g->nprompt = g->len;
    if (!g->len) {
        g->empty = true;
        return;
    }
    n_new = n_new < 0 ? 0 : n_new > GEN_MAX ? GEN_MAX : n_new;
    int V = model->cfg.vocab_size, T = r->T;
    float *probs = malloc((size_t)V * 2 * sizeof *probs), *raw = probs + V;
    Tape tp; /* one forward on at most T tokens at a time, with room for two */
    if (!probs || !tape_init(&tp, 2 * kit_forward_bytes(&model->cfg, 1, T) + (4u << 20), 4096)) {
        free(probs);
        g->empty = true;
        return;
    }
    tp.no_grad = true;
    bool was = model->no_causal_mask;
    model->no_causal_mask = !m->causal;
    Rng rng;
    rng_seed(&rng, seed, STREAM_GENERATE);
    for (int k = 0;; k++) { /* k tokens generated; one more forward for the distribution after them */
        int ctx = g->len < T ? g->len : T;
        const int32_t *ids = g->ids + g->len - ctx;
        TapeMark mark = tape_mark(&tp);
        Batch in = {1, ctx, ids, NULL, NULL};
        Forward f = {0};
        model_forward(model, &tp, &in, &f);
        int32_t last = ctx - 1;
        Tensor *h = op_gather_rows(&tp, f.hidden, &last, 1);
        Tensor *logits = model_lm_logits(model, &tp, h);
        gpt_distribution(logits->data, V, temperature, top_k, probs);
        int next = gpt_draw(probs, V, rng_uniform_double(&rng));
        if (k == n_new) { /* the distribution of the token G would add, and the attention to it */
            gpt_distribution(logits->data, V, 1, 0, raw);
            top_of(probs, V, g->top, g->p);
            for (int j = 0; j < GEN_TOP; j++) g->p_raw[j] = g->top[j] >= 0 ? raw[g->top[j]] : 0;
            for (int v = 0; v < V; v++) g->kept += probs[v] > 0;
            g->next = next;
            g->next_p = probs[next];
            int L = model->cfg.num_hidden_layers, NH = model->cfg.num_attention_heads;
            g->L = L;
            g->NH = NH;
            g->ctx = ctx < GEN_CTX ? ctx : GEN_CTX;
            int skip = ctx - g->ctx;
            memcpy(g->ctx_ids, ids + skip, (size_t)g->ctx * sizeof *ids);
            for (int l = 0; l < L; l++)
                for (int hh = 0; hh < NH && l * NH + hh < GEN_ROWS; hh++)
                    for (int j = 0; j < g->ctx; j++)
                        g->attn[(size_t)(l * NH + hh) * GEN_CTX + j] = f.attn[l][((size_t)hh * ctx + last) * ctx + skip + j];
            tape_rewind(&tp, mark);
            break;
        }
        g->drawn_p[g->len] = probs[next];
        g->ids[g->len++] = next;
        tape_rewind(&tp, mark);
    }
    model->no_causal_mask = was;
    tape_free(&tp);
    free(probs);
}

/* --------------------------------------------------------------- description ---- */

static const char *const parts[] = {"lm"};
static const char *const extra[] = {"accuracy",          "perplexity",      "eval_loss",
                                    "eval_perplexity",   "eval_accuracy",   "eval_causal_loss"};
static const KitModelSpec models[] = {{"gpt2", "GPT2LMHeadModel", 0, true, {""}, NULL, false}};
static const char *const display_keys[] = {"new_tokens", "temperature", "top_k", NULL};

const Lesson gpt_lesson = {
    .info = {"gpt", "GPT: next-token prediction",
             "Train a tiny GPT on Moby-Dick to predict each next token, with the causal mask, and let it write.", keys,
             (int)(sizeof keys / sizeof keys[0]), 32, 2e-3f, NULL, NULL, NULL},
    .models = models,
    .nmodels = 1,
    .parts = parts,
    .nparts = 1,
    .extra = extra,
    .nextra = GPT_NEXTRA,
    .batch = kit_lm_batch_tensors,
    .nbatch = 3,
    .state_size = sizeof(Gpt),
    .init = init,
    .free = lesson_free,
    .reset = draw_eval,
    .next_batch = next_batch,
    .loss = loss,
    .evaluate = evaluate,
    .batch_data = batch_data,
    .on_setting = on_setting,
    .allowed = allowed,
    .display_keys = display_keys,
    /* a causal head cannot look at the next token: one that does is reading its own target */
    .order_next = "the leak: each position reads the token it must predict",
    .order_next_mark = "leak",
};
