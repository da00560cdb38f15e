/* pretrained.c — another lesson's model as this lesson's start (pretrained.h): read from a
 * checkpoint, or built once by that lesson's own program and cached. */
#define _GNU_SOURCE /* readlink */
#include "lessons/common/pretrained.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lessons/common/checkpoint.h"

/* the saved settings' "keys" object, or NULL */
static cJSON *saved_keys(const CheckpointFile *f, cJSON **root)
{
    *root = cJSON_Parse(checkpoint_settings(f));
    cJSON *k = *root ? cJSON_GetObjectItemCaseSensitive(*root, "keys") : NULL;
    return cJSON_IsObject(k) ? k : NULL;
}

static bool saved_value(const cJSON *keys, const char *name, double *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(keys, name);
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble)) return false;
    *v = j->valuedouble;
    return true;
}

/* Where a model of each kind sits in the checkpoint of the lesson that trains it: the prefix
 * its parameters have in their block (kit.h: two models in one block keep their names apart
 * with one), so its tensors are "param.<prefix><Hugging Face name>". A kind not listed was
 * declared without one. */
static const struct SavedModel {
    ModelKind kind;
    const char *prefix;
} saved_models[] = {
    {MODEL_ELECTRA_DISC, "discriminator/"},   /* fmlab-electra: beside its generator, in block 0 */
};

static const char *saved_prefix(ModelKind kind)
{
    for (size_t i = 0; i < sizeof saved_models / sizeof *saved_models; i++)
        if (saved_models[i].kind == kind) return saved_models[i].prefix;
    return "";
}

int kit_pretrained_read(Run *r, const char *path, const char *const *lessons, const ModelKind *kinds,
                        const char *const *keys, KitPretrained *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    CheckpointFile f;
    if (checkpoint_open(&f, path, NULL, err, errlen)) return -1;
    const char *name = st_metadata(&f.st, "lesson");
    int which = -1;
    char accepted[160] = "";
    for (int i = 0; lessons[i]; i++) {
        if (!strcmp(name, lessons[i])) which = i;
        size_t n = strlen(accepted);
        snprintf(accepted + n, sizeof accepted - n, "%sfmlab-%s", i ? " or " : "", lessons[i]);
    }
    int rc = 0;
    cJSON *root = NULL, *saved = NULL;
    if (which < 0) {
        char shown[40];
        size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-");
        snprintf(shown, sizeof shown, "%s", n && n < 32 && !name[n] ? name : "(an unprintable name)");
        rc = engine_error(err, errlen, "%s: a checkpoint of fmlab-%s; it must come from %s", path, shown, accepted);
    } else if (!(saved = saved_keys(&f, &root))) {
        rc = engine_error(err, errlen, "%s: its settings have no keys", path);
    }
    ModelConfig cfg = model_config_default(which >= 0 ? kinds[which] : MODEL_BERT_MLM);
    for (int i = 0; !rc && keys[i]; i++) {
        double v, want = kit_value(r, keys[i]);
        if (!saved_value(saved, keys[i], &v))
            rc = engine_error(err, errlen, "%s: its settings have no %s", path, keys[i]);
        else if (v != want)
            rc = engine_error(err, errlen, "%s: its %s is %g, this run's is %g (--set %s=%g takes the file's)", path,
                              keys[i], v, want, keys[i], v);
    }
    if (!rc) {
        cfg.vocab_size = (int)kit_value(r, "vocab_size");
        cfg.hidden_size = (int)kit_value(r, "hidden_size");
        cfg.num_hidden_layers = (int)kit_value(r, "num_hidden_layers");
        cfg.num_attention_heads = (int)kit_value(r, "num_attention_heads");
        cfg.intermediate_size = (int)kit_value(r, "intermediate_size");
        /* no key records the embedding width: BERT's is always the hidden width, and
           fmlab-electra builds its discriminator so (no embeddings_project) */
        cfg.embedding_size = cfg.hidden_size;
        double T = 0;
        saved_value(saved, "seq_len", &T);
        out->seq_len = T > 0 && T < 1e6 ? (int)T : 0;
        cfg.max_position_embeddings = T > 512 ? (int)T : 512;   /* as kit_model_config made it */
        const char *bad = model_config_check(&cfg);
        if (bad) rc = engine_error(err, errlen, "%s: %s", path, bad);
    }
    if (!rc) {
        params_init(&out->pb);
        model_init(&out->model, &cfg, &out->pb, "", NULL);
        if (!params_finalize(&out->pb)) rc = engine_error(err, errlen, "%s: out of memory", path);
        for (int i = 0; !rc && i < out->model.nnamed; i++) {
            const Tensor *t = out->model.named[i].t;
            char key[300], inner[512];
            snprintf(key, sizeof key, "param.%s%s", saved_prefix(cfg.kind), out->model.named[i].name);
            int64_t shape[TENSOR_MAX_DIMS];
            for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[d];
            if (st_read_f32_shape(&f.st, key, t->data, t->ndim, shape, inner, sizeof inner))
                rc = engine_error(err, errlen, "%s: %.400s", path, inner);
            for (size_t k = 0; !rc && k < t->size; k++)
                if (!isfinite(t->data[k]))
                    rc = engine_error(err, errlen, "%s: %s holds NaN or Inf", path, out->model.named[i].name);
        }
        const char *step = st_metadata(&f.st, "step");
        uint64_t s = 0;
        if (!rc && step && checkpoint_parse_u64(step, 1u << 30, &s)) out->step = (long)s;
        snprintf(out->lesson, sizeof out->lesson, "%s", name);
    }
    cJSON_Delete(root);
    checkpoint_close(&f);
    if (rc) kit_pretrained_free(out);
    return rc;
}

