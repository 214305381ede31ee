#include "testutil.h"

#include "cli/load_plan.h"
#include "hw/gpu_table.h"
#include "model/model.h"
#include "plan/fit.h"

// Several GPUs (issue 6): the plan keeps a model that fits one card on that
// card, spreads one that does not over every card in consecutive ranges in
// proportion to their memory, and load_plan turns the layout into the
// engine's --device/--split. Catalog models on what-if cards of the GPU
// table: no files, no GPU.

static hw_info machine(const char *gpus)
{
    hw_info hw;
    memset(&hw, 0, sizeof hw);
    hw.cpu_cores = hw.cpu_threads = 16;
    hw.cpu_bandwidth_gbs = 100;
    hw.ram_total = hw.ram_available = 64ull << 30;
    rs_error err = {0};
    assert_int_equal(hw_set_hypothetical_gpus(&hw, gpus, &err), RS_OK);
    // As NVML numbers them: the CUDA index of each card.
    for (int i = 0; i < hw.n_gpus; i++) hw.gpus[i].index = i;
    return hw;
}

static plan_result plan(const char *model, const hw_info *hw, int64_t n_ctx, const char *prec)
{
    model_desc *m = NULL;
    rs_error err = {0};
    assert_int_equal(model_open(model, &m, &err), RS_OK);
    plan_options o = plan_default_options();
    o.n_ctx = n_ctx;
    if (prec) {
        assert_int_equal(plan_precision_parse(prec, &o.precision, &err), RS_OK);
        o.force_precision = true;
    }
    plan_result r;
    assert_int_equal(plan_fit(m, hw, &o, &r, &err), RS_OK);
    model_free(m);
    return r;
}

// Every GPU of a layout under its usable memory, the ranges consecutive
// from block 0, the embedding on the first and (all on GPUs) the head on
// the last.
static void check_gpus(const plan_layout *l, int64_t n_layer)
{
    int64_t next = 0;
    for (int i = 1; i < l->n_dev; i++) {
        const plan_device *d = &l->dev[i];
        assert_true(d->gpu_index >= 0);
        assert_int_equal(d->layer_first, next);
        assert_true(d->layer_last > d->layer_first);
        assert_true(d->total <= d->usable);
        assert_int_equal(d->has_embd, i == 1);
        assert_int_equal(d->has_output, l->placement == PLAN_PLACE_GPU && i == l->n_dev - 1);
        next = d->layer_last;
    }
    assert_int_equal(next, l->n_gpu_layers);
    const plan_device *cpu = &l->dev[0];
    if (l->n_gpu_layers < n_layer) {
        assert_int_equal(cpu->layer_first, l->n_gpu_layers);
        assert_int_equal(cpu->layer_last, n_layer);
        assert_true(cpu->has_output);
    } else {
        assert_int_equal(cpu->layer_last - cpu->layer_first, 0);
    }
}

static void test_70b_bf16_two_h100(void **state)
{
    (void)state;
    hw_info hw = machine("H100x2");
    plan_result r = plan("Llama-3.1-70B", &hw, 4096, NULL);
    assert_int_equal(r.chosen, 0); // the stored bf16, not int8 on one card
    const plan_layout *l = &r.rows[0].layout;
    assert_true(l->fits);
    assert_int_equal(l->placement, PLAN_PLACE_GPU);
    assert_int_equal(l->gpu_one, -1);
    assert_int_equal(l->n_dev, 3);
    assert_int_equal(l->n_gpu_layers, 80);
    check_gpus(l, 80);
    assert_int_equal(l->dev[1].layer_last, 40); // equal cards, equal halves
    assert_non_null(strstr(r.reason, "on 2 GPUs (40+40 of 80 layers)"));
    // Why two: one card's need against its usable memory.
    assert_true(r.rows[0].one_gpu_need > r.rows[0].one_gpu_usable);
    assert_non_null(strstr(r.reason, "one card would need 133.5 GiB where 77.6 GiB is usable"));
    // Two parts: the decode adds one hop to the sum of both cards' times.
    const plan_speed *s = &r.rows[0].speed;
    assert_int_equal(s->n_parts, 2);
    assert_int_equal(s->n_hops, 1);
    double t = s->parts[0].decode_s + s->parts[1].decode_s + s->hop_s;
    assert_true(s->decode_tps > 0.999 / t && s->decode_tps < 1.001 / t);

    // On one H100 the stored bf16 does not fit: int8 does.
    hw_info one = machine("H100");
    r = plan("Llama-3.1-70B", &one, 4096, NULL);
    assert_true(r.chosen > 0);
    assert_int_equal(r.rows[r.chosen].precision.kind, PLAN_PREC_INT8);
    assert_int_equal(r.rows[r.chosen].layout.placement, PLAN_PLACE_GPU);
}

