/*
 * read_seq.c — the seq: reader: one "user item" pair per line, each user's
 * lines in time order (the layout of the SASRec data files).  The file has no
 * timestamps, so a row's timestamp is its line order: sorting by time
 * within a user keeps the file's order, and a temporal split cuts the
 * file's tail.  Extra fields after the item are ignored.
 */
#include "textio.h"

drec_status drec_read_seq(const char *path, const drec_params *opts, drec_dataset **out) {
    (void)opts;
    *out = NULL;
    drec_text t;
    drec_status st = drec_text_open(&t, path);
    if (st) return st;
    drec_dataset *ds = drec_ds_new(DREC_DS_INTERACTIONS, path);
    ds->has_time = true;
    drec_table_spec spec = {.sep = DREC_SEP_BLANKS, .user_col = 0, .item_col = 1, .rating_col = -1,
                            .time_col = -1, .n_fields = 0, .what = "\"user item\" line"};
    st = drec_text_read_table(&t, &spec, ds);
    drec_text_close(&t);
    if (st) {
        drec_dataset_free(ds);
        return st;
    }
    drec_ds_finish(ds);
    *out = ds;
    return DREC_OK;
}
