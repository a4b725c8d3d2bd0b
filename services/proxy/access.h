/* access.h — what a registry request is, and whether the proxy lets it through. Pure. */
#ifndef PROXY_ACCESS_H
#define PROXY_ACCESS_H

#include <stddef.h>

typedef enum {
    PROXY_PATH_BASE,      /* /v2/ */
    PROXY_PATH_AUTH,      /* /v2/auth */
    PROXY_PATH_MANIFEST,  /* /v2/<name>/manifests/<ref> */
    PROXY_PATH_BLOB,      /* /v2/<name>/blobs/<digest> */
    PROXY_PATH_UPLOAD,    /* /v2/<name>/blobs/uploads/... */
    PROXY_PATH_TAGS,      /* /v2/<name>/tags/list */
    PROXY_PATH_REFERRERS, /* /v2/<name>/referrers/<digest> */
    PROXY_PATH_CATALOG,   /* /v2/_catalog */
    PROXY_PATH_OTHER      /* anything else */
} proxy_path_kind;

typedef struct {
    proxy_path_kind kind;
    char repo[256]; /* repository name for per-repository paths, else "" */
} proxy_path;

/** Classify a decoded request path. */
void proxy_path_parse(const char *path, proxy_path *out);
/** A short stable name for a kind ("manifest", "blob", ...) — the metrics label. */
const char *proxy_path_kind_name(proxy_path_kind kind);

typedef enum {
    PROXY_ALLOW = 0,
    PROXY_DENY_METHOD, /* 405: only GET and HEAD */
    PROXY_DENY_REPO,   /* 403: repository not in the allowed list */
    PROXY_DENY_PATH    /* 404: not a registry pull path */
} proxy_decision;

/** Decide for an authenticated request: method, classified path, allowed repositories. */
proxy_decision proxy_access_decide(const char *method, const proxy_path *p, char *const *repos,
                                   size_t nrepos);

#endif
