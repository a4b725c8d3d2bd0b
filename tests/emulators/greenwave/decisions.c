/* decisions.c — Greenwave's decision API (greenwave/api_v1.py, decision.py) answered from
 * per-NVR decisions the fixture or the tests set.
 *
 * POST /api/v1.0/decision checks the body in Greenwave's order and with its messages
 * (a JSON Content-Type, a decodable body, a non-empty object, product_version,
 * decision_context, subject_type, subject_identifier); the answer for a subject with a stored
 * decision is that decision verbatim (so tests may store a malformed one), any other subject
 * misses the one required test, as Greenwave answers for a build without results:
 * policies_satisfied false, "1 of 1 required test results missing" and one
 * test-result-missing requirement. Every request body that reaches the API is logged for the
 * tests (GET /_emulator/decisions/requests). Policies are not emulated: any decision context
 * and product version is answered. Errors are Greenwave's {"message": "..."}.
 *
 * All state is behind one mutex; answers are copies, so handlers on any thread may run. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emu.h"
#include "gw_emu.h"
#include "shared/common.h"

#define MAX_BODY (1u << 20)
#define MAX_LOGGED 1000
#define POLICY_ID "omps_greenwave_emulator_policy"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *decisions; /* {"<nvr>": {decision}} */
static json_t *requests;  /* [body, ...], oldest first */
static char *about_version;
static char *required_test;

static void respond_message(qs_req *r, int status, const char *msg) {
    qs_respond_json(r, status, json_pack("{s:s}", "message", msg));
}

/* {"<nvr>": {decision} | null, ...} merged into `into` (null removes). NULL or the problem. */
static const char *merge_decisions(json_t *into, const json_t *add, char *why, size_t cap) {
    if (!json_is_object(add))
        return "the body must be an object of NVR → decision";
    const char *nvr;
    json_t *d;
    json_object_foreach((json_t *)add, nvr, d) {
        if (!*nvr)
            return "an NVR must not be empty";
        if (!json_is_object(d) && !json_is_null(d)) {
            snprintf(why, cap, "the decision for \"%.200s\" must be an object (or null)", nvr);
            return why;
        }
    }
    json_object_foreach((json_t *)add, nvr, d) {
        if (json_is_null(d))
            json_object_del(into, nvr);
        else
            json_object_set_new(into, nvr, json_deep_copy(d));
    }
    return NULL;
}

int gw_init(const json_t *fixture, const char *version, const char *testcase, char *err,
            size_t errlen) {
    decisions = json_object();
    requests = json_array();
    about_version = strdup(version);
    required_test = strdup(testcase);
    const json_t *d = json_object_get(fixture, "decisions");
    const char *bad = d ? merge_decisions(decisions, d, err, errlen) : NULL;
    if (bad) {
        if (bad != err)
            snprintf(err, errlen, "decisions: %s", bad);
        return -1;
    }
    return decisions && requests && about_version && required_test ? 0 : -1;
}

void gw_free(void) {
    json_decref(decisions);
    json_decref(requests);
    free(about_version);
    free(required_test);
    decisions = requests = NULL;
    about_version = required_test = NULL;
}

/* werkzeug's Request.is_json: application/json or application/<x>+json, parameters allowed. */
static bool json_content_type(const char *ct) {
    if (!ct)
        return false;
    size_t n = strcspn(ct, "; \t");
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return true;
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* Python's truthiness of a JSON value (Greenwave tests `not data.get(...)`). */
static bool truthy(const json_t *v) {
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT:
        return json_object_size(v) > 0;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0;
    case JSON_TRUE:
        return true;
    default:
        return false;
    }
}

static void log_request(json_t *entry) {
    pthread_mutex_lock(&mu);
    if (json_array_size(requests) >= MAX_LOGGED)
        json_array_remove(requests, 0);
    json_array_append_new(requests, entry);
    pthread_mutex_unlock(&mu);
}

/* The answer for a subject without a stored decision: its one required test is missing. */
static json_t *missing_result(const char *type, const char *id) {
    json_t *req = json_pack("{s:{s:s,s:s},s:s,s:s,s:s,s:s,s:n}", "item", "item", id, "type", type,
                            "subject_type", type, "subject_identifier", id, "testcase",
                            required_test, "type", "test-result-missing", "scenario");
    return json_pack("{s:b,s:s,s:[s],s:[],s:[o]}", "policies_satisfied", 0, "summary",
                     "1 of 1 required test results missing", "applicable_policies", POLICY_ID,
                     "satisfied_requirements", "unsatisfied_requirements", req);
}

/* Greenwave's checks of a decision request, in its order; the message of the first failure
 * (and its status in *status), or NULL. */
static const char *check_request(const json_t *data, int *status) {
    *status = 400;
    if (!truthy(data)) {
        *status = 415;
        return "No JSON payload in request";
    }
    if (!json_is_object(data))
        return "The JSON payload must be an object"; /* Greenwave: a 500 (AttributeError) */
    if (!truthy(json_object_get(data, "product_version")))
        return "Missing required product version";
    bool ctx = truthy(json_object_get(data, "decision_context"));
    bool rules = truthy(json_object_get(data, "rules"));
    if (!ctx && !rules)
        return "Either decision_context or rules is required.";
    if (ctx && rules)
        return "Cannot have both decision_context and rules";
    if (rules)
        return "On-demand policies (rules) are not emulated";
    if (json_object_get(data, "subject"))
        return "The emulator takes subject_type and subject_identifier, not subject";
    if (!json_object_get(data, "subject_type"))
        return "Missing required \"subject_type\" parameter";
    if (!json_object_get(data, "subject_identifier"))
        return "Missing required \"subject_identifier\" parameter";
    if (!json_is_string(json_object_get(data, "subject_type")) ||
        !json_is_string(json_object_get(data, "subject_identifier")))
        return "subject_type and subject_identifier must be strings";
    return NULL;
}

