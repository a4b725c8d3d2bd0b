/* test_config.c — environment accessors and their error collection, durations and booleans,
 * secret files through rotation and removal, qs_read_file, and the strict YAML loader. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "shared/common.h"
#include "shared/config.h"
#include "shared/log.h"

/* ---- environment ---- */

Test(conf_env, strings_and_required) {
    setenv("QS_T_STR", "hello", 1);
    setenv("QS_T_EMPTY", "", 1);
    unsetenv("QS_T_UNSET");
    qs_conf *c = qs_conf_new();
    const char *v = qs_conf_str(c, "QS_T_STR", "def");
    cr_assert_str_eq(v, "hello");
    setenv("QS_T_STR", "changed", 1);
    cr_assert_str_eq(v, "hello"); /* the copy lives as long as c */
    cr_assert_str_eq(qs_conf_str(c, "QS_T_EMPTY", "def"), "def");
    cr_assert_str_eq(qs_conf_str(c, "QS_T_UNSET", "def"), "def");
    cr_assert_null(qs_conf_str(c, "QS_T_UNSET", NULL));
    cr_assert_eq(qs_conf_error_count(c), 0);
    cr_assert_str_eq(qs_conf_required(c, "QS_T_STR"), "changed");
    cr_assert_null(qs_conf_required(c, "QS_T_EMPTY"));
    cr_assert_null(qs_conf_required(c, "QS_T_UNSET"));
    cr_assert_eq(qs_conf_error_count(c), 2);
    cr_assert_str_eq(qs_conf_error_at(c, 0), "QS_T_EMPTY is required");
    cr_assert_str_eq(qs_conf_error_at(c, 1), "QS_T_UNSET is required");
    cr_assert_null(qs_conf_error_at(c, 2));
    qs_conf_free(c);
}

Test(conf_env, int_ranges) {
    qs_conf *c = qs_conf_new();
    unsetenv("QS_T_INT");
    cr_assert_eq(qs_conf_int(c, "QS_T_INT", 7, 0, 10), 7);
    setenv("QS_T_INT", "10", 1);
    cr_assert_eq(qs_conf_int(c, "QS_T_INT", 7, 0, 10), 10);
    setenv("QS_T_INT", "-3", 1);
    cr_assert_eq(qs_conf_int(c, "QS_T_INT", 7, -5, 10), -3);
    cr_assert_eq(qs_conf_error_count(c), 0);
    setenv("QS_T_INT", "11", 1);
    cr_assert_eq(qs_conf_int(c, "QS_T_INT", 7, 0, 10), 7);
    cr_assert(strstr(qs_conf_error_at(c, 0), "QS_T_INT"));
    cr_assert(strstr(qs_conf_error_at(c, 0), "range"), "%s", qs_conf_error_at(c, 0));
    setenv("QS_T_INT", "12abc", 1);
    cr_assert_eq(qs_conf_int(c, "QS_T_INT", 7, 0, 100), 7);
    setenv("QS_T_INT", "abc", 1);
    cr_assert_eq(qs_conf_int(c, "QS_T_INT", 7, 0, 100), 7);
    setenv("QS_T_INT", "99999999999999999999999", 1);
    cr_assert_eq(qs_conf_int(c, "QS_T_INT", 7, 0, 100), 7);
    cr_assert_eq(qs_conf_error_count(c), 4);
    cr_assert(strstr(qs_conf_error_at(c, 1), "not an integer"), "%s", qs_conf_error_at(c, 1));
    qs_conf_free(c);
}

