// The GPU table: data/gpus.json (compiled in as embedded_gpus), parsed once
// on first use, and the lookup by the many ways people spell a card.
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hw/gpu_table.h"

extern const char embedded_gpus[];
extern const unsigned long embedded_gpus_len;

#define GPU_MAX_ROWS    256
#define GPU_MAX_ALIASES 8
#define GPU_NORM_MAX    96

typedef struct gpu_row {
    gpu_spec spec;
    // Every spelling that matches exactly, normalized (see normalize()):
    // the key, the full name, the aliases.
    char spellings[GPU_MAX_ALIASES + 2][GPU_NORM_MAX];
    int n_spellings;
} gpu_row;

static gpu_row g_rows[GPU_MAX_ROWS];
static int g_count;
static cJSON *g_json; // owns the strings the specs point into; lives as long as the process
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

// Lower-case letters and digits only, with the vendor and family words that
// people and NVML put in front dropped: "NVIDIA GeForce RTX 4090" -> "rtx4090",
// "Tesla V100-SXM2-16GB" -> "v100sxm216gb", "AMD Instinct MI300X" -> "mi300x".
static void normalize(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < n; p++)
        if (isalnum((unsigned char)*p)) out[o++] = (char)tolower((unsigned char)*p);
    out[o] = '\0';
    static const char *prefixes[] = {"nvidia", "geforce",  "tesla",  "quadro",
                                     "amd",    "instinct", "radeon", "apple"};
    bool again = true;
    while (again) {
        again = false;
        for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
            size_t len = strlen(prefixes[i]);
            if (strncmp(out, prefixes[i], len) == 0 && out[len]) {
                memmove(out, out + len, strlen(out + len) + 1);
                again = true;
            }
        }
    }
}

static const char *json_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double json_num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void add_spelling(gpu_row *row, const char *s)
{
    if (row->n_spellings >= GPU_MAX_ALIASES + 2) return;
    normalize(s, row->spellings[row->n_spellings], GPU_NORM_MAX);
    if (row->spellings[row->n_spellings][0]) row->n_spellings++;
}

// A row with a missing or non-positive figure is skipped: the table test
// (tests/test_gpu_table.c) checks that every row of the file loads.
static void load_table(void)
{
    g_json = cJSON_ParseWithLength(embedded_gpus, embedded_gpus_len);
    const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(g_json, "gpus");
    const cJSON *item;
    cJSON_ArrayForEach(item, gpus)
    {
        if (g_count >= GPU_MAX_ROWS) break;
        gpu_row *row = &g_rows[g_count];
        memset(row, 0, sizeof *row);
        gpu_spec *s = &row->spec;
        s->key = json_str(item, "key");
        s->name = json_str(item, "name");
        s->vendor = json_str(item, "vendor");
        s->source = json_str(item, "source");
        s->note = json_str(item, "note");
        if (!s->note) s->note = "";
        s->mem_gib = json_num(item, "mem_gib");
        s->bandwidth_gbs = json_num(item, "bandwidth_gbs");
        s->tflops_bf16 = json_num(item, "tflops_bf16");
        s->unified_memory = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "unified_memory"));
        const char *cc = json_str(item, "cc");
        if (cc && sscanf(cc, "%d.%d", &s->cc_major, &s->cc_minor) != 2)
            s->cc_major = s->cc_minor = 0;
        if (!s->key || !s->name || !s->vendor || !s->source || s->mem_gib <= 0 ||
            s->bandwidth_gbs <= 0 || s->tflops_bf16 <= 0)
            continue;
        add_spelling(row, s->key);
        add_spelling(row, s->name);
        const cJSON *alias;
        cJSON_ArrayForEach(alias, cJSON_GetObjectItemCaseSensitive(item, "aliases"))
        {
            if (cJSON_IsString(alias)) add_spelling(row, alias->valuestring);
        }
        g_count++;
    }
}

static void ensure_loaded(void)
{
    pthread_once(&g_once, load_table);
}

int gpu_table_count(void)
{
    ensure_loaded();
    return g_count;
}

