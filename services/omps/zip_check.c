/* zip_check.c — validate an uploaded operator-manifest zip and extract it safely.
 *
 * OMPS (Python zipfile) sums the sizes the archive declares, runs testzip() and extractall();
 * it trusts the declared sizes, sanitises rather than refuses dangerous names, and writes
 * symlink entries as files. This file keeps OMPS's checks, messages and order (declared size,
 * then encryption and CRC) and adds what the original lacked, each refusal naming the entry.
 *
 * Before libzip parses anything, the entry count announced by the end-of-central-directory
 * record is held against the limit (libzip's open costs time and memory per entry). Then it
 * works in two passes over the central directory. Pass one touches no file system path: it
 * checks libzip's own entry count, stats each entry, sums the declared sizes (saturating)
 * against the limit, then normalises every name ('\\' is a separator too; absolute paths,
 * drive letters, ".." components, names that are too long, too deep or not UTF-8 are
 * refused), refuses symlinks and special files (UNIX mode bits in the upper half of the
 * external attributes), encrypted members and compression methods libzip cannot inflate,
 * and finally sorts the normalised names to find duplicates. Only then
 * does pass two create the mkdtemp directory (0700) and extract: every path is walked
 * component by component with openat(O_NOFOLLOW|O_DIRECTORY) from a descriptor of the root,
 * directories are made 0700, files opened O_CREAT|O_EXCL|O_NOFOLLOW 0600. A file where a
 * directory must go (or the reverse) is reported as a duplicate.
 *
 * Zip bombs: each member is inflated in 64 KiB chunks and the bytes are counted as they come.
 * A member that yields more than it declared is refused at once (the declared sizes already
 * passed the limit, so this is what catches a "declared small" bomb after one chunk), and the
 * running total is checked against the limit as well, so neither bound relies on what the
 * archive says. libzip verifies the CRC when a member is read to its end; that error
 * (ZIP_ER_CRC) becomes OMPS's "CRC check failed" message. Nested archives are plain files.
 * Any failure removes the directory again (zip_check_remove_tree, which never follows a
 * link), so a refused upload leaves nothing behind. */
#include "omps/zip_check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#define CHUNK (64 * 1024)          /* bytes inflated per read */
#define TAIL_MAX (22 + 65535 + 20) /* end-of-central-directory record, comment, zip64 locator */
#define BUF_SIZE (TAIL_MAX > CHUNK ? TAIL_MAX : CHUNK)
#define COMPONENT_MAX 255    /* NAME_MAX: one path component */
#define REMOVE_DEPTH_MAX 256 /* zip_check_remove_tree: descriptors held at once */
#define SHOWN_NAME_MAX 200   /* bytes of an entry name quoted in a message */

/* ---- codes, ids and messages ---- */

static const struct {
    const char *name;    /* zip_check_code_name */
    const char *omps_id; /* reference/omps.md §A.13 */
    int status;
} codes[ZIP_CHECK_CODE_COUNT] = {
    [ZIP_CHECK_OK] = {"ok", NULL, 200},
    [ZIP_CHECK_NO_FIELD] = {"no_field", "OMPSExpectedFileError", 400},
    [ZIP_CHECK_NO_FILENAME] = {"no_filename", "OMPSExpectedFileError", 400},
    [ZIP_CHECK_BAD_EXTENSION] = {"bad_extension", "OMPSUploadedFileError", 400},
    [ZIP_CHECK_UPLOAD_TOO_LARGE] = {"upload_too_large", "RequestEntityTooLarge", 413},
    [ZIP_CHECK_EMPTY] = {"empty", "OMPSUploadedFileError", 400},
    [ZIP_CHECK_NOT_ZIP] = {"not_zip", "OMPSUploadedFileError", 400},
    [ZIP_CHECK_TOO_MANY_ENTRIES] = {"too_many_entries", "OMPSUploadedFileError", 400},
    [ZIP_CHECK_NAME_TOO_LONG] = {"name_too_long", "OMPSUploadedFileError", 400},
    [ZIP_CHECK_UNSAFE_PATH] = {"unsafe_path", "OMPSUploadedFileError", 400},
    [ZIP_CHECK_SYMLINK] = {"symlink", "OMPSUploadedFileError", 400},
    [ZIP_CHECK_SPECIAL_FILE] = {"special_file", "OMPSUploadedFileError", 400},
    [ZIP_CHECK_DUPLICATE] = {"duplicate", "OMPSUploadedFileError", 400},
    [ZIP_CHECK_ENCRYPTED] = {"encrypted", "OMPSUploadedFileError", 400},
    [ZIP_CHECK_UNSUPPORTED] = {"unsupported", "OMPSUploadedFileError", 400},
    [ZIP_CHECK_TOO_LARGE] = {"too_large", "OMPSUploadedFileError", 400},
    [ZIP_CHECK_SIZE_MISMATCH] = {"size_mismatch", "OMPSUploadedFileError", 400},
    [ZIP_CHECK_CRC] = {"crc", "OMPSUploadedFileError", 400},
    [ZIP_CHECK_CORRUPT] = {"corrupt", "OMPSUploadedFileError", 400},
    [ZIP_CHECK_IO] = {"io", "InternalServerError", 500},
    [ZIP_CHECK_NOMEM] = {"nomem", "InternalServerError", 500},
};

