/*
 * cmd_worker.c - `faas worker FUNCTIONS-FILE --nats URL`: a NATS JetStream worker.
 * Not built yet: it says so and exits 2.
 */
#include "tool.h"

int cmd_worker(int argc, char **argv)
{
    (void)argc;
    return die(2, "%s: not built yet in this version", argv[0]);
}
