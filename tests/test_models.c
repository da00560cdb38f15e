/* test_models.c — the model zoo's structure: Hugging Face names and shapes, parameter
 * counts worked out by hand, masks seen in the attention probabilities, tied and shared
 * weights, model_forward against the public blocks composed by hand, and save/load through
 * config.json + model.safetensors. The numbers themselves are checked against PyTorch by
 * the parity suite. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char tmpdir[64];
static Tape tp;

static const Tensor *named(const Model *m, const char *name)
{
    for (int i = 0; i < m->nnamed; i++)
        if (!strcmp(m->named[i].name, name)) return m->named[i].t;
    return NULL;
}

static void expect_shape(const Model *m, const char *name, int d0, int d1)
{
    const Tensor *t = named(m, name);
    if (!t) print_message("missing parameter %s\n", name);
    assert_non_null(t);
    assert_int_equal(t->shape[0], d0);
    if (d1) assert_int_equal(t->shape[1], d1);
    else assert_int_equal(t->ndim, 1);
}

static void build(Model *m, ParamBlock *pb, ModelKind kind, uint64_t seed)
{
    ModelConfig c = model_config_default(kind);
    params_init(pb);
    model_init(m, &c, pb, "", NULL);
    assert_true(params_finalize(pb));
    Rng r;
    rng_seed(&r, seed, 0);
    model_init_weights(m, &r);
}

static void test_names_and_counts(void **state)
{
    (void)state;
    Model m;
    ParamBlock pb;
    build(&m, &pb, MODEL_BERT_MLM, 1);
    expect_shape(&m, "bert.embeddings.word_embeddings.weight", 2000, 64);
    expect_shape(&m, "bert.encoder.layer.1.attention.self.query.weight", 64, 64);
    expect_shape(&m, "bert.encoder.layer.0.intermediate.dense.weight", 256, 64);  /* [out, in] */
    expect_shape(&m, "bert.encoder.layer.0.output.dense.weight", 64, 256);
    expect_shape(&m, "cls.predictions.bias", 2000, 0);
    assert_null(named(&m, "cls.predictions.decoder.weight")); /* tied: listed once, as the embedding */
    assert_null(named(&m, "bert.pooler.dense.weight"));        /* BertForMaskedLM has no pooler */
    /* by hand: V·H + P·H + 2·H embeddings; per layer 4(H²+H) attention, 2(2H) LayerNorm,
       (HI+I) + (IH+H) feed-forward; head H²+H + 2H + V */
    size_t V = 2000, H = 64, P = 512, I = 256, L = 2;
    ParamCounts pc = model_param_counts(&m);
    assert_int_equal(pc.embeddings, V * H + P * H + 2 * H);
    assert_int_equal(pc.attention, L * 4 * (H * H + H));
    assert_int_equal(pc.feed_forward, L * (H * I + I + I * H + H));
    assert_int_equal(pc.layer_norm, 2 * H + L * 4 * H + 2 * H);
    assert_int_equal(pc.heads, H * H + H + V);
    assert_int_equal(pc.total, pb.n);
    /* weights: normal(0, 0.02), biases 0, LayerNorm 1, the [PAD] row 0 */
    const Tensor *w = named(&m, "bert.encoder.layer.0.attention.self.key.weight");
    double ss = 0;
    for (size_t i = 0; i < w->size; i++) ss += (double)w->data[i] * w->data[i];
    assert_true(fabs(sqrt(ss / w->size) - 0.02) < 0.002);
    assert_true(named(&m, "bert.encoder.layer.0.attention.self.key.bias")->data[3] == 0.0f);
    assert_true(named(&m, "bert.embeddings.LayerNorm.weight")->data[5] == 1.0f);
    for (int j = 0; j < 64; j++) assert_true(m.word_emb->data[j] == 0.0f);
    model_free(&m);
    params_free(&pb);

    build(&m, &pb, MODEL_GPT2, 1);
    expect_shape(&m, "transformer.h.0.attn.c_attn.weight", 64, 192);   /* Conv1D: [in, out] */
    expect_shape(&m, "transformer.h.1.mlp.c_proj.weight", 256, 64);
    expect_shape(&m, "transformer.ln_f.weight", 64, 0);
    assert_null(named(&m, "lm_head.weight"));
    /* GPT-2 scales the residual projections' init by 1/√(2·layers) */
    const Tensor *cp = named(&m, "transformer.h.0.attn.c_proj.weight");
    ss = 0;
    for (size_t i = 0; i < cp->size; i++) ss += (double)cp->data[i] * cp->data[i];
    assert_true(fabs(sqrt(ss / cp->size) - 0.02 / 2.0) < 0.0015);
    model_free(&m);
    params_free(&pb);

    /* ALBERT: one shared layer whatever the depth; factorized embeddings E=32 -> H=64 */
    ModelConfig c = model_config_default(MODEL_ALBERT);
    size_t n_at[2];
    for (int k = 0; k < 2; k++) {
        c.num_hidden_layers = k ? 12 : 2;
        params_init(&pb);
        model_init(&m, &c, &pb, "", NULL);
        n_at[k] = pb.n;
        if (k) {
            expect_shape(&m, "albert.embeddings.word_embeddings.weight", 2000, 32);
            expect_shape(&m, "albert.encoder.embedding_hidden_mapping_in.weight", 64, 32);
            expect_shape(&m, "predictions.dense.weight", 32, 64);
            expect_shape(&m, "sop_classifier.classifier.weight", 2, 64);
            expect_shape(&m, "albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight", 256, 64);
        }
        model_free(&m);
        params_free(&pb);
    }
    assert_int_equal(n_at[0], n_at[1]);

    build(&m, &pb, MODEL_DISTILBERT, 1);
    expect_shape(&m, "distilbert.transformer.layer.0.attention.q_lin.weight", 64, 64);
    expect_shape(&m, "vocab_projector.bias", 2000, 0);
    assert_null(named(&m, "distilbert.embeddings.token_type_embeddings.weight"));
    model_free(&m);
    params_free(&pb);
}

