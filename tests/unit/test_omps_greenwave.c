/* test_omps_greenwave.c — omps's Greenwave gate (greenwave.c): the `greenwave` mapping of
 * OMPS_CONF_FILE (accepted with url, context and product_version; '/' appended to the url;
 * absent or null = off; unknown keys, missing, empty or non-string values and non-http URLs
 * refused, each named), and check_build / get_version against the Greenwave emulator: the
 * exact request, satisfied, unsatisfied, a stored decision without policies_satisfied, error
 * statuses, a body that is not JSON, Greenwave down — each with the original's id, status,
 * message and greenwave_response. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_spawn.h"
#include "omps/conf_file.h"
#include "omps/errors.h"
#include "omps/greenwave.h"
#include "omps/settings.h"
#include "shared/common.h"
#include "shared/config.h"
#include "shared/log.h"

/* ---- helpers ---- */

static size_t parse(const char *yaml, omps_conf_file *out, qs_conf *errs) {
    json_t *root = NULL;
    char err[256] = "";
    cr_assert_eq(qs_yaml_parse(yaml, strlen(yaml), &root, err, sizeof err), 0, "%s", err);
    size_t n = omps_conf_file_parse(root, "conf.yaml", out, errs);
    json_decref(root);
    return n;
}

static bool has_error(qs_conf *errs, const char *needle) {
    for (size_t i = 0; i < qs_conf_error_count(errs); i++)
        if (strstr(qs_conf_error_at(errs, i), needle))
            return true;
    return false;
}

static void dump_errors(qs_conf *errs) {
    for (size_t i = 0; i < qs_conf_error_count(errs); i++)
        cr_log_info("error: %s", qs_conf_error_at(errs, i));
}

static void quiet(void) {
    qs_log_init("test_omps_greenwave", QS_LOG_ERROR);
    unsetenv("OMPS_CONF_FILE");
}

TestSuite(omps_greenwave_conf, .init = quiet);

/* ---- configuration ---- */

Test(omps_greenwave_conf, a_complete_mapping_is_accepted_and_the_url_gets_its_slash) {
    qs_conf *errs = qs_conf_new();
    omps_conf_file f;
    size_t n = parse("organizations: {o: {}}\n"
                     "greenwave:\n"
                     "  url: https://greenwave.example.com/api-root\n"
                     "  context: osbs_push_operator_manifests\n"
                     "  product_version: cvp\n",
                     &f, errs);
    dump_errors(errs);
    cr_assert_eq(n, 0);
    cr_assert(omps_greenwave_enabled(&f.greenwave));
    cr_assert_str_eq(f.greenwave.url, "https://greenwave.example.com/api-root/");
    cr_assert_str_eq(f.greenwave.context, "osbs_push_operator_manifests");
    cr_assert_str_eq(f.greenwave.product_version, "cvp");
    cr_assert_null(omps_conf_file_value(&f, "greenwave"), "not one of the scalar settings");
    omps_conf_file_free(&f);
    cr_assert_not(omps_greenwave_enabled(&f.greenwave), "freed and zeroed");

    /* a url that ends with '/' keeps exactly one */
    n = parse("greenwave: {url: 'http://127.0.0.1:9/', context: c, product_version: p}\n", &f,
              errs);
    cr_assert_eq(n, 0);
    cr_assert_str_eq(f.greenwave.url, "http://127.0.0.1:9/");
    omps_conf_file_free(&f);
    qs_conf_free(errs);
}

Test(omps_greenwave_conf, absent_or_null_means_off) {
    qs_conf *errs = qs_conf_new();
    omps_conf_file f;
    cr_assert_eq(parse("default_release_version: 1.0.0\n", &f, errs), 0);
    cr_assert_not(omps_greenwave_enabled(&f.greenwave));
    cr_assert_null(f.greenwave.url);
    omps_conf_file_free(&f);
    cr_assert_eq(parse("greenwave:\n", &f, errs), 0);
    cr_assert_not(omps_greenwave_enabled(&f.greenwave));
    omps_conf_file_free(&f);
    cr_assert_eq(omps_conf_file_parse(NULL, "x", &f, errs), 0);
    cr_assert_not(omps_greenwave_enabled(&f.greenwave));
    omps_conf_file_free(&f);
    cr_assert_eq(qs_conf_error_count(errs), 0);
    qs_conf_free(errs);
}

