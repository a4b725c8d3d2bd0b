/* appr.c — the Quay emulator's App Registry (CNR) API and repository visibility.
 *
 * What OMPS and operator-courier call on quay.io, in memory: GET /cnr/version, the CNR
 * login, the package listing of a namespace (visible packages with at least one release,
 * at most 50 as Quay's APP_REGISTRY_RESULTS_LIMIT), the releases of a package, push
 * ({"blob","release","media_type"}), delete of one release/media type, and the REST v1
 * changevisibility of a package (rest.c routes POST .../changevisibility here when the caller
 * is not one of its API tokens). Statuses and bodies follow the
 * reference notes (omps.md §C, quay.md §B.8/§B.13): CNR errors are
 * {"error":{"code","message","details"}}, REST v1 errors the RFC 7807-like ApiException body.
 *
 * State is one JSON object behind a mutex: "ns/pkg" → {"visibility","created_at",
 * "updated_at","releases":{"<release>":{"<media_type>":{"blob" (the pushed base64 text),
 * "digest","size","created_at"}}}}. A push checks the release is a semantic version and the
 * blob is base64 of a gzip stream whose content starts with a valid tar header; the content
 * digest is the sha256 of the gunzipped tar, as appr computes it.
 *
 * Callers: the Authorization header is taken verbatim. It matches a token registered through
 * POST /_emulator/appr/tokens (or the fixture's "appr_tokens") either whole or after a
 * "Bearer " prefix (the OAuth token of changevisibility); otherwise it is checked as
 * "basic base64(user:password)" against the accounts (accounts.c), whose grants apply. The
 * actions are pull, push, create (a new package) and admin (visibility); "*" grants all,
 * push and admin imply pull. An unknown token is anonymous, so CNR calls get 403 forbidden.
 * Tests read a pushed blob back through GET /_emulator/appr/<ns>/<repo>/<release>/blob. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#include "emu.h"
#include "quay_emu.h"
#include "shared/base64.h"
#include "shared/common.h"
#include "shared/digest.h"
#include "shared/log.h"

#define APPR_RESULTS_LIMIT 50
#define APPR_MAX_BODY (64u << 20)
#define APPR_MAX_TAR (256u << 20)

static pthread_mutex_t appr_mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *repos;  /* "ns/pkg" -> repository (see above) */
static json_t *tokens; /* token -> grants */

/* ---- answers ---- */

static void appr_error(qs_req *r, int status, const char *code, const char *message,
                       json_t *details) {
    qs_respond_json(r, status,
                    json_pack("{s:{s:s, s:s, s:o}}", "error", "code", code, "message", message,
                              "details", details ? details : json_object()));
}

static void forbidden(qs_req *r, const char *pkg, const char *scope1, const char *scope2) {
    char msg[600];
    snprintf(msg, sizeof msg, "Unauthorized access for: %s", pkg);
    json_t *scopes = json_array();
    json_array_append_new(scopes, json_string(scope1));
    if (scope2)
        json_array_append_new(scopes, json_string(scope2));
    appr_error(r, 403, "forbidden", msg, json_pack("{s:s, s:o}", "package", pkg, "scopes", scopes));
}

static void not_found(qs_req *r, const char *pkg, const char *release, const char *mt) {
    char msg[800];
    snprintf(msg, sizeof msg, "package %s doesn't exist, v: %s, type: %s", pkg,
             release ? release : "None", mt ? mt : "None");
    appr_error(
        r, 404, "package-not-found", msg,
        json_pack("{s:s, s:s?, s:s?}", "package", pkg, "release", release, "media_type", mt));
}

static void iso_now(char *out, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
}

/* ---- semantic versions (semver 2.0, as python semantic_version.Version) ---- */

