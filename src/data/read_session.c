/*
 * read_session.c — the session: reader: click streams grouped in sessions.
 *
 *   Diginetica  session_id;user_id;item_id;timeframe;eventdate  (header)
 *               timeframe = ms since the session began, eventdate = day
 *   YooChoose   session,timestamp,item,category  (no header; ISO time)
 *
 * A header line names the columns (session/sessionId/session_id,
 * item/itemId/item_id, timeframe, eventdate, timestamp/time/ts); without a
 * header, a comma file whose second field is an ISO time is YooChoose, and
 * any other file is read as session, item, time.  The separator is ';' when
 * the first line holds one, else ',' (or tab).  The user column of the
 * dataset is the session; timestamps are milliseconds: eventdate's midnight
 * plus timeframe for Diginetica (so the order within a session holds), the
 * ISO time for YooChoose, a numeric time column as given.
 */
#include "textio.h"

#include <strings.h>

static int find_col(const drec_text *t, const char *const *names) {
    for (size_t k = 0; k < t->nf; k++)
        for (int j = 0; names[j]; j++)
            if (t->f[k].len == strlen(names[j]) && strncasecmp(t->f[k].s, names[j], t->f[k].len) == 0) return (int)k;
    return -1;
}

drec_status drec_read_session(const char *path, const drec_params *opts, drec_dataset **out) {
    (void)opts;
    *out = NULL;
    drec_text t;
    drec_status st = drec_text_open(&t, path);
    if (st) return st;
    while (drec_text_next(&t) && drec_text_blank(&t)) {
    }
    int sep = memchr(t.line, ';', t.len) ? ';' : memchr(t.line, ',', t.len) ? ',' : '\t';
    size_t nf = drec_text_split(&t, sep, true);
    int c_sess = 0, c_item = 1, c_time = 2, c_date = -1;
    bool header = nf > 0 && !drec_parse_i64(t.f[0].s, t.f[0].len, &(int64_t){0});
    char b[64];
    if (header) {
        static const char *const sess[] = {"session_id", "sessionId", "session", NULL};
        static const char *const item[] = {"item_id", "itemId", "item", NULL};
        static const char *const tframe[] = {"timeframe", "timestamp", "time", "ts", NULL};
        static const char *const date[] = {"eventdate", "date", NULL};
        c_sess = find_col(&t, sess);
        c_item = find_col(&t, item);
        c_time = find_col(&t, tframe);
        c_date = find_col(&t, date);
        if (c_sess < 0 || c_item < 0 || (c_time < 0 && c_date < 0)) {
            st = drec_text_fail(&t, "header should name the session, item and time columns "
                                    "(e.g. session_id;user_id;item_id;timeframe;eventdate)");
            drec_text_close(&t);
            return st;
        }
    } else {
        int64_t ms;
        if (sep == ',' && nf >= 3 && drec_parse_iso_ms(t.f[1].s, t.f[1].len, &ms)) c_item = 2, c_time = 1;
        t.p = t.line; /* read the first line again as data */
        t.line_no--;
    }
    int need = DREC_MAX(DREC_MAX(c_sess, c_item), DREC_MAX(c_time, c_date)) + 1;
    drec_dataset *ds = drec_ds_new(DREC_DS_SESSIONS, path);
    ds->has_time = true;
    if (header) drec_ds_skip(ds, "header", 1);
    size_t blank = 0;
    while (!st && drec_text_next(&t)) {
        if (drec_text_blank(&t)) {
            blank++;
            continue;
        }
        nf = drec_text_split(&t, sep, true);
        if (nf < (size_t)need) {
            st = drec_text_fail(&t, "expected at least %d fields in a click line, found %zu", need, nf);
            break;
        }
        const drec_field *fs = &t.f[c_sess], *fi = &t.f[c_item];
        if (!fs->len || !fi->len) {
            st = drec_text_fail(&t, "empty %s id", fs->len ? "item" : "session");
            break;
        }
        int64_t ts = 0, v, ms;
        if (c_date >= 0) {
            const drec_field *fd = &t.f[c_date];
            if (!drec_parse_iso_ms(fd->s, fd->len, &ms)) {
                st = drec_text_fail(&t, "event date %s is not a date (YYYY-MM-DD)", drec_field_show(fd->s, fd->len, b));
                break;
            }
            ts = ms;
        }
        if (c_time >= 0) {
            const drec_field *ft = &t.f[c_time];
            if (drec_parse_i64(ft->s, ft->len, &v)) {
                ts += v;
            } else if (c_date < 0 && drec_parse_iso_ms(ft->s, ft->len, &ms)) {
                ts = ms;
            } else {
                st = drec_text_fail(&t, "time %s is not a number%s", drec_field_show(ft->s, ft->len, b),
                                    c_date < 0 ? " or an ISO time" : "");
                break;
            }
        }
        int32_t s = drec_ds_user(ds, fs->s, fs->len);
        int32_t i = drec_ds_item(ds, fi->s, fi->len);
        drec_ds_push(ds, s, i, 1.0f, ts);
    }
    drec_text_close(&t);
    drec_ds_skip(ds, "blank lines", blank);
    if (!st && ds->n == 0) st = drec_fail(DREC_ERR_INPUT, "%s: no clicks", path);
    if (st) {
        drec_dataset_free(ds);
        return st;
    }
    drec_ds_finish(ds);
    *out = ds;
    return DREC_OK;
}
