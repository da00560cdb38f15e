/* corpus.h — the shipped text as token ids, and the batches the lessons train on.
 *
 * A corpus file holds one sentence per line and a blank line between documents (BERT's
 * pretraining format; see PROVENANCE.md). Loading tokenizes every sentence once; batches
 * are then cut from the ids with the caller's seeded Rng, so the same seed gives the same
 * batches on every machine.
 *
 *   windows  fixed-length runs of consecutive tokens (across sentence and document ends),
 *            for objectives that read running text (GPT, masked LM);
 *   pairs    [CLS] A [SEP] B [SEP] [PAD]... for next-sentence prediction and sentence order:
 *            A and B are spans of whole sentences; the longer one is cut first when the pair
 *            does not fit, as BERT's create_pretraining_data.py does. */
#ifndef FMLAB_CORPUS_H
#define FMLAB_CORPUS_H

#include "engine/rng.h"
#include "datasets/tokenizer.h"

typedef struct Corpus {
    int32_t *ids;          /* every sentence's tokens, back to back */
    size_t nids;
    size_t *sent_start;    /* sentence s = ids[sent_start[s] .. sent_start[s+1]) */
    int nsent;
    int *doc_start;        /* document d = sentences doc_start[d] .. doc_start[d+1]-1 */
    int ndocs;
    int64_t unk;           /* tokens that came out as [UNK] */
} Corpus;

/* Reads and tokenizes a corpus file. A missing, unreadable, empty or non-text file is an
 * error with a message naming it (the lessons exit 2 with it), never a crash. */
int corpus_load(Corpus *c, const char *path, const Vocab *v, char *err, size_t errlen);
/* All texts of a corpus file's sentences, for vocab_learn: one string per document,
 * owned by *texts (free with corpus_texts_free). */
/* The whole file, NUL-terminated (malloc'd, *len bytes); NULL with a message when it cannot be
 * read or is not text (it has NUL bytes). */
char *corpus_read_text(const char *path, size_t *len, char *err, size_t errlen);
int corpus_read_documents(const char *path, char ***texts, int *n, char *err, size_t errlen);
void corpus_texts_free(char **texts, int n);
void corpus_free(Corpus *c);
static inline int corpus_sent_len(const Corpus *c, int s) { return (int)(c->sent_start[s + 1] - c->sent_start[s]); }

/* B windows of T tokens each into ids (B·T). With cls_sep, each window is
 * [CLS] + T-2 tokens + [SEP]. The same as B pairs of corpus_window_start and corpus_window. */
void corpus_windows(const Corpus *c, Rng *r, int B, int T, bool cls_sep, int32_t *ids);
/* Where a window of T tokens (cls_sep: T-2 of the text) starts, uniform over the text: its
 * identity, for a lesson that must know a window when it comes again. One draw from r. */
size_t corpus_window_start(const Corpus *c, Rng *r, int T, bool cls_sep);
/* The window that starts at token `start` into row (T). */
void corpus_window(const Corpus *c, size_t start, int T, bool cls_sep, int32_t *row);

typedef enum PairTask {
    PAIR_NSP,              /* label 0: B follows A (IsNext); 1: B from another document */
    PAIR_SOP               /* label 0: A then B, in order; 1: swapped */
} PairTask;

/* The share of pairs aimed at a random shorter length than the row (BERT's short_seq_prob). */
#define CORPUS_SHORT_PAIRS 0.1f

/* B pairs of length T (T >= 5) into ids, token_type_ids, attention_mask (each B·T) and
 * labels (B), made as BERT's create_pretraining_data.py makes them: a run of sentences of one
 * document up to the row's length (or, for CORPUS_SHORT_PAIRS of them, a random shorter
 * length), cut at a random sentence boundary into A and B; NotNext's B is a run of sentences
 * of another document, as long as A leaves room for. Each label is 1 with probability 1/2,
 * and a pair's length does not depend on it. In a corpus where no document has two
 * sentences, the whole corpus counts as one (document -1). docs (2·B, or NULL) gets the
 * document of A and of B for each pair. */
