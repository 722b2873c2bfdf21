/*
 * bench.c — `drec bench`: train several models on the same training part,
 * evaluate them on the same test part, and say which is best per metric and
 * whether its lead is significant (paired t-test over the per-user values).
 */
#include "evalout.h"

#include "eval/report.h"

#include <stdlib.h>

static const cli_opt opts[] = {
    {"models", 'm', "LIST", "models to compare, comma-separated (e.g. pop,bpr,als)"},
    {"data", 'd', "SPEC", "the data (split by the protocol)"},
    {"test", 0, "SPEC", "a separate test set: train on --data, test on this"},
    {"protocol", 'p', "P", "loo-sampled:N, loo-full, holdout:F, kfold:K, temporal:F, session-last[:F], ctr:F"},
    {"metrics", 0, "LIST", "metrics, e.g. hr@10,ndcg@10,rmse (default: by protocol)"},
    {"report", 0, "DIR", "write a self-contained HTML report (DIR/index.html)"},
    {"bootstrap", 0, "N", "bootstrap resamples for the 95% intervals (default 1000; 0 = none)"},
    {"json", 0, NULL, "print {\"results\": [...]} on stdout"},
    {NULL, 0, NULL, NULL},
};

static int run(drec_params *args) {
    const char *list = drec_params_str(args, "models", NULL);
    if (!list || !*list) return cli_usage("bench: --models M1,M2,... is required");
    char *names[64];
    int n_models = 0;
    char *copy = drec_strdup(list);
    for (char *tok = strtok(copy, ","); tok && n_models < 64; tok = strtok(NULL, ","))
        if (*tok) names[n_models++] = tok;
    for (int j = 0; j < n_models; j++)
        if (!drec_model_find(names[j])) {
            drec_model *dummy;
            int rc = cli_fail(drec_model_train(names[j], NULL, NULL, &dummy));
            free(copy);
            return rc;
        }
    long seed, boot;
    drec_status st = drec_params_int(args, "seed", 1, &seed);
    if (!st) st = drec_params_int(args, "bootstrap", 1000, &boot);
    if (st) {
        free(copy);
        return cli_fail(st);
    }
    if (boot < 0 || boot > 100000) {
        free(copy);
        return cli_usage("bench: --bootstrap must be 0..100000");
    }
    drec_dataset *ds;
    int rc = cli_load_eval_data(args, &ds);
    if (rc) {
        free(copy);
        return rc;
    }
    drec_protocol p;
    drec_metric metrics[DREC_MAX_METRICS];
    int n_metrics;
    rc = cli_eval_setup(args, ds, &p, metrics, &n_metrics);
    drec_params *hp = rc ? NULL : cli_hyper_params(args);
    if (rc || !hp) {
        drec_dataset_free(ds);
        free(copy);
        return rc ? rc : 1;
    }
    const char *data = drec_params_str(args, "data", "");
    const char *report = drec_params_str(args, "report", NULL);
    drec_eval_opts o = {.metrics = metrics, .n_metrics = n_metrics, .seed = (uint64_t)seed,
                        .bootstrap = (int)boot, .keep_lists = report != NULL};
    drec_run *runs = drec_calloc((size_t)n_models, sizeof *runs);
    int done = 0, failed = 0;
    for (int j = 0; j < n_models; j++) {
        drec_note("bench: %s on %s (%s)", names[j], data, p.name);
        st = drec_protocol_run(names[j], hp, ds, &p, &o, 0, false, &runs[done]);
        if (st) {
            /* One model that cannot run here does not void the others. */
            rc = cli_fail(st);
            failed++;
            continue;
        }
        done++;
    }
    if (done > 0) {
        if (drec_params_flag(args, "json")) {
            json_t *root = json_object(), *arr = json_array();
            for (int j = 0; j < done; j++) json_array_append_new(arr, cli_run_json(&runs[j], data, p.name, (uint64_t)seed));
            json_object_set_new(root, "results", arr);
            json_object_set_new(root, "best", cli_best_json(runs, done, (uint64_t)seed));
            char *s = json_dumps(root, JSON_PRESERVE_ORDER);
            printf("%s\n", s);
            free(s);
            json_decref(root);
        } else
            cli_print_table(stdout, runs, done, data, p.name);
        if (report) {
            drec_report_input in = {.runs = runs, .n_runs = done, .data = data, .protocol = p.name,
                                    .train = ds, .seed = (uint64_t)seed};
            st = drec_report_write(report, &in);
            if (st)
                rc = cli_fail(st);
            else
                drec_note("report written to %s/index.html", report);
        }
        if (failed) drec_warn("bench: %d of %d models failed (see above)", failed, n_models);
    }
    for (int j = 0; j < n_models; j++) drec_run_free(&runs[j]);
    free(runs);
    drec_params_free(hp);
    drec_dataset_free(ds);
    free(copy);
    return rc;
}

const cli_verb cli_bench = {
    .name = "bench",
    .usage = "bench --models M1,M2,... --data SPEC [--protocol P] [--report DIR] [--json]",
    .summary = "train and compare models under one protocol, with significance tests",
    .details =
        "Every model is trained on the same training part (same --seed) and evaluated on the\n"
        "same test part.  The table marks the best model per metric with *, and with ** when its\n"
        "lead over the runner-up is significant at 95% (two-sided paired t-test over the per-user\n"
        "values; bootstrap intervals of the difference are in --json under \"best\").\n"
        "Ranking: the held-out item's rank among the candidates, ties counting against it; items\n"
        "a user had in training are never candidates.  Users without a test item are skipped and\n"
        "counted.  With kfold:K each metric is the mean over folds, with \"std\" in --json.\n"
        "A model that fails (say, one that cannot score this kind of data) is reported and left\n"
        "out; the others are still compared, and the exit code is then 1.\n"
        "The per-epoch validation curve (ndcg@10, or auc for ctr) is measured on the test part\n"
        "for monitoring only.\n"
        "examples:\n"
        "  drec bench --models pop,bpr --data movielens:../shared/data/movielens-100k \\\n"
        "             --protocol loo-sampled:100 --report out/\n"
        "  drec bench --models pop,mf --data ncf:../shared/data/ncf-ml-100k/ml-1m --json",
    .opts = opts,
    .csv = true,
    .hyper = true,
    .run = run,
};