void kit_pretrained_free(KitPretrained *p)
{
    if (p->model.named) model_free(&p->model);
    params_free(&p->pb);
    memset(p, 0, sizeof *p);
}

static int make_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) == 0) return S_ISDIR(st.st_mode) ? 0 : engine_error(err, errlen, "%s: not a folder", dir);
    if (mkdir(dir, 0755) && errno != EEXIST) return engine_error(err, errlen, "%s: %s", dir, strerror(errno));
    return 0;
}

int kit_cache_path(const KitPretrainSpec *spec, char *path, size_t n, char *err, size_t errlen)
{
    char dir[4096];
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/') snprintf(dir, sizeof dir, "%s", xdg); /* the XDG spec: a relative one is ignored */
    else if (home && home[0] == '/') snprintf(dir, sizeof dir, "%s/.cache", home);
    else return engine_error(err, errlen, "no cache folder: neither XDG_CACHE_HOME nor HOME is an absolute path");
    if (make_dir(dir, err, errlen)) return -1;
    size_t k = strlen(dir);
    snprintf(dir + k, sizeof dir - k, "/fmlab");
    if (make_dir(dir, err, errlen)) return -1;
    /* the name says what is in it: mlm-2000-64-2-4-256-32-seed1-2000steps.ckpt */
    int w = snprintf(path, n, "%s/%s", dir, spec->lesson);
    for (int i = 0; i < spec->nkeys && w > 0 && (size_t)w < n; i++) w += snprintf(path + w, n - (size_t)w, "-%g", spec->value[i]);
    if (w > 0 && (size_t)w < n && spec->lr > 0) w += snprintf(path + w, n - (size_t)w, "-lr%g", spec->lr);
    if (w > 0 && (size_t)w < n)
        w += snprintf(path + w, n - (size_t)w, "-seed%llu-%ldsteps.ckpt", (unsigned long long)spec->seed, spec->steps);
    if (w < 0 || (size_t)w >= n) return engine_error(err, errlen, "%s: the cache path is too long", dir);
    return 0;
}

bool kit_pretrained_matches(const KitPretrainSpec *spec, const char *path)
{
    CheckpointFile f;
    char err[512];
    if (checkpoint_open(&f, path, spec->lesson, err, sizeof err)) return false;
    cJSON *root = NULL, *keys = saved_keys(&f, &root);
    const char *step = st_metadata(&f.st, "step");
    uint64_t s = 0;
    bool ok = keys && step && checkpoint_parse_u64(step, 1u << 30, &s) && (long)s == spec->steps;
    const cJSON *seed = root ? cJSON_GetObjectItemCaseSensitive(root, "seed") : NULL;
    char want[32];
    snprintf(want, sizeof want, "%llu", (unsigned long long)spec->seed);
    ok = ok && cJSON_IsString(seed) && !strcmp(seed->valuestring, want);
    if (ok && spec->lr > 0) { /* the learning rate it was trained at, as --lr gave it */
        const cJSON *lr = cJSON_GetObjectItemCaseSensitive(root, "lr");
        ok = cJSON_IsNumber(lr) && (float)lr->valuedouble == (float)spec->lr;
    }
    for (int i = 0; ok && i < spec->nkeys; i++) {
        double v;
        ok = saved_value(keys, spec->key[i], &v) && v == spec->value[i];
    }
    cJSON_Delete(root);
    checkpoint_close(&f);
    return ok;
}

