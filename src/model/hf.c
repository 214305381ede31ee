// An HF model folder: config.json (+ generation_config.json), the
// safetensors headers (one file, or shards named by
// model.safetensors.index.json), tokenizer files and the chat template.
// Weights are never read, only the headers.
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/model_priv.h"
#include "model/safetensors.h"

// Small JSON/text files only: a config over 64 MiB is not a config.
#define HF_MAX_TEXT (64u << 20)

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

// Reads a whole small file; *buf is NUL-terminated. A missing file is
// RS_OK with *buf NULL when optional.
static rs_status read_text(const char *path, bool optional, char **buf, size_t *len,
                           rs_error *err)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (optional && errno == ENOENT) return RS_OK;
        return rs_fail(err, RS_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return rs_fail(err, RS_ERR_INPUT, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > HF_MAX_TEXT) {
        fclose(f);
        return rs_fail(err, RS_ERR_INPUT, "%s: %lld bytes is too large for a JSON/text file", path,
                       (long long)sb.st_size);
    }
    char *p = malloc((size_t)sb.st_size + 1);
    if (!p) {
        fclose(f);
        return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    }
    size_t n = fread(p, 1, (size_t)sb.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(p);
        return rs_fail(err, RS_ERR_RUNTIME, "%s: read error", path);
    }
    p[n] = '\0';
    *buf = p;
    *len = n;
    return RS_OK;
}

static rs_status parse_json_file(const char *path, bool optional, cJSON **out, rs_error *err)
{
    *out = NULL;
    char *buf;
    size_t len;
    rs_status st = read_text(path, optional, &buf, &len, err);
    if (st != RS_OK || !buf) return st;
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(buf, len, &end, false);
    size_t at = end && end >= buf ? (size_t)(end - buf) : 0;
    free(buf);
    if (!*out) return rs_fail(err, RS_ERR_INPUT, "%s: invalid JSON near byte %zu", path, at);
    return RS_OK;
}

// generation_config.json overrides the config's bos/eos ids when present.
static rs_status read_generation_config(const char *dir, model_desc *m, rs_error *err)
{
    char *path = join(dir, "generation_config.json");
    if (!path) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    cJSON *root;
    rs_status st = parse_json_file(path, true, &root, err);
    if (st == RS_OK && root) {
        static const char *keys[] = {"bos_token_id", "eos_token_id"};
        int64_t *dst[] = {&m->bos_id, &m->eos_id};
        for (int k = 0; k < 2 && st == RS_OK; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, keys[k]);
            if (!v || cJSON_IsNull(v)) continue;
            if (cJSON_IsArray(v)) {
                int n = cJSON_GetArraySize(v);
                if (n > 1 && k == 1) {
                    const cJSON *last = cJSON_GetArrayItem(v, n - 1);
                    if (cJSON_IsNumber(last) && last->valuedouble >= 0 && last->valuedouble < 2e9)
                        m->eot_id = (int64_t)last->valuedouble;
                }
                v = cJSON_GetArrayItem(v, 0);
            }
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= 2e9 ||
                v->valuedouble != (double)(int64_t)v->valuedouble)
                st = rs_fail(err, RS_ERR_INPUT, "%s: field \"%s\": expected a token id", path,
                             keys[k]);
            else
                *dst[k] = (int64_t)v->valuedouble;
        }
        cJSON_Delete(root);
    }
    free(path);
    return st;
}

