#include <stdio.h>

#include "cli/commands.h"

// Placeholder until the command lands; it says so rather than pretending.
int cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "rightsize run: not implemented yet\n");
    return 1;
}
