/*
 * modelfile.c — the model file: magic, format version, a readable JSON
 * header (model name, hyper-parameters, tensor table) and named tensors,
 * each 64-byte aligned (mmap-able) and checksummed with xxHash64.
 *
 *   offset 0   "DRECMDL\0"           8 bytes
 *          8   format version        u32 little-endian
 *         12   header length H       u32
 *         16   header JSON           H bytes (NUL-padded to 64)
 *              header checksum       u64 (xxHash64 of the H bytes)
 *              tensors               each at a 64-byte boundary
 *
 * Writes are atomic (fileio.c).  Loading verifies the magic, the version,
 * the header checksum, every tensor checksum and every shape before any of
 * it is used; a mismatch says what is wrong and what to do.
 */
#include "model.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#define MF_MAGIC "DRECMDL"
#define MF_VERSION 1u

typedef struct mf_tensor {
    char name[64];
    drec_mf_dtype dt;
    int ndim;
    int64_t shape[4];
    const void *data;
    size_t nbytes;
    uint64_t offset, hash;
} mf_tensor;

struct drec_mf_writer {
    mf_tensor *t;
    size_t n, cap;
    char prefix[32]; /* prepended to every name (nested models) */
};

struct drec_mf_reader {
    const char *path;
    drec_mapped map;
    mf_tensor *t;
    size_t n;
    json_t *header;
    char prefix[32];
    void **copies; /* data handed out by drec_mf_get, freed with the model */
    size_t n_copies, copies_cap;
};

static size_t dtype_size(drec_mf_dtype dt) {
    switch (dt) {
    case DREC_DT_F32: return 4;
    case DREC_DT_I32: return 4;
    case DREC_DT_I64: return 8;
    case DREC_DT_U8: return 1;
    }
    return 0;
}

static const char *dtype_name(drec_mf_dtype dt) {
    static const char *names[] = {"f32", "i32", "i64", "u8"};
    return (unsigned)dt < 4 ? names[dt] : "?";
}

void drec_mf_writer_prefix(drec_mf_writer *w, const char *prefix) {
    snprintf(w->prefix, sizeof w->prefix, "%s", prefix ? prefix : "");
}

void drec_mf_reader_prefix(drec_mf_reader *r, const char *prefix) {
    snprintf(r->prefix, sizeof r->prefix, "%s", prefix ? prefix : "");
}

drec_status drec_mf_put(drec_mf_writer *w, const char *name, drec_mf_dtype dt, const void *data, int ndim,
                        const int64_t *shape) {
    if (ndim < 0 || ndim > 4 || strlen(w->prefix) + strlen(name) >= 64)
        return drec_fail(DREC_ERR_INTERNAL, "model file: bad tensor \"%s%s\"", w->prefix, name);
    DREC_GROW(w->t, w->cap, w->n + 1);
    mf_tensor *t = &w->t[w->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s%s", w->prefix, name);
    t->dt = dt;
    t->ndim = ndim;
    size_t count = 1;
    for (int k = 0; k < ndim; k++) {
        t->shape[k] = shape[k];
        count *= (size_t)shape[k];
    }
    t->data = data;
    t->nbytes = count * dtype_size(dt);
    return DREC_OK;
}

drec_status drec_mf_put_f32(drec_mf_writer *w, const char *name, const float *data, int64_t rows, int64_t cols) {
    int64_t shape[2] = {rows, cols};
    return drec_mf_put(w, name, DREC_DT_F32, data, cols > 0 ? 2 : 1, shape);
}

drec_status drec_mf_put_i32(drec_mf_writer *w, const char *name, const int32_t *data, int64_t n) {
    return drec_mf_put(w, name, DREC_DT_I32, data, 1, &n);
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int k = 0; k < 8; k++) p[k] = (unsigned char)(v >> (8 * k));
}
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) v |= (uint32_t)p[k] << (8 * k);
    return v;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v |= (uint64_t)p[k] << (8 * k);
    return v;
}

#define ALIGN64(x) (((x) + 63) & ~(uint64_t)63)

/* Blob of NUL-terminated names for a string map. */
static char *names_blob(const drec_strmap *m, size_t *len) {
    *len = m->text_len;
    return m->text;
}

static json_t *params_json(const drec_params *p) {
    json_t *o = json_object();
    for (size_t i = 0; i < drec_params_count(p); i++) {
        const char *k, *v;
        drec_params_at(p, i, &k, &v);
        json_object_set_new(o, k, json_string(v));
    }
    return o;
}

