/* test_prov_settings.c — the appstudio-provisioner's environment: defaults, both organization
 * modes, and every configuration error reported at once. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "appstudio-provisioner/settings.h"
#include "shared/common.h"
#include "shared/config.h"
#include "shared/log.h"

static const char *const vars[] = {
    "LISTEN_ADDR",         "REDIS_URL",          "QUAY_URL",          "QUAY_TOKEN_FILE",
    "QUAY_REGISTRY",       "ORG_MODE",           "ORG_PREFIX",        "QUAY_ORGANIZATION",
    "DEFAULT_VISIBILITY",  "NAMESPACE_TEMPLATE", "KEEP_REPOSITORIES", "API_TOKEN_FILE",
    "PROVISIONER_WORKERS", "MAX_ATTEMPTS",       "RETRY_BACKOFF",     "RETRY_BACKOFF_MAX",
    "AUTH_CACHE_TTL",      "GRACE_PERIOD",       "KUBE_API_URL",      "KUBE_TOKEN_FILE",
    "KUBE_CA_FILE",        "QUAY_DEBUG",         "LOG_LEVEL",         NULL};

static void clean(void) {
    qs_log_set_fd(-1);
    for (size_t i = 0; vars[i]; i++)
        unsetenv(vars[i]);
}

TestSuite(prov_settings, .init = clean);

Test(prov_settings, defaults) {
    setenv("QUAY_TOKEN_FILE", "/secrets/quay-token", 1);
    prov_settings s;
    cr_assert_eq(prov_settings_load(&s), 0);
    cr_assert_str_eq(s.listen_addr, "0.0.0.0:8092");
    cr_assert_str_eq(s.quay_url, "https://quay.io");
    cr_assert_str_eq(s.registry, "quay.io", "image references use QUAY_URL's host");
    cr_assert_eq(s.naming.mode, PROV_ORG_PER_WORKSPACE);
    cr_assert_str_eq(s.naming.org_prefix, "");
    cr_assert_str_eq(s.naming.namespace_template, "{workspace}");
    cr_assert(s.default_public);
    cr_assert_not(s.keep_repositories);
    cr_assert_null(s.api_token_file);
    cr_assert_eq(s.workers, 4);
    cr_assert_null(s.kube_api_url, "in-cluster by default");
    cr_assert_float_eq(s.grace_period, 20.0, 1e-9);
    prov_settings_free(&s);
}

Test(prov_settings, shared_mode_and_overrides) {
    setenv("QUAY_TOKEN_FILE", "/t", 1);
    setenv("ORG_MODE", "shared", 1);
    setenv("QUAY_ORGANIZATION", "redhat-user-workloads", 1);
    setenv("QUAY_URL", "http://127.0.0.1:8080/", 1);
    setenv("QUAY_REGISTRY", "127.0.0.1:5000", 1);
    setenv("DEFAULT_VISIBILITY", "private", 1);
    setenv("KEEP_REPOSITORIES", "true", 1);
    setenv("PROVISIONER_WORKERS", "8", 1);
    prov_settings s;
    cr_assert_eq(prov_settings_load(&s), 0);
    cr_assert_eq(s.naming.mode, PROV_ORG_SHARED);
    cr_assert_str_eq(s.naming.shared_org, "redhat-user-workloads");
    cr_assert_str_eq(s.registry, "127.0.0.1:5000");
    cr_assert_str_eq(s.naming.registry, "127.0.0.1:5000");
    cr_assert_not(s.default_public);
    cr_assert(s.keep_repositories);
    cr_assert_eq(s.workers, 8);
    prov_settings_free(&s);
}

Test(prov_settings, every_error_is_reported_together) {
    setenv("ORG_MODE", "per-tenant", 1);
    setenv("DEFAULT_VISIBILITY", "internal", 1);
    setenv("NAMESPACE_TEMPLATE", "tenant", 1);
    setenv("QUAY_URL", "quay.io", 1);
    setenv("PROVISIONER_WORKERS", "0", 1);
    setenv("LOG_LEVEL", "loud", 1);
    setenv("RETRY_BACKOFF", "10s", 1);
    setenv("RETRY_BACKOFF_MAX", "1s", 1);
    prov_settings s;
    int n = prov_settings_load(&s);
    /* QUAY_TOKEN_FILE, ORG_MODE, DEFAULT_VISIBILITY, NAMESPACE_TEMPLATE, QUAY_URL,
     * PROVISIONER_WORKERS, LOG_LEVEL, RETRY_BACKOFF_MAX */
    cr_assert_eq(n, 8, "got %d", n);
    const char *want[] = {"QUAY_TOKEN_FILE",    "ORG_MODE",         "DEFAULT_VISIBILITY",
                          "NAMESPACE_TEMPLATE", "QUAY_URL",         "PROVISIONER_WORKERS",
                          "LOG_LEVEL",          "RETRY_BACKOFF_MAX"};
    for (size_t i = 0; i < QS_ARRAY_LEN(want); i++) {
        bool found = false;
        for (size_t k = 0; k < (size_t)n; k++)
            found |= strstr(qs_conf_error_at(s.conf, k), want[i]) != NULL;
        cr_assert(found, "no error names %s", want[i]);
    }
    prov_settings_free(&s);
}

Test(prov_settings, shared_mode_needs_a_valid_organization) {
    setenv("QUAY_TOKEN_FILE", "/t", 1);
    setenv("ORG_MODE", "shared", 1);
    prov_settings s;
    cr_assert_eq(prov_settings_load(&s), 1, "QUAY_ORGANIZATION is required");
    prov_settings_free(&s);
    setenv("QUAY_ORGANIZATION", "Bad Org", 1);
    cr_assert_eq(prov_settings_load(&s), 1, "not a Quay name");
    cr_assert(strstr(qs_conf_error_at(s.conf, 0), "QUAY_ORGANIZATION"));
    prov_settings_free(&s);
    setenv("QUAY_REGISTRY", "host/path", 1);
    setenv("QUAY_ORGANIZATION", "good", 1);
    cr_assert_eq(prov_settings_load(&s), 1, "QUAY_REGISTRY is host[:port]");
    prov_settings_free(&s);
}

Test(prov_settings, url_host) {
    char h[64];
    cr_assert_eq(prov_url_host("https://quay.io", h, sizeof h), QS_OK);
    cr_assert_str_eq(h, "quay.io");
    cr_assert_eq(prov_url_host("http://127.0.0.1:8080/api/v1", h, sizeof h), QS_OK);
    cr_assert_str_eq(h, "127.0.0.1:8080");
    cr_assert_eq(prov_url_host("ftp://x", h, sizeof h), QS_EINVAL);
    cr_assert_eq(prov_url_host("https://", h, sizeof h), QS_EINVAL);
    cr_assert_eq(prov_url_host("https://user:pw@host", h, sizeof h), QS_EINVAL);
}
