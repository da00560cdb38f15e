/* queue.h — the window's commands to its worker, in the order the keys were pressed, so no
 * key press is lost: ten presses of Space are ten steps, seven presses of ']' are seven
 * changes of the setting. A full queue merges a command into the last one of the same kind
 * (steps add up, changes of one setting add up) rather than drop it; a reset clears the
 * queue, since nothing queued before it matters any more. Plain C, tested without a window. */
#ifndef FMLAB_LESSONS_QUEUE_H
#define FMLAB_LESSONS_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum CmdType { CMD_STEPS, CMD_NEW_BATCH, CMD_RESET, CMD_EXPORT, CMD_PROBE, CMD_SET, CMD_FOCUS, CMD_REWIND, CMD_QUIT } CmdType;

typedef struct Cmd {
    CmdType type;
    long steps;                   /* CMD_STEPS, CMD_REWIND */
    uint64_t seed;                /* CMD_RESET */
    int key;                      /* CMD_SET: the setting's index */
    double delta;
    const double *cycle;          /* CMD_SET: instead of delta, the next value of this list (ncycle) */
    int ncycle;
    char text[256];               /* CMD_PROBE */
} Cmd;

#define KIT_QUEUE 64

typedef struct KitQueue {
    Cmd cmd[KIT_QUEUE];
    int head, count;
} KitQueue;

void kit_queue_push(KitQueue *q, Cmd c);
bool kit_queue_pop(KitQueue *q, Cmd *out);

/* Removes the last UTF-8 character of s (not its last byte). */
void kit_utf8_backspace(char *s);
/* The byte offset of the `chars`-th character of s (clamped to its end; negative: 0). */
int kit_utf8_offset(const char *s, int chars);
/* Appends text to s (a buffer of n bytes), as many of its whole characters as fit; returns
 * whether all of it did. */
bool kit_utf8_append(char *s, size_t n, const char *text);
/* The input method's composition (SDL_TEXTEDITING: the text being composed, the caret at
 * `start` characters into it) into dst (n bytes, whole characters only); *caret gets the
 * caret's byte offset in dst. */
void kit_preedit_set(char *dst, size_t n, int *caret, const char *text, int start);

#endif
