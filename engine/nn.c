/* nn.c — the models: parameter declaration under Hugging Face names, initialisation, the
 * blocks (linear, layernorm, embeddings, encoder and decoder layer), the forward passes made
 * of them, and the fine-tuning helpers (freeze, copy by name or by place in the encoder).
 * Four of the five families are the same post-LN encoder under different names (BERT,
 * ALBERT, DistilBERT, ELECTRA); GPT-2 is the pre-LN causal decoder. */
#define _POSIX_C_SOURCE 200809L
#include "nn.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const model_kind_name[MODEL_KIND_COUNT] = {
    [MODEL_BERT_MLM] = "BertForMaskedLM",
    [MODEL_BERT_PRETRAIN] = "BertForPreTraining",
    [MODEL_GPT2] = "GPT2LMHeadModel",
    [MODEL_ALBERT] = "AlbertForPreTraining",
    [MODEL_DISTILBERT] = "DistilBertForMaskedLM",
    [MODEL_ELECTRA_GEN] = "ElectraForMaskedLM",
    [MODEL_ELECTRA_DISC] = "ElectraForPreTraining",
    [MODEL_BERT_SEQ_CLS] = "BertForSequenceClassification",
    [MODEL_XLNET] = "FmlabXLNetLMHeadModel",
};
const char *const model_type_name[MODEL_KIND_COUNT] = {
    [MODEL_BERT_MLM] = "bert",
    [MODEL_BERT_PRETRAIN] = "bert",
    [MODEL_GPT2] = "gpt2",
    [MODEL_ALBERT] = "albert",
    [MODEL_DISTILBERT] = "distilbert",
    [MODEL_ELECTRA_GEN] = "electra",
    [MODEL_ELECTRA_DISC] = "electra",
    [MODEL_BERT_SEQ_CLS] = "bert",
    [MODEL_XLNET] = "fmlab-xlnet",
};

static bool is_gpt2(const Model *m) { return m->cfg.kind == MODEL_GPT2; }
static bool is_albert(const Model *m) { return m->cfg.kind == MODEL_ALBERT; }
static bool is_electra(const Model *m)
{
    return m->cfg.kind == MODEL_ELECTRA_GEN || m->cfg.kind == MODEL_ELECTRA_DISC;
}

ModelConfig model_config_default(ModelKind kind)
{
    ModelConfig c = {
        .kind = kind,
        .vocab_size = 2000,
        .hidden_size = 64,
        .num_hidden_layers = 2,
        .num_attention_heads = 4,
        .intermediate_size = 256,
        .embedding_size = 64,
        .num_hidden_groups = 1,
        .max_position_embeddings = 512,
        .type_vocab_size = 2,
        .pad_token_id = 0,
        .layer_norm_eps = 1e-12f,
        .initializer_range = 0.02f,
        .hidden_act = ACT_GELU,
    };
    switch (kind) {
    case MODEL_GPT2:
        c.layer_norm_eps = 1e-5f;
        c.hidden_act = ACT_GELU_NEW;
        c.type_vocab_size = 0;
        break;
    case MODEL_ALBERT:
        c.hidden_act = ACT_GELU_NEW; /* AlbertConfig's default */
        c.embedding_size = 32;
        break;
    case MODEL_DISTILBERT:
    case MODEL_XLNET:
        c.type_vocab_size = 0;
        break;
    case MODEL_ELECTRA_GEN:
        c.hidden_size = 32; /* a generator a fraction of the discriminator's size, as the paper advises */
        c.num_attention_heads = 2;
        c.intermediate_size = 128;
        c.embedding_size = 64;
        break;
    case MODEL_ELECTRA_DISC:
        c.embedding_size = 64;
        break;
    default:
        break;
    }
    return c;
}

