// Fine-tuning memory, component by component. Every coefficient below comes
// from counting the tensors PyTorch's autograd saves for one decoder layer
// of the transformers implementation (RMSNorm, q/k/v/o, RoPE, sdpa, SwiGLU)
// and was checked against torch.cuda.max_memory_allocated() on real runs:
// docs/training-memory.md (derivation), docs/training-accuracy.md (check).
#include "plan/train.h"

#include <string.h>
#include <strings.h>

// Live tensors beyond the parameters right after transformers builds a
// model on the GPU (measured: 69-136 MB, bench/results/train_measured_h200.jsonl).
static const uint64_t TRAIN_FRAMEWORK_BYTES = 72ull << 20;
// CUDA context, kernels and cuBLAS handles, which max_memory_allocated does
// not see: about 500 MiB with PyTorch 2.x on Hopper (lazy module loading).
static const uint64_t TRAIN_CUDA_CONTEXT_BYTES = 500ull << 20;
// QLoRA's NF4 base: 4 bits per weight plus double-quantized absmax
// constants: one byte per 64-weight block and one fp32 per 256 blocks.
static const double QLORA_BYTES_PER_WEIGHT = 0.5 + 1.0 / 64 + 4.0 / (64 * 256);

train_options train_default_options(void)
{
    return (train_options){
        .method = TRAIN_FULL,
        .seq = 2048,
        .micro_batch = 1,
        .grad_accum = 1,
        .optim = TRAIN_OPTIM_ADAMW,
        .precision = TRAIN_PRECISION_BF16_MIXED,
        .grad_checkpointing = false,
        .flash_attention = true,
        .lora_rank = 16,
        .lora_targets = TRAIN_TARGET_ALL,
        .zero_stage = 0,
        .n_gpus = 1,
        .offload_optimizer = false,
    };
}

static const char *const method_names[] = {"full", "lora", "qlora"};
static const char *const optim_names[] = {"adamw", "adamw-8bit", "adafactor", "sgd", "sgd-momentum"};
static const char *const precision_names[] = {"bf16-mixed", "fp16-mixed", "fp32", "bf16-pure"};

static int find_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcasecmp(names[i], s) == 0) return i;
    return -1;
}

int train_parse_method(const char *s, train_method *out)
{
    int i = find_name(method_names, 3, s);
    if (i >= 0) *out = (train_method)i;
    return i < 0 ? -1 : 0;
}

int train_parse_optim(const char *s, train_optim *out)
{
    int i = find_name(optim_names, 5, s);
    if (i < 0 && s && strcasecmp(s, "adam") == 0) i = 0;
    if (i >= 0) *out = (train_optim)i;
    return i < 0 ? -1 : 0;
}

int train_parse_precision(const char *s, train_precision *out)
{
    int i = find_name(precision_names, 4, s);
    if (i < 0 && s && strcasecmp(s, "bf16") == 0) i = TRAIN_PRECISION_BF16_MIXED;
    if (i < 0 && s && strcasecmp(s, "fp16") == 0) i = TRAIN_PRECISION_FP16_MIXED;
    if (i >= 0) *out = (train_precision)i;
    return i < 0 ? -1 : 0;
}

const char *train_method_name(train_method m)
{
    return (unsigned)m < 3 ? method_names[m] : "?";
}

const char *train_optim_name(train_optim o)
{
    return (unsigned)o < 5 ? optim_names[o] : "?";
}

const char *train_precision_name(train_precision p)
{
    return (unsigned)p < 4 ? precision_names[p] : "?";
}

int train_parse_targets(const char *s, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned bit;
    } targets[] = {
        {"q", TRAIN_TARGET_Q},       {"k", TRAIN_TARGET_K},   {"v", TRAIN_TARGET_V},
        {"o", TRAIN_TARGET_O},       {"gate", TRAIN_TARGET_GATE}, {"up", TRAIN_TARGET_UP},
        {"down", TRAIN_TARGET_DOWN}, {"all", TRAIN_TARGET_ALL},
    };
    unsigned bits = 0;
    const char *p = s;
    while (p && *p) {
        size_t n = strcspn(p, ",");
        bool found = false;
        for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
            if (strlen(targets[i].name) == n && strncasecmp(p, targets[i].name, n) == 0) {
                bits |= targets[i].bit;
                found = true;
            }
        if (!found) return -1;
        p += n;
        if (*p == ',') p++;
    }
    if (!bits) return -1;
    *out = bits;
    return 0;
}

