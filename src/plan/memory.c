#include "plan/memory.h"

#include "hw/hw.h"

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

// The name tests below read what name_scan found, once per name:
// plan_classes_init runs them on every tensor (92,000 for DeepSeek-V3's
// synthesized list), where a strlen and a strstr per test were a quarter
// of `rightsize plan`'s time.

typedef struct name_marks {
    const char *s;
    size_t n;           // strlen(s)
    const char *layers; // the first ".layers.", NULL if none
    bool vision;        // "vision" somewhere
    bool mm_projector;  // "multi_modal_projector" somewhere
    bool exps;          // "_exps." somewhere (GGUF's stacked experts)
    bool experts;       // ".experts." somewhere (HF's experts)
    bool gate_inp;      // "ffn_gate_inp" somewhere (GGUF's MoE router)
} name_marks;

// The first occurrence of needle (k bytes) in s (n bytes), NULL if none.
// memchr looks for needle[a], a byte chosen to be rare in tensor names
// ('.' and '_' are in every name), so that few candidates need a memcmp;
// a loop over every byte was slower than this.
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

static void name_scan(const char *s, name_marks *k)
{
    size_t n = strlen(s);
    k->s = s;
    k->n = n;
    k->layers = FIND(s, n, ".layers.", 3);
    k->vision = FIND(s, n, "vision", 0) != NULL;
    k->mm_projector = FIND(s, n, "multi_modal_projector", 1) != NULL;
    k->exps = FIND(s, n, "_exps.", 2) != NULL;
    k->experts = FIND(s, n, ".experts.", 2) != NULL;
    k->gate_inp = FIND(s, n, "ffn_gate_inp", 1) != NULL;
}