const char *model_config_check(const ModelConfig *c)
{
    static char msg[160];
    if (c->kind < 0 || c->kind >= MODEL_KIND_COUNT) return "unknown model kind";
    if (c->vocab_size < 6) return "vocab_size must be at least 6 (5 special tokens and one more)";
    if (c->hidden_size < 1 || c->num_hidden_layers < 1 || c->num_attention_heads < 1 || c->intermediate_size < 1 ||
        c->embedding_size < 1 || c->max_position_embeddings < 1)
        return "sizes must be positive";
    if (c->vocab_size > MODEL_MAX_DIM || c->hidden_size > MODEL_MAX_DIM || c->intermediate_size > MODEL_MAX_DIM ||
        c->embedding_size > MODEL_MAX_DIM || c->max_position_embeddings > MODEL_MAX_DIM ||
        c->num_hidden_layers > MODEL_MAX_LAYERS) {
        snprintf(msg, sizeof msg, "sizes must be at most %d (layers at most %d)", MODEL_MAX_DIM, MODEL_MAX_LAYERS);
        return msg;
    }
    if (c->type_vocab_size < 0 || c->type_vocab_size > MODEL_MAX_DIM) return "type_vocab_size must not be negative or above the size limit";
    /* the largest weight matrices: embeddings, GPT-2's fused qkv, the feed-forward */
    int64_t H = c->hidden_size, E = c->embedding_size;
    if ((int64_t)c->vocab_size * E > INT_MAX || (int64_t)c->max_position_embeddings * E > INT_MAX ||
        3 * H * H > INT_MAX || (int64_t)c->intermediate_size * H > INT_MAX || E * H > INT_MAX)
        return "a weight matrix would hold more than 2^31 - 1 elements";
    if (c->hidden_size % c->num_attention_heads) {
        snprintf(msg, sizeof msg, "hidden_size %d is not a multiple of num_attention_heads %d", c->hidden_size,
                 c->num_attention_heads);
        return msg;
    }
    if (c->kind == MODEL_ALBERT &&
        (c->num_hidden_groups < 1 || c->num_hidden_groups > c->num_hidden_layers || c->num_hidden_layers % c->num_hidden_groups)) {
        snprintf(msg, sizeof msg, "num_hidden_groups %d does not divide num_hidden_layers %d", c->num_hidden_groups,
                 c->num_hidden_layers);
        return msg;
    }
    if (c->pad_token_id < 0 || c->pad_token_id >= c->vocab_size) return "pad_token_id outside the vocabulary";
    if (!(c->layer_norm_eps > 0) || !isfinite(c->layer_norm_eps)) return "layer_norm_eps must be positive and finite";
    if (!(c->initializer_range > 0) || !isfinite(c->initializer_range))
        return "initializer_range must be positive and finite";
    return NULL;
}

/* ---------------------------------------------------------------- declaration ---- */

typedef struct Decl {
    Model *m;
    ParamBlock *pb;
    const char *prefix;
} Decl;

static void add_named(Model *m, const char *name, Tensor *t)
{
    NamedParam *n = realloc(m->named, (size_t)(m->nnamed + 1) * sizeof *n);
    ENGINE_CHECK(n, "out of memory naming parameter %s", name);
    m->named = n;
    n[m->nnamed].name = malloc(strlen(name) + 1);
    ENGINE_CHECK(n[m->nnamed].name, "out of memory naming parameter %s", name);
    strcpy(n[m->nnamed].name, name);
    n[m->nnamed].t = t;
    m->nnamed++;
}

ENGINE_PRINTF(5, 6)
static Tensor *param(Decl *d, int ndim, const int *shape, bool decay, const char *fmt, ...)
{
    char name[200], full[260];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "%s%s", d->prefix, name);
    Tensor *t = params_add(d->pb, full, ndim, shape, decay);
    add_named(d->m, name, t);
    return t;
}

static Tensor *param_vec(Decl *d, int n, const char *name)
{
    int s[1] = {n};
    return param(d, 1, s, false, "%s", name);
}

/* nn.Linear(in, out): weight [out, in]; GPT-2's Conv1D(out, in): weight [in, out] */
static Linear linear_decl(Decl *d, const char *name, int in, int out, bool conv1d)
{
    int s[2] = {conv1d ? in : out, conv1d ? out : in};
    Linear l = {NULL, NULL, conv1d};
    l.w = param(d, 2, s, true, "%s.weight", name);
    char b[200];
    snprintf(b, sizeof b, "%s.bias", name);
    l.b = param_vec(d, out, b);
    return l;
}

static LayerNorm ln_decl(Decl *d, const char *name, int n, float eps)
{
    char w[200], b[200];
    snprintf(w, sizeof w, "%s.weight", name);
    snprintf(b, sizeof b, "%s.bias", name);
    LayerNorm ln = {param_vec(d, n, w), param_vec(d, n, b), eps};
    return ln;
}

static Tensor *emb_decl(Decl *d, const char *name, int rows, int cols)
{
    int s[2] = {rows, cols};
    return param(d, 2, s, true, "%s.weight", name);
}

