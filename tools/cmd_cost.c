/*
 * cmd_cost.c - `faas cost RECORDS`: what a recorded workload costs on each cloud.
 * Not built yet: it says so and exits 2.
 */
#include "tool.h"

int cmd_cost(int argc, char **argv)
{
    (void)argc;
    return die(2, "%s: not built yet in this version", argv[0]);
}