static bool numeric_ok(const char *s, size_t n) {
    if (n == 0 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* Dot-separated identifiers of [0-9A-Za-z-]; numeric ones without leading zeros if `strict`. */
static bool idents_ok(const char *s, size_t n, bool strict) {
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            if (!isalnum((unsigned char)s[i]) && s[i] != '-')
                return false;
            continue;
        }
        size_t len = i - start;
        if (len == 0)
            return false;
        bool digits = strspn(s + start, "0123456789") >= len;
        if (strict && digits && !numeric_ok(s + start, len))
            return false;
        start = i + 1;
    }
    return true;
}

static bool semver_ok(const char *v) {
    const char *p = v;
    for (int part = 0; part < 3; part++) {
        size_t n = strspn(p, "0123456789");
        if (!numeric_ok(p, n))
            return false;
        p += n;
        if (part < 2) {
            if (*p != '.')
                return false;
            p++;
        }
    }
    if (*p == '-') {
        size_t n = strcspn(p + 1, "+");
        if (!idents_ok(p + 1, n, true))
            return false;
        p += 1 + n;
    }
    if (*p == '+') {
        if (!idents_ok(p + 1, strlen(p + 1), false))
            return false;
        p += strlen(p);
    }
    return *p == '\0';
}

/* Compare two valid versions by semver precedence (build metadata ignored). */
static int semver_cmp(const char *a, const char *b) {
    for (int part = 0; part < 3; part++) {
        char *ea, *eb;
        unsigned long long x = strtoull(a, &ea, 10), y = strtoull(b, &eb, 10);
        if (x != y)
            return x < y ? -1 : 1;
        a = ea + (*ea == '.');
        b = eb + (*eb == '.');
    }
    bool pa = *a == '-', pb = *b == '-';
    if (!pa || !pb)
        return pa == pb ? 0 : (pa ? -1 : 1);
    a++, b++;
    for (;;) {
        size_t na = strcspn(a, ".+"), nb = strcspn(b, ".+");
        bool da = strspn(a, "0123456789") >= na, db = strspn(b, "0123456789") >= nb;
        int c;
        if (da && db)
            c = na != nb ? (na < nb ? -1 : 1) : strncmp(a, b, na);
        else if (da != db)
            c = da ? -1 : 1;
        else {
            c = strncmp(a, b, na < nb ? na : nb);
            if (c == 0 && na != nb)
                c = na < nb ? -1 : 1;
        }
        if (c != 0)
            return c < 0 ? -1 : 1;
        bool ma = a[na] == '.', mb = b[nb] == '.';
        if (!ma || !mb)
            return ma == mb ? 0 : (ma ? 1 : -1);
        a += na + 1;
        b += nb + 1;
    }
}

static int release_cmp_desc(const void *x, const void *y) {
    return semver_cmp(json_string_value(*(json_t *const *)y),
                      json_string_value(*(json_t *const *)x));
}

/* The release names of a repository, highest first (a new array). */
static json_t *sorted_releases(const json_t *repo) {
    json_t *rels = json_object_get(repo, "releases");
    size_t n = json_object_size(rels), i = 0;
    json_t **v = calloc(n ? n : 1, sizeof *v);
    const char *k;
    json_t *val;
    json_object_foreach(rels, k, val) v[i++] = json_string(k);
    qsort(v, n, sizeof *v, release_cmp_desc);
    json_t *out = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(out, v[i]);
    free(v);
    return out;
}

/* ---- blob check ---- */

/* Is `p` (n bytes) a gzip stream whose content is a tar (a valid first header, or an empty
 * archive)? On success *digest gets the sha256 hex of the gunzipped bytes. */
