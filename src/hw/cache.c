// The measurement cache: $XDG_CACHE_HOME/rightsize/measured.json (else
// ~/.cache/rightsize/measured.json), so that a bandwidth measured once by
// `rightsize hw --measure` (CPU) or by the CUDA engine (GPU) serves every
// later plan on the same machine. Layout:
//   {"machines": {"<cpu model> / <threads> threads": {
//       "cpu_bandwidth_gbs": 21.4, "cpu_measured_at": "2026-01-01T00:00:00Z",
//       "gpus": {"<gpu name>": {"bandwidth_gbs": 3010.2, "measured_at": "..."}}}}}
// A missing or unreadable file is "never measured", never an error.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "hw/hw.h"

const char *hw_cache_path(char *buf, unsigned long n)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(buf, n, "%s/rightsize/measured.json", xdg);
    else if (home && *home)
        snprintf(buf, n, "%s/.cache/rightsize/measured.json", home);
    else if (n > 0)
        buf[0] = '\0';
    return buf;
}

static void machine_key(const hw_info *hw, char *buf, size_t n)
{
    snprintf(buf, n, "%s / %d threads", hw->cpu_model, hw->cpu_threads);
}

// The whole cache file parsed, or NULL. Capped at 1 MiB: it holds numbers.
static cJSON *cache_read(void)
{
    char path[4096];
    if (!hw_cache_path(path, sizeof path)[0]) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    enum { CACHE_MAX = 1 << 20 };
    char *text = malloc(CACHE_MAX + 1);
    size_t got = text ? fread(text, 1, CACHE_MAX, f) : 0;
    fclose(f);
    if (!text) return NULL;
    text[got] = '\0';
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (root && !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        root = NULL;
    }
    return root;
}

static double number_at(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) && v->valuedouble > 0 ? v->valuedouble : 0;
}

static const cJSON *machine_entry(const cJSON *root, const hw_info *hw)
{
    char key[256];
    machine_key(hw, key, sizeof key);
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "machines"),
                                            key);
}

double hw_cached_cpu_bandwidth(const hw_info *hw)
{
    cJSON *root = cache_read();
    double v = number_at(machine_entry(root, hw), "cpu_bandwidth_gbs");
    cJSON_Delete(root);
    return v;
}

double hw_cached_cpu_gflops(const hw_info *hw)
{
    cJSON *root = cache_read();
    double v = number_at(machine_entry(root, hw), "cpu_gflops");
    cJSON_Delete(root);
    return v;
}

double hw_cached_gpu_bandwidth(const hw_info *hw, const char *gpu_name)
{
    return hw_cached_gpu_value(hw, gpu_name, "bandwidth_gbs");
}

double hw_cached_gpu_value(const hw_info *hw, const char *gpu_name, const char *key)
{
    cJSON *root = cache_read();
    const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(machine_entry(root, hw), "gpus");
    double v = number_at(cJSON_GetObjectItemCaseSensitive(gpus, gpu_name), key);
    cJSON_Delete(root);
    return v;
}

const char *hw_gpu_calib_class_name(int wclass)
{
    static const char *const names[HW_GPU_CALIB_CLASSES] = {"float", "int8", "kquant", "deq"};
    return wclass >= 0 && wclass < HW_GPU_CALIB_CLASSES ? names[wclass] : "?";
}

const char *hw_gpu_calib_key(char *buf, unsigned long n, bool prefill, int wclass)
{
    snprintf(buf, n, "%s_calib_%s", prefill ? "prefill" : "decode",
             hw_gpu_calib_class_name(wclass));
    return buf;
}

void hw_load_gpu_calibration(hw_info *hw)
{
    cJSON *root = cache_read();
    const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(machine_entry(root, hw), "gpus");
    for (int i = 0; i < hw->n_gpus; i++) {
        hw_gpu *g = &hw->gpus[i];
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(gpus, g->name);
        for (int c = 0; c < HW_GPU_CALIB_CLASSES; c++) {
            char key[64];
            g->decode_calib[c] =
                g->hypothetical ? 0 : number_at(e, hw_gpu_calib_key(key, sizeof key, false, c));
            g->prefill_calib[c] =
                g->hypothetical ? 0 : number_at(e, hw_gpu_calib_key(key, sizeof key, true, c));
        }
    }
    cJSON_Delete(root);
}

