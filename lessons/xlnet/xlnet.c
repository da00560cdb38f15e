/* xlnet.c — fmlab-xlnet: XLNet's permutation language modelling with two-stream attention,
 * trained live on Moby-Dick beside a BERT that predicts the same positions.
 *
 * What is new here: BERT (fmlab-mlm) corrupts its input with [MASK], which never appears when
 * the model is used, and predicts the masked tokens independently of each other; GPT
 * (fmlab-gpt) predicts every token from the ones to its left only. XLNet (Yang et al. 2019,
 * §2.2) keeps GPT's autoregressive product, log p(x) = Σ_t log p(x_{z_t} | x_{z_<t}), but over
 * a factorization order z drawn at random for every sequence: the text stays in its place
 * (positions are not moved), only the attention masks follow the order. Over many orders,
 * every token learns from context on both sides, and nothing is corrupted.
 *
 * Predicting x_{z_t} needs its position but must not see its token, while the later steps
 * need its token: two streams through the same weights (§2.3). The content stream h_i sees
 * positions of rank <= rank(i), itself included, and starts from the word embedding; the
 * query stream g_i sees rank < rank(i), starts from a learned vector w plus the position, and
 * makes the prediction. Only the last T/K positions of each order are predicted (§2.3,
 * partial prediction, K = 6): the first ones have too little context to learn much from.
 *
 * Left out, and said so in the notes: the relative positional encodings and the segment
 * recurrence XLNet takes from Transformer-XL (§2.4-2.5); this model has BERT's absolute
 * positions and reads one window at a time.
 *
 * How to run: fmlab-xlnet (window); fmlab-xlnet --headless --steps 300 --export out/
 * The sections below are in the same order in every lesson: settings, data and the objective,
 * model, loss, evaluation, export tables, probe, description. */
#define _POSIX_C_SOURCE 200809L
#include "lessons/xlnet/lesson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer.h"

/* ------------------------------------------------------------------ settings ---- */

static const KeyDef keys[] = {
    /* model (the XLNet and the BERT beside it take the same; BERT's config names) */
    {"vocab_size", 2000, 100, 30000, true, "WordPiece vocabulary size (2000 is shipped; others are learned at start)", NULL},
    {"hidden_size", 64, 8, 1024, true, "width of every token's vector (both streams)", NULL},
    {"num_hidden_layers", 2, 1, 24, true, "layers, each run by both streams with the same weights", NULL},
    {"num_attention_heads", 4, 1, 32, true, "heads per layer (must divide hidden_size)", NULL},
    {"intermediate_size", 256, 8, 8192, true, "feed-forward width", NULL},
    /* lesson */
    {"seq_len", 18, 4, 512, true, "tokens per window of running text", NULL},
    {"num_predict", 3, 1, 512, true,
     "positions predicted per window: the last num_predict of each factorization order (at most seq_len; the "
     "paper's K, the share 1/K predicted, is seq_len / num_predict: 18 / 3 = 6)", NULL},
    {"mask_replace_prob", 0.8, 0, 1, false,
     "the BERT beside it, training: of its targets, replaced by [MASK] (held-out: every one)", NULL},
    {"random_replace_prob", 0.1, 0, 1, false, "the BERT beside it, training: of its targets, replaced by a random token",
     NULL},
    /* what the window shows (training does not depend on them) */
    {"order_step", 0, 0, 512, true,
     "window: the step t of the factorization order highlighted, what predicting z_t may see (0: none)", NULL},
    {"mask_order", 0, 0, 1, true, "window: the masks' rows and columns by position (0) or in the factorization order (1)",
     NULL},
    KIT_TRAINER_KEYS(100, 25),
};

#define KEY(r, name) kit_value(r, name)

/* ------------------------------------------------------ data and the objective ---- */