static bool targz_ok(const unsigned char *p, size_t n, char digest[QS_SHA256_HEX_LEN + 1]) {
    if (n < 2 || p[0] != 0x1f || p[1] != 0x8b || n > UINT32_MAX)
        return false;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return false;
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)n;
    enum { CHUNK = 65536 };
    unsigned char *out = malloc(CHUNK), head[512];
    if (!out) {
        inflateEnd(&z);
        return false;
    }
    qs_sha256 *h = qs_sha256_new();
    size_t total = 0;
    int zrc;
    do {
        z.next_out = out;
        z.avail_out = CHUNK;
        zrc = inflate(&z, Z_NO_FLUSH);
        if (zrc != Z_OK && zrc != Z_STREAM_END)
            break;
        size_t got = CHUNK - z.avail_out;
        if (total < sizeof head)
            memcpy(head + total, out, got < sizeof head - total ? got : sizeof head - total);
        total += got;
        qs_sha256_update(h, out, got);
        if (zrc == Z_OK && got == 0 && z.avail_in == 0)
            break; /* truncated */
    } while (zrc != Z_STREAM_END && total <= APPR_MAX_TAR);
    inflateEnd(&z);
    free(out);
    char full[QS_DIGEST_STR_LEN + 1];
    qs_sha256_final(h, full);
    if (zrc != Z_STREAM_END || total < sizeof head)
        return false;
    strcpy(digest, full + 7);
    bool zero = true;
    unsigned long sum = 0;
    for (size_t i = 0; i < sizeof head; i++) {
        zero = zero && head[i] == 0;
        sum += (i >= 148 && i < 156) ? ' ' : head[i];
    }
    if (zero)
        return true;
    char field[9];
    memcpy(field, head + 148, 8);
    field[8] = '\0';
    char *end;
    unsigned long want = strtoul(field, &end, 8);
    return end != field && want == sum;
}

/* ---- callers ---- */

/* The grants of the caller (a new reference; an empty array when anonymous). *known says
 * whether the credentials were recognised. */
static json_t *caller_grants(qs_req *r, bool *known) {
    const char *auth = qs_req_header(r, "Authorization");
    *known = false;
    if (!auth || !*auth)
        return json_array();
    const char *bare = strncasecmp(auth, "Bearer ", 7) == 0 ? auth + 7 : NULL;
    pthread_mutex_lock(&appr_mu);
    json_t *g = json_object_get(tokens, auth);
    if (!g && bare)
        g = json_object_get(tokens, bare);
    g = g ? json_deep_copy(g) : NULL;
    pthread_mutex_unlock(&appr_mu);
    if (g) {
        *known = true;
        return g;
    }
    quay_identity id;
    char msg[256];
    if (quay_accounts_authenticate(auth, &id, msg, sizeof msg) == QUAY_AUTH_OK) {
        *known = true;
        g = json_incref(id.grants);
    }
    quay_identity_free(&id);
    return g ? g : json_array();
}

static bool may(const json_t *grants, const char *pkg, const char *action) {
    if (quay_grants_allow(grants, pkg, action) || quay_grants_allow(grants, pkg, "admin"))
        return true;
    if (strcmp(action, "pull") == 0)
        return quay_grants_allow(grants, pkg, "push");
    return false;
}

/* ---- CNR handlers ---- */

static void h_version(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    qs_respond_json(r, 200, json_pack("{s:s}", "cnr-api", "0.0.1-quay-emulator"));
}

static void h_login(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    size_t len;
    const char *body = qs_req_body(r, &len);
    json_t *j = json_loadb(body, len, 0, NULL);
    json_t *user = json_object_get(j, "user");
    const char *u = emu_json_str(user, "username"), *p = emu_json_str(user, "password");
    if (!u || !p || !*u || !*p) {
        json_decref(j);
        appr_error(r, 400, "invalid-usage", "Missing username or password", NULL);
        return;
    }
    size_t n = strlen(u) + strlen(p) + 2;
    char *pair = malloc(n);
    snprintf(pair, n, "%s:%s", u, p);
    char *b64 = qs_base64_encode(pair, strlen(pair));
    memset(pair, 0, n);
    free(pair);
    size_t tn = strlen(b64) + 8;
    char *token = malloc(tn);
    snprintf(token, tn, "basic %s", b64);
    free(b64);
    quay_identity id;
    char msg[256] = "";
    quay_auth_result ar = quay_accounts_authenticate(token, &id, msg, sizeof msg);
    quay_identity_free(&id);
    if (ar != QUAY_AUTH_OK)
        appr_error(r, 401, "unauthorized-access", msg, json_pack("{s:s}", "username", u));
    else
        qs_respond_json(r, 200, json_pack("{s:s}", "token", token));
    memset(token, 0, strlen(token));
    free(token);
    json_decref(j);
}

