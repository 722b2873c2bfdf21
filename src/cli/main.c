/*
 * main.c — the `drec` command: dispatch to one verb per file.
 */
#include "cli.h"

#include <stdlib.h>

static const cli_verb *const verbs[] = {
    &cli_demo, &cli_train, &cli_eval, &cli_bench, &cli_recommend, &cli_similar,
    &cli_serve, &cli_simulate, &cli_ope, &cli_info, NULL,
};

static void usage(FILE *out) {
    fprintf(out,
            "drec %s — a recommender-system engine\n\n"
            "usage: drec VERB [options]     (drec VERB --help for each)\n\nverbs:\n",
            DREC_VERSION);
    for (int k = 0; verbs[k]; k++) fprintf(out, "  %-10s %s\n", verbs[k]->name, verbs[k]->summary);
    fprintf(out,
            "\ndata specs (--data SPEC):\n"
            "  movielens:PATH   MovieLens 100K / 1M / latest folder or ratings file\n"
            "  ncf:PREFIX       NCF leave-one-out files PREFIX.{train.rating,test.rating,test.negative}\n"
            "  csv:FILE         any delimited file (--user-col --item-col --rating-col --time-col --sep)\n"
            "  seq:FILE         one 'user item' pair per line, in time order\n"
            "  session:FILE     session clicks (session id, item id, time)\n"
            "  ctr:FILE         Criteo CSV/TSV or libsvm/libffm rows\n"
            "  bandit:FILE      logged bandit feedback (Open Bandit Dataset CSV)\n"
            "  lists:FILE       one line per user: user id, then items\n"
            "  synthetic[:k=v]  the built-in world (users=, items=, seed=, ...)\n"
            "\nmodels:");
    const char *const *names = drec_model_names();
    for (int k = 0; names[k]; k++) fprintf(out, " %s", names[k]);
    fprintf(out, "\n\nExit codes: 0 ok, 1 bad input or usage, 2 internal failure.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    const char *verb = argv[1];
    if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(verb, "--version")) {
        printf("drec %s\n", DREC_VERSION);
        return 0;
    }
    for (int k = 0; verbs[k]; k++) {
        if (strcmp(verbs[k]->name, verb) != 0) continue;
        bool help;
        drec_params *args = cli_parse(verbs[k], argc - 2, argv + 2, &help);
        if (!args) return help ? 0 : 1;
        int rc = cli_apply_common(args);
        if (rc == 0) rc = verbs[k]->run(args);
        drec_params_free(args);
        return rc;
    }
    fprintf(stderr, "drec: unknown verb \"%s\" (see drec --help)\n", verb);
    return 1;
}
