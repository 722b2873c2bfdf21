/*
 * common.h — what every file of drec uses: errors, allocation, logging and
 * progress, timing, the random number generator and the small containers
 * (string map, top-k heap).  Nothing here knows what a user or an item is.
 */
#ifndef DREC_COMMON_H
#define DREC_COMMON_H

#include "drec.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DREC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DREC_MAX(a, b) ((a) > (b) ? (a) : (b))
#define DREC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A hot loop nest: compiled for AVX-512, AVX2+FMA and baseline x86-64,
 * picked at load time, and vectorised whatever the build's -O level (math
 * calls without errno, so that they vectorise too).  DREC_HOT_HAND is for
 * kernels vectorised by hand, where the loop vectoriser would only gather
 * across their scalar broadcasts. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DREC_CLONES target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")
#define DREC_HOT __attribute__((DREC_CLONES, optimize("O3", "no-math-errno")))
#define DREC_HOT_HAND __attribute__((DREC_CLONES, optimize("O3", "no-tree-loop-vectorize")))
#else
#define DREC_HOT
#define DREC_HOT_HAND
#endif

/* ---- errors (error.c) ------------------------------------------------- */

/* Records a printf-style message for drec_errmsg() and returns st, so that
 * failing paths read `return drec_fail(DREC_ERR_INPUT, "%s:%zu: ...", ...)`. */
