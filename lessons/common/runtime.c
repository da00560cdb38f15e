/* runtime.c — the CLI, settings, data paths, progress and atomic file writing. */
#define _GNU_SOURCE
#include "lessons/common/runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <float.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *prog_name(const LessonInfo *info)
{
    static char name[64];
    snprintf(name, sizeof name, "fmlab-%s", info->name);
    return name;
}

/* ---------------------------------------------------------------- messages ---- */

/* The code point of the UTF-8 sequence at s (n bytes long, n >= 1), or -1 if it is not
 * well-formed: a stray continuation byte, a truncated sequence, an overlong form, a surrogate
 * or a value past U+10FFFF. */
static long utf8_decode(const unsigned char *s, size_t n, int *len)
{
    unsigned c = s[0];
    int k = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? (c < 0xF0 ? 3 : 0) : c >= 0xC2 ? 2 : 0;
    if (c < 0x80) { *len = 1; return (long)c; }
    if (!k || (size_t)k > n) return -1;
    long cp = (long)(c & (0x7F >> k));
    for (int i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return -1;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *len = k;
    return cp;
}

/* Code points that move the cursor, end a line or reorder the text around them: C1 controls,
 * the line and paragraph separators, the bidirectional marks, embeddings and isolates. */
static bool unsafe_code_point(long cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x200E || cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

const char *runtime_escape(const char *s, char *out, size_t outlen)
{
    size_t o = 0, n = strlen(s);
    const unsigned char *u = (const unsigned char *)s;
    if (!outlen) return out;
    for (size_t i = 0; i < n && o + 8 < outlen;) {
        int len = 1;
        long cp = utf8_decode(u + i, n - i, &len);
        if (cp == '\n' || cp == '\r' || cp == '\t') {
            out[o++] = '\\';
            out[o++] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
        } else if (cp < 0 || cp < 0x20 || cp == 0x7F) {
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", u[i]);
            len = 1;
        } else if (unsafe_code_point(cp)) {
            o += (size_t)snprintf(out + o, outlen - o, "\\u%04lx", cp);
        } else {
            memcpy(out + o, u + i, (size_t)len);
            o += (size_t)len;
        }
        i += (size_t)len;
    }
    out[o] = 0;
    return out;
}

/* "prog: message[tail]" and a newline on stderr, the message escaped: the one way every
 * message that may quote a flag value, a path or a file's text is printed. */
static void vmessage(const char *prog, const char *tail, const char *fmt, va_list ap)
{
    char msg[2048], safe[4 * sizeof msg];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "%s: %s%s\n", prog, runtime_escape(msg, safe, sizeof safe), tail);
}

void runtime_message(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(prog, "", fmt, ap);
    va_end(ap);
}

int runtime_usage_error(const LessonInfo *info, const char *fmt, ...)
{
    char tail[96];
    snprintf(tail, sizeof tail, " (see %s --help)", prog_name(info));
    va_list ap;
    va_start(ap, fmt);
    vmessage(prog_name(info), tail, fmt, ap);
    va_end(ap);
    return EXIT_USAGE;
}

void runtime_usage(const LessonInfo *info, FILE *f)
{
    fprintf(f,
            "%s — %s\n%s\n\n"
            "usage: %s [flags]\n\n"
            "  -h, --help             this text\n"
            "      --version          the version\n"
            "      --seed N           all randomness comes from this seed (default 1)\n"
            "      --steps N          train N optimizer steps first (headless: then export and exit)\n"
            "      --batch N          batch size (default %d)\n"
            "      --lr X             peak learning rate (default %g)\n"
            "      --set KEY=VALUE    change a setting (keys below; repeatable)\n"
            "      --headless         no window: train, print progress, export if asked\n"
            "      --export DIR       write the export (weights, gradients, batch, attentions) to DIR\n"
            "      --force            let --export replace a non-empty DIR\n"
            "      --screenshot F.png after the steps, save the dashboard as a PNG\n"
            "      --no-screenshot    leave frame.png out of the export\n"
            "      --save FILE        after the steps, save a checkpoint\n"
            "      --resume FILE      start from a checkpoint (then --steps N more)\n"
            "      --size WxH         window size (default 1280x800)\n"
            "      --fullscreen       start full screen\n"
            "      --font-scale X     text size factor, e.g. 1.5 for a projector\n"
            "      --threads N        engine threads (default: all cores; in the window, all but the one that draws)\n"
            "      --lang en|ko       language of the notes (default: the locale's, else en)\n"
            "      --describe         the lesson's settings, models, losses and export tables as JSON\n",
            prog_name(info), info->title, info->summary, prog_name(info), info->default_batch,
            (double)info->default_lr);
    if (info->model_flag) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s FILE", info->model_flag);
        fprintf(f, "      %-18s %s\n", flag, info->model_flag_help);
    }
    fprintf(f, "\nsettings (--set KEY=VALUE):\n");
    for (int i = 0; i < info->nkeys; i++) {
        const KeyDef *k = &info->keys[i];
        char range[64];
        if (k->choices) {
            size_t n = 0;
            for (int c = 0; k->choices[c] && n < sizeof range; c++)
                n += (size_t)snprintf(range + n, sizeof range - n, "%s%s", c ? "|" : "", k->choices[c]);
            if (n < sizeof range) snprintf(range + n, sizeof range - n, ", default %s", runtime_choice_name(k, k->def));
        } else if (k->integer) snprintf(range, sizeof range, "%.0f..%.0f, default %.0f", k->min, k->max, k->def);
        else snprintf(range, sizeof range, "%g..%g, default %g", k->min, k->max, k->def);
        fprintf(f, "  %-24s %s (%s)\n", k->name, k->help, range);
    }
    if (info->diverge_rule && !info->diverge_rule[0])
        fprintf(f, "\nexit status: 0 done, 1 internal error, 2 bad usage or input, 3 training diverged: a loss, a\n"
                   "gradient or a weight became NaN or Inf\n");
    else
        fprintf(f, "\nexit status: 0 done, 1 internal error, 2 bad usage or input, 3 training diverged: a loss, a\n"
                   "gradient or a weight became NaN or Inf, or the training loss rose above %s\n",
                info->diverge_rule ? info->diverge_rule
                                   : "3 × ln(vocab_size), three\ntimes the loss of guessing every token uniformly");
}

