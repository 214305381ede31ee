#include "util/argmax.h"

#include <math.h>

#define LANES 8

int64_t argmax_f32(const float *v, int64_t n)
{
    // Lane j sees indices j, j + 8, ... in order, so its first maximum is
    // the first of its lane; the merge keeps the lowest index among equals.
    float best[LANES];
    int64_t at[LANES];
    for (int j = 0; j < LANES; j++)
        best[j] = -INFINITY, at[j] = -1;
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++)
            if (v[i + j] > best[j]) best[j] = v[i + j], at[j] = i + j;
    for (int j = 0; i + j < n; j++)
        if (v[i + j] > best[j]) best[j] = v[i + j], at[j] = i + j;
    int64_t r = -1;
    float m = -INFINITY;
    for (int j = 0; j < LANES; j++) {
        if (at[j] < 0) continue;
        if (r < 0 || best[j] > m || (best[j] == m && at[j] < r)) m = best[j], r = at[j];
    }
    return r < 0 ? 0 : r;
}
