/* main.c — fmlab-icl: the kit runs the lesson (CLI.md, headless or the window). */
#include "lessons/common/main.h"
#include "lessons/icl/lesson.h"

KIT_MAIN(icl_lesson, icl_view)
