/* panels.c — fmlab-icl's own part of the dashboard (the kit draws the header, the attention
 * of every head with the causal mask hatched, the curves, the notes and the help):
 *
 *   the row:        the focus row's tokens coloured by what they are (a letter seen before,
 *                   the digit its code gives, a segment and its copy), with the model's guess
 *                   under every token it could know from the context
 *   shots:          accuracy at the query after 0, 1, 2, 4 and 8 examples, GPT-3's zero-, one-
 *                   and few-shot figure in miniature, with chance and the stored experiment
 *   induction:      each head's previous-token and induction scores, the induction head marked
 *   your prompt:    a few-shot prompt typed by the student, the model's answer and where its
 *                   last token looks
 *
 * and its keys: [ and ] fewer or more repeated segments in the mix. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lessons/common/view.h"
#include "lessons/icl/lesson.h"

/* ------------------------------------------------------------------ snapshot ---- */

typedef struct IclSnap {
    int kind;                     /* the focus row's kind */
    int L, NH;
    bool scored;                  /* the head scores are of this batch's forward */
    float induction[ICL_MAX_HEADS], previous[ICL_MAX_HEADS];
    uint8_t *role;                /* (T) */
    int32_t *guess;               /* (T) the model's most probable token for position t, read at t-1 */
    float *guess_p;               /* (T) its probability */
    float *true_p;                /* (T) the probability of the token that came */
} IclSnap;

static size_t snapshot_bind(void *blob, const KitSnap *s)
{
    size_t T = (size_t)s->T, size = sizeof(IclSnap) + T * 12 + T;
    if (!blob) return size;
    IclSnap *w = blob;
    w->guess = (int32_t *)(w + 1);
    w->guess_p = (float *)(w->guess + T);
    w->true_p = w->guess_p + T;
    w->role = (uint8_t *)(w->true_p + T);
    return size;
}

static void snapshot_fill(void *blob, const Run *r, int focus)
{
    IclSnap *w = blob;
    const Icl *m = KIT_SELF(r, Icl);
    int T = r->T;
    size_t off = (size_t)focus * T;
    w->kind = m->batch.kind[focus];
    w->L = m->L;
    w->NH = m->NH;
    w->scored = icl_head_scores(r, w->induction, w->previous);
    memcpy(w->role, m->batch.role + off, (size_t)T);
    for (int t = 0; t < T; t++) {
        w->guess[t] = -1;
        w->guess_p[t] = w->true_p[t] = NAN;
        if (!t || !r->have_forward || !m->logits) continue;
        const float *x = m->logits->data + (off + t - 1) * ICL_V;
        float mx = -INFINITY;
        int a = 0;
        for (int v = 0; v < ICL_V; v++) {
            if (x[v] > mx) mx = x[v], a = v;
        }
        double z = 0;
        for (int v = 0; v < ICL_V; v++) z += exp((double)(x[v] - mx));
        w->guess[t] = a;
        w->guess_p[t] = (float)(1 / z);
        w->true_p[t] = (float)(exp((double)(x[m->batch.lm.ids[off + t]] - mx)) / z);
    }
}

static void headline(const KitFrame *f, char *buf, size_t n)
{
    const KitSnap *s = f->s;
    double a1 = kit_last_value(s, "accuracy_1_shot"), a8 = kit_last_value(s, "accuracy_8_shot"),
           a0 = kit_last_value(s, "accuracy_0_shot"), sc = kit_last_value(s, "icl_score");
    if (isnan(a1)) buf[0] = 0;
    else
        snprintf(buf, n, "0-shot %.0f%% · 1-shot %.0f%% · 8-shot %.0f%% · ICL score %.2f", 100 * a0, 100 * a1, 100 * a8, sc);
}

/* ------------------------------------------------------------------- panels ---- */

