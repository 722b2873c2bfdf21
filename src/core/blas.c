/*
 * blas.c — sgemm through cblas, or through a reference loop when the
 * scalar kernel path is selected.
 *
 * Threads: OpenBLAS runs single-threaded here and drec splits the output
 * rows of a large product across its own OpenMP team, each thread calling
 * sgemm on its block.  Two reasons: OpenBLAS's threaded level-3 driver
 * mallocs its job tables on every call (a training step must not touch the
 * heap), and a row split fixed by the thread count keeps results
 * bit-identical run to run.
 */
#include "blas.h"

#include "kernels.h"
#include "tensor.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

static void ref_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += (double)a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = (float)(alpha * s + (beta == 0 ? 0.0 : (double)beta * *c));
        }
}

/* Skinny products (a side of at most 4): OpenBLAS's small-matrix and gemv
 * paths malloc a buffer for some of these shapes, and the work is tiny. */
static void skinny_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s;
            if (!ta && tb) {
                s = drec_kern->dot(A + (size_t)i * lda, B + (size_t)j * ldb, K);
            } else {
                s = 0;
                for (int k = 0; k < K; k++)
                    s += (ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                         (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = alpha * s + (beta == 0 ? 0.0f : beta * *c);
        }
}

static void one_block(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                lda, B, ldb, beta, C, ldc);
}

void drec_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0 ? 0 : beta * C[(size_t)i * ldc + j];
        return;
    }
    if (!strcmp(drec_kernels_name(), "scalar")) {
        ref_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (M <= 4 || N <= 4) {
        skinny_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    extern void openblas_set_num_threads(int);
    extern int openblas_get_num_threads(void);
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
    int nth = omp_get_max_threads();
    double work = (double)M * N * K;
    if (nth > 1 && M >= 2 * 16 && work >= 8e6 && !omp_in_parallel()) {
        DREC_PAR(true, {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            /* blocks of whole 16-row panels, split evenly */
            int panels = (M + 15) / 16, p0 = panels * t / nt, p1 = panels * (t + 1) / nt;
            int r0 = p0 * 16, r1 = DREC_MIN(M, p1 * 16);
            if (r1 > r0) {
                const float *Ab = ta ? A + r0 : A + (size_t)r0 * lda;
                one_block(ta, tb, r1 - r0, N, K, alpha, Ab, lda, B, ldb, beta, C + (size_t)r0 * ldc, ldc);
            }
        });
        return;
    }
    one_block(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char *drec_blas_name(void) {
    extern char *openblas_get_config(void);
    return openblas_get_config();
}
