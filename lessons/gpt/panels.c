/* panels.c — fmlab-gpt's own part of the dashboard (the kit draws the header, the attention
 * with the masked cells hatched, the curves, the notes and the help):
 *
 *   the objective: the focus window's tokens with the token each must predict under it, the
 *                  model's top-5 at the position picked (click a token), and the causal mask
 *                  as a matrix beside them; with causal = 0, why the loss now falls so fast
 *   generation:    a prompt (typed, or the default), the tokens the model generates after it,
 *                  the distribution the next one is drawn from (after temperature and top-k,
 *                  beside the plain softmax), and the newest token's attention in every layer
 *                  and head
 *
 * and its keys: G one more generated token, X none, [ ] temperature, K top-k, U the mask. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lessons/common/view.h"
#include "lessons/gpt/lesson.h"

/* ------------------------------------------------------------------ snapshot ---- */

typedef struct GptSnap {
    bool causal;
    int32_t *target;              /* (T) the next token; -1 at the last position */
    float *target_p;              /* (T) the probability the model gave it */
    int32_t *top_id;              /* (T, TOPK) */
    float *top_p;
    float *mask;                  /* (T, T) 1 where row t may read column j */
    uint8_t *hatch;               /* (T, T) 1 where it may not */
} GptSnap;

static size_t snapshot_bind(void *blob, const KitSnap *s)
{
    size_t T = (size_t)s->T, size = sizeof(GptSnap) + T * (2 + 2 * TOPK) * 4 + T * T * 4 + T * T;
    if (!blob) return size;
    GptSnap *w = blob;
    int32_t *p = (int32_t *)(w + 1);
    w->target = p;
    w->target_p = (float *)(p + T);
    w->top_id = p + 2 * T;
    w->top_p = (float *)(p + (2 + TOPK) * T);
    w->mask = (float *)(p + (2 + 2 * TOPK) * T);
    w->hatch = (uint8_t *)(w->mask + T * T);
    return size;
}

/* The focus window's targets and the model's top-5 at each position, from the logits of the
 * last forward (still on the tape). */
static void snapshot_fill(void *blob, const Run *r, int focus)
{
    GptSnap *w = blob;
    const Gpt *m = KIT_SELF(r, Gpt);
    int T = r->T;
    size_t off = (size_t)focus * T;
    w->causal = m->causal;
    r->lesson->allowed(r, 0, 0, focus, w->hatch); /* the objective's own mask: 1 = may attend */
    for (int t = 0; t < T; t++) w->target[t] = t + 1 < T ? m->batch.ids[off + t + 1] : -1;
    for (int c = 0; c < T * T; c++) {
        w->mask[c] = w->hatch[c];
        w->hatch[c] = !w->hatch[c];
    }
    if (!r->have_forward || !m->logits) {
        for (int i = 0; i < T * TOPK; i++) w->top_id[i] = -1, w->top_p[i] = 0;
        for (int t = 0; t < T; t++) w->target_p[t] = NAN;
        return;
    }
    int V = m->logits->shape[2];
    for (int t = 0; t < T; t++) {
        const float *x = m->logits->data + (off + t) * V;
        kit_top_k(x, V, 0, TOPK, w->top_p + t * TOPK, w->top_id + t * TOPK);
        float mx = -INFINITY;
        double z = 0;
        for (int v = 0; v < V; v++) mx = x[v] > mx ? x[v] : mx;
        for (int v = 0; v < V; v++) z += exp((double)(x[v] - mx));
        w->target_p[t] = w->target[t] >= 0 ? (float)(exp((double)(x[w->target[t]] - mx)) / z) : NAN;
    }
}

static void headline(const KitFrame *f, char *buf, size_t n)
{
    const GptSnap *w = f->snap;
    if (!f->s->have_forward) snprintf(buf, n, "%s", w->causal ? "" : "NO CAUSAL MASK");
    else
        snprintf(buf, n, "next-token accuracy %.1f%% · perplexity %.0f%s", 100.0 * f->s->extra[GPT_ACCURACY],
                 (double)f->s->extra[GPT_PERPLEXITY], w->causal ? "" : " · NO CAUSAL MASK");
}

/* ------------------------------------------------------------------- panels ---- */

static const VizColor TOKEN_FILL = {58, 62, 76, 255};
#define WARN VIZ_ACCENT[5]

