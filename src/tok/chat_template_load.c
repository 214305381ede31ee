// Finding a model's chat template: HF folder (tokenizer_config.json or
// chat_template.jinja), GGUF metadata, or a template file given directly.
#include "tok/chat_template.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/gguf.h"

// Template files are small; anything past this is not a chat template.
#define CHAT_TEMPLATE_MAX_FILE (64u << 20)

static rs_status read_file(const char *path, char **out, size_t *len, rs_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return rs_fail(err, RS_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return rs_fail(err, RS_ERR_INPUT, "%s: not a regular file", path);
    }
    if ((unsigned long long)st.st_size > CHAT_TEMPLATE_MAX_FILE) {
        fclose(f);
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: %lld bytes is too large for a tokenizer config or template", path,
                       (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
    }
    if (fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return rs_fail(err, RS_ERR_RUNTIME, "%s: read error", path);
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return RS_OK;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

// tokenizer_config.json stores a special token as a string or as an
// AddedToken object {"content": "...", ...}.
static char *json_token(const cJSON *root, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (cJSON_IsString(v)) return strdup(v->valuestring);
    if (cJSON_IsObject(v)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (cJSON_IsString(c)) return strdup(c->valuestring);
    }
    return NULL;
}

// "chat_template": a string, or a list of {"name", "template"} of which
// transformers uses the one named "default".
static rs_status json_template(const cJSON *root, const char *path, char **out, rs_error *err)
{
    *out = NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "chat_template");
    if (!t || cJSON_IsNull(t)) return RS_OK;
    if (cJSON_IsString(t)) {
        *out = strdup(t->valuestring);
        return *out ? RS_OK : rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
    }
    if (!cJSON_IsArray(t))
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: field \"chat_template\": neither a string nor a list", path);
    const cJSON *item;
    cJSON_ArrayForEach(item, t)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
        const cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(item, "template");
        if (!cJSON_IsString(name) || !cJSON_IsString(tmpl))
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: field \"chat_template\": a list entry lacks string \"name\" and "
                           "\"template\"",
                           path);
        if (strcmp(name->valuestring, "default") == 0) {
            *out = strdup(tmpl->valuestring);
            return *out ? RS_OK : rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
        }
    }
    return rs_fail(err, RS_ERR_INPUT,
                   "%s: field \"chat_template\": a list of templates without one named \"default\"",
                   path);
}

static rs_status load_tokenizer_config(const char *path, chat_template_info *out, rs_error *err)
{
    char *text;
    rs_status st = read_file(path, &text, NULL, err);
    if (st != RS_OK) return st;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return rs_fail(err, RS_ERR_INPUT, "%s: not a JSON object", path);
    }
    st = json_template(root, path, &out->text, err);
    if (st == RS_OK) {
        out->bos_token = json_token(root, "bos_token");
        out->eos_token = json_token(root, "eos_token");
        out->source = strdup(path);
    }
    cJSON_Delete(root);
    return st;
}

static char *gguf_token_text(const gguf_file *g, const char *id_key)
{
    int64_t id;
    const gguf_kv *tokens = gguf_find(g, "tokenizer.ggml.tokens");
    if (!gguf_get_int(g, id_key, &id) || !tokens || tokens->type != GGUF_TYPE_ARRAY ||
        tokens->arr_type != GGUF_TYPE_STRING || id < 0 || (uint64_t)id >= tokens->arr_n)
        return NULL;
    uint64_t len;
    const char *s = gguf_arr_str(g, tokens, (uint64_t)id, &len);
    return s ? strndup(s, (size_t)len) : NULL;
}

static rs_status load_gguf(const char *path, chat_template_info *out, rs_error *err)
{
    gguf_file *g;
    rs_status st = gguf_open(path, &g, err);
    if (st != RS_OK) return st;
    out->text = dup_or_null(gguf_get_str(g, "tokenizer.chat_template"));
    out->bos_token = gguf_token_text(g, "tokenizer.ggml.bos_token_id");
    out->eos_token = gguf_token_text(g, "tokenizer.ggml.eos_token_id");
    out->source = strdup(path);
    gguf_close(g);
    return RS_OK;
}

