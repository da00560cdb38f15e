/* tokenizer.c — basic splitting, WordPiece encoding, the vocabulary file and its learning. */
#define _GNU_SOURCE /* strcasestr */
#include "tokenizer.h"

#include "engine/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const special_tokens[TOK_NUM_SPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

/* ------------------------------------------------------------------- vocab ---- */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

void vocab_init(Vocab *v) { memset(v, 0, sizeof *v); }

void vocab_free(Vocab *v)
{
    for (int i = 0; i < v->size; i++) free(v->tokens[i]);
    free(v->tokens);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

int vocab_id(const Vocab *v, const char *token, size_t len)
{
    if (!v->nslots) return -1;
    for (uint64_t h = hash_bytes(token, len);; h++) {
        int id = v->slots[h & (uint64_t)(v->nslots - 1)];
        if (id < 0) return -1;
        if (strlen(v->tokens[id]) == len && memcmp(v->tokens[id], token, len) == 0) return id;
    }
}

static bool rehash(Vocab *v, int nslots)
{
    int *s = malloc((size_t)nslots * sizeof *s);
    if (!s) return false;
    for (int i = 0; i < nslots; i++) s[i] = -1;
    for (int id = 0; id < v->size; id++) {
        uint64_t h = hash_bytes(v->tokens[id], strlen(v->tokens[id]));
        while (s[h & (uint64_t)(nslots - 1)] >= 0) h++;
        s[h & (uint64_t)(nslots - 1)] = id;
    }
    free(v->slots);
    v->slots = s;
    v->nslots = nslots;
    return true;
}

int vocab_add(Vocab *v, const char *token, size_t len)
{
    int id = vocab_id(v, token, len);
    if (id >= 0) return id;
    if (v->size == v->cap) {
        int cap = v->cap ? 2 * v->cap : 256;
        char **t = realloc(v->tokens, (size_t)cap * sizeof *t);
        if (!t) return -1;
        v->tokens = t;
        v->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, token, len);
    copy[len] = 0;
    v->tokens[v->size++] = copy;
    if (len > v->max_len) v->max_len = len;
    if (2 * v->size > v->nslots) {
        if (!rehash(v, v->nslots ? 2 * v->nslots : 1024)) { free(copy); v->size--; return -1; }
    } else {
        uint64_t h = hash_bytes(token, len);
        while (v->slots[h & (uint64_t)(v->nslots - 1)] >= 0) h++;
        v->slots[h & (uint64_t)(v->nslots - 1)] = v->size - 1;
    }
    return v->size - 1;
}

bool vocab_starts_word(const Vocab *v, int id)
{
    return vocab_is_special(id) || strncmp(v->tokens[id], "##", 2) != 0;
}

int vocab_load(Vocab *v, const char *path, char *err, size_t errlen)
{
    vocab_init(v);
    FILE *f = fopen(path, "r");
    if (!f) return engine_error(err, errlen, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0, lineno = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0) rc = engine_error(err, errlen, "%s: line %d is empty", path, lineno);
        else if (memchr(line, 0, (size_t)n)) /* a token would end there, and could repeat another */
            rc = engine_error(err, errlen, "%s: line %d holds a NUL byte: not a text file", path, lineno);
        else if (vocab_id(v, line, (size_t)n) >= 0) rc = engine_error(err, errlen, "%s: line %d repeats \"%s\"", path, lineno, line);
        else if (lineno <= TOK_NUM_SPECIAL && strcmp(line, special_tokens[lineno - 1]) != 0)
            rc = engine_error(err, errlen, "%s: line %d must be %s", path, lineno, special_tokens[lineno - 1]);
        else if (vocab_add(v, line, (size_t)n) < 0) rc = engine_error(err, errlen, "%s: out of memory", path);
    }
    free(line);
    fclose(f);
    if (rc == 0 && v->size <= TOK_NUM_SPECIAL)
        rc = engine_error(err, errlen, "%s: %d lines; a vocabulary needs the 5 special tokens and more", path, v->size);
    if (rc) vocab_free(v);
    return rc;
}

static bool write_tokens(FILE *f, const void *ctx)
{
    const Vocab *v = ctx;
    for (int i = 0; i < v->size; i++)
        if (fprintf(f, "%s\n", v->tokens[i]) < 0) return false;
    return true;
}

int vocab_save(const Vocab *v, const char *path, char *err, size_t errlen)
{
    return engine_write_atomic(path, write_tokens, v, err, errlen);
}

/* ------------------------------------------------------------- basic split ---- */

/* Length of the UTF-8 sequence starting with byte c (1 for stray continuation bytes). */
static size_t utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

static uint32_t utf8_code(const unsigned char *s, size_t n)
{
    if (n == 1) return s[0];
    uint32_t c = s[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) c = (c << 6) | (s[i] & 0x3F);
    return c;
}

