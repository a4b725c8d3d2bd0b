/* test_orgm_settings.c — the org-mirror's environment: the seed's variables and defaults,
 * registries with and without a scheme, ORGANIZATIONS and the ORG_MIRROR_CONFIG YAML (overrides,
 * unknown keys), the Secret directories (missing files, robot names), every error together. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "org-mirror/settings.h"
#include "shared/common.h"
#include "shared/log.h"

static const char *const vars[] = {"SOURCE_REGISTRY",
                                   "DESTINATION_REGISTRY",
                                   "ORGANIZATIONS",
                                   "ORG_MIRROR_CONFIG",
                                   "TAG_GLOB",
                                   "SYNC_INTERVAL",
                                   "DRY_RUN",
                                   "DEBUG",
                                   "RECREATE_MIRROR_CONFIG",
                                   "SOURCE_TOKENS_DIR",
                                   "DESTINATION_TOKENS_DIR",
                                   "ROBOT_NAMES_DIR",
                                   "QUAY_USERNAME_FILE",
                                   "QUAY_PASSWORD_FILE",
                                   "VERIFY_TLS",
                                   "SKOPEO_TIMEOUT_INTERVAL",
                                   "LISTEN_ADDR",
                                   "REDIS_URL",
                                   "API_TOKEN_FILE",
                                   "MODE",
                                   "SOURCE_API",
                                   "REGISTRY_AUTH_FILE",
                                   "MIRROR_QUEUE",
                                   "QUEUE_NAME",
                                   "EVENTS_GROUP",
                                   "QUAY_CONCURRENCY",
                                   "MAX_ATTEMPTS",
                                   "TASK_TIMEOUT",
                                   "RETRY_BACKOFF",
                                   "RUN_TIMEOUT",
                                   "GRACE_PERIOD",
                                   "LOG_LEVEL",
                                   NULL};

static char dir[64];

static void put(const char *sub, const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void setdir(const char *var, const char *sub) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    mkdir(path, 0700);
    setenv(var, path, 1);
}

static void setup(void) {
    qs_log_set_fd(-1);
    for (size_t i = 0; vars[i]; i++)
        unsetenv(vars[i]);
    snprintf(dir, sizeof dir, "/tmp/qs-orgm-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    /* a complete mirror-mode configuration for org "acme" */
    setenv("SOURCE_REGISTRY", "quay-sdc.example.com", 1);
    setenv("DESTINATION_REGISTRY", "http://127.0.0.1:8443", 1);
    setenv("ORGANIZATIONS", "acme", 1);
    put("src", "acme", "source-token\n");
    put("dst", "acme", "destination-token");
    put("robots", "acme", "acme+mirror\n");
    setdir("SOURCE_TOKENS_DIR", "src");
    setdir("DESTINATION_TOKENS_DIR", "dst");
    setdir("ROBOT_NAMES_DIR", "robots");
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(orgm_settings, .init = setup, .fini = teardown);

/* Load expecting `n` errors, each containing one of the strings in want (NULL-terminated). */
static void load_errors(int n, const char *const want[]) {
    orgm_settings s;
    int got = orgm_settings_load(&s);
    for (size_t w = 0; want && want[w]; w++) {
        bool found = false;
        for (size_t i = 0; i < qs_conf_error_count(s.conf) && !found; i++)
            found = strstr(qs_conf_error_at(s.conf, i), want[w]) != NULL;
        if (!found)
            for (size_t i = 0; i < qs_conf_error_count(s.conf); i++)
                cr_log_info("error %zu: %s", i, qs_conf_error_at(s.conf, i));
        cr_assert(found, "no error mentions \"%s\"", want[w]);
    }
    cr_assert_eq(got, n, "expected %d errors, got %d", n, got);
    orgm_settings_free(&s);
}

