/* jobs.h — a benchmark's independent training runs, two at a time, each in its own process.
 *
 * The finding benchmarks train one model per (setting, seed); the runs share nothing, and a
 * run uses one engine thread, so two processes keep this 2-core machine busy. Each job writes
 * a fixed-size result (no pointers) that comes back to the parent through a pipe.
 *
 *   bench_jobs(n, sizeof(Result), results, run_one, ctx)
 *
 * calls run_one(i, &results[i], ctx) in a child for i = 0..n-1 and returns 0 when every job
 * returned 0, or -1 (having waited for every child). The child writes its result before it
 * exits and the parent reads it after, so a result must fit in a pipe's buffer (64 KiB).
 *
 *   bench_program(argv, out, err)
 *
 * runs another program of the build to its end (a lesson's fmlab-* building a pretrained
 * model), its output into files. */
#ifndef FMLAB_BENCH_JOBS_H
#define FMLAB_BENCH_JOBS_H

#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lessons/common/kit.h"

typedef int (*BenchJob)(int i, void *result, void *ctx);

/* A finding's command line, "name [steps [seeds]] [--write]", over the defaults in *steps and
 * *seeds (seeds 1 to max_seeds): 0, or 2 with the usage printed. */
static inline int bench_args(int argc, char **argv, const char *name, long *steps, int *seeds, int max_seeds, bool *store)
{
    *store = false;
    for (int i = 1, n = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--write")) *store = true;
        else if (n++ == 0) *steps = atol(argv[i]);
        else *seeds = atoi(argv[i]);
    }
    if (*steps <= 0 || *seeds <= 0 || *seeds > max_seeds) {
        fprintf(stderr, "usage: %s [steps [seeds (at most %d)]] [--write]\n", name, max_seeds);
        return 2;
    }
    return 0;
}

/* `steps` training steps of a run that kit_init made: 0, or -1 with the divergence named on
 * stderr. */
static inline int bench_train(Run *r, long steps)
{
    char what[128];
    for (long s = 1; s <= steps; s++) {
        kit_next_batch(r);
        bool div;
        kit_step(r, true, &div, what, sizeof what);
        if (div) {
            fprintf(stderr, "%s\n", what);
            return -1;
        }
    }
    return 0;
}

/* Runs argv[0] with argv (NULL-terminated) and waits for it, its stdout into the file out and
 * its stderr into the file err (each replaced; "/dev/null" discards; NULL: this program's).
 * *cpu (unless NULL) gets the processor time it used, user and system: unlike the wall clock,
 * the same on a busy machine. 0 when it exited with status 0, else -1. */
static inline int bench_program(const char *const *argv, const char *out, const char *err, double *cpu)
{
    fflush(NULL);
    pid_t c = fork();
    if (c == 0) {
        const char *path[2] = {out, err};
        for (int k = 0; k < 2; k++) {
            if (!path[k]) continue;
            int fd = open(path[k], O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || dup2(fd, k ? STDERR_FILENO : STDOUT_FILENO) < 0) _exit(127);
            close(fd);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    struct rusage before, after;
    if (c < 0) return -1;
    getrusage(RUSAGE_CHILDREN, &before);   /* the children waited for so far; this one joins them */
    while (waitpid(c, &status, 0) < 0)
        if (errno != EINTR) return -1;
    getrusage(RUSAGE_CHILDREN, &after);
    if (cpu)
        *cpu = (double)(after.ru_utime.tv_sec - before.ru_utime.tv_sec) +
               (after.ru_utime.tv_usec - before.ru_utime.tv_usec) * 1e-6 +
               (double)(after.ru_stime.tv_sec - before.ru_stime.tv_sec) +
               (after.ru_stime.tv_usec - before.ru_stime.tv_usec) * 1e-6;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static inline int bench_jobs(int n, size_t size, void *results, BenchJob run_one, void *ctx)
{
    if (size > 65536) return -1;
    int *fd = calloc((size_t)n, sizeof *fd);
    pid_t *pid = calloc((size_t)n, sizeof *pid);
    if (!fd || !pid) return -1;
    int next = 0, running = 0;
    bool failed = false;
    while (next < n || running) {
        if (next < n && running < 2) {
            int p[2];
            pid_t c = -1;
            fflush(stdout);
            if (pipe(p) == 0 && (c = fork()) < 0) close(p[0]), close(p[1]);
            if (c < 0) { /* no pipe or no process: launch no more, wait for those running */
                failed = true;
                n = next;
                continue;
            }
            if (c == 0) {
                close(p[0]);
                void *r = calloc(1, size);
                int rc = r ? run_one(next, r, ctx) : -1;
                for (size_t off = 0; rc == 0 && off < size;) {
                    ssize_t w = write(p[1], (char *)r + off, size - off);
                    if (w <= 0) rc = -1;
                    else off += (size_t)w;
                }
                _exit(rc ? 1 : 0);
            }
            close(p[1]);
            fd[next] = p[0];
            pid[next++] = c;
            running++;
            continue;
        }
        int status;
        pid_t done = wait(&status);
        if (done < 0) return -1;
        running--;
        for (int j = 0; j < next; j++)
            if (pid[j] == done) {
                char *dst = (char *)results + (size_t)j * size;
                size_t got = 0;
                ssize_t r;
                while (got < size && (r = read(fd[j], dst + got, size - got)) > 0) got += (size_t)r;
                if (!WIFEXITED(status) || WEXITSTATUS(status) || got != size) failed = true;
                close(fd[j]);
            }
    }
    free(fd);
    free(pid);
    return failed ? -1 : 0;
}

#endif
