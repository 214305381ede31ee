// One device's share of the model: weights uploaded once (quantized types
// reordered for wide loads, q/k/v and gate/up concatenated where their types
// agree), the f16 KV cache of its blocks, one compute arena, and the forward
// pass: matrix-vector kernels captured in a CUDA graph for decode, cuBLAS
// GEMMs for prefill.

#include <cublas_v2.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_api.h"
#include "engine/cuda/fused.cuh"
#include "plan/gpu_arena.h"

#define BLAS(call)                                                                                 \
    do {                                                                                           \
        cublasStatus_t s_ = (call);                                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                         \
            snprintf(err, errn, "%s:%d: %s: cuBLAS status %d", __FILE__, __LINE__, #call, (int)s_); \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

// Bytes of dequantized bf16 rows a quantized prefill GEMM works through at a
// time, and keys per attention block in decode (flash-decoding split): the
// plan's numbers (plan/gpu_arena.h), which size the arena below.
#define DEQ_SCRATCH_BYTES PLAN_GPU_DEQ_SCRATCH_BYTES
#define DECODE_SPLIT_LEN PLAN_GPU_DECODE_SPLIT_LEN

// A measurement knob, not a mode: RIGHTSIZE_CUDA_SKIP="attn,o" (or "attn+o") leaves those
// launches out of every decode step (the tokens are then wrong; "prep" leaves
// out the int8 input quantization, kernels.cu), so that
// bench/cuda/run17.sh can time what each kind of kernel costs inside the
// dependent-launch chain, which ncu's one-kernel-at-a-time times do not show.
enum { SKIP_QKV = 1, SKIP_ATTN = 2, SKIP_O = 4, SKIP_GATE_UP = 8, SKIP_DOWN = 16, SKIP_HEAD = 32 };

static unsigned skip_from_env(void)
{
    const char *e = getenv("RIGHTSIZE_CUDA_SKIP");
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"qkv", SKIP_QKV},         {"attn", SKIP_ATTN}, {"o", SKIP_O},
                 {"gate_up", SKIP_GATE_UP}, {"down", SKIP_DOWN}, {"head", SKIP_HEAD}};
    unsigned bits = 0;
    while (e && *e) {
        const size_t len = strcspn(e, ",+");
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strlen(names[i].name) == len && strncmp(e, names[i].name, len) == 0) bits |= names[i].bit;
        e += len;
        if (*e == ',' || *e == '+') e++;
    }
    return bits;
}

struct rs_cuda_ctx {
    rs_cuda_model m; // host pointers not kept past create
    cudaStream_t st;
    cublasHandle_t blas;
    uint8_t *wbuf; // every weight, norm and bias
    __half *kv;    // (2, n_layer, KVH, n_ctx, hd)
    uint8_t *arena;
    dlayer *layers;
    dweight embd, out;
    const float *out_norm, *inv_freq;
    // Arena buffers (f32 unless noted), B = n_batch:
    float *x;      // (B, D) residual stream
    float *xb;     // (B, max(D, QD)) normed input
    float *qkv;    // (B, QD + 2 KD)
    float *att;    // (B, QD) attention output
    float *hb;     // (B, 2F) gate | up
    float *hb2;    // (B, F) swiglu
    float *logits; // (logits_rows, V)
    float *o_part; // (max(B H, H n_split), hd)
    float *ml_part;
    void *act;     // (B, max(D, QD, F)) bf16/f16 GEMM input
    __nv_bfloat16 *deq; // DEQ_SCRATCH_BYTES of dequantized rows
    uint8_t *mvs_buf; // mv_scratch_bytes(widest input)
    float *ss;      // (2 n_layer + 2) sums of squares of x, one per norm of a decode step
    unsigned *attn_done; // (H) decode attention's finished splits per head (attn_decode.cu)
    mv_scratch mvs;
    int32_t *tokens; // (B)
    int *pos;
    int32_t *h_io; // pinned: pos, then B tokens
    // The caller's logits buffer, page-locked on its first use: the copy
    // from the device is then one DMA, not a copy staged through the
    // driver's pinned buffer (a 0.5B model's 600 KB per token).
    float *logits_pinned;
    int64_t logits_rows, n_split_dec;
    unsigned skip; // SKIP_* launches the decode step leaves out (RIGHTSIZE_CUDA_SKIP)
    cudaGraphExec_t graph;
    int graph_state; // 0 not captured, 1 ready, -1 capture failed: run without
    // The fused decode step (fused.cuh), when the device runs it: its
    // buffers, the device copy of the layers, and why not otherwise.
    bool fused;
    fused_args fa;
    uint8_t *fbuf;
    char fused_why[160];
    FILE *trace_f; // RIGHTSIZE_CUDA_FUSED_TRACE: per token, ns between barriers
    unsigned long long *trace_h;
    int64_t trace_n;
    rs_cuda_mem mem;
};

// ---------------------------------------------------------------------------
// Upload

static uint64_t align256(uint64_t n)
{
    return (n + 255) & ~255ull;
}

static uint64_t weight_bytes(const rs_cuda_weight &w)
{
    return (uint64_t)dtype_row_bytes((dtype)w.type, w.n_in) * (uint64_t)w.n_out;
}

