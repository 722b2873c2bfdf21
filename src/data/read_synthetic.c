/*
 * read_synthetic.c — the synthetic: reader.  The data is the offline
 * history of the synthetic world (world.h), generated from the spec's keys;
 * the world's simulator parts are dropped once the history is taken.
 */
#include "world.h"

drec_status drec_read_synthetic(const char *args, const drec_params *opts, drec_dataset **out) {
    (void)opts;
    *out = NULL;
    drec_world *w;
    drec_status st = drec_world_new(args, &w);
    if (st) return st;
    *out = drec_world_take_dataset(w);
    drec_world_free(w);
    return DREC_OK;
}
