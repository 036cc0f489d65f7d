/*
 * host_reflection.c -- the reflection index and ServerReflectionInfo.
 *
 * The index holds each .proto file once (the first set that has it wins),
 * as the exact serialized FileDescriptorProto bytes of its set, with its
 * imports resolved to other files of the index; every symbol a client may
 * ask for (packages' messages, nested ones, fields, oneofs, enums, enum
 * values, services, methods, extensions) sorted for bsearch; and every
 * extension by (extendee, number).
 *
 * v1 and v1alpha differ only in their package name: their messages are the
 * same on the wire, so both methods decode and encode with the v1 types.
 * A stream sends a file's imports at most once, as gRPC's own servers do;
 * the file asked for is in every answer (grpc-go's rule), so a client that
 * reads each answer alone finds it.
 */
#include "host_reflection.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"
#include "host_health.h"
#include "rp_log.h"
#include "host_protos.h"
#include "rp_pb_wire.h"

typedef Grpc__Reflection__V1__ServerReflectionRequest refl_request;
typedef Grpc__Reflection__V1__ServerReflectionResponse refl_response;
typedef Google__Protobuf__FileDescriptorProto file_proto;
typedef Google__Protobuf__DescriptorProto message_proto;
typedef Google__Protobuf__EnumDescriptorProto enum_proto;
typedef Google__Protobuf__FieldDescriptorProto field_proto;

enum { M_V1, M_V1ALPHA, N_METHODS };
enum { SYM_MESSAGE, SYM_OTHER };

typedef struct refl_file {
    char *name;            /* "google/api/http.proto" */
    const uint8_t *data;   /* serialized FileDescriptorProto, in a blob */
    size_t len;
    char **dep_names;      /* its imports, until resolved into deps */
    size_t n_dep_names;
    size_t *deps;          /* indexes of its imports in files[] */
    size_t n_deps;
} refl_file;

typedef struct refl_symbol {
    char *name;            /* "example.MyService.Echo", no leading dot */
    size_t file;
    size_t seq;            /* order of addition: the first one wins */
    int kind;
} refl_symbol;

typedef struct refl_ext {
    char *extendee;        /* "google.protobuf.MethodOptions" */
    int32_t number;
    size_t file;
} refl_ext;

struct host_reflection {
    uint8_t **blobs;       /* copies of the descriptor sets */
    size_t n_blobs;
    refl_file *files;
    size_t n_files;
    refl_symbol *symbols;
    size_t n_symbols;
    refl_ext *exts;
    size_t n_exts;
    char **services;       /* list_services */
    size_t n_services;
    host_bidi_method methods[N_METHODS];
};

/* ---- building the index --------------------------------------------------- */

#define GROW(arr, n, oom)                                                   \
    do {                                                                    \
        void *grown_ = realloc((arr), ((n) + 1) * sizeof(*(arr)));          \
        if (!grown_)                                                        \
            goto oom;                                                       \
        (arr) = grown_;                                                     \
    } while (0)

/* "prefix.name", or "name" when prefix is empty; malloc'd or NULL. */
static char *join(const char *prefix, const char *name)
{
    char *out;
    if (!prefix || !prefix[0])
        return strdup(name ? name : "");
    if (asprintf(&out, "%s.%s", prefix, name ? name : "") < 0)
        return NULL;
    return out;
}

static const char *strip_dot(const char *name)
{
    return name && name[0] == '.' ? name + 1 : (name ? name : "");
}

static ssize_t find_file(const host_reflection *r, const char *name)
{
    for (size_t i = 0; i < r->n_files; i++) {
        if (strcmp(r->files[i].name, name) == 0)
            return (ssize_t)i;
    }
    return -1;
}

/* Takes ownership of name (NULL means out of memory). */
static int add_symbol(host_reflection *r, char *name, size_t file, int kind)
{
    if (!name)
        return -1;
    GROW(r->symbols, r->n_symbols, oom);
    r->symbols[r->n_symbols] = (refl_symbol){name, file, r->n_symbols, kind};
    r->n_symbols++;
    return 0;
oom:
    free(name);
    return -1;
}

