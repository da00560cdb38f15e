/* main.c — fmlab-mlm's program: parse the command line (CLI.md), then either train headless
 * (progress on stderr, then save / export / screenshot as asked) or open the window. */
#include <stdio.h>
#include <stdlib.h>

#include "lesson.h"

static int headless(Mlm *L)
{
    char err[1024], what[256];
    double t0 = runtime_seconds();
    long total = L->opt.steps;
    for (long s = 0; s < total; s++) {
        mlm_next_batch(L);
        bool diverged;
        float loss = mlm_train_step(L, true, &diverged, what, sizeof what);
        if (diverged) {
            fprintf(stderr, "fmlab-mlm: training diverged at %s; try a lower --lr (now %g)\n", what, (double)L->opt.lr);
            return EXIT_DIVERGED;
        }
        runtime_progress(s + 1, total, loss, runtime_seconds() - t0);
    }
    if (L->opt.save && mlm_save(L, L->opt.save, err, sizeof err)) {
        fprintf(stderr, "fmlab-mlm: --save %s\n", err);
        return EXIT_USAGE;
    }
    if (L->opt.export_dir) {
        /* batch N+1: forward and backward without an update (EXPORT.md) */
        mlm_next_batch(L);
        bool diverged;
        mlm_train_step(L, false, &diverged, what, sizeof what);
        if (diverged) {
            fprintf(stderr, "fmlab-mlm: the exported batch diverged at %s\n", what);
            return EXIT_DIVERGED;
        }
        int rc = mlm_export(L, L->opt.export_dir, L->opt.no_screenshot ? NULL : "frame.png", err, sizeof err);
        if (rc) {
            fprintf(stderr, "fmlab-mlm: %s\n", err);
            return rc;
        }
    }
    if (L->opt.screenshot && mlm_render_png(L, L->opt.screenshot, L->opt.width, L->opt.height, L->opt.font_scale,
                                            err, sizeof err)) {
        fprintf(stderr, "fmlab-mlm: --screenshot %s\n", err);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    RunOptions o;
    int rc = runtime_parse(argc, argv, &mlm_info, &o);
    if (rc >= 0) return rc;
    char err[1024];
    /* everything the run will write is checked before any training, so that a bad path
       fails at once and nothing is left half-written */
    if (o.export_dir && export_check_target(o.export_dir, o.force, err, sizeof err))
        return runtime_usage_error(&mlm_info, "%s", err);
    if (o.save && check_writable(o.save, err, sizeof err)) return runtime_usage_error(&mlm_info, "--save %s", err);
    if (o.screenshot && check_writable(o.screenshot, err, sizeof err))
        return runtime_usage_error(&mlm_info, "--screenshot %s", err);
    static Mlm L;
    rc = mlm_init(&L, &o);
    if (rc >= 0) {
        mlm_free(&L);
        return rc;
    }
    rc = L.opt.headless ? headless(&L) : mlm_window(&L);
    mlm_free(&L);
    return rc;
}