static json_t *package_summary(const char *name, const json_t *repo, const char *mt_filter) {
    json_t *rels = sorted_releases(repo), *mts = json_array();
    const char *rk, *mk;
    json_t *rv, *mv;
    json_object_foreach(json_object_get(repo, "releases"), rk, rv) {
        json_object_foreach(rv, mk, mv) {
            bool seen = false;
            size_t i;
            json_t *s;
            json_array_foreach(mts, i, s) seen = seen || strcmp(json_string_value(s), mk) == 0;
            if (!seen)
                json_array_append_new(mts, json_string(mk));
        }
    }
    bool has_mt = !mt_filter;
    size_t i;
    json_t *s;
    json_array_foreach(mts, i, s) has_mt = has_mt || strcmp(json_string_value(s), mt_filter) == 0;
    if (json_array_size(rels) == 0 || !has_mt) {
        json_decref(rels);
        json_decref(mts);
        return NULL;
    }
    const char *slash = strchr(name, '/');
    json_t *ns = json_stringn(name, (size_t)(slash - name));
    return json_pack("{s:s, s:o, s:O, s:O, s:o, s:n, s:o, s:O, s:O}", "name", name, "namespace", ns,
                     "visibility", json_object_get(repo, "visibility"), "default",
                     json_array_get(rels, 0), "manifests", mts, "channels", "releases", rels,
                     "updated_at", json_object_get(repo, "updated_at"), "created_at",
                     json_object_get(repo, "created_at"));
}

static int summary_cmp(const void *x, const void *y) {
    return strcmp(json_string_value(json_object_get(*(json_t *const *)x, "name")),
                  json_string_value(json_object_get(*(json_t *const *)y, "name")));
}

static void h_list(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    const char *ns = qs_req_query(r, "namespace"), *mt = qs_req_query(r, "media_type");
    if (ns && !*ns)
        ns = NULL;
    if (mt && !*mt)
        mt = NULL;
    bool known;
    json_t *grants = caller_grants(r, &known);
    json_t *all = json_array();
    pthread_mutex_lock(&appr_mu);
    const char *name;
    json_t *repo;
    json_object_foreach(repos, name, repo) {
        size_t nl = ns ? strlen(ns) : 0;
        if (ns && (strncmp(name, ns, nl) != 0 || name[nl] != '/'))
            continue;
        bool pub = strcmp(emu_json_str(repo, "visibility"), "public") == 0;
        if (!pub && !may(grants, name, "pull"))
            continue;
        json_t *s = package_summary(name, repo, mt);
        if (s)
            json_array_append_new(all, s);
    }
    pthread_mutex_unlock(&appr_mu);
    json_decref(grants);
    size_t n = json_array_size(all);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(all, i));
    qsort(v, n, sizeof *v, summary_cmp);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        if (i < APPR_RESULTS_LIMIT)
            json_array_append(out, v[i]);
        json_decref(v[i]);
    }
    free(v);
    json_decref(all);
    qs_respond_json(r, 200, out);
}

static void pkg_name(qs_req *r, char *out, size_t n) {
    snprintf(out, n, "%s/%s", qs_req_param(r, "ns"), qs_req_param(r, "pkg"));
}

