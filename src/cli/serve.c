/*
 * serve.c — `drec serve` (not yet available in this version).
 */
#include "cli.h"

static const cli_opt opts[] = {{NULL, 0, NULL, NULL}};

static int run(drec_params *args) {
    (void)args;
    return cli_usage("serve: not available in this version of drec yet");
}

const cli_verb cli_serve = {
    .name = "serve",
    .usage = "serve [options]",
    .summary = "(not available yet)",
    .opts = opts,
    .run = run,
};
