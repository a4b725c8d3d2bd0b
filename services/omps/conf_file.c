/* conf_file.c — OMPS_CONF_FILE: the organizations and the file-level settings, checked once at
 * start so that a typo stops the service with a message instead of being ignored.
 *
 * The original validated ORGANIZATIONS with a JSON schema (org names
 * `^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$`, `public` boolean, `oauth_token` string,
 * `replace_registry` items with required `old`/`new` strings, `package_name_suffix` string,
 * `csv_annotations` items with required `name`/`value`) but allowed unknown keys inside an
 * organization; here every unknown key is an error, a public organization must have a token
 * (the original logged an error at every push instead), and `oauth_token_file` lets the token
 * live in a mounted Secret rather than in the config map. */
#include "omps/conf_file.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"
#include "shared/semver.h"

#define ORG_NAME_RE "^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$"

const omps_org omps_org_default = {"", false, NULL, NULL, NULL,
                                   0,  NULL,  NULL, 0,    {NULL, 0, NULL, NULL, 0}};

static const char *const top_keys[] = {"organizations",
                                       "default_release_version",
                                       "kojihub_url",
                                       "kojiroot_url",
                                       "request_timeout",
                                       "zipfile_max_uncompressed_size",
                                       "max_content_length",
                                       "log_level",
                                       "debug",
                                       "log_format",
                                       "secret_key",
                                       "greenwave",
                                       NULL};
static const char *const org_keys[] = {
    "public",          "oauth_token", "oauth_token_file", "replace_registry", "package_name_suffix",
    "csv_annotations", NULL};
static const char *const rule_keys[] = {"old", "new", "regexp", NULL};
static const char *const annotation_keys[] = {"name", "value", NULL};

