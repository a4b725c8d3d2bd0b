/* authn.h — who the client is: logins at /v2/auth and the proxy's own tokens. */
#ifndef PROXY_AUTHN_H
#define PROXY_AUTHN_H

#include <time.h>

#include "proxy/config.h"
#include "shared/kube.h"

typedef struct proxy_authn proxy_authn;

typedef enum {
    AUTHN_OK = 0,
    AUTHN_MISSING,     /* no credentials (→ 401 challenge) */
    AUTHN_DENIED,      /* wrong credentials, expired token, SAR denied (→ 401 challenge) */
    AUTHN_UNAVAILABLE, /* the cluster could not answer (→ 503) */
    AUTHN_INTERNAL     /* secrets unreadable (→ 500 without details) */
} authn_result;

typedef struct {
    char *token;        /* the proxy's JWT (malloc'd) */
    long expires_in;    /* seconds */
    char issued_at[32]; /* RFC 3339 */
    const char *via;    /* "robot" or "cluster" */
} authn_grant;

/** `kube` may be NULL (no cluster configured: cluster logins answer AUTHN_UNAVAILABLE). */
proxy_authn *proxy_authn_new(const proxy_config *cfg, qs_kube *kube);
void proxy_authn_free(proxy_authn *a);

/** A login: `authorization` is the request's Authorization header (Basic). */
authn_result proxy_authn_login(proxy_authn *a, const char *authorization, authn_grant *grant);
void authn_grant_free(authn_grant *g);

/** A later request: valid when it carries Bearer <a valid proxy token> or the robot's Basic
 *  credentials. *via says which ("token"/"robot"). */
authn_result proxy_authn_check(proxy_authn *a, const char *authorization, const char **via);

/** Issue a token for `subject` now (used by login; exposed for tests). */
int proxy_authn_issue(proxy_authn *a, const char *subject, authn_grant *grant);

#endif