/* BertForSequenceClassification: BertForPreTraining's `bert.*` (pooler included), then
 * `classifier` (H -> 2) instead of the cls.* heads. */
static void test_seq_cls_names(void **state)
{
    (void)state;
    for (int k = 0; k < MODEL_KIND_COUNT; k++) /* every kind has both names (config.json writes them) */
        assert_true(model_kind_name[k] && model_type_name[k]);
    assert_string_equal(model_kind_name[MODEL_BERT_SEQ_CLS], "BertForSequenceClassification");
    assert_string_equal(model_type_name[MODEL_BERT_SEQ_CLS], "bert");
    Model m, pre;
    ParamBlock pb, pbp;
    build(&m, &pb, MODEL_BERT_SEQ_CLS, 1);
    build(&pre, &pbp, MODEL_BERT_PRETRAIN, 1);
    expect_shape(&m, "classifier.weight", 2, 64);
    expect_shape(&m, "classifier.bias", 2, 0);
    expect_shape(&m, "bert.pooler.dense.weight", 64, 64);
    expect_shape(&m, "bert.pooler.dense.bias", 64, 0);
    expect_shape(&m, "bert.embeddings.word_embeddings.weight", 2000, 64);
    expect_shape(&m, "bert.embeddings.token_type_embeddings.weight", 2, 64);
    /* every bert.* of BertForPreTraining, same shape, same order; nothing else but classifier.* */
    int nbert = 0;
    for (int i = 0; i < pre.nnamed; i++) {
        const char *n = pre.named[i].name;
        if (strncmp(n, "bert.", 5)) continue;
        const Tensor *t = named(&m, n);
        if (!t) print_message("missing parameter %s\n", n);
        assert_non_null(t);
        assert_true(tensor_same_shape(t, pre.named[i].t));
        assert_string_equal(m.named[nbert].name, n);
        nbert++;
    }
    assert_int_equal(m.nnamed, nbert + 2);
    for (int i = 0; i < m.nnamed; i++) {
        assert_null(strstr(m.named[i].name, "cls."));
        assert_true(!strncmp(m.named[i].name, "bert.", 5) || !strncmp(m.named[i].name, "classifier.", 11));
    }
    assert_null(m.head_bias);
    assert_null(m.head_dense.w);
    /* BertForPreTraining minus the MLM head (bias V, transform dense H²+H, LayerNorm 2H) and
       seq_relationship (2H+2), plus the classifier (2H+2) */
    size_t V = 2000, H = 64;
    assert_int_equal(pb.n, pbp.n - (V + H * H + H + 2 * H) - (2 * H + 2) + (2 * H + 2));
    ParamCounts pc = model_param_counts(&m), pcp = model_param_counts(&pre);
    assert_int_equal(pc.total, pb.n);
    assert_int_equal(pc.embeddings, pcp.embeddings);
    assert_int_equal(pc.attention, pcp.attention);
    assert_int_equal(pc.feed_forward, pcp.feed_forward);
    assert_int_equal(pc.heads, H * H + H + 2 * H + 2);   /* pooler and classifier */
    /* HF _init_weights: normal(0, initializer_range) weights, zero biases */
    const Tensor *w = named(&m, "classifier.weight");
    double ss = 0;
    for (size_t i = 0; i < w->size; i++) ss += (double)w->data[i] * w->data[i];
    assert_true(ss > 0 && sqrt(ss / w->size) < 0.04);
    const Tensor *b = named(&m, "classifier.bias");
    assert_true(b->data[0] == 0.0f && b->data[1] == 0.0f);
    const Tensor *pw = named(&m, "bert.pooler.dense.weight");
    ss = 0;
    for (size_t i = 0; i < pw->size; i++) ss += (double)pw->data[i] * pw->data[i];
    assert_true(fabs(sqrt(ss / pw->size) - 0.02) < 0.002);
    /* the pooled [CLS] through the classifier: (B,2) */
    enum { B = 3, T = 5 };
    int32_t ids[B * T];
    for (int i = 0; i < B * T; i++) ids[i] = i % T ? 5 + i : 2;
    tape_reset(&tp);
    Batch batch = {B, T, ids, NULL, NULL};
    Forward f = {0};
    model_forward(&m, &tp, &batch, &f);
    Tensor *logits = model_seq_logits(&m, &tp, model_pooled(&m, &tp, f.hidden));
    assert_int_equal(logits->ndim, 2);
    assert_int_equal(logits->shape[0], B);
    assert_int_equal(logits->shape[1], 2);
    model_free(&pre);
    params_free(&pbp);
    model_free(&m);
    params_free(&pb);
}

/* fmlab's XLNet (FmlabXLNetLMHeadModel): BertForMaskedLM's encoder and MLM head under xlnet.*
 * and cls.predictions.*, without token types, plus xlnet.mask_emb (1, H), the query stream's
 * learned start, drawn as the other weights are and counted with the embeddings. */
