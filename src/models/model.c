/*
 * model.c — what the framework does for every model: training set-up
 * (ids, seen lists, popularity), the per-epoch record, scoring a known user,
 * top-k with exclusions, similar items, and freeing.
 */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void copy_side(drec_model *m, const drec_dataset *train) {
    const drec_side *sd = train->side;
    drec_strmap_copy(&m->users, &sd->users);
    drec_strmap_copy(&m->items, &sd->items);
    m->n_users = train->n_users;
    m->n_items = train->n_items;
    m->item_title = drec_calloc((size_t)m->n_items + 1, sizeof *m->item_title);
    m->item_category = drec_calloc((size_t)m->n_items + 1, sizeof *m->item_category);
    for (int32_t i = 0; i < m->n_items; i++) {
        if (sd->item_title && sd->item_title[i]) m->item_title[i] = drec_strdup(sd->item_title[i]);
        if (sd->item_category && sd->item_category[i] >= 0)
            m->item_category[i] = drec_strdup(drec_strmap_name(&sd->categories, sd->item_category[i]));
    }
    m->seen_ptr = drec_malloc(((size_t)m->n_users + 1) * sizeof *m->seen_ptr);
    memcpy(m->seen_ptr, train->user_ptr, ((size_t)m->n_users + 1) * sizeof *m->seen_ptr);
    size_t ns = (size_t)train->user_ptr[m->n_users];
    m->seen_idx = drec_malloc((ns ? ns : 1) * sizeof *m->seen_idx);
    memcpy(m->seen_idx, train->user_items, ns * sizeof *m->seen_idx);
    m->item_count = drec_ds_item_counts(train);
}

/* The best epoch so far, saved whole (every model can save itself), so
 * that training can end on it after later epochs did worse. */
static void snapshot_best(drec_model *m) {
    if (!m->best_path) {
        const char *dir = getenv("TMPDIR");
        char tmpl[4096];
        snprintf(tmpl, sizeof tmpl, "%s/drec-best-XXXXXX", dir && *dir ? dir : "/tmp");
        int fd = mkstemp(tmpl);
        if (fd < 0) {
            drec_warn("%s: cannot keep the best epoch (%s: %s)", m->vt->name, tmpl, strerror(errno));
            return;
        }
        close(fd);
        m->best_path = drec_strdup(tmpl);
    }
    if (drec_model_save(m, m->best_path) != DREC_OK) {
        drec_warn("%s: cannot keep the best epoch: %s", m->vt->name, drec_errmsg());
        drec_clear_error();
        m->best_epoch = -1; /* the snapshot on disk is not this epoch's */
    }
}

/* Swaps *mp for its best-epoch snapshot, keeping the training record. */
static drec_status restore_best(drec_model **mp) {
    drec_model *m = *mp, *b;
    drec_status st = drec_model_load(m->best_path, &b);
    if (st) return st;
    drec_note("%s: keeping epoch %d, the best on validation (%.4f)", m->vt->name, m->best_epoch + 1, m->best_val);
#define MOVE(f) (b->f = m->f)
    free(b->loss_curve);
    free(b->val_curve);
    MOVE(n_epochs), MOVE(loss_curve), MOVE(val_curve), MOVE(train_seconds), MOVE(val_seconds);
    MOVE(train_cpu_seconds), MOVE(val_cpu_seconds);
    MOVE(best_epoch), MOVE(best_val), MOVE(best_path);
#undef MOVE
    m->loss_curve = m->val_curve = NULL;
    m->best_path = NULL;
    drec_model_free(m);
    *mp = b;
    return DREC_OK;
}

