/*
 * kernels.c — scalar, AVX2+FMA and AVX-512 versions of the vector loops in
 * kernels.h.  The SIMD versions are compiled with per-function target
 * attributes, so the library runs on any x86-64 and picks the best path the
 * CPU supports when it loads (ggml and llm.c do the same with build flags;
 * run-time choice lets one binary serve every machine).
 *
 * exp uses the Cephes single-precision scheme: x = n ln2 + r with |r| <=
 * ln2/2, a degree-6 polynomial for e^r, and 2^n built in the exponent bits;
 * relative error about 2 ulp on [-87, 88], inputs below -87.3 give 0.
 */
#include "kernels.h"

#include "common.h"

#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- scalar reference ----------------------------------------------------- */

static float sc_dot(const float *a, const float *b, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
static float sc_sum(const float *a, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i];
    return s;
}
static float sc_max(const float *a, int n) {
    float m = -INFINITY;
    for (int i = 0; i < n; i++) m = a[i] > m ? a[i] : m;
    return m;
}
static void sc_axpy(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}
static void sc_scale(float *y, float a, int n) {
    for (int i = 0; i < n; i++) y[i] *= a;
}
static void sc_fill(float *y, float a, int n) {
    for (int i = 0; i < n; i++) y[i] = a;
}
static void sc_add(float *o, const float *a, const float *b, int n) {
    for (int i = 0; i < n; i++) o[i] = a[i] + b[i];
}
static void sc_mul(float *o, const float *a, const float *b, int n) {
    for (int i = 0; i < n; i++) o[i] = a[i] * b[i];
}
static void sc_muladd(float *o, const float *a, const float *b, int n) {
    for (int i = 0; i < n; i++) o[i] += a[i] * b[i];
}
static void sc_sigmoid(float *o, const float *x, int n) {
    for (int i = 0; i < n; i++) o[i] = 1.0f / (1.0f + expf(-x[i]));
}
static void sc_sigmoid_grad(float *dx, const float *g, const float *y, int n, bool acc) {
    for (int i = 0; i < n; i++) {
        float d = g[i] * y[i] * (1 - y[i]);
        dx[i] = acc ? dx[i] + d : d;
    }
}
static void sc_exp(float *o, const float *x, int n) {
    for (int i = 0; i < n; i++) o[i] = expf(x[i]);
}
static float sc_exp_shift_sum(float *o, const float *x, float m, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) { o[i] = expf(x[i] - m); s += o[i]; }
    return s;
}

static void sc_lincomb(float *out, const float *c, const float *M, const int32_t *idx, int n, int64_t ld, int len,
                       bool acc) {
    if (!acc) memset(out, 0, (size_t)len * sizeof(float));
    for (int i = 0; i < n; i++) {
        const float *row = M + (idx ? (int64_t)idx[i] : i) * ld;
        for (int j = 0; j < len; j++) out[j] += c[i] * row[j];
    }
}

static void sc_lincomb_block(float *out, int64_t ldo, int m, const float *c, int64_t ck, int64_t ci, const float *M,
                             int n, int64_t ld, int len, bool acc) {
    for (int k = 0; k < m; k++) {
        float *o = out + (int64_t)k * ldo;
        if (!acc) memset(o, 0, (size_t)len * sizeof(float));
        for (int i = 0; i < n; i++) {
            float ck_i = c[(int64_t)k * ck + (int64_t)i * ci];
            for (int j = 0; j < len; j++) o[j] += ck_i * M[(int64_t)i * ld + j];
        }
    }
}
static void sc_gather(float *out, const float *M, const int32_t *idx, int n, int64_t ld, int len) {
    for (int m = 0; m < n; m++) memcpy(out + (int64_t)m * len, M + (int64_t)idx[m] * ld, (size_t)len * sizeof(float));
}
static void sc_scatter(float *out, const float *src, const int32_t *slot, int n, int len) {
    for (int m = 0; m < n; m++) {
        int32_t s = slot[m];
        const float *x = src + (int64_t)m * len;
        float *o = out + (int64_t)(s < 0 ? ~s : s) * len;
        for (int j = 0; j < len; j++) o[j] = s < 0 ? x[j] : o[j] + x[j];
    }
}

