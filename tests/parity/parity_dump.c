/* parity_dump.c — runs one model class of fmlab on random weights and a random batch, and
 * writes everything PyTorch needs to recompute it: for each model, config.json,
 * model.safetensors and grads.safetensors; then batch.safetensors (the inputs and labels)
 * and outputs.safetensors (the loss parts, logits and attention probabilities).
 *
 *   parity_dump KIND OUTDIR [key=value ...]
 *   KIND: bert_mlm bert_pretrain gpt2 albert distilbert electra bert_seq_cls
 *   keys: seed B T vocab hidden layers heads inter emb pad (pad=1: pad the ends of some rows)
 *         gen_hidden gen_heads gen_inter (ELECTRA's generator) init (initializer_range)
 *         freeze (bert_seq_cls: freeze=1 trains the classifier alone, model_freeze "bert.")
 * tests/parity/check.py drives it and compares. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/engine.h"

typedef struct Opts {
    int seed, B, T, vocab, hidden, layers, heads, inter, emb, pad, gen_hidden, gen_heads, gen_inter, freeze, groups;
    float init;
} Opts;

static int set_opt(Opts *o, const char *kv)
{
    char key[32];
    const char *eq = strchr(kv, '=');
    if (!eq || eq - kv >= (int)sizeof key) return -1;
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = 0;
    const char *v = eq + 1;
    struct { const char *k; int *p; } ints[] = {
        {"seed", &o->seed}, {"B", &o->B}, {"T", &o->T}, {"vocab", &o->vocab}, {"hidden", &o->hidden},
        {"layers", &o->layers}, {"heads", &o->heads}, {"inter", &o->inter}, {"emb", &o->emb}, {"pad", &o->pad},
        {"gen_hidden", &o->gen_hidden}, {"gen_heads", &o->gen_heads}, {"gen_inter", &o->gen_inter},
        {"freeze", &o->freeze}, {"groups", &o->groups},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (!strcmp(key, ints[i].k)) { *ints[i].p = atoi(v); return 0; }
    if (!strcmp(key, "init")) { o->init = (float)atof(v); return 0; }
    return -1;
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "parity_dump: %s: %s\n", what, err);
    exit(1);
}

static StWriter out_w, batch_w;

/* Buffers handed to the writers live until exit; this list frees them there. */
static void *owned[256];
static int nowned;
static void *own(void *p)
{
    if (nowned < 256) owned[nowned++] = p;
    return p;
}

static void add_f32(StWriter *w, const char *name, int ndim, const int *shape, const float *data)
{
    int64_t s[4];
    for (int i = 0; i < ndim; i++) s[i] = shape[i];
    st_writer_add(w, name, ST_F32, ndim, s, data);
}

/* ids are int32 inside fmlab and I64 in files */
static void add_i64(StWriter *w, const char *name, int ndim, const int64_t *shape, const int32_t *src, size_t n)
{
    int64_t *d = own(malloc(n * sizeof *d));
    for (size_t i = 0; i < n; i++) d[i] = src[i];
    st_writer_add(w, name, ST_I64, ndim, shape, d);
}

static void add_attn(Model *m, const char *prefix, const Forward *f, int B, int T)
{
    for (int l = 0; l < m->cfg.num_hidden_layers; l++) {
        char name[128];
        snprintf(name, sizeof name, "%s.layer.%d", prefix, l);
        int s[4] = {B, m->cfg.num_attention_heads, T, T};
        add_f32(&out_w, name, 4, s, f->attn[l]);
    }
}

