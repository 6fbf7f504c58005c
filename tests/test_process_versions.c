/*
 * test_process_versions.c - published versions and aliases of process functions
 * (faas_publish_version on a faas_register_process function): AWS's tutorial runtime
 * (tests/runtime/bootstrap + function.sh, unchanged, both in the task root as in a Lambda
 * package) is published, function.sh is changed on disk, and $LATEST serves the new code
 * while version 1 serves the old from its frozen copy; CodeSha256 is the documented digest
 * of the tree; publishing again with nothing changed returns the same version; the runtime
 * sees AWS_LAMBDA_FUNCTION_VERSION and its own LAMBDA_TASK_ROOT, without write bits (the
 * tests may run as root, whom modes do not stop, so the modes are checked); aliases with
 * weights 0 and 1 route exactly; a link out of the task root is frozen with the copy; a
 * tree over Lambda's 250 MB is refused before anything is copied; faas_update_code says
 * what to do instead; and the snapshots are gone from the disk once the runtime is freed.
 * The runtime is manual, on a fake clock; the processes are real.
 */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "../libfaas/sha256.h"

typedef struct vfix {
    fake_clock    clock;
    faas_runtime *rt;
    char          root[PATH_MAX];       /* LAMBDA_TASK_ROOT: bootstrap, function.sh */
    char          tmp[PATH_MAX];        /* TMPDIR: mktemp's files and the snapshots */
    char          outside[PATH_MAX];    /* a file a link of the root points at */
    char          tmpenv[PATH_MAX + 8];
    const char   *writable[2];  /* { tmp, NULL }: the runtime's TMPDIR, writable to it */
    char          bootstrap[PATH_MAX + 16];
    char         *old_tmpdir;
} vfix;

/* dir = the real path of a new temporary directory. */
static void real_temp_dir(char *dir, const char *prefix)
{
    char made[PATH_MAX];
    assert_non_null(shared_temp_dir(made, sizeof made, prefix));
    assert_non_null(realpath(made, dir));
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    static char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    return text;
}

/* Copy tests/runtime/NAME into the task root, unchanged. */
static void put_runtime_file(vfix *f, const char *name, mode_t mode)
{
    const char *src = getenv("top_srcdir");
    char from[PATH_MAX], to[PATH_MAX + 64];
    snprintf(from, sizeof from, "%s/tests/runtime/%s", src ? src : "..", name);
    snprintf(to, sizeof to, "%s/%s", f->root, name);
    write_text(to, read_text(from), mode);
}

static void put_root_file(vfix *f, const char *name, const char *text)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", f->root, name);
    write_text(path, text, 0644);
}

