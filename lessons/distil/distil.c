/* distil.c — fmlab-distil: knowledge distillation, DistilBERT's way.
 *
 * What is new here: a second model. A teacher (a BertForMaskedLM of 4 layers, trained with
 * fmlab-mlm's masked LM and then frozen) reads every batch beside a student of half its
 * layers (a DistilBertForMaskedLM that starts from one teacher layer out of two), and the
 * student learns from three signals at once (Sanh et al. 2019, section 2; the distiller of
 * Hugging Face's examples/research_projects/distillation):
 *
 *   ce  = T² · KL(softmax(teacher/T) ‖ softmax(student/T)), at every position: the teacher's
 *         whole distribution, softened by the temperature T so that the ranks below its top-1
 *         (Hinton's "dark knowledge") weigh in; T² keeps its gradient's scale as T grows;
 *   mlm = the masked LM's own cross-entropy against the true token, at the selected positions;
 *   cos = 1 − cos(student's last hidden state, teacher's), at every position: the student's
 *         vectors point where the teacher's do.
 *
 * total = alpha_ce·ce + alpha_mlm·mlm + alpha_cos·cos (5, 2, 1 by default, the weights of the DistilBERT
 * training command in that folder's README).
 *
 * The teacher: --teacher FILE (a checkpoint of fmlab-mlm or fmlab-nsp, --save), or the cache,
 * built once with fmlab-mlm (teacher_steps steps, this lesson's model keys and seq_len, seed 1;
 * lessons/common/pretrained.h). How to run: fmlab-distil (window); fmlab-distil --headless
 * --steps 300 --export out/; --set alpha_ce=0 --set alpha_cos=0 trains the same student with
 * the masked LM alone, --set student_init=random without the teacher's layers. The sections
 * below are in the same order as in every lesson. */
#define _POSIX_C_SOURCE 200809L
#include "lessons/distil/lesson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ settings ---- */

static const char *const init_choices[] = {"teacher", "random", NULL};

static const KeyDef keys[] = {
    /* model (Hugging Face BertConfig names: the teacher's; the student has the same widths) */
    {"vocab_size", 2000, 100, 30000, true, "WordPiece vocabulary size (2000 is shipped; others are learned at start)", NULL},
    {"hidden_size", 64, 8, 1024, true, "width of every token's vector, in both models (cos compares them)", NULL},
    {"num_hidden_layers", 4, 1, 24, true, "the teacher's encoder layers", NULL},
    {"student_layers", 2, 1, 24, true,
     "the student's layers (DistilBERT: half the teacher's); its layer k starts as teacher layer k·L/S", NULL},
    {"num_attention_heads", 4, 1, 32, true, "heads per layer, in both models (must divide hidden_size)", NULL},
    {"intermediate_size", 256, 8, 8192, true, "feed-forward width, in both models", NULL},
    /* lesson */
    {"seq_len", 16, 8, 512, true, "tokens per sequence, [CLS] and [SEP] included (the teacher's too)", NULL},
    {"mlm_probability", 0.15, 0, 1, false, "chance that a token is selected for masked-LM prediction", NULL},
    {"mask_replace_prob", 0.8, 0, 1, false, "of the selected: replaced by [MASK]", NULL},
    {"random_replace_prob", 0.1, 0, 1, false, "of the selected: replaced by a random token", NULL},
    {"temperature", 2, 0.5, 20, false, "T: both softmaxes of ce are taken at logits/T (1: as they are)", NULL},
    {"alpha_ce", 5, 0, 100, false, "weight of ce, the distillation loss (KL to the teacher, times T²)", NULL},
    {"alpha_mlm", 2, 0, 100, false, "weight of mlm, the masked LM against the true tokens", NULL},
    {"alpha_cos", 1, 0, 100, false, "weight of cos, 1 − cosine between the last hidden states", NULL},
    {"student_init", INIT_TEACHER, 0, 1, true,
     "teacher: the student starts from the teacher's embeddings, every other layer and its MLM head; random: "
     "from random weights", init_choices},
    {"teacher_steps", 6000, 10, 1000000, true,
     "without --teacher: steps of fmlab-mlm (its defaults but lr 1e-3, these model keys and seq_len, seed 1) that "
     "build the cached teacher", NULL},
    KIT_TRAINER_KEYS(100, 50),
};

