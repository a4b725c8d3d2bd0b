/* push.c — OMPS's _zip_flow from the extracted archive on (reference/omps.md §A.3 steps 4–10),
 * in the original's order so errors take precedence as they did:
 *   extracted_files → package name (+ suffix) → version → replace_registry → csv_annotations
 *   → courier (layout, validation, bundle) → CNR push → changevisibility → event.
 *
 * Versions: an explicit one is checked against OMPS's rule; without one, the release list of
 * Quay's namespace listing gives "highest + 1 major" (or DEFAULT_RELEASE_VERSION). The
 * original raced here: two pushes could pick the same version and the second got Quay's 409
 * as a 500. Here a push without a version takes the repository's lock in Redis (SET NX PX,
 * released by a compare-and-delete, expiring after the settings' lock TTL) before listing,
 * and keeps it until Quay has accepted the push, so each concurrent push sees the releases of
 * the ones before it. Publishing (changevisibility with the organization's OAuth token) runs
 * after the lock is released; it is idempotent.
 *
 * The user's Authorization value goes to Quay as is and is never logged; the OAuth token is
 * read per push (a rotated Secret applies at once) and wiped after use. */
#include "omps/push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "omps/bundle.h"
#include "omps/courier.h"
#include "omps/manifests.h"
#include "omps/versions.h"
#include "shared/common.h"
#include "shared/log.h"
#include "shared/quay_appr.h"
#include "shared/queue.h"

#define ERR_MAX 512

void omps_push_lock_key(const char *org, const char *repo, char *out, size_t cap) {
    snprintf(out, cap, "omps:push-lock:%s/%s", org, repo);
}

typedef struct {
    omps_service *svc;
    const omps_push_req *pr;
    const omps_org *org;
    const char *dir;
    char *package; /* packageName (suffixed) */
    const char *repo;
    char version[QS_SEMVER_STR_MAX + 1];
    char lock_key[700];
    char lock_token[QS_REDIS_LOCK_TOKEN_LEN];
    bool published;
} push_state;

/* ---- step 5: the package name ---- */

static int package_name(push_state *st, omps_error *e) {
    char err[ERR_MAX] = "";
    int rc = omps_package_name(st->dir, st->org->suffix, &st->package, err, sizeof err);
    if (rc == QS_EINVAL) {
        omps_error_set(e, 400, OMPS_E_VALIDATION, "%s", err);
        e->validation_info = json_object();
    } else if (rc != QS_OK) {
        omps_error_set(e, 500, OMPS_E_INTERNAL, "%s", err[0] ? err : qs_strerror(rc));
    }
    st->repo = st->pr->repo ? st->pr->repo : st->package;
    return rc;
}

/* ---- step 6: the version ---- */

/* Take the repository's lock. 0 taken or skipped (Redis unreachable); else e is set. */
static int lock_repository(push_state *st, omps_error *e) {
    const omps_settings *s = st->svc->s;
    omps_push_lock_key(st->pr->org, st->repo, st->lock_key, sizeof st->lock_key);
    long ttl = (long)(s->lock_ttl * 1000), waited = 0;
    int rc = qs_redis_lock(st->svc->redis, st->lock_key, ttl, ttl, st->lock_token, &waited);
    if (rc == QS_OK) {
        qs_metric_observe(st->svc->m_lock_wait, (double)waited / 1000.0);
        return QS_OK;
    }
    st->lock_token[0] = '\0';
    if (rc == QS_ECONFLICT) {
        omps_error_set(e, 503, OMPS_E_UNAVAILABLE,
                       "Another push to %s/%s has held its lock for %ld s; try again later",
                       st->pr->org, st->repo, waited / 1000);
        return rc;
    }
    qs_metric_add(st->svc->m_lock_skipped, 1);
    qs_log(QS_LOG_WARN, "Redis unreachable: push without a version runs unserialised",
           "organization", st->pr->org, "repo", st->repo, NULL);
    return QS_OK;
}

static void unlock_repository(push_state *st) {
    if (!st->lock_token[0])
        return;
    int rc = qs_redis_unlock(st->svc->redis, st->lock_key, st->lock_token);
    if (rc != QS_OK)
        qs_log(QS_LOG_WARN, "push lock was no longer held at release (it expired)", "organization",
               st->pr->org, "repo", st->repo, "result", qs_strerror(rc), NULL);
    st->lock_token[0] = '\0';
}

