/*
 * test_alloc.c — a training step allocates nothing from the heap once the
 * arena has grown to fit.  The test binary interposes malloc and friends
 * (forwarding to glibc) and counts calls while steps 4..12 of a model that
 * uses most op families run: sparse embeddings, embedding-bag, linear
 * layers, attention, layer norm, dropout, a GRU cell, spmm, concat, losses
 * and Adam with clipping.  Sizes are above the thresholds where OpenMP
 * regions start, so thread teams are exercised too.  Under AddressSanitizer
 * (which owns malloc) the count is skipped; the arena's own check, no spill
 * and no regrowth, runs in both builds.
 */
#include "core/tensor.h"
#include "harness.h"

#include <stdatomic.h>

#if defined(__SANITIZE_ADDRESS__)
#define COUNTING 0
#else
#define COUNTING 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);
static atomic_int counting;
static atomic_long n_allocs;
static inline void count(void) {
    if (atomic_load_explicit(&counting, memory_order_relaxed)) atomic_fetch_add(&n_allocs, 1);
}
void *malloc(size_t n) { count(); return __libc_malloc(n); }
void *calloc(size_t n, size_t s) { count(); return __libc_calloc(n, s); }
void *realloc(void *p, size_t n) { count(); return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    count();
    *out = __libc_memalign(a, n);
    return *out ? 0 : 12;
}
void free(void *p) { __libc_free(p); }
#endif

enum { B = 256, T = 8, D = 32, N = 5000, H = 2 };

typedef struct {
    drec_param *E, *W1, *b1, *W2, *Wq, *Wk, *Wv, *g, *be, *Wih, *Whh, *Wf, *bf;
    drec_csr A;
    drec_optim *opt;
    int32_t ids[B * T], bag_off[B + 1], mask[B * T], rows[B];
    float y[B];
} model;

static void step(drec_tape *tp, model *m, drec_rng *r) {
    for (int i = 0; i < B * T; i++) m->ids[i] = (int32_t)drec_rng_below(r, N);
    for (int b = 0; b < B; b++) m->y[b] = (float)(drec_rng_below(r, 2));
    drec_tape_reset(tp);
    drec_tensor *ids = drec_ifrom(tp, m->ids, B * T);
    drec_tensor *e = drec_embedding(tp, m->E, ids);                               /* [B*T, D] */
    drec_tensor *q = drec_linear(tp, e, drec_pt(m->Wq), NULL, DREC_ACT_NONE);
    drec_tensor *k = drec_linear(tp, e, drec_pt(m->Wk), NULL, DREC_ACT_NONE);
    drec_tensor *v = drec_linear(tp, e, drec_pt(m->Wv), NULL, DREC_ACT_NONE);
    drec_tensor *a = drec_attention(tp, q, k, v, T, H, true, drec_ifrom(tp, m->mask, B * T));
    a = drec_layer_norm(tp, drec_add(tp, a, e), drec_pt(m->g), drec_pt(m->be), 1e-5f);
    /* a feed-forward layer large enough for the linear layer's threaded path */
    drec_tensor *ae[2] = {a, e};
    a = drec_linear(tp, drec_concat(tp, ae, 2, 1), drec_pt(m->Wf), drec_pt(m->bf), DREC_ACT_RELU); /* [B*T, 2D] */
    a = drec_slice(tp, a, 1, 0, D);
    a = drec_dropout(tp, a, 0.1f);
    drec_tensor *last = drec_gather_rows(tp, a, drec_ifrom(tp, m->rows, B));     /* [B, D] */
    drec_tensor *bag = drec_embedding_bag(tp, m->E, ids, drec_ifrom(tp, m->bag_off, B + 1), NULL, DREC_BAG_MEAN);
    drec_tensor *h = drec_gru_cell(tp, bag, last, drec_pt(m->Wih), drec_pt(m->Whh), NULL, NULL);
    drec_tensor *gcn = drec_spmm(tp, &m->A, h);
    drec_tensor *parts[2] = {gcn, last};
    drec_tensor *x = drec_concat(tp, parts, 2, 1);                                /* [B, 2D] */
    x = drec_linear(tp, x, drec_pt(m->W1), drec_pt(m->b1), DREC_ACT_RELU);
    drec_tensor *z = drec_linear(tp, x, drec_pt(m->W2), NULL, DREC_ACT_NONE);
    drec_tensor *loss = drec_add(tp, drec_bce_logits(tp, z, drec_tfrom(tp, m->y, B, 1), NULL),
                                 drec_scale(tp, drec_l2(tp, drec_pt(m->W1)), 1e-4f));
    drec_backward(tp, loss);
    drec_optim_step(m->opt);
}

