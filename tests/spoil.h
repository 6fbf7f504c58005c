/*
 * spoil.h - what a hostile function does to its host's journal, for the fixtures that play
 * one (tests/modules/mod_hostile.c's "spoil", tests/runtime/c/bootstrap.c's "spoil"):
 * count what a directory holds while removing every entry, then try to add a file.
 * Header-only, static.
 */
#ifndef FAAS_TESTS_SPOIL_H
#define FAAS_TESTS_SPOIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

#endif /* FAAS_TESTS_SPOIL_H */
