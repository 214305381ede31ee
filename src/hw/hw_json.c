// hw_info as JSON; the schema is documented in docs/hw-json.md.
#include <stdio.h>

#include <cjson/cJSON.h>

#include "hw/hw.h"

static cJSON *num_or_null(double v)
{
    return v > 0 ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *cpu_json(const hw_info *hw)
{
    cJSON *cpu = cJSON_CreateObject();
    cJSON_AddStringToObject(cpu, "model", hw->cpu_model);
    cJSON_AddNumberToObject(cpu, "cores", hw->cpu_cores);
    cJSON_AddNumberToObject(cpu, "threads", hw->cpu_threads);
    cJSON *simd = cJSON_AddArrayToObject(cpu, "simd");
    const struct {
        bool on;
        const char *name;
    } flags[] = {
        {hw->has_avx2, "avx2"},
        {hw->has_fma, "fma"},
        {hw->has_avx512f, "avx512f"},
        {hw->has_avx512bw, "avx512bw"},
        {hw->has_avx512vnni, "avx512vnni"},
        {hw->has_avx512bf16, "avx512bf16"},
        {hw->has_neon, "neon"},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (flags[i].on) cJSON_AddItemToArray(simd, cJSON_CreateString(flags[i].name));
    cJSON_AddItemToObject(cpu, "bandwidth_gbs", num_or_null(hw->cpu_bandwidth_gbs));
    cJSON_AddItemToObject(cpu, "gflops_estimate", num_or_null(hw->cpu_gflops));
    return cpu;
}

static cJSON *ram_json(const hw_info *hw)
{
    cJSON *ram = cJSON_CreateObject();
    cJSON_AddNumberToObject(ram, "total_bytes", (double)hw->ram_total);
    cJSON_AddNumberToObject(ram, "available_bytes", (double)hw->ram_available);
    cJSON_AddItemToObject(ram, "cgroup_limit_bytes", num_or_null((double)hw->cgroup_limit));
    cJSON_AddBoolToObject(ram, "hypothetical", hw->ram_hypothetical);
    return ram;
}

static cJSON *gpu_json(const hw_gpu *g)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", g->index);
    cJSON_AddStringToObject(o, "name", g->name);
    cJSON_AddNumberToObject(o, "mem_total_bytes", (double)g->mem_total);
    cJSON_AddNumberToObject(o, "mem_free_bytes", (double)g->mem_free);
    cJSON_AddNumberToObject(o, "mem_used_bytes", (double)g->mem_used);
    if (g->cc_major > 0) {
        char cc[16];
        snprintf(cc, sizeof cc, "%d.%d", g->cc_major, g->cc_minor);
        cJSON_AddStringToObject(o, "compute_capability", cc);
    } else {
        cJSON_AddNullToObject(o, "compute_capability");
    }
    cJSON_AddItemToObject(o, "bandwidth_gbs", num_or_null(g->bandwidth_gbs));
    cJSON_AddItemToObject(o, "bandwidth_measured_gbs", num_or_null(g->bandwidth_measured_gbs));
    cJSON_AddItemToObject(o, "tflops_bf16", num_or_null(g->tflops_bf16));
    cJSON *cal = cJSON_AddObjectToObject(o, "speed_calibration");
    for (int c = 0; cal && c < HW_GPU_CALIB_CLASSES; c++) {
        if (!(g->decode_calib[c] > 0) && !(g->prefill_calib[c] > 0)) continue;
        cJSON *f = cJSON_AddObjectToObject(cal, hw_gpu_calib_class_name(c));
        cJSON_AddItemToObject(f, "decode", num_or_null(g->decode_calib[c]));
        cJSON_AddItemToObject(f, "prefill", num_or_null(g->prefill_calib[c]));
    }
    cJSON_AddBoolToObject(o, "unified_memory", g->unified_memory);
    cJSON_AddBoolToObject(o, "hypothetical", g->hypothetical);
    return o;
}

cJSON *hw_to_json(const hw_info *hw)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddItemToObject(root, "cpu", cpu_json(hw));
    cJSON_AddItemToObject(root, "ram", ram_json(hw));
    cJSON *nv = cJSON_AddObjectToObject(root, "nvidia");
    if (hw->driver_version[0])
        cJSON_AddStringToObject(nv, "driver_version", hw->driver_version);
    else
        cJSON_AddNullToObject(nv, "driver_version");
    if (hw->nvml_note[0])
        cJSON_AddStringToObject(nv, "note", hw->nvml_note);
    else
        cJSON_AddNullToObject(nv, "note");
    cJSON *gpus = cJSON_AddArrayToObject(root, "gpus");
    for (int i = 0; i < hw->n_gpus && i < HW_MAX_GPUS; i++)
        cJSON_AddItemToArray(gpus, gpu_json(&hw->gpus[i]));
    return root;
}
