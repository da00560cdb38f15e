/* finetune.c — fmlab-finetune: pretrain once, adapt with a few labels.
 *
 * What is new here: the task has labels. A message of the SpamAssassin corpus goes in as
 * "[CLS] message [SEP]"; the encoder's last hidden state at [CLS] goes through the pooler
 * (dense + tanh) and one new layer, the classifier (hidden -> 2), and the loss is the
 * cross-entropy against ham (0) or spam (1): Hugging Face's BertForSequenceClassification.
 *
 * Three runs learn side by side from the same batches: (a) finetune starts from an encoder
 * pretrained with fmlab-mlm's masked LM on Moby-Dick and trains everything; (b) probe starts
 * from the same weights but freezes the encoder (`bert.*`), so only the classifier learns: a
 * linear probe of what pretraining put into [CLS]; (c) scratch is the same architecture from
 * random weights. The `labels` setting gives all three the same small labelled set.
 *
 * What to watch: the three held-out accuracy curves against the 50% line, and how far apart
 * they are at 16 or 64 labels and with all of them.
 *
 * How to run: fmlab-finetune (window); fmlab-finetune --headless --steps 200 --export out/
 * The first run builds the pretrained encoder with fmlab-mlm and keeps it in the cache
 * (lessons/common/pretrained.h); --pretrained FILE takes a checkpoint of fmlab-mlm,
 * fmlab-nsp or fmlab-electra (its discriminator's encoder) instead. The sections below are
 * in the same order as in every lesson. */
#include "lessons/finetune/lesson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ settings ---- */

const char *const finetune_run_names[RUN_COUNT + 1] = {"finetune", "probe", "scratch", NULL};

static const KeyDef keys[] = {
    /* model (Hugging Face BertConfig names): those of the pretrained encoder */
    {"vocab_size", 2000, 100, 30000, true, "WordPiece vocabulary size (2000 is shipped; others are learned at start)", NULL},
    {"hidden_size", 64, 8, 1024, true, "width of every token's vector", NULL},
    {"num_hidden_layers", 2, 1, 24, true, "encoder layers", NULL},
    {"num_attention_heads", 4, 1, 32, true, "heads per layer (must divide hidden_size)", NULL},
    {"intermediate_size", 256, 8, 8192, true, "feed-forward width", NULL},
    /* lesson */
    {"seq_len", 32, 8, 512, true, "tokens per message: [CLS] message [SEP], cut or padded", NULL},
    {"labels", 64, 0, 1000000, true,
     "labelled training messages, half spam and half ham (0: all 2,804); the three runs see the same ones", NULL},
    {"run", RUN_FINETUNE, RUN_FINETUNE, RUN_SCRATCH, true,
     "the run exported: finetune (pretrained, all trained), probe (pretrained encoder frozen, only the classifier "
     "trained) or scratch (random weights, all trained)", finetune_run_names},
    {"pretrain_steps", 2000, 10, 1000000, true,
     "without --pretrained: steps of fmlab-mlm (its defaults, this seq_len, seed 1) that build the cached encoder", NULL},
    KIT_TRAINER_KEYS(20, 25),
};

#define KEY(r, name) kit_value(r, name)

/* the model keys a pretrained checkpoint must share with the run */
static const char *const model_keys[] = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                         "intermediate_size", NULL};

/* The lesson's own generator, past the kit's three (kit.h): the label budget. */
enum { STREAM_BUDGET = 3 };

/* ---------------------------------------------------------------------- data ---- */

static int batch_alloc(FtBatch *b, int B, int T)
{
    size_t n = (size_t)B * T;
    int32_t *p = calloc(n * 2 + (size_t)B * 2 + (n + 3) / 4, 4);
    if (!p) return -1;
    *b = (FtBatch){.B = B, .T = T, .ids = p, .types = p + n, .labels = p + 2 * n, .msg = p + 2 * n + B};
    b->mask = (uint8_t *)(p + 2 * n + 2 * (size_t)B);
    return 0;
}

static void pack(const Messages *set, int i, int row, FtBatch *b)
{
    messages_pack(set, i, b->T, b->ids + (size_t)row * b->T, b->mask + (size_t)row * b->T);
    b->labels[row] = set->label[i];
    b->msg[row] = i;
}

/* The label budget: the first `labels` messages of a balanced order drawn from (seed, 3), so
 * that a budget of 16 is part of the budget of 64 and every run of this seed sees the same. */
