/* redis.c — one synchronous hiredis connection per qs_redis, shared safely between threads.
 *
 * The URL is parsed once (redis://[[user]:password@]host[:port][/db] with %-escapes in the
 * credentials, or unix:///path); connecting is lazy, at the first command, so a service can
 * start while Redis is still coming up. After connecting, AUTH (with the user when one is
 * given, for Redis 6 ACLs) and SELECT run before anything else. Connects time out after 2 s
 * and commands after 5 s.
 *
 * A mutex serialises commands on the connection. When a command fails at the transport level
 * (hiredis returns NULL: the server restarted, the socket timed out) the connection is dropped,
 * re-established once and the command sent again; if that fails too the caller gets NULL and
 * the next call starts over. The retry means a command whose reply was lost may run twice,
 * which is harmless for the GET/SET/PING style commands used here. Connectivity changes are
 * logged once per transition, not once per failed call. A small lock (qs_redis_lock/unlock,
 * at the end) lets processes serialise work on one key. */
#include "shared/redis.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "shared/common.h"
#include "shared/digest.h"
#include "shared/log.h"

#define CONNECT_TIMEOUT_S 2
#define COMMAND_TIMEOUT_S 5

struct qs_redis {
    pthread_mutex_t mu;
    redisContext *ctx; /* NULL while disconnected */
    char *host;        /* TCP host, or NULL for a unix socket */
    int port;
    char *path; /* unix socket path */
    char *user, *password;
    long db;
    bool down_logged; /* a "redis unreachable" line was written since the last success */
};

/* ---- URL parsing ---- */

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A malloc'd %-decoded copy of s[0..n), or NULL on a bad escape / ENOMEM. */
static char *pct_decode(const char *s, size_t n) {
    char *out = malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; out && i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
        int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    if (out)
        out[o] = '\0';
    return out;
}

static int parse_userinfo(qs_redis *r, const char *s, size_t n, char *err, size_t errlen) {
    const char *colon = memchr(s, ':', n);
    if (!colon) {
        snprintf(err, errlen, "redis URL: credentials must be [user]:password");
        return QS_EINVAL;
    }
    r->user = pct_decode(s, (size_t)(colon - s));
    r->password = pct_decode(colon + 1, n - (size_t)(colon - s) - 1);
    if (!r->user || !r->password) {
        snprintf(err, errlen, "redis URL: bad %%-escape in credentials");
        return QS_EINVAL;
    }
    return QS_OK;
}

/* Decimal port 1..65535 from s[0..n). */
static int parse_port(const char *s, size_t n, int *port) {
    long v = 0;
    if (n == 0 || n > 5)
        return QS_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return QS_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return QS_EINVAL;
    *port = (int)v;
    return QS_OK;
}

static int parse_hostport(qs_redis *r, const char *s, size_t n, char *err, size_t errlen) {
    const char *host = s, *port = NULL;
    size_t hlen = n;
    if (n && s[0] == '[') { /* [IPv6] */
        const char *close = memchr(s, ']', n);
        if (!close) {
            snprintf(err, errlen, "redis URL: unterminated [IPv6] host");
            return QS_EINVAL;
        }
        host = s + 1;
        hlen = (size_t)(close - host);
        port = close + 1 < s + n ? close + 1 : NULL;
        if (port && *port != ':') {
            snprintf(err, errlen, "redis URL: junk after [IPv6] host");
            return QS_EINVAL;
        }
    } else {
        port = memchr(s, ':', n);
        hlen = port ? (size_t)(port - s) : n;
    }
    r->port = 6379;
    if (port && parse_port(port + 1, (size_t)(s + n - port - 1), &r->port) != QS_OK) {
        snprintf(err, errlen, "redis URL: bad port");
        return QS_EINVAL;
    }
    if (hlen == 0) {
        snprintf(err, errlen, "redis URL: missing host");
        return QS_EINVAL;
    }
    r->host = strndup(host, hlen);
    return r->host ? QS_OK : QS_ENOMEM;
}

static int parse_db(qs_redis *r, const char *s, char *err, size_t errlen) {
    char *end = NULL;
    r->db = 0;
    if (!*s)
        return QS_OK;
    if (*s < '0' || *s > '9' || (r->db = strtol(s, &end, 10)) < 0 || r->db > 1000000 || *end) {
        snprintf(err, errlen, "redis URL: database must be a number, got \"%s\"", s);
        return QS_EINVAL;
    }
    return QS_OK;
}

