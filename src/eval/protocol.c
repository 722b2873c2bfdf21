/*
 * protocol.c — protocol names, their splits and default metrics, and the
 * train-then-evaluate run of one model over all folds (see protocol.h).
 */
#include "protocol.h"

#include "data/split.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const known =
    "loo-sampled:N, loo-full, holdout:F, kfold:K, temporal:F, session-last[:F], ctr:F";

static drec_status parse_num(const char *proto, const char *arg, bool integer, double lo, double hi, double *out) {
    char *end;
    double v = strtod(arg, &end);
    if (!*arg || *end || !(v > lo && v < hi) || (integer && v != floor(v)))
        return drec_fail(DREC_ERR_USAGE, "protocol \"%s\": expected %s in (%g, %g), got \"%s\"", proto,
                         integer ? "a whole number" : "a fraction", lo, hi, arg);
    *out = v;
    return DREC_OK;
}

drec_status drec_protocol_parse(const char *s, drec_protocol *out) {
    memset(out, 0, sizeof *out);
    if (!s || !*s) return drec_fail(DREC_ERR_USAGE, "empty protocol (known: %s)", known);
    const char *colon = strchr(s, ':');
    size_t len = colon ? (size_t)(colon - s) : strlen(s);
    const char *arg = colon ? colon + 1 : NULL;
    double v = 0;
    drec_status st = DREC_OK;
#define IS(name) (len == strlen(name) && strncmp(s, name, len) == 0)
    if (IS("loo-sampled")) {
        out->kind = DREC_PROTO_LOO_SAMPLED;
        st = parse_num(s, arg ? arg : "100", true, 0, 1e6, &v);
        out->n = (int)v;
        snprintf(out->name, sizeof out->name, "loo-sampled:%d", out->n);
    } else if (IS("loo-full") && !arg) {
        out->kind = DREC_PROTO_LOO_FULL;
        snprintf(out->name, sizeof out->name, "loo-full");
    } else if (IS("holdout") || IS("temporal") || IS("ctr")) {
        out->kind = IS("holdout") ? DREC_PROTO_HOLDOUT : IS("temporal") ? DREC_PROTO_TEMPORAL : DREC_PROTO_CTR;
        st = parse_num(s, arg ? arg : "0.2", false, 0, 1, &v);
        out->frac = v;
        snprintf(out->name, sizeof out->name, "%.*s:%g", (int)len, s, v);
    } else if (IS("kfold")) {
        out->kind = DREC_PROTO_KFOLD;
        st = parse_num(s, arg ? arg : "5", true, 1, 1000, &v);
        out->n = (int)v;
        snprintf(out->name, sizeof out->name, "kfold:%d", out->n);
    } else if (IS("session-last")) {
        out->kind = DREC_PROTO_SESSION_LAST;
        st = parse_num(s, arg ? arg : "0.1", false, 0, 1, &v);
        out->frac = v;
        if (arg)
            snprintf(out->name, sizeof out->name, "session-last:%g", v);
        else
            snprintf(out->name, sizeof out->name, "session-last");
    } else
        return drec_fail(DREC_ERR_USAGE, "unknown protocol \"%s\" (known: %s)", s, known);
#undef IS
    return st;
}

void drec_protocol_default(const drec_dataset *ds, drec_protocol *out) {
    const char *name = ds->kind == DREC_DS_CTR        ? "ctr:0.2"
                       : ds->kind == DREC_DS_SESSIONS ? "session-last"
                       : ds->neg_ptr                  ? "loo-sampled:100"
                                                      : "loo-full";
    drec_protocol_parse(name, out);
}

drec_eval_mode drec_protocol_mode(const drec_protocol *p) {
    switch (p->kind) {
    case DREC_PROTO_LOO_SAMPLED: return DREC_EVAL_SAMPLED;
    case DREC_PROTO_SESSION_LAST: return DREC_EVAL_SESSION;
    case DREC_PROTO_CTR: return DREC_EVAL_ROWS;
    default: return DREC_EVAL_FULL;
    }
}

int drec_protocol_folds(const drec_protocol *p, const drec_dataset *ds) {
    return p->kind == DREC_PROTO_KFOLD && !ds->test ? p->n : 1;
}