/* A probability as a student reads it: three decimals, or two significant figures below 0.01
 * (0.00042, not 0.000) */
static const char *pstr(char *buf, size_t n, double p)
{
    snprintf(buf, n, p >= 0.01 || p <= 0 ? "%.3f" : "%.2g", p);
    return buf;
}

/* the position shown: the one clicked, else the middle of the window */
static int picked(const KitFrame *f)
{
    int T = f->s->T;
    return f->ui->pick > 0 && f->ui->pick <= T ? f->ui->pick - 1 : T / 2;
}

static void objective_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const GptSnap *w = f->snap;
    int T = s->T, gap = viz_px(v, 6), at = picked(f);
    char pb[32];
    if (!w->causal) { /* the leak, and why it matters, with the held-out figures that show it */
        char why[512];
        int k = snprintf(why, sizeof why, "causal = 0: no mask. Position t now also reads position t+1, which is its own "
                                          "target, so the loss falls towards 0 without the model learning the language. "
                                          "When it generates there is no t+1 to read, and the text falls apart.");
        double own = kit_last_value(s, "eval_loss"), put_back = kit_last_value(s, "eval_causal_loss");
        if (!isnan(own) && !isnan(put_back))
            snprintf(why + k, sizeof why - (size_t)k, " Held-out loss %.2f with the leak, %.2f with the mask put back (as "
                     "when generating). U: the mask back on.", own, put_back);
        int h = viz_text_wrap(v, c.x, c.y, c.w, why, FONT_BOLD, 11, WARN) + gap;
        c.y += h;
        c.h = c.h > h ? c.h - h : 0;
    }
    VizRect left = c;
    const char *names[512], *under[512];
    char unders[512][40];
    VizColor fills[512];
    uint8_t outline[512];
    for (int t = 0; t < T && t < 512; t++) {
        names[t] = kit_token(s, s->tokens[t]);
        snprintf(unders[t], sizeof unders[t], "→%s", w->target[t] >= 0 ? kit_token(s, w->target[t]) : "?");
        under[t] = unders[t];
        fills[t] = t == at ? VIZ_ACCENT[0] : TOKEN_FILL;
        outline[t] = t == at;
    }
    char title[160];
    snprintf(title, sizeof title, "%s %d of %d (Tab: next); under each token, the token it must predict. Click one:",
             "window", s->focus + 1, s->B);
    int y = c.y + viz_text_wrap(v, left.x, c.y, left.w, title, FONT_SANS, 11, VIZ_DIM);
    float tsize = 11;
    while (tsize > 8 && viz_tokens_under_height(v, left.w, names, T, tsize, under, false) > left.h / 2) tsize -= 0.5f;
    int hover = -1;
    y += viz_tokens_under(v, (VizRect){left.x, y, left.w, left.h / 2}, names, fills, T, tsize, under, NULL, outline,
                          &hover) + gap;
    /* below: the top-5 on the left, the mask on the right when there is room for it */
    int rest = c.y + c.h - y, side = rest < c.w * 9 / 20 ? rest : c.w * 9 / 20;
    if (side < viz_px(v, 60)) side = 0;
    left.w = side ? c.w - side - gap : c.w;
    if (hover >= 0) {
        if (w->target[hover] >= 0)
            viz_tooltip(v, "position %d reads \"%s\" and what comes before; it must predict \"%s\" (P = %s). Click: its top-5",
                        hover, names[hover], kit_token(s, w->target[hover]), pstr(pb, sizeof pb, w->target_p[hover]));
        else
            viz_tooltip(v, "position %d, the last: its next token is outside the window, so it has no target here", hover);
        if (v->mouse_clicked) f->ui->pick = hover + 1;
    }
    /* the top-5 at the picked position */
    if (!s->have_forward) {
        viz_text_fit(v, left.x, y, left.w, "Press Space to train one step.", FONT_SANS, 12, VIZ_DIM);
    } else {
        char head[200];
        if (w->target[at] >= 0)
            snprintf(head, sizeof head, "position %d: after \"%s\" the text has \"%s\"; the model gives it P = %s. Its top-5:",
                     at, names[at], kit_token(s, w->target[at]), pstr(pb, sizeof pb, w->target_p[at]));
        else
            snprintf(head, sizeof head, "position %d (the last, no target in the window): the model's top-5 next tokens", at);
        y += viz_text_wrap(v, left.x, y, left.w, head, FONT_SANS, 11, VIZ_TEXT) + viz_px(v, 2);
        int bh = c.y + c.h - y;
        if (bh > viz_px(v, 160)) bh = viz_px(v, 160);
        if (bh > 0)
            kit_topk_bars(v, (VizRect){left.x, y, left.w, bh}, s, w->top_id + at * TOPK, w->top_p + at * TOPK, TOPK,
                          w->target[at], VIZ_ACCENT[2]);
    }
    if (!side) return;
    /* the mask */
    VizRect mr = {c.x + c.w - side, y, side, c.y + c.h - y};
    const char *mt = w->causal ? "The causal mask: row t reads columns 0..t (hatched: forbidden)"
                               : "No mask (causal = 0): every row reads every column";
    int my = mr.y + viz_px(v, 2);
    if (viz_text_wrap_height(v, mr.w, mt, FONT_SANS, 11) <= 2 * viz_text_height(v, FONT_SANS, 11))
        my += viz_text_wrap(v, mr.x, mr.y, mr.w, mt, FONT_SANS, 11, w->causal ? VIZ_TEXT : WARN);
    else { /* a narrow column: the words that matter, on one line (the hatching is in the tooltip) */
        viz_text_fit(v, mr.x, mr.y, mr.w, w->causal ? "causal mask" : "no mask", FONT_SANS, 11, w->causal ? VIZ_TEXT : WARN);
        my += viz_text_height(v, FONT_SANS, 11);
    }
    VizHeatmap hm = {w->mask, T, T, 0, 1, CMAP_VIRIDIS, names, names, "may attend", false, w->hatch};
    int hr, hc;
    viz_heatmap(v, (VizRect){mr.x, my, mr.w, mr.y + mr.h - my}, &hm, &hr, &hc);
    if (hr >= 0)
        viz_tooltip(v, "row %d (\"%s\") %s column %d (\"%s\")%s", hr, names[hr],
                    w->mask[hr * T + hc] > 0 ? "may read" : "may NOT read", hc, names[hc],
                    hc == hr + 1 ? ": the token it must predict" : "");
}

