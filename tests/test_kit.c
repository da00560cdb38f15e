/* test_kit.c — the lesson kit's parts that need no lesson and no window: the window's command
 * queue (no key press lost, in order; a full queue merges rather than drops; a reset clears
 * what was waiting) and UTF-8 editing of the probe's text, the input method's composition
 * (Hangul being typed) included. */
#include "testutil.h"

#include <string.h>

#include "lessons/common/queue.h"

static void test_queue_order(void **state)
{
    (void)state;
    KitQueue q = {0};
    /* ten presses of Space and seven of ']' between them: all there, in order */
    for (int i = 0; i < 10; i++) {
        kit_queue_push(&q, (Cmd){.type = CMD_STEPS, .steps = 1});
        if (i < 7) kit_queue_push(&q, (Cmd){.type = CMD_SET, .key = 6, .delta = 0.05});
    }
    Cmd c;
    long steps = 0;
    double delta = 0;
    int n = 0;
    while (kit_queue_pop(&q, &c)) {
        if (c.type == CMD_STEPS) steps += c.steps;
        else {
            assert_int_equal(c.type, CMD_SET);
            assert_int_equal(c.key, 6);
            delta += c.delta;
        }
        n++;
    }
    assert_int_equal(n, 17);
    assert_int_equal(steps, 10);
    assert_float_equal(delta, 7 * 0.05, 1e-12);
    assert_false(kit_queue_pop(&q, &c));
}

static void test_queue_full_merges(void **state)
{
    (void)state;
    KitQueue q = {0};
    /* 200 presses of Space and 100 of ']' in a queue of 64: nothing lost, the order kept */
    for (int i = 0; i < 200; i++) kit_queue_push(&q, (Cmd){.type = CMD_STEPS, .steps = 1});
    for (int i = 0; i < 100; i++) kit_queue_push(&q, (Cmd){.type = CMD_SET, .key = 2, .delta = 0.1});
    kit_queue_push(&q, (Cmd){.type = CMD_EXPORT});
    Cmd c;
    long steps = 0;
    double delta = 0;
    bool saw_set = false, saw_export = false;
    while (kit_queue_pop(&q, &c)) {
        if (c.type == CMD_STEPS) {
            assert_false(saw_set); /* every step before every change */
            steps += c.steps;
        } else if (c.type == CMD_SET) {
            saw_set = true;
            delta += c.delta;
        } else {
            assert_int_equal(c.type, CMD_EXPORT);
            saw_export = true;
        }
    }
    assert_int_equal(steps, 200);
    assert_float_equal(delta, 10.0, 1e-9);
    assert_true(saw_export);
}

static void test_queue_reset_clears(void **state)
{
    (void)state;
    KitQueue q = {0};
    kit_queue_push(&q, (Cmd){.type = CMD_STEPS, .steps = 300});
    kit_queue_push(&q, (Cmd){.type = CMD_SET, .key = 1, .delta = 1});
    kit_queue_push(&q, (Cmd){.type = CMD_RESET, .seed = 7});
    kit_queue_push(&q, (Cmd){.type = CMD_STEPS, .steps = 1});
    Cmd c;
    assert_true(kit_queue_pop(&q, &c));
    assert_int_equal(c.type, CMD_RESET);
    assert_int_equal(c.seed, 7);
    assert_true(kit_queue_pop(&q, &c));
    assert_int_equal(c.type, CMD_STEPS);
    assert_int_equal(c.steps, 1);
    assert_false(kit_queue_pop(&q, &c));
}

static void test_utf8_backspace(void **state)
{
    (void)state;
    char s[64];
    strcpy(s, "the 고래");            /* 고 and 래: three bytes each */
    kit_utf8_backspace(s);
    assert_string_equal(s, "the 고");
    kit_utf8_backspace(s);
    assert_string_equal(s, "the ");
    strcpy(s, "café");                /* é: two bytes */
    kit_utf8_backspace(s);
    assert_string_equal(s, "caf");
    strcpy(s, "a🐋");                 /* four bytes */
    kit_utf8_backspace(s);
    assert_string_equal(s, "a");
    kit_utf8_backspace(s);
    assert_string_equal(s, "");
    kit_utf8_backspace(s);            /* nothing left: stays empty */
    assert_string_equal(s, "");
}

static void test_utf8_offset_and_append(void **state)
{
    (void)state;
    const char *s = "a고래b";                       /* 1 + 3 + 3 + 1 bytes */
    assert_int_equal(kit_utf8_offset(s, 0), 0);
    assert_int_equal(kit_utf8_offset(s, 1), 1);
    assert_int_equal(kit_utf8_offset(s, 2), 4);
    assert_int_equal(kit_utf8_offset(s, 3), 7);
    assert_int_equal(kit_utf8_offset(s, 4), 8);
    assert_int_equal(kit_utf8_offset(s, 9), 8);       /* past the end: the end */
    assert_int_equal(kit_utf8_offset(s, -1), 0);
    char buf[8] = "ab";
    assert_true(kit_utf8_append(buf, sizeof buf, "고"));   /* 2 + 3 bytes + NUL: fits */
    assert_string_equal(buf, "ab고");
    assert_false(kit_utf8_append(buf, sizeof buf, "래c"));  /* 2 bytes left: not half a 래 */
    assert_string_equal(buf, "ab고");
    assert_false(kit_utf8_append(buf, sizeof buf, "xyz"));  /* whole ASCII characters do fit */
    assert_string_equal(buf, "ab고xy");
    assert_int_equal(strlen(buf), 7);
}

/* SDL_TEXTEDITING while a Korean input method composes 한국: the composition replaces the
 * last one (it is not appended to the probe), the caret is at its character offset in bytes,
 * and a composition longer than the buffer is cut between characters. */
static void test_preedit(void **state)
{
    (void)state;
    char pre[16];
    int caret = -1;
    kit_preedit_set(pre, sizeof pre, &caret, "ㅎ", 1);
    assert_string_equal(pre, "ㅎ");
    assert_int_equal(caret, 3);
    kit_preedit_set(pre, sizeof pre, &caret, "하", 1);
    assert_string_equal(pre, "하");
    kit_preedit_set(pre, sizeof pre, &caret, "한", 1);
    assert_string_equal(pre, "한");
    assert_int_equal(caret, 3);
    kit_preedit_set(pre, sizeof pre, &caret, "한국", 1);   /* the caret after the first */
    assert_int_equal(caret, 3);
    kit_preedit_set(pre, sizeof pre, &caret, "", 0);       /* committed or cancelled */
    assert_string_equal(pre, "");
    assert_int_equal(caret, 0);
    kit_preedit_set(pre, sizeof pre, &caret, "가나다라마바", 6); /* 18 bytes into 16 */
    assert_string_equal(pre, "가나다라마");
    assert_int_equal(caret, 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_order),
        cmocka_unit_test(test_queue_full_merges),
        cmocka_unit_test(test_queue_reset_clears),
        cmocka_unit_test(test_utf8_backspace),
        cmocka_unit_test(test_utf8_offset_and_append),
        cmocka_unit_test(test_preedit),
    };
    return cmocka_run_group_tests_name("kit", tests, NULL, NULL);
}
