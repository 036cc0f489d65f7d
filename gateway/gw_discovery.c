/*
 * gw_discovery.c -- server-reflection client: one ServerReflectionInfo
 * stream, driven request by request on a private completion queue
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

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
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

#define MAX_RECEIVE_BYTES (64 << 20)
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
    grpc_channel *channel;
    grpc_completion_queue *cq;
    gpr_timespec deadline;
    int64_t timeout_ms;
    unsigned flags;
    const atomic_int *cancel; /* nonzero: give up at once; NULL: never */
    const struct protocol *protocol;
    /* the call in progress */
    grpc_call *call;
    int metadata_sent;
    int status_received;
    grpc_metadata_array initial_md;
    grpc_metadata_array trailing_md;
    grpc_status_code status;
    grpc_slice details;
    const char *error_string;
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

#define PROBE_MS 1000 /* how long why_unreachable waits for its answer */

/*
 * Why the channel cannot reach the upstream, when it says it cannot:
 * a call that waits for the channel to be ready (GW_DISCOVERY_WAIT_FOR_READY)
 * only ever learns that its deadline passed, while the reason (a refused
 * connection, a TLS handshake that failed and why) is in the channel.  In
 * TRANSIENT_FAILURE a call that does not wait fails at once with it.
 * Writes "; cannot connect: REASON" into buf, or "" when the channel is
 * not failing or says nothing.
 */
static void why_unreachable(disc *d, char *buf, size_t len)
{
    buf[0] = '\0';
    if (d->cancel && atomic_load(d->cancel))
        return;
    if (grpc_channel_check_connectivity_state(d->channel, 0) != GRPC_CHANNEL_TRANSIENT_FAILURE)
        return;
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_millis(PROBE_MS, GPR_TIMESPAN));
    grpc_call *call = grpc_channel_create_call(
        d->channel, NULL, GRPC_PROPAGATE_DEFAULTS, d->cq,
        grpc_slice_from_static_string(d->protocol->method), NULL, deadline, NULL);
    if (!call)
        return;
    grpc_metadata_array trailing;
    grpc_metadata_array_init(&trailing);
    grpc_status_code status = GRPC_STATUS_OK;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[3];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[2].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[2].data.recv_status_on_client.status = &status;
    ops[2].data.recv_status_on_client.status_details = &details;
    ops[2].data.recv_status_on_client.trailing_metadata = &trailing;
    void *tag = &status;
    if (grpc_call_start_batch(call, ops, 3, tag, NULL) == GRPC_CALL_OK) {
        /* the call's deadline ends it; the slack only bounds the wait */
        gpr_timespec until = gpr_time_add(deadline, gpr_time_from_millis(PROBE_MS, GPR_TIMESPAN));
        grpc_event ev = grpc_completion_queue_pluck(d->cq, tag, until, NULL);
        if (ev.type != GRPC_OP_COMPLETE) {
            grpc_call_cancel(call, NULL);
            (void)grpc_completion_queue_pluck(d->cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME),
                                              NULL);
        } else if (status == GRPC_STATUS_UNAVAILABLE && GRPC_SLICE_LENGTH(details) > 0) {
            snprintf(buf, len, "; cannot connect: %.*s", (int)GRPC_SLICE_LENGTH(details),
                     (const char *)GRPC_SLICE_START_PTR(details));
        }
    }
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
}

/* Fails with "no answer from the upstream within T ms (detail)" and, when
 * the channel knows, why it cannot connect. */
static int fail_no_answer(disc *d, const char *detail)
{
    char why[512];
    why_unreachable(d, why, sizeof(why));
    return fail(d, "no answer from the upstream within %" PRId64 " ms (%s)%s", d->timeout_ms,
                detail, why);
}

/* Fails with `what` and the received status: "what (CODE: details)".  A
 * deadline is reported as such, whichever request it cut short. */
static int fail_status(disc *d, const char *what)
{
    int len = (int)GRPC_SLICE_LENGTH(d->details);
    if (d->status == GRPC_STATUS_DEADLINE_EXCEEDED) {
        char detail[160];
        snprintf(detail, sizeof(detail), "DEADLINE_EXCEEDED%s%.*s", len ? ": " : "", len,
                 (const char *)GRPC_SLICE_START_PTR(d->details));
        return fail_no_answer(d, detail);
    }
    if (len == 0)
        return fail(d, "%s (%s)", what, rp_grpc_code_name(d->status));
    return fail(d, "%s (%s: %.*s)", what, rp_grpc_code_name(d->status), len,
                (const char *)GRPC_SLICE_START_PTR(d->details));
}

/* ---- the call ------------------------------------------------------------ */

static void call_reset(disc *d)
{
    d->call = NULL;
    d->metadata_sent = 0;
    d->status_received = 0;
    grpc_metadata_array_init(&d->initial_md);
    grpc_metadata_array_init(&d->trailing_md);
    d->status = GRPC_STATUS_OK;
    d->details = grpc_empty_slice();
    d->error_string = NULL;
}

