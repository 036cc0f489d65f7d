/*
 * gw_access.h -- the gateway's access log ([gateway] access_log): one line
 * per request, text (key=value, free-form fields quoted and escaped) or
 * JSON, to stderr or a file.
 *
 * Lines are formatted on the request's thread into a shared buffer and
 * written in batches, outside the buffer's lock: by the thread that fills
 * the buffer past 16 KiB, or by a flusher thread within 200 ms.  A line is
 * never split between two writes.  The file is reopened by gw_access_reopen (SIGUSR1, for
 * logrotate).  Owns its fd, buffer and thread; knows nothing of HTTP.
 */
#ifndef GW_ACCESS_H
#define GW_ACCESS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct gw_access gw_access;

/* One request, as logged.  Strings are NUL-terminated; NULL prints as "-". */
typedef struct gw_access_entry {
    struct timespec start; /* CLOCK_REALTIME when the request's headers were in */
    const char *client;    /* the peer's IP address */
    const char *method;    /* the HTTP method */
    const char *path;      /* the path and query, as received (escaped here) */
    const char *grpc_method; /* "/pkg.Service/Method" it was routed to, or NULL */
    unsigned status;       /* HTTP status sent */
    int grpc_code;         /* gRPC status of the call or of the error body; -1: none */
    uint64_t bytes_in;     /* request body bytes */
    uint64_t bytes_out;    /* response body bytes */
    uint64_t duration_us;  /* headers in to response done */
    const char *request_id;
} gw_access_entry;

/*
 * Opens the log: `target` "-" is stderr, anything else a file path
 * (appended, created mode 0640).  `json`: one JSON object a line.  Returns
 * NULL with a reason in err[errlen].
 */
gw_access *gw_access_open(const char *target, int json, char *err, size_t errlen);

/* Formats and queues one line.  Thread-safe; never waits on the output for
 * longer than one batched write. */
void gw_access_log(gw_access *a, const gw_access_entry *e);

/* Writes what is queued and reopens the file (after logrotate's rename).
 * 0, or a negative errno with the old file kept.  A no-op for stderr. */
int gw_access_reopen(gw_access *a);

/* Writes what is queued, stops the flusher, closes. NULL is a no-op. */
void gw_access_close(gw_access *a);

/* One line into out[outlen] (with its newline and a NUL); returns its
 * length.  Each free-form field is bounded (the path to 4 KiB, ending in
 * "..." when longer), so 8 KiB always holds a whole line. */
size_t gw_access_format(const gw_access_entry *e, int json, char *out, size_t outlen);

#endif /* GW_ACCESS_H */