drec_status drec_model_train_ctx(const char *name, const drec_dataset *train, const drec_params *params,
                                 const drec_fit_ctx *ctx, drec_model **out) {
    *out = NULL;
    const drec_model_vt *vt = drec_model_find(name);
    if (!vt) {
        char list[512] = "";
        for (int k = 0; drec_model_table[k]; k++) {
            strncat(list, k ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, drec_model_table[k]->name, sizeof list - strlen(list) - 1);
        }
        return drec_fail(DREC_ERR_USAGE, "unknown model \"%s\" (known: %s)", name, list);
    }
    if (train->n == 0) return drec_fail(DREC_ERR_INPUT, "%s: the training data has no rows", name);
    drec_model *m = drec_calloc(1, sizeof *m);
    m->vt = vt;
    m->params = drec_params_clone(params);
    long seed, threads;
    drec_status st = drec_params_int(m->params, "seed", 1, &seed);
    if (!st) st = drec_params_int(m->params, "threads", 0, &threads);
    if (st) {
        drec_model_free(m);
        return st;
    }
    m->seed = (uint64_t)seed;
    m->threads = (int)threads;
    if (threads > 0) drec_set_threads((int)threads);
    copy_side(m, train);
    m->fit_ctx = ctx;
    m->best_val = -INFINITY;
    m->best_epoch = -1;
    drec_progress_begin(&m->progress, vt->name, 0);
    double t0 = drec_now(), c0 = drec_cpu_now();
    st = vt->fit(m, train, m->params);
    m->train_seconds = drec_now() - t0 - m->val_seconds;
    m->train_cpu_seconds = drec_cpu_now() - c0 - m->val_cpu_seconds;
    drec_progress_end(&m->progress);
    m->fit_ctx = NULL;
    if (!st && ctx) {
        long used; /* read by the protocol, on the model's behalf */
        double fused;
        if (drec_params_get(m->params, "patience")) drec_params_int(m->params, "patience", 0, &used);
        if (drec_params_get(m->params, "val")) drec_params_float(m->params, "val", 0, &fused);
    }
    if (!st) drec_params_report_unused(m->params, vt->name);
    if (!st && m->best_path && m->best_epoch >= 0 && m->best_epoch < m->n_epochs - 1) st = restore_best(&m);
    if (m->best_path) {
        unlink(m->best_path);
        free(m->best_path);
        m->best_path = NULL;
    }
    if (st) {
        drec_model_free(m);
        return drec_fail_wrap(st, "%s", name);
    }
    *out = m;
    return DREC_OK;
}

drec_status drec_model_train(const char *name, const drec_dataset *train, const drec_params *params,
                             drec_model **out) {
    return drec_model_train_ctx(name, train, params, NULL, out);
}

bool drec_fit_epoch(drec_model *m, int epoch, int total_epochs, double loss) {
    if (epoch >= m->n_epochs) {
        m->loss_curve = drec_realloc(m->loss_curve, (size_t)(epoch + 1) * sizeof *m->loss_curve);
        m->val_curve = drec_realloc(m->val_curve, (size_t)(epoch + 1) * sizeof *m->val_curve);
        for (int e = m->n_epochs; e <= epoch; e++) m->loss_curve[e] = m->val_curve[e] = NAN;
        m->n_epochs = epoch + 1;
    }
    m->loss_curve[epoch] = (float)loss;
    const drec_fit_ctx *ctx = m->fit_ctx;
    double val = NAN;
    if (ctx && ctx->validate) {
        double t0 = drec_now(), c0 = drec_cpu_now();
        val = ctx->validate(m, ctx->user);
        m->val_seconds += drec_now() - t0;
        m->val_cpu_seconds += drec_cpu_now() - c0;
        m->val_curve[epoch] = (float)val;
    }
    if (m->progress.total == 0) m->progress.total = (size_t)total_epochs;
    if (!isnan(val))
        drec_progress_extra(&m->progress, "epoch %d/%d loss %.4f %s %.4f", epoch + 1, total_epochs, loss,
                            ctx->metric_name ? ctx->metric_name : "val", val);
    else
        drec_progress_extra(&m->progress, "epoch %d/%d loss %.4f", epoch + 1, total_epochs, loss);
    drec_progress_tick(&m->progress, 1);
    drec_verbose("%s: epoch %d/%d loss %.5f", m->vt->name, epoch + 1, total_epochs, loss);
    if (!isnan(val)) {
        if (val > m->best_val) {
            m->best_val = val;
            m->best_epoch = epoch;
            if (ctx->keep_best) snapshot_best(m);
        } else if (ctx->patience > 0 && epoch - m->best_epoch >= ctx->patience) {
            drec_note("%s: stopping early at epoch %d (best %s %.4f at epoch %d)", m->vt->name, epoch + 1,
                      ctx->metric_name ? ctx->metric_name : "val", m->best_val, m->best_epoch + 1);
            return true;
        }
    }
    return false;
}

void drec_model_score_user(const drec_model *m, int32_t u, const int32_t *items, int n, float *out) {
    drec_query q = {.user = u};
    if (u >= 0 && u < m->n_users) {
        q.hist = m->seen_idx + m->seen_ptr[u];
        q.n_hist = (int)(m->seen_ptr[u + 1] - m->seen_ptr[u]);
    }
    m->vt->score(m, &q, items, n, out);
}


