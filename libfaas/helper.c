/*
 * helper.c - starting and stopping libfaas's helper programs (faas-zygote for isolated
 * functions, faas-spawner for process instances): each is spawned with its control socket
 * as fd 3 (FAAS__ISO_CTL_FD) and /dev/null as stdin, in a process group of its own, and
 * answers a HELLO first; it exits at EOF on that socket.
 */
#include "internal.h"

#include "isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

extern char **environ;

#define MS_NS(ms) ((uint64_t)(ms) * 1000000u)
#define SHUTDOWN_LIMIT_MS 2000    /* a helper's own shutdown (a zygote's SHUTDOWN hook) */

int faas__helper_wait(int sock, uint64_t deadline)
{
    for (;;) {
        /* Past the deadline nothing more is read, readable or not: a peer that keeps
         * writing (an isolated instance's log messages) would otherwise hold its caller
         * for as long as it liked. */
        uint64_t now = faas__sys_mono_ns();
        if (now >= deadline)
            return 0;
        int left = (int)((deadline - now + 999999u) / 1000000u);
        struct pollfd p = { sock, POLLIN, 0 };
        int rc = poll(&p, 1, left);
        if (rc > 0)
            return 1;
        if (rc == 0 && faas__sys_mono_ns() >= deadline)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

void faas__helper_stop(int pid, int ctl, bool kill_now)
{
    if (!kill_now) {
        shutdown(ctl, SHUT_WR);
        uint64_t deadline = faas__sys_mono_ns() + MS_NS(SHUTDOWN_LIMIT_MS);
        char b[64];
        int fd;
        while (faas__helper_wait(ctl, deadline) == 1 &&
               faas__iso_recv(ctl, b, sizeof b, &fd, true) > 0)
            if (fd >= 0)
                close(fd);
        kill_now = faas__sys_mono_ns() >= deadline;
    }
    if (kill_now)
        kill(pid, SIGKILL);
    close(ctl);
    int st;
    /* ECHILD: a host that ignores SIGCHLD, or reaps every child itself, already did. */
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

/* Is VAR ("NAME=value") one of the host's variables a helper starts with? Only what
 * running a program needs: the helpers, and the instances forked from a zygote, are no
 * place for the host's secrets (FAAS_GATEWAY_TOKEN, AWS_SECRET_ACCESS_KEY, a database's
 * password), which an isolated module could read in its own memory. */
static bool helper_var(const char *var)
{
    static const char *const names[] = {
        "PATH", "LD_LIBRARY_PATH", "LD_PRELOAD", "HOME", "LANG", "LANGUAGE", "TZ", "TZDIR",
        "TMPDIR", "FAAS_CLOCK", "FAAS_ZYGOTE", "FAAS_SPAWNER",
    };
    size_t n = strcspn(var, "=");
    if (var[n] != '=')
        return false;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == n && strncmp(var, names[i], n) == 0)
            return true;
    /* The locale's (LC_ALL, LC_CTYPE...) and the sanitizers' (ASAN_OPTIONS, TSAN_OPTIONS,
     * UBSAN_OPTIONS, LSAN_OPTIONS) */
    return strncmp(var, "LC_", 3) == 0 ||
           (n > 11 && strncmp(var + n - 11, "SAN_OPTIONS=", 12) == 0);
}

/* The environment a helper starts with: the host's variables that helper_var() keeps, in
 * a NULL-terminated array that points into environ (freed by the caller; NULL: no memory). */
static char **helper_environment(void)
{
    size_t n = 0;
    for (char **e = environ; e != NULL && *e != NULL; e++)
        n++;
    char **out = malloc((n + 1) * sizeof *out);
    if (out == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (helper_var(environ[i]))
            out[k++] = environ[i];
    out[k] = NULL;
    return out;
}

int faas__helper_start(const char *path, char *const argv[], struct iovec *first, int nfirst,
                       unsigned limit_ms, int *pid_out, int *ctl_out, char *hello, size_t cap,
                       long *hlen, char *err, size_t errlen)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return FAAS_ENOMEM;
    }
    if (sv[1] <= FAAS__ISO_CTL_FD) {
        /* dup2() onto itself would keep close-on-exec, and 0 (a host without stdin) is
         * where /dev/null goes: move it out of the way first. */
        int moved = fcntl(sv[1], F_DUPFD_CLOEXEC, FAAS__ISO_CTL_FD + 1);
        close(sv[1]);
        sv[1] = moved;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, sv[1], FAAS__ISO_CTL_FD);
    posix_spawnattr_init(&at);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);     /* whatever the calling thread blocks */
    posix_spawnattr_setsigdefault(&at, &all);   /* whatever the host ignores */
    posix_spawnattr_setpgroup(&at, 0);          /* a terminal's ^C is for the host */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    char **env = helper_environment();
    int rc = sv[1] < 0 ? errno : env == NULL ? ENOMEM : posix_spawn(&pid, path, &fa, &at,
                                                                      argv, env);
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (sv[1] >= 0)
        close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        snprintf(err, errlen, "posix_spawn(\"%s\"): %s", path, strerror(rc));
        return FAAS_ELOAD;
    }
    long n = -1;
    int fd = -1, ready = -1;
    if ((nfirst == 0 || faas__iso_send(sv[0], first, nfirst, -1) == 0) &&
        (ready = faas__helper_wait(sv[0], faas__sys_mono_ns() + MS_NS(limit_ms))) == 1)
        n = faas__iso_recv(sv[0], hello, cap - 1, &fd, true);
    if (fd >= 0)
        close(fd);
    if (n < (long)sizeof(faas__iso_hello)) {
        /* EOF, or a reset: it exited (a reset when it left our CONFIG unread). */
        snprintf(err, errlen, "%s (%s) did not start: %s", argv[0], path,
                 ready == 0 ? "no answer in time"
                 : n > 0 ? "a malformed reply"
                         : "it exited (is it the helper of this libfaas?)");
        faas__helper_stop(pid, sv[0], true);
        return ready == 0 ? FAAS_EINIT : FAAS_ELOAD;
    }
    hello[n] = '\0';
    *hlen = n;
    *pid_out = pid;
    *ctl_out = sv[0];
    return FAAS_OK;
}
