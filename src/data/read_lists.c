/*
 * read_lists.c — the lists: reader: one line per user, "user item item ..."
 * separated by blanks (the LightGCN train.txt / ICLRec layout).  Each item
 * is one row; rows keep the file's order (timestamps are the row index, and
 * has_time stays false: the order is within a user, not across users).  A
 * user line without items still registers the user, and is counted.
 */
#include "textio.h"

drec_status drec_read_lists(const char *path, const drec_params *opts, drec_dataset **out) {
    (void)opts;
    *out = NULL;
    drec_text t;
    drec_status st = drec_text_open(&t, path);
    if (st) return st;
    drec_dataset *ds = drec_ds_new(DREC_DS_INTERACTIONS, path);
    size_t blank = 0, empty_users = 0;
    while (drec_text_next(&t)) {
        size_t nf = drec_text_split(&t, DREC_SEP_BLANKS, false);
        if (nf == 0) {
            blank++;
            continue;
        }
        int32_t u = drec_ds_user(ds, t.f[0].s, t.f[0].len);
        if (nf == 1) empty_users++;
        for (size_t k = 1; k < nf; k++) {
            int32_t i = drec_ds_item(ds, t.f[k].s, t.f[k].len);
            drec_ds_push(ds, u, i, 1.0f, (int64_t)ds->n);
        }
    }
    drec_text_close(&t);
    drec_ds_skip(ds, "blank lines", blank);
    drec_ds_skip(ds, "users without items", empty_users);
    if (ds->n == 0) {
        drec_dataset_free(ds);
        return drec_fail(DREC_ERR_INPUT, "%s: no user has an item", path);
    }
    drec_ds_finish(ds);
    *out = ds;
    return DREC_OK;
}
