/* exercise.c — your turn: the induction score of an attention head (Olsson et al. 2022).
 *
 * Fill in exercise_induction_score below so that it does what icl_induction_score in icl.c
 * does (read its contract in lesson.h, not icl.c!). You get one head's attention pattern on
 * one sequence: attn[i * T + j] is how much query position i attends to key position j (each
 * row sums to 1, and a causal head has 0 for j > i). The sequence is special: its tokens
 * L..2L-1 repeat tokens 0..L-1, so the token at position i (i >= L) appeared before at
 * position i - L.
 *
 * An induction head, at position i, looks for where the current token appeared before and
 * attends to the token AFTER that earlier occurrence: position i - L + 1, because that is the
 * token that came next last time, and so the best guess for what comes next now.
 *
 * Return the mean, over the queries of the copy (i = L .. 2L-1), of attn[i][i - L + 1]:
 * 1 for a perfect induction head, near 0 for a head that spreads its attention evenly.
 *
 * Check it with:  meson test -C build --suite exercise
 * The test tries a perfect induction pattern (1), even attention (the mean of 1/(i+1)),
 * attention on the token itself and on the earlier occurrence (0: not the token after it),
 * and a head that splits its attention in half (0.5). */

float exercise_induction_score(const float *attn, int T, int L);

float exercise_induction_score(const float *attn, int T, int L)
{
    (void)attn;
    (void)T;
    (void)L;
    /* TODO: the mean over i = L .. 2L-1 of attn[i * T + (i - L + 1)]. */
    return 0;
}