// The chat template: tokenizer_config.json's "chat_template" (a string, or a
// list of {name, template} from which "default" is taken), else
// chat_template.jinja.
static rs_status read_chat_template(const char *dir, model_desc *m, rs_error *err)
{
    char *path = join(dir, "tokenizer_config.json");
    if (!path) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    m->has_tokenizer_config = file_exists(path);
    cJSON *root = NULL;
    rs_status st = parse_json_file(path, true, &root, err);
    if (st == RS_OK && root) {
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(root, "chat_template");
        const char *text = NULL;
        if (cJSON_IsString(ct)) {
            text = ct->valuestring;
        } else if (cJSON_IsArray(ct)) {
            const cJSON *it;
            cJSON_ArrayForEach(it, ct)
            {
                const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
                const cJSON *tp = cJSON_GetObjectItemCaseSensitive(it, "template");
                if (!cJSON_IsString(nm) || !cJSON_IsString(tp)) {
                    st = rs_fail(err, RS_ERR_INPUT,
                                 "%s: field \"chat_template\": expected a list of {name, template}",
                                 path);
                    break;
                }
                if (strcmp(nm->valuestring, "default") == 0) text = tp->valuestring;
            }
        } else if (ct && !cJSON_IsNull(ct)) {
            st = rs_fail(err, RS_ERR_INPUT,
                         "%s: field \"chat_template\": expected a string or a list", path);
        }
        if (st == RS_OK && text) {
            m->chat_template = strdup(text);
            if (!m->chat_template) st = rs_fail(err, RS_ERR_RUNTIME, "out of memory");
        }
        cJSON_Delete(root);
    }
    free(path);
    if (st != RS_OK || m->chat_template) return st;
    path = join(dir, "chat_template.jinja");
    if (!path) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    size_t len;
    st = read_text(path, true, &m->chat_template, &len, err);
    free(path);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// The shard file names: those model.safetensors.index.json's weight_map
// names (each once), or every *.safetensors in the folder. *n_missing
// counts named shards that are absent.
static rs_status list_shards(const char *dir, char ***out, int *n_out, int *n_missing,
                             bool *indexed, rs_error *err)
{
    *out = NULL;
    *n_out = 0;
    *n_missing = 0;
    *indexed = false;
    char **names = NULL;
    int n = 0, cap = 0;
    rs_status st = RS_OK;
    char *ipath = join(dir, "model.safetensors.index.json");
    if (!ipath) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    cJSON *index;
    st = parse_json_file(ipath, true, &index, err);
    if (st == RS_OK && index) {
        *indexed = true;
        const cJSON *wm = cJSON_GetObjectItemCaseSensitive(index, "weight_map"), *it;
        if (!cJSON_IsObject(wm))
            st = rs_fail(err, RS_ERR_INPUT, "%s: field \"weight_map\": expected an object", ipath);
        cJSON_ArrayForEach(it, wm)
        {
            if (st != RS_OK) break;
            if (!cJSON_IsString(it) || strchr(it->valuestring, '/') || it->valuestring[0] == '.') {
                st = rs_fail(err, RS_ERR_INPUT,
                             "%s: field \"weight_map.%s\": expected a shard file name", ipath,
                             it->string);
                break;
            }
            bool seen = false;
            for (int i = 0; i < n && !seen; i++) seen = strcmp(names[i], it->valuestring) == 0;
            if (seen) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                char **p = realloc(names, (size_t)cap * sizeof *p);
                if (!p) {
                    st = rs_fail(err, RS_ERR_RUNTIME, "out of memory");
                    break;
                }
                names = p;
            }
            names[n] = strdup(it->valuestring);
            if (!names[n]) {
                st = rs_fail(err, RS_ERR_RUNTIME, "out of memory");
                break;
            }
            n++;
        }
        cJSON_Delete(index);
    }
    free(ipath);
    if (st == RS_OK && !*indexed) {
        DIR *d = opendir(dir);
        if (!d) st = rs_fail(err, RS_ERR_INPUT, "%s: cannot list: %s", dir, strerror(errno));
        struct dirent *e;
        while (st == RS_OK && d && (e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len < 12 || strcmp(e->d_name + len - 12, ".safetensors") != 0) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                char **p = realloc(names, (size_t)cap * sizeof *p);
                if (!p) {
                    st = rs_fail(err, RS_ERR_RUNTIME, "out of memory");
                    break;
                }
                names = p;
            }
            names[n] = strdup(e->d_name);
            if (!names[n]) st = rs_fail(err, RS_ERR_RUNTIME, "out of memory");
            else n++;
        }
        if (d) closedir(d);
    }
    if (st == RS_OK) {
        if (n > 0) qsort(names, (size_t)n, sizeof *names, cmp_str);
        for (int i = 0; i < n && st == RS_OK; i++) {
            char *p = join(dir, names[i]);
            if (!p) st = rs_fail(err, RS_ERR_RUNTIME, "out of memory");
            else if (!file_exists(p)) (*n_missing)++;
            free(p);
        }
    }
    if (st != RS_OK) {
        for (int i = 0; i < n; i++) free(names[i]);
        free(names);
        return st;
    }
    *out = names;
    *n_out = n;
    return RS_OK;
}

