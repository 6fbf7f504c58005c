/* test_functions_file.c - the functions file of `faas serve` (tools/functions_file.c):
 * every key, defaults, relative paths, and every error reported with its line. */
#include "util.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tools/functions_file.h"

#define SEC(n) ((uint64_t)(n) * 1000000000u)

static ff_file parse(const char *text, const char *dir)
{
    ff_file f;
    int rc = ff_parse(text, strlen(text), "fns.ini", dir, &f);
    assert_true(rc >= 0);
    assert_int_equal((size_t)rc, f.nerrors);
    return f;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void print_errors(const ff_file *f)
{
    for (size_t i = 0; i < f->nerrors; i++)
        print_message("# %s\n", f->errors[i]);
}

static void every_key(void **state)
{
    (void)state;
    ff_file f = parse("# comment\n"
                      "; another\n"
                      "[resize]\n"
                      "  module =  /opt/fn/resize.so  \n"
                      "symbol = resize_v2\n"
                      "memory_mb = 512\n"
                      "timeout_ms = 9000\n"
                      "max_concurrency = 4\n"
                      "min_warm = 2\n"
                      "keep_alive_ms = 0\n"
                      "max_retries = 0\n"
                      "dead_letter = failures\n"
                      "tag = team a (images)\n"
                      "\n"
                      "[failures]\r\n"
                      "module = /opt/fn/dlq.so\r\n"
                      "[cos]\n"
                      "ffi = double (double)\n"
                      "[jail]\n"
                      "module = /opt/fn/untrusted.so\n"
                      "isolation = process\n"
                      "seccomp = no-network\n"
                      "pids_max = 64\n"
                      "user = nobody\n", NULL);
    print_errors(&f);
    assert_int_equal(f.nerrors, 0);
    assert_int_equal(f.n, 4);
    assert_int_equal(f.fns[3].cfg.isolation, FAAS_ISOLATE_PROCESS);
    assert_int_equal(f.fns[3].cfg.seccomp, FAAS_SECCOMP_NO_NETWORK);
    assert_int_equal(f.fns[3].cfg.pids_max, 64);
    assert_string_equal(f.fns[3].user, "nobody");   /* faas_config.user of its instances */
    assert_int_equal(f.fns[0].cfg.isolation, FAAS_ISOLATE_NONE);
    ff_function *r = &f.fns[0];
    assert_string_equal(r->name, "resize");
    assert_int_equal(r->line, 3);
    assert_string_equal(r->module, "/opt/fn/resize.so");
    assert_string_equal(r->symbol, "resize_v2");
    assert_int_equal(r->cfg.memory_mb, 512);
    assert_int_equal(r->cfg.timeout_ms, 9000);
    assert_int_equal(r->cfg.max_concurrency, 4);
    assert_int_equal(r->cfg.min_warm, 2);
    assert_int_equal(r->cfg.keep_alive_ms, 0);
    assert_int_equal(r->cfg.max_retries, 0);
    assert_string_equal(r->cfg.dead_letter, "failures");
    assert_string_equal(r->cfg.tag, "team a (images)");
    ff_function *d = &f.fns[1];             /* the defaults of faas_config_init */
    assert_string_equal(d->name, "failures");
    assert_null(d->symbol);
    assert_int_equal(d->cfg.memory_mb, 128);
    assert_int_equal(d->cfg.timeout_ms, 3000);
    assert_int_equal(d->cfg.keep_alive_ms, 600000);
    assert_int_equal(d->cfg.max_retries, 2);
    assert_int_equal(d->cfg.pids_max, 1024);
    assert_null(d->cfg.dead_letter);
    assert_null(f.fns[2].module);
    assert_string_equal(f.fns[2].ffi, "double (double)");
    ff_free(&f);
}

static void every_error_with_its_line(void **state)
{
    (void)state;
    ff_file f = parse("memory_mb = 5\n"              /* 1: outside a section */
                      "[ok]\n"
                      "module = /x.so\n"
                      "module = /y.so\n"             /* 4: twice */
                      "[bad.name]\n"                 /* 5 */
                      "module = /z.so\n"             /* (not reported again) */
                      "[two]\n"                      /* 7 */
                      "memory_mb = 0\n"              /* 8: out of range */
                      "timeout_ms = 12ms\n"          /* 9: not a number */
                      "max_retries = -1\n"           /* 10 */
                      "retries = 3\n"                /* 11: unknown key */
                      "symbol = not-c\n"             /* 12 */
                      "tag =\n"                      /* 13: no value */
                      "just words\n"                 /* 14 */
                      "[unclosed\n"                  /* 15 */
                      "[ok]\n"                       /* 16: already defined */
                      "[lonely]\n"                   /* 17: no module */
                      "dead_letter = ghost\n"        /* (17: not in the file) */
                      "[self]\n"                     /* 19 */
                      "module = /s.so\n"
                      "dead_letter = self\n"         /* (19: its own) */
                      "min_warm = 3\n"
                      "max_concurrency = 2\n"        /* (19: min_warm > max) */
                      "isolation = jail\n",          /* 24 */
                      NULL);
    print_errors(&f);
    static const char *const want[] = {
        "fns.ini:1: memory_mb: a key outside any [function] section",
        "fns.ini:4: [ok] module: given twice",
        "fns.ini:5: [bad.name]: a function name is 1-64 characters of [A-Za-z0-9_-]",
        "fns.ini:8: memory_mb = 0: must be 1 to 1048576",
        "fns.ini:9: timeout_ms = 12ms: not a whole number",
        "fns.ini:10: max_retries = -1: not a whole number",
        "fns.ini:11: [two] retries: unknown key",
        "fns.ini:12: symbol = not-c: not a C identifier",
        "fns.ini:13: [two] tag: needs a value",
        "fns.ini:14: expected [NAME], KEY = VALUE, or a comment (# or ;)",
        "fns.ini:15: a section line is [NAME]",
        "fns.ini:16: [ok]: already defined at line 2",
        "fns.ini:24: isolation = jail: one of none, process",
        "fns.ini:7: [two]: needs module = PATH (a shared object) or ffi = SIGNATURE",
        "fns.ini:17: [lonely]: needs module = PATH (a shared object) or ffi = SIGNATURE",
        "fns.ini:17: [lonely]: dead_letter ghost is not defined in this file",
        "fns.ini:19: [self]: min_warm (3) is more than max_concurrency (2)",
        "fns.ini:19: [self]: a function cannot be its own dead_letter",
    };
    assert_int_equal(f.nerrors, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < f.nerrors; i++)
        assert_true(starts(f.errors[i], want[i]));
    ff_free(&f);
}

static void odd_input(void **state)
{
    (void)state;
    ff_file f = parse("", NULL);
    assert_int_equal(f.nerrors, 1);
    assert_string_equal(f.errors[0], "fns.ini: no function defined: add a [NAME] section "
                        "with module = PATH");
    ff_free(&f);

    const char nul[] = "[a]\nmodule = /a\0.so\n";
    assert_int_equal(ff_parse(nul, sizeof nul - 1, "fns.ini", NULL, &f), 2);
    assert_string_equal(f.errors[0], "fns.ini:2: a NUL byte: this is not a text file");
    assert_true(starts(f.errors[1], "fns.ini:1: [a]: needs module = PATH"));
    ff_free(&f);

    /* A long line is one line (libinih would have cut it at 200 bytes). */
    char text[6000];
    int n = snprintf(text, sizeof text, "[long]\nmodule = /");
    memset(text + n, 'p', 4000);
    snprintf(text + n + 4000, sizeof text - (size_t)n - 4000, ".so\nmemory_mb = 64\n");
    f = parse(text, NULL);
    assert_int_equal(f.nerrors, 0);
    assert_int_equal(strlen(f.fns[0].module), 4004);
    assert_int_equal(f.fns[0].cfg.memory_mb, 64);
    ff_free(&f);

    /* A UTF-8 byte order mark, as some editors write one, is not part of line 1. */
    f = parse("\xef\xbb\xbf[bom]\r\nmodule = /b.so\r\n", NULL);
    print_errors(&f);
    assert_int_equal(f.nerrors, 0);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.fns[0].name, "bom");
    assert_int_equal(f.fns[0].line, 1);
    ff_free(&f);

    f = parse("[a]\nmodule = /", NULL);    /* no newline at the end */
    assert_int_equal(f.nerrors, 0);
    assert_string_equal(f.fns[0].module, "/");
    ff_free(&f);
}

