/* mirror_config.c — load and validate the mirror's `_config.yaml` (reference/citools.md §2.3).
 *
 * The file goes through libshared's strict YAML reader (gzip accepted, duplicate keys and
 * anchors refused) into a jansson tree, which is then decoded by tables: each YAML mapping
 * kind (the top level, a source, an ignored source, an ART rule) is a list of field names with
 * the offset of the string they fill, so "unknown key", "set twice" and "not a string" are
 * found in one place for every level. Field names match case-insensitively because the
 * original decodes through Go's encoding/json (which is why its `Name`/`Tag` fields read the
 * YAML's `name`/`tag`); a key spelled two ways in one mapping is refused rather than letting
 * the last one win silently.
 *
 * Validation follows the original's LoadConfig and keeps its messages ("invalid target: %s",
 * "as cannot be set", "namespace for the source must be set", "name's regex for ArtImages[%d]
 * cannot be compiled", ...), prefixed with where the problem is. It differs in two ways,
 * both to report more at once: every missing source field is reported (the original stops at
 * the first of each source), and a target whose destination tag `<ns>_<name>_<tag>` could
 * never be pushed (a bad character, more than 128 characters) is an error at load time
 * rather than a failed copy every hour. Any error refuses the whole config.
 *
 * After validation, `qciToAppCIImages` entries without an image get the QCI float of their key,
 * and entries of both maps whose source is ignored are dropped (the original's four `ignored()`
 * rules, with the configured source registry in place of registry.ci.openshift.org). Map
 * entries are kept sorted by key, so every sync walks them in the same order. */
#include "mirror/mirror_config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shared/common.h"
#include "shared/log.h"

struct mirror_config {
    char *source_registry;
    char *qci_repository;
    char *qci_pull_repository;
    mirror_entry *supp;
    size_t nsupp;
    mirror_entry *qci;
    size_t nqci;
    mirror_ignored *ign;
    size_t nign;
    mirror_art_rule *art;
    size_t nart;
};

typedef struct {
    qs_conf *errs;
    mirror_config *cfg;
} ctx;

/* A YAML mapping decoded into string fields of a struct. */
typedef struct {
    const char *key;
    size_t off; /* of the `char *` it fills */
} field;

/* The fields of a mirror_source that starts `base` bytes into the decoded struct. */
#define SOURCE_FIELDS(base)                                                                        \
    {"namespace", (base) + offsetof(mirror_source, ns)},                                           \
        {"name", (base) + offsetof(mirror_source, name)},                                          \
        {"tag", (base) + offsetof(mirror_source, tag)},                                            \
        {"as", (base) + offsetof(mirror_source, as)}, {                                            \
        "image", (base) + offsetof(mirror_source, image)                                           \
    }

/* The raw strings of an artImages item before its regexes are compiled. */
typedef struct {
    char *ns, *name, *tag;
} art_raw;

static const field source_fields[] = {SOURCE_FIELDS(0)};
static const field ignored_fields[] = {SOURCE_FIELDS(offsetof(mirror_ignored, source)),
                                       {"reason", offsetof(mirror_ignored, reason)}};
static const field art_fields[] = {{"namespace", offsetof(art_raw, ns)},
                                   {"Name", offsetof(art_raw, name)},
                                   {"Tag", offsetof(art_raw, tag)}};

static const char *type_name(const json_t *v) {
    static const char *const names[] = {
        [JSON_OBJECT] = "a mapping",   [JSON_ARRAY] = "a sequence", [JSON_STRING] = "a string",
        [JSON_INTEGER] = "an integer", [JSON_REAL] = "a number",    [JSON_TRUE] = "a boolean",
        [JSON_FALSE] = "a boolean",    [JSON_NULL] = "null"};
    return names[json_typeof(v)];
}

static char *dup_or_note(ctx *c, const char *s) {
    char *d = strdup(s);
    if (!d)
        qs_conf_error(c->errs, "out of memory");
    return d;
}