void xlnet_sample_order(Rng *r, int T, int32_t *order)
{
    for (int i = 0; i < T; i++) order[i] = i;
    for (int i = T - 1; i > 0; i--) { /* Fisher–Yates: every permutation equally likely */
        int j = (int)rng_below(r, (uint32_t)i + 1);
        int32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

void xlnet_masks(const int32_t *order, int T, int32_t *rank, uint8_t *content, uint8_t *query, uint8_t *perm)
{
    int32_t local[512], *rk = rank ? rank : T <= 512 ? local : malloc((size_t)T * sizeof *rk);
    ENGINE_CHECK(rk, "out of memory");
    for (int k = 0; k < T; k++) rk[order[k]] = k;
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
            size_t at = (size_t)i * T + j;
            if (content) content[at] = rk[j] <= rk[i];   /* z_<=t: itself included */
            if (query) query[at] = rk[j] < rk[i];        /* z_<t: its position, not its token */
            if (perm) perm[at] = !(rk[j] < rk[i]);       /* Hugging Face: 1 = may not attend */
        }
    if (rk != rank && rk != local) free(rk);
}

void xlnet_targets(const int32_t *order, const int32_t *ids, int T, int K, float *target_mapping, int32_t *labels)
{
    for (int k = 0; k < K; k++) {
        int pos = order[T - K + k];
        if (target_mapping) {
            memset(target_mapping + (size_t)k * T, 0, (size_t)T * sizeof *target_mapping);
            target_mapping[(size_t)k * T + pos] = 1;
        }
        if (labels) labels[k] = ids[pos];
    }
}

static int batch_alloc(XlnetBatch *b, int B, int T)
{
    size_t bt = (size_t)B * T, btt = bt * T;
    *b = (XlnetBatch){.B = B, .T = T, .K = 1};
    b->ids = calloc(bt, sizeof *b->ids);
    b->order = calloc(bt, sizeof *b->order);
    b->rank = calloc(bt, sizeof *b->rank);
    b->content = calloc(btt, 1);
    b->query = calloc(btt, 1);
    b->perm = calloc(btt, 1);
    b->target_mapping = calloc(btt, sizeof *b->target_mapping); /* K <= T */
    b->labels = calloc(bt, sizeof *b->labels);
    b->rows = calloc(bt, sizeof *b->rows);
    b->mlm_ids = calloc(bt, sizeof *b->mlm_ids);
    return b->ids && b->order && b->rank && b->content && b->query && b->perm && b->target_mapping && b->labels &&
                   b->rows && b->mlm_ids
               ? 0
               : -1;
}

static void batch_free(XlnetBatch *b)
{
    free(b->ids), free(b->order), free(b->rank), free(b->content), free(b->query), free(b->perm);
    free(b->target_mapping), free(b->labels), free(b->rows), free(b->mlm_ids);
    *b = (XlnetBatch){0};
}

/* Every row's order, masks and targets from its ids, then the yardstick's input: the same
 * targets under BERT's corruption (of each, mask_p [MASK], random_p a random non-special token,
 * the rest kept; §3.1 of the BERT paper), or every target a [MASK] (mask_p 1: the held-out
 * set). The draws come from r: each row's order, then its targets' corruption. */
void xlnet_apply_objective(Rng *r, XlnetBatch *b, double mask_p, double random_p, int V)
{
    int T = b->T, K = b->K;
    for (int s = 0; s < b->B; s++) {
        size_t o = (size_t)s * T, oo = o * T;
        int32_t *order = b->order + o;
        xlnet_sample_order(r, T, order);
        xlnet_masks(order, T, b->rank + o, b->content + oo, b->query + oo, b->perm + oo);
        xlnet_targets(order, b->ids + o, T, K, b->target_mapping + (size_t)s * K * T, b->labels + (size_t)s * K);
        memcpy(b->mlm_ids + o, b->ids + o, (size_t)T * sizeof *b->ids);
        for (int k = 0; k < K; k++) {
            int pos = order[T - K + k];
            b->rows[s * K + k] = (int32_t)(o + pos);
            double u = mask_p >= 1 ? 0 : rng_uniform_double(r);
            if (u < mask_p) b->mlm_ids[o + pos] = TOK_MASK;
            else if (u < mask_p + random_p) b->mlm_ids[o + pos] = (int32_t)rng_range(r, TOK_NUM_SPECIAL, V - 1);
        }
    }
}

/* B windows of running text (no [CLS] or [SEP]: nothing is added or corrupted), then the
 * objective; training batches give the BERT its corruption, the held-out set all [MASK]. */
static void draw_batch(const Run *r, const Corpus *c, Rng *rng, bool train, XlnetBatch *b)
{
    b->K = (int)KEY(r, "num_predict");
    corpus_windows(c, rng, b->B, b->T, false, b->ids);
    double mp = train ? KEY(r, "mask_replace_prob") : 1, rp = train ? KEY(r, "random_replace_prob") : 0;
    xlnet_apply_objective(rng, b, mp, rp, r->vocab->size);
}

static int num_predict(const Run *r) { return (int)KEY(r, "num_predict"); }

static void next_batch(Run *r)
{
    Xlnet *m = KIT_SELF(r, Xlnet);
    draw_batch(r, &m->train, &r->rng, true, &m->batch);
}

void xlnet_unigram_lines(const Xlnet *m, double *all, double *first, double *later)
{
    double sum[2] = {0};
    long n[2] = {0};
    for (int i = 0; i < XL_EVAL_BATCHES; i++) {
        const XlnetBatch *b = &m->eval_batches[i];
        for (int j = 0; j < b->B * b->K; j++) {
            int later_one = j % b->K != 0;
            sum[later_one] += m->unigram_nll[b->labels[j]];
            n[later_one]++;
        }
    }
    *all = n[0] + n[1] ? (sum[0] + sum[1]) / (double)(n[0] + n[1]) : NAN;
    *first = n[0] ? sum[0] / (double)n[0] : NAN;
    *later = n[1] ? sum[1] / (double)n[1] : NAN;
}

/* a fixed held-out set, the same for every run with this seed and num_predict: windows,
   orders and targets; and the unigram lines of its first and later targets */
static void draw_eval_set(Run *r)
{
    Xlnet *m = KIT_SELF(r, Xlnet);
    Rng er;
    rng_seed(&er, r->opt.seed, 2);
    for (int i = 0; i < XL_EVAL_BATCHES; i++) draw_batch(r, &m->eval, &er, false, &m->eval_batches[i]);
    double all;
    xlnet_unigram_lines(m, &all, &r->refs[REF_UNIGRAM_FIRST], &r->refs[REF_UNIGRAM_LATER]);
}

/* num_predict in the window: the held-out set is drawn again with that many targets. The
 * BERT's two replacement shares give way to each other. */
static void on_setting(Run *r, int key)
{
    const LessonInfo *info = &r->lesson->info;
    int im = runtime_key_index(info, "mask_replace_prob"), ir = runtime_key_index(info, "random_replace_prob");
    double *v = r->opt.value;
    if (key == im && v[im] + v[ir] > 1) v[ir] = 1 - v[im];
    if (key == ir && v[im] + v[ir] > 1) v[im] = 1 - v[ir];
    int ik = runtime_key_index(info, "num_predict"), io = runtime_key_index(info, "order_step");
    if (v[ik] > r->T) v[ik] = r->T; /* a window has only seq_len positions */
    if (v[io] > r->T) v[io] = 0;    /* the window's step through the order goes round: past the last, none */
    if (KIT_SELF(r, Xlnet)->eval_batches[0].K != num_predict(r)) draw_eval_set(r);
}

/* ------------------------------------------------------------------- model ---- */

static int init(Run *r)
{
    Xlnet *m = KIT_SELF(r, Xlnet);
    const LessonInfo *info = &r->lesson->info;
    ModelConfig xcfg, bcfg;
    int rc;
    if ((rc = kit_model_config(r, MODEL_XLNET, &xcfg)) >= 0 || (rc = kit_model_config(r, MODEL_BERT_MLM, &bcfg)) >= 0)
        return rc;
    int K = num_predict(r);
    if (K > r->T)
        return runtime_usage_error(info, "num_predict %d is more than seq_len %d: a sequence has only that many positions",
                                   K, r->T);
    if (KEY(r, "mask_replace_prob") + KEY(r, "random_replace_prob") > 1 + 1e-9)
        return runtime_usage_error(info, "mask_replace_prob + random_replace_prob is %g; it cannot exceed 1",
                                   KEY(r, "mask_replace_prob") + KEY(r, "random_replace_prob"));
    if ((rc = kit_load_moby_dick(r, &m->vocab, &m->train, &m->eval)) >= 0) return rc;
    xcfg.vocab_size = bcfg.vocab_size = m->vocab.size;
    r->diverge_above = 3.0f * logf((float)m->vocab.size); /* far worse than a uniform guess */
    if (corpus_unigram_baseline(&m->train, m->vocab.size, &r->refs[REF_UNIGRAM_ENTROPY], &r->refs[REF_UNIGRAM_ACCURACY]))
        return runtime_usage_error(info, "out of memory");

    /* −log p of every token under the training text's frequencies, for the unigram lines */
    int V = m->vocab.size;
    int64_t *counts = calloc((size_t)V, sizeof *counts);
    if (!counts || !(m->unigram_nll = malloc((size_t)V * sizeof *m->unigram_nll))) {
        free(counts);
        return runtime_usage_error(info, "out of memory");
    }
    corpus_unigram(&m->train, V, counts);
    for (int v = 0; v < V; v++)
        m->unigram_nll[v] = (float)-log(((double)counts[v] + 0.5) / ((double)m->train.nids + 0.5 * V));
    free(counts);

    model_init(kit_model(r, XL_XLNET), &xcfg, kit_block(r, XL_XLNET), "", NULL);
    model_init(kit_model(r, XL_BERT), &bcfg, kit_block(r, XL_BERT), "", NULL);

    /* two streams through every layer and the BERT beside them, for the step and, on top of
       it, a held-out forward of both */
    r->arena_bytes = kit_arena_bytes(r, &xcfg) - kit_forward_bytes(&xcfg, r->B, r->T) +
                     2 * (2 * kit_forward_bytes(&xcfg, r->B, r->T) + kit_forward_bytes(&bcfg, r->B, r->T));
    size_t bk = (size_t)r->B * r->T;
    if (batch_alloc(&m->batch, r->B, r->T)) return runtime_usage_error(info, "out of memory");
    for (int i = 0; i < XL_EVAL_BATCHES; i++)
        if (batch_alloc(&m->eval_batches[i], r->B, r->T)) return runtime_usage_error(info, "out of memory");
    for (int i = 0; i < XL_MODELS; i++)
        if (!(m->row_loss[i] = calloc(bk, sizeof(float))) || !(m->row_top[i] = calloc(bk, sizeof(int32_t))))
            return runtime_usage_error(info, "out of memory");
    draw_eval_set(r);
    return -1;
}

static void lesson_free(Run *r)
{
    Xlnet *m = KIT_SELF(r, Xlnet);
    batch_free(&m->batch);
    for (int i = 0; i < XL_EVAL_BATCHES; i++) batch_free(&m->eval_batches[i]);
    for (int i = 0; i < XL_MODELS; i++) free(m->row_loss[i]), free(m->row_top[i]);
    free(m->unigram_nll);
    corpus_free(&m->train);
    corpus_free(&m->eval);
    vocab_free(&m->vocab);
}

/* The masks the window draws beside each stream's attention; the BERT sees everything. */
static bool allowed(const Run *r, int model, int stream, int seq, uint8_t *allow)
{
    if (model != XL_XLNET) return false;
    const XlnetBatch *b = &KIT_SELF(r, Xlnet)->batch;
    size_t n = (size_t)b->T * b->T;
    memcpy(allow, (stream == XL_QUERY ? b->query : b->content) + (size_t)seq * n, n);
    return true;
}

/* ---------------------------------------------------------------------- loss ---- */

Tensor *xlnet_query_logits(Run *r, Model *m, const XlnetBatch *b, float **content_attn, float **query_attn)
{
    Tape *tp = &r->tape;
    int B = b->B, T = b->T;
    Batch in = {B, T, b->ids, NULL, NULL};
    Embeddings e = model_embeddings(m);
    /* the content stream: h_i = LN(word(x_i) + position(i)), BERT's embeddings */
    Tensor *h = nn_embeddings(tp, &e, &in);
    /* the query stream: g_i = LN(w + position(i)): where it is, not what is there */
    int32_t *zero = arena_alloc(&tp->arena, (size_t)B * T * sizeof *zero), *pos = arena_alloc(&tp->arena, (size_t)T * sizeof *pos);
    memset(zero, 0, (size_t)B * T * sizeof *zero);
    for (int t = 0; t < T; t++) pos[t] = t;
    int bt[2] = {B, T}, t1[1] = {T};
    Tensor *g = op_add(tp, op_embedding(tp, m->mask_emb, zero, 2, bt, -1), op_embedding(tp, m->pos_emb, pos, 1, t1, -1));
    g = nn_layernorm(tp, &e.ln, g);
    for (int l = 0; l < m->cfg.num_hidden_layers; l++) {
        /* g's queries read h's keys and values under the query mask, through the same weights */
        QueryStream qs = {.g = g, .mask = attn_mask_full(b->query)};
        float *ca;
        h = nn_encoder_layer(tp, &m->blocks[l], h, attn_mask_full(b->content), &ca, &qs);
        g = qs.out;
        if (content_attn) content_attn[l] = ca;
        if (query_attn) query_attn[l] = qs.attn;
    }
    /* the prediction of x_{z_t} comes from g at z_t: the K targets of each row */
    return model_lm_logits(m, tp, op_gather_rows(tp, g, b->rows, B * b->K));
}

void xlnet_forward(Run *r, const XlnetBatch *b, XlnetPass *p)
{
    Tape *tp = &r->tape;
    Model *xl = kit_model(r, XL_XLNET), *bert = kit_model(r, XL_BERT);
    int L = xl->cfg.num_hidden_layers;
    *p = (XlnetPass){0};
    p->content_attn = arena_alloc(&tp->arena, (size_t)L * sizeof(float *));
    p->query_attn = arena_alloc(&tp->arena, (size_t)L * sizeof(float *));
    p->logits = xlnet_query_logits(r, xl, b, p->content_attn, p->query_attn);
    p->plm = op_cross_entropy(tp, p->logits, b->labels);
    /* the yardstick: the same windows, [MASK] on every target, all predicted at once */
    Batch in = {b->B, b->T, b->mlm_ids, NULL, NULL};
    Forward f = {0};
    model_forward(bert, tp, &in, &f);
    p->bert_attn = f.attn;
    p->bert_logits = model_lm_logits(bert, tp, op_gather_rows(tp, f.hidden, b->rows, b->B * b->K));
    p->mlm = op_cross_entropy(tp, p->bert_logits, b->labels);
}

/* Each row's cross-entropy and most probable token, in double. */
static void row_stats(const Tensor *logits, const int32_t *labels, int rows, float *loss_out, int32_t *top)
{
    int V = logits->shape[logits->ndim - 1];
    for (int i = 0; i < rows; i++) {
        const float *x = logits->data + (size_t)i * V;
        double mx = x[0], z = 0;
        int arg = 0;
        for (int v = 1; v < V; v++)
            if (x[v] > mx) mx = x[v], arg = v;
        for (int v = 0; v < V; v++) z += exp(x[v] - mx);
        loss_out[i] = (float)(mx + log(z) - x[labels[i]]);
        top[i] = arg;
    }
}

static int correct(const int32_t *top, const int32_t *labels, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++) c += top[i] == labels[i];
    return c;
}

