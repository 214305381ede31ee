#include "plan/memory.h"

#include "engine/quant.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const plan_precision_kind plan_standard_precisions[PLAN_N_STANDARD] = {
    PLAN_PREC_F32, PLAN_PREC_BF16, PLAN_PREC_F16, PLAN_PREC_INT8, PLAN_PREC_INT4,
};

static const struct {
    const char *name;
    plan_precision_kind kind;
} precision_names[] = {
    {"stored", PLAN_PREC_STORED}, {"fp32", PLAN_PREC_F32}, {"f32", PLAN_PREC_F32},
    {"bf16", PLAN_PREC_BF16},     {"fp16", PLAN_PREC_F16}, {"f16", PLAN_PREC_F16},
    {"int8", PLAN_PREC_INT8},     {"int4", PLAN_PREC_INT4},
};

rs_status plan_precision_parse(const char *s, plan_precision *out, rs_error *err)
{
    if (!s || !*s) return rs_fail(err, RS_ERR_INPUT, "--precision: empty value");
    for (size_t i = 0; i < sizeof precision_names / sizeof precision_names[0]; i++)
        if (strcasecmp(s, precision_names[i].name) == 0) {
            *out = plan_precision_of(precision_names[i].kind);
            return RS_OK;
        }
    int t = dtype_from_name(s);
    if (t >= 0 && t < DTYPE_GGML_COUNT && (dtype_is_quantized((dtype)t) || t == DTYPE_F32 ||
                                           t == DTYPE_F16 || t == DTYPE_BF16)) {
        out->kind = PLAN_PREC_GGUF;
        out->type = (dtype)t;
        return RS_OK;
    }
    return rs_fail(err, RS_ERR_INPUT,
                   "--precision: \"%s\" is not a precision (stored, fp32, bf16, fp16, int8, "
                   "int4, or a GGUF type such as q4_k, q6_k)",
                   s);
}

const char *plan_precision_name(plan_precision p)
{
    switch (p.kind) {
    case PLAN_PREC_STORED: return "stored";
    case PLAN_PREC_F32: return "fp32";
    case PLAN_PREC_BF16: return "bf16";
    case PLAN_PREC_F16: return "fp16";
    case PLAN_PREC_INT8: return "int8";
    case PLAN_PREC_INT4: return "int4";
    case PLAN_PREC_GGUF: return dtype_name(p.type);
    }
    return "?";
}

// ---- Tensor roles ------------------------------------------------------------

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

// Parses the digits at s into *out; false if there are none.
static bool parse_index(const char *s, int64_t *out)
{
    if (!isdigit((unsigned char)*s)) return false;
    int64_t v = 0;
    while (isdigit((unsigned char)*s)) {
        if (v > 100000000) return false; // no model has this many blocks
        v = v * 10 + (*s++ - '0');
    }
    if (*s != '.') return false;
    *out = v;
    return true;
}

static bool tensor_block_index(const char *name, int64_t *out)
{
    if (strncmp(name, "blk.", 4) == 0) return parse_index(name + 4, out);
    if (strncmp(name, "layers.", 7) == 0) return parse_index(name + 7, out);
    const char *p = strstr(name, ".layers.");
    return p && parse_index(p + 8, out);
}

static bool is_vision_tensor(const char *name)
{
    return strstr(name, "vision") || strstr(name, "multi_modal_projector") ||
           strncmp(name, "v.", 2) == 0 || strncmp(name, "mm.", 3) == 0;
}

static bool is_embd_tensor(const char *name)
{
    return strcmp(name, "token_embd.weight") == 0 || ends_with(name, "embed_tokens.weight") ||
           ends_with(name, "tok_embeddings.weight") || ends_with(name, "wte.weight");
}

