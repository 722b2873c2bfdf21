/*
 * sampler.c — negative sampling: Walker's alias method for popularity^alpha
 * and rejection of seen items against per-user sorted item lists (see
 * sampler.h for the contract).
 */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>

/* ---- alias method ------------------------------------------------------ */

bool drec_alias_build(drec_alias *a, const double *w, int32_t n) {
    memset(a, 0, sizeof *a);
    double total = 0;
    for (int32_t i = 0; i < n; i++) total += w[i] > 0 ? w[i] : 0;
    if (n <= 0 || !(total > 0)) return false;
    a->n = n;
    a->prob = drec_malloc((size_t)n * sizeof *a->prob);
    a->alias = drec_malloc((size_t)n * sizeof *a->alias);
    double *q = drec_malloc((size_t)n * sizeof *q);
    int32_t *small = drec_malloc((size_t)n * sizeof *small), *large = drec_malloc((size_t)n * sizeof *large);
    int32_t ns = 0, nl = 0;
    for (int32_t i = 0; i < n; i++) {
        q[i] = (w[i] > 0 ? w[i] : 0) * n / total;
        a->alias[i] = i;
        if (q[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
        int32_t s = small[--ns], l = large[nl - 1];
        a->prob[s] = (float)q[s];
        a->alias[s] = l;
        q[l] -= 1.0 - q[s];
        if (q[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    /* What is left is 1 up to rounding. */
    while (nl > 0) a->prob[large[--nl]] = 1.0f;
    while (ns > 0) a->prob[small[--ns]] = 1.0f;
    free(q);
    free(small);
    free(large);
    return true;
}

int32_t drec_alias_draw(const drec_alias *a, drec_rng *r) {
    int32_t col = (int32_t)drec_rng_below(r, (uint32_t)a->n);
    return drec_rng_float(r) < a->prob[col] ? col : a->alias[col];
}

void drec_alias_free(drec_alias *a) {
    free(a->prob);
    free(a->alias);
    memset(a, 0, sizeof *a);
}

/* ---- sampler ------------------------------------------------------------- */

static int cmp_i32(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

drec_sampler *drec_sampler_new(const drec_dataset *data, double alpha, uint64_t seed) {
    drec_sampler *s = drec_calloc(1, sizeof *s);
    s->n_users = data->n_users;
    s->n_items = data->n_items;
    s->alpha = alpha > 0 ? alpha : 0;
    drec_rng_seed(&s->rng, seed);
    size_t total = (size_t)data->user_ptr[data->n_users];
    s->ptr = drec_malloc(((size_t)s->n_users + 1) * sizeof *s->ptr);
    s->items = drec_malloc((total ? total : 1) * sizeof *s->items);
    int64_t m = 0;
    s->ptr[0] = 0;
    for (int32_t u = 0; u < s->n_users; u++) {
        int64_t a = data->user_ptr[u], b = data->user_ptr[u + 1], start = m;
        for (int64_t k = a; k < b; k++)
            if (data->user_items[k] >= 0) s->items[m++] = data->user_items[k];
        qsort(s->items + start, (size_t)(m - start), sizeof *s->items, cmp_i32);
        int64_t w = start;
        for (int64_t k = start; k < m; k++)
            if (k == start || s->items[k] != s->items[w - 1]) s->items[w++] = s->items[k];
        m = w;
        s->ptr[u + 1] = m;
    }
    s->words = ((int64_t)s->n_items + 63) / 64;
    if (s->n_users > 0 && s->words * 8 <= DREC_SAMPLER_BITMAP / s->n_users) {
        s->seen_bits = drec_calloc((size_t)s->n_users * (size_t)s->words, sizeof *s->seen_bits);
        for (int32_t u = 0; u < s->n_users; u++)
            for (int64_t k = s->ptr[u]; k < s->ptr[u + 1]; k++)
                s->seen_bits[u * s->words + (s->items[k] >> 6)] |= (uint64_t)1 << (s->items[k] & 63);
    }
    if (s->alpha > 0 && s->n_items > 0) {
        s->weight = drec_malloc((size_t)s->n_items * sizeof *s->weight);
        for (int32_t i = 0; i < s->n_items; i++) {
            double c = (double)(data->item_ptr[i + 1] - data->item_ptr[i]);
            s->weight[i] = c > 0 ? pow(c, s->alpha) : 0;
        }
        if (!drec_alias_build(&s->alias, s->weight, s->n_items)) {
            free(s->weight); /* no popularity at all: uniform it is */
            s->weight = NULL;
            s->alpha = 0;
        }
    }
    return s;
}

void drec_sampler_free(drec_sampler *s) {
    if (!s) return;
    free(s->ptr);
    free(s->items);
    free(s->seen_bits);
    free(s->weight);
    drec_alias_free(&s->alias);
    free(s);
}

const int32_t *drec_sampler_user_items(const drec_sampler *s, int32_t user, int64_t *n) {
    if (user < 0 || user >= s->n_users) {
        *n = 0;
        return s->items;
    }
    *n = s->ptr[user + 1] - s->ptr[user];
    return s->items + s->ptr[user];
}

static bool in_sorted(const int32_t *a, int64_t n, int32_t x) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = (lo + hi) >> 1;
        if (a[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo] == x;
}

static inline bool bit_seen(const drec_sampler *s, int32_t user, int32_t item) {
    return s->seen_bits[user * s->words + (item >> 6)] >> (item & 63) & 1;
}

bool drec_sampler_seen(const drec_sampler *s, int32_t user, int32_t item) {
    if (s->seen_bits && user >= 0 && user < s->n_users && item >= 0 && item < s->n_items)
        return bit_seen(s, user, item);
    int64_t n;
    const int32_t *a = drec_sampler_user_items(s, user, &n);
    return in_sorted(a, n, item);
}

static int32_t draw_any(const drec_sampler *s, drec_rng *r) {
    return s->weight ? drec_alias_draw(&s->alias, r) : (int32_t)drec_rng_below(r, (uint32_t)s->n_items);
}

/* The exact fallback for users who have seen most of the catalogue: one
 * pass over the unseen items (weighted when popularity-based; uniform when
 * every unseen item has weight 0). */
static int32_t draw_exact(const drec_sampler *s, drec_rng *r, const int32_t *seen, int64_t n_seen) {
    int64_t n_unseen = s->n_items - n_seen;
    if (n_unseen <= 0) return -1;
    double total = 0;
    if (s->weight) {
        int64_t k = 0;
        for (int32_t i = 0; i < s->n_items; i++) {
            while (k < n_seen && seen[k] < i) k++;
            if (k < n_seen && seen[k] == i) continue;
            total += s->weight[i];
        }
    }
    if (total > 0) {
        double x = drec_rng_double(r) * total;
        int64_t k = 0;
        int32_t last = -1;
        for (int32_t i = 0; i < s->n_items; i++) {
            while (k < n_seen && seen[k] < i) k++;
            if (k < n_seen && seen[k] == i) continue;
            if (s->weight[i] <= 0) continue;
            last = i;
            x -= s->weight[i];
            if (x < 0) return i;
        }
        return last;
    }
    int64_t target = (int64_t)drec_rng_below(r, (uint32_t)n_unseen), k = 0;
    for (int32_t i = 0; i < s->n_items; i++) {
        while (k < n_seen && seen[k] < i) k++;
        if (k < n_seen && seen[k] == i) continue;
        if (target-- == 0) return i;
    }
    return -1;
}

int32_t drec_sampler_neg(drec_sampler *s, drec_rng *rng, int32_t user) {
    drec_rng *r = rng ? rng : &s->rng;
    if (s->n_items <= 0) return -1;
    int64_t n_seen;
    const int32_t *seen = drec_sampler_user_items(s, user, &n_seen);
    if (n_seen >= s->n_items) return -1;
    /* Rejection costs 1 / (unseen share) draws on average; past 64 tries the
     * user has seen nearly everything and the exact scan is cheaper. */
    bool bits = s->seen_bits && user >= 0 && user < s->n_users;
    for (int t = 0; t < 64; t++) {
        int32_t i = draw_any(s, r);
        if (bits ? !bit_seen(s, user, i) : !in_sorted(seen, n_seen, i)) return i;
    }
    return draw_exact(s, r, seen, n_seen);
}

int drec_sampler_negs(drec_sampler *s, drec_rng *rng, int32_t user, int32_t *out, int n) {
    for (int k = 0; k < n; k++) {
        out[k] = drec_sampler_neg(s, rng, user);
        if (out[k] < 0) return 0;
    }
    return n;
}

int drec_sampler_negs_distinct(drec_sampler *s, drec_rng *rng, int32_t user, int32_t *out, int n) {
    drec_rng *r = rng ? rng : &s->rng;
    int64_t n_seen;
    const int32_t *seen = drec_sampler_user_items(s, user, &n_seen);
    int64_t n_unseen = s->n_items - n_seen;
    if (n <= 0 || n_unseen <= 0) return 0;
    if (n_unseen <= n) {
        /* Every unseen item, in a seeded order. */
        int m = 0;
        int64_t k = 0;
        for (int32_t i = 0; i < s->n_items; i++) {
            while (k < n_seen && seen[k] < i) k++;
            if (k < n_seen && seen[k] == i) continue;
            out[m++] = i;
        }
        drec_rng_shuffle_i32(r, out, (size_t)m);
        return m;
    }
    /* Rejection against seen and already-drawn items; a small open-address
     * set keeps the drawn ones (n is typically 100). */
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap <<= 1;
    int32_t *set = drec_malloc(cap * sizeof *set);
    for (size_t k = 0; k < cap; k++) set[k] = -1;
    int m = 0, fails = 0;
    while (m < n) {
        int32_t i = fails < 64 * n ? draw_any(s, r) : draw_exact(s, r, seen, n_seen);
        bool bad = i < 0 || in_sorted(seen, n_seen, i);
        size_t h = 0;
        if (!bad) {
            h = ((uint32_t)i * 2654435761u) & (cap - 1);
            while (set[h] >= 0 && set[h] != i) h = (h + 1) & (cap - 1);
            bad = set[h] == i;
        }
        if (bad) {
            /* Popularity draws may keep hitting the same few heavy items:
             * after many misses take the remaining unseen items uniformly. */
            if (++fails > 64 * n + 4 * n) {
                int32_t *rest = drec_malloc((size_t)n_unseen * sizeof *rest);
                int nr = 0;
                int64_t k = 0;
                for (int32_t j = 0; j < s->n_items; j++) {
                    while (k < n_seen && seen[k] < j) k++;
                    if (k < n_seen && seen[k] == j) continue;
                    size_t g = ((uint32_t)j * 2654435761u) & (cap - 1);
                    while (set[g] >= 0 && set[g] != j) g = (g + 1) & (cap - 1);
                    if (set[g] != j) rest[nr++] = j;
                }
                drec_rng_shuffle_i32(r, rest, (size_t)nr);
                for (int j = 0; j < nr && m < n; j++) out[m++] = rest[j];
                free(rest);
                break;
            }
            continue;
        }
        set[h] = i;
        out[m++] = i;
    }
    free(set);
    return m;
}
