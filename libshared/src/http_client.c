/* http_client.c — outgoing HTTP on libcurl: one shared connection pool, retries, streams.
 *
 * A qs_http owns a curl share object holding the connection, DNS and TLS-session caches, with
 * one pthread mutex per kind of shared data, so every easy handle of every thread draws from the
 * same keep-alive pool. curl_global_init runs once per process (pthread_once).
 *
 * Buffered requests (qs_http_do) use curl_easy_perform on a fresh easy handle per attempt:
 * creating a handle is cheap next to a round trip, and the expensive state (connections, TLS
 * sessions, DNS) lives in the share anyway. Streams use one multi handle per stream so that the
 * caller drives the transfer from qs_http_stream_read: the write callback copies straight into
 * the caller's buffer when a read is waiting, overflows into a small stash, and pauses the
 * transfer (CURL_WRITEFUNC_PAUSE) when the stash would pass STASH_MAX — TCP flow control then
 * holds the peer back, so memory stays bounded whatever the body size. curl 7.88 attaches a multi
 * handle's transfers to the share's connection cache when the share has CURL_LOCK_DATA_CONNECT,
 * so streams and buffered calls reuse the same connections.
 *
 * Headers are collected from the final response only: every status line starts a new list and
 * 1xx responses are skipped. Redirects are never followed. Credentials go to curl as
 * CURLOPT_USERNAME/PASSWORD or as a header built in memory; they are never logged and never
 * reach an error string (curl's error buffer does not contain request headers). */
#include "shared/http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "shared/common.h"

#ifndef QS_VERSION
#define QS_VERSION "0.1.0"
#endif

#define STASH_MAX (512u * 1024u)      /* pause the transfer beyond this much unread body */
#define STREAM_BUFSIZE (512L * 1024L) /* curl receive buffer for streams */
#define POLL_MS 1000                  /* upper bound of one curl_multi_poll wait */

#define MULTI_POOL_MAX 64     /* idle multi handles kept for reuse by streams */
#define POOL_MAXCONNECTS 256L /* idle connections the shared cache may keep */

struct qs_http {
    qs_http_opts o;
    char *ca_file;
    char *user_agent;
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
    /* Streams borrow multi handles from this pool: creating one costs a socketpair and
     * signal juggling, and a fresh multi would cap the shared connection cache at 4 × its
     * handles (curl's default MAXCONNECTS), closing pooled connections under load. */
    pthread_mutex_t pool_mu;
    CURLM *pool[MULTI_POOL_MAX];
    size_t npool;
};

/* Headers of the response being received; reset by each status line. */
typedef struct {
    qs_header *v;
    size_t n, cap;
    long status;   /* status of the latest status line */
    bool complete; /* the blank line after a final (non-1xx) status was seen */
    bool oom;
} hdrlist;

/* ------------------------------------------------------------------ process-wide init */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ------------------------------------------------------------------ client */

static void share_lock(CURL *e, curl_lock_data d, curl_lock_access a, void *u) {
    QS_UNUSED(e);
    QS_UNUSED(a);
    qs_http *h = u;
    if ((int)d >= 0 && d < CURL_LOCK_DATA_LAST)
        pthread_mutex_lock(&h->locks[d]);
}

static void share_unlock(CURL *e, curl_lock_data d, void *u) {
    QS_UNUSED(e);
    qs_http *h = u;
    if ((int)d >= 0 && d < CURL_LOCK_DATA_LAST)
        pthread_mutex_unlock(&h->locks[d]);
}

static void apply_defaults(qs_http_opts *o) {
    const qs_http_opts d = QS_HTTP_OPTS_INIT;
    if (o->connect_timeout_ms <= 0)
        o->connect_timeout_ms = d.connect_timeout_ms;
    if (o->timeout_ms < 0)
        o->timeout_ms = 0;
    if (o->stall_timeout_s <= 0)
        o->stall_timeout_s = d.stall_timeout_s;
    if (o->max_attempts <= 0)
        o->max_attempts = d.max_attempts;
    if (o->backoff_base_ms < 0)
        o->backoff_base_ms = 0;
    if (o->backoff_max_ms < o->backoff_base_ms)
        o->backoff_max_ms = o->backoff_base_ms;
    if (o->max_response == 0)
        o->max_response = d.max_response;
}

