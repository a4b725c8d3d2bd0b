/* config_yaml.c — strict YAML to jansson, and the unknown-key check for config trees.
 *
 * YAML goes through libyaml's event parser into a jansson tree built on an explicit stack of
 * open containers. Only the first document is read. Plain scalars are typed by the YAML 1.2
 * core schema (null/~, true/false, decimal/0o/0x integers, floats); quoted scalars and
 * anything else stay strings (.inf/.nan too: JSON cannot hold them). Anchors, aliases, tags
 * other than !!str, non-scalar keys and duplicate keys are errors, reported with the 1-based
 * line and column of the offending node. gzip input (magic 1f 8b) is inflated with zlib first,
 * capped at 64 MiB. */
#include "shared/config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include <zlib.h>

#include "shared/common.h"

#define YAML_MAX_DEPTH 64
#define GZIP_MAX ((size_t)64 * 1024 * 1024)
#define YAML_FILE_MAX ((size_t)16 * 1024 * 1024)

/* Inflate a gzip stream into a malloc'd buffer of at most GZIP_MAX bytes. */
static int gunzip(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen,
                  char *err, size_t errlen) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (len > UINT32_MAX || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return QS_ENOMEM;
    z.next_in = (unsigned char *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    size_t cap = 0, n = 0;
    unsigned char *buf = NULL;
    int rc = QS_OK;
    for (;;) {
        if (n == cap) { /* grow the output, at most to one byte past the cap */
            size_t ncap = cap ? cap * 2 : len * 4 + 4096;
            ncap = ncap > GZIP_MAX + 1 ? GZIP_MAX + 1 : ncap;
            unsigned char *p = cap > GZIP_MAX ? NULL : realloc(buf, ncap);
            if (!p) {
                rc = cap > GZIP_MAX ? QS_ETOOBIG : QS_ENOMEM;
                break;
            }
            buf = p;
            cap = ncap;
        }
        z.next_out = buf + n;
        z.avail_out = (uInt)(cap - n);
        int zrc = inflate(&z, Z_NO_FLUSH);
        n = cap - z.avail_out;
        if (zrc == Z_STREAM_END)
            break;
        if (zrc != Z_OK && !(zrc == Z_BUF_ERROR && z.avail_out == 0)) {
            rc = QS_EINVAL; /* corrupt or truncated */
            break;
        }
    }
    inflateEnd(&z);
    if (rc == QS_OK && n > GZIP_MAX)
        rc = QS_ETOOBIG;
    if (rc != QS_OK) {
        snprintf(err, errlen, "line 1, column 1: %s",
                 rc == QS_ETOOBIG ? "gzip input inflates to more than 64 MiB"
                                  : "corrupt gzip input");
        free(buf);
        return rc == QS_ENOMEM ? QS_ENOMEM : QS_EINVAL;
    }
    *out = buf;
    *outlen = n;
    return QS_OK;
}

static bool match_all(const char *s, const char *set) {
    if (!*s)
        return false;
    for (; *s; s++)
        if (!strchr(set, *s))
            return false;
    return true;
}

/* Core-schema integer (decimal with sign, 0o octal, 0x hex). 1 = matched, -1 = overflow. */
static int yaml_int(const char *s, json_int_t *out) {
    static const struct {
        const char *prefix;
        int base;
        const char *digits;
    } forms[] = {{"0o", 8, "01234567"}, {"0x", 16, "0123456789abcdefABCDEF"}};
    for (size_t i = 0; i < QS_ARRAY_LEN(forms); i++) {
        if (strncmp(s, forms[i].prefix, 2) == 0) {
            if (!match_all(s + 2, forms[i].digits))
                return 0;
            errno = 0;
            unsigned long long v = strtoull(s + 2, NULL, forms[i].base);
            if (errno || v > (unsigned long long)INT64_MAX)
                return -1;
            *out = (json_int_t)v;
            return 1;
        }
    }
    const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
    if (!match_all(d, "0123456789"))
        return 0;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno)
        return -1;
    *out = (json_int_t)v;
    return 1;
}

