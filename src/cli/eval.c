/*
 * eval.c — `drec eval`: evaluate a saved model on data.
 */
#include "evalout.h"

#include <math.h>
#include <stdlib.h>

static const cli_opt opts[] = {
    {"model", 'm', "FILE", "trained model file"},
    {"data", 'd', "SPEC", "the data (see above for which part is the test part)"},
    {"test", 0, "SPEC", "a separate test set (the test part is then all of it)"},
    {"protocol", 'p', "P", "split --data by this protocol and evaluate its test part"},
    {"fold", 0, "F", "kfold:K: which fold's test part (0-based, default 0)"},
    {"metrics", 0, "LIST", "metrics, e.g. hr@10,ndcg@10,rmse (default: by protocol)"},
    {"bootstrap", 0, "N", "bootstrap resamples for the 95% intervals (default 1000; 0 = none)"},
    {"json", 0, NULL, "print the result as JSON on stdout"},
    {NULL, 0, NULL, NULL},
};

static int run(drec_params *args) {
    const char *path = drec_params_str(args, "model", NULL);
    if (!path) return cli_usage("eval: --model FILE is required");
    long seed, boot, fold;
    drec_status st = drec_params_int(args, "seed", 1, &seed);
    if (!st) st = drec_params_int(args, "bootstrap", 1000, &boot);
    if (!st) st = drec_params_int(args, "fold", 0, &fold);
    if (st) return cli_fail(st);
    if (boot < 0 || boot > 100000) return cli_usage("eval: --bootstrap must be 0..100000");
    drec_model *m;
    st = drec_model_load(path, &m);
    if (st) return cli_fail(st);
    drec_dataset *ds;
    int rc = cli_load_eval_data(args, &ds);
    if (rc) {
        drec_model_free(m);
        return rc;
    }
    drec_protocol p;
    drec_metric metrics[DREC_MAX_METRICS];
    int n_metrics;
    bool whole = !drec_params_get(args, "protocol") && !ds->test;
    rc = cli_eval_setup(args, ds, &p, metrics, &n_metrics);
    if (rc) goto out;
    if (p.kind == DREC_PROTO_KFOLD && (fold < 0 || fold >= p.n)) {
        rc = cli_usage("eval: --fold must be 0..%d for %s", p.n - 1, p.name);
        goto out;
    }
    /* Which part is the test part. */
    drec_eval_split sp = {0};
    const drec_dataset *test = ds;
    const int64_t *nptr = NULL;
    const int32_t *nidx = NULL;
    if (!whole) {
        st = drec_protocol_split(&p, ds, (int)fold, (uint64_t)seed, &sp);
        if (st) {
            rc = cli_fail(st);
            goto out;
        }
        test = sp.test;
        nptr = sp.neg_ptr;
        nidx = sp.neg_idx;
    }
    drec_eval_split ev;
    size_t dropped = 0;
    if (test->kind == DREC_DS_CTR) {
        /* Feature rows carry no ids to translate. */
        ev = (drec_eval_split){.test = (drec_dataset *)test};
    } else
        drec_eval_split_to_model(m, test, nptr, nidx, &ev, &dropped);
    if (dropped) drec_note("eval: %zu test rows left out (item unknown to the model)", dropped);
    drec_eval_opts o = {.mode = drec_protocol_mode(&p), .metrics = metrics, .n_metrics = n_metrics,
                        .n_sampled = p.n, .seed = (uint64_t)seed, .bootstrap = (int)boot};
    if (whole && o.mode == DREC_EVAL_SAMPLED) o.mode = DREC_EVAL_FULL;
    drec_run r = {0};
    snprintf(r.name, sizeof r.name, "%s", m->vt->name);
    r.n_folds = 1;
    r.train_seconds = m->train_seconds;
    st = drec_evaluate(m, &ev, &o, &r.eval);
    drec_eval_split_free(&ev);
    drec_eval_split_free(&sp);
    if (st) {
        rc = cli_fail(st);
        goto out;
    }
    r.eval.n_dropped += dropped;
    r.eval_seconds = r.eval.seconds;
    for (int j = 0; j < DREC_MAX_METRICS; j++) r.std[j] = NAN;
    const char *data = drec_params_str(args, "data", "");
    const char *pname = whole ? "all-rows" : p.name;
    if (drec_params_flag(args, "json")) {
        json_t *o2 = cli_run_json(&r, data, pname, (uint64_t)seed);
        if (!(r.train_seconds > 0)) json_object_set_new(o2, "train_seconds", json_null()); /* not in the file */
        char *s = json_dumps(o2, JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(o2);
    } else
        cli_print_table(stdout, &r, 1, data, pname);
    drec_run_free(&r);
out:
    drec_dataset_free(ds);
    drec_model_free(m);
    return rc;
}

const cli_verb cli_eval = {
    .name = "eval",
    .usage = "eval --model FILE --data SPEC [--protocol P] [--metrics LIST] [--json]",
    .summary = "evaluate a saved model",
    .details =
        "Which rows are the test part:\n"
        "  --protocol P   --data is split by P with --seed (default 1), exactly as\n"
        "                 `drec train --split P --seed S` split it, and the test part is\n"
        "                 evaluated: train with --split P, then eval with --protocol P.\n"
        "  --test SPEC    or data with its own test part (ncf:): that part; P (default\n"
        "                 loo-sampled:100 for ncf:) only says how it is scored.\n"
        "  neither        every row of --data is a test row (e.g. a later log).\n"
        "Users and items are matched to the model by external id; rows with an item the\n"
        "model does not know are left out and counted, unknown users are scored cold.\n"
        "Items a user had in training (the model's record) are never candidates, and a test\n"
        "item the user already had is not counted.  Ties count against the held-out item.\n"
        "examples:\n"
        "  drec train --model pop --data movielens:DIR --split loo-full --out pop.drec\n"
        "  drec eval --model pop.drec --data movielens:DIR --protocol loo-full --json",
    .opts = opts,
    .csv = true,
    .run = run,
};
