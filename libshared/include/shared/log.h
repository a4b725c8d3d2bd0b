/* log.h — structured JSON logs, one line per event on stderr.
 *
 * Every line carries ts (RFC 3339, UTC, milliseconds), level, service, msg, the current
 * request id when one is set for this thread, and any key/value fields the caller adds.
 * Thread-safe; a line is written with a single write(2) so lines never interleave.
 * Never pass a secret as a field: the logger cannot know what is secret. */
#ifndef QS_LOG_H
#define QS_LOG_H

#include <jansson.h>

typedef enum { QS_LOG_DEBUG = 0, QS_LOG_INFO, QS_LOG_WARN, QS_LOG_ERROR } qs_log_level;

/** Set the service name and the lowest level written. Call once at start (safe to repeat). */
void qs_log_init(const char *service, qs_log_level min_level);
/** Parse "debug" | "info" | "warn"/"warning" | "error" (case-insensitive). 0 or QS_EINVAL. */
int qs_log_level_parse(const char *s, qs_log_level *out);
/** Is `level` written at the current minimum? (To skip building expensive fields.) */
int qs_log_enabled(qs_log_level level);
/** Set (or clear with NULL) the request id added to this thread's lines. */
void qs_log_set_request_id(const char *id);
/** Redirect output to a file descriptor (tests); default 2 (stderr). */
void qs_log_set_fd(int fd);

/** Log `msg` with string fields given as key, value pairs, terminated by NULL.
 *  A NULL value is written as JSON null. Example:
 *    qs_log(QS_LOG_INFO, "token renewed", "registry", host, "expires_in", "3600", NULL); */
void qs_log(qs_log_level level, const char *msg, ...) __attribute__((sentinel));
/** Log `msg` with the members of `fields` (a JSON object, borrowed; may be NULL). */
void qs_log_json(qs_log_level level, const char *msg, json_t *fields);
/** Log a printf-formatted message without fields. */
void qs_logf(qs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
