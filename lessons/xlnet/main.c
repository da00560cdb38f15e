/* main.c — fmlab-xlnet: the kit runs the lesson (CLI.md, headless or the window). */
#include "lessons/common/main.h"
#include "lessons/xlnet/lesson.h"

KIT_MAIN(xlnet_lesson, xlnet_view)
