/* xmlrpc.c — XML-RPC documents to and from jansson values, strictly and within bounds.
 *
 * Encoding walks the JSON value recursively (depth-limited) and appends XML to a qs_buf,
 * escaping & < > " ' in text; characters XML 1.0 cannot carry (C0 controls other than tab,
 * newline, carriage return) make the value unencodable rather than silently altered.
 *
 * Decoding is a hand-written recursive-descent parser over the XML-RPC grammar only: a cursor
 * moves over the input, `tag()` reads one start, end or empty-element tag (no attributes),
 * `text()` reads character data up to the next '<' decoding entities and character
 * references, and the value parser recurses through <array>/<struct> with a depth counter.
 * Every byte is accounted for: unexpected elements, stray text, comments, DOCTYPE, CDATA and
 * trailing garbage are errors, and strings must be valid UTF-8 (jansson checks that). The
 * first error stops the parse; its message names what was expected and the byte offset. */
#include "shared/xmlrpc.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"

/* ---------------------------------------------------------------- encoding */

static int put_escaped(qs_buf *out, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        switch (c) {
        case '&':
            rc = qs_buf_puts(out, "&amp;");
            break;
        case '<':
            rc = qs_buf_puts(out, "&lt;");
            break;
        case '>':
            rc = qs_buf_puts(out, "&gt;");
            break;
        case '"':
            rc = qs_buf_puts(out, "&quot;");
            break;
        case '\'':
            rc = qs_buf_puts(out, "&apos;");
            break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                return QS_EINVAL;
            if (c == '\r') /* would be normalised to \n by an XML parser */
                rc = qs_buf_puts(out, "&#13;");
            else
                rc = qs_buf_append(out, &s[i], 1);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int encode_value(const json_t *v, qs_buf *out, int depth) {
    if (depth > QS_XMLRPC_MAX_DEPTH)
        return QS_EINVAL;
    int rc = qs_buf_puts(out, "<value>");
    if (rc != 0)
        return rc;
    switch (json_typeof(v)) {
    case JSON_NULL:
        rc = qs_buf_puts(out, "<nil/>");
        break;
    case JSON_TRUE:
        rc = qs_buf_puts(out, "<boolean>1</boolean>");
        break;
    case JSON_FALSE:
        rc = qs_buf_puts(out, "<boolean>0</boolean>");
        break;
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        if (i >= INT32_MIN && i <= INT32_MAX)
            rc = qs_buf_printf(out, "<int>%" JSON_INTEGER_FORMAT "</int>", i);
        else
            rc = qs_buf_printf(out, "<i8>%" JSON_INTEGER_FORMAT "</i8>", i);
        break;
    }
    case JSON_REAL: {
        double d = json_real_value(v);
        if (!isfinite(d))
            return QS_EINVAL;
        rc = qs_buf_printf(out, "<double>%.17g</double>", d);
        break;
    }
    case JSON_STRING:
        rc = qs_buf_puts(out, "<string>");
        if (rc == 0)
            rc = put_escaped(out, json_string_value(v), json_string_length(v));
        if (rc == 0)
            rc = qs_buf_puts(out, "</string>");
        break;
    case JSON_ARRAY: {
        rc = qs_buf_puts(out, "<array><data>");
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            if (rc == 0)
                rc = encode_value(e, out, depth + 1);
        }
        if (rc == 0)
            rc = qs_buf_puts(out, "</data></array>");
        break;
    }
    case JSON_OBJECT: {
        rc = qs_buf_puts(out, "<struct>");
        const char *k;
        const json_t *e;
        json_object_foreach((json_t *)v, k, e) {
            if (rc == 0)
                rc = qs_buf_puts(out, "<member><name>");
            if (rc == 0)
                rc = put_escaped(out, k, strlen(k));
            if (rc == 0)
                rc = qs_buf_puts(out, "</name>");
            if (rc == 0)
                rc = encode_value(e, out, depth + 1);
            if (rc == 0)
                rc = qs_buf_puts(out, "</member>");
        }
        if (rc == 0)
            rc = qs_buf_puts(out, "</struct>");
        break;
    }
    }
    if (rc == 0)
        rc = qs_buf_puts(out, "</value>");
    return rc;
}

