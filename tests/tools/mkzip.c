/* mkzip.c — write zip archives for the omps tests, demo and benchmark (the `zip` program is
 * not a dependency; libzip is).
 *
 * Usage: mkzip OUT.zip ITEM...   items are added in order:
 *   DIR                   every regular file under DIR, named by its path relative to DIR
 *                         (sorted, '/'-separated, deflated)
 *   --entry NAME=PATH     the file PATH under the entry name NAME, taken as is ("../x" too)
 *   --zeros NAME=BYTES    a member of BYTES zero bytes, deflated, generated as it is written
 *                         (a zip bomb: 1 GiB of zeros is about 1 MiB compressed)
 *   --random NAME=BYTES   a stored member of BYTES random bytes (to reach an archive size)
 *   --declare NAME=BYTES  after writing, make member NAME declare BYTES as its uncompressed
 *                         size in both headers (a bomb "declared small"; not for zip64)
 * Exit status 0, or 1 with a message on stderr. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#define MAX_FILES 20000

typedef struct {
    zip_uint64_t size, done;
    int random;
    unsigned long long x; /* xorshift state: reproducible "random" bytes */
} gen_state;

/* A libzip source producing `size` zero (or pseudo-random) bytes without holding them. */
static zip_int64_t gen_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd) {
    gen_state *g = ud;
    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        g->done = 0;
        g->x = 88172645463325252ULL;
        return 0;
    case ZIP_SOURCE_READ: {
        zip_uint64_t n = g->size - g->done < len ? g->size - g->done : len;
        if (g->random)
            for (zip_uint64_t i = 0; i < n; i++) {
                g->x ^= g->x << 13;
                g->x ^= g->x >> 7;
                g->x ^= g->x << 17;
                ((unsigned char *)data)[i] = (unsigned char)(g->x >> 24);
            }
        else
            memset(data, 0, n);
        g->done += n;
        return (zip_int64_t)n;
    }
    case ZIP_SOURCE_CLOSE:
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = data;
        zip_stat_init(st);
        st->size = g->size;
        st->mtime = 0;
        st->valid |= ZIP_STAT_SIZE | ZIP_STAT_MTIME;
        return sizeof *st;
    }
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(NULL, data, len);
    case ZIP_SOURCE_FREE:
        free(g);
        return 0;
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                              ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE,
                                              -1);
    default:
        return -1;
    }
}

static int add_source(zip_t *z, const char *name, zip_source_t *src, int store) {
    zip_int64_t idx = src ? zip_file_add(z, name, src, ZIP_FL_ENC_UTF_8) : -1;
    if (idx < 0) {
        fprintf(stderr, "mkzip: cannot add %s: %s\n", name, zip_strerror(z));
        zip_source_free(src);
        return 1;
    }
    zip_set_file_compression(z, (zip_uint64_t)idx, store ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0);
    zip_file_set_mtime(z, (zip_uint64_t)idx, 315532800, 0); /* 1980-01-01: reproducible */
    return 0;
}

static int add_file(zip_t *z, const char *name, const char *path) {
    return add_source(z, name, zip_source_file(z, path, 0, -1), 0);
}

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect the regular files under root/rel into names[]. */
static int walk(const char *root, const char *rel, char **names, size_t *n) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "mkzip: cannot read %s\n", dir);
        return 1;
    }
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[4096], full[8192];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat st;
        if (lstat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = walk(root, sub, names, n);
        else if (S_ISREG(st.st_mode) && *n < MAX_FILES)
            names[(*n)++] = strdup(sub);
    }
    closedir(d);
    return rc;
}

