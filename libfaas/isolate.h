/*
 * isolate.h - process isolation's private wire: the messages between the host (isolate.c)
 * and its zygotes and instances (isolate_child.c). Both ends are the same build of libfaas,
 * so the structs travel as they are (no versioning). Never installed.
 *
 * Two SOCK_SEQPACKET socketpairs carry them, one message per send:
 *   control (host <-> zygote): CONFIG ->, <- HELLO; then SPAWN ->, <- SPAWNED + the new
 *                              instance's channel (SCM_RIGHTS); REAP ->, <- REAPED; EOF ->
 *                              the zygote kills what it still has and exits
 *   channel (host <-> one instance): CALL ->; <- LOG*, then DONE, CRASH or EXIT; EOF -> the
 *                              instance runs its SHUTDOWN hook and exits
 *   spawner (host <-> faas-spawner, process_spawner.c; process instances): <- HELLO,
 *                              <- SPARE + a spare init's socket (SCM_RIGHTS); to start a
 *                              runtime the host sends that init EXEC + the runtime's
 *                              output and fd 3 (SCM_RIGHTS) ->, <- STARTED (the runtime's
 *                              pid, or why it did not start), then tells the spawner
 *                              TAKEN ->, <- SPARE (the next); REAP ->, <- REAPED with the
 *                              runtime's wait status; EOF -> it kills every runtime it
 *                              started and exits
 * A payload or reply above FAAS__ISO_INLINE travels in a shared memfd region instead (flag
 * FAAS__ISO_SHM, at offset 0); whichever side needs a bigger region makes a new one and sends
 * its fd with the message that first uses it (FAAS__ISO_NEWSHM). Nothing else is copied.
 *
 * The instance is not trusted: the host checks every length it is sent against what it
 * received, and maps a region only once it has checked its seals (sealed against shrinking
 * and growing, and the seals themselves), so that no ftruncate() can pull pages from under
 * the host's copy. Each side seals the regions it makes before it sends them.
 *
 * Each instance is the leader of its own process group, which its descendants cannot leave
 * (the instance's seccomp filter refuses setpgid() and setsid()). The zygote is their child
 * subreaper and keeps an instance unreaped until the host sends REAP: so the group's id
 * cannot be reused while the host may still signal it, and REAP kills the whole group and
 * reaps every process of it before the REAPED answer.
 */
#ifndef FAAS_ISOLATE_H
#define FAAS_ISOLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <faas/version.h>

#define FAAS__ISO_INLINE  (60u * 1024u)  /* payload bytes carried inside a message */
#define FAAS__ISO_MSG_MAX (FAAS__ISO_INLINE + 4096u)  /* the largest message */
#define FAAS__ISO_CTL_FD  3              /* the zygote's control socket */
#define FAAS__ISO_TEXT    1024u          /* error type + message, log line cap per message */

enum {
    FAAS__ISO_CONFIG = 1, FAAS__ISO_HELLO, FAAS__ISO_SPAWN, FAAS__ISO_SPAWNED,
    FAAS__ISO_CALL, FAAS__ISO_LOG, FAAS__ISO_DONE, FAAS__ISO_CRASH, FAAS__ISO_EXIT,
    FAAS__ISO_REAP, FAAS__ISO_REAPED, FAAS__ISO_EXEC, FAAS__ISO_SPARE, FAAS__ISO_TAKEN
};

#define FAAS__ISO_SHM    1u     /* the payload is in the shared region, not the message */
#define FAAS__ISO_NEWSHM 2u     /* an fd of a new shared region comes with this message */
#define FAAS__ISO_NOUSERNS 4u   /* DONE: the instance could make no user namespace of its own */
#define FAAS__ISO_NOTHIDDEN 8u  /* DONE: its view of the host's files is not read-only, or
                                   the journal not hidden (faas__iso_view failed) */
#define FAAS__ISO_HOSTPROC 16u  /* DONE: its /proc is the host's, where it was to have one
                                   of its own (the new one could not be mounted) */

/* host -> zygote, first: what to load and how to limit it; then name, path, symbol and
 * hide, each NUL-terminated, and the environment (env_len). */
/* Both ends must be the same build: the host and the faas-zygote it starts could come from
 * two installed versions. A zygote that gets another wire exits without a word, and the host
 * reports that it "did not start". */
