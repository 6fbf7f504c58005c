/*
 * faas.c - the `faas` command: the subcommand table and what the subcommands share.
 * Each subcommand lives in its own cmd_*.c; see tool.h.
 */
#include <faas.h>

#include "tool.h"
#include "../libfaas/userinfo.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *prog = "faas";

void usage(FILE *to)
{
    fprintf(to,
            "usage: %s invoke [--memory MB] [--timeout MS] [--log] MODULE.so SYMBOL "
            "[PAYLOAD|-]\n"
            "       %s invoke --ffi [--memory MB] [--timeout MS] [--log] LIB|- SYMBOL "
            "'SIGNATURE' [ARGS|-]\n"
            "       %s invoke --file FUNCTIONS-FILE [--log] NAME[:VERSION|:ALIAS] [PAYLOAD|-]\n"
            "       %s serve [--listen ADDR] [--token TOKEN] FUNCTIONS-FILE\n"
            "       %s serve --check FUNCTIONS-FILE\n"
            "       %s worker --nats URL [--concurrency N] FUNCTIONS-FILE\n"
            "       %s bench [--concurrency N] [--duration S | --calls N] [--event FILE]\n"
            "             [--memory MB,...] [--json] FUNCTIONS-FILE NAME | MODULE.so SYMBOL\n"
            "       %s demo [--modules DIR]\n"
            "       %s cost [--monthly N] [--model NAME|FILE]... [--by function|tag|all|none]"
            " RECORDS\n"
            "       %s version\n"
            "See faas(1).\n", prog, prog, prog, prog, prog, prog, prog, prog, prog, prog);
}

int die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* Pico-dollars as dollars, e.g. 0.000000210419 (exact: integer arithmetic). */
const char *usd(uint64_t pusd, char *buf, size_t size)
{
    snprintf(buf, size, "$%llu.%012llu", (unsigned long long)(pusd / 1000000000000ull),
             (unsigned long long)(pusd % 1000000000000ull));
    return buf;
}

void block_stop_signals(sigset_t *stop)
{
    sigemptyset(stop);
    sigaddset(stop, SIGINT);
    sigaddset(stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, stop, NULL);
}

char *keep_secret(char *arg, bool whole)
{
    static char *kept[8];               /* the copies, reachable until exit */
    static size_t nkept;
    char *copy = strdup(arg);
    if (copy == NULL)
        return NULL;
    if (nkept < sizeof kept / sizeof *kept)
        kept[nkept++] = copy;
    if (whole) {
        memset(arg, '*', strlen(arg));
        return copy;
    }
    faas__hide_userinfo(arg);
    return copy;
}

int parse_unsigned(const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *s == '\0' || *end != '\0' || v > UINT_MAX)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* Read all of stdin; NULL on failure. */
char *read_stdin(size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    if (buf != NULL && ferror(stdin)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static const struct command {
    const char *name;
    int       (*run)(int argc, char **argv);
} commands[] = {
    { "invoke", cmd_invoke },
    { "demo",   cmd_demo },
    { "serve",  cmd_serve },
    { "cost",   cmd_cost },
    { "worker", cmd_worker },
    { "bench",  cmd_bench },
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("faas %s\n", faas_version());
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
