#ifndef RS_HW_HW_INTERNAL_H
#define RS_HW_HW_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Helpers shared by the files of src/hw/, not part of the public API.

// "<proc root>/<rel>", the root from RIGHTSIZE_PROC_ROOT or /proc.
void hw_proc_path(char *buf, size_t n, const char *rel);

// Whether cpuinfo's "flags" line lists flag (whole word).
bool hw_cpuinfo_has_flag(const char *flag);

// The CPUs a cgroup quota allows (cpu.max or cpu.cfs_quota_us / period),
// 0 when no quota applies. Walks from this process's cgroup to the root.
double hw_cgroup_cpu_quota(void);

// The tightest memory limit on this process's cgroup and its ancestors and
// the room left under it (limit - usage + inactive file cache, the part the
// kernel reclaims before it kills). Returns false when no limit applies.
bool hw_cgroup_memory_limit(uint64_t *limit, uint64_t *room);

// Reads a whole small file into buf (NUL-terminated, trailing whitespace
// trimmed); false when it cannot be read.
bool hw_read_small_file(const char *path, char *buf, size_t n);

// Peak memory bandwidth (GB/s) from NVML's bus width (bits) and maximum
// memory clock (MHz), double data rate.
double hw_nvidia_bandwidth_gbs(unsigned bus_width_bits, unsigned mem_clock_mhz);

// Keeps the GPUs that CUDA_VISIBLE_DEVICES (visible; NULL = unset) lets
// CUDA see, in its order, indexed by CUDA ordinal; notes what it hid.
// uuids[i] is all[i]'s NVML UUID ("" when unknown).
struct hw_info;
struct hw_gpu;
void hw_nvidia_apply_visible(const struct hw_gpu *all, char (*uuids)[96], int n_all,
                             const char *visible, struct hw_info *out);

#endif