#define FAAS__ISO_WIRE ((uint32_t)FAAS_VERSION_HEX << 8 | 11u)

typedef struct faas__iso_config {
    uint32_t type;
    uint32_t wire;                  /* FAAS__ISO_WIRE */
    uint32_t memory_mb, timeout_ms;
    int32_t  seccomp;
    uint64_t max_reply;             /* the host's max_payload_sync */
    uint32_t name_len, path_len, symbol_len;   /* without their NULs */
    uint32_t pids_max;              /* 0: no limit */
    uint32_t hide_len;              /* the 4th string: a directory hidden from instances
                                       (the host's journal), or empty */
    int32_t  uid, gid;              /* the user instances run as (a root host's zygote
                                       only); -1: the zygote's own */
    uint32_t env_len;               /* last: the function's own environment, its
                                       "NAME=value" entries one after the other, each with
                                       its NUL, env_len bytes in all (0: none) */
} faas__iso_config;

/* How the zygote bounds an instance's processes (pids_max). */
enum { FAAS__ISO_PIDS_OFF, FAAS__ISO_PIDS_CGROUP, FAAS__ISO_PIDS_RLIMIT, FAAS__ISO_PIDS_NONE };

/* zygote -> host: loaded and initialised (status FAAS_OK), or FAAS_ELOAD / FAAS_EINIT and
 * the reason (text follows, NUL-terminated). With FAAS_OK, pids says how pids_max is kept,
 * and the text where (the cgroup directory) or why not. */
typedef struct faas__iso_hello {
    uint32_t type;
    int32_t  status;
    int32_t  pids;                  /* FAAS__ISO_PIDS_* */
    int32_t  memory;                /* a spawner's: 1 if memory_mb is kept (a cgroup) */
} faas__iso_hello;

/* host -> zygote: fork an instance. zygote -> host: its pid (err 0) + its channel, or the
 * errno of the failure. */
typedef struct faas__iso_spawn {
    uint32_t type;
    int32_t  err;
    int32_t  pid;
} faas__iso_spawn;

/* host -> zygote: the instance pid is retired: kill its process group and reap all of it.
 * zygote -> host: done (REAPED, the same pid; a spawner adds the runtime's wait status).
 * To a spawner, status FAAS__ISO_REAP_EXITED says the host saw the runtime end: its init
 * is let report how first. */
#define FAAS__ISO_REAP_EXITED 1
typedef struct faas__iso_reap {
    uint32_t type;
    int32_t  pid;
    int32_t  status;
    uint32_t oom_kills;             /* a spawner's: processes of it killed for memory */
} faas__iso_reap;

/* spawner -> host: the next spare init (err 0): its pid, as the host sees it (the
 * instance's process group, until REAP), and its socket as SCM_RIGHTS; or err, the errno
 * of its fork. Sent after HELLO and after each TAKEN. */
typedef struct faas__iso_spare {
    uint32_t type;
    int32_t  err;
    int32_t  init;
} faas__iso_spare;

/* host -> a spare init, on its socket: start a runtime: argc + envc + 3 NUL-terminated
 * strings follow (the command, its argv, its environment, its working directory, a
 * directory to hide from it, the host's journal, or ""), then `writable` directories the
 * runtime may write (real paths; faas__iso_view), and two
 * fds: its output (stdout and stderr) and the one it gets as fd 3. The init answers
 * STARTED. */
typedef struct faas__iso_exec {
    uint32_t type;
    uint32_t argc, envc;
    uint32_t len;                   /* the strings' bytes */
    uint32_t pids_max;              /* the instance's processes and threads; 0: no limit */
    uint32_t memory_mb;             /* the instance's memory, MiB; 0: no limit */
    int32_t  uid, gid;              /* the user the runtime runs as; -1: the spawner's */
    uint32_t writable;              /* writable directories, the last strings */
} faas__iso_exec;

/* init -> host: the runtime's pid as the host sees it (code > 0), or -errno and what
 * failed (where: "posix_spawn", "memory cgroup", ...). The init's last message on that
 * socket is the runtime's wait status (an int), which the spawner reads at REAP. */
typedef struct faas__iso_started {
    int32_t  code;
    char     where[16];
    int32_t  userns;                /* the runtime has a user namespace of its own: 1; not
                                       asked (it runs as the host's user): 0; else -errno */
    int32_t  view;                  /* its view of the host's files (faas__iso_view) is
                                       made: 1; else -errno, and view_step what failed */
    int32_t  view_step;
    int32_t  pidns;                 /* the init is pid 1 of a PID namespace of its own: 1
                                       (its exit ends every process of the instance) */
} faas__iso_started;

