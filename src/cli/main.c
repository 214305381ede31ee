// rightsize: will this LLM fit this machine, how, and how fast? Then run it.
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"hw", cmd_hw, "what this machine has (CPU, RAM, GPUs)"},
    {"inspect", cmd_inspect, "describe a model: HF folder, GGUF file, or catalog name"},
    {"plan", cmd_plan, "memory per precision and device, the pick, predicted speed"},
    {"tokenize", cmd_tokenize, "text to token ids with the model's tokenizer"},
    {"template", cmd_template, "render a conversation with the model's chat template"},
    {"chat", cmd_chat, "plan, load at the chosen precision, and chat"},
    {"run", cmd_run, "one-shot generation for scripts"},
    {"bench", cmd_bench, "measured against planned: memory, prefill, decode"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: rightsize COMMAND [options]   (every command takes --json)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nrightsize COMMAND --help shows the command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("rightsize 0.1.0\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "rightsize: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
