/*
 * textio.c — line cursor, field splitting, strict number/time parsing and
 * the shared interaction-table loop of the text readers (see textio.h).
 *
 * Speed matters here: a reader walks the mapped file once, and the only
 * work per line is finding the separators, parsing numbers without a
 * locale-aware strtod on the common short forms, and interning the two ids.
 */
#include "textio.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

/* ---- the cursor ------------------------------------------------------------ */

drec_status drec_text_open(drec_text *t, const char *path) {
    memset(t, 0, sizeof *t);
    t->path = path;
    drec_status st = drec_map_file(path, &t->map);
    if (st) return st;
    const char *d = t->map.data;
    size_t n = t->map.size;
    size_t k = 0;
    while (k < n && (d[k] == ' ' || d[k] == '\t' || d[k] == '\r' || d[k] == '\n')) k++;
    if (k == n) {
        drec_unmap_file(&t->map);
        return drec_fail(DREC_ERR_INPUT, "%s: empty file", path);
    }
    /* Text never holds NUL; a file that does is binary (or corrupt) and
     * would otherwise produce confusing per-field messages. */
    const char *nul = memchr(d, '\0', n);
    if (nul) {
        size_t line = 1;
        for (const char *q = d; (q = memchr(q, '\n', (size_t)(nul - q))) != NULL; q++) line++;
        drec_unmap_file(&t->map);
        return drec_fail(DREC_ERR_INPUT, "%s:%zu: binary data (NUL byte at offset %zu), not a text file", path,
                         line, (size_t)(nul - d));
    }
    t->p = d;
    t->end = d + n;
    return DREC_OK;
}

void drec_text_close(drec_text *t) {
    drec_unmap_file(&t->map);
    free(t->f);
    free(t->scratch);
    memset(t, 0, sizeof *t);
}

bool drec_text_next(drec_text *t) {
    if (t->p >= t->end) return false;
    const char *s = t->p;
    const char *nl = memchr(s, '\n', (size_t)(t->end - s));
    size_t len;
    if (nl) {
        len = (size_t)(nl - s);
        t->p = nl + 1;
        t->last_unterminated = false;
    } else {
        len = (size_t)(t->end - s);
        t->p = t->end;
        t->last_unterminated = true;
    }
    if (len && s[len - 1] == '\r') len--;
    t->line = s;
    t->len = len;
    t->line_no++;
    t->nf = 0;
    return true;
}

bool drec_text_blank(const drec_text *t) {
    for (size_t k = 0; k < t->len; k++)
        if (t->line[k] != ' ' && t->line[k] != '\t' && t->line[k] != '\r') return false;
    return true;
}

static inline void add_field(drec_text *t, const char *s, size_t len, bool trim) {
    if (trim) {
        while (len && (*s == ' ' || *s == '\t')) s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    }
    DREC_GROW(t->f, t->f_cap, t->nf + 1);
    t->f[t->nf].s = s;
    t->f[t->nf].len = len;
    t->nf++;
}