qs_http *qs_http_new(const qs_http_opts *opts) {
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return NULL;
    qs_http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    const qs_http_opts d = QS_HTTP_OPTS_INIT;
    h->o = opts ? *opts : d;
    apply_defaults(&h->o);
    h->ca_file = h->o.ca_file ? strdup(h->o.ca_file) : NULL;
    h->user_agent = strdup(h->o.user_agent ? h->o.user_agent : "quayside/" QS_VERSION);
    h->o.ca_file = h->ca_file;
    h->o.user_agent = h->user_agent;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&h->locks[i], NULL);
    pthread_mutex_init(&h->pool_mu, NULL);
    h->share = curl_share_init();
    if (!h->user_agent || (opts && opts->ca_file && !h->ca_file) || !h->share) {
        qs_http_free(h);
        return NULL;
    }
    curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
    if (curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) ||
        curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
        curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION)) {
        qs_http_free(h);
        return NULL;
    }
    return h;
}

static CURLM *multi_get(qs_http *h) {
    pthread_mutex_lock(&h->pool_mu);
    CURLM *m = h->npool ? h->pool[--h->npool] : NULL;
    pthread_mutex_unlock(&h->pool_mu);
    if (!m) {
        m = curl_multi_init();
        if (m)
            curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, POOL_MAXCONNECTS);
    }
    return m;
}

static void multi_put(qs_http *h, CURLM *m) {
    pthread_mutex_lock(&h->pool_mu);
    if (h->npool < MULTI_POOL_MAX) {
        h->pool[h->npool++] = m;
        m = NULL;
    }
    pthread_mutex_unlock(&h->pool_mu);
    if (m)
        curl_multi_cleanup(m);
}

void qs_http_free(qs_http *h) {
    if (!h)
        return;
    for (size_t i = 0; i < h->npool; i++)
        curl_multi_cleanup(h->pool[i]);
    pthread_mutex_destroy(&h->pool_mu);
    if (h->share)
        curl_share_cleanup(h->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&h->locks[i]);
    free(h->ca_file);
    free(h->user_agent);
    free(h);
}

/* ------------------------------------------------------------------ pure helpers */

static uint64_t rand_next(void) {
    static _Thread_local uint64_t state;
    if (state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&state ^
                ((uint64_t)getpid() << 40) ^ 0x9e3779b97f4a7c15ULL;
    }
    /* splitmix64 */
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

long qs_http_backoff_ms(long base_ms, long max_ms, int attempt) {
    if (base_ms <= 0 || max_ms <= 0)
        return 0;
    long cap = base_ms;
    for (int i = 1; i < attempt && cap < max_ms; i++)
        cap = cap > max_ms / 2 ? max_ms : cap * 2;
    if (cap > max_ms)
        cap = max_ms;
    return (long)(rand_next() % ((uint64_t)cap + 1));
}

/* HTTP-date formats of RFC 9110 §5.6.7: IMF-fixdate, obsolete RFC 850 and asctime. */
static const char *const http_date_formats[] = {
    "%a, %d %b %Y %H:%M:%S GMT",
    "%A, %d-%b-%y %H:%M:%S GMT",
    "%a %b %e %H:%M:%S %Y",
};

long qs_http_parse_retry_after(const char *value, long now_epoch_s) {
    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t len = strlen(value);
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    if (len == 0)
        return -1;
    size_t digits = strspn(value, "0123456789");
    if (digits == len) {
        if (len > 9) /* > 31 years: absurd, clamp rather than overflow */
            return 999999999L * 1000L;
        return strtol(value, NULL, 10) * 1000L;
    }
    char tmp[64];
    if (len >= sizeof tmp)
        return -1;
    memcpy(tmp, value, len);
    tmp[len] = '\0';
    for (size_t i = 0; i < QS_ARRAY_LEN(http_date_formats); i++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(tmp, http_date_formats[i], &tm);
        if (!end || *end != '\0')
            continue;
        time_t t = timegm(&tm);
        if (t == (time_t)-1)
            return -1;
        long delta = (long)t - now_epoch_s;
        return delta <= 0 ? 0 : delta * 1000L;
    }
    return -1;
}

/* ------------------------------------------------------------------ headers */

static void hdrlist_clear(hdrlist *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].value);
    }
    l->n = 0;
    l->complete = false;
}