static const drec_kernels k_scalar = {"scalar", sc_dot, sc_sum, sc_max, sc_axpy, sc_scale, sc_fill, sc_add, sc_mul,
                                      sc_muladd, sc_sigmoid, sc_sigmoid_grad, sc_exp, sc_exp_shift_sum, sc_lincomb,
                                      sc_lincomb_block, sc_gather, sc_scatter};

/* ---- AVX2 + FMA --------------------------------------------------------------- */

#define T2 __attribute__((target("avx2,fma")))

T2 static inline float hsum8(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}
T2 static inline __m256 exp8(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365478515625f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(under, y);
}
T2 static float a2_dot(const float *a, const float *b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum8(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}
T2 static float a2_sum(const float *a, int n) {
    __m256 s0 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) s0 = _mm256_add_ps(s0, _mm256_loadu_ps(a + i));
    float s = hsum8(s0);
    for (; i < n; i++) s += a[i];
    return s;
}
T2 static float a2_max(const float *a, int n) {
    __m256 m0 = _mm256_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 8 <= n; i += 8) m0 = _mm256_max_ps(m0, _mm256_loadu_ps(a + i));
    float t[8], m = -INFINITY;
    _mm256_storeu_ps(t, m0);
    for (int j = 0; j < 8; j++) m = t[j] > m ? t[j] : m;
    for (; i < n; i++) m = a[i] > m ? a[i] : m;
    return m;
}
T2 static void a2_axpy(float *y, float a, const float *x, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}
T2 static void a2_scale(float *y, float a, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(va, _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] *= a;
}
T2 static void a2_fill(float *y, float a, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, va);
    for (; i < n; i++) y[i] = a;
}
T2 static void a2_add(float *o, const float *a, const float *b, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(o + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++) o[i] = a[i] + b[i];
}
T2 static void a2_mul(float *o, const float *a, const float *b, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++) o[i] = a[i] * b[i];
}
T2 static void a2_muladd(float *o, const float *a, const float *b, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(o + i, _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), _mm256_loadu_ps(o + i)));
    for (; i < n; i++) o[i] += a[i] * b[i];
}
/* 1/(1+e^-x) with rcp + one Newton step instead of a division (which would
 * dominate: a divide issues every few cycles, the rest of the loop is FMAs) */
T2 static inline __m256 sigmoid8(__m256 x) {
    __m256 d = _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), x)));
    __m256 r = _mm256_rcp_ps(d);
    return _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0f)));
}
T2 static void a2_sigmoid(float *o, const float *x, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(o + i, sigmoid8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float t[8] = {0};
        memcpy(t, x + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(t, sigmoid8(_mm256_loadu_ps(t)));
        memcpy(o + i, t, (size_t)(n - i) * sizeof(float));
    }
}
T2 static void a2_sigmoid_grad(float *dx, const float *g, const float *y, int n, bool acc) {
    int i = 0;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 yv = _mm256_loadu_ps(y + i);
        __m256 d = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(g + i), yv), _mm256_sub_ps(one, yv));
        _mm256_storeu_ps(dx + i, acc ? _mm256_add_ps(_mm256_loadu_ps(dx + i), d) : d);
    }
    for (; i < n; i++) {
        float d = g[i] * y[i] * (1 - y[i]);
        dx[i] = acc ? dx[i] + d : d;
    }
}
T2 static void a2_exp(float *o, const float *x, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(o + i, exp8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float t[8] = {0};
        memcpy(t, x + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(t, exp8(_mm256_loadu_ps(t)));
        memcpy(o + i, t, (size_t)(n - i) * sizeof(float));
    }
}
T2 static float a2_exp_shift_sum(float *o, const float *x, float m, int n) {
    __m256 vm = _mm256_set1_ps(m), s0 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(o + i, e);
        s0 = _mm256_add_ps(s0, e);
    }
    float s = hsum8(s0);
    if (i < n) {
        float t[8] = {0};
        for (int j = 0; j < n - i; j++) t[j] = x[i + j] - m;
        _mm256_storeu_ps(t, exp8(_mm256_loadu_ps(t)));
        for (int j = 0; j < n - i; j++) { o[i + j] = t[j]; s += t[j]; }
    }
    return s;
}

