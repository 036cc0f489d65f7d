/*
 * rp_tls_openssl.c -- the PEM checks of rp_tls.h with OpenSSL's libcrypto,
 * which gRPC core loads anyway: rpcrestd's and the host's.
 */
#include "rp_tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The reason for OpenSSL's most recent error ("unknown" without one);
 * empties its error queue. */
const char *rp_tls_openssl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : "unknown";
}

/* A memory BIO reading pem (not copied). */
static BIO *pem_bio(const char *pem)
{
    return BIO_new_mem_buf(pem, (int)strlen(pem));
}

/* 0 if pem holds at least one certificate and nothing else that fails to
 * parse; else -1 with the reason. */
int rp_tls_check_certs(const char *pem, char *why, size_t whylen)
{
    BIO *bio = pem_bio(pem);
    if (!bio) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    ERR_clear_error();
    int n = 0;
    X509 *crt;
    while ((crt = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        X509_free(crt);
        n++;
    }
    /* the loop ends at the end of the text (no further PEM block) or at a
     * block that is not a certificate */
    unsigned long e = ERR_peek_last_error();
    int at_end = n > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
    BIO_free(bio);
    if (at_end) {
        ERR_clear_error();
        return 0;
    }
    int none = n == 0 && (!e || (ERR_GET_LIB(e) == ERR_LIB_PEM &&
                                 ERR_GET_REASON(e) == PEM_R_NO_START_LINE));
    snprintf(why, whylen, "not a PEM certificate (%s)",
             none ? "no BEGIN CERTIFICATE block" : rp_tls_openssl_reason());
    ERR_clear_error();
    return -1;
}

/* Refuses to ask for a passphrase (an encrypted key cannot be used), and
 * notes that one was asked for in *(int *)asked. */
static int no_passphrase(char *buf, int size, int rwflag, void *asked)
{
    (void)buf, (void)size, (void)rwflag;
    *(int *)asked = 1;
    return -1;
}

/* The private key in pem (NULL with the reason in why). */
static EVP_PKEY *read_key(const char *pem, char *why, size_t whylen)
{
    BIO *bio = pem_bio(pem);
    if (!bio) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    ERR_clear_error();
    int asked = 0;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &asked);
    BIO_free(bio);
    if (!key)
        snprintf(why, whylen, "not an unencrypted PEM private key (%s)",
                 asked                              ? "it is encrypted"
                 : !strstr(pem, "PRIVATE KEY-----") ? "no BEGIN PRIVATE KEY block"
                                                    : rp_tls_openssl_reason());
    ERR_clear_error();
    return key;
}

/* 0 if pem is an unencrypted private key; else -1 with the reason. */
int rp_tls_check_key(const char *pem, char *why, size_t whylen)
{
    EVP_PKEY *key = read_key(pem, why, whylen);
    EVP_PKEY_free(key);
    return key ? 0 : -1;
}

/* 0 if key is the private key of cert's first certificate. */
int rp_tls_check_pair(const char *cert, const char *key, char *why, size_t whylen)
{
    BIO *bio = pem_bio(cert);
    if (!bio) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    ERR_clear_error();
    X509 *crt = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    EVP_PKEY *pkey = crt ? read_key(key, why, whylen) : NULL;
    int rc = -1;
    if (!crt)
        snprintf(why, whylen, "not a PEM certificate (%s)", rp_tls_openssl_reason());
    else if (pkey && X509_check_private_key(crt, pkey) == 1)
        rc = 0;
    else if (pkey)
        snprintf(why, whylen, "the key does not match the certificate");
    ERR_clear_error();
    EVP_PKEY_free(pkey);
    X509_free(crt);
    return rc;
}

/* t as "2026-11-27 06:58:33 UTC" (OpenSSL's own form otherwise). */
static void asn1_time_text(const ASN1_TIME *t, char *out, size_t outlen)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(t, &tm) == 1)
        strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm);
    else
        snprintf(out, outlen, "(an unreadable date)");
}

int rp_tls_dates(const char *pem, char *why, size_t whylen)
{
    BIO *bio = pem_bio(pem);
    X509 *crt = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    if (!crt)
        return 0; /* rp_tls_check says what is wrong with it */
    int rc = 0;
    char when[64];
    if (X509_cmp_current_time(X509_get0_notAfter(crt)) < 0) {
        asn1_time_text(X509_get0_notAfter(crt), when, sizeof(when));
        snprintf(why, whylen, "expired on %s", when);
        rc = -1;
    } else if (X509_cmp_current_time(X509_get0_notBefore(crt)) > 0) {
        asn1_time_text(X509_get0_notBefore(crt), when, sizeof(when));
        snprintf(why, whylen, "not valid before %s", when);
        rc = -1;
    }
    X509_free(crt);
    return rc;
}
