/*
 * strmap.c — string -> dense id interning (see common.h).
 */
#include "common.h"

#include <xxhash.h>

uint64_t drec_hash64(const void *p, size_t n, uint64_t seed) {
    return XXH64(p, n, seed);
}

void drec_strmap_init(drec_strmap *m) { memset(m, 0, sizeof *m); }

void drec_strmap_free(drec_strmap *m) {
    free(m->slots);
    free(m->hashes);
    free(m->offs);
    free(m->lens);
    free(m->text);
    memset(m, 0, sizeof *m);
}

static void rehash(drec_strmap *m, size_t cap) {
    free(m->slots);
    m->slots = drec_calloc(cap, sizeof *m->slots);
    m->cap = cap;
    for (int32_t id = 0; id < m->n; id++) {
        size_t j = m->hashes[id] & (cap - 1);
        while (m->slots[j]) j = (j + 1) & (cap - 1);
        m->slots[j] = id + 1;
    }
}

int32_t drec_strmap_find(const drec_strmap *m, const char *s, size_t len) {
    if (!m->cap) return -1;
    uint64_t h = XXH64(s, len, 0);
    for (size_t j = h & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
        int32_t slot = m->slots[j];
        if (!slot) return -1;
        int32_t id = slot - 1;
        if (m->hashes[id] == h && m->lens[id] == len &&
            memcmp(m->text + m->offs[id], s, len) == 0)
            return id;
    }
}

int32_t drec_strmap_intern(drec_strmap *m, const char *s, size_t len) {
    int32_t id = drec_strmap_find(m, s, len);
    if (id >= 0) return id;
    if ((size_t)(m->n + 1) * 2 > m->cap) rehash(m, m->cap ? m->cap * 2 : 64);
    id = m->n++;
    if (m->n > m->n_cap) {
        m->n_cap = m->n_cap ? m->n_cap * 2 : 64;
        m->hashes = drec_realloc(m->hashes, (size_t)m->n_cap * sizeof *m->hashes);
        m->offs = drec_realloc(m->offs, (size_t)m->n_cap * sizeof *m->offs);
        m->lens = drec_realloc(m->lens, (size_t)m->n_cap * sizeof *m->lens);
    }
    DREC_GROW(m->text, m->text_cap, m->text_len + len + 1);
    memcpy(m->text + m->text_len, s, len);
    m->text[m->text_len + len] = '\0';
    uint64_t h = XXH64(s, len, 0);
    m->hashes[id] = h;
    m->offs[id] = (uint32_t)m->text_len;
    m->lens[id] = (uint32_t)len;
    m->text_len += len + 1;
    size_t j = h & (m->cap - 1);
    while (m->slots[j]) j = (j + 1) & (m->cap - 1);
    m->slots[j] = id + 1;
    return id;
}

void drec_strmap_copy(drec_strmap *dst, const drec_strmap *src) {
    drec_strmap_init(dst);
    for (int32_t i = 0; i < src->n; i++)
        drec_strmap_intern(dst, drec_strmap_name(src, i), src->lens[i]);
}