drec_status drec_model_save(const drec_model *m, const char *path) {
    drec_mf_writer w = {0};
    drec_status st = DREC_OK;
    size_t ulen, ilen;
    char *ublob = names_blob(&m->users, &ulen), *iblob = names_blob(&m->items, &ilen);
    int64_t n;
    n = (int64_t)ulen;
    drec_mf_put(&w, "_users", DREC_DT_U8, ublob, 1, &n);
    n = (int64_t)ilen;
    drec_mf_put(&w, "_items", DREC_DT_U8, iblob, 1, &n);
    /* titles and categories as one blob each: entries NUL-terminated */
    char *titles = NULL, *cats = NULL;
    size_t tlen = 0, tcap = 0, clen = 0, ccap = 0;
    for (int32_t i = 0; i < m->n_items; i++) {
        const char *t = m->item_title && m->item_title[i] ? m->item_title[i] : "";
        const char *c = m->item_category && m->item_category[i] ? m->item_category[i] : "";
        size_t a = strlen(t) + 1, b = strlen(c) + 1;
        DREC_GROW(titles, tcap, tlen + a);
        memcpy(titles + tlen, t, a);
        tlen += a;
        DREC_GROW(cats, ccap, clen + b);
        memcpy(cats + clen, c, b);
        clen += b;
    }
    n = (int64_t)tlen;
    drec_mf_put(&w, "_titles", DREC_DT_U8, titles, 1, &n);
    n = (int64_t)clen;
    drec_mf_put(&w, "_categories", DREC_DT_U8, cats, 1, &n);
    n = (int64_t)m->n_users + 1;
    drec_mf_put(&w, "_seen_ptr", DREC_DT_I64, m->seen_ptr, 1, &n);
    n = m->seen_ptr[m->n_users];
    drec_mf_put(&w, "_seen_idx", DREC_DT_I32, m->seen_idx, 1, &n);
    drec_mf_put_i32(&w, "_item_count", m->item_count, m->n_items);
    if (m->n_epochs > 0) {
        drec_mf_put_f32(&w, "_loss_curve", m->loss_curve, m->n_epochs, 0);
        drec_mf_put_f32(&w, "_val_curve", m->val_curve, m->n_epochs, 0);
    }
    st = m->vt->save ? m->vt->save(m, &w)
                     : drec_fail(DREC_ERR_UNSUPPORTED, "model %s cannot be saved", m->vt->name);
    if (st) goto out;

    /* Lay out: header first (its size depends on the offsets, so iterate). */
    json_t *hdr = json_object();
    json_object_set_new(hdr, "model", json_string(m->vt->name));
    json_object_set_new(hdr, "drec_version", json_string(DREC_VERSION));
    json_object_set_new(hdr, "n_users", json_integer(m->n_users));
    json_object_set_new(hdr, "n_items", json_integer(m->n_items));
    json_object_set_new(hdr, "seed", json_integer((json_int_t)m->seed));
    json_object_set_new(hdr, "train_seconds", json_real(m->train_seconds));
    json_object_set_new(hdr, "params", params_json(m->params));
    char *text = NULL;
    uint64_t data_start = 0, guess = 4096;
    for (int iter = 0; iter < 8; iter++) {
        uint64_t off = guess;
        json_t *tab = json_array();
        for (size_t k = 0; k < w.n; k++) {
            mf_tensor *t = &w.t[k];
            t->offset = off;
            t->hash = drec_hash64(t->data, t->nbytes, 0);
            off = ALIGN64(off + t->nbytes);
            json_t *shape = json_array();
            for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
            json_t *e = json_pack("{s:s, s:s, s:o, s:I, s:I, s:s}", "name", t->name, "dtype", dtype_name(t->dt),
                                  "shape", shape, "offset", (json_int_t)t->offset, "bytes",
                                  (json_int_t)t->nbytes, "xxh64", "");
            char hex[17];
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)t->hash);
            json_object_set_new(e, "xxh64", json_string(hex));
            json_array_append_new(tab, e);
        }
        json_object_set_new(hdr, "tensors", tab);
        free(text);
        text = json_dumps(hdr, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        data_start = ALIGN64(16 + strlen(text) + 8);
        if (data_start <= guess) break;
        guess = ALIGN64(data_start + 1024);
    }
    json_decref(hdr);

    drec_atomic_file *f;
    st = drec_atomic_open(path, &f);
    if (st) {
        free(text);
        goto out;
    }
    unsigned char pre[16];
    memcpy(pre, MF_MAGIC "\0", 8);
    put_u32(pre + 8, MF_VERSION);
    size_t hlen = strlen(text);
    put_u32(pre + 12, (uint32_t)hlen);
    st = drec_atomic_write(f, pre, 16);
    if (!st) st = drec_atomic_write(f, text, hlen);
    unsigned char h8[8];
    put_u64(h8, drec_hash64(text, hlen, 0));
    if (!st) st = drec_atomic_write(f, h8, 8);
    uint64_t pos = 16 + hlen + 8;
    static const char zeros[4096];
    for (size_t k = 0; k < w.n && !st; k++) {
        uint64_t pad = w.t[k].offset - pos;
        if (pad > sizeof zeros) {
            /* header shrank under the guess: pad in chunks */
            while (pad > 0 && !st) {
                size_t c = pad > sizeof zeros ? sizeof zeros : (size_t)pad;
                st = drec_atomic_write(f, zeros, c);
                pad -= c;
            }
        } else if (pad)
            st = drec_atomic_write(f, zeros, (size_t)pad);
        if (!st) st = drec_atomic_write(f, w.t[k].data, w.t[k].nbytes);
        pos = w.t[k].offset + w.t[k].nbytes;
    }
    free(text);
    if (st) {
        drec_atomic_abort(f);
        goto out;
    }
    st = drec_atomic_commit(f);
