// Architecture rules: from a config's facts to the exact HF tensor list
// (names, shapes, stored types), and the figures summed over a tensor list
// (parameters, active parameters, stored type, KV cache bytes).
//
// The tensor names and shapes follow the transformers modeling files of
// each architecture (LlamaForCausalLM, Qwen2/3(Moe)ForCausalLM,
// MixtralForCausalLM, Gemma2/3, Phi3ForCausalLM) and DeepSeek's own
// modeling_deepseek.py for deepseek_v3, as their checkpoints store them.
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_priv.h"

static const struct arch_entry {
    const char *hf;   // HF model_type
    const char *gguf; // GGUF general.architecture (NULL: none of its own)
    model_arch arch;
} arch_table[] = {
    {"llama", "llama", MODEL_ARCH_LLAMA},
    {"mistral", NULL, MODEL_ARCH_MISTRAL},
    {"qwen2", "qwen2", MODEL_ARCH_QWEN2},
    {"qwen3", "qwen3", MODEL_ARCH_QWEN3},
    {"qwen2_moe", "qwen2moe", MODEL_ARCH_QWEN2_MOE},
    {"qwen3_moe", "qwen3moe", MODEL_ARCH_QWEN3_MOE},
    {"mixtral", NULL, MODEL_ARCH_MIXTRAL},
    {"gemma2", "gemma2", MODEL_ARCH_GEMMA2},
    {"gemma3", "gemma3", MODEL_ARCH_GEMMA3},
    {"gemma3_text", NULL, MODEL_ARCH_GEMMA3},
    {"phi3", "phi3", MODEL_ARCH_PHI3},
    {"deepseek_v3", "deepseek2", MODEL_ARCH_DEEPSEEK_V3},
};

model_arch arch_from_hf_type(const char *model_type)
{
    if (!model_type) return MODEL_ARCH_UNKNOWN;
    for (size_t i = 0; i < sizeof arch_table / sizeof arch_table[0]; i++)
        if (strcmp(arch_table[i].hf, model_type) == 0) return arch_table[i].arch;
    return MODEL_ARCH_UNKNOWN;
}

model_arch arch_from_gguf_name(const char *name)
{
    if (!name) return MODEL_ARCH_UNKNOWN;
    for (size_t i = 0; i < sizeof arch_table / sizeof arch_table[0]; i++)
        if (arch_table[i].gguf && strcmp(arch_table[i].gguf, name) == 0) return arch_table[i].arch;
    return MODEL_ARCH_UNKNOWN;
}

const char *model_arch_name(model_arch a)
{
    for (size_t i = 0; i < sizeof arch_table / sizeof arch_table[0]; i++)
        if (arch_table[i].arch == a) return arch_table[i].hf;
    return "unknown";
}

// ---------------------------------------------------------------------------
// The tensor list.

// Tensor names live in chunks of one arena: DeepSeek-V3's synthesized list
// has about 92,000 names, and a malloc and free for each was a tenth of
// `rightsize plan`'s time there.
#define NAME_CHUNK_BYTES (64 * 1024)

typedef struct model_name_chunk {
    struct model_name_chunk *next;
    size_t used, cap;
    char data[]; // (cap) NUL-terminated names, back to back
} model_name_chunk;

static char *name_copy(model_desc *m, const char *name)
{
    size_t n = strlen(name) + 1;
    model_name_chunk *c = m->tensor_names;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > NAME_CHUNK_BYTES ? n : NAME_CHUNK_BYTES;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = m->tensor_names;
        c->used = 0;
        c->cap = cap;
        m->tensor_names = c;
    }
    char *p = c->data + c->used;
    memcpy(p, name, n);
    c->used += n;
    return p;
}

void model_tensors_clear(model_desc *m)
{
    model_name_chunk *c = m->tensor_names;
    while (c) {
        model_name_chunk *next = c->next;
        free(c);
        c = next;
    }
    m->tensor_names = NULL;
    free(m->tensors);
    m->tensors = NULL;
    m->n_tensors = 0;
}