static int add_tree(zip_t *z, const char *root) {
    char **names = calloc(MAX_FILES, sizeof *names);
    size_t n = 0;
    if (!names)
        return 1;
    int rc = walk(root, "", names, &n);
    qsort(names, n, sizeof *names, cmp);
    for (size_t i = 0; i < n; i++) {
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", root, names[i]);
        if (!rc)
            rc = add_file(z, names[i], full);
        free(names[i]);
    }
    free(names);
    return rc;
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Rewrite the uncompressed size member `name` declares (central and local header). */
static int declare(const char *path, const char *name, uint32_t size) {
    FILE *f = fopen(path, "r+b");
    if (!f)
        return 1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    unsigned char *z = len > 0 ? malloc((size_t)len) : NULL;
    int rc = 1;
    size_t nl = strlen(name);
    if (z && fseek(f, 0, SEEK_SET) == 0 && fread(z, 1, (size_t)len, f) == (size_t)len) {
        for (long i = 0; i + 46 + (long)nl <= len; i++) {
            if (le32(z + i) != 0x02014b50 || (z[i + 28] | z[i + 29] << 8) != (int)nl ||
                memcmp(z + i + 46, name, nl) != 0)
                continue;
            uint32_t local = le32(z + i + 42);
            if (le32(z + i + 24) == 0xFFFFFFFFu || (long)local + 30 > len ||
                le32(z + local) != 0x04034b50)
                break;
            put32(z + i + 24, size);
            put32(z + local + 22, size);
            rc = fseek(f, 0, SEEK_SET) != 0 || fwrite(z, 1, (size_t)len, f) != (size_t)len;
            break;
        }
    }
    free(z);
    if (fclose(f) != 0)
        rc = 1;
    if (rc)
        fprintf(stderr, "mkzip: cannot make %s declare %u bytes\n", name, size);
    return rc;
}

/* "NAME=VALUE": split in place. */
static char *split(char *arg) {
    char *eq = strrchr(arg, '=');
    if (!eq || eq == arg)
        return NULL;
    *eq = '\0';
    return eq + 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: mkzip OUT.zip DIR | --entry NAME=PATH | --zeros NAME=BYTES | "
                        "--random NAME=BYTES ...\n");
        return 1;
    }
    int err = 0;
    char *declare_name[16];
    uint32_t declare_size[16];
    int ndeclare = 0;
    zip_t *z = zip_open(argv[1], ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!z) {
        fprintf(stderr, "mkzip: cannot create %s (libzip error %d)\n", argv[1], err);
        return 1;
    }
    int rc = 0;
    for (int i = 2; i < argc && !rc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--declare") == 0) {
            char *value = i + 1 < argc ? split(argv[++i]) : NULL;
            if (!value || ndeclare == 16) {
                fprintf(stderr, "mkzip: --declare needs NAME=BYTES\n");
                rc = 1;
            } else {
                declare_name[ndeclare] = argv[i];
                declare_size[ndeclare++] = (uint32_t)strtoul(value, NULL, 10);
            }
        } else if (strcmp(opt, "--entry") == 0 || strcmp(opt, "--zeros") == 0 ||
                   strcmp(opt, "--random") == 0) {
            char *value = i + 1 < argc ? split(argv[++i]) : NULL;
            if (!value) {
                fprintf(stderr, "mkzip: %s needs NAME=VALUE\n", opt);
                rc = 1;
            } else if (strcmp(opt, "--entry") == 0) {
                rc = add_file(z, argv[i], value);
            } else {
                int random = strcmp(opt, "--random") == 0;
                gen_state *g = calloc(1, sizeof *g);
                zip_source_t *src = NULL;
                if (g) {
                    g->size = strtoull(value, NULL, 10);
                    g->random = random;
                    src = zip_source_function(z, gen_cb, g);
                    if (!src)
                        free(g);
                }
                rc = add_source(z, argv[i], src, random);
            }
        } else {
            rc = add_tree(z, opt);
        }
    }
    if (rc) {
        zip_discard(z);
        return 1;
    }
    if (zip_close(z) != 0) {
        fprintf(stderr, "mkzip: cannot write %s: %s\n", argv[1], zip_strerror(z));
        zip_discard(z);
        return 1;
    }
    for (int k = 0; k < ndeclare; k++)
        if (declare(argv[1], declare_name[k], declare_size[k]) != 0)
            return 1;
    return 0;
}
