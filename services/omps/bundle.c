/* bundle.c — the blob operator-courier pushes: bundle.yaml or the nested tree, tar, gzip,
 * base64.
 *
 * Flat layouts become one `bundle.yaml` (courier's format_bundle): the CRDs, CSVs and the
 * package are each dumped as a YAML list with PyYAML's defaults and that text is stored as a
 * literal block string under `data`, the outer document dumped again; omps_yaml_emit does
 * both dumps the way PyYAML does (libyaml's emitter, sorted keys, width 80). Nested layouts
 * are packed as the directory is, minus courier's blacklist (`art.yaml`, `image-references`).
 *
 * The tar is written here, ustar headers by hand, entry by entry straight into a zlib deflate
 * stream (gzip wrapper, level 9), so memory holds only the compressed archive; file contents
 * are streamed in 64 KiB reads. Python's tarfile is the model: `tar.add(dir, basename(dir))`
 * gives `<top>/` first and then the tree depth-first in sorted order, directory names end in
 * '/', a long or non-ASCII name gets a PAX 'x' record, and the archive ends with two zero
 * blocks padded to a 10240-byte record. Unlike courier, mode, owner and mtime are fixed, so
 * the archive is reproducible apart from its random top directory (courier: mkdtemp). */
#include "omps/bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "omps/yaml_emit.h"
#include "shared/base64.h"
#include "shared/common.h"

#define BLOCK 512
#define RECORD (20 * BLOCK)
#define NAME_MAX_USTAR 100
#define READ_CHUNK (64 * 1024)
#define MAX_ENTRIES 10000
#define MAX_DEPTH 32

const char *const omps_bundle_blacklist[] = {"art.yaml", "image-references", NULL};

static int fail(char *err, size_t errlen, int rc, const char *msg, const char *what) {
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s", msg, what ? ": " : "", what ? what : "");
    return rc;
}

/* ---- bundle.yaml ---- */

/* Literal style for CSV metadata.annotations.alm-examples and spec.description (in a list). */
static bool csv_literal(const char *const *path, size_t depth, void *ud) {
    (void)ud;
    if (depth == 4 && !path[0] && path[1] && !strcmp(path[1], "metadata") && path[2] &&
        !strcmp(path[2], "annotations") && path[3] && !strcmp(path[3], "alm-examples"))
        return true;
    return depth == 3 && !path[0] && path[1] && !strcmp(path[1], "spec") && path[2] &&
           !strcmp(path[2], "description");
}

/* Literal style for the three non-empty strings under data. */
static bool data_literal(const char *const *path, size_t depth, void *ud) {
    const json_t *data = ud;
    const char *s = depth == 2 ? json_string_value(json_object_get(data, path[1])) : NULL;
    return s && *s;
}

int omps_bundle_yaml(const omps_manifests *m, qs_buf *out, char *err, size_t errlen) {
    if (!m || m->nested || m->n_bundles != 1)
        return fail(err, errlen, QS_EINVAL, "bundle.yaml is for the flat layout", NULL);
    const omps_bundle_docs *b = &m->bundles[0];
    struct {
        const char *key;
        const json_t *docs;
        omps_yaml_literal_fn literal;
    } parts[] = {{"clusterServiceVersions", b->csvs, csv_literal},
                 {"customResourceDefinitions", b->crds, NULL},
                 {"packages", b->packages, NULL}};
    json_t *data = json_object();
    int rc = data ? QS_OK : QS_ENOMEM;
    for (size_t i = 0; rc == QS_OK && i < QS_ARRAY_LEN(parts); i++) {
        qs_buf text = QS_BUF_INIT;
        omps_yaml_emit_opts o = OMPS_YAML_EMIT_PYYAML;
        o.literal = parts[i].literal;
        if (json_array_size(parts[i].docs))
            rc = omps_yaml_emit(parts[i].docs, &o, &text, err, errlen);
        if (rc == QS_OK && json_object_set_new(data, parts[i].key, json_string(qs_buf_str(&text))))
            rc = QS_ENOMEM;
        qs_buf_free(&text);
    }
    json_t *doc = rc == QS_OK ? json_pack("{s:O}", "data", data) : NULL;
    if (rc == QS_OK && !doc)
        rc = QS_ENOMEM;
    if (rc == QS_OK) {
        omps_yaml_emit_opts o = OMPS_YAML_EMIT_PYYAML;
        o.literal = data_literal;
        o.literal_ud = data;
        rc = omps_yaml_emit(doc, &o, out, err, errlen);
    }
    json_decref(doc);
    json_decref(data);
    return rc;
}