/* Both models on the same batch. Their parameters are disjoint, so differentiating the sum of
 * their losses gives each its own loss's gradient; the loss reported (and exported) is the
 * XLNet's, plm. */
static Tensor *loss(Run *r, float *parts, float *extra)
{
    Xlnet *m = KIT_SELF(r, Xlnet);
    const XlnetBatch *b = &m->batch;
    XlnetPass *p = &m->pass;
    xlnet_forward(r, b, p);
    kit_keep_attention(r, XL_XLNET, XL_CONTENT, p->content_attn);
    kit_keep_attention(r, XL_XLNET, XL_QUERY, p->query_attn);
    kit_keep_attention(r, XL_BERT, 0, p->bert_attn);
    int n = b->B * b->K;
    row_stats(p->logits, b->labels, n, m->row_loss[XL_XLNET], m->row_top[XL_XLNET]);
    row_stats(p->bert_logits, b->labels, n, m->row_loss[XL_BERT], m->row_top[XL_BERT]);
    parts[0] = p->plm->data[0];
    extra[XL_BERT_MLM] = p->mlm->data[0];
    extra[XL_ACCURACY] = (float)correct(m->row_top[XL_XLNET], b->labels, n) / (float)n;
    extra[XL_BERT_ACCURACY] = (float)correct(m->row_top[XL_BERT], b->labels, n) / (float)n;
    kit_report_total(r, p->plm->data[0]);
    return op_add(&r->tape, p->plm, p->mlm);
}

