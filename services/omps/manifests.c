/* manifests.c — OMPS's rewrites of an extracted manifest directory, and courier's reading of it.
 *
 * OMPS touches the files three times before courier sees them (§A.3): the package name is
 * taken from the first top-level YAML with `packageName` and, with the organization's suffix,
 * written back (only that value is spliced into the text, so comments and key order survive,
 * as ruamel's round trip kept them); `replace_registry` rules rewrite the raw text of every
 * YAML file; `csv_annotations` are set on every ClusterServiceVersion, which is re-emitted as
 * block YAML (ruamel kept comments here too; we do not — courier and OLM read the data only).
 *
 * Regular-expression rules use POSIX extended regular expressions (regcomp with REG_EXTENDED
 * | REG_NEWLINE, glibc), not Python's `re`. What differs from OMPS's `re.sub(old, new, text,
 * flags=re.MULTILINE)`:
 *   - no `\d`, `\D` (use [0-9]); glibc does know `\w \W \s \S \b \< \>` as extensions;
 *   - no lazy quantifiers (`*?`), no `(?:...)`, `(?P<name>...)`, look-around, inline flags
 *     or back-references inside the pattern's alternatives with Python's meaning;
 *   - alternation is leftmost-longest (POSIX), not leftmost-first: `a|ab` matches "ab";
 *   - with REG_NEWLINE `^`/`$` match at line boundaries (as re.MULTILINE) and `.` stops at a
 *     newline (as in Python), but so does a negated bracket (`[^a]` never matches "\n");
 *   - the replacement is Python's template subset: `\1`..`\99`, `\g<N>`, `\\`, `\n \t \r \f
 *     \v \a \b`; named groups and octal escapes are refused; an unmatched group is empty.
 * omps_org_settings_check compiles every rule at start so a bad one stops the service.
 *
 * courier's directory reading (§B.1) is omps_manifests_load: names are sorted (courier took
 * os.listdir's order), every YAML file of the root and of each immediate subdirectory is parsed
 * with PyYAML's one-document rule, and the layout is nested when any subdirectory holds a CSV. */
#include "omps/manifests.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "omps/yaml_emit.h"
#include "shared/buf.h"
#include "shared/common.h"
#include "shared/config.h"

#define REPLACE_OUT_MAX ((size_t)32 * 1024 * 1024)

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---- small file helpers ---- */

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The entries of dir (no "." / ".."), sorted byte-wise; at most OMPS_MANIFEST_MAX_FILES. */
static int list_dir(const char *dir, char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? QS_ENOTFOUND : QS_ERR;
    char **names = NULL;
    size_t cnt = 0, cap = 0;
    int rc = QS_OK;
    struct dirent *e;
    while (rc == QS_OK && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (cnt == OMPS_MANIFEST_MAX_FILES) {
            rc = QS_ETOOBIG;
            break;
        }
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(names, cap * sizeof *names);
            if (!p) {
                rc = QS_ENOMEM;
                break;
            }
            names = p;
        }
        names[cnt] = strdup(e->d_name);
        rc = names[cnt] ? QS_OK : QS_ENOMEM;
        cnt += rc == QS_OK;
    }
    closedir(d);
    if (rc != QS_OK) {
        free_names(names, cnt);
        return rc;
    }
    if (cnt)
        qsort(names, cnt, sizeof *names, cmp_names);
    *out = names;
    *n = cnt;
    return QS_OK;
}

/* 'f' regular file, 'd' directory, '?' anything else (a symlink is never followed). */
static char entry_type(const char *dir, const char *name) {
    char path[4096];
    struct stat st;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path ||
        lstat(path, &st) != 0)
        return '?';
    return S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' : '?';
}

static int write_file(const char *path, const char *data, size_t len) {
    int fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return QS_ERR;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return QS_ERR;
        }
        off += (size_t)w;
    }
    return close(fd) == 0 ? QS_OK : QS_ERR;
}

bool omps_is_yaml_name(const char *name) {
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    while (*base == '.') /* os.path.splitext: leading dots start no extension */
        base++;
    const char *dot = strrchr(base, '.');
    return dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml"));
}