const gpu_spec *gpu_table_get(int i)
{
    ensure_loaded();
    return i >= 0 && i < g_count ? &g_rows[i].spec : NULL;
}

static const gpu_spec *find_exact(const char *norm)
{
    for (int i = 0; i < g_count; i++)
        for (int j = 0; j < g_rows[i].n_spellings; j++)
            if (strcmp(g_rows[i].spellings[j], norm) == 0) return &g_rows[i].spec;
    return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return lx <= ls && strcmp(s + ls - lx, suffix) == 0;
}

// Splits "M2 Max 64GB" / "RTX 4090 24 GiB" / "A100-80G" into the name and
// the memory in GB; false when the text does not end with a size.
static bool split_memory_suffix(const char *name, char *base, size_t n, double *gb)
{
    size_t e = strlen(name);
    while (e > 0 && isspace((unsigned char)name[e - 1]))
        e--;
    size_t u = e; // the unit: "GB", "GiB", "G"
    while (u > 0 && isalpha((unsigned char)name[u - 1]))
        u--;
    char unit[8];
    if (e - u >= sizeof unit) return false;
    snprintf(unit, sizeof unit, "%.*s", (int)(e - u), name + u);
    for (char *p = unit; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (strcmp(unit, "gb") != 0 && strcmp(unit, "gib") != 0 && strcmp(unit, "g") != 0) return false;
    size_t v = u;
    while (v > 0 && isspace((unsigned char)name[v - 1]))
        v--;
    size_t d = v; // the number
    while (d > 0 && (isdigit((unsigned char)name[d - 1]) || name[d - 1] == '.'))
        d--;
    // The number must stand alone: "RTX 4090 24GB", "A100-80GB", not "RTX409024GB".
    if (d == v || d == 0 || isalnum((unsigned char)name[d - 1])) return false;
    size_t b = d;
    while (b > 0 &&
           (isspace((unsigned char)name[b - 1]) || name[b - 1] == '-' || name[b - 1] == '_'))
        b--;
    if (b == 0) return false;
    snprintf(base, n, "%.*s", (int)b, name);
    *gb = atof(name + d);
    return *gb > 0 && *gb < 1e5;
}

const gpu_spec *gpu_table_find(const char *name)
{
    ensure_loaded();
    if (!name) return NULL;
    char norm[GPU_NORM_MAX];
    normalize(name, norm, sizeof norm);
    if (!norm[0]) return NULL;
    const gpu_spec *s = find_exact(norm);
    if (s) return s;

    // Memory-type words NVML appends ("NVIDIA H100 80GB HBM3", "... HBM3e").
    static const char *noise[] = {"hbm3e", "hbm3", "hbm2e", "hbm2", "gddr7", "gddr6x", "gddr6"};
    for (size_t i = 0; i < sizeof noise / sizeof noise[0]; i++)
        if (ends_with(norm, noise[i]) && strlen(norm) > strlen(noise[i])) {
            char cut[GPU_NORM_MAX];
            snprintf(cut, sizeof cut, "%.*s", (int)(strlen(norm) - strlen(noise[i])), norm);
            if ((s = find_exact(cut))) return s;
        }

    // A bare model number ("4090", "3060 Ti", "a6000") names the one card
    // whose spelling ends with it; two candidates are ambiguous.
    if (isdigit((unsigned char)norm[0]) || strlen(norm) >= 4) {
        const gpu_spec *hit = NULL;
        for (int i = 0; i < g_count; i++) {
            bool match = false;
            for (int j = 0; j < g_rows[i].n_spellings && !match; j++) {
                const char *sp = g_rows[i].spellings[j];
                // A number must be whole: "rtx" + "4090", not "rtx40" + "90".
                size_t ls = strlen(sp), ln = strlen(norm);
                match =
                    ends_with(sp, norm) && ls > ln &&
                    !(isdigit((unsigned char)norm[0]) && isdigit((unsigned char)sp[ls - ln - 1]));
            }
            if (!match) continue;
            if (hit && hit != &g_rows[i].spec) return NULL;
            hit = &g_rows[i].spec;
        }
        if (hit) return hit;
    }

    // "RTX 4090 24GB": a memory size that agrees with the table's is noise.
    // Split on the raw text: normalized, "4090" and "24" would run together.
    double gb;
    char base[128];
    if (split_memory_suffix(name, base, sizeof base, &gb) && (s = gpu_table_find(base)) &&
        fabs(s->mem_gib - gb) < 0.5)
        return s;
    return NULL;
}

// Levenshtein distance, capped at the buffer size (names are short).
static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > GPU_NORM_MAX - 1) la = GPU_NORM_MAX - 1;
    if (lb > GPU_NORM_MAX - 1) lb = GPU_NORM_MAX - 1;
    int prev[GPU_NORM_MAX], cur[GPU_NORM_MAX];
    for (int j = 0; j <= lb; j++)
        prev[j] = j;
    for (int i = 1; i <= la; i++) {
        cur[0] = i;
        for (int j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (size_t)(lb + 1));
    }
    return prev[lb];
}

