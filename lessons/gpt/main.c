/* main.c — fmlab-gpt: the kit runs the lesson (CLI.md, headless or the window). */
#include "lessons/common/main.h"
#include "lessons/gpt/lesson.h"

KIT_MAIN(gpt_lesson, gpt_view)
