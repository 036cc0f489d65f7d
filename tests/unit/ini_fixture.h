/*
 * ini_fixture.h -- the fixture the configuration unit tests share: a
 * temporary folder holding rpcrest.ini, written from a string and loaded
 * with rp_config_load.  Header-only; include it once per test program.
 */
#ifndef INI_FIXTURE_H
#define INI_FIXTURE_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp_config.h"

typedef struct fixture {
    char dir[PATH_MAX];
    char ini[PATH_MAX + 16]; /* dir/rpcrest.ini */
    char err[PATH_MAX + 512];
} fixture;

static inline int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char tmpl[] = "/tmp/rpcrest-unit-XXXXXX";
    if (!f || !mkdtemp(tmpl) || !realpath(tmpl, f->dir)) {
        fprintf(stderr, "setup: %s\n", strerror(errno));
        free(f);
        return -1;
    }
    snprintf(f->ini, sizeof(f->ini), "%s/rpcrest.ini", f->dir);
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    fixture *f = *state;
    int rc = 0;
    if (unlink(f->ini) < 0 && errno != ENOENT) {
        fprintf(stderr, "teardown: unlink %s: %s\n", f->ini, strerror(errno));
        rc = -1;
    }
    if (rmdir(f->dir) < 0) {
        fprintf(stderr, "teardown: rmdir %s: %s\n", f->dir, strerror(errno));
        rc = -1;
    }
    free(f);
    return rc;
}

/* Writes text as the INI and loads it; the error lands in f->err. */
static inline rp_config *load(fixture *f, const char *text)
{
    FILE *file = fopen(f->ini, "w");
    if (!file)
        fail_msg("fopen %s: %s", f->ini, strerror(errno));
    if (fputs(text, file) == EOF || fclose(file) != 0)
        fail_msg("write %s: %s", f->ini, strerror(errno));
    f->err[0] = '\0';
    return rp_config_load(f->ini, f->err, sizeof(f->err));
}

#endif /* INI_FIXTURE_H */
