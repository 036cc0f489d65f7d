/*
 * rp_tls.c -- reading and checking the TLS PEM files; see rp_tls.h.
 */
#include "rp_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rp_log.h"

char *rp_tls_read(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
    } else if (st.st_size > RP_TLS_MAX_FILE) {
        snprintf(err, errlen, "%s: larger than %d bytes", path, RP_TLS_MAX_FILE);
    } else if (!(buf = malloc((size_t)st.st_size + 1))) {
        snprintf(err, errlen, "%s: out of memory", path);
    } else {
        size_t got = 0;
        while (got < (size_t)st.st_size) {
            ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) : "shorter than "
                                                                                "its size");
                free(buf);
                buf = NULL;
                break;
            }
            got += (size_t)n;
        }
        if (buf)
            buf[got] = '\0';
    }
    close(fd);
    return buf;
}

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
static int check_certs(const char *pem, char *why, size_t whylen)
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
static int check_key(const char *pem, char *why, size_t whylen)
{
    EVP_PKEY *key = read_key(pem, why, whylen);
    EVP_PKEY_free(key);
    return key ? 0 : -1;
}

/* 0 if key is the private key of cert's first certificate. */
static int check_pair(const char *cert, const char *key, char *why, size_t whylen)
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

void rp_tls_warn_dates(const rp_config *cfg, const rp_tls_conf *conf, const rp_tls_pem *pem,
                       const char *key)
{
    char why[128];
    if (pem->cert && rp_tls_dates(pem->cert, why, sizeof(why)) < 0)
        rp_log("%s:%d: %s: %s: %s: peers that check it will refuse it", cfg->path,
               conf->cert_line, key, conf->cert, why);
}

int rp_tls_pem_load(const rp_config *cfg, const rp_tls_conf *conf, rp_tls_pem *pem, char *err,
                    size_t errlen)
{
    const char *paths[3] = {conf->cert, conf->key, conf->ca};
    const int lines[3] = {conf->cert_line, conf->key_line, conf->ca_line};
    char **slots[3] = {&pem->cert, &pem->key, &pem->ca};
    memset(pem, 0, sizeof(*pem));
    for (int i = 0; i < 3; i++) {
        if (!paths[i])
            continue;
        char why[512];
        *slots[i] = rp_tls_read(paths[i], why, sizeof(why));
        if (!*slots[i]) {
            snprintf(err, errlen, "%s:%d: %s%s%s", cfg->path, lines[i],
                     conf->names[i] ? conf->names[i] : "", conf->names[i] ? ": " : "", why);
            rp_tls_pem_free(pem);
            return -1;
        }
    }
    return 0;
}

void rp_tls_pem_free(rp_tls_pem *pem)
{
    if (pem->key) {
        explicit_bzero(pem->key, strlen(pem->key));
        free(pem->key);
    }
    free(pem->cert);
    free(pem->ca);
    memset(pem, 0, sizeof(*pem));
}

/* One endpoint: names of its keys in the INI, for the messages. */
static int check_one(const rp_config *cfg, const rp_tls_conf *conf, const char *cert_name,
                     const char *key_name, const char *ca_name, char *err, size_t errlen)
{
    rp_tls_pem pem;
    if (rp_tls_pem_load(cfg, conf, &pem, err, errlen) < 0)
        return -1;
    char why[512];
    const char *name = NULL, *path = NULL;
    int line = 0;
    if (pem.cert && check_certs(pem.cert, why, sizeof(why)) < 0)
        name = cert_name, path = conf->cert, line = conf->cert_line;
    else if (pem.key && check_key(pem.key, why, sizeof(why)) < 0)
        name = key_name, path = conf->key, line = conf->key_line;
    else if (pem.cert && pem.key && check_pair(pem.cert, pem.key, why, sizeof(why)) < 0)
        name = key_name, path = conf->key, line = conf->key_line;
    else if (pem.ca && check_certs(pem.ca, why, sizeof(why)) < 0)
        name = ca_name, path = conf->ca, line = conf->ca_line;
    rp_tls_pem_free(&pem);
    if (!name)
        return 0;
    snprintf(err, errlen, "%s:%d: %s: %s: %s", cfg->path, line, name, path, why);
    return -1;
}

int rp_tls_check(const rp_config *cfg, int which, char *err, size_t errlen)
{
    if ((which & RP_TLS_HOST) &&
        check_one(cfg, &cfg->host.tls, "cert", "key", "client_ca", err, errlen) < 0)
        return -1;
    if ((which & RP_TLS_GATEWAY) &&
        (check_one(cfg, &cfg->gateway.tls, "cert", "key", "", err, errlen) < 0 ||
         check_one(cfg, &cfg->gateway.upstream_tls, "upstream_cert", "upstream_key",
                   "upstream_ca", err, errlen) < 0))
        return -1;
    return 0;
}
