/* test_omps_zip.c — OMPS's zip checks (services/omps/zip_check.c) on archives built here with
 * libzip and, where libzip will not write the hostile form, patched byte by byte: flat and
 * nested layouts (reference/omps.md §F.1), the form and extension rule, and every refusal —
 * a 10 MiB-of-zeros member declared small (timed, and its peak RSS measured), nested zip
 * bombs, "../" and absolute entries, symlinks, encryption, a corrupt CRC, not a zip, empty,
 * 10 000 entries, duplicates, long names. After every failure the extraction directory must
 * be gone; after every success zip_check_release must remove it. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include "omps/zip_check.h"

/* ---- fixtures: a private base directory per test ---- */

static char base[64];   /* holds upload.zip and x/ */
static char xdir[80];   /* the base extraction directories are made under */
static char upload[80]; /* the archive under test */

static void setup(void) {
    strcpy(base, "/tmp/test_omps_zip.XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    snprintf(xdir, sizeof xdir, "%s/x", base);
    snprintf(upload, sizeof upload, "%s/upload.zip", base);
    cr_assert_eq(mkdir(xdir, 0700), 0);
}

static void teardown(void) { zip_check_remove_tree(base); }

TestSuite(omps_zip, .init = setup, .fini = teardown);

static size_t dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    size_t n = 0;
    const struct dirent *de;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

static bool exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

/* ---- building archives ---- */

enum { M_STORE = 1, M_SYMLINK = 2, M_AES = 4, M_PKWARE = 8, M_DIR = 16, M_FIFO = 32 };

typedef struct {
    const char *name;
    const void *data; /* NULL: the name as content */
    size_t len;
    int flags;
} member;

static void build_zip(const char *path, const member *m, size_t n) {
    int ze = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &ze);
    cr_assert_not_null(za, "zip_open %d", ze);
    for (size_t i = 0; i < n; i++) {
        zip_int64_t idx;
        if (m[i].flags & M_DIR) {
            idx = zip_dir_add(za, m[i].name, ZIP_FL_ENC_UTF_8);
        } else {
            const void *data = m[i].data ? m[i].data : m[i].name;
            size_t len = m[i].data ? m[i].len : strlen(m[i].name);
            zip_source_t *src = zip_source_buffer(za, data, len, 0);
            cr_assert_not_null(src);
            idx = zip_file_add(za, m[i].name, src, ZIP_FL_ENC_UTF_8);
        }
        cr_assert_geq(idx, 0, "add %s: %s", m[i].name, zip_strerror(za));
        zip_uint64_t u = (zip_uint64_t)idx;
        if (m[i].flags & M_STORE)
            cr_assert_eq(zip_set_file_compression(za, u, ZIP_CM_STORE, 0), 0);
        if (m[i].flags & (M_SYMLINK | M_FIFO)) {
            zip_uint32_t mode = (m[i].flags & M_SYMLINK ? S_IFLNK : S_IFIFO) | 0777;
            cr_assert_eq(zip_file_set_external_attributes(za, u, 0, ZIP_OPSYS_UNIX, mode << 16), 0);
        }
        if (m[i].flags & (M_AES | M_PKWARE)) {
            zip_uint16_t em = m[i].flags & M_AES ? ZIP_EM_AES_256 : ZIP_EM_TRAD_PKWARE;
            cr_assert_eq(zip_file_set_encryption(za, u, em, "secret"), 0, "%s", zip_strerror(za));
        }
    }
    cr_assert_eq(zip_close(za), 0, "zip_close: %s", zip_strerror(za));
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void spill(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static uint32_t le32(const unsigned char *p) {
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

/* Offsets of the central directory header and the local header of member `name`. */
static void find_member(const unsigned char *z, size_t len, const char *name, size_t *central,
                        size_t *local) {
    size_t nl = strlen(name);
    for (size_t i = 0; i + 46 <= len; i++)
        if (le32(z + i) == 0x02014b50 && le16(z + i + 28) == nl && i + 46 + nl <= len &&
            memcmp(z + i + 46, name, nl) == 0) {
            *central = i;
            *local = le32(z + i + 42);
            cr_assert_eq(le32(z + *local), 0x04034b50, "local header of %s", name);
            return;
        }
    cr_assert_fail("member %s not found", name);
}

/* Rewrite what member `name` declares in both headers: its uncompressed size (0xFFFFFFFF
 * leaves it), compression method (-1 leaves it) and general-purpose flag bits to set. */
static void patch_member(const char *path, const char *name, uint32_t size, int method,
                         uint16_t setflags) {
    size_t len, c, l;
    unsigned char *z = slurp(path, &len);
    find_member(z, len, name, &c, &l);
    cr_assert_neq(le32(z + c + 24), 0xFFFFFFFFu, "zip64 member: not patched here");
    if (size != 0xFFFFFFFFu) {
        put32(z + c + 24, size);
        put32(z + l + 22, size);
    }
    if (method >= 0) {
        put16(z + c + 10, (uint16_t)method);
        put16(z + l + 8, (uint16_t)method);
    }
    put16(z + c + 8, le16(z + c + 8) | setflags);
    put16(z + l + 6, le16(z + l + 6) | setflags);
    spill(path, z, len);
    free(z);
}

/* Replace every occurrence of `from` by `to` (same length) in the file: names in both
 * headers, or stored data. Returns how many were replaced. */
static int patch_bytes(const char *path, const char *from, const char *to) {
    size_t len, n = strlen(from);
    cr_assert_eq(strlen(to), n);
    unsigned char *z = slurp(path, &len);
    int hits = 0;
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(z + i, from, n) == 0) {
            memcpy(z + i, to, n);
            hits++;
        }
    spill(path, z, len);
    free(z);
    return hits;
}

/* ---- running the check ---- */

static void expect_fail(const zip_check_limits *lim, zip_check_code want, const char *needle) {
    zip_check_result r;
    zip_check_error err;
    zip_check_code c = zip_check_extract(upload, xdir, lim, &r, &err);
    cr_assert_eq(c, want, "got %s (%s), want %s", zip_check_code_name(c), err.message,
                 zip_check_code_name(want));
    cr_assert_eq(err.code, want);
    cr_assert(strstr(err.message, needle), "message '%s' lacks '%s'", err.message, needle);
    cr_assert_null(r.dir);
    cr_assert_null(r.files);
    cr_assert_eq(dir_entries(xdir), 0, "extraction directory left behind");
    cr_log_info("%-18s %s", zip_check_code_name(c), err.message);
}

static void expect_ok(const zip_check_limits *lim, zip_check_result *r) {
    zip_check_error err;
    zip_check_code c = zip_check_extract(upload, xdir, lim, r, &err);
    cr_assert_eq(c, ZIP_CHECK_OK, "%s: %s", zip_check_code_name(c), err.message);
    cr_assert_str_eq(err.message, "");
    cr_assert_not_null(r->dir);
    cr_assert_eq(strncmp(r->dir, xdir, strlen(xdir)), 0, "%s not under %s", r->dir, xdir);
    struct stat st;
    cr_assert_eq(lstat(r->dir, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0700);
}

static void release_and_check(zip_check_result *r) {
    char *dir = strdup(r->dir);
    cr_assert_eq(zip_check_release(r), 0);
    cr_assert_not(exists(dir), "%s still exists", dir);
    cr_assert_null(r->dir);
    cr_assert_eq(zip_check_release(r), 0, "twice is fine");
    free(dir);
}

static void assert_file(const zip_check_result *r, const char *rel, const char *content) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", r->dir, rel);
    struct stat st;
    cr_assert_eq(lstat(path, &st), 0, "%s missing", rel);
    cr_assert(S_ISREG(st.st_mode), "%s", rel);
    cr_assert_eq(st.st_mode & 0777, 0600, "%s mode %o", rel, st.st_mode & 0777);
    size_t len;
    unsigned char *p = slurp(path, &len);
    cr_assert_eq(len, strlen(content), "%s", rel);
    cr_assert_eq(memcmp(p, content, len), 0, "%s", rel);
    free(p);
}

/* ---- the form rule ---- */

Test(omps_zip, filename_rule) {
    static const struct {
        const char *name;
        zip_check_code code;
        const char *message;
    } cases[] = {
        {NULL, ZIP_CHECK_NO_FIELD, "No field \"file\" in uploaded data"},
        {"", ZIP_CHECK_NO_FILENAME, "No selected \"file\" in uploaded data"},
        {"manifests.zip", ZIP_CHECK_OK, ""},
        {"MANIFESTS.ZIP", ZIP_CHECK_OK, ""},
        {"a.tar.zip", ZIP_CHECK_OK, ""},
        {"dir.d/a.Zip", ZIP_CHECK_OK, ""},
        {"a.tar", ZIP_CHECK_BAD_EXTENSION,
         "Uploaded file extension \".tar\" is not any of {'.zip'}"},
        {"a.TAR", ZIP_CHECK_BAD_EXTENSION,
         "Uploaded file extension \".tar\" is not any of {'.zip'}"},
        {"a.zip.txt", ZIP_CHECK_BAD_EXTENSION, "extension \".txt\""},
        {"manifests", ZIP_CHECK_BAD_EXTENSION,
         "Uploaded file extension \"\" is not any of {'.zip'}"},
        {".zip", ZIP_CHECK_BAD_EXTENSION, "extension \"\""}, /* splitext: a dot file */
        {"..zip", ZIP_CHECK_BAD_EXTENSION, "extension \"\""},
        {"a.zip/b", ZIP_CHECK_BAD_EXTENSION, "extension \"\""}, /* only the base name counts */
        {"x.", ZIP_CHECK_BAD_EXTENSION, "extension \".\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zip_check_error err;
        zip_check_code c = zip_check_filename_ok(cases[i].name, &err);
        cr_assert_eq(c, cases[i].code, "%s: %s", cases[i].name ? cases[i].name : "(null)",
                     zip_check_code_name(c));
        cr_assert(strstr(err.message, cases[i].message), "%s", err.message);
        if (c == ZIP_CHECK_OK)
            cr_assert_str_eq(err.message, "");
    }
    cr_assert_eq(zip_check_filename_ok("a.zip", NULL), ZIP_CHECK_OK);
}

Test(omps_zip, omps_error_ids) {
    static const struct {
        zip_check_code code;
        const char *id;
        int status;
    } ids[] = {
        {ZIP_CHECK_NO_FIELD, "OMPSExpectedFileError", 400},
        {ZIP_CHECK_NO_FILENAME, "OMPSExpectedFileError", 400},
        {ZIP_CHECK_BAD_EXTENSION, "OMPSUploadedFileError", 400},
        {ZIP_CHECK_UPLOAD_TOO_LARGE, "RequestEntityTooLarge", 413},
        {ZIP_CHECK_NOT_ZIP, "OMPSUploadedFileError", 400},
        {ZIP_CHECK_TOO_LARGE, "OMPSUploadedFileError", 400},
        {ZIP_CHECK_ENCRYPTED, "OMPSUploadedFileError", 400},
        {ZIP_CHECK_CRC, "OMPSUploadedFileError", 400},
        {ZIP_CHECK_SYMLINK, "OMPSUploadedFileError", 400},
        {ZIP_CHECK_IO, "InternalServerError", 500},
        {ZIP_CHECK_NOMEM, "InternalServerError", 500},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        int status = 0;
        cr_assert_str_eq(zip_check_omps_error(ids[i].code, &status), ids[i].id);
        cr_assert_eq(status, ids[i].status);
    }
    int status = 0;
    cr_assert_null(zip_check_omps_error(ZIP_CHECK_OK, &status));
    cr_assert_eq(status, 200);
    for (int c = 1; c < ZIP_CHECK_CODE_COUNT; c++) { /* every refusal has an id and a name */
        cr_assert_not_null(zip_check_omps_error((zip_check_code)c, NULL), "code %d", c);
        cr_assert_str_neq(zip_check_code_name((zip_check_code)c), "unknown");
    }
}

Test(omps_zip, entry_names) {
    static const struct {
        const char *in;
        zip_check_code code;
        const char *out;
        bool dir;
    } cases[] = {
        {"csv.yaml", ZIP_CHECK_OK, "csv.yaml", false},
        {"0.9.2/etcd.crd.yaml", ZIP_CHECK_OK, "0.9.2/etcd.crd.yaml", false},
        {"0.9.2\\etcd.crd.yaml", ZIP_CHECK_OK, "0.9.2/etcd.crd.yaml", false},
        {"./a//b/./c", ZIP_CHECK_OK, "a/b/c", false},
        {"0.9.2/", ZIP_CHECK_OK, "0.9.2", true},
        {"0.9.2\\", ZIP_CHECK_OK, "0.9.2", true},
        {"./", ZIP_CHECK_OK, "", true},
        {"a..b/..c", ZIP_CHECK_OK, "a..b/..c", false},
        {"a:b.yaml", ZIP_CHECK_OK, "a:b.yaml", false}, /* not a drive on Linux */
        {"C:", ZIP_CHECK_UNSAFE_PATH, NULL, false},
        {"../x", ZIP_CHECK_UNSAFE_PATH, NULL, false},
        {"a/../../x", ZIP_CHECK_UNSAFE_PATH, NULL, false},
        {"a/..", ZIP_CHECK_UNSAFE_PATH, NULL, false},
        {"..\\x", ZIP_CHECK_UNSAFE_PATH, NULL, false},
        {"a\\..\\..\\x", ZIP_CHECK_UNSAFE_PATH, NULL, false},
        {"/etc/passwd", ZIP_CHECK_UNSAFE_PATH, NULL, false},
        {"\\evil", ZIP_CHECK_UNSAFE_PATH, NULL, false},
        {"C:/evil", ZIP_CHECK_UNSAFE_PATH, NULL, false},
        {"c:\\evil", ZIP_CHECK_UNSAFE_PATH, NULL, false},
        {".", ZIP_CHECK_UNSAFE_PATH, NULL, false},
        {"", ZIP_CHECK_UNSAFE_PATH, NULL, false},
        {"bad\xff.yaml", ZIP_CHECK_UNSAFE_PATH, NULL, false},
        {"a/b/c/d/e", ZIP_CHECK_NAME_TOO_LONG, NULL, false}, /* depth 5 > 4 below */
    };
    zip_check_limits lim = ZIP_CHECK_LIMITS_INIT;
    lim.max_depth = 4;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64] = "?";
        bool dir = !cases[i].dir;
        zip_check_code c = zip_check_entry_name(cases[i].in, &lim, out, sizeof out, &dir);
        cr_assert_eq(c, cases[i].code, "'%s': %s", cases[i].in, zip_check_code_name(c));
        if (cases[i].out) {
            cr_assert_str_eq(out, cases[i].out, "'%s'", cases[i].in);
            cr_assert_eq(dir, cases[i].dir, "'%s'", cases[i].in);
        }
    }
    char big[300], out[600];
    memset(big, 'a', 256);
    big[256] = '\0'; /* one component over NAME_MAX */
    bool dir;
    cr_assert_eq(zip_check_entry_name(big, NULL, out, sizeof out, &dir), ZIP_CHECK_NAME_TOO_LONG);
    big[255] = '\0';
    cr_assert_eq(zip_check_entry_name(big, NULL, out, sizeof out, &dir), ZIP_CHECK_OK);
    cr_assert_eq(zip_check_entry_name(big, NULL, out, 100, &dir), ZIP_CHECK_NAME_TOO_LONG);
}

/* ---- accepted layouts ---- */

#define PKG_YAML "packageName: marketplace\nchannels:\n- name: alpha\n"
#define CSV_YAML "kind: ClusterServiceVersion\nmetadata:\n  name: marketplace-operator.v0.0.1\n"
#define CRD_YAML "kind: CustomResourceDefinition\n"

Test(omps_zip, flat_layout) {
    const member m[] = {{"packages.yaml", PKG_YAML, strlen(PKG_YAML), 0},
                        {"csv.yaml", CSV_YAML, strlen(CSV_YAML), M_STORE},
                        {"crd.yml", CRD_YAML, strlen(CRD_YAML), 0}};
    build_zip(upload, m, 3);
    zip_check_result r;
    expect_ok(NULL, &r);
    cr_assert_eq(r.nfiles, 3);
    cr_assert_str_eq(r.files[0], "crd.yml"); /* sorted, as extracted_files */
    cr_assert_str_eq(r.files[1], "csv.yaml");
    cr_assert_str_eq(r.files[2], "packages.yaml");
    cr_assert_eq(r.nbytes, strlen(PKG_YAML) + strlen(CSV_YAML) + strlen(CRD_YAML));
    assert_file(&r, "packages.yaml", PKG_YAML);
    assert_file(&r, "csv.yaml", CSV_YAML);
    assert_file(&r, "crd.yml", CRD_YAML);
    cr_assert_eq(dir_entries(r.dir), 3);
    release_and_check(&r);
    cr_assert_eq(dir_entries(xdir), 0);
}

Test(omps_zip, nested_layout) {
    static const char *const files[] = {
        "0.6.1/etcdcluster.crd.yaml",
        "0.6.1/etcdoperator.clusterserviceversion.yaml",
        "0.9.0/etcdbackup.crd.yaml",
        "0.9.0/etcdcluster.crd.yaml",
        "0.9.0/etcdoperator.v0.9.0.clusterserviceversion.yaml",
        "0.9.0/etcdrestore.crd.yaml",
        "0.9.2/etcdbackup.crd.yaml",
        "0.9.2/etcdoperator.v0.9.2.clusterserviceversion.yaml",
        "etcd.package.yaml",
    };
    /* zip order is not sorted order; some directories have entries, others are implicit,
     * and one member uses Windows separators */
    const member m[] = {{"etcd.package.yaml", NULL, 0, 0},
                        {"0.9.2/", NULL, 0, M_DIR},
                        {"0.9.2/etcdoperator.v0.9.2.clusterserviceversion.yaml", NULL, 0, 0},
                        {"0.9.2\\etcdbackup.crd.yaml", NULL, 0, 0},
                        {"0.6.1/etcdcluster.crd.yaml", NULL, 0, 0},
                        {"0.6.1/etcdoperator.clusterserviceversion.yaml", NULL, 0, 0},
                        {"./0.9.0/etcdbackup.crd.yaml", NULL, 0, 0},
                        {"0.9.0/etcdcluster.crd.yaml", NULL, 0, M_STORE},
                        {"0.9.0/etcdrestore.crd.yaml", NULL, 0, 0},
                        {"0.9.0/etcdoperator.v0.9.0.clusterserviceversion.yaml", NULL, 0, 0},
                        {"./", NULL, 0, M_DIR}};
    build_zip(upload, m, sizeof m / sizeof m[0]);
    zip_check_result r;
    expect_ok(NULL, &r);
    cr_assert_eq(r.nfiles, sizeof files / sizeof files[0]);
    for (size_t i = 0; i < r.nfiles; i++)
        cr_assert_str_eq(r.files[i], files[i]);
    assert_file(&r, "0.9.2/etcdbackup.crd.yaml", "0.9.2\\etcdbackup.crd.yaml");
    assert_file(&r, "0.9.0/etcdbackup.crd.yaml", "./0.9.0/etcdbackup.crd.yaml");
    char sub[512];
    snprintf(sub, sizeof sub, "%s/0.9.0", r.dir);
    struct stat st;
    cr_assert_eq(lstat(sub, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0700);
    cr_assert_eq(dir_entries(r.dir), 4);
    release_and_check(&r);
}

Test(omps_zip, empty_archive_is_fine_here) {
    /* an end-of-central-directory record alone: a valid zip with nothing in it (the package
     * checks refuse it later, as OMPS does) */
    unsigned char eocd[22] = {'P', 'K', 5, 6};
    spill(upload, eocd, sizeof eocd);
    zip_check_result r;
    expect_ok(NULL, &r);
    cr_assert_eq(r.nfiles, 0);
    release_and_check(&r);
}

/* ---- zip bombs ---- */

#define MIB (1024u * 1024u)

static unsigned char *zeros_zip(const char *path, const char *name, size_t n, size_t *zlen) {
    unsigned char *zeros = calloc(1, n);
    cr_assert_not_null(zeros);
    const member m[] = {{name, zeros, n, 0}};
    build_zip(path, m, 1);
    free(zeros);
    return zlen ? slurp(path, zlen) : NULL;
}

/* Peak RSS in KiB; writing 5 to clear_refs resets it (Linux >= 4.0). */
static long vm_kib(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0)
            v = strtol(line + kl + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static bool reset_peak(void) {
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    bool ok = fd >= 0 && write(fd, "5", 1) == 1;
    if (fd >= 0)
        close(fd);
    return ok;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Run a check expected to fail and report its wall time and peak RSS growth. */
static void measured_fail(const char *what, zip_check_code want, const char *needle) {
    bool reset = reset_peak();
    long before = vm_kib(reset ? "VmHWM:" : "VmRSS:");
    double t0 = now_ms();
    expect_fail(NULL, want, needle);
    double ms = now_ms() - t0;
    long growth = vm_kib("VmHWM:") - before;
    cr_log_info("%s: rejected in %.2f ms, peak RSS growth %ld KiB%s", what, ms, growth,
                reset ? "" : " (peak not resettable: vs RSS)");
    fprintf(stderr, "MEASURE %s: %.2f ms, peak RSS +%ld KiB\n", what, ms, growth);
    if (getenv("QS_UNDER_VALGRIND"))
        return; /* memcheck's slowdown and shadow memory make both figures meaningless */
#ifndef __SANITIZE_ADDRESS__
    /* Wall-clock under ASan (several times slower, with other tests on 2 cores) says nothing
     * about the code; the release run keeps the bound, and tests/bench/omps measures it. */
    cr_assert_lt(ms, 50.0, "%s took %.2f ms", what, ms);
#endif
    cr_assert_lt(growth, 8 * 1024, "%s grew %ld KiB", what, growth);
}

Test(omps_zip, bomb_declared_small) {
    /* 10 MiB of zeros deflates to ~10 KiB; both headers then claim 100 bytes, so the
     * declared total is far under the limit and only counting inflated bytes catches it */
    size_t zlen;
    free(zeros_zip(upload, "bomb.yaml", 10 * MIB, &zlen));
    cr_assert_lt(zlen, 64 * 1024, "compressed to %zu", zlen);
    patch_member(upload, "bomb.yaml", 100, -1, 0);
    measured_fail("10 MiB zeros declared 100 B", ZIP_CHECK_SIZE_MISMATCH,
                  "File 'bomb.yaml' inflates to more than its declared size (100B)");
}

Test(omps_zip, bomb_declared_honestly) {
    /* the same member declared truthfully is over a 1 MiB limit: refused before inflating,
     * with OMPS's message */
    free(zeros_zip(upload, "bomb.yaml", 10 * MIB, NULL));
    zip_check_limits lim = ZIP_CHECK_LIMITS_INIT;
    lim.max_uncompressed = MIB;
    expect_fail(&lim, ZIP_CHECK_TOO_LARGE,
                "Uncompressed archive is larger than limit (10485760B>1048576B)");
    /* and under the default 20 MiB it is an ordinary 10 MiB file */
    zip_check_result r;
    expect_ok(NULL, &r);
    cr_assert_eq(r.nbytes, 10 * MIB);
    release_and_check(&r);
}

Test(omps_zip, bomb_measured_at_default_limit) {
    /* 24 MiB of zeros (over the default 20 MiB) declared 1 KiB: rejected after one chunk */
    free(zeros_zip(upload, "big.yaml", 24 * MIB, NULL));
    patch_member(upload, "big.yaml", 1024, -1, 0);
    measured_fail("24 MiB zeros declared 1 KiB", ZIP_CHECK_SIZE_MISMATCH, "'big.yaml'");
}

Test(omps_zip, declared_larger_than_data_is_corrupt) {
    const member m[] = {{"a.yaml", "short", 5, 0}};
    build_zip(upload, m, 1);
    patch_member(upload, "a.yaml", 50, -1, 0);
    expect_fail(NULL, ZIP_CHECK_CORRUPT, "File 'a.yaml' is corrupt");
}

Test(omps_zip, nested_zip_bombs_stay_files) {
    /* ten inner archives, each a 10 MiB-of-zeros bomb: 100 MiB if expanded, ~100 KiB as
     * files; a 1 MiB limit proves nothing inside them was inflated */
    char inner[96];
    snprintf(inner, sizeof inner, "%s/inner.zip", base);
    size_t ilen;
    unsigned char *ibytes = zeros_zip(inner, "zeros.yaml", 10 * MIB, &ilen);
    member m[11];
    char names[10][24];
    for (int i = 0; i < 10; i++) {
        snprintf(names[i], sizeof names[i], "bomb%d.zip", i);
        m[i] = (member){names[i], ibytes, ilen, i % 2 ? M_STORE : 0};
    }
    m[10] = (member){"packages.yaml", PKG_YAML, strlen(PKG_YAML), 0};
    build_zip(upload, m, 11);
    zip_check_limits lim = ZIP_CHECK_LIMITS_INIT;
    lim.max_uncompressed = MIB;
    zip_check_result r;
    double t0 = now_ms();
    expect_ok(&lim, &r);
    double ms = now_ms() - t0;
    fprintf(stderr, "MEASURE nested bombs: %.2f ms, %llu bytes written\n", ms,
            (unsigned long long)r.nbytes);
    cr_assert_eq(r.nfiles, 11);
    cr_assert_eq(r.nbytes, 10 * ilen + strlen(PKG_YAML));
    char path[512];
    snprintf(path, sizeof path, "%s/bomb3.zip", r.dir);
    size_t got;
    unsigned char *copy = slurp(path, &got);
    cr_assert_eq(got, ilen);
    cr_assert_eq(memcmp(copy, ibytes, ilen), 0, "inner zip written verbatim");
    free(copy);
    cr_assert_eq(dir_entries(r.dir), 11, "nothing unpacked beside the inner zips");
    release_and_check(&r);
    free(ibytes);
}

/* ---- hostile names and types ---- */

Test(omps_zip, dot_dot_entries) {
    static const char *const names[] = {"../evil.yaml", "a/../../evil.yaml", "..\\evil.yaml",
                                        "ok/..", "0.9.2\\..\\..\\evil.yaml"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const member m[] = {{"packages.yaml", PKG_YAML, strlen(PKG_YAML), 0},
                            {names[i], "evil", 4, 0}};
        build_zip(upload, m, 2);
        char want[128];
        snprintf(want, sizeof want, "Entry '%s' has an unsafe path ('..' component)", names[i]);
        expect_fail(NULL, ZIP_CHECK_UNSAFE_PATH, want);
    }
    cr_assert_not(exists("/tmp/evil.yaml"));
    cr_assert_eq(dir_entries(base), 2, "only upload.zip and x/");
}

Test(omps_zip, absolute_entries) {
    static const struct {
        const char *name, *why;
    } cases[] = {{"/tmp/evil.yaml", "absolute path"},
                 {"\\tmp\\evil.yaml", "absolute path"},
                 {"C:/evil.yaml", "drive letter"},
                 {"c:\\evil.yaml", "drive letter"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const member m[] = {{cases[i].name, "evil", 4, 0}};
        build_zip(upload, m, 1);
        expect_fail(NULL, ZIP_CHECK_UNSAFE_PATH, cases[i].why);
    }
    cr_assert_not(exists("/tmp/evil.yaml"));
}

Test(omps_zip, symlink_entry) {
    const member m[] = {{"packages.yaml", PKG_YAML, strlen(PKG_YAML), 0},
                        {"csv.yaml", "/etc/passwd", 11, M_SYMLINK | M_STORE}};
    build_zip(upload, m, 2);
    expect_fail(NULL, ZIP_CHECK_SYMLINK, "Entry 'csv.yaml' is a symbolic link");
}

Test(omps_zip, special_file_entry) {
    const member m[] = {{"fifo", "", 0, M_FIFO}};
    build_zip(upload, m, 1);
    expect_fail(NULL, ZIP_CHECK_SPECIAL_FILE, "Entry 'fifo' is a special file");
}

Test(omps_zip, encrypted_members) {
    const member aes[] = {{"packages.yaml", PKG_YAML, strlen(PKG_YAML), 0},
                          {"csv.yaml", CSV_YAML, strlen(CSV_YAML), M_AES}};
    build_zip(upload, aes, 2);
    expect_fail(NULL, ZIP_CHECK_ENCRYPTED,
                "File 'csv.yaml' is encrypted, password required for extraction");
    const member pk[] = {{"csv.yaml", CSV_YAML, strlen(CSV_YAML), M_PKWARE}};
    build_zip(upload, pk, 1);
    expect_fail(NULL, ZIP_CHECK_ENCRYPTED, "is encrypted");
}

Test(omps_zip, encrypted_checked_after_declared_size) {
    /* OMPS's order: the size check (step 5) comes before testzip (step 6) */
    unsigned char *zeros = calloc(1, 2 * MIB);
    const member m[] = {{"zeros", zeros, 2 * MIB, 0}, {"csv.yaml", "x", 1, M_AES}};
    build_zip(upload, m, 2);
    free(zeros);
    zip_check_limits lim = ZIP_CHECK_LIMITS_INIT;
    lim.max_uncompressed = MIB;
    expect_fail(&lim, ZIP_CHECK_TOO_LARGE, "Uncompressed archive is larger than limit");
}

Test(omps_zip, crc_corrupt) {
    const member m[] = {{"packages.yaml", PKG_YAML, strlen(PKG_YAML), 0},
                        {"csv.yaml", "CRC-TARGET stored content", 25, M_STORE}};
    build_zip(upload, m, 2);
    cr_assert_eq(patch_bytes(upload, "CRC-TARGET", "CRC-TARGEX"), 1);
    expect_fail(NULL, ZIP_CHECK_CRC, "CRC check failed for file csv.yaml in archive");
}

Test(omps_zip, unsupported_compression) {
    const member m[] = {{"csv.yaml", CSV_YAML, strlen(CSV_YAML), M_STORE}};
    build_zip(upload, m, 1);
    patch_member(upload, "csv.yaml", 0xFFFFFFFFu, 6, 0); /* 6: PKWARE implode */
    expect_fail(NULL, ZIP_CHECK_UNSUPPORTED, "File 'csv.yaml' is compressed with an unsupported");
}

Test(omps_zip, not_a_zip) {
    spill(upload, "packageName: x\n", 15);
    expect_fail(NULL, ZIP_CHECK_NOT_ZIP, "File is not a zip file");
    /* a real archive cut before its central directory */
    const member m[] = {{"packages.yaml", PKG_YAML, strlen(PKG_YAML), 0}};
    build_zip(upload, m, 1);
    size_t len;
    unsigned char *z = slurp(upload, &len);
    spill(upload, z, len - 30);
    free(z);
    expect_fail(NULL, ZIP_CHECK_NOT_ZIP, "File is not a zip file");
}

Test(omps_zip, empty_file) {
    spill(upload, "", 0);
    expect_fail(NULL, ZIP_CHECK_EMPTY, "File is not a zip file (the file is empty)");
}

Test(omps_zip, upload_size_limit) {
    const member m[] = {{"packages.yaml", PKG_YAML, strlen(PKG_YAML), 0}};
    build_zip(upload, m, 1);
    zip_check_limits lim = ZIP_CHECK_LIMITS_INIT;
    lim.max_file_size = 50;
    expect_fail(&lim, ZIP_CHECK_UPLOAD_TOO_LARGE, "exceeds the capacity limit");
}

static void many_entries(int n) {
    int ze = 0;
    zip_t *za = zip_open(upload, ZIP_CREATE | ZIP_TRUNCATE, &ze);
    cr_assert_not_null(za);
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%05d.yaml", i);
        zip_source_t *src = zip_source_buffer(za, "", 0, 0);
        cr_assert_geq(zip_file_add(za, name, src, 0), 0);
        zip_set_file_compression(za, (zip_uint64_t)i, ZIP_CM_STORE, 0);
    }
    cr_assert_eq(zip_close(za), 0);
}

Test(omps_zip, ten_thousand_entries) {
    /* refused from the end-of-central-directory record, before libzip parses 10 000 entries
     * (which alone takes ~50 ms and megabytes) */
    many_entries(10000);
    measured_fail("10000 entries", ZIP_CHECK_TOO_MANY_ENTRIES,
                  "Archive has too many entries (10000>1000)");
    /* a fake record with a small count after the real one does not hide it */
    many_entries(1500);
    size_t len;
    unsigned char *z = slurp(upload, &len);
    unsigned char fake[22] = {'P', 'K', 5, 6, 0, 0, 0, 0, 2, 0, 2, 0};
    unsigned char *grown = malloc(len + sizeof fake);
    memcpy(grown, z, len);
    memcpy(grown + len, fake, sizeof fake); /* trailing garbage shaped like a record */
    spill(upload, grown, len + sizeof fake);
    free(z);
    free(grown);
    expect_fail(NULL, ZIP_CHECK_TOO_MANY_ENTRIES, "(1500>1000)");
}

Test(omps_zip, entry_count_read_before_libzip) {
    /* the end record announces 5000 entries, the directory holds one: the announced count is
     * refused before libzip parses anything (libzip alone would call it inconsistent) */
    const member m[] = {{"packages.yaml", PKG_YAML, strlen(PKG_YAML), 0}};
    build_zip(upload, m, 1);
    size_t len;
    unsigned char *z = slurp(upload, &len);
    cr_assert_eq(le32(z + len - 22), 0x06054b50);
    put16(z + len - 22 + 8, 5000);
    put16(z + len - 22 + 10, 5000);
    spill(upload, z, len);
    free(z);
    expect_fail(NULL, ZIP_CHECK_TOO_MANY_ENTRIES, "(5000>1000)");
}

Test(omps_zip, entry_limit_is_configurable) {
    member m[6];
    char names[6][16];
    for (int i = 0; i < 6; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        m[i] = (member){names[i], NULL, 0, 0};
    }
    build_zip(upload, m, 6);
    zip_check_limits lim = ZIP_CHECK_LIMITS_INIT;
    lim.max_entries = 5;
    expect_fail(&lim, ZIP_CHECK_TOO_MANY_ENTRIES, "(6>5)");
    lim.max_entries = 6;
    zip_check_result r;
    expect_ok(&lim, &r);
    cr_assert_eq(r.nfiles, 6);
    release_and_check(&r);
}

Test(omps_zip, duplicate_names) {
    static const struct {
        const char *a, *b;
        zip_check_code code;
        const char *needle;
    } cases[] = {
        {"csv.yaml", "./csv.yaml", ZIP_CHECK_DUPLICATE, "Duplicate entry './csv.yaml'"},
        {"d/csv.yaml", "d\\csv.yaml", ZIP_CHECK_DUPLICATE, "Duplicate entry 'd\\csv.yaml'"},
        {"d//x", "d/x", ZIP_CHECK_DUPLICATE, "Duplicate entry"},
        {"a", "a/", ZIP_CHECK_DUPLICATE, "Duplicate entry"},         /* file and directory */
        {"a", "a/b.yaml", ZIP_CHECK_DUPLICATE, "needs a directory"}, /* file, then below it */
        {"a/b.yaml", "a", ZIP_CHECK_DUPLICATE, "is a file where the archive has a directory"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool dir = cases[i].b[strlen(cases[i].b) - 1] == '/';
        const member m[] = {{cases[i].a, NULL, 0, 0}, {cases[i].b, NULL, 0, dir ? M_DIR : 0}};
        build_zip(upload, m, 2);
        expect_fail(NULL, cases[i].code, cases[i].needle);
    }
    /* the very same name twice: libzip will not write it, so rename one in place */
    const member m[] = {{"dupA.yaml", "1", 1, 0}, {"dupB.yaml", "2", 1, 0}};
    build_zip(upload, m, 2);
    cr_assert_eq(patch_bytes(upload, "dupB.yaml", "dupA.yaml"), 2); /* local + central */
    expect_fail(NULL, ZIP_CHECK_DUPLICATE, "Duplicate entry 'dupA.yaml' in archive");
}

Test(omps_zip, long_names) {
    char name[2100];
    memset(name, 'n', 2000);
    name[2000] = '\0';
    const member m[] = {{name, "x", 1, 0}};
    build_zip(upload, m, 1);
    expect_fail(NULL, ZIP_CHECK_NAME_TOO_LONG, "is too long (name over the limit)");
    memset(name, 'n', 300); /* one component over 255 bytes */
    strcpy(name + 300, ".yaml");
    build_zip(upload, m, 1);
    expect_fail(NULL, ZIP_CHECK_NAME_TOO_LONG, "(path component over the limit)");
    name[0] = '\0';
    for (int i = 0; i < 40; i++)
        strcat(name, "d/");
    strcat(name, "f.yaml");
    build_zip(upload, m, 1);
    expect_fail(NULL, ZIP_CHECK_NAME_TOO_LONG, "(path depth over the limit)");
    /* messages cut long names */
    memset(name, 'n', 1000);
    name[1000] = '\0';
    zip_check_limits lim = ZIP_CHECK_LIMITS_INIT;
    lim.max_name_len = 500;
    build_zip(upload, m, 1);
    zip_check_result r;
    zip_check_error err;
    cr_assert_eq(zip_check_extract(upload, xdir, &lim, &r, &err), ZIP_CHECK_NAME_TOO_LONG);
    cr_assert_lt(strlen(err.message), 300);
    cr_assert(strstr(err.message, "nnn...'"), "%s", err.message);
}

Test(omps_zip, failure_late_in_extraction_removes_everything) {
    /* many good files are written before the corrupt one is reached */
    member m[21];
    char names[20][32];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], "v%d/f%d.yaml", i % 4, i);
        m[i] = (member){names[i], PKG_YAML, strlen(PKG_YAML), 0};
    }
    m[20] = (member){"zz.yaml", "CRC-TARGET late", 15, M_STORE};
    build_zip(upload, m, 21);
    cr_assert_eq(patch_bytes(upload, "CRC-TARGET", "CRC-TARGEX"), 1);
    expect_fail(NULL, ZIP_CHECK_CRC, "CRC check failed for file zz.yaml in archive");
}

Test(omps_zip, missing_upload_is_io) {
    zip_check_result r;
    zip_check_error err;
    cr_assert_eq(zip_check_extract("/nonexistent/upload.zip", xdir, NULL, &r, &err), ZIP_CHECK_IO);
    cr_assert(strstr(err.message, "Cannot read the uploaded file"), "%s", err.message);
}

/* ---- removal ---- */

Test(omps_zip, remove_tree_never_follows_links) {
    char outside[96], victim[128], tree[96], path[256];
    snprintf(outside, sizeof outside, "%s/outside", base);
    snprintf(victim, sizeof victim, "%s/keep.yaml", outside);
    snprintf(tree, sizeof tree, "%s/tree", base);
    cr_assert_eq(mkdir(outside, 0700), 0);
    spill(victim, "keep", 4);
    cr_assert_eq(mkdir(tree, 0700), 0);
    snprintf(path, sizeof path, "%s/sub", tree);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/sub/link-dir", tree);
    cr_assert_eq(symlink(outside, path), 0);
    snprintf(path, sizeof path, "%s/link-file", tree);
    cr_assert_eq(symlink(victim, path), 0);
    snprintf(path, sizeof path, "%s/sub/f", tree);
    spill(path, "f", 1);
    cr_assert_eq(zip_check_remove_tree(tree), 0);
    cr_assert_not(exists(tree));
    cr_assert(exists(victim), "followed a link");
    /* a link as the tree itself is refused, its target untouched */
    snprintf(path, sizeof path, "%s/link-root", base);
    cr_assert_eq(symlink(outside, path), 0);
    cr_assert_eq(zip_check_remove_tree(path), -1);
    cr_assert(exists(victim));
    cr_assert_eq(zip_check_remove_tree("/nonexistent/dir"), 0);
}
