#ifndef RS_CLI_PLAN_TRAIN_H
#define RS_CLI_PLAN_TRAIN_H

// `rightsize plan MODEL --train full|lora|qlora [options]`: cmd_plan hands
// its arguments here when --train is present.
int cmd_plan_train(int argc, char **argv);

#endif
