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
// the spec sheet where nonzero.

// Fraction of the spec-sheet bandwidth a decode step achieves on a GPU:
// llama.cpp decodes Qwen2.5-7B bf16 on an H100 SXM (3350 GB/s) at 166 tok/s,
// 15.2 GB x 166 = 2.53 TB/s = 0.75 of the spec.
#define PLAN_EFF_GPU_DECODE_SPEC     0.75
// The same run against the card's measured device-to-device copy
// bandwidth (2.9-3.0 TB/s): 0.85.
#define PLAN_EFF_GPU_DECODE_MEASURED 0.85
// Fraction of the measured (or estimated) CPU bandwidth a decode step reaches.
#define PLAN_EFF_CPU_DECODE          0.80
// Fraction of dense bf16 tensor TFLOPS reached by prefill: llama.cpp
// prefills the 7B at 24,300 tok/s on an H100 (2 x 7.6e9 x 24,300 = 370
// TFLOPS of 989): 0.37, rounded to 0.4.
#define PLAN_EFF_GPU_PREFILL         0.40
// Fraction of the CPU's peak f32 GFLOPS reached by prefill.
#define PLAN_EFF_CPU_PREFILL         0.50
// When the CPU's bandwidth was never measured: per physical core, capped.
#define PLAN_CPU_BW_PER_CORE_GBS     10.0
#define PLAN_CPU_BW_MAX_GBS          200.0
// When hw_info has no GFLOPS figure: per physical core (8-wide FMA x 2 units
// x 2 flops x ~2 GHz).
#define PLAN_CPU_GFLOPS_PER_CORE     64.0

// Between two devices of a split the residual stream of each step passes
// through host memory (engine_gpu.c: device to host, host to device). Run 6
// of bench/results/cuda.md: Qwen2.5-3B decodes at 260.9 tok/s on one H200
// and 256.1 with --split 18,18 over two, 72 us more per token for one hop;
// the bytes (n_embd f32 per token) cross a PCIe link, about 25 GB/s for
// PCIe 4.0 x16.
#define PLAN_HOP_LATENCY_S  70e-6
#define PLAN_HOST_LINK_GBS  25.0

typedef struct plan_speed_part {
    bool gpu;
    int gpu_index;            // into hw->gpus, -1 for the CPU
    double bandwidth_gbs;     // effective: efficiency x (measured or spec)
    bool bandwidth_measured;  // calibrated by a measurement
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
    int n_hops;               // device changes per step (spans - 1)
    double hop_s;             // seconds they add to a decode step (in decode_tps)
} plan_speed;

// Effective decode bandwidth of a device, GB/s (gpu_index -1: the CPU).
double plan_device_bandwidth(const hw_info *hw, int gpu_index, bool *measured);
double plan_device_flops(const hw_info *hw, int gpu_index);

// One device's share of the model for the speed model.
typedef struct plan_speed_span {
    int gpu_index;          // -1 for the CPU
    int64_t layer_first, layer_last;
    bool has_output;        // the output head runs here
} plan_speed_span;

void plan_speed_estimate(const model_desc *m, const hw_info *hw, const plan_weights *w,
                         const plan_speed_span *spans, int n_spans, int64_t n_ctx, int64_t n_seq,
                         dtype kv_type, int64_t n_batch, plan_speed *out);

#endif
