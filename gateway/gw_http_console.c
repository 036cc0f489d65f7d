/*
 * gw_http_console.c -- the gateway's own pages ([gateway] docs = on): the
 * OpenAPI document of the API generation served now (GET /openapi.json,
 * gw_openapi.c) and the API console (GET /docs: rpcrest's index page and
 * Swagger UI's files, installed at build time into a folder on disk and
 * read from there; nothing is fetched at run time).  Answered before route
 * matching; never calls the upstream.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_http_int.h"
#include "gw_openapi.h"
#include "gw_status.h"

#define OPENAPI_PATH "/openapi.json"
#define CONSOLE_PATH "/docs"
#define CONSOLE_INDEX "index.html"
#define MAX_FILE_NAME 128

int gw_http_console_owns(const char *path)
{
    if (strcmp(path, OPENAPI_PATH) == 0)
        return 1;
    size_t n = strlen(CONSOLE_PATH);
    return strncmp(path, CONSOLE_PATH, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

size_t gw_http_console_paths(const char *out[3])
{
    out[0] = OPENAPI_PATH;
    out[1] = CONSOLE_PATH;
    out[2] = CONSOLE_PATH "/";
    return 3;
}

/* The console file a path names: "index.html" for /docs and /docs/, NAME
 * for /docs/NAME when NAME is a plain file name ([A-Za-z0-9._-], not
 * starting with a dot); NULL for anything else. */
static const char *file_name(const char *path)
{
    const char *name = path + strlen(CONSOLE_PATH);
    if (*name == '\0' || strcmp(name, "/") == 0)
        return CONSOLE_INDEX;
    name++;
    size_t len = strlen(name);
    if (len == 0 || len > MAX_FILE_NAME || name[0] == '.')
        return NULL;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return NULL;
    }
    return name;
}

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".png", "image/png"},
        {".svg", "image/svg+xml"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* Queues a 200 with `len` bytes of the given type (NULL resp: no memory). */
static enum MHD_Result queue(gw_request *req, struct MHD_Response *resp, size_t len,
                             const char *type)
{
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    /* the console shows the descriptors' comments: whatever they say, it
     * loads images and calls from this gateway only, and no other site
     * frames it */
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    return gw_http_queue(req, resp, MHD_HTTP_OK, type, len);
}

static enum MHD_Result send_openapi(gw_request *req)
{
    if (!req->gen)
        return gw_http_send_error(req, 503, GRPC_STATUS_UNAVAILABLE,
                                  "the gateway has not loaded the upstream's API yet");
    gw_openapi_options opt = {.proto_names = req->http->cfg.json.proto_names,
                              .enum_numbers = req->http->cfg.json.enum_numbers,
                              .title = req->http->cfg.openapi_title,
                              .version = req->http->cfg.openapi_version};
    const uint8_t *doc;
    size_t len;
    if (gw_openapi_get(req->gen, &opt, &doc, &len) < 0)
        return gw_http_send_error(req, 500, GRPC_STATUS_INTERNAL,
                                  "out of memory building the OpenAPI document");
    /* MHD keeps its own copy: nothing depends on when it sends it */
    return queue(req, MHD_create_response_from_buffer(len, (void *)doc, MHD_RESPMEM_MUST_COPY),
                 len, "application/json");
}

static enum MHD_Result send_file(gw_request *req)
{
    const char *name = file_name(req->path);
    char msg[600], path[4096];
    if (!name) {
        snprintf(msg, sizeof(msg), "no route for GET %.200s", req->path);
        return gw_http_send_error(req, 404, GRPC_STATUS_NOT_FOUND, msg);
    }
    const char *dir = req->http->cfg.docs_dir ? req->http->cfg.docs_dir : "";
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = n > 0 && (size_t)n < sizeof(path) ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        if (strcmp(name, CONSOLE_INDEX) == 0)
            snprintf(msg, sizeof(msg), "the API console is not installed in %.300s (make builds "
                     "it there); /openapi.json describes the API", dir);
        else
            snprintf(msg, sizeof(msg), "no route for GET %.200s", req->path);
        return gw_http_send_error(req, 404, GRPC_STATUS_NOT_FOUND, msg);
    }
    /* MHD closes fd with the response */
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp)
        close(fd);
    return queue(req, resp, (size_t)st.st_size, content_type(name));
}

enum MHD_Result gw_http_console_respond(gw_request *req)
{
    return strcmp(req->path, OPENAPI_PATH) == 0 ? send_openapi(req) : send_file(req);
}
