/* test_prov_store.c — the appstudio-provisioner's records in a real Redis: compare-and-set
 * updates, a lost race started over, removal, the per-state index, the workspace's set. */
#include <criterion/criterion.h>
#include <string.h>

#include "appstudio-provisioner/store.h"
#include "redis_spawn.h"
#include "shared/common.h"
#include "shared/log.h"

static redis_proc srv;
static qs_redis *r;

static void setup(void) {
    qs_log_set_fd(-1);
    rs_prepare(&srv, false, false);
    rs_start(&srv);
    char url[64], err[128];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", srv.port);
    r = qs_redis_new(url, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
}

static void teardown(void) {
    qs_redis_free(r);
    rs_cleanup(&srv);
}

TestSuite(prov_store, .init = setup, .fini = teardown);

static prov_names names_of(const char *c) {
    static const prov_naming nm = {PROV_ORG_PER_WORKSPACE, "", NULL, "{workspace}", "quay.io"};
    prov_names n;
    cr_assert_eq(prov_names_for(&nm, "ws", c, &n), QS_OK);
    return n;
}

static int put(prov_component *c, void *ctx) {
    const char *name = ctx;
    if (c->rev == 0) {
        prov_names n = names_of(name);
        prov_component_init(c, "ws", name, &n, "t");
    }
    return prov_request_apply(c, PROV_REQ_PUT, 1, 5);
}

static int ready(prov_component *c, void *ctx) {
    QS_UNUSED(ctx);
    prov_outcome_apply(c, c->generation, PROV_OUT_READY, NULL);
    return QS_OK;
}

static int remove_it(prov_component *c, void *ctx) {
    QS_UNUSED(ctx);
    QS_UNUSED(c);
    return PROV_STORE_REMOVE;
}

static int refuse(prov_component *c, void *ctx) {
    QS_UNUSED(ctx);
    return c->rev == 0 ? QS_ENOTFOUND : QS_OK;
}

Test(prov_store, create_update_remove) {
    prov_component c;
    cr_assert_eq(prov_store_component_load(r, "ws", "a", &c), QS_OK);
    cr_assert_eq(c.rev, 0);
    cr_assert_eq(prov_store_component_update(r, "ws", "a", put, "a", &c), QS_OK);
    cr_assert_eq(c.rev, 1);
    cr_assert_eq(prov_store_component_update(r, "ws", "a", put, "a", &c), QS_OK);
    cr_assert_eq(c.generation, 2);
    prov_component back;
    cr_assert_eq(prov_store_component_load(r, "ws", "a", &back), QS_OK);
    cr_assert_eq(back.generation, 2);
    cr_assert_eq(back.rev, 2);
    cr_assert_str_eq(back.names.image, "quay.io/ws/a");

    char **names = NULL;
    size_t n = 0;
    cr_assert_eq(prov_store_components(r, "ws", &names, &n), QS_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(names[0], "a");
    prov_store_names_free(names, n);

    cr_assert_eq(prov_store_component_update(r, "ws", "a", remove_it, NULL, NULL), QS_OK);
    cr_assert_eq(prov_store_component_load(r, "ws", "a", &back), QS_OK);
    cr_assert_eq(back.rev, 0, "removed");
    cr_assert_eq(prov_store_components(r, "ws", &names, &n), QS_OK);
    cr_assert_eq(n, 0, "and out of the workspace's set");
    prov_store_names_free(names, n);
    cr_assert_eq(prov_store_component_update(r, "ws", "gone", refuse, NULL, NULL), QS_ENOTFOUND,
                 "an update function's error comes back unwritten");
}

/* An update that, the first time it runs, lets someone else change the record first. */
static int racing_calls;
static int racing(prov_component *c, void *ctx) {
    QS_UNUSED(ctx);
    if (racing_calls++ == 0) {
        redisReply *rep = qs_redis_cmd(r, "HINCRBY prov:component:ws/a rev 1");
        freeReplyObject(rep);
    }
    c->rotate = 99;
    return QS_OK;
}

Test(prov_store, a_lost_race_starts_over_from_a_fresh_read) {
    prov_component c;
    cr_assert_eq(prov_store_component_update(r, "ws", "a", put, "a", &c), QS_OK);
    racing_calls = 0;
    cr_assert_eq(prov_store_component_update(r, "ws", "a", racing, NULL, &c), QS_OK);
    cr_assert_eq(racing_calls, 2, "the first write lost, the second won");
    cr_assert_eq(c.rev, 3);
    prov_component back;
    prov_store_component_load(r, "ws", "a", &back);
    cr_assert_eq(back.rotate, 99);
}

Test(prov_store, states_are_counted) {
    prov_store_component_update(r, "ws", "a", put, "a", NULL);
    prov_store_component_update(r, "ws", "b", put, "b", NULL);
    prov_store_component_update(r, "ws", "c", put, "c", NULL);
    prov_store_component_update(r, "ws", "b", ready, NULL, NULL);
    long long counts[4];
    cr_assert_eq(prov_store_count_states(r, counts), QS_OK);
    cr_assert_eq(counts[0], 2, "provisioning");
    cr_assert_eq(counts[1], 1, "ready");
    cr_assert_eq(counts[2], 0);
    prov_store_component_update(r, "ws", "c", remove_it, NULL, NULL);
    prov_store_count_states(r, counts);
    cr_assert_eq(counts[0], 1, "a removed component leaves the index");
}

static int ws_put(prov_workspace *w, void *ctx) {
    QS_UNUSED(ctx);
    if (w->rev == 0) {
        prov_names n = names_of("x");
        prov_workspace_init(w, "ws", &n, "t");
    }
    return prov_workspace_request(w, false, 1);
}

Test(prov_store, workspaces) {
    prov_workspace w;
    cr_assert_eq(prov_store_workspace_update(r, "ws", ws_put, NULL, &w), QS_OK);
    cr_assert_eq(w.rev, 1);
    cr_assert_eq(prov_store_workspace_load(r, "ws", &w), QS_OK);
    cr_assert_str_eq(w.org, "ws");
    cr_assert_eq(w.generation, 1);
    redisReply *rep = qs_redis_cmd(r, "SISMEMBER prov:workspaces ws");
    cr_assert_eq(rep->integer, 1);
    freeReplyObject(rep);
}

Test(prov_store, redis_down_is_unavailable) {
    rs_stop(&srv, SIGKILL);
    prov_component c;
    cr_assert_eq(prov_store_component_load(r, "ws", "a", &c), QS_EUNAVAIL);
    cr_assert_eq(prov_store_component_update(r, "ws", "a", put, "a", NULL), QS_EUNAVAIL);
}
