/*
 * ops_shape.c — concat, slice, split, reshape, and the reductions (row
 * dot, sums, means, L1/L2 penalties).
 *
 * Shapes: 2-D views [R,D]; axis 1 works on columns, axis 0 on rows.
 * Whole-tensor sums add fixed blocks of 4096 in order, so a reduction
 * gives the same bits whatever the thread count.
 */
#include "kernels.h"
#include "tensor.h"

#include <math.h>

#define PAR_MIN (1 << 18)

static drec_tensor *scalar_out(drec_tape *tp) {
    int one = 1;
    return drec_tnew(tp, 1, &one);
}

/* The sum of x in blocks of 4096 added in order (in double): the blocks run
 * in parallel on long inputs, and the result does not depend on the thread
 * count. */
static double block_sum(drec_tape *tp, const float *x, int64_t n) {
    int64_t nb = (n + DREC_CHUNK - 1) / DREC_CHUNK;
    float *part = drec_tape_floats(tp, nb);
    DREC_PAR_CHUNKS(n, part[i0 / DREC_CHUNK] = drec_kern->sum(x + i0, (int)(i1 - i0)););
    double s = 0;
    for (int64_t b = 0; b < nb; b++) s += part[b];
    return s;
}

/* ---- concat / slice / split / reshape -------------------------------------------------- */

typedef struct { drec_tensor **xs; int n; } cat_saved;

static void concat_backward(drec_tape *tp, drec_node *nd) {
    cat_saved *s = nd->saved;
    int axis = nd->i[0];
    drec_tensor *out = nd->out;
    int64_t R = drec_rows(out);
    int Dout = drec_cols(out), off = 0;
    int64_t roff = 0;
    for (int k = 0; k < s->n; k++) {
        drec_tensor *x = s->xs[k];
        int D = drec_cols(x);
        int64_t Rx = drec_rows(x);
        if (x->requires_grad) {
            float *dx = drec_grad(tp, x);
            if (axis == 1) {
                for (int64_t r = 0; r < R; r++)
                    drec_kern->add(dx + r * D, dx + r * D, out->grad + r * Dout + off, D);
            } else {
                for (int64_t r = 0; r < Rx; r++)
                    drec_kern->add(dx + r * D, dx + r * D, out->grad + (roff + r) * D, D);
            }
        }
        off += D;
        roff += Rx;
    }
}

drec_tensor *drec_concat(drec_tape *tp, drec_tensor **xs, int n, int axis) {
    DREC_ASSERT(n >= 1 && (axis == 0 || axis == 1));
    int64_t R = drec_rows(xs[0]);
    int D = drec_cols(xs[0]);
    int64_t total = 0;
    drec_tensor *need = NULL;
    for (int k = 0; k < n; k++) {
        if (axis == 1) DREC_ASSERT(drec_rows(xs[k]) == R);
        else DREC_ASSERT(drec_cols(xs[k]) == D);
        total += axis == 1 ? drec_cols(xs[k]) : drec_rows(xs[k]);
        if (xs[k]->requires_grad && !need) need = xs[k];
    }
    drec_tensor *out = axis == 1 ? drec_t2(tp, (int)R, (int)total) : drec_t2(tp, (int)total, D);
    int off = 0;
    int64_t roff = 0;
    for (int k = 0; k < n; k++) {
        drec_tensor *x = xs[k];
        int Dx = drec_cols(x);
        if (axis == 1) {
            for (int64_t r = 0; r < R; r++)
                memcpy(out->data + r * total + off, x->data + r * Dx, (size_t)Dx * sizeof(float));
            off += Dx;
        } else {
            memcpy(out->data + roff * D, x->data, (size_t)x->n * sizeof(float));
            roff += drec_rows(x);
        }
    }
    drec_node *nd = drec_tape_record(tp, concat_backward, out, need, NULL, NULL, NULL);
    if (nd) {
        cat_saved *s = drec_arena_alloc(&tp->arena, sizeof(*s));
        s->xs = drec_arena_alloc(&tp->arena, (size_t)n * sizeof(*s->xs));
        memcpy(s->xs, xs, (size_t)n * sizeof(*s->xs));
        s->n = n;
        nd->saved = s;
        nd->i[0] = axis;
    }
    return out;
}

