/* test_grad.c — every op's backward against central finite differences, every fused op
 * against its composite, the public encoder and decoder layers (masks, XLNet's query
 * stream) against finite differences and against each other, and two small models that
 * must learn.
 *
 * The check: for inputs x and a fixed random upstream gradient R, L(x) = Σ out(x) ⊙ R is
 * summed in double; the analytic gradient (tape_backward_from with R) must match
 * (L(x + h) − L(x − h)) / 2h element by element. Edges are covered: fully masked rows, every
 * position ignored, T = 1, broadcasting, matrices that cross the matmul's block sizes. */
#include "testutil.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

typedef Tensor *(*BuildFn)(Tape *tp, Tensor **in, const void *ctx);

#define MAX_IN 3
#define FD_H 1e-2
#define FD_ATOL 2e-3
#define FD_RTOL 1e-2
/* Elements checked per input: all of them for small tensors, an evenly spread sample else. */
#define FD_MAX_CHECKS 160

typedef struct Case {
    const char *name;
    BuildFn build;
    const void *ctx;
    int nin;
    int ndim[MAX_IN];
    int shape[MAX_IN][4];
    bool grad[MAX_IN];     /* which inputs to check */
    float std;             /* input scale */
} Case;

static Tape work, inputs;

static double eval_loss(Tensor *out, const float *R)
{
    double L = 0;
    for (size_t i = 0; i < out->size; i++) L += (double)out->data[i] * R[i];
    return L;
}

static Tensor *run(const Case *c, Tensor **in, bool no_grad)
{
    tape_reset(&work);
    work.no_grad = no_grad;
    for (int i = 0; i < c->nin; i++) in[i]->grad = NULL;
    return c->build(&work, in, c->ctx);
}

/* Returns the worst error ratio over every checked element of every input. */
static double grad_check(const Case *c, uint64_t seed)
{
    Rng r;
    rng_seed(&r, seed, 7);
    tape_reset(&inputs);
    Tensor *in[MAX_IN];
    for (int i = 0; i < c->nin; i++) {
        in[i] = tape_leaf(&inputs, c->ndim[i], c->shape[i], c->grad[i]);
        fill_normal(in[i]->data, in[i]->size, &r, c->std > 0 ? c->std : 1.0f);
    }
    Tensor *out = run(c, in, false);
    size_t on = out->size;
    float *R = malloc(on * sizeof *R);
    fill_normal(R, on, &r, 1.0f);
    tape_backward_from(&work, out, R);
    float *ana[MAX_IN] = {0};
    for (int i = 0; i < c->nin; i++) {
        if (!c->grad[i]) continue;
        ana[i] = calloc(in[i]->size, sizeof(float));
        if (in[i]->grad) memcpy(ana[i], in[i]->grad, in[i]->size * sizeof(float));
    }
    double worst = 0;
    for (int i = 0; i < c->nin; i++) {
        if (!c->grad[i]) continue;
        size_t n = in[i]->size, stride = n > FD_MAX_CHECKS ? n / FD_MAX_CHECKS : 1;
        for (size_t j = (size_t)(seed % stride); j < n; j += stride) {
            float x0 = in[i]->data[j];
            in[i]->data[j] = x0 + (float)FD_H;
            double lp = eval_loss(run(c, in, true), R);
            in[i]->data[j] = x0 - (float)FD_H;
            double lm = eval_loss(run(c, in, true), R);
            in[i]->data[j] = x0;
            double num = (lp - lm) / (2 * FD_H);
            double d = fabs(num - ana[i][j]);
            double ratio = d / (FD_ATOL + FD_RTOL * fmax(fabs(num), fabs(ana[i][j])));
            if (!isfinite(ana[i][j])) ratio = INFINITY;
            if (ratio > worst) worst = ratio;
            if (ratio > 1)
                print_message("%s: input %d elem %zu: analytic %.6g, numeric %.6g\n", c->name, i, j,
                              (double)ana[i][j], num);
        }
        free(ana[i]);
    }
    free(R);
    work.no_grad = false;
    return worst;
}

static void check_case(const Case *c)
{
    for (uint64_t seed = 1; seed <= 2; seed++) {
        double w = grad_check(c, seed);
        if (w > 1) print_message("%s failed (worst %.2f× tolerance)\n", c->name, w);
        assert_true(w <= 1);
    }
}

#define SHAPE(...) {__VA_ARGS__}

/* ---------------- builders ---------------- */
static Tensor *b_add(Tape *tp, Tensor **in, const void *ctx) { (void)ctx; return op_add(tp, in[0], in[1]); }
static Tensor *b_mul(Tape *tp, Tensor **in, const void *ctx) { (void)ctx; return op_mul(tp, in[0], in[1]); }
static Tensor *b_scale(Tape *tp, Tensor **in, const void *ctx) { (void)ctx; return op_scale(tp, in[0], -1.7f); }
static Tensor *b_gelu_erf(Tape *tp, Tensor **in, const void *ctx) { (void)ctx; return op_gelu_erf(tp, in[0]); }
static Tensor *b_gelu_tanh(Tape *tp, Tensor **in, const void *ctx) { (void)ctx; return op_gelu_tanh(tp, in[0]); }
static Tensor *b_tanh(Tape *tp, Tensor **in, const void *ctx) { (void)ctx; return op_tanh(tp, in[0]); }
static Tensor *b_softmax(Tape *tp, Tensor **in, const void *ctx) { (void)ctx; return op_softmax(tp, in[0]); }
static Tensor *b_sum(Tape *tp, Tensor **in, const void *ctx) { (void)ctx; return op_sum(tp, in[0]); }
static Tensor *b_mean(Tape *tp, Tensor **in, const void *ctx) { (void)ctx; return op_mean(tp, in[0]); }
static Tensor *b_transpose(Tape *tp, Tensor **in, const void *ctx) { (void)ctx; return op_transpose12(tp, in[0]); }
static Tensor *b_slice(Tape *tp, Tensor **in, const void *ctx) { (void)ctx; return op_slice_last(tp, in[0], 2, 3); }
static Tensor *b_layernorm(Tape *tp, Tensor **in, const void *ctx)
{
    (void)ctx;
    return op_layernorm(tp, in[0], in[1], in[2], 1e-5f);
}
static Tensor *b_heads(Tape *tp, Tensor **in, const void *ctx)
{
    (void)ctx;
    /* split into 3 heads, scale each differently, merge back: the round trip must be exact */
    Tensor *h = op_split_heads(tp, in[0], 3);
    h = op_mul(tp, h, in[1]); /* in[1] (T,HS) broadcast */
    return op_merge_heads(tp, h);
}
static Tensor *b_reshape(Tape *tp, Tensor **in, const void *ctx)
{
    (void)ctx;
    int s[2] = {6, 4};
    return op_mul(tp, op_reshape(tp, in[0], 2, s), in[1]);
}