/* The post-LN encoder layer under each family's names. */
static void encoder_block_decl(Decl *d, Block *bl, const char *base)
{
    const ModelConfig *c = &d->m->cfg;
    int H = c->hidden_size, I = c->intermediate_size;
    float eps = c->layer_norm_eps;
    char n[200];
#define NAME(...) (snprintf(n, sizeof n, __VA_ARGS__), n)
    bl->num_heads = c->num_attention_heads;
    bl->act = c->hidden_act;
    switch (c->kind) {
    case MODEL_ALBERT:
        bl->q = linear_decl(d, NAME("%s.attention.query", base), H, H, false);
        bl->k = linear_decl(d, NAME("%s.attention.key", base), H, H, false);
        bl->v = linear_decl(d, NAME("%s.attention.value", base), H, H, false);
        bl->o = linear_decl(d, NAME("%s.attention.dense", base), H, H, false);
        bl->ln1 = ln_decl(d, NAME("%s.attention.LayerNorm", base), H, eps);
        bl->ffn_in = linear_decl(d, NAME("%s.ffn", base), H, I, false);
        bl->ffn_out = linear_decl(d, NAME("%s.ffn_output", base), I, H, false);
        bl->ln2 = ln_decl(d, NAME("%s.full_layer_layer_norm", base), H, eps);
        break;
    case MODEL_DISTILBERT:
        bl->q = linear_decl(d, NAME("%s.attention.q_lin", base), H, H, false);
        bl->k = linear_decl(d, NAME("%s.attention.k_lin", base), H, H, false);
        bl->v = linear_decl(d, NAME("%s.attention.v_lin", base), H, H, false);
        bl->o = linear_decl(d, NAME("%s.attention.out_lin", base), H, H, false);
        bl->ln1 = ln_decl(d, NAME("%s.sa_layer_norm", base), H, 1e-12f);
        bl->ffn_in = linear_decl(d, NAME("%s.ffn.lin1", base), H, I, false);
        bl->ffn_out = linear_decl(d, NAME("%s.ffn.lin2", base), I, H, false);
        bl->ln2 = ln_decl(d, NAME("%s.output_layer_norm", base), H, 1e-12f);
        break;
    default: /* BERT and ELECTRA */
        bl->q = linear_decl(d, NAME("%s.attention.self.query", base), H, H, false);
        bl->k = linear_decl(d, NAME("%s.attention.self.key", base), H, H, false);
        bl->v = linear_decl(d, NAME("%s.attention.self.value", base), H, H, false);
        bl->o = linear_decl(d, NAME("%s.attention.output.dense", base), H, H, false);
        bl->ln1 = ln_decl(d, NAME("%s.attention.output.LayerNorm", base), H, eps);
        bl->ffn_in = linear_decl(d, NAME("%s.intermediate.dense", base), H, I, false);
        bl->ffn_out = linear_decl(d, NAME("%s.output.dense", base), I, H, false);
        bl->ln2 = ln_decl(d, NAME("%s.output.LayerNorm", base), H, eps);
        break;
    }
#undef NAME
}

static void gpt2_block_decl(Decl *d, Block *bl, int i)
{
    int C = d->m->cfg.hidden_size, I = d->m->cfg.intermediate_size;
    float eps = d->m->cfg.layer_norm_eps;
    char n[200];
#define NAME(...) (snprintf(n, sizeof n, __VA_ARGS__), n)
    bl->num_heads = d->m->cfg.num_attention_heads;
    bl->act = d->m->cfg.hidden_act;
    bl->ln1 = ln_decl(d, NAME("transformer.h.%d.ln_1", i), C, eps);
    bl->qkv = linear_decl(d, NAME("transformer.h.%d.attn.c_attn", i), C, 3 * C, true);
    bl->o = linear_decl(d, NAME("transformer.h.%d.attn.c_proj", i), C, C, true);
    bl->ln2 = ln_decl(d, NAME("transformer.h.%d.ln_2", i), C, eps);
    bl->ffn_in = linear_decl(d, NAME("transformer.h.%d.mlp.c_fc", i), C, I, true);
    bl->ffn_out = linear_decl(d, NAME("transformer.h.%d.mlp.c_proj", i), I, C, true);
#undef NAME
}

