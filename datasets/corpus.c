/* corpus.c — loading a corpus file and cutting batches from it. */
#define _POSIX_C_SOURCE 200809L
#include "corpus.h"

#include "engine/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *corpus_read_text(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) { engine_error(err, errlen, "%s: %s", path, strerror(errno)); return NULL; }
    /* room for the whole file as its size says, so a small file costs no megabyte; the loop
       still grows the buffer if the file grows while it is read */
    struct stat sb;
    size_t cap = fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 && sb.st_size < (1 << 30)
                     ? (size_t)sb.st_size + 2 : 1 << 20,
           n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (n + 1 == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) { free(buf); buf = NULL; }
            else buf = b;
        }
    }
    bool bad_read = ferror(f);
    fclose(f);
    if (!buf) { engine_error(err, errlen, "%s: out of memory", path); return NULL; }
    if (bad_read) { free(buf); engine_error(err, errlen, "%s: read error", path); return NULL; }
    buf[n] = 0;
    if (memchr(buf, 0, n)) { free(buf); engine_error(err, errlen, "%s: not a text file (it has NUL bytes)", path); return NULL; }
    *len = n;
    return buf;
}

/* Calls line_fn for every line; a blank line (only spaces) calls it with NULL. */
typedef int (*LineFn)(const char *line, size_t len, void *ctx);