rs_status model_add_tensor(model_desc *m, const char *name, dtype type, int n_dims,
                           const int64_t *ne, int file, uint64_t offset, rs_error *err)
{
    if (n_dims < 0 || n_dims > MODEL_MAX_DIMS)
        return rs_fail(err, RS_ERR_INPUT, "tensor \"%s\": %d dimensions (at most %d)", name,
                       n_dims, MODEL_MAX_DIMS);
    int64_t n = 1;
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] < 0 || (ne[d] > 0 && n > INT64_MAX / ne[d]))
            return rs_fail(err, RS_ERR_INPUT, "tensor \"%s\": shape overflows", name);
        n *= ne[d];
    }
    int64_t nbytes = dtype_tensor_bytes(type, n_dims > 0 ? ne[0] : 1, n);
    if (nbytes < 0)
        return rs_fail(err, RS_ERR_INPUT, "tensor \"%s\": %s rows of %lld elements are not whole blocks",
                       name, dtype_name(type), (long long)(n_dims > 0 ? ne[0] : 1));
    // The array grows to the next power of two whenever n_tensors reaches one,
    // so no separate capacity is kept.
    int64_t k = m->n_tensors;
    if (k == 0 || (k >= 16 && (k & (k - 1)) == 0)) {
        int64_t cap = k == 0 ? 16 : 2 * k;
        model_tensor *t = realloc(m->tensors, (size_t)cap * sizeof *t);
        if (!t) return rs_fail(err, RS_ERR_RUNTIME, "out of memory for %lld tensors", (long long)cap);
        m->tensors = t;
    }
    model_tensor *t = &m->tensors[k];
    memset(t, 0, sizeof *t);
    t->name = name_copy(m, name);
    if (!t->name) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    t->n_dims = n_dims;
    for (int d = 0; d < n_dims; d++) t->ne[d] = ne[d];
    for (int d = n_dims; d < MODEL_MAX_DIMS; d++) t->ne[d] = 1;
    t->n_elems = n;
    t->type = type;
    t->file = file;
    t->offset = offset;
    t->nbytes = (uint64_t)nbytes;
    m->n_tensors = k + 1;
    return RS_OK;
}

// A builder that stops at the first failure, so the rules below read as a
// plain list of tensors.
typedef struct builder {
    model_desc *m;
    rs_error *err;
    rs_status st;
} builder;

// Adds a tensor with a torch shape (outermost first), reversed into ggml order.
static void add_shape(builder *b, dtype type, int nd, const int64_t *shape, const char *name)
{
    if (b->st != RS_OK) return;
    int64_t ne[MODEL_MAX_DIMS];
    for (int d = 0; d < nd; d++) ne[d] = shape[nd - 1 - d];
    b->st = model_add_tensor(b->m, name, type, nd, ne, -1, 0, b->err);
}

// vsnprintf for the only conversions the names below use (%s, %lld): a
// copy loop, where glibc's vsnprintf set up a FILE per call and was a third
// of `rightsize plan`'s time on DeepSeek-V3's 92,000 names. Any other
// conversion goes to vsnprintf. Truncates as vsnprintf does.
static void fmt_name(char *buf, size_t n, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    size_t k = 0;
    const char *f = fmt;
    for (; *f; f++) {
        char num[24];
        const char *piece;
        size_t len;
        if (*f != '%') {
            piece = f;
            len = strcspn(f, "%");
            f += len - 1;
        } else if (f[1] == 's') {
            piece = va_arg(ap, const char *);
            len = strlen(piece);
            f++;
        } else if (f[1] == 'l' && f[2] == 'l' && f[3] == 'd') {
            long long v = va_arg(ap, long long);
            unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
            char *e = num + sizeof num, *p = e;
            do *--p = (char)('0' + u % 10); while ((u /= 10) > 0);
            if (v < 0) *--p = '-';
            piece = p;
            len = (size_t)(e - p);
            f += 3;
        } else if (f[1] == '%') {
            piece = f;
            len = 1;
            f++;
        } else {
            vsnprintf(buf, n, fmt, ap2);
            va_end(ap2);
            return;
        }
        if (k + 1 < n) {
            size_t room = n - 1 - k;
            memcpy(buf + k, piece, len < room ? len : room);
        }
        k += len;
    }
    if (n > 0) buf[k < n ? k : n - 1] = '\0';
    va_end(ap2);
}

