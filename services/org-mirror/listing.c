/* listing.c — what a run needs to know before it queues any work.
 *
 * Mirror mode: the source organisation's repositories (qs_quay_repo_list follows next_page to
 * the end — the reference script stopped at 100), the destination organisation (must exist),
 * the robot named for it (must exist: Quay's mirror worker pushes with it), and the
 * destination's repositories with their states (the hints of each task) — three threads, as
 * these are the run's fixed cost. The reported failure is the most useful one: a refused
 * source token, then a missing destination organisation or a refused destination token, then
 * a missing robot, then a failed destination listing.
 * Copy mode: the source's repositories, from Quay's API or, for a plain registry, from its
 * catalog (repositories under "<org>/"); the destination is a registry and has no listing. */
#include "org-mirror/listing.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "shared/common.h"
#include "shared/log.h"

void orgm_listing_free(orgm_listing *l) {
    json_decref(l->source);
    json_decref(l->destination);
    l->source = l->destination = NULL;
}

/* "<what>: <message> (HTTP n)" with the token case spelled out. */
static int fail(orgm_listing *out, int rc, const qs_quay_error *e, const char *side,
                const char *org, const char *host, const char *what) {
    const char *msg = e->message[0] ? e->message : qs_strerror(rc);
    if (rc == QS_EAUTH && e->status == 0) /* the client could not read the token file */
        snprintf(out->error, sizeof out->error, "the %s API token file for %s is unusable: %.200s",
                 side, org, msg);
    else if (rc == QS_EAUTH)
        snprintf(out->error, sizeof out->error,
                 "the %s API token for %s was refused by %s: %.200s (HTTP %ld)", side, org, host,
                 msg, e->status);
    else if (e->status)
        snprintf(out->error, sizeof out->error, "%s on %s: %.200s (HTTP %ld)", what, host, msg,
                 e->status);
    else
        snprintf(out->error, sizeof out->error, "%s on %s: %.200s", what, host, msg);
    return rc;
}

static int names_of(const json_t *repos, json_t **out) {
    *out = json_array();
    size_t i;
    const json_t *r;
    json_array_foreach(repos, i, r) {
        const char *name = json_string_value(json_object_get(r, "name"));
        if (name && *out)
            json_array_append_new(*out, json_string(name));
    }
    return *out ? QS_OK : QS_ENOMEM;
}

static int list_source_catalog(orgm_ctx *c, const orgm_org *o, orgm_listing *out) {
    char **repos = NULL;
    size_t n = 0, plen = strlen(o->name);
    int rc = qs_registry_catalog(c->src_reg, 0, &repos, &n);
    if (rc != QS_OK) {
        snprintf(out->error, sizeof out->error, "listing the catalog of %s: %s", c->s->source.host,
                 qs_strerror(rc));
        return rc;
    }
    out->source = json_array();
    for (size_t i = 0; out->source && i < n; i++)
        if (strncmp(repos[i], o->name, plen) == 0 && repos[i][plen] == '/' && repos[i][plen + 1])
            json_array_append_new(out->source, json_string(repos[i] + plen + 1));
    qs_strv_free(repos);
    return out->source ? QS_OK : QS_ENOMEM;
}

/* The destination organisation and robot exist? 403 (no org:admin scope) is not a failure. */
static int check_destination(orgm_ctx *c, size_t oi, orgm_listing *out) {
    const orgm_org *o = &c->s->orgs.v[oi];
    const char *host = c->s->destination.host;
    qs_quay_error e = {0};
    int rc = qs_quay_org_get(c->dst[oi], o->destination, NULL, &e);
    if (rc == QS_ENOTFOUND) {
        snprintf(out->error, sizeof out->error,
                 "the destination organization %.250s does not exist on %.250s", o->destination,
                 host);
        return rc;
    }
    if (rc == QS_EDENIED)
        qs_log(QS_LOG_INFO,
               "cannot verify the destination organization (the token lacks "
               "org:admin); going on",
               "org", o->name, NULL);
    else if (rc != QS_OK)
        return fail(out, rc, &e, "destination", o->name, host, "reading the destination org");
    char robot[600], why[300];
    if (orgm_ctx_robot(c, oi, robot, sizeof robot, why, sizeof why) != QS_OK) {
        snprintf(out->error, sizeof out->error, "%s", why);
        return QS_EINVAL;
    }
    memset(&e, 0, sizeof e);
    rc = qs_quay_robot_get(c->dst[oi], o->destination, strchr(robot, '+') + 1, NULL, &e);
    if (rc == QS_ENOTFOUND) {
        snprintf(out->error, sizeof out->error,
                 "the robot %.250s does not exist in the destination organization %.100s on %.100s",
                 robot, o->destination, host);
        return rc;
    }
    if (rc == QS_EDENIED) {
        qs_log(QS_LOG_INFO, "cannot verify the robot (the token lacks org:admin); going on", "org",
               o->name, "robot", robot, NULL);
        return QS_OK;
    }
    return rc == QS_OK ? QS_OK
                       : fail(out, rc, &e, "destination", o->name, host, "reading the robot");
}