/* Core-schema float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool yaml_float(const char *s, double *out) {
    const char *p = (*s == '-' || *s == '+') ? s + 1 : s;
    size_t intd = 0, fracd = 0;
    while (*p >= '0' && *p <= '9')
        p++, intd++;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            fracd++;
    if (!intd && !fracd)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return false;
    *out = strtod(s, NULL);
    return isfinite(*out);
}

/* A plain scalar's value by the core schema. NULL with *overflow set for a too-large int. */
static json_t *plain_scalar(const char *s, bool *overflow) {
    static const struct {
        const char *word;
        int kind; /* 0 null, 1 true, 2 false */
    } words[] = {{"", 0},     {"~", 0},    {"null", 0},  {"Null", 0},  {"NULL", 0}, {"true", 1},
                 {"True", 1}, {"TRUE", 1}, {"false", 2}, {"False", 2}, {"FALSE", 2}};
    for (size_t i = 0; i < QS_ARRAY_LEN(words); i++)
        if (strcmp(s, words[i].word) == 0)
            return words[i].kind == 0 ? json_null() : json_boolean(words[i].kind == 1);
    json_int_t iv = 0;
    int r = yaml_int(s, &iv);
    if (r == 1)
        return json_integer(iv);
    if (r < 0) {
        *overflow = true;
        return NULL;
    }
    double dv = 0;
    if (yaml_float(s, &dv))
        return json_real(dv);
    return json_string(s);
}

typedef struct {
    json_t *node;
    json_t *pending_key; /* mappings: the key read, awaiting its value */
} yframe;

typedef struct {
    yframe stack[YAML_MAX_DEPTH + 1];
    size_t depth;
    json_t *root;
    char *err;
    size_t errlen;
} ybuild;

