#ifndef RS_CLI_COMMANDS_H
#define RS_CLI_COMMANDS_H

// One function per command, one file per command (src/cli/<name>.c).
// Each returns the process exit status: 0 ok, 1 runtime failure, 2 bad
// usage or bad input.
int cmd_hw(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
