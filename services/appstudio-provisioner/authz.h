/* authz.h — who may call the provisioner's API for a workspace. */
#ifndef PROV_AUTHZ_H
#define PROV_AUTHZ_H

#include <stddef.h>

#include "shared/kube.h"

typedef struct prov_authz prov_authz;

typedef enum {
    PROV_AUTHZ_OK = 0,
    PROV_AUTHZ_MISSING,     /* no bearer token (→ 401) */
    PROV_AUTHZ_INVALID,     /* the cluster does not know the token (→ 401) */
    PROV_AUTHZ_DENIED,      /* authenticated, but may not create Secrets there (→ 403) */
    PROV_AUTHZ_UNAVAILABLE, /* the cluster could not answer (→ 503) */
} prov_authz_result;

/** `kube` (borrowed) reviews cluster tokens; `api_token_file` (NULL = none) holds the
 *  platform's token, re-read when it changes; verdicts are cached `ttl_s` seconds. */
prov_authz *prov_authz_new(qs_kube *kube, const char *api_token_file, double ttl_s);
void prov_authz_free(prov_authz *a);

/** May the caller with this Authorization header act on `namespace_`? The platform token
 *  always may; a cluster token needs a TokenReview and a SubjectAccessReview allowing
 *  `create secrets` (core API group) in the namespace. `who` gets the user name ("platform"
 *  for the platform token) for logs. */
prov_authz_result prov_authz_check(prov_authz *a, const char *authorization, const char *namespace_,
                                   char *who, size_t wholen);

#endif
