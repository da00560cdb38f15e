/* electra.c — fmlab-electra: replaced-token detection (Clark et al. 2020, ELECTRA).
 *
 * What is new here: a second model that makes the first one's task. A small generator (an
 * ElectraForMaskedLM, a quarter of the width) is a masked LM: it sees BERT's [MASK]s and
 * fills each selected position with a token SAMPLED from its softmax. The discriminator (an
 * ElectraForPreTraining, the size of fmlab-mlm's BERT) reads that corrupted text and says, for
 * EVERY token, whether it is the original or a replacement. A sample that happens to be the
 * original counts as original. The two share the embeddings module and train together:
 *
 *   total = mlm + λ·rtd      (λ = rtd_weight, 50 as in the paper, section 2)
 *
 * mlm is the generator's masked-LM loss at the selected positions; rtd the discriminator's
 * binary cross-entropy, averaged over every token. The samples are token ids: no gradient
 * flows from the discriminator into the generator (ELECTRA is not a GAN; section 2 says why).
 * The encoder kept for fine-tuning is the discriminator: it learns from all tokens, where a
 * masked LM learns from the 15% it hid.
 *
 * The masking follows the ELECTRA code (pretrain_helpers.mask): 15% of the tokens selected,
 * 85% of those replaced by [MASK], the rest kept as they are (no random tokens: the generator
 * makes the replacements). How to run: fmlab-electra (window); fmlab-electra --headless
 * --steps 300 --export out/; --set train=generator (or G in the window) steps only the
 * generator. The sections below are in the same order as in every lesson. */
#define _POSIX_C_SOURCE 200809L
#include "lessons/electra/lesson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ settings ---- */

static const char *const train_choices[] = {"both", "generator", "discriminator", NULL};

static const KeyDef keys[] = {
    /* model (Hugging Face ElectraConfig names: the discriminator's; fmlab-mlm's BERT sizes) */
    {"vocab_size", 2000, 100, 30000, true, "WordPiece vocabulary size (2000 is shipped; others are learned at start)", NULL},
    {"hidden_size", 64, 8, 1024, true, "the discriminator's width (embedding_size is the same)", NULL},
    {"num_hidden_layers", 2, 1, 24, true, "encoder layers, in both models", NULL},
    {"num_attention_heads", 4, 1, 32, true, "the discriminator's heads per layer (must divide hidden_size)", NULL},
    {"intermediate_size", 256, 8, 8192, true, "the discriminator's feed-forward width", NULL},
    {"generator_size", 0.25, 0.0625, 1, false,
     "the generator's width as a share of hidden_size (ELECTRA: 1/4 to 1/2 work best), rounded to whole heads of "
     "the discriminator's head size (at the defaults heads of 16: up to 0.375 one head, 0.5 two); its feed-forward is "
     "4 × its width", NULL},
    /* lesson */
    {"seq_len", 16, 8, 512, true, "tokens per sequence, [CLS] and [SEP] included", NULL},
    {"mlm_probability", 0.15, 0, 1, false, "chance that a token is selected for the generator to fill", NULL},
    {"mask_replace_prob", 0.85, 0, 1, false, "of the selected: replaced by [MASK] in the generator's input", NULL},
    {"random_replace_prob", 0, 0, 1, false, "of the selected: replaced by a random token in the generator's input",
     NULL},
    {"rtd_weight", 50, 0, 1000, false, "λ: total = mlm + λ·rtd", NULL},
    {"sampling_temperature", 1, 0.1, 10, false, "the generator's samples are drawn from softmax(logits / this)", NULL},
    {"train", TRAIN_BOTH, 0, 2, true,
     "which model a step updates: both (ELECTRA), generator (mlm only), discriminator (λ·rtd only; the shared "
     "embeddings learn in all three)", train_choices},
    KIT_TRAINER_KEYS(100, 25),
};

#define KEY(r, name) kit_value(r, name)

/* ---------------------------------------------------------- data and corruption ---- */