int drec_protocol_default_metrics(const drec_protocol *p, const drec_dataset *ds, drec_metric *out) {
    int n = 0;
    if (p->kind == DREC_PROTO_CTR) {
        out[n++] = (drec_metric){DREC_M_AUC, 0};
        out[n++] = (drec_metric){DREC_M_LOGLOSS, 0};
        return n;
    }
    if (ds->has_rating &&
        (p->kind == DREC_PROTO_HOLDOUT || p->kind == DREC_PROTO_KFOLD || p->kind == DREC_PROTO_TEMPORAL)) {
        out[n++] = (drec_metric){DREC_M_RMSE, 0};
        out[n++] = (drec_metric){DREC_M_MAE, 0};
        return n;
    }
    static const drec_metric_kind rank[] = {DREC_M_HR,  DREC_M_NDCG,     DREC_M_PRECISION, DREC_M_RECALL,
                                            DREC_M_MRR, DREC_M_MAP,      DREC_M_COVERAGE,  DREC_M_NOVELTY,
                                            DREC_M_ARP};
    for (size_t j = 0; j < DREC_ARRAY_LEN(rank); j++) out[n++] = (drec_metric){rank[j], 10};
    const drec_side *sd = ds->side;
    if ((sd->item_attrs.ptr && sd->item_attrs.n_entities > 0) || sd->item_category)
        out[n++] = (drec_metric){DREC_M_DIVERSITY, 10};
    return n;
}

/* The rows of ds split by p's kind: its training part and its test part. */
static drec_status split_rows(const drec_protocol *p, const drec_dataset *ds, int fold, uint64_t seed,
                              drec_dataset **tr, drec_dataset **te) {
    switch (p->kind) {
    case DREC_PROTO_LOO_SAMPLED:
    case DREC_PROTO_LOO_FULL: return drec_split_loo(ds, tr, te);
    case DREC_PROTO_HOLDOUT:
    case DREC_PROTO_CTR: return drec_split_holdout(ds, p->frac, seed, tr, te);
    case DREC_PROTO_KFOLD: return drec_split_kfold(ds, p->n, fold, seed, tr, te);
    case DREC_PROTO_TEMPORAL: return drec_split_temporal(ds, p->frac, tr, te);
    case DREC_PROTO_SESSION_LAST: return drec_split_session_last(ds, p->frac, tr, te);
    default: return drec_fail(DREC_ERR_INTERNAL, "protocol kind %d", (int)p->kind);
    }
}

drec_status drec_protocol_split(const drec_protocol *p, const drec_dataset *ds, int fold, uint64_t seed,
                                drec_eval_split *out) {
    memset(out, 0, sizeof *out);
    if (ds->test) {
        out->train = (drec_dataset *)ds;
        out->test = ds->test;
        if (p->kind == DREC_PROTO_LOO_SAMPLED && ds->neg_ptr) {
            out->neg_ptr = ds->neg_ptr;
            out->neg_idx = ds->neg_idx;
            int64_t per = ds->test->n ? ds->neg_ptr[1] - ds->neg_ptr[0] : 0;
            static _Thread_local const drec_dataset *noted; /* say it once per dataset */
            if (per != p->n && noted != ds && (noted = ds))
                drec_note("%s: using the data's own %lld negatives per test row", p->name, (long long)per);
        }
        return DREC_OK;
    }
    if (p->kind == DREC_PROTO_SESSION_LAST && ds->kind != DREC_DS_SESSIONS)
        drec_note("session-last on data that is not sessions: each user's history is treated as one session");
    if (p->kind == DREC_PROTO_CTR && ds->kind != DREC_DS_CTR && !ds->has_rating)
        drec_note("ctr on data without labels: every row is a positive, so auc is undefined");
    drec_dataset *tr = NULL, *te = NULL;
    drec_status st = split_rows(p, ds, fold, seed, &tr, &te);
    if (st) return drec_fail_wrap(st, "%s", p->name);
    out->train = tr;
    out->test = te;
    out->own_train = out->own_test = true;
    return DREC_OK;
}

/* ---- the run ---------------------------------------------------------------- */

/* Early stopping needs data the model is not tested on: a validation part
 * carved from the training part the way the protocol carves its test part
 * (each user's latest training item for the leave-one-out protocols, the
 * latest rows for temporal and sessions, else a seeded `frac` of the rows). */
