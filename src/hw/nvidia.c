// NVIDIA GPUs through NVML, opened with dlopen so that the binary starts
// and works on machines without the driver. Only the handful of NVML
// functions below are used; their types are declared here (from nvml.h,
// whose ABI is stable across driver releases) so no CUDA headers are needed.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/gpu_table.h"
#include "hw/hw.h"
#include "hw/hw_internal.h"

typedef int nvml_return; // nvmlReturn_t; NVML_SUCCESS = 0
typedef struct nvml_device_st *nvml_device;
typedef struct nvml_memory {
    unsigned long long total, free, used; // bytes
} nvml_memory;
enum {
    NVML_SUCCESS = 0,
    NVML_CLOCK_MEM = 2, // nvmlClockType_t NVML_CLOCK_MEM
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,
};
#define NVML_VALUE_NOT_AVAILABLE 0xFFFFFFFFFFFFFFFFULL // usedGpuMemory unknown (nvml.h)

typedef struct nvml_api {
    nvml_return (*init)(void);
    nvml_return (*shutdown)(void);
    const char *(*error_string)(nvml_return);
    nvml_return (*driver_version)(char *, unsigned int);
    nvml_return (*count)(unsigned int *);
    nvml_return (*handle)(unsigned int, nvml_device *);
    nvml_return (*name)(nvml_device, char *, unsigned int);
    nvml_return (*memory)(nvml_device, nvml_memory *);
    nvml_return (*cc)(nvml_device, int *, int *);
    nvml_return (*bus_width)(nvml_device, unsigned int *);
    nvml_return (*max_clock)(nvml_device, int, unsigned int *);
    nvml_return (*uuid)(nvml_device, char *, unsigned int);
} nvml_api;

// Loads each symbol; false (with the missing name in note) when a required
// one is absent. error_string, bus_width and max_clock are optional (old
// drivers lack the bus width; then the bandwidth comes from the table).
static bool nvml_resolve(void *lib, nvml_api *api, char *note, size_t n)
{
#define NVML_SYM(field, sym, required)                                                             \
    do {                                                                                           \
        *(void **)&api->field = dlsym(lib, sym);                                                   \
        if (!api->field && (required)) {                                                           \
            snprintf(note, n, "NVML lacks %s (driver too old?)", sym);                             \
            return false;                                                                          \
        }                                                                                          \
    } while (0)
    NVML_SYM(init, "nvmlInit_v2", true);
    NVML_SYM(shutdown, "nvmlShutdown", true);
    NVML_SYM(error_string, "nvmlErrorString", false);
    NVML_SYM(driver_version, "nvmlSystemGetDriverVersion", false);
    NVML_SYM(count, "nvmlDeviceGetCount_v2", true);
    NVML_SYM(handle, "nvmlDeviceGetHandleByIndex_v2", true);
    NVML_SYM(name, "nvmlDeviceGetName", true);
    NVML_SYM(memory, "nvmlDeviceGetMemoryInfo", true);
    NVML_SYM(cc, "nvmlDeviceGetCudaComputeCapability", false);
    NVML_SYM(bus_width, "nvmlDeviceGetMemoryBusWidth", false);
    NVML_SYM(max_clock, "nvmlDeviceGetMaxClockInfo", false);
    NVML_SYM(uuid, "nvmlDeviceGetUUID", false);
#undef NVML_SYM
    return true;
}

// Peak memory bandwidth in GB/s: bus width in bytes x memory clock x 2
// transfers per clock (double data rate; NVML's memory clock for GDDR6X and
// HBM is already the rate that makes this formula hold: H100 SXM 5120 bits
// at 2619 MHz gives 3352 GB/s, the RTX 4090's 384 bits at 10501 MHz 1008).
double hw_nvidia_bandwidth_gbs(unsigned bus_width_bits, unsigned mem_clock_mhz)
{
    return (double)bus_width_bits / 8.0 * (double)mem_clock_mhz * 1e6 * 2.0 / 1e9;
}

static const char *nvml_err(const nvml_api *api, nvml_return r)
{
    static char buf[32];
    if (api->error_string) {
        const char *s = api->error_string(r);
        if (s) return s;
    }
    snprintf(buf, sizeof buf, "error %d", r);
    return buf;
}

