/* api_token.c — the platform bearer token on incoming requests (see api_token.h).
 *
 * Services had each written this check (header parsing, constant-time comparison, the 401/403
 * answers); it lives here once. The expected value is fetched from its qs_secret at every
 * check, so a rotated Secret applies at the next request, and released (zeroed) at once. */
#include "shared/api_token.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "shared/common.h"
#include "shared/digest.h"

const char *qs_bearer_token(const char *h) {
    if (!h)
        return NULL;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return NULL;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    return *h ? h : NULL;
}

const char *qs_req_bearer(const qs_req *r) {
    return qs_bearer_token(qs_req_header(r, "Authorization"));
}

bool qs_token_matches(const char *token, qs_secret *secret) {
    char *want = NULL;
    if (!token || !secret || qs_secret_get(secret, &want) != QS_OK)
        return false;
    size_t n = strlen(token);
    while (n && (token[n - 1] == ' ' || token[n - 1] == '\t'))
        n--;
    bool ok = qs_consttime_equal(token, n, want, strlen(want));
    qs_secret_release(want);
    return ok;
}

bool qs_req_bearer_matches(const qs_req *r, qs_secret *secret) {
    return qs_token_matches(qs_req_bearer(r), secret);
}

bool qs_require_bearer(qs_req *r, qs_secret *secret, const char *realm) {
    char *want = NULL;
    if (!secret || qs_secret_get(secret, &want) != QS_OK) {
        qs_respond_error(r, 403, "writes_disabled",
                         "this endpoint needs API_TOKEN_FILE to be configured");
        return false;
    }
    qs_secret_release(want);
    if (qs_req_bearer_matches(r, secret))
        return true;
    char v[160];
    snprintf(v, sizeof v, "Bearer realm=\"%.100s\"", realm ? realm : "quayside");
    qs_resp_header(r, "WWW-Authenticate", v);
    qs_respond_error(r, 401, "unauthorized", "a valid bearer token is required");
    return false;
}
