/* sequential.c — the seed's CronJob script, call for call, as a C loop (reference/quay.md
 * Part C): list the source organisation (all pages here, for a fair comparison — the script
 * stopped at 100), then for each repository in turn GET the destination repository and:
 * absent → create it, POST the mirror config, sync-now; MIRROR → nothing, or PUT with
 * RECREATE_MIRROR_CONFIG; NORMAL → POST the config, sync-now; anything else → nothing. The same
 * Quay client, HTTP stack and config body as the service, so the benchmark's ratio measures
 * the design (a parallel queue, listing the destination instead of one GET per repository)
 * rather than curl against C. Not meant for production: it never compares existing configs. */
#include "org-mirror/sequential.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "org-mirror/mirrorcfg.h"
#include "shared/common.h"
#include "shared/log.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One repository; 0 or a qs_err. *wrote counts the writes. */
static int one(orgm_ctx *c, size_t oi, const char *repo, const json_t *body, long *wrote) {
    const orgm_org *o = &c->s->orgs.v[oi];
    qs_quay *dst = c->dst[oi];
    json_t *r = NULL;
    qs_quay_error e = {0};
    int rc = qs_quay_repo_get(dst, o->destination, repo, &r, &e);
    const char *state = rc == QS_OK ? json_string_value(json_object_get(r, "state")) : NULL;
    bool absent = rc == QS_ENOTFOUND, normal = state && strcmp(state, "NORMAL") == 0;
    bool mirror = state && strcmp(state, "MIRROR") == 0;
    json_decref(r);
    if (rc != QS_OK && !absent)
        return rc;
    rc = QS_OK;
    if (c->s->dry_run)
        return rc;
    if (absent) {
        rc = qs_quay_repo_create(dst, o->destination, repo, false, "Mirrored", &e);
        (*wrote)++;
    }
    if (rc == QS_OK && (absent || normal)) {
        rc = qs_quay_mirror_create(dst, o->destination, repo, body, &e);
        (*wrote)++;
        if (rc == QS_OK) {
            qs_quay_mirror_sync_now(dst, o->destination, repo, &e);
            (*wrote)++;
        }
    } else if (rc == QS_OK && mirror && c->s->recreate) {
        rc = qs_quay_mirror_update(dst, o->destination, repo, body, &e);
        (*wrote)++;
    }
    return rc;
}

size_t orgm_sequential(orgm_ctx *c) {
    size_t failed_orgs = 0;
    for (size_t oi = 0; oi < c->s->orgs.n; oi++) {
        const orgm_org *o = &c->s->orgs.v[oi];
        double t0 = now_s();
        json_t *repos = NULL;
        qs_quay_error e = {0};
        long failed = 0, wrote = 0;
        int rc = qs_quay_repo_list(c->src[oi], o->name, &repos, &e);
        char robot[600], err[300];
        char *user = NULL, *pass = NULL;
        if (rc == QS_OK && orgm_ctx_robot(c, oi, robot, sizeof robot, err, sizeof err) != QS_OK)
            rc = QS_EINVAL;
        if (rc == QS_OK)
            rc = orgm_ctx_source_account(c, &user, &pass);
        size_t i;
        const json_t *it;
        json_array_foreach(repos, i, it) {
            const char *name = json_string_value(json_object_get(it, "name"));
            if (rc != QS_OK || !name)
                break;
            orgm_mirror_want w = {c->s->source.host,
                                  o->name,
                                  name,
                                  user,
                                  pass,
                                  o->interval,
                                  robot,
                                  &o->globs,
                                  c->s->verify_tls,
                                  c->s->skopeo_timeout,
                                  time(NULL)};
            json_t *body = orgm_mirror_config(&w);
            if (!body || one(c, oi, name, body, &wrote) != QS_OK)
                failed++;
            json_decref(body);
        }
        qs_secret_release(user);
        qs_secret_release(pass);
        char n[24], f[24], wr[24], secs[32];
        snprintf(n, sizeof n, "%zu", json_array_size(repos));
        snprintf(f, sizeof f, "%ld", failed);
        snprintf(wr, sizeof wr, "%ld", wrote);
        snprintf(secs, sizeof secs, "%.3f", now_s() - t0);
        qs_log(rc || failed ? QS_LOG_WARN : QS_LOG_INFO, "sequential pass done", "org", o->name,
               "repositories", n, "failed", f, "writes", wr, "seconds", secs, "error",
               rc ? qs_strerror(rc) : NULL, NULL);
        json_decref(repos);
        failed_orgs += rc != QS_OK || failed;
    }
    return failed_orgs;
}
