// A fake libnvidia-ml.so for the tests: exports the NVML functions rightsize
// loads, describing the GPUs listed in the environment:
//   FAKE_NVML_GPUS="NAME:TOTAL_MIB:FREE_MIB:CC:BUS_BITS:MEM_CLOCK_MHZ;..."
//   FAKE_NVML_DRIVER="550.54.15"   (default "999.99")
//   FAKE_NVML_INIT_FAIL=1          nvmlInit_v2 fails (NVML_ERROR_DRIVER_NOT_LOADED)
//   FAKE_NVML_PROC_MIB="700,na,"   the memory of the calling process on each
//                                  GPU (NVML index order): MiB, "na" for
//                                  NVML_VALUE_NOT_AVAILABLE, empty or missing:
//                                  not listed. Every GPU also lists another
//                                  process (pid + 1, 1 GiB) ahead of it.
//   FAKE_NVML_PROC_API=v2|v1       the newer nvmlDeviceGetComputeRunningProcesses
//                                  versions answer NVML_ERROR_FUNCTION_NOT_FOUND
// Compiled with FAKE_NVML_NO_PROCS (target fake_nvml_noproc), it exports no
// nvmlDeviceGetComputeRunningProcesses at all, as drivers before R270.
// Built as a shared library (CMake target fake_nvml); the tests point
// RIGHTSIZE_NVML_LIB at it.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAKE_MAX 16
#define EXPORT   __attribute__((visibility("default")))

typedef struct fake_gpu {
    char name[96];
    unsigned long long total, free; // bytes
    int cc_major, cc_minor;
    unsigned bus_bits, mem_mhz;
} fake_gpu;

typedef struct fake_memory {
    unsigned long long total, free, used;
} fake_memory;

static fake_gpu gpus[FAKE_MAX];
static unsigned n_gpus;
static int initialized;

enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,
};

static void parse_env(void)
{
    n_gpus = 0;
    const char *env = getenv("FAKE_NVML_GPUS");
    if (!env) return;
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", env);
    char *save = NULL;
    for (char *item = strtok_r(copy, ";", &save); item && n_gpus < FAKE_MAX;
         item = strtok_r(NULL, ";", &save)) {
        fake_gpu *g = &gpus[n_gpus];
        unsigned long long total_mib, free_mib;
        char *colon = strchr(item, ':');
        if (!colon) continue;
        snprintf(g->name, sizeof g->name, "%.*s", (int)(colon - item), item);
        if (sscanf(colon + 1, "%llu:%llu:%d.%d:%u:%u", &total_mib, &free_mib, &g->cc_major,
                   &g->cc_minor, &g->bus_bits, &g->mem_mhz) != 6)
            continue;
        g->total = total_mib << 20;
        g->free = free_mib << 20;
        n_gpus++;
    }
}

EXPORT int nvmlInit_v2(void)
{
    const char *fail = getenv("FAKE_NVML_INIT_FAIL");
    if (fail && strcmp(fail, "1") == 0) return NVML_ERROR_DRIVER_NOT_LOADED;
    parse_env();
    initialized = 1;
    return NVML_SUCCESS;
}

EXPORT int nvmlShutdown(void)
{
    initialized = 0;
    return NVML_SUCCESS;
}

EXPORT const char *nvmlErrorString(int r)
{
    return r == NVML_ERROR_DRIVER_NOT_LOADED ? "Driver Not Loaded" : "Unknown Error";
}

