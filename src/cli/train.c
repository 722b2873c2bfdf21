/*
 * train.c — `drec train`: fit a model on a data spec and save it.  With
 * --split P (or --test SPEC) it trains on the protocol's training part only,
 * records the validation metric after each epoch, and reports the test
 * part's metrics in the summary.
 */
#include "cli.h"

#include "data/dataset.h"
#include "evalout.h"
#include "models/model.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>

static const cli_opt opts[] = {
    {"model", 'm', "NAME", "model to train (drec --help lists them)"},
    {"data", 'd', "SPEC", "training data"},
    {"out", 'o', "FILE", "where to write the trained model"},
    {"split", 0, "P", "train on the training part of protocol P and report its test metrics"},
    {"test", 0, "SPEC", "a separate test set to report metrics on (train on all of --data)"},
    {"metrics", 0, "LIST", "validation metrics with --split/--test (default: by protocol)"},
    {"json", 0, NULL, "print the training summary as JSON on stdout"},
    {NULL, 0, NULL, NULL},
};

static int run(drec_params *args) {
    const char *name = drec_params_str(args, "model", NULL);
    const char *out = drec_params_str(args, "out", NULL);
    if (!name) return cli_usage("train: --model NAME is required");
    if (!drec_model_find(name)) {
        drec_model *dummy;
        return cli_fail(drec_model_train(name, NULL, NULL, &dummy));
    }
    drec_dataset *ds;
    int rc = cli_load_eval_data(args, &ds);
    if (rc) return rc;
    drec_params *hp = cli_hyper_params(args);
    if (!hp) {
        drec_dataset_free(ds);
        return 1;
    }
    drec_model *m;
    drec_status st;
    bool validated = drec_params_get(args, "split") || ds->test;
    drec_run run = {0};
    drec_protocol proto;
    if (validated) {
        drec_metric metrics[DREC_MAX_METRICS];
        int n_metrics;
        drec_params *sargs = drec_params_clone(args);
        if (drec_params_get(args, "split")) drec_params_set(sargs, "protocol", drec_params_str(args, "split", NULL));
        rc = cli_eval_setup(sargs, ds, &proto, metrics, &n_metrics);
        drec_params_free(sargs);
        if (rc) {
            drec_params_free(hp);
            drec_dataset_free(ds);
            return rc;
        }
        long seed;
        st = drec_params_int(args, "seed", 1, &seed);
        drec_eval_opts o = {.metrics = metrics, .n_metrics = n_metrics, .seed = (uint64_t)seed};
        if (!st) st = drec_protocol_run(name, hp, ds, &proto, &o, 1, true, &run);
        m = run.model;
        run.model = NULL;
    } else
        st = drec_model_train(name, ds, hp, &m);
    drec_params_free(hp);
    if (st) {
        drec_dataset_free(ds);
        return cli_fail(st);
    }
    if (out) {
        st = drec_model_save(m, out);
        if (st) {
            drec_model_free(m);
            drec_dataset_free(ds);
            return cli_fail(st);
        }
    }
    if (drec_params_flag(args, "json")) {
        json_t *o = json_object();
        json_object_set_new(o, "model", json_string(name));
        json_object_set_new(o, "data", json_string(drec_params_str(args, "data", "")));
        json_object_set_new(o, "epochs", json_integer(m->n_epochs));
        json_object_set_new(o, "train_seconds", json_real(m->train_seconds));
        json_object_set_new(o, "seconds_per_epoch",
                            m->n_epochs ? json_real(m->train_seconds / m->n_epochs) : json_null());
        json_object_set_new(o, "cpu_seconds_per_epoch",
                            m->n_epochs ? json_real(m->train_cpu_seconds / m->n_epochs) : json_null());
        json_object_set_new(o, "validation_seconds", json_real(m->val_seconds));
        json_object_set_new(o, "final_loss", m->n_epochs && !isnan(m->loss_curve[m->n_epochs - 1])
                                                 ? json_real(m->loss_curve[m->n_epochs - 1])
                                                 : json_null());
        json_object_set_new(o, "threads", json_integer(drec_threads()));
        json_object_set_new(o, "seed", json_integer((json_int_t)m->seed));
        if (out) json_object_set_new(o, "out", json_string(out));
        if (validated) {
            json_object_set_new(o, "protocol", json_string(proto.name));
            json_t *v = json_object();
            for (int j = 0; j < run.eval.n_metrics; j++)
                json_object_set_new(v, run.eval.m[j].name,
                                    isnan(run.eval.m[j].value) ? json_null() : json_real(run.eval.m[j].value));
            json_object_set_new(o, "validation", v);
            if (m->n_epochs) {
                json_t *lc = json_array(), *vc = json_array();
                for (int e = 0; e < m->n_epochs; e++) {
                    json_array_append_new(lc, isnan(m->loss_curve[e]) ? json_null() : json_real(m->loss_curve[e]));
                    json_array_append_new(vc, isnan(m->val_curve[e]) ? json_null() : json_real(m->val_curve[e]));
                }
                json_object_set_new(o, "loss_curve", lc);
                json_object_set_new(o, "val_curve", vc);
                json_object_set_new(o, "val_metric", json_string(run.val_metric));
                /* the curve's data: the validation part (patience=N), else the test part */
                json_object_set_new(o, "val_on", json_string(run.val_on_test ? "test" : "validation"));
                if (!run.val_on_test && m->best_epoch >= 0)
                    json_object_set_new(o, "best_epoch", json_integer(m->best_epoch + 1));
            }
        }
        char *s = json_dumps(o, JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("trained %s on %s in %.2fs", name, drec_params_str(args, "data", ""), m->train_seconds);
        if (m->n_epochs && !isnan(m->loss_curve[m->n_epochs - 1]))
            printf(" (%d epochs, final loss %.5f)", m->n_epochs, m->loss_curve[m->n_epochs - 1]);
        else if (m->n_epochs)
            printf(" (%d epochs)", m->n_epochs);
        printf("\n");
        if (validated) cli_print_table(stdout, &run, 1, drec_params_str(args, "data", ""), proto.name);
        if (out) printf("saved %s\n", out);
    }
    drec_run_free(&run);
    drec_model_free(m);
    drec_dataset_free(ds);
    return 0;
}

const cli_verb cli_train = {
    .name = "train",
    .usage = "train --model M --data SPEC [--split P] [hyper-params] --out FILE [--json]",
    .summary = "train a model and save it",
    .details = "examples:\n"
               "  drec train --model pop --data movielens:data/ml-100k --out pop.drec\n"
               "  drec train --model als --data synthetic --dim 64 --epochs 15 --out als.drec --json\n"
               "  drec train --model mf --data movielens:DIR --split holdout:0.2 --out mf.drec --json\n"
               "With --split P the saved model has seen only P's training part (seed --seed), so\n"
               "`drec eval --model FILE --data SPEC --protocol P --seed S` scores the same test part\n"
               "(with kfold:K, fold 0: train on the other folds).  The summary then has the test\n"
               "part's metrics and, per epoch, the loss and the test part's ndcg@10 (auc for ctr),\n"
               "a curve to look at, not to choose by.  --patience N holds out a validation part\n"
               "of the training part instead (--val F of the rows, default 0.1; each user's latest\n"
               "item under loo-*), stops after N epochs without gain on it and keeps the best epoch.",
    .opts = opts,
    .csv = true,
    .hyper = true,
    .run = run,
};