#define KEY(r, name) kit_value(r, name)

/* the model keys a teacher checkpoint must share with the run */
static const char *const model_keys[] = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                         "intermediate_size", NULL};

/* ---------------------------------------------------------- data and corruption ---- */

/* B windows of Moby-Dick and BERT's corruption: the batches fmlab-mlm trains on; the teacher
 * and the student read the same corrupted ids */
static void next_batch(Run *r)
{
    Distil *m = KIT_SELF(r, Distil);
    kit_mlm_batch_draw(&m->mask, &m->train, &r->rng, &m->batch);
}

/* the held-out set, the same for every run with this seed */
static void draw_eval_set(Run *r)
{
    Distil *m = KIT_SELF(r, Distil);
    Rng er;
    rng_seed(&er, r->opt.seed, 2);
    for (int i = 0; i < DI_EVAL_BATCHES; i++) kit_mlm_batch_draw(&m->mask, &m->eval, &er, &m->eval_batches[i]);
}

/* Divergence: a total above 3 × ln(V) times the sum of the weights, as if every part were
 * three times the loss of guessing uniformly (none is bounded by it, but a student that far
 * from the teacher and the text has diverged). The weights change live, so the bound does. */
static void diverge_rule(Run *r)
{
    double sum = KEY(r, "alpha_ce") + KEY(r, "alpha_mlm") + KEY(r, "alpha_cos");
    r->diverge_above = (float)(3.0 * log((double)KIT_SELF(r, Distil)->vocab.size) * sum);
}

static void on_setting(Run *r, int key)
{
    kit_masking_set(r, key, &KIT_SELF(r, Distil)->mask);
    diverge_rule(r);
}

/* ------------------------------------------------------------------- model ---- */

int distil_teacher_layer(int k, int S, int L) { return (int)((int64_t)k * L / S); }

static void copy_tensor(Tensor *dst, const Tensor *src)
{
    ENGINE_CHECK(dst && src && dst->size == src->size, "student and teacher tensors differ in size");
    memcpy(dst->data, src->data, src->size * sizeof(float));
}

static void copy_linear(Linear *d, const Linear *s) { copy_tensor(d->w, s->w), copy_tensor(d->b, s->b); }
static void copy_norm(LayerNorm *d, const LayerNorm *s) { copy_tensor(d->w, s->w), copy_tensor(d->b, s->b); }

void distil_init_student(Model *student, const Model *teacher)
{
    copy_tensor(student->word_emb, teacher->word_emb);
    copy_tensor(student->pos_emb, teacher->pos_emb);
    copy_norm(&student->emb_ln, &teacher->emb_ln);
    int S = student->cfg.num_hidden_layers, L = teacher->cfg.num_hidden_layers;
    for (int k = 0; k < S; k++) {
        Block *d = &student->blocks[k];
        const Block *s = &teacher->blocks[distil_teacher_layer(k, S, L)];
        copy_linear(&d->q, &s->q), copy_linear(&d->k, &s->k), copy_linear(&d->v, &s->v), copy_linear(&d->o, &s->o);
        copy_norm(&d->ln1, &s->ln1), copy_norm(&d->ln2, &s->ln2);
        copy_linear(&d->ffn_in, &s->ffn_in), copy_linear(&d->ffn_out, &s->ffn_out);
    }
    copy_linear(&student->head_dense, &teacher->head_dense);
    copy_norm(&student->head_ln, &teacher->head_ln);
    copy_tensor(student->head_bias, teacher->head_bias);
}

/* The teacher: --teacher FILE, or the cache, built with fmlab-mlm when missing or when what
 * is there does not match its settings. */
