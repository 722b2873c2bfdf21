/*
 * features.c — feature columns (see features.h): fitting the column set on
 * training rows, and turning rows or (user, item) pairs into field bags
 * and hashed crosses.
 */
#include "features.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_FIELDS 1024

static uint64_t mix2(uint64_t a, uint64_t b, uint64_t salt) {
    uint64_t v[3] = {a, b, salt};
    return drec_hash64(v, sizeof v, 0x9e3779b97f4a7c15ull);
}

/* The bucket of a numeric value: small values keep their integer part,
 * larger ones fall into floor(log(v)^2) (Criteo winners' transform). */
static int num_bucket(float v) {
    if (!(v == v)) return 0;
    int b;
    if (v <= 2.0f)
        b = v < -1.0f ? 0 : (int)floorf(v) + 2; /* -1..2 -> 1..4 */
    else {
        double l = log((double)v);
        b = 5 + (int)floor(l * l);
    }
    return b < 0 ? 0 : b >= DREC_NUM_BUCKETS ? DREC_NUM_BUCKETS - 1 : b;
}

static int32_t hashed_id(const drec_featcols *c, int32_t field, uint64_t key) {
    return (int32_t)(mix2((uint64_t)field, key, 0x51ed) % (uint64_t)c->hash);
}

static drec_status parse_crosses(drec_featcols *c, const char *spec) {
    int F = c->n_fields;
    if (!spec || strcmp(spec, "none") == 0 || !*spec) return DREC_OK;
    if (strcmp(spec, "all") == 0) {
        c->cross_a = drec_malloc((size_t)(F * (F - 1) / 2 + 1) * sizeof(int32_t));
        c->cross_b = drec_malloc((size_t)(F * (F - 1) / 2 + 1) * sizeof(int32_t));
        for (int a = 0; a < F; a++)
            for (int b = a + 1; b < F; b++) {
                c->cross_a[c->n_cross] = a;
                c->cross_b[c->n_cross++] = b;
            }
        return DREC_OK;
    }
    const char *s = spec;
    while (*s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *star = memchr(s, '*', len);
        int fa = -1, fb = -1;
        for (int f = 0; star && f < F; f++) {
            const char *nm = c->field_names[f];
            if (strlen(nm) == (size_t)(star - s) && memcmp(nm, s, (size_t)(star - s)) == 0) fa = f;
            if (strlen(nm) == len - (size_t)(star - s) - 1 && memcmp(nm, star + 1, strlen(nm)) == 0) fb = f;
        }
        if (fa < 0 || fb < 0 || fa == fb)
            return drec_fail(DREC_ERR_USAGE, "--cross: \"%.*s\" is not two field names joined by '*'", (int)len, s);
        c->cross_a = drec_realloc(c->cross_a, (size_t)(c->n_cross + 1) * sizeof(int32_t));
        c->cross_b = drec_realloc(c->cross_b, (size_t)(c->n_cross + 1) * sizeof(int32_t));
        c->cross_a[c->n_cross] = fa;
        c->cross_b[c->n_cross++] = fb;
        s += len;
        if (*s == ',') s++;
    }
    return DREC_OK;
}

static drec_status read_opts(const drec_params *p, drec_featcols *c) {
    long hash, cb, neg;
    double pos;
    drec_status st = drec_params_int(p, "hash", 0, &hash);
    if (!st) st = drec_params_int(p, "cross_buckets", 1 << 20, &cb);
    if (!st) st = drec_params_int(p, "neg", 1, &neg);
    if (!st) st = drec_params_float(p, "pos", 4.0, &pos);
    if (st) return st;
    if (hash < 0 || hash > (1 << 30)) return drec_fail(DREC_ERR_USAGE, "--hash: buckets must be in 0..2^30");
    if (cb < 1 || cb > (1 << 30)) return drec_fail(DREC_ERR_USAGE, "--cross_buckets: must be in 1..2^30");
    if (neg < 0 || neg > 100) return drec_fail(DREC_ERR_USAGE, "--neg: must be in 0..100");
    const char *num = drec_params_str(p, "num", "bucket");
    if (strcmp(num, "bucket") == 0) c->num_mode = DREC_NUM_BUCKET;
    else if (strcmp(num, "norm") == 0) c->num_mode = DREC_NUM_NORM;
    else if (strcmp(num, "raw") == 0) c->num_mode = DREC_NUM_RAW;
    else return drec_fail(DREC_ERR_USAGE, "--num: \"%s\" is not bucket, norm or raw", num);
    c->hash = (int32_t)hash;
    c->cross_buckets = (int32_t)cb;
    c->neg = (int32_t)neg;
    c->pos = (float)pos;
    return DREC_OK;
}

