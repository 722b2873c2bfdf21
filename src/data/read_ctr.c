/*
 * read_ctr.c — the ctr: reader: labelled rows of sparse features for the
 * click-through-rate models.  The format is told from the first line:
 *
 *   Criteo CSV   header "Id,Label,I1..I13,C1..C26" (Kaggle's train.csv; the
 *                test file has no Label), CRLF, empty field = missing
 *   Criteo TSV   label \t I1..I13 \t C1..C26 (the raw train.txt; 39 fields
 *                without the label), no header
 *   libsvm/libfm label idx:val idx:val ...  (idx 0-based, label -1/0/1)
 *   libffm       label field:idx:val ...
 *
 * Every row becomes (user -1, item -1, rating = label 0/1) plus its
 * features, indexing the dictionary in the side block (n_features,
 * feature_field, field_names).
 *
 * Criteo rows hold exactly one feature per field, in field order, so that
 * field-aware models can rely on it: a numeric field Ik is the feature "Ik"
 * with value slog(x) = sign(x) * log(1 + |x|) (counts are heavy-tailed; a
 * few are negative), or "Ik=missing" with value 1 when empty; a categorical
 * field Ck is the one-hot feature "Ck=<value>", or "Ck=missing".
 *
 * libsvm features keep the file's index as their id (n_features = highest
 * index + 1).  The file names no fields, so a feature's field is its
 * position in the first row that holds it: rows of one-hot data written one
 * feature per field in field order (frappe's 10 fields) get exactly their
 * fields back.  Indices never seen take the field of the nearest lower seen
 * index.  libffm gives the field explicitly.
 *
 * drec_read_ctr_into reads a second file (a test set) into the same
 * dictionary: fields are matched by name and new features appended.
 */
#include "textio.h"

#include <math.h>
#include <strings.h>
#include <stdio.h>

typedef enum { CTR_CRITEO_CSV, CTR_CRITEO_TSV, CTR_LIBSVM, CTR_LIBFFM } ctr_format;

typedef enum { COL_SKIP, COL_LABEL, COL_NUM, COL_CAT } col_kind;

static int32_t field_id(drec_side *sd, const char *name, size_t len) {
    for (int32_t k = 0; k < sd->n_fields; k++)
        if (strlen(sd->field_names[k]) == len && memcmp(sd->field_names[k], name, len) == 0) return k;
    sd->field_names = drec_realloc(sd->field_names, ((size_t)sd->n_fields + 1) * sizeof *sd->field_names);
    sd->field_names[sd->n_fields] = drec_strndup(name, len);
    return sd->n_fields++;
}

/* Makes room for feature ids < n; new entries get field -1 ("not seen").
 * Capacity is the next power of two, so growth one at a time stays cheap. */
static void ensure_features(drec_side *sd, int32_t n) {
    if (n <= sd->n_features) return;
    size_t old_cap = 0, cap = 1;
    if (sd->n_features > 0) {
        while (old_cap < (size_t)sd->n_features) old_cap = old_cap ? old_cap * 2 : 1;
    }
    while (cap < (size_t)n) cap *= 2;
    if (cap > old_cap || !sd->feature_field)
        sd->feature_field = drec_realloc(sd->feature_field, cap * sizeof *sd->feature_field);
    for (int32_t f = sd->n_features; f < n; f++) sd->feature_field[f] = -1;
    sd->n_features = n;
}

/* The id of feature "field=value" (or "field" when value is NULL). */
static int32_t named_feature(drec_side *sd, int32_t field, const char *value, size_t vlen) {
    char name[320];
    const char *fname = sd->field_names[field];
    int n;
    if (!value)
        n = snprintf(name, sizeof name, "%s", fname);
    else if (vlen <= 256)
        n = snprintf(name, sizeof name, "%s=%.*s", fname, (int)vlen, value);
    else /* absurdly long values: keep them distinct without keeping them */
        n = snprintf(name, sizeof name, "%s=#%016llx", fname, (unsigned long long)drec_hash64(value, vlen, 0));
    int32_t id = drec_strmap_intern(&sd->feature_names, name, (size_t)n);
    if (id >= sd->n_features) {
        ensure_features(sd, id + 1);
        sd->feature_field[id] = field;
    }
    return id;
}

static float slog(double x) { return (float)(x >= 0 ? log1p(x) : -log1p(-x)); }