Test(conf_env, bools) {
    static const struct {
        const char *text;
        bool value;
    } good[] = {{"true", true},   {"TRUE", true},   {"1", true},  {"yes", true}, {"On", true},
                {"false", false}, {"False", false}, {"0", false}, {"NO", false}, {"off", false}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        bool b = !good[i].value;
        cr_assert_eq(qs_parse_bool(good[i].text, &b), QS_OK, "%s", good[i].text);
        cr_assert_eq(b, good[i].value, "%s", good[i].text);
    }
    static const char *bad[] = {"", "2", "y", "n", "tru", "yes ", "enable"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(qs_parse_bool(bad[i], NULL), QS_EINVAL, "%s", bad[i]);
    cr_assert_eq(qs_parse_bool(NULL, NULL), QS_EINVAL);

    qs_conf *c = qs_conf_new();
    setenv("QS_T_BOOL", "yes", 1);
    cr_assert_eq(qs_conf_bool(c, "QS_T_BOOL", false), true);
    setenv("QS_T_BOOL", "maybe", 1);
    cr_assert_eq(qs_conf_bool(c, "QS_T_BOOL", true), true);
    cr_assert_eq(qs_conf_bool(c, "QS_T_BOOL", false), false);
    unsetenv("QS_T_BOOL");
    cr_assert_eq(qs_conf_bool(c, "QS_T_BOOL", true), true);
    cr_assert_eq(qs_conf_error_count(c), 2);
    cr_assert(strstr(qs_conf_error_at(c, 0), "\"maybe\""));
    qs_conf_free(c);
}

Test(conf_env, durations) {
    static const struct {
        const char *text;
        double seconds;
    } good[] = {{"90", 90},      {"0", 0},
                {"1.5", 1.5},    {"90s", 90},
                {"15m", 900},    {"6h", 21600},
                {"1h30m", 5400}, {"250ms", 0.25},
                {"1.5h", 5400},  {"2h45m30.5s", 9930.5},
                {"100us", 1e-4}, {"100\xc2\xb5s", 1e-4},
                {"500ns", 5e-7}, {"1m1ms", 60.001},
                {".5s", 0.5},    {"0s", 0}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        double d = -1;
        cr_assert_eq(qs_parse_duration(good[i].text, &d), QS_OK, "%s", good[i].text);
        cr_assert_float_eq(d, good[i].seconds, 1e-9, "%s: %g", good[i].text, d);
    }
    static const char *bad[] = {"",    "abc", "1h30", "-5s", "5d",  "h",      "1.2.3s",
                                "5 s", "1hh", "s",    " 5",  "5s ", "1h-30m", "1e3s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(qs_parse_duration(bad[i], NULL), QS_EINVAL, "accepted \"%s\"", bad[i]);
    cr_assert_eq(qs_parse_duration(NULL, NULL), QS_EINVAL);
}

static double dur(qs_conf *c, const char *text, double def, double min, double max) {
    if (text)
        setenv("QS_T_DUR", text, 1);
    else
        unsetenv("QS_T_DUR");
    return qs_conf_duration(c, "QS_T_DUR", def, min, max);
}

Test(conf_env, duration_setting_and_range) {
    qs_conf *c = qs_conf_new();
    double d = dur(c, "1h30m", 5, 0, 86400);
    cr_assert_float_eq(d, 5400, 1e-9);
    d = dur(c, "2d", 5, 0, 86400);
    cr_assert_float_eq(d, 5, 1e-9);
    d = dur(c, "25h", 5, 0, 86400);
    cr_assert_float_eq(d, 5, 1e-9);
    d = dur(c, "10ms", 5, 1, 60);
    cr_assert_float_eq(d, 5, 1e-9);
    d = dur(c, NULL, 5, 0, 1);
    cr_assert_float_eq(d, 5, 1e-9);
    cr_assert_eq(qs_conf_error_count(c), 3);
    cr_assert(strstr(qs_conf_error_at(c, 0), "not a duration"));
    cr_assert(strstr(qs_conf_error_at(c, 1), "range"));
    qs_conf_free(c);
}

Test(conf_env, errors_accumulate_and_are_logged) {
    char logpath[] = "/tmp/qs_conf_log_XXXXXX";
    int fd = mkstemp(logpath);
    cr_assert(fd >= 0);
    qs_log_init("test", QS_LOG_DEBUG);
    qs_log_set_fd(fd);

    qs_conf *c = qs_conf_new();
    setenv("QS_T_A", "x", 1);
    setenv("QS_T_B", "x", 1);
    setenv("QS_T_C", "x", 1);
    unsetenv("QS_T_D");
    qs_conf_int(c, "QS_T_A", 1, 0, 9);
    qs_conf_bool(c, "QS_T_B", false);
    qs_conf_duration(c, "QS_T_C", 1, 0, 9);
    qs_conf_required(c, "QS_T_D");
    qs_conf_error(c, "custom problem %d", 42);
    cr_assert_eq(qs_conf_error_count(c), 5);
    cr_assert_str_eq(qs_conf_error_at(c, 4), "custom problem 42");
    cr_assert_eq(qs_conf_check(c), 5);
    qs_conf_free(c);
    qs_log_set_fd(2);

    char buf[8192] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(logpath);
    cr_assert(n > 0);
    size_t lines = 0;
    for (char *p = buf; (p = strchr(p, '\n')); p++)
        lines++;
    cr_assert_eq(lines, 5, "%s", buf);
    cr_assert(strstr(buf, "\"setting\":\"QS_T_A\""), "%s", buf);
    cr_assert(strstr(buf, "\"setting\":\"QS_T_D\""), "%s", buf);
    cr_assert(strstr(buf, "\"level\":\"error\""), "%s", buf);
    cr_assert(strstr(buf, "custom problem 42"), "%s", buf);
}

/* ---- files and secrets ---- */

static char dir[64];
static char path[128];

static void mkdir_tmp(void) {
    strcpy(dir, "/tmp/qs_conf_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/secret", dir);
}

static void rm_tmp(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (dir[0] && system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", dir);
}

static void write_file(const char *p, const char *text, time_t mtime) {
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    if (mtime) {
        struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
        cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
    }
}

static char *secret_value(qs_secret *s, int want_rc) {
    char *v = NULL;
    cr_assert_eq(qs_secret_get(s, &v), want_rc);
    return v;
}

TestSuite(secret, .init = mkdir_tmp, .fini = rm_tmp);

Test(secret, rotation_and_removal) {
    qs_secret *s = qs_secret_new(path);
    cr_assert_str_eq(qs_secret_path(s), path);
    cr_assert_null(secret_value(s, QS_ENOTFOUND)); /* not there yet */

    write_file(path, "  first-value \n", 1000000000);
    char *v = secret_value(s, QS_OK);
    cr_assert_str_eq(v, "first-value");
    qs_secret_release(v);
    cr_assert_not(qs_secret_changed(s));

    /* rewritten in place, different size */
    write_file(path, "second-value-longer\n", 1000000000);
    cr_assert(qs_secret_changed(s));
    cr_assert_not(qs_secret_changed(s));
    v = secret_value(s, QS_OK);
    cr_assert_str_eq(v, "second-value-longer");
    qs_secret_release(v);

    /* same size, same inode, only the mtime differs */
    write_file(path, "second-value-LONGER\n", 1000000100);
    v = secret_value(s, QS_OK);
    cr_assert_str_eq(v, "second-value-LONGER");
    qs_secret_release(v);

    /* same content, new mtime: re-read but not a change */
    write_file(path, "second-value-LONGER\n", 1000000200);
    cr_assert_not(qs_secret_changed(s));

    /* removed: the last value stays */
    cr_assert_eq(unlink(path), 0);
    v = secret_value(s, QS_OK);
    cr_assert_str_eq(v, "second-value-LONGER");
    qs_secret_release(v);
    cr_assert_not(qs_secret_changed(s));

    /* re-created (a Kubernetes-style swap via rename) */
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s/.tmp", dir);
    write_file(tmp, "third\n", 0);
    cr_assert_eq(rename(tmp, path), 0);
    v = secret_value(s, QS_OK);
    cr_assert_str_eq(v, "third");
    qs_secret_release(v);
    qs_secret_free(s);
}

Test(secret, empty_file_is_invalid) {
    write_file(path, " \n\t\n", 0);
    qs_secret *s = qs_secret_new(path);
    cr_assert_null(secret_value(s, QS_EINVAL));
    write_file(path, "now-set", 0);
    char *v = secret_value(s, QS_OK);
    cr_assert_str_eq(v, "now-set");
    qs_secret_release(v);
    qs_secret_release(NULL);
    qs_secret_free(s);
}

Test(secret, read_file) {
    write_file(path, "\n  line one\nline two  \n\n", 0);
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(qs_read_file(path, 1024, true, &out, &len), QS_OK);
    cr_assert_str_eq(out, "line one\nline two");
    cr_assert_eq(len, strlen("line one\nline two"));
    free(out);
    cr_assert_eq(qs_read_file(path, 1024, false, &out, &len), QS_OK);
    cr_assert_eq(len, 24);
    cr_assert_eq(out[0], '\n');
    free(out);
    cr_assert_eq(qs_read_file(path, 23, false, &out, &len), QS_ETOOBIG);
    cr_assert_null(out);
    cr_assert_eq(qs_read_file(path, 24, false, &out, NULL), QS_OK);
    free(out);
    cr_assert_eq(qs_read_file("/nonexistent/x", 10, false, &out, &len), QS_ENOTFOUND);
    cr_assert_eq(qs_read_file(dir, 10, false, &out, &len), QS_ENOTFOUND);
}

/* ---- YAML ---- */

static json_t *yaml_ok(const char *text) {
    json_t *v = NULL;
    char err[256] = "";
    int rc = qs_yaml_parse(text, strlen(text), &v, err, sizeof err);
    cr_assert_eq(rc, QS_OK, "%s", err);
    cr_assert_not_null(v);
    return v;
}

static void yaml_bad(const char *text, const char *want_in_err) {
    json_t *v = (json_t *)1;
    char err[256] = "";
    cr_assert_eq(qs_yaml_parse(text, strlen(text), &v, err, sizeof err), QS_EINVAL, "accepted: %s",
                 text);
    cr_assert_null(v);
    cr_assert(strstr(err, want_in_err), "error \"%s\" lacks \"%s\"", err, want_in_err);
    cr_assert_eq(strncmp(err, "line ", 5), 0, "%s", err);
}

Test(yaml, scalar_types) {
    json_t *v = yaml_ok("i: 42\nneg: -7\nplus: +3\nhex: 0x1F\noct: 0o17\nf: 1.5\ne: 1e3\n"
                        "dot: .5\nt: true\nT: True\nfa: FALSE\nn: null\ntilde: ~\nempty:\n"
                        "s: hello world\nq: \"42\"\nsq: 'true'\nyes: yes\nver: 1.10.0\n"
                        "inf: .inf\ncolon: a:b\n");
    cr_assert(json_is_integer(json_object_get(v, "i")));
    cr_assert_eq(json_integer_value(json_object_get(v, "i")), 42);
    cr_assert_eq(json_integer_value(json_object_get(v, "neg")), -7);
    cr_assert_eq(json_integer_value(json_object_get(v, "plus")), 3);
    cr_assert_eq(json_integer_value(json_object_get(v, "hex")), 31);
    cr_assert_eq(json_integer_value(json_object_get(v, "oct")), 15);
    cr_assert(json_is_real(json_object_get(v, "f")));
    cr_assert_float_eq(json_real_value(json_object_get(v, "f")), 1.5, 1e-12);
    cr_assert_float_eq(json_real_value(json_object_get(v, "e")), 1000, 1e-12);
    cr_assert_float_eq(json_real_value(json_object_get(v, "dot")), 0.5, 1e-12);
    cr_assert(json_is_true(json_object_get(v, "t")));
    cr_assert(json_is_true(json_object_get(v, "T")));
    cr_assert(json_is_false(json_object_get(v, "fa")));
    cr_assert(json_is_null(json_object_get(v, "n")));
    cr_assert(json_is_null(json_object_get(v, "tilde")));
    cr_assert(json_is_null(json_object_get(v, "empty")));
    cr_assert_str_eq(json_string_value(json_object_get(v, "s")), "hello world");
    cr_assert_str_eq(json_string_value(json_object_get(v, "q")), "42");
    cr_assert_str_eq(json_string_value(json_object_get(v, "sq")), "true");
    cr_assert_str_eq(json_string_value(json_object_get(v, "yes")), "yes"); /* YAML 1.2 */
    cr_assert_str_eq(json_string_value(json_object_get(v, "ver")), "1.10.0");
    cr_assert_str_eq(json_string_value(json_object_get(v, "inf")), ".inf");
    cr_assert_str_eq(json_string_value(json_object_get(v, "colon")), "a:b");
    json_decref(v);
}

Test(yaml, nested_and_explicit_str) {
    json_t *v = yaml_ok("top:\n  list:\n    - 1\n    - two\n    - {b: c, d: [x, 2.5]}\n"
                        "  flow: [true, null]\nstr: !!str 5\nblock: |\n  a\n  b\n");
    json_t *list = json_object_get(json_object_get(v, "top"), "list");
    cr_assert(json_is_array(list));
    cr_assert_eq(json_array_size(list), 3);
    cr_assert_eq(json_integer_value(json_array_get(list, 0)), 1);
    cr_assert_str_eq(json_string_value(json_array_get(list, 1)), "two");
    json_t *m = json_array_get(list, 2);
    cr_assert_str_eq(json_string_value(json_object_get(m, "b")), "c");
    cr_assert_float_eq(json_real_value(json_array_get(json_object_get(m, "d"), 1)), 2.5, 1e-12);
    json_t *flow = json_object_get(json_object_get(v, "top"), "flow");
    cr_assert(json_is_true(json_array_get(flow, 0)));
    cr_assert(json_is_null(json_array_get(flow, 1)));
    cr_assert_str_eq(json_string_value(json_object_get(v, "str")), "5");
    cr_assert_str_eq(json_string_value(json_object_get(v, "block")), "a\nb\n");
    json_decref(v);

    v = yaml_ok("- a\n- b\n");
    cr_assert(json_is_array(v));
    json_decref(v);
    v = yaml_ok("");
    cr_assert(json_is_null(v));
    json_decref(v);
    v = yaml_ok("first: 1\n---\nsecond: [unclosed\n"); /* only the first document */
    cr_assert_eq(json_integer_value(json_object_get(v, "first")), 1);
    cr_assert_null(json_object_get(v, "second"));
    json_decref(v);
}

Test(yaml, errors_with_positions) {
    yaml_bad("a: 1\nb: 2\na: 3\n", "line 3");
    yaml_bad("a: 1\nb: 2\na: 3\n", "duplicate key \"a\"");
    yaml_bad("outer:\n  x: 1\n  x: 2\n", "line 3, column 3");
    yaml_bad("a: &anchor 1\nb: *anchor\n", "anchor");
    yaml_bad("base: &b {x: 1}\nc:\n  <<: *b\n", "not allowed");
    yaml_bad("a: [1, 2\n", "line ");
    yaml_bad("a: b: c\n", "column");
    yaml_bad("a: !custom x\n", "tag");
    yaml_bad("? [a, b]\n: 1\n", "keys must be scalars");
    yaml_bad("big: 99999999999999999999999\n", "out of range");
}

Test(yaml, depth_limit) {
    char deep[200] = "";
    for (int i = 0; i < 64; i++)
        strcat(deep, "[");
    for (int i = 0; i < 64; i++)
        strcat(deep, "]");
    json_t *v = yaml_ok(deep);
    json_decref(v);
    char deeper[200] = "[";
    strcat(deeper, deep);
    strcat(deeper, "]");
    yaml_bad(deeper, "nesting");
}

static unsigned char *gzip_text(const char *text, size_t *outlen) {
    z_stream z;
    memset(&z, 0, sizeof z);
    cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, strlen(text)) + 64;
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)text;
    z.avail_in = (uInt)strlen(text);
    z.next_out = out;
    z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *outlen = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

Test(yaml, gzip_input) {
    /* big enough (≈ 200 KiB inflated) to need several output buffer growths */
    size_t n = 0;
    char *text = malloc(220000);
    strcpy(text, "name: zipped\nitems:\n");
    for (int i = 0; i < 10000; i++)
        sprintf(text + strlen(text), "  - %d\n", i);
    unsigned char *gz = gzip_text(text, &n);
    cr_assert_eq(gz[0], 0x1f);
    json_t *v = NULL;
    char err[256] = "";
    cr_assert_eq(qs_yaml_parse((const char *)gz, n, &v, err, sizeof err), QS_OK, "%s", err);
    cr_assert_str_eq(json_string_value(json_object_get(v, "name")), "zipped");
    cr_assert_eq(json_array_size(json_object_get(v, "items")), 10000);
    cr_assert_eq(json_integer_value(json_array_get(json_object_get(v, "items"), 9999)), 9999);
    json_decref(v);

    /* truncated gzip */
    v = NULL;
    cr_assert_eq(qs_yaml_parse((const char *)gz, n / 2, &v, err, sizeof err), QS_EINVAL);
    cr_assert_null(v);
    cr_assert(strstr(err, "gzip"), "%s", err);
    free(gz);
    free(text);
}

Test(yaml, gzip_bomb_capped) {
    /* 64 MiB + 1 byte of YAML comment inflates past the cap */
    size_t big = (size_t)64 * 1024 * 1024 + 1, n = 0;
    char *text = malloc(big + 1);
    memset(text, '#', big);
    text[big] = '\0';
    unsigned char *gz = gzip_text(text, &n);
    free(text);
    cr_assert(n < 1024 * 1024);
    json_t *v = NULL;
    char err[256] = "";
    cr_assert_eq(qs_yaml_parse((const char *)gz, n, &v, err, sizeof err), QS_EINVAL);
    cr_assert_null(v);
    cr_assert(strstr(err, "64 MiB"), "%s", err);
    free(gz);
}

Test(yaml, load_file_and_check_keys, .init = mkdir_tmp, .fini = rm_tmp) {
    write_file(path, "listen: \":8080\"\nredis: {url: redis://x, pool: 4}\nbogus: 1\ntypo: 2\n", 0);
    json_t *v = NULL;
    char err[256] = "";
    cr_assert_eq(qs_yaml_load_file(path, &v, err, sizeof err), QS_OK, "%s", err);
    qs_conf *c = qs_conf_new();
    static const char *const top[] = {"listen", "redis", NULL};
    static const char *const redis[] = {"url", NULL};
    cr_assert_eq(qs_json_check_keys(c, v, "config", top), 2);
    cr_assert_eq(qs_json_check_keys(c, json_object_get(v, "redis"), "config.redis", redis), 1);
    cr_assert_eq(qs_json_check_keys(c, json_object_get(v, "redis"), "r",
                                    (const char *const[]){"url", "pool", NULL}),
                 0);
    cr_assert_eq(qs_conf_error_count(c), 3);
    cr_assert(strstr(qs_conf_error_at(c, 0), "config.bogus"), "%s", qs_conf_error_at(c, 0));
    cr_assert(strstr(qs_conf_error_at(c, 1), "config.typo"));
    cr_assert(strstr(qs_conf_error_at(c, 2), "config.redis.pool"));
    cr_assert_eq(qs_json_check_keys(c, json_object_get(v, "listen"), "config.listen", top), 1);
    cr_assert_eq(qs_conf_error_count(c), 4);
    qs_conf_free(c);
    json_decref(v);

    write_file(path, "a: 1\na: 2\n", 0);
    v = NULL;
    cr_assert_eq(qs_yaml_load_file(path, &v, err, sizeof err), QS_EINVAL);
    cr_assert(strstr(err, path) && strstr(err, "line 2"), "%s", err);
    cr_assert_eq(qs_yaml_load_file("/nonexistent.yaml", &v, err, sizeof err), QS_ENOTFOUND);
}

/* ---- settings tables ---- */

static const qs_setting table[] = {
    {"QS_T_ADDR", "0.0.0.0:8090", "where to listen"},
    {"QS_T_TOKEN_FILE", "", "a secret"},
};

Test(settings, usage_lists_names_defaults_and_help) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    qs_settings_usage(f, table, 2);
    fclose(f);
    cr_assert(strstr(text, "QS_T_ADDR"));
    cr_assert(strstr(text, "where to listen [default: 0.0.0.0:8090]"));
    cr_assert(strstr(text, "QS_T_TOKEN_FILE"));
    cr_assert_null(strstr(text, "a secret [default"), "no default shown when there is none");
    free(text);
}

Test(settings, get_uses_env_then_default_and_rejects_unknown_names) {
    unsetenv("QS_T_ADDR");
    unsetenv("QS_T_TOKEN_FILE");
    qs_conf *c = qs_conf_new();
    cr_assert_str_eq(qs_settings_get(c, table, 2, "QS_T_ADDR"), "0.0.0.0:8090");
    cr_assert_null(qs_settings_get(c, table, 2, "QS_T_TOKEN_FILE"));
    setenv("QS_T_ADDR", "127.0.0.1:1", 1);
    cr_assert_str_eq(qs_settings_get(c, table, 2, "QS_T_ADDR"), "127.0.0.1:1");
    cr_assert_eq(qs_conf_error_count(c), 0);
    cr_assert_null(qs_settings_get(c, table, 2, "QS_T_NOT_THERE"));
    cr_assert_eq(qs_conf_error_count(c), 1);
    qs_conf_free(c);
    unsetenv("QS_T_ADDR");
}