static json_t *release_object(const char *pkg, const char *rel, const char *mt, const json_t *m) {
    char mtype[200], ctype[200];
    snprintf(mtype, sizeof mtype, "application/vnd.cnr.package-manifest.%s.v0.json", mt);
    snprintf(ctype, sizeof ctype, "application/vnd.cnr.package.%s.v0.tar+gzip", mt);
    return json_pack("{s:s, s:s, s:O, s:O, s:s, s:n, s:{s:O, s:s, s:O, s:[]}}", "package", pkg,
                     "release", rel, "created_at", json_object_get(m, "created_at"), "digest",
                     json_object_get(m, "manifest_digest"), "mediaType", mtype, "metadata",
                     "content", "digest", json_object_get(m, "digest"), "mediaType", ctype, "size",
                     json_object_get(m, "size"), "urls");
}

static void h_show(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    char pkg[512];
    pkg_name(r, pkg, sizeof pkg);
    const char *mt = qs_req_query(r, "media_type");
    if (mt && !*mt)
        mt = NULL;
    bool known;
    json_t *grants = caller_grants(r, &known);
    pthread_mutex_lock(&appr_mu);
    json_t *repo = json_object_get(repos, pkg);
    bool pub = repo && strcmp(emu_json_str(repo, "visibility"), "public") == 0;
    bool allowed = pub || may(grants, pkg, "pull");
    json_t *out = NULL;
    if (allowed && repo) {
        out = json_array();
        json_t *rels = sorted_releases(repo);
        size_t i;
        json_t *rn;
        json_array_foreach(rels, i, rn) {
            const char *rel = json_string_value(rn), *mk;
            json_t *mv;
            json_object_foreach(json_object_get(json_object_get(repo, "releases"), rel), mk, mv) {
                if (!mt || strcmp(mt, mk) == 0)
                    json_array_append_new(out, release_object(pkg, rel, mk, mv));
            }
        }
        json_decref(rels);
    }
    pthread_mutex_unlock(&appr_mu);
    json_decref(grants);
    if (!allowed)
        forbidden(r, pkg, "pull", NULL);
    else if (!out)
        not_found(r, pkg, NULL, NULL);
    else
        qs_respond_json(r, 200, out);
}

static bool repo_name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 255 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && !strchr("._-", s[i]))
            return false;
    return true;
}

/* Check a push body; NULL when fine, else sets *status and *code and returns the message. */
static const char *push_check(json_t *j, int *status, const char **code, const char **rel,
                              const char **mt, const char **blob) {
    *status = 400;
    *code = "invalid-usage";
    if (!json_is_object(j))
        return "Invalid JSON body";
    if (!(*rel = emu_json_str(j, "release")))
        return "Missing release";
    if (!(*mt = emu_json_str(j, "media_type")))
        return "Missing media_type";
    if (!(*blob = emu_json_str(j, "blob")))
        return "Missing blob";
    return NULL;
}

