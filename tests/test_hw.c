#include "testutil.h"

#include <math.h>
#include <sched.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "hw/gpu_table.h"
#include "hw/hw.h"
#include "hw/hw_internal.h"

// Writes text to <tmp>/<rel>, creating the directories on the way.
static void put(const char *rel, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), rel);
    for (char *p = path + strlen(test_tmpdir()) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void set_root(const char *var, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), rel);
    mkdir(path, 0755);
    setenv(var, path, 1);
}

static const char *fake_nvml(void)
{
    const char *p = getenv("RIGHTSIZE_FAKE_NVML");
    if (!p || !*p) fail_msg("RIGHTSIZE_FAKE_NVML is not set (run through ctest)");
    return p;
}

static void test_bandwidth_formula(void **state)
{
    (void)state;
    // H100 SXM: 5120-bit HBM3 at 2619 MHz; RTX 4090: 384-bit GDDR6X at 10501 MHz.
    assert_true(fabs(hw_nvidia_bandwidth_gbs(5120, 2619) - 3352.32) < 0.01);
    assert_true(fabs(hw_nvidia_bandwidth_gbs(384, 10501) - 1008.096) < 0.01);
    // Read from a real H200 (driver 580.159.04): 6016-bit bus, 3201 MHz,
    // against the datasheet's 4.8 TB/s.
    assert_true(fabs(hw_nvidia_bandwidth_gbs(6016, 3201) - 4814.304) < 0.01);
}

static void test_fake_nvml_gpus(void **state)
{
    (void)state;
    setenv("RIGHTSIZE_NVML_LIB", fake_nvml(), 1);
    setenv("FAKE_NVML_GPUS",
           "NVIDIA H100 80GB HBM3:81559:80000:9.0:5120:2619;"
           "NVIDIA GeForce RTX 4090:24564:20000:8.9:384:10501;"
           "NVIDIA Mystery GPU:1024:1000:7.5:128:5000;"
           "NVIDIA H200:143771:143156:9.0:6016:3201", // as a real H200 reports it
           1);
    setenv("FAKE_NVML_DRIVER", "550.54.15", 1);
    unsetenv("FAKE_NVML_INIT_FAIL");
    unsetenv("CUDA_VISIBLE_DEVICES");
    hw_info hw;
    memset(&hw, 0, sizeof hw);
    hw_probe_nvidia(&hw);
    assert_int_equal(hw.n_gpus, 4);
    assert_string_equal(hw.driver_version, "550.54.15");
    assert_string_equal(hw.nvml_note, "");

    hw_gpu *g = &hw.gpus[0];
    assert_string_equal(g->name, "NVIDIA H100 80GB HBM3");
    assert_int_equal(g->index, 0);
    assert_true(g->mem_total == 81559ull << 20);
    assert_true(g->mem_free == 80000ull << 20);
    assert_true(g->mem_used == (81559ull - 80000) << 20);
    assert_int_equal(g->cc_major, 9);
    assert_int_equal(g->cc_minor, 0);
    assert_true(fabs(g->bandwidth_gbs - 3352.32) < 0.01);
    assert_true(g->tflops_bf16 == 989); // from the table: NVML has no FLOPS
    assert_false(g->hypothetical);

    g = &hw.gpus[1];
    assert_string_equal(g->name, "NVIDIA GeForce RTX 4090");
    assert_int_equal(g->cc_major, 8);
    assert_int_equal(g->cc_minor, 9);
    assert_true(fabs(g->bandwidth_gbs - 1008.1) < 0.01);
    assert_true(g->tflops_bf16 == 165.2);

    g = &hw.gpus[2]; // not in the table: no FLOPS, bandwidth still from NVML
    assert_true(g->tflops_bf16 == 0);
    assert_true(fabs(g->bandwidth_gbs - 160.0) < 0.01);

    g = &hw.gpus[3];
    assert_int_equal(g->index, 3);
    assert_true(g->mem_total == 143771ull << 20);
    assert_true(fabs(g->bandwidth_gbs - 4814.304) < 0.01);
    assert_true(g->tflops_bf16 == 989);

    setenv("FAKE_NVML_GPUS", "", 1);
    hw_probe_nvidia(&hw);
    assert_int_equal(hw.n_gpus, 0);
    assert_non_null(strstr(hw.nvml_note, "reports no GPUs"));
}