static int choose_version(push_state *st, omps_error *e) {
    const omps_settings *s = st->svc->s;
    if (st->pr->version) {
        if (!omps_version_check(st->pr->version, e))
            return QS_EINVAL;
        snprintf(st->version, sizeof st->version, "%s", st->pr->version);
        return QS_OK;
    }
    int rc = lock_repository(st, e);
    if (rc != QS_OK)
        return rc;
    json_t *listing = NULL;
    qs_appr_error ae = {0};
    rc =
        qs_appr_list_packages(st->svc->quay, s->quay_url, st->pr->auth, st->pr->org, &listing, &ae);
    if (rc != QS_OK) {
        char url[1200];
        snprintf(url, sizeof url, "%s/cnr/api/v1/packages?namespace=%s", s->quay_url, st->pr->org);
        omps_error_releases(e, st->pr->org, st->repo, url, &ae);
        qs_appr_error_clear(&ae);
        return rc;
    }
    bool used_default = false;
    char why[400] = "";
    omps_version_next(omps_listing_releases(listing, st->pr->org, st->repo), st->pr->org, st->repo,
                      s->default_release_version, st->version, &used_default, why, sizeof why);
    json_decref(listing);
    if (used_default)
        qs_log(QS_LOG_INFO, "Using default release", "version", st->version, "reason", why, NULL);
    return QS_OK;
}

/* ---- steps 7, 8: rewrites ---- */

static int rewrite(push_state *st, omps_error *e) {
    char err[ERR_MAX] = "";
    int rc = omps_replace_registries_dir(st->dir, &st->org->view, err, sizeof err);
    if (rc == QS_OK)
        rc = omps_csv_annotations_dir(st->dir, &st->org->view, st->package, err, sizeof err);
    if (rc != QS_OK)
        omps_error_set(e, 500, OMPS_E_INTERNAL, "%s", err[0] ? err : qs_strerror(rc));
    return rc;
}

/* ---- step 9: courier's build, validation and push ---- */

static int courier_bundle(push_state *st, json_t **body, omps_error *e) {
    char err[ERR_MAX] = "", bad_file[300] = "";
    omps_manifests *m = NULL;
    int rc = omps_manifests_load(st->dir, &m, err, sizeof err, bad_file);
    if (rc == QS_EINVAL) {
        if (bad_file[0])
            omps_error_set(e, 400, OMPS_E_VALIDATION, "Failed to push manifest: %s (%s)", err,
                           bad_file);
        else
            omps_error_set(e, 400, OMPS_E_VALIDATION, "Failed to push manifest: %s", err);
        e->validation_info = json_object();
        return rc;
    }
    if (rc != QS_OK) {
        omps_error_set(e, 500, OMPS_E_COURIER, "Failed to push manifest: %s", err);
        e->quay_response = json_object();
        return rc;
    }
    omps_courier_opts co = OMPS_COURIER_OPTS_INIT;
    co.repository = st->repo;
    json_t *info = NULL;
    rc = omps_courier_validate(m, &co, &info, err, sizeof err);
    if (rc != QS_OK) {
        omps_error_set(e, 500, OMPS_E_COURIER, "Failed to push manifest: %s",
                       err[0] ? err : qs_strerror(rc));
        e->quay_response = json_object();
    } else if (!omps_courier_valid(info)) {
        omps_error_set(e, 400, OMPS_E_VALIDATION, "Failed to push manifest: %s",
                       OMPS_COURIER_INVALID_MSG);
        e->validation_info = info;
        info = NULL;
        rc = QS_EINVAL;
    } else {
        omps_bundle_opts bo = OMPS_BUNDLE_OPTS_INIT;
        rc = omps_bundle_push_json(m, st->dir, st->repo, st->version, &bo, body, err, sizeof err);
        if (rc != QS_OK) {
            omps_error_set(e, 500, OMPS_E_COURIER, "Failed to push manifest: %s", err);
            e->quay_response = json_object();
        }
    }
    json_decref(info);
    omps_manifests_free(m);
    return rc;
}

static int cnr_push(push_state *st, const json_t *body, omps_error *e) {
    qs_appr_error ae = {0};
    const char *blob = json_string_value(json_object_get(body, "blob"));
    int rc = qs_appr_push(st->svc->quay_push, st->svc->s->quay_url, st->pr->auth, st->pr->org,
                          st->repo, st->version, "helm", blob, &ae);
    if (rc != QS_OK)
        omps_error_push(e, &ae);
    qs_appr_error_clear(&ae);
    return rc;
}

