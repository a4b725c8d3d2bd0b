/* api.c — the omps HTTP API, as OMPS 11.2's Flask blueprints (reference/omps.md §A.2):
 *
 *   POST   /v1/<org>/<repo>/zipfile[/<version>]   multipart field "file" (a .zip)
 *   POST   /v1/<org>/<repo>/koji/<nvr>[/<version>]
 *   POST   /v2/<org>/zipfile[/<version>]          v2: repository = the packageName
 *   POST   /v2/<org>/koji/<nvr>[/<version>]
 *   DELETE /v1|v2/<org>/<repo>[/<version>]        one release or all of them
 *   GET    /v1|v2/health/ping                     Quay, Koji (and Greenwave) reachable? 200/503
 *   GET    /v1|v2/about                           {"version","operatorcourier"}
 *
 * Every push and delete first needs an Authorization header (403
 * OMPSAuthorizationHeaderRequired before anything else is looked at), which is forwarded to
 * Quay verbatim and never logged. Pushes and deletes take one of WORKERS_NUM slots (others
 * wait). A push works in a private directory per request: the upload or the Koji download
 * (followed, when Greenwave is configured, by its decision on the build), then the extraction
 * (zip_check: limits, traversal, symlinks, bombs), then push.c; the directory is removed whatever
 * happens. Errors are OMPS's JSON with its ids (errors.c). */
#include "omps/api.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "omps/errors.h"
#include "omps/greenwave.h"
#include "omps/koji_source.h"
#include "omps/packages.h"
#include "omps/push.h"
#include "omps/zip_check.h"
#include "shared/common.h"
#include "shared/log.h"
#include "shared/multipart.h"
#include "shared/quay_appr.h"

#define OMPS_VERSION "11.2"
#define COURIER_VERSION "2.1.10"
#define NAME_MAX_LEN 255
#define NVR_MAX_LEN 512
#define SMALL_BODY (64 * 1024)

bool omps_api_name_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > NAME_MAX_LEN || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* A URL segment taken as is (a version to delete, an NVR): printable ASCII, no '/'. */
static bool segment_ok(const char *s, size_t max) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] >= 127 || s[i] == '/')
            return false;
    return true;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Answer `body` (taken) with its keys sorted, as Flask's jsonify did (§A.1). */
static void respond(qs_req *r, int status, json_t *body) {
    char *text = omps_json_text(body);
    json_decref(body);
    if (text)
        qs_respond(r, status, "application/json", text, strlen(text));
    else
        qs_respond_error(r, 500, OMPS_E_INTERNAL, "could not encode the response");
    free(text);
}

/* Answer with the error (logged without secrets) or the body. */
static void answer(qs_req *r, json_t *body, omps_error *e) {
    if (e->status) {
        qs_log(e->status >= 500 ? QS_LOG_ERROR : QS_LOG_INFO, "request failed", "path",
               qs_req_path(r), "error", e->id, "message", e->message, NULL);
        json_decref(body);
        respond(r, e->status, omps_error_json(e));
    } else {
        respond(r, 200, body);
    }
    omps_error_clear(e);
}

bool omps_api_auth_ok(const char *v) {
    for (const unsigned char *p = (const unsigned char *)v; p && *p; p++)
        if ((*p < ' ' && *p != '\t') || *p == 127)
            return false;
    return v != NULL;
}

/* The checks every push and delete starts with, in the original's order: the header first. */
static const char *preflight(qs_req *r, const char *org, const char *repo, omps_error *e) {
    const char *auth = qs_req_header(r, "Authorization");
    if (!auth) {
        omps_error_set(e, 403, OMPS_E_AUTH_HEADER, "Request contains no 'Authorization' header");
        return NULL;
    }
    if (!omps_api_auth_ok(auth)) { /* it goes to Quay as a header line: no CR/LF smuggling */
        omps_error_set(e, 400, OMPS_E_BAD_REQUEST,
                       "The 'Authorization' header contains control characters");
        return NULL;
    }
    if (!omps_api_name_ok(org) || (repo && !omps_api_name_ok(repo))) {
        omps_error_set(e, 400, OMPS_E_BAD_REQUEST,
                       "Invalid %s name: it must be 1 to %d characters of A-Z a-z 0-9 . _ -",
                       omps_api_name_ok(org) ? "repository" : "organization", NAME_MAX_LEN);
        return NULL;
    }
    return auth;
}

/* ---- extraction ---- */

static int extract(omps_service *svc, const char *zip_path, const char *workdir,
                   uint64_t max_file_size, zip_check_result *z, omps_error *e) {
    zip_check_limits lim = ZIP_CHECK_LIMITS_INIT;
    lim.max_uncompressed = (uint64_t)svc->s->max_uncompressed;
    lim.max_file_size = max_file_size;
    zip_check_error ze = {0};
    zip_check_code code = zip_check_extract(zip_path, workdir, &lim, z, &ze);
    if (code == ZIP_CHECK_OK)
        return QS_OK;
    qs_metric_add(svc->m_zip_rejected, 1, zip_check_code_name(code));
    omps_error_zip(e, &ze);
    return QS_EINVAL;
}

