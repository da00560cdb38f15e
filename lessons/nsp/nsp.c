/* nsp.c — fmlab-nsp: BERT's next-sentence prediction, on top of its masked LM.
 *
 * What is new here: the model reads two segments at once, "[CLS] A [SEP] B [SEP]", and
 * besides the masked tokens it says whether B is the text that really followed A (IsNext) or
 * a span from another chapter (NotNext). The answer comes from [CLS]: its last hidden state
 * goes through the pooler (dense + tanh) and a two-way classifier. The input is a sum of
 * three lookups: the token, its segment (A or B) and its position.
 *
 * With --set objective=sop the negative is ALBERT's instead: the same two consecutive
 * segments, swapped. Sentence order cannot be told from the topic, only from the text's flow.
 *
 * What to watch: the masked LM learning first, as in mlm, while the pair loss sits at ln 2;
 * NSP accuracy leaving the 50% chance line after a couple of thousand steps and ending about
 * where the word-overlap baseline is (at this scale NSP is topic); SOP staying at chance; the
 * attention of [CLS] (the pooler reads only it).
 *
 * How to run: fmlab-nsp (window); fmlab-nsp --headless --steps 300 --export out/
 * The pairs come from datasets/corpus.c (corpus_pairs, corpus_pack_pair) and the masking from
 * lessons/common/masking.c; the sections below are in the same order as in every lesson. */
#include "lessons/nsp/lesson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ settings ---- */

static const char *const objectives[] = {"nsp", "sop", NULL};

static const KeyDef keys[] = {
    /* model (Hugging Face BertConfig names) */
    {"vocab_size", 2000, 100, 30000, true, "WordPiece vocabulary size (2000 is shipped; others are learned at start)", NULL},
    {"hidden_size", 64, 8, 1024, true, "width of every token's vector", NULL},
    {"num_hidden_layers", 2, 1, 24, true, "encoder layers", NULL},
    {"num_attention_heads", 4, 1, 32, true, "heads per layer (must divide hidden_size)", NULL},
    {"intermediate_size", 256, 8, 8192, true, "feed-forward width", NULL},
    /* lesson */
    {"seq_len", 48, 8, 512, true, "tokens per pair: [CLS] A [SEP] B [SEP] and padding", NULL},
    {"objective", OBJ_NSP, OBJ_NSP, OBJ_SOP, true,
     "the pair task: nsp (B follows A, or comes from another chapter) or sop (A, B in order, or swapped)", objectives},
    {"mlm_probability", 0.15, 0, 1, false, "chance that a token is selected for masked-LM prediction", NULL},
    {"mask_replace_prob", 0.8, 0, 1, false, "of the selected: replaced by [MASK]", NULL},
    {"random_replace_prob", 0.1, 0, 1, false, "of the selected: replaced by a random token", NULL},
    KIT_TRAINER_KEYS(100, 50),
};

#define KEY(r, name) kit_value(r, name)

/* ---------------------------------------------------------- data and corruption ---- */

/* B pairs as BERT's create_pretraining_data makes them, then the MLM corruption of every lesson
 * of the BERT family on top (lessons/common/pairs.c). */
static void draw_batch(Nsp *m, const Corpus *c, Rng *r, int task, NspBatch *b)
{
    kit_pair_batch_draw(&m->mask, c, r, task == OBJ_SOP ? PAIR_SOP : PAIR_NSP, b);
}

static void next_batch(Run *r)
{
    Nsp *m = KIT_SELF(r, Nsp);
    draw_batch(m, &m->train, &r->rng, m->objective, &m->batch);
}

float nsp_overlap(const int32_t *ids, const int32_t *types, const uint8_t *mask, int T, const uint8_t *skip)
{
    /* distinct tokens of each side: a token is in A if type 0, in B if type 1; specials out */
    int both = 0;
    for (int i = 0; i < T && mask[i]; i++) {
        if (vocab_is_special(ids[i]) || (skip && skip[ids[i]])) continue;
        bool first = true, in_a = false, in_b = false;
        for (int j = 0; j < i && first; j++) first = ids[j] != ids[i];
        if (!first) continue;
        for (int j = i; j < T && mask[j]; j++)
            if (ids[j] == ids[i]) {
                in_a |= types[j] == 0;
                in_b |= types[j] == 1;
            }
        both += in_a && in_b;
    }
    return (float)both;
}

