/* test_koji.c — libshared's Koji client against the Koji emulator.
 *
 * Every test starts its own koji-emulator (tests/unit/emu_spawn.h) with a fixture of three
 * builds — current OSBS (typeinfo), legacy (operator_manifests_archive + build logs) and a
 * plain image — plus inline archive files, and a KOJI_EMU_ROOT holding a 64 KiB file.
 * Covered: getBuild found and not found (nil → QS_ENOTFOUND), getAPIVersion, an unknown
 * method's fault, archive names (typeinfo before legacy, none → QS_EINVAL), archive URLs for
 * both layouts and a legacy archive missing from the logs (QS_ENOTFOUND), downloads within
 * the limit and over it (by Content-Length and while streaming chunked) → QS_ETOOBIG with no
 * file left, a 404 download, and a 503 from the hub retried (and failing after retries). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu_spawn.h"
#include "shared/base64.h"
#include "shared/common.h"
#include "shared/koji.h"
#include "shared/log.h"

static const char fixture[] =
    "{\"api_version\":1,\"builds\":["
    " {\"nvr\":\"op-1.0-1\",\"id\":10,\"build_id\":10,\"name\":\"op\",\"version\":\"1.0\","
    "  \"release\":\"1\",\"volume_name\":\"DEFAULT\",\"extra\":{\"typeinfo\":"
    "  {\"operator-manifests\":{\"archive\":\"operator_manifests.zip\"}},"
    "  \"operator_manifests_archive\":\"old.zip\"}},"
    " {\"nvr\":\"legacy-2.0-3\",\"id\":11,\"build_id\":11,\"name\":\"legacy\",\"version\":\"2.0\","
    "  \"release\":\"3\",\"volume_name\":null,\"extra\":{\"operator_manifests_archive\":"
    "  \"operator_manifests.zip\"},\"logs\":[{\"name\":\"build.log\",\"dir\":\"noarch\","
    "  \"path\":\"packages/legacy/2.0/3/data/logs/noarch/build.log\"},"
    "  {\"name\":\"operator_manifests.zip\",\"dir\":\"noarch\","
    "  \"path\":\"packages/legacy/2.0/3/data/logs/noarch/operator_manifests.zip\"}]},"
    " {\"nvr\":\"gone-1-1\",\"id\":12,\"build_id\":12,\"name\":\"gone\",\"version\":\"1\","
    "  \"release\":\"1\",\"extra\":{\"operator_manifests_archive\":\"x.zip\"},\"logs\":[]},"
    " {\"nvr\":\"plain-1-1\",\"id\":13,\"name\":\"plain\",\"version\":\"1\",\"release\":\"1\","
    "  \"extra\":{\"typeinfo\":{\"image\":{}}}}],"
    " \"files\":{"
    "  \"packages/op/1.0/1/files/operator-manifests/operator_manifests.zip\":"
    "   {\"base64\":\"UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==\"},"
    "  \"packages/legacy/2.0/3/data/logs/noarch/operator_manifests.zip\":"
    "   {\"base64\":\"aGVsbG8=\"},"
    "  \"packages/big/1/1/chunked.bin\":{\"base64\":\"%s\",\"chunked\":true}}}";

static emu_proc emu;
static qs_koji *koji;
static char out_path[128];

static void setup(void) {
    qs_log_init("test_koji", QS_LOG_ERROR);
    emu_prepare(&emu);
    /* a 3000-byte chunked file inline, and a 64 KiB file on disk */
    unsigned char blob[3000];
    memset(blob, 'z', sizeof blob);
    char *b64 = qs_base64_encode(blob, sizeof blob);
    size_t n = sizeof fixture + strlen(b64);
    char *text = malloc(n);
    snprintf(text, n, fixture, b64);
    free(b64);
    char fx[160], env_fixture[200], env_root[200], dir[200];
    emu_write_file(&emu, "fixture.json", text, fx, sizeof fx);
    free(text);
    snprintf(dir, sizeof dir, "%s/root/packages/disk/1/1/files/operator-manifests", emu.dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && head -c 65536 /dev/zero > '%s/big.zip'", dir, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(env_fixture, sizeof env_fixture, "KOJI_EMU_FIXTURE=%s", fx);
    snprintf(env_root, sizeof env_root, "KOJI_EMU_ROOT=%s/root", emu.dir);
    const char *env[] = {env_fixture, env_root, "KOJI_EMU_LISTEN=127.0.0.1:0", NULL};
    emu_start(&emu, "koji", env);
    char hub[128], root[128], err[256] = "";
    snprintf(hub, sizeof hub, "%s/kojihub", emu.base);
    snprintf(root, sizeof root, "%s/", emu.base);
    qs_koji_opts o = QS_KOJI_OPTS_INIT;
    o.hub_url = hub;
    o.root_url = root;
    o.timeout_ms = 5000;
    o.max_attempts = 3;
    o.backoff_base_ms = 10;
    koji = qs_koji_new(&o, err, sizeof err);
    cr_assert_not_null(koji, "%s", err);
    snprintf(out_path, sizeof out_path, "%s/download.zip", emu.dir);
}

