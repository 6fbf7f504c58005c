/*
 * functions_file.h - the functions file `faas serve` reads (see faas-functions(5)): an INI
 * file with one [section] per function and one key per configuration field. Parsing
 * collects every error with its line; registering uses the public API only.
 */
#ifndef FAAS_FUNCTIONS_FILE_H
#define FAAS_FUNCTIONS_FILE_H

#include <stddef.h>
#include <stdint.h>

#include <faas.h>

typedef struct ff_function {
    char       *name;           /* the [section] */
    unsigned    line;           /* where the section starts */
    char       *module;         /* the shared object (resolved against the file's
                                   directory), or NULL */
    char       *symbol;         /* NULL: the section's name */
    char       *ffi;            /* a C signature: call symbol through libffi; or NULL */
    char       *dead_letter, *tag;
    faas_config cfg;            /* cfg.dead_letter and cfg.tag point to the two above */
    char       *schedule;       /* "rate(5 minutes)" or "cron(...)", or NULL */
    char       *schedule_tz;    /* the schedule's IANA time zone, or NULL: UTC */
    char       *watch;          /* a directory (resolved against the file's), or NULL */
    char       *watch_prefix, *watch_suffix;
    faas_watch_options watch_opts; /* prefix and suffix point to the two above */
    char       *qualifier;      /* the schedule and watch call NAME:QUALIFIER, or NULL */
    int         reload;         /* reload = true: follow the module file on disk
                                   (faas_update_follow, with the schedule and watch) */
    /* runtime = provided: a process function (faas_register_process(3)) */
    int         runtime;        /* 0: a module or ffi function; 1: provided */
    char       *command;        /* the executable, resolved (command or bootstrap) */
    char      **argv;           /* command's words (NULL-terminated), or NULL: { command } */
    char       *handler, *cwd;  /* _HANDLER; the working directory (NULL: the default) */
    char       *user;           /* the runtime's user (NULL: faas_register_process's default) */
    char      **writable;       /* the directories it may write, resolved, NULL-terminated,
                                   or NULL: none */
    char      **environment;    /* "NAME=value" from [environment NAME], NULL-terminated,
                                   or NULL: none */
    size_t      nenv, env_bytes;
    unsigned    env_line;       /* where [environment NAME] starts (0: none) */
    uint64_t    seen;           /* one bit per key of the table, to refuse repeats */
    int         registered;     /* set by ff_register */
} ff_function;

/* A [version NAME:N] section: $LATEST of NAME published (faas_publish_version(3)) as
 * version N once NAME is registered; sections of a function are published in order. */
typedef struct ff_version {
    char       *function;
    uint32_t    number;         /* N: 1 for the first section of NAME, 2 for the next... */
    unsigned    line;
    char       *description;    /* or NULL */
    unsigned    seen;
} ff_version;

/* An [alias NAME:ALIAS] section: faas_alias_set(3) once NAME's versions are published. */
typedef struct ff_alias {
    char       *function, *alias;
    unsigned    line;
    uint32_t    version;        /* 0: $LATEST */
    uint32_t    extra_version;  /* 0: none */
    double      extra_weight;
    unsigned    seen;
} ff_alias;

/* A [budget TAG] section: faas_budget_set(3) for the functions with tag = TAG. */
typedef struct ff_budget {
    char       *tag;
    unsigned    line;           /* where the section starts */
    uint64_t    limit_picousd;  /* limit_usd, per window */
    uint64_t    window_ms;      /* window; 0: one window for ever */
    unsigned    seen;           /* one bit per budget key, to refuse repeats */
} ff_budget;

typedef struct ff_file {
    ff_function *fns;
    size_t       n, fns_cap;
    ff_budget   *budgets;
    size_t       nbudgets, budgets_cap;
    ff_version  *versions;      /* in file order */
    size_t       nversions, versions_cap;
    ff_alias    *aliases;       /* in file order */
    size_t       naliases, aliases_cap;
    char       **errors;        /* "FILE:LINE: message", in the order found */
    size_t       nerrors, errors_cap;
    int          no_sources;    /* set before ff_register: start no schedule or watch (a
                                   NATS worker runs calls; its producer starts them) */
    int          check_only;    /* set before ff_register: unregister each function (and
                                   stop its schedule and watch) once its registration is
                                   checked, so that --check holds one at a time */
} ff_file;

/* Parse text[0..len) (NUL bytes are errors). name is used in messages; dir (NULL: none)
 * is where relative module paths are resolved. Returns the number of errors (also in
 * out->nerrors), or -1 when out of memory. out is always set; release it with ff_free(). */
int  ff_parse(const char *text, size_t len, const char *name, const char *dir, ff_file *out);
/* Read and parse PATH; a file that cannot be read is one error. */
int  ff_load(const char *path, ff_file *out);
/* ff_load, and on failure print the errors and release *out: 0 when loaded, else the
 * exit status to give (1 out of memory, 2 errors in the file). */
int  ff_load_or_report(const char *path, ff_file *out);
/* Register every function of f on rt, set its budgets, publish its versions and set its
 * aliases, then start each function's schedule and watch, if any (with check_only, each
 * function's in turn, then it is removed; each budget is set, then removed). Failures are
 * appended to f->errors with their section's line; returns how many registrations,
 * budgets, versions, aliases, schedules and watches failed. */
int  ff_register(faas_runtime *rt, ff_file *f, const char *name);
/* Each error on a line of standard error. */
void ff_print_errors(const ff_file *f);
void ff_free(ff_file *f);

#endif /* FAAS_FUNCTIONS_FILE_H */