int electra_batch_alloc(ElectraBatch *b, int B, int T)
{
    size_t n = (size_t)B * T;
    memset(b, 0, sizeof *b);
    if (kit_mlm_batch_alloc(&b->mlm, B, T)) return -1;
    b->u = malloc(n * sizeof *b->u);
    b->samples = malloc(n * sizeof *b->samples);
    b->corrupted = malloc(n * sizeof *b->corrupted);
    b->rtd = calloc(n, 1);
    b->rtd_f = calloc(n, sizeof *b->rtd_f);
    return b->u && b->samples && b->corrupted && b->rtd && b->rtd_f ? 0 : -1;
}

void electra_batch_free(ElectraBatch *b)
{
    kit_mlm_batch_free(&b->mlm);
    free(b->u), free(b->samples), free(b->corrupted), free(b->rtd), free(b->rtd_f);
    memset(b, 0, sizeof *b);
}

void electra_batch_draw(const MaskingConfig *mc, const Corpus *c, Rng *r, ElectraBatch *b)
{
    kit_mlm_batch_draw(mc, c, r, &b->mlm);
    for (int i = 0; i < b->mlm.B * b->mlm.T; i++) b->u[i] = rng_uniform(r);
    /* until the generator has spoken: nothing replaced */
    electra_corrupt(b->mlm.original, b->mlm.B * b->mlm.T, NULL, NULL, 0, b->corrupted, b->rtd);
}

static void next_batch(Run *r)
{
    Electra *m = KIT_SELF(r, Electra);
    electra_batch_draw(&m->mask, &m->train, &r->rng, &m->batch);
}

/* the held-out set, the same for every run with this seed (its uniforms too) */
static void draw_eval_set(Run *r)
{
    Electra *m = KIT_SELF(r, Electra);
    Rng er;
    rng_seed(&er, r->opt.seed, 2);
    for (int i = 0; i < EL_EVAL_BATCHES; i++) electra_batch_draw(&m->mask, &m->eval, &er, &m->eval_batches[i]);
}

int32_t electra_sample(const float *logits, int V, double temperature, double u)
{
    double mx = logits[0];
    for (int v = 1; v < V; v++) mx = logits[v] > mx ? logits[v] : mx;
    double z = 0;
    for (int v = 0; v < V; v++) z += exp((logits[v] - mx) / temperature);
    double target = u * z, acc = 0;
    int last = 0;
    for (int v = 0; v < V; v++) {
        double e = exp((logits[v] - mx) / temperature);
        if (e > 0) last = v;
        acc += e;
        if (acc > target) return v;
    }
    return last; /* rounding at u near 1: the last token with any probability */
}

void electra_corrupt(const int32_t *original, int n, const int32_t *rows, const int32_t *samples, int nsel,
                     int32_t *corrupted, uint8_t *rtd)
{
    memcpy(corrupted, original, (size_t)n * sizeof *corrupted);
    for (int s = 0; s < nsel; s++) corrupted[rows[s]] = samples[s];
    for (int i = 0; i < n; i++) rtd[i] = corrupted[i] != original[i];
}

/* Divergence: a total above 3 × (ln V + λ·ln 2), three times the loss of a generator that
 * guesses uniformly and a discriminator that says 50/50 everywhere. λ changes live, so the
 * bound does. */
static void diverge_rule(Run *r)
{
    double V = (double)KIT_SELF(r, Electra)->vocab.size;
    r->diverge_above = (float)(3.0 * (log(V) + KEY(r, "rtd_weight") * log(2.0)));
}

/* The train setting: the model a step leaves alone is frozen (no gradient, no AdamW update,
 * no weight decay); the shared embeddings stay trainable in every mode. */
