#ifndef RS_PLAN_SPEED_H
#define RS_PLAN_SPEED_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/hw.h"
#include "model/model.h"
#include "plan/memory.h"

// Predicted speed from bandwidth and FLOPS. Decode is memory-bound: each
// token reads the active weights and the KV cache once, so a device's time
// per token is bytes / (efficiency x bandwidth); a split plan's is the sum
// over its devices. Prefill of a chunk of n_batch tokens is bounded by
// FLOPS (2 x active parameters per token, plus attention) and by reading
// every weight once per chunk. Factors and their sources: docs/memory-model.md.
// They are calibrated by measurement: a GPU's bandwidth_measured_gbs and the
// CPU's cpu_bandwidth_gbs (from `hw --measure` or the engine's bench) replace
// the spec sheet where nonzero. A GPU has its own model (below), scaled by
// the bench's calibration of that card when there is one (hw_gpu).

// Fraction of the measured (or estimated) CPU bandwidth a decode step reaches.
#define PLAN_EFF_CPU_DECODE          0.80
// K-quant weights (Q4_K, Q6_K) decode at a lower fraction: the engine's
// unpacking of 6-bit scales and 4-bit nibbles costs cycles a bandwidth test
// does not. Fitted to the 7B int4 split of bench/results/cuda-run13/14 (23
// of 28 blocks and the head on a 16-core AVX-512 Xeon measured at 103.9
// GB/s: its CPU part took 52.5 and 46.7 ms per token, 49.6 on average,
// for 3.34 GB): docs/memory-model.md.
#define PLAN_EFF_CPU_DECODE_KQUANT   0.65
// Fraction of the CPU's peak f32 GFLOPS reached by prefill.
#define PLAN_EFF_CPU_PREFILL         0.50
// hw's GFLOPS estimate (never a bench's figure) gives AVX-512 cores the
// one-pipe 32 FLOP per cycle; the engine's prefill on two-pipe Xeons beats
// that by this factor (runs 13/14: 16 cores, the estimate 1075 GFLOPS; the
// CPU part's prefill 1.95x (bf16) and 1.81x (Q4_K) faster than the model
// without it; the geometric mean). Two 512-bit FMA pipes are 2x.
#define PLAN_CPU_AVX512_PREFILL_GAIN 1.88
// When the CPU's bandwidth was never measured: per physical core, capped.
#define PLAN_CPU_BW_PER_CORE_GBS     10.0
#define PLAN_CPU_BW_MAX_GBS          200.0
// When hw_info has no GFLOPS figure: per physical core (8-wide FMA x 2 units
// x 2 flops x ~2 GHz).
#define PLAN_CPU_GFLOPS_PER_CORE     64.0

// ---- GPUs: the CUDA engine, fitted to its own runs on an H100 80GB HBM3
// (3,005-3,013 GB/s copy, 989 bf16 TFLOPS, driver 580.159.04): bench/results/
// cuda-run41 (`rightsize bench` of Qwen2.5-7B at BF16/Q8_0/Q4_K; cuda_bench
// of Qwen2.5-0.5B and Llama-3.1-8B, its rate inside engine_decode, without
// its greedy loop's host argmax); tests/test_plan_speed_gpu.c holds the
// measurements and the errors (decode within 4.5%, prefill within 7.5%). A
// decode step takes
//   sum over weight families (plan_wclass) of bytes / (copy bandwidth x efficiency)
//   + launches x PLAN_GPU_LAUNCH_S + quantization launches x PLAN_GPU_QUANT_LAUNCH_S,
// the copy bandwidth being the card's measured device-to-device copy (hw
// --measure, read + write counted), else its spec x PLAN_GPU_COPY_OF_SPEC.
// A matrix-vector product only reads, so it streams a little faster than a
// copy's read + write: efficiencies of 1.0 and above are real.
#define PLAN_GPU_COPY_OF_SPEC 0.88 // H200 4,252 of 4,814 GB/s; H100 SXM 3,007 of 3,352
#define PLAN_EFF_GPU_FLOAT    1.02 // F32/F16/BF16 (the KV cache too)
#define PLAN_EFF_GPU_INT8     1.03 // Q8_0, Q4_0 through int8 dot products
#define PLAN_EFF_GPU_KQUANT   0.92 // Q4_K, Q6_K through int8 dot products
// Others, dequantized in fp32 (H200 run 4, older kernels: Q4_K 0.18, Q4_0
// 0.20; no later run measures them).
#define PLAN_EFF_GPU_DEQ      0.19
// Per decode step: each block launches 5 kernels (qkv; attention: rope, KV
// write, flash-decoding and merge in one, attn_decode.cu; o; gate|up; down),
// 3 more that quantize the input to int8 when its matrices take the int8
// path, and each GPU 2 more (embedding or input, head or output). The
// attention's own time at a short context is mostly latency, in the launch
// term (run 17 timed it by leaving it out: 6-7 us of a block). Since the
// products load their first weights before their dependent-launch wait
// (runs 15-17), a launch costs 3.8 us of latency rather than run 13's 6.8.
// Run 32 timed the quantization launches at 1.5 us each by leaving them out,
// but since run 30 the int8 products of short rows (a 7B's o) take 4 rows a
// block and gained about as much in the same steps: the fit lumps the two
// into 0.5 us a quantization launch.
#define PLAN_GPU_LAUNCH_S                 3.8e-6
#define PLAN_GPU_QUANT_LAUNCH_S           0.5e-6
#define PLAN_GPU_LAUNCHES_PER_BLOCK       5
#define PLAN_GPU_QUANT_LAUNCHES_PER_BLOCK 3
#define PLAN_GPU_LAUNCHES_PER_STEP        2
// Prefill of a chunk of n tokens: the GEMMs' FLOPs at PLAN_EFF_GPU_PREFILL
// of the bf16 tensor TFLOPS (cuBLAS; quantized matrices are dequantized to
// bf16 first), those of quantized matrices larger than the dequantization
// scratch (multiplied in slabs of rows) at PLAN_EFF_GPU_PREFILL_SLABS, the
// causal attention's FLOPs (attn_prefill.cu, tensor cores since run 21; a
// short grid of 64-query tiles, far from the peak) at
// PLAN_EFF_GPU_PREFILL_ATTN, PLAN_GPU_PREFILL_TOKEN_S per token and block
// (norms, rope, SwiGLU, conversions), and the dequantization: 2 bytes of
// bf16 per quantized weight at PLAN_EFF_GPU_DEQUANT of the copy bandwidth
// (run 19's ncu: 11.8 ms of dequantization in a 7B Q8_0 prefill; the slabs'
// GEMMs run as fast as whole ones since their rows are multiples of 64).
#define PLAN_EFF_GPU_PREFILL       0.65
#define PLAN_EFF_GPU_PREFILL_SLABS 0.65
#define PLAN_EFF_GPU_PREFILL_ATTN  0.0135
#define PLAN_GPU_PREFILL_TOKEN_S   0.20e-6
#define PLAN_EFF_GPU_DEQUANT       0.26