static void hdrlist_free(hdrlist *l) {
    hdrlist_clear(l);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int hdrlist_add(hdrlist *l, const char *name, size_t nlen, const char *val, size_t vlen) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        qs_header *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return QS_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    char *n = strndup(name, nlen), *v = strndup(val, vlen);
    if (!n || !v) {
        free(n);
        free(v);
        return QS_ENOMEM;
    }
    l->v[l->n].name = n;
    l->v[l->n].value = v;
    l->n++;
    return QS_OK;
}

static const char *hdr_find(const qs_header *v, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(v[i].name, name) == 0)
            return v[i].value;
    return NULL;
}

/* Feed one raw header line (with its CRLF) into the list. */
static void hdrlist_line(hdrlist *l, const char *p, size_t len) {
    while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
        len--;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        hdrlist_clear(l);
        const char *sp = memchr(p, ' ', len);
        l->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return;
    }
    if (len == 0) {
        if (l->status >= 200)
            l->complete = true;
        return;
    }
    if (l->complete || l->status < 200)
        return; /* trailers, or a 1xx response's headers */
    const char *colon = memchr(p, ':', len);
    if (!colon || colon == p)
        return;
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (hdrlist_add(l, p, (size_t)(colon - p), v, (size_t)(end - v)) != QS_OK)
        l->oom = true;
}

static size_t header_cb(char *p, size_t size, size_t nmemb, void *ud) {
    hdrlist_line(ud, p, size * nmemb);
    return size * nmemb;
}

static int64_t content_length(const qs_header *v, size_t n) {
    const char *cl = hdr_find(v, n, "Content-Length");
    if (!cl || *cl < '0' || *cl > '9')
        return -1;
    char *end;
    errno = 0;
    long long x = strtoll(cl, &end, 10);
    return (errno || *end) ? -1 : (int64_t)x;
}

/* ------------------------------------------------------------------ easy handle setup */

typedef struct {
    const qs_http_req *req;
    struct curl_slist *hdrs;
} easy_ctx;

static size_t upload_cb(char *buf, size_t size, size_t nmemb, void *ud) {
    const qs_http_req *req = ud;
    size_t n = req->upload(req->upload_ctx, buf, size * nmemb);
    return n == (size_t)-1 ? CURL_READFUNC_ABORT : n;
}

static bool has_header(const char *const *hdrs, const char *name) {
    size_t nl = strlen(name);
    for (; hdrs && *hdrs; hdrs++)
        if (strncasecmp(*hdrs, name, nl) == 0 && (*hdrs)[nl] == ':')
            return true;
    return false;
}

/* Build the request header list: "Expect:" (no 100-continue), the caller's, the bearer. */
static int build_headers(const qs_http_req *req, bool body_by_postfields, struct curl_slist **out) {
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");
    for (const char *const *hp = req->headers; l && hp && *hp; hp++)
        l = curl_slist_append(l, *hp);
    if (l && body_by_postfields && !has_header(req->headers, "Content-Type"))
        l = curl_slist_append(l, "Content-Type:"); /* drop curl's form-urlencoded default */
    if (l && req->bearer) {
        size_t n = strlen(req->bearer) + sizeof "Authorization: Bearer ";
        char *a = malloc(n);
        if (a) {
            snprintf(a, n, "Authorization: Bearer %s", req->bearer);
            l = curl_slist_append(l, a);
            explicit_bzero(a, n);
            free(a);
        } else {
            curl_slist_free_all(l);
            l = NULL;
        }
    }
    *out = l;
    return l ? QS_OK : QS_ENOMEM;
}

static bool method_is(const char *m, const char *want) { return strcasecmp(m, want) == 0; }