static bool is_punct(uint32_t c)
{
    if (c < 128) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
    return (c >= 0x2010 && c <= 0x205E) || (c >= 0x00A1 && c <= 0x00BF && c != 0x00AA && c != 0x00B5 && c != 0x00BA) ||
           c == 0x00D7 || c == 0x00F7 || (c >= 0x3000 && c <= 0x303F);
}

static bool is_space(uint32_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == 0xA0; }

void tokenizer_words(const char *text, WordFn fn, void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    char word[TOK_MAX_WORD * 4 + 8];
    size_t wl = 0;
    bool too_long = false;
#define FLUSH()                                                   \
    do {                                                          \
        if (wl || too_long) {                                     \
            word[too_long ? 0 : wl] = 0;                          \
            fn(word, too_long ? TOK_MAX_WORD + 1 : wl, ctx);      \
        }                                                         \
        wl = 0;                                                   \
        too_long = false;                                         \
    } while (0)
    while (*s) {
        size_t n = utf8_len(*s);
        for (size_t i = 1; i < n; i++)
            if (!s[i]) { n = i; break; }
        uint32_t c = utf8_code(s, n);
        if (is_space(c)) {
            FLUSH();
        } else if (is_punct(c)) {
            FLUSH();
            memcpy(word, s, n);
            word[n] = 0;
            fn(word, n, ctx);
        } else if (wl + n > TOK_MAX_WORD) {
            too_long = true;
        } else {
            for (size_t i = 0; i < n; i++) {
                char ch = (char)s[i];
                word[wl++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
            }
        }
        s += n;
    }
    FLUSH();
#undef FLUSH
}

/* ------------------------------------------------------------------ encode ---- */

int tokenizer_encode_word(const Vocab *v, const char *word, size_t len, int32_t *out, int cap)
{
    if (len == 0) return 0;
    if (len > TOK_MAX_WORD) {
        if (cap > 0) out[0] = TOK_UNK;
        return 1;
    }
    char piece[TOK_MAX_WORD + 3] = "##";
    int count = 0;
    size_t start = 0;
    while (start < len) {
        /* longest first, but no longer than the vocabulary's longest token: a word of L bytes
           then costs L·max_len lookups, not L² (a 100-byte word of unknown letters) */
        size_t room = start == 0 ? v->max_len : v->max_len > 2 ? v->max_len - 2 : 0;
        size_t end = len - start > room ? start + room : len;
        while (end > start && end < len && ((unsigned char)word[end] & 0xC0) == 0x80) end--; /* whole characters */
        int found = -1;
        while (end > start) {
            size_t pl = end - start;
            const char *p = word + start;
            if (start > 0) {
                memcpy(piece + 2, word + start, pl);
                p = piece;
                pl += 2;
            }
            found = vocab_id(v, p, pl);
            if (found >= 0) break;
            do end--; while (end > start && ((unsigned char)word[end] & 0xC0) == 0x80); /* whole characters */
        }
        if (found < 0) { /* a character the vocabulary never saw: the whole word is [UNK] */
            if (cap > 0) out[0] = TOK_UNK;
            return 1;
        }
        if (count < cap) out[count] = found;
        count++;
        start = end;
    }
    return count;
}

typedef struct EncodeCtx { const Vocab *v; int32_t *out; int cap, n; } EncodeCtx;

static void encode_word_cb(const char *word, size_t len, void *ctx)
{
    EncodeCtx *e = ctx;
    int room = e->n < e->cap ? e->cap - e->n : 0;
    int32_t tmp[TOK_MAX_WORD + 1];
    int k = tokenizer_encode_word(e->v, word, len, tmp, TOK_MAX_WORD + 1);
    for (int i = 0; i < k && i < room; i++) e->out[e->n + i] = tmp[i];
    e->n += k;
}

int tokenizer_encode(const Vocab *v, const char *text, int32_t *out, int cap)
{
    EncodeCtx e = {v, out, cap, 0};
    tokenizer_words(text, encode_word_cb, &e);
    return e.n;
}

size_t tokenizer_decode(const Vocab *v, const int32_t *ids, int n, char *buf, size_t cap)
{
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= v->size) continue;
        const char *t = v->tokens[ids[i]];
        bool cont = !vocab_starts_word(v, ids[i]);
        if (cont) t += 2;
        else if (len > 0) {
            if (len + 1 < cap) buf[len] = ' ';
            len++;
        }
        for (const char *c = t; *c; c++, len++)
            if (len + 1 < cap) buf[len] = *c;
    }
    if (cap) buf[len < cap ? len : cap - 1] = 0;
    return len;
}

/* ------------------------------------------------------------------- learn ---- */