static void set_field_names(drec_featcols *c, int F) {
    c->n_fields = F;
    c->field_names = drec_calloc((size_t)F, sizeof *c->field_names);
}

/* ---- ctr rows ------------------------------------------------------------ */

static drec_status fit_ctr(const drec_dataset *ds, drec_featcols *c) {
    const drec_side *sd = ds->side;
    int32_t nsrc = 0;
    for (size_t k = 0; k < ds->feat_n; k++) nsrc = DREC_MAX(nsrc, ds->feat_idx[k] + 1);
    nsrc = DREC_MAX(nsrc, sd->n_features);
    c->n_src = nsrc;
    int F;
    if (sd->n_fields > 0 && sd->feature_field) {
        F = sd->n_fields;
        c->by_position = 0;
    } else {
        int64_t w = ds->n ? ds->feat_ptr[1] - ds->feat_ptr[0] : 0;
        bool same = w > 0 && w <= MAX_FIELDS;
        for (size_t r = 1; same && r < ds->n; r++) same = ds->feat_ptr[r + 1] - ds->feat_ptr[r] == w;
        c->by_position = same ? 1 : 2;
        F = same ? (int)w : 1;
    }
    set_field_names(c, F);
    for (int f = 0; f < F; f++) {
        char nm[64];
        if (!c->by_position && sd->field_names && sd->field_names[f]) {
            c->field_names[f] = drec_strdup(sd->field_names[f]);
            continue;
        }
        snprintf(nm, sizeof nm, c->by_position == 2 ? "features" : "f%d", f);
        c->field_names[f] = drec_strdup(nm);
    }
    c->src_field = drec_malloc((size_t)(nsrc ? nsrc : 1) * sizeof *c->src_field);
    c->src_id = drec_malloc((size_t)(nsrc ? nsrc : 1) * sizeof *c->src_id);
    c->src_num = drec_calloc((size_t)(nsrc ? nsrc : 1), 1);
    c->num_mean = drec_calloc((size_t)(nsrc ? nsrc : 1), sizeof *c->num_mean);
    c->num_std = drec_calloc((size_t)(nsrc ? nsrc : 1), sizeof *c->num_std);
    double *s1 = drec_calloc((size_t)(nsrc ? nsrc : 1), sizeof *s1), *s2 = drec_calloc((size_t)(nsrc ? nsrc : 1), sizeof *s2);
    int64_t *cnt = drec_calloc((size_t)(nsrc ? nsrc : 1), sizeof *cnt);
    int32_t *first_field = drec_malloc((size_t)(nsrc ? nsrc : 1) * sizeof *first_field);
    for (int32_t f = 0; f < nsrc; f++) {
        c->src_field[f] = c->by_position ? -1 : sd->feature_field[f];
        c->src_id[f] = -1;
        first_field[f] = -1;
    }
    for (size_t r = 0; r < ds->n; r++)
        for (int64_t k = ds->feat_ptr[r]; k < ds->feat_ptr[r + 1]; k++) {
            int32_t f = ds->feat_idx[k];
            float v = ds->feat_val ? ds->feat_val[k] : 1.0f;
            if (f < 0) continue;
            if (v != 0.0f && v != 1.0f) c->src_num[f] = 1;
            s1[f] += v;
            s2[f] += (double)v * v;
            cnt[f]++;
            if (first_field[f] < 0) first_field[f] = c->by_position == 1 ? (int32_t)(k - ds->feat_ptr[r]) : 0;
        }
    /* Ids in order of source feature index (deterministic, independent of
     * row order); numeric features in bucket mode take 64 ids. */
    int32_t next = 0;
    for (int32_t f = 0; f < nsrc; f++) {
        if (!cnt[f]) continue;
        double mean = s1[f] / (double)cnt[f];
        double var = s2[f] / (double)cnt[f] - mean * mean;
        c->num_mean[f] = (float)mean;
        c->num_std[f] = (float)(var > 1e-12 ? sqrt(var) : 1.0);
        int32_t fld = c->by_position == 1 ? first_field[f] : c->by_position == 2 ? 0 : c->src_field[f];
        bool bucket = c->src_num[f] && c->num_mode == DREC_NUM_BUCKET;
        if (c->hash) {
            c->src_id[f] = bucket ? 0 : hashed_id(c, fld, (uint64_t)f);
        } else {
            c->src_id[f] = next;
            next += bucket ? DREC_NUM_BUCKETS : 1;
        }
    }
    c->vocab = c->hash ? c->hash : next;
    free(s1);
    free(s2);
    free(cnt);
    free(first_field);
    return DREC_OK;
}

