/*
 * cli.c — option parsing, help, errors and exit codes for every verb.
 */
#include "cli.h"

#include "data/dataset.h"

#include <stdlib.h>

const cli_opt cli_hyper_opts[] = {
    {"epochs", 0, "N", "training epochs (or iterations)"},
    {"dim", 0, "D", "embedding / latent factor size"},
    {"layers", 0, "LIST", "hidden layer sizes, e.g. 64,32,16,8"},
    {"neg", 0, "N", "negatives sampled per positive"},
    {"batch", 0, "N", "mini-batch size"},
    {"lr", 0, "X", "learning rate"},
    {"reg", 0, "X", "L2 regularisation"},
    {"dropout", 0, "X", "dropout rate"},
    {"bn", 0, NULL, "batch norm before each hidden ReLU (deep models)"},
    {"optimizer", 0, "NAME", "sgd|adam|adamw|adagrad|rmsprop|ftrl"},
    {"maxlen", 0, "N", "sequence length (sequence models)"},
    {"blocks", 0, "N", "transformer blocks"},
    {"heads", 0, "N", "attention heads"},
    {"pretrain", 0, NULL, "pre-train parts first (neumf)"},
    {"patience", 0, "N", "early stopping on a validation part: N epochs without gain"},
    {"val", 0, "F", "validation share of the training rows for --patience (default 0.1)"},
    {"config", 0, "FILE", "JSON object of hyper-parameters"},
    {"set", 0, "KEY=VALUE", "any other model hyper-parameter (repeatable)"},
    {NULL, 0, NULL, NULL},
};

const cli_opt cli_csv_opts[] = {
    {"user-col", 0, "COL", "csv: user column (name or 1-based number)"},
    {"item-col", 0, "COL", "csv: item column"},
    {"rating-col", 0, "COL", "csv: rating column (none: implicit)"},
    {"time-col", 0, "COL", "csv: timestamp column (none: file order)"},
    {"sep", 0, "C", "csv: separator (default: detected)"},
    {NULL, 0, NULL, NULL},
};

static const cli_opt common_opts[] = {
    {"threads", 0, "N", "threads to use (default: all cores)"},
    {"seed", 0, "N", "random seed (default 1)"},
    {"quiet", 'q', NULL, "no notes or progress on stderr"},
    {"verbose", 'v', NULL, "more notes on stderr"},
    {"help", 'h', NULL, "show this help"},
    {NULL, 0, NULL, NULL},
};

static const cli_opt *find_opt(const cli_opt *tab, const char *name, char short_name) {
    for (; tab && tab->name; tab++)
        if ((name && strcmp(tab->name, name) == 0) || (short_name && tab->short_name == short_name)) return tab;
    return NULL;
}

