#include "testutil.h"

#include <math.h>

#include "hw/hw.h"
#include "model/model.h"
#include "plan/speed.h"

// The GPU speed model (plan/speed.h) with its documented constants against
// what the CUDA engine measured on an H100 80GB HBM3 (bench/results/
// cuda-run41: prompt 512 in one chunk, 128 decoded tokens, so decode reads
// the cache at 576 positions on average; copy bandwidth 3,005.6-3,012.9 GB/s).
// The 7B's rates are `rightsize bench`'s (cli.log), what a plan is compared
// with; the 0.5B's and the 8B's are cuda_bench's (results.jsonl), its rate
// inside engine_decode (decode_engine_tps: without the host's argmax over
// the vocabulary that its greedy loop adds per token, which `bench` does
// not do either). Every prediction within 10%. Then the bench calibration:
// stored in the measurement cache, read back, and the next prediction is
// the measurement.

typedef struct measured_run {
    const char *model, *precision;
    double decode_tps, prefill_tps;
    int64_t n_ctx, n_batch;
} measured_run;

static const measured_run runs[] = {
    {"qwen2.5-7b", "bf16", 195.0, 29056.2, 576, 512},
    {"qwen2.5-7b", "int8", 332.3, 15815.4, 576, 512},
    {"qwen2.5-7b", "int4", 485.2, 15665.5, 576, 512},
    {"qwen2.5-0.5b", "bf16", 1309.4, 127727.3, 576, 512},
    {"qwen2.5-0.5b", "int8", 1559.3, 108703.5, 576, 512},
    {"qwen2.5-0.5b", "int4", 1618.9, 108596.9, 576, 512},
    {"llama-3.1-8b", "bf16", 180.8, 27276.5, 576, 512},
    {"llama-3.1-8b", "int4", 447.1, 14747.5, 576, 512},
    // `bench --device cuda --gpu-mem 10G` of the 7B (int8), prompt 128, 32 tokens.
    {"qwen2.5-7b", "int8", 335.0, 5964.4, 144, 128},
};

static hw_info h100(void)
{
    hw_info hw;
    memset(&hw, 0, sizeof hw);
    snprintf(hw.cpu_model, sizeof hw.cpu_model, "test CPU");
    hw.cpu_cores = hw.cpu_threads = 16;
    hw.cpu_bandwidth_gbs = 103.8;
    hw.n_gpus = 1;
    snprintf(hw.gpus[0].name, sizeof hw.gpus[0].name, "NVIDIA H100 80GB HBM3");
    hw.gpus[0].bandwidth_gbs = 3352;
    hw.gpus[0].bandwidth_measured_gbs = 3007.2;
    hw.gpus[0].tflops_bf16 = 989;
    return hw;
}

static plan_speed predict(const char *model, const char *precision, const hw_info *hw,
                          int64_t n_ctx, int64_t n_batch, model_desc **out)
{
    model_desc *m = NULL;
    rs_error err = {0};
    if (model_open(model, &m, &err) != RS_OK) fail_msg("%s", err.msg);
    plan_precision p;
    assert_int_equal(plan_precision_parse(precision, &p, &err), RS_OK);
    plan_weights w;
    assert_int_equal(plan_weights_init(&w, m, p, &err), RS_OK);
    plan_speed_span span = {0, 0, m->n_layer, true};
    plan_speed s;
    plan_speed_estimate(m, hw, &w, &span, 1, n_ctx, 1, DTYPE_F16, n_batch, &s);
    plan_weights_free(&w);
    if (out)
        *out = m;
    else
        model_free(m);
    return s;
}

static void test_runs_within_10pct(void **state)
{
    (void)state;
    hw_info hw = h100();
    bool ok = true; // every row printed before the verdict
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        const measured_run *r = &runs[i];
        plan_speed s = predict(r->model, r->precision, &hw, r->n_ctx, r->n_batch, NULL);
        double ed = 100 * (s.decode_tps - r->decode_tps) / r->decode_tps;
        double ep = 100 * (s.prefill_tps - r->prefill_tps) / r->prefill_tps;
        fprintf(stderr,
                "  %-13s %-5s ctx %3lld: decode %7.1f (measured %7.1f, %+5.1f%%), prefill %8.0f "
                "(%8.0f, %+5.1f%%)\n",
                r->model, r->precision, (long long)r->n_ctx, s.decode_tps, r->decode_tps, ed,
                s.prefill_tps, r->prefill_tps, ep);
        ok = ok && fabs(ed) <= 10.0 && fabs(ep) <= 10.0;
    }
    assert_true(ok);
    // The family that names a run's calibration.
    plan_speed s = predict("qwen2.5-7b", "int4", &hw, 576, 512, NULL);
    assert_int_equal(s.parts[0].wclass, PLAN_WCLASS_KQUANT);
    s = predict("qwen2.5-0.5b", "int4", &hw, 576, 512, NULL); // Q4_0 blocks, Q8_0 head
    assert_int_equal(s.parts[0].wclass, PLAN_WCLASS_INT8);
    s = predict("qwen2.5-0.5b", "bf16", &hw, 576, 512, NULL);
    assert_int_equal(s.parts[0].wclass, PLAN_WCLASS_FLOAT);
    assert_false(s.parts[0].calibrated);
}

