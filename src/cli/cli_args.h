#ifndef RS_CLI_CLI_ARGS_H
#define RS_CLI_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/sampler.h"
#include "model/model.h"
#include "tok/tokenizer.h"
#include "util/error.h"

// Option values shared by the commands: a whole number or a number in
// [lo, hi], the whole string consumed; false on anything else.
bool cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);
bool cli_parse_float(const char *s, double lo, double hi, float *out);

// The sampling options run and chat share (--temp, --top-k, --top-p, --min-p,
// --repeat-penalty, --seed): true if o is one of them, with *ok telling
// whether its value v was good.
bool cli_parse_sampler_option(const char *o, const char *v, sampler_params *sp, bool *ok);

// The ends of an argument loop the model commands share. A non-option
// argument is the MODEL (once); an unknown option or a second model prints
// one line and gives 2, else 0. cli_bad_value prints the line for an option
// whose value was missing or wrong, and gives 2: err's message when it has
// one (load_plan_parse_option's), else "bad or missing value".
int cli_take_model(const char *cmd, const char *arg, const char **model);
int cli_bad_value(const char *cmd, const char *option, const char *value, const rs_error *err);

// The model's own tokenizer, as run, chat and bench load it: a GGUF file's
// vocabulary, or the tokenizer.json of an HF folder.
rs_status cli_load_tokenizer(const model_desc *m, tokenizer **tok, rs_error *err);

#endif