static int setup(void **state)
{
    vfix *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    real_temp_dir(f->root, "faas-pver-root");
    real_temp_dir(f->tmp, "faas-pver-tmp");
    /* outside /tmp: the runtime's view has a /tmp of its own, where the host's is not */
    char made[PATH_MAX];
    assert_non_null(outside_temp_dir(made, sizeof made, "faas-pver-out"));
    assert_non_null(realpath(made, f->outside));
    const char *old = getenv("TMPDIR");
    f->old_tmpdir = old ? strdup(old) : NULL;
    setenv("TMPDIR", f->tmp, 1);        /* where the library makes its snapshots */
    snprintf(f->tmpenv, sizeof f->tmpenv, "TMPDIR=%s", f->tmp);
    f->writable[0] = f->tmp;
    f->writable[1] = NULL;
    snprintf(f->bootstrap, sizeof f->bootstrap, "%s/bootstrap", f->root);
    put_runtime_file(f, "bootstrap", 0755);
    put_runtime_file(f, "function.sh", 0644);
    faas_options o = manual_options(&f->clock);
    if (faas_runtime_new(&f->rt, &o) != FAAS_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    vfix *f = *state;
    faas_runtime_free(f->rt);
    if (f->old_tmpdir != NULL)
        setenv("TMPDIR", f->old_tmpdir, 1);
    else
        unsetenv("TMPDIR");
    free(f->old_tmpdir);
    remove_tree(f->root);
    remove_tree(f->tmp);
    remove_tree(f->outside);
    free(f);
    return 0;
}

/* Register NAME: the tutorial's bootstrap in the task root, under bash (Debian's /bin/sh
 * is dash; tests/runtime/README.md), with handler H. */
static void register_fn(vfix *f, const char *name, const char *handler)
{
    const char *argv[] = { "bash", f->bootstrap, NULL };
    const char *env[] = { f->tmpenv, NULL };
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = "/bin/bash";
    pc.argv = argv;
    pc.handler = handler;
    pc.environment = env;
    pc.writable = f->writable;
    pc.cwd = f->root;
    ASSERT_OK(faas_register_process(f->rt, name, &pc, NULL));
}

/* Invoke NAME with EVENT; the reply in out; returns the version that ran. */
static uint32_t call(vfix *f, const char *name, const char *event, char *out, size_t size)
{
    faas_response res;
    int rc = faas_invoke(f->rt, name, event, strlen(event), &res);
    if (rc != FAAS_OK)
        print_message("# %s: %s %s\n", name, faas_err_name(rc), faas_last_error());
    ASSERT_OK(rc);
    assert_int_equal(res.status, FAAS_OK);
    snprintf(out, size, "%.*s", (int)res.len, (const char *)res.data);
    uint32_t v = res.record.version;
    faas_response_free(&res);
    return v;
}

/* The snapshots in f->tmp (faas-code-*), counted. */
static int snapshots(const vfix *f)
{
    DIR *d = opendir(f->tmp);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, "faas-code-", 10) == 0;
    closedir(d);
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* CodeSha256 of a task root holding regular files only, as faas_publish_version(3)
 * documents it: per file in byte order of names, 'F' name NUL, 'x' or '-', the size as
 * 8 bytes big-endian, the bytes; SHA-256, base64. */
static void flat_digest(const char *dir, char out[48], uint64_t *total)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && n < 64)
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    faas__sha256 h;
    faas__sha256_init(&h);
    *total = 0;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        unsigned char hdr[9];
        hdr[0] = (st.st_mode & 0111) ? 'x' : '-';
        for (int k = 0; k < 8; k++)
            hdr[1 + k] = (unsigned char)((uint64_t)st.st_size >> (56 - 8 * k));
        faas__sha256_update(&h, "F", 1);
        faas__sha256_update(&h, names[i], strlen(names[i]) + 1);
        faas__sha256_update(&h, hdr, sizeof hdr);
        const char *text = read_text(path);
        assert_int_equal(strlen(text), (size_t)st.st_size);
        faas__sha256_update(&h, text, (size_t)st.st_size);
        *total += (uint64_t)st.st_size;
        free(names[i]);
    }
    unsigned char dg[32];
    faas__sha256_final(&h, dg);
    faas__sha256_base64(dg, out);
}

static const char NEW_HANDLER[] =
    "function handler () {\n"
    "  echo \"New code: $1\"\n"
    "}\n";

/* ---- the tests ------------------------------------------------------------------------ */

