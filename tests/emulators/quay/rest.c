/* rest.c — the Quay emulator's REST API v1: state, callers, answers, write log, routing.
 *
 * Quay's management API (reference quay.md Part B) as the org-mirror and appstudio-provisioner
 * services call it: organizations, repositories (extended names with '/'), repository
 * mirror configurations, robots, permissions, default permissions and tags. This file holds
 * what the parts share; the endpoints live in rest_repos.c, rest_mirror.c and rest_orgs.c,
 * the /_emulator/ controls and seeding in rest_controls.c.
 *
 * State is a few JSON objects behind one mutex (rest_internal.h); each handler runs with it
 * held, so a request sees one consistent state. Callers present `Authorization: Bearer T`
 * where T is an API token of the fixture key "api_tokens" (or POST /_emulator/api_tokens):
 * {"token","user","scopes"?,"namespaces"?}. Missing or unknown → 401 invalid_token "Requires
 * authentication"; a scope missing (Quay's implied scopes count) or a namespace outside the
 * token's "namespaces" (or one that does not exist) → 403 insufficient_scope "Unauthorized".
 * Basic credentials and robot tokens are refused, as API v1 does.
 *
 * Answers use Quay's shapes (B.13): the ApiException body for InvalidRequest, Unauthorized,
 * NotFound and ExceedsLicense; {"message"} where Quay lets a DataModelException escape;
 * bare {"detail"} where the mirror and changestate handlers return dicts; Flask's HTML page for
 * an uncaught exception (500). Bodies are encoded as Flask-RESTful does: JSON + "\n", so
 * `return "", 201` is the two characters `""`.
 *
 * Every write (a request other than GET) that reached the API is appended to a log — method,
 * path, status and the request body with passwords and tokens replaced by "<redacted>" —
 * which tests read through GET /_emulator/writes. Robots created here log in at /v2/auth with
 * their token (quay_rest_robot_login); their grants follow their repository permissions. */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "emu.h"
#include "quay_emu.h"
#include "rest_internal.h"
#include "shared/buf.h"
#include "shared/common.h"
#include "shared/digest.h"
#include "shared/log.h"

pthread_mutex_t rest_mu = PTHREAD_MUTEX_INITIALIZER;
rest_state rs;

/* ---- answers ---- */

void rest_json(rest_ctx *c, int status, json_t *answer) {
    if (c->answered) {
        json_decref(answer);
        return;
    }
    c->answered = true;
    c->status = status;
    c->answer = answer;
}

void rest_api_error(rest_ctx *c, int status, const char *type, const char *fmt, ...) {
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    const char *host = qs_req_header(c->r, "Host");
    char url[512];
    snprintf(url, sizeof url, "http://%s/api/v1/error/%s", host ? host : "localhost", type);
    rest_json(c, status,
              json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "detail", detail, "error_message", detail,
                        "error_type", type, "title", type, "type", url, "status", status));
}

void rest_not_found(rest_ctx *c) { rest_api_error(c, 404, "not_found", "Not Found"); }

void rest_unauthorized(rest_ctx *c) {
    if (c->user)
        rest_api_error(c, 403, "insufficient_scope", "Unauthorized");
    else
        rest_api_error(c, 401, "invalid_token", "Requires authentication");
}

static void keyed_text(rest_ctx *c, int status, const char *key, const char *fmt, va_list ap) {
    char text[1024];
    vsnprintf(text, sizeof text, fmt, ap);
    rest_json(c, status, json_pack("{s:s}", key, text));
}

void rest_message(rest_ctx *c, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    keyed_text(c, status, "message", fmt, ap);
    va_end(ap);
}

void rest_detail(rest_ctx *c, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    keyed_text(c, status, "detail", fmt, ap);
    va_end(ap);
}

void rest_empty(rest_ctx *c, int status) {
    rest_json(c, status, status == 204 ? NULL : json_string(""));
}

void rest_server_error(rest_ctx *c) {
    if (c->answered)
        return;
    c->answered = true;
    c->status = 500;
    c->raw = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
             "<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and "
             "was unable to complete your request. Either the server is overloaded or there is "
             "an error in the application.</p>\n";
}

/* ---- callers ---- */