EXPORT int nvmlSystemGetDriverVersion(char *buf, unsigned int n)
{
    const char *v = getenv("FAKE_NVML_DRIVER");
    snprintf(buf, n, "%s", v ? v : "999.99");
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceGetCount_v2(unsigned int *count)
{
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    *count = n_gpus;
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **dev)
{
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    if (i >= n_gpus) return NVML_ERROR_INVALID_ARGUMENT;
    *dev = &gpus[i];
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceGetName(void *dev, char *buf, unsigned int n)
{
    snprintf(buf, n, "%s", ((fake_gpu *)dev)->name);
    return NVML_SUCCESS;
}

// "GPU-fake-0000-<index>", so tests can select by UUID prefix.
EXPORT int nvmlDeviceGetUUID(void *dev, char *buf, unsigned int n)
{
    snprintf(buf, n, "GPU-fake-0000-%d", (int)((fake_gpu *)dev - gpus));
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceGetMemoryInfo(void *dev, fake_memory *m)
{
    fake_gpu *g = dev;
    m->total = g->total;
    m->free = g->free;
    m->used = g->total > g->free ? g->total - g->free : 0;
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceGetCudaComputeCapability(void *dev, int *major, int *minor)
{
    *major = ((fake_gpu *)dev)->cc_major;
    *minor = ((fake_gpu *)dev)->cc_minor;
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceGetMemoryBusWidth(void *dev, unsigned int *bits)
{
    *bits = ((fake_gpu *)dev)->bus_bits;
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceGetMaxClockInfo(void *dev, int type, unsigned int *mhz)
{
    if (type != 2) return NVML_ERROR_INVALID_ARGUMENT; // only NVML_CLOCK_MEM is faked
    *mhz = ((fake_gpu *)dev)->mem_mhz;
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_NO_PROCS
// nvmlProcessInfo_v2_t (also _v3's) and nvmlProcessInfo_v1_t.
typedef struct fake_proc_v2 {
    unsigned int pid;
    unsigned long long used;
    unsigned int gpu_instance, compute_instance;
} fake_proc_v2;
typedef struct fake_proc_v1 {
    unsigned int pid;
    unsigned long long used;
} fake_proc_v1;

// This process's figure on GPU index: 1 listed (*used set), 0 not listed.
static int self_used(int index, unsigned long long *used)
{
    const char *env = getenv("FAKE_NVML_PROC_MIB");
    if (!env) return 0;
    for (int i = 0; i < index; i++) {
        env = strchr(env, ',');
        if (!env) return 0;
        env++;
    }
    if (*env == '\0' || *env == ',') return 0;
    if (strncmp(env, "na", 2) == 0) {
        *used = 0xFFFFFFFFFFFFFFFFULL; // NVML_VALUE_NOT_AVAILABLE
        return 1;
    }
    *used = strtoull(env, NULL, 10) << 20;
    return 1;
}

// Lists the other process, then this one when FAKE_NVML_PROC_MIB says so;
// level is the function's version (3, 2, 1 = unversioned).
static int running_processes(void *dev, unsigned int *count, void *infos, int level)
{
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    const char *api = getenv("FAKE_NVML_PROC_API");
    int top = api && strcmp(api, "v1") == 0 ? 1 : api && strcmp(api, "v2") == 0 ? 2 : 3;
    if (level > top) return NVML_ERROR_FUNCTION_NOT_FOUND;
    unsigned int pids[2] = {(unsigned)getpid() + 1, (unsigned)getpid()};
    unsigned long long used[2] = {1ULL << 30, 0};
    unsigned int n = 1 + (unsigned)self_used((int)((fake_gpu *)dev - gpus), &used[1]);
    if (*count < n) {
        *count = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (unsigned int i = 0; i < n; i++) {
        if (level == 1)
            ((fake_proc_v1 *)infos)[i] = (fake_proc_v1){pids[i], used[i]};
        else
            ((fake_proc_v2 *)infos)[i] = (fake_proc_v2){pids[i], used[i], 0, 0};
    }
    *count = n;
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceGetComputeRunningProcesses_v3(void *dev, unsigned int *count, void *infos)
{
    return running_processes(dev, count, infos, 3);
}

EXPORT int nvmlDeviceGetComputeRunningProcesses_v2(void *dev, unsigned int *count, void *infos)
{
    return running_processes(dev, count, infos, 2);
}

EXPORT int nvmlDeviceGetComputeRunningProcesses(void *dev, unsigned int *count, void *infos)
{
    return running_processes(dev, count, infos, 1);
}
#endif
