#include "testutil.h"

#include "plan/host.h"
#include "plan_testmodel.h"

// The host's peak while a GPU layout loads (plan_host_load_peak) on the toy
// model of plan_testmodel.h: every weight on the host once, plus the largest
// matrix the upload reorders, on top of the CPU device's total after loading.

static void layout(plan_precision p, plan_placement place, int64_t n_gpu, plan_layout *l,
                   plan_weights *w)
{
    model_desc m = toy_model();
    uint64_t g = 80 * GiB;
    hw_info hw = toy_hw(1, &g, 256 * GiB);
    plan_options o = plan_default_options();
    rs_error err = {0};
    assert_int_equal(plan_weights_init(w, &m, p, &err), RS_OK);
    plan_layout_eval(&m, &hw, &o, w, place, n_gpu, 4096, l);
}

static void test_all_on_gpu(void **state)
{
    (void)state;
    model_desc m = toy_model();
    plan_layout l;
    plan_weights w;
    // int8: every matrix Q8_0 (reordered), the largest a block's 272 MiB.
    plan_precision p8 = plan_precision_of(PLAN_PREC_INT8);
    layout(p8, PLAN_PLACE_GPU, 10, &l, &w);
    assert_int_equal(l.dev[0].weights, 0);
    assert_int_equal(plan_host_upload_staging(&m, p8, &l), 272 * MiB);
    assert_int_equal(plan_host_load_peak(&m, &w, p8, &l), l.dev[0].total + w.total + 272 * MiB);
    plan_weights_free(&w);
    // bf16 is uploaded as it is: no staging.
    plan_precision pb = plan_precision_of(PLAN_PREC_BF16);
    layout(pb, PLAN_PLACE_GPU, 10, &l, &w);
    assert_int_equal(plan_host_upload_staging(&m, pb, &l), 0);
    assert_int_equal(plan_host_load_peak(&m, &w, pb, &l), l.dev[0].total + w.total);
    plan_weights_free(&w);
    // int4: blocks and embedding Q4_K (not reordered), the head Q6_K (105 MiB).
    plan_precision p4 = plan_precision_of(PLAN_PREC_INT4);
    layout(p4, PLAN_PLACE_GPU, 10, &l, &w);
    assert_int_equal(plan_host_upload_staging(&m, p4, &l), 105 * MiB);
    plan_weights_free(&w);
}

static void test_split_and_cpu(void **state)
{
    (void)state;
    model_desc m = toy_model();
    plan_layout l;
    plan_weights w;
    plan_precision p8 = plan_precision_of(PLAN_PREC_INT8);
    // 4 blocks and the embedding on the GPU, 6 blocks and the head on the
    // CPU: the host holds the GPU's share too until the upload.
    layout(p8, PLAN_PLACE_SPLIT, 4, &l, &w);
    assert_int_equal(l.dev[0].weights, 6 * 272 * MiB + 136 * MiB);
    assert_int_equal(plan_host_load_peak(&m, &w, p8, &l),
                     l.dev[0].total + 4 * 272 * MiB + 136 * MiB + 272 * MiB);
    plan_weights_free(&w);
    // On the CPU alone the peak is the total.
    layout(p8, PLAN_PLACE_CPU, 0, &l, &w);
    assert_int_equal(plan_host_load_peak(&m, &w, p8, &l), l.dev[0].total);
    plan_weights_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_on_gpu),
        cmocka_unit_test(test_split_and_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
