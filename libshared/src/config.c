/* config.c — settings from the environment and secrets from files (YAML is in config_yaml.c).
 *
 * qs_conf is an error collector: every accessor validates its variable, records a message on
 * failure and returns the default, so a service reads all of its settings and then reports
 * every problem at once (qs_conf_check). Strings handed out are copies owned by the qs_conf,
 * so a later setenv() cannot pull them from under the caller.
 *
 * A qs_secret caches the file's contents with its identity (device, inode, size, mtime) taken
 * from fstat on the opened descriptor; a change in any of them triggers a re-read. Kubernetes
 * rotates a mounted Secret by swapping a symlink, which changes the inode; an editor rewriting
 * in place changes size or mtime. When the file cannot be opened the last good value stays in
 * force, so a remove-then-create rotation never leaves a service without credentials. */
#include "shared/config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/common.h"
#include "shared/log.h"

/* ---- the error collector ---- */

typedef struct {
    char *setting; /* variable name, or NULL for errors recorded by qs_conf_error */
    char *msg;
} conf_error;

struct qs_conf {
    conf_error *errs;
    size_t nerr, errcap;
    char **strs; /* copies of values handed out by qs_conf_str */
    size_t nstr, strcap;
};

qs_conf *qs_conf_new(void) { return calloc(1, sizeof(qs_conf)); }

void qs_conf_free(qs_conf *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->nerr; i++) {
        free(c->errs[i].setting);
        free(c->errs[i].msg);
    }
    for (size_t i = 0; i < c->nstr; i++)
        free(c->strs[i]);
    free(c->errs);
    free(c->strs);
    free(c);
}

static void add_error(qs_conf *c, const char *setting, const char *fmt, va_list ap) {
    if (c->nerr == c->errcap) {
        size_t cap = c->errcap ? c->errcap * 2 : 8;
        conf_error *p = realloc(c->errs, cap * sizeof *p);
        if (!p)
            return;
        c->errs = p;
        c->errcap = cap;
    }
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        return;
    c->errs[c->nerr].msg = msg;
    c->errs[c->nerr].setting = setting ? strdup(setting) : NULL;
    c->nerr++;
}

__attribute__((format(printf, 3, 4))) static void setting_error(qs_conf *c, const char *name,
                                                                const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    add_error(c, name, fmt, ap);
    va_end(ap);
}

void qs_conf_error(qs_conf *c, const char *fmt, ...) {
    if (!c)
        return;
    va_list ap;
    va_start(ap, fmt);
    add_error(c, NULL, fmt, ap);
    va_end(ap);
}

size_t qs_conf_error_count(const qs_conf *c) { return c ? c->nerr : 0; }

const char *qs_conf_error_at(const qs_conf *c, size_t i) {
    return c && i < c->nerr ? c->errs[i].msg : NULL;
}

size_t qs_conf_check(qs_conf *c) {
    if (!c)
        return 0;
    for (size_t i = 0; i < c->nerr; i++)
        qs_log(QS_LOG_ERROR, c->errs[i].msg, "setting", c->errs[i].setting, NULL);
    return c->nerr;
}

/* getenv, with empty meaning unset. */
static const char *env(const char *name) {
    const char *v = name ? getenv(name) : NULL;
    return v && *v ? v : NULL;
}

const char *qs_conf_str(qs_conf *c, const char *name, const char *def) {
    const char *v = env(name);
    if (!v || !c)
        return v ? v : def;
    if (c->nstr == c->strcap) {
        size_t cap = c->strcap ? c->strcap * 2 : 16;
        char **p = realloc(c->strs, cap * sizeof *p);
        if (!p)
            return def;
        c->strs = p;
        c->strcap = cap;
    }
    char *copy = strdup(v);
    if (!copy)
        return def;
    c->strs[c->nstr++] = copy;
    return copy;
}

const char *qs_conf_required(qs_conf *c, const char *name) {
    const char *v = qs_conf_str(c, name, NULL);
    if (!v && c)
        setting_error(c, name, "%s is required", name);
    return v;
}

long qs_conf_int(qs_conf *c, const char *name, long def, long min, long max) {
    const char *v = env(name);
    if (!v)
        return def;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end) {
        setting_error(c, name, "%s: \"%s\" is not an integer", name, v);
        return def;
    }
    if (n < min || n > max) {
        setting_error(c, name, "%s: %ld is out of range [%ld, %ld]", name, n, min, max);
        return def;
    }
    return n;
}