/* ---- tar into gzip ---- */

typedef struct {
    z_stream z;
    qs_buf out;     /* compressed bytes */
    size_t tar_len; /* uncompressed bytes so far */
    size_t max_tar;
    size_t entries;
    int64_t mtime;
    char *err;
    size_t errlen;
} tarw;

static int tw_deflate(tarw *t, const void *p, size_t n, int flush) {
    if (t->tar_len + n > t->max_tar)
        return fail(t->err, t->errlen, QS_ETOOBIG, "bundle larger than the limit", NULL);
    if (n == 0 && flush == Z_NO_FLUSH)
        return QS_OK;
    t->tar_len += n;
    t->z.next_in = (Bytef *)(uintptr_t)p;
    t->z.avail_in = (uInt)n;
    int zrc;
    do { /* zlib's usual loop: until deflate leaves output space unused */
        if (qs_buf_reserve(&t->out, 64 * 1024) != QS_OK)
            return QS_ENOMEM;
        t->z.next_out = (Bytef *)t->out.data + t->out.len;
        t->z.avail_out = (uInt)(t->out.cap - t->out.len - 1);
        size_t before = t->z.avail_out;
        zrc = deflate(&t->z, flush);
        if (zrc == Z_STREAM_ERROR)
            return fail(t->err, t->errlen, QS_ERR, "deflate failed", NULL);
        t->out.len += before - t->z.avail_out;
        t->out.data[t->out.len] = '\0';
    } while (t->z.avail_out == 0);
    if (flush == Z_FINISH && zrc != Z_STREAM_END)
        return fail(t->err, t->errlen, QS_ERR, "deflate did not finish", NULL);
    return QS_OK;
}

/* A zero-padded octal field of `width` bytes: width - 1 digits and a NUL. */
static void octal(char *field, size_t width, uint64_t v) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%0*llo", (int)width - 1, (unsigned long long)v);
    if (n > 0 && (size_t)n < width)
        memcpy(field, tmp, (size_t)n + 1);
}

static int tw_header(tarw *t, const char *name, char type, uint64_t size, unsigned mode) {
    unsigned char h[BLOCK] = {0};
    memcpy(h, name, strlen(name)); /* callers guarantee ≤ 100 bytes */
    octal((char *)h + 100, 8, mode);
    octal((char *)h + 108, 8, 0);
    octal((char *)h + 116, 8, 0);
    octal((char *)h + 124, 12, size);
    octal((char *)h + 136, 12, (uint64_t)(t->mtime < 0 ? 0 : t->mtime));
    memset(h + 148, ' ', 8);
    h[156] = (unsigned char)type;
    memcpy(h + 257,
           "ustar\0"
           "00",
           8);
    unsigned sum = 0;
    for (size_t i = 0; i < BLOCK; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum); /* six digits, NUL, then the space kept */
    return tw_deflate(t, h, BLOCK, Z_NO_FLUSH);
}

static int tw_pad(tarw *t, uint64_t size) {
    static const unsigned char zeros[BLOCK];
    size_t rem = (size_t)(size % BLOCK);
    return rem ? tw_deflate(t, zeros, BLOCK - rem, Z_NO_FLUSH) : QS_OK;
}