static void publish_freezes_the_task_root(void **state)
{
    vfix *f = *state;
    register_fn(f, "tut", "function.handler");
    char want_sha[48], out[512];
    uint64_t want_size;
    flat_digest(f->root, want_sha, &want_size);
    uint32_t v = 0;
    ASSERT_OK(faas_publish_version(f->rt, "tut", "the tutorial", &v));
    assert_int_equal(v, 1);
    /* Nothing changed: the same version, and no second copy left behind. */
    ASSERT_OK(faas_publish_version(f->rt, "tut", NULL, &v));
    assert_int_equal(v, 1);
    assert_int_equal(snapshots(f), 1);
    faas_version_info *vs;
    size_t n;
    ASSERT_OK(faas_versions_list(f->rt, "tut", &vs, &n));
    assert_int_equal(n, 1);
    assert_string_equal(vs[0].code_sha256, want_sha);
    assert_int_equal(vs[0].code_size, want_size);
    assert_string_equal(vs[0].description, "the tutorial");
    faas_versions_free(vs);

    /* function.sh changes on disk: $LATEST's new process runs it, version 1 the old. */
    put_root_file(f, "function.sh", NEW_HANDLER);
    assert_int_equal(call(f, "tut", "{\"a\":1}", out, sizeof out), 0);
    assert_string_equal(out, "New code: {\"a\":1}");
    assert_int_equal(call(f, "tut:1", "{\"a\":1}", out, sizeof out), 1);
    assert_string_equal(out, "Echoing request: '{\"a\":1}'");
    /* Warm, both. */
    assert_int_equal(call(f, "tut:1", "{}", out, sizeof out), 1);
    assert_string_equal(out, "Echoing request: '{}'");
    assert_int_equal(call(f, "tut", "{}", out, sizeof out), 0);
    assert_string_equal(out, "New code: {}");
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "tut:1", &st));
    assert_int_equal(st.cold_starts, 1);
    assert_int_equal(st.invocations, 2);

    /* Now the code differs: version 2, which runs the new code; 1 is unchanged. */
    flat_digest(f->root, want_sha, &want_size);
    ASSERT_OK(faas_publish_version(f->rt, "tut", NULL, &v));
    assert_int_equal(v, 2);
    assert_int_equal(call(f, "tut:2", "{}", out, sizeof out), 2);
    assert_string_equal(out, "New code: {}");
    assert_int_equal(call(f, "tut:1", "{}", out, sizeof out), 1);
    assert_string_equal(out, "Echoing request: '{}'");
    ASSERT_OK(faas_versions_list(f->rt, "tut", &vs, &n));
    assert_int_equal(n, 2);
    assert_string_equal(vs[1].code_sha256, want_sha);
    assert_string_not_equal(vs[0].code_sha256, vs[1].code_sha256);
    faas_versions_free(vs);
    assert_int_equal(snapshots(f), 2);

    /* Its snapshots go with the runtime. */
    faas_runtime_free(f->rt);
    f->rt = NULL;
    assert_int_equal(snapshots(f), 0);
}

