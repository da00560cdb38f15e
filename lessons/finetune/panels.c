/* panels.c — fmlab-finetune's own part of the dashboard (the kit draws the header, the
 * attention of the three runs, the curves, notes and help):
 *
 *   the message: the focus message as the model reads it, [CLS] message [SEP] [PAD]…, with
 *                how much attention [CLS] pays each token in the enlarged head (the pooler
 *                reads only [CLS])
 *   the batch:   every message of the batch, its label, its first words and P(spam) of the
 *                three runs side by side
 *   held-out:    each run's confusion matrix on the 700 held-out messages, the label budget
 *                and where the pretrained encoder came from
 *   probe:       a typed message, P(spam) of the three runs
 *
 * and its keys: K goes through the label budgets (16, 64, 256, all), X chooses the run that
 * is exported. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lessons/common/view.h"
#include "lessons/finetune/lesson.h"

/* the three runs' colours, the same in every panel and curve */
static const int RUN_ACCENT[RUN_COUNT] = {1, 0, 2};   /* sky blue, orange, bluish green */
static const char *const RUN_NAME[RUN_COUNT] = {"fine-tune", "probe", "scratch"};
static const VizColor HAM = {200, 200, 200, 255}, SPAM = {213, 94, 0, 255}, SPECIAL = {120, 124, 140, 255},
                      PAD = {44, 47, 58, 255}, WORD = {86, 180, 233, 255};

/* ------------------------------------------------------------------ snapshot ---- */

typedef struct FtSnap {
    int run, nbudget, budget_count[2];
    int64_t confusion[RUN_COUNT][2][2];
    int64_t confusion_step;
    char pre[160];                        /* "fmlab-mlm, 2000 steps", "fmlab-electra's discriminator, ..." */
    char pre_path[4096];
    int32_t *labels, *ids;                /* (B), (B,T) */
    uint8_t *mask;                        /* (B,T) */
    float *p;                             /* (RUN_COUNT,B) P(spam) */
    char shown[MESSAGES_SHOWN + 8];       /* the focus message's text */
} FtSnap;

static size_t snapshot_bind(void *blob, const KitSnap *s)
{
    size_t B = (size_t)s->B, T = (size_t)s->T;
    size_t size = sizeof(FtSnap) + (B + B * T + RUN_COUNT * B) * 4 + B * T;
    if (!blob) return size;
    FtSnap *w = blob;
    w->labels = (int32_t *)(w + 1);
    w->ids = w->labels + B;
    w->p = (float *)(w->ids + B * T);
    w->mask = (uint8_t *)(w->p + RUN_COUNT * B);
    return size;
}

static void snapshot_fill(void *blob, const Run *r, int focus)
{
    FtSnap *w = blob;
    const Finetune *m = KIT_SELF(r, Finetune);
    const FtBatch *b = &m->batch;
    size_t B = (size_t)r->B, T = (size_t)r->T;
    w->run = m->run;
    w->nbudget = m->nbudget;
    memcpy(w->budget_count, m->budget_count, sizeof w->budget_count);
    for (int run = 0; run < RUN_COUNT; run++)
        for (int t = 0; t < 2; t++)
            for (int q = 0; q < 2; q++) w->confusion[run][t][q] = m->held[finetune_cell(run, t, q)];
    w->confusion_step = m->held[FT_HELD_STEP];
    snprintf(w->pre, sizeof w->pre, "fmlab-%s%s, %ld steps%s", m->pre.lesson,
             m->pre.model.cfg.kind == MODEL_ELECTRA_DISC ? "'s discriminator" : "", m->pre.step,
             r->opt.model_file ? "" : " (built once, cached)");
    snprintf(w->pre_path, sizeof w->pre_path, "%s", m->pre.path);
    memcpy(w->labels, b->labels, B * 4);
    memcpy(w->ids, b->ids, B * T * 4);
    memcpy(w->mask, b->mask, B * T);
    for (int run = 0; run < RUN_COUNT; run++) memcpy(w->p + run * B, m->p_spam[run], B * 4);
    snprintf(w->shown, sizeof w->shown, "%s", m->train.shown[b->msg[focus]]);
}