/* ---- interaction rows -------------------------------------------------- */

static void copy_attrs(const drec_attrs *a, int32_t n_ent, int32_t field0, int32_t base, int32_t **ptr,
                       int32_t **fld, int32_t **id, float **val) {
    int32_t na = a->ptr ? a->n_entities : 0;
    int64_t nnz = na ? a->ptr[na] : 0;
    *ptr = drec_calloc((size_t)n_ent + 1, sizeof **ptr);
    *fld = drec_malloc((size_t)(nnz ? nnz : 1) * sizeof **fld);
    *id = drec_malloc((size_t)(nnz ? nnz : 1) * sizeof **id);
    *val = drec_malloc((size_t)(nnz ? nnz : 1) * sizeof **val);
    for (int32_t e = 0; e < n_ent; e++) {
        int32_t lo = e < na ? a->ptr[e] : 0, hi = e < na ? a->ptr[e + 1] : 0;
        (*ptr)[e + 1] = (*ptr)[e] + (hi - lo);
        for (int32_t k = lo; k < hi; k++) {
            (*fld)[k] = field0 + a->field_of[a->idx[k]];
            (*id)[k] = base + a->idx[k];
            (*val)[k] = a->val[k];
        }
    }
}

static drec_status fit_interactions(const drec_dataset *ds, drec_featcols *c) {
    const drec_side *sd = ds->side;
    int nuf = sd->user_attrs.fields.n, nif = sd->item_attrs.fields.n;
    set_field_names(c, 2 + nuf + nif);
    c->field_names[0] = drec_strdup("user");
    c->field_names[1] = drec_strdup("item");
    for (int f = 0; f < nuf; f++) c->field_names[2 + f] = drec_strdup(drec_strmap_name(&sd->user_attrs.fields, f));
    for (int f = 0; f < nif; f++)
        c->field_names[2 + nuf + f] = drec_strdup(drec_strmap_name(&sd->item_attrs.fields, f));
    c->n_ufields = nuf;
    c->n_ifields = nif;
    c->n_users = ds->n_users;
    c->n_items = ds->n_items;
    c->user_base = 0;
    c->item_base = ds->n_users;
    int32_t ub = ds->n_users + ds->n_items, ib = ub + sd->user_attrs.names.n;
    c->vocab = ib + sd->item_attrs.names.n;
    copy_attrs(&sd->user_attrs, ds->n_users, 2, ub, &c->uattr_ptr, &c->uattr_field, &c->uattr_id, &c->uattr_val);
    copy_attrs(&sd->item_attrs, ds->n_items, 2 + nuf, ib, &c->iattr_ptr, &c->iattr_field, &c->iattr_id,
               &c->iattr_val);
    if (c->hash) {
        /* Hash every id into the bucket space by (field, id). */
        for (int64_t k = 0; k < c->uattr_ptr[c->n_users]; k++)
            c->uattr_id[k] = hashed_id(c, c->uattr_field[k], (uint64_t)c->uattr_id[k]);
        for (int64_t k = 0; k < c->iattr_ptr[c->n_items]; k++)
            c->iattr_id[k] = hashed_id(c, c->iattr_field[k], (uint64_t)c->iattr_id[k]);
        c->vocab = c->hash;
    }
    return DREC_OK;
}

