/*
 * textio.h — what the text readers (src/data/read_*.c) share: a line cursor
 * over a mapped file that counts lines and strips CR, field splitting with
 * a separator (single byte, "::" or runs of blanks) and optional CSV
 * quoting, strict number and time parsing, Latin-1 to UTF-8 conversion and
 * error messages of the form "PATH:LINE: reason".
 *
 * Nothing here allocates per line: the field array and the unquoting
 * scratch buffer belong to the cursor and grow only when a longer line
 * comes by.  Field pointers stay valid until the next drec_text_next().
 */
#ifndef DREC_TEXTIO_H
#define DREC_TEXTIO_H

#include "dataset.h"

/* One field of the current line: s[0..len), not NUL-terminated. */
typedef struct drec_field {
    const char *s;
    size_t len;
} drec_field;

/* Separators: a byte such as '\t' or ',', or one of these. */
enum {
    DREC_SEP_BLANKS = 256, /* runs of spaces and tabs; leading/trailing ignored */
    DREC_SEP_COLONS = 257  /* "::" (MovieLens 1M) */
};

typedef struct drec_text {
    const char *path;     /* as given, for messages */
    drec_mapped map;
    const char *p, *end;  /* unread part of the file */
    size_t line_no;       /* 1-based number of the current line */
    const char *line;     /* current line, without "\n" / "\r\n" */
    size_t len;
    bool last_unterminated; /* the current line ends the file without '\n' */
    drec_field *f;        /* fields of the current line after a split */
    size_t nf, f_cap;
    char *scratch;        /* unquoted field text */
    size_t scratch_cap;
} drec_text;

/* Maps path and checks it: a missing file, an empty file (no byte but
 * blanks) and a file holding a NUL byte ("binary data") are errors
 * naming the path (and the line of the NUL).  On failure nothing is held. */
drec_status drec_text_open(drec_text *t, const char *path);
void drec_text_close(drec_text *t);
/* Moves to the next line; false at the end of the file.  CRLF and a final
 * line without '\n' are accepted. */
bool drec_text_next(drec_text *t);
/* True when the current line holds only blanks. */
bool drec_text_blank(const drec_text *t);
/* Splits the current line; sep is a byte or DREC_SEP_*.  With quotes,
 * a field that starts with '"' runs to the matching quote, may hold the
 * separator, and "" inside it reads as one quote (no line breaks inside
 * quotes).  Returns the field count (also in t->nf).  Fields are trimmed of
 * surrounding blanks unless sep itself is a blank. */
size_t drec_text_split(drec_text *t, int sep, bool quotes);

/* Sets "PATH:LINE: reason" as the error message and returns DREC_ERR_INPUT.
 * When the current line is an unterminated last line, adds that the file
 * may be truncated. */
drec_status drec_text_fail(const drec_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A field for messages: quoted text, non-printable bytes escaped, cut to
 * about 30 bytes.  Returns buf (64 bytes). */
const char *drec_field_show(const char *s, size_t len, char buf[64]);

/* Strict parsers: the whole of s[0..len) must be the number (no blanks, no
 * trailing text); false otherwise.  f64 accepts decimals and exponents,
 * not nan/inf. */
bool drec_parse_i64(const char *s, size_t len, int64_t *out);
bool drec_parse_f64(const char *s, size_t len, double *out);
/* "YYYY-MM-DD", optionally followed by [T ]HH:MM[:SS[.frac]] and "Z" or
 * "+HH:MM"/"-HH:MM": Unix milliseconds (UTC).  false when malformed. */
bool drec_parse_iso_ms(const char *s, size_t len, int64_t *ms);
/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int64_t drec_days_from_civil(int64_t y, unsigned m, unsigned d);

/* A malloc'd NUL-terminated copy: kept as is when valid UTF-8, otherwise
 * read as Latin-1 (ISO-8859-1) and converted. */
char *drec_to_utf8(const char *s, size_t len);
bool drec_utf8_valid(const char *s, size_t len);

/* The folder part of a path ("." when none), malloc'd; and path joining. */
char *drec_path_dir(const char *path);
char *drec_path_join(const char *dir, const char *name);
bool drec_path_is_dir(const char *path);
bool drec_path_exists(const char *path);

/* ---- interaction tables ----------------------------------------------------
 * The loop shared by movielens:, ncf:, csv: and seq:: every line of a
 * delimited file becomes one row (user, item, rating, ts).  Column numbers
 * are 0-based; rating_col / time_col may be -1 (rating 1; ts = the row's
 * index in the file).  header: the first line is skipped (and counted as
 * such).  Times may be integers, decimals (seconds) or ISO dates
 * (stored in seconds). */
typedef struct drec_table_spec {
    int sep;
    bool quotes;
    bool header;
    int user_col, item_col, rating_col, time_col;
    int n_fields;       /* > 0: rows must have exactly this many fields;
                           0: at least (highest column used + 1) */
    const char *what;   /* row kind for messages, e.g. "rating" */
} drec_table_spec;
drec_status drec_text_read_table(drec_text *t, const drec_table_spec *spec, drec_dataset *ds);

#endif