static void headline(const KitFrame *f, char *buf, size_t n)
{
    const FtSnap *w = f->snap;
    size_t len = (size_t)snprintf(buf, n, "%d labels · held-out", w->nbudget);
    for (int run = 0; run < RUN_COUNT && len < n; run++) {
        char col[48];
        snprintf(col, sizeof col, "eval_%s_accuracy", finetune_run_names[run]);
        double a = kit_last_value(f->s, col);
        if (isnan(a)) len += (size_t)snprintf(buf + len, n - len, " %s –", RUN_NAME[run]);
        else len += (size_t)snprintf(buf + len, n - len, " %s %.0f%%", RUN_NAME[run], 100 * a);
    }
}

/* ------------------------------------------------------------------- panels ---- */

/* The focus message as the model reads it, and [CLS]'s attention in the enlarged head. */
static void message_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const FtSnap *w = f->snap;
    int T = s->T, lh = viz_text_height(v, FONT_SANS, 10);
    const int32_t *ids = w->ids + (size_t)s->focus * T;
    const uint8_t *mask = w->mask + (size_t)s->focus * T;
    int n = 0;
    while (n < T && mask[n]) n++;
    int shown = n < T ? n + 1 : T;   /* the first [PAD] stands for the rest */
    const char *names[512], *under[512];
    VizColor fills[512], bars[512];
    char pos[512][8];
    const KitAttn *a = s->nattn ? &s->attn[f->ui->attn < s->nattn ? f->ui->attn : 0] : NULL;
    int layer = f->ui->layer, head = f->ui->head;
    bool att = a && s->have_forward && layer < a->L && head < a->NH;
    const float *row = att ? a->p + ((size_t)layer * a->NH + head) * T * T : NULL;   /* query 0: [CLS] */
    float mx = 1e-6f;
    for (int t = 0; row && t < shown; t++) mx = row[t] > mx ? row[t] : mx;
    for (int t = 0; t < shown && t < 512; t++) {
        names[t] = t == n ? (T - n > 1 ? "[PAD]…" : "[PAD]") : kit_token(s, ids[t]);
        fills[t] = t >= n ? PAD : vocab_is_special(ids[t]) ? SPECIAL : WORD;
        snprintf(pos[t], sizeof pos[t], "%d", t);
        under[t] = pos[t];
        bars[t] = row ? viz_mix(VIZ_PANEL, VIZ_ACCENT[3], row[t] / mx) : VIZ_PANEL;
    }
    int label = w->labels[s->focus];
    char head_line[200];
    snprintf(head_line, sizeof head_line, "message %d of the batch: %s", s->focus + 1, label ? "spam" : "ham");
    int y = c.y;
    viz_text_fit(v, c.x, y, c.w, head_line, FONT_SANS, 11, label ? SPAM : HAM);
    y += lh + viz_px(v, 3);
    float size = 10;   /* the whole message, [SEP] included, at the largest size that fits */
    while (size > 6 && viz_tokens_under_height(v, c.w, names, shown, size, under, row != NULL) > c.y + c.h - y) size -= 0.5f;
    int hover = -1;
    y += viz_tokens_under(v, (VizRect){c.x, y, c.w, c.y + c.h - y}, names, fills, shown, size, under, row ? bars : NULL, NULL,
                          &hover) + viz_px(v, 4);
    if (hover >= 0 && hover < shown)
        viz_tooltip(v, "position %d: \"%s\"%s; [CLS] gives it %.3f of its attention (%s, layer %d, head %d)", hover,
                    names[hover], hover >= n ? " (padding: attention_mask 0, never attended)" : "",
                    row ? (double)row[hover] : 0.0, a ? a->name : "", layer + 1, head + 1);
    char legend[240];
    snprintf(legend, sizeof legend,
             "The band under each token: the attention [CLS] pays it (%s, layer %d, head %d; click a map to choose). "
             "Only [CLS] goes on to the pooler and the classifier.", a ? a->name : "", layer + 1, head + 1);
    if (y < c.y + c.h) y += viz_text_wrap(v, c.x, y, c.w, legend, FONT_SANS, 10, VIZ_DIM) + viz_px(v, 4);
    char text[MESSAGES_SHOWN + 40];
    snprintf(text, sizeof text, "The text: \"%s…\"", w->shown);
    if (y < c.y + c.h) viz_text_wrap(v, c.x, y, c.w, text, FONT_SANS, 10, VIZ_TEXT);
}