TEST(training_step_allocates_nothing) {
    drec_rng r;
    drec_rng_seed(&r, 1);
    model m;
    m.E = drec_param_new("E", N, D, DREC_PARAM_SPARSE);
    m.W1 = drec_param_new("W1", 2 * D, D, 0);
    m.b1 = drec_param_new("b1", 1, D, 0);
    m.W2 = drec_param_new("W2", D, 1, 0);
    m.Wq = drec_param_new("Wq", D, D, 0);
    m.Wk = drec_param_new("Wk", D, D, 0);
    m.Wv = drec_param_new("Wv", D, D, 0);
    m.g = drec_param_new("g", 1, D, 0);
    m.be = drec_param_new("be", 1, D, 0);
    m.Wih = drec_param_new("Wih", D, 3 * D, 0);
    m.Whh = drec_param_new("Whh", D, 3 * D, 0);
    m.Wf = drec_param_new("Wf", 2 * D, 2 * D, 0);
    m.bf = drec_param_new("bf", 1, 2 * D, 0);
    drec_param *all[] = {m.E, m.W1, m.b1, m.W2, m.Wq, m.Wk, m.Wv, m.g, m.be, m.Wih, m.Whh, m.Wf, m.bf};
    drec_optim_config c = drec_optim_defaults(DREC_OPT_ADAM);
    c.clip_norm = 1.0f;
    m.opt = drec_optim_new(&c);
    for (size_t i = 0; i < DREC_ARRAY_LEN(all); i++) {
        if (i != 0) drec_init_xavier_uniform(all[i], &r);
        drec_optim_add(m.opt, all[i]);
    }
    drec_init_normal(m.E, &r, 0, 0.1f);
    drec_init_const(m.g, 1);
    for (int b = 0; b <= B; b++) m.bag_off[b] = b * T;
    for (int i = 0; i < B * T; i++) m.mask[i] = (i % T) >= (i / T) % 3; /* left padding */
    for (int b = 0; b < B; b++) m.rows[b] = b * T + T - 1;
    int32_t ar[4 * B], ac[4 * B];
    for (int i = 0; i < 4 * B; i++) {
        ar[i] = i / 4;
        ac[i] = (int32_t)drec_rng_below(&r, B);
    }
    CHECK_OK(drec_csr_build(&m.A, B, B, 4 * B, ar, ac, NULL));
    drec_tape tp;
    drec_tape_init(&tp, 4096); /* deliberately small: the arena must grow, then settle */
    for (int s = 0; s < 3; s++) step(&tp, &m, &r);
    char *base = tp.arena.base;
    size_t cap = tp.arena.cap;
#if COUNTING
    atomic_store(&n_allocs, 0);
    atomic_store(&counting, 1);
#endif
    for (int s = 0; s < 9; s++) step(&tp, &m, &r);
#if COUNTING
    atomic_store(&counting, 0);
    printf("  heap allocations in 9 steady-state steps: %ld (arena %zu KiB)\n", (long)atomic_load(&n_allocs),
           cap >> 10);
    CHECK(atomic_load(&n_allocs) == 0);
#endif
    CHECK(tp.arena.spill == 0);
    drec_tape_reset(&tp);
    CHECK(tp.arena.base == base && tp.arena.cap == cap); /* never regrown */
    drec_tape_free(&tp);
    drec_csr_free(&m.A);
    drec_optim_free(m.opt);
    for (size_t i = 0; i < DREC_ARRAY_LEN(all); i++) drec_param_free(all[i]);
}

int main(void) {
    RUN(training_step_allocates_nothing);
    return harness_summary();
}
