/*
 * gw_https.h -- whether GnuTLS, which serves the gateway's HTTPS through
 * libmicrohttpd, takes [gateway] cert and key.  rp_tls's check (OpenSSL)
 * passes some that GnuTLS refuses (a brainpool curve, say), and
 * libmicrohttpd's start fails for other reasons too (out of descriptors)
 * with the same NULL: checked on their own, once, before any daemon
 * starts, a refusal is the certificate's fault and nothing else is.
 */
#ifndef GW_HTTPS_H
#define GW_HTTPS_H

#include <stddef.h>

/* Loads the PEM certificate chain `cert` and private key `key` into GnuTLS
 * credentials as libmicrohttpd does, and frees them.  Returns 0 if GnuTLS
 * takes them; -EINVAL if it refuses them (its reason in err[errlen]);
 * -ENOMEM if memory ran out (said in err). */
int gw_https_check(const char *cert, const char *key, char *err, size_t errlen);

#endif /* GW_HTTPS_H */
