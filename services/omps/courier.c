/* courier.c — operator-courier 2.1.10's ValidateCmd (validate.py), rule for rule.
 *
 * Each check below is courier's, in courier's order, with its message text byte for byte
 * (typos included: "ownednot", "typestring", "format,because"), so the `validation_info` OMPS
 * returns is the one users and tools already match on. Order matters: per bundle the CRDs
 * are checked, then the CSVs (metadata, apiVersion, spec: warnings for missing optional
 * fields, install, owned CRDs against the bundle's CRDs), then the package, then packageName
 * against the repository (only when the package checks passed). Any error invalidates the
 * bundle, including the two courier logs without clearing its `valid` flag.
 *
 * courier works on whatever PyYAML produced and uses Python's `in`, `[]`, `len` and `for` on
 * it, so a value of an unexpected type does not always fail the way a schema would: `"name"
 * in metadata` is a substring test when metadata is a string, and `len(5)` raises. The `py_*`
 * helpers reproduce those semantics on jansson values; where Python would raise TypeError
 * (OMPS then answered 500 QuayCourierError) validation stops with QS_EPROTO and Python's
 * message. Messages formatted with `%s` use Python's str() of the value (py_str). */
#include "omps/courier.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "omps/yaml_emit.h"
#include "shared/buf.h"
#include "shared/common.h"

typedef struct {
    json_t *errors, *warnings;
    const omps_courier_opts *opts;
    bool nested;
    bool crashed;
    char crash[256];
} vctx;

/* ---- Python semantics on jansson values ---- */

static const char *py_type(const json_t *v) {
    static const char *const names[] = {"dict",  "list", "str",  "int",
                                        "float", "bool", "bool", "NoneType"};
    return v ? names[json_typeof(v)] : "NoneType";
}

static void crash(vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void crash(vctx *c, const char *fmt, ...) {
    if (c->crashed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->crash, sizeof c->crash, fmt, ap);
    va_end(ap);
    c->crashed = true;
}

/* Python's `key in v`. */
static bool py_in(vctx *c, const json_t *v, const char *key) {
    if (c->crashed)
        return false;
    if (json_is_object(v))
        return json_object_get(v, key) != NULL;
    if (json_is_string(v))
        return strstr(json_string_value(v), key) != NULL;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);
            if (json_is_string(e) && !strcmp(json_string_value(e), key))
                return true;
        }
        return false;
    }
    crash(c, "argument of type '%s' is not iterable", py_type(v));
    return false;
}

/* Python's `v[key]` after a successful `key in v` (a KeyError is reported as such). */
static json_t *py_get(vctx *c, const json_t *v, const char *key) {
    if (c->crashed)
        return NULL;
    if (json_is_object(v)) {
        json_t *r = json_object_get(v, key);
        if (!r)
            crash(c, "'%s'", key);
        return r;
    }
    if (json_is_string(v))
        crash(c, "string indices must be integers");
    else if (json_is_array(v))
        crash(c, "list indices must be integers or slices, not str");
    else
        crash(c, "'%s' object is not subscriptable", py_type(v));
    return NULL;
}

/* `try: v[key] except KeyError: pass` — NULL when missing, a crash for a TypeError. */
static json_t *py_try_get(vctx *c, const json_t *v, const char *key) {
    if (json_is_object(v))
        return json_object_get(v, key);
    return py_get(c, v, key);
}

static size_t utf8_len(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static size_t py_len(vctx *c, const json_t *v) {
    if (json_is_object(v))
        return json_object_size(v);
    if (json_is_array(v))
        return json_array_size(v);
    if (json_is_string(v))
        return utf8_len(json_string_value(v));
    crash(c, "object of type '%s' has no len()", py_type(v));
    return 0;
}

/* The items `for x in v` visits, as a new array: list items, dict keys, str characters. */
static json_t *py_iter(vctx *c, const json_t *v) {
    json_t *a = json_array();
    if (!a || c->crashed) {
        crash(c, "out of memory");
        return a;
    }
    if (json_is_array(v)) {
        json_array_extend(a, (json_t *)v);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)v, k, val) { json_array_append_new(a, json_string(k)); }
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        while (*s) {
            size_t n = 1;
            while (s[n] && ((unsigned char)s[n] & 0xC0) == 0x80)
                n++;
            json_array_append_new(a, json_stringn(s, n));
            s += n;
        }
    } else {
        crash(c, "'%s' object is not iterable", py_type(v));
    }
    return a;
}

