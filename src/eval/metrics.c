/*
 * metrics.c — the per-user, per-row and per-list metric formulas (the
 * definitions and the tie rule are in metrics.h).
 */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const struct {
    const char *name;
    bool at_k;
    int dir;
} info[DREC_M_COUNT] = {
    [DREC_M_RMSE] = {"rmse", false, -1},       [DREC_M_MAE] = {"mae", false, -1},
    [DREC_M_AUC] = {"auc", false, 1},          [DREC_M_LOGLOSS] = {"logloss", false, -1},
    [DREC_M_HR] = {"hr", true, 1},             [DREC_M_PRECISION] = {"precision", true, 1},
    [DREC_M_RECALL] = {"recall", true, 1},     [DREC_M_NDCG] = {"ndcg", true, 1},
    [DREC_M_MRR] = {"mrr", true, 1},           [DREC_M_MAP] = {"map", true, 1},
    [DREC_M_COVERAGE] = {"coverage", true, 1}, [DREC_M_NOVELTY] = {"novelty", true, 1},
    [DREC_M_DIVERSITY] = {"diversity", true, 1}, [DREC_M_ARP] = {"arp", true, 0},
};

const char *drec_metric_base(drec_metric_kind kind) { return kind < DREC_M_COUNT ? info[kind].name : "?"; }
bool drec_metric_has_k(drec_metric_kind kind) { return kind < DREC_M_COUNT && info[kind].at_k; }
int drec_metric_direction(drec_metric_kind kind) { return kind < DREC_M_COUNT ? info[kind].dir : 0; }

const char *drec_metric_name(const drec_metric *m, char *buf, size_t n) {
    if (drec_metric_has_k(m->kind))
        snprintf(buf, n, "%s@%d", info[m->kind].name, m->k);
    else
        snprintf(buf, n, "%s", info[m->kind].name);
    return buf;
}

drec_status drec_metrics_parse(const char *list, drec_metric *out, int max, int *n) {
    *n = 0;
    const char *p = list;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char tok[64];
        if (len == 0 || len >= sizeof tok) {
            if (len == 0) {
                p = e ? e + 1 : NULL;
                continue;
            }
            return drec_fail(DREC_ERR_USAGE, "metric \"%.*s\" is too long", (int)len, p);
        }
        memcpy(tok, p, len);
        tok[len] = 0;
        char *at = strchr(tok, '@');
        int k = 10;
        if (at) {
            *at = 0;
            char *end;
            long v = strtol(at + 1, &end, 10);
            if (*end || v < 1 || v > 100000)
                return drec_fail(DREC_ERR_USAGE, "metric \"%.*s\": K must be a whole number 1..100000", (int)len, p);
            k = (int)v;
        }
        int kind = -1;
        for (int j = 0; j < DREC_M_COUNT; j++)
            if (strcmp(tok, info[j].name) == 0) kind = j;
        if (kind < 0)
            return drec_fail(DREC_ERR_USAGE,
                             "unknown metric \"%.*s\" (known: rmse mae auc logloss hr@K precision@K recall@K "
                             "ndcg@K mrr@K map@K coverage@K novelty@K diversity@K arp@K)",
                             (int)len, p);
        if (at && !info[kind].at_k)
            return drec_fail(DREC_ERR_USAGE, "metric \"%.*s\": %s takes no @K", (int)len, p, info[kind].name);
        if (*n >= max) return drec_fail(DREC_ERR_USAGE, "too many metrics (at most %d)", max);
        out[*n].kind = (drec_metric_kind)kind;
        out[*n].k = info[kind].at_k ? k : 0;
        (*n)++;
        p = e ? e + 1 : NULL;
    }
    if (*n == 0) return drec_fail(DREC_ERR_USAGE, "empty metric list");
    return DREC_OK;
}

double drec_rank_metric(drec_metric_kind kind, int k, const int64_t *ranks, int n_rel) {
    if (n_rel <= 0) return NAN;
    int hits = 0;
    double dcg = 0, ap = 0;
    for (int j = 0; j < n_rel && ranks[j] <= k; j++) {
        hits++;
        dcg += 1.0 / log2((double)ranks[j] + 1.0);
        ap += (double)(j + 1) / (double)ranks[j];
    }
    int ideal = n_rel < k ? n_rel : k;
    switch (kind) {
    case DREC_M_HR: return hits > 0;
    case DREC_M_PRECISION: return (double)hits / k;
    case DREC_M_RECALL: return (double)hits / n_rel;
    case DREC_M_NDCG: {
        double idcg = 0;
        for (int j = 1; j <= ideal; j++) idcg += 1.0 / log2(j + 1.0);
        return dcg / idcg;
    }
    case DREC_M_MRR: return ranks[0] <= k ? 1.0 / (double)ranks[0] : 0.0;
    case DREC_M_MAP: return ap / ideal;
    default: return NAN;
    }
}

int64_t drec_rank_of(float s, const float *cand, size_t n) {
    int64_t r = 1;
    if (isnan(s)) return (int64_t)n + 1;
    for (size_t j = 0; j < n; j++) r += !(cand[j] < s);
    return r;
}

typedef struct {
    float s;
    float y;
} scored_row;
static int cmp_scored(const void *a, const void *b) {
    float x = ((const scored_row *)a)->s, y = ((const scored_row *)b)->s;
    return (x > y) - (x < y);
}

double drec_auc(const float *score, const float *label, size_t n) {
    scored_row *v = drec_malloc((n ? n : 1) * sizeof *v);
    for (size_t j = 0; j < n; j++) v[j] = (scored_row){isnan(score[j]) ? -INFINITY : score[j], label[j]};
    qsort(v, n, sizeof *v, cmp_scored);
    /* Sum of the (average, for ties) ranks of the positives. */
    double n_pos = 0, rank_sum = 0;
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && v[b].s == v[a].s) b++;
        double avg = (double)(a + 1 + b) / 2.0; /* ranks a+1..b */
        for (size_t j = a; j < b; j++)
            if (v[j].y > 0.5f) {
                n_pos++;
                rank_sum += avg;
            }
        a = b;
    }
    free(v);
    double n_neg = (double)n - n_pos;
    if (n_pos == 0 || n_neg == 0) return NAN;
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg);
}

double drec_logloss(float p, float y) {
    double q = p < 1e-7f ? 1e-7 : p > 1 - 1e-7 ? 1 - 1e-7 : (double)p;
    if (isnan(p)) q = 0.5;
    return -((double)y * log(q) + (1.0 - (double)y) * log(1.0 - q));
}

double drec_list_novelty(const int32_t *list, int n, const int32_t *count, double n_users) {
    if (n <= 0 || n_users <= 0) return NAN;
    double s = 0;
    for (int j = 0; j < n; j++) {
        double c = count[list[j]] > 0 ? count[list[j]] : 1;
        s += -log2(c / n_users);
    }
    return s / n;
}

double drec_list_arp(const int32_t *list, int n, const int32_t *count) {
    if (n <= 0) return NAN;
    double s = 0;
    for (int j = 0; j < n; j++) s += count[list[j]];
    return s / n;
}

double drec_list_diversity(const int32_t *list, int n, double (*sim)(int32_t a, int32_t b, void *ctx), void *ctx) {
    if (n < 2) return NAN;
    double s = 0;
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++) s += 1.0 - sim(list[a], list[b], ctx);
    return s / ((double)n * (n - 1) / 2.0);
}
