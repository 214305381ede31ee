// A GGUF file -> model_desc: shapes from "<arch>.*" metadata, special ids
// from "tokenizer.ggml.*", tensors from the tensor infos. The file stays
// open in m->gguf for the tokenizer and the engine.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "model/model_priv.h"

typedef struct gk {
    const gguf_file *f;
    const char *arch; // general.architecture
} gk;

// "<arch>.<suffix>" as an integer; arrays (per-layer values such as
// head_count_kv in some files) give their largest element.
static bool arch_int(const gk *g, const char *suffix, int64_t *out)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", g->arch, suffix);
    const gguf_kv *kv = gguf_find(g->f, key);
    if (kv && kv->type == GGUF_TYPE_ARRAY && kv->arr_type != GGUF_TYPE_STRING &&
        kv->arr_type != GGUF_TYPE_ARRAY && kv->arr_n > 0) {
        int64_t best = 0;
        for (uint64_t i = 0; i < kv->arr_n; i++) {
            int64_t v = gguf_arr_int(kv, i);
            if (v > best) best = v;
        }
        *out = best;
        return true;
    }
    return gguf_get_int(g->f, key, out);
}

static int64_t arch_int_or(const gk *g, const char *suffix, int64_t def)
{
    int64_t v;
    return arch_int(g, suffix, &v) ? v : def;
}

static double arch_float_or(const gk *g, const char *suffix, double def)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", g->arch, suffix);
    double v;
    return gguf_get_float(g->f, key, &v) ? v : def;
}

static int64_t tok_id(const gguf_file *f, const char *key)
{
    int64_t v;
    return gguf_get_int(f, key, &v) && v >= 0 ? v : -1;
}

// Bounds for values that size later allocations (plan, engine).
static rs_status check_range(const char *path, const char *arch, const char *key, int64_t v,
                             int64_t lo, int64_t hi, rs_error *err)
{
    if (v < lo || v > hi)
        return rs_fail(err, RS_ERR_INPUT, "%s: field \"%s.%s\": %lld is outside [%lld, %lld]", path,
                       arch, key, (long long)v, (long long)lo, (long long)hi);
    return RS_OK;
}

