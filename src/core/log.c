/*
 * log.c — notes, warnings and progress bars through one settable callback;
 * also the clock and the thread count.
 */
#include "common.h"

#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static drec_log_fn log_fn;
static void *log_user;
static int verbosity = 1;

void drec_set_log(drec_log_fn fn, void *user) {
    log_fn = fn;
    log_user = user;
}

void drec_set_verbosity(int level) { verbosity = level; }
int drec_verbosity(void) { return verbosity; }

static void emit(int level, const char *fmt, va_list ap) {
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (log_fn) {
        log_fn(level, buf, log_user);
        return;
    }
    fprintf(stderr, "drec: %s%s\n", level ? "warning: " : "", buf);
}

void drec_note(const char *fmt, ...) {
    if (verbosity < 1) return;
    va_list ap;
    va_start(ap, fmt);
    emit(0, fmt, ap);
    va_end(ap);
}

void drec_warn(const char *fmt, ...) {
    if (verbosity < 1) return;
    va_list ap;
    va_start(ap, fmt);
    emit(1, fmt, ap);
    va_end(ap);
}

void drec_verbose(const char *fmt, ...) {
    if (verbosity < 2) return;
    va_list ap;
    va_start(ap, fmt);
    emit(0, fmt, ap);
    va_end(ap);
}

double drec_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double drec_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void drec_progress_begin(drec_progress *p, const char *label, size_t total) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->t0 = drec_now();
    p->draw = verbosity >= 1 && !log_fn && isatty(STDERR_FILENO);
}

static void draw(drec_progress *p, bool final) {
    double t = drec_now() - p->t0;
    double frac = p->total ? (double)p->done / (double)p->total : 1.0;
    if (frac > 1) frac = 1;
    int width = 30, fill = (int)(frac * width);
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    double eta = frac > 0 ? t / frac - t : 0;
    fprintf(stderr, "\r%-14s [%s] %3.0f%%  %.1fs%s%.0fs left  %s\033[K%s", p->label, bar,
            100 * frac, t, final ? "" : "  ", final ? 0.0 : eta, p->extra, final ? "\n" : "");
    if (final) fprintf(stderr, "\r%-14s [%s] 100%%  %.1fs  %s\033[K\n", p->label, bar, t, p->extra);
    fflush(stderr);
}

void drec_progress_tick(drec_progress *p, size_t n) {
    p->done += n;
    if (!p->draw) return;
    double t = drec_now();
    if (t - p->last_draw < 0.1) return;
    p->last_draw = t;
    draw(p, false);
}

void drec_progress_extra(drec_progress *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->extra, sizeof p->extra, fmt, ap);
    va_end(ap);
}

void drec_progress_end(drec_progress *p) {
    if (!p->draw) return;
    p->done = p->total;
    fprintf(stderr, "\r\033[K");
    double t = drec_now() - p->t0;
    fprintf(stderr, "%-14s done in %.1fs  %s\n", p->label, t, p->extra);
    fflush(stderr);
}

static int n_threads;

void drec_set_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    n_threads = n;
    omp_set_num_threads(n);
    extern void openblas_set_num_threads(int);
    openblas_set_num_threads(n);
}

int drec_threads(void) { return n_threads ? n_threads : omp_get_max_threads(); }

int64_t drec_split_min(void) {
    static int64_t min; /* any thread may be first: the same value, stored atomically */
    int64_t m = __atomic_load_n(&min, __ATOMIC_RELAXED);
    if (!m) {
        const char *p = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
        bool sleeps = (p && !strcasecmp(p, "passive")) || (spin && atoll(spin) == 0);
        m = sleeps ? 1 << 18 : 1 << 15;
        __atomic_store_n(&min, m, __ATOMIC_RELAXED);
    }
    return m;
}