size_t drec_text_split(drec_text *t, int sep, bool quotes) {
    const char *s = t->line, *e = t->line + t->len;
    t->nf = 0;
    if (sep == DREC_SEP_BLANKS) {
        while (s < e) {
            while (s < e && (*s == ' ' || *s == '\t')) s++;
            if (s == e) break;
            const char *b = s;
            while (s < e && *s != ' ' && *s != '\t') s++;
            add_field(t, b, (size_t)(s - b), false);
        }
        return t->nf;
    }
    bool trim = sep != '\t' && sep != ' ';
    if (sep == DREC_SEP_COLONS) {
        for (;;) {
            const char *b = s;
            while (s + 1 < e && !(s[0] == ':' && s[1] == ':')) s++;
            if (s + 1 >= e) {
                add_field(t, b, (size_t)(e - b), trim);
                return t->nf;
            }
            add_field(t, b, (size_t)(s - b), trim);
            s += 2;
        }
    }
    char c = (char)sep;
    if (!quotes || !memchr(s, '"', t->len)) {
        for (;;) {
            const char *q = memchr(s, c, (size_t)(e - s));
            if (!q) {
                add_field(t, s, (size_t)(e - s), trim);
                return t->nf;
            }
            add_field(t, s, (size_t)(q - s), trim);
            s = q + 1;
        }
    }
    /* Quoted fields: unquoted text goes to scratch, sized to the line up
     * front so that earlier field pointers stay valid. */
    DREC_GROW(t->scratch, t->scratch_cap, t->len + 1);
    char *out = t->scratch;
    for (;;) {
        const char *b = s;
        while (b < e && (*b == ' ' || (*b == '\t' && c != '\t'))) b++;
        if (b < e && *b == '"') {
            char *o = out;
            const char *q = b + 1;
            while (q < e) {
                if (*q == '"') {
                    if (q + 1 < e && q[1] == '"') {
                        *o++ = '"';
                        q += 2;
                        continue;
                    }
                    q++;
                    break;
                }
                *o++ = *q++;
            }
            /* Text between the closing quote and the separator is kept. */
            while (q < e && *q != c) *o++ = *q++;
            add_field(t, out, (size_t)(o - out), false);
            out = o;
            if (q >= e) return t->nf;
            s = q + 1;
        } else {
            const char *q = memchr(s, c, (size_t)(e - s));
            if (!q) {
                add_field(t, s, (size_t)(e - s), trim);
                return t->nf;
            }
            add_field(t, s, (size_t)(q - s), trim);
            s = q + 1;
        }
    }
}

drec_status drec_text_fail(const drec_text *t, const char *fmt, ...) {
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return drec_fail(DREC_ERR_INPUT, "%s:%zu: %s%s", t->path, t->line_no, reason,
                     t->last_unterminated ? " (the file ends inside this line without a newline: truncated?)" : "");
}

const char *drec_field_show(const char *s, size_t len, char buf[64]) {
    size_t o = 0;
    buf[o++] = '"';
    for (size_t k = 0; k < len; k++) {
        unsigned char ch = (unsigned char)s[k];
        if (o > 30) {
            o += (size_t)snprintf(buf + o, 64 - o, "...(%zu bytes)", len);
            break;
        }
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
            buf[o++] = (char)ch;
        else
            o += (size_t)snprintf(buf + o, 64 - o, "\\x%02x", ch);
    }
    if (o < 62) buf[o++] = '"';
    buf[DREC_MIN(o, 63)] = '\0';
    return buf;
}

/* ---- numbers and times -------------------------------------------------------- */

