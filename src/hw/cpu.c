// CPU probe: model name, the logical CPUs and physical cores this process
// may use (affinity mask, then a cgroup CPU quota), SIMD features, and a
// rough peak f32 FLOPS estimate for the speed model.
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/hw.h"
#include "hw/hw_internal.h"

// "model name : AMD EPYC 7R13" (x86) or "Model : Raspberry Pi" / "CPU part"
// (arm), copied trimmed. Leaves out untouched when nothing matches.
static void read_cpu_model(char *out, size_t n)
{
    char path[4096];
    hw_proc_path(path, sizeof path, "cpuinfo");
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0 && strncmp(line, "Model", 5) != 0) continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        char *v = colon + 1;
        while (isspace((unsigned char)*v))
            v++;
        size_t len = strlen(v);
        while (len > 0 && isspace((unsigned char)v[len - 1]))
            v[--len] = '\0';
        if (len == 0) continue;
        snprintf(out, n, "%s", v);
        break;
    }
    fclose(f);
}

// "cpu cores : 8" from cpuinfo, 0 when absent.
static int read_cpuinfo_cores(void)
{
    char path[4096];
    hw_proc_path(path, sizeof path, "cpuinfo");
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[1024];
    int cores = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "cpu cores", 9) != 0) continue;
        char *colon = strchr(line, ':');
        if (colon) cores = atoi(colon + 1);
        break;
    }
    fclose(f);
    return cores;
}

static long read_long_file(const char *path, long fallback)
{
    FILE *f = fopen(path, "r");
    if (!f) return fallback;
    long v;
    if (fscanf(f, "%ld", &v) != 1) v = fallback;
    fclose(f);
    return v;
}

// Physical cores among the CPUs of the affinity mask: distinct
// (package, core) pairs from sysfs topology. 0 when sysfs says nothing.
static int count_physical_cores(const cpu_set_t *set)
{
    enum { MAX_PAIRS = 1024 };
    long pairs[MAX_PAIRS][2]; // (package, core) seen so far
    int n_pairs = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, set)) continue;
        char path[256];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        long core = read_long_file(path, -1);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id",
                 cpu);
        long pkg = read_long_file(path, 0);
        if (core < 0) return 0;
        int seen = 0;
        for (int i = 0; i < n_pairs && !seen; i++)
            seen = pairs[i][0] == pkg && pairs[i][1] == core;
        if (!seen && n_pairs < MAX_PAIRS) {
            pairs[n_pairs][0] = pkg;
            pairs[n_pairs][1] = core;
            n_pairs++;
        }
    }
    return n_pairs;
}

// Peak f32 FLOPS per cycle per core, assumed: two 256-bit FMA pipes on
// AVX2+FMA cores (Haswell onwards, Zen 2 onwards) = 2 pipes x 8 lanes x 2;
// AVX-512 cores vary between one and two 512-bit pipes, so they get the same
// 32 (the conservative one-pipe figure); NEON: two 128-bit pipes = 16;
// anything else: one 128-bit SSE add and multiply = 8.
static double flops_per_cycle(const hw_info *hw)
{
    if (hw->has_avx2 && hw->has_fma) return 32;
    if (hw->has_neon) return 16;
    return 8;
}

// Highest clock in GHz: cpufreq's cpuinfo_max_freq (kHz), else cpuinfo's
// "cpu MHz", else 2.5 (a typical server base clock).
static double max_clock_ghz(void)
{
    long khz = read_long_file("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", 0);
    if (khz > 0) return khz / 1e6;
    char path[4096];
    hw_proc_path(path, sizeof path, "cpuinfo");
    FILE *f = fopen(path, "r");
    double mhz = 0;
    if (f) {
        char line[1024];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "cpu MHz", 7) != 0) continue;
            char *colon = strchr(line, ':');
            if (colon) mhz = atof(colon + 1);
            break;
        }
        fclose(f);
    }
    return mhz > 100 ? mhz / 1000 : 2.5;
}

static void probe_simd(hw_info *out)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    out->has_avx2 = __builtin_cpu_supports("avx2");
    out->has_fma = __builtin_cpu_supports("fma");
    out->has_avx512f = __builtin_cpu_supports("avx512f");
    out->has_avx512bw = __builtin_cpu_supports("avx512bw");
    out->has_avx512vnni = __builtin_cpu_supports("avx512vnni");
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
    out->has_avx512bf16 = __builtin_cpu_supports("avx512bf16");
#else
    out->has_avx512bf16 = hw_cpuinfo_has_flag("avx512_bf16");
#endif
#elif defined(__aarch64__)
    out->has_neon = true; // Advanced SIMD is mandatory in AArch64
#endif
}

bool hw_cpuinfo_has_flag(const char *flag)
{
    char path[4096];
    hw_proc_path(path, sizeof path, "cpuinfo");
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[8192];
    bool found = false;
    size_t len = strlen(flag);
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0) continue;
        for (char *p = strstr(line, flag); p && !found; p = strstr(p + 1, flag))
            found =
                (p == line || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\n' || p[len] == '\0');
        break;
    }
    fclose(f);
    return found;
}

void hw_probe_cpu(hw_info *out)
{
    snprintf(out->cpu_model, sizeof out->cpu_model, "unknown CPU");
    read_cpu_model(out->cpu_model, sizeof out->cpu_model);

    cpu_set_t set;
    CPU_ZERO(&set);
    int threads = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0) threads = CPU_COUNT(&set);
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
        CPU_ZERO(&set);
        for (int i = 0; i < threads && i < CPU_SETSIZE; i++)
            CPU_SET(i, &set);
    }
    int cores = count_physical_cores(&set);
    if (cores <= 0) cores = read_cpuinfo_cores();
    if (cores <= 0 || cores > threads) cores = threads;

    // A CPU quota (cgroup cpu.max "200000 100000" = 2 CPUs) caps how much
    // of the mask we can really use: round up, a fraction is still a thread.
    double quota = hw_cgroup_cpu_quota();
    if (quota > 0) {
        int q = (int)ceil(quota - 1e-9);
        if (q < 1) q = 1;
        if (q < threads) threads = q;
        if (q < cores) cores = q;
    }
    out->cpu_threads = threads;
    out->cpu_cores = cores;

    probe_simd(out);
    out->cpu_gflops = cores * max_clock_ghz() * flops_per_cycle(out);
}
