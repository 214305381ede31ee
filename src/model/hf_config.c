// config.json -> model_desc shapes and facts. Every field is type-checked
// and range-checked; a wrong type or an absurd value fails with one line
// naming the file and the field. Multimodal wrappers (Gemma 3) keep the
// language model's fields in a nested "text_config".
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_priv.h"
#include "model/name_check.h"

typedef struct cfg {
    const char *file;
    const cJSON *root;
    const cJSON *text; // text_config, or root
    rs_error *err;
    rs_status st;
} cfg;

// Looks a key up in text_config first, then at the top level. JSON null
// counts as absent: configs write "sliding_window": null for "none".
static const cJSON *cfg_item(const cfg *c, const char *key, const char **where)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->text, key);
    *where = c->text != c->root ? "text_config." : "";
    if (!v && c->text != c->root) {
        v = cJSON_GetObjectItemCaseSensitive(c->root, key);
        *where = "";
    }
    if (v && cJSON_IsNull(v)) return NULL;
    return v;
}

static void cfg_fail(cfg *c, const char *where, const char *key, const char *what)
{
    if (c->st != RS_OK) return;
    c->st = rs_fail(c->err, RS_ERR_INPUT, "%s: field \"%s%s\": %s", c->file, where, key, what);
}

static bool json_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi) return false;
    *out = (int64_t)d;
    return true;
}

// An integer in [lo, hi]; def when absent.
static int64_t cfg_int(cfg *c, const char *key, int64_t def, int64_t lo, int64_t hi)
{
    const char *where;
    const cJSON *v = cfg_item(c, key, &where);
    if (!v) return def;
    int64_t out;
    if (!json_int(v, lo, hi, &out)) {
        char what[96];
        if (!cJSON_IsNumber(v))
            snprintf(what, sizeof what, "expected an integer, got %s",
                     cJSON_IsString(v) ? "a string" : cJSON_IsBool(v) ? "a boolean" : "another type");
        else
            snprintf(what, sizeof what, "expected an integer in [%lld, %lld]", (long long)lo,
                     (long long)hi);
        cfg_fail(c, where, key, what);
        return def;
    }
    return out;
}

static bool cfg_has(const cfg *c, const char *key)
{
    const char *where;
    return cfg_item(c, key, &where) != NULL;
}

static double cfg_num(cfg *c, const char *key, double def)
{
    const char *where;
    const cJSON *v = cfg_item(c, key, &where);
    if (!v) return def;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        cfg_fail(c, where, key, "expected a number");
        return def;
    }
    return v->valuedouble;
}

static bool cfg_bool(cfg *c, const char *key, bool def)
{
    const char *where;
    const cJSON *v = cfg_item(c, key, &where);
    if (!v) return def;
    if (!cJSON_IsBool(v)) {
        cfg_fail(c, where, key, "expected true or false");
        return def;
    }
    return cJSON_IsTrue(v);
}

static const char *cfg_str(cfg *c, const cJSON *obj, const char *key, const char *where)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return NULL;
    if (!cJSON_IsString(v) || !v->valuestring) {
        cfg_fail(c, where, key, "expected a string");
        return NULL;
    }
    return v->valuestring;
}

// A required positive integer for architectures with rules.
static int64_t cfg_need(cfg *c, const char *key, int64_t hi)
{
    if (!cfg_has(c, key)) {
        cfg_fail(c, c->text != c->root ? "text_config." : "", key, "missing");
        return 0;
    }
    return cfg_int(c, key, 0, 1, hi);
}

// Token ids: an integer, or a list whose first entry is the id (Llama 3
// lists its end-of-turn ids after the end-of-text id).
static void cfg_token_id(cfg *c, const char *key, int64_t *first, int64_t *last)
{
    const char *where;
    const cJSON *v = cfg_item(c, key, &where);
    if (!v) return;
    int64_t id;
    if (cJSON_IsArray(v)) {
        int n = cJSON_GetArraySize(v);
        for (int i = 0; i < n; i++) {
            if (!json_int(cJSON_GetArrayItem(v, i), 0, INT32_MAX, &id)) {
                cfg_fail(c, where, key, "expected a list of token ids");
                return;
            }
            if (i == 0) *first = id;
            if (last && i == n - 1 && n > 1) *last = id;
        }
        return;
    }
    if (!json_int(v, 0, INT32_MAX, &id)) {
        cfg_fail(c, where, key, "expected a token id");
        return;
    }
    *first = id;
}

