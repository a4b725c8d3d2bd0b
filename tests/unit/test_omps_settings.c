/* test_omps_settings.c — omps's configuration: the OMPS_CONF_FILE YAML (organizations and the
 * lower-case settings; every unknown key, wrong type and bad rule refused with a message
 * naming it), the environment's precedence over the file, and CA_URL (a PEM check, then a
 * bundle of the system CAs plus the fetched one, served here by the Koji emulator's file
 * server; a 404 or a file that is no certificate stops the start). Criterion runs every test
 * in its own process, so setenv does not leak between tests. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu_spawn.h"
#include "omps/ca.h"
#include "omps/conf_file.h"
#include "omps/settings.h"
#include "shared/common.h"
#include "shared/config.h"
#include "shared/log.h"

/* ---- helpers ---- */

static size_t parse(const char *yaml, omps_conf_file *out, qs_conf *errs) {
    json_t *root = NULL;
    char err[256] = "";
    cr_assert_eq(qs_yaml_parse(yaml, strlen(yaml), &root, err, sizeof err), 0, "%s", err);
    size_t n = omps_conf_file_parse(root, "conf.yaml", out, errs);
    json_decref(root);
    return n;
}

/* Is there an error containing `needle`? */
static bool has_error(qs_conf *errs, const char *needle) {
    for (size_t i = 0; i < qs_conf_error_count(errs); i++)
        if (strstr(qs_conf_error_at(errs, i), needle))
            return true;
    return false;
}

static void dump_errors(qs_conf *errs) {
    for (size_t i = 0; i < qs_conf_error_count(errs); i++)
        cr_log_info("error: %s", qs_conf_error_at(errs, i));
}

static char tmp[64];

static void setup(void) {
    qs_log_init("test_omps_settings", QS_LOG_ERROR);
    strcpy(tmp, "/tmp/test_omps_settings.XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    static const char *const vars[] = {"LISTEN_ADDR",
                                       "QUAY_URL",
                                       "KOJIHUB_URL",
                                       "KOJIROOT_URL",
                                       "REQUEST_TIMEOUT",
                                       "PUSH_TIMEOUT",
                                       "DEFAULT_RELEASE_VERSION",
                                       "ZIPFILE_MAX_UNCOMPRESSED_SIZE",
                                       "MAX_CONTENT_LENGTH",
                                       "REDIS_URL",
                                       "OMPS_CONF_FILE",
                                       "WORKERS_NUM",
                                       "CA_URL",
                                       "GRACE_PERIOD",
                                       "LOG_LEVEL"};
    for (size_t i = 0; i < QS_ARRAY_LEN(vars); i++)
        unsetenv(vars[i]);
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    cr_assert_eq(system(cmd), 0);
}

static const char *write_tmp(const char *name, const char *text) {
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

TestSuite(omps_conf, .init = setup, .fini = teardown);

/* ---- the configuration file ---- */

Test(omps_conf, a_complete_file_is_taken_as_written) {
    const char *tokfile = write_tmp("oauth", "  from-a-file\n");
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "organizations:\n"
             "  public-org:\n"
             "    public: true\n"
             "    oauth_token: inline-token\n"
             "    replace_registry:\n"
             "      - {old: quay.io, new: registry.example.com}\n"
             "      - {old: '^(image: )old[.]io/', new: '\\1new.io/', regexp: true}\n"
             "    package_name_suffix: -suffix\n"
             "    csv_annotations:\n"
             "      - {name: marketplace.openshift.io/remote-workflow, value: 'x/{package_name}'}\n"
             "  file-org:\n"
             "    public: true\n"
             "    oauth_token_file: %s\n"
             "  private_org:\n"
             "default_release_version: 0.1.0\n"
             "request_timeout: 12\n"
             "max_content_length: 1000\n"
             "secret_key: ignored\n"
             "debug: false\n",
             tokfile);
    qs_conf *errs = qs_conf_new();
    omps_conf_file f;
    size_t n = parse(yaml, &f, errs);
    dump_errors(errs);
    cr_assert_eq(n, 0);
    cr_assert_eq(f.n_orgs, 3);
    const omps_org *o = omps_conf_file_org(&f, "public-org");
    cr_assert_str_eq(o->name, "public-org");
    cr_assert(o->public_);
    cr_assert(omps_org_publishes(o));
    cr_assert_eq(o->view.n_replace, 2);
    cr_assert_str_eq(o->view.replace_registry[0].old_text, "quay.io");
    cr_assert_not(o->view.replace_registry[0].regexp);
    cr_assert(o->view.replace_registry[1].regexp);
    cr_assert_str_eq(o->view.package_name_suffix, "-suffix");
    cr_assert_eq(o->view.n_annotations, 1);
    cr_assert_str_eq(o->view.csv_annotations[0].value, "x/{package_name}");
    char *tok = NULL;
    cr_assert_eq(omps_org_oauth_token(o, &tok), 0);
    cr_assert_str_eq(tok, "inline-token");
    qs_secret_release(tok);
    o = omps_conf_file_org(&f, "file-org");
    cr_assert_eq(omps_org_oauth_token(o, &tok), 0);
    cr_assert_str_eq(tok, "from-a-file"); /* trimmed, read from the file */
    qs_secret_release(tok);
    o = omps_conf_file_org(&f, "private_org");
    cr_assert_not(o->public_);
    cr_assert_not(omps_org_publishes(o));
    cr_assert_eq(omps_org_oauth_token(o, &tok), QS_ENOTFOUND);
    /* an organization nobody configured gets the defaults; names are case-sensitive */
    o = omps_conf_file_org(&f, "Public-Org");
    cr_assert_eq(o, &omps_org_default);
    cr_assert_not(o->public_);
    cr_assert_eq(o->view.n_replace, 0);
    cr_assert_str_eq(json_string_value(omps_conf_file_value(&f, "default_release_version")),
                     "0.1.0");
    omps_conf_file_free(&f);
    qs_conf_free(errs);
}

