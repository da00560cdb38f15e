/* main.c — fmlab-electra: the kit runs the lesson (CLI.md, headless or the window). */
#include "lessons/common/main.h"
#include "lessons/electra/lesson.h"

KIT_MAIN(electra_lesson, electra_view)