static void apply_train(Run *r)
{
    int mode = (int)KEY(r, "train");
    for (int i = 0; i < EL_MODELS; i++) {
        Model *md = kit_model(r, i);
        bool frozen = (mode == TRAIN_GENERATOR && i == EL_DISC) || (mode == TRAIN_DISCRIMINATOR && i == EL_GEN);
        for (int k = 0; k < md->nnamed; k++)
            if (strncmp(md->named[k].name, "electra.embeddings.", 19) != 0) md->named[k].t->requires_grad = !frozen;
    }
}

static void on_setting(Run *r, int key)
{
    kit_masking_set(r, key, &KIT_SELF(r, Electra)->mask);
    diverge_rule(r);
    apply_train(r);
}

/* ------------------------------------------------------------------- model ---- */

/* the loss of a discriminator that says P(replaced) = p at every token, p the share of the
   tokens that are replaced: what it gets without reading the text */
static double binary_entropy(double p) { return p > 0 && p < 1 ? -(p * log(p) + (1 - p) * log(1 - p)) : 0; }

void electra_generator_size(int H, int NH, double fraction, int *hidden, int *heads, int *intermediate)
{
    int hs = H / NH;
    int n = (int)lround(H * fraction / hs);
    if (n < 1) n = 1;
    if (n > NH) n = NH;
    *heads = n;
    *hidden = n * hs;
    *intermediate = 4 * n * hs;
}

static int init(Run *r)
{
    Electra *m = KIT_SELF(r, Electra);
    const LessonInfo *info = &r->lesson->info;
    ModelConfig dcfg, gcfg;
    int rc;
    if ((rc = kit_masking_config(r, &m->mask)) >= 0 || (rc = kit_model_config(r, MODEL_ELECTRA_DISC, &dcfg)) >= 0)
        return rc;
    if ((rc = kit_load_moby_dick(r, &m->vocab, &m->train, &m->eval)) >= 0) return rc;
    dcfg.vocab_size = m->vocab.size;
    dcfg.embedding_size = dcfg.hidden_size;
    m->mask.vocab_size = m->vocab.size;
    gcfg = dcfg;
    gcfg.kind = MODEL_ELECTRA_GEN;
    electra_generator_size(dcfg.hidden_size, dcfg.num_attention_heads, KEY(r, "generator_size"), &gcfg.hidden_size,
                           &gcfg.num_attention_heads, &gcfg.intermediate_size);
    diverge_rule(r);
    double best;
    if (corpus_unigram_baseline(&m->train, m->vocab.size, &r->refs[REF_UNIGRAM_ENTROPY], &best))
        return runtime_usage_error(info, "out of memory");
    /* until the first evaluation: every selected token replaced ([CLS] and [SEP] never are) */
    r->refs[REF_BASE_RATE] = binary_entropy(KEY(r, "mlm_probability") * (r->T - 2) / r->T);
    r->refs[REF_COIN] = log(2.0);

    /* the discriminator declares the embeddings; the generator reuses them */
    model_init(kit_model(r, EL_DISC), &dcfg, kit_block(r, 0), "discriminator/", NULL);
    model_init(kit_model(r, EL_GEN), &gcfg, kit_block(r, 0), "generator/", kit_model(r, EL_DISC));
    for (int i = 0; i < EL_MODELS; i++) m->params[i] = (int64_t)model_param_counts(kit_model(r, i)).total;
    const Model *d = kit_model(r, EL_DISC);
    m->shared = (int64_t)(d->word_emb->size + d->pos_emb->size + d->type_emb->size + d->emb_ln.w->size + d->emb_ln.b->size);

    size_t n = (size_t)r->B * r->T;
    r->arena_bytes = kit_arena_bytes(r, &dcfg) + kit_arena_bytes(r, &gcfg);
    if (electra_batch_alloc(&m->batch, r->B, r->T) || !(m->p_replaced = calloc(n, sizeof(float))) ||
        !(m->top_p = calloc(n * EL_TOPK, sizeof(float))) || !(m->top_id = calloc(n * EL_TOPK, sizeof(int32_t))) ||
        !(m->sample_p = calloc(n, sizeof(float))) || !(m->scaled = calloc((size_t)dcfg.vocab_size, sizeof(float))))
        return runtime_usage_error(info, "out of memory");
    for (int i = 0; i < EL_EVAL_BATCHES; i++)
        if (electra_batch_alloc(&m->eval_batches[i], r->B, r->T)) return runtime_usage_error(info, "out of memory");
    draw_eval_set(r);
    return -1;
}

