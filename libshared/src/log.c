/* log.c — JSON log lines on stderr.
 *
 * Each event becomes one JSON object built with jansson and written with a single write(2),
 * which keeps lines whole when several threads log at once (POSIX guarantees atomic writes to
 * a pipe up to PIPE_BUF; for longer lines and regular files O_APPEND-style ordering is good
 * enough for logs). The request id is thread-local, set by the HTTP server around a handler. */
#include "shared/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "shared/common.h"

static char service_name[64] = "quayside";
static qs_log_level min_level = QS_LOG_INFO;
static int log_fd = 2;
static _Thread_local char request_id[64];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void qs_log_init(const char *service, qs_log_level level) {
    if (service)
        snprintf(service_name, sizeof service_name, "%s", service);
    min_level = level;
}

int qs_log_level_parse(const char *s, qs_log_level *out) {
    static const struct {
        const char *name;
        qs_log_level level;
    } table[] = {{"debug", QS_LOG_DEBUG},
                 {"info", QS_LOG_INFO},
                 {"warn", QS_LOG_WARN},
                 {"warning", QS_LOG_WARN},
                 {"error", QS_LOG_ERROR}};
    for (size_t i = 0; s && i < QS_ARRAY_LEN(table); i++) {
        if (strcasecmp(s, table[i].name) == 0) {
            *out = table[i].level;
            return QS_OK;
        }
    }
    return QS_EINVAL;
}

int qs_log_enabled(qs_log_level level) { return level >= min_level; }

void qs_log_set_request_id(const char *id) {
    snprintf(request_id, sizeof request_id, "%s", id ? id : "");
}

void qs_log_set_fd(int fd) { log_fd = fd; }

static void emit(qs_log_level level, const char *msg, json_t *fields) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", (long)(tv.tv_usec / 1000));

    json_t *o = json_object();
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(level_names[level]));
    json_object_set_new(o, "service", json_string(service_name));
    json_object_set_new(o, "msg", json_string(msg ? msg : ""));
    if (request_id[0])
        json_object_set_new(o, "request_id", json_string(request_id));
    if (json_is_object(fields))
        json_object_update_missing(o, fields);
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!line)
        return;
    size_t len = strlen(line);
    line[len] = '\n'; /* overwrite NUL: json_dumps allocates len+1 */
    ssize_t w = write(log_fd, line, len + 1);
    (void)w;
    free(line);
}

void qs_log_json(qs_log_level level, const char *msg, json_t *fields) {
    if (level < min_level)
        return;
    emit(level, msg, fields);
}

void qs_log(qs_log_level level, const char *msg, ...) {
    if (level < min_level)
        return;
    json_t *fields = json_object();
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        json_object_set_new(fields, k, v ? json_string(v) : json_null());
    }
    va_end(ap);
    emit(level, msg, fields);
    json_decref(fields);
}

void qs_logf(qs_log_level level, const char *fmt, ...) {
    if (level < min_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit(level, msg, NULL);
}
