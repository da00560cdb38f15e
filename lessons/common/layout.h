/* layout.h — where the dashboard's panels go. The choice depends on the window's size in
 * design pixels (window pixels / text scale), so a projector's large text gets fewer, larger
 * panels rather than every panel squeezed unreadable:
 *
 *   wide     (≥ 1150 × 700)  three columns: the lesson's panels | attention | curves, notes
 *   compact  (≥ 800 × 500)   two columns: the lesson's panels | attention over the curves;
 *                            the notes on request (O)
 *   paged    (smaller)       one panel at a time under a row of tabs naming the panels
 *                            (as many as fit around the one shown); P / Shift+P (or a
 *                            click on a tab) turns to the next / previous
 *
 * and Z (or O for the notes) puts one panel on the whole body in any of them.
 * Panels are numbered from 1: the lesson's (1..nlesson), the attention, the curves, the word
 * order, the notes. A pure function of numbers: tested without a window (tests/test_layout.c). */
#ifndef FMLAB_LESSONS_LAYOUT_H
#define FMLAB_LESSONS_LAYOUT_H

#include <stdbool.h>

#include "viz/viz.h"

#define KIT_MAX_PANELS 24          /* lesson panels (at most 16) + attention + curves + 2 */
#define KIT_MAX_LESSON_PANELS 16
#define KIT_MAX_CURVES 7

typedef enum KitLayoutMode { KIT_LAYOUT_WIDE, KIT_LAYOUT_COMPACT, KIT_LAYOUT_PAGED } KitLayoutMode;

typedef struct KitLayoutSpec {
    int w, h;                      /* the window in pixels */
    float scale;                   /* text scale: design pixels are pixels / scale */
    int head_h, foot_h, gap;       /* header and footer strips, gap between panels (pixels) */
    int nlesson;                   /* the lesson's panels: ids 1..nlesson */
    const float *weight;           /* their shares of the lesson's column */
    unsigned hidden;               /* bit i: lesson panel i + 1 is not shown (a probe not in use) */
    int ncurves;                   /* curve panels (at most KIT_MAX_CURVES are placed) */
    int zoom;                      /* 0, or the id shown on the whole body (Z, O) */
    int page;                      /* paged: the id shown (0 or a hidden one: the first) */
    const int *tab_w;              /* paged: the width of each panel's tab (by id - 1), pixels */
    int tab_h;                     /* paged: the height of the row of tabs */
} KitLayoutSpec;

typedef struct KitLayout {
    KitLayoutMode mode;
    int n;                         /* panels placed */
    int id[KIT_MAX_PANELS];
    VizRect rect[KIT_MAX_PANELS];
    int npages;                    /* paged: every panel that can be shown, in order */
    int page_id[KIT_MAX_PANELS];
    int ntabs;                     /* paged (and not zoomed): the tabs in one row, the page's and
                                      as many of its neighbours' as fit */
    int tab_id[KIT_MAX_PANELS];
    VizRect tab[KIT_MAX_PANELS];
    int page;                      /* paged: the id on the page */
} KitLayout;

/* Panel ids of the kit's own panels. */
static inline int kit_panel_attention(int nlesson) { return nlesson + 1; }
static inline int kit_panel_curve(int nlesson, int i) { return nlesson + 2 + i; }
static inline int kit_panel_order(int nlesson, int ncurves) { return nlesson + 2 + ncurves; }
static inline int kit_panel_notes(int nlesson, int ncurves) { return nlesson + 3 + ncurves; }

KitLayoutMode kit_layout_mode(int w, int h, float scale);
void kit_layout(const KitLayoutSpec *spec, KitLayout *out);
/* The id of the panel at pixel (x, y), or 0 (header, footer, a gap, a tab). */
int kit_layout_panel_at(const KitLayout *l, int x, int y);
/* The id of the tab at (x, y), or 0. */
int kit_layout_tab_at(const KitLayout *l, int x, int y);
/* Paged: the page `dir` pages after (dir < 0: before) the one shown, wrapping around; else
 * the page unchanged. */
int kit_layout_turn(const KitLayout *l, int dir);

#endif
