/* panels.c — fmlab-xlnet's window. */
#include "lessons/common/view.h"
#include "lessons/xlnet/lesson.h"

static size_t snapshot_bind(void *snap, const KitSnap *s)
{
    (void)snap, (void)s;
    return 1;
}
static void snapshot_fill(void *snap, const Run *r, int focus) { (void)snap, (void)r, (void)focus; }
static void headline(const KitFrame *f, char *buf, size_t n) { (void)f, (void)buf, (void)n; }

static const KitCurve curves[] = {
    {.title = "Loss on the same target positions (nats)", .ylabel = "cross-entropy", .train = "plm",
     .heldout = "eval_loss", .ref = REF_UNIGRAM_ENTROPY, .ref_name = "unigram (frequencies)", .short_title = "Loss"},
};

const LessonView xlnet_view = {
    .snapshot_bind = snapshot_bind,
    .snapshot_fill = snapshot_fill,
    .headline = headline,
    .curves = curves,
    .ncurves = 1,
    .probe = xlnet_probe,
    .probe_size = sizeof(XlnetProbe),
};
