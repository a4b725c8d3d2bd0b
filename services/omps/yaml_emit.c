/* yaml_emit.c — jansson trees to block-style YAML, matching PyYAML's `yaml.dump`.
 *
 * operator-courier writes bundle.yaml with PyYAML, whose emitter is a port of libyaml's: the
 * same scalar analysis (when plain, single-quoted, double-quoted or literal style is allowed),
 * the same indentless block sequences under a mapping key, the same folding at the preferred
 * width and `[]`/`{}` for empty collections. So we feed libyaml's emitter the event stream
 * PyYAML's serializer would produce, and the one thing libyaml leaves to its caller — whether a
 * string may be written plain — is decided here as PyYAML's representer does: a string whose
 * plain form a YAML 1.1 resolver would read as bool/int/float/null/timestamp/merge/value is
 * marked "not plain-implicit", which makes the emitter quote it. Keys are sorted by code point
 * (PyYAML's default) unless the caller keeps the document's order (OMPS's ruamel rewrites).
 * Numbers are written as Python writes them (`repr(float)`: shortest round-trip digits). */
#include "omps/yaml_emit.h"

#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "shared/common.h"

/* PyYAML's implicit resolvers (resolver.py), in POSIX ERE; then the YAML 1.2 core additions. */
static const char *const yaml11_patterns[] = {
    "^(yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
    "^([-+]?[0-9][0-9_]*\\.[0-9_]*([eE][-+][0-9]+)?|\\.[0-9][0-9_]*([eE][-+][0-9]+)?"
    "|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN))$",
    "^([-+]?0b[01_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
    "|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+)$",
    "^<<$",
    "^(~|null|Null|NULL|)$",
    "^=$",
    "^([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}"
    ":[0-9]{2}(\\.[0-9]*)?([ \t]*(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?)$",
};
static const char *const yaml12_patterns[] = {
    "^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$",
    "^(0o[0-7]+|0x[0-9a-fA-F]+)$",
    "^[-+]?\\.(inf|Inf|INF)$",
};

#define N11 QS_ARRAY_LEN(yaml11_patterns)
#define N12 QS_ARRAY_LEN(yaml12_patterns)
static regex_t compiled[N11 + N12];
static bool compiled_ok;
static pthread_once_t compile_once = PTHREAD_ONCE_INIT;

static void compile_patterns(void) {
    compiled_ok = true;
    for (size_t i = 0; i < N11 + N12; i++) {
        const char *p = i < N11 ? yaml11_patterns[i] : yaml12_patterns[i - N11];
        if (regcomp(&compiled[i], p, REG_EXTENDED | REG_NOSUB) != 0)
            compiled_ok = false; /* a bug in the table; every string then gets quoted */
    }
}

bool omps_yaml_plain_is_str(const char *text, bool yaml12) {
    pthread_once(&compile_once, compile_patterns);
    if (!compiled_ok)
        return false;
    size_t n = yaml12 ? N11 + N12 : N11;
    for (size_t i = 0; i < n; i++)
        if (regexec(&compiled[i], text, 0, NULL, 0) == 0)
            return false;
    return true;
}

void omps_yaml_float_repr(double d, char *out, size_t outlen) {
    if (isnan(d)) {
        snprintf(out, outlen, ".nan");
        return;
    }
    if (isinf(d)) {
        snprintf(out, outlen, "%s", d > 0 ? ".inf" : "-.inf");
        return;
    }
    char sci[40];
    for (int prec = 0; prec < 17; prec++) { /* the shortest digits that read back as d */
        snprintf(sci, sizeof sci, "%.*e", prec, d);
        if (strtod(sci, NULL) == d)
            break;
    }
    /* sci = [-]D[.DDD]e[+-]XX: split into sign, digits and decimal exponent */
    char digits[40];
    size_t nd = 0;
    const char *p = sci;
    bool neg = *p == '-';
    if (neg)
        p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    digits[nd] = '\0';
    int exp = (int)strtol(p + 1, NULL, 10);
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    char body[64];
    if (exp >= -4 && exp < 16) { /* Python repr: positional notation, always with a '.' */
        size_t k = 0;
        if (exp < 0) {
            k += (size_t)snprintf(body, sizeof body, "0.");
            for (int i = -1; i > exp; i--)
                body[k++] = '0';
            snprintf(body + k, sizeof body - k, "%s", digits);
        } else {
            for (int i = 0; i <= exp; i++)
                body[k++] = (size_t)i < nd ? digits[i] : '0';
            body[k++] = '.';
            if ((size_t)exp + 1 < nd)
                k += (size_t)snprintf(body + k, sizeof body - k, "%s", digits + exp + 1);
            else
                body[k++] = '0';
            body[k] = '\0';
        }
    } else { /* exponent notation; PyYAML inserts ".0" when repr has no '.' (1e+16) */
        snprintf(body, sizeof body, "%c.%se%c%02d", digits[0], nd > 1 ? digits + 1 : "0",
                 exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
    snprintf(out, outlen, "%s%s", neg ? "-" : "", body);
}

/* ---- the emitter ---- */

typedef struct {
    yaml_emitter_t em;
    const omps_yaml_emit_opts *o;
    const char *path[OMPS_YAML_MAX_DEPTH];
    size_t depth;
    char *err;
    size_t errlen;
} ectx;

static int write_cb(void *data, unsigned char *buffer, size_t size) {
    return qs_buf_append((qs_buf *)data, buffer, size) == QS_OK;
}

static int fire(ectx *c, yaml_event_t *ev, int init_ok) {
    if (!init_ok) {
        snprintf(c->err, c->errlen, "out of memory");
        return QS_ENOMEM;
    }
    if (!yaml_emitter_emit(&c->em, ev)) { /* the emitter deletes the event either way */
        snprintf(c->err, c->errlen, "yaml emitter: %s",
                 c->em.problem ? c->em.problem : "write failed");
        return c->em.error == YAML_MEMORY_ERROR || c->em.error == YAML_WRITER_ERROR ? QS_ENOMEM
                                                                                    : QS_EINVAL;
    }
    return QS_OK;
}

static int emit_string(ectx *c, const char *s, size_t len) {
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
    if ((c->o->literal && c->o->literal(c->path, c->depth, c->o->literal_ud)) ||
        (c->o->literal_multiline && memchr(s, '\n', len)))
        style = YAML_LITERAL_SCALAR_STYLE;
    int plain_ok = strlen(s) == len && omps_yaml_plain_is_str(s, c->o->yaml12);
    yaml_event_t ev;
    int ok =
        yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)YAML_STR_TAG,
                                     (yaml_char_t *)(uintptr_t)s, (int)len, plain_ok, 1, style);
    return fire(c, &ev, ok);
}