/* The uploaded "file" field to <workdir>/upload.zip, with OMPS's form checks. */
static int save_upload(qs_req *r, const char *workdir, char *path, size_t cap, omps_error *e) {
    size_t len = 0;
    const char *body = qs_req_body(r, &len);
    const char *ctype = qs_req_header(r, "Content-Type");
    qs_part *parts = NULL;
    size_t n = 0;
    char why[256] = "";
    const qs_part *file = NULL;
    char *boundary = ctype ? qs_multipart_boundary(ctype) : NULL;
    if (boundary && qs_multipart_parse(ctype, body, len, &parts, &n, why, sizeof why) == QS_OK)
        file = qs_multipart_get(parts, n, "file");
    free(boundary);
    zip_check_error ze = {0};
    int rc = QS_EINVAL;
    zip_check_code zc = zip_check_filename_ok(file ? file->filename : NULL, &ze);
    if (zc != ZIP_CHECK_OK || !file) {
        omps_error_zip(e, &ze);
        if (why[0] && ze.code == ZIP_CHECK_NO_FIELD)
            snprintf(e->message + strlen(e->message), sizeof e->message - strlen(e->message),
                     " (the body is not valid multipart/form-data: %s)", why);
    } else {
        snprintf(path, cap, "%s/upload.zip", workdir);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        bool ok = fd >= 0;
        for (size_t off = 0; ok && off < file->len;) {
            ssize_t w = write(fd, file->data + off, file->len - off);
            if (w < 0 && errno == EINTR)
                continue;
            ok = w > 0;
            off += ok ? (size_t)w : 0;
        }
        if (fd >= 0 && close(fd) != 0)
            ok = false;
        if (ok)
            rc = QS_OK;
        else
            omps_error_set(e, 500, OMPS_E_INTERNAL, "cannot store the upload");
    }
    qs_multipart_free(parts, n);
    return rc;
}

/* ---- pushes ---- */

typedef struct {
    const char *org, *repo, *version, *nvr;
} push_args;

static void push(qs_req *r, omps_service *svc, const push_args *a) {
    double t0 = now_s();
    const char *source = a->nvr ? "koji" : "zipfile";
    omps_error e = {0};
    json_t *out = NULL;
    const char *auth = preflight(r, a->org, a->repo, &e);
    if (auth && a->nvr && !segment_ok(a->nvr, NVR_MAX_LEN))
        omps_error_set(&e, 400, OMPS_E_BAD_REQUEST, "Invalid NVR");
    if (e.status) {
        qs_metric_add(svc->m_pushes, 1, source, e.id);
        answer(r, NULL, &e);
        return;
    }
    sem_wait(&svc->workers);
    char workdir[512] = "", zip_path[600] = "";
    zip_check_result z = {0};
    int rc = omps_workdir_new(svc, workdir, sizeof workdir);
    if (rc != QS_OK) {
        workdir[0] = '\0';
        omps_error_set(&e, 500, OMPS_E_INTERNAL, "cannot create a working directory");
    } else if (a->nvr) {
        snprintf(zip_path, sizeof zip_path, "%s/koji-archive.zip", workdir);
        /* a stored (uncompressed) archive is about as large as its content */
        int64_t cap = svc->s->max_uncompressed + ((int64_t)1 << 20);
        if (cap < svc->s->max_content_length)
            cap = svc->s->max_content_length;
        rc = omps_koji_fetch(svc->koji, a->nvr, zip_path, cap, &e);
        /* download first, so a missing NVR fails alike with or without Greenwave (44869ca) */
        if (rc == QS_OK && omps_greenwave_enabled(&svc->s->file.greenwave))
            rc = omps_greenwave_check(&svc->s->file.greenwave, svc->quay, a->nvr, &e);
        if (rc == QS_OK)
            rc = extract(svc, zip_path, workdir, (uint64_t)cap, &z, &e);
    } else {
        rc = save_upload(r, workdir, zip_path, sizeof zip_path, &e);
        if (rc == QS_OK)
            rc = extract(svc, zip_path, workdir, (uint64_t)svc->s->max_content_length, &z, &e);
    }
    if (rc == QS_OK) {
        omps_push_req pr = {a->org, a->repo, a->version, auth, source, a->nvr};
        omps_push_extracted(svc, &pr, &z, &out, &e);
    }
    zip_check_release(&z);
    omps_workdir_remove(workdir);
    sem_post(&svc->workers);
    qs_metric_add(svc->m_pushes, 1, source, e.status ? e.id : "ok");
    qs_metric_observe(svc->m_push_seconds, now_s() - t0, source);
    answer(r, out, &e);
}

static void h_zip_v1(qs_req *r, void *ctx) {
    push_args a = {qs_req_param(r, "org"), qs_req_param(r, "repo"), qs_req_param(r, "version"),
                   NULL};
    push(r, ctx, &a);
}

static void h_zip_v2(qs_req *r, void *ctx) {
    push_args a = {qs_req_param(r, "org"), NULL, qs_req_param(r, "version"), NULL};
    push(r, ctx, &a);
}

