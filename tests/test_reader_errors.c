/*
 * test_reader_errors.c — bad input gets a clear "PATH:LINE: reason" error,
 * never a crash: missing and empty files, wrong field counts, numbers that
 * are not numbers, truncated last lines, CRLF, Latin-1 bytes, a 10 MB line,
 * NUL bytes, and the files in tests/data/.  The CLI turns each into
 * "drec: ..." on stderr and exit code 1.
 */
#include "harness.h"

#include "data/dataset.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

/* Loads spec; returns the status and keeps the message in msg. */
static drec_status try_load(const char *spec, drec_params *opts, char *msg, size_t cap) {
    drec_dataset *ds = NULL;
    drec_status st = drec_dataset_load_opts(spec, opts, &ds);
    snprintf(msg, cap, "%s", st ? drec_errmsg() : "");
    drec_dataset_free(ds);
    return st;
}

/* Writes text to a temp file and expects loading "kind:path" to fail with
 * "path" + expected_tail. */
static void expect_error(const char *kind, const char *name, const char *text, size_t len, const char *tail) {
    char *p = write_temp(name, text, len);
    char spec[512], want[1024], msg[1024];
    snprintf(spec, sizeof spec, "%s:%s", kind, p);
    snprintf(want, sizeof want, "%s%s", p, tail);
    drec_status st = try_load(spec, NULL, msg, sizeof msg);
    CHECK(st == DREC_ERR_INPUT);
    CHECK_STR(msg, want);
    remove_temp(p);
    free(p);
}

/* For texts without NUL bytes. */
#define EXPECT_ERROR(kind, name, text, tail) expect_error(kind, name, text, sizeof(text) - 1, tail)

static drec_dataset *expect_ok(const char *kind, const char *name, const char *text, size_t len) {
    char *p = write_temp(name, text, len);
    char spec[512];
    snprintf(spec, sizeof spec, "%s:%s", kind, p);
    drec_dataset *ds = NULL;
    CHECK_OK(drec_dataset_load_opts(spec, NULL, &ds));
    remove_temp(p);
    free(p);
    return ds;
}

TEST(missing_and_empty) {
    char msg[1024];
    CHECK(try_load("movielens:/nonexistent/drec/u.data", NULL, msg, sizeof msg) == DREC_ERR_IO);
    CHECK_STR(msg, "/nonexistent/drec/u.data: cannot open: No such file or directory");
    CHECK(try_load("ncf:/nonexistent/drec/x", NULL, msg, sizeof msg) == DREC_ERR_IO);
    CHECK_STR(msg, "/nonexistent/drec/x.train.rating: cannot open: No such file or directory");
    EXPECT_ERROR("movielens", "u.data", "", ": empty file");
    EXPECT_ERROR("csv", "e.csv", "\n \r\n", ": empty file");
    EXPECT_ERROR("ctr", "e.libfm", "", ": empty file");
    /* A folder without ratings. */
    char *p = write_temp("README", "x", 1);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    char spec[512];
    snprintf(spec, sizeof spec, "movielens:%s", p);
    CHECK(try_load(spec, NULL, msg, sizeof msg) == DREC_ERR_INPUT);
    char want[600];
    snprintf(want, sizeof want, "%s: no u.data, ratings.dat or ratings.csv in this folder", p);
    CHECK_STR(msg, want);
    *slash = '/';
    remove_temp(p);
    free(p);
}

TEST(field_counts_and_numbers) {
    EXPECT_ERROR("movielens", "u.data", "1\t2\t3\t4\n1\t2\t3\n", ":2: expected 4 fields in a rating line, found 3");
    /* Line 17 holds a rating "x". */
    char text[2048] = "";
    for (int k = 1; k <= 16; k++) snprintf(text + strlen(text), sizeof text - strlen(text), "%d\t%d\t4\t100\n", k, k);
    strcat(text, "17\t3\tx\t100\n18\t1\t2\t100\n");
    expect_error("movielens", "u.data", text, strlen(text), ":17: rating \"x\" is not a number");
    EXPECT_ERROR("movielens", "u.data", "1\t2\t3\tlater\n", ":1: timestamp \"later\" is not a number or an ISO date");
    EXPECT_ERROR("movielens", "u.data", "1\t\t3\t4\n", ":1: empty item id (field 2)");
    EXPECT_ERROR("seq", "s.txt", "1 2\n3\n", ":2: expected at least 2 fields in a \"user item\" line, found 1");
    EXPECT_ERROR("ctr", "x.libfm", "1 3:1\nyes 4:1\n", ":2: label \"yes\" is not a number");
    EXPECT_ERROR("ctr", "x.libfm", "1 3:1 4-1\n", ":1: feature \"4-1\": expected index:value");
    EXPECT_ERROR("ctr", "x.libfm", "1 3:1 -4:1\n", ":1: feature index \"-4\" is not an index >= 0");
    EXPECT_ERROR("session", "s.csv", "session_id;user_id;item_id;timeframe;eventdate\n1;NA;5;10;2016-13-01\n",
                 ":2: event date \"2016-13-01\" is not a date (YYYY-MM-DD)");
    EXPECT_ERROR("bandit", "b.csv", ",timestamp,item_id,position,click,propensity_score\n0,2019-11-24 00:00:00+00:00,3,1,0,0\n",
                 ":2: propensity \"0\" is not a probability in (0, 1]");
}

