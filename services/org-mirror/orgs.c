/* orgs.c — which organisations are mirrored, with what, and the Secret files they need.
 *
 * Two ways to name them: ORGANIZATIONS (a comma list; every organisation gets the global
 * TAG_GLOB and SYNC_INTERVAL, the same name at the destination, and its robot from
 * ROBOT_NAMES_DIR) or ORG_MIRROR_CONFIG, a YAML file with optional `defaults` and a list of
 * `organizations`, each a name or a mapping of overrides:
 *
 *   defaults: {robot: quay_mirror_robot, tag_globs: ["*"], interval: 600, visibility: private}
 *   organizations:
 *     - internal-docker-io
 *     - {name: internal-acic-images, destination: acic-images, tag_globs: ["v*"]}
 *
 * Unknown keys are errors, as everywhere in quayside. The Secret directories are the seed's
 * Secrets mounted as they are: one file per organisation, named after the (source)
 * organisation. Token files are only checked here (the Quay client re-reads them when they
 * change); so are robot names (ctx.c), so an edited name takes effect at the next repository. */
#include "org-mirror/orgs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/buf.h"
#include "shared/common.h"

#define INTERVAL_MAX (366L * 86400)
#define SECRET_MAX 8192

bool orgm_name_valid(const char *s) {
    size_t len = s ? strlen(s) : 0;
    if (len < 2 || len > ORGM_NAME_MAX)
        return false;
    bool prev_sep = true; /* no separator first */
    for (const char *p = s; *p; p++) {
        bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
        bool sep = *p == '.' || *p == '_' || *p == '-';
        if (!alnum && !sep)
            return false;
        if (sep && prev_sep)
            return false;
        prev_sep = sep;
    }
    return !prev_sep;
}

static void org_free(orgm_org *o) {
    free(o->name);
    free(o->destination);
    free(o->robot);
    orgm_globs_free(&o->globs);
    free(o->source_token_file);
    free(o->destination_token_file);
    free(o->robot_file);
    memset(o, 0, sizeof *o);
}

void orgm_orgs_free(orgm_orgs *orgs) {
    for (size_t i = 0; i < orgs->n; i++)
        org_free(&orgs->v[i]);
    free(orgs->v);
    orgs->v = NULL;
    orgs->n = 0;
}

const orgm_org *orgm_orgs_find(const orgm_orgs *orgs, const char *name) {
    for (size_t i = 0; name && i < orgs->n; i++)
        if (strcmp(orgs->v[i].name, name) == 0)
            return &orgs->v[i];
    return NULL;
}

/* Append a new organisation with the defaults; NULL on ENOMEM. */
static orgm_org *append(qs_conf *c, orgm_orgs *orgs, const char *name, const char *where,
                        const orgm_org_defaults *d) {
    if (!orgm_name_valid(name))
        qs_conf_error(c, "%s: \"%.80s\" is not a valid organization name", where, name);
    else if (orgm_orgs_find(orgs, name))
        qs_conf_error(c, "%s: organization \"%s\" is listed twice", where, name);
    orgm_org *v = realloc(orgs->v, (orgs->n + 1) * sizeof *v);
    if (!v)
        return NULL;
    orgs->v = v;
    orgm_org *o = &v[orgs->n++];
    memset(o, 0, sizeof *o);
    o->name = strdup(name);
    o->destination = strdup(name);
    o->interval = d->interval;
    if (d->globs && orgm_globs_copy(&o->globs, d->globs) != QS_OK)
        qs_conf_error(c, "out of memory");
    return o->name && o->destination ? o : NULL;
}

static size_t load_list(qs_conf *c, const char *list, const orgm_org_defaults *d, orgm_orgs *out) {
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        const char *b = p, *e = p + n;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > b) {
            char *name = strndup(b, (size_t)(e - b));
            if (!name || !append(c, out, name, "ORGANIZATIONS", d))
                qs_conf_error(c, "out of memory");
            free(name);
        }
        p += n + (p[n] == ',');
    }
    if (!out->n)
        qs_conf_error(c, "ORGANIZATIONS lists no organization");
    return qs_conf_error_count(c);
}

