/*
 * ops_graph.c — CSR sparse matrices and sparse x dense products for graph
 * propagation (LightGCN, NGCF, GCN layers).
 *
 * Shapes: A [n_rows, n_cols] in CSR with its transpose kept alongside, so
 * backward (dX = A^T dY) is also a row-parallel product: every output row
 * is one thread's, summed in column order — deterministic for any thread
 * count, no atomics.
 */
#include "kernels.h"
#include "tensor.h"

#include <stdlib.h>

typedef struct { int32_t col; float val; } entry;

static int cmp_entry(const void *a, const void *b) {
    int32_t x = ((const entry *)a)->col, y = ((const entry *)b)->col;
    return (x > y) - (x < y);
}

drec_status drec_csr_build(drec_csr *A, int32_t n_rows, int32_t n_cols, int64_t nnz, const int32_t *rows,
                           const int32_t *cols, const float *vals) {
    memset(A, 0, sizeof(*A));
    for (int64_t i = 0; i < nnz; i++)
        if (rows[i] < 0 || rows[i] >= n_rows || cols[i] < 0 || cols[i] >= n_cols)
            return drec_fail(DREC_ERR_USAGE, "csr: entry %lld (%d, %d) outside %d x %d", (long long)i, rows[i],
                             cols[i], n_rows, n_cols);
    A->n_rows = n_rows;
    A->n_cols = n_cols;
    int64_t *ptr = drec_calloc((size_t)n_rows + 1, sizeof(int64_t));
    for (int64_t i = 0; i < nnz; i++) ptr[rows[i] + 1]++;
    for (int32_t r = 0; r < n_rows; r++) ptr[r + 1] += ptr[r];
    entry *e = drec_malloc((size_t)(nnz ? nnz : 1) * sizeof(entry));
    int64_t *fill = drec_malloc((size_t)(n_rows + 1) * sizeof(int64_t));
    memcpy(fill, ptr, (size_t)(n_rows + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < nnz; i++) e[fill[rows[i]]++] = (entry){cols[i], vals ? vals[i] : 1.0f};
    /* sort each row by column and sum duplicates */
    A->ptr = drec_malloc((size_t)(n_rows + 1) * sizeof(int64_t));
    A->col = drec_malloc((size_t)(nnz ? nnz : 1) * sizeof(int32_t));
    A->val = drec_malloc((size_t)(nnz ? nnz : 1) * sizeof(float));
    int64_t out = 0;
    A->ptr[0] = 0;
    for (int32_t r = 0; r < n_rows; r++) {
        qsort(e + ptr[r], (size_t)(ptr[r + 1] - ptr[r]), sizeof(entry), cmp_entry);
        for (int64_t i = ptr[r]; i < ptr[r + 1]; i++) {
            if (out > A->ptr[r] && A->col[out - 1] == e[i].col) {
                A->val[out - 1] += e[i].val;
            } else {
                A->col[out] = e[i].col;
                A->val[out] = e[i].val;
                out++;
            }
        }
        A->ptr[r + 1] = out;
    }
    A->nnz = out;
    /* transpose by counting sort; rows visited in order keep columns sorted */
    A->tptr = drec_calloc((size_t)n_cols + 1, sizeof(int64_t));
    A->tcol = drec_malloc((size_t)(out ? out : 1) * sizeof(int32_t));
    A->tval = drec_malloc((size_t)(out ? out : 1) * sizeof(float));
    for (int64_t i = 0; i < out; i++) A->tptr[A->col[i] + 1]++;
    for (int32_t c = 0; c < n_cols; c++) A->tptr[c + 1] += A->tptr[c];
    int64_t *tf = drec_malloc((size_t)(n_cols + 1) * sizeof(int64_t));
    memcpy(tf, A->tptr, (size_t)(n_cols + 1) * sizeof(int64_t));
    for (int32_t r = 0; r < n_rows; r++)
        for (int64_t i = A->ptr[r]; i < A->ptr[r + 1]; i++) {
            int64_t at = tf[A->col[i]]++;
            A->tcol[at] = r;
            A->tval[at] = A->val[i];
        }
    drec_free(tf);
    drec_free(fill);
    drec_free(e);
    drec_free(ptr);
    return DREC_OK;
}

void drec_csr_free(drec_csr *A) {
    drec_free(A->ptr);
    drec_free(A->col);
    drec_free(A->val);
    drec_free(A->tptr);
    drec_free(A->tcol);
    drec_free(A->tval);
    memset(A, 0, sizeof(*A));
}

/* Y[i] (+)= sum_k val[k] X[col[k]] for rows i of a CSR (ptr, col, val). */
static void csr_mm(int32_t n, const int64_t *ptr, const int32_t *col, const float *val, const float *X, int D,
                   float *Y, bool accumulate) {
    DREC_PAR_FOR_DYN(ptr[n] * D > 32768,
    for (int32_t i = 0; i < n; i++) {
        drec_kern->lincomb(Y + (int64_t)i * D, val + ptr[i], X, col + ptr[i], (int)(ptr[i + 1] - ptr[i]), D, D,
                           accumulate);
    });
}

typedef struct { const drec_csr *A; } spmm_saved;

static void spmm_backward(drec_tape *tp, drec_node *nd) {
    const drec_csr *A = ((spmm_saved *)nd->saved)->A;
    drec_tensor *X = nd->in[0];
    csr_mm(A->n_cols, A->tptr, A->tcol, A->tval, nd->out->grad, drec_cols(X), drec_grad(tp, X), true);
}

drec_tensor *drec_spmm(drec_tape *tp, const drec_csr *A, drec_tensor *X) {
    DREC_ASSERT(drec_rows(X) == A->n_cols);
    int D = drec_cols(X);
    drec_tensor *Y = drec_t2(tp, A->n_rows, D);
    csr_mm(A->n_rows, A->ptr, A->col, A->val, X->data, D, Y->data, false);
    drec_node *nd = drec_tape_record(tp, spmm_backward, Y, X, NULL, NULL, NULL);
    if (nd) {
        spmm_saved *s = drec_arena_alloc(&tp->arena, sizeof(*s));
        s->A = A;
        nd->saved = s;
    }
    return Y;
}
