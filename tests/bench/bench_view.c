/*
 * bench_view.c - what the read-only view of the host's files (faas__iso_view,
 * isolate_userns.c) costs a process instance's init, against what the init did before:
 * a mount namespace of its own and the journal hidden (an unshare, a private /, one tmpfs).
 * Each round forks three children side by side, in turn, and times fork-to-reaped:
 *
 *   bare   fork, exit                              (the floor)
 *   ns     fork, mount namespace + journal hidden, exit   (before the view)
 *   view   fork, faas__iso_view (every mount read-only, /tmp and /dev/shm of its own,
 *          a directory of the runtime's put back from /tmp, one writable directory,
 *          the journal hidden), exit
 *   root   the same for a process that will run as root: besides, no device node but
 *          six harmless ones, /proc/sys and /proc/sysrq-trigger read-only
 *   pidns  (as root only) the view, the child in a PID namespace of its own (as a process
 *          instance's init is), /proc the host's put back
 *   proc   the same with a new /proc of that namespace (FAAS__ISO_PROC_PIDNS), as the
 *          init makes it: the new /proc's cost is proc over pidns
 *
 * Not root, each child first makes a user namespace of its own (as the spawner of a host
 * not root does), in every variant. Two times each: "made", the child's own time from its
 * start to the namespace made (what a cold start waits for: the runtime is spawned
 * after it), and "whole", fork to reaped (with the namespace's teardown at exit, which
 * the instance pays when it ends, off the call's path). Prints the medians
 * (microseconds) and the view's cost over ns; run it several times, the machine is noisy.
 *
 *   tests/bench/bench_view [ROUNDS]          (default 200)
 */
#include "../../libfaas/internal.h"
#include "../../libfaas/isolate.h"
#include "bench.h"

#include <errno.h>
#include <signal.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { BARE, NS, VIEW, ROOT, PIDNS, PROC, NVARIANTS };
static const char *const names[NVARIANTS] = { "bare", "ns", "view", "root", "pidns", "proc" };

static char journal[256], keep[256], writable[256];

/* The child's work for variant v: 0 on success, else 1 + the failed step. */
static int child(int v, bool root)
{
    bool broken;
    if (!root && faas__iso_userns(geteuid(), getegid(), &broken) <= 0)
        return 100;
    if (v == BARE)
        return 0;
    if (v == NS) {
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
            return 101;
        return mount("faas-hidden", journal, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV |
                     MS_NOEXEC, "size=4k,mode=0") == 0 ? 0 : 102;
    }
    const char *dirs[] = { keep, writable };
    int step = 0;
    int32_t made = faas__iso_view(journal, dirs, 1, 1, v == ROOT,
                                  v == PROC ? FAAS__ISO_PROC_PIDNS : FAAS__ISO_PROC_HOST, &step);
    if (v == PROC && made == 1)
        return 98;                      /* the host's /proc: no new one was mounted */
    return made > 0 ? 0 : 1 + step;
}

/* Fork, run variant v, reap: fork to reaped in microseconds, and in *made the child's
 * own time to its namespace; or -1 (the child failed: *why its code). */
static double once(int v, bool root, double *made, int *why)
{
    int fds[2];
    if (pipe(fds) != 0) {
        *why = -1;
        return -1;
    }
    uint64_t t0 = bench_now_ns();
    pid_t p = v >= PIDNS ? (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWPID | SIGCHLD),
                                          NULL, NULL, NULL, 0UL)
                         : fork();
    if (p == 0) {
        uint64_t c0 = bench_now_ns();
        int rc = child(v, root);
        uint64_t c1 = bench_now_ns() - c0;
        if (write(fds[1], &c1, sizeof c1) != (ssize_t)sizeof c1)
            rc = 99;
        _exit(rc);
    }
    int st = 0;
    while (p > 0 && waitpid(p, &st, 0) < 0 && errno == EINTR)
        ;
    uint64_t t1 = bench_now_ns(), c = 0;
    close(fds[1]);
    if (read(fds[0], &c, sizeof c) != (ssize_t)sizeof c)
        c = 0;
    close(fds[0]);
    if (p < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        *why = p < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 200;
        return -1;
    }
    *made = (double)c / 1000.0;
    return (double)(t1 - t0) / 1000.0;
}