/* ---------------------------------------------------------------- evaluation ---- */

/* Both models on the held-out targets; the XLNet's loss also split into each order's first
 * target (whose query sees exactly the non-targets, as the BERT does) and the later ones. */
static void evaluate(Run *r, float *extra)
{
    Xlnet *m = KIT_SELF(r, Xlnet);
    if (m->eval_batches[0].K != num_predict(r)) draw_eval_set(r);
    double sum[XL_MODELS] = {0}, first[XL_MODELS] = {0}, later[XL_MODELS] = {0};
    int right[XL_MODELS] = {0}, n = 0, nfirst = 0, nlater = 0;
    size_t cap = (size_t)r->B * r->T;
    float *rl = malloc(cap * sizeof *rl);
    int32_t *top = malloc(cap * sizeof *top);
    ENGINE_CHECK(rl && top, "out of memory");
    for (int i = 0; i < XL_EVAL_BATCHES; i++) {
        const XlnetBatch *b = &m->eval_batches[i];
        int rows = b->B * b->K;
        KitScope scope = kit_eval_begin(r);
        XlnetPass p;
        xlnet_forward(r, b, &p);
        const Tensor *lg[XL_MODELS] = {p.logits, p.bert_logits};
        for (int k = 0; k < XL_MODELS; k++) {
            row_stats(lg[k], b->labels, rows, rl, top);
            right[k] += correct(top, b->labels, rows);
            for (int j = 0; j < rows; j++) {
                sum[k] += rl[j];
                if (j % b->K == 0) first[k] += rl[j];
                else later[k] += rl[j];
            }
        }
        nfirst += b->B;
        nlater += rows - b->B;
        n += rows;
        kit_eval_end(r, scope);
    }
    free(rl), free(top);
    extra[XL_EVAL_LOSS] = (float)(sum[XL_XLNET] / n);
    extra[XL_EVAL_BERT_LOSS] = (float)(sum[XL_BERT] / n);
    extra[XL_EVAL_ACCURACY] = (float)right[XL_XLNET] / (float)n;
    extra[XL_EVAL_BERT_ACCURACY] = (float)right[XL_BERT] / (float)n;
    extra[XL_EVAL_LOSS_FIRST] = nfirst ? (float)(first[XL_XLNET] / nfirst) : NAN;
    extra[XL_EVAL_LOSS_LATER] = nlater ? (float)(later[XL_XLNET] / nlater) : NAN;
    extra[XL_EVAL_BERT_LOSS_FIRST] = nfirst ? (float)(first[XL_BERT] / nfirst) : NAN;
    extra[XL_EVAL_BERT_LOSS_LATER] = nlater ? (float)(later[XL_BERT] / nlater) : NAN;
}