/* the colours of the roles, and what they mean */
static const VizColor ROLE_FILL[] = {
    [ROLE_X_NEW] = {70, 74, 88, 255},    [ROLE_X_SEEN] = {52, 96, 160, 255}, [ROLE_Y_FREE] = {58, 62, 76, 255},
    [ROLE_Y_ANSWER] = {40, 130, 90, 255}, [ROLE_FIRST] = {110, 70, 150, 255}, [ROLE_COPY] = {176, 110, 40, 255},
    [ROLE_COPY_START] = {176, 110, 40, 255},
    [ROLE_NOISE] = {58, 62, 76, 255},    [ROLE_TEXT] = {64, 68, 82, 255},
};
#define WRONG VIZ_ACCENT[5]

static const char *pstr(char *buf, size_t n, double p)
{
    snprintf(buf, n, p >= 0.01 || p <= 0 || isnan(p) ? "%.2f" : "%.1g", p);
    return buf;
}

/* a position whose token the context determines: the guess under it counts */
static bool knowable(int role) { return role == ROLE_Y_ANSWER || role == ROLE_COPY; }

static void row_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const IclSnap *w = f->snap;
    int T = s->T, gap = viz_px(v, 4);
    char title[256];
    if (w->kind == ICL_FEWSHOT)
        snprintf(title, sizeof title, "row %d of %d (Tab: next) is pairs of a secret code made for this row only: "
                 "each letter stands for a digit.", s->focus + 1, s->B);
    else if (w->kind == ICL_REPEAT)
        snprintf(title, sizeof title, "row %d of %d (Tab: next): a segment of random symbols, repeated over and over from "
                 "a random place on.", s->focus + 1, s->B);
    else
        snprintf(title, sizeof title, "row %d of %d (Tab: next): Moby-Dick, letter by letter (_ between words).",
                 s->focus + 1, s->B);
    const char *leg_fs[] = {"letter, first time", "letter seen before", "its digit: unknowable", "its digit: in the context"};
    const VizColor col_fs[] = {ROLE_FILL[ROLE_X_NEW], ROLE_FILL[ROLE_X_SEEN], ROLE_FILL[ROLE_Y_FREE], ROLE_FILL[ROLE_Y_ANSWER]};
    const char *leg_rp[] = {"random", "segment", "its copy: in the context"};
    const VizColor col_rp[] = {ROLE_FILL[ROLE_NOISE], ROLE_FILL[ROLE_FIRST], ROLE_FILL[ROLE_COPY]};
    bool fs = w->kind == ICL_FEWSHOT;
    const char *names[128], *under[128];
    char unders[128][16];
    VizColor fills[128];
    int known = 0, right = 0;
    for (int t = 0; t < T && t < 128; t++) {
        names[t] = kit_token(s, s->tokens[t]);
        fills[t] = ROLE_FILL[w->role[t]];
        unders[t][0] = 0;
        if (knowable(w->role[t]) && w->guess[t] >= 0) {
            bool ok = w->guess[t] == s->tokens[t];
            snprintf(unders[t], sizeof unders[t], "%s%s", kit_token(s, w->guess[t]), ok ? "✓" : "✗");
            known++;
            right += ok;
        }
        under[t] = unders[t];
    }
    const char *caption = w->kind != ICL_TEXT
                              ? "under a token the context determines: the model's guess for it, read one place before "
                                "(✓ right, ✗ wrong)"
                              : "The text teaches what every language model learns first: which letter follows which. "
                                "Heads that look at the previous token form here. Hover: the model's guess.";
    /* the tokens first: the title, the legend and the caption as the room allows */
    int need = viz_tokens_under_height(v, c.w, names, T, 8, under, false), lh = viz_text_height(v, FONT_SANS, 10);
    int room = c.h - need - lh, th = viz_text_wrap_height(v, c.w, title, FONT_SANS, 11);
    int lg = w->kind != ICL_TEXT ? viz_legend_height(v, c.w, fs ? leg_fs : leg_rp, fs ? 4 : 3) + gap : 0;
    int ch = viz_text_wrap_height(v, c.w, caption, FONT_SANS, 10);
    int y = c.y;
    if (room >= th) y += viz_text_wrap(v, c.x, y, c.w, title, FONT_SANS, 11, VIZ_TEXT), room -= th;
    else {
        char brief[64];
        snprintf(brief, sizeof brief, "row %d of %d (Tab: next)", s->focus + 1, s->B);
        viz_text_fit(v, c.x, y, c.w, brief, FONT_SANS, 11, VIZ_TEXT);
        y += viz_text_height(v, FONT_SANS, 11);
        room -= viz_text_height(v, FONT_SANS, 11);
    }
    if (lg && room >= lg) y += viz_legend(v, c.x, y, c.w, fs ? leg_fs : leg_rp, fs ? col_fs : col_rp, fs ? 4 : 3) + gap, room -= lg;
    if (room >= ch) y += viz_text_wrap(v, c.x, y, c.w, caption, FONT_SANS, 10, VIZ_DIM);
    int hover = -1;
    float size = 16; /* as large as the panel allows: the presenter view has room for it */
    while (size > 8 && viz_tokens_under_height(v, c.w, names, T, size, under, false) > c.y + c.h - y - lh) size -= 0.5f;
    y += viz_tokens_under(v, (VizRect){c.x, y, c.w, c.y + c.h - y}, names, fills, T, size, under, NULL, NULL, &hover) + gap;
    char pb[2][16];
    if (hover >= 0) {
        int role = w->role[hover];
        const char *what = role == ROLE_X_NEW    ? "a letter not seen before in this row: nothing to go on"
                           : role == ROLE_X_SEEN ? "a letter seen before: the digit after it was shown then"
                           : role == ROLE_Y_FREE ? "the digit of a letter seen for the first time: no way to know it"
                           : role == ROLE_Y_ANSWER ? "the digit of a letter seen before: the same digit as then"
                           : role == ROLE_FIRST  ? "a symbol of the segment: random, no way to know it"
                           : role == ROLE_COPY   ? "the copy: the symbol that followed the previous one last time"
                           : role == ROLE_COPY_START ? "the copy's first symbol: the one before it is new, so nothing "
                                                     "says what comes next yet"
                           : role == ROLE_TEXT   ? (s->tokens[hover] == ICL_GAP ? "the gap between two words" : "a letter of the text")
                                                 : "a random symbol";
        if (hover > 0 && w->guess[hover] >= 0)
            viz_tooltip(v, "position %d \"%s\": %s. The model, at position %d, gave it P = %s; its top guess was \"%s\" (P = %s)",
                        hover, names[hover], what, hover - 1, pstr(pb[0], 16, w->true_p[hover]),
                        kit_token(s, w->guess[hover]), pstr(pb[1], 16, w->guess_p[hover]));
        else viz_tooltip(v, "position %d \"%s\": %s", hover, names[hover], what);
    }
    if (known && s->have_forward && y + viz_text_height(v, FONT_SANS, 11) <= c.y + c.h) {
        char sum[160];
        snprintf(sum, sizeof sum, "%d of %d right where the context gives the answer", right, known);
        viz_text_fit(v, c.x, y, c.w, sum, FONT_SANS, 11, right * 2 > known ? VIZ_ACCENT[2] : VIZ_DIM);
    }
}

