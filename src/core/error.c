/*
 * error.c — status codes and the thread-local last-error message.
 */
#include "common.h"

#include <stdio.h>

static _Thread_local char errbuf[1024];

const char *drec_errmsg(void) { return errbuf; }

void drec_clear_error(void) { errbuf[0] = '\0'; }

const char *drec_status_str(drec_status st) {
    switch (st) {
    case DREC_OK: return "ok";
    case DREC_ERR_USAGE: return "usage error";
    case DREC_ERR_INPUT: return "input error";
    case DREC_ERR_IO: return "i/o error";
    case DREC_ERR_FORMAT: return "format error";
    case DREC_ERR_UNSUPPORTED: return "unsupported";
    case DREC_ERR_NOMEM: return "out of memory";
    case DREC_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

drec_status drec_fail(drec_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return st;
}

drec_status drec_fail_wrap(drec_status st, const char *fmt, ...) {
    char prefix[512], old[sizeof errbuf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errbuf, sizeof old);
    snprintf(errbuf, sizeof errbuf, "%s: %s", prefix, old);
    return st;
}
