/* icl.c — fmlab-icl: in-context learning. A GPT learns, by next-token prediction alone, to
 * do a task it is shown in its prompt, with no gradient step at test time.
 *
 * What is new here: fmlab-gpt trained a GPT on Moby-Dick. GPT-3 (Brown et al. 2020) showed
 * that such a model, big enough, does tasks from a prompt: zero-shot (the question only),
 * one-shot (one solved example first), few-shot (a few), better with more examples, its
 * weights frozen. A tiny model on a novel cannot show that; a tiny model trained on the
 * right text can. Every training row here is a fresh secret code: each letter stands for a
 * digit, and the row shows pairs "c 7 a 2 f 9 a 2 …". The code changes with every row, so
 * no weight can store it: the only way to predict the digit after a letter is to find that
 * letter earlier in the row and copy what came after it. A quarter of the rows are a random
 * segment followed by its copy, where the same trick predicts the whole copy. The circuit
 * that does it is an induction head (Olsson et al. 2022): a head in layer 1 that looks at
 * the previous token writes "what came before me" into each position; a head in layer 2
 * looks for the position whose previous token is the current one, and copies it. With one
 * layer there is no earlier head to lean on, and the trick is out of reach.
 *
 * What to watch: the accuracy at 1, 2, 4 and 8 shots leaving the chance line (10%) together
 * while 0-shot stays on it; the loss on the copy of a segment dropping below the loss on the
 * segment itself (the in-context learning score) in a sudden step, the phase change, at the
 * moment one head's induction score jumps. Then --set num_hidden_layers=1.
 *
 * How to run: fmlab-icl (window); fmlab-icl --headless --steps 2000 --export out/
 * The sections below are in the same order in every lesson: settings, data, model, loss,
 * evaluation, export tables, the probe, the description. */
#include "lessons/icl/lesson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ settings ---- */

static const KeyDef keys[] = {
    /* model (Hugging Face names: GPT2Config maps them to n_embd, n_layer, n_head, n_inner) */
    {"hidden_size", 64, 8, 1024, true, "width of every token's vector (n_embd)", NULL},
    {"num_hidden_layers", 2, 1, 12, true, "decoder layers (n_layer); 1: no induction head can form", NULL},
    {"num_attention_heads", 4, 1, 16, true, "heads per layer (n_head; must divide hidden_size)", NULL},
    {"intermediate_size", 256, 8, 8192, true, "feed-forward width (n_inner)", NULL},
    /* lesson */
    {"seq_len", 32, 8, 72, true, "tokens per row, even: 16 pairs, or a segment of 16 and its copy", NULL},
    {"domain", 8, 2, 26, true, "letters a few-shot row draws its pairs from (the row's code covers them)", NULL},
    {"text_share", 0.4, 0, 1, false, "share of rows that are Moby-Dick, letter by letter", NULL},
    {"repeat_share", 0.4, 0, 1, false, "share of rows that are a random segment and its copy (the rest: few-shot pairs)",
     NULL},
    KIT_TRAINER_KEYS(100, 50),
};

#define KEY(r, name) kit_value(r, name)

/* The lesson's own generator, past the kit's three (kit.h): the held-out prompts. */
enum { STREAM_EPISODES = 3 };

/* ---------------------------------------------------------------------- data ---- */

static int batch_alloc(IclBatch *b, int B, int T)
{
    b->kind = malloc((size_t)B);
    b->role = malloc((size_t)B * T);
    b->seg_at = calloc((size_t)B, 1);
    b->seg_len = calloc((size_t)B, 1);
    return kit_lm_batch_alloc(&b->lm, B, T) || !b->kind || !b->role || !b->seg_at || !b->seg_len ? -1 : 0;
}

static void batch_free(IclBatch *b)
{
    kit_lm_batch_free(&b->lm);
    free(b->kind);
    free(b->role);
    free(b->seg_at);
    free(b->seg_len);
}