// Copies matrices with the same type and n_in, stacked by rows, to dst in
// the device layout (split_layout for the reordered types).
static int upload_stack(const rs_cuda_weight *ws, int n, uint8_t *dst, dweight *out, char *err,
                        size_t errn)
{
    const int type = ws[0].type;
    const int64_t n_in = ws[0].n_in;
    int64_t rows = 0;
    for (int i = 0; i < n; i++)
        rows += ws[i].n_out;
    const int64_t row_bytes = dtype_row_bytes((dtype)type, n_in);
    const split_layout sl = split_layout_of(type);
    out->type = type;
    out->n_in = n_in;
    out->n_out = rows;
    out->payload = dst;
    out->header = NULL;
    out->payload_row = row_bytes;
    out->header_row = 0;
    if (sl.block_bytes == 0) {
        uint64_t off = 0;
        for (int i = 0; i < n; i++) {
            CU(cudaMemcpy(dst + off, ws[i].data, weight_bytes(ws[i]), cudaMemcpyHostToDevice));
            off += weight_bytes(ws[i]);
        }
        return 0;
    }
    const int64_t nb = n_in / dtype_block_elems((dtype)type);
    const int hlen = sl.block_bytes - sl.payload_len;
    out->payload_row = nb * sl.payload_len;
    out->header_row = nb * hlen;
    out->header = dst + (uint64_t)rows * out->payload_row;
    int64_t r0 = 0;
    for (int i = 0; i < n; i++) {
        const uint64_t pbytes = (uint64_t)ws[i].n_out * out->payload_row;
        const uint64_t hbytes = (uint64_t)ws[i].n_out * out->header_row;
        uint8_t *p = (uint8_t *)malloc(pbytes), *h = (uint8_t *)malloc(hbytes);
        if (!p || !h) {
            free(p);
            free(h);
            snprintf(err, errn, "out of host memory reordering a %s matrix", dtype_name((dtype)type));
            return 1;
        }
        const uint8_t *src = (const uint8_t *)ws[i].data;
        const int64_t blocks = ws[i].n_out * nb;
        for (int64_t b = 0; b < blocks; b++) {
            const uint8_t *blk = src + b * sl.block_bytes;
            memcpy(p + b * sl.payload_len, blk + sl.payload_off, (size_t)sl.payload_len);
            uint8_t *hd = h + b * hlen;
            memcpy(hd, blk, (size_t)sl.payload_off);
            memcpy(hd + sl.payload_off, blk + sl.payload_off + sl.payload_len,
                   (size_t)(sl.block_bytes - sl.payload_off - sl.payload_len));
        }
        cudaError_t e1 = cudaMemcpy(dst + r0 * out->payload_row, p, pbytes, cudaMemcpyHostToDevice);
        cudaError_t e2 = cudaMemcpy((uint8_t *)out->header + r0 * out->header_row, h, hbytes,
                                    cudaMemcpyHostToDevice);
        free(p);
        free(h);
        CU(e1);
        CU(e2);
        r0 += ws[i].n_out;
    }
    return 0;
}

// A carving pass over the weight buffer: with base NULL it only counts.
struct carver {
    uint8_t *base;
    uint64_t off;
    uint8_t *take(uint64_t n)
    {
        uint8_t *p = base ? base + off : NULL;
        off += align256(n);
        return p;
    }
};

static int upload_vec(carver &cv, const float *src, int64_t n, const float **out, char *err,
                      size_t errn)
{
    *out = NULL;
    if (!src) return 0;
    uint8_t *p = cv.take((uint64_t)n * 4);
    if (p) CU(cudaMemcpy(p, src, (size_t)n * 4, cudaMemcpyHostToDevice));
    *out = (const float *)p;
    return 0;
}

static int upload_group(carver &cv, const rs_cuda_weight *ws, int n, dgroup *g, char *err,
                        size_t errn)
{
    bool same = true;
    for (int i = 1; i < n; i++)
        same = same && ws[i].type == ws[0].type && ws[i].n_in == ws[0].n_in;
    g->n_out = 0;
    g->n_parts = same ? 1 : n;
    int64_t off = 0;
    for (int i = 0; i < g->n_parts; i++) {
        const int k = same ? n : 1;
        const rs_cuda_weight *w = same ? ws : ws + i;
        uint64_t bytes = 0;
        for (int j = 0; j < k; j++)
            bytes += weight_bytes(w[j]);
        uint8_t *p = cv.take(bytes);
        g->out_off[i] = off;
        if (p) {
            if (upload_stack(w, k, p, &g->part[i], err, errn)) return 1;
        }
        for (int j = 0; j < k; j++)
            off += w[j].n_out;
    }
    g->n_out = off;
    return 0;
}

static int upload_one(carver &cv, const rs_cuda_weight &w, dweight *d, char *err, size_t errn)
{
    uint8_t *p = cv.take(weight_bytes(w));
    if (p) return upload_stack(&w, 1, p, d, err, errn);
    return 0;
}

static int check_weight(const rs_cuda_weight &w, const char *what, char *err, size_t errn)
{
    if (!cuda_type_supported(w.type) || w.n_in % 32 != 0 || dtype_row_bytes((dtype)w.type, w.n_in) < 0) {
        snprintf(err, errn, "%s: type %s with rows of %lld is not supported on the GPU", what,
                 dtype_name((dtype)w.type), (long long)w.n_in);
        return 1;
    }
    return 0;
}

// Walks every tensor once; with cv.base NULL it only sums the bytes.
static int upload_weights(rs_cuda_ctx *c, carver &cv, char *err, size_t errn)
{
    const rs_cuda_model &m = c->m;
    const int64_t QKV = (m.n_head + 2 * m.n_head_kv) * m.head_dim;
    for (int64_t l = 0; l < m.n_layer; l++) {
        const rs_cuda_layer &L = m.layers[l];
        dlayer *d = &c->layers[l];
        if (upload_vec(cv, L.attn_norm, m.n_embd, &d->attn_norm, err, errn) ||
            upload_vec(cv, L.ffn_norm, m.n_embd, &d->ffn_norm, err, errn) ||
            upload_vec(cv, L.q_norm, m.head_dim, &d->q_norm, err, errn) ||
            upload_vec(cv, L.k_norm, m.head_dim, &d->k_norm, err, errn))
            return 1;
        d->bias = NULL;
        if (L.bq || L.bk || L.bv) {
            // One (q|k|v) bias vector; absent parts are zero.
            uint8_t *p = cv.take((uint64_t)QKV * 4);
            if (p) {
                float *h = (float *)calloc((size_t)QKV, 4);
                if (!h) {
                    snprintf(err, errn, "out of host memory");
                    return 1;
                }
                const int64_t QD = m.n_head * m.head_dim, KD = m.n_head_kv * m.head_dim;
                if (L.bq) memcpy(h, L.bq, (size_t)QD * 4);
                if (L.bk) memcpy(h + QD, L.bk, (size_t)KD * 4);
                if (L.bv) memcpy(h + QD + KD, L.bv, (size_t)KD * 4);
                cudaError_t e = cudaMemcpy(p, h, (size_t)QKV * 4, cudaMemcpyHostToDevice);
                free(h);
                CU(e);
            }
            d->bias = (const float *)p;
        }
        const rs_cuda_weight qkv[3] = {L.wq, L.wk, L.wv}, gu[2] = {L.w_gate, L.w_up};
        if (upload_group(cv, qkv, 3, &d->qkv, err, errn) ||
            upload_group(cv, gu, 2, &d->gate_up, err, errn) || upload_one(cv, L.wo, &d->wo, err, errn) ||
            upload_one(cv, L.w_down, &d->down, err, errn))
            return 1;
    }
    if (m.with_embd && upload_one(cv, m.tok_embd, &c->embd, err, errn)) return 1;
    if (m.with_output && m.with_embd && m.output.data == m.tok_embd.data &&
        m.output.type == m.tok_embd.type) {
        c->out = c->embd; // tied: one copy serves the lookup and the head
        if (upload_vec(cv, m.out_norm, m.n_embd, &c->out_norm, err, errn)) return 1;
    } else if (m.with_output) {
        if (upload_one(cv, m.output, &c->out, err, errn) ||
            upload_vec(cv, m.out_norm, m.n_embd, &c->out_norm, err, errn))
            return 1;
    }
    return upload_vec(cv, m.inv_freq, m.rope_dim / 2, &c->inv_freq, err, errn);
}