double xlnet_reference_loss(const float *logits, const int32_t *labels, int rows, int V)
{
    double s = 0;
    for (int i = 0; i < rows; i++) {
        const float *x = logits + (size_t)i * V;
        double mx = x[0], z = 0;
        for (int v = 1; v < V; v++) mx = x[v] > mx ? x[v] : mx;
        for (int v = 0; v < V; v++) z += exp(x[v] - mx);
        s += mx + log(z) - x[labels[i]];
    }
    return rows ? s / rows : 0;
}

/* ------------------------------------------------------------- export tables ---- */

static const KitTensorSpec batch_tensors[] = {
    {"input_ids", KIT_I32, "BT"},     {"perm_order", KIT_I32, "BT"},     {"perm_mask", KIT_U8, "BTT"},
    {"content_mask", KIT_U8, "BTT"},  {"query_mask", KIT_U8, "BTT"},     {"target_mapping", KIT_F32, "BKT"},
    {"labels", KIT_I32, "BK"},
};

static const void *batch_data(const Run *r, int i)
{
    const XlnetBatch *b = &KIT_SELF(r, Xlnet)->batch;
    const void *d[] = {b->ids, b->order, b->perm, b->content, b->query, b->target_mapping, b->labels};
    return d[i];
}

/* only the XLNet is exported; the BERT is its yardstick */
static bool exported(const Run *r, int model)
{
    (void)r;
    return model == XL_XLNET;
}