// Between two devices of a split the residual stream of each step passes
// through host memory (engine_gpu.c: device to host, host to device). Run 6
// of bench/results/cuda.md: Qwen2.5-3B decodes at 260.9 tok/s on one H200
// and 256.1 with --split 18,18 over two, 72 us more per token for one hop;
// the bytes (n_embd f32 per token) cross a PCIe link, about 25 GB/s for
// PCIe 4.0 x16.
#define PLAN_HOP_LATENCY_S 70e-6
#define PLAN_HOST_LINK_GBS 25.0

typedef struct plan_speed_part {
    bool gpu;
    int gpu_index;            // into hw->gpus, -1 for the CPU
    double bandwidth_gbs;     // effective: efficiency x (measured or spec); a GPU's for
                              // float weights
    bool bandwidth_measured;  // calibrated by a measurement
    int wclass;               // a GPU's: the family holding most of its weight bytes
    double decode_model_s, prefill_model_s; // a GPU's, before its bench calibration
    bool calibrated;          // a GPU's times scaled by `bench --device cuda` (hw_gpu)
    double flops;             // effective FLOPS, 0 when unknown
    uint64_t decode_bytes;    // bytes read per decode step (active weights + KV)
    double decode_s;          // seconds per decode step on this device
    double prefill_s;         // seconds per prefill chunk on this device
} plan_speed_part;

typedef struct plan_speed {
    double decode_tps;        // tokens/s of one sequence at the planned context
    double decode_tps_total;  // all parallel sequences together
    double prefill_tps;       // tokens/s of a prompt of n_batch tokens; 0 if FLOPS unknown
    int n_parts;
    plan_speed_part parts[HW_MAX_GPUS + 1];
    int n_hops;   // device changes per step (spans - 1)
    double hop_s; // seconds they add to a decode step (in decode_tps)
} plan_speed;

// Effective decode bandwidth of a device, GB/s (gpu_index -1: the CPU; a
// GPU's for float weights).
double plan_device_bandwidth(const hw_info *hw, int gpu_index, bool *measured);
// A GPU's device-to-device copy bandwidth, GB/s: measured, or the spec x
// PLAN_GPU_COPY_OF_SPEC.
double plan_gpu_copy_bandwidth(const hw_info *hw, int gpu_index, bool *measured);
// The factor plan_device_bandwidth applies to the CPU's or a GPU's
// bandwidth (measured or not), for messages.
double plan_device_bandwidth_factor(const hw_info *hw, int gpu_index);
double plan_device_flops(const hw_info *hw, int gpu_index);

// One device's share of the model for the speed model.
typedef struct plan_speed_span {
    int gpu_index;          // -1 for the CPU
    int64_t layer_first, layer_last;
    bool has_output;        // the output head runs here
} plan_speed_span;

// The calibration `rightsize bench --device cuda` stores for the GPUs of a
// run whose every block ran on GPUs: measured time over the model's, for a
// decode step (decode_tps) and a prefill chunk of n_batch tokens
// (prefill_tps), from the uncalibrated prediction s of that run (hops and
// CPU parts are left out of the ratio). 0 where a figure is missing.
void plan_gpu_calibration(const plan_speed *s, double decode_tps, double prefill_tps,
                          int64_t n_batch, double *decode_factor, double *prefill_factor);

void plan_speed_estimate(const model_desc *m, const hw_info *hw, const plan_weights *w,
                         const plan_speed_span *spans, int n_spans, int64_t n_ctx, int64_t n_seq,
                         dtype kv_type, int64_t n_batch, plan_speed *out);

#endif