/* host -> spawner: the spare init was used; runtime is its runtime's pid (0: it did not
 * start, and the spawner ends it). The spawner answers with the next SPARE. */
typedef struct faas__iso_taken {
    uint32_t type;
    int32_t  init;
    int32_t  runtime;
} faas__iso_taken;

/* host -> instance: run one call; the inline payload follows. */
typedef struct faas__iso_call {
    uint32_t type;
    uint32_t flags;
    uint64_t len;
    char     request_id[37];
} faas__iso_call;

/* instance -> host: a line the handler logged (text follows, without its newline). */
typedef struct faas__iso_log {
    uint32_t type;
} faas__iso_log;

/* instance -> host: the call ended. Then error type and message (each NUL-terminated, when
 * status is not FAAS_OK), then the inline reply. */
typedef struct faas__iso_done {
    uint32_t type;
    int32_t  status;
    uint32_t flags;
    uint32_t type_len, msg_len;     /* without their NULs; 0 when status is FAAS_OK */
    uint64_t len;                   /* reply bytes */
    uint64_t peak_bytes;            /* the process's peak resident memory (VmHWM) */
    uint64_t oom_request;           /* a refused allocation's size, 0 if none */
} faas__iso_done;

/* instance -> host, from a signal handler: the process is dying of signo. */
typedef struct faas__iso_crash {
    uint32_t type;
    int32_t  signo, code;
    int32_t  syscall;               /* SIGSYS from the seccomp filter: the syscall */
    uint32_t arch;                  /* ... and its AUDIT_ARCH_* */
    int32_t  data;                  /* ... and the filter's data: FAAS__ISO_CONTAINED */
    uint32_t idle;                  /* 1: between calls (a call sent now never started) */
    uint64_t peak_bytes;
    uint64_t oom_request;           /* an allocation was refused during the call first */
} faas__iso_crash;

/* The SIGSYS data (si_errno) of a system call refused by the filter every isolated instance
 * gets, whatever its profile: a signal to, or an action on, another process. */
#define FAAS__ISO_CONTAINED 1

/* instance -> host: the handler called exit(status). */
typedef struct faas__iso_exit {
    uint32_t type;
    int32_t  status;
    uint32_t idle;                  /* 1: between calls (another thread of the module) */
    uint64_t oom_request;
} faas__iso_exit;

/* The zygote program's main (faas-zygote, isolate_zygote_main.c): serve the control socket
 * on FAAS__ISO_CTL_FD. oom_request, when not NULL, is where the program's allocation
 * wrappers store the size of an allocation the kernel refused. Exported for that program
 * alone; not API. A build without isolation has only a stub that fails (isolate_none.c). */
__attribute__((visibility("default")))
int faas__isolate_main(int argc, char **argv, volatile uint64_t *oom_request);

/* ---- the host's side of a helper program (helper.c) ---- */

struct iovec;
/* Start the helper at path (argv, NULL-terminated), send it the message in first (nfirst 0:
 * none), and wait up to limit_ms for its HELLO, copied into hello (cap bytes, NUL-terminated;
 * *hlen its length). FAAS_OK with *pid and *ctl, or FAAS_ELOAD / FAAS_EINIT / FAAS_ENOMEM
 * with err (the helper is gone then). */
int  faas__helper_start(const char *path, char *const argv[], struct iovec *first, int nfirst,
                        unsigned limit_ms, int *pid, int *ctl, char *hello, size_t cap,
                        long *hlen, char *err, size_t errlen);
/* Stop it: EOF on ctl (it ends what it still has and exits, within 2 s) or at once with
 * SIGKILL; reaped either way. */
void faas__helper_stop(int pid, int ctl, bool kill_now);
/* Wait until sock is readable or the deadline (monotonic ns) passes: 1 ready, 0 timed out,
 * -1 error. Rounds up, so that it never returns before the deadline. */
int  faas__helper_wait(int sock, uint64_t deadline);

/* ---- the far side's parts (isolate_seccomp.c, isolate_cgroup.c) ---- */