static void expect_visible(const char *visible, int n, const char *names)
{
    setenv("CUDA_VISIBLE_DEVICES", visible, 1);
    hw_info hw;
    memset(&hw, 0, sizeof hw);
    hw_probe_nvidia(&hw);
    char got[256] = "";
    for (int i = 0; i < hw.n_gpus; i++) {
        assert_int_equal(hw.gpus[i].index, i); // CUDA ordinals
        strcat(got, hw.gpus[i].name);
        strcat(got, ";");
    }
    if (hw.n_gpus != n || strcmp(got, names) != 0)
        fail_msg("CUDA_VISIBLE_DEVICES=\"%s\": got %d GPUs \"%s\", expected %d \"%s\"", visible,
                 hw.n_gpus, got, n, names);
    if (n < 3) assert_non_null(strstr(hw.nvml_note, "CUDA_VISIBLE_DEVICES"));
}

static void test_cuda_visible_devices(void **state)
{
    (void)state;
    setenv("RIGHTSIZE_NVML_LIB", fake_nvml(), 1);
    setenv("FAKE_NVML_GPUS",
           "NVIDIA A:1024:1000:8.0:128:1000;NVIDIA B:1024:1000:8.0:128:1000;"
           "NVIDIA C:1024:1000:8.0:128:1000",
           1);
    expect_visible("1", 1, "NVIDIA B;");
    expect_visible("2,0", 2, "NVIDIA C;NVIDIA A;");
    expect_visible("0,1,2", 3, "NVIDIA A;NVIDIA B;NVIDIA C;");
    expect_visible("GPU-fake-0000-2", 1, "NVIDIA C;");
    expect_visible("GPU-fake-0000-1, 0", 2, "NVIDIA B;NVIDIA A;");
    expect_visible("GPU-fake", 0, "");       // an ambiguous prefix names no device
    expect_visible("0,7,1", 1, "NVIDIA A;"); // CUDA stops at the first invalid entry
    expect_visible("", 0, "");
    expect_visible("-1", 0, "");
    unsetenv("CUDA_VISIBLE_DEVICES");
}