/* ---- after the push: publish, event ---- */

static int publish(push_state *st, omps_error *e) {
    if (!omps_org_publishes(st->org)) {
        qs_log(QS_LOG_DEBUG, "Organization is private, skipping publishing", "organization",
               st->pr->org, NULL);
        return QS_OK;
    }
    char *token = NULL;
    if (omps_org_oauth_token(st->org, &token) != QS_OK) {
        omps_error_set(e, 500, OMPS_E_PACKAGE,
                       "Cannot publish repository %s: the OAuth token of organization %s cannot "
                       "be read",
                       st->repo, st->pr->org);
        return QS_ENOTFOUND;
    }
    size_t n = strlen(token) + 8;
    char *bearer = malloc(n);
    int rc = QS_ENOMEM;
    qs_appr_error ae = {0};
    if (bearer) {
        snprintf(bearer, n, "Bearer %s", token);
        rc = qs_appr_set_visibility(st->svc->quay, st->svc->s->quay_url, bearer, st->pr->org,
                                    st->repo, true, &ae);
        explicit_bzero(bearer, n);
        free(bearer);
    }
    qs_secret_release(token);
    if (rc != QS_OK) {
        omps_error_publish(e, &ae);
        qs_log(QS_LOG_ERROR, "Cannot publish repository", "organization", st->pr->org, "repo",
               st->repo, "error", e->message, NULL);
    } else {
        st->published = true;
    }
    qs_appr_error_clear(&ae);
    return rc;
}

static void publish_event(push_state *st, size_t nfiles) {
    json_t *data =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:I}", "organization", st->pr->org, "repository",
                  st->repo, "version", st->version, "package_name", st->package, "source",
                  st->pr->source, "api", st->pr->repo ? "v1" : "v2", "published", st->published,
                  "extracted_files", (json_int_t)nfiles);
    if (data && st->pr->nvr)
        json_object_set_new(data, "nvr", json_string(st->pr->nvr));
    int rc =
        data ? qs_events_publish(st->svc->redis, QS_EVENTS_STREAM, "manifests.pushed", data, NULL)
             : QS_ENOMEM;
    json_decref(data);
    if (rc != QS_OK) {
        qs_metric_add(st->svc->m_events_failed, 1);
        qs_log(QS_LOG_WARN, "cannot publish the manifests.pushed event", "organization",
               st->pr->org, "repo", st->repo, "version", st->version, "error", qs_strerror(rc),
               NULL);
    }
}

static json_t *files_array(const zip_check_result *z) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < z->nfiles; i++)
        json_array_append_new(a, json_string(z->files[i]));
    return a;
}

int omps_push_extracted(omps_service *svc, const omps_push_req *pr, const zip_check_result *z,
                        json_t **out, omps_error *e) {
    *out = NULL;
    push_state st = {0};
    st.svc = svc;
    st.pr = pr;
    st.dir = z->dir;
    st.org = omps_conf_file_org(&svc->s->file, pr->org);
    json_t *body = NULL;
    int rc = package_name(&st, e);
    if (rc == QS_OK)
        rc = choose_version(&st, e);
    if (rc == QS_OK)
        rc = rewrite(&st, e);
    if (rc == QS_OK)
        rc = courier_bundle(&st, &body, e);
    if (rc == QS_OK)
        rc = cnr_push(&st, body, e);
    json_decref(body);
    unlock_repository(&st);
    if (rc == QS_OK) {
        qs_log(QS_LOG_INFO, "pushed", "organization", pr->org, "repo", st.repo, "version",
               st.version, "source", pr->source, NULL);
        rc = publish(&st, e);
        publish_event(&st, z->nfiles);
    }
    if (rc == QS_OK) {
        *out = json_pack("{s:o,s:s,s:s,s:s}", "extracted_files", files_array(z), "organization",
                         pr->org, "repo", st.repo, "version", st.version);
        if (*out && pr->nvr)
            json_object_set_new(*out, "nvr", json_string(pr->nvr));
        if (!*out) {
            omps_error_set(e, 500, OMPS_E_INTERNAL, "out of memory");
            rc = QS_ENOMEM;
        }
    }
    free(st.package);
    return rc;
}
