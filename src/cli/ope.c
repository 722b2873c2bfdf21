/*
 * ope.c — `drec ope` (not yet available in this version).
 */
#include "cli.h"

static const cli_opt opts[] = {{NULL, 0, NULL, NULL}};

static int run(drec_params *args) {
    (void)args;
    return cli_usage("ope: not available in this version of drec yet");
}

const cli_verb cli_ope = {
    .name = "ope",
    .usage = "ope [options]",
    .summary = "(not available yet)",
    .opts = opts,
    .run = run,
};