static drec_status carve_validation(const drec_protocol *p, const drec_dataset *train, double frac, uint64_t seed,
                                    drec_eval_split *val) {
    memset(val, 0, sizeof *val);
    /* p again, with the validation share, and k folds as one holdout */
    drec_protocol vp = *p;
    if (vp.kind == DREC_PROTO_KFOLD) vp.kind = DREC_PROTO_HOLDOUT;
    if (vp.kind != DREC_PROTO_SESSION_LAST) vp.frac = frac;
    drec_dataset *tr = NULL, *va = NULL;
    drec_status st = split_rows(&vp, train, 0, seed ^ 0x76616c6964ULL, &tr, &va);
    if (st) return drec_fail_wrap(st, "validation part of %s", p->name);
    if (va->n == 0) {
        drec_dataset_free(tr);
        drec_dataset_free(va);
        return drec_fail(DREC_ERR_INPUT, "%s: the training part is too small to hold out a validation part",
                         p->name);
    }
    val->train = tr;
    val->test = va;
    val->own_train = val->own_test = true;
    return DREC_OK;
}

typedef struct val_ctx {
    const drec_eval_split *split;
    drec_eval_opts opts;
    drec_metric metric;
} val_ctx;

static double validate(const drec_model *m, void *user) {
    val_ctx *v = user;
    drec_eval_result r;
    if (drec_evaluate(m, v->split, &v->opts, &r) != DREC_OK) {
        drec_clear_error();
        return NAN;
    }
    double x = r.m[0].value;
    drec_eval_result_free(&r);
    return v->metric.kind == DREC_M_RMSE ? -x : x; /* higher is better */
}

void drec_run_free(drec_run *r) {
    if (!r) return;
    drec_eval_result_free(&r->eval);
    free(r->loss_curve);
    free(r->val_curve);
    drec_model_free(r->model);
    memset(r, 0, sizeof *r);
}

/* Appends fold result b to the running total a (per-unit values and
 * counts concatenated, values summed for the mean taken at the end). */
static void merge_fold(drec_eval_result *a, drec_eval_result *b, double *sum, double *sumsq, int fold) {
    if (fold == 0) {
        *a = *b;
        for (int j = 0; j < a->n_metrics; j++) {
            sum[j] = a->m[j].value;
            sumsq[j] = a->m[j].value * a->m[j].value;
        }
        memset(b, 0, sizeof *b);
        return;
    }
    for (int j = 0; j < a->n_metrics; j++) {
        drec_metric_result *x = &a->m[j], *y = &b->m[j];
        sum[j] += y->value;
        sumsq[j] += y->value * y->value;
        if (y->per) {
            x->per = drec_realloc(x->per, (x->n_per + y->n_per + 1) * sizeof *x->per);
            memcpy(x->per + x->n_per, y->per, y->n_per * sizeof *y->per);
            x->n_per += y->n_per;
        }
    }
    if (b->lists && a->list_k == b->list_k) {
        a->lists = drec_realloc(a->lists, (a->n_units + b->n_units + 1) * (size_t)a->list_k * sizeof *a->lists);
        memcpy(a->lists + a->n_units * (size_t)a->list_k, b->lists, b->n_units * (size_t)b->list_k * sizeof *b->lists);
    }
    if (a->rec_count && b->rec_count)
        for (int32_t i = 0; i < a->n_items; i++) a->rec_count[i] += b->rec_count[i];
    a->n_units += b->n_units;
    a->n_skipped += b->n_skipped;
    a->n_dropped += b->n_dropped;
    a->n_rows += b->n_rows;
    a->seconds += b->seconds;
    if (!a->note[0]) memcpy(a->note, b->note, sizeof a->note);
    drec_eval_result_free(b);
}

