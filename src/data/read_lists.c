/* read_lists.c — the lists: reader (not yet written). */
#include "dataset.h"

drec_status drec_read_lists(const char *path, const drec_params *opts, drec_dataset **out) {
    (void)opts;
    *out = NULL;
    return drec_fail(DREC_ERR_UNSUPPORTED, "lists: data is not supported yet (%s)", path);
}
