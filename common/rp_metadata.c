/*
 * rp_metadata.c -- gRPC's rules for metadata keys and text values
 * (rp_metadata.h).
 */
#include "rp_metadata.h"

#include <string.h>
#include <strings.h>

int rp_metadata_key_valid(const char *key, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = key[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
              ch == '.'))
            return 0;
    }
    return 1;
}

int rp_metadata_key_binary(const char *key, size_t len)
{
    return len > 4 && memcmp(key + len - 4, "-bin", 4) == 0;
}

size_t rp_metadata_base64_len(size_t n, int padded)
{
    return padded ? (n + 2) / 3 * 4 : (4 * n + 2) / 3;
}

int rp_metadata_text_valid(const void *value, size_t len)
{
    const unsigned char *v = value;
    for (size_t i = 0; i < len; i++)
        if (v[i] < 0x20 || v[i] > 0x7e)
            return 0;
    return 1;
}

int rp_request_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > RP_REQUEST_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (id[i] <= 0x20 || id[i] >= 0x7f || id[i] == '"' || id[i] == '\\')
            return 0;
    return 1;
}

/* A header name and its length: the lists below are searched for every
 * request header, and the length rules out most entries at once. */
typedef struct header_name {
    const char *name;
    size_t len;
} header_name;
#define NAME(s) {s, sizeof(s) - 1}
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int in_list(const header_name *list, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].len == len && strncasecmp(name, list[i].name, len) == 0)
            return 1;
    return 0;
}

/* HTTP/2 forbids the connection-specific ones (and any te but "trailers"),
 * and the gRPC transport sets the others itself.  Sent on, they broke
 * calls in different ways per server (gRPC core: "Bad :te header"; Go: a
 * message read as gzip). */
static const header_name transport_keys[] = {
    NAME("connection"), NAME("keep-alive"), NAME("proxy-connection"),
    NAME("transfer-encoding"), NAME("upgrade"), NAME("te"), NAME("content-type"),
    /* RFC 9113 8.1.1, 8.3.1: a length the DATA does not match, a Host that
     * is not :authority, make the request malformed: a strict upstream
     * resets it (python-h2) or the whole connection */
    NAME("content-length"), NAME("host"),
    NAME("grpc-timeout"), NAME("grpc-encoding"), NAME("grpc-accept-encoding"),
    NAME("grpc-message"), NAME("grpc-status"), NAME("grpc-status-details-bin"),
    NAME("grpc-message-type"),
};

/* grpc-gateway's list of the headers forwarded as grpcgateway-NAME. */
static const header_name permanent_headers[] = {
    NAME("accept"), NAME("accept-charset"), NAME("accept-language"), NAME("accept-ranges"),
    NAME("authorization"), NAME("cache-control"), NAME("content-type"), NAME("cookie"),
    NAME("date"), NAME("expect"), NAME("from"), NAME("host"), NAME("if-match"),
    NAME("if-modified-since"), NAME("if-none-match"), NAME("if-schedule-tag-match"),
    NAME("if-unmodified-since"), NAME("max-forwards"), NAME("origin"), NAME("pragma"),
    NAME("referer"), NAME("user-agent"), NAME("via"), NAME("warning"),
};

/* Headers from which the gateway makes metadata of its own. */
static const header_name gateway_sent[] = {
    NAME("x-forwarded-for"), NAME("x-forwarded-host"), NAME("x-request-id"),
};

int rp_metadata_transport_key(const char *key, size_t len)
{
    return in_list(transport_keys, COUNT(transport_keys), key, len);
}

int rp_metadata_permanent_header(const char *name, size_t len)
{
    return in_list(permanent_headers, COUNT(permanent_headers), name, len);
}

/* Why name cannot stand for a metadata key in a header of the same name
 * (its characters, grpc-), or NULL. */
static const char *key_name_refusal(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return "a header name that stands for metadata takes only letters, digits and - _ .";
    }
    if (len == 0)
        return "an empty header name";
    if (len >= 5 && strncasecmp(name, "grpc-", 5) == 0)
        return "gRPC reserves the grpc- keys (Grpc-Metadata-NAME headers carry them anyway)";
    return NULL;
}

/* Response headers that frame the answer or that the gateway writes. */
static const header_name answer_headers[] = {
    NAME("content-encoding"), NAME("trailer"), NAME("date"), NAME("vary"), NAME("allow"),
    NAME("www-authenticate"), NAME("x-request-id"),
};

/* key_name_refusal, or `bin_why` for a -bin name (binary metadata). */
static const char *text_key_refusal(const char *name, size_t len, const char *bin_why)
{
    const char *why = key_name_refusal(name, len);
    if (!why && len > 4 && strncasecmp(name + len - 4, "-bin", 4) == 0)
        why = bin_why;
    return why;
}

const char *rp_metadata_status_refusal(const char *name)
{
    return text_key_refusal(name, strlen(name), "a -bin key holds bytes, not a status");
}

const char *rp_metadata_reply_refusal(const char *name)
{
    size_t len = strlen(name);
    const char *why = text_key_refusal(name, len, "binary metadata goes out as "
                                                  "Grpc-Metadata-NAME-bin, in base64");
    if (why)
        return why;
    if (rp_metadata_transport_key(name, len) || in_list(answer_headers, COUNT(answer_headers),
                                                        name, len) ||
        (len >= 15 && strncasecmp(name, "access-control-", 15) == 0))
        return "it frames the answer or the gateway writes it";
    return NULL;
}

const char *rp_metadata_forward_refusal(const char *name)
{
    size_t len = strlen(name);
    const char *why = key_name_refusal(name, len);
    if (why)
        return why;
    if (rp_metadata_transport_key(name, len))
        return "HTTP/2 or the gRPC transport sets it";
    if (rp_metadata_permanent_header(name, len))
        return "the gateway forwards it already, as grpcgateway-NAME";
    if (in_list(gateway_sent, COUNT(gateway_sent), name, len))
        return "the gateway sends its own";
    return NULL;
}

/* Request headers of a gRPC-Web call that are the gateway's to answer, or
 * the protocol's marker, rather than the call's metadata. */
static const header_name web_request_own[] = {
    NAME("x-grpc-web"), NAME("accept"), NAME("accept-encoding"),
    NAME("user-agent"), /* the gateway's HTTP/2 client sends its own (X-User-Agent goes on) */
};

/* 1 if name[len] has only the characters of a metadata key, in any case. */
static int key_chars(const char *name, size_t len)
{
    return len > 0 && key_name_refusal(name, len) == NULL;
}

int rp_metadata_web_request_key(const char *name, size_t len)
{
    if (len >= 6 && strncasecmp(name, "proxy-", 6) == 0)
        return 0; /* Proxy-Authorization and the like: for a proxy on the way, not the call */
    return key_chars(name, len) && !rp_metadata_transport_key(name, len) &&
           !in_list(web_request_own, COUNT(web_request_own), name, len) &&
           !in_list(gateway_sent, COUNT(gateway_sent), name, len);
}

int rp_metadata_web_reply_key(const char *key, size_t len)
{
    if (len == 23 && strncasecmp(key, "grpc-status-details-bin", len) == 0)
        return 1;
    return key_chars(key, len) && !rp_metadata_transport_key(key, len) &&
           !in_list(answer_headers, COUNT(answer_headers), key, len) &&
           !(len >= 15 && strncasecmp(key, "access-control-", 15) == 0);
}