const char *zip_check_omps_error(zip_check_code code, int *status) {
    if ((unsigned)code >= ZIP_CHECK_CODE_COUNT)
        code = ZIP_CHECK_IO;
    if (status)
        *status = codes[code].status;
    return codes[code].omps_id;
}

const char *zip_check_code_name(zip_check_code code) {
    return (unsigned)code < ZIP_CHECK_CODE_COUNT ? codes[code].name : "unknown";
}

__attribute__((format(printf, 3, 4))) static void
set_error(zip_check_error *err, zip_check_code code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
}

/* Record a refusal and evaluate to its code. A macro so the code returned is visible where it
 * is returned: the static analyser does not follow variadic functions. */
#define fail(err, code, ...) (set_error((err), (code), __VA_ARGS__), (code))

/* Length of the valid UTF-8 sequence at s (at most avail bytes), 0 when it is not one.
 * Strict like jansson: no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t avail) {
    static const struct {
        unsigned char lo, hi, len, mask;
        unsigned min;
    } leads[] = {
        {0xC2, 0xDF, 2, 0x1F, 0x80}, {0xE0, 0xEF, 3, 0x0F, 0x800}, {0xF0, 0xF4, 4, 0x07, 0x10000}};
    if (s[0] < 0x80)
        return 1;
    for (size_t k = 0; k < sizeof leads / sizeof leads[0]; k++) {
        if (s[0] < leads[k].lo || s[0] > leads[k].hi)
            continue;
        size_t n = leads[k].len;
        if (n > avail)
            return 0;
        unsigned cp = s[0] & leads[k].mask;
        for (size_t i = 1; i < n; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i] & 0x3F);
        }
        bool ok = cp >= leads[k].min && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
        return ok ? n : 0;
    }
    return 0;
}

/* An entry name fit to quote in a message (and in JSON): control characters and invalid
 * UTF-8 become \xNN, and the name is cut after SHOWN_NAME_MAX bytes with "...". */
static const char *shown(const char *name, char out[SHOWN_NAME_MAX + 8]) {
    const unsigned char *s = (const unsigned char *)name;
    size_t avail = strlen(name), o = 0;
    while (avail && o < SHOWN_NAME_MAX) {
        size_t n = utf8_seq(s, avail);
        if (n == 1 && (*s < 0x20 || *s == 0x7F))
            n = 0;
        if (n) {
            memcpy(out + o, s, n);
            o += n;
        } else {
            o += (size_t)snprintf(out + o, 5, "\\x%02X", *s);
            n = 1;
        }
        s += n;
        avail -= n;
    }
    if (avail)
        memcpy(out + o, "...", 3), o += 3;
    out[o] = '\0';
    return out;
}

/* ---- the form rule ---- */

/* os.path.splitext's extension: from the last '.' of the base name, unless every character
 * before that dot is a dot too (".zip", "..zip" have no extension). */
static const char *py_extension(const char *filename) {
    const char *base = strrchr(filename, '/');
    base = base ? base + 1 : filename;
    const char *dot = strrchr(base, '.');
    if (!dot)
        return "";
    for (const char *p = base; p < dot; p++)
        if (*p != '.')
            return dot;
    return "";
}

