#include "engine/model_weights.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/quant.h"
#include "engine/weight_convert.h"

// ---------------------------------------------------------------------------
// Tensor names: HF (safetensors) and GGUF spell the same weights differently.

enum { NAME_HF, NAME_GGUF };

typedef struct name_pair {
    const char *hf, *gguf;
} name_pair;

static const name_pair name_tok_embd = {"model.embed_tokens.weight", "token_embd.weight"};
static const name_pair name_out_norm = {"model.norm.weight", "output_norm.weight"};
static const name_pair name_output = {"lm_head.weight", "output.weight"};

// Per layer: printf formats taking the layer index.
static const name_pair name_attn_norm = {"model.layers.%lld.input_layernorm.weight",
                                         "blk.%lld.attn_norm.weight"};
static const name_pair name_wq = {"model.layers.%lld.self_attn.q_proj.weight",
                                  "blk.%lld.attn_q.weight"};
static const name_pair name_wk = {"model.layers.%lld.self_attn.k_proj.weight",
                                  "blk.%lld.attn_k.weight"};
static const name_pair name_wv = {"model.layers.%lld.self_attn.v_proj.weight",
                                  "blk.%lld.attn_v.weight"};
static const name_pair name_wo = {"model.layers.%lld.self_attn.o_proj.weight",
                                  "blk.%lld.attn_output.weight"};
static const name_pair name_bq = {"model.layers.%lld.self_attn.q_proj.bias",
                                  "blk.%lld.attn_q.bias"};
static const name_pair name_bk = {"model.layers.%lld.self_attn.k_proj.bias",
                                  "blk.%lld.attn_k.bias"};
static const name_pair name_bv = {"model.layers.%lld.self_attn.v_proj.bias",
                                  "blk.%lld.attn_v.bias"};
static const name_pair name_q_norm = {"model.layers.%lld.self_attn.q_norm.weight",
                                      "blk.%lld.attn_q_norm.weight"};
static const name_pair name_k_norm = {"model.layers.%lld.self_attn.k_norm.weight",
                                      "blk.%lld.attn_k_norm.weight"};
static const name_pair name_ffn_norm = {"model.layers.%lld.post_attention_layernorm.weight",
                                        "blk.%lld.ffn_norm.weight"};
static const name_pair name_gate = {"model.layers.%lld.mlp.gate_proj.weight",
                                    "blk.%lld.ffn_gate.weight"};
static const name_pair name_up = {"model.layers.%lld.mlp.up_proj.weight",
                                  "blk.%lld.ffn_up.weight"};
static const name_pair name_down = {"model.layers.%lld.mlp.down_proj.weight",
                                    "blk.%lld.ffn_down.weight"};

// The load in progress: the model, where its files are mapped, and the
// conversion state shared by every tensor.
typedef struct load_ctx {
    const model_desc *m;
    const weights_load_options *opt;
    thread_pool *pool;
    model_weights *w;
    int naming;
    const char *src_name; // the model's path, for messages
    weight_converter conv;
    uint64_t convert_total, convert_done; // bytes of source data to convert (progress bar)
} load_ctx;

static void *owned_push(model_weights *w, void *p, uint64_t bytes)
{
    if (!p) return NULL;
    if (w->n_owned == w->cap_owned) {
        int cap = w->cap_owned ? w->cap_owned * 2 : 64;
        void **o = realloc(w->owned, (size_t)cap * sizeof *o);
        if (o) w->owned = o;
        uint64_t *ob = o ? realloc(w->owned_bytes, (size_t)cap * sizeof *ob) : NULL;
        if (!ob) {
            free(p);
            return NULL;
        }
        w->owned_bytes = ob;
        w->cap_owned = cap;
    }
    w->owned_bytes[w->n_owned] = bytes;
    w->owned[w->n_owned++] = p;
    return p;
}

static const char *tensor_name(load_ctx *c, const name_pair *np, int64_t layer, char *buf,
                               size_t n)
{
    const char *fmt = c->naming == NAME_GGUF ? np->gguf : np->hf;
    snprintf(buf, n, fmt, (long long)layer);
    return buf;
}