plan_tensor_role plan_tensor_role_of(const model_desc *m, const model_tensor *t, int64_t *layer)
{
    int64_t il = -1;
    plan_tensor_role role;
    if (is_vision_tensor(t->name))
        role = PLAN_ROLE_SKIP;
    else if (tensor_block_index(t->name, &il))
        // Blocks past n_layer are DeepSeek's next-token-prediction layers,
        // which generation never runs (llama.cpp skips them too).
        role = (m && m->n_layer > 0 && il >= m->n_layer) ? PLAN_ROLE_SKIP : PLAN_ROLE_LAYER;
    else if (is_embd_tensor(t->name))
        role = PLAN_ROLE_EMBD;
    else
        role = PLAN_ROLE_OUTPUT;
    if (layer) *layer = role == PLAN_ROLE_LAYER ? il : -1;
    return role;
}

bool plan_tensor_is_routed_expert(const model_tensor *t)
{
    return strstr(t->name, "_exps.") || strstr(t->name, ".experts.");
}

// MoE routers decide which experts run; llama.cpp's quantizer keeps them in
// F32 (ffn_gate_inp) because a small error there changes the routing.
static bool is_router_tensor(const char *name)
{
    return strstr(name, "ffn_gate_inp") || ends_with(name, "mlp.gate.weight") ||
           ends_with(name, "block_sparse_moe.gate.weight") ||
           ends_with(name, "shared_expert_gate.weight");
}

static bool is_output_head(const char *name)
{
    return strcmp(name, "output.weight") == 0 || ends_with(name, "lm_head.weight");
}

static bool is_integer_type(dtype t)
{
    return t == DTYPE_I8 || t == DTYPE_I16 || t == DTYPE_I32 || t == DTYPE_I64 || t == DTYPE_U8 ||
           t == DTYPE_BOOL || t == DTYPE_U16 || t == DTYPE_U32 || t == DTYPE_U64;
}

// Where a row does not divide into the target's blocks, llama.cpp's
// quantizer substitutes a type with 32-element blocks (llama-quant.cpp);
// Q4_K goes to Q4_0 here (llama.cpp: Q5_0) because the engine's int4
// kernels are Q4_K and Q4_0. Anything still not dividing becomes F16.
static dtype fallback_type(dtype t)
{
    switch (t) {
    case DTYPE_Q4_K: return DTYPE_Q4_0;
    case DTYPE_Q5_K: return DTYPE_Q5_1;
    case DTYPE_Q6_K: return DTYPE_Q8_0;
    case DTYPE_Q2_K:
    case DTYPE_Q3_K:
    case DTYPE_IQ2_XXS:
    case DTYPE_IQ2_XS:
    case DTYPE_IQ2_S:
    case DTYPE_IQ3_XXS:
    case DTYPE_IQ3_S:
    case DTYPE_IQ1_S:
    case DTYPE_IQ1_M:
    case DTYPE_IQ4_XS: return DTYPE_IQ4_NL;
    case DTYPE_TQ1_0:
    case DTYPE_TQ2_0: return DTYPE_Q4_0;
    default: return DTYPE_F16;
    }
}

static dtype fit_row(dtype t, int64_t ne0)
{
    for (int i = 0; i < 3; i++) {
        int64_t be = dtype_block_elems(t);
        if (be > 0 && ne0 % be == 0) return t;
        t = fallback_type(t);
    }
    return DTYPE_F16;
}

static dtype tensor_type(const model_tensor *t, plan_precision p, bool as_head, bool router)
{
    if (p.kind == PLAN_PREC_STORED || is_integer_type(t->type)) return t->type;
    bool matrix = t->n_dims >= 2 && t->n_elems > t->ne[0];
    if (!matrix || router) return DTYPE_F32;
    dtype target;
    switch (p.kind) {
    case PLAN_PREC_F32: return DTYPE_F32;
    case PLAN_PREC_BF16: return DTYPE_BF16;
    case PLAN_PREC_F16: return DTYPE_F16;
    case PLAN_PREC_INT8: target = DTYPE_Q8_0; break;
    // The output head is the most sensitive matrix: llama.cpp's Q4_K_M and
    // Q4_K_S both store it as Q6_K.
    case PLAN_PREC_INT4: target = as_head ? DTYPE_Q6_K : DTYPE_Q4_K; break;
    case PLAN_PREC_GGUF: target = p.type; break;
    default: return t->type;
    }
    return fit_row(target, t->ne[0]);
}