zip_check_code zip_check_filename_ok(const char *filename, zip_check_error *err) {
    if (err)
        *err = (zip_check_error){ZIP_CHECK_OK, ""};
    if (!filename)
        return fail(err, ZIP_CHECK_NO_FIELD, "No field \"file\" in uploaded data");
    if (!*filename)
        return fail(err, ZIP_CHECK_NO_FILENAME, "No selected \"file\" in uploaded data");
    const char *ext = py_extension(filename);
    if (strcasecmp(ext, ".zip") != 0) {
        char buf[SHOWN_NAME_MAX + 8], lower[SHOWN_NAME_MAX + 8];
        shown(ext, buf);
        size_t i = 0;
        for (; buf[i]; i++) /* Python's .lower(); ASCII is enough for a message */
            lower[i] = (char)(buf[i] >= 'A' && buf[i] <= 'Z' ? buf[i] + 32 : buf[i]);
        lower[i] = '\0';
        return fail(err, ZIP_CHECK_BAD_EXTENSION,
                    "Uploaded file extension \"%s\" is not any of {'.zip'}", lower);
    }
    return ZIP_CHECK_OK;
}

/* ---- entry names ---- */

/* As zip_check_entry_name; *why says what was wrong, for the message. */
static zip_check_code normalise(const char *name, const zip_check_limits *lim, char *out,
                                size_t cap, bool *is_dir, const char **why) {
    size_t len = strlen(name);
    *why = "";
    if (len > lim->max_name_len)
        return *why = "name", ZIP_CHECK_NAME_TOO_LONG;
    if (name[0] == '/' || name[0] == '\\')
        return *why = "absolute path", ZIP_CHECK_UNSAFE_PATH;
    bool alpha = (name[0] | 0x20) >= 'a' && (name[0] | 0x20) <= 'z';
    if (alpha && name[1] == ':' && (!name[2] || name[2] == '/' || name[2] == '\\'))
        return *why = "drive letter", ZIP_CHECK_UNSAFE_PATH;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq((const unsigned char *)name + i, len - i);
        if (!n)
            return *why = "not UTF-8", ZIP_CHECK_UNSAFE_PATH;
        i += n;
    }
    *is_dir = len && (name[len - 1] == '/' || name[len - 1] == '\\');
    size_t o = 0, depth = 0;
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "/\\");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return *why = "'..' component", ZIP_CHECK_UNSAFE_PATH;
        if (n > COMPONENT_MAX)
            return *why = "path component", ZIP_CHECK_NAME_TOO_LONG;
        if (n && !(n == 1 && p[0] == '.')) {
            if (++depth > lim->max_depth)
                return *why = "path depth", ZIP_CHECK_NAME_TOO_LONG;
            if (o + (o > 0) + n >= cap)
                return *why = "name", ZIP_CHECK_NAME_TOO_LONG;
            if (o)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
        p += *p != '\0';
    }
    out[o] = '\0';
    if (!o && !*is_dir)
        return *why = "empty name", ZIP_CHECK_UNSAFE_PATH;
    return ZIP_CHECK_OK;
}

static zip_check_limits effective(const zip_check_limits *lim) {
    zip_check_limits d = ZIP_CHECK_LIMITS_INIT, l = lim ? *lim : d;
    if (!l.max_uncompressed)
        l.max_uncompressed = d.max_uncompressed;
    if (!l.max_entries)
        l.max_entries = d.max_entries;
    if (!l.max_name_len)
        l.max_name_len = d.max_name_len;
    if (!l.max_depth)
        l.max_depth = d.max_depth;
    return l;
}

zip_check_code zip_check_entry_name(const char *name, const zip_check_limits *lim, char *out,
                                    size_t cap, bool *is_dir) {
    zip_check_limits l = effective(lim);
    const char *why;
    if (!cap)
        return ZIP_CHECK_NAME_TOO_LONG;
    return normalise(name, &l, out, cap, is_dir, &why);
}

/* ---- pass one: the central directory ---- */

typedef struct {
    zip_uint64_t index;
    const char *raw;   /* libzip's name (UTF-8), valid while the archive is open */
    char *path;        /* normalised; "" for a root directory entry */
    zip_uint64_t size; /* declared uncompressed size */
    zip_int32_t comp;  /* compression method */
    bool size_known, comp_known, encrypted, is_dir;
} entry;

