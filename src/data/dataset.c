/*
 * dataset.c — building, indexing, splitting and freeing datasets, and the
 * spec dispatcher behind drec_dataset_load (see dataset.h).
 */
#include "dataset.h"

#include <stdio.h>
#include <stdlib.h>

drec_dataset *drec_ds_new(drec_ds_kind kind, const char *source) {
    drec_dataset *ds = drec_calloc(1, sizeof *ds);
    ds->kind = kind;
    ds->side = drec_calloc(1, sizeof *ds->side);
    ds->side->refs = 1;
    drec_strmap_init(&ds->side->users);
    drec_strmap_init(&ds->side->items);
    drec_strmap_init(&ds->side->categories);
    drec_attrs_init(&ds->side->item_attrs);
    drec_attrs_init(&ds->side->user_attrs);
    ds->side->source = drec_strdup(source ? source : "");
    return ds;
}

int32_t drec_ds_user(drec_dataset *ds, const char *s, size_t len) {
    return drec_strmap_intern(&ds->side->users, s, len);
}

int32_t drec_ds_item(drec_dataset *ds, const char *s, size_t len) {
    return drec_strmap_intern(&ds->side->items, s, len);
}

size_t drec_ds_push(drec_dataset *ds, int32_t u, int32_t i, float r, int64_t ts) {
    if (ds->n == ds->cap) {
        size_t nc = ds->cap ? ds->cap * 2 : 1024;
        ds->user = drec_realloc(ds->user, nc * sizeof *ds->user);
        ds->item = drec_realloc(ds->item, nc * sizeof *ds->item);
        ds->rating = drec_realloc(ds->rating, nc * sizeof *ds->rating);
        ds->ts = drec_realloc(ds->ts, nc * sizeof *ds->ts);
        if (ds->kind == DREC_DS_CTR) ds->feat_ptr = drec_realloc(ds->feat_ptr, (nc + 1) * sizeof *ds->feat_ptr);
        ds->cap = nc;
    }
    size_t r_id = ds->n++;
    ds->user[r_id] = u;
    ds->item[r_id] = i;
    ds->rating[r_id] = r;
    ds->ts[r_id] = ts;
    if (ds->feat_ptr) {
        if (r_id == 0) ds->feat_ptr[0] = 0;
        ds->feat_ptr[r_id + 1] = (int64_t)ds->feat_n;
    }
    return r_id;
}

void drec_ds_push_feature(drec_dataset *ds, int32_t f, float v) {
    if (ds->feat_n == ds->feat_cap) {
        size_t nc = ds->feat_cap ? ds->feat_cap * 2 : 4096;
        ds->feat_idx = drec_realloc(ds->feat_idx, nc * sizeof *ds->feat_idx);
        ds->feat_val = drec_realloc(ds->feat_val, nc * sizeof *ds->feat_val);
        ds->feat_cap = nc;
    }
    ds->feat_idx[ds->feat_n] = f;
    ds->feat_val[ds->feat_n] = v;
    ds->feat_n++;
    ds->feat_ptr[ds->n] = (int64_t)ds->feat_n;
}

void drec_ds_skip(drec_dataset *ds, const char *reason, size_t count) {
    if (!count) return;
    for (int k = 0; k < ds->n_skip_reasons; k++)
        if (strcmp(ds->skipped[k].reason, reason) == 0) {
            ds->skipped[k].count += count;
            return;
        }
    int k = ds->n_skip_reasons < (int)DREC_ARRAY_LEN(ds->skipped) ? ds->n_skip_reasons++
                                                                  : (int)DREC_ARRAY_LEN(ds->skipped) - 1;
    snprintf(ds->skipped[k].reason, sizeof ds->skipped[k].reason, "%s", reason);
    ds->skipped[k].count += count;
}

/* Row ids in timestamp order, ties in row order: an LSD radix sort of
 * ts - min on 16-bit digits, with only as many passes as the range of the
 * timestamps needs (two for a decade of seconds).  NULL when the rows are
 * already in time order. */