drec_status drec_featcols_fit(const drec_dataset *ds, const drec_params *opts, drec_featcols *out) {
    drec_featcols c = {0};
    drec_status st = read_opts(opts, &c);
    if (st) return st;
    c.src_ctr = ds->kind == DREC_DS_CTR || ds->feat_ptr != NULL;
    if (c.src_ctr && !ds->feat_ptr) return drec_fail(DREC_ERR_INPUT, "ctr data without feature rows");
    if (ds->n == 0) return drec_fail(DREC_ERR_INPUT, "no rows to fit feature columns on");
    st = c.src_ctr ? fit_ctr(ds, &c) : fit_interactions(ds, &c);
    if (!st) st = parse_crosses(&c, drec_params_str(opts, "cross", "none"));
    if (st) {
        drec_featcols_free(&c);
        return st;
    }
    c.n_ids = c.vocab + c.n_fields;
    *out = c;
    return DREC_OK;
}

void drec_featcols_free(drec_featcols *c) {
    for (int f = 0; c->field_names && f < c->n_fields; f++) free(c->field_names[f]);
    free(c->field_names);
    free(c->src_field);
    free(c->src_id);
    free(c->src_num);
    free(c->num_mean);
    free(c->num_std);
    free(c->uattr_ptr);
    free(c->uattr_field);
    free(c->uattr_id);
    free(c->uattr_val);
    free(c->iattr_ptr);
    free(c->iattr_field);
    free(c->iattr_id);
    free(c->iattr_val);
    free(c->cross_a);
    free(c->cross_b);
    memset(c, 0, sizeof *c);
}

/* ---- building rows --------------------------------------------------------- */

typedef struct entry {
    int32_t field, id;
    float val;
} entry;

typedef struct builder {
    const drec_featcols *c;
    drec_featrows *o;
    size_t cap_bags, cap_nnz, cap_label, cap_cptr, n_nnz, n_cross;
    entry *tmp;
    size_t tmp_cap, tmp_n;
    bool one_hot;
} builder;

static void b_add(builder *b, int32_t field, int32_t id, float val) {
    if (field < 0 || field >= b->c->n_fields) return;
    DREC_GROW(b->tmp, b->tmp_cap, b->tmp_n + 1);
    b->tmp[b->tmp_n++] = (entry){field, id, val};
}

/* Emits the staged entries of one row as F bags (stable by field), with
 * OOV ids for empty fields, mean pooling of multi-hot bags, and crosses. */