/* Ends the current call (cancelling it if its status was not received)
 * and frees everything it received.  No batch may be pending. */
static void call_close(disc *d)
{
    if (d->call) {
        if (!d->status_received)
            grpc_call_cancel(d->call, NULL);
        grpc_call_unref(d->call);
    }
    grpc_metadata_array_destroy(&d->initial_md);
    grpc_metadata_array_destroy(&d->trailing_md);
    grpc_slice_unref(d->details);
    gpr_free((void *)d->error_string);
    call_reset(d);
}

static int call_open(disc *d, const struct protocol *p)
{
    d->protocol = p;
    d->call = grpc_channel_create_call(d->channel, NULL, GRPC_PROPAGATE_DEFAULTS, d->cq,
                                       grpc_slice_from_static_string(p->method), NULL,
                                       d->deadline, NULL);
    if (!d->call)
        return fail(d, "%s: cannot create the call", p->method);
    return 0;
}

/*
 * Runs one batch on the current call and waits for it.  Returns the
 * batch's success flag (1 or 0), or -1 with err set when it could not be
 * started or did not finish in time (the call is then cancelled; the batch
 * has completed either way).
 */
static int run_batch(disc *d, const grpc_op *ops, size_t n)
{
    void *tag = d; /* one batch at a time */
    grpc_call_error rc = grpc_call_start_batch(d->call, ops, n, tag, NULL);
    if (rc != GRPC_CALL_OK)
        return fail(d, "%s: cannot start a batch (grpc_call_error %d)", d->protocol->method,
                    (int)rc);
    for (;;) {
        gpr_timespec until = d->deadline;
        if (d->cancel) { /* wait in slices, to look at the flag */
            gpr_timespec slice = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                              gpr_time_from_millis(CANCEL_SLICE_MS, GPR_TIMESPAN));
            if (gpr_time_cmp(slice, until) < 0)
                until = slice;
        }
        grpc_event ev = grpc_completion_queue_pluck(d->cq, tag, until, NULL);
        if (ev.type == GRPC_OP_COMPLETE)
            return ev.success ? 1 : 0;
        if (d->cancel && atomic_load(d->cancel)) {
            grpc_call_cancel_with_status(d->call, GRPC_STATUS_CANCELLED, "cancelled", NULL);
            (void)grpc_completion_queue_pluck(d->cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME),
                                              NULL);
            return fail(d, "cancelled while waiting for the upstream");
        }
        if (gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), d->deadline) >= 0)
            break;
    }
    /* The call's own deadline is the same, so this is a backstop: cancel,
     * which completes the batch at once, and collect it. */
    grpc_call_cancel_with_status(d->call, GRPC_STATUS_DEADLINE_EXCEEDED,
                                 "reflection deadline", NULL);
    (void)grpc_completion_queue_pluck(d->cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    return fail_no_answer(d, "DEADLINE_EXCEEDED");
}

/* Receives the call's status into d.  Returns 0 or -1 (err set). */
static int receive_status(disc *d)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.status = &d->status;
    op.data.recv_status_on_client.status_details = &d->details;
    op.data.recv_status_on_client.error_string = &d->error_string;
    op.data.recv_status_on_client.trailing_metadata = &d->trailing_md;
    if (run_batch(d, &op, 1) < 0)
        return -1;
    d->status_received = 1;
    return 0;
}

/* Half-closes the stream and checks that it ends with OK. */
static int call_finish(disc *d)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    int ok = run_batch(d, &op, 1);
    if (ok < 0 || receive_status(d) < 0)
        return -1;
    if (d->status != GRPC_STATUS_OK)
        return fail_status(d, "the reflection stream ended with an error");
    return 0;
}

/* The bytes of a received message as one slice (the caller unrefs it). */
static grpc_slice read_message(grpc_byte_buffer *bb)
{
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, bb))
        return grpc_empty_slice();
    grpc_slice s = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    return s;
}

/*
 * Sends one request and reads its answer.  Returns 0 with *resp set (free
 * it with ..._free_unpacked), STREAM_ENDED when the server ended the stream
 * instead (its status is then in d), or -1 with err set.
 */