static bool ascii(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* The header(s) of one entry: a PAX `path` record first when the name needs it. */
static int tw_entry(tarw *t, const char *name, char type, uint64_t size, unsigned mode) {
    if (++t->entries > MAX_ENTRIES)
        return fail(t->err, t->errlen, QS_ETOOBIG, "too many files in the bundle", NULL);
    size_t n = strlen(name);
    if (n <= NAME_MAX_USTAR && ascii(name))
        return tw_header(t, name, type, size, mode);
    size_t body = strlen(" path=\n") + n, len = body + 1; /* the length counts its own digits */
    while ((size_t)snprintf(NULL, 0, "%zu", len) + body != len)
        len++;
    char *rec = malloc(len + 1);
    if (!rec)
        return QS_ENOMEM;
    snprintf(rec, len + 1, "%zu path=%s\n", len, name);
    int rc = tw_header(t, "././@PaxHeader", 'x', len, 0644);
    if (rc == QS_OK)
        rc = tw_deflate(t, rec, len, Z_NO_FLUSH);
    if (rc == QS_OK)
        rc = tw_pad(t, len);
    free(rec);
    char shortname[NAME_MAX_USTAR + 1] = ""; /* a readable stand-in for old readers */
    size_t cut = 0;
    for (size_t i = 0; i < n && i < NAME_MAX_USTAR; i++)
        if ((unsigned char)name[i] < 0x80)
            shortname[cut++] = name[i];
    shortname[cut] = '\0';
    return rc == QS_OK ? tw_header(t, shortname, type, size, mode) : rc;
}

static int tw_bytes(tarw *t, const char *name, const void *data, size_t len) {
    int rc = tw_entry(t, name, '0', len, 0644);
    if (rc == QS_OK)
        rc = tw_deflate(t, data, len, Z_NO_FLUSH);
    return rc == QS_OK ? tw_pad(t, len) : rc;
}

static int tw_file(tarw *t, const char *name, const char *path) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return fail(t->err, t->errlen, QS_ERR, "cannot read", name);
    }
    int rc = tw_entry(t, name, '0', (uint64_t)st.st_size, 0644);
    char *buf = rc == QS_OK ? malloc(READ_CHUNK) : NULL;
    if (rc == QS_OK && !buf)
        rc = QS_ENOMEM;
    uint64_t done = 0;
    while (rc == QS_OK && done < (uint64_t)st.st_size) {
        ssize_t r = read(fd, buf, READ_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || done + (uint64_t)r > (uint64_t)st.st_size)
            rc = fail(t->err, t->errlen, QS_ERR, "file changed while packing", name);
        else
            rc = tw_deflate(t, buf, (size_t)r, Z_NO_FLUSH);
        done += r > 0 ? (uint64_t)r : 0;
    }
    free(buf);
    close(fd);
    return rc == QS_OK ? tw_pad(t, (uint64_t)st.st_size) : rc;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool blacklisted(const char *name) {
    for (size_t i = 0; omps_bundle_blacklist[i]; i++)
        if (!strcmp(name, omps_bundle_blacklist[i]))
            return true;
    return false;
}

static int sorted_entries(const char *dir, char ***out, size_t *n) {
    struct dirent **list = NULL;
    int cnt = scandir(dir, &list, NULL, NULL);
    if (cnt < 0)
        return QS_ERR;
    char **names = calloc((size_t)cnt + 1, sizeof *names);
    size_t k = 0;
    int rc = names ? QS_OK : QS_ENOMEM;
    for (int i = 0; i < cnt; i++) {
        const char *nm = list[i]->d_name;
        if (rc == QS_OK && strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0) {
            names[k] = strdup(nm);
            rc = names[k++] ? QS_OK : QS_ENOMEM;
        }
        free(list[i]);
    }
    free(list);
    if (rc == QS_OK && k)
        qsort(names, k, sizeof *names, cmp_names);
    *out = names;
    *n = k;
    return rc;
}

/* `tar.add(dir, arcname)` after filterOutFiles: dirs recurse, blacklisted files are left out,
 * anything but regular files and directories is skipped. */
