/*
 * similar.c — `drec similar`: items most similar to an item.
 */
#include "cli.h"

#include "models/model.h"

#include <jansson.h>
#include <stdlib.h>

static const cli_opt opts[] = {
    {"model", 'm', "FILE", "trained model file"},
    {"item", 'i', "ID", "the item's external id"},
    {"k", 'k', "N", "how many items (default 10)"},
    {"json", 0, NULL, "print JSON"},
    {NULL, 0, NULL, NULL},
};

static int run(drec_params *args) {
    const char *path = drec_params_str(args, "model", NULL);
    const char *item = drec_params_str(args, "item", NULL);
    long k;
    if (!path) return cli_usage("similar: --model FILE is required");
    if (!item) return cli_usage("similar: --item ID is required");
    drec_status st = drec_params_int(args, "k", 10, &k);
    if (st) return cli_fail(st);
    if (k < 1 || k > 10000) return cli_usage("similar: -k must be 1..10000, got %ld", k);
    drec_model *m;
    st = drec_model_load(path, &m);
    if (st) return cli_fail(st);
    int32_t i = drec_model_item_id(m, item);
    if (i < 0) {
        drec_model_free(m);
        return cli_usage("similar: item \"%s\" is not known to the model", item);
    }
    drec_scored *top = drec_malloc((size_t)k * sizeof *top);
    int n;
    st = drec_model_similar(m, i, (int)k, top, &n);
    if (st) {
        free(top);
        drec_model_free(m);
        return cli_fail(st);
    }
    if (drec_params_flag(args, "json")) {
        json_t *o = json_object(), *items = json_array();
        json_object_set_new(o, "item", json_string(item));
        json_object_set_new(o, "model", json_string(m->vt->name));
        for (int j = 0; j < n; j++)
            json_array_append_new(items, json_pack("{s:s, s:f}", "item", drec_model_item_name(m, top[j].id),
                                                   "score", (double)top[j].score));
        json_object_set_new(o, "items", items);
        char *s = json_dumps(o, JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        for (int j = 0; j < n; j++) {
            const char *t = m->item_title[top[j].id];
            printf("%-4d %-12s %8.4f  %s\n", j + 1, drec_model_item_name(m, top[j].id), top[j].score, t ? t : "");
        }
    }
    free(top);
    drec_model_free(m);
    return 0;
}

const cli_verb cli_similar = {
    .name = "similar",
    .usage = "similar --model FILE --item ID [-k N] [--json]",
    .summary = "items most similar to an item",
    .opts = opts,
    .run = run,
};
