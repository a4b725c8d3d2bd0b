/* test_proxy_access.c — the proxy's path classification, pull-only policy, and the pure
 * helpers of forwarding (which headers pass, how Location is rewritten). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/access.h"
#include "proxy/forward.h"

static const struct {
    const char *path;
    proxy_path_kind kind;
    const char *repo;
} paths[] = {
    {"/v2/", PROXY_PATH_BASE, ""},
    {"/v2", PROXY_PATH_BASE, ""},
    {"/v2/auth", PROXY_PATH_AUTH, ""},
    {"/v2/_catalog", PROXY_PATH_CATALOG, ""},
    {"/v2/openshift/ci/manifests/ci_ci-operator_latest", PROXY_PATH_MANIFEST, "openshift/ci"},
    {"/v2/openshift/ci/manifests/sha256:abcd", PROXY_PATH_MANIFEST, "openshift/ci"},
    {"/v2/openshift/ci/blobs/sha256:abcd", PROXY_PATH_BLOB, "openshift/ci"},
    {"/v2/openshift/ci/blobs/uploads/", PROXY_PATH_UPLOAD, "openshift/ci"},
    {"/v2/openshift/ci/blobs/uploads/1234-uuid", PROXY_PATH_UPLOAD, "openshift/ci"},
    {"/v2/openshift/ci/tags/list", PROXY_PATH_TAGS, "openshift/ci"},
    {"/v2/openshift/ci/referrers/sha256:abcd", PROXY_PATH_REFERRERS, "openshift/ci"},
    {"/v2/a/b/c/manifests/latest", PROXY_PATH_MANIFEST, "a/b/c"},
    /* a repository whose name contains a keyword: the LAST keyword decides */
    {"/v2/org/manifests/manifests/latest", PROXY_PATH_MANIFEST, "org/manifests"},
    {"/v2/openshift/ci/manifests/", PROXY_PATH_OTHER, ""},
    {"/v2/manifests/latest", PROXY_PATH_OTHER, ""},
    {"/v2/openshift/ci/tags/list/extra", PROXY_PATH_OTHER, ""},
    {"/v1/search", PROXY_PATH_OTHER, ""},
};

Test(proxy_access, classifies_registry_paths) {
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        proxy_path p;
        proxy_path_parse(paths[i].path, &p);
        cr_expect_eq(p.kind, paths[i].kind, "%s: kind %d, want %d", paths[i].path, p.kind,
                     paths[i].kind);
        cr_expect_str_eq(p.repo, paths[i].repo, "%s", paths[i].path);
    }
}

static char *repos[] = {"openshift/ci", "openshift/extra"};

static proxy_decision decide(const char *method, const char *path) {
    proxy_path p;
    proxy_path_parse(path, &p);
    return proxy_access_decide(method, &p, repos, 2);
}

Test(proxy_access, pull_only_and_allowed_repositories) {
    cr_expect_eq(decide("GET", "/v2/"), PROXY_ALLOW);
    cr_expect_eq(decide("HEAD", "/v2/openshift/ci/manifests/latest"), PROXY_ALLOW);
    cr_expect_eq(decide("GET", "/v2/openshift/extra/blobs/sha256:aa"), PROXY_ALLOW);
    cr_expect_eq(decide("GET", "/v2/openshift/ci/tags/list"), PROXY_ALLOW);
    cr_expect_eq(decide("PUT", "/v2/openshift/ci/manifests/latest"), PROXY_DENY_METHOD);
    cr_expect_eq(decide("DELETE", "/v2/openshift/ci/manifests/latest"), PROXY_DENY_METHOD);
    cr_expect_eq(decide("POST", "/v2/openshift/ci/blobs/uploads/"), PROXY_DENY_METHOD);
    cr_expect_eq(decide("PATCH", "/v2/"), PROXY_DENY_METHOD);
    cr_expect_eq(decide("GET", "/v2/openshift/ci/blobs/uploads/abc"), PROXY_DENY_METHOD);
    cr_expect_eq(decide("GET", "/v2/other/repo/manifests/latest"), PROXY_DENY_REPO);
    cr_expect_eq(decide("GET", "/v2/openshift/ci2/manifests/latest"), PROXY_DENY_REPO);
    cr_expect_eq(decide("GET", "/v2/openshift/manifests/latest"), PROXY_DENY_REPO);
    cr_expect_eq(decide("GET", "/v2/_catalog"), PROXY_DENY_REPO);
    cr_expect_eq(decide("GET", "/v2/whatever"), PROXY_DENY_PATH);
}

Test(proxy_forward, response_headers_kept_and_dropped) {
    const char *keep[] = {"Docker-Content-Digest",
                          "Content-Type",
                          "ETag",
                          "Link",
                          "Location",
                          "Content-Range",
                          "Accept-Ranges",
                          "Docker-Distribution-Api-Version"};
    const char *drop[] = {"Connection", "transfer-encoding", "Keep-Alive",         "Content-Length",
                          "Set-Cookie", "WWW-Authenticate",  "Proxy-Authenticate", "Upgrade"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        cr_expect(proxy_forward_keep_response_header(keep[i]), "%s should pass", keep[i]);
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        cr_expect_not(proxy_forward_keep_response_header(drop[i]), "%s should be dropped", drop[i]);
}

Test(proxy_forward, location_on_upstream_origin_is_rewritten) {
    char *l = proxy_forward_rewrite_location("https://quay.io/v2/openshift/ci/blobs/sha256:aa",
                                             "https://quay.io", "https", "proxy.example:8443");
    cr_assert_str_eq(l, "https://proxy.example:8443/v2/openshift/ci/blobs/sha256:aa");
    free(l);
    l = proxy_forward_rewrite_location("https://cdn.quay.io/sha256/aa?signature=x",
                                       "https://quay.io", "https", "proxy.example");
    cr_assert_str_eq(l, "https://cdn.quay.io/sha256/aa?signature=x");
    free(l);
    l = proxy_forward_rewrite_location("https://quay.io.evil.example/x", "https://quay.io", "https",
                                       "proxy.example");
    cr_assert_str_eq(l, "https://quay.io.evil.example/x");
    free(l);
    l = proxy_forward_rewrite_location("/v2/openshift/ci/tags/list?last=a", "https://quay.io",
                                       "https", "proxy.example");
    cr_assert_str_eq(l, "/v2/openshift/ci/tags/list?last=a");
    free(l);
}