static int tw_tree(tarw *t, const char *dir, const char *arc, int depth) {
    char **names = NULL;
    size_t n = 0;
    if (depth > MAX_DEPTH)
        return fail(t->err, t->errlen, QS_ETOOBIG, "directory tree too deep", arc);
    int rc = sorted_entries(dir, &names, &n);
    if (rc != QS_OK)
        rc = fail(t->err, t->errlen, rc, "cannot list", arc);
    for (size_t i = 0; rc == QS_OK && i < n; i++) {
        char path[4096], name[4096];
        struct stat st;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path ||
            (size_t)snprintf(name, sizeof name, "%s/%s", arc, names[i]) >= sizeof name - 1) {
            rc = fail(t->err, t->errlen, QS_ETOOBIG, "path too long", names[i]);
            break;
        }
        if (lstat(path, &st) != 0)
            rc = fail(t->err, t->errlen, QS_ERR, "cannot stat", name);
        else if (S_ISDIR(st.st_mode)) {
            strcat(name, "/");
            rc = tw_entry(t, name, '5', 0, 0755);
            name[strlen(name) - 1] = '\0';
            if (rc == QS_OK)
                rc = tw_tree(t, path, name, depth + 1);
        } else if (S_ISREG(st.st_mode) && !blacklisted(names[i])) {
            rc = tw_file(t, name, path);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int make_top(const char *repo, const omps_bundle_opts *o, char *top) {
    if (o->top_dir)
        return (size_t)snprintf(top, OMPS_BUNDLE_TOP_MAX, "%s", o->top_dir) < OMPS_BUNDLE_TOP_MAX
                   ? QS_OK
                   : QS_ETOOBIG;
    unsigned char r[4];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return QS_ERR;
    return (size_t)snprintf(top, OMPS_BUNDLE_TOP_MAX, "%s-%02x%02x%02x%02x", repo, r[0], r[1], r[2],
                            r[3]) < OMPS_BUNDLE_TOP_MAX
               ? QS_OK
               : QS_ETOOBIG;
}

static int write_content(tarw *t, const omps_manifests *m, const char *src_dir, const char *top) {
    char name[OMPS_BUNDLE_TOP_MAX + 16];
    snprintf(name, sizeof name, "%s/", top);
    int rc = tw_entry(t, name, '5', 0, 0755);
    if (rc != QS_OK)
        return rc;
    if (m->nested)
        return tw_tree(t, src_dir, top, 1);
    qs_buf yaml = QS_BUF_INIT;
    rc = omps_bundle_yaml(m, &yaml, t->err, t->errlen);
    snprintf(name, sizeof name, "%s/bundle.yaml", top);
    if (rc == QS_OK)
        rc = tw_bytes(t, name, qs_buf_str(&yaml), yaml.len);
    qs_buf_free(&yaml);
    return rc;
}

int omps_bundle_targz(const omps_manifests *m, const char *src_dir, const char *repo,
                      const omps_bundle_opts *opts, unsigned char **out, size_t *outlen,
                      char *top_out, char *err, size_t errlen) {
    omps_bundle_opts defaults = OMPS_BUNDLE_OPTS_INIT;
    const omps_bundle_opts *o = opts ? opts : &defaults;
    char top[OMPS_BUNDLE_TOP_MAX];
    *out = NULL;
    *outlen = 0;
    if (!m || !repo || !*repo || (m->nested && !src_dir))
        return fail(err, errlen, QS_EINVAL, "bundle: missing manifests, source or repository",
                    NULL);
    int rc = make_top(repo, o, top);
    if (rc != QS_OK)
        return fail(err, errlen, rc, "bundle: cannot name the top directory", NULL);
    tarw t = {.max_tar = o->max_tar ? o->max_tar : OMPS_BUNDLE_MAX_TAR,
              .mtime = o->mtime,
              .err = err,
              .errlen = errlen};
    if (deflateInit2(&t.z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return QS_ENOMEM;
    rc = write_content(&t, m, src_dir, top);
    if (rc == QS_OK) { /* two zero blocks, then zeros up to a whole record */
        size_t end = t.tar_len + 2 * BLOCK;
        end = (end + RECORD - 1) / RECORD * RECORD;
        unsigned char *zeros = calloc(1, end - t.tar_len);
        rc = zeros ? tw_deflate(&t, zeros, end - t.tar_len, Z_FINISH) : QS_ENOMEM;
        free(zeros);
    }
    deflateEnd(&t.z);
    if (rc != QS_OK) {
        qs_buf_free(&t.out);
        return rc;
    }
    if (top_out)
        snprintf(top_out, OMPS_BUNDLE_TOP_MAX, "%s", top);
    *outlen = t.out.len;
    *out = (unsigned char *)qs_buf_steal(&t.out);
    return QS_OK;
}

json_t *omps_bundle_push_body(const unsigned char *targz, size_t len, const char *release) {
    char *b64 = qs_base64_encode(targz, len);
    if (!b64)
        return NULL;
    json_t *body = json_pack("{s:s, s:s, s:s}", "blob", b64, "release", release ? release : "",
                             "media_type", "helm");
    free(b64);
    return body;
}

int omps_bundle_push_json(const omps_manifests *m, const char *src_dir, const char *repo,
                          const char *release, const omps_bundle_opts *opts, json_t **out,
                          char *err, size_t errlen) {
    unsigned char *targz = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = omps_bundle_targz(m, src_dir, repo, opts, &targz, &len, NULL, err, errlen);
    if (rc != QS_OK)
        return rc;
    *out = omps_bundle_push_body(targz, len, release);
    free(targz);
    return *out ? QS_OK : QS_ENOMEM;
}