dtype plan_tensor_type(const model_tensor *t, plan_precision p)
{
    return tensor_type(t, p, is_output_head(t->name), is_router_tensor(t->name));
}

dtype plan_model_tensor_type(const model_desc *m, const model_tensor *t, plan_precision p)
{
    bool head = is_output_head(t->name) || (m && m->tied_embeddings && is_embd_tensor(t->name));
    return tensor_type(t, p, head, is_router_tensor(t->name));
}

uint64_t plan_tensor_bytes(const model_desc *m, const model_tensor *t, plan_precision p)
{
    dtype ty = plan_model_tensor_type(m, t, p);
    int64_t b = dtype_tensor_bytes(ty, t->ne[0], t->n_elems);
    return b < 0 ? 0 : (uint64_t)b;
}

uint64_t plan_weights_bytes(const model_desc *m, plan_precision p)
{
    uint64_t b = 0;
    for (int64_t i = 0; i < m->n_tensors; i++)
        if (plan_tensor_role_of(m, &m->tensors[i], NULL) != PLAN_ROLE_SKIP)
            b += plan_tensor_bytes(m, &m->tensors[i], p);
    return b;
}

rs_status plan_classes_init(plan_classes *pc, const model_desc *m, rs_error *err)
{
    memset(pc, 0, sizeof *pc);
    pc->n = m->n_tensors > 0 ? m->n_tensors : 0;
    pc->stored_runnable = true;
    pc->unrunnable = DTYPE_F32;
    pc->c = calloc((size_t)(pc->n > 0 ? pc->n : 1), sizeof *pc->c);
    if (!pc->c) return rs_fail(err, RS_ERR_RUNTIME, "plan: out of memory for %lld tensors",
                               (long long)pc->n);
    for (int64_t i = 0; i < pc->n; i++) {
        const model_tensor *t = &m->tensors[i];
        plan_tensor_class *c = &pc->c[i];
        c->role = (uint8_t)plan_tensor_role_of(m, t, &c->layer);
        bool in_block = c->role == PLAN_ROLE_LAYER;
        c->routed = in_block && plan_tensor_is_routed_expert(t);
        c->router = in_block && is_router_tensor(t->name);
        c->head = !in_block && is_output_head(t->name);
        c->embd = c->role == PLAN_ROLE_EMBD;
        c->scale = ends_with(t->name, "_scale_inv") || ends_with(t->name, ".weight_scale");
        if (c->head) pc->has_head = true;
        if (c->role != PLAN_ROLE_SKIP && !quant_supported(t->type) && !is_integer_type(t->type) &&
            pc->stored_runnable) {
            pc->stored_runnable = false;
            pc->unrunnable = t->type;
        }
    }
    // The same rule as plan_model_tensor_type, which the engine converts by.
    for (int64_t i = 0; i < pc->n; i++)
        pc->c[i].as_head = pc->c[i].head || (pc->c[i].embd && m->tied_embeddings);
    return RS_OK;
}

void plan_classes_free(plan_classes *pc)
{
    if (!pc) return;
    free(pc->c);
    pc->c = NULL;
    pc->n = 0;
}

