/* read_movielens.c — the movielens: reader (not yet written). */
#include "dataset.h"

drec_status drec_read_movielens(const char *path, const drec_params *opts, drec_dataset **out) {
    (void)opts;
    *out = NULL;
    return drec_fail(DREC_ERR_UNSUPPORTED, "movielens: data is not supported yet (%s)", path);
}
