/*
 * events.c — group-committed, durable feedback log on SQLite (events.h).
 */
#include "events.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>

typedef struct pending {
    char *user, *item, *event;
    double value, ts;
    uint64_t seq;
} pending;

struct drec_events {
    sqlite3 *db;
    sqlite3_stmt *insert;
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    pending *queue;
    size_t n, cap;
    uint64_t next_seq, committed_seq, failed_seq_lo, failed_seq_hi;
    uint64_t n_events, n_commits;
    bool stopping;
    char last_error[256];
};

static void free_pending(pending *p) {
    free(p->user);
    free(p->item);
    free(p->event);
}

static void *writer_main(void *arg) {
    drec_events *ev = arg;
    pthread_mutex_lock(&ev->mu);
    for (;;) {
        while (ev->n == 0 && !ev->stopping) pthread_cond_wait(&ev->wake, &ev->mu);
        if (ev->n == 0 && ev->stopping) break;
        pending *batch = ev->queue;
        size_t n = ev->n;
        ev->queue = NULL;
        ev->n = ev->cap = 0;
        pthread_mutex_unlock(&ev->mu);

        int rc = sqlite3_exec(ev->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        for (size_t k = 0; k < n && rc == SQLITE_OK; k++) {
            sqlite3_stmt *s = ev->insert;
            sqlite3_reset(s);
            sqlite3_bind_double(s, 1, batch[k].ts);
            sqlite3_bind_text(s, 2, batch[k].user, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 3, batch[k].item, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 4, batch[k].event, -1, SQLITE_STATIC);
            sqlite3_bind_double(s, 5, batch[k].value);
            rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        }
        if (rc == SQLITE_OK) rc = sqlite3_exec(ev->db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) sqlite3_exec(ev->db, "ROLLBACK", NULL, NULL, NULL);

        pthread_mutex_lock(&ev->mu);
        uint64_t lo = batch[0].seq, hi = batch[n - 1].seq;
        if (rc != SQLITE_OK) {
            ev->failed_seq_lo = lo;
            ev->failed_seq_hi = hi;
            snprintf(ev->last_error, sizeof ev->last_error, "%s", sqlite3_errmsg(ev->db));
        } else {
            ev->n_events += n;
            ev->n_commits++;
        }
        ev->committed_seq = hi;
        pthread_cond_broadcast(&ev->done);
        for (size_t k = 0; k < n; k++) free_pending(&batch[k]);
        free(batch);
    }
    pthread_mutex_unlock(&ev->mu);
    return NULL;
}

drec_status drec_events_open(const char *path, drec_events **out) {
    *out = NULL;
    drec_events *ev = drec_calloc(1, sizeof *ev);
    if (sqlite3_open_v2(path, &ev->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK) {
        drec_status st = drec_fail(DREC_ERR_IO, "%s: cannot open events database: %s", path,
                                   ev->db ? sqlite3_errmsg(ev->db) : "out of memory");
        sqlite3_close(ev->db);
        free(ev);
        return st;
    }
    const char *setup = "PRAGMA journal_mode=WAL;"
                        "PRAGMA synchronous=FULL;"
                        "CREATE TABLE IF NOT EXISTS events ("
                        " id INTEGER PRIMARY KEY, ts REAL NOT NULL, user TEXT NOT NULL, item TEXT,"
                        " event TEXT NOT NULL, value REAL NOT NULL);";
    char *err = NULL;
    if (sqlite3_exec(ev->db, setup, NULL, NULL, &err) != SQLITE_OK ||
        sqlite3_prepare_v2(ev->db, "INSERT INTO events(ts,user,item,event,value) VALUES (?,?,?,?,?)", -1,
                           &ev->insert, NULL) != SQLITE_OK) {
        drec_status st = drec_fail(DREC_ERR_IO, "%s: cannot prepare events database: %s", path,
                                   err ? err : sqlite3_errmsg(ev->db));
        sqlite3_free(err);
        sqlite3_close(ev->db);
        free(ev);
        return st;
    }
    pthread_mutex_init(&ev->mu, NULL);
    pthread_cond_init(&ev->wake, NULL);
    pthread_cond_init(&ev->done, NULL);
    ev->next_seq = 1;
    pthread_create(&ev->writer, NULL, writer_main, ev);
    *out = ev;
    return DREC_OK;
}

drec_status drec_events_append(drec_events *ev, const char *user, const char *item, const char *event,
                               double value, double ts) {
    pthread_mutex_lock(&ev->mu);
    if (ev->stopping) {
        pthread_mutex_unlock(&ev->mu);
        return drec_fail(DREC_ERR_IO, "events store is closing");
    }
    uint64_t seq = ev->next_seq++;
    DREC_GROW(ev->queue, ev->cap, ev->n + 1);
    ev->queue[ev->n++] = (pending){drec_strdup(user), item ? drec_strdup(item) : NULL, drec_strdup(event), value,
                                   ts, seq};
    pthread_cond_signal(&ev->wake);
    while (ev->committed_seq < seq) pthread_cond_wait(&ev->done, &ev->mu);
    bool failed = seq >= ev->failed_seq_lo && seq <= ev->failed_seq_hi;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", ev->last_error);
    pthread_mutex_unlock(&ev->mu);
    return failed ? drec_fail(DREC_ERR_IO, "event not stored: %s", msg) : DREC_OK;
}

void drec_events_stats(drec_events *ev, uint64_t *events, uint64_t *commits) {
    pthread_mutex_lock(&ev->mu);
    *events = ev->n_events;
    *commits = ev->n_commits;
    pthread_mutex_unlock(&ev->mu);
}

void drec_events_close(drec_events *ev) {
    if (!ev) return;
    pthread_mutex_lock(&ev->mu);
    ev->stopping = true;
    pthread_cond_signal(&ev->wake);
    pthread_mutex_unlock(&ev->mu);
    pthread_join(ev->writer, NULL);
    sqlite3_finalize(ev->insert);
    sqlite3_close(ev->db);
    pthread_mutex_destroy(&ev->mu);
    pthread_cond_destroy(&ev->wake);
    pthread_cond_destroy(&ev->done);
    free(ev);
}