/* The word-overlap baseline: a threshold on nsp_overlap ("IsNext when A and B share at least
 * this many tokens"), fitted on training pairs (the one that classifies most of them right),
 * then tested on held-out pairs of both tasks. It has no order information at all, so on SOP
 * (the same tokens, swapped) it cannot beat chance. */
static void fit_overlap(Nsp *m, Rng *er, int T)
{
    if (!m->common) { /* the NSP_COMMON most frequent tokens: "the", ",", "of", ... */
        int V = m->vocab.size;
        int64_t *counts = calloc((size_t)V, sizeof *counts);
        m->common = calloc((size_t)V, 1);
        if (counts && m->common) {
            corpus_unigram(&m->train, V, counts);
            for (int k = 0; k < NSP_COMMON && k < V; k++) {
                int best = -1;
                for (int v = 0; v < V; v++)
                    if (!m->common[v] && !vocab_is_special(v) && (best < 0 || counts[v] > counts[best])) best = v;
                if (best >= 0) m->common[best] = 1;
            }
        }
        free(counts);
    }
    int n = NSP_OVERLAP_PAIRS;
    int32_t *ids = malloc((size_t)n * T * 4), *types = malloc((size_t)n * T * 4), *labels = malloc((size_t)n * 4);
    uint8_t *mask = malloc((size_t)n * T);
    float *score = malloc((size_t)n * sizeof *score);
    m->overlap = (NspOverlap){0.5f, NAN, NAN, NAN, NAN};
    if (ids && types && labels && mask && score) {
        corpus_pairs(&m->train, er, PAIR_NSP, n, T, ids, types, mask, labels, NULL);
        for (int i = 0; i < n; i++) score[i] = nsp_overlap(ids + (size_t)i * T, types + (size_t)i * T, mask + (size_t)i * T, T, m->common);
        int best = -1;
        for (int i = 0; i < n; i++) { /* each score as the threshold; ties keep the lower */
            int right = 0;
            for (int j = 0; j < n; j++) right += (score[j] >= score[i]) == (labels[j] == 0);
            if (right > best) best = right, m->overlap.threshold = score[i];
        }
        for (int task = PAIR_NSP; task <= PAIR_SOP; task++) {
            corpus_pairs(&m->eval, er, (PairTask)task, n, T, ids, types, mask, labels, NULL);
            int right = 0;
            double sum[2] = {0}, cnt[2] = {0};
            for (int i = 0; i < n; i++) {
                float s = nsp_overlap(ids + (size_t)i * T, types + (size_t)i * T, mask + (size_t)i * T, T, m->common);
                right += (s >= m->overlap.threshold) == (labels[i] == 0);
                sum[labels[i]] += s;
                cnt[labels[i]]++;
            }
            if (task == PAIR_NSP) {
                m->overlap.nsp = (double)right / n;
                m->overlap.same_doc = cnt[0] ? sum[0] / cnt[0] : NAN;
                m->overlap.other_doc = cnt[1] ? sum[1] / cnt[1] : NAN;
            } else {
                m->overlap.sop = (double)right / n;
            }
        }
    }
    free(ids), free(types), free(labels), free(mask), free(score);
}

/* a fixed held-out set of each task, the same for every run with this seed, and the
 * overlap baseline drawn after it from the same stream */
static void draw_eval_set(Run *r)
{
    Nsp *m = KIT_SELF(r, Nsp);
    Rng er;
    rng_seed(&er, r->opt.seed, 2);
    for (int task = OBJ_NSP; task <= OBJ_SOP; task++)
        for (int i = 0; i < NSP_EVAL_BATCHES; i++) draw_batch(m, &m->eval, &er, task, &m->eval_batches[task][i]);
    fit_overlap(m, &er, r->T);
}

/* The settings the window changes while it runs: the objective and the corruption's rates
 * (the two replacement shares cannot add up to more than 1; the one not changed gives way). */
