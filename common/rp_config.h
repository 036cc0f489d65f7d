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
#define RP_EX_USAGE 64  /* sysexits.h EX_USAGE: exit status for bad arguments */

/* [supervisor] control_socket when the INI has none: this name, next to the INI. */
#define RP_CONTROL_SOCKET_NAME "rpcrestd.sock"

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

/* PEM files for one TLS endpoint (absolute paths, NULL when not set) and
 * the lines that set them (for rp_tls's FILE:LINE messages). */
typedef struct rp_tls_conf {
    char *cert;
    int cert_line;
    char *key;
    int key_line;
    char *ca;
    int ca_line;
    const char *names[3]; /* the INI keys of cert, key and ca, for messages (static) */
} rp_tls_conf;

/* When rpcrestd starts a child again after its process ended. */
typedef enum rp_restart {
    RP_RESTART_ALWAYS,     /* whatever the exit */
    RP_RESTART_ON_FAILURE, /* unless it exited with status 0 */
    RP_RESTART_NEVER,
} rp_restart;

/* The children rpcrestd runs, in start order. */
enum { RP_CHILD_HOST, RP_CHILD_GATEWAY, RP_N_CHILDREN };

/* How rpcrestd runs one child: the [supervisor] values, each overridable in
 * [host] or [gateway] (rp_config_is_policy_key). */
typedef struct rp_child_policy {
    rp_restart restart;
    double backoff_initial;    /* seconds before the first restart after a fast failure */
    double backoff_max;        /* seconds: the cap of the growing delay */
    double backoff_multiplier; /* each fast failure multiplies the delay by this */
    double backoff_jitter;     /* 0..1: each delay is scaled by a random factor in [1-j, 1+j] */
    double start_seconds;      /* ready and up this long: a good start (backoff starts over) */
    int start_retries;         /* this many fast failures in a row: FATAL; 0 = no limit */
    double ready_timeout;      /* seconds from start to READY, else it is restarted */
    double stop_timeout;       /* seconds: SIGTERM to SIGKILL */
} rp_child_policy;

/* One "key = value" line as read, for comparing two versions of the file. */
typedef struct rp_raw_key {
    char *section;
    char *key;
    char *value;
    int line;
} rp_raw_key;

typedef struct rp_config {
    char *path; /* the INI file, absolute */
    char *dir;  /* its folder, absolute */
    char *text; /* the bytes this config was read from (text_len of them) */
    size_t text_len;

    struct {
        double stop_timeout; /* seconds: SIGTERM to SIGKILL ([supervisor]'s own value) */
        rp_child_policy child[RP_N_CHILDREN]; /* effective, by RP_CHILD_* */
        char *control_socket; /* absolute path of rpcrestctl's unix socket */
        int control_socket_line; /* 0 when it is the default */
        char *log_file;       /* absolute path, or NULL: stderr */
        char *user;           /* the children run as this user (rp_priv.h), or NULL */
        int user_line;
        unsigned uid;         /* user's */
        char *group;          /* ... and this group: NULL = the user's own */
        int group_line;
        unsigned gid;         /* group's, else user's primary group */
    } supervisor;

    struct {
        char *listen; /* "127.0.0.1:5505", "[::1]:5505" or "unix:/abs/path" */
        int threads;  /* completion-queue threads; 0 = one per CPU */
        size_t max_message_bytes;   /* larger requests get RESOURCE_EXHAUSTED */
        int max_concurrent_streams; /* per HTTP/2 connection */
        double drain_timeout;       /* seconds in-flight calls get after SIGTERM */
        double min_ping_interval;   /* seconds: a client's HTTP/2 PINGs closer together
                                     * than this are strikes; the third ends the
                                     * connection (gRPC core's policy) */
        int ping_without_calls;     /* that interval holds on a connection without
                                     * calls too (else 2 hours) */
        double max_connection_idle; /* seconds a connection may go without calls
                                     * before GOAWAY; 0 = off (no limit) */
        double max_connection_age;  /* seconds after which a connection gets GOAWAY;
                                     * 0 = off (no limit) */
        double max_connection_age_grace; /* seconds its calls then get before it is
                                          * closed; -1 = off (no limit) */
        char *private_listen; /* the gateway's own unix socket: NULL = the default path
                               * (rp_private.h), "off", or "unix:/abs/path" */
        rp_tls_conf tls;      /* TLS on listen: cert, key, and ca = client_ca (mTLS) */
        char *metrics_listen; /* GET /metrics on "IP:PORT", or NULL: none */
    } host;

    struct {
        char *listen;          /* "127.0.0.1:8080" or "[::1]:8080" */
        char *upstream;        /* gRPC target; NULL: the [host] listen address */
        double timeout;        /* seconds: deadline of a call without Grpc-Timeout */
        double max_timeout;    /* seconds: the most a Grpc-Timeout header may ask */
        size_t max_body_bytes; /* larger request bodies get 413 */
        int threads;           /* HTTP threads; 0 = one per CPU */
        int connection_timeout; /* seconds: a connection idle or stalled this long is closed */
        int max_connections;   /* HTTP connections at once; more are closed at accept */
        int busy_poll_us;      /* with one connection open, poll this long before sleeping */
        int ignore_unknown_query_parameters;
        int json_ignore_unknown_fields;
        int json_emit_defaults;
        int json_proto_names;
        int json_enum_numbers;
        int auto_map;          /* POST /pkg.Service/Method for unannotated methods */
        int docs;              /* GET /openapi.json and the console at /docs; by default
                                * on for a loopback listen address, off otherwise */
        char *openapi_title;   /* the OpenAPI document's info.title; NULL: "rpcrest" */
        char *openapi_version; /* its info.version; NULL: "1" */
        char **descriptors;    /* FileDescriptorSet files, absolute */
        size_t n_descriptors;
        char **cors_origins;   /* origins whose browsers may call (CORS), exactly as sent in
                                * Origin; NULL: none unless cors_any */
        size_t n_cors_origins;
        int cors_any;          /* cors_origins = *: any origin */
        int cors_origins_line;
        int cors_allow_credentials; /* Access-Control-Allow-Credentials: true */
        int cors_max_age;      /* seconds a browser may keep a preflight's answer */
        int gzip;              /* gzip answers for clients that take it */
        int grpc_web;          /* also serve gRPC-Web (browsers' gRPC) */
        char *status_metadata; /* the reply metadata key whose value is the HTTP status
                                * of a successful answer (lower case), or NULL */
        char **forward_headers; /* request headers sent on as metadata as they are */
        size_t n_forward_headers;
        char **reply_headers;  /* response metadata sent as these plain headers (as spelt) */
        size_t n_reply_headers;
        char **services;       /* expose only these services (NULL: all) */
        size_t n_services;
        int services_line;
        rp_tls_conf tls;      /* HTTPS on listen: cert and key (ca unused) */
        rp_tls_conf upstream_tls; /* to the upstream: ca = upstream_ca, and the client
                                   * cert = upstream_cert, key = upstream_key (mTLS) */
        char *upstream_name;  /* the name the upstream's certificate must carry, instead
                               * of the target's host; NULL: the target's */
        int upstream_name_line;
        double upstream_dns_interval; /* seconds: the least time between two resolutions
                                       * of an upstream named by DNS */
        int metrics;           /* GET /metrics on the HTTP listener */
        char *access_log;      /* NULL: off; "-": stderr; else an absolute path */
        int access_log_json;   /* access_log_format = json */
    } gateway;

    rp_service_conf *services;
    size_t n_services;

    rp_raw_key *raw; /* every key as read, in file order */
    size_t n_raw;
} rp_config;

