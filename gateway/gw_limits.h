/*
 * gw_limits.h -- the limits of the gateway's calls to the upstream
 * (gw_h2.c: the API's, /healthz's, discovery's) and of its connections.
 */
#ifndef GW_LIMITS_H
#define GW_LIMITS_H

/* The largest reply message taken from the upstream. */
#define GW_REPLY_MAX_BYTES (64 << 20)

/* A reply's metadata, initial and trailing each, counted as HPACK counts
 * (name + value + 32 per entry): far above what an HTTP answer has room
 * for (gw_http_metadata_room), so that the room decides (502). */
#define GW_REPLY_METADATA_MAX_BYTES (1 << 20)

/* A TCP upstream that takes nothing sent to it for this long is gone: its
 * calls fail (UNAVAILABLE) and the connection is made again, instead of
 * each call waiting out its deadline while TCP retries. */
#define GW_UPSTREAM_DEAD_AFTER_MS 20000

/* Reconnecting to an upstream that refused or dropped the connection: the
 * first wait, doubled after each failure up to the second. */
#define GW_RECONNECT_BACKOFF_MIN_MS 100
#define GW_RECONNECT_BACKOFF_MAX_MS 1000

/* The status of the calls a stopping gateway still has when its grace is
 * over: UNAVAILABLE, which clients retry (elsewhere), not CANCELLED, which
 * says the client gave up. */
#define GW_STOPPING_MESSAGE "the gateway is stopping"

#endif /* GW_LIMITS_H */