const char *runtime_choice_name(const KeyDef *k, double v)
{
    if (!k->choices) return NULL;
    for (int c = 0; k->choices[c]; c++)
        if (v == c) return k->choices[c];
    return "?";
}

/* the index of a choice by name, or -1 */
static int choice_index(const KeyDef *k, const char *name)
{
    for (int c = 0; k->choices[c]; c++)
        if (!strcmp(k->choices[c], name)) return c;
    return -1;
}

/* "nsp or sop", "a, b or c" */
static void choice_list(const KeyDef *k, char *out, size_t n)
{
    size_t u = 0;
    out[0] = 0;
    for (int c = 0; k->choices[c] && u < n; c++)
        u += (size_t)snprintf(out + u, n - u, "%s%s", c == 0 ? "" : k->choices[c + 1] ? ", " : " or ", k->choices[c]);
}

int runtime_key_index(const LessonInfo *info, const char *name)
{
    for (int i = 0; i < info->nkeys; i++)
        if (!strcmp(info->keys[i].name, name)) return i;
    return -1;
}

double runtime_value(const LessonInfo *info, const RunOptions *o, const char *name)
{
    int i = runtime_key_index(info, name);
    ENGINE_CHECK(i >= 0, "lesson %s has no key %s", info->name, name);
    return o->value[i];
}

int runtime_check_setting(const LessonInfo *info, const char *name, double v, char *err, size_t errlen)
{
    double lo, hi;
    bool integer;
    if (!strcmp(name, "batch")) {
        lo = 1, hi = 4096, integer = true;
    } else if (!strcmp(name, "lr")) { /* above 0 as a float too: 1e-50 would be a learning rate of 0 */
        lo = FLT_MIN, hi = 10, integer = false;
    } else {
        int i = runtime_key_index(info, name);
        ENGINE_CHECK(i >= 0, "lesson %s has no key %s", info->name, name);
        lo = info->keys[i].min, hi = info->keys[i].max, integer = info->keys[i].integer;
        if (info->keys[i].choices) {
            if (isfinite(v) && v >= lo && v <= hi && v == floor(v)) return 0;
            char list[256];
            choice_list(&info->keys[i], list, sizeof list);
            snprintf(err, errlen, "%s takes %s", name, list);
            return -1;
        }
    }
    if (isfinite(v) && v >= lo && v <= hi && (!integer || v == floor(v))) return 0;
    if (integer) snprintf(err, errlen, "%s takes a whole number from %.0f to %.0f", name, lo, hi);
    else if (!strcmp(name, "lr")) snprintf(err, errlen, "lr takes a number above 0 (at least %g) and at most %g", lo, hi);
    else snprintf(err, errlen, "%s takes a number from %g to %g", name, lo, hi);
    return -1;
}

