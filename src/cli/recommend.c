/*
 * recommend.c — `drec recommend`: top-k items for a user from a model file.
 */
#include "cli.h"

#include "models/model.h"

#include <jansson.h>
#include <stdlib.h>

static const cli_opt opts[] = {
    {"model", 'm', "FILE", "trained model file"},
    {"user", 'u', "ID", "the user's external id"},
    {"k", 'k', "N", "how many items (default 10)"},
    {"include-seen", 0, NULL, "do not exclude items the user had in training"},
    {"json", 0, NULL, "print JSON"},
    {NULL, 0, NULL, NULL},
};

static int run(drec_params *args) {
    const char *path = drec_params_str(args, "model", NULL);
    const char *user = drec_params_str(args, "user", NULL);
    long k;
    if (!path) return cli_usage("recommend: --model FILE is required");
    if (!user) return cli_usage("recommend: --user ID is required");
    drec_status st = drec_params_int(args, "k", 10, &k);
    if (st) return cli_fail(st);
    if (k < 1 || k > 10000) return cli_usage("recommend: -k must be 1..10000, got %ld", k);
    drec_model *m;
    st = drec_model_load(path, &m);
    if (st) return cli_fail(st);
    int32_t u = drec_model_user_id(m, user);
    if (u < 0) drec_note("user \"%s\" was not in the training data: showing the cold-start ranking", user);
    drec_scored *top = drec_malloc((size_t)k * sizeof *top);
    int n = drec_model_recommend(m, u, (int)k, !drec_params_flag(args, "include-seen"), top);
    if (drec_params_flag(args, "json")) {
        json_t *o = json_object(), *items = json_array();
        json_object_set_new(o, "user", json_string(user));
        json_object_set_new(o, "model", json_string(m->vt->name));
        for (int j = 0; j < n; j++) {
            json_t *e = json_pack("{s:s, s:f}", "item", drec_model_item_name(m, top[j].id), "score",
                                  (double)top[j].score);
            if (m->item_title[top[j].id]) json_object_set_new(e, "title", json_string(m->item_title[top[j].id]));
            if (m->item_category[top[j].id])
                json_object_set_new(e, "category", json_string(m->item_category[top[j].id]));
            json_array_append_new(items, e);
        }
        json_object_set_new(o, "items", items);
        char *s = json_dumps(o, JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("%-4s %-12s %10s  %s\n", "rank", "item", "score", "title");
        for (int j = 0; j < n; j++) {
            const char *t = m->item_title[top[j].id], *c = m->item_category[top[j].id];
            printf("%-4d %-12s %10.4f  %s%s%s%s\n", j + 1, drec_model_item_name(m, top[j].id), top[j].score,
                   t ? t : "", c ? " [" : "", c ? c : "", c ? "]" : "");
        }
    }
    free(top);
    drec_model_free(m);
    return 0;
}

const cli_verb cli_recommend = {
    .name = "recommend",
    .usage = "recommend --model FILE --user ID [-k N] [--json]",
    .summary = "top-k recommendations for a user",
    .details = "Items the user had in training are left out unless --include-seen is given.\n"
               "A user unknown to the model gets the model's cold-start ranking.",
    .opts = opts,
    .run = run,
};