TEST(truncated_crlf_latin1) {
    /* A last line without newline is fine when complete... */
    drec_dataset *ds = expect_ok("movielens", "u.data", "1\t2\t3\t4\r\n5\t6\t2\t8", 16);
    if (ds) {
        CHECK(ds->n == 2 && ds->rating[0] == 3.0f && ds->ts[0] == 4 && ds->ts[1] == 8);
        drec_dataset_free(ds);
    }
    /* ...and an error when cut inside a row. */
    EXPECT_ERROR("movielens", "u.data", "1\t2\t3\t4\n5\t6",
                 ":2: expected 4 fields in a rating line, found 2 (the file ends inside this line without a "
                 "newline: truncated?)");
    /* Latin-1 ids are kept as bytes; Latin-1 titles become UTF-8. */
    char *p = write_temp("u.data", "7\t1\t5\t9\n\xe9t\xe9\t2\t4\t9\n", 18);
    char *dir = strdup(p);
    *strrchr(dir, '/') = '\0';
    char ip[600];
    snprintf(ip, sizeof ip, "%s/u.item", dir);
    FILE *f = fopen(ip, "wb");
    fputs("1|Cr\xe8me (1999)|01-Jan-1999||x|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0\n", f);
    fclose(f);
    char spec[600];
    snprintf(spec, sizeof spec, "movielens:%s", dir);
    ds = NULL;
    CHECK_OK(drec_dataset_load(spec, &ds));
    if (ds) {
        CHECK(drec_dataset_user_id(ds, "\xe9t\xe9") == 1);
        CHECK_STR(ds->side->item_title[drec_dataset_item_id(ds, "1")], "Cr\xc3\xa8me (1999)");
        CHECK(ds->side->item_title[drec_dataset_item_id(ds, "2")] == NULL);
        drec_dataset_free(ds);
    }
    free(dir);
    remove_temp(p);
    free(p);
}

TEST(long_line_and_binary) {
    /* A 10 MB rating field. */
    size_t n = 10u << 20;
    char *big = malloc(n + 32);
    /* After a good first line, so that the field is not taken for a header. */
    memcpy(big, "1,1,1\n1,2,", 10);
    memset(big + 10, 'x', n);
    memcpy(big + 10 + n, "\n", 2);
    /* The shown prefix is whatever fits; compare the stable parts. */
    char *p = write_temp("big.csv", big, n + 11);
    char spec[512], msg[1024];
    snprintf(spec, sizeof spec, "csv:%s", p);
    drec_params *o = drec_params_new();
    drec_params_set(o, "sep", ",");
    CHECK(try_load(spec, o, msg, sizeof msg) == DREC_ERR_INPUT);
    CHECK(strstr(msg, ":2: rating \"xxxxxxxxxx") != NULL);
    CHECK(strstr(msg, "...(10485760 bytes)\" is not a number") != NULL);
    CHECK(strlen(msg) < 300);
    drec_params_free(o);
    remove_temp(p);
    free(p);
    free(big);
    /* NUL bytes. */
    expect_error("movielens", "u.data", "1\t2\t3\t4\n\x7f" "ELF\0\0\x01\x02", 16,
                 ":2: binary data (NUL byte at offset 12), not a text file");
    expect_error("ctr", "x.libfm", "\0\0\0\0", 4, ":1: binary data (NUL byte at offset 0), not a text file");
}