static int for_lines(char *text, LineFn fn, void *ctx)
{
    char *p = text;
    while (*p) {
        char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        size_t k = len;
        while (k > 0 && (p[k - 1] == '\r' || p[k - 1] == ' ' || p[k - 1] == '\t')) k--;
        size_t lead = 0;
        while (lead < k && (p[lead] == ' ' || p[lead] == '\t')) lead++;
        int rc = lead == k ? fn(NULL, 0, ctx) : fn(p + lead, k - lead, ctx);
        if (rc) return rc;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

typedef struct LoadCtx {
    Corpus *c;
    const Vocab *v;
    size_t ids_cap;
    int sent_cap, doc_cap;
    bool in_doc;
    int32_t *scratch;
    int scratch_cap;
} LoadCtx;

static int load_line(const char *line, size_t len, void *vctx)
{
    LoadCtx *x = vctx;
    Corpus *c = x->c;
    if (!line) { x->in_doc = false; return 0; }
    char *s = malloc(len + 1);
    if (!s) return -1;
    memcpy(s, line, len);
    s[len] = 0;
    int n = tokenizer_encode(x->v, s, x->scratch, x->scratch_cap);
    if (n > x->scratch_cap) {
        int32_t *b = realloc(x->scratch, (size_t)n * sizeof *b);
        if (!b) { free(s); return -1; }
        x->scratch = b;
        x->scratch_cap = n;
        tokenizer_encode(x->v, s, x->scratch, x->scratch_cap);
    }
    free(s);
    if (n == 0) return 0;
    if (!x->in_doc) {
        if (c->ndocs + 1 >= x->doc_cap) {
            int *d = realloc(c->doc_start, (size_t)(x->doc_cap = 2 * x->doc_cap + 64) * sizeof *d);
            if (!d) return -1;
            c->doc_start = d;
        }
        c->doc_start[c->ndocs++] = c->nsent;
        x->in_doc = true;
    }
    if (c->nsent + 2 >= x->sent_cap) {
        size_t *ss = realloc(c->sent_start, (size_t)(x->sent_cap = 2 * x->sent_cap + 1024) * sizeof *ss);
        if (!ss) return -1;
        c->sent_start = ss;
    }
    if (c->nids + (size_t)n > x->ids_cap) {
        x->ids_cap = 2 * (c->nids + (size_t)n) + 4096;
        int32_t *ids = realloc(c->ids, x->ids_cap * sizeof *ids);
        if (!ids) return -1;
        c->ids = ids;
    }
    c->sent_start[c->nsent++] = c->nids;
    for (int i = 0; i < n; i++) {
        c->ids[c->nids++] = x->scratch[i];
        c->unk += x->scratch[i] == TOK_UNK;
    }
    c->sent_start[c->nsent] = c->nids;
    return 0;
}

int corpus_load(Corpus *c, const char *path, const Vocab *v, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    size_t len;
    char *text = corpus_read_text(path, &len, err, errlen);
    if (!text) return -1;
    LoadCtx x = {c, v, 0, 0, 0, false, NULL, 0};
    int rc = for_lines(text, load_line, &x);
    free(text);
    free(x.scratch);
    if (rc) { corpus_free(c); return engine_error(err, errlen, "%s: out of memory", path); }
    if (c->nsent < 2 || c->nids < 16) {
        corpus_free(c);
        return engine_error(err, errlen, "%s: has no text to train on (%s)", path, len ? "fewer than 2 sentences" : "empty file");
    }
    c->doc_start[c->ndocs] = c->nsent;
    return 0;
}

typedef struct DocCtx { char **texts; int n, cap; size_t cur_len; bool in_doc; } DocCtx;

static int doc_line(const char *line, size_t len, void *vctx)
{
    DocCtx *d = vctx;
    if (!line) { d->in_doc = false; return 0; }
    if (!d->in_doc) {
        if (d->n == d->cap) {
            char **t = realloc(d->texts, (size_t)(d->cap = 2 * d->cap + 64) * sizeof *t);
            if (!t) return -1;
            d->texts = t;
        }
        d->texts[d->n] = calloc(1, 1);
        if (!d->texts[d->n]) return -1;
        d->n++;
        d->cur_len = 0;
        d->in_doc = true;
    }
    char *t = realloc(d->texts[d->n - 1], d->cur_len + len + 2);
    if (!t) return -1;
    memcpy(t + d->cur_len, line, len);
    t[d->cur_len + len] = '\n';
    t[d->cur_len + len + 1] = 0;
    d->cur_len += len + 1;
    d->texts[d->n - 1] = t;
    return 0;
}

int corpus_read_documents(const char *path, char ***texts, int *n, char *err, size_t errlen)
{
    size_t len;
    char *text = corpus_read_text(path, &len, err, errlen);
    if (!text) return -1;
    DocCtx d = {0};
    int rc = for_lines(text, doc_line, &d);
    free(text);
    if (rc) { corpus_texts_free(d.texts, d.n); return engine_error(err, errlen, "%s: out of memory", path); }
    *texts = d.texts;
    *n = d.n;
    return 0;
}

void corpus_texts_free(char **texts, int n)
{
    for (int i = 0; i < n; i++) free(texts[i]);
    free(texts);
}

void corpus_free(Corpus *c)
{
    free(c->ids);
    free(c->sent_start);
    free(c->doc_start);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------------ batches ---- */

size_t corpus_window_start(const Corpus *c, Rng *r, int T, bool cls_sep)
{
    int body = cls_sep ? T - 2 : T;
    return rng_below(r, (uint32_t)(c->nids - (size_t)body + 1));
}

void corpus_window(const Corpus *c, size_t start, int T, bool cls_sep, int32_t *row)
{
    int body = cls_sep ? T - 2 : T;
    if (cls_sep) *row++ = TOK_CLS;
    memcpy(row, c->ids + start, (size_t)body * sizeof *row);
    if (cls_sep) row[body] = TOK_SEP;
}

void corpus_windows(const Corpus *c, Rng *r, int B, int T, bool cls_sep, int32_t *ids)
{
    for (int b = 0; b < B; b++) corpus_window(c, corpus_window_start(c, r, T, cls_sep), T, cls_sep, ids + (size_t)b * T);
}

/* Sentences s0..s1-1 as one token span. */
typedef struct Span { size_t start, len; } Span;

static Span sentence_span(const Corpus *c, int s0, int s1)
{
    return (Span){c->sent_start[s0], c->sent_start[s1] - c->sent_start[s0]};
}

int corpus_pack_pair(Rng *r, const int32_t *a, int na, const int32_t *b, int nb, int T, int32_t *ids, int32_t *types,
                     uint8_t *mask)
{
    /* BERT's truncate_seq_pair: one token at a time from the longer side (B when they are
       equal), from its front or its back at random, until both fit with [CLS] and two [SEP] */
    while (na + nb > T - 3) {
        bool cut_a = na > nb;
        if (rng_bernoulli(r, 0.5f)) { /* the front */
            if (cut_a) a++;
            else b++;
        }
        if (cut_a) na--;
        else nb--;
    }
    int k = 0;
    ids[k] = TOK_CLS, types[k++] = 0;
    for (int i = 0; i < na; i++) ids[k] = a[i], types[k++] = 0;
    ids[k] = TOK_SEP, types[k++] = 0;
    for (int i = 0; i < nb; i++) ids[k] = b[i], types[k++] = 1;
    ids[k] = TOK_SEP, types[k++] = 1;
    int len = k;
    for (int i = 0; i < T; i++) mask[i] = i < len;
    for (; k < T; k++) ids[k] = TOK_PAD, types[k] = 0;
    return len;
}

static int pick_doc_with(const Corpus *c, Rng *r, int min_sent, int avoid)
{
    for (int tries = 0; tries < 1000; tries++) {
        int d = (int)rng_below(r, (uint32_t)c->ndocs);
        if (d != avoid && c->doc_start[d + 1] - c->doc_start[d] >= min_sent) return d;
    }
    for (int d = 0; d < c->ndocs; d++) /* a corpus of odd shape: take the first that fits */
        if (d != avoid && c->doc_start[d + 1] - c->doc_start[d] >= min_sent) return d;
    return avoid >= 0 ? avoid : 0;
}

void corpus_pairs(const Corpus *c, Rng *r, PairTask task, int B, int T, int32_t *ids, int32_t *types,
                  uint8_t *mask, int32_t *labels, int *docs)
{
    size_t room = (size_t)T - 3;
    for (int b = 0; b < B; b++) {
        int d = pick_doc_with(c, r, 2, -1);
        int first = c->doc_start[d], last = c->doc_start[d + 1]; /* sentences first..last-1 */
        if (last - first < 2) { /* no document has two sentences: the corpus reads as one */
            d = -1;
            first = 0;
            last = c->nsent;
        }
        /* the length to aim for: the whole row, or with probability CORPUS_SHORT_PAIRS a
           shorter one (BERT's short_seq_prob: fine-tuning inputs are often short). It is
           drawn before the label, the same way for both labels, so a pair's length says
           nothing about its label */
        size_t target = rng_bernoulli(r, CORPUS_SHORT_PAIRS) ? 2 + rng_below(r, (uint32_t)(room - 1)) : room;
        /* a chunk of consecutive sentences: at least 2, and until it reaches the target (or
           the document ends); what is too long is cut below */
        int s0 = first + (int)rng_below(r, (uint32_t)(last - first - 1));
        int s1 = s0 + 1;
        size_t len = (size_t)corpus_sent_len(c, s0);
        while (s1 < last && (s1 == s0 + 1 || len < target)) len += (size_t)corpus_sent_len(c, s1++);
        int a_end = s0 + 1 + (int)rng_below(r, (uint32_t)(s1 - s0 - 1)); /* A = s0..a_end-1, B = a_end..s1-1 */
        Span A = sentence_span(c, s0, a_end), Bs = sentence_span(c, a_end, s1);
        int label = rng_bernoulli(r, 0.5f), doc_b = d;
        if (task == PAIR_NSP && label == 1) {
            /* NotNext: B is a run of sentences from a random other document */
            int d2 = pick_doc_with(c, r, 1, d);
            int f2 = c->doc_start[d2], l2 = c->doc_start[d2 + 1];
            int t0 = f2 + (int)rng_below(r, (uint32_t)(l2 - f2)), t1 = t0 + 1;
            size_t want = target > A.len ? target - A.len : 1, got = (size_t)corpus_sent_len(c, t0);
            while (t1 < l2 && got < want) got += (size_t)corpus_sent_len(c, t1++);
            Bs = sentence_span(c, t0, t1);
            doc_b = d2;
        } else if (task == PAIR_SOP && label == 1) {
            Span t = A;
            A = Bs;
            Bs = t;
        }
        corpus_pack_pair(r, c->ids + A.start, (int)A.len, c->ids + Bs.start, (int)Bs.len, T, ids + (size_t)b * T,
                         types + (size_t)b * T, mask + (size_t)b * T);
        labels[b] = label;
        if (docs) docs[2 * b] = d, docs[2 * b + 1] = doc_b;
    }
}

void corpus_unigram(const Corpus *c, int V, int64_t *counts)
{
    memset(counts, 0, (size_t)V * sizeof *counts);
    for (size_t i = 0; i < c->nids; i++)
        if (c->ids[i] >= 0 && c->ids[i] < V) counts[c->ids[i]]++;
}

int corpus_unigram_baseline(const Corpus *c, int V, double *entropy, double *best)
{
    int64_t *counts = calloc((size_t)V, sizeof *counts);
    if (!counts) return -1;
    corpus_unigram(c, V, counts);
    double total = 0;
    *entropy = *best = 0;
    for (int i = TOK_NUM_SPECIAL; i < V; i++) total += (double)counts[i];
    for (int i = TOK_NUM_SPECIAL; i < V; i++) {
        if (!counts[i]) continue;
        double p = counts[i] / total;
        *entropy -= p * log(p);
        if (p > *best) *best = p;
    }
    free(counts);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* how often the pair `key` occurs in the sorted pairs */
static size_t pair_count(const uint64_t *pairs, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* the first >= key */
        size_t mid = lo + (hi - lo) / 2;
        if (pairs[mid] < key) lo = mid + 1;
        else hi = mid;
    }
    size_t k = lo;
    while (k < n && pairs[k] == key) k++;
    return k - lo;
}

int corpus_ngram_baselines(const Corpus *train, const Corpus *eval, int V, double *unigram, double *bigram,
                           double *lambda)
{
    if (train->nids < 2 || eval->nids < 2 || V < 1) return -1;
    size_t np = train->nids - 1, ne = eval->nids - 1;
    int64_t *counts = calloc((size_t)V, sizeof *counts), *first = calloc((size_t)V, sizeof *first);
    uint64_t *pairs = malloc(np * sizeof *pairs);
    double *cond = malloc(ne * sizeof *cond), *pu = malloc(ne * sizeof *pu);
    int rc = -1;
    if (!counts || !first || !pairs || !cond || !pu) goto out;
    corpus_unigram(train, V, counts);
    for (size_t i = 0; i < np; i++) { /* ids outside the vocabulary count as the last id */
        uint64_t a = (uint64_t)(train->ids[i] >= 0 && train->ids[i] < V ? train->ids[i] : V - 1);
        uint64_t b = (uint64_t)(train->ids[i + 1] >= 0 && train->ids[i + 1] < V ? train->ids[i + 1] : V - 1);
        pairs[i] = a * (uint64_t)V + b;
        first[a]++;
    }
    qsort(pairs, np, sizeof *pairs, cmp_u64);
    double total = (double)train->nids + 0.5 * V;
    *unigram = 0;
    for (size_t i = 0; i < ne; i++) {
        int a = eval->ids[i] >= 0 && eval->ids[i] < V ? eval->ids[i] : V - 1;
        int b = eval->ids[i + 1] >= 0 && eval->ids[i + 1] < V ? eval->ids[i + 1] : V - 1;
        pu[i] = ((double)counts[b] + 0.5) / total;
        cond[i] = first[a] ? (double)pair_count(pairs, np, (uint64_t)a * (uint64_t)V + (uint64_t)b) / (double)first[a] : -1;
        *unigram -= log(pu[i]);
    }
    *unigram /= (double)ne;
    *bigram = INFINITY;
    for (int k = 1; k <= 19; k++) {
        double l = 0.05 * k, ce = 0;
        for (size_t i = 0; i < ne; i++) ce -= log(cond[i] < 0 ? pu[i] : l * cond[i] + (1 - l) * pu[i]);
        ce /= (double)ne;
        if (ce < *bigram) {
            *bigram = ce;
            *lambda = l;
        }
    }
    rc = 0;
out:
    free(counts);
    free(first);
    free(pairs);
    free(cond);
    free(pu);
    return rc;
}

/* ------------------------------------------------------ labelled messages ---- */

typedef struct MsgCtx {
    Messages *m;
    const Vocab *v;
    const char *path;
    int line, cap;
    size_t idcap;
    int32_t *scratch;
    char *err;
    size_t errlen;
    int rc;
} MsgCtx;

static int msg_line(const char *line, size_t len, void *vctx)
{
    MsgCtx *x = vctx;
    x->line++;
    if (!line) return 0;   /* blank lines are allowed */
    Messages *m = x->m;
    const char *tab = memchr(line, '\t', len);
    if (!tab) {
        x->rc = engine_error(x->err, x->errlen, "%s:%d: no tab between the label and the text", x->path, x->line);
        return -1;
    }
    size_t ll = (size_t)(tab - line);
    int label = ll == 3 && !memcmp(line, "ham", 3) ? 0 : ll == 4 && !memcmp(line, "spam", 4) ? 1 : -1;
    if (label < 0) {
        x->rc = engine_error(x->err, x->errlen, "%s:%d: the label is \"%.*s\", not ham or spam", x->path, x->line,
                             (int)(ll < 20 ? ll : 20), line);
        return -1;
    }
    if (m->n == x->cap) {
        int cap = 2 * x->cap + 256;
        size_t *s = realloc(m->start, (size_t)(cap + 1) * sizeof *s);
        if (s) m->start = s;
        int32_t *l = realloc(m->label, (size_t)cap * sizeof *l);
        if (l) m->label = l;
        char **t = realloc(m->shown, (size_t)cap * sizeof *t);
        if (t) m->shown = t;
        if (!s || !l || !t) return -1;
        x->cap = cap;
    }
    size_t tl = len - ll - 1;
    char *text = malloc(tl + 1);
    if (!text) return -1;
    memcpy(text, tab + 1, tl);
    text[tl] = 0;
    int cap = (int)tl * 2 + 8;   /* a token per byte at most, and room to spare */
    int32_t *ids = x->scratch = realloc(x->scratch, (size_t)cap * sizeof *ids);
    if (!ids) { free(text); return -1; }
    int n = tokenizer_encode(x->v, text, ids, cap);
    if (m->nids + (size_t)n > x->idcap) {
        size_t c = 2 * x->idcap + (size_t)n + 4096;
        int32_t *p = realloc(m->ids, c * sizeof *p);
        if (!p) { free(text); return -1; }
        m->ids = p;
        x->idcap = c;
    }
    for (int i = 0; i < n; i++) m->unk += ids[i] == TOK_UNK;
    memcpy(m->ids + m->nids, ids, (size_t)n * sizeof *ids);
    m->start[m->n] = m->nids;
    m->nids += (size_t)n;
    size_t keep = tl < MESSAGES_SHOWN ? tl : MESSAGES_SHOWN;
    while (keep < tl && keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80) keep--;   /* whole characters */
    text[keep] = 0;
    m->shown[m->n] = text;
    m->label[m->n] = label;
    m->count[label]++;
    m->n++;
    m->start[m->n] = m->nids;
    return 0;
}

int messages_load(Messages *m, const char *path, const Vocab *v, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    size_t len;
    char *text = corpus_read_text(path, &len, err, errlen);
    if (!text) return -1;
    MsgCtx x = {m, v, path, 0, 0, 0, NULL, err, errlen, 0};
    int rc = for_lines(text, msg_line, &x);
    free(text);
    free(x.scratch);
    if (rc) {
        if (!x.rc) engine_error(err, errlen, "%s: out of memory", path);
        messages_free(m);
        return -1;
    }
    if (!m->count[0] || !m->count[1]) {
        engine_error(err, errlen, "%s: needs messages of both labels (it has %d ham and %d spam)", path, m->count[0],
                     m->count[1]);
        messages_free(m);
        return -1;
    }
    return 0;
}

void messages_free(Messages *m)
{
    for (int i = 0; i < m->n; i++) free(m->shown[i]);
    free(m->shown);
    free(m->ids);
    free(m->start);
    free(m->label);
    memset(m, 0, sizeof *m);
}

int messages_budget(const Messages *m, Rng *r, int n, int *out)
{
    int *by[2] = {malloc((size_t)m->count[0] * sizeof(int)), malloc((size_t)m->count[1] * sizeof(int))};
    int k[2] = {0, 0};
    if (!by[0] || !by[1]) { free(by[0]); free(by[1]); return 0; }
    for (int i = 0; i < m->n; i++) by[m->label[i]][k[m->label[i]]++] = i;
    rng_shuffle(r, by[0], k[0]);
    rng_shuffle(r, by[1], k[1]);
    int want[2];
    if (n <= 0 || n >= m->n) want[0] = k[0], want[1] = k[1];
    else {
        want[1] = n / 2 < k[1] ? n / 2 : k[1];
        want[0] = n - want[1] < k[0] ? n - want[1] : k[0];
    }
    int w = 0;   /* ham, spam, ham, spam, ...: each label's shuffled messages from the front */
    for (int i = 0; i < want[0] || i < want[1]; i++)
        for (int l = 0; l < 2; l++)
            if (i < want[l]) out[w++] = by[l][i];
    free(by[0]);
    free(by[1]);
    return w;
}

int messages_pack(const Messages *m, int i, int T, int32_t *ids, uint8_t *mask)
{
    int n = messages_len(m, i);
    if (n > T - 2) n = T - 2;
    ids[0] = TOK_CLS;
    memcpy(ids + 1, m->ids + m->start[i], (size_t)n * sizeof *ids);
    ids[n + 1] = TOK_SEP;
    for (int t = n + 2; t < T; t++) ids[t] = TOK_PAD;
    for (int t = 0; t < T; t++) mask[t] = t < n + 2;
    return n + 2;
}
