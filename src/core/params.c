/*
 * params.c — the flat hyper-parameter set (see params.h and drec.h).
 */
#include "params.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct entry {
    char *key, *value;
    bool used;
} entry;

struct drec_params {
    entry *e;
    size_t n, cap;
};

drec_params *drec_params_new(void) { return drec_calloc(1, sizeof(drec_params)); }

void drec_params_free(drec_params *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->e[i].key);
        free(p->e[i].value);
    }
    free(p->e);
    free(p);
}

static entry *find(const drec_params *p, const char *key) {
    if (!p) return NULL;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->e[i].key, key) == 0) return &p->e[i];
    return NULL;
}

drec_status drec_params_set(drec_params *p, const char *key, const char *value) {
    if (!key || !*key) return drec_fail(DREC_ERR_USAGE, "empty hyper-parameter name");
    entry *e = find(p, key);
    if (e) {
        free(e->value);
        e->value = drec_strdup(value ? value : "");
        return DREC_OK;
    }
    DREC_GROW(p->e, p->cap, p->n + 1);
    p->e[p->n++] = (entry){drec_strdup(key), drec_strdup(value ? value : ""), false};
    return DREC_OK;
}

const char *drec_params_get(const drec_params *p, const char *key) {
    entry *e = find(p, key);
    return e ? e->value : NULL;
}

void drec_params_mark_used(const drec_params *p, const char *key) {
    entry *e = find(p, key);
    if (e) e->used = true;
}

drec_status drec_params_int(const drec_params *p, const char *key, long def, long *out) {
    entry *e = find(p, key);
    *out = def;
    if (!e) return DREC_OK;
    e->used = true;
    char *end;
    errno = 0;
    long v = strtol(e->value, &end, 10);
    if (errno || end == e->value || *end)
        return drec_fail(DREC_ERR_USAGE, "--%s: \"%s\" is not an integer", key, e->value);
    *out = v;
    return DREC_OK;
}

drec_status drec_params_float(const drec_params *p, const char *key, double def, double *out) {
    entry *e = find(p, key);
    *out = def;
    if (!e) return DREC_OK;
    e->used = true;
    char *end;
    errno = 0;
    double v = strtod(e->value, &end);
    if (errno || end == e->value || *end || !isfinite(v))
        return drec_fail(DREC_ERR_USAGE, "--%s: \"%s\" is not a number", key, e->value);
    *out = v;
    return DREC_OK;
}

const char *drec_params_str(const drec_params *p, const char *key, const char *def) {
    entry *e = find(p, key);
    if (!e) return def;
    e->used = true;
    return e->value;
}

int drec_params_ints(const drec_params *p, const char *key, const char *def, int *out, int max) {
    const char *s = drec_params_str(p, key, def);
    if (!s) return 0;
    int n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v <= 0 || v > 1 << 20 || (*end && *end != ',')) {
            drec_fail(DREC_ERR_USAGE, "--%s: expected a comma list of positive integers", key);
            return -1;
        }
        if (n == max) {
            drec_fail(DREC_ERR_USAGE, "--%s: at most %d values", key, max);
            return -1;
        }
        out[n++] = (int)v;
        s = *end ? end + 1 : end;
    }
    return n;
}

bool drec_params_flag(const drec_params *p, const char *key) {
    const char *v = drec_params_str(p, key, NULL);
    return v && strcmp(v, "0") != 0 && strcmp(v, "false") != 0 && strcmp(v, "no") != 0;
}

drec_params *drec_params_clone(const drec_params *p) {
    drec_params *c = drec_params_new();
    for (size_t i = 0; p && i < p->n; i++) drec_params_set(c, p->e[i].key, p->e[i].value);
    return c;
}

size_t drec_params_count(const drec_params *p) { return p ? p->n : 0; }

void drec_params_at(const drec_params *p, size_t i, const char **key, const char **value) {
    *key = p->e[i].key;
    *value = p->e[i].value;
}

/* Keys that the framework itself reads, never "ignored" by a model. */
static const char *const framework_keys[] = {"threads", "seed", "config", "split", NULL};

void drec_params_report_unused(const drec_params *p, const char *model) {
    for (size_t i = 0; p && i < p->n; i++) {
        if (p->e[i].used) continue;
        bool fw = false;
        for (int k = 0; framework_keys[k]; k++) fw |= strcmp(framework_keys[k], p->e[i].key) == 0;
        if (!fw) drec_note("%s ignores --%s", model, p->e[i].key);
        p->e[i].used = true; /* once */
    }
}

drec_status drec_params_load_json(drec_params *p, const char *path) {
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root)
        return drec_fail(DREC_ERR_INPUT, "%s:%d: %s", path, err.line, err.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return drec_fail(DREC_ERR_INPUT, "%s: expected a JSON object of hyper-parameters", path);
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        char buf[64];
        const char *s = NULL;
        char *owned = NULL;
        if (json_is_string(v)) s = json_string_value(v);
        else if (json_is_integer(v)) { snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v)); s = buf; }
        else if (json_is_real(v)) { snprintf(buf, sizeof buf, "%.17g", json_real_value(v)); s = buf; }
        else if (json_is_boolean(v)) s = json_is_true(v) ? "1" : "0";
        else if (json_is_array(v)) {
            /* [64,32,16] -> "64,32,16" */
            size_t i; json_t *x; size_t cap = 16, len = 0;
            owned = drec_calloc(cap, 1);
            json_array_foreach(v, i, x) {
                if (!json_is_integer(x)) { free(owned); json_decref(root);
                    return drec_fail(DREC_ERR_INPUT, "%s: key \"%s\": arrays must hold integers", path, key); }
                int w = snprintf(buf, sizeof buf, "%s%lld", i ? "," : "", (long long)json_integer_value(x));
                DREC_GROW(owned, cap, len + (size_t)w + 1);
                memcpy(owned + len, buf, (size_t)w + 1);
                len += (size_t)w;
            }
            s = owned;
        } else {
            json_decref(root);
            return drec_fail(DREC_ERR_INPUT, "%s: key \"%s\": unsupported value type", path, key);
        }
        drec_params_set(p, key, s);
        free(owned);
    }
    json_decref(root);
    return DREC_OK;
}
