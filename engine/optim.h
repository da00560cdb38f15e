/* optim.h — optimizers, gradient clipping and the learning-rate schedule.
 *
 * AdamW follows torch.optim.AdamW step for step (decoupled weight decay applied to the
 * weights before the moment update, bias correction of both moments, eps added after the
 * square root), so fmlab and PyTorch agree to float precision; tests/torch_adamw_ref.py
 * produced the reference values. SGD follows torch.optim.SGD (momentum buffer = the first
 * gradient, then μ·buf + g; coupled weight decay). The moments live in the ParamBlock.
 *
 * A frozen parameter (requires_grad false, params.h) is skipped by both steps, as torch skips
 * one whose .grad is None: its value is not updated, not even weight-decayed, and its moments
 * stay as they were. One unfrozen later resumes with the block's step count in AdamW's bias
 * correction and SGD's first-step rule, where torch keeps a step per parameter: fmlab and
 * torch agree for parameters frozen (or not) from the start, not for gradual unfreezing. */
#ifndef FMLAB_ENGINE_OPTIM_H
#define FMLAB_ENGINE_OPTIM_H

#include "params.h"

typedef struct AdamW {
    float beta1, beta2, eps, weight_decay;
    int64_t step;          /* updates done so far */
} AdamW;

/* torch's defaults: betas (0.9, 0.999), eps 1e-8, weight_decay 0.01 */
AdamW adamw_default(void);
/* One update of every parameter of pb that is not frozen. */
void adamw_step(AdamW *opt, ParamBlock *pb, float lr);

typedef struct Sgd {
    float momentum, weight_decay;
    int64_t step;
} Sgd;
void sgd_step(Sgd *opt, ParamBlock *pb, float lr);   /* uses pb->m as the momentum buffer; skips frozen ones */

/* Scales all gradients so their global L2 norm is at most max_norm (torch's
 * clip_grad_norm_: coefficient max_norm / (norm + 1e-6), capped at 1). Returns the norm
 * before clipping. */
float clip_grad_norm(ParamBlock *pb, float max_norm);

typedef enum ScheduleKind { SCHEDULE_CONSTANT, SCHEDULE_LINEAR, SCHEDULE_COSINE } ScheduleKind;
typedef struct LrSchedule {
    ScheduleKind kind;
    float peak;
    int warmup;            /* steps of linear warm-up from 0 */
    int total;             /* step at which linear/cosine decay reaches 0 */
} LrSchedule;
/* The learning rate of update number `step` (0-based), as Hugging Face's
 * get_linear_schedule_with_warmup / get_cosine_schedule_with_warmup compute it. */
float lr_at(const LrSchedule *s, int64_t step);

#endif
