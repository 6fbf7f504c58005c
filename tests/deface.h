/*
 * deface.h - what the tests of the host's files read-only (test_process, test_isolate_
 * boundary) share: the scene a "deface" function (spoil.h) is given, and what it must
 * have been refused. Header-only, static; needs cmocka (util.h).
 */
#ifndef FAAS_TESTS_DEFACE_H
#define FAAS_TESTS_DEFACE_H

#include "util.h"
#include "spoil.h"

/* What a function that tries to change the host's files ("deface", spoil.h) is given: a
 * directory outside /tmp that its user may write (0777) holding a file it may remove
 * (victim), and a marker: the host made /tmp/MARKER.host, the function must not see it,
 * and the host must not see the /tmp/MARKER it makes. */
typedef struct deface_scene {
    char dir[400], victim[420], made[420], marker[64], host_file[128], its_file[128];
    char event[500];            /* "DIR MARKER" */
} deface_scene;

static inline void deface_scene_make(deface_scene *s, const char *prefix)
{
    assert_non_null(outside_temp_dir(s->dir, sizeof s->dir, prefix));
    snprintf(s->victim, sizeof s->victim, "%s/victim", s->dir);
    snprintf(s->made, sizeof s->made, "%s/new", s->dir);
    snprintf(s->marker, sizeof s->marker, "faas-deface-%d-%ld", (int)getpid(),
             (long)random());
    snprintf(s->host_file, sizeof s->host_file, "/tmp/%s.host", s->marker);
    snprintf(s->its_file, sizeof s->its_file, "/tmp/%s", s->marker);
    snprintf(s->event, sizeof s->event, "%s %s", s->dir, s->marker);
    FILE *fp = fopen(s->victim, "w");
    assert_non_null(fp);
    fclose(fp);
    fp = fopen(s->host_file, "w");
    assert_non_null(fp);
    fclose(fp);
}

/* The host's files as they were: victim there, nothing made in DIR or in its /tmp. */
static inline bool deface_scene_intact(const deface_scene *s)
{
    return access(s->victim, F_OK) == 0 && access(s->made, F_OK) != 0 &&
           access(s->its_file, F_OK) != 0;
}

static inline void deface_scene_free(deface_scene *s)
{
    remove_tree(s->dir);
    unlink(s->host_file);
    unlink(s->its_file);
}

/* Print what who's "deface" did; unless said (the log says its view is not read-only:
 * then fail where user namespaces could have made one), assert that every attack was
 * refused and the host's files are intact. */
static inline void deface_expect_refused(const char *who, const defaced *d, bool intact,
                                         bool said)
{
    print_message("# %s: remount %d, victim %d, new %d, /tmp %d (the host's seen: %d), "
                  "remount in its own namespaces %d, cgroup.procs %d, disk %d, "
                  "core_pattern %d; the host's files %s%s\n",
                  who, d->remount, d->victim, d->made, d->tmp, d->seen, d->remount_own,
                  d->cgroup, d->disk, d->sysctl, intact ? "intact" : "CHANGED",
                  said ? " (not read-only here: the log says so)" : "");
    if (said && user_namespaces_allowed() && !TSAN)
        fail_msg("the log says %s does not see the host read-only, where it could", who);
    if (said)
        return;
    assert_int_not_equal(d->remount, 0);
    assert_int_equal(d->victim, EROFS);
    assert_int_equal(d->made, EROFS);
    assert_int_equal(d->tmp, 0);                /* its own /tmp is writable */
    assert_int_equal(d->seen, 0);
    assert_int_not_equal(d->remount_own, 0);
    assert_int_not_equal(d->cgroup, 0);
    assert_int_not_equal(d->disk, 0);
    assert_int_not_equal(d->sysctl, 0);
    assert_true(intact);
}

#endif /* FAAS_TESTS_DEFACE_H */
