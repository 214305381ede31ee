#include "cli/cli_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

bool cli_parse_float(const char *s, double lo, double hi, float *out)
{
    if (!s || !*s) return false;
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v >= lo && v <= hi)) return false;
    *out = (float)v;
    return true;
}

bool cli_parse_sampler_option(const char *o, const char *v, sampler_params *sp, bool *ok)
{
    int64_t n = 0;
    if (strcmp(o, "--temp") == 0) {
        *ok = cli_parse_float(v, 0, 100, &sp->temperature);
    } else if (strcmp(o, "--top-k") == 0) {
        *ok = cli_parse_int(v, 0, 1 << 24, &n);
        if (*ok) sp->top_k = (int)n;
    } else if (strcmp(o, "--top-p") == 0) {
        *ok = cli_parse_float(v, 0, 1, &sp->top_p);
    } else if (strcmp(o, "--min-p") == 0) {
        *ok = cli_parse_float(v, 0, 1, &sp->min_p);
    } else if (strcmp(o, "--repeat-penalty") == 0) {
        *ok = cli_parse_float(v, 0.01, 100, &sp->repeat_penalty);
    } else if (strcmp(o, "--seed") == 0) {
        *ok = cli_parse_int(v, 0, INT64_MAX, &n);
        if (*ok) sp->seed = (uint64_t)n;
    } else {
        return false;
    }
    return true;
}

int cli_take_model(const char *cmd, const char *arg, const char **model)
{
    if (arg[0] == '-' && arg[1]) {
        fprintf(stderr, "rightsize %s: unknown option \"%s\" (rightsize %s --help)\n", cmd, arg,
                cmd);
        return 2;
    }
    if (*model) {
        fprintf(stderr, "rightsize %s: one model at a time; \"%s\" is extra\n", cmd, arg);
        return 2;
    }
    *model = arg;
    return 0;
}

int cli_bad_value(const char *cmd, const char *option, const char *value, const rs_error *err)
{
    if (err && err->msg[0]) {
        fprintf(stderr, "rightsize %s: %s\n", cmd, err->msg);
        return 2;
    }
    fprintf(stderr, "rightsize %s: option %s: bad or missing value%s%s%s\n", cmd, option,
            value ? " \"" : "", value ? value : "", value ? "\"" : "");
    return 2;
}

rs_status cli_load_tokenizer(const model_desc *m, tokenizer **tok, rs_error *err)
{
    if (m->source == MODEL_SOURCE_GGUF && m->gguf) return tokenizer_load_gguf(m->gguf, tok, err);
    return tokenizer_load_hf(m->path, tok, err);
}
