/* tokenizer.h — BERT's WordPiece tokenizer, and the learning of its vocabulary.
 *
 * Text is first split as BERT's BasicTokenizer does: lower-cased (ASCII), split at
 * whitespace, every punctuation character a word of its own (ASCII punctuation and the
 * Unicode punctuation block, so Moby-Dick's em dash "—" stands alone). Each word is then
 * cut greedily, longest match first, into vocabulary pieces; a piece that continues a word
 * is written with a "##" prefix ("harpooneer" -> "harp", "##oon", "##eer"). A word that
 * cannot be cut (a character never seen in training) becomes [UNK], as in BERT.
 *
 * The vocabulary is [PAD] [UNK] [CLS] [SEP] [MASK] (ids 0-4), then every character seen in
 * training (as a word start and as a "##" continuation), then the pieces made by
 * byte-pair-style merges: repeatedly join the adjacent pair of pieces that occurs most
 * often in the training words (ties: the alphabetically first result), until vocab_size.
 * The same text and size always give the same vocabulary. vocab.txt holds one token per
 * line, the line number being the id, as BERT's files do. */
#ifndef FMLAB_TOKENIZER_H
#define FMLAB_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { TOK_PAD = 0, TOK_UNK = 1, TOK_CLS = 2, TOK_SEP = 3, TOK_MASK = 4, TOK_NUM_SPECIAL = 5 };

#define TOK_MAX_WORD 100     /* bytes; a longer word is [UNK] (BERT: max_input_chars_per_word) */

typedef struct Vocab {
    char **tokens;           /* owned strings, index = id */
    int size, cap;
    int *slots;              /* open-addressing hash: token -> id, -1 = empty */
    int nslots;
    size_t max_len;          /* the longest token's bytes: no longer piece is looked up */
} Vocab;

void vocab_init(Vocab *v);
void vocab_free(Vocab *v);
/* Adds a token (copied) if absent; returns its id, or -1 when out of memory. */
int vocab_add(Vocab *v, const char *token, size_t len);
int vocab_id(const Vocab *v, const char *token, size_t len);   /* -1 if absent */
static inline const char *vocab_token(const Vocab *v, int id) { return v->tokens[id]; }
static inline bool vocab_is_special(int id) { return id >= 0 && id < TOK_NUM_SPECIAL; }
/* A piece that begins a word (not "##..."); specials count as word starts. */
bool vocab_starts_word(const Vocab *v, int id);

/* BERT's vocab.txt. Loading checks that the first five lines are the special tokens, that
 * no line is empty, repeated or holds a NUL byte, and that there is at least one more token.
 * 0, or -1 with a one-line reason naming the file. */
int vocab_load(Vocab *v, const char *path, char *err, size_t errlen);
int vocab_save(const Vocab *v, const char *path, char *err, size_t errlen);

/* Learns a vocabulary of vocab_size tokens from the given texts (see above). */
int vocab_learn(Vocab *v, const char *const *texts, int ntexts, int vocab_size, char *err, size_t errlen);

/* Calls fn for every basic word of text (lower-cased copy, NUL-terminated). */
typedef void (*WordFn)(const char *word, size_t len, void *ctx);
void tokenizer_words(const char *text, WordFn fn, void *ctx);

/* Encodes text to ids. Writes at most cap ids and returns how many the text has (so a
 * return above cap means it was cut). */
int tokenizer_encode(const Vocab *v, const char *text, int32_t *out, int cap);
/* The same, where every "[mask]" (any case) becomes the [MASK] token: a student's probe. */
int tokenizer_encode_masked(const Vocab *v, const char *text, int32_t *out, int cap);
/* One word (already lower-cased, no spaces) to pieces: same contract. */
int tokenizer_encode_word(const Vocab *v, const char *word, size_t len, int32_t *out, int cap);
/* Decodes ids into text, "##" pieces joined to the word before, words separated by one
 * space. Returns the length it needs (excluding the NUL); writes at most cap bytes. */
size_t tokenizer_decode(const Vocab *v, const int32_t *ids, int n, char *buf, size_t cap);

#endif
