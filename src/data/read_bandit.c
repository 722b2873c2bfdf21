/*
 * read_bandit.c — the bandit: reader: logged bandit feedback in the Open
 * Bandit Dataset layout (Saito et al., NeurIPS 2021 D&B):
 *
 *   ,timestamp,item_id,position,click,propensity_score,user_feature_0..3,
 *   user-item_affinity_0..n-1        (first column: an unnamed row index)
 *
 * and, when the folder holds it, item_context.csv
 * (,item_id,item_feature_0,item_feature_1..3).  Columns are found by name.
 *
 * Each row: item = the action, whose dense id is the file's item_id (ids
 * 0..n-1 are interned in numeric order, so action ids are stable across
 * files of one campaign); rating = click; propensity; position 0-based
 * (the file's slot 1..3 minus one); ts = the ISO timestamp in seconds; user
 * -1 (the log names no user).  The context of a row (side->ctx_dim wide) is
 * the one-hot of each categorical user feature (a dictionary per field, in
 * order of first sight) followed by the user-item affinity vector.  Action
 * features (side->action_dim wide): item_feature_0 as is, then one-hots of
 * the categorical item features.
 */
#include "textio.h"

#include <stdio.h>
#include <strings.h>

#define MAX_ACTIONS 1000000

static int col_named(const drec_text *t, const char *name) {
    size_t n = strlen(name);
    for (size_t k = 0; k < t->nf; k++)
        if (t->f[k].len == n && memcmp(t->f[k].s, name, n) == 0) return (int)k;
    return -1;
}

/* Columns "prefix0", "prefix1", ... in order; returns the count and fills
 * cols (caller frees). */
static int cols_prefixed(const drec_text *t, const char *prefix, int **cols) {
    int n = 0;
    *cols = drec_malloc((t->nf + 1) * sizeof **cols);
    for (;;) {
        char nm[96];
        snprintf(nm, sizeof nm, "%s%d", prefix, n);
        int c = col_named(t, nm);
        if (c < 0) break;
        (*cols)[n++] = c;
    }
    return n;
}

static drec_status read_item_context(const char *path, drec_dataset *ds, int32_t n_items) {
    drec_text t;
    drec_status st = drec_text_open(&t, path);
    if (st) return st;
    drec_side *sd = ds->side;
    drec_text_next(&t);
    drec_text_split(&t, ',', true);
    int c_item = col_named(&t, "item_id");
    int *fc = NULL;
    int nfeat = cols_prefixed(&t, "item_feature_", &fc);
    size_t ncols = t.nf;
    if (c_item < 0 || nfeat == 0) {
        st = drec_text_fail(&t, "expected a header with item_id and item_feature_0..");
        free(fc);
        drec_text_close(&t);
        return st;
    }
    /* Pass 1 tells numeric from categorical features; pass 2 builds the
     * dictionaries (first-sight order); pass 3 writes the rows. */
    drec_strmap *dict = drec_calloc((size_t)nfeat, sizeof *dict);
    bool *numeric = drec_malloc((size_t)nfeat * sizeof *numeric);
    for (int k = 0; k < nfeat; k++) numeric[k] = true;
    char b[64];
    const char *start = t.p;
    size_t start_line = t.line_no;
    for (int pass = 0; pass < 3 && !st; pass++) {
        t.p = start;
        t.line_no = start_line;
        if (pass == 2) {
            int32_t dim = 0;
            for (int k = 0; k < nfeat; k++) dim += numeric[k] ? 1 : dict[k].n;
            sd->action_dim = dim;
            sd->action_feat = drec_calloc((size_t)n_items * (size_t)dim + 1, sizeof *sd->action_feat);
        }
        while (drec_text_next(&t)) {
            if (drec_text_blank(&t)) continue;
            if (drec_text_split(&t, ',', true) != ncols) {
                st = drec_text_fail(&t, "expected %zu fields, found %zu", ncols, t.nf);
                break;
            }
            int64_t id;
            if (!drec_parse_i64(t.f[c_item].s, t.f[c_item].len, &id) || id < 0 || id >= n_items) {
                st = drec_text_fail(&t, "item_id %s is not an action of the log (0..%d)",
                                    drec_field_show(t.f[c_item].s, t.f[c_item].len, b), n_items - 1);
                break;
            }
            int32_t off = 0;
            float *row = pass == 2 ? sd->action_feat + (size_t)id * (size_t)sd->action_dim : NULL;
            for (int k = 0; k < nfeat; k++) {
                const drec_field *f = &t.f[fc[k]];
                double v;
                if (pass == 0) {
                    numeric[k] &= drec_parse_f64(f->s, f->len, &v);
                } else if (pass == 1) {
                    if (!numeric[k]) drec_strmap_intern(&dict[k], f->s, f->len);
                } else if (numeric[k]) {
                    drec_parse_f64(f->s, f->len, &v);
                    row[off++] = (float)v;
                } else {
                    row[off + drec_strmap_find(&dict[k], f->s, f->len)] = 1.0f;
                    off += dict[k].n;
                }
            }
        }
    }
    for (int k = 0; k < nfeat; k++) drec_strmap_free(&dict[k]);
    free(dict);
    free(numeric);
    free(fc);
    drec_text_close(&t);
    return st;
}

