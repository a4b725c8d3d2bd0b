/* test_prov_names.c — the appstudio-provisioner's names: sanitising for Quay and Kubernetes
 * (upper case, dots, dashes, overlong names, names that collide after sanitising), the names
 * of a component in both organization modes, the namespace template. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "appstudio-provisioner/names.h"
#include "shared/common.h"

/* Quay's validate_username, written out independently of names.c. */
static bool quay_username_ok(const char *s) {
    size_t n = strlen(s);
    if (n < 2 || n > 255)
        return false;
    bool need_alnum = true;
    for (size_t i = 0; i < n; i++) {
        bool alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');
        if (alnum) {
            need_alnum = false;
        } else if (strchr("._-", s[i]) && !need_alnum) {
            need_alnum = true;
        } else {
            return false;
        }
    }
    return !need_alnum;
}

/* Quay's repository rule (extended names): [a-z0-9][.a-z0-9_-]* segments joined by '/'. */
static bool quay_repo_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return false;
    bool start = true;
    for (size_t i = 0; i < n; i++) {
        bool alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');
        if (start) {
            if (!alnum)
                return false;
            start = false;
        } else if (s[i] == '/') {
            start = true;
        } else if (!alnum && !strchr("._-", s[i])) {
            return false;
        }
    }
    return !start;
}

/* RFC 1123 subdomain (Secret names). */
static bool k8s_name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');
        if (!alnum && !strchr("-.", s[i]))
            return false;
        if (!alnum && (i == 0 || i == n - 1))
            return false;
        if (s[i] == '.' && (s[i - 1] == '-' || s[i + 1] == '-'))
            return false;
    }
    return true;
}

static const prov_naming per_ws = {PROV_ORG_PER_WORKSPACE, "appstudio-", NULL, "{workspace}",
                                   "quay.io"};
static const prov_naming shared = {PROV_ORG_SHARED, "", "redhat-user-workloads", "{workspace}",
                                   "quay.io"};

Test(prov_names, valid_names_are_kept_as_they_are) {
    char out[PROV_NAME_LEN];
    cr_assert_not(prov_sanitize("my-app.v2_x", &PROV_RULE_REPO, out, sizeof out));
    cr_assert_str_eq(out, "my-app.v2_x");
    cr_assert_not(prov_sanitize("david", &PROV_RULE_ORG, out, sizeof out));
    cr_assert_str_eq(out, "david");
}

Test(prov_names, upper_case_is_lowered_and_marked_with_a_hash) {
    char out[PROV_NAME_LEN];
    cr_assert(prov_sanitize("MyApp", &PROV_RULE_REPO, out, sizeof out));
    cr_assert_eq(strncmp(out, "myapp-", 6), 0, "got %s", out);
    cr_assert_eq(strlen(out), strlen("myapp-") + PROV_HASH_LEN, "got %s", out);
    cr_assert(quay_repo_ok(out));
    char again[PROV_NAME_LEN];
    prov_sanitize("MyApp", &PROV_RULE_REPO, again, sizeof again);
    cr_assert_str_eq(out, again, "the hash is stable");
}

Test(prov_names, invalid_characters_become_separators_and_runs_collapse) {
    char out[PROV_NAME_LEN];
    cr_assert(prov_sanitize("--a!!b..c__d-.e--", &PROV_RULE_ORG, out, sizeof out));
    /* runs keep their first separator; the ends lose theirs */
    cr_assert_eq(strncmp(out, "a-b.c_d-e-", 10), 0, "got %s", out);
    cr_assert(quay_username_ok(out), "got %s", out);
    cr_assert(prov_sanitize("a b/c", &PROV_RULE_ROBOT, out, sizeof out));
    cr_assert_eq(strncmp(out, "a_b_c_", 6), 0, "robots use '_' for what is invalid: %s", out);
}

Test(prov_names, dots_and_dashes_are_fine_in_quay_names_but_not_repeated) {
    char out[PROV_NAME_LEN];
    cr_assert_not(prov_sanitize("team.a-b", &PROV_RULE_ORG, out, sizeof out));
    cr_assert(prov_sanitize("team..a", &PROV_RULE_ORG, out, sizeof out));
    cr_assert(quay_username_ok(out));
    cr_assert(prov_sanitize("a.-b", &PROV_RULE_SECRET, out, sizeof out));
    cr_assert(k8s_name_ok(out), "got %s", out);
}