static void relative_paths(void **state)
{
    (void)state;
    char dir[] = "/tmp/faas-ff-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/here.so", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    ff_file f = parse("[a]\nmodule = here.so\n[b]\nmodule = libm.so.6\nffi = double (double)\n"
                      "symbol = cos\n[c]\nmodule = sub/c.so\n[d]\nmodule = /abs/d.so\n", dir);
    assert_int_equal(f.nerrors, 0);
    assert_string_equal(f.fns[0].module, path);         /* found next to the file */
    assert_string_equal(f.fns[1].module, "libm.so.6");  /* left to dlopen's search */
    snprintf(path, sizeof path, "%s/sub/c.so", dir);
    assert_string_equal(f.fns[2].module, path);
    assert_string_equal(f.fns[3].module, "/abs/d.so");
    ff_free(&f);
    snprintf(path, sizeof path, "%s/here.so", dir);
    unlink(path);
    rmdir(dir);

    assert_int_equal(ff_load("/nonexistent/fns.ini", &f), 1);
    assert_string_equal(f.errors[0], "/nonexistent/fns.ini: No such file or directory");
    ff_free(&f);
}

static int echo(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

static void register_reports_the_section_line(void **state)
{
    (void)state;
    faas_options o = { .manual = 1 };
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    char text[1024];
    snprintf(text, sizeof text, "[echo]\nmodule = %s\n\n[dup]\nmodule = %s\nsymbol = echo\n"
             "[cos]\nmodule = libm.so.6\nffi = double (double)\n",
             test_module("mod_basic.so"), test_module("mod_basic.so"));
    ff_file f = parse(text, NULL);
    assert_int_equal(f.nerrors, 0);
    ASSERT_OK(faas_register(rt, "dup", echo, NULL));
    int failed = ff_register(rt, &f, "fns.ini");
    print_errors(&f);
    assert_non_null(faas_lookup(rt, "echo"));
    assert_true(failed == 1 || failed == 2);
    assert_true(starts(f.errors[0], "fns.ini:4: [dup]: FAAS_EEXIST: "));
    if (failed == 2)                    /* without the libffi bridge, said in words */
        assert_true(starts(f.errors[1], "fns.ini:7: [cos]: ffi = double (double) needs the "
                           "libffi bridge"));
    ff_free(&f);
    faas_runtime_free(rt);
}

/* ---- schedule and watch keys ------------------------------------------------------------- */

static void event_source_keys(void **state)
{
    (void)state;
    ff_file f = parse("[a]\nmodule = /a.so\nschedule = cron(0 9 ? * MON-FRI *)\n"
                      "schedule_time_zone = Europe/Berlin\n"
                      "[b]\nmodule = /b.so\nwatch = uploads\nwatch_recursive = yes\n"
                      "watch_events = both\nwatch_prefix = img/\nwatch_suffix = .png\n"
                      "watch_existing = true\nremote = yes\n"
                      "[c]\nmodule = /c.so\nwatch = /abs/in\n", "/srv/fns");
    print_errors(&f);
    assert_int_equal(f.nerrors, 0);
    assert_string_equal(f.fns[0].schedule, "cron(0 9 ? * MON-FRI *)");
    assert_string_equal(f.fns[0].schedule_tz, "Europe/Berlin");
    assert_null(f.fns[0].watch);
    assert_string_equal(f.fns[1].watch, "/srv/fns/uploads");   /* next to the file */
    assert_int_equal(f.fns[1].watch_opts.recursive, 1);
    assert_int_equal(f.fns[1].watch_opts.events, FAAS_WATCH_CREATED | FAAS_WATCH_REMOVED);
    assert_string_equal(f.fns[1].watch_opts.prefix, "img/");
    assert_string_equal(f.fns[1].watch_opts.suffix, ".png");
    assert_int_equal(f.fns[1].watch_opts.existing, 1);
    assert_int_equal(f.fns[1].cfg.remote, 1);
    assert_int_equal(f.fns[0].cfg.remote, 0);
    assert_string_equal(f.fns[2].watch, "/abs/in");
    assert_int_equal(f.fns[2].watch_opts.recursive, 0);
    assert_null(f.fns[2].watch_opts.prefix);
    ff_free(&f);

    f = parse("[a]\nmodule = /a.so\n"
              "schedule = rate(0 minutes)\n"            /* 3 */
              "watch_recursive = maybe\n"               /* 4 */
              "watch_events = modified\n"               /* 5 */
              "[b]\nmodule = /b.so\nwatch_suffix = .png\n"     /* 6 */
              "schedule_time_zone = UTC\n"
              "[c]\nmodule = /c.so\n"
              "schedule = cron(0 12 * * ?)\n", NULL);   /* 12: five fields */
    print_errors(&f);
    static const char *const want[] = {
        "fns.ini:3: schedule = rate(0 minutes): ",
        "fns.ini:4: watch_recursive = maybe: one of false, true, no, yes",
        "fns.ini:5: watch_events = modified: one of created, removed, both",
        "fns.ini:12: schedule = cron(0 12 * * ?): ",
        "fns.ini:6: [b]: schedule_time_zone without a schedule",
        "fns.ini:6: [b]: watch_* options without watch = DIRECTORY",
    };
    assert_int_equal(f.nerrors, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < f.nerrors; i++)
        assert_true(starts(f.errors[i], want[i]));
    /* The parser's own message for the expression says where it went wrong. */
    assert_non_null(strstr(f.errors[3], "position"));
    ff_free(&f);
}

static fake_clock CLOCK;
static unsigned ticks, uploads;

static void count_calls(const faas_record *rec, void *arg)
{
    (void)arg;
    if (rec->status != FAAS_OK)
        return;
    if (strcmp(rec->function, "tick") == 0)
        ticks++;
    else if (strcmp(rec->function, "upload") == 0)
        uploads++;
}

static void event_sources_start_on_register(void **state)
{
    (void)state;
    char dir[] = "/tmp/faas-ff-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char in[300], path[400], text[2048];
    snprintf(in, sizeof in, "%s/in", dir);
    assert_int_equal(mkdir(in, 0700), 0);

    faas_options o = manual_options(&CLOCK);
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    faas_on_record(rt, count_calls, NULL);
    char *mod = realpath(test_module("mod_basic.so"), NULL);   /* the file's dir is not ours */
    assert_non_null(mod);
    snprintf(text, sizeof text,
             "[tick]\nmodule = %s\nsymbol = echo\nschedule = rate(1 minute)\n"
             "[upload]\nmodule = %s\nsymbol = echo\nwatch = in\nwatch_suffix = .txt\n"
             "[missing]\nmodule = %s\nsymbol = echo\nwatch = no-such-dir\n",
             mod, mod, mod);
    free(mod);
    ff_file f = parse(text, dir);
    assert_int_equal(f.nerrors, 0);
    assert_int_equal(ff_register(rt, &f, "fns.ini"), 1);
    print_errors(&f);
    assert_int_equal(f.nerrors, 1);                    /* the watch, with its line */
    assert_true(starts(f.errors[0], "fns.ini:10: [missing]: watch = "));
    ff_free(&f);                                       /* the runtime keeps its copies */

    fake_advance(&CLOCK, SEC(60));
    while (faas_run_pending(rt) > 0)
        ;
    assert_int_equal(ticks, 1);
    fake_advance(&CLOCK, SEC(60));
    while (faas_run_pending(rt) > 0)
        ;
    assert_int_equal(ticks, 2);

    const char *names[] = { "a.txt", "b.bin", "c.txt" };
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", in, names[i]);
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        fputs("hello\n", fp);
        fclose(fp);
    }
    while (faas_run_pending(rt) > 0)
        ;
    assert_int_equal(uploads, 2);                      /* the suffix filter held b.bin */
    faas_runtime_free(rt);

    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", in, names[i]);
        unlink(path);
    }
    rmdir(in);
    rmdir(dir);
}