static void draw_budget(Run *r)
{
    Finetune *m = KIT_SELF(r, Finetune);
    Rng br;
    rng_seed(&br, r->opt.seed, STREAM_BUDGET);
    m->nbudget = messages_budget(&m->train, &br, (int)KEY(r, "labels"), m->budget);
    m->budget_count[0] = m->budget_count[1] = 0;
    for (int i = 0; i < m->nbudget; i++) m->budget_count[m->train.label[m->budget[i]]]++;
}

/* B messages drawn uniformly, with replacement, from the label budget (a budget smaller
 * than the batch repeats messages within it, as epochs would). */
static void next_batch(Run *r)
{
    Finetune *m = KIT_SELF(r, Finetune);
    for (int row = 0; row < r->B; row++) pack(&m->train, m->budget[rng_below(&r->rng, (uint32_t)m->nbudget)], row, &m->batch);
}

/* The settings the window changes while it runs: the label budget and the run exported. */
static void on_setting(Run *r, int key)
{
    Finetune *m = KIT_SELF(r, Finetune);
    (void)key;
    m->run = (int)KEY(r, "run");
    draw_budget(r);
}

/* ------------------------------------------------------------------- model ---- */

/* The pretrained encoder: --pretrained FILE (a BERT of fmlab-mlm or fmlab-nsp, or the
 * discriminator of fmlab-electra), or the cache, built with fmlab-mlm when missing or when
 * what is there does not match its settings. */
static int load_pretrained(Run *r)
{
    Finetune *m = KIT_SELF(r, Finetune);
    static const char *const lessons[] = {"mlm", "nsp", "electra", NULL};
    static const ModelKind kinds[] = {MODEL_BERT_MLM, MODEL_BERT_PRETRAIN, MODEL_ELECTRA_DISC};
    KitPretrainSpec spec = {.lesson = "mlm", .kind = MODEL_BERT_MLM, .steps = (long)KEY(r, "pretrain_steps"), .seed = 1};
    return kit_pretrained_load(r, spec, lessons, kinds, model_keys, &m->pre, &m->pre_built);
}

static int init(Run *r)
{
    Finetune *m = KIT_SELF(r, Finetune);
    const LessonInfo *info = &r->lesson->info;
    m->run = (int)KEY(r, "run");
    ModelConfig cfg;
    int rc;
    if ((rc = kit_model_config(r, MODEL_BERT_SEQ_CLS, &cfg)) >= 0) return rc;
    if ((rc = kit_load_vocab(r, &m->vocab, (int)KEY(r, "vocab_size"))) >= 0) return rc;
    r->vocab = &m->vocab;
    char path[4096], err[1200];
    for (int s = 0; s < 2; s++) {
        Messages *set = s ? &m->eval : &m->train;
        const char *rel = s ? "spam/eval.tsv" : "spam/train.tsv";
        if ((rc = kit_data_path(r, rel, path, sizeof path)) >= 0) return rc;
        if (messages_load(set, path, &m->vocab, err, sizeof err)) return runtime_usage_error(info, "%s", err);
    }
    if ((rc = load_pretrained(r)) >= 0) return rc;
    cfg.vocab_size = m->vocab.size;
    r->refs[REF_CHANCE_LOSS] = log(2.0);
    r->refs[REF_CHANCE_ACCURACY] = 0.5;
    for (int i = 0; i < RUN_COUNT; i++) model_init(kit_model(r, i), &cfg, kit_block(r, i), "", NULL);
    model_freeze(kit_model(r, RUN_PROBE), "bert.");
    r->arena_bytes = RUN_COUNT * kit_arena_bytes(r, &cfg);
    if (!(m->budget = malloc((size_t)m->train.n * sizeof *m->budget)) || batch_alloc(&m->batch, r->B, r->T) ||
        batch_alloc(&m->eval_all, m->eval.n, r->T))
        return runtime_usage_error(info, "out of memory");
    for (int i = 0; i < RUN_COUNT; i++)
        if (!(m->p_spam[i] = calloc((size_t)r->B, sizeof(float)))) return runtime_usage_error(info, "out of memory");
    for (int i = 0; i < m->eval.n; i++) pack(&m->eval, i, i, &m->eval_all);
    draw_budget(r);
    return -1;
}

/* After the kit drew every weight from (seed, 1): the pretrained encoder into finetune,
 * and probe made the same as finetune (the same pooler and classifier too), so the two
 * start from one point and differ only in what they may change. scratch keeps its draw.
 * A BERT's `bert.*` is copied by name, its pooler too when it has one (fmlab-nsp); an ELECTRA
 * discriminator's encoder is the same encoder under `electra.*`, copied by place, and like
 * fmlab-mlm's it has no pooler, so the pooler stays as drawn. */
