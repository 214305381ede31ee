#include "plan/gpu_arena.h"

static uint64_t align_up(uint64_t n)
{
    return (n + PLAN_GPU_ALIGN - 1) / PLAN_GPU_ALIGN * PLAN_GPU_ALIGN;
}

static uint64_t nn(int64_t v)
{
    return v > 0 ? (uint64_t)v : 0;
}

static uint64_t max_u(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

uint64_t plan_gpu_mv_scratch_bytes(int64_t n)
{
    const uint64_t u = nn(n);
    return u * 4 + u + u / 32 * 8 + 512;
}

void plan_gpu_arena_size(const plan_gpu_shape *s, plan_gpu_arena *out)
{
    const uint64_t B = nn(s->n_batch), D = nn(s->n_embd), H = nn(s->n_head), hd = nn(s->head_dim);
    const uint64_t QD = H * hd, KD = nn(s->n_head_kv) * hd, F = nn(s->n_ff);
    const uint64_t widest = max_u(max_u(D, QD), F);
    const uint64_t n_split = (nn(s->n_ctx) + PLAN_GPU_DECODE_SPLIT_LEN - 1) / PLAN_GPU_DECODE_SPLIT_LEN;
    const uint64_t parts = max_u(B * H, H * n_split);
    uint64_t raw[PLAN_GPU_N_PIECES];
    raw[PLAN_GPU_X] = B * D * 4;
    raw[PLAN_GPU_XB] = B * max_u(D, QD) * 4;
    raw[PLAN_GPU_QKV] = B * (QD + 2 * KD) * 4;
    raw[PLAN_GPU_ATT] = B * QD * 4;
    raw[PLAN_GPU_HB] = B * 2 * F * 4;
    raw[PLAN_GPU_HB2] = B * F * 4;
    raw[PLAN_GPU_LOGITS] = nn(s->logits_rows) * nn(s->n_vocab) * 4;
    raw[PLAN_GPU_O_PART] = parts * hd * 4;
    raw[PLAN_GPU_ML_PART] = parts * 2 * 4;
    raw[PLAN_GPU_ACT] = B * widest * 2;
    raw[PLAN_GPU_DEQ] = s->dequant ? PLAN_GPU_DEQ_SCRATCH_BYTES : 0;
    raw[PLAN_GPU_TOKENS] = B * 4;
    raw[PLAN_GPU_POS] = 4;
    raw[PLAN_GPU_MV] = plan_gpu_mv_scratch_bytes((int64_t)widest);
    raw[PLAN_GPU_SS] = (2 * nn(s->n_layer) + 2) * 4;
    raw[PLAN_GPU_DONE] = H * 4;
    out->total = 0;
    for (int i = 0; i < PLAN_GPU_N_PIECES; i++) {
        out->bytes[i] = align_up(raw[i]);
        out->total += out->bytes[i];
    }
    out->widest = (int64_t)widest;
    out->n_split = (int64_t)n_split;
}

const char *plan_gpu_piece_name(int piece)
{
    static const char *const names[PLAN_GPU_N_PIECES] = {
        "x",       "xb",  "qkv", "att",    "hb",  "hb2", "logits", "o_part",
        "ml_part", "act", "deq", "tokens", "pos", "mv",  "ss", "done"};
    return piece >= 0 && piece < PLAN_GPU_N_PIECES ? names[piece] : "?";
}
