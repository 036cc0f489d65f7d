/*
 * inspect.c -- test plugin: example.MyService/Echo whose request value is a
 * command, so that end-to-end tests can see what the host gives a plugin.
 *
 *   "info"      replies "method=… peer=… deadline=… cancelled=… md=…"
 *               (md: the first "x-test" request metadata value, or "-")
 *   "async"     replies "async done" 50 ms later, from a thread of its own
 *   "fail"      fails with NOT_FOUND "nothing here"
 *   "twice"     replies "first", then tries to finish the call twice more
 *   "hold"      finishes (CANCELLED) only once the call is cancelled
 *   "forget"    never finishes the call (what a plugin must not do)
 *   "block"     sleeps 60 s in the handler, holding the host's thread (what
 *               a plugin must not do either), then echoes
 *   "stats"     replies "second=… third=… cancels=…" ("twice" and "hold")
 *   "settings"  replies with the settings init() received, "k=v;…"
 *   "latin1"    replies "caf\xe9" (not UTF-8: the host must refuse it)
 *   otherwise   echoes the request
 *
 * fini() joins its threads and, if the `fini_file` setting names a file,
 * writes "fini" into it.
 */
#include <pthread.h>
#include <rpcrest/rpcrest.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "echo.pb-c.h"

typedef struct job {
    struct job *next;
    pthread_t thread;
    rpcrest_call *call;
    struct inspect *st;
} job;

typedef struct inspect {
    char settings[512];
    char fini_file[512];
    pthread_mutex_t lock; /* guards jobs */
    job *jobs;
    atomic_int second, third; /* results of the extra finishes of "twice" */
    atomic_int cancels;       /* "hold" calls that saw is_cancelled */
} inspect;

static int reply_text(rpcrest_call *call, const char *text)
{
    Example__StringMessage out = EXAMPLE__STRING_MESSAGE__INIT;
    out.value = (char *)text;
    return rpcrest_call_reply(call, &out.base);
}

static void *async_reply(void *arg)
{
    job *j = arg;
    usleep(50 * 1000);
    reply_text(j->call, "async done");
    return NULL;
}

static void *hold_until_cancelled(void *arg)
{
    job *j = arg;
    for (int i = 0; i < 2000; i++) { /* 20 s at most */
        if (rpcrest_call_is_cancelled(j->call)) {
            atomic_fetch_add(&j->st->cancels, 1);
            rpcrest_call_fail(j->call, RPCREST_CANCELLED, "gave up");
            return NULL;
        }
        usleep(10 * 1000);
    }
    rpcrest_call_fail(j->call, RPCREST_DEADLINE_EXCEEDED, "never cancelled");
    return NULL;
}

/* Runs fn(job) on a thread that fini() joins. */
static void spawn(inspect *st, rpcrest_call *call, void *(*fn)(void *))
{
    job *j = calloc(1, sizeof(*j));
    if (!j) {
        rpcrest_call_fail(call, RPCREST_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    j->call = call;
    j->st = st;
    pthread_mutex_lock(&st->lock);
    if (pthread_create(&j->thread, NULL, fn, j) != 0) {
        pthread_mutex_unlock(&st->lock);
        free(j);
        rpcrest_call_fail(call, RPCREST_RESOURCE_EXHAUSTED, "cannot start a thread");
        return;
    }
    j->next = st->jobs;
    st->jobs = j;
    pthread_mutex_unlock(&st->lock);
}

static void info(rpcrest_call *call)
{
    size_t len = 0;
    const char *md = rpcrest_call_metadata(call, "x-test", &len);
    char text[1024];
    snprintf(text, sizeof(text), "method=%s peer=%s deadline=%lld cancelled=%d md=%.*s",
             rpcrest_call_method(call), rpcrest_call_peer(call),
             (long long)rpcrest_call_deadline_ms(call), rpcrest_call_is_cancelled(call),
             md ? (int)len : 1, md ? md : "-");
    reply_text(call, text);
}

static void twice(inspect *st, rpcrest_call *call)
{
    reply_text(call, "first");
    /* Still inside the handler, so the call is still valid to pass. */
    atomic_store(&st->second, rpcrest_call_fail(call, RPCREST_INTERNAL, "second"));
    atomic_store(&st->third, reply_text(call, "third"));
}

static void handle(rpcrest_call *call, const ProtobufCMessage *request, void *service_data)
{
    inspect *st = service_data;
    const char *cmd = ((const Example__StringMessage *)request)->value;
    char text[1024];
    if (strcmp(cmd, "info") == 0) {
        info(call);
    } else if (strcmp(cmd, "async") == 0) {
        spawn(st, call, async_reply);
    } else if (strcmp(cmd, "fail") == 0) {
        rpcrest_call_fail(call, RPCREST_NOT_FOUND, "nothing here");
    } else if (strcmp(cmd, "twice") == 0) {
        twice(st, call);
    } else if (strcmp(cmd, "hold") == 0) {
        spawn(st, call, hold_until_cancelled);
    } else if (strcmp(cmd, "forget") == 0) {
        return; /* the call is left unfinished for ever */
    } else if (strcmp(cmd, "block") == 0) {
        struct timespec left = {60, 0};
        while (nanosleep(&left, &left) != 0) {
        }
        rpcrest_call_reply(call, request);
    } else if (strcmp(cmd, "stats") == 0) {
        snprintf(text, sizeof(text), "second=%d third=%d cancels=%d", atomic_load(&st->second),
                 atomic_load(&st->third), atomic_load(&st->cancels));
        reply_text(call, text);
    } else if (strcmp(cmd, "settings") == 0) {
        reply_text(call, st->settings);
    } else if (strcmp(cmd, "latin1") == 0) {
        int rc = reply_text(call, "caf\xe9");
        if (rc != RPCREST_ETYPE) /* the host failed the call; say if it did not */
            fprintf(stderr, "inspect: latin1 reply returned %d\n", rc);
    } else {
        rpcrest_call_reply(call, request);
    }
}

static int inspect_init(const rpcrest_setting *settings, size_t n_settings,
                        void **service_data, char *err, size_t errlen)
{
    inspect *st = calloc(1, sizeof(*st));
    if (!st || pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < n_settings && n < sizeof(st->settings); i++) {
        if (strcmp(settings[i].key, "fini_file") == 0)
            snprintf(st->fini_file, sizeof(st->fini_file), "%s", settings[i].value);
        int m = snprintf(st->settings + n, sizeof(st->settings) - n, "%s%s=%s", n ? ";" : "",
                         settings[i].key, settings[i].value);
        n += m > 0 ? (size_t)m : 0;
    }
    *service_data = st;
    return 0;
}

static void inspect_fini(void *service_data)
{
    inspect *st = service_data;
    pthread_mutex_lock(&st->lock);
    job *j = st->jobs;
    st->jobs = NULL;
    pthread_mutex_unlock(&st->lock);
    while (j) {
        job *next = j->next;
        pthread_join(j->thread, NULL);
        free(j);
        j = next;
    }
    if (st->fini_file[0]) {
        FILE *f = fopen(st->fini_file, "w");
        if (f) {
            fputs("fini\n", f);
            fclose(f);
        }
    }
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static const rpcrest_method methods[] = {{"Echo", RPCREST_UNARY, handle}};
static const rpcrest_service services[] = {{&example__my_service__descriptor, methods, 1}};

RPCREST_PLUGIN("inspect", services, 1, inspect_init, inspect_fini);
