/* authfile.c — credentials per registry from a docker/podman auth file.
 *
 * The file is a qs_secret (config.h): read again whenever it changes, so a rotated pull
 * Secret needs no restart. A lookup normalises every key of "auths" (scheme, trailing slash,
 * docker.io's historic names) and picks the longest key that is a prefix of the requested
 * "host/repo" at a path boundary — "quay.io/openshift" wins over "quay.io" for
 * "quay.io/openshift/ci", and "quay.io/open" matches nothing. An entry carries either "auth"
 * (base64 of user:password, split at the first colon) or "username"/"password". Errors never
 * quote a credential. */
#include "shared/authfile.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shared/base64.h"
#include "shared/common.h"
#include "shared/config.h"

struct qs_authfile {
    qs_secret *file;
};

qs_authfile *qs_authfile_new(const char *path) {
    qs_authfile *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->file = qs_secret_new(path);
    if (!a->file) {
        free(a);
        return NULL;
    }
    return a;
}

void qs_authfile_free(qs_authfile *a) {
    if (!a)
        return;
    qs_secret_free(a->file);
    free(a);
}

void qs_authfile_normalize_key(const char *key, char *out, size_t outlen) {
    static const char *const schemes[] = {"https://", "http://"};
    for (size_t i = 0; i < QS_ARRAY_LEN(schemes); i++)
        if (strncasecmp(key, schemes[i], strlen(schemes[i])) == 0)
            key += strlen(schemes[i]);
    snprintf(out, outlen, "%s", key);
    size_t n = strlen(out);
    if (n >= 3 && strcmp(out + n - 3, "/v1") == 0)
        out[n -= 3] = '\0';
    else if (n >= 4 && strcmp(out + n - 4, "/v1/") == 0)
        out[n -= 4] = '\0';
    while (n && out[n - 1] == '/')
        out[--n] = '\0';
    static const char *const docker_hosts[] = {"index.docker.io", "registry-1.docker.io"};
    for (size_t i = 0; i < QS_ARRAY_LEN(docker_hosts); i++) {
        size_t hl = strlen(docker_hosts[i]);
        if (strncmp(out, docker_hosts[i], hl) == 0 && (out[hl] == '\0' || out[hl] == '/')) {
            char rest[512];
            snprintf(rest, sizeof rest, "%s", out + hl);
            snprintf(out, outlen, "docker.io%s", rest);
            break;
        }
    }
}

/* Does normalised key `k` cover `ref` (a prefix ending at a path boundary)? */
static size_t key_match(const char *k, const char *ref) {
    size_t n = strlen(k);
    if (n == 0 || strncmp(k, ref, n) != 0 || (ref[n] != '\0' && ref[n] != '/'))
        return 0;
    return n;
}

static int entry_creds(const json_t *e, const char *key, char **user, char **pass, char *err,
                       size_t errlen) {
    const char *auth = json_string_value(json_object_get(e, "auth"));
    if (auth && *auth) {
        size_t len = 0;
        unsigned char *dec = qs_base64_decode(auth, strlen(auth), &len);
        char *colon = dec ? memchr(dec, ':', len) : NULL;
        if (!colon) {
            snprintf(err, errlen, "auth file entry %s: \"auth\" is not base64 of user:password",
                     key);
            qs_secret_release((char *)dec);
            return QS_EINVAL;
        }
        *user = strndup((char *)dec, (size_t)(colon - (char *)dec));
        *pass = strndup(colon + 1, len - (size_t)(colon - (char *)dec) - 1);
        qs_secret_release((char *)dec);
    } else {
        const char *u = json_string_value(json_object_get(e, "username"));
        const char *p = json_string_value(json_object_get(e, "password"));
        if (!u || !p) {
            snprintf(err, errlen, "auth file entry %s has neither \"auth\" nor username/password",
                     key);
            return QS_EINVAL;
        }
        *user = strdup(u);
        *pass = strdup(p);
    }
    if (!*user || !*pass) {
        qs_secret_release(*user);
        qs_secret_release(*pass);
        *user = *pass = NULL;
        return QS_ENOMEM;
    }
    return QS_OK;
}

int qs_authfile_lookup(qs_authfile *a, const char *host_and_repo, char **user, char **pass,
                       char *err, size_t errlen) {
    *user = *pass = NULL;
    if (err && errlen)
        err[0] = '\0';
    char *text = NULL;
    if (qs_secret_get(a->file, &text) != QS_OK)
        return QS_ENOTFOUND;
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    qs_secret_release(text);
    json_t *auths = json_object_get(root, "auths");
    if (!root || (auths && !json_is_object(auths))) {
        snprintf(err, errlen, "auth file %s is not a docker config.json", qs_secret_path(a->file));
        json_decref(root);
        return QS_EINVAL;
    }
    char ref[512];
    qs_authfile_normalize_key(host_and_repo, ref, sizeof ref);
    const char *key, *best_key = NULL;
    json_t *e, *best = NULL;
    size_t best_len = 0;
    json_object_foreach(auths, key, e) {
        char nk[512];
        qs_authfile_normalize_key(key, nk, sizeof nk);
        size_t m = key_match(nk, ref);
        if (m > best_len) {
            best_len = m;
            best = e;
            best_key = key;
        }
    }
    int rc = best ? entry_creds(best, best_key, user, pass, err, errlen) : QS_ENOTFOUND;
    json_decref(root);
    return rc;
}