typedef struct MMCtx { bool ta, tb; } MMCtx;
static Tensor *b_matmul(Tape *tp, Tensor **in, const void *ctx)
{
    const MMCtx *m = ctx;
    return op_matmul(tp, in[0], in[1], m->ta, m->tb);
}

static Tensor *b_linear(Tape *tp, Tensor **in, const void *ctx)
{
    return ctx ? op_conv1d(tp, in[0], in[1], in[2]) : op_linear(tp, in[0], in[1], in[2]);
}
static Tensor *b_linear_nobias(Tape *tp, Tensor **in, const void *ctx)
{
    (void)ctx;
    return op_linear(tp, in[0], in[1], NULL);
}

static const int32_t gather_rows[5] = {3, 0, 3, 5, 1};
static Tensor *b_gather(Tape *tp, Tensor **in, const void *ctx)
{
    (void)ctx;
    return op_gather_rows(tp, in[0], gather_rows, 5);
}
static const int32_t emb_ids[2 * 4] = {1, 4, 1, 0, 6, 6, 6, 2};
static Tensor *b_embedding(Tape *tp, Tensor **in, const void *ctx)
{
    (void)ctx;
    int s[2] = {2, 4};
    return op_embedding(tp, in[0], emb_ids, 2, s, -1);
}

static const uint8_t *softmax_keep;
static Tensor *b_masked_softmax(Tape *tp, Tensor **in, const void *ctx)
{
    (void)ctx;
    return op_masked_softmax(tp, in[0], softmax_keep);
}

typedef struct AttnCtx { AttnMask mask; int nh; } AttnCtx;
static Tensor *b_attention(Tape *tp, Tensor **in, const void *ctx)
{
    const AttnCtx *a = ctx;
    return op_attention(tp, in[0], in[1], in[2], a->nh, a->mask, NULL);
}

static const int32_t *ce_targets;
static Tensor *b_ce(Tape *tp, Tensor **in, const void *ctx)
{
    (void)ctx;
    return op_cross_entropy(tp, in[0], ce_targets);
}

static const float bce_targets[12] = {1, 0, 1, 1, 0, 0, 1, 0, 0.3f, 1, 0, 1};
static const uint8_t *bce_keep;
static Tensor *b_bce(Tape *tp, Tensor **in, const void *ctx)
{
    (void)ctx;
    return op_bce_logits(tp, in[0], bce_targets, bce_keep);
}

static const uint8_t row_keep[6] = {1, 0, 1, 1, 0, 1};
static const uint8_t row_none[6] = {0};
static Tensor *b_kl(Tape *tp, Tensor **in, const void *ctx)
{
    return op_kl_div(tp, in[0], in[1], 2.0f, ctx);
}
static Tensor *b_cos(Tape *tp, Tensor **in, const void *ctx)
{
    return op_cosine_loss(tp, in[0], in[1], ctx);
}

/* ---------------- nn layers ----------------
 * One encoder and one decoder layer of C = 6 (2 heads of 3), FFN 8, on fixed weights that
 * need no gradient; the layer's input x, the query stream g and one weight matrix are the
 * checked inputs. */
enum { LB = 2, LT = 4, LC = 6, LI = 8 };
static Tape fixed;
static Block enc_block, dec_block;

static Tensor *fixed_tensor(Rng *r, int d0, int d1, float mean, float std)
{
    int s[2] = {d0, d1};
    Tensor *t = tape_leaf(&fixed, d1 ? 2 : 1, s, false);
    for (size_t i = 0; i < t->size; i++) t->data[i] = mean + rng_normal(r, 0.0f, std);
    return t;
}

static Linear fixed_linear(Rng *r, int in, int out, bool conv1d)
{
    Linear l = {fixed_tensor(r, conv1d ? in : out, conv1d ? out : in, 0, 0.5f), fixed_tensor(r, out, 0, 0, 0.1f), conv1d};
    return l;
}

static LayerNorm fixed_ln(Rng *r, float eps)
{
    LayerNorm ln = {fixed_tensor(r, LC, 0, 1, 0.1f), fixed_tensor(r, LC, 0, 0, 0.1f), eps};
    return ln;
}

static void make_blocks(void)
{
    Rng r;
    rng_seed(&r, 77, 0);
    enc_block = (Block){.q = fixed_linear(&r, LC, LC, false), .k = fixed_linear(&r, LC, LC, false),
                        .v = fixed_linear(&r, LC, LC, false), .o = fixed_linear(&r, LC, LC, false),
                        .ln1 = fixed_ln(&r, 1e-12f), .ln2 = fixed_ln(&r, 1e-12f),
                        .ffn_in = fixed_linear(&r, LC, LI, false), .ffn_out = fixed_linear(&r, LI, LC, false),
                        .num_heads = 2, .act = ACT_GELU};
    dec_block = (Block){.qkv = fixed_linear(&r, LC, 3 * LC, true), .o = fixed_linear(&r, LC, LC, true),
                        .ln1 = fixed_ln(&r, 1e-5f), .ln2 = fixed_ln(&r, 1e-5f),
                        .ffn_in = fixed_linear(&r, LC, LI, true), .ffn_out = fixed_linear(&r, LI, LC, true),
                        .num_heads = 2, .act = ACT_GELU_NEW};
}

/* XLNet's masks for a factorisation order per sequence: the content stream sees the
 * positions up to and including its own in the order, the query stream only those before
 * it (so the first position in the order sees nothing). */
static uint8_t xl_content[LB * LT * LT], xl_query[LB * LT * LT];
static void make_xlnet_masks(void)
{
    static const int order[LB][LT] = {{2, 0, 3, 1}, {1, 3, 0, 2}};
    for (int b = 0; b < LB; b++) {
        int rank[LT];
        for (int k = 0; k < LT; k++) rank[order[b][k]] = k;
        for (int i = 0; i < LT; i++)
            for (int j = 0; j < LT; j++) {
                xl_content[(b * LT + i) * LT + j] = rank[j] <= rank[i];
                xl_query[(b * LT + i) * LT + j] = rank[j] < rank[i];
            }
    }
}

/* streams: 1 the layer alone; 2 with a query stream, its output checked; 3 both outputs summed.
 * in[0] x and in[1] g are N(0,1); the checked weight in[2] is scaled to 0.3 of that, an
 * init-like size that keeps the attention away from saturation, where finite differences
 * of step 1e-2 stop being accurate. */