/* 32 columns (4 ymm accumulators) per block; a masked tail block. */
T2 static void a2_lincomb(float *out, const float *c, const float *M, const int32_t *idx, int n, int64_t ld, int len,
                          bool acc) {
    int j0 = 0;
    for (; j0 + 32 <= len; j0 += 32) {
        __m256 a0, a1, a2, a3;
        if (acc) {
            a0 = _mm256_loadu_ps(out + j0), a1 = _mm256_loadu_ps(out + j0 + 8);
            a2 = _mm256_loadu_ps(out + j0 + 16), a3 = _mm256_loadu_ps(out + j0 + 24);
        } else {
            a0 = a1 = a2 = a3 = _mm256_setzero_ps();
        }
        for (int i = 0; i < n; i++) {
            const float *r = M + (idx ? (int64_t)idx[i] : i) * ld + j0;
            __m256 ci = _mm256_set1_ps(c[i]);
            a0 = _mm256_fmadd_ps(ci, _mm256_loadu_ps(r), a0);
            a1 = _mm256_fmadd_ps(ci, _mm256_loadu_ps(r + 8), a1);
            a2 = _mm256_fmadd_ps(ci, _mm256_loadu_ps(r + 16), a2);
            a3 = _mm256_fmadd_ps(ci, _mm256_loadu_ps(r + 24), a3);
        }
        _mm256_storeu_ps(out + j0, a0), _mm256_storeu_ps(out + j0 + 8, a1);
        _mm256_storeu_ps(out + j0 + 16, a2), _mm256_storeu_ps(out + j0 + 24, a3);
    }
    for (; j0 + 8 <= len; j0 += 8) {
        __m256 a0 = acc ? _mm256_loadu_ps(out + j0) : _mm256_setzero_ps();
        for (int i = 0; i < n; i++)
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(c[i]), _mm256_loadu_ps(M + (idx ? (int64_t)idx[i] : i) * ld + j0), a0);
        _mm256_storeu_ps(out + j0, a0);
    }
    for (; j0 < len; j0++) {
        float s = acc ? out[j0] : 0.0f;
        for (int i = 0; i < n; i++) s += c[i] * M[(idx ? (int64_t)idx[i] : i) * ld + j0];
        out[j0] = s;
    }
}

T2 static void a2_lincomb_block(float *out, int64_t ldo, int m, const float *c, int64_t ck, int64_t ci, const float *M,
                                int n, int64_t ld, int len, bool acc) {
    for (int k = 0; k < m; k++) {
        float *o = out + (int64_t)k * ldo;
        const float *ck_ = c + (int64_t)k * ck;
        int j0 = 0;
        for (; j0 + 16 <= len; j0 += 16) {
            __m256 a0 = acc ? _mm256_loadu_ps(o + j0) : _mm256_setzero_ps();
            __m256 a1 = acc ? _mm256_loadu_ps(o + j0 + 8) : _mm256_setzero_ps();
            for (int i = 0; i < n; i++) {
                __m256 cv = _mm256_set1_ps(ck_[(int64_t)i * ci]);
                a0 = _mm256_fmadd_ps(cv, _mm256_loadu_ps(M + (int64_t)i * ld + j0), a0);
                a1 = _mm256_fmadd_ps(cv, _mm256_loadu_ps(M + (int64_t)i * ld + j0 + 8), a1);
            }
            _mm256_storeu_ps(o + j0, a0), _mm256_storeu_ps(o + j0 + 8, a1);
        }
        for (; j0 < len; j0++) {
            float sum = acc ? o[j0] : 0.0f;
            for (int i = 0; i < n; i++) sum += ck_[(int64_t)i * ci] * M[(int64_t)i * ld + j0];
            o[j0] = sum;
        }
    }
}