/* Decode mapping `obj` (null: nothing set) at `where` into the fields of `dst`. Returns
 * false when it recorded an error: the caller then skips the checks of the mapping's meaning,
 * whose messages would only repeat the same mistake ("tag must be set" after "tag: expected
 * a string"). */
static bool decode_fields(ctx *c, json_t *obj, const char *where, const field *f, size_t nf,
                          void *dst) {
    if (json_is_null(obj))
        return true;
    if (!json_is_object(obj)) {
        qs_conf_error(c->errs, "%s: expected a mapping, got %s", where, type_name(obj));
        return false;
    }
    size_t before = qs_conf_error_count(c->errs);
    const char *seen[8] = {NULL};
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        size_t i = 0;
        while (i < nf && strcasecmp(f[i].key, key) != 0)
            i++;
        if (i == nf) {
            qs_conf_error(c->errs, "%s.%s: unknown setting", where, key);
        } else if (seen[i]) {
            qs_conf_error(c->errs, "%s.%s: set twice (also as %s)", where, key, seen[i]);
        } else if (!json_is_null(val) && !json_is_string(val)) {
            seen[i] = key;
            qs_conf_error(c->errs, "%s.%s: expected a string, got %s", where, key, type_name(val));
        } else {
            seen[i] = key;
            const char *s = json_string_value(val); /* NULL for null */
            char **slot = (char **)((char *)dst + f[i].off);
            if (s && *s) /* as in Go, "" is the same as unset */
                *slot = dup_or_note(c, s);
        }
    }
    return qs_conf_error_count(c->errs) == before;
}

/* The original's validateSource, reporting every missing field. */
static void validate_source(ctx *c, const mirror_source *s, const char *where) {
    if (s->as)
        qs_conf_error(c->errs, "%s: as cannot be set", where);
    if (s->image)
        return;
    const char *const names[] = {"namespace", "name", "tag"};
    const char *const vals[] = {s->ns, s->name, s->tag};
    for (size_t i = 0; i < QS_ARRAY_LEN(names); i++)
        if (!vals[i])
            qs_conf_error(c->errs, "%s: %s for the source must be set", where, names[i]);
}

/* Parse map key `key` of `section` into e->target; false (error recorded) when invalid. */
static bool parse_target(ctx *c, mirror_entry *e, const char *section, const char *key,
                         char *float_tag, size_t float_len) {
    e->key = dup_or_note(c, key);
    if (mirror_istag_parse(&e->target, key) != 0) {
        qs_conf_error(c->errs, "%s: invalid target: %s", section, key);
        return false;
    }
    if (mirror_qci_tag(&e->target, float_tag, float_len) != 0) {
        qs_conf_error(c->errs,
                      "%s[%s]: %s_%s_%s is not a valid tag (letters, digits and _ . -, starting "
                      "with a letter, digit or _, at most 128 characters)",
                      section, key, e->target.ns, e->target.name, e->target.tag);
        return false;
    }
    return true;
}

static int cmp_keys(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of mapping `obj`, sorted; NULL (error recorded) when obj is not a mapping. */
static const char **sorted_keys(ctx *c, json_t *obj, const char *section, size_t *n) {
    *n = 0;
    if (!json_is_object(obj)) {
        qs_conf_error(c->errs, "%s: expected a mapping, got %s", section, type_name(obj));
        return NULL;
    }
    const char **keys = calloc(json_object_size(obj) + 1, sizeof *keys);
    if (!keys) {
        qs_conf_error(c->errs, "out of memory");
        return NULL;
    }
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) keys[(*n)++] = key;
    qsort(keys, *n, sizeof *keys, cmp_keys);
    return keys;
}