out:
    free(titles);
    free(cats);
    free(w.t);
    return st;
}

static drec_status bad(const char *path, const char *what) {
    return drec_fail(DREC_ERR_FORMAT, "%s: %s", path, what);
}

static drec_mf_dtype dtype_parse(const char *s) {
    for (int k = 0; k < 4; k++)
        if (strcmp(s, dtype_name((drec_mf_dtype)k)) == 0) return (drec_mf_dtype)k;
    return (drec_mf_dtype)-1;
}

static drec_status reader_open(const char *path, drec_mf_reader *r) {
    memset(r, 0, sizeof *r);
    r->path = path;
    drec_status st = drec_map_file(path, &r->map);
    if (st) return st;
    const unsigned char *p = (const unsigned char *)r->map.data;
    size_t size = r->map.size;
    if (size < 24 || memcmp(p, MF_MAGIC, 8) != 0)
        return bad(path, "not a drec model file (bad magic); train one with `drec train --out FILE`");
    uint32_t ver = get_u32(p + 8);
    if (ver != MF_VERSION) {
        char msg[160];
        snprintf(msg, sizeof msg, "model file format version %u, this drec reads version %u: retrain the model "
                                  "with this drec", ver, MF_VERSION);
        return bad(path, msg);
    }
    uint32_t hlen = get_u32(p + 12);
    if ((uint64_t)16 + hlen + 8 > size) return bad(path, "truncated header: the file is incomplete");
    if (drec_hash64(p + 16, hlen, 0) != get_u64(p + 16 + hlen))
        return bad(path, "header checksum mismatch: the file is corrupt");
    json_error_t err;
    r->header = json_loadb((const char *)p + 16, hlen, 0, &err);
    if (!r->header || !json_is_object(r->header)) return bad(path, "header is not valid JSON");
    json_t *tab = json_object_get(r->header, "tensors");
    if (!json_is_array(tab)) return bad(path, "header has no tensor table");
    r->n = json_array_size(tab);
    r->t = drec_calloc(r->n ? r->n : 1, sizeof *r->t);
    for (size_t k = 0; k < r->n; k++) {
        json_t *e = json_array_get(tab, k);
        mf_tensor *t = &r->t[k];
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *dt = json_string_value(json_object_get(e, "dtype"));
        const char *hx = json_string_value(json_object_get(e, "xxh64"));
        json_t *shape = json_object_get(e, "shape");
        if (!name || !dt || !hx || !json_is_array(shape) || json_array_size(shape) > 4)
            return bad(path, "malformed tensor table");
        snprintf(t->name, sizeof t->name, "%s", name);
        t->dt = dtype_parse(dt);
        if ((int)t->dt < 0) return bad(path, "unknown tensor type");
        t->ndim = (int)json_array_size(shape);
        size_t count = 1;
        for (int d = 0; d < t->ndim; d++) {
            json_int_t v = json_integer_value(json_array_get(shape, (size_t)d));
            if (v < 0 || v > ((json_int_t)1 << 40)) return bad(path, "bad tensor shape");
            t->shape[d] = v;
            count *= (size_t)v;
        }
        t->nbytes = count * dtype_size(t->dt);
        t->offset = (uint64_t)json_integer_value(json_object_get(e, "offset"));
        if ((uint64_t)json_integer_value(json_object_get(e, "bytes")) != t->nbytes)
            return bad(path, "tensor size does not match its shape");
        if (t->offset % 64 || t->offset > size || t->nbytes > size - t->offset) {
            char msg[200];
            snprintf(msg, sizeof msg, "tensor \"%s\" lies past the end of the file: the file is truncated", name);
            return bad(path, msg);
        }
        t->hash = strtoull(hx, NULL, 16);
        t->data = p + t->offset;
        if (drec_hash64(t->data, t->nbytes, 0) != t->hash) {
            char msg[200];
            snprintf(msg, sizeof msg, "tensor \"%s\" checksum mismatch: the file is corrupt", name);
            return bad(path, msg);
        }
    }
    return DREC_OK;
}