typedef struct LayerCtx { bool decoder; AttnMask mask, qmask; int streams; } LayerCtx;
static Tensor *b_layer(Tape *tp, Tensor **in, const void *ctx)
{
    const LayerCtx *c = ctx;
    Block bl = c->decoder ? dec_block : enc_block;
    Tensor *w = op_scale(tp, in[2], 0.3f);
    if (c->decoder) bl.qkv.w = w;
    else bl.q.w = w;
    QueryStream qs = {in[1], c->qmask, NULL, NULL};
    QueryStream *q = c->streams == 1 ? NULL : &qs;
    Tensor *out = c->decoder ? nn_decoder_layer(tp, &bl, in[0], c->mask, NULL, q)
                             : nn_encoder_layer(tp, &bl, in[0], c->mask, NULL, q);
    if (c->streams == 2) return qs.out;
    if (c->streams == 3) return op_add(tp, out, qs.out);
    return out;
}

/* ---------------- the checks ---------------- */
static void test_elementwise(void **state)
{
    (void)state;
    Case cases[] = {
        {"add same shape", b_add, NULL, 2, {3, 3}, {SHAPE(2, 3, 4), SHAPE(2, 3, 4)}, {1, 1}, 1},
        {"add bias", b_add, NULL, 2, {3, 1}, {SHAPE(2, 3, 4), SHAPE(4)}, {1, 1}, 1},
        {"add 2-D suffix", b_add, NULL, 2, {3, 2}, {SHAPE(2, 3, 4), SHAPE(3, 4)}, {1, 1}, 1},
        {"mul same", b_mul, NULL, 2, {2, 2}, {SHAPE(5, 3), SHAPE(5, 3)}, {1, 1}, 1},
        {"mul broadcast", b_mul, NULL, 2, {3, 1}, {SHAPE(2, 2, 5), SHAPE(5)}, {1, 1}, 1},
        {"scale", b_scale, NULL, 1, {2}, {SHAPE(4, 3)}, {1}, 1},
        {"gelu erf", b_gelu_erf, NULL, 1, {2}, {SHAPE(6, 7)}, {1}, 2},
        {"gelu tanh", b_gelu_tanh, NULL, 1, {2}, {SHAPE(6, 7)}, {1}, 2},
        {"tanh", b_tanh, NULL, 1, {1}, {SHAPE(20)}, {1}, 1.5f},
        {"sum", b_sum, NULL, 1, {3}, {SHAPE(2, 3, 4)}, {1}, 1},
        {"mean", b_mean, NULL, 1, {3}, {SHAPE(2, 3, 4)}, {1}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i]);
}

static void test_shapes(void **state)
{
    (void)state;
    Case cases[] = {
        {"transpose12", b_transpose, NULL, 1, {4}, {SHAPE(2, 3, 4, 5)}, {1}, 1},
        {"split/merge heads", b_heads, NULL, 2, {3, 2}, {SHAPE(2, 5, 6), SHAPE(5, 2)}, {1, 1}, 1},
        {"reshape", b_reshape, NULL, 2, {3, 2}, {SHAPE(2, 3, 4), SHAPE(6, 4)}, {1, 1}, 1},
        {"slice last", b_slice, NULL, 1, {3}, {SHAPE(2, 3, 7)}, {1}, 1},
        {"gather rows (repeats)", b_gather, NULL, 1, {2}, {SHAPE(6, 4)}, {1}, 1},
        {"embedding (repeats)", b_embedding, NULL, 1, {2}, {SHAPE(7, 5)}, {1}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i]);
}

/* nn.Embedding(padding_idx): the padding row is looked up like any other but gets no
 * gradient, while every other row gets exactly what it gets without padding_idx. */
static void test_embedding_padding_idx(void **state)
{
    (void)state;
    float grads[2][7 * 5];
    for (int pad = 0; pad < 2; pad++) {
        tape_reset(&work);
        int ts[2] = {7, 5}, s[2] = {2, 4};
        Tensor *table = tape_leaf(&work, 2, ts, true);
        for (int i = 0; i < 35; i++) table->data[i] = (float)i;
        Tensor *out = op_embedding(&work, table, emb_ids, 2, s, pad ? 6 : -1);
        assert_true(out->data[4 * 5 + 2] == table->data[6 * 5 + 2]); /* ids[4] = 6 is looked up */
        tape_backward(&work, op_sum(&work, out));
        memcpy(grads[pad], table->grad, sizeof grads[pad]);
    }
    for (int r = 0; r < 7; r++)
        for (int c = 0; c < 5; c++) {
            float want = r == 6 ? 0.0f : grads[0][r * 5 + c];
            assert_true(grads[1][r * 5 + c] == want);
        }
    assert_true(grads[0][6 * 5] == 3.0f); /* id 6 appears three times */
}

static void test_matmul_grad(void **state)
{
    (void)state;
    static const MMCtx mm[4] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
    for (int v = 0; v < 4; v++) {
        bool ta = mm[v].ta, tb = mm[v].tb;
        int M = 5, K = 7, N = 3;
        Case shared = {"matmul shared b", b_matmul, &mm[v], 2, {3, 2},
                       {SHAPE(2, ta ? K : M, ta ? M : K), SHAPE(tb ? N : K, tb ? K : N)}, {1, 1}, 1};
        Case batched = {"matmul batched", b_matmul, &mm[v], 2, {4, 4},
                        {SHAPE(2, 2, ta ? K : M, ta ? M : K), SHAPE(2, 2, tb ? N : K, tb ? K : N)}, {1, 1}, 1};
        Case single = {"matmul 1×1 rows", b_matmul, &mm[v], 2, {2, 2},
                       {SHAPE(ta ? K : 1, ta ? 1 : K), SHAPE(tb ? 1 : K, tb ? K : 1)}, {1, 1}, 1};
        /* crosses the kernel's block sizes (MC 96, KC 256) and register tiles */
        int BM = 100, BK = 260, BN = 37;
        Case big = {"matmul across blocks", b_matmul, &mm[v], 2, {2, 2},
                    {SHAPE(ta ? BK : BM, ta ? BM : BK), SHAPE(tb ? BN : BK, tb ? BK : BN)}, {1, 1}, 0.3f};
        check_case(&shared);
        check_case(&batched);
        check_case(&single);
        check_case(&big);
    }
}

