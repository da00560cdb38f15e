/* main.c — fmlab-nsp: the kit runs the lesson (CLI.md, headless or the window). */
#include "lessons/common/main.h"
#include "lessons/nsp/lesson.h"

KIT_MAIN(nsp_lesson, nsp_view)
