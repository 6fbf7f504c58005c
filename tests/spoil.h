/*
 * spoil.h - what a hostile function does to its host's journal, for the fixtures that play
 * one (tests/modules/mod_hostile.c's "spoil", tests/runtime/c/bootstrap.c's "spoil"):
 * count what a directory holds while removing every entry, then try to add a file; and
 * what one does to the rest of the host's files ("deface": mod_hostile.c's, bootstrap.c's).
 * Header-only, static.
 */
#ifndef FAAS_TESTS_SPOIL_H
#define FAAS_TESTS_SPOIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

typedef struct spoiled {
    unsigned seen, removed;     /* entries listed in dir; those unlink() removed */
    int      created;           /* dir/intruder was made */
    int      err;               /* the create's errno, or opendir()'s if dir could not be listed */
} spoiled;

static inline spoiled spoil_dir(const char *dir)
{
    spoiled s = { 0, 0, 0, 0 };
    char path[4096];
    DIR *d = opendir(dir);
    if (d == NULL)
        s.err = errno;
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        s.seen++;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        s.removed += unlink(path) == 0;
    }
    if (d != NULL)
        closedir(d);
    snprintf(path, sizeof path, "%s/intruder", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        s.created = 1;
    } else if (s.err == 0) {
        s.err = errno;
    }
    return s;
}

/* What "deface DIR MARKER" did: each an errno, 0 where the attack worked. */
typedef struct defaced {
    int remount;                /* / remounted read-write */
    int victim;                 /* DIR/victim removed */
    int made;                   /* DIR/new made */
    int tmp;                    /* /tmp/MARKER made (the host must not see it) */
    int seen;                   /* 1: /tmp/MARKER.host, which the host made, is seen */
    int remount_own;            /* / remounted read-write in a user and mount namespace of
                                   its own (where it has every right: the mounts it was
                                   given must stay locked) */
    int cgroup;                 /* the root cgroup's cgroup.procs opened for writing (a
                                   process could leave its own, and its limits); not
                                   written */
    int disk;                   /* the block device of / opened for writing (a read-only
                                   mount does not stop a device node); not written */
    int sysctl;                 /* /proc/sys/kernel/core_pattern opened for writing (root
                                   could make the host's kernel run a program of its own
                                   at the next crash); not written */
} defaced;

/* The device node of the file system / is on (/dev/vda, say), in path; else
 * /dev/loop0. */
static inline void root_disk(char *path, size_t size)
{
    struct stat st;
    char uevent[128], line[256];
    snprintf(path, size, "/dev/loop0");
    if (stat("/", &st) != 0)
        return;
    snprintf(uevent, sizeof uevent, "/sys/dev/block/%u:%u/uevent", major(st.st_dev),
             minor(st.st_dev));
    FILE *fp = fopen(uevent, "r");
    if (fp == NULL)
        return;
    while (fgets(line, sizeof line, fp) != NULL)
        if (strncmp(line, "DEVNAME=", 8) == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(path, size, "/dev/%.200s", line + 8);
        }
    fclose(fp);
}

/* Open path for writing, write nothing: 0, or the errno. */
static inline int open_to_write(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

/* A function that tries to change the host's files: remount / read-write, remove a file
 * of DIR and add one, leave a file in /tmp and look for the host's; last, remount / in
 * namespaces of its own. */
static inline defaced deface_dir(const char *dir, const char *marker)
{
    if (strlen(dir) >= 4096 || strlen(marker) >= 64)
        return (defaced){ ENAMETOOLONG, ENAMETOOLONG, ENAMETOOLONG, ENAMETOOLONG, 0,
                          ENAMETOOLONG, ENAMETOOLONG, ENAMETOOLONG, ENAMETOOLONG };
    defaced d;
    char path[4200];
    d.remount = mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL) == 0 ? 0 : errno;
    snprintf(path, sizeof path, "%s/victim", dir);
    d.victim = unlink(path) == 0 ? 0 : errno;
    snprintf(path, sizeof path, "%s/new", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    d.made = fd >= 0 ? 0 : errno;
    snprintf(path, sizeof path, "/tmp/%s", marker);
    int t = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    d.tmp = t >= 0 ? 0 : errno;
    snprintf(path, sizeof path, "/tmp/%s.host", marker);
    d.seen = access(path, F_OK) == 0;
    if (fd >= 0)
        close(fd);
    if (t >= 0)
        close(t);
    const char *procs = access("/sys/fs/cgroup/cgroup.procs", F_OK) == 0
                        ? "/sys/fs/cgroup/cgroup.procs" : "/sys/fs/cgroup/pids/cgroup.procs";
    d.cgroup = open_to_write(procs);
    root_disk(path, sizeof path);
    d.disk = open_to_write(path);
    d.sysctl = open_to_write("/proc/sys/kernel/core_pattern");
    d.remount_own = unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0 ? errno
                    : mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL) == 0 ? 0 : errno;
    return d;
}

/* "DIR MARKER" (the event), split in place; 0, or -1. */
static inline int deface_event(char *event, char **dir, char **marker)
{
    char *space = strchr(event, ' ');
    if (space == NULL)
        return -1;
    *space = '\0';
    *dir = event;
    *marker = space + 1;
    return 0;
}

/* d as the answer's JSON, malloc'd in *out; its length, or -1. */
static inline int defaced_json(const defaced *d, char **out)
{
    return asprintf(out, "{\"remount\":%d,\"victim\":%d,\"made\":%d,\"tmp\":%d,"
                    "\"seen\":%d,\"remount_own\":%d,\"cgroup\":%d,\"disk\":%d,\"sysctl\":%d}",
                    d->remount, d->victim, d->made, d->tmp, d->seen, d->remount_own,
                    d->cgroup, d->disk, d->sysctl);
}

/* The answer back into *d; 0, or -1 if it is not one. */
static inline int defaced_parse(const char *json, size_t len, defaced *d)
{
    char buf[256];
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, json, len);
    buf[len] = '\0';
    return sscanf(buf, "{\"remount\":%d,\"victim\":%d,\"made\":%d,\"tmp\":%d,"
                  "\"seen\":%d,\"remount_own\":%d,\"cgroup\":%d,\"disk\":%d,\"sysctl\":%d}",
                  &d->remount, &d->victim, &d->made, &d->tmp, &d->seen, &d->remount_own,
                  &d->cgroup, &d->disk, &d->sysctl) == 9 ? 0 : -1;
}

#endif /* FAAS_TESTS_SPOIL_H */
