/*
 * nats_server.h - a real nats-server with JetStream for the NATS tests and benchmark: on a
 * free loopback port, its store in a temporary directory, limits from a config file
 * (max_payload 8MB, max_memory_store 64MB, max_file_store 256MB: 2.9.10 has no flags for
 * them), and worker processes (`faas worker`). Readiness is read from the processes' own
 * output ("Server is ready", "ready:"), with generous bounds; nothing sleeps to wait.
 */
#ifndef FAAS_NATS_SERVER_H
#define FAAS_NATS_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct nats_server {
    pid_t           pid;
    int             port;
    char            dir[256];           /* config and store */
    char            url[64];
    int             out_fd;             /* the server's stderr, read by the drain thread */
    pthread_t       drain;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int             ready;              /* 1: "Server is ready"; -1: exited before */
} nats_server;

static inline const char *nats_server_bin(void)
{
    const char *b = getenv("NATS_SERVER");
    if (b == NULL || b[0] == '\0')
        b = "/usr/sbin/nats-server";
    return access(b, X_OK) == 0 ? b : NULL;
}

/* A pipe whose ends are closed in the programs this process starts (dup2 clears it). */
static inline int nats_pipe_(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

/* A loopback port nobody listens on now. */
static inline int nats_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Reads the server's log until EOF; marks it ready at "Server is ready". */
static inline void *nats_server_drain_(void *arg)
{
    nats_server *s = arg;
    char buf[4096], line[8192];
    size_t used = 0;
    ssize_t got;
    while ((got = read(s->out_fd, buf, sizeof buf)) > 0 || (got < 0 && errno == EINTR)) {
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] != '\n' && used < sizeof line - 1) {
                line[used++] = buf[i];
                continue;
            }
            line[used] = '\0';
            used = 0;
            if (getenv("FAAS_NATS_VERBOSE"))
                fprintf(stderr, "# nats-server: %s\n", line);
            if (strstr(line, "Server is ready") != NULL) {
                pthread_mutex_lock(&s->mu);
                s->ready = 1;
                pthread_cond_broadcast(&s->cv);
                pthread_mutex_unlock(&s->mu);
            }
        }
    }
    pthread_mutex_lock(&s->mu);
    if (s->ready == 0)
        s->ready = -1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Start (or, with s->dir and s->port already set, restart on the same store and port).
 * 0 once it says it is ready, -1 if it did not within 20 s. */
static inline int nats_server_start(nats_server *s)
{
    const char *bin = nats_server_bin();
    if (bin == NULL)
        return -1;
    if (s->dir[0] == '\0') {
        const char *tmp = getenv("TMPDIR");
        snprintf(s->dir, sizeof s->dir, "%s/faas-nats-XXXXXX", tmp ? tmp : "/tmp");
        if (mkdtemp(s->dir) == NULL)
            return -1;
        s->port = nats_free_port();
        if (s->port <= 0)
            return -1;
    }
    snprintf(s->url, sizeof s->url, "nats://127.0.0.1:%d", s->port);
    char conf[300];
    snprintf(conf, sizeof conf, "%s/server.conf", s->dir);
    FILE *f = fopen(conf, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "listen: 127.0.0.1:%d\nmax_payload: 8MB\n"
               "jetstream {\n  store_dir: \"%s/js\"\n  max_memory_store: 64MB\n"
               "  max_file_store: 256MB\n}\n", s->port, s->dir);
    fclose(f);
    int fds[2];
    if (nats_pipe_(fds) != 0)
        return -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->ready = 0;
    s->pid = fork();
    if (s->pid == 0) {
        dup2(fds[1], 2);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(bin, bin, "-c", conf, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    if (s->pid < 0) {
        close(fds[0]);
        return -1;
    }
    s->out_fd = fds[0];
    pthread_create(&s->drain, NULL, nats_server_drain_, s);
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += 20;
    pthread_mutex_lock(&s->mu);
    while (s->ready == 0)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &at) != 0)
            break;
    int ready = s->ready;
    pthread_mutex_unlock(&s->mu);
    return ready == 1 ? 0 : -1;
}

/* Stop with sig (SIGTERM, or SIGKILL for a crash) and wait for the process to end. */
static inline void nats_server_stop(nats_server *s, int sig)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, sig);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
    pthread_join(s->drain, NULL);
    close(s->out_fd);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

/* Stop and remove the store. */
static inline void nats_server_destroy(nats_server *s)
{
    nats_server_stop(s, SIGTERM);
    if (s->dir[0] != '\0') {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "# could not remove %s\n", s->dir);
        s->dir[0] = '\0';
    }
}

/* ---- worker processes ------------------------------------------------------------------ */

typedef struct nats_worker {
    pid_t pid;
    FILE *out;                          /* its stdout */
    char  last[512];                    /* the last line it printed */
} nats_worker;

/* Start argv (argv[0] a path) with stdout piped; 0 once it printed a line containing
 * "ready:" within 30 s. */
static inline int nats_worker_start(nats_worker *w, char *const argv[])
{
    int fds[2];
    if (nats_pipe_(fds) != 0)
        return -1;
    w->pid = fork();
    if (w->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    if (w->pid < 0) {
        close(fds[0]);
        return -1;
    }
    w->out = fdopen(fds[0], "r");
    struct pollfd p = { fds[0], POLLIN, 0 };
    if (poll(&p, 1, 30000) <= 0 || fgets(w->last, sizeof w->last, w->out) == NULL)
        return -1;
    return strstr(w->last, "ready:") != NULL ? 0 : -1;
}

/* Stop with sig and wait; with SIGTERM, w->last is the worker's closing line. */
static inline int nats_worker_stop(nats_worker *w, int sig)
{
    if (w->pid <= 0)
        return -1;
    kill(w->pid, sig);
    char line[512];
    while (fgets(line, sizeof line, w->out) != NULL)
        snprintf(w->last, sizeof w->last, "%s", line);
    int status = 0;
    waitpid(w->pid, &status, 0);
    fclose(w->out);
    w->pid = 0;
    return status;
}

#endif /* FAAS_NATS_SERVER_H */