drec_status drec_read_bandit(const char *path, const drec_params *opts, drec_dataset **out) {
    (void)opts;
    *out = NULL;
    drec_text t;
    drec_status st = drec_text_open(&t, path);
    if (st) return st;
    while (drec_text_next(&t) && drec_text_blank(&t)) {
    }
    size_t ncols = drec_text_split(&t, ',', true);
    int c_ts = col_named(&t, "timestamp"), c_item = col_named(&t, "item_id");
    int c_pos = col_named(&t, "position"), c_click = col_named(&t, "click");
    int c_prop = col_named(&t, "propensity_score");
    if (c_prop < 0) c_prop = col_named(&t, "action_prob");
    int *uf = NULL, *aff = NULL;
    int n_uf = cols_prefixed(&t, "user_feature_", &uf);
    int n_aff = cols_prefixed(&t, "user-item_affinity_", &aff);
    if (c_item < 0 || c_click < 0 || c_prop < 0) {
        free(uf);
        free(aff);
        st = drec_text_fail(&t, "expected an Open Bandit Dataset header naming item_id, click and "
                                "propensity_score (and timestamp, position, user_feature_k, user-item_affinity_k)");
        drec_text_close(&t);
        return st;
    }
    drec_dataset *ds = drec_ds_new(DREC_DS_BANDIT, path);
    ds->has_time = c_ts >= 0;
    drec_ds_skip(ds, "header", 1);
    drec_side *sd = ds->side;
    drec_strmap *dict = drec_calloc((size_t)n_uf + 1, sizeof *dict);
    int32_t *uf_ids = NULL; /* (N, n_uf) value ids, turned into one-hots at the end */
    float *aff_v = NULL;    /* (N, n_aff) */
    float *prop = NULL;
    int32_t *pos = NULL;
    size_t cap_p = 0, cap_q = 0, cap_a = 0, cap_u = 0;
    int64_t max_item = -1;
    char b[64];
    size_t blank = 0;
    while (!st && drec_text_next(&t)) {
        if (drec_text_blank(&t)) {
            blank++;
            continue;
        }
        if (drec_text_split(&t, ',', true) != ncols) {
            st = drec_text_fail(&t, "expected %zu fields, found %zu", ncols, t.nf);
            break;
        }
        const drec_field *f = t.f;
        int64_t item, position = 0, ms = 0;
        double click, p;
        if (!drec_parse_i64(f[c_item].s, f[c_item].len, &item) || item < 0 || item >= MAX_ACTIONS) {
            st = drec_text_fail(&t, "item_id %s is not an action number", drec_field_show(f[c_item].s, f[c_item].len, b));
            break;
        }
        if (!drec_parse_f64(f[c_click].s, f[c_click].len, &click)) {
            st = drec_text_fail(&t, "click %s is not a number", drec_field_show(f[c_click].s, f[c_click].len, b));
            break;
        }
        if (!drec_parse_f64(f[c_prop].s, f[c_prop].len, &p) || !(p > 0 && p <= 1)) {
            st = drec_text_fail(&t, "propensity %s is not a probability in (0, 1]",
                                drec_field_show(f[c_prop].s, f[c_prop].len, b));
            break;
        }
        if (c_pos >= 0 && (!drec_parse_i64(f[c_pos].s, f[c_pos].len, &position) || position < 1 || position > 1000)) {
            st = drec_text_fail(&t, "position %s is not a slot number 1, 2, ...",
                                drec_field_show(f[c_pos].s, f[c_pos].len, b));
            break;
        }
        if (c_ts >= 0 && !drec_parse_iso_ms(f[c_ts].s, f[c_ts].len, &ms)) {
            st = drec_text_fail(&t, "timestamp %s is not an ISO time", drec_field_show(f[c_ts].s, f[c_ts].len, b));
            break;
        }
        size_t r = ds->n;
        DREC_GROW(prop, cap_p, r + 1);
        DREC_GROW(pos, cap_q, r + 1);
        prop[r] = (float)p;
        pos[r] = c_pos >= 0 ? (int32_t)position - 1 : -1;
        if (n_uf) {
            DREC_GROW(uf_ids, cap_u, (r + 1) * (size_t)n_uf);
            for (int k = 0; k < n_uf; k++)
                uf_ids[r * (size_t)n_uf + (size_t)k] = drec_strmap_intern(&dict[k], f[uf[k]].s, f[uf[k]].len);
        }
        if (n_aff) {
            DREC_GROW(aff_v, cap_a, (r + 1) * (size_t)n_aff);
            for (int k = 0; k < n_aff; k++) {
                double v;
                if (!drec_parse_f64(f[aff[k]].s, f[aff[k]].len, &v)) {
                    st = drec_text_fail(&t, "user-item_affinity_%d %s is not a number", k,
                                        drec_field_show(f[aff[k]].s, f[aff[k]].len, b));
                    break;
                }
                aff_v[r * (size_t)n_aff + (size_t)k] = (float)v;
            }
        }
        if (item > max_item) max_item = item;
        drec_ds_push(ds, -1, (int32_t)item, (float)click, ms / 1000);
    }
    drec_text_close(&t);
    drec_ds_skip(ds, "blank lines", blank);
    if (!st && ds->n == 0) st = drec_fail(DREC_ERR_INPUT, "%s: no logged rows", path);
    if (!st) {
        /* Actions 0..n-1 in numeric order: dense id == the file's item_id. */
        int64_t n_items = DREC_MAX(max_item + 1, (int64_t)n_aff);
        char nm[24];
        for (int64_t i = 0; i < n_items; i++) {
            int n = snprintf(nm, sizeof nm, "%lld", (long long)i);
            drec_ds_item(ds, nm, (size_t)n);
        }
        int32_t dim = n_aff;
        for (int k = 0; k < n_uf; k++) dim += dict[k].n;
        sd->ctx_dim = dim;
        ds->ctx = drec_calloc(ds->n * (size_t)dim + 1, sizeof *ds->ctx);
        for (size_t r = 0; r < ds->n; r++) {
            float *row = ds->ctx + r * (size_t)dim;
            int32_t off = 0;
            for (int k = 0; k < n_uf; k++) {
                row[off + uf_ids[r * (size_t)n_uf + (size_t)k]] = 1.0f;
                off += dict[k].n;
            }
            if (n_aff) memcpy(row + off, aff_v + r * (size_t)n_aff, (size_t)n_aff * sizeof *row);
        }
        ds->propensity = prop;
        ds->position = pos;
        prop = NULL;
        pos = NULL;
        char *dir = drec_path_dir(path);
        char *ic = drec_path_join(dir, "item_context.csv");
        if (drec_path_exists(ic)) st = read_item_context(ic, ds, (int32_t)n_items);
        free(ic);
        free(dir);
    }
    for (int k = 0; k < n_uf; k++) drec_strmap_free(&dict[k]);
    free(dict);
    free(uf_ids);
    free(aff_v);
    free(prop);
    free(pos);
    free(uf);
    free(aff);
    if (st) {
        drec_dataset_free(ds);
        return st;
    }
    drec_ds_finish(ds);
    *out = ds;
    return DREC_OK;
}
