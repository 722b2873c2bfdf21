/*
 * train.c — `drec train`: fit a model on a data spec and save it.
 */
#include "cli.h"

#include "data/dataset.h"
#include "models/model.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>

static const cli_opt opts[] = {
    {"model", 'm', "NAME", "model to train (drec --help lists them)"},
    {"data", 'd', "SPEC", "training data"},
    {"out", 'o', "FILE", "where to write the trained model"},
    {"json", 0, NULL, "print the training summary as JSON on stdout"},
    {"user-col", 0, "COL", "csv: user column (name or 1-based number)"},
    {"item-col", 0, "COL", "csv: item column"},
    {"rating-col", 0, "COL", "csv: rating column"},
    {"time-col", 0, "COL", "csv: timestamp column"},
    {"sep", 0, "C", "csv: separator (default: detected)"},
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
    int rc = cli_load_data(args, "data", &ds);
    if (rc) return rc;
    drec_params *hp = cli_hyper_params(args);
    if (!hp) {
        drec_dataset_free(ds);
        return 1;
    }
    drec_model *m;
    drec_status st = drec_model_train(name, ds, hp, &m);
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
        json_object_set_new(o, "final_loss", m->n_epochs && !isnan(m->loss_curve[m->n_epochs - 1])
                                                 ? json_real(m->loss_curve[m->n_epochs - 1])
                                                 : json_null());
        json_object_set_new(o, "threads", json_integer(drec_threads()));
        json_object_set_new(o, "seed", json_integer((json_int_t)m->seed));
        if (out) json_object_set_new(o, "out", json_string(out));
        char *s = json_dumps(o, JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("trained %s on %s in %.2fs", name, drec_params_str(args, "data", ""), m->train_seconds);
        if (m->n_epochs) printf(" (%d epochs, final loss %.5f)", m->n_epochs, m->loss_curve[m->n_epochs - 1]);
        printf("\n");
        if (out) printf("saved %s\n", out);
    }
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
               "  drec train --model als --data synthetic --dim 64 --epochs 15 --out als.drec --json",
    .opts = opts,
    .hyper = true,
    .run = run,
};