#define GATHER_AHEAD 8
/* Asks for the table row GATHER_AHEAD lookups ahead of m (a cache miss each) */
static inline void gather_ahead(const float *M, const int32_t *idx, int m, int n, int64_t ld, int len) {
    if (m + GATHER_AHEAD >= n) return;
    const float *f = M + (int64_t)idx[m + GATHER_AHEAD] * ld;
    for (int j = 0; j < len; j += 16) _mm_prefetch((const char *)(f + j), _MM_HINT_T0);
}
T2 static void a2_gather(float *out, const float *M, const int32_t *idx, int n, int64_t ld, int len) {
    for (int m = 0; m < n; m++) {
        gather_ahead(M, idx, m, n, ld, len);
        const float *r = M + (int64_t)idx[m] * ld;
        float *o = out + (int64_t)m * len;
        int j = 0;
        for (; j + 8 <= len; j += 8) _mm256_storeu_ps(o + j, _mm256_loadu_ps(r + j));
        for (; j < len; j++) o[j] = r[j];
    }
}
T2 static void a2_scatter(float *out, const float *src, const int32_t *slot, int n, int len) {
    for (int m = 0; m < n; m++) {
        int32_t s = slot[m];
        const float *x = src + (int64_t)m * len;
        float *o = out + (int64_t)(s < 0 ? ~s : s) * len;
        int j = 0;
        if (s < 0) {
            for (; j + 8 <= len; j += 8) _mm256_storeu_ps(o + j, _mm256_loadu_ps(x + j));
            for (; j < len; j++) o[j] = x[j];
        } else {
            for (; j + 8 <= len; j += 8) _mm256_storeu_ps(o + j, _mm256_add_ps(_mm256_loadu_ps(o + j), _mm256_loadu_ps(x + j)));
            for (; j < len; j++) o[j] += x[j];
        }
    }
}

static const drec_kernels k_avx2 = {"avx2", a2_dot, a2_sum, a2_max, a2_axpy, a2_scale, a2_fill, a2_add, a2_mul,
                                    a2_muladd, a2_sigmoid, a2_sigmoid_grad, a2_exp, a2_exp_shift_sum, a2_lincomb,
                                    a2_lincomb_block, a2_gather, a2_scatter};

/* ---- AVX-512 ------------------------------------------------------------------ */

#define T5 __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))

T5 static inline __m512 exp16(__m512 x) {
    const __m512 hi = _mm512_set1_ps(88.3762626647949f), lo = _mm512_set1_ps(-87.3365478515625f);
    __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
    __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201E-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
    /* y * 2^fx in one instruction; fx is in [-126, 128], so the result is the
     * same as building 2^fx in the exponent bits */
    y = _mm512_scalef_ps(y, fx);
    return _mm512_maskz_mov_ps((__mmask16)~under, y);
}
T5 static inline __mmask16 tail16(int r) { return (__mmask16)((1u << r) - 1u); }
T5 static float a5_dot(const float *a, const float *b, int n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = tail16(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}
T5 static float a5_sum(const float *a, int n) {
    __m512 s0 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) s0 = _mm512_add_ps(s0, _mm512_loadu_ps(a + i));
    if (i < n) s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(tail16(n - i), a + i));
    return _mm512_reduce_add_ps(s0);
}
T5 static float a5_max(const float *a, int n) {
    __m512 m0 = _mm512_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 16 <= n; i += 16) m0 = _mm512_max_ps(m0, _mm512_loadu_ps(a + i));
    if (i < n) m0 = _mm512_mask_max_ps(m0, tail16(n - i), m0, _mm512_maskz_loadu_ps(tail16(n - i), a + i));
    return _mm512_reduce_max_ps(m0);
}
T5 static void a5_axpy(float *y, float a, const float *x, int n) {
    __m512 va = _mm512_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = tail16(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}
T5 static void a5_scale(float *y, float a, int n) {
    __m512 va = _mm512_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(va, _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = tail16(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(va, _mm512_maskz_loadu_ps(m, y + i)));
    }
}
T5 static void a5_fill(float *y, float a, int n) {
    __m512 va = _mm512_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, va);
    if (i < n) _mm512_mask_storeu_ps(y + i, tail16(n - i), va);
}
T5 static void a5_add(float *o, const float *a, const float *b, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(o + i, _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
    if (i < n) {
        __mmask16 m = tail16(n - i);
        _mm512_mask_storeu_ps(o + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
    }
}
T5 static void a5_mul(float *o, const float *a, const float *b, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(o + i, _mm512_mul_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
    if (i < n) {
        __mmask16 m = tail16(n - i);
        _mm512_mask_storeu_ps(o + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
    }
}
T5 static void a5_muladd(float *o, const float *a, const float *b, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(o + i, _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), _mm512_loadu_ps(o + i)));
    if (i < n) {
        __mmask16 m = tail16(n - i);
        _mm512_mask_storeu_ps(o + i, m, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i),
                                                         _mm512_maskz_loadu_ps(m, o + i)));
    }
}
T5 static inline __m512 sigmoid16(__m512 x) {
    __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), x)));
    __m512 r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}