static void test_xlnet_names(void **state)
{
    (void)state;
    assert_string_equal(model_kind_name[MODEL_XLNET], "FmlabXLNetLMHeadModel");
    assert_string_equal(model_type_name[MODEL_XLNET], "fmlab-xlnet");
    Model m, bert;
    ParamBlock pb, pbb;
    build(&m, &pb, MODEL_XLNET, 1);
    build(&bert, &pbb, MODEL_BERT_MLM, 1);
    assert_int_equal(m.cfg.type_vocab_size, 0);
    assert_null(m.type_emb);
    expect_shape(&m, "xlnet.mask_emb", 1, 64);
    expect_shape(&m, "xlnet.embeddings.word_embeddings.weight", 2000, 64);
    expect_shape(&m, "xlnet.embeddings.position_embeddings.weight", 512, 64);
    expect_shape(&m, "xlnet.encoder.layer.1.attention.self.query.weight", 64, 64);
    expect_shape(&m, "xlnet.encoder.layer.0.intermediate.dense.weight", 256, 64);
    expect_shape(&m, "cls.predictions.bias", 2000, 0);
    assert_null(named(&m, "xlnet.embeddings.token_type_embeddings.weight"));
    assert_null(named(&m, "cls.predictions.decoder.weight")); /* tied to the word embeddings */
    assert_true(m.mask_emb == named(&m, "xlnet.mask_emb"));
    /* every name of BertForMaskedLM, bert. read as xlnet., but the token types; and mask_emb */
    int matched = 0;
    for (int i = 0; i < bert.nnamed; i++) {
        const char *n = bert.named[i].name;
        char want[200];
        snprintf(want, sizeof want, "%s%s", strncmp(n, "bert.", 5) ? "" : "xlnet.", strncmp(n, "bert.", 5) ? n : n + 5);
        const Tensor *t = named(&m, want);
        if (strstr(n, "token_type")) {
            assert_null(t);
            continue;
        }
        if (!t) print_message("missing parameter %s\n", want);
        assert_non_null(t);
        assert_true(tensor_same_shape(t, bert.named[i].t));
        matched++;
    }
    assert_int_equal(m.nnamed, matched + 1);
    for (int i = 0; i < m.nnamed; i++)
        assert_true(!strncmp(m.named[i].name, "xlnet.", 6) || !strncmp(m.named[i].name, "cls.predictions.", 16));
    /* by hand: BertForMaskedLM's counts, the token types' 2·H out and mask_emb's H in */
    size_t V = 2000, H = 64, P = 512, I = 256, L = 2;
    ParamCounts pc = model_param_counts(&m);
    assert_int_equal(pc.embeddings, V * H + P * H + H);
    assert_int_equal(pc.attention, L * 4 * (H * H + H));
    assert_int_equal(pc.feed_forward, L * (H * I + I + I * H + H));
    assert_int_equal(pc.layer_norm, 2 * H + L * 4 * H + 2 * H);
    assert_int_equal(pc.heads, H * H + H + V);
    assert_int_equal(pc.total, pb.n);
    assert_int_equal(pb.n, pbb.n - 2 * H + H);
    /* mask_emb is drawn normal(0, 0.02) like the other weights: not the 0 of a bias, nor the
       LayerNorm's 1. Its 64 values' RMS is 0.02 within 40% (about 4.5 standard deviations of
       the RMS of 64 draws, whose relative spread is 1/√128) */
    double ss = 0;
    int zeros = 0;
    for (size_t i = 0; i < m.mask_emb->size; i++) ss += (double)m.mask_emb->data[i] * m.mask_emb->data[i],
                                                      zeros += m.mask_emb->data[i] == 0.0f;
    print_message("mask_emb: RMS %.4f, %d zeros of 64\n", sqrt(ss / 64), zeros);
    assert_int_equal(zeros, 0);
    assert_true(fabs(sqrt(ss / 64) - 0.02) < 0.008);
    /* the same seed draws the other weights as BERT's: the draws skip no tensor */
    assert_true(named(&m, "xlnet.embeddings.LayerNorm.weight")->data[3] == 1.0f);
    assert_true(named(&m, "cls.predictions.bias")->data[7] == 0.0f);
    for (int j = 0; j < 64; j++) assert_true(m.word_emb->data[j] == 0.0f); /* the [PAD] row */
    model_free(&bert);
    params_free(&pbb);
    model_free(&m);
    params_free(&pb);
}

/* A BertForSequenceClassification with its encoder frozen: one training step moves only
 * classifier.* (the frozen weights get no gradient and AdamW leaves them bit for bit), and
 * its grads.safetensors holds classifier.* alone. */