// Both cards hold bf16 exactly up to the largest context the plan reports;
// one token more and the GPUs together are full (within a block), not
// merely badly rounded.
static void test_fits_iff(void **state)
{
    (void)state;
    hw_info hw = machine("H100x2");
    plan_result r = plan("Llama-3.1-70B", &hw, 4096, "bf16");
    int64_t max_ctx = r.rows[r.chosen].max_ctx;
    assert_true(max_ctx > 4096 && max_ctx < 131072);
    r = plan("Llama-3.1-70B", &hw, max_ctx, "bf16");
    assert_int_equal(r.rows[r.chosen].layout.placement, PLAN_PLACE_GPU);
    check_gpus(&r.rows[r.chosen].layout, 80);

    r = plan("Llama-3.1-70B", &hw, max_ctx + 1, "bf16");
    assert_true(r.chosen >= 0);
    const plan_layout *l = &r.rows[r.chosen].layout;
    assert_int_equal(l->placement, PLAN_PLACE_SPLIT); // blocks go to the CPU
    assert_true(l->n_gpu_layers < 80 && l->n_gpu_layers >= 78);
    check_gpus(l, 80);
    // All 80 on the GPUs at max_ctx + 1: the sum of the needs exceeds the
    // sum of the usable memory less one block.
    model_desc *m = NULL;
    assert_int_equal(model_open("Llama-3.1-70B", &m, NULL), RS_OK);
    plan_weights w;
    assert_int_equal(plan_weights_init(&w, m, plan_precision_of(PLAN_PREC_BF16), NULL), RS_OK);
    plan_options o = r.opts;
    plan_layout all;
    plan_layout_eval(m, &hw, &o, &w, PLAN_PLACE_GPU, 80, max_ctx + 1, &all);
    assert_false(all.fits);
    uint64_t need = 0, usable = 0;
    for (int i = 1; i < all.n_dev; i++) need += all.dev[i].total, usable += all.dev[i].usable;
    uint64_t block = w.layer[40] + plan_kv_bytes_range(m, 40, 41, max_ctx + 1, 1, DTYPE_F16);
    assert_true(need + block > usable);
    plan_weights_free(&w);
    model_free(m);
}

// Two unequal cards: at every context the spread fits unless the cards
// together lack room for one more block (the proportional rounding alone
// never refuses a layout: a card over its memory hands a boundary block to
// the other).
static void test_rounding_never_refuses(void **state)
{
    (void)state;
    hw_info hw = machine("H100,RTX 4090");
    model_desc *m = NULL;
    assert_int_equal(model_open("Llama-3.1-70B", &m, NULL), RS_OK);
    plan_weights w;
    assert_int_equal(plan_weights_init(&w, m, plan_precision_of(PLAN_PREC_INT8), NULL), RS_OK);
    plan_options o = plan_default_options();
    int n_fit = 0, n_full = 0;
    for (int64_t ctx = 1024; ctx <= 131072; ctx += 1024) {
        plan_layout l;
        plan_layout_eval(m, &hw, &o, &w, PLAN_PLACE_GPU, 80, ctx, &l);
        assert_int_equal(l.n_dev, 3);
        uint64_t need = 0, usable = 0;
        for (int i = 1; i < l.n_dev; i++) need += l.dev[i].total, usable += l.dev[i].usable;
        uint64_t block = w.layer[0] + plan_kv_bytes_range(m, 0, 1, ctx, 1, DTYPE_F16);
        if (l.fits) {
            check_gpus(&l, 80);
            n_fit++;
        } else {
            assert_true(need + block > usable);
            n_full++;
        }
    }
    assert_true(n_fit > 10 && n_full > 10); // the sweep crosses the limit
    plan_weights_free(&w);
    model_free(m);
}