static bool is_gguf(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char magic[4] = {0};
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(magic, "GGUF", 4) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

rs_status chat_template_load(const char *path, chat_template_info *out, rs_error *err)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) != 0) return rs_fail(err, RS_ERR_INPUT, "%s: no such file or folder", path);
    rs_status rc;
    if (S_ISDIR(st.st_mode)) {
        char p[4096];
        snprintf(p, sizeof p, "%s/tokenizer_config.json", path);
        if (file_exists(p)) {
            rc = load_tokenizer_config(p, out, err);
            if (rc != RS_OK || out->text) goto done;
        }
        // Newer transformers save the template beside the config.
        snprintf(p, sizeof p, "%s/chat_template.jinja", path);
        if (file_exists(p)) {
            rc = read_file(p, &out->text, NULL, err);
            if (rc == RS_OK) {
                free(out->source);
                out->source = strdup(p);
            }
            goto done;
        }
        // Processors (vision-language models) keep it in chat_template.json.
        snprintf(p, sizeof p, "%s/chat_template.json", path);
        if (file_exists(p)) {
            chat_template_info js;
            rc = load_tokenizer_config(p, &js, err);
            if (rc != RS_OK) goto done;
            out->text = js.text;
            js.text = NULL;
            free(out->source);
            out->source = js.source;
            js.source = NULL;
            chat_template_info_free(&js);
            if (out->text) goto done;
        }
        if (!out->source) {
            rc =
                rs_fail(err, RS_ERR_INPUT,
                        "%s: no tokenizer_config.json or chat_template.jinja in this folder", path);
            goto done;
        }
        rc = RS_OK;
        goto done;
    }
    if (is_gguf(path)) {
        rc = load_gguf(path, out, err);
    } else if (ends_with(path, ".json")) {
        rc = load_tokenizer_config(path, out, err);
    } else {
        // A template file (.jinja) given directly.
        rc = read_file(path, &out->text, NULL, err);
        if (rc == RS_OK) out->source = strdup(path);
    }
done:
    if (rc != RS_OK) chat_template_info_free(out);
    return rc;
}

void chat_template_info_free(chat_template_info *info)
{
    if (!info) return;
    free(info->text);
    free(info->source);
    free(info->bos_token);
    free(info->eos_token);
    memset(info, 0, sizeof *info);
}

rs_status chat_template_resolve(const chat_template_info *info, const char *override,
                                chat_family *family, char **default_system, rs_error *err)
{
    *family = CHAT_FAMILY_UNKNOWN;
    *default_system = NULL;
    const char *where = info->source ? info->source : "the model";
    char *override_text = NULL;
    if (override) {
        *family = chat_family_from_name(override);
        if (*family == CHAT_FAMILY_UNKNOWN && file_exists(override)) {
            chat_template_info ov;
            rs_status st = chat_template_load(override, &ov, err);
            if (st != RS_OK) {
                rs_error_prefix(err, "--chat-template");
                return st;
            }
            override_text = ov.text;
            ov.text = NULL;
            chat_template_info_free(&ov);
            *family = chat_family_detect(override_text);
        }
        if (*family == CHAT_FAMILY_UNKNOWN) {
            free(override_text);
            return rs_fail(err, RS_ERR_INPUT,
                           "--chat-template \"%s\" is neither a known family nor a template file "
                           "whose family is known; families: %s",
                           override, chat_family_list());
        }
    } else if (!info->text) {
        return rs_fail(err, RS_ERR_INPUT,
                       "%s has no chat template; pass --chat-template NAME (one of: %s)", where,
                       chat_family_list());
    } else {
        *family = chat_family_detect(info->text);
        if (*family == CHAT_FAMILY_UNKNOWN)
            return rs_fail(err, RS_ERR_INPUT,
                           "warning: the chat template in %s is not one of the families rightsize "
                           "renders, and guessing would give the model a wrong prompt; pass "
                           "--chat-template NAME (one of: %s)",
                           where, chat_family_list());
    }
    // The template that chose the family knows its default system prompt;
    // with a family name as override, the model's own template does.
    *default_system = chat_template_default_system(override_text ? override_text : info->text, 0);
    free(override_text);
    return RS_OK;
}