// The shapes one layer's activations depend on.
typedef struct layer_dims {
    uint64_t h;   // hidden size
    uint64_t q;   // n_head * head_dim
    uint64_t kv;  // n_head_kv * head_dim
    uint64_t f;   // FFN width a token passes through (routed experts used + shared)
    uint64_t heads;
    uint64_t vocab;
    uint64_t layers;
} layer_dims;

static layer_dims dims_of(const model_desc *m)
{
    int64_t head_dim = m->head_dim > 0 ? m->head_dim : (m->n_head > 0 ? m->n_embd / m->n_head : 0);
    int64_t f = m->n_ff;
    if (m->n_expert > 0 && m->n_ff_expert > 0)
        f = m->n_expert_used * m->n_ff_expert + m->n_ff_shared;
    return (layer_dims){
        .h = (uint64_t)m->n_embd,
        .q = (uint64_t)(m->n_head * head_dim),
        .kv = (uint64_t)(m->n_head_kv * head_dim),
        .f = (uint64_t)f,
        .heads = (uint64_t)m->n_head,
        .vocab = (uint64_t)m->n_vocab,
        .layers = (uint64_t)m->n_layer,
    };
}

// Parameters of the LoRA adapters: r x (in + out) for each targeted matrix
// of each layer. For MoE layers the FFN targets exist once per expert.
static uint64_t adapter_params(const layer_dims *d, const model_desc *m, const train_options *o)
{
    uint64_t r = (uint64_t)o->lora_rank, per_layer = 0;
    unsigned t = o->lora_targets;
    uint64_t f_one = (uint64_t)(m->n_expert > 0 && m->n_ff_expert > 0 ? m->n_ff_expert : m->n_ff);
    uint64_t n_ffn = m->n_expert > 0 ? (uint64_t)m->n_expert : 1;
    if (t & TRAIN_TARGET_Q) per_layer += r * (d->h + d->q);
    if (t & TRAIN_TARGET_K) per_layer += r * (d->h + d->kv);
    if (t & TRAIN_TARGET_V) per_layer += r * (d->h + d->kv);
    if (t & TRAIN_TARGET_O) per_layer += r * (d->q + d->h);
    if (t & TRAIN_TARGET_GATE) per_layer += n_ffn * r * (d->h + f_one);
    if (t & TRAIN_TARGET_UP) per_layer += n_ffn * r * (d->h + f_one);
    if (t & TRAIN_TARGET_DOWN) per_layer += n_ffn * r * (f_one + d->h);
    return per_layer * d->layers;
}

static bool tensor_is_embedding(const char *name)
{
    return strstr(name, "embed_tokens") || strstr(name, "token_embd") || strstr(name, "wte.");
}

static bool tensor_is_lm_head(const char *name)
{
    return strstr(name, "lm_head") || strcmp(name, "output.weight") == 0;
}

static train_params count_params(const model_desc *m, const train_options *o)
{
    train_params p = {0};
    layer_dims d = dims_of(m);
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        uint64_t n = (uint64_t)t->n_elems;
        p.total += n;
        if (tensor_is_embedding(t->name)) {
            p.embedding += n;
            if (m->tied_embeddings) p.linear += n; // the tied lm_head multiplies it
        } else if (t->n_dims >= 2) {
            p.linear += n;
            if (!tensor_is_lm_head(t->name)) p.quantizable += n;
        }
    }
    if (m->n_tensors == 0) { // no tensor list: fall back on the count alone
        p.total = m->n_params;
        p.embedding = d.vocab * d.h;
        p.linear = p.total - p.embedding + (m->tied_embeddings ? p.embedding : 0);
        p.quantizable = p.total - p.embedding * (m->tied_embeddings ? 1 : 2);
    }
    p.adapters = o->method == TRAIN_FULL ? 0 : adapter_params(&d, m, o);
    p.trainable = o->method == TRAIN_FULL ? p.total : p.adapters;
    return p;
}

