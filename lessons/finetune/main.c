/* main.c — fmlab-finetune: the kit runs the lesson (CLI.md, headless or the window). */
#include "lessons/common/main.h"
#include "lessons/finetune/lesson.h"

KIT_MAIN(finetune_lesson, finetune_view)
