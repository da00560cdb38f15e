/* main.c — fmlab-mlm: the kit runs the lesson (CLI.md, headless or the window). */
#include "lessons/common/main.h"
#include "lessons/mlm/lesson.h"

KIT_MAIN(mlm_lesson, mlm_view)