static int parse_url(qs_redis *r, const char *url, char *err, size_t errlen) {
    if (strncasecmp(url, "unix://", 7) == 0) {
        if (url[7] != '/' || strchr(url, '?')) {
            snprintf(err, errlen, "redis URL: unix:// needs an absolute socket path");
            return QS_EINVAL;
        }
        r->path = strdup(url + 7);
        return r->path ? QS_OK : QS_ENOMEM;
    }
    if (strncasecmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "redis URL must start with redis:// or unix://");
        return QS_EINVAL;
    }
    const char *auth = url + 8;
    if (strpbrk(auth, "?#")) {
        snprintf(err, errlen, "redis URL: query strings and fragments are not supported");
        return QS_EINVAL;
    }
    const char *slash = strchr(auth, '/');
    const char *end = slash ? slash : auth + strlen(auth);
    const char *at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p; /* the last '@': a password may contain one */
    int rc = QS_OK;
    if (at)
        rc = parse_userinfo(r, auth, (size_t)(at - auth), err, errlen);
    const char *hp = at ? at + 1 : auth;
    if (rc == QS_OK)
        rc = parse_hostport(r, hp, (size_t)(end - hp), err, errlen);
    if (rc == QS_OK && slash)
        rc = parse_db(r, slash + 1, err, errlen);
    return rc;
}

qs_redis *qs_redis_new(const char *url, char *err, size_t errlen) {
    char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    qs_redis *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    if (!url || parse_url(r, url, err, errlen) != QS_OK) {
        if (!url)
            snprintf(err, errlen, "redis URL is missing");
        else if (!err[0])
            snprintf(err, errlen, "out of memory");
        qs_redis_free(r);
        return NULL;
    }
    return r;
}

void qs_redis_free(qs_redis *r) {
    if (!r)
        return;
    if (r->ctx)
        redisFree(r->ctx);
    pthread_mutex_destroy(&r->mu);
    free(r->host);
    free(r->path);
    free(r->user);
    if (r->password)
        explicit_bzero(r->password, strlen(r->password));
    free(r->password);
    free(r);
}

/* ---- connection ---- */

static void note_down(qs_redis *r, const char *why) {
    if (!r->down_logged)
        qs_log(QS_LOG_WARN, "redis unreachable", "redis", r->host ? r->host : r->path, "error", why,
               NULL);
    r->down_logged = true;
}

/* A command that must answer with a non-error reply during the handshake. */
static bool handshake_ok(redisReply *rep) {
    bool ok = rep && rep->type != REDIS_REPLY_ERROR;
    if (rep)
        freeReplyObject(rep);
    return ok;
}

