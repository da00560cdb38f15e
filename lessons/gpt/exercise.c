/* exercise.c — your turn: the distribution a GPT draws its next token from.
 *
 * Fill in exercise_distribution below so that it does what gpt_distribution in gpt.c does
 * (read its contract in lesson.h, not gpt.c!). You get one row of logits (V numbers: the
 * model's score for every token of the vocabulary) and two settings:
 *   - temperature: divide every logit by it before the softmax. Below 1 the distribution
 *     gets sharper, above 1 flatter. temperature 0 means greedy: probability 1 on the largest
 *     logit (the lowest id among equals), 0 everywhere else.
 *   - top_k: keep only the logits at least as large as the k-th largest (ties at the k-th
 *     value all stay, as in Hugging Face's TopKLogitsWarper); the others get probability 0.
 *     0 keeps all of them.
 * Write the probabilities into probs[0..V): softmax(logits / temperature) over the kept
 * tokens, summing to 1. Compute the softmax the stable way (subtract the largest logit
 * before exp), or large logits give inf / inf = NaN.
 *
 * Check it with:  meson test -C build --suite exercise
 * The test checks greedy decoding, that top-k never keeps a token outside the top k, the
 * probabilities against a hand computation, and the frequencies of tokens drawn from your
 * distribution against the renormalised softmax (a chi-square test). */

void exercise_distribution(const float *logits, int V, float temperature, int top_k, float *probs);

void exercise_distribution(const float *logits, int V, float temperature, int top_k, float *probs)
{
    (void)logits;
    (void)temperature;
    (void)top_k;
    /* TODO: temperature, top-k, then the softmax. This starting point says every token is
       equally likely: what an untrained model would say, whatever its logits. */
    for (int v = 0; v < V; v++) probs[v] = 1.0f / (float)V;
}
