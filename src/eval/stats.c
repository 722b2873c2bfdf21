/*
 * stats.c — Student's t CDF, the paired t-test and bootstrap intervals.
 * The incomplete beta function follows the classic continued fraction
 * (modified Lentz), evaluated on whichever side of the mean converges.
 * Bootstrap resamples run in parallel, each with its own seeded generator.
 */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

double drec_lgamma(double x) { return lgamma(x); }

/* Continued fraction for I_x(a, b) (valid for x < (a+1)/(a+b+2)). */
static double betacf(double a, double b, double x) {
    const double tiny = 1e-300, eps = 1e-15;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 1000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < eps) break;
    }
    return h;
}

double drec_betainc(double a, double b, double x) {
    if (!(a > 0 && b > 0) || isnan(x)) return NAN;
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1) / (a + b + 2)) return exp(lbt) * betacf(a, b, x) / a;
    return 1 - exp(lbt) * betacf(b, a, 1 - x) / b;
}

double drec_t_cdf(double t, double df) {
    if (isnan(t) || !(df > 0)) return NAN;
    if (isinf(t)) return t > 0 ? 1 : 0;
    /* P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2) */
    double tail = drec_betainc(df / 2, 0.5, df / (df + t * t));
    return t > 0 ? 1 - tail / 2 : tail / 2;
}

drec_ttest drec_paired_ttest(const double *a, const double *b, size_t n) {
    drec_ttest r = {0, 0, 0, 1};
    double sum = 0;
    for (size_t j = 0; j < n; j++)
        if (!isnan(a[j]) && !isnan(b[j])) {
            sum += a[j] - b[j];
            r.n++;
        }
    if (r.n == 0) {
        r.mean_diff = NAN;
        r.t = NAN;
        return r;
    }
    r.mean_diff = sum / (double)r.n;
    if (r.n < 2) {
        r.t = NAN;
        return r;
    }
    double ss = 0;
    for (size_t j = 0; j < n; j++)
        if (!isnan(a[j]) && !isnan(b[j])) {
            double d = a[j] - b[j] - r.mean_diff;
            ss += d * d;
        }
    double sd = sqrt(ss / (double)(r.n - 1));
    /* Differences that are all equal: no variance to test against. */
    if (sd <= 1e-15 * (fabs(r.mean_diff) + 1e-300)) {
        if (fabs(r.mean_diff) < 1e-300) {
            r.t = 0;
            r.p = 1;
        } else {
            r.t = r.mean_diff > 0 ? INFINITY : -INFINITY;
            r.p = 0;
        }
        return r;
    }
    r.t = r.mean_diff / (sd / sqrt((double)r.n));
    double df = (double)r.n - 1;
    r.p = drec_betainc(df / 2, 0.5, df / (df + r.t * r.t));
    return r;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

void drec_bootstrap_ci(const double *x, const double *y, size_t n, drec_stat_kind kind, int B, double level,
                       uint64_t seed, double *lo, double *hi) {
    *lo = *hi = NAN;
    double *v = drec_malloc((n ? n : 1) * sizeof *v);
    size_t m = 0;
    for (size_t j = 0; j < n; j++) {
        double d = y ? x[j] - y[j] : x[j];
        if (!isnan(d)) v[m++] = d;
    }
    if (m < 2 || B < 1) {
        free(v);
        return;
    }
    double *stat = drec_malloc((size_t)B * sizeof *stat);
    /* One generator per resample: the same intervals at any thread count. */
#pragma omp parallel for schedule(static) if ((double)B * (double)m > 1e6)
    for (int b = 0; b < B; b++) {
        drec_rng rng;
        drec_rng_seed2(&rng, seed, (uint64_t)b);
        double s = 0;
        for (size_t j = 0; j < m; j++) s += v[drec_rng_below(&rng, (uint32_t)m)];
        s /= (double)m;
        stat[b] = kind == DREC_STAT_SQRT_MEAN ? sqrt(s > 0 ? s : 0) : s;
    }
    qsort(stat, (size_t)B, sizeof *stat, cmp_double);
    double alpha = (1 - level) / 2;
    /* Percentile positions by linear interpolation (type 7). */
    double pl = alpha * (B - 1), ph = (1 - alpha) * (B - 1);
    size_t il = (size_t)pl, ih = (size_t)ph;
    *lo = stat[il] + (pl - il) * (il + 1 < (size_t)B ? stat[il + 1] - stat[il] : 0);
    *hi = stat[ih] + (ph - ih) * (ih + 1 < (size_t)B ? stat[ih + 1] - stat[ih] : 0);
    free(stat);
    free(v);
}