rs_status plan_weights_init_classes(plan_weights *w, const model_desc *m, const plan_classes *pc,
                                    plan_precision p, rs_error *err)
{
    memset(w, 0, sizeof *w);
    w->n_layer = m->n_layer > 0 ? m->n_layer : 0;
    size_t n = (size_t)(w->n_layer > 0 ? w->n_layer : 1);
    w->layer = calloc(n, sizeof *w->layer);
    w->layer_active = calloc(n, sizeof *w->layer_active);
    w->layer_active_params = calloc(n, sizeof *w->layer_active_params);
    if (!w->layer || !w->layer_active || !w->layer_active_params) {
        plan_weights_free(w);
        return rs_fail(err, RS_ERR_RUNTIME, "plan: out of memory for %zu layers", n);
    }
    uint64_t embd_params = 0, last_bytes = 0;
    dtype last_type = DTYPE_COUNT;
    int64_t last_ne0 = -1, last_n = -1;
    double used = m->n_expert > 0 && m->n_expert_used > 0
                      ? (double)m->n_expert_used / (double)m->n_expert
                      : 1.0;
    for (int64_t i = 0; i < pc->n && i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        const plan_tensor_class *c = &pc->c[i];
        if (c->role == PLAN_ROLE_SKIP || (c->scale && p.kind != PLAN_PREC_STORED)) continue;
        // Experts come in runs of identical shapes: remember the last size.
        dtype ty = tensor_type(t, p, c->as_head, c->router);
        if (ty != last_type || t->ne[0] != last_ne0 || t->n_elems != last_n) {
            int64_t b = dtype_tensor_bytes(ty, t->ne[0], t->n_elems);
            last_type = ty;
            last_ne0 = t->ne[0];
            last_n = t->n_elems;
            last_bytes = b < 0 ? 0 : (uint64_t)b;
        }
        uint64_t ub = last_bytes;
        if (c->role == PLAN_ROLE_LAYER && c->layer < w->n_layer) {
            int64_t il = c->layer;
            w->layer[il] += ub;
            // Only n_expert_used of the n_expert routed experts are read
            // for a token.
            if (c->routed) {
                w->layer_active[il] += (uint64_t)((double)ub * used);
                w->layer_active_params[il] += (uint64_t)((double)t->n_elems * used);
            } else {
                w->layer_active[il] += ub;
                w->layer_active_params[il] += (uint64_t)t->n_elems;
            }
        } else if (c->role == PLAN_ROLE_EMBD) {
            w->embd += ub;
            embd_params += (uint64_t)t->n_elems;
        } else {
            w->output += ub;
            if (c->head) w->head_params += (uint64_t)t->n_elems;
        }
    }
    if (!pc->has_head) {
        w->output_head_tied = w->embd;
        w->head_params = embd_params;
    }
    w->total = w->embd + w->output;
    for (int64_t i = 0; i < w->n_layer; i++) w->total += w->layer[i];
    return RS_OK;
}

rs_status plan_weights_init(plan_weights *w, const model_desc *m, plan_precision p, rs_error *err)
{
    plan_classes pc;
    rs_status st = plan_classes_init(&pc, m, err);
    if (st != RS_OK) {
        memset(w, 0, sizeof *w);
        return st;
    }
    st = plan_weights_init_classes(w, m, &pc, p, err);
    plan_classes_free(&pc);
    return st;
}

void plan_weights_free(plan_weights *w)
{
    if (!w) return;
    free(w->layer);
    free(w->layer_active);
    free(w->layer_active_params);
    w->layer = w->layer_active = w->layer_active_params = NULL;
}

uint64_t plan_weights_range(const plan_weights *w, int64_t first, int64_t last, bool with_embd,
                            bool with_output)
{
    uint64_t b = 0;
    if (first < 0) first = 0;
    if (last > w->n_layer) last = w->n_layer;
    for (int64_t i = first; i < last; i++) b += w->layer[i];
    if (with_embd) b += w->embd;
    if (with_output) {
        b += w->output;
        if (!with_embd) b += w->output_head_tied;
    }
    return b;
}

int plan_kv_type_parse(const char *s)
{
    if (!s) return -1;
    if (strcasecmp(s, "f16") == 0 || strcasecmp(s, "fp16") == 0) return DTYPE_F16;
    if (strcasecmp(s, "q8_0") == 0) return DTYPE_Q8_0;
    if (strcasecmp(s, "q4_0") == 0) return DTYPE_Q4_0;
    return -1;
}

// ---- Compute buffers -------------------------------------------------------------

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