static size_t *ts_order(const drec_dataset *ds) {
    size_t n = ds->n;
    bool sorted = true;
    int64_t lo = n ? ds->ts[0] : 0, hi = lo;
    for (size_t r = 1; r < n; r++) {
        sorted &= ds->ts[r - 1] <= ds->ts[r];
        lo = DREC_MIN(lo, ds->ts[r]);
        hi = DREC_MAX(hi, ds->ts[r]);
    }
    if (sorted) return NULL;
    uint64_t range = (uint64_t)hi - (uint64_t)lo;
    size_t *a = drec_malloc(n * sizeof *a), *b = drec_malloc(n * sizeof *b);
    uint16_t *digit = drec_malloc(n * sizeof *digit);
    size_t *count = drec_malloc(65537 * sizeof *count);
    for (size_t r = 0; r < n; r++) a[r] = r;
    for (int shift = 0; shift < 64 && (range >> shift); shift += 16) {
        memset(count, 0, 65537 * sizeof *count);
        for (size_t q = 0; q < n; q++) {
            digit[q] = (uint16_t)((((uint64_t)ds->ts[a[q]] - (uint64_t)lo) >> shift) & 0xffff);
            count[digit[q] + 1]++;
        }
        for (size_t d = 0; d < 65536; d++) count[d + 1] += count[d];
        for (size_t q = 0; q < n; q++) b[count[digit[q]]++] = a[q];
        size_t *t = a;
        a = b;
        b = t;
    }
    free(b);
    free(digit);
    free(count);
    return a;
}

/* Counting sort of rows by key (user or item), visiting the rows in `order`
 * (time order, or row order when NULL): each key's rows come out in time
 * order, ties in row order. */
static void build_index(const drec_dataset *ds, const size_t *order, const int32_t *key, int32_t n_keys,
                        int64_t **ptr_out, size_t **rows_out, int32_t **other_out, const int32_t *other) {
    int64_t *ptr = drec_calloc((size_t)n_keys + 1, sizeof *ptr);
    size_t *rows = drec_malloc((ds->n ? ds->n : 1) * sizeof *rows);
    int32_t *oth = drec_malloc((ds->n ? ds->n : 1) * sizeof *oth);
    for (size_t r = 0; r < ds->n; r++)
        if (key[r] >= 0) ptr[key[r] + 1]++;
    for (int32_t k = 0; k < n_keys; k++) ptr[k + 1] += ptr[k];
    int64_t *fill = drec_malloc(((size_t)n_keys + 1) * sizeof *fill);
    memcpy(fill, ptr, ((size_t)n_keys + 1) * sizeof *fill);
    for (size_t q = 0; q < ds->n; q++) {
        size_t r = order ? order[q] : q;
        if (key[r] >= 0) rows[fill[key[r]]++] = r;
    }
    free(fill);
    for (int64_t k = 0; k < ptr[n_keys]; k++) oth[k] = other[rows[k]];
    *ptr_out = ptr;
    *rows_out = rows;
    *other_out = oth;
}

void drec_ds_finish(drec_dataset *ds) {
    ds->n_users = ds->side->users.n;
    ds->n_items = ds->side->items.n;
    free(ds->user_ptr);
    free(ds->by_user);
    free(ds->user_items);
    free(ds->item_ptr);
    free(ds->by_item);
    free(ds->item_users);
    size_t *order = ds->has_time ? ts_order(ds) : NULL;
    build_index(ds, order, ds->user, ds->n_users, &ds->user_ptr, &ds->by_user, &ds->user_items, ds->item);
    build_index(ds, order, ds->item, ds->n_items, &ds->item_ptr, &ds->by_item, &ds->item_users, ds->user);
    free(order);
    if (ds->feat_ptr && ds->n == 0) ds->feat_ptr[0] = 0;
}

