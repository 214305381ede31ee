// rightsize hw [--json] [--measure] [--list-gpus] [--gpu NAME] [--ram SIZE] [--cpu-only]
// What this machine has: CPU, RAM (with its cgroup limit), NVIDIA GPUs.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/commands.h"
#include "engine/engine_gpu.h"
#include "hw/gpu_table.h"
#include "hw/hw.h"
#include "util/format.h"

static void hw_usage(FILE *out)
{
    fprintf(out, "usage: rightsize hw [--json] [--measure] [--list-gpus]\n"
                 "                    [--gpu NAME[xN]] [--ram SIZE] [--cpu-only]\n\n"
                 "  --json        machine-readable output (schema: docs/hw-json.md)\n"
                 "  --measure     measure the CPU's memory bandwidth and each GPU's device-to-device\n"
                 "                copy bandwidth, and cache them for plans\n"
                 "  --list-gpus   the GPU table used for what-if plans\n"
                 "  --gpu NAME    show a hypothetical machine: \"RTX 4090x2\", \"H100x8\"\n"
                 "  --ram SIZE    hypothetical RAM: 64G\n"
                 "  --cpu-only    ignore GPUs\n");
}

static void print_json(cJSON *root)
{
    char *text = root ? cJSON_Print(root) : NULL;
    if (text) puts(text);
    free(text);
    cJSON_Delete(root);
}

static int list_gpus(bool json)
{
    int n = gpu_table_count();
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; i < n; i++) {
            const gpu_spec *s = gpu_table_get(i);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "key", s->key);
            cJSON_AddStringToObject(o, "name", s->name);
            cJSON_AddStringToObject(o, "vendor", s->vendor);
            cJSON_AddNumberToObject(o, "mem_gib", s->mem_gib);
            cJSON_AddNumberToObject(o, "bandwidth_gbs", s->bandwidth_gbs);
            cJSON_AddNumberToObject(o, "tflops_bf16", s->tflops_bf16);
            cJSON_AddBoolToObject(o, "unified_memory", s->unified_memory);
            cJSON_AddStringToObject(o, "source", s->source);
            cJSON_AddItemToArray(arr, o);
        }
        print_json(arr);
        return 0;
    }
    printf("%-15s %-34s %7s %7s %8s\n", "key", "name", "GiB", "GB/s", "TFLOPS");
    for (int i = 0; i < n; i++) {
        const gpu_spec *s = gpu_table_get(i);
        printf("%-15s %-34.34s %7.0f %7.0f %8.1f%s\n", s->key, s->name, s->mem_gib,
               s->bandwidth_gbs, s->tflops_bf16, s->unified_memory ? " U" : "");
    }
    printf("\n%d rows. TFLOPS: dense bf16/fp16 tensor; U: unified memory (shared with the "
           "CPU).\nSources: data/gpus.json (`rightsize hw --list-gpus --json`).\n",
           n);
    return 0;
}

static void print_text(const hw_info *hw)
{
    char a[32], b[32], c[32];
    printf("CPU      %s\n", hw->cpu_model);
    printf("         %d cores, %d threads available to this process\n", hw->cpu_cores,
           hw->cpu_threads);
    char simd[160] = "";
    const struct {
        bool on;
        const char *name;
    } flags[] = {{hw->has_avx2, "avx2"},
                 {hw->has_fma, "fma"},
                 {hw->has_avx512f, "avx512f"},
                 {hw->has_avx512bw, "avx512bw"},
                 {hw->has_avx512vnni, "avx512vnni"},
                 {hw->has_avx512bf16, "avx512bf16"},
                 {hw->has_neon, "neon"}};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (flags[i].on) {
            strcat(simd, " ");
            strcat(simd, flags[i].name);
        }
    printf("         SIMD:%s\n", simd[0] ? simd : " none of avx2/fma/avx512/neon");
    const char *gflops_how = hw->cpu_gflops_measured ? "bench" : "est.";
    if (hw->cpu_bandwidth_gbs > 0)
        printf("         memory bandwidth %.1f GB/s (measured), f32 ~%.0f GFLOPS (%s)\n",
               hw->cpu_bandwidth_gbs, hw->cpu_gflops, gflops_how);
    else
        printf("         memory bandwidth not measured (rightsize hw --measure), f32\n"
               "         ~%.0f GFLOPS (%s)\n",
               hw->cpu_gflops, gflops_how);

    printf("RAM      %s total, %s available%s\n", format_bytes(a, sizeof a, hw->ram_total),
           format_bytes(b, sizeof b, hw->ram_available),
           hw->ram_hypothetical ? " (hypothetical)" : "");
    if (hw->cgroup_limit > 0)
        printf("         cgroup limit %s (available is capped by it)\n",
               format_bytes(c, sizeof c, hw->cgroup_limit));

    for (int i = 0; i < hw->n_gpus; i++) {
        const hw_gpu *g = &hw->gpus[i];
        printf("GPU %-4d %s%s\n", g->index, g->name, g->hypothetical ? " (hypothetical)" : "");
        printf("         %s total, %s free, %s used", format_bytes(a, sizeof a, g->mem_total),
               format_bytes(b, sizeof b, g->mem_free), format_bytes(c, sizeof c, g->mem_used));
        if (g->cc_major > 0) printf(", compute %d.%d", g->cc_major, g->cc_minor);
        printf("\n        ");
        if (g->bandwidth_gbs > 0) printf(" %.0f GB/s peak", g->bandwidth_gbs);
        if (g->bandwidth_measured_gbs > 0)
            printf(", %.0f GB/s measured", g->bandwidth_measured_gbs);
        if (g->tflops_bf16 > 0)
            printf("%s %.1f TFLOPS bf16", g->bandwidth_gbs > 0 ? "," : "", g->tflops_bf16);
        if (g->unified_memory) printf(", unified memory");
        printf("\n");
        for (int c = 0; c < HW_GPU_CALIB_CLASSES; c++)
            if (g->decode_calib[c] > 0 || g->prefill_calib[c] > 0)
                printf("         %s weights: decode x%.2f, prefill x%.2f of the speed model "
                       "(bench)\n",
                       hw_gpu_calib_class_name(c), g->decode_calib[c], g->prefill_calib[c]);
    }
    if (hw->driver_version[0]) printf("NVIDIA   driver %s\n", hw->driver_version);
    if (hw->n_gpus == 0)
        printf("GPUs     none%s%s\n", hw->nvml_note[0] ? ": " : "", hw->nvml_note);
    else if (hw->nvml_note[0])
        printf("note     %s\n", hw->nvml_note);
}