static void parse_supplemental(ctx *c, json_t *obj) {
    size_t n;
    const char **keys = sorted_keys(c, obj, "supplementalCIImages", &n);
    if (!keys)
        return;
    c->cfg->supp = calloc(n + 1, sizeof *c->cfg->supp);
    if (!c->cfg->supp)
        qs_conf_error(c->errs, "out of memory");
    for (size_t i = 0; c->cfg->supp && i < n; i++) {
        mirror_entry *e = &c->cfg->supp[c->cfg->nsupp++];
        char where[1024], float_tag[MIRROR_TAG_MAX + 1];
        snprintf(where, sizeof where, "supplementalCIImages[%s]", keys[i]);
        parse_target(c, e, "supplementalCIImages", keys[i], float_tag, sizeof float_tag);
        if (decode_fields(c, json_object_get(obj, keys[i]), where, source_fields,
                          QS_ARRAY_LEN(source_fields), &e->source))
            validate_source(c, &e->source, where);
    }
    free(keys);
}

/* The original's isQCIPullspec, with the configured repositories. */
static bool is_qci_pull_spec(const mirror_config *cfg, const char *image) {
    const char *const repos[] = {cfg->qci_repository, cfg->qci_pull_repository};
    for (size_t r = 0; r < QS_ARRAY_LEN(repos); r++) {
        size_t n = strlen(repos[r]);
        if (strncmp(image, repos[r], n) == 0 && (image[n] == ':' || image[n] == '@'))
            return true;
    }
    return false;
}

static void validate_qci_entry(ctx *c, mirror_entry *e, bool key_ok, const char *float_tag,
                               const char *where) {
    mirror_source *s = &e->source;
    if (s->as)
        qs_conf_error(c->errs, "%s: as cannot be set", where);
    if (s->ns || s->name || s->tag)
        qs_conf_error(c->errs,
                      "%s: namespace/name/tag must not be set; use image or omit to derive "
                      "from the key",
                      where);
    if (!s->image && key_ok) {
        size_t len = strlen(c->cfg->qci_pull_repository) + strlen(float_tag) + 2;
        s->image = malloc(len);
        if (!s->image)
            qs_conf_error(c->errs, "out of memory");
        else
            snprintf(s->image, len, "%s:%s", c->cfg->qci_pull_repository, float_tag);
    }
    if (s->image && !is_qci_pull_spec(c->cfg, s->image))
        qs_conf_error(c->errs, "%s: image \"%s\" must be under %s or %s", where, s->image,
                      c->cfg->qci_repository, c->cfg->qci_pull_repository);
}

static void parse_qci(ctx *c, json_t *obj) {
    size_t n;
    const char **keys = sorted_keys(c, obj, "qciToAppCIImages", &n);
    if (!keys)
        return;
    c->cfg->qci = calloc(n + 1, sizeof *c->cfg->qci);
    if (!c->cfg->qci)
        qs_conf_error(c->errs, "out of memory");
    for (size_t i = 0; c->cfg->qci && i < n; i++) {
        mirror_entry *e = &c->cfg->qci[c->cfg->nqci++];
        char where[1024], float_tag[MIRROR_TAG_MAX + 1] = "";
        snprintf(where, sizeof where, "qciToAppCIImages[%s]", keys[i]);
        bool ok = parse_target(c, e, "qciToAppCIImages", keys[i], float_tag, sizeof float_tag);
        if (decode_fields(c, json_object_get(obj, keys[i]), where, source_fields,
                          QS_ARRAY_LEN(source_fields), &e->source))
            validate_qci_entry(c, e, ok, float_tag, where);
    }
    free(keys);
}

static bool check_sequence(ctx *c, const json_t *arr, const char *section) {
    if (json_is_array(arr))
        return true;
    qs_conf_error(c->errs, "%s: expected a sequence, got %s", section, type_name(arr));
    return false;
}