// mkdir -p of the directory part of path.
static int make_parent_dirs(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(dir, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static cJSON *get_or_add_object(cJSON *parent, const char *key)
{
    cJSON *o = cJSON_GetObjectItemCaseSensitive(parent, key);
    if (cJSON_IsObject(o)) return o;
    if (o) cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
    return cJSON_AddObjectToObject(parent, key);
}

static void set_number(cJSON *o, const char *key, double v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    cJSON_AddNumberToObject(o, key, v);
}

static void set_now(cJSON *o, const char *key)
{
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    cJSON_AddStringToObject(o, key, stamp);
}

// Reads the cache, sets one of this machine's figures, writes it back
// through a temporary file and rename, so a reader never sees half: the CPU's
// bandwidth (gpu_name NULL, cpu_key NULL), another CPU figure (cpu_key, e.g.
// "cpu_gflops"), a GPU's bandwidth (cpu_key NULL) or another GPU figure
// (cpu_key names it).
static rs_status cache_update_key(const hw_info *hw, const char *gpu_name, const char *cpu_key,
                                  double gbs, rs_error *err)
{
    char path[4096];
    if (!hw_cache_path(path, sizeof path)[0])
        return rs_fail(err, RS_ERR_RUNTIME,
                       "measurement cache: neither XDG_CACHE_HOME nor HOME is set");
    if (!(gbs > 0) || gbs > 1e6)
        return rs_fail(err, RS_ERR_INPUT, "%s: %s %g is not plausible", path,
                       cpu_key ? cpu_key : "bandwidth (GB/s)", gbs);
    cJSON *root = cache_read();
    if (!root) root = cJSON_CreateObject();
    char key[256];
    machine_key(hw, key, sizeof key);
    cJSON *machines = root ? get_or_add_object(root, "machines") : NULL;
    cJSON *m = machines ? get_or_add_object(machines, key) : NULL;
    if (m && !gpu_name && cpu_key) {
        set_number(m, cpu_key, gbs);
    } else if (m && !gpu_name) {
        set_number(m, "cpu_bandwidth_gbs", gbs);
        set_now(m, "cpu_measured_at");
    } else if (m && cpu_key) {
        cJSON *g = get_or_add_object(get_or_add_object(m, "gpus"), gpu_name);
        set_number(g, cpu_key, gbs);
        set_now(g, "calibrated_at");
    } else if (m) {
        cJSON *g = get_or_add_object(get_or_add_object(m, "gpus"), gpu_name);
        set_number(g, "bandwidth_gbs", gbs);
        set_now(g, "measured_at");
    }
    char *text = m ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);

    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    rs_status st = RS_OK;
    FILE *f = NULL;
    if (make_parent_dirs(path) != 0 || !(f = fopen(tmp, "w")))
        st = rs_fail(err, RS_ERR_RUNTIME, "%s: cannot write: %s", tmp, strerror(errno));
    else {
        bool ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
        ok = fclose(f) == 0 && ok;
        if (!ok || rename(tmp, path) != 0) {
            st = rs_fail(err, RS_ERR_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
            unlink(tmp);
        }
    }
    free(text);
    return st;
}

static rs_status cache_update(const hw_info *hw, const char *gpu_name, double gbs, rs_error *err)
{
    return cache_update_key(hw, gpu_name, NULL, gbs, err);
}

rs_status hw_cache_store_cpu_bandwidth(const hw_info *hw, double gbs, rs_error *err)
{
    return cache_update(hw, NULL, gbs, err);
}

rs_status hw_cache_store_cpu_gflops(const hw_info *hw, double gflops, rs_error *err)
{
    return cache_update_key(hw, NULL, "cpu_gflops", gflops, err);
}

rs_status hw_cache_store_gpu_value(const hw_info *hw, const char *gpu_name, const char *key,
                                   double v, rs_error *err)
{
    if (!gpu_name || !*gpu_name)
        return rs_fail(err, RS_ERR_INPUT, "measurement cache: empty GPU name");
    return cache_update_key(hw, gpu_name, key, v, err);
}

rs_status hw_cache_store_gpu_bandwidth(const hw_info *hw, const char *gpu_name, double gbs,
                                       rs_error *err)
{
    if (!gpu_name || !*gpu_name)
        return rs_fail(err, RS_ERR_INPUT, "measurement cache: empty GPU name");
    return cache_update(hw, gpu_name, gbs, err);
}