static bool is_num(const json_t *v) { return json_is_number(v) || json_is_boolean(v); }

static double num(const json_t *v) {
    return json_is_boolean(v) ? (json_is_true(v) ? 1.0 : 0.0) : json_number_value(v);
}

/* Python's ==: numbers (and bools) by value, everything else structurally. */
static bool py_eq(const json_t *a, const json_t *b) {
    if (is_num(a) && is_num(b))
        return num(a) == num(b);
    return a && b && json_equal(a, b);
}

static bool py_list_has(const json_t *list, const json_t *v) {
    for (size_t i = 0; i < json_array_size(list); i++)
        if (py_eq(json_array_get(list, i), v))
            return true;
    return false;
}

static void py_repr(const json_t *v, qs_buf *b, bool top);

/* str(v) into b: strings as they are, containers as Python prints them. */
static void py_repr(const json_t *v, qs_buf *b, bool top) {
    char num_text[64];
    const char *k;
    json_t *val;
    size_t i = 0;
    switch (json_typeof(v)) {
    case JSON_STRING:
        qs_buf_printf(b, top ? "%s" : "'%s'", json_string_value(v));
        break;
    case JSON_INTEGER:
        qs_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        omps_yaml_float_repr(json_real_value(v), num_text, sizeof num_text);
        qs_buf_puts(b, !strcmp(num_text, ".inf")    ? "inf"
                       : !strcmp(num_text, "-.inf") ? "-inf"
                       : !strcmp(num_text, ".nan")  ? "nan"
                                                    : num_text);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        qs_buf_puts(b, json_is_true(v) ? "True" : "False");
        break;
    case JSON_ARRAY:
        qs_buf_puts(b, "[");
        for (i = 0; i < json_array_size(v); i++) {
            qs_buf_puts(b, i ? ", " : "");
            py_repr(json_array_get(v, i), b, false);
        }
        qs_buf_puts(b, "]");
        break;
    case JSON_OBJECT:
        qs_buf_puts(b, "{");
        json_object_foreach((json_t *)v, k, val) {
            qs_buf_printf(b, "%s'%s': ", i++ ? ", " : "", k);
            py_repr(val, b, false);
        }
        qs_buf_puts(b, "}");
        break;
    default:
        qs_buf_puts(b, "None");
    }
}

/* ---- logging into validation_json ---- */

static void log_msg(vctx *c, json_t *list, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void log_msg(vctx *c, json_t *list, const char *fmt, ...) {
    if (c->crashed)
        return;
    qs_buf b = QS_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int rc = qs_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc != QS_OK || json_array_append_new(list, json_string(qs_buf_str(&b))) != 0)
        crash(c, "out of memory");
    qs_buf_free(&b);
}

#define ERR(c, ...) log_msg((c), (c)->errors, __VA_ARGS__)
#define WARN(c, ...) log_msg((c), (c)->warnings, __VA_ARGS__)

/* Log `fmt` with one %s given Python's str(v). */
static void log_value(vctx *c, json_t *list, const char *fmt, const json_t *v) {
    qs_buf b = QS_BUF_INIT;
    py_repr(v, &b, true);
    log_msg(c, list, fmt, qs_buf_str(&b));
    qs_buf_free(&b);
}

/* ---- CRDs (_crd_validation) ---- */

/* `crd['spec']['version'][0]`: indexing a str, list or dict with 0. */
static const json_t *py_index0(vctx *c, const json_t *v, json_t **tmp) {
    if (json_is_array(v) && json_array_size(v))
        return json_array_get(v, 0);
    if (json_is_string(v) && json_string_length(v)) {
        const char *s = json_string_value(v);
        size_t n = 1;
        while (s[n] && ((unsigned char)s[n] & 0xC0) == 0x80)
            n++;
        return *tmp = json_stringn(s, n);
    }
    if (json_is_array(v) || json_is_string(v))
        crash(c, "%s index out of range", json_is_array(v) ? "list" : "string");
    else if (json_is_object(v))
        crash(c, "0");
    else
        crash(c, "'%s' object is not subscriptable", py_type(v));
    return NULL;
}

