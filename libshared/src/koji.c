/* koji.c — Koji hub XML-RPC calls and the operator-manifests archive download.
 *
 * A qs_koji holds the hub URL, the top directory URL (trailing slashes removed, so joined
 * URLs have exactly one '/' — the original's `//packages/` is not reproduced) and a qs_http
 * client with the configured retries. qs_koji_call encodes the call with xmlrpc.c, POSTs it
 * as text/xml, and decodes the answer; a non-200 status after retries is QS_EUNAVAIL, a fault
 * or garbage QS_EPROTO. getBuild's nil answer is "not found". The archive helpers follow
 * reference/omps.md §A.10: typeinfo first, then the legacy key through getBuildLogs. Path
 * components taken from the hub are checked (no '/', no '..') before they go into a URL.
 * qs_koji_download streams with qs_http_stream_* into an O_EXCL file, enforcing the byte
 * limit both on Content-Length and on what actually arrives, and unlinks the file on any
 * failure, so a caller never sees a partial archive. */
#include "shared/koji.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/buf.h"
#include "shared/common.h"
#include "shared/http_client.h"
#include "shared/xmlrpc.h"

struct qs_koji {
    char *hub;
    char *root;
    long timeout_ms;
    qs_http *http;
};

static char *strip_slashes(const char *s) {
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        n--;
    return strndup(s, n);
}

static bool http_url(const char *u) {
    return u && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) && strlen(u) > 8;
}

qs_koji *qs_koji_new(const qs_koji_opts *opts, char *err, size_t errlen) {
    if (!http_url(opts->hub_url) || !http_url(opts->root_url)) {
        snprintf(err, errlen, "koji: hub and root URLs must be http(s) URLs");
        return NULL;
    }
    qs_koji *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errlen, "koji: out of memory");
        return NULL;
    }
    k->hub = strdup(opts->hub_url);
    k->root = strip_slashes(opts->root_url);
    k->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 60000;
    qs_http_opts ho = QS_HTTP_OPTS_INIT;
    ho.timeout_ms = k->timeout_ms;
    if (opts->max_attempts > 0)
        ho.max_attempts = opts->max_attempts;
    if (opts->backoff_base_ms > 0)
        ho.backoff_base_ms = opts->backoff_base_ms;
    ho.ca_file = opts->ca_file;
    ho.max_response = QS_XMLRPC_MAX_SIZE;
    k->http = qs_http_new(&ho);
    if (!k->hub || !k->root || !k->http) {
        snprintf(err, errlen, "koji: cannot create the client");
        qs_koji_free(k);
        return NULL;
    }
    return k;
}

void qs_koji_free(qs_koji *k) {
    if (!k)
        return;
    qs_http_free(k->http);
    free(k->hub);
    free(k->root);
    free(k);
}

int qs_koji_call(qs_koji *k, const char *method, const json_t *params, json_t **result,
                 long *fault_code, char *err, size_t errlen) {
    *result = NULL;
    if (fault_code)
        *fault_code = 0;
    qs_buf body = QS_BUF_INIT;
    int rc = qs_xmlrpc_encode_call(method, params, &body);
    if (rc != 0) {
        snprintf(err, errlen, "koji %s: cannot encode the call (%s)", method, qs_strerror(rc));
        qs_buf_free(&body);
        return rc;
    }
    static const char *const headers[] = {"Content-Type: text/xml", "Accept: text/xml", NULL};
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.method = "POST";
    req.url = k->hub;
    req.headers = headers;
    req.body = body.data;
    req.body_len = body.len;
    qs_http_resp resp = {0};
    rc = qs_http_do(k->http, &req, &resp);
    qs_buf_free(&body);
    if (rc != 0) {
        snprintf(err, errlen, "koji %s: %s%s%s", method, qs_strerror(rc), resp.error[0] ? ": " : "",
                 resp.error);
        qs_http_resp_free(&resp);
        return rc == QS_ETOOBIG ? QS_EPROTO : QS_EUNAVAIL;
    }
    if (resp.status != 200) {
        snprintf(err, errlen, "koji %s: hub answered HTTP %ld after %d attempt(s)", method,
                 resp.status, resp.attempts);
        qs_http_resp_free(&resp);
        return QS_EUNAVAIL;
    }
    qs_xmlrpc_fault fault;
    char perr[256] = "";
    rc = qs_xmlrpc_decode_response(resp.body.data ? resp.body.data : "", resp.body.len, result,
                                   &fault, perr, sizeof perr);
    qs_http_resp_free(&resp);
    if (rc == QS_XMLRPC_FAULT) {
        if (fault_code)
            *fault_code = fault.code;
        snprintf(err, errlen, "koji %s: fault %ld: %s", method, fault.code, fault.message);
        return QS_EPROTO;
    }
    if (rc != 0) {
        snprintf(err, errlen, "koji %s: bad answer: %s", method, perr);
        return rc == QS_ENOMEM ? QS_ENOMEM : QS_EPROTO;
    }
    return 0;
}