static void print_opts(FILE *out, const cli_opt *tab) {
    for (; tab && tab->name; tab++) {
        char left[64];
        if (tab->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", tab->short_name, tab->name, tab->arg ? " " : "",
                     tab->arg ? tab->arg : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", tab->name, tab->arg ? " " : "", tab->arg ? tab->arg : "");
        fprintf(out, "  %-28s %s\n", left, tab->help);
    }
}

void cli_print_help(const cli_verb *v, FILE *out) {
    fprintf(out, "usage: drec %s\n\n%s\n", v->usage, v->summary);
    if (v->details) fprintf(out, "\n%s\n", v->details);
    if (v->opts && v->opts->name) {
        fprintf(out, "\noptions:\n");
        print_opts(out, v->opts);
    }
    if (v->csv) {
        fprintf(out, "\ncsv: data options:\n");
        print_opts(out, cli_csv_opts);
    }
    if (v->hyper) {
        fprintf(out, "\nhyper-parameters (a model ignores what it does not use, and says so):\n");
        print_opts(out, cli_hyper_opts);
    }
    fprintf(out, "\ncommon options:\n");
    print_opts(out, common_opts);
}

int cli_exit_code(drec_status st) {
    switch (st) {
    case DREC_OK: return 0;
    case DREC_ERR_NOMEM:
    case DREC_ERR_INTERNAL: return 2;
    default: return 1;
    }
}

int cli_fail(drec_status st) {
    const char *msg = drec_errmsg();
    fprintf(stderr, "drec: %s\n", *msg ? msg : drec_status_str(st));
    return cli_exit_code(st);
}

int cli_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "drec: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

drec_params *cli_parse(const cli_verb *v, int argc, char **argv, bool *help_shown) {
    *help_shown = false;
    drec_params *p = drec_params_new();
    for (int a = 0; a < argc; a++) {
        const char *s = argv[a];
        const cli_opt *o = NULL;
        const char *inline_val = NULL;
        char name[64];
        if (s[0] == '-' && s[1] == '-' && s[2]) {
            const char *eq = strchr(s + 2, '=');
            size_t len = eq ? (size_t)(eq - s - 2) : strlen(s + 2);
            snprintf(name, sizeof name, "%.*s", (int)len, s + 2);
            if (eq) inline_val = eq + 1;
            o = find_opt(v->opts, name, 0);
            if (!o) o = find_opt(common_opts, name, 0);
            if (!o && v->hyper) o = find_opt(cli_hyper_opts, name, 0);
            if (!o && v->csv) o = find_opt(cli_csv_opts, name, 0);
        } else if (s[0] == '-' && s[1] && !s[2]) {
            o = find_opt(v->opts, NULL, s[1]);
            if (!o) o = find_opt(common_opts, NULL, s[1]);
            snprintf(name, sizeof name, "%s", s);
        } else if (find_opt(v->opts, "file", 0) && !drec_params_get(p, "file")) {
            drec_params_set(p, "file", s); /* a verb's one positional argument */
            continue;
        } else {
            cli_usage("%s: unexpected argument \"%s\" (see drec %s --help)", v->name, s, v->name);
            drec_params_free(p);
            return NULL;
        }
        if (!o) {
            cli_usage("%s: unknown option \"%s\" (see drec %s --help)", v->name, s, v->name);
            drec_params_free(p);
            return NULL;
        }
        if (strcmp(o->name, "help") == 0) {
            cli_print_help(v, stdout);
            *help_shown = true;
            drec_params_free(p);
            return NULL;
        }
        const char *val = "1";
        if (o->arg) {
            if (inline_val)
                val = inline_val;
            else if (a + 1 < argc)
                val = argv[++a];
            else {
                cli_usage("%s: option --%s needs a value (%s)", v->name, o->name, o->arg);
                drec_params_free(p);
                return NULL;
            }
        }
        if (strcmp(o->name, "set") == 0) {
            const char *eq = strchr(val, '=');
            if (!eq || eq == val) {
                cli_usage("%s: --set expects KEY=VALUE, got \"%s\"", v->name, val);
                drec_params_free(p);
                return NULL;
            }
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)(eq - val), val);
            drec_params_set(p, key, eq + 1);
        } else
            drec_params_set(p, o->name, val);
    }
    return p;
}

int cli_apply_common(drec_params *args) {
    long threads, seed;
    drec_status st = drec_params_int(args, "threads", 0, &threads);
    if (!st) st = drec_params_int(args, "seed", 1, &seed);
    if (st) return cli_fail(st);
    if (threads < 0 || threads > 1024) return cli_usage("--threads: expected 1..1024, got %ld", threads);
    drec_set_threads((int)threads);
    if (drec_params_flag(args, "quiet")) drec_set_verbosity(0);
    if (drec_params_flag(args, "verbose")) drec_set_verbosity(2);
    return 0;
}

int cli_load_data(drec_params *args, const char *key, drec_dataset **out) {
    *out = NULL;
    const char *spec = drec_params_str(args, key, NULL);
    if (!spec) return cli_usage("--%s SPEC is required (e.g. movielens:PATH or synthetic)", key);
    double t0 = drec_now();
    drec_status st = drec_dataset_load_opts(spec, args, out);
    if (st) return cli_fail(st);
    drec_note("loaded %s: %s (%.2fs)", spec, drec_dataset_summary(*out), drec_now() - t0);
    return 0;
}

drec_params *cli_hyper_params(drec_params *args) {
    drec_params *hp = drec_params_new();
    const char *cfg = drec_params_str(args, "config", NULL);
    if (cfg) {
        drec_status st = drec_params_load_json(hp, cfg);
        if (st) {
            cli_fail(st);
            drec_params_free(hp);
            return NULL;
        }
    }
    /* Flags override the config file.  Everything but the verb's own
     * options travels to the model. */
    static const char *const not_hyper[] = {"data", "test", "out", "model", "models", "protocol", "metrics",
                                            "json", "report", "config", "quiet", "verbose", "split",
                                            "user-col", "item-col", "rating-col", "time-col", "sep", "k",
                                            "user", "item", "bootstrap", NULL};
    for (size_t i = 0; i < drec_params_count(args); i++) {
        const char *k, *v;
        drec_params_at(args, i, &k, &v);
        bool skip = false;
        for (int j = 0; not_hyper[j]; j++) skip |= strcmp(not_hyper[j], k) == 0;
        if (!skip) drec_params_set(hp, k, v);
    }
    return hp;
}