/* -------------------------------------------------------------------- probe ---- */

/* One sequence of n tokens as a batch of one, predicting `target` from the positions whose
 * rank is below its own: every visible position first (left to right), then the hidden ones
 * left to right. */
static void probe_batch(XlnetBatch *b, const int32_t *ids, const uint8_t *hidden, int n, int target)
{
    b->B = 1, b->T = n, b->K = 1;
    memcpy(b->ids, ids, (size_t)n * sizeof *ids);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!hidden[i]) b->order[k++] = i;
    for (int i = 0; i < n; i++)
        if (hidden[i]) b->order[k++] = i;
    xlnet_masks(b->order, n, b->rank, b->content, b->query, b->perm);
    b->rows[0] = target;
    b->labels[0] = ids[target];
}

void xlnet_probe(Run *r, Model *model, const char *text, void *result)
{
    XlnetProbe *p = result;
    memset(p, 0, sizeof *p);
    p->step = r->step;
    int max = r->T < XL_PROBE_MAX ? r->T : XL_PROBE_MAX;
    int32_t all[4 * XL_PROBE_MAX];
    int n = tokenizer_encode_masked(r->vocab, text, all, 4 * XL_PROBE_MAX);
    p->cut = n > max;
    p->n = n = n < max ? n : max;
    if (n < 2) return;
    for (int i = 0; i < n; i++) {
        p->ids[i] = all[i];
        p->hidden[i] = all[i] == TOK_MASK;
        p->nhidden += p->hidden[i];
    }
    if (!p->nhidden)
        for (int i = n - 2; i < n; i++) p->hidden[i] = 1, p->ids[i] = TOK_MASK, p->nhidden++;
    if (p->nhidden == n) return; /* nothing to read */
    XlnetBatch b;
    if (batch_alloc(&b, 1, n)) return;
    int32_t cur[XL_PROBE_MAX];
    memcpy(cur, p->ids, (size_t)n * sizeof *cur);
    int V = model->cfg.vocab_size, h = 0;
    /* XLNet: one hidden token at a time, each filled with its most probable token before the
       next is predicted (its query stream then sees that token's content stream) */
    for (int i = 0; i < n; i++) {
        if (!p->hidden[i]) continue;
        KitScope scope = kit_eval_begin(r);
        probe_batch(&b, cur, p->hidden, n, i);
        Tensor *lg = xlnet_query_logits(r, model, &b, NULL, NULL);
        kit_top_k(lg->data, V, TOK_NUM_SPECIAL, XL_TOPK, p->xl_p[h], p->xl_top[h]);
        cur[i] = p->xl_top[h][0];
        kit_eval_end(r, scope);
        h++;
    }
    /* BERT: every hidden token a [MASK], all at once */
    p->untrained_bert = model != kit_model(r, XL_XLNET);
    if (!p->untrained_bert) {
        Model *bert = kit_model(r, XL_BERT);
        KitScope scope = kit_eval_begin(r);
        Batch in = {1, n, p->ids, NULL, NULL};
        Forward f = {0};
        model_forward(bert, &r->tape, &in, &f);
        Tensor *lg = model_lm_logits(bert, &r->tape, f.hidden);
        h = 0;
        for (int i = 0; i < n; i++)
            if (p->hidden[i]) {
                kit_top_k(lg->data + (size_t)i * V, V, TOK_NUM_SPECIAL, XL_TOPK, p->bert_p[h], p->bert_top[h]);
                h++;
            }
        kit_eval_end(r, scope);
    }
    batch_free(&b);
}