static int make_dir(char *out, size_t size, const char *at, const char *prefix)
{
    snprintf(out, size, "%s/%s-XXXXXX", at, prefix);
    return mkdtemp(out) != NULL ? 0 : -1;
}

int main(int argc, char **argv)
{
    size_t rounds = argc > 1 ? (size_t)bench_parse_count(argv[0], argv[1], "ROUNDS") : 200;
    bool root = geteuid() == 0;
    /* the journal and the writable directory outside /tmp; the kept one in it */
    if (make_dir(journal, sizeof journal, "/var/tmp", "faas-bv-journal") != 0 ||
        make_dir(writable, sizeof writable, "/var/tmp", "faas-bv-writable") != 0 ||
        make_dir(keep, sizeof keep, "/tmp", "faas-bv-keep") != 0) {
        perror("bench_view: mkdtemp");
        return 1;
    }
    double *t[NVARIANTS], *m[NVARIANTS];
    for (int v = 0; v < NVARIANTS; v++) {
        t[v] = calloc(rounds, sizeof(double));
        m[v] = calloc(rounds, sizeof(double));
        if (t[v] == NULL || m[v] == NULL)
            return 1;
    }
    int rc = 0;
    int nvariants = root ? NVARIANTS : PIDNS;   /* a PID namespace needs root here */
    for (size_t i = 0; i < rounds && rc == 0; i++)
        for (int v = 0; v < nvariants; v++) {
            int why = 0;
            t[v][i] = once(v, root, &m[v][i], &why);
            if (t[v][i] < 0) {
                fprintf(stderr, "bench_view: %s failed (%d%s%s)\n", names[v], why,
                        v >= VIEW && why > 1 ? ": " : "",
                        v >= VIEW && why > 1 ? faas__iso_view_step(why - 1) : "");
                rc = 1;
                break;
            }
        }
    if (rc == 0) {
        double whole[NVARIANTS], made[NVARIANTS];
        printf("bench_view: %zu rounds, as %s%s (medians, microseconds)\n", rounds,
               root ? "root" : "a user not root",
               root ? "" : ", each child in a user namespace of its own");
        for (int v = 0; v < nvariants; v++) {
            bench_summary s = bench_summarise(t[v], rounds), c = bench_summarise(m[v], rounds);
            whole[v] = s.median;
            made[v] = c.median;
            printf("  %-5s made %8.1f (p90 %8.1f)   whole %8.1f (p90 %8.1f)\n", names[v],
                   c.median, c.p90, s.median, s.p90);
        }
        printf("  the view over ns: made +%.1f us (%.2fx), whole +%.1f us (%.2fx)\n",
               made[VIEW] - made[NS], made[NS] > 0 ? made[VIEW] / made[NS] : 0.0,
               whole[VIEW] - whole[NS], whole[NS] > 0 ? whole[VIEW] / whole[NS] : 0.0);
        printf("  root's part over the view: made +%.1f us, whole +%.1f us\n",
               made[ROOT] - made[VIEW], whole[ROOT] - whole[VIEW]);
        if (root)
            printf("  a /proc of its own over the host's (in a PID namespace): made +%.1f us, "
                   "whole +%.1f us\n", made[PROC] - made[PIDNS], whole[PROC] - whole[PIDNS]);
    }
    for (int v = 0; v < NVARIANTS; v++) {
        free(t[v]);
        free(m[v]);
    }
    rmdir(journal);
    rmdir(writable);
    rmdir(keep);
    return rc;
}
