/*
 * eval_bench.c — speed of full-ranking evaluation (drec_evaluate, the engine
 * behind `drec eval` / `drec bench`): U users x I items, a dot-product model
 * of dimension D (random embeddings, items stored dimension-major so that
 * scoring all items is D vectorised axpy passes), leave-one-out: each user
 * has `hist` training items and one held-out item, ranked against every item
 * the user did not have in training, with hr@10 ndcg@10 mrr@10 coverage@10.
 * Prints the wall time of the evaluation (median of `reps` runs) and the
 * scoring-only time, so the ranking overhead can be read off.
 *
 *   cmake --build build --target eval_bench     (CMake builds each bench/ file)
 *   OMP_NUM_THREADS=2 build/eval_bench [users=6000] [items=4000] [dim=64] [hist=20] [reps=5]
 */
#include "drec.h"
#include "eval/evaluate.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct dot_state {
    int dim;
    float *U;  /* (users, dim) */
    float *Vt; /* (dim, items) */
} dot_state;

/* O3 here: the build's -O2 does not vectorise loops that need an epilogue,
 * and a real model would use its own kernels for this. */
__attribute__((optimize("O3"))) static void dot_score(const drec_model *m, const drec_query *q, const int32_t *items, int n, float *out) {
    const dot_state *s = m->state;
    int I = m->n_items;
    const float *u = s->U + (size_t)(q->user < 0 ? 0 : q->user) * s->dim;
    if (!items) {
        for (int i = 0; i < I; i++) out[i] = 0;
        for (int d = 0; d < s->dim; d++) {
            const float *v = s->Vt + (size_t)d * I;
            float ud = u[d];
            for (int i = 0; i < I; i++) out[i] += ud * v[i];
        }
        return;
    }
    for (int k = 0; k < n; k++) {
        float acc = 0;
        for (int d = 0; d < s->dim; d++) acc += u[d] * s->Vt[(size_t)d * I + items[k]];
        out[k] = acc;
    }
}

static const drec_model_vt dot_vt = {.name = "dot", .score = dot_score};