static bool ends_with_ci(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* ---- one YAML file, PyYAML's way ---- */

/* Count the documents of a stream (stops at 2). */
static int count_documents(const char *text, size_t len, int *docs, char *err, size_t errlen) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return QS_ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = QS_OK;
    *docs = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = fail(err, errlen, QS_EINVAL, "line %zu: %s", p.problem_mark.line + 1,
                      p.problem ? p.problem : "syntax error");
            break;
        }
        yaml_event_type_t t = ev.type;
        yaml_event_delete(&ev);
        if (t == YAML_DOCUMENT_START_EVENT && ++*docs > 1)
            break;
        if (t == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&p);
    return rc;
}

static int parse_text(const char *text, size_t len, json_t **out, char *err, size_t errlen) {
    *out = NULL;
    if (memchr(text, '\0', len) || (len >= 2 && (unsigned char)text[0] == 0x1f))
        return fail(err, errlen, QS_EINVAL, "unacceptable character"); /* as PyYAML */
    int docs = 0;
    int rc = count_documents(text, len, &docs, err, errlen);
    if (rc != QS_OK)
        return rc;
    if (docs > 1)
        return fail(err, errlen, QS_EINVAL, "expected a single document in the stream");
    return qs_yaml_parse(text, len, out, err, errlen);
}

int omps_yaml_load_one(const char *path, json_t **out, char *err, size_t errlen) {
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = qs_read_file(path, OMPS_MANIFEST_FILE_MAX, false, &text, &len);
    if (rc != QS_OK)
        return fail(err, errlen, rc, "%s", rc == QS_ETOOBIG ? "file too large" : "cannot read");
    rc = parse_text(text, len, out, err, errlen);
    free(text);
    return rc;
}

/* ---- package name (§A.5) ---- */

char *omps_apply_suffix(const char *name, const char *suffix) {
    size_t n = strlen(name), m = suffix ? strlen(suffix) : 0;
    if (m == 0 || (n >= m && memcmp(name + n - m, suffix, m) == 0))
        return strdup(name);
    char *s = malloc(n + m + 1);
    if (s) {
        memcpy(s, name, n);
        memcpy(s + n, suffix, m + 1);
    }
    return s;
}

/* Byte offset of the character index `idx` (libyaml marks count characters). */
static size_t char_to_byte(const char *text, size_t len, size_t idx) {
    size_t b = 0;
    for (size_t c = 0; b < len && c < idx; c++) {
        b++;
        while (b < len && ((unsigned char)text[b] & 0xC0) == 0x80)
            b++;
    }
    return b;
}

/* Find the byte range of the top-level `packageName` value scalar. */
static int find_package_scalar(const char *text, size_t len, size_t *from, size_t *to) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return QS_ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int depth = 0, rc = QS_ENOTFOUND;
    bool key_turn = true, want = false;
    for (bool done = false; !done;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev))
            break;
        bool at_top = depth == 1;
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            done = at_top && !key_turn && want; /* the value is not a scalar */
            key_turn = at_top ? !key_turn : key_turn;
            depth++;
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            depth--;
            break;
        case YAML_SCALAR_EVENT:
            if (at_top && key_turn) {
                want = !strcmp((const char *)ev.data.scalar.value, "packageName");
            } else if (at_top && want) {
                *from = char_to_byte(text, len, ev.start_mark.index);
                *to = char_to_byte(text, len, ev.end_mark.index);
                rc = QS_OK;
                done = true;
            }
            key_turn = at_top ? !key_turn : key_turn;
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return rc;
}

