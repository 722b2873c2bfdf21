/*
 * server.c — the HTTP service (see server.h for the model-swap and
 * durability contracts).
 *
 * Each request is handled on one of libmicrohttpd's pool threads.  The
 * handler never holds a lock while scoring: it takes a reference to the
 * model version current at arrival and drops it when the response is built.
 * Bodies are bounded (413 past max_body), k and batch sizes are bounded
 * (400), write endpoints need the API key (401), and every error is a JSON
 * object {"error": what, "detail": why}.
 */
#include "server.h"

#include "events.h"
#include "models/model.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

typedef struct version {
    drec_model *m;
    int refs;     /* guarded by the slot's lock */
    int number;
    bool retired; /* no longer current: freed when refs drops to 0 */
} version;

typedef struct slot {
    char name[64];
    char *path;
    pthread_mutex_t mu;
    version *cur;
    int n_versions;
} slot;

enum { EP_HEALTH, EP_MODELS, EP_RECOMMEND, EP_SIMILAR, EP_FEEDBACK, EP_RELOAD, EP_BANDIT, EP_METRICS,
       EP_DASHBOARD, EP_OTHER, EP_COUNT };
static const char *const ep_names[EP_COUNT] = {"health", "models", "recommend", "similar", "feedback",
                                               "reload", "bandit", "metrics", "dashboard", "other"};
static const double lat_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0};
#define N_LAT (sizeof lat_bounds / sizeof lat_bounds[0])

struct drec_server {
    drec_server_opts o;
    struct MHD_Daemon *d;
    slot *slots;
    int n_slots;
    drec_events *events;
    char api_key[65];
    double t_start;
    _Atomic uint64_t req[EP_COUNT], err4xx[EP_COUNT], err5xx[EP_COUNT];
    _Atomic uint64_t lat_bucket[N_LAT + 1], lat_count, lat_sum_us;
    _Atomic uint64_t items_served;
};

/* ---- model versions -------------------------------------------------- */

static version *acquire(slot *s) {
    pthread_mutex_lock(&s->mu);
    version *v = s->cur;
    v->refs++;
    pthread_mutex_unlock(&s->mu);
    return v;
}

static void release(slot *s, version *v) {
    pthread_mutex_lock(&s->mu);
    bool last = --v->refs == 0 && v->retired;
    pthread_mutex_unlock(&s->mu);
    if (last) {
        drec_model_free(v->m);
        free(v);
    }
}

static drec_status load_slot(slot *s) {
    drec_model *m;
    drec_status st = drec_model_load(s->path, &m);
    if (st) return st;
    version *v = drec_calloc(1, sizeof *v);
    v->m = m;
    pthread_mutex_lock(&s->mu);
    v->number = ++s->n_versions;
    version *old = s->cur;
    v->refs = 1; /* the slot's own reference */
    s->cur = v;
    bool free_old = false;
    if (old) {
        old->retired = true;
        free_old = --old->refs == 0;
    }
    pthread_mutex_unlock(&s->mu);
    if (free_old) {
        drec_model_free(old->m);
        free(old);
    }
    return DREC_OK;
}

drec_status drec_server_reload(drec_server *srv, const char *name) {
    for (int k = 0; k < srv->n_slots; k++) {
        if (name && strcmp(name, srv->slots[k].name) != 0) continue;
        drec_status st = load_slot(&srv->slots[k]);
        if (st) return st;
        if (name) return DREC_OK;
    }
    return name ? drec_fail(DREC_ERR_USAGE, "no model named \"%s\"", name) : DREC_OK;
}

static slot *find_slot(drec_server *srv, const char *name) {
    if (!name || !*name) return &srv->slots[0];
    for (int k = 0; k < srv->n_slots; k++)
        if (strcmp(srv->slots[k].name, name) == 0) return &srv->slots[k];
    return NULL;
}

/* ---- responses ------------------------------------------------------- */

typedef struct reply {
    int status;
    char *body;
    const char *type;
} reply;

static reply json_reply(int status, json_t *o) {
    char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_REAL_PRECISION(7));
    json_decref(o);
    return (reply){status, s, "application/json"};
}

