/* mlm.c — fmlab-mlm: BERT's masked language model, trained live on Moby-Dick.
 *
 * What is new here: the model sees each sentence with about 15% of its tokens hidden or
 * changed (lessons/common/masking.c: 80% [MASK], 10% a random token, 10% unchanged) and learns to say what
 * was there, from both sides at once. Nothing tells it which tokens were changed; it has to
 * predict the original at every selected position.
 *
 * What to watch: the masked-token loss falling below the unigram line (the loss of knowing
 * only how often each token occurs) and the accuracy rising above the unigram baseline
 * (always guessing "the"); the attention heads changing from uniform smears into patterns;
 * the top-5 predictions at each masked position becoming sensible words.
 *
 * Static or dynamic masking (RoBERTa, section 4.1): by default every draw of a window gets a
 * fresh mask; --set masking=static gives each window one mask for the whole run, and
 * --set train_windows=N trains on N windows only, so that each comes back many times (epochs).
 *
 * How to run: fmlab-mlm (window); fmlab-mlm --headless --steps 300 --export out/
 * The sections below are in the same order in every lesson: settings, data and corruption,
 * model, loss, evaluation, export tables, probe, the description. The kit (lessons/common/)
 * does the rest: the command line, the trainer, the window, the export. */
#include "lessons/mlm/lesson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ settings ---- */

static const char *const masking_choices[] = {"dynamic", "static", NULL};

static const KeyDef keys[] = {
    /* model (Hugging Face BertConfig names) */
    {"vocab_size", 2000, 100, 30000, true, "WordPiece vocabulary size (2000 is shipped; others are learned at start)", NULL},
    {"hidden_size", 64, 8, 1024, true, "width of every token's vector", NULL},
    {"num_hidden_layers", 2, 1, 24, true, "encoder layers", NULL},
    {"num_attention_heads", 4, 1, 32, true, "heads per layer (must divide hidden_size)", NULL},
    {"intermediate_size", 256, 8, 8192, true, "feed-forward width", NULL},
    /* lesson */
    {"seq_len", 16, 8, 512, true, "tokens per sequence, [CLS] and [SEP] included", NULL},
    {"mlm_probability", 0.15, 0, 1, false, "chance that a token is selected for prediction", NULL},
    {"mask_replace_prob", 0.8, 0, 1, false, "of the selected: replaced by [MASK]", NULL},
    {"random_replace_prob", 0.1, 0, 1, false, "of the selected: replaced by a random token", NULL},
    {"masking", MASKING_DYNAMIC, 0, 1, true,
     "dynamic: a fresh mask each time a window is drawn; static: each window keeps one mask all run", masking_choices},
    {"train_windows", 0, 0, 1000000, true,
     "0: windows from all of the training text; N: only N windows, drawn once from the seed, batches drawn from "
     "them (an epoch: N/batch steps)", NULL},
    KIT_TRAINER_KEYS(100, 25),
};

#define KEY(r, name) kit_value(r, name)

/* ---------------------------------------------------------- data and corruption ---- */

/* The lesson's own generators, past the kit's three (kit.h): both are functions of --seed. */
enum { STREAM_TRAIN_WINDOWS = 3, STREAM_STATIC_MASK = 4 };

/* splitmix64's finaliser: nearby inputs (seeds 1, 2; starts 100, 101) give unrelated outputs */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* [CLS] + a window of running text + [SEP], then the corruption of lessons/common/masking.c
 * (shared with nsp). A training batch (train) takes its windows from the fixed set when there
 * is one, and is counted in the tally.
 *
 * Dynamic masking draws the corruption from r, like the windows: a window that comes again
 * gets a new mask. Static masking gives each window a generator of its own, seeded from the
 * run's seed and where the window starts, so the window is corrupted the same way every time
 * it is drawn at the same rates (positions, kinds and random tokens), whatever the step, after
 * a resume or a rewind too: what the original BERT's data pipeline did by masking its data
 * once, on disk. */