static void h_push(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    char pkg[512];
    pkg_name(r, pkg, sizeof pkg);
    if (!repo_name_ok(qs_req_param(r, "pkg"))) {
        char msg[600];
        snprintf(msg, sizeof msg, "invalid repository name: %s", pkg);
        appr_error(r, 400, "invalid-usage", msg, NULL);
        return;
    }
    size_t len;
    const char *body = qs_req_body(r, &len);
    json_t *j = json_loadb(body, len, 0, NULL);
    bool known;
    json_t *grants = caller_grants(r, &known);
    const char *vis = emu_json_str(j, "visibility");
    char now[40];
    iso_now(now, sizeof now);

    pthread_mutex_lock(&appr_mu);
    bool exists = json_object_get(repos, pkg) != NULL;
    bool can_create = exists || may(grants, pkg, "create");
    if (!exists && can_create)
        json_object_set_new(repos, pkg,
                            json_pack("{s:s, s:s, s:s, s:{}}", "visibility",
                                      vis && strcmp(vis, "public") == 0 ? "public" : "private",
                                      "created_at", now, "updated_at", now, "releases"));
    pthread_mutex_unlock(&appr_mu);
    bool can_push = may(grants, pkg, "push");
    json_decref(grants);
    if (!can_create || !can_push) {
        json_decref(j);
        forbidden(r, pkg, can_create ? "push" : "create", NULL);
        return;
    }
    int status;
    const char *code, *rel = NULL, *mt = NULL, *blob = NULL;
    const char *why = push_check(j, &status, &code, &rel, &mt, &blob);
    if (why) {
        appr_error(r, status, code, why, NULL);
        json_decref(j);
        return;
    }
    if (!semver_ok(rel)) {
        char msg[300];
        snprintf(msg, sizeof msg, "Invalid version string: '%.200s'", rel);
        appr_error(r, 422, "invalid-release", msg, json_pack("{s:s}", "version", rel));
        json_decref(j);
        return;
    }
    size_t n = 0;
    unsigned char *raw = qs_base64_decode(blob, strlen(blob), &n);
    char digest[QS_SHA256_HEX_LEN + 1];
    bool ok = raw && targz_ok(raw, n, digest);
    free(raw);
    if (!ok) {
        appr_error(r, 400, "invalid-usage", "blob is not a base64-encoded tar.gz archive", NULL);
        json_decref(j);
        return;
    }
    bool force = qs_req_query(r, "force") && strcmp(qs_req_query(r, "force"), "true") == 0;
    char seed[700], mdig[QS_DIGEST_STR_LEN + 1];
    snprintf(seed, sizeof seed, "%s:%s:%s:%s", pkg, rel, mt, digest);
    qs_sha256_digest(seed, strlen(seed), mdig);

    pthread_mutex_lock(&appr_mu);
    json_t *repo = json_object_get(repos, pkg), *rels = json_object_get(repo, "releases");
    json_t *rv = json_object_get(rels, rel);
    bool dup = rv && json_object_get(rv, mt) && !force;
    if (!dup) {
        if (!rv)
            json_object_set_new(rels, rel, rv = json_object());
        json_object_set_new(rv, mt,
                            json_pack("{s:s, s:s, s:s, s:I, s:s}", "blob", blob, "digest", digest,
                                      "manifest_digest", mdig, "size", (json_int_t)n, "created_at",
                                      now));
        json_object_set_new(repo, "updated_at", json_string(now));
    }
    pthread_mutex_unlock(&appr_mu);
    if (dup)
        appr_error(r, 409, "package-exists", "package exists already", NULL);
    else {
        qs_log(QS_LOG_INFO, "appr release pushed", "package", pkg, "release", rel, NULL);
        qs_respond_json(r, 200, json_pack("{s:s}", "status", "ok"));
    }
    json_decref(j);
}

static void h_delete(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    char pkg[512];
    pkg_name(r, pkg, sizeof pkg);
    const char *rel = qs_req_param(r, "release"), *mt = qs_req_param(r, "mt");
    bool known;
    json_t *grants = caller_grants(r, &known);
    bool allowed = may(grants, pkg, "push");
    json_decref(grants);
    if (!allowed) {
        forbidden(r, pkg, "pull", "push");
        return;
    }
    pthread_mutex_lock(&appr_mu);
    json_t *rels = json_object_get(json_object_get(repos, pkg), "releases");
    json_t *rv = json_object_get(rels, rel);
    bool found = rv && json_object_get(rv, mt);
    if (found) {
        json_object_del(rv, mt);
        if (json_object_size(rv) == 0)
            json_object_del(rels, rel);
    }
    pthread_mutex_unlock(&appr_mu);
    if (!found)
        not_found(r, pkg, rel, mt);
    else
        qs_respond_json(
            r, 200,
            json_pack("{s:s, s:s, s:s}", "status", "deleted", "package", pkg, "release", rel));
}

/* ---- REST v1 changevisibility (routed by rest.c) ---- */