// Reads each shard's header and appends its tensors (ggml order, absolute
// offsets, the shard's file index).
static rs_status read_shards(const char *dir, char **names, int n, model_desc *m, rs_error *err)
{
    m->files = calloc((size_t)n, sizeof *m->files);
    if (!m->files) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    for (int i = 0; i < n; i++) {
        char *path = join(dir, names[i]);
        if (!path) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
        st_file *f;
        rs_status st = st_open(path, &f, err);
        if (st != RS_OK) {
            free(path);
            return st;
        }
        m->files[i].path = path;
        m->files[i].size = f->file_size;
        m->n_files = i + 1;
        m->file_bytes += f->file_size;
        for (int64_t k = 0; k < f->n_tensors && st == RS_OK; k++) {
            const st_tensor *t = &f->tensors[k];
            if (t->n_dims < 0 || t->n_dims > MODEL_MAX_DIMS) {
                st = rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\": %d dimensions", path, t->name,
                             t->n_dims);
                break;
            }
            int64_t ne[MODEL_MAX_DIMS];
            for (int d = 0; d < t->n_dims; d++) ne[d] = t->shape[t->n_dims - 1 - d];
            st = model_add_tensor(m, t->name, t->type, t->n_dims, ne, i, t->begin, err);
            if (st != RS_OK) rs_error_prefix(err, "%s: ", path);
        }
        st_close(f);
        if (st != RS_OK) return st;
    }
    return RS_OK;
}

typedef struct name_file {
    const char *name;
    int file;
} name_file;

static int cmp_name_file(const void *a, const void *b)
{
    return strcmp(((const name_file *)a)->name, ((const name_file *)b)->name);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

// The shards must agree with each other and with the index: no tensor in
// two shards, every indexed tensor in the shard the index names, and no
// shard tensor the index leaves out. A disagreement means a broken download
// or a mixed-up folder.
static rs_status check_shards(const char *dir, const model_desc *m, rs_error *err)
{
    if (m->n_tensors < 1) return RS_OK;
    name_file *v = malloc((size_t)m->n_tensors * sizeof *v);
    if (!v) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    for (int64_t i = 0; i < m->n_tensors; i++) v[i] = (name_file){m->tensors[i].name, m->tensors[i].file};
    qsort(v, (size_t)m->n_tensors, sizeof *v, cmp_name_file);
    rs_status st = RS_OK;
    for (int64_t i = 1; i < m->n_tensors && st == RS_OK; i++)
        if (strcmp(v[i - 1].name, v[i].name) == 0)
            st = rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\" appears in two shards (%s and %s)",
                         dir, v[i].name, base_name(m->files[v[i - 1].file].path),
                         base_name(m->files[v[i].file].path));

    char *ipath = join(dir, "model.safetensors.index.json");
    cJSON *index = NULL;
    if (st == RS_OK && !ipath) st = rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    if (st == RS_OK) st = parse_json_file(ipath, true, &index, err);
    if (st == RS_OK && index) {
        const cJSON *wm = cJSON_GetObjectItemCaseSensitive(index, "weight_map"), *it;
        int64_t n_indexed = 0;
        cJSON_ArrayForEach(it, wm)
        {
            name_file key = {it->string, 0};
            const name_file *hit = bsearch(&key, v, (size_t)m->n_tensors, sizeof *v, cmp_name_file);
            if (!hit) {
                st = rs_fail(err, RS_ERR_INPUT,
                             "%s: field \"weight_map.%s\": the tensor is in no shard", ipath,
                             it->string);
                break;
            }
            if (strcmp(base_name(m->files[hit->file].path), it->valuestring) != 0) {
                st = rs_fail(err, RS_ERR_INPUT,
                             "%s: field \"weight_map.%s\": the index says %s, the tensor is in %s",
                             ipath, it->string, it->valuestring,
                             base_name(m->files[hit->file].path));
                break;
            }
            n_indexed++;
        }
        if (st == RS_OK && n_indexed != m->n_tensors) {
            // Some shard tensor is not indexed: name the first one (sorted
            // index names, so a large index stays fast).
            const char **names = malloc((size_t)(n_indexed > 0 ? n_indexed : 1) * sizeof *names);
            int64_t k = 0;
            if (!names) st = rs_fail(err, RS_ERR_RUNTIME, "out of memory");
            cJSON_ArrayForEach(it, wm)
            {
                if (names && k < n_indexed) names[k++] = it->string;
            }
            if (names) qsort(names, (size_t)k, sizeof *names, cmp_str);
            for (int64_t i = 0; names && i < m->n_tensors; i++) {
                const char *key = v[i].name;
                if (!bsearch(&key, names, (size_t)k, sizeof *names, cmp_str)) {
                    st = rs_fail(err, RS_ERR_INPUT,
                                 "%s: field \"weight_map\": tensor \"%s\" of %s is not listed",
                                 ipath, v[i].name, base_name(m->files[v[i].file].path));
                    break;
                }
            }
            free(names);
        }
    }
    cJSON_Delete(index);
    free(ipath);
    free(v);
    return st;
}

