/* finding.h — a lesson's stored experiment, for the window to put the live run beside it.
 *
 * A lesson's headline finding is measured by a benchmark under tests/bench, which with
 * --write stores its table as lessons/<name>/finding.csv: the first line names the columns,
 * the first column names each row ("nsp", "sop": what the row's model was trained on), every
 * other cell is a number. The kit reads it at start (kit_init: run->finding); a missing or
 * malformed file is not an error, the table just says why it is empty. */
#ifndef FMLAB_LESSONS_FINDING_H
#define FMLAB_LESSONS_FINDING_H

#define KIT_FINDING_ROWS 16
#define KIT_FINDING_COLS 12

typedef struct KitFinding {
    int rows, cols;                              /* cols counts the row-name column too */
    char col[KIT_FINDING_COLS][40];
    char row[KIT_FINDING_ROWS][24];
    double v[KIT_FINDING_ROWS][KIT_FINDING_COLS];   /* v[r][c], c >= 1; NaN: not a number */
    char why[200];                               /* empty when the table was read */
} KitFinding;

/* Reads path into f (at most KIT_FINDING_ROWS rows of KIT_FINDING_COLS columns; the rest is
 * left out). Never fails: f->rows is 0 and f->why says why when there is no table. */
void kit_finding_read(KitFinding *f, const char *path);
/* lessons/<lesson>/finding.csv under the source or installed data folder. */
void kit_finding_load(KitFinding *f, const char *lesson);
/* The cell of row `row` and column `col`, or NaN when either is missing. */
double kit_finding(const KitFinding *f, const char *row, const char *col);

#endif