static int load_teacher(Run *r)
{
    Distil *m = KIT_SELF(r, Distil);
    static const char *const lessons[] = {"mlm", "nsp", NULL};
    static const ModelKind kinds[] = {MODEL_BERT_MLM, MODEL_BERT_PRETRAIN};
    KitPretrainSpec spec = {.lesson = "mlm", .kind = MODEL_BERT_MLM, .steps = (long)KEY(r, "teacher_steps"), .seed = 1,
                            .lr = DI_TEACHER_LR};
    return kit_pretrained_load(r, spec, lessons, kinds, model_keys, &m->teacher, &m->teacher_built);
}

/* parameters by Hugging Face name: the embeddings module (with its LayerNorm), the encoder
   layers, the MLM head (distil_group_of, for the panel's bars) */
int distil_group_of(const char *name)
{
    if (strstr(name, "embeddings.")) return DG_EMB;
    if (strstr(name, ".layer.")) return DG_LAYERS;
    return DG_HEAD;
}

static void count_params(const Model *md, int64_t *total, int64_t *group)
{
    *total = (int64_t)model_param_counts(md).total;
    for (int i = 0; i < md->nnamed; i++) group[distil_group_of(md->named[i].name)] += (int64_t)md->named[i].t->size;
}

static int init(Run *r)
{
    Distil *m = KIT_SELF(r, Distil);
    const LessonInfo *info = &r->lesson->info;
    ModelConfig tcfg, scfg;
    int rc;
    if ((rc = kit_masking_config(r, &m->mask)) >= 0 || (rc = kit_model_config(r, MODEL_BERT_MLM, &tcfg)) >= 0 ||
        (rc = kit_model_config(r, MODEL_DISTILBERT, &scfg)) >= 0)
        return rc;
    int S = (int)KEY(r, "student_layers");
    if (S > tcfg.num_hidden_layers)
        return runtime_usage_error(info, "student_layers %d is more than the teacher's num_hidden_layers %d: the student "
                                   "starts from the teacher's layers", S, tcfg.num_hidden_layers);
    scfg.num_hidden_layers = S;
    rc = kit_load_moby_dick(r, &m->vocab, &m->train, &m->eval);
    if (rc >= 0) return rc;
    tcfg.vocab_size = scfg.vocab_size = m->vocab.size;
    m->mask.vocab_size = m->vocab.size;
    if (r->opt.model_file && r->opt.resume)
        return runtime_usage_error(info, "--teacher with --resume: the checkpoint holds the teacher it was trained with "
                                   "(--teacher starts a new run)");
    if (KEY(r, "alpha_ce") + KEY(r, "alpha_mlm") + KEY(r, "alpha_cos") <= 0)
        return runtime_usage_error(info, "alpha_ce, alpha_mlm and alpha_cos are all 0: the student would learn nothing");
    if ((rc = load_teacher(r)) >= 0) return rc;
    diverge_rule(r);
    if (corpus_unigram_baseline(&m->train, m->vocab.size, &r->refs[REF_UNIGRAM_ENTROPY], &r->refs[REF_UNIGRAM_ACCURACY]))
        return runtime_usage_error(info, "out of memory");

    model_init(kit_model(r, DI_STUDENT), &scfg, kit_block(r, DI_STUDENT), "", NULL);
    model_init(kit_model(r, DI_TEACHER), &tcfg, kit_block(r, DI_TEACHER), "", NULL);
    model_freeze(kit_model(r, DI_TEACHER), "");
    for (int i = 0; i < DI_MODELS; i++) count_params(kit_model(r, i), &m->params[i], m->group[i]);

    /* both models' activations and both logits over every position (B·T × V each) */
    size_t tokens = (size_t)r->B * r->T;
    r->arena_bytes = kit_arena_bytes(r, &tcfg) + kit_forward_bytes(&scfg, r->B, r->T) + tokens * scfg.vocab_size * 8;
    if (kit_mlm_batch_alloc(&m->batch, r->B, r->T)) return runtime_usage_error(info, "out of memory");
    for (int i = 0; i < DI_EVAL_BATCHES; i++)
        if (kit_mlm_batch_alloc(&m->eval_batches[i], r->B, r->T)) return runtime_usage_error(info, "out of memory");
    draw_eval_set(r);
    return -1;
}

