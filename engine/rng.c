/* rng.c — PCG32 and the distributions built on it. */
#include "rng.h"

#include <math.h>

void rng_seed(Rng *r, uint64_t seed, uint64_t stream)
{
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    rng_u32(r);
    r->state += seed;
    rng_u32(r);
}

bool rng_set_state(Rng *r, uint64_t state, uint64_t inc)
{
    if (!(inc & 1u)) return false;
    r->state = state;
    r->inc = inc;
    return true;
}

uint32_t rng_u32(Rng *r)
{
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

float rng_uniform(Rng *r) { return (float)(rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

double rng_uniform_double(Rng *r)
{
    uint64_t hi = rng_u32(r) >> 5, lo = rng_u32(r) >> 6; /* 27 + 26 bits */
    return ((double)hi * 67108864.0 + (double)lo) * (1.0 / 9007199254740992.0);
}

float rng_normal(Rng *r, float mean, float std)
{
    double u1 = 1.0 - rng_uniform_double(r); /* (0, 1]: log is finite */
    double u2 = rng_uniform_double(r);
    double z = sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
    return mean + std * (float)z;
}

uint32_t rng_below(Rng *r, uint32_t n)
{
    ENGINE_CHECK(n > 0, "rng_below(0): the range is empty");
    uint64_t m = (uint64_t)rng_u32(r) * n;
    uint32_t l = (uint32_t)m;
    if (l < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (l < t) {
            m = (uint64_t)rng_u32(r) * n;
            l = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

int rng_range(Rng *r, int lo, int hi)
{
    ENGINE_CHECK(lo <= hi, "rng_range: lo %d > hi %d", lo, hi);
    return lo + (int)rng_below(r, (uint32_t)((int64_t)hi - lo + 1));
}

bool rng_bernoulli(Rng *r, float p) { return rng_uniform(r) < p; }

void rng_shuffle(Rng *r, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint32_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

int rng_categorical(Rng *r, const float *logits, int n, float temperature, int top_k)
{
    ENGINE_CHECK(n > 0 && temperature > 0, "rng_categorical: n %d, temperature %g", n, temperature);
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = logits[i] > mx ? logits[i] : mx;
    if (top_k <= 0 || top_k >= n) {
        double total = 0;
        for (int i = 0; i < n; i++) total += exp((double)(logits[i] - mx) / temperature);
        double u = rng_uniform_double(r) * total, acc = 0;
        for (int i = 0; i < n; i++) {
            acc += exp((double)(logits[i] - mx) / temperature);
            if (u < acc) return i;
        }
        return n - 1; /* u landed on the rounding error at the very end */
    }
    /* the top k indices, largest first, by insertion (ties keep the lower index first) */
    int idx[top_k], cnt = 0;
    for (int i = 0; i < n; i++) {
        if (cnt == top_k && !(logits[i] > logits[idx[cnt - 1]])) continue;
        int pos = cnt < top_k ? cnt++ : top_k - 1;
        while (pos > 0 && logits[i] > logits[idx[pos - 1]]) {
            idx[pos] = idx[pos - 1];
            pos--;
        }
        idx[pos] = i;
    }
    double total = 0;
    for (int j = 0; j < cnt; j++) total += exp((double)(logits[idx[j]] - mx) / temperature);
    double u = rng_uniform_double(r) * total, acc = 0;
    for (int j = 0; j < cnt; j++) {
        acc += exp((double)(logits[idx[j]] - mx) / temperature);
        if (u < acc) return idx[j];
    }
    return idx[cnt - 1];
}