static reply error_reply(int status, const char *what, const char *detail) {
    return json_reply(status, json_pack("{s:s, s:s}", "error", what, "detail", detail ? detail : ""));
}

static bool parse_k(const char *s, int max_k, int *k, char *why, size_t n) {
    if (!s) return true;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 1 || v > max_k) {
        snprintf(why, n, "k must be an integer in 1..%d", max_k);
        return false;
    }
    *k = (int)v;
    return true;
}

/* One recommendation list as JSON, or NULL with *err set. */
static json_t *recommend_one(drec_server *srv, const char *user, int k, bool exclude_seen, const char *model,
                             reply *err) {
    slot *s = find_slot(srv, model);
    if (!s) {
        *err = error_reply(404, "unknown model", model);
        return NULL;
    }
    version *v = acquire(s);
    drec_model *m = v->m;
    int32_t u = drec_model_user_id(m, user);
    drec_scored *top = drec_malloc((size_t)k * sizeof *top);
    int n = drec_model_recommend(m, u, k, exclude_seen, top);
    json_t *items = json_array();
    for (int j = 0; j < n; j++) {
        json_t *e = json_pack("{s:s, s:f}", "item", drec_model_item_name(m, top[j].id), "score",
                              isfinite(top[j].score) ? (double)top[j].score : 0.0);
        if (m->item_title && m->item_title[top[j].id])
            json_object_set_new(e, "title", json_string(m->item_title[top[j].id]));
        json_array_append_new(items, e);
    }
    atomic_fetch_add(&srv->items_served, (uint64_t)n);
    free(top);
    char tag[96];
    snprintf(tag, sizeof tag, "%s@%d", s->name, v->number);
    json_t *o = json_pack("{s:s, s:s, s:b, s:o}", "user", user, "model", tag, "known_user", u >= 0, "items", items);
    release(s, v);
    return o;
}

static reply handle_recommend_get(drec_server *srv, struct MHD_Connection *c) {
    const char *user = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "user");
    const char *ks = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "k");
    const char *ex = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "exclude_seen");
    const char *model = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "model");
    if (!user || !*user) return error_reply(400, "missing parameter", "user is required");
    int k = 10;
    char why[96];
    if (!parse_k(ks, srv->o.max_k, &k, why, sizeof why)) return error_reply(400, "bad parameter", why);
    reply err;
    json_t *o = recommend_one(srv, user, k, !ex || strcmp(ex, "0") != 0, model, &err);
    return o ? json_reply(200, o) : err;
}

static reply handle_recommend_post(drec_server *srv, json_t *body) {
    json_t *reqs = json_object_get(body, "requests");
    if (!json_is_array(reqs)) return error_reply(400, "bad request", "expected {\"requests\": [...]}");
    if (json_array_size(reqs) > (size_t)srv->o.max_batch) {
        char why[96];
        snprintf(why, sizeof why, "at most %d requests per call", srv->o.max_batch);
        return error_reply(400, "batch too large", why);
    }
    json_t *results = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
        const char *user = json_string_value(json_object_get(r, "user"));
        json_t *kj = json_object_get(r, "k"), *ex = json_object_get(r, "exclude_seen");
        const char *model = json_string_value(json_object_get(r, "model"));
        if (!user) {
            json_decref(results);
            return error_reply(400, "bad request", "each request needs a string \"user\"");
        }
        int k = kj ? (int)json_integer_value(kj) : 10;
        if (kj && (!json_is_integer(kj) || k < 1 || k > srv->o.max_k)) {
            json_decref(results);
            char why[96];
            snprintf(why, sizeof why, "k must be an integer in 1..%d", srv->o.max_k);
            return error_reply(400, "bad parameter", why);
        }
        reply err;
        json_t *o = recommend_one(srv, user, k, !ex || json_is_true(ex), model, &err);
        if (!o) {
            json_decref(results);
            return err;
        }
        json_array_append_new(results, o);
    }
    return json_reply(200, json_pack("{s:o}", "results", results));
}