void model_init(Model *m, const ModelConfig *cfg, ParamBlock *pb, const char *prefix,
                const Model *share_embeddings)
{
    const char *bad = model_config_check(cfg);
    ENGINE_CHECK(!bad, "model_init: %s", bad);
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    if (cfg->kind != MODEL_ALBERT && !is_electra(m)) m->cfg.embedding_size = cfg->hidden_size;
    if (cfg->kind == MODEL_GPT2 || cfg->kind == MODEL_DISTILBERT || cfg->kind == MODEL_XLNET) m->cfg.type_vocab_size = 0;
    const ModelConfig *c = &m->cfg;
    Decl d = {m, pb, prefix ? prefix : ""};
    int V = c->vocab_size, H = c->hidden_size, E = c->embedding_size, P = c->max_position_embeddings;
    float eps = c->layer_norm_eps;

    if (is_gpt2(m)) {
        m->word_emb = emb_decl(&d, "transformer.wte", V, H);
        m->pos_emb = emb_decl(&d, "transformer.wpe", P, H);
        m->nblocks = c->num_hidden_layers;
        m->blocks = calloc((size_t)m->nblocks, sizeof *m->blocks);
        ENGINE_CHECK(m->blocks, "out of memory");
        for (int i = 0; i < m->nblocks; i++) gpt2_block_decl(&d, &m->blocks[i], i);
        m->ln_f = ln_decl(&d, "transformer.ln_f", H, eps);
        return;
    }

    const char *base = c->kind == MODEL_ALBERT ? "albert" : c->kind == MODEL_DISTILBERT ? "distilbert"
                       : is_electra(m) ? "electra" : c->kind == MODEL_XLNET ? "xlnet" : "bert";
    char n[200];
#define NAME(...) (snprintf(n, sizeof n, __VA_ARGS__), n)
    if (share_embeddings) {
        ENGINE_CHECK(share_embeddings->cfg.embedding_size == E && share_embeddings->cfg.vocab_size == V &&
                     share_embeddings->cfg.max_position_embeddings == P,
                     "shared embeddings need the same embedding_size, vocab_size and positions");
        const Model *s = share_embeddings;
        m->word_emb = s->word_emb;
        m->pos_emb = s->pos_emb;
        m->type_emb = s->type_emb;
        m->emb_ln = s->emb_ln;
        add_named(m, NAME("%s.embeddings.word_embeddings.weight", base), m->word_emb);
        add_named(m, NAME("%s.embeddings.position_embeddings.weight", base), m->pos_emb);
        add_named(m, NAME("%s.embeddings.token_type_embeddings.weight", base), m->type_emb);
        add_named(m, NAME("%s.embeddings.LayerNorm.weight", base), m->emb_ln.w);
        add_named(m, NAME("%s.embeddings.LayerNorm.bias", base), m->emb_ln.b);
    } else {
        m->word_emb = emb_decl(&d, NAME("%s.embeddings.word_embeddings", base), V, E);
        m->pos_emb = emb_decl(&d, NAME("%s.embeddings.position_embeddings", base), P, E);
        if (c->type_vocab_size > 0)
            m->type_emb = emb_decl(&d, NAME("%s.embeddings.token_type_embeddings", base), c->type_vocab_size, E);
        m->emb_ln = ln_decl(&d, NAME("%s.embeddings.LayerNorm", base), E,
                            c->kind == MODEL_DISTILBERT ? 1e-12f : eps);
    }
    if (is_albert(m)) m->emb_proj = linear_decl(&d, "albert.encoder.embedding_hidden_mapping_in", E, H, false);
    if (is_electra(m) && E != H) m->emb_proj = linear_decl(&d, "electra.embeddings_project", E, H, false);

    m->nblocks = is_albert(m) ? c->num_hidden_groups : c->num_hidden_layers;
    m->blocks = calloc((size_t)m->nblocks, sizeof *m->blocks);
    ENGINE_CHECK(m->blocks, "out of memory");
    for (int i = 0; i < m->nblocks; i++) {
        char b[120];
        if (is_albert(m)) snprintf(b, sizeof b, "albert.encoder.albert_layer_groups.%d.albert_layers.0", i);
        else if (c->kind == MODEL_DISTILBERT) snprintf(b, sizeof b, "distilbert.transformer.layer.%d", i);
        else snprintf(b, sizeof b, "%s.encoder.layer.%d", base, i);
        encoder_block_decl(&d, &m->blocks[i], b);
    }

    switch (c->kind) {
    case MODEL_XLNET:
        /* the query stream's start, XLNet's `mask_emb` (there (1,1,H)); the head is BERT's */
        m->mask_emb = param(&d, 2, (int[]){1, H}, true, "xlnet.mask_emb");
        /* fall through */
    case MODEL_BERT_MLM:
    case MODEL_BERT_PRETRAIN:
        if (c->kind == MODEL_BERT_PRETRAIN) m->pooler = linear_decl(&d, "bert.pooler.dense", H, H, false);
        m->head_bias = param_vec(&d, V, "cls.predictions.bias");
        m->head_dense = linear_decl(&d, "cls.predictions.transform.dense", H, H, false);
        m->head_ln = ln_decl(&d, "cls.predictions.transform.LayerNorm", H, eps);
        if (c->kind == MODEL_BERT_PRETRAIN) m->seq_cls = linear_decl(&d, "cls.seq_relationship", H, 2, false);
        break;
    case MODEL_BERT_SEQ_CLS:
        /* BertModel with its pooler, then nn.Linear(H, num_labels) named `classifier`; no cls.*
         * (from_pretrained of a BertForPreTraining checkpoint drops those). num_labels is fixed
         * at 2: the lessons classify two ways (ham/spam), and model_seq_logits is (B,2). */
        m->pooler = linear_decl(&d, "bert.pooler.dense", H, H, false);
        m->seq_cls = linear_decl(&d, "classifier", H, 2, false);
        break;
    case MODEL_ALBERT:
        m->pooler = linear_decl(&d, "albert.pooler", H, H, false);
        m->head_bias = param_vec(&d, V, "predictions.bias");
        m->head_dense = linear_decl(&d, "predictions.dense", H, E, false);
        m->head_ln = ln_decl(&d, "predictions.LayerNorm", E, eps);
        m->seq_cls = linear_decl(&d, "sop_classifier.classifier", H, 2, false);
        break;
    case MODEL_DISTILBERT:
        m->head_dense = linear_decl(&d, "vocab_transform", H, H, false);
        m->head_ln = ln_decl(&d, "vocab_layer_norm", H, 1e-12f);
        m->head_bias = param_vec(&d, V, "vocab_projector.bias");
        break;
    case MODEL_ELECTRA_GEN:
        m->head_ln = ln_decl(&d, "generator_predictions.LayerNorm", E, eps);
        m->head_dense = linear_decl(&d, "generator_predictions.dense", H, E, false);
        m->head_bias = param_vec(&d, V, "generator_lm_head.bias");
        break;
    case MODEL_ELECTRA_DISC:
        m->head_dense = linear_decl(&d, "discriminator_predictions.dense", H, H, false);
        m->disc_pred = linear_decl(&d, "discriminator_predictions.dense_prediction", H, 1, false);
        break;
    default:
        break;
    }
#undef NAME
}

