/* bench_window.c — a lesson's window targets, measured (a benchmark, not a timed test); built
 * once per lesson (LESSON is its name, e.g. -DLESSON=mlm):
 *   1. drawing the full dashboard offscreen (software renderer) after 100 training steps, at
 *      1280×800 (font scale 1) and 1920×1080 (font scales 1 and 2): median and 99th
 *      percentile ms per frame (targets: median <= 5 ms, p99 <= 10 ms);
 *   2. run mode with the dashboard drawn at 30 frames/s on this thread and training on a
 *      worker with the window's thread policy (every core but the one that draws), as in
 *      the window: optimizer steps per second (target >= 60), reported every 1000 steps
 *      (flat: the last thousand at least 90% of the rate of the second thousand);
 *   3. peak memory (target < 150 MB) and its growth over the run.
 *   bench_window_<lesson> [steps]   (default 10000) */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "lessons/common/view.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STR_(a) #a
#define STR(a) STR_(a)
#define LESSON_OBJ CAT(LESSON, _lesson)
#define LESSON_VIEW CAT(LESSON, _view)
extern const Lesson LESSON_OBJ;
extern const LessonView LESSON_VIEW;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double rss_mb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
        fclose(f);
    }
    return res * 4096.0 / 1048576.0;
}

static double peak_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static Run L;
static KitSnap view, shown;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_long done;
static long target;

/* the window's policy: every core but the one that draws */
static int window_threads(void) { return kit_window_threads(0); }

static void *trainer(void *arg)
{
    (void)arg;
    engine_set_threads(window_threads());
    char what[128];
    for (long s = 0; s < target; s++) {
        kit_next_batch(&L);
        bool div;
        kit_step(&L, true, &div, what, sizeof what);
        pthread_mutex_lock(&lock);
        kit_snap_fill(&view, &L, &LESSON_VIEW, 0);
        pthread_mutex_unlock(&lock);
        atomic_store(&done, s + 1);
    }
    return NULL;
}

/* Median and 99th percentile of FRAMES dashboard frames at w×h and font scale `scale`. */
static bool frame_times(int w, int h, float scale, KitUiState *ui)
{
    Viz v;
    char assets[4096], err[512];
    snprintf(assets, sizeof assets, "%s/assets", runtime_source_dir());
    if (viz_open_offscreen(&v, w, h, scale, assets, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return false;
    }
    enum { FRAMES = 300 };
    static double t[FRAMES];
    for (int i = -20; i < FRAMES; i++) {
        double t0 = now();
        viz_begin(&v);
        kit_draw(&v, &view, ui, &LESSON_VIEW);
        viz_end(&v);
        if (i >= 0) t[i] = (now() - t0) * 1e3;
    }
    viz_close(&v);
    qsort(t, FRAMES, sizeof *t, cmp);
    double med = t[FRAMES / 2], p99 = t[FRAMES * 99 / 100];
    bool met = med <= 5 && p99 <= 10;
    printf("fmlab-%s dashboard frame %dx%d font scale %.1f (offscreen, software renderer): median %.2f ms, "
           "99th percentile %.2f ms (targets: median <= 5, p99 <= 10): %s\n",
           STR(LESSON), w, h, (double)scale, med, p99, met ? "met" : "MISSED");
    return met;
}

int main(int argc, char **argv)
{
    target = argc > 1 ? atol(argv[1]) : 10000;
    RunOptions o;
    char *args[] = {"fmlab-" STR(LESSON), "--headless", NULL};
    if (runtime_parse(2, args, &LESSON_OBJ.info, &o) >= 0) return 1;
    if (kit_init(&L, &LESSON_OBJ, &o) >= 0) return 1;
    L.view = &LESSON_VIEW;
    if (kit_snap_init(&view, &L, &LESSON_VIEW) || kit_snap_init(&shown, &L, &LESSON_VIEW)) return 1;
    char what[128], err[512];
    engine_set_threads(window_threads()); /* as the window: this thread never trains on all cores */
    for (int s = 0; s < 100; s++) {
        kit_next_batch(&L);
        bool div;
        kit_step(&L, true, &div, what, sizeof what);
    }
    kit_snap_fill(&view, &L, &LESSON_VIEW, 0);
    KitUiState ui = {0};
    ui.notes = kit_notes(&LESSON_OBJ.info, 0);
    ui.steps_per_frame = 1;
    bool met = frame_times(1280, 800, 1.0f, &ui);
    met &= frame_times(1920, 1080, 1.0f, &ui);
    met &= frame_times(1920, 1080, 2.0f, &ui);
    Viz v;
    char assets[4096];
    snprintf(assets, sizeof assets, "%s/assets", runtime_source_dir());
    if (viz_open_offscreen(&v, 1280, 800, 1.0f, assets, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }

    /* run mode: training on a worker, the dashboard drawn at 30 frames per second here */
    double rss_start = rss_mb();
    pthread_t th;
    double t0 = now(), t_mark = t0, rate_2nd = 0, rate_last = 0;
    pthread_create(&th, NULL, trainer, NULL);
    long frames = 0, next_report = 1000;
    double rss_at_1000 = 0, rss_last = 0;
    bool draw = !getenv("BENCH_NO_DRAW"); /* to see the training alone */
    for (;;) {
        long d = atomic_load(&done);
        if (d >= next_report || d >= target) { /* the rate over the last thousand steps */
            double tn = now(), r = 1000 / (tn - t_mark);
            t_mark = tn;
            rss_last = rss_mb();
            if (next_report == 1000) rss_at_1000 = rss_last;
            if (next_report == 2000) rate_2nd = r;
            rate_last = r;
            printf("  step %6ld: %.1f steps/s over the last 1000, %.1f frames/s, resident %.1f MB\n", d, r,
                   frames / (tn - t0), rss_last);
            fflush(stdout);
            next_report += 1000;
        }
        if (d >= target) break;
        double f0 = now();
        if (draw) {
            pthread_mutex_lock(&lock); /* as the window does: take a copy, draw it unlocked */
            kit_snap_copy(&shown, &view, &LESSON_VIEW);
            pthread_mutex_unlock(&lock);
            viz_begin(&v);
            kit_draw(&v, &shown, &ui, &LESSON_VIEW);
            viz_end(&v);
            frames++;
        }
        double spare = 1.0 / 30 - (now() - f0);
        if (spare > 0) {
            struct timespec ts = {0, (long)(spare * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    pthread_join(th, NULL);
    double secs = now() - t0, rate = target / secs;
    bool flat = target < 3000 || rate_last >= 0.9 * rate_2nd;
    printf("fmlab-%s run mode with the dashboard drawn (%d engine thread%s, as the window uses): %.1f steps/s, "
           "%.1f frames/s over %ld steps (target >= 60 steps/s): %s; last thousand at %.0f%% of the second: %s\n",
           STR(LESSON), window_threads(), window_threads() == 1 ? "" : "s", rate, frames / secs, target,
           rate >= 60 ? "met" : "MISSED", rate_2nd > 0 ? 100 * rate_last / rate_2nd : 100.0, flat ? "flat" : "SLOWING");
    double peak = peak_mb();
    printf("memory: peak resident %.1f MB (target < 150 MB): %s; resident %.1f MB at start of the run, %.1f MB at step "
           "1000, %.1f MB at the end\n", peak, peak < 150 ? "met" : "MISSED", rss_start, rss_at_1000, rss_last);
    viz_close(&v);
    kit_snap_free(&view);
    kit_snap_free(&shown);
    kit_free(&L);
    return met && rate >= 60 && flat && peak < 150 ? 0 : 1;
}