Test(orgm_settings, the_seeds_defaults) {
    orgm_settings s;
    cr_assert_eq(orgm_settings_load(&s), 0);
    cr_assert_str_eq(s.source.host, "quay-sdc.example.com");
    cr_assert_str_eq(s.source.url, "https://quay-sdc.example.com", "https is the default");
    cr_assert_str_eq(s.destination.host, "127.0.0.1:8443");
    cr_assert_str_eq(s.destination.url, "http://127.0.0.1:8443");
    cr_assert_eq(s.tag_globs.n, 1);
    cr_assert_str_eq(s.tag_globs.v[0], "*");
    cr_assert_eq(s.sync_interval, 600);
    cr_assert_not(s.dry_run);
    cr_assert_not(s.debug);
    cr_assert_not(s.recreate);
    cr_assert(s.verify_tls);
    cr_assert_eq(s.skopeo_timeout, 300);
    cr_assert_str_eq(s.listen_addr, "0.0.0.0:8091");
    cr_assert_eq(s.mode, ORGM_MODE_MIRROR);
    cr_assert_str_eq(s.queue_name, "org-mirror:tasks:acme");
    cr_assert_str_eq(s.events_group, "org-mirror");
    cr_assert_eq(s.log_level, QS_LOG_INFO);
    cr_assert_eq(s.orgs.n, 1);
    const orgm_org *o = &s.orgs.v[0];
    cr_assert_str_eq(o->name, "acme");
    cr_assert_str_eq(o->destination, "acme");
    cr_assert_eq(o->interval, 600);
    cr_assert_not(o->visibility_set);
    cr_assert_eq(o->visibility, ORGM_VIS_PRIVATE);
    cr_assert(strstr(o->source_token_file, "/src/acme"));
    cr_assert(strstr(o->destination_token_file, "/dst/acme"));
    char full[300], err[200];
    cr_assert_eq(orgm_org_robot(o, full, sizeof full, err, sizeof err), QS_OK, "%s", err);
    cr_assert_str_eq(full, "acme+mirror");
    cr_assert_null(s.quay_username_file);
    orgm_settings_free(&s);
}

Test(orgm_settings, seed_values_are_read) {
    setenv("TAG_GLOB", "'[ \"v1.*\", \"latest\" ]'", 1);
    setenv("SYNC_INTERVAL", "900", 1);
    setenv("DRY_RUN", "true", 1);
    setenv("DEBUG", "true", 1);
    setenv("RECREATE_MIRROR_CONFIG", "true", 1);
    setenv("SKOPEO_TIMEOUT_INTERVAL", "600", 1);
    setenv("ORGANIZATIONS", "acme, beta ,", 1);
    put("src", "beta", "t");
    put("dst", "beta", "t");
    put("robots", "beta", "mirror"); /* a short name */
    put("creds", "quay_username", "svc");
    put("creds", "quay_password", "pw");
    char u[256], p[256];
    snprintf(u, sizeof u, "%s/creds/quay_username", dir);
    snprintf(p, sizeof p, "%s/creds/quay_password", dir);
    setenv("QUAY_USERNAME_FILE", u, 1);
    setenv("QUAY_PASSWORD_FILE", p, 1);
    orgm_settings s;
    cr_assert_eq(orgm_settings_load(&s), 0);
    cr_assert_eq(s.tag_globs.n, 2);
    cr_assert_eq(s.sync_interval, 900);
    cr_assert(s.dry_run && s.debug && s.recreate);
    cr_assert_eq(s.log_level, QS_LOG_DEBUG, "DEBUG=true enables debug logging, as in the seed");
    cr_assert_eq(s.skopeo_timeout, 600);
    cr_assert_eq(s.orgs.n, 2);
    cr_assert_eq(s.orgs.v[1].interval, 900, "organizations inherit SYNC_INTERVAL");
    cr_assert_eq(s.orgs.v[1].globs.n, 2, "organizations inherit TAG_GLOB");
    cr_assert_str_eq(s.queue_name, "org-mirror:tasks:acme,beta");
    char full[300], err[200];
    cr_assert_eq(orgm_org_robot(&s.orgs.v[1], full, sizeof full, err, sizeof err), QS_OK);
    cr_assert_str_eq(full, "beta+mirror");
    orgm_settings_free(&s);
}

