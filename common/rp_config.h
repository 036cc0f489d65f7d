/*
 * rp_config.h -- conf/rpcrest.ini, read once into a validated struct.
 *
 * Shared by rpcrestd, rpcrest-host and rpcrest-gateway so that all three
 * agree on every value.  Owns parsing (inih), defaults, validation and path
 * resolution (relative paths resolve against the INI file's own folder).
 * Errors come back as one "FILE:LINE: what is wrong" line.
 */
#ifndef RP_CONFIG_H
#define RP_CONFIG_H

#include <stddef.h>

#define RP_EX_CONFIG 78 /* sysexits.h EX_CONFIG: exit status for a bad config */

/* A key of a plugin's own: passed to its init() untouched. */
typedef struct rp_setting {
    char *key;
    char *value;
    int line;
} rp_setting;

typedef struct rp_service_conf {
    char *name;        /* NAME of [service.NAME] */
    int line;          /* line of the section header */
    char *plugin;      /* absolute path of the .so */
    int plugin_line;
    char *descriptors; /* absolute path of a FileDescriptorSet, or NULL */
    int descriptors_line;
    rp_setting *settings;
    size_t n_settings;
} rp_service_conf;

typedef struct rp_config {
    char *path; /* the INI file, absolute */
    char *dir;  /* its folder, absolute */

    struct {
        double stop_timeout; /* seconds: SIGTERM to SIGKILL */
    } supervisor;

    struct {
        char *listen; /* "127.0.0.1:5505", "[::1]:5505" or "unix:/abs/path" */
        int threads;  /* completion-queue threads; 0 = one per CPU */
        size_t max_message_bytes;   /* larger requests get RESOURCE_EXHAUSTED */
        int max_concurrent_streams; /* per HTTP/2 connection */
        double drain_timeout;       /* seconds in-flight calls get after SIGTERM */
    } host;

    struct {
        char *listen;          /* "127.0.0.1:8080" or "[::1]:8080" */
        char *upstream;        /* gRPC target; NULL: the [host] listen address */
        double timeout;        /* seconds: deadline of a call without Grpc-Timeout */
        double max_timeout;    /* seconds: the most a Grpc-Timeout header may ask */
        size_t max_body_bytes; /* larger request bodies get 413 */
        int threads;           /* HTTP threads; 0 = one per CPU */
        int ignore_unknown_query_parameters;
        int json_ignore_unknown_fields;
        int json_emit_defaults;
        int json_proto_names;
    } gateway;

    rp_service_conf *services;
    size_t n_services;
} rp_config;

/*
 * Reads and validates `path`.  On success returns a config the caller frees
 * with rp_config_free.  On failure returns NULL and writes one line,
 * "FILE:LINE: what is wrong" (LINE omitted when the file cannot be read),
 * into err[errlen].
 */
rp_config *rp_config_load(const char *path, char *err, size_t errlen);

void rp_config_free(rp_config *cfg);

/*
 * Splits "HOST:PORT", "[V6]:PORT" into host[hostlen] (brackets removed) and
 * *port.  Returns 0, or -1 if the address has no valid port.
 */
int rp_config_split_hostport(const char *addr, char *host, size_t hostlen, int *port);

/* The gRPC target the gateway calls: [gateway] upstream, else the [host]
 * listen address, in out[outlen]. */
void rp_config_gateway_target(const rp_config *cfg, char *out, size_t outlen);

/* The gRPC target string for a [host] listen address ("ipv4:…", "ipv6:…",
 * "unix:…"), in out[outlen]. */
void rp_config_grpc_target(const char *listen, char *out, size_t outlen);

#endif /* RP_CONFIG_H */