// Bytes per token of the tensors one decoder layer saves for backward.
// Counted from the transformers implementation under autocast with sdpa
// (docs/training-memory.md has the tensor-by-tensor list):
//   mixed (fp32 residual stream):  26h + 6q + 4kv + 8f
//   bf16 parameters (pure):        16h + 6q + 4kv + 8f
//   LoRA on a bf16 frozen base:    12h + 6q + 4kv + 8f (+ 2r per target)
//   fp32:                          24h + 12q + 8kv + 16f
static uint64_t layer_activation_bytes(const layer_dims *d, const train_options *o)
{
    uint64_t h = d->h, q = d->q, kv = d->kv, f = d->f, b;
    if (o->method != TRAIN_FULL) {
        unsigned t = o->lora_targets;
        b = 12 * h + 6 * q + 4 * kv + 8 * f;
        // A frozen matmul saves no input; the adapter on it saves the input
        // (shared between q, k and v, and between gate and up).
        if (!(t & (TRAIN_TARGET_Q | TRAIN_TARGET_K | TRAIN_TARGET_V))) b -= 2 * h;
        if (!(t & TRAIN_TARGET_O)) b -= 2 * q;
        if (!(t & (TRAIN_TARGET_GATE | TRAIN_TARGET_UP))) b -= 2 * h;
        if (!(t & TRAIN_TARGET_DOWN)) b -= 2 * f;
        for (unsigned bit = 1; bit < TRAIN_TARGET_ALL; bit <<= 1)
            if (t & bit) b += 2 * (uint64_t)o->lora_rank;
    } else if (o->precision == TRAIN_PRECISION_BF16_PURE) {
        b = 16 * h + 6 * q + 4 * kv + 8 * f;
    } else if (o->precision == TRAIN_PRECISION_FP32) {
        b = 24 * h + 12 * q + 8 * kv + 16 * f;
    } else {
        b = 26 * h + 6 * q + 4 * kv + 8 * f;
    }
    // Without flash attention the scores (half), their fp32 softmax and the
    // half probabilities are saved: 8 bytes per head per key position.
    if (!o->flash_attention) b += 8 * d->heads * (uint64_t)o->seq;
    return b;
}

// Bytes per token the residual stream holds: what gradient checkpointing keeps per layer.
static uint64_t residual_bytes(const train_options *o)
{
    bool fp32_stream = o->method == TRAIN_FULL && o->precision != TRAIN_PRECISION_BF16_PURE;
    return fp32_stream ? 4 : 2;
}

static uint64_t param_bytes(const train_options *o)
{
    return o->precision == TRAIN_PRECISION_BF16_PURE ? 2 : 4;
}

// Optimizer state bytes per trainable parameter (states take the
// parameters' dtype in torch.optim; bitsandbytes' 8-bit Adam keeps one byte
// per state plus block constants).
static double optim_state_bytes(train_optim opt, uint64_t pbytes)
{
    switch (opt) {
    case TRAIN_OPTIM_ADAMW: return 2.0 * (double)pbytes;
    case TRAIN_OPTIM_ADAMW_8BIT: return 2.0 + 2.0 * 4.0 / 2048; // absmax per 2048-block
    case TRAIN_OPTIM_ADAFACTOR: return 0.0; // factored second moment: added per matrix below
    case TRAIN_OPTIM_SGD: return 0.0;
    case TRAIN_OPTIM_SGD_MOMENTUM: return (double)pbytes;
    }
    return 0.0;
}

