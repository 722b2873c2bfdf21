/*
 * cli.h — what the verbs of the `drec` command share: option parsing into a
 * drec_params set, the hyper-parameter flags, and errors/exit codes.
 *
 * Exit codes: 0 ok, 1 bad input or usage, 2 internal failure.
 */
#ifndef DREC_CLI_H
#define DREC_CLI_H

#include "core/common.h"
#include "core/params.h"

#include <stdio.h>

/* One option of a verb.  arg: the value's name ("FILE", "N"), or NULL for a
 * flag.  Options are stored in the params set under their long name. */
typedef struct cli_opt {
    const char *name;  /* long name without "--"                    */
    char short_name;   /* e.g. 'k' for -k, or 0                      */
    const char *arg;
    const char *help;
} cli_opt;

typedef struct cli_verb {
    const char *name;
    const char *usage;    /* one line after "drec " */
    const char *summary;  /* one line for `drec --help` */
    const char *details;  /* paragraphs for `drec VERB --help` (may be NULL) */
    const cli_opt *opts;  /* NULL-terminated by a {NULL} entry */
    bool hyper;           /* accepts the shared hyper-parameter flags */
    bool csv;             /* reads data specs: accepts the csv column options */
    int (*run)(drec_params *args);
} cli_verb;

extern const cli_opt cli_hyper_opts[];
extern const cli_opt cli_csv_opts[];

/* Parses argv (after the verb) into a fresh params set.  --help prints the
 * verb's help and sets *help_shown.  Returns NULL after printing an error. */
drec_params *cli_parse(const cli_verb *v, int argc, char **argv, bool *help_shown);
void cli_print_help(const cli_verb *v, FILE *out);

/* Prints "drec: <msg>" (the last library error, with an optional prefix)
 * and returns the exit code for st. */
int cli_fail(drec_status st);
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_exit_code(drec_status st);

/* Applies --threads, --seed, --quiet/--verbose; returns 0 or an exit code. */
int cli_apply_common(drec_params *args);

/* Loads --data (and --test when given) with the csv column options. */
int cli_load_data(drec_params *args, const char *key, struct drec_dataset **out);

/* The hyper-parameters of a training run: the shared flags and --config. */
drec_params *cli_hyper_params(drec_params *args);

/* Verbs (one file each). */
extern const cli_verb cli_demo, cli_train, cli_eval, cli_bench, cli_recommend, cli_similar, cli_serve,
    cli_simulate, cli_ope, cli_info;

#endif
