/*
 * isolate_seccomp.c - process isolation's system-call filters, loaded by each instance
 * (isolate_child.c) before its first call:
 *   - the function's profile (no-network, strict), compiled once in the zygote with
 *     libseccomp: which system calls the module may make at all;
 *   - the containment filter, in every profile (none included), written here as BPF for the
 *     instance's own pid: the system calls that act on another process (signals, ptrace,
 *     another process's memory, limits, scheduling, process group) are allowed only on the
 *     instance's own process or process group. libseccomp cannot say "refuse unless the
 *     argument is one of these", hence the hand-written program.
 * A refusal raises SIGSYS (SECCOMP_RET_TRAP): the instance reports the system call and dies,
 * and the call ends FAAS_ECRASHED naming it. The containment filter's refusals carry
 * FAAS__ISO_CONTAINED as their data, so that the host can say why.
 */
#include "internal.h"

#include "isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <seccomp.h>

/* ---- the profiles -------------------------------------------------------------------- */

/* no-network: what could reach a network or another local service. io_uring is refused
 * too: its operations are not filtered per syscall. */
static const char *const deny_network[] = {
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    "io_uring_setup", NULL
};

/* strict: a pure computation. Its channel (read, write, messages), memory (including the
 * shared region of large payloads, which it seals with fcntl()), signals to report a crash,
 * time, and exit. No open(), no new process, no socket. */
static const char *const allow_strict[] = {
    "read", "write", "readv", "writev", "pread64", "pwrite64", "recvmsg", "sendmsg",
    "recvfrom", "sendto", "close", "fstat", "newfstatat", "lseek", "fcntl",
    "mmap", "munmap", "mremap", "mprotect", "brk", "madvise", "memfd_create", "ftruncate",
    "rt_sigreturn", "rt_sigaction", "rt_sigprocmask", "sigaltstack", "tgkill", "getpid",
    "gettid", "futex", "sched_yield", "clock_gettime", "clock_getres", "clock_nanosleep",
    "nanosleep", "gettimeofday", "time", "getrusage", "getrlimit", "prlimit64",
    "getrandom", "restart_syscall", "exit", "exit_group", NULL
};

static const char *profile_name(int p)
{
    return p == FAAS_SECCOMP_STRICT ? "strict" : p == FAAS_SECCOMP_NO_NETWORK ? "no-network"
                                                                              : "none";
}

int faas__iso_profile_build(int profile, struct sock_fprog *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (profile == FAAS_SECCOMP_NONE)
        return FAAS_OK;
    scmp_filter_ctx sc = seccomp_init(profile == FAAS_SECCOMP_STRICT ? SCMP_ACT_TRAP
                                                                      : SCMP_ACT_ALLOW);
    if (sc == NULL) {
        snprintf(err, errlen, "seccomp_init: out of memory");
        return FAAS_ENOMEM;
    }
    const char *const *list = profile == FAAS_SECCOMP_STRICT ? allow_strict : deny_network;
    uint32_t action = profile == FAAS_SECCOMP_STRICT ? SCMP_ACT_ALLOW : SCMP_ACT_TRAP;
    int rc = 0;
    for (; *list != NULL && rc == 0; list++) {
        int nr = seccomp_syscall_resolve_name(*list);
        if (nr != __NR_SCMP_ERROR)      /* not on this architecture */
            rc = seccomp_rule_add(sc, action, nr, 0);
    }
    /* strict lets the instance add the containment filter after it: a filter can only
     * take rights away. */
    if (rc == 0 && profile == FAAS_SECCOMP_STRICT) {
        struct scmp_arg_cmp is_seccomp = { 0, SCMP_CMP_EQ, PR_SET_SECCOMP, 0 };
        rc = seccomp_rule_add_array(sc, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, &is_seccomp);
    }
    int mfd = rc == 0 ? memfd_create("faas-seccomp", MFD_CLOEXEC) : -1;
    if (mfd >= 0)
        rc = seccomp_export_bpf(sc, mfd);
    seccomp_release(sc);
    off_t size = mfd >= 0 && rc == 0 ? lseek(mfd, 0, SEEK_END) : -1;
    void *prog = size > 0 ? malloc((size_t)size) : NULL;
    if (prog == NULL || pread(mfd, prog, (size_t)size, 0) != size) {
        free(prog);
        if (mfd >= 0)
            close(mfd);
        snprintf(err, errlen, "seccomp profile \"%s\" could not be built (%s)",
                 profile_name(profile), rc < 0 ? strerror(-rc) : "export failed");
        return FAAS_ELOAD;
    }
    close(mfd);
    out->len = (unsigned short)((size_t)size / sizeof(struct sock_filter));
    out->filter = prog;
    return FAAS_OK;
}

/* ---- the containment filter ---------------------------------------------------------- */

/* A small assembler: a rule's first instruction skips to the next rule for another system
 * call; the other jumps name one of the shared returns at the end of the program, and are
 * resolved once it is complete. */
