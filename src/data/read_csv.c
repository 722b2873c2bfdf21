/* read_csv.c — the csv: reader (not yet written). */
#include "dataset.h"

drec_status drec_read_csv(const char *path, const drec_params *opts, drec_dataset **out) {
    (void)opts;
    *out = NULL;
    return drec_fail(DREC_ERR_UNSUPPORTED, "csv: data is not supported yet (%s)", path);
}