/* the first n of a random order of 0..m-1 (a partial Fisher–Yates shuffle) */
static void draw_distinct(Rng *r, int m, int n, int *out)
{
    int all[ICL_SYMBOLS];
    for (int i = 0; i < m; i++) all[i] = i;
    for (int i = 0; i < n; i++) {
        int j = i + (int)rng_below(r, (uint32_t)(m - i));
        int t = all[i];
        all[i] = all[j];
        all[j] = t;
        out[i] = all[i];
    }
}

void icl_fewshot_row(Rng *r, int T, int domain, int32_t *ids)
{
    int letters[ICL_LETTERS], code[ICL_LETTERS];
    draw_distinct(r, ICL_LETTERS, domain, letters);
    for (int i = 0; i < domain; i++) code[i] = (int)rng_below(r, ICL_DIGITS); /* the row's secret code */
    for (int p = 0; p + 1 < T; p += 2) {
        int i = (int)rng_below(r, (uint32_t)domain);
        ids[p] = ICL_LETTER0 + letters[i];
        ids[p + 1] = ICL_DIGIT0 + code[i];
    }
}

void icl_repeat_row(Rng *r, int T, int32_t *ids)
{
    int L = T / 2, seg[ICL_SYMBOLS];
    draw_distinct(r, ICL_SYMBOLS, L, seg);
    for (int i = 0; i < L; i++) ids[i] = ids[L + i] = ICL_LETTER0 + seg[i]; /* letters then digits: one block */
}

/* A training row: a segment of random length of distinct symbols, repeated over and over from
 * a random place on (random symbols before it). The distance to the earlier occurrence varies
 * from row to row, so no head can predict the copy by position alone: it has to find the
 * earlier occurrence of the current token by its content. */
static void repeat_row_anywhere(Rng *r, int T, int32_t *ids, uint8_t *role, uint8_t *seg_at, uint8_t *seg_len)
{
    int L = rng_range(r, 2, T / 2), at = rng_range(r, 0, T - 2 * L), seg[ICL_SYMBOLS];
    *seg_at = (uint8_t)at;
    *seg_len = (uint8_t)L;
    draw_distinct(r, ICL_SYMBOLS, L, seg);
    for (int t = 0; t < T; t++) {
        ids[t] = t < at ? ICL_LETTER0 + (int)rng_below(r, ICL_SYMBOLS) : ICL_LETTER0 + seg[(t - at) % L];
        role[t] = t < at ? ROLE_NOISE : t < at + L ? ROLE_FIRST : t == at + L ? ROLE_COPY_START : ROLE_COPY;
    }
}

int32_t icl_episode(Rng *r, int k, int32_t *ids)
{
    int letters[ICL_LETTERS], code[ICL_LETTERS];
    int n = k > 0 ? k : 1;
    draw_distinct(r, ICL_LETTERS, n, letters);
    for (int i = 0; i < n; i++) code[i] = (int)rng_below(r, ICL_DIGITS);
    for (int i = 0; i < k; i++) {
        ids[2 * i] = ICL_LETTER0 + letters[i];
        ids[2 * i + 1] = ICL_DIGIT0 + code[i];
    }
    int q = (int)rng_below(r, (uint32_t)n);
    ids[2 * k] = ICL_LETTER0 + letters[q];
    return ICL_DIGIT0 + code[q];
}

void icl_roles(const int32_t *ids, int T, uint8_t *role)
{
    bool seen[ICL_V] = {false};
    for (int t = 0; t < T; t++) {
        if (t % 2 == 0) {
            role[t] = seen[ids[t]] ? ROLE_X_SEEN : ROLE_X_NEW;
            seen[ids[t]] = true;
        } else {
            role[t] = role[t - 1] == ROLE_X_SEEN ? ROLE_Y_ANSWER : ROLE_Y_FREE;
        }
    }
}