// Buffer for the bandwidth measurement: 512 MiB (far past any last-level
// cache of today), less when that would crowd the available RAM.
static uint64_t measure_bytes(const hw_info *hw)
{
    uint64_t b = UINT64_C(512) << 20;
    if (hw->ram_available / 4 < b) b = hw->ram_available / 4;
    if (b < (UINT64_C(64) << 20)) b = UINT64_C(64) << 20;
    return b;
}

int cmd_hw(int argc, char **argv)
{
    bool json = false, measure = false, list = false, cpu_only = false;
    const char *gpu = NULL, *ram = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--measure") == 0)
            measure = true;
        else if (strcmp(argv[i], "--list-gpus") == 0)
            list = true;
        else if (strcmp(argv[i], "--cpu-only") == 0)
            cpu_only = true;
        else if (strcmp(argv[i], "--gpu") == 0 && i + 1 < argc)
            gpu = argv[++i];
        else if (strcmp(argv[i], "--ram") == 0 && i + 1 < argc)
            ram = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            hw_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "rightsize hw: unknown option \"%s\"\n", argv[i]);
            hw_usage(stderr);
            return 2;
        }
    }
    if (list) return list_gpus(json);

    hw_info hw;
    rs_error err = {0};
    if (hw_probe(&hw, &err) != RS_OK) {
        fprintf(stderr, "rightsize hw: %s\n", err.msg);
        return err.status == RS_ERR_INPUT ? 2 : 1;
    }
    if (ram) {
        int64_t bytes = parse_bytes(ram);
        if (bytes <= 0) {
            fprintf(stderr, "rightsize hw: --ram \"%s\": expected a size like 64G\n", ram);
            return 2;
        }
        hw_set_hypothetical_ram(&hw, (uint64_t)bytes);
    }
    if (cpu_only) hw_set_cpu_only(&hw);
    if (gpu && hw_set_hypothetical_gpus(&hw, gpu, &err) != RS_OK) {
        fprintf(stderr, "rightsize hw: %s\n", err.msg);
        return 2;
    }
    if (measure) {
        uint64_t bytes = measure_bytes(&hw);
        char b[32], path[4096];
        if (!json)
            fprintf(stderr, "measuring memory bandwidth: %d threads reading %s, best of 5...\n",
                    hw.cpu_threads, format_bytes(b, sizeof b, bytes));
        double gbs = 0;
        if (hw_measure_cpu_bandwidth(hw.cpu_threads, bytes, 5, &gbs, &err) != RS_OK ||
            hw_cache_store_cpu_bandwidth(&hw, gbs, &err) != RS_OK) {
            fprintf(stderr, "rightsize hw: %s\n", err.msg);
            return 1;
        }
        hw.cpu_bandwidth_gbs = gbs;
        if (!json)
            fprintf(stderr, "measured %.1f GB/s, saved in %s\n", gbs,
                    hw_cache_path(path, sizeof path));
        // Each GPU's device-to-device copy (read + write counted), through
        // the CUDA engine, which stores it in the same cache for the plan.
        for (int i = 0; i < hw.n_gpus; i++) {
            hw_gpu *g = &hw.gpus[i];
            if (g->hypothetical) continue;
            double ggbs = 0;
            rs_error gerr = {0};
            if (engine_gpu_measure_bandwidth(g->index, &ggbs, &gerr) != RS_OK) {
                fprintf(stderr, "GPU %d: not measured: %s\n", g->index, gerr.msg);
                continue;
            }
            g->bandwidth_measured_gbs = ggbs;
            if (!json)
                fprintf(stderr, "GPU %d (%s): device-to-device copy %.1f GB/s, saved\n",
                        g->index, g->name, ggbs);
        }
    }
    if (json)
        print_json(hw_to_json(&hw));
    else
        print_text(&hw);
    return 0;
}
