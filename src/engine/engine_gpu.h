#ifndef RS_ENGINE_ENGINE_GPU_H
#define RS_ENGINE_ENGINE_GPU_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/cpu/threadpool.h"
#include "engine/forward.h"
#include "engine/model_weights.h"
#include "model/model.h"
#include "plan/memory.h"
#include "util/error.h"

// The engine's GPU placement: the first n_gpu_layers blocks (with the
// embedding, and the head when every block is there) on one CUDA device
// through librightsize_cuda.so, the rest on the CPU, the activations of
// each chunk copied between them.

typedef struct engine_gpu engine_gpu;

// Most GPUs one engine spreads its blocks over (--split).
#define ENGINE_GPU_MAX 8

typedef struct engine_gpu_info {
    int device;
    char name[96];
    int64_t layer_first;  // the first block on this device
    int64_t n_gpu_layers; // blocks on it (engine_gpu_info_get: on all GPUs together)
    // Allocated on the device, and what the plan (plan/memory.h) counts for it.
    uint64_t weights, kv, compute;
    uint64_t plan_weights, plan_kv, plan_compute, plan_overhead;
    uint64_t free_before, free_after, total; // cudaMemGetInfo around the load
} engine_gpu_info;

typedef struct engine_gpu_params {
    int device;           // CUDA ordinal
    plan_precision precision; // for the plan's weight figure
    int64_t n_gpu_layers; // < 0 or > n_layer: all
    // --split: blocks per GPU, devices device, device + 1, ... in layer
    // order (the activations of each chunk pass through host memory), the
    // rest on the CPU; n_split 0: n_gpu_layers on `device` alone.
    int n_split;
    int64_t split[ENGINE_GPU_MAX];
    int64_t n_ctx, n_batch;
    bool logits_all;
    const float *inv_freq; // (rope_dim / 2)
} engine_gpu_params;

// Loads the GPU share. When the CUDA library or a driver is missing, returns
// RS_OK with *out NULL and a one-line note (the engine stays on the CPU);
// other failures (out of GPU memory, an unsupported type) are errors.
rs_status engine_gpu_open(const model_desc *m, const forward_config *cfg, const model_weights *w,
                          const engine_gpu_params *p, engine_gpu **out, char *note, size_t note_n,
                          rs_error *err);
void engine_gpu_free(engine_gpu *g);

// forward_batch with the first blocks on the GPU.
rs_status engine_gpu_forward(engine_gpu *g, const forward_config *cfg, const model_weights *w,
                             kv_cache *kv, run_state *s, thread_pool *pool, const int32_t *tokens,
                             int64_t n, int64_t pos, rs_error *err);

// Device 0's figures, with n_gpu_layers counting the blocks of every GPU.
void engine_gpu_info_get(const engine_gpu *g, engine_gpu_info *out);
// Each device's figures (at most max), in layer order; returns how many.
int engine_gpu_parts(const engine_gpu *g, engine_gpu_info *out, int max);

// Free and total memory of a CUDA device now (cudaMemGetInfo), for the
// planned-vs-measured figures after a run (bench).
rs_status engine_gpu_device_memory(int device, uint64_t *free_b, uint64_t *total_b, rs_error *err);

// Device-to-device copy bandwidth of a CUDA device (GB/s, read + write
// counted), stored in the hw cache (hw_cache_store_gpu_bandwidth) for the
// speed model.
rs_status engine_gpu_measure_bandwidth(int device, double *gbs, rs_error *err);

// Whether an engine (engine.h) runs blocks on a GPU, and where (engine.c).
struct engine;
bool engine_on_gpu(const struct engine *e, engine_gpu_info *out);
// Every GPU of an engine (engine_gpu_parts); 0 on the CPU.
int engine_gpu_devices(const struct engine *e, engine_gpu_info *out, int max);

#endif