/* Thousands of sections: the name index finds a duplicate and a missing dead_letter among
 * them, and grows (rehashes) many times on the way. */
static void many_sections_are_indexed(void **state)
{
    (void)state;
    enum { N = 3000 };
    size_t cap = (size_t)N * 64 + 256, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (unsigned i = 0; i < N; i++) {
        len += (size_t)snprintf(text + len, cap - len, "[s%u]\nmodule = /x.so\n", i);
        if (i == 1500)
            len += (size_t)snprintf(text + len, cap - len, "dead_letter = nope\n");
        else if (i > 0)
            len += (size_t)snprintf(text + len, cap - len, "dead_letter = s%u\n", N - 1 - i);
    }
    len += (size_t)snprintf(text + len, cap - len, "[s17]\nmodule = /x.so\n");
    ff_file f = parse(text, NULL);
    print_errors(&f);
    assert_int_equal(f.n, N);
    assert_int_equal(f.nerrors, 2);
    /* In the order found: the duplicate while reading, then the checks of each section. */
    assert_string_equal(f.errors[0], "fns.ini:9000: [s17]: already defined at line 51");
    assert_string_equal(f.errors[1], "fns.ini:4500: [s1500]: dead_letter nope is not "
                                     "defined in this file");
    ff_free(&f);
    free(text);
}

/* check_only (--check): each function is registered, its sources started, then all of it
 * removed, so the runtime holds nothing afterwards and no schedule ever fires. */