T5 static void a5_sigmoid(float *o, const float *x, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(o + i, sigmoid16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = tail16(n - i);
        _mm512_mask_storeu_ps(o + i, m, sigmoid16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}
T5 static void a5_sigmoid_grad(float *dx, const float *g, const float *y, int n, bool acc) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tail16(n - i);
        __m512 yv = _mm512_maskz_loadu_ps(m, y + i);
        __m512 d = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, g + i), yv), _mm512_sub_ps(one, yv));
        if (acc) d = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dx + i), d);
        _mm512_mask_storeu_ps(dx + i, m, d);
    }
}
T5 static void a5_exp(float *o, const float *x, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(o + i, exp16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = tail16(n - i);
        _mm512_mask_storeu_ps(o + i, m, exp16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}
T5 static float a5_exp_shift_sum(float *o, const float *x, float mx, int n) {
    __m512 vm = _mm512_set1_ps(mx), s0 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        _mm512_storeu_ps(o + i, e);
        s0 = _mm512_add_ps(s0, e);
    }
    if (i < n) {
        __mmask16 m = tail16(n - i);
        __m512 e = _mm512_maskz_mov_ps(m, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm)));
        _mm512_mask_storeu_ps(o + i, m, e);
        s0 = _mm512_add_ps(s0, e);
    }
    return _mm512_reduce_add_ps(s0);
}

/* One block of up to 64 columns: nb (1..4, a constant after inlining) zmm
 * accumulators per row set, only the blocks the width needs (a narrow
 * product, say a 32-wide head or a short causal row, does no work on
 * masked-off lanes); rows go four at a time into four accumulator sets
 * (summed at the end) so that consecutive FMAs do not wait on each other. */
T5 static inline __attribute__((always_inline)) void a5_lc_block(float *o, const float *c, int64_t cs,
                                                                 const float *M, const int32_t *idx, int n,
                                                                 int64_t ld, int nb, __mmask16 last, bool acc) {
    __m512 s0[4], s1[4], s2[4], s3[4];
    _Pragma("GCC unroll 4") for (int k = 0; k < nb; k++) {
        __mmask16 m = k == nb - 1 ? last : (__mmask16)0xffff;
        s0[k] = acc ? _mm512_maskz_loadu_ps(m, o + 16 * k) : _mm512_setzero_ps();
        s1[k] = s2[k] = s3[k] = _mm512_setzero_ps();
    }
#define LC_ROW(S, i)                                                                                  \
    do {                                                                                              \
        const float *r_ = M + (idx ? (int64_t)idx[i] : (int64_t)(i)) * ld;                            \
        __m512 c_ = _mm512_set1_ps(c[(int64_t)(i) * cs]);                                             \
        _Pragma("GCC unroll 4") for (int k = 0; k < nb; k++) {                                                                \
            __m512 v_ = k == nb - 1 ? _mm512_maskz_loadu_ps(last, r_ + 16 * k) : _mm512_loadu_ps(r_ + 16 * k); \
            S[k] = _mm512_fmadd_ps(c_, v_, S[k]);                                                     \
        }                                                                                             \
    } while (0)
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        LC_ROW(s0, i);
        LC_ROW(s1, i + 1);
        LC_ROW(s2, i + 2);
        LC_ROW(s3, i + 3);
    }
    for (; i < n; i++) LC_ROW(s0, i);
#undef LC_ROW
    _Pragma("GCC unroll 4") for (int k = 0; k < nb; k++) {
        __mmask16 m = k == nb - 1 ? last : (__mmask16)0xffff;
        _mm512_mask_storeu_ps(o + 16 * k, m, _mm512_add_ps(_mm512_add_ps(s0[k], s1[k]), _mm512_add_ps(s2[k], s3[k])));
    }
}