static int add_extension(host_reflection *r, const field_proto *f, size_t file)
{
    char *extendee = strdup(strip_dot(f->extendee));
    if (!extendee)
        return -1;
    GROW(r->exts, r->n_exts, oom);
    r->exts[r->n_exts++] = (refl_ext){extendee, f->number, file};
    return 0;
oom:
    free(extendee);
    return -1;
}

/* Extensions declared in `scope` (a package or a message). */
static int add_extensions(host_reflection *r, const char *scope, field_proto *const *ext,
                          size_t n, size_t file)
{
    for (size_t i = 0; i < n; i++) {
        if (add_symbol(r, join(scope, ext[i]->name), file, SYM_OTHER) < 0 ||
            add_extension(r, ext[i], file) < 0)
            return -1;
    }
    return 0;
}

/* An enum and its values; values live in the enum's enclosing scope. */
static int add_enum(host_reflection *r, const char *scope, const enum_proto *e, size_t file)
{
    if (add_symbol(r, join(scope, e->name), file, SYM_OTHER) < 0)
        return -1;
    for (size_t i = 0; i < e->n_value; i++) {
        if (add_symbol(r, join(scope, e->value[i]->name), file, SYM_OTHER) < 0)
            return -1;
    }
    return 0;
}

static int add_message(host_reflection *r, const char *scope, const message_proto *m,
                       size_t file)
{
    char *full = join(scope, m->name);
    if (add_symbol(r, full, file, SYM_MESSAGE) < 0)
        return -1;
    /* full now belongs to the symbol table and lives as long as it does */
    for (size_t i = 0; i < m->n_field; i++) {
        if (add_symbol(r, join(full, m->field[i]->name), file, SYM_OTHER) < 0)
            return -1;
    }
    for (size_t i = 0; i < m->n_oneof_decl; i++) {
        if (add_symbol(r, join(full, m->oneof_decl[i]->name), file, SYM_OTHER) < 0)
            return -1;
    }
    if (add_extensions(r, full, m->extension, m->n_extension, file) < 0)
        return -1;
    for (size_t i = 0; i < m->n_nested_type; i++) {
        if (add_message(r, full, m->nested_type[i], file) < 0)
            return -1;
    }
    for (size_t i = 0; i < m->n_enum_type; i++) {
        if (add_enum(r, full, m->enum_type[i], file) < 0)
            return -1;
    }
    return 0;
}

static int add_symbols(host_reflection *r, const file_proto *fp, size_t file)
{
    const char *pkg = fp->package;
    for (size_t i = 0; i < fp->n_message_type; i++) {
        if (add_message(r, pkg, fp->message_type[i], file) < 0)
            return -1;
    }
    for (size_t i = 0; i < fp->n_enum_type; i++) {
        if (add_enum(r, pkg, fp->enum_type[i], file) < 0)
            return -1;
    }
    for (size_t i = 0; i < fp->n_service; i++) {
        const Google__Protobuf__ServiceDescriptorProto *s = fp->service[i];
        char *full = join(pkg, s->name);
        if (add_symbol(r, full, file, SYM_OTHER) < 0)
            return -1;
        for (size_t j = 0; j < s->n_method; j++) {
            if (add_symbol(r, join(full, s->method[j]->name), file, SYM_OTHER) < 0)
                return -1;
        }
    }
    return add_extensions(r, pkg, fp->extension, fp->n_extension, file);
}