typedef struct {
    zip_check_limits lim;
    zip_check_error *err;
    zip_t *za;
    entry *ents;
    size_t n;
    entry **sorted; /* the entries that create something, sorted by path */
    size_t nsorted;
    int rootfd;
    unsigned char *buf; /* BUF_SIZE bytes: the archive's tail, then inflated chunks */
    uint64_t total;     /* bytes inflated so far */
} job;

/* libzip error → our code, for opening the archive and reading members. */
static zip_check_code map_zip_error(int ze) {
    static const struct {
        int ze;
        zip_check_code code;
    } map[] = {
        {ZIP_ER_CRC, ZIP_CHECK_CRC},
        {ZIP_ER_NOPASSWD, ZIP_CHECK_ENCRYPTED},
        {ZIP_ER_WRONGPASSWD, ZIP_CHECK_ENCRYPTED},
        {ZIP_ER_ENCRNOTSUPP, ZIP_CHECK_ENCRYPTED},
        {ZIP_ER_COMPNOTSUPP, ZIP_CHECK_UNSUPPORTED},
        {ZIP_ER_MEMORY, ZIP_CHECK_NOMEM},
        {ZIP_ER_OPEN, ZIP_CHECK_IO},
        {ZIP_ER_READ, ZIP_CHECK_IO},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].ze == ze)
            return map[i].code;
    return ZIP_CHECK_CORRUPT;
}

static zip_check_code too_many(job *j, uint64_t n) {
    return fail(j->err, ZIP_CHECK_TOO_MANY_ENTRIES, "Archive has too many entries (%llu>%lu)",
                (unsigned long long)n, (unsigned long)j->lim.max_entries);
}

static uint64_t rd16(const unsigned char *p) { return (uint64_t)p[0] | (uint64_t)p[1] << 8; }
static uint64_t rd32(const unsigned char *p) { return rd16(p) | rd16(p + 2) << 16; }
static uint64_t rd64(const unsigned char *p) { return rd32(p) | rd32(p + 4) << 32; }

/* The entry count the end-of-central-directory record announces (zip64's when a locator
 * precedes it), read before libzip parses the directory: libzip allocates and hashes every
 * entry at open, ~5 us and ~500 bytes each, so 40 000 one-byte names in a 3 MiB upload would
 * cost 200 ms before zip_get_num_entries could refuse them. Every candidate signature in the
 * tail counts and the largest wins, so a fake record in the comment cannot hide the real one
 * (libzip's own count is checked again after opening). 0 when there is no record. */
static uint64_t announced_entries(int fd, uint64_t size, unsigned char *buf) {
    size_t tail = size < TAIL_MAX ? (size_t)size : TAIL_MAX;
    if (pread(fd, buf, tail, (off_t)(size - tail)) != (ssize_t)tail)
        return 0;
    uint64_t most = 0;
    for (size_t pos = 0; pos + 22 <= tail; pos++) {
        if (rd32(buf + pos) != 0x06054b50)
            continue;
        uint64_t n = rd16(buf + pos + 10);
        unsigned char z64[56];
        if (pos >= 20 && rd32(buf + pos - 20) == 0x07064b50 &&
            pread(fd, z64, sizeof z64, (off_t)rd64(buf + pos - 12)) == (ssize_t)sizeof z64 &&
            rd32(z64) == 0x06064b50)
            n = rd64(z64 + 32);
        most = n > most ? n : most;
    }
    return most;
}