typedef struct ctr_reader {
    drec_text t;
    drec_dataset *ds;
    ctr_format fmt;
    int sep;
    size_t n_cols;       /* Criteo: fields per line */
    col_kind *kind;      /* Criteo: per column */
    int32_t *field;      /* Criteo: per column, the field id */
    int32_t *missing;    /* Criteo: per column, the "missing" feature */
    size_t no_label;
} ctr_reader;

static drec_status setup_criteo(ctr_reader *c, bool header) {
    drec_side *sd = c->ds->side;
    drec_text *t = &c->t;
    c->n_cols = t->nf;
    c->kind = drec_calloc(c->n_cols, sizeof *c->kind);
    c->field = drec_calloc(c->n_cols, sizeof *c->field);
    c->missing = drec_calloc(c->n_cols, sizeof *c->missing);
    bool has_label = false;
    char nm[16];
    for (size_t k = 0; k < c->n_cols; k++) {
        const char *s;
        size_t len;
        if (header) {
            s = t->f[k].s;
            len = t->f[k].len;
        } else {
            /* Raw Criteo: [label] I1..I13 C1..C26. */
            size_t off = c->n_cols == 40 ? 1 : 0;
            if (off && k == 0) snprintf(nm, sizeof nm, "Label");
            else if (k - off < 13) snprintf(nm, sizeof nm, "I%zu", k - off + 1);
            else snprintf(nm, sizeof nm, "C%zu", k - off - 12);
            s = nm;
            len = strlen(nm);
        }
        bool digits = len > 1;
        for (size_t j = 1; j < len; j++) digits &= s[j] >= '0' && s[j] <= '9';
        if ((len == 2 && strncasecmp(s, "id", 2) == 0) || len == 0) {
            c->kind[k] = COL_SKIP;
        } else if ((len == 5 && strncasecmp(s, "label", 5) == 0) || (len == 5 && strncasecmp(s, "click", 5) == 0)) {
            if (has_label) return drec_text_fail(t, "two label columns");
            has_label = true;
            c->kind[k] = COL_LABEL;
        } else {
            c->kind[k] = digits && s[0] == 'I' ? COL_NUM : COL_CAT;
            c->field[k] = field_id(sd, s, len);
            /* Every field gets its "missing" feature up front, so that a
             * test file's rows map into a dictionary that has it. */
            c->missing[k] = named_feature(sd, c->field[k], "missing", 7);
            if (c->kind[k] == COL_NUM) named_feature(sd, c->field[k], NULL, 0);
        }
    }
    if (!has_label) c->no_label = 1;
    return DREC_OK;
}

static drec_status criteo_row(ctr_reader *c) {
    drec_text *t = &c->t;
    drec_dataset *ds = c->ds;
    drec_side *sd = ds->side;
    char b[64];
    size_t nf = drec_text_split(t, c->sep, c->sep == ',');
    if (nf != c->n_cols) return drec_text_fail(t, "expected %zu fields, found %zu", c->n_cols, nf);
    float label = 0.0f;
    for (size_t k = 0; k < nf; k++) {
        if (c->kind[k] != COL_LABEL) continue;
        double v;
        if (!drec_parse_f64(t->f[k].s, t->f[k].len, &v) || (v != 0 && v != 1 && v != -1))
            return drec_text_fail(t, "label %s is not 0 or 1", drec_field_show(t->f[k].s, t->f[k].len, b));
        label = v > 0 ? 1.0f : 0.0f;
    }
    drec_ds_push(ds, -1, -1, label, (int64_t)ds->n);
    for (size_t k = 0; k < nf; k++) {
        const drec_field *f = &t->f[k];
        switch (c->kind[k]) {
        case COL_SKIP:
        case COL_LABEL: break;
        case COL_NUM: {
            if (!f->len) {
                drec_ds_push_feature(ds, c->missing[k], 1.0f);
                break;
            }
            double v;
            if (!drec_parse_f64(f->s, f->len, &v) || !isfinite(v))
                return drec_text_fail(t, "%s value %s is not a number", sd->field_names[c->field[k]],
                                      drec_field_show(f->s, f->len, b));
            drec_ds_push_feature(ds, named_feature(sd, c->field[k], NULL, 0), slog(v));
            break;
        }
        case COL_CAT:
            if (!f->len)
                drec_ds_push_feature(ds, c->missing[k], 1.0f);
            else
                drec_ds_push_feature(ds, named_feature(sd, c->field[k], f->s, f->len), 1.0f);
            break;
        }
    }
    return DREC_OK;
}