// Finds a tensor and checks that its data lies inside its mapped file.
static rs_status find_tensor(load_ctx *c, const char *name, bool required,
                             const model_tensor **out, const void **data, rs_error *err)
{
    *out = NULL;
    const model_tensor *t = model_find_tensor(c->m, name);
    if (!t) {
        if (!required) return RS_OK;
        return rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\" is missing (architecture %s)",
                       c->src_name, name, model_arch_name(c->m->arch));
    }
    if (t->file < 0 || t->file >= c->w->n_maps)
        return rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\": no weight file holds its data",
                       c->src_name, name);
    int64_t want = dtype_tensor_bytes(t->type, t->ne[0], t->n_elems);
    if (want < 0 || (uint64_t)want != t->nbytes)
        return rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\": %llu bytes do not hold %lld %s values",
                       c->src_name, name, (unsigned long long)t->nbytes, (long long)t->n_elems,
                       dtype_name(t->type));
    uint64_t size = c->w->map_size[t->file];
    if (t->offset > size || t->nbytes > size - t->offset)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: tensor \"%s\": data [%llu, +%llu) lies past the end of the file "
                       "(%llu bytes; truncated?)",
                       c->m->files[t->file].path, name, (unsigned long long)t->offset,
                       (unsigned long long)t->nbytes, (unsigned long long)size);
    *out = t;
    *data = (const uint8_t *)c->w->maps[t->file] + t->offset;
    return RS_OK;
}

static rs_status check_shape(load_ctx *c, const model_tensor *t, int64_t ne0, int64_t ne1,
                             rs_error *err)
{
    int64_t ne1_have = t->n_dims >= 2 ? t->ne[1] : 1;
    bool ok = t->n_dims >= 1 && t->n_dims <= 2 && t->ne[0] == ne0 && ne1_have == ne1;
    if (ok) return RS_OK;
    char have[128] = "[", *p = have + 1;
    for (int i = 0; i < t->n_dims && i < MODEL_MAX_DIMS; i++)
        p += snprintf(p, sizeof have - (size_t)(p - have) - 2, "%s%lld", i ? ", " : "",
                      (long long)t->ne[i]);
    strcat(have, "]");
    if (ne1 == 1)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: tensor \"%s\": shape %s (ggml order), expected [%lld] from the "
                       "configuration",
                       c->src_name, t->name, have, (long long)ne0);
    return rs_fail(err, RS_ERR_INPUT,
                   "%s: tensor \"%s\": shape %s (ggml order), expected [%lld, %lld] from the "
                   "configuration",
                   c->src_name, t->name, have, (long long)ne0, (long long)ne1);
}

// A 1-D weight (norm, bias) as f32 in owned memory: small, read every token.
static rs_status load_vector(load_ctx *c, const char *name, int64_t n, bool required, float **out,
                             rs_error *err)
{
    *out = NULL;
    const model_tensor *t;
    const void *data = NULL;
    rs_status st = find_tensor(c, name, required, &t, &data, err);
    if (st != RS_OK || !t) return st;
    if ((st = check_shape(c, t, n, 1, err)) != RS_OK) return st;
    float *v = owned_push(c->w, malloc((size_t)n * sizeof *v), (uint64_t)n * sizeof *v);
    if (!v) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory for \"%s\"", c->src_name, name);
    if ((st = convert_row_to_f32(t->type, data, v, n, err)) != RS_OK) {
        rs_error_prefix(err, "%s: tensor \"%s\"", c->src_name, name);
        return st;
    }
    c->w->bytes_total += (uint64_t)n * sizeof *v;
    c->w->bytes_converted += (uint64_t)n * sizeof *v;
    *out = v;
    return RS_OK;
}

