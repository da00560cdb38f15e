/* lessontest.h — a lesson's run for its unit tests: kit_init from a command line, as the
 * program would start headless. */
#ifndef FMLAB_LESSONTEST_H
#define FMLAB_LESSONTEST_H

#include <stdlib.h>

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

#endif
