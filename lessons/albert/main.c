/* main.c — fmlab-albert: the kit runs the lesson (CLI.md, headless or the window). */
#include "lessons/common/main.h"
#include "lessons/albert/lesson.h"

KIT_MAIN(albert_lesson, albert_view)
