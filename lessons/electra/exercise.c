/* exercise.c — your turn: ELECTRA's discriminator loss, rtd.
 *
 * Fill in exercise_electra_rtd below. disc_logits holds the discriminator's logit at each of n
 * positions: its P(replaced) is σ(x) = 1 / (1 + e^−x). rtd[i] is 1 where the generator's sample
 * replaced the token and 0 where the token is the original (a sample that happens to equal the
 * original counts as original); keep[i] is 1 where position i counts (the attention mask: not
 * padding), or keep is NULL and every position counts. Return
 *
 *   rtd = (1/n) Σ_{i kept} −[ y_i log σ(x_i) + (1 − y_i) log(1 − σ(x_i)) ]
 *
 * with y_i = rtd[i] and n the number of kept positions (0 when none). This is torch's
 * binary_cross_entropy_with_logits over the non-pad positions, as ELECTRA's discriminator
 * loss. A confident discriminator has logits of 40 and beyond, where σ(x) rounds to 1 in double
 * and log(1 − σ(x)) to log 0: write each term as max(x, 0) − x·y + log1p(e^−|x|) (check that it
 * is the same for y = 0 and y = 1), and sum in double.
 *
 * Check it with:  meson test -C build --suite exercise
 * The test compares your value with the lesson's on the hand example of the notes, on random
 * logits with and without padding, with nothing kept, and on logits of ±40 and ±100. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

double exercise_electra_rtd(const float *disc_logits, const uint8_t *rtd, const uint8_t *keep, int n);

double exercise_electra_rtd(const float *disc_logits, const uint8_t *rtd, const uint8_t *keep, int n)
{
    (void)keep;
    /* TODO: the mean over the kept positions, in the form that cannot take the log of 0. This
       starting point is the first position's term alone, straight from the formula. */
    if (n < 1) return 0;
    double p = 1 / (1 + exp(-(double)disc_logits[0])), y = rtd[0];
    return -(y * log(p) + (1 - y) * log(1 - p));
}
