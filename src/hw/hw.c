// hw_probe: the whole machine, from its parts (cpu.c, memory.c, nvidia.c)
// and the measurement cache (cache.c); and the what-if setters.
#include <string.h>

#include "hw/hw.h"

rs_status hw_probe(hw_info *out, rs_error *err)
{
    memset(out, 0, sizeof *out);
    hw_probe_cpu(out);
    rs_status st = hw_probe_memory(out, err);
    if (st != RS_OK) return st;
    hw_probe_nvidia(out);
    out->cpu_bandwidth_gbs = hw_cached_cpu_bandwidth(out);
    for (int i = 0; i < out->n_gpus; i++)
        out->gpus[i].bandwidth_measured_gbs = hw_cached_gpu_bandwidth(out, out->gpus[i].name);
    return RS_OK;
}

void hw_set_hypothetical_ram(hw_info *hw, uint64_t bytes)
{
    hw->ram_total = bytes;
    hw->ram_available = bytes;
    hw->cgroup_limit = 0;
    hw->ram_hypothetical = true;
}

void hw_set_cpu_only(hw_info *hw)
{
    hw->n_gpus = 0;
    memset(hw->gpus, 0, sizeof hw->gpus);
    hw->driver_version[0] = '\0';
    strcpy(hw->nvml_note, "--cpu-only: GPUs ignored");
}