/* After the kit drew every weight from (seed, 1): the teacher as read, and the student from
 * it (student_init=teacher) or as drawn (random). */
static void weights(Run *r)
{
    Distil *m = KIT_SELF(r, Distil);
    Model *t = kit_model(r, DI_TEACHER);
    ENGINE_CHECK(model_copy_matching(t, &m->teacher.model) == t->nnamed, "the teacher does not fit the model");
    if ((int)KEY(r, "student_init") == INIT_TEACHER) distil_init_student(kit_model(r, DI_STUDENT), t);
    m->forwards = 0;
    memset(m->forward_ms, 0, sizeof m->forward_ms);
}

static void lesson_free(Run *r)
{
    Distil *m = KIT_SELF(r, Distil);
    kit_mlm_batch_free(&m->batch);
    for (int i = 0; i < DI_EVAL_BATCHES; i++) kit_mlm_batch_free(&m->eval_batches[i]);
    kit_pretrained_free(&m->teacher);
    corpus_free(&m->train);
    corpus_free(&m->eval);
    vocab_free(&m->vocab);
}

/* ---------------------------------------------------------------------- loss ---- */

/* Both models on a batch and the three losses. The teacher runs without recording anything
 * (it is frozen, and its logits and hidden states are constants of the student's loss). */
static void forward_both(Run *r, const KitMlmBatch *b, DistilPass *p)
{
    Tape *tp = &r->tape;
    Batch in = {b->B, b->T, b->input, b->token_types, b->attention_mask};
    bool was = tp->no_grad;
    *p = (DistilPass){0};
    for (int i = DI_MODELS - 1; i >= 0; i--) { /* the teacher first */
        Model *md = kit_model(r, i);
        double t0 = runtime_seconds();
        tp->no_grad = was || i == DI_TEACHER;
        model_forward(md, tp, &in, &p->f[i]);
        p->logits[i] = model_lm_logits(md, tp, p->f[i].hidden);
        p->ms[i] = (runtime_seconds() - t0) * 1e3;
    }
    tp->no_grad = was;
    double T = KEY(r, "temperature");
    Tensor *s = p->logits[DI_STUDENT], *t = p->logits[DI_TEACHER];
    p->part[PART_CE] = op_scale(tp, op_kl_div(tp, s, t, (float)T, b->attention_mask), (float)(T * T));
    p->part[PART_MLM] = op_cross_entropy(tp, s, b->labels);
    p->part[PART_COS] = op_cosine_loss(tp, p->f[DI_STUDENT].hidden, p->f[DI_TEACHER].hidden, b->attention_mask);
    static const char *const alpha[PART_COUNT] = {"alpha_ce", "alpha_mlm", "alpha_cos"};
    for (int k = 0; k < PART_COUNT; k++) {
        Tensor *w = op_scale(tp, p->part[k], (float)KEY(r, alpha[k]));
        p->total = p->total ? op_add(tp, p->total, w) : w;
    }
}

/* masked-token hits of one model's logits (B,T,V) at the batch's selected positions */
static int masked_right(const Tensor *logits, const KitMlmBatch *b)
{
    int V = logits->shape[logits->ndim - 1], right = 0;
    for (int s = 0; s < b->nsel; s++) right += op_argmax(logits->data + (size_t)b->rows[s] * V, V) == b->targets[s];
    return right;
}

/* positions (not padding) where the student's top-1 is the teacher's */
static int agreeing(const DistilPass *p, const KitMlmBatch *b, int *n)
{
    int V = p->logits[0]->shape[2], same = 0;
    *n = 0;
    for (int i = 0; i < b->B * b->T; i++) {
        if (!b->attention_mask[i]) continue;
        (*n)++;
        same += op_argmax(p->logits[DI_STUDENT]->data + (size_t)i * V, V) ==
                op_argmax(p->logits[DI_TEACHER]->data + (size_t)i * V, V);
    }
    return same;
}

