/*
 * cmd_invoke.c - `faas invoke MODULE.so SYMBOL [PAYLOAD|-]`, or with --ffi
 * `faas invoke --ffi LIB SYMBOL SIGNATURE [ARGS|-]` for any C function: one call, the
 * reply on stdout and the REPORT line on stderr.
 */
#include <faas.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "functions_file.h"
#include "tool.h"

/* ---- faas invoke ---------------------------------------------------------------------- */

static void print_log(const char *line, void *arg)
{
    (void)arg;
    fprintf(stderr, "%s\n", line);
}

/* Print the reply on stdout, the error and the REPORT line on stderr; the exit status. */
static int print_outcome(int rc, faas_response *res, int show_log)
{
    fwrite(res->data, 1, res->len, stdout);
    if (res->len > 0 && ((char *)res->data)[res->len - 1] != '\n')
        fputc('\n', stdout);
    fflush(stdout);
    if (rc != FAAS_OK)
        fprintf(stderr, "%s: %s: %s: %s\n", prog, faas_err_name(rc),
                res->error_type ? res->error_type : "", res->error_message ? res->error_message
                                                                           : "");
    if (!show_log) {
        char report[256];
        if (faas_record_format(&res->record, report, sizeof report) >= 0 &&
            rc != FAAS_ENOTFOUND && rc != FAAS_ETOOLARGE)
            fprintf(stderr, "%s\n", report);
    }
    return rc == FAAS_OK ? 0 : 1;
}

/* faas invoke --file FILE NAME[:QUALIFIER] [PAYLOAD]: the functions file's functions,
 * versions and aliases (no schedule or watch), then one call of NAME, NAME:3 or
 * NAME:alias; stderr also says which version ran. */
static int invoke_from_file(const char *file, int show_log, int argc, char **argv)
{
    if (argc < 1 || argc > 2) {
        usage(stderr);
        return 2;
    }
    const char *arg = argc == 2 ? argv[1] : "";
    size_t len = strlen(arg);
    char *payload = NULL;
    if (strcmp(arg, "-") == 0 && (payload = read_stdin(&len)) == NULL)
        return die(1, "cannot read the payload from stdin: %s", strerror(errno));
    ff_file f;
    int rc = ff_load_or_report(file, &f);
    if (rc != 0) {
        free(payload);
        return rc;
    }
    f.no_sources = 1;
    faas_options opts = FAAS_OPTIONS_INIT;
    if (show_log)
        opts.log = print_log;
    faas_runtime *rt;
    if (faas_runtime_new(&rt, &opts) != FAAS_OK) {
        ff_free(&f);
        free(payload);
        return die(1, "%s", faas_last_error());
    }
    if (ff_register(rt, &f, file) > 0) {
        ff_print_errors(&f);
        ff_free(&f);
        faas_runtime_free(rt);
        free(payload);
        return 2;
    }
    ff_free(&f);
    faas_response res;
    rc = faas_invoke(rt, argv[0], payload ? payload : arg, len, &res);
    int status = print_outcome(rc, &res, show_log);
    if (rc == FAAS_OK || rc == FAAS_EHANDLER) {
        if (res.record.version != 0)
            fprintf(stderr, "%s: %s ran version %u\n", prog, argv[0], res.record.version);
        else
            fprintf(stderr, "%s: %s ran $LATEST\n", prog, argv[0]);
    }
    faas_response_free(&res);
    faas_runtime_free(rt);
    free(payload);
    return status;
}

int cmd_invoke(int argc, char **argv)
{
    faas_config cfg;
    faas_config_init(&cfg);
    int show_log = 0, ffi = 0;
    const char *file = NULL;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--log") == 0) {
            show_log = 1;
        } else if (strcmp(argv[i], "--ffi") == 0) {
            ffi = 1;
        } else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (strcmp(argv[i], "--memory") == 0 && i + 1 < argc) {
            if (parse_unsigned(argv[++i], &cfg.memory_mb) != 0)
                return die(2, "--memory wants a number of MB, not \"%s\"", argv[i]);
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            if (parse_unsigned(argv[++i], &cfg.timeout_ms) != 0)
                return die(2, "--timeout wants a number of ms, not \"%s\"", argv[i]);
        } else {
            usage(stderr);
            return 2;
        }
    }
    /* MODULE SYMBOL [PAYLOAD], or with --ffi LIB SYMBOL SIGNATURE [ARGS], or with --file
     * FILE NAME[:QUALIFIER] [PAYLOAD] */
    if (file != NULL && !ffi)
        return invoke_from_file(file, show_log, argc - i, argv + i);
    int fixed = ffi ? 3 : 2;
    if (argc - i < fixed || argc - i > fixed + 1) {
        usage(stderr);
        return 2;
    }
    const char *module = argv[i], *symbol = argv[i + 1];
    const char *signature = ffi ? argv[i + 2] : NULL;
    const char *arg = argc - i == fixed + 1 ? argv[i + fixed] : "";
    char path[PATH_MAX];
    const char *dlpath = path;
    /* dlopen() searches the library path for a name without a slash: a file here wins. */
    if (ffi && strcmp(module, "-") == 0)
        dlpath = NULL;                  /* a symbol of this process (libc's, libfaas's) */
    else if (strchr(module, '/') == NULL && access(module, F_OK) == 0)
        snprintf(path, sizeof path, "./%s", module);
    else
        snprintf(path, sizeof path, "%s", module);

    char *payload = NULL;
    size_t len = strlen(arg);
    if (strcmp(arg, "-") == 0) {
        payload = read_stdin(&len);
        if (payload == NULL)
            return die(1, "cannot read the payload from stdin: %s", strerror(errno));
    }

    faas_options opts = FAAS_OPTIONS_INIT;
    if (show_log) {
        opts.log = print_log;
    }
    faas_runtime *rt;
    int rc = faas_runtime_new(&rt, &opts);
    if (rc != FAAS_OK) {
        free(payload);
        return die(1, "%s", faas_last_error());
    }
    /* The function is named after the symbol, made a valid name. */
    char name[65];
    snprintf(name, sizeof name, "%s", symbol);
    for (char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-'))
            *p = '_';
    rc = ffi ? faas_register_ffi(rt, name, dlpath, symbol, signature, &cfg)
             : faas_register_module(rt, name, path, symbol, &cfg);
    if (rc != FAAS_OK) {
        faas_runtime_free(rt);
        free(payload);
        return die(2, "%s", faas_last_error());
    }
    faas_response res;
    rc = faas_invoke(rt, name, payload ? payload : arg, len, &res);
    int status = print_outcome(rc, &res, show_log);
    faas_response_free(&res);
    faas_runtime_free(rt);
    free(payload);
    return status;
}