Test(orgm_settings, every_error_is_listed_at_once) {
    setenv("SOURCE_REGISTRY", "ftp://quay", 1);
    setenv("DESTINATION_REGISTRY", "quay.example.com/path", 1);
    setenv("TAG_GLOB", "[]", 1);
    setenv("SYNC_INTERVAL", "0", 1);
    setenv("SKOPEO_TIMEOUT_INTERVAL", "299", 1);
    setenv("MODE", "sideways", 1);
    setenv("QUAY_USERNAME_FILE", "/x", 1);
    setenv("LOG_LEVEL", "loud", 1);
    const char *const want[] = {"SOURCE_REGISTRY",
                                "DESTINATION_REGISTRY",
                                "TAG_GLOB",
                                "SYNC_INTERVAL",
                                "SKOPEO_TIMEOUT_INTERVAL",
                                "MODE",
                                "QUAY_USERNAME_FILE and QUAY_PASSWORD_FILE",
                                "LOG_LEVEL",
                                NULL};
    load_errors(8, want);
}

Test(orgm_settings, missing_registries_and_organizations) {
    unsetenv("SOURCE_REGISTRY");
    unsetenv("DESTINATION_REGISTRY");
    unsetenv("ORGANIZATIONS");
    const char *const want[] = {"SOURCE_REGISTRY is required", "DESTINATION_REGISTRY is required",
                                "no organizations", NULL};
    load_errors(3, want);
}

Test(orgm_settings, missing_secret_files_are_named) {
    setenv("ORGANIZATIONS", "acme,beta,gamma", 1);
    put("src", "beta", "t");
    put("dst", "beta", "   \n"); /* only whitespace: empty */
    put("robots", "beta", "other+mirror");
    put("src", "gamma", "t");
    put("dst", "gamma", "t");
    const char *const want[] = {"no destination API token for organization beta",
                                "robot \"other+mirror\" belongs to another organization",
                                "no robot for organization gamma", NULL};
    /* gamma's robot file is missing: read as "missing or unreadable" */
    orgm_settings s;
    int n = orgm_settings_load(&s);
    bool gamma = false;
    for (size_t i = 0; i < qs_conf_error_count(s.conf); i++)
        gamma |= strstr(qs_conf_error_at(s.conf, i), "robot name file") &&
                 strstr(qs_conf_error_at(s.conf, i), "gamma");
    cr_assert(gamma, "gamma's missing robot file is reported");
    orgm_settings_free(&s);
    cr_assert_eq(n, 3);
    unsetenv("ROBOT_NAMES_DIR");
    unsetenv("SOURCE_TOKENS_DIR");
    const char *const want2[] = {"SOURCE_TOKENS_DIR is required", want[0], want[2], NULL};
    load_errors(5, want2); /* + a "no robot" for acme and beta each: 3 robots, 1 dir, 1 token */
}

Test(orgm_settings, copy_mode_needs_less) {
    setenv("MODE", "copy", 1);
    setenv("SOURCE_API", "registry", 1);
    unsetenv("SOURCE_TOKENS_DIR");
    unsetenv("DESTINATION_TOKENS_DIR");
    unsetenv("ROBOT_NAMES_DIR");
    orgm_settings s;
    cr_assert_eq(orgm_settings_load(&s), 0);
    cr_assert_eq(s.mode, ORGM_MODE_COPY);
    cr_assert_eq(s.source_kind, ORGM_SOURCE_REGISTRY);
    cr_assert_str_eq(s.mirror_queue, "mirror:tasks");
    orgm_settings_free(&s);
    setenv("MODE", "mirror", 1);
    const char *const want[] = {"SOURCE_API=registry needs MODE=copy", NULL};
    setdir("SOURCE_TOKENS_DIR", "src");
    setdir("DESTINATION_TOKENS_DIR", "dst");
    setdir("ROBOT_NAMES_DIR", "robots");
    load_errors(1, want);
}

Test(orgm_settings, endpoints) {
    orgm_endpoint e;
    char err[200];
    cr_assert_eq(orgm_endpoint_parse("HTTPS://quay.io/", &e, err, sizeof err), QS_OK);
    cr_assert_str_eq(e.url, "https://quay.io");
    cr_assert_str_eq(e.host, "quay.io");
    cr_assert_eq(orgm_endpoint_parse("localhost:5000", &e, err, sizeof err), QS_OK);
    cr_assert_str_eq(e.url, "https://localhost:5000");
    const char *bad[] = {"",           "http://",        "quay.io/ns", "quay.io:0",
                         "quay.io:x1", "quay.io:123456", ":5000",      "a b",
                         "quay.io:",   "s3://bucket",    NULL};
    for (size_t i = 0; bad[i]; i++)
        cr_assert_eq(orgm_endpoint_parse(bad[i], &e, err, sizeof err), QS_EINVAL, "%s", bad[i]);
}

