/* zip_check.h — OMPS's uploaded-zip checks: the form field and file name rules, then
 * validation and extraction of the archive into a private temporary directory.
 *
 * Every refusal has its own zip_check_code and a message naming the offending entry;
 * zip_check_omps_error maps a code to the OMPS error id and HTTP status (reference/omps.md
 * §A.13). Nothing here talks to the network; extraction is bounded by zip_check_limits. */
#ifndef OMPS_ZIP_CHECK_H
#define OMPS_ZIP_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Why an upload was refused (ZIP_CHECK_OK: it was not). */
typedef enum {
    ZIP_CHECK_OK = 0,
    ZIP_CHECK_NO_FIELD,         /* the multipart form has no "file" field */
    ZIP_CHECK_NO_FILENAME,      /* the "file" field has an empty file name */
    ZIP_CHECK_BAD_EXTENSION,    /* the file name does not end in .zip (case-insensitive) */
    ZIP_CHECK_UPLOAD_TOO_LARGE, /* the file on disk is over limits.max_file_size */
    ZIP_CHECK_EMPTY,            /* the file is empty */
    ZIP_CHECK_NOT_ZIP,          /* libzip cannot open it as an archive */
    ZIP_CHECK_TOO_MANY_ENTRIES, /* more entries than limits.max_entries */
    ZIP_CHECK_NAME_TOO_LONG,    /* an entry name, one component or the depth is over a limit */
    ZIP_CHECK_UNSAFE_PATH,      /* absolute path, drive letter, ".." component or empty name */
    ZIP_CHECK_SYMLINK,          /* a symbolic link entry (UNIX mode bits in the attributes) */
    ZIP_CHECK_SPECIAL_FILE,     /* a device, FIFO or socket entry */
    ZIP_CHECK_DUPLICATE,        /* two entries with one name, or a file where a dir must be */
    ZIP_CHECK_ENCRYPTED,        /* an encrypted member */
    ZIP_CHECK_UNSUPPORTED,      /* a compression method libzip cannot inflate */
    ZIP_CHECK_TOO_LARGE,        /* declared or inflated total over limits.max_uncompressed */
    ZIP_CHECK_SIZE_MISMATCH,    /* a member inflates to more than its declared size (a bomb) */
    ZIP_CHECK_CRC,              /* a member's CRC-32 does not match its data */
    ZIP_CHECK_CORRUPT,          /* invalid compressed data, truncated member, size mismatch */
    ZIP_CHECK_IO,               /* creating or writing the extraction directory failed */
    ZIP_CHECK_NOMEM,            /* allocation failed */
    ZIP_CHECK_CODE_COUNT
} zip_check_code;

/** The bounds of one extraction; ZIP_CHECK_LIMITS_INIT holds OMPS's defaults. */
typedef struct {
    uint64_t max_uncompressed; /* total bytes inflated (ZIPFILE_MAX_UNCOMPRESSED_SIZE) */
    uint64_t max_file_size;    /* size of the archive itself; 0 = not checked here */
    uint32_t max_entries;      /* entries in the central directory, directories included */
    uint32_t max_name_len;     /* bytes of one entry name as stored */
    uint32_t max_depth;        /* path components of one entry */
} zip_check_limits;

#define ZIP_CHECK_DEFAULT_MAX_UNCOMPRESSED (20u * 1024 * 1024)
#define ZIP_CHECK_LIMITS_INIT                                                                      \
    { ZIP_CHECK_DEFAULT_MAX_UNCOMPRESSED, 0, 1000, 1024, 32 }

/** Room for a message: entry names in it are escaped and cut to 200 bytes. */
#define ZIP_CHECK_MSG_MAX 512

/** A refusal: its code and an OMPS-style message naming the entry ("File 'x' is encrypted,
 *  password required for extraction"). message is "" when code is ZIP_CHECK_OK. */
typedef struct {
    zip_check_code code;
    char message[ZIP_CHECK_MSG_MAX];
} zip_check_error;

/** What an extraction produced. Zero it before use; give it back with zip_check_release. */
typedef struct {
    char *dir;       /* the private extraction directory (mode 0700); NULL when none */
    char **files;    /* regular files written, relative '/'-separated paths, sorted byte-wise */
    size_t nfiles;   /* entries in files */
    uint64_t nbytes; /* bytes inflated and written */
} zip_check_result;

/** The form rule of OMPS (§A.4 steps 1–3): `filename` is the "file" field's file name, NULL
 *  when the form has no such field. ZIP_CHECK_OK, ZIP_CHECK_NO_FIELD, ZIP_CHECK_NO_FILENAME or
 *  ZIP_CHECK_BAD_EXTENSION (Python's os.path.splitext rule: leading dots of the base name do not
 *  start an extension, so ".zip" has none). err (may be NULL) gets OMPS's message. */
zip_check_code zip_check_filename_ok(const char *filename, zip_check_error *err);

/** Normalise one stored entry name: '\\' is a separator too, empty and "." components are
 *  dropped; absolute paths, drive letters and ".." components are refused, as are names over
 *  lim's length and depth bounds. Writes the relative path ('/'-separated, no trailing '/')
 *  into out and whether the entry names a directory (trailing separator) into *is_dir. A
 *  directory entry may normalise to "" (the root itself). ZIP_CHECK_OK, ZIP_CHECK_UNSAFE_PATH
 *  or ZIP_CHECK_NAME_TOO_LONG (also when out is too small). */
zip_check_code zip_check_entry_name(const char *name, const zip_check_limits *lim, char *out,
                                    size_t cap, bool *is_dir);

/** Validate the archive at zip_path and extract it into a new directory made by mkdtemp under
 *  base_dir ("<base_dir>/omps-zip-XXXXXX", mode 0700; NULL base means $TMPDIR or /tmp).
 *  Every entry name is validated before anything is written; members are inflated in chunks
 *  and counted, so the limits hold for the bytes actually produced, whatever the archive
 *  declares. Directories are made 0700, files written 0600 with O_EXCL|O_NOFOLLOW. lim NULL
 *  means ZIP_CHECK_LIMITS_INIT. On success fills *out (release it with zip_check_release).
 *  On failure nothing is left on disk, *out stays empty and err (may be NULL) says why. */
zip_check_code zip_check_extract(const char *zip_path, const char *base_dir,
                                 const zip_check_limits *lim, zip_check_result *out,
                                 zip_check_error *err);

/** Remove out->dir recursively and free the file list; the result is zeroed. Safe on a zeroed
 *  result and twice. Returns 0, or -1 when something could not be removed (logged by caller). */
int zip_check_release(zip_check_result *out);

/** Remove the directory tree at `dir` without ever following a symbolic link (a link inside
 *  is unlinked, not followed; a link as `dir` itself is refused). Depth is bounded (256).
 *  0, or -1 with errno when something could not be removed; a missing dir is 0. */
int zip_check_remove_tree(const char *dir);

/** OMPS's error id for a code ("OMPSUploadedFileError", "OMPSExpectedFileError",
 *  "RequestEntityTooLarge", "InternalServerError"; NULL for ZIP_CHECK_OK) and, in *status
 *  (may be NULL), its HTTP status (400, 413, 500; 200 for ZIP_CHECK_OK). */
const char *zip_check_omps_error(zip_check_code code, int *status);

/** A short stable name for a code ("encrypted", "crc", ...), for logs and metrics labels. */
const char *zip_check_code_name(zip_check_code code);

#endif
