/*
 * events.h — the durable feedback log behind POST /v1/feedback.
 *
 * SQLite in WAL mode with synchronous=FULL: a commit is on disk when it
 * returns.  One writer thread drains a queue and commits everything queued
 * in one transaction (group commit), so a burst of N concurrent events
 * costs one fsync, not N.  drec_events_append blocks until the caller's
 * event is committed, which is what lets the server acknowledge only
 * durable feedback.
 */
#ifndef DREC_EVENTS_H
#define DREC_EVENTS_H

#include "core/common.h"

typedef struct drec_events drec_events;

drec_status drec_events_open(const char *path, drec_events **out);
/* Appends one event and returns once it is durable.  Thread-safe. */
drec_status drec_events_append(drec_events *ev, const char *user, const char *item, const char *event,
                               double value, double ts);
/* Events committed since open (for /metrics) and commits made. */
void drec_events_stats(drec_events *ev, uint64_t *events, uint64_t *commits);
void drec_events_close(drec_events *ev);

#endif
