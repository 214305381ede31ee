#include "testutil.h"

#include <math.h>

#include "engine/sampler.h"

static const float logits[6] = {1.0f, 3.0f, 2.5f, -1.0f, 0.0f, 2.9f};

static void test_greedy(void **state)
{
    (void)state;
    sampler s;
    sampler_params p = sampler_default_params();
    assert_int_equal(sampler_init(&s, &p, 6, NULL), RS_OK);
    assert_int_equal(sampler_sample(&s, logits, NULL, 0), 1);
    sampler_free(&s);
}

// The penalty divides the logit of a seen token (3.0 / 1.5 = 2.0), so the
// next best (2.9) wins.
static void test_repeat_penalty(void **state)
{
    (void)state;
    sampler s;
    sampler_params p = sampler_default_params();
    p.repeat_penalty = 1.5f;
    assert_int_equal(sampler_init(&s, &p, 6, NULL), RS_OK);
    int32_t hist[] = {1, 1, 4};
    assert_int_equal(sampler_sample(&s, logits, hist, 3), 5);
    // The seen flags are cleared: without history the best is back.
    assert_int_equal(sampler_sample(&s, logits, NULL, 0), 1);
    sampler_free(&s);
}

// top-k 1, a tiny top-p, or a min-p near 1 leave only the best token.
static void test_filters_to_one(void **state)
{
    (void)state;
    sampler_params ps[3];
    for (int i = 0; i < 3; i++) {
        ps[i] = sampler_default_params();
        ps[i].temperature = 1.0f;
        ps[i].seed = (uint64_t)i;
    }
    ps[0].top_k = 1;
    ps[1].top_p = 0.01f;
    ps[2].min_p = 0.99f;
    for (int i = 0; i < 3; i++) {
        sampler s;
        assert_int_equal(sampler_init(&s, &ps[i], 6, NULL), RS_OK);
        for (int k = 0; k < 50; k++)
            assert_int_equal(sampler_sample(&s, logits, NULL, 0), 1);
        sampler_free(&s);
    }
}

// At temperature 1 the draws follow softmax(logits): token 1 has p = 0.37,
// token 3 has p = 0.0064; over 20000 draws both land near.
static void test_distribution_and_seed(void **state)
{
    (void)state;
    double z = 0;
    for (int i = 0; i < 6; i++)
        z += exp(logits[i]);
    sampler_params p = sampler_default_params();
    p.temperature = 1.0f;
    p.seed = 42;
    sampler a, b;
    assert_int_equal(sampler_init(&a, &p, 6, NULL), RS_OK);
    assert_int_equal(sampler_init(&b, &p, 6, NULL), RS_OK);
    int count[6] = {0};
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        int32_t t = sampler_sample(&a, logits, NULL, 0);
        assert_int_equal(t, sampler_sample(&b, logits, NULL, 0)); // same seed, same draws
        count[t]++;
    }
    for (int i = 0; i < 6; i++) {
        double want = exp(logits[i]) / z, got = (double)count[i] / n;
        assert_true(fabs(got - want) < 0.02);
    }
    // top-k 2 keeps tokens 1 and 5 only.
    sampler_free(&a);
    p.top_k = 2;
    assert_int_equal(sampler_init(&a, &p, 6, NULL), RS_OK);
    for (int i = 0; i < 200; i++) {
        int32_t t = sampler_sample(&a, logits, NULL, 0);
        assert_true(t == 1 || t == 5);
    }
    sampler_free(&a);
    sampler_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_repeat_penalty),
        cmocka_unit_test(test_filters_to_one),
        cmocka_unit_test(test_distribution_and_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