/* the mean cross-entropy of logits (B,T,V) at the selected positions, in double */
static double masked_ce(const Tensor *logits, const KitMlmBatch *b)
{
    int V = logits->shape[logits->ndim - 1];
    double sum = 0;
    for (int s = 0; s < b->nsel; s++) {
        const float *x = logits->data + (size_t)b->rows[s] * V;
        int arg = op_argmax(x, V);
        double z = 0;
        for (int v = 0; v < V; v++) z += exp((double)x[v] - x[arg]);
        sum += x[arg] + log(z) - x[b->targets[s]];
    }
    return b->nsel ? sum / b->nsel : 0;
}

static Tensor *loss(Run *r, float *parts, float *extra)
{
    Distil *m = KIT_SELF(r, Distil);
    const KitMlmBatch *b = &m->batch;
    DistilPass *p = &m->pass;
    forward_both(r, b, p);
    for (int i = 0; i < DI_MODELS; i++) {
        kit_keep_attention(r, i, 0, p->f[i].attn);
        if (m->forwards >= 10) m->forward_ms[i] = m->forward_ms[i] > 0 ? 0.95 * m->forward_ms[i] + 0.05 * p->ms[i] : p->ms[i];
    }
    m->forwards++;
    static const char *const alpha[PART_COUNT] = {"alpha_ce", "alpha_mlm", "alpha_cos"};
    for (int k = 0; k < PART_COUNT; k++) {
        parts[k] = p->part[k]->data[0];
        extra[DI_ALPHA_CE + k] = (float)KEY(r, alpha[k]);
    }
    int n, same = agreeing(p, b, &n);
    extra[DI_TEACHER_MLM] = (float)masked_ce(p->logits[DI_TEACHER], b);
    extra[DI_ACCURACY] = b->nsel ? (float)masked_right(p->logits[DI_STUDENT], b) / (float)b->nsel : 0;
    extra[DI_TEACHER_ACCURACY] = b->nsel ? (float)masked_right(p->logits[DI_TEACHER], b) / (float)b->nsel : 0;
    extra[DI_AGREEMENT] = n ? (float)same / (float)n : 0;
    return p->total;
}

/* ---------------------------------------------------------------- evaluation ---- */

static void evaluate(Run *r, float *extra)
{
    Distil *m = KIT_SELF(r, Distil);
    double mlm[DI_MODELS] = {0}, ce = 0;
    int right[DI_MODELS] = {0}, nsel = 0, same = 0, positions = 0;
    for (int k = 0; k < DI_EVAL_BATCHES; k++) {
        const KitMlmBatch *b = &m->eval_batches[k];
        KitScope scope = kit_eval_begin(r);
        DistilPass p;
        forward_both(r, b, &p);
        for (int i = 0; i < DI_MODELS; i++) {
            mlm[i] += masked_ce(p.logits[i], b) * b->nsel;
            right[i] += masked_right(p.logits[i], b);
        }
        int n;
        same += agreeing(&p, b, &n);
        positions += n;
        ce += (double)p.part[PART_CE]->data[0] * n;
        nsel += b->nsel;
        kit_eval_end(r, scope);
    }
    for (int i = 0; i < DI_MODELS; i++) {
        extra[DI_EVAL_MLM_LOSS + i] = nsel ? (float)(mlm[i] / nsel) : 0;
        extra[DI_EVAL_ACCURACY + i] = nsel ? (float)right[i] / (float)nsel : 0;
    }
    extra[DI_EVAL_CE] = positions ? (float)(ce / positions) : 0;
    extra[DI_EVAL_AGREEMENT] = positions ? (float)same / (float)positions : 0;
}

/* ----------------------------------------------------------- the reference ---- */

static double log_softmax_at(const float *x, int V, double T, int at, double *lse_out)
{
    double mx = x[0];
    for (int v = 1; v < V; v++) mx = x[v] > mx ? x[v] : mx;
    double z = 0;
    for (int v = 0; v < V; v++) z += exp((x[v] - mx) / T);
    double lse = mx / T + log(z);
    if (lse_out) *lse_out = lse;
    return at >= 0 ? x[at] / T - lse : 0;
}