/* Quay's IMPLIED_SCOPES (auth/scopes.py): does `have` grant `want`? */
static bool scope_implies(const char *have, const char *want) {
    if (strcmp(have, want) == 0)
        return true;
    bool repo_rw = strcmp(want, "repo:read") == 0 || strcmp(want, "repo:write") == 0;
    if (strcmp(have, "org:admin") == 0)
        return repo_rw || strcmp(want, "repo:admin") == 0;
    if (strcmp(have, "repo:admin") == 0)
        return repo_rw;
    if (strcmp(have, "repo:write") == 0)
        return strcmp(want, "repo:read") == 0;
    if (strcmp(have, "user:admin") == 0)
        return strcmp(want, "user:read") == 0;
    return false;
}

bool rest_auth(rest_ctx *c, const char *scope) {
    const char *auth = qs_req_header(c->r, "Authorization");
    const char *tok = auth && strncasecmp(auth, "Bearer ", 7) == 0 ? auth + 7 : NULL;
    while (tok && *tok == ' ')
        tok++;
    const json_t *entry = tok && *tok ? json_object_get(rs.tokens, tok) : NULL;
    if (!entry) {
        rest_unauthorized(c);
        return false;
    }
    c->token = entry;
    c->user = json_string_value(json_object_get(entry, "user"));
    if (!scope)
        return true;
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(entry, "scopes"), i, s) {
        if (scope_implies(json_string_value(s), scope))
            return true;
    }
    rest_unauthorized(c);
    return false;
}

bool rest_token_allows(const json_t *token, const char *ns) {
    const json_t *list = json_object_get(token, "namespaces");
    if (!list || strcmp(ns, json_string_value(json_object_get(token, "user"))) == 0)
        return true;
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) {
        if (strcmp(json_string_value(v), ns) == 0)
            return true;
    }
    return false;
}

bool rest_ns_allowed(rest_ctx *c, const char *ns) {
    bool exists = rest_org_exists(ns) || (c->user && strcmp(ns, c->user) == 0);
    if (!exists || !rest_token_allows(c->token, ns)) {
        rest_unauthorized(c);
        return false;
    }
    return true;
}

bool rest_need_body(rest_ctx *c, bool optional) {
    if (c->body_bad) {
        rest_message(c, 400,
                     "Failed to decode JSON object: Expecting value: line 1 column 1 (char 0)");
        return false;
    }
    if (!c->body_sent || json_is_null(c->body)) {
        if (optional)
            return true;
        rest_api_error(c, 400, "invalid_request", "Missing JSON body");
        return false;
    }
    return rest_type(c, c->body, "object");
}

/* ---- jsonschema-like checks ---- */

/* Python's repr() of a JSON value, as jsonschema puts it into its messages. */
static void py_repr(const json_t *v, qs_buf *out) {
    size_t i;
    const char *k;
    const json_t *x;
    switch (json_typeof(v)) {
    case JSON_STRING:
        qs_buf_printf(out, "'%s'", json_string_value(v));
        break;
    case JSON_INTEGER:
        qs_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        qs_buf_printf(out, "%g", json_real_value(v));
        break;
    case JSON_TRUE:
        qs_buf_puts(out, "True");
        break;
    case JSON_FALSE:
        qs_buf_puts(out, "False");
        break;
    case JSON_NULL:
        qs_buf_puts(out, "None");
        break;
    case JSON_ARRAY:
        qs_buf_puts(out, "[");
        json_array_foreach(v, i, x) {
            qs_buf_puts(out, i ? ", " : "");
            py_repr(x, out);
        }
        qs_buf_puts(out, "]");
        break;
    case JSON_OBJECT:
        qs_buf_puts(out, "{");
        i = 0;
        json_object_foreach((json_t *)v, k, x) {
            qs_buf_printf(out, "%s'%s': ", i++ ? ", " : "", k);
            py_repr(x, out);
        }
        qs_buf_puts(out, "}");
        break;
    }
}

static void schema_error(rest_ctx *c, const json_t *v, const char *fmt, const char *arg) {
    qs_buf b = QS_BUF_INIT;
    py_repr(v, &b);
    if (b.len > 300) { /* keep messages bounded */
        b.len = 300;
        b.data[300] = '\0';
        qs_buf_puts(&b, "...");
    }
    qs_buf_printf(&b, fmt, arg);
    rest_api_error(c, 400, "invalid_request", "%s", qs_buf_str(&b));
    qs_buf_free(&b);
}

bool rest_required(rest_ctx *c, const json_t *obj, const char *key) {
    if (json_object_get(obj, key))
        return true;
    rest_api_error(c, 400, "invalid_request", "'%s' is a required property", key);
    return false;
}

