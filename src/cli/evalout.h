/*
 * evalout.h — what `drec eval`, `drec bench` and `drec train --split`
 * share: choosing protocol and metrics from the options, loading --test,
 * the aligned table, the JSON objects and the significance comparison.
 */
#ifndef DREC_CLI_EVALOUT_H
#define DREC_CLI_EVALOUT_H

#include "cli.h"

#include "eval/protocol.h"

#include <jansson.h>

/* Loads --data and, when given, --test (attached as the data's own test
 * part).  Returns 0 or an exit code. */
int cli_load_eval_data(drec_params *args, drec_dataset **out);

/* --protocol (or the data's default) and --metrics (or the protocol's
 * defaults).  Returns 0 or an exit code. */
int cli_eval_setup(drec_params *args, const drec_dataset *ds, drec_protocol *p, drec_metric *metrics, int *n);

/* Prints the aligned table of runs (marks the best per metric when n > 1). */
void cli_print_table(FILE *f, const drec_run *runs, int n, const char *data, const char *protocol);

/* One run as a JSON object in the contract's shape. */
json_t *cli_run_json(const drec_run *r, const char *data, const char *protocol, uint64_t seed);
/* {"metric": {"model": .., "runner_up": .., "p_value": .., "significant": ..}} */
json_t *cli_best_json(const drec_run *runs, int n, uint64_t seed);

/* Formats a metric value for tables (4 decimals, "-" for NaN). */
const char *cli_fmt(double v, char *buf, size_t n);

#endif