static void test_linear_grad(void **state)
{
    (void)state;
    static const int conv = 1;
    Case lin = {"linear", b_linear, NULL, 3, {3, 2, 1}, {SHAPE(2, 3, 7), SHAPE(5, 7), SHAPE(5)}, {1, 1, 1}, 1};
    Case c1d = {"conv1d", b_linear, &conv, 3, {3, 2, 1}, {SHAPE(2, 3, 7), SHAPE(7, 5), SHAPE(5)}, {1, 1, 1}, 1};
    Case nob = {"linear without bias", b_linear_nobias, NULL, 2, {2, 2}, {SHAPE(4, 7), SHAPE(3, 7)}, {1, 1}, 1};
    Case big = {"linear across blocks", b_linear, NULL, 3, {2, 2, 1}, {SHAPE(100, 260), SHAPE(37, 260), SHAPE(37)},
                {1, 1, 1}, 0.3f};
    check_case(&lin);
    check_case(&c1d);
    check_case(&nob);
    check_case(&big);
}

/* The fused linear against matmul + add: same values, same gradients. */
static void test_linear_vs_composite(void **state)
{
    (void)state;
    float *res[2][4];
    for (int conv = 0; conv < 2; conv++) {
        for (int variant = 0; variant < 2; variant++) {
            tape_reset(&work);
            Rng r;
            rng_seed(&r, 31, 0);
            int sx[3] = {3, 4, 9}, sw[2] = {conv ? 9 : 6, conv ? 6 : 9}, sb[1] = {6};
            Tensor *x = tape_leaf(&work, 3, sx, true), *w = tape_leaf(&work, 2, sw, true), *b = tape_leaf(&work, 1, sb, true);
            fill_normal(x->data, x->size, &r, 1);
            fill_normal(w->data, w->size, &r, 1);
            fill_normal(b->data, b->size, &r, 1);
            Tensor *o = variant == 0 ? (conv ? op_conv1d(&work, x, w, b) : op_linear(&work, x, w, b))
                                     : op_add(&work, op_matmul(&work, x, w, false, !conv), b);
            float R[3 * 4 * 6];
            fill_normal(R, o->size, &r, 1);
            tape_backward_from(&work, o, R);
            Tensor *ts[4] = {o, x, w, b};
            for (int t = 0; t < 4; t++) {
                size_t n = t ? ts[t]->size : o->size;
                res[variant][t] = malloc(n * sizeof(float));
                memcpy(res[variant][t], t ? ts[t]->grad : o->data, n * sizeof(float));
            }
        }
        size_t sizes[4] = {72, 108, 54, 6};
        const char *what[4] = {"linear out", "dx", "dw", "db"};
        for (int t = 0; t < 4; t++) {
            assert_close_f(what[t], res[0][t], res[1][t], sizes[t], 1e-6, 1e-5);
            free(res[0][t]);
            free(res[1][t]);
        }
    }
}

static void test_layernorm_grad(void **state)
{
    (void)state;
    Case c = {"layernorm", b_layernorm, NULL, 3, {3, 1, 1}, {SHAPE(2, 3, 7), SHAPE(7), SHAPE(7)}, {1, 1, 1}, 1};
    check_case(&c);
    Case c1 = {"layernorm T=1", b_layernorm, NULL, 3, {3, 1, 1}, {SHAPE(1, 1, 16), SHAPE(16), SHAPE(16)}, {1, 1, 1}, 1};
    check_case(&c1);
}

static void test_softmax_grad(void **state)
{
    (void)state;
    Case c = {"softmax", b_softmax, NULL, 1, {3}, {SHAPE(2, 3, 6)}, {1}, 2};
    check_case(&c);
    static const uint8_t keep[3 * 5] = {1, 0, 1, 1, 0, /* */ 0, 0, 0, 0, 0, /* fully masked */ 1, 1, 1, 1, 1};
    softmax_keep = keep;
    Case m = {"masked softmax (one row fully masked)", b_masked_softmax, NULL, 1, {2}, {SHAPE(3, 5)}, {1}, 2};
    check_case(&m);
}

static void test_attention_grad(void **state)
{
    (void)state;
    int B = 2, NH = 2, T = 4, HS = 3;
    static const uint8_t keys[2 * 4] = {1, 1, 1, 0, 1, 1, 0, 0};
    static uint8_t full[2 * 4 * 4];
    for (int i = 0; i < 2 * 4 * 4; i++) full[i] = (uint8_t)((i * 7 + 3) % 3 != 0);
    for (int j = 0; j < 4; j++) full[1 * 16 + 2 * 4 + j] = 0; /* batch 1, query 2 sees nothing */
    AttnMask masks[] = {
        {MASK_NONE, NULL, false},
        {MASK_NONE, NULL, true},
        {MASK_KEYS, keys, false},
        {MASK_KEYS, keys, true},
        {MASK_FULL, full, false},
    };
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        AttnCtx ctx = {masks[i], NH};
        Case c = {"attention", b_attention, &ctx, 3, {3, 3, 3},
                  {SHAPE(B, T, NH * HS), SHAPE(B, T, NH * HS), SHAPE(B, T, NH * HS)}, {1, 1, 1}, 1};
        check_case(&c);
    }
    AttnCtx one = {masks[1], 1};
    Case t1 = {"attention T=1", b_attention, &one, 3, {3, 3, 3},
               {SHAPE(3, 1, 5), SHAPE(3, 1, 5), SHAPE(3, 1, 5)}, {1, 1, 1}, 1};
    check_case(&t1);
}

/* The explicit (B,T,T) mask with causal set on top: both restrictions apply. */
static void test_attention_full_causal_grad(void **state)
{
    (void)state;
    AttnCtx ctx = {{MASK_FULL, xl_content, true}, 2};
    Case c = {"attention full + causal", b_attention, &ctx, 3, {3, 3, 3},
              {SHAPE(LB, LT, LC), SHAPE(LB, LT, LC), SHAPE(LB, LT, LC)}, {1, 1, 1}, 1};
    check_case(&c);
    /* queries from another tensor than keys and values, under XLNet's query mask (rows with
       nothing to see included) */
    AttnCtx qctx = {attn_mask_full(xl_query), 2};
    Case q = {"attention, query-stream mask", b_attention, &qctx, 3, {3, 3, 3},
              {SHAPE(LB, LT, LC), SHAPE(LB, LT, LC), SHAPE(LB, LT, LC)}, {1, 1, 1}, 1};
    check_case(&q);
}