size_t icl_text_tokens(const char *text, int32_t *out, size_t cap)
{
    size_t n = 0;
    bool gap = true; /* no "_" at the start */
    for (const unsigned char *c = (const unsigned char *)text; *c && n < cap; c++) {
        if (*c >= 'A' && *c <= 'Z') out[n++] = ICL_LETTER0 + (*c - 'A'), gap = false;
        else if (*c >= 'a' && *c <= 'z') out[n++] = ICL_LETTER0 + (*c - 'a'), gap = false;
        else if (*c >= '0' && *c <= '9') out[n++] = ICL_DIGIT0 + (*c - '0'), gap = false;
        else if (*c == '\'' || ((*c & 0xC0) == 0x80)) continue; /* "whale's" stays a word; a UTF-8 tail once */
        else if (!gap) out[n++] = ICL_GAP, gap = true;
    }
    return n;
}

/* B rows: Moby-Dick (text_share of them on average), repeated segments (repeat_share), code
 * rows (the rest), or only the kind `only` (the held-out rows); and their targets: the same
 * tokens one place to the left. */
static void draw_rows(Rng *r, const Icl *m, IclBatch *b, int only)
{
    int T = b->lm.T, count[3] = {0, 0, 0};
    /* the kinds first, then the rows in the order code rows, segments, text: the window's
       first row is a code row whenever the batch has one (the loss is a mean: order is moot) */
    for (int i = 0; i < b->lm.B; i++) {
        float u = rng_uniform(r);
        count[only >= 0 ? only : u < m->text_share ? ICL_TEXT : u < m->text_share + m->repeat_share ? ICL_REPEAT : ICL_FEWSHOT]++;
    }
    for (int i = 0; i < b->lm.B; i++) {
        int32_t *row = b->lm.ids + (size_t)i * T;
        b->kind[i] = i < count[ICL_FEWSHOT] ? ICL_FEWSHOT : i < count[ICL_FEWSHOT] + count[ICL_REPEAT] ? ICL_REPEAT : ICL_TEXT;
        uint8_t *role = b->role + (size_t)i * T;
        b->seg_at[i] = b->seg_len[i] = 0;
        if (b->kind[i] == ICL_TEXT) {
            size_t at = rng_below(r, (uint32_t)(m->ntext - (size_t)T));
            memcpy(row, m->text + at, (size_t)T * sizeof *row);
            memset(role, ROLE_TEXT, (size_t)T);
        } else if (b->kind[i] == ICL_FEWSHOT) {
            icl_fewshot_row(r, T, m->domain, row);
            icl_roles(row, T, role);
        } else if (only < 0) repeat_row_anywhere(r, T, row, role, &b->seg_at[i], &b->seg_len[i]);
        else {
            icl_repeat_row(r, T, row);
            b->seg_len[i] = (uint8_t)(T / 2);
            for (int t = 0; t < T; t++) role[t] = t < T / 2 ? ROLE_FIRST : t == T / 2 ? ROLE_COPY_START : ROLE_COPY;
        }
    }
    kit_lm_targets(&b->lm);
}

static void next_batch(Run *r)
{
    Icl *m = KIT_SELF(r, Icl);
    draw_rows(&r->rng, m, &m->batch, -1);
}

/* the held-out set, the same for every run with this seed: rows of each kind from (seed, 2),
 * and ICL_EVAL_ROWS k-shot prompts for each k of the table from (seed, 3) */
static void draw_eval(Run *r)
{
    Icl *m = KIT_SELF(r, Icl);
    Rng er;
    rng_seed(&er, r->opt.seed, 2);
    for (int kind = 0; kind < 2; kind++) draw_rows(&er, m, &m->eval[kind], kind);
    rng_seed(&er, r->opt.seed, STREAM_EPISODES);
    for (int s = 0; s < ICL_NSHOTS; s++) {
        IclEpisodes *e = &m->episodes[s];
        for (int i = 0; i < e->n; i++) e->answer[i] = icl_episode(&er, e->k, e->ids + (size_t)i * (2 * e->k + 1));
    }
}

