/*
 * tensor.c — tensors, parameters, initialisers and the tape: the node list
 * that reverse-mode autograd walks.  Ops (ops_*.c) compute forward at once
 * and record a node; drec_backward walks the nodes newest first and calls
 * each one's backward, which adds into its inputs' gradients.
 */
#include "tensor.h"

#include "kernels.h"

#include <math.h>
#include <stdio.h>

/* ---- parameters ------------------------------------------------------------ */

drec_param *drec_param_new(const char *name, int rows, int cols, unsigned flags) {
    DREC_ASSERT(rows > 0 && cols > 0);
    drec_param *p = drec_calloc(1, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
    p->flags = flags;
    int64_t n = (int64_t)rows * cols;
    p->t.n = n;
    p->t.ndim = 2;
    p->t.shape[0] = rows;
    p->t.shape[1] = cols;
    p->t.dtype = DREC_F32;
    p->t.requires_grad = true;
    p->t.param = p;
    p->t.data = drec_aligned_zalloc((size_t)n * sizeof(float));
    if (flags & DREC_PARAM_SPARSE) {
        /* the dense gradient waits until a dense op needs it */
        p->cap_touched = DREC_MIN(rows, 4096);
        p->touched = drec_malloc((size_t)p->cap_touched * sizeof(int32_t));
        p->sgrad = drec_aligned_alloc((size_t)p->cap_touched * cols * sizeof(float));
        p->slot = drec_malloc((size_t)rows * sizeof(int32_t));
        for (int r = 0; r < rows; r++) p->slot[r] = -1;
    } else {
        p->t.grad = drec_aligned_zalloc((size_t)n * sizeof(float));
    }
    return p;
}

/* Forgets p on the tape that holds its pending sources. */
static void untrack(drec_param *p) {
    drec_tape *tp = p->pend_tape;
    p->pend_tape = NULL;
    if (!tp) return;
    for (int k = 0; k < tp->n_pend; k++)
        if (tp->pend[k] == p) {
            tp->pend[k] = tp->pend[--tp->n_pend];
            return;
        }
}

void drec_param_flush(drec_param *p) {
    int d = p->t.shape[1];
    for (int k = 0; k < p->n_pend; k++) drec_kern->scatter(p->sgrad, p->pend[k].src, p->pend[k].slots, (int)p->pend[k].m, d);
    if (p->n_pend) p->sgrad_written = true;
    p->n_pend = 0;
    untrack(p);
}

void drec_param_defer(drec_tape *tp, drec_param *p, const int32_t *slots, const float *src, int64_t m) {
    bool tracked = p->pend_tape == tp;
    if (p->n_pend == DREC_PARAM_PENDING || (p->pend_tape && !tracked) || (!tracked && tp->n_pend == 16) ||
        m > INT32_MAX) {
        drec_param_flush(p);
        p->sgrad_written = true;
        drec_kern->scatter(p->sgrad, src, slots, (int)m, p->t.shape[1]);
        return;
    }
    if (!tracked) {
        tp->pend[tp->n_pend++] = p;
        p->pend_tape = tp;
    }
    p->pend[p->n_pend++] = (drec_param_pending){slots, src, m};
}

void drec_param_free(drec_param *p) {
    if (!p) return;
    untrack(p);
    drec_free(p->t.data);
    drec_free(p->t.grad);
    drec_free(p->touched);
    drec_free(p->sgrad);
    drec_free(p->slot);
    drec_free(p->s1);
    drec_free(p->s2);
    drec_free(p);
}

void drec_param_zero_grad(drec_param *p) {
    p->n_pend = 0;
    p->sgrad_written = false;
    untrack(p);
    if (drec_param_sparse(p)) {
        for (int32_t k = 0; k < p->n_touched; k++) p->slot[p->touched[k]] = -1;
        p->n_touched = 0;
    }
    if (p->t.grad && (!drec_param_sparse(p) || p->all_touched))
        memset(p->t.grad, 0, (size_t)p->t.n * sizeof(float));
    p->all_touched = false;
}

void drec_param_grow_touched(drec_param *p) {
    int rows = p->t.shape[0], d = p->t.shape[1];
    int cap = (int)DREC_MIN((int64_t)rows, 2 * (int64_t)p->cap_touched);
    DREC_ASSERT(cap > p->cap_touched);
    p->touched = drec_realloc(p->touched, (size_t)cap * sizeof(int32_t));
    float *g = drec_aligned_alloc((size_t)cap * d * sizeof(float));
    memcpy(g, p->sgrad, (size_t)p->n_touched * d * sizeof(float));
    drec_free(p->sgrad);
    p->sgrad = g;
    p->cap_touched = cap;
}

void drec_param_grad_dense(drec_param *p, float *out) {
    drec_param_flush(p);
    int d = drec_cols(&p->t);
    if (p->t.grad && (!drec_param_sparse(p) || p->all_touched))
        memcpy(out, p->t.grad, (size_t)p->t.n * sizeof(float));
    else
        memset(out, 0, (size_t)p->t.n * sizeof(float));
    if (drec_param_sparse(p))
        for (int32_t k = 0; k < p->n_touched; k++) {
            float *o = out + (int64_t)p->touched[k] * d;
            const float *g = p->sgrad + (int64_t)k * d;
            for (int j = 0; j < d; j++) o[j] += g[j];
        }
}

/* ---- initialisers ------------------------------------------------------------ */

void drec_init_zeros(drec_param *p) { memset(p->t.data, 0, (size_t)p->t.n * sizeof(float)); }
void drec_init_const(drec_param *p, float v) {
    for (int64_t i = 0; i < p->t.n; i++) p->t.data[i] = v;
}
void drec_init_normal(drec_param *p, drec_rng *r, float mean, float std) {
    for (int64_t i = 0; i < p->t.n; i++) p->t.data[i] = mean + std * (float)drec_rng_normal(r);
}
void drec_init_uniform(drec_param *p, drec_rng *r, float lo, float hi) {
    for (int64_t i = 0; i < p->t.n; i++) p->t.data[i] = lo + (hi - lo) * drec_rng_float(r);
}
void drec_init_xavier_uniform(drec_param *p, drec_rng *r) {
    float a = sqrtf(6.0f / (float)(p->t.shape[0] + p->t.shape[1]));
    drec_init_uniform(p, r, -a, a);
}
void drec_init_xavier_normal(drec_param *p, drec_rng *r) {
    drec_init_normal(p, r, 0, sqrtf(2.0f / (float)(p->t.shape[0] + p->t.shape[1])));
}
void drec_init_he_uniform(drec_param *p, drec_rng *r) {
    float a = sqrtf(6.0f / (float)p->t.shape[0]);
    drec_init_uniform(p, r, -a, a);
}
void drec_init_he_normal(drec_param *p, drec_rng *r) {
    drec_init_normal(p, r, 0, sqrtf(2.0f / (float)p->t.shape[0]));
}

/* ---- the tape -------------------------------------------------------------------- */

void drec_tape_init(drec_tape *tp, size_t initial_bytes) {
    memset(tp, 0, sizeof(*tp));
    drec_arena_init(&tp->arena, initial_bytes);
    tp->training = true;
    drec_rng_seed(&tp->rng, 0x5eed);
}

void drec_tape_reset(drec_tape *tp) {
    while (tp->n_pend) drec_param_flush(tp->pend[tp->n_pend - 1]); /* their sources are in the arena */
    drec_arena_reset(&tp->arena);
    tp->last = NULL;
    tp->n_nodes = 0;
}

void drec_tape_free(drec_tape *tp) {
    while (tp->n_pend) drec_param_flush(tp->pend[tp->n_pend - 1]);
    drec_arena_free(&tp->arena);
    tp->last = NULL;
}

drec_node *drec_tape_push(drec_tape *tp, drec_backward_fn fn, drec_tensor *out) {
    if (tp->no_grad) return NULL;
    drec_node *nd = drec_arena_alloc(&tp->arena, sizeof(*nd));
    memset(nd, 0, sizeof(*nd));
    nd->backward = fn;
    nd->out = out;
    nd->prev = tp->last;
    tp->last = nd;
    tp->n_nodes++;
    out->requires_grad = true;
    return nd;
}

drec_node *drec_tape_record(drec_tape *tp, drec_backward_fn fn, drec_tensor *out, drec_tensor *a,
                            drec_tensor *b, drec_tensor *c, drec_tensor *d) {
    bool need = (a && a->requires_grad) || (b && b->requires_grad) || (c && c->requires_grad) ||
                (d && d->requires_grad);
    if (!need) return NULL;
    drec_node *nd = drec_tape_push(tp, fn, out);
    if (nd) {
        nd->in[0] = a;
        nd->in[1] = b;
        nd->in[2] = c;
        nd->in[3] = d;
    }
    return nd;
}

float *drec_grad(drec_tape *tp, drec_tensor *t) {
    if (t->param) {
        drec_param *p = t->param;
        if (drec_param_sparse(p) && !p->all_touched) {
            /* A sparse table used by a dense op: every row may have a
             * gradient, so it gets a dense one (allocated once, kept). */
            if (!t->grad) t->grad = drec_aligned_alloc((size_t)t->n * sizeof(float));
            memset(t->grad, 0, (size_t)t->n * sizeof(float));
            p->all_touched = true;
        }
        return t->grad;
    }
    if (!t->grad) t->grad = drec_arena_calloc(&tp->arena, (size_t)t->n * sizeof(float));
    return t->grad;
}

float *drec_grad_first(drec_tape *tp, drec_tensor *t, bool *assign) {
    *assign = !t->grad && !t->param;
    if (*assign) {
        t->grad = drec_arena_alloc(&tp->arena, (size_t)t->n * sizeof(float));
        return t->grad;
    }
    return drec_grad(tp, t);
}

bool drec_grad_share(drec_tape *tp, drec_tensor *t, float *g) {
    if (t->grad || t->param || g == tp->seed) return false;
    t->grad = g;
    return true;
}

void drec_backward_seed(drec_tape *tp, drec_tensor *out, const float *seed) {
    tp->seed = seed;
    if (!out->grad && !out->param) {
        /* Nothing downstream of `out` runs, so nothing writes this gradient:
         * backward only reads it, and the seed can serve as it is. */
        out->grad = (float *)seed;
    } else {
        float *g = drec_grad(tp, out);
        for (int64_t i = 0; i < out->n; i += 1 << 20)
            drec_kern->add(g + i, g + i, seed + i, (int)DREC_MIN(1 << 20, out->n - i));
    }
    for (drec_node *nd = tp->last; nd; nd = nd->prev) {
        if (!nd->out->grad) continue; /* nothing flowed into this node */
        nd->backward(tp, nd);
    }
    tp->seed = NULL;
}

void drec_backward(drec_tape *tp, drec_tensor *loss) {
    DREC_ASSERT(loss->n == 1);
    const float one = 1.0f;
    drec_backward_seed(tp, loss, &one);
}

/* ---- tensor creation ----------------------------------------------------------------- */

static drec_tensor *tensor_shell(drec_tape *tp, int ndim, const int *shape, drec_dtype dt) {
    DREC_ASSERT(ndim >= 1 && ndim <= DREC_MAX_DIMS);
    drec_tensor *t = drec_arena_alloc(&tp->arena, sizeof(*t));
    memset(t, 0, sizeof(*t));
    t->ndim = ndim;
    t->n = 1;
    for (int i = 0; i < ndim; i++) {
        DREC_ASSERT(shape[i] >= 0);
        t->shape[i] = shape[i];
        t->n *= shape[i];
    }
    t->dtype = dt;
    return t;
}

drec_tensor *drec_tnew(drec_tape *tp, int ndim, const int *shape) {
    drec_tensor *t = tensor_shell(tp, ndim, shape, DREC_F32);
    t->data = drec_arena_alloc(&tp->arena, (size_t)t->n * sizeof(float));
    return t;
}

drec_tensor *drec_t2(drec_tape *tp, int rows, int cols) {
    int s[2] = {rows, cols};
    return drec_tnew(tp, 2, s);
}

drec_tensor *drec_zeros(drec_tape *tp, int rows, int cols) {
    drec_tensor *t = drec_t2(tp, rows, cols);
    memset(t->data, 0, (size_t)t->n * sizeof(float));
    return t;
}

drec_tensor *drec_tfrom(drec_tape *tp, const float *data, int rows, int cols) {
    int s[2] = {rows, cols};
    drec_tensor *t = tensor_shell(tp, 2, s, DREC_F32);
    t->data = (float *)data;
    return t;
}

drec_tensor *drec_leaf(drec_tape *tp, const float *data, int rows, int cols) {
    drec_tensor *t = drec_t2(tp, rows, cols);
    memcpy(t->data, data, (size_t)t->n * sizeof(float));
    t->requires_grad = true;
    return t;
}

drec_tensor *drec_ifrom(drec_tape *tp, const int32_t *idx, int n) {
    drec_tensor *t = tensor_shell(tp, 1, &n, DREC_I32);
    t->idx = (int32_t *)idx;
    return t;
}

drec_tensor *drec_inew(drec_tape *tp, int n) {
    drec_tensor *t = tensor_shell(tp, 1, &n, DREC_I32);
    t->idx = drec_arena_alloc(&tp->arena, (size_t)n * sizeof(int32_t));
    return t;
}