TEST(ncf_negatives_must_match) {
    char *p = write_temp("t.train.rating", "0\t1\t5\t10\n1\t2\t4\t11\n", 18);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%.*s", (int)(strlen(p) - strlen(".train.rating")), p);
    char path[600];
    snprintf(path, sizeof path, "%s.test.rating", prefix);
    FILE *f = fopen(path, "wb");
    fputs("0\t3\t5\t20\n1\t3\t4\t21\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s.test.negative", prefix);
    f = fopen(path, "wb");
    fputs("(0,3)\t2\t4\n(1,4)\t1\t5\n", f);
    fclose(f);
    char spec[600], msg[1024], want[1200];
    snprintf(spec, sizeof spec, "ncf:%s", prefix);
    CHECK(try_load(spec, NULL, msg, sizeof msg) == DREC_ERR_INPUT);
    snprintf(want, sizeof want, "%s:2: negatives for (\"1\",\"4\") but test row 2 is (1,3)", path);
    CHECK_STR(msg, want);
    f = fopen(path, "wb");
    fputs("(0,3)\t2\t4\n", f);
    fclose(f);
    CHECK(try_load(spec, NULL, msg, sizeof msg) == DREC_ERR_INPUT);
    snprintf(want, sizeof want, "%s: 1 negative lines for 2 test rows", path);
    CHECK_STR(msg, want);
    f = fopen(path, "wb");
    fputs("(0,3)\t2\t4\n(1,3)\t0\t9\n", f);
    fclose(f);
    drec_dataset *ds = NULL;
    CHECK_OK(drec_dataset_load(spec, &ds));
    if (ds) {
        /* Items: 1, 2 (train), 3 (test), then negatives 4, 0, 9. */
        CHECK(ds->n == 2 && ds->test->n == 2 && ds->n_items == 6 && ds->test->n_items == 6);
        CHECK(ds->neg_ptr[2] == 4 && ds->neg_idx[3] == drec_dataset_item_id(ds, "9"));
        drec_dataset_free(ds);
    }
    remove_temp(p);
    free(p);
}

TEST(csv_options) {
    char msg[1024];
    char *p = write_temp("h.csv", "user,item,score\na,b,1\n", 22);
    char spec[512], want[700];
    snprintf(spec, sizeof spec, "csv:%s", p);
    drec_params *o = drec_params_new();
    drec_params_set(o, "rating-col", "stars");
    CHECK(try_load(spec, o, msg, sizeof msg) == DREC_ERR_INPUT);
    snprintf(want, sizeof want, "%s:1: --rating-col: no column named \"stars\" in the header", p);
    CHECK_STR(msg, want);
    drec_params_free(o);
    o = drec_params_new();
    drec_params_set(o, "sep", "ab");
    CHECK(try_load(spec, o, msg, sizeof msg) == DREC_ERR_USAGE);
    CHECK_STR(msg, "--sep \"ab\": expected one character, \"::\", \"tab\" or \"space\"");
    drec_params_free(o);
    remove_temp(p);
    free(p);
}

/* The hand-made files in tests/data/. */
TEST(testdata_files) {
    static const struct {
        const char *spec, *tail;
    } cases[] = {
        {"movielens:bad-rating/u.data", ":3: rating \"four\" is not a number"},
        {"movielens:truncated/u.data", ":3: expected 4 fields in a rating line, found 2 (the file ends inside this "
                                       "line without a newline: truncated?)"},
        {"ctr:criteo-bad.csv", ":3: expected 41 fields, found 40"},
        {"ctr:criteo-bad-label.csv", ":2: label \"2\" is not 0 or 1"},
        {"bandit:bandit-bad.csv", ":3: item_id \"-1\" is not an action number"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *colon = strchr(cases[k].spec, ':');
        char *p = testdata_path(colon + 1);
        char spec[1024], msg[1024], want[1200];
        snprintf(spec, sizeof spec, "%.*s:%s", (int)(colon - cases[k].spec), cases[k].spec, p);
        snprintf(want, sizeof want, "%s%s", p, cases[k].tail);
        CHECK(try_load(spec, NULL, msg, sizeof msg) == DREC_ERR_INPUT);
        CHECK_STR(msg, want);
        free(p);
    }
}

/* The CLI: "drec: <message>" on stderr and exit code 1. */
TEST(cli_exit_codes) {
    const char *bin = getenv("DREC_BIN");
    if (!bin) return;
    char *p = testdata_path("bad-rating/u.data");
    char cmd[2048], want[1200];
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s info movielens:%s", bin, p);
    CHECK(run_cmd(cmd, &out) == 1);
    snprintf(want, sizeof want, "drec: %s:3: rating \"four\" is not a number", p);
    CHECK(out && strstr(out, want) != NULL);
    free(out);
    snprintf(cmd, sizeof cmd, "%s train --model pop --data csv:%s --out /tmp/drec-reader-errors.model", bin, p);
    CHECK(run_cmd(cmd, &out) == 1);
    CHECK(out && strstr(out, want) != NULL);
    free(out);
    snprintf(cmd, sizeof cmd, "%s info ctr:/nonexistent/drec.csv", bin);
    CHECK(run_cmd(cmd, &out) == 1);
    CHECK(out && strstr(out, "drec: /nonexistent/drec.csv: cannot open: No such file or directory") != NULL);
    free(out);
    free(p);
}

int main(void) {
    RUN(missing_and_empty);
    RUN(field_counts_and_numbers);
    RUN(truncated_crlf_latin1);
    RUN(long_line_and_binary);
    RUN(ncf_negatives_must_match);
    RUN(csv_options);
    RUN(testdata_files);
    RUN(cli_exit_codes);
    return harness_summary();
}
