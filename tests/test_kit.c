/* test_kit.c — the lesson kit's parts that need no lesson and no window: the window's command
 * queue (no key press lost, in order; a full queue merges rather than drops; a reset clears
 * what was waiting), UTF-8 editing of the probe's text, the escaping of what messages quote
 * of their input, and the command line's numbers and flags. */
#include "testutil.h"

#include <stdio.h>
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

/* ---- the command line: every number in its range, exactly, and no abbreviated flags ---- */

static const KeyDef test_keys[] = {
    {"hidden_size", 64, 8, 1024, true, "width"},
    {"mlm_probability", 0.15, 0, 1, false, "share"},
};
static const LessonInfo test_info = {"t", "test", "a lesson for the parser", test_keys, 2, 32, 1e-3f};

/* runtime_parse on a NULL-terminated list of flags */
static int parse(RunOptions *o, const char *const *flags)
{
    char *argv[32] = {"fmlab-t"};
    int argc = 1;
    for (; flags[argc - 1]; argc++) argv[argc] = (char *)flags[argc - 1];
    FILE *keep = stderr; /* the usage errors are expected: keep them off the test's output */
    stderr = fopen("/dev/null", "w");
    int rc = runtime_parse(argc, argv, &test_info, o);
    fclose(stderr);
    stderr = keep;
    return rc;
}

static void test_parse_ranges(void **state)
{
    (void)state;
    RunOptions o;
    assert_int_equal(parse(&o, (const char *[]){"--seed", "18446744073709551615", "--size", "8192x8192", "--lr", "10",
                                                "--steps=100000000", "--batch", "4096", "--threads", "256", NULL}), -1);
    assert_true(o.seed == UINT64_MAX && o.width == 8192 && o.height == 8192 && o.lr == 10.0f && o.steps == 100000000 &&
                o.batch == 4096 && o.threads == 256);
    assert_int_equal(parse(&o, (const char *[]){"--seed", "0", "--size", "640x400", "--font-scale", "0.5",
                                                "--set", "hidden_size=8", "--set", "mlm_probability=1e-3", NULL}), -1);
    assert_true(o.seed == 0 && o.width == 640 && o.height == 400 && o.font_scale == 0.5f && o.value[0] == 8 &&
                o.value[1] == 1e-3);
    assert_int_equal(parse(&o, (const char *[]){"--seed", "5000000000000001", NULL}), -1);
    assert_true(o.seed == 5000000000000001ull);
    static const char *const bad[][3] = {
        {"--size", "4294967936x800"}, /* was 640x800: a 32-bit overflow */
        {"--size", "4294968576x800"}, {"--size", "8193x800"}, {"--size", "1280x8193"}, {"--size", "639x800"},
        {"--size", "1280x800x"}, {"--size", " 1280x800"}, {"--size", "1280X800"}, {"--size", "x800"},
        {"--size", "1280x"}, {"--size", "+1280x-800"}, {"--size", "0x500x800"},
        {"--seed", "18446744073709551616"}, {"--seed", "-1"}, {"--seed", "+1"}, {"--seed", " 1"}, {"--seed", "1e3"},
        {"--seed", "0x10"}, {"--seed", ""},
        {"--steps", "100000001"}, {"--steps", "9223372036854775808"}, {"--steps", "-1"}, {"--steps", "1.0"},
        {"--batch", "4097"}, {"--batch", "4294967297"}, {"--batch", "0"},
        {"--threads", "4294967297"}, {"--threads", "0"}, {"--threads", "2 "},
        {"--lr", "1e-50"}, {"--lr", "0"}, {"--lr", "-0.001"}, {"--lr", "10.001"}, {"--lr", "nan"}, {"--lr", "inf"},
        {"--lr", "0x1p-3"}, {"--lr", "1e400"},
        {"--font-scale", "4.0001"}, {"--font-scale", "0.49"}, {"--font-scale", "0x1p1"}, {"--font-scale", "1,5"},
        {"--set", "hidden_size=0x40"}, {"--set", "hidden_size=64.5"}, {"--set", "hidden_size=1e300000"},
        {"--set", "mlm_probability=nan"}, {"--set", "mlm_probability= 0.1"},
        /* abbreviations: each was accepted as the flag it begins */
        {"--st", "1"}, {"--see", "1"}, {"--ba", "8"}, {"--exp", "out"}, {"--forc"}, {"--headl"}, {"--steps=1", "--hel"},
        {"--headless=1"}, {"--force=yes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(&o, bad[i]);
        if (rc != 2) print_message("accepted: %s %s\n", bad[i][0], bad[i][1] ? bad[i][1] : "");
        assert_int_equal(rc, 2);
    }
    /* a value that begins with -- is still the value, and a flag after a plain argument is
       still checked whole */
    assert_int_equal(parse(&o, (const char *[]){"--export", "--st", NULL}), -1);
    assert_string_equal(o.export_dir, "--st");
    assert_int_equal(parse(&o, (const char *[]){"--export", "out", "--st", "1", NULL}), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_order),
        cmocka_unit_test(test_queue_full_merges),
        cmocka_unit_test(test_queue_reset_clears),
        cmocka_unit_test(test_utf8_backspace),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_parse_ranges),
    };
    return cmocka_run_group_tests_name("kit", tests, NULL, NULL);
}