static void test_unequal_cards(void **state)
{
    (void)state;
    // int8 70B at 32k: 82 GiB, too much for the H100's 77.6 usable: spread
    // over the H100 and a 4090 in proportion to the room on each.
    hw_info hw = machine("H100,RTX 4090");
    plan_result r = plan("Llama-3.1-70B", &hw, 32768, "int8");
    assert_true(r.chosen >= 0);
    const plan_layout *l = &r.rows[r.chosen].layout;
    assert_int_equal(l->placement, PLAN_PLACE_GPU);
    assert_int_equal(l->n_dev, 3);
    check_gpus(l, 80);
    double share = (double)(l->dev[1].layer_last - l->dev[1].layer_first) / 80.0;
    double u0 = (double)l->dev[1].usable, u1 = (double)l->dev[2].usable;
    double want = u0 / (u0 + u1);
    assert_true(share > want - 0.06 && share < want + 0.06);
    assert_true(l->dev[1].layer_last > 55); // the H100 takes most

    // The same cards the other way round: the 4090 first, fewer blocks.
    hw = machine("RTX 4090,H100");
    r = plan("Llama-3.1-70B", &hw, 32768, "int8");
    l = &r.rows[r.chosen].layout;
    check_gpus(l, 80);
    assert_true(l->dev[1].layer_last < 25);
}

static void test_fits_one_stays_on_one(void **state)
{
    (void)state;
    hw_info hw = machine("H100x2");
    plan_result r = plan("qwen2.5-7b-instruct", &hw, 4096, NULL);
    const plan_layout *l = &r.rows[r.chosen].layout;
    assert_int_equal(r.chosen, 0);
    assert_int_equal(l->placement, PLAN_PLACE_GPU);
    assert_int_equal(l->n_dev, 2);
    assert_int_equal(l->gpu_one, 0);
    assert_int_equal(r.rows[0].speed.n_hops, 0);
    assert_non_null(strstr(r.reason, "on GPU0 (all 28 layers)"));
    // The card with the most memory, wherever it is.
    hw = machine("RTX 3090,H100");
    r = plan("qwen2.5-7b-instruct", &hw, 4096, NULL);
    l = &r.rows[r.chosen].layout;
    assert_int_equal(l->n_dev, 2);
    assert_int_equal(l->dev[1].gpu_index, 1);
    assert_non_null(strstr(r.reason, "on GPU1 (all 28 layers)"));
}

static void test_split_over_gpus_and_cpu(void **state)
{
    (void)state;
    // bf16 70B on two 4090s with 64 GiB of RAM: nothing at bf16 on GPUs
    // alone; int4 at 32k does not fit them either: the GPUs take the first
    // blocks (proportionally), the CPU the rest and the head.
    hw_info hw = machine("RTX 4090x2");
    plan_result r = plan("Llama-3.1-70B", &hw, 32768, NULL);
    assert_true(r.chosen >= 0);
    const plan_layout *l = &r.rows[r.chosen].layout;
    assert_int_equal(r.rows[r.chosen].precision.kind, PLAN_PREC_INT4);
    assert_int_equal(l->placement, PLAN_PLACE_SPLIT);
    assert_int_equal(l->n_dev, 3);
    check_gpus(l, 80);
    assert_non_null(strstr(r.reason, "layers on 2 GPUs,"));
    assert_int_equal(r.rows[r.chosen].speed.n_hops, 2);
}

