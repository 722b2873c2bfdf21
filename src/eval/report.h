/*
 * report.h — the HTML report of a benchmark: one self-contained file
 * (inline CSS and SVG, no script, no external fonts or URLs) with the
 * leaderboard (best per metric marked, with significance), metric bars with
 * 95% bootstrap intervals, each model's training loss and validation curve
 * per epoch, and the popularity long tail of what each model recommends
 * against the catalogue.
 */
#ifndef DREC_REPORT_H
#define DREC_REPORT_H

#include "eval/protocol.h"

typedef struct drec_report_input {
    const drec_run *runs;
    int n_runs;
    const char *data, *protocol;
    const drec_dataset *train; /* the data: catalogue popularity of each item */
    uint64_t seed;
} drec_report_input;

/* Writes DIR/index.html (creating DIR when missing), atomically. */
drec_status drec_report_write(const char *dir, const drec_report_input *in);

/* The same page as a string (caller frees). */
char *drec_report_html(const drec_report_input *in);

#endif
