#include <stdio.h>

#include "cli/commands.h"

// Placeholder until the command lands; it says so rather than pretending.
int cmd_plan(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "rightsize plan: not implemented yet\n");
    return 1;
}
