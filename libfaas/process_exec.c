/*
 * process_exec.c - how a process instance's runtime program is started, the same way by the
 * host (a runtime spawned directly, process_spawn.c) and by an instance's init in
 * faas-spawner (process_spawner.c, which compiles this file in: it does not link libfaas).
 */
#include "process_spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

int faas__spawn_runtime(const faas__pspawn_req *q, bool own_group, pid_t *pid)
{
    posix_spawnattr_t at;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_init(&fa);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);     /* whatever the calling thread blocks */
    posix_spawnattr_setsigdefault(&at, &all);   /* whatever the host ignores */
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (own_group) {
        posix_spawnattr_setpgroup(&at, 0);      /* its own group: killed as one */
        flags |= POSIX_SPAWN_SETPGROUP;
    }
    posix_spawnattr_setflags(&at, flags);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, q->out, 1);   /* its output: the call's log */
    posix_spawn_file_actions_adddup2(&fa, q->out, 2);
    posix_spawn_file_actions_adddup2(&fa, q->fd3, 3);
    posix_spawn_file_actions_addchdir_np(&fa, q->cwd);
    posix_spawn_file_actions_addclosefrom_np(&fa, 4);
    int rc = posix_spawn(pid, q->path, &fa, &at, q->argv, q->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}
