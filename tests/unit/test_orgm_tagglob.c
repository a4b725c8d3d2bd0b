/* test_orgm_tagglob.c — TAG_GLOB as the seed wrote it (a JSON array, shell-quoted or not) and
 * as a comma list; invalid globs refused with a reason; matching and set comparison. */
#include <criterion/criterion.h>
#include <string.h>

#include "org-mirror/tagglob.h"
#include "shared/common.h"

static orgm_globs parse_ok(const char *text) {
    orgm_globs g;
    char err[200] = "";
    int rc = orgm_globs_parse(text, &g, err, sizeof err);
    cr_assert_eq(rc, QS_OK, "%s: %s", text, err);
    return g;
}

static void parse_bad(const char *text, const char *why) {
    orgm_globs g;
    char err[200] = "";
    cr_assert_eq(orgm_globs_parse(text, &g, err, sizeof err), QS_EINVAL, "%s accepted", text);
    cr_assert_eq(g.n, 0);
    cr_assert(strstr(err, why), "%s: reason \"%s\" lacks \"%s\"", text, err, why);
}

Test(orgm_tagglob, the_seed_default_with_its_shell_quotes) {
    /* the ConfigMap literal TAG_GLOB='[ "*" ]' keeps the single quotes */
    orgm_globs g = parse_ok("'[ \"*\" ]'");
    cr_assert_eq(g.n, 1);
    cr_assert_str_eq(g.v[0], "*");
    orgm_globs_free(&g);
    g = parse_ok("[ \"*\" ]");
    cr_assert_eq(g.n, 1);
    cr_assert_str_eq(g.v[0], "*");
    orgm_globs_free(&g);
}

Test(orgm_tagglob, json_array_keeps_order_and_drops_duplicates) {
    orgm_globs g = parse_ok("  [\"v1.*\", \"latest\", \"v1.*\", \"release-[0-9]*\"] ");
    cr_assert_eq(g.n, 3);
    cr_assert_str_eq(g.v[0], "v1.*");
    cr_assert_str_eq(g.v[1], "latest");
    cr_assert_str_eq(g.v[2], "release-[0-9]*");
    orgm_globs_free(&g);
}

Test(orgm_tagglob, comma_list) {
    orgm_globs g = parse_ok(" v1.* ,latest,\tstable ");
    cr_assert_eq(g.n, 3);
    cr_assert_str_eq(g.v[0], "v1.*");
    cr_assert_str_eq(g.v[2], "stable");
    orgm_globs_free(&g);
    g = parse_ok("\"*\"");
    cr_assert_eq(g.n, 1);
    cr_assert_str_eq(g.v[0], "*");
    orgm_globs_free(&g);
}

Test(orgm_tagglob, bad_values_are_refused_with_a_reason) {
    parse_bad("[]", "no tag globs");
    parse_bad("", "no tag globs");
    parse_bad("[\"*\", 3]", "#2 is not a string");
    parse_bad("[\"*\"", "not a JSON array");
    parse_bad("{\"a\":1}", "is not a tag glob"); /* not "[": a comma list of one bad glob */
    parse_bad("a,,b", "empty tag glob");
    parse_bad("[\"has space\"]", "is not a tag glob");
    parse_bad("[\"a/b\"]", "is not a tag glob");
    parse_bad("[\"v[1\"]", "is not a tag glob");
    parse_bad("[\"\"]", "is not a tag glob");
    char long_glob[200];
    memset(long_glob, 'a', 129);
    long_glob[129] = '\0';
    parse_bad(long_glob, "is not a tag glob");
}

Test(orgm_tagglob, null_text_is_an_error) {
    orgm_globs g;
    char err[100];
    cr_assert_eq(orgm_globs_parse(NULL, &g, err, sizeof err), QS_EINVAL);
}

Test(orgm_tagglob, yaml_values) {
    orgm_globs g;
    char err[200];
    json_t *arr = json_pack("[s,s]", "v*", "latest");
    cr_assert_eq(orgm_globs_from_json(arr, &g, err, sizeof err), QS_OK);
    cr_assert_eq(g.n, 2);
    orgm_globs_free(&g);
    json_decref(arr);
    json_t *str = json_string("[\"a\",\"b\"]");
    cr_assert_eq(orgm_globs_from_json(str, &g, err, sizeof err), QS_OK);
    cr_assert_eq(g.n, 2);
    orgm_globs_free(&g);
    json_decref(str);
    json_t *num = json_integer(3);
    cr_assert_eq(orgm_globs_from_json(num, &g, err, sizeof err), QS_EINVAL);
    json_decref(num);
    json_t *empty = json_array();
    cr_assert_eq(orgm_globs_from_json(empty, &g, err, sizeof err), QS_EINVAL);
    json_decref(empty);
}

Test(orgm_tagglob, matching_is_fnmatch_union) {
    orgm_globs g = parse_ok("v1.*, latest, rc-[0-9]");
    cr_assert(orgm_globs_match(&g, "v1.2"));
    cr_assert(orgm_globs_match(&g, "latest"));
    cr_assert(orgm_globs_match(&g, "rc-7"));
    cr_assert_not(orgm_globs_match(&g, "v2.0"));
    cr_assert_not(orgm_globs_match(&g, "rc-x"));
    cr_assert_not(orgm_globs_match(&g, "latest2"));
    orgm_globs_free(&g);
}

Test(orgm_tagglob, set_comparison_with_quays_rule_value) {
    orgm_globs g = parse_ok("[\"a\",\"b\"]");
    json_t *same = json_pack("[s,s]", "b", "a");
    json_t *dup = json_pack("[s,s,s]", "b", "a", "a");
    json_t *more = json_pack("[s,s,s]", "a", "b", "c");
    json_t *less = json_pack("[s]", "a");
    json_t *bad = json_pack("[s,i]", "a", 1);
    cr_assert(orgm_globs_equal_json(&g, same));
    cr_assert(orgm_globs_equal_json(&g, dup));
    cr_assert_not(orgm_globs_equal_json(&g, more));
    cr_assert_not(orgm_globs_equal_json(&g, less));
    cr_assert_not(orgm_globs_equal_json(&g, bad));
    cr_assert_not(orgm_globs_equal_json(&g, NULL));
    json_t *out = orgm_globs_to_json(&g), *want = json_pack("[s,s]", "a", "b");
    cr_assert(json_equal(out, want));
    json_decref(want);
    char text[16];
    orgm_globs_format(&g, text, sizeof text);
    cr_assert_str_eq(text, "a, b");
    orgm_globs c;
    cr_assert_eq(orgm_globs_copy(&c, &g), QS_OK);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.v[1], "b");
    orgm_globs_free(&c);
    json_decref(out);
    json_decref(same);
    json_decref(dup);
    json_decref(more);
    json_decref(less);
    json_decref(bad);
    orgm_globs_free(&g);
}
