/* exercise.c — your turn: pack a pair the way BERT's input wants it.
 *
 * Fill in exercise_pack_pair below so that it does what corpus_pack_pair does (read its
 * contract in datasets/corpus.h, not datasets/corpus.c!). Given segment A (a[0..na)) and
 * segment B (b[0..nb)), write one row of T tokens:
 *
 *   ids    [CLS] A... [SEP] B... [SEP] [PAD] [PAD] ...      (TOK_CLS, TOK_SEP, TOK_PAD)
 *   types   0    0...   0   1...   1    0     0   ...      (token_type_ids: the segment)
 *   mask    1    1...   1   1...   1    0     0   ...      (attention_mask: 1 = a real token)
 *
 * When A and B do not fit (na + nb > T - 3), cut one token at a time from the longer of the
 * two (from B when they are equally long) until they fit; each cut takes the first token of
 * that segment when rng_bernoulli(r, 0.5f) is true and its last token otherwise. (This is
 * BERT's truncate_seq_pair: cutting at random ends keeps the model from learning that a
 * segment always ends at a sentence boundary.) Return the length before the padding.
 *
 * Check it with:  meson test -C build --suite exercise
 * The test compares your rows with corpus_pack_pair's, token by token, for many lengths and
 * seeds, and says at which position and in which array they first differ. */
#include "datasets/corpus.h"

int exercise_pack_pair(Rng *r, const int32_t *a, int na, const int32_t *b, int nb, int T, int32_t *ids, int32_t *types,
                       uint8_t *mask);

int exercise_pack_pair(Rng *r, const int32_t *a, int na, const int32_t *b, int nb, int T, int32_t *ids, int32_t *types,
                       uint8_t *mask)
{
    (void)r;
    (void)a;
    (void)na;
    (void)b;
    (void)nb;
    /* TODO: truncate, then write [CLS] A [SEP] B [SEP] and the padding, as described above.
       This starting point writes only padding, so the model would see no text at all. */
    for (int i = 0; i < T; i++) {
        ids[i] = TOK_PAD;
        types[i] = 0;
        mask[i] = 0;
    }
    return 0;
}
