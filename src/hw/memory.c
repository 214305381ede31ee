// RAM probe: MemTotal and MemAvailable from /proc/meminfo, capped by the
// cgroup memory limit this process lives under.
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hw/hw.h"
#include "hw/hw_internal.h"

rs_status hw_probe_memory(hw_info *out, rs_error *err)
{
    char path[4096];
    hw_proc_path(path, sizeof path, "meminfo");
    FILE *f = fopen(path, "r");
    if (!f) return rs_fail(err, RS_ERR_RUNTIME, "%s: cannot open: needed for the RAM size", path);
    char line[256];
    unsigned long long total_kb = 0, avail_kb = 0, free_kb = 0;
    bool have_avail = false;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "MemTotal: %llu kB", &v) == 1)
            total_kb = v;
        else if (sscanf(line, "MemAvailable: %llu kB", &v) == 1)
            avail_kb = v, have_avail = true;
        else if (sscanf(line, "MemFree: %llu kB", &v) == 1)
            free_kb = v;
    }
    fclose(f);
    if (total_kb == 0 || total_kb > UINT64_MAX / 1024)
        return rs_fail(err, RS_ERR_RUNTIME, "%s: field \"MemTotal\": missing or out of range",
                       path);
    // Kernels before 3.14 have no MemAvailable; MemFree undercounts (page
    // cache is reclaimable) but is the safe side.
    if (!have_avail) avail_kb = free_kb;
    if (avail_kb > total_kb) avail_kb = total_kb;

    out->ram_total = (uint64_t)total_kb * 1024;
    out->ram_available = (uint64_t)avail_kb * 1024;
    out->cgroup_limit = 0;
    out->ram_hypothetical = false;

    uint64_t limit, room;
    // A limit at or above physical RAM limits nothing.
    if (hw_cgroup_memory_limit(&limit, &room) && limit < out->ram_total) {
        out->cgroup_limit = limit;
        if (room < out->ram_available) out->ram_available = room;
    }
    return RS_OK;
}
