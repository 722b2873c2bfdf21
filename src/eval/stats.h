/*
 * stats.h — the significance tests drec bench reports between models:
 * Student's t distribution (through the regularised incomplete beta
 * function), the two-sided paired t-test on per-user metric vectors, and
 * percentile bootstrap confidence intervals with a fixed seed.
 */
#ifndef DREC_STATS_H
#define DREC_STATS_H

#include "core/common.h"

/* ln Gamma(x) for x > 0. */
double drec_lgamma(double x);
/* The regularised incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1
 * (continued fraction, relative accuracy ~1e-12). */
double drec_betainc(double a, double b, double x);
/* P(T <= t) for Student's t with df > 0 degrees of freedom. */
double drec_t_cdf(double t, double df);

typedef struct drec_ttest {
    size_t n;        /* pairs used (both values finite) */
    double mean_diff; /* mean of a - b */
    double t;        /* t statistic (+-inf when the differences are all equal and nonzero) */
    double p;        /* two-sided p-value; 1 when n < 2 or all differences are 0 */
} drec_ttest;

/* Paired two-sided t-test of a[0..n) against b[0..n); pairs with a NaN are
 * left out. */
drec_ttest drec_paired_ttest(const double *a, const double *b, size_t n);

/* How a bootstrap resample becomes a statistic: the mean, or the square
 * root of the mean (rmse from squared errors). */
typedef enum { DREC_STAT_MEAN = 0, DREC_STAT_SQRT_MEAN } drec_stat_kind;

/* Percentile bootstrap CI at level (e.g. 0.95) of the statistic of x (or of
 * x - y when y is not NULL: the paired difference), B resamples of the n
 * units drawn with a generator seeded by seed.  NaN values are left out.
 * Writes lo/hi (NaN when fewer than 2 values). */
void drec_bootstrap_ci(const double *x, const double *y, size_t n, drec_stat_kind kind, int B, double level,
                       uint64_t seed, double *lo, double *hi);

#endif
