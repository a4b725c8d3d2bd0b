/* names.h — every name the provisioner derives from a workspace and a component (pure).
 *
 * Quay organizations, repositories and robots, the Kubernetes namespace and Secret names all
 * come from two user-chosen strings. Each kind of name has its own rules; prov_sanitize makes
 * any string valid for one of them and adds a short stable hash whenever it had to change
 * something, so two different inputs never end up with the same name. */
#ifndef PROV_NAMES_H
#define PROV_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define PROV_NAME_LEN 256     /* every Quay name: at most 255 characters */
#define PROV_K8S_NAME_LEN 254 /* Kubernetes names: at most 253 */
#define PROV_HASH_LEN 8       /* hex characters of the suffix */

/** The rules of one kind of name. */
typedef struct {
    const char *separators; /* characters allowed between alphanumerics; the first one
                               replaces every invalid character */
    size_t min;             /* shortest valid name */
    size_t max;             /* longest valid name */
} prov_name_rule;

/** Quay organizations (and user names): ^([a-z0-9]+(?:[._-][a-z0-9]+)*)$, 2–200 (robots'
 *  full names "<org>+<robot>" must also fit Quay's 255). */
extern const prov_name_rule PROV_RULE_ORG;
/** One segment of a Quay repository name: [a-z0-9][.a-z0-9_-]*, here with single
 *  separators between alphanumerics; 1–127 so that "<ws>/<component>" fits 255. */
extern const prov_name_rule PROV_RULE_REPO_SEGMENT;
/** A whole repository name of one segment (per-workspace mode): 1–255. */
extern const prov_name_rule PROV_RULE_REPO;
/** The base of robot short names: only '_' as separator (Quay's UI rule), 2–180 before
 *  "_push"/"_pull". */
extern const prov_name_rule PROV_RULE_ROBOT;
/** The base of Secret names (RFC 1123 subdomain; '-' and '.'), 1–242 before "-image-push". */
extern const prov_name_rule PROV_RULE_SECRET;

/** Make `in` valid under `rule` into `out` (outlen > rule->max): lower-cased, every invalid
 *  character replaced by the rule's first separator, runs of separators collapsed into their
 *  first, separators at either end dropped, cut to fit; if the result differs from `in` (or
 *  is too short) "<sep><8 hex of sha256(in)>" is appended within rule->max. Returns true when
 *  the name was changed. Deterministic and pure. */
bool prov_sanitize(const char *in, const prov_name_rule *rule, char *out, size_t outlen);

/** Does `s` satisfy `rule` exactly (what prov_sanitize produces)? */
bool prov_name_valid(const char *s, const prov_name_rule *rule);

/** Is `s` a valid Kubernetes namespace name (RFC 1123 label, ≤ 63)? */
bool prov_namespace_valid(const char *s);

typedef enum { PROV_ORG_PER_WORKSPACE = 0, PROV_ORG_SHARED } prov_org_mode;

/** What the names depend on (from the settings). */
typedef struct {
    prov_org_mode mode;
    const char *org_prefix;         /* per-workspace: org = sanitize(prefix + workspace) */
    const char *shared_org;         /* shared: the one organization */
    const char *namespace_template; /* "{workspace}" replaced by the workspace */
    const char *registry;           /* host[:port] of image references */
} prov_naming;

/** Every name of one component (or of a workspace alone: component "" leaves the
 *  component names empty). */
typedef struct {
    char org[PROV_NAME_LEN];
    char repo[PROV_NAME_LEN];       /* "<component>" or "<ws>/<component>" (shared) */
    char push_robot[PROV_NAME_LEN]; /* short names, without "<org>+" */
    char pull_robot[PROV_NAME_LEN];
    char push_secret[PROV_K8S_NAME_LEN];
    char pull_secret[PROV_K8S_NAME_LEN];
    char namespace_[PROV_K8S_NAME_LEN];
    char image[2 * PROV_NAME_LEN + 64]; /* "<registry>/<org>/<repo>" */
} prov_names;

/** Derive the names. 0; QS_EINVAL when the namespace template does not give a valid
 *  namespace for this workspace (the caller's error: a 400). */
int prov_names_for(const prov_naming *n, const char *workspace, const char *component,
                   prov_names *out);

/** "<org>+<short>": a robot's full user name. */
void prov_robot_full(const char *org, const char *short_name, char *out, size_t outlen);

/** Is `s` acceptable as a workspace or component in the API (1–253 printable ASCII
 *  characters, no '/')? Anything acceptable can be sanitised. */
bool prov_input_valid(const char *s);

#endif