static void reader_close(drec_mf_reader *r) {
    for (size_t k = 0; k < r->n_copies; k++) free(r->copies[k]);
    free(r->copies);
    free(r->t);
    if (r->header) json_decref(r->header);
    drec_unmap_file(&r->map);
}

drec_status drec_mf_get(drec_mf_reader *r, const char *name, drec_mf_dtype dt, int ndim, int64_t *shape,
                        const void **data) {
    char full[96];
    snprintf(full, sizeof full, "%s%s", r->prefix, name);
    name = full;
    for (size_t k = 0; k < r->n; k++) {
        mf_tensor *t = &r->t[k];
        if (strcmp(t->name, name) != 0) continue;
        if (t->dt != dt || t->ndim != ndim)
            return drec_fail(DREC_ERR_FORMAT, "%s: tensor \"%s\" has type %s rank %d, expected %s rank %d",
                             r->path, name, dtype_name(t->dt), t->ndim, dtype_name(dt), ndim);
        for (int d = 0; d < ndim; d++) {
            if (shape[d] > 0 && shape[d] != t->shape[d])
                return drec_fail(DREC_ERR_FORMAT, "%s: tensor \"%s\" dimension %d is %lld, expected %lld",
                                 r->path, name, d, (long long)t->shape[d], (long long)shape[d]);
            shape[d] = t->shape[d];
        }
        *data = t->data;
        return DREC_OK;
    }
    return drec_fail(DREC_ERR_FORMAT, "%s: tensor \"%s\" is missing", r->path, name);
}

static drec_status get_copy(drec_mf_reader *r, const char *name, drec_mf_dtype dt, int ndim, int64_t *shape,
                            void **out) {
    const void *data;
    *out = NULL;
    drec_status st = drec_mf_get(r, name, dt, ndim, shape, &data);
    if (st) return st;
    size_t count = 1;
    for (int d = 0; d < ndim; d++) count *= (size_t)shape[d];
    size_t bytes = count * dtype_size(dt);
    *out = drec_aligned_alloc(bytes ? bytes : 1);
    memcpy(*out, data, bytes);
    return DREC_OK;
}

drec_status drec_mf_get_f32(drec_mf_reader *r, const char *name, int64_t rows, int64_t cols, float **out) {
    int64_t shape[2] = {rows, cols};
    return get_copy(r, name, DREC_DT_F32, cols > 0 ? 2 : 1, shape, (void **)out);
}

drec_status drec_mf_get_i32(drec_mf_reader *r, const char *name, int64_t n, int32_t **out) {
    return get_copy(r, name, DREC_DT_I32, 1, &n, (void **)out);
}

/* Splits a NUL-separated blob of exactly `count` entries into a string map
 * or an array of strings. */