static float *copy_scalar(float v)
{
    float *p = own(malloc(sizeof *p));
    *p = v;
    return p;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: parity_dump KIND OUTDIR [key=value ...]\n");
        return 2;
    }
    const char *kind_s = argv[1], *dir = argv[2];
    Opts o = {1, 3, 7, 50, 12, 2, 3, 20, 10, 1, 8, 2, 16, 0, 1, 0.2f};
    for (int i = 3; i < argc; i++)
        if (set_opt(&o, argv[i])) { fprintf(stderr, "parity_dump: bad option %s\n", argv[i]); return 2; }
    static const struct { const char *name; ModelKind kind; } kinds[] = {
        {"bert_mlm", MODEL_BERT_MLM}, {"bert_pretrain", MODEL_BERT_PRETRAIN}, {"gpt2", MODEL_GPT2},
        {"albert", MODEL_ALBERT}, {"distilbert", MODEL_DISTILBERT}, {"electra", MODEL_ELECTRA_DISC},
        {"bert_seq_cls", MODEL_BERT_SEQ_CLS},
    };
    int ki = -1;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].name, kind_s)) ki = (int)i;
    if (ki < 0) { fprintf(stderr, "parity_dump: unknown kind %s\n", kind_s); return 2; }
    ModelKind kind = kinds[ki].kind;
    bool electra = kind == MODEL_ELECTRA_DISC, seq_cls = kind == MODEL_BERT_SEQ_CLS;

    ModelConfig cfg = model_config_default(kind);
    cfg.vocab_size = o.vocab;
    cfg.hidden_size = o.hidden;
    cfg.num_hidden_layers = o.layers;
    cfg.num_attention_heads = o.heads;
    cfg.intermediate_size = o.inter;
    cfg.embedding_size = o.emb;
    cfg.num_hidden_groups = o.groups;
    cfg.max_position_embeddings = o.T + 3;
    cfg.initializer_range = o.init;

    ParamBlock pb;
    params_init(&pb);
    Model m, gen;
    model_init(&m, &cfg, &pb, electra ? "discriminator/" : "", NULL);
    ModelConfig gcfg = cfg;
    if (electra) {
        gcfg.kind = MODEL_ELECTRA_GEN;
        gcfg.hidden_size = o.gen_hidden;
        gcfg.num_attention_heads = o.gen_heads;
        gcfg.intermediate_size = o.gen_inter;
        model_init(&gen, &gcfg, &pb, "generator/", &m);
    }
    if (!params_finalize(&pb)) die("params", "out of memory");
    if (seq_cls && o.freeze) model_freeze(&m, "bert.");
    Rng r;
    rng_seed(&r, (uint64_t)o.seed, 0);
    model_init_weights(&m, &r);
    if (electra) {
        /* the generator's own weights; the shared embeddings keep the discriminator's values */
        float *keep = malloc(m.word_emb->size * sizeof(float));
        memcpy(keep, m.word_emb->data, m.word_emb->size * sizeof(float));
        model_init_weights(&gen, &r);
        memcpy(m.word_emb->data, keep, m.word_emb->size * sizeof(float));
        free(keep);
    }
    /* biases and LayerNorms away from their 0/1 init, so their gradients are tested too */
    for (int i = 0; i < pb.count; i++)
        if (pb.params[i]->ndim == 1)
            for (size_t j = 0; j < pb.params[i]->size; j++) pb.params[i]->data[j] += rng_normal(&r, 0, 0.1f);

    int B = o.B, T = o.T, V = o.vocab;
    size_t BT = (size_t)B * T;
    int32_t *ids = own(malloc(BT * 4)), *types = own(malloc(BT * 4)), *labels = own(malloc(BT * 4)),
            *corrupt = own(malloc(BT * 4));
    uint8_t *mask = own(malloc(BT));
    float *rtd = own(malloc(BT * 4));
    int32_t seq_label[64];
    for (int b = 0; b < B; b++) {
        int len = o.pad && b % 2 == 1 ? T - 1 - b % 3 : T; /* odd rows end in padding */
        if (len < 1) len = 1;
        seq_label[b] = (int32_t)rng_below(&r, 2);
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)b * T + t;
            bool real = t < len;
            mask[i] = real;
            ids[i] = real ? 5 + (int32_t)rng_below(&r, (uint32_t)(V - 5)) : cfg.pad_token_id;
            if (real && t == 0 && kind != MODEL_GPT2) ids[i] = 2; /* [CLS] */
            types[i] = real && t >= len / 2 ? 1 : 0;
            labels[i] = real && t > 0 && rng_bernoulli(&r, 0.4f) ? 5 + (int32_t)rng_below(&r, (uint32_t)(V - 5)) : IGNORE_INDEX;
            corrupt[i] = real && rng_bernoulli(&r, 0.3f) ? 5 + (int32_t)rng_below(&r, (uint32_t)(V - 5)) : ids[i];
            rtd[i] = corrupt[i] != ids[i];
        }
    }
    if (kind == MODEL_GPT2) {
        /* causal LM: labels = input_ids, shifted inside the loss */
        for (size_t i = 0; i < BT; i++) labels[i] = ids[i];
    }

    Tape tp;
    if (!tape_init(&tp, 256u << 20, 8192)) die("tape", "out of memory");
    params_zero_grad(&pb);
    bool pair = kind == MODEL_BERT_PRETRAIN || kind == MODEL_ALBERT;
    Batch batch = {B, T, ids, pair || electra || seq_cls || kind == MODEL_BERT_MLM ? types : NULL, o.pad ? mask : NULL};
    if (kind == MODEL_DISTILBERT) batch.token_type_ids = NULL;
    st_writer_init(&out_w);
    st_writer_init(&batch_w);
    int64_t sbt[2] = {B, T}, sb[1] = {B};
    Tensor *total = NULL;

    if (kind == MODEL_GPT2) {
        Forward f = {0};
        model_forward(&m, &tp, &batch, &f);
        Tensor *logits = model_lm_logits(&m, &tp, f.hidden);
        int32_t *shifted = own(malloc(BT * 4));
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                shifted[b * T + t] = t + 1 < T && (!o.pad || mask[b * T + t + 1]) ? ids[b * T + t + 1] : IGNORE_INDEX;
        total = op_cross_entropy(&tp, logits, shifted);
        add_f32(&out_w, "loss.lm", 0, NULL, copy_scalar(total->data[0]));
        int s[3] = {B, T, V};
        add_f32(&out_w, "logits", 3, s, logits->data);
        add_attn(&m, "gpt2", &f, B, T);
    } else if (seq_cls) {
        /* BertForSequenceClassification: the pooled [CLS] through the classifier, cross-entropy
           against one label per sequence */
        Forward f = {0};
        model_forward(&m, &tp, &batch, &f);
        Tensor *logits = model_seq_logits(&m, &tp, model_pooled(&m, &tp, f.hidden));
        total = op_cross_entropy(&tp, logits, seq_label);
        add_f32(&out_w, "loss.cls", 0, NULL, copy_scalar(total->data[0]));
        int s[2] = {B, 2};
        add_f32(&out_w, "logits", 2, s, logits->data);
        add_attn(&m, model_type_name[kind], &f, B, T);
    } else if (!electra) {
        Forward f = {0};
        model_forward(&m, &tp, &batch, &f);
        Tensor *logits = model_lm_logits(&m, &tp, f.hidden);
        total = op_cross_entropy(&tp, logits, labels);
        add_f32(&out_w, "loss.mlm", 0, NULL, copy_scalar(total->data[0]));
        int s[3] = {B, T, V};
        add_f32(&out_w, "logits", 3, s, logits->data);
        if (pair) {
            Tensor *seq = model_seq_logits(&m, &tp, model_pooled(&m, &tp, f.hidden));
            Tensor *l2 = op_cross_entropy(&tp, seq, seq_label);
            add_f32(&out_w, kind == MODEL_ALBERT ? "loss.sop" : "loss.nsp", 0, NULL, copy_scalar(l2->data[0]));
            int s2[2] = {B, 2};
            add_f32(&out_w, "seq_logits", 2, s2, seq->data);
            total = op_add(&tp, total, l2);
        }
        add_attn(&m, model_type_name[kind], &f, B, T);
    } else {
        Forward fg = {0}, fd = {0};
        model_forward(&gen, &tp, &batch, &fg);
        Tensor *glog = model_lm_logits(&gen, &tp, fg.hidden);
        Tensor *mlm = op_cross_entropy(&tp, glog, labels);
        Batch db = batch;
        db.input_ids = corrupt;
        model_forward(&m, &tp, &db, &fd);
        Tensor *dlog = model_disc_logits(&m, &tp, fd.hidden);
        Tensor *bce = op_bce_logits(&tp, dlog, rtd, mask);
        total = op_add(&tp, mlm, op_scale(&tp, bce, 50.0f));
        add_f32(&out_w, "loss.mlm", 0, NULL, copy_scalar(mlm->data[0]));
        add_f32(&out_w, "loss.rtd", 0, NULL, copy_scalar(bce->data[0]));
        int s[3] = {B, T, V}, s2[2] = {B, T};
        add_f32(&out_w, "logits", 3, s, glog->data);
        add_f32(&out_w, "disc_logits", 2, s2, dlog->data);
        add_attn(&gen, "generator", &fg, B, T);
        add_attn(&m, "discriminator", &fd, B, T);
        add_i64(&batch_w, "corrupted_ids", 2, sbt, corrupt, BT);
        st_writer_add(&batch_w, "rtd_labels", ST_F32, 2, sbt, rtd);
    }
    add_f32(&out_w, "loss.total", 0, NULL, copy_scalar(total->data[0]));
    tape_backward(&tp, total);

    add_i64(&batch_w, "input_ids", 2, sbt, ids, BT);
    if (seq_cls) add_i64(&batch_w, "labels", 1, sb, seq_label, (size_t)B);   /* HF's labels for this class: (B,) */
    else add_i64(&batch_w, "labels", 2, sbt, labels, BT);
    add_i64(&batch_w, "token_type_ids", 2, sbt, batch.token_type_ids ? types : (int32_t *)own(calloc(BT, 4)), BT);
    int32_t *mask32 = own(malloc(BT * 4));
    for (size_t i = 0; i < BT; i++) mask32[i] = o.pad ? mask[i] : 1;
    add_i64(&batch_w, "attention_mask", 2, sbt, mask32, BT);
    add_i64(&batch_w, "seq_label", 1, sb, seq_label, (size_t)B);

    char err[512], path[4096];
    mkdir(dir, 0755);
    struct { Model *m; const char *sub; } models[2] = {{&m, electra ? "discriminator" : model_type_name[kind]},
                                                       {electra ? &gen : NULL, "generator"}};
    for (int i = 0; i < 2 && models[i].m; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, models[i].sub);
        mkdir(path, 0755);
        if (model_save(models[i].m, path, err, sizeof err)) die("save", err);
        snprintf(path, sizeof path, "%s/%s/grads.safetensors", dir, models[i].sub);
        if (model_save_grads(models[i].m, path, err, sizeof err)) die("grads", err);
    }
    snprintf(path, sizeof path, "%s/outputs.safetensors", dir);
    if (st_writer_save(&out_w, path, err, sizeof err)) die("outputs", err);
    snprintf(path, sizeof path, "%s/batch.safetensors", dir);
    if (st_writer_save(&batch_w, path, err, sizeof err)) die("batch", err);
    printf("%s: loss %.6f\n", kind_s, (double)total->data[0]);
    st_writer_free(&out_w);
    st_writer_free(&batch_w);
    tape_free(&tp);
    if (electra) model_free(&gen);
    model_free(&m);
    params_free(&pb);
    for (int i = 0; i < nowned; i++) free(owned[i]);
    return 0;
}
