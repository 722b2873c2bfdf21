/*
 * server.h — `drec serve`: the HTTP/1.1 JSON API over libmicrohttpd.
 *
 * Models are immutable once loaded.  Each named model lives in a slot whose
 * current version is swapped under a short lock with reference counting:
 * a reload publishes the new version, requests in flight finish on the old
 * one, and the last of them frees it.  Feedback goes to an SQLite database
 * in WAL mode; a request is acknowledged only after the transaction that
 * holds its event has committed (one writer thread batches concurrent
 * events into one commit).
 */
#ifndef DREC_SERVER_H
#define DREC_SERVER_H

#include "core/common.h"

typedef struct drec_server drec_server;

typedef struct drec_server_opts {
    const char *host;      /* default 127.0.0.1 */
    int port;              /* 0 = any free port (see drec_server_port) */
    const char *events_db; /* SQLite file for feedback; NULL = feedback refused */
    const char *api_key;   /* required by write endpoints; NULL = generate one */
    int threads;           /* request threads (default 4) */
    int max_k;             /* largest k accepted (default 1000) */
    int max_batch;         /* most requests in one POST /v1/recommend (default 256) */
    size_t max_body;       /* largest request body in bytes (default 1 MiB) */
} drec_server_opts;

/* Loads the models (specs "FILE" or "NAME=FILE"; the name defaults to the
 * file's base name without extension; the first is the default model) and
 * starts listening.  On failure nothing is left running. */
drec_status drec_server_start(const drec_server_opts *opts, const char *const *models, int n_models,
                              drec_server **out);
int drec_server_port(const drec_server *s);
/* The API key in force (the generated one when none was given). */
const char *drec_server_api_key(const drec_server *s);
/* Reloads model `name` (NULL = all) from its file; on failure the old
 * version keeps serving and the error is returned. */
drec_status drec_server_reload(drec_server *s, const char *name);
/* Stops accepting, waits for requests in flight, commits pending events. */
void drec_server_stop(drec_server *s);

#endif