static void test_frozen_encoder(void **state)
{
    (void)state;
    Model m;
    ParamBlock pb;
    build(&m, &pb, MODEL_BERT_SEQ_CLS, 6);
    model_freeze(&m, "bert.");
    int frozen = 0;
    for (int i = 0; i < m.nnamed; i++) {
        bool bert = !strncmp(m.named[i].name, "bert.", 5);
        assert_true(m.named[i].t->requires_grad == !bert);
        frozen += bert;
    }
    assert_int_equal(frozen, m.nnamed - 2);
    float *before = malloc(pb.n * sizeof(float));
    assert_non_null(before);
    memcpy(before, pb.data, pb.n * sizeof(float));
    enum { B = 4, T = 6 };
    int32_t ids[B * T], labels[B] = {0, 1, 1, 0};
    for (int i = 0; i < B * T; i++) ids[i] = i % T ? 5 + (i * 13) % 1900 : 2;
    Batch batch = {B, T, ids, NULL, NULL};
    AdamW opt = adamw_default();
    for (int step = 0; step < 2; step++) {
        tape_reset(&tp);
        params_zero_grad(&pb);
        Forward f = {0};
        model_forward(&m, &tp, &batch, &f);
        Tensor *logits = model_seq_logits(&m, &tp, model_pooled(&m, &tp, f.hidden));
        tape_backward(&tp, op_cross_entropy(&tp, logits, labels));
        adamw_step(&opt, &pb, 1e-2f);
    }
    for (int i = 0; i < m.nnamed; i++) {
        const Tensor *t = m.named[i].t;
        size_t off = (size_t)(t->data - pb.data);
        bool same = !memcmp(t->data, before + off, t->size * sizeof(float));
        double g = 0;
        for (size_t j = 0; j < t->size; j++) g += fabs(t->grad[j]);
        if (t->requires_grad) assert_true(!same && g > 0);
        else assert_true(same && g == 0);
    }
    char path[160], err[512];
    snprintf(path, sizeof path, "%s/frozen_grads.safetensors", tmpdir);
    assert_int_equal(model_save_grads(&m, path, err, sizeof err), 0);
    SafeTensors st;
    assert_int_equal(st_load(&st, path, err, sizeof err), 0);
    assert_int_equal(st.count, 2);
    assert_non_null(st_find(&st, "classifier.weight"));
    assert_non_null(st_find(&st, "classifier.bias"));
    float gw[128];
    assert_int_equal(st_read_f32(&st, "classifier.weight", gw, 128, err, sizeof err), 0);
    assert_memory_equal(gw, m.seq_cls.w->grad, sizeof gw);
    st_free(&st);
    free(before);
    model_free(&m);
    params_free(&pb);
}

/* from_pretrained's rule: every parameter whose name and shape match is copied, the rest of
 * dst keeps its values; a name with another shape is refused with nothing copied. */
static void test_copy_matching(void **state)
{
    (void)state;
    Model cls, mlm, pre;
    ParamBlock pbc, pbm, pbp;
    build(&cls, &pbc, MODEL_BERT_SEQ_CLS, 7);
    build(&mlm, &pbm, MODEL_BERT_MLM, 8);
    build(&pre, &pbp, MODEL_BERT_PRETRAIN, 9);
    /* every value distinct from the classifier's, biases and LayerNorms included */
    for (size_t i = 0; i < pbm.n; i++) pbm.data[i] += 0.5f;
    for (size_t i = 0; i < pbp.n; i++) pbp.data[i] -= 0.5f;
    float *start = malloc(pbc.n * sizeof(float));
    assert_non_null(start);
    memcpy(start, pbc.data, pbc.n * sizeof(float));
    int nbert = 0;
    for (int i = 0; i < cls.nnamed; i++) nbert += !strncmp(cls.named[i].name, "bert.", 5);

    /* BertForMaskedLM has no pooler: all bert.* but bert.pooler.* */
    assert_int_equal(model_copy_matching(&cls, &mlm), nbert - 2);
    for (int i = 0; i < cls.nnamed; i++) {
        const char *n = cls.named[i].name;
        const Tensor *t = cls.named[i].t, *s = named(&mlm, n);
        bool copied = !strncmp(n, "bert.", 5) && strncmp(n, "bert.pooler.", 12);
        assert_true(copied == (s != NULL));
        if (copied) assert_memory_equal(t->data, s->data, t->size * sizeof(float));
        else assert_memory_equal(t->data, start + (t->data - pbc.data), t->size * sizeof(float));
    }
    /* BertForPreTraining: the pooler too; the classifier still as it was */
    assert_int_equal(model_copy_matching(&cls, &pre), nbert);
    for (int i = 0; i < cls.nnamed; i++) {
        const char *n = cls.named[i].name;
        const Tensor *t = cls.named[i].t, *s = named(&pre, n);
        if (!strncmp(n, "bert.", 5)) assert_memory_equal(t->data, s->data, t->size * sizeof(float));
        else assert_memory_equal(t->data, start + (t->data - pbc.data), t->size * sizeof(float));
    }
    /* the other way: a classifier's encoder into a BertForMaskedLM, whose MLM head keeps its values */
    assert_int_equal(model_copy_matching(&mlm, &cls), nbert - 2);

    /* same names, another width: -1, and dst untouched */
    ModelConfig wide = model_config_default(MODEL_BERT_MLM);
    wide.intermediate_size = 128;
    Model w;
    ParamBlock pbw;
    params_init(&pbw);
    model_init(&w, &wide, &pbw, "", NULL);
    assert_true(params_finalize(&pbw));
    memcpy(start, pbc.data, pbc.n * sizeof(float));
    assert_int_equal(model_copy_matching(&cls, &w), -1);
    assert_memory_equal(pbc.data, start, pbc.n * sizeof(float));
    model_free(&w);
    params_free(&pbw);
    free(start);
    model_free(&pre);
    params_free(&pbp);
    model_free(&mlm);
    params_free(&pbm);
    model_free(&cls);
    params_free(&pbc);
}

/* An ELECTRA discriminator's encoder into a BERT classifier: the names differ (electra.* and
 * bert.*), the places match; the pooler and classifier keep their values, and an encoder of
 * another shape is refused with nothing copied. */