__attribute__((format(printf, 4, 5))) static void vec(builder *b, dtype type, int64_t n,
                                                       const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    fmt_name(name, sizeof name, fmt, ap);
    va_end(ap);
    add_shape(b, type, 1, &n, name);
}

__attribute__((format(printf, 5, 6))) static void mat(builder *b, dtype type, int64_t rows,
                                                       int64_t cols, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    fmt_name(name, sizeof name, fmt, ap);
    va_end(ap);
    int64_t shape[2] = {rows, cols};
    add_shape(b, type, 2, shape, name);
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

// A linear layer "<name>.weight" [out, in] with an optional bias [out]. In an
// FP8 block-quantized checkpoint (DeepSeek-V3) the weight is F8_E4M3 and
// carries "<name>.weight_scale_inv", F32 [ceil(out/bo), ceil(in/bi)].
__attribute__((format(printf, 6, 7))) static void linear(builder *b, int64_t out, int64_t in,
                                                          bool bias, bool quantized,
                                                          const char *fmt, ...)
{
    char name[224];
    va_list ap;
    va_start(ap, fmt);
    fmt_name(name, sizeof name, fmt, ap);
    va_end(ap);
    const model_desc *m = b->m;
    bool fp8 = quantized && m->fp8_block[0] > 0 && m->fp8_block[1] > 0;
    // The suffixes are appended in place: name has room for the longest
    // (224 + 18 < 256), as mat's own buffer had.
    char full[256];
    size_t n = strlen(name);
    memcpy(full, name, n);
    memcpy(full + n, ".weight", sizeof ".weight");
    int64_t shape[2] = {out, in};
    add_shape(b, fp8 ? DTYPE_F8_E4M3 : m->config_type, 2, shape, full);
    if (fp8) {
        memcpy(full + n, ".weight_scale_inv", sizeof ".weight_scale_inv");
        int64_t scale[2] = {ceil_div(out, m->fp8_block[0]), ceil_div(in, m->fp8_block[1])};
        add_shape(b, DTYPE_F32, 2, scale, full);
    }
    if (bias) {
        memcpy(full + n, ".bias", sizeof ".bias");
        add_shape(b, m->config_type, 1, &out, full);
    }
}

// Gemma 3's SigLIP vision tower and projector (Gemma3ForConditionalGeneration).
static void add_vision(builder *b)
{
    const model_desc *m = b->m;
    dtype t = m->config_type;
    int64_t h = m->vision.n_embd, f = m->vision.n_ff, p = m->vision.patch_size;
    int64_t n_pos = (m->vision.image_size / p) * (m->vision.image_size / p);
    const char *v = "vision_tower.vision_model.";
    int64_t patch[4] = {h, m->vision.n_channels, p, p};
    char name[256];
    snprintf(name, sizeof name, "%sembeddings.patch_embedding.weight", v);
    add_shape(b, t, 4, patch, name);
    vec(b, t, h, "%sembeddings.patch_embedding.bias", v);
    mat(b, t, n_pos, h, "%sembeddings.position_embedding.weight", v);
    for (int64_t i = 0; i < m->vision.n_layer; i++) {
        char l[96];
        snprintf(l, sizeof l, "%sencoder.layers.%lld.", v, (long long)i);
        vec(b, t, h, "%slayer_norm1.weight", l);
        vec(b, t, h, "%slayer_norm1.bias", l);
        vec(b, t, h, "%slayer_norm2.weight", l);
        vec(b, t, h, "%slayer_norm2.bias", l);
        linear(b, h, h, true, false, "%sself_attn.q_proj", l);
        linear(b, h, h, true, false, "%sself_attn.k_proj", l);
        linear(b, h, h, true, false, "%sself_attn.v_proj", l);
        linear(b, h, h, true, false, "%sself_attn.out_proj", l);
        linear(b, f, h, true, false, "%smlp.fc1", l);
        linear(b, h, f, true, false, "%smlp.fc2", l);
    }
    vec(b, t, h, "%spost_layernorm.weight", v);
    vec(b, t, h, "%spost_layernorm.bias", v);
    mat(b, t, h, m->n_embd, "multi_modal_projector.mm_input_projection_weight");
    vec(b, t, h, "multi_modal_projector.mm_soft_emb_norm.weight");
}

static bool is_gemma(const model_desc *m)
{
    return m->arch == MODEL_ARCH_GEMMA2 || m->arch == MODEL_ARCH_GEMMA3;
}

static void add_attention(builder *b, const char *l)
{
    const model_desc *m = b->m;
    dtype t = m->config_type;
    int64_t h = m->n_embd, nh = m->n_head, nkv = m->n_head_kv, hd = m->head_dim;
    if (m->kv_lora_rank > 0) {
        // Multi-head latent attention: queries through a low-rank bottleneck,
        // keys and values from one shared latent plus a shared rope key.
        int64_t qk = m->qk_nope_head_dim + m->qk_rope_head_dim;
        if (m->q_lora_rank > 0) {
            linear(b, m->q_lora_rank, h, false, true, "%sself_attn.q_a_proj", l);
            vec(b, t, m->q_lora_rank, "%sself_attn.q_a_layernorm.weight", l);
            linear(b, nh * qk, m->q_lora_rank, false, true, "%sself_attn.q_b_proj", l);
        } else {
            linear(b, nh * qk, h, false, true, "%sself_attn.q_proj", l);
        }
        linear(b, m->kv_lora_rank + m->qk_rope_head_dim, h, false, true,
               "%sself_attn.kv_a_proj_with_mqa", l);
        vec(b, t, m->kv_lora_rank, "%sself_attn.kv_a_layernorm.weight", l);
        linear(b, nh * (m->qk_nope_head_dim + m->v_head_dim), m->kv_lora_rank, false, true,
               "%sself_attn.kv_b_proj", l);
        linear(b, h, nh * m->v_head_dim, m->attn_out_bias, true, "%sself_attn.o_proj", l);
        return;
    }
    if (m->arch == MODEL_ARCH_PHI3) {
        linear(b, (nh + 2 * nkv) * hd, h, false, true, "%sself_attn.qkv_proj", l);
        linear(b, h, nh * hd, false, true, "%sself_attn.o_proj", l);
        return;
    }
    linear(b, nh * hd, h, m->attn_qkv_bias, true, "%sself_attn.q_proj", l);
    linear(b, nkv * hd, h, m->attn_qkv_bias, true, "%sself_attn.k_proj", l);
    linear(b, nkv * hd, h, m->attn_qkv_bias, true, "%sself_attn.v_proj", l);
    linear(b, h, nh * hd, m->attn_out_bias, true, "%sself_attn.o_proj", l);
    if (m->attn_qk_norm) {
        vec(b, t, hd, "%sself_attn.q_norm.weight", l);
        vec(b, t, hd, "%sself_attn.k_norm.weight", l);
    }
}

static void add_mlp(builder *b, const char *l, bool moe)
{
    const model_desc *m = b->m;
    dtype t = m->config_type;
    int64_t h = m->n_embd;
    if (!moe) {
        if (m->arch == MODEL_ARCH_PHI3) {
            linear(b, 2 * m->n_ff, h, false, true, "%smlp.gate_up_proj", l);
            linear(b, h, m->n_ff, false, true, "%smlp.down_proj", l);
            return;
        }
        linear(b, m->n_ff, h, m->mlp_bias, true, "%smlp.gate_proj", l);
        linear(b, m->n_ff, h, m->mlp_bias, true, "%smlp.up_proj", l);
        linear(b, h, m->n_ff, m->mlp_bias, true, "%smlp.down_proj", l);
        return;
    }
    int64_t fe = m->n_ff_expert;
    if (m->arch == MODEL_ARCH_MIXTRAL) {
        mat(b, t, m->n_expert, h, "%sblock_sparse_moe.gate.weight", l);
        for (int64_t e = 0; e < m->n_expert && b->st == RS_OK; e++) {
            linear(b, fe, h, false, true, "%sblock_sparse_moe.experts.%lld.w1", l, (long long)e);
            linear(b, h, fe, false, true, "%sblock_sparse_moe.experts.%lld.w2", l, (long long)e);
            linear(b, fe, h, false, true, "%sblock_sparse_moe.experts.%lld.w3", l, (long long)e);
        }
        return;
    }
    // Qwen2/3-MoE and DeepSeek: mlp.gate router, mlp.experts.N.*_proj.
    mat(b, t, m->n_expert, h, "%smlp.gate.weight", l);
    if (m->arch == MODEL_ARCH_DEEPSEEK_V3)
        vec(b, DTYPE_F32, m->n_expert, "%smlp.gate.e_score_correction_bias", l);
    for (int64_t e = 0; e < m->n_expert && b->st == RS_OK; e++) {
        linear(b, fe, h, false, true, "%smlp.experts.%lld.gate_proj", l, (long long)e);
        linear(b, fe, h, false, true, "%smlp.experts.%lld.up_proj", l, (long long)e);
        linear(b, h, fe, false, true, "%smlp.experts.%lld.down_proj", l, (long long)e);
    }
    if (m->n_ff_shared > 0) {
        const char *s = m->arch == MODEL_ARCH_QWEN2_MOE ? "shared_expert" : "shared_experts";
        linear(b, m->n_ff_shared, h, false, true, "%smlp.%s.gate_proj", l, s);
        linear(b, m->n_ff_shared, h, false, true, "%smlp.%s.up_proj", l, s);
        linear(b, h, m->n_ff_shared, false, true, "%smlp.%s.down_proj", l, s);
        if (m->arch == MODEL_ARCH_QWEN2_MOE) mat(b, t, 1, h, "%smlp.shared_expert_gate.weight", l);
    }
}

// Layers whose FFN is a mixture of experts, for layer index i (MTP layers
// past n_layer follow the same rule as the last layers).
static bool layer_moe(const model_desc *m, int64_t i)
{
    if (m->n_expert <= 0) return false;
    if (i < m->n_layer) return m->layer_is_moe ? m->layer_is_moe[i] != 0 : false;
    return i >= m->n_layer_dense_lead;
}

// Rough upper bound on the tensor count, checked before building so that an
// absurd config fails fast instead of allocating millions of names.
#define ARCH_MAX_TENSORS (1 << 21)

rs_status arch_synthesize(model_desc *m, rs_error *err)
{
    if (!m->arch_rules_known)
        return rs_fail(err, RS_ERR_INPUT, "architecture \"%s\": no rules to describe its tensors",
                       m->arch_name ? m->arch_name : "?");
    int64_t per_layer = 32 + (m->n_expert > 0 ? 6 * m->n_expert : 0);
    int64_t layers = m->n_layer + m->n_layer_mtp + m->vision.n_layer;
    if (layers > ARCH_MAX_TENSORS / per_layer)
        return rs_fail(err, RS_ERR_INPUT,
                       "field \"num_hidden_layers\": %lld layers of %lld tensors each is absurd",
                       (long long)layers, (long long)per_layer);
    model_tensors_clear(m);
    m->tensors_synthesized = true;

    builder b = {m, err, RS_OK};
    dtype t = m->config_type;
    int64_t h = m->n_embd;
    bool mm = m->vision.n_layer > 0;
    const char *pre = mm ? "language_model.model." : "model.";

    mat(&b, t, m->n_vocab, h, "%sembed_tokens.weight", pre);
    for (int64_t i = 0; i < m->n_layer + m->n_layer_mtp && b.st == RS_OK; i++) {
        char l[96];
        snprintf(l, sizeof l, "%slayers.%lld.", pre, (long long)i);
        vec(&b, t, h, "%sinput_layernorm.weight", l);
        vec(&b, t, h, "%spost_attention_layernorm.weight", l);
        if (is_gemma(m)) {
            vec(&b, t, h, "%spre_feedforward_layernorm.weight", l);
            vec(&b, t, h, "%spost_feedforward_layernorm.weight", l);
        }
        add_attention(&b, l);
        add_mlp(&b, l, layer_moe(m, i));
        if (i >= m->n_layer) {
            // DeepSeek's multi-token-prediction layer: its own embedding
            // and head, and the projection of [embedding; hidden] to hidden.
            mat(&b, t, m->n_vocab, h, "%sembed_tokens.weight", l);
            vec(&b, t, h, "%senorm.weight", l);
            vec(&b, t, h, "%shnorm.weight", l);
            linear(&b, h, 2 * h, false, true, "%seh_proj", l);
            vec(&b, t, h, "%sshared_head.norm.weight", l);
            mat(&b, t, m->n_vocab, h, "%sshared_head.head.weight", l);
        }
    }
    vec(&b, t, h, "%snorm.weight", pre);
    if (m->lm_head_stored)
        mat(&b, t, m->n_vocab, h, mm ? "language_model.lm_head.weight" : "lm_head.weight");
    if (mm) add_vision(&b);
    return b.st;
}

// ---------------------------------------------------------------------------
// Figures over the tensor list.

// The first occurrence of needle (k bytes) in s (n bytes), NULL if none.
// memchr looks for needle[a], a byte rare in tensor names, so few
// candidates need a memcmp: DeepSeek-V3 has 92,000 names to look through,
// and strstr was a tenth of `rightsize plan`'s time there.
static const char *find_n(const char *s, size_t n, const char *needle, size_t k, size_t a)
{
    if (n < k) return NULL;
    const char *p = s + a, *last = s + (n - k) + a; // where needle[a] may sit
    while (p <= last) {
        p = memchr(p, needle[a], (size_t)(last - p) + 1);
        if (!p) return NULL;
        if (memcmp(p - a, needle, k) == 0) return p - a;
        p++;
    }
    return NULL;
}

#define FIND(s, n, lit, a) find_n((s), (n), (lit), sizeof(lit) - 1, (a))

// Routed-expert tensors: only n_expert_used of n_expert run per token.
static bool is_routed_expert(const char *name, size_t n)
{
    return FIND(name, n, ".experts.", 2) != NULL;
}

static bool is_quant_scale(const char *name, size_t n)
{
    size_t k = strlen("_scale_inv");
    return n >= k && memcmp(name + n - k, "_scale_inv", k) == 0;
}

// Layer index of "...layers.N...", -1 when none.
static int64_t layer_of(const char *name, size_t n)
{
    const char *p = FIND(name, n, "layers.", 2);
    if (!p) p = FIND(name, n, "blk.", 0);
    if (!p) return -1;
    p = strchr(p, '.') + 1;
    if (*p < '0' || *p > '9') return -1;
    int64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > INT64_MAX / 10 - 9) return INT64_MAX; // strtoll's saturation
        v = v * 10 + (*p - '0');
    }
    return v;
}

