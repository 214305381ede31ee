// model_open: one entry point for every source. A directory is an HF
// folder, a file starting with "GGUF" is a GGUF file, anything else that
// does not exist on disk is looked up in the catalog.
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/catalog.h"
#include "model/gguf.h"
#include "model/model_priv.h"
#include "tok/chat_template.h"

void model_desc_init(model_desc *m)
{
    memset(m, 0, sizeof *m);
    m->bos_id = m->eos_id = m->eot_id = m->pad_id = -1;
    m->rope_theta = 10000.0;
    m->config_type = DTYPE_BF16;
    m->stored_type = DTYPE_BF16;
    m->chat_template_kind = "none";
}

void model_free(model_desc *m)
{
    if (!m) return;
    model_desc_clear(m);
    free(m);
}

void model_desc_clear(model_desc *m)
{
    free(m->path);
    free(m->name);
    free(m->arch_name);
    free(m->layer_is_swa);
    free(m->layer_is_moe);
    for (int i = 0; i < m->n_files; i++) free(m->files[i].path);
    free(m->files);
    model_tensors_clear(m);
    free(m->chat_template);
    if (m->gguf) gguf_close(m->gguf);
    model_desc_init(m);
}

// "Qwen/Qwen2.5-7B" may be a catalog id; "/x", "./x", "~/x", "a/b/c" and
// names ending in .gguf or .safetensors are paths.
static bool looks_like_path(const char *s)
{
    size_t n = strlen(s);
    const char *slash = strchr(s, '/');
    if (s[0] == '/' || s[0] == '.' || s[0] == '~') return true;
    if (slash && strchr(slash + 1, '/')) return true;
    if (n > 5 && strcmp(s + n - 5, ".gguf") == 0) return true;
    return n > 12 && strcmp(s + n - 12, ".safetensors") == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

// A file of an HF folder (its config.json or a .safetensors shard) names the
// folder: the description needs the config and every shard together.
static rs_status open_folder_of(const char *path, model_desc *m, rs_error *err)
{
    char *dir = strdup(path);
    if (!dir) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    else strcpy(dir, ".");
    m->source = MODEL_SOURCE_HF_FOLDER;
    rs_status st = hf_open(dir, m, err);
    // Display name: the folder's own name ("." resolved).
    char *real = st == RS_OK ? realpath(dir, NULL) : NULL;
    if (real) {
        const char *base = strrchr(real, '/');
        m->name = strdup(base && base[1] ? base + 1 : real);
        free(real);
    }
    free(dir);
    return st;
}

static rs_status open_file(const char *path, model_desc *m, rs_error *err)
{
    if (ends_with(path, "/config.json") || strcmp(path, "config.json") == 0 ||
        ends_with(path, ".safetensors"))
        return open_folder_of(path, m, err);
    FILE *f = fopen(path, "rb");
    if (!f) return rs_fail(err, RS_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    unsigned char magic[4] = {0};
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    if (n == 4 && memcmp(magic, "GGUF", 4) == 0) return gguf_model_open(path, m, err);
    return rs_fail(err, RS_ERR_INPUT,
                   "%s: not a GGUF file (no \"GGUF\" magic) and not a folder; name an HF folder, a "
                   "GGUF file or a catalog model",
                   path);
}

rs_status model_open(const char *path_or_name, model_desc **out, rs_error *err)
{
    *out = NULL;
    if (!path_or_name || !*path_or_name)
        return rs_fail(err, RS_ERR_INPUT, "no model named: give an HF folder, a GGUF file or a catalog name");
    model_desc *m = malloc(sizeof *m);
    if (!m) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    model_desc_init(m);
    m->path = strdup(path_or_name);
    if (!m->path) {
        model_free(m);
        return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    }

    rs_status st;
    struct stat sb;
    if (stat(path_or_name, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            m->source = MODEL_SOURCE_HF_FOLDER;
            st = hf_open(path_or_name, m, err);
        } else {
            m->source = MODEL_SOURCE_GGUF;
            st = open_file(path_or_name, m, err);
        }
    } else if (looks_like_path(path_or_name)) {
        st = rs_fail(err, RS_ERR_INPUT, "%s: no such file or folder", path_or_name);
    } else {
        m->source = MODEL_SOURCE_CATALOG;
        st = catalog_open(path_or_name, m, err);
    }
    if (st != RS_OK) {
        model_free(m);
        return st;
    }
    // The family the chat code will render it as ("chatml", "llama3", ...).
    m->chat_template_kind = chat_template_family_name(m->chat_template);
    if (!m->name) {
        // Display name: the last path component.
        const char *p = path_or_name + strlen(path_or_name);
        while (p > path_or_name && p[-1] == '/') p--;
        const char *end = p;
        while (p > path_or_name && p[-1] != '/') p--;
        m->name = strndup(p, (size_t)(end - p));
        if (!m->name) {
            model_free(m);
            return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
        }
    }
    *out = m;
    return RS_OK;
}
