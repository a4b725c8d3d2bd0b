/* kube.h — the few Kubernetes/OpenShift API calls quayside makes.
 *
 * Connection: an explicit API URL, bearer token file and CA file, or — when no URL is given —
 * the in-cluster service account (KUBERNETES_SERVICE_HOST/PORT and the files under
 * /var/run/secrets/kubernetes.io/serviceaccount/). The token file is re-read when it changes
 * (bound service account tokens rotate). */
#ifndef QS_KUBE_H
#define QS_KUBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "shared/http_client.h"

typedef struct {
    const char *api_url;    /* NULL = in-cluster */
    const char *token_file; /* NULL = in-cluster default (or none with an explicit URL) */
    const char *ca_file;    /* NULL = in-cluster default (or system CAs with an explicit URL) */
    long timeout_ms;        /* per call; default 10000 */
} qs_kube_opts;

#define QS_KUBE_OPTS_INIT                                                                          \
    { NULL, NULL, NULL, 10000 }

typedef struct qs_kube qs_kube;

/** NULL + message when in-cluster settings are missing. */
qs_kube *qs_kube_new(const qs_kube_opts *opts, char *err, size_t errlen);
void qs_kube_free(qs_kube *k);
/** The API base URL in use. */
const char *qs_kube_url(const qs_kube *k);

typedef struct {
    bool authenticated;
    char *username; /* status.user.username */
    char *uid;
    char **groups; /* status.user.groups */
    size_t ngroups;
} qs_token_review;

/** POST /apis/authentication.k8s.io/v1/tokenreviews for `token`. Returns 0 with the result
 *  (authenticated may be false), or QS_EUNAVAIL when the cluster could not answer (transport
 *  error, 5xx, 429 after retries, or an answer that is not a TokenReview) — callers must not
 *  treat that as "denied". */
int qs_kube_token_review(qs_kube *k, const char *token, qs_token_review *out);
void qs_token_review_free(qs_token_review *tr);

typedef struct {
    const char *user;
    const char *const *groups;
    size_t ngroups;
    const char *namespace_;
    const char *group; /* API group, e.g. "image.openshift.io" */
    const char *version;
    const char *resource;
    const char *subresource;
    const char *verb;
    const char *name;
} qs_sar;

/** POST /apis/authorization.k8s.io/v1/subjectaccessreviews. 0 with *allowed, or
 *  QS_EUNAVAIL as for token reviews. */
int qs_kube_sar(qs_kube *k, const qs_sar *sar, bool *allowed);

/** A generic call for the service-specific resources (image streams, secrets):
 *  method, path ("/apis/..."), optional JSON body (borrowed). On 0 *status and *out (the
 *  parsed JSON answer or NULL). QS_EUNAVAIL on transport errors/5xx after retries. */
int qs_kube_call(qs_kube *k, const char *method, const char *path, const json_t *body, long *status,
                 json_t **out);

#endif