static bool ends_with_n(const char *s, size_t n, const char *suffix, size_t k)
{
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

#define ENDS_WITH(k, lit) ends_with_n((k)->s, (k)->n, (lit), sizeof(lit) - 1)

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

static bool tensor_block_index(const name_marks *k, int64_t *out)
{
    const char *name = k->s;
    if (k->n >= 4 && memcmp(name, "blk.", 4) == 0) return parse_index(name + 4, out);
    if (k->n >= 7 && memcmp(name, "layers.", 7) == 0) return parse_index(name + 7, out);
    return k->layers && parse_index(k->layers + 8, out);
}

static bool is_vision_tensor(const name_marks *k)
{
    return k->vision || k->mm_projector || strncmp(k->s, "v.", 2) == 0 ||
           strncmp(k->s, "mm.", 3) == 0;
}

static bool is_embd_tensor(const name_marks *k)
{
    return strcmp(k->s, "token_embd.weight") == 0 || ENDS_WITH(k, "embed_tokens.weight") ||
           ENDS_WITH(k, "tok_embeddings.weight") || ENDS_WITH(k, "wte.weight");
}

static plan_tensor_role role_of(const model_desc *m, const name_marks *k, int64_t *layer)
{
    int64_t il = -1;
    plan_tensor_role role;
    if (is_vision_tensor(k))
        role = PLAN_ROLE_SKIP;
    else if (tensor_block_index(k, &il))
        // Blocks past n_layer are DeepSeek's next-token-prediction layers,
        // which generation never runs (llama.cpp skips them too).
        role = (m && m->n_layer > 0 && il >= m->n_layer) ? PLAN_ROLE_SKIP : PLAN_ROLE_LAYER;
    else if (is_embd_tensor(k))
        role = PLAN_ROLE_EMBD;
    else
        role = PLAN_ROLE_OUTPUT;
    if (layer) *layer = role == PLAN_ROLE_LAYER ? il : -1;
    return role;
}

plan_tensor_role plan_tensor_role_of(const model_desc *m, const model_tensor *t, int64_t *layer)
{
    name_marks k;
    name_scan(t->name, &k);
    return role_of(m, &k, layer);
}

static bool is_routed_expert(const name_marks *k)
{
    return k->exps || k->experts;
}

bool plan_tensor_is_routed_expert(const model_tensor *t)
{
    name_marks k;
    name_scan(t->name, &k);
    return is_routed_expert(&k);
}

// MoE routers decide which experts run; llama.cpp's quantizer keeps them in
// F32 (ffn_gate_inp) because a small error there changes the routing.
static bool is_router_tensor(const name_marks *k)
{
    return k->gate_inp || ENDS_WITH(k, "mlp.gate.weight") ||
           ENDS_WITH(k, "block_sparse_moe.gate.weight") ||
           ENDS_WITH(k, "shared_expert_gate.weight");
}

static bool is_output_head(const name_marks *k)
{
    return strcmp(k->s, "output.weight") == 0 || ENDS_WITH(k, "lm_head.weight");
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
    name_marks k;
    name_scan(t->name, &k);
    return tensor_type(t, p, is_output_head(&k), is_router_tensor(&k));
}

dtype plan_model_tensor_type(const model_desc *m, const model_tensor *t, plan_precision p)
{
    name_marks k;
    name_scan(t->name, &k);
    bool head = is_output_head(&k) || (m && m->tied_embeddings && is_embd_tensor(&k));
    return tensor_type(t, p, head, is_router_tensor(&k));
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

// Everything the sizing of a tensor depends on: its class, stored type and
// shape (tensor_type reads the type, ne[0], n_dims and n_elems).
static bool same_group(const plan_tensor_class *a, const model_tensor *ta,
                       const plan_tensor_class *b, const model_tensor *tb)
{
    return a->layer == b->layer && a->role == b->role && a->routed == b->routed &&
           a->router == b->router && a->head == b->head && a->embd == b->embd &&
           a->as_head == b->as_head && a->scale == b->scale && ta->type == tb->type &&
           ta->n_dims == tb->n_dims && ta->ne[0] == tb->ne[0] && ta->n_elems == tb->n_elems;
}

static uint64_t group_hash(const plan_tensor_class *c, const model_tensor *t)
{
    uint64_t h = 1469598103934665603ULL; // FNV-1a over the key's fields
    uint64_t f[6] = {(uint64_t)c->layer,
                     (uint64_t)c->role | (uint64_t)c->routed << 8 | (uint64_t)c->router << 9 |
                         (uint64_t)c->head << 10 | (uint64_t)c->embd << 11 |
                         (uint64_t)c->as_head << 12 | (uint64_t)c->scale << 13,
                     (uint64_t)t->type, (uint64_t)t->n_dims, (uint64_t)t->ne[0],
                     (uint64_t)t->n_elems};
    for (int i = 0; i < 6; i++) {
        h ^= f[i];
        h *= 1099511628211ULL;
        h ^= h >> 29;
    }
    return h;
}

// The groups under construction: an open-addressing table of group
// indices, doubled when half full.
typedef struct group_index {
    int64_t *slot; // (cap) index into groups, -1 = empty
    size_t cap;
    plan_tensor_group *groups; // (n) in order of first member
    size_t n, groups_cap;
} group_index;

static rs_status group_add(group_index *gx, const model_desc *m, int64_t i,
                           const plan_tensor_class *c)
{
    const model_tensor *t = &m->tensors[i];
    plan_tensor_group *g = gx->groups;
    size_t k = (size_t)group_hash(c, t) & (gx->cap - 1);
    while (gx->slot[k] >= 0 &&
           !same_group(&g[gx->slot[k]].c, &m->tensors[g[gx->slot[k]].first], c, t))
        k = (k + 1) & (gx->cap - 1);
    if (gx->slot[k] >= 0) {
        g[gx->slot[k]].count++;
        return RS_OK;
    }
    if (gx->n == gx->groups_cap) {
        g = realloc(g, 2 * gx->groups_cap * sizeof *g);
        if (!g) return RS_ERR_RUNTIME;
        gx->groups = g;
        gx->groups_cap *= 2;
    }
    g[gx->n] = (plan_tensor_group){*c, i, 1};
    gx->slot[k] = (int64_t)gx->n++;
    if (2 * gx->n > gx->cap) {
        size_t ncap = 2 * gx->cap;
        int64_t *ns = malloc(ncap * sizeof *ns);
        if (!ns) return RS_ERR_RUNTIME;
        for (size_t j = 0; j < ncap; j++) ns[j] = -1;
        for (size_t j = 0; j < gx->n; j++) {
            size_t q = (size_t)group_hash(&g[j].c, &m->tensors[g[j].first]) & (ncap - 1);
            while (ns[q] >= 0) q = (q + 1) & (ncap - 1);
            ns[q] = (int64_t)j;
        }
        free(gx->slot);
        gx->slot = ns;
        gx->cap = ncap;
    }
    return RS_OK;
}

rs_status plan_classes_init(plan_classes *pc, const model_desc *m, rs_error *err)
{
    memset(pc, 0, sizeof *pc);
    pc->n = m->n_tensors > 0 ? m->n_tensors : 0;
    pc->stored_runnable = true;
    pc->unrunnable = DTYPE_F32;
    group_index gx = {.cap = 256, .groups_cap = 64};
    gx.slot = malloc(gx.cap * sizeof *gx.slot);
    gx.groups = malloc(gx.groups_cap * sizeof *gx.groups);
    rs_status st = gx.slot && gx.groups ? RS_OK : RS_ERR_RUNTIME;
    if (gx.slot)
        for (size_t k = 0; k < gx.cap; k++) gx.slot[k] = -1;
    for (int64_t i = 0; i < pc->n && st == RS_OK; i++) {
        const model_tensor *t = &m->tensors[i];
        plan_tensor_class c = {0};
        name_marks k;
        name_scan(t->name, &k);
        c.role = (uint8_t)role_of(m, &k, &c.layer);
        bool in_block = c.role == PLAN_ROLE_LAYER;
        c.routed = in_block && is_routed_expert(&k);
        c.router = in_block && is_router_tensor(&k);
        c.head = !in_block && is_output_head(&k);
        c.embd = c.role == PLAN_ROLE_EMBD;
        c.scale = ENDS_WITH(&k, "_scale_inv") || ENDS_WITH(&k, ".weight_scale");
        // The same rule as plan_model_tensor_type, which the engine converts by.
        c.as_head = c.head || (c.embd && m->tied_embeddings);
        if (c.head) pc->has_head = true;
        if (c.role != PLAN_ROLE_SKIP && !quant_supported(t->type) && !is_integer_type(t->type) &&
            pc->stored_runnable) {
            pc->stored_runnable = false;
            pc->unrunnable = t->type;
        }
        st = group_add(&gx, m, i, &c);
    }
    free(gx.slot);
    pc->groups = gx.groups;
    pc->n_groups = (int64_t)gx.n;
    if (st != RS_OK) {
        plan_classes_free(pc);
        return rs_fail(err, RS_ERR_RUNTIME, "plan: out of memory for the classes of %lld tensors",
                       (long long)m->n_tensors);
    }
    return RS_OK;
}

void plan_classes_free(plan_classes *pc)
{
    if (!pc) return;
    free(pc->groups);
    pc->groups = NULL;
    pc->n = 0;
    pc->n_groups = 0;
}

_Static_assert(PLAN_WCLASS_N == HW_GPU_CALIB_CLASSES, "hw.h stores a calibration per family");

plan_wclass plan_weight_class(dtype t)
{
    switch (t) {
    case DTYPE_F32:
    case DTYPE_F16:
    case DTYPE_BF16:
    case DTYPE_F64:
        return PLAN_WCLASS_FLOAT;
    case DTYPE_Q8_0:
    case DTYPE_Q4_0:
        return PLAN_WCLASS_INT8;
    case DTYPE_Q4_K:
    case DTYPE_Q6_K:
        return PLAN_WCLASS_KQUANT;
    default:
        return dtype_is_quantized(t) ? PLAN_WCLASS_DEQ : PLAN_WCLASS_FLOAT;
    }
}

const char *plan_wclass_name(plan_wclass c)
{
    return hw_gpu_calib_class_name((int)c);
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
    w->layer_class = calloc(n * PLAN_WCLASS_N, sizeof *w->layer_class);
    w->layer_quant_params = calloc(n, sizeof *w->layer_quant_params);
    w->layer_chunked_params = calloc(n, sizeof *w->layer_chunked_params);
    w->layer_dequant = calloc(n, sizeof *w->layer_dequant);
    if (!w->layer || !w->layer_active || !w->layer_active_params || !w->layer_class ||
        !w->layer_quant_params || !w->layer_chunked_params || !w->layer_dequant) {
        plan_weights_free(w);
        return rs_fail(err, RS_ERR_RUNTIME, "plan: out of memory for %zu layers", n);
    }
    uint64_t embd_params = 0;
    plan_wclass embd_class = PLAN_WCLASS_FLOAT;
    double used = m->n_expert > 0 && m->n_expert_used > 0
                      ? (double)m->n_expert_used / (double)m->n_expert
                      : 1.0;
    // Every member of a group has the same size, so each sum below adds
    // count times what one member adds (rounded per tensor, as before).
    for (int64_t gi = 0; gi < pc->n_groups; gi++) {
        const plan_tensor_group *g = &pc->groups[gi];
        if (g->first >= m->n_tensors) continue;
        const model_tensor *t = &m->tensors[g->first];
        const plan_tensor_class *c = &g->c;
        uint64_t cnt = (uint64_t)g->count;
        if (c->role == PLAN_ROLE_SKIP || (c->scale && p.kind != PLAN_PREC_STORED)) continue;
        dtype ty = tensor_type(t, p, c->as_head, c->router);
        int64_t b = dtype_tensor_bytes(ty, t->ne[0], t->n_elems);
        uint64_t ub = b < 0 ? 0 : (uint64_t)b;
        plan_wclass wc = plan_weight_class(ty);
        bool quant = wc != PLAN_WCLASS_FLOAT && t->n_dims >= 2;
        // The CUDA engine's GEMMs take bf16/f16 directly, anything else
        // (f32 too) through the dequantization scratch.
        bool dequant = t->n_dims >= 2 && ty != DTYPE_BF16 && ty != DTYPE_F16;
        if (dequant && c->as_head) w->output_dequant = true;
        if (c->role == PLAN_ROLE_LAYER && c->layer < w->n_layer) {
            int64_t il = c->layer;
            w->layer[il] += cnt * ub;
            // Only n_expert_used of the n_expert routed experts are read
            // for a token.
            uint64_t ab = c->routed ? cnt * (uint64_t)((double)ub * used) : cnt * ub;
            uint64_t ap = c->routed ? cnt * (uint64_t)((double)t->n_elems * used)
                                    : cnt * (uint64_t)t->n_elems;
            w->layer_active[il] += ab;
            w->layer_active_params[il] += ap;
            w->layer_class[il * PLAN_WCLASS_N + wc] += ab;
            if (dequant) w->layer_dequant[il] = 1;
            if (quant) {
                w->layer_quant_params[il] += ap;
                if (t->n_elems > PLAN_GPU_DEQ_SCRATCH_ELEMS) w->layer_chunked_params[il] += ap;
            }
        } else if (c->role == PLAN_ROLE_EMBD) {
            w->embd += cnt * ub;
            embd_params += cnt * (uint64_t)t->n_elems;
            embd_class = wc;
        } else {
            w->output += cnt * ub;
            w->output_class[wc] += cnt * ub;
            if (c->head) w->head_params += cnt * (uint64_t)t->n_elems;
        }
    }
    if (!pc->has_head) {
        w->output_head_tied = w->embd;
        w->head_params = embd_params;
        w->output_class[embd_class] += w->embd;
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
    free(w->layer_class);
    free(w->layer_quant_params);
    free(w->layer_chunked_params);
    free(w->layer_dequant);
    w->layer = w->layer_active = w->layer_active_params = NULL;
    w->layer_class = w->layer_quant_params = w->layer_chunked_params = NULL;
    w->layer_dequant = NULL;
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

void plan_compute_gpu(const model_desc *m, const plan_weights *w, int64_t first, int64_t last,
                      bool with_output, int64_t n_batch, int64_t n_ctx, int64_t n_outputs,
                      plan_gpu_arena *out)
{
    if (n_batch <= 0) n_batch = PLAN_DEFAULT_BATCH;
    if (n_ctx < n_batch) n_batch = n_ctx > 0 ? n_ctx : 1; // as engine_init caps it
    if (n_outputs <= 0) n_outputs = 1;
    if (first < 0) first = 0;
    if (last < first) last = first;
    int64_t head_dim = m->head_dim > 0 ? m->head_dim : (m->n_head > 0 ? m->n_embd / m->n_head : 0);
    int64_t n_head_kv = m->n_head_kv, n_ff = m->n_ff;
    // The CUDA engine runs neither MLA nor MoE blocks; for a plan of such a
    // model the nearest dense shape: q and k heads of the nope + rope dims,
    // one KV head per head, an FFN as wide as the used experts.
    if (m->kv_lora_rank > 0) {
        head_dim = m->qk_nope_head_dim + m->qk_rope_head_dim;
        n_head_kv = m->n_head;
    }
    if (m->n_expert > 0) n_ff = max64(n_ff, m->n_expert_used * m->n_ff_expert + m->n_ff_shared);
    bool dequant = false;
    if (w) {
        for (int64_t l = first; l < last && l < w->n_layer && !dequant; l++)
            dequant = w->layer_dequant && w->layer_dequant[l];
        if (with_output && w->output_dequant) dequant = true;
    }
    const plan_gpu_shape s = {.n_layer = last - first,
                              .n_embd = m->n_embd,
                              .n_head = m->n_head,
                              .n_head_kv = n_head_kv,
                              .head_dim = head_dim,
                              .n_ff = n_ff,
                              .n_vocab = m->n_vocab,
                              .n_ctx = n_ctx,
                              .n_batch = n_batch,
                              .logits_rows = with_output ? n_outputs : 0,
                              .dequant = dequant};
    plan_gpu_arena_size(&s, out);
}

uint64_t plan_overhead_gpu(void)
{
    return PLAN_CUDA_CONTEXT_BYTES + PLAN_CUBLAS_WORKSPACE_BYTES;
}

uint64_t plan_overhead_cuda_host(void)
{
    return PLAN_CUDA_HOST_BYTES;
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