drec_dataset *drec_dataset_subset(const drec_dataset *ds, const size_t *rows, size_t n) {
    drec_dataset *s = drec_calloc(1, sizeof *s);
    s->kind = ds->kind;
    s->side = ds->side;
    ds->side->refs++;
    s->has_rating = ds->has_rating;
    s->has_time = ds->has_time;
    s->n = s->cap = n;
    size_t m = n ? n : 1;
    s->user = drec_malloc(m * sizeof *s->user);
    s->item = drec_malloc(m * sizeof *s->item);
    s->rating = drec_malloc(m * sizeof *s->rating);
    s->ts = drec_malloc(m * sizeof *s->ts);
    for (size_t k = 0; k < n; k++) {
        size_t r = rows[k];
        s->user[k] = ds->user[r];
        s->item[k] = ds->item[r];
        s->rating[k] = ds->rating[r];
        s->ts[k] = ds->ts[r];
    }
    if (ds->feat_ptr) {
        s->feat_ptr = drec_malloc((n + 1) * sizeof *s->feat_ptr);
        s->feat_ptr[0] = 0;
        size_t total = 0;
        for (size_t k = 0; k < n; k++) total += (size_t)(ds->feat_ptr[rows[k] + 1] - ds->feat_ptr[rows[k]]);
        s->feat_cap = total ? total : 1;
        s->feat_idx = drec_malloc(s->feat_cap * sizeof *s->feat_idx);
        s->feat_val = drec_malloc(s->feat_cap * sizeof *s->feat_val);
        for (size_t k = 0; k < n; k++) {
            int64_t a = ds->feat_ptr[rows[k]], b = ds->feat_ptr[rows[k] + 1];
            memcpy(s->feat_idx + s->feat_n, ds->feat_idx + a, (size_t)(b - a) * sizeof *s->feat_idx);
            memcpy(s->feat_val + s->feat_n, ds->feat_val + a, (size_t)(b - a) * sizeof *s->feat_val);
            s->feat_n += (size_t)(b - a);
            s->feat_ptr[k + 1] = (int64_t)s->feat_n;
        }
    }
    if (ds->ctx) {
        size_t d = (size_t)ds->side->ctx_dim;
        s->ctx = drec_malloc(m * d * sizeof *s->ctx);
        for (size_t k = 0; k < n; k++) memcpy(s->ctx + k * d, ds->ctx + rows[k] * d, d * sizeof *s->ctx);
    }
    if (ds->propensity) {
        s->propensity = drec_malloc(m * sizeof *s->propensity);
        for (size_t k = 0; k < n; k++) s->propensity[k] = ds->propensity[rows[k]];
    }
    if (ds->position) {
        s->position = drec_malloc(m * sizeof *s->position);
        for (size_t k = 0; k < n; k++) s->position[k] = ds->position[rows[k]];
    }
    drec_ds_finish(s);
    return s;
}

static void side_release(drec_side *sd) {
    if (!sd || --sd->refs > 0) return;
    int32_t n_items = sd->items.n;
    for (int32_t i = 0; i < n_items; i++) {
        if (sd->item_title) free(sd->item_title[i]);
        if (sd->item_text) free(sd->item_text[i]);
    }
    free(sd->item_title);
    free(sd->item_text);
    free(sd->item_category);
    free(sd->item_price);
    drec_strmap_free(&sd->users);
    drec_strmap_free(&sd->items);
    drec_strmap_free(&sd->categories);
    drec_strmap_free(&sd->feature_names);
    drec_attrs_free(&sd->item_attrs);
    drec_attrs_free(&sd->user_attrs);
    free(sd->feature_field);
    for (int32_t f = 0; f < sd->n_fields; f++)
        if (sd->field_names) free(sd->field_names[f]);
    free(sd->field_names);
    free(sd->action_feat);
    free(sd->source);
    free(sd);
}

void drec_dataset_free(drec_dataset *ds) {
    if (!ds) return;
    if (ds->test) drec_dataset_free(ds->test);
    free(ds->neg_ptr);
    free(ds->neg_idx);
    free(ds->user);
    free(ds->item);
    free(ds->rating);
    free(ds->ts);
    free(ds->feat_ptr);
    free(ds->feat_idx);
    free(ds->feat_val);
    free(ds->ctx);
    free(ds->propensity);
    free(ds->position);
    free(ds->user_ptr);
    free(ds->by_user);
    free(ds->user_items);
    free(ds->item_ptr);
    free(ds->by_item);
    free(ds->item_users);
    free(ds->summary);
    side_release(ds->side);
    free(ds);
}