/* One row per message of the batch: label, first words, P(spam) of each run as a bar. */
static void batch_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const FtSnap *w = f->snap;
    int B = s->B, T = s->T, lh = viz_text_height(v, FONT_MONO, 10), pad = viz_px(v, 2);
    int head_h = lh + pad;
    int label_w = viz_text_width(v, "spam", FONT_MONO, 10) + 2 * pad;
    int bar_w = c.w / 7 > viz_px(v, 24) ? c.w / 7 : viz_px(v, 24);
    int text_w = c.w - label_w - RUN_COUNT * (bar_w + pad) - 2 * pad;
    int y = c.y;
    /* the column heads, in the runs' colours */
    viz_text(v, c.x, y, "label", FONT_SANS, 9, VIZ_DIM, ALIGN_LEFT);
    viz_text(v, c.x + label_w + pad, y, "the message (first tokens)", FONT_SANS, 9, VIZ_DIM, ALIGN_LEFT);
    for (int run = 0; run < RUN_COUNT; run++)
        viz_text_fit(v, c.x + c.w - (RUN_COUNT - run) * (bar_w + pad), y, bar_w, RUN_NAME[run], FONT_SANS, 9,
                     VIZ_ACCENT[RUN_ACCENT[run]]);
    y += head_h;
    int rows = (c.y + c.h - y) / (lh + pad);
    if (rows > B) rows = B;
    if (rows < 1) return;
    /* the focus message stays in view */
    int first = s->focus >= rows ? s->focus - rows + 1 : 0;
    for (int k = 0; k < rows; k++) {
        int i = first + k, yy = y + k * (lh + pad);
        const int32_t *ids = w->ids + (size_t)i * T;
        const uint8_t *mask = w->mask + (size_t)i * T;
        VizRect line = {c.x, yy, c.w, lh};
        if (i == s->focus) viz_fill(v, line, viz_mix(VIZ_PANEL, VIZ_TEXT, 0.12f));
        viz_text(v, c.x + pad, yy, w->labels[i] ? "spam" : "ham", FONT_MONO, 10, w->labels[i] ? SPAM : HAM, ALIGN_LEFT);
        char words[400];
        size_t len = 0;
        words[0] = 0;
        for (int t = 1; t < T && mask[t] && ids[t] != TOK_SEP && len < sizeof words - 40; t++) {
            const char *tok = kit_token(s, ids[t]);
            bool cont = !strncmp(tok, "##", 2);
            len += (size_t)snprintf(words + len, sizeof words - len, "%s%s", cont || !len ? "" : " ", cont ? tok + 2 : tok);
        }
        viz_text_fit(v, c.x + label_w + pad, yy, text_w, words, FONT_MONO, 10, VIZ_TEXT);
        for (int run = 0; run < RUN_COUNT; run++) {
            float p = w->p[(size_t)run * B + i];
            bool right = (p > 0.5f) == (w->labels[i] == 1);
            VizRect bar = {c.x + c.w - (RUN_COUNT - run) * (bar_w + pad), yy + 1, bar_w, lh - 2};
            viz_fill(v, (VizRect){bar.x, bar.y, (int)(bar.w * p), bar.h}, viz_mix(VIZ_PANEL, VIZ_ACCENT[RUN_ACCENT[run]], 0.7f));
            viz_frame(v, bar, right ? VIZ_DIM : SPAM);
            char num[16];
            snprintf(num, sizeof num, "%.2f", (double)p);
            viz_text(v, bar.x + bar.w - pad, yy, num, FONT_MONO, 9, VIZ_TEXT, ALIGN_RIGHT);
        }
        if (viz_hover(v, line))
            viz_tooltip(v, "message %d, %s: P(spam) fine-tune %.3f, probe %.3f, scratch %.3f (a red frame: that run is wrong)",
                        i + 1, w->labels[i] ? "spam" : "ham", (double)w->p[i], (double)w->p[B + i], (double)w->p[2 * B + i]);
    }
    if (rows < B && y + rows * (lh + pad) + lh <= c.y + c.h)
        viz_text(v, c.x, y + rows * (lh + pad), "(more below: Tab picks the message; Z enlarges)", FONT_SANS, 9, VIZ_DIM,
                 ALIGN_LEFT);
}

