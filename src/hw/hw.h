#ifndef RS_HW_HW_H
#define RS_HW_HW_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

// What a machine has: detected by hw_probe(), or described hypothetically
// (--gpu "RTX 4090x2", --ram 64G, --cpu-only) from the GPU table.

#define HW_MAX_GPUS 16
#define HW_GPU_CALIB_CLASSES 4 // = PLAN_WCLASS_N

typedef struct hw_gpu {
    char name[96];
    int index; // CUDA ordinal: NVML order, filtered and reordered by CUDA_VISIBLE_DEVICES
    uint64_t mem_total; // bytes
    uint64_t mem_free;
    uint64_t mem_used;
    int cc_major, cc_minor;        // compute capability, 0 when unknown
    double bandwidth_gbs;          // memory bandwidth, GB/s (1e9 bytes/s)
    double bandwidth_measured_gbs; // from `hw --measure` or the engine, 0 if never measured
    double tflops_bf16;            // dense bf16/fp16 tensor TFLOPS, 0 when unknown
    // `rightsize bench --device cuda` calibration per weight family (plan_wclass of
    // plan/memory.h): the measured time of a decode step and of a prefill chunk
    // over the speed model's own; 0 when never measured.
    double decode_calib[HW_GPU_CALIB_CLASSES], prefill_calib[HW_GPU_CALIB_CLASSES];
    bool unified_memory;           // Apple silicon: shares RAM with the CPU
    bool hypothetical;             // from the table (--gpu), not detected
} hw_gpu;

typedef struct hw_info {
    char cpu_model[128];
    int cpu_cores;   // physical cores available to this process
    int cpu_threads; // logical CPUs available to this process
    bool has_avx2, has_fma, has_avx512f, has_avx512bw, has_avx512vnni, has_avx512bf16, has_neon;
    double cpu_bandwidth_gbs; // measured or estimated; 0 when unknown
    double cpu_gflops;        // peak f32 GFLOPS: estimated, or calibrated by `bench` (below)
    bool cpu_gflops_measured; // cpu_gflops came from the measurement cache

    uint64_t ram_total;     // physical RAM
    uint64_t ram_available; // MemAvailable, capped by the cgroup limit
    uint64_t cgroup_limit;  // 0 when no limit applies
    bool ram_hypothetical;

    char driver_version[32]; // NVIDIA driver, "" without NVML
    char nvml_note[160];     // why no GPU was found, for the one-line note
    int n_gpus;
    hw_gpu gpus[HW_MAX_GPUS];
} hw_info;

// Probes this machine: CPU, RAM (honouring cgroup v1/v2 limits), NVIDIA GPUs
// through NVML opened with dlopen (RIGHTSIZE_NVML_LIB overrides the library
// path, which the tests use to load a fake NVML). Never fails for a missing
// driver: n_gpus is 0 and nvml_note says why.
rs_status hw_probe(hw_info *out, rs_error *err);

// The parts of hw_probe, each filling its own fields of out (tests call them
// one by one). The roots of /proc and of the cgroup hierarchy come from
// RIGHTSIZE_PROC_ROOT and RIGHTSIZE_CGROUP_ROOT when set (default /proc and
// /sys/fs/cgroup), so tests can build fake trees.
void hw_probe_cpu(hw_info *out);                        // src/hw/cpu.c
rs_status hw_probe_memory(hw_info *out, rs_error *err); // src/hw/memory.c
void hw_probe_nvidia(hw_info *out);                     // src/hw/nvidia.c

// The GPU memory NVML attributes to this process on the GPU of CUDA ordinal
// cuda_index (mapped through CUDA_VISIBLE_DEVICES as hw_probe_nvidia does):
// usedGpuMemory of nvmlDeviceGetComputeRunningProcesses (_v3, else _v2, else
// the unversioned one), summed over the records whose pid is getpid(). Fails,
// with the reason, when NVML does not know it: no driver, no such function,
// this process not listed (its PID namespace hides it), or
// NVML_VALUE_NOT_AVAILABLE. RIGHTSIZE_NVML_LIB as for hw_probe.
rs_status hw_nvml_process_gpu_memory(int cuda_index, uint64_t *bytes, rs_error *err);

// What-if hardware for `plan --ram 64G` / `--cpu-only` (the GPUs come from
// hw_set_hypothetical_gpus in gpu_table.h). hw_set_hypothetical_ram sets
// ram_total = ram_available = bytes and drops the cgroup limit.
void hw_set_hypothetical_ram(hw_info *hw, uint64_t bytes);
void hw_set_cpu_only(hw_info *hw); // no GPUs

// Memory bandwidth, measured by `rightsize hw --measure` and cached per
// machine in $XDG_CACHE_HOME/rightsize/measured.json (~/.cache/...), keyed
// by CPU model and thread count. Each returns 0 when never measured.
// hw_probe fills cpu_bandwidth_gbs and each GPU's bandwidth_measured_gbs
// from this cache.
double hw_cached_cpu_bandwidth(const hw_info *hw);
// The hook for the CUDA engine's device-to-device copy measurement: keyed
// by the GPU's name on this machine.
double hw_cached_gpu_bandwidth(const hw_info *hw, const char *gpu_name);
rs_status hw_cache_store_cpu_bandwidth(const hw_info *hw, double gbs, rs_error *err);
// The CPU's prefill GFLOPS that `rightsize bench` calibrated (0 if never).
double hw_cached_cpu_gflops(const hw_info *hw);
rs_status hw_cache_store_cpu_gflops(const hw_info *hw, double gflops, rs_error *err);
rs_status hw_cache_store_gpu_bandwidth(const hw_info *hw, const char *gpu_name, double gbs,
                                       rs_error *err);
// Any other figure of a GPU on this machine (the engine's speed calibration:
// "decode_calib_int8", ...): 0 when never stored.
double hw_cached_gpu_value(const hw_info *hw, const char *gpu_name, const char *key);
rs_status hw_cache_store_gpu_value(const hw_info *hw, const char *gpu_name, const char *key,
                                   double v, rs_error *err);
// Reads every GPU's speed calibration from the cache into decode_calib and
// prefill_calib (hw_probe does it; after a what-if GPU change, call again).
void hw_load_gpu_calibration(hw_info *hw);
// The families' names, in plan_wclass order: float, int8, kquant, deq.
const char *hw_gpu_calib_class_name(int wclass);
// The cache key of a calibration: "decode_calib_" or "prefill_calib_" + the
// family's name.
const char *hw_gpu_calib_key(char *buf, unsigned long n, bool prefill, int wclass);

// Path of the cache file (for messages); "" when neither XDG_CACHE_HOME nor HOME is set.
const char *hw_cache_path(char *buf, unsigned long n);

// Reads memory with all threads, best of `runs` runs over a buffer of
// `bytes` (>> last-level cache); returns GB/s, or fails (out of memory).
rs_status hw_measure_cpu_bandwidth(int threads, uint64_t bytes, int runs, double *gbs,
                                   rs_error *err);

// One line for headers of other commands' output, e.g.
// "AMD EPYC (2 threads), RAM 21.4 GiB available of 23.5 GiB, 2x NVIDIA
// GeForce RTX 4090 (24.0 GiB free each)" or "..., no GPU". Returns buf.
char *hw_summary(const hw_info *hw, char *buf, unsigned long n);

// The machine as JSON (schema: docs/hw-json.md); the caller owns the result
// (cJSON_Delete). NULL only when out of memory.
struct cJSON *hw_to_json(const hw_info *hw);

#endif