int qs_koji_get_build(qs_koji *k, const char *nvr, json_t **build, char *err, size_t errlen) {
    *build = NULL;
    json_t *params = json_pack("[s]", nvr ? nvr : "");
    if (!params) {
        snprintf(err, errlen, "koji getBuild: the NVR is not valid UTF-8");
        return QS_EINVAL;
    }
    json_t *r = NULL;
    int rc = qs_koji_call(k, "getBuild", params, &r, NULL, err, errlen);
    json_decref(params);
    if (rc != 0)
        return rc;
    if (json_is_null(r)) {
        json_decref(r);
        snprintf(err, errlen, "NVR not found: %s", nvr);
        return QS_ENOTFOUND;
    }
    if (!json_is_object(r)) {
        json_decref(r);
        snprintf(err, errlen, "koji getBuild: the answer is not a struct");
        return QS_EPROTO;
    }
    *build = r;
    return 0;
}

int qs_koji_get_build_logs(qs_koji *k, long long build_id, json_t **logs, char *err,
                           size_t errlen) {
    *logs = NULL;
    json_t *params = json_pack("[I]", (json_int_t)build_id);
    json_t *r = NULL;
    int rc = params ? qs_koji_call(k, "getBuildLogs", params, &r, NULL, err, errlen) : QS_ENOMEM;
    json_decref(params);
    if (rc != 0)
        return rc;
    if (!json_is_array(r)) {
        json_decref(r);
        snprintf(err, errlen, "koji getBuildLogs: the answer is not an array");
        return QS_EPROTO;
    }
    *logs = r;
    return 0;
}

int qs_koji_api_version(qs_koji *k, long long *version, char *err, size_t errlen) {
    json_t *r = NULL;
    int rc = qs_koji_call(k, "getAPIVersion", NULL, &r, NULL, err, errlen);
    if (rc != 0)
        return rc;
    if (!json_is_integer(r)) {
        json_decref(r);
        snprintf(err, errlen, "koji getAPIVersion: the answer is not an integer");
        return QS_EPROTO;
    }
    *version = (long long)json_integer_value(r);
    json_decref(r);
    return 0;
}

int qs_koji_archive_name(const json_t *build, const char **name, bool *legacy) {
    const json_t *extra = json_object_get(build, "extra");
    const json_t *a = json_object_get(
        json_object_get(json_object_get(extra, "typeinfo"), "operator-manifests"), "archive");
    if (json_is_string(a) && json_string_length(a) > 0) {
        *name = json_string_value(a);
        *legacy = false;
        return 0;
    }
    a = json_object_get(extra, "operator_manifests_archive");
    if (json_is_string(a) && json_string_length(a) > 0) {
        *name = json_string_value(a);
        *legacy = true;
        return 0;
    }
    return QS_EINVAL;
}

/* A single path component that is safe to put into a URL path. */
static bool safe_component(const char *s) {
    if (!s || !*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == '/' || *p == '\\' || *p <= 0x20 || *p == 0x7f || *p == '?' || *p == '#' ||
            *p == '%')
            return false;
    return true;
}

/* A relative path (several components) that is safe: no '..', no empty component. */
static bool safe_path(const char *s) {
    if (!s || !*s || *s == '/')
        return false;
    char *copy = strdup(s), *save = NULL;
    if (!copy)
        return false;
    bool ok = s[strlen(s) - 1] != '/' && !strstr(s, "//");
    for (char *c = strtok_r(copy, "/", &save); ok && c; c = strtok_r(NULL, "/", &save))
        ok = safe_component(c);
    free(copy);
    return ok;
}

char *qs_koji_build_file_url(const char *root_url, const json_t *build, const char *archive) {
    const char *name = json_string_value(json_object_get(build, "name"));
    const char *version = json_string_value(json_object_get(build, "version"));
    const char *release = json_string_value(json_object_get(build, "release"));
    const char *volume = json_string_value(json_object_get(build, "volume_name"));
    if (!safe_component(name) || !safe_component(version) || !safe_component(release) ||
        !safe_component(archive) || (volume && !safe_component(volume)))
        return NULL;
    qs_buf b = QS_BUF_INIT;
    size_t n = strlen(root_url);
    while (n > 0 && root_url[n - 1] == '/')
        n--;
    qs_buf_append(&b, root_url, n);
    if (volume && strcmp(volume, "DEFAULT") != 0)
        qs_buf_printf(&b, "/vol/%s", volume);
    if (qs_buf_printf(&b, "/packages/%s/%s/%s/files/operator-manifests/%s", name, version, release,
                      archive) != 0) {
        qs_buf_free(&b);
        return NULL;
    }
    return qs_buf_steal(&b);
}

