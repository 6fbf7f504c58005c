/*
 * process_fixture.h - what the process-instance tests (test_process, test_process_log)
 * share: a manual runtime on a fake clock, a temporary directory as LAMBDA_TASK_ROOT,
 * AWS's tutorial bootstrap (tests/runtime/bootstrap, run by bash) and TMPDIR=dir for its
 * mktemp files, so that nothing is left outside dir.
 */
#ifndef FAAS_TESTS_PROCESS_FIXTURE_H
#define FAAS_TESTS_PROCESS_FIXTURE_H

#include "util.h"

typedef struct proc_fix {
    fake_clock    clock;
    faas_runtime *rt;
    char          dir[256];     /* LAMBDA_TASK_ROOT: the handler scripts */
    char          bootstrap[1024];
    char          tmpenv[300];  /* TMPDIR=dir */
    const char   *writable[2];  /* { dir, NULL }: faas_process_config.writable of a runtime
                                   given TMPDIR (the rest it sees read-only) */
} proc_fix;

/* Fill f: o's runtime (o's clock is f->clock: manual_options(&f->clock)) and a new
 * temporary directory named after prefix. 0, or -1. */
static inline int proc_fix_open(proc_fix *f, const faas_options *o, const char *prefix)
{
    if (faas_runtime_new(&f->rt, o) != FAAS_OK)
        return -1;
    const char *src = getenv("top_srcdir");
    snprintf(f->bootstrap, sizeof f->bootstrap, "%s/tests/runtime/bootstrap",
             src ? src : "..");
    if (shared_temp_dir(f->dir, sizeof f->dir, prefix) == NULL)
        return -1;
    snprintf(f->tmpenv, sizeof f->tmpenv, "TMPDIR=%s", f->dir);
    f->writable[0] = f->dir;
    f->writable[1] = NULL;
    return 0;
}

static inline void proc_fix_close(proc_fix *f)
{
    faas_runtime_free(f->rt);
    remove_tree(f->dir);
}

/* Write DIR/name with text. */
static inline void proc_fix_put_file(const proc_fix *f, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Register NAME: the tutorial bootstrap (unchanged, under bash) with handler H, in DIR,
 * its environment TMPDIR and extra (one variable or NULL). */
static inline void proc_fix_register_tutorial(proc_fix *f, const char *name,
                                              const char *handler, const char *extra,
                                              const faas_config *cfg)
{
    const char *argv[] = { "bash", f->bootstrap, NULL };
    const char *env[] = { f->tmpenv, extra, NULL };
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = "/bin/bash";
    pc.argv = argv;
    pc.handler = handler;
    pc.environment = env;
    pc.cwd = f->dir;
    pc.writable = f->writable;
    assert_int_equal(faas_register_process(f->rt, name, &pc, cfg), FAAS_OK);
}

#endif