enum { TO_ALLOW = 1, TO_DENY, TO_NOSYS };

#define MAX_INS 240                 /* every jump must stay within 255 instructions */

typedef struct prog {
    struct sock_filter f[MAX_INS + 3];
    unsigned char      jt[MAX_INS + 3], jf[MAX_INS + 3];   /* TO_*, or 0: no jump */
    unsigned           n, rule;     /* instructions; where the current rule began */
    bool               full;
} prog;

static void ins(prog *p, uint16_t code, uint32_t k, unsigned char jt, unsigned char jf)
{
    if (p->n >= MAX_INS) {
        p->full = true;
        return;
    }
    p->f[p->n] = (struct sock_filter)BPF_JUMP(code, k, 0, 0);
    p->jt[p->n] = jt;
    p->jf[p->n] = jf;
    p->n++;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
# define LOW_WORD 0
#else
# define LOW_WORD 4
#endif

/* A's value: the low 32 bits of argument i. The kernel reads pid_t, int and unsigned int
 * arguments from the low half of the register; the high half is ignored, so the filter
 * ignores it too (a "pid" with high bits set must not slip past). */
static void load_arg(prog *p, int i)
{
    ins(p, BPF_LD | BPF_W | BPF_ABS,
        (uint32_t)(offsetof(struct seccomp_data, args) + 8u * (unsigned)i + LOW_WORD), 0, 0);
}

/* The rule for system call nr: the instructions up to end_rule() run only for it. */
static void rule(prog *p, long nr)
{
    p->rule = p->n;
    ins(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 0);
}

/* The rule ends: another system call skips to what follows (the next rule). Every path
 * through a rule's own instructions ends in a jump to one of the returns. */
static void end_rule(prog *p)
{
    if (!p->full)
        p->f[p->rule].jf = (unsigned char)(p->n - p->rule - 1);
}

static void ret(prog *p, unsigned char to)
{
    ins(p, BPF_JMP | BPF_JA, 0, 0, 0);
    p->jt[p->n - 1] = to;           /* BPF_JA jumps by k: resolved like the others */
}

/* nr is refused, whatever its arguments. */
static void deny(prog *p, long nr, unsigned char to)
{
    rule(p, nr);
    ret(p, to);
    end_rule(p);
}

/* nr is allowed only when argument arg is one of the n values. */
static void arg_in(prog *p, long nr, int arg, const uint32_t *v, unsigned n)
{
    rule(p, nr);
    load_arg(p, arg);
    for (unsigned i = 0; i < n; i++)
        ins(p, BPF_JMP | BPF_JEQ | BPF_K, v[i], TO_ALLOW, 0);
    ret(p, TO_DENY);
    end_rule(p);
}

/* nr is allowed only when argument a0 is v0 and argument a1 one of the n values. */
static void arg_is_then_in(prog *p, long nr, int a0, uint32_t v0, int a1, const uint32_t *v,
                           unsigned n)
{
    rule(p, nr);
    load_arg(p, a0);
    ins(p, BPF_JMP | BPF_JEQ | BPF_K, v0, 0, TO_DENY);
    load_arg(p, a1);
    for (unsigned i = 0; i < n; i++)
        ins(p, BPF_JMP | BPF_JEQ | BPF_K, v[i], TO_ALLOW, 0);
    ret(p, TO_DENY);
    end_rule(p);
}

/* Resolve the jumps to the shared returns, placed after the last rule. */
static bool finish(prog *p, struct sock_fprog *out)
{
    if (p->full)
        return false;
    unsigned allow = p->n, deny_at = p->n + 1, nosys = p->n + 2;
    p->f[allow] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    p->f[deny_at] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
                                                  SECCOMP_RET_TRAP | FAAS__ISO_CONTAINED);
    p->f[nosys] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
    for (unsigned i = 0; i < p->n; i++) {
        unsigned char to[2] = { p->jt[i], p->jf[i] };
        for (int b = 0; b < 2; b++) {
            if (to[b] == 0)
                continue;
            unsigned target = to[b] == TO_ALLOW ? allow : to[b] == TO_DENY ? deny_at : nosys;
            unsigned off = target - i - 1;
            if (BPF_CLASS(p->f[i].code) == BPF_JMP && BPF_OP(p->f[i].code) == BPF_JA)
                p->f[i].k = off;
            else if (off > 255)
                return false;
            else if (b == 0)
                p->f[i].jt = (unsigned char)off;
            else
                p->f[i].jf = (unsigned char)off;
        }
    }
    out->len = (unsigned short)(p->n + 3);
    out->filter = p->f;
    return true;
}

/* The containment filter of the instance self. Its own process: self or 0 (the caller);
 * its process group: 0 or -self for kill() and F_SETOWN (the group is the instance's: it
 * leads it, and no descendant can leave it). */