static void parse_ignored(ctx *c, json_t *arr) {
    if (!check_sequence(c, arr, "ignoredSources"))
        return;
    c->cfg->ign = calloc(json_array_size(arr) + 1, sizeof *c->cfg->ign);
    if (!c->cfg->ign)
        qs_conf_error(c->errs, "out of memory");
    for (size_t i = 0; c->cfg->ign && i < json_array_size(arr); i++) {
        mirror_ignored *ig = &c->cfg->ign[c->cfg->nign++];
        char where[64];
        snprintf(where, sizeof where, "ignoredSources[%zu]", i);
        if (decode_fields(c, json_array_get(arr, i), where, ignored_fields,
                          QS_ARRAY_LEN(ignored_fields), ig))
            validate_source(c, &ig->source, where);
    }
}

static void compile_art(ctx *c, const char *pattern, mirror_regex **re, const char *what,
                        size_t i) {
    char why[256] = "";
    int rc = mirror_regex_compile(re, pattern, why, sizeof why);
    if (rc == QS_ENOMEM)
        qs_conf_error(c->errs, "out of memory");
    else if (rc != 0)
        qs_conf_error(c->errs, "%s's regex for ArtImages[%zu] cannot be compiled: %s", what, i,
                      why);
}

static void parse_art(ctx *c, json_t *arr) {
    if (!check_sequence(c, arr, "artImages"))
        return;
    c->cfg->art = calloc(json_array_size(arr) + 1, sizeof *c->cfg->art);
    if (!c->cfg->art)
        qs_conf_error(c->errs, "out of memory");
    for (size_t i = 0; c->cfg->art && i < json_array_size(arr); i++) {
        mirror_art_rule *r = &c->cfg->art[c->cfg->nart++];
        art_raw raw = {NULL, NULL, NULL};
        char where[64];
        snprintf(where, sizeof where, "artImages[%zu]", i);
        if (decode_fields(c, json_array_get(arr, i), where, art_fields, QS_ARRAY_LEN(art_fields),
                          &raw)) {
            if (!raw.ns)
                qs_conf_error(c->errs, "namespace for ArtImages[%zu] must be set", i);
            if (!raw.name)
                qs_conf_error(c->errs, "name's regex for ArtImages[%zu] must be set", i);
            else
                compile_art(c, raw.name, &r->name, "name", i);
            if (raw.tag)
                compile_art(c, raw.tag, &r->tag, "tag", i);
        }
        r->ns = raw.ns;
        free(raw.name);
        free(raw.tag);
    }
}

/* The top level, in this order whatever the file's order: ignores are applied last anyway,
 * but parsing in a fixed order keeps the error list stable. */
static const struct {
    const char *key;
    void (*parse)(ctx *, json_t *);
} sections[] = {
    {"supplementalCIImages", parse_supplemental},
    {"qciToAppCIImages", parse_qci},
    {"ignoredSources", parse_ignored},
    {"artImages", parse_art},
};

static void parse_top(ctx *c, json_t *root) {
    if (json_is_null(root)) /* an empty file: an empty config */
        return;
    if (!json_is_object(root)) {
        qs_conf_error(c->errs, "(top level): expected a mapping, got %s", type_name(root));
        return;
    }
    json_t *vals[QS_ARRAY_LEN(sections)] = {NULL};
    const char *seen[QS_ARRAY_LEN(sections)] = {NULL};
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        size_t i = 0;
        while (i < QS_ARRAY_LEN(sections) && strcasecmp(sections[i].key, key) != 0)
            i++;
        if (i == QS_ARRAY_LEN(sections))
            qs_conf_error(c->errs, "%s: unknown setting", key);
        else if (seen[i])
            qs_conf_error(c->errs, "%s: set twice (also as %s)", key, seen[i]);
        else {
            seen[i] = key;
            vals[i] = val;
        }
    }
    for (size_t i = 0; i < QS_ARRAY_LEN(sections); i++)
        if (vals[i] && !json_is_null(vals[i]))
            sections[i].parse(c, vals[i]);
}

/* ---- ignored sources ---- */

/* "ns/name:tag" of a source, with empty parts for unset fields (Go's ISTagName). */
static void istag_name(const mirror_source *s, char *out, size_t len) {
    snprintf(out, len, "%s/%s:%s", s->ns ? s->ns : "", s->name ? s->name : "",
             s->tag ? s->tag : "");
}