static drec_status blob_strings(drec_mf_reader *r, const char *name, int32_t count, drec_strmap *map,
                                char ***arr) {
    const void *data;
    int64_t n = 0;
    drec_status st = drec_mf_get(r, name, DREC_DT_U8, 1, &n, &data);
    if (st) return st;
    const char *p = data, *end = p + n;
    if (n > 0 && end[-1] != '\0') return bad(r->path, "name table is not terminated");
    if (arr) *arr = drec_calloc((size_t)count + 1, sizeof **arr);
    int32_t k = 0;
    while (p < end && k < count) {
        size_t len = strlen(p);
        if (map) {
            if (drec_strmap_intern(map, p, len) != k) return bad(r->path, "duplicate id in name table");
        } else if (len)
            (*arr)[k] = drec_strndup(p, len);
        p += len + 1;
        k++;
    }
    if (k != count || p != end) return bad(r->path, "name table does not match the user/item counts");
    return DREC_OK;
}

drec_status drec_model_load(const char *path, drec_model **out) {
    *out = NULL;
    drec_mf_reader r;
    drec_status st = reader_open(path, &r);
    drec_model *m = NULL;
    if (st) goto fail;
    const char *name = json_string_value(json_object_get(r.header, "model"));
    const drec_model_vt *vt = name ? drec_model_find(name) : NULL;
    if (!vt) {
        st = drec_fail(DREC_ERR_FORMAT, "%s: model \"%s\" is not known to this drec", path, name ? name : "?");
        goto fail;
    }
    m = drec_calloc(1, sizeof *m);
    m->vt = vt;
    m->params = drec_params_new();
    drec_strmap_init(&m->users);
    drec_strmap_init(&m->items);
    json_t *nu = json_object_get(r.header, "n_users"), *ni = json_object_get(r.header, "n_items");
    if (!json_is_integer(nu) || !json_is_integer(ni) || json_integer_value(nu) < 0 || json_integer_value(ni) < 0) {
        st = bad(path, "header lacks user/item counts");
        goto fail;
    }
    m->n_users = (int32_t)json_integer_value(nu);
    m->n_items = (int32_t)json_integer_value(ni);
    m->seed = (uint64_t)json_integer_value(json_object_get(r.header, "seed"));
    m->train_seconds = json_number_value(json_object_get(r.header, "train_seconds"));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(r.header, "params"), k, v) {
        if (json_is_string(v)) drec_params_set(m->params, k, json_string_value(v));
    }
    if ((st = blob_strings(&r, "_users", m->n_users, &m->users, NULL))) goto fail;
    if ((st = blob_strings(&r, "_items", m->n_items, &m->items, NULL))) goto fail;
    if ((st = blob_strings(&r, "_titles", m->n_items, NULL, &m->item_title))) goto fail;
    if ((st = blob_strings(&r, "_categories", m->n_items, NULL, &m->item_category))) goto fail;
    int64_t n = (int64_t)m->n_users + 1;
    if ((st = get_copy(&r, "_seen_ptr", DREC_DT_I64, 1, &n, (void **)&m->seen_ptr))) goto fail;
    n = 0;
    if ((st = get_copy(&r, "_seen_idx", DREC_DT_I32, 1, &n, (void **)&m->seen_idx))) goto fail;
    if (m->seen_ptr[0] != 0 || m->seen_ptr[m->n_users] != n) {
        st = bad(path, "seen-item index is inconsistent");
        goto fail;
    }
    for (int32_t u = 0; u < m->n_users; u++)
        if (m->seen_ptr[u + 1] < m->seen_ptr[u]) {
            st = bad(path, "seen-item index is inconsistent");
            goto fail;
        }
    for (int64_t j = 0; j < n; j++)
        if (m->seen_idx[j] < 0 || m->seen_idx[j] >= m->n_items) {
            st = bad(path, "seen-item index holds an item out of range");
            goto fail;
        }
    if ((st = drec_mf_get_i32(&r, "_item_count", m->n_items, &m->item_count))) goto fail;
    int64_t ne = 0;
    const void *lc;
    if (drec_mf_get(&r, "_loss_curve", DREC_DT_F32, 1, &ne, &lc) == DREC_OK && ne > 0) {
        m->n_epochs = (int)ne;
        get_copy(&r, "_loss_curve", DREC_DT_F32, 1, &ne, (void **)&m->loss_curve);
        get_copy(&r, "_val_curve", DREC_DT_F32, 1, &ne, (void **)&m->val_curve);
    }
    drec_clear_error();
    st = vt->load ? vt->load(m, &r) : drec_fail(DREC_ERR_UNSUPPORTED, "model %s cannot be loaded", vt->name);
    if (st) goto fail;
    reader_close(&r);
    *out = m;
    return DREC_OK;
fail:
    if (m) drec_model_free(m);
    reader_close(&r);
    return st;
}
