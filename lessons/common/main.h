/* main.h — a lesson's main(): KIT_MAIN(mlm_lesson, mlm_view). With SDL the program has the
 * window and renders its dashboard; a build without it (-Dviz=disabled) gives the same
 * program headless only, from the same line. */
#ifndef FMLAB_LESSONS_MAIN_H
#define FMLAB_LESSONS_MAIN_H

#include "lessons/common/kit.h"

#ifdef FMLAB_HAVE_VIZ
#include "lessons/common/view.h"
#define KIT_MAIN(lesson, view)                                                                        \
    extern const LessonView view;                                                                     \
    int main(int argc, char **argv) { return lesson_main(&(lesson), &(view), argc, argv); }
#else
#define KIT_MAIN(lesson, view)                                                                        \
    int main(int argc, char **argv) { return kit_main(&(lesson), NULL, argc, argv); }
#endif

#endif