static void slice_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0], *out = nd->out;
    int axis = nd->i[0], start = nd->i[1], len = nd->i[2];
    int64_t R = drec_rows(x);
    int D = drec_cols(x);
    float *dx = drec_grad(tp, x);
    if (axis == 1) {
        for (int64_t r = 0; r < R; r++)
            drec_kern->add(dx + r * D + start, dx + r * D + start, out->grad + r * len, len);
    } else {
        int64_t n = (int64_t)len * D;
        drec_kern->add(dx + (int64_t)start * D, dx + (int64_t)start * D, out->grad, (int)n);
    }
}

drec_tensor *drec_slice(drec_tape *tp, drec_tensor *x, int axis, int start, int len) {
    int64_t R = drec_rows(x);
    int D = drec_cols(x);
    DREC_ASSERT(axis == 0 || axis == 1);
    DREC_ASSERT(start >= 0 && len >= 0 && start + len <= (axis == 1 ? D : R));
    drec_tensor *out;
    if (axis == 1) {
        out = drec_t2(tp, (int)R, len);
        for (int64_t r = 0; r < R; r++)
            memcpy(out->data + r * len, x->data + r * D + start, (size_t)len * sizeof(float));
    } else {
        out = drec_t2(tp, len, D);
        memcpy(out->data, x->data + (int64_t)start * D, (size_t)len * D * sizeof(float));
    }
    drec_node *nd = drec_tape_record(tp, slice_backward, out, x, NULL, NULL, NULL);
    if (nd) {
        nd->i[0] = axis;
        nd->i[1] = start;
        nd->i[2] = len;
    }
    return out;
}

void drec_split(drec_tape *tp, drec_tensor *x, int axis, int n, drec_tensor **out) {
    int64_t size = axis == 1 ? drec_cols(x) : drec_rows(x);
    DREC_ASSERT(n >= 1 && size % n == 0);
    int len = (int)(size / n);
    for (int k = 0; k < n; k++) out[k] = drec_slice(tp, x, axis, k * len, len);
}

static void reshape_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0];
    float *dx = drec_grad(tp, x);
    for (int64_t i = 0; i < x->n; i += 1 << 20)
        drec_kern->add(dx + i, dx + i, nd->out->grad + i, (int)DREC_MIN(1 << 20, x->n - i));
}

drec_tensor *drec_reshape(drec_tape *tp, drec_tensor *x, int ndim, const int *shape) {
    DREC_ASSERT(ndim >= 1 && ndim <= DREC_MAX_DIMS);
    drec_tensor *out = drec_arena_alloc(&tp->arena, sizeof(*out));
    memset(out, 0, sizeof(*out));
    out->ndim = ndim;
    out->n = 1;
    for (int i = 0; i < ndim; i++) {
        out->shape[i] = shape[i];
        out->n *= shape[i];
    }
    DREC_ASSERT(out->n == x->n && x->dtype == DREC_F32);
    out->dtype = DREC_F32;
    out->data = x->data; /* a view: shares the values, not the gradient */
    drec_tape_record(tp, reshape_backward, out, x, NULL, NULL, NULL);
    return out;
}

drec_tensor *drec_reshape2(drec_tape *tp, drec_tensor *x, int rows, int cols) {
    int s[2] = {rows, cols};
    return drec_reshape(tp, x, 2, s);
}

/* ---- reductions ---------------------------------------------------------------------------- */

static void rowdot_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *a = nd->in[0], *b = nd->in[1];
    int64_t R = drec_rows(a);
    int D = drec_cols(a);
    const float *g = nd->out->grad;
    float *da = a->requires_grad ? drec_grad(tp, a) : NULL;
    float *db = b->requires_grad ? drec_grad(tp, b) : NULL;
    DREC_PAR_FOR(a->n > PAR_MIN,
    for (int64_t r = 0; r < R; r++) {
        if (da) drec_kern->axpy(da + r * D, g[r], b->data + r * D, D);
        if (db) drec_kern->axpy(db + r * D, g[r], a->data + r * D, D);
    });
}

drec_tensor *drec_rowdot(drec_tape *tp, drec_tensor *a, drec_tensor *b) {
    DREC_ASSERT(a->n == b->n && drec_cols(a) == drec_cols(b));
    int64_t R = drec_rows(a);
    int D = drec_cols(a);
    drec_tensor *out = drec_t2(tp, (int)R, 1);
    DREC_PAR_FOR(a->n > PAR_MIN,
    for (int64_t r = 0; r < R; r++) out->data[r] = drec_kern->dot(a->data + r * D, b->data + r * D, D););
    drec_tape_record(tp, rowdot_backward, out, a, b, NULL, NULL);
    return out;
}

enum { R_SUM, R_MEAN, R_L2, R_L1 };