static void draw_batch(Mlm *m, const Corpus *c, Rng *r, MlmBatch *b, bool train, uint64_t seed)
{
    int T = b->T;
    for (int i = 0; i < b->B; i++) {
        b->start[i] = train && m->nwindows ? m->windows[rng_below(r, (uint32_t)m->nwindows)]
                                           : corpus_window_start(c, r, T, true);
        corpus_window(c, b->start[i], T, true, b->original + (size_t)i * T);
    }
    if (train && m->masking == MASKING_STATIC) {
        for (int i = 0; i < b->B; i++) {
            Rng own;
            rng_seed(&own, mix64(seed ^ mix64(b->start[i])), STREAM_STATIC_MASK);
            size_t o = (size_t)i * T;
            mlm_corrupt(&m->mask, &own, b->original + o, T, b->input + o, b->labels + o, b->kind + o);
        }
    } else {
        mlm_corrupt(&m->mask, r, b->original, b->B * T, b->input, b->labels, b->kind);
    }
    kit_mlm_batch_select(b);
    for (int i = 0; train && i < b->B * T; i++)
        if (!vocab_is_special(b->original[i])) {
            m->tally[4]++;
            m->tally[b->kind[i]]++;
        }
}

static void next_batch(Run *r)
{
    Mlm *m = KIT_SELF(r, Mlm);
    draw_batch(m, &m->train, &r->rng, &m->batch, true, r->opt.seed);
}

/* The data of a run with this seed, drawn again after a reset to another seed: the fixed
 * training windows of train_windows (uniform starts, a window may come twice in the set), and
 * the held-out set, 4 batches of eval text, the same for every run with this seed. */
static void draw_data(Run *r)
{
    Mlm *m = KIT_SELF(r, Mlm);
    Rng wr, er;
    rng_seed(&wr, r->opt.seed, STREAM_TRAIN_WINDOWS);
    for (int i = 0; i < m->nwindows; i++) m->windows[i] = corpus_window_start(&m->train, &wr, r->T, true);
    rng_seed(&er, r->opt.seed, 2);
    for (int i = 0; i < m->n_eval; i++) draw_batch(m, &m->eval, &er, &m->eval_batches[i], false, r->opt.seed);
}

/* The settings the window changes while it runs: the corruption's three rates, and static or
 * dynamic masking. The two replacement shares cannot add up to more than 1; the one not being
 * changed gives way. */
static void on_setting(Run *r, int key)
{
    Mlm *m = KIT_SELF(r, Mlm);
    m->masking = (int)KEY(r, "masking");
    MaskingConfig was = m->mask;
    kit_masking_set(r, key, &m->mask);
    if (memcmp(&was, &m->mask, sizeof was)) { /* the realised rates count again from here */
        memset(m->tally, 0, sizeof m->tally);
        m->tally[5] = r->step;
    }
}

/* ------------------------------------------------------------------- model ---- */

static int init(Run *r)
{
    Mlm *m = KIT_SELF(r, Mlm);
    const LessonInfo *info = &r->lesson->info;
    m->masking = (int)KEY(r, "masking");
    ModelConfig cfg;
    int rc;
    if ((rc = kit_masking_config(r, &m->mask)) >= 0 || (rc = kit_model_config(r, MODEL_BERT_MLM, &cfg)) >= 0) return rc;
    rc = kit_load_moby_dick(r, &m->vocab, &m->train, &m->eval);
    if (rc >= 0) return rc;
    cfg.vocab_size = m->vocab.size;
    m->mask.vocab_size = m->vocab.size;
    r->diverge_above = 3.0f * logf((float)m->vocab.size); /* far worse than a uniform guess */
    /* the bar to beat: predicting each selected token by its frequency alone */
    if (corpus_unigram_baseline(&m->train, m->vocab.size, &r->refs[REF_UNIGRAM_ENTROPY], &r->refs[REF_UNIGRAM_ACCURACY]))
        return runtime_usage_error(info, "out of memory");

    model_init(kit_model(r, 0), &cfg, kit_block(r, 0), "", NULL);

    r->arena_bytes = kit_arena_bytes(r, &cfg);
    size_t tokens = (size_t)r->B * r->T;
    if (kit_mlm_batch_alloc(&m->batch, r->B, r->T)) return runtime_usage_error(info, "out of memory");
    m->top_p = calloc(tokens * TOPK, sizeof *m->top_p);
    m->top_id = calloc(tokens * TOPK, sizeof *m->top_id);
    m->n_eval = 4;
    m->eval_batches = calloc((size_t)m->n_eval, sizeof *m->eval_batches);
    m->nwindows = (int)KEY(r, "train_windows");
    m->windows = calloc((size_t)m->nwindows + 1, sizeof *m->windows);
    if (!m->top_p || !m->top_id || !m->eval_batches || !m->windows) return runtime_usage_error(info, "out of memory");
    for (int i = 0; i < m->n_eval; i++)
        if (kit_mlm_batch_alloc(&m->eval_batches[i], r->B, r->T)) return runtime_usage_error(info, "out of memory");
    draw_data(r);
    return -1;
}