/* accuracy at the query after k examples: now, and the stored experiment's 1- and 2-layer rows,
 * as grouped bars over k = 0, 1, 2, 4, 8 (GPT-3's Figure 1.2 has the same x axis) */
static void shots_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    static const char *const cols[ICL_NSHOTS] = {"accuracy_0_shot", "accuracy_1_shot", "accuracy_2_shot", "accuracy_4_shot",
                                                  "accuracy_8_shot"};
    float val[3][ICL_NSHOTS];
    bool have = false, stored = false;
    const KitFinding *fd = s->finding;
    for (int k = 0; k < ICL_NSHOTS; k++) {
        val[0][k] = (float)kit_last_value(s, cols[k]);
        have |= !isnan(val[0][k]);
        val[1][k] = fd ? (float)kit_finding(fd, "layers_2", cols[k]) : NAN;
        val[2][k] = fd ? (float)kit_finding(fd, "layers_1", cols[k]) : NAN;
        stored |= !isnan(val[1][k]) || !isnan(val[2][k]);
    }
    if (!have) {
        viz_text_wrap(v, c.x, c.y, c.w, "Held-out prompts \"x1 y1 … xk yk xq\" with a new code each, k = 0, 1, 2, 4, 8: "
                      "their accuracy appears at the first evaluation.", FONT_SANS, 11, VIZ_DIM);
        return;
    }
    /* the stored 1- and 2-layer results answer the notes' first question: shown once the answers are (A) */
    bool show = stored && f->ui->reveal;
    int nser = show ? 3 : 1;
    char n2[64];
    snprintf(n2, sizeof n2, "2 layers, %g steps (stored)", fd ? kit_finding(fd, "layers_2", "steps") : 0.0);
    const char *names[3] = {"this run now", n2, "1 layer (stored)"};
    const VizColor colors[3] = {VIZ_ACCENT[0], VIZ_ACCENT[2], VIZ_ACCENT[3]};
    int lh = viz_text_height(v, FONT_SANS, 10);
    /* the captions only when the bars keep room for six lines of text */
    bool roomy = c.h > 10 * lh;
    int y = c.y;
    if (roomy) {
        char head[160];
        snprintf(head, sizeof head, "the digit after xq right, of %d held-out prompts per k; dashed: chance (10%%)",
                 ICL_EVAL_ROWS);
        y += viz_text_wrap(v, c.x, c.y, c.w, head, FONT_SANS, 10, VIZ_DIM);
    }
    y += viz_legend(v, c.x, y, c.w, names, colors, nser);
    if (stored && !show) {
        viz_text_fit(v, c.x + c.w / 2, y - lh, c.w / 2, "A: beside the stored 2- and 1-layer runs", FONT_SANS, 10, VIZ_DIM);
    }
    /* a prompt longer than a row is not asked: its group says so */
    static const char *const full[ICL_NSHOTS] = {"0-shot", "1-shot", "2-shot", "4-shot", "8-shot"};
    const char *groups[ICL_NSHOTS];
    for (int k = 0; k < ICL_NSHOTS; k++) groups[k] = 2 * icl_shots[k] + 1 <= s->T ? full[k] : "(too long)";
    int bottom = c.y + c.h - (roomy ? lh + viz_px(v, 2) : 0);
    int hover = viz_bars_grouped(v, (VizRect){c.x, y, c.w, bottom - y}, groups, ICL_NSHOTS, val[0], nser, colors,
                                 (float)s->refs[REF_CHANCE]);
    if (hover >= 0) {
        int i = hover / ICL_NSHOTS, k = hover % ICL_NSHOTS;
        viz_tooltip(v, "%s, %d-shot (%d example%s before the query): %.1f%% right", names[i], icl_shots[k], icl_shots[k],
                    icl_shots[k] == 1 ? "" : "s", 100 * (double)val[i][k]);
    }
    if (roomy)
        viz_text_fit(v, c.x, bottom + viz_px(v, 2), c.w,
                     "examples in the prompt (k), the weights frozen: no gradient step at test time", FONT_SANS, 10, VIZ_DIM);
}