/* the program of another lesson, beside this one (the build folder or the installed bin/) */
static int program_path(const char *lesson, char *out, size_t n)
{
    char dir[4096];
    ssize_t k = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (k <= 0) return -1;
    dir[k] = 0;
    char *slash = strrchr(dir, '/');
    if (!slash) return -1;
    *slash = 0;
    /* in the build tree the lessons sit side by side in lessons/; a test binary elsewhere
       (tests/) finds them there too */
    const char *tries[] = {"%s/fmlab-%s", "%s/../lessons/fmlab-%s"};
    for (size_t t = 0; t < sizeof tries / sizeof *tries; t++) {
        snprintf(out, n, tries[t], dir, lesson);
        if (access(out, X_OK) == 0) return 0;
    }
    return -1;
}

KitProgressFn kit_progress_window;

int kit_pretrained_load(Run *r, KitPretrainSpec spec, const char *const *lessons, const ModelKind *kinds,
                        const char *const *keys, KitPretrained *out, bool *built)
{
    const LessonInfo *info = &r->lesson->info;
    char err[1200], path[4096];
    *built = false;
    if (r->opt.model_file) {
        if (kit_pretrained_read(r, r->opt.model_file, lessons, kinds, keys, out, err, sizeof err))
            return runtime_usage_error(info, "--%s %s", info->model_flag, err);
        /* allowed (a student may want to see it), but said: the positions past the file's were
           never trained, whereas the cache is always built at the run's seq_len */
        if (out->seq_len > 0 && out->seq_len < r->T)
            runtime_message(kit_prog(r), "note: %s was trained on sequences of %d tokens and this run reads %d: the "
                            "position embeddings %d to %d start untrained (--set seq_len=%d matches the file)",
                            r->opt.model_file, out->seq_len, r->T, out->seq_len, r->T - 1, out->seq_len);
        return -1;
    }
    for (int i = 0; keys[i] && spec.nkeys < KIT_PRETRAINED_KEYS - 1; i++) {
        spec.key[spec.nkeys] = keys[i];
        spec.value[spec.nkeys++] = kit_value(r, keys[i]);
    }
    spec.key[spec.nkeys] = "seq_len";
    spec.value[spec.nkeys++] = r->T;
    if (kit_pretrained_cached(r, &spec, path, sizeof path, built, err, sizeof err)) {
        runtime_message(kit_prog(r), "%s", err);
        return EXIT_INTERNAL;
    }
    if (kit_pretrained_read(r, path, lessons, kinds, keys, out, err, sizeof err)) {
        runtime_message(kit_prog(r), "the cached model: %s", err);
        return EXIT_INTERNAL;
    }
    return -1;
}