void plan_compute_bytes(const model_desc *m, int64_t n_batch, int64_t n_ctx, int64_t n_outputs,
                        int n_threads, plan_compute *out)
{
    memset(out, 0, sizeof *out);
    if (n_batch <= 0) n_batch = PLAN_DEFAULT_BATCH;
    if (n_ctx < n_batch) n_batch = n_ctx > 0 ? n_ctx : 1; // a chunk never exceeds the context
    if (n_outputs <= 0) n_outputs = 1;
    const uint64_t f = sizeof(float);
    uint64_t B = (uint64_t)n_batch;

    int64_t head_dim = m->head_dim > 0 ? m->head_dim : (m->n_head > 0 ? m->n_embd / m->n_head : 0);
    int64_t q_dim, k_dim, v_dim;
    if (m->kv_lora_rank > 0) {
        // MLA: per head a no-rope and a rope part for q and k, v_head_dim for
        // v; the latent (kv_lora_rank + rope dims) is what enters the cache.
        int64_t qk = m->qk_nope_head_dim + m->qk_rope_head_dim;
        q_dim = m->n_head * qk;
        k_dim = m->n_head * qk + m->kv_lora_rank + m->qk_rope_head_dim;
        v_dim = m->n_head * m->v_head_dim;
    } else {
        q_dim = m->n_head * head_dim;
        k_dim = m->n_head_kv * head_dim;
        v_dim = m->n_head_kv * head_dim;
    }
    int64_t v_head = m->kv_lora_rank > 0 ? m->v_head_dim : head_dim;
    int64_t tile = n_ctx < PLAN_ATTN_KV_TILE ? n_ctx : PLAN_ATTN_KV_TILE;
    if (tile < 1) tile = 1;

    int64_t ffn = m->n_ff;
    if (m->n_expert > 0) {
        // Worst case for a chunk: every token's used experts materialized
        // at once, plus the shared experts and the router logits.
        int64_t moe = m->n_expert_used * m->n_ff_expert + m->n_ff_shared;
        ffn = max64(ffn, moe);
    }

    out->hidden = B * (uint64_t)(m->n_embd + max64(m->n_embd, q_dim)) * f;
    out->qkv = B * (uint64_t)(q_dim + k_dim + v_dim) * f;
    if (n_threads > 0)
        out->scores = (uint64_t)n_threads * (uint64_t)(max64(n_ctx, 1) + 2 * head_dim) * f;
    else
        out->scores = (uint64_t)m->n_head * B * (uint64_t)tile * f;
    out->attn_out = B * (uint64_t)(m->n_head * v_head) * f;
    out->ffn = 2 * B * (uint64_t)ffn * f + (m->n_expert > 0 ? B * (uint64_t)m->n_expert * f : 0);
    out->logits = (uint64_t)n_outputs * (uint64_t)m->n_vocab * f;
    out->total =
        out->hidden + out->qkv + out->scores + out->attn_out + out->ffn + out->logits;
}

uint64_t plan_overhead_gpu(void)
{
    return PLAN_CUDA_CONTEXT_BYTES + PLAN_CUBLAS_WORKSPACE_BYTES;
}

uint64_t plan_overhead_cpu(const model_desc *m)
{
    uint64_t vocab = m && m->n_vocab > 0 ? (uint64_t)m->n_vocab : 0;
    return PLAN_CPU_RUNTIME_BYTES + vocab * PLAN_TOKENIZER_BYTES_PER_TOKEN;
}

static uint64_t usable(uint64_t free_bytes, double frac, uint64_t floor)
{
    uint64_t margin = (uint64_t)((double)free_bytes * frac);
    if (margin < floor) margin = floor;
    return free_bytes > margin ? free_bytes - margin : 0;
}

uint64_t plan_usable_gpu(uint64_t free_bytes)
{
    return usable(free_bytes, PLAN_GPU_MARGIN_FRAC, PLAN_GPU_MARGIN_MIN);
}

uint64_t plan_usable_ram(uint64_t available_bytes)
{
    return usable(available_bytes, PLAN_RAM_MARGIN_FRAC, PLAN_RAM_MARGIN_MIN);
}

uint64_t plan_seed_rule_bytes(uint64_t n_params, double bytes_per_param)
{
    return (uint64_t)((double)n_params * bytes_per_param * PLAN_SEED_RULE_FACTOR);
}
