/* test_orgm_plan.c — the mirror config org-mirror sends (every field, Quay's date format,
 * username/password rules), the diff that decides whether a PUT is due (so that a second run
 * writes nothing), and the decision table per repository (create / configure / update /
 * unchanged / skip), with the record the plan endpoint serves. */
#include <criterion/criterion.h>
#include <string.h>

#include "org-mirror/mirrorcfg.h"
#include "org-mirror/plan.h"

static char *glob_v[] = {"*", "v1.*"};
static orgm_globs globs = {glob_v, 2};

static orgm_mirror_want want(void) {
    orgm_mirror_want w = {"quay-sdc.example.com:8443",
                          "internal-docker-io",
                          "team/app",
                          "svc-user",
                          "s3cret",
                          600,
                          "internal-docker-io+quay_mirror_robot",
                          &globs,
                          true,
                          300,
                          1738324800}; /* 2025-01-31T12:00:00Z */
    return w;
}

/* What Quay's GET answers for the config `want()` would write (password absent, a later date). */
static json_t *quay_view(void) {
    return json_pack("{s:b,s:s,s:s,s:s,s:{s:b,s:b,s:{s:n,s:n,s:n}},s:i,s:s,s:n,s:i,s:s,"
                     "s:{s:s,s:[s,s]},s:s,s:i,s:[]}",
                     "is_enabled", 1, "mirror_type", "PULL", "external_reference",
                     "quay-sdc.example.com:8443/internal-docker-io/team/app",
                     "external_registry_username", "svc-user", "external_registry_config",
                     "verify_tls", 1, "unsigned_images", 0, "proxy", "http_proxy", "https_proxy",
                     "no_proxy", "sync_interval", 600, "sync_start_date", "2025-02-07T09:00:00Z",
                     "sync_expiration_date", "sync_retries_remaining", 3, "sync_status", "SUCCESS",
                     "root_rule", "rule_kind", "tag_glob_csv", "rule_value", "v1.*", "*",
                     "robot_username", "internal-docker-io+quay_mirror_robot",
                     "skopeo_timeout_interval", 300, "architecture_filter");
}

Test(orgm_mirrorcfg, the_body_has_every_field) {
    orgm_mirror_want w = want();
    json_t *c = orgm_mirror_config(&w);
    cr_assert_not_null(c);
    json_t *expect =
        json_pack("{s:b,s:s,s:s,s:s,s:i,s:s,s:s,s:{s:s,s:[s,s]},s:{s:b},s:i}", "is_enabled", 1,
                  "external_reference", "quay-sdc.example.com:8443/internal-docker-io/team/app",
                  "external_registry_username", "svc-user", "external_registry_password", "s3cret",
                  "sync_interval", 600, "sync_start_date", "2025-01-31T12:00:00Z", "robot_username",
                  "internal-docker-io+quay_mirror_robot", "root_rule", "rule_kind", "tag_glob_csv",
                  "rule_value", "*", "v1.*", "external_registry_config", "verify_tls", 1,
                  "skopeo_timeout_interval", 300);
    char *got = json_dumps(c, JSON_SORT_KEYS);
    cr_assert(json_equal(c, expect), "%s", got);
    free(got);
    json_decref(expect);
    json_decref(c);
}

Test(orgm_mirrorcfg, no_username_means_no_password) {
    orgm_mirror_want w = want();
    w.username = NULL;
    w.verify_tls = false;
    json_t *c = orgm_mirror_config(&w);
    cr_assert(json_is_null(json_object_get(c, "external_registry_username")));
    cr_assert(json_is_null(json_object_get(c, "external_registry_password")),
              "Quay refuses a password without a username");
    cr_assert(json_is_false(
        json_object_get(json_object_get(c, "external_registry_config"), "verify_tls")));
    json_decref(c);
}

Test(orgm_mirrorcfg, date_format) {
    char d[ORGM_DATE_LEN + 1];
    orgm_format_date(0, d);
    cr_assert_str_eq(d, "1970-01-01T00:00:00Z");
    orgm_format_date(1738324800 + 59, d);
    cr_assert_str_eq(d, "2025-01-31T12:00:59Z");
}

Test(orgm_mirrorcfg, same_config_no_changes) {
    orgm_mirror_want w = want();
    json_t *cur = quay_view();
    const char *changed[ORGM_MAX_CHANGES];
    size_t n = 99;
    cr_assert_eq(orgm_mirror_diff(cur, &w, changed, &n), 0,
                 "glob order, a later sync_start_date and the missing password are no change");
    cr_assert_eq(n, 0);
    /* verify_tls absent: Quay's default (true) */
    json_object_del(cur, "external_registry_config");
    cr_assert_eq(orgm_mirror_diff(cur, &w, changed, &n), 0);
    json_decref(cur);
}