/* Rewrite `packageName` in text to new_name, keeping everything else byte for byte. */
static int splice_package_name(const char *text, size_t len, const char *new_name, char **out,
                               size_t *outlen) {
    size_t from = 0, to = 0;
    int rc = find_package_scalar(text, len, &from, &to);
    if (rc != QS_OK)
        return rc == QS_ENOMEM ? rc : QS_ERR;
    bool plain = omps_yaml_plain_is_str(new_name, true) && new_name[0] &&
                 strspn(new_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                  "._/-") == strlen(new_name) &&
                 new_name[0] != '-' && new_name[0] != '.';
    json_t *js = plain ? NULL : json_string(new_name); /* a JSON string is valid YAML */
    char *quoted = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
    json_decref(js);
    qs_buf b = QS_BUF_INIT;
    rc = qs_buf_append(&b, text, from);
    if (rc == QS_OK)
        rc = plain ? qs_buf_puts(&b, new_name) : quoted ? qs_buf_puts(&b, quoted) : QS_ENOMEM;
    if (rc == QS_OK)
        rc = qs_buf_append(&b, text + to, len - to);
    free(quoted);
    if (rc != QS_OK) {
        qs_buf_free(&b);
        return rc;
    }
    json_t *check = NULL; /* the result must read back with the new name and nothing else */
    bool ok = parse_text(b.data, b.len, &check, NULL, 0) == QS_OK &&
              json_is_string(json_object_get(check, "packageName")) &&
              !strcmp(json_string_value(json_object_get(check, "packageName")), new_name);
    json_decref(check);
    if (!ok) {
        qs_buf_free(&b);
        return QS_ERR;
    }
    *outlen = b.len;
    *out = qs_buf_steal(&b);
    return QS_OK;
}

/* Python's `'packageName' in contents`: 1 yes, 0 no, -1 would raise (OMPS: 400). */
static int has_package_name(const json_t *doc) {
    if (json_is_object(doc))
        return json_object_get(doc, "packageName") != NULL;
    if (json_is_string(doc))
        return strstr(json_string_value(doc), "packageName") ? -1 : 0; /* then str['x'] */
    if (json_is_array(doc)) {
        for (size_t i = 0; i < json_array_size(doc); i++) {
            const json_t *e = json_array_get(doc, i);
            if (json_is_string(e) && !strcmp(json_string_value(e), "packageName"))
                return -1; /* list['packageName'] raises */
        }
        return 0;
    }
    return -1; /* None, numbers, booleans: TypeError */
}

/* One top-level candidate: 1 = name found (*name set), 0 = not a package, <0 = failure. */
static int package_from_file(const char *dir, const char *fname, const char *suffix, char **name) {
    char path[4096];
    char *text = NULL;
    size_t len = 0;
    json_t *doc = NULL;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, fname) >= sizeof path)
        return QS_EINVAL;
    if (entry_type(dir, fname) != 'f' ||
        qs_read_file(path, OMPS_MANIFEST_FILE_MAX, false, &text, &len) != QS_OK)
        return QS_EINVAL;
    int rc = parse_text(text, len, &doc, NULL, 0) == QS_OK ? has_package_name(doc) : -1;
    if (rc <= 0) {
        free(text);
        json_decref(doc);
        return rc < 0 ? QS_EINVAL : 0;
    }
    const json_t *v = json_object_get(doc, "packageName");
    rc = json_is_string(v) ? QS_OK : QS_EINVAL; /* name.endswith(...) needs a str */
    char *full = rc == QS_OK ? omps_apply_suffix(json_string_value(v), suffix) : NULL;
    if (rc == QS_OK && !full)
        rc = QS_ENOMEM;
    if (rc == QS_OK && strcmp(full, json_string_value(v)) != 0) {
        char *out = NULL;
        size_t outlen = 0;
        rc = splice_package_name(text, len, full, &out, &outlen);
        if (rc == QS_OK)
            rc = write_file(path, out, outlen);
        free(out);
    }
    free(text);
    json_decref(doc);
    if (rc != QS_OK) {
        free(full);
        return rc;
    }
    *name = full;
    return 1;
}

int omps_package_name(const char *dir, const char *suffix, char **name, char *err, size_t errlen) {
    char **names = NULL;
    size_t n = 0;
    *name = NULL;
    int rc = list_dir(dir, &names, &n);
    if (rc != QS_OK)
        return fail(err, errlen, rc, "cannot list %s", dir);
    int found = 0;
    for (size_t i = 0; i < n && found == 0; i++) {
        size_t l = strlen(names[i]);
        bool yaml = (l >= 5 && !strcmp(names[i] + l - 5, ".yaml")) ||
                    (l >= 4 && !strcmp(names[i] + l - 4, ".yml"));
        if (!yaml)
            continue;
        found = package_from_file(dir, names[i], suffix, name);
        if (found == QS_EINVAL)
            fail(err, errlen, QS_EINVAL, "Failed to process yaml file /%s", names[i]);
        else if (found < 0)
            fail(err, errlen, found, "cannot rewrite the package file /%s", names[i]);
    }
    free_names(names, n);
    if (found < 0)
        return found;
    return found ? QS_OK : fail(err, errlen, QS_EINVAL, "Could not find packageName in manifests.");
}