void arch_finish(model_desc *m)
{
    // Per token run: every tensor outside the routed experts, and the used
    // share of the routed experts. DeepSeek's MTP layer (stored past n_layer)
    // only runs for speculative decoding, so it is not counted active.
    uint64_t total = 0, expert = 0, dense = 0;
    uint64_t bytes_by_type[DTYPE_COUNT] = {0};
    bool gguf = m->source == MODEL_SOURCE_GGUF;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        uint64_t n = (uint64_t)t->n_elems;
        if (dtype_valid((int)t->type)) bytes_by_type[t->type] += t->nbytes;
        // FP8 block scales are part of how a weight is stored, like the
        // scales inside a Q4_K block: bytes, not parameters.
        size_t len = strlen(t->name);
        if (is_quant_scale(t->name, len)) continue;
        total += n;
        if (m->n_layer_mtp > 0 && layer_of(t->name, len) >= m->n_layer) continue;
        // GGUF stores each layer's experts as one 3-D tensor: ffn_*_exps.
        bool routed =
            gguf ? FIND(t->name, len, "_exps", 2) != NULL : is_routed_expert(t->name, len);
        if (routed) expert += n;
        else dense += n;
    }
    m->n_params = total;
    m->n_params_active = dense + expert;
    if (m->n_expert > 0 && m->n_expert_used > 0 && m->n_expert_used <= m->n_expert) {
        // Every routed expert of a layer has the same size, so the expert
        // total divides by n_expert exactly.
        m->n_params_active = dense + expert / (uint64_t)m->n_expert * (uint64_t)m->n_expert_used;
    }
    int best = -1;
    for (int k = 0; k < DTYPE_COUNT; k++)
        if (bytes_by_type[k] > 0 && (best < 0 || bytes_by_type[k] > bytes_by_type[best])) best = k;
    m->stored_type = best >= 0 ? (dtype)best : m->config_type;
}