/* The overridable settings of one mapping (`defaults` or an organisation) into o. */
static void overrides(qs_conf *c, const json_t *m, const char *where, orgm_org *o) {
    const json_t *v;
    char err[200];
    if ((v = json_object_get(m, "destination"))) {
        if (!json_is_string(v) || !orgm_name_valid(json_string_value(v))) {
            qs_conf_error(c, "%s.destination: not a valid organization name", where);
        } else {
            free(o->destination);
            o->destination = strdup(json_string_value(v));
        }
    }
    if ((v = json_object_get(m, "robot"))) {
        if (!json_is_string(v) || !json_string_length(v)) {
            qs_conf_error(c, "%s.robot: expected the robot's name (short or org+short)", where);
        } else {
            free(o->robot);
            o->robot = strdup(json_string_value(v));
        }
    }
    if ((v = json_object_get(m, "tag_globs"))) {
        orgm_globs g;
        if (orgm_globs_from_json(v, &g, err, sizeof err) != QS_OK) {
            qs_conf_error(c, "%s.tag_globs: %s", where, err);
        } else {
            orgm_globs_free(&o->globs);
            o->globs = g;
        }
    }
    if ((v = json_object_get(m, "interval"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > INTERVAL_MAX)
            qs_conf_error(c, "%s.interval: expected seconds from 1 to %ld", where, INTERVAL_MAX);
        else
            o->interval = (long)json_integer_value(v);
    }
    if ((v = json_object_get(m, "visibility"))) {
        const char *s = json_string_value(v);
        if (s && strcmp(s, "private") == 0) {
            o->visibility = ORGM_VIS_PRIVATE;
            o->visibility_set = true;
        } else if (s && strcmp(s, "public") == 0) {
            o->visibility = ORGM_VIS_PUBLIC;
            o->visibility_set = true;
        } else {
            qs_conf_error(c, "%s.visibility: expected private or public", where);
        }
    }
}

static const char *const top_keys[] = {"defaults", "organizations", NULL};
static const char *const default_keys[] = {"robot", "tag_globs", "interval", "visibility", NULL};
static const char *const org_keys[] = {"name",     "destination", "robot", "tag_globs",
                                       "interval", "visibility",  NULL};

static size_t load_tree(qs_conf *c, const json_t *root, const char *where,
                        const orgm_org_defaults *d, orgm_orgs *out) {
    if (qs_json_check_keys(c, root, where, top_keys) && !json_is_object(root))
        return qs_conf_error_count(c);
    /* the defaults, as an organisation template */
    orgm_org tmpl = {0};
    tmpl.interval = d->interval;
    if (d->globs && orgm_globs_copy(&tmpl.globs, d->globs) != QS_OK)
        qs_conf_error(c, "out of memory");
    const json_t *defs = json_object_get(root, "defaults");
    char w[160];
    if (defs) {
        snprintf(w, sizeof w, "%s: defaults", where);
        qs_json_check_keys(c, defs, w, default_keys);
        if (json_is_object(defs))
            overrides(c, defs, w, &tmpl);
    }
    orgm_org_defaults d2 = {&tmpl.globs, tmpl.interval};
    const json_t *list = json_object_get(root, "organizations");
    if (!json_is_array(list) || !json_array_size(list))
        qs_conf_error(c, "%s: organizations must be a non-empty list", where);
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item) {
        snprintf(w, sizeof w, "%s: organizations[%zu]", where, i);
        const json_t *name = json_is_object(item) ? json_object_get(item, "name") : item;
        if (!json_is_string(name)) {
            qs_conf_error(c, "%s: expected a name or a mapping with a name", w);
            continue;
        }
        if (json_is_object(item))
            qs_json_check_keys(c, item, w, org_keys);
        orgm_org *o = append(c, out, json_string_value(name), w, &d2);
        if (!o) {
            qs_conf_error(c, "out of memory");
            break;
        }
        o->visibility = tmpl.visibility;
        o->visibility_set = tmpl.visibility_set;
        if (tmpl.robot)
            o->robot = strdup(tmpl.robot);
        if (json_is_object(item))
            overrides(c, item, w, o);
    }
    org_free(&tmpl);
    return qs_conf_error_count(c);
}

size_t orgm_orgs_load_yaml_text(qs_conf *c, const char *text, const char *where,
                                const orgm_org_defaults *d, orgm_orgs *out) {
    memset(out, 0, sizeof *out);
    json_t *root = NULL;
    char err[256];
    if (qs_yaml_parse(text, strlen(text), &root, err, sizeof err) != QS_OK) {
        qs_conf_error(c, "%s: %s", where, err);
        return qs_conf_error_count(c);
    }
    size_t n = load_tree(c, root, where, d, out);
    json_decref(root);
    return n;
}

size_t orgm_orgs_load(qs_conf *c, const char *list, const char *yaml_path,
                      const orgm_org_defaults *d, orgm_orgs *out) {
    memset(out, 0, sizeof *out);
    if (list && yaml_path) {
        qs_conf_error(c, "set ORGANIZATIONS or ORG_MIRROR_CONFIG, not both");
        return qs_conf_error_count(c);
    }
    if (!list && !yaml_path) {
        qs_conf_error(c, "no organizations: set ORGANIZATIONS (a comma list) or "
                         "ORG_MIRROR_CONFIG (a YAML file)");
        return qs_conf_error_count(c);
    }
    if (list)
        return load_list(c, list, d, out);
    json_t *root = NULL;
    char err[300], where[300];
    snprintf(where, sizeof where, "ORG_MIRROR_CONFIG %s", yaml_path);
    if (qs_yaml_load_file(yaml_path, &root, err, sizeof err) != QS_OK) {
        qs_conf_error(c, "%s: %s", where, err);
        return qs_conf_error_count(c);
    }
    size_t n = load_tree(c, root, where, d, out);
    json_decref(root);
    return n;
}

