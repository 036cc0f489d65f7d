/*
 * replay.c -- runs a fuzz target's LLVMFuzzerTestOneInput once on each input
 * file, without libFuzzer: the regression suite of every fuzz target in an
 * ordinary (or SAN=1) build.
 *
 *   NAME [FILE|DIR]...
 *
 * Without arguments: every file of tests/fuzz/corpus/NAME/ (the seeds) and
 * tests/fuzz/regress/NAME/ (inputs that once crashed), NAME being the
 * program's own name.  Prints one TAP line per input ("ok N - PATH"); an
 * input that crashes ends the process, which the test runner counts as a
 * failure (under ASan/UBSan, with their report).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int n_run;

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs one file; 0, or -1 if it cannot be read. */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *grown = realloc(data, cap);
            if (!grown) {
                free(data);
                fclose(f);
                fprintf(stderr, "%s: out of memory\n", path);
                return -1;
            }
            data = grown;
        }
        size_t n = fread(data + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(data);
        fprintf(stderr, "%s: read error\n", path);
        return -1;
    }
    /* an exact-size copy, so that ASan sees a read past the end */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(data);
        return -1;
    }
    if (len)
        memcpy(exact, data, len);
    free(data);
    printf("# %s\n", path);
    fflush(stdout);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    printf("ok %d - %s\n", ++n_run, path);
    fflush(stdout);
    return 0;
}

/* A file, or every file of a folder (sorted); a missing folder is empty. */
static int run_path(const char *path, int must_exist)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (!must_exist && errno == ENOENT)
            return 0;
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char **grown = realloc(names, (n + 1) * sizeof(*names));
        if (!grown || asprintf(&grown[n], "%s/%s", path, e->d_name) < 0) {
            names = grown ? grown : names;
            rc = -1;
            break;
        }
        names = grown;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), compare_names);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && run_file(names[i]) < 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    int rc = 0;
    if (argc > 1) {
        for (int i = 1; i < argc && rc == 0; i++)
            rc = run_path(argv[i], 1);
    } else {
        const char *slash = strrchr(argv[0], '/');
        const char *name = slash ? slash + 1 : argv[0];
        char corpus[512], regress[512];
        snprintf(corpus, sizeof(corpus), "tests/fuzz/corpus/%s", name);
        snprintf(regress, sizeof(regress), "tests/fuzz/regress/%s", name);
        rc = run_path(corpus, 1);
        if (rc == 0)
            rc = run_path(regress, 0);
    }
    if (rc < 0) {
        printf("not ok %d - reading the inputs\n", ++n_run);
        return 1;
    }
    printf("1..%d\n", n_run);
    return 0;
}
