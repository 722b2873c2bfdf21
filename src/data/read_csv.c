/*
 * read_csv.c — the csv: reader: any delimited file of interactions.
 *
 * Options (from the verb's flags): user-col, item-col, rating-col,
 * time-col — a header name or a 1-based number; "0" or "none" drops the
 * rating or time column; a default column already chosen for another
 * role is dropped too — and sep ("," "\t" or "tab", ";", "|", "::",
 * "space" for runs of blanks, or any single byte).  Without sep, the
 * separator is the first of "::", tab, ",", ";", "|", blanks that splits
 * the first lines into the same number (>= 2) of fields.  Defaults: user 1,
 * item 2, rating 3 and time 4 when the file has those columns.  The first
 * line is a header when columns are named, or when its rating or time
 * field is not a number (or its user/item field is not a number while the
 * next line's is); the header is counted among the skipped rows.  Quoted
 * fields ("a, b" and "" for a quote) are read on every separator but blanks.
 */
#include "textio.h"

#include "core/params.h"

#include <strings.h>
#include <stdio.h>

#define PROBE_LINES 20

static drec_status parse_sep(const char *s, int *sep) {
    if (!strcmp(s, "tab") || !strcmp(s, "\\t") || !strcmp(s, "\t")) *sep = '\t';
    else if (!strcmp(s, "::")) *sep = DREC_SEP_COLONS;
    else if (!strcmp(s, "space") || !strcmp(s, " ") || !strcmp(s, "blanks") || !strcmp(s, "whitespace"))
        *sep = DREC_SEP_BLANKS;
    else if (!strcmp(s, "comma")) *sep = ',';
    else if (!strcmp(s, "semicolon")) *sep = ';';
    else if (!strcmp(s, "pipe")) *sep = '|';
    else if (strlen(s) == 1) *sep = (unsigned char)s[0];
    else return drec_fail(DREC_ERR_USAGE, "--sep \"%s\": expected one character, \"::\", \"tab\" or \"space\"", s);
    return DREC_OK;
}

/* Field counts of the first non-blank lines under sep. */
static int probe(const char *path, const drec_mapped *m, int sep, size_t *counts) {
    drec_text t = {.path = path, .p = m->data, .end = m->data + m->size};
    int n = 0;
    while (n < PROBE_LINES && drec_text_next(&t)) {
        if (drec_text_blank(&t)) continue;
        counts[n++] = drec_text_split(&t, sep, sep != DREC_SEP_BLANKS);
    }
    free(t.f);
    free(t.scratch);
    return n;
}

static drec_status detect_sep(drec_text *t, int *sep) {
    static const int cands[] = {DREC_SEP_COLONS, '\t', ',', ';', '|', DREC_SEP_BLANKS};
    size_t counts[PROBE_LINES];
    int best = -1;
    size_t best_first = 1;
    for (size_t c = 0; c < DREC_ARRAY_LEN(cands); c++) {
        int n = probe(t->path, &t->map, cands[c], counts);
        bool same = n > 0 && counts[0] >= 2;
        for (int k = 1; k < n && same; k++) same = counts[k] == counts[0];
        if (same) {
            *sep = cands[c];
            return DREC_OK;
        }
        if (n > 0 && counts[0] > best_first) best = cands[c], best_first = counts[0];
    }
    if (best >= 0) {
        *sep = best;
        return DREC_OK;
    }
    return drec_fail(DREC_ERR_INPUT, "%s: cannot tell the separator (one field per line?); give --sep", t->path);
}

static bool is_number(const drec_field *f) {
    double v;
    return drec_parse_f64(f->s, f->len, &v);
}

static bool is_time(const drec_field *f) {
    int64_t ms;
    return is_number(f) || drec_parse_iso_ms(f->s, f->len, &ms);
}

/* A column option: NULL/default, "none"/"0" (-2: no column), a number, or a
 * header name (*named set; resolved later against the header). */
static drec_status parse_col(const char *flag, const char *v, int def, int *col, bool *named) {
    *named = false;
    if (!v) {
        *col = def;
        return DREC_OK;
    }
    if (!strcmp(v, "none") || !strcmp(v, "0")) {
        *col = -2;
        return DREC_OK;
    }
    int64_t n;
    if (drec_parse_i64(v, strlen(v), &n)) {
        if (n < 1 || n > 100000) return drec_fail(DREC_ERR_USAGE, "--%s %s: columns are numbered from 1", flag, v);
        *col = (int)n - 1;
        return DREC_OK;
    }
    *named = true;
    *col = -1;
    return DREC_OK;
}

static int find_name(const drec_text *t, const char *name) {
    size_t n = strlen(name);
    for (size_t k = 0; k < t->nf; k++)
        if (t->f[k].len == n && strncasecmp(t->f[k].s, name, n) == 0) return (int)k;
    return -1;
}

