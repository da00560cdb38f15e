/* optim.c — AdamW, SGD, clipping, schedules. */
#include "optim.h"

#include <math.h>

AdamW adamw_default(void) { return (AdamW){0.9f, 0.999f, 1e-8f, 0.01f, 0}; }

void adamw_step(AdamW *opt, ParamBlock *pb, float lr)
{
    ENGINE_CHECK(opt->step >= 0 && opt->step < INT64_MAX, "adamw_step: step %lld (a checkpoint's should have been refused)",
                 (long long)opt->step);
    opt->step++;
    double bc1 = 1.0 - pow(opt->beta1, (double)opt->step);
    double bc2 = 1.0 - pow(opt->beta2, (double)opt->step);
    float step_size = (float)(lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    float b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
    size_t off = 0;
    for (int i = 0; i < pb->count; i++) {
        size_t n = pb->params[i]->size;
        if (!pb->params[i]->requires_grad) { /* frozen: torch skips a param whose .grad is None, decay and moments too */
            off += n;
            continue;
        }
        float keep = pb->decay[i] ? 1.0f - lr * opt->weight_decay : 1.0f;
        float *p = pb->data + off, *g = pb->grad + off, *m = pb->m + off, *v = pb->v + off;
        /* each element on its own: any split among threads gives the same bits */
#ifdef FMLAB_OPENMP
#pragma omp parallel for schedule(static) if (n > 65536)
#endif
        for (size_t j = 0; j < n; j++) {
            p[j] *= keep;
            m[j] = m[j] * b1 + g[j] * (1.0f - b1);
            v[j] = v[j] * b2 + (1.0f - b2) * g[j] * g[j];
            float denom = sqrtf(v[j]) / bc2_sqrt + eps;
            p[j] += -step_size * (m[j] / denom);
        }
        off += n;
    }
}

void sgd_step(Sgd *opt, ParamBlock *pb, float lr)
{
    size_t off = 0;
    for (int i = 0; i < pb->count; i++) {
        size_t n = pb->params[i]->size;
        if (!pb->params[i]->requires_grad) { /* frozen, as in adamw_step */
            off += n;
            continue;
        }
        float wd = pb->decay[i] ? opt->weight_decay : 0.0f;
        float *p = pb->data + off, *g = pb->grad + off, *buf = pb->m + off;
        for (size_t j = 0; j < n; j++) {
            float d = g[j] + wd * p[j];
            if (opt->momentum != 0.0f) {
                buf[j] = opt->step == 0 ? d : opt->momentum * buf[j] + d;
                d = buf[j];
            }
            p[j] -= lr * d;
        }
        off += n;
    }
    opt->step++;
}

/* Σ x² in double, in 8 interleaved lanes added up in a fixed order: a loop the compiler
 * vectorises (a single running sum waits on each add's latency in turn: 1.8% of a lesson's
 * step), the same result on any processor and thread count. Squares of floats cannot
 * overflow a double, so the sum is not finite exactly when some x is not. */
static double sum_squares(const float *x, size_t n)
{
    enum { LANES = 8 };
    double acc[LANES] = {0};
    size_t body = n / LANES * LANES;
    for (size_t i = 0; i < body; i += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += (double)x[i + l] * x[i + l];
    double ss = 0;
    for (int l = 0; l < LANES; l++) ss += acc[l];
    for (size_t i = body; i < n; i++) ss += (double)x[i] * x[i];
    return ss;
}

float clip_grad_norm(ParamBlock *pb, float max_norm)
{
    double ss = sum_squares(pb->grad, pb->n);
    float norm = (float)sqrt(ss);
    float coef = max_norm / (norm + 1e-6f);
    if (coef < 1.0f)
        for (size_t i = 0; i < pb->n; i++) pb->grad[i] *= coef;
    return norm;
}

float lr_at(const LrSchedule *s, int64_t step)
{
    if (step < s->warmup) return s->peak * (float)step / (float)(s->warmup > 1 ? s->warmup : 1);
    if (s->kind == SCHEDULE_CONSTANT) return s->peak;
    int64_t span = s->total - s->warmup > 1 ? s->total - s->warmup : 1;
    double progress = (double)(step - s->warmup) / (double)span;
    if (progress > 1.0) progress = 1.0;
    if (s->kind == SCHEDULE_LINEAR) return s->peak * (float)(1.0 - progress);
    return s->peak * (float)(0.5 * (1.0 + cos(3.14159265358979323846 * progress)));
}