/* After the kit drew every weight from (seed, 1): the train setting's frozen model. */
static void weights(Run *r) { apply_train(r); }

static void lesson_free(Run *r)
{
    Electra *m = KIT_SELF(r, Electra);
    electra_batch_free(&m->batch);
    for (int i = 0; i < EL_EVAL_BATCHES; i++) electra_batch_free(&m->eval_batches[i]);
    free(m->p_replaced), free(m->top_p), free(m->top_id), free(m->sample_p), free(m->scaled);
    corpus_free(&m->train);
    corpus_free(&m->eval);
    vocab_free(&m->vocab);
}

/* ---------------------------------------------------------------------- loss ---- */

void electra_forward(Run *r, ElectraBatch *b, ElectraPass *p)
{
    Tape *tp = &r->tape;
    const KitMlmBatch *mb = &b->mlm;
    int n = mb->B * mb->T;
    *p = (ElectraPass){0};
    Model *gen = kit_model(r, EL_GEN), *disc = kit_model(r, EL_DISC);

    /* the generator on the [MASK]ed input; logits only where it is asked */
    Batch gin = {mb->B, mb->T, mb->input, mb->token_types, mb->attention_mask};
    model_forward(gen, tp, &gin, &p->f[EL_GEN]);
    if (mb->nsel > 0) {
        Tensor *h = op_gather_rows(tp, p->f[EL_GEN].hidden, mb->rows, mb->nsel);
        p->gen_logits = model_lm_logits(gen, tp, h);
        p->part[PART_MLM] = op_cross_entropy(tp, p->gen_logits, mb->targets);
    } else {
        p->part[PART_MLM] = tape_tensor(tp, 0, NULL);
        p->part[PART_MLM]->data[0] = 0.0f;
    }

    /* its samples: ids, so nothing of the discriminator's loss can flow back through them */
    double temp = KEY(r, "sampling_temperature");
    int V = gen->cfg.vocab_size;
    for (int s = 0; s < mb->nsel; s++)
        b->samples[s] = electra_sample(p->gen_logits->data + (size_t)s * V, V, temp, b->u[mb->rows[s]]);
    electra_corrupt(mb->original, n, mb->rows, b->samples, mb->nsel, b->corrupted, b->rtd);
    for (int i = 0; i < n; i++) b->rtd_f[i] = b->rtd[i];

    /* the discriminator on the corrupted text: one logit per token */
    Batch din = {mb->B, mb->T, b->corrupted, mb->token_types, mb->attention_mask};
    model_forward(disc, tp, &din, &p->f[EL_DISC]);
    p->disc_logits = model_disc_logits(disc, tp, p->f[EL_DISC].hidden);
    p->part[PART_RTD] = op_bce_logits(tp, p->disc_logits, b->rtd_f, mb->attention_mask);
    p->total = op_add(tp, p->part[PART_MLM], op_scale(tp, p->part[PART_RTD], (float)KEY(r, "rtd_weight")));
}

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* the discriminator's confusion counts on a batch: [TP, FN, FP, TN] over non-pad tokens */
static void confusion(const ElectraPass *p, const ElectraBatch *b, int counts[4])
{
    counts[0] = counts[1] = counts[2] = counts[3] = 0;
    for (int i = 0; i < b->mlm.B * b->mlm.T; i++) {
        if (!b->mlm.attention_mask[i]) continue;
        bool said = p->disc_logits->data[i] > 0, was = b->rtd[i];
        counts[was ? (said ? 0 : 1) : (said ? 2 : 3)]++;
    }
}