int gpu_table_close_matches(const char *name, const gpu_spec **out, int max_out)
{
    ensure_loaded();
    char norm[GPU_NORM_MAX];
    normalize(name ? name : "", norm, sizeof norm);
    if (!norm[0] || max_out <= 0) return 0;
    int dist[GPU_MAX_ROWS];
    for (int i = 0; i < g_count; i++) {
        dist[i] = 1 << 20;
        for (int j = 0; j < g_rows[i].n_spellings; j++) {
            const char *sp = g_rows[i].spellings[j];
            int d = edit_distance(norm, sp);
            // A spelling that contains the query ("4090" in "rtx4090") is close.
            if (strstr(sp, norm)) d = d < 1 ? d : 1;
            // People drop the family letters: "4099" is one typo from the
            // "4090" of "rtx4090", so model numbers compare on their own too.
            for (size_t k = 1; sp[k]; k++)
                if (isdigit((unsigned char)sp[k]) && isalpha((unsigned char)sp[k - 1]) &&
                    isdigit((unsigned char)norm[0])) {
                    int dk = edit_distance(norm, sp + k);
                    if (dk < d) d = dk;
                }
            if (d < dist[i]) dist[i] = d;
        }
    }
    int limit = (int)strlen(norm) / 2 + 1;
    int n = 0;
    for (int d = 0; d <= limit && n < max_out; d++)
        for (int i = 0; i < g_count && n < max_out; i++)
            if (dist[i] == d) out[n++] = &g_rows[i].spec;
    return n;
}

// Splits "RTX 4090x2" / "8x H100" / "A100 80GB x4" into the name and count
// (1 when none). The whole text is tried as a name first, so "rtx5090" is
// never read as "rt" x 5090.
static bool split_count(const char *item, char *name, size_t n, int *count)
{
    size_t len = strlen(item);
    // Trailing "x8", " x 8", "*8".
    size_t e = len;
    while (e > 0 && isdigit((unsigned char)item[e - 1]))
        e--;
    if (e < len && e > 0) {
        size_t m = e;
        while (m > 0 && item[m - 1] == ' ')
            m--;
        if (m > 0 && (item[m - 1] == 'x' || item[m - 1] == 'X' || item[m - 1] == '*')) {
            size_t stop = m - 1;
            while (stop > 0 && item[stop - 1] == ' ')
                stop--;
            if (stop > 0) {
                snprintf(name, n, "%.*s", (int)stop, item);
                *count = atoi(item + e);
                return true;
            }
        }
    }
    // Leading "8x", "8 x ", "8*".
    size_t d = 0;
    while (isdigit((unsigned char)item[d]))
        d++;
    if (d > 0) {
        size_t m = d;
        while (item[m] == ' ')
            m++;
        if (item[m] == 'x' || item[m] == 'X' || item[m] == '*') {
            m++;
            while (item[m] == ' ')
                m++;
            if (item[m]) {
                snprintf(name, n, "%s", item + m);
                *count = atoi(item);
                return true;
            }
        }
    }
    return false;
}

