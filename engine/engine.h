/* engine.h — everything a model or a lesson needs from the engine, in one include. */
#ifndef FMLAB_ENGINE_H
#define FMLAB_ENGINE_H

#include "arena.h"
#include "common.h"
#include "gemm.h"
#include "nn.h"
#include "ops.h"
#include "optim.h"
#include "params.h"
#include "rng.h"
#include "safetensors.h"
#include "tape.h"
#include "tensor.h"

#endif