static void crd_versions(vctx *c, const json_t *spec) {
    const json_t *versions = py_get(c, spec, "versions");
    if (!(py_len(c, versions) > 0)) {
        ERR(c, "crd spec.versions is empty.");
        return;
    }
    json_t *items = py_iter(c, versions);
    size_t storage = 0;
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *ver = json_array_get(items, i);
        if (!py_in(c, ver, "name") || !py_in(c, ver, "served") || !py_in(c, ver, "storage"))
            ERR(c, "crd spec.versions contains an invalid CustomResourceDefinitionVersion.");
    }
    if (py_in(c, spec, "version")) { /* dead in practice: indexes the version string */
        json_t *tmp = NULL;
        const json_t *v0 = py_index0(c, py_get(c, spec, "version"), &tmp);
        if (v0 && py_in(c, v0, "name") &&
            !py_eq(py_get(c, v0, "name"), json_object_get(spec, "version")))
            ERR(c, "crd spec.version and spec.versions are defined but spec.versions[0].name "
                   "doesn't match spec.version.");
        json_decref(tmp);
    }
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *ver = json_array_get(items, i);
        if (py_in(c, ver, "storage") && json_is_true(py_get(c, ver, "storage")))
            storage++;
    }
    if (storage != 1)
        ERR(c, "crd spec.version should contain exactly one version flagged as storage version.");
    json_decref(items);
}

static void crd_spec(vctx *c, const json_t *spec) {
    if (!py_in(c, spec, "names")) {
        ERR(c, "crd spec.names not defined.");
    } else {
        const json_t *names = py_get(c, spec, "names");
        if (!py_in(c, names, "kind"))
            ERR(c, "crd spec.names.kind not defined.");
        if (!py_in(c, names, "plural"))
            ERR(c, "crd spec.names.plural not defined.");
    }
    if (!py_in(c, spec, "group"))
        ERR(c, "crd spec.group not defined.");
    if (!py_in(c, spec, "versions") && !py_in(c, spec, "version"))
        ERR(c, "crd spec.version or spec.versions not defined.");
    if (py_in(c, spec, "versions"))
        crd_versions(c, spec);
}

static void crd_validation(vctx *c, const json_t *crds) {
    for (size_t i = 0; i < json_array_size(crds) && !c->crashed; i++) {
        const json_t *crd = json_array_get(crds, i);
        if (py_in(c, crd, "metadata")) {
            const json_t *md = py_get(c, crd, "metadata");
            if (py_in(c, md, "name"))
                py_get(c, md, "name"); /* logged: "Evaluating crd %s" */
            else
                ERR(c, "crd metadata.name not defined.");
        } else {
            ERR(c, "crd metadata not defined.");
        }
        if (!py_in(c, crd, "apiVersion"))
            ERR(c, "crd apiVersion not defined.");
        if (!py_in(c, crd, "spec"))
            ERR(c, "crd spec not defined.");
        else
            crd_spec(c, py_get(c, crd, "spec"));
    }
}

/* ---- CSVs (_csv_validation) ---- */