int orgm_robot_name(const char *dst_org, const char *text, char *full, size_t fulllen, char *err,
                    size_t errlen) {
    const char *plus = text ? strchr(text, '+') : NULL;
    const char *shortname = plus ? plus + 1 : text;
    if (plus && ((size_t)(plus - text) != strlen(dst_org) ||
                 strncmp(text, dst_org, strlen(dst_org)) != 0)) {
        snprintf(err, errlen, "robot \"%.80s\" belongs to another organization than %s", text,
                 dst_org);
        return QS_EINVAL;
    }
    bool ok = shortname && *shortname && strlen(shortname) <= 254;
    for (const char *p = shortname; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
             *p == '-';
    if (!ok) {
        snprintf(err, errlen, "\"%.80s\" is not a robot name (short or %s+short)", text ? text : "",
                 dst_org);
        return QS_EINVAL;
    }
    if ((size_t)snprintf(full, fulllen, "%s+%s", dst_org, shortname) >= fulllen) {
        snprintf(err, errlen, "robot name too long");
        return QS_EINVAL;
    }
    return QS_OK;
}

int orgm_org_robot(const orgm_org *o, char *full, size_t fulllen, char *err, size_t errlen) {
    if (o->robot)
        return orgm_robot_name(o->destination, o->robot, full, fulllen, err, errlen);
    if (!o->robot_file) {
        snprintf(err, errlen, "no robot for %s: set robot in ORG_MIRROR_CONFIG or ROBOT_NAMES_DIR",
                 o->name);
        return QS_EINVAL;
    }
    char *text = NULL;
    int rc = qs_read_file(o->robot_file, 1024, true, &text, NULL);
    if (rc != QS_OK || !*text) {
        snprintf(err, errlen, "robot name file %s is %s", o->robot_file,
                 rc == QS_OK ? "empty" : "missing or unreadable");
        free(text);
        return QS_EINVAL;
    }
    rc = orgm_robot_name(o->destination, text, full, fulllen, err, errlen);
    free(text);
    return rc;
}

/* dir/name into *path; record a problem when needed and missing or empty. */
static void secret_file(qs_conf *c, const char *dir, const char *var, const char *name,
                        const char *what, bool needed, char **path) {
    if (!dir)
        return; /* reported once by orgm_orgs_attach_secrets */
    *path = qs_strdup_printf("%s/%s", dir, name);
    if (!needed || !*path)
        return;
    char *text = NULL;
    int rc = qs_read_file(*path, SECRET_MAX, true, &text, NULL);
    if (rc != QS_OK || !*text)
        qs_conf_error(c, "%s: no %s for organization %s (file %s %s)", var, what, name, *path,
                      rc == QS_OK        ? "is empty"
                      : rc == QS_ETOOBIG ? "is too big"
                                         : "is missing");
    if (text)
        qs_secret_release(text);
}

size_t orgm_orgs_attach_secrets(qs_conf *c, orgm_orgs *orgs, const orgm_secret_dirs *dirs) {
    size_t before = qs_conf_error_count(c);
    if (!dirs->source_tokens_dir && dirs->need_source_token)
        qs_conf_error(c, "SOURCE_TOKENS_DIR is required (a directory with the source API token "
                         "of each organization)");
    if (!dirs->destination_tokens_dir && dirs->need_destination)
        qs_conf_error(c, "DESTINATION_TOKENS_DIR is required (a directory with the destination "
                         "API token of each organization)");
    for (size_t i = 0; i < orgs->n; i++) {
        orgm_org *o = &orgs->v[i];
        secret_file(c, dirs->source_tokens_dir, "SOURCE_TOKENS_DIR", o->name, "source API token",
                    dirs->need_source_token, &o->source_token_file);
        secret_file(c, dirs->destination_tokens_dir, "DESTINATION_TOKENS_DIR", o->name,
                    "destination API token", dirs->need_destination, &o->destination_token_file);
        if (dirs->robot_names_dir)
            o->robot_file = qs_strdup_printf("%s/%s", dirs->robot_names_dir, o->name);
        if (!dirs->need_destination)
            continue;
        char full[600], err[300];
        if (!o->robot && !o->robot_file)
            qs_conf_error(c,
                          "no robot for organization %s: set robot in ORG_MIRROR_CONFIG or "
                          "ROBOT_NAMES_DIR",
                          o->name);
        else if (orgm_org_robot(o, full, sizeof full, err, sizeof err) != QS_OK)
            qs_conf_error(c, "organization %s: %s", o->name, err);
    }
    return qs_conf_error_count(c) - before;
}