drec_status drec_read_csv(const char *path, const drec_params *opts, drec_dataset **out) {
    *out = NULL;
    static const char *const flags[4] = {"user-col", "item-col", "rating-col", "time-col"};
    const char *given[4];
    int col[4];
    bool named[4], any_named = false;
    drec_status st = DREC_OK;
    for (int c = 0; c < 4; c++) {
        given[c] = opts ? drec_params_str(opts, flags[c], NULL) : NULL;
        if (!st) st = parse_col(flags[c], given[c], c, &col[c], &named[c]);
        any_named |= named[c];
    }
    if (st) return st;
    if (col[0] == -2 || col[1] == -2) return drec_fail(DREC_ERR_USAGE, "csv: the user and item columns are required");
    const char *sep_s = opts ? drec_params_str(opts, "sep", NULL) : NULL;
    int sep = 0;
    if (sep_s && (st = parse_sep(sep_s, &sep))) return st;

    drec_text t;
    if ((st = drec_text_open(&t, path))) return st;
    if (!sep_s && (st = detect_sep(&t, &sep))) {
        drec_text_close(&t);
        return st;
    }
    bool quotes = sep != DREC_SEP_BLANKS;
    /* Look at the first two non-blank lines to settle columns and header. */
    drec_text peek = {.path = path, .p = t.map.data, .end = t.map.data + t.map.size};
    while (drec_text_next(&peek) && drec_text_blank(&peek)) {
    }
    size_t nf1 = drec_text_split(&peek, sep, quotes);
    drec_field first[64];
    size_t nkeep = DREC_MIN(nf1, DREC_ARRAY_LEN(first));
    memcpy(first, peek.f, nkeep * sizeof *first);
    for (int c = 0; c < 4 && !st; c++) {
        if (named[c]) {
            col[c] = find_name(&peek, given[c]);
            if (col[c] < 0)
                st = drec_text_fail(&peek, "--%s: no column named \"%s\" in the header", flags[c], given[c]);
        } else if (col[c] >= 0 && (size_t)col[c] >= nf1) {
            if (given[c])
                st = drec_text_fail(&peek, "--%s %d: the line has only %zu fields", flags[c], col[c] + 1, nf1);
            else if (c >= 2)
                col[c] = -2; /* default rating/time column absent */
        }
    }
    /* A default rating/time column that is already another column's
     * (user or item chosen by hand) is no column. */
    for (int c = 2; c < 4 && !st; c++)
        if (!given[c] && col[c] >= 0)
            for (int o = 0; o < 4; o++)
                if (o != c && (o < c || given[o]) && col[o] == col[c]) col[c] = -2;
    bool header = any_named;
    if (!st && !header && nf1 <= nkeep) {
        if (col[2] >= 0 && !is_number(&first[col[2]])) header = true;
        if (col[3] >= 0 && !is_time(&first[col[3]])) header = true;
        /* Judged before the next split reuses the scratch buffer. */
        bool num1[2] = {(size_t)col[0] < nf1 && is_number(&first[col[0]]),
                        (size_t)col[1] < nf1 && is_number(&first[col[1]])};
        if (!header && drec_text_next(&peek)) {
            drec_text_split(&peek, sep, quotes);
            for (int c = 0; c < 2; c++)
                if ((size_t)col[c] < peek.nf && !num1[c] && is_number(&peek.f[col[c]])) header = true;
        }
    }
    free(peek.f);
    free(peek.scratch);
    if (st) {
        drec_text_close(&t);
        return st;
    }
    drec_dataset *ds = drec_ds_new(DREC_DS_INTERACTIONS, path);
    drec_table_spec spec = {.sep = sep,
                            .quotes = quotes,
                            .header = header,
                            .user_col = col[0],
                            .item_col = col[1],
                            .rating_col = col[2] >= 0 ? col[2] : -1,
                            .time_col = col[3] >= 0 ? col[3] : -1,
                            .n_fields = 0,
                            .what = "row"};
    st = drec_text_read_table(&t, &spec, ds);
    drec_text_close(&t);
    if (!st && ds->n == 0) st = drec_fail(DREC_ERR_INPUT, "%s: no rows", path);
    if (st) {
        drec_dataset_free(ds);
        return st;
    }
    ds->has_time = spec.time_col >= 0;
    /* A rating column of ones only is implicit feedback; anything else,
     * 0/1 clicks included, is kept as a rating so that no row with a 0
     * passes for a positive. */
    bool explicit_r = false;
    if (spec.rating_col >= 0)
        for (size_t r = 0; r < ds->n && !explicit_r; r++) explicit_r = ds->rating[r] != 1.0f;
    ds->has_rating = explicit_r;
    drec_ds_finish(ds);
    *out = ds;
    return DREC_OK;
}
