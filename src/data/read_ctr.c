/* read_ctr.c — the ctr: reader (not yet written). */
#include "dataset.h"

drec_status drec_read_ctr(const char *path, const drec_params *opts, drec_dataset **out) {
    (void)opts;
    *out = NULL;
    return drec_fail(DREC_ERR_UNSUPPORTED, "ctr: data is not supported yet (%s)", path);
}
