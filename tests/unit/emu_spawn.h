/* emu_spawn.h — start an emulator binary as a child process for a unit test.
 *
 * The emulator is found next to the test binary: build/<variant>/tests/test_x →
 * build/<variant>/bin/<name>-emulator (via /proc/self/exe), so a test always talks to the
 * emulator of its own variant. It listens on port 0 and writes the bound port to a file in a
 * fresh temporary directory (EMU_PORT_FILE); the test waits for that file and for
 * GET /_emulator/health. The child gets PR_SET_PDEATHSIG so it never outlives a crashed
 * test; its log goes to <dir>/emulator.log. Header-only (static inline) because every test
 * binary is built from a single file. */
#ifndef EMU_SPAWN_H
#define EMU_SPAWN_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/buf.h"
#include "shared/http_client.h"

typedef struct {
    pid_t pid;
    unsigned port;
    char dir[64];  /* temporary directory for fixture, port file, log */
    char base[64]; /* http://127.0.0.1:<port> */
    qs_http *http; /* a client without retries, for control calls */
} emu_proc;

static inline void emu_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Write `text` to <dir>/<name> and return the path in `out`. */
static inline void emu_write_file(const emu_proc *p, const char *name, const char *text, char *out,
                                  size_t outlen) {
    snprintf(out, outlen, "%s/%s", p->dir, name);
    FILE *f = fopen(out, "w");
    cr_assert_not_null(f, "cannot write %s", out);
    fputs(text, f);
    fclose(f);
}

static inline void emu_binary(const char *name, char *out, size_t outlen) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert(n > 0);
    self[n] = '\0';
    snprintf(out, outlen, "%s/../bin/%s-emulator", dirname(self), name);
    cr_assert(access(out, X_OK) == 0, "%s is not built (make all first)", out);
}

/* Make the temporary directory (call before writing fixtures). */
static inline void emu_prepare(emu_proc *p) {
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/qs-emu-XXXXXX");
    cr_assert_not_null(mkdtemp(p->dir));
}

static inline long emu_call(emu_proc *p, const char *method, const char *path, const char *body,
                            qs_buf *out);

/* Start <name>-emulator with `env` ("NAME=value" strings, NULL-terminated) added. */
static inline void emu_start(emu_proc *p, const char *name, const char *const env[]) {
    char bin[PATH_MAX + 64], portfile[128], logfile[128];
    emu_binary(name, bin, sizeof bin);
    snprintf(portfile, sizeof portfile, "%s/port", p->dir);
    snprintf(logfile, sizeof logfile, "%s/emulator.log", p->dir);
    pid_t parent = getpid();
    p->pid = fork();
    cr_assert(p->pid >= 0);
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0)
            dup2(fd, 2);
        setenv("EMU_PORT_FILE", portfile, 1);
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execl(bin, bin, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500 && !p->port; i++) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            if (fscanf(f, "%u", &p->port) != 1)
                p->port = 0;
            fclose(f);
        }
        if (!p->port)
            emu_sleep_ms(10);
    }
    cr_assert(p->port, "%s-emulator did not start (see %s)", name, logfile);
    snprintf(p->base, sizeof p->base, "http://127.0.0.1:%u", p->port);
    qs_http_opts o = QS_HTTP_OPTS_INIT;
    o.max_attempts = 1;
    o.timeout_ms = 10000;
    p->http = qs_http_new(&o);
    long st = 0;
    for (int i = 0; i < 200 && st != 200; i++) {
        st = emu_call(p, "GET", "/_emulator/health", NULL, NULL);
        if (st != 200)
            emu_sleep_ms(10);
    }
    cr_assert_eq(st, 200, "%s-emulator is not healthy", name);
}

static inline void emu_stop(emu_proc *p) {
    qs_http_free(p->http); /* close keep-alive connections first: no grace wait for them */
    p->http = NULL;
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        int status;
        waitpid(p->pid, &status, 0);
        p->pid = 0;
    }
    if (p->dir[0] && !getenv("QS_KEEP_EMU_DIR")) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", p->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", p->dir);
    }
}

/* A request to the emulator; returns the status (0 on transport error), body in *out. */
static inline long emu_call(emu_proc *p, const char *method, const char *path, const char *body,
                            qs_buf *out) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", p->base, path);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.method = method;
    req.url = url;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    qs_http_resp resp = {0};
    qs_http_do(p->http, &req, &resp);
    long st = resp.status;
    if (out)
        qs_buf_puts(out, qs_buf_str(&resp.body));
    qs_http_resp_free(&resp);
    return st;
}

/* How often "METHOD path" was called, from GET /_emulator/calls. */
static inline long emu_calls(emu_proc *p, const char *key) {
    qs_buf b = QS_BUF_INIT;
    cr_assert_eq(emu_call(p, "GET", "/_emulator/calls", NULL, &b), 200);
    json_t *j = json_loads(qs_buf_str(&b), 0, NULL);
    qs_buf_free(&b);
    long n = (long)json_integer_value(json_object_get(j, key));
    json_decref(j);
    return n;
}

#endif
