/* names.c — sanitising workspace and component names into Quay and Kubernetes names.
 *
 * One algorithm serves every kind of name, parameterised by a rule (allowed separators,
 * length bounds): lower-case ASCII letters and digits are kept, every other byte becomes a
 * separator (itself when the rule allows it, else the rule's replacement), a run of
 * separators keeps only its first, and separators at the ends go. When that changed the
 * input at all — or the result is too short or too long — the name is cut to leave room and
 * "<sep><first 8 hex of sha256(input)>" is appended. The suffix depends on the whole
 * original input, so "My-App" and "my.app" (both changed) get different names, and neither
 * can equal an input that needed no change except by a crafted 32-bit hash match.
 *
 * Lengths are chosen so that combinations stay valid: a robot's full name
 * "<org>+<base>_push" must fit Quay's 255 (org ≤ 120, base ≤ 128), a shared-mode repository
 * "<ws>/<component>" fits 255 (segments ≤ 127), and "<base>-image-push" fits Kubernetes'
 * 253 (base ≤ 242). */
#include "appstudio-provisioner/names.h"

#include <stdio.h>
#include <string.h>

#include "shared/common.h"
#include "shared/digest.h"

const prov_name_rule PROV_RULE_ORG = {"-._", 2, 120};
const prov_name_rule PROV_RULE_REPO_SEGMENT = {"-._", 1, 127};
const prov_name_rule PROV_RULE_REPO = {"-._", 1, 255};
const prov_name_rule PROV_RULE_ROBOT = {"_-.", 2, 128};
const prov_name_rule PROV_RULE_SECRET = {"-.", 1, 242};

static bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

static bool is_sep(const prov_name_rule *rule, char c) {
    return c != '\0' && strchr(rule->separators, c) != NULL;
}

bool prov_sanitize(const char *in, const prov_name_rule *rule, char *out, size_t outlen) {
    char buf[1024];
    size_t n = 0;
    bool last_sep = true; /* drops separators at the start */
    for (const char *p = in; *p && n < sizeof buf - 1; p++) {
        char c = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
        if (is_alnum(c)) {
            buf[n++] = c;
            last_sep = false;
        } else if (!last_sep) {
            buf[n++] = is_sep(rule, c) ? c : rule->separators[0];
            last_sep = true;
        }
    }
    while (n > 0 && is_sep(rule, buf[n - 1]))
        n--;
    buf[n] = '\0';
    bool changed = strcmp(buf, in) != 0 || n < rule->min || n > rule->max;
    if (!changed) {
        snprintf(out, outlen, "%s", buf);
        return false;
    }
    char hex[QS_SHA256_HEX_LEN + 1];
    qs_sha256_hex(in, strlen(in), hex);
    hex[PROV_HASH_LEN] = '\0';
    size_t room = rule->max - 1 - PROV_HASH_LEN;
    if (n > room)
        n = room;
    while (n > 0 && is_sep(rule, buf[n - 1]))
        n--;
    buf[n] = '\0';
    if (n == 0)
        snprintf(out, outlen, "%s", hex);
    else
        snprintf(out, outlen, "%s%c%s", buf, rule->separators[0], hex);
    return true;
}

bool prov_name_valid(const char *s, const prov_name_rule *rule) {
    size_t n = strlen(s);
    if (n < rule->min || n > rule->max || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (is_alnum(s[i]))
            continue;
        if (!is_sep(rule, s[i]) || !is_alnum(s[i + 1])) /* s[n-1] is alphanumeric */
            return false;
    }
    return true;
}

bool prov_namespace_valid(const char *s) {
    size_t n = strlen(s);
    return n >= 1 && n <= 63 && is_alnum(s[0]) && is_alnum(s[n - 1]) &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

bool prov_input_valid(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '/')
            return false;
    return true;
}

void prov_robot_full(const char *org, const char *short_name, char *out, size_t outlen) {
    snprintf(out, outlen, "%s+%s", org, short_name);
}

/* The namespace: the template with every "{workspace}" replaced. */
static int render_namespace(const char *tmpl, const char *ws, char *out, size_t outlen) {
    size_t n = 0;
    for (const char *p = tmpl; *p;) {
        const char *add = p;
        size_t len = 1;
        if (strncmp(p, "{workspace}", 11) == 0) {
            add = ws;
            len = strlen(ws);
            p += 11;
        } else {
            p++;
        }
        if (n + len >= outlen)
            return QS_EINVAL;
        memcpy(out + n, add, len);
        n += len;
    }
    out[n] = '\0';
    return prov_namespace_valid(out) ? QS_OK : QS_EINVAL;
}

int prov_names_for(const prov_naming *nm, const char *workspace, const char *component,
                   prov_names *out) {
    memset(out, 0, sizeof *out);
    if (render_namespace(nm->namespace_template, workspace, out->namespace_,
                         sizeof out->namespace_) != QS_OK)
        return QS_EINVAL;
    if (nm->mode == PROV_ORG_SHARED) {
        snprintf(out->org, sizeof out->org, "%s", nm->shared_org);
    } else {
        char joined[600];
        snprintf(joined, sizeof joined, "%s%s", nm->org_prefix, workspace);
        prov_sanitize(joined, &PROV_RULE_ORG, out->org, sizeof out->org);
    }
    if (!component || !*component)
        return QS_OK;
    char base[PROV_NAME_LEN];
    if (nm->mode == PROV_ORG_SHARED) {
        char ws_seg[PROV_NAME_LEN], c_seg[PROV_NAME_LEN];
        prov_sanitize(workspace, &PROV_RULE_REPO_SEGMENT, ws_seg, sizeof ws_seg);
        prov_sanitize(component, &PROV_RULE_REPO_SEGMENT, c_seg, sizeof c_seg);
        snprintf(out->repo, sizeof out->repo, "%.127s/%.127s", ws_seg, c_seg);
        /* the '/' is not allowed in robot names: the hash keeps "a_b"+"c" and "a"+"b_c" apart */
        prov_sanitize(out->repo, &PROV_RULE_ROBOT, base, sizeof base);
    } else {
        prov_sanitize(component, &PROV_RULE_REPO, out->repo, sizeof out->repo);
        prov_sanitize(component, &PROV_RULE_ROBOT, base, sizeof base);
    }
    snprintf(out->push_robot, sizeof out->push_robot, "%.200s_push", base);
    snprintf(out->pull_robot, sizeof out->pull_robot, "%.200s_pull", base);
    char sbase[PROV_K8S_NAME_LEN];
    prov_sanitize(component, &PROV_RULE_SECRET, sbase, sizeof sbase);
    snprintf(out->push_secret, sizeof out->push_secret, "%.242s-image-push", sbase);
    snprintf(out->pull_secret, sizeof out->pull_secret, "%.242s-image-pull", sbase);
    snprintf(out->image, sizeof out->image, "%s/%s/%s", nm->registry, out->org, out->repo);
    return QS_OK;
}