/* Quay's REST v1 ApiException body (quay.md §B.13). */
static json_t *api_error_body(qs_req *r, int status, const char *type, const char *detail) {
    const char *host = qs_req_header(r, "Host");
    char url[300];
    snprintf(url, sizeof url, "http://%s/api/v1/error/%s", host ? host : "localhost", type);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "detail", detail, "error_message", detail,
                     "error_type", type, "title", type, "type", url, "status", status);
}

bool quay_appr_set_visibility(const char *target, const char *visibility) {
    pthread_mutex_lock(&appr_mu);
    json_t *repo = repos ? json_object_get(repos, target) : NULL;
    if (repo)
        json_object_set_new(repo, "visibility", json_string(visibility));
    pthread_mutex_unlock(&appr_mu);
    return repo != NULL;
}

int quay_appr_visibility(qs_req *r, const char *target, const json_t *body, json_t **answer) {
    bool known;
    json_t *grants = caller_grants(r, &known);
    bool admin = quay_grants_allow(grants, target, "admin");
    json_decref(grants);
    if (!known) {
        *answer = api_error_body(r, 401, "invalid_token", "Requires authentication");
        return 401;
    }
    if (!admin) {
        *answer = api_error_body(r, 403, "insufficient_scope", "Unauthorized");
        return 403;
    }
    json_t *v = json_object_get(body, "visibility");
    const char *vis = json_string_value(v);
    if (!json_is_object(body) || !v) {
        *answer = api_error_body(r, 400, "invalid_request", "'visibility' is a required property");
        return 400;
    }
    if (!vis || (strcmp(vis, "public") != 0 && strcmp(vis, "private") != 0)) {
        char *txt = json_dumps(v, JSON_ENCODE_ANY);
        char msg[300];
        snprintf(msg, sizeof msg, "%.200s is not one of ['public', 'private']", txt ? txt : "?");
        free(txt);
        *answer = api_error_body(r, 400, "invalid_request", msg);
        return 400;
    }
    /* Quay's quirk: an unknown repository answers 200 null. */
    *answer =
        quay_appr_set_visibility(target, vis) ? json_pack("{s:b}", "success", 1) : json_null();
    return 200;
}

/* ---- control ---- */

/* Store one token entry (lock held). NULL, or why it was refused. */
static const char *token_put(const json_t *t, bool *replaced) {
    const char *tok = emu_json_str(t, "token");
    if (!tok || !*tok)
        return "a token entry needs a non-empty \"token\"";
    json_t *grants = json_object_get(t, "grants"), *orgs = json_object_get(t, "orgs");
    json_t *actions = json_object_get(t, "actions");
    if (actions && !json_is_array(actions))
        return "actions must be an array";
    json_t *g = json_array();
    size_t i;
    json_t *v;
    if (json_is_array(grants)) {
        json_array_foreach(grants, i, v) {
            if (!emu_json_str(v, "repository") || !json_is_array(json_object_get(v, "actions"))) {
                json_decref(g);
                return "a grant needs \"repository\" and \"actions\"";
            }
            json_array_append(g, v);
        }
    }
    if (json_is_array(orgs)) {
        json_array_foreach(orgs, i, v) {
            if (!json_is_string(v)) {
                json_decref(g);
                return "orgs must be strings";
            }
            char pat[300];
            snprintf(pat, sizeof pat, "%s/*", json_string_value(v));
            json_t *acts = actions ? json_incref(actions) : json_pack("[s]", "*");
            json_array_append_new(g, json_pack("{s:s, s:o}", "repository", pat, "actions", acts));
        }
    }
    if (json_array_size(g) == 0) {
        json_decref(g);
        return "a token entry needs \"orgs\" or \"grants\"";
    }
    *replaced = json_object_get(tokens, tok) != NULL;
    json_object_set_new(tokens, tok, g);
    return NULL;
}

static void h_token_put(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    json_t *j = qs_req_json(r);
    if (!j)
        return;
    bool replaced = false;
    pthread_mutex_lock(&appr_mu);
    const char *why = token_put(j, &replaced);
    pthread_mutex_unlock(&appr_mu);
    json_decref(j);
    if (why)
        qs_respond_error(r, 400, "invalid_token_entry", "%s", why);
    else
        qs_respond_json(r, replaced ? 200 : 201, json_pack("{s:b}", "ok", 1));
}