/* ---- registry replacement (§A.7) ---- */

/* Append the expansion of a Python replacement template; m NULL only validates it. */
static int expand_template(const char *t, const char *subject, const regmatch_t *m, size_t nsub,
                           qs_buf *out, char *err, size_t errlen) {
    static const char ctl_from[] = "ntrfvab", ctl_to[] = "\n\t\r\f\v\a\b";
    for (; *t; t++) {
        if (*t != '\\' || !t[1]) {
            if (m && qs_buf_append(out, t, 1) != QS_OK)
                return QS_ENOMEM;
            continue;
        }
        char c = *++t;
        long g = -1;
        const char *ctl = strchr(ctl_from, c);
        if (c >= '1' && c <= '9') {
            g = c - '0';
            if (t[1] >= '0' && t[1] <= '9')
                g = g * 10 + (*++t - '0');
        } else if (c == 'g' && t[1] == '<') {
            char *end = NULL;
            g = strtol(t + 2, &end, 10);
            if (end == t + 2 || *end != '>')
                return fail(err, errlen, QS_EINVAL,
                            "named groups (\\g<name>) are not supported by POSIX regexps");
            t = end;
        } else if (c == '0') {
            return fail(err, errlen, QS_EINVAL, "octal escapes (\\0) are not supported");
        } else if (c && ctl) {
            if (m && qs_buf_append(out, &ctl_to[ctl - ctl_from], 1) != QS_OK)
                return QS_ENOMEM;
            continue;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            return fail(err, errlen, QS_EINVAL, "bad escape \\%c", c);
        } else {
            if (m && (c != '\\' && qs_buf_append(out, "\\", 1) != QS_OK))
                return QS_ENOMEM;
            if (m && qs_buf_append(out, &c, 1) != QS_OK)
                return QS_ENOMEM;
            continue;
        }
        if (g < 0 || (size_t)g > nsub)
            return fail(err, errlen, QS_EINVAL, "invalid group reference %ld", g);
        if (m && m[g].rm_so >= 0 &&
            qs_buf_append(out, subject + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so)) != QS_OK)
            return QS_ENOMEM;
    }
    return QS_OK;
}

static int compile_rule(const omps_replace_rule *r, size_t idx, regex_t *re, char *err,
                        size_t errlen) {
    int e = regcomp(re, r->old_text, REG_EXTENDED | REG_NEWLINE);
    if (e != 0) {
        char msg[256];
        regerror(e, re, msg, sizeof msg);
        return fail(err, errlen, QS_EINVAL, "replace_registry[%zu]: bad regular expression %s: %s",
                    idx, r->old_text, msg);
    }
    return QS_OK;
}

/* re.sub over text with POSIX semantics; empty matches follow Python 3.7+ (allowed right after
 * a non-empty match, never twice at one position). */
static int regex_sub(const regex_t *re, const char *tmpl, const char *text, size_t len, qs_buf *out,
                     char *err, size_t errlen) {
    size_t nsub = re->re_nsub, pos = 0, copied = 0, prev_end = 0;
    bool prev_empty = false;
    regmatch_t *m = calloc(nsub + 1, sizeof *m);
    if (!m)
        return QS_ENOMEM;
    int rc = QS_OK;
    while (rc == QS_OK && pos <= len) {
        m[0].rm_so = (regoff_t)pos;
        m[0].rm_eo = (regoff_t)len;
        if (regexec(re, text, nsub + 1, m, REG_STARTEND) != 0)
            break;
        size_t so = (size_t)m[0].rm_so, eo = (size_t)m[0].rm_eo;
        if (so == eo && prev_empty && so == prev_end) { /* step one character */
            pos = so + 1;
            while (pos < len && ((unsigned char)text[pos] & 0xC0) == 0x80)
                pos++;
            continue;
        }
        rc = qs_buf_append(out, text + copied, so - copied);
        if (rc == QS_OK)
            rc = expand_template(tmpl, text, m, nsub, out, err, errlen);
        if (rc == QS_OK && out->len > REPLACE_OUT_MAX)
            rc =
                fail(err, errlen, QS_ETOOBIG, "replacement result over %zu bytes", REPLACE_OUT_MAX);
        copied = pos = prev_end = eo;
        prev_empty = so == eo;
    }
    free(m);
    return rc == QS_OK ? qs_buf_append(out, text + copied, len - copied) : rc;
}

