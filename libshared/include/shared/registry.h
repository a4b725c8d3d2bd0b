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
    const char *base_url; /* "https://quay.io", "http://127.0.0.1:5000" (no trailing /) */
    qs_http *http;        /* borrowed */
    qs_creds_fn creds;    /* NULL = anonymous */
    void *creds_ctx;
    int token_margin_s; /* renew this long before expiry; default 60 */
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

/* ---- manifest kinds (pure) ---- */

/** What a manifest media type is. Schema 1 is recognised so that callers can refuse it with a
 *  clear reason (it is deprecated, signed per registry and cannot be copied byte-exact). */
typedef enum {
    QS_MKIND_UNKNOWN = 0,
    QS_MKIND_DOCKER2,    /* QS_MT_DOCKER_MANIFEST: one image, docker schema 2 */
    QS_MKIND_DOCKERLIST, /* QS_MT_DOCKER_LIST: a docker manifest list */
    QS_MKIND_OCI,        /* QS_MT_OCI_MANIFEST: one OCI image */
    QS_MKIND_OCIINDEX,   /* QS_MT_OCI_INDEX: an OCI index */
    QS_MKIND_SCHEMA1,    /* QS_MT_DOCKER_SCHEMA1 or its signed form */
} qs_mkind;

/** Classify a media type (parameters after ';' and case are ignored; NULL → unknown). */
qs_mkind qs_manifest_kind(const char *media_type);
/** "docker2", "dockerlist", "oci", "ociindex", "schema1" or "unknown". */
const char *qs_manifest_kind_name(qs_mkind k);
/** Is it a list of manifests (docker list or OCI index)? */
bool qs_manifest_kind_is_list(qs_mkind k);

/* ---- writes (registry_write.c) ---- */

/** PUT /v2/<repo>/manifests/<ref> (a tag or a digest) with `body` sent byte for byte and
 *  `Content-Type: media_type`; the token asks for pull,push on repo. `digest_out` (may be
 *  NULL; QS_DIGEST_STR_LEN + 1 bytes) gets the sha256 of the body; a Docker-Content-Digest
 *  answered by the registry must equal it. The caller decides what it may push (see
 *  qs_manifest_kind: schema 1 should be refused before getting here).
 *  0, QS_EINVAL (bad name, empty media type, ref is a digest that the body does not hash
 *  to), QS_EDIGEST (the registry stored other bytes), QS_ENOTFOUND, QS_EAUTH, QS_EDENIED,
 *  QS_EUNAVAIL, QS_EPROTO (any other refusal, e.g. MANIFEST_BLOB_UNKNOWN: the log says). */
int qs_registry_manifest_put(qs_registry *r, const char *repo, const char *ref,
                             const char *media_type, const void *body, size_t len,
                             char *digest_out);

/** How a blob upload gets its bytes. */
typedef struct {
    int64_t size;           /* bytes `read` will produce; -1 = unknown → chunked PATCHes */
    qs_http_upload_fn read; /* fills a buffer: > 0 bytes, 0 at the end, (size_t)-1 aborts */
    void *read_ctx;
    size_t chunk_size;   /* PATCH chunk when size is unknown; default 4 MiB (raised to
                            the registry's OCI-Chunk-Min-Length) */
    const char *session; /* an upload URL to continue (from qs_registry_blob_mount), or
                            NULL to open one with POST */
    long retry_after_ms; /* out: the registry's Retry-After of a failed attempt, or -1 */
} qs_blob_upload;

#define QS_BLOB_UPLOAD_INIT                                                                        \
    { -1, NULL, NULL, 0, NULL, -1 }

/** Push a blob into `repo`: POST /v2/<repo>/blobs/uploads/ (unless up->session is given),
 *  then, when the size is known, one PUT <location>?digest= streaming the body (a monolithic
 *  upload, memory bounded by curl's buffers); otherwise PATCH <location> with chunks of
 *  up->chunk_size (Content-Range start-end) and a closing PUT ?digest=. Every Location is
 *  resolved against the request it answers and reused exactly (query parameters included).
 *  Nothing is retried here (the body is a stream): the caller retries the whole blob.
 *  0, QS_EDIGEST (the registry found the bytes do not hash to `digest`), QS_EAUTH,
 *  QS_EDENIED, QS_ENOTFOUND, QS_EUNAVAIL (transport, 5xx, 429, or the reader aborted — the
 *  reader knows why), QS_EPROTO, QS_EINVAL. */
int qs_registry_blob_upload(qs_registry *r, const char *repo, const char *digest,
                            qs_blob_upload *up);

/** Cross-repository mount: POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<from> with a
 *  token for `repository:<repo>:pull,push repository:<from>:pull`. 201 → 0 and *mounted =
 *  true. 202 → 0 and *mounted = false: the registry opened an ordinary upload session whose
 *  URL goes to *session (malloc'd; pass it as qs_blob_upload.session) when session is not
 *  NULL, and is abandoned otherwise (registries purge stale sessions). Errors as above. */
int qs_registry_blob_mount(qs_registry *r, const char *repo, const char *digest, const char *from,
                           bool *mounted, char **session);

/** Free a NULL-terminated array of strings (from qs_registry_tags / _catalog). */
void qs_strv_free(char **v);

/** Every tag of `repo`: GET /v2/<repo>/tags/list[?n=<page>&last=<last>], following
 *  `Link: <…>; rel="next"` (relative or absolute) until there is none. page ≤ 0 lets the
 *  registry choose; last (NULL = from the start) lists only tags after it. *tags is a
 *  malloc'd NULL-terminated array in the registry's order, *count its length (may be NULL).
 *  A Link that points back to a page already read, or more than 10000 pages, is QS_EPROTO.
 *  0, QS_ENOTFOUND (no such repository), QS_EAUTH, QS_EDENIED, QS_EUNAVAIL, QS_EPROTO. */
int qs_registry_tags(qs_registry *r, const char *repo, int page, const char *last, char ***tags,
                     size_t *count);
/** Every repository: GET /v2/_catalog with the same pagination (scope registry:catalog:*). */
int qs_registry_catalog(qs_registry *r, int page, char ***repos, size_t *count);

#endif