static void reduce_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0];
    int op = nd->i[0];
    float g = nd->out->grad[0];
    bool assign;
    float *dx = drec_grad_first(tp, x, &assign);
    const float *xv = x->data;
    int64_t n = x->n;
    float c = op == R_MEAN ? g / (float)n : g;
    if (assign && (op == R_SUM || op == R_MEAN)) {
        DREC_PAR_CHUNKS(n, drec_kern->fill(dx + i0, c, (int)(i1 - i0)););
        return;
    }
    if (assign) memset(dx, 0, (size_t)n * sizeof(float));
    switch (op) {
    case R_SUM: case R_MEAN:
        DREC_PAR_FOR(n > PAR_MIN,
        for (int64_t i = 0; i < n; i++) dx[i] += c;);
        break;
    case R_L2:
        for (int64_t i = 0; i < n; i += 1 << 20) drec_kern->axpy(dx + i, 2 * g, xv + i, (int)DREC_MIN(1 << 20, n - i));
        break;
    default:
        for (int64_t i = 0; i < n; i++) dx[i] += xv[i] > 0 ? g : xv[i] < 0 ? -g : 0;
    }
}

static drec_tensor *reduce(drec_tape *tp, drec_tensor *x, int op) {
    drec_tensor *out = scalar_out(tp);
    double s;
    if (op == R_SUM || op == R_MEAN) {
        s = block_sum(tp, x->data, x->n);
        if (op == R_MEAN) s /= (double)(x->n ? x->n : 1);
    } else {
        s = 0;
        for (int64_t i = 0; i < x->n; i += 4096) {
            int m = (int)DREC_MIN(4096, x->n - i);
            const float *p = x->data + i;
            if (op == R_L2) {
                s += drec_kern->dot(p, p, m);
            } else {
                float b = 0;
                for (int j = 0; j < m; j++) b += fabsf(p[j]);
                s += b;
            }
        }
    }
    out->data[0] = (float)s;
    drec_node *nd = drec_tape_record(tp, reduce_backward, out, x, NULL, NULL, NULL);
    if (nd) nd->i[0] = op;
    return out;
}

drec_tensor *drec_sum(drec_tape *tp, drec_tensor *x) { return reduce(tp, x, R_SUM); }
drec_tensor *drec_mean(drec_tape *tp, drec_tensor *x) { return reduce(tp, x, R_MEAN); }
drec_tensor *drec_l2(drec_tape *tp, drec_tensor *x) { return reduce(tp, x, R_L2); }
drec_tensor *drec_l1(drec_tape *tp, drec_tensor *x) { return reduce(tp, x, R_L1); }

static void sum_rows_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0];
    int64_t R = drec_rows(x);
    int D = drec_cols(x);
    float *dx = drec_grad(tp, x);
    const float *g = nd->out->grad;
    DREC_PAR_FOR(x->n > PAR_MIN,
    for (int64_t r = 0; r < R; r++)
        for (int j = 0; j < D; j++) dx[r * D + j] += g[r];);
}

drec_tensor *drec_sum_rows(drec_tape *tp, drec_tensor *x) {
    int64_t R = drec_rows(x);
    int D = drec_cols(x);
    drec_tensor *out = drec_t2(tp, (int)R, 1);
    DREC_PAR_FOR(x->n > PAR_MIN,
    for (int64_t r = 0; r < R; r++) out->data[r] = drec_kern->sum(x->data + r * D, D););
    drec_tape_record(tp, sum_rows_backward, out, x, NULL, NULL, NULL);
    return out;
}

static void sum_cols_backward(drec_tape *tp, drec_node *nd) {
    drec_tensor *x = nd->in[0];
    int64_t R = drec_rows(x);
    int D = drec_cols(x);
    float *dx = drec_grad(tp, x);
    const float *g = nd->out->grad;
    DREC_PAR_FOR(x->n > PAR_MIN,
    for (int64_t r = 0; r < R; r++) drec_kern->add(dx + r * D, dx + r * D, g, D););
}

drec_tensor *drec_sum_cols(drec_tape *tp, drec_tensor *x) {
    int64_t R = drec_rows(x);
    int D = drec_cols(x);
    drec_tensor *out = drec_zeros(tp, 1, D);
    for (int64_t r = 0; r < R; r++) drec_kern->add(out->data, out->data, x->data + r * D, D);
    drec_tape_record(tp, sum_cols_backward, out, x, NULL, NULL, NULL);
    return out;
}