static int check_model(const rs_cuda_model &m, char *err, size_t errn)
{
    if (m.head_dim > 256 || m.head_dim % 2 || m.n_head % m.n_head_kv) {
        snprintf(err, errn, "head_dim %lld / heads %lld:%lld not supported on the GPU",
                 (long long)m.head_dim, (long long)m.n_head, (long long)m.n_head_kv);
        return 1;
    }
    if (!(m.rope_attn_factor > 0.0f) || !isfinite(m.rope_attn_factor)) {
        // 0 is what a zeroed struct holds: refuse it rather than zero every rotation.
        snprintf(err, errn, "rope_attn_factor %g: must be positive (1 without YaRN)",
                 (double)m.rope_attn_factor);
        return 1;
    }
    for (int64_t l = 0; l < m.n_layer; l++) {
        const rs_cuda_layer &L = m.layers[l];
        const rs_cuda_weight *ws[] = {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down};
        for (int i = 0; i < 7; i++)
            if (check_weight(*ws[i], "layer weight", err, errn)) return 1;
    }
    if (m.with_embd && check_weight(m.tok_embd, "token embedding", err, errn)) return 1;
    if (m.with_output && check_weight(m.output, "output head", err, errn)) return 1;
    return 0;
}

// Whether a prefill GEMM dequantizes (any matrix not bf16/f16): only then
// is the scratch of dequantized rows allocated.
static bool needs_deq(const rs_cuda_model &m)
{
    auto q = [](const rs_cuda_weight &w) { return w.type != DTYPE_BF16 && w.type != DTYPE_F16; };
    for (int64_t l = 0; l < m.n_layer; l++) {
        const rs_cuda_layer &L = m.layers[l];
        if (q(L.wq) || q(L.wk) || q(L.wv) || q(L.wo) || q(L.w_gate) || q(L.w_up) || q(L.w_down))
            return true;
    }
    return m.with_output && q(m.output);
}

// ---------------------------------------------------------------------------
// The fused decode step: its buffers and arguments, when the device runs it.

static int fused_init(rs_cuda_ctx *c, int64_t widest, char *err, size_t errn)
{
    const rs_cuda_model &m = c->m;
    int grid = 0;
    size_t smem = 0;
    c->fused = false;
    if (!fused_setup(widest, m.head_dim, &grid, &smem, c->fused_why, sizeof c->fused_why)) return 0;
    const int64_t L = m.n_layer, D = m.n_embd, H = m.n_head, KVH = m.n_head_kv, hd = m.head_dim;
    const int64_t QD = H * hd, KD = KVH * hd, F = m.n_ff;
    const uint64_t sz[] = {(uint64_t)L * sizeof(dlayer), (uint64_t)D * 4, (uint64_t)L * D * 4,
                           (uint64_t)L * D * 4, (uint64_t)L * (QD + 2 * KD) * 4, (uint64_t)L * QD * 4,
                           (uint64_t)L * F * 4, fused_state_bytes(L), (uint64_t)H * 4};
    uint64_t bytes = 0;
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++)
        bytes += align256(sz[i]);
    CU(cudaMalloc(&c->fbuf, bytes));
    c->mem.compute += bytes;
    carver cv = {c->fbuf, 0};
    fused_args &a = c->fa;
    memset(&a, 0, sizeof a);
    dlayer *dl = (dlayer *)cv.take(sz[0]);
    a.x0 = (float *)cv.take(sz[1]);
    a.xa = (float *)cv.take(sz[2]);
    a.xf = (float *)cv.take(sz[3]);
    a.qkv = (float *)cv.take(sz[4]);
    a.att = (float *)cv.take(sz[5]);
    a.hb = (float *)cv.take(sz[6]);
    a.ss = (float *)cv.take(sz[7]);
    a.bar = (unsigned *)((uint8_t *)a.ss + ((uint64_t)(2 * L + 2) * 4 + 255) / 256 * 256);
    a.head_cnt = (unsigned *)cv.take(sz[8]);
    CU(cudaMemcpy(dl, c->layers, (size_t)sz[0], cudaMemcpyHostToDevice));
    CU(cudaMemset(a.head_cnt, 0, (size_t)sz[8]));
    a.layers = dl;
    a.n_layer = L, a.D = D, a.H = H, a.KVH = KVH, a.hd = hd, a.F = F, a.V = m.n_vocab;
    a.rope_dim = m.rope_dim, a.n_ctx = m.n_ctx;
    a.interleaved = m.rope_interleaved, a.with_embd = m.with_embd, a.with_output = m.with_output;
    a.attn_factor = m.rope_attn_factor, a.eps = m.norm_eps;
    a.inv_freq = c->inv_freq;
    a.kv = c->kv;
    a.pos = c->pos;
    a.tokens = c->tokens;
    if (m.with_embd) a.embd = c->embd;
    if (m.with_output) a.out = c->out, a.out_norm = c->out_norm;
    a.x_in = c->x;
    a.logits = c->logits;
    a.o_part = c->o_part, a.ml_part = c->ml_part, a.max_split = c->n_split_dec;
    a.widest = widest;
    a.grid = grid, a.smem = smem;
    const char *tp = getenv("RIGHTSIZE_CUDA_FUSED_TRACE");
    if (tp && *tp) {
        c->trace_n = 5 * L + 3;
        CU(cudaMalloc(&a.trace, (size_t)c->trace_n * 8));
        c->trace_h = (unsigned long long *)calloc((size_t)c->trace_n, 8);
        c->trace_f = fopen(tp, "a");
        if (c->trace_f) fprintf(c->trace_f, "# grid %d blocks of 256, layers %lld\n", grid, (long long)L);
    }
    c->fused = true;
    return 0;
}

