/*
 * rp_tls_ssl.c -- whether OpenSSL's TLS library, as gRPC core uses it on the
 * host's port, takes a certificate chain and key: its security level
 * (Debian's openssl.cnf sets 2) refuses keys and signatures that are too
 * weak (RSA under 2048 bits, SHA-1), which the PEM checks of rp_tls.c do
 * not see.  Kept apart from rp_tls.c so that only the host links libssl
 * for it.
 */
#include "rp_tls_ssl.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

#include "rp_tls.h"

/* Puts pem's certificates into ctx: the first as the server's, the rest as
 * its chain.  Returns 0, or -1 with the reason in why[whylen]. */
static int use_chain(SSL_CTX *ctx, const char *pem, char *why, size_t whylen)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)strlen(pem));
    int rc = bio ? 0 : -1;
    for (int i = 0; rc == 0; i++) {
        X509 *crt = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (!crt)
            break; /* the end (rp_tls.c has checked the text) */
        int ok = i == 0 ? SSL_CTX_use_certificate(ctx, crt) : SSL_CTX_add1_chain_cert(ctx, crt);
        if (ok != 1) {
            snprintf(why, whylen, "%s certificate: %s", i == 0 ? "the" : "a chain",
                     rp_tls_openssl_reason());
            rc = -1;
        }
        X509_free(crt);
    }
    if (!bio)
        snprintf(why, whylen, "out of memory");
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

int rp_tls_ssl_accepts(const char *cert, const char *key, char *why, size_t whylen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(why, whylen, "cannot make a TLS context (%s)", rp_tls_openssl_reason());
        return -1;
    }
    int rc = use_chain(ctx, cert, why, whylen);
    if (rc == 0) {
        BIO *bio = BIO_new_mem_buf(key, (int)strlen(key));
        EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
        if (!pkey || SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
            snprintf(why, whylen, "the key: %s", rp_tls_openssl_reason());
            rc = -1;
        }
        EVP_PKEY_free(pkey);
        BIO_free(bio);
    }
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return rc;
}