drec_status drec_protocol_run(const char *model, const drec_params *hp, const drec_dataset *ds,
                              const drec_protocol *p, const drec_eval_opts *o, int max_folds, bool keep_model,
                              drec_run *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", model);
    long seed = 1, patience = 0;
    double val_frac = 0.1;
    drec_status st = DREC_OK;
    if (hp) st = drec_params_int(hp, "seed", 1, &seed);
    if (!st && hp) st = drec_params_int(hp, "patience", 0, &patience);
    if (st) return st;
    /* A model that holds out its own validation rows (the CTR models,
     * given val=F) stops early on them; the protocol then only monitors. */
    const drec_model_vt *mvt = drec_model_find(model);
    bool own_val = hp && mvt && (mvt->caps & DREC_CAP_OWN_VAL) && drec_params_get(hp, "val");
    if (!own_val && hp) st = drec_params_float(hp, "val", 0.1, &val_frac);
    if (st) return st;
    if (!own_val && patience > 0 && !(val_frac > 0 && val_frac < 1))
        return drec_fail(DREC_ERR_USAGE, "val: the validation fraction must be in (0, 1)");
    int folds = drec_protocol_folds(p, ds);
    if (max_folds > 0 && folds > max_folds) folds = max_folds;
    drec_eval_opts eo = *o;
    eo.mode = drec_protocol_mode(p);
    if (eo.mode == DREC_EVAL_SAMPLED && eo.n_sampled <= 0) eo.n_sampled = p->n;
    /* With several folds the intervals are taken once, over all folds. */
    if (folds > 1) eo.bootstrap = 0;
    double sum[DREC_MAX_METRICS] = {0}, sumsq[DREC_MAX_METRICS] = {0};
    for (int f = 0; f < folds; f++) {
        drec_eval_split sp;
        st = drec_protocol_split(p, ds, f, (uint64_t)seed, &sp);
        if (st) break;
        /* With patience, the model trains on the training part less a
         * validation part, stops on it and keeps its best epoch; without,
         * the test part's metric is recorded per epoch, for the curve only. */
        drec_eval_split vs = {0};
        bool early = patience > 0 && !own_val;
        if (early && (st = carve_validation(p, sp.train, val_frac, (uint64_t)seed, &vs))) {
            drec_eval_split_free(&sp);
            break;
        }
        val_ctx vc = {.split = early ? &vs : &sp};
        vc.metric = (drec_metric){eo.mode == DREC_EVAL_ROWS ? DREC_M_AUC : DREC_M_NDCG, eo.mode == DREC_EVAL_ROWS ? 0 : 10};
        vc.opts = eo;
        vc.opts.metrics = &vc.metric;
        vc.opts.n_metrics = 1;
        vc.opts.max_units = 2000;
        vc.opts.bootstrap = 0;
        vc.opts.keep_lists = false;
        drec_fit_ctx ctx = {.validate = validate, .user = &vc, .metric_name = NULL,
                            .patience = early ? (int)patience : 0, .keep_best = early};
        /* A rating protocol (only rmse/mae asked) is monitored by RMSE
         * through predict, as -rmse: ranking every item every epoch would
         * cost many times the training of a rating model. */
        const drec_model_vt *vt = drec_model_find(model);
        bool rating_only = eo.n_metrics > 0 && vt && vt->predict;
        for (int j = 0; j < eo.n_metrics && rating_only; j++)
            rating_only = eo.metrics[j].kind == DREC_M_RMSE || eo.metrics[j].kind == DREC_M_MAE;
        if (rating_only) vc.metric = (drec_metric){DREC_M_RMSE, 0};
        char vname[32];
        ctx.metric_name = rating_only ? "-rmse" : drec_metric_name(&vc.metric, vname, sizeof vname);
        drec_model *m = NULL;
        st = drec_model_train_ctx(model, early ? vs.train : sp.train, hp, &ctx, &m);
        drec_eval_split_free(&vs);
        if (st) {
            drec_eval_split_free(&sp);
            break;
        }
        out->train_seconds += m->train_seconds;
        drec_eval_result r;
        st = drec_evaluate(m, &sp, &eo, &r);
        if (st) {
            st = drec_fail_wrap(st, "%s", model);
            drec_model_free(m);
            drec_eval_split_free(&sp);
            break;
        }
        out->eval_seconds += r.seconds;
        if (f == 0) {
            out->n_epochs = m->n_epochs;
            if (m->n_epochs) {
                out->loss_curve = drec_malloc((size_t)m->n_epochs * sizeof *out->loss_curve);
                out->val_curve = drec_malloc((size_t)m->n_epochs * sizeof *out->val_curve);
                memcpy(out->loss_curve, m->loss_curve, (size_t)m->n_epochs * sizeof *out->loss_curve);
                memcpy(out->val_curve, m->val_curve, (size_t)m->n_epochs * sizeof *out->val_curve);
            }
            snprintf(out->val_metric, sizeof out->val_metric, "%s", vname);
            out->val_on_test = !early;
        }
        merge_fold(&out->eval, &r, sum, sumsq, f);
        if (keep_model && f == 0)
            out->model = m;
        else
            drec_model_free(m);
        drec_eval_split_free(&sp);
        out->n_folds = f + 1;
    }
    if (st) {
        drec_run_free(out);
        return st;
    }
    for (int j = 0; j < out->eval.n_metrics; j++) {
        drec_metric_result *r = &out->eval.m[j];
        out->std[j] = NAN;
        if (folds > 1) {
            double mean = sum[j] / folds;
            double var = (sumsq[j] - folds * mean * mean) / (folds - 1);
            r->value = mean;
            out->std[j] = sqrt(var > 0 ? var : 0);
            if (o->bootstrap > 0 && r->per)
                drec_bootstrap_ci(r->per, NULL, r->n_per, r->stat, o->bootstrap, 0.95, o->seed + 7919u * (uint64_t)j,
                                  &r->ci_lo, &r->ci_hi);
        }
    }
    return DREC_OK;
}