/* The public layers through finite differences: x, g and one weight matrix. */
static void test_layers_grad(void **state)
{
    (void)state;
    static const uint8_t pad[LB * LT] = {1, 1, 1, 1, 1, 1, 1, 0};
    LayerCtx ctxs[] = {
        {false, attn_mask_padding(pad, false), attn_mask_all(), 1},
        {false, attn_mask_full(xl_content), attn_mask_full(xl_query), 2},
        {false, attn_mask_full(xl_content), attn_mask_full(xl_query), 3},
        {true, attn_mask_padding(pad, true), attn_mask_all(), 1},
        {true, attn_mask_full(xl_content), attn_mask_full(xl_query), 2},
        {true, attn_mask_padding(pad, true), attn_mask_full(xl_query), 3},
    };
    const char *names[] = {"encoder layer", "encoder query stream", "encoder both streams",
                           "decoder layer", "decoder query stream", "decoder both streams"};
    for (size_t i = 0; i < sizeof ctxs / sizeof ctxs[0]; i++) {
        bool dec = ctxs[i].decoder;
        Case c = {names[i], b_layer, &ctxs[i], 3, {3, 3, 2},
                  {SHAPE(LB, LT, LC), SHAPE(LB, LT, LC), SHAPE(LC, dec ? 3 * LC : LC)},
                  {1, ctxs[i].streams > 1, 1}, 1};
        check_case(&c);
    }
}

static void test_losses_grad(void **state)
{
    (void)state;
    static const int32_t t_some[6] = {2, IGNORE_INDEX, 0, 4, IGNORE_INDEX, 1};
    static const int32_t t_none[6] = {IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX,
                                      IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX};
    static const int32_t t_one[1] = {3};
    ce_targets = t_some;
    Case ce = {"cross-entropy", b_ce, NULL, 1, {3}, {SHAPE(2, 3, 5)}, {1}, 2};
    check_case(&ce);
    ce_targets = t_one;
    Case ce1 = {"cross-entropy T=1", b_ce, NULL, 1, {2}, {SHAPE(1, 5)}, {1}, 2};
    check_case(&ce1);
    ce_targets = t_none;
    Case ce0 = {"cross-entropy all ignored", b_ce, NULL, 1, {2}, {SHAPE(6, 5)}, {1}, 2};
    check_case(&ce0);

    static const uint8_t keep[12] = {1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0};
    static const uint8_t none[12] = {0};
    bce_keep = NULL;
    Case bce = {"bce", b_bce, NULL, 1, {2}, {SHAPE(3, 4)}, {1}, 2};
    check_case(&bce);
    bce_keep = keep;
    check_case(&bce);
    bce_keep = none;
    check_case(&bce);

    Case kl = {"kl", b_kl, NULL, 2, {2, 2}, {SHAPE(6, 5), SHAPE(6, 5)}, {1, 1}, 2};
    check_case(&kl);
    kl.ctx = row_keep;
    check_case(&kl);
    kl.ctx = row_none;
    check_case(&kl);

    Case cs = {"cosine", b_cos, NULL, 2, {2, 2}, {SHAPE(6, 4), SHAPE(6, 4)}, {1, 1}, 1};
    check_case(&cs);
    cs.ctx = row_keep;
    check_case(&cs);
}

/* Losses with nothing to count are exactly 0, and give exactly zero gradient, never NaN. */
static void test_empty_losses(void **state)
{
    (void)state;
    tape_reset(&work);
    int s[2] = {4, 5};
    Tensor *x = tape_leaf(&work, 2, s, true), *y = tape_leaf(&work, 2, s, true);
    Rng r;
    rng_seed(&r, 3, 0);
    fill_normal(x->data, x->size, &r, 1);
    fill_normal(y->data, y->size, &r, 1);
    static const int32_t none[4] = {IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX};
    static const uint8_t zero[20] = {0};
    static const float tgt[20] = {0};
    Tensor *l = op_add(&work, op_cross_entropy(&work, x, none), op_bce_logits(&work, x, tgt, zero));
    l = op_add(&work, l, op_kl_div(&work, x, y, 1.0f, zero));
    l = op_add(&work, l, op_cosine_loss(&work, x, y, zero));
    assert_true(l->data[0] == 0.0f);
    tape_backward(&work, l);
    for (size_t i = 0; i < x->size; i++) {
        assert_true(x->grad[i] == 0.0f);
        assert_true(y->grad[i] == 0.0f);
    }
}

/* ---------------- fused vs composite ---------------- */

static void test_softmax_vs_reference(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 11, 0);
    int R = 9, C = 13;
    float x[9 * 13], y[9 * 13];
    uint8_t keep[9 * 13];
    fill_normal(x, (size_t)R * C, &r, 3);
    for (int i = 0; i < R * C; i++) keep[i] = rng_bernoulli(&r, 0.7f);
    for (int c = 0; c < C; c++) keep[4 * C + c] = 0;
    for (int masked = 0; masked < 2; masked++) {
        op_softmax_forward(y, x, masked ? keep : NULL, (size_t)R, C);
        double ref[9 * 13];
        for (int i = 0; i < R; i++) {
            double s = 0;
            for (int c = 0; c < C; c++) {
                bool k = !masked || keep[i * C + c];
                ref[i * C + c] = k ? exp((double)x[i * C + c]) : 0.0;
                s += ref[i * C + c];
            }
            for (int c = 0; c < C; c++) ref[i * C + c] = s > 0 ? ref[i * C + c] / s : 0.0;
        }
        assert_true(close_ratio("softmax", y, ref, (size_t)R * C, 1e-7, 1e-5) <= 1);
        if (masked)
            for (int i = 0; i < R * C; i++)
                if (!keep[i]) assert_true(y[i] == 0.0f); /* exactly zero, fully masked row too */
    }
}

static void test_cross_entropy_vs_reference(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 12, 0);
    tape_reset(&work);
    int s[2] = {7, 11};
    Tensor *x = tape_leaf(&work, 2, s, true);
    fill_normal(x->data, x->size, &r, 4);
    int32_t t[7] = {3, IGNORE_INDEX, 10, 0, 5, IGNORE_INDEX, 5};
    Tensor *l = op_cross_entropy(&work, x, t);
    tape_backward(&work, l);
    /* log-softmax then gather, in double */
    double loss = 0, grad[77];
    int n = 5;
    for (int i = 0; i < 7; i++) {
        double mx = -INFINITY, s2 = 0;
        for (int c = 0; c < 11; c++) mx = fmax(mx, x->data[i * 11 + c]);
        for (int c = 0; c < 11; c++) s2 += exp(x->data[i * 11 + c] - mx);
        for (int c = 0; c < 11; c++) {
            double logp = x->data[i * 11 + c] - mx - log(s2);
            grad[i * 11 + c] = t[i] == IGNORE_INDEX ? 0 : (exp(logp) - (c == t[i])) / n;
            if (c == t[i]) loss -= logp / n;
        }
    }
    double got = l->data[0];
    assert_true(close_ratio("ce loss", l->data, &loss, 1, 1e-6, 1e-6) <= 1);
    assert_true(fabs(got - loss) < 1e-5);
    assert_true(close_ratio("ce grad", x->grad, grad, 77, 1e-7, 1e-5) <= 1);
}

