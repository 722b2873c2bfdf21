/*
 * demo.c — `drec demo`: the main job, end to end, on the built-in synthetic
 * world: generate the data, train every ranking model that suits it under
 * one leave-last-out protocol, print the leaderboard with significance,
 * show a few users' recommendations with item titles and categories, and
 * write the HTML report.  With --data it runs on any other spec.
 */
#include "evalout.h"

#include "eval/report.h"

#include <math.h>
#include <stdlib.h>

static const cli_opt opts[] = {
    {"data", 'd', "SPEC", "data to run on (default: synthetic)"},
    {"models", 'm', "LIST", "models to compare (default: every ranking model that fits the time)"},
    {"protocol", 'p', "P", "evaluation protocol (default: loo-full)"},
    {"report", 0, "DIR", "where to write the HTML report (default: demo-report)"},
    {"users", 0, "N", "how many users' recommendations to show (default 3)"},
    {NULL, 0, NULL, NULL},
};

/* The models the demo trains by default, fastest first; each is run only
 * when the registry has it, so the demo grows as models are added. */
static const char *const default_models[] = {"pop", "itemknn", "timeknn", "tfidf", "als", "bpr", "hybrid",
                                             "neumf", "sasrec", "gru4rec", "lightgcn", NULL};

static void show_user(const drec_model *m, const drec_dataset *test_part, int32_t u) {
    const char *uname = drec_model_user_name(m, u);
    printf("\nuser %s — last items in training:\n", uname ? uname : "?");
    int64_t a = m->seen_ptr[u], b = m->seen_ptr[u + 1];
    for (int64_t j = b - 3 < a ? a : b - 3; j < b; j++) {
        int32_t i = m->seen_idx[j];
        printf("    %-8s %-28s %s\n", drec_model_item_name(m, i), m->item_title[i] ? m->item_title[i] : "",
               m->item_category[i] ? m->item_category[i] : "");
    }
    int32_t held = -1;
    for (int64_t r = test_part->user_ptr[u]; r < test_part->user_ptr[u + 1]; r++) held = test_part->user_items[r];
    drec_scored top[5];
    int n = drec_model_recommend(m, u, 5, 1, top);
    printf("  %s recommends:\n", m->vt->name);
    for (int j = 0; j < n; j++) {
        int32_t i = top[j].id;
        printf("  %d. %-8s %-28s %-12s %8.3f%s\n", j + 1, drec_model_item_name(m, i),
               m->item_title[i] ? m->item_title[i] : "", m->item_category[i] ? m->item_category[i] : "",
               top[j].score, i == held ? "   <- the held-out next item" : "");
    }
}

static int run(drec_params *args) {
    const char *spec = drec_params_str(args, "data", "synthetic");
    const char *report = drec_params_str(args, "report", "demo-report");
    long seed, n_show;
    drec_status st = drec_params_int(args, "seed", 1, &seed);
    if (!st) st = drec_params_int(args, "users", 3, &n_show);
    if (st) return cli_fail(st);
    if (!drec_params_get(args, "protocol")) drec_params_set(args, "protocol", "loo-full");

    const char *names[64];
    int n_models = 0;
    char *copy = NULL;
    const char *list = drec_params_str(args, "models", NULL);
    if (list) {
        copy = drec_strdup(list);
        for (char *tok = strtok(copy, ","); tok && n_models < 64; tok = strtok(NULL, ","))
            if (!drec_model_find(tok)) {
                int rc = cli_usage("demo: unknown model \"%s\" (see drec --help)", tok);
                free(copy);
                return rc;
            } else
                names[n_models++] = tok;
    } else
        for (int k = 0; default_models[k]; k++)
            if (drec_model_find(default_models[k])) names[n_models++] = default_models[k];

    double t0 = drec_now();
    drec_dataset *ds;
    st = drec_dataset_load(spec, &ds);
    if (st) {
        free(copy);
        return cli_fail(st);
    }
    printf("drec demo — %s: %s\n", spec, drec_dataset_summary(ds));
    drec_protocol p;
    drec_metric metrics[DREC_MAX_METRICS];
    int n_metrics;
    int rc = cli_eval_setup(args, ds, &p, metrics, &n_metrics);
    if (rc) {
        drec_dataset_free(ds);
        free(copy);
        return rc;
    }
    printf("protocol %s: train on the rest, rank each user's held-out item among all items the user has not seen\n\n",
           p.name);
    drec_params *hp = drec_params_new();
    drec_eval_opts o = {.metrics = metrics, .n_metrics = n_metrics, .seed = (uint64_t)seed, .bootstrap = 500,
                        .keep_lists = true};
    drec_run *runs = drec_calloc((size_t)n_models, sizeof *runs);
    int done = 0;
    for (int j = 0; j < n_models; j++) {
        double t = drec_now();
        st = drec_protocol_run(names[j], hp, ds, &p, &o, 1, true, &runs[done]);
        if (st) {
            drec_warn("demo: %s skipped: %s", names[j], drec_errmsg());
            drec_run_free(&runs[done]);
            memset(&runs[done], 0, sizeof runs[done]);
            continue;
        }
        const drec_metric_result *nd = drec_eval_find(&runs[done].eval, "ndcg@10");
        printf("  trained and evaluated %-9s in %5.1fs   ndcg@10 %.4f\n", names[j], drec_now() - t,
               nd ? nd->value : NAN);
        fflush(stdout);
        done++;
    }
    printf("\n");
    cli_print_table(stdout, runs, done, spec, p.name);

    /* A few users, through the best model by ndcg@10. */
    int best = 0;
    for (int j = 1; j < done; j++) {
        const drec_metric_result *a = drec_eval_find(&runs[j].eval, "ndcg@10"),
                                 *b = drec_eval_find(&runs[best].eval, "ndcg@10");
        if (a && b && a->value > b->value) best = j;
    }
    if (done > 0 && runs[best].model) {
        const drec_model *m = runs[best].model;
        drec_eval_split sp;
        if (drec_protocol_split(&p, ds, 0, (uint64_t)seed, &sp) == DREC_OK) {
            int shown = 0;
            for (int32_t u = 0; u < m->n_users && shown < n_show; u += 1 + m->n_users / (int32_t)(n_show + 1)) {
                if (m->seen_ptr[u + 1] == m->seen_ptr[u]) continue;
                show_user(m, sp.test, u);
                shown++;
            }
            drec_eval_split_free(&sp);
        }
    }
    drec_report_input in = {.runs = runs, .n_runs = done, .data = spec, .protocol = p.name, .train = ds,
                            .seed = (uint64_t)seed};
    st = drec_report_write(report, &in);
    if (st)
        rc = cli_fail(st);
    else
        printf("\nreport: %s/index.html   (whole demo: %.1fs)\n", report, drec_now() - t0);
    for (int j = 0; j < done; j++) drec_run_free(&runs[j]);
    free(runs);
    drec_params_free(hp);
    drec_dataset_free(ds);
    free(copy);
    return rc;
}

const cli_verb cli_demo = {
    .name = "demo",
    .usage = "demo [--data SPEC] [--models LIST] [--report DIR]",
    .summary = "train, evaluate and compare the models on the built-in synthetic world",
    .details = "Generates the synthetic world (2,000 users, 1,000 items, ~79k interactions), holds out\n"
               "each user's last interaction, trains every ranking model, prints the leaderboard with\n"
               "significance marks, shows what the best model recommends to a few users (titles and\n"
               "categories) and writes an HTML report with plots.",
    .opts = opts,
    .run = run,
};