int qs_parse_bool(const char *s, bool *out) {
    static const struct {
        const char *word;
        bool value;
    } words[] = {{"true", true}, {"false", false}, {"1", true},  {"0", false},
                 {"yes", true},  {"no", false},    {"on", true}, {"off", false}};
    for (size_t i = 0; s && i < QS_ARRAY_LEN(words); i++) {
        if (strcasecmp(s, words[i].word) == 0) {
            if (out)
                *out = words[i].value;
            return QS_OK;
        }
    }
    return QS_EINVAL;
}

bool qs_conf_bool(qs_conf *c, const char *name, bool def) {
    const char *v = env(name);
    bool b = def;
    if (v && qs_parse_bool(v, &b) != QS_OK) {
        setting_error(c, name, "%s: \"%s\" is not a boolean (true/false/yes/no/on/off/1/0)", name,
                      v);
        return def;
    }
    return b;
}

/* Unsigned decimal with optional fraction ("90", "1.5", ".5", "2."); advances *p. */
static int parse_decimal(const char **p, double *out) {
    const char *s = *p;
    size_t digits = 0;
    const char *q = s;
    while (*q >= '0' && *q <= '9')
        q++, digits++;
    if (*q == '.')
        for (q++; *q >= '0' && *q <= '9'; q++)
            digits++;
    if (!digits)
        return QS_EINVAL;
    char tmp[64];
    if ((size_t)(q - s) >= sizeof tmp)
        return QS_EINVAL;
    memcpy(tmp, s, (size_t)(q - s));
    tmp[q - s] = '\0';
    *out = strtod(tmp, NULL);
    *p = q;
    return QS_OK;
}

int qs_parse_duration(const char *s, double *seconds) {
    /* Longer units first so "ms" is not read as "m" followed by garbage. */
    static const struct {
        const char *unit;
        double scale;
    } units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"ms", 1e-3},
                 {"s", 1},     {"m", 60},    {"h", 3600}};
    if (!s || !*s)
        return QS_EINVAL;
    const char *p = s;
    double total = 0, n = 0;
    if (parse_decimal(&p, &n) != QS_OK)
        return QS_EINVAL;
    if (!*p) { /* a bare number is seconds */
        total = n;
    } else {
        for (;;) {
            size_t i = 0;
            while (i < QS_ARRAY_LEN(units) && strncmp(p, units[i].unit, strlen(units[i].unit)) != 0)
                i++;
            if (i == QS_ARRAY_LEN(units))
                return QS_EINVAL;
            total += n * units[i].scale;
            p += strlen(units[i].unit);
            if (!*p)
                break;
            if (parse_decimal(&p, &n) != QS_OK)
                return QS_EINVAL;
            if (!*p) /* "1h30": a trailing number needs a unit */
                return QS_EINVAL;
        }
    }
    if (!isfinite(total))
        return QS_EINVAL;
    if (seconds)
        *seconds = total;
    return QS_OK;
}

double qs_conf_duration(qs_conf *c, const char *name, double def, double min, double max) {
    const char *v = env(name);
    double d = def;
    if (!v)
        return def;
    if (qs_parse_duration(v, &d) != QS_OK) {
        setting_error(c, name, "%s: \"%s\" is not a duration (e.g. 90, 90s, 15m, 1h30m, 250ms)",
                      name, v);
        return def;
    }
    if (d < min || d > max) {
        setting_error(c, name, "%s: %s is out of range [%gs, %gs]", name, v, min, max);
        return def;
    }
    return d;
}

/* ---- files and secrets ---- */

static bool is_space(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static size_t trim_in_place(char *s, size_t len) {
    size_t start = 0;
    while (start < len && is_space(s[start]))
        start++;
    while (len > start && is_space(s[len - 1]))
        len--;
    memmove(s, s + start, len - start);
    s[len - start] = '\0';
    return len - start;
}

/* Read all of `fd` (at most max bytes). */
static int read_fd(int fd, size_t max, char **out, size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return QS_ENOMEM;
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max + 1) {
                free(buf);
                return QS_ETOOBIG;
            }
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                return QS_ENOMEM;
            }
            buf = p;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return QS_ENOTFOUND;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            free(buf);
            return QS_ETOOBIG;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return QS_OK;
}

