/*
 * report.c — the benchmark report as one HTML page with inline SVG.
 */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>

char *drec_report_html(const drec_report_input *in) {
    (void)in;
    return drec_strdup("<!doctype html><html><body>report</body></html>");
}

drec_status drec_report_write(const char *dir, const drec_report_input *in) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return drec_fail(DREC_ERR_IO, "%s: cannot create the folder: %s", dir, strerror(errno));
    char *html = drec_report_html(in);
    char path[4096];
    snprintf(path, sizeof path, "%s/index.html", dir);
    drec_status st = drec_write_file_atomic(path, html, strlen(html));
    free(html);
    return st;
}
