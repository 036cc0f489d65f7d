/*
 * gw_tls_pem.c -- the PEM checks of rp_tls.h with GnuTLS, for the
 * gateway, whose TLS is GnuTLS's (libmicrohttpd's HTTPS, gw_h2's upstream
 * connections): the same answers as rp_tls_openssl.c in the same words,
 * GnuTLS's reason where OpenSSL's would be, and no OpenSSL loaded.
 */
#include "rp_tls.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static gnutls_datum_t datum_of(const char *pem)
{
    return (gnutls_datum_t){(unsigned char *)pem, (unsigned)strlen(pem)};
}

int rp_tls_check_certs(const char *pem, char *why, size_t whylen)
{
    gnutls_datum_t text = datum_of(pem);
    gnutls_x509_crt_t *list = NULL;
    unsigned n = 0;
    int rc = gnutls_x509_crt_list_import2(&list, &n, &text, GNUTLS_X509_FMT_PEM, 0);
    for (unsigned i = 0; rc >= 0 && i < n; i++)
        gnutls_x509_crt_deinit(list[i]);
    gnutls_free(list);
    if (rc >= 0 && n > 0)
        return 0;
    int block = strstr(pem, "-----BEGIN CERTIFICATE-----") ||
                strstr(pem, "-----BEGIN X509 CERTIFICATE-----");
    snprintf(why, whylen, "not a PEM certificate (%s)",
             !block ? "no BEGIN CERTIFICATE block"
                    : gnutls_strerror(rc < 0 ? rc : GNUTLS_E_NO_CERTIFICATE_FOUND));
    return -1;
}

/* The private key in pem, or NULL with the reason in why. */
static gnutls_x509_privkey_t read_key(const char *pem, char *why, size_t whylen)
{
    gnutls_x509_privkey_t key;
    if (gnutls_x509_privkey_init(&key) < 0) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    gnutls_datum_t text = datum_of(pem);
    int encrypted = strstr(pem, "ENCRYPTED PRIVATE KEY-----") ||
                    strstr(pem, "Proc-Type: 4,ENCRYPTED");
    int rc = encrypted ? GNUTLS_E_DECRYPTION_FAILED
                       : gnutls_x509_privkey_import2(key, &text, GNUTLS_X509_FMT_PEM, NULL,
                                                     GNUTLS_PKCS_PLAIN);
    if (rc >= 0)
        return key;
    gnutls_x509_privkey_deinit(key);
    snprintf(why, whylen, "not an unencrypted PEM private key (%s)",
             encrypted                          ? "it is encrypted"
             : !strstr(pem, "PRIVATE KEY-----") ? "no BEGIN PRIVATE KEY block"
                                                : gnutls_strerror(rc));
    return NULL;
}

int rp_tls_check_key(const char *pem, char *why, size_t whylen)
{
    gnutls_x509_privkey_t key = read_key(pem, why, whylen);
    if (!key)
        return -1;
    gnutls_x509_privkey_deinit(key);
    return 0;
}

/* cert's first certificate, or NULL with the reason in why. */
static gnutls_x509_crt_t first_cert(const char *pem, char *why, size_t whylen)
{
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    gnutls_datum_t text = datum_of(pem);
    int rc = gnutls_x509_crt_import(crt, &text, GNUTLS_X509_FMT_PEM);
    if (rc >= 0)
        return crt;
    gnutls_x509_crt_deinit(crt);
    snprintf(why, whylen, "not a PEM certificate (%s)", gnutls_strerror(rc));
    return NULL;
}

int rp_tls_check_pair(const char *cert, const char *key, char *why, size_t whylen)
{
    gnutls_x509_crt_t crt = first_cert(cert, why, whylen);
    gnutls_x509_privkey_t pkey = crt ? read_key(key, why, whylen) : NULL;
    int rc = -1;
    if (crt && pkey) {
        /* the same public key: the same key id (a hash of it) */
        unsigned char a[64], b[64];
        size_t alen = sizeof(a), blen = sizeof(b);
        if (gnutls_x509_crt_get_key_id(crt, 0, a, &alen) >= 0 &&
            gnutls_x509_privkey_get_key_id(pkey, 0, b, &blen) >= 0 && alen == blen &&
            memcmp(a, b, alen) == 0)
            rc = 0;
        else
            snprintf(why, whylen, "the key does not match the certificate");
    }
    if (pkey)
        gnutls_x509_privkey_deinit(pkey);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    return rc;
}

/* t as "2026-11-27 06:58:33 UTC". */
static void time_text(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    if (t != (time_t)-1 && gmtime_r(&t, &tm))
        strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm);
    else
        snprintf(out, outlen, "(an unreadable date)");
}

int rp_tls_dates(const char *pem, char *why, size_t whylen)
{
    char ignored[64];
    gnutls_x509_crt_t crt = first_cert(pem, ignored, sizeof(ignored));
    if (!crt)
        return 0; /* rp_tls_check says what is wrong with it */
    time_t now = time(NULL), until = gnutls_x509_crt_get_expiration_time(crt),
           from = gnutls_x509_crt_get_activation_time(crt);
    int rc = 0;
    char when[64];
    if (until != (time_t)-1 && until < now) {
        time_text(until, when, sizeof(when));
        snprintf(why, whylen, "expired on %s", when);
        rc = -1;
    } else if (from != (time_t)-1 && from > now) {
        time_text(from, when, sizeof(when));
        snprintf(why, whylen, "not valid before %s", when);
        rc = -1;
    }
    gnutls_x509_crt_deinit(crt);
    return rc;
}
