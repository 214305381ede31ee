#include "engine/sampler.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/argmax.h"

sampler_params sampler_default_params(void)
{
    sampler_params p = {0};
    p.temperature = 0;
    p.top_p = 1;
    p.repeat_penalty = 1;
    p.repeat_last_n = 64;
    return p;
}

rs_status sampler_init(sampler *s, const sampler_params *p, int64_t n_vocab, rs_error *err)
{
    memset(s, 0, sizeof *s);
    s->p = p ? *p : sampler_default_params();
    s->n_vocab = n_vocab;
    // xorshift64* must not start at 0; mix the seed so nearby seeds differ.
    s->rng = (s->p.seed ^ 0x9E3779B97F4A7C15ULL) * 0xBF58476D1CE4E5B9ULL;
    if (!s->rng) s->rng = 1;
    s->logits = malloc((size_t)n_vocab * sizeof *s->logits);
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->seen = calloc((size_t)n_vocab, 1);
    if (!s->logits || !s->cand || !s->seen) {
        sampler_free(s);
        return rs_fail(err, RS_ERR_RUNTIME, "out of memory for the sampler");
    }
    return RS_OK;
}

void sampler_free(sampler *s)
{
    if (!s) return;
    free(s->logits);
    free(s->cand);
    free(s->seen);
    memset(s, 0, sizeof *s);
}

static uint64_t rng_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static float rng_float(uint64_t *state) // [0, 1)
{
    return (float)(rng_next(state) >> 40) / 16777216.0f;
}

static const float *cmp_logits; // qsort has no context argument in C11

static int cmp_desc(const void *a, const void *b)
{
    float la = cmp_logits[*(const int32_t *)a], lb = cmp_logits[*(const int32_t *)b];
    if (la != lb) return la > lb ? -1 : 1;
    return *(const int32_t *)a < *(const int32_t *)b ? -1 : 1;
}

int32_t sampler_sample(sampler *s, const float *logits_in, const int32_t *history,
                       int64_t n_history)
{
    const int64_t V = s->n_vocab;
    float *l = s->logits;
    memcpy(l, logits_in, (size_t)V * sizeof *l);

    // Repetition penalty over the recent window, once per distinct token.
    if (s->p.repeat_penalty > 0 && s->p.repeat_penalty != 1 && history) {
        int64_t from = s->p.repeat_last_n > 0 && n_history > s->p.repeat_last_n
                           ? n_history - s->p.repeat_last_n
                           : 0;
        for (int64_t i = from; i < n_history; i++) {
            int32_t t = history[i];
            if (t < 0 || t >= V || s->seen[t]) continue;
            s->seen[t] = 1;
            l[t] = l[t] > 0 ? l[t] / s->p.repeat_penalty : l[t] * s->p.repeat_penalty;
        }
        for (int64_t i = from; i < n_history; i++)
            if (history[i] >= 0 && history[i] < V) s->seen[history[i]] = 0;
    }

    if (s->p.temperature <= 0) return (int32_t)argmax_f32(l, V);

    // Candidates: every token, or the top k. Sorting is only needed when a
    // filter looks at the order.
    const float maxl = l[argmax_f32(l, V)];
    int64_t n = 0;
    bool need_sort = s->p.top_k > 0 || (s->p.top_p > 0 && s->p.top_p < 1);
    for (int64_t i = 0; i < V; i++) {
        // Tokens far below the best cannot matter after softmax at this
        // temperature (e^-40); dropping them keeps the sort short.
        if ((l[i] - maxl) / s->p.temperature < -40.0f) continue;
        s->cand[n++] = (int32_t)i;
    }
    if (need_sort) {
        cmp_logits = l;
        qsort(s->cand, (size_t)n, sizeof *s->cand, cmp_desc);
        if (s->p.top_k > 0 && n > s->p.top_k) n = s->p.top_k;
    }

    // Softmax at the temperature, into l over the candidates.
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        int32_t t = s->cand[i];
        l[t] = expf((l[t] - maxl) / s->p.temperature);
        sum += l[t];
    }
    // min-p: drop tokens below min_p times the most likely one (probability
    // of the best is e^0 / sum, so the test compares unnormalized weights).
    if (s->p.min_p > 0) {
        int64_t k = 0;
        for (int64_t i = 0; i < n; i++)
            if (l[s->cand[i]] >= s->p.min_p) s->cand[k++] = s->cand[i];
            else sum -= l[s->cand[i]];
        n = k;
    }
    // top-p: the smallest prefix of the sorted candidates holding top_p.
    if (s->p.top_p > 0 && s->p.top_p < 1) {
        double acc = 0, total = sum;
        int64_t k = 0;
        while (k < n) {
            acc += l[s->cand[k++]];
            if (acc >= s->p.top_p * total) break;
        }
        n = k;
        sum = acc;
    }
    double r = (double)rng_float(&s->rng) * sum, acc = 0;
    for (int64_t i = 0; i < n; i++) {
        acc += l[s->cand[i]];
        if (r < acc) return s->cand[i];
    }
    return s->cand[n > 0 ? n - 1 : 0];
}
