#include "testutil.h"

#include <math.h>

#include "plan/fit.h"
#include "plan/speed.h"
#include "plan_testmodel.h"

// Decode tokens/s = efficiency x bandwidth / bytes read per token, on the
// toy model of plan_testmodel.h at 4096 context (bf16): 10 x 512 MiB
// blocks + the 256 MiB head (the embedding lookup reads one row) + 160 MiB
// of KV = 5536 MiB per token.

static const double decode_bytes = 5536.0 * 1048576.0;

static void close_to(double got, double want)
{
    if (fabs(got - want) > 1e-9 * fabs(want)) fail_msg("got %.12g, want %.12g", got, want);
}

static plan_speed speed_of(const model_desc *m, const hw_info *hw, plan_placement place,
                           int64_t n_gpu_layers, int64_t n_seq)
{
    plan_options o = plan_default_options();
    o.n_parallel = n_seq;
    plan_weights w;
    assert_int_equal(plan_weights_init(&w, m, plan_precision_of(PLAN_PREC_STORED), NULL), RS_OK);
    plan_layout l;
    plan_layout_eval(m, hw, &o, &w, place, n_gpu_layers, 4096, &l);
    plan_speed s;
    plan_layout_speed(m, hw, &o, &w, &l, &s);
    plan_weights_free(&w);
    return s;
}

// The GPU model (plan/speed.h): float weights and the cache at
// PLAN_EFF_GPU_FLOAT of the copy bandwidth (the spec's 1000 GB/s x
// PLAN_GPU_COPY_OF_SPEC when never measured), plus 5 launches per block and
// 2 per step.
static double gpu_step(double bytes, double copy_gbs, int blocks)
{
    return (5.0 * blocks + 2) * PLAN_GPU_LAUNCH_S + bytes / (PLAN_EFF_GPU_FLOAT * copy_gbs * 1e9);
}

static void test_gpu_decode(void **state)
{
    (void)state;
    model_desc m = toy_model();
    uint64_t g = 80 * GiB;
    hw_info hw = toy_hw(1, &g, 64 * GiB);
    plan_speed s = speed_of(&m, &hw, PLAN_PLACE_GPU, 10, 1);
    assert_int_equal(s.n_parts, 1);
    assert_int_equal(s.parts[0].decode_bytes, (uint64_t)decode_bytes);
    close_to(s.decode_tps, 1 / gpu_step(decode_bytes, PLAN_GPU_COPY_OF_SPEC * 1000, 10));
    assert_false(s.parts[0].bandwidth_measured);

    // A measured copy bandwidth replaces the spec sheet.
    hw.gpus[0].bandwidth_measured_gbs = 900;
    s = speed_of(&m, &hw, PLAN_PLACE_GPU, 10, 1);
    close_to(s.decode_tps, 1 / gpu_step(decode_bytes, 900, 10));
    assert_true(s.parts[0].bandwidth_measured);

    // Two sequences: the weights are read once per step, the KV twice.
    hw.gpus[0].bandwidth_measured_gbs = 0;
    s = speed_of(&m, &hw, PLAN_PLACE_GPU, 10, 2);
    double step = gpu_step(decode_bytes + 160.0 * 1048576.0, PLAN_GPU_COPY_OF_SPEC * 1000, 10);
    close_to(s.decode_tps, 1 / step);
    close_to(s.decode_tps_total, 2 / step);
}

static void test_gpu_prefill(void **state)
{
    (void)state;
    model_desc m = toy_model();
    uint64_t g = 80 * GiB;
    hw_info hw = toy_hw(1, &g, 64 * GiB);
    plan_speed s = speed_of(&m, &hw, PLAN_PLACE_GPU, 10, 1);
    // 2 x params x 512 tokens at the GEMMs' rate, attention at an average
    // of 256 keys (2 x 32 heads x (128 + 128) x 256 per token and layer) at
    // its own, a per-token cost per block, and the head once (its 256 MiB
    // read).
    double params = 10.0 * 4096 * 65536, bw = PLAN_GPU_COPY_OF_SPEC * 1000e9;
    double attn = 10.0 * (2.0 * 32 * 256 * 256) * 512;
    double t = 2 * params * 512 / (PLAN_EFF_GPU_PREFILL * 100e12) +
               attn / (PLAN_EFF_GPU_PREFILL_ATTN * 100e12) + 10 * 512 * PLAN_GPU_PREFILL_TOKEN_S +
               256.0 * 1048576 / (PLAN_EFF_GPU_FLOAT * bw);
    close_to(s.prefill_tps, 512 / t);
}

