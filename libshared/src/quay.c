/* quay.c — the core of the Quay REST API v1 client: configuration, one call, errors.
 *
 * A qs_quay holds the base URL (normalised: no trailing "/" or "/api/v1"), its host[:port]
 * and the management token — a fixed copy, or a qs_secret re-read whenever its file changes,
 * so a rotated token is used from the next call on. qs_quay_call sends one request through the
 * shared qs_http (which retries transport errors, 5xx and 429 with backoff), counts it in
 * quay_api_requests_total{quay,method,status} and quay_api_request_duration_seconds{quay},
 * logs it at info level when `debug` is set (method, path without the query, status,
 * duration — never the token, a body or a query string), and turns the answer into JSON or
 * into a qs_err + qs_quay_error. The API calls themselves are in quay_calls.c.
 *
 * Quay's error bodies come in several shapes (ApiException, {"message"}, bare {"detail"},
 * {"error"}, HTML); qs_quay_parse_error reads the one message in the order detail →
 * error_message → message → error → HTTP reason and maps it to a qs_err (table in quay.h).
 * Tokens never reach a log line, an error message or a metric label: an error text that
 * quotes a secret of the request (Quay's schema messages quote values) is redacted. */
#include "shared/quay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "shared/buf.h"
#include "shared/common.h"
#include "shared/config.h"
#include "shared/log.h"
#include "shared/metrics.h"

struct qs_quay {
    qs_http *http;
    char *base; /* "https://quay.io" */
    char *host; /* "quay.io" */
    char *token;
    qs_secret *secret;
    bool debug;
};

static qs_metric *m_requests, *m_duration;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void) {
    m_requests = qs_counter("quay_api_requests_total",
                            "Requests to Quay's REST API v1, by Quay host, method and status "
                            "(0 = no answer).",
                            "quay,method,status");
    m_duration =
        qs_histogram("quay_api_request_duration_seconds",
                     "Duration of Quay REST API v1 requests (retries included).", "quay", NULL, 0);
}

qs_quay *qs_quay_new(qs_http *http, const qs_quay_opts *opts, char *err, size_t errlen) {
    const char *url = opts ? opts->base_url : NULL;
    if (!http || !url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        snprintf(err, errlen, "quay: the base URL must start with http:// or https://");
        return NULL;
    }
    if ((!opts->token || !*opts->token) && (!opts->token_file || !*opts->token_file)) {
        snprintf(err, errlen, "quay: a token or a token file is required");
        return NULL;
    }
    const char *hs = strstr(url, "://") + 3;
    size_t hn = strcspn(hs, "/?#");
    if (hn == 0) {
        snprintf(err, errlen, "quay: the base URL has no host");
        return NULL;
    }
    qs_quay *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "quay: out of memory");
        return NULL;
    }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    if (n >= 7 && strncmp(url + n - 7, "/api/v1", 7) == 0)
        n -= 7;
    while (n > 0 && url[n - 1] == '/')
        n--;
    q->http = http;
    q->base = strndup(url, n);
    q->host = strndup(hs, hn);
    q->debug = opts->debug;
    if (opts->token && *opts->token)
        q->token = strdup(opts->token);
    else
        q->secret = qs_secret_new(opts->token_file);
    if (!q->base || !q->host || (!q->token && !q->secret)) {
        qs_quay_free(q);
        snprintf(err, errlen, "quay: out of memory");
        return NULL;
    }
    pthread_once(&metrics_once, metrics_init);
    return q;
}

void qs_quay_free(qs_quay *q) {
    if (!q)
        return;
    if (q->token) {
        memset(q->token, 0, strlen(q->token));
        free(q->token);
    }
    qs_secret_free(q->secret);
    free(q->base);
    free(q->host);
    free(q);
}

const char *qs_quay_base(const qs_quay *q) { return q->base; }
const char *qs_quay_host(const qs_quay *q) { return q->host; }

/* ---- errors ---- */