T5 static inline __attribute__((always_inline)) void a5_lincomb_any(float *out, const float *c, int64_t cs,
                                                                    const float *M, const int32_t *idx, int n,
                                                                    int64_t ld, int len, bool acc) {
    for (int j0 = 0; j0 < len; j0 += 64) {
        int w = DREC_MIN(64, len - j0), nb = (w + 15) / 16;
        __mmask16 last = tail16(w - 16 * (nb - 1));
        const float *Mj = M + j0;
        switch (nb) {
        case 1: a5_lc_block(out + j0, c, cs, Mj, idx, n, ld, 1, last, acc); break;
        case 2: a5_lc_block(out + j0, c, cs, Mj, idx, n, ld, 2, last, acc); break;
        case 3: a5_lc_block(out + j0, c, cs, Mj, idx, n, ld, 3, last, acc); break;
        default: a5_lc_block(out + j0, c, cs, Mj, idx, n, ld, 4, last, acc); break;
        }
    }
}
T5 static void a5_lincomb(float *out, const float *c, const float *M, const int32_t *idx, int n, int64_t ld, int len,
                          bool acc) {
    a5_lincomb_any(out, c, 1, M, idx, n, ld, len, acc);
}
/* mk outputs (1..4) x nb 16-lane blocks (1..4), both constants after
 * inlining: up to 16 accumulators; each loaded block of an M row feeds mk
 * FMAs. */
T5 static inline __attribute__((always_inline)) void a5_lb_block(float *o, int64_t ldo, int mk, const float *c,
                                                                 int64_t ck, int64_t ci, const float *M, int n,
                                                                 int64_t ld, int nb, __mmask16 last, bool acc) {
    __m512 s[4][4];
    _Pragma("GCC unroll 4") for (int k = 0; k < mk; k++)
        _Pragma("GCC unroll 4") for (int b = 0; b < nb; b++)
            s[k][b] = acc ? _mm512_maskz_loadu_ps(b == nb - 1 ? last : (__mmask16)0xffff, o + k * ldo + 16 * b)
                          : _mm512_setzero_ps();
    for (int i = 0; i < n; i++) {
        const float *r = M + (int64_t)i * ld;
        __m512 v[4];
        _Pragma("GCC unroll 4") for (int b = 0; b < nb; b++) v[b] = b == nb - 1 ? _mm512_maskz_loadu_ps(last, r + 16 * b) : _mm512_loadu_ps(r + 16 * b);
        _Pragma("GCC unroll 4") for (int k = 0; k < mk; k++) {
            __m512 cv = _mm512_set1_ps(c[(int64_t)k * ck + (int64_t)i * ci]);
            _Pragma("GCC unroll 4") for (int b = 0; b < nb; b++) s[k][b] = _mm512_fmadd_ps(cv, v[b], s[k][b]);
        }
    }
    _Pragma("GCC unroll 4") for (int k = 0; k < mk; k++)
        _Pragma("GCC unroll 4") for (int b = 0; b < nb; b++)
            _mm512_mask_storeu_ps(o + k * ldo + 16 * b, b == nb - 1 ? last : (__mmask16)0xffff, s[k][b]);
}
#define A5_LB(MK)                                                                                       \
    switch (nb) {                                                                                       \
    case 1: a5_lb_block(o, ldo, MK, ck_, ck, ci, Mj, n, ld, 1, last, acc); break;                       \
    case 2: a5_lb_block(o, ldo, MK, ck_, ck, ci, Mj, n, ld, 2, last, acc); break;                       \
    case 3: a5_lb_block(o, ldo, MK, ck_, ck, ci, Mj, n, ld, 3, last, acc); break;                       \
    default: a5_lb_block(o, ldo, MK, ck_, ck, ci, Mj, n, ld, 4, last, acc); break;                      \
    }
