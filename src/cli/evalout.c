/*
 * evalout.c — protocol/metric options, --test loading, and the table and
 * JSON output shared by eval, bench and train --split (see evalout.h).
 */
#include "evalout.h"

#include <math.h>
#include <stdlib.h>

int cli_load_eval_data(drec_params *args, drec_dataset **out) {
    int rc = cli_load_data(args, "data", out);
    if (rc) return rc;
    if (!drec_params_get(args, "test")) return 0;
    drec_dataset *test;
    rc = cli_load_data(args, "test", &test);
    if (rc) {
        drec_dataset_free(*out);
        *out = NULL;
        return rc;
    }
    size_t dropped;
    drec_status st = drec_dataset_attach_test(*out, test, &dropped);
    if (st) {
        drec_dataset_free(*out);
        *out = NULL;
        return cli_fail(st);
    }
    if (dropped)
        drec_note("--test: %zu rows left out (user or item not in --data)", dropped);
    return 0;
}

int cli_eval_setup(drec_params *args, const drec_dataset *ds, drec_protocol *p, drec_metric *metrics, int *n) {
    const char *ps = drec_params_str(args, "protocol", NULL);
    drec_status st;
    if (ps) {
        st = drec_protocol_parse(ps, p);
        if (st) return cli_fail(st);
    } else
        drec_protocol_default(ds, p);
    const char *ms = drec_params_str(args, "metrics", NULL);
    if (ms) {
        st = drec_metrics_parse(ms, metrics, DREC_MAX_METRICS, n);
        if (st) return cli_fail(st);
    } else
        *n = drec_protocol_default_metrics(p, ds, metrics);
    if (p->kind == DREC_PROTO_CTR)
        for (int j = 0; j < *n; j++)
            if (metrics[j].kind > DREC_M_LOGLOSS) {
                char b[32];
                return cli_usage("--metrics: %s needs a ranking protocol, not %s", drec_metric_name(&metrics[j], b, sizeof b),
                                 p->name);
            }
    return 0;
}

const char *cli_fmt(double v, char *buf, size_t n) {
    if (isnan(v))
        snprintf(buf, n, "-");
    else if (fabs(v) >= 1000)
        snprintf(buf, n, "%.1f", v);
    else
        snprintf(buf, n, "%.4f", v);
    return buf;
}

void cli_print_table(FILE *f, const drec_run *runs, int n, const char *data, const char *protocol) {
    if (n < 1) return;
    const drec_eval_result *e0 = &runs[0].eval;
    fprintf(f, "data %s, protocol %s", data, protocol);
    if (e0->unit) fprintf(f, ": %zu %s evaluated", e0->n_units, e0->unit);
    if (e0->n_rows) fprintf(f, "%s%zu test rows", e0->unit ? ", " : ": ", e0->n_rows);
    if (e0->n_skipped) fprintf(f, ", %zu users skipped (no test item)", e0->n_skipped);
    if (e0->n_dropped) fprintf(f, ", %zu test rows not rankable", e0->n_dropped);
    if (runs[0].n_folds > 1) fprintf(f, " (%d folds: mean ± std)", runs[0].n_folds);
    fprintf(f, "\n");
    int wname = 5;
    for (int r = 0; r < n; r++) wname = DREC_MAX(wname, (int)strlen(runs[r].name));
    bool folds = runs[0].n_folds > 1;
    int wcol[DREC_MAX_METRICS];
    drec_best best[DREC_MAX_METRICS];
    for (int j = 0; j < e0->n_metrics; j++) {
        best[j] = n > 1 ? drec_runs_best(runs, n, j, 1) : (drec_best){-1, -1, NAN, NAN, NAN, false};
        wcol[j] = DREC_MAX(folds ? 19 : 11, (int)strlen(e0->m[j].name) + 3);
        for (int r = 0; r < n; r++)
            if (fabs(runs[r].eval.m[j].value) >= 1000) wcol[j] = DREC_MAX(wcol[j], folds ? 24 : 13);
    }
    fprintf(f, "%-*s", wname + 2, "model");
    for (int j = 0; j < e0->n_metrics; j++) fprintf(f, "%*s  ", wcol[j] - 2, e0->m[j].name);
    fprintf(f, "%10s%10s\n", "train_s", "eval_s");
    for (int r = 0; r < n; r++) {
        fprintf(f, "%-*s", wname + 2, runs[r].name);
        for (int j = 0; j < e0->n_metrics; j++) {
            char v[48], s[48], cell[64];
            cli_fmt(runs[r].eval.m[j].value, v, sizeof v);
            if (folds && !isnan(runs[r].std[j]))
                snprintf(cell, sizeof cell, "%s±%s", v, cli_fmt(runs[r].std[j], s, sizeof s));
            else
                snprintf(cell, sizeof cell, "%s", v);
            const char *mark = best[j].best == r ? (best[j].significant ? "**" : "* ") : "  ";
            /* ± is two bytes wide in UTF-8 but one column on screen */
            int pad = wcol[j] - 2 + (strstr(cell, "±") ? 1 : 0);
            fprintf(f, "%*s%s", pad, cell, mark);
        }
        fprintf(f, "%10.2f%10.2f\n", runs[r].train_seconds, runs[r].eval_seconds);
    }
    if (n > 1)
        fprintf(f, "* best per metric; ** best and significantly ahead of the runner-up "
                   "(paired t-test over %s, p < 0.05)\n",
                e0->unit ? e0->unit : "rows");
    for (int j = 0; j < e0->n_metrics; j++)
        if (isnan(e0->m[j].value) && e0->note[0]) {
            fprintf(f, "note: %s\n", e0->note);
            break;
        }
}