static void expect_change(const char *field, json_t *cur) {
    orgm_mirror_want w = want();
    const char *changed[ORGM_MAX_CHANGES];
    size_t n = 0;
    cr_assert_eq(orgm_mirror_diff(cur, &w, changed, &n), 1, "%s", field);
    cr_assert_str_eq(changed[0], field);
    json_decref(cur);
}

Test(orgm_mirrorcfg, each_field_is_compared) {
    json_t *c;
    expect_change("is_enabled",
                  (c = quay_view(), json_object_set_new(c, "is_enabled", json_false()), c));
    expect_change("external_reference",
                  (c = quay_view(),
                   json_object_set_new(c, "external_reference", json_string("other/ns/r")), c));
    expect_change("external_registry_username",
                  (c = quay_view(),
                   json_object_set_new(c, "external_registry_username",
                                       json_string("(invalid. please re-enter)")),
                   c));
    expect_change(
        "external_registry_username",
        (c = quay_view(), json_object_set_new(c, "external_registry_username", json_null()), c));
    expect_change("sync_interval",
                  (c = quay_view(), json_object_set_new(c, "sync_interval", json_integer(60)), c));
    expect_change("robot_username",
                  (c = quay_view(),
                   json_object_set_new(c, "robot_username", json_string("internal-docker-io+old")),
                   c));
    expect_change("root_rule", (c = quay_view(),
                                json_object_set_new(c, "root_rule",
                                                    json_pack("{s:s,s:[s]}", "rule_kind",
                                                              "tag_glob_csv", "rule_value", "*")),
                                c));
    expect_change("root_rule", (c = quay_view(), json_object_del(c, "root_rule"), c));
    expect_change(
        "external_registry_config.verify_tls",
        (c = quay_view(),
         json_object_set_new(c, "external_registry_config", json_pack("{s:b}", "verify_tls", 0)),
         c));
    expect_change("skopeo_timeout_interval",
                  (c = quay_view(), json_object_del(c, "skopeo_timeout_interval"), c));
}

Test(orgm_mirrorcfg, anonymous_source_compares_null_username) {
    orgm_mirror_want w = want();
    w.username = NULL;
    json_t *cur = quay_view();
    json_object_set_new(cur, "external_registry_username", json_null());
    const char *changed[ORGM_MAX_CHANGES];
    size_t n;
    cr_assert_eq(orgm_mirror_diff(cur, &w, changed, &n), 0);
    json_object_del(cur, "external_registry_username");
    cr_assert_eq(orgm_mirror_diff(cur, &w, changed, &n), 0);
    json_decref(cur);
}

Test(orgm_plan, by_state) {
    orgm_decision d;
    cr_assert(orgm_decide_by_state(NULL, &d));
    cr_assert_eq(d.action, ORGM_ACT_CREATE);
    cr_assert(orgm_decide_by_state("READ_ONLY", &d));
    cr_assert_eq(d.action, ORGM_ACT_SKIP);
    cr_assert(strstr(d.reason, "READ_ONLY"));
    cr_assert(orgm_decide_by_state("ORG_MIRROR", &d));
    cr_assert_eq(d.action, ORGM_ACT_SKIP);
    cr_assert(strstr(d.reason, "organization-level"));
    cr_assert_not(orgm_decide_by_state("NORMAL", &d));
    cr_assert_not(orgm_decide_by_state("MIRROR", &d));
}

Test(orgm_plan, by_config) {
    orgm_mirror_want w = want();
    json_t *cur = quay_view();
    orgm_decision d;
    orgm_decide_by_config("MIRROR", NULL, &w, false, &d);
    cr_assert_eq(d.action, ORGM_ACT_CONFIGURE);
    orgm_decide_by_config("NORMAL", NULL, &w, false, &d);
    cr_assert_eq(d.action, ORGM_ACT_CONFIGURE);
    cr_assert_not(d.set_state, "POST sets the state itself");
    orgm_decide_by_config("MIRROR", cur, &w, false, &d);
    cr_assert_eq(d.action, ORGM_ACT_UNCHANGED);
    cr_assert_eq(d.nchanges, 0);
    orgm_decide_by_config("MIRROR", cur, &w, true, &d);
    cr_assert_eq(d.action, ORGM_ACT_UPDATE, "RECREATE_MIRROR_CONFIG rewrites every config");
    cr_assert_str_eq(d.changes[0], "recreate");
    orgm_decide_by_config("NORMAL", cur, &w, false, &d);
    cr_assert_eq(d.action, ORGM_ACT_UPDATE);
    cr_assert(d.set_state, "a config on a NORMAL repository needs the MIRROR state");
    cr_assert_str_eq(d.changes[0], "state");
    json_object_set_new(cur, "sync_interval", json_integer(86400));
    orgm_decide_by_config("MIRROR", cur, &w, false, &d);
    cr_assert_eq(d.action, ORGM_ACT_UPDATE);
    cr_assert_eq(d.nchanges, 1);
    cr_assert_str_eq(d.changes[0], "sync_interval");
    cr_assert_not(d.set_state);
    json_decref(cur);
}