/* Method and request body. Returns whether the body goes through POSTFIELDS. */
static bool set_method(CURL *e, const qs_http_req *req) {
    const char *m = req->method ? req->method : "GET";
    if (req->upload) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, upload_cb);
        curl_easy_setopt(e, CURLOPT_READDATA, (void *)req);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->upload_len);
        if (!method_is(m, "PUT"))
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
        return false;
    }
    if (req->body || method_is(m, "POST") || method_is(m, "PUT") || method_is(m, "PATCH")) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body ? req->body_len : 0));
        if (!method_is(m, "POST"))
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
        return true;
    }
    if (req->no_body || method_is(m, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        if (!method_is(m, "HEAD") && !method_is(m, "GET"))
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    } else if (!method_is(m, "GET")) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    }
    return false;
}

/* A configured easy handle for `req` (nothing about where the body goes). `timeout_ms` is the
 * overall limit, 0 for none. */
static CURL *easy_new(qs_http *h, const qs_http_req *req, long timeout_ms, hdrlist *hl,
                      char *errbuf, struct curl_slist **hdrs) {
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    bool postfields = set_method(e, req);
    if (build_headers(req, postfields, hdrs) != QS_OK) {
        curl_easy_cleanup(e);
        return NULL;
    }
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_SHARE, h->share);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_MAXCONNECTS, POOL_MAXCONNECTS);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, *hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, h->o.stall_timeout_s);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 60L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 30L);
    curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, h->o.verify_tls ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, h->o.verify_tls ? 2L : 0L);
    if (h->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    if (req->basic_user) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, req->basic_user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, req->basic_pass ? req->basic_pass : "");
    }
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, hl);
    errbuf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    return e;
}

/* ------------------------------------------------------------------ retry policy */

/* Transport errors that another attempt cannot fix. */
static const CURLcode permanent_errors[] = {
    CURLE_UNSUPPORTED_PROTOCOL,
    CURLE_URL_MALFORMAT,
    CURLE_NOT_BUILT_IN,
    CURLE_OUT_OF_MEMORY,
    CURLE_BAD_FUNCTION_ARGUMENT,
    CURLE_ABORTED_BY_CALLBACK,
    CURLE_WRITE_ERROR,
    CURLE_READ_ERROR,
    CURLE_PEER_FAILED_VERIFICATION,
    CURLE_SSL_CACERT_BADFILE,
    CURLE_SSL_CERTPROBLEM,
    CURLE_LOGIN_DENIED,
};

static bool curl_retryable(CURLcode rc) {
    for (size_t i = 0; i < QS_ARRAY_LEN(permanent_errors); i++)
        if (permanent_errors[i] == rc)
            return false;
    return true;
}

static bool status_retryable(long status) {
    return status == 429 || (status >= 500 && status <= 599);
}

static int curl_to_err(CURLcode rc) {
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return QS_ETIMEOUT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return QS_EINVAL;
    case CURLE_OUT_OF_MEMORY:
        return QS_ENOMEM;
    default:
        return QS_EUNAVAIL;
    }
}