/* ---- --test SPEC -------------------------------------------------------------- */

drec_status drec_dataset_attach_test(drec_dataset *ds, drec_dataset *test, size_t *dropped) {
    *dropped = 0;
    drec_status st = drec_ctr_adopt_features(ds, test); /* CTR: one feature dictionary */
    if (st) {
        drec_dataset_free(test);
        return st;
    }
    drec_dataset *t = drec_dataset_subset(ds, NULL, 0);
    t->has_rating = test->has_rating;
    t->has_time = test->has_time;
    for (size_t r = 0; r < test->n; r++) {
        int32_t u = -1, i = -1;
        if (test->user[r] >= 0) u = drec_dataset_user_id(ds, drec_dataset_user_name(test, test->user[r]));
        if (test->item[r] >= 0) i = drec_dataset_item_id(ds, drec_dataset_item_name(test, test->item[r]));
        bool need_ids = ds->kind != DREC_DS_CTR;
        if (need_ids && (u < 0 || i < 0)) {
            (*dropped)++;
            continue;
        }
        drec_ds_push(t, u, i, test->rating[r], test->ts[r]);
        if (test->feat_ptr && t->feat_ptr)
            for (int64_t k = test->feat_ptr[r]; k < test->feat_ptr[r + 1]; k++)
                drec_ds_push_feature(t, test->feat_idx[k], test->feat_val[k]);
    }
    drec_ds_finish(t);
    drec_dataset_free(test);
    if (ds->test) drec_dataset_free(ds->test);
    free(ds->neg_ptr);
    free(ds->neg_idx);
    ds->neg_ptr = NULL;
    ds->neg_idx = NULL;
    ds->test = t;
    if (t->n == 0) return drec_fail(DREC_ERR_INPUT, "--test: none of its rows has a user and item known from --data");
    return DREC_OK;
}

/* ---- comparing runs ------------------------------------------------------ */

drec_best drec_runs_best(const drec_run *runs, int n, int j, uint64_t seed) {
    drec_best b = {-1, -1, NAN, NAN, NAN, false};
    if (n < 1) return b;
    int dir = drec_metric_direction(runs[0].eval.m[j].metric.kind);
    if (dir == 0) return b;
    for (int r = 0; r < n; r++) {
        double v = runs[r].eval.m[j].value;
        if (isnan(v)) continue;
        if (b.best < 0 || dir * v > dir * runs[b.best].eval.m[j].value) {
            b.second = b.best;
            b.best = r;
        } else if (b.second < 0 || dir * v > dir * runs[b.second].eval.m[j].value)
            b.second = r;
    }
    if (b.best < 0 || b.second < 0) return b;
    const drec_metric_result *x = &runs[b.best].eval.m[j], *y = &runs[b.second].eval.m[j];
    if (x->per && y->per && x->n_per == y->n_per && x->n_per >= 2) {
        drec_ttest t = drec_paired_ttest(x->per, y->per, x->n_per);
        b.p_value = t.p;
        /* A lower-is-better metric leads with a negative difference. */
        b.significant = t.p < 0.05 && dir * t.mean_diff > 0;
        drec_bootstrap_ci(x->per, y->per, x->n_per, DREC_STAT_MEAN, 1000, 0.95, seed + 31u * (uint64_t)j, &b.diff_lo,
                          &b.diff_hi);
    }
    return b;
}