/* The shares of text and repeated segments cannot add up to more than 1 (the rest of the rows
 * are code rows): raising one takes the code rows' share first, then the other gives way. */
static void on_setting(Run *r, int key)
{
    Icl *m = KIT_SELF(r, Icl);
    int text = runtime_key_index(&r->lesson->info, "text_share"), rep = runtime_key_index(&r->lesson->info, "repeat_share");
    if ((key == text || key == rep) && r->opt.value[text] + r->opt.value[rep] > 1)
        r->opt.value[key == text ? rep : text] = 1 - r->opt.value[key];
    m->text_share = (float)r->opt.value[text];
    m->repeat_share = (float)r->opt.value[rep];
}

/* Moby-Dick's training chapters, letter by letter */
static int load_text(Run *r, Icl *m)
{
    char path[1024], err[1200];
    size_t len;
    int rc;
    if ((rc = kit_data_path(r, "moby_dick/train.txt", path, sizeof path)) >= 0) return rc;
    char *text = corpus_read_text(path, &len, err, sizeof err);
    if (!text) return runtime_usage_error(&r->lesson->info, "%s", err);
    m->text = malloc((len + 1) * sizeof *m->text);
    if (m->text) m->ntext = icl_text_tokens(text, m->text, len + 1);
    free(text);
    if (!m->text) return runtime_usage_error(&r->lesson->info, "out of memory");
    if (m->ntext <= (size_t)r->T) return runtime_usage_error(&r->lesson->info, "%s is shorter than seq_len", path);
    return -1;
}

/* ------------------------------------------------------------------- model ---- */

static int init(Run *r)
{
    Icl *m = KIT_SELF(r, Icl);
    const LessonInfo *info = &r->lesson->info;
    if (r->T % 2) return runtime_usage_error(info, "seq_len %d is odd: a row is pairs, or a segment and its copy", r->T);
    m->domain = (int)KEY(r, "domain");
    m->repeat_share = (float)KEY(r, "repeat_share");
    m->text_share = (float)KEY(r, "text_share");
    if (m->repeat_share + m->text_share > 1)
        return runtime_usage_error(info, "text_share %g and repeat_share %g add up to more than 1", m->text_share,
                                   m->repeat_share);
    ModelConfig cfg;
    int rc;
    if ((rc = kit_model_config(r, MODEL_GPT2, &cfg)) >= 0) return rc;
    /* the vocabulary: [PAD] [UNK] [CLS] [SEP] [MASK], a..z, 0..9 */
    vocab_init(&m->vocab);
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    bool ok = true;
    for (int i = 0; i < TOK_NUM_SPECIAL; i++) ok &= vocab_add(&m->vocab, specials[i], strlen(specials[i])) == i;
    for (int i = 0; i < ICL_SYMBOLS; i++) {
        char c = i < ICL_LETTERS ? (char)('a' + i) : (char)('0' + i - ICL_LETTERS);
        ok &= vocab_add(&m->vocab, &c, 1) == ICL_LETTER0 + i;
    }
    ok &= vocab_add(&m->vocab, "_", 1) == ICL_GAP;
    if (!ok) return runtime_usage_error(info, "out of memory");
    if ((rc = load_text(r, m)) >= 0) return rc;
    r->vocab = &m->vocab;
    cfg.vocab_size = ICL_V;
    r->diverge_above = 3.0f * logf((float)ICL_V);
    r->refs[REF_UNIFORM_LOSS] = log((double)ICL_SYMBOLS);
    r->refs[REF_CHANCE] = 1.0 / ICL_DIGITS;
    /* attention spread evenly over the keys a causal query may read: 1/(i+1) on i-L+1 */
    int L = r->T / 2;
    double u = 0;
    for (int i = L; i < 2 * L; i++) u += 1.0 / (i + 1);
    r->refs[REF_UNIFORM_INDUCTION] = u / L;

    model_init(kit_model(r, 0), &cfg, kit_block(r, 0), "", NULL);
    m->L = cfg.num_hidden_layers;
    m->NH = cfg.num_attention_heads;
    if (m->L * m->NH > ICL_MAX_HEADS)
        return runtime_usage_error(info, "%d layers of %d heads: at most %d heads in all", m->L, m->NH, ICL_MAX_HEADS);
    r->arena_bytes = kit_arena_bytes(r, &cfg) + kit_forward_bytes(&cfg, ICL_EVAL_ROWS, r->T);
    if (batch_alloc(&m->batch, r->B, r->T) || batch_alloc(&m->eval[0], ICL_EVAL_ROWS, r->T) ||
        batch_alloc(&m->eval[1], ICL_EVAL_ROWS, r->T))
        return runtime_usage_error(info, "out of memory");
    for (int s = 0; s < ICL_NSHOTS; s++) {
        IclEpisodes *e = &m->episodes[s];
        e->k = icl_shots[s];
        e->n = 2 * e->k + 1 <= r->T ? ICL_EVAL_ROWS : 0; /* a prompt longer than a row: not asked */
        e->ids = malloc((size_t)ICL_EVAL_ROWS * (2 * e->k + 1) * sizeof *e->ids);
        e->answer = malloc(ICL_EVAL_ROWS * sizeof *e->answer);
        if (!e->ids || !e->answer) return runtime_usage_error(info, "out of memory");
    }
    draw_eval(r);
    return -1;
}

