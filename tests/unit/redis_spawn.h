/* redis_spawn.h — a real redis-server for one test: on a free loopback port, in a private
 * directory, killed with the test process (PR_SET_PDEATHSIG) or by rs_stop. Header-only; the
 * tests that use it are one .c each. */
#ifndef QS_TEST_REDIS_SPAWN_H
#define QS_TEST_REDIS_SPAWN_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    int port;
    char dir[64];
    char sock[128]; /* unix socket path when unix_socket, else "" */
    bool aof;       /* --appendonly yes */
} redis_proc;

static int rs_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool rs_port_open(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* A private directory and a free port; `unix_socket` adds a socket in the directory. */
static void rs_prepare(redis_proc *r, bool aof, bool unix_socket) {
    memset(r, 0, sizeof *r);
    signal(SIGPIPE, SIG_IGN); /* as in the services: a closed socket is an error, not a kill */
    snprintf(r->dir, sizeof r->dir, "/tmp/qs_redis_XXXXXX");
    cr_assert_not_null(mkdtemp(r->dir));
    if (unix_socket)
        snprintf(r->sock, sizeof r->sock, "%s/redis.sock", r->dir);
    r->port = rs_free_port();
    r->aof = aof;
}

static void rs_start(redis_proc *r) {
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        const char *argv[16] = {"redis-server",        "--port", port,  "--bind",
                                "127.0.0.1",           "--save", "",    "--appendonly",
                                r->aof ? "yes" : "no", "--dir",  r->dir};
        int n = 11;
        if (r->sock[0]) {
            argv[n++] = "--unixsocket";
            argv[n++] = r->sock;
        }
        argv[n] = NULL;
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    r->pid = pid;
    for (int i = 0; i < 500 && !rs_port_open(r->port); i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert(rs_port_open(r->port), "redis-server did not start on %d", r->port);
}

static void rs_stop(redis_proc *r, int sig) {
    if (r->pid > 0) {
        kill(r->pid, sig);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

/* Stop the server and remove its directory. */
static void rs_cleanup(redis_proc *r) {
    rs_stop(r, SIGTERM);
    if (r->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
        cr_expect_eq(system(cmd), 0);
        r->dir[0] = '\0';
    }
}

#endif
