/* trained.c — the lesson's long-trained model (trained.h). */
#include "lessons/common/trained.h"

#include <cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void why(KitTrained *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->why, sizeof t->why, fmt, ap);
    va_end(ap);
    t->ok = false;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (64L << 20) && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n)
        buf[n] = 0;
    else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* The last row of metrics.csv that has held-out figures. */
static void read_heldout(KitTrained *t, const char *path)
{
    t->eval_loss = t->eval_accuracy = NAN;
    char *csv = slurp(path);
    if (!csv) return;
    int cl = -1, ca = -1, col = 0;
    char *line = strtok(csv, "\n");
    for (char *p = line, *q; p; p = q, col++) {
        if ((q = strchr(p, ','))) *q++ = 0;
        if (!strcmp(p, "eval_loss")) cl = col;
        if (!strcmp(p, "eval_accuracy")) ca = col;
    }
    while (cl >= 0 && ca >= 0 && (line = strtok(NULL, "\n"))) {
        double loss = NAN, acc = NAN;
        col = 0;
        for (char *p = line, *q; p; p = q, col++) {
            if ((q = strchr(p, ','))) *q++ = 0;
            if (col == cl && *p) loss = strtod(p, NULL);
            if (col == ca && *p) acc = strtod(p, NULL);
        }
        if (!isnan(loss)) t->eval_loss = loss, t->eval_accuracy = acc;
    }
    free(csv);
}

static bool same_vocab(const Vocab *a, const Vocab *b)
{
    if (!a || a->size != b->size) return false;
    for (int i = 0; i < a->size; i++)
        if (strcmp(vocab_token(a, i), vocab_token(b, i))) return false;
    return true;
}

void kit_trained_load(KitTrained *t, const Run *r)
{
    memset(t, 0, sizeof *t);
    const Lesson *l = r->lesson;
    const char *root = runtime_source_dir();
    char dir[4096], path[4300], err[512];
    snprintf(dir, sizeof dir, "%s/lessons/%s/trained", root ? root : ".", l->info.name);
    snprintf(path, sizeof path, "%s/lesson.json", dir);
    char *json = slurp(path);
    if (!json) return why(t, "No trained model ships with this lesson (%s).", path);
    cJSON *j = cJSON_Parse(json);
    free(json);
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(j, "step");
    const cJSON *T = cJSON_GetObjectItemCaseSensitive(j, "seq_len");
    t->step = cJSON_IsNumber(step) ? (long)step->valuedouble : 0;
    t->seq_len = cJSON_IsNumber(T) ? (int)T->valuedouble : 0;
    cJSON_Delete(j);
    if (t->step <= 0 || t->seq_len <= 0) return why(t, "%s has no step or seq_len.", path);

    char mdir[4200];
    snprintf(mdir, sizeof mdir, "%s/%s", dir, l->models[0].folder);
    ModelConfig cfg;
    if (model_config_load(&cfg, mdir, err, sizeof err)) return why(t, "%s", err);
    snprintf(path, sizeof path, "%s/vocab.txt", mdir);
    vocab_init(&t->vocab);
    if (vocab_load(&t->vocab, path, err, sizeof err)) return why(t, "%s", err);
    if (cfg.vocab_size != t->vocab.size) return why(t, "%s: vocab_size differs from vocab.txt.", mdir);
    params_init(&t->pb);
    model_init(&t->model, &cfg, &t->pb, "", NULL);
    if (!params_finalize(&t->pb)) return why(t, "out of memory for the trained model");
    if (model_load_weights(&t->model, mdir, err, sizeof err)) return why(t, "%s", err);
    /* one sequence of at most seq_len tokens: its activations are small; its attention maps
       and scores dominate */
    size_t n = (size_t)t->seq_len;
    size_t bytes = (size_t)cfg.num_hidden_layers * (cfg.num_attention_heads * n * n * 4 * 2 +
                                                    n * (size_t)(24 * cfg.hidden_size + 6 * cfg.intermediate_size) * 4) +
                   n * (size_t)cfg.vocab_size * 8 + (4u << 20);
    if (!tape_init(&t->tape, bytes, 4096)) return why(t, "out of memory for the trained model");
    t->tape.no_grad = true;
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    read_heldout(t, path);
    snprintf(t->label, sizeof t->label, "trained %ld steps", t->step);

    if (!same_vocab(r->vocab, &t->vocab))
        return why(t, "The trained model reads the shipped %d-token vocabulary; this run's has %d tokens.",
                   t->vocab.size, r->vocab ? r->vocab->size : 0);
    if (r->T > t->seq_len)
        return why(t, "The trained model saw %d tokens at a time; this run's seq_len is %d.", t->seq_len, r->T);
    t->ok = true;
}

KitTrained *kit_trained(Run *r)
{
    if (!r->trained && (r->trained = malloc(sizeof *r->trained))) kit_trained_load(r->trained, r);
    return r->trained;
}

void kit_trained_free(KitTrained *t)
{
    params_free(&t->pb);
    model_free(&t->model);
    vocab_free(&t->vocab);
    tape_free(&t->tape);
    memset(t, 0, sizeof *t);
}

float **kit_trained_attention(KitTrained *t, const int32_t *ids, int n)
{
    if (!t->ok || n > t->seq_len) return NULL;
    tape_reset(&t->tape);
    Batch in = {1, n, ids, NULL, NULL};
    Forward f = {0};
    model_forward(&t->model, &t->tape, &in, &f);
    return f.attn;
}