static void test_nvml_missing(void **state)
{
    (void)state;
    setenv("RIGHTSIZE_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
    hw_info hw;
    memset(&hw, 0, sizeof hw);
    hw.n_gpus = 3;
    hw_probe_nvidia(&hw);
    assert_int_equal(hw.n_gpus, 0);
    assert_string_equal(hw.nvml_note,
                        "no NVIDIA driver (/nonexistent/libnvidia-ml.so.1 not found)");
    assert_string_equal(hw.driver_version, "");

    // A library that loads but is not NVML.
    setenv("RIGHTSIZE_NVML_LIB", "libm.so.6", 1);
    hw_probe_nvidia(&hw);
    assert_int_equal(hw.n_gpus, 0);
    assert_non_null(strstr(hw.nvml_note, "NVML lacks nvmlInit_v2"));

    setenv("RIGHTSIZE_NVML_LIB", fake_nvml(), 1);
    setenv("FAKE_NVML_INIT_FAIL", "1", 1);
    hw_probe_nvidia(&hw);
    assert_int_equal(hw.n_gpus, 0);
    assert_string_equal(hw.nvml_note, "NVML failed to start: Driver Not Loaded");
    unsetenv("FAKE_NVML_INIT_FAIL");
}

// Expects hw_nvml_process_gpu_memory on CUDA ordinal cuda_index to fail
// with a message containing want.
static void expect_proc_unknown(int cuda_index, const char *want)
{
    uint64_t bytes = 123;
    rs_error err = {0};
    assert_int_equal(hw_nvml_process_gpu_memory(cuda_index, &bytes, &err), RS_ERR_RUNTIME);
    if (!strstr(err.msg, want)) fail_msg("got \"%s\", expected \"%s\" in it", err.msg, want);
    assert_true(bytes == 0);
}

static uint64_t proc_bytes(int cuda_index)
{
    uint64_t bytes = 0;
    rs_error err = {0};
    if (hw_nvml_process_gpu_memory(cuda_index, &bytes, &err) != RS_OK) fail_msg("%s", err.msg);
    return bytes;
}

static void test_nvml_process_memory(void **state)
{
    (void)state;
    setenv("RIGHTSIZE_NVML_LIB", fake_nvml(), 1);
    setenv("FAKE_NVML_GPUS",
           "NVIDIA H100 80GB HBM3:81559:80000:9.0:5120:2619;"
           "NVIDIA GeForce RTX 4090:24564:20000:8.9:384:10501;"
           "NVIDIA H200:143771:143156:9.0:6016:3201",
           1);
    unsetenv("CUDA_VISIBLE_DEVICES");
    unsetenv("FAKE_NVML_PROC_API");
    // GPU 0: 700 MiB; GPU 1: listed without a figure; GPU 2: not listed
    // (another process, pid + 1, is listed first on each).
    setenv("FAKE_NVML_PROC_MIB", "700,na,", 1);
    assert_true(proc_bytes(0) == 700ull << 20);
    expect_proc_unknown(1, "no memory figure for process");
    expect_proc_unknown(2, "lists no process");
    expect_proc_unknown(3, "no GPU with CUDA ordinal 3 (3 visible)");
    // The older functions (the unversioned one with its 16-byte records).
    setenv("FAKE_NVML_PROC_API", "v2", 1);
    assert_true(proc_bytes(0) == 700ull << 20);
    setenv("FAKE_NVML_PROC_API", "v1", 1);
    assert_true(proc_bytes(0) == 700ull << 20);
    unsetenv("FAKE_NVML_PROC_API");
    // CUDA ordinals follow CUDA_VISIBLE_DEVICES: ordinal 0 is NVML's GPU 2.
    setenv("FAKE_NVML_PROC_MIB", "1,2,3", 1);
    setenv("CUDA_VISIBLE_DEVICES", "GPU-fake-0000-2,0", 1);
    assert_true(proc_bytes(0) == 3ull << 20);
    assert_true(proc_bytes(1) == 1ull << 20);
    expect_proc_unknown(2, "no GPU with CUDA ordinal 2 (2 visible)");
    unsetenv("CUDA_VISIBLE_DEVICES");
    unsetenv("FAKE_NVML_PROC_MIB");
    expect_proc_unknown(0, "lists no process");

    // A driver without the function, and none at all.
    char old[4096];
    snprintf(old, sizeof old, "%s", fake_nvml());
    char *slash = strrchr(old, '/');
    assert_non_null(slash);
    snprintf(slash + 1, sizeof old - (size_t)(slash + 1 - old), "libfake_nvml_noproc.so");
    setenv("RIGHTSIZE_NVML_LIB", old, 1);
    setenv("FAKE_NVML_PROC_MIB", "700", 1);
    expect_proc_unknown(0, "NVML lacks nvmlDeviceGetComputeRunningProcesses");
    setenv("RIGHTSIZE_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
    expect_proc_unknown(0, "no NVIDIA driver");
    unsetenv("FAKE_NVML_PROC_MIB");
}

static void probe_mem(hw_info *hw)
{
    memset(hw, 0, sizeof *hw);
    rs_error err = {0};
    if (hw_probe_memory(hw, &err) != RS_OK) fail_msg("%s", err.msg);
}

#define MEMINFO                                                                                    \
    "MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:   12000000 kB\n"

static void test_memory_no_cgroup(void **state)
{
    (void)state;
    put("plain/proc/meminfo", MEMINFO);
    put("plain/proc/self/cgroup", "0::/\n");
    set_root("RIGHTSIZE_PROC_ROOT", "plain/proc");
    set_root("RIGHTSIZE_CGROUP_ROOT", "plain/cgroup-empty");
    hw_info hw;
    probe_mem(&hw);
    assert_true(hw.ram_total == 16000000ull * 1024);
    assert_true(hw.ram_available == 12000000ull * 1024);
    assert_true(hw.cgroup_limit == 0);

    // Without MemAvailable (old kernels), MemFree is the safe side.
    put("old/proc/meminfo", "MemTotal: 16000000 kB\nMemFree: 1000000 kB\n");
    set_root("RIGHTSIZE_PROC_ROOT", "old/proc");
    probe_mem(&hw);
    assert_true(hw.ram_available == 1000000ull * 1024);

    put("bad/proc/meminfo", "MemFree: 1000000 kB\n");
    set_root("RIGHTSIZE_PROC_ROOT", "bad/proc");
    rs_error err = {0};
    assert_int_equal(hw_probe_memory(&hw, &err), RS_ERR_RUNTIME);
    assert_non_null(strstr(err.msg, "MemTotal"));
}

static void test_memory_cgroup_v2(void **state)
{
    (void)state;
    put("v2/proc/meminfo", MEMINFO);
    put("v2/proc/self/cgroup", "0::/user.slice/job1\n");
    put("v2/cg/cgroup.controllers", "cpu memory\n");
    put("v2/cg/user.slice/memory.max", "max\n");
    put("v2/cg/user.slice/memory.current", "5000000000\n");
    put("v2/cg/user.slice/job1/memory.max", "4294967296\n");
    put("v2/cg/user.slice/job1/memory.current", "1073741824\n");
    put("v2/cg/user.slice/job1/memory.stat",
        "anon 805306368\nfile 268435456\ninactive_file 268435456\n");
    set_root("RIGHTSIZE_PROC_ROOT", "v2/proc");
    set_root("RIGHTSIZE_CGROUP_ROOT", "v2/cg");
    hw_info hw;
    probe_mem(&hw);
    assert_true(hw.ram_total == 16000000ull * 1024); // physical RAM stays
    assert_true(hw.cgroup_limit == 4294967296ull);
    // 4 GiB limit - (1 GiB usage - 256 MiB reclaimable file cache)
    assert_true(hw.ram_available == 4294967296ull - (1073741824ull - 268435456ull));

    // A container that mounts only its own subtree: "/process_api/job7" is
    // "/job7" under the mount.
    put("v2sub/proc/meminfo", MEMINFO);
    put("v2sub/proc/self/cgroup", "0::/process_api/job7\n");
    put("v2sub/cg/cgroup.controllers", "memory\n");
    put("v2sub/cg/job7/memory.max", "1073741824\n");
    put("v2sub/cg/job7/memory.current", "0\n");
    set_root("RIGHTSIZE_PROC_ROOT", "v2sub/proc");
    set_root("RIGHTSIZE_CGROUP_ROOT", "v2sub/cg");
    probe_mem(&hw);
    assert_true(hw.cgroup_limit == 1073741824ull);
    assert_true(hw.ram_available == 1073741824ull);
    set_root("RIGHTSIZE_PROC_ROOT", "v2/proc");
    set_root("RIGHTSIZE_CGROUP_ROOT", "v2/cg");

    // A tighter limit on the parent wins.
    put("v2/cg/user.slice/memory.max", "2147483648\n");
    put("v2/cg/user.slice/memory.current", "1610612736\n");
    probe_mem(&hw);
    assert_true(hw.cgroup_limit == 2147483648ull);
    assert_true(hw.ram_available == 2147483648ull - 1610612736ull);

    // "max" everywhere: no limit.
    put("v2/cg/user.slice/memory.max", "max\n");
    put("v2/cg/user.slice/job1/memory.max", "max\n");
    probe_mem(&hw);
    assert_true(hw.cgroup_limit == 0);
    assert_true(hw.ram_available == 12000000ull * 1024);

    // A limit above physical RAM limits nothing.
    put("v2/cg/user.slice/job1/memory.max", "99999999999999\n");
    probe_mem(&hw);
    assert_true(hw.cgroup_limit == 0);
}

static void test_memory_cgroup_v1(void **state)
{
    (void)state;
    put("v1/proc/meminfo", MEMINFO);
    put("v1/proc/self/cgroup",
        "5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/docker/abc\n");
    put("v1/cg/memory/memory.limit_in_bytes", "9223372036854771712\n"); // v1's "no limit"
    put("v1/cg/memory/memory.usage_in_bytes", "9000000000\n");
    put("v1/cg/memory/docker/abc/memory.limit_in_bytes", "2147483648\n");
    put("v1/cg/memory/docker/abc/memory.usage_in_bytes", "1073741824\n");
    put("v1/cg/memory/docker/abc/memory.stat", "cache 0\ntotal_inactive_file 0\n");
    set_root("RIGHTSIZE_PROC_ROOT", "v1/proc");
    set_root("RIGHTSIZE_CGROUP_ROOT", "v1/cg");
    hw_info hw;
    probe_mem(&hw);
    assert_true(hw.cgroup_limit == 2147483648ull);
    assert_true(hw.ram_available == 1073741824ull);

    // Unlimited everywhere.
    put("v1/cg/memory/docker/abc/memory.limit_in_bytes", "9223372036854771712\n");
    probe_mem(&hw);
    assert_true(hw.cgroup_limit == 0);
    assert_true(hw.ram_available == 12000000ull * 1024);

    // Inside a cgroup namespace the listed path is absent under the mount:
    // the mount's own directory is this process's cgroup.
    put("v1ns/proc/meminfo", MEMINFO);
    put("v1ns/proc/self/cgroup", "4:memory:/not/here\n");
    put("v1ns/cg/memory/memory.limit_in_bytes", "1073741824\n");
    put("v1ns/cg/memory/memory.usage_in_bytes", "73741824\n");
    set_root("RIGHTSIZE_PROC_ROOT", "v1ns/proc");
    set_root("RIGHTSIZE_CGROUP_ROOT", "v1ns/cg");
    probe_mem(&hw);
    assert_true(hw.cgroup_limit == 1073741824ull);
    assert_true(hw.ram_available == 1000000000ull);
}

static int affinity_count(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    return CPU_COUNT(&set);
}

static void test_cpu(void **state)
{
    (void)state;
    unsetenv("RIGHTSIZE_PROC_ROOT");
    set_root("RIGHTSIZE_CGROUP_ROOT", "cpu/cg-empty"); // no quota
    hw_info hw;
    memset(&hw, 0, sizeof hw);
    hw_probe_cpu(&hw);
    int n = affinity_count();
    assert_int_equal(hw.cpu_threads, n);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    assert_true(hw.cpu_threads <= online);
    assert_true(hw.cpu_cores >= 1 && hw.cpu_cores <= hw.cpu_threads);
    assert_true(hw.cpu_model[0] != '\0');
    assert_true(hw.cpu_gflops > 0);
#if defined(__x86_64__)
    assert_int_equal(hw.has_avx2, hw_cpuinfo_has_flag("avx2"));
    assert_int_equal(hw.has_avx512f, hw_cpuinfo_has_flag("avx512f"));
#endif

    // A v2 quota of one CPU: one thread, one core.
    put("cpu/proc/self/cgroup", "0::/job\n");
    put("cpu/proc/cpuinfo", "model name\t: Fake CPU 9000\ncpu cores\t: 64\n");
    put("cpu/cg2/cgroup.controllers", "cpu\n");
    put("cpu/cg2/job/cpu.max", "100000 100000\n");
    set_root("RIGHTSIZE_PROC_ROOT", "cpu/proc");
    set_root("RIGHTSIZE_CGROUP_ROOT", "cpu/cg2");
    hw_probe_cpu(&hw);
    assert_string_equal(hw.cpu_model, "Fake CPU 9000");
    assert_int_equal(hw.cpu_threads, 1);
    assert_int_equal(hw.cpu_cores, 1);
    assert_true(hw_cgroup_cpu_quota() == 1.0);

    // v1: 150000/100000 = 1.5 CPUs, rounded up to 2 threads (at most the mask).
    put("cpu/proc1/self/cgroup", "3:cpu,cpuacct:/k8s/pod\n");
    put("cpu/cg1/cpu,cpuacct/k8s/pod/cpu.cfs_quota_us", "150000\n");
    put("cpu/cg1/cpu,cpuacct/k8s/pod/cpu.cfs_period_us", "100000\n");
    put("cpu/cg1/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
    put("cpu/cg1/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
    set_root("RIGHTSIZE_PROC_ROOT", "cpu/proc1");
    set_root("RIGHTSIZE_CGROUP_ROOT", "cpu/cg1");
    assert_true(hw_cgroup_cpu_quota() == 1.5);
    hw_probe_cpu(&hw);
    assert_int_equal(hw.cpu_threads, n < 2 ? n : 2);
    unsetenv("RIGHTSIZE_PROC_ROOT");
    unsetenv("RIGHTSIZE_CGROUP_ROOT");
}

static void test_cache(void **state)
{
    (void)state;
    set_root("XDG_CACHE_HOME", "cache");
    hw_info hw;
    memset(&hw, 0, sizeof hw);
    strcpy(hw.cpu_model, "Fake CPU");
    hw.cpu_threads = 8;
    assert_true(hw_cached_cpu_bandwidth(&hw) == 0);
    assert_true(hw_cached_gpu_bandwidth(&hw, "NVIDIA H100 80GB HBM3") == 0);
    rs_error err = {0};
    assert_int_equal(hw_cache_store_cpu_bandwidth(&hw, 21.5, &err), RS_OK);
    assert_int_equal(hw_cache_store_gpu_bandwidth(&hw, "NVIDIA H100 80GB HBM3", 3010, &err), RS_OK);
    assert_true(hw_cached_cpu_bandwidth(&hw) == 21.5);
    assert_true(hw_cached_gpu_bandwidth(&hw, "NVIDIA H100 80GB HBM3") == 3010);
    assert_int_equal(hw_cache_store_cpu_bandwidth(&hw, 22.5, &err), RS_OK); // replaces
    assert_true(hw_cached_cpu_bandwidth(&hw) == 22.5);
    assert_true(hw_cached_gpu_bandwidth(&hw, "NVIDIA H100 80GB HBM3") == 3010); // kept
    assert_int_equal(hw_cache_store_cpu_bandwidth(&hw, -1, &err), RS_ERR_INPUT);

    hw_info other = hw;
    other.cpu_threads = 4; // another machine (or another quota): not measured
    assert_true(hw_cached_cpu_bandwidth(&other) == 0);

    char path[4096];
    hw_cache_path(path, sizeof path);
    assert_non_null(strstr(path, "/cache/rightsize/measured.json"));
    FILE *f = fopen(path, "w");
    fputs("{not json", f);
    fclose(f);
    assert_true(hw_cached_cpu_bandwidth(&hw) == 0);
    assert_int_equal(hw_cache_store_cpu_bandwidth(&hw, 9, &err), RS_OK); // rewritten
    assert_true(hw_cached_cpu_bandwidth(&hw) == 9);
    unsetenv("XDG_CACHE_HOME");
}

static void test_measure(void **state)
{
    (void)state;
    double gbs = 0;
    rs_error err = {0};
    assert_int_equal(hw_measure_cpu_bandwidth(2, 32u << 20, 2, &gbs, &err), RS_OK);
    assert_true(gbs > 0.1 && gbs < 10000);
    assert_int_equal(hw_measure_cpu_bandwidth(2, 100, 2, &gbs, &err), RS_ERR_INPUT);
}

static void test_probe_and_json(void **state)
{
    (void)state;
    set_root("XDG_CACHE_HOME", "cache-json");
    unsetenv("CUDA_VISIBLE_DEVICES");
    setenv("RIGHTSIZE_NVML_LIB", fake_nvml(), 1);
    setenv("FAKE_NVML_GPUS", "NVIDIA H100 80GB HBM3:81559:80000:9.0:5120:2619", 1);
    hw_info hw;
    rs_error err = {0};
    assert_int_equal(hw_probe(&hw, &err), RS_OK);
    assert_int_equal(hw.n_gpus, 1);
    assert_true(hw.ram_total > 0 && hw.ram_available <= hw.ram_total);
    assert_true(hw.cpu_bandwidth_gbs == 0);
    assert_int_equal(hw_cache_store_cpu_bandwidth(&hw, 17.25, &err), RS_OK);
    assert_int_equal(hw_cache_store_gpu_bandwidth(&hw, hw.gpus[0].name, 2900, &err), RS_OK);
    assert_int_equal(hw_probe(&hw, &err), RS_OK);
    assert_true(hw.cpu_bandwidth_gbs == 17.25); // hw_probe reads the cache
    assert_true(hw.gpus[0].bandwidth_measured_gbs == 2900);

    cJSON *j = hw_to_json(&hw);
    assert_non_null(j);
    const cJSON *gpus = cJSON_GetObjectItem(j, "gpus");
    assert_int_equal(cJSON_GetArraySize(gpus), 1);
    const cJSON *g = cJSON_GetArrayItem(gpus, 0);
    assert_string_equal(cJSON_GetObjectItem(g, "compute_capability")->valuestring, "9.0");
    assert_true(cJSON_GetObjectItem(g, "mem_total_bytes")->valuedouble == 81559.0 * 1048576);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "cpu"), "threads")->valueint,
                     hw.cpu_threads);
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "cpu"), "bandwidth_gbs")->valuedouble ==
                17.25);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "nvidia"), "note")));
    cJSON_Delete(j);
    unsetenv("XDG_CACHE_HOME");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bandwidth_formula),
        cmocka_unit_test(test_fake_nvml_gpus),
        cmocka_unit_test(test_nvml_missing),
        cmocka_unit_test(test_cuda_visible_devices),
        cmocka_unit_test(test_nvml_process_memory),
        cmocka_unit_test(test_memory_no_cgroup),
        cmocka_unit_test(test_memory_cgroup_v2),
        cmocka_unit_test(test_memory_cgroup_v1),
        cmocka_unit_test(test_cpu),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_measure),
        cmocka_unit_test(test_probe_and_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