T5 static void a5_lincomb_block(float *out, int64_t ldo, int m, const float *c, int64_t ck, int64_t ci, const float *M,
                                int n, int64_t ld, int len, bool acc) {
    for (int k0 = 0; k0 < m; k0 += 4) {
        int mk = DREC_MIN(4, m - k0);
        const float *ck_ = c + (int64_t)k0 * ck;
        if (mk == 1) { /* one output: lincomb's row-unrolled loop keeps more FMAs in flight */
            a5_lincomb_any(out + (int64_t)k0 * ldo, ck_, ci, M, NULL, n, ld, len, acc);
            continue;
        }
        for (int j0 = 0; j0 < len; j0 += 64) {
            int w = DREC_MIN(64, len - j0), nb = (w + 15) / 16;
            __mmask16 last = tail16(w - 16 * (nb - 1));
            float *o = out + (int64_t)k0 * ldo + j0;
            const float *Mj = M + j0;
            if (mk == 2) { A5_LB(2) } else if (mk == 3) { A5_LB(3) } else { A5_LB(4) }
        }
    }
}
#undef A5_LB

T5 static void a5_gather(float *out, const float *M, const int32_t *idx, int n, int64_t ld, int len) {
    for (int m = 0; m < n; m++) {
        gather_ahead(M, idx, m, n, ld, len);
        const float *r = M + (int64_t)idx[m] * ld;
        float *o = out + (int64_t)m * len;
        int j = 0;
        for (; j + 16 <= len; j += 16) _mm512_storeu_ps(o + j, _mm512_loadu_ps(r + j));
        if (j < len) _mm512_mask_storeu_ps(o + j, tail16(len - j), _mm512_maskz_loadu_ps(tail16(len - j), r + j));
    }
}
T5 static void a5_scatter(float *out, const float *src, const int32_t *slot, int n, int len) {
    for (int m = 0; m < n; m++) {
        int32_t s = slot[m];
        const float *x = src + (int64_t)m * len;
        if (s < 0) {
            float *o = out + (int64_t)~s * len;
            int j = 0;
            for (; j + 16 <= len; j += 16) _mm512_storeu_ps(o + j, _mm512_loadu_ps(x + j));
            if (j < len) _mm512_mask_storeu_ps(o + j, tail16(len - j), _mm512_maskz_loadu_ps(tail16(len - j), x + j));
        } else {
            float *o = out + (int64_t)s * len;
            int j = 0;
            for (; j + 16 <= len; j += 16) _mm512_storeu_ps(o + j, _mm512_add_ps(_mm512_loadu_ps(o + j), _mm512_loadu_ps(x + j)));
            if (j < len) {
                __mmask16 k = tail16(len - j);
                _mm512_mask_storeu_ps(o + j, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, o + j), _mm512_maskz_loadu_ps(k, x + j)));
            }
        }
    }
}

static const drec_kernels k_avx512 = {"avx512", a5_dot, a5_sum, a5_max, a5_axpy, a5_scale, a5_fill, a5_add, a5_mul,
                                      a5_muladd, a5_sigmoid, a5_sigmoid_grad, a5_exp, a5_exp_shift_sum, a5_lincomb,
                                      a5_lincomb_block, a5_gather, a5_scatter};

/* ---- selection ------------------------------------------------------------------ */

const drec_kernels *drec_kern = &k_scalar;

static bool has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
static bool has_avx512(void) {
    __builtin_cpu_init();
    return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
}

drec_status drec_kernels_select(const char *name) {
    if (!name || !*name || !strcmp(name, "auto")) {
        drec_kern = has_avx512() ? &k_avx512 : has_avx2() ? &k_avx2 : &k_scalar;
    } else if (!strcmp(name, "scalar")) {
        drec_kern = &k_scalar;
    } else if (!strcmp(name, "avx2")) {
        if (!has_avx2()) return drec_fail(DREC_ERR_UNSUPPORTED, "kernels: this CPU lacks AVX2+FMA");
        drec_kern = &k_avx2;
    } else if (!strcmp(name, "avx512")) {
        if (!has_avx512()) return drec_fail(DREC_ERR_UNSUPPORTED, "kernels: this CPU lacks AVX-512");
        drec_kern = &k_avx512;
    } else {
        return drec_fail(DREC_ERR_USAGE, "kernels: unknown path '%s' (auto, scalar, avx2, avx512)", name);
    }
    return DREC_OK;
}

const char *drec_kernels_name(void) { return drec_kern->name; }

__attribute__((constructor)) static void kernels_init(void) {
    if (drec_kernels_select(getenv("DREC_KERNELS")) != DREC_OK) drec_kernels_select("auto");
}