static void lesson_free(Run *r)
{
    Mlm *m = KIT_SELF(r, Mlm);
    kit_mlm_batch_free(&m->batch);
    for (int i = 0; m->eval_batches && i < m->n_eval; i++) kit_mlm_batch_free(&m->eval_batches[i]);
    free(m->eval_batches);
    free(m->windows);
    free(m->top_p);
    free(m->top_id);
    corpus_free(&m->train);
    corpus_free(&m->eval);
    vocab_free(&m->vocab);
}

static int64_t *counters(Run *r, int *n)
{
    *n = 6;
    return KIT_SELF(r, Mlm)->tally;
}

/* ---------------------------------------------------------------------- loss ---- */

/* Forward pass on a batch and the masked-LM loss: cross-entropy at the selected positions
 * only (HF computes logits everywhere and ignores label -100; the loss and its gradients are
 * the same). Returns the loss tensor; *logits gets (nsel, V), or NULL when nothing was
 * selected (mlm_probability 0: the loss is 0, with no gradient). */
static Tensor *forward_loss(Run *r, MlmBatch *b, Forward *f, Tensor **logits)
{
    Model *model = kit_model(r, 0);
    Batch in = {b->B, b->T, b->input, b->token_types, NULL};
    *f = (Forward){0};
    model_forward(model, &r->tape, &in, f);
    if (b->nsel == 0) {
        *logits = NULL;
        Tensor *zero = tape_tensor(&r->tape, 0, NULL);
        zero->data[0] = 0.0f;
        return zero;
    }
    Tensor *h = op_gather_rows(&r->tape, f->hidden, b->rows, b->nsel);
    *logits = model_lm_logits(model, &r->tape, h);
    return op_cross_entropy(&r->tape, *logits, b->targets);
}

static Tensor *loss(Run *r, float *parts, float *extra)
{
    Mlm *m = KIT_SELF(r, Mlm);
    MlmBatch *b = &m->batch;
    Tensor *logits;
    Tensor *l = forward_loss(r, b, &m->fwd, &logits);
    kit_keep_attention(r, 0, 0, m->fwd.attn);
    /* accuracy and the top-5 at each selected position, for the dashboard */
    int correct = 0;
    for (int s = 0; logits && s < b->nsel; s++) {
        int V = logits->shape[1];
        int32_t *ids = m->top_id + (size_t)b->rows[s] * TOPK;
        kit_top_k(logits->data + (size_t)s * V, V, 0, TOPK, m->top_p + (size_t)b->rows[s] * TOPK, ids);
        correct += ids[0] == b->targets[s];
    }
    parts[0] = l->data[0];
    extra[MLM_ACCURACY] = b->nsel ? (float)correct / (float)b->nsel : 0;
    return l;
}

/* ---------------------------------------------------------------- evaluation ---- */