static void lesson_free(Run *r)
{
    Icl *m = KIT_SELF(r, Icl);
    batch_free(&m->batch);
    for (int i = 0; i < 2; i++) batch_free(&m->eval[i]);
    for (int s = 0; s < ICL_NSHOTS; s++) {
        free(m->episodes[s].ids);
        free(m->episodes[s].answer);
    }
    vocab_free(&m->vocab);
    free(m->text);
}

/* GPT's causal mask, drawn beside the attention: row i reads columns 0..i. */
static bool allowed(const Run *r, int model, int stream, int seq, uint8_t *allow)
{
    (void)model, (void)stream, (void)seq;
    kit_causal_allow(r->T, allow);
    return true;
}

/* ---------------------------------------------------------------------- loss ---- */

/* Forward on rows × T tokens; the logits (rows, T, V) and the attention of every layer. */
static Tensor *forward(Run *r, const int32_t *ids, int rows, int T, Forward *f)
{
    Model *model = kit_model(r, 0);
    Batch in = {rows, T, ids, NULL, NULL};
    *f = (Forward){0};
    model_forward(model, &r->tape, &in, f);
    return model_lm_logits(model, &r->tape, f->hidden);
}

/* GPT's loss, as Hugging Face computes it from labels = input_ids: the mean cross-entropy of
 * every position's next token. Nothing tells the model about codes or copies. */
static Tensor *loss(Run *r, float *parts, float *extra)
{
    Icl *m = KIT_SELF(r, Icl);
    IclBatch *b = &m->batch;
    m->logits = forward(r, b->lm.ids, b->lm.B, b->lm.T, &m->fwd);
    Tensor *l = op_cross_entropy(&r->tape, m->logits, b->lm.targets);
    kit_keep_attention(r, 0, 0, m->fwd.attn);
    parts[0] = l->data[0];
    /* how often the most probable token is right where the row's earlier pairs give the answer */
    int T = b->lm.T, hit = 0, n = 0;
    for (int i = 0; i < b->lm.B; i++) {
        for (int t = 1; t < T; t++) {
            if (b->role[(size_t)i * T + t] != ROLE_Y_ANSWER) continue;
            n++;
            hit += op_argmax(m->logits->data + ((size_t)i * T + t - 1) * ICL_V, ICL_V) == b->lm.ids[(size_t)i * T + t];
        }
    }
    extra[ICL_ANSWER_ACCURACY] = n ? (float)hit / (float)n : NAN;
    return l;
}