static dtype dtype_from_torch(const char *s)
{
    if (!s) return DTYPE_BF16;
    if (strcmp(s, "bfloat16") == 0) return DTYPE_BF16;
    if (strcmp(s, "float16") == 0 || strcmp(s, "half") == 0) return DTYPE_F16;
    if (strcmp(s, "float32") == 0 || strcmp(s, "float") == 0) return DTYPE_F32;
    return (dtype)-1;
}

static void cfg_rope(cfg *c, model_desc *m)
{
    // transformers 5 writes rope_parameters {rope_theta, rope_type, ...};
    // older configs write rope_theta and rope_scaling.
    const char *where;
    const cJSON *params = cfg_item(c, "rope_parameters", &where);
    const cJSON *sc = cfg_item(c, "rope_scaling", &where);
    if (params && !cJSON_IsObject(params)) {
        cfg_fail(c, where, "rope_parameters", "expected an object");
        return;
    }
    if (sc && !cJSON_IsObject(sc)) {
        cfg_fail(c, where, "rope_scaling", "expected an object or null");
        return;
    }
    if (!sc) sc = params;
    if (params) {
        const cJSON *th = cJSON_GetObjectItemCaseSensitive(params, "rope_theta");
        if (th && cJSON_IsNumber(th) && isfinite(th->valuedouble)) m->rope_theta = th->valuedouble;
    }
    if (!sc) return;
    const char *type = cfg_str(c, sc, "rope_type", "rope_scaling.");
    if (!type) type = cfg_str(c, sc, "type", "rope_scaling.");
    if (!type || strcmp(type, "default") == 0) return;
    if (strcmp(type, "linear") == 0) m->rope_scaling.type = ROPE_SCALING_LINEAR;
    else if (strcmp(type, "dynamic") == 0) m->rope_scaling.type = ROPE_SCALING_DYNAMIC;
    else if (strcmp(type, "yarn") == 0) m->rope_scaling.type = ROPE_SCALING_YARN;
    else if (strcmp(type, "llama3") == 0) m->rope_scaling.type = ROPE_SCALING_LLAMA3;
    else if (strcmp(type, "longrope") == 0 || strcmp(type, "su") == 0)
        m->rope_scaling.type = ROPE_SCALING_LONGROPE;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(sc, "factor");
    if (f && cJSON_IsNumber(f) && isfinite(f->valuedouble)) m->rope_scaling.factor = f->valuedouble;
    f = cJSON_GetObjectItemCaseSensitive(sc, "low_freq_factor");
    if (f && cJSON_IsNumber(f) && isfinite(f->valuedouble))
        m->rope_scaling.low_freq_factor = f->valuedouble;
    f = cJSON_GetObjectItemCaseSensitive(sc, "high_freq_factor");
    if (f && cJSON_IsNumber(f) && isfinite(f->valuedouble))
        m->rope_scaling.high_freq_factor = f->valuedouble;
    int64_t orig;
    f = cJSON_GetObjectItemCaseSensitive(sc, "original_max_position_embeddings");
    if (f && json_int(f, 1, INT64_C(1) << 40, &orig)) m->rope_scaling.original_ctx = orig;
}

// Which layers are MoE: Qwen's decoder_sparse_step and mlp_only_layers,
// DeepSeek's first_k_dense_replace and moe_layer_freq; Mixtral: all.
static void cfg_moe_layers(cfg *c, model_desc *m)
{
    if (m->n_expert <= 0 || c->st != RS_OK) return;
    m->layer_is_moe = calloc((size_t)m->n_layer, 1);
    if (!m->layer_is_moe) {
        c->st = rs_fail(c->err, RS_ERR_RUNTIME, "out of memory");
        return;
    }
    if (m->arch == MODEL_ARCH_DEEPSEEK_V3) {
        int64_t freq = cfg_int(c, "moe_layer_freq", 1, 1, 1 << 14);
        for (int64_t i = 0; i < m->n_layer; i++)
            m->layer_is_moe[i] = i >= m->n_layer_dense_lead && i % freq == 0;
        return;
    }
    if (m->arch == MODEL_ARCH_QWEN2_MOE || m->arch == MODEL_ARCH_QWEN3_MOE) {
        int64_t step = cfg_int(c, "decoder_sparse_step", 1, 1, 1 << 14);
        for (int64_t i = 0; i < m->n_layer; i++) m->layer_is_moe[i] = (i + 1) % step == 0;
        const char *where;
        const cJSON *only = cfg_item(c, "mlp_only_layers", &where);
        if (only && !cJSON_IsArray(only)) {
            cfg_fail(c, where, "mlp_only_layers", "expected a list of layer indices");
            return;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, only)
        {
            int64_t k;
            if (!json_int(it, 0, m->n_layer - 1, &k)) {
                cfg_fail(c, where, "mlp_only_layers", "expected layer indices below num_hidden_layers");
                return;
            }
            m->layer_is_moe[k] = 0;
        }
        return;
    }
    memset(m->layer_is_moe, 1, (size_t)m->n_layer);
}