static void on_setting(Run *r, int key)
{
    Nsp *m = KIT_SELF(r, Nsp);
    kit_masking_set(r, key, &m->mask);
    m->objective = (int)KEY(r, "objective");
    r->refs[REF_OVERLAP] = m->objective == OBJ_SOP ? m->overlap.sop : m->overlap.nsp; /* on the task trained */
}

/* ------------------------------------------------------------------- model ---- */

static int init(Run *r)
{
    Nsp *m = KIT_SELF(r, Nsp);
    const LessonInfo *info = &r->lesson->info;
    m->objective = (int)KEY(r, "objective");
    ModelConfig cfg;
    int rc;
    if ((rc = kit_masking_config(r, &m->mask)) >= 0 || (rc = kit_model_config(r, MODEL_BERT_PRETRAIN, &cfg)) >= 0)
        return rc;
    rc = kit_load_moby_dick(r, &m->vocab, &m->train, &m->eval);
    if (rc >= 0) return rc;
    cfg.vocab_size = m->vocab.size;
    m->mask.vocab_size = m->vocab.size;
    r->diverge_above = 3.0f * logf((float)m->vocab.size); /* far worse than a uniform guess */
    if (corpus_unigram_baseline(&m->train, m->vocab.size, &r->refs[REF_UNIGRAM_ENTROPY], &(double){0}))
        return runtime_usage_error(info, "out of memory");
    r->refs[REF_CHANCE_LOSS] = log(2.0);   /* the loss of answering 50/50 */
    r->refs[REF_CHANCE_ACCURACY] = 0.5;

    model_init(kit_model(r, 0), &cfg, kit_block(r, 0), "", NULL);

    r->arena_bytes = kit_arena_bytes(r, &cfg);
    if (kit_pair_batch_alloc(&m->batch, r->B, r->T)) return runtime_usage_error(info, "out of memory");
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < NSP_EVAL_BATCHES; i++)
            if (kit_pair_batch_alloc(&m->eval_batches[t][i], r->B, r->T)) return runtime_usage_error(info, "out of memory");
    if (!(m->p_is_next = calloc((size_t)r->B, sizeof *m->p_is_next))) return runtime_usage_error(info, "out of memory");
    draw_eval_set(r);
    r->refs[REF_OVERLAP] = m->objective == OBJ_SOP ? m->overlap.sop : m->overlap.nsp;
    return -1;
}

static void lesson_free(Run *r)
{
    Nsp *m = KIT_SELF(r, Nsp);
    kit_pair_batch_free(&m->batch);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < NSP_EVAL_BATCHES; i++) kit_pair_batch_free(&m->eval_batches[t][i]);
    free(m->p_is_next);
    free(m->common);
    corpus_free(&m->train);
    corpus_free(&m->eval);
    vocab_free(&m->vocab);
}

/* ---------------------------------------------------------------------- loss ---- */

/* Forward on a batch: BertForPreTraining's two heads (lessons/common/pairs.c); total = mlm + nsp. */
static Tensor *forward_loss(Run *r, NspBatch *b, Forward *f, Tensor **mlm, Tensor **nsp, Tensor **seq, Tensor **logits)
{
    return kit_pair_forward(r, kit_model(r, 0), b, f, mlm, nsp, seq, logits);
}


static Tensor *loss(Run *r, float *parts, float *extra)
{
    Nsp *m = KIT_SELF(r, Nsp);
    NspBatch *b = &m->batch;
    Tensor *mlm, *nsp, *seq, *logits;
    Tensor *l = forward_loss(r, b, &m->fwd, &mlm, &nsp, &seq, &logits);
    kit_keep_attention(r, 0, 0, m->fwd.attn);
    int right = 0;
    for (int i = 0; i < b->B; i++) {
        m->p_is_next[i] = kit_pair_p_first(seq->data + 2 * i);
        right += (m->p_is_next[i] < 0.5f) == (b->pair_label[i] == 1);
    }
    parts[0] = mlm->data[0];
    parts[1] = nsp->data[0];
    extra[NSP_PAIR_ACCURACY] = (float)right / (float)b->B;
    extra[NSP_MLM_ACCURACY] = b->nsel ? (float)kit_argmax_right(logits, b->targets, b->nsel) / (float)b->nsel : 0;
    return l;
}