static reply handle_similar(drec_server *srv, struct MHD_Connection *c) {
    const char *item = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "item");
    const char *ks = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "k");
    const char *model = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "model");
    if (!item || !*item) return error_reply(400, "missing parameter", "item is required");
    int k = 10;
    char why[96];
    if (!parse_k(ks, srv->o.max_k, &k, why, sizeof why)) return error_reply(400, "bad parameter", why);
    slot *s = find_slot(srv, model);
    if (!s) return error_reply(404, "unknown model", model);
    version *v = acquire(s);
    int32_t i = drec_model_item_id(v->m, item);
    if (i < 0) {
        release(s, v);
        return error_reply(404, "unknown item", item);
    }
    drec_scored *top = drec_malloc((size_t)k * sizeof *top);
    int n;
    drec_status st = drec_model_similar(v->m, i, k, top, &n);
    if (st) {
        free(top);
        release(s, v);
        return error_reply(st == DREC_ERR_UNSUPPORTED ? 501 : 500, "similar failed", drec_errmsg());
    }
    json_t *items = json_array();
    for (int j = 0; j < n; j++)
        json_array_append_new(items, json_pack("{s:s, s:f}", "item", drec_model_item_name(v->m, top[j].id), "score",
                                               (double)top[j].score));
    free(top);
    char tag[96];
    snprintf(tag, sizeof tag, "%s@%d", s->name, v->number);
    release(s, v);
    return json_reply(200, json_pack("{s:s, s:s, s:o}", "item", item, "model", tag, "items", items));
}

static reply handle_feedback(drec_server *srv, json_t *body) {
    if (!srv->events) return error_reply(503, "feedback disabled", "start the server with --events DB");
    const char *user = json_string_value(json_object_get(body, "user"));
    const char *item = json_string_value(json_object_get(body, "item"));
    const char *event = json_string_value(json_object_get(body, "event"));
    json_t *val = json_object_get(body, "value"), *ts = json_object_get(body, "ts");
    if (!user || !*user) return error_reply(400, "bad request", "\"user\" (string) is required");
    if (!event) event = "click";
    if (val && !json_is_number(val)) return error_reply(400, "bad request", "\"value\" must be a number");
    if (ts && !json_is_number(ts)) return error_reply(400, "bad request", "\"ts\" must be a number (Unix seconds)");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double t = ts ? json_number_value(ts) : (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
    drec_status st = drec_events_append(srv->events, user, item, event, val ? json_number_value(val) : 1.0, t);
    if (st) return error_reply(503, "feedback not stored", drec_errmsg());
    return json_reply(200, json_pack("{s:s}", "status", "stored"));
}

static reply handle_models(drec_server *srv) {
    json_t *arr = json_array();
    for (int k = 0; k < srv->n_slots; k++) {
        slot *s = &srv->slots[k];
        version *v = acquire(s);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:i, s:i, s:s, s:b}", "name", s->name, "model",
                                             v->m->vt->name, "version", v->number, "users", v->m->n_users, "items",
                                             v->m->n_items, "path", s->path, "default", k == 0));
        release(s, v);
    }
    return json_reply(200, json_pack("{s:o}", "models", arr));
}