static void b_row(builder *b, float label) {
    const drec_featcols *c = b->c;
    drec_featrows *o = b->o;
    int F = c->n_fields;
    size_t r = o->n;
    /* stable insertion sort by field: rows are short */
    for (size_t i = 1; i < b->tmp_n; i++) {
        entry e = b->tmp[i];
        size_t j = i;
        while (j > 0 && b->tmp[j - 1].field > e.field) {
            b->tmp[j] = b->tmp[j - 1];
            j--;
        }
        b->tmp[j] = e;
    }
    DREC_GROW(o->ptr, b->cap_bags, (r + 1) * (size_t)F + 1);
    DREC_GROW(o->label, b->cap_label, r + 1);
    o->label[r] = label;
    size_t k = 0;
    int64_t base = r == 0 ? 0 : o->ptr[r * (size_t)F];
    if (r == 0) o->ptr[0] = 0;
    int64_t at = base;
    size_t need = b->n_nnz + b->tmp_n + (size_t)F;
    if (need > b->cap_nnz) {
        b->cap_nnz = need * 2;
        o->idx = drec_realloc(o->idx, b->cap_nnz * sizeof *o->idx);
        o->val = drec_realloc(o->val, b->cap_nnz * sizeof *o->val);
    }
    for (int f = 0; f < F; f++) {
        size_t lo = k;
        while (k < b->tmp_n && b->tmp[k].field == f) k++;
        size_t cnt = k - lo;
        if (cnt == 0) {
            o->idx[at] = c->vocab + f;
            o->val[at++] = 1.0f;
        } else {
            bool all_one = true;
            for (size_t j = lo; j < k; j++) all_one &= b->tmp[j].val == 1.0f;
            float w = all_one && cnt > 1 ? 1.0f / (float)cnt : 1.0f;
            if (cnt != 1 || b->tmp[lo].val != 1.0f) b->one_hot = false;
            for (size_t j = lo; j < k; j++) {
                o->idx[at] = b->tmp[j].id;
                o->val[at++] = b->tmp[j].val * w;
            }
        }
        o->ptr[r * (size_t)F + f + 1] = at;
    }
    b->n_nnz = (size_t)at;
    if (c->n_cross) {
        if (!o->cross_ptr) {
            DREC_GROW(o->cross_ptr, b->cap_cptr, 2);
            o->cross_ptr[0] = 0;
        }
        DREC_GROW(o->cross_ptr, b->cap_cptr, r + 2);
        int64_t cn = o->cross_ptr[r];
        const int64_t *bp = o->ptr + r * (size_t)F;
        for (int x = 0; x < c->n_cross; x++) {
            int fa = c->cross_a[x], fb = c->cross_b[x];
            for (int64_t i = bp[fa]; i < bp[fa + 1]; i++)
                for (int64_t j = bp[fb]; j < bp[fb + 1]; j++) {
                    if ((size_t)cn + 1 > b->n_cross) {
                        b->n_cross = b->n_cross ? b->n_cross * 2 : 1024;
                        o->cross_idx = drec_realloc(o->cross_idx, b->n_cross * sizeof *o->cross_idx);
                        o->cross_val = drec_realloc(o->cross_val, b->n_cross * sizeof *o->cross_val);
                    }
                    o->cross_idx[cn] = (int32_t)(mix2((uint64_t)o->idx[i], (uint64_t)o->idx[j], (uint64_t)x) %
                                                 (uint64_t)c->cross_buckets);
                    o->cross_val[cn++] = o->val[i] * o->val[j];
                }
        }
        o->cross_ptr[r + 1] = cn;
    }
    o->n = r + 1;
    b->tmp_n = 0;
}

static void b_init(builder *b, const drec_featcols *c, drec_featrows *o) {
    memset(b, 0, sizeof *b);
    memset(o, 0, sizeof *o);
    b->c = c;
    b->o = o;
    b->one_hot = true;
    o->n_fields = c->n_fields;
    o->ptr = drec_malloc(sizeof *o->ptr);
    o->ptr[0] = 0;
    b->cap_bags = 1;
}

static void b_done(builder *b) {
    drec_featrows *o = b->o;
    o->one_hot = b->one_hot;
    if (!o->label) o->label = drec_malloc(sizeof *o->label);
    if (!o->idx) {
        o->idx = drec_malloc(sizeof *o->idx);
        o->val = drec_malloc(sizeof *o->val);
    }
    free(b->tmp);
}

