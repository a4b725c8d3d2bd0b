/* api_token.h — bearer tokens on incoming requests: the platform token that guards a
 * service's write endpoints (API_TOKEN_FILE in mirror, org-mirror and the provisioner).
 *
 * The expected token lives in a qs_secret (a mounted Secret, re-read when it changes), and is
 * compared in constant time. Neither the expected nor the presented token is ever logged or
 * put into a response. */
#ifndef QS_API_TOKEN_H
#define QS_API_TOKEN_H

#include <stdbool.h>

#include "shared/config.h"
#include "shared/http_server.h"

/** The token of an `Authorization` header value `Bearer <token>` (scheme case-insensitive,
 *  surrounding blanks skipped), or NULL for NULL, another scheme, or an empty token. Pure. */
const char *qs_bearer_token(const char *authorization);

/** Is `token` (trailing blanks ignored) the secret's current value? Constant-time; false when
 *  either is NULL or the secret has no value. */
bool qs_token_matches(const char *token, qs_secret *secret);

/** The token of the request's `Authorization: Bearer <token>` header (scheme case-insensitive,
 * surrounding blanks skipped), or NULL when the header is absent, has another scheme, or an empty
 * token. */
const char *qs_req_bearer(const qs_req *r);

/** Does the request carry the secret's current value as its bearer token? False when `secret`
 *  is NULL, has no value, or the token differs. */
bool qs_req_bearer_matches(const qs_req *r, qs_secret *secret);

/** Guard of a write endpoint: true when the request carries the secret's token. Otherwise the
 *  request is answered — 403 "writes_disabled" when no token is configured (NULL secret or
 *  unreadable file), 401 "unauthorized" with `WWW-Authenticate: Bearer realm="<realm>"` when
 *  the token is missing or wrong — and false is returned. */
bool qs_require_bearer(qs_req *r, qs_secret *secret, const char *realm);

#endif
