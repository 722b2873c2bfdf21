/*
 * fm.h — the factorization machine's one reusable kernel, shared with the
 * tests (which check it against the O(K N^2) definition).
 */
#ifndef DREC_FM_H
#define DREC_FM_H

#include <stdint.h>

/* sum_{a<b} <v_idx[a], v_idx[b]> x_a x_b for a row of n features (ids
 * idx, values val) over factors V (F, K), in O(K n) by Rendle's identity
 * 0.5 sum_f [(sum_a v_af x_a)^2 - sum_a v_af^2 x_a^2].  If s is not NULL
 * it receives the K sums sum_a v_af x_a (what the gradient needs). */
float drec_fm_pairwise(const float *V, int k, const int32_t *idx, const float *val, int n, float *s);

#endif
