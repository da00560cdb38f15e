/* main.c — fmlab-mlm: the kit runs the lesson (CLI.md, headless or the window). */
#include "lessons/common/view.h"
#include "lessons/mlm/lesson.h"

extern const LessonView mlm_view;

int main(int argc, char **argv) { return lesson_main(&mlm_lesson, &mlm_view, argc, argv); }
