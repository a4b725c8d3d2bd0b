/* access.c — classifying registry paths and the proxy's pull-only policy.
 *
 * Registry repository names contain slashes, so a path is classified by finding the LAST
 * registry keyword segment ("/manifests/", "/blobs/", "/tags/list", "/referrers/"): what
 * precedes it is the repository. The policy is a short table of rules: only GET/HEAD, only
 * allowed repositories, only the pull surface of the API. Pure functions, unit-tested. */
#include "proxy/access.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "shared/common.h"

static const struct {
    const char *marker; /* segment after the repository name */
    proxy_path_kind kind;
    bool exact_end; /* nothing may follow the marker */
} markers[] = {
    {"/blobs/uploads", PROXY_PATH_UPLOAD, false}, {"/manifests/", PROXY_PATH_MANIFEST, false},
    {"/blobs/", PROXY_PATH_BLOB, false},          {"/tags/list", PROXY_PATH_TAGS, true},
    {"/referrers/", PROXY_PATH_REFERRERS, false},
};

static const char *const kind_names[] = {"base", "auth",      "manifest", "blob", "upload",
                                         "tags", "referrers", "catalog",  "other"};

const char *proxy_path_kind_name(proxy_path_kind kind) { return kind_names[kind]; }

/* Last occurrence of `needle` in `hay`. */
static const char *last_strstr(const char *hay, const char *needle) {
    const char *found = NULL;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        found = p;
    return found;
}

void proxy_path_parse(const char *path, proxy_path *out) {
    out->kind = PROXY_PATH_OTHER;
    out->repo[0] = '\0';
    if (strcmp(path, "/v2/") == 0 || strcmp(path, "/v2") == 0) {
        out->kind = PROXY_PATH_BASE;
        return;
    }
    if (strcmp(path, "/v2/auth") == 0) {
        out->kind = PROXY_PATH_AUTH;
        return;
    }
    if (strcmp(path, "/v2/_catalog") == 0) {
        out->kind = PROXY_PATH_CATALOG;
        return;
    }
    if (strncmp(path, "/v2/", 4) != 0)
        return;
    const char *rest = path + 4;
    for (size_t i = 0; i < QS_ARRAY_LEN(markers); i++) {
        const char *m = last_strstr(rest, markers[i].marker);
        if (!m || m == rest)
            continue;
        size_t mlen = strlen(markers[i].marker);
        if (markers[i].exact_end && m[mlen] != '\0')
            continue;
        if (!markers[i].exact_end && markers[i].kind != PROXY_PATH_UPLOAD && m[mlen] == '\0')
            continue; /* "/manifests/" with no reference */
        size_t rlen = (size_t)(m - rest);
        if (rlen >= sizeof out->repo)
            return;
        memcpy(out->repo, rest, rlen);
        out->repo[rlen] = '\0';
        out->kind = markers[i].kind;
        return;
    }
}

static bool repo_allowed(const char *repo, char *const *repos, size_t nrepos) {
    for (size_t i = 0; i < nrepos; i++)
        if (strcmp(repo, repos[i]) == 0)
            return true;
    return false;
}

proxy_decision proxy_access_decide(const char *method, const proxy_path *p, char *const *repos,
                                   size_t nrepos) {
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return PROXY_DENY_METHOD;
    switch (p->kind) {
    case PROXY_PATH_BASE:
        return PROXY_ALLOW;
    case PROXY_PATH_MANIFEST:
    case PROXY_PATH_BLOB:
    case PROXY_PATH_TAGS:
    case PROXY_PATH_REFERRERS:
        return repo_allowed(p->repo, repos, nrepos) ? PROXY_ALLOW : PROXY_DENY_REPO;
    case PROXY_PATH_UPLOAD:
        return PROXY_DENY_METHOD;
    case PROXY_PATH_CATALOG:
        return PROXY_DENY_REPO;
    case PROXY_PATH_AUTH:
    case PROXY_PATH_OTHER:
    default:
        return PROXY_DENY_PATH;
    }
}