static void test_cpu(void **state)
{
    (void)state;
    model_desc m = toy_model();
    hw_info hw = toy_hw(0, NULL, 64 * GiB);
    plan_speed s = speed_of(&m, &hw, PLAN_PLACE_CPU, 0, 1);
    close_to(s.decode_tps, 0.80 * 50e9 / decode_bytes);
    // Unmeasured CPU: 10 GB/s per core.
    hw.cpu_bandwidth_gbs = 0;
    s = speed_of(&m, &hw, PLAN_PLACE_CPU, 0, 1);
    close_to(s.decode_tps, 0.80 * 20e9 / decode_bytes);
    // Prefill on the CPU: 0.5 x 200 GFLOPS, and reading 5376 MiB of weights
    // once per chunk at 16 GB/s is the smaller bound.
    double params = 10.0 * 4096 * 65536;
    double flops = 2 * params * 512 + 10.0 * (2.0 * 32 * 256 * 256) * 512 + 2.0 * 4096 * 32768;
    close_to(s.prefill_tps, 512 / (flops / (0.5 * 200e9)));
}

static void test_split(void **state)
{
    (void)state;
    // The first 4 blocks on the GPU (the embedding lookup reads one row), 6
    // blocks and the head on the CPU: the times add, with one hop between.
    model_desc m = toy_model();
    uint64_t g = 80 * GiB;
    hw_info hw = toy_hw(1, &g, 64 * GiB);
    plan_speed s = speed_of(&m, &hw, PLAN_PLACE_SPLIT, 4, 1);
    assert_int_equal(s.n_parts, 2);
    double cpu = (6 * 512 + 256 + 6 * 16) * 1048576.0, gpu = (4 * 512 + 4 * 16) * 1048576.0;
    assert_true(s.parts[0].gpu);
    assert_int_equal(s.parts[0].decode_bytes, (uint64_t)gpu);
    assert_int_equal(s.parts[1].decode_bytes, (uint64_t)cpu);
    assert_int_equal(s.n_hops, 1);
    double hop = PLAN_HOP_LATENCY_S + 2.0 * 4096 * 4 / (PLAN_HOST_LINK_GBS * 1e9);
    close_to(s.hop_s, hop);
    close_to(s.decode_tps, 1 / (cpu / 40e9 + gpu_step(gpu, PLAN_GPU_COPY_OF_SPEC * 1000, 4) + hop));
}

static void test_moe_active(void **state)
{
    (void)state;
    // One MoE block of 128 experts with 8 used: decode reads 1/16 of the
    // experts, prefill of a 512-token chunk reads them all (bandwidth bound
    // here because the FLOPS are huge).
    static model_tensor t[1];
    memset(t, 0, sizeof t);
    t[0].name = "blk.0.ffn_up_exps.weight";
    t[0].n_dims = 3;
    t[0].ne[0] = 2048;
    t[0].ne[1] = 768;
    t[0].ne[2] = 128;
    t[0].n_elems = 2048ll * 768 * 128;
    t[0].type = DTYPE_BF16;
    model_desc m;
    memset(&m, 0, sizeof m);
    m.n_layer = 1;
    m.n_embd = 2048;
    m.n_head = 32;
    m.n_head_kv = 4;
    m.head_dim = 128;
    m.n_expert = 128;
    m.n_expert_used = 8;
    m.tensors = t;
    m.n_tensors = 1;
    hw_info hw = toy_hw(0, NULL, 64 * GiB);
    hw.cpu_gflops = 1e9; // FLOPS no bound
    plan_speed s = speed_of(&m, &hw, PLAN_PLACE_CPU, 0, 1);
    double exps = 2048.0 * 768 * 128 * 2;
    double kv = 2.0 * 4 * 128 * 2 * 4096;
    assert_int_equal(s.parts[0].decode_bytes, (uint64_t)(exps / 16 + kv));
    close_to(s.prefill_tps, 512 / (exps / 40e9));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpu_decode), cmocka_unit_test(test_gpu_prefill),
        cmocka_unit_test(test_cpu),        cmocka_unit_test(test_split),
        cmocka_unit_test(test_moe_active),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