static bool type_is(const json_t *v, const char *t, size_t n) {
    if (n == 6 && strncmp(t, "string", n) == 0)
        return json_is_string(v);
    if (n == 7 && strncmp(t, "integer", n) == 0)
        return json_is_integer(v);
    if (n == 7 && strncmp(t, "boolean", n) == 0)
        return json_is_boolean(v);
    if (n == 6 && strncmp(t, "object", n) == 0)
        return json_is_object(v);
    if (n == 5 && strncmp(t, "array", n) == 0)
        return json_is_array(v);
    return n == 4 && strncmp(t, "null", n) == 0 && json_is_null(v);
}

bool rest_type(rest_ctx *c, const json_t *v, const char *types) {
    const char *bar = strchr(types, '|');
    size_t n1 = bar ? (size_t)(bar - types) : strlen(types);
    if (type_is(v, types, n1) || (bar && type_is(v, bar + 1, strlen(bar + 1))))
        return true;
    char want[64];
    if (bar)
        snprintf(want, sizeof want, "'%.*s', '%s'", (int)n1, types, bar + 1);
    else
        snprintf(want, sizeof want, "'%s'", types);
    schema_error(c, v, " is not of type %s", want);
    return false;
}

bool rest_enum(rest_ctx *c, const json_t *v, const char *const *values, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (values[i] ? json_is_string(v) && strcmp(json_string_value(v), values[i]) == 0
                      : json_is_null(v))
            return true;
    }
    qs_buf list = QS_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        qs_buf_printf(&list, i ? ", %s%s%s" : "%s%s%s", values[i] ? "'" : "",
                      values[i] ? values[i] : "None", values[i] ? "'" : "");
    char tail[300];
    snprintf(tail, sizeof tail, " is not one of [%s]", qs_buf_str(&list));
    qs_buf_free(&list);
    schema_error(c, v, "%s", tail);
    return false;
}

bool rest_minmax(rest_ctx *c, const json_t *v, long long min, long long max) {
    char bound[64];
    json_int_t x = json_integer_value(v);
    if (x < min) {
        snprintf(bound, sizeof bound, "%lld", min);
        schema_error(c, v, " is less than the minimum of %s", bound);
        return false;
    }
    if (x > max) {
        snprintf(bound, sizeof bound, "%lld", max);
        schema_error(c, v, " is greater than the maximum of %s", bound);
        return false;
    }
    return true;
}

/* ---- lookups ---- */

bool rest_org_exists(const char *name) { return json_object_get(rs.orgs, name) != NULL; }

json_t *rest_robot(const char *fullname) {
    const char *plus = strchr(fullname, '+');
    if (!plus)
        return NULL;
    char org[256];
    snprintf(org, sizeof org, "%.*s", (int)(plus - fullname), fullname);
    return json_object_get(json_object_get(json_object_get(rs.orgs, org), "robots"), plus + 1);
}

bool rest_user_exists(const char *name) {
    if (strchr(name, '+'))
        return rest_robot(name) != NULL;
    const char *k;
    json_t *t;
    json_object_foreach(rs.tokens, k, t) {
        if (strcmp(json_string_value(json_object_get(t, "user")), name) == 0)
            return true;
    }
    return quay_accounts_exists(name);
}

json_t *rest_repo(const char *ns, const char *name) {
    char key[1400];
    snprintf(key, sizeof key, "%s/%s", ns, name);
    return json_object_get(rs.repos, key);
}

bool rest_private_allowed(const char *ns) {
    const json_t *limit = json_object_get(rs.plans, ns);
    if (!json_is_integer(limit))
        return true;
    json_int_t n = 0;
    const char *k;
    json_t *repo;
    json_object_foreach(rs.repos, k, repo) {
        if (strcmp(json_string_value(json_object_get(repo, "namespace")), ns) == 0 &&
            !json_is_true(json_object_get(repo, "is_public")))
            n++;
    }
    return n < json_integer_value(limit);
}

json_t *rest_avatar(const char *name, const char *kind) {
    char hex[QS_SHA256_HEX_LEN + 1];
    qs_sha256_hex(name, strlen(name), hex);
    hex[32] = '\0';
    return json_pack("{s:s, s:s, s:s, s:s}", "name", name, "hash", hex, "color", "#969696", "kind",
                     kind);
}

void rest_date(long long epoch, char *out, size_t n) {
    time_t t = (time_t)epoch;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%a, %d %b %Y %H:%M:%S -0000", &tm);
}