static void csv_metadata(vctx *c, const json_t *metadata) {
    static const char *const wanted[] = {"categories", "description", "containerImage", "createdAt",
                                         "support"};
    if (py_in(c, metadata, "name"))
        py_get(c, metadata, "name"); /* logger.info("Evaluating csv %s", metadata["name"]) */
    else
        ERR(c, "csv metadata.name not defined.");
    if (!py_in(c, metadata, "annotations")) {
        WARN(c, "csv metadata.annotations not defined.");
        return;
    }
    const json_t *ann = py_get(c, metadata, "annotations");
    for (size_t i = 0; i < QS_ARRAY_LEN(wanted); i++)
        if (!py_in(c, ann, wanted[i]))
            WARN(c, "csv metadata.annotations.%s not defined", wanted[i]);
    if (!py_in(c, ann, "certified"))
        WARN(c, "csv metadata.annotations.certified not defined.");
    else if (!json_is_string(py_get(c, ann, "certified")))
        ERR(c, "metadata.annotations.certified is not of typestring");
    if (py_in(c, ann, "alm-examples")) { /* inside `try: ... except Exception` */
        const json_t *ex = json_is_object(ann) ? json_object_get(ann, "alm-examples") : NULL;
        json_t *parsed = json_is_string(ex)
                             ? json_loadb(json_string_value(ex), json_string_length(ex),
                                          JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
                             : NULL;
        if (!parsed)
            ERR(c, "metadata.annotations.alm-examples contains invalid json string");
        json_decref(parsed);
    }
}

static void csv_install(vctx *c, const json_t *install) {
    if (py_in(c, install, "strategy")) {
        const json_t *s = py_get(c, install, "strategy");
        if (!(json_is_string(s) && !strcmp(json_string_value(s), "deployment")))
            ERR(c, "csv spec.install.strategy must be one of ['deployment']");
    } else {
        ERR(c, "csv spec.install.strategy not defined");
    }
    if (!py_in(c, install, "spec")) {
        ERR(c, "csv spec.install.spec not defined");
        return;
    }
    const json_t *spec = py_get(c, install, "spec");
    if (py_in(c, spec, "deployments")) {
        if (!json_is_array(py_get(c, spec, "deployments")))
            ERR(c, "csv spec.install.spec.deployments should be a list");
    } else {
        ERR(c, "csv spec.install.spec.deployments not defined"); /* error, valid kept */
    }
    static const char *const lists[] = {"permissions", "clusterPermissions"};
    for (size_t i = 0; i < QS_ARRAY_LEN(lists); i++) {
        const json_t *v = py_try_get(c, spec, lists[i]);
        if (v && !json_is_array(v))
            ERR(c, "csv spec.install.spec.%s should be a list", lists[i]);
    }
}

/* The names of the bundle's CRDs: `try: crd["metadata"]["name"] except KeyError: pass`. */
static json_t *crd_names(vctx *c, const json_t *crds) {
    json_t *names = json_array();
    for (size_t i = 0; names && i < json_array_size(crds); i++) {
        const json_t *md = py_try_get(c, json_array_get(crds, i), "metadata");
        const json_t *name = md ? py_try_get(c, md, "name") : NULL;
        if (name)
            json_array_append(names, (json_t *)name);
    }
    return names;
}

/* `CRD.spec.names.plural + '.' + CRD.spec.group`; NULL after a TypeError. */
static json_t *plural_dot_group(vctx *c, const json_t *plural, const json_t *group) {
    if (!json_is_string(plural)) {
        crash(c, "unsupported operand type(s) for +: '%s' and 'str'", py_type(plural));
        return NULL;
    }
    if (!json_is_string(group)) {
        crash(c, "can only concatenate str (not \"%s\") to str", py_type(group));
        return NULL;
    }
    qs_buf b = QS_BUF_INIT;
    qs_buf_printf(&b, "%s.%s", json_string_value(plural), json_string_value(group));
    json_t *r = json_string(qs_buf_str(&b));
    qs_buf_free(&b);
    return r;
}

/* One owned item against one CRD of the same metadata.name. */
static void owned_vs_crd(vctx *c, const json_t *item, const json_t *crd, json_t *valid_versions) {
    if (!py_in(c, crd, "spec"))
        return;
    const json_t *spec = py_get(c, crd, "spec");
    if (py_in(c, item, "kind") && py_in(c, spec, "names") &&
        py_in(c, py_get(c, spec, "names"), "kind") &&
        !py_eq(py_get(c, item, "kind"), py_get(c, py_get(c, spec, "names"), "kind")))
        ERR(c, "CRD.spec.names.kind does not match CSV.spec.crd.owned.kind");
    if (py_in(c, item, "version")) {
        const json_t *want = py_get(c, item, "version");
        if (py_in(c, spec, "versions")) {
            json_t *vers = py_iter(c, py_get(c, spec, "versions")), *names = json_array();
            for (size_t i = 0; names && i < json_array_size(vers); i++) {
                const json_t *v = json_array_get(vers, i);
                if (py_in(c, v, "name"))
                    json_array_append(names, py_get(c, v, "name"));
            }
            if (!c->crashed && !py_list_has(names, want))
                ERR(c, "CSV.spec.crd.owned.version is not in CRD.spec.versions list");
            json_decref(vers);
            json_decref(names);
        }
        if (py_in(c, spec, "version")) { /* validCrdVersions[name].append(...) */
            qs_buf key = QS_BUF_INIT;
            py_repr(py_get(c, item, "name"), &key, false);
            json_t *seen = json_object_get(valid_versions, qs_buf_str(&key));
            bool match = py_eq(want, py_get(c, spec, "version"));
            json_object_set_new(valid_versions, qs_buf_str(&key),
                                json_boolean(match || json_is_true(seen)));
            qs_buf_free(&key);
        }
    }
    if (py_in(c, spec, "names") && py_in(c, spec, "group") &&
        py_in(c, py_get(c, spec, "names"), "plural")) {
        json_t *full = plural_dot_group(c, py_get(c, py_get(c, spec, "names"), "plural"),
                                        py_get(c, spec, "group"));
        if (full && !py_eq(py_get(c, item, "name"), full))
            ERR(c, "`CRD.spec.names.plural`.`CRD.spec.group` does not match "
                   "CSV.spec.crd.owned.name");
        json_decref(full);
    }
}

static void owned_item(vctx *c, const json_t *item, const json_t *crds, const json_t *crd_list,
                       json_t *valid_versions) {
    if (!py_in(c, item, "name"))
        ERR(c, "name not defined for item in spec.customresourcedefinitions.");
    else if (!py_list_has(crd_list, py_get(c, item, "name")))
        log_value(c, c->errors,
                  "custom resource definition %s referenced in csv not defined in root list of "
                  "crds",
                  py_get(c, item, "name"));
    if (!py_in(c, item, "kind"))
        ERR(c, "kind not defined for item in spec.customresourcedefinitions.");
    if (!py_in(c, item, "version"))
        ERR(c, "version not defined for item in spec.customresourcedefinitions.");
    for (size_t i = 0; i < json_array_size(crds) && !c->crashed; i++) {
        const json_t *crd = json_array_get(crds, i);
        if (!py_in(c, item, "name") || !py_in(c, crd, "metadata") ||
            !py_in(c, py_get(c, crd, "metadata"), "name") ||
            !py_eq(py_get(c, item, "name"), py_get(c, py_get(c, crd, "metadata"), "name")))
            continue;
        owned_vs_crd(c, item, crd, valid_versions);
    }
}

static void csv_owned(vctx *c, const json_t *spec, const json_t *crds) {
    const json_t *defs = py_get(c, spec, "customresourcedefinitions");
    if (c->opts->owned_optional && json_is_null(defs))
        return;
    json_t *crd_list = crd_names(c, crds);
    const json_t *owned = NULL;
    if (!py_in(c, defs, "owned")) {
        if (!c->opts->owned_optional)
            ERR(c, "spec.customresourcedefinitions.ownednot defined for csv");
    } else {
        owned = py_get(c, defs, "owned");
    }
    json_t *valid_versions = json_object();
    json_t *items =
        owned && !(c->opts->owned_optional && json_is_null(owned)) ? py_iter(c, owned) : NULL;
    for (size_t i = 0; i < json_array_size(items) && !c->crashed; i++)
        owned_item(c, json_array_get(items, i), crds, crd_list, valid_versions);
    const char *k;
    json_t *v;
    json_object_foreach(valid_versions, k, v) {
        if (!json_is_true(v))
            ERR(c, "CRD.spec.version does not match CSV.spec.crd.owned.version");
    }
    json_decref(items);
    json_decref(valid_versions);
    json_decref(crd_list);
}

static void csv_spec(vctx *c, const json_t *spec, const json_t *crds) {
    static const char *const warn_spec[] = {"displayName", "description", "icon",
                                            "version",     "provider",    "maturity"};
    for (size_t i = 0; i < QS_ARRAY_LEN(warn_spec); i++)
        if (!py_in(c, spec, warn_spec[i]))
            WARN(c, "csv spec.%s not defined", warn_spec[i]);
    if (!py_in(c, spec, "installModes"))
        ERR(c, "csv spec.installModes not defined");
    if (py_in(c, spec, "install"))
        csv_install(c, py_get(c, spec, "install"));
    else
        ERR(c, "csv spec.install not defined");
    if (py_in(c, spec, "customresourcedefinitions"))
        csv_owned(c, spec, crds);
}

static void csv_validation(vctx *c, const json_t *csvs, const json_t *crds) {
    for (size_t i = 0; i < json_array_size(csvs) && !c->crashed; i++) {
        const json_t *csv = json_array_get(csvs, i);
        if (py_in(c, csv, "metadata"))
            csv_metadata(c, py_get(c, csv, "metadata"));
        else
            ERR(c, "csv metadata not defined.");
        if (!py_in(c, csv, "apiVersion"))
            ERR(c, "csv apiVersion not defined.");
        if (py_in(c, csv, "spec"))
            csv_spec(c, py_get(c, csv, "spec"), crds);
        else
            ERR(c, "csv spec not defined.");
    }
}

/* ---- package (_pkgs_validation) ---- */

static void channels_check(vctx *c, const json_t *channels, const json_t *csvs, bool *valid) {
    json_t *csv_names = json_array();
    for (size_t i = 0; csv_names && i < json_array_size(csvs); i++) {
        const json_t *md = py_try_get(c, json_array_get(csvs, i), "metadata");
        const json_t *name = md ? py_try_get(c, md, "name") : NULL;
        if (name)
            json_array_append(csv_names, (json_t *)name);
    }
    json_t *items = py_iter(c, channels);
    for (size_t i = 0; i < json_array_size(items) && !c->crashed; i++) {
        const json_t *ch = json_array_get(items, i);
        if (!py_in(c, ch, "name")) {
            ERR(c, "package channel.name not defined.");
            *valid = false;
        }
        if (!py_in(c, ch, "currentCSV")) {
            ERR(c, "package channel.currentCSV not defined."); /* error, valid kept */
        } else if (!c->nested && !py_list_has(csv_names, py_get(c, ch, "currentCSV"))) {
            log_value(c, c->errors, "channel.currentCSV %s is not included in list of csvs",
                      py_get(c, ch, "currentCSV"));
            *valid = false;
        }
    }
    json_decref(items);
    json_decref(csv_names);
}

static bool pkgs_validation(vctx *c, const json_t *pkgs, const json_t *csvs) {
    bool valid = true;
    if (json_array_size(pkgs) != 1) {
        ERR(c, "Only 1 package is expected to exist per bundle, but got %zu.",
            json_array_size(pkgs));
        return false;
    }
    const json_t *pkg = json_array_get(pkgs, 0);
    if (!py_in(c, pkg, "packageName")) {
        ERR(c, "packageName not defined.");
        valid = false;
    }
    if (!py_in(c, pkg, "channels")) {
        ERR(c, "package channels not defined.");
        return false;
    }
    const json_t *channels = py_get(c, pkg, "channels");
    if (py_len(c, channels) == 0) {
        ERR(c, "no package channels defined.");
        return false;
    }
    channels_check(c, channels, csvs, &valid);
    return valid;
}

/* ---- the bundle (_bundle_validation) ---- */

static int finish(vctx *c, char *err, size_t errlen) {
    if (!c->crashed)
        return QS_OK;
    if (err && errlen)
        snprintf(err, errlen, "%s", c->crash);
    return strcmp(c->crash, "out of memory") ? QS_EPROTO : QS_ENOMEM;
}

int omps_courier_validate_bundle(const json_t *crds, const json_t *csvs, const json_t *packages,
                                 bool nested, const omps_courier_opts *opts, json_t *info,
                                 char *err, size_t errlen) {
    omps_courier_opts defaults = OMPS_COURIER_OPTS_INIT;
    vctx c = {.errors = json_object_get(info, "errors"),
              .warnings = json_object_get(info, "warnings"),
              .opts = opts ? opts : &defaults,
              .nested = nested};
    if (!json_is_array(c.errors) || !json_is_array(c.warnings))
        return QS_EINVAL;
    /* _type_validation: CRDs optional, CSVs and packages required */
    if (json_array_size(crds))
        crd_validation(&c, crds);
    if (json_array_size(csvs))
        csv_validation(&c, csvs, crds);
    else
        ERR(&c, "Bundle does not contain any clusterServiceVersions.");
    bool pkgs_ok = false;
    if (json_array_size(packages))
        pkgs_ok = pkgs_validation(&c, packages, csvs);
    else
        ERR(&c, "Bundle does not contain any packages.");
    if (pkgs_ok && c.opts->repository && !c.crashed) {
        const json_t *name = json_object_get(json_array_get(packages, 0), "packageName");
        if (!(json_is_string(name) && !strcmp(json_string_value(name), c.opts->repository))) {
            qs_buf b = QS_BUF_INIT;
            py_repr(name, &b, true);
            ERR(&c,
                "The packageName (%s) in bundle does not match repository name (%s) provided "
                "as command line argument.",
                qs_buf_str(&b), c.opts->repository);
            qs_buf_free(&b);
        }
    }
    return finish(&c, err, errlen);
}

int omps_courier_validate(const omps_manifests *m, const omps_courier_opts *opts, json_t **info,
                          char *err, size_t errlen) {
    *info = json_pack("{s:[],s:[]}", "errors", "warnings");
    if (!*info)
        return QS_ENOMEM;
    int rc = QS_OK;
    for (size_t i = 0; rc == QS_OK && i < m->n_bundles; i++) {
        const omps_bundle_docs *b = &m->bundles[i];
        rc = omps_courier_validate_bundle(b->crds, b->csvs, b->packages, m->nested, opts, *info,
                                          err, errlen);
    }
    if (rc != QS_OK) {
        json_decref(*info);
        *info = NULL;
    }
    return rc;
}

bool omps_courier_valid(const json_t *info) {
    return json_array_size(json_object_get(info, "errors")) == 0;
}