static drec_status libsvm_row(ctr_reader *c) {
    drec_text *t = &c->t;
    drec_dataset *ds = c->ds;
    drec_side *sd = ds->side;
    char b[64], nm[32];
    size_t nf = drec_text_split(t, DREC_SEP_BLANKS, false);
    double label;
    if (!drec_parse_f64(t->f[0].s, t->f[0].len, &label))
        return drec_text_fail(t, "label %s is not a number", drec_field_show(t->f[0].s, t->f[0].len, b));
    drec_ds_push(ds, -1, -1, label > 0 ? 1.0f : 0.0f, (int64_t)ds->n);
    for (size_t k = 1; k < nf; k++) {
        const char *s = t->f[k].s, *e = s + t->f[k].len;
        const char *c1 = memchr(s, ':', (size_t)(e - s));
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(e - c1 - 1)) : NULL;
        bool ffm = c->fmt == CTR_LIBFFM;
        if (!c1 || (ffm != (c2 != NULL)))
            return drec_text_fail(t, "feature %s: expected %s", drec_field_show(s, t->f[k].len, b),
                                  ffm ? "field:index:value" : "index:value");
        int64_t fld = -1, idx;
        double v;
        const char *is = ffm ? c1 + 1 : s, *ie = ffm ? c2 : c1;
        if (ffm && (!drec_parse_i64(s, (size_t)(c1 - s), &fld) || fld < 0 || fld > 1000000))
            return drec_text_fail(t, "field %s is not an index", drec_field_show(s, (size_t)(c1 - s), b));
        if (!drec_parse_i64(is, (size_t)(ie - is), &idx) || idx < 0 || idx >= INT32_MAX - 1)
            return drec_text_fail(t, "feature index %s is not an index >= 0", drec_field_show(is, (size_t)(ie - is), b));
        if (!drec_parse_f64(ie + 1, (size_t)(e - ie - 1), &v) || !isfinite(v))
            return drec_text_fail(t, "feature value %s is not a number", drec_field_show(ie + 1, (size_t)(e - ie - 1), b));
        ensure_features(sd, (int32_t)idx + 1);
        if (sd->feature_field[idx] < 0) {
            int n = snprintf(nm, sizeof nm, "field%lld", (long long)(ffm ? fld : (int64_t)(k - 1)));
            sd->feature_field[idx] = field_id(sd, nm, (size_t)n);
        }
        drec_ds_push_feature(ds, (int32_t)idx, (float)v);
    }
    return DREC_OK;
}