// The type a matrix is computed at: the plan's choice for the precision, so
// that planned and loaded sizes agree.
static rs_status target_type(const load_ctx *c, const model_tensor *t, dtype *out, rs_error *err)
{
    dtype ty = plan_model_tensor_type(c->m, t, c->opt->precision);
    if (ty == DTYPE_F64) ty = DTYPE_F32;
    if (!quant_supported(ty))
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: tensor \"%s\": type %s (precision %s) is not supported by the CPU "
                       "kernels (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q5_K, Q6_K)",
                       c->src_name, t->name, dtype_name(ty),
                       plan_precision_name(c->opt->precision));
    *out = ty;
    return RS_OK;
}

static bool aligned_for(const void *p, dtype t)
{
    // Plain float types are read as arrays of their element; quantized
    // blocks are read bytewise by the kernels.
    int64_t a = dtype_is_quantized(t) ? 1 : dtype_block_bytes(t);
    return a <= 1 || ((uintptr_t)p % (uintptr_t)a) == 0;
}

// A 2-D weight of n_out rows of n_in: used in place, or converted.
static rs_status load_matrix(load_ctx *c, const char *name, int64_t n_in, int64_t n_out,
                             weight *out, rs_error *err)
{
    const model_tensor *t;
    const void *data = NULL;
    rs_status st = find_tensor(c, name, true, &t, &data, err);
    if (st != RS_OK) return st;
    if ((st = check_shape(c, t, n_in, n_out, err)) != RS_OK) return st;
    dtype target = DTYPE_F32;
    if ((st = target_type(c, t, &target, err)) != RS_OK) return st;
    out->n_in = n_in;
    out->n_out = n_out;
    if (target == t->type && aligned_for(data, target)) {
        out->data = data;
        out->type = target;
        c->w->bytes_total += t->nbytes;
        return RS_OK;
    }
    void *dst = NULL;
    uint64_t dst_bytes = 0;
    double rel_rms = 0;
    st = weight_convert(&c->conv, c->pool, t->type, data, target, n_in, n_out, &dst, &dst_bytes,
                        c->opt->verbose ? &rel_rms : NULL, err);
    if (st != RS_OK) {
        rs_error_prefix(err, "%s: tensor \"%s\"", c->src_name, name);
        return st;
    }
    if (!owned_push(c->w, dst, dst_bytes))
        return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory for \"%s\"", c->src_name, name);
    // The source pages are no longer needed: drop them from this process
    // so that the peak resident size stays near the converted size.
    weight_convert_release_source(data, t->nbytes);
    out->data = dst;
    out->type = target;
    c->w->bytes_total += dst_bytes;
    c->w->bytes_converted += dst_bytes;
    c->convert_done += t->nbytes;
    if (c->opt->verbose)
        fprintf(stderr, "%s%-48s %-5s -> %-5s rel RMS %.2e\n", c->opt->progress ? "\r" : "", name,
                dtype_name(t->type), dtype_name(target), rel_rms);
    if (c->opt->progress && c->convert_total) {
        int pct = (int)(100.0 * (double)c->convert_done / (double)c->convert_total);
        int bar = pct * 30 / 100;
        fprintf(stderr, "\rconverting weights [%.*s%*s] %3d%%", bar,
                "##############################", 30 - bar, "", pct);
        if (c->convert_done >= c->convert_total) fprintf(stderr, "\n");
        fflush(stderr);
    }
    return RS_OK;
}

static rs_status map_files(load_ctx *c, rs_error *err)
{
    const model_desc *m = c->m;
    model_weights *w = c->w;
    w->maps = calloc((size_t)(m->n_files > 0 ? m->n_files : 1), sizeof *w->maps);
    w->map_size = calloc((size_t)(m->n_files > 0 ? m->n_files : 1), sizeof *w->map_size);
    if (!w->maps || !w->map_size) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    for (int i = 0; i < m->n_files; i++) {
        const char *path = m->files[i].path;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return rs_fail(err, RS_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) != 0) {
            close(fd);
            return rs_fail(err, RS_ERR_RUNTIME, "%s: cannot stat: %s", path, strerror(errno));
        }
        w->n_maps = i + 1;
        w->map_size[i] = (uint64_t)st.st_size;
        if (st.st_size > 0) {
            void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                close(fd);
                return rs_fail(err, RS_ERR_RUNTIME, "%s: cannot map: %s", path, strerror(errno));
            }
            w->maps[i] = p;
        }
        close(fd);
    }
    return RS_OK;
}

