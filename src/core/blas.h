/*
 * blas.h — the one door to BLAS: row-major sgemm over OpenBLAS's cblas.
 * With the scalar kernel path selected (DREC_KERNELS=scalar) it runs a
 * plain triple loop instead, the reference the fast path is tested against.
 */
#ifndef DREC_BLAS_H
#define DREC_BLAS_H

#include <stdbool.h>

/* C[M,N] = alpha * op(A) op(B) + beta * C, row-major; op(A) is [M,K]
 * (A stored [K,M] when ta), op(B) is [K,N] (B stored [N,K] when tb).
 * lda/ldb/ldc are row strides of the stored matrices. */
void drec_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc);
/* The BLAS in use, e.g. "OpenBLAS 0.3.21 ... SkylakeX". */
const char *drec_blas_name(void);

#endif
