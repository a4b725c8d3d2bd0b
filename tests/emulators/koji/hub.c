/* hub.c — the Koji hub's XML-RPC endpoint (POST /kojihub) answered from the fixture.
 *
 * The body is decoded with libshared's xmlrpc.c (so the emulator is as strict as our client)
 * and dispatched by method name: getBuild(nvr | id) → the build struct without the
 * emulator-only "logs" member, or nil when unknown (Koji's strict=False); getBuildLogs(nvr |
 * id) → the build's "logs" array ([] when absent; a fault for an unknown build, as Koji's
 * GenericError "No such build"); getAPIVersion() → the fixture's "api_version" (default 1).
 * Any other method is a fault 1000 "Invalid method: <m>" and an unparseable body a fault 1,
 * both with HTTP 200 like the real hub. emu_check() runs first, so armed faults (a 503, a
 * delay) stand in for a hub that is down. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"
#include "koji_emu.h"
#include "shared/buf.h"
#include "shared/common.h"
#include "shared/log.h"
#include "shared/xmlrpc.h"

int koji_fixture_check(const json_t *fixture, char *err, size_t errlen) {
    const json_t *builds = json_object_get(fixture, "builds");
    if (builds && !json_is_array(builds)) {
        snprintf(err, errlen, "\"builds\" must be an array");
        return -1;
    }
    size_t i;
    const json_t *b;
    json_array_foreach(builds, i, b) {
        if (!json_is_object(b) || !emu_json_str(b, "nvr")) {
            snprintf(err, errlen, "builds[%zu] must be an object with a string \"nvr\"", i);
            return -1;
        }
        const json_t *logs = json_object_get(b, "logs");
        if (logs && !json_is_array(logs)) {
            snprintf(err, errlen, "builds[%zu].logs must be an array", i);
            return -1;
        }
    }
    const json_t *files = json_object_get(fixture, "files");
    if (files && !json_is_object(files)) {
        snprintf(err, errlen, "\"files\" must be an object of path → {\"base64\"|\"path\"}");
        return -1;
    }
    const json_t *v = json_object_get(fixture, "api_version");
    if (v && !json_is_integer(v)) {
        snprintf(err, errlen, "\"api_version\" must be an integer");
        return -1;
    }
    return 0;
}

/* The fixture build a getBuild/getBuildLogs argument names, or NULL. */
static const json_t *find_build(const json_t *arg) {
    size_t i;
    const json_t *b;
    json_array_foreach(json_object_get(koji_fixture, "builds"), i, b) {
        if (json_is_string(arg) && strcmp(emu_json_str(b, "nvr"), json_string_value(arg)) == 0)
            return b;
        if (json_is_integer(arg) &&
            (json_integer_value(json_object_get(b, "id")) == json_integer_value(arg) ||
             json_integer_value(json_object_get(b, "build_id")) == json_integer_value(arg)))
            return b;
    }
    return NULL;
}

static void answer(qs_req *r, const json_t *value) {
    qs_buf out = QS_BUF_INIT;
    if (qs_xmlrpc_encode_response(value, &out) != 0) {
        qs_buf_reset(&out);
        qs_xmlrpc_encode_fault(1, "emulator: cannot encode the answer", &out);
    }
    qs_respond(r, 200, "text/xml", out.data, out.len);
    qs_buf_free(&out);
}

static void fault(qs_req *r, long code, const char *message) {
    qs_buf out = QS_BUF_INIT;
    qs_xmlrpc_encode_fault(code, message, &out);
    qs_respond(r, 200, "text/xml", out.data, out.len);
    qs_buf_free(&out);
}

static void h_hub(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    size_t len = 0;
    const char *body = qs_req_body(r, &len);
    char *method = NULL;
    json_t *params = NULL;
    char err[256] = "";
    if (qs_xmlrpc_decode_call(body, len, &method, &params, err, sizeof err) != 0) {
        char msg[320];
        snprintf(msg, sizeof msg, "<class 'xml.parsers.expat.ExpatError'>: %s", err);
        fault(r, 1, msg);
        return;
    }
    qs_log(QS_LOG_DEBUG, "call", "method", method, NULL);
    const json_t *arg0 = json_array_get(params, 0);
    char msg[300];
    if (strcmp(method, "getAPIVersion") == 0) {
        const json_t *v = json_object_get(koji_fixture, "api_version");
        json_t *one = json_integer(1);
        answer(r, v ? v : one);
        json_decref(one);
    } else if (strcmp(method, "getBuild") == 0) {
        const json_t *b = arg0 ? find_build(arg0) : NULL;
        if (!arg0) {
            fault(r, 1000, "getBuild() missing 1 required positional argument: 'buildInfo'");
        } else if (!b) {
            json_t *nil = json_null();
            answer(r, nil);
        } else {
            json_t *copy = json_deep_copy(b);
            json_object_del(copy, "logs");
            answer(r, copy);
            json_decref(copy);
        }
    } else if (strcmp(method, "getBuildLogs") == 0) {
        const json_t *b = arg0 ? find_build(arg0) : NULL;
        if (!b) {
            snprintf(msg, sizeof msg, "No such build: %s",
                     json_is_string(arg0) ? json_string_value(arg0) : "(id)");
            fault(r, 1000, msg);
        } else {
            const json_t *logs = json_object_get(b, "logs");
            json_t *empty = json_array();
            answer(r, logs ? logs : empty);
            json_decref(empty);
        }
    } else {
        snprintf(msg, sizeof msg, "Invalid method: %.200s", method);
        fault(r, 1000, msg);
    }
    free(method);
    json_decref(params);
}

static const qs_route hub_routes[] = {
    {"POST", "/kojihub", h_hub, NULL, 0},
};

size_t koji_hub_routes(const qs_route **out) {
    *out = hub_routes;
    return QS_ARRAY_LEN(hub_routes);
}