static int plain_replace(const char *old, const char *new_text, const char *text, size_t len,
                         qs_buf *out, char *err, size_t errlen) {
    size_t olen = strlen(old), nlen = strlen(new_text), pos = 0;
    const char *hit;
    while ((hit = memmem(text + pos, len - pos, old, olen)) != NULL) {
        size_t at = (size_t)(hit - text);
        if (qs_buf_append(out, text + pos, at - pos) != QS_OK ||
            qs_buf_append(out, new_text, nlen) != QS_OK)
            return QS_ENOMEM;
        if (out->len > REPLACE_OUT_MAX)
            return fail(err, errlen, QS_ETOOBIG, "replacement result over %zu bytes",
                        REPLACE_OUT_MAX);
        pos = at + olen;
    }
    return qs_buf_append(out, text + pos, len - pos);
}

int omps_replace_registries(const omps_org_settings *org, const char *text, size_t len, char **out,
                            size_t *outlen, char *err, size_t errlen) {
    qs_buf cur = QS_BUF_INIT;
    int rc = qs_buf_append(&cur, text ? text : "", text ? len : 0);
    for (size_t i = 0; rc == QS_OK && i < org->n_replace; i++) {
        const omps_replace_rule *r = &org->replace_registry[i];
        if (!r->old_text || !*r->old_text || !r->new_text) {
            rc = fail(err, errlen, QS_EINVAL, "replace_registry[%zu]: empty old", i);
            break;
        }
        qs_buf next = QS_BUF_INIT;
        if (r->regexp) {
            regex_t re;
            rc = compile_rule(r, i, &re, err, errlen);
            if (rc == QS_OK) {
                rc = regex_sub(&re, r->new_text, qs_buf_str(&cur), cur.len, &next, err, errlen);
                regfree(&re);
            }
        } else {
            rc = plain_replace(r->old_text, r->new_text, qs_buf_str(&cur), cur.len, &next, err,
                               errlen);
        }
        qs_buf_free(&cur);
        cur = next;
    }
    if (rc == QS_OK && !cur.data && qs_buf_reserve(&cur, 1) != QS_OK)
        rc = QS_ENOMEM;
    if (rc != QS_OK) {
        qs_buf_free(&cur);
        return rc;
    }
    *outlen = cur.len;
    *out = qs_buf_steal(&cur);
    return QS_OK;
}

/* ---- CSV annotations (§A.7) ---- */

int omps_format_annotation(const char *tmpl, const char *package_name, char **out, char *err,
                           size_t errlen) {
    qs_buf b = QS_BUF_INIT;
    int rc = QS_OK;
    *out = NULL;
    for (const char *t = tmpl; rc == QS_OK && *t; t++) {
        if ((*t == '{' && t[1] == '{') || (*t == '}' && t[1] == '}')) {
            rc = qs_buf_append(&b, t++, 1);
        } else if (*t == '}') {
            rc = fail(err, errlen, QS_EINVAL, "Single '}' encountered in format string");
        } else if (*t == '{') {
            const char *end = strchr(t, '}');
            if (!end) {
                rc = fail(err, errlen, QS_EINVAL, "expected '}' before end of string");
                break;
            }
            int n = (int)(end - t - 1);
            if ((n == 12 || n == 14) && !strncmp(t + 1, "package_name", 12) &&
                (n == 12 || !strncmp(t + 13, "!s", 2))) {
                rc = qs_buf_puts(&b, package_name);
            } else if (n == 14 && !strncmp(t + 1, "package_name!r", 14)) {
                rc = qs_buf_printf(&b, "'%s'", package_name);
            } else if (n == 0 || (t[1] >= '0' && t[1] <= '9')) {
                rc = fail(err, errlen, QS_EINVAL,
                          "Replacement index %.*s out of range for "
                          "positional args tuple",
                          n ? n : 1, n ? t + 1 : "0");
            } else {
                rc = fail(err, errlen, QS_EINVAL, "KeyError: '%.*s'", n, t + 1);
            }
            t = end;
        } else {
            rc = qs_buf_append(&b, t, 1);
        }
    }
    if (rc == QS_OK && qs_buf_reserve(&b, 1) != QS_OK)
        rc = QS_ENOMEM;
    if (rc != QS_OK) {
        qs_buf_free(&b);
        return rc;
    }
    *out = qs_buf_steal(&b);
    return QS_OK;
}

