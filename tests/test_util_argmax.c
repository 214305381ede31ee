#include "testutil.h"

#include <math.h>

#include "util/argmax.h"

// The first index of the maximum, one compare at a time (NaN skipped).
static int64_t first_max(const float *v, int64_t n)
{
    int64_t b = -1;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(v[i]) && v[i] > -INFINITY && (b < 0 || v[i] > v[b])) b = i;
    return b < 0 ? 0 : b;
}

// Every length up to 300 and a vocabulary's, values drawn from a handful so
// that ties are everywhere, the maximum at every lane and in the tail.
static void test_against_one_chain(void **state)
{
    (void)state;
    enum { N = 151936 };
    float *v = malloc(N * sizeof *v);
    assert_non_null(v);
    uint64_t s = 7;
    for (int64_t n = 1; n <= 300; n++) {
        for (int rep = 0; rep < 4; rep++) {
            for (int64_t i = 0; i < n; i++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                v[i] = (float)((s >> 33) % 5) - 2.0f;
            }
            assert_int_equal(argmax_f32(v, n), first_max(v, n));
        }
    }
    for (int64_t i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (float)(s >> 40) / 16777216.0f;
    }
    v[N - 3] = 2.0f, v[77] = 2.0f; // a tie: the first wins
    assert_int_equal(argmax_f32(v, N), 77);
    v[77] = 1.5f;
    assert_int_equal(argmax_f32(v, N), N - 3);
    free(v);
}

static void test_edges(void **state)
{
    (void)state;
    const float nan_first[4] = {NAN, 1.0f, 3.0f, 2.0f};
    assert_int_equal(argmax_f32(nan_first, 4), 2); // NaN never wins
    const float all_nan[3] = {NAN, NAN, NAN};
    assert_int_equal(argmax_f32(all_nan, 3), 0);
    const float low[2] = {-INFINITY, -INFINITY};
    assert_int_equal(argmax_f32(low, 2), 0);
    assert_int_equal(argmax_f32(NULL, 0), 0);
    const float ends[3] = {5.0f, 1.0f, 5.0f};
    assert_int_equal(argmax_f32(ends, 3), 0);
    const float neg[9] = {-9, -8, -7, -6, -5, -4, -3, -2, -1}; // the tail's last
    assert_int_equal(argmax_f32(neg, 9), 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_one_chain),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