void corpus_pairs(const Corpus *c, Rng *r, PairTask task, int B, int T, int32_t *ids, int32_t *types,
                  uint8_t *mask, int32_t *labels, int *docs);
/* One pair packed into a row of T (T >= 5): [CLS] A [SEP] B [SEP] then [PAD]s; token_type_ids
 * 0 through the first [SEP], 1 through the second, 0 on padding; attention_mask 1 on the
 * tokens, 0 on padding. When A and B do not fit in T-3 tokens, one token at a time is cut
 * from the longer (from B when they are as long), from its front when rng_bernoulli(r, 0.5)
 * says so and from its back otherwise (BERT's truncate_seq_pair), so both stay non-empty if
 * they were. Returns the length before the padding. */
int corpus_pack_pair(Rng *r, const int32_t *a, int na, const int32_t *b, int nb, int T, int32_t *ids, int32_t *types,
                     uint8_t *mask);

/* Token frequencies of the corpus (counts[V]), for the unigram baseline lines. */
void corpus_unigram(const Corpus *c, int V, int64_t *counts);
/* The bar a model must beat, over the non-special tokens: the entropy of their frequencies
 * (nats: the loss of predicting every token by its frequency alone) and the frequency of
 * the most common one (the accuracy of always guessing it). -1 when out of memory. */
int corpus_unigram_baseline(const Corpus *c, int V, double *entropy, double *best);
/* The lines a next-token model must beat on held-out text (every token of `eval` after its
 * first, in nats per token): `unigram`, the cross-entropy of predicting each token by its
 * frequency in `train`; `bigram`, that of a model that sees the previous token only,
 * p(b | a) = λ·c(a,b)/c(a) + (1 − λ)·p(b), with c the counts of `train` and λ the best of
 * 0.05, 0.10, …, 0.95 on `eval` (*lambda). p(b) is add-½ smoothed over the V ids, so no
 * held-out token has probability 0. -1 when out of memory or a corpus is shorter than 2. */
int corpus_ngram_baselines(const Corpus *train, const Corpus *eval, int V, double *unigram, double *bigram,
                           double *lambda);

/* ---- labelled messages (spam/train.tsv, spam/eval.tsv): "label<TAB>text" per line ----
 * label "ham" (0) or "spam" (1). Each message is tokenized once (text tokens only: the
 * caller packs [CLS] text [SEP]); its first bytes are kept for display. */
#define MESSAGES_SHOWN 120   /* bytes of each message's text kept for display */
typedef struct Messages {
    int32_t *ids;          /* every message's tokens, back to back */
    size_t nids;
    size_t *start;         /* message i = ids[start[i] .. start[i+1]) */
    int32_t *label;        /* (n) 0 ham, 1 spam */
    char **shown;          /* (n) the first MESSAGES_SHOWN bytes of the text (whole UTF-8) */
    int n;
    int count[2];          /* messages per label */
    int64_t unk;
} Messages;
/* Reads a labelled file. A missing or unreadable file, a line without a tab, a label other
 * than ham/spam, or a file without both labels is an error naming the file and line. */
int messages_load(Messages *m, const char *path, const Vocab *v, char *err, size_t errlen);
void messages_free(Messages *m);
static inline int messages_len(const Messages *m, int i) { return (int)(m->start[i + 1] - m->start[i]); }
/* A balanced label budget: n message indices, n/2 spam and n - n/2 ham (all of a label when
 * it has fewer), in an order drawn with r; n <= 0 or n >= m->n: every message. The first
 * k of the order for n are the first k for every larger budget (a budget of 16 is part of
 * the 64), because each label's messages are shuffled once and taken from the front.
 * Returns how many were written to out (room for m->n). */
int messages_budget(const Messages *m, Rng *r, int n, int *out);
/* Message i as [CLS] text [SEP] then [PAD]s in a row of T (T >= 3), the text cut to T-2
 * tokens; attention_mask 1 on the tokens, 0 on padding. Returns the length before padding. */
int messages_pack(const Messages *m, int i, int T, int32_t *ids, uint8_t *mask);

#endif