bool runtime_parse_seed(const char *s, uint64_t *out)
{
    if (!*s || strspn(s, "0123456789") != strlen(s)) return false;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno) return false;
    *out = v;
    return true;
}

/* Numbers on the command line are decimal and nothing else: digits, a sign, a point and an
 * exponent. No spaces, no hex, no inf or nan, no trailing text; out of range is out. */
static bool decimal_text(const char *s, bool real)
{
    if (!*s) return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= '0' && *c <= '9') || *c == '-' || *c == '+' || (real && (*c == '.' || *c == 'e' || *c == 'E'))))
            return false;
    return true;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    if (!decimal_text(s, false)) return false;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* the whole of 0 .. 2^64-1 exactly; strtoull alone would take "-1" as 2^64-1 */
static bool parse_double(const char *s, double *out)
{
    char *end;
    if (!decimal_text(s, true)) return false;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

/* WxH, each a whole number in its range */
static bool parse_size(const char *s, int *w, int *h)
{
    const char *x = strchr(s, 'x');
    char ws[32];
    long lw, lh;
    if (!x || (size_t)(x - s) >= sizeof ws) return false;
    memcpy(ws, s, (size_t)(x - s));
    ws[x - s] = 0;
    if (!parse_long(ws, RUNTIME_MIN_WIDTH, RUNTIME_MAX_SIZE, &lw) || !parse_long(x + 1, RUNTIME_MIN_HEIGHT, RUNTIME_MAX_SIZE, &lh))
        return false;
    *w = (int)lw;
    *h = (int)lh;
    return true;
}

/* Is arg "--name" or "--name=value"? getopt_long also takes any unambiguous prefix (--st for
 * --steps); fmlab does not, so that a mistyped flag cannot quietly mean another one. */
static bool whole_flag(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(arg, "--", 2) && !strncmp(arg + 2, name, n) && (arg[2 + n] == 0 || arg[2 + n] == '=');
}

static int key_list_error(const LessonInfo *info, const char *what)
{
    char keys[1024];
    size_t n = 0;
    keys[0] = 0;
    for (int i = 0; i < info->nkeys && n < sizeof keys; i++)
        n += (size_t)snprintf(keys + n, sizeof keys - n, " %s", info->keys[i].name);
    runtime_message(prog_name(info), "%s; valid keys:%s", what, keys);
    return EXIT_USAGE;
}

int runtime_parse(int argc, char **argv, const LessonInfo *info, RunOptions *o)
{
    ENGINE_CHECK(info->nkeys <= MAX_KEYS, "too many keys");
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->steps = 0;
    o->batch = info->default_batch;
    o->lr = info->default_lr;
    o->width = 1280;
    o->height = 800;
    o->font_scale = 1.0f;
    for (int i = 0; i < info->nkeys; i++) o->value[i] = info->keys[i].def;
    /* the notes' language: the locale's (LC_ALL, then LC_MESSAGES, then LANG), else English */
    const char *loc = getenv("LC_ALL");
    if (!loc || !*loc) loc = getenv("LC_MESSAGES");
    if (!loc || !*loc) loc = getenv("LANG");
    o->lang = loc && !strncmp(loc, "ko", 2);
    enum { O_VERSION = 256, O_SEED, O_STEPS, O_BATCH, O_LR, O_SET, O_HEADLESS, O_EXPORT, O_FORCE, O_SHOT, O_NOSHOT,
           O_SAVE, O_RESUME, O_SIZE, O_FULL, O_FONT, O_THREADS, O_DESCRIBE, O_LANG, O_MODEL };
    struct option opts[] = {
        {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, O_VERSION}, {"seed", required_argument, 0, O_SEED},
        {"steps", required_argument, 0, O_STEPS}, {"batch", required_argument, 0, O_BATCH},
        {"lr", required_argument, 0, O_LR}, {"set", required_argument, 0, O_SET},
        {"headless", no_argument, 0, O_HEADLESS}, {"export", required_argument, 0, O_EXPORT},
        {"force", no_argument, 0, O_FORCE}, {"screenshot", required_argument, 0, O_SHOT},
        {"no-screenshot", no_argument, 0, O_NOSHOT}, {"save", required_argument, 0, O_SAVE},
        {"resume", required_argument, 0, O_RESUME}, {"size", required_argument, 0, O_SIZE},
        {"fullscreen", no_argument, 0, O_FULL}, {"font-scale", required_argument, 0, O_FONT},
        {"threads", required_argument, 0, O_THREADS}, {"describe", no_argument, 0, O_DESCRIBE},
        {"lang", required_argument, 0, O_LANG}, {0, 0, 0, 0}, {0, 0, 0, 0},
    };
    if (info->model_flag) /* the lesson's own flag, in the free row before the end */
        opts[sizeof opts / sizeof opts[0] - 2] = (struct option){info->model_flag, required_argument, 0, O_MODEL};
    opterr = 0;
    optind = 1;
    int c, idx = -1;
    long v;
    double d;
    char msg[160];
    while ((c = getopt_long(argc, argv, ":h", opts, &idx)) != -1) {
        if (idx >= 0 && c != ':') {
            /* what was typed: the element just read, or the one before it when the value came
               as the next argument */
            const char *arg = optarg == argv[optind - 1] && optind >= 2 ? argv[optind - 2] : argv[optind - 1];
            if (!whole_flag(arg, opts[idx].name)) {
                size_t n = strcspn(arg, "=");
                return runtime_usage_error(info, "unknown flag \"%.*s\" (flags are not abbreviated: did you mean --%s?)",
                                           (int)n, arg, opts[idx].name);
            }
        }
        idx = -1;
        switch (c) {
        case 'h': runtime_usage(info, stdout); return EXIT_OK;
        case O_MODEL:
            if (!*optarg) return runtime_usage_error(info, "--%s takes a file name", info->model_flag);
            o->model_file = optarg;
            break;
        case O_VERSION: printf("%s %s\n", prog_name(info), FMLAB_VERSION); return EXIT_OK;
        case O_SEED:
            if (!runtime_parse_seed(optarg, &o->seed))
                return runtime_usage_error(info, "--seed takes a whole number from 0 to %" PRIu64 ", not \"%s\"", UINT64_MAX, optarg);
            o->seed_set = true;
            break;
        case O_STEPS:
            if (!parse_long(optarg, 0, 100000000, &v)) return runtime_usage_error(info, "--steps takes a whole number from 0 to 100000000, not \"%s\"", optarg);
            o->steps = v;
            break;
        case O_BATCH:
            if (runtime_check_setting(info, "batch", parse_long(optarg, LONG_MIN, LONG_MAX, &v) ? (double)v : NAN, msg, sizeof msg))
                return runtime_usage_error(info, "--%s, not \"%s\"", msg, optarg);
            o->batch = (int)v;
            o->batch_set = true;
            break;
        case O_LR:
            if (runtime_check_setting(info, "lr", parse_double(optarg, &d) ? d : NAN, msg, sizeof msg))
                return runtime_usage_error(info, "--%s, not \"%s\"", msg, optarg);
            o->lr = (float)d;
            o->lr_set = true;
            break;
        case O_SET: {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) return runtime_usage_error(info, "--set takes KEY=VALUE, not \"%s\"", optarg);
            char key[64];
            size_t kl = (size_t)(eq - optarg);
            if (kl >= sizeof key) return key_list_error(info, "unknown key");
            memcpy(key, optarg, kl);
            key[kl] = 0;
            int i = runtime_key_index(info, key);
            if (i < 0) {
                char what[128];
                snprintf(what, sizeof what, "unknown key \"%s\"", key);
                return key_list_error(info, what);
            }
            if (info->keys[i].choices) d = choice_index(&info->keys[i], eq + 1) >= 0 ? choice_index(&info->keys[i], eq + 1) : NAN;
            else if (!parse_double(eq + 1, &d)) d = NAN;
            if (runtime_check_setting(info, key, d, msg, sizeof msg))
                return runtime_usage_error(info, "%s, not \"%s\"", msg, eq + 1);
            o->value[i] = d;
            o->set[i] = true;
            break;
        }
        case O_HEADLESS: o->headless = true; break;
        case O_DESCRIBE: o->describe = true; break;
        case O_LANG:
            if (strcmp(optarg, "en") && strcmp(optarg, "ko"))
                return runtime_usage_error(info, "--lang takes en or ko, not \"%s\"", optarg);
            o->lang = !strcmp(optarg, "ko");
            break;
        case O_EXPORT: o->export_dir = optarg; break;
        case O_FORCE: o->force = true; break;
        case O_SHOT:
            if (strlen(optarg) < 5 || strcmp(optarg + strlen(optarg) - 4, ".png"))
                return runtime_usage_error(info, "--screenshot needs a file name ending in .png, not \"%s\"", optarg);
            o->screenshot = optarg;
            break;
        case O_NOSHOT: o->no_screenshot = true; break;
        case O_SAVE: o->save = optarg; break;
        case O_RESUME: o->resume = optarg; break;
        case O_SIZE:
            if (!parse_size(optarg, &o->width, &o->height))
                return runtime_usage_error(info, "--size takes WxH from %dx%d to %dx%d, not \"%s\"", RUNTIME_MIN_WIDTH,
                                           RUNTIME_MIN_HEIGHT, RUNTIME_MAX_SIZE, RUNTIME_MAX_SIZE, optarg);
            break;
        case O_FULL: o->fullscreen = true; break;
        case O_FONT:
            if (!parse_double(optarg, &d) || d < 0.5 || d > 4) return runtime_usage_error(info, "--font-scale takes a number from 0.5 to 4, not \"%s\"", optarg);
            o->font_scale = (float)d;
            break;
        case O_THREADS:
            if (!parse_long(optarg, 1, 256, &v)) return runtime_usage_error(info, "--threads takes a whole number from 1 to 256, not \"%s\"", optarg);
            o->threads = (int)v;
            break;
        case ':': return runtime_usage_error(info, "%s needs a value", argv[optind - 1]);
        default:
            for (const struct option *f = opts; f->name; f++) /* a known flag given a value: --headless=1 */
                if (optopt && f->val == optopt && f->has_arg == no_argument && whole_flag(argv[optind - 1], f->name))
                    return runtime_usage_error(info, "--%s takes no value, not \"%s\"", f->name, argv[optind - 1]);
            return runtime_usage_error(info, "unknown flag \"%s\"", argv[optind - 1]);
        }
    }
    if (optind < argc) return runtime_usage_error(info, "unexpected argument \"%s\"", argv[optind]);
    return -1;
}