Test(omps_conf, every_problem_is_reported_with_its_path) {
    const char *yaml = "organizations:\n"
                       "  myorg:\n"
                       "    public: yes-please\n"
                       "    oauth_tokn: typo\n"
                       "    replace_registry:\n"
                       "      - {old: a}\n"
                       "      - {old: '(', new: x, regexp: true}\n"
                       "      - {old: '(a)', new: '\\2', regexp: true}\n"
                       "      - {old: x, new: y, regex: true}\n"
                       "    csv_annotations:\n"
                       "      - {name: a, value: '{unknown}'}\n"
                       "      - {name: b}\n"
                       "  'bad name!':\n"
                       "    public: false\n"
                       "  lonely:\n"
                       "    public: true\n"
                       "  both:\n"
                       "    oauth_token: a\n"
                       "    oauth_token_file: /x\n"
                       "  nofile:\n"
                       "    public: true\n"
                       "    oauth_token_file: /nonexistent/token\n"
                       "default_release_version: '1.0'\n"
                       "zipfile_max_uncompressed_size: -5\n"
                       "request_timeout: soon\n"
                       "greenwave: {url: x}\n"
                       "kojihub: typo\n";
    qs_conf *errs = qs_conf_new();
    omps_conf_file f;
    size_t n = parse(yaml, &f, errs);
    dump_errors(errs);
    cr_assert(has_error(errs, "organizations.myorg.public must be true or false"));
    cr_assert(has_error(errs, "organizations.myorg.oauth_tokn: unknown key"));
    cr_assert(has_error(errs, "organizations.myorg.replace_registry[0].new is required"));
    cr_assert(has_error(errs, "replace_registry[1]"));      /* the regexp does not compile */
    cr_assert(has_error(errs, "replace_registry[2]: new")); /* \2: no such group */
    cr_assert(has_error(errs, "replace_registry[3].regex: unknown key"));
    cr_assert(has_error(errs, "csv_annotations[0]")); /* {unknown} does not format */
    cr_assert(has_error(errs, "csv_annotations[1].value is required"));
    cr_assert(has_error(errs, "organization name \"bad name!\" must match"));
    cr_assert(has_error(errs, "organizations.lonely: public: true needs oauth_token"));
    cr_assert(has_error(errs, "organizations.both: set oauth_token or oauth_token_file"));
    cr_assert(has_error(errs, "organizations.nofile.oauth_token_file /nonexistent/token cannot be "
                              "read"));
    cr_assert(has_error(errs, "default_release_version \"1.0\" must match"));
    cr_assert(has_error(errs, "zipfile_max_uncompressed_size must be a positive number"));
    cr_assert(has_error(errs, "request_timeout must be a positive number of seconds"));
    cr_assert(has_error(errs, "conf.yaml: greenwave.context is required")); /* greenwave.c */
    cr_assert(has_error(errs, "conf.yaml: kojihub: unknown key"));
    cr_assert_geq(n, 18);
    cr_assert_eq(n, qs_conf_error_count(errs));
    omps_conf_file_free(&f);
    qs_conf_free(errs);
}

