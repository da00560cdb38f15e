/* common.c — engine_fail, resource errors, atomic file writing and the thread setting. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include <math.h>

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef FMLAB_OPENMP
#include <omp.h>
#endif

void engine_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fmlab engine: %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

int engine_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Temporaries are named PATH.tmp-<pid>-<n>: unique to this process (and, with the counter, to
 * this call), created with O_EXCL | O_NOFOLLOW so that two runs never share one and a symlink
 * planted under the name is never followed. A run killed before its rename leaves one behind;
 * the pid in the name lets the next write to PATH recognise it as stale and remove it. */
#define TMP_MARK ".tmp-"

/* Removes PATH.tmp-<pid>-<n> files whose process no longer runs. */
static void remove_stale_temporaries(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d) return;
    size_t bl = strlen(base);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        if (strncmp(name, base, bl) || strncmp(name + bl, TMP_MARK, strlen(TMP_MARK))) continue;
        const char *p = name + bl + strlen(TMP_MARK);
        char *end;
        errno = 0;
        long pid = strtol(p, &end, 10);
        if (errno || end == p || *end != '-' || pid <= 0 || pid == (long)getpid() || pid > INT_MAX) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* running, or not ours to ask */
        char full[PATH_MAX];
        if (snprintf(full, sizeof full, "%s/%s", dir, name) < (int)sizeof full) unlink(full);
    }
    closedir(d);
}

static void sync_folder(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    fsync(fd); /* some file systems refuse: the rename is then as durable as they make it */
    close(fd);
}

int engine_write_atomic(const char *path, EngineWriteFn write, const void *ctx, char *err, size_t errlen)
{
    static atomic_uint counter;
    char dir[PATH_MAX], tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base) return engine_error(err, errlen, "%s: a folder, not a file name", path);
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) >= sizeof dir) return engine_error(err, errlen, "%s: path too long", path);
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    remove_stale_temporaries(dir, base);
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
        if (snprintf(tmp, sizeof tmp, "%s" TMP_MARK "%ld-%u", path, (long)getpid(), atomic_fetch_add(&counter, 1)) >=
            (int)sizeof tmp)
            return engine_error(err, errlen, "%s: path too long", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) return engine_error(err, errlen, "%s: %s", path, strerror(errno));
    }
    if (fd < 0) return engine_error(err, errlen, "%s: no free temporary name next to it", path);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return engine_error(err, errlen, "%s: %s", path, strerror(e));
    }
    errno = 0;
    bool ok = write(f, ctx) && fflush(f) == 0 && !ferror(f) && fsync(fd) == 0;
    int e = errno;
    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        return engine_error(err, errlen, "%s: write failed: %s", path, e ? strerror(e) : "short write");
    }
    sync_folder(dir);
    return 0;
}

static bool write_text(FILE *f, const void *text) { return fputs(text, f) >= 0; }

int engine_write_text_atomic(const char *path, const char *text, char *err, size_t errlen)
{
    return engine_write_atomic(path, write_text, text, err, errlen);
}

void engine_set_threads(int n)
{
#ifdef FMLAB_OPENMP
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

int engine_threads(void)
{
#ifdef FMLAB_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

double engine_json_float(float x)
{
    if (!isfinite(x)) return x;
    char buf[32];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)x);
        if (strtof(buf, NULL) == x) return strtod(buf, NULL);
    }
    return x;
}
