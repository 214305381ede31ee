// Control-group limits on this process: the memory limit (v2 memory.max,
// v1 memory.limit_in_bytes) and the CPU quota (v2 cpu.max, v1
// cpu.cfs_quota_us). Containers and batch schedulers set these, and a plan
// that ignores them gets the process killed by the OOM killer.
//
// The process's cgroup comes from /proc/self/cgroup; its directory is
// <root>/<path> (v2) or <root>/<controller>/<path> (v1), or a tail of that
// path when a container mounts only its subtree (see start_dir). Limits nest, so every level from
// the process's cgroup up to the root is read and the tightest wins.
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hw/hw_internal.h"

static const char *cgroup_root(void)
{
    const char *r = getenv("RIGHTSIZE_CGROUP_ROOT");
    return r && *r ? r : "/sys/fs/cgroup";
}

void hw_proc_path(char *buf, size_t n, const char *rel)
{
    const char *r = getenv("RIGHTSIZE_PROC_ROOT");
    snprintf(buf, n, "%s/%s", r && *r ? r : "/proc", rel);
}

bool hw_read_small_file(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t got = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[got] = '\0';
    while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' ' || buf[got - 1] == '\t'))
        buf[--got] = '\0';
    return true;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_v2(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/cgroup.controllers", cgroup_root());
    struct stat st;
    return stat(path, &st) == 0;
}

// The cgroup path of this process for a v1 controller ("memory", "cpu"), or
// the v2 path when controller is NULL. "/" when /proc/self/cgroup is absent.
static void self_cgroup_path(const char *controller, char *out, size_t n)
{
    snprintf(out, n, "/");
    char path[4096];
    hw_proc_path(path, sizeof path, "self/cgroup");
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        // "hierarchy-id:controller-list:path"
        char *c1 = strchr(line, ':');
        if (!c1) continue;
        char *c2 = strchr(c1 + 1, ':');
        if (!c2) continue;
        *c2 = '\0';
        const char *list = c1 + 1, *cg = c2 + 1;
        bool match = false;
        if (!controller) {
            match = strncmp(line, "0:", 2) == 0 && *list == '\0';
        } else {
            char copy[512];
            snprintf(copy, sizeof copy, "%s", list);
            char *save = NULL;
            for (char *tok = strtok_r(copy, ",", &save); tok && !match;
                 tok = strtok_r(NULL, ",", &save))
                match = strcmp(tok, controller) == 0;
        }
        if (match) {
            snprintf(out, n, "%s", *cg ? cg : "/");
            break;
        }
    }
    fclose(f);
}

// The directory where the levels start. /proc/self/cgroup gives the path
// from the hierarchy's root, but a container may mount only its own subtree
// at /sys/fs/cgroup (the path "/process_api/job7" is then "/job7" under the
// mount), so leading components are dropped until a directory exists; with
// none left, the mount itself (cgroup namespaces show "/").
static void start_dir(const char *base, const char *cg, char *out, size_t n)
{
    const char *rel = cg;
    while (*rel) {
        while (*rel == '/')
            rel++;
        if (!*rel) break;
        snprintf(out, n, "%s/%s", base, rel);
        size_t len = strlen(out);
        while (len > strlen(base) && out[len - 1] == '/')
            out[--len] = '\0';
        if (is_dir(out)) return;
        rel = strchr(rel, '/');
        if (!rel) break;
    }
    snprintf(out, n, "%s", base);
}

// Moves dir one level up; false once it is base.
static bool up_one(char *dir, const char *base)
{
    size_t blen = strlen(base);
    if (strlen(dir) <= blen) return false;
    char *slash = strrchr(dir, '/');
    if (!slash || (size_t)(slash - dir) < blen) return false;
    *slash = '\0';
    return true;
}

static bool read_u64(const char *path, uint64_t *v, bool *unlimited)
{
    char buf[128];
    *unlimited = false;
    if (!hw_read_small_file(path, buf, sizeof buf)) return false;
    if (strcmp(buf, "max") == 0) {
        *unlimited = true;
        return true;
    }
    char *end;
    errno = 0;
    unsigned long long x = strtoull(buf, &end, 10);
    if (end == buf || errno || buf[0] == '-') return false;
    *v = x;
    return true;
}

