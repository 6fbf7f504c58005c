/*
 * process_spawn.h - how a process instance's runtime is started and ended (process.c):
 * through the runtime's spawner (faas-spawner, process_spawner.c), which gives
 * each runtime an init of its own, in a PID namespace of its own where the host may make
 * one; or, in a build without process isolation or when the spawner cannot start,
 * directly with posix_spawn (the runtime then leads its own process group, and nothing
 * more contains it). Never installed.
 */
#ifndef FAAS_PROCESS_SPAWN_H
#define FAAS_PROCESS_SPAWN_H

#include "internal.h"

#include <stdbool.h>
#include <sys/types.h>

/* What to start: the program (path), its NULL-terminated argv and environment, its
 * working directory, the descriptor its stdout and stderr write to, the one it gets as
 * fd 3 (neither is closed here), the most processes and threads it may have and its
 * memory (a pids and a memory cgroup per instance where the spawner can make them; neither
 * is kept when spawned directly). */
typedef struct faas__pspawn_req {
    const char *path;
    char *const *argv, *const *envp;
    const char *cwd;
    int         out, fd3;
    unsigned    pids_max;           /* its processes and threads at once; 0: no limit */
    unsigned    memory_mb;          /* its memory, MiB, no swap; 0: no limit */
    int         uid, gid;           /* the user it runs as (no other groups); -1: the host's
                                       (the spawner's init changes it; not when spawned
                                       directly) */
    const char *hide;               /* a directory the runtime must not reach (the host's
                                       journal), absolute, or NULL */
    char *const *writable;          /* the directories it may write (real paths), NULL-
                                       terminated, or NULL; the rest of the host's files
                                       it sees read-only (faas__iso_view) */
} faas__pspawn_req;

/* A started runtime. */
typedef struct faas__pspawn_proc {
    pid_t    pid;                   /* the runtime, as the host sees it (/proc/PID) */
    pid_t    group;                 /* its process group: kill(-group) ends the instance;
                                       also the process to watch (a pidfd): it has exited
                                       once the runtime has */
    struct faas__spawner *sp;       /* a reference to the spawner that started it (until
                                       the end), or NULL: started directly */
    unsigned gen;                   /* which start of that spawner */
    bool     reaped;
    bool     oom;                   /* once reaped: the kernel killed a process of it for
                                       memory (past memory_mb) */
    bool     pidns;                 /* group is pid 1 of a PID namespace of its own: once it
                                       has exited, every process of the instance has */
} faas__pspawn_proc;

/* posix_spawn q's program as a runtime (process_exec.c): stdin /dev/null, stdout and
 * stderr on q->out, q->fd3 as fd 3 and nothing else open, in q->cwd, every signal unblocked
 * and at its default; leading a process group of its own when own_group. 0, or the errno. */
int  faas__spawn_runtime(const faas__pspawn_req *q, bool own_group, pid_t *pid);

/* Start it; FAAS_OK, or FAAS_EINIT / FAAS_ENOMEM with err. */
int  faas__pspawn_start(faas_runtime *rt, const faas__pspawn_req *req, faas__pspawn_proc *p,
                        char *err, size_t errlen);
/* SIGKILL to the whole instance (any thread; the group's id stays valid until the end). */
void faas__pspawn_kill(const faas__pspawn_proc *p);
/* Kill it if it is not dead yet, and reap it: the runtime's wait status (for WIFEXITED and
 * the rest), and p->oom. Once. exited: the runtime was seen to end (the caller has not
 * killed the instance): its init may report how before it is killed. */
int  faas__pspawn_end(faas__pspawn_proc *p, bool exited);

#endif /* FAAS_PROCESS_SPAWN_H */