static void h_koji_v1(qs_req *r, void *ctx) {
    push_args a = {qs_req_param(r, "org"), qs_req_param(r, "repo"), qs_req_param(r, "version"),
                   qs_req_param(r, "nvr")};
    push(r, ctx, &a);
}

static void h_koji_v2(qs_req *r, void *ctx) {
    push_args a = {qs_req_param(r, "org"), NULL, qs_req_param(r, "version"),
                   qs_req_param(r, "nvr")};
    push(r, ctx, &a);
}

/* ---- delete ---- */

static void h_delete(qs_req *r, void *ctx) {
    omps_service *svc = ctx;
    const char *org = qs_req_param(r, "org"), *repo = qs_req_param(r, "repo");
    const char *version = qs_req_param(r, "version");
    omps_error e = {0};
    json_t *out = NULL;
    const char *auth = preflight(r, org, repo, &e);
    if (auth && version && !segment_ok(version, 128))
        omps_error_set(&e, 400, OMPS_E_BAD_REQUEST, "Invalid version");
    if (!e.status) {
        sem_wait(&svc->workers);
        omps_delete_releases(svc, org, repo, version, auth, &out, &e);
        sem_post(&svc->workers);
    }
    qs_metric_add(svc->m_deletes, 1, e.status ? e.id : "ok");
    answer(r, out, &e);
}

/* ---- health and about ---- */

static json_t *service_state(int rc, const char *why) {
    return json_pack("{s:b,s:s}", "ok", rc == QS_OK, "details", rc == QS_OK ? "It works!" : why);
}

static void h_ping(qs_req *r, void *ctx) {
    omps_service *svc = ctx;
    char version[128] = "", why[700] = "", url[1100];
    qs_appr_error ae = {0};
    int qrc = qs_appr_version(svc->quay_health, svc->s->quay_url, version, sizeof version, &ae);
    if (qrc != QS_OK) {
        snprintf(url, sizeof url, "%s/cnr/version", svc->s->quay_url);
        omps_http_error_text(ae.status, ae.message, url, why, sizeof why);
    }
    qs_appr_error_clear(&ae);
    json_t *quay = service_state(qrc, why);
    long long api = 0;
    char kwhy[512] = "";
    int krc = qs_koji_api_version(svc->koji_health, &api, kwhy, sizeof kwhy);
    json_t *koji = service_state(krc, kwhy);
    const omps_greenwave_conf *gw = &svc->s->file.greenwave;
    int grc = QS_OK;
    json_t *greenwave = json_null();
    if (omps_greenwave_enabled(gw)) {
        char gwhy[700] = "";
        grc = omps_greenwave_version(gw, svc->quay_health, NULL, 0, gwhy, sizeof gwhy);
        greenwave = service_state(grc, gwhy);
    }
    bool ok = qrc == QS_OK && krc == QS_OK && grc == QS_OK;
    int status = ok ? 200 : 503;
    respond(r, status,
            json_pack("{s:b,s:i,s:{s:o,s:o,s:o}}", "ok", ok, "status", status, "services", "koji",
                      koji, "quay", quay, "greenwave", greenwave));
}

static void h_about(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    respond(r, 200,
            json_pack("{s:s,s:s}", "version", OMPS_VERSION, "operatorcourier", COURIER_VERSION));
}

size_t omps_api_routes(omps_service *svc, qs_route *out, size_t max) {
    size_t upload = (size_t)svc->s->max_content_length;
    const qs_route routes[] = {
        {"GET", "/v1/health/ping", h_ping, svc, 0},
        {"GET", "/v2/health/ping", h_ping, svc, 0},
        {"GET", "/v1/about", h_about, svc, 0},
        {"GET", "/v2/about", h_about, svc, 0},
        {"POST", "/v1/{org}/{repo}/zipfile", h_zip_v1, svc, upload},
        {"POST", "/v1/{org}/{repo}/zipfile/{version}", h_zip_v1, svc, upload},
        {"POST", "/v1/{org}/{repo}/koji/{nvr}", h_koji_v1, svc, SMALL_BODY},
        {"POST", "/v1/{org}/{repo}/koji/{nvr}/{version}", h_koji_v1, svc, SMALL_BODY},
        {"POST", "/v2/{org}/zipfile", h_zip_v2, svc, upload},
        {"POST", "/v2/{org}/zipfile/{version}", h_zip_v2, svc, upload},
        {"POST", "/v2/{org}/koji/{nvr}", h_koji_v2, svc, SMALL_BODY},
        {"POST", "/v2/{org}/koji/{nvr}/{version}", h_koji_v2, svc, SMALL_BODY},
        {"DELETE", "/v1/{org}/{repo}", h_delete, svc, SMALL_BODY},
        {"DELETE", "/v1/{org}/{repo}/{version}", h_delete, svc, SMALL_BODY},
        {"DELETE", "/v2/{org}/{repo}", h_delete, svc, SMALL_BODY},
        {"DELETE", "/v2/{org}/{repo}/{version}", h_delete, svc, SMALL_BODY},
    };
    size_t n = QS_ARRAY_LEN(routes) < max ? QS_ARRAY_LEN(routes) : max;
    memcpy(out, routes, n * sizeof *routes);
    return n;
}
