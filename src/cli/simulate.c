/*
 * simulate.c — `drec simulate` (not yet available in this version).
 */
#include "cli.h"

static const cli_opt opts[] = {{NULL, 0, NULL, NULL}};

static int run(drec_params *args) {
    (void)args;
    return cli_usage("simulate: not available in this version of drec yet");
}

const cli_verb cli_simulate = {
    .name = "simulate",
    .usage = "simulate [options]",
    .summary = "(not available yet)",
    .opts = opts,
    .run = run,
};