static reply handle_metrics(drec_server *srv) {
    size_t cap = 8192, len = 0;
    char *b = drec_malloc(cap);
#define EMIT(...)                                                                    \
    do {                                                                             \
        int w_ = snprintf(b + len, cap - len, __VA_ARGS__);                          \
        if ((size_t)w_ >= cap - len) {                                               \
            cap = cap * 2 + (size_t)w_;                                              \
            b = drec_realloc(b, cap);                                                \
            w_ = snprintf(b + len, cap - len, __VA_ARGS__);                          \
        }                                                                            \
        len += (size_t)w_;                                                           \
    } while (0)
    EMIT("# HELP drec_requests_total HTTP requests by endpoint and outcome.\n# TYPE drec_requests_total counter\n");
    for (int e = 0; e < EP_COUNT; e++) {
        uint64_t all = srv->req[e], e4 = srv->err4xx[e], e5 = srv->err5xx[e];
        EMIT("drec_requests_total{endpoint=\"%s\",class=\"2xx\"} %llu\n", ep_names[e],
             (unsigned long long)(all - e4 - e5));
        EMIT("drec_requests_total{endpoint=\"%s\",class=\"4xx\"} %llu\n", ep_names[e], (unsigned long long)e4);
        EMIT("drec_requests_total{endpoint=\"%s\",class=\"5xx\"} %llu\n", ep_names[e], (unsigned long long)e5);
    }
    EMIT("# HELP drec_recommend_seconds Latency of recommend requests.\n# TYPE drec_recommend_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t k = 0; k < N_LAT; k++) {
        cum += srv->lat_bucket[k];
        EMIT("drec_recommend_seconds_bucket{le=\"%g\"} %llu\n", lat_bounds[k], (unsigned long long)cum);
    }
    cum += srv->lat_bucket[N_LAT];
    EMIT("drec_recommend_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    EMIT("drec_recommend_seconds_sum %.6f\n", (double)srv->lat_sum_us * 1e-6);
    EMIT("drec_recommend_seconds_count %llu\n", (unsigned long long)srv->lat_count);
    EMIT("# HELP drec_items_served_total Items returned in recommendation lists.\n"
         "# TYPE drec_items_served_total counter\ndrec_items_served_total %llu\n",
         (unsigned long long)srv->items_served);
    uint64_t ev = 0, commits = 0;
    if (srv->events) drec_events_stats(srv->events, &ev, &commits);
    EMIT("# HELP drec_feedback_events_total Feedback events made durable.\n"
         "# TYPE drec_feedback_events_total counter\ndrec_feedback_events_total %llu\n",
         (unsigned long long)ev);
    EMIT("# HELP drec_feedback_commits_total Group commits of the feedback log.\n"
         "# TYPE drec_feedback_commits_total counter\ndrec_feedback_commits_total %llu\n",
         (unsigned long long)commits);
    EMIT("# HELP drec_model_version Version of each served model (reloads bump it).\n"
         "# TYPE drec_model_version gauge\n");
    for (int k = 0; k < srv->n_slots; k++) {
        version *v = acquire(&srv->slots[k]);
        EMIT("drec_model_version{name=\"%s\",model=\"%s\"} %d\n", srv->slots[k].name, v->m->vt->name, v->number);
        release(&srv->slots[k], v);
    }
    EMIT("# HELP drec_uptime_seconds Seconds since the server started.\n# TYPE drec_uptime_seconds gauge\n"
         "drec_uptime_seconds %.1f\n",
         drec_now() - srv->t_start);
#undef EMIT
    return (reply){200, b, "text/plain; version=0.0.4"};
}

/* The dashboard: one self-contained page that polls /metrics and
 * /v1/models and lets a person try a recommendation. */
static const char dashboard_html[] =
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>drec serve</title><style>"
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:70em}"
    "h1{font-size:1.4em}table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;"
    "text-align:left}th{background:#f4f4f4}.card{display:inline-block;margin:.5em 1em .5em 0;padding:.8em 1.2em;"
    "border:1px solid #ddd;border-radius:6px}.big{font-size:1.6em;font-weight:600}input{padding:.3em}"
    "</style></head><body><h1>drec serve</h1>"
    "<div><span class=card>requests<div class=big id=req>-</div></span>"
    "<span class=card>recommend p50 latency<div class=big id=lat>-</div></span>"
    "<span class=card>feedback events<div class=big id=ev>-</div></span>"
    "<span class=card>uptime<div class=big id=up>-</div></span></div>"
    "<h2>Models</h2><table id=models><tr><th>name</th><th>model</th><th>version</th><th>users</th>"
    "<th>items</th><th>file</th></tr></table>"
    "<h2>Try it</h2><form id=f>user <input id=u value=''> k <input id=k value=10 size=3> "
    "<button>recommend</button></form><table id=out></table>"
    "<script>"
    "function esc(s){return String(s).replace(/[&<>\"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','\"':'&quot;'}[c]))}"
    "async function tick(){try{const t=await (await fetch('/metrics')).text();let req=0,ev=0,up=0;const b=[];"
    "for(const l of t.split('\\n')){if(l.startsWith('drec_requests_total'))req+=+l.split(' ')[1];"
    "if(l.startsWith('drec_feedback_events_total '))ev=+l.split(' ')[1];if(l.startsWith('drec_uptime_seconds '))"
    "up=+l.split(' ')[1];const m=l.match(/^drec_recommend_seconds_bucket\\{le=\"([^\"]+)\"\\} (\\d+)/);"
    "if(m)b.push([m[1],+m[2]]);}"
    "document.getElementById('req').textContent=req;document.getElementById('ev').textContent=ev;"
    "document.getElementById('up').textContent=Math.round(up)+' s';const n=b.length?b[b.length-1][1]:0;"
    "let p='-';for(const [le,c] of b){if(n&&c>=n/2){p=le==='+Inf'?'>1 s':(le*1000)+' ms';break;}}"
    "document.getElementById('lat').textContent=n?'\\u2264 '+p:'-';"
    "const ms=(await (await fetch('/v1/models')).json()).models;const tb=document.getElementById('models');"
    "tb.innerHTML=tb.rows[0].outerHTML+ms.map(m=>`<tr><td>${esc(m.name)}</td><td>${esc(m.model)}</td>"
    "<td>${m.version}</td><td>${m.users}</td><td>${m.items}</td><td>${esc(m.path)}</td></tr>`).join('');"
    "}catch(e){}}"
    "document.getElementById('f').onsubmit=async e=>{e.preventDefault();const u=document.getElementById('u').value;"
    "const k=document.getElementById('k').value;const r=await (await fetch('/v1/recommend?user='+"
    "encodeURIComponent(u)+'&k='+encodeURIComponent(k))).json();const o=document.getElementById('out');"
    "o.innerHTML=r.items?'<tr><th>#</th><th>item</th><th>title</th><th>score</th></tr>'+r.items.map((x,i)=>"
    "`<tr><td>${i+1}</td><td>${esc(x.item)}</td><td>${esc(x.title||'')}</td><td>${x.score.toFixed(4)}</td></tr>`)"
    ".join(''):'<tr><td>'+esc(r.error+': '+r.detail)+'</td></tr>';tick();};"
    "tick();setInterval(tick,2000);</script></body></html>";

