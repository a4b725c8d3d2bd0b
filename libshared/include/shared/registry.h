/* registry.h — a client of one registry speaking the OCI distribution API.
 *
 * Authentication is learnt the way docker and skopeo learn it: from the `WWW-Authenticate`
 * challenge of `GET /v2/`. Bearer → tokens are fetched from the realm with Basic credentials
 * (or anonymously) per scope and cached until shortly before they expire
 * (issued_at + max(expires_in, 60) − margin); a 401 with error="invalid_token" drops the
 * cached token and retries once. Basic → credentials on every request. None → anonymous.
 *
 * Credentials come from a callback so rotated secrets are picked up at the next token fetch.
 * Manifests are fetched byte-exact with the full Accept list. */
#ifndef QS_REGISTRY_H
#define QS_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "shared/buf.h"
#include "shared/http_client.h"

/** Every manifest media type we accept, as one Accept header value. */
extern const char QS_MANIFEST_ACCEPT[];

#define QS_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define QS_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define QS_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define QS_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define QS_MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define QS_MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

/* ---- challenges (pure) ---- */
typedef struct {
    char *scheme;  /* "bearer" or "basic", lower-cased */
    char *realm;   /* may be NULL */
    char *service; /* may be NULL */
    char *scope;   /* may be NULL */
    char *error;   /* may be NULL */
} qs_challenge;

/** Parse one `WWW-Authenticate` value (RFC 7235 auth-param syntax, quoted strings with
 *  backslash escapes, case-insensitive names). 0 or QS_EINVAL. Free with qs_challenge_free. */
int qs_challenge_parse(const char *value, qs_challenge *out);
void qs_challenge_free(qs_challenge *c);

/** Parse an HTTP Basic `Authorization` value ("Basic <b64>"): the user is everything before
 *  the FIRST colon, the password everything after it (it may contain colons). Returns 0 and
 *  malloc'd strings, or QS_EINVAL (not Basic, bad base64, no colon). */
int qs_basic_parse(const char *authorization, char **user, char **pass);

/* ---- the client ---- */
typedef enum { QS_AUTH_UNKNOWN = 0, QS_AUTH_NONE, QS_AUTH_BASIC, QS_AUTH_BEARER } qs_auth_kind;

/** Credentials callback: set *user and *pass to malloc'd strings (both NULL = anonymous).
 *  Return 0, or non-zero when credentials are unavailable. */
typedef int (*qs_creds_fn)(void *ctx, char **user, char **pass);

typedef struct {
    const char *base_url;    /* "https://quay.io", "http://127.0.0.1:5000" (no trailing /) */
    qs_http *http;           /* borrowed */
    qs_creds_fn creds;       /* NULL = anonymous */
    void *creds_ctx;
    int token_margin_s;      /* renew this long before expiry; default 60 */
} qs_registry_opts;

typedef struct qs_registry qs_registry;

qs_registry *qs_registry_new(const qs_registry_opts *opts);
void qs_registry_free(qs_registry *r);
/** The base URL given at creation. */
const char *qs_registry_base_url(const qs_registry *r);
/** The registry's host[:port] (no scheme). */
const char *qs_registry_host(const qs_registry *r);

/** GET /v2/ and learn the authentication scheme. 0, QS_EUNAVAIL (unreachable or 5xx),
 *  QS_EPROTO (an answer that is neither 200 nor 401-with-challenge). */
int qs_registry_ping(qs_registry *r, qs_auth_kind *kind);
/** The scheme learnt by the last ping (QS_AUTH_UNKNOWN before). */
qs_auth_kind qs_registry_auth_kind(qs_registry *r);

/** A bearer token for `scope` ("repository:openshift/ci:pull"), from the cache or fetched.
 *  *token is malloc'd; *expires_at is when it stops being valid (UTC epoch). force=true skips
 *  the cache. 0, QS_EAUTH (credentials refused), QS_EUNAVAIL, QS_EPROTO. */
int qs_registry_token(qs_registry *r, const char *scope, bool force, char **token,
                      time_t *expires_at);
/** The value of the Authorization header for a request needing `scope`: "Bearer …",
 *  "Basic …", or NULL for anonymous (*out stays NULL). Pings first if needed. */
int qs_registry_authorization(qs_registry *r, const char *scope, char **out);
/** Forget the cached token for `scope` (after a 401 invalid_token). */
void qs_registry_forget_token(qs_registry *r, const char *scope);

typedef struct {
    char *media_type; /* Content-Type */
    char *digest;     /* Docker-Content-Digest, or computed from the body on GET */
    int64_t size;     /* Content-Length, -1 when unknown */
    qs_buf body;      /* byte-exact body (GET only) */
} qs_manifest;

void qs_manifest_free(qs_manifest *m);

/** HEAD or GET /v2/<repo>/manifests/<ref> with the full Accept list. 0, QS_ENOTFOUND,
 *  QS_EAUTH, QS_EDENIED, QS_EUNAVAIL, QS_EPROTO, QS_EDIGEST (GET by digest whose body does
 *  not hash to it). */
int qs_registry_manifest_head(qs_registry *r, const char *repo, const char *ref, qs_manifest *out);
int qs_registry_manifest_get(qs_registry *r, const char *repo, const char *ref, qs_manifest *out);
/** HEAD /v2/<repo>/blobs/<digest>: *size when present. 0 or QS_ENOTFOUND or other errors. */
int qs_registry_blob_head(qs_registry *r, const char *repo, const char *digest, int64_t *size);
/** GET a blob as a stream, following a redirect (to a CDN) without credentials. */
int qs_registry_blob_open(qs_registry *r, const char *repo, const char *digest,
                          qs_http_stream **out);

#endif
