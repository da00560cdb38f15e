/* albert.c — fmlab-albert: ALBERT's two ways to a smaller BERT, trained beside a BERT.
 *
 * What is new here: nothing in the objective (BERT's masked LM plus ALBERT's sentence order,
 * as fmlab-nsp trains with objective=sop, from the same kit code); everything in the model.
 * ALBERT (Lan et al. 2020, §3.1) looks words up in a small embedding of E numbers and projects
 * them to the hidden size H (V×E + E×H parameters instead of V×H), and stores one encoder
 * layer that every layer applies in turn (cross-layer sharing). A BertForPreTraining of the
 * same H, depth, heads, width and activation trains on the very same batches, so every
 * difference on screen comes from those two ideas: the parameters, counted from the live
 * models; the losses; the forward time (sharing saves weights, not arithmetic); and the
 * attention of each layer (the same weights, and yet each layer attends differently, since
 * its input differs).
 *
 * How to run: fmlab-albert (window); fmlab-albert --headless --steps 300 --export out/
 * --set embedding_size=64 (no factorization: E = H) and --set share_layers=0 (a layer group
 * per layer) take one idea away. The sections below are in the same order as in every lesson. */
#define _POSIX_C_SOURCE 200809L
#include "lessons/albert/lesson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ settings ---- */

static const KeyDef keys[] = {
    /* model (Hugging Face AlbertConfig names; the BERT beside it takes the same) */
    {"vocab_size", 2000, 100, 30000, true, "WordPiece vocabulary size (2000 is shipped; others are learned at start)", NULL},
    {"hidden_size", 64, 8, 1024, true, "width of every token's vector inside the encoder (H)", NULL},
    {"embedding_size", 16, 1, 1024, true, "ALBERT's word-embedding width E, projected to H (E = H: no factorization)", NULL},
    {"num_hidden_layers", 4, 1, 24, true, "encoder layers (L)", NULL},
    {"share_layers", 1, 0, 1, true, "ALBERT's layers share one set of weights (1) or have their own (0)", NULL},
    {"num_attention_heads", 4, 1, 32, true, "heads per layer (must divide hidden_size)", NULL},
    {"intermediate_size", 256, 8, 8192, true, "feed-forward width", NULL},
    /* lesson */
    {"seq_len", 48, 8, 512, true, "tokens per pair: [CLS] A [SEP] B [SEP] and padding", NULL},
    {"mlm_probability", 0.15, 0, 1, false, "chance that a token is selected for masked-LM prediction", NULL},
    {"mask_replace_prob", 0.8, 0, 1, false, "of the selected: replaced by [MASK]", NULL},
    {"random_replace_prob", 0.1, 0, 1, false, "of the selected: replaced by a random token", NULL},
    KIT_TRAINER_KEYS(100, 50),
};

#define KEY(r, name) kit_value(r, name)

/* ------------------------------------------------------- parameter accounting ---- */

/* which group a parameter of Hugging Face's name belongs to */
static int group_of(const char *name)
{
    if (strstr(name, ".embeddings.")) return PG_EMBEDDINGS;
    if (strstr(name, "embedding_hidden_mapping_in")) return PG_PROJECTION;
    if (strstr(name, ".encoder.")) return PG_LAYERS;
    return PG_HEADS;
}

static bool in_base(const char *name) { return !strncmp(name, "albert.", 7) || !strncmp(name, "bert.", 5); }

void albert_count_model(const Model *m, AlbertCount *c)
{
    *c = (AlbertCount){.stored = m->nblocks, .applied = m->cfg.num_hidden_layers};
    for (int i = 0; i < m->nnamed; i++) {
        const NamedParam *p = &m->named[i];
        bool seen = false; /* a tensor listed twice (none today) counts once */
        for (int j = 0; j < i && !seen; j++) seen = m->named[j].t == p->t;
        if (seen || !p->t) continue;
        int64_t n = (int64_t)p->t->size;
        c->group[group_of(p->name)] += n;
        c->total += n;
        if (in_base(p->name)) c->base += n;
        if (strstr(p->name, "word_embeddings")) c->word = n;
    }
    c->layer = c->stored ? c->group[PG_LAYERS] / c->stored : 0;
}