typedef struct WordCount { char *word; size_t len; int64_t count; } WordCount;

typedef struct WordTable {
    WordCount *items;
    int n, cap;
    int *slots;
    int nslots;
    bool oom;
} WordTable;

static void word_count_cb(const char *word, size_t len, void *ctx)
{
    WordTable *t = ctx;
    if (t->oom || len > TOK_MAX_WORD) return;
    if (2 * (t->n + 1) > t->nslots) {
        int ns = t->nslots ? 2 * t->nslots : 4096;
        int *s = malloc((size_t)ns * sizeof *s);
        if (!s) { t->oom = true; return; }
        for (int i = 0; i < ns; i++) s[i] = -1;
        for (int i = 0; i < t->n; i++) {
            uint64_t h = hash_bytes(t->items[i].word, t->items[i].len);
            while (s[h & (uint64_t)(ns - 1)] >= 0) h++;
            s[h & (uint64_t)(ns - 1)] = i;
        }
        free(t->slots);
        t->slots = s;
        t->nslots = ns;
    }
    uint64_t h = hash_bytes(word, len);
    for (;; h++) {
        int i = t->slots[h & (uint64_t)(t->nslots - 1)];
        if (i < 0) break;
        if (t->items[i].len == len && memcmp(t->items[i].word, word, len) == 0) { t->items[i].count++; return; }
    }
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 4096;
        WordCount *w = realloc(t->items, (size_t)cap * sizeof *w);
        if (!w) { t->oom = true; return; }
        t->items = w;
        t->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) { t->oom = true; return; }
    memcpy(copy, word, len);
    copy[len] = 0;
    t->items[t->n] = (WordCount){copy, len, 1};
    t->slots[h & (uint64_t)(t->nslots - 1)] = t->n++;
}

/* The symbol of the character at byte i of a word: the character itself at the start,
 * "##" + it inside. Writes it into buf (8 bytes), returns its length; *n = the character's
 * length in bytes. */