void model_free(Model *m)
{
    for (int i = 0; i < m->nnamed; i++) free(m->named[i].name);
    free(m->named);
    free(m->blocks);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ init ---- */

static bool has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

void model_init_weights(Model *m, Rng *r)
{
    const ModelConfig *c = &m->cfg;
    float std = c->initializer_range;
    for (int i = 0; i < m->nnamed; i++) {
        const char *n = m->named[i].name;
        Tensor *t = m->named[i].t;
        bool is_ln = strstr(n, "LayerNorm") || strstr(n, "layer_norm") || strstr(n, ".ln_");
        if (is_ln) init_constant(t, has_suffix(n, ".weight") ? 1.0f : 0.0f);
        else if (t->ndim == 1) init_constant(t, 0.0f);
        else if (is_gpt2(m) && has_suffix(n, "c_proj.weight")) init_normal(t, r, std / sqrtf(2.0f * c->num_hidden_layers));
        else init_normal(t, r, std);
    }
    if (!is_gpt2(m)) /* nn.Embedding(padding_idx): HF zeroes that row */
        memset(m->word_emb->data + (size_t)c->pad_token_id * c->embedding_size, 0,
               (size_t)c->embedding_size * sizeof(float));
}

/* ----------------------------------------------------------------- blocks ---- */

Tensor *nn_linear(Tape *tp, const Linear *l, Tensor *x)
{
    return l->conv1d ? op_conv1d(tp, x, l->w, l->b) : op_linear(tp, x, l->w, l->b);
}

Tensor *nn_layernorm(Tape *tp, const LayerNorm *ln, Tensor *x)
{
    return op_layernorm(tp, x, ln->w, ln->b, ln->eps);
}

Tensor *nn_activation(Tape *tp, Activation a, Tensor *x)
{
    return a == ACT_GELU_NEW ? op_gelu_tanh(tp, x) : op_gelu_erf(tp, x);
}

/* The activation of the MLM head: the config's, except where HF hard-codes "gelu". */
static Activation head_activation(const Model *m)
{
    if (m->cfg.kind == MODEL_ELECTRA_GEN || m->cfg.kind == MODEL_DISTILBERT) return ACT_GELU;
    return m->cfg.hidden_act;
}

static int32_t *arena_ids(Tape *tp, size_t n)
{
    return arena_alloc(&tp->arena, n * sizeof(int32_t));
}

Embeddings model_embeddings(const Model *m)
{
    Embeddings e = {m->word_emb, m->pos_emb, m->type_emb, m->emb_ln, m->emb_proj,
                    is_gpt2(m) ? -1 : m->cfg.pad_token_id};
    return e;
}

Tensor *nn_embeddings(Tape *tp, const Embeddings *e, const Batch *b)
{
    int B = b->B, T = b->T;
    int bt[2] = {B, T};
    Tensor *x = op_embedding(tp, e->word, b->input_ids, 2, bt, e->padding_idx);
    if (e->pos) {
        ENGINE_CHECK(T <= e->pos->shape[0], "sequence of %d tokens, the model has %d positions", T,
                     e->pos->shape[0]);
        int32_t *pos = arena_ids(tp, (size_t)T);
        for (int t = 0; t < T; t++) pos[t] = t;
        int t1[1] = {T};
        x = op_add(tp, x, op_embedding(tp, e->pos, pos, 1, t1, -1)); /* (T,E) broadcast over B */
    }
    if (e->type) {
        const int32_t *types = b->token_type_ids;
        if (!types) {
            int32_t *z = arena_ids(tp, (size_t)B * T);
            memset(z, 0, (size_t)B * T * sizeof *z);
            types = z;
        }
        x = op_add(tp, x, op_embedding(tp, e->type, types, 2, bt, -1));
    }
    if (e->ln.w) x = nn_layernorm(tp, &e->ln, x);
    if (e->proj.w) x = nn_linear(tp, &e->proj, x);
    return x;
}

/* The rest of a post-LN layer, for either stream, given its attention output. */
static Tensor *encoder_rest(Tape *tp, const Block *bl, Tensor *x, Tensor *a)
{
    x = nn_layernorm(tp, &bl->ln1, op_add(tp, nn_linear(tp, &bl->o, a), x));
    Tensor *f = nn_activation(tp, bl->act, nn_linear(tp, &bl->ffn_in, x));
    return nn_layernorm(tp, &bl->ln2, op_add(tp, nn_linear(tp, &bl->ffn_out, f), x));
}

Tensor *nn_encoder_layer(Tape *tp, const Block *bl, Tensor *x, AttnMask mask, float **attn, QueryStream *qs)
{
    /* x = LN(dense(attn(x)) + x);  x = LN(ffn_out(act(ffn_in(x))) + x) */
    ENGINE_CHECK(bl->q.w && bl->k.w && bl->v.w, "encoder layer: the block has no separate q, k, v "
                 "(a GPT-2 block, with one c_attn, goes through nn_decoder_layer)");
    Tensor *q = nn_linear(tp, &bl->q, x), *k = nn_linear(tp, &bl->k, x), *v = nn_linear(tp, &bl->v, x);
    Tensor *a = op_attention(tp, q, k, v, bl->num_heads, mask, attn);
    Tensor *out = encoder_rest(tp, bl, x, a);
    if (qs) {
        /* g's queries, x's keys and values */
        Tensor *ag = op_attention(tp, nn_linear(tp, &bl->q, qs->g), k, v, bl->num_heads, qs->mask, &qs->attn);
        qs->out = encoder_rest(tp, bl, qs->g, ag);
    }
    return out;
}

/* The rest of a pre-LN layer, for either stream, given its attention output. */
static Tensor *decoder_rest(Tape *tp, const Block *bl, Tensor *x, Tensor *a)
{
    x = op_add(tp, x, nn_linear(tp, &bl->o, a));
    Tensor *f = nn_linear(tp, &bl->ffn_in, nn_layernorm(tp, &bl->ln2, x));
    return op_add(tp, x, nn_linear(tp, &bl->ffn_out, nn_activation(tp, bl->act, f)));
}

Tensor *nn_decoder_layer(Tape *tp, const Block *bl, Tensor *x, AttnMask mask, float **attn, QueryStream *qs)
{
    /* x = x + attn(ln_1(x));  x = x + mlp(ln_2(x)) */
    ENGINE_CHECK(bl->qkv.w, "decoder layer: the block has no fused qkv (GPT-2's c_attn); "
                 "an encoder block, with separate q, k, v, goes through nn_encoder_layer");
    int C = x->shape[2];
    Tensor *qkv = nn_linear(tp, &bl->qkv, nn_layernorm(tp, &bl->ln1, x));
    Tensor *q = op_slice_last(tp, qkv, 0, C), *k = op_slice_last(tp, qkv, C, C),
           *v = op_slice_last(tp, qkv, 2 * C, C);
    Tensor *a = op_attention(tp, q, k, v, bl->num_heads, mask, attn);
    Tensor *out = decoder_rest(tp, bl, x, a);
    if (qs) {
        /* g through the same c_attn, of which only the query third is used */
        Tensor *qg = op_slice_last(tp, nn_linear(tp, &bl->qkv, nn_layernorm(tp, &bl->ln1, qs->g)), 0, C);
        Tensor *ag = op_attention(tp, qg, k, v, bl->num_heads, qs->mask, &qs->attn);
        qs->out = decoder_rest(tp, bl, qs->g, ag);
    }
    return out;
}

/* ---------------------------------------------------------------- forward ---- */

void model_forward(Model *m, Tape *tp, const Batch *b, Forward *out)
{
    const ModelConfig *c = &m->cfg;
    ENGINE_CHECK(b->T <= c->max_position_embeddings, "sequence of %d tokens, the model has %d positions", b->T,
                 c->max_position_embeddings);
    Embeddings e = model_embeddings(m);
    Tensor *x = nn_embeddings(tp, &e, b);
    AttnMask mask = attn_mask_padding(b->attention_mask, is_gpt2(m) && !m->no_causal_mask);
    if (out->attn == NULL) out->attn = arena_alloc(&tp->arena, (size_t)c->num_hidden_layers * sizeof(float *));
    for (int l = 0; l < c->num_hidden_layers; l++) {
        /* ALBERT: layer l runs group l / (L / groups), as AlbertTransformer's group_idx */
        const Block *bl = &m->blocks[is_albert(m) ? l / (c->num_hidden_layers / c->num_hidden_groups) : l];
        x = is_gpt2(m) ? nn_decoder_layer(tp, bl, x, mask, &out->attn[l], NULL)
                       : nn_encoder_layer(tp, bl, x, mask, &out->attn[l], NULL);
    }
    if (is_gpt2(m)) x = nn_layernorm(tp, &m->ln_f, x);
    out->hidden = x;
}

Tensor *model_lm_logits(Model *m, Tape *tp, Tensor *hidden)
{
    /* the kinds without one (ELECTRA's discriminator, the sequence classifier) have no head_bias */
    ENGINE_CHECK(is_gpt2(m) || m->head_bias, "%s has no LM head", model_kind_name[m->cfg.kind]);
    if (is_gpt2(m)) return op_matmul(tp, hidden, m->word_emb, false, true); /* lm_head tied to wte */
    Tensor *h = nn_activation(tp, head_activation(m), nn_linear(tp, &m->head_dense, hidden));
    h = nn_layernorm(tp, &m->head_ln, h);
    return op_linear(tp, h, m->word_emb, m->head_bias); /* decoder tied to the word embeddings */
}

Tensor *model_pooled(Model *m, Tape *tp, Tensor *hidden)
{
    ENGINE_CHECK(m->pooler.w, "%s has no pooler", model_kind_name[m->cfg.kind]);
    int B = hidden->shape[0], T = hidden->shape[1];
    int32_t *rows = arena_ids(tp, (size_t)B);
    for (int b = 0; b < B; b++) rows[b] = b * T; /* the [CLS] position of each sequence */
    return op_tanh(tp, nn_linear(tp, &m->pooler, op_gather_rows(tp, hidden, rows, B)));
}

Tensor *model_seq_logits(Model *m, Tape *tp, Tensor *pooled)
{
    ENGINE_CHECK(m->seq_cls.w, "%s has no sequence classifier", model_kind_name[m->cfg.kind]);
    return nn_linear(tp, &m->seq_cls, pooled);
}

Tensor *model_disc_logits(Model *m, Tape *tp, Tensor *hidden)
{
    ENGINE_CHECK(m->cfg.kind == MODEL_ELECTRA_DISC, "only the ELECTRA discriminator has this head");
    Tensor *h = nn_activation(tp, m->cfg.hidden_act, nn_linear(tp, &m->head_dense, hidden));
    Tensor *l = nn_linear(tp, &m->disc_pred, h); /* (B,T,1) */
    int s[2] = {hidden->shape[0], hidden->shape[1]};
    return op_reshape(tp, l, 2, s);
}

ParamCounts model_param_counts(const Model *m)
{
    ParamCounts pc = {0};
    for (int i = 0; i < m->nnamed; i++) {
        const char *n = m->named[i].name;
        size_t sz = m->named[i].t->size;
        if (strstr(n, "LayerNorm") || strstr(n, "layer_norm") || strstr(n, ".ln_")) pc.layer_norm += sz;
        else if (strstr(n, "embeddings") || strstr(n, "mask_emb") || strstr(n, ".wte") || strstr(n, ".wpe") || strstr(n, "embedding_hidden"))
            pc.embeddings += sz;
        else if (strstr(n, "attention") || strstr(n, ".attn.")) pc.attention += sz;
        else if (strstr(n, "intermediate") || strstr(n, "output.dense") || strstr(n, ".ffn") || strstr(n, ".mlp."))
            pc.feed_forward += sz;
        else pc.heads += sz;
        pc.total += sz;
    }
    return pc;
}

/* ------------------------------------------------------- fine-tuning helpers ---- */

void model_freeze(Model *m, const char *prefix)
{
    size_t k = strlen(prefix);
    for (int i = 0; i < m->nnamed; i++)
        if (strncmp(m->named[i].name, prefix, k) == 0) m->named[i].t->requires_grad = false;
}

/* m's parameter of that Hugging Face name, or NULL */
static const Tensor *named_param(const Model *m, const char *name)
{
    for (int i = 0; i < m->nnamed; i++)
        if (strcmp(m->named[i].name, name) == 0) return m->named[i].t;
    return NULL;
}

int model_copy_matching(Model *dst, const Model *src)
{
    /* every shape first, so a mismatch leaves dst as it was rather than half overwritten */
    for (int i = 0; i < dst->nnamed; i++) {
        const Tensor *s = named_param(src, dst->named[i].name);
        if (s && !tensor_same_shape(s, dst->named[i].t)) return -1;
    }
    int n = 0;
    for (int i = 0; i < dst->nnamed; i++) {
        const Tensor *s = named_param(src, dst->named[i].name);
        if (!s) continue;
        Tensor *d = dst->named[i].t;
        if (d->data != s->data) memcpy(d->data, s->data, d->size * sizeof(float)); /* shared: already equal */
        n++;
    }
    return n;
}

/* The embeddings module's and the encoder layers' tensors of a post-LN encoder, slot by slot
 * in one order for every family (NULL where a family has none: DistilBERT's token types, a
 * projection E -> H), so that two families are matched by role, not by name. */
enum { EMB_SLOTS = 7, LAYER_SLOTS = 16 };

static Tensor *encoder_slot(const Model *m, int i)
{
    if (i < EMB_SLOTS) {
        Tensor *e[EMB_SLOTS] = {m->word_emb, m->pos_emb,   m->type_emb,   m->emb_ln.w,
                                m->emb_ln.b, m->emb_proj.w, m->emb_proj.b};
        return e[i];
    }
    const Block *b = &m->blocks[(i - EMB_SLOTS) / LAYER_SLOTS];
    Tensor *l[LAYER_SLOTS] = {b->q.w,      b->q.b,      b->k.w,      b->k.b,      b->v.w,      b->v.b,
                              b->o.w,      b->o.b,      b->ln1.w,    b->ln1.b,    b->ffn_in.w, b->ffn_in.b,
                              b->ffn_out.w, b->ffn_out.b, b->ln2.w, b->ln2.b};
    return l[(i - EMB_SLOTS) % LAYER_SLOTS];
}

/* one block per layer of the post-LN encoder: not GPT-2's decoder, not ALBERT's shared groups
   (a group stands for several layers, so its weights mean something else) */
static bool plain_encoder(const Model *m) { return !is_gpt2(m) && !is_albert(m); }

int model_copy_encoder(Model *dst, const Model *src)
{
    if (!plain_encoder(dst) || !plain_encoder(src) || dst->nblocks != src->nblocks) return -1;
    /* the same shapes can still compute another function: the heads split the width, the
       activation and LayerNorm's eps are not weights */
    for (int l = 0; l < dst->nblocks; l++) {
        const Block *d = &dst->blocks[l], *s = &src->blocks[l];
        if (d->num_heads != s->num_heads || d->act != s->act || d->ln1.eps != s->ln1.eps || d->ln2.eps != s->ln2.eps)
            return -1;
    }
    if (dst->emb_ln.eps != src->emb_ln.eps) return -1;
    int slots = EMB_SLOTS + LAYER_SLOTS * dst->nblocks;
    /* every slot first, so a mismatch leaves dst as it was rather than half overwritten */
    for (int i = 0; i < slots; i++) {
        const Tensor *d = encoder_slot(dst, i), *s = encoder_slot(src, i);
        if (!d != !s || (d && !tensor_same_shape(d, s))) return -1;
    }
    int n = 0;
    for (int i = 0; i < slots; i++) {
        Tensor *d = encoder_slot(dst, i);
        const Tensor *s = encoder_slot(src, i);
        if (!d) continue;
        if (d->data != s->data) memcpy(d->data, s->data, d->size * sizeof(float)); /* shared: already equal */
        n++;
    }
    return n;
}
