/* test_proxy_config.c — the proxy's configuration: defaults, every validation error reported
 * together, the exposed host's scheme, the allowed repositories. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/config.h"
#include "shared/config.h"
#include "shared/log.h"

static const char *const all_vars[] = {"LISTEN_ADDR",
                                       "EXPOSED_HOST",
                                       "UPSTREAM_URL",
                                       "UPSTREAM_REPOSITORY",
                                       "ALLOWED_REPOSITORIES",
                                       "ROBOT_USERNAME_FILE",
                                       "ROBOT_PASSWORD_FILE",
                                       "TOKEN_SECRET_FILE",
                                       "TOKEN_VALIDITY",
                                       "TLS_CERT_FILE",
                                       "TLS_KEY_FILE",
                                       "KUBE_API_URL",
                                       "SAR_NAMESPACE",
                                       "TOKEN_REVIEW_TTL",
                                       "ROBOT_TOKEN_CHECK_INTERVAL",
                                       "REDIS_URL",
                                       "GRACE_PERIOD",
                                       "LOG_LEVEL",
                                       NULL};

static void clean_env(void) {
    qs_log_set_fd(-1); /* the loader logs each problem; keep test output clean */
    for (size_t i = 0; all_vars[i]; i++)
        unsetenv(all_vars[i]);
    setenv("ROBOT_USERNAME_FILE", "/run/secrets/robot-user", 1);
    setenv("ROBOT_PASSWORD_FILE", "/run/secrets/robot-pass", 1);
    setenv("TOKEN_SECRET_FILE", "/run/secrets/token", 1);
}

TestSuite(proxy_config, .init = clean_env);

Test(proxy_config, defaults_of_the_original) {
    proxy_config c;
    cr_assert_eq(proxy_config_load(&c), 0);
    cr_assert_str_eq(c.listen_addr, "127.0.0.1:8400");
    cr_assert_str_eq(c.exposed_host, "quay-proxy.ci.openshift.org");
    cr_assert_str_eq(c.exposed_scheme, "http"); /* no TLS configured */
    cr_assert_str_eq(c.upstream_url, "https://quay.io");
    cr_assert_eq(c.nrepositories, 1);
    cr_assert_str_eq(c.repositories[0], "openshift/ci");
    cr_assert_str_eq(c.sar_namespace, "ocp");
    cr_assert_float_eq(c.token_validity, 300, 1e-9);
    cr_assert_float_eq(c.token_review_ttl, 60, 1e-9);
    cr_assert_null(c.redis_url);
    proxy_config_free(&c);
}

Test(proxy_config, required_secrets_reported_together) {
    unsetenv("ROBOT_USERNAME_FILE");
    unsetenv("ROBOT_PASSWORD_FILE");
    unsetenv("TOKEN_SECRET_FILE");
    proxy_config c;
    cr_assert_eq(proxy_config_load(&c), 3);
    proxy_config_free(&c);
}

Test(proxy_config, every_bad_value_is_counted) {
    setenv("TLS_CERT_FILE", "/tls/crt", 1);           /* without the key */
    setenv("UPSTREAM_URL", "quay.io", 1);             /* no scheme */
    setenv("TOKEN_VALIDITY", "10s", 1);               /* below 60 s */
    setenv("TOKEN_REVIEW_TTL", "soon", 1);            /* not a duration */
    setenv("LOG_LEVEL", "loud", 1);                   /* not a level */
    setenv("UPSTREAM_REPOSITORY", "OpenShift/CI", 1); /* not a repository name */
    setenv("EXPOSED_HOST", "bad host\"", 1);          /* would break the challenge */
    proxy_config c;
    cr_assert_eq(proxy_config_load(&c), 7);
    proxy_config_free(&c);
}

Test(proxy_config, exposed_host_scheme_prefix_and_tls) {
    setenv("EXPOSED_HOST", "https://proxy.example:8443/", 1);
    proxy_config c;
    cr_assert_eq(proxy_config_load(&c), 0);
    cr_assert_str_eq(c.exposed_scheme, "https");
    cr_assert_str_eq(c.exposed_host, "proxy.example:8443");
    proxy_config_free(&c);
    setenv("EXPOSED_HOST", "proxy.example", 1);
    setenv("TLS_CERT_FILE", "/tls/crt", 1);
    setenv("TLS_KEY_FILE", "/tls/key", 1);
    cr_assert_eq(proxy_config_load(&c), 0);
    cr_assert_str_eq(c.exposed_scheme, "https");
    proxy_config_free(&c);
}

Test(proxy_config, allowed_repositories_and_trailing_slash) {
    setenv("ALLOWED_REPOSITORIES", " openshift/extra , ,org/team/app", 1);
    setenv("UPSTREAM_URL", "http://127.0.0.1:5000//", 1);
    proxy_config c;
    cr_assert_eq(proxy_config_load(&c), 0);
    cr_assert_eq(c.nrepositories, 3);
    cr_assert_str_eq(c.repositories[1], "openshift/extra");
    cr_assert_str_eq(c.repositories[2], "org/team/app");
    cr_assert_str_eq(c.upstream_url, "http://127.0.0.1:5000");
    proxy_config_free(&c);
}
