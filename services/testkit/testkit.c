/*
 * testkit.c -- the test service plugin, rpcrest.testkit.TestKit (see
 * testkit.proto): metadata echo, sleeps that notice cancellation, failures
 * with details, asynchronous replies, and server streaming with flow control.
 *
 * One background thread, the timer, finishes the calls that Sleep and Async
 * leave open: it wakes at the next due time, and every 10 ms while a sleep
 * waits, to notice cancelled calls.  Handlers never block.  Counters for the
 * tests come back from Stats.
 */
#include <pthread.h>
#include <rpcrest/rpcrest.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testkit.pb-c.h"

#define POLL_NS (10 * 1000000L)          /* how often a waiting sleep checks */
#define MAX_SLEEP_S 3600
#define MAX_STREAM_SIZE (16 * 1024 * 1024) /* bytes of payload per message */

typedef enum job_kind { JOB_SLEEP, JOB_ASYNC } job_kind;

/* A call the timer thread finishes. */
typedef struct job {
    struct job *next;
    job_kind kind;
    rpcrest_call *call;
    struct timespec start, due; /* CLOCK_MONOTONIC */
    char *value;                /* Async: the value to send back */
    long handler_tid;
} job;

typedef struct testkit {
    pthread_mutex_t lock; /* guards jobs and stop */
    pthread_cond_t wake;  /* on CLOCK_MONOTONIC */
    pthread_t timer;
    int stop;
    job *jobs;
    atomic_llong sleeps_started, sleeps_completed, sleeps_cancelled, async_completed;
    atomic_llong streams_started, streams_completed, streams_cancelled;
    atomic_llong sends_refused, writable_callbacks, messages_sent, fail_details_refused;
} testkit;

/* One Stream call in progress. */
typedef struct stream_job {
    testkit *tk;
    int32_t count, next, fail_code;
    size_t size;
    uint8_t *payload;
} stream_job;

/* ---- time ---------------------------------------------------------------- */

static struct timespec now_mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