static void the_runtime_sees_its_version(void **state)
{
    vfix *f = *state;
    put_root_file(f, "env.sh",
                  "function handler () {\n"
                  "  w=rw; [ \"$(stat -c %A \"$LAMBDA_TASK_ROOT/env.sh\")\" = -r--r--r-- ] "
                  "&& w=ro\n"
                  "  echo \"$AWS_LAMBDA_FUNCTION_VERSION|$LAMBDA_TASK_ROOT|$(pwd)|$w\"\n"
                  "}\n");
    register_fn(f, "envfn", "env.handler");
    uint32_t v;
    ASSERT_OK(faas_publish_version(f->rt, "envfn", NULL, &v));
    assert_int_equal(v, 1);
    char out[PATH_MAX * 3], want[PATH_MAX * 3];
    assert_int_equal(call(f, "envfn", "{}", out, sizeof out), 0);
    snprintf(want, sizeof want, "$LATEST|%s|%s|rw", f->root, f->root);
    assert_string_equal(out, want);

    assert_int_equal(call(f, "envfn:1", "{}", out, sizeof out), 1);
    print_message("# %s\n", out);
    /* 1|<snapshot>|<snapshot>|ro, the snapshot a private directory in TMPDIR */
    assert_int_equal(strncmp(out, "1|", 2), 0);
    char snap[PATH_MAX];
    const char *bar = strchr(out + 2, '|');
    assert_non_null(bar);
    snprintf(snap, sizeof snap, "%.*s", (int)(bar - (out + 2)), out + 2);
    char prefix[PATH_MAX + 32];
    snprintf(prefix, sizeof prefix, "%s/faas-code-envfn-", f->tmp);
    assert_int_equal(strncmp(snap, prefix, strlen(prefix)), 0);
    snprintf(want, sizeof want, "1|%s|%s|ro", snap, snap);
    assert_string_equal(out, want);
    struct stat st;
    assert_int_equal(stat(snap, &st), 0);
    assert_int_equal(st.st_mode & 0222, 0);

    /* The version that ran is in the record; the snapshot goes with the runtime. */
    faas_runtime_free(f->rt);
    f->rt = NULL;
    errno = 0;
    assert_int_equal(stat(snap, &st), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(snapshots(f), 0);
}

/* A command that is a file of the task root is run from the copy: $0 names the copy's. */
static void command_in_the_task_root_runs_from_the_copy(void **state)
{
    vfix *f = *state;
    put_root_file(f, "run", "#!/bin/bash\nexport RUN_AS=\"$0\"\n"
                            "exec bash \"$(dirname \"$0\")/bootstrap\"\n");
    put_root_file(f, "who.sh", "function handler () {\n  echo \"$RUN_AS\"\n}\n");
    char cmd[PATH_MAX + 8];
    snprintf(cmd, sizeof cmd, "%s/run", f->root);
    assert_int_equal(chmod(cmd, 0755), 0);
    const char *env[] = { f->tmpenv, NULL };
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = cmd;                   /* cwd: the command's directory */
    pc.handler = "who.handler";
    pc.environment = env;
    pc.writable = f->writable;
    ASSERT_OK(faas_register_process(f->rt, "who", &pc, NULL));
    uint32_t v;
    ASSERT_OK(faas_publish_version(f->rt, "who", NULL, &v));
    char out[PATH_MAX + 64], prefix[PATH_MAX + 32];
    assert_int_equal(call(f, "who", "{}", out, sizeof out), 0);
    assert_string_equal(out, cmd);
    assert_int_equal(call(f, "who:1", "{}", out, sizeof out), 1);
    snprintf(prefix, sizeof prefix, "%s/faas-code-who-", f->tmp);
    assert_int_equal(strncmp(out, prefix, strlen(prefix)), 0);
    assert_string_equal(out + strlen(out) - 4, "/run");
}

static void aliases_route_exactly(void **state)
{
    vfix *f = *state;
    register_fn(f, "al", "function.handler");
    uint32_t v;
    ASSERT_OK(faas_publish_version(f->rt, "al", NULL, &v));
    assert_int_equal(v, 1);
    put_root_file(f, "function.sh", NEW_HANDLER);
    ASSERT_OK(faas_publish_version(f->rt, "al", NULL, &v));
    assert_int_equal(v, 2);
    char out[512];
    faas_routing_seed(f->rt, 42);
    ASSERT_OK(faas_alias_set(f->rt, "al", "live", 1, 2, 0.0));
    for (int i = 0; i < 20; i++) {
        assert_int_equal(call(f, "al:live", "{}", out, sizeof out), 1);
        assert_string_equal(out, "Echoing request: '{}'");
    }
    ASSERT_OK(faas_alias_set(f->rt, "al", "live", 1, 2, 1.0));
    for (int i = 0; i < 20; i++) {
        assert_int_equal(call(f, "al:live", "{}", out, sizeof out), 2);
        assert_string_equal(out, "New code: {}");
    }
    /* An alias of $LATEST follows the files. */
    ASSERT_OK(faas_alias_set(f->rt, "al", "head", 0, 0, 0.0));
    assert_int_equal(call(f, "al:head", "{}", out, sizeof out), 0);
    assert_string_equal(out, "New code: {}");
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "al:1", &st));
    assert_int_equal(st.invocations, 20);
    ASSERT_OK(faas_stats_get(f->rt, "al:2", &st));
    assert_int_equal(st.invocations, 20);
    /* Unregistered: its versions go, and their copies with them. */
    assert_int_equal(snapshots(f), 2);
    ASSERT_OK(faas_unregister(f->rt, "al"));
    assert_int_equal(snapshots(f), 0);
}

/* A relative link inside the root stays a link; an absolute one is replaced by a copy of
 * its file, so that the version never reads outside its snapshot. */
static void links_are_frozen(void **state)
{
    vfix *f = *state;
    char data[PATH_MAX + 16], link[PATH_MAX + 16];
    snprintf(data, sizeof data, "%s/data.txt", f->outside);
    write_text(data, "old data", 0644);
    snprintf(link, sizeof link, "%s/data.txt", f->root);
    assert_int_equal(symlink(data, link), 0);
    snprintf(link, sizeof link, "%s/same.sh", f->root);
    assert_int_equal(symlink("links.sh", link), 0);
    put_root_file(f, "links.sh",
                  "function handler () {\n"
                  "  t=file; [ -L \"$LAMBDA_TASK_ROOT/same.sh\" ] && t=link\n"
                  "  echo \"$(cat \"$LAMBDA_TASK_ROOT/data.txt\")|$t\"\n"
                  "}\n");
    register_fn(f, "ln", "same.handler");
    uint32_t v;
    ASSERT_OK(faas_publish_version(f->rt, "ln", NULL, &v));
    write_text(data, "new data", 0644);
    char out[512];
    assert_int_equal(call(f, "ln", "{}", out, sizeof out), 0);
    assert_string_equal(out, "new data|link");
    assert_int_equal(call(f, "ln:1", "{}", out, sizeof out), 1);
    assert_string_equal(out, "old data|link");
    /* A link to nothing cannot be frozen: said, and nothing is left behind. */
    unlink(data);
    assert_int_equal(faas_publish_version(f->rt, "ln", NULL, &v), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "data.txt is a symbolic link to nothing"));
    assert_int_equal(snapshots(f), 1);
}

