/*
 * gw_https.c -- the GnuTLS check of the HTTPS certificate and key (see
 * gw_https.h).  Only checks: libmicrohttpd sets up the credentials it
 * serves with itself.
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>

#include "gw_https.h"

int gw_https_check(const char *cert, const char *key, char *err, size_t errlen)
{
    gnutls_certificate_credentials_t cred;
    int rc = gnutls_certificate_allocate_credentials(&cred);
    if (rc == GNUTLS_E_SUCCESS) {
        /* what libmicrohttpd calls with MHD_OPTION_HTTPS_MEM_CERT and _KEY;
         * the files are at most RP_TLS_MAX_FILE bytes */
        gnutls_datum_t c = {(unsigned char *)cert, (unsigned)strlen(cert)};
        gnutls_datum_t k = {(unsigned char *)key, (unsigned)strlen(key)};
        rc = gnutls_certificate_set_x509_key_mem(cred, &c, &k, GNUTLS_X509_FMT_PEM);
        gnutls_certificate_free_credentials(cred);
    }
    if (rc >= 0)
        return 0;
    if (rc == GNUTLS_E_MEMORY_ERROR) {
        snprintf(err, errlen, "GnuTLS: out of memory");
        return -ENOMEM;
    }
    /* rp_tls's check parsed them and matched the key: most likely an
     * algorithm GnuTLS does not have */
    snprintf(err, errlen, "GnuTLS, which serves HTTPS, refused the certificate and key (a "
             "curve or algorithm it does not take?): %s", gnutls_strerror(rc));
    return -EINVAL;
}
