#ifndef RS_UTIL_ARGMAX_H
#define RS_UTIL_ARGMAX_H

#include <stdint.h>

// The index of the largest of v[0 .. n): the first one on ties; NaN never
// wins; 0 when n < 1 or no value is above -inf. Greedy decoding takes it
// over the whole vocabulary once per token (152K logits: tens of
// microseconds, a visible share of a small model's token on a GPU), so it
// keeps eight independent running maxima, which the compiler can hold in
// one vector register, rather than one chain of compares.
int64_t argmax_f32(const float *v, int64_t n);

#endif
