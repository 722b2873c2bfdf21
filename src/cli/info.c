/*
 * info.c — `drec info FILE`: what a model file holds (or a data spec's
 * summary).
 */
#include "cli.h"

#include "data/dataset.h"
#include "models/model.h"

#include <jansson.h>
#include <math.h>

static const cli_opt opts[] = {
    {"file", 0, "FILE", "model file (or data spec) to describe; also accepted as --file"},
    {"json", 0, NULL, "print JSON"},
    {NULL, 0, NULL, NULL},
};

static int run(drec_params *args) {
    const char *path = drec_params_str(args, "file", NULL);
    if (!path) return cli_usage("info: give a model file: drec info FILE");
    bool json = drec_params_flag(args, "json");
    if (strchr(path, ':') || strcmp(path, "synthetic") == 0) {
        drec_dataset *ds;
        drec_status st = drec_dataset_load_opts(path, args, &ds);
        if (st) return cli_fail(st);
        if (json)
            printf("{\"data\": \"%s\", \"rows\": %zu, \"users\": %d, \"items\": %d}\n", path, ds->n, ds->n_users,
                   ds->n_items);
        else
            printf("%s: %s\n", path, drec_dataset_summary(ds));
        drec_dataset_free(ds);
        return 0;
    }
    drec_model *m;
    drec_status st = drec_model_load(path, &m);
    if (st) return cli_fail(st);
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "file", json_string(path));
        json_object_set_new(o, "model", json_string(m->vt->name));
        json_object_set_new(o, "users", json_integer(m->n_users));
        json_object_set_new(o, "items", json_integer(m->n_items));
        json_object_set_new(o, "epochs", json_integer(m->n_epochs));
        json_object_set_new(o, "train_seconds", json_real(m->train_seconds));
        json_t *hp = json_object();
        for (size_t i = 0; i < drec_params_count(m->params); i++) {
            const char *k, *v;
            drec_params_at(m->params, i, &k, &v);
            json_object_set_new(hp, k, json_string(v));
        }
        json_object_set_new(o, "params", hp);
        char *s = json_dumps(o, JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("file:        %s\nmodel:       %s — %s\nusers:       %d\nitems:       %d\n", path, m->vt->name,
               m->vt->summary, m->n_users, m->n_items);
        printf("trained:     %.2fs", m->train_seconds);
        if (m->n_epochs) printf(", %d epochs", m->n_epochs);
        if (m->n_epochs && !isnan(m->loss_curve[m->n_epochs - 1]))
            printf(", final loss %.5f", m->loss_curve[m->n_epochs - 1]);
        printf("\nparams:     ");
        if (!drec_params_count(m->params)) printf(" (defaults)");
        for (size_t i = 0; i < drec_params_count(m->params); i++) {
            const char *k, *v;
            drec_params_at(m->params, i, &k, &v);
            printf(" %s=%s", k, v);
        }
        printf("\n");
    }
    drec_model_free(m);
    return 0;
}

const cli_verb cli_info = {
    .name = "info",
    .usage = "info FILE [--json]",
    .summary = "describe a model file (or a data spec)",
    .details = "Loads FILE, verifying its format version, every checksum and every shape, and prints\n"
               "the model, its users and items, and the hyper-parameters it was trained with.",
    .opts = opts,
    .csv = true,
    .run = run,
};