int omps_csv_annotate(const omps_org_settings *org, json_t *doc, const char *package_name,
                      bool *changed, char *err, size_t errlen) {
    *changed = false;
    if (!json_is_object(doc)) /* contents.get('kind') on None / a list / a str raises */
        return fail(err, errlen, QS_EINVAL, "the document is not a mapping");
    const json_t *kind = json_object_get(doc, "kind");
    if (!json_is_string(kind) || strcmp(json_string_value(kind), "ClusterServiceVersion") != 0)
        return QS_OK;
    const char *const keys[] = {"metadata", "annotations"};
    json_t *node = doc;
    for (size_t i = 0; i < QS_ARRAY_LEN(keys); i++) { /* setdefault(key, {}) */
        json_t *next = json_object_get(node, keys[i]);
        if (!next) {
            next = json_object();
            if (!next || json_object_set_new(node, keys[i], next) != 0)
                return QS_ENOMEM;
        }
        if (!json_is_object(next))
            return fail(err, errlen, QS_EINVAL, "%s is not a mapping", keys[i]);
        node = next;
    }
    for (size_t i = 0; i < org->n_annotations; i++) {
        char *v = NULL;
        int rc =
            omps_format_annotation(org->csv_annotations[i].value, package_name, &v, err, errlen);
        if (rc != QS_OK)
            return rc;
        rc = json_object_set_new(node, org->csv_annotations[i].name, json_string(v));
        free(v);
        if (rc != 0)
            return QS_ENOMEM;
    }
    *changed = true;
    return QS_OK;
}

int omps_org_settings_check(const omps_org_settings *org, char *err, size_t errlen) {
    for (size_t i = 0; i < org->n_replace; i++) {
        const omps_replace_rule *r = &org->replace_registry[i];
        if (!r->old_text || !*r->old_text || !r->new_text)
            return fail(err, errlen, QS_EINVAL,
                        "replace_registry[%zu]: old must be a non-empty string", i);
        if (!r->regexp)
            continue;
        regex_t re;
        char why[256] = "";
        int rc = compile_rule(r, i, &re, err, errlen);
        if (rc != QS_OK)
            return rc;
        rc = expand_template(r->new_text, NULL, NULL, re.re_nsub, NULL, why, sizeof why);
        regfree(&re);
        if (rc != QS_OK)
            return fail(err, errlen, rc, "replace_registry[%zu]: new: %s", i, why);
    }
    for (size_t i = 0; i < org->n_annotations; i++) {
        char *v = NULL, why[256] = "";
        const omps_csv_annotation *a = &org->csv_annotations[i];
        if (!a->name || !a->value)
            return fail(err, errlen, QS_EINVAL, "csv_annotations[%zu]: name and value needed", i);
        int rc = omps_format_annotation(a->value, "x", &v, why, sizeof why);
        free(v);
        if (rc != QS_OK)
            return fail(err, errlen, rc, "csv_annotations[%zu] (%s): %s", i, a->name, why);
    }
    return QS_OK;
}

/* ---- walking the tree for the two directory rewrites ---- */

typedef int (*yaml_file_fn)(const char *path, const char *rel, void *ud, char *err, size_t errlen);