/* Fused attention against matmul → scale → masked softmax → matmul, values and gradients:
 * sequence 0 has its last key masked, sequence 1 its last three. */
static void attention_vs_composite(int B, int NH, int T, int HS, bool causal)
{
    int sh[3] = {B, T, NH * HS};
    uint8_t *keys = malloc((size_t)B * T), *full = malloc((size_t)B * NH * T * T);
    for (int i = 0; i < B * T; i++) keys[i] = !(i % T >= T - 1 - i / T * 2 && i % T > 0);
    AttnMask m = {MASK_KEYS, keys, causal};
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++)
                    full[((b * NH + h) * T + i) * T + j] = keys[b * T + j] && (!causal || j <= i);
    Rng r;
    float *res[2][4];
    size_t n = (size_t)B * T * NH * HS;
    for (int variant = 0; variant < 2; variant++) {
        tape_reset(&work);
        rng_seed(&r, 21, 0);
        Tensor *q = tape_leaf(&work, 3, sh, true), *k = tape_leaf(&work, 3, sh, true),
               *v = tape_leaf(&work, 3, sh, true);
        fill_normal(q->data, q->size, &r, 1);
        fill_normal(k->data, k->size, &r, 1);
        fill_normal(v->data, v->size, &r, 1);
        Tensor *o;
        if (variant == 0) {
            o = op_attention(&work, q, k, v, NH, m, NULL);
        } else {
            Tensor *qh = op_split_heads(&work, q, NH), *kh = op_split_heads(&work, k, NH),
                   *vh = op_split_heads(&work, v, NH);
            Tensor *s = op_scale(&work, op_matmul(&work, qh, kh, false, true), 1.0f / sqrtf((float)HS));
            o = op_merge_heads(&work, op_matmul(&work, op_masked_softmax(&work, s, full), vh, false, false));
        }
        float *R = malloc(o->size * sizeof *R);
        fill_normal(R, o->size, &r, 1);
        tape_backward_from(&work, o, R);
        free(R);
        Tensor *ts[4] = {o, q, k, v};
        for (int t = 0; t < 4; t++) {
            res[variant][t] = malloc(n * sizeof(float));
            memcpy(res[variant][t], t ? ts[t]->grad : o->data, n * sizeof(float));
        }
    }
    const char *what[4] = {"attention out", "dq", "dk", "dv"};
    for (int t = 0; t < 4; t++) {
        char w[96];
        snprintf(w, sizeof w, "%s (T=%d, HS=%d, causal %d)", what[t], T, HS, causal);
        assert_close_f(w, res[0][t], res[1][t], n, 1e-6, 1e-5);
        free(res[0][t]);
        free(res[1][t]);
    }
    free(keys);
    free(full);
}

/* A tiny shape (the portable loops), the lessons' head size 16 with T = 32 (AVX-512's four
 * query rows at a time) and T = 35 (three rows left over), without and with the causal mask. */
static void test_attention_vs_composite(void **state)
{
    (void)state;
    for (int causal = 0; causal < 2; causal++) {
        attention_vs_composite(2, 3, 5, 4, causal);
        attention_vs_composite(2, 4, 32, 16, causal);
        attention_vs_composite(2, 2, 35, 16, causal);
    }
}

/* One layer (or bare attention) run twice on the same inputs with two masks that allow the
 * same keys: outputs, probabilities and gradients must be the same bits. */
typedef struct MaskRun { float *out, *probs, *dx, *dw; } MaskRun;

static MaskRun mask_run(int what, AttnMask m, bool query_stream)
{
    tape_reset(&work);
    Rng r;
    rng_seed(&r, 41, 0);
    int sx[3] = {LB, LT, LC};
    Tensor *x = tape_leaf(&work, 3, sx, true), *w = tape_leaf(&work, 3, sx, true);
    fill_normal(x->data, x->size, &r, 1);
    fill_normal(w->data, w->size, &r, 1);
    float *P = NULL;
    Tensor *o;
    if (what == 0) {
        o = op_attention(&work, x, w, op_mul(&work, x, w), 2, m, &P);
    } else {
        /* g is a copy of x: the query stream must then be the content stream, bit for bit */
        Tensor *g = tape_leaf(&work, 3, sx, true);
        memcpy(g->data, x->data, x->size * sizeof(float));
        QueryStream qs = {g, m, NULL, NULL};
        const Block *bl = what == 1 ? &enc_block : &dec_block;
        o = what == 1 ? nn_encoder_layer(&work, bl, x, m, &P, query_stream ? &qs : NULL)
                      : nn_decoder_layer(&work, bl, x, m, &P, query_stream ? &qs : NULL);
        if (query_stream) {
            o = qs.out;
            P = qs.attn;
        }
        w = g;
    }
    float R[LB * LT * LC];
    fill_normal(R, o->size, &r, 1);
    tape_backward_from(&work, o, R);
    size_t n = o->size, np = (size_t)LB * 2 * LT * LT;
    MaskRun run = {malloc(n * sizeof(float)), malloc(np * sizeof(float)), calloc(n, sizeof(float)),
                   calloc(n, sizeof(float))};
    memcpy(run.out, o->data, n * sizeof(float));
    memcpy(run.probs, P, np * sizeof(float));
    if (x->grad) memcpy(run.dx, x->grad, n * sizeof(float));
    if (w->grad) memcpy(run.dw, w->grad, n * sizeof(float));
    return run;
}

static void free_run(MaskRun *a)
{
    free(a->out);
    free(a->probs);
    free(a->dx);
    free(a->dw);
}

static void expect_same_run(MaskRun a, MaskRun b)
{
    size_t n = (size_t)LB * LT * LC, np = (size_t)LB * 2 * LT * LT;
    assert_memory_equal(a.out, b.out, n * sizeof(float));
    assert_memory_equal(a.probs, b.probs, np * sizeof(float));
    assert_memory_equal(a.dx, b.dx, n * sizeof(float));
    assert_memory_equal(a.dw, b.dw, n * sizeof(float));
    double norm = 0;
    for (size_t i = 0; i < n; i++) norm += fabs(a.dx[i]);
    assert_true(norm > 1e-3); /* a gradient did flow */
    free_run(&a);
    free_run(&b);
}

/* The explicit-mask path equals the padding and causal paths when given the same mask, in
 * the bare op and in both layers. */