typedef struct {
    orgm_ctx *c;
    size_t oi;
    orgm_listing *out;
    int rc;
} source_job;

/* The source's repository names into job->out->source (a thread of its own in mirror mode). */
static void *list_source(void *arg) {
    source_job *j = arg;
    const orgm_org *o = &j->c->s->orgs.v[j->oi];
    if (!j->c->src) {
        j->rc = list_source_catalog(j->c, o, j->out);
        return NULL;
    }
    json_t *repos = NULL;
    qs_quay_error e = {0};
    j->rc = qs_quay_repo_list(j->c->src[j->oi], o->name, &repos, &e);
    if (j->rc == QS_OK)
        j->rc = names_of(repos, &j->out->source);
    else
        fail(j->out, j->rc, &e, "source", o->name, j->c->s->source.host,
             j->rc == QS_ENOTFOUND ? "the source organization does not exist"
                                   : "listing the source organization");
    json_decref(repos);
    return NULL;
}

typedef struct {
    orgm_ctx *c;
    size_t oi;
    orgm_listing out; /* only its error is used */
    int rc;
} check_job;

static void *check_thread(void *arg) {
    check_job *j = arg;
    j->rc = check_destination(j->c, j->oi, &j->out);
    return NULL;
}

/* The destination: its checks (in a thread of their own: they are two more calls in a row)
 * and its repositories with their states. A failed check is the error, before the listing's. */
static int list_destination(orgm_ctx *c, size_t oi, orgm_listing *out) {
    const orgm_org *o = &c->s->orgs.v[oi];
    check_job chk = {c, oi, {0}, QS_OK};
    pthread_t t;
    bool threaded = pthread_create(&t, NULL, check_thread, &chk) == 0;
    if (!threaded)
        check_thread(&chk);
    json_t *repos = NULL;
    qs_quay_error e = {0};
    int rc = threaded || chk.rc == QS_OK ? qs_quay_repo_list(c->dst[oi], o->destination, &repos, &e)
                                         : QS_ERR;
    if (threaded)
        pthread_join(t, NULL);
    if (chk.rc != QS_OK) {
        json_decref(repos);
        snprintf(out->error, sizeof out->error, "%s", chk.out.error);
        return chk.rc;
    }
    if (rc != QS_OK)
        return fail(out, rc, &e, "destination", o->name, c->s->destination.host,
                    "listing the destination organization");
    out->destination = json_object();
    size_t i;
    const json_t *r;
    json_array_foreach(repos, i, r) {
        const char *name = json_string_value(json_object_get(r, "name"));
        const char *state = json_string_value(json_object_get(r, "state"));
        const json_t *pub = json_object_get(r, "is_public");
        if (name && out->destination)
            json_object_set_new(
                out->destination, name,
                json_pack("{s:s,s:o}", "state", state ? state : "NORMAL", "is_public",
                          json_is_boolean(pub) ? json_boolean(json_is_true(pub)) : json_null()));
    }
    json_decref(repos);
    return out->destination ? QS_OK : QS_ENOMEM;
}

int orgm_list_org(orgm_ctx *c, size_t oi, orgm_listing *out) {
    memset(out, 0, sizeof *out);
    source_job job = {c, oi, out, QS_OK};
    if (c->s->mode == ORGM_MODE_COPY) {
        list_source(&job);
        return job.rc;
    }
    /* both sides at once: the two listings are most of a no-op run's fixed cost */
    orgm_listing dst = {0};
    pthread_t t;
    bool threaded = pthread_create(&t, NULL, list_source, &job) == 0;
    if (!threaded)
        list_source(&job);
    int rc = list_destination(c, oi, &dst);
    if (threaded)
        pthread_join(t, NULL);
    out->destination = dst.destination;
    if (job.rc != QS_OK) /* the source's failure first: it is the more basic one */
        return job.rc;
    if (rc != QS_OK)
        snprintf(out->error, sizeof out->error, "%s", dst.error);
    return rc;
}