drec_status drec_fail(drec_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefixes the current message with "what: " (adds context on the way up). */
drec_status drec_fail_wrap(drec_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void drec_clear_error(void);

/* ---- allocation ---------------------------------------------------------
 * Like Redis's zmalloc: running out of memory is reported and aborts, so
 * callers need not test every small allocation.  Large, input-sized
 * allocations that a user can provoke should use drec_try_malloc and fail
 * with DREC_ERR_NOMEM instead. */
void *drec_malloc(size_t n);
void *drec_calloc(size_t n, size_t size);
void *drec_realloc(void *p, size_t n);
char *drec_strdup(const char *s);
char *drec_strndup(const char *s, size_t n);
void *drec_try_malloc(size_t n);
/* 64-byte aligned (SIMD rows, mmap-able sections); free with drec_free. */
void *drec_aligned_alloc(size_t n);
/* The same, zeroed by writing now: calloc's untouched pages would each
 * take a fault on the first write, and where another thread had read the
 * page, a TLB shootdown across the CPUs too, inside the first epoch. */
void *drec_aligned_zalloc(size_t n);
void drec_free(void *p);

/* Grows a dynamic array so that it can hold `need` elements. */
#define DREC_GROW(ptr, cap, need)                                           \
    do {                                                                    \
        if ((size_t)(need) > (size_t)(cap)) {                               \
            size_t nc_ = (cap) ? (size_t)(cap) * 2 : 16;                    \
            while (nc_ < (size_t)(need)) nc_ *= 2;                          \
            (ptr) = drec_realloc((ptr), nc_ * sizeof(*(ptr)));              \
            (cap) = nc_;                                                    \
        }                                                                   \
    } while (0)

/* ---- logging and progress (log.c) ------------------------------------ */

void drec_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void drec_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void drec_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int drec_verbosity(void);

/* A progress bar on stderr, drawn only when stderr is a terminal and
 * verbosity >= 1.  Safe to tick from one thread; cheap when not drawn. */
typedef struct drec_progress {
    const char *label;
    size_t total, done;
    double t0, last_draw;
    bool draw;
    char extra[64];
} drec_progress;
void drec_progress_begin(drec_progress *p, const char *label, size_t total);
void drec_progress_tick(drec_progress *p, size_t n);
/* Text shown after the bar, e.g. "loss 0.312". */
void drec_progress_extra(drec_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void drec_progress_end(drec_progress *p);

/* ---- time ---------------------------------------------------------------- */

double drec_now(void); /* monotonic seconds */
double drec_cpu_now(void); /* CPU seconds of the process, all threads */

/* ---- random numbers (rng.c) ---------------------------------------------
 * xoshiro256** seeded through splitmix64: fast, good, and reproducible
 * across platforms.  Each thread or stream owns one; none is global. */
typedef struct drec_rng {
    uint64_t s[4];
} drec_rng;
void drec_rng_seed(drec_rng *r, uint64_t seed);
/* An independent stream for (seed, stream) — e.g. one per thread. */
void drec_rng_seed2(drec_rng *r, uint64_t seed, uint64_t stream);
uint64_t drec_rng_u64(drec_rng *r);
uint32_t drec_rng_below(drec_rng *r, uint32_t n); /* uniform in [0, n) */
double drec_rng_double(drec_rng *r);              /* uniform in [0, 1) */
float drec_rng_float(drec_rng *r);                /* uniform in [0, 1) */
double drec_rng_normal(drec_rng *r);              /* standard normal */
double drec_rng_gamma(drec_rng *r, double shape); /* Gamma(shape, 1) */
double drec_rng_beta(drec_rng *r, double a, double b);
void drec_rng_shuffle_i32(drec_rng *r, int32_t *a, size_t n);
void drec_rng_shuffle_size(drec_rng *r, size_t *a, size_t n);

/* ---- string -> dense id map (strmap.c) ----------------------------------
 * Interns strings to 0, 1, 2, ... in order of first sight; keeps the names
 * for the way back.  Open addressing on xxHash64; names live in one arena. */
typedef struct drec_strmap {
    int32_t *slots;     /* id + 1, 0 = empty; size cap (power of two) */
    size_t cap;
    uint64_t *hashes;   /* by id */
    uint32_t *offs;     /* by id: offset of the name in text */
    uint32_t *lens;     /* by id */
    int32_t n, n_cap;
    char *text;         /* names, each followed by a NUL */
    size_t text_len, text_cap;
} drec_strmap;
void drec_strmap_init(drec_strmap *m);
void drec_strmap_free(drec_strmap *m);
/* The id of s[0..len), adding it if new. */
int32_t drec_strmap_intern(drec_strmap *m, const char *s, size_t len);
/* The id of s[0..len), or -1. */
int32_t drec_strmap_find(const drec_strmap *m, const char *s, size_t len);
static inline const char *drec_strmap_name(const drec_strmap *m, int32_t id) {
    return (id >= 0 && id < m->n) ? m->text + m->offs[id] : NULL;
}
void drec_strmap_copy(drec_strmap *dst, const drec_strmap *src);

/* ---- top-k selection (topk.c) -------------------------------------------
 * Keeps the k best (highest score) of a stream; ties broken by lower id so
 * that results never depend on thread count.  `heap` is caller-owned
 * storage of k entries (no allocation here: safe in serving paths). */
typedef struct drec_topk {
    drec_scored *heap;
    int k, n;
} drec_topk;
void drec_topk_init(drec_topk *t, drec_scored *storage, int k);
void drec_topk_push(drec_topk *t, int32_t id, float score);
/* Sorts best-first in place and returns the count. */
int drec_topk_finish(drec_topk *t);

/* ---- hashing ------------------------------------------------------------- */
uint64_t drec_hash64(const void *p, size_t n, uint64_t seed);

/* ---- files (fileio.c) ----------------------------------------------------
 * Atomic whole-file writes: temp file in the same folder, fsync, rename,
 * fsync of the folder.  A crash leaves the old file or the new one. */
typedef struct drec_atomic_file drec_atomic_file;
drec_status drec_atomic_open(const char *path, drec_atomic_file **out);
drec_status drec_atomic_write(drec_atomic_file *f, const void *p, size_t n);
drec_status drec_atomic_commit(drec_atomic_file *f); /* frees f */
void drec_atomic_abort(drec_atomic_file *f);         /* frees f, removes tmp */
drec_status drec_write_file_atomic(const char *path, const void *p, size_t n);

/* A whole file mapped read-only (or read, for pipes).  Always NUL-terminated
 * one past the end, so parsers may look at data[size]. */
typedef struct drec_mapped {
    const char *data;
    size_t size;
    void *base;
    size_t map_len;
    bool is_mmap;
} drec_mapped;
drec_status drec_map_file(const char *path, drec_mapped *out);
void drec_unmap_file(drec_mapped *m);

/* ---- threads ------------------------------------------------------------- */
/* Sets the thread count used by OpenMP regions and BLAS (0 = all cores). */
void drec_set_threads(int n);
int drec_threads(void);
/* The element count from which a memory-bound element-wise pass is split
 * across threads: 2^15 while idle workers spin (libgomp's default for a
 * while after each region, and OMP_WAIT_POLICY=active), 2^18 when they sleep
 * (OMP_WAIT_POLICY=passive), where every region pays for a wake-up. */
int64_t drec_split_min(void);

#endif /* DREC_COMMON_H */
