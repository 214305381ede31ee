#ifndef RS_CLI_CLI_ARGS_H
#define RS_CLI_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/sampler.h"

// Option values shared by the commands: a whole number or a number in
// [lo, hi], the whole string consumed; false on anything else.
bool cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);
bool cli_parse_float(const char *s, double lo, double hi, float *out);

// The sampling options run and chat share (--temp, --top-k, --top-p, --min-p,
// --repeat-penalty, --seed): true if o is one of them, with *ok telling
// whether its value v was good.
bool cli_parse_sampler_option(const char *o, const char *v, sampler_params *sp, bool *ok);

#endif