static zip_check_code open_archive(job *j, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int e = fd < 0 ? errno : EINVAL;
        if (fd >= 0)
            close(fd);
        return fail(j->err, ZIP_CHECK_IO, "Cannot read the uploaded file: %s", strerror(e));
    }
    zip_check_code rc = ZIP_CHECK_OK;
    int ze = 0;
    uint64_t n;
    if (st.st_size == 0)
        rc = fail(j->err, ZIP_CHECK_EMPTY, "File is not a zip file (the file is empty)");
    else if (j->lim.max_file_size && (uint64_t)st.st_size > j->lim.max_file_size)
        rc = fail(j->err, ZIP_CHECK_UPLOAD_TOO_LARGE,
                  "The data value transmitted exceeds the capacity limit.");
    else if ((n = announced_entries(fd, (uint64_t)st.st_size, j->buf)) > j->lim.max_entries)
        rc = too_many(j, n);
    else if (!(j->za = zip_fdopen(fd, ZIP_RDONLY, &ze))) {
        zip_error_t e;
        zip_error_init_with_code(&e, ze);
        zip_check_code c = map_zip_error(ze);
        if (ze == ZIP_ER_NOZIP)
            rc = fail(j->err, ZIP_CHECK_NOT_ZIP, "File is not a zip file");
        else if (c == ZIP_CHECK_NOMEM || c == ZIP_CHECK_IO)
            rc = fail(j->err, c, "Cannot open the archive: %s", zip_error_strerror(&e));
        else
            rc = fail(j->err, ZIP_CHECK_NOT_ZIP, "File is not a zip file: %s",
                      zip_error_strerror(&e));
        zip_error_fini(&e);
    }
    if (rc != ZIP_CHECK_OK)
        close(fd); /* on success libzip owns fd */
    return rc;
}

/* Count and stat every entry, and hold the declared sizes against the limit first, as OMPS
 * does (its message and order). */
