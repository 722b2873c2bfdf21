/*
 * kernels.h — the small vector loops every op leans on, behind one table of
 * function pointers chosen once at run time: AVX-512, AVX2+FMA, or the
 * portable scalar reference.  DREC_KERNELS=scalar|avx2|avx512|auto in the
 * environment, or drec_kernels_select(), picks a path (tests compare the
 * SIMD paths against the scalar one).
 *
 * Each path sums in a fixed order of its own, so one path always gives the
 * same bits for the same input; paths differ from each other by rounding.
 * n is an element count; pointers need no alignment; out may alias an input.
 */
#ifndef DREC_KERNELS_H
#define DREC_KERNELS_H

#include "drec.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct drec_kernels {
    const char *name;
    float (*dot)(const float *a, const float *b, int n);
    float (*sum)(const float *a, int n);
    float (*max)(const float *a, int n);
    void (*axpy)(float *y, float a, const float *x, int n);   /* y += a x */
    void (*scale)(float *y, float a, int n);                  /* y *= a */
    void (*fill)(float *y, float a, int n);                   /* y = a */
    void (*add)(float *out, const float *a, const float *b, int n);
    void (*mul)(float *out, const float *a, const float *b, int n);
    void (*muladd)(float *out, const float *a, const float *b, int n);      /* out += a b */
    /* out = 1 / (1 + exp(-x)); the SIMD paths use a refined reciprocal (~1 ulp) */
    void (*sigmoid)(float *out, const float *x, int n);
    /* dx = g y (1 - y), or dx += that when acc (y = sigmoid output) */
    void (*sigmoid_grad)(float *dx, const float *g, const float *y, int n, bool acc);
    void (*exp)(float *out, const float *x, int n);
    /* out = exp(x - m), returns the sum of out (softmax numerator) */
    float (*exp_shift_sum)(float *out, const float *x, float m, int n);
    /* out[0..len) (+)= sum_{i<n} c[i] * M[row_i][0..len), row_i = idx ? idx[i] : i,
     * rows ld floats apart; accumulates into out when acc, else overwrites.
     * The workhorse of attention and spmm: accumulators stay in registers. */
    void (*lincomb)(float *out, const float *c, const float *M, const int32_t *idx, int n, int64_t ld,
                    int len, bool acc);
    /* A small product, lincomb for m outputs at once: for k < m, out row k
     * (rows ldo apart) (+)= sum_{i<n} c[k*ck + i*ci] * M row i (rows ld
     * apart, len floats).  Strides let c be a block of rows (ck = row
     * stride, ci = 1) or of columns (ck = 1, ci = row stride) of a
     * row-major matrix.  Outputs go four at a time: each row of M, once
     * loaded, feeds four accumulators. */
    void (*lincomb_block)(float *out, int64_t ldo, int m, const float *c, int64_t ck, int64_t ci, const float *M,
                          int n, int64_t ld, int len, bool acc);
    /* Row gather: out row m = M row idx[m] (len floats, rows ld apart),
     * m < n; table rows are requested a few rows ahead (cache misses). */
    void (*gather)(float *out, const float *M, const int32_t *idx, int n, int64_t ld, int len);
    /* Row scatter into a compact buffer: for m < n, s = slot[m]:
     * out row s += src row m if s >= 0, out row ~s = src row m if s < 0
     * (a row's first write); rows len floats, contiguous. */
    void (*scatter)(float *out, const float *src, const int32_t *slot, int n, int len);
} drec_kernels;

/* The active table (selected on first use from DREC_KERNELS, default auto). */
extern const drec_kernels *drec_kern;
/* name: "auto", "scalar", "avx2" or "avx512".  Fails with DREC_ERR_UNSUPPORTED
 * if the CPU lacks the instructions. */
drec_status drec_kernels_select(const char *name);
const char *drec_kernels_name(void);

#endif
