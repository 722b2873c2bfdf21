/* harness.c — see harness.h. */
#include "harness.h"

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

int harness_failed_checks;
static int passed, failed;

void harness_run(const char *name, void (*fn)(void)) {
    int before = harness_failed_checks;
    fn();
    if (harness_failed_checks == before) {
        passed++;
        printf("ok      %s\n", name);
    } else {
        failed++;
        printf("NOT OK  %s\n", name);
    }
    fflush(stdout);
}

int harness_summary(void) {
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

static char *join(const char *env, const char *fallback, const char *rel) {
    const char *base = getenv(env);
    if (!base) base = fallback;
    size_t n = strlen(base) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", base, rel);
    return p;
}

char *data_path(const char *rel) { return join("DREC_DATA", "../shared/data", rel); }
char *testdata_path(const char *rel) { return join("DREC_TESTDATA", "tests/data", rel); }

int run_cmd(const char *cmd, char **out) {
    char full[8192];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *f = popen(full, "r");
    if (!f) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += r;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    int st = pclose(f);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *write_temp(const char *name, const char *text, size_t len) {
    char dir[] = "/tmp/drec-test-XXXXXX";
    if (!mkdtemp(dir)) return NULL;
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) return p;
    fwrite(text, 1, len, f);
    fclose(f);
    return p;
}

void remove_temp(const char *path) {
    if (!path) return;
    char dir[1024];
    snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(path, '/') - path), path);
    if (strncmp(dir, "/tmp/drec-test-", 15) != 0) return;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1300];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}