static void weights(Run *r)
{
    Finetune *m = KIT_SELF(r, Finetune);
    Model *ft = kit_model(r, RUN_FINETUNE);
    int copied = m->pre.model.cfg.kind == MODEL_ELECTRA_DISC ? model_copy_encoder(ft, &m->pre.model)
                                                              : model_copy_matching(ft, &m->pre.model);
    ENGINE_CHECK(copied >= 0, "the pretrained encoder does not fit the model");
    ENGINE_CHECK(model_copy_matching(kit_model(r, RUN_PROBE), ft) == ft->nnamed, "probe and finetune differ");
}

static void lesson_free(Run *r)
{
    Finetune *m = KIT_SELF(r, Finetune);
    free(m->batch.ids);
    free(m->eval_all.ids);
    free(m->budget);
    for (int i = 0; i < RUN_COUNT; i++) free(m->p_spam[i]);
    kit_pretrained_free(&m->pre);
    messages_free(&m->train);
    messages_free(&m->eval);
    vocab_free(&m->vocab);
}

/* ---------------------------------------------------------------------- loss ---- */

/* BertForSequenceClassification on rows [from, from+n) of a batch: the classifier's (n,2)
 * logits and the mean cross-entropy against the labels. */
static Tensor *classify(Run *r, Model *model, const FtBatch *b, int from, int n, Forward *f, Tensor **logits)
{
    size_t off = (size_t)from * b->T;
    Batch in = {n, b->T, b->ids + off, b->types + off, b->mask + off};
    *f = (Forward){0};
    model_forward(model, &r->tape, &in, f);
    *logits = model_seq_logits(model, &r->tape, model_pooled(model, &r->tape, f->hidden));
    return op_cross_entropy(&r->tape, *logits, b->labels + from);
}

/* The three runs on the same batch. Their parameters are disjoint, so differentiating the
 * sum gives each run its own loss's gradient; the loss reported is the exported run's. The
 * probe's encoder is frozen (requires_grad off): nothing before its classifier is recorded. */
static Tensor *loss(Run *r, float *parts, float *extra)
{
    Finetune *m = KIT_SELF(r, Finetune);
    FtBatch *b = &m->batch;
    Tensor *total = NULL;
    for (int run = 0; run < RUN_COUNT; run++) {
        Forward f;
        Tensor *logits, *l = classify(r, kit_model(r, run), b, 0, b->B, &f, &logits);
        kit_keep_attention(r, run, 0, f.attn);
        int right = 0;
        for (int i = 0; i < b->B; i++) {
            m->p_spam[run][i] = finetune_p_spam(logits->data + 2 * i);
            right += (m->p_spam[run][i] > 0.5f) == (b->labels[i] == 1);
        }
        extra[FT_LOSS + run] = l->data[0];
        extra[FT_ACCURACY + run] = (float)right / (float)b->B;
        if (run == m->run) {
            parts[0] = l->data[0];
            kit_report_total(r, l->data[0]);
        }
        total = total ? op_add(&r->tape, total, l) : l;
    }
    return total;
}

/* ---------------------------------------------------------------- evaluation ---- */

/* Every held-out message (350 ham, 350 spam), in slices of the batch size. */
static void evaluate(Run *r, float *extra)
{
    Finetune *m = KIT_SELF(r, Finetune);
    FtBatch *b = &m->eval_all;
    for (int run = 0; run < RUN_COUNT; run++) {
        double sum = 0;
        int right = 0;
        for (int t = 0; t < 4; t++) m->held[finetune_cell(run, t / 2, t % 2)] = 0;
        for (int from = 0; from < b->B; from += r->B) {
            int n = b->B - from < r->B ? b->B - from : r->B;
            KitScope scope = kit_eval_begin(r);
            Forward f;
            Tensor *logits, *l = classify(r, kit_model(r, run), b, from, n, &f, &logits);
            sum += (double)l->data[0] * n;
            for (int i = 0; i < n; i++) {
                int pred = finetune_p_spam(logits->data + 2 * i) > 0.5f;
                m->held[finetune_cell(run, b->labels[from + i], pred)]++;
                right += pred == b->labels[from + i];
            }
            kit_eval_end(r, scope);
        }
        extra[FT_EVAL_LOSS + run] = (float)(sum / b->B);
        extra[FT_EVAL_ACCURACY + run] = (float)right / (float)b->B;
    }
    m->held[FT_HELD_STEP] = r->step;
}

/* a reset takes the budget of the new seed (the kit zeroes the counters) */
static void reset(Run *r) { draw_budget(r); }

/* the held-out confusion matrices and their step, saved with checkpoints */
static int64_t *counters(Run *r, int *n)
{
    Finetune *m = KIT_SELF(r, Finetune);
    *n = FT_HELD;
    return m->held;
}

