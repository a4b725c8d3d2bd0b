/* ctx.c — the org-mirror's shared clients and metrics.
 *
 * One Quay client per organisation and side, because tokens are per organisation (the seed's
 * quay-source-api-tokens and quay-destination-api-tokens Secrets hold one key per org); each
 * reads its token from the mounted Secret file and re-reads it when the file changes. All of
 * them share one qs_http, so connections to each Quay are pooled across organisations. In copy
 * mode the destination is a plain registry (distribution API) and the source is either listed
 * through Quay's API or through the registry's catalog. */
#include "org-mirror/ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"
#include "shared/log.h"

static const double run_buckets[] = {0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600};

struct orgm_reg_ctx {
    orgm_ctx *c;
    char host[256];
};
typedef struct orgm_reg_ctx reg_ctx;

static int reg_creds(void *ctx, char **user, char **pass) {
    reg_ctx *rc = ctx;
    *user = *pass = NULL;
    if (!rc->c->auth)
        return QS_OK;
    char err[256];
    int r = qs_authfile_lookup(rc->c->auth, rc->host, user, pass, err, sizeof err);
    if (r == QS_ENOTFOUND)
        return QS_OK; /* anonymous */
    if (r != QS_OK)
        qs_log(QS_LOG_WARN, "registry credentials unusable", "registry", rc->host, "error", err,
               NULL);
    return r;
}

static qs_registry *registry(orgm_ctx *c, int i, const orgm_endpoint *e) {
    if (!(c->reg_ctx[i] = calloc(1, sizeof *c->reg_ctx[i])))
        return NULL;
    c->reg_ctx[i]->c = c;
    snprintf(c->reg_ctx[i]->host, sizeof c->reg_ctx[i]->host, "%s", e->host);
    qs_registry_opts o = {e->url, c->http, reg_creds, c->reg_ctx[i], 60};
    return qs_registry_new(&o);
}

static qs_quay *quay(orgm_ctx *c, const orgm_endpoint *e, const char *token_file, char *err,
                     size_t errlen) {
    qs_quay_opts o = QS_QUAY_OPTS_INIT;
    o.base_url = e->url;
    o.token_file = token_file;
    o.debug = c->s->debug;
    char why[200] = "";
    qs_quay *q = qs_quay_new(c->http, &o, why, sizeof why);
    if (!q)
        snprintf(err, errlen, "Quay client for %s: %s", e->host, why);
    return q;
}

int orgm_ctx_init(orgm_ctx *c, const orgm_settings *s, qs_http *http, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    c->s = s;
    c->http = http;
    size_t n = s->orgs.n;
    bool quay_src = s->source_kind == ORGM_SOURCE_QUAY;
    bool quay_dst = s->mode == ORGM_MODE_MIRROR;
    c->src = quay_src ? calloc(n, sizeof *c->src) : NULL;
    c->dst = quay_dst ? calloc(n, sizeof *c->dst) : NULL;
    if ((quay_src && !c->src) || (quay_dst && !c->dst))
        return QS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const orgm_org *o = &s->orgs.v[i];
        if (quay_src && !(c->src[i] = quay(c, &s->source, o->source_token_file, err, errlen)))
            return QS_EINVAL;
        if (quay_dst &&
            !(c->dst[i] = quay(c, &s->destination, o->destination_token_file, err, errlen)))
            return QS_EINVAL;
    }
    c->robot = calloc(n ? n : 1, sizeof *c->robot);
    if (!c->robot)
        return QS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (s->orgs.v[i].robot_file && !(c->robot[i] = qs_secret_new(s->orgs.v[i].robot_file)))
            return QS_ENOMEM;
    if (s->quay_username_file) {
        c->username = qs_secret_new(s->quay_username_file);
        c->password = qs_secret_new(s->quay_password_file);
        if (!c->username || !c->password)
            return QS_ENOMEM;
    }
    if (s->mode == ORGM_MODE_COPY) {
        c->auth = s->registry_auth_file ? qs_authfile_new(s->registry_auth_file) : NULL;
        c->src_reg = registry(c, 0, &s->source);
        c->dst_reg = registry(c, 1, &s->destination);
        if (!c->src_reg || !c->dst_reg) {
            snprintf(err, errlen, "cannot create the registry clients");
            return QS_ENOMEM;
        }
    }
    c->m_runs = qs_counter("org_mirror_runs_total", "Organization runs by result.", "org,result");
    c->m_run_secs =
        qs_histogram("org_mirror_run_duration_seconds", "Wall time of organization runs.", "org",
                     run_buckets, QS_ARRAY_LEN(run_buckets));
    c->m_repos = qs_gauge("org_mirror_repositories",
                          "Repositories of the last run by outcome (created, configured, "
                          "updated, unchanged, skipped, failed).",
                          "org,outcome");
    c->m_states =
        qs_gauge("org_mirror_destination_repositories",
                 "Destination repositories by state at the last run's listing.", "org,state");
    c->m_tasks =
        qs_counter("org_mirror_tasks_total", "Repository tasks handled by outcome.", "outcome");
    return QS_OK;
}

void orgm_ctx_free(orgm_ctx *c) {
    for (size_t i = 0; c->s && i < c->s->orgs.n; i++) {
        if (c->src)
            qs_quay_free(c->src[i]);
        if (c->dst)
            qs_quay_free(c->dst[i]);
        if (c->robot)
            qs_secret_free(c->robot[i]);
    }
    free(c->robot);
    free(c->src);
    free(c->dst);
    qs_secret_free(c->username);
    qs_secret_free(c->password);
    qs_registry_free(c->src_reg);
    qs_registry_free(c->dst_reg);
    qs_authfile_free(c->auth);
    free(c->reg_ctx[0]);
    free(c->reg_ctx[1]);
    memset(c, 0, sizeof *c);
}

size_t orgm_ctx_org(const orgm_ctx *c, const char *name) {
    for (size_t i = 0; name && i < c->s->orgs.n; i++)
        if (strcmp(c->s->orgs.v[i].name, name) == 0)
            return i;
    return (size_t)-1;
}

int orgm_ctx_robot(orgm_ctx *c, size_t oi, char *full, size_t fulllen, char *err, size_t errlen) {
    const orgm_org *o = &c->s->orgs.v[oi];
    if (o->robot || !c->robot || !c->robot[oi]) /* from the config, or no file: as at startup */
        return orgm_org_robot(o, full, fulllen, err, errlen);
    char *text = NULL;
    int rc = qs_secret_get(c->robot[oi], &text);
    if (rc != QS_OK) {
        snprintf(err, errlen, "robot name file %s is %s", o->robot_file,
                 rc == QS_EINVAL ? "empty" : "missing or unreadable");
        return QS_EINVAL;
    }
    rc = orgm_robot_name(o->destination, text, full, fulllen, err, errlen);
    qs_secret_release(text);
    return rc;
}

int orgm_ctx_source_account(orgm_ctx *c, char **user, char **pass) {
    *user = *pass = NULL;
    if (!c->username)
        return QS_OK;
    int rc = qs_secret_get(c->username, user);
    if (rc == QS_OK && (rc = qs_secret_get(c->password, pass)) != QS_OK) {
        qs_secret_release(*user);
        *user = NULL;
    }
    return rc;
}