/* Connect, authenticate and select the database (lock held). */
static bool connect_locked(qs_redis *r) {
    struct timeval ct = {CONNECT_TIMEOUT_S, 0}, cmd = {COMMAND_TIMEOUT_S, 0};
    redisContext *c = r->path ? redisConnectUnixWithTimeout(r->path, ct)
                              : redisConnectWithTimeout(r->host, r->port, ct);
    if (!c || c->err) {
        note_down(r, c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return false;
    }
    bool ok = redisSetTimeout(c, cmd) == REDIS_OK;
    if (ok && r->password && *r->password)
        ok = handshake_ok(r->user && *r->user ? redisCommand(c, "AUTH %s %s", r->user, r->password)
                                              : redisCommand(c, "AUTH %s", r->password));
    if (ok && r->db)
        ok = handshake_ok(redisCommand(c, "SELECT %ld", r->db));
    if (!ok) {
        note_down(r, c->err ? c->errstr : "AUTH or SELECT refused");
        redisFree(c);
        return false;
    }
    if (r->down_logged)
        qs_log(QS_LOG_INFO, "redis reachable again", "redis", r->host ? r->host : r->path, NULL);
    r->down_logged = false;
    r->ctx = c;
    return true;
}

typedef redisReply *(*send_fn)(redisContext *c, void *arg);

/* Send with one reconnect-and-retry on a transport failure. */
static redisReply *run(qs_redis *r, send_fn send, void *arg) {
    if (!r)
        return NULL;
    redisReply *rep = NULL;
    pthread_mutex_lock(&r->mu);
    for (int attempt = 0; attempt < 2 && !rep; attempt++) {
        if (!r->ctx && !connect_locked(r))
            continue;
        rep = send(r->ctx, arg);
        if (!rep) {
            note_down(r, r->ctx->errstr[0] ? r->ctx->errstr : "no reply");
            redisFree(r->ctx);
            r->ctx = NULL;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return rep;
}

typedef struct {
    const char *fmt;
    va_list *ap;
} fmt_args;

static redisReply *send_fmt(redisContext *c, void *arg) {
    fmt_args *a = arg;
    va_list copy;
    va_copy(copy, *a->ap);
    redisReply *rep = redisvCommand(c, a->fmt, copy);
    va_end(copy);
    return rep;
}

redisReply *qs_redis_cmd(qs_redis *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fmt_args a = {fmt, &ap};
    redisReply *rep = run(r, send_fmt, &a);
    va_end(ap);
    return rep;
}

typedef struct {
    int argc;
    const char **argv;
    const size_t *argvlen;
} argv_args;

static redisReply *send_argv(redisContext *c, void *arg) {
    argv_args *a = arg;
    return redisCommandArgv(c, a->argc, a->argv, a->argvlen);
}

redisReply *qs_redis_cmdv(qs_redis *r, int argc, const char **argv, const size_t *argvlen) {
    argv_args a = {argc, argv, argvlen};
    return run(r, send_argv, &a);
}

/* ---- convenience commands ---- */

bool qs_redis_ping(qs_redis *r) {
    redisReply *rep = qs_redis_cmd(r, "PING");
    bool ok = rep && rep->type == REDIS_REPLY_STATUS && strcasecmp(rep->str, "PONG") == 0;
    if (rep)
        freeReplyObject(rep);
    return ok;
}

char *qs_redis_get(qs_redis *r, const char *key, bool *found) {
    if (found)
        *found = false;
    redisReply *rep = key ? qs_redis_cmd(r, "GET %s", key) : NULL;
    char *out = NULL;
    if (rep && rep->type == REDIS_REPLY_STRING) {
        out = malloc(rep->len + 1);
        if (out) {
            memcpy(out, rep->str, rep->len);
            out[rep->len] = '\0';
            if (found)
                *found = true;
        }
    }
    if (rep)
        freeReplyObject(rep);
    return out;
}

int qs_redis_set(qs_redis *r, const char *key, const char *value, long ttl_ms) {
    if (!key || !value || ttl_ms < 0)
        return QS_EINVAL;
    redisReply *rep = ttl_ms > 0 ? qs_redis_cmd(r, "SET %s %s PX %ld", key, value, ttl_ms)
                                 : qs_redis_cmd(r, "SET %s %s", key, value);
    int rc = rep && rep->type == REDIS_REPLY_STATUS ? QS_OK : QS_EUNAVAIL;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

/* ---- lock ----
 * SET NX PX with a random token; the owner releases with a compare-and-delete script. A
 * transport failure after the SET reached Redis is retried by run() and then finds the key
 * taken: the GET afterwards recognises our own token, so that case is not mistaken for
 * contention. Waiting polls with a growing, jittered interval (20 ms doubling to 200 ms). */

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One attempt: 0 taken, QS_ECONFLICT held by another, QS_EUNAVAIL. */
static int try_lock(qs_redis *r, const char *key, long ttl_ms, const char *token) {
    redisReply *rep = qs_redis_cmd(r, "SET %s %s NX PX %ld", key, token, ttl_ms);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        if (rep)
            freeReplyObject(rep);
        return QS_EUNAVAIL;
    }
    int rc = rep->type == REDIS_REPLY_STATUS ? QS_OK : QS_ECONFLICT;
    freeReplyObject(rep);
    if (rc == QS_ECONFLICT) {
        bool found = false;
        char *holder = qs_redis_get(r, key, &found);
        if (holder && strcmp(holder, token) == 0)
            rc = QS_OK;
        free(holder);
    }
    return rc;
}

int qs_redis_lock(qs_redis *r, const char *key, long ttl_ms, long wait_ms, char *token,
                  long *waited_ms) {
    if (!r || !key || !*key || !token || ttl_ms <= 0 || wait_ms < 0)
        return QS_EINVAL;
    char *hex = qs_random_hex((QS_REDIS_LOCK_TOKEN_LEN - 1) / 2);
    if (!hex)
        return QS_ENOMEM;
    snprintf(token, QS_REDIS_LOCK_TOKEN_LEN, "%s", hex);
    free(hex);
    long start = now_ms(), pause = 20;
    for (;;) {
        int rc = try_lock(r, key, ttl_ms, token);
        long waited = now_ms() - start;
        if (rc != QS_ECONFLICT || waited >= wait_ms) {
            if (rc != QS_OK)
                token[0] = '\0';
            if (waited_ms)
                *waited_ms = waited;
            return rc;
        }
        unsigned char j = 0;
        qs_random_bytes(&j, 1);
        long sleep_ms = pause / 2 + (long)j * pause / 510; /* [pause/2, pause] */
        if (sleep_ms > wait_ms - waited)
            sleep_ms = wait_ms - waited;
        struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        pause = pause * 2 > 200 ? 200 : pause * 2;
    }
}

int qs_redis_unlock(qs_redis *r, const char *key, const char *token) {
    static const char script[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                                 "return redis.call('DEL', KEYS[1]) else return 0 end";
    if (!r || !key || !*key || !token || !*token)
        return QS_EINVAL;
    redisReply *rep = qs_redis_cmd(r, "EVAL %s 1 %s %s", script, key, token);
    int rc = QS_EUNAVAIL;
    if (rep && rep->type == REDIS_REPLY_INTEGER)
        rc = rep->integer == 1 ? QS_OK : QS_ENOTFOUND;
    if (rep)
        freeReplyObject(rep);
    return rc;
}
