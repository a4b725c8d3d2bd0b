/* ca.c — CA_URL at start: download the certificate, make sure it is one (OpenSSL parses every
 * PEM block), and build a CA bundle file = the system bundle + it, because libcurl's CAINFO
 * replaces the default bundle instead of adding to it. Any failure stops the start: a service
 * that silently ignored its CA would fail every Quay or Koji call later with a TLS error. */
#include "omps/ca.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/common.h"
#include "shared/http_client.h"

#define CA_MAX ((size_t)1 << 20)

int omps_ca_check_pem(const char *pem, size_t len, char *err, size_t errlen) {
    if (!pem || len == 0 || !memmem(pem, len, "-----BEGIN CERTIFICATE-----", 27)) {
        snprintf(err, errlen, "no PEM certificate (-----BEGIN CERTIFICATE-----) in it");
        return QS_EINVAL;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    int count = 0, rc = QS_OK;
    while (bio) {
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (!x)
            break;
        X509_free(x);
        count++;
    }
    unsigned long e = ERR_peek_last_error();
    /* the loop ends with "no start line" at the end of the data; anything else is a bad block */
    if (!bio || count == 0 || (e && ERR_GET_REASON(e) != PEM_R_NO_START_LINE)) {
        snprintf(err, errlen, "not a valid PEM certificate (%s)",
                 e ? ERR_reason_error_string(e) : "no certificate");
        rc = QS_EINVAL;
    }
    ERR_clear_error();
    BIO_free(bio);
    return rc;
}

/* The system bundle libcurl would use, or NULL. */
static const char *system_bundle(void) {
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    static const char *const known[] = {"/etc/ssl/certs/ca-certificates.crt",
                                        "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"};
    if (v && v->cainfo && access(v->cainfo, R_OK) == 0)
        return v->cainfo;
    for (size_t i = 0; i < QS_ARRAY_LEN(known); i++)
        if (access(known[i], R_OK) == 0)
            return known[i];
    return NULL;
}

static int write_bundle(const char *path, const char *pem, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!out) {
        if (fd >= 0)
            close(fd);
        return QS_ERR;
    }
    bool ok = true;
    const char *sys = system_bundle();
    FILE *in = sys ? fopen(sys, "r") : NULL;
    char buf[16384];
    size_t n;
    while (in && ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    if (in)
        fclose(in);
    ok = ok && fputs("\n", out) >= 0 && fwrite(pem, 1, len, out) == len && fputs("\n", out) >= 0;
    if (fclose(out) != 0)
        ok = false;
    return ok ? QS_OK : QS_ERR;
}

int omps_ca_install(const char *url, const char *tmp_dir, char **bundle_path, char *err,
                    size_t errlen) {
    *bundle_path = NULL;
    qs_http_opts ho = QS_HTTP_OPTS_INIT;
    ho.max_response = CA_MAX;
    ho.timeout_ms = 30000;
    qs_http *h = qs_http_new(&ho);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url;
    qs_http_resp resp = {0};
    int rc = h ? qs_http_do(h, &req, &resp) : QS_ENOMEM;
    if (rc != QS_OK || resp.status != 200) {
        snprintf(err, errlen, "CA_URL %s: cannot fetch the certificate: %s", url,
                 rc != QS_OK ? (resp.error[0] ? resp.error : qs_strerror(rc)) : "HTTP status");
        if (rc == QS_OK)
            snprintf(err + strlen(err), errlen - strlen(err), " %ld", resp.status);
        rc = QS_EUNAVAIL;
    } else if ((rc = omps_ca_check_pem(resp.body.data, resp.body.len, err, errlen)) != QS_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errlen, "CA_URL %s: %s", url, why);
    } else {
        const char *base = tmp_dir ? tmp_dir : getenv("TMPDIR");
        char dir[512];
        snprintf(dir, sizeof dir, "%s/omps-ca-XXXXXX", base && *base ? base : "/tmp");
        char *path = mkdtemp(dir) ? malloc(strlen(dir) + 16) : NULL;
        if (path) {
            sprintf(path, "%s/ca-bundle.pem", dir);
            rc = write_bundle(path, resp.body.data, resp.body.len);
        } else {
            rc = QS_ERR;
        }
        if (rc != QS_OK) {
            snprintf(err, errlen, "CA_URL: cannot write the CA bundle under %s: %s", dir,
                     strerror(errno));
            omps_ca_remove(path);
        } else {
            *bundle_path = path;
        }
    }
    qs_http_resp_free(&resp);
    qs_http_free(h);
    return rc;
}

void omps_ca_remove(char *bundle_path) {
    if (!bundle_path)
        return;
    unlink(bundle_path);
    rmdir(dirname(bundle_path)); /* dirname writes into the string: it is ours */
    free(bundle_path);
}
