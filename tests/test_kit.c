/* test_kit.c — the lesson kit's parts that need no lesson and no window: the window's command
 * queue (no key press lost, in order; a full queue merges rather than drops; a reset clears
 * what was waiting), UTF-8 editing of the probe's text, and the escaping of what messages
 * quote of their input. */
#include "testutil.h"

#include <string.h>

#include "lessons/common/queue.h"
#include "lessons/common/runtime.h"

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

/* What messages quote of their input: one line, nothing a terminal acts on, text kept. */
static void test_escape(void **state)
{
    (void)state;
    char out[256];
    static const struct { const char *in, *want; } cases[] = {
        {"plain out/dir_1.ckpt", "plain out/dir_1.ckpt"},
        {"two\nlines\r\tand tab", "two\\nlines\\r\\tand tab"},
        {"\x1b[2J\x1b]0;title\x07 \x7f", "\\x1b[2J\\x1b]0;title\\x07 \\x7f"},
        {"고래 café 🐋", "고래 café 🐋"},                                   /* UTF-8 stays */
        {"bad \xff \xc0\xaf \xe0\x80\xaf \xed\xa0\x80 \xf4\x90\x80\x80 end",  /* not UTF-8, overlong, */
         "bad \\xff \\xc0\\xaf \\xe0\\x80\\xaf \\xed\\xa0\\x80 \\xf4\\x90\\x80\\x80 end"}, /* surrogate, > U+10FFFF */
        {"cut \xe3\x81", "cut \\xe3\\x81"},                                 /* truncated at the end */
        {"\xc2\x9b" "31m \xe2\x80\xae" "txt \xe2\x80\xa8", "\\u009b31m \\u202etxt \\u2028"}, /* C1 CSI, bidi, LS */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(runtime_escape(cases[i].in, out, sizeof out), cases[i].want);
    /* a small buffer cuts between characters, never inside an escape or a sequence */
    char small[12];
    runtime_escape("ab\n고래고래", small, sizeof small);
    assert_string_equal(small, "ab\\n");
    runtime_escape("a\x01\x02\x03\x04", small, sizeof small);
    assert_string_equal(small, "a\\x01");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_order),
        cmocka_unit_test(test_queue_full_merges),
        cmocka_unit_test(test_queue_reset_clears),
        cmocka_unit_test(test_utf8_backspace),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests_name("kit", tests, NULL, NULL);
}