void train_plan_memory(const model_desc *m, const train_options *o, train_memory *out)
{
    memset(out, 0, sizeof *out);
    layer_dims d = dims_of(m);
    train_params p = count_params(m, o);
    out->params = p;
    uint64_t T = (uint64_t)(o->seq * o->micro_batch);
    uint64_t n_gpus = o->n_gpus > 0 ? (uint64_t)o->n_gpus : 1;
    bool mixed = o->precision == TRAIN_PRECISION_BF16_MIXED ||
                 o->precision == TRAIN_PRECISION_FP16_MIXED;

    // Weights, gradients, optimizer states, the step's temporaries.
    uint64_t pb = param_bytes(o);
    uint64_t weights, grads, states, step_tmp, casts_all, casts_saved;
    if (o->method == TRAIN_FULL) {
        weights = p.total * pb;
        grads = p.total * pb;
        states = (uint64_t)((double)p.total * optim_state_bytes(o->optim, pb));
        // torch's foreach AdamW builds one sqrt(v) list as large as the parameters.
        step_tmp = o->optim == TRAIN_OPTIM_ADAMW ? p.total * pb : 0;
        casts_all = mixed ? 2 * p.linear : 0;
        // With checkpointing only lm_head (outside the checkpointed layers)
        // keeps its half copy for backward; the others are recomputed.
        casts_saved = mixed ? (o->grad_checkpointing ? 2 * d.vocab * d.h : casts_all) : 0;
    } else {
        uint64_t base = o->method == TRAIN_QLORA
                            ? (uint64_t)((double)p.quantizable * QLORA_BYTES_PER_WEIGHT) +
                                  2 * (p.total - p.quantizable)
                            : 2 * p.total;
        weights = base + 4 * p.adapters; // adapters in fp32
        grads = 4 * p.adapters;
        states = (uint64_t)((double)p.adapters * optim_state_bytes(o->optim, 4));
        step_tmp = o->optim == TRAIN_OPTIM_ADAMW ? 4 * p.adapters : 0;
        casts_all = casts_saved = 2 * p.adapters;
    }
    if (o->optim == TRAIN_OPTIM_ADAFACTOR) // factored: rows + columns per matrix, fp32
        states = 4 * (uint64_t)d.layers * (4 * d.h + 2 * d.q + 2 * d.kv + 3 * d.f);

    // ZeRO partitions states (1), then gradients (2), then parameters (3).
    if (o->zero_stage >= 1) {
        states /= n_gpus;
        step_tmp /= n_gpus;
    }
    if (o->zero_stage >= 2) grads /= n_gpus;
    if (o->zero_stage >= 3) weights /= n_gpus;
    if (o->offload_optimizer) {
        // States (and, in mixed precision, the fp32 master weights) live in
        // host memory; the GPU keeps half-precision parameters.
        out->cpu_ram = states + step_tmp;
        if (o->method == TRAIN_FULL && mixed) {
            out->cpu_ram += weights;
            weights /= 2;
            casts_all = casts_saved = 0;
        }
        states = step_tmp = 0;
    }

    // Activations saved for backward, and the logits.
    uint64_t layer_act = layer_activation_bytes(&d, o);
    uint64_t saved_layers = o->grad_checkpointing ? residual_bytes(o) * d.h * d.layers
                                                  : layer_act * d.layers;
    uint64_t final_norm = 10 * d.h;        // final RMSNorm and lm_head's half input
    uint64_t log_probs = 4 * d.vocab;      // log_softmax output, fp32, saved
    uint64_t activations = T * (saved_layers + final_norm + log_probs);
    // Forward: half logits + their fp32 upcast beside the saved log-probs;
    // backward: two fp32 seq x vocab gradients at its start.
    uint64_t logits_fwd = T * 6 * d.vocab, logits_bwd = T * 8 * d.vocab;

    // The end of backward: the tied embedding's dense fp32 gradient is built
    // beside the lm_head gradient already there; checkpointing recomputes
    // one layer at a time.
    uint64_t bwd_tmp = 0;
    if (o->method == TRAIN_FULL && m->tied_embeddings) bwd_tmp += 4 * d.vocab * d.h;
    if (o->grad_checkpointing) bwd_tmp += T * layer_act;

    uint64_t framework = TRAIN_FRAMEWORK_BYTES;
    uint64_t resident = weights + states + framework;
    uint64_t grads_held = o->grad_accum > 1 ? grads : 0; // accumulate across micro-batches

    out->weights = weights;
    out->weight_casts = casts_all;
    out->gradients = grads;
    out->optimizer = states;
    out->activations = activations;
    out->logits = logits_bwd;
    out->step_temporary = step_tmp;
    out->backward_temporary = bwd_tmp;
    out->framework = framework;
    out->cuda_context = TRAIN_CUDA_CONTEXT_BYTES;

    out->peak_forward = resident + grads_held + casts_all + activations + logits_fwd;
    out->peak_backward_start = resident + grads_held + casts_saved + activations + logits_bwd;
    out->peak_backward_end = resident + grads + bwd_tmp;
    out->peak_step = resident + grads + step_tmp;

    out->peak_allocated = out->peak_forward;
    out->peak_phase = "forward";
    if (out->peak_backward_start > out->peak_allocated) {
        out->peak_allocated = out->peak_backward_start;
        out->peak_phase = "backward (start)";
    }
    if (out->peak_backward_end > out->peak_allocated) {
        out->peak_allocated = out->peak_backward_end;
        out->peak_phase = "backward (end)";
    }
    if (out->peak_step > out->peak_allocated) {
        out->peak_allocated = out->peak_step;
        out->peak_phase = "optimizer step";
    }
    out->total = out->peak_allocated + out->cuda_context;
}