/* The function's seccomp profile as BPF, built once (FAAS_SECCOMP_NONE: len 0). */
struct sock_fprog;
int faas__iso_profile_build(int profile, struct sock_fprog *out, char *err, size_t errlen);
/* In a new instance, before its first call: no_new_privs, the profile, then the
 * containment filter for its pid self. 0, or -1 (errno). */
int faas__iso_filters_load(const struct sock_fprog *profile, int self);

/* How pids_max is kept (see isolate_cgroup.c). */
typedef struct faas__iso_pids {
    int      how;                   /* FAAS__ISO_PIDS_* */
    unsigned max;
    bool     v2;
    char     dir[4096];             /* the zygote's cgroup, one sub-directory per instance */
    uint64_t nproc;                 /* RLIMIT_NPROC */
} faas__iso_pids;

/* In the zygote at its start: find how, and say it in what (the cgroup, or why none).
 * Returns p->how. */
int  faas__iso_pids_setup(faas__iso_pids *p, unsigned max, char *what, size_t whatlen);
/* In a new instance, before its first call: join its own cgroup (named id: its pid as the
 * zygote or spawner sees it) limited to p->max (0: no limit yet), or set RLIMIT_NPROC. */
int  faas__iso_pids_join(const faas__iso_pids *p, int id);
/* Set the limit of instance id (joined) to max: its cgroup's pids.max (0: none), or
 * RLIMIT_NPROC for this process (the user's tasks at the start plus max). 0, or -1. */
int  faas__iso_pids_limit(const faas__iso_pids *p, int id, unsigned max);
/* In the zygote, once the instance's processes are reaped: remove its cgroup. */
void faas__iso_pids_release(const faas__iso_pids *p, int pid);
/* Remove a zygote's cgroup directory and its instances' empty ones (best effort). */
void faas__iso_cgroup_remove(const char *dir);
/* Write text to dir/file (a cgroup's or /proc's control file); 0 or -1 (errno). */
int  faas__iso_put(const char *dir, const char *file, const char *text);

/* This process into a user namespace of its own where uid and gid map to themselves
 * (isolate_userns.c): 1, or -errno when none could be made (user namespaces disabled, or
 * a threaded process); *broken if one was made but its maps were refused (the process
 * then has no user: it must not go on). Single-threaded callers only. */
int32_t faas__iso_userns(uid_t uid, gid_t gid, bool *broken);
/* What this process and its children see of the host's files (isolate_userns.c): a mount
 * namespace of its own, private (no mount made here reaches the host's), where every mount
 * is read-only but /proc (see proc below); /tmp and /dev/shm are empty tmpfs
 * of its own (512 MiB, 1777);
 * dirs[0..nkeep) (absolute, real paths: the runtime's cwd, its command's directory) are
 * put back read-only where /tmp or /dev/shm covered them; dirs[nkeep..nkeep+nwritable)
 * are put back writable (as the host has them), each only if its path still names the
 * directory itself (no link swapped in since: ELOOP); and hide (the host's journal;
 * NULL or "": none) is covered by an empty tmpfs that nobody may enter, before /tmp is
 * and again where a directory put back shows it. With root (the process will run as uid
 * 0, which a read-only mount does not stop from writing device nodes and /proc/sys): no
 * device node may be opened but /dev/null, zero, full, random, urandom and tty, and
 * /proc/sys and /proc/sysrq-trigger are read-only. proc (FAAS__ISO_PROC_*) says which
 * /proc: the host's, put back as it has it; a new one of the caller's PID namespace (the
 * caller leads one of its own: its processes are all it shows); or a new one that shows
 * only the processes the viewer may trace (hidepid=invisible: for a process that will
 * run as another user, in a user namespace of its own). Where a new one cannot be
 * mounted, the host's (*step FAAS__ISO_VIEW_PROC with 1 then). 2 (a /proc of its own), 1
 * (the host's), or -errno with *step saying what failed
 * (FAAS__ISO_VIEW_*, with FAAS__ISO_VIEW_PARTIAL once past the read-only step): none can
 * be made (a threaded process, no right to, a kernel before 5.12), or a directory given
 * cannot be put back. Requires the right
 * to mount (CAP_SYS_ADMIN in this user namespace): a process that must not undo it then
 * goes into a user namespace below this one, where it has none over this mount namespace
 * (a namespace it makes of its own copies the mounts locked). Single-threaded callers. */