/* --------------------------------------------------------------- description ---- */

static const char *const parts[] = {"plm"};
static const char *const extra[] = {"bert_mlm",      "accuracy",           "bert_accuracy",   "eval_loss",
                                    "eval_bert_loss", "eval_accuracy",     "eval_bert_accuracy", "eval_loss_first",
                                    "eval_loss_later", "eval_bert_loss_first", "eval_bert_loss_later"};
static const KitModelSpec models[] = {
    {"xlnet", "FmlabXLNetLMHeadModel", XL_XLNET, true, {"content", "query"}, "XLNet", false},
    {"bert", "BertForMaskedLM", XL_BERT, true, {""}, "BERT (same targets)", true},
};

const Lesson xlnet_lesson = {
    .info = {"xlnet", "XLNet: permutation language modelling",
             "Predict the tokens in a random factorization order with two-stream attention: context from both sides, "
             "no [MASK] in the input.",
             keys, (int)(sizeof keys / sizeof keys[0]), 64, 2e-3f, NULL, NULL, NULL},
    .models = models,
    .nmodels = XL_MODELS,
    .parts = parts,
    .nparts = 1,
    .extra = extra,
    .nextra = XL_NEXTRA,
    .batch = batch_tensors,
    .nbatch = (int)(sizeof batch_tensors / sizeof batch_tensors[0]),
    .state_size = sizeof(Xlnet),
    .init = init,
    .free = lesson_free,
    .reset = draw_eval_set,
    .next_batch = next_batch,
    .loss = loss,
    .evaluate = evaluate,
    .batch_data = batch_data,
    .on_setting = on_setting,
    .exported = exported,
    .allowed = allowed,
    .display_keys = (const char *const[]){"order_step", "mask_order", NULL},
};