int qs_koji_archive_url(qs_koji *k, const json_t *build, char **url, char *err, size_t errlen) {
    *url = NULL;
    const char *archive = NULL;
    bool legacy = false;
    const char *nvr = json_string_value(json_object_get(build, "nvr"));
    if (qs_koji_archive_name(build, &archive, &legacy) != 0) {
        snprintf(err, errlen, "Not an operator image: %s", nvr ? nvr : "?");
        return QS_EINVAL;
    }
    if (!legacy) {
        *url = qs_koji_build_file_url(k->root, build, archive);
        if (!*url) {
            snprintf(err, errlen, "koji: build %s lacks a safe name/version/release/archive",
                     nvr ? nvr : "?");
            return QS_EPROTO;
        }
        return 0;
    }
    const json_t *id = json_object_get(build, "build_id");
    if (!json_is_integer(id))
        id = json_object_get(build, "id");
    if (!json_is_integer(id)) {
        snprintf(err, errlen, "koji: build %s has no build_id", nvr ? nvr : "?");
        return QS_EPROTO;
    }
    json_t *logs = NULL;
    int rc = qs_koji_get_build_logs(k, (long long)json_integer_value(id), &logs, err, errlen);
    if (rc != 0)
        return rc;
    size_t i;
    const json_t *log;
    const char *path = NULL;
    json_array_foreach(logs, i, log) {
        const char *lname = json_string_value(json_object_get(log, "name"));
        if (lname && strcmp(lname, archive) == 0) {
            path = json_string_value(json_object_get(log, "path"));
            break;
        }
    }
    if (!path) {
        snprintf(err, errlen, "Expected archive '%s' with manifests not found in build: %s",
                 archive, nvr ? nvr : "?");
        json_decref(logs);
        return QS_ENOTFOUND;
    }
    while (*path == '/')
        path++;
    if (!safe_path(path)) {
        snprintf(err, errlen, "koji: unsafe log path for archive '%s'", archive);
        json_decref(logs);
        return QS_EPROTO;
    }
    qs_buf b = QS_BUF_INIT;
    rc = qs_buf_printf(&b, "%s/%s", k->root, path);
    json_decref(logs);
    if (rc != 0) {
        qs_buf_free(&b);
        return QS_ENOMEM;
    }
    *url = qs_buf_steal(&b);
    return 0;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int qs_koji_download(qs_koji *k, const char *url, const char *path, int64_t max_bytes,
                     int64_t *written, char *err, size_t errlen) {
    if (written)
        *written = 0;
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url;
    req.timeout_ms = -1; /* as the original: no overall timeout; the stall timeout applies */
    qs_http_stream *s = NULL;
    char serr[256] = "";
    if (qs_http_stream_open(k->http, &req, &s, serr, sizeof serr) != 0) {
        snprintf(err, errlen, "download failed: %s", serr);
        return QS_EUNAVAIL;
    }
    long st = qs_http_stream_status(s);
    if (st != 200) {
        snprintf(err, errlen, "%ld %s for url: %s", st,
                 st == 404 ? "Client Error: Not Found" : (st >= 500 ? "Server Error" : "Error"),
                 url);
        qs_http_stream_close(s);
        return st == 404 ? QS_ENOTFOUND : QS_EUNAVAIL;
    }
    int64_t clen = qs_http_stream_length(s);
    if (max_bytes > 0 && clen > max_bytes) {
        snprintf(err, errlen, "archive is %lld bytes, more than the limit of %lld", (long long)clen,
                 (long long)max_bytes);
        qs_http_stream_close(s);
        return QS_ETOOBIG;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        qs_http_stream_close(s);
        return QS_ERR;
    }
    int rc = 0;
    int64_t total = 0;
    char *buf = malloc(65536);
    if (!buf)
        rc = QS_ENOMEM;
    while (rc == 0) {
        ssize_t n = qs_http_stream_read(s, buf, 65536);
        if (n == 0)
            break;
        if (n < 0) {
            snprintf(err, errlen, "download failed: %s", qs_http_stream_error(s));
            rc = QS_EUNAVAIL;
            break;
        }
        total += n;
        if (max_bytes > 0 && total > max_bytes) {
            snprintf(err, errlen, "archive is more than the limit of %lld bytes",
                     (long long)max_bytes);
            rc = QS_ETOOBIG;
            break;
        }
        if (write_all(fd, buf, (size_t)n) != 0) {
            snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
            rc = QS_ERR;
        }
    }
    free(buf);
    qs_http_stream_close(s);
    if (close(fd) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        rc = QS_ERR;
    }
    if (rc == 0 && clen >= 0 && total != clen) {
        snprintf(err, errlen, "download truncated: %lld of %lld bytes", (long long)total,
                 (long long)clen);
        rc = QS_EUNAVAIL;
    }
    if (rc != 0) {
        unlink(path);
        return rc;
    }
    if (written)
        *written = total;
    return 0;
}