static void h_decision(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    size_t len = 0;
    const char *body = qs_req_body(r, &len);
    json_error_t je;
    json_t *data = body ? json_loadb(body, len, JSON_DECODE_ANY, &je) : NULL;
    log_request(data ? json_incref(data) : json_string("<not JSON>"));
    if (!json_content_type(qs_req_header(r, "Content-Type"))) {
        respond_message(r, 415,
                        "Did not attempt to load JSON data because the request Content-Type was "
                        "not 'application/json'.");
    } else if (!data) {
        char msg[300];
        snprintf(msg, sizeof msg, "Failed to decode JSON object: %s", body ? je.text : "empty");
        respond_message(r, 400, msg);
    } else {
        int status = 0;
        const char *bad = check_request(data, &status);
        if (bad) {
            respond_message(r, status, bad);
        } else {
            const char *type = json_string_value(json_object_get(data, "subject_type"));
            const char *id = json_string_value(json_object_get(data, "subject_identifier"));
            pthread_mutex_lock(&mu);
            json_t *d = json_object_get(decisions, id);
            json_t *answer = d ? json_deep_copy(d) : NULL;
            pthread_mutex_unlock(&mu);
            qs_respond_json(r, 200, answer ? answer : missing_result(type, id));
        }
    }
    json_decref(data);
}

static void h_about(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    qs_respond_json(r, 200, json_pack("{s:s}", "version", about_version));
}

/* Anything else: 405 on the API's paths with another method (the fallback takes every
 * method, so the router's own 405 never happens), else 404. */
static void h_not_found(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    const char *p = qs_req_path(r);
    if (strcmp(p, "/api/v1.0/decision") == 0 || strcmp(p, "/api/v1.0/about") == 0)
        qs_respond_error(r, 405, "method_not_allowed", "method not allowed");
    else
        qs_respond_error(r, 404, "not_found", "not found");
}

/* ---- controls (not counted, never faulted) ---- */

static void h_put_decisions(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    json_t *add = qs_req_json(r);
    if (!add)
        return; /* answered 400 already */
    char why[300];
    pthread_mutex_lock(&mu);
    const char *bad = merge_decisions(decisions, add, why, sizeof why);
    size_t n = json_object_size(decisions);
    pthread_mutex_unlock(&mu);
    json_decref(add);
    if (bad)
        respond_message(r, 400, bad);
    else
        qs_respond_json(r, 200, json_pack("{s:b,s:I}", "ok", 1, "decisions", (json_int_t)n));
}

static void h_get_decisions(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    pthread_mutex_lock(&mu);
    json_t *copy = json_deep_copy(decisions);
    pthread_mutex_unlock(&mu);
    qs_respond_json(r, 200, copy);
}

static void h_delete_decisions(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    pthread_mutex_lock(&mu);
    json_object_clear(decisions);
    pthread_mutex_unlock(&mu);
    qs_respond_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void h_get_requests(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    pthread_mutex_lock(&mu);
    json_t *copy = json_deep_copy(requests);
    pthread_mutex_unlock(&mu);
    qs_respond_json(r, 200, copy);
}

static void h_delete_requests(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    pthread_mutex_lock(&mu);
    json_array_clear(requests);
    pthread_mutex_unlock(&mu);
    qs_respond_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static const qs_route api_routes[] = {
    {"POST", "/api/v1.0/decision", h_decision, NULL, MAX_BODY},
    {"GET", "/api/v1.0/about", h_about, NULL, 0},
};

static const qs_route control_routes[] = {
    {"PUT", "/_emulator/decisions", h_put_decisions, NULL, MAX_BODY},
    {"GET", "/_emulator/decisions", h_get_decisions, NULL, 0},
    {"DELETE", "/_emulator/decisions", h_delete_decisions, NULL, 0},
    {"GET", "/_emulator/decisions/requests", h_get_requests, NULL, 0},
    {"DELETE", "/_emulator/decisions/requests", h_delete_requests, NULL, 0},
};

static const qs_route fallback_routes[] = {
    {"*", "/{rest*}", h_not_found, NULL, 0},
};

size_t gw_api_routes(const qs_route **out) {
    *out = api_routes;
    return QS_ARRAY_LEN(api_routes);
}

size_t gw_control_routes(const qs_route **out) {
    *out = control_routes;
    return QS_ARRAY_LEN(control_routes);
}

size_t gw_fallback_routes(const qs_route **out) {
    *out = fallback_routes;
    return QS_ARRAY_LEN(fallback_routes);
}

const char *gw_error_format(int status, const char *code, const char *message, qs_buf *out) {
    QS_UNUSED(code);
    const char *msg = message ? message : "";
    if (status == 404)
        msg = "The requested URL was not found on the server. If you entered the URL manually "
              "please check your spelling and try again.";
    else if (status == 405)
        msg = "The method is not allowed for the requested URL.";
    else if (status == 413)
        msg = "The data value transmitted exceeds the capacity limit.";
    json_t *o = json_pack("{s:s}", "message", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    qs_buf_puts(out, text ? text : "{}");
    free(text);
    json_decref(o);
    return "application/json";
}