/* 1 if the configuration runs the gateway alone, in front of another
 * upstream ([gateway] upstream and no [service.*]): there is no host. */
static inline int rp_config_gateway_alone(const rp_config *cfg)
{
    return cfg->n_services == 0 && cfg->gateway.upstream != NULL;
}

/*
 * Reads and validates `path`.  On success returns a config the caller frees
 * with rp_config_free.  On failure returns NULL and writes one line,
 * "FILE:LINE: what is wrong" (LINE omitted when the file cannot be read),
 * into err[errlen].
 */
rp_config *rp_config_load(const char *path, char *err, size_t errlen);

/*
 * The value of [section] key in the INI at `path` (the last, if the key is
 * there more than once), read as rp_config_load reads the file but not
 * checked: for a file that may have an error elsewhere.  Returns 0 with a
 * copy in *value that the caller frees, NULL when the key is not there;
 * -1 with "FILE: what is wrong" in err[errlen] when the file cannot be
 * read (not a regular file, a FIFO among them; unreadable; too large).
 */
int rp_config_raw_value(const char *path, const char *section, const char *key, char **value,
                        char *err, size_t errlen);

/* The longest INI file read: a larger one is refused. */
#define RP_CONFIG_MAX_BYTES (4u << 20)

/* The longest line of an INI file, in bytes without its newline: a longer
 * one is a FILE:LINE error. */
#define RP_CONFIG_MAX_LINE (64u << 10)

/*
 * rpcrestd starts its children on the text of the configuration it runs
 * (rp_config_memfd), not on the file, which may have been edited since:
 * after a reload it refused, a child that restarts still gets the
 * configuration in force.  The child finds the fd in this variable.
 */
#define RP_CONFIG_FD_ENV "RPCREST_CONFIG_FD"

/* A sealed memfd holding cfg->text, for a child; the caller closes it.
 * -1 with errno set on failure. */
int rp_config_memfd(const rp_config *cfg);

/*
 * A child's configuration: the text rpcrestd gave in RP_CONFIG_FD_ENV (the
 * fd is closed and the variable cleared), read as the file at `path`,
 * which must be absolute (relative paths in it are taken from path's
 * folder, and errors name path); without the variable, rp_config_load.
 */
rp_config *rp_config_load_given(const char *path, char *err, size_t errlen);

void rp_config_free(rp_config *cfg);

/* The line of [section] key in cfg's file, or 0 if the key is not in it. */
int rp_config_key_line(const rp_config *cfg, const char *section, const char *key);

/* Where an error about [section] key points, in out[outlen]: "FILE:LINE",
 * or "FILE" for a key left at its default. */
void rp_config_where(const rp_config *cfg, const char *section, const char *key, char *out,
                     size_t outlen);

/* 1 if a TCP listen address is on the loopback interface (127.0.0.0/8,
 * ::1, localhost), else 0. */
int rp_config_is_loopback(const char *listen);

/* 1 if `key` is one of rp_child_policy's keys (restart, backoff_*,
 * start_seconds, start_retries, ready_timeout, stop_timeout), which [host]
 * and [gateway] may set to override [supervisor]. */
int rp_config_is_policy_key(const char *key);

/* "always", "on-failure", "never". */
const char *rp_config_restart_name(rp_restart restart);

/* The gRPC target the gateway calls: [gateway] upstream, else the [host]
 * listen address, in out[outlen]. */
void rp_config_gateway_target(const rp_config *cfg, char *out, size_t outlen);

/* The gRPC target string for a [host] listen address ("ipv4:…", "ipv6:…",
 * "unix:…"), in out[outlen]. */
void rp_config_grpc_target(const char *listen, char *out, size_t outlen);

#endif /* RP_CONFIG_H */
