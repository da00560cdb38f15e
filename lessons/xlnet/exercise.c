/* exercise.c — your turn: XLNet's two attention masks, from a factorization order.
 *
 * Fill in exercise_xlnet_masks below so that it does what xlnet_masks in xlnet.c does (read
 * its contract in lesson.h, not xlnet.c!). You get one sequence's factorization order, a
 * permutation of the positions 0..T-1: order[k] is the position predicted at step k. The text
 * itself is never moved; only the masks follow the order. Write two (T,T) masks, row i the
 * query at position i, column j the key at position j, 1 where i may attend to j:
 *
 *   content[i·T + j] = 1  iff  rank(j) <= rank(i)   the content stream h_i: what z_<=t holds,
 *                                                   its own token included
 *   query[i·T + j]   = 1  iff  rank(j) <  rank(i)   the query stream g_i: the positions
 *                                                   before it in the order, never its own
 *                                                   token (it must predict that one)
 *
 * where rank(i) is the step at which position i comes: the inverse of the order,
 * rank[order[k]] = k. Work the notes' hand example first: T = 4, order (2, 0, 3, 1) gives
 * rank(0) = 1, rank(1) = 3, rank(2) = 0, rank(3) = 2. Position 1 comes last: its query row
 * sees positions 0, 2 and 3; position 2 comes first: its query row sees nothing.
 *
 * The starting point below compares the positions themselves, j <= i and j < i: that is GPT's
 * causal mask, XLNet's masks for the one order (0, 1, ..., T-1). For every other order it
 * lets a position see tokens that come after it in the order and hides some that come before.
 *
 * Check it with:  meson test -C build exercise_xlnet   (--suite exercise runs every lesson's)
 * The test starts with the identity order (where the starting point is right), then the hand
 * example, then 2,050 random orders of 1 to 40 positions and of 64, and checks the relations the
 * two masks must keep: the diagonal, content = query + the diagonal, and the position at step
 * k seeing exactly k keys in the query stream. */
#include <stdint.h>

void exercise_xlnet_masks(const int32_t *order, int T, uint8_t *content, uint8_t *query);

void exercise_xlnet_masks(const int32_t *order, int T, uint8_t *content, uint8_t *query)
{
    (void)order;
    /* TODO: the rank of every position from the order, then compare ranks, not positions. */
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
            content[i * T + j] = j <= i;
            query[i * T + j] = j < i;
        }
}