/* Each run's confusion matrix on the held-out messages, the budget and the encoder's origin. */
static void heldout_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const FtSnap *w = f->snap;
    int lh = viz_text_height(v, FONT_SANS, 10), pad = viz_px(v, 4), y = c.y;
    char line[700];
    snprintf(line, sizeof line, "Labelled training messages: %d (%d ham, %d spam), the same for the three runs. "
             "K: 16 → 64 → 256 → all.", w->nbudget, w->budget_count[0], w->budget_count[1]);
    y += viz_text_wrap(v, c.x, y, c.w, line, FONT_SANS, 10, VIZ_TEXT) + pad / 2;
    snprintf(line, sizeof line, "Pretrained encoder: %s", w->pre);
    y += viz_text_wrap(v, c.x, y, c.w, line, FONT_SANS, 10, VIZ_TEXT);
    if (viz_hover(v, (VizRect){c.x, y - lh, c.w, lh})) viz_tooltip(v, "%s", w->pre_path);
    y += pad;
    if (!w->confusion_step) y += viz_text_wrap(v, c.x, y, c.w, "The held-out confusion matrices appear at the first "
                                               "evaluation (every eval_every steps).", FONT_SANS, 10, VIZ_DIM) + pad;
    /* per run: its name and accuracy, then the 2 × 2 counts (rows: the true label; columns:
       what the run said), each cell as tall as a line and as wide as the column allows */
    int cw = (c.w - 2 * pad) / RUN_COUNT, lab = viz_text_width(v, "spam ", FONT_SANS, 9);
    int cell_w = (cw - lab - pad) / 2, cell_h = lh + pad, small = viz_text_height(v, FONT_SANS, 8);
    bool matrices = w->confusion_step && cell_w >= viz_text_width(v, "700", FONT_MONO, 10) + pad &&
                    y + lh + small + 2 * cell_h <= c.y + c.h;
    for (int run = 0; matrices && run < RUN_COUNT; run++) {
        int x0 = c.x + run * (cw + pad), yy = y;
        int total = 0, right = 0;
        for (int t = 0; t < 2; t++)
            for (int p = 0; p < 2; p++) total += (int)w->confusion[run][t][p], right += t == p ? (int)w->confusion[run][t][p] : 0;
        snprintf(line, sizeof line, "%s %.1f%%", RUN_NAME[run], total ? 100.0 * right / total : 0.0);
        viz_text_fit(v, x0, yy, cw, line, FONT_SANS, 10, VIZ_ACCENT[RUN_ACCENT[run]]);
        yy += lh;
        int lx = x0 + lab;
        viz_text_fit(v, lx, yy, cell_w, "said ham", FONT_SANS, 8, VIZ_DIM);
        viz_text_fit(v, lx + cell_w, yy, cell_w, "said spam", FONT_SANS, 8, VIZ_DIM);
        yy += small;
        for (int t = 0; t < 2; t++) {
            viz_text(v, x0, yy + t * cell_h + (cell_h - lh) / 2, t ? "spam" : "ham", FONT_SANS, 9, t ? SPAM : HAM, ALIGN_LEFT);
            for (int p = 0; p < 2; p++) {
                VizRect r = {lx + p * cell_w, yy + t * cell_h, cell_w - 2, cell_h - 2};
                int k = (int)w->confusion[run][t][p], row = (int)(w->confusion[run][t][0] + w->confusion[run][t][1]);
                float share = row ? (float)k / (float)row : 0;
                viz_fill(v, r, viz_mix(VIZ_PANEL, VIZ_TEXT, share * 0.45f));   /* the share of the row */
                if (t == p) viz_frame(v, r, VIZ_TEXT);                          /* right answers: the diagonal */
                char num[16];
                snprintf(num, sizeof num, "%d", k);
                viz_text(v, r.x + r.w / 2, r.y + (r.h - lh) / 2, num, FONT_MONO, 10, VIZ_TEXT, ALIGN_CENTER);
                if (viz_hover(v, r))
                    viz_tooltip(v, "%s: %d of the %d held-out %s messages were called %s (step %lld)", RUN_NAME[run], k, row,
                                t ? "spam" : "ham", p ? "spam" : "ham", (long long)w->confusion_step);
            }
        }
    }
    if (matrices) y += lh + small + 2 * cell_h + pad;
    snprintf(line, sizeof line, "Exported (--export, E): %s. X chooses another.", RUN_NAME[w->run]);
    if (y + lh <= c.y + c.h) y += viz_text_wrap(v, c.x, y, c.w, line, FONT_SANS, 10, VIZ_DIM);
    /* the stored experiment (tests/bench/finetune_finding) at this budget, beside the live runs */
    const KitFinding *fd = f->s->finding;
    char row[16];
    int budget = (int)kit_snap_value(f->s, "labels");
    snprintf(row, sizeof row, budget <= 0 || budget >= 2804 ? "all" : "%d", budget);
    double a[RUN_COUNT];
    for (int run = 0; run < RUN_COUNT; run++) {
        char col[48];
        snprintf(col, sizeof col, "eval_%s_accuracy", finetune_run_names[run]);
        a[run] = kit_finding(fd, row, col);
    }
    if (!isnan(a[0]))
        snprintf(line, sizeof line, "Measured with %s labels (tests/bench/finetune_finding: %g seeds, %g steps, encoder "
                 "pretrained %g steps): fine-tune %.0f%%, probe %.0f%%, scratch %.0f%%.", row, kit_finding(fd, row, "seeds"),
                 kit_finding(fd, row, "steps"), kit_finding(fd, row, "pretrain_steps"), 100 * a[0], 100 * a[1], 100 * a[2]);
    else snprintf(line, sizeof line, "No stored measurement for %s labels (tests/bench/finetune_finding --write makes "
                  "them for 16, 64, 256 and all).", row);
    if (y + lh <= c.y + c.h) viz_text_wrap(v, c.x, y, c.w, line, FONT_SANS, 10, VIZ_ACCENT[3]);
}

