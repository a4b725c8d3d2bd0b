/* config.h — configuration from the environment, secrets from files, strict YAML.
 *
 * A service reads its settings through one qs_conf, which collects every problem instead of
 * stopping at the first, so `--help`-style startup errors list everything wrong at once.
 * Empty environment variables count as unset.
 *
 * Secrets come from files (the `*_FILE` variables, mounted Kubernetes Secrets). A qs_secret
 * re-reads its file whenever the file's identity (inode, size, mtime) changes, so a rotated
 * Secret takes effect without a restart. Values are trimmed of surrounding whitespace.
 *
 * YAML is converted to a jansson tree: mappings to objects, sequences to arrays, plain
 * scalars that look like integers/reals/booleans/null to those types, everything else (and
 * every quoted scalar) to strings. Anchors/aliases are refused, duplicate keys are errors. */
#ifndef QS_CONFIG_H
#define QS_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct qs_conf qs_conf;

qs_conf *qs_conf_new(void);
void qs_conf_free(qs_conf *c);

/** The variable's value, or `def` when unset or empty. The string lives as long as `c`. */
const char *qs_conf_str(qs_conf *c, const char *name, const char *def);
/** As qs_conf_str, but records "NAME is required" when neither is set; returns NULL then. */
const char *qs_conf_required(qs_conf *c, const char *name);
/** An integer in [min, max]; a non-number or out-of-range value is recorded as an error and
 *  `def` returned. */
long qs_conf_int(qs_conf *c, const char *name, long def, long min, long max);
/** true/false/1/0/yes/no/on/off (case-insensitive); anything else is an error. */
bool qs_conf_bool(qs_conf *c, const char *name, bool def);
/** A duration in seconds: "90", "90s", "15m", "6h", "1h30m", "250ms" (Go-style). Must be in
 *  [min, max] seconds. */
double qs_conf_duration(qs_conf *c, const char *name, double def, double min, double max);
/** Record an error (shown with the others by qs_conf_check). */
void qs_conf_error(qs_conf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Number of errors recorded so far. */
size_t qs_conf_error_count(const qs_conf *c);
/** The i-th recorded error message. */
const char *qs_conf_error_at(const qs_conf *c, size_t i);
/** Log every recorded error (level error, field "setting") and return their count. */
size_t qs_conf_check(qs_conf *c);

/** Parse a duration string as qs_conf_duration does. 0 or QS_EINVAL. */
int qs_parse_duration(const char *s, double *seconds);
/** Parse a boolean string as qs_conf_bool does. 0 or QS_EINVAL. */
int qs_parse_bool(const char *s, bool *out);

/* ---- a service's settings table ---- */
/** One environment variable a service reads: name, default ("" = none) and meaning. A
 *  service keeps one table of these, which feeds both its `--help` and its loader, so the two
 *  never drift apart. */
typedef struct {
    const char *name;
    const char *def;
    const char *help;
} qs_setting;

/** Print "  NAME   help [default: x]" for every row. */
void qs_settings_usage(FILE *out, const qs_setting *table, size_t n);
/** The value of `name` (which must be in `table`), or its default (NULL when none). */
const char *qs_settings_get(qs_conf *c, const qs_setting *table, size_t n, const char *name);

/* ---- secrets in files ---- */
typedef struct qs_secret qs_secret;

/** A secret held in the file at `path` (the file need not exist yet). NULL on ENOMEM. */
qs_secret *qs_secret_new(const char *path);
void qs_secret_free(qs_secret *s);
/** The current value, re-read when the file's identity (device, inode, size, mtime) changed:
 *  a malloc'd, trimmed, NUL-terminated copy in *out (release with qs_secret_release).
 *  Returns 0; QS_ENOTFOUND when the file is missing or unreadable and no value was ever
 *  read; QS_EINVAL when the file holds only whitespace (it is re-read at the next call).
 *  Once a value has been read, a missing or unreadable file returns that last good value
 *  with 0, so a Secret being swapped (remove + create) never causes an outage. *out is
 *  NULL whenever the result is not 0. */
int qs_secret_get(qs_secret *s, char **out);
/** Did the value change since the previous qs_secret_get/qs_secret_changed call? (Polls.) */
bool qs_secret_changed(qs_secret *s);
/** The file path (for messages; never the value). */
const char *qs_secret_path(const qs_secret *s);
/** Zero and free a value returned by qs_secret_get. NULL is fine. */
void qs_secret_release(char *value);
/** Read a whole small file (≤ max bytes) into a malloc'd NUL-terminated string, trimmed when
 *  `trim`. 0, QS_ENOTFOUND, QS_ETOOBIG. */
int qs_read_file(const char *path, size_t max, bool trim, char **out, size_t *len);

/* ---- YAML ---- */
/** Parse YAML text (the first document) into a jansson value (*out, caller decrefs). On error
 *  returns QS_EINVAL and writes "line L, column C: what" into err. Nesting is bounded
 *  (64 levels). A gzip-compressed input (magic 1f 8b) is inflated first, up to 64 MiB. */
int qs_yaml_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen);
/** Read and parse a YAML file as qs_yaml_parse (file ≤ 16 MiB). */
int qs_yaml_load_file(const char *path, json_t **out, char *err, size_t errlen);
/** Record an error in `c` for every key of `obj` not in `allowed` (NULL-terminated), naming
 *  it as "<where>.<key>". Returns the number of unknown keys. Non-objects are an error too. */
size_t qs_json_check_keys(qs_conf *c, const json_t *obj, const char *where,
                          const char *const allowed[]);

#endif
