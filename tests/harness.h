/*
 * harness.h — the tiny test harness every tests/test_*.c uses.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_NEAR(a, b, 1e-6); }
 *   int main(void) { RUN(name); return harness_summary(); }
 *
 * Each failing check prints file:line and the values; the summary line is
 * "N passed, N failed".  Data folders come from the environment that ctest
 * sets: DREC_DATA (../shared/data), DREC_TESTDATA (tests/data), DREC_BIN.
 */
#ifndef DREC_HARNESS_H
#define DREC_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int harness_failed_checks;
int harness_summary(void);
void harness_run(const char *name, void (*fn)(void));
/* Path under $DREC_DATA (the shared datasets); static buffer per call site
 * is not needed: returns a malloc'd string the test may leak. */
char *data_path(const char *rel);
char *testdata_path(const char *rel);
/* Runs a shell command, captures stdout+stderr into *out (malloc'd), and
 * returns the exit code. */
int run_cmd(const char *cmd, char **out);
/* Writes text to a fresh temp file and returns its path (malloc'd). */
char *write_temp(const char *name, const char *text, size_t len);
/* Removes the temp folder that holds path (made by write_temp) and every
 * file in it; anything outside /tmp/drec-test-* is left alone. */
void remove_temp(const char *path);

#define TEST(name) static void name(void)
#define RUN(name) harness_run(#name, name)

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);   \
            harness_failed_checks++;                                                     \
        }                                                                                \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                            \
    do {                                                                                 \
        double a_ = (double)(a), b_ = (double)(b);                                       \
        if (!(fabs(a_ - b_) <= (tol))) {                                                 \
            fprintf(stderr, "  %s:%d: %s = %.9g, expected %s = %.9g (tol %g)\n", __FILE__, \
                    __LINE__, #a, a_, #b, b_, (double)(tol));                            \
            harness_failed_checks++;                                                     \
        }                                                                                \
    } while (0)

#define CHECK_STR(a, b)                                                                  \
    do {                                                                                 \
        const char *a_ = (a), *b_ = (b);                                                 \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                         \
            fprintf(stderr, "  %s:%d: %s = \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
                    #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                         \
            harness_failed_checks++;                                                     \
        }                                                                                \
    } while (0)

#define CHECK_OK(st)                                                                     \
    do {                                                                                 \
        drec_status s_ = (st);                                                           \
        if (s_ != DREC_OK) {                                                             \
            fprintf(stderr, "  %s:%d: %s failed: %s\n", __FILE__, __LINE__, #st,         \
                    drec_errmsg());                                                      \
            harness_failed_checks++;                                                     \
        }                                                                                \
    } while (0)

#endif