static void probe_device(const nvml_api *api, unsigned idx, nvml_device dev, hw_gpu *g)
{
    memset(g, 0, sizeof *g);
    g->index = (int)idx;
    if (api->name(dev, g->name, sizeof g->name) != NVML_SUCCESS)
        snprintf(g->name, sizeof g->name, "NVIDIA GPU %u", idx);
    g->name[sizeof g->name - 1] = '\0';
    nvml_memory mem;
    if (api->memory(dev, &mem) == NVML_SUCCESS) {
        g->mem_total = mem.total;
        g->mem_free = mem.free;
        g->mem_used = mem.used;
    }
    if (api->cc) {
        int major = 0, minor = 0;
        if (api->cc(dev, &major, &minor) == NVML_SUCCESS) {
            g->cc_major = major;
            g->cc_minor = minor;
        }
    }
    unsigned width = 0, clock = 0;
    if (api->bus_width && api->max_clock && api->bus_width(dev, &width) == NVML_SUCCESS &&
        api->max_clock(dev, NVML_CLOCK_MEM, &clock) == NVML_SUCCESS && width > 0 && clock > 0)
        g->bandwidth_gbs = hw_nvidia_bandwidth_gbs(width, clock);
    // NVML reports no FLOPS; the table knows them (and the bandwidth when
    // the driver does not report bus width).
    const gpu_spec *spec = gpu_table_find(g->name);
    if (spec) {
        g->tflops_bf16 = spec->tflops_bf16;
        if (g->bandwidth_gbs <= 0) g->bandwidth_gbs = spec->bandwidth_gbs;
    }
}

// CUDA_VISIBLE_DEVICES decides which GPUs the engine's CUDA can use and
// their ordinals, but NVML ignores it; the plan must not count a hidden
// card. Entries are NVML indices or UUIDs ("GPU-8c1d...", a unique prefix
// suffices); as in CUDA, the list ends at the first entry that names no
// device. map[k] = the position in all of CUDA ordinal k; returns how many.
static int visible_map(const hw_gpu *all, char (*uuids)[96], int n_all, const char *visible,
                       int map[HW_MAX_GPUS])
{
    int n = 0;
    if (!visible) {
        for (int i = 0; i < n_all && i < HW_MAX_GPUS; i++)
            map[n++] = i;
        return n;
    }
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", visible);
    bool used[HW_MAX_GPUS] = {false};
    for (char *tok = copy, *next; tok && n < HW_MAX_GPUS; tok = next) {
        next = strchr(tok, ',');
        if (next) *next++ = '\0';
        while (*tok == ' ')
            tok++;
        size_t len = strlen(tok);
        while (len > 0 && tok[len - 1] == ' ')
            tok[--len] = '\0';
        int hit = -1;
        char *end;
        long idx = strtol(tok, &end, 10);
        if (len > 0 && *end == '\0') {
            for (int i = 0; i < n_all && hit < 0; i++)
                if (all[i].index == idx) hit = i;
        } else if (len > 4) { // a UUID or a unique prefix of one
            for (int i = 0; i < n_all; i++)
                if (strncmp(uuids[i], tok, len) == 0) {
                    if (hit >= 0) {
                        hit = -1;
                        break;
                    }
                    hit = i;
                }
        }
        if (hit < 0 || used[hit]) break;
        used[hit] = true;
        map[n++] = hit;
    }
    return n;
}

// The GPUs kept take their CUDA ordinal as index.
void hw_nvidia_apply_visible(const hw_gpu *all, char (*uuids)[96], int n_all, const char *visible,
                             hw_info *out)
{
    int map[HW_MAX_GPUS];
    out->n_gpus = visible_map(all, uuids, n_all, visible, map);
    for (int k = 0; k < out->n_gpus; k++) {
        out->gpus[k] = all[map[k]];
        out->gpus[k].index = k;
    }
    if (visible && out->n_gpus < n_all)
        snprintf(out->nvml_note, sizeof out->nvml_note,
                 "CUDA_VISIBLE_DEVICES=\"%.60s\": %d of %d GPUs visible", visible, out->n_gpus,
                 n_all);
}

// Opens NVML (RIGHTSIZE_NVML_LIB or the driver's library) and starts it;
// false with the reason in note when there is none to use.
static bool nvml_open(nvml_api *api, void **lib_out, char *note, size_t n)
{
    const char *path = getenv("RIGHTSIZE_NVML_LIB");
    if (!path || !*path) path = "libnvidia-ml.so.1";
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(note, n, "no NVIDIA driver (%s not found)", path);
        return false;
    }
    memset(api, 0, sizeof *api);
    if (!nvml_resolve(lib, api, note, n)) {
        dlclose(lib);
        return false;
    }
    nvml_return r = api->init();
    if (r != NVML_SUCCESS) {
        snprintf(note, n, "NVML failed to start: %s", nvml_err(api, r));
        dlclose(lib);
        return false;
    }
    *lib_out = lib;
    return true;
}

