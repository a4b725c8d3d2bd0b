/* emu.c — fault injection, call counting and startup shared by every emulator.
 *
 * Tests steer an emulator through its /_emulator/ routes: they arm faults ("the next 2
 * GET /v2/auth answer 502 after 100 ms") and read how often each endpoint was called. The
 * state is two process-wide structures behind one mutex: an ordered list of armed faults and
 * a JSON object of call counters keyed "METHOD path". emu_check() — the first call of every
 * emulated handler — bumps the counter, picks the first armed fault whose method and path
 * prefix match, consumes one of its shots under the lock, and then sleeps and answers outside
 * the lock so a slow fault never stalls other requests. A fault without a body answers with
 * the server's error formatter, so each emulator's faults look like its API's real errors. */
#include "emu.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared/common.h"
#include "shared/log.h"

typedef struct {
    char *path_prefix;
    char *method; /* NULL = any */
    int status;   /* 0 = delay only */
    long count;   /* shots left; -1 = until cleared */
    long delay_ms;
    char *body; /* NULL = the server's error body */
} emu_fault;

static pthread_mutex_t emu_mu = PTHREAD_MUTEX_INITIALIZER;
static emu_fault *faults;
static size_t nfaults;
static json_t *calls; /* {"METHOD path": n} */

/* What one request got from the fault list (copied out of the lock). */
typedef struct {
    bool hit;
    int status;
    long delay_ms;
    char *body;
} emu_shot;

static void fault_free(emu_fault *f) {
    free(f->path_prefix);
    free(f->method);
    free(f->body);
}

static bool is_control_path(const char *path) { return strncmp(path, "/_emulator/", 11) == 0; }

static void count_call(const char *method, const char *path) {
    char key[1024];
    snprintf(key, sizeof key, "%s %s", method, path);
    if (!calls)
        calls = json_object();
    json_t *n = json_object_get(calls, key);
    json_object_set_new(calls, key, json_integer(n ? json_integer_value(n) + 1 : 1));
}

static bool fault_matches(const emu_fault *f, const char *method, const char *path) {
    if (f->method && strcmp(f->method, method) != 0)
        return false;
    return strncmp(path, f->path_prefix, strlen(f->path_prefix)) == 0;
}