// Bytes of source data that will go through conversion (for the progress bar).
static uint64_t bytes_to_convert(const load_ctx *c)
{
    uint64_t total = 0;
    for (int64_t i = 0; i < c->m->n_tensors; i++) {
        const model_tensor *t = &c->m->tensors[i];
        if (t->n_dims != 2) continue;
        dtype target = DTYPE_F32;
        if (target_type(c, t, &target, NULL) != RS_OK) continue;
        if (target != t->type) total += t->nbytes;
    }
    return total;
}

static rs_status check_config(const model_desc *m, const char *src, rs_error *err)
{
    switch (m->arch) {
    case MODEL_ARCH_LLAMA:
    case MODEL_ARCH_MISTRAL:
    case MODEL_ARCH_QWEN2:
    case MODEL_ARCH_QWEN3:
        break;
    default:
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: architecture \"%s\" is not supported by the engine (supported: llama, "
                       "mistral, qwen2, qwen3)",
                       src, m->arch_name ? m->arch_name : model_arch_name(m->arch));
    }
    if (m->tensors_synthesized || m->n_files == 0)
        return rs_fail(err, RS_ERR_INPUT, "%s: no weight files to load (a description only)", src);
    struct {
        const char *name;
        int64_t v;
    } need[] = {{"n_layer", m->n_layer}, {"n_embd", m->n_embd},   {"n_head", m->n_head},
                {"n_head_kv", m->n_head_kv}, {"head_dim", m->head_dim}, {"n_ff", m->n_ff},
                {"n_vocab", m->n_vocab}};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (need[i].v <= 0 || need[i].v > (1LL << 24))
            return rs_fail(err, RS_ERR_INPUT, "%s: configuration field %s = %lld is out of range",
                           src, need[i].name, (long long)need[i].v);
    if (m->n_head % m->n_head_kv != 0)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: n_head %lld is not a multiple of n_head_kv %lld", src,
                       (long long)m->n_head, (long long)m->n_head_kv);
    int64_t rope_dim = m->rope_dim > 0 ? m->rope_dim : m->head_dim;
    if (rope_dim % 2 != 0 || rope_dim > m->head_dim)
        return rs_fail(err, RS_ERR_INPUT, "%s: rope dimensions %lld do not fit head_dim %lld", src,
                       (long long)rope_dim, (long long)m->head_dim);
    if (!(m->norm_eps > 0) || !(m->rope_theta >= 0))
        return rs_fail(err, RS_ERR_INPUT, "%s: norm_eps %g or rope_theta %g out of range", src,
                       m->norm_eps, m->rope_theta);
    return RS_OK;
}