bool drec_parse_i64(const char *s, size_t len, int64_t *out) {
    size_t k = 0;
    bool neg = false;
    if (k < len && (s[k] == '-' || s[k] == '+')) neg = s[k++] == '-';
    if (k == len || len - k > 19) return false;
    uint64_t v = 0;
    for (; k < len; k++) {
        unsigned d = (unsigned)(s[k] - '0');
        if (d > 9) return false;
        v = v * 10 + d;
    }
    if (v > (uint64_t)INT64_MAX) return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

bool drec_parse_f64(const char *s, size_t len, double *out) {
    size_t k = 0;
    bool neg = false;
    if (k < len && (s[k] == '-' || s[k] == '+')) neg = s[k++] == '-';
    uint64_t m = 0;
    int digits = 0, sig = 0, frac = 0;
    for (; k < len && (unsigned)(s[k] - '0') <= 9; k++, digits++) {
        if (m || s[k] != '0') sig++;
        if (sig <= 19) m = m * 10 + (uint64_t)(s[k] - '0');
    }
    if (k < len && s[k] == '.') {
        for (k++; k < len && (unsigned)(s[k] - '0') <= 9; k++, digits++, frac++) {
            if (m || s[k] != '0') sig++;
            if (sig <= 19) m = m * 10 + (uint64_t)(s[k] - '0');
        }
    }
    if (!digits) return false;
    long ex = 0;
    if (k < len && (s[k] == 'e' || s[k] == 'E')) {
        k++;
        bool eneg = false;
        if (k < len && (s[k] == '-' || s[k] == '+')) eneg = s[k++] == '-';
        if (k == len) return false;
        for (; k < len && (unsigned)(s[k] - '0') <= 9; k++)
            if (ex < 100000) ex = ex * 10 + (s[k] - '0');
        if (eneg) ex = -ex;
    }
    if (k != len) return false;
    long e10 = ex - frac;
    /* Exact when the mantissa and the power of ten are exact doubles
     * (Clinger's fast path): one correctly rounded operation. */
    if (sig <= 15 && e10 >= -22 && e10 <= 22) {
        double v = (double)m;
        v = e10 < 0 ? v / pow10_tab[-e10] : v * pow10_tab[e10];
        *out = neg ? -v : v;
        return true;
    }
    char buf[128];
    if (len >= sizeof buf) return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    char *end;
    double v = strtod(buf, &end);
    if (end != buf + len) return false;
    *out = v;
    return true;
}

int64_t drec_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits_at(const char *s, size_t len, size_t at, int n, int *out) {
    if (at + (size_t)n > len) return false;
    int v = 0;
    for (int k = 0; k < n; k++) {
        unsigned d = (unsigned)(s[at + (size_t)k] - '0');
        if (d > 9) return false;
        v = v * 10 + (int)d;
    }
    *out = v;
    return true;
}

bool drec_parse_iso_ms(const char *s, size_t len, int64_t *ms) {
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (!digits_at(s, len, 0, 4, &y) || len < 10 || s[4] != '-' || !digits_at(s, len, 5, 2, &mo) || s[7] != '-' ||
        !digits_at(s, len, 8, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
    size_t k = 10;
    int64_t frac_ms = 0;
    if (k < len && (s[k] == 'T' || s[k] == ' ')) {
        if (!digits_at(s, len, k + 1, 2, &h) || k + 3 >= len || s[k + 3] != ':' || !digits_at(s, len, k + 4, 2, &mi))
            return false;
        k += 6;
        if (k < len && s[k] == ':') {
            if (!digits_at(s, len, k + 1, 2, &sec)) return false;
            k += 3;
            if (k < len && s[k] == '.') {
                int scale = 100;
                for (k++; k < len && (unsigned)(s[k] - '0') <= 9; k++) {
                    frac_ms += (s[k] - '0') * scale;
                    scale /= 10;
                }
            }
        }
        if (h > 23 || mi > 59 || sec > 60) return false;
    }
    int64_t off = 0;
    if (k < len && s[k] == 'Z') {
        k++;
    } else if (k < len && (s[k] == '+' || s[k] == '-')) {
        int oh, om = 0;
        bool neg = s[k] == '-';
        if (!digits_at(s, len, k + 1, 2, &oh)) return false;
        k += 3;
        if (k < len && s[k] == ':') k++;
        if (k < len) {
            if (!digits_at(s, len, k, 2, &om)) return false;
            k += 2;
        }
        off = (oh * 3600 + om * 60) * (neg ? -1 : 1);
    }
    if (k != len) return false;
    int64_t t = drec_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec - off;
    *ms = t * 1000 + frac_ms;
    return true;
}

/* ---- text encodings -------------------------------------------------------------- */

bool drec_utf8_valid(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s, *e = p + len;
    while (p < e) {
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        int n = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || c == 0xc0 || c == 0xc1 || c > 0xf4 || e - p <= n) return false;
        for (int k = 1; k <= n; k++)
            if ((p[k] & 0xc0) != 0x80) return false;
        p += n + 1;
    }
    return true;
}

char *drec_to_utf8(const char *s, size_t len) {
    if (drec_utf8_valid(s, len)) return drec_strndup(s, len);
    char *o = drec_malloc(2 * len + 1), *q = o;
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c < 0x80) {
            *q++ = (char)c;
        } else {
            *q++ = (char)(0xc0 | (c >> 6));
            *q++ = (char)(0x80 | (c & 0x3f));
        }
    }
    *q = '\0';
    return o;
}

/* ---- paths ----------------------------------------------------------------------- */

char *drec_path_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return drec_strdup(".");
    if (slash == path) return drec_strdup("/");
    return drec_strndup(path, (size_t)(slash - path));
}

char *drec_path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = drec_malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

bool drec_path_is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

bool drec_path_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ---- interaction tables --------------------------------------------------------------- */

/* Most files number their users and items: a direct table from the number
 * to the dense id skips hashing for those.  Only canonical numbers (no sign,
 * no leading zero) take this path, since "007" and "7" are different ids. */