/* Consume one shot of the first matching fault. Called with the lock held. */
static emu_shot take_shot(const char *method, const char *path) {
    emu_shot shot = {false, 0, 0, NULL};
    for (size_t i = 0; i < nfaults; i++) {
        emu_fault *f = &faults[i];
        if (!fault_matches(f, method, path))
            continue;
        shot.hit = true;
        shot.status = f->status;
        shot.delay_ms = f->delay_ms;
        shot.body = f->body ? strdup(f->body) : NULL;
        if (f->count > 0 && --f->count == 0) {
            fault_free(f);
            memmove(&faults[i], &faults[i + 1], (nfaults - i - 1) * sizeof *faults);
            nfaults--;
        }
        break;
    }
    return shot;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void answer_fault(qs_req *r, const emu_shot *shot) {
    if (!shot->body) {
        qs_respond_error(r, shot->status, "emulated_fault", "fault injected by the emulator");
        return;
    }
    const char *ct = (shot->body[0] == '{' || shot->body[0] == '[') ? "application/json"
                                                                    : "text/plain; charset=utf-8";
    qs_respond(r, shot->status, ct, shot->body, strlen(shot->body));
}

bool emu_check(qs_req *r) {
    const char *method = qs_req_method(r), *path = qs_req_path(r);
    if (is_control_path(path))
        return false;
    pthread_mutex_lock(&emu_mu);
    count_call(method, path);
    emu_shot shot = take_shot(method, path);
    pthread_mutex_unlock(&emu_mu);
    if (!shot.hit)
        return false;
    if (shot.delay_ms > 0)
        sleep_ms(shot.delay_ms);
    bool answered = shot.status != 0;
    if (answered)
        answer_fault(r, &shot);
    free(shot.body);
    return answered;
}

/* ---- control routes ---- */

/* Validate a fault request body into *f. NULL on success, else the reason. */
static const char *fault_parse(const json_t *j, emu_fault *f) {
    const char *prefix = emu_json_str(j, "path_prefix");
    const json_t *status = json_object_get(j, "status");
    const json_t *count = json_object_get(j, "count");
    const json_t *delay = json_object_get(j, "delay_ms");
    const json_t *body = json_object_get(j, "body");
    if (!prefix || prefix[0] != '/')
        return "path_prefix must be a string starting with '/'";
    if (!json_is_integer(status) && status)
        return "status must be an integer";
    f->status = status ? (int)json_integer_value(status) : 0;
    if (f->status != 0 && (f->status < 100 || f->status > 599))
        return "status must be 0 (delay only) or 100..599";
    if (count && (!json_is_integer(count) || json_integer_value(count) == 0 ||
                  json_integer_value(count) < -1))
        return "count must be a positive integer or -1";
    f->count = count ? (long)json_integer_value(count) : 1;
    if (delay && (!json_is_integer(delay) || json_integer_value(delay) < 0 ||
                  json_integer_value(delay) > 600000))
        return "delay_ms must be an integer in 0..600000";
    f->delay_ms = delay ? (long)json_integer_value(delay) : 0;
    if (f->status == 0 && f->delay_ms == 0)
        return "a fault needs a status or a delay_ms";
    if (body && !json_is_string(body))
        return "body must be a string";
    const char *method = emu_json_str(j, "method");
    f->path_prefix = strdup(prefix);
    f->method = method && *method ? strdup(method) : NULL;
    f->body = body ? strdup(json_string_value(body)) : NULL;
    return NULL;
}

static void h_fault_add(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    json_t *j = qs_req_json(r);
    if (!j)
        return;
    emu_fault f = {0};
    const char *why = fault_parse(j, &f);
    json_decref(j);
    if (why) {
        fault_free(&f);
        qs_respond_error(r, 400, "invalid_fault", "%s", why);
        return;
    }
    pthread_mutex_lock(&emu_mu);
    emu_fault *grown = realloc(faults, (nfaults + 1) * sizeof *faults);
    if (grown) {
        faults = grown;
        faults[nfaults++] = f;
    }
    pthread_mutex_unlock(&emu_mu);
    if (!grown) {
        fault_free(&f);
        qs_respond_error(r, 500, "out_of_memory", "out of memory");
        return;
    }
    qs_respond_json(r, 201, json_pack("{s:b}", "ok", 1));
}

static void h_fault_clear(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    pthread_mutex_lock(&emu_mu);
    for (size_t i = 0; i < nfaults; i++)
        fault_free(&faults[i]);
    free(faults);
    faults = NULL;
    nfaults = 0;
    pthread_mutex_unlock(&emu_mu);
    qs_respond_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void h_fault_list(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    json_t *arr = json_array();
    pthread_mutex_lock(&emu_mu);
    for (size_t i = 0; i < nfaults; i++) {
        const emu_fault *f = &faults[i];
        json_array_append_new(arr, json_pack("{s:s, s:s?, s:i, s:I, s:I, s:s?}", "path_prefix",
                                             f->path_prefix, "method", f->method, "status",
                                             f->status, "count", (json_int_t)f->count, "delay_ms",
                                             (json_int_t)f->delay_ms, "body", f->body));
    }
    pthread_mutex_unlock(&emu_mu);
    qs_respond_json(r, 200, arr);
}

static void h_calls_get(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    pthread_mutex_lock(&emu_mu);
    json_t *copy = calls ? json_deep_copy(calls) : json_object();
    pthread_mutex_unlock(&emu_mu);
    qs_respond_json(r, 200, copy);
}

static void h_calls_reset(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    pthread_mutex_lock(&emu_mu);
    json_decref(calls);
    calls = NULL;
    pthread_mutex_unlock(&emu_mu);
    qs_respond_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void h_health(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    qs_respond_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static const qs_route control_routes[] = {
    {"POST", "/_emulator/faults", h_fault_add, NULL, 0},
    {"DELETE", "/_emulator/faults", h_fault_clear, NULL, 0},
    {"GET", "/_emulator/faults", h_fault_list, NULL, 0},
    {"GET", "/_emulator/calls", h_calls_get, NULL, 0},
    {"DELETE", "/_emulator/calls", h_calls_reset, NULL, 0},
    {"GET", "/_emulator/health", h_health, NULL, 0},
};

size_t emu_control_routes(const qs_route **out) {
    *out = control_routes;
    return sizeof control_routes / sizeof control_routes[0];
}

int emu_routes_append(qs_route **all, size_t *n, const qs_route *add, size_t nadd) {
    qs_route *grown = realloc(*all, (*n + nadd) * sizeof **all);
    if (!grown)
        return -1;
    memcpy(grown + *n, add, nadd * sizeof *add);
    *all = grown;
    *n += nadd;
    return 0;
}

/* ---- fixtures and startup ---- */

json_t *emu_load_fixture(const char *path, char *err, size_t errlen) {
    if (!path)
        return json_object();
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        snprintf(err, errlen, "%s: line %d: %s", path, je.line, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        snprintf(err, errlen, "%s: the fixture must be a JSON object", path);
        json_decref(j);
        return NULL;
    }
    return j;
}

const char *emu_json_str(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void write_port_file(unsigned port) {
    const char *path = getenv("EMU_PORT_FILE");
    if (!path || !*path)
        return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "%u\n", port);
    fclose(f);
    rename(tmp, path); /* atomic: a reader never sees a half-written file */
}

int emu_serve(const char *name, const char *listen, const qs_route *routes, size_t nroutes,
              qs_error_formatter formatter) {
    qs_server_opts o = QS_SERVER_OPTS_INIT;
    o.listen_addr = listen;
    o.service = name;
    o.no_builtin = true;
    o.error_formatter = formatter;
    char err[256] = "";
    qs_server *s = qs_server_new(&o, routes, nroutes, err, sizeof err);
    if (!s || qs_server_start(s, err, sizeof err) != 0) {
        qs_log(QS_LOG_ERROR, "cannot start", "error", err, "listen", listen, NULL);
        if (s)
            qs_server_free(s);
        return 1;
    }
    char port[16];
    snprintf(port, sizeof port, "%u", qs_server_port(s));
    write_port_file(qs_server_port(s));
    qs_log(QS_LOG_INFO, "listening", "listen", listen, "port", port, NULL);
    qs_wait_for_shutdown();
    qs_server_stop(s, 5.0);
    qs_server_free(s);
    qs_log(QS_LOG_INFO, "stopped", NULL);
    return 0;
}

int emu_collect_routes(const emu_table_fn *tables, size_t ntables, qs_route **routes,
                       size_t *nroutes) {
    *routes = NULL;
    *nroutes = 0;
    for (size_t i = 0; i < ntables; i++) {
        const qs_route *t;
        size_t n = tables[i](&t);
        if (emu_routes_append(routes, nroutes, t, n) != 0) {
            free(*routes);
            *routes = NULL;
            return -1;
        }
    }
    return 0;
}

const char *emu_env(const char *name, const char *def) {
    const char *v = getenv(name);
    return v && *v ? v : def;
}

void emu_start_process(const char *service, const char *level_var) {
    qs_signals_init();
    qs_log_level level = QS_LOG_INFO;
    qs_log_level_parse(emu_env(level_var, "info"), &level);
    qs_log_init(service, level);
}
