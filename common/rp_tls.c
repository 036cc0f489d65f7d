/*
 * rp_tls.c -- reading and checking the TLS PEM files; see rp_tls.h.
 */
#include "rp_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static gnutls_datum_t datum(const char *pem)
{
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)};
    return d;
}

/* 0 if pem holds at least one certificate; else -1 with the reason. */
static int check_certs(const char *pem, char *why, size_t whylen)
{
    gnutls_datum_t d = datum(pem);
    gnutls_x509_crt_t *crts = NULL;
    unsigned n = 0;
    int rc = gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || n == 0) {
        snprintf(why, whylen, "not a PEM certificate (%s)",
                 rc < 0 ? gnutls_strerror(rc) : "none found");
        return -1;
    }
    for (unsigned i = 0; i < n; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    return 0;
}

/* 0 if pem is an unencrypted private key; else -1 with the reason. */
static int check_key(const char *pem, char *why, size_t whylen)
{
    gnutls_datum_t d = datum(pem);
    gnutls_x509_privkey_t key;
    if (gnutls_x509_privkey_init(&key) < 0) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    int rc = gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_x509_privkey_deinit(key);
    if (rc < 0) {
        snprintf(why, whylen, "not an unencrypted PEM private key (%s)", gnutls_strerror(rc));
        return -1;
    }
    return 0;
}

/* 0 if key is the private key of cert's first certificate. */
static int check_pair(const char *cert, const char *key, char *why, size_t whylen)
{
    gnutls_certificate_credentials_t cred;
    if (gnutls_certificate_allocate_credentials(&cred) < 0) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    gnutls_datum_t c = datum(cert), k = datum(key);
    int rc = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_certificate_free_credentials(cred);
    if (rc < 0) {
        snprintf(why, whylen, "%s", rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH
                                        ? "the key does not match the certificate"
                                        : gnutls_strerror(rc));
        return -1;
    }
    return 0;
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
            snprintf(err, errlen, "%s:%d: %s", cfg->path, lines[i], why);
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
