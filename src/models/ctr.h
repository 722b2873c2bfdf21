/*
 * ctr.h — what the CTR model family (ctr.c) shows its tests: a
 * finite-difference check of every fused backward pass.
 */
#ifndef DREC_CTR_H
#define DREC_CTR_H

#include <stdbool.h>

/* Builds a tiny network of the named model ("lr", "widedeep", "deepfm",
 * "xdeepfm", "autoint"; bn adds batch norm to the MLP) on a fixed batch
 * with one-hot, weighted multi-hot and numeric fields, and compares every
 * analytic gradient (dense, embedding, first order, crosses) with central
 * differences.  Returns the worst error relative to the tolerance (<= 1
 * passes), INFINITY for an unknown name; *n_checked gets the count. */
double drec_ctr_gradcheck(const char *model, bool bn, int *n_checked);

/* Runs two examples of F fields through the attention kernel for 16-wide
 * heads (two heads) and through the general one, forward and backward,
 * on random inputs in buffers of the exact size.  Returns the largest
 * difference between the two (scores, outputs and input gradients). */
double drec_ctr_att_check(int F);

#endif