// ---------------------------------------------------------------------------
// Create / destroy

static void ctx_free(rs_cuda_ctx *c)
{
    if (!c) return;
    if (c->logits_pinned) cudaHostUnregister(c->logits_pinned);
    if (c->graph) cudaGraphExecDestroy(c->graph);
    if (c->blas) cublasDestroy(c->blas);
    if (c->st) cudaStreamDestroy(c->st);
    cudaFree(c->wbuf);
    cudaFree(c->kv);
    cudaFree(c->arena);
    cudaFree(c->fbuf);
    if (c->trace_f) fclose(c->trace_f);
    free(c->trace_h);
    cudaFree(c->fa.trace);
    cudaFreeHost(c->h_io);
    free(c->layers);
    free(c);
}

static int ctx_create(const rs_cuda_model *mp, rs_cuda_ctx **out, char *err, size_t errn)
{
    *out = NULL;
    if (check_model(*mp, err, errn)) return 1;
    CU(cudaSetDevice(mp->device));
    CU(cudaFree(0)); // the context exists from here on
    rs_cuda_ctx *c = (rs_cuda_ctx *)calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errn, "out of host memory");
        return 1;
    }
    c->m = *mp;
    const rs_cuda_model &m = c->m;
    int rc = 1;
    size_t fr = 0, tot = 0;
    c->layers = (dlayer *)calloc((size_t)(m.n_layer > 0 ? m.n_layer : 1), sizeof(dlayer));
    if (!c->layers) {
        snprintf(err, errn, "out of host memory");
        goto done;
    }
    if (cudaMemGetInfo(&fr, &tot) != cudaSuccess) {
        snprintf(err, errn, "cudaMemGetInfo failed");
        goto done;
    }
    c->mem.free_before = fr;
    c->mem.total = tot;
    {
        carver count = {NULL, 0};
        if (upload_weights(c, count, err, errn)) goto done;
        if (cudaMalloc(&c->wbuf, count.off) != cudaSuccess) {
            snprintf(err, errn, "cannot allocate %.2f GiB of weights on GPU %d", count.off / 1073741824.0, m.device);
            goto done;
        }
        c->mem.weights = count.off;
        carver cv = {c->wbuf, 0};
        if (upload_weights(c, cv, err, errn)) goto done;
    }
    {
        const uint64_t kv = 2ull * (uint64_t)m.n_layer * m.n_head_kv * m.n_ctx * m.head_dim * 2;
        if (kv && cudaMalloc(&c->kv, kv) != cudaSuccess) {
            snprintf(err, errn, "cannot allocate the KV cache (%.2f GiB) on GPU %d", kv / 1073741824.0, m.device);
            goto done;
        }
        c->mem.kv = kv;
    }
    {
        // The arena is the plan's (plan/gpu_arena.h): the same function
        // gives plan_compute_gpu its figure, piece by piece.
        const plan_gpu_shape shape = {m.n_layer, m.n_embd, m.n_head, m.n_head_kv, m.head_dim,
                                      m.n_ff, m.n_vocab, m.n_ctx, m.n_batch,
                                      m.with_output ? (m.logits_all ? m.n_batch : 1) : 0,
                                      needs_deq(m)};
        plan_gpu_arena ar;
        plan_gpu_arena_size(&shape, &ar);
        const int64_t F = m.n_ff, widest = ar.widest;
        c->logits_rows = shape.logits_rows;
        c->n_split_dec = ar.n_split;
        c->skip = skip_from_env();
        if (ar.bytes[PLAN_GPU_MV] < align256(mv_scratch_bytes(widest))) {
            snprintf(err, errn, "plan/gpu_arena.c counts %llu bytes of matrix-vector scratch, common.cuh needs %llu",
                     (unsigned long long)ar.bytes[PLAN_GPU_MV], (unsigned long long)mv_scratch_bytes(widest));
            goto done;
        }
        if (cudaMalloc(&c->arena, ar.total) != cudaSuccess) {
            snprintf(err, errn, "cannot allocate %.2f GiB of compute buffers on GPU %d", ar.total / 1073741824.0, m.device);
            goto done;
        }
        c->mem.compute = ar.total;
        carver cv = {c->arena, 0};
        void **ptrs[PLAN_GPU_N_PIECES] = {
            (void **)&c->x,      (void **)&c->xb,     (void **)&c->qkv,    (void **)&c->att,
            (void **)&c->hb,     (void **)&c->hb2,    (void **)&c->logits, (void **)&c->o_part,
            (void **)&c->ml_part, (void **)&c->act,   (void **)&c->deq,    (void **)&c->tokens,
            (void **)&c->pos,    (void **)&c->mvs_buf, (void **)&c->ss,     (void **)&c->attn_done};
        for (int i = 0; i < PLAN_GPU_N_PIECES; i++)
            *ptrs[i] = cv.take(ar.bytes[i]);
        c->mvs = mv_scratch_at(c->mvs_buf, widest);
        if (matvec_setup(F > widest ? F : widest, err, errn)) goto done;
        for (int64_t l = 0; l < m.n_layer; l++)
            c->layers[l].window =
                m.sliding_window > 0 && (!m.layer_swa || m.layer_swa[l]) ? m.sliding_window : 0;
        if (fused_init(c, widest, err, errn)) goto done;
        if (cudaMemset(c->attn_done, 0, (size_t)ar.bytes[PLAN_GPU_DONE]) != cudaSuccess) {
            snprintf(err, errn, "cannot clear the attention counters on GPU %d", m.device);
            goto done;
        }
    }
    if (cudaMallocHost(&c->h_io, (size_t)(m.n_batch + 1) * 4) != cudaSuccess ||
        cudaStreamCreateWithFlags(&c->st, cudaStreamNonBlocking) != cudaSuccess ||
        cublasCreate(&c->blas) != CUBLAS_STATUS_SUCCESS ||
        cublasSetStream(c->blas, c->st) != CUBLAS_STATUS_SUCCESS) {
        snprintf(err, errn, "cannot create the CUDA stream or the cuBLAS handle");
        goto done;
    }
    cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH);
    c->m.layers = NULL; // host pointers are not kept
    c->m.layer_swa = NULL;
    if (mp->layer_swa) {
        uint8_t *swa = (uint8_t *)malloc((size_t)m.n_layer);
        if (!swa) goto done;
        memcpy(swa, mp->layer_swa, (size_t)m.n_layer);
        c->m.layer_swa = swa; // freed with the context: see destroy
    }
    cudaMemGetInfo(&fr, &tot);
    c->mem.free_after = fr;
    rc = 0;