Test(orgm_plan, visibility) {
    orgm_decision d = {.action = ORGM_ACT_UNCHANGED};
    orgm_decide_visibility(false, true, 0, &d);
    cr_assert_eq(d.action, ORGM_ACT_UNCHANGED, "not set explicitly: existing repos untouched");
    orgm_decide_visibility(true, true, -1, &d);
    cr_assert_eq(d.action, ORGM_ACT_UNCHANGED, "unknown visibility: nothing decided");
    orgm_decide_visibility(true, false, 0, &d);
    cr_assert_eq(d.action, ORGM_ACT_UNCHANGED);
    orgm_decide_visibility(true, true, 0, &d);
    cr_assert_eq(d.action, ORGM_ACT_UPDATE);
    cr_assert(d.set_visibility);
    cr_assert_str_eq(d.changes[0], "visibility");
    orgm_decision s = {.action = ORGM_ACT_SKIP};
    orgm_decide_visibility(true, true, 0, &s);
    cr_assert_not(s.set_visibility, "a skipped repository is not touched");
}

Test(orgm_plan, names_and_outcomes) {
    cr_assert_str_eq(orgm_action_name(ORGM_ACT_CREATE), "create");
    cr_assert_str_eq(orgm_action_name(ORGM_ACT_SKIP), "skip");
    cr_assert_str_eq(orgm_action_name(ORGM_ACT__N), "unknown");
    cr_assert_eq(orgm_outcome_of(ORGM_ACT_CREATE), ORGM_OUT_CREATED);
    cr_assert_eq(orgm_outcome_of(ORGM_ACT_CONFIGURE), ORGM_OUT_CONFIGURED);
    cr_assert_eq(orgm_outcome_of(ORGM_ACT_UPDATE), ORGM_OUT_UPDATED);
    cr_assert_eq(orgm_outcome_of(ORGM_ACT_UNCHANGED), ORGM_OUT_UNCHANGED);
    cr_assert_eq(orgm_outcome_of(ORGM_ACT_SKIP), ORGM_OUT_SKIPPED);
    for (int i = 0; i < ORGM_OUT__N; i++)
        cr_assert_eq(orgm_outcome_parse(orgm_outcome_name((orgm_outcome)i)), i);
    cr_assert_eq(orgm_outcome_parse("bogus"), ORGM_OUT__N);
    cr_assert_eq(orgm_outcome_parse(NULL), ORGM_OUT__N);
}

Test(orgm_plan, records_and_counts) {
    orgm_decision d;
    orgm_mirror_want w = want();
    json_t *cur = quay_view();
    json_object_set_new(cur, "robot_username", json_string("x+y"));
    orgm_decide_by_config("MIRROR", cur, &w, false, &d);
    json_t *r = orgm_result_json("team/app", 7, &d, ORGM_OUT_UPDATED, "MIRROR", NULL, -1, 1000);
    json_t *expect = json_pack("{s:s,s:s,s:s,s:s,s:[s],s:i,s:i}", "repository", "team/app",
                               "action", "update", "outcome", "updated", "state", "MIRROR",
                               "changes", "robot_username", "gen", 7, "at", 1000);
    cr_assert(json_equal(r, expect));
    json_t *f = orgm_result_json("x", 7, NULL, ORGM_OUT_FAILED, NULL, "boom (500)", 3, 1);
    cr_assert(json_is_null(json_object_get(f, "action")));
    cr_assert_str_eq(json_string_value(json_object_get(f, "state")), "absent");
    cr_assert_str_eq(json_string_value(json_object_get(f, "error")), "boom (500)");
    cr_assert_eq(json_integer_value(json_object_get(f, "tags_queued")), 3);
    orgm_decide_by_state("READ_ONLY", &d);
    json_t *s = orgm_result_json("ro", 7, &d, ORGM_OUT_SKIPPED, "READ_ONLY", NULL, -1, 1);
    cr_assert_not_null(json_object_get(s, "reason"));
    orgm_counts c = {0};
    orgm_counts_add(&c, r);
    orgm_counts_add(&c, f);
    orgm_counts_add(&c, f);
    orgm_counts_add(&c, s);
    orgm_counts_add(&c, expect); /* same outcome as r */
    json_t *junk = json_pack("{s:s}", "outcome", "weird");
    orgm_counts_add(&c, junk);
    cr_assert_eq(c.n[ORGM_OUT_UPDATED], 2);
    cr_assert_eq(c.n[ORGM_OUT_FAILED], 2);
    cr_assert_eq(c.n[ORGM_OUT_SKIPPED], 1);
    cr_assert_eq(c.n[ORGM_OUT_CREATED], 0);
    json_decref(junk);
    json_decref(r);
    json_decref(f);
    json_decref(s);
    json_decref(expect);
    json_decref(cur);
}