/* The probe: a typed message, P(spam) of the three runs. */
static void probe_panel(Viz *v, VizRect c, const KitFrame *f)
{
    const KitSnap *s = f->s;
    const FtProbe *pr = f->ui->probe_result;
    if (!pr || pr->len == 0) {
        viz_text_wrap(v, c.x, c.y, c.w, "Type a message (a subject line, an offer, a note to a friend), then Enter: "
                      "P(spam) from each of the three runs (fine-tune, the linear probe, scratch).", FONT_SANS, 11, VIZ_DIM);
        return;
    }
    const char *names[FT_PROBE_MAX];
    VizColor fills[FT_PROBE_MAX];
    for (int i = 0; i < pr->len; i++) {
        names[i] = kit_token(s, pr->ids[i]);
        fills[i] = vocab_is_special(pr->ids[i]) ? SPECIAL : WORD;
    }
    int lh = viz_text_height(v, FONT_SANS, 11), gap = viz_px(v, 4), y = c.y;
    for (int run = 0; run < RUN_COUNT; run++) {
        char head[96];
        snprintf(head, sizeof head, "%s: P(spam) = %.2f", run == RUN_PROBE ? "linear probe" : RUN_NAME[run], (double)pr->p[run]);
        viz_text_fit(v, c.x, y, c.w / 2 - gap, head, FONT_SANS, 11, VIZ_ACCENT[RUN_ACCENT[run]]);
        viz_fill(v, (VizRect){c.x + c.w / 2, y + lh / 4, (int)(c.w / 2 * pr->p[run]), lh / 2}, VIZ_ACCENT[RUN_ACCENT[run]]);
        viz_frame(v, (VizRect){c.x + c.w / 2, y + lh / 4, c.w / 2, lh / 2}, VIZ_DIM);
        y += lh;
    }
    y += gap;
    int hover;
    y += viz_tokens(v, (VizRect){c.x, y, c.w, c.y + c.h - y}, names, fills, pr->len, 10, &hover) + gap;
    if (hover >= 0) viz_tooltip(v, "position %d: \"%s\"", hover, names[hover]);
    if (pr->cut && y < c.y + c.h)
        viz_text_wrap(v, c.x, y, c.w, "The message was cut to seq_len tokens: the models read no further.", FONT_SANS, 10,
                      VIZ_ACCENT[3]);
}