static int exchange(disc *d, const Request *req, Response **resp)
{
    *resp = NULL;
    size_t len = grpc__reflection__v1__server_reflection_request__get_packed_size(req);
    grpc_slice payload = grpc_slice_malloc(len);
    grpc__reflection__v1__server_reflection_request__pack(req, GRPC_SLICE_START_PTR(payload));
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&payload, 1);
    grpc_slice_unref(payload);
    grpc_byte_buffer *recv = NULL;

    grpc_op ops[4], *op = ops;
    memset(ops, 0, sizeof(ops));
    if (!d->metadata_sent) {
        op->op = GRPC_OP_SEND_INITIAL_METADATA;
        if (d->flags & GW_DISCOVERY_WAIT_FOR_READY)
            op->flags = GRPC_INITIAL_METADATA_WAIT_FOR_READY |
                        GRPC_INITIAL_METADATA_WAIT_FOR_READY_EXPLICITLY_SET;
        op++;
        op->op = GRPC_OP_RECV_INITIAL_METADATA;
        op->data.recv_initial_metadata.recv_initial_metadata = &d->initial_md;
        op++;
    }
    op->op = GRPC_OP_SEND_MESSAGE;
    op->data.send_message.send_message = send;
    op++;
    op->op = GRPC_OP_RECV_MESSAGE;
    op->data.recv_message.recv_message = &recv;
    op++;
    int ok = run_batch(d, ops, (size_t)(op - ops));
    d->metadata_sent = 1;
    grpc_byte_buffer_destroy(send);
    if (ok < 0) {
        if (recv)
            grpc_byte_buffer_destroy(recv);
        return -1;
    }
    if (!ok || !recv) { /* the stream is over: find out why */
        if (recv)
            grpc_byte_buffer_destroy(recv);
        return receive_status(d) < 0 ? -1 : STREAM_ENDED;
    }
    grpc_slice bytes = read_message(recv);
    grpc_byte_buffer_destroy(recv);
    *resp = grpc__reflection__v1__server_reflection_response__unpack(
        NULL, GRPC_SLICE_LENGTH(bytes), GRPC_SLICE_START_PTR(bytes));
    grpc_slice_unref(bytes);
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
    if (gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), d->deadline) >= 0)
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
 * Opens the stream and asks for the list of services: over v1, then over
 * v1alpha if v1 is UNIMPLEMENTED.  Returns 0 (the call stays open) or -1.
 */
static int list_services(disc *d)
{
    Request req = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__INIT;
    req.message_request_case = REQUEST(LIST_SERVICES);
    req.list_services = "*";
    Response *resp = NULL;
    int rc = -1;
    for (size_t i = 0; i < sizeof(PROTOCOLS) / sizeof(PROTOCOLS[0]); i++) {
        if (call_open(d, &PROTOCOLS[i]) < 0)
            return -1;
        rc = exchange(d, &req, &resp);
        if (rc != STREAM_ENDED || d->status != GRPC_STATUS_UNIMPLEMENTED)
            break;
        if (i + 1 < sizeof(PROTOCOLS) / sizeof(PROTOCOLS[0]))
            call_close(d); /* try the next protocol */
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

int gw_discovery_fetch(grpc_channel *channel, int64_t timeout_ms, unsigned flags,
                       const atomic_int *cancel, gw_discovery_result *res, char *err,
                       size_t errlen)
{
    memset(res, 0, sizeof(*res));
    disc d;
    memset(&d, 0, sizeof(d));
    d.channel = channel;
    d.timeout_ms = timeout_ms;
    d.flags = flags;
    d.cancel = cancel;
    d.err = err;
    d.errlen = errlen;
    d.protocol = &PROTOCOLS[0];
    d.deadline = timeout_ms > 0
                     ? gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                    gpr_time_from_millis(timeout_ms, GPR_TIMESPAN))
                     : gpr_inf_future(GPR_CLOCK_MONOTONIC);
    call_reset(&d);
    d.cq = grpc_completion_queue_create_for_pluck(NULL);

    int rc = -1;
    if (d.cq && list_services(&d) == 0 && fetch_files(&d) == 0 && call_finish(&d) == 0)
        rc = build_result(&d, res);

    call_close(&d);
    if (d.cq) {
        grpc_completion_queue_shutdown(d.cq);
        /* nothing is pending: this returns GRPC_QUEUE_SHUTDOWN at once */
        grpc_completion_queue_pluck(d.cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        grpc_completion_queue_destroy(d.cq);
    } else {
        fail(&d, "cannot create a completion queue");
    }
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
    grpc_init();
    /* Retry a refused connection soon (for GW_DISCOVERY_WAIT_FOR_READY).
     * GRPC_ARG_MIN_RECONNECT_BACKOFF_MS is left alone on purpose: the core
     * uses it as the connect timeout, handshake included. */
    grpc_arg args[] = {
        {GRPC_ARG_INTEGER, GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
         {.integer = GW_RECONNECT_BACKOFF_MIN_MS}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
         {.integer = GW_RECONNECT_BACKOFF_MAX_MS}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = MAX_RECEIVE_BYTES}},
        {GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_RETRIES, {.integer = 0}}, /* as gw_upstream's */
        {GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_HTTP_PROXY, {.integer = 0}},
    };
    grpc_channel_args channel_args = {sizeof(args) / sizeof(args[0]), args};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, &channel_args);
    grpc_channel_credentials_release(creds);
    int rc;
    if (!ch) {
        snprintf(err, errlen, "reflection: %s: cannot create a gRPC channel", target);
        rc = -1;
    } else {
        rc = gw_discovery_fetch(ch, timeout_ms, flags, NULL, res, err, errlen);
        grpc_channel_destroy(ch);
    }
    grpc_shutdown();
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