int kit_pretrain(Run *r, const KitPretrainSpec *spec, const char *path, char *err, size_t errlen)
{
    char prog[4200];
    if (program_path(spec->lesson, prog, sizeof prog))
        return engine_error(err, errlen, "fmlab-%s is not beside %s: it builds the pretrained model", spec->lesson, kit_prog(r));
    char steps[32], seed[32], sets[KIT_PRETRAINED_KEYS][96], threads[16], lr[32];
    snprintf(steps, sizeof steps, "%ld", spec->steps);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)spec->seed);
    snprintf(threads, sizeof threads, "%d", r->opt.threads);
    const char *argv[18 + 2 * KIT_PRETRAINED_KEYS];
    int a = 0;
    argv[a++] = prog;
    argv[a++] = "--headless";
    argv[a++] = "--steps";
    argv[a++] = steps;
    argv[a++] = "--seed";
    argv[a++] = seed;
    if (spec->lr > 0) {
        snprintf(lr, sizeof lr, "%.9g", spec->lr);
        argv[a++] = "--lr";
        argv[a++] = lr;
    }
    for (int i = 0; i < spec->nkeys; i++) {
        snprintf(sets[i], sizeof sets[i], "%s=%.17g", spec->key[i], spec->value[i]);
        argv[a++] = "--set";
        argv[a++] = sets[i];
    }
    if (r->opt.threads) {
        argv[a++] = "--threads";
        argv[a++] = threads;
    }
    argv[a++] = "--save";
    argv[a++] = path;
    argv[a] = NULL;

    int fd[2];
    if (pipe(fd)) return engine_error(err, errlen, "cannot start fmlab-%s: %s", spec->lesson, strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return engine_error(err, errlen, "cannot start fmlab-%s: %s", spec->lesson, strerror(errno));
    }
    if (pid == 0) { /* its progress lines come to us; its summary on stdout is not ours to print */
        dup2(fd[1], STDERR_FILENO);
        setenv("FMLAB_PROGRESS_LINES", "100", 1);   /* a progress line every hundredth, not every tenth */
        int null = open("/dev/null", 1);
        if (null >= 0) dup2(null, STDOUT_FILENO);
        close(fd[0]), close(fd[1]);
        execv(prog, (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    FILE *in = fdopen(fd[0], "r");
    char line[1024], last[1024] = "";
    bool tty = isatty(STDERR_FILENO);
    double t0 = runtime_seconds();
    bool window = !r->opt.headless && kit_progress_window, stopped = false;
    char what[4400];
    snprintf(what, sizeof what, "Building the pretrained encoder once: fmlab-%s, %ld steps. It is kept for the next time, in %s",
             spec->lesson, spec->steps, path);
    if (window) stopped = !kit_progress_window(r, what, 0, spec->steps, NAN);
    fprintf(stderr, "%s: building the pretrained model once: fmlab-%s, %ld steps (seed %s)\n  into %s\n", kit_prog(r),
            spec->lesson, spec->steps, seed, path);
    while (!stopped && in && fgets(line, sizeof line, in)) {
        long s, total;
        double loss;
        if (sscanf(line, "step %ld/%ld loss %lf", &s, &total, &loss) == 3 && total > 0) {
            int width = 30, filled = (int)(width * s / total);
            char bar[40];
            for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
            bar[width] = 0;
            double t = runtime_seconds() - t0, eta = s ? t * (double)(total - s) / (double)s : 0;
            if (tty || s * 10 / total != (s - 1) * 10 / total || s == total) /* plain lines: every tenth */
                fprintf(stderr, "%s  pretraining [%s] step %ld/%ld  MLM loss %.3f  ETA %.0fs   %s", tty ? "\r" : "", bar, s,
                        total, loss, eta, tty ? "" : "\n");
            if (window) stopped = !kit_progress_window(r, what, s, total, loss);
        } else {
            line[strcspn(line, "\r\n")] = 0;
            if (line[0]) snprintf(last, sizeof last, "%s", line);
        }
    }
    if (window) kit_progress_window(r, what, 0, -1, NAN);
    if (stopped) kill(pid, SIGTERM);
    if (tty) fputc('\n', stderr);
    if (in) fclose(in);
    else close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (stopped) return engine_error(err, errlen, "the window was closed while the pretrained model was being built");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        unlink(path);
        return engine_error(err, errlen, "building the pretrained model with fmlab-%s failed (%s %d): %.300s", spec->lesson,
                            WIFEXITED(status) ? "exit status" : "signal",
                            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), last[0] ? last : "no message");
    }
    fprintf(stderr, "%s: pretrained model ready in %.0f s: %s\n", kit_prog(r), runtime_seconds() - t0, path);
    return 0;
}

int kit_pretrained_cached(Run *r, const KitPretrainSpec *spec, char *path, size_t n, bool *built, char *err, size_t errlen)
{
    *built = false;
    if (kit_cache_path(spec, path, n, err, errlen)) return -1;
    char lock[4200];
    snprintf(lock, sizeof lock, "%s.lock", path);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (flock(fd, LOCK_EX | LOCK_NB)) { /* another run is building it: wait for that one */
            fprintf(stderr, "%s: another fmlab program is checking or building %s; waiting for it\n", kit_prog(r), path);
            while (flock(fd, LOCK_EX) && errno == EINTR) {}
        }
    }
    int rc = 0;
    bool there = access(path, F_OK) == 0;
    if (!there || !kit_pretrained_matches(spec, path)) {
        if (there) runtime_message(kit_prog(r), "%s: its settings do not match its name; building it again", path);
        rc = kit_pretrain(r, spec, path, err, errlen);
        *built = rc == 0;
    }
    if (fd >= 0) close(fd);   /* the lock goes with it; the lock file stays for the next run */
    return rc;
}
