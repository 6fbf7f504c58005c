/*
 * cmd_serve.c - `faas serve FUNCTIONS-FILE`: the Lambda Invoke API over HTTP.
 * Not built yet: it says so and exits 2.
 */
#include "tool.h"

int cmd_serve(int argc, char **argv)
{
    (void)argc;
    return die(2, "%s: not built yet in this version", argv[0]);
}
