/*
 * gw_discovery.c -- server-reflection client: a ServerReflectionInfo
 * stream per request, on a gw_h2 client the calling thread drives
 * (list_services, then file_containing_symbol per service, then
 * file_by_filename per missing import), and the FileDescriptorSet built
 * from the files it returned.  Parses the files only for their name,
 * package, imports and services; the schema module does the rest.
 *
 * v1 and v1alpha messages are the same on the wire (same fields, same
 * numbers), so the v1 protobuf-c code encodes and decodes both; only the
 * method path differs.
 */
#include "gw_discovery.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"
#include "gw_limits.h"
#include "gw_names.h"
#include "gw_schema.h"
#include "rp_grpc_status.h"
#include "rp_pb_depth.h"

typedef Grpc__Reflection__V1__ServerReflectionRequest Request;
typedef Grpc__Reflection__V1__ServerReflectionResponse Response;
typedef Google__Protobuf__FileDescriptorProto FileProto;

#define RESPONSE(x) GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_##x
#define REQUEST(x) GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_##x

#define CANCEL_SLICE_MS 50 /* how often a cancellable fetch looks at its flag */
#define FILE_SET_FILE_TAG 0x0a /* FileDescriptorSet.file: field 1, length-delimited */

static const struct protocol {
    const char *name;
    const char *method;
} PROTOCOLS[] = {
    {"grpc.reflection.v1", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"},
    {"grpc.reflection.v1alpha", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"},
};

/* One file the server sent: its bytes as sent, its name and imports. */
typedef struct file_rec {
    char *name;
    uint8_t *data;
    size_t len;
    char **deps;
    size_t n_deps;
    int mark; /* while emitting: 0 new, 1 in progress, 2 written */
} file_rec;

typedef struct service_rec {
    char *name;
    int found;         /* a received file declares it */
    char *undescribed; /* "NAME (why)": the upstream has no file for it */
} service_rec;

typedef struct disc {
    gw_h2 *client;
    int64_t deadline_ms;      /* CLOCK_MONOTONIC (gw_loop_now_ms); -1: none */
    int64_t timeout_ms;
    unsigned flags;
    const atomic_int *cancel; /* nonzero: give up at once; NULL: never */
    const struct protocol *protocol;
    /* how the last stream that brought no answer ended */
    grpc_status_code status;
    char details[512];
    char connect_error[256];  /* why the last connect failed, or "" */
    /* what was found */
    file_rec *files;
    size_t n_files;
    size_t cap_files;
    gw_names file_index; /* positions in files, by name */
    service_rec *services;
    size_t n_services;
    gw_names service_index; /* positions in services, by name */
    char **listed; /* gw_discovery_result.listed */
    size_t n_listed;
    char *err;
    size_t errlen;
} disc;

/* Outcomes of exchange() besides 0 and -1. */
#define STREAM_ENDED 1

/* Writes "reflection: …" into the error buffer; returns -1. */
static int fail(disc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(disc *d, const char *fmt, ...)
{
    int n = snprintf(d->err, d->errlen, "reflection: ");
    if (n >= 0 && (size_t)n < d->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Fails with "no answer from the upstream within T ms (detail)" and, when
 * a connect failed meanwhile, why. */
static int fail_no_answer(disc *d, const char *detail)
{
    return fail(d, "no answer from the upstream within %" PRId64 " ms (%s)%s%s", d->timeout_ms,
                detail, d->connect_error[0] ? "; cannot connect: " : "", d->connect_error);
}

/* Fails with `what` and the received status: "what (CODE: details)".  A
 * deadline is reported as such, whichever request it cut short. */
static int fail_status(disc *d, const char *what)
{
    if (d->status == GRPC_STATUS_DEADLINE_EXCEEDED) {
        char detail[600];
        snprintf(detail, sizeof(detail), "DEADLINE_EXCEEDED%s%s", d->details[0] ? ": " : "",
                 d->details);
        return fail_no_answer(d, detail);
    }
    if (!d->details[0])
        return fail(d, "%s (%s)", what, rp_grpc_code_name(d->status));
    return fail(d, "%s (%s: %s)", what, rp_grpc_code_name(d->status), d->details);
}

/* ---- the calls ------------------------------------------------------------
 *
 * Each request goes on a ServerReflectionInfo stream of its own (one
 * message, then the half-close), which the server answers with one
 * message and OK: what a single stream would carry, without keeping one
 * open across the requests. */

/* One request's stream, as its events leave it. */
typedef struct exchange_state {
    gw_upstream_result *answer; /* the first message */
    gw_upstream_result *end;    /* the status; NULL once ended: no memory for it */
    int ended;
} exchange_state;

static void on_answer(void *arg, gw_upstream_result *message)
{
    exchange_state *x = arg;
    if (!x->answer)
        x->answer = message;
    else
        gw_upstream_result_free(message); /* one answer a request */
}

static void on_end(void *arg, gw_upstream_result *status)
{
    exchange_state *x = arg;
    x->end = status;
    x->ended = 1;
}

static const gw_stream_handler EXCHANGE_EVENTS = {on_answer, on_end, 1};

static int past_deadline(const disc *d)
{
    return d->deadline_ms >= 0 && gw_loop_now_ms() >= d->deadline_ms;
}

/* Runs one request's stream to its end on d->client.  0, or -1 with err
 * set (out of memory, cancelled). */
static int run_stream(disc *d, const Request *req, exchange_state *x)
{
    gw_request_messages msgs = GW_REQUEST_MESSAGES_INIT;
    size_t len = grpc__reflection__v1__server_reflection_request__get_packed_size(req);
    if (gw_buf_reserve(&msgs.data, len ? len : 1) < 0) {
        gw_request_messages_free(&msgs);
        return fail(d, "out of memory");
    }
    grpc__reflection__v1__server_reflection_request__pack(req, msgs.data.data);
    msgs.data.len = len;
    if (gw_request_messages_end(&msgs) < 0) {
        gw_request_messages_free(&msgs);
        return fail(d, "out of memory");
    }
    int64_t left = d->deadline_ms < 0 ? 24 * 3600 * 1000 : d->deadline_ms - gw_loop_now_ms();
    memset(x, 0, sizeof(*x));
    gw_h2_call *k = gw_h2_stream(d->client, d->protocol->method, &msgs, NULL, 0,
                                 left > 0 ? left : 1, &EXCHANGE_EVENTS, x);
    if (!k)
        return fail(d, "out of memory");
    int cancelled = 0;
    while (!x->ended) {
        gw_h2_poll(d->client, CANCEL_SLICE_MS, -1);
        if (!x->ended && !cancelled && d->cancel && atomic_load(d->cancel)) {
            gw_h2_stream_cancel(k);
            cancelled = 1;
        }
    }
    gw_h2_stream_release(k);
    if (cancelled) {
        gw_upstream_result_free(x->answer);
        gw_upstream_result_free(x->end);
        return fail(d, "cancelled while waiting for the upstream");
    }
    return 0;
}

/*
 * Sends one request and reads its answer.  Returns 0 with *resp set (free
 * it with ..._free_unpacked), STREAM_ENDED when the server ended the stream
 * instead (its status is then in d), or -1 with err set.  With
 * GW_DISCOVERY_WAIT_FOR_READY, a request that could not reach the upstream
 * is sent again once the client's backoff allows, until the deadline.
 */
static int exchange(disc *d, const Request *req, Response **resp)
{
    static const char no_connect[] = "cannot connect to the upstream: ";
    *resp = NULL;
    exchange_state x;
    for (;;) {
        if (run_stream(d, req, &x) < 0)
            return -1;
        d->status = x.end ? x.end->status : GRPC_STATUS_INTERNAL;
        snprintf(d->details, sizeof(d->details), "%s",
                 !x.end ? "out of memory" : x.end->message ? x.end->message : "");
        int unreachable = !x.answer && d->status == GRPC_STATUS_UNAVAILABLE &&
                          strncmp(d->details, no_connect, sizeof(no_connect) - 1) == 0;
        if (unreachable)
            snprintf(d->connect_error, sizeof(d->connect_error), "%s",
                     d->details + sizeof(no_connect) - 1);
        if (!unreachable || !(d->flags & GW_DISCOVERY_WAIT_FOR_READY))
            break;
        gw_upstream_result_free(x.end);
        while (!past_deadline(d) && gw_h2_connectivity(d->client, 1) == GW_H2_TRANSIENT_FAILURE) {
            if (d->cancel && atomic_load(d->cancel))
                return fail(d, "cancelled while waiting for the upstream");
            gw_h2_poll(d->client, CANCEL_SLICE_MS, -1);
        }
        if (past_deadline(d))
            return fail_no_answer(d, "DEADLINE_EXCEEDED");
    }
    if (!x.answer) {
        gw_upstream_result_free(x.end);
        return STREAM_ENDED;
    }
    if (d->status != GRPC_STATUS_OK) {
        gw_upstream_result_free(x.answer);
        gw_upstream_result_free(x.end);
        return fail_status(d, "the reflection stream ended with an error");
    }
    *resp = grpc__reflection__v1__server_reflection_response__unpack(NULL, x.answer->reply_len,
                                                                      x.answer->reply);
    gw_upstream_result_free(x.answer);
    gw_upstream_result_free(x.end);
    if (!*resp)
        return fail(d, "%s: the upstream sent an undecodable ServerReflectionResponse",
                    d->protocol->method);
    return 0;
}

/* ---- what the answers say ------------------------------------------------ */

static int is_internal(const char *service)
{
    return strncmp(service, "grpc.reflection.", 16) == 0 ||
           strcmp(service, "grpc.health.v1.Health") == 0;
}

static file_rec *find_file(disc *d, const char *name)
{
    size_t i = gw_names_find(&d->file_index, name);
    return i == GW_NAMES_NONE ? NULL : &d->files[i];
}

/* Fails when the fetch is cancelled or out of time: what the loops that
 * take a large answer apart look at, since no wait on the upstream
 * interrupts them.  Returns 0 or -1 (err set). */
static int check_time(disc *d)
{
    if (d->cancel && atomic_load(d->cancel))
        return fail(d, "cancelled while reading the upstream's files");
    if (past_deadline(d))
        return fail(d, "not done within %" PRId64 " ms (DEADLINE_EXCEEDED) reading the "
                       "upstream's files (%zu so far)", d->timeout_ms, d->n_files);
    return 0;
}

static void file_free(file_rec *f)
{
    free(f->name);
    free(f->data);
    for (size_t i = 0; i < f->n_deps; i++)
        free(f->deps[i]);
    free(f->deps);
}

/* Marks the services that fp declares as found.  Returns 0 or -1 (err
 * set). */
static int note_services(disc *d, const FileProto *fp)
{
    const char *pkg = fp->package ? fp->package : "";
    for (size_t i = 0; i < fp->n_service; i++) {
        const char *svc = fp->service[i]->name ? fp->service[i]->name : "";
        char *full = NULL;
        if (*pkg && asprintf(&full, "%s.%s", pkg, svc) < 0)
            return fail(d, "out of memory");
        size_t j = gw_names_find(&d->service_index, full ? full : svc);
        free(full);
        if (j != GW_NAMES_NONE)
            d->services[j].found = 1;
    }
    return 0;
}

/* Keeps one serialized FileDescriptorProto unless a file of that name is
 * already kept.  Returns 0 or -1 (err set). */
static int add_file(disc *d, const uint8_t *data, size_t len)
{
    if (!rp_pb_depth_ok(&google__protobuf__file_descriptor_proto__descriptor, data, len))
        return fail(d, "%s: the upstream sent a FileDescriptorProto nesting messages more "
                       "than %d deep", d->protocol->method, RP_PB_MAX_DEPTH);
    FileProto *fp = google__protobuf__file_descriptor_proto__unpack(NULL, len, data);
    if (!fp)
        return fail(d, "%s: the upstream sent an undecodable FileDescriptorProto",
                    d->protocol->method);
    int rc = 0;
    if (!fp->name || !*fp->name) {
        rc = fail(d, "%s: the upstream sent a FileDescriptorProto without a name",
                  d->protocol->method);
        goto out;
    }
    if (find_file(d, fp->name))
        goto out;
    if (d->n_files == GW_DISCOVERY_MAX_FILES) {
        rc = fail(d, "the upstream sent more than %d files", GW_DISCOVERY_MAX_FILES);
        goto out;
    }
    if (d->n_files == d->cap_files) {
        size_t cap = d->cap_files ? d->cap_files * 2 : 16;
        file_rec *grown = realloc(d->files, cap * sizeof(*grown));
        if (!grown) {
            rc = fail(d, "out of memory");
            goto out;
        }
        d->files = grown;
        d->cap_files = cap;
    }
    file_rec *f = &d->files[d->n_files];
    memset(f, 0, sizeof(*f));
    f->name = strdup(fp->name);
    f->data = malloc(len ? len : 1);
    f->deps = calloc(fp->n_dependency ? fp->n_dependency : 1, sizeof(*f->deps));
    if (!f->name || !f->data || !f->deps)
        goto oom;
    memcpy(f->data, data, len);
    f->len = len;
    for (; f->n_deps < fp->n_dependency; f->n_deps++)
        if (!(f->deps[f->n_deps] = strdup(fp->dependency[f->n_deps])))
            goto oom;
    if (gw_names_add(&d->file_index, f->name, d->n_files) < 0)
        goto oom;
    d->n_files++;
    rc = note_services(d, fp);
    goto out;
oom:
    file_free(f);
    rc = fail(d, "out of memory");
out:
    google__protobuf__file_descriptor_proto__free_unpacked(fp, NULL);
    return rc;
}

#define NOT_DESCRIBED (-2) /* request_files: the upstream answered NOT_FOUND */

/*
 * Sends a file request (file_containing_symbol or file_by_filename, per
 * `kind`) for `what` and keeps the files of the answer.  Returns 0, or -1
 * with d->err set.  When `why` is not NULL, a NOT_FOUND answer is not a
 * failure: NOT_DESCRIBED is returned with the upstream's reason in
 * why[whylen].
 */
static int request_files(disc *d, int kind, const char *what, char *why, size_t whylen)
{
    Request req = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__INIT;
    req.message_request_case = kind;
    if (kind == REQUEST(FILE_CONTAINING_SYMBOL))
        req.file_containing_symbol = (char *)what;
    else
        req.file_by_filename = (char *)what;
    Response *resp;
    int rc = exchange(d, &req, &resp);
    if (rc == STREAM_ENDED) {
        char what_failed[300];
        snprintf(what_failed, sizeof(what_failed), "%s: the upstream ended the stream",
                 what);
        return fail_status(d, what_failed);
    }
    if (rc < 0)
        return -1;
    if (resp->message_response_case == RESPONSE(ERROR_RESPONSE)) {
        const Grpc__Reflection__V1__ErrorResponse *e = resp->error_response;
        const char *message =
            e->error_message && *e->error_message ? e->error_message : "(no message)";
        if (e->error_code == GRPC_STATUS_NOT_FOUND && why) {
            snprintf(why, whylen, "%s: %s", rp_grpc_code_name(e->error_code), message);
            rc = NOT_DESCRIBED;
        } else {
            rc = fail(d, "%s: %s: %s", what, rp_grpc_code_name(e->error_code), message);
        }
    } else if (resp->message_response_case != RESPONSE(FILE_DESCRIPTOR_RESPONSE)) {
        rc = fail(d, "%s: the upstream answered with something else than a "
                     "file_descriptor_response (case %d)",
                  what, (int)resp->message_response_case);
    } else {
        const Grpc__Reflection__V1__FileDescriptorResponse *fr = resp->file_descriptor_response;
        for (size_t i = 0; i < fr->n_file_descriptor_proto && rc == 0; i++) {
            rc = check_time(d);
            if (rc == 0)
                rc = add_file(d, fr->file_descriptor_proto[i].data,
                              fr->file_descriptor_proto[i].len);
        }
    }
    grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);
    return rc;
}

/* Keeps the services of a list_services answer (skipping the internal
 * ones unless asked for, and duplicates). */
static int take_services(disc *d, const Response *resp)
{
    if (resp->message_response_case == RESPONSE(ERROR_RESPONSE))
        return fail(d, "list_services: %s: %s",
                    rp_grpc_code_name(resp->error_response->error_code),
                    resp->error_response->error_message);
    if (resp->message_response_case != RESPONSE(LIST_SERVICES_RESPONSE))
        return fail(d, "list_services: the upstream answered with something else than a "
                       "list_services_response (case %d)",
                    (int)resp->message_response_case);
    const Grpc__Reflection__V1__ListServiceResponse *ls = resp->list_services_response;
    if (ls->n_service > GW_SCHEMA_MAX_SERVICES)
        return fail(d, "list_services: the upstream lists %zu services, more than the %d an "
                       "API may have", ls->n_service, GW_SCHEMA_MAX_SERVICES);
    d->services = calloc(ls->n_service ? ls->n_service : 1, sizeof(*d->services));
    d->listed = calloc(ls->n_service ? ls->n_service : 1, sizeof(*d->listed));
    if (!d->services || !d->listed)
        return fail(d, "out of memory");
    for (size_t i = 0; i < ls->n_service; i++) {
        const char *name = ls->service[i]->name;
        if (name && *name && !(d->listed[d->n_listed++] = strdup(name)))
            return fail(d, "out of memory");
        if (!name || !*name || (!(d->flags & GW_DISCOVERY_INTERNAL) && is_internal(name)))
            continue;
        if (gw_names_find(&d->service_index, name) != GW_NAMES_NONE)
            continue; /* listed twice */
        service_rec *s = &d->services[d->n_services];
        if (!(s->name = strdup(name)))
            return fail(d, "out of memory");
        d->n_services++;
        if (gw_names_add(&d->service_index, s->name, d->n_services - 1) < 0)
            return fail(d, "out of memory");
    }
    return 0;
}

/*
 * Asks for the list of services: over v1, then over v1alpha if v1 is
 * UNIMPLEMENTED (d->protocol is then the one that answered).  Returns 0 or
 * -1.
 */
static int list_services(disc *d)
{
    Request req = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__INIT;
    req.message_request_case = REQUEST(LIST_SERVICES);
    req.list_services = "*";
    Response *resp = NULL;
    int rc = -1;
    for (size_t i = 0; i < sizeof(PROTOCOLS) / sizeof(PROTOCOLS[0]); i++) {
        d->protocol = &PROTOCOLS[i];
        rc = exchange(d, &req, &resp);
        if (rc != STREAM_ENDED || d->status != GRPC_STATUS_UNIMPLEMENTED)
            break; /* else the next protocol */
    }
    if (rc == STREAM_ENDED) {
        if (d->status == GRPC_STATUS_UNIMPLEMENTED)
            return fail_status(d, "the upstream serves neither grpc.reflection.v1 nor "
                                  "grpc.reflection.v1alpha");
        if (d->status == GRPC_STATUS_UNAVAILABLE)
            return fail_status(d, "cannot reach the upstream");
        char what[200];
        snprintf(what, sizeof(what), "%s failed", d->protocol->method);
        return fail_status(d, what);
    }
    if (rc < 0)
        return -1;
    rc = take_services(d, resp);
    grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);
    return rc;
}

/* Fetches every service's file, then every import not yet received. */
static int fetch_files(disc *d)
{
    for (size_t i = 0; i < d->n_services; i++) {
        service_rec *s = &d->services[i];
        if (s->found) /* declared in a file we already have */
            continue;
        char why[512];
        int rc = request_files(d, REQUEST(FILE_CONTAINING_SYMBOL), s->name, why, sizeof(why));
        if (rc == NOT_DESCRIBED) { /* e.g. a plugin without its descriptors: serve the rest */
            size_t len = strlen(s->name) + strlen(why) + 4;
            if (!(s->undescribed = malloc(len)))
                return fail(d, "out of memory");
            snprintf(s->undescribed, len, "%s (%s)", s->name, why);
            continue;
        }
        if (rc < 0)
            return -1;
        if (!s->found)
            return fail(d, "%s: the files the upstream sent for it do not declare it",
                        s->name);
    }
    /* d->files grows while this runs; every file request adds the file it
     * asked for, or fails, so this ends. */
    for (size_t i = 0; i < d->n_files; i++) {
        for (size_t j = 0; j < d->files[i].n_deps; j++) {
            if (find_file(d, d->files[i].deps[j]))
                continue;
            char *dep = strdup(d->files[i].deps[j]); /* d->files may move */
            char *importer = strdup(d->files[i].name);
            int rc = !dep || !importer ? fail(d, "out of memory")
                                       : request_files(d, REQUEST(FILE_BY_FILENAME), dep, NULL, 0);
            if (rc == 0 && !find_file(d, dep))
                rc = fail(d, "%s (imported by %s): the upstream did not send it", dep,
                          importer);
            free(dep);
            free(importer);
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}

/* ---- the FileDescriptorSet ----------------------------------------------- */

/* One file being written: its imports from `next` on are still to look at. */
typedef struct emit_frame {
    file_rec *f;
    size_t next;
} emit_frame;

/*
 * Appends every file after its imports, depth first, with a stack of its
 * own (an import chain may be as long as there are files); an import
 * cycle, which protoc refuses anyway, is cut where it closes.  Returns 0
 * or -1 (err set).
 */
static int emit_files(disc *d, gw_buf *out)
{
    emit_frame *stack = malloc((d->n_files ? d->n_files : 1) * sizeof(*stack));
    if (!stack)
        return fail(d, "out of memory");
    for (size_t i = 0; i < d->n_files; i++) {
        if (d->files[i].mark)
            continue;
        if (check_time(d) < 0) {
            free(stack);
            return -1;
        }
        size_t depth = 0; /* each file is pushed once: depth <= n_files */
        stack[depth++] = (emit_frame){&d->files[i], 0};
        d->files[i].mark = 1;
        while (depth > 0) {
            emit_frame *top = &stack[depth - 1];
            if (top->next < top->f->n_deps) {
                file_rec *dep = find_file(d, top->f->deps[top->next++]);
                if (dep && !dep->mark) {
                    dep->mark = 1;
                    stack[depth++] = (emit_frame){dep, 0};
                }
                continue;
            }
            gw_buf_putc(out, FILE_SET_FILE_TAG);
            gw_buf_varint(out, top->f->len);
            gw_buf_append(out, top->f->data, top->f->len);
            top->f->mark = 2;
            depth--;
        }
    }
    free(stack);
    return 0;
}

static int build_result(disc *d, gw_discovery_result *res)
{
    if (emit_files(d, &res->set) < 0)
        return -1;
    res->n_files = d->n_files;
    res->protocol = d->protocol->name;
    res->services = calloc(d->n_services ? d->n_services : 1, sizeof(*res->services));
    res->undescribed = calloc(d->n_services ? d->n_services : 1, sizeof(*res->undescribed));
    if (res->set.oom || !res->services || !res->undescribed)
        return fail(d, "out of memory");
    res->listed = d->listed; /* handed over */
    res->n_listed = d->n_listed;
    d->listed = NULL;
    d->n_listed = 0;
    for (size_t i = 0; i < d->n_services; i++) { /* hand the names over */
        service_rec *s = &d->services[i];
        if (s->undescribed) {
            res->undescribed[res->n_undescribed++] = s->undescribed;
            s->undescribed = NULL;
        } else {
            res->services[res->n_services++] = s->name;
            s->name = NULL;
        }
    }
    return 0;
}

/* ---- entry points -------------------------------------------------------- */

int gw_discovery_fetch(gw_h2 *client, int64_t timeout_ms, unsigned flags,
                       const atomic_int *cancel, gw_discovery_result *res, char *err,
                       size_t errlen)
{
    memset(res, 0, sizeof(*res));
    disc d;
    memset(&d, 0, sizeof(d));
    d.client = client;
    d.timeout_ms = timeout_ms;
    d.flags = flags;
    d.cancel = cancel;
    d.err = err;
    d.errlen = errlen;
    d.protocol = &PROTOCOLS[0];
    d.deadline_ms = timeout_ms > 0 ? gw_loop_now_ms() + timeout_ms : -1;

    int rc = -1;
    if (list_services(&d) == 0 && fetch_files(&d) == 0)
        rc = build_result(&d, res);

    for (size_t i = 0; i < d.n_files; i++)
        file_free(&d.files[i]);
    free(d.files);
    gw_names_free(&d.file_index);
    for (size_t i = 0; i < d.n_services; i++) {
        free(d.services[i].name);
        free(d.services[i].undescribed);
    }
    free(d.services);
    gw_names_free(&d.service_index);
    for (size_t i = 0; i < d.n_listed; i++)
        free(d.listed[i]);
    free(d.listed);
    if (rc < 0)
        gw_discovery_result_free(res);
    return rc;
}

int gw_discovery_fetch_target(const char *target, int64_t timeout_ms, unsigned flags,
                              gw_discovery_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    gw_resolver *resolver = gw_resolver_new(target, GW_RESOLVE_INTERVAL_DEFAULT_MS, err, errlen);
    if (!resolver)
        return -1;
    gw_h2 *client = gw_h2_new(resolver, NULL, NULL, err, errlen);
    int rc = -1;
    if (client) {
        gw_h2_quiet(client); /* the fetch's error says why */
        rc = gw_discovery_fetch(client, timeout_ms, flags, NULL, res, err, errlen);
        gw_h2_free(client);
    }
    gw_resolver_free(resolver);
    return rc;
}

void gw_discovery_result_free(gw_discovery_result *res)
{
    gw_buf_free(&res->set);
    for (size_t i = 0; i < res->n_services; i++)
        free(res->services[i]);
    free(res->services);
    for (size_t i = 0; i < res->n_undescribed; i++)
        free(res->undescribed[i]);
    free(res->undescribed);
    for (size_t i = 0; i < res->n_listed; i++)
        free(res->listed[i]);
    free(res->listed);
    memset(res, 0, sizeof(*res));
}
