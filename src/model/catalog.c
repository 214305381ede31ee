// The model catalog: data/catalog.json compiled in as embedded_catalog,
// parsed once on first use.
#include "model/catalog.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model_priv.h"

extern const char embedded_catalog[];
extern const unsigned long embedded_catalog_len;

static pthread_once_t catalog_once = PTHREAD_ONCE_INIT;
static cJSON *catalog_root;   // the parsed file, kept for the process
static const cJSON *catalog_models; // its "models" array

static void catalog_load(void)
{
    catalog_root = cJSON_ParseWithLength(embedded_catalog, embedded_catalog_len);
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(catalog_root, "models");
    if (cJSON_IsArray(models)) catalog_models = models;
}

static const cJSON *entry(size_t i)
{
    pthread_once(&catalog_once, catalog_load);
    if (!catalog_models) return NULL;
    return cJSON_GetArrayItem(catalog_models, (int)i);
}

size_t catalog_count(void)
{
    pthread_once(&catalog_once, catalog_load);
    return catalog_models ? (size_t)cJSON_GetArraySize(catalog_models) : 0;
}

static const char *entry_str(size_t i, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(entry(i), key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *catalog_name(size_t i)
{
    return entry_str(i, "name");
}

const char *catalog_source(size_t i)
{
    return entry_str(i, "source");
}

uint64_t catalog_published_params(size_t i)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(entry(i), "published_params");
    // Counts up to 2^53 are exact in a JSON double.
    return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

// The repo id of an HF URL: "https://huggingface.co/Qwen/Qwen2.5-7B" -> "Qwen/Qwen2.5-7B".
static const char *repo_id(const char *url)
{
    const char *p = url ? strstr(url, "huggingface.co/") : NULL;
    return p ? p + strlen("huggingface.co/") : NULL;
}

long catalog_find(const char *name)
{
    size_t n = catalog_count();
    for (size_t i = 0; i < n; i++) {
        const char *nm = catalog_name(i);
        if (nm && strcasecmp(nm, name) == 0) return (long)i;
        const char *repo = repo_id(catalog_source(i));
        if (repo && strcasecmp(repo, name) == 0) return (long)i;
        const cJSON *al = cJSON_GetObjectItemCaseSensitive(entry(i), "aliases"), *a;
        cJSON_ArrayForEach(a, al)
        {
            if (cJSON_IsString(a) && strcasecmp(a->valuestring, name) == 0) return (long)i;
        }
    }
    return -1;
}

// Levenshtein distance, case-insensitive, on the first 63 characters.
static int edit_distance(const char *a, const char *b)
{
    int la = (int)strnlen(a, 63), lb = (int)strnlen(b, 63);
    int row[64];
    for (int j = 0; j <= lb; j++) row[j] = j;
    for (int i = 1; i <= la; i++) {
        int prev = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            int cur = row[j];
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int best = prev + cost;
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

size_t catalog_suggest(const char *name, const char **out, size_t max)
{
    size_t n = catalog_count(), k = 0;
    int score[16];
    if (max > 16) max = 16;
    int limit = (int)strlen(name) / 2 + 2;
    for (size_t i = 0; i < n; i++) {
        const char *nm = catalog_name(i);
        if (!nm) continue;
        int d = edit_distance(name, nm);
        if (strcasestr(nm, name)) d = d < 1 ? d : 1;
        if (d > limit) continue;
        // Insert in order of distance, keeping the best max.
        size_t pos = k;
        while (pos > 0 && score[pos - 1] > d) pos--;
        if (pos >= max) continue;
        size_t last = k < max ? k : max - 1;
        for (size_t j = last; j > pos; j--) {
            out[j] = out[j - 1];
            score[j] = score[j - 1];
        }
        out[pos] = nm;
        score[pos] = d;
        if (k < max) k++;
    }
    return k;
}

rs_status catalog_open(const char *name, model_desc *m, rs_error *err)
{
    if (catalog_count() == 0)
        return rs_fail(err, RS_ERR_RUNTIME, "the embedded catalog (data/catalog.json) is unreadable");
    long i = catalog_find(name);
    if (i < 0) {
        const char *near[5];
        size_t k = catalog_suggest(name, near, 5);
        char list[512] = "";
        size_t used = 0;
        for (size_t j = 0; j < k && used < sizeof list; j++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "", near[j]);
        if (k > 0)
            return rs_fail(err, RS_ERR_INPUT,
                           "\"%s\": not a file, folder or catalog model; did you mean: %s?", name,
                           list);
        return rs_fail(err, RS_ERR_INPUT,
                       "\"%s\": not a file, folder or catalog model (rightsize inspect --list shows "
                       "the catalog)",
                       name);
    }
    const char *nm = catalog_name((size_t)i);
    char where[160];
    snprintf(where, sizeof where, "catalog entry \"%s\"", nm ? nm : name);
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(entry((size_t)i), "config");
    rs_status st = hf_config_from_json(where, config, m, err);
    if (st != RS_OK) return st;
    free(m->name);
    m->name = strdup(nm ? nm : name);
    if (!m->name) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    st = arch_synthesize(m, err);
    if (st != RS_OK) return st;
    arch_finish(m);
    return RS_OK;
}