/* ------------------------------------------------------------- export tables ---- */

static const KitTensorSpec batch_tensors[] = {
    {"input_ids", KIT_I32, "BT"},
    {"attention_mask", KIT_U8, "BT"},
    {"token_type_ids", KIT_I32, "BT"},
    {"labels", KIT_I32, "B"},
};

static const void *batch_data(const Run *r, int i)
{
    const FtBatch *b = &KIT_SELF(r, Finetune)->batch;
    const void *data[] = {b->ids, b->mask, b->types, b->labels};
    return data[i];
}

static bool exported(const Run *r, int model) { return model == KIT_SELF(r, Finetune)->run; }

/* --------------------------------------------------------------------- probe ---- */

void finetune_probe(Run *r, const char *text, FtProbe *out)
{
    Finetune *m = KIT_SELF(r, Finetune);
    memset(out, 0, sizeof *out);
    int T = r->T < FT_PROBE_MAX ? r->T : FT_PROBE_MAX;
    int32_t tok[4 * FT_PROBE_MAX];
    int n = tokenizer_encode(&m->vocab, text, tok, 4 * FT_PROBE_MAX);
    out->cut = n > T - 2;
    if (n > T - 2) n = T - 2;
    int32_t ids[FT_PROBE_MAX];
    uint8_t mask[FT_PROBE_MAX];
    ids[0] = TOK_CLS;
    memcpy(ids + 1, tok, (size_t)n * sizeof *ids);
    ids[n + 1] = TOK_SEP;
    out->len = n + 2;
    for (int t = 0; t < T; t++) {
        if (t >= n + 2) ids[t] = TOK_PAD;
        mask[t] = t < n + 2;
    }
    memcpy(out->ids, ids, (size_t)T * sizeof *ids);
    Tape tp;
    if (!tape_init(&tp, (size_t)T * 2 * 1024 * 1024 + (16u << 20), 4096)) return;
    tp.no_grad = true;
    Batch in = {1, T, ids, NULL, mask};
    for (int run = 0; run < RUN_COUNT; run++) {
        Model *model = kit_model(r, run);
        Forward f = {0};
        model_forward(model, &tp, &in, &f);
        Tensor *z = model_seq_logits(model, &tp, model_pooled(model, &tp, f.hidden));
        out->p[run] = finetune_p_spam(z->data);
        tape_reset(&tp);
    }
    tape_free(&tp);
}

/* --------------------------------------------------------------- description ---- */

static const char *const parts[] = {"cls"};
static const char *const extra[] = {
    "finetune_loss",          "probe_loss",          "scratch_loss",
    "finetune_accuracy",      "probe_accuracy",      "scratch_accuracy",
    "eval_finetune_loss",     "eval_probe_loss",     "eval_scratch_loss",
    "eval_finetune_accuracy", "eval_probe_accuracy", "eval_scratch_accuracy",
};
/* the three runs: one exported model (bert/), whichever `run` chooses */
static const KitModelSpec models[] = {
    {"bert", "BertForSequenceClassification", RUN_FINETUNE, true, {""}, "fine-tune", false},
    {"bert", "BertForSequenceClassification", RUN_PROBE, true, {""}, "probe", true},
    {"bert", "BertForSequenceClassification", RUN_SCRATCH, true, {""}, "scratch", true},
};

const Lesson finetune_lesson = {
    .info = {"finetune", "Fine-tuning: pretrain once, adapt with few labels",
             "Spam or ham with one new layer on a pretrained encoder, against a frozen probe and a model from scratch.",
             keys, (int)(sizeof keys / sizeof keys[0]), 32, 1e-3f, "pretrained",
             "the encoder to start from: a checkpoint of fmlab-mlm, fmlab-nsp or fmlab-electra (--save; of "
             "fmlab-electra, its discriminator's encoder); without it, one is built with fmlab-mlm and cached",
             ""},
    .models = models,
    .nmodels = RUN_COUNT,
    .parts = parts,
    .nparts = 1,
    .extra = extra,
    .nextra = FT_NEXTRA,
    .batch = batch_tensors,
    .nbatch = (int)(sizeof batch_tensors / sizeof batch_tensors[0]),
    .state_size = sizeof(Finetune),
    .init = init,
    .free = lesson_free,
    .weights = weights,
    .reset = reset,
    .next_batch = next_batch,
    .loss = loss,
    .evaluate = evaluate,
    .batch_data = batch_data,
    .on_setting = on_setting,
    .exported = exported,
    .counters = counters,
};
