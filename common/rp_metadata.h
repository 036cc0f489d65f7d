/*
 * rp_metadata.h -- gRPC's rules for metadata entries: which keys and which
 * text values may be sent.  The gateway applies them to the headers it
 * forwards, the host to the metadata it receives and to what plugins add.
 */
#ifndef RP_METADATA_H
#define RP_METADATA_H

#include <stddef.h>

/* 1 if key[len] is a valid metadata key: not empty, and only [0-9a-z-_.]. */
int rp_metadata_key_valid(const char *key, size_t len);

/* 1 if key[len] names a binary entry (ends in "-bin"), whose value may
 * hold any bytes. */
int rp_metadata_key_binary(const char *key, size_t len);

/* The length of a -bin value of n bytes once base64-encoded: unpadded, as
 * gRPC core, grpc-go and grpc-java send it and as HTTP/2 limits count it, or
 * padded to a multiple of 4 (RP_BASE64_PADDED), as some clients send it. */
enum { RP_BASE64_UNPADDED = 0, RP_BASE64_PADDED = 1 };
size_t rp_metadata_base64_len(size_t n, int padded);

/* 1 if value[len] may be a text value: printable ASCII only. */
int rp_metadata_text_valid(const void *value, size_t len);

/* A request id (x-request-id, X-Request-Id) that may go into log lines and
 * metadata as it is: 1..RP_REQUEST_ID_MAX bytes of printable ASCII without
 * space, '"' or '\\', so that it is one word that cannot pass for another
 * field of a line.  1 if id[len] is one. */
#define RP_REQUEST_ID_MAX 128
int rp_request_id_valid(const char *id, size_t len);

/* 1 if HTTP/2 or the gRPC transport sets key[len] (any case) itself, so
 * that no client may send it as metadata: the connection-specific
 * headers, te, content-type, content-length, host and the grpc- ones. */
int rp_metadata_transport_key(const char *key, size_t len);

/* 1 if name[len] (any case) is one of the HTTP headers with a meaning of
 * their own that the gateway forwards as "grpcgateway-NAME" (grpc-gateway's
 * list: Accept, Authorization, Cookie, User-Agent, ...). */
int rp_metadata_permanent_header(const char *name, size_t len);

/* Why the gateway cannot forward request header `name` as metadata under
 * its own name ([gateway] forward_headers), or NULL if it can: the name
 * must make a metadata key once in lower case, not one gRPC reserves
 * (grpc-*) or the transport sets, nor one the gateway sends already (a
 * permanent header, X-Forwarded-For, X-Forwarded-Host, X-Request-Id). */
const char *rp_metadata_forward_refusal(const char *name);

/* Why response metadata `name` cannot carry a reply's HTTP status
 * ([gateway] status_metadata), or NULL if it can: a text key (not -bin)
 * that is no grpc- key. */
const char *rp_metadata_status_refusal(const char *name);

/* Why the gateway cannot send response metadata `name` as a plain HTTP
 * header of that name ([gateway] reply_headers), or NULL if it can: a
 * metadata key once in lower case, not -bin (binary), not grpc-*, and not
 * a header that frames the answer or that the gateway writes itself
 * (Content-Length, Content-Type, Content-Encoding, Connection, Date, Vary,
 * Allow, WWW-Authenticate, X-Request-Id, Access-Control-*, ...). */
const char *rp_metadata_reply_refusal(const char *name);

/* gRPC-Web (the gateway passes a call's headers on as its metadata): 1 if
 * request header name[len] goes on as metadata, under its name in lower
 * case: one that makes a metadata key, not one the transport sets or gRPC
 * reserves (grpc-*; grpc-timeout is the deadline), not Proxy-*, not the protocol's
 * marker X-Grpc-Web, Accept or Accept-Encoding (which ask the gateway for
 * its answer's form), nor one the gateway sends its own of
 * (User-Agent, X-Forwarded-For, X-Forwarded-Host, X-Request-Id). */
int rp_metadata_web_request_key(const char *name, size_t len);

/* gRPC-Web: 1 if response metadata key[len] goes out as a header field (or
 * a line of the trailer frame) of that name: a metadata key that is not
 * grpc-* (but grpc-status-details-bin, the status's details) and not a
 * field that frames the answer or that the gateway writes. */
int rp_metadata_web_reply_key(const char *key, size_t len);

#endif /* RP_METADATA_H */
