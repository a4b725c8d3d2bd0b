/* files.c — Koji's top directory (KOJIROOT_URL) as the emulator serves it.
 *
 * GET /packages/... and /vol/... look the path (without the leading '/') up first in the
 * fixture's "files" object — {"base64": "..."} inline content, or {"path": "/abs/file"} —
 * and then under the KOJI_EMU_ROOT directory. A fixture entry with "chunked": true is sent
 * without Content-Length, so clients must enforce size limits while streaming. Disk files
 * are streamed from an open descriptor (never held whole). Paths with '..' or empty segments
 * are 404, as is everything else unknown (the fallback route, mounted last). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu.h"
#include "koji_emu.h"
#include "shared/base64.h"
#include "shared/common.h"

static bool safe_rel(const char *p) {
    if (!*p || strstr(p, "//") || strstr(p, "/../") || strncmp(p, "../", 3) == 0)
        return false;
    size_t n = strlen(p);
    return !(n >= 3 && strcmp(p + n - 3, "/..") == 0) && strcmp(p, "..") != 0;
}

typedef struct {
    int fd;
} file_stream;

static ssize_t read_fd(void *ctx, char *buf, size_t max) {
    file_stream *fs = ctx;
    ssize_t n = read(fs->fd, buf, max);
    if (n == 0)
        return QS_STREAM_END;
    return n < 0 ? QS_STREAM_ERROR : n;
}

static void close_fd(void *ctx) {
    file_stream *fs = ctx;
    close(fs->fd);
    free(fs);
}

static void serve_fd(qs_req *r, int fd, bool chunked) {
    struct stat st;
    file_stream *fs = malloc(sizeof *fs);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !fs) {
        free(fs);
        close(fd);
        qs_respond_error(r, 404, "not_found", "Not Found");
        return;
    }
    fs->fd = fd;
    qs_respond_stream(r, 200, chunked ? QS_SIZE_UNKNOWN : (int64_t)st.st_size, read_fd, fs,
                      close_fd);
}

static void h_file(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    const char *rel = qs_req_path(r) + 1;
    if (!safe_rel(rel)) {
        qs_respond_error(r, 404, "not_found", "Not Found");
        return;
    }
    const json_t *f = json_object_get(json_object_get(koji_fixture, "files"), rel);
    if (f) {
        bool chunked = json_is_true(json_object_get(f, "chunked"));
        const char *b64 = emu_json_str(f, "base64"), *path = emu_json_str(f, "path");
        if (b64) {
            size_t n = 0;
            unsigned char *data = qs_base64_decode(b64, strlen(b64), &n);
            if (!data) {
                qs_respond_error(r, 500, "bad_fixture", "bad base64 for %s", rel);
                return;
            }
            if (chunked) { /* write to an unlinked temporary file and stream it */
                char tmpl[] = "/tmp/koji-emu-XXXXXX";
                int fd = mkstemp(tmpl);
                if (fd >= 0) {
                    unlink(tmpl);
                    bool ok = write(fd, data, n) == (ssize_t)n && lseek(fd, 0, SEEK_SET) == 0;
                    free(data);
                    if (ok) {
                        serve_fd(r, fd, true);
                        return;
                    }
                    close(fd);
                } else {
                    free(data);
                }
                qs_respond_error(r, 500, "io_error", "cannot stage %s", rel);
                return;
            }
            qs_respond(r, 200, "application/octet-stream", data, n);
            free(data);
            return;
        }
        int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        if (fd < 0) {
            qs_respond_error(r, 404, "not_found", "Not Found");
            return;
        }
        serve_fd(r, fd, chunked);
        return;
    }
    if (koji_root_dir) {
        char full[4096];
        int n = snprintf(full, sizeof full, "%s/%s", koji_root_dir, rel);
        int fd = (n > 0 && (size_t)n < sizeof full) ? open(full, O_RDONLY | O_CLOEXEC) : -1;
        if (fd >= 0) {
            serve_fd(r, fd, false);
            return;
        }
    }
    qs_respond_error(r, 404, "not_found", "Not Found");
}

static void h_not_found(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    qs_respond_error(r, 404, "not_found", "Not Found");
}

static const qs_route file_routes[] = {
    {"GET", "/packages/{rest*}", h_file, NULL, 0},
    {"GET", "/vol/{rest*}", h_file, NULL, 0},
    {"*", "/{rest*}", h_not_found, NULL, 0},
};

size_t koji_file_routes(const qs_route **out) {
    *out = file_routes;
    return QS_ARRAY_LEN(file_routes);
}
