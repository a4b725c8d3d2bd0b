/* re2posix.c — translate the config's RE2 (Go regexp) patterns to POSIX EREs for regcomp.
 *
 * Real `artImages` patterns use Perl classes (`^\d+\.\d+$`), which POSIX EREs lack, and Go
 * semantics inside brackets (`[\d.]` is "digit or dot" in RE2 but "backslash, d or dot" in
 * POSIX). One pass over the pattern, tracking whether it is inside a bracket expression,
 * rewrites what has a POSIX equivalent, using explicit ASCII sets (RE2's classes are ASCII):
 *   \d \w \s        -> [0-9] [A-Za-z0-9_] [\t\n\f\r ]  (inside brackets: the bare ranges)
 *   \D \W \S        -> [^0-9] [^A-Za-z0-9_] [^\t\n\f\r ] (refused inside brackets)
 *   \t \n \r \f \v  -> the character itself
 *   \A \z           -> ^ $ (no multi-line mode, so they mean the same)
 *   \<punctuation>  -> kept escaped when it is an ERE operator, else the bare character
 *   (?:...)         -> (...)  (groups only capture in POSIX; matching is unaffected)
 *   leading (?i)    -> REG_ICASE
 * Everything else that needs RE2 is refused with a reason instead of silently meaning
 * something else: other escapes (\b \pN \x41 \Q...\E, back-references), other flag groups,
 * and `\]` `\-` `\^` inside brackets. Lazy quantifiers (`*?`) reach regcomp as they are; glibc
 * reads them as nested repetition, which matches the same strings, and only whether a match
 * exists matters here (no submatches are used). */
#include "mirror/re2posix.h"

#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"

struct mirror_regex {
    regex_t re;
    char *pattern;
    char *posix;
};

/* Perl classes: the ERE outside brackets, and the bare set inside (NULL: not expressible). */
static const struct {
    char esc;
    const char *outside;
    const char *inside;
} classes[] = {
    {'d', "[0-9]", "0-9"},
    {'D', "[^0-9]", NULL},
    {'w', "[A-Za-z0-9_]", "A-Za-z0-9_"},
    {'W', "[^A-Za-z0-9_]", NULL},
    {'s', "[\t\n\f\r ]", "\t\n\f\r "},
    {'S', "[^\t\n\f\r ]", NULL},
    {'t', "\t", "\t"},
    {'n', "\n", "\n"},
    {'r', "\r", "\r"},
    {'f', "\f", "\f"},
    {'v', "\v", "\v"},
    {'A', "^", NULL},
    {'z', "$", NULL},
};

static const char ere_operators[] = ".[]()*+?{}|^$\\";

typedef struct {
    const char *p; /* next input character */
    qs_buf *out;
    int rc;
    char why[192]; /* the reason of the first failure */
} xlate;

/* Record the first failure; `what` is a printf format that may use `c` once as %c. */
static void fail(xlate *x, const char *what, char c) {
    if (x->rc == 0)
        snprintf(x->why, sizeof x->why, what, c);
    if (x->rc == 0)
        x->rc = QS_EINVAL;
}

static void emit(xlate *x, const char *s, size_t n) {
    if (x->rc == 0 && qs_buf_append(x->out, s, n) != 0)
        x->rc = QS_ENOMEM;
}

/* The escape at x->p (just after the backslash), inside a bracket expression or not. */
static void escape(xlate *x, bool in_bracket) {
    char c = *x->p;
    if (c == '\0') {
        fail(x, "trailing backslash", 0);
        return;
    }
    x->p++;
    for (size_t i = 0; i < QS_ARRAY_LEN(classes); i++) {
        if (classes[i].esc != c)
            continue;
        const char *s = in_bracket ? classes[i].inside : classes[i].outside;
        if (!s)
            fail(x, "\\%c is not supported inside [...]", c);
        else
            emit(x, s, strlen(s));
        return;
    }
    if (!ispunct((unsigned char)c)) {
        fail(x,
             "unsupported escape \\%c (only \\d \\w \\s, their negations, \\t \\n \\r \\f "
             "\\v \\A \\z and escaped punctuation translate to POSIX)",
             c);
        return;
    }
    if (in_bracket && (c == ']' || c == '-' || c == '^')) {
        fail(x, "\\%c inside [...] is not supported (put ] first or - last instead)", c);
        return;
    }
    if (!in_bracket && strchr(ere_operators, c))
        emit(x, "\\", 1);
    emit(x, &c, 1);
}