/* os.walk + `name.lower().endswith(('.yml', '.yaml'))`, depth-first in byte order. */
static int walk_yaml(const char *dir, const char *rel, int depth, size_t *seen, yaml_file_fn fn,
                     void *ud, char *err, size_t errlen) {
    if (depth > OMPS_MANIFEST_MAX_DEPTH)
        return fail(err, errlen, QS_ETOOBIG, "directory tree deeper than %d levels",
                    OMPS_MANIFEST_MAX_DEPTH);
    char **names = NULL;
    size_t n = 0;
    int rc = list_dir(dir, &names, &n);
    if (rc != QS_OK)
        return fail(err, errlen, rc, "cannot list %s", *rel ? rel : "/");
    for (size_t i = 0; rc == QS_OK && i < n; i++) {
        char path[4096], sub[4096];
        char t = entry_type(dir, names[i]);
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path ||
            (size_t)snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", names[i]) >=
                sizeof sub)
            rc = fail(err, errlen, QS_ETOOBIG, "path too long");
        else if (++*seen > OMPS_MANIFEST_MAX_FILES)
            rc = fail(err, errlen, QS_ETOOBIG, "more than %d files", OMPS_MANIFEST_MAX_FILES);
        else if (t == 'd')
            rc = walk_yaml(path, sub, depth + 1, seen, fn, ud, err, errlen);
        else if (t == 'f' && (ends_with_ci(names[i], ".yml") || ends_with_ci(names[i], ".yaml")))
            rc = fn(path, sub, ud, err, errlen);
    }
    free_names(names, n);
    return rc;
}

static int replace_one(const char *path, const char *rel, void *ud, char *err, size_t errlen) {
    char *text = NULL, *out = NULL;
    size_t len = 0, outlen = 0;
    int rc = qs_read_file(path, OMPS_MANIFEST_FILE_MAX, false, &text, &len);
    if (rc != QS_OK)
        return fail(err, errlen, rc, "cannot read %s", rel);
    rc = omps_replace_registries(ud, text, len, &out, &outlen, err, errlen);
    if (rc == QS_OK && (outlen != len || memcmp(out, text, len) != 0))
        rc = write_file(path, out, outlen) == QS_OK
                 ? QS_OK
                 : fail(err, errlen, QS_ERR, "cannot write %s", rel);
    free(text);
    free(out);
    return rc;
}

int omps_replace_registries_dir(const char *dir, const omps_org_settings *org, char *err,
                                size_t errlen) {
    size_t seen = 0;
    if (!org->n_replace)
        return QS_OK;
    return walk_yaml(dir, "", 0, &seen, replace_one, (void *)(uintptr_t)org, err, errlen);
}

typedef struct {
    const omps_org_settings *org;
    const char *package_name;
} annotate_ud;

static int annotate_one(const char *path, const char *rel, void *ud, char *err, size_t errlen) {
    const annotate_ud *a = ud;
    json_t *doc = NULL;
    char why[256] = "";
    bool changed = false;
    int rc = omps_yaml_load_one(path, &doc, why, sizeof why);
    if (rc != QS_OK)
        return fail(err, errlen, rc == QS_ETOOBIG ? rc : QS_EINVAL, "%s: %s", rel, why);
    rc = omps_csv_annotate(a->org, doc, a->package_name, &changed, why, sizeof why);
    if (rc != QS_OK) {
        json_decref(doc);
        return fail(err, errlen, rc, "%s: %s", rel, why);
    }
    if (changed) {
        omps_yaml_emit_opts o = {false, 200, true, true, true, NULL, NULL};
        qs_buf b = QS_BUF_INIT;
        rc = omps_yaml_emit(doc, &o, &b, why, sizeof why);
        if (rc == QS_OK && write_file(path, b.data, b.len) != QS_OK)
            rc = QS_ERR;
        if (rc != QS_OK)
            fail(err, errlen, rc, "cannot rewrite %s: %s", rel, why);
        qs_buf_free(&b);
    }
    json_decref(doc);
    return rc;
}

int omps_csv_annotations_dir(const char *dir, const omps_org_settings *org,
                             const char *package_name, char *err, size_t errlen) {
    size_t seen = 0;
    annotate_ud a = {org, package_name};
    if (!org->n_annotations)
        return QS_OK;
    return walk_yaml(dir, "", 0, &seen, annotate_one, &a, err, errlen);
}