/* ---------------------------------------------------------------- evaluation ---- */

static void evaluate(Run *r, float *extra)
{
    Nsp *m = KIT_SELF(r, Nsp);
    double mlm_sum = 0, pair_loss[2] = {0};
    int mlm_n = 0, mlm_right = 0, pair_right[2] = {0}, pairs[2] = {0};
    for (int task = OBJ_NSP; task <= OBJ_SOP; task++)
        for (int i = 0; i < NSP_EVAL_BATCHES; i++) {
            NspBatch *b = &m->eval_batches[task][i];
            KitScope scope = kit_eval_begin(r);
            Forward f;
            Tensor *mlm, *nsp, *seq, *logits;
            forward_loss(r, b, &f, &mlm, &nsp, &seq, &logits);
            for (int k = 0; k < b->B; k++) pair_right[task] += (kit_pair_p_first(seq->data + 2 * k) < 0.5f) == (b->pair_label[k] == 1);
            pair_loss[task] += (double)nsp->data[0] * b->B;
            pairs[task] += b->B;
            if (task == OBJ_NSP) { /* the masked LM on one set is enough */
                mlm_sum += (double)mlm->data[0] * b->nsel;
                mlm_n += b->nsel;
                mlm_right += kit_argmax_right(logits, b->targets, b->nsel);
            }
            kit_eval_end(r, scope);
        }
    int o = m->objective;
    extra[NSP_EVAL_MLM_LOSS] = mlm_n ? (float)(mlm_sum / mlm_n) : 0;
    extra[NSP_EVAL_MLM_ACCURACY] = mlm_n ? (float)mlm_right / (float)mlm_n : 0;
    extra[NSP_EVAL_PAIR_LOSS] = (float)(pair_loss[o] / pairs[o]);
    extra[NSP_EVAL_PAIR_ACCURACY] = (float)pair_right[o] / (float)pairs[o];
    extra[NSP_EVAL_NSP_ACCURACY] = (float)pair_right[OBJ_NSP] / (float)pairs[OBJ_NSP];
    extra[NSP_EVAL_SOP_ACCURACY] = (float)pair_right[OBJ_SOP] / (float)pairs[OBJ_SOP];
}

/* ------------------------------------------------------------- export tables ---- */

static const KitTensorSpec batch_tensors[] = {KIT_PAIR_BATCH_TENSORS("next_sentence_label")};

static const void *batch_data(const Run *r, int i) { return kit_pair_batch_data(&KIT_SELF(r, Nsp)->batch, i); }

/* --------------------------------------------------------------------- probe ---- */

void nsp_probe(Run *r, Model *model, const char *text, NspProbe *out) { kit_pair_probe(r, model, text, out); }

/* --------------------------------------------------------------- description ---- */

static const char *const parts[] = {"mlm", "nsp"};
static const char *const extra[] = {"pair_accuracy",     "mlm_accuracy",       "eval_mlm_loss",
                                    "eval_mlm_accuracy", "eval_pair_loss",     "eval_pair_accuracy",
                                    "eval_nsp_accuracy", "eval_sop_accuracy"};
static const KitModelSpec models[] = {{"bert", "BertForPreTraining", 0, true, {""}, NULL, false}};

const Lesson nsp_lesson = {
    .info = {"nsp", "BERT next-sentence prediction",
             "Is B the text that follows A, or from another chapter? [CLS], [SEP], segments, and ALBERT's sentence order.",
             keys, (int)(sizeof keys / sizeof keys[0]), 32, 2e-3f, NULL, NULL, NULL},
    .models = models,
    .nmodels = 1,
    .parts = parts,
    .nparts = 2,
    .extra = extra,
    .nextra = NSP_NEXTRA,
    .batch = batch_tensors,
    .nbatch = (int)(sizeof batch_tensors / sizeof batch_tensors[0]),
    .state_size = sizeof(Nsp),
    .init = init,
    .free = lesson_free,
    .reset = draw_eval_set,
    .next_batch = next_batch,
    .loss = loss,
    .evaluate = evaluate,
    .batch_data = batch_data,
    .on_setting = on_setting,
};