/* ------------------------------------------------------------------ paths ---- */

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *exe_dir(void)
{
    static char dir[PATH_MAX];
    if (!dir[0]) {
        ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
        if (n <= 0) return ".";
        dir[n] = 0;
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
    }
    return dir;
}

const char *runtime_source_dir(void)
{
    static char found[PATH_MAX];
    if (found[0]) return found;
    const char *env = getenv("FMLAB_HOME");
    char cand[4][PATH_MAX];
    int n = 0;
    if (env) snprintf(cand[n++], PATH_MAX, "%s", env);
    snprintf(cand[n++], PATH_MAX, "%s/../..", exe_dir());            /* build/lessons/ of a source tree */
    snprintf(cand[n++], PATH_MAX, "%s/../share/fmlab", exe_dir());   /* installed */
    snprintf(cand[n++], PATH_MAX, "%s", FMLAB_SOURCE_ROOT);          /* where it was built from */
    for (int i = 0; i < n; i++) {
        char probe[PATH_MAX + 32];
        if (snprintf(probe, sizeof probe, "%s/datasets/moby_dick", cand[i]) >= (int)sizeof probe) continue;
        if (is_dir(probe)) {
            char *r = realpath(cand[i], NULL);
            if (snprintf(found, sizeof found, "%s", r ? r : cand[i]) >= (int)sizeof found) found[0] = 0;
            free(r);
            return found;
        }
    }
    return NULL;
}

