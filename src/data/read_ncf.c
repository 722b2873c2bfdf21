/* read_ncf.c — the ncf: reader (not yet written). */
#include "dataset.h"

drec_status drec_read_ncf(const char *path, const drec_params *opts, drec_dataset **out) {
    (void)opts;
    *out = NULL;
    return drec_fail(DREC_ERR_UNSUPPORTED, "ncf: data is not supported yet (%s)", path);
}
