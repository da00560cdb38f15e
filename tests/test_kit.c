/* test_kit.c — the lesson kit's parts that need no lesson and no window: the window's command
 * queue (no key press lost, in order; a full queue merges rather than drops; a reset clears
 * what was waiting), UTF-8 editing of the probe's text, the input method's composition
 * (Hangul being typed), the one check of a setting's value that the command line and a
 * resumed checkpoint share, and the strict number parsing of checkpoints. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "lessons/common/checkpoint.h"
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

static const KeyDef test_keys[] = {
    {"num_attention_heads", 4, 1, 32, true, "heads"},
    {"mlm_probability", 0.15, 0, 1, false, "rate"},
};
static const LessonInfo test_info = {"t", "test", "a test", test_keys, 2, 32, 1e-3f};

static void test_check_setting(void **state)
{
    (void)state;
    char err[160];
    /* what a checkpoint held in the defects of issue 9, refused with the valid range */
    double bad_heads[] = {0, -1, 33, 1.5, NAN, INFINITY, 1e300};
    for (size_t i = 0; i < sizeof bad_heads / sizeof *bad_heads; i++) {
        assert_int_equal(runtime_check_setting(&test_info, "num_attention_heads", bad_heads[i], err, sizeof err), -1);
        assert_string_equal(err, "num_attention_heads takes a whole number from 1 to 32");
    }
    assert_int_equal(runtime_check_setting(&test_info, "mlm_probability", 2, err, sizeof err), -1);
    assert_string_equal(err, "mlm_probability takes a number from 0 to 1");
    assert_int_equal(runtime_check_setting(&test_info, "lr", -0.001, err, sizeof err), -1);
    assert_int_equal(runtime_check_setting(&test_info, "lr", 0, err, sizeof err), -1);
    assert_string_equal(err, "lr takes a number above 0 and at most 10");
    assert_int_equal(runtime_check_setting(&test_info, "batch", 0, err, sizeof err), -1);
    assert_string_equal(err, "batch takes a whole number from 1 to 4096");
    assert_int_equal(runtime_check_setting(&test_info, "num_attention_heads", 32, err, sizeof err), 0);
    assert_int_equal(runtime_check_setting(&test_info, "mlm_probability", 0, err, sizeof err), 0);
    assert_int_equal(runtime_check_setting(&test_info, "lr", 10, err, sizeof err), 0);
    assert_int_equal(runtime_check_setting(&test_info, "batch", 4096, err, sizeof err), 0);
    /* the command line goes through the same check: what it refuses, a checkpoint cannot hold */
    RunOptions o;
    char *bad[] = {"p", "--set", "num_attention_heads=0", NULL};
    char *good[] = {"p", "--set", "num_attention_heads=32", "--seed", "9223372036854775807", NULL};
    char *big_seed[] = {"p", "--seed", "9223372036854775808", NULL};
    fflush(stderr);
    int keep = dup(2), null = open("/dev/null", O_WRONLY); /* the usage messages are not this test's */
    dup2(null, 2);
    int rc_bad = runtime_parse(3, bad, &test_info, &o), rc_seed = runtime_parse(3, big_seed, &test_info, &o);
    fflush(stderr);
    dup2(keep, 2);
    close(keep);
    close(null);
    assert_int_equal(rc_bad, 2);
    assert_int_equal(rc_seed, 2);
    assert_int_equal(runtime_parse(5, good, &test_info, &o), -1);
    assert_true(o.value[0] == 32);
    assert_true(o.seed == UINT64_C(9223372036854775807));
    uint64_t seed = 0;
    assert_true(runtime_parse_seed("5000000000000001", &seed));
    assert_true(seed == UINT64_C(5000000000000001)); /* a double would have made it 5e15 */
    const char *not_seeds[] = {"", "-1", "+1", " 1", "1 ", "1e3", "0x10", "9223372036854775808", "99999999999999999999"};
    for (size_t i = 0; i < sizeof not_seeds / sizeof *not_seeds; i++) assert_false(runtime_parse_seed(not_seeds[i], &seed));
}

static void test_checkpoint_numbers(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_true(checkpoint_parse_u64("0", 10, &v) && v == 0);
    assert_true(checkpoint_parse_u64("18446744073709551615", UINT64_MAX, &v) && v == UINT64_MAX);
    assert_true(checkpoint_parse_u64("10", 10, &v) && v == 10);
    /* what atol and sscanf let through: signs, spaces, trailing text, overflow */
    const char *bad[] = {"", "-1", "+1", " 1", "1 ", "1x", "1.0", "18446744073709551616", "99999999999999999999999", "11"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_false(checkpoint_parse_u64(bad[i], 10, &v));
    assert_false(checkpoint_parse_u64(NULL, 10, &v));
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
        cmocka_unit_test(test_check_setting),
        cmocka_unit_test(test_checkpoint_numbers),
    };
    return cmocka_run_group_tests_name("kit", tests, NULL, NULL);
}