// ---------------------------------------------------------------------------
// KV cache.

// Bytes of n elements of the cache type; a partial last block is rounded up
// (a cache row that is not whole blocks cannot be stored in that type, and
// rounding up never under-plans).
static uint64_t kv_elems_bytes(dtype t, int64_t n)
{
    int64_t be = dtype_block_elems(t), bb = dtype_block_bytes(t);
    if (be <= 0 || n <= 0) return 0;
    return (uint64_t)((n + be - 1) / be) * (uint64_t)bb;
}

// Bytes one token adds to one layer's cache.
static uint64_t kv_layer_token_bytes(const model_desc *m, dtype t)
{
    if (m->kv_lora_rank > 0) {
        // MLA caches the compressed latent and the shared rope key once per
        // token, for all heads together.
        return kv_elems_bytes(t, m->kv_lora_rank + m->qk_rope_head_dim);
    }
    int64_t n_kv = m->n_head_kv > 0 ? m->n_head_kv : m->n_head;
    return 2 * kv_elems_bytes(t, n_kv * m->head_dim);
}

uint64_t model_kv_bytes_per_token(const model_desc *m, dtype kv_type)
{
    if (!m || m->n_layer <= 0) return 0;
    return (uint64_t)m->n_layer * kv_layer_token_bytes(m, kv_type);
}

uint64_t model_kv_bytes(const model_desc *m, int64_t n_ctx, dtype kv_type)
{
    if (!m || m->n_layer <= 0 || n_ctx <= 0) return 0;
    uint64_t per = kv_layer_token_bytes(m, kv_type), total = 0;
    for (int64_t i = 0; i < m->n_layer; i++) {
        int64_t tokens = n_ctx;
        if (m->layer_is_swa && m->layer_is_swa[i] && m->sliding_window > 0 &&
            m->sliding_window < tokens)
            tokens = m->sliding_window;
        total += (uint64_t)tokens * per;
    }
    return total;
}

const model_tensor *model_find_tensor(const model_desc *m, const char *name)
{
    if (!m || !name) return NULL;
    for (int64_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}