static bool ignored_by(const mirror_config *cfg, const mirror_ignored *ig, const mirror_source *s) {
    char s_ist[800], s_url[1100], ig_ist[800], ig_url[1100];
    istag_name(s, s_ist, sizeof s_ist);
    istag_name(&ig->source, ig_ist, sizeof ig_ist);
    snprintf(s_url, sizeof s_url, "%s/%s", cfg->source_registry, s_ist);
    snprintf(ig_url, sizeof ig_url, "%s/%s", cfg->source_registry, ig_ist);
    bool by_ns = ig->source.ns != NULL;
    /* The original's four rules: the ignored side is unset when its rule does not apply. */
    const char *const rules[4][2] = {
        {ig->source.image, s->image},   /* image == image */
        {ig->source.image, s_url},      /* image == <registry>/<istag> */
        {by_ns ? ig_ist : NULL, s_ist}, /* istag == istag */
        {by_ns ? ig_url : NULL, s->image},
    };
    for (size_t r = 0; r < QS_ARRAY_LEN(rules); r++)
        if (rules[r][0] && rules[r][1] && strcmp(rules[r][0], rules[r][1]) == 0)
            return true;
    return false;
}

bool mirror_config_is_ignored(const mirror_config *cfg, const mirror_source *src,
                              const char **reason) {
    for (size_t i = 0; i < cfg->nign; i++) {
        if (ignored_by(cfg, &cfg->ign[i], src)) {
            if (reason)
                *reason = cfg->ign[i].reason ? cfg->ign[i].reason : "";
            return true;
        }
    }
    return false;
}

static void free_source(mirror_source *s) {
    free(s->ns);
    free(s->name);
    free(s->tag);
    free(s->as);
    free(s->image);
}

static void free_entry(mirror_entry *e) {
    free(e->key);
    free_source(&e->source);
}

/* Drop the entries of one map whose source is ignored, logging each as the original does. */
static void drop_ignored(mirror_config *cfg, mirror_entry *v, size_t *n, const char *section) {
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        const char *reason = NULL;
        if (mirror_config_is_ignored(cfg, &v[i].source, &reason)) {
            qs_log(QS_LOG_INFO, "Ignored source", "section", section, "key", v[i].key, "image",
                   v[i].source.image, "reason", reason, NULL);
            free_entry(&v[i]);
        } else {
            v[kept++] = v[i];
        }
    }
    *n = kept;
}

/* ---- loading ---- */

static mirror_config *config_new(const mirror_config_opts *opts) {
    const mirror_config_opts def = MIRROR_CONFIG_OPTS_INIT;
    if (!opts)
        opts = &def;
    mirror_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    const char *pull = opts->qci_pull_repository ? opts->qci_pull_repository : opts->qci_repository;
    cfg->source_registry =
        strdup(opts->source_registry ? opts->source_registry : def.source_registry);
    cfg->qci_repository = strdup(opts->qci_repository ? opts->qci_repository : def.qci_repository);
    cfg->qci_pull_repository = strdup(pull ? pull : def.qci_pull_repository);
    if (!cfg->source_registry || !cfg->qci_repository || !cfg->qci_pull_repository) {
        mirror_config_free(cfg);
        return NULL;
    }
    return cfg;
}

static size_t parse_tree(mirror_config **out, json_t *root, const mirror_config_opts *opts,
                         qs_conf *errors) {
    size_t before = qs_conf_error_count(errors);
    ctx c = {errors, config_new(opts)};
    if (!c.cfg) {
        qs_conf_error(errors, "out of memory");
        return qs_conf_error_count(errors) - before;
    }
    parse_top(&c, root);
    size_t nerr = qs_conf_error_count(errors) - before;
    if (nerr > 0) {
        mirror_config_free(c.cfg);
        return nerr;
    }
    drop_ignored(c.cfg, c.cfg->supp, &c.cfg->nsupp, "supplementalCIImages");
    drop_ignored(c.cfg, c.cfg->qci, &c.cfg->nqci, "qciToAppCIImages");
    *out = c.cfg;
    return 0;
}

