/* queue.c — the window's command queue and text editing helpers. */
#include "lessons/common/queue.h"

#include <string.h>

static bool mergeable(const Cmd *last, const Cmd *c)
{
    return last->type == c->type && (c->type == CMD_STEPS || c->type == CMD_REWIND ||
                                     (c->type == CMD_SET && last->key == c->key) || c->type == CMD_NEW_BATCH ||
                                     c->type == CMD_FOCUS || c->type == CMD_PROBE);
}

void kit_queue_push(KitQueue *q, Cmd c)
{
    if (c.type == CMD_RESET || c.type == CMD_QUIT) q->count = 0;
    if (q->count == KIT_QUEUE) {
        Cmd *last = &q->cmd[(q->head + q->count - 1) % KIT_QUEUE];
        if (mergeable(last, &c)) {
            last->steps += c.steps;
            last->delta += c.delta;
            if (c.type == CMD_PROBE) memcpy(last->text, c.text, sizeof last->text);
            return;
        }
        /* a command of another kind: the oldest mergeable pair makes room */
        for (int i = 1; i < q->count; i++) {
            Cmd *a = &q->cmd[(q->head + i - 1) % KIT_QUEUE], *b = &q->cmd[(q->head + i) % KIT_QUEUE];
            if (!mergeable(a, b)) continue;
            a->steps += b->steps;
            a->delta += b->delta;
            if (b->type == CMD_PROBE) memcpy(a->text, b->text, sizeof a->text);
            for (int j = i; j < q->count - 1; j++) q->cmd[(q->head + j) % KIT_QUEUE] = q->cmd[(q->head + j + 1) % KIT_QUEUE];
            q->count--;
            break;
        }
        if (q->count == KIT_QUEUE) return; /* 64 commands of alternating kinds: cannot happen from a keyboard */
    }
    q->cmd[(q->head + q->count) % KIT_QUEUE] = c;
    q->count++;
}

bool kit_queue_pop(KitQueue *q, Cmd *out)
{
    if (!q->count) return false;
    *out = q->cmd[q->head];
    q->head = (q->head + 1) % KIT_QUEUE;
    q->count--;
    return true;
}

void kit_utf8_backspace(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && ((unsigned char)s[n - 1] & 0xC0) == 0x80) n--; /* continuation bytes */
    s[n > 0 ? n - 1 : 0] = 0;
}

int kit_utf8_offset(const char *s, int chars)
{
    int i = 0;
    for (int k = 0; k < chars && s[i]; k++) {
        i++;
        while (((unsigned char)s[i] & 0xC0) == 0x80) i++;
    }
    return i;
}

bool kit_utf8_append(char *s, size_t n, const char *text)
{
    size_t have = strlen(s), add = strlen(text);
    if (have + add < n) {
        memcpy(s + have, text, add + 1);
        return true;
    }
    size_t room = n > have + 1 ? n - have - 1 : 0;
    while (room > 0 && ((unsigned char)text[room] & 0xC0) == 0x80) room--; /* not inside a character */
    memcpy(s + have, text, room);
    s[have + room] = 0;
    return false;
}

void kit_preedit_set(char *dst, size_t n, int *caret, const char *text, int start)
{
    if (!n) return;
    dst[0] = 0;
    kit_utf8_append(dst, n, text);
    *caret = kit_utf8_offset(dst, start);
}