static void check_only_keeps_nothing_registered(void **state)
{
    (void)state;
    faas_options o = manual_options(&CLOCK);
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    faas_on_record(rt, count_calls, NULL);
    char *mod = realpath(test_module("mod_basic.so"), NULL);
    assert_non_null(mod);
    char dir[] = "/tmp/faas-ff-XXXXXX", in[300], text[2048];
    assert_non_null(mkdtemp(dir));
    snprintf(in, sizeof in, "%s/in", dir);
    assert_int_equal(mkdir(in, 0700), 0);
    snprintf(text, sizeof text,
             "[tick]\nmodule = %s\nsymbol = echo\nschedule = rate(1 minute)\n"
             "[upload]\nmodule = %s\nsymbol = echo\nwatch = in\n"
             "[bad]\nffi = int (int\nsymbol = abs\n"
             "[other]\nmodule = %s\nsymbol = echo\n", mod, mod, mod);
    free(mod);
    ff_file f = parse(text, dir);
    assert_int_equal(f.nerrors, 0);
    f.check_only = 1;
    ticks = 0;
    int failed = ff_register(rt, &f, "fns.ini");
    print_errors(&f);
    assert_int_equal(failed, 1);
    assert_int_equal(f.nerrors, 1);                     /* the signature, with its line */
    assert_true(starts(f.errors[0], "fns.ini:9: [bad]: FAAS_EINVAL"));
    faas_function_info *infos;
    size_t n;
    ASSERT_OK(faas_list(rt, &infos, &n));
    assert_int_equal(n, 0);
    faas_info_free(infos);
    fake_advance(&CLOCK, SEC(120));
    while (faas_run_pending(rt) > 0)
        ;
    assert_int_equal(ticks, 0);
    char path[400];                                     /* nor does the watch */
    snprintf(path, sizeof path, "%s/a.txt", in);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("hello\n", fp);
    fclose(fp);
    uploads = 0;
    while (faas_run_pending(rt) > 0)
        ;
    assert_int_equal(uploads, 0);
    ff_free(&f);
    faas_runtime_free(rt);
    unlink(path);
    rmdir(in);
    rmdir(dir);
}

/* ---- versions and aliases ---------------------------------------------------------------- */

static void version_and_alias_sections(void **state)
{
    (void)state;
    ff_file f = parse("[resize]\n"
                      "module = /opt/fn/resize.so\n"
                      "reload = true\n"
                      "schedule = rate(1 hour)\n"
                      "qualifier = prod\n"
                      "[version resize:1]\n"              /* 6 */
                      "description = the first\n"
                      "[ version  resize:2 ]\n"
                      "[alias resize:prod]\n"             /* 9 */
                      "version = 1\n"
                      "extra_version = 2\n"
                      "extra_weight = 0.1\n"
                      "[alias resize:dev]\n"
                      "version = $LATEST\n"
                      "[other]\nmodule = /opt/fn/o.so\n", NULL);
    print_errors(&f);
    assert_int_equal(f.nerrors, 0);
    assert_int_equal(f.n, 2);
    assert_true(f.fns[0].reload);
    assert_false(f.fns[1].reload);
    assert_string_equal(f.fns[0].qualifier, "prod");
    assert_int_equal(f.nversions, 2);
    assert_string_equal(f.versions[0].function, "resize");
    assert_int_equal(f.versions[0].number, 1);
    assert_int_equal(f.versions[0].line, 6);
    assert_string_equal(f.versions[0].description, "the first");
    assert_int_equal(f.versions[1].number, 2);
    assert_null(f.versions[1].description);
    assert_int_equal(f.naliases, 2);
    assert_string_equal(f.aliases[0].alias, "prod");
    assert_int_equal(f.aliases[0].line, 9);
    assert_int_equal(f.aliases[0].version, 1);
    assert_int_equal(f.aliases[0].extra_version, 2);
    assert_true(f.aliases[0].extra_weight > 0.0999 && f.aliases[0].extra_weight < 0.1001);
    assert_string_equal(f.aliases[1].alias, "dev");
    assert_int_equal(f.aliases[1].version, 0);
    assert_int_equal(f.aliases[1].extra_version, 0);
    ff_free(&f);
}

static void version_and_alias_errors_with_their_lines(void **state)
{
    (void)state;
    ff_file f = parse("[fn]\nmodule = /x.so\n"
                      "reload = maybe\n"                  /* 3 */
                      "[version fn]\n"                    /* 4: no number */
                      "[version fn:0]\n"                  /* 5 */
                      "[version fn:2]\n"                  /* 6: not in order */
                      "[version fn:1]\n"                  /* 7 */
                      "description = a\n"
                      "description = b\n"                 /* 9: twice */
                      "module = /y.so\n"                  /* 10: unknown key */
                      "[version ghost:1]\n"               /* 11: no such function */
                      "[alias fn:123]\n"                  /* 12: only digits */
                      "[alias fn:prod]\n"                 /* 13 */
                      "version = 3\n"                     /* (13: not declared) */
                      "extra_weight = 1.5\n"              /* 15 */
                      "weight = 1\n"                      /* 16 */
                      "[alias fn:prod]\n"                 /* 17: already defined */
                      "[alias fn:canary]\n"               /* 18 */
                      "version = $LATEST\n"
                      "extra_version = 1\n"               /* (18: $LATEST) */
                      "extra_weight = 0.5\n"
                      "[alias fn:lone]\n"                 /* 22: no version */
                      "extra_weight = 0.5\n"              /* (22: weight alone) */
                      "[timer]\nmodule = /x.so\nschedule = rate(1 hour)\n"
                      "qualifier = live\n",               /* (24: not declared) */
                      NULL);
    print_errors(&f);
    static const char *const want[] = {
        "fns.ini:3: reload = maybe: one of false, true, no, yes",
        "fns.ini:4: [version fn]: a version section is [version NAME:N]",
        "fns.ini:5: [version fn:0]: a version is a number from 1",
        "fns.ini:6: [version fn:2]: versions are published in order: this one would be fn:1",
        "fns.ini:9: [version fn:1] description: given twice",
        "fns.ini:10: [version fn:1] module: unknown key (known: description)",
        "fns.ini:12: [alias fn:123]: an alias is 1-128 characters of [A-Za-z0-9_-], not only "
        "digits",
        "fns.ini:15: [alias fn:prod] extra_weight = 1.5: a share from 0.0 to 1.0",
        "fns.ini:16: [alias fn:prod] weight: unknown key",
        "fns.ini:17: [alias fn:prod]: already defined at line 13",
        "fns.ini:24: [timer]: qualifier = live: not $LATEST, nor a [version timer:N] or "
        "[alias timer:ALIAS] of this file",
        "fns.ini:11: [version ghost:1]: function ghost is not defined in this file",
        "fns.ini:13: [alias fn:prod]: version 3 is not declared: add [version fn:3]",
        "fns.ini:13: [alias fn:prod]: extra_weight without extra_version",
        "fns.ini:18: [alias fn:canary]: weighted routing is between published versions, not "
        "$LATEST",
        "fns.ini:22: [alias fn:lone]: needs version = N (or $LATEST)",
        "fns.ini:22: [alias fn:lone]: extra_weight without extra_version",
    };
    assert_int_equal(f.nerrors, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < f.nerrors; i++)
        if (!starts(f.errors[i], want[i]))
            fail_msg("error %zu: \"%s\", wanted \"%s\"", i, f.errors[i], want[i]);
    ff_free(&f);
}