const char *runtime_data_dir(char *err, size_t errlen)
{
    static char dir[PATH_MAX + 16];
    const char *env = getenv("FMLAB_DATA");
    if (env) {
        snprintf(dir, sizeof dir, "%s", env);
        if (!is_dir(dir)) { snprintf(err, errlen, "FMLAB_DATA=%s is not a folder", env); return NULL; }
        return dir;
    }
    const char *root = runtime_source_dir();
    if (!root) {
        snprintf(err, errlen, "the datasets folder was not found next to %s nor in %s (set FMLAB_DATA)", exe_dir(),
                 FMLAB_SOURCE_ROOT);
        return NULL;
    }
    snprintf(dir, sizeof dir, "%s/datasets", root);
    return dir;
}

/* --------------------------------------------------------------- progress ---- */

double runtime_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void runtime_progress(long step, long total, double loss, double seconds)
{
    static long last_tenth = -1;
    double rate = seconds > 0 ? step / seconds : 0;
    double eta = rate > 0 ? (total - step) / rate : 0;
    if (isatty(STDERR_FILENO)) {
        int width = 30, filled = total ? (int)(width * step / total) : width;
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r[%s] step %ld/%ld  loss %.4f  %.1f steps/s  ETA %.0fs   ", bar, step, total, loss, rate, eta);
        if (step == total) fputc('\n', stderr);
    } else {
        /* every tenth of the run; a program that reads the lines to draw its own bar (a lesson
           building its pretrained model) asks for more with FMLAB_PROGRESS_LINES */
        const char *want = getenv("FMLAB_PROGRESS_LINES");
        long parts = want && atol(want) > 10 && atol(want) <= 1000 ? atol(want) : 10;
        long tenth = total ? step * parts / total : parts;
        if (tenth != last_tenth || step == total) {
            fprintf(stderr, "step %ld/%ld loss %.4f (%.1f steps/s)\n", step, total, loss, rate);
            last_tenth = tenth;
        }
    }
}