static void add_ctr_row(builder *b, const drec_dataset *ds, size_t r) {
    const drec_featcols *c = b->c;
    for (int64_t k = ds->feat_ptr[r]; k < ds->feat_ptr[r + 1]; k++) {
        int32_t f = ds->feat_idx[k];
        float v = ds->feat_val ? ds->feat_val[k] : 1.0f;
        int32_t fld = c->by_position == 1 ? (int32_t)(k - ds->feat_ptr[r]) : c->by_position == 2 ? 0
                      : (f >= 0 && f < c->n_src) ? c->src_field[f] : -1;
        if (f < 0 || f >= c->n_src || c->src_id[f] < 0) {
            /* unseen in training: the field's OOV id (fields of unknown
             * features fall back on the row position or field 0) */
            if (fld < 0 && f >= 0 && f < ds->side->n_features && ds->side->feature_field)
                fld = ds->side->feature_field[f];
            if (fld >= 0) b_add(b, fld, c->vocab + fld, 1.0f);
            continue;
        }
        if (!c->src_num[f]) {
            b_add(b, fld, c->src_id[f], v);
            continue;
        }
        switch (c->num_mode) {
        case DREC_NUM_BUCKET: {
            int bk = num_bucket(v);
            b_add(b, fld, c->hash ? hashed_id(c, fld, (uint64_t)f * DREC_NUM_BUCKETS + (uint64_t)bk) : c->src_id[f] + bk,
                  1.0f);
            break;
        }
        case DREC_NUM_NORM:
            b_add(b, fld, c->src_id[f], (v - c->num_mean[f]) / c->num_std[f]);
            break;
        default:
            b_add(b, fld, c->src_id[f], v);
        }
    }
}

static void add_pair(builder *b, int32_t u, int32_t i) {
    const drec_featcols *c = b->c;
    bool uk = u >= 0 && u < c->n_users, ik = i >= 0 && i < c->n_items;
    if (uk) b_add(b, 0, c->hash ? hashed_id(c, 0, (uint64_t)u) : c->user_base + u, 1.0f);
    if (ik) b_add(b, 1, c->hash ? hashed_id(c, 1, (uint64_t)i) : c->item_base + i, 1.0f);
    for (int32_t k = uk ? c->uattr_ptr[u] : 0; uk && k < c->uattr_ptr[u + 1]; k++)
        b_add(b, c->uattr_field[k], c->uattr_id[k], c->uattr_val[k]);
    for (int32_t k = ik ? c->iattr_ptr[i] : 0; ik && k < c->iattr_ptr[i + 1]; k++)
        b_add(b, c->iattr_field[k], c->iattr_id[k], c->iattr_val[k]);
}

void drec_featrows_build(const drec_featcols *c, const drec_dataset *ds, const size_t *rows, size_t n,
                         bool training, uint64_t seed, drec_featrows *out) {
    builder b;
    b_init(&b, c, out);
    if (!rows) n = ds->n;
    bool implicit = !c->src_ctr && !ds->has_rating;
    drec_rng rng;
    drec_rng_seed2(&rng, seed, 0xfea7);
    for (size_t j = 0; j < n; j++) {
        size_t r = rows ? rows[j] : j;
        if (c->src_ctr) {
            if (ds->feat_ptr) add_ctr_row(&b, ds, r);
            b_row(&b, ds->rating[r] > 0 ? 1.0f : 0.0f);
            continue;
        }
        add_pair(&b, ds->user[r], ds->item[r]);
        b_row(&b, implicit ? 1.0f : ds->rating[r] >= c->pos ? 1.0f : 0.0f);
        if (implicit && training && ds->n_items > 1 && ds->user[r] >= 0) {
            for (int k = 0; k < c->neg; k++) {
                int32_t it = (int32_t)drec_rng_below(&rng, (uint32_t)ds->n_items);
                for (int t = 0; t < 16 && drec_ds_user_has(ds, ds->user[r], it); t++)
                    it = (int32_t)drec_rng_below(&rng, (uint32_t)ds->n_items);
                add_pair(&b, ds->user[r], it);
                b_row(&b, 0.0f);
            }
        }
    }
    b_done(&b);
}

void drec_featrows_pairs(const drec_featcols *c, int32_t u, const int32_t *items, int n, drec_featrows *out) {
    builder b;
    b_init(&b, c, out);
    for (int k = 0; k < n; k++) {
        add_pair(&b, u, items[k]);
        b_row(&b, 0.0f);
    }
    b_done(&b);
}

void drec_featrows_free(drec_featrows *r) {
    free(r->ptr);
    free(r->idx);
    free(r->val);
    free(r->label);
    free(r->cross_ptr);
    free(r->cross_idx);
    free(r->cross_val);
    memset(r, 0, sizeof *r);
}
