/* pairs.c — sentence pairs and the two-head forward of nsp and albert (pairs.h). */
#include "lessons/common/pairs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kit_pair_batch_alloc(KitPairBatch *b, int B, int T)
{
    size_t n = (size_t)B * T;
    int32_t *p = calloc(n * 6 + (size_t)B * 3 + (n * 2 + 3) / 4, 4);
    if (!p) return -1;
    *b = (KitPairBatch){.B = B, .T = T, .original = p, .input = p + n, .labels = p + 2 * n, .token_types = p + 3 * n,
                        .rows = p + 4 * n, .targets = p + 5 * n, .pair_label = p + 6 * n, .docs = p + 6 * n + B};
    b->kind = (uint8_t *)(p + 6 * n + 3 * (size_t)B);
    b->attention_mask = b->kind + n;
    return 0;
}

void kit_pair_batch_free(KitPairBatch *b)
{
    free(b->original);
    *b = (KitPairBatch){0};
}

void kit_pair_batch_draw(const MaskingConfig *mc, const Corpus *c, Rng *r, PairTask task, KitPairBatch *b)
{
    corpus_pairs(c, r, task, b->B, b->T, b->original, b->token_types, b->attention_mask, b->pair_label, b->docs);
    mlm_corrupt(mc, r, b->original, b->B * b->T, b->input, b->labels, b->kind);
    b->task = task;
    b->nsel = 0;
    for (int i = 0; i < b->B * b->T; i++)
        if (b->labels[i] != IGNORE_INDEX) {
            b->rows[b->nsel] = i;
            b->targets[b->nsel++] = b->labels[i];
        }
}

const void *kit_pair_batch_data(const KitPairBatch *b, int i)
{
    const void *data[] = {b->input, b->original, b->labels, b->kind, b->attention_mask, b->token_types, b->pair_label};
    return data[i];
}

Tensor *kit_pair_forward(Run *r, Model *model, const KitPairBatch *b, Forward *f, Tensor **mlm, Tensor **pair,
                         Tensor **seq, Tensor **logits)
{
    Batch in = {b->B, b->T, b->input, b->token_types, b->attention_mask};
    *f = (Forward){0};
    model_forward(model, &r->tape, &in, f);
    *seq = model_seq_logits(model, &r->tape, model_pooled(model, &r->tape, f->hidden));
    *pair = op_cross_entropy(&r->tape, *seq, b->pair_label);
    if (b->nsel == 0) {
        *logits = NULL;
        *mlm = tape_tensor(&r->tape, 0, NULL);
        (*mlm)->data[0] = 0.0f;
        return *pair;
    }
    Tensor *h = op_gather_rows(&r->tape, f->hidden, b->rows, b->nsel);
    *logits = model_lm_logits(model, &r->tape, h);
    *mlm = op_cross_entropy(&r->tape, *logits, b->targets);
    return op_add(&r->tape, *mlm, *pair);
}

float kit_pair_p_first(const float *z) { return 1.0f / (1.0f + expf(z[1] - z[0])); }

int kit_argmax_right(const Tensor *logits, const int32_t *targets, int n)
{
    int right = 0, V = logits ? logits->shape[1] : 0;
    for (int s = 0; logits && s < n; s++) right += op_argmax(logits->data + (size_t)s * V, V) == targets[s];
    return right;
}

/* where "A | B" or "A. B" splits: the index of B's first byte, or -1 */
static int split_at(const char *text)
{
    const char *bar = strchr(text, '|');
    if (bar) return (int)(bar - text) + 1;
    for (const char *c = text; *c; c++)
        if ((*c == '.' || *c == '!' || *c == '?') && c[1]) {
            const char *rest = c + 1;
            while (*rest == ' ' || *rest == '.' || *rest == '!' || *rest == '?' || *rest == '"') rest++;
            if (*rest) return (int)(rest - text);
        }
    return -1;
}

void kit_pair_probe(Run *r, Model *model, const char *text, KitPairProbe *out)
{
    memset(out, 0, sizeof *out);
    int at = split_at(text);
    if (at < 0) {
        out->one = true;
        return;
    }
    char a[512];
    int alen = at - (text[at - 1] == '|');
    snprintf(a, sizeof a, "%.*s", alen < (int)sizeof a - 1 ? alen : (int)sizeof a - 1, text);
    int32_t sa[KIT_PAIR_PROBE_MAX], sb[KIT_PAIR_PROBE_MAX];
    int na = tokenizer_encode(r->vocab, a, sa, KIT_PAIR_PROBE_MAX), nb = tokenizer_encode(r->vocab, text + at, sb, KIT_PAIR_PROBE_MAX);
    if (na == 0 || nb == 0) {
        out->one = true;
        return;
    }
    int T = r->T < KIT_PAIR_PROBE_MAX ? r->T : KIT_PAIR_PROBE_MAX;
    out->cut = na + nb > T - 3;
    int32_t types[2][KIT_PAIR_PROBE_MAX];
    uint8_t mask[2][KIT_PAIR_PROBE_MAX];
    Rng keep;   /* truncation from the back only: the probe should not be random */
    rng_seed(&keep, 0, 0);
    for (int dir = 0; dir < 2; dir++) {
        const int32_t *x = dir ? sb : sa, *y = dir ? sa : sb;
        int nx = dir ? nb : na, ny = dir ? na : nb;
        while (nx + ny > T - 3) (nx > ny ? nx-- : ny--);
        out->len[dir] = corpus_pack_pair(&keep, x, nx, y, ny, T, out->ids[dir], types[dir], mask[dir]);
        out->split[dir] = nx + 2;
    }
    Tape tp;
    if (!tape_init(&tp, (size_t)T * 2 * 1024 * 1024 + (16u << 20), 4096)) return;
    tp.no_grad = true;
    int32_t ids[2 * KIT_PAIR_PROBE_MAX], ty[2 * KIT_PAIR_PROBE_MAX];
    uint8_t mk[2 * KIT_PAIR_PROBE_MAX];
    for (int dir = 0; dir < 2; dir++) {
        memcpy(ids + dir * T, out->ids[dir], (size_t)T * 4);
        memcpy(ty + dir * T, types[dir], (size_t)T * 4);
        memcpy(mk + dir * T, mask[dir], (size_t)T);
    }
    Batch in = {2, T, ids, ty, mk};
    Forward f = {0};
    model_forward(model, &tp, &in, &f);
    Tensor *seq = model_seq_logits(model, &tp, model_pooled(model, &tp, f.hidden));
    for (int dir = 0; dir < 2; dir++) out->p[dir] = kit_pair_p_first(seq->data + 2 * dir);
    tape_free(&tp);
}