/* the generator's top-1 is the original, at the selected positions */
static int gen_right(const ElectraPass *p, const ElectraBatch *b)
{
    int right = 0;
    if (!p->gen_logits) return 0;
    int V = p->gen_logits->shape[1];
    for (int s = 0; s < b->mlm.nsel; s++)
        right += op_argmax(p->gen_logits->data + (size_t)s * V, V) == b->mlm.targets[s];
    return right;
}

static int replaced(const ElectraBatch *b)
{
    int n = 0;
    for (int s = 0; s < b->mlm.nsel; s++) n += b->samples[s] != b->mlm.targets[s];
    return n;
}

static Tensor *loss(Run *r, float *parts, float *extra)
{
    Electra *m = KIT_SELF(r, Electra);
    ElectraBatch *b = &m->batch;
    ElectraPass *p = &m->pass;
    electra_forward(r, b, p);
    for (int i = 0; i < EL_MODELS; i++) kit_keep_attention(r, i, 0, p->f[i].attn);
    double w = KEY(r, "rtd_weight");
    for (int k = 0; k < PART_COUNT; k++) parts[k] = p->part[k]->data[0];

    /* what the window shows of the batch: P(replaced) everywhere, the generator's top-5 and
       its sample's probability at the selected positions */
    int n = b->mlm.B * b->mlm.T, V = kit_model(r, EL_GEN)->cfg.vocab_size;
    for (int i = 0; i < n; i++) m->p_replaced[i] = sigmoid(p->disc_logits->data[i]);
    double temp = KEY(r, "sampling_temperature");
    memset(m->top_p, 0, (size_t)n * EL_TOPK * sizeof *m->top_p); /* nothing left from an earlier batch */
    memset(m->sample_p, 0, (size_t)n * sizeof *m->sample_p);
    for (int i = 0; i < n * EL_TOPK; i++) m->top_id[i] = -1;
    float *scaled = m->scaled;
    for (int s = 0; s < b->mlm.nsel; s++) {
        /* the distribution the sample was drawn from: softmax(logits / temperature) */
        const float *x = p->gen_logits->data + (size_t)s * V;
        for (int v = 0; v < V; v++) scaled[v] = (float)(x[v] / temp);
        int row = b->mlm.rows[s];
        kit_top_k(scaled, V, 0, EL_TOPK, m->top_p + (size_t)row * EL_TOPK, m->top_id + (size_t)row * EL_TOPK);
        double mx = scaled[op_argmax(scaled, V)], z = 0;
        for (int v = 0; v < V; v++) z += exp(scaled[v] - mx);
        m->sample_p[row] = (float)(exp(scaled[b->samples[s]] - mx) / z);
    }

    int c[4], nsel = b->mlm.nsel;
    confusion(p, b, c);
    int tokens = c[0] + c[1] + c[2] + c[3];
    extra[EL_GEN_ACCURACY] = nsel ? (float)gen_right(p, b) / (float)nsel : 0;
    extra[EL_REPLACED_SHARE] = nsel ? (float)replaced(b) / (float)nsel : 0;
    extra[EL_DISC_ACCURACY] = tokens ? (float)(c[0] + c[3]) / (float)tokens : 0;
    for (int k = 0; k < 4; k++) extra[EL_TP + k] = (float)c[k];
    extra[EL_SIGNAL_ELECTRA] = (float)tokens;
    extra[EL_SIGNAL_MLM] = (float)nsel;
    extra[EL_RTD_WEIGHT] = (float)w;

    /* the step updates what the train setting says; the loss reported is always the total */
    int mode = (int)KEY(r, "train");
    if (mode == TRAIN_BOTH) return p->total;
    kit_report_total(r, p->total->data[0]);
    return mode == TRAIN_GENERATOR ? p->part[PART_MLM] : op_scale(&r->tape, p->part[PART_RTD], (float)w);
}

/* ---------------------------------------------------------------- evaluation ---- */