void albert_count_formula(const ModelConfig *cfg, AlbertCount *c)
{
    int64_t V = cfg->vocab_size, H = cfg->hidden_size, I = cfg->intermediate_size, P = cfg->max_position_embeddings;
    int64_t types = cfg->type_vocab_size;
    bool albert = cfg->kind == MODEL_ALBERT;
    int64_t E = albert ? cfg->embedding_size : H;
    *c = (AlbertCount){.stored = albert ? cfg->num_hidden_groups : cfg->num_hidden_layers,
                       .applied = cfg->num_hidden_layers};
    c->word = V * E;
    c->group[PG_EMBEDDINGS] = V * E + P * E + types * E + 2 * E;   /* word, position, type, LayerNorm */
    c->group[PG_PROJECTION] = albert ? E * H + H : 0;             /* embedding_hidden_mapping_in */
    c->layer = 4 * (H * H + H) + 2 * H                             /* q, k, v, output; LayerNorm */
               + (H * I + I) + (I * H + H) + 2 * H;                /* feed-forward in, out; LayerNorm */
    c->group[PG_LAYERS] = c->stored * c->layer;
    int64_t pooler = H * H + H;
    /* MLM head without the tied decoder weight: dense to E (ALBERT) or H, LayerNorm, bias over V;
       then the two-way classifier on the pooled [CLS] */
    int64_t head = (H * E + E) + 2 * E + V + (2 * H + 2);
    c->group[PG_HEADS] = pooler + head;
    c->base = c->group[PG_EMBEDDINGS] + c->group[PG_PROJECTION] + c->group[PG_LAYERS] + pooler;
    for (int g = 0; g < PG_COUNT; g++) c->total += c->group[g];
}

ModelConfig albert_paper_config(ModelKind kind)
{
    ModelConfig c = model_config_default(kind);
    c.vocab_size = kind == MODEL_ALBERT ? 30000 : 30522;
    c.hidden_size = 768;
    c.num_hidden_layers = 12;
    c.num_attention_heads = 12;
    c.intermediate_size = 3072;
    c.embedding_size = kind == MODEL_ALBERT ? 128 : 768;
    c.num_hidden_groups = 1;
    c.max_position_embeddings = 512;
    return c;
}

/* ---------------------------------------------------------- data and corruption ---- */

/* B sentence pairs, half of them swapped, and BERT's corruption on top: the pairs fmlab-nsp
 * trains with objective=sop (lessons/common/pairs.c). */
static void next_batch(Run *r)
{
    Albert *m = KIT_SELF(r, Albert);
    kit_pair_batch_draw(&m->mask, &m->train, &r->rng, PAIR_SOP, &m->batch);
}

/* a fixed held-out set, the same for every run with this seed */
static void draw_eval_set(Run *r)
{
    Albert *m = KIT_SELF(r, Albert);
    Rng er;
    rng_seed(&er, r->opt.seed, 2);
    for (int i = 0; i < AL_EVAL_BATCHES; i++) kit_pair_batch_draw(&m->mask, &m->eval, &er, PAIR_SOP, &m->eval_batches[i]);
}

/* the window's keys change the corruption's rates (the two replacement shares give way to
 * each other) */
static void on_setting(Run *r, int key) { kit_masking_set(r, key, &KIT_SELF(r, Albert)->mask); }

/* ------------------------------------------------------------------- model ---- */

