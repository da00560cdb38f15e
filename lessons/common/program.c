/* program.c — kit_main: the whole of CLI.md for any lesson. Parse the flags, check every
 * destination before training, then train headless (progress on stderr, a summary on
 * stdout, then save / export / screenshot as asked) or hand the run to the window. */
#define _GNU_SOURCE /* realpath */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lessons/common/kit.h"

/* The held-out figures of row i: "loss 4.1234, accuracy 12.3%" (eval_loss and eval_accuracy),
 * else every eval_* column by its name ("finetune_accuracy 76.7%"), accuracies in percent.
 * False when the row was not an evaluation. */
static bool eval_figures(const Metrics *m, long i, char *buf, size_t n)
{
    int cl = metrics_col(m, "eval_loss"), ca = metrics_col(m, "eval_accuracy");
    buf[0] = 0;
    if (cl >= 0) {
        if (isnan(metrics_get(m, i, cl))) return false;
        int k = snprintf(buf, n, "loss %.4f", (double)metrics_get(m, i, cl));
        if (ca >= 0 && k > 0 && (size_t)k < n) snprintf(buf + k, n - (size_t)k, ", accuracy %.1f%%", 100.0 * metrics_get(m, i, ca));
        return true;
    }
    size_t k = 0;
    for (int c = 0; c < m->ncols && k < n; c++) {
        const char *name = m->names[c];
        if (strncmp(name, "eval_", 5) || isnan(metrics_get(m, i, c))) continue;
        double v = metrics_get(m, i, c);
        bool acc = strstr(name, "accuracy") != NULL;
        k += (size_t)snprintf(buf + k, n - k, acc ? "%s%s %.1f%%" : "%s%s %.4f", k ? ", " : "", name + 5, acc ? 100 * v : v);
    }
    return k > 0;
}

/* The held-out figures of the newest row, if it has them: a line at each evaluation. */
static void print_eval(const Run *r, FILE *f, const char *lead)
{
    const Metrics *m = &r->metrics;
    char line[1024];
    if (!m->rows || !eval_figures(m, m->rows - 1, line, sizeof line)) return;
    fprintf(f, "%sstep %ld: held-out %s\n", lead, r->step, line);
}

static void print_path(const char *what, const char *path)
{
    char *abs = realpath(path, NULL);
    printf("  %-11s %s\n", what, abs ? abs : path);
    free(abs);
}

/* What a headless run ends with on stdout: the final figures and every file written. */
static void summary(const Run *r)
{
    const Lesson *l = r->lesson;
    printf("%s: %ld steps, seed %llu\n", kit_prog(r), r->step, (unsigned long long)r->opt.seed);
    const Metrics *m = &r->metrics;
    if (m->rows) {
        long last = m->rows - 1;
        printf("  last step:  loss %.4f", (double)metrics_get(m, last, 0));
        for (int i = 0; i < l->nparts; i++) printf(", %s %.4f", l->parts[i], (double)metrics_get(m, last, 1 + i));
        int ca = metrics_col(m, "accuracy");
        if (ca >= 0) printf(", accuracy %.1f%%", 100.0 * metrics_get(m, last, ca));
        printf("\n");
        char line[1024];
        for (long i = last; i >= 0; i--)
            if (eval_figures(m, i, line, sizeof line)) {
                printf("  held-out:   %s (at step %ld)\n", line, i + 1);
                break;
            }
    }
    if (r->order_found)
        printf("  %s: found at step %ld (layer %d head %d, %.2f on the %s token)\n",
               kit_order_meaning(r->lesson, r->order_dir, true), r->order_found, r->order_layer + 1, r->order_head + 1,
               (double)r->order_share, r->order_dir < 0 ? "previous" : "next");
    else if (r->order_rows) {
        float best = 0;
        for (int l = 0; l < r->order_cols; l++) best = fmaxf(best, r->order[(r->order_rows - 1) * r->order_cols + l]);
        printf("  word order: not yet (the most positional head puts %.2f on a neighbour; %.2f is found)\n", (double)best,
               (double)KIT_ORDER_FOUND);
    }
    if (r->opt.export_dir) print_path("export:", r->opt.export_dir);
    if (r->opt.save) print_path("checkpoint:", r->opt.save);
    if (r->opt.screenshot) print_path("screenshot:", r->opt.screenshot);
}

