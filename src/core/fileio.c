/*
 * fileio.c — atomic file writes and whole-file mapping.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct drec_atomic_file {
    int fd;
    char *path, *tmp;
};

drec_status drec_atomic_open(const char *path, drec_atomic_file **out) {
    *out = NULL;
    drec_atomic_file *f = drec_calloc(1, sizeof *f);
    f->path = drec_strdup(path);
    size_t n = strlen(path) + 32;
    f->tmp = drec_malloc(n);
    snprintf(f->tmp, n, "%s.tmp.XXXXXX", path);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        drec_status st = drec_fail(DREC_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(f->path);
        free(f->tmp);
        free(f);
        return st;
    }
    fchmod(f->fd, 0644);
    *out = f;
    return DREC_OK;
}

drec_status drec_atomic_write(drec_atomic_file *f, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = write(f->fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return drec_fail(DREC_ERR_IO, "%s: write failed: %s", f->path, strerror(errno));
        }
        c += w;
        n -= (size_t)w;
    }
    return DREC_OK;
}

static void fsync_dir(const char *path) {
    char *copy = drec_strdup(path);
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(copy);
}

drec_status drec_atomic_commit(drec_atomic_file *f) {
    drec_status st = DREC_OK;
    if (fsync(f->fd) != 0)
        st = drec_fail(DREC_ERR_IO, "%s: fsync failed: %s", f->path, strerror(errno));
    if (close(f->fd) != 0 && st == DREC_OK)
        st = drec_fail(DREC_ERR_IO, "%s: close failed: %s", f->path, strerror(errno));
    if (st == DREC_OK && rename(f->tmp, f->path) != 0)
        st = drec_fail(DREC_ERR_IO, "%s: rename failed: %s", f->path, strerror(errno));
    if (st == DREC_OK)
        fsync_dir(f->path);
    else
        unlink(f->tmp);
    free(f->path);
    free(f->tmp);
    free(f);
    return st;
}

void drec_atomic_abort(drec_atomic_file *f) {
    if (!f) return;
    close(f->fd);
    unlink(f->tmp);
    free(f->path);
    free(f->tmp);
    free(f);
}

drec_status drec_write_file_atomic(const char *path, const void *p, size_t n) {
    drec_atomic_file *f;
    drec_status st = drec_atomic_open(path, &f);
    if (st) return st;
    st = drec_atomic_write(f, p, n);
    if (st) {
        drec_atomic_abort(f);
        return st;
    }
    return drec_atomic_commit(f);
}

drec_status drec_map_file(const char *path, drec_mapped *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return drec_fail(DREC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return drec_fail(DREC_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return drec_fail(DREC_ERR_IO, "%s: is a folder, not a file", path);
    }
    if (S_ISREG(sb.st_mode)) {
        size_t size = (size_t)sb.st_size;
        long page = sysconf(_SC_PAGESIZE);
        /* Map one page more than the file when it ends on a page boundary, so
         * that data[size] is readable (and zero) for the parsers. */
        size_t map_len = (size / (size_t)page + 1) * (size_t)page;
        void *base = mmap(NULL, map_len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (base != MAP_FAILED && size % (size_t)page != 0) {
            close(fd);
            madvise(base, map_len, MADV_SEQUENTIAL);
            out->base = base;
            out->data = base;
            out->size = size;
            out->map_len = map_len;
            out->is_mmap = true;
            return DREC_OK;
        }
        if (base != MAP_FAILED) munmap(base, map_len);
    }
    /* Pipes, and files whose end falls on a page edge: read into memory. */
    size_t cap = 1 << 16, len = 0;
    char *buf = drec_try_malloc(cap + 1);
    if (!buf) {
        close(fd);
        return drec_fail(DREC_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (len == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                close(fd);
                return drec_fail(DREC_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR) continue;
            free(buf);
            close(fd);
            return drec_fail(DREC_ERR_IO, "%s: read failed: %s", path, strerror(errno));
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    out->base = buf;
    out->data = buf;
    out->size = len;
    out->is_mmap = false;
    return DREC_OK;
}

void drec_unmap_file(drec_mapped *m) {
    if (!m->base) return;
    if (m->is_mmap)
        munmap(m->base, m->map_len);
    else
        free(m->base);
    memset(m, 0, sizeof *m);
}