static unsigned prod_ticks;
static uint32_t prod_version;

static void count_versions(const faas_record *rec, void *arg)
{
    (void)arg;
    if (rec->status == FAAS_OK && strcmp(rec->function, "echo") == 0) {
        prod_ticks++;
        prod_version = rec->version;
    }
}

/* Versions are published in order after registration, aliases set after them; a
 * schedule with qualifier = prod calls the alias; a version that would be the same as the
 * last is an error at its line. */
static void versions_and_aliases_are_applied(void **state)
{
    (void)state;
    faas_options o = manual_options(&CLOCK);
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    faas_on_record(rt, count_versions, NULL);
    char text[2048];
    snprintf(text, sizeof text,
             "[echo]\nmodule = %s\nschedule = rate(1 minute)\nqualifier = prod\n"
             "[version echo:1]\ndescription = first\n"
             "[alias echo:prod]\nversion = 1\n"
             "[alias echo:dev]\nversion = $LATEST\n"
             "[same]\nmodule = %s\nsymbol = echo\n"
             "[version same:1]\n"
             "[version same:2]\n"                   /* 15: nothing changed */
             "[alias same:live]\nversion = 1\nextra_version = 2\nextra_weight = 0.5\n",
             test_module("mod_basic.so"), test_module("mod_basic.so"));
    ff_file f = parse(text, NULL);
    print_errors(&f);
    assert_int_equal(f.nerrors, 0);
    int failed = ff_register(rt, &f, "fns.ini");
    print_errors(&f);
    assert_int_equal(failed, 2);
    assert_true(starts(f.errors[0], "fns.ini:15: [version same:2]: published as version 1: "
                       "nothing changed"));
    assert_true(starts(f.errors[1], "fns.ini:16: [alias same:live]: FAAS_"));

    faas_version_info *vi;
    size_t n;
    ASSERT_OK(faas_versions_list(rt, "echo", &vi, &n));
    assert_int_equal(n, 1);
    assert_int_equal(vi[0].version, 1);
    assert_string_equal(vi[0].description, "first");
    faas_versions_free(vi);
    faas_alias_info ai;
    ASSERT_OK(faas_alias_get(rt, "echo", "prod", &ai));
    assert_int_equal(ai.version, 1);
    ASSERT_OK(faas_alias_get(rt, "echo", "dev", &ai));
    assert_int_equal(ai.version, 0);
    faas_response res;
    ASSERT_OK(faas_invoke(rt, "echo:prod", "{}", 2, &res));
    assert_int_equal(res.record.version, 1);
    faas_response_free(&res);

    prod_ticks = 0;
    fake_advance(&CLOCK, SEC(60));
    while (faas_run_pending(rt) > 0)
        ;
    assert_int_equal(prod_ticks, 1);
    assert_int_equal(prod_version, 1);      /* the schedule called echo:prod */
    ff_free(&f);
    faas_runtime_free(rt);
}

static unsigned watched_v1;

static void count_watched_v1(const faas_record *rec, void *arg)
{
    (void)arg;
    if (rec->status == FAAS_OK && strcmp(rec->function, "up") == 0 && rec->version == 1)
        watched_v1++;
}

/* A watched directory whose function section says qualifier = 1 calls version 1. */
static void a_watch_calls_its_qualifier(void **state)
{
    (void)state;
    char dir[] = "/tmp/faas-ff-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char in[300], path[400], text[2048];
    snprintf(in, sizeof in, "%s/in", dir);
    assert_int_equal(mkdir(in, 0700), 0);
    faas_options o = manual_options(&CLOCK);
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    faas_on_record(rt, count_watched_v1, NULL);
    char *mod = realpath(test_module("mod_basic.so"), NULL);
    assert_non_null(mod);
    snprintf(text, sizeof text, "[up]\nmodule = %s\nsymbol = echo\nwatch = in\nqualifier = 1\n"
             "[version up:1]\n", mod);
    free(mod);
    ff_file f = parse(text, dir);
    print_errors(&f);
    assert_int_equal(f.nerrors, 0);
    assert_int_equal(ff_register(rt, &f, "fns.ini"), 0);
    ff_free(&f);
    snprintf(path, sizeof path, "%s/a.txt", in);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("hello\n", fp);
    fclose(fp);
    watched_v1 = 0;
    while (faas_run_pending(rt) > 0)
        ;
    assert_int_equal(watched_v1, 1);
    faas_runtime_free(rt);
    unlink(path);
    rmdir(in);
    rmdir(dir);
}