static void sleep_ms(long ms) {
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The wait before attempt `attempt` + 1 after a response with `retry_after` (may be NULL). */
static long retry_delay(const qs_http *h, const char *retry_after, int attempt) {
    long ms = qs_http_parse_retry_after(retry_after, (long)time(NULL));
    if (ms < 0)
        return qs_http_backoff_ms(h->o.backoff_base_ms, h->o.backoff_max_ms, attempt);
    return ms > h->o.backoff_max_ms ? h->o.backoff_max_ms : ms;
}

static int attempts_for(const qs_http *h, const qs_http_req *req) {
    if (req->upload)
        return 1; /* a streamed body cannot be replayed */
    return req->max_attempts > 0 ? req->max_attempts : h->o.max_attempts;
}

static void set_error(char *dst, size_t len, CURLcode rc, const char *errbuf) {
    if (!dst || !len)
        return;
    const char *why = errbuf[0]        ? errbuf
                      : rc == CURLE_OK ? "connection closed before a response"
                                       : curl_easy_strerror(rc);
    snprintf(dst, len, "%s", why);
}

/* ------------------------------------------------------------------ buffered requests */

typedef struct {
    qs_buf *body;
    size_t max;
    bool too_big;
    bool oom;
} sink;

static size_t sink_cb(char *p, size_t size, size_t nmemb, void *ud) {
    sink *s = ud;
    size_t n = size * nmemb;
    if (s->body->len + n > s->max) {
        s->too_big = true;
        return 0;
    }
    if (qs_buf_append(s->body, p, n) != QS_OK) {
        s->oom = true;
        return 0;
    }
    return n;
}

/* One attempt. Returns the curl result; the sink says whether a write was refused. */
static CURLcode do_once(qs_http *h, const qs_http_req *req, qs_http_resp *resp, hdrlist *hl,
                        sink *sk) {
    long tmo = req->timeout_ms > 0 ? req->timeout_ms : req->timeout_ms < 0 ? 0 : h->o.timeout_ms;
    char errbuf[CURL_ERROR_SIZE];
    struct curl_slist *hdrs = NULL;
    CURL *e = easy_new(h, req, tmo, hl, errbuf, &hdrs);
    if (!e) {
        snprintf(resp->error, sizeof resp->error, "out of memory");
        return CURLE_OUT_OF_MEMORY;
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, sk);
    CURLcode rc = curl_easy_perform(e);
    if (rc != CURLE_OK)
        set_error(resp->error, sizeof resp->error, rc, errbuf);
    else
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_cleanup(e);
    curl_slist_free_all(hdrs);
    return rc;
}

/* Header injection guard: no header line, bearer token or Basic credential may carry CR or LF
 * (a caller forwarding a client's value would otherwise add headers of the client's choice). */
static bool has_crlf(const char *v) { return v && strpbrk(v, "\r\n") != NULL; }

static bool req_is_safe(const qs_http_req *req) {
    for (const char *const *hp = req->headers; hp && *hp; hp++)
        if (has_crlf(*hp))
            return false;
    return !has_crlf(req->bearer) && !has_crlf(req->basic_user) && !has_crlf(req->basic_pass) &&
           !has_crlf(req->url) && !has_crlf(req->method);
}

int qs_http_do(qs_http *h, const qs_http_req *req, qs_http_resp *resp) {
    memset(resp, 0, sizeof *resp);
    if (!h || !req || !req->url)
        return QS_EINVAL;
    if (!req_is_safe(req)) {
        snprintf(resp->error, sizeof resp->error, "a request header value contains CR or LF");
        return QS_EINVAL;
    }
    int max = attempts_for(h, req);
    sink sk = {&resp->body, req->max_response ? req->max_response : h->o.max_response, false,
               false};
    hdrlist hl = {0};
    int ret = QS_OK;
    for (int attempt = 1;; attempt++) {
        hdrlist_free(&hl);
        qs_buf_reset(&resp->body);
        resp->status = 0;
        resp->error[0] = '\0';
        resp->attempts = attempt;
        CURLcode rc = do_once(h, req, resp, &hl, &sk);
        if (sk.too_big || sk.oom || hl.oom) {
            resp->status = 0;
            snprintf(resp->error, sizeof resp->error, "%s",
                     sk.too_big ? "response body too large" : "out of memory");
            ret = sk.too_big ? QS_ETOOBIG : QS_ENOMEM;
            break;
        }
        bool again = rc != CURLE_OK ? curl_retryable(rc) : status_retryable(resp->status);
        if (!again || attempt >= max) {
            ret = rc == CURLE_OK ? QS_OK : curl_to_err(rc);
            break;
        }
        sleep_ms(
            retry_delay(h, rc == CURLE_OK ? hdr_find(hl.v, hl.n, "Retry-After") : NULL, attempt));
    }
    if (ret == QS_OK) {
        resp->headers = hl.v;
        resp->nheaders = hl.n;
    } else {
        hdrlist_free(&hl);
    }
    return ret;
}

const char *qs_http_resp_header(const qs_http_resp *resp, const char *name) {
    return resp ? hdr_find(resp->headers, resp->nheaders, name) : NULL;
}

void qs_http_resp_free(qs_http_resp *resp) {
    if (!resp)
        return;
    hdrlist l = {resp->headers, resp->nheaders, resp->nheaders, 0, false, false};
    hdrlist_free(&l);
    resp->headers = NULL;
    resp->nheaders = 0;
    qs_buf_free(&resp->body);
}

/* ------------------------------------------------------------------ streams */

struct qs_http_stream {
    qs_http *h;
    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdrs;
    qs_http_req req; /* copy: the upload callback reads it during the transfer */
    hdrlist hl;
    char *stash; /* unread body bytes: [stash_off, stash_len) */
    size_t stash_off, stash_len, stash_cap;
    char *target; /* the caller's buffer while a read waits */
    size_t target_cap, target_len;
    bool paused;
    bool done;
    bool oom;
    CURLcode result;
    char errbuf[CURL_ERROR_SIZE];
};

static bool stash_put(qs_http_stream *s, const char *p, size_t n) {
    if (s->stash_off > 0 && s->stash_off == s->stash_len)
        s->stash_off = s->stash_len = 0;
    if (s->stash_len + n > s->stash_cap && s->stash_off > 0) {
        memmove(s->stash, s->stash + s->stash_off, s->stash_len - s->stash_off);
        s->stash_len -= s->stash_off;
        s->stash_off = 0;
    }
    if (s->stash_len + n > s->stash_cap) {
        size_t cap = s->stash_cap ? s->stash_cap : 64 * 1024;
        while (cap < s->stash_len + n)
            cap *= 2;
        char *q = realloc(s->stash, cap);
        if (!q)
            return false;
        s->stash = q;
        s->stash_cap = cap;
    }
    memcpy(s->stash + s->stash_len, p, n);
    s->stash_len += n;
    return true;
}

/* Body bytes: into the waiting reader's buffer first, then the stash. When the stash is not
 * empty and this piece would push it past STASH_MAX, pause: curl keeps the piece and delivers
 * it again after curl_easy_pause(CURLPAUSE_CONT). A piece is taken whole or not at all. */
static size_t stream_write_cb(char *p, size_t size, size_t nmemb, void *ud) {
    qs_http_stream *s = ud;
    size_t n = size * nmemb;
    size_t room = s->target ? s->target_cap - s->target_len : 0;
    size_t unread = s->stash_len - s->stash_off;
    if (n > room && unread > 0 && unread + (n - room) > STASH_MAX) {
        s->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    size_t direct = n < room ? n : room;
    if (direct) {
        memcpy(s->target + s->target_len, p, direct);
        s->target_len += direct;
    }
    if (n > direct && !stash_put(s, p + direct, n - direct)) {
        s->oom = true;
        return 0;
    }
    return n;
}

/* Run the transfer: perform, and collect its completion. */
static void stream_perform(qs_http_stream *s) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(s->multi, &running);
    int left;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(s->multi, &left)))
        if (msg->msg == CURLMSG_DONE) {
            s->done = true;
            s->result = msg->data.result;
        }
    if (mc != CURLM_OK && !s->done) {
        s->done = true;
        s->result = CURLE_RECV_ERROR;
        snprintf(s->errbuf, sizeof s->errbuf, "%s", curl_multi_strerror(mc));
    }
}