rs_status hf_open(const char *dir, model_desc *m, rs_error *err)
{
    m->source = MODEL_SOURCE_HF_FOLDER;
    char *cpath = join(dir, "config.json");
    if (!cpath) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    if (!file_exists(cpath)) {
        rs_status st = rs_fail(err, RS_ERR_INPUT, "%s: no config.json: not an HF model folder", dir);
        free(cpath);
        return st;
    }
    char *buf;
    size_t len;
    rs_status st = read_text(cpath, false, &buf, &len, err);
    if (st == RS_OK) {
        st = hf_config_parse(cpath, buf, len, m, err);
        free(buf);
    }
    free(cpath);
    if (st != RS_OK) return st;
    if ((st = read_generation_config(dir, m, err)) != RS_OK) return st;
    if ((st = read_chat_template(dir, m, err)) != RS_OK) return st;
    char *tpath = join(dir, "tokenizer.json");
    if (!tpath) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    m->has_tokenizer_json = file_exists(tpath);
    free(tpath);

    char **shards;
    int n_shards, n_missing;
    bool indexed;
    st = list_shards(dir, &shards, &n_shards, &n_missing, &indexed, err);
    if (st != RS_OK) return st;
    if (n_shards > 0 && n_missing == n_shards) {
        // A folder with the config and the index but no weights (a
        // "config-only" download): describe it from the config.
        snprintf(m->note, sizeof m->note,
                 "weights absent: the index names %d shard(s), none present; tensors from the config",
                 n_shards);
    } else if (n_missing > 0) {
        for (int i = 0; i < n_shards; i++) {
            char *p = join(dir, shards[i]);
            bool missing = p && !file_exists(p);
            free(p);
            if (missing) {
                st = rs_fail(err, RS_ERR_INPUT,
                             "%s/model.safetensors.index.json: field \"weight_map\": shard \"%s\" "
                             "is missing (%d of %d shards absent)",
                             dir, shards[i], n_missing, n_shards);
                break;
            }
        }
    } else if (n_shards > 0) {
        st = read_shards(dir, shards, n_shards, m, err);
        if (st == RS_OK) st = check_shards(dir, m, err);
    }
    bool have_weights = n_shards > 0 && n_missing == 0;
    for (int i = 0; i < n_shards; i++) free(shards[i]);
    free(shards);
    if (st != RS_OK) return st;

    // Packed quantized checkpoints (GPTQ, AWQ, bitsandbytes) store several
    // weights per element; FP8 is one weight per element and fully described.
    bool packed = m->quant_method[0] && strcmp(m->quant_method, "fp8") != 0;
    if (packed && !m->note[0])
        snprintf(m->note, sizeof m->note,
                 have_weights ? "quantization \"%s\": parameters count stored (packed) elements"
                              : "quantization \"%s\": without weight files, tensors are listed "
                                "unquantized",
                 m->quant_method);
    if (!have_weights) {
        if (m->arch_rules_known) {
            st = arch_synthesize(m, err);
            if (st != RS_OK) {
                rs_error_prefix(err, "%s/config.json: ", dir);
                return st;
            }
        } else if (!m->note[0]) {
            snprintf(m->note, sizeof m->note,
                     "architecture \"%s\" has no rules here and no weight files: no tensors",
                     m->arch_name ? m->arch_name : "?");
        }
    }
    arch_finish(m);
    return RS_OK;
}