static size_t char_symbol(const char *word, size_t len, size_t i, char buf[8], size_t *n)
{
    *n = utf8_len((unsigned char)word[i]);
    if (i + *n > len) *n = len - i;
    size_t bl = 0;
    if (i > 0) { buf[0] = '#'; buf[1] = '#'; bl = 2; }
    memcpy(buf + bl, word + i, *n);
    return bl + *n;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Pair counts of one merge round, in a hash table that is never cleared: a slot belongs to
 * the current round only when its stamp equals the round number. */
typedef struct PairSlot { uint64_t key; int64_t count; int stamp; } PairSlot;

int vocab_learn(Vocab *v, const char *const *texts, int ntexts, int vocab_size, char *err, size_t errlen)
{
    vocab_init(v);
    for (int i = 0; i < TOK_NUM_SPECIAL; i++) vocab_add(v, special_tokens[i], strlen(special_tokens[i]));
    WordTable wt = {0};
    for (int i = 0; i < ntexts; i++) tokenizer_words(texts[i], word_count_cb, &wt);
    int rc = 0;
    int32_t **sym = NULL;
    int *nsym = NULL;
    PairSlot *pairs = NULL;
    char **alphabet = NULL;
    int nalpha = 0, alpha_cap = 1024;
    if (wt.oom) { rc = engine_error(err, errlen, "out of memory counting words"); goto done; }
    if (wt.n == 0) { rc = engine_error(err, errlen, "no words to learn a vocabulary from"); goto done; }

    /* the alphabet: every character as a word start and as a continuation, sorted */
    alphabet = malloc((size_t)alpha_cap * sizeof *alphabet);
    Vocab seen;
    vocab_init(&seen);
    for (int w = 0; w < wt.n && rc == 0; w++) {
        for (size_t i = 0, n; i < wt.items[w].len; i += n) {
            char buf[8];
            size_t bl = char_symbol(wt.items[w].word, wt.items[w].len, i, buf, &n);
            if (vocab_id(&seen, buf, bl) < 0) {
                vocab_add(&seen, buf, bl);
                if (nalpha == alpha_cap) alphabet = realloc(alphabet, (size_t)(alpha_cap *= 2) * sizeof *alphabet);
                alphabet[nalpha] = malloc(bl + 1);
                memcpy(alphabet[nalpha], buf, bl);
                alphabet[nalpha++][bl] = 0;
            }
        }
    }
    vocab_free(&seen);
    qsort(alphabet, (size_t)nalpha, sizeof *alphabet, cmp_str);
    if (TOK_NUM_SPECIAL + nalpha > vocab_size) {
        rc = engine_error(err, errlen, "vocab_size %d is below the %d special tokens and characters of the text",
                  vocab_size, TOK_NUM_SPECIAL + nalpha);
        goto done;
    }
    for (int i = 0; i < nalpha; i++) vocab_add(v, alphabet[i], strlen(alphabet[i]));

    /* each distinct word as a sequence of symbol ids */
    sym = calloc((size_t)wt.n, sizeof *sym);
    nsym = calloc((size_t)wt.n, sizeof *nsym);
    for (int w = 0; w < wt.n; w++) {
        sym[w] = malloc(wt.items[w].len * sizeof **sym);
        for (size_t i = 0, n; i < wt.items[w].len; i += n) {
            char buf[8];
            size_t bl = char_symbol(wt.items[w].word, wt.items[w].len, i, buf, &n);
            sym[w][nsym[w]++] = vocab_id(v, buf, bl);
        }
    }

    /* a round holds at most one slot per adjacent pair of the words, so a table of twice
       that many is never full (a fixed size would loop forever on a text of more distinct
       pairs, and cost megabytes for a short one) */
    size_t npairs = 0, nslots = 1024;
    for (int w = 0; w < wt.n; w++) npairs += nsym[w] > 1 ? (size_t)nsym[w] - 1 : 0;
    while (nslots < 2 * npairs) nslots *= 2;
    pairs = calloc(nslots, sizeof *pairs);
    if (!pairs) { rc = engine_error(err, errlen, "out of memory"); goto done; }
    for (int round = 1; v->size < vocab_size; round++) {
        uint64_t best_key = 0;
        int64_t best = 0;
        for (int w = 0; w < wt.n; w++) {
            for (int i = 0; i + 1 < nsym[w]; i++) {
                uint64_t key = ((uint64_t)(uint32_t)sym[w][i] << 32) | (uint32_t)sym[w][i + 1];
                uint64_t slot = (key * 0x9E3779B97F4A7C15ULL) >> 32;
                PairSlot *p;
                for (;; slot++) {
                    p = &pairs[slot & (uint64_t)(nslots - 1)];
                    if (p->stamp != round || p->key == key) break;
                }
                if (p->stamp != round) *p = (PairSlot){key, 0, round};
                p->count += wt.items[w].count;
                if (p->count > best) { best = p->count; best_key = key; }
                else if (p->count == best && key != best_key) {
                    /* tie: the alphabetically first merged string wins */
                    int a1 = (int)(key >> 32), b1 = (int)(uint32_t)key;
                    int a2 = (int)(best_key >> 32), b2 = (int)(uint32_t)best_key;
                    char m1[2 * TOK_MAX_WORD + 8], m2[2 * TOK_MAX_WORD + 8];
                    snprintf(m1, sizeof m1, "%s%s", v->tokens[a1], v->tokens[b1] + 2);
                    snprintf(m2, sizeof m2, "%s%s", v->tokens[a2], v->tokens[b2] + 2);
                    if (strcmp(m1, m2) < 0) best_key = key;
                }
            }
        }
        if (best == 0) break; /* every word is a single piece */
        int a = (int)(best_key >> 32), b = (int)(uint32_t)best_key;
        char merged[2 * TOK_MAX_WORD + 8];
        int ml = snprintf(merged, sizeof merged, "%s%s", v->tokens[a], v->tokens[b] + 2);
        int id = vocab_add(v, merged, (size_t)ml);
        if (id < 0) { rc = engine_error(err, errlen, "out of memory"); goto done; }
        for (int w = 0; w < wt.n; w++) {
            int k = 0;
            for (int i = 0; i < nsym[w]; i++) {
                if (i + 1 < nsym[w] && sym[w][i] == a && sym[w][i + 1] == b) { sym[w][k++] = id; i++; }
                else sym[w][k++] = sym[w][i];
            }
            nsym[w] = k;
        }
    }
done:
    for (int w = 0; w < wt.n; w++) {
        free(wt.items[w].word);
        if (sym) free(sym[w]);
    }
    if (alphabet) {
        for (int i = 0; i < nalpha; i++) free(alphabet[i]);
        free(alphabet);
    }
    free(wt.items);
    free(wt.slots);
    free(sym);
    free(nsym);
    free(pairs);
    if (rc) vocab_free(v);
    return rc;
}

int tokenizer_encode_masked(const Vocab *v, const char *text, int32_t *out, int cap)
{
    int k = 0;
    char part[512];
    const char *p = text;
    while (*p && k < cap) {
        const char *at = strcasestr(p, "[mask]");
        size_t n = at ? (size_t)(at - p) : strlen(p);
        if (n >= sizeof part) n = sizeof part - 1;
        memcpy(part, p, n);
        part[n] = 0;
        int got = tokenizer_encode(v, part, out + k, cap - k);
        k += got < cap - k ? got : cap - k;
        if (!at) break;
        if (k < cap) out[k++] = TOK_MASK;
        p = at + 6;
    }
    return k;
}
