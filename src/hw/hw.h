#ifndef RS_HW_HW_H
#define RS_HW_HW_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

// What a machine has: detected by hw_probe(), or described hypothetically
// (--gpu "RTX 4090x2", --ram 64G, --cpu-only) from the GPU table.

#define HW_MAX_GPUS 16

typedef struct hw_gpu {
    char name[96];
    int index;
    uint64_t mem_total; // bytes
    uint64_t mem_free;
    uint64_t mem_used;
    int cc_major, cc_minor;   // compute capability, 0 when unknown
    double bandwidth_gbs;     // memory bandwidth, GB/s (1e9 bytes/s)
    double bandwidth_measured_gbs; // from `hw --measure` or the engine, 0 if never measured
    double tflops_bf16;       // dense bf16/fp16 tensor TFLOPS, 0 when unknown
    bool unified_memory;      // Apple silicon: shares RAM with the CPU
    bool hypothetical;        // from the table (--gpu), not detected
} hw_gpu;

typedef struct hw_info {
    char cpu_model[128];
    int cpu_cores;   // physical cores available to this process
    int cpu_threads; // logical CPUs available to this process
    bool has_avx2, has_fma, has_avx512f, has_avx512bw, has_avx512vnni, has_avx512bf16, has_neon;
    double cpu_bandwidth_gbs; // measured or estimated; 0 when unknown
    double cpu_gflops;        // estimated peak f32 GFLOPS

    uint64_t ram_total;      // physical RAM
    uint64_t ram_available;  // MemAvailable, capped by the cgroup limit
    uint64_t cgroup_limit;   // 0 when no limit applies
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

#endif