static int emit_plain(ectx *c, const char *tag, const char *text) {
    yaml_event_t ev;
    int ok = yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)(uintptr_t)tag,
                                          (yaml_char_t *)(uintptr_t)text, (int)strlen(text), 1, 0,
                                          YAML_PLAIN_SCALAR_STYLE);
    return fire(c, &ev, ok);
}

static int cmp_keys(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int emit_value(ectx *c, const json_t *v);

static int emit_object(ectx *c, const json_t *v) {
    yaml_event_t ev;
    int rc = fire(c, &ev,
                  yaml_mapping_start_event_initialize(&ev, NULL, (yaml_char_t *)YAML_MAP_TAG, 1,
                                                      YAML_BLOCK_MAPPING_STYLE));
    size_t n = json_object_size(v), i = 0;
    const char **keys = n ? malloc(n * sizeof *keys) : NULL;
    if (rc == QS_OK && n && !keys)
        rc = QS_ENOMEM;
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)v, k, val) {
        if (keys && i < n)
            keys[i++] = k;
    }
    n = i; /* the keys actually collected */
    if (keys && c->o->sort_keys)
        qsort(keys, n, sizeof *keys, cmp_keys);
    for (i = 0; rc == QS_OK && i < n; i++) {
        rc = emit_string(c, keys[i], strlen(keys[i]));
        c->path[c->depth++] = keys[i];
        if (rc == QS_OK)
            rc = emit_value(c, json_object_get(v, keys[i]));
        c->depth--;
    }
    free(keys);
    return rc == QS_OK ? fire(c, &ev, yaml_mapping_end_event_initialize(&ev)) : rc;
}

static int emit_array(ectx *c, const json_t *v) {
    yaml_event_t ev;
    int rc = fire(c, &ev,
                  yaml_sequence_start_event_initialize(&ev, NULL, (yaml_char_t *)YAML_SEQ_TAG, 1,
                                                       YAML_BLOCK_SEQUENCE_STYLE));
    for (size_t i = 0; rc == QS_OK && i < json_array_size(v); i++) {
        c->path[c->depth++] = NULL;
        rc = emit_value(c, json_array_get(v, i));
        c->depth--;
    }
    return rc == QS_OK ? fire(c, &ev, yaml_sequence_end_event_initialize(&ev)) : rc;
}

static int emit_value(ectx *c, const json_t *v) {
    char num[64];
    if (c->depth >= OMPS_YAML_MAX_DEPTH) {
        snprintf(c->err, c->errlen, "document nested deeper than %d levels", OMPS_YAML_MAX_DEPTH);
        return QS_EINVAL;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return emit_object(c, v);
    case JSON_ARRAY:
        return emit_array(c, v);
    case JSON_STRING:
        return emit_string(c, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return emit_plain(c, YAML_INT_TAG, num);
    case JSON_REAL:
        omps_yaml_float_repr(json_real_value(v), num, sizeof num);
        return emit_plain(c, YAML_FLOAT_TAG, num);
    case JSON_TRUE:
    case JSON_FALSE:
        return emit_plain(c, YAML_BOOL_TAG, json_is_true(v) ? "true" : "false");
    default:
        return emit_plain(c, YAML_NULL_TAG, "null");
    }
}

int omps_yaml_emit(const json_t *doc, const omps_yaml_emit_opts *opts, qs_buf *out, char *err,
                   size_t errlen) {
    char dummy[1];
    ectx c = {.o = opts, .err = dummy, .errlen = 1};
    if (err && errlen) {
        err[0] = '\0';
        c.err = err;
        c.errlen = errlen;
    }
    if (!doc || !opts || !out)
        return QS_EINVAL;
    if (!yaml_emitter_initialize(&c.em))
        return QS_ENOMEM;
    yaml_emitter_set_output(&c.em, write_cb, out);
    yaml_emitter_set_width(&c.em, opts->width > 0 ? opts->width : 80);
    yaml_emitter_set_unicode(&c.em, opts->unicode);
    yaml_emitter_set_break(&c.em, YAML_LN_BREAK);
    yaml_event_t ev;
    int rc = fire(&c, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
    if (rc == QS_OK)
        rc = fire(&c, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
    if (rc == QS_OK)
        rc = emit_value(&c, doc);
    if (rc == QS_OK)
        rc = fire(&c, &ev, yaml_document_end_event_initialize(&ev, 1));
    if (rc == QS_OK)
        rc = fire(&c, &ev, yaml_stream_end_event_initialize(&ev));
    yaml_emitter_delete(&c.em);
    return rc;
}
