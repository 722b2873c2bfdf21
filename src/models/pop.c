/*
 * pop.c — popularity: items ranked by how many users had them in training,
 * optionally only within a recent window (--window SECONDS before the last
 * event).  The cold-start fallback of every other model.
 */
#include "model.h"

#include <stdlib.h>

typedef struct pop_state {
    float *score; /* (I) */
} pop_state;

static drec_status pop_fit(drec_model *m, const drec_dataset *train, const drec_params *p) {
    double window;
    drec_status st = drec_params_float(p, "window", 0, &window);
    if (st) return st;
    pop_state *s = drec_calloc(1, sizeof *s);
    s->score = drec_calloc((size_t)train->n_items + 1, sizeof *s->score);
    int64_t t_max = 0;
    for (size_t r = 0; r < train->n; r++) t_max = DREC_MAX(t_max, train->ts[r]);
    for (size_t r = 0; r < train->n; r++) {
        if (train->item[r] < 0) continue;
        if (window > 0 && train->has_time && (double)(t_max - train->ts[r]) > window) continue;
        s->score[train->item[r]] += 1.0f;
    }
    m->state = s;
    return DREC_OK;
}

static void pop_score(const drec_model *m, const drec_query *q, const int32_t *items, int n, float *out) {
    const pop_state *s = m->state;
    if (!items) {
        memcpy(out, s->score, (size_t)m->n_items * sizeof *out);
        return;
    }
    for (int k = 0; k < n; k++) out[k] = items[k] >= 0 && items[k] < m->n_items ? s->score[items[k]] : 0;
}

static drec_status pop_save(const drec_model *m, drec_mf_writer *w) {
    const pop_state *s = m->state;
    return drec_mf_put_f32(w, "score", s->score, m->n_items, 0);
}

static drec_status pop_load(drec_model *m, drec_mf_reader *r) {
    pop_state *s = drec_calloc(1, sizeof *s);
    m->state = s;
    return drec_mf_get_f32(r, "score", m->n_items, 0, &s->score);
}

static void pop_free(drec_model *m) {
    pop_state *s = m->state;
    if (!s) return;
    free(s->score);
    free(s);
}

const drec_model_vt drec_pop_vt = {
    .name = "pop",
    .summary = "popularity (overall, or within --window seconds of the last event)",
    .caps = DREC_CAP_RANK,
    .fit = pop_fit,
    .score = pop_score,
    .save = pop_save,
    .load = pop_load,
    .free_state = pop_free,
};