static const orgm_globs *star(void) {
    static orgm_globs g;
    static char *v[] = {"*"};
    g.v = v;
    g.n = 1;
    return &g;
}

Test(orgm_settings, yaml_overrides_and_defaults) {
    const char *yaml = "defaults:\n"
                       "  robot: quay_mirror_robot\n"
                       "  interval: 1200\n"
                       "organizations:\n"
                       "  - internal-docker-io\n"
                       "  - name: internal-acic-images\n"
                       "    destination: acic-images\n"
                       "    robot: acic-images+other\n"
                       "    tag_globs: ['v*', latest]\n"
                       "    interval: 300\n"
                       "    visibility: public\n"
                       "  - name: sandpit\n"
                       "    tag_globs: '[ \"dev-*\" ]'\n";
    qs_conf *c = qs_conf_new();
    orgm_org_defaults d = {star(), 600};
    orgm_orgs orgs;
    cr_assert_eq(orgm_orgs_load_yaml_text(c, yaml, "test", &d, &orgs), 0, "%s",
                 qs_conf_error_count(c) ? qs_conf_error_at(c, 0) : "");
    cr_assert_eq(orgs.n, 3);
    cr_assert_str_eq(orgs.v[0].destination, "internal-docker-io");
    cr_assert_str_eq(orgs.v[0].robot, "quay_mirror_robot");
    cr_assert_eq(orgs.v[0].interval, 1200);
    cr_assert_eq(orgs.v[0].globs.n, 1);
    const orgm_org *o = orgm_orgs_find(&orgs, "internal-acic-images");
    cr_assert_not_null(o);
    cr_assert_str_eq(o->destination, "acic-images");
    cr_assert_eq(o->interval, 300);
    cr_assert_eq(o->globs.n, 2);
    cr_assert_str_eq(o->globs.v[1], "latest");
    cr_assert(o->visibility_set);
    cr_assert_eq(o->visibility, ORGM_VIS_PUBLIC);
    char full[300], err[200];
    cr_assert_eq(orgm_org_robot(o, full, sizeof full, err, sizeof err), QS_OK, "%s", err);
    cr_assert_str_eq(full, "acic-images+other");
    cr_assert_eq(orgm_org_robot(&orgs.v[0], full, sizeof full, err, sizeof err), QS_OK);
    cr_assert_str_eq(full, "internal-docker-io+quay_mirror_robot");
    cr_assert_str_eq(orgs.v[2].globs.v[0], "dev-*");
    cr_assert_null(orgm_orgs_find(&orgs, "nope"));
    orgm_orgs_free(&orgs);
    qs_conf_free(c);
}

Test(orgm_settings, yaml_errors_are_all_reported) {
    const char *yaml = "defaults:\n"
                       "  robots: x\n" /* unknown key */
                       "organizations:\n"
                       "  - name: Bad_Name\n" /* invalid name */
                       "  - name: ok-org\n"
                       "    interval: 0\n"          /* out of range */
                       "    visibility: internal\n" /* not private/public */
                       "    tag_globs: []\n"        /* empty */
                       "    mirror: true\n"         /* unknown key */
                       "  - ok-org\n"               /* duplicate */
                       "  - 42\n"                   /* not a name */
                       "extra: 1\n";                /* unknown top-level key */
    qs_conf *c = qs_conf_new();
    orgm_org_defaults d = {star(), 600};
    orgm_orgs orgs;
    size_t n = orgm_orgs_load_yaml_text(c, yaml, "cfg", &d, &orgs);
    const char *want[] = {"cfg.extra: unknown setting",
                          "defaults.robots: unknown setting",
                          "\"Bad_Name\" is not a valid organization name",
                          "interval: expected seconds",
                          "visibility: expected private or public",
                          "tag_globs: no tag globs",
                          "organizations[1].mirror: unknown setting",
                          "\"ok-org\" is listed twice",
                          "organizations[3]: expected a name",
                          NULL};
    for (size_t w = 0; want[w]; w++) {
        bool found = false;
        for (size_t i = 0; i < qs_conf_error_count(c) && !found; i++)
            found = strstr(qs_conf_error_at(c, i), want[w]) != NULL;
        cr_assert(found, "no error mentions \"%s\"", want[w]);
    }
    cr_assert_eq(n, 9);
    orgm_orgs_free(&orgs);
    qs_conf_free(c);
    c = qs_conf_new();
    cr_assert_eq(orgm_orgs_load_yaml_text(c, "organizations: [a: [", "cfg", &d, &orgs), 1);
    cr_assert(strstr(qs_conf_error_at(c, 0), "line"), "a YAML error says where");
    orgm_orgs_free(&orgs);
    qs_conf_free(c);
    c = qs_conf_new();
    cr_assert_eq(orgm_orgs_load_yaml_text(c, "organizations: []\n", "cfg", &d, &orgs), 1);
    orgm_orgs_free(&orgs);
    qs_conf_free(c);
}