static void h_blob(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    char pkg[512];
    pkg_name(r, pkg, sizeof pkg);
    const char *mt = qs_req_query(r, "media_type");
    pthread_mutex_lock(&appr_mu);
    json_t *m =
        json_object_get(json_object_get(json_object_get(json_object_get(repos, pkg), "releases"),
                                        qs_req_param(r, "release")),
                        mt && *mt ? mt : "helm");
    char *b64 = m ? strdup(emu_json_str(m, "blob")) : NULL;
    pthread_mutex_unlock(&appr_mu);
    if (!b64) {
        qs_respond_error(r, 404, "not_found", "no such release");
        return;
    }
    size_t n = 0;
    unsigned char *raw = qs_base64_decode(b64, strlen(b64), &n);
    free(b64);
    qs_respond(r, 200, "application/x-gzip", raw, n);
    free(raw);
}

static void h_dump(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    json_t *out = json_object();
    pthread_mutex_lock(&appr_mu);
    const char *name;
    json_t *repo;
    json_object_foreach(repos, name, repo) {
        json_object_set_new(out, name,
                            json_pack("{s:O, s:o}", "visibility",
                                      json_object_get(repo, "visibility"), "releases",
                                      sorted_releases(repo)));
    }
    pthread_mutex_unlock(&appr_mu);
    qs_respond_json(r, 200, out);
}

static void h_reset(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    pthread_mutex_lock(&appr_mu);
    json_object_clear(repos);
    pthread_mutex_unlock(&appr_mu);
    qs_respond_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static const qs_route appr_routes[] = {
    {"GET", "/cnr/version", h_version, NULL, 0},
    {"POST", "/cnr/api/v1/users/login", h_login, NULL, 0},
    {"GET", "/cnr/api/v1/packages", h_list, NULL, 0},
    {"GET", "/cnr/api/v1/packages/{ns}/{pkg}", h_show, NULL, 0},
    {"POST", "/cnr/api/v1/packages/{ns}/{pkg}", h_push, NULL, APPR_MAX_BODY},
    {"DELETE", "/cnr/api/v1/packages/{ns}/{pkg}/{release}/{mt}", h_delete, NULL, 0},
    {"POST", "/_emulator/appr/tokens", h_token_put, NULL, 0},
    {"GET", "/_emulator/appr/repos", h_dump, NULL, 0},
    {"DELETE", "/_emulator/appr", h_reset, NULL, 0},
    {"GET", "/_emulator/appr/{ns}/{pkg}/{release}/blob", h_blob, NULL, 0},
};

/* Load "appr_tokens" from $QUAY_EMU_FIXTURE (main.c loads the rest of the fixture). */
static void load_fixture(void) {
    char err[512] = "";
    json_t *fx = emu_load_fixture(getenv("QUAY_EMU_FIXTURE"), err, sizeof err);
    const json_t *list = json_object_get(fx, "appr_tokens");
    const char *why = fx ? NULL : err;
    if (!why && list && !json_is_array(list))
        why = "appr_tokens must be an array";
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t) {
        bool replaced;
        if (why || (why = token_put(t, &replaced)) != NULL)
            break;
    }
    if (why) {
        qs_log(QS_LOG_ERROR, "QUAY_EMU_FIXTURE: appr_tokens", "error", why, NULL);
        exit(2);
    }
    json_decref(fx);
}

size_t quay_appr_routes(const qs_route **out) {
    pthread_mutex_lock(&appr_mu);
    if (!repos) {
        repos = json_object();
        tokens = json_object();
    }
    pthread_mutex_unlock(&appr_mu);
    load_fixture();
    *out = appr_routes;
    return QS_ARRAY_LEN(appr_routes);
}
