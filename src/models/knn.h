/*
 * knn.h — what knn.c offers beyond the model vtable: the learned
 * similarity between two items (users for userknn), for inspection and
 * tests.
 */
#ifndef DREC_KNN_H
#define DREC_KNN_H

#include "model.h"

/* The similarity of entities a and b as the model keeps it (items for
 * itemknn/timeknn, users for userknn): the rating similarity on rated data,
 * else the 0/1 cosine; 0 when b is not among a's kept neighbours or the
 * model is not a kNN model.  Shrinkage is included. */
float drec_knn_similarity(const drec_model *m, int32_t a, int32_t b);

#endif