static int headless(Run *r, const KitUi *ui)
{
    const char *prog = kit_prog(r);
    char err[1024], what[256];
    double t0 = runtime_seconds();
    long total = r->opt.steps, found = r->order_found;
    for (long s = 0; s < total; s++) {
        kit_next_batch(r);
        bool diverged;
        float loss = kit_step(r, true, &diverged, what, sizeof what);
        if (diverged) {
            runtime_message(prog, "training diverged at %s; try a lower --lr (now %g)", what, (double)r->opt.lr);
            return EXIT_DIVERGED;
        }
        runtime_progress(s + 1, total, loss, runtime_seconds() - t0);
        print_eval(r, stderr, isatty(STDERR_FILENO) ? "\r\033[K" : "");
        if (r->order_found != found) { /* the window's word-order breakpoint, as a line */
            found = r->order_found;
            fprintf(stderr, "%sstep %ld: %s found: layer %d head %d puts %.2f of its attention on the %s token\n",
                    isatty(STDERR_FILENO) ? "\r\033[K" : "", found, kit_order_meaning(r->lesson, r->order_dir, true),
                    r->order_layer + 1, r->order_head + 1, (double)r->order_share, r->order_dir < 0 ? "previous" : "next");
        }
    }
    if (r->opt.save && kit_save(r, r->opt.save, err, sizeof err)) {
        runtime_message(prog, "--save %s", err);
        return EXIT_USAGE;
    }
    KitRenderFn render = ui ? ui->render_png : NULL;
    if (r->opt.export_dir) {
        /* batch N+1: forward and backward without an update (EXPORT.md) */
        kit_next_batch(r);
        bool diverged;
        kit_step(r, false, &diverged, what, sizeof what);
        if (diverged) {
            runtime_message(prog, "the exported batch diverged at %s", what);
            return EXIT_DIVERGED;
        }
        if (kit_export(r, r->opt.export_dir, r->opt.no_screenshot ? NULL : render, err, sizeof err)) {
            runtime_message(prog, "%s", err);
            return EXIT_USAGE;
        }
    }
    if (r->opt.screenshot) {
        if (!render) {
            runtime_message(prog, "--screenshot needs a build with the window (SDL2)");
            return EXIT_USAGE;
        }
        if (render(r, r->opt.screenshot, err, sizeof err)) {
            runtime_message(prog, "--screenshot %s", err);
            return EXIT_USAGE;
        }
    }
    summary(r);
    return EXIT_OK;
}

int kit_main(const Lesson *l, const KitUi *ui, int argc, char **argv)
{
    RunOptions o;
    int rc = runtime_parse(argc, argv, &l->info, &o);
    if (rc >= 0) return rc;
    if (o.describe) {
        kit_describe(l, stdout);
        return EXIT_OK;
    }
    char err[1024];
    /* everything the run will write is checked before any training, so that a bad path
       fails at once and nothing is left half-written */
    if (o.export_dir && export_check_target(o.export_dir, o.force, err, sizeof err))
        return runtime_usage_error(&l->info, "%s", err);
    if (o.save && check_writable(o.save, err, sizeof err)) return runtime_usage_error(&l->info, "--save %s", err);
    if (o.screenshot && check_writable(o.screenshot, err, sizeof err))
        return runtime_usage_error(&l->info, "--screenshot %s", err);
    static Run r;
    rc = kit_init(&r, l, &o);
    if (rc < 0) {
        r.view = ui ? ui->view : NULL;
        if (r.opt.headless) rc = headless(&r, ui);
        else if (ui && ui->window) rc = ui->window(&r, ui->view);
        else rc = runtime_usage_error(&l->info, "this build has no window (SDL2); run it with --headless");
    }
    kit_free(&r);
    return rc;
}