/* --check publishes and sets them too (so their errors are found), and keeps nothing. */
static void check_only_checks_versions_and_aliases(void **state)
{
    (void)state;
    faas_options o = { .size = sizeof(faas_options) };
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    char text[2048];
    snprintf(text, sizeof text,
             "[echo]\nmodule = %s\n"
             "[version echo:1]\n[version echo:2]\n"
             "[alias echo:prod]\nversion = 1\n",
             test_module("mod_basic.so"));
    ff_file f = parse(text, NULL);
    assert_int_equal(f.nerrors, 0);
    f.check_only = 1;
    assert_int_equal(ff_register(rt, &f, "fns.ini"), 1);
    print_errors(&f);
    assert_true(starts(f.errors[0], "fns.ini:4: [version echo:2]: published as version 1"));
    assert_null(faas_lookup(rt, "echo"));
    assert_null(faas_lookup(rt, "echo:prod"));
    ff_free(&f);
    faas_runtime_free(rt);
}

/* ---- budgets --------------------------------------------------------------------------- */

static void budgets_are_applied(void **state)
{
    (void)state;
    faas_options o = { .size = sizeof(faas_options) };
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    char text[1024];
    snprintf(text, sizeof text,
             "[echo]\nmodule = %s\ntag = team-a\n"
             "[budget team-a]\nlimit_usd = $0.000000000001\nwindow = 1h\n"
             "[other]\nmodule = %s\nsymbol = echo\ntag = team-b\n"
             "[budget   team-b  ]\nlimit_usd = 2.50\n",
             test_module("mod_basic.so"), test_module("mod_basic.so"));
    ff_file f = parse(text, NULL);
    print_errors(&f);
    assert_int_equal(f.nerrors, 0);
    assert_int_equal(f.n, 2);
    assert_int_equal(f.nbudgets, 2);
    assert_string_equal(f.budgets[0].tag, "team-a");
    assert_int_equal(f.budgets[0].line, 4);
    assert_int_equal(f.budgets[0].limit_picousd, 1);
    assert_int_equal(f.budgets[0].window_ms, 3600000);
    assert_string_equal(f.budgets[1].tag, "team-b");
    assert_int_equal(f.budgets[1].limit_picousd, 2500000000000ull);
    assert_int_equal(f.budgets[1].window_ms, 0);
    assert_int_equal(ff_register(rt, &f, "fns.ini"), 0);
    faas_budget b;
    ASSERT_OK(faas_budget_get(rt, "team-a", &b));
    assert_int_equal(b.limit_picousd, 1);
    assert_int_equal(b.window_ms, 3600000);
    ASSERT_OK(faas_budget_get(rt, "team-b", &b));
    assert_int_equal(b.limit_picousd, 2500000000000ull);
    assert_int_equal(b.window_ms, 0);
    /* The first call spends more than a pico-dollar; the next is refused. */
    faas_response res;
    ASSERT_OK(faas_invoke(rt, "echo", "{}", 2, &res));
    faas_response_free(&res);
    assert_int_equal(faas_invoke(rt, "echo", "{}", 2, &res), FAAS_EBUDGET);
    faas_response_free(&res);
    ASSERT_OK(faas_invoke(rt, "other", "{}", 2, &res));
    faas_response_free(&res);
    ff_free(&f);
    faas_runtime_free(rt);
}

static void budget_errors_with_their_lines(void **state)
{
    (void)state;
    ff_file f = parse("[f]\nmodule = /f.so\ntag = t\n"     /* 1-3 */
                      "[budget t]\n"                       /* 4 */
                      "limit_usd = -2\n"                   /* 5: negative */
                      "window = 90\n"                      /* 6: no unit */
                      "colour = red\n"                     /* 7: unknown key */
                      "window = 1h\n"                      /* 8: twice */
                      "[budget u]\n"                       /* 9: no limit, no function */
                      "window = 0m\n"                      /* 10: zero */
                      "[budget t]\n"                       /* 11: already defined */
                      "limit_usd = 1\n"                    /* (not reported again) */
                      "[budget v]\n"                       /* 13: no function */
                      "limit_usd = abc\n"                  /* 14: not an amount */
                      "[budget w]\n"                       /* 15 */
                      "limit_usd = 0.0000000000001\n"      /* 16: finer than a pico-dollar */
                      "window = 2w\n"                      /* 17: unknown unit */
                      "limit_usd =\n"                      /* 18: twice, before its value */
                      "[budget a\tb]\n",                    /* 19: a control character */
                      NULL);
    print_errors(&f);
    static const char *const want[] = {
        "fns.ini:5: [budget t] limit_usd = -2: a budget is not negative",
        "fns.ini:6: [budget t] window = 90: a number and a unit: s, m, h or d",
        "fns.ini:7: [budget t] colour: unknown key (known: limit_usd, window)",
        "fns.ini:8: [budget t] window: given twice",
        "fns.ini:10: [budget u] window = 0m: must be more than 0",
        "fns.ini:11: [budget t]: already defined at line 4",
        "fns.ini:14: [budget v] limit_usd = abc: not an amount in dollars",
        "fns.ini:16: [budget w] limit_usd = 0.0000000000001: at most 12 decimals",
        "fns.ini:17: [budget w] window = 2w: a number and a unit",
        "fns.ini:18: [budget w] limit_usd: given twice",
        "fns.ini:19: [budget a?b]: a tag is 1 to 256 bytes without control characters",
        "fns.ini:9: [budget u]: needs limit_usd = DOLLARS",
        "fns.ini:9: [budget u]: no function has tag = u",
        "fns.ini:13: [budget v]: no function has tag = v",
        "fns.ini:15: [budget w]: no function has tag = w",
    };
    assert_int_equal(f.nerrors, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < f.nerrors; i++)
        assert_true(starts(f.errors[i], want[i]));
    ff_free(&f);
}

static void check_only_leaves_no_budget(void **state)
{
    (void)state;
    faas_options o = { .size = sizeof(faas_options), .manual = 1 };
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    char text[1024];
    snprintf(text, sizeof text, "[echo]\nmodule = %s\ntag = team-a\n"
             "[budget team-a]\nlimit_usd = 1\n", test_module("mod_basic.so"));
    ff_file f = parse(text, NULL);
    assert_int_equal(f.nerrors, 0);
    f.check_only = 1;
    assert_int_equal(ff_register(rt, &f, "fns.ini"), 0);
    faas_budget b;
    assert_int_equal(faas_budget_get(rt, "team-a", &b), FAAS_ENOTFOUND);
    ff_free(&f);
    faas_runtime_free(rt);
}

