/*
 * cold_items.c — the cold-item protocol the standard ones do not measure:
 * a random 10% of the items lose every interaction from training (they
 * are in the catalogue, with their titles and genres, but nobody has had
 * them), and each user who had any of them in the data ranks all cold items;
 * recall@10 is the share of the user's cold items in that top 10 (ties count
 * against), averaged over users.  Content-based and hybrid models should
 * find them, collaborative ones cannot.
 *
 * Build (from the repository root, after the main build):
 *   cc -O2 -fopenmp -Isrc -Iinclude bench/cold_items.c build/libdrec.a \
 *      $(pkg-config --libs jansson libmicrohttpd sqlite3 libxxhash openblas) -lm -o build/cold_items
 * Run:
 *   build/cold_items movielens:../shared/data/movielens-100k pop als tfidf hybrid
 */
#include "data/dataset.h"
#include "models/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: cold_items SPEC MODEL...\n");
        return 1;
    }
    drec_set_verbosity(0);
    drec_dataset *ds;
    if (drec_dataset_load(argv[1], &ds)) {
        fprintf(stderr, "%s\n", drec_errmsg());
        return 1;
    }
    drec_rng rng;
    drec_rng_seed(&rng, 42);
    char *cold = calloc((size_t)ds->n_items, 1);
    int32_t *cold_ids = malloc((size_t)ds->n_items * sizeof *cold_ids), n_cold = 0;
    for (int32_t i = 0; i < ds->n_items; i++)
        if (drec_rng_double(&rng) < 0.1) {
            cold[i] = 1;
            cold_ids[n_cold++] = i;
        }
    size_t *rows = malloc(ds->n * sizeof *rows), n = 0;
    for (size_t r = 0; r < ds->n; r++)
        if (!cold[ds->item[r]]) rows[n++] = r;
    drec_dataset *train = drec_dataset_subset(ds, rows, n);
    free(rows);
    printf("{\"data\": \"%s\", \"cold_items\": %d, \"results\": [", argv[1], n_cold);
    float *sc = malloc((size_t)n_cold * sizeof *sc);
    for (int a = 2; a < argc; a++) {
        drec_params *p = drec_params_new();
        drec_model *m;
        if (drec_model_train(argv[a], train, p, &m)) {
            fprintf(stderr, "%s: %s\n", argv[a], drec_errmsg());
            return 1;
        }
        double recall = 0;
        int users = 0;
        for (int32_t u = 0; u < ds->n_users; u++) {
            int pos = 0;
            for (int64_t j = ds->user_ptr[u]; j < ds->user_ptr[u + 1]; j++) pos += cold[ds->user_items[j]];
            if (!pos || drec_ds_user_count(train, u) < 5) continue;
            drec_model_score_user(m, u, cold_ids, n_cold, sc);
            int hit = 0;
            for (int c = 0; c < n_cold; c++) {
                if (!drec_ds_user_has(ds, u, cold_ids[c])) continue;
                int rank = 0; /* other cold items scoring at least as high */
                for (int d = 0; d < n_cold; d++)
                    rank += d != c && !drec_ds_user_has(ds, u, cold_ids[d]) && sc[d] >= sc[c];
                hit += rank < 10;
            }
            recall += (double)hit / DREC_MIN(pos, 10);
            users++;
        }
        printf("%s{\"model\": \"%s\", \"users\": %d, \"recall@10\": %.4f}", a > 2 ? ", " : "", argv[a], users,
               recall / users);
        fflush(stdout);
        drec_model_free(m);
        drec_params_free(p);
    }
    printf("]}\n");
    free(sc);
    free(cold);
    free(cold_ids);
    drec_dataset_free(train);
    drec_dataset_free(ds);
    return 0;
}