static void test_copy_encoder(void **state)
{
    (void)state;
    Model cls, disc;
    ParamBlock pbc, pbd;
    build(&cls, &pbc, MODEL_BERT_SEQ_CLS, 7);
    build(&disc, &pbd, MODEL_ELECTRA_DISC, 8);
    for (size_t i = 0; i < pbd.n; i++) pbd.data[i] += 0.5f; /* biases and LayerNorms distinct too */
    float *start = malloc(pbc.n * sizeof(float));
    assert_non_null(start);
    memcpy(start, pbc.data, pbc.n * sizeof(float));
    assert_int_equal(model_copy_matching(&cls, &disc), 0); /* by name: nothing in common */

    int nencoder = 0;
    for (int i = 0; i < cls.nnamed; i++)
        nencoder += !strncmp(cls.named[i].name, "bert.embeddings.", 16) || !strncmp(cls.named[i].name, "bert.encoder.", 13);
    assert_int_equal(nencoder, 5 + 16 * cls.cfg.num_hidden_layers);
    assert_int_equal(model_copy_encoder(&cls, &disc), nencoder);
    for (int i = 0; i < cls.nnamed; i++) {
        const char *n = cls.named[i].name;
        const Tensor *t = cls.named[i].t;
        if (!strncmp(n, "bert.embeddings.", 16) || !strncmp(n, "bert.encoder.", 13)) {
            char other[200];
            snprintf(other, sizeof other, "electra.%s", n + 5);
            const Tensor *s = named(&disc, other);
            assert_non_null(s);
            assert_memory_equal(t->data, s->data, t->size * sizeof(float));
        } else {
            assert_memory_equal(t->data, start + (t->data - pbc.data), t->size * sizeof(float));
        }
    }

    /* another feed-forward width, or a generator of half the width: -1, dst untouched */
    memcpy(start, pbc.data, pbc.n * sizeof(float));
    ModelConfig narrow = model_config_default(MODEL_ELECTRA_DISC);
    narrow.intermediate_size = 128;
    Model w, gen;
    ParamBlock pbw, pbg;
    params_init(&pbw);
    model_init(&w, &narrow, &pbw, "", NULL);
    assert_true(params_finalize(&pbw));
    assert_int_equal(model_copy_encoder(&cls, &w), -1);
    assert_memory_equal(pbc.data, start, pbc.n * sizeof(float));
    build(&gen, &pbg, MODEL_ELECTRA_GEN, 9);
    assert_int_equal(model_copy_encoder(&cls, &gen), -1);
    assert_memory_equal(pbc.data, start, pbc.n * sizeof(float));
    /* the same shapes split into other heads compute something else */
    ModelConfig heads = model_config_default(MODEL_ELECTRA_DISC);
    heads.num_attention_heads = 2;
    Model h;
    ParamBlock pbh;
    params_init(&pbh);
    model_init(&h, &heads, &pbh, "", NULL);
    assert_true(params_finalize(&pbh));
    assert_int_equal(model_copy_encoder(&cls, &h), -1);
    assert_memory_equal(pbc.data, start, pbc.n * sizeof(float));

    model_free(&h);
    params_free(&pbh);
    model_free(&gen);
    params_free(&pbg);
    model_free(&w);
    params_free(&pbw);
    free(start);
    model_free(&disc);
    params_free(&pbd);
    model_free(&cls);
    params_free(&pbc);
}

static void test_electra_shares_embeddings(void **state)
{
    (void)state;
    ParamBlock pb;
    params_init(&pb);
    ModelConfig dc = model_config_default(MODEL_ELECTRA_DISC), gc = model_config_default(MODEL_ELECTRA_GEN);
    Model d, g;
    model_init(&d, &dc, &pb, "discriminator/", NULL);
    model_init(&g, &gc, &pb, "generator/", &d);
    assert_true(params_finalize(&pb));
    const char *shared[] = {"electra.embeddings.word_embeddings.weight", "electra.embeddings.position_embeddings.weight",
                            "electra.embeddings.token_type_embeddings.weight", "electra.embeddings.LayerNorm.weight",
                            "electra.embeddings.LayerNorm.bias"};
    for (int i = 0; i < 5; i++) assert_ptr_equal(named(&g, shared[i]), named(&d, shared[i]));
    /* the generator is smaller and projects the shared 64-wide embeddings to its width */
    expect_shape(&g, "electra.embeddings_project.weight", 32, 64);
    expect_shape(&g, "generator_predictions.dense.weight", 64, 32);
    expect_shape(&d, "discriminator_predictions.dense_prediction.weight", 1, 64);
    assert_null(named(&d, "electra.embeddings_project.weight"));
    assert_non_null(params_find(&pb, "generator/electra.encoder.layer.0.attention.self.query.weight"));
    assert_null(params_find(&pb, "generator/electra.embeddings.word_embeddings.weight")); /* not declared twice */
    model_free(&g);
    model_free(&d);
    params_free(&pb);
}

static void test_attention_masks(void **state)
{
    (void)state;
    enum { B = 2, T = 6 };
    int32_t ids[B * T];
    uint8_t mask[B * T];
    for (int i = 0; i < B * T; i++) {
        ids[i] = 5 + i;
        mask[i] = !(i / T == 1 && i % T >= 4); /* row 1 ends in two [PAD] */
    }
    for (int i = 0; i < B * T; i++) if (!mask[i]) ids[i] = 0; /* [PAD] */
    ModelKind kinds[2] = {MODEL_BERT_MLM, MODEL_GPT2};
    for (int k = 0; k < 2; k++) {
        Model m;
        ParamBlock pb;
        build(&m, &pb, kinds[k], 2);
        tape_reset(&tp);
        Batch b = {B, T, ids, NULL, mask};
        Forward f = {0};
        model_forward(&m, &tp, &b, &f);
        for (int l = 0; l < 2; l++)
            for (int bb = 0; bb < B; bb++)
                for (int h = 0; h < 4; h++)
                    for (int i = 0; i < T; i++) {
                        const float *row = f.attn[l] + (((size_t)bb * 4 + h) * T + i) * T;
                        double sum = 0;
                        for (int j = 0; j < T; j++) {
                            bool allowed = mask[bb * T + j] && (kinds[k] != MODEL_GPT2 || j <= i);
                            if (!allowed) assert_true(row[j] == 0.0f);
                            else assert_true(row[j] > 0.0f);
                            sum += row[j];
                        }
                        assert_true(fabs(sum - 1.0) < 1e-5);
                    }
        model_free(&m);
        params_free(&pb);
    }
}