/* ---- runtime = provided: process functions ------------------------------------------------ */

/* DIR/name with text and mode. */
static void put(const char *dir, const char *name, const char *text, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(chmod(path, mode), 0);
}

static void process_function_keys(void **state)
{
    (void)state;
    char dir[256], want[512];
    assert_non_null(shared_temp_dir(dir, sizeof dir, "faas-ff-proc"));
    put(dir, "bootstrap", "#!/bin/sh\n", 0755);
    ff_file f = parse("[hello]\n"
                      "runtime = provided\n"
                      "bootstrap = bootstrap\n"
                      "handler = function.handler\n"
                      "memory_mb = 256\n"
                      "max_concurrency = 4\n"
                      "min_warm = 1\n"
                      "keep_alive_ms = 5000\n"
                      "timeout_ms = 3000\n"
                      "pids_max = 32\n"
                      "user = nobody\n"
                      "\n"
                      "[environment hello]\n"
                      "GREETING = hello there\n"
                      "TABLE = a=b, c\n"
                      "[tut]\n"
                      "runtime = provided.al2023\n"
                      "command =  bash   bootstrap --x \n"
                      "handler = function.handler\n"
                      "cwd = code\n"
                      "writable = out  /var/tmp\n"
                      "[al2]\n"
                      "runtime = provided.al2\n"
                      "command = /bin/true\n", dir);
    print_errors(&f);
    assert_int_equal(f.nerrors, 0);
    assert_int_equal(f.n, 3);
    ff_function *h = &f.fns[0];
    assert_int_equal(h->runtime, 1);
    snprintf(want, sizeof want, "%s/bootstrap", dir);
    assert_string_equal(h->command, want);
    assert_null(h->argv);
    assert_null(h->cwd);                    /* faas_register_process's: the bootstrap's */
    assert_string_equal(h->handler, "function.handler");
    assert_int_equal(h->cfg.memory_mb, 256);
    assert_int_equal(h->cfg.max_concurrency, 4);
    assert_int_equal(h->cfg.min_warm, 1);
    assert_int_equal(h->cfg.keep_alive_ms, 5000);
    assert_int_equal(h->cfg.timeout_ms, 3000);
    assert_int_equal(h->cfg.pids_max, 32);          /* process instances keep it too */
    assert_string_equal(h->user, "nobody");
    assert_int_equal(h->nenv, 2);
    assert_string_equal(h->environment[0], "GREETING=hello there");
    assert_string_equal(h->environment[1], "TABLE=a=b, c");
    assert_null(h->environment[2]);
    ff_function *t = &f.fns[1];
    assert_int_equal(t->runtime, 1);
    assert_true(strlen(t->command) > 5 &&
                strcmp(t->command + strlen(t->command) - 5, "/bash") == 0);   /* PATH's */
    assert_string_equal(t->argv[0], "bash");
    assert_string_equal(t->argv[1], "bootstrap");
    assert_string_equal(t->argv[2], "--x");
    assert_null(t->argv[3]);
    snprintf(want, sizeof want, "%s/code", dir);
    assert_string_equal(t->cwd, want);
    assert_null(t->environment);
    snprintf(want, sizeof want, "%s/out", dir);     /* relative to the file's directory */
    assert_string_equal(t->writable[0], want);
    assert_string_equal(t->writable[1], "/var/tmp");
    assert_null(t->writable[2]);
    assert_null(h->writable);
    assert_string_equal(f.fns[2].command, "/bin/true");
    assert_string_equal(f.fns[2].cwd, dir);   /* command = ...: the file's directory */
    ff_free(&f);
    remove_tree(dir);
}

static void process_function_errors_with_their_lines(void **state)
{
    (void)state;
    char dir[256];
    assert_non_null(shared_temp_dir(dir, sizeof dir, "faas-ff-proc"));
    put(dir, "plain", "#!/bin/sh\n", 0644);
    ff_file f = parse("[a]\n"                               /* 1 */
                      "runtime = provided\n"                /* 2: no command */
                      "[b]\n"                               /* 3 */
                      "runtime = provided\n"                /* 4 */
                      "command = ./nothere x\n"             /* 5: no such file */
                      "module = /x.so\n"                    /* 6: a module key */
                      "[environment b]\n"                   /* 7 */
                      "AWS_LAMBDA_FUNCTION_NAME = x\n"      /* 8: reserved */
                      "_HANDLER = y\n"                      /* 9: reserved */
                      "1BAD = z\n"                          /* 10: not a name */
                      "OK = 1\n"                            /* 11 */
                      "OK = 2\n"                            /* 12: twice */
                      "[environment zz]\n"                  /* 13: not defined */
                      "[c]\n"                               /* 14 */
                      "module = /c.so\n"                    /* 15 */
                      "[environment c]\n"                   /* 16: a module's: fine */
                      "X1 = 1\n"                            /* 17 */
                      "[d]\n"                               /* 18 */
                      "module = /d.so\n"                    /* 19 */
                      "handler = x.y\n"                     /* 20: without runtime */
                      "[e]\n"                               /* 21 */
                      "runtime = provided\n"                /* 22 */
                      "bootstrap = plain\n"                 /* 23: not executable */
                      "[g]\n"                               /* 24 */
                      "runtime = nodejs20.x\n"              /* 25: not ours */
                      "[h]\n"                               /* 26 */
                      "runtime = provided\n"                /* 27 */
                      "command = /bin/true\n"               /* 28 */
                      "bootstrap = /bin/true\n"             /* 29: both */
                      "[environment h]\n"                   /* 30 */
                      "AWS_SECRET_ACCESS_KEY = k\n"         /* 31: reserved */
                      "[i]\n"                               /* 32 */
                      "runtime = provided\n"                /* 33 */
                      "command = /bin/true\n"               /* 34 */
                      "writable = \t \n"                    /* 35: none named */
                      "[j]\n"                               /* 36 */
                      "module = /j.so\n"                    /* 37 */
                      "writable = /var/tmp\n"               /* 38: without runtime */
                      "[k]\n"                               /* 39 */
                      "module = /k.so\n"                    /* 40 */
                      "user = nobody\n",                    /* 41: not isolated */
                      dir);
    print_errors(&f);
    static const char *const want[] = {
        "fns.ini:5: [b] command = ./nothere x: ",
        "fns.ini:8: [environment b] AWS_LAMBDA_FUNCTION_NAME: reserved by Lambda",
        "fns.ini:9: [environment b] _HANDLER: reserved by Lambda",
        "fns.ini:10: [environment b] 1BAD: a variable's name is a letter",
        "fns.ini:12: [environment b] OK: given twice",
        "fns.ini:13: [environment zz]: function zz is not defined above it",
        "fns.ini:23: [e] bootstrap = plain: ",
        "fns.ini:25: runtime = nodejs20.x: one of provided, provided.al2023, provided.al2",
        "fns.ini:29: [h] bootstrap: command and bootstrap name one thing",
        "fns.ini:31: [environment h] AWS_SECRET_ACCESS_KEY: reserved by Lambda",
        "fns.ini:35: [i] writable: needs a value",
        "fns.ini:1: [a]: runtime = provided needs command = PROGRAM [ARGS...] or bootstrap",
        "fns.ini:3: [b]: module is for module functions, not runtime = provided",
        "fns.ini:18: [d]: handler needs runtime = provided",
        "fns.ini:24: [g]: needs module = PATH (a shared object) or ffi = SIGNATURE (or runtime",
        "fns.ini:36: [j]: writable needs runtime = provided",
        "fns.ini:39: [k]: user needs runtime = provided or isolation = process",
    };
    for (size_t i = 0; i < f.nerrors && i < sizeof want / sizeof want[0]; i++) {
        if (!starts(f.errors[i], want[i]))
            print_message("# error %zu: want %s\n", i, want[i]);
        assert_true(starts(f.errors[i], want[i]));
    }
    assert_int_equal(f.nerrors, sizeof want / sizeof want[0]);
    assert_non_null(strstr(f.errors[0], "is not an executable file (No such file"));
    assert_non_null(strstr(f.errors[6], "is not an executable file (Permission denied)"));
    ff_free(&f);
    remove_tree(dir);
}

