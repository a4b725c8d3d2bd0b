/* orgs.h — the organisations to mirror: ORGANIZATIONS or the ORG_MIRROR_CONFIG YAML with
 * per-organisation overrides, and the Secret directories that hold one file per organisation
 * (source token, destination token, robot name). */
#ifndef ORGM_ORGS_H
#define ORGM_ORGS_H

#include <stdbool.h>
#include <stddef.h>

#include "org-mirror/tagglob.h"
#include "shared/config.h"

#define ORGM_NAME_MAX 255 /* Quay namespace names: 2..255 characters */

typedef enum {
    ORGM_VIS_PRIVATE = 0, /* the seed's choice: mirrors are created private */
    ORGM_VIS_PUBLIC
} orgm_visibility;

/** The defaults every organisation starts from (the global settings). */
typedef struct {
    const orgm_globs *globs; /* TAG_GLOB */
    long interval;           /* SYNC_INTERVAL */
} orgm_org_defaults;

typedef struct {
    char *name;                   /* source organisation */
    char *destination;            /* destination organisation (default: the same name) */
    char *robot;                  /* robot from the config (short or org+short), NULL = the file */
    orgm_globs globs;             /* tag globs */
    long interval;                /* seconds: mirror sync_interval and how often it is run */
    orgm_visibility visibility;   /* of repositories it creates */
    bool visibility_set;          /* set explicitly: existing repositories are corrected too */
    char *source_token_file;      /* SOURCE_TOKENS_DIR/<name> or NULL */
    char *destination_token_file; /* DESTINATION_TOKENS_DIR/<name> or NULL */
    char *robot_file;             /* ROBOT_NAMES_DIR/<name> or NULL */
} orgm_org;

typedef struct {
    orgm_org *v;
    size_t n;
} orgm_orgs;

/** Is `s` a valid Quay namespace name (`^[a-z0-9]+([._-][a-z0-9]+)*$`, 2..255)? */
bool orgm_name_valid(const char *s);

/** The organisations from ORGANIZATIONS (`list`, a comma list) or the YAML file at
 *  `yaml_path` (exactly one of them must be given). Every problem is recorded in `c`
 *  (unknown keys, bad names, duplicates, bad globs/interval/visibility). Returns the number
 *  of problems recorded; `out` holds what could be read (orgm_orgs_free it either way). */
size_t orgm_orgs_load(qs_conf *c, const char *list, const char *yaml_path,
                      const orgm_org_defaults *d, orgm_orgs *out);
/** The same from YAML text (tests; `where` names it in messages). */
size_t orgm_orgs_load_yaml_text(qs_conf *c, const char *text, const char *where,
                                const orgm_org_defaults *d, orgm_orgs *out);

/** Which Secret files are needed. */
typedef struct {
    const char *source_tokens_dir;      /* NULL: not configured */
    const char *destination_tokens_dir; /* NULL: not configured */
    const char *robot_names_dir;        /* NULL: not configured */
    bool need_source_token;             /* the source is read through Quay's API */
    bool need_destination;              /* mirror mode: destination token and robot */
} orgm_secret_dirs;

/** Set each organisation's token and robot file paths from the directories and record in `c`
 *  every file that is needed and missing or empty, and every robot name that is invalid
 *  (read now; the files are read again at each run). Returns the number of problems. */
size_t orgm_orgs_attach_secrets(qs_conf *c, orgm_orgs *orgs, const orgm_secret_dirs *dirs);

/** The robot's full name for destination organisation `dst_org` from `text` (the config's
 *  value or the file's): "org+short" (org must be dst_org) or "short". Pure. 0, or QS_EINVAL
 *  with a reason in err. */
int orgm_robot_name(const char *dst_org, const char *text, char *full, size_t fulllen, char *err,
                    size_t errlen);
/** The robot of `o`: from the config, else its ROBOT_NAMES_DIR file (read now). */
int orgm_org_robot(const orgm_org *o, char *full, size_t fulllen, char *err, size_t errlen);

/** The organisation named `name` (source name), or NULL. */
const orgm_org *orgm_orgs_find(const orgm_orgs *orgs, const char *name);
void orgm_orgs_free(orgm_orgs *orgs);

#endif