/* Wait until the transfer's sockets are ready (or a timer is due). */
static void stream_wait(qs_http_stream *s) { curl_multi_poll(s->multi, NULL, 0, POLL_MS, NULL); }

void qs_http_stream_close(qs_http_stream *s) {
    if (!s)
        return;
    if (s->multi && s->easy)
        curl_multi_remove_handle(s->multi, s->easy);
    if (s->easy)
        curl_easy_cleanup(s->easy);
    if (s->multi)
        multi_put(s->h, s->multi);
    curl_slist_free_all(s->hdrs);
    hdrlist_free(&s->hl);
    free(s->stash);
    free(s);
}

static qs_http_stream *stream_start(qs_http *h, const qs_http_req *req) {
    qs_http_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->h = h;
    s->req = *req;
    long tmo = req->timeout_ms > 0 ? req->timeout_ms : 0; /* streams: no overall limit by default */
    s->easy = easy_new(h, &s->req, tmo, &s->hl, s->errbuf, &s->hdrs);
    s->multi = multi_get(h);
    if (!s->easy || !s->multi) {
        qs_http_stream_close(s);
        return NULL;
    }
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, stream_write_cb);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_BUFFERSIZE, STREAM_BUFSIZE);
    if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK) {
        multi_put(h, s->multi);
        s->multi = NULL;
        qs_http_stream_close(s);
        return NULL;
    }
    for (;;) {
        stream_perform(s);
        if (s->hl.complete || s->done || s->oom)
            break;
        stream_wait(s);
    }
    return s;
}