static int encode_param(const json_t *v, qs_buf *out) {
    int rc = qs_buf_puts(out, "<param>");
    if (rc == 0)
        rc = encode_value(v, out, 1);
    if (rc == 0)
        rc = qs_buf_puts(out, "</param>");
    return rc;
}

int qs_xmlrpc_encode_call(const char *method, const json_t *params, qs_buf *out) {
    if (!method || !*method || (params && !json_is_array(params)))
        return QS_EINVAL;
    size_t mark = out->len;
    int rc = qs_buf_puts(out, "<?xml version=\"1.0\"?>\n<methodCall><methodName>");
    if (rc == 0)
        rc = put_escaped(out, method, strlen(method));
    if (rc == 0)
        rc = qs_buf_puts(out, "</methodName><params>");
    size_t i;
    const json_t *e;
    if (params)
        json_array_foreach(params, i, e) {
            if (rc == 0)
                rc = encode_param(e, out);
        }
    if (rc == 0)
        rc = qs_buf_puts(out, "</params></methodCall>\n");
    if (rc != 0 && out->data) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

int qs_xmlrpc_encode_response(const json_t *value, qs_buf *out) {
    if (!value)
        return QS_EINVAL;
    size_t mark = out->len;
    int rc = qs_buf_puts(out, "<?xml version=\"1.0\"?>\n<methodResponse><params>");
    if (rc == 0)
        rc = encode_param(value, out);
    if (rc == 0)
        rc = qs_buf_puts(out, "</params></methodResponse>\n");
    if (rc != 0 && out->data) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

int qs_xmlrpc_encode_fault(long code, const char *message, qs_buf *out) {
    json_t *f = json_pack("{s:I, s:s}", "faultCode", (json_int_t)code, "faultString",
                          message ? message : "");
    if (!f)
        return QS_EINVAL; /* message not UTF-8, or ENOMEM */
    size_t mark = out->len;
    int rc = qs_buf_puts(out, "<?xml version=\"1.0\"?>\n<methodResponse><fault>");
    if (rc == 0)
        rc = encode_value(f, out, 1);
    if (rc == 0)
        rc = qs_buf_puts(out, "</fault></methodResponse>\n");
    json_decref(f);
    if (rc != 0 && out->data) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

/* ---------------------------------------------------------------- decoding */

typedef struct {
    const char *s;
    size_t len, pos;
    char *err;
    size_t errlen;
    bool failed;
    int rc;
} parser;

enum { TAG_OPEN, TAG_CLOSE, TAG_EMPTY };

typedef struct {
    int kind;
    char name[24];
} xtag;

__attribute__((format(printf, 2, 3))) static void fail(parser *p, const char *fmt, ...) {
    if (p->failed)
        return;
    p->failed = true;
    if (!p->rc)
        p->rc = QS_EPROTO;
    if (p->err && p->errlen) {
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(p->err, p->errlen, "xml-rpc: %s at byte %zu", msg, p->pos);
    }
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void skip_ws(parser *p) {
    while (p->pos < p->len && is_ws(p->s[p->pos]))
        p->pos++;
}

static bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* Read one tag at the cursor (after optional whitespace). */
static bool tag(parser *p, xtag *t) {
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '<') {
        fail(p, p->pos >= p->len ? "unexpected end of document" : "expected a tag");
        return false;
    }
    p->pos++;
    t->kind = TAG_OPEN;
    if (p->pos < p->len && p->s[p->pos] == '/') {
        t->kind = TAG_CLOSE;
        p->pos++;
    }
    size_t n = 0;
    while (p->pos < p->len && is_name_char(p->s[p->pos])) {
        if (n + 1 >= sizeof t->name) {
            fail(p, "element name too long");
            return false;
        }
        t->name[n++] = p->s[p->pos++];
    }
    t->name[n] = '\0';
    if (n == 0) {
        fail(p, "malformed tag (comments, CDATA and DOCTYPE are not accepted)");
        return false;
    }
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '/' && t->kind == TAG_OPEN) {
        t->kind = TAG_EMPTY;
        p->pos++;
    }
    if (p->pos >= p->len || p->s[p->pos] != '>') {
        fail(p, "malformed tag <%s> (attributes are not accepted)", t->name);
        return false;
    }
    p->pos++;
    return true;
}

static bool expect(parser *p, int kind, const char *name) {
    xtag t;
    if (!tag(p, &t))
        return false;
    if (t.kind != kind || strcmp(t.name, name) != 0) {
        fail(p, "expected %s%s%s, found %s%s%s", kind == TAG_CLOSE ? "</" : "<", name,
             kind == TAG_EMPTY ? "/>" : ">", t.kind == TAG_CLOSE ? "</" : "<", t.name,
             t.kind == TAG_EMPTY ? "/>" : ">");
        return false;
    }
    return true;
}

/* Peek at the next tag without consuming it. */
static bool peek(parser *p, xtag *t) {
    size_t save = p->pos;
    bool ok = tag(p, t);
    p->pos = save;
    return ok;
}

static int put_utf8(qs_buf *b, unsigned long cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return qs_buf_append(b, u, n);
}

static bool xml_char_ok(unsigned long cp) {
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Character data up to the next '<', entities decoded, appended to `b`. */
static bool text(parser *p, qs_buf *b) {
    static const struct {
        const char *name;
        char c;
    } ents[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    while (p->pos < p->len && p->s[p->pos] != '<') {
        char c = p->s[p->pos];
        int rc = 0;
        if (c == '&') {
            const char *rest = p->s + p->pos + 1;
            size_t left = p->len - p->pos - 1;
            bool done = false;
            for (size_t i = 0; i < QS_ARRAY_LEN(ents) && !done; i++) {
                size_t n = strlen(ents[i].name);
                if (left >= n && memcmp(rest, ents[i].name, n) == 0) {
                    rc = qs_buf_append(b, &ents[i].c, 1);
                    p->pos += 1 + n;
                    done = true;
                }
            }
            if (!done) {
                if (left < 3 || rest[0] != '#') {
                    fail(p, "unknown entity");
                    return false;
                }
                size_t i = 1;
                int base = 10;
                if (rest[1] == 'x') {
                    base = 16;
                    i = 2;
                }
                unsigned long cp = 0;
                size_t digits = 0;
                while (i < left && rest[i] != ';' && digits < 8) {
                    char d = rest[i];
                    int v = (d >= '0' && d <= '9')                 ? d - '0'
                            : (base == 16 && d >= 'a' && d <= 'f') ? d - 'a' + 10
                            : (base == 16 && d >= 'A' && d <= 'F') ? d - 'A' + 10
                                                                   : -1;
                    if (v < 0)
                        break;
                    cp = cp * (unsigned long)base + (unsigned long)v;
                    i++;
                    digits++;
                }
                if (digits == 0 || i >= left || rest[i] != ';' || !xml_char_ok(cp)) {
                    fail(p, "bad character reference");
                    return false;
                }
                rc = put_utf8(b, cp);
                p->pos += 1 + i + 1;
            }
        } else {
            unsigned char u = (unsigned char)c;
            if (u < 0x20 && !is_ws(c)) {
                fail(p, "control character in text");
                return false;
            }
            if (c == '>' && p->pos >= 2 && p->s[p->pos - 1] == ']' && p->s[p->pos - 2] == ']') {
                fail(p, "']]>' in text");
                return false;
            }
            if (c == '\r') { /* XML line-end normalisation */
                rc = qs_buf_append(b, "\n", 1);
                if (p->pos + 1 < p->len && p->s[p->pos + 1] == '\n')
                    p->pos++;
            } else {
                rc = qs_buf_append(b, &c, 1);
            }
            p->pos++;
        }
        if (rc != 0) {
            p->rc = QS_ENOMEM;
            fail(p, "out of memory");
            return false;
        }
    }
    return true;
}

/* Text content of a leaf element whose open tag was read; consumes the close tag. An empty
 * element (<string/>) has empty content. */
static bool leaf(parser *p, const xtag *open, qs_buf *b) {
    if (open->kind == TAG_EMPTY)
        return true;
    if (!text(p, b))
        return false;
    return expect(p, TAG_CLOSE, open->name);
}

static bool all_ws(const qs_buf *b) {
    for (size_t i = 0; i < b->len; i++)
        if (!is_ws(b->data[i]))
            return false;
    return true;
}

static const char *trim(qs_buf *b) {
    char *s = b->data ? b->data : (char *)"";
    size_t n = b->len;
    while (n && is_ws(s[n - 1]))
        n--;
    if (b->data)
        s[n] = '\0';
    while (is_ws(*s))
        s++;
    return s;
}

static json_t *mkstring(parser *p, const qs_buf *b) {
    json_t *j = json_stringn(b->data ? b->data : "", b->len);
    if (!j)
        fail(p, "string is not valid UTF-8");
    return j;
}

static json_t *value(parser *p, int depth);

static json_t *typed(parser *p, const xtag *t, int depth) {
    qs_buf b = QS_BUF_INIT;
    json_t *j = NULL;
    const char *n = t->name;
    if (strcmp(n, "nil") == 0) {
        if (t->kind == TAG_EMPTY || expect(p, TAG_CLOSE, "nil"))
            j = json_null();
    } else if (strcmp(n, "string") == 0 || strcmp(n, "base64") == 0 ||
               strcmp(n, "dateTime.iso8601") == 0) {
        if (leaf(p, t, &b))
            j = mkstring(p, &b);
    } else if (strcmp(n, "int") == 0 || strcmp(n, "i4") == 0 || strcmp(n, "i8") == 0) {
        if (leaf(p, t, &b)) {
            const char *s = trim(&b);
            char *end = NULL;
            errno = 0;
            long long v = strtoll(s, &end, 10);
            bool i8 = strcmp(n, "i8") == 0;
            if (!*s || *end || errno || (!i8 && (v < INT32_MIN || v > INT32_MAX)))
                fail(p, "bad <%s> value", n);
            else
                j = json_integer((json_int_t)v);
        }
    } else if (strcmp(n, "boolean") == 0) {
        if (leaf(p, t, &b)) {
            const char *s = trim(&b);
            if (strcmp(s, "1") == 0)
                j = json_true();
            else if (strcmp(s, "0") == 0)
                j = json_false();
            else
                fail(p, "bad <boolean> value");
        }
    } else if (strcmp(n, "double") == 0) {
        if (leaf(p, t, &b)) {
            const char *s = trim(&b);
            char *end = NULL;
            errno = 0;
            double d = strtod(s, &end);
            if (!*s || *end || errno || !isfinite(d) || strpbrk(s, "xXpPnN"))
                fail(p, "bad <double> value");
            else
                j = json_real(d);
        }
    } else if (strcmp(n, "array") == 0) {
        if (t->kind == TAG_EMPTY) {
            fail(p, "<array/> needs <data>");
        } else {
            j = json_array();
            xtag d;
            if (tag(p, &d) && strcmp(d.name, "data") == 0 && d.kind != TAG_CLOSE) {
                if (d.kind == TAG_OPEN) {
                    xtag nx;
                    while (!p->failed && peek(p, &nx) && nx.kind != TAG_CLOSE) {
                        json_t *e = value(p, depth + 1);
                        if (!e || json_array_append_new(j, e) != 0)
                            fail(p, "bad array element");
                    }
                    if (!p->failed)
                        expect(p, TAG_CLOSE, "data");
                }
                if (!p->failed)
                    expect(p, TAG_CLOSE, "array");
            } else {
                fail(p, "expected <data> in <array>");
            }
        }
    } else if (strcmp(n, "struct") == 0) {
        j = json_object();
        if (t->kind == TAG_OPEN) {
            xtag nx;
            while (!p->failed && peek(p, &nx) && nx.kind != TAG_CLOSE) {
                if (!expect(p, TAG_OPEN, "member"))
                    break;
                xtag nt;
                if (!tag(p, &nt))
                    break;
                if (strcmp(nt.name, "name") != 0 || nt.kind == TAG_CLOSE) {
                    fail(p, "expected <name> in <member>");
                    break;
                }
                qs_buf key = QS_BUF_INIT;
                bool ok = leaf(p, &nt, &key);
                json_t *e = ok ? value(p, depth + 1) : NULL;
                if (e && memchr(qs_buf_str(&key), '\0', key.len))
                    fail(p, "NUL in member name");
                if (e && !p->failed && json_object_set_new(j, qs_buf_str(&key), e) != 0)
                    fail(p, "bad member name");
                else if (e && p->failed)
                    json_decref(e);
                qs_buf_free(&key);
                if (!p->failed)
                    expect(p, TAG_CLOSE, "member");
            }
            if (!p->failed)
                expect(p, TAG_CLOSE, "struct");
        }
    } else {
        fail(p, "unknown element <%s>", n);
    }
    qs_buf_free(&b);
    if (p->failed) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* <value>...</value> at the cursor. */
static json_t *value(parser *p, int depth) {
    if (depth > QS_XMLRPC_MAX_DEPTH) {
        fail(p, "values nested deeper than %d", QS_XMLRPC_MAX_DEPTH);
        return NULL;
    }
    xtag t;
    if (!tag(p, &t))
        return NULL;
    if (strcmp(t.name, "value") != 0 || t.kind == TAG_CLOSE) {
        fail(p, "expected <value>, found <%s>", t.name);
        return NULL;
    }
    if (t.kind == TAG_EMPTY)
        return json_string("");
    qs_buf b = QS_BUF_INIT;
    json_t *j = NULL;
    if (text(p, &b)) {
        xtag inner;
        if (peek(p, &inner) && inner.kind == TAG_CLOSE && strcmp(inner.name, "value") == 0) {
            /* untyped value: a string, whitespace included */
            j = mkstring(p, &b);
        } else if (!p->failed) {
            if (!all_ws(&b))
                fail(p, "text before a typed value");
            else if (tag(p, &inner)) {
                if (inner.kind == TAG_CLOSE)
                    fail(p, "unexpected </%s>", inner.name);
                else
                    j = typed(p, &inner, depth);
            }
        }
    }
    qs_buf_free(&b);
    if (j && !expect(p, TAG_CLOSE, "value")) {
        json_decref(j);
        j = NULL;
    }
    return p->failed ? (json_decref(j), NULL) : j;
}

static int start(parser *p, const char *xml, size_t len, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    p->s = xml;
    p->len = len;
    p->err = err;
    p->errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    if (!xml) {
        fail(p, "no document");
        return p->rc;
    }
    if (len > QS_XMLRPC_MAX_SIZE) {
        p->rc = QS_ETOOBIG;
        fail(p, "document larger than %u bytes", QS_XMLRPC_MAX_SIZE);
        return p->rc;
    }
    if (memchr(xml, '\0', len)) {
        fail(p, "NUL byte in document");
        return p->rc;
    }
    if (len >= 3 && memcmp(xml, "\xEF\xBB\xBF", 3) == 0) /* UTF-8 BOM */
        p->pos = 3;
    skip_ws(p);
    if (p->len - p->pos >= 5 && memcmp(p->s + p->pos, "<?xml", 5) == 0 &&
        (p->len - p->pos == 5 || is_ws(p->s[p->pos + 5]))) {
        const char *endp = NULL;
        for (size_t i = p->pos + 5; i + 1 < p->len; i++)
            if (p->s[i] == '?' && p->s[i + 1] == '>') {
                endp = p->s + i + 2;
                break;
            }
        if (!endp) {
            fail(p, "unterminated XML declaration");
            return p->rc;
        }
        p->pos = (size_t)(endp - p->s);
    }
    return 0;
}

static int finish(parser *p) {
    skip_ws(p);
    if (!p->failed && p->pos != p->len)
        fail(p, "trailing content after the document");
    return p->failed ? p->rc : 0;
}

int qs_xmlrpc_decode_response(const char *xml, size_t len, json_t **result, qs_xmlrpc_fault *fault,
                              char *err, size_t errlen) {
    *result = NULL;
    if (fault) {
        fault->code = 0;
        fault->message[0] = '\0';
    }
    parser p;
    int rc = start(&p, xml, len, err, errlen);
    if (rc != 0)
        return rc;
    json_t *v = NULL;
    bool is_fault = false;
    xtag t;
    if (expect(&p, TAG_OPEN, "methodResponse") && tag(&p, &t)) {
        if (t.kind == TAG_OPEN && strcmp(t.name, "params") == 0) {
            if (expect(&p, TAG_OPEN, "param") && (v = value(&p, 1)) != NULL &&
                expect(&p, TAG_CLOSE, "param"))
                expect(&p, TAG_CLOSE, "params");
        } else if (t.kind == TAG_OPEN && strcmp(t.name, "fault") == 0) {
            is_fault = true;
            if ((v = value(&p, 1)) != NULL)
                expect(&p, TAG_CLOSE, "fault");
            if (!p.failed) {
                const json_t *c = json_object_get(v, "faultCode");
                const json_t *s = json_object_get(v, "faultString");
                if (!json_is_integer(c) || !json_is_string(s))
                    fail(&p, "fault without an integer faultCode and a string faultString");
                else if (fault) {
                    fault->code = (long)json_integer_value(c);
                    snprintf(fault->message, sizeof fault->message, "%s", json_string_value(s));
                }
            }
        } else {
            fail(&p, "expected <params> or <fault> in <methodResponse>");
        }
    }
    if (!p.failed)
        expect(&p, TAG_CLOSE, "methodResponse");
    rc = finish(&p);
    if (rc != 0) {
        json_decref(v);
        return rc;
    }
    if (is_fault) {
        json_decref(v);
        return QS_XMLRPC_FAULT;
    }
    *result = v;
    return 0;
}

int qs_xmlrpc_decode_call(const char *xml, size_t len, char **method, json_t **params, char *err,
                          size_t errlen) {
    *method = NULL;
    *params = NULL;
    parser p;
    int rc = start(&p, xml, len, err, errlen);
    if (rc != 0)
        return rc;
    qs_buf name = QS_BUF_INIT;
    json_t *arr = json_array();
    if (!arr)
        return QS_ENOMEM;
    xtag t;
    if (expect(&p, TAG_OPEN, "methodCall") && expect(&p, TAG_OPEN, "methodName") &&
        text(&p, &name) && expect(&p, TAG_CLOSE, "methodName")) {
        if (name.len == 0 || memchr(name.data, '\0', name.len))
            fail(&p, "empty method name");
        else if (peek(&p, &t) && t.kind != TAG_CLOSE) {
            if (!tag(&p, &t) || strcmp(t.name, "params") != 0)
                fail(&p, "expected <params>");
            else if (t.kind == TAG_OPEN) {
                xtag nx;
                while (!p.failed && peek(&p, &nx) && nx.kind != TAG_CLOSE) {
                    json_t *v = NULL;
                    if (expect(&p, TAG_OPEN, "param") && (v = value(&p, 1)) != NULL &&
                        expect(&p, TAG_CLOSE, "param"))
                        json_array_append_new(arr, v);
                    else
                        json_decref(v);
                }
                if (!p.failed)
                    expect(&p, TAG_CLOSE, "params");
            }
        }
        if (!p.failed)
            expect(&p, TAG_CLOSE, "methodCall");
    }
    rc = finish(&p);
    if (rc != 0) {
        qs_buf_free(&name);
        json_decref(arr);
        return rc;
    }
    *method = qs_buf_steal(&name);
    *params = arr;
    return 0;
}