static void probe_run(Run *r, Model *model, const char *text, void *result)
{
    (void)model; /* the three runs answer */
    finetune_probe(r, text, result);
}

/* ------------------------------------------------------------- description ---- */

static const KitPanel panels[] = {
    {"The message: [CLS] message [SEP], and what [CLS] attends to", message_panel, 30, 0, "The message"},
    {"The batch: label, first words, P(spam) of each run", batch_panel, 40, 0, "The batch"},
    {"Held-out: each run's confusion matrix (700 messages)", heldout_panel, 34, 0, "Held-out"},
    {"Try a message: type it, then Enter (Esc leaves)", probe_panel, 30, KIT_PANEL_PROBE, "Try a message"},
};

static const char *const acc_cols[] = {"eval_finetune_accuracy", "eval_probe_accuracy", "eval_scratch_accuracy", NULL};
static const char *const loss_cols[] = {"eval_finetune_loss", "eval_probe_loss", "eval_scratch_loss", NULL};
static const char *const train_cols[] = {"finetune_loss", "probe_loss", "scratch_loss", NULL};

static const KitCurve curves[] = {
    {.title = "Held-out accuracy of the three runs", .ylabel = "accuracy", .ref = REF_CHANCE_ACCURACY,
     .ref_name = "chance (50%)", .bounded = true, .lo = 0, .hi = 1, .short_title = "Held-out accuracy",
     .series = acc_cols, .series_name = RUN_NAME, .series_color = RUN_ACCENT, .series_points = true},
    {.title = "Held-out loss of the three runs (nats)", .ylabel = "cross-entropy", .ref = REF_CHANCE_LOSS,
     .ref_name = "chance (ln 2)", .short_title = "Held-out loss", .series = loss_cols, .series_name = RUN_NAME,
     .series_color = RUN_ACCENT, .series_points = true},
    {.title = "Training loss of the three runs, on each batch (nats)", .ylabel = "cross-entropy", .ref = REF_CHANCE_LOSS,
     .ref_name = "chance (ln 2)", .short_title = "Training loss", .series = train_cols, .series_name = RUN_NAME,
     .series_color = RUN_ACCENT},
};

static const double label_budgets[] = {16, 64, 256, 0};

static const KitKey keys[] = {
    {'k', "labels", 0, "labelled messages: 16 → 64 → 256 → all", label_budgets, 4},
    {'x', "run", +1, "the run exported: fine-tune → probe → scratch", NULL, 0},
};

const LessonView finetune_view = {
    .snapshot_bind = snapshot_bind,
    .snapshot_fill = snapshot_fill,
    .headline = headline,
    .panels = panels,
    .npanels = 4,
    .curves = curves,
    .ncurves = 3,
    .keys = keys,
    .nkeys = (int)(sizeof keys / sizeof keys[0]),
    .probe = probe_run,
    .probe_size = sizeof(FtProbe),
    .probe_help = "type a message: P(spam) from each run",
    .item = "message",
};