static const char *reason(long status) {
    static const struct {
        long status;
        const char *text;
    } reasons[] = {
        {0, "no answer"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {402, "Payment Required"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {409, "Conflict"},
        {413, "Payload Too Large"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < QS_ARRAY_LEN(reasons); i++)
        if (reasons[i].status == status)
            return reasons[i].text;
    return "Unexpected response";
}

static const char *text_of(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    if (json_is_object(v)) /* {"error":{"message":...}} (App Registry style) */
        v = json_object_get(v, "message");
    const char *s = json_string_value(v);
    return s && *s ? s : NULL;
}

static int status_err(long status, const char *msg) {
    if (status == 400) {
        if (strstr(msg, "already exists") || strstr(msg, "Existing robot with name"))
            return QS_EEXISTS;
        if (strstr(msg, "Could not find robot") || strstr(msg, "User does not have permission"))
            return QS_ENOTFOUND;
        return QS_EINVAL;
    }
    switch (status) {
    case 401:
        return QS_EAUTH;
    case 402:
    case 403:
        return QS_EDENIED;
    case 404:
        return QS_ENOTFOUND;
    case 409:
        return QS_ECONFLICT;
    case 0:
    case 429:
        return QS_EUNAVAIL;
    default:
        return status >= 500 && status < 600 ? QS_EUNAVAIL : QS_EPROTO;
    }
}

int qs_quay_parse_error(long status, const char *body, size_t len, qs_quay_error *e) {
    qs_quay_error local;
    if (!e)
        e = &local;
    memset(e, 0, sizeof *e);
    e->status = status;
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *msg = NULL;
    static const char *const keys[] = {"detail", "error_message", "message", "error"};
    for (size_t i = 0; json_is_object(j) && !msg && i < QS_ARRAY_LEN(keys); i++)
        msg = text_of(j, keys[i]);
    const char *type = json_string_value(json_object_get(j, "error_type"));
    snprintf(e->message, sizeof e->message, "%s", msg ? msg : reason(status));
    snprintf(e->type, sizeof e->type, "%s", type ? type : "");
    json_decref(j);
    return status_err(status, e->message);
}

/* ---- one call ---- */

/* Replace every occurrence of `secret` in `msg` (a NUL-terminated buffer of `cap` bytes). */
static void scrub_one(char *msg, size_t cap, const char *secret) {
    size_t n = secret ? strlen(secret) : 0;
    if (n < 4 || !strstr(msg, secret))
        return;
    qs_buf out = QS_BUF_INIT;
    const char *p = msg, *hit;
    while ((hit = strstr(p, secret)) != NULL) {
        qs_buf_append(&out, p, (size_t)(hit - p));
        qs_buf_puts(&out, "<redacted>");
        p = hit + n;
    }
    qs_buf_puts(&out, p);
    snprintf(msg, cap, "%s", qs_buf_str(&out));
    qs_buf_free(&out);
}

/* Quay's schema messages quote the offending value: keep the request's secrets (values of
 * keys naming a password, token or secret) and the bearer token out of the error text. */
static void scrub(char *msg, size_t cap, const json_t *body, const char *token) {
    scrub_one(msg, cap, token);
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_array(body)) {
        json_array_foreach(body, i, v) { scrub(msg, cap, v, NULL); }
        return;
    }
    json_object_foreach((json_t *)body, k, v) {
        if (json_is_string(v) &&
            (strstr(k, "password") || strstr(k, "token") || strstr(k, "secret")))
            scrub_one(msg, cap, json_string_value(v));
        else if (json_is_object(v) || json_is_array(v))
            scrub(msg, cap, v, NULL);
    }
}

static void observe(qs_quay *q, const char *method, long status, double seconds) {
    char st[16];
    snprintf(st, sizeof st, "%ld", status);
    qs_metric_add(m_requests, 1, q->host, method, st);
    qs_metric_observe(m_duration, seconds, q->host);
}

static void debug_log(const qs_quay *q, const char *method, const char *path, long status,
                      double seconds, int attempts) {
    if (!q->debug)
        return;
    char st[16], ms[32], at[16], plain[512];
    snprintf(st, sizeof st, "%ld", status);
    snprintf(ms, sizeof ms, "%.1f", seconds * 1000.0);
    snprintf(at, sizeof at, "%d", attempts);
    snprintf(plain, sizeof plain, "%.*s", (int)strcspn(path, "?"), path);
    qs_log(QS_LOG_INFO, "quay api call", "quay", q->host, "method", method, "path", plain, "status",
           st, "duration_ms", ms, "attempts", at, NULL);
}

/* The token for this call (malloc'd; qs_secret_release it), or NULL + err filled. */
static char *current_token(qs_quay *q, qs_quay_error *err) {
    if (q->token)
        return strdup(q->token);
    char *v = NULL;
    if (qs_secret_get(q->secret, &v) != 0) {
        err->status = 0;
        snprintf(err->message, sizeof err->message, "the Quay token file %s cannot be read",
                 qs_secret_path(q->secret));
        return NULL;
    }
    return v;
}

/* A 2xx body as JSON: empty and `""` (Flask's `return "", 201`) are JSON null. */
static json_t *success_body(const qs_buf *b) {
    if (b->len == 0)
        return json_null();
    json_t *j = json_loadb(b->data, b->len, JSON_DECODE_ANY, NULL);
    if (json_is_string(j) && json_string_length(j) == 0) {
        json_decref(j);
        return json_null();
    }
    return j;
}

int qs_quay_call(qs_quay *q, const char *method, const char *path, const json_t *body, json_t **out,
                 qs_quay_error *err) {
    qs_quay_error local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    if (out)
        *out = NULL;
    char *token = current_token(q, err);
    if (!token)
        return QS_EAUTH;
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    qs_buf url = QS_BUF_INIT;
    qs_buf_printf(&url, "%s/api/v1%s", q->base, path);
    static const char *const with_body[] = {"Accept: application/json",
                                            "Content-Type: application/json", NULL};
    static const char *const without_body[] = {"Accept: application/json", NULL};
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.method = method;
    req.url = qs_buf_str(&url);
    req.headers = text ? with_body : without_body;
    req.body = text;
    req.body_len = text ? strlen(text) : 0;
    req.bearer = token;
    qs_http_resp resp = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = qs_http_do(q->http, &req, &resp);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (text) {
        memset(text, 0, strlen(text)); /* may hold a mirror password */
        free(text);
    }
    qs_buf_free(&url);
    long status = rc == 0 ? resp.status : 0;
    observe(q, method, status, secs);
    debug_log(q, method, path, status, secs, resp.attempts);
    int ret = 0;
    if (rc != 0) {
        err->status = 0;
        snprintf(err->message, sizeof err->message, "%s",
                 resp.error[0] ? resp.error
                               : (rc == QS_ETOOBIG ? "answer too large" : "no answer"));
        ret = rc == QS_ETOOBIG ? QS_EPROTO : QS_EUNAVAIL;
    } else if (status < 200 || status > 299) {
        ret = qs_quay_parse_error(status, resp.body.data, resp.body.len, err);
    } else {
        json_t *j = success_body(&resp.body);
        if (!j) {
            err->status = status;
            snprintf(err->message, sizeof err->message,
                     "Quay answered %ld with a body that is "
                     "not JSON",
                     status);
            ret = QS_EPROTO;
        } else if (out) {
            *out = j;
        } else {
            json_decref(j);
        }
    }
    if (ret != 0)
        scrub(err->message, sizeof err->message, body, token);
    qs_secret_release(token);
    qs_http_resp_free(&resp);
    return ret;
}
