/* fuzz_util.c — temporary files and strings for the fuzz targets (fuzz.h). */
#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[PATH_MAX / 2];
static char file[PATH_MAX];

static void cleanup(void)
{
    if (file[0]) unlink(file);
    if (dir[0]) rmdir(dir);
}

const char *fuzz_dir(void)
{
    if (!dir[0]) {
        /* $TMPDIR, else /dev/shm: the input is rewritten thousands of times a second, and a
           disk-backed /tmp makes each write cost milliseconds */
        const char *tmp = getenv("TMPDIR");
        struct stat st;
        if (!tmp || !*tmp) tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof dir, "%s/fmlab-fuzz-XXXXXX", tmp);
        if (!mkdtemp(dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(cleanup);
    }
    return dir;
}

const char *fuzz_write(const char *name, const uint8_t *data, size_t size)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    if (file[0] && strcmp(file, path)) unlink(file);
    memcpy(file, path, sizeof file);
    FILE *f = fopen(file, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
        perror("fuzz: writing the input");
        abort();
    }
    return file;
}

char *fuzz_string(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    if (size) memcpy(s, data, size);
    s[size] = 0;
    return s;
}