/* ---------------------------------------------------------------- evaluation ---- */

/* the mean over queries from..to-1 of the attention on the token after the same token L back */
static double induction_span(const float *attn, int T, int from, int to, int L)
{
    double s = 0;
    for (int i = from; i < to; i++) s += attn[(size_t)i * T + i - L + 1];
    return to > from ? s / (to - from) : 0;
}

float icl_induction_score(const float *attn, int T, int L) { return (float)induction_span(attn, T, L, 2 * L < T ? 2 * L : T, L); }

float icl_previous_score(const float *attn, int T)
{
    double s = 0;
    for (int i = 1; i < T; i++) s += attn[(size_t)i * T + i - 1];
    return T > 1 ? (float)(s / (T - 1)) : 0;
}

/* cross-entropy of the token at t+1 from position t's logits, in double */
static double token_loss(const float *x, int V, int target)
{
    float mx = -INFINITY;
    for (int v = 0; v < V; v++) mx = x[v] > mx ? x[v] : mx;
    double z = 0;
    for (int v = 0; v < V; v++) z += exp((double)(x[v] - mx));
    return log(z) - (double)(x[target] - mx);
}

/* The held-out rows of both kinds: their mean loss; on the repeated segments the loss on the
 * segment (tokens 1..L-1: nothing to copy yet) and on its copy (tokens L+1..2L-1: the first
 * whose predecessor appeared before is L+1), and the best head's induction and previous-token
 * scores. */
static void score_rows(Run *r, double *loss, double *first, double *second, float *best_ind, float *best_prev)
{
    Icl *m = KIT_SELF(r, Icl);
    int T = r->T, L2 = T / 2, heads = m->L * m->NH;
    double lsum = 0, fsum = 0, ssum = 0;
    double ind[ICL_MAX_HEADS] = {0}, prev[ICL_MAX_HEADS] = {0};
    for (int kind = 0; kind < 2; kind++) {
        const IclBatch *b = &m->eval[kind];
        KitScope scope = kit_eval_begin(r);
        Forward f;
        Tensor *logits = forward(r, b->lm.ids, b->lm.B, T, &f);
        lsum += op_cross_entropy(&r->tape, logits, b->lm.targets)->data[0];
        if (kind == ICL_REPEAT)
            for (int i = 0; i < b->lm.B; i++) {
                const int32_t *row = b->lm.ids + (size_t)i * T;
                for (int t = 0; t + 1 < T; t++) {
                    double l = token_loss(logits->data + ((size_t)i * T + t) * ICL_V, ICL_V, row[t + 1]);
                    if (t + 1 < L2) fsum += l;
                    else if (t + 1 > L2) ssum += l;
                }
                for (int l = 0; l < m->L; l++)
                    for (int h = 0; h < m->NH; h++) {
                        const float *a = f.attn[l] + ((size_t)i * m->NH + h) * T * T;
                        ind[l * m->NH + h] += icl_induction_score(a, T, L2);
                        prev[l * m->NH + h] += icl_previous_score(a, T);
                    }
            }
        kit_eval_end(r, scope);
    }
    int rows = m->eval[ICL_REPEAT].lm.B;
    *best_ind = *best_prev = 0;
    for (int h = 0; h < heads; h++) {
        *best_ind = (float)(ind[h] / rows) > *best_ind ? (float)(ind[h] / rows) : *best_ind;
        *best_prev = (float)(prev[h] / rows) > *best_prev ? (float)(prev[h] / rows) : *best_prev;
    }
    *loss = lsum / 2;
    *first = fsum / ((double)rows * (L2 - 1));
    *second = ssum / ((double)rows * (L2 - 1));
}