Test(prov_names, three_hundred_characters_are_cut_to_fit) {
    char in[301];
    memset(in, 'a', 300);
    in[300] = '\0';
    const prov_name_rule *rules[] = {&PROV_RULE_ORG, &PROV_RULE_REPO, &PROV_RULE_REPO_SEGMENT,
                                     &PROV_RULE_ROBOT, &PROV_RULE_SECRET};
    for (size_t i = 0; i < QS_ARRAY_LEN(rules); i++) {
        char out[PROV_NAME_LEN];
        cr_assert(prov_sanitize(in, rules[i], out, sizeof out));
        cr_assert_eq(strlen(out), rules[i]->max, "rule %zu: %zu", i, strlen(out));
        cr_assert(prov_name_valid(out, rules[i]));
    }
    /* a cut right after a separator must not leave it at the end */
    char dashed[301];
    for (int i = 0; i < 300; i++)
        dashed[i] = i % 2 ? '-' : 'b';
    dashed[300] = '\0';
    char out[PROV_NAME_LEN];
    prov_sanitize(dashed, &PROV_RULE_ORG, out, sizeof out);
    cr_assert(quay_username_ok(out), "got %s", out);
    cr_assert_leq(strlen(out), PROV_RULE_ORG.max);
}

Test(prov_names, names_that_collide_after_sanitising_stay_apart) {
    const char *inputs[] = {"my-app", "My-App", "my_app",  "my.app",
                            "my app", "MY-APP", "my--app", "-my-app-"};
    char outs[QS_ARRAY_LEN(inputs)][PROV_NAME_LEN];
    for (size_t i = 0; i < QS_ARRAY_LEN(inputs); i++) {
        prov_sanitize(inputs[i], &PROV_RULE_REPO, outs[i], sizeof outs[i]);
        cr_assert(quay_repo_ok(outs[i]), "%s -> %s", inputs[i], outs[i]);
        for (size_t k = 0; k < i; k++)
            cr_assert_str_neq(outs[i], outs[k], "%s and %s both became %s", inputs[i], inputs[k],
                              outs[i]);
    }
    /* two long names differing only beyond the cut */
    char a[301], b[301], oa[PROV_NAME_LEN], ob[PROV_NAME_LEN];
    memset(a, 'x', 300);
    memset(b, 'x', 300);
    a[300] = b[300] = '\0';
    b[299] = 'y';
    prov_sanitize(a, &PROV_RULE_ORG, oa, sizeof oa);
    prov_sanitize(b, &PROV_RULE_ORG, ob, sizeof ob);
    cr_assert_str_neq(oa, ob);
}

Test(prov_names, nothing_valid_left_gives_the_hash_alone) {
    char out[PROV_NAME_LEN];
    cr_assert(prov_sanitize("!!!", &PROV_RULE_ORG, out, sizeof out));
    cr_assert_eq(strlen(out), PROV_HASH_LEN);
    cr_assert(quay_username_ok(out));
    cr_assert(prov_sanitize("a", &PROV_RULE_ORG, out, sizeof out), "one character is too short");
    cr_assert(quay_username_ok(out), "got %s", out);
}

Test(prov_names, a_component_in_per_workspace_mode) {
    prov_names n;
    cr_assert_eq(prov_names_for(&per_ws, "david", "backend", &n), QS_OK);
    cr_assert_str_eq(n.org, "appstudio-david");
    cr_assert_str_eq(n.repo, "backend");
    cr_assert_str_eq(n.push_robot, "backend_push");
    cr_assert_str_eq(n.pull_robot, "backend_pull");
    cr_assert_str_eq(n.push_secret, "backend-image-push");
    cr_assert_str_eq(n.pull_secret, "backend-image-pull");
    cr_assert_str_eq(n.namespace_, "david");
    cr_assert_str_eq(n.image, "quay.io/appstudio-david/backend");
    char full[600];
    prov_robot_full(n.org, n.push_robot, full, sizeof full);
    cr_assert_str_eq(full, "appstudio-david+backend_push");
}

