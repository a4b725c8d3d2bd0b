/* registry_internal.h — what registry_write.c needs from registry.c, private to libshared.
 *
 * registry.c owns authentication (challenges, the token cache, the retry after a 401);
 * registry_write.c builds the write side of the distribution API on one generic call that
 * adds the right Authorization header for a scope and retries once after a recoverable 401
 * (never when the body is streamed: it cannot be replayed). */
#ifndef QS_REGISTRY_INTERNAL_H
#define QS_REGISTRY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "shared/http_client.h"
#include "shared/registry.h"

typedef struct {
    const char *method;
    const char *url;
    const char *scope;          /* token scope(s), space-separated */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated; may be NULL */
    const void *body;           /* buffered body, or */
    size_t body_len;
    qs_http_upload_fn upload; /* a streamed body (never retried) */
    void *upload_ctx;
    int64_t upload_len; /* -1 = chunked */
    bool no_body;       /* HEAD */
    long timeout_ms;    /* 0 = client default, -1 = none */
} qs_reg_call;

/** A request with the registry's credentials for c->scope. 0 with resp filled (any status;
 *  free it), or the transport / auth error. */
int qs_reg_call_do(qs_registry *r, const qs_reg_call *c, qs_http_resp *resp);
/** `location` resolved against `base` (absolute, or relative to it); malloc'd or NULL. */
char *qs_reg_resolve_url(const char *base, const char *location);
/** The qs_err for an HTTP status (2xx → 0, 401 → QS_EAUTH, 404 → QS_ENOTFOUND, ...). */
int qs_reg_status_err(long status);
/** May `s` be used as a URL path segment (repository name: extra "._-/"; reference:
 *  "._-:+")? Refuses "..", a leading '/', empty strings and other characters. */
bool qs_reg_segment_ok(const char *s, const char *extra);

#endif