/* As qs_read_file, on an already opened descriptor. */
static int read_open_file(int fd, size_t max, bool trim, char **out, size_t *len) {
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode))
        return QS_ENOTFOUND;
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max)
        return QS_ETOOBIG;
    size_t n = 0;
    int rc = read_fd(fd, max, out, &n);
    if (rc == QS_OK && trim)
        n = trim_in_place(*out, n);
    if (rc == QS_OK && len)
        *len = n;
    return rc;
}

int qs_read_file(const char *path, size_t max, bool trim, char **out, size_t *len) {
    if (!out)
        return QS_EINVAL;
    *out = NULL;
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return QS_ENOTFOUND;
    int rc = read_open_file(fd, max, trim, out, len);
    close(fd);
    return rc;
}

#define SECRET_MAX (1024 * 1024)

struct qs_secret {
    pthread_mutex_t mu;
    char *path;
    char *value;  /* last good value, or NULL */
    bool have_id; /* the identity below belongs to `value` */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim;
    unsigned gen;      /* bumped whenever the value changes */
    unsigned seen_gen; /* gen at the last qs_secret_get/qs_secret_changed */
};

qs_secret *qs_secret_new(const char *path) {
    qs_secret *s = calloc(1, sizeof *s);
    if (!s || !path || !(s->path = strdup(path))) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void qs_secret_free(qs_secret *s) {
    if (!s)
        return;
    qs_secret_release(s->value);
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

static bool same_identity(const qs_secret *s, const struct stat *st) {
    return s->have_id && s->dev == st->st_dev && s->ino == st->st_ino && s->size == st->st_size &&
           s->mtim.tv_sec == st->st_mtim.tv_sec && s->mtim.tv_nsec == st->st_mtim.tv_nsec;
}

/* Bring s->value up to date with the file. Called with s->mu held. Returns 0 when s->value
 * is usable, QS_ENOTFOUND / QS_EINVAL otherwise. */
static int secret_refresh(qs_secret *s) {
    struct stat st;
    /* Hot path: one stat(2) tells that nothing changed (secrets are read per request). */
    if (s->value && stat(s->path, &st) == 0 && same_identity(s, &st))
        return QS_OK;
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return s->value ? QS_OK : QS_ENOTFOUND;
    if (fstat(fd, &st) != 0 || same_identity(s, &st)) {
        close(fd);
        return s->value ? QS_OK : QS_ENOTFOUND;
    }
    char *v = NULL;
    size_t n = 0;
    int rc = read_open_file(fd, SECRET_MAX, true, &v, &n);
    close(fd);
    if (rc != QS_OK)
        return s->value ? QS_OK : QS_ENOTFOUND;
    if (n == 0) { /* an empty file is a mistake, not a value; re-read it next time */
        qs_secret_release(v);
        s->have_id = false;
        return QS_EINVAL;
    }
    if (!s->value || strcmp(s->value, v) != 0) {
        qs_secret_release(s->value);
        s->value = v;
        s->gen++;
    } else {
        qs_secret_release(v);
    }
    s->have_id = true;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->size = st.st_size;
    s->mtim = st.st_mtim;
    return QS_OK;
}

int qs_secret_get(qs_secret *s, char **out) {
    if (!s || !out)
        return QS_EINVAL;
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = secret_refresh(s);
    if (rc == QS_OK) {
        *out = strdup(s->value);
        if (!*out)
            rc = QS_ENOMEM;
    }
    s->seen_gen = s->gen;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

bool qs_secret_changed(qs_secret *s) {
    if (!s)
        return false;
    pthread_mutex_lock(&s->mu);
    secret_refresh(s);
    bool changed = s->gen != s->seen_gen;
    s->seen_gen = s->gen;
    pthread_mutex_unlock(&s->mu);
    return changed;
}

const char *qs_secret_path(const qs_secret *s) { return s ? s->path : NULL; }

void qs_secret_release(char *value) {
    if (!value)
        return;
    explicit_bzero(value, strlen(value));
    free(value);
}

/* ------------------------------------------------------------------ settings tables */

void qs_settings_usage(FILE *out, const qs_setting *table, size_t n) {
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-28s %s%s%s%s\n", table[i].name, table[i].help,
                table[i].def[0] ? " [default: " : "", table[i].def, table[i].def[0] ? "]" : "");
}

const char *qs_settings_get(qs_conf *c, const qs_setting *table, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return qs_conf_str(c, name, table[i].def[0] ? table[i].def : NULL);
    qs_conf_error(c, "internal: %s is not in the settings table", name);
    return NULL;
}
