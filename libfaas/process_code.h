/*
 * process_code.h - a process function's code as a tree of files (process_code.c): its
 * task root, digested (CodeSha256) and frozen into a private read-only copy for a published
 * version. Private: never installed.
 */
#ifndef FAAS_PROCESS_CODE_H
#define FAAS_PROCESS_CODE_H

#include <stdbool.h>
#include <stdint.h>

#include "faas.h"

/* Lambda's quota on a function's unzipped code (250 MB), and a bound on its entries that
 * stops a tree of symbolic links leading back into themselves. */
#define FAAS__TREE_MAX_BYTES   262144000u
#define FAAS__TREE_MAX_ENTRIES 200000u
#define FAAS__TREE_MAX_DEPTH   64u

/* What a process function is run from: read from its registration (process.c), copied. */
typedef struct faas__proc_spec {
    char  *command;     /* absolute when it names a file */
    char  *handler;     /* _HANDLER */
    char  *cwd;         /* the task root, absolute (realpath) */
    char **argv;        /* NULL-terminated */
    char **env;         /* the function's own "NAME=value", NULL-terminated */
    char **writable;    /* the directories its runtimes may write, NULL-terminated */
    int    uid, gid;    /* the user it runs as; -1: the host's */
} faas__proc_spec;

void faas__proc_spec_free(faas__proc_spec *spec);
/* The digest (base64 SHA-256) of spec's configuration (command, argv, handler, cwd, env,
 * writable directories, user):
 * two publishes with the same code and this digest make the same version. */
void faas__proc_spec_digest(const faas__proc_spec *spec, char out[48]);
/* Point spec's command and argv entries that name root or a path under it at the same
 * path under snapshot (a version runs its frozen copy); cwd becomes snapshot. */
int  faas__proc_spec_rebase(faas__proc_spec *spec, const char *snapshot);

/* process.c (process_none.c: none is one) ------------------------------------------------ */
/* Is fn a process function (faas_register_process)? */
bool faas__process_is(const faas_function *fn);
/* fn's spec, copied (requires rt->reg_lock: fn must not go meanwhile). */
int  faas__process_spec(const faas_function *fn, faas__proc_spec *out);
/* Make fn, a version just made by faas__version_new() and not inserted yet, a process
 * function running spec (its strings are taken: *spec is emptied) in snapshot, its frozen
 * task root, which is removed when fn is freed; on failure too. */
int  faas__process_adopt(faas_function *fn, faas__proc_spec *spec, char *snapshot);

/* process_code.c ----------------------------------------------------------------------- */
/* Digest the tree at root (absolute) into sha (CodeSha256, the form process_code.c's
 * header describes) and its size, the bytes of its files, into *bytes; with snapshot
 * non-NULL, first make a private directory and copy the tree into it, read-only, as it is
 * hashed (*snapshot: its path, malloc'd; the hash is of the bytes copied). Over the limits
 * above: FAAS_ETOOLARGE, before anything is copied. api and name word a failure. */
int  faas__tree_freeze(const char *root, const char *api, const char *name, char sha[48],
                       uint64_t *bytes, char **snapshot);
/* The CodeSha256 and size of NAME's $LATEST task root now, as a publish would freeze it;
 * FAAS_ENOTFOUND: NAME is not a process function. */
int  faas__process_code(faas_runtime *rt, const char *name, char sha[48], uint64_t *bytes);
/* Remove a snapshot made by faas__tree_freeze (NULL: nothing). */
void faas__tree_remove(const char *snapshot);

#endif /* FAAS_PROCESS_CODE_H */