done:
    if (rc) {
        ctx_free(c);
        return 1;
    }
    *out = c;
    return 0;
}

// ---------------------------------------------------------------------------
// Forward

// y (n, ldy) [+]= x (n, n_in) W^T, over the group's parts, through cuBLAS.
static int gemm(rs_cuda_ctx *c, const dweight &w, const float *x, int64_t n, float *y, int64_t ldy,
                float beta, char *err, size_t errn)
{
    const bool direct = w.type == DTYPE_BF16 || w.type == DTYPE_F16;
    const bool bf = w.type != DTYPE_F16;
    const cudaDataType ht = bf ? CUDA_R_16BF : CUDA_R_16F;
    launch_to_half(x, c->act, n * w.n_in, bf, c->st);
    const float alpha = 1.0f;
    if (direct) {
        BLAS(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)w.n_out, (int)n, (int)w.n_in, &alpha,
                          w.payload, ht, (int)w.n_in, c->act, ht, (int)w.n_in, &beta, y, CUDA_R_32F,
                          (int)ldy, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        return 0;
    }
    // Chunks of whole multiples of 64 rows: at 4,681 rows (32 MiB of a
    // 3584-wide matrix) the output of every chunk after the first starts
    // off 16-byte alignment and cuBLAS takes a kernel 5x slower (run 19:
    // 69 of a 7B Q8_0 prefill's 95 ms).
    int64_t chunk = (int64_t)(DEQ_SCRATCH_BYTES / 2) / w.n_in / 64 * 64;
    if (chunk < 1) chunk = 1;
    if (chunk > w.n_out) chunk = w.n_out;
    for (int64_t r0 = 0; r0 < w.n_out; r0 += chunk) {
        const int64_t rows = w.n_out - r0 < chunk ? w.n_out - r0 : chunk;
        launch_dequant_bf16(w, r0, rows, c->deq, c->st);
        BLAS(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)rows, (int)n, (int)w.n_in, &alpha,
                          c->deq, CUDA_R_16BF, (int)w.n_in, c->act, CUDA_R_16BF, (int)w.n_in, &beta,
                          y + r0, CUDA_R_32F, (int)ldy, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
    return 0;
}

static int gemm_group(rs_cuda_ctx *c, const dgroup &g, const float *x, int64_t n, float *y,
                      char *err, size_t errn)
{
    for (int i = 0; i < g.n_parts; i++)
        if (gemm(c, g.part[i], x, n, y + g.out_off[i], g.n_out, 0.0f, err, errn)) return 1;
    return 0;
}

static void matvec_group(rs_cuda_ctx *c, const dgroup &g, const float *x, float *y, int pro,
                         const float *norm_w)
{
    for (int i = 0; i < g.n_parts; i++)
        launch_matvec(g.part[i], x, y + g.out_off[i], false, pro, norm_w, c->m.norm_eps, c->mvs,
                      c->st);
}

static mv_args mv(const float *x, int pro, const float *norm_w, const float *ss_in, float *y,
                  bool accumulate, float *ss_out, bool swiglu_out, float eps)
{
    mv_args a;
    a.x = x, a.pro = pro, a.norm_w = norm_w, a.ss_in = ss_in, a.eps = eps;
    a.y = y, a.accumulate = accumulate, a.ss_out = ss_out, a.swiglu_out = swiglu_out;
    a.q_ready = false;
    return a;
}

static void attention(rs_cuda_ctx *c, int64_t l, int64_t n, bool decode, bool quant_out = false)
{
    const rs_cuda_model &m = c->m;
    const int64_t cache_layer = m.n_head_kv * m.n_ctx * m.head_dim;
    const __half *kc = c->kv + l * cache_layer;
    const __half *vc = c->kv + (m.n_layer + l) * cache_layer;
    attn_args a;
    a.q = c->qkv;
    a.q_stride = (m.n_head + 2 * m.n_head_kv) * m.head_dim;
    a.k_cache = kc;
    a.v_cache = vc;
    a.pos = c->pos;
    a.n = n;
    a.H = m.n_head;
    a.KVH = m.n_head_kv;
    a.hd = m.head_dim;
    a.n_ctx = m.n_ctx;
    a.window = c->layers[l].window;
    a.split_len = decode ? DECODE_SPLIT_LEN : m.n_ctx;
    a.n_split = decode ? c->n_split_dec : 1;
    a.o_part = c->o_part;
    a.ml_part = c->ml_part;
    a.out = c->att;
    a.xq = quant_out ? c->mvs.xq : NULL;
    a.xds = quant_out ? c->mvs.xds : NULL;
    a.trigger = decode && !matvec_old() && matvec_pdl();
    static const bool prefill_old = getenv("RIGHTSIZE_CUDA_PREFILL_ATTN_OLD") != NULL;
    if (decode || prefill_old || !launch_attention_prefill(a, c->st))
        launch_attention(a, c->st);
}

// The decode step's attention in one launch (attn_decode.cu), where it
// handles the head size; false to take rope_kv + attention instead.
static bool attention_decode(rs_cuda_ctx *c, int64_t l, bool quant_out)
{
    const rs_cuda_model &m = c->m;
    static const bool off = getenv("RIGHTSIZE_CUDA_ATTN_OLD") != NULL;
    if (off) return false;
    const int64_t cache_layer = m.n_head_kv * m.n_ctx * m.head_dim;
    attn_decode_args a;
    a.qkv = c->qkv;
    a.bias = c->layers[l].bias;
    a.q_norm = c->layers[l].q_norm;
    a.k_norm = c->layers[l].k_norm;
    a.inv_freq = c->inv_freq;
    a.k_cache = c->kv + l * cache_layer;
    a.v_cache = c->kv + (m.n_layer + l) * cache_layer;
    a.pos = c->pos;
    a.H = m.n_head, a.KVH = m.n_head_kv, a.hd = m.head_dim, a.rope_dim = m.rope_dim;
    a.n_ctx = m.n_ctx;
    a.window = c->layers[l].window;
    a.n_split = c->n_split_dec;
    a.interleaved = m.rope_interleaved;
    a.attn_factor = m.rope_attn_factor;
    a.eps = m.norm_eps;
    a.o_part = c->o_part;
    a.ml_part = c->ml_part;
    a.done = c->attn_done;
    a.out = c->att;
    a.xq = quant_out ? c->mvs.xq : NULL;
    a.xds = quant_out ? c->mvs.xds : NULL;
    return launch_attention_decode(a, c->st);
}

static void rope_kv(rs_cuda_ctx *c, int64_t l, int64_t n)
{
    const rs_cuda_model &m = c->m;
    const int64_t cache_layer = m.n_head_kv * m.n_ctx * m.head_dim;
    rope_kv_args a;
    a.qkv = c->qkv;
    a.bias = c->layers[l].bias;
    a.q_norm = c->layers[l].q_norm;
    a.k_norm = c->layers[l].k_norm;
    a.inv_freq = c->inv_freq;
    a.k_cache = c->kv + l * cache_layer;
    a.v_cache = c->kv + (m.n_layer + l) * cache_layer;
    a.pos = c->pos;
    a.n = n;
    a.H = m.n_head;
    a.KVH = m.n_head_kv;
    a.hd = m.head_dim;
    a.rope_dim = m.rope_dim;
    a.n_ctx = m.n_ctx;
    a.interleaved = m.rope_interleaved;
    a.attn_factor = m.rope_attn_factor;
    a.eps = m.norm_eps;
    launch_rope_kv(a, c->st);
}

// One token: every launch reads the position and token from device memory,
// so the sequence can be captured once and replayed.
static void decode_step_old(rs_cuda_ctx *c)
{
    const rs_cuda_model &m = c->m;
    if (m.with_embd) launch_embed(c->embd, c->tokens, 1, c->x, c->st);
    for (int64_t l = 0; l < m.n_layer; l++) {
        const dlayer &L = c->layers[l];
        matvec_group(c, L.qkv, c->x, c->qkv, PRO_RMSNORM, L.attn_norm);
        rope_kv(c, l, 1);
        attention(c, l, 1, true);
        launch_matvec(L.wo, c->att, c->x, true, PRO_NONE, NULL, m.norm_eps, c->mvs, c->st);
        matvec_group(c, L.gate_up, c->x, c->hb, PRO_RMSNORM, L.ffn_norm);
        launch_matvec(L.down, c->hb, c->x, true, PRO_SWIGLU, NULL, m.norm_eps, c->mvs, c->st);
    }
    if (m.with_output)
        launch_matvec(c->out, c->x, c->logits, false, PRO_RMSNORM, c->out_norm, m.norm_eps, c->mvs,
                      c->st);
}

// The decode step of the second matrix-vector kernels: each product that
// writes the residual stream (the embedding, o, down) also sums the squares
// of what it wrote into a slot of c->ss, so the RMSNorm of the next product
// costs no pass of its own; gate|up write silu(gate) * up directly.
static void decode_step(rs_cuda_ctx *c)
{
    const rs_cuda_model &m = c->m;
    if (matvec_old()) {
        decode_step_old(c);
        return;
    }
    const float eps = m.norm_eps;
    const int64_t zero = 0;
    const float *ss_cur = NULL; // without the embedding, the first norm has its own pass
    const int64_t ss_n = 2 * m.n_layer + 2;
    if (m.with_embd) {
        // The token comes in beside the position (ctx_forward: one copy).
        launch_embed(c->embd, (const int32_t *)c->pos + 1, 1, c->x, c->st, c->ss, ss_n);
        ss_cur = c->ss;
    } else {
        cudaMemsetAsync(c->ss, 0, (size_t)ss_n * sizeof(float), c->st);
    }
    for (int64_t l = 0; l < m.n_layer; l++) {
        const dlayer &L = c->layers[l];
        float *ss_attn = c->ss + 2 * l + 1, *ss_ffn = c->ss + 2 * l + 2;
        const unsigned skip = c->skip;
        if (!(skip & SKIP_QKV))
            launch_matvec_group(L.qkv.part, L.qkv.out_off, L.qkv.n_parts,
                                mv(c->x, PRO_RMSNORM, L.attn_norm, ss_cur, c->qkv, false, NULL, false, eps),
                                c->mvs, c->st);
        // An int8 o projection takes its input quantized by the attention's
        // last kernel rather than by a launch of its own.
        const bool att_q = mv_int8(L.wo.type) && m.head_dim % 32 == 0;
        if (!(skip & SKIP_ATTN) && !attention_decode(c, l, att_q)) {
            rope_kv(c, l, 1);
            attention(c, l, 1, true, att_q);
        }
        mv_args ao = mv(c->att, PRO_NONE, NULL, NULL, c->x, true, ss_attn, false, eps);
        ao.q_ready = att_q;
        if (!(skip & SKIP_O)) launch_matvec_group(&L.wo, &zero, 1, ao, c->mvs, c->st);
        if (L.gate_up.n_parts == 1) {
            if (!(skip & SKIP_GATE_UP))
                launch_matvec_group(L.gate_up.part, L.gate_up.out_off, 1,
                                    mv(c->x, PRO_RMSNORM, L.ffn_norm, ss_attn, c->hb2, false, NULL, true, eps),
                                    c->mvs, c->st);
            if (!(skip & SKIP_DOWN))
                launch_matvec_group(&L.down, &zero, 1,
                                    mv(c->hb2, PRO_NONE, NULL, NULL, c->x, true, ss_ffn, false, eps),
                                    c->mvs, c->st);
        } else {
            if (!(skip & SKIP_GATE_UP))
                launch_matvec_group(L.gate_up.part, L.gate_up.out_off, L.gate_up.n_parts,
                                    mv(c->x, PRO_RMSNORM, L.ffn_norm, ss_attn, c->hb, false, NULL, false, eps),
                                    c->mvs, c->st);
            if (!(skip & SKIP_DOWN))
                launch_matvec_group(&L.down, &zero, 1,
                                    mv(c->hb, PRO_SWIGLU, NULL, NULL, c->x, true, ss_ffn, false, eps),
                                    c->mvs, c->st);
        }
        ss_cur = ss_ffn;
    }
    if (m.with_output && !(c->skip & SKIP_HEAD))
        launch_matvec_group(&c->out, &zero, 1,
                            mv(c->x, PRO_RMSNORM, c->out_norm, ss_cur, c->logits, false, NULL, false, eps),
                            c->mvs, c->st);
}

static int prefill_step(rs_cuda_ctx *c, int64_t n, int64_t logits_rows, char *err, size_t errn)
{
    const rs_cuda_model &m = c->m;
    const int64_t D = m.n_embd, F = m.n_ff;
    if (m.with_embd) launch_embed(c->embd, c->tokens, n, c->x, c->st);
    for (int64_t l = 0; l < m.n_layer; l++) {
        const dlayer &L = c->layers[l];
        launch_rmsnorm_rows(c->x, L.attn_norm, c->xb, n, D, m.norm_eps, c->st);
        if (gemm_group(c, L.qkv, c->xb, n, c->qkv, err, errn)) return 1;
        rope_kv(c, l, n);
        attention(c, l, n, false);
        if (gemm(c, L.wo, c->att, n, c->x, D, 1.0f, err, errn)) return 1;
        launch_rmsnorm_rows(c->x, L.ffn_norm, c->xb, n, D, m.norm_eps, c->st);
        if (gemm_group(c, L.gate_up, c->xb, n, c->hb, err, errn)) return 1;
        launch_swiglu_rows(c->hb, c->hb2, n, F, c->st);
        if (gemm(c, L.down, c->hb2, n, c->x, D, 1.0f, err, errn)) return 1;
    }
    if (m.with_output) {
        if (logits_rows >= n && n > 1) {
            launch_rmsnorm_rows(c->x, c->out_norm, c->xb, n, D, m.norm_eps, c->st);
            if (gemm(c, c->out, c->xb, n, c->logits, m.n_vocab, 0.0f, err, errn)) return 1;
        } else {
            launch_matvec(c->out, c->x + (n - 1) * D, c->logits, false, PRO_RMSNORM, c->out_norm,
                          m.norm_eps, c->mvs, c->st);
        }
    }
    return 0;
}

static int ctx_forward(rs_cuda_ctx *c, const int32_t *tokens, const float *x_in, int64_t n,
                       int64_t pos, float *x_out, float *logits, int64_t logits_rows, char *err,
                       size_t errn)
{
    const rs_cuda_model &m = c->m;
    if (n < 1 || n > m.n_batch || pos < 0 || pos + n > m.n_ctx) {
        snprintf(err, errn, "GPU forward: %lld tokens at %lld outside batch %lld / context %lld",
                 (long long)n, (long long)pos, (long long)m.n_batch, (long long)m.n_ctx);
        return 1;
    }
    CU(cudaSetDevice(m.device));
    c->h_io[0] = (int32_t)pos;
    if (tokens) memcpy(c->h_io + 1, tokens, (size_t)n * 4);
    // A decode step's token goes with its position in one copy (the pos
    // piece of the arena holds 256 bytes); a prefill's tokens to their own.
    const bool one_copy = n == 1 && m.with_embd && !c->fused && !matvec_old(); // decode_step's

    CU(cudaMemcpyAsync(c->pos, c->h_io, one_copy ? 8 : 4, cudaMemcpyHostToDevice, c->st));
    if (m.with_embd && !one_copy)
        CU(cudaMemcpyAsync(c->tokens, c->h_io + 1, (size_t)n * 4, cudaMemcpyHostToDevice, c->st));
    else if (!m.with_embd)
        CU(cudaMemcpyAsync(c->x, x_in, (size_t)(n * m.n_embd) * 4, cudaMemcpyHostToDevice, c->st));
    if (n == 1 && c->fused) {
        if (fused_launch(c->fa, c->st, err, errn)) return 1;
        if (!m.with_output)
            CU(cudaMemcpyAsync(c->x, c->fa.xf + (m.n_layer - 1) * m.n_embd, (size_t)m.n_embd * 4,
                               cudaMemcpyDeviceToDevice, c->st));
    } else if (n == 1) {
        if (c->graph_state == 0) {
            // Capture the decode step once; a failed capture falls back to
            // plain launches rather than failing the run.
            cudaGraph_t g = NULL;
            c->graph_state = -1;
            if (cudaStreamBeginCapture(c->st, cudaStreamCaptureModeThreadLocal) == cudaSuccess) {
                decode_step(c);
                if (cudaStreamEndCapture(c->st, &g) == cudaSuccess && g &&
                    cudaGraphInstantiate(&c->graph, g, 0) == cudaSuccess)
                    c->graph_state = 1;
                if (g) cudaGraphDestroy(g);
            }
            cudaGetLastError();
            if (getenv("RIGHTSIZE_CUDA_NO_GRAPH")) c->graph_state = -1;
        }
        if (c->graph_state == 1) CU(cudaGraphLaunch(c->graph, c->st));
        else decode_step(c);
    } else if (prefill_step(c, n, logits_rows, err, errn)) {
        return 1;
    }
    CU(cudaGetLastError());
    if (m.with_output) {
        const int64_t rows = logits_rows >= n && n > 1 ? n : 1;
        if (logits != c->logits_pinned && logits_rows == c->logits_rows) {
            if (c->logits_pinned) cudaHostUnregister(c->logits_pinned);
            c->logits_pinned = NULL;
            // Pageable memory still works, only slower: a failure is no error.
            if (cudaHostRegister(logits, (size_t)(logits_rows * m.n_vocab) * 4,
                                 cudaHostRegisterDefault) == cudaSuccess)
                c->logits_pinned = logits;
            else
                cudaGetLastError();
        }
        CU(cudaMemcpyAsync(logits, c->logits, (size_t)(rows * m.n_vocab) * 4, cudaMemcpyDeviceToHost, c->st));
    } else {
        CU(cudaMemcpyAsync(x_out, c->x, (size_t)(n * m.n_embd) * 4, cudaMemcpyDeviceToHost, c->st));
    }
    CU(cudaStreamSynchronize(c->st));
    if (n == 1 && c->fused && c->trace_f && c->trace_h) {
        CU(cudaMemcpy(c->trace_h, c->fa.trace, (size_t)c->trace_n * 8, cudaMemcpyDeviceToHost));
        fprintf(c->trace_f, "%lld", (long long)pos);
        for (int64_t k = 1; k < c->trace_n; k++)
            fprintf(c->trace_f, " %llu", c->trace_h[k] - c->trace_h[k - 1]);
        fputc('\n', c->trace_f);
    }
    return 0;
}

// ---------------------------------------------------------------------------
// The table the core reads

static int api_device_count(int *n, char *err, size_t errn)
{
    *n = 0;
    // The usual answer on a machine without a GPU: one plain line for the note.
    cudaError_t e = cudaGetDeviceCount(n);
    if (e != cudaSuccess) {
        *n = 0;
        snprintf(err, errn, "%s", cudaGetErrorString(e));
        return 1;
    }
    return 0;
}

static int api_device_info(int dev, char *name, size_t name_n, uint64_t *free_b, uint64_t *total_b,
                           char *err, size_t errn)
{
    cudaDeviceProp p;
    CU(cudaGetDeviceProperties(&p, dev));
    snprintf(name, name_n, "%s", p.name);
    CU(cudaSetDevice(dev));
    size_t f = 0, t = 0;
    CU(cudaMemGetInfo(&f, &t));
    *free_b = f;
    *total_b = t;
    return 0;
}

static int api_measure_copy(int dev, uint64_t bytes, int runs, double *gbs, char *err, size_t errn)
{
    CU(cudaSetDevice(dev));
    void *a = NULL, *b = NULL;
    CU(cudaMalloc(&a, bytes));
    if (cudaMalloc(&b, bytes) != cudaSuccess) {
        cudaFree(a);
        snprintf(err, errn, "cannot allocate 2 x %llu bytes for the copy test", (unsigned long long)bytes);
        return 1;
    }
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    cudaMemset(a, 1, bytes);
    cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
    float best = 1e30f;
    for (int i = 0; i < runs; i++) {
        cudaEventRecord(e0);
        cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
        cudaEventRecord(e1);
        cudaEventSynchronize(e1);
        float ms = 0;
        cudaEventElapsedTime(&ms, e0, e1);
        if (ms < best) best = ms;
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cudaFree(a);
    cudaFree(b);
    CU(cudaGetLastError());
    *gbs = 2.0 * (double)bytes / (best * 1e-3) / 1e9; // read + write
    return 0;
}

static void api_destroy(rs_cuda_ctx *c)
{
    if (!c) return;
    cudaSetDevice(c->m.device);
    free((void *)c->m.layer_swa);
    ctx_free(c);
}

static void api_memory(const rs_cuda_ctx *c, rs_cuda_mem *out)
{
    *out = c->mem;
}

static int test_op_run(rs_cuda_ctx *c, int op, const rs_cuda_weight *w, const float *x,
                       const float *norm_w, int64_t n, float *y, char *err, size_t errn)
{
    const int64_t xin = op == RS_CUDA_OP_MATVEC_SWIGLU ? 2 * w->n_in
                        : op == RS_CUDA_OP_GEMM        ? n * w->n_in
                        : op == RS_CUDA_OP_EMBED       ? n
                                                       : w->n_in;
    const int64_t yn = op == RS_CUDA_OP_GEMM ? n * w->n_out : op == RS_CUDA_OP_EMBED ? n * w->n_in : w->n_out;
    uint8_t *wd = NULL;
    float *xd = NULL, *yd = NULL, *nd = NULL;
    CU(cudaMalloc(&wd, weight_bytes(*w)));
    c->wbuf = wd;
    CU(cudaMalloc(&xd, (size_t)xin * 4));
    c->x = xd;
    CU(cudaMalloc(&yd, (size_t)yn * 4));
    c->logits = yd;
    CU(cudaMalloc(&nd, (size_t)w->n_in * 4));
    c->xb = nd;
    CU(cudaMalloc(&c->act, (size_t)(n > 0 ? n : 1) * w->n_in * 2));
    CU(cudaMalloc(&c->deq, DEQ_SCRATCH_BYTES));
    CU(cudaMalloc(&c->mvs_buf, mv_scratch_bytes(w->n_in)));
    c->mvs = mv_scratch_at(c->mvs_buf, w->n_in);
    dweight dw;
    if (upload_stack(w, 1, wd, &dw, err, errn)) return 1;
    CU(cudaMemcpy(xd, x, (size_t)xin * 4, cudaMemcpyHostToDevice));
    if (norm_w) CU(cudaMemcpy(nd, norm_w, (size_t)w->n_in * 4, cudaMemcpyHostToDevice));
    if (matvec_setup(w->n_in, err, errn)) return 1;
    if (cublasCreate(&c->blas) != CUBLAS_STATUS_SUCCESS) {
        snprintf(err, errn, "cublasCreate failed");
        return 1;
    }
    cublasSetStream(c->blas, c->st);
    switch (op) {
    case RS_CUDA_OP_MATVEC: launch_matvec(dw, xd, yd, false, PRO_NONE, NULL, 1e-5f, c->mvs, c->st); break;
    case RS_CUDA_OP_MATVEC_NORM:
        launch_matvec(dw, xd, yd, false, PRO_RMSNORM, nd, 1e-5f, c->mvs, c->st);
        break;
    case RS_CUDA_OP_MATVEC_SWIGLU:
        launch_matvec(dw, xd, yd, false, PRO_SWIGLU, NULL, 1e-5f, c->mvs, c->st);
        break;
    case RS_CUDA_OP_GEMM:
        if (gemm(c, dw, xd, n, yd, w->n_out, 0.0f, err, errn)) return 1;
        break;
    case RS_CUDA_OP_EMBED: launch_embed(dw, (const int32_t *)xd, n, yd, c->st); break;
    default: snprintf(err, errn, "unknown op %d", op); return 1;
    }
    CU(cudaStreamSynchronize(c->st));
    CU(cudaGetLastError());
    CU(cudaMemcpy(y, yd, (size_t)yn * 4, cudaMemcpyDeviceToHost));
    return 0;
}

static int api_test_op(int op, const rs_cuda_weight *w, const float *x, const float *norm_w, int64_t n,
                       float *y, char *err, size_t errn)
{
    if (check_weight(*w, "test weight", err, errn)) return 1;
    CU(cudaSetDevice(0));
    rs_cuda_ctx c;
    memset(&c, 0, sizeof c);
    CU(cudaStreamCreate(&c.st));
    int rc = test_op_run(&c, op, w, x, norm_w, n, y, err, errn);
    if (c.blas) cublasDestroy(c.blas);
    cudaStreamDestroy(c.st);
    cudaFree(c.wbuf);
    cudaFree(c.x);
    cudaFree(c.logits);
    cudaFree(c.xb);
    cudaFree(c.act);
    cudaFree(c.deq);
    cudaFree(c.mvs_buf);
    return rc;
}

static const rs_cuda_api api = {
    RS_CUDA_API_VERSION, api_device_count, api_device_info, api_measure_copy, ctx_create,
    api_destroy,         ctx_forward,      api_memory,       api_test_op,
};

extern "C" __attribute__((visibility("default"))) const rs_cuda_api *rs_cuda_get_api(void)
{
    return &api;
}