DistilLoss distil_reference(const float *s_logits, const float *t_logits, const float *s_hidden,
                            const float *t_hidden, const int32_t *labels, const uint8_t *keep, int rows, int V,
                            int H, double T, double alpha_ce, double alpha_mlm, double alpha_cos)
{
    DistilLoss d = {0};
    int kept = 0, selected = 0;
    for (int i = 0; i < rows; i++) {
        const float *s = s_logits + (size_t)i * V, *t = t_logits + (size_t)i * V;
        if (labels[i] != -100) {
            double lse;
            log_softmax_at(s, V, 1, -1, &lse);
            d.mlm += lse - s[labels[i]];
            selected++;
        }
        if (keep && !keep[i]) continue;
        kept++;
        double ls, lt, kl = 0;
        log_softmax_at(s, V, T, -1, &ls);
        log_softmax_at(t, V, T, -1, &lt);
        for (int v = 0; v < V; v++) {
            double lpt = t[v] / T - lt, lps = s[v] / T - ls;
            kl += exp(lpt) * (lpt - lps);
        }
        d.ce += kl;
        const float *a = s_hidden + (size_t)i * H, *b = t_hidden + (size_t)i * H;
        double ab = 0, aa = 0, bb = 0;
        for (int c = 0; c < H; c++) ab += (double)a[c] * b[c], aa += (double)a[c] * a[c], bb += (double)b[c] * b[c];
        d.cos += 1 - ab / sqrt((aa + 1e-12) * (bb + 1e-12));
    }
    d.ce = kept ? d.ce / kept * T * T : 0;
    d.cos = kept ? d.cos / kept : 0;
    d.mlm = selected ? d.mlm / selected : 0;
    d.total = alpha_ce * d.ce + alpha_mlm * d.mlm + alpha_cos * d.cos;
    return d;
}

/* ------------------------------------------------------------- export tables ---- */

static const KitTensorSpec batch_tensors[] = {KIT_MLM_BATCH_TENSORS};

static const void *batch_data(const Run *r, int i) { return kit_mlm_batch_data(&KIT_SELF(r, Distil)->batch, i); }

/* --------------------------------------------------------------- description ---- */

static const char *const parts[] = {"ce", "mlm", "cos"};
static const char *const extra[] = {"teacher_mlm",           "accuracy",          "teacher_accuracy", "agreement",
                                    "eval_mlm_loss",         "eval_teacher_mlm_loss", "eval_accuracy",
                                    "eval_teacher_accuracy", "eval_ce",           "eval_agreement",
                                    "alpha_ce",              "alpha_mlm",         "alpha_cos"};
static const KitModelSpec models[] = {
    {"student", "DistilBertForMaskedLM", DI_STUDENT, true, {""}, "student", false},
    {"teacher", "BertForMaskedLM", DI_TEACHER, false, {""}, "teacher", false},
};

const Lesson distil_lesson = {
    .info = {"distil", "DistilBERT: knowledge distillation",
             "A student of half the layers learns from a frozen teacher: its softened predictions, its hidden states "
             "and the true tokens.",
             keys, (int)(sizeof keys / sizeof keys[0]), 64, 1e-3f, "teacher",
             "the teacher: a checkpoint of fmlab-mlm or fmlab-nsp (--save) of these model keys; without it, one is "
             "built with fmlab-mlm and cached",
             "3 × ln(vocab_size) ×\n(alpha_ce + alpha_mlm + alpha_cos): three times the loss of guessing every token uniformly,\nin each part"},
    .models = models,
    .nmodels = DI_MODELS,
    .parts = parts,
    .nparts = PART_COUNT,
    .extra = extra,
    .nextra = DI_NEXTRA,
    .batch = batch_tensors,
    .nbatch = (int)(sizeof batch_tensors / sizeof batch_tensors[0]),
    .state_size = sizeof(Distil),
    .init = init,
    .free = lesson_free,
    .weights = weights,
    .reset = draw_eval_set,
    .next_batch = next_batch,
    .loss = loss,
    .evaluate = evaluate,
    .batch_data = batch_data,
    .on_setting = on_setting,
};
