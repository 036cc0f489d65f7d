/*
 * files.c -- the files service plugin (files.proto): google.api.HttpBody
 * replies and requests, for the gateway's raw-body path.  Get makes a body
 * of the size asked for (Chunks streams it `count` times), Put and Echo
 * answer with what they received.
 */
#include <rpcrest/rpcrest.h>
#include <stdlib.h>
#include <string.h>

#include "files.pb-c.h"

#define MAX_SIZE (16 << 20)

/* `size` bytes of `name` over and over (malloc'd; NULL: no memory). */
static uint8_t *repeated_name(const char *name, size_t size)
{
    uint8_t *data = malloc(size ? size : 1);
    size_t n = strlen(name);
    for (size_t i = 0; data && i < size; i++)
        data[i] = n ? (uint8_t)name[i % n] : 'x';
    return data;
}

/* The HttpBody GetRequest asks for, into *out (data malloc'd); 0, or -1
 * after failing the call. */
static int make_body(rpcrest_call *call, const Rpcrest__Files__GetRequest *in,
                     Google__Api__HttpBody *out)
{
    if (in->size < 0 || in->size > MAX_SIZE) {
        rpcrest_call_fail(call, RPCREST_INVALID_ARGUMENT, "size: 0 to 16 MiB");
        return -1;
    }
    out->content_type = in->content_type;
    out->data.len = (size_t)in->size;
    out->data.data = repeated_name(in->name, (size_t)in->size);
    if (!out->data.data) {
        rpcrest_call_fail(call, RPCREST_RESOURCE_EXHAUSTED, "out of memory");
        return -1;
    }
    return 0;
}

static void do_get(rpcrest_call *call, const ProtobufCMessage *request, void *data)
{
    (void)data;
    Google__Api__HttpBody out = GOOGLE__API__HTTP_BODY__INIT;
    if (make_body(call, (const Rpcrest__Files__GetRequest *)request, &out) < 0)
        return;
    rpcrest_call_reply(call, &out.base);
    free(out.data.data);
}

/* A Chunks call: its body, sent `left` more times. */
typedef struct chunks_job {
    Google__Api__HttpBody body;
    int32_t left;
} chunks_job;

static void chunks_free(chunks_job *j)
{
    free(j->body.content_type);
    free(j->body.data.data);
    free(j);
}

/* Sends until the queue is full (the host then calls it again), the call
 * is cancelled, or every message is out. */
static void pump_chunks(rpcrest_call *call, void *arg)
{
    chunks_job *j = arg;
    for (; j->left > 0; j->left--) {
        int rc = rpcrest_call_send(call, &j->body.base);
        if (rc == RPCREST_EAGAIN)
            return; /* j may be another thread's from here on */
        if (rc != 0) {
            rpcrest_call_fail(call, RPCREST_CANCELLED, rpcrest_call_strerror(rc));
            chunks_free(j);
            return;
        }
    }
    rpcrest_call_finish(call);
    chunks_free(j);
}

static void do_chunks(rpcrest_call *call, const ProtobufCMessage *request, void *data)
{
    (void)data;
    const Rpcrest__Files__GetRequest *in = (const Rpcrest__Files__GetRequest *)request;
    if (in->count < 0) {
        rpcrest_call_fail(call, RPCREST_INVALID_ARGUMENT, "count >= 0");
        return;
    }
    chunks_job *j = calloc(1, sizeof(*j));
    if (!j) {
        rpcrest_call_fail(call, RPCREST_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    google__api__http_body__init(&j->body);
    if (make_body(call, in, &j->body) < 0) {
        free(j);
        return;
    }
    j->body.content_type = strdup(in->content_type); /* the request is gone after this */
    if (!j->body.content_type) {
        rpcrest_call_fail(call, RPCREST_RESOURCE_EXHAUSTED, "out of memory");
        free(j->body.data.data);
        free(j);
        return;
    }
    j->left = in->count;
    rpcrest_call_on_writable(call, pump_chunks, j);
    pump_chunks(call, j);
}

static void do_get_wrapped(rpcrest_call *call, const ProtobufCMessage *request, void *data)
{
    (void)data;
    Google__Api__HttpBody body = GOOGLE__API__HTTP_BODY__INIT;
    if (make_body(call, (const Rpcrest__Files__GetRequest *)request, &body) < 0)
        return;
    Rpcrest__Files__Wrapped out = RPCREST__FILES__WRAPPED__INIT;
    out.file = &body;
    out.note = "not in the answer: response_body names the file";
    rpcrest_call_reply(call, &out.base);
    free(body.data.data);
}

static void do_put(rpcrest_call *call, const ProtobufCMessage *request, void *data)
{
    (void)data;
    const Rpcrest__Files__PutRequest *in = (const Rpcrest__Files__PutRequest *)request;
    Rpcrest__Files__PutReply out = RPCREST__FILES__PUT_REPLY__INIT;
    out.name = in->name;
    if (in->file) {
        out.content_type = in->file->content_type;
        out.data = in->file->data;
    }
    rpcrest_call_reply(call, &out.base);
}

static void do_echo(rpcrest_call *call, const ProtobufCMessage *request, void *data)
{
    (void)data;
    rpcrest_call_reply(call, request);
}

static const rpcrest_method files_methods[] = {
    {"Get", RPCREST_UNARY, do_get},
    {"Put", RPCREST_UNARY, do_put},
    {"Echo", RPCREST_UNARY, do_echo},
    {"GetWrapped", RPCREST_UNARY, do_get_wrapped},
    {"Chunks", RPCREST_SERVER_STREAMING, do_chunks},
};

static const rpcrest_service files_services[] = {
    {&rpcrest__files__files__descriptor, files_methods, RPCREST_COUNTOF(files_methods)},
};

RPCREST_PLUGIN("files", files_services, RPCREST_COUNTOF(files_services), NULL, NULL);