// Sliding-window layers. A "layer_types" list (newer configs) names them;
// otherwise each architecture's rule: Gemma 2 alternates starting with a
// local layer, Gemma 3 has sliding_window_pattern - 1 local layers per
// global one, Mistral v0.1 slides on every layer, Qwen only with
// use_sliding_window from max_window_layers on.
static void cfg_swa(cfg *c, model_desc *m)
{
    int64_t win = cfg_int(c, "sliding_window", 0, 0, INT64_C(1) << 40);
    if (c->st != RS_OK || win <= 0 || m->n_layer <= 0) return;
    const char *where;
    const cJSON *types = cfg_item(c, "layer_types", &where);
    uint8_t *swa = calloc((size_t)m->n_layer, 1);
    if (!swa) {
        c->st = rs_fail(c->err, RS_ERR_RUNTIME, "out of memory");
        return;
    }
    int n_swa = 0;
    if (types) {
        if (!cJSON_IsArray(types) || cJSON_GetArraySize(types) != m->n_layer) {
            free(swa);
            cfg_fail(c, where, "layer_types", "expected one entry per layer");
            return;
        }
        for (int64_t i = 0; i < m->n_layer; i++) {
            const cJSON *t = cJSON_GetArrayItem(types, (int)i);
            if (!cJSON_IsString(t)) {
                free(swa);
                cfg_fail(c, where, "layer_types", "expected strings");
                return;
            }
            swa[i] = strcmp(t->valuestring, "sliding_attention") == 0;
        }
    } else if (m->arch == MODEL_ARCH_GEMMA2) {
        for (int64_t i = 0; i < m->n_layer; i++) swa[i] = i % 2 == 0;
    } else if (m->arch == MODEL_ARCH_GEMMA3) {
        int64_t pattern = cfg_int(c, "sliding_window_pattern", 6, 1, 1 << 14);
        for (int64_t i = 0; i < m->n_layer; i++) swa[i] = (i + 1) % pattern != 0;
    } else if (m->arch == MODEL_ARCH_MISTRAL || m->arch == MODEL_ARCH_MIXTRAL) {
        memset(swa, 1, (size_t)m->n_layer);
    } else if (m->arch == MODEL_ARCH_QWEN2 || m->arch == MODEL_ARCH_QWEN3 ||
               m->arch == MODEL_ARCH_QWEN2_MOE || m->arch == MODEL_ARCH_QWEN3_MOE) {
        if (cfg_bool(c, "use_sliding_window", false)) {
            int64_t from = cfg_int(c, "max_window_layers", 0, 0, INT64_C(1) << 20);
            for (int64_t i = from; i < m->n_layer; i++) swa[i] = 1;
        }
    }
    // Phi-3's config names a sliding_window, but llama.cpp and our engine
    // keep the full cache, so it is not applied here.
    for (int64_t i = 0; i < m->n_layer; i++) n_swa += swa[i];
    if (n_swa == 0) {
        free(swa);
        return;
    }
    m->sliding_window = win;
    m->layer_is_swa = swa;
}

#define MAX_DIM (INT64_C(1) << 20)
#define MAX_LAYERS (INT64_C(1) << 12)
#define MAX_VOCAB (INT64_C(1) << 24)
#define MAX_FF (INT64_C(1) << 22)
#define MAX_EXPERTS (INT64_C(1) << 12)

