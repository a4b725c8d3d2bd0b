/* freeport.c — print free TCP ports on 127.0.0.1, one per line.
 *
 * Usage: freeport [N]   (N ports, default 1, at most 64)
 *
 * Asks the kernel: binds N sockets to 127.0.0.1:0 and prints the ports it picked. All N sockets
 * stay open until every port is printed, so the ports of one call are distinct. There is an
 * unavoidable window between our close() and the caller's bind(); the kernel hands out
 * ephemeral ports in a scattered order, so a collision with another caller is unlikely, and the
 * stack scripts check that each component really answers. Plain libc, no libshared. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PORTS 64

int main(int argc, char **argv) {
    long n = 1;
    if (argc > 1) {
        char *end = NULL;
        n = strtol(argv[1], &end, 10);
        if (argc > 2 || !end || *end != '\0' || n < 1 || n > MAX_PORTS) {
            fprintf(stderr, "usage: freeport [N]  (1 <= N <= %d)\n", MAX_PORTS);
            return 2;
        }
    }
    int fds[MAX_PORTS];
    unsigned ports[MAX_PORTS];
    for (long i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            perror("freeport: socket");
            return 1;
        }
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa.sin_port = 0;
        socklen_t len = sizeof sa;
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
            perror("freeport: bind");
            close(fd);
            return 1;
        }
        fds[i] = fd;
        ports[i] = ntohs(sa.sin_port);
    }
    for (long i = 0; i < n; i++)
        printf("%u\n", ports[i]);
    for (long i = 0; i < n; i++)
        close(fds[i]);
    return fflush(stdout) == 0 ? 0 : 1;
}
