/* testutil.h — small helpers shared by the cmocka suites: random fills and tolerant
 * comparisons that print where two arrays part. */
#ifndef FMLAB_TESTUTIL_H
#define FMLAB_TESTUTIL_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "engine/engine.h"

static inline void fill_normal(float *x, size_t n, Rng *r, float std)
{
    for (size_t i = 0; i < n; i++) x[i] = rng_normal(r, 0.0f, std);
}

/* Largest |a - b| / (atol + rtol·max(|a|,|b|)) over the arrays: the comparison passes
 * when this is <= 1. Prints the worst index when it is not. */
static inline double close_ratio(const char *what, const float *a, const double *b, size_t n,
                                 double atol, double rtol)
{
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        double tol = atol + rtol * fmax(fabs((double)a[i]), fabs(b[i]));
        double r = isfinite(d) ? d / tol : INFINITY;
        if (r > worst) { worst = r; wi = i; }
    }
    if (worst > 1)
        print_message("%s: index %zu got %.8g, expected %.8g (%.2f× the tolerance)\n", what, wi,
                      (double)a[wi], b[wi], worst);
    return worst;
}

static inline void assert_close_f(const char *what, const float *a, const float *b, size_t n,
                                  double atol, double rtol)
{
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        double tol = atol + rtol * fmax(fabs((double)a[i]), fabs((double)b[i]));
        double r = isfinite(d) ? d / tol : INFINITY;
        if (r > worst) { worst = r; wi = i; }
    }
    if (worst > 1)
        print_message("%s: index %zu: %.8g vs %.8g (%.2f× the tolerance)\n", what, wi, (double)a[wi],
                      (double)b[wi], worst);
    assert_true(worst <= 1);
}

/* |a - b| <= tol, in double, saying both values when not. */
#define assert_near(a, b, tol)                                                                       \
    do {                                                                                              \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                                \
        if (!(fabs(a_ - b_) <= t_)) fail_msg("%s = %.10g, %s = %.10g: differ by %.3g > %.3g", #a, a_, #b, b_, fabs(a_ - b_), t_); \
    } while (0)

#endif
