/*
 * gw_result.h -- how a step of a request's transcoding ends (decoding its
 * query and path, its headers into metadata, JSON to and from protobuf,
 * binding): one result for the whole request path.  A step that fails
 * writes a one-line reason; the value, never the reason's text (which may
 * hold what the client sent), says which failure it was.  gw_http.c and
 * gw_http_stream.c turn it into the answer (send_transcode_error and
 * start_call for a request, gw_http_send_result for a reply).
 */
#ifndef GW_RESULT_H
#define GW_RESULT_H

typedef enum gw_result {
    GW_OK = 0,
    GW_REFUSED = -1,   /* the input is refused: for a request, the client's fault
                        * (400, INVALID_ARGUMENT); for a reply the upstream sent,
                        * the caller's 500 (INTERNAL) */
    GW_NOMEM = -2,     /* the gateway ran out of memory on the way (500, INTERNAL),
                        * the reason ending in GW_ERR_OOM */
    GW_TOO_LARGE = -3  /* the request's headers make more metadata than the
                        * upstream takes (431, RESOURCE_EXHAUSTED) */
} gw_result;

/* The end of a GW_NOMEM reason ("field 'x': out of memory"). */
#define GW_ERR_OOM "out of memory"

#endif /* GW_RESULT_H */