static int init(Run *r)
{
    Albert *m = KIT_SELF(r, Albert);
    const LessonInfo *info = &r->lesson->info;
    ModelConfig acfg, bcfg;
    int rc;
    if ((rc = kit_masking_config(r, &m->mask)) >= 0 || (rc = kit_model_config(r, MODEL_ALBERT, &acfg)) >= 0 ||
        (rc = kit_model_config(r, MODEL_BERT_PRETRAIN, &bcfg)) >= 0)
        return rc;
    acfg.embedding_size = (int)KEY(r, "embedding_size");
    acfg.num_hidden_groups = KEY(r, "share_layers") ? 1 : acfg.num_hidden_layers;
    bcfg.hidden_act = acfg.hidden_act; /* gelu_new, ALBERT's: the activation is not a difference */
    rc = kit_load_moby_dick(r, &m->vocab, &m->train, &m->eval);
    if (rc >= 0) return rc;
    acfg.vocab_size = bcfg.vocab_size = m->vocab.size;
    m->mask.vocab_size = m->vocab.size;
    r->diverge_above = 3.0f * logf((float)m->vocab.size);
    if (corpus_unigram_baseline(&m->train, m->vocab.size, &r->refs[REF_UNIGRAM_ENTROPY], &(double){0}))
        return runtime_usage_error(info, "out of memory");
    r->refs[REF_CHANCE_LOSS] = log(2.0);
    r->refs[REF_CHANCE_ACCURACY] = 0.5;

    model_init(kit_model(r, AL_ALBERT), &acfg, kit_block(r, AL_ALBERT), "", NULL);
    model_init(kit_model(r, AL_BERT), &bcfg, kit_block(r, AL_BERT), "", NULL);
    for (int i = 0; i < AL_MODELS; i++) albert_count_model(kit_model(r, i), &m->count[i]);

    r->arena_bytes = kit_arena_bytes(r, &bcfg) + kit_forward_bytes(&acfg, r->B, r->T);
    if (kit_pair_batch_alloc(&m->batch, r->B, r->T)) return runtime_usage_error(info, "out of memory");
    for (int i = 0; i < AL_EVAL_BATCHES; i++)
        if (kit_pair_batch_alloc(&m->eval_batches[i], r->B, r->T)) return runtime_usage_error(info, "out of memory");
    for (int i = 0; i < AL_MODELS; i++)
        if (!(m->p_in_order[i] = calloc((size_t)r->B, sizeof(float)))) return runtime_usage_error(info, "out of memory");
    draw_eval_set(r);
    return -1;
}

static void lesson_free(Run *r)
{
    Albert *m = KIT_SELF(r, Albert);
    kit_pair_batch_free(&m->batch);
    for (int i = 0; i < AL_EVAL_BATCHES; i++) kit_pair_batch_free(&m->eval_batches[i]);
    for (int i = 0; i < AL_MODELS; i++) free(m->p_in_order[i]);
    corpus_free(&m->train);
    corpus_free(&m->eval);
    vocab_free(&m->vocab);
}

/* ---------------------------------------------------------------------- loss ---- */

/* Both models on the same batch. Their parameters are disjoint, so differentiating the sum
 * of their totals gives each its own loss's gradient; the loss reported (and exported) is
 * ALBERT's, mlm + sop. */
static Tensor *loss(Run *r, float *parts, float *extra)
{
    Albert *m = KIT_SELF(r, Albert);
    const KitPairBatch *b = &m->batch;
    Tensor *sum = NULL;
    for (int i = 0; i < AL_MODELS; i++) {
        Forward f;
        Tensor *mlm, *sop, *seq, *logits;
        double t0 = runtime_seconds();
        Tensor *l = kit_pair_forward(r, kit_model(r, i), b, &f, &mlm, &sop, &seq, &logits);
        double ms = (runtime_seconds() - t0) * 1e3; /* shown, never part of a number of the run */
        if (m->forwards >= 2 * AL_MODELS) m->forward_ms[i] = m->forward_ms[i] > 0 ? 0.9 * m->forward_ms[i] + 0.1 * ms : ms;
        m->forwards++;
        kit_keep_attention(r, i, 0, f.attn);
        int right = 0;
        for (int k = 0; k < b->B; k++) {
            m->p_in_order[i][k] = kit_pair_p_first(seq->data + 2 * k);
            right += (m->p_in_order[i][k] < 0.5f) == (b->pair_label[k] == 1);
        }
        float mlm_acc = b->nsel ? (float)kit_argmax_right(logits, b->targets, b->nsel) / (float)b->nsel : 0;
        if (i == AL_ALBERT) {
            parts[0] = mlm->data[0];
            parts[1] = sop->data[0];
            kit_report_total(r, l->data[0]);
        } else {
            extra[AL_BERT_MLM] = mlm->data[0];
            extra[AL_BERT_SOP] = sop->data[0];
        }
        extra[AL_SOP_ACCURACY + i] = (float)right / (float)b->B;
        extra[AL_MLM_ACCURACY + i] = mlm_acc;
        sum = sum ? op_add(&r->tape, sum, l) : l;
    }
    return sum;
}