Test(omps_conf, wrong_shapes_are_refused_not_crashed_on) {
    static const char *const cases[][2] = {
        {"- a\n- b\n", "must be a mapping"},
        {"organizations: [a, b]\n", "organizations must be a mapping"},
        {"organizations:\n  o: 5\n", "organizations.o must be a mapping"},
        {"organizations:\n  o:\n    replace_registry: {old: a, new: b}\n",
         "replace_registry must be a list"},
        {"organizations:\n  o:\n    replace_registry: [5]\n",
         "replace_registry[0] must be a mapping"},
        {"organizations:\n  o:\n    csv_annotations: x\n", "csv_annotations must be a list"},
        {"organizations:\n  o:\n    oauth_token: 12345\n", "oauth_token must be a string"},
        {"organizations:\n  o:\n    package_name_suffix: [x]\n",
         "package_name_suffix must be a string"},
        {"kojihub_url: 5\n", "kojihub_url must be a string"},
        {"debug: 3\n", "debug must be true or false"},
    };
    for (size_t i = 0; i < QS_ARRAY_LEN(cases); i++) {
        qs_conf *errs = qs_conf_new();
        omps_conf_file f;
        size_t n = parse(cases[i][0], &f, errs);
        cr_assert_geq(n, 1, "case %zu accepted", i);
        cr_assert(has_error(errs, cases[i][1]), "case %zu: %s", i,
                  qs_conf_error_count(errs) ? qs_conf_error_at(errs, 0) : "(none)");
        omps_conf_file_free(&f);
        qs_conf_free(errs);
    }
    /* an empty file is no configuration at all */
    qs_conf *errs = qs_conf_new();
    omps_conf_file f;
    cr_assert_eq(omps_conf_file_parse(NULL, "x", &f, errs), 0);
    cr_assert_eq(f.n_orgs, 0);
    omps_conf_file_free(&f);
    qs_conf_free(errs);
}

/* ---- settings: environment, file, defaults ---- */

Test(omps_conf, defaults_without_anything) {
    omps_settings s;
    cr_assert_eq(omps_settings_load(&s), 0);
    cr_assert_str_eq(s.listen_addr, "0.0.0.0:8080");
    cr_assert_str_eq(s.quay_url, "https://quay.io");
    cr_assert_str_eq(s.kojihub_url, "https://koji.fedoraproject.org/kojihub");
    cr_assert_str_eq(s.kojiroot_url, "https://kojipkgs.fedoraproject.org/");
    cr_assert_str_eq(s.default_release_version, "1.0.0");
    cr_assert_eq(s.max_uncompressed, 20 * 1024 * 1024);
    cr_assert_eq(s.max_content_length, 2 * 1024 * 1024);
    cr_assert_eq(s.workers, 8);
    cr_assert_null(s.ca_url);
    cr_assert_eq(s.log_level, QS_LOG_INFO);
    cr_assert(s.lock_ttl > s.push_timeout, "the lock outlives a push");
    omps_settings_free(&s);
}

Test(omps_conf, the_environment_wins_over_the_file) {
    const char *path = write_tmp("conf.yaml", "default_release_version: 0.0.1\n"
                                              "max_content_length: 1000\n"
                                              "kojihub_url: http://hub.from.file/kojihub\n"
                                              "log_level: DEBUG\n"
                                              "organizations: {x: {package_name_suffix: -s}}\n");
    setenv("OMPS_CONF_FILE", path, 1);
    setenv("MAX_CONTENT_LENGTH", "4096", 1);
    setenv("QUAY_URL", "http://127.0.0.1:9/", 1);
    setenv("WORKERS_NUM", "3", 1);
    omps_settings s;
    int n = omps_settings_load(&s);
    dump_errors(s.conf);
    cr_assert_eq(n, 0);
    cr_assert_str_eq(s.default_release_version, "0.0.1"); /* file */
    cr_assert_eq(s.max_content_length, 4096);             /* environment */
    cr_assert_str_eq(s.kojihub_url, "http://hub.from.file/kojihub");
    cr_assert_str_eq(s.quay_url, "http://127.0.0.1:9"); /* trailing '/' dropped */
    cr_assert_eq(s.log_level, QS_LOG_DEBUG);            /* upper case accepted */
    cr_assert_eq(s.workers, 3);
    cr_assert_str_eq(omps_conf_file_org(&s.file, "x")->suffix, "-s");
    omps_settings_free(&s);
}

Test(omps_conf, bad_environment_and_file_are_all_reported) {
    const char *path = write_tmp("conf.yaml", "organizations:\n  o:\n    colour: blue\n");
    setenv("OMPS_CONF_FILE", path, 1);
    setenv("DEFAULT_RELEASE_VERSION", "1.0", 1);
    setenv("QUAY_URL", "quay.io", 1);
    setenv("WORKERS_NUM", "0", 1);
    setenv("MAX_CONTENT_LENGTH", "lots", 1);
    setenv("LOG_LEVEL", "chatty", 1);
    setenv("CA_URL", "ftp://x/ca.pem", 1);
    omps_settings s;
    int n = omps_settings_load(&s);
    dump_errors(s.conf);
    cr_assert(has_error(s.conf, "organizations.o.colour: unknown key"));
    cr_assert(has_error(s.conf, "DEFAULT_RELEASE_VERSION \"1.0\" must match"));
    cr_assert(has_error(s.conf, "QUAY_URL must be an http:// or https:// URL"));
    cr_assert(has_error(s.conf, "WORKERS_NUM"));
    cr_assert(has_error(s.conf, "MAX_CONTENT_LENGTH"));
    cr_assert(has_error(s.conf, "LOG_LEVEL must be"));
    cr_assert(has_error(s.conf, "CA_URL must be an http"));
    cr_assert_eq(n, 7);
    omps_settings_free(&s);
}