/* ------------------------------------------------------------------ files ---- */

/* Can a file be created in dir? Tried for real (a temporary file, removed at once): the
 * permission bits say nothing to root or on a read-only mount. */
static bool can_create_in(const char *dir)
{
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/.fmlab-write-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0) return false;
    close(fd);
    unlink(probe);
    return true;
}

int check_writable(const char *path, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    if (!is_dir(dir)) { snprintf(err, errlen, "%s: folder %s does not exist", path, dir); return -1; }
    if (is_dir(path)) { snprintf(err, errlen, "%s is a folder, not a file name", path); return -1; }
    if (!can_create_in(dir)) { snprintf(err, errlen, "%s: folder %s is not writable", path, dir); return -1; }
    return 0;
}

static bool dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return false;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) { empty = false; break; }
    closedir(d);
    return empty;
}

int export_check_target(const char *dir, bool force, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) { snprintf(err, errlen, "--export %s: exists and is not a folder", dir); return -1; }
        if (!force && !dir_empty(dir)) {
            snprintf(err, errlen, "--export %s: the folder is not empty (add --force to replace it)", dir);
            return -1;
        }
    }
    /* the export is written next to DIR and renamed into place: DIR's parent must be writable */
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/') parent[--n] = 0;
    char *slash = strrchr(parent, '/');
    if (slash == parent) parent[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(parent, sizeof parent, ".");
    if (!is_dir(parent)) { snprintf(err, errlen, "--export %s: folder %s does not exist", dir, parent); return -1; }
    if (!can_create_in(parent)) { snprintf(err, errlen, "--export %s: folder %s is not writable", dir, parent); return -1; }
    return 0;
}

/* Removes path and, if it is a folder, everything in it, without following a symbolic link
 * anywhere: a link is removed, never what it points to. */
static int remove_tree_at(int at, const char *name)
{
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return unlinkat(at, name, 0); /* a file or a link */
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) remove_tree_at(dirfd(d), e->d_name);
    closedir(d);
    return unlinkat(at, name, AT_REMOVEDIR);
}

static int remove_tree(const char *path) { return remove_tree_at(AT_FDCWD, path); }

/* path without trailing slashes, in out; its folder and last component in dir and base */
static void split_path(const char *path, char *out, size_t n, char *dir, char *base)
{
    snprintf(out, n, "%s", path);
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/') out[--len] = 0;
    const char *slash = strrchr(out, '/');
    if (!slash) snprintf(dir, PATH_MAX, ".");
    else if (slash == out) snprintf(dir, PATH_MAX, "/");
    else snprintf(dir, PATH_MAX, "%.*s", (int)(slash - out), out);
    snprintf(base, NAME_MAX + 1, "%s", slash ? slash + 1 : out);
}

/* ------------------------------------------------------------- temporaries ---- */