Test(prov_names, a_component_in_shared_mode) {
    prov_names n;
    cr_assert_eq(prov_names_for(&shared, "david", "backend", &n), QS_OK);
    cr_assert_str_eq(n.org, "redhat-user-workloads");
    cr_assert_str_eq(n.repo, "david/backend");
    cr_assert(quay_repo_ok(n.repo));
    cr_assert(quay_username_ok(n.push_robot), "got %s", n.push_robot);
    cr_assert_eq(strncmp(n.push_robot, "david_backend_", 14), 0, "got %s", n.push_robot);
    cr_assert_str_eq(n.image, "quay.io/redhat-user-workloads/david/backend");
    /* workspace and component are kept apart even when '_' joins them */
    prov_names m;
    prov_names_for(&shared, "david_a", "b", &n);
    prov_names_for(&shared, "david", "a_b", &m);
    cr_assert_str_neq(n.push_robot, m.push_robot);
    cr_assert_str_neq(n.repo, m.repo);
}

Test(prov_names, the_worst_inputs_still_give_valid_names_everywhere) {
    char ws[254], comp[254];
    memset(ws, 'W', 253);
    ws[253] = '\0';
    for (int i = 0; i < 253; i++)
        comp[i] = "A.-_!"[i % 5];
    comp[253] = '\0';
    const prov_naming modes[] = {per_ws, shared};
    const prov_naming loose = {PROV_ORG_PER_WORKSPACE, "Pre_", NULL, "ns", "q.io"};
    for (size_t m = 0; m < 2; m++) {
        prov_names n;
        prov_naming nm = modes[m];
        nm.namespace_template = "ns"; /* the namespace is checked on its own below */
        cr_assert_eq(prov_names_for(&nm, ws, comp, &n), QS_OK);
        cr_assert(quay_username_ok(n.org), "org %s", n.org);
        cr_assert(quay_repo_ok(n.repo), "repo %s", n.repo);
        cr_assert(quay_username_ok(n.push_robot), "robot %s", n.push_robot);
        cr_assert(quay_username_ok(n.pull_robot), "robot %s", n.pull_robot);
        cr_assert_leq(strlen(n.org) + 1 + strlen(n.push_robot), 255, "full robot name fits");
        cr_assert(k8s_name_ok(n.push_secret), "secret %s", n.push_secret);
        cr_assert(k8s_name_ok(n.pull_secret), "secret %s", n.pull_secret);
    }
    prov_names n;
    cr_assert_eq(prov_names_for(&loose, "X", "c", &n), QS_OK);
    cr_assert(quay_username_ok(n.org), "org %s", n.org);
    cr_assert_neq(strcmp(n.org, "pre_x"), 0, "changed, so hashed");
}

Test(prov_names, the_namespace_template) {
    prov_naming nm = per_ws;
    prov_names n;
    nm.namespace_template = "{workspace}-tenant";
    cr_assert_eq(prov_names_for(&nm, "david", "c", &n), QS_OK);
    cr_assert_str_eq(n.namespace_, "david-tenant");
    cr_assert_eq(prov_names_for(&per_ws, "David", "c", &n), QS_EINVAL,
                 "an upper-case workspace is no namespace");
    char longws[70];
    memset(longws, 'a', 64);
    longws[64] = '\0';
    cr_assert_eq(prov_names_for(&per_ws, longws, "c", &n), QS_EINVAL, "over 63");
    cr_assert(prov_namespace_valid("a--b"));
    cr_assert_not(prov_namespace_valid("-a"));
    cr_assert_not(prov_namespace_valid("a.b"));
}

Test(prov_names, api_input) {
    cr_assert(prov_input_valid("My.App_1"));
    cr_assert_not(prov_input_valid(""));
    cr_assert_not(prov_input_valid("a/b"));
    cr_assert_not(prov_input_valid("a b"));
    cr_assert_not(prov_input_valid("a\x01"));
    char big[300];
    memset(big, 'a', 254);
    big[254] = '\0';
    cr_assert_not(prov_input_valid(big));
    big[253] = '\0';
    cr_assert(prov_input_valid(big));
}
