#include <stdio.h>

#include "cli/commands.h"

// Placeholder until the command lands; it says so rather than pretending.
int cmd_template(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "rightsize template: not implemented yet\n");
    return 1;
}