#define FAAS__ISO_VIEW_DIRS 66          /* nkeep + nwritable at most */
enum { FAAS__ISO_VIEW_NS = 1, FAAS__ISO_VIEW_READONLY, FAAS__ISO_VIEW_TMP,
       FAAS__ISO_VIEW_KEEP, FAAS__ISO_VIEW_WRITABLE, FAAS__ISO_VIEW_HIDE,
       FAAS__ISO_VIEW_PROC,     /* /proc: the host's put back, or one of its own */
       FAAS__ISO_VIEW_ROOT,     /* root's devices and kernel settings shut */
       FAAS__ISO_VIEW_LOCK };   /* (after it: the runtime, root without a user namespace
                                   of its own, could undo it) */
#define FAAS__ISO_VIEW_PARTIAL 0x100  /* in *step: it failed after the read-only step */
enum { FAAS__ISO_PROC_HOST, FAAS__ISO_PROC_PIDNS, FAAS__ISO_PROC_TRACEABLE };
int32_t faas__iso_view(const char *hide, const char *const *dirs, size_t nkeep,
                       size_t nwritable, bool root, int proc, int *step);
/* Must the process not go on after faas__iso_view() returned rc with step? A view half
 * made (FAAS__ISO_VIEW_PARTIAL), or a directory of the runtime's that could not be put
 * back (but for ENOSYS: none can be made here): true. Where no view could be made at
 * all, false: it goes on, and the host warns. */
bool faas__iso_view_fatal(int32_t rc, int step);
/* What a FAAS__ISO_VIEW_* step is, in words ("every mount read-only"; wire.c, in every
 * build). */
const char *faas__iso_view_step(int step);

/* How a process instance's memory_mb is kept (faas-spawner; isolate_cgroup.c): a memory
 * cgroup per instance, below one of the spawner's own, or nothing. */
typedef struct faas__iso_mem {
    bool     on;                    /* a memory cgroup could be made */
    bool     v2;
    char     dir[4096];             /* the spawner's cgroup, one sub-directory per instance */
} faas__iso_mem;

/* In the spawner at its start: find whether, and say it in what (the cgroup, or why not).
 * Returns m->on. */
bool faas__iso_mem_setup(faas__iso_mem *m, char *what, size_t whatlen);
/* In an instance's init, ahead of its EXEC: join its own memory cgroup (named id), no
 * limit yet. 0, or -1 (errno). */
int  faas__iso_mem_join(const faas__iso_mem *m, int id);
/* Then, before the runtime exists: limit it to memory_mb MiB (0: none), swap none. */
int  faas__iso_mem_limit(const faas__iso_mem *m, int id, unsigned memory_mb);
/* In the spawner, once the instance's processes are reaped: how many of them the kernel
 * killed for memory (the cgroup's oom_kill count), and the cgroup removed. */
unsigned faas__iso_mem_release(const faas__iso_mem *m, int id);

/* One message out (iov), with fd passed along when it is >= 0 (SCM_RIGHTS); never raises
 * SIGPIPE. Returns 0 or -1 (errno). */
struct iovec;
int faas__iso_send(int sock, struct iovec *iov, int iovcnt, int fd);
/* The same with nfds (at most 4) fds. */
int faas__iso_send_fds(int sock, struct iovec *iov, int iovcnt, const int *fds, int nfds);
/* One message in, at most cap bytes; a passed fd (close-on-exec) goes to *fd, else -1.
 * Returns the length, 0 at EOF, or -1 (errno). EINTR is retried when restart is true; a
 * receive under SO_RCVTIMEO must not be (each retry would start the timeout again). */
long faas__iso_recv(int sock, void *buf, size_t cap, int *fd, bool restart);
/* The same for up to maxfds (at most 4) fds: *nfds of them in fds; any more are closed
 * (faas__iso_close_fd). */
long faas__iso_recv_fds(int sock, void *buf, size_t cap, int *fds, int maxfds, int *nfds,
                        bool restart);
/* One message in if one is there (MSG_DONTWAIT), any fd it carried closed. */
long faas__iso_recv_now(int sock, void *buf, size_t cap);
/* Close a descriptor another process sent: a socket is first told not to linger, so that
 * a close cannot wait on a send queue the sender made sure would not drain (SO_LINGER
 * with a long time, then its own copy closed: this close would be the last). */
void faas__iso_close_fd(int fd);

#endif /* FAAS_ISOLATE_H */