/* A lesson's own forward from the public blocks: the embeddings module, then the layers
 * with an explicit (B,T,T) mask built by hand from the padding (and, for GPT-2, causality).
 * It must give model_forward's hidden states, attention and parameter gradients to the bit. */
static void test_blocks_compose_to_model(void **state)
{
    (void)state;
    enum { B = 2, T = 7 };
    int32_t ids[B * T], types[B * T];
    uint8_t pad[B * T], allow[B * T * T];
    for (int i = 0; i < B * T; i++) {
        pad[i] = !(i / T == 1 && i % T >= 5);
        ids[i] = pad[i] ? 5 + (i * 7) % 50 : 0;
        types[i] = i % T >= 3;
    }
    ModelKind kinds[] = {MODEL_BERT_MLM, MODEL_GPT2, MODEL_ALBERT, MODEL_DISTILBERT, MODEL_ELECTRA_GEN};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        Model m;
        ParamBlock pb;
        build(&m, &pb, kinds[k], 4);
        bool gpt2 = kinds[k] == MODEL_GPT2;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++) allow[(b * T + i) * T + j] = pad[b * T + j] && (!gpt2 || j <= i);
        Batch batch = {B, T, ids, m.type_emb ? types : NULL, pad};
        int L = m.cfg.num_hidden_layers, NH = m.cfg.num_attention_heads;
        size_t nh = (size_t)B * T * m.cfg.hidden_size, na = (size_t)B * NH * T * T;
        float *hidden[2], *attn[2], *grad[2];
        for (int variant = 0; variant < 2; variant++) {
            tape_reset(&tp);
            params_zero_grad(&pb);
            Forward f = {0};
            float *probs[4];
            assert_true(L <= 4);
            Tensor *x;
            if (variant == 0) {
                model_forward(&m, &tp, &batch, &f);
                x = f.hidden;
            } else {
                Embeddings e = model_embeddings(&m);
                x = nn_embeddings(&tp, &e, &batch);
                for (int l = 0; l < L; l++) {
                    const Block *bl = &m.blocks[m.nblocks == 1 ? 0 : l];
                    x = gpt2 ? nn_decoder_layer(&tp, bl, x, attn_mask_full(allow), &probs[l], NULL)
                             : nn_encoder_layer(&tp, bl, x, attn_mask_full(allow), &probs[l], NULL);
                }
                if (gpt2) x = nn_layernorm(&tp, &m.ln_f, x);
                f.attn = probs;
            }
            tape_backward(&tp, op_sum(&tp, op_mul(&tp, x, x)));
            hidden[variant] = malloc(nh * sizeof(float));
            attn[variant] = malloc((size_t)L * na * sizeof(float));
            grad[variant] = malloc(pb.n * sizeof(float));
            memcpy(hidden[variant], x->data, nh * sizeof(float));
            for (int l = 0; l < L; l++) memcpy(attn[variant] + l * na, f.attn[l], na * sizeof(float));
            memcpy(grad[variant], pb.grad, pb.n * sizeof(float));
        }
        assert_memory_equal(hidden[0], hidden[1], nh * sizeof(float));
        assert_memory_equal(attn[0], attn[1], (size_t)L * na * sizeof(float));
        assert_memory_equal(grad[0], grad[1], pb.n * sizeof(float));
        double norm = 0;
        for (size_t i = 0; i < pb.n; i++) norm += fabs(grad[0][i]);
        assert_true(norm > 1e-3);
        for (int v = 0; v < 2; v++) {
            free(hidden[v]);
            free(attn[v]);
            free(grad[v]);
        }
        model_free(&m);
        params_free(&pb);
    }
}

