/*
 * tool.h - what the faas command's files share: one file per subcommand (cmd_*.c), each
 * an `int cmd_NAME(int argc, char **argv)` run with argv[0] = the subcommand's name.
 * They use the public API only (<faas.h>), like any host.
 */
#ifndef FAAS_TOOL_H
#define FAAS_TOOL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

extern const char *prog;

/* Print "faas: message" to stderr and return code. */
int die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void usage(FILE *to);
/* Pico-dollars as dollars, e.g. $0.000000210419 (exact: integer arithmetic). */
const char *usd(uint64_t pusd, char *buf, size_t size);
int parse_unsigned(const char *s, unsigned *out);
/* A copy of the command-line argument arg (NULL: no memory), which is then wiped where
 * every process of the machine may read it (/proc/PID/cmdline), the functions' included:
 * whole, or only each URL's user information (a NATS URL's user, password or token).
 * The copy is the caller's for the process's lifetime. */
char *keep_secret(char *arg, bool whole);
/* All of stdin (NULL on failure; *len its size). */
char *read_stdin(size_t *len);
/* Block SIGINT and SIGTERM in this thread, and so in every thread started after it, and
 * put them in *stop for sigwait(): a long-running subcommand stops where it chooses, with
 * no handler running at an arbitrary point. Call it before the runtime starts threads. */
void block_stop_signals(sigset_t *stop);

int cmd_invoke(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_cost(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif /* FAAS_TOOL_H */