Test(orgm_settings, both_or_neither_organization_sources) {
    setenv("ORG_MIRROR_CONFIG", "/nonexistent.yaml", 1);
    const char *const want[] = {"not both", NULL};
    load_errors(1, want);
    unsetenv("ORGANIZATIONS");
    const char *const want2[] = {"ORG_MIRROR_CONFIG /nonexistent.yaml", NULL};
    load_errors(1, want2);
}

Test(orgm_settings, robot_names) {
    char full[300], err[200];
    cr_assert_eq(orgm_robot_name("acme", "acme+bot", full, sizeof full, err, sizeof err), 0);
    cr_assert_str_eq(full, "acme+bot");
    cr_assert_eq(orgm_robot_name("acme", "bot_1", full, sizeof full, err, sizeof err), 0);
    cr_assert_str_eq(full, "acme+bot_1");
    cr_assert_eq(orgm_robot_name("acme", "acm+bot", full, sizeof full, err, sizeof err), QS_EINVAL);
    cr_assert_eq(orgm_robot_name("acme", "acme+", full, sizeof full, err, sizeof err), QS_EINVAL);
    cr_assert_eq(orgm_robot_name("acme", "Bot", full, sizeof full, err, sizeof err), QS_EINVAL);
    cr_assert_eq(orgm_robot_name("acme", "", full, sizeof full, err, sizeof err), QS_EINVAL);
    cr_assert_eq(orgm_robot_name("acme", "a b", full, sizeof full, err, sizeof err), QS_EINVAL);
}

Test(orgm_settings, organization_names) {
    cr_assert(orgm_name_valid("internal-registry-redhat-io"));
    cr_assert(orgm_name_valid("a.b_c-d"));
    cr_assert_not(orgm_name_valid("a"));
    cr_assert_not(orgm_name_valid("-ab"));
    cr_assert_not(orgm_name_valid("ab-"));
    cr_assert_not(orgm_name_valid("a--b"));
    cr_assert_not(orgm_name_valid("Acme"));
    cr_assert_not(orgm_name_valid("a/b"));
    cr_assert_not(orgm_name_valid(NULL));
}

Test(orgm_settings, long_queue_names_are_hashed) {
    orgm_orgs orgs = {0};
    qs_conf *c = qs_conf_new();
    orgm_org_defaults d = {star(), 600};
    char list[400] = "";
    for (int i = 0; i < 20; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%sorganization-%02d",
                 i ? "," : "", 19 - i);
    setenv("ORGANIZATIONS", list, 1);
    cr_assert_eq(orgm_orgs_load(c, list, NULL, &d, &orgs), 0);
    char q[200];
    orgm_default_queue_name(&orgs, q, sizeof q);
    cr_assert_eq(strlen(q), strlen("org-mirror:tasks:") + 16, "%s", q);
    orgm_orgs_free(&orgs);
    cr_assert_eq(orgm_orgs_load(c, "b-org,a-org", NULL, &d, &orgs), 0);
    orgm_default_queue_name(&orgs, q, sizeof q);
    cr_assert_str_eq(q, "org-mirror:tasks:a-org,b-org", "sorted: the same set, the same queue");
    orgm_orgs_free(&orgs);
    qs_conf_free(c);
}