Test(omps_greenwave_conf, every_problem_is_named) {
    static const char *const cases[][2] = {
        {"greenwave: yes\n", "conf.yaml: greenwave must be a mapping with url, context and "
                             "product_version"},
        {"greenwave: [a]\n", "greenwave must be a mapping"},
        {"greenwave: {context: c, product_version: p}\n", "conf.yaml: greenwave.url is required"},
        {"greenwave: {url: 'http://g/', product_version: p}\n", "greenwave.context is required"},
        {"greenwave: {url: 'http://g/', context: c}\n", "greenwave.product_version is required"},
        {"greenwave: {url: 'http://g/', context: [c], product_version: p}\n",
         "greenwave.context must be a string"},
        {"greenwave: {url: 'http://g/', context: c, product_version: 7}\n",
         "greenwave.product_version must be a string"},
        {"greenwave: {url: 'http://g/', context: '', product_version: p}\n",
         "greenwave.context must not be empty"},
        {"greenwave: {url: 'ftp://g/', context: c, product_version: p}\n",
         "greenwave.url must be an http:// or https:// URL, got \"ftp://g/\""},
        {"greenwave: {url: 'https://u:pw@g.example/', context: c, product_version: p}\n",
         "greenwave.url must not carry credentials (user:password@)"},
        {"greenwave: {url: 'http://g/', context: c, product_version: p, decision_context: x}\n",
         "conf.yaml: greenwave.decision_context: unknown key (known: url, context, "
         "product_version)"},
    };
    for (size_t i = 0; i < QS_ARRAY_LEN(cases); i++) {
        qs_conf *errs = qs_conf_new();
        omps_conf_file f;
        size_t n = parse(cases[i][0], &f, errs);
        dump_errors(errs);
        cr_assert_eq(n, 1, "case %zu: %zu problems", i, n);
        cr_assert(has_error(errs, cases[i][1]), "case %zu: %s", i, qs_conf_error_at(errs, 0));
        cr_assert_not(omps_greenwave_enabled(&f.greenwave), "case %zu: a bad mapping stays off", i);
        omps_conf_file_free(&f);
        qs_conf_free(errs);
    }
    /* all at once, with the file's other problems */
    qs_conf *errs = qs_conf_new();
    omps_conf_file f;
    size_t n = parse("greenwave: {url: 5, colour: blue}\nkojihub: typo\n", &f, errs);
    dump_errors(errs);
    cr_assert(has_error(errs, "greenwave.url must be a string"));
    cr_assert(has_error(errs, "greenwave.colour: unknown key"));
    cr_assert(has_error(errs, "greenwave.context is required"));
    cr_assert(has_error(errs, "greenwave.product_version is required"));
    cr_assert(has_error(errs, "conf.yaml: kojihub: unknown key"));
    cr_assert_eq(n, 5);
    omps_conf_file_free(&f);
    qs_conf_free(errs);
}

Test(omps_greenwave_conf, the_settings_loader_takes_it_from_omps_conf_file) {
    char dir[] = "/tmp/test_omps_greenwave.XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[96];
    snprintf(path, sizeof path, "%s/omps.yaml", dir);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs("greenwave:\n  url: http://greenwave.local\n  context: ctx\n  product_version: pv\n", fp);
    fclose(fp);
    setenv("OMPS_CONF_FILE", path, 1);
    omps_settings s;
    int n = omps_settings_load(&s);
    dump_errors(s.conf);
    cr_assert_eq(n, 0);
    cr_assert(omps_greenwave_enabled(&s.file.greenwave));
    cr_assert_str_eq(s.file.greenwave.url, "http://greenwave.local/");
    omps_settings_free(&s);
    unlink(path);
    rmdir(dir);
}

/* ---- check_build and get_version against the emulator ---- */

static emu_proc emu;
static qs_http *http;
static omps_greenwave_conf gw;

static void start_emulator(void) {
    quiet();
    emu_prepare(&emu);
    char fixture[160];
    emu_write_file(
        &emu, "fixture.json",
        "{\"decisions\": {\"good-1.0-1\": {\"policies_satisfied\": true,"
        " \"summary\": \"All required tests passed\", \"unsatisfied_requirements\": []}}}",
        fixture, sizeof fixture);
    char env_fixture[220];
    snprintf(env_fixture, sizeof env_fixture, "GREENWAVE_EMU_FIXTURE=%s", fixture);
    const char *env[] = {env_fixture, "GREENWAVE_EMU_VERSION=2.1.0-test", NULL};
    emu_start(&emu, "greenwave", env);
    qs_http_opts o = QS_HTTP_OPTS_INIT;
    o.max_attempts = 1;
    o.timeout_ms = 10000;
    http = qs_http_new(&o);
    char url[96];
    snprintf(url, sizeof url, "%s/", emu.base);
    gw.url = strdup(url);
    gw.context = strdup("osbs_push_operator_manifests");
    gw.product_version = strdup("cvp");
}