/* A bracket expression; x->p is just after '['. Copies `[:class:]` items unchanged. */
static void bracket(xlate *x) {
    emit(x, "[", 1);
    if (*x->p == '^')
        emit(x, x->p++, 1);
    if (*x->p == ']') /* a ']' first in the list is a literal in both syntaxes */
        emit(x, x->p++, 1);
    while (x->rc == 0 && *x->p && *x->p != ']') {
        if (x->p[0] == '[' && x->p[1] == ':') {
            const char *end = strstr(x->p + 2, ":]");
            if (!end) {
                fail(x, "unterminated [: class", 0);
                return;
            }
            emit(x, x->p, (size_t)(end + 2 - x->p));
            x->p = end + 2;
        } else if (*x->p == '\\') {
            x->p++;
            escape(x, true);
        } else {
            emit(x, x->p++, 1);
        }
    }
    if (*x->p == ']')
        emit(x, x->p++, 1); /* a missing ']' is left to regcomp to report */
}

int mirror_regex_translate(const char *pattern, qs_buf *out, bool *icase, char *err,
                           size_t errlen) {
    xlate x = {pattern ? pattern : "", out, 0, ""};
    *icase = false;
    if (strncmp(x.p, "(?i)", 4) == 0) {
        *icase = true;
        x.p += 4;
    }
    while (x.rc == 0 && *x.p) {
        if (*x.p == '\\') {
            x.p++;
            escape(&x, false);
        } else if (*x.p == '[') {
            x.p++;
            bracket(&x);
        } else if (strncmp(x.p, "(?:", 3) == 0) {
            emit(&x, "(", 1);
            x.p += 3;
        } else if (strncmp(x.p, "(?", 2) == 0) {
            fail(&x, "unsupported group syntax (?%c", x.p[2]);
        } else {
            emit(&x, x.p++, 1);
        }
    }
    if (x.rc != 0 && err && errlen)
        snprintf(err, errlen, "%s", x.rc == QS_ENOMEM ? "out of memory" : x.why);
    return x.rc;
}

int mirror_regex_compile(mirror_regex **out, const char *pattern, char *err, size_t errlen) {
    *out = NULL;
    qs_buf posix = QS_BUF_INIT;
    bool icase = false;
    int rc = mirror_regex_translate(pattern, &posix, &icase, err, errlen);
    if (rc != 0) {
        qs_buf_free(&posix);
        return rc;
    }
    mirror_regex *re = calloc(1, sizeof *re);
    if (!re) {
        qs_buf_free(&posix);
        return QS_ENOMEM;
    }
    int flags = REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0);
    int rrc = regcomp(&re->re, qs_buf_str(&posix), flags);
    if (rrc != 0) {
        if (err && errlen)
            regerror(rrc, &re->re, err, errlen);
        qs_buf_free(&posix);
        free(re);
        return QS_EINVAL;
    }
    re->posix = qs_buf_steal(&posix);
    re->pattern = strdup(pattern);
    if (!re->posix || !re->pattern) {
        mirror_regex_free(re);
        return QS_ENOMEM;
    }
    *out = re;
    return 0;
}

bool mirror_regex_match(const mirror_regex *re, const char *s) {
    return re && s && regexec(&re->re, s, 0, NULL, 0) == 0;
}

const char *mirror_regex_pattern(const mirror_regex *re) { return re->pattern; }

const char *mirror_regex_posix(const mirror_regex *re) { return re->posix; }

void mirror_regex_free(mirror_regex *re) {
    if (!re)
        return;
    regfree(&re->re);
    free(re->pattern);
    free(re->posix);
    free(re);
}