static int add_file(host_reflection *r, const file_proto *fp, const uint8_t *data, size_t len)
{
    GROW(r->files, r->n_files, oom);
    refl_file *f = &r->files[r->n_files];
    memset(f, 0, sizeof(*f));
    f->data = data;
    f->len = len;
    r->n_files++; /* counted now so that destroy frees what follows */
    if (!(f->name = strdup(fp->name)))
        goto oom;
    f->dep_names = calloc(fp->n_dependency + 1, sizeof(*f->dep_names));
    if (!f->dep_names)
        goto oom;
    for (size_t i = 0; i < fp->n_dependency; i++) {
        if (!(f->dep_names[i] = strdup(fp->dependency[i])))
            goto oom;
        f->n_dep_names++;
    }
    return add_symbols(r, fp, r->n_files - 1);
oom:
    return -1;
}

/* The FileDescriptorSet's `file` fields (1, length-delimited) as spans of
 * data, in order, into spans[max] and lens[max]; returns how many, or -1 if
 * the wire format is malformed. */
static ssize_t scan_set(const uint8_t *data, size_t len, const uint8_t **spans, size_t *lens,
                        size_t max)
{
    const uint8_t *p = data, *end = data + len;
    size_t n = 0;
    while (p < end) {
        rp_pb_field f;
        if (rp_pb_next_field(&p, end, &f) != RP_PB_FIELD)
            return -1;
        if (f.number == 1 && f.wire == RP_PB_WIRE_LEN) {
            if (n == max)
                return -1;
            spans[n] = f.data;
            lens[n++] = f.len;
        }
    }
    return (ssize_t)n;
}

/*
 * Adds the files of one serialized FileDescriptorSet (copied), whose parse
 * is `parsed` (a plugin's, from its load) or, if NULL, made here.  A set
 * that does not parse is logged and skipped.  -1 only when out of memory.
 */
static int add_set(host_reflection *r, const uint8_t *data, size_t len,
                   const Google__Protobuf__FileDescriptorSet *parsed, const char *origin)
{
    uint8_t *blob = malloc(len ? len : 1);
    if (!blob)
        return -1;
    memcpy(blob, data, len);
    GROW(r->blobs, r->n_blobs, oom_blob);
    r->blobs[r->n_blobs++] = blob;
    Google__Protobuf__FileDescriptorSet *own =
        parsed ? NULL : google__protobuf__file_descriptor_set__unpack(NULL, len, blob);
    const Google__Protobuf__FileDescriptorSet *set = parsed ? parsed : own;
    if (!set) {
        rp_log("%s: its embedded descriptor set does not parse; reflection ignores it",
                 origin);
        return 0;
    }
    int rc = 0;
    const uint8_t **spans = calloc(set->n_file + 1, sizeof(*spans));
    size_t *lens = calloc(set->n_file + 1, sizeof(*lens));
    if (!spans || !lens) {
        rc = -1;
    } else if (scan_set(blob, len, spans, lens, set->n_file) != (ssize_t)set->n_file) {
        rp_log("%s: its embedded descriptor set does not parse; reflection ignores it",
                 origin);
    } else {
        for (size_t i = 0; i < set->n_file && rc == 0; i++) {
            const file_proto *fp = set->file[i];
            if (!fp->name || find_file(r, fp->name) >= 0)
                continue; /* an earlier set has it: the first one wins */
            rc = add_file(r, fp, spans[i], lens[i]);
        }
    }
    free(spans);
    free(lens);
    if (own)
        google__protobuf__file_descriptor_set__free_unpacked(own, NULL);
    return rc;
oom_blob:
    free(blob);
    return -1;
}

static int resolve_deps(host_reflection *r)
{
    for (size_t i = 0; i < r->n_files; i++) {
        refl_file *f = &r->files[i];
        f->deps = calloc(f->n_dep_names + 1, sizeof(*f->deps));
        if (!f->deps)
            return -1;
        for (size_t j = 0; j < f->n_dep_names; j++) {
            ssize_t d = find_file(r, f->dep_names[j]);
            if (d < 0)
                rp_log("reflection: %s imports %s, which no descriptor set has", f->name,
                         f->dep_names[j]);
            else
                f->deps[f->n_deps++] = (size_t)d;
            free(f->dep_names[j]);
        }
        free(f->dep_names);
        f->dep_names = NULL;
        f->n_dep_names = 0;
    }
    return 0;
}

