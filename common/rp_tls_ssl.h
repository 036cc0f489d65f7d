/*
 * rp_tls_ssl.h -- whether OpenSSL's TLS library takes a certificate chain
 * and key (its security level) before gRPC core is handed them.
 */
#ifndef RP_TLS_SSL_H
#define RP_TLS_SSL_H

#include <stddef.h>

/* 0 if a TLS server context takes cert (PEM: the certificate, then its
 * chain) and key (PEM); else -1 with OpenSSL's reason in why[whylen]
 * ("the certificate: ee key too small", "a chain certificate: ca md too
 * weak"). */
int rp_tls_ssl_accepts(const char *cert, const char *key, char *why, size_t whylen);

#endif /* RP_TLS_SSL_H */
