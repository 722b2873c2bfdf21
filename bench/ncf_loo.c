/*
 * ncf_loo.c — a stand-alone check of the NCF leave-one-out protocol
 * (He et al. 2017) for any registered model: reads PREFIX.train.rating,
 * PREFIX.test.rating and PREFIX.test.negative itself, trains the model on
 * the training file, ranks each user's held-out item among that user's 99
 * file negatives (ties count against the held-out item) and prints HR@10
 * and NDCG@10.  It does not depend on the ncf: reader or the evaluation
 * module, so it cross-checks both (`drec bench --protocol loo-sampled:100`).
 *
 * Build (from the repository root, after the main build):
 *   cc -O2 -fopenmp -Isrc -Iinclude bench/ncf_loo.c build/libdrec.a \
 *      $(pkg-config --libs jansson libmicrohttpd sqlite3 libxxhash openblas) -lm -o build/ncf_loo
 * Run:
 *   build/ncf_loo ../shared/data/ncf-ml-100k/ml-100k als [key=value ...]
 */
#include "data/dataset.h"
#include "models/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) exit(1);
    b[n] = 0;
    fclose(f);
    return b;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: ncf_loo PREFIX MODEL [key=value ...]\n");
        return 1;
    }
    char path[1024];
    /* Dense ids are the file's own integers: intern "0".."n-1" in order. */
    drec_dataset *ds = drec_ds_new(DREC_DS_INTERACTIONS, argv[1]);
    char num[32];
    for (int u = 0; u < 943; u++) drec_ds_user(ds, num, (size_t)snprintf(num, sizeof num, "%d", u));
    for (int i = 0; i < 1682; i++) drec_ds_item(ds, num, (size_t)snprintf(num, sizeof num, "%d", i));
    snprintf(path, sizeof path, "%s.train.rating", argv[1]);
    char *text = slurp(path), *p = text;
    int u, i, len;
    float r;
    long long ts;
    while (sscanf(p, "%d %d %f %lld%n", &u, &i, &r, &ts, &len) == 4) {
        drec_ds_push(ds, u, i, r, ts);
        p += len;
    }
    free(text);
    ds->has_time = true;
    drec_ds_finish(ds);
    drec_params *hp = drec_params_new();
    for (int a = 3; a < argc; a++) {
        char *eq = strchr(argv[a], '=');
        if (!eq) return 1;
        *eq = 0;
        drec_params_set(hp, argv[a], eq + 1);
    }
    drec_model *m;
    double t0 = drec_now();
    if (drec_model_train(argv[2], ds, hp, &m)) {
        fprintf(stderr, "train: %s\n", drec_errmsg());
        return 1;
    }
    double t_train = drec_now() - t0;
    snprintf(path, sizeof path, "%s.test.negative", argv[1]);
    text = slurp(path);
    double hr = 0, ndcg = 0;
    int n_users = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        int32_t items[128];
        int n = 0;
        if (sscanf(line, "(%d,%d)%n", &u, &items[0], &len) != 2) continue;
        n = 1;
        char *q = line + len;
        while (n < 128 && sscanf(q, "%d%n", &items[n], &len) == 1) {
            n++;
            q += len;
        }
        float sc[128];
        drec_model_score_user(m, u, items, n, sc);
        int rank = 0;
        for (int j = 1; j < n; j++) rank += sc[j] >= sc[0]; /* ties count against */
        if (rank < 10) {
            hr += 1;
            ndcg += log(2) / log(rank + 2.0);
        }
        n_users++;
    }
    free(text);
    printf("{\"model\": \"%s\", \"users\": %d, \"hr@10\": %.4f, \"ndcg@10\": %.4f, \"train_seconds\": %.3f}\n",
           argv[2], n_users, hr / n_users, ndcg / n_users, t_train);
    drec_model_free(m);
    drec_params_free(hp);
    drec_dataset_free(ds);
    return 0;
}