static struct timespec ts_add_ns(struct timespec t, long long ns)
{
    t.tv_sec += (time_t)(ns / 1000000000LL);
    t.tv_nsec += (long)(ns % 1000000000LL);
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static int ts_cmp(struct timespec a, struct timespec b)
{
    if (a.tv_sec != b.tv_sec)
        return a.tv_sec < b.tv_sec ? -1 : 1;
    return a.tv_nsec < b.tv_nsec ? -1 : a.tv_nsec > b.tv_nsec;
}

/* ---- the timer thread ---------------------------------------------------- */

static void job_free(job *j)
{
    free(j->value);
    free(j);
}

static void finish_job(testkit *tk, job *j)
{
    if (j->kind == JOB_ASYNC) {
        Rpcrest__Testkit__AsyncReply out = RPCREST__TESTKIT__ASYNC_REPLY__INIT;
        out.value = j->value;
        out.handler_thread = j->handler_tid;
        out.finish_thread = gettid();
        rpcrest_call_reply(j->call, &out.base);
        atomic_fetch_add(&tk->async_completed, 1);
    } else if (rpcrest_call_is_cancelled(j->call)) {
        atomic_fetch_add(&tk->sleeps_cancelled, 1);
        rpcrest_call_fail(j->call, RPCREST_CANCELLED, "the sleep was cancelled");
    } else {
        struct timespec t = now_mono();
        long long ns = (long long)(t.tv_sec - j->start.tv_sec) * 1000000000LL +
                       (t.tv_nsec - j->start.tv_nsec);
        Google__Protobuf__Duration slept = GOOGLE__PROTOBUF__DURATION__INIT;
        slept.seconds = ns / 1000000000LL;
        slept.nanos = (int32_t)(ns % 1000000000LL);
        Rpcrest__Testkit__SleepReply out = RPCREST__TESTKIT__SLEEP_REPLY__INIT;
        out.slept = &slept;
        rpcrest_call_reply(j->call, &out.base);
        atomic_fetch_add(&tk->sleeps_completed, 1);
    }
    job_free(j);
}

/* Unlinks the jobs that are due (or cancelled) into a list; sets *next to
 * the earliest wake-up the others need.  Lock held. */
static job *take_ready(testkit *tk, struct timespec now, struct timespec *next, int *waiting)
{
    job *ready = NULL;
    *waiting = 0;
    for (job **pp = &tk->jobs; *pp;) {
        job *j = *pp;
        if (j->kind == JOB_ASYNC || ts_cmp(now, j->due) >= 0 ||
            rpcrest_call_is_cancelled(j->call)) {
            *pp = j->next;
            j->next = ready;
            ready = j;
            continue;
        }
        if (!*waiting || ts_cmp(j->due, *next) < 0)
            *next = j->due;
        *waiting = 1;
        pp = &j->next;
    }
    return ready;
}

static void *timer_main(void *arg)
{
    testkit *tk = arg;
    pthread_mutex_lock(&tk->lock);
    while (!tk->stop) {
        struct timespec now = now_mono(), next = now;
        int waiting;
        job *ready = take_ready(tk, now, &next, &waiting);
        if (ready) {
            pthread_mutex_unlock(&tk->lock); /* finish without our lock held */
            while (ready) {
                job *j = ready;
                ready = j->next;
                finish_job(tk, j);
            }
            pthread_mutex_lock(&tk->lock);
            continue;
        }
        if (!waiting) {
            pthread_cond_wait(&tk->wake, &tk->lock);
            continue;
        }
        struct timespec poll = ts_add_ns(now, POLL_NS);
        pthread_cond_timedwait(&tk->wake, &tk->lock, ts_cmp(poll, next) < 0 ? &poll : &next);
    }
    pthread_mutex_unlock(&tk->lock);
    return NULL;
}

static void add_job(testkit *tk, job *j)
{
    pthread_mutex_lock(&tk->lock);
    j->next = tk->jobs;
    tk->jobs = j;
    pthread_cond_signal(&tk->wake);
    pthread_mutex_unlock(&tk->lock);
}

/* ---- handlers ------------------------------------------------------------- */

static void do_echo(rpcrest_call *call, const ProtobufCMessage *request, void *data)
{
    (void)data;
    rpcrest_call_reply(call, request);
}

static int is_bin_key(const char *key, size_t len)
{
    return len > 4 && memcmp(key + len - 4, "-bin", 4) == 0;
}

/* rpcrest_call_add_*_metadata for one requested entry. */
static int add_entry(rpcrest_call *call, int initial, const Rpcrest__Testkit__MetadataEntry *e)
{
    const void *value = "";
    size_t len = 0;
    if (e->value_case == RPCREST__TESTKIT__METADATA_ENTRY__VALUE_TEXT) {
        value = e->text;
        len = strlen(e->text);
    } else if (e->value_case == RPCREST__TESTKIT__METADATA_ENTRY__VALUE_BINARY) {
        value = e->binary.data;
        len = e->binary.len;
    }
    return initial ? rpcrest_call_add_initial_metadata(call, e->key, value, len)
                   : rpcrest_call_add_trailing_metadata(call, e->key, value, len);
}

static void do_echo_metadata(rpcrest_call *call, const ProtobufCMessage *request, void *data)
{
    (void)data;
    const Rpcrest__Testkit__MetadataRequest *in = (const void *)request;
    size_t n = rpcrest_call_metadata_count(call);
    size_t n_adds = in->n_add_initial + in->n_add_trailing;
    Rpcrest__Testkit__MetadataEntry *entries = calloc(n + 1, sizeof(*entries));
    Rpcrest__Testkit__MetadataEntry **ptrs = calloc(n + 1, sizeof(*ptrs));
    char **strings = calloc(2 * n + 1, sizeof(*strings)); /* keys and text values */
    int32_t *results = calloc(n_adds + 1, sizeof(*results));
    if (!entries || !ptrs || !strings || !results) {
        rpcrest_call_fail(call, RPCREST_RESOURCE_EXHAUSTED, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        rpcrest_metadata m;
        rpcrest_call_metadata_at(call, i, &m);
        Rpcrest__Testkit__MetadataEntry *e = &entries[i];
        rpcrest__testkit__metadata_entry__init(e);
        e->key = strings[2 * i] = strndup(m.key, m.key_len);
        if (!e->key) {
            rpcrest_call_fail(call, RPCREST_RESOURCE_EXHAUSTED, "out of memory");
            goto done;
        }
        if (is_bin_key(m.key, m.key_len)) {
            e->value_case = RPCREST__TESTKIT__METADATA_ENTRY__VALUE_BINARY;
            e->binary.data = (uint8_t *)m.value; /* valid during the handler */
            e->binary.len = m.value_len;
        } else {
            e->value_case = RPCREST__TESTKIT__METADATA_ENTRY__VALUE_TEXT;
            e->text = strings[2 * i + 1] = strndup(m.value, m.value_len);
            if (!e->text) {
                rpcrest_call_fail(call, RPCREST_RESOURCE_EXHAUSTED, "out of memory");
                goto done;
            }
        }
        ptrs[i] = e;
        if (!in->no_echo && strcmp(e->key, "user-agent") != 0) {
            rpcrest_call_add_initial_metadata(call, e->key, m.value, m.value_len);
            rpcrest_call_add_trailing_metadata(call, e->key, m.value, m.value_len);
        }
    }
    for (size_t i = 0; i < in->n_add_initial; i++)
        results[i] = add_entry(call, 1, in->add_initial[i]);
    for (size_t i = 0; i < in->n_add_trailing; i++)
        results[in->n_add_initial + i] = add_entry(call, 0, in->add_trailing[i]);

    Rpcrest__Testkit__MetadataReply out = RPCREST__TESTKIT__METADATA_REPLY__INIT;
    out.n_metadata = n;
    out.metadata = ptrs;
    out.method = (char *)rpcrest_call_method(call);
    out.peer = (char *)rpcrest_call_peer(call);
    out.deadline_ms = rpcrest_call_deadline_ms(call);
    const char *request_id = rpcrest_call_request_id(call);
    out.request_id = (char *)(request_id ? request_id : "");
    out.n_add_results = n_adds;
    out.add_results = results;
    rpcrest_call_reply(call, &out.base);
done:
    for (size_t i = 0; strings && i < 2 * n; i++)
        free(strings[i]);
    free(strings);
    free(ptrs);
    free(entries);
    free(results);
}

static void do_sleep(rpcrest_call *call, const ProtobufCMessage *request, void *data)
{
    testkit *tk = data;
    const Rpcrest__Testkit__SleepRequest *in = (const void *)request;
    long long ns = 0;
    if (in->duration) {
        if (in->duration->seconds < 0 || in->duration->nanos < 0 ||
            in->duration->seconds > MAX_SLEEP_S) {
            rpcrest_call_fail(call, RPCREST_INVALID_ARGUMENT, "duration: 0 to 3600 s");
            return;
        }
        ns = in->duration->seconds * 1000000000LL + in->duration->nanos;
    }
    job *j = calloc(1, sizeof(*j));
    if (!j) {
        rpcrest_call_fail(call, RPCREST_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    j->kind = JOB_SLEEP;
    j->call = call;
    j->start = now_mono();
    j->due = ts_add_ns(j->start, ns);
    atomic_fetch_add(&tk->sleeps_started, 1);
    add_job(tk, j);
}

static void do_async(rpcrest_call *call, const ProtobufCMessage *request, void *data)
{
    testkit *tk = data;
    const Rpcrest__Testkit__AsyncRequest *in = (const void *)request;
    job *j = calloc(1, sizeof(*j));
    char *value = strdup(in->value);
    if (!j || !value) {
        free(j);
        free(value);
        rpcrest_call_fail(call, RPCREST_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    j->kind = JOB_ASYNC;
    j->call = call;
    j->value = value;
    j->handler_tid = gettid();
    add_job(tk, j);
}

static void fail_with(rpcrest_call *call, const Rpcrest__Testkit__FailRequest *in,
                      const char *message, void *data)
{
    size_t n = in->n_details + (in->with_info ? 1 : 0);
    if (n == 0) {
        rpcrest_call_fail(call, (rpcrest_code)in->code, message);
        return;
    }
    rpcrest_detail *details = calloc(n, sizeof(*details));
    if (!details) {
        rpcrest_call_fail(call, RPCREST_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < in->n_details; i++) {
        details[i].type_url = in->details[i]->type_url;
        details[i].value = in->details[i]->value.data;
        details[i].value_len = in->details[i]->value.len;
    }
    char code[16];
    snprintf(code, sizeof(code), "%d", (int)in->code);
    Rpcrest__Testkit__FailInfo__MetadataEntry entry =
        RPCREST__TESTKIT__FAIL_INFO__METADATA_ENTRY__INIT;
    entry.key = "code";
    entry.value = code;
    Rpcrest__Testkit__FailInfo__MetadataEntry *entries[] = {&entry};
    Rpcrest__Testkit__FailInfo info = RPCREST__TESTKIT__FAIL_INFO__INIT;
    info.reason = "TESTKIT_FAIL";
    info.domain = "rpcrest.testkit";
    info.n_metadata = 1;
    info.metadata = entries;
    if (in->with_info)
        details[n - 1].message = &info.base;
    if (rpcrest_call_fail_details(call, (rpcrest_code)in->code, message, details, n) != 0)
        atomic_fetch_add(&((testkit *)data)->fail_details_refused, 1);
    free(details);
}

static void do_fail(rpcrest_call *call, const ProtobufCMessage *request, void *data)
{
    const Rpcrest__Testkit__FailRequest *in = (const void *)request;
    char *raw = NULL;
    if (in->raw_message.len && (raw = malloc(in->raw_message.len + 1))) {
        memcpy(raw, in->raw_message.data, in->raw_message.len);
        raw[in->raw_message.len] = '\0';
    }
    fail_with(call, in, raw ? raw : in->message, data);
    free(raw);
}

static void stream_free(stream_job *j)
{
    free(j->payload);
    free(j);
}

/* Sends until the queue is full (then the host calls on_writable later),
 * the call is cancelled, or every message is out. */
static void pump(rpcrest_call *call, stream_job *j)
{
    testkit *tk = j->tk;
    while (j->next < j->count) {
        Rpcrest__Testkit__StreamReply msg = RPCREST__TESTKIT__STREAM_REPLY__INIT;
        msg.index = j->next;
        msg.payload.data = j->payload;
        msg.payload.len = j->size;
        int rc = rpcrest_call_send(call, &msg.base);
        if (rc == RPCREST_EAGAIN) { /* j may be another thread's from here on */
            atomic_fetch_add(&tk->sends_refused, 1);
            return;
        }
        if (rc != 0) {
            atomic_fetch_add(&tk->streams_cancelled, 1);
            rpcrest_call_fail(call, RPCREST_CANCELLED, rpcrest_call_strerror(rc));
            stream_free(j);
            return;
        }
        j->next++;
        atomic_fetch_add(&tk->messages_sent, 1);
    }
    if (j->fail_code) {
        char why[64];
        snprintf(why, sizeof(why), "failed after %d messages", (int)j->count);
        rpcrest_call_fail(call, (rpcrest_code)j->fail_code, why);
    } else {
        rpcrest_call_finish(call);
    }
    atomic_fetch_add(&tk->streams_completed, 1);
    stream_free(j);
}

static void on_writable(rpcrest_call *call, void *arg)
{
    stream_job *j = arg;
    atomic_fetch_add(&j->tk->writable_callbacks, 1);
    pump(call, j);
}

static void do_stream(rpcrest_call *call, const ProtobufCMessage *request, void *data)
{
    testkit *tk = data;
    const Rpcrest__Testkit__StreamRequest *in = (const void *)request;
    if (in->count < 0 || in->size < 0 || in->size > MAX_STREAM_SIZE) {
        rpcrest_call_fail(call, RPCREST_INVALID_ARGUMENT, "count >= 0, size 0 to 16 MiB");
        return;
    }
    stream_job *j = calloc(1, sizeof(*j));
    uint8_t *payload = malloc((size_t)in->size + 1);
    if (!j || !payload) {
        free(j);
        free(payload);
        rpcrest_call_fail(call, RPCREST_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (int32_t i = 0; i < in->size; i++)
        payload[i] = (uint8_t)('a' + i % 26);
    j->tk = tk;
    j->count = in->count;
    j->fail_code = in->fail_code;
    j->size = (size_t)in->size;
    j->payload = payload;
    atomic_fetch_add(&tk->streams_started, 1);
    rpcrest_call_on_writable(call, on_writable, j);
    pump(call, j);
}

static void do_stats(rpcrest_call *call, const ProtobufCMessage *request, void *data)
{
    (void)request;
    testkit *tk = data;
    Rpcrest__Testkit__StatsReply out = RPCREST__TESTKIT__STATS_REPLY__INIT;
    out.sleeps_started = atomic_load(&tk->sleeps_started);
    out.sleeps_completed = atomic_load(&tk->sleeps_completed);
    out.sleeps_cancelled = atomic_load(&tk->sleeps_cancelled);
    out.async_completed = atomic_load(&tk->async_completed);
    out.streams_started = atomic_load(&tk->streams_started);
    out.streams_completed = atomic_load(&tk->streams_completed);
    out.streams_cancelled = atomic_load(&tk->streams_cancelled);
    out.sends_refused = atomic_load(&tk->sends_refused);
    out.writable_callbacks = atomic_load(&tk->writable_callbacks);
    out.messages_sent = atomic_load(&tk->messages_sent);
    out.fail_details_refused = atomic_load(&tk->fail_details_refused);
    rpcrest_call_reply(call, &out.base);
}

/* ---- init, fini, entry ------------------------------------------------------- */

static int testkit_init(const rpcrest_setting *settings, size_t n_settings, void **service_data,
                        char *err, size_t errlen)
{
    if (n_settings > 0) {
        snprintf(err, errlen, "unknown setting '%s' (testkit takes none)", settings[0].key);
        return -1;
    }
    testkit *tk = calloc(1, sizeof(*tk));
    if (!tk) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc == 0) {
        rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (rc == 0)
            rc = pthread_cond_init(&tk->wake, &attr);
        pthread_condattr_destroy(&attr);
    }
    if (rc) {
        snprintf(err, errlen, "pthread_cond_init: %s", strerror(rc));
        goto fail_cond;
    }
    rc = pthread_mutex_init(&tk->lock, NULL);
    if (rc) {
        snprintf(err, errlen, "pthread_mutex_init: %s", strerror(rc));
        goto fail_mutex;
    }
    rc = pthread_create(&tk->timer, NULL, timer_main, tk);
    if (rc) {
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        goto fail_thread;
    }
    *service_data = tk;
    return 0;
fail_thread:
    pthread_mutex_destroy(&tk->lock);
fail_mutex:
    pthread_cond_destroy(&tk->wake);
fail_cond:
    free(tk);
    return -1;
}

/* Every call is finished by now, so no job is left to finish. */
static void testkit_fini(void *service_data)
{
    testkit *tk = service_data;
    pthread_mutex_lock(&tk->lock);
    tk->stop = 1;
    pthread_cond_signal(&tk->wake);
    pthread_mutex_unlock(&tk->lock);
    pthread_join(tk->timer, NULL);
    while (tk->jobs) {
        job *j = tk->jobs;
        tk->jobs = j->next;
        job_free(j);
    }
    pthread_mutex_destroy(&tk->lock);
    pthread_cond_destroy(&tk->wake);
    free(tk);
}

static const rpcrest_method testkit_methods[] = {
    {"Echo", RPCREST_UNARY, do_echo},
    {"EchoMetadata", RPCREST_UNARY, do_echo_metadata},
    {"Sleep", RPCREST_UNARY, do_sleep},
    {"Fail", RPCREST_UNARY, do_fail},
    {"Async", RPCREST_UNARY, do_async},
    {"Stream", RPCREST_SERVER_STREAMING, do_stream},
    {"Stats", RPCREST_UNARY, do_stats},
};

static const rpcrest_service testkit_services[] = {
    {&rpcrest__testkit__test_kit__descriptor, testkit_methods,
     RPCREST_COUNTOF(testkit_methods)},
};

RPCREST_PLUGIN("testkit", testkit_services, RPCREST_COUNTOF(testkit_services), testkit_init,
               testkit_fini);
