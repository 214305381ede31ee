#ifndef RS_ENGINE_SAMPLER_H
#define RS_ENGINE_SAMPLER_H

#include <stdint.h>

#include "util/error.h"

// Picks the next token from logits: repetition penalty, then greedy
// (temperature 0) or temperature, top-k, top-p, min-p and a seeded draw.

typedef struct sampler_params {
    float temperature;    // 0: greedy
    int top_k;            // 0: off
    float top_p;          // 1: off
    float min_p;          // 0: off
    float repeat_penalty; // 1: off; divides positive and multiplies negative logits of seen tokens
    int repeat_last_n;    // how many recent tokens the penalty looks at (0: all given)
    uint64_t seed;
} sampler_params;

sampler_params sampler_default_params(void); // greedy, no penalty, seed 0

typedef struct sampler {
    sampler_params p;
    int64_t n_vocab;
    uint64_t rng;         // xorshift64* state
    float *logits;        // (n_vocab) working copy
    int32_t *cand;        // (n_vocab) candidate ids, sorted by logit
    uint8_t *seen;        // (n_vocab) flags for the repetition penalty
} sampler;

rs_status sampler_init(sampler *s, const sampler_params *p, int64_t n_vocab, rs_error *err);
void sampler_free(sampler *s);

// history: the tokens so far (prompt and output) for the repetition penalty.
int32_t sampler_sample(sampler *s, const float *logits, const int32_t *history, int64_t n_history);

#endif