/* The next token's distribution: a bar per token as generation draws it now (after
 * temperature and top-k), a white tick where it stands in the plain softmax (temperature 1,
 * no top-k): lowering the temperature stretches the bars past their ticks. */
static void distribution(Viz *v, VizRect r, const KitSnap *s, const GptGen *g)
{
    int n = 0;
    while (n < GEN_TOP && g->top[n] >= 0) n++;
    if (!n || r.h <= 0) return;
    int lh = viz_text_height(v, FONT_MONO, 10), row = r.h / (n + 1);
    if (row > lh * 2) row = lh * 2;
    if (row < lh) n = r.h / lh - 1, row = lh;
    int lw = r.w * 2 / 5, vw = viz_text_width(v, "0.0000", FONT_MONO, 10) + viz_px(v, 4), bw = r.w - lw - vw;
    for (int j = 0; j < n; j++) {
        int y = r.y + j * row;
        char lab[64];
        snprintf(lab, sizeof lab, "%s%s", kit_token(s, g->top[j]), g->top[j] == g->next ? " ◀" : "");
        viz_text_fit(v, r.x, y, lw - viz_px(v, 4), lab, FONT_MONO, 10, g->top[j] == g->next ? VIZ_ACCENT[3] : VIZ_TEXT);
        VizRect track = {r.x + lw, y + viz_px(v, 2), bw, row - viz_px(v, 4)};
        viz_fill(v, track, (VizColor){44, 48, 60, 255});
        viz_fill(v, (VizRect){track.x, track.y, (int)(g->p[j] * bw), track.h}, VIZ_ACCENT[4]);
        int tx = track.x + (int)(g->p_raw[j] * bw);
        viz_fill(v, (VizRect){tx, track.y - viz_px(v, 1), viz_px(v, 2) > 1 ? viz_px(v, 2) : 1, track.h + 2 * viz_px(v, 1)},
                 VIZ_TEXT);
        char val[16];
        pstr(val, sizeof val, g->p[j]);
        viz_text(v, r.x + r.w, y, val, FONT_MONO, 10, VIZ_DIM, ALIGN_RIGHT);
        if (viz_hover(v, (VizRect){r.x, y, r.w, row}))
            viz_tooltip(v, "\"%s\": P = %.4f as drawn now, %.4f in the plain softmax (temperature 1, no top-k)%s",
                        kit_token(s, g->top[j]), (double)g->p[j], (double)g->p_raw[j],
                        g->top[j] == g->next ? "; G adds it" : "");
    }
    viz_text_fit(v, r.x, r.y + n * row, r.w, "bar: as drawn · tick: plain softmax", FONT_SANS, 9, VIZ_DIM);
}