static int cmp_scored(const void *a, const void *b)
{
    float x = ((const float *)a)[0], y = ((const float *)b)[0];
    return (x > y) - (x < y);
}

double electra_auc(const float *p, const uint8_t *y, const uint8_t *keep, int n)
{
    /* sorted by score, each replaced token counts the originals below it (ties: half) */
    float (*s)[2] = malloc((size_t)(n > 0 ? n : 1) * sizeof *s);
    ENGINE_CHECK(s, "out of memory");
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!keep || keep[i]) s[k][0] = p[i], s[k++][1] = y[i];
    qsort(s, (size_t)k, sizeof *s, cmp_scored);
    double pairs = 0, below = 0;
    long pos = 0, neg = 0;
    for (int i = 0; i < k;) {
        int j = i;
        long tp = 0, tn = 0;
        for (; j < k && s[j][0] == s[i][0]; j++) s[j][1] > 0.5f ? tp++ : tn++;
        pairs += tp * (below + 0.5 * tn);
        below += (double)tn;
        pos += tp, neg += tn;
        i = j;
    }
    free(s);
    return pos && neg ? pairs / ((double)pos * neg) : NAN;
}

static void evaluate(Run *r, float *extra)
{
    Electra *m = KIT_SELF(r, Electra);
    int n_all = EL_EVAL_BATCHES * r->B * r->T;
    float *score = malloc((size_t)n_all * sizeof *score);
    uint8_t *truth = malloc((size_t)n_all), *keep = malloc((size_t)n_all);
    ENGINE_CHECK(score && truth && keep, "out of memory");
    double mlm = 0, rtd = 0;
    int nsel = 0, tokens = 0, right_gen = 0, c4[4] = {0};
    for (int k = 0; k < EL_EVAL_BATCHES; k++) {
        ElectraBatch *b = &m->eval_batches[k];
        KitScope scope = kit_eval_begin(r);
        ElectraPass p;
        electra_forward(r, b, &p);
        int c[4];
        confusion(&p, b, c);
        int n = c[0] + c[1] + c[2] + c[3];
        mlm += (double)p.part[PART_MLM]->data[0] * b->mlm.nsel;
        rtd += (double)p.part[PART_RTD]->data[0] * n;
        right_gen += gen_right(&p, b);
        for (int i = 0; i < 4; i++) c4[i] += c[i];
        size_t at = (size_t)k * r->B * r->T;
        for (int i = 0; i < r->B * r->T; i++) {
            score[at + i] = p.disc_logits->data[i]; /* the logit ranks as P(replaced) does */
            truth[at + i] = b->rtd[i];
            keep[at + i] = b->mlm.attention_mask[i];
        }
        nsel += b->mlm.nsel;
        tokens += n;
        kit_eval_end(r, scope);
    }
    extra[EL_EVAL_MLM] = nsel ? (float)(mlm / nsel) : 0;
    extra[EL_EVAL_RTD] = tokens ? (float)(rtd / tokens) : 0;
    extra[EL_EVAL_GEN_ACCURACY] = nsel ? (float)right_gen / (float)nsel : 0;
    extra[EL_EVAL_DISC_ACCURACY] = tokens ? (float)(c4[0] + c4[3]) / (float)tokens : 0;
    extra[EL_EVAL_RECALL] = c4[0] + c4[1] ? (float)c4[0] / (float)(c4[0] + c4[1]) : NAN;
    extra[EL_EVAL_RANKING] = (float)electra_auc(score, truth, keep, n_all);
    /* the base-rate line follows the share of held-out tokens replaced, which falls as the
       generator's samples more often equal the original */
    if (tokens) r->refs[REF_BASE_RATE] = binary_entropy((double)(c4[0] + c4[1]) / tokens);
    free(score), free(truth), free(keep);
}

/* ----------------------------------------------------------- the reference ---- */