static bool org_name_ok(const char *name) {
    regex_t re;
    if (regcomp(&re, ORG_NAME_RE, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    bool ok = regexec(&re, name, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* Record every key of obj not in `allowed` ("<where>: <path>.<key>: unknown key; known: ...").
 * Returns true when obj is a mapping (unknown keys or not). */
static bool check_keys(qs_conf *errs, const char *where, const json_t *obj, const char *path,
                       const char *const allowed[]) {
    if (!json_is_object(obj)) {
        qs_conf_error(errs, "%s: %s must be a mapping", where, *path ? path : "the top level");
        return false;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (allowed[i])
            continue;
        char known[400] = "";
        size_t n = 0;
        for (size_t k = 0; allowed[k] && n < sizeof known; k++)
            n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", k ? ", " : "", allowed[k]);
        qs_conf_error(errs, "%s: %s%s%.100s: unknown key (known: %s)", where, path,
                      *path ? "." : "", key, known);
    }
    return true;
}

/* A required string member; records an error and returns NULL when absent or not a string. */
static const char *need_str(qs_conf *errs, const char *where, const json_t *obj, const char *path,
                            const char *key) {
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) {
        qs_conf_error(errs, "%s: %s.%s %s", where, path, key,
                      v ? "must be a string" : "is required");
        return NULL;
    }
    return json_string_value(v);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void parse_rules(qs_conf *errs, const char *where, const char *path, const json_t *v,
                        omps_org *o) {
    if (!json_is_array(v)) {
        qs_conf_error(errs, "%s: %s.replace_registry must be a list of {old, new, regexp}", where,
                      path);
        return;
    }
    o->rules = calloc(json_array_size(v) + 1, sizeof *o->rules);
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item) {
        char ipath[320];
        snprintf(ipath, sizeof ipath, "%s.replace_registry[%zu]", path, i);
        if (!o->rules || !check_keys(errs, where, item, ipath, rule_keys))
            continue;
        const char *old_text = need_str(errs, where, item, ipath, "old");
        const char *new_text = need_str(errs, where, item, ipath, "new");
        const json_t *re = json_object_get(item, "regexp");
        if (re && !json_is_boolean(re))
            qs_conf_error(errs, "%s: %s.regexp must be true or false", where, ipath);
        if (!old_text || !new_text)
            continue;
        omps_replace_rule *r = &o->rules[o->n_rules++];
        r->old_text = strdup(old_text);
        r->new_text = strdup(new_text);
        r->regexp = json_is_true(re);
    }
}

static void parse_annotations(qs_conf *errs, const char *where, const char *path, const json_t *v,
                              omps_org *o) {
    if (!json_is_array(v)) {
        qs_conf_error(errs, "%s: %s.csv_annotations must be a list of {name, value}", where, path);
        return;
    }
    o->annotations = calloc(json_array_size(v) + 1, sizeof *o->annotations);
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item) {
        char ipath[320];
        snprintf(ipath, sizeof ipath, "%s.csv_annotations[%zu]", path, i);
        if (!o->annotations || !check_keys(errs, where, item, ipath, annotation_keys))
            continue;
        const char *name = need_str(errs, where, item, ipath, "name");
        const char *value = need_str(errs, where, item, ipath, "value");
        if (!name || !value)
            continue;
        o->annotations[o->n_annotations].name = strdup(name);
        o->annotations[o->n_annotations++].value = strdup(value);
    }
}

/* The part of a check message after its "replace_registry[0]: " / "csv_annotations[0]: ". */
static const char *after_index(const char *msg) {
    const char *p = strchr(msg, ']');
    if (!p)
        return msg;
    p += 1 + (p[1] == ':');
    while (*p == ' ')
        p++;
    return p;
}

/* omps_org_settings_check on each rule and annotation alone, so that every bad one is
 * reported with its index in the file (rules that lacked old/new were reported already). */
static void check_rules(qs_conf *errs, const char *where, const char *path, const json_t *v,
                        const omps_org *o) {
    char err[512];
    size_t k = 0, i;
    const json_t *item;
    json_array_foreach(json_object_get(v, "replace_registry"), i, item) {
        if (k >= o->n_rules || !json_is_string(json_object_get(item, "old")) ||
            !json_is_string(json_object_get(item, "new")))
            continue;
        omps_org_settings one = {&o->rules[k++], 1, NULL, NULL, 0};
        if (omps_org_settings_check(&one, err, sizeof err) != QS_OK)
            qs_conf_error(errs, "%s: %s.replace_registry[%zu]: %s", where, path, i,
                          after_index(err));
    }
    k = 0;
    json_array_foreach(json_object_get(v, "csv_annotations"), i, item) {
        if (k >= o->n_annotations || !json_is_string(json_object_get(item, "name")) ||
            !json_is_string(json_object_get(item, "value")))
            continue;
        omps_org_settings one = {NULL, 0, NULL, &o->annotations[k++], 1};
        if (omps_org_settings_check(&one, err, sizeof err) != QS_OK)
            qs_conf_error(errs, "%s: %s.csv_annotations[%zu]: %s", where, path, i,
                          after_index(err));
    }
}

static void parse_org(qs_conf *errs, const char *where, const char *name, const json_t *v,
                      omps_org *o) {
    char path[200];
    snprintf(path, sizeof path, "organizations.%.150s", name);
    o->name = strdup(name);
    if (!org_name_ok(name))
        qs_conf_error(errs, "%s: organization name \"%.150s\" must match %s", where, name,
                      ORG_NAME_RE);
    if (json_is_null(v))
        return; /* `myorg:` with nothing under it: the defaults */
    if (!check_keys(errs, where, v, path, org_keys))
        return;
    const json_t *pub = json_object_get(v, "public");
    if (pub && !json_is_boolean(pub))
        qs_conf_error(errs, "%s: %s.public must be true or false", where, path);
    o->public_ = json_is_true(pub);
    if (json_object_get(v, "oauth_token"))
        o->oauth_token = dup_or_null(need_str(errs, where, v, path, "oauth_token"));
    if (json_object_get(v, "oauth_token_file")) {
        const char *f = need_str(errs, where, v, path, "oauth_token_file");
        o->oauth_token_file = f ? qs_secret_new(f) : NULL;
        char *tok = NULL;
        if (o->oauth_token_file && qs_secret_get(o->oauth_token_file, &tok) != QS_OK)
            qs_conf_error(errs, "%s: %s.oauth_token_file %.200s cannot be read or is empty", where,
                          path, f);
        qs_secret_release(tok);
    }
    if (o->oauth_token && o->oauth_token_file)
        qs_conf_error(errs, "%s: %s: set oauth_token or oauth_token_file, not both", where, path);
    if ((o->oauth_token && !*o->oauth_token))
        qs_conf_error(errs, "%s: %s.oauth_token is empty", where, path);
    if (o->public_ && !o->oauth_token && !o->oauth_token_file)
        qs_conf_error(errs,
                      "%s: %s: public: true needs oauth_token or oauth_token_file (an OAuth token "
                      "with \"Administer Repositories\" to make repositories public)",
                      where, path);
    const json_t *rules = json_object_get(v, "replace_registry");
    if (rules)
        parse_rules(errs, where, path, rules, o);
    if (json_object_get(v, "package_name_suffix"))
        o->suffix = dup_or_null(need_str(errs, where, v, path, "package_name_suffix"));
    const json_t *ann = json_object_get(v, "csv_annotations");
    if (ann)
        parse_annotations(errs, where, path, ann, o);
    o->view =
        (omps_org_settings){o->rules, o->n_rules, o->suffix, o->annotations, o->n_annotations};
    check_rules(errs, where, path, v, o);
}

static void parse_orgs(qs_conf *errs, const char *where, const json_t *v, omps_conf_file *out) {
    if (!v || json_is_null(v))
        return; /* absent or `organizations:` with nothing under it */
    if (!json_is_object(v)) {
        qs_conf_error(errs, "%s: organizations must be a mapping of organization name to settings",
                      where);
        return;
    }
    out->orgs = calloc(json_object_size(v) + 1, sizeof *out->orgs);
    if (!out->orgs) {
        qs_conf_error(errs, "%s: out of memory", where);
        return;
    }
    json_t *obj = (json_t *)v;
    const char *name;
    json_t *org;
    json_object_foreach(obj, name, org) {
        parse_org(errs, where, name, org, &out->orgs[out->n_orgs++]);
    }
}

/* Type checks of the file-level scalars; the values are used by settings.c. */
static void check_values(qs_conf *errs, const char *where, const json_t *root) {
    static const char *const strings[] = {"default_release_version",
                                          "kojihub_url",
                                          "kojiroot_url",
                                          "log_level",
                                          "log_format",
                                          "secret_key"};
    for (size_t i = 0; i < QS_ARRAY_LEN(strings); i++) {
        const json_t *v = json_object_get(root, strings[i]);
        if (v && !json_is_string(v))
            qs_conf_error(errs, "%s: %s must be a string", where, strings[i]);
    }
    const char *drv = json_string_value(json_object_get(root, "default_release_version"));
    if (drv && !qs_semver_valid(drv))
        qs_conf_error(errs, "%s: default_release_version \"%.60s\" must match %s", where, drv,
                      QS_SEMVER_RELEASE_REGEX);
    static const char *const sizes[] = {"zipfile_max_uncompressed_size", "max_content_length"};
    for (size_t i = 0; i < QS_ARRAY_LEN(sizes); i++) {
        const json_t *v = json_object_get(root, sizes[i]);
        if (v && (!json_is_integer(v) || json_integer_value(v) <= 0))
            qs_conf_error(errs, "%s: %s must be a positive number of bytes", where, sizes[i]);
    }
    const json_t *t = json_object_get(root, "request_timeout");
    double secs = 0;
    if (t && !(json_is_integer(t) && json_integer_value(t) > 0) &&
        !(json_is_string(t) && qs_parse_duration(json_string_value(t), &secs) == QS_OK && secs > 0))
        qs_conf_error(errs, "%s: request_timeout must be a positive number of seconds", where);
    const json_t *d = json_object_get(root, "debug");
    if (d && !json_is_boolean(d))
        qs_conf_error(errs, "%s: debug must be true or false", where);
}

size_t omps_conf_file_parse(const json_t *root, const char *where, omps_conf_file *out,
                            qs_conf *errs) {
    memset(out, 0, sizeof *out);
    size_t before = qs_conf_error_count(errs);
    out->values = json_object();
    if (!root || json_is_null(root))
        return 0;
    if (!json_is_object(root)) {
        qs_conf_error(errs, "%s: the configuration must be a mapping of settings", where);
        return qs_conf_error_count(errs) - before;
    }
    check_keys(errs, where, root, "", top_keys);
    parse_orgs(errs, where, json_object_get(root, "organizations"), out);
    omps_greenwave_conf_parse(json_object_get(root, "greenwave"), where, &out->greenwave, errs);
    check_values(errs, where, root);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)root, key, v) {
        if (strcmp(key, "organizations") != 0 && strcmp(key, "greenwave") != 0)
            json_object_set(out->values, key, v);
    }
    return qs_conf_error_count(errs) - before;
}