int32_t *drec_ds_item_counts(const drec_dataset *ds) {
    int32_t *c = drec_calloc((size_t)ds->n_items + 1, sizeof *c);
    for (int32_t i = 0; i < ds->n_items; i++) c[i] = (int32_t)(ds->item_ptr[i + 1] - ds->item_ptr[i]);
    return c;
}

bool drec_ds_user_has(const drec_dataset *ds, int32_t u, int32_t i) {
    if (u < 0 || u >= ds->n_users) return false;
    for (int64_t k = ds->user_ptr[u]; k < ds->user_ptr[u + 1]; k++)
        if (ds->user_items[k] == i) return true;
    return false;
}

/* ---- attribute tables ------------------------------------------------- */

void drec_attrs_init(drec_attrs *a) {
    memset(a, 0, sizeof *a);
    drec_strmap_init(&a->names);
    drec_strmap_init(&a->fields);
}

void drec_attrs_free(drec_attrs *a) {
    drec_strmap_free(&a->names);
    drec_strmap_free(&a->fields);
    free(a->field_of);
    free(a->ptr);
    free(a->idx);
    free(a->val);
    free(a->staged);
    memset(a, 0, sizeof *a);
}

struct drec_attr_triple {
    int32_t e, f;
    float v;
};

void drec_attrs_add(drec_attrs *a, int32_t e, const char *field, const char *value, float v) {
    char name[512];
    if (value)
        snprintf(name, sizeof name, "%s=%s", field, value);
    else
        snprintf(name, sizeof name, "%s", field);
    int32_t known = a->names.n;
    int32_t f = drec_strmap_intern(&a->names, name, strlen(name));
    int32_t fld = drec_strmap_intern(&a->fields, field, strlen(field));
    if (f >= known) {
        a->field_of = drec_realloc(a->field_of, (size_t)a->names.n * sizeof *a->field_of);
        a->field_of[f] = fld;
    }
    DREC_GROW(a->staged, a->staged_cap, a->n_staged + 1);
    a->staged[a->n_staged++] = (struct drec_attr_triple){e, f, v};
}

static int cmp_triple(const void *x, const void *y) {
    const struct drec_attr_triple *a = x, *b = y;
    if (a->e != b->e) return a->e < b->e ? -1 : 1;
    return a->f < b->f ? -1 : a->f > b->f;
}

void drec_attrs_finish(drec_attrs *a, int32_t n_entities) {
    size_t n = a->n_staged;
    struct drec_attr_triple *s = a->staged;
    if (s) qsort(s, n, sizeof *s, cmp_triple);
    free(a->ptr);
    free(a->idx);
    free(a->val);
    a->n_entities = n_entities;
    a->ptr = drec_calloc((size_t)n_entities + 1, sizeof *a->ptr);
    a->idx = drec_malloc((n ? n : 1) * sizeof *a->idx);
    a->val = drec_malloc((n ? n : 1) * sizeof *a->val);
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k].e < 0 || s[k].e >= n_entities) continue;
        a->ptr[s[k].e + 1]++;
        a->idx[m] = s[k].f;
        a->val[m] = s[k].v;
        m++;
    }
    for (int32_t e = 0; e < n_entities; e++) a->ptr[e + 1] += a->ptr[e];
    free(a->staged);
    a->staged = NULL;
    a->n_staged = a->staged_cap = 0;
}

/* ---- the public face ---------------------------------------------------- */

typedef drec_status (*reader_fn)(const char *, const drec_params *, drec_dataset **);

static const struct {
    const char *kind;
    reader_fn read;
} readers[] = {
    {"movielens", drec_read_movielens}, {"ncf", drec_read_ncf},         {"csv", drec_read_csv},
    {"seq", drec_read_seq},             {"session", drec_read_session}, {"ctr", drec_read_ctr},
    {"bandit", drec_read_bandit},       {"lists", drec_read_lists},     {"synthetic", drec_read_synthetic},
};