/* ---- dispatch -------------------------------------------------------- */

typedef struct conn_ctx {
    char *body;
    size_t len;
    bool too_big;
} conn_ctx;

static bool authorised(drec_server *srv, struct MHD_Connection *c) {
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key");
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!key && auth && strncmp(auth, "Bearer ", 7) == 0) key = auth + 7;
    if (!key || strlen(key) != strlen(srv->api_key)) return false;
    unsigned diff = 0; /* constant time */
    for (size_t k = 0; srv->api_key[k]; k++) diff |= (unsigned)(key[k] ^ srv->api_key[k]);
    return diff == 0;
}

static reply route(drec_server *srv, struct MHD_Connection *c, const char *url, const char *method, conn_ctx *cc,
                   int *ep) {
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    *ep = EP_OTHER;
    if (!strcmp(url, "/")) *ep = EP_DASHBOARD;
    else if (!strcmp(url, "/v1/health")) *ep = EP_HEALTH;
    else if (!strcmp(url, "/v1/models")) *ep = EP_MODELS;
    else if (!strcmp(url, "/v1/recommend")) *ep = EP_RECOMMEND;
    else if (!strcmp(url, "/v1/similar")) *ep = EP_SIMILAR;
    else if (!strcmp(url, "/v1/feedback")) *ep = EP_FEEDBACK;
    else if (!strcmp(url, "/v1/models/reload")) *ep = EP_RELOAD;
    else if (!strncmp(url, "/v1/bandit/", 11)) *ep = EP_BANDIT;
    else if (!strcmp(url, "/metrics")) *ep = EP_METRICS;
    if (*ep == EP_OTHER) return error_reply(404, "not found", url);
    bool wants_post = *ep == EP_FEEDBACK || *ep == EP_RELOAD || *ep == EP_BANDIT;
    bool ok_method = (*ep == EP_RECOMMEND) ? (get || post) : wants_post ? post : get;
    if (!ok_method) return error_reply(405, "method not allowed", method);
    if (cc->too_big) {
        char why[96];
        snprintf(why, sizeof why, "request bodies are limited to %zu bytes", srv->o.max_body);
        return error_reply(413, "request too large", why);
    }
    json_t *body = NULL;
    if (post) {
        json_error_t jerr;
        body = json_loadb(cc->body ? cc->body : "", cc->len, 0, &jerr);
        if (!json_is_object(body)) {
            json_decref(body);
            return error_reply(400, "bad JSON", jerr.text);
        }
    }
    reply r;
    switch (*ep) {
    case EP_DASHBOARD: r = (reply){200, drec_strdup(dashboard_html), "text/html; charset=utf-8"}; break;
    case EP_HEALTH:
        r = json_reply(200, json_pack("{s:s, s:i, s:f}", "status", "ok", "models", srv->n_slots, "uptime_seconds",
                                      drec_now() - srv->t_start));
        break;
    case EP_MODELS: r = handle_models(srv); break;
    case EP_RECOMMEND: r = post ? handle_recommend_post(srv, body) : handle_recommend_get(srv, c); break;
    case EP_SIMILAR: r = handle_similar(srv, c); break;
    case EP_METRICS: r = handle_metrics(srv); break;
    case EP_FEEDBACK:
    case EP_RELOAD:
    case EP_BANDIT:
        if (!authorised(srv, c)) {
            r = error_reply(401, "unauthorised", "write endpoints need the API key (X-API-Key header)");
            break;
        }
        if (*ep == EP_FEEDBACK) r = handle_feedback(srv, body);
        else if (*ep == EP_RELOAD) {
            const char *name = json_string_value(json_object_get(body, "model"));
            drec_status st = drec_server_reload(srv, name);
            r = st ? error_reply(st == DREC_ERR_USAGE ? 404 : 500, "reload failed", drec_errmsg())
                   : json_reply(200, json_pack("{s:s}", "status", "reloaded"));
        } else
            r = error_reply(501, "not available", "no bandit policy is served by this version");
        break;
    default: r = error_reply(404, "not found", url);
    }
    json_decref(body);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version_s, const char *upload, size_t *upload_size, void **con_cls) {
    drec_server *srv = cls;
    conn_ctx *cc = *con_cls;
    if (!cc) {
        cc = drec_calloc(1, sizeof *cc);
        *con_cls = cc;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cc->too_big) {
            if (cc->len + *upload_size > srv->o.max_body) {
                cc->too_big = true;
                free(cc->body);
                cc->body = NULL;
                cc->len = 0;
            } else {
                cc->body = drec_realloc(cc->body, cc->len + *upload_size + 1);
                memcpy(cc->body + cc->len, upload, *upload_size);
                cc->len += *upload_size;
                cc->body[cc->len] = '\0';
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    double t0 = drec_now();
    int ep;
    reply r = route(srv, c, url, method, cc, &ep);
    double dt = drec_now() - t0;
    atomic_fetch_add(&srv->req[ep], 1);
    if (r.status >= 500) atomic_fetch_add(&srv->err5xx[ep], 1);
    else if (r.status >= 400) atomic_fetch_add(&srv->err4xx[ep], 1);
    if (ep == EP_RECOMMEND && r.status == 200) {
        size_t b = 0;
        while (b < N_LAT && dt > lat_bounds[b]) b++;
        atomic_fetch_add(&srv->lat_bucket[b], 1);
        atomic_fetch_add(&srv->lat_count, 1);
        atomic_fetch_add(&srv->lat_sum_us, (uint64_t)(dt * 1e6));
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(r.body), r.body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", r.type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (r.status >= 400 && r.status != 404 && r.status != 401) MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
    (void)version_s;
    return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    conn_ctx *cc = *con_cls;
    if (cc) {
        free(cc->body);
        free(cc);
        *con_cls = NULL;
    }
}

/* ---- life cycle ------------------------------------------------------ */

static void free_slots(drec_server *srv) {
    for (int k = 0; k < srv->n_slots; k++) {
        slot *s = &srv->slots[k];
        if (s->cur) {
            drec_model_free(s->cur->m);
            free(s->cur);
        }
        free(s->path);
        pthread_mutex_destroy(&s->mu);
    }
    free(srv->slots);
}

drec_status drec_server_start(const drec_server_opts *opts, const char *const *models, int n_models,
                              drec_server **out) {
    *out = NULL;
    if (n_models < 1) return drec_fail(DREC_ERR_USAGE, "serve: at least one --model FILE is needed");
    drec_server *srv = drec_calloc(1, sizeof *srv);
    srv->o = *opts;
    if (!srv->o.host) srv->o.host = "127.0.0.1";
    if (srv->o.threads <= 0) srv->o.threads = 4;
    if (srv->o.max_k <= 0) srv->o.max_k = 1000;
    if (srv->o.max_batch <= 0) srv->o.max_batch = 256;
    if (!srv->o.max_body) srv->o.max_body = 1 << 20;
    srv->t_start = drec_now();
    srv->slots = drec_calloc((size_t)n_models, sizeof *srv->slots);
    drec_status st = DREC_OK;
    for (int k = 0; k < n_models && !st; k++) {
        slot *s = &srv->slots[srv->n_slots++];
        pthread_mutex_init(&s->mu, NULL);
        const char *eq = strchr(models[k], '=');
        const char *path = eq ? eq + 1 : models[k];
        if (eq)
            snprintf(s->name, sizeof s->name, "%.*s", (int)(eq - models[k]), models[k]);
        else {
            const char *base = strrchr(path, '/');
            base = base ? base + 1 : path;
            const char *dot = strrchr(base, '.');
            snprintf(s->name, sizeof s->name, "%.*s", (int)(dot && dot > base ? dot - base : (long)strlen(base)), base);
        }
        s->path = drec_strdup(path);
        for (int j = 0; j < srv->n_slots - 1; j++)
            if (!strcmp(srv->slots[j].name, s->name))
                st = drec_fail(DREC_ERR_USAGE, "serve: two models are named \"%s\" (use NAME=FILE)", s->name);
        if (!st) st = load_slot(s);
    }
    if (!st && srv->o.events_db) st = drec_events_open(srv->o.events_db, &srv->events);
    if (st) {
        free_slots(srv);
        free(srv);
        return st;
    }
    if (srv->o.api_key && *srv->o.api_key)
        snprintf(srv->api_key, sizeof srv->api_key, "%s", srv->o.api_key);
    else {
        drec_rng r;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        drec_rng_seed(&r, (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid());
        snprintf(srv->api_key, sizeof srv->api_key, "%016llx%016llx", (unsigned long long)drec_rng_u64(&r),
                 (unsigned long long)drec_rng_u64(&r));
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)srv->o.port);
    if (inet_pton(AF_INET, srv->o.host, &addr.sin_addr) != 1) {
        free_slots(srv);
        drec_events_close(srv->events);
        free(srv);
        return drec_fail(DREC_ERR_USAGE, "serve: --host \"%s\" is not an IPv4 address", opts->host);
    }
    srv->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_INTERNALLY | MHD_USE_ERROR_LOG, 0, NULL,
                              NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned)srv->o.threads, MHD_OPTION_NOTIFY_COMPLETED,
                              on_done, srv, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_END);
    if (!srv->d) {
        free_slots(srv);
        drec_events_close(srv->events);
        free(srv);
        return drec_fail(DREC_ERR_IO, "serve: cannot listen on %s:%d (port in use?)", opts->host ? opts->host : "127.0.0.1",
                         opts->port);
    }
    *out = srv;
    return DREC_OK;
}

int drec_server_port(const drec_server *srv) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : srv->o.port;
}

const char *drec_server_api_key(const drec_server *srv) { return srv->api_key; }

void drec_server_stop(drec_server *srv) {
    if (!srv) return;
    MHD_stop_daemon(srv->d);
    drec_events_close(srv->events);
    free_slots(srv);
    free(srv);
}