void hw_probe_nvidia(hw_info *out)
{
    out->n_gpus = 0;
    out->driver_version[0] = '\0';
    out->nvml_note[0] = '\0';
    nvml_api api;
    void *lib = NULL;
    if (!nvml_open(&api, &lib, out->nvml_note, sizeof out->nvml_note)) return;
    nvml_return r;
    if (api.driver_version &&
        api.driver_version(out->driver_version, sizeof out->driver_version) != NVML_SUCCESS)
        out->driver_version[0] = '\0';
    out->driver_version[sizeof out->driver_version - 1] = '\0';

    unsigned count = 0;
    r = api.count(&count);
    if (r != NVML_SUCCESS) {
        snprintf(out->nvml_note, sizeof out->nvml_note, "NVML cannot count GPUs: %s",
                 nvml_err(&api, r));
        count = 0;
    }
    if (count > HW_MAX_GPUS) {
        snprintf(out->nvml_note, sizeof out->nvml_note, "%u GPUs found; only the first %d are used",
                 count, HW_MAX_GPUS);
        count = HW_MAX_GPUS;
    }
    // Every GPU NVML sees, in NVML (PCI bus) order, with its UUID.
    hw_gpu all[HW_MAX_GPUS];
    char uuids[HW_MAX_GPUS][96];
    int n_all = 0;
    for (unsigned i = 0; i < count; i++) {
        nvml_device dev = NULL;
        r = api.handle(i, &dev);
        if (r != NVML_SUCCESS) {
            // A GPU we may not access (another container's): skip it, say so.
            snprintf(out->nvml_note, sizeof out->nvml_note, "GPU %u not accessible: %s", i,
                     nvml_err(&api, r));
            continue;
        }
        probe_device(&api, i, dev, &all[n_all]);
        uuids[n_all][0] = '\0';
        if (api.uuid && api.uuid(dev, uuids[n_all], sizeof uuids[n_all]) != NVML_SUCCESS)
            uuids[n_all][0] = '\0';
        uuids[n_all][sizeof uuids[n_all] - 1] = '\0';
        n_all++;
    }
    hw_nvidia_apply_visible(all, uuids, n_all, getenv("CUDA_VISIBLE_DEVICES"), out);
    if (count == 0 && !out->nvml_note[0])
        snprintf(out->nvml_note, sizeof out->nvml_note, "NVIDIA driver %s reports no GPUs",
                 out->driver_version[0] ? out->driver_version : "(unknown version)");
    api.shutdown();
    dlclose(lib);
}

// nvmlDeviceGetComputeRunningProcesses fills an array of process records
// whose first fields are { unsigned pid; unsigned long long usedGpuMemory; }
// (offsets 0 and 8) in every version; the record size is what differs:
// nvmlProcessInfo_v1_t (unversioned) 16 bytes, _v2 24 (+ GPU and compute
// instance ids); _v3 takes the v2 record, except that R535 drivers' first
// _v3 wrote 32 (+ usedGpuCcProtectedMemory). The figure is looked for at the
// version's record size first, then at the others.
typedef nvml_return (*nvml_procs_fn)(nvml_device, unsigned int *, void *);
static const struct {
    const char *sym;
    size_t stride;
} nvml_procs_syms[] = {
    {"nvmlDeviceGetComputeRunningProcesses_v3", 24},
    {"nvmlDeviceGetComputeRunningProcesses_v2", 24},
    {"nvmlDeviceGetComputeRunningProcesses", 16},
};
#define NVML_PROCS_MAX_RECORD 32

// Sums this process's usedGpuMemory over the n records of buf, read at
// stride; false when no record is this process's. *na: one was, but NVML
// has no figure for it.
static bool procs_find(const unsigned char *buf, unsigned n, size_t stride, unsigned pid,
                       uint64_t *sum, bool *na)
{
    bool found = false;
    *sum = 0;
    *na = false;
    for (unsigned i = 0; i < n; i++) {
        unsigned p;
        unsigned long long used;
        memcpy(&p, buf + (size_t)i * stride, sizeof p);
        memcpy(&used, buf + (size_t)i * stride + 8, sizeof used);
        if (p != pid) continue;
        found = true;
        if (used == NVML_VALUE_NOT_AVAILABLE)
            *na = true;
        else
            *sum += used; // MIG: one record per GPU instance the process uses
    }
    return found;
}