static void evaluate(Run *r, float *extra)
{
    Mlm *m = KIT_SELF(r, Mlm);
    double lsum = 0, kl[4] = {0}, kc[4] = {0};
    int total = 0, correct = 0, kn[4] = {0};
    for (int i = 0; i < m->n_eval; i++) {
        MlmBatch *b = &m->eval_batches[i];
        KitScope scope = kit_eval_begin(r);
        Forward f;
        Tensor *logits;
        Tensor *l = forward_loss(r, b, &f, &logits);
        int V = logits ? logits->shape[1] : 0;
        for (int s = 0; logits && s < b->nsel; s++) {
            const float *x = logits->data + (size_t)s * V;
            int arg = op_argmax(x, V);
            double mx = x[arg], z = 0;
            for (int v = 0; v < V; v++) z += exp(x[v] - mx);
            int k = b->kind[b->rows[s]];
            kl[k] += mx + log(z) - x[b->targets[s]]; /* this position's cross-entropy */
            kc[k] += arg == b->targets[s];
            kn[k]++;
            correct += arg == b->targets[s];
        }
        lsum += (double)l->data[0] * b->nsel;
        total += b->nsel;
        kit_eval_end(r, scope); /* drop the evaluation's activations */
    }
    extra[MLM_EVAL_LOSS] = total ? (float)(lsum / total) : 0;
    extra[MLM_EVAL_ACCURACY] = total ? (float)correct / (float)total : 0;
    for (int k = KIND_MASK; k <= KIND_KEPT; k++) { /* by kind: NaN where the set has none */
        extra[MLM_EVAL_MASK_LOSS + k - 1] = kn[k] ? (float)(kl[k] / kn[k]) : NAN;
        extra[MLM_EVAL_MASK_ACC + k - 1] = kn[k] ? (float)(kc[k] / kn[k]) : NAN;
    }
}

/* ------------------------------------------------------------- export tables ---- */

static const KitTensorSpec batch_tensors[] = {KIT_MLM_BATCH_TENSORS};

static const void *batch_data(const Run *r, int i) { return kit_mlm_batch_data(&KIT_SELF(r, Mlm)->batch, i); }

/* --------------------------------------------------------------------- probe ---- */

void mlm_probe(Run *r, Model *model, const char *text, MlmProbe *out)
{
    int32_t *ids = out->ids;
    int k = kit_probe_encode(r, text, ids, PROBE_MAX, &out->cut);
    out->len = 0;
    Tape tp;
    if (!tape_init(&tp, (size_t)k * 1024 * 1024 + (16u << 20), 4096)) return;
    tp.no_grad = true;
    Batch in = {1, k, ids, NULL, NULL};
    Forward f = {0};
    model_forward(model, &tp, &in, &f);
    Tensor *logits = model_lm_logits(model, &tp, f.hidden);
    int V = logits->shape[2];
    for (int i = 0; i < k; i++)
        kit_top_k(logits->data + (size_t)i * V, V, TOK_NUM_SPECIAL, TOPK, out->top_p + (size_t)i * TOPK,
                  out->top_id + (size_t)i * TOPK);
    tape_free(&tp);
    out->len = k;
}

/* --------------------------------------------------------------- description ---- */

static const char *const parts[] = {"mlm"};
static const char *const extra[] = {"accuracy",        "eval_loss",          "eval_accuracy",
                                    "eval_mask_loss",  "eval_random_loss",   "eval_kept_loss",
                                    "eval_mask_accuracy", "eval_random_accuracy", "eval_kept_accuracy"};
static const KitModelSpec models[] = {{"bert", "BertForMaskedLM", 0, true, {""}, NULL, false}};

const Lesson mlm_lesson = {
    .info = {"mlm", "BERT masked language model",
             "Hide 15% of the tokens of Moby-Dick and train a tiny BERT to say what was there.", keys,
             (int)(sizeof keys / sizeof keys[0]), 64, 2e-3f, NULL, NULL, NULL},
    .models = models,
    .nmodels = 1,
    .parts = parts,
    .nparts = 1,
    .extra = extra,
    .nextra = MLM_NEXTRA,
    .batch = batch_tensors,
    .nbatch = (int)(sizeof batch_tensors / sizeof batch_tensors[0]),
    .state_size = sizeof(Mlm),
    .init = init,
    .free = lesson_free,
    .reset = draw_data,
    .next_batch = next_batch,
    .loss = loss,
    .evaluate = evaluate,
    .batch_data = batch_data,
    .on_setting = on_setting,
    .counters = counters,
};