static json_t *num(double v) { return isnan(v) || isinf(v) ? json_null() : json_real(v); }

json_t *cli_run_json(const drec_run *r, const char *data, const char *protocol, uint64_t seed) {
    json_t *o = json_object(), *mets = json_object(), *ci = json_object();
    json_object_set_new(o, "model", json_string(r->name));
    json_object_set_new(o, "data", json_string(data));
    json_object_set_new(o, "protocol", json_string(protocol));
    for (int j = 0; j < r->eval.n_metrics; j++) {
        const drec_metric_result *m = &r->eval.m[j];
        json_object_set_new(mets, m->name, num(m->value));
        if (!isnan(m->ci_lo)) json_object_set_new(ci, m->name, json_pack("[o, o]", num(m->ci_lo), num(m->ci_hi)));
    }
    json_object_set_new(o, "metrics", mets);
    if (r->n_folds > 1) {
        json_t *sd = json_object();
        for (int j = 0; j < r->eval.n_metrics; j++) json_object_set_new(sd, r->eval.m[j].name, num(r->std[j]));
        json_object_set_new(o, "std", sd);
        json_object_set_new(o, "folds", json_integer(r->n_folds));
    }
    json_object_set_new(o, "ci95", ci);
    json_object_set_new(o, "train_seconds", json_real(r->train_seconds));
    json_object_set_new(o, "eval_seconds", json_real(r->eval_seconds));
    json_object_set_new(o, "threads", json_integer(drec_threads()));
    json_object_set_new(o, "seed", json_integer((json_int_t)seed));
    if (r->eval.unit) {
        json_object_set_new(o, "unit", json_string(r->eval.unit));
        json_object_set_new(o, "evaluated", json_integer((json_int_t)r->eval.n_units));
    }
    json_object_set_new(o, "users_skipped", json_integer((json_int_t)r->eval.n_skipped));
    json_object_set_new(o, "test_rows_dropped", json_integer((json_int_t)r->eval.n_dropped));
    if (r->eval.n_rows) json_object_set_new(o, "test_rows", json_integer((json_int_t)r->eval.n_rows));
    if (r->n_epochs) {
        json_object_set_new(o, "epochs", json_integer(r->n_epochs));
        json_object_set_new(o, "final_loss", num(r->loss_curve[r->n_epochs - 1]));
    }
    if (r->eval.note[0]) json_object_set_new(o, "note", json_string(r->eval.note));
    return o;
}

json_t *cli_best_json(const drec_run *runs, int n, uint64_t seed) {
    json_t *o = json_object();
    if (n < 1) return o;
    for (int j = 0; j < runs[0].eval.n_metrics; j++) {
        drec_best b = drec_runs_best(runs, n, j, seed);
        if (b.best < 0) continue;
        json_t *e = json_object();
        json_object_set_new(e, "model", json_string(runs[b.best].name));
        if (b.second >= 0) {
            json_object_set_new(e, "runner_up", json_string(runs[b.second].name));
            json_object_set_new(e, "p_value", num(b.p_value));
            json_object_set_new(e, "diff_ci95", json_pack("[o, o]", num(b.diff_lo), num(b.diff_hi)));
        }
        json_object_set_new(e, "significant", json_boolean(b.significant));
        json_object_set_new(o, runs[0].eval.m[j].name, e);
    }
    return o;
}