bool icl_head_scores(const Run *r, float *induction, float *previous)
{
    const Icl *m = KIT_SELF(r, Icl);
    const IclBatch *b = &m->batch;
    int T = r->T, heads = m->L * m->NH, segs = 0;
    if (!r->have_forward || !m->fwd.attn) return false;
    for (int h = 0; h < heads; h++) {
        const float *a = m->fwd.attn[h / m->NH];
        double ind = 0, prev = 0;
        segs = 0;
        for (int i = 0; i < b->lm.B; i++) {
            const float *p = a + ((size_t)i * m->NH + h % m->NH) * T * T;
            prev += icl_previous_score(p, T);
            if (!b->seg_len[i]) continue;
            ind += induction_span(p, T, b->seg_at[i] + b->seg_len[i], T, b->seg_len[i]);
            segs++;
        }
        induction[h] = segs ? (float)(ind / segs) : 0;
        previous[h] = (float)(prev / b->lm.B);
    }
    return segs > 0;
}

/* The held-out figures: score_rows's, the best head of each kind, and the accuracy on the
 * k-shot prompts. */
static void evaluate(Run *r, float *extra)
{
    Icl *m = KIT_SELF(r, Icl);
    double lsum, first, second;
    score_rows(r, &lsum, &first, &second, &extra[ICL_INDUCTION], &extra[ICL_PREVIOUS]);
    extra[ICL_EVAL_LOSS] = (float)lsum;
    extra[ICL_FIRST_LOSS] = (float)first;
    extra[ICL_SECOND_LOSS] = (float)second;
    extra[ICL_SCORE] = extra[ICL_FIRST_LOSS] - extra[ICL_SECOND_LOSS];
    for (int s = 0; s < ICL_NSHOTS; s++) {
        const IclEpisodes *e = &m->episodes[s];
        if (!e->n) continue; /* the column stays NaN */
        int len = 2 * e->k + 1, hit = 0;
        KitScope scope = kit_eval_begin(r);
        Forward f;
        Tensor *logits = forward(r, e->ids, e->n, len, &f);
        for (int i = 0; i < e->n; i++) hit += op_argmax(logits->data + ((size_t)i * len + len - 1) * ICL_V, ICL_V) == e->answer[i];
        kit_eval_end(r, scope);
        extra[ICL_ACC0 + s] = (float)hit / (float)e->n;
    }
}

/* ------------------------------------------------------------- export tables ---- */

static const void *batch_data(const Run *r, int i) { return kit_lm_batch_data(&KIT_SELF(r, Icl)->batch.lm, i); }

/* ------------------------------------------------------------------ the probe ---- */