static void test_explicit_mask_equals_named(void **state)
{
    (void)state;
    static const uint8_t pad[LB * LT] = {1, 1, 0, 1, 1, 1, 1, 0};
    static uint8_t full[LB * LT * LT];
    for (int causal = 0; causal < 2; causal++) {
        for (int padded = 0; padded < 2; padded++) {
            for (int b = 0; b < LB; b++)
                for (int i = 0; i < LT; i++)
                    for (int j = 0; j < LT; j++)
                        full[(b * LT + i) * LT + j] = (!padded || pad[b * LT + j]) && (!causal || j <= i);
            AttnMask named = padded ? attn_mask_padding(pad, causal) : causal ? attn_mask_causal() : attn_mask_all();
            for (int what = 0; what < 3; what++)
                expect_same_run(mask_run(what, named, false), mask_run(what, attn_mask_full(full), false));
        }
    }
}

/* A query stream fed a copy of the content stream's input, under the same mask, is the
 * content stream: the same outputs and probabilities, bit for bit. Its gradient splits in
 * two: g gets the queries' and the residual's share, x keeps the keys' and values', and
 * together they are the content stream's gradient. */
static void test_query_stream_equals_content(void **state)
{
    (void)state;
    static const uint8_t pad[LB * LT] = {1, 1, 1, 1, 1, 1, 0, 0};
    AttnMask masks[3] = {attn_mask_padding(pad, false), attn_mask_padding(pad, true), attn_mask_full(xl_content)};
    size_t n = (size_t)LB * LT * LC, np = (size_t)LB * 2 * LT * LT;
    for (int what = 1; what < 3; what++)
        for (int k = 0; k < 3; k++) {
            MaskRun c = mask_run(what, masks[k], false), q = mask_run(what, masks[k], true);
            assert_memory_equal(c.out, q.out, n * sizeof(float));
            assert_memory_equal(c.probs, q.probs, np * sizeof(float));
            float sum[LB * LT * LC];
            double gnorm = 0;
            for (size_t i = 0; i < n; i++) {
                sum[i] = q.dx[i] + q.dw[i]; /* dx through k and v, dg */
                gnorm += fabs(q.dw[i]);
            }
            assert_true(gnorm > 1e-3);
            assert_close_f("dx + dg", sum, c.dx, n, 1e-5, 1e-5);
            free_run(&c);
            free_run(&q);
        }
}

/* Two-stream wiring, for both layers under XLNet's masks: each stream's probabilities obey
 * its own mask; the content stream does not depend on g at all; and the query stream takes
 * only its queries from g (keys and values from x), so changing g at a position that the
 * others may see changes the query stream's output at that position only. */
static void test_query_stream_wiring(void **state)
{
    (void)state;
    size_t n = (size_t)LB * LT * LC;
    for (int dec = 0; dec < 2; dec++) {
        float *out[2], *qout[2];
        for (int run = 0; run < 2; run++) {
            tape_reset(&work);
            Rng r;
            rng_seed(&r, 43, 0);
            int sx[3] = {LB, LT, LC};
            Tensor *x = tape_leaf(&work, 3, sx, false), *g = tape_leaf(&work, 3, sx, false);
            fill_normal(x->data, n, &r, 1);
            fill_normal(g->data, n, &r, 1);
            if (run) g->data[(0 * LT + 2) * LC + 2] += 0.5f; /* sequence 0, position 2: first in its order */
            float *P;
            QueryStream qs = {g, attn_mask_full(xl_query), NULL, NULL};
            Tensor *o = dec ? nn_decoder_layer(&work, &dec_block, x, attn_mask_full(xl_content), &P, &qs)
                            : nn_encoder_layer(&work, &enc_block, x, attn_mask_full(xl_content), &P, &qs);
            for (int b = 0; b < LB; b++)
                for (int h = 0; h < 2; h++)
                    for (int i = 0; i < LT; i++) {
                        double sc = 0, sq = 0;
                        bool any = false;
                        for (int j = 0; j < LT; j++) {
                            size_t m = (size_t)(b * LT + i) * LT + j, p = (((size_t)b * 2 + h) * LT + i) * LT + j;
                            assert_true((P[p] > 0) == (xl_content[m] != 0));
                            assert_true((qs.attn[p] > 0) == (xl_query[m] != 0));
                            sc += P[p];
                            sq += qs.attn[p];
                            any |= xl_query[m] != 0;
                        }
                        assert_true(fabs(sc - 1) < 1e-5);
                        assert_true(any ? fabs(sq - 1) < 1e-5 : sq == 0); /* first in the order sees nothing */
                    }
            out[run] = malloc(n * sizeof(float));
            qout[run] = malloc(n * sizeof(float));
            memcpy(out[run], o->data, n * sizeof(float));
            memcpy(qout[run], qs.out->data, n * sizeof(float));
        }
        assert_memory_equal(out[0], out[1], n * sizeof(float));
        for (int row = 0; row < LB * LT; row++) {
            bool same = !memcmp(qout[0] + row * LC, qout[1] + row * LC, LC * sizeof(float));
            assert_true(same == (row != 2));
        }
        for (int run = 0; run < 2; run++) {
            free(out[run]);
            free(qout[run]);
        }
    }
}

static void test_gelu_known_values(void **state)
{
    (void)state;
    float x = 1.0f, y;
    op_gelu_erf_forward(&y, &x, 1);
    assert_true(fabs(y - 0.8413447460685429) < 1e-7);
    op_gelu_tanh_forward(&y, &x, 1);
    assert_true(fabs(y - 0.8411919906082768) < 1e-7);
    float xs[3] = {-3.0f, 0.0f, 2.5f}, ys[3];
    op_gelu_erf_forward(ys, xs, 3);
    assert_true(fabs(ys[0] - (-0.0040496940948900)) < 1e-7); /* -3·Φ(-3) */
    assert_true(ys[1] == 0.0f);
    assert_true(fabs(ys[2] - 2.4844758366855595) < 1e-6);       /* 2.5·Φ(2.5) */
    /* a sweep over [-12, 12] longer than the loops' blocks of 256 and not a multiple of them:
       within one float ulp of x·Φ(x) in double plus 2|x|ε (Φ is ½(1 + erf) in float, as
       PyTorch computes it: its error is absolute, about ε; measured at most 1.42|x|ε), and
       the tape's op, which also keeps Φ(x), gives the same bits as the plain forward */
    enum { N = 1001 };
    int shape[1] = {N};
    tape_reset(&work);
    Tensor *xt = tape_tensor(&work, 1, shape);
    static float plain[N];
    for (int i = 0; i < N; i++) xt->data[i] = -12.0f + 24.0f * (float)i / (N - 1) + (i % 7) * 1e-3f;
    op_gelu_erf_forward(plain, xt->data, N);
    Tensor *yt = op_gelu_erf(&work, xt);
    assert_memory_equal(plain, yt->data, sizeof plain);
    for (int i = 0; i < N; i++) {
        double v = xt->data[i], want = v * 0.5 * erfc(-v / sqrt(2.0));
        double ulp = nextafterf((float)fabs(want), INFINITY) - (float)fabs(want), tol = ulp + 2 * fabs(v) * FLT_EPSILON;
        if (!(fabs(plain[i] - want) <= tol)) print_message("x %g: %.9g, want %.9g\n", v, plain[i], want);
        assert_true(fabs(plain[i] - want) <= tol);
    }
    tape_reset(&work);
}

