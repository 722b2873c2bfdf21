/*
 * ml100k_folds.c — rating-prediction benchmark of the rating models on
 * MovieLens-100K, through the library only (no evaluation module needed):
 * for each model, the mean RMSE/MAE over the official u1..u5 base/test
 * folds, or over a random 5-fold split of u.data (seeded), and the time for
 * all five folds (training + prediction), wall clock and CPU.
 *
 *   (built with the rest: cmake --build build)
 *   build/ml100k_folds ../shared/data/movielens-100k official mf svdpp itemknn
 *   build/ml100k_folds ../shared/data/movielens-100k random mf k=40
 *
 * Arguments after the split are model names, each optionally followed by
 * key=value hyper-parameters that apply to it.
 */
#include "drec.h"
#include "data/dataset.h"
#include "models/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* CPU seconds of the whole process (all threads): on a shared machine this
 * is steadier than the wall clock. */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Appends the rows of a MovieLens u.data-style file (user item rating ts). */
static int load_rows(drec_dataset *ds, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char u[32], i[32];
    float r;
    long long t;
    int n = 0;
    while (fscanf(f, "%31s %31s %f %lld", u, i, &r, &t) == 4) {
        drec_ds_push(ds, drec_ds_user(ds, u, strlen(u)), drec_ds_item(ds, i, strlen(i)), r, (int64_t)t);
        n++;
    }
    fclose(f);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s DIR official|random MODEL [k=v ...] [MODEL ...]\n", argv[0]);
        return 1;
    }
    const char *dir = argv[1];
    bool official = strcmp(argv[2], "official") == 0;
    char path[4096];
    /* One dataset holding every fold's rows, so all folds share ids:
     * official: u1.base, u1.test, u2.base, ...; random: u.data. */
    drec_dataset *all = drec_ds_new(DREC_DS_INTERACTIONS, "ml100k");
    size_t start[11] = {0};
    if (official) {
        for (int f = 0; f < 5; f++) {
            for (int part = 0; part < 2; part++) {
                snprintf(path, sizeof path, "%s/u%d.%s", dir, f + 1, part ? "test" : "base");
                if (load_rows(all, path) < 0) {
                    fprintf(stderr, "cannot read %s\n", path);
                    return 1;
                }
                start[f * 2 + part + 1] = all->n;
            }
        }
    } else {
        snprintf(path, sizeof path, "%s/u.data", dir);
        if (load_rows(all, path) < 0) {
            fprintf(stderr, "cannot read %s\n", path);
            return 1;
        }
    }
    all->has_rating = all->has_time = true;
    drec_ds_finish(all);
    size_t *fold_of = NULL;
    if (!official) {
        fold_of = malloc(all->n * sizeof *fold_of);
        size_t *perm = malloc(all->n * sizeof *perm);
        for (size_t r = 0; r < all->n; r++) perm[r] = r;
        drec_rng rng;
        drec_rng_seed(&rng, 42);
        drec_rng_shuffle_size(&rng, perm, all->n);
        for (size_t k = 0; k < all->n; k++) fold_of[perm[k]] = k % 5;
        free(perm);
    }
    for (int a = 3; a < argc; a++) {
        const char *name = argv[a];
        drec_params *p = drec_params_new();
        while (a + 1 < argc && strchr(argv[a + 1], '=')) {
            char key[64];
            const char *eq = strchr(argv[++a], '=');
            snprintf(key, sizeof key, "%.*s", (int)(eq - argv[a]), argv[a]);
            drec_params_set(p, key, eq + 1);
        }
        double c0 = cpu_now(), t0 = drec_now(), se_sum = 0, rmse_sum = 0, mae_sum = 0, rmse_sq = 0;
        size_t *tr = malloc(all->n * sizeof *tr), *te = malloc(all->n * sizeof *te);
        for (int f = 0; f < 5; f++) {
            size_t ntr = 0, nte = 0;
            if (official) {
                for (size_t r = start[2 * f]; r < start[2 * f + 1]; r++) tr[ntr++] = r;
                for (size_t r = start[2 * f + 1]; r < start[2 * f + 2]; r++) te[nte++] = r;
            } else {
                for (size_t r = 0; r < all->n; r++) {
                    if (fold_of[r] == (size_t)f) te[nte++] = r;
                    else tr[ntr++] = r;
                }
            }
            drec_dataset *train = drec_dataset_subset(all, tr, ntr);
            drec_model *m;
            if (drec_model_train(name, train, p, &m) != DREC_OK) {
                fprintf(stderr, "%s: %s\n", name, drec_errmsg());
                return 1;
            }
            float *pred = malloc(nte * sizeof *pred);
            m->vt->predict(m, all, te, nte, pred);
            double se = 0, ae = 0;
            for (size_t k = 0; k < nte; k++) {
                double e = pred[k] - all->rating[te[k]];
                se += e * e;
                ae += fabs(e);
            }
            double rmse = sqrt(se / (double)nte);
            rmse_sum += rmse;
            rmse_sq += rmse * rmse;
            mae_sum += ae / (double)nte;
            se_sum += se;
            free(pred);
            drec_model_free(m);
            drec_dataset_free(train);
        }
        double secs = drec_now() - t0, cpu = cpu_now() - c0, mean = rmse_sum / 5;
        printf("%-8s %s folds: rmse %.4f (std %.4f)  mae %.4f  5 folds: %.2fs wall, %.2fs cpu, %d threads\n",
               name, official ? "u1..u5" : "random-5", mean, sqrt(fmax(0, rmse_sq / 5 - mean * mean)),
               mae_sum / 5, secs, cpu, drec_threads());
        (void)se_sum;
        free(tr);
        free(te);
        drec_params_free(p);
    }
    drec_dataset_free(all);
    free(fold_of);
    return 0;
}