size_t omps_conf_file_load(const char *path, omps_conf_file *out, qs_conf *errs) {
    json_t *root = NULL;
    char err[512] = "";
    if (qs_yaml_load_file(path, &root, err, sizeof err) != QS_OK) {
        memset(out, 0, sizeof *out);
        qs_conf_error(errs, "OMPS_CONF_FILE %s: %s", path, err);
        return 1;
    }
    size_t n = omps_conf_file_parse(root, path, out, errs);
    json_decref(root);
    return n;
}

static void free_org(omps_org *o) {
    free(o->name);
    if (o->oauth_token)
        explicit_bzero(o->oauth_token, strlen(o->oauth_token));
    free(o->oauth_token);
    qs_secret_free(o->oauth_token_file);
    for (size_t i = 0; i < o->n_rules; i++) {
        free((char *)o->rules[i].old_text);
        free((char *)o->rules[i].new_text);
    }
    free(o->rules);
    free(o->suffix);
    for (size_t i = 0; i < o->n_annotations; i++) {
        free((char *)o->annotations[i].name);
        free((char *)o->annotations[i].value);
    }
    free(o->annotations);
}

void omps_conf_file_free(omps_conf_file *f) {
    if (!f)
        return;
    for (size_t i = 0; i < f->n_orgs; i++)
        free_org(&f->orgs[i]);
    free(f->orgs);
    json_decref(f->values);
    omps_greenwave_conf_free(&f->greenwave);
    memset(f, 0, sizeof *f);
}

const omps_org *omps_conf_file_org(const omps_conf_file *f, const char *name) {
    for (size_t i = 0; f && name && i < f->n_orgs; i++)
        if (f->orgs[i].name && strcmp(f->orgs[i].name, name) == 0)
            return &f->orgs[i];
    return &omps_org_default;
}

const json_t *omps_conf_file_value(const omps_conf_file *f, const char *key) {
    return f && f->values ? json_object_get(f->values, key) : NULL;
}

int omps_org_oauth_token(const omps_org *o, char **out) {
    *out = NULL;
    if (o->oauth_token) {
        *out = strdup(o->oauth_token);
        return *out ? QS_OK : QS_ENOMEM;
    }
    if (o->oauth_token_file)
        return qs_secret_get(o->oauth_token_file, out) == QS_OK ? QS_OK : QS_ENOTFOUND;
    return QS_ENOTFOUND;
}

bool omps_org_publishes(const omps_org *o) {
    return o->public_ && (o->oauth_token || o->oauth_token_file);
}