__attribute__((format(printf, 3, 4))) static int yerr(ybuild *b, const yaml_mark_t *m,
                                                      const char *fmt, ...) {
    int n = snprintf(b->err, b->errlen, "line %zu, column %zu: ", m->line + 1, m->column + 1);
    if (n >= 0 && (size_t)n < b->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->err + n, b->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return QS_EINVAL;
}

/* Attach `v` (stolen) to the open container, or make it the root. */
static int attach(ybuild *b, json_t *v, const yaml_mark_t *m, bool is_scalar, const char *text) {
    if (!v)
        return QS_ENOMEM;
    if (b->depth == 0) {
        b->root = v;
        return QS_OK;
    }
    yframe *f = &b->stack[b->depth - 1];
    if (json_is_array(f->node))
        return json_array_append_new(f->node, v) == 0 ? QS_OK : QS_ENOMEM;
    if (!f->pending_key) {
        if (!is_scalar) {
            json_decref(v);
            return yerr(b, m, "mapping keys must be scalars");
        }
        json_decref(v);
        if (json_object_get(f->node, text))
            return yerr(b, m, "duplicate key \"%s\"", text);
        f->pending_key = json_string(text);
        return f->pending_key ? QS_OK : yerr(b, m, "mapping key is not valid UTF-8");
    }
    int rc = json_object_set_new(f->node, json_string_value(f->pending_key), v);
    json_decref(f->pending_key);
    f->pending_key = NULL;
    return rc == 0 ? QS_OK : QS_ENOMEM;
}

static int on_scalar(ybuild *b, const yaml_event_t *ev) {
    const char *text = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    if (strlen(text) != ev->data.scalar.length)
        return yerr(b, &ev->start_mark, "NUL character in scalar");
    json_t *v;
    if (tag && strcmp(tag, YAML_STR_TAG) != 0)
        return yerr(b, &ev->start_mark, "tag %s is not supported", tag);
    if (tag || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        v = json_string(text);
    } else {
        bool overflow = false;
        v = plain_scalar(text, &overflow);
        if (overflow)
            return yerr(b, &ev->start_mark, "integer %s is out of range", text);
    }
    if (!v)
        return yerr(b, &ev->start_mark, "scalar is not valid UTF-8");
    return attach(b, v, &ev->start_mark, true, text);
}

static int on_open(ybuild *b, const yaml_event_t *ev, json_t *node) {
    if (!node)
        return QS_ENOMEM;
    if (b->depth >= YAML_MAX_DEPTH) {
        json_decref(node);
        return yerr(b, &ev->start_mark, "nesting deeper than %d levels", YAML_MAX_DEPTH);
    }
    json_incref(node); /* one reference for the parent, one for the stack */
    int rc = attach(b, node, &ev->start_mark, false, NULL);
    if (rc != QS_OK) {
        json_decref(node);
        return rc;
    }
    b->stack[b->depth].node = node;
    b->stack[b->depth].pending_key = NULL;
    b->depth++;
    return QS_OK;
}

static void on_close(ybuild *b) {
    if (b->depth == 0)
        return;
    yframe *f = &b->stack[--b->depth];
    json_decref(f->pending_key);
    json_decref(f->node);
}

/* Handle one event. 1 = document finished, 0 = continue, <0 = error. */
static int on_event(ybuild *b, const yaml_event_t *ev) {
    const char *anchor = NULL;
    if (ev->type == YAML_SCALAR_EVENT)
        anchor = (const char *)ev->data.scalar.anchor;
    else if (ev->type == YAML_SEQUENCE_START_EVENT)
        anchor = (const char *)ev->data.sequence_start.anchor;
    else if (ev->type == YAML_MAPPING_START_EVENT)
        anchor = (const char *)ev->data.mapping_start.anchor;
    if (anchor)
        return yerr(b, &ev->start_mark, "anchors (&%s) are not allowed", anchor);
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return yerr(b, &ev->start_mark, "aliases (*%s) are not allowed",
                    (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        const char *tag =
            (const char *)(ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.tag
                                                                 : ev->data.mapping_start.tag);
        if (tag &&
            strcmp(tag, ev->type == YAML_SEQUENCE_START_EVENT ? YAML_SEQ_TAG : YAML_MAP_TAG) != 0)
            return yerr(b, &ev->start_mark, "tag %s is not supported", tag);
        return on_open(b, ev, ev->type == YAML_SEQUENCE_START_EVENT ? json_array() : json_object());
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        on_close(b);
        return 0;
    case YAML_DOCUMENT_END_EVENT:
    case YAML_STREAM_END_EVENT:
        return 1;
    default:
        return 0;
    }
}

/* Run the parser over `text`, building into `b` (whose err/errlen are set). */
static int parse_events(const unsigned char *text, size_t len, json_t **out, ybuild *b) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return QS_ENOMEM;
    yaml_parser_set_input_string(&parser, text, len);
    int rc = 0;
    while (rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            const char *ctx = parser.context;
            rc = yerr(b, &parser.problem_mark, "%s%s%s",
                      parser.problem ? parser.problem : "syntax error", ctx ? " " : "",
                      ctx ? ctx : "");
            break;
        }
        rc = on_event(b, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    while (b->depth)
        on_close(b);
    if (rc < 0) {
        json_decref(b->root);
        if (rc == QS_ENOMEM)
            snprintf(b->err, b->errlen, "out of memory");
        return rc == QS_ENOMEM ? QS_ENOMEM : QS_EINVAL;
    }
    *out = b->root ? b->root : json_null();
    return QS_OK;
}

int qs_yaml_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen) {
    char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!out || (!text && len))
        return QS_EINVAL;
    *out = NULL;
    ybuild b = {.err = err, .errlen = errlen};
    const unsigned char *in = (const unsigned char *)(text ? text : "");
    if (len >= 2 && in[0] == 0x1f && in[1] == 0x8b) {
        unsigned char *raw = NULL;
        size_t n = 0;
        int rc = gunzip(in, len, &raw, &n, err, errlen);
        if (rc != QS_OK)
            return rc;
        rc = parse_events(raw, n, out, &b);
        free(raw);
        return rc;
    }
    return parse_events(in, len, out, &b);
}

int qs_yaml_load_file(const char *path, json_t **out, char *err, size_t errlen) {
    char *text = NULL;
    size_t len = 0;
    char msg[512] = "";
    int rc = qs_read_file(path, YAML_FILE_MAX, false, &text, &len);
    if (rc != QS_OK) {
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path ? path : "(null)",
                     rc == QS_ETOOBIG ? "file larger than 16 MiB" : "cannot read file");
        if (out)
            *out = NULL;
        return rc;
    }
    rc = qs_yaml_parse(text, len, out, msg, sizeof msg);
    free(text);
    if (rc != QS_OK && err && errlen)
        snprintf(err, errlen, "%s: %s", path, msg);
    return rc;
}

size_t qs_json_check_keys(qs_conf *c, const json_t *obj, const char *where,
                          const char *const allowed[]) {
    const char *w = where ? where : "";
    if (!json_is_object(obj)) {
        qs_conf_error(c, "%s: expected a mapping", *w ? w : "(top level)");
        return 1;
    }
    size_t unknown = 0;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        size_t i = 0;
        while (allowed && allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (allowed && allowed[i])
            continue;
        qs_conf_error(c, "%s%s%s: unknown setting", w, *w ? "." : "", key);
        unknown++;
    }
    return unknown;
}