rs_status model_weights_load(const model_desc *m, const weights_load_options *opt,
                             thread_pool *pool, model_weights *w, rs_error *err)
{
    memset(w, 0, sizeof *w);
    load_ctx c = {.m = m, .opt = opt, .pool = pool, .w = w};
    c.src_name = m->path ? m->path : "model";
    c.naming = m->source == MODEL_SOURCE_GGUF ? NAME_GGUF : NAME_HF;
    rs_status st = check_config(m, c.src_name, err);
    if (st != RS_OK) return st;
    if ((st = map_files(&c, err)) != RS_OK) goto fail;
    int64_t max_in = m->n_embd > m->n_ff ? m->n_embd : m->n_ff;
    if (m->n_head * m->head_dim > max_in) max_in = m->n_head * m->head_dim;
    if ((st = weight_converter_init(&c.conv, thread_pool_size(pool), max_in, err)) != RS_OK)
        goto fail;
    c.convert_total = bytes_to_convert(&c);

    const int64_t D = m->n_embd, H = m->n_head, KV = m->n_head_kv, hd = m->head_dim;
    const int64_t F = m->n_ff, V = m->n_vocab;
    char name[256];
    if ((st = load_matrix(&c, tensor_name(&c, &name_tok_embd, 0, name, sizeof name), D, V,
                          &w->tok_embd, err)) != RS_OK)
        goto fail;

    w->n_layer = m->n_layer;
    w->layers = calloc((size_t)m->n_layer, sizeof *w->layers);
    if (!w->layers) {
        st = rs_fail(err, RS_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    for (int64_t l = 0; l < m->n_layer; l++) {
        layer_weights *L = &w->layers[l];
#define NAME(np) tensor_name(&c, &(np), l, name, sizeof name)
#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((st = (x)) != RS_OK) goto fail;                                                        \
    } while (0)
        TRY(load_vector(&c, NAME(name_attn_norm), D, true, &L->attn_norm, err));
        TRY(load_matrix(&c, NAME(name_wq), D, H * hd, &L->wq, err));
        TRY(load_matrix(&c, NAME(name_wk), D, KV * hd, &L->wk, err));
        TRY(load_matrix(&c, NAME(name_wv), D, KV * hd, &L->wv, err));
        TRY(load_matrix(&c, NAME(name_wo), H * hd, D, &L->wo, err));
        // Biases and q/k norms are required where the configuration says so,
        // and used wherever the files hold them.
        TRY(load_vector(&c, NAME(name_bq), H * hd, m->attn_qkv_bias, &L->bq, err));
        TRY(load_vector(&c, NAME(name_bk), KV * hd, m->attn_qkv_bias, &L->bk, err));
        TRY(load_vector(&c, NAME(name_bv), KV * hd, m->attn_qkv_bias, &L->bv, err));
        TRY(load_vector(&c, NAME(name_q_norm), hd, m->attn_qk_norm, &L->q_norm, err));
        TRY(load_vector(&c, NAME(name_k_norm), hd, m->attn_qk_norm, &L->k_norm, err));
        TRY(load_vector(&c, NAME(name_ffn_norm), D, true, &L->ffn_norm, err));
        TRY(load_matrix(&c, NAME(name_gate), D, F, &L->w_gate, err));
        TRY(load_matrix(&c, NAME(name_up), D, F, &L->w_up, err));
        TRY(load_matrix(&c, NAME(name_down), F, D, &L->w_down, err));
#undef NAME
    }
    TRY(load_vector(&c, tensor_name(&c, &name_out_norm, 0, name, sizeof name), D, true,
                    &w->out_norm, err));
    tensor_name(&c, &name_output, 0, name, sizeof name);
    if (model_find_tensor(m, name))
        TRY(load_matrix(&c, name, D, V, &w->output, err));
    else if (m->tied_embeddings || c.naming == NAME_GGUF)
        w->output = w->tok_embd; // GGUF files omit output.weight when it is tied
    else {
        st = rs_fail(err, RS_ERR_INPUT,
                     "%s: tensor \"%s\" is missing and the configuration does not tie embeddings",
                     c.src_name, name);
        goto fail;
    }
    // GGUF llama files carry llama3 rope scaling as per-frequency divisors.
    int64_t rope_dim = m->rope_dim > 0 ? m->rope_dim : m->head_dim;
    if (c.naming == NAME_GGUF && model_find_tensor(m, "rope_freqs.weight"))
        TRY(load_vector(&c, "rope_freqs.weight", rope_dim / 2, true, &w->rope_factors, err));
#undef TRY

    // The type holding the most bytes names the load in reports.
    uint64_t by_type[DTYPE_COUNT] = {0};
    const weight *all[] = {&w->tok_embd, &w->output};
    for (size_t i = 0; i < 2; i++)
        if (i == 0 || all[i]->data != all[0]->data)
            by_type[all[i]->type] += (uint64_t)dtype_tensor_bytes(
                all[i]->type, all[i]->n_in, all[i]->n_in * all[i]->n_out);
    for (int64_t l = 0; l < w->n_layer; l++) {
        const weight *ws[] = {&w->layers[l].wq,     &w->layers[l].wk,   &w->layers[l].wv,
                              &w->layers[l].wo,     &w->layers[l].w_gate, &w->layers[l].w_up,
                              &w->layers[l].w_down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            by_type[ws[i]->type] +=
                (uint64_t)dtype_tensor_bytes(ws[i]->type, ws[i]->n_in, ws[i]->n_in * ws[i]->n_out);
    }
    w->main_type = DTYPE_F32;
    for (int t = 0; t < DTYPE_COUNT; t++)
        if (by_type[t] > by_type[w->main_type]) w->main_type = (dtype)t;
    weight_converter_free(&c.conv);
    return RS_OK;
fail:
    weight_converter_free(&c.conv);
    if (opt->progress && c.convert_total) fprintf(stderr, "\n");
    model_weights_free(w);
    return st;
}

void model_weights_free(model_weights *w)
{
    if (!w) return;
    for (int i = 0; i < w->n_owned; i++)
        free(w->owned[i]);
    free(w->owned);
    free(w->owned_bytes);
    for (int i = 0; i < w->n_maps; i++)
        if (w->maps[i]) munmap(w->maps[i], (size_t)w->map_size[i]);
    free(w->maps);
    free(w->map_size);
    free(w->layers);
    memset(w, 0, sizeof *w);
}

// Gives back one block of weight memory: freed when the load allocated it,
// dropped from the mapping when it lies in a model file. Returns its bytes
// (0 when it is neither, or NULL).
static uint64_t release_data(model_weights *w, const void *p, uint64_t bytes)
{
    if (!p) return 0;
    for (int i = 0; i < w->n_owned; i++)
        if (w->owned[i] == p) {
            free(w->owned[i]);
            w->owned[i] = NULL;
            return w->owned_bytes[i];
        }
    for (int i = 0; i < w->n_maps; i++) {
        const uint8_t *base = w->maps[i];
        if (base && (const uint8_t *)p >= base && (const uint8_t *)p < base + w->map_size[i]) {
            // Whole pages inside the tensor only: a neighbour's data on a
            // shared page stays (it would fault back in from the file anyway).
            weight_convert_release_source(p, bytes);
            return bytes;
        }
    }
    return 0;
}

static uint64_t weight_bytes(const weight *x)
{
    int64_t b = dtype_tensor_bytes(x->type, x->n_in, x->n_in * x->n_out);
    return b > 0 ? (uint64_t)b : 0;
}

static uint64_t release_matrix(model_weights *w, weight *x)
{
    uint64_t b = release_data(w, x->data, weight_bytes(x));
    x->data = NULL;
    return b;
}

static uint64_t release_vector(model_weights *w, float **v)
{
    // Vectors are always owned: their size is on the owned list.
    uint64_t b = release_data(w, *v, 0);
    *v = NULL;
    return b;
}

uint64_t model_weights_release_blocks(model_weights *w, int64_t first, int64_t n, bool embd,
                                      bool head)
{
    uint64_t got = 0;
    if (first < 0) first = 0;
    for (int64_t l = first; l < first + n && l < w->n_layer; l++) {
        layer_weights *L = &w->layers[l];
        weight *ms[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
            got += release_matrix(w, ms[i]);
        float **vs[] = {&L->attn_norm, &L->ffn_norm, &L->bq,    &L->bk,
                        &L->bv,        &L->q_norm,   &L->k_norm};
        for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++)
            got += release_vector(w, vs[i]);
    }
    // A tied table is both: it goes when neither role stays on the host.
    const bool tied = w->tok_embd.data && w->tok_embd.data == w->output.data;
    if (head) got += release_vector(w, &w->out_norm);
    if (tied) {
        if (head && embd) got += release_matrix(w, &w->tok_embd);
        if (head) w->output.data = NULL;
        if (embd) w->tok_embd.data = NULL;
    } else {
        if (head) got += release_matrix(w, &w->output);
        if (embd) got += release_matrix(w, &w->tok_embd);
    }
#ifdef __GLIBC__
    // Freed norms and small tensors sit in the heap: hand its free pages back.
    malloc_trim(0);
#endif
    w->bytes_released += got;
    return got;
}
