#include <stdio.h>

#include "cli/commands.h"

// Placeholder until the command lands; it says so rather than pretending.
int cmd_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "rightsize bench: not implemented yet\n");
    return 1;
}