size_t mirror_config_parse(mirror_config **out, const char *text, size_t len,
                           const mirror_config_opts *opts, qs_conf *errors) {
    *out = NULL;
    json_t *root = NULL;
    char err[512] = "";
    if (qs_yaml_parse(text, len, &root, err, sizeof err) != QS_OK) {
        qs_conf_error(errors, "%s", err);
        return 1;
    }
    size_t n = parse_tree(out, root, opts, errors);
    json_decref(root);
    return n;
}

size_t mirror_config_load(mirror_config **out, const char *path, const mirror_config_opts *opts,
                          qs_conf *errors) {
    *out = NULL;
    json_t *root = NULL;
    char err[768] = "";
    if (qs_yaml_load_file(path, &root, err, sizeof err) != QS_OK) {
        qs_conf_error(errors, "%s", err);
        return 1;
    }
    size_t n = parse_tree(out, root, opts, errors);
    json_decref(root);
    return n;
}

void mirror_config_free(mirror_config *cfg) {
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nsupp; i++)
        free_entry(&cfg->supp[i]);
    for (size_t i = 0; i < cfg->nqci; i++)
        free_entry(&cfg->qci[i]);
    for (size_t i = 0; i < cfg->nign; i++) {
        free_source(&cfg->ign[i].source);
        free(cfg->ign[i].reason);
    }
    for (size_t i = 0; i < cfg->nart; i++) {
        free(cfg->art[i].ns);
        mirror_regex_free(cfg->art[i].name);
        mirror_regex_free(cfg->art[i].tag);
    }
    free(cfg->supp);
    free(cfg->qci);
    free(cfg->ign);
    free(cfg->art);
    free(cfg->source_registry);
    free(cfg->qci_repository);
    free(cfg->qci_pull_repository);
    free(cfg);
}

/* ---- accessors ---- */

size_t mirror_config_supplemental_count(const mirror_config *cfg) { return cfg->nsupp; }
const mirror_entry *mirror_config_supplemental_at(const mirror_config *cfg, size_t i) {
    return i < cfg->nsupp ? &cfg->supp[i] : NULL;
}
size_t mirror_config_qci_count(const mirror_config *cfg) { return cfg->nqci; }
const mirror_entry *mirror_config_qci_at(const mirror_config *cfg, size_t i) {
    return i < cfg->nqci ? &cfg->qci[i] : NULL;
}
size_t mirror_config_ignored_count(const mirror_config *cfg) { return cfg->nign; }
const mirror_ignored *mirror_config_ignored_at(const mirror_config *cfg, size_t i) {
    return i < cfg->nign ? &cfg->ign[i] : NULL;
}
size_t mirror_config_art_count(const mirror_config *cfg) { return cfg->nart; }
const mirror_art_rule *mirror_config_art_at(const mirror_config *cfg, size_t i) {
    return i < cfg->nart ? &cfg->art[i] : NULL;
}

bool mirror_art_match(const mirror_art_rule *rule, const char *name, const char *tag) {
    if (!mirror_regex_match(rule->name, name))
        return false;
    return !tag || !rule->tag || mirror_regex_match(rule->tag, tag);
}

int mirror_config_source_pull_spec(const mirror_config *cfg, const mirror_source *src, char *out,
                                   size_t outlen) {
    int n = src->image
                ? snprintf(out, outlen, "%s", src->image)
                : snprintf(out, outlen, "%s/%s/%s:%s", cfg->source_registry, src->ns ? src->ns : "",
                           src->name ? src->name : "", src->tag ? src->tag : "");
    return n < 0 || (size_t)n >= outlen ? QS_ETOOBIG : 0;
}