bool rest_truthy(const char *v, bool def) {
    if (!v)
        return def;
    static const char *const falsy[] = {"false", "0", "", "null", "none", "no", "off"};
    for (size_t i = 0; i < QS_ARRAY_LEN(falsy); i++)
        if (strcasecmp(v, falsy[i]) == 0)
            return false;
    return true;
}

bool rest_name_ok(const char *s) {
    size_t n = strlen(s);
    if (n < 2 || n > 255)
        return false;
    bool after_sep = true; /* a separator must sit between two alphanumerics */
    for (size_t i = 0; i < n; i++) {
        bool alnum = islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]);
        if (!alnum && !(strchr("._-", s[i]) && !after_sep))
            return false;
        after_sep = !alnum;
    }
    return !after_sep;
}

/* ---- the write log ---- */

/* A copy of `v` with every password and token value replaced by "<redacted>". */
static json_t *redacted(const json_t *v) {
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x) { json_array_append_new(out, redacted(x)); }
        return out;
    }
    if (!json_is_object(v))
        return json_deep_copy(v);
    json_t *out = json_object();
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        bool secret = strstr(k, "password") || strstr(k, "token") || strstr(k, "secret");
        json_object_set_new(out, k,
                            secret && !json_is_null(x) ? json_string("<redacted>") : redacted(x));
    }
    return out;
}

static void record_write(const rest_ctx *c) {
    if (strcmp(c->method, "GET") == 0 || strcmp(c->method, "HEAD") == 0)
        return;
    json_t *body =
        c->body ? redacted(c->body) : (c->body_bad ? json_string("<not JSON>") : json_null());
    json_array_append_new(rs.writes,
                          json_pack("{s:s, s:s, s:i, s:o}", "method", c->method, "path",
                                    qs_req_path(c->r), "status", c->status, "body", body));
}

/* ---- running a handler ---- */

typedef void (*rest_fn)(rest_ctx *c, const char *arg);