static void test_placement(void **state)
{
    (void)state;
    hw_info hw = machine("H100x2");
    load_plan_place p;
    rs_error err = {0};
    char line[160];

    plan_result r = plan("Llama-3.1-70B", &hw, 4096, NULL);
    assert_int_equal(load_plan_placement(&r.rows[0].layout, &hw, 80, &p, &err), RS_OK);
    assert_string_equal(p.device, "cuda:0");
    assert_int_equal(p.n_split, 2);
    assert_int_equal(p.split[0], 40);
    assert_int_equal(p.split[1], 40);
    load_plan_place_describe(&p, 80, line, sizeof line);
    assert_string_equal(line, "40+40 blocks on GPUs 0-1 (as --split 40,40)");

    // The CUDA index is the card's, not its place in hw: GPUs 2 and 3.
    hw_info h23 = hw;
    h23.gpus[0].index = 2, h23.gpus[1].index = 3;
    assert_int_equal(load_plan_placement(&r.rows[0].layout, &h23, 80, &p, &err), RS_OK);
    assert_string_equal(p.device, "cuda:2");
    // Not consecutive: the engine cannot spread over them.
    h23.gpus[1].index = 5;
    assert_int_equal(load_plan_placement(&r.rows[0].layout, &h23, 80, &p, &err), RS_ERR_RUNTIME);
    assert_non_null(strstr(err.msg, "not consecutive"));

    // One card: every block, on the card the plan picked.
    hw_info mixed = machine("RTX 3090,H100");
    r = plan("qwen2.5-7b-instruct", &mixed, 4096, NULL);
    assert_int_equal(load_plan_placement(&r.rows[r.chosen].layout, &mixed, 28, &p, &err), RS_OK);
    assert_string_equal(p.device, "cuda:1");
    assert_int_equal(p.n_gpu_layers, -1);
    assert_int_equal(p.n_split, 0);

    // GPUs and the CPU: the split's blocks, the rest on the CPU.
    hw_info two = machine("RTX 4090x2");
    r = plan("Llama-3.1-70B", &two, 32768, NULL);
    const plan_layout *l = &r.rows[r.chosen].layout;
    assert_int_equal(load_plan_placement(l, &two, 80, &p, &err), RS_OK);
    assert_int_equal(p.n_split, 2);
    assert_int_equal(p.split[0] + p.split[1], l->n_gpu_layers);
    assert_int_equal(p.n_gpu_layers, l->n_gpu_layers);
    load_plan_place_describe(&p, 80, line, sizeof line);
    assert_non_null(strstr(line, ", the rest on the CPU"));

    // One GPU and the CPU (a 2 GiB card): the first blocks.
    hw_info small = machine("RTX 4090");
    load_plan_cap_gpu_mem(&small, 2ull << 30);
    r = plan("qwen2.5-7b-instruct", &small, 4096, NULL);
    l = &r.rows[r.chosen].layout;
    assert_int_equal(l->placement, PLAN_PLACE_SPLIT);
    assert_int_equal(load_plan_placement(l, &small, 28, &p, &err), RS_OK);
    assert_string_equal(p.device, "cuda:0");
    assert_int_equal(p.n_split, 0);
    assert_int_equal(p.n_gpu_layers, l->n_gpu_layers);

    // The CPU.
    hw_info none = machine("RTX 4090");
    hw_set_cpu_only(&none);
    r = plan("qwen2.5-7b-instruct", &none, 4096, NULL);
    assert_int_equal(load_plan_placement(&r.rows[r.chosen].layout, &none, 28, &p, &err), RS_OK);
    assert_string_equal(p.device, "cpu");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_70b_bf16_two_h100),    cmocka_unit_test(test_fits_iff),
        cmocka_unit_test(test_rounding_never_refuses), cmocka_unit_test(test_unequal_cards),        cmocka_unit_test(test_fits_one_stays_on_one),
        cmocka_unit_test(test_split_over_gpus_and_cpu), cmocka_unit_test(test_placement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