/* Reads path into ds (a fresh dataset, or one sharing a parent's side). */
static drec_status read_into(const char *path, drec_dataset *ds) {
    ctr_reader c = {.ds = ds};
    drec_side *sd = ds->side;
    drec_status st = drec_text_open(&c.t, path);
    if (st) return st;
    drec_text *t = &c.t;
    while (drec_text_next(t) && drec_text_blank(t)) {
    }
    bool header = false;
    if (memchr(t->line, '\t', t->len)) {
        c.fmt = CTR_CRITEO_TSV;
        c.sep = '\t';
        drec_text_split(t, '\t', false);
        if (t->nf != 40 && t->nf != 39)
            st = drec_text_fail(t, "a tab-separated ctr: file should be Criteo's label, I1..I13, C1..C26 "
                                   "(40 fields, or 39 without the label), found %zu", t->nf);
    } else if (memchr(t->line, ',', t->len)) {
        c.fmt = CTR_CRITEO_CSV;
        c.sep = ',';
        drec_text_split(t, ',', true);
        double v;
        header = true;
        for (size_t k = 0; k < t->nf; k++)
            if (drec_parse_f64(t->f[k].s, t->f[k].len, &v)) header = false;
        if (!header) st = drec_text_fail(t, "a comma-separated ctr: file needs a header (Id,Label,I1..I13,C1..C26)");
    } else {
        drec_text_split(t, DREC_SEP_BLANKS, false);
        c.fmt = CTR_LIBSVM;
        if (t->nf > 1) {
            const drec_field *f = &t->f[1];
            const char *c1 = memchr(f->s, ':', f->len);
            if (c1 && memchr(c1 + 1, ':', (size_t)(f->s + f->len - c1 - 1))) c.fmt = CTR_LIBFFM;
        }
    }
    bool named = c.fmt == CTR_CRITEO_CSV || c.fmt == CTR_CRITEO_TSV;
    if (!st && sd->n_features > 0 && (sd->feature_names.n > 0) != named)
        st = drec_fail(DREC_ERR_INPUT, "%s: %s features cannot share the dictionary of %s data", path,
                       named ? "Criteo" : "libsvm", named ? "libsvm" : "Criteo");
    if (!st && named) st = setup_criteo(&c, header);
    if (!st && !header) {
        t->p = t->line; /* the first line is data: read it again */
        t->line_no--;
    }
    if (header) drec_ds_skip(ds, "header", 1);
    size_t blank = 0;
    while (!st && drec_text_next(t)) {
        if (drec_text_blank(t)) {
            blank++;
            continue;
        }
        st = named ? criteo_row(&c) : libsvm_row(&c);
    }
    drec_ds_skip(ds, "blank lines", blank);
    if (!st && ds->n == 0) st = drec_fail(DREC_ERR_INPUT, "%s: no rows", path);
    if (!st && c.no_label) drec_ds_skip(ds, "unlabelled rows, read with label 0", ds->n);
    drec_text_close(t);
    free(c.kind);
    free(c.field);
    free(c.missing);
    if (st) return st;
    /* Fill the fields of never-seen libsvm indices (see the top). */
    if (sd->n_fields == 0) field_id(sd, "field0", 6);
    int32_t last = 0;
    for (int32_t f = 0; f < sd->n_features; f++) {
        if (sd->feature_field[f] < 0) sd->feature_field[f] = last;
        last = sd->feature_field[f];
    }
    if (!ds->feat_ptr) {
        ds->feat_ptr = drec_calloc(1, sizeof *ds->feat_ptr);
    }
    drec_ds_finish(ds);
    return DREC_OK;
}

drec_status drec_read_ctr(const char *path, const drec_params *opts, drec_dataset **out) {
    (void)opts;
    *out = NULL;
    drec_dataset *ds = drec_ds_new(DREC_DS_CTR, path);
    drec_status st = read_into(path, ds);
    if (st) {
        drec_dataset_free(ds);
        return st;
    }
    *out = ds;
    return DREC_OK;
}

drec_status drec_read_ctr_into(const char *path, drec_dataset *parent, drec_dataset **out) {
    *out = NULL;
    if (!parent || parent->kind != DREC_DS_CTR)
        return drec_fail(DREC_ERR_USAGE, "%s: a ctr: test file needs ctr: training data", path);
    drec_dataset *ds = drec_calloc(1, sizeof *ds);
    ds->kind = DREC_DS_CTR;
    ds->side = parent->side;
    parent->side->refs++;
    drec_status st = read_into(path, ds);
    if (st) {
        drec_dataset_free(ds);
        return st;
    }
    *out = ds;
    return DREC_OK;
}

drec_status drec_ctr_adopt_features(drec_dataset *parent, drec_dataset *test) {
    if (parent->kind != DREC_DS_CTR || test->kind != DREC_DS_CTR || parent->side == test->side) return DREC_OK;
    drec_side *ps = parent->side, *ts = test->side;
    bool named = ts->feature_names.n > 0;
    if (ps->n_features > 0 && (ps->feature_names.n > 0) != named)
        return drec_fail(DREC_ERR_INPUT, "%s: its features cannot share the dictionary of %s", ts->source, ps->source);
    int32_t *map = drec_malloc(((size_t)ts->n_features + 1) * sizeof *map);
    for (int32_t f = 0; f < ts->n_features; f++) {
        const char *fname = ts->field_names[ts->feature_field[f]];
        int32_t fld = field_id(ps, fname, strlen(fname));
        if (named) {
            const char *name = drec_strmap_name(&ts->feature_names, f);
            int32_t id = drec_strmap_intern(&ps->feature_names, name, strlen(name));
            if (id >= ps->n_features) {
                ensure_features(ps, id + 1);
                ps->feature_field[id] = fld;
            }
            map[f] = id;
        } else {
            if (f >= ps->n_features) {
                ensure_features(ps, f + 1);
                ps->feature_field[f] = fld;
            }
            map[f] = f;
        }
    }
    for (size_t k = 0; k < test->feat_n; k++) test->feat_idx[k] = map[test->feat_idx[k]];
    free(map);
    return DREC_OK;
}