static void rest_run(qs_req *r, rest_fn fn, const char *arg) {
    if (emu_check(r))
        return;
    rest_ctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.method = qs_req_method(r);
    size_t len = 0;
    const char *body = qs_req_body(r, &len);
    if (len) {
        c.body_sent = true;
        c.body = json_loadb(body, len, JSON_DECODE_ANY, NULL);
        c.body_bad = c.body == NULL;
    }
    pthread_mutex_lock(&rest_mu);
    fn(&c, arg);
    if (c.appr_target) { /* App Registry changevisibility: outside the lock (see appr.c) */
        char *target = c.appr_target;
        c.appr_target = NULL;
        pthread_mutex_unlock(&rest_mu);
        json_t *answer = NULL;
        int status = quay_appr_visibility(r, target, c.body, &answer);
        free(target);
        pthread_mutex_lock(&rest_mu);
        rest_json(&c, status, answer);
    }
    rest_server_error(&c); /* a handler that did not answer */
    record_write(&c);
    pthread_mutex_unlock(&rest_mu);
    if (c.raw) {
        qs_respond(r, c.status, "text/html; charset=utf-8", c.raw, strlen(c.raw));
    } else if (c.status == 204 || !c.answer) {
        qs_respond(r, c.status, "application/json", "", 0);
    } else {
        char *s = json_dumps(c.answer, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        qs_buf out = QS_BUF_INIT;
        qs_buf_puts(&out, s ? s : "null");
        qs_buf_puts(&out, "\n");
        qs_respond(r, c.status, "application/json", out.data, out.len);
        qs_buf_free(&out);
        free(s);
    }
    json_decref(c.answer);
    json_decref(c.body);
}

static void do_repos(rest_ctx *c, const char *arg) {
    QS_UNUSED(arg);
    if (strcmp(c->method, "GET") == 0)
        rest_repo_list(c);
    else if (strcmp(c->method, "POST") == 0)
        rest_repo_create(c);
    else
        rest_message(c, 405, "The method is not allowed for the requested URL.");
}

static void do_repo_path(rest_ctx *c, const char *rest) { rest_repo_path(c, rest); }

static void do_org_create(rest_ctx *c, const char *arg) {
    QS_UNUSED(arg);
    rest_org_create(c);
}

static void do_org_path(rest_ctx *c, const char *rest) { rest_org_path(c, rest); }

static void do_unknown(rest_ctx *c, const char *arg) {
    QS_UNUSED(arg);
    rest_not_found(c);
}

static void h_repos(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    rest_run(r, do_repos, NULL);
}

static void h_repo_path(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    rest_run(r, do_repo_path, qs_req_param(r, "rest"));
}

static void h_org_create(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    rest_run(r, do_org_create, NULL);
}

static void h_org_path(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    rest_run(r, do_org_path, qs_req_param(r, "rest"));
}

static void h_unknown(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    rest_run(r, do_unknown, NULL);
}

/* ---- /v2/auth logins of the robots made here ---- */

static void add_grant(json_t *grants, const char *repo, const char *a1, const char *a2,
                      const char *a3) {
    json_t *acts = json_array();
    json_array_append_new(acts, json_string(a1));
    if (a2)
        json_array_append_new(acts, json_string(a2));
    if (a3)
        json_array_append_new(acts, json_string(a3));
    json_array_append_new(grants, json_pack("{s:s, s:o}", "repository", repo, "actions", acts));
}

/* The registry actions a robot holds: pull where it may read (or the repository is public),
 * push where it may write and the state allows it (READ_ONLY: nobody; MIRROR: only the
 * mirror's robot), delete with admin. */
static json_t *robot_grants(const char *robot) {
    json_t *grants = json_array();
    const char *key;
    json_t *repo;
    json_object_foreach(rs.repos, key, repo) {
        const char *role =
            json_string_value(json_object_get(json_object_get(repo, "permissions"), robot));
        const char *state = json_string_value(json_object_get(repo, "state"));
        const char *mirror_robot =
            json_string_value(json_object_get(json_object_get(repo, "mirror"), "robot_username"));
        bool may_push =
            role && strcmp(role, "read") != 0 &&
            (strcmp(state, "NORMAL") == 0 ||
             (strcmp(state, "MIRROR") == 0 && mirror_robot && strcmp(mirror_robot, robot) == 0));
        bool admin = role && strcmp(role, "admin") == 0;
        if (may_push)
            add_grant(grants, key, "pull", "push", admin ? "delete" : NULL);
        else if (role || json_is_true(json_object_get(repo, "is_public")))
            add_grant(grants, key, "pull", NULL, NULL);
    }
    return grants;
}

bool quay_rest_robot_login(const char *user, const char *pass, quay_identity *id) {
    pthread_mutex_lock(&rest_mu);
    const json_t *robot = rs.orgs ? rest_robot(user) : NULL;
    const char *want = json_string_value(json_object_get(robot, "token"));
    bool ok = want && qs_consttime_equal(pass, strlen(pass), want, strlen(want));
    if (ok) {
        id->username = strdup(user);
        id->robot = true;
        id->grants = robot_grants(user);
    }
    pthread_mutex_unlock(&rest_mu);
    return ok;
}

static const qs_route rest_routes[] = {
    {"*", "/api/v1/repository", h_repos, NULL, 0},
    {"*", "/api/v1/repository/{rest*}", h_repo_path, NULL, 0},
    {"POST", "/api/v1/organization/", h_org_create, NULL, 0},
    {"*", "/api/v1/organization/{rest*}", h_org_path, NULL, 2u << 20},
    {"*", "/api/v1/{rest*}", h_unknown, NULL, 0},
};

/* The REST part of $QUAY_EMU_FIXTURE: "api_tokens" and the seed keys. Exits 2 when bad. */
static void load_fixture(void) {
    char err[512] = "";
    json_t *fx = emu_load_fixture(getenv("QUAY_EMU_FIXTURE"), err, sizeof err);
    json_t *robots = json_object();
    pthread_mutex_lock(&rest_mu);
    const char *why = fx ? rest_seed_apply(fx, robots, err, sizeof err) : err;
    pthread_mutex_unlock(&rest_mu);
    json_decref(robots);
    json_decref(fx);
    if (why) {
        qs_log(QS_LOG_ERROR, "QUAY_EMU_FIXTURE: REST API part", "error", why, NULL);
        exit(2);
    }
}

size_t quay_rest_routes(const qs_route **out) {
    pthread_mutex_lock(&rest_mu);
    if (!rs.tokens) {
        rs.tokens = json_object();
        rs.orgs = json_object();
        rs.repos = json_object();
        rs.plans = json_object();
        rs.writes = json_array();
    }
    pthread_mutex_unlock(&rest_mu);
    load_fixture();
    *out = rest_routes;
    return QS_ARRAY_LEN(rest_routes);
}