/* The generated text, the next token's distribution and the newest token's attention. */
static void generation_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const GptGen *g = f->ui->probe_result;
    char pb[32];
    int gap = viz_px(v, 6), lh = viz_text_height(v, FONT_SANS, 10);
    if (!g) {
        viz_text_fit(v, c.x, c.y, c.w, "Type the start of a text, then Enter: the model goes on from it.", FONT_SANS, 11, VIZ_DIM);
        return;
    }
    if (g->empty) {
        viz_text_fit(v, c.x, c.y, c.w, "Nothing to start from: type some words, then Enter.", FONT_SANS, 11, WARN);
        return;
    }
    char how[200], k[32] = "off";
    if (g->top_k > 0) snprintf(k, sizeof k, "%d", g->top_k);
    if (g->temperature <= 0)
        snprintf(how, sizeof how, "greedy (temperature 0: always the most probable) · %d generated · seed %llu · step %ld",
                 g->len - g->nprompt, (unsigned long long)s->seed, g->step);
    else
        snprintf(how, sizeof how, "temperature %.1f · top-k %s · %d generated · seed %llu · step %ld", (double)g->temperature, k,
                 g->len - g->nprompt, (unsigned long long)s->seed, g->step);
    int y = c.y + viz_text_wrap(v, c.x, c.y, c.w, how, FONT_SANS, 10, VIZ_DIM);
    y += viz_text_wrap(v, c.x, y, c.w, "generated tokens: bright blue if they were probable when drawn, grey if unlikely (hover: P)",
                       FONT_SANS, 10, VIZ_DIM);
    /* the text: prompt tokens grey, generated ones coloured by how probable they were */
    const char *names[PROMPT_MAX + GEN_MAX];
    VizColor fills[PROMPT_MAX + GEN_MAX];
    for (int i = 0; i < g->len; i++) {
        names[i] = kit_token(s, g->ids[i]);
        /* from grey (P 0.0001 or less) to full blue (P 1), on a log scale: a surprising draw stands out */
        float t = g->drawn_p[i] > 0 ? (log10f(g->drawn_p[i]) + 4) / 4 : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        fills[i] = i < g->nprompt ? TOKEN_FILL : viz_mix(VIZ_ACCENT[4], (VizColor){96, 98, 110, 255}, t);
    }
    int hover = -1, th = c.h / 3;
    float tsize = 11;
    while (tsize > 8 && viz_tokens_height(v, c.w, names, g->len, tsize) > th) tsize -= 0.5f;
    y += viz_tokens(v, (VizRect){c.x, y, c.w, th}, names, fills, g->len, tsize, &hover) + viz_px(v, 2);
    if (hover >= 0) {
        if (hover < g->nprompt) viz_tooltip(v, "prompt token %d: \"%s\"", hover, names[hover]);
        else
            viz_tooltip(v, "generated token %d: \"%s\", drawn with P = %s", hover - g->nprompt + 1, names[hover],
                        pstr(pb, sizeof pb, g->drawn_p[hover]));
    }
    if (g->cut || g->unk) {
        char note[160];
        snprintf(note, sizeof note, "%s%s", g->cut ? "Only the last 64 tokens of the prompt are kept. " : "",
                 g->unk ? "[UNK]: a word outside the vocabulary." : "");
        y += viz_text_wrap(v, c.x, y, c.w, note, FONT_SANS, 10, WARN);
    }
    if (!g->causal)
        y += viz_text_wrap(v, c.x, y, c.w, "Trained without the mask: at the last position there is no next token to read.",
                           FONT_SANS, 10, WARN);
    y += gap;
    /* the next token's distribution (left) and the newest token's attention (right) */
    int half = (c.w - gap) / 2, bottom = c.y + c.h;
    char dh[160];
    snprintf(dh, sizeof dh, "G adds \"%s\" (P = %s)", kit_token(s, g->next), pstr(pb, sizeof pb, g->next_p));
    viz_text_fit(v, c.x, y, half, dh, FONT_SANS, 10, VIZ_TEXT);
    if (viz_hover(v, (VizRect){c.x, y, half, lh}))
        viz_tooltip(v, "%d of the %d tokens can be drawn under these settings; G appends \"%s\" (P = %s)", g->kept,
                    (int)s->vocab->size, kit_token(s, g->next), pstr(pb, sizeof pb, g->next_p));
    int by = y + lh + viz_px(v, 2);
    distribution(v, (VizRect){c.x, by, half, bottom - by}, s, g);
    /* attention of the newest token: one row per layer × head, one column per token read */
    int ax = c.x + half + gap;
    char ah[160];
    snprintf(ah, sizeof ah, "attention of \"%s\", the newest", kit_token(s, g->ids[g->len - 1]));
    viz_text_fit(v, ax, y, c.w - half - gap, ah, FONT_SANS, 10, VIZ_TEXT);
    int L = g->L * g->NH <= GEN_ROWS ? g->L : GEN_ROWS / g->NH, hc;
    int hr = kit_attention_rows(v, (VizRect){ax, by, c.w - half - gap, bottom - by}, s, g->attn, L, g->NH, GEN_CTX,
                                g->ctx_ids, g->ctx, -1, &hc);
    if (hr >= 0)
        viz_tooltip(v, "layer %d head %d: the newest token puts p = %.3f on \"%s\"", hr / g->NH + 1, hr % g->NH + 1,
                    (double)g->attn[(size_t)hr * GEN_CTX + hc], kit_token(s, g->ctx_ids[hc]));
}