/* A FIFO is not code: publishing skips it (and a link to one) instead of waiting for a
 * writer that never comes, and the version has neither. */
static void fifos_are_not_code(void **state)
{
    vfix *f = *state;
    char fifo[PATH_MAX + 16], link[PATH_MAX + 16], outside[PATH_MAX + 16];
    snprintf(fifo, sizeof fifo, "%s/pipe", f->root);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    snprintf(outside, sizeof outside, "%s/pipe", f->outside);
    assert_int_equal(mkfifo(outside, 0644), 0);
    snprintf(link, sizeof link, "%s/to-pipe", f->root);
    assert_int_equal(symlink(outside, link), 0);
    put_root_file(f, "fifo.sh",
                  "function handler () {\n"
                  "  a=no; b=no; [ -e \"$LAMBDA_TASK_ROOT/pipe\" ] && a=yes\n"
                  "  [ -e \"$LAMBDA_TASK_ROOT/to-pipe\" ] && b=yes\n"
                  "  echo \"$a|$b\"\n"
                  "}\n");
    register_fn(f, "fi", "fifo.handler");
    uint32_t v;
    ASSERT_OK(faas_publish_version(f->rt, "fi", NULL, &v));
    char out[512];
    assert_int_equal(call(f, "fi", "{}", out, sizeof out), 0);
    assert_string_equal(out, "yes|yes");
    assert_int_equal(call(f, "fi:1", "{}", out, sizeof out), 1);
    assert_string_equal(out, "no|no");
}

static void limits_and_update_code(void **state)
{
    vfix *f = *state;
    register_fn(f, "big", "function.handler");
    /* 300 MB, sparse: over Lambda's 250 MB of code, refused before a byte is copied. */
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/big.bin", f->root);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 300 * 1000 * 1000), 0);
    close(fd);
    uint32_t v = 9;
    assert_int_equal(faas_publish_version(f->rt, "big", NULL, &v), FAAS_ETOOLARGE);
    assert_int_equal(v, 0);
    assert_non_null(strstr(faas_last_error(), "250 MB"));
    assert_int_equal(snapshots(f), 0);
    unlink(path);
    ASSERT_OK(faas_publish_version(f->rt, "big", NULL, &v));
    assert_int_equal(v, 1);

    /* A process function has no module to replace: a clear FAAS_ENOTSUP. */
    char mod[PATH_MAX + 16];
    snprintf(mod, sizeof mod, "%s/function.sh", f->root);
    assert_int_equal(faas_update_code(f->rt, "big", mod), FAAS_ENOTSUP);
    assert_non_null(strstr(faas_last_error(), "task root"));
    /* Its status: no update ever, and $LATEST's CodeSha256 that of its task root now. */
    faas_update_info ui;
    ASSERT_OK(faas_update_status(f->rt, "big", &ui));
    assert_int_equal(ui.updates, 0);
    char want[48];
    uint64_t size;
    flat_digest(f->root, want, &size);
    assert_string_equal(ui.code_sha256, want);
    faas_version_info *vs;
    size_t n;
    ASSERT_OK(faas_versions_list(f->rt, "big", &vs, &n));
    assert_string_equal(vs[0].code_sha256, want);     /* nothing changed since */
    faas_versions_free(vs);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(publish_freezes_the_task_root, setup, teardown),
        cmocka_unit_test_setup_teardown(the_runtime_sees_its_version, setup, teardown),
        cmocka_unit_test_setup_teardown(command_in_the_task_root_runs_from_the_copy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(aliases_route_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(links_are_frozen, setup, teardown),
        cmocka_unit_test_setup_teardown(fifos_are_not_code, setup, teardown),
        cmocka_unit_test_setup_teardown(limits_and_update_code, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