// The terms of the model, by hand, for the 7B at int8: 28 blocks of 8
// launches (5 + 3 quantization), 2 per step, Q8_0 bytes at the int8
// efficiency and the f16 cache at the float one.
static void test_terms(void **state)
{
    (void)state;
    hw_info hw = h100();
    model_desc *m = NULL;
    plan_speed s = predict("qwen2.5-7b", "int8", &hw, 576, 512, &m);
    plan_weights w;
    assert_int_equal(plan_weights_init(&w, m, plan_precision_of(PLAN_PREC_INT8), NULL), RS_OK);
    // The norms and q/k/v biases stay f32: per block 2 n_embd + q_dim + 2 kv_dim.
    double f32 = 4.0 * m->n_layer *
                     (2.0 * m->n_embd + (double)(m->n_head + 2 * m->n_head_kv) * m->head_dim) +
                 4.0 * m->n_embd; // the final norm
    double q8 = -f32 + (double)w.output;
    for (int64_t l = 0; l < m->n_layer; l++)
        q8 += (double)w.layer_active[l];
    double kv = (double)plan_kv_bytes_range(m, 0, m->n_layer, 576, 1, DTYPE_F16);
    double bw = 3007.2e9;
    double t = (28 * 5 + 2) * PLAN_GPU_LAUNCH_S + 28 * 3 * PLAN_GPU_QUANT_LAUNCH_S +
               q8 / (bw * PLAN_EFF_GPU_INT8) + (kv + f32) / (bw * PLAN_EFF_GPU_FLOAT);
    if (fabs(s.parts[0].decode_s - t) > 1e-9 * t)
        fail_msg("decode step %.9g s, by hand %.9g s", s.parts[0].decode_s, t);
    plan_weights_free(&w);
    model_free(m);
}

// bench --device cuda stores measured / predicted per GPU name and family;
// hw_probe's loader reads it back and the next plan predicts the bench.
static void test_calibration_round_trip(void **state)
{
    (void)state;
    setenv("XDG_CACHE_HOME", test_tmpdir(), 1);
    hw_info hw = h100();
    plan_speed s = predict("qwen2.5-7b", "int8", &hw, 144, 128, NULL);
    const double decode = 335.0, prefill = 5964.4; // run 41's bench at --gpu-mem 10G
    double df = 0, pf = 0;
    plan_gpu_calibration(&s, decode, prefill, 128, &df, &pf);
    assert_true(df > 0.5 && df < 2);
    assert_true(pf > 0);
    rs_error err = {0};
    char key[64];
    int c = s.parts[0].wclass;
    assert_int_equal(hw_cache_store_gpu_value(&hw, hw.gpus[0].name,
                                              hw_gpu_calib_key(key, sizeof key, false, c), df,
                                              &err),
                     RS_OK);
    assert_int_equal(hw_cache_store_gpu_value(&hw, hw.gpus[0].name,
                                              hw_gpu_calib_key(key, sizeof key, true, c), pf, &err),
                     RS_OK);
    assert_string_equal(key, "prefill_calib_int8");

    hw_info again = h100();
    hw_load_gpu_calibration(&again);
    assert_true(fabs(again.gpus[0].decode_calib[c] - df) < 1e-9);
    plan_speed s2 = predict("qwen2.5-7b", "int8", &again, 144, 128, NULL);
    assert_true(s2.parts[0].calibrated);
    assert_true(fabs(s2.decode_tps - decode) < 1e-3 * decode);
    assert_true(fabs(s2.prefill_tps - prefill) < 1e-3 * prefill);
    // The same card at another family keeps the model; another card too.
    plan_speed s3 = predict("qwen2.5-7b", "bf16", &again, 144, 128, NULL);
    assert_false(s3.parts[0].calibrated);
    snprintf(again.gpus[0].name, sizeof again.gpus[0].name, "NVIDIA H200");
    hw_load_gpu_calibration(&again);
    assert_true(again.gpus[0].decode_calib[c] == 0);
    // A what-if card never reads this machine's measurements.
    hw_info w = h100();
    w.gpus[0].hypothetical = true;
    hw_load_gpu_calibration(&w);
    assert_true(w.gpus[0].decode_calib[c] == 0);
}