int runtime_stale_name(char *buf, size_t n, const char *target, const char *kind)
{
    char path[PATH_MAX], dir[PATH_MAX], base[NAME_MAX + 1];
    split_path(target, path, sizeof path, dir, base);
    int len = snprintf(buf, n, "%s.%s-%ld-XXXXXX", path, kind, (long)getpid());
    if (len < 0 || (size_t)len >= n || strlen(base) + strlen(kind) + 30 > NAME_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* The pid of name if it is one of target's temporaries ("<base>.<kind>-<pid>-XXXXXX", kind
 * tmp or old), else 0. */
static long stale_pid(const char *name, const char *base, bool *old)
{
    size_t n = strlen(base);
    if (strncmp(name, base, n) || name[n] != '.') return 0;
    const char *p = name + n + 1;
    if (!strncmp(p, "tmp-", 4)) *old = false;
    else if (!strncmp(p, "old-", 4)) *old = true;
    else return 0;
    p += 4;
    char *end;
    if (*p < '1' || *p > '9') return 0;
    errno = 0;
    long pid = strtol(p, &end, 10);
    if (errno || pid <= 0 || pid > INT_MAX || *end != '-' || strlen(end + 1) != 6) return 0;
    for (const char *c = end + 1; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'))) return 0;
    return pid;
}

int runtime_stale_sweep(const char *target)
{
    char path[PATH_MAX], dir[PATH_MAX], base[NAME_MAX + 1];
    split_path(target, path, sizeof path, dir, base);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        bool old;
        long pid = stale_pid(e->d_name, base, &old);
        if (!pid || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* still running (or not ours to ask) */
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) || st.st_uid != getuid()) continue;
        /* an old export moved aside by a run killed before it put the new one in place: it
           goes back where it was, if that place is still free */
        if (old && S_ISDIR(st.st_mode) && renameat(dirfd(d), e->d_name, AT_FDCWD, path) == 0) {
            removed++;
            continue;
        }
        if (remove_tree_at(dirfd(d), e->d_name) == 0) removed++;
    }
    closedir(d);
    return removed;
}

/* ------------------------------------------------------------------ export ---- */

int export_begin(const char *dir, char *tmp, size_t tmplen, char *err, size_t errlen)
{
    runtime_stale_sweep(dir);
    if (runtime_stale_name(tmp, tmplen, dir, "tmp") || !mkdtemp(tmp)) {
        snprintf(err, errlen, "--export %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Swaps two folders in one step, or fails with EINVAL or ENOSYS where the kernel or the file
 * system cannot (Linux before 3.15, some network file systems). */
static int exchange(const char *a, const char *b)
{
#ifdef RENAME_EXCHANGE
    return renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
#else
    (void)a;
    (void)b;
    errno = ENOSYS;
    return -1;
#endif
}

int export_commit_aside(const char *tmp, const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX], parent[PATH_MAX], base[NAME_MAX + 1], old[PATH_MAX + 64];
    split_path(dir, path, sizeof path, parent, base);
    if (runtime_stale_name(old, sizeof old, path, "old") || !mkdtemp(old) || rmdir(old) || rename(path, old)) {
        snprintf(err, errlen, "--export %s: cannot move the old folder aside: %s", dir, strerror(errno));
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "--export %s: %s", dir, strerror(errno));
        rename(old, path);
        return -1;
    }
    remove_tree(old);
    return 0;
}

int export_commit(const char *tmp, const char *dir, bool force, char *err, size_t errlen)
{
    char path[PATH_MAX], parent[PATH_MAX], base[NAME_MAX + 1];
    split_path(dir, path, sizeof path, parent, base);
    chmod(tmp, 0755); /* mkdtemp made it private; an export is for others to read */
    if (rename(tmp, path) == 0) return 0; /* DIR did not exist or was empty: replaced in one step */
    if (!force || (errno != ENOTEMPTY && errno != EEXIST)) {
        snprintf(err, errlen, "--export %s: %s", dir, strerror(errno));
        return -1;
    }
    /* --force on a full DIR: swap the new export and the old one in one step, so that DIR is
       always one or the other, then remove the old one from the temporary name */
    if (exchange(tmp, path) == 0) {
        remove_tree(tmp);
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS) {
        snprintf(err, errlen, "--export %s: %s", dir, strerror(errno));
        return -1;
    }
    return export_commit_aside(tmp, dir, err, errlen);
}

void export_abort(const char *tmp) { remove_tree(tmp); }
