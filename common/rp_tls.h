/*
 * rp_tls.h -- the PEM files of the TLS keys ([host] cert/key/client_ca,
 * [gateway] cert/key/upstream_ca/upstream_cert/upstream_key): reading them
 * and checking, before anything listens, that each is what its key says
 * (a certificate, a private key that matches it, a CA bundle).
 *
 * The checks are a TLS library's, the one of the program that serves the
 * files: OpenSSL's libcrypto for rpcrestd and the host (gRPC core, which
 * the host loads anyway, is built on it; common/rp_tls_openssl.c), GnuTLS
 * for the gateway (libmicrohttpd's and its HTTP/2 client's TLS, so the
 * gateway loads no OpenSSL; gateway/gw_tls_pem.c, linked into the gateway
 * before this library).  The programs hand the PEM text to the library
 * that does the TLS.  Owns no state.
 */
#ifndef RP_TLS_H
#define RP_TLS_H

#include <stddef.h>

#include "rp_config.h"

#define RP_TLS_MAX_FILE (1 << 20) /* a PEM file larger than 1 MiB is refused */

/*
 * Reads `path` (at most RP_TLS_MAX_FILE bytes) into a NUL-terminated
 * buffer the caller frees.  Returns NULL with "PATH: why" in err[errlen].
 */
char *rp_tls_read(const char *path, char *err, size_t errlen);

/* OpenSSL's reason for its last error ("ee key too small", "unknown" when
 * it has none); the error queue is cleared.  (rp_tls_openssl.c) */
const char *rp_tls_openssl_reason(void);

/* The checks, each 0 or -1 with the reason in why[whylen]: pem holds at
 * least one certificate ("not a PEM certificate (…)"); an unencrypted
 * private key ("not an unencrypted PEM private key (…)"); key is the
 * private key of cert's first certificate ("the key does not match the
 * certificate"). */
int rp_tls_check_certs(const char *pem, char *why, size_t whylen);
int rp_tls_check_key(const char *pem, char *why, size_t whylen);
int rp_tls_check_pair(const char *cert, const char *key, char *why, size_t whylen);

/* Whose TLS files rp_tls_check reads: each program only its own keys. */
enum { RP_TLS_HOST = 1, RP_TLS_GATEWAY = 2, RP_TLS_ALL = 3 };

/*
 * Checks the TLS files of cfg's [host] (RP_TLS_HOST), [gateway]
 * (RP_TLS_GATEWAY: HTTPS and upstream) or both (rpcrestd): readable, PEM,
 * of the right kind, each key matching its certificate.  Returns 0, or -1
 * with "FILE:LINE: KEY: PATH: what is wrong" in err[errlen].
 */
int rp_tls_check(const rp_config *cfg, int which, char *err, size_t errlen);

/*
 * 0 if the first certificate in `pem` is valid now; else -1 with "expired
 * on DATE" or "not valid before DATE" in why[whylen] (a warning to log:
 * clocks differ, and a renewed file may be on its way).
 */
int rp_tls_dates(const char *pem, char *why, size_t whylen);


/* The PEM text of one endpoint's files (NULL where not set); free with
 * rp_tls_pem_free. */
typedef struct rp_tls_pem {
    char *cert;
    char *key;
    char *ca;
} rp_tls_pem;

/* Reads conf's files into pem.  Returns 0, or -1 with "FILE:LINE: ..." in
 * err[errlen] (cfg names the INI). */
int rp_tls_pem_load(const rp_config *cfg, const rp_tls_conf *conf, rp_tls_pem *pem, char *err,
                    size_t errlen);

/* Frees the texts (the key is wiped first). */
void rp_tls_pem_free(rp_tls_pem *pem);

/* Logs "FILE:LINE: KEY: PATH: expired on DATE ..." when pem's certificate
 * (the file conf->cert names, at key `key` of the INI) is not valid now. */
void rp_tls_warn_dates(const rp_config *cfg, const rp_tls_conf *conf, const rp_tls_pem *pem,
                       const char *key);

#endif /* RP_TLS_H */