static void teardown(void) {
    qs_koji_free(koji);
    koji = NULL;
    emu_stop(&emu);
}

TestSuite(koji, .init = setup, .fini = teardown, .timeout = 60);

static json_t *get_build(const char *nvr) {
    json_t *b = NULL;
    char err[256];
    int rc = qs_koji_get_build(koji, nvr, &b, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    return b;
}

Test(koji, get_build_found_and_nil) {
    json_t *b = get_build("op-1.0-1");
    cr_assert_str_eq(json_string_value(json_object_get(b, "name")), "op");
    cr_assert_null(json_object_get(b, "logs"), "emulator-only key leaked");
    json_decref(b);
    char err[256];
    cr_assert_eq(qs_koji_get_build(koji, "nope-1-1", &b, err, sizeof err), QS_ENOTFOUND);
    cr_assert_null(b);
    cr_assert_str_eq(err, "NVR not found: nope-1-1");
    long long v = 0;
    cr_assert_eq(qs_koji_api_version(koji, &v, err, sizeof err), 0, "%s", err);
    cr_assert_eq(v, 1);
}

Test(koji, unknown_method_fault) {
    json_t *r = NULL;
    long code = 0;
    char err[256];
    cr_assert_eq(qs_koji_call(koji, "frobnicate", NULL, &r, &code, err, sizeof err), QS_EPROTO);
    cr_assert_eq(code, 1000);
    cr_assert_not_null(strstr(err, "Invalid method: frobnicate"), "%s", err);
}

Test(koji, archive_names) {
    const char *name;
    bool legacy;
    json_t *b = get_build("op-1.0-1");
    cr_assert_eq(qs_koji_archive_name(b, &name, &legacy), 0);
    cr_assert_str_eq(name, "operator_manifests.zip");
    cr_assert_not(legacy, "typeinfo wins over the legacy key");
    json_decref(b);
    b = get_build("legacy-2.0-3");
    cr_assert_eq(qs_koji_archive_name(b, &name, &legacy), 0);
    cr_assert(legacy);
    json_decref(b);
    b = get_build("plain-1-1");
    cr_assert_eq(qs_koji_archive_name(b, &name, &legacy), QS_EINVAL);
    char *url = NULL, err[256];
    cr_assert_eq(qs_koji_archive_url(koji, b, &url, err, sizeof err), QS_EINVAL);
    cr_assert_str_eq(err, "Not an operator image: plain-1-1");
    json_decref(b);
}

Test(koji, archive_urls) {
    char *url = NULL, err[256];
    json_t *b = get_build("op-1.0-1");
    cr_assert_eq(qs_koji_archive_url(koji, b, &url, err, sizeof err), 0, "%s", err);
    char want[256];
    snprintf(want, sizeof want,
             "%s/packages/op/1.0/1/files/operator-manifests/"
             "operator_manifests.zip",
             emu.base);
    cr_assert_str_eq(url, want);
    free(url);
    json_object_set_new(b, "volume_name", json_string("vol2"));
    url = qs_koji_build_file_url("https://k/", b, "a.zip");
    cr_assert_str_eq(url, "https://k/vol/vol2/packages/op/1.0/1/files/operator-manifests/a.zip");
    free(url);
    cr_assert_null(qs_koji_build_file_url("https://k", b, "../a.zip"));
    json_decref(b);

    b = get_build("legacy-2.0-3");
    cr_assert_eq(qs_koji_archive_url(koji, b, &url, err, sizeof err), 0, "%s", err);
    snprintf(want, sizeof want, "%s/packages/legacy/2.0/3/data/logs/noarch/operator_manifests.zip",
             emu.base);
    cr_assert_str_eq(url, want);
    free(url);
    json_decref(b);
    cr_assert_eq(emu_calls(&emu, "POST /kojihub"), 3);

    b = get_build("gone-1-1");
    cr_assert_eq(qs_koji_archive_url(koji, b, &url, err, sizeof err), QS_ENOTFOUND);
    cr_assert_str_eq(err, "Expected archive 'x.zip' with manifests not found in build: gone-1-1");
    json_decref(b);
}

Test(koji, download_within_limit) {
    char *url = NULL, err[256];
    json_t *b = get_build("legacy-2.0-3");
    cr_assert_eq(qs_koji_archive_url(koji, b, &url, err, sizeof err), 0);
    json_decref(b);
    int64_t n = 0;
    cr_assert_eq(qs_koji_download(koji, url, out_path, 1024, &n, err, sizeof err), 0, "%s", err);
    free(url);
    cr_assert_eq(n, 5);
    FILE *f = fopen(out_path, "r");
    char got[16] = "";
    cr_assert_not_null(f);
    cr_assert_eq(fread(got, 1, sizeof got, f), 5);
    fclose(f);
    cr_assert(memcmp(got, "hello", 5) == 0);
    /* O_EXCL: an existing file is never overwritten */
    char u2[256];
    snprintf(u2, sizeof u2, "%s/packages/disk/1/1/files/operator-manifests/big.zip", emu.base);
    cr_assert_eq(qs_koji_download(koji, u2, out_path, 0, &n, err, sizeof err), QS_ERR);
    unlink(out_path);
    cr_assert_eq(qs_koji_download(koji, u2, out_path, 65536, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 65536);
}

Test(koji, download_over_limit_leaves_nothing) {
    char url[256], err[256];
    struct stat st;
    int64_t n = -1;
    snprintf(url, sizeof url, "%s/packages/disk/1/1/files/operator-manifests/big.zip", emu.base);
    cr_assert_eq(qs_koji_download(koji, url, out_path, 65535, &n, err, sizeof err), QS_ETOOBIG);
    cr_assert_neq(stat(out_path, &st), 0, "partial file left behind");
    /* no Content-Length: the limit is enforced while streaming */
    snprintf(url, sizeof url, "%s/packages/big/1/1/chunked.bin", emu.base);
    cr_assert_eq(qs_koji_download(koji, url, out_path, 1000, &n, err, sizeof err), QS_ETOOBIG);
    cr_assert_neq(stat(out_path, &st), 0, "partial file left behind");
    cr_assert_eq(qs_koji_download(koji, url, out_path, 3000, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 3000);
    unlink(out_path);
    snprintf(url, sizeof url, "%s/packages/none/1/1/files/operator-manifests/x.zip", emu.base);
    cr_assert_eq(qs_koji_download(koji, url, out_path, 0, &n, err, sizeof err), QS_ENOTFOUND);
    cr_assert_neq(stat(out_path, &st), 0);
}

Test(koji, hub_503_retried) {
    qs_buf b = QS_BUF_INIT;
    cr_assert_eq(emu_call(&emu, "POST", "/_emulator/faults",
                          "{\"path_prefix\":\"/kojihub\",\"status\":503,\"count\":1}", &b),
                 201);
    json_t *build = get_build("op-1.0-1");
    json_decref(build);
    cr_assert_eq(emu_calls(&emu, "POST /kojihub"), 2);
    cr_assert_eq(emu_call(&emu, "POST", "/_emulator/faults",
                          "{\"path_prefix\":\"/kojihub\",\"status\":503,\"count\":-1}", &b),
                 201);
    char err[256];
    cr_assert_eq(qs_koji_get_build(koji, "op-1.0-1", &build, err, sizeof err), QS_EUNAVAIL);
    cr_assert_not_null(strstr(err, "503"), "%s", err);
    qs_buf_free(&b);
}
