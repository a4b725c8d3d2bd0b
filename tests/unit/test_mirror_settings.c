/* test_mirror_settings.c — the mirror service's environment: defaults, lists, every error
 * reported together, which registries are spoken to over plain HTTP. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "mirror/settings.h"
#include "shared/log.h"

static const char *const vars[] = {"LISTEN_ADDR",
                                   "REDIS_URL",
                                   "MIRROR_CONFIG",
                                   "REGISTRY_AUTH_FILE",
                                   "DESTINATION_REPOSITORY",
                                   "SOURCE_REGISTRY",
                                   "IMAGESTREAM_NAMESPACES",
                                   "IMAGESTREAMS",
                                   "IMAGESTREAM_TAGS",
                                   "IMAGESTREAM_IGNORE_TAGS",
                                   "INSECURE_REGISTRIES",
                                   "SYNC_INTERVAL",
                                   "DRY_RUN",
                                   "MIRROR_ROLE",
                                   "MIRROR_WORKERS",
                                   "COPY_CONCURRENCY",
                                   "BACKUP_TAGS",
                                   "API_TOKEN_FILE",
                                   "MAX_ATTEMPTS",
                                   "TASK_TIMEOUT",
                                   "LOG_LEVEL",
                                   NULL};

static void clean(void) {
    qs_log_set_fd(-1);
    for (size_t i = 0; vars[i]; i++)
        unsetenv(vars[i]);
}

TestSuite(mirror_settings, .init = clean);

Test(mirror_settings, defaults_of_the_original) {
    mirror_settings s;
    cr_assert_eq(mirror_settings_load(&s), 0);
    cr_assert_str_eq(s.listen_addr, "0.0.0.0:8090");
    cr_assert_str_eq(s.destination, "quay.io/openshift/ci");
    cr_assert_str_eq(s.source_registry, "registry.ci.openshift.org");
    cr_assert_float_eq(s.sync_interval, 3600, 1e-9);
    cr_assert_eq(s.role, MIRROR_ROLE_ALL);
    cr_assert_eq(s.blob_concurrency, 6);
    cr_assert_null(s.mirror_config);
    cr_assert_eq(s.namespaces.n, 0, "no image stream source unless configured");
    cr_assert_not(s.dry_run);
    mirror_settings_free(&s);
}

Test(mirror_settings, lists_are_trimmed_and_checked) {
    setenv("IMAGESTREAM_NAMESPACES", " ci , ocp,,", 1);
    setenv("IMAGESTREAMS", "ci/ci-operator", 1);
    setenv("IMAGESTREAM_TAGS", "ocp/4.22:cli", 1);
    setenv("IMAGESTREAM_IGNORE_TAGS", "ci/ci-operator:old", 1);
    mirror_settings s;
    cr_assert_eq(mirror_settings_load(&s), 0);
    cr_assert_eq(s.namespaces.n, 2);
    cr_assert_str_eq(s.namespaces.v[1], "ocp");
    cr_assert(mirror_list_has(&s.ignore_tags, "ci/ci-operator:old"));
    mirror_settings_free(&s);
}

Test(mirror_settings, every_problem_counted) {
    setenv("IMAGESTREAMS", "just-a-name", 1);             /* not ns/name */
    setenv("IMAGESTREAM_TAGS", "ci/name", 1);             /* no tag */
    setenv("MIRROR_ROLE", "boss", 1);                     /* not a role */
    setenv("SYNC_INTERVAL", "often", 1);                  /* not a duration */
    setenv("DESTINATION_REPOSITORY", "quay.io/x:tag", 1); /* has a tag */
    setenv("COPY_CONCURRENCY", "0", 1);                   /* out of range */
    setenv("DRY_RUN", "maybe", 1);                        /* not a boolean */
    mirror_settings s;
    cr_assert_eq(mirror_settings_load(&s), 7);
    mirror_settings_free(&s);
}

Test(mirror_settings, worker_role_needs_workers) {
    setenv("MIRROR_ROLE", "worker", 1);
    setenv("MIRROR_WORKERS", "0", 1);
    mirror_settings s;
    cr_assert_eq(mirror_settings_load(&s), 1);
    mirror_settings_free(&s);
    setenv("MIRROR_ROLE", "controller", 1);
    cr_assert_eq(mirror_settings_load(&s), 0);
    mirror_settings_free(&s);
}

Test(mirror_settings, plain_http_only_for_loopback_and_listed_registries) {
    setenv("INSECURE_REGISTRIES", "registry.lab:5000", 1);
    mirror_settings s;
    cr_assert_eq(mirror_settings_load(&s), 0);
    cr_assert(mirror_settings_insecure(&s, "127.0.0.1:5000"));
    cr_assert(mirror_settings_insecure(&s, "localhost:5000"));
    cr_assert(mirror_settings_insecure(&s, "registry.lab:5000"));
    cr_assert_not(mirror_settings_insecure(&s, "registry.lab"));
    cr_assert_not(mirror_settings_insecure(&s, "quay.io"));
    mirror_settings_free(&s);
}
