/*
 * host_unknown.c -- answers calls to unregistered methods with
 * UNIMPLEMENTED ("unknown method /x.Y/Z").
 *
 * One batch per call: initial metadata, the status, and RECV_CLOSE; when it
 * completes the record is freed.  The request message is never read.
 */
#include "host_unknown.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_log.h"

typedef struct host_unknown {
    host_tag on_new;
    host_tag on_done;
    const host_queue *q;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array md;
    int cancelled;
} host_unknown;

static void unknown_free(host_unknown *u)
{
    host_live *live = u->q->live;
    grpc_call_details_destroy(&u->details);
    grpc_metadata_array_destroy(&u->md);
    if (u->call)
        grpc_call_unref(u->call);
    free(u);
    host_live_release(live);
}

int host_unknown_request(const host_queue *q)
{
    host_unknown *u = calloc(1, sizeof(*u));
    if (!u) {
        rp_log("cannot request calls to unknown methods: out of memory");
        return -1;
    }
    u->on_new.kind = HOST_TAG_UNKNOWN_NEW;
    u->on_done.kind = HOST_TAG_UNKNOWN_DONE;
    u->q = q;
    grpc_call_details_init(&u->details);
    grpc_metadata_array_init(&u->md);
    host_live_hold(q->live);
    grpc_call_error err = grpc_server_request_call(q->server, &u->call, &u->details, &u->md,
                                                   q->cq, q->cq, &u->on_new);
    if (err != GRPC_CALL_OK) {
        rp_log("grpc_server_request_call: error %d", (int)err);
        unknown_free(u);
        return -1;
    }
    return 0;
}

static void answer(host_unknown *u)
{
    char why[512];
    snprintf(why, sizeof(why), "unknown method %.*s", (int)GRPC_SLICE_LENGTH(u->details.method),
             (const char *)GRPC_SLICE_START_PTR(u->details.method));
    grpc_slice details = grpc_slice_from_copied_string(why);
    grpc_op ops[3];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[1].data.send_status_from_server.status = GRPC_STATUS_UNIMPLEMENTED;
    ops[1].data.send_status_from_server.status_details = &details;
    ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[2].data.recv_close_on_server.cancelled = &u->cancelled;
    grpc_call_error err = grpc_call_start_batch(u->call, ops, 3, &u->on_done, NULL);
    grpc_slice_unref(details); /* the call took its own reference */
    if (err != GRPC_CALL_OK) {
        rp_log("%s: grpc_call_start_batch: error %d", why, (int)err);
        unknown_free(u);
    }
}

void host_unknown_on_event(host_tag *tag, int ok)
{
    host_unknown *u;
    switch (tag->kind) {
    case HOST_TAG_UNKNOWN_NEW:
        u = HOST_RECORD_OF(tag, host_unknown, on_new);
        if (!ok) { /* shutting down */
            unknown_free(u);
            return;
        }
        if (host_unknown_request(u->q) < 0) /* logged */
            host_queue_owe(u->q, HOST_OWED_UNKNOWN, NULL, NULL);
        answer(u);
        break;
    case HOST_TAG_UNKNOWN_DONE:
        unknown_free(HOST_RECORD_OF(tag, host_unknown, on_done));
        break;
    default:
        rp_log("host_unknown_on_event: unexpected tag kind %d", (int)tag->kind);
        break;
    }
}