/* each head's two scores as an L × NH grid, the best induction head outlined */
static void heads_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const IclSnap *w = f->snap;
    if (!w->scored) {
        viz_text_wrap(v, c.x, c.y, c.w, s->have_forward ? "This batch has no repeated segment to score the heads on (N: a new "
                      "batch)." : "Each head's scores on the batch's repeated segments: press Space to train one step.",
                      FONT_SANS, 11, VIZ_DIM);
        return;
    }
    int heads = w->L * w->NH, best = 0;
    for (int h = 1; h < heads; h++)
        if (w->induction[h] > w->induction[best]) best = h;
    char head[256];
    bool found = w->induction[best] >= ICL_INDUCTION_FOUND;
    if (found)
        snprintf(head, sizeof head, "Induction head: layer %d head %d, score %.2f on this batch", best / w->NH + 1,
                 best % w->NH + 1, (double)w->induction[best]);
    else if (w->L == 1)
        snprintf(head, sizeof head, "One layer: no induction head can form (it needs a previous-token head in an earlier "
                 "layer); the best scores %.2f", (double)w->induction[best]);
    else
        snprintf(head, sizeof head, "No induction head yet: the best, layer %d head %d, scores %.2f", best / w->NH + 1,
                 best % w->NH + 1, (double)w->induction[best]);
    int y = c.y + viz_text_wrap(v, c.x, c.y, c.w, head, FONT_BOLD, 11, found ? VIZ_ACCENT[2] : VIZ_DIM);
    const char *what = "on this batch: previous-token score, attention on the token just before; induction score, in the "
                       "copies of its repeated segments, on the token after the earlier occurrence (Olsson et al.). Hover a "
                       "cell for its value.";
    if (c.y + c.h - y > 6 * viz_text_height(v, FONT_SANS, 10) + viz_text_wrap_height(v, c.w, what, FONT_SANS, 9))
        y += viz_text_wrap(v, c.x, y, c.w, what, FONT_SANS, 9, VIZ_DIM);
    static char rl[32][8], cl[32][8];
    const char *rows[32], *colsn[32];
    int L = w->L < 32 ? w->L : 32, NH = w->NH < 32 ? w->NH : 32;
    for (int l = 0; l < L; l++) snprintf(rl[l], 8, "L%d", l + 1), rows[l] = rl[l];
    for (int h = 0; h < NH; h++) snprintf(cl[h], 8, "h%d", h + 1), colsn[h] = cl[h];
    int gap = viz_px(v, 8), half = (c.w - gap) / 2, th = viz_text_height(v, FONT_SANS, 10);
    const char *titles[2] = {"previous token", "induction"};
    const float *vals[2] = {w->previous, w->induction};
    for (int i = 0; i < 2; i++) {
        int x = c.x + i * (half + gap);
        viz_text_fit(v, x, y, half, titles[i], FONT_SANS, 10, VIZ_TEXT);
        float grid[32 * 32];
        for (int l = 0; l < L; l++)
            for (int h = 0; h < NH; h++) grid[l * NH + h] = vals[i][l * w->NH + h];
        VizHeatmap hm = {grid, L, NH, 0, 1, CMAP_VIRIDIS, rows, colsn, "score", true, NULL};
        int hr, hc;
        VizRect hr_rect = {x, y + th, half, c.y + c.h - y - th};
        viz_heatmap(v, hr_rect, &hm, &hr, &hc);
        if (hr >= 0)
            viz_tooltip(v, "layer %d head %d: %s score %.3f%s", hr + 1, hc + 1, titles[i], (double)grid[hr * NH + hc],
                        i == 1 && hr * w->NH + hc == best ? " (the best)" : "");
    }
    (void)s;
}

