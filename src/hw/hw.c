// hw_probe: the whole machine, from its parts (cpu.c, memory.c, nvidia.c)
// and the measurement cache (cache.c); and the what-if setters.
#include <stdio.h>
#include <string.h>

#include "hw/hw.h"
#include "util/format.h"

rs_status hw_probe(hw_info *out, rs_error *err)
{
    memset(out, 0, sizeof *out);
    hw_probe_cpu(out);
    rs_status st = hw_probe_memory(out, err);
    if (st != RS_OK) return st;
    hw_probe_nvidia(out);
    out->cpu_bandwidth_gbs = hw_cached_cpu_bandwidth(out);
    double gflops = hw_cached_cpu_gflops(out);
    if (gflops > 0) {
        out->cpu_gflops = gflops;
        out->cpu_gflops_measured = true;
    }
    for (int i = 0; i < out->n_gpus; i++)
        out->gpus[i].bandwidth_measured_gbs = hw_cached_gpu_bandwidth(out, out->gpus[i].name);
    hw_load_gpu_calibration(out);
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

char *hw_summary(const hw_info *hw, char *buf, unsigned long n)
{
    char avail[32], total[32], gfree[32];
    int o = snprintf(buf, n, "%s (%d threads), RAM %s available of %s%s", hw->cpu_model,
                     hw->cpu_threads, format_bytes(avail, sizeof avail, hw->ram_available),
                     format_bytes(total, sizeof total, hw->ram_total),
                     hw->ram_hypothetical ? " (hypothetical)" : "");
    // Runs of identical GPUs print once with a count: "2x NVIDIA ... (24.0 GiB free each)".
    for (int i = 0; i < hw->n_gpus && o >= 0 && (unsigned long)o < n;) {
        int j = i + 1;
        while (j < hw->n_gpus && strcmp(hw->gpus[j].name, hw->gpus[i].name) == 0 &&
               hw->gpus[j].mem_free == hw->gpus[i].mem_free)
            j++;
        format_bytes(gfree, sizeof gfree, hw->gpus[i].mem_free);
        if (j - i > 1)
            o += snprintf(buf + o, n - (unsigned long)o, ", %dx %s (%s free each)", j - i,
                          hw->gpus[i].name, gfree);
        else
            o += snprintf(buf + o, n - (unsigned long)o, ", %s (%s free)", hw->gpus[i].name, gfree);
        i = j;
    }
    if (hw->n_gpus == 0 && o >= 0 && (unsigned long)o < n)
        snprintf(buf + o, n - (unsigned long)o, ", no GPU");
    return buf;
}