/* The tutorial's bootstrap through the file: registered with faas_register_process, its
 * environment reaching the handler, as --check does too. */
static void process_function_is_registered_and_runs(void **state)
{
    (void)state;
    char dir[256], text[2048];
    assert_non_null(shared_temp_dir(dir, sizeof dir, "faas-ff-proc"));
    put(dir, "greet.sh", "function handler () {\n  echo \"$GREETING|$_HANDLER|$1\"\n}\n",
        0644);
    const char *src = getenv("top_srcdir");
    snprintf(text, sizeof text,
             "[greet]\nruntime = provided\ncommand = bash %s/tests/runtime/bootstrap\n"
             "handler = greet.handler\nmax_concurrency = 2\nwritable = .\n"
             "[environment greet]\nGREETING = hello there\nTMPDIR = %s\n",
             src ? src : "..", dir);
    faas_options o = { .size = sizeof(faas_options), .manual = 1 };
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    ff_file f = parse(text, dir);
    print_errors(&f);
    assert_int_equal(f.nerrors, 0);
    f.check_only = 1;
    assert_int_equal(ff_register(rt, &f, "fns.ini"), 0);
    assert_null(faas_lookup(rt, "greet"));
    f.check_only = 0;
    assert_int_equal(ff_register(rt, &f, "fns.ini"), 0);
    faas_response res;
    ASSERT_OK(faas_invoke(rt, "greet", "{\"a\":1}", 7, &res));
    assert_string_equal((const char *)res.data, "hello there|greet.handler|{\"a\":1}");
    assert_int_equal(res.record.cold, 1);
    faas_response_free(&res);
    ff_free(&f);
    faas_runtime_free(rt);
    remove_tree(dir);
}

/* [environment NAME] of a module function is its faas_config.environment: what
 * faas_ctx_getenv gives its handler, and what faas_describe shows. */
static void module_function_environment(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text, "[m]\nmodule = %s\n[environment m]\nSTAGE = test run\n"
             "COLOUR = blue\n", test_module("mod_basic.so"));
    faas_options o = { .size = sizeof(faas_options), .manual = 1 };
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    ff_file f = parse(text, ".");
    print_errors(&f);
    assert_int_equal(f.nerrors, 0);
    assert_int_equal(ff_register(rt, &f, "fns.ini"), 0);
    faas_function_info *info;
    ASSERT_OK(faas_describe(rt, "m", &info));
    const char *const *env = info->config.environment;
    assert_non_null(env);
    assert_string_equal(env[0], "STAGE=test run");
    assert_string_equal(env[1], "COLOUR=blue");
    assert_null(env[2]);
    faas_info_free(info);
    ff_free(&f);
    faas_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_key),
        cmocka_unit_test(every_error_with_its_line),
        cmocka_unit_test(odd_input),
        cmocka_unit_test(relative_paths),
        cmocka_unit_test(register_reports_the_section_line),
        cmocka_unit_test(event_source_keys),
        cmocka_unit_test(event_sources_start_on_register),
        cmocka_unit_test(many_sections_are_indexed),
        cmocka_unit_test(check_only_keeps_nothing_registered),
        cmocka_unit_test(budgets_are_applied),
        cmocka_unit_test(budget_errors_with_their_lines),
        cmocka_unit_test(check_only_leaves_no_budget),
        cmocka_unit_test(version_and_alias_sections),
        cmocka_unit_test(version_and_alias_errors_with_their_lines),
        cmocka_unit_test(versions_and_aliases_are_applied),
        cmocka_unit_test(check_only_checks_versions_and_aliases),
        cmocka_unit_test(a_watch_calls_its_qualifier),
        cmocka_unit_test(process_function_keys),
        cmocka_unit_test(process_function_errors_with_their_lines),
        cmocka_unit_test(process_function_is_registered_and_runs),
        cmocka_unit_test(module_function_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
