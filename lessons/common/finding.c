/* finding.c — lessons/<name>/finding.csv, the lesson's stored experiment (finding.h). */
#define _POSIX_C_SOURCE 200809L
#include "lessons/common/finding.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lessons/common/runtime.h"

/* the next comma-separated field of *s into out (cut to n), moving *s past it */
static void field(char **s, char *out, size_t n)
{
    size_t len = strcspn(*s, ",\r\n");
    snprintf(out, n, "%.*s", (int)len, *s);
    *s += len + ((*s)[len] == ',');
}

void kit_finding_read(KitFinding *f, const char *path)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(f->why, sizeof f->why, "no stored table (%s)", path);
        return;
    }
    char line[1024];
    bool header = false;
    while (fgets(line, sizeof line, fp) && f->rows < KIT_FINDING_ROWS) {
        char *s = line;
        if (!header) {
            while (*s && *s != '\n' && *s != '\r' && f->cols < KIT_FINDING_COLS) field(&s, f->col[f->cols++], sizeof f->col[0]);
            header = true;
            continue;
        }
        if (*s == '\n' || *s == '\r' || !*s) continue;
        int r = f->rows;
        field(&s, f->row[r], sizeof f->row[r]);
        for (int c = 1; c < f->cols; c++) {
            char cell[64], *end;
            field(&s, cell, sizeof cell);
            double v = strtod(cell, &end);
            f->v[r][c] = end != cell && *end == 0 && isfinite(v) ? v : NAN;
        }
        f->rows++;
    }
    fclose(fp);
    if (f->cols < 2 || f->rows == 0) {
        snprintf(f->why, sizeof f->why, "%s holds no table", path);
        f->rows = 0;
    }
}

void kit_finding_load(KitFinding *f, const char *lesson)
{
    const char *root = runtime_source_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/lessons/%s/finding.csv", root ? root : ".", lesson);
    kit_finding_read(f, path);
}

double kit_finding(const KitFinding *f, const char *row, const char *col)
{
    for (int r = 0; r < f->rows; r++) {
        if (strcmp(f->row[r], row)) continue;
        for (int c = 1; c < f->cols; c++)
            if (!strcmp(f->col[c], col)) return f->v[r][c];
    }
    return NAN;
}