/* ---------------------------------------------------------------- evaluation ---- */

static void evaluate(Run *r, float *extra)
{
    Albert *m = KIT_SELF(r, Albert);
    for (int i = 0; i < AL_MODELS; i++) {
        double mlm_sum = 0;
        int mlm_n = 0, mlm_right = 0, sop_right = 0, pairs = 0;
        for (int k = 0; k < AL_EVAL_BATCHES; k++) {
            const KitPairBatch *b = &m->eval_batches[k];
            KitScope scope = kit_eval_begin(r);
            Forward f;
            Tensor *mlm, *sop, *seq, *logits;
            kit_pair_forward(r, kit_model(r, i), b, &f, &mlm, &sop, &seq, &logits);
            for (int j = 0; j < b->B; j++) sop_right += (kit_pair_p_first(seq->data + 2 * j) < 0.5f) == (b->pair_label[j] == 1);
            pairs += b->B;
            mlm_sum += (double)mlm->data[0] * b->nsel;
            mlm_n += b->nsel;
            mlm_right += kit_argmax_right(logits, b->targets, b->nsel);
            kit_eval_end(r, scope);
        }
        extra[AL_EVAL_MLM_LOSS + i] = mlm_n ? (float)(mlm_sum / mlm_n) : 0;
        extra[AL_EVAL_MLM_ACCURACY + i] = mlm_n ? (float)mlm_right / (float)mlm_n : 0;
        extra[AL_EVAL_SOP_ACCURACY + i] = (float)sop_right / (float)pairs;
    }
}

/* ------------------------------------------------------------- export tables ---- */

static const KitTensorSpec batch_tensors[] = {KIT_PAIR_BATCH_TENSORS("sentence_order_label")};

static const void *batch_data(const Run *r, int i) { return kit_pair_batch_data(&KIT_SELF(r, Albert)->batch, i); }

/* only ALBERT is exported; the BERT is its yardstick */
static bool exported(const Run *r, int model)
{
    (void)r;
    return model == AL_ALBERT;
}

/* --------------------------------------------------------------- description ---- */

static const char *const parts[] = {"mlm", "sop"};
static const char *const extra[] = {"bert_mlm",          "bert_sop",          "sop_accuracy",
                                    "bert_sop_accuracy", "mlm_accuracy",      "bert_mlm_accuracy",
                                    "eval_mlm_loss",     "eval_bert_mlm_loss", "eval_sop_accuracy",
                                    "eval_bert_sop_accuracy", "eval_mlm_accuracy", "eval_bert_mlm_accuracy"};
static const KitModelSpec models[] = {
    {"albert", "AlbertForPreTraining", AL_ALBERT, true, {""}, "ALBERT", false},
    {"bert", "BertForPreTraining", AL_BERT, true, {""}, "BERT", true},
};

const Lesson albert_lesson = {
    .info = {"albert", "ALBERT: factorized embeddings and cross-layer sharing",
             "An ALBERT and a BERT of the same size on the same batches: a quarter of the parameters, and what it costs.",
             keys, (int)(sizeof keys / sizeof keys[0]), 32, 2e-3f, NULL, NULL, NULL},
    .models = models,
    .nmodels = AL_MODELS,
    .parts = parts,
    .nparts = 2,
    .extra = extra,
    .nextra = AL_NEXTRA,
    .batch = batch_tensors,
    .nbatch = (int)(sizeof batch_tensors / sizeof batch_tensors[0]),
    .state_size = sizeof(Albert),
    .init = init,
    .free = lesson_free,
    .reset = draw_eval_set,
    .next_batch = next_batch,
    .loss = loss,
    .evaluate = evaluate,
    .batch_data = batch_data,
    .on_setting = on_setting,
    .exported = exported,
};