static void probe_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const IclProbe *g = f->ui->probe_result;
    char pb[16];
    if (!g) return;
    if (!g->n) {
        viz_text_wrap(v, c.x, c.y, c.w, "Type pairs of a letter and a digit, then a letter: \"c 7 a 2 f 9 a\".", FONT_SANS, 11,
                      VIZ_ACCENT[5]);
        return;
    }
    int y = c.y, gap = viz_px(v, 4);
    const char *names[PROBE_MAX + 1];
    VizColor fills[PROBE_MAX + 1];
    for (int i = 0; i < g->n; i++) {
        names[i] = kit_token(s, g->ids[i]);
        fills[i] = i == g->expected_at ? ROLE_FILL[ROLE_Y_ANSWER] : i == g->n - 1 ? ROLE_FILL[ROLE_X_SEEN] : ROLE_FILL[ROLE_X_NEW];
    }
    names[g->n] = "?";
    fills[g->n] = VIZ_ACCENT[0];
    int hover;
    float tsize = 12;
    while (tsize > 8 && viz_tokens_height(v, c.w, names, g->n + 1, tsize) > c.h / 3) tsize -= 0.5f;
    y += viz_tokens(v, (VizRect){c.x, y, c.w, viz_tokens_height(v, c.w, names, g->n + 1, tsize)}, names, fills, g->n + 1,
                    tsize, &hover) + gap;
    if (hover >= 0 && hover < g->n) viz_tooltip(v, "prompt token %d: \"%s\"", hover, names[hover]);
    char line[256];
    const char *last = names[g->n - 1], *answer = g->top[0] >= 0 ? kit_token(s, g->top[0]) : "?";
    if (g->expected >= 0)
        snprintf(line, sizeof line, "Your pairs say \"%s\" → \"%s\" (green). The model gives \"%s\" P = %s; its answer: \"%s\".",
                 last, kit_token(s, g->expected), kit_token(s, g->expected), pstr(pb, 16, g->expected_p), answer);
    else if (!icl_is_letter(g->ids[g->n - 1]))
        snprintf(line, sizeof line, "End with a letter: the model answers with its digit. (Its next token now: \"%s\".)", answer);
    else if (g->seen_before)
        snprintf(line, sizeof line, "\"%s\" appeared before, but not followed by a digit: your prompt gives no digit for it. "
                 "The model's answer: \"%s\".", last, answer);
    else if (g->pairs)
        snprintf(line, sizeof line, "\"%s\" is not among your %d example%s: nothing in the prompt gives its digit. The model's "
                 "answer: \"%s\".", last, g->pairs, g->pairs == 1 ? "" : "s", answer);
    else
        snprintf(line, sizeof line, "No example before \"%s\": zero-shot, nothing to copy. The model's answer: \"%s\".", last,
                 answer);
    y += viz_text_wrap(v, c.x, y, c.w, line, FONT_SANS, 11, g->expected >= 0 && g->top[0] == g->expected ? VIZ_ACCENT[2] : VIZ_TEXT);
    if (g->ignored || g->cut) {
        char note[160];
        snprintf(note, sizeof note, "%s%s%s%s", g->ignored ? "Left out (not a letter or a digit): \"" : "",
                 g->ignored ? g->ignored_example : "", g->ignored ? (g->ignored > 1 ? "\" and others. " : "\". ") : "",
                 g->cut ? "Only the last seq_len tokens are read." : "");
        y += viz_text_wrap(v, c.x, y, c.w, note, FONT_SANS, 10, VIZ_ACCENT[5]);
    }
    y += gap;
    int half = (c.w - gap * 2) * 2 / 5, bottom = c.y + c.h;
    int th = viz_text_height(v, FONT_SANS, 10);
    int bh = bottom - y - th;
    if (bh > viz_px(v, 140)) bh = viz_px(v, 140);
    if (bh < 3 * th) return; /* no room for the bars and the attention: the answer line says it */
    viz_text_fit(v, c.x, y, half, "its top-5 after the last token", FONT_SANS, 10, VIZ_DIM);
    kit_topk_bars(v, (VizRect){c.x, y + th, half, bh}, s, g->top, g->p, PROBE_TOP, g->expected, VIZ_ACCENT[2]);
    /* the last token's attention: one row per layer × head, the induction head marked */
    int ax = c.x + half + 2 * gap, aw = c.x + c.w - ax, hc;
    viz_text_fit(v, ax, y, aw, "where the last token looks, per head", FONT_SANS, 10, VIZ_DIM);
    int hr = kit_attention_rows(v, (VizRect){ax, y + th, aw, bottom - y - th}, s, g->attn, g->L, g->NH, PROBE_MAX, g->ids,
                                g->n, g->induction_head, &hc);
    if (hr >= 0)
        viz_tooltip(v, "layer %d head %d%s: the last token puts p = %.3f on \"%s\" (position %d)%s", hr / g->NH + 1,
                    hr % g->NH + 1, hr == g->induction_head ? " (the induction head)" : "",
                    (double)g->attn[(size_t)hr * PROBE_MAX + hc], names[hc], hc,
                    hc == g->expected_at ? ": the digit after the earlier occurrence" : "");
}