drec_status drec_dataset_load_opts(const char *spec, const drec_params *opts, drec_dataset **out) {
    *out = NULL;
    if (!spec || !*spec) return drec_fail(DREC_ERR_USAGE, "empty data spec");
    const char *colon = strchr(spec, ':');
    size_t klen = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *arg = colon ? colon + 1 : "";
    for (size_t k = 0; k < DREC_ARRAY_LEN(readers); k++) {
        if (strlen(readers[k].kind) != klen || strncmp(readers[k].kind, spec, klen) != 0) continue;
        if (!*arg && strcmp(readers[k].kind, "synthetic") != 0)
            return drec_fail(DREC_ERR_USAGE, "data spec \"%s\": expected %s:PATH", spec, readers[k].kind);
        drec_status st = readers[k].read(arg, opts, out);
        if (st == DREC_OK) {
            free((*out)->side->source);
            (*out)->side->source = drec_strdup(spec);
        }
        return st;
    }
    return drec_fail(DREC_ERR_USAGE,
                     "data spec \"%s\": unknown kind \"%.*s\" (expected movielens:, ncf:, csv:, seq:, "
                     "session:, ctr:, bandit:, lists: or synthetic)",
                     spec, (int)klen, spec);
}

drec_status drec_dataset_load(const char *spec, drec_dataset **out) {
    return drec_dataset_load_opts(spec, NULL, out);
}

size_t drec_dataset_rows(const drec_dataset *ds) { return ds->n; }
int32_t drec_dataset_users(const drec_dataset *ds) { return ds->n_users; }
int32_t drec_dataset_items(const drec_dataset *ds) { return ds->n_items; }

int32_t drec_dataset_user_id(const drec_dataset *ds, const char *name) {
    return drec_strmap_find(&ds->side->users, name, strlen(name));
}
int32_t drec_dataset_item_id(const drec_dataset *ds, const char *name) {
    return drec_strmap_find(&ds->side->items, name, strlen(name));
}
const char *drec_dataset_user_name(const drec_dataset *ds, int32_t u) {
    return drec_strmap_name(&ds->side->users, u);
}
const char *drec_dataset_item_name(const drec_dataset *ds, int32_t i) {
    return drec_strmap_name(&ds->side->items, i);
}

static const char *kind_name(drec_ds_kind k) {
    switch (k) {
    case DREC_DS_INTERACTIONS: return "interactions";
    case DREC_DS_SESSIONS: return "session events";
    case DREC_DS_CTR: return "labelled rows";
    case DREC_DS_BANDIT: return "logged decisions";
    }
    return "rows";
}

const char *drec_dataset_summary(const drec_dataset *ds) {
    drec_dataset *m = (drec_dataset *)ds;
    free(m->summary);
    char buf[2048];
    int len = 0;
    const char *uname = ds->kind == DREC_DS_SESSIONS ? "sessions" : "users";
    const char *iname = ds->kind == DREC_DS_BANDIT ? "actions" : "items";
    len += snprintf(buf + len, sizeof buf - (size_t)len, "%zu %s, %d %s, %d %s", ds->n, kind_name(ds->kind),
                    ds->n_users, uname, ds->n_items, iname);
    if (ds->kind == DREC_DS_CTR)
        len += snprintf(buf + len, sizeof buf - (size_t)len, ", %d features in %d fields",
                        ds->side->n_features, ds->side->n_fields);
    if (ds->test)
        len += snprintf(buf + len, sizeof buf - (size_t)len, "; %zu test rows%s", ds->test->n,
                        ds->neg_ptr ? " with fixed negatives" : "");
    for (int k = 0; k < ds->n_skip_reasons && len < (int)sizeof buf - 128; k++)
        len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%zu skipped (%s)", k ? ", " : "; ",
                        ds->skipped[k].count, ds->skipped[k].reason);
    m->summary = drec_strdup(buf);
    return m->summary;
}