Test(omps_conf, a_missing_or_broken_file_is_an_error) {
    setenv("OMPS_CONF_FILE", "/nonexistent/omps.yaml", 1);
    omps_settings s;
    cr_assert_eq(omps_settings_load(&s), 1);
    cr_assert(has_error(s.conf, "OMPS_CONF_FILE /nonexistent/omps.yaml"));
    omps_settings_free(&s);
    setenv("OMPS_CONF_FILE", write_tmp("bad.yaml", "organizations: [\n"), 1);
    cr_assert_eq(omps_settings_load(&s), 1);
    cr_assert(has_error(s.conf, "bad.yaml"));
    omps_settings_free(&s);
}

/* ---- CA_URL ---- */

/* A self-signed certificate in PEM (malloc'd). */
static char *make_cert_pem(void) {
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    cr_assert_not_null(key);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"omps-test-ca", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    cr_assert(X509_sign(x, key, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(key);
    return out;
}

Test(omps_conf, pem_check) {
    char *pem = make_cert_pem();
    char err[256] = "";
    cr_assert_eq(omps_ca_check_pem(pem, strlen(pem), err, sizeof err), 0, "%s", err);
    size_t n = strlen(pem);
    char *two = malloc(2 * n + 1);
    sprintf(two, "%s%s", pem, pem);
    cr_assert_eq(omps_ca_check_pem(two, 2 * n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(omps_ca_check_pem("hello", 5, err, sizeof err), QS_EINVAL);
    cr_assert(strstr(err, "no PEM certificate"));
    /* a damaged body inside the markers */
    char *bad = strdup(pem);
    memset(bad + 40, '!', 20);
    cr_assert_eq(omps_ca_check_pem(bad, n, err, sizeof err), QS_EINVAL);
    cr_assert(strstr(err, "not a valid PEM certificate"), "%s", err);
    free(bad);
    free(two);
    free(pem);
}

Test(omps_conf, ca_install_fetches_and_bundles_or_stops, .timeout = 60) {
    emu_proc emu;
    emu_prepare(&emu);
    char root[128], cmd[300], env_root[200];
    snprintf(root, sizeof root, "%s/root/packages", emu.dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", root);
    cr_assert_eq(system(cmd), 0);
    char *pem = make_cert_pem();
    char path[300];
    snprintf(path, sizeof path, "%s/ca.pem", root);
    FILE *f = fopen(path, "w");
    fputs(pem, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/not-a-cert.pem", root);
    f = fopen(path, "w");
    fputs("<html>login page</html>\n", f);
    fclose(f);
    snprintf(env_root, sizeof env_root, "KOJI_EMU_ROOT=%s/root", emu.dir);
    const char *env[] = {env_root, NULL};
    emu_start(&emu, "koji", env);

    char url[256], err[512] = "", *bundle = NULL;
    snprintf(url, sizeof url, "%s/packages/ca.pem", emu.base);
    cr_assert_eq(omps_ca_install(url, tmp, &bundle, err, sizeof err), 0, "%s", err);
    cr_assert_not_null(bundle);
    struct stat st;
    cr_assert_eq(stat(bundle, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(qs_read_file(bundle, 64u << 20, false, &text, &len), 0);
    cr_assert(strstr(text, pem), "the fetched CA is in the bundle");
    cr_assert(len > strlen(pem) + 100, "the system CAs are in the bundle too");
    free(text);
    char *copy = strdup(bundle);
    omps_ca_remove(bundle);
    cr_assert_neq(access(copy, F_OK), 0, "the bundle is removed");
    free(copy);

    snprintf(url, sizeof url, "%s/packages/missing.pem", emu.base);
    cr_assert_neq(omps_ca_install(url, tmp, &bundle, err, sizeof err), 0);
    cr_assert_null(bundle);
    cr_assert(strstr(err, "cannot fetch the certificate"), "%s", err);
    cr_assert(strstr(err, "404"), "%s", err);
    snprintf(url, sizeof url, "%s/packages/not-a-cert.pem", emu.base);
    cr_assert_eq(omps_ca_install(url, tmp, &bundle, err, sizeof err), QS_EINVAL);
    cr_assert(strstr(err, "no PEM certificate"), "%s", err);
    cr_assert_null(bundle);
    free(pem);
    emu_stop(&emu);
}
