/* lessontest.h — a lesson's run for its unit tests: kit_init from a command line, as the
 * program would start headless. */
#ifndef FMLAB_LESSONTEST_H
#define FMLAB_LESSONTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"
#include "lessons/common/kit.h"

/* fmlab-<name> --headless, then the flags of `pre` and of `flags` (each NULL-terminated, or
 * NULL): the run, which must start. */
static inline Run *lesson_start(const Lesson *l, const char *const *pre, const char *const *flags)
{
    RunOptions o;
    char prog[64];
    snprintf(prog, sizeof prog, "fmlab-%s", l->info.name);
    char *argv[32] = {prog, "--headless"};
    int argc = 2;
    for (int i = 0; pre && pre[i] && argc < 31; i++) argv[argc++] = (char *)pre[i];
    for (int i = 0; flags && flags[i] && argc < 31; i++) argv[argc++] = (char *)flags[i];
    assert_int_equal(runtime_parse(argc, argv, &l->info, &o), -1);
    Run *r = calloc(1, sizeof *r);
    assert_int_equal(kit_init(r, l, &o), -1);
    return r;
}

static inline void lesson_stop(Run *r)
{
    kit_free(r);
    free(r);
}

/* `steps` optimizer steps, none of which may diverge; returns the first step's loss. */
static inline float lesson_train(Run *r, int steps)
{
    char what[128];
    float first = 0;
    for (int s = 0; s < steps; s++) {
        kit_next_batch(r);
        bool div;
        float l = kit_step(r, true, &div, what, sizeof what);
        if (div) fail_msg("step %d diverged: %s", s + 1, what);
        if (s == 0) first = l;
    }
    return first;
}

/* A reset to `seed` (the run's own) replays its first three steps bit for bit. */
static inline void assert_reset_replays(Run *r, uint64_t seed)
{
    float replay[3], again[3];
    for (int s = 0; s < 3; s++) replay[s] = metrics_get(&r->metrics, s, 0);
    kit_reset(r, seed);
    for (int s = 0; s < 3; s++) {
        char what[128];
        bool div;
        kit_next_batch(r);
        again[s] = kit_step(r, true, &div, what, sizeof what);
    }
    assert_memory_equal(replay, again, sizeof replay);
}

/* A lesson that builds another lesson's model (finetune's encoder, distil's teacher) keeps it
 * in XDG_CACHE_HOME: a fresh folder for the group's tests, removed after them. For
 * cmocka_run_group_tests(tests, lesson_cache_setup, lesson_cache_teardown). */
static char lesson_cache[256];

static inline int lesson_cache_setup(void **state)
{
    (void)state;
    snprintf(lesson_cache, sizeof lesson_cache, "/tmp/fmlab-test-cache-XXXXXX");
    if (!mkdtemp(lesson_cache)) return -1;
    setenv("XDG_CACHE_HOME", lesson_cache, 1);
    return 0;
}

static inline int lesson_cache_teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", lesson_cache);
    return system(cmd) != 0;
}

#endif