int drec_model_recommend_query(const drec_model *m, const drec_query *q, int k, const int32_t *exclude,
                               int n_exclude, drec_scored *out) {
    if (k <= 0 || m->n_items == 0) return 0;
    float *scores = drec_malloc((size_t)m->n_items * sizeof *scores);
    m->vt->score(m, q, NULL, 0, scores);
    for (int j = 0; j < n_exclude; j++)
        if (exclude[j] >= 0 && exclude[j] < m->n_items) scores[exclude[j]] = -INFINITY;
    drec_topk t;
    drec_topk_init(&t, out, k);
    for (int32_t i = 0; i < m->n_items; i++)
        if (scores[i] != -INFINITY && !isnan(scores[i])) drec_topk_push(&t, i, scores[i]);
    free(scores);
    return drec_topk_finish(&t);
}

int drec_model_recommend(const drec_model *m, int32_t u, int k, int exclude_seen, drec_scored *out) {
    drec_query q = {.user = u};
    const int32_t *ex = NULL;
    int n_ex = 0;
    if (u >= 0 && u < m->n_users) {
        q.hist = m->seen_idx + m->seen_ptr[u];
        q.n_hist = (int)(m->seen_ptr[u + 1] - m->seen_ptr[u]);
        if (exclude_seen) {
            ex = q.hist;
            n_ex = q.n_hist;
        }
    }
    return drec_model_recommend_query(m, &q, k, ex, n_ex, out);
}

drec_status drec_model_similar(const drec_model *m, int32_t i, int k, drec_scored *out, int *n_out) {
    *n_out = 0;
    if (i < 0 || i >= m->n_items) return drec_fail(DREC_ERR_USAGE, "item id %d out of range", i);
    if (!m->vt->item_vector) {
        /* Fall back on the model's own view: score a user whose history is
         * just this item (works for neighbourhood and sequence models). */
        if (!(m->vt->caps & (DREC_CAP_FOLDIN | DREC_CAP_SEQ | DREC_CAP_SIMILAR)))
            return drec_fail(DREC_ERR_UNSUPPORTED, "model %s has no item similarity", m->vt->name);
        drec_query q = {.user = -1, .hist = &i, .n_hist = 1};
        *n_out = drec_model_recommend_query(m, &q, k, &i, 1, out);
        return DREC_OK;
    }
    int dim;
    const float *v = m->vt->item_vector(m, i, &dim);
    double nv = 0;
    for (int d = 0; d < dim; d++) nv += (double)v[d] * v[d];
    drec_topk t;
    drec_topk_init(&t, out, k);
    for (int32_t j = 0; j < m->n_items; j++) {
        if (j == i) continue;
        int dj;
        const float *w = m->vt->item_vector(m, j, &dj);
        double dot = 0, nw = 0;
        for (int d = 0; d < dim; d++) {
            dot += (double)v[d] * w[d];
            nw += (double)w[d] * w[d];
        }
        drec_topk_push(&t, j, (float)(dot / (sqrt(nv * nw) + 1e-12)));
    }
    *n_out = drec_topk_finish(&t);
    return DREC_OK;
}

void drec_model_free(drec_model *m) {
    if (!m) return;
    if (m->vt && m->vt->free_state && m->state) m->vt->free_state(m);
    drec_params_free(m->params);
    drec_strmap_free(&m->users);
    drec_strmap_free(&m->items);
    for (int32_t i = 0; i < m->n_items; i++) {
        if (m->item_title) free(m->item_title[i]);
        if (m->item_category) free(m->item_category[i]);
    }
    free(m->item_title);
    free(m->item_category);
    free(m->seen_ptr);
    free(m->seen_idx);
    free(m->item_count);
    free(m->loss_curve);
    free(m->val_curve);
    free(m);
}

const char *drec_model_name(const drec_model *m) { return m->vt->name; }
int32_t drec_model_user_id(const drec_model *m, const char *name) {
    return drec_strmap_find(&m->users, name, strlen(name));
}
int32_t drec_model_item_id(const drec_model *m, const char *name) {
    return drec_strmap_find(&m->items, name, strlen(name));
}
const char *drec_model_user_name(const drec_model *m, int32_t u) { return drec_strmap_name(&m->users, u); }
const char *drec_model_item_name(const drec_model *m, int32_t i) { return drec_strmap_name(&m->items, i); }