static void probe_run(Run *r, Model *model, const char *text, void *result) { icl_probe(r, model, text, result); }

/* the induction head, once a head scores ICL_INDUCTION_FOUND on the batch: enlarged */
static bool spotlight(const KitSnap *s, const void *snap, int *layer, int *head)
{
    (void)s;
    const IclSnap *w = snap;
    if (!w->scored) return false;
    int best = 0;
    for (int h = 1; h < w->L * w->NH; h++)
        if (w->induction[h] > w->induction[best]) best = h;
    if (w->induction[best] < ICL_INDUCTION_FOUND) return false;
    *layer = best / w->NH;
    *head = best % w->NH;
    return true;
}

/* ------------------------------------------------------------- description ---- */

static const KitPanel panels[] = {
    {"The row: what the model reads (a code, a repeated segment, or Moby-Dick)", row_panel, 34, 0, "The row"},
    {"Zero-, one- and few-shot: accuracy by examples in the prompt", shots_panel, 30, 0, "Shots"},
    {"Induction heads: each head's scores", heads_panel, 24, 0, "Heads"},
    {"Your prompt: pairs, then a letter (\"c 7 a 2 a\"), Enter", probe_panel, 36, KIT_PANEL_PROBE, "Your prompt"},
};

static const char *const shot_cols[] = {"accuracy_0_shot", "accuracy_1_shot", "accuracy_2_shot", "accuracy_4_shot",
                                        "accuracy_8_shot", NULL};