ElectraLoss electra_reference(const float *gen_logits, const int32_t *targets, int nsel, int V,
                              const float *disc_logits, const uint8_t *rtd, const uint8_t *keep, int n, double weight)
{
    ElectraLoss e = {0};
    for (int s = 0; s < nsel; s++) {
        const float *x = gen_logits + (size_t)s * V;
        double mx = x[0], z = 0;
        for (int v = 1; v < V; v++) mx = x[v] > mx ? x[v] : mx;
        for (int v = 0; v < V; v++) z += exp(x[v] - mx);
        e.mlm += mx + log(z) - x[targets[s]];
    }
    e.mlm = nsel ? e.mlm / nsel : 0;
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (keep && !keep[i]) continue;
        double x = disc_logits[i], y = rtd[i];
        /* −[y log σ(x) + (1−y) log(1−σ(x))], in the form that cannot overflow */
        e.rtd += (x > 0 ? x : 0) - x * y + log1p(exp(-fabs(x)));
        kept++;
    }
    e.rtd = kept ? e.rtd / kept : 0;
    e.total = e.mlm + weight * e.rtd;
    return e;
}

/* ------------------------------------------------------------- export tables ---- */

static const KitTensorSpec batch_tensors[] = {KIT_MLM_BATCH_TENSORS, {"corrupted_ids", KIT_I32, "BT"},
                                              {"rtd_labels", KIT_U8, "BT"}};

static const void *batch_data(const Run *r, int i)
{
    const ElectraBatch *b = &KIT_SELF(r, Electra)->batch;
    if (i == 6) return b->corrupted;
    if (i == 7) return b->rtd;
    return kit_mlm_batch_data(&b->mlm, i);
}

/* --------------------------------------------------------------- description ---- */

static const char *const parts[] = {"mlm", "rtd"};
static const char *const extra[] = {"gen_accuracy", "replaced_share", "disc_accuracy", "tp", "fn", "fp", "tn",
                                    "signal_electra", "signal_mlm", "rtd_weight", "eval_mlm_loss", "eval_rtd_loss",
                                    "eval_gen_accuracy", "eval_disc_accuracy", "eval_replaced_recall",
                                    "eval_ranking"};
static const KitModelSpec models[] = {
    {"discriminator", "ElectraForPreTraining", 0, true, {""}, "discriminator", false},
    {"generator", "ElectraForMaskedLM", 0, true, {""}, "generator", false},
};
#define TIE(n) (const char *const[]){"generator/electra.embeddings." n, "discriminator/electra.embeddings." n, NULL}
static const char *const *const tied[] = {TIE("word_embeddings.weight"), TIE("position_embeddings.weight"),
                                          TIE("token_type_embeddings.weight"), TIE("LayerNorm.weight"),
                                          TIE("LayerNorm.bias"), NULL};

const Lesson electra_lesson = {
    .info = {"electra", "ELECTRA: replaced-token detection",
             "A small generator fills BERT's masks with plausible tokens; the discriminator learns from every token "
             "which ones were replaced.",
             keys, (int)(sizeof keys / sizeof keys[0]), 32, 2e-3f, NULL, NULL,
             "3 × (ln(vocab_size) + rtd_weight × ln 2): three times the loss of a generator guessing\nuniformly and a "
             "discriminator saying 50/50"},
    .models = models,
    .nmodels = EL_MODELS,
    .parts = parts,
    .nparts = PART_COUNT,
    .extra = extra,
    .nextra = EL_NEXTRA,
    .batch = batch_tensors,
    .nbatch = (int)(sizeof batch_tensors / sizeof batch_tensors[0]),
    .tied = tied,
    .state_size = sizeof(Electra),
    .init = init,
    .free = lesson_free,
    .weights = weights,
    .reset = draw_eval_set,
    .next_batch = next_batch,
    .loss = loss,
    .evaluate = evaluate,
    .batch_data = batch_data,
    .on_setting = on_setting,
    .model_input = (const char *const[]){"corrupted_ids", NULL},
};
