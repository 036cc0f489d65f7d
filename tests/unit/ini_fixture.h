/*
 * ini_fixture.h -- the fixture the configuration unit tests share: a
 * temporary folder holding rpcrest.ini (and whatever files a test puts
 * beside it), written from a string and loaded with rp_config_load, and the
 * checks made on the result.  Header-only; include it once per test program,
 * after cmocka.h.
 */
#ifndef INI_FIXTURE_H
#define INI_FIXTURE_H

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rp_config.h"

typedef struct fixture {
    char dir[PATH_MAX];      /* the test's folder, a real (symlink-free) path */
    char ini[PATH_MAX + 16]; /* dir/rpcrest.ini */
    char cwd[PATH_MAX];      /* restored by the teardown */
    char err[PATH_MAX + 512];
} fixture;

/* snprintf into a buffer that must be big enough: fails the test if not. */
static inline void bprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void bprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        fail_msg("bprintf: %d bytes do not fit in %zu", n, size);
}

static inline int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char tmpl[] = "/tmp/rpcrest-unit-XXXXXX";
    if (!f || !getcwd(f->cwd, sizeof(f->cwd)) || !mkdtemp(tmpl) || !realpath(tmpl, f->dir)) {
        fprintf(stderr, "setup: %s\n", strerror(errno));
        free(f);
        return -1;
    }
    snprintf(f->ini, sizeof(f->ini), "%s/rpcrest.ini", f->dir);
    *state = f;
    return 0;
}

static inline int ini_fixture_remove(const char *path, const struct stat *st, int flag,
                                     struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) < 0)
        fprintf(stderr, "teardown: remove %s: %s\n", path, strerror(errno));
    return 0;
}

/* Back to the first folder, and the test's folder removed with all in it. */
static inline int teardown(void **state)
{
    fixture *f = *state;
    int rc = 0;
    if (chdir(f->cwd) < 0) {
        fprintf(stderr, "teardown: chdir %s: %s\n", f->cwd, strerror(errno));
        rc = -1;
    }
    if (nftw(f->dir, ini_fixture_remove, 16, FTW_DEPTH | FTW_PHYS) < 0) {
        fprintf(stderr, "teardown: nftw %s: %s\n", f->dir, strerror(errno));
        rc = -1;
    }
    free(f);
    return rc;
}

/* Writes text into dir/rel, creating or truncating it. */
static inline void put_file(const fixture *f, const char *rel, const char *text)
{
    char path[PATH_MAX + 64];
    bprintf(path, sizeof(path), "%s/%s", f->dir, rel);
    FILE *file = fopen(path, "w");
    if (!file)
        fail_msg("fopen %s: %s", path, strerror(errno));
    if (fputs(text, file) == EOF || fclose(file) != 0)
        fail_msg("write %s: %s", path, strerror(errno));
}

static inline void make_dir(const fixture *f, const char *rel)
{
    char path[PATH_MAX + 64];
    bprintf(path, sizeof(path), "%s/%s", f->dir, rel);
    if (mkdir(path, 0755) < 0)
        fail_msg("mkdir %s: %s", path, strerror(errno));
}

/* "dir/rel" in a static buffer: for one assertion at a time. */
static inline const char *in_dir(const fixture *f, const char *rel)
{
    static char path[PATH_MAX + 64];
    bprintf(path, sizeof(path), "%s/%s", f->dir, rel);
    return path;
}

/* Writes text as the INI and loads it; the error lands in f->err. */
static inline rp_config *load(fixture *f, const char *text)
{
    put_file(f, "rpcrest.ini", text);
    f->err[0] = '\0';
    return rp_config_load(f->ini, f->err, sizeof(f->err));
}

static inline rp_config *load_ok(fixture *f, const char *text)
{
    rp_config *cfg = load(f, text);
    if (!cfg)
        fail_msg("expected the config to load, got: %s\n--- INI ---\n%s", f->err, text);
    return cfg;
}

/* Asserts that text is refused with "INI:line: ..." containing `what`. */
static inline void expect_error_at(fixture *f, const char *text, int line, const char *what)
{
    rp_config *cfg = load(f, text);
    if (cfg) {
        rp_config_free(cfg);
        fail_msg("expected an error at line %d (%s), but it loaded:\n%s", line, what, text);
    }
    char prefix[PATH_MAX + 64];
    bprintf(prefix, sizeof(prefix), "%s:%d: ", f->ini, line);
    if (strncmp(f->err, prefix, strlen(prefix)) != 0)
        fail_msg("expected the error to start with '%s', got '%s'", prefix, f->err);
    if (!strstr(f->err + strlen(prefix), what))
        fail_msg("expected the error to mention '%s', got '%s'", what, f->err);
}

#endif /* INI_FIXTURE_H */