rs_status hf_config_from_json(const char *name, const cJSON *root, model_desc *m, rs_error *err)
{
    if (!cJSON_IsObject(root))
        return rs_fail(err, RS_ERR_INPUT, "%s: the top level is not a JSON object", name);
    cfg c = {name, root, root, err, RS_OK};
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "text_config");
    if (text && !cJSON_IsNull(text)) {
        if (!cJSON_IsObject(text))
            return rs_fail(err, RS_ERR_INPUT, "%s: field \"text_config\": expected an object", name);
        c.text = text;
    }

    // The architecture: the wrapper's model_type when we know it (gemma3),
    // else the language model's (gemma3_text).
    const char *top = cfg_str(&c, root, "model_type", "");
    const char *inner = c.text != root ? cfg_str(&c, c.text, "model_type", "text_config.") : NULL;
    if (c.st != RS_OK) return c.st;
    const char *type = top;
    if (arch_from_hf_type(top) == MODEL_ARCH_UNKNOWN && inner) type = inner;
    if (!type)
        return rs_fail(err, RS_ERR_INPUT, "%s: field \"model_type\": missing", name);
    free(m->arch_name);
    m->arch_name = strdup(type);
    if (!m->arch_name) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    m->arch = arch_from_hf_type(type);
    m->arch_rules_known = m->arch != MODEL_ARCH_UNKNOWN;
    bool known = m->arch_rules_known;
    bool gemma3 = m->arch == MODEL_ARCH_GEMMA3;

    const char *tdt = NULL;
    {
        const char *where;
        const cJSON *v = cfg_item(&c, "torch_dtype", &where);
        if (!v) v = cfg_item(&c, "dtype", &where);
        if (v && !cJSON_IsString(v)) cfg_fail(&c, where, "torch_dtype", "expected a string");
        else if (v) tdt = v->valuestring;
    }
    m->config_type = dtype_from_torch(tdt);
    if ((int)m->config_type < 0) {
        cfg_fail(&c, "", "torch_dtype", "expected bfloat16, float16 or float32");
        m->config_type = DTYPE_BF16;
    }

    // Shapes. Gemma 3's text_config leaves its defaults out
    // (Gemma3TextConfig: 8 heads, 4 KV heads, head_dim 256, vocab 262208).
    if (known && !gemma3) {
        m->n_embd = cfg_need(&c, "hidden_size", MAX_DIM);
        m->n_layer = cfg_need(&c, "num_hidden_layers", MAX_LAYERS);
        m->n_head = cfg_need(&c, "num_attention_heads", MAX_DIM);
        m->n_ff = cfg_need(&c, "intermediate_size", MAX_FF);
        m->n_vocab = cfg_need(&c, "vocab_size", MAX_VOCAB);
    } else {
        m->n_embd = cfg_int(&c, "hidden_size", gemma3 ? 2304 : 0, gemma3 ? 1 : 0, MAX_DIM);
        m->n_layer = cfg_int(&c, "num_hidden_layers", gemma3 ? 26 : 0, gemma3 ? 1 : 0, MAX_LAYERS);
        m->n_head = cfg_int(&c, "num_attention_heads", gemma3 ? 8 : 0, gemma3 ? 1 : 0, MAX_DIM);
        m->n_ff = cfg_int(&c, "intermediate_size", gemma3 ? 9216 : 0, gemma3 ? 1 : 0, MAX_FF);
        m->n_vocab = cfg_int(&c, "vocab_size", gemma3 ? 262208 : 0, gemma3 ? 1 : 0, MAX_VOCAB);
    }
    m->n_head_kv = cfg_int(&c, "num_key_value_heads", gemma3 ? 4 : m->n_head, 1, MAX_DIM);
    int64_t hd_default = gemma3 ? 256 : (m->n_head > 0 ? m->n_embd / m->n_head : 0);
    m->head_dim = cfg_int(&c, "head_dim", hd_default, 1, 1 << 16);
    if (c.st != RS_OK) return c.st;
    if (known && !cfg_has(&c, "head_dim") && !gemma3 && m->n_embd % m->n_head != 0)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: field \"num_attention_heads\": %lld does not divide hidden_size %lld",
                       name, (long long)m->n_head, (long long)m->n_embd);
    // Grouped-query attention shares each KV head among n_head / n_head_kv
    // query heads: anything else is a broken config.
    if (known && m->n_head > 0 && (m->n_head_kv > m->n_head || m->n_head % m->n_head_kv != 0))
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: field \"num_key_value_heads\": %lld does not divide "
                       "num_attention_heads %lld",
                       name, (long long)m->n_head_kv, (long long)m->n_head);
    m->n_ctx_train = cfg_int(&c, "max_position_embeddings", gemma3 ? 131072 : 0, 0, INT64_C(1) << 40);
    m->norm_eps = cfg_num(&c, "rms_norm_eps", cfg_num(&c, "layer_norm_eps", 1e-6));
    m->rope_theta = cfg_num(&c, "rope_theta", gemma3 ? 1e6 : 10000.0);
    cfg_rope(&c, m);
    double partial = cfg_num(&c, "partial_rotary_factor", 1.0);
    if (!(partial > 0 && partial <= 1)) cfg_fail(&c, "", "partial_rotary_factor", "expected (0, 1]");
    m->rope_dim = (int64_t)(m->head_dim * partial);

    // Embeddings are tied by default only where the model class says so.
    bool tie_default = m->arch == MODEL_ARCH_GEMMA2 || gemma3 || !known;
    m->tied_embeddings = cfg_bool(&c, "tie_word_embeddings", tie_default);
    m->lm_head_stored = !m->tied_embeddings;

    bool attention_bias = cfg_bool(&c, "attention_bias", false);
    switch (m->arch) {
    case MODEL_ARCH_QWEN2:
    case MODEL_ARCH_QWEN2_MOE:
        m->attn_qkv_bias = true; // Qwen2's q/k/v projections always carry a bias
        break;
    case MODEL_ARCH_LLAMA:
    case MODEL_ARCH_QWEN3:
    case MODEL_ARCH_QWEN3_MOE:
    case MODEL_ARCH_GEMMA2:
    case MODEL_ARCH_GEMMA3:
        m->attn_qkv_bias = attention_bias;
        m->attn_out_bias = attention_bias;
        break;
    default:
        break;
    }
    if (m->arch == MODEL_ARCH_LLAMA) m->mlp_bias = cfg_bool(&c, "mlp_bias", false);
    m->attn_qk_norm = m->arch == MODEL_ARCH_QWEN3 || m->arch == MODEL_ARCH_QWEN3_MOE || gemma3;

    // Mixture of experts and MLA.
    switch (m->arch) {
    case MODEL_ARCH_MIXTRAL:
        m->n_expert = cfg_int(&c, "num_local_experts", 8, 1, MAX_EXPERTS);
        m->n_expert_used = cfg_int(&c, "num_experts_per_tok", 2, 1, MAX_EXPERTS);
        m->n_ff_expert = m->n_ff;
        break;
    case MODEL_ARCH_QWEN2_MOE:
        m->n_ff_shared = cfg_int(&c, "shared_expert_intermediate_size", 0, 0, MAX_FF);
        m->n_expert_shared = m->n_ff_shared > 0;
        // fall through
    case MODEL_ARCH_QWEN3_MOE:
        m->n_expert = cfg_int(&c, "num_experts", 0, 0, MAX_EXPERTS);
        m->n_expert_used = cfg_int(&c, "num_experts_per_tok", 0, 0, MAX_EXPERTS);
        m->n_ff_expert = cfg_int(&c, "moe_intermediate_size", 0, 0, MAX_FF);
        break;
    case MODEL_ARCH_DEEPSEEK_V3:
        m->n_expert = cfg_int(&c, "n_routed_experts", 0, 0, MAX_EXPERTS);
        m->n_expert_used = cfg_int(&c, "num_experts_per_tok", 0, 0, MAX_EXPERTS);
        m->n_ff_expert = cfg_int(&c, "moe_intermediate_size", 0, 0, MAX_FF);
        m->n_expert_shared = cfg_int(&c, "n_shared_experts", 0, 0, MAX_EXPERTS);
        m->n_ff_shared = m->n_expert_shared * m->n_ff_expert;
        m->n_layer_dense_lead = cfg_int(&c, "first_k_dense_replace", 0, 0, m->n_layer);
        m->n_layer_mtp = cfg_int(&c, "num_nextn_predict_layers", 0, 0, 16);
        m->q_lora_rank = cfg_int(&c, "q_lora_rank", 0, 0, MAX_DIM);
        m->kv_lora_rank = cfg_need(&c, "kv_lora_rank", MAX_DIM);
        m->qk_nope_head_dim = cfg_need(&c, "qk_nope_head_dim", 1 << 16);
        m->qk_rope_head_dim = cfg_need(&c, "qk_rope_head_dim", 1 << 16);
        m->v_head_dim = cfg_need(&c, "v_head_dim", 1 << 16);
        // Every head has its own keys and values once the latent is expanded.
        m->n_head_kv = m->n_head;
        m->head_dim = m->qk_nope_head_dim + m->qk_rope_head_dim;
        m->rope_dim = m->qk_rope_head_dim;
        // The checkpoint's q/k rope dimensions come interleaved in pairs.
        m->rope_interleaved = true;
        break;
    default:
        break;
    }
    if (m->n_expert > 0 && (m->n_expert_used <= 0 || m->n_expert_used > m->n_expert ||
                            m->n_ff_expert <= 0))
        cfg_fail(&c, "", "num_experts_per_tok", "expected 1..experts, with an expert FFN width");
    if (m->n_expert_used > 0 && m->n_expert == 0) m->n_expert_used = 0;
    cfg_moe_layers(&c, m);

    // FP8 block-quantized checkpoints (DeepSeek-V3): weights in F8_E4M3
    // with one F32 scale per block.
    const char *where;
    const cJSON *q = cfg_item(&c, "quantization_config", &where);
    if (q && cJSON_IsObject(q)) {
        const cJSON *meth = cJSON_GetObjectItemCaseSensitive(q, "quant_method");
        if (cJSON_IsString(meth))
            snprintf(m->quant_method, sizeof m->quant_method, "%s", meth->valuestring);
        const cJSON *blk = cJSON_GetObjectItemCaseSensitive(q, "weight_block_size");
        if (cJSON_IsString(meth) && strcmp(meth->valuestring, "fp8") == 0 && cJSON_IsArray(blk) &&
            cJSON_GetArraySize(blk) == 2) {
            if (!json_int(cJSON_GetArrayItem(blk, 0), 1, 1 << 16, &m->fp8_block[0]) ||
                !json_int(cJSON_GetArrayItem(blk, 1), 1, 1 << 16, &m->fp8_block[1]))
                cfg_fail(&c, where, "quantization_config.weight_block_size",
                         "expected two positive integers");
        }
    }

    // Gemma 3's vision tower (SigLIP so400m defaults as Gemma3Config sets them).
    if (gemma3 && c.text != root) {
        const cJSON *vc = cJSON_GetObjectItemCaseSensitive(root, "vision_config");
        if (vc && cJSON_IsObject(vc)) {
            cfg v = {name, vc, vc, err, RS_OK};
            m->vision.n_embd = cfg_int(&v, "hidden_size", 1152, 1, MAX_DIM);
            m->vision.n_ff = cfg_int(&v, "intermediate_size", 4304, 1, MAX_FF);
            m->vision.n_layer = cfg_int(&v, "num_hidden_layers", 27, 1, MAX_LAYERS);
            m->vision.n_head = cfg_int(&v, "num_attention_heads", 16, 1, MAX_DIM);
            m->vision.patch_size = cfg_int(&v, "patch_size", 14, 1, 1 << 12);
            m->vision.image_size = cfg_int(&v, "image_size", 896, 1, 1 << 16);
            m->vision.n_channels = cfg_int(&v, "num_channels", 3, 1, 64);
            if (v.st != RS_OK) {
                rs_error_prefix(err, "vision_config: ");
                return v.st;
            }
            if (m->vision.image_size < m->vision.patch_size)
                return rs_fail(err, RS_ERR_INPUT,
                               "%s: field \"vision_config.image_size\": smaller than patch_size", name);
        }
    }

    cfg_swa(&c, m);
    cfg_token_id(&c, "bos_token_id", &m->bos_id, NULL);
    cfg_token_id(&c, "eos_token_id", &m->eos_id, &m->eot_id);
    cfg_token_id(&c, "pad_token_id", &m->pad_id, NULL);
    if (c.st != RS_OK) return c.st;
    if (!known && !m->note[0])
        snprintf(m->note, sizeof m->note,
                 "architecture \"%s\" has no rules here: figures come from the tensors alone", type);
    return RS_OK;
}

rs_status hf_config_parse(const char *name, const char *buf, size_t len, model_desc *m,
                          rs_error *err)
{
    // cJSON takes any bytes in strings; names and types from a config end up
    // in messages and output, so the text must be UTF-8.
    size_t bad = utf8_invalid_at((const uint8_t *)buf, len);
    if (bad < len)
        return rs_fail(err, RS_ERR_INPUT, "%s: not valid UTF-8 at byte %zu", name, bad);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
    if (!root) {
        size_t at = end && end >= buf ? (size_t)(end - buf) : 0;
        return rs_fail(err, RS_ERR_INPUT, "%s: invalid JSON near byte %zu", name, at);
    }
    rs_status st = hf_config_from_json(name, root, m, err);
    cJSON_Delete(root);
    return st;
}