static void test_save_load(void **state)
{
    (void)state;
    ModelKind kinds[] = {MODEL_BERT_MLM, MODEL_BERT_PRETRAIN, MODEL_GPT2, MODEL_ALBERT, MODEL_DISTILBERT,
                         MODEL_ELECTRA_DISC, MODEL_BERT_SEQ_CLS, MODEL_XLNET};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        Model m, m2;
        ParamBlock pb, pb2;
        build(&m, &pb, kinds[k], 3);
        char dir[128], err[512];
        snprintf(dir, sizeof dir, "%s/%s%zu", tmpdir, model_type_name[kinds[k]], k);
        mkdir(dir, 0755);
        assert_int_equal(model_save(&m, dir, err, sizeof err), 0);
        ModelConfig c;
        assert_int_equal(model_config_load(&c, dir, err, sizeof err), 0);
        assert_int_equal(c.kind, kinds[k]);
        assert_memory_equal(&c, &m.cfg, sizeof c);
        params_init(&pb2);
        model_init(&m2, &c, &pb2, "", NULL);
        assert_true(params_finalize(&pb2));
        assert_int_equal(model_load_weights(&m2, dir, err, sizeof err), 0);
        assert_memory_equal(pb2.data, pb.data, pb.n * sizeof(float));
        /* the config speaks Hugging Face for its class */
        char path[256], buf[4096] = {0};
        snprintf(path, sizeof path, "%s/config.json", dir);
        FILE *f = fopen(path, "r");
        assert_true(fread(buf, 1, sizeof buf - 1, f) > 0);
        fclose(f);
        assert_non_null(strstr(buf, "\"model_type\""));
        assert_non_null(strstr(buf, model_kind_name[kinds[k]]));
        assert_non_null(strstr(buf, kinds[k] == MODEL_GPT2 ? "\"n_embd\"" : kinds[k] == MODEL_DISTILBERT ? "\"dim\"" : "\"hidden_size\""));
        assert_non_null(strstr(buf, "\"pad_token_id\""));
        if (kinds[k] == MODEL_XLNET) {
            /* no token types, and the weights file holds mask_emb (the round trip above read it back) */
            assert_non_null(strstr(buf, "\"type_vocab_size\":\t0"));
            assert_non_null(strstr(buf, "\"fmlab-xlnet\""));
            assert_non_null(named(&m2, "xlnet.mask_emb"));
            assert_memory_equal(m2.mask_emb->data, m.mask_emb->data, 64 * sizeof(float));
            assert_true(m2.mask_emb->data - pb2.data == m.mask_emb->data - pb.data);
        }
        model_free(&m2);
        params_free(&pb2);
        /* a model of another size refuses these weights, naming the tensor */
        if (kinds[k] == MODEL_BERT_MLM) {
            ModelConfig small = c;
            small.intermediate_size = 128;
            params_init(&pb2);
            model_init(&m2, &small, &pb2, "", NULL);
            assert_true(params_finalize(&pb2));
            assert_int_equal(model_load_weights(&m2, dir, err, sizeof err), -1);
            assert_non_null(strstr(err, "intermediate.dense.weight"));
            model_free(&m2);
            params_free(&pb2);
            /* a weight that is not a number is damage, named, not a model to train on */
            m.named[0].t->data[1] = NAN;
            assert_int_equal(model_save(&m, dir, err, sizeof err), 0);
            params_init(&pb2);
            model_init(&m2, &c, &pb2, "", NULL);
            assert_true(params_finalize(&pb2));
            assert_int_equal(model_load_weights(&m2, dir, err, sizeof err), -1);
            assert_non_null(strstr(err, m.named[0].name));
            assert_non_null(strstr(err, "not finite"));
            model_free(&m2);
            params_free(&pb2);
        }
        model_free(&m);
        params_free(&pb);
    }
    char err[512];
    ModelConfig c;
    assert_int_equal(model_config_load(&c, "/nonexistent", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/config.json"));
    char dir[128], path[160];
    snprintf(dir, sizeof dir, "%s/bad", tmpdir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"architectures\": [\"BertForMaskedLM\"], \"vocab_size\": 100, \"hidden_size\": 30, "
          "\"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"intermediate_size\": 8, "
          "\"max_position_embeddings\": 16}", f);
    fclose(f);
    assert_int_equal(model_config_load(&c, dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a multiple"));
}

/* Writes text as <tmpdir>/<name>/config.json and loads it: 0 or -1 with err. */
static int load_config_text(const char *name, const char *text, ModelConfig *c, char *err, size_t errlen)
{
    char dir[128], path[160];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return model_config_load(c, dir, err, errlen);
}

/* The classifier's config.json is BertConfig as BertForSequenceClassification.save_pretrained
 * writes it, with num_labels too; it reads back to the same config, and a config with another
 * label count or another loss is refused, saying why. */
static void test_seq_cls_config(void **state)
{
    (void)state;
    Model m;
    ParamBlock pb;
    build(&m, &pb, MODEL_BERT_SEQ_CLS, 5);
    char dir[128], path[160], err[512];
    snprintf(dir, sizeof dir, "%s/seq_cls", tmpdir);
    mkdir(dir, 0755);
    assert_int_equal(model_save(&m, dir, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[8192] = {0};
    assert_true(fread(buf, 1, sizeof buf - 1, f) > 0);
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "model_type")->valuestring, "bert");
    const cJSON *arch = cJSON_GetObjectItem(j, "architectures");
    assert_int_equal(cJSON_GetArraySize(arch), 1);
    assert_string_equal(cJSON_GetArrayItem(arch, 0)->valuestring, "BertForSequenceClassification");
    assert_true(cJSON_GetObjectItem(j, "num_labels")->valuedouble == 2);
    const cJSON *id2label = cJSON_GetObjectItem(j, "id2label"), *label2id = cJSON_GetObjectItem(j, "label2id");
    assert_int_equal(cJSON_GetArraySize(id2label), 2);
    assert_string_equal(cJSON_GetObjectItem(id2label, "0")->valuestring, "ham");
    assert_string_equal(cJSON_GetObjectItem(id2label, "1")->valuestring, "spam");
    assert_int_equal(cJSON_GetArraySize(label2id), 2);
    assert_true(cJSON_GetObjectItem(label2id, "ham")->valuedouble == 0);
    assert_true(cJSON_GetObjectItem(label2id, "spam")->valuedouble == 1);
    assert_string_equal(cJSON_GetObjectItem(j, "problem_type")->valuestring, "single_label_classification");
    assert_int_equal(cJSON_GetObjectItem(j, "hidden_size")->valuedouble, 64);
    ModelConfig c;
    assert_int_equal(model_config_load(&c, dir, err, sizeof err), 0);
    assert_memory_equal(&c, &m.cfg, sizeof c);

    /* the same file with 3 labels (num_labels, or id2label only as HF writes it), or with
       another loss: refused, naming the field */
    const struct { const char *key; const char *value; const char *says; } bad[] = {
        {"num_labels", "3", "num_labels is 3"},
        {"num_labels", "2.5", "num_labels"},
        {"id2label", "{\"0\": \"a\", \"1\": \"b\", \"2\": \"c\"}", "id2label"},
        {"problem_type", "\"regression\"", "problem_type"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *k = cJSON_Duplicate(j, true);
        if (!strcmp(bad[i].key, "id2label")) cJSON_DeleteItemFromObject(k, "num_labels");
        cJSON_ReplaceItemInObject(k, bad[i].key, cJSON_Parse(bad[i].value));
        char *text = cJSON_Print(k);
        char name[32];
        snprintf(name, sizeof name, "labels%zu", i);
        assert_int_equal(load_config_text(name, text, &c, err, sizeof err), -1);
        if (!strstr(err, bad[i].says)) print_message("%s\n", err);
        assert_non_null(strstr(err, bad[i].says));
        free(text);
        cJSON_Delete(k);
    }
    /* as HF writes it: no num_labels, and null classifier_dropout and problem_type */
    cJSON_DeleteItemFromObject(j, "num_labels");
    cJSON_ReplaceItemInObject(j, "problem_type", cJSON_CreateNull());
    char *text = cJSON_Print(j);
    assert_int_equal(load_config_text("hf_labels", text, &c, err, sizeof err), 0);
    assert_memory_equal(&c, &m.cfg, sizeof c);
    free(text);
    cJSON_Delete(j);
    model_free(&m);
    params_free(&pb);
}

#define BERT_HEAD "{\"architectures\": [\"BertForMaskedLM\"], \"vocab_size\": 100, \"num_hidden_layers\": 1, " \
                  "\"num_attention_heads\": 4, \"intermediate_size\": 8, \"max_position_embeddings\": 16, "

/* config.json's values are used as written or refused: never truncated (64.5), clamped
 * (3e9 into an int), rounded to infinity (1e300 into a float) or overflowing on the way (GPT-2's
 * 4·n_embd); a long file is read whole; a folder path too long for the buffer is an error,
 * not another file. */
static void test_config_values(void **state)
{
    (void)state;
    ModelConfig c;
    char err[512];
    assert_int_equal(load_config_text("frac", BERT_HEAD "\"hidden_size\": 64.5}", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "\"hidden_size\""));
    assert_int_equal(load_config_text("big", BERT_HEAD "\"hidden_size\": 3e9}", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "\"hidden_size\""));
    assert_int_equal(load_config_text("str", BERT_HEAD "\"hidden_size\": \"64\"}", &c, err, sizeof err), -1);
    assert_int_equal(load_config_text("eps", BERT_HEAD "\"hidden_size\": 64, \"layer_norm_eps\": 1e300}", &c, err,
                                      sizeof err), -1);
    assert_non_null(strstr(err, "layer_norm_eps"));
    assert_int_equal(load_config_text("huge", BERT_HEAD "\"hidden_size\": 2000000}", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "at most"));
    assert_int_equal(load_config_text("matrix", "{\"architectures\": [\"BertForMaskedLM\"], \"vocab_size\": 1000000, "
                                      "\"num_hidden_layers\": 1, \"num_attention_heads\": 1, \"intermediate_size\": 8, "
                                      "\"max_position_embeddings\": 16, \"hidden_size\": 4096}", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "weight matrix"));
    assert_int_equal(load_config_text("gpt2", "{\"architectures\": [\"GPT2LMHeadModel\"], \"vocab_size\": 100, "
                                      "\"n_layer\": 1, \"n_head\": 1, \"n_positions\": 16, \"n_embd\": 1000000000}",
                                      &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "at most"));
    assert_int_equal(load_config_text("ok", BERT_HEAD "\"hidden_size\": 64.0, \"pad_token_id\": null}", &c, err,
                                      sizeof err), 0);
    assert_int_equal(c.hidden_size, 64);

    /* a key after 64 KiB of spaces is read */
    size_t pad = 70000;
    char *text = malloc(pad + 256);
    assert_non_null(text);
    strcpy(text, BERT_HEAD "\"hidden_size\": 32,");
    size_t n = strlen(text);
    memset(text + n, ' ', pad);
    strcpy(text + n + pad, "\"type_vocab_size\": 5}");
    assert_int_equal(load_config_text("long", text, &c, err, sizeof err), 0);
    assert_int_equal(c.type_vocab_size, 5);
    free(text);

    /* a folder whose path does not fit */
    char dir[5000];
    memset(dir, 'a', sizeof dir - 1);
    dir[0] = '/';
    dir[sizeof dir - 1] = 0;
    assert_int_equal(model_config_load(&c, dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than"));
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fmlab_models_XXXXXX");
    return mkdtemp(tmpdir) && tape_init(&tp, 64u << 20, 4096) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tape_free(&tp);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_counts),
        cmocka_unit_test(test_seq_cls_names),
        cmocka_unit_test(test_xlnet_names),
        cmocka_unit_test(test_frozen_encoder),
        cmocka_unit_test(test_copy_matching),
        cmocka_unit_test(test_copy_encoder),
        cmocka_unit_test(test_electra_shares_embeddings),
        cmocka_unit_test(test_attention_masks),
        cmocka_unit_test(test_blocks_compose_to_model),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_config_values),
        cmocka_unit_test(test_seq_cls_config),
    };
    return cmocka_run_group_tests_name("models", tests, setup, teardown);
}
