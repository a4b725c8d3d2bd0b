/* conf_file.h — OMPS's configuration file (OMPS_CONF_FILE): YAML with the keys of
 * reference/omps.md §A.14 written in lower case, as in the seed.
 *
 *   organizations:                       # org name → its settings (all optional)
 *     myorg:
 *       public: true                     # make new repositories public after a push ...
 *       oauth_token_file: /etc/omps/oauth/myorg   # ... with this OAuth token (or oauth_token)
 *       replace_registry:
 *         - {old: quay.io, new: registry.example.com}
 *         - {old: '^(\s*image: )old\.io/', new: '\1new.io/', regexp: true}
 *       package_name_suffix: -suffix
 *       csv_annotations:
 *         - {name: marketplace.openshift.io/remote-workflow, value: 'https://x/{package_name}'}
 *   default_release_version: 1.0.0
 *   kojihub_url: https://koji.fedoraproject.org/kojihub
 *   kojiroot_url: https://kojipkgs.fedoraproject.org/
 *   request_timeout: 30                  # seconds (or a duration: 30s, 2m)
 *   zipfile_max_uncompressed_size: 20971520
 *   max_content_length: 2097152
 *   log_level: info
 *   greenwave:                           # optional: the Greenwave gate of Koji pushes
 *     {url: https://greenwave.example.com/, context: osbs_push, product_version: cvp}
 *
 * Unknown keys anywhere are errors (named with their path). The original's `debug`,
 * `log_format` and `secret_key` are accepted and ignored (they mean nothing here); `greenwave`
 * is checked by greenwave.c. Every organization's rules are checked as at a push
 * (omps_org_settings_check: regular expressions compile, templates and annotation values
 * format). Environment variables of the same names (upper case) win over the file. */
#ifndef OMPS_CONF_FILE_H
#define OMPS_CONF_FILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "omps/greenwave.h"
#include "omps/manifests.h"
#include "shared/config.h"

/** One configured organization. */
typedef struct {
    char *name;
    bool public_;                /* `public` */
    char *oauth_token;           /* `oauth_token` inline, or NULL */
    qs_secret *oauth_token_file; /* `oauth_token_file` (re-read when it changes), or NULL */
    omps_replace_rule *rules;    /* `replace_registry`, strings owned */
    size_t n_rules;
    char *suffix; /* `package_name_suffix`, NULL when unset */
    omps_csv_annotation *annotations;
    size_t n_annotations;
    omps_org_settings view; /* the above as manifests.h wants them */
} omps_org;

typedef struct {
    omps_org *orgs;
    size_t n_orgs;
    json_t *values; /* the file's other keys (default_release_version, ...), checked types */
    omps_greenwave_conf greenwave; /* `greenwave`; all NULL = the gate is off */
} omps_conf_file;

/** The settings an organization without configuration gets (public false, no rules). */
extern const omps_org omps_org_default;

/** Check a parsed configuration and take what it holds into *out (zeroed first). Every
 *  problem is recorded in errs as "<where>: <path>: <what>". Returns the number of problems;
 *  *out holds only what was valid (free it in any case). `root` NULL or JSON null = empty. */
size_t omps_conf_file_parse(const json_t *root, const char *where, omps_conf_file *out,
                            qs_conf *errs);
/** Read the YAML file at `path` and parse it as above. */
size_t omps_conf_file_load(const char *path, omps_conf_file *out, qs_conf *errs);
void omps_conf_file_free(omps_conf_file *f);

/** The organization named exactly `name`, or &omps_org_default. */
const omps_org *omps_conf_file_org(const omps_conf_file *f, const char *name);
/** A scalar value of the file by its lower-case key, or NULL. */
const json_t *omps_conf_file_value(const omps_conf_file *f, const char *key);

/** The organization's OAuth token (inline or read from its file) as a malloc'd string, to be
 *  released with qs_secret_release. 0; QS_ENOTFOUND when none is configured or the file
 *  cannot be read. */
int omps_org_oauth_token(const omps_org *o, char **out);
/** Does the organization publish new repositories (public and a token configured)? */
bool omps_org_publishes(const omps_org *o);

#endif