/* ---------------- end to end ---------------- */

/* XOR with a 2-8-1 tanh MLP and BCE: below 0.02 within 600 AdamW steps for seed 5. */
static void test_xor(void **state)
{
    (void)state;
    ParamBlock pb;
    params_init(&pb);
    int s1[2] = {8, 2}, s2[1] = {8}, s3[2] = {1, 8}, s4[1] = {1};
    Tensor *w1 = params_add(&pb, "w1", 2, s1, true), *b1 = params_add(&pb, "b1", 1, s2, false);
    Tensor *w2 = params_add(&pb, "w2", 2, s3, true), *b2 = params_add(&pb, "b2", 1, s4, false);
    assert_true(params_finalize(&pb));
    Rng r;
    rng_seed(&r, 5, 0);
    init_normal(w1, &r, 1.0f);
    init_normal(w2, &r, 1.0f);
    AdamW opt = adamw_default();
    opt.weight_decay = 0;
    static const float X[8] = {0, 0, 0, 1, 1, 0, 1, 1};
    static const float Y[4] = {0, 1, 1, 0};
    float loss = 1;
    for (int step = 0; step < 600; step++) {
        tape_reset(&work);
        int xs[2] = {4, 2};
        Tensor *x = tape_tensor(&work, 2, xs);
        memcpy(x->data, X, sizeof X);
        Tensor *h = op_tanh(&work, op_linear(&work, x, w1, b1));
        Tensor *logit = op_linear(&work, h, w2, b2);
        Tensor *l = op_bce_logits(&work, logit, Y, NULL);
        params_zero_grad(&pb);
        tape_backward(&work, l);
        adamw_step(&opt, &pb, 0.05f);
        loss = l->data[0];
    }
    print_message("xor: loss %.5f after 600 steps\n", (double)loss);
    assert_true(loss < 0.02f);
    params_free(&pb);
}

/* Copy: out_i = input token i, through one attention layer with no residual path, so the
 * only way to the answer is for each position to attend to itself via the position
 * embeddings. Below 0.05 cross-entropy within 800 steps for seed 9. */
static void test_copy_attention(void **state)
{
    (void)state;
    enum { V = 8, T = 6, C = 16, B = 16 };
    ParamBlock pb;
    params_init(&pb);
    int sw[2] = {V, C}, sp[2] = {T, C}, sq[2] = {C, C}, so[2] = {V, C}, sb[1] = {V};
    Tensor *wte = params_add(&pb, "wte", 2, sw, true), *wpe = params_add(&pb, "wpe", 2, sp, true);
    Tensor *wq = params_add(&pb, "q", 2, sq, true), *wk = params_add(&pb, "k", 2, sq, true);
    Tensor *wv = params_add(&pb, "v", 2, sq, true), *wo = params_add(&pb, "out", 2, so, true);
    Tensor *bo = params_add(&pb, "out_bias", 1, sb, false);
    assert_true(params_finalize(&pb));
    Rng r;
    rng_seed(&r, 9, 0);
    for (int i = 0; i < pb.count; i++)
        if (pb.params[i] != bo) init_normal(pb.params[i], &r, 0.3f);
    AdamW opt = adamw_default();
    opt.weight_decay = 0;
    int32_t ids[B * T];
    float loss = 10;
    for (int step = 0; step < 800; step++) {
        for (int i = 0; i < B * T; i++) ids[i] = (int32_t)rng_below(&r, V);
        tape_reset(&work);
        int is[2] = {B, T};
        Tensor *x = op_add(&work, op_embedding(&work, wte, ids, 2, is, -1), wpe);
        Tensor *q = op_linear(&work, x, wq, NULL), *k = op_linear(&work, x, wk, NULL), *v = op_linear(&work, x, wv, NULL);
        Tensor *a = op_attention(&work, q, k, v, 1, (AttnMask){MASK_NONE, NULL, false}, NULL);
        Tensor *logits = op_linear(&work, a, wo, bo);
        Tensor *l = op_cross_entropy(&work, logits, ids);
        params_zero_grad(&pb);
        tape_backward(&work, l);
        adamw_step(&opt, &pb, 0.01f);
        loss = l->data[0];
    }
    print_message("copy: loss %.5f after 800 steps\n", (double)loss);
    assert_true(loss < 0.05f);
    params_free(&pb);
}

static int setup(void **state)
{
    (void)state;
    engine_set_threads(0);
    if (!(tape_init(&work, 64u << 20, 4096) && tape_init(&inputs, 16u << 20, 16) && tape_init(&fixed, 1u << 20, 1)))
        return 1;
    make_blocks();
    make_xlnet_masks();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tape_free(&work);
    tape_free(&inputs);
    tape_free(&fixed);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_embedding_padding_idx),
        cmocka_unit_test(test_matmul_grad),
        cmocka_unit_test(test_linear_grad),
        cmocka_unit_test(test_linear_vs_composite),
        cmocka_unit_test(test_layernorm_grad),
        cmocka_unit_test(test_softmax_grad),
        cmocka_unit_test(test_attention_grad),
        cmocka_unit_test(test_attention_full_causal_grad),
        cmocka_unit_test(test_layers_grad),
        cmocka_unit_test(test_losses_grad),
        cmocka_unit_test(test_empty_losses),
        cmocka_unit_test(test_softmax_vs_reference),
        cmocka_unit_test(test_cross_entropy_vs_reference),
        cmocka_unit_test(test_attention_vs_composite),
        cmocka_unit_test(test_explicit_mask_equals_named),
        cmocka_unit_test(test_query_stream_equals_content),
        cmocka_unit_test(test_query_stream_wiring),
        cmocka_unit_test(test_gelu_known_values),
        cmocka_unit_test(test_xor),
        cmocka_unit_test(test_copy_attention),
    };
    return cmocka_run_group_tests_name("grad", tests, setup, teardown);
}