// "M2 Max 64GB" -> the M2 Max row with 64 GiB. Returns the row or NULL.
static const gpu_spec *find_with_memory(const char *name, double *mem_gib)
{
    const gpu_spec *s = gpu_table_find(name);
    if (s) {
        *mem_gib = s->mem_gib;
        return s;
    }
    char base[256];
    double gb;
    if (!split_memory_suffix(name, base, sizeof base, &gb) || !(s = gpu_table_find(base)))
        return NULL;
    *mem_gib = gb;
    return s;
}

static void trim(char *s)
{
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    size_t i = 0;
    while (isspace((unsigned char)s[i]))
        i++;
    memmove(s, s + i, strlen(s + i) + 1);
}

static rs_status unknown_gpu(const char *name, rs_error *err)
{
    const gpu_spec *close[5];
    int n = gpu_table_close_matches(name, close, 5);
    char list[512] = "";
    size_t o = 0;
    for (int i = 0; i < n && o < sizeof list; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s\"%s\"", i ? ", " : "", close[i]->name);
    if (n > 0)
        return rs_fail(err, RS_ERR_INPUT, "--gpu: unknown GPU \"%s\"; close matches: %s", name,
                       list);
    return rs_fail(err, RS_ERR_INPUT,
                   "--gpu: unknown GPU \"%s\"; `rightsize hw --list-gpus` shows the table", name);
}

rs_status hw_set_hypothetical_gpus(hw_info *hw, const char *arg, rs_error *err)
{
    ensure_loaded();
    if (!arg || !*arg) return rs_fail(err, RS_ERR_INPUT, "--gpu: empty GPU name");
    char copy[512];
    if (strlen(arg) >= sizeof copy) return rs_fail(err, RS_ERR_INPUT, "--gpu: argument too long");
    snprintf(copy, sizeof copy, "%s", arg);

    hw_gpu gpus[HW_MAX_GPUS];
    int n = 0;
    const gpu_spec *unified = NULL;
    double unified_gib = 0;
    // Items split on ',' or '+', empty ones included (strtok would skip them).
    for (char *item = copy, *next; item; item = next) {
        next = strpbrk(item, ",+");
        if (next) *next++ = '\0';
        trim(item);
        if (!*item) return rs_fail(err, RS_ERR_INPUT, "--gpu \"%s\": empty GPU name", arg);
        char name[256];
        int count = 1;
        double mem_gib = 0;
        const gpu_spec *s = find_with_memory(item, &mem_gib);
        if (!s && split_count(item, name, sizeof name, &count)) {
            trim(name);
            s = find_with_memory(name, &mem_gib);
        }
        if (!s) return unknown_gpu(item, err);
        if (count < 1 || count > HW_MAX_GPUS - n)
            return rs_fail(err, RS_ERR_INPUT, "--gpu \"%s\": %d GPUs; between 1 and %d in all", arg,
                           count, HW_MAX_GPUS);
        for (int k = 0; k < count; k++) {
            hw_gpu *g = &gpus[n];
            memset(g, 0, sizeof *g);
            snprintf(g->name, sizeof g->name, "%s", s->name);
            g->index = n;
            g->mem_total = (uint64_t)(mem_gib * 1024.0 * 1024.0 * 1024.0);
            g->mem_free = g->mem_total; // a card nobody uses yet
            g->cc_major = s->cc_major;
            g->cc_minor = s->cc_minor;
            g->bandwidth_gbs = s->bandwidth_gbs;
            g->tflops_bf16 = s->tflops_bf16;
            g->unified_memory = s->unified_memory;
            g->hypothetical = true;
            n++;
        }
        if (s->unified_memory) {
            unified = s;
            unified_gib += mem_gib * count;
        }
    }
    memcpy(hw->gpus, gpus, sizeof(hw_gpu) * (size_t)n);
    hw->n_gpus = n;
    hw->driver_version[0] = '\0';
    snprintf(hw->nvml_note, sizeof hw->nvml_note, "hypothetical GPUs: %s", arg);
    if (unified && !hw->ram_hypothetical) {
        hw->ram_total = hw->ram_available = (uint64_t)(unified_gib * 1024.0 * 1024.0 * 1024.0);
        hw->cgroup_limit = 0;
        hw->ram_hypothetical = true;
    }
    return RS_OK;
}