int64_t train_max_micro_batch(const model_desc *m, const train_options *o, uint64_t capacity)
{
    train_options t = *o;
    train_memory mem;
    int64_t lo = 0, hi = 1;
    // Grow until it stops fitting, then bisect: memory is monotonic in the batch.
    for (;;) {
        t.micro_batch = hi;
        train_plan_memory(m, &t, &mem);
        if (mem.total > capacity || hi >= (1 << 20)) break;
        lo = hi;
        hi *= 2;
    }
    while (hi - lo > 1) {
        t.micro_batch = lo + (hi - lo) / 2;
        train_plan_memory(m, &t, &mem);
        if (mem.total <= capacity)
            lo = t.micro_batch;
        else
            hi = t.micro_batch;
    }
    return lo;
}

int64_t train_max_seq(const model_desc *m, const train_options *o, uint64_t capacity)
{
    train_options t = *o;
    train_memory mem;
    int64_t lo = 0, hi = 128;
    for (;;) {
        t.seq = hi;
        train_plan_memory(m, &t, &mem);
        if (mem.total > capacity || hi >= (1 << 24)) break;
        lo = hi;
        hi *= 2;
    }
    while (hi - lo > 1) {
        t.seq = lo + (hi - lo) / 2;
        train_plan_memory(m, &t, &mem);
        if (mem.total <= capacity)
            lo = t.seq;
        else
            hi = t.seq;
    }
    return lo;
}

int train_suggest(const model_desc *m, const train_options *o, train_suggestion *out, int max)
{
    train_memory now;
    train_plan_memory(m, o, &now);
    train_suggestion cand[8];
    int n = 0;
#define CANDIDATE(label, edit)                                                                     \
    do {                                                                                           \
        train_options t_ = *o;                                                                     \
        edit;                                                                                      \
        cand[n].change = (label);                                                                  \
        cand[n].options = t_;                                                                      \
        n++;                                                                                       \
    } while (0)
    if (!o->grad_checkpointing) CANDIDATE("--grad-checkpointing", t_.grad_checkpointing = true);
    if (o->method == TRAIN_FULL) CANDIDATE("--train lora", t_.method = TRAIN_LORA);
    if (o->method != TRAIN_QLORA) CANDIDATE("--train qlora", t_.method = TRAIN_QLORA);
    if (o->optim == TRAIN_OPTIM_ADAMW) CANDIDATE("--optim adamw-8bit", t_.optim = TRAIN_OPTIM_ADAMW_8BIT);
    if (o->n_gpus > 1 && o->zero_stage < 2) CANDIDATE("--zero 2", t_.zero_stage = 2);
    if (o->n_gpus > 1 && o->zero_stage < 3) CANDIDATE("--zero 3", t_.zero_stage = 3);
    if (!o->offload_optimizer) CANDIDATE("--offload-optimizer", t_.offload_optimizer = true);
    if (o->micro_batch > 1)
        CANDIDATE("--micro-batch 1 (raise --grad-accum)",
                  (t_.grad_accum = t_.grad_accum * t_.micro_batch, t_.micro_batch = 1));
#undef CANDIDATE
    for (int i = 0; i < n; i++) {
        train_memory mem;
        train_plan_memory(m, &cand[i].options, &mem);
        cand[i].total = mem.total;
        cand[i].saved = (int64_t)now.total - (int64_t)mem.total;
    }
    // Insertion sort by bytes saved, largest first; drop changes that save nothing.
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && cand[j].saved > cand[j - 1].saved; j--) {
            train_suggestion tmp = cand[j];
            cand[j] = cand[j - 1];
            cand[j - 1] = tmp;
        }
    int k = 0;
    for (int i = 0; i < n && k < max; i++)
        if (cand[i].saved > 0) out[k++] = cand[i];
    return k;
}

uint64_t train_seed_rule_bytes(const model_desc *m)
{
    // The seed post: params x bytes per precision (fp16: 2) x 3, the low end
    // of its "3-6x to train".
    return m->n_params * 2 * 3;
}

uint64_t train_accelerate_rule_bytes(const model_desc *m, bool mixed)
{
    // accelerate estimate-memory: the largest of model, gradients, optimizer
    // and step, from the fp32 size: float32 -> step = 4x fp32 size;
    // float16/bfloat16 -> optimizer = 2x fp32 size.
    uint64_t fp32 = m->n_params * 4;
    return mixed ? 2 * fp32 : 4 * fp32;
}
