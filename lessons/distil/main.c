/* main.c — fmlab-distil: the kit runs the lesson (CLI.md, headless or the window). */
#include "lessons/common/main.h"
#include "lessons/distil/lesson.h"

KIT_MAIN(distil_lesson, distil_view)