static const char *const shot_names[] = {"0-shot", "1-shot", "2-shot", "4-shot", "8-shot"};
static const int shot_colors[] = {5, 3, 1, 4, 2};
static const char *const copy_cols[] = {"first_copy_loss", "second_copy_loss", NULL};
static const char *const copy_names[] = {"segment (first time)", "its copy"};
static const int copy_colors[] = {1, 2};
static const char *const head_cols[] = {"induction_score", "previous_token_score", NULL};
static const char *const head_names[] = {"best induction head", "best previous-token head"};
static const int head_colors[] = {2, 4};

static const KitCurve curves[] = {
    {.title = "Held-out accuracy after 0, 1, 2, 4, 8 examples", .ylabel = "accuracy", .ref = REF_CHANCE,
     .ref_name = "chance (10%)", .bounded = true, .lo = 0, .hi = 1, .short_title = "Accuracy", .series = shot_cols,
     .series_name = shot_names, .series_color = shot_colors, .series_points = true},
    {.title = "In-context learning: loss on a segment and on its copy (nats)", .ylabel = "cross-entropy",
     .ref = REF_UNIFORM_LOSS, .ref_name = "uniform (ln 36)", .short_title = "Copy loss", .series = copy_cols,
     .series_name = copy_names, .series_color = copy_colors, .series_points = true},
    {.title = "The phase change: the best head's scores", .ylabel = "score", .ref = REF_UNIFORM_INDUCTION,
     .ref_name = "even attention", .bounded = true, .lo = 0, .hi = 1, .short_title = "Phase change", .series = head_cols,
     .series_name = head_names, .series_color = head_colors, .series_points = true},
    {.title = "Next-token loss (nats)", .ylabel = "cross-entropy", .train = "lm", .heldout = "eval_loss",
     .ref = REF_UNIFORM_LOSS, .ref_name = "uniform (ln 36)", .short_title = "Loss"},
};

static const KitKey keys[] = {
    {'[', "repeat_share", -0.1, "repeated segments −10% of the rows (code rows take their place)", NULL, 0},
    {']', "repeat_share", +0.1, "repeated segments +10% of the rows (from the code rows, then the text)", NULL, 0},
};

const LessonView icl_view = {
    .snapshot_bind = snapshot_bind,
    .snapshot_fill = snapshot_fill,
    .headline = headline,
    .panels = panels,
    .npanels = 4,
    .curves = curves,
    .ncurves = 4,
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .probe = probe_run,
    .probe_size = sizeof(IclProbe),
    .probe_help = "pairs of a letter and a digit, then a letter: the model answers with its digit",
    .item = "row",
    .probe_default = "c 7 a 2 f 9 a",
    .spotlight = spotlight,
};