// A GPU+CPU split on the same H100 host: 16 Xeon cores with AVX-512, its
// CPU bandwidth measured at 103.9 GB/s (hw --measure), its GFLOPS the
// estimate (16 x 2.1 GHz x 32 = 1075: `hw` printed "~1075 GFLOPS (est.)"),
// the card's copy 3004.2 GB/s. `rightsize bench` of the random Qwen2.5-7B,
// prompt 128 and 32 tokens (decode at 144 positions on average):
// bench/results/cuda-run13 and cuda-run14, cli.log. Both runs' mean is the
// target: bf16 with blocks 0-13 on the GPU, prefill 178.2 and 140.9,
// decode 12.0 and 11.8; int4 (--gpu-mem 2G) with blocks 0-5, prefill 90.7
// and 97.3, decode 18.8 and 21.1.
typedef struct split_run {
    const char *precision;
    int64_t gpu_blocks;
    double prefill_tps[2], decode_tps[2];
} split_run;

static const split_run split_runs[] = {
    {"bf16", 14, {178.2, 140.9}, {12.0, 11.8}},
    {"int4", 6, {90.7, 97.3}, {18.8, 21.1}},
};

static hw_info h100_host(void)
{
    hw_info hw = h100();
    hw.cpu_bandwidth_gbs = 103.9;
    hw.cpu_gflops = 1075;
    hw.has_avx2 = hw.has_fma = hw.has_avx512f = hw.has_avx512bw = true;
    hw.gpus[0].bandwidth_measured_gbs = 3004.2;
    return hw;
}

static plan_speed predict_split(const split_run *r, const hw_info *hw)
{
    model_desc *m = NULL;
    rs_error err = {0};
    if (model_open("qwen2.5-7b", &m, &err) != RS_OK) fail_msg("%s", err.msg);
    plan_precision p;
    assert_int_equal(plan_precision_parse(r->precision, &p, &err), RS_OK);
    plan_weights w;
    assert_int_equal(plan_weights_init(&w, m, p, &err), RS_OK);
    plan_speed_span spans[2] = {{0, 0, r->gpu_blocks, false}, {-1, r->gpu_blocks, m->n_layer, true}};
    plan_speed s;
    plan_speed_estimate(m, hw, &w, spans, 2, 144, 1, DTYPE_F16, 128, &s);
    plan_weights_free(&w);
    model_free(m);
    return s;
}

static void test_split_within_15pct(void **state)
{
    (void)state;
    hw_info hw = h100_host();
    bool ok = true;
    for (size_t i = 0; i < sizeof split_runs / sizeof split_runs[0]; i++) {
        const split_run *r = &split_runs[i];
        plan_speed s = predict_split(r, &hw);
        double mp = (r->prefill_tps[0] + r->prefill_tps[1]) / 2;
        double md = (r->decode_tps[0] + r->decode_tps[1]) / 2;
        double ep = 100 * (s.prefill_tps - mp) / mp, ed = 100 * (s.decode_tps - md) / md;
        fprintf(stderr,
                "  7b %-4s %2lld of 28 blocks on the GPU: prefill %6.1f (measured %6.1f, %+5.1f%%), "
                "decode %5.2f (%5.2f, %+5.1f%%); CPU part %.1f of %.1f ms prefill, %.1f of %.1f ms "
                "decode\n",
                r->precision, (long long)r->gpu_blocks, s.prefill_tps, mp, ep, s.decode_tps, md,
                ed, 1e3 * s.parts[1].prefill_s, 1e3 * 128 / s.prefill_tps,
                1e3 * s.parts[1].decode_s, 1e3 / s.decode_tps);
        for (int k = 0; k < 2; k++) // each run on its own, too
            ok = ok && fabs(s.prefill_tps - r->prefill_tps[k]) <= 0.15 * r->prefill_tps[k] &&
                 fabs(s.decode_tps - r->decode_tps[k]) <= 0.15 * r->decode_tps[k];
    }
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_within_10pct),
        cmocka_unit_test(test_terms),
        cmocka_unit_test(test_calibration_round_trip),
        cmocka_unit_test(test_split_within_15pct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
