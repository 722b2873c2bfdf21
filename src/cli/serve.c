/*
 * serve.c — `drec serve`: run the HTTP service until SIGINT/SIGTERM;
 * SIGHUP reloads every model from its file.
 */
#include "cli.h"

#include "serve/server.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static const cli_opt opts[] = {
    {"model", 'm', "FILE", "model file to serve, or NAME=FILE; repeat as --model A=a.drec,B=b.drec"},
    {"host", 0, "H", "address to bind (default 127.0.0.1)"},
    {"port", 'p', "N", "port (default 8080; 0 = any free port)"},
    {"events", 0, "DB", "SQLite file that stores feedback (POST /v1/feedback)"},
    {"api-key", 0, "KEY", "key for write endpoints (default: $DREC_API_KEY, else generated)"},
    {"workers", 0, "N", "request threads (default 4)"},
    {"max-k", 0, "N", "largest k a request may ask for (default 1000)"},
    {NULL, 0, NULL, NULL},
};

static volatile sig_atomic_t stop_flag, reload_flag;
static void on_stop(int sig) { (void)sig; stop_flag = 1; }
static void on_hup(int sig) { (void)sig; reload_flag = 1; }

static int run(drec_params *args) {
    const char *models = drec_params_str(args, "model", NULL);
    if (!models) return cli_usage("serve: --model FILE is required");
    char *list = drec_strdup(models);
    const char *specs[64];
    int n = 0;
    for (char *tok = strtok(list, ","); tok && n < 64; tok = strtok(NULL, ",")) specs[n++] = tok;
    long port, workers, max_k;
    drec_status st = drec_params_int(args, "port", 8080, &port);
    if (!st) st = drec_params_int(args, "workers", 4, &workers);
    if (!st) st = drec_params_int(args, "max-k", 1000, &max_k);
    if (st) {
        free(list);
        return cli_fail(st);
    }
    if (port < 0 || port > 65535) {
        free(list);
        return cli_usage("serve: --port must be 0..65535");
    }
    drec_server_opts o = {
        .host = drec_params_str(args, "host", "127.0.0.1"),
        .port = (int)port,
        .events_db = drec_params_str(args, "events", NULL),
        .api_key = drec_params_str(args, "api-key", getenv("DREC_API_KEY")),
        .threads = (int)workers,
        .max_k = (int)max_k,
    };
    drec_server *srv;
    st = drec_server_start(&o, specs, n, &srv);
    free(list);
    if (st) return cli_fail(st);
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    signal(SIGHUP, on_hup);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "drec: serving %d model%s on http://%s:%d/ (dashboard at /, metrics at /metrics)\n", n,
            n == 1 ? "" : "s", o.host, drec_server_port(srv));
    if (!o.api_key || !*o.api_key) fprintf(stderr, "drec: API key for write endpoints: %s\n", drec_server_api_key(srv));
    printf("listening %d\n", drec_server_port(srv));
    fflush(stdout);
    while (!stop_flag) {
        pause();
        if (reload_flag) {
            reload_flag = 0;
            drec_status rs = drec_server_reload(srv, NULL);
            if (rs)
                fprintf(stderr, "drec: reload failed, still serving the old models: %s\n", drec_errmsg());
            else
                fprintf(stderr, "drec: models reloaded\n");
        }
    }
    fprintf(stderr, "drec: stopping\n");
    drec_server_stop(srv);
    return 0;
}

const cli_verb cli_serve = {
    .name = "serve",
    .usage = "serve --model FILE [--host H] [--port N] [--events DB]",
    .summary = "serve recommendations over HTTP (JSON API, dashboard, Prometheus metrics)",
    .details = "endpoints:\n"
               "  GET  /v1/health, /v1/models, /metrics, / (dashboard)\n"
               "  GET  /v1/recommend?user=U&k=10[&exclude_seen=1][&model=NAME]\n"
               "  POST /v1/recommend        {\"requests\":[{\"user\":\"U\",\"k\":10}, ...]}\n"
               "  GET  /v1/similar?item=I&k=10\n"
               "  POST /v1/feedback         {\"user\":\"U\",\"item\":\"I\",\"event\":\"click\",\"value\":1,\"ts\":...}\n"
               "  POST /v1/models/reload    {\"model\":\"NAME\"}   (or send SIGHUP)\n"
               "Write endpoints need the API key in an X-API-Key header.  Feedback is acknowledged only\n"
               "once it is committed to the --events SQLite database (WAL, synchronous=FULL).",
    .opts = opts,
    .run = run,
};
