/*
 * drec.h — the public interface of libdrec, a recommender-system engine.
 *
 * Everything a program needs is here: load data, train a model, evaluate it,
 * ask it for recommendations, save and load it.  Handles are opaque; every
 * function that can fail returns a drec_status (DREC_OK = 0) and leaves a
 * message for drec_errmsg().  The library never prints (except progress,
 * through a callback you may replace) and never exits.
 *
 * A worked example:
 *
 *     drec_dataset *ds;
 *     if (drec_dataset_load("movielens:data/ml-100k", &ds) != DREC_OK) {
 *         fprintf(stderr, "drec: %s\n", drec_errmsg());
 *         return 1;
 *     }
 *     drec_params *p = drec_params_new();
 *     drec_params_set(p, "dim", "64");
 *     drec_model *m;
 *     if (drec_model_train("als", ds, p, &m) != DREC_OK) ...
 *     drec_scored top[10];
 *     int n = drec_model_recommend(m, drec_dataset_user_id(ds, "196"), 10, 1,
 *                                  top);
 *     for (int i = 0; i < n; i++)
 *         printf("%s %.3f\n", drec_model_item_name(m, top[i].id),
 *                top[i].score);
 *     drec_model_save(m, "als.drec");
 *     drec_model_free(m); drec_params_free(p); drec_dataset_free(ds);
 *
 * Threads: a loaded or trained model is read-only; score/recommend may be
 * called from many threads at once.  drec_errmsg() is thread-local.
 */
#ifndef DREC_H
#define DREC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DREC_VERSION "0.1.0"

typedef enum drec_status {
    DREC_OK = 0,
    DREC_ERR_USAGE,       /* bad argument or option                     */
    DREC_ERR_INPUT,       /* bad input data: file, line and reason      */
    DREC_ERR_IO,          /* a file could not be opened, read or written */
    DREC_ERR_FORMAT,      /* a model file is corrupt or of another version */
    DREC_ERR_UNSUPPORTED, /* the model cannot do what was asked          */
    DREC_ERR_NOMEM,       /* out of memory                              */
    DREC_ERR_INTERNAL     /* a bug: an invariant did not hold           */
} drec_status;

/* The message left by the last failing call on this thread ("" if none). */
const char *drec_errmsg(void);
/* A short name for a status code ("input error", ...). */
const char *drec_status_str(drec_status st);

/* ---- logging and progress ------------------------------------------- */

/* Progress and notes go through one callback; the default writes notes to
 * stderr and draws progress bars only when stderr is a terminal.
 * level: 0 = note, 1 = warning.  Passing NULL restores the default. */
typedef void (*drec_log_fn)(int level, const char *msg, void *user);
void drec_set_log(drec_log_fn fn, void *user);
/* 0 = silent, 1 = notes and warnings (default), 2 = verbose. */
void drec_set_verbosity(int level);

/* ---- hyper-parameters ------------------------------------------------ */

/* A flat key=value set shared by CLI flags, --config files and model file
 * headers.  Values are kept as text and parsed by the model that uses them;
 * keys a model never reads are reported once ("ignores --heads"). */
typedef struct drec_params drec_params;
drec_params *drec_params_new(void);
void drec_params_free(drec_params *p);
drec_status drec_params_set(drec_params *p, const char *key, const char *value);
/* Reads a JSON object file of the same keys. */
drec_status drec_params_load_json(drec_params *p, const char *path);
const char *drec_params_get(const drec_params *p, const char *key);

/* ---- data ------------------------------------------------------------ */

typedef struct drec_dataset drec_dataset;

/* Loads a data spec ("movielens:PATH", "ncf:PREFIX", "csv:FILE", "seq:FILE",
 * "session:FILE", "ctr:FILE", "bandit:FILE", "lists:FILE",
 * "synthetic[:k=v,...]").  `opts` holds reader options (csv column choice,
 * separator); it may be NULL.  On failure *out is NULL and drec_errmsg()
 * names file, line and reason. */
drec_status drec_dataset_load_opts(const char *spec, const drec_params *opts,
                                   drec_dataset **out);
drec_status drec_dataset_load(const char *spec, drec_dataset **out);
void drec_dataset_free(drec_dataset *ds);

size_t drec_dataset_rows(const drec_dataset *ds);
int32_t drec_dataset_users(const drec_dataset *ds);
int32_t drec_dataset_items(const drec_dataset *ds);
/* Dense id of an external id, or -1 when unknown. */
int32_t drec_dataset_user_id(const drec_dataset *ds, const char *name);
int32_t drec_dataset_item_id(const drec_dataset *ds, const char *name);
/* External id of a dense id (NULL when out of range). */
const char *drec_dataset_user_name(const drec_dataset *ds, int32_t u);
const char *drec_dataset_item_name(const drec_dataset *ds, int32_t i);
/* A one-paragraph human summary (counts, what was skipped and why).
 * The string belongs to the dataset. */
const char *drec_dataset_summary(const drec_dataset *ds);

/* ---- models ---------------------------------------------------------- */

typedef struct drec_model drec_model;

typedef struct drec_scored {
    int32_t id;
    float score;
} drec_scored;

/* Names of the registered models, NULL-terminated. */
const char *const *drec_model_names(void);

/* Trains model `name` on `train`.  `params` may be NULL (defaults). */
drec_status drec_model_train(const char *name, const drec_dataset *train,
                             const drec_params *params, drec_model **out);
void drec_model_free(drec_model *m);

/* Top-k items for dense user id u, best first; when exclude_seen, items the
 * user had in training are skipped.  Writes at most k entries to out and
 * returns how many (0 for an unknown user with no fallback). */
int drec_model_recommend(const drec_model *m, int32_t u, int k,
                         int exclude_seen, drec_scored *out);
/* Items most similar to item i (models with item vectors or neighbours). */
drec_status drec_model_similar(const drec_model *m, int32_t i, int k,
                               drec_scored *out, int *n_out);

const char *drec_model_name(const drec_model *m);
int32_t drec_model_user_id(const drec_model *m, const char *name);
int32_t drec_model_item_id(const drec_model *m, const char *name);
const char *drec_model_user_name(const drec_model *m, int32_t u);
const char *drec_model_item_name(const drec_model *m, int32_t i);

/* Atomic: temp file, fsync, rename, directory fsync. */
drec_status drec_model_save(const drec_model *m, const char *path);
/* Verifies magic, version, every checksum and every shape. */
drec_status drec_model_load(const char *path, drec_model **out);

#ifdef __cplusplus
}
#endif
#endif /* DREC_H */