void icl_probe(Run *r, Model *model, const char *text, IclProbe *g)
{
    Icl *m = KIT_SELF(r, Icl);
    memset(g, 0, sizeof *g);
    g->step = r->step;
    g->expected = -1;
    g->expected_at = -1;
    g->induction_head = -1;
    int32_t all[1024];
    int n = 0, T = r->T < PROBE_MAX ? r->T : PROBE_MAX;
    for (const unsigned char *c = (const unsigned char *)text; *c && n < 1024; c++) {
        if (*c >= 'a' && *c <= 'z') all[n++] = ICL_LETTER0 + (*c - 'a');
        else if (*c >= 'A' && *c <= 'Z') all[n++] = ICL_LETTER0 + (*c - 'A');
        else if (*c >= '0' && *c <= '9') all[n++] = ICL_DIGIT0 + (*c - '0');
        else if (*c == ' ' || *c == ',' || *c == ';' || *c == ':' || *c == '-' || *c == '>' || *c == '=' || *c == '\t')
            continue;
        else {
            if (!g->ignored) { /* the character as typed, a UTF-8 sequence whole */
                int len = 1;
                while (len < 4 && (c[len] & 0xC0) == 0x80) len++;
                memcpy(g->ignored_example, c, (size_t)len);
            }
            g->ignored++;
            while ((c[1] & 0xC0) == 0x80) c++;
        }
    }
    g->cut = n > T;
    int from = n > T ? n - T : 0;
    g->n = n - from;
    memcpy(g->ids, all + from, (size_t)g->n * sizeof *g->ids);
    if (!g->n) return;
    /* the answer the prompt's own pairs give: the digit after the last letter's latest earlier occurrence */
    int32_t q = g->ids[g->n - 1];
    for (int j = g->n - 2; j >= 0 && icl_is_letter(q); j--) {
        if (g->ids[j] != q) continue;
        g->seen_before = true;
        if (icl_is_digit(g->ids[j + 1])) {
            g->expected = g->ids[j + 1];
            g->expected_at = j + 1;
            break;
        }
    }
    for (int j = 0; j + 1 < g->n; j++) g->pairs += icl_is_letter(g->ids[j]) && icl_is_digit(g->ids[j + 1]);
    Tape tp;
    if (!tape_init(&tp, kit_forward_bytes(&model->cfg, 1, g->n) + (4u << 20), 4096)) {
        g->n = 0;
        return;
    }
    tp.no_grad = true;
    Batch in = {1, g->n, g->ids, NULL, NULL};
    Forward f = {0};
    model_forward(model, &tp, &in, &f);
    Tensor *logits = model_lm_logits(model, &tp, f.hidden);
    const float *x = logits->data + (size_t)(g->n - 1) * ICL_V;
    kit_top_k(x, ICL_V, TOK_NUM_SPECIAL, PROBE_TOP, g->p, g->top);
    if (g->expected >= 0) g->expected_p = (float)exp(-token_loss(x, ICL_V, g->expected));
    g->L = model->cfg.num_hidden_layers;
    g->NH = model->cfg.num_attention_heads;
    int last = g->n - 1;
    for (int l = 0; l < g->L; l++)
        for (int h = 0; h < g->NH; h++)
            memcpy(g->attn + (size_t)(l * g->NH + h) * PROBE_MAX, f.attn[l] + ((size_t)h * g->n + last) * g->n,
                   (size_t)g->n * sizeof(float));
    float ind[ICL_MAX_HEADS], prev[ICL_MAX_HEADS];
    if (model == kit_model(r, 0) && icl_head_scores(r, ind, prev)) { /* the best head, if it is one */
        int best = 0;
        for (int h = 1; h < m->L * m->NH; h++)
            if (ind[h] > ind[best]) best = h;
        g->induction_head = ind[best] >= ICL_INDUCTION_FOUND ? best : -1;
    }
    tape_free(&tp);
}

/* --------------------------------------------------------------- description ---- */

static const char *const parts[] = {"lm"};
static const char *const extra[] = {"answer_accuracy",  "eval_loss",         "accuracy_0_shot",  "accuracy_1_shot",
                                    "accuracy_2_shot",  "accuracy_4_shot",   "accuracy_8_shot",  "first_copy_loss",
                                    "second_copy_loss", "icl_score",         "induction_score",  "previous_token_score"};
static const KitModelSpec models[] = {{"gpt2", "GPT2LMHeadModel", 0, true, {""}, NULL, false}};

const Lesson icl_lesson = {
    .info = {"icl", "In-context learning: zero-, one- and few-shot",
             "Train a tiny GPT on rows of secret codes and watch it learn to answer from examples in its prompt, "
             "with no gradient step: induction heads.",
             keys, (int)(sizeof keys / sizeof keys[0]), 64, 3e-3f, NULL, NULL, NULL},
    .models = models,
    .nmodels = 1,
    .parts = parts,
    .nparts = 1,
    .extra = extra,
    .nextra = ICL_NEXTRA,
    .batch = kit_lm_batch_tensors,
    .nbatch = 3,
    .state_size = sizeof(Icl),
    .init = init,
    .free = lesson_free,
    .reset = draw_eval,
    .next_batch = next_batch,
    .loss = loss,
    .evaluate = evaluate,
    .batch_data = batch_data,
    .on_setting = on_setting,
    .allowed = allowed,
};