static zip_check_code stat_entries(job *j) {
    zip_int64_t n = zip_get_num_entries(j->za, 0);
    if (n < 0 || (uint64_t)n > j->lim.max_entries)
        return too_many(j, n < 0 ? UINT64_MAX : (uint64_t)n);
    j->ents = calloc((size_t)n + 1, sizeof *j->ents);
    j->sorted = calloc((size_t)n + 1, sizeof *j->sorted);
    if (!j->ents || !j->sorted)
        return fail(j->err, ZIP_CHECK_NOMEM, "Out of memory");
    uint64_t declared = 0;
    for (zip_uint64_t i = 0; i < (zip_uint64_t)n; i++) {
        zip_stat_t st;
        if (zip_stat_index(j->za, i, 0, &st) < 0 || !(st.valid & ZIP_STAT_NAME))
            return fail(j->err, ZIP_CHECK_CORRUPT, "Cannot read entry %llu of the archive: %s",
                        (unsigned long long)i, zip_strerror(j->za));
        entry *e = &j->ents[j->n++];
        *e = (entry){.index = i, .raw = st.name};
        e->size_known = st.valid & ZIP_STAT_SIZE;
        e->size = e->size_known ? st.size : 0;
        e->comp_known = st.valid & ZIP_STAT_COMP_METHOD;
        e->comp = st.comp_method;
        e->encrypted =
            (st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE;
        declared = declared > UINT64_MAX - e->size ? UINT64_MAX : declared + e->size;
    }
    if (declared > j->lim.max_uncompressed)
        return fail(j->err, ZIP_CHECK_TOO_LARGE,
                    "Uncompressed archive is larger than limit (%lluB>%lluB)",
                    (unsigned long long)declared, (unsigned long long)j->lim.max_uncompressed);
    return ZIP_CHECK_OK;
}

/* The file type from UNIX mode bits in the external attributes (UNIX- and macOS-made
 * archives); 0 when the archive carries none. */
static unsigned entry_type(job *j, const entry *e) {
    zip_uint8_t opsys = 0;
    zip_uint32_t attr = 0;
    if (zip_file_get_external_attributes(j->za, e->index, 0, &opsys, &attr) < 0)
        return 0;
    if (opsys != ZIP_OPSYS_UNIX && opsys != ZIP_OPSYS_OS_X)
        return 0;
    return (attr >> 16) & S_IFMT;
}

static zip_check_code check_entry(job *j, entry *e) {
    char nm[SHOWN_NAME_MAX + 8];
    const char *why;
    size_t cap = strlen(e->raw) + 1; /* normalising never lengthens a name */
    if (!(e->path = malloc(cap)))
        return fail(j->err, ZIP_CHECK_NOMEM, "Out of memory");
    zip_check_code c = normalise(e->raw, &j->lim, e->path, cap, &e->is_dir, &why);
    if (c == ZIP_CHECK_NAME_TOO_LONG)
        return fail(j->err, c, "Entry '%s' is too long (%s over the limit)", shown(e->raw, nm),
                    why);
    if (c != ZIP_CHECK_OK)
        return fail(j->err, c, "Entry '%s' has an unsafe path (%s)", shown(e->raw, nm), why);
    unsigned type = entry_type(j, e);
    if (type == S_IFLNK)
        return fail(j->err, ZIP_CHECK_SYMLINK, "Entry '%s' is a symbolic link, not allowed",
                    shown(e->raw, nm));
    if (type && type != S_IFREG && type != S_IFDIR)
        return fail(j->err, ZIP_CHECK_SPECIAL_FILE,
                    "Entry '%s' is a special file (device, FIFO or socket), not allowed",
                    shown(e->raw, nm));
    e->is_dir |= type == S_IFDIR;
    if (e->encrypted)
        return fail(j->err, ZIP_CHECK_ENCRYPTED,
                    "File '%s' is encrypted, password required for extraction", shown(e->raw, nm));
    if (!e->is_dir && e->comp_known && !zip_compression_method_supported(e->comp, 0))
        return fail(j->err, ZIP_CHECK_UNSUPPORTED,
                    "File '%s' is compressed with an unsupported method (%d)", shown(e->raw, nm),
                    (int)e->comp);
    if (*e->path) /* a root directory entry ("./") creates nothing */
        j->sorted[j->nsorted++] = e;
    return ZIP_CHECK_OK;
}

static int by_path(const void *a, const void *b) {
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Two entries with one normalised name ("a/b", "a\\b", "./a/b", or a file and a directory). */
static zip_check_code find_duplicates(job *j) {
    qsort(j->sorted, j->nsorted, sizeof *j->sorted, by_path);
    for (size_t i = 1; i < j->nsorted; i++)
        if (strcmp(j->sorted[i - 1]->path, j->sorted[i]->path) == 0) {
            char a[SHOWN_NAME_MAX + 8], b[SHOWN_NAME_MAX + 8];
            return fail(j->err, ZIP_CHECK_DUPLICATE, "Duplicate entry '%s' in archive (as '%s')",
                        shown(j->sorted[i]->raw, a), shown(j->sorted[i - 1]->raw, b));
        }
    return ZIP_CHECK_OK;
}

/* ---- pass two: extraction ---- */

static zip_check_code make_root(job *j, const char *base, zip_check_result *out) {
    if (!base || !*base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    if (asprintf(&out->dir, "%s/omps-zip-XXXXXX", base) < 0) {
        out->dir = NULL;
        return fail(j->err, ZIP_CHECK_NOMEM, "Out of memory");
    }
    if (!mkdtemp(out->dir)) { /* mode 0700 */
        int e = errno;
        free(out->dir);
        out->dir = NULL;
        return fail(j->err, ZIP_CHECK_IO, "Cannot create the extraction directory: %s",
                    strerror(e));
    }
    j->rootfd = open(out->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (j->rootfd < 0)
        return fail(j->err, ZIP_CHECK_IO, "Cannot open the extraction directory: %s",
                    strerror(errno));
    return ZIP_CHECK_OK;
}

/* Open (making as needed, 0700) the directory at the first len bytes of e->path, one
 * component at a time and never through a link. *out_fd is j->rootfd when len is 0; the
 * caller closes any other descriptor. */
static zip_check_code walk_dirs(job *j, const entry *e, size_t len, int *out_fd) {
    char comp[COMPONENT_MAX + 1], nm[SHOWN_NAME_MAX + 8];
    int cur = j->rootfd;
    for (const char *p = e->path, *end = e->path + len; p < end;) {
        size_t n = strcspn(p, "/");
        if (n > (size_t)(end - p))
            n = (size_t)(end - p);
        memcpy(comp, p, n); /* n <= COMPONENT_MAX: checked by normalise */
        comp[n] = '\0';
        int made = mkdirat(cur, comp, 0700) == 0 || errno == EEXIST;
        int next = made ? openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        int saved = errno;
        if (cur != j->rootfd)
            close(cur);
        if (next < 0 && (saved == ENOTDIR || saved == ELOOP))
            return fail(j->err, ZIP_CHECK_DUPLICATE,
                        "Entry '%s' needs a directory where the archive has a file",
                        shown(e->raw, nm));
        if (next < 0)
            return fail(j->err, ZIP_CHECK_IO, "Cannot create directory for '%s': %s",
                        shown(e->raw, nm), strerror(saved));
        cur = next;
        p += n;
        p += *p == '/';
    }
    *out_fd = cur;
    return ZIP_CHECK_OK;
}

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A libzip error while reading member e, with OMPS's messages where it has one. */
static zip_check_code member_error(job *j, const entry *e, int ze) {
    char nm[SHOWN_NAME_MAX + 8];
    zip_error_t zerr;
    zip_error_init_with_code(&zerr, ze);
    zip_check_code c = map_zip_error(ze);
    shown(e->raw, nm);
    if (c == ZIP_CHECK_CRC)
        set_error(j->err, c, "CRC check failed for file %s in archive", nm);
    else if (c == ZIP_CHECK_ENCRYPTED)
        set_error(j->err, c, "File '%s' is encrypted, password required for extraction", nm);
    else if (c == ZIP_CHECK_CORRUPT)
        set_error(j->err, c, "File '%s' is corrupt: %s", nm, zip_error_strerror(&zerr));
    else
        set_error(j->err, c, "Cannot read file '%s' from the archive: %s", nm,
                  zip_error_strerror(&zerr));
    zip_error_fini(&zerr);
    return c;
}

/* Inflate member e into fd chunk by chunk, counting what actually comes out. */
static zip_check_code copy_member(job *j, const entry *e, int fd) {
    char nm[SHOWN_NAME_MAX + 8];
    zip_file_t *zf = zip_fopen_index(j->za, e->index, 0);
    if (!zf)
        return member_error(j, e, zip_error_code_zip(zip_get_error(j->za)));
    zip_check_code rc = ZIP_CHECK_OK;
    uint64_t got = 0;
    for (;;) {
        zip_int64_t n = zip_fread(zf, j->buf, CHUNK);
        if (n < 0) {
            rc = member_error(j, e, zip_error_code_zip(zip_file_get_error(zf)));
            break;
        }
        if (n == 0)
            break;
        got += (uint64_t)n;
        j->total += (uint64_t)n;
        if (e->size_known && got > e->size) {
            rc = fail(j->err, ZIP_CHECK_SIZE_MISMATCH,
                      "File '%s' inflates to more than its declared size (%lluB)",
                      shown(e->raw, nm), (unsigned long long)e->size);
            break;
        }
        if (j->total > j->lim.max_uncompressed) {
            rc = fail(j->err, ZIP_CHECK_TOO_LARGE,
                      "Uncompressed archive is larger than limit (%lluB>%lluB)",
                      (unsigned long long)j->total, (unsigned long long)j->lim.max_uncompressed);
            break;
        }
        if (write_all(fd, j->buf, (size_t)n) < 0) {
            rc = fail(j->err, ZIP_CHECK_IO, "Cannot write '%s': %s", shown(e->raw, nm),
                      strerror(errno));
            break;
        }
    }
    int ze = zip_fclose(zf);
    if (rc == ZIP_CHECK_OK && ze != 0)
        rc = member_error(j, e, ze);
    return rc;
}

static zip_check_code extract_entry(job *j, const entry *e) {
    char nm[SHOWN_NAME_MAX + 8];
    const char *slash = strrchr(e->path, '/');
    size_t dirlen = e->is_dir ? strlen(e->path) : slash ? (size_t)(slash - e->path) : 0;
    int pfd = -1;
    zip_check_code rc = walk_dirs(j, e, dirlen, &pfd);
    if (rc != ZIP_CHECK_OK || e->is_dir) {
        if (rc == ZIP_CHECK_OK && pfd != j->rootfd)
            close(pfd);
        return rc;
    }
    const char *leaf = slash ? slash + 1 : e->path;
    int fd = openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int saved = errno;
    if (pfd != j->rootfd)
        close(pfd);
    if (fd < 0 && saved == EEXIST) /* exact duplicates are gone: a directory took the name */
        return fail(j->err, ZIP_CHECK_DUPLICATE,
                    "Entry '%s' is a file where the archive has a directory", shown(e->raw, nm));
    if (fd < 0)
        return fail(j->err, ZIP_CHECK_IO, "Cannot create '%s': %s", shown(e->raw, nm),
                    strerror(saved));
    rc = copy_member(j, e, fd);
    if (close(fd) < 0 && rc == ZIP_CHECK_OK)
        rc =
            fail(j->err, ZIP_CHECK_IO, "Cannot write '%s': %s", shown(e->raw, nm), strerror(errno));
    return rc;
}

/* Hand the sorted file paths over to the result. */
static zip_check_code list_files(job *j, zip_check_result *out) {
    out->files = calloc(j->nsorted + 1, sizeof *out->files);
    if (!out->files)
        return fail(j->err, ZIP_CHECK_NOMEM, "Out of memory");
    for (size_t i = 0; i < j->nsorted; i++)
        if (!j->sorted[i]->is_dir) {
            out->files[out->nfiles++] = j->sorted[i]->path;
            j->sorted[i]->path = NULL;
        }
    out->nbytes = j->total;
    return ZIP_CHECK_OK;
}

zip_check_code zip_check_extract(const char *zip_path, const char *base_dir,
                                 const zip_check_limits *lim, zip_check_result *out,
                                 zip_check_error *err) {
    job j = {.lim = effective(lim), .err = err, .rootfd = -1};
    if (err)
        *err = (zip_check_error){ZIP_CHECK_OK, ""};
    *out = (zip_check_result){0};
    zip_check_code rc = ZIP_CHECK_OK;
    if (!(j.buf = malloc(BUF_SIZE)))
        rc = fail(err, ZIP_CHECK_NOMEM, "Out of memory");
    if (rc == ZIP_CHECK_OK)
        rc = open_archive(&j, zip_path);
    if (rc == ZIP_CHECK_OK)
        rc = stat_entries(&j);
    for (size_t i = 0; rc == ZIP_CHECK_OK && i < j.n; i++)
        rc = check_entry(&j, &j.ents[i]);
    if (rc == ZIP_CHECK_OK)
        rc = find_duplicates(&j);
    if (rc == ZIP_CHECK_OK)
        rc = make_root(&j, base_dir, out);
    for (size_t i = 0; rc == ZIP_CHECK_OK && i < j.n; i++)
        if (j.ents[i].path && *j.ents[i].path)
            rc = extract_entry(&j, &j.ents[i]);
    if (rc == ZIP_CHECK_OK)
        rc = list_files(&j, out);
    if (j.rootfd >= 0)
        close(j.rootfd);
    for (size_t i = 0; i < j.n; i++)
        free(j.ents[i].path);
    free(j.ents);
    free(j.sorted);
    free(j.buf);
    if (j.za)
        zip_discard(j.za);
    if (rc != ZIP_CHECK_OK)
        zip_check_release(out);
    return rc;
}

/* ---- removal ---- */

/* Empty the directory open at fd (taken over) without following links. */
static int empty_dir(int fd, int depth) {
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    int rc = 0, removed;
    do { /* rescan until a pass removes nothing: readdir during unlinks may skip names */
        removed = 0;
        rewinddir(d);
        const struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            struct stat st;
            if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                continue;
            if (S_ISDIR(st.st_mode)) {
                int sub = depth < REMOVE_DEPTH_MAX
                              ? openat(dirfd(d), de->d_name,
                                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                              : (errno = ELOOP, -1);
                if (sub < 0 || empty_dir(sub, depth + 1) < 0)
                    rc = -1;
            }
            if (unlinkat(dirfd(d), de->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) == 0)
                removed++;
            else if (errno != ENOENT)
                rc = -1;
        }
    } while (removed && rc == 0);
    int e = errno;
    closedir(d);
    errno = e;
    return rc;
}

int zip_check_remove_tree(const char *dir) {
    if (!dir || !*dir)
        return 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    if (empty_dir(fd, 1) < 0)
        return -1;
    return rmdir(dir) == 0 || errno == ENOENT ? 0 : -1;
}

int zip_check_release(zip_check_result *out) {
    int rc = zip_check_remove_tree(out->dir);
    free(out->dir);
    for (size_t i = 0; i < out->nfiles; i++)
        free(out->files[i]);
    free(out->files);
    *out = (zip_check_result){0};
    return rc;
}