/* CPU seconds of the whole process (all threads): on a shared, loaded
 * machine CPU time / threads is a steadier estimate of the idle wall time. */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    long users = 6000, items = 4000, dim = 64, hist = 20, reps = 5;
    for (int a = 1; a < argc; a++) {
        long v;
        char key[32];
        if (sscanf(argv[a], "%31[^=]=%ld", key, &v) != 2) {
            fprintf(stderr, "usage: eval_bench [users=N] [items=N] [dim=N] [hist=N] [reps=N]\n");
            return 1;
        }
        if (!strcmp(key, "users")) users = v;
        else if (!strcmp(key, "items")) items = v;
        else if (!strcmp(key, "dim")) dim = v;
        else if (!strcmp(key, "hist")) hist = v;
        else if (!strcmp(key, "reps")) reps = v;
    }
    drec_set_verbosity(0);
    drec_rng rng;
    drec_rng_seed(&rng, 1);
    /* Data: user u had `hist` distinct random items; a further one is held out. */
    drec_dataset *train = drec_ds_new(DREC_DS_INTERACTIONS, "bench"), *test;
    char b[32];
    for (long u = 0; u < users; u++) drec_ds_user(train, b, (size_t)snprintf(b, sizeof b, "u%ld", u));
    for (long i = 0; i < items; i++) drec_ds_item(train, b, (size_t)snprintf(b, sizeof b, "i%ld", i));
    if (users < 1 || items < hist + 2 || dim < 1 || hist < 1 || reps < 1) {
        fprintf(stderr, "eval_bench: need users >= 1, items >= hist + 2, dim, hist, reps >= 1\n");
        return 1;
    }
    int32_t *held = malloc((size_t)users * sizeof *held);
    uint8_t *mark = calloc((size_t)items, 1);
    int32_t *mine = calloc((size_t)(hist + 1), sizeof *mine);
    for (long u = 0; u < users; u++) {
        for (long k = 0; k <= hist; k++) {
            int32_t i;
            do i = (int32_t)drec_rng_below(&rng, (uint32_t)items); while (mark[i]);
            mark[i] = 1;
            mine[k] = i;
        }
        for (long k = 0; k < hist; k++) drec_ds_push(train, (int32_t)u, mine[k], 1, k);
        held[u] = mine[hist];
        for (long k = 0; k <= hist; k++) mark[mine[k]] = 0;
    }
    drec_ds_finish(train);
    size_t none = 0;
    test = drec_dataset_subset(train, &none, 0);
    for (long u = 0; u < users; u++) drec_ds_push(test, (int32_t)u, held[u], 1, hist);
    drec_ds_finish(test);

    drec_model m = {.vt = &dot_vt, .n_users = (int32_t)users, .n_items = (int32_t)items};
    m.seen_ptr = train->user_ptr;
    m.seen_idx = train->user_items;
    m.item_count = drec_ds_item_counts(train);
    dot_state s = {.dim = (int)dim};
    s.U = malloc((size_t)users * dim * sizeof *s.U);
    s.Vt = malloc((size_t)dim * items * sizeof *s.Vt);
    for (long k = 0; k < users * dim; k++) s.U[k] = (float)drec_rng_normal(&rng);
    for (long k = 0; k < dim * items; k++) s.Vt[k] = (float)drec_rng_normal(&rng);
    m.state = &s;

    drec_metric ms[4];
    int nm;
    drec_metrics_parse("hr@10,ndcg@10,mrr@10,coverage@10", ms, 4, &nm);
    drec_eval_split sp = {.train = train, .test = test};
    drec_eval_opts o = {.mode = DREC_EVAL_FULL, .metrics = ms, .n_metrics = nm, .seed = 1};
    double *t = malloc((size_t)reps * sizeof *t), *ts = malloc((size_t)reps * sizeof *ts);
    double *tc = malloc((size_t)reps * sizeof *tc);
    drec_eval_result r = {0};
    for (long k = 0; k < reps; k++) {
        drec_eval_result_free(&r);
        double t0 = drec_now(), c0 = cpu_now();
        if (drec_evaluate(&m, &sp, &o, &r)) {
            fprintf(stderr, "eval_bench: %s\n", drec_errmsg());
            return 1;
        }
        t[k] = drec_now() - t0;
        tc[k] = cpu_now() - c0;
        /* scoring alone, same parallel layout */
        t0 = drec_now();
        double sink = 0;
#pragma omp parallel reduction(+ : sink)
        {
            float *out = malloc((size_t)items * sizeof *out);
#pragma omp for schedule(dynamic, 8)
            for (long u = 0; u < users; u++) {
                drec_query q = {.user = (int32_t)u};
                dot_score(&m, &q, NULL, 0, out);
                sink += out[u % items];
            }
            free(out);
        }
        ts[k] = drec_now() - t0;
        if (sink == 12345.678) printf("%g\n", sink);
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_d);
    qsort(ts, (size_t)reps, sizeof *ts, cmp_d);
    qsort(tc, (size_t)reps, sizeof *tc, cmp_d);
    printf("full-ranking eval: %ld users x %ld items, dim %ld, %ld train items/user, %d threads\n", users, items, dim,
           hist, omp_get_max_threads());
    printf("  drec_evaluate: %.3f s median of %ld (min %.3f)  -> %.0f users/s\n", t[reps / 2], reps, t[0],
           users / t[reps / 2]);
    printf("  drec_evaluate CPU: %.3f s median (%.3f s per thread)\n", tc[reps / 2],
           tc[reps / 2] / omp_get_max_threads());
    printf("  scoring only:  %.3f s median  (ranking + metrics overhead %.3f s)\n", ts[reps / 2], t[reps / 2] - ts[reps / 2]);
    printf("  hr@10 %.4f  ndcg@10 %.4f  mrr@10 %.4f  coverage@10 %.4f  (%zu users evaluated)\n", r.m[0].value,
           r.m[1].value, r.m[2].value, r.m[3].value, r.n_units);
    drec_eval_result_free(&r);
    free(t);
    free(ts);
    free(tc);
    free(s.U);
    free(s.Vt);
    free(m.item_count);
    free(held);
    free(mark);
    free(mine);
    drec_dataset_free(test);
    drec_dataset_free(train);
    return 0;
}