static int symbol_cmp(const void *a, const void *b)
{
    const refl_symbol *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the symbols and keeps the first of each name. */
static void sort_symbols(host_reflection *r)
{
    if (r->n_symbols == 0)
        return;
    qsort(r->symbols, r->n_symbols, sizeof(*r->symbols), symbol_cmp);
    size_t out = 1;
    for (size_t i = 1; i < r->n_symbols; i++) {
        if (strcmp(r->symbols[i].name, r->symbols[out - 1].name) == 0)
            free(r->symbols[i].name);
        else
            r->symbols[out++] = r->symbols[i];
    }
    r->n_symbols = out;
}

static int add_service_name(host_reflection *r, const char *name)
{
    char *copy = strdup(name);
    if (!copy)
        return -1;
    GROW(r->services, r->n_services, oom);
    r->services[r->n_services++] = copy;
    return 0;
oom:
    free(copy);
    return -1;
}

/* Every plugin's services and embedded descriptor set, in config order. */
static int index_plugins(host_reflection *r, const host_plugins *ps)
{
    size_t n_sets;
    const host_descriptor_set *sets = host_plugins_descriptor_sets(ps, &n_sets);
    for (size_t i = 0; i < ps->n_plugins; i++) {
        const host_plugin *p = &ps->plugins[i];
        for (size_t j = 0; j < p->entry->n_services; j++) {
            if (add_service_name(r, p->entry->services[j].descriptor->name) < 0)
                return -1;
        }
        const host_descriptor_set *set = NULL;
        for (size_t k = 0; k < n_sets && !set; k++) {
            if (sets[k].plugin == p->path || strcmp(sets[k].plugin, p->path) == 0)
                set = &sets[k];
        }
        if (!set || set->len == 0) {
            rp_log("%s: no embedded descriptor set; reflection does not describe its "
                     "services", p->path);
            continue;
        }
        if (add_set(r, set->data, set->len,
                    (const Google__Protobuf__FileDescriptorSet *)set->parsed, p->path) < 0)
            return -1;
    }
    return 0;
}

/* ---- answering ------------------------------------------------------------ */

static const refl_symbol *find_symbol(const host_reflection *r, const char *name)
{
    refl_symbol key = {(char *)strip_dot(name), 0, 0, 0};
    size_t lo = 0, hi = r->n_symbols;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key.name, r->symbols[mid].name);
        if (c == 0)
            return &r->symbols[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Appends file i and its imports, depth first, skipping those this stream
 * was already sent; marks them sent. */
static void collect(const host_reflection *r, size_t i, unsigned char *sent,
                    ProtobufCBinaryData *out, size_t *n)
{
    if (sent[i])
        return;
    sent[i] = 1;
    out[*n].data = (uint8_t *)r->files[i].data;
    out[(*n)++].len = r->files[i].len;
    for (size_t j = 0; j < r->files[i].n_deps; j++)
        collect(r, r->files[i].deps[j], sent, out, n);
}

/* One reply, packed and queued. */
static void send_response(host_bidi *b, const refl_response *resp)
{
    size_t size = grpc__reflection__v1__server_reflection_response__get_packed_size(resp);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        host_bidi_finish(b, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    grpc__reflection__v1__server_reflection_response__pack(resp, buf);
    (void)host_bidi_send(b, buf, size); /* on failure the call is over */
    free(buf);
}

static void send_error(host_bidi *b, refl_response *resp, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void send_error(host_bidi *b, refl_response *resp, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    Grpc__Reflection__V1__ErrorResponse err = GRPC__REFLECTION__V1__ERROR_RESPONSE__INIT;
    err.error_code = code;
    err.error_message = msg;
    resp->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
    resp->error_response = &err;
    send_response(b, resp);
}

static void send_files(host_bidi *b, refl_response *resp, size_t file)
{
    const host_reflection *r = host_bidi_ctx(b);
    void **sent = host_bidi_user(b);
    if (!*sent)
        *sent = calloc(r->n_files, 1);
    ProtobufCBinaryData *files = calloc(r->n_files, sizeof(*files));
    if (!*sent || !files) {
        free(files);
        host_bidi_finish(b, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    Grpc__Reflection__V1__FileDescriptorResponse fdr =
        GRPC__REFLECTION__V1__FILE_DESCRIPTOR_RESPONSE__INIT;
    if (((unsigned char *)*sent)[file]) { /* asked for again: the file itself, not its imports again */
        files[0].data = (uint8_t *)r->files[file].data;
        files[0].len = r->files[file].len;
        fdr.n_file_descriptor_proto = 1;
    } else {
        collect(r, file, *sent, files, &fdr.n_file_descriptor_proto);
    }
    fdr.file_descriptor_proto = files;
    resp->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
    resp->file_descriptor_response = &fdr;
    send_response(b, resp);
    free(files);
}

static void send_services(host_bidi *b, refl_response *resp)
{
    const host_reflection *r = host_bidi_ctx(b);
    Grpc__Reflection__V1__ServiceResponse *items = calloc(r->n_services + 1, sizeof(*items));
    Grpc__Reflection__V1__ServiceResponse **ptrs = calloc(r->n_services + 1, sizeof(*ptrs));
    if (!items || !ptrs) {
        free(items);
        free(ptrs);
        host_bidi_finish(b, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < r->n_services; i++) {
        grpc__reflection__v1__service_response__init(&items[i]);
        items[i].name = r->services[i];
        ptrs[i] = &items[i];
    }
    Grpc__Reflection__V1__ListServiceResponse list =
        GRPC__REFLECTION__V1__LIST_SERVICE_RESPONSE__INIT;
    list.n_service = r->n_services;
    list.service = ptrs;
    resp->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
    resp->list_services_response = &list;
    send_response(b, resp);
    free(items);
    free(ptrs);
}

static void send_extension_numbers(host_bidi *b, refl_response *resp, const char *type)
{
    const host_reflection *r = host_bidi_ctx(b);
    const refl_symbol *sym = find_symbol(r, type);
    if (!sym || sym->kind != SYM_MESSAGE) {
        send_error(b, resp, GRPC_STATUS_NOT_FOUND, "type not found: %s", type);
        return;
    }
    int32_t *numbers = calloc(r->n_exts + 1, sizeof(*numbers));
    if (!numbers) {
        host_bidi_finish(b, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    Grpc__Reflection__V1__ExtensionNumberResponse en =
        GRPC__REFLECTION__V1__EXTENSION_NUMBER_RESPONSE__INIT;
    for (size_t i = 0; i < r->n_exts; i++) {
        if (strcmp(r->exts[i].extendee, sym->name) == 0)
            numbers[en.n_extension_number++] = r->exts[i].number;
    }
    en.base_type_name = sym->name;
    en.extension_number = numbers;
    resp->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
    resp->all_extension_numbers_response = &en;
    send_response(b, resp);
    free(numbers);
}

static void answer(host_bidi *b, const refl_request *req, refl_response *resp)
{
    const host_reflection *r = host_bidi_ctx(b);
    const refl_symbol *sym;
    ssize_t f;
    switch (req->message_request_case) {
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
        f = find_file(r, req->file_by_filename);
        if (f < 0)
            send_error(b, resp, GRPC_STATUS_NOT_FOUND, "file not found: %s",
                       req->file_by_filename);
        else
            send_files(b, resp, (size_t)f);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
        sym = find_symbol(r, req->file_containing_symbol);
        if (!sym)
            send_error(b, resp, GRPC_STATUS_NOT_FOUND, "symbol not found: %s",
                       req->file_containing_symbol);
        else
            send_files(b, resp, sym->file);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION: {
        const Grpc__Reflection__V1__ExtensionRequest *x = req->file_containing_extension;
        const char *type = strip_dot(x->containing_type);
        for (size_t i = 0; i < r->n_exts; i++) {
            if (r->exts[i].number == x->extension_number &&
                strcmp(r->exts[i].extendee, type) == 0) {
                send_files(b, resp, r->exts[i].file);
                return;
            }
        }
        send_error(b, resp, GRPC_STATUS_NOT_FOUND, "extension not found: %s field %d", type,
                   (int)x->extension_number);
        break;
    }
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
        send_extension_numbers(b, resp, req->all_extension_numbers_of_type);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
        send_services(b, resp);
        break;
    default:
        send_error(b, resp, GRPC_STATUS_UNIMPLEMENTED,
                   "the request names no question this server knows");
        break;
    }
}

static void on_request(host_bidi *b, const uint8_t *msg, size_t len)
{
    refl_request *req = grpc__reflection__v1__server_reflection_request__unpack(NULL, len, msg);
    if (!req) {
        host_bidi_finish(b, GRPC_STATUS_INVALID_ARGUMENT,
                         "cannot decode request as ServerReflectionRequest");
        return;
    }
    refl_response resp = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
    resp.valid_host = req->host;
    resp.original_request = req;
    answer(b, req, &resp);
    grpc__reflection__v1__server_reflection_request__free_unpacked(req, NULL);
}

static void on_done(host_bidi *b)
{
    free(*host_bidi_user(b)); /* the stream's set of files sent */
}

/* ---- life ----------------------------------------------------------------- */

host_bidi_method *host_reflection_methods(host_reflection *r, size_t *n)
{
    *n = N_METHODS;
    return r->methods;
}

host_reflection *host_reflection_create(const host_plugins *ps)
{
    host_reflection *r = calloc(1, sizeof(*r));
    if (!r)
        goto oom;
    if (index_plugins(r, ps) < 0)
        goto oom;
    const uint8_t *own;
    size_t own_len = host_protos_descriptor_set(&own);
    if (add_set(r, own, own_len, NULL, "rpcrest-host") < 0 ||
        add_service_name(r, HOST_REFLECTION_V1_SERVICE) < 0 ||
        add_service_name(r, HOST_REFLECTION_V1ALPHA_SERVICE) < 0 ||
        add_service_name(r, HOST_HEALTH_SERVICE) < 0 || resolve_deps(r) < 0)
        goto oom;
    sort_symbols(r);
    static const char *const paths[N_METHODS] = {
        "/" HOST_REFLECTION_V1_SERVICE "/ServerReflectionInfo",
        "/" HOST_REFLECTION_V1ALPHA_SERVICE "/ServerReflectionInfo",
    };
    for (size_t i = 0; i < N_METHODS; i++) {
        r->methods[i] = (host_bidi_method){
            .path = paths[i],
            .stream_requests = 1,
            .on_request = on_request,
            .on_done = on_done,
            .ctx = r,
        };
    }
    return r;
oom:
    rp_log("reflection: out of memory");
    host_reflection_destroy(r);
    return NULL;
}

void host_reflection_destroy(host_reflection *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_files; i++) {
        refl_file *f = &r->files[i];
        free(f->name);
        for (size_t j = 0; j < f->n_dep_names; j++)
            free(f->dep_names[j]);
        free(f->dep_names);
        free(f->deps);
    }
    free(r->files);
    for (size_t i = 0; i < r->n_symbols; i++)
        free(r->symbols[i].name);
    free(r->symbols);
    for (size_t i = 0; i < r->n_exts; i++)
        free(r->exts[i].extendee);
    free(r->exts);
    for (size_t i = 0; i < r->n_services; i++)
        free(r->services[i]);
    free(r->services);
    for (size_t i = 0; i < r->n_blobs; i++)
        free(r->blobs[i]);
    free(r->blobs);
    free(r);
}
