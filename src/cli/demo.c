/*
 * demo.c — `drec demo`: the main job on the built-in synthetic world.
 */
#include "cli.h"

#include "data/dataset.h"
#include "models/model.h"

#include <stdlib.h>

static const cli_opt opts[] = {
    {"data", 'd', "SPEC", "data to run on (default: synthetic)"},
    {NULL, 0, NULL, NULL},
};

static int run(drec_params *args) {
    const char *spec = drec_params_str(args, "data", "synthetic");
    drec_dataset *ds;
    drec_status st = drec_dataset_load(spec, &ds);
    if (st) return cli_fail(st);
    printf("data: %s — %s\n", spec, drec_dataset_summary(ds));
    drec_model *m;
    st = drec_model_train("pop", ds, NULL, &m);
    if (st) {
        drec_dataset_free(ds);
        return cli_fail(st);
    }
    drec_scored top[5];
    int n = drec_model_recommend(m, 0, 5, 1, top);
    printf("pop: top items for user %s:\n", drec_model_user_name(m, 0));
    for (int j = 0; j < n; j++) printf("  %s\n", drec_model_item_name(m, top[j].id));
    drec_model_free(m);
    drec_dataset_free(ds);
    return 0;
}

const cli_verb cli_demo = {
    .name = "demo",
    .usage = "demo [--data SPEC]",
    .summary = "train, evaluate and compare the models on the built-in synthetic world",
    .opts = opts,
    .run = run,
};