// The value of `key` in a memory.stat file, 0 when absent.
static uint64_t stat_value(const char *dir, const char *key)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/memory.stat", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char name[128];
    unsigned long long v;
    uint64_t out = 0;
    while (fscanf(f, "%127s %llu", name, &v) == 2)
        if (strcmp(name, key) == 0) {
            out = v;
            break;
        }
    fclose(f);
    return out;
}

// v1 writes "no limit" as PAGE_COUNTER_MAX pages (9223372036854771712 with
// 4 KiB pages); anything above 2^62 bytes is no limit.
#define CGROUP_V1_UNLIMITED (UINT64_C(1) << 62)

bool hw_cgroup_memory_limit(uint64_t *limit, uint64_t *room)
{
    char base[4096], cg[4096], dir[4096], path[8192];
    bool v2 = is_v2();
    if (v2)
        snprintf(base, sizeof base, "%s", cgroup_root());
    else
        snprintf(base, sizeof base, "%s/memory", cgroup_root());
    if (!is_dir(base)) return false;
    self_cgroup_path(v2 ? NULL : "memory", cg, sizeof cg);
    start_dir(base, cg, dir, sizeof dir);

    bool found = false;
    uint64_t best_limit = 0, best_room = 0;
    do {
        uint64_t lim = 0, usage = 0;
        bool unlimited;
        snprintf(path, sizeof path, "%s/%s", dir, v2 ? "memory.max" : "memory.limit_in_bytes");
        if (!read_u64(path, &lim, &unlimited) || unlimited || lim >= CGROUP_V1_UNLIMITED) continue;
        snprintf(path, sizeof path, "%s/%s", dir, v2 ? "memory.current" : "memory.usage_in_bytes");
        if (!read_u64(path, &usage, &unlimited) || unlimited) usage = 0;
        // Inactive file pages count in usage but the kernel reclaims them
        // before it OOM-kills, so they are room (as `docker stats` does).
        uint64_t inactive = stat_value(dir, v2 ? "inactive_file" : "total_inactive_file");
        if (!v2 && inactive == 0) inactive = stat_value(dir, "inactive_file");
        uint64_t used = usage > inactive ? usage - inactive : 0;
        uint64_t r = lim > used ? lim - used : 0;
        if (!found || lim < best_limit) best_limit = lim;
        if (!found || r < best_room) best_room = r;
        found = true;
    } while (up_one(dir, base));
    if (found) {
        *limit = best_limit;
        *room = best_room;
    }
    return found;
}

double hw_cgroup_cpu_quota(void)
{
    char base[4096], cg[4096], dir[4096], path[8192], buf[128];
    bool v2 = is_v2();
    if (v2) {
        snprintf(base, sizeof base, "%s", cgroup_root());
    } else {
        static const char *names[] = {"cpu", "cpu,cpuacct", "cpuacct,cpu"};
        base[0] = '\0';
        for (int i = 0; i < 3 && !base[0]; i++) {
            snprintf(base, sizeof base, "%s/%s", cgroup_root(), names[i]);
            if (!is_dir(base)) base[0] = '\0';
        }
        if (!base[0]) return 0;
    }
    self_cgroup_path(v2 ? NULL : "cpu", cg, sizeof cg);
    start_dir(base, cg, dir, sizeof dir);

    double best = 0;
    do {
        double quota = 0, period = 0;
        if (v2) {
            snprintf(path, sizeof path, "%s/cpu.max", dir);
            char q[64];
            if (!hw_read_small_file(path, buf, sizeof buf)) continue;
            if (sscanf(buf, "%63s %lf", q, &period) != 2 || strcmp(q, "max") == 0) continue;
            quota = atof(q);
        } else {
            snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
            if (!hw_read_small_file(path, buf, sizeof buf)) continue;
            quota = atof(buf);
            snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
            if (!hw_read_small_file(path, buf, sizeof buf)) continue;
            period = atof(buf);
        }
        if (quota <= 0 || period <= 0) continue;
        double cpus = quota / period;
        if (best == 0 || cpus < best) best = cpus;
    } while (up_one(dir, base));
    return best;
}