// One device's records through fn: RS_OK with *bytes, or why not. *next:
// the function is missing in the driver (try an older version).
static rs_status procs_query(nvml_procs_fn fn, size_t stride, nvml_device dev, int cuda_index,
                             const nvml_api *api, uint64_t *bytes, bool *next, rs_error *err)
{
    *next = false;
    unsigned cap = 64;
    unsigned char *buf = NULL;
    nvml_return r = NVML_ERROR_INSUFFICIENT_SIZE;
    unsigned n = 0;
    // Processes may start between two calls: grow a few times, then give up.
    for (int tries = 0; tries < 4 && r == NVML_ERROR_INSUFFICIENT_SIZE; tries++) {
        free(buf);
        // (cap records) of the largest record size, whatever the driver writes.
        buf = calloc(cap, NVML_PROCS_MAX_RECORD);
        if (!buf) return rs_fail(err, RS_ERR_RUNTIME, "NVML processes: out of memory");
        n = cap;
        r = fn(dev, &n, buf);
        if (r == NVML_ERROR_INSUFFICIENT_SIZE) cap = n > cap && n < 65536 ? n + 16 : cap * 2;
    }
    if (r != NVML_SUCCESS) {
        free(buf);
        *next = r == NVML_ERROR_FUNCTION_NOT_FOUND;
        return rs_fail(err, RS_ERR_RUNTIME, "NVML cannot list GPU %d's processes: %s", cuda_index,
                       nvml_err(api, r));
    }
    if (n > cap) n = cap;
    unsigned pid = (unsigned)getpid();
    const size_t strides[] = {stride, 24, 32, 16};
    bool na = false, found = false;
    for (size_t k = 0; k < sizeof strides / sizeof strides[0] && !found; k++)
        found = procs_find(buf, n, strides[k], pid, bytes, &na);
    free(buf);
    if (!found)
        return rs_fail(err, RS_ERR_RUNTIME,
                       "NVML lists no process %u on GPU %d (%u listed; another PID namespace?)",
                       pid, cuda_index, n);
    if (na)
        return rs_fail(err, RS_ERR_RUNTIME, "NVML has no memory figure for process %u on GPU %d",
                       pid, cuda_index);
    return RS_OK;
}

rs_status hw_nvml_process_gpu_memory(int cuda_index, uint64_t *bytes, rs_error *err)
{
    *bytes = 0;
    nvml_api api;
    void *lib = NULL;
    char note[160];
    if (!nvml_open(&api, &lib, note, sizeof note)) return rs_fail(err, RS_ERR_RUNTIME, "%s", note);
    rs_status st = RS_OK;
    // Every device NVML lets us open, with its NVML index and UUID, so that
    // CUDA_VISIBLE_DEVICES maps the CUDA ordinal as hw_probe_nvidia does.
    unsigned count = 0;
    hw_gpu all[HW_MAX_GPUS];
    nvml_device devs[HW_MAX_GPUS];
    char uuids[HW_MAX_GPUS][96];
    int n_all = 0, map[HW_MAX_GPUS];
    nvml_return r = api.count(&count);
    if (r != NVML_SUCCESS) {
        st = rs_fail(err, RS_ERR_RUNTIME, "NVML cannot count GPUs: %s", nvml_err(&api, r));
        goto done;
    }
    for (unsigned i = 0; i < count && n_all < HW_MAX_GPUS; i++) {
        if (api.handle(i, &devs[n_all]) != NVML_SUCCESS) continue;
        memset(&all[n_all], 0, sizeof all[n_all]);
        all[n_all].index = (int)i;
        uuids[n_all][0] = '\0';
        if (api.uuid && api.uuid(devs[n_all], uuids[n_all], sizeof uuids[n_all]) != NVML_SUCCESS)
            uuids[n_all][0] = '\0';
        uuids[n_all][sizeof uuids[n_all] - 1] = '\0';
        n_all++;
    }
    int n_visible = visible_map(all, uuids, n_all, getenv("CUDA_VISIBLE_DEVICES"), map);
    if (cuda_index < 0 || cuda_index >= n_visible) {
        st = rs_fail(err, RS_ERR_RUNTIME, "NVML: no GPU with CUDA ordinal %d (%d visible)",
                     cuda_index, n_visible);
        goto done;
    }
    nvml_device dev = devs[map[cuda_index]];
    bool tried = false;
    for (size_t k = 0; k < sizeof nvml_procs_syms / sizeof nvml_procs_syms[0]; k++) {
        nvml_procs_fn fn;
        *(void **)&fn = dlsym(lib, nvml_procs_syms[k].sym);
        if (!fn) continue;
        tried = true;
        bool next = false;
        st = procs_query(fn, nvml_procs_syms[k].stride, dev, cuda_index, &api, bytes, &next, err);
        if (!next) goto done;
    }
    if (!tried)
        st = rs_fail(err, RS_ERR_RUNTIME,
                     "NVML lacks nvmlDeviceGetComputeRunningProcesses (driver too old?)");
done:
    api.shutdown();
    dlclose(lib);
    return st;
}
