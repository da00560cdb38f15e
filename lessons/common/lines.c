/* lines.c — text blocks for lessons' panels that must never draw a line cut (view.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lessons/common/view.h"

/* n with thousands separators (109,482,240), in one of a ring of buffers: several in one
 * printf (the UI thread's own) */
const char *kit_count(int64_t n)
{
    static char ring[24][32];
    static int at;
    char *out = ring[at++ % 24], digits[32];
    snprintf(digits, sizeof digits, "%lld", (long long)(n < 0 ? -n : n));
    int len = (int)strlen(digits), k = 0;
    if (n < 0) out[k++] = '-';
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0) out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = 0;
    return out;
}

/* Text wrapped at c's width from *y, if all of it fits above c's bottom: nothing is drawn
 * cut. Returns whether it was drawn. */
bool kit_put(Viz *v, VizRect c, int *y, const char *text, VizFont font, float size, VizColor color)
{
    int h = viz_text_wrap_height(v, c.w, text, font, size);
    if (*y + h > c.y + c.h) return false;
    *y += viz_text_wrap(v, c.x, *y, c.w, text, font, size, color);
    return true;
}

/* KitLines of text, each in its font and colour (a bold one starts a paragraph), and under
 * some of them a bar (when bars is set): a share of the width, in two parts split at
 * split (1: one part). */


void kit_lines_add(KitLines *l, VizFont font, VizColor color, const char *fmt, ...)
{
    if (l->n >= (int)(sizeof l->text / sizeof l->text[0])) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->text[l->n], sizeof l->text[l->n], fmt, ap);
    va_end(ap);
    l->font[l->n] = font;
    l->bar[l->n] = -1;
    l->color[l->n++] = color;
}

/* a bar under the last line: share of the width, the first part's share of the bar */
void kit_lines_bar(KitLines *l, double share, double split)
{
    if (l->n < 1) return;
    l->bar[l->n - 1] = (float)share;
    l->split[l->n - 1] = (float)split;
}

static int lines_bar_height(Viz *v) { return viz_text_height(v, FONT_MONO, 10) * 3 / 4 + viz_px(v, 3); }

int kit_lines_height(Viz *v, int width, const KitLines *l)
{
    int h = 0;
    for (int i = 0; i < l->n; i++) {
        if (!l->bars && l->bar[i] <= -2) continue; /* a note on the bars */
        h += viz_text_wrap_height(v, width, l->text[i], l->font[i], 10) + (l->font[i] == FONT_BOLD && i ? viz_px(v, 3) : 0) +
             (l->bars && l->bar[i] >= 0 ? lines_bar_height(v) : 0);
    }
    return h;
}

/* Draws the lines that fit in c from *y, in order; returns how many. */
int kit_lines_draw(Viz *v, VizRect c, int *y, const KitLines *l)
{
    int i = 0;
    for (; i < l->n; i++) {
        if (!l->bars && l->bar[i] <= -2) continue; /* a note on the bars */
        int y0 = *y;
        if (l->font[i] == FONT_BOLD && i) *y += viz_px(v, 3);
        int bh = l->bars && l->bar[i] >= 0 ? lines_bar_height(v) : 0;
        if (*y + viz_text_wrap_height(v, c.w, l->text[i], l->font[i], 10) + bh > c.y + c.h ||
            !kit_put(v, c, y, l->text[i], l->font[i], 10, l->color[i])) {
            *y = y0;
            break;
        }
        if (bh) { /* the bar, in the line's colour; its second part lighter */
            int len = (int)(c.w * l->bar[i] + 0.5f), cut = (int)(len * l->split[i] + 0.5f);
            if (len < 2) len = 2;
            VizRect r = {c.x, *y + viz_px(v, 1), len, bh - viz_px(v, 3)};
            viz_fill(v, (VizRect){c.x, r.y, c.w, r.h}, viz_mix(VIZ_PANEL, VIZ_GRID, 0.5f));
            viz_fill(v, (VizRect){r.x, r.y, cut, r.h}, l->color[i]);
            if (cut < len) viz_fill(v, (VizRect){r.x + cut, r.y, len - cut, r.h}, viz_mix(l->color[i], VIZ_TEXT, 0.45f));
            *y += bh;
        }
    }
    return i;
}

/* "(Z enlarges …)" in the last line of c, when something did not fit */
void kit_more_hint(Viz *v, VizRect c, int y, const KitFrame *f, const char *what)
{
    int lh = viz_text_height(v, FONT_SANS, 9);
    char t[160];
    if (f->ui->zoom) snprintf(t, sizeof t, "(a larger window shows %s)", what);
    else snprintf(t, sizeof t, "(Z enlarges: %s)", what);
    if (y + lh <= c.y + c.h) viz_text_fit(v, c.x, y, c.w, t, FONT_SANS, 9, VIZ_DIM);
}

/* The text scale at which a panel's content fills its rectangle, up to 1.3 times the
 * window's: a panel with room to spare (Z, or a page of its own) is read from further away.
 * need(v, c, f) is the height of the content at v's scale. */
float kit_grow(Viz *v, VizRect c, const KitFrame *f, int (*need)(Viz *, VizRect, const KitFrame *))
{
    float keep = v->scale;
    for (int tenths = 3; tenths > 0; tenths--) {
        v->scale = keep * (1 + 0.1f * (float)tenths);
        int h = need(v, c, f);
        v->scale = keep;
        if (h <= c.h) return 1 + 0.1f * (float)tenths;
    }
    return 1;
}

void kit_draw_grown(Viz *v, VizRect c, const KitFrame *f, int (*draw)(Viz *, VizRect, const KitFrame *, bool))
{
    float keep = v->scale, grow = 1;
    for (int tenths = 3; tenths > 0 && grow == 1; tenths--) {
        v->scale = keep * (1 + 0.1f * (float)tenths);
        if (draw(v, c, f, false) <= c.h) grow = 1 + 0.1f * (float)tenths;
    }
    v->scale = keep * grow;
    draw(v, c, f, true);
    v->scale = keep;
}