int qs_http_stream_open(qs_http *h, const qs_http_req *req, qs_http_stream **out, char *err,
                        size_t errlen) {
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!h || !req || !req->url)
        return QS_EINVAL;
    if (!req_is_safe(req)) {
        if (err && errlen)
            snprintf(err, errlen, "a request header value contains CR or LF");
        return QS_EINVAL;
    }
    int max = attempts_for(h, req);
    for (int attempt = 1;; attempt++) {
        qs_http_stream *s = stream_start(h, req);
        if (!s || s->oom || s->hl.oom) {
            if (err && errlen)
                snprintf(err, errlen, "out of memory");
            qs_http_stream_close(s);
            return QS_ENOMEM;
        }
        bool failed = !s->hl.complete; /* ended without a final response */
        if (failed)
            set_error(err, errlen, s->result, s->errbuf);
        bool again = failed ? curl_retryable(s->result) : status_retryable(s->hl.status);
        if (!again || attempt >= max) {
            if (!failed) {
                *out = s;
                return QS_OK;
            }
            int rc = s->result == CURLE_OK ? QS_EUNAVAIL : curl_to_err(s->result);
            qs_http_stream_close(s);
            return rc == QS_ETIMEOUT ? QS_EUNAVAIL : rc;
        }
        long ms =
            retry_delay(h, failed ? NULL : hdr_find(s->hl.v, s->hl.n, "Retry-After"), attempt);
        qs_http_stream_close(s);
        sleep_ms(ms);
    }
}

long qs_http_stream_status(const qs_http_stream *s) { return s ? s->hl.status : 0; }

const char *qs_http_stream_header(const qs_http_stream *s, const char *name) {
    return s ? hdr_find(s->hl.v, s->hl.n, name) : NULL;
}

size_t qs_http_stream_headers(const qs_http_stream *s, const qs_header **out) {
    *out = s ? s->hl.v : NULL;
    return s ? s->hl.n : 0;
}

int64_t qs_http_stream_length(const qs_http_stream *s) {
    return s ? content_length(s->hl.v, s->hl.n) : -1;
}

size_t qs_http_stream_buffered(const qs_http_stream *s) {
    return s ? s->stash_len - s->stash_off : 0;
}

static size_t stash_take(qs_http_stream *s, char *buf, size_t max) {
    size_t n = s->stash_len - s->stash_off;
    if (n > max)
        n = max;
    memcpy(buf, s->stash + s->stash_off, n);
    s->stash_off += n;
    if (s->stash_off == s->stash_len)
        s->stash_off = s->stash_len = 0;
    return n;
}

static ssize_t stream_end(qs_http_stream *s) {
    if (s->oom) {
        snprintf(s->errbuf, sizeof s->errbuf, "out of memory");
        return -1;
    }
    if (s->result != CURLE_OK) {
        if (!s->errbuf[0])
            snprintf(s->errbuf, sizeof s->errbuf, "%s", curl_easy_strerror(s->result));
        return -1;
    }
    return 0;
}

ssize_t qs_http_stream_read(qs_http_stream *s, char *buf, size_t max) {
    if (!s || (!buf && max))
        return -1;
    if (max == 0)
        return 0;
    if (s->stash_len > s->stash_off)
        return (ssize_t)stash_take(s, buf, max);
    if (s->done || s->oom)
        return stream_end(s);
    s->target = buf;
    s->target_cap = max > SSIZE_MAX ? SSIZE_MAX : max;
    s->target_len = 0;
    if (s->paused) {
        s->paused = false;
        curl_easy_pause(s->easy, CURLPAUSE_CONT); /* may deliver into target right away */
    }
    while (s->target_len == 0 && s->stash_len == s->stash_off && !s->oom) {
        stream_perform(s);
        if (s->target_len > 0 || s->stash_len > s->stash_off || s->done || s->oom)
            break;
        stream_wait(s);
    }
    s->target = NULL;
    if (s->target_len > 0)
        return (ssize_t)s->target_len;
    if (s->stash_len > s->stash_off)
        return (ssize_t)stash_take(s, buf, max);
    return stream_end(s);
}

const char *qs_http_stream_error(const qs_http_stream *s) { return s ? s->errbuf : ""; }