static void probe_run(Run *r, Model *model, const char *text, void *result)
{
    gpt_generate(r, model, text, (int)kit_value(r, "new_tokens"), (float)kit_value(r, "temperature"),
                 (int)kit_value(r, "top_k"), r->opt.seed, result);
}

/* ------------------------------------------------------------- description ---- */

static const KitPanel panels[] = {
    {"The objective: every position predicts the next token", objective_panel, 50, 0, "The objective"},
    {"Generate: type the start of a text, then Enter; G one more token", generation_panel, 50, KIT_PANEL_PROBE, "Generate"},
};

static const KitCurve curves[] = {
    {.title = "Next-token loss (nats)", .ylabel = "cross-entropy", .train = "lm", .heldout = "eval_loss",
     .ref = REF_UNIGRAM, .ref_name = "unigram (frequencies)", .ref2 = REF_BIGRAM + 1,
     .ref2_name = "bigram (previous token)", .short_title = "Loss"},
    {.title = "Perplexity: e^loss, as if choosing among that many tokens", .ylabel = "perplexity (log scale)",
     .train = "perplexity", .heldout = "eval_perplexity", .ref = REF_UNIGRAM_PPL, .ref_name = "unigram",
     .ref2 = REF_BIGRAM_PPL + 1, .ref2_name = "bigram", .short_title = "Perplexity", .logy = true},
};

static const double causal_toggle[] = {1, 0};
static const double top_ks[] = {0, 1, 5, 20, 100};
static const double no_tokens[] = {0};

static const KitKey keys[] = {
    {'g', "new_tokens", +1, "generate one more token (hold: go on)", NULL, 0},
    {'x', "new_tokens", 0, "generated tokens: none (start again from the prompt)", no_tokens, 1},
    {'[', "temperature", -0.1, "temperature −0.1 (0: greedy)", NULL, 0},
    {']', "temperature", +0.1, "temperature +0.1", NULL, 0},
    {'k', "top_k", 0, "top-k: off → 1 → 5 → 20 → 100", top_ks, 5},
    {'u', "causal", 0, "causal mask on/off (off: the leak)", causal_toggle, 2},
};


const LessonView gpt_view = {
    .snapshot_bind = snapshot_bind,
    .snapshot_fill = snapshot_fill,
    .headline = headline,
    .panels = panels,
    .npanels = 2,
    .curves = curves,
    .ncurves = 2,
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .probe = probe_run,
    .probe_size = sizeof(GptGen),
    .probe_help = "type the start of a text: the model goes on from it",
    .item = "window",
    .probe_default = "the white whale",
};