static void stop_emulator(void) {
    omps_greenwave_conf_free(&gw);
    qs_http_free(http);
    emu_stop(&emu);
}

TestSuite(omps_greenwave, .init = start_emulator, .fini = stop_emulator, .timeout = 60);

static void put_decisions(const char *json) {
    cr_assert_eq(emu_call(&emu, "PUT", "/_emulator/decisions", json, NULL), 200);
}

static void fault(const char *json) {
    cr_assert_eq(emu_call(&emu, "POST", "/_emulator/faults", json, NULL), 201);
}

/* e's answer body as compact sorted JSON (malloc'd). */
static char *answer(const omps_error *e) {
    json_t *j = omps_error_json(e);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

Test(omps_greenwave, satisfied_passes_and_the_request_is_greenwaves) {
    omps_error e = {0};
    cr_assert_eq(omps_greenwave_check(&gw, http, "good-1.0-1", &e), 0, "%s", e.message);
    cr_assert_eq(e.status, 0);
    cr_assert_null(e.greenwave_response);
    qs_buf b = QS_BUF_INIT;
    cr_assert_eq(emu_call(&emu, "GET", "/_emulator/decisions/requests", NULL, &b), 200);
    json_t *reqs = json_loads(qs_buf_str(&b), 0, NULL);
    qs_buf_free(&b);
    cr_assert_eq(json_array_size(reqs), 1);
    char *got = json_dumps(json_array_get(reqs, 0), JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(got, "{\"decision_context\":\"osbs_push_operator_manifests\","
                          "\"product_version\":\"cvp\",\"subject_identifier\":\"good-1.0-1\","
                          "\"subject_type\":\"koji_build\"}");
    free(got);
    json_decref(reqs);
    cr_assert_eq(emu_calls(&emu, "POST /api/v1.0/decision"), 1);
}

Test(omps_greenwave, an_unknown_build_is_unsatisfied_with_greenwaves_answer) {
    omps_error e = {0};
    cr_assert_neq(omps_greenwave_check(&gw, http, "nobody-1.0-1", &e), 0);
    cr_assert_eq(e.status, 400);
    cr_assert_str_eq(e.id, "GreenwaveUnsatisfiedError");
    cr_assert_str_eq(e.message, "Policies for nvr nobody-1.0-1 were not satisfied");
    cr_assert(json_is_false(json_object_get(e.greenwave_response, "policies_satisfied")));
    cr_assert_str_eq(json_string_value(json_object_get(e.greenwave_response, "summary")),
                     "1 of 1 required test results missing");
    const json_t *req =
        json_array_get(json_object_get(e.greenwave_response, "unsatisfied_requirements"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(req, "type")), "test-result-missing");
    cr_assert_str_eq(json_string_value(json_object_get(req, "subject_identifier")), "nobody-1.0-1");
    char *body = answer(&e);
    cr_assert(strstr(body, "\"error\":\"GreenwaveUnsatisfiedError\",\"greenwave_response\":{"),
              "%s", body);
    cr_assert(strstr(body, "\"status\":400"), "%s", body);
    free(body);
    omps_error_clear(&e);
    cr_assert_null(e.greenwave_response);
}

Test(omps_greenwave, only_true_satisfies) {
    put_decisions("{\"f-1-1\": {\"policies_satisfied\": false, \"summary\": \"1 of 2 required "
                  "tests failed\"}, \"s-1-1\": {\"policies_satisfied\": \"false\"}, "
                  "\"n-1-1\": {\"policies_satisfied\": null}}");
    static const char *const nvrs[] = {"f-1-1", "s-1-1", "n-1-1"};
    for (size_t i = 0; i < QS_ARRAY_LEN(nvrs); i++) {
        omps_error e = {0};
        cr_assert_neq(omps_greenwave_check(&gw, http, nvrs[i], &e), 0, "%s", nvrs[i]);
        cr_assert_eq(e.status, 400, "%s", nvrs[i]);
        cr_assert_str_eq(e.id, "GreenwaveUnsatisfiedError");
        cr_assert(json_object_get(e.greenwave_response, "policies_satisfied"));
        omps_error_clear(&e);
    }
}

Test(omps_greenwave, a_decision_without_the_key_is_a_greenwave_error) {
    put_decisions("{\"odd-1-1\": {\"summary\": \"no key\"}}");
    omps_error e = {0};
    cr_assert_neq(omps_greenwave_check(&gw, http, "odd-1-1", &e), 0);
    cr_assert_eq(e.status, 500);
    cr_assert_str_eq(e.id, "GreenwaveError");
    cr_assert_str_eq(e.message, "Missing key 'policies_satisfied' in answer for nvr odd-1-1");
    char *body = answer(&e);
    cr_assert_str_eq(body, "{\"error\":\"GreenwaveError\",\"greenwave_response\":{\"summary\":"
                           "\"no key\"},\"message\":\"Missing key 'policies_satisfied' in answer "
                           "for nvr odd-1-1\",\"status\":500}");
    free(body);
    omps_error_clear(&e);
}

Test(omps_greenwave, an_error_status_is_a_greenwave_error_with_the_body) {
    fault("{\"path_prefix\":\"/api/v1.0/decision\",\"status\":500,\"count\":1}");
    omps_error e = {0};
    cr_assert_neq(omps_greenwave_check(&gw, http, "good-1.0-1", &e), 0);
    cr_assert_eq(e.status, 500);
    cr_assert_str_eq(e.id, "GreenwaveError");
    cr_assert_str_eq(e.message, "Greenwave unexpected response code: 500");
    cr_assert_str_eq(json_string_value(json_object_get(e.greenwave_response, "message")),
                     "fault injected by the emulator");
    omps_error_clear(&e);
    /* Greenwave's own refusal (a 404 for a context without policies) keeps its body too */
    fault("{\"path_prefix\":\"/api/v1.0/decision\",\"status\":404,\"count\":1,\"body\":"
          "\"{\\\"message\\\": \\\"Cannot find any applicable policies\\\"}\"}");
    cr_assert_neq(omps_greenwave_check(&gw, http, "good-1.0-1", &e), 0);
    cr_assert_str_eq(e.message, "Greenwave unexpected response code: 404");
    cr_assert_str_eq(json_string_value(json_object_get(e.greenwave_response, "message")),
                     "Cannot find any applicable policies");
    omps_error_clear(&e);
    /* a body that is not JSON gives {} */
    fault("{\"path_prefix\":\"/api/v1.0/decision\",\"status\":502,\"count\":1,\"body\":\"Bad "
          "Gateway\"}");
    cr_assert_neq(omps_greenwave_check(&gw, http, "good-1.0-1", &e), 0);
    cr_assert_str_eq(e.message, "Greenwave unexpected response code: 502");
    cr_assert(json_is_object(e.greenwave_response));
    cr_assert_eq(json_object_size(e.greenwave_response), 0);
    omps_error_clear(&e);
    /* and a 200 that is not JSON misses the key */
    fault("{\"path_prefix\":\"/api/v1.0/decision\",\"status\":200,\"count\":1,\"body\":\"ok\"}");
    cr_assert_neq(omps_greenwave_check(&gw, http, "good-1.0-1", &e), 0);
    cr_assert_str_eq(e.message, "Missing key 'policies_satisfied' in answer for nvr good-1.0-1");
    omps_error_clear(&e);
}

Test(omps_greenwave, transient_failures_are_retried_by_a_retrying_client) {
    fault("{\"path_prefix\":\"/api/v1.0/decision\",\"status\":503,\"count\":2}");
    qs_http_opts o = QS_HTTP_OPTS_INIT;
    o.backoff_base_ms = 10;
    qs_http *retrying = qs_http_new(&o);
    omps_error e = {0};
    cr_assert_eq(omps_greenwave_check(&gw, retrying, "good-1.0-1", &e), 0, "%s", e.message);
    cr_assert_eq(emu_calls(&emu, "POST /api/v1.0/decision"), 3);
    qs_http_free(retrying);
}

Test(omps_greenwave, greenwave_down_is_request_failed) {
    omps_greenwave_conf down = {strdup("http://127.0.0.1:1/"), strdup("c"), strdup("p")};
    omps_error e = {0};
    cr_assert_neq(omps_greenwave_check(&down, http, "good-1.0-1", &e), 0);
    cr_assert_eq(e.status, 500);
    cr_assert_str_eq(e.id, "GreenwaveError");
    cr_assert(strncmp(e.message, "Request failed: ", 16) == 0 && strlen(e.message) > 16, "%s",
              e.message);
    cr_assert(json_is_object(e.greenwave_response));
    cr_assert_eq(json_object_size(e.greenwave_response), 0);
    omps_error_clear(&e);
    char why[300] = "";
    cr_assert_neq(omps_greenwave_version(&down, http, NULL, 0, why, sizeof why), 0);
    cr_assert(strncmp(why, "Failed to get Greenwave version: ", 33) == 0 && strlen(why) > 33, "%s",
              why);
    omps_greenwave_conf_free(&down);
}

Test(omps_greenwave, version_for_the_health_check) {
    char version[64] = "", why[300] = "";
    cr_assert_eq(omps_greenwave_version(&gw, http, version, sizeof version, why, sizeof why), 0,
                 "%s", why);
    cr_assert_str_eq(version, "2.1.0-test");
    cr_assert_eq(emu_calls(&emu, "GET /api/v1.0/about"), 1);
    fault("{\"path_prefix\":\"/api/v1.0/about\",\"status\":503,\"count\":1}");
    cr_assert_neq(omps_greenwave_version(&gw, http, version, sizeof version, why, sizeof why), 0);
    char want[200];
    snprintf(want, sizeof want,
             "Failed to get Greenwave version: 503 Server Error: Service Unavailable for url: "
             "%s/api/v1.0/about",
             emu.base);
    cr_assert_str_eq(why, want);
    fault("{\"path_prefix\":\"/api/v1.0/about\",\"status\":200,\"count\":1,\"body\":\"{}\"}");
    cr_assert_neq(omps_greenwave_version(&gw, http, NULL, 0, why, sizeof why), 0);
    cr_assert_str_eq(why, "Failed to get Greenwave version: no \"version\" in the answer");
}

Test(omps_greenwave, the_emulator_refuses_bad_bodies_as_greenwave_does) {
    qs_buf b = QS_BUF_INIT;
    cr_assert_eq(emu_call(&emu, "POST", "/api/v1.0/decision",
                          "{\"decision_context\":\"c\",\"subject_type\":\"koji_build\"}", &b),
                 415, "no JSON Content-Type: %s", qs_buf_str(&b));
    qs_buf_free(&b);
    /* with the Content-Type, through a request of our own */
    static const char *const hdrs[] = {"Content-Type: application/json", NULL};
    static const char *const cases[][3] = {
        {"{\"decision_context\":\"c\"}", "400", "Missing required product version"},
        {"{\"product_version\":\"p\"}", "400", "Either decision_context or rules is required."},
        {"{\"product_version\":\"p\",\"decision_context\":\"c\",\"subject_identifier\":\"x\"}",
         "400", "Missing required \"subject_type\" parameter"},
        {"{\"product_version\":\"p\",\"decision_context\":\"c\",\"subject_type\":\"koji_build\"}",
         "400", "Missing required \"subject_identifier\" parameter"},
        {"{}", "415", "No JSON payload in request"},
        {"{\"product_version\":", "400", "Failed to decode JSON object: "},
    };
    char url[128];
    snprintf(url, sizeof url, "%s/api/v1.0/decision", emu.base);
    for (size_t i = 0; i < QS_ARRAY_LEN(cases); i++) {
        qs_http_req req = QS_HTTP_REQ_INIT;
        req.method = "POST";
        req.url = url;
        req.headers = hdrs;
        req.body = cases[i][0];
        req.body_len = strlen(cases[i][0]);
        qs_http_resp resp = {0};
        cr_assert_eq(qs_http_do(http, &req, &resp), 0);
        cr_assert_eq(resp.status, atol(cases[i][1]), "case %zu: %ld", i, resp.status);
        json_t *j = json_loads(qs_buf_str(&resp.body), 0, NULL);
        const char *msg = json_string_value(json_object_get(j, "message"));
        cr_assert(msg && strncmp(msg, cases[i][2], strlen(cases[i][2])) == 0, "case %zu: %s", i,
                  qs_buf_str(&resp.body));
        json_decref(j);
        qs_http_resp_free(&resp);
    }
    /* the control refuses a decision that is not an object */
    cr_assert_eq(emu_call(&emu, "PUT", "/_emulator/decisions", "{\"x-1-1\": 5}", NULL), 400);
    cr_assert_eq(emu_call(&emu, "GET", "/api/v1.0/nothing", NULL, NULL), 404);
    cr_assert_eq(emu_call(&emu, "GET", "/api/v1.0/decision", NULL, NULL), 405);
}
