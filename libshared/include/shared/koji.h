/* koji.h — the few Koji hub calls OMPS makes, and the operator-manifests archive download.
 *
 * Anonymous XML-RPC to the hub URL (KOJIHUB_URL) through libshared's http_client (retries on
 * transport errors, 5xx and 429); files from the top directory URL (KOJIROOT_URL).
 * The archive of a build is found as reference/omps.md §A.10 and §F.5 describe:
 * extra.typeinfo["operator-manifests"].archive (files/operator-manifests/ under the build's
 * directory), else the legacy extra.operator_manifests_archive located through
 * getBuildLogs(build_id). Error codes map onto OMPS's error ids:
 *   qs_koji_get_build       QS_ENOTFOUND        → KojiNVRBuildNotFound (404)
 *   qs_koji_archive_name    QS_EINVAL           → KojiNotAnOperatorImage (400)
 *   qs_koji_archive_url     QS_ENOTFOUND        → KojiManifestsArchiveNotFound (500)
 *   qs_koji_download        anything            → KojiError (500)
 * and QS_EUNAVAIL (hub unreachable / 5xx after retries) or QS_EPROTO (an XML-RPC fault or an
 * answer that is not XML-RPC) for the calls themselves. */
#ifndef QS_KOJI_H
#define QS_KOJI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *hub_url;  /* e.g. https://koji.fedoraproject.org/kojihub (required) */
    const char *root_url; /* e.g. https://kojipkgs.fedoraproject.org/ (required) */
    long timeout_ms;      /* per hub call (REQUEST_TIMEOUT); 0 = 60000. Downloads have none,
                             only the client's stall timeout */
    int max_attempts;     /* hub calls and download start; 0 = 4 */
    long backoff_base_ms; /* 0 = 200 */
    const char *ca_file;  /* extra CA bundle, NULL = system */
} qs_koji_opts;

#define QS_KOJI_OPTS_INIT                                                                          \
    { NULL, NULL, 0, 0, 0, NULL }

typedef struct qs_koji qs_koji;

/** NULL + message when a URL is missing or not http(s). */
qs_koji *qs_koji_new(const qs_koji_opts *opts, char *err, size_t errlen);
void qs_koji_free(qs_koji *k);

/** Any hub method: `params` a JSON array or NULL. 0 with *result (new reference); QS_EPROTO
 *  with *fault_code set (when non-NULL; 0 when not a fault) for an XML-RPC fault or a
 *  malformed answer; QS_EUNAVAIL; QS_ENOMEM. err gets a message without secrets. */
int qs_koji_call(qs_koji *k, const char *method, const json_t *params, json_t **result,
                 long *fault_code, char *err, size_t errlen);
/** getBuild(nvr): 0 with the build object, QS_ENOTFOUND when the hub answers nil. */
int qs_koji_get_build(qs_koji *k, const char *nvr, json_t **build, char *err, size_t errlen);
/** getBuildLogs(build_id): 0 with the array of {"name","dir","path"}. */
int qs_koji_get_build_logs(qs_koji *k, long long build_id, json_t **logs, char *err, size_t errlen);
/** getAPIVersion(). */
int qs_koji_api_version(qs_koji *k, long long *version, char *err, size_t errlen);

/** The operator-manifests archive file name of a build: typeinfo first (*legacy = false),
 *  then the legacy key (*legacy = true). Pointer into `build`. QS_EINVAL when neither is a
 *  non-empty string ("not an operator image"). Pure. */
int qs_koji_archive_name(const json_t *build, const char **name, bool *legacy);
/** The current-layout URL: <root>/packages/<name>/<version>/<release>/files/operator-manifests/
 *  <archive> (with /vol/<volume_name> before /packages when the volume is not DEFAULT).
 *  Malloc'd, or NULL when a component is missing or unsafe (empty, '/', '..'). Pure. */
char *qs_koji_build_file_url(const char *root_url, const json_t *build, const char *archive);
/** The archive URL of a build, either layout (legacy → getBuildLogs entry named like the
 *  archive, URL = <root>/<path>). 0 with *url (malloc'd); QS_EINVAL not an operator image;
 *  QS_ENOTFOUND the legacy archive is not among the logs; QS_EPROTO a build without the
 *  needed fields; hub errors as qs_koji_call. */
int qs_koji_archive_url(qs_koji *k, const json_t *build, char **url, char *err, size_t errlen);

/** Stream `url` into a new file at `path` (0600, replacing nothing: O_EXCL). At most
 *  `max_bytes` (0 = no limit); *written (may be NULL) gets the size. QS_ETOOBIG over the
 *  limit (by Content-Length or while streaming), QS_ENOTFOUND on 404, QS_EUNAVAIL on other
 *  statuses or transport errors, QS_ERR on a local I/O error. On any failure the partial
 *  file is removed. */
int qs_koji_download(qs_koji *k, const char *url, const char *path, int64_t max_bytes,
                     int64_t *written, char *err, size_t errlen);

#endif
