/* rng.h — one small seedable generator: PCG32 (O'Neill, pcg-random.org, XSH-RR 64/32).
 *
 * No global state: every user owns an Rng, so the same seed gives the same stream on every
 * machine and in every thread. The state is two integers, which a checkpoint saves as is. */
#ifndef FMLAB_ENGINE_RNG_H
#define FMLAB_ENGINE_RNG_H

#include "common.h"

typedef struct Rng {
    uint64_t state;
    uint64_t inc;   /* stream selector, always odd */
} Rng;

void rng_seed(Rng *r, uint64_t seed, uint64_t stream);
/* Restores a saved state (a checkpoint's). PCG needs an odd increment, as rng_seed makes it:
 * with an even one the period collapses (state 0, inc 0 yields 0 forever, and rng_below then
 * never returns). false, leaving r alone, when inc is even. */
bool rng_set_state(Rng *r, uint64_t state, uint64_t inc);
uint32_t rng_u32(Rng *r);
float rng_uniform(Rng *r);                   /* [0, 1), 24 random bits */
double rng_uniform_double(Rng *r);           /* [0, 1), 53 random bits */
float rng_normal(Rng *r, float mean, float std);   /* Box–Muller, no cached second value */
uint32_t rng_below(Rng *r, uint32_t n);      /* uniform in 0..n-1, unbiased (Lemire) */
int rng_range(Rng *r, int lo, int hi);       /* uniform in lo..hi inclusive */
bool rng_bernoulli(Rng *r, float p);         /* true with probability p */
void rng_shuffle(Rng *r, int *a, int n);     /* Fisher–Yates */
/* Samples an index from softmax(logits/temperature) restricted to the top_k largest logits
 * (top_k <= 0 or >= n: all). temperature must be > 0. Ties at the k-th value keep the lower
 * indices. */
int rng_categorical(Rng *r, const float *logits, int n, float temperature, int top_k);

#endif