rs_status gguf_model_open(const char *path, model_desc *m, rs_error *err)
{
    m->source = MODEL_SOURCE_GGUF;
    gguf_file *f;
    rs_status st = gguf_open(path, &f, err);
    if (st != RS_OK) return st;
    m->gguf = f;

    m->files = calloc(1, sizeof *m->files);
    if (!m->files || !(m->files[0].path = strdup(path)))
        return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    m->n_files = 1;
    m->files[0].size = f->size;
    m->file_bytes = f->size;

    const char *arch = gguf_get_str(f, "general.architecture");
    if (!arch) return rs_fail(err, RS_ERR_INPUT, "%s: field \"general.architecture\": missing", path);
    m->arch_name = strdup(arch);
    if (!m->arch_name) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    m->arch = arch_from_gguf_name(arch);
    gk g = {f, arch};

    m->n_layer = arch_int_or(&g, "block_count", 0);
    m->n_embd = arch_int_or(&g, "embedding_length", 0);
    m->n_ff = arch_int_or(&g, "feed_forward_length", 0);
    m->n_head = arch_int_or(&g, "attention.head_count", 0);
    m->n_head_kv = arch_int_or(&g, "attention.head_count_kv", m->n_head);
    m->n_ctx_train = arch_int_or(&g, "context_length", 0);
    if ((st = check_range(path, arch, "block_count", m->n_layer, 0, 1 << 12, err)) ||
        (st = check_range(path, arch, "embedding_length", m->n_embd, 0, 1 << 20, err)) ||
        (st = check_range(path, arch, "feed_forward_length", m->n_ff, 0, 1 << 22, err)) ||
        (st = check_range(path, arch, "attention.head_count", m->n_head, 0, 1 << 20, err)) ||
        (st = check_range(path, arch, "attention.head_count_kv", m->n_head_kv, 0, 1 << 20, err)) ||
        (st = check_range(path, arch, "context_length", m->n_ctx_train, 0, INT64_C(1) << 40, err)))
        return st;
    int64_t hd_default = m->n_head > 0 ? m->n_embd / m->n_head : 0;
    m->head_dim = arch_int_or(&g, "attention.key_length", hd_default);
    if ((st = check_range(path, arch, "attention.key_length", m->head_dim, 0, 1 << 16, err)))
        return st;
    m->rope_dim = arch_int_or(&g, "rope.dimension_count", m->head_dim);
    m->rope_theta = arch_float_or(&g, "rope.freq_base", 10000.0);
    m->norm_eps = arch_float_or(&g, "attention.layer_norm_rms_epsilon",
                                arch_float_or(&g, "attention.layer_norm_epsilon", 1e-5));
    const char *scaling;
    {
        char key[160];
        snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
        scaling = gguf_get_str(f, key);
    }
    if (scaling) {
        if (strcmp(scaling, "linear") == 0) m->rope_scaling.type = ROPE_SCALING_LINEAR;
        else if (strcmp(scaling, "yarn") == 0) m->rope_scaling.type = ROPE_SCALING_YARN;
        m->rope_scaling.factor = arch_float_or(&g, "rope.scaling.factor", 0);
        m->rope_scaling.original_ctx = arch_int_or(&g, "rope.scaling.original_context_length", 0);
    }
    // llama.cpp's converter permutes q/k of the llama family so that
    // adjacent pairs rotate (rope type NORM); Qwen, Gemma and Phi-3 keep the
    // HF halves (NEOX).
    m->rope_interleaved = strcmp(arch, "llama") == 0 || strcmp(arch, "deepseek2") == 0;

    m->n_expert = arch_int_or(&g, "expert_count", 0);
    m->n_expert_used = arch_int_or(&g, "expert_used_count", 0);
    if ((st = check_range(path, arch, "expert_count", m->n_expert, 0, 1 << 12, err)) ||
        (st = check_range(path, arch, "expert_used_count", m->n_expert_used, 0, m->n_expert, err)))
        return st;
    if (m->n_expert > 0) {
        if (m->arch == MODEL_ARCH_LLAMA) m->arch = MODEL_ARCH_MIXTRAL;
        m->n_expert_shared = arch_int_or(&g, "expert_shared_count", 0);
        m->n_ff_expert = arch_int_or(&g, "expert_feed_forward_length", m->n_ff);
        m->n_ff_shared = arch_int_or(&g, "expert_shared_feed_forward_length",
                                     m->n_expert_shared * m->n_ff_expert);
        m->n_layer_dense_lead = arch_int_or(&g, "leading_dense_block_count", 0);
    }
    if (m->arch == MODEL_ARCH_DEEPSEEK_V3) {
        m->q_lora_rank = arch_int_or(&g, "attention.q_lora_rank", 0);
        m->kv_lora_rank = arch_int_or(&g, "attention.kv_lora_rank", 0);
        m->qk_rope_head_dim = m->rope_dim;
        m->qk_nope_head_dim = m->head_dim - m->rope_dim;
        m->v_head_dim = arch_int_or(&g, "attention.value_length", m->head_dim);
        m->n_layer_mtp = arch_int_or(&g, "nextn_predict_layers", 0);
        if ((st = check_range(path, arch, "attention.kv_lora_rank", m->kv_lora_rank, 0, 1 << 20, err)) ||
            (st = check_range(path, arch, "rope.dimension_count", m->rope_dim, 0, m->head_dim, err)))
            return st;
    }
    m->attn_qk_norm = m->arch == MODEL_ARCH_QWEN3 || m->arch == MODEL_ARCH_QWEN3_MOE ||
                      m->arch == MODEL_ARCH_GEMMA3;

    // Sliding window: Gemma 2 alternates, Gemma 3 has 5 local per global.
    int64_t win = arch_int_or(&g, "attention.sliding_window", 0);
    if (win > 0 && m->n_layer > 0 &&
        (m->arch == MODEL_ARCH_GEMMA2 || m->arch == MODEL_ARCH_GEMMA3)) {
        m->layer_is_swa = calloc((size_t)m->n_layer, 1);
        if (!m->layer_is_swa) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
        for (int64_t i = 0; i < m->n_layer; i++)
            m->layer_is_swa[i] = m->arch == MODEL_ARCH_GEMMA2 ? i % 2 == 0 : (i + 1) % 6 != 0;
        m->sliding_window = win;
    }

    // Tokenizer metadata.
    const gguf_kv *toks = gguf_find(f, "tokenizer.ggml.tokens");
    if (toks && toks->type == GGUF_TYPE_ARRAY) m->n_vocab = (int64_t)toks->arr_n;
    m->bos_id = tok_id(f, "tokenizer.ggml.bos_token_id");
    m->eos_id = tok_id(f, "tokenizer.ggml.eos_token_id");
    m->eot_id = tok_id(f, "tokenizer.ggml.eot_token_id");
    m->pad_id = tok_id(f, "tokenizer.ggml.padding_token_id");
    const char *tmpl = gguf_get_str(f, "tokenizer.chat_template");
    if (tmpl && !(m->chat_template = strdup(tmpl))) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");

    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor_info *t = &f->tensors[i];
        st = model_add_tensor(m, t->name, t->type, t->n_dims, t->ne, 0, t->offset, err);
        if (st != RS_OK) {
            rs_error_prefix(err, "%s: ", path);
            return st;
        }
    }
    // Vocabulary size from the embedding when the tokenizer is absent.
    const model_tensor *emb = model_find_tensor(m, "token_embd.weight");
    if (m->n_vocab == 0 && emb && emb->n_dims == 2) m->n_vocab = emb->ne[1];
    const model_tensor *out = model_find_tensor(m, "output.weight");
    m->tied_embeddings = emb && !out;
    m->lm_head_stored = out != NULL;
    m->attn_qkv_bias = model_find_tensor(m, "blk.0.attn_q.bias") != NULL;
    // The "config type" of a GGUF is its embedding's type (F32 for
    // stories260K, F16/BF16 for unquantized conversions).
    m->config_type = emb ? emb->type : DTYPE_F32;
    m->arch_rules_known = m->arch != MODEL_ARCH_UNKNOWN;
    if (f->n_tensors == 0)
        snprintf(m->note, sizeof m->note, "vocabulary-only GGUF: no tensors%s%s%s",
                 m->arch_rules_known ? "" : "; no rules for architecture \"",
                 m->arch_rules_known ? "" : arch, m->arch_rules_known ? "" : "\"");
    else if (!m->arch_rules_known)
        snprintf(m->note, sizeof m->note,
                 "architecture \"%s\" has no rules here: figures come from the tensors alone", arch);
    arch_finish(m);
    return RS_OK;
}