#define ID_CACHE_MAX (1u << 22)

typedef struct id_cache {
    int32_t *ids; /* number -> dense id + 1, 0 = not seen */
    size_t cap;
} id_cache;

static inline int32_t cached_id(id_cache *c, drec_strmap *m, const char *s, size_t len) {
    if (len <= 7 && (s[0] != '0' || len == 1)) {
        uint32_t v = 0;
        size_t k = 0;
        for (; k < len; k++) {
            unsigned d = (unsigned)(s[k] - '0');
            if (d > 9) break;
            v = v * 10 + d;
        }
        if (k == len && v < ID_CACHE_MAX) {
            if (v >= c->cap) {
                size_t nc = c->cap ? c->cap : 1024;
                while (nc <= v) nc *= 2;
                c->ids = drec_realloc(c->ids, nc * sizeof *c->ids);
                memset(c->ids + c->cap, 0, (nc - c->cap) * sizeof *c->ids);
                c->cap = nc;
            }
            if (!c->ids[v]) c->ids[v] = drec_strmap_intern(m, s, len) + 1;
            return c->ids[v] - 1;
        }
    }
    return drec_strmap_intern(m, s, len);
}

drec_status drec_text_read_table(drec_text *t, const drec_table_spec *spec, drec_dataset *ds) {
    int need = DREC_MAX(DREC_MAX(spec->user_col, spec->item_col), DREC_MAX(spec->rating_col, spec->time_col)) + 1;
    const char *what = spec->what ? spec->what : "row";
    char b1[64];
    size_t blank = 0;
    bool first = true;
    id_cache uc = {0}, ic = {0};
    drec_status st = DREC_OK;
    while (!st && drec_text_next(t)) {
        if (drec_text_blank(t)) {
            blank++;
            continue;
        }
        if (first && spec->header) {
            first = false;
            drec_ds_skip(ds, "header", 1);
            continue;
        }
        first = false;
        size_t nf = drec_text_split(t, spec->sep, spec->quotes);
        if (spec->n_fields > 0 ? nf != (size_t)spec->n_fields : nf < (size_t)need) {
            st = drec_text_fail(t, "expected %s%d fields in a %s, found %zu", spec->n_fields > 0 ? "" : "at least ",
                                spec->n_fields > 0 ? spec->n_fields : need, what, nf);
            break;
        }
        const drec_field *f = t->f;
        const drec_field *fu = &f[spec->user_col], *fi = &f[spec->item_col];
        if (!fu->len || !fi->len) {
            st = drec_text_fail(t, "empty %s id (field %d)", fu->len ? "item" : "user",
                                (fu->len ? spec->item_col : spec->user_col) + 1);
            break;
        }
        double r = 1.0;
        if (spec->rating_col >= 0) {
            const drec_field *fr = &f[spec->rating_col];
            if (!drec_parse_f64(fr->s, fr->len, &r)) {
                st = drec_text_fail(t, "rating %s is not a number", drec_field_show(fr->s, fr->len, b1));
                break;
            }
        }
        int64_t ts = (int64_t)ds->n;
        if (spec->time_col >= 0) {
            const drec_field *ft = &f[spec->time_col];
            double tv;
            int64_t ms;
            if (drec_parse_i64(ft->s, ft->len, &ts)) {
            } else if (drec_parse_f64(ft->s, ft->len, &tv) && tv > -9e18 && tv < 9e18) {
                ts = (int64_t)tv;
            } else if (drec_parse_iso_ms(ft->s, ft->len, &ms)) {
                ts = ms / 1000;
            } else {
                st = drec_text_fail(t, "timestamp %s is not a number or an ISO date",
                                    drec_field_show(ft->s, ft->len, b1));
                break;
            }
        }
        int32_t u = cached_id(&uc, &ds->side->users, fu->s, fu->len);
        int32_t i = cached_id(&ic, &ds->side->items, fi->s, fi->len);
        drec_ds_push(ds, u, i, (float)r, ts);
    }
    free(uc.ids);
    free(ic.ids);
    drec_ds_skip(ds, "blank lines", blank);
    return st;
}