static bool containment(prog *p, pid_t self, struct sock_fprog *out)
{
    memset(p, 0, sizeof *p);
    const uint32_t me[] = { (uint32_t)self, 0 };
    const uint32_t me_or_group[] = { (uint32_t)self, 0, (uint32_t)-self };
    const uint32_t only_me[] = { (uint32_t)self };

    /* Another architecture's numbers (i386 through int 0x80, x32) mean other calls. */
    ins(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
    ins(p, BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native(), 0, TO_DENY);
    ins(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
#if defined(__x86_64__)
    ins(p, BPF_JMP | BPF_JGE | BPF_K, 0x40000000u /* __X32_SYSCALL_BIT */, TO_DENY, 0);
#endif

    /* Signals: the instance's own process, or its group (kill(0, sig)). A child of the
     * instance can signal the instance and the group, not itself by pid. */
    arg_in(p, SYS_kill, 0, me_or_group, 3);
    arg_in(p, SYS_tkill, 0, only_me, 1);
    arg_in(p, SYS_tgkill, 0, only_me, 1);
    arg_in(p, SYS_rt_sigqueueinfo, 0, only_me, 1);
    arg_in(p, SYS_rt_tgsigqueueinfo, 0, only_me, 1);
#ifdef SYS_pidfd_send_signal
    deny(p, SYS_pidfd_send_signal, TO_DENY);         /* its target cannot be seen here */
#endif
    /* A signal on I/O: fcntl(F_SETOWN) to the instance or its group; F_SETOWN_EX's owner
     * is in memory the filter cannot read. Same for the ioctl() forms, and a terminal's
     * foreground group and input (the instance shares the host's standard error). */
    rule(p, SYS_fcntl);
    load_arg(p, 1);
    ins(p, BPF_JMP | BPF_JEQ | BPF_K, F_SETOWN_EX, TO_DENY, 0);
    ins(p, BPF_JMP | BPF_JEQ | BPF_K, F_SETOWN, 0, TO_ALLOW);
    load_arg(p, 2);
    for (unsigned i = 0; i < 3; i++)
        ins(p, BPF_JMP | BPF_JEQ | BPF_K, me_or_group[i], TO_ALLOW, 0);
    ret(p, TO_DENY);
    end_rule(p);
    rule(p, SYS_ioctl);
    load_arg(p, 1);
    const uint32_t ioctls[] = { FIOSETOWN, SIOCSPGRP, TIOCSPGRP, TIOCSTI };
    for (unsigned i = 0; i < 4; i++)
        ins(p, BPF_JMP | BPF_JEQ | BPF_K, ioctls[i], TO_DENY, 0);
    ret(p, TO_ALLOW);
    end_rule(p);

    /* Another process's memory, or tracing it. */
    deny(p, SYS_ptrace, TO_DENY);
    deny(p, SYS_process_vm_readv, TO_DENY);
    deny(p, SYS_process_vm_writev, TO_DENY);
#ifdef SYS_pidfd_getfd
    deny(p, SYS_pidfd_getfd, TO_DENY);
#endif
#ifdef SYS_process_madvise
    deny(p, SYS_process_madvise, TO_DENY);
#endif
    arg_in(p, SYS_migrate_pages, 0, me, 2);
    arg_in(p, SYS_move_pages, 0, me, 2);

    /* Another process's limits and scheduling (which could starve the host). */
    arg_in(p, SYS_prlimit64, 0, me, 2);
    arg_in(p, SYS_sched_setaffinity, 0, me, 2);
    arg_in(p, SYS_sched_setscheduler, 0, me, 2);
    arg_in(p, SYS_sched_setparam, 0, me, 2);
#ifdef SYS_sched_setattr
    arg_in(p, SYS_sched_setattr, 0, me, 2);
#endif
    arg_is_then_in(p, SYS_setpriority, 0, PRIO_PROCESS, 1, me, 2);
    arg_is_then_in(p, SYS_ioprio_set, 0, 1 /* IOPRIO_WHO_PROCESS */, 1, me, 2);

    /* Leaving the process group, which is how the instance's processes are found and
     * killed; and clone3(), whose CLONE_INTO_CGROUP would leave the pids cgroup (its flags
     * are in memory: ENOSYS, and the C library falls back to clone()). */
    deny(p, SYS_setpgid, TO_DENY);
    deny(p, SYS_setsid, TO_DENY);
#ifdef SYS_clone3
    deny(p, SYS_clone3, TO_NOSYS);
#endif
    ret(p, TO_ALLOW);
    return finish(p, out);
}

int faas__iso_filters_load(const struct sock_fprog *profile, int self)
{
    prog p;
    struct sock_fprog contain;
    if (!containment(&p, (pid_t)self, &contain))
        return -1;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    /* The profile first: on a system call both refuse, the newer filter's data wins, and
     * the host then says that the instance may not act on another process. */
    if (profile->len != 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, profile) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &contain) != 0 ? -1 : 0;
}
