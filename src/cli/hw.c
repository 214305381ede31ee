#include <stdio.h>

#include "cli/commands.h"

// Placeholder until the command lands; it says so rather than pretending.
int cmd_hw(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "rightsize hw: not implemented yet\n");
    return 1;
}
