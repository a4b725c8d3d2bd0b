/* stack_spawn.h — start the local stack (real docker-registry instances, the quay emulator as
 * their token server) from a criterion test, and small helpers around it.
 *
 * The repository root is found from /proc/self/exe (build/<variant>/tests/test_x → ../../..),
 * so a test runs from any directory and the stack uses the emulators of the test's own
 * variant. stack_start runs `tests/stack/stack.sh start <components>` with a fresh
 * QS_STACK_DIR, takes the directory from its stdout and reads the values it needs from the
 * `env` file there; stack_stop runs `stack.sh stop`. Call them from a suite's .init/.fini:
 * criterion runs each test in its own process, so every test gets its own registries (a
 * start takes about half a second). Header-only: every test binary is one file. */
#ifndef STACK_SPAWN_H
#define STACK_SPAWN_H

#include <criterion/criterion.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/buf.h"
#include "shared/http_client.h"
#include "shared/registry.h"

typedef struct {
    char root[PATH_MAX];
    char variant[32];
    char dir[256];  /* QS_STACK_DIR */
    char plain[64]; /* QS_REG_PLAIN host:port, no auth */
    char token[64]; /* QS_REG_TOKEN host:port, Bearer via the quay emulator */
    char pusher_user[64];
    char pusher_pass[128];
    char robot_user[64];
    char robot_pass[128];
} test_stack;

/* <root> and <variant> from /proc/self/exe = <root>/build/<variant>/tests/<binary>. */
static inline void stack_locate(test_stack *s) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert(n > 0);
    self[n] = '\0';
    for (int i = 0; i < 3; i++) {
        char *slash = strrchr(self, '/');
        cr_assert_not_null(slash);
        *slash = '\0';
        if (i == 2)
            snprintf(s->variant, sizeof s->variant, "%s", slash + 1);
    }
    char *slash = strrchr(self, '/'); /* self = <root>/build */
    cr_assert_not_null(slash);
    *slash = '\0';
    snprintf(s->root, sizeof s->root, "%s", self);
}

/* The value of `export NAME='value'` in the env file (no quotes inside our values). */
static inline void stack_env_value(const char *file, const char *name, char *out, size_t n) {
    FILE *f = fopen(file, "r");
    cr_assert_not_null(f, "cannot read %s", file);
    char line[1024], prefix[128];
    snprintf(prefix, sizeof prefix, "export %s='", name);
    out[0] = '\0';
    while (fgets(line, sizeof line, f))
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            char *v = line + strlen(prefix), *q = strrchr(v, '\'');
            if (q)
                *q = '\0';
            snprintf(out, n, "%s", v);
        }
    fclose(f);
}

/* Run a shell command in the repository root; its exit status. */
static inline int stack_sh(const test_stack *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline int stack_sh(const test_stack *s, const char *fmt, ...) {
    qs_buf cmd = QS_BUF_INIT;
    qs_buf_printf(&cmd, "cd '%s' && export QS_VARIANT='%s' && ", s->root, s->variant);
    va_list ap;
    va_start(ap, fmt);
    qs_buf_vprintf(&cmd, fmt, ap);
    va_end(ap);
    int st = system(qs_buf_str(&cmd));
    qs_buf_free(&cmd);
    return st == -1 ? -1 : WEXITSTATUS(st);
}

/* The same, capturing the first line of stdout (trailing newline removed). */
static inline int stack_sh_out(const test_stack *s, char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int stack_sh_out(const test_stack *s, char *out, size_t n, const char *fmt, ...) {
    qs_buf cmd = QS_BUF_INIT;
    qs_buf_printf(&cmd, "cd '%s' && export QS_VARIANT='%s' && ", s->root, s->variant);
    va_list ap;
    va_start(ap, fmt);
    qs_buf_vprintf(&cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(qs_buf_str(&cmd), "r");
    qs_buf_free(&cmd);
    cr_assert_not_null(p);
    out[0] = '\0';
    if (fgets(out, (int)n, p))
        out[strcspn(out, "\n")] = '\0';
    char sink[256];
    while (fgets(sink, sizeof sink, p)) {
    }
    int st = pclose(p);
    return st == -1 ? -1 : WEXITSTATUS(st);
}

static inline void stack_start(test_stack *s) {
    memset(s, 0, sizeof *s);
    stack_locate(s);
    char log[64], why[512] = "";
    snprintf(log, sizeof log, "/tmp/qs-stack-start.%d.log", (int)getpid());
    int st = stack_sh_out(s, s->dir, sizeof s->dir,
                          "env -u QS_STACK_DIR tests/stack/stack.sh start reg-plain reg-token "
                          "quay 2>'%s'",
                          log);
    FILE *f = fopen(log, "r");
    if (f) { /* the last line says why a start failed */
        char line[512];
        while (fgets(line, sizeof line, f))
            snprintf(why, sizeof why, "%s", line);
        fclose(f);
        unlink(log);
    }
    cr_assert(st == 0 && s->dir[0], "stack.sh start failed (%d): %s", st, why);
    char env[300];
    snprintf(env, sizeof env, "%s/env", s->dir);
    stack_env_value(env, "QS_REG_PLAIN", s->plain, sizeof s->plain);
    stack_env_value(env, "QS_REG_TOKEN", s->token, sizeof s->token);
    stack_env_value(env, "QS_PUSHER_USER", s->pusher_user, sizeof s->pusher_user);
    stack_env_value(env, "QS_PUSHER_PASS", s->pusher_pass, sizeof s->pusher_pass);
    stack_env_value(env, "QS_ROBOT_USER", s->robot_user, sizeof s->robot_user);
    stack_env_value(env, "QS_ROBOT_PASS", s->robot_pass, sizeof s->robot_pass);
    cr_assert(s->plain[0] && s->token[0] && s->pusher_user[0], "incomplete env in %s", env);
}

static inline void stack_stop(test_stack *s) {
    if (s->dir[0])
        stack_sh(s, "QS_STACK_DIR='%s' tests/stack/stack.sh stop '%s' >/dev/null 2>&1", s->dir,
                 s->dir);
    s->dir[0] = '\0';
}

/* ---- registry handles on the stack ---- */

typedef struct {
    const char *user, *pass;
} stack_creds;

static inline int stack_creds_fn(void *ctx, char **user, char **pass) {
    const stack_creds *c = ctx;
    *user = strdup(c->user);
    *pass = strdup(c->pass);
    return *user && *pass ? 0 : -1;
}

/* A registry client for http://<hostport>, with credentials when creds is not NULL. */
static inline qs_registry *stack_registry(qs_http *http, const char *hostport, stack_creds *creds) {
    char base[128];
    snprintf(base, sizeof base, "http://%s", hostport);
    qs_registry_opts o = {base, http, creds ? stack_creds_fn : NULL, creds, 0};
    qs_registry *r = qs_registry_new(&o);
    cr_assert_not_null(r);
    return r;
}

#endif
