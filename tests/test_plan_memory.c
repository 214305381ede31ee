#include "testutil.h"

#include "plan/memory.h"

#include <stdlib.h>
#include <string.h>

#include "model/catalog.h"

// Hand-built model descriptions: the plan's functions are pure, so the tests
// state shapes and types and check bytes computed by hand from the ggml
// block layouts (Q4_K 144 B / 256, Q4_0 18 B / 32, Q8_0 34 B / 32, Q6_K
// 210 B / 256).

static model_tensor tensor2(const char *name, int64_t ne0, int64_t ne1, dtype type)
{
    model_tensor t = {0};
    t.name = (char *)name;
    t.n_dims = ne1 > 0 ? 2 : 1;
    t.ne[0] = ne0;
    t.ne[1] = ne1 > 0 ? ne1 : 1;
    t.n_elems = ne0 * t.ne[1];
    t.type = type;
    t.file = -1;
    return t;
}

// A two-block model whose hidden size (288) is a multiple of 32 but not of
// 256, so int4 falls back to Q4_0 for rows of 288, and whose FFN rows (512)
// take Q4_K.
static model_tensor tiny_tensors[7];
static model_desc tiny_model(void)
{
    tiny_tensors[0] = tensor2("token_embd.weight", 288, 1000, DTYPE_BF16);
    tiny_tensors[1] = tensor2("blk.0.attn_norm.weight", 288, 0, DTYPE_F32);
    tiny_tensors[2] = tensor2("blk.0.attn_q.weight", 288, 288, DTYPE_BF16);
    tiny_tensors[3] = tensor2("blk.0.ffn_down.weight", 512, 288, DTYPE_BF16);
    tiny_tensors[4] = tensor2("blk.1.attn_q.weight", 288, 288, DTYPE_BF16);
    tiny_tensors[5] = tensor2("output_norm.weight", 288, 0, DTYPE_F32);
    tiny_tensors[6] = tensor2("output.weight", 288, 1000, DTYPE_BF16);
    model_desc m = {0};
    m.n_layer = 2;
    m.n_embd = 288;
    m.tensors = tiny_tensors;
    m.n_tensors = 7;
    return m;
}

static void test_precision_parse(void **state)
{
    (void)state;
    plan_precision p;
    rs_error err = {0};
    assert_int_equal(plan_precision_parse("int4", &p, &err), RS_OK);
    assert_int_equal(p.kind, PLAN_PREC_INT4);
    assert_int_equal(plan_precision_parse("FP16", &p, &err), RS_OK);
    assert_int_equal(p.kind, PLAN_PREC_F16);
    assert_int_equal(plan_precision_parse("q5_k", &p, &err), RS_OK);
    assert_int_equal(p.kind, PLAN_PREC_GGUF);
    assert_int_equal(p.type, DTYPE_Q5_K);
    assert_string_equal(plan_precision_name(p), "Q5_K");
    assert_int_equal(plan_precision_parse("int3", &p, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "int3"));
    assert_int_equal(plan_precision_parse("i32", &p, &err), RS_ERR_INPUT);
    assert_int_equal(plan_kv_type_parse("q8_0"), DTYPE_Q8_0);
    assert_int_equal(plan_kv_type_parse("f16"), DTYPE_F16);
    assert_int_equal(plan_kv_type_parse("q4_1"), -1);
}

static void test_roles(void **state)
{
    (void)state;
    model_desc m = {0};
    m.n_layer = 61;
    int64_t il;
    model_tensor t = tensor2("model.layers.12.mlp.up_proj.weight", 4096, 11008, DTYPE_BF16);
    assert_int_equal(plan_tensor_role_of(&m, &t, &il), PLAN_ROLE_LAYER);
    assert_int_equal(il, 12);
    t.name = "blk.0.attn_k.weight";
    assert_int_equal(plan_tensor_role_of(&m, &t, &il), PLAN_ROLE_LAYER);
    assert_int_equal(il, 0);
    t.name = "model.layers.61.eh_proj.weight"; // DeepSeek-V3 MTP block
    assert_int_equal(plan_tensor_role_of(&m, &t, &il), PLAN_ROLE_SKIP);
    t.name = "model.embed_tokens.weight";
    assert_int_equal(plan_tensor_role_of(&m, &t, &il), PLAN_ROLE_EMBD);
    assert_int_equal(il, -1);
    t.name = "lm_head.weight";
    assert_int_equal(plan_tensor_role_of(&m, &t, &il), PLAN_ROLE_OUTPUT);
    t.name = "model.norm.weight";
    assert_int_equal(plan_tensor_role_of(&m, &t, &il), PLAN_ROLE_OUTPUT);
    t.name = "vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight";
    assert_int_equal(plan_tensor_role_of(&m, &t, &il), PLAN_ROLE_SKIP);
    t.name = "model.layers.3.mlp.experts.17.down_proj.weight";
    assert_true(plan_tensor_is_routed_expert(&t));
    t.name = "blk.3.ffn_down_exps.weight";
    assert_true(plan_tensor_is_routed_expert(&t));
    t.name = "model.layers.3.mlp.shared_experts.down_proj.weight";
    assert_false(plan_tensor_is_routed_expert(&t));
    t.name = "blk.3.ffn_down_shexp.weight";
    assert_false(plan_tensor_is_routed_expert(&t));
}

static void test_tensor_types(void **state)
{
    (void)state;
    plan_precision int4 = plan_precision_of(PLAN_PREC_INT4);
    plan_precision int8 = plan_precision_of(PLAN_PREC_INT8);
    plan_precision bf16 = plan_precision_of(PLAN_PREC_BF16);
    plan_precision stored = plan_precision_of(PLAN_PREC_STORED);

    model_tensor w = tensor2("blk.0.ffn_up.weight", 4096, 14336, DTYPE_BF16);
    assert_int_equal(plan_tensor_type(&w, int4), DTYPE_Q4_K);
    assert_int_equal(plan_tensor_type(&w, int8), DTYPE_Q8_0);
    assert_int_equal(plan_tensor_type(&w, stored), DTYPE_BF16);
    // 14336 x 4096 at Q4_K: 4096/256 = 16 blocks of 144 bytes per row.
    assert_int_equal(plan_tensor_bytes(NULL, &w, int4), 16ull * 144 * 14336);

    w.ne[0] = 4864; // 19 x 256: Q4_K
    assert_int_equal(plan_tensor_type(&w, int4), DTYPE_Q4_K);
    w.ne[0] = 896; // 3.5 x 256, 28 x 32: falls back to Q4_0
    assert_int_equal(plan_tensor_type(&w, int4), DTYPE_Q4_0);
    w.ne[0] = 100; // not a multiple of 32: F16
    assert_int_equal(plan_tensor_type(&w, int4), DTYPE_F16);
    assert_int_equal(plan_tensor_type(&w, int8), DTYPE_F16);

    model_tensor norm = tensor2("blk.0.attn_norm.weight", 4096, 0, DTYPE_BF16);
    assert_int_equal(plan_tensor_type(&norm, int4), DTYPE_F32);
    assert_int_equal(plan_tensor_type(&norm, bf16), DTYPE_F32);
    assert_int_equal(plan_tensor_type(&norm, stored), DTYPE_BF16);

    model_tensor router = tensor2("model.layers.0.mlp.gate.weight", 2048, 128, DTYPE_BF16);
    assert_int_equal(plan_tensor_type(&router, int4), DTYPE_F32);

    model_tensor head = tensor2("lm_head.weight", 4096, 128256, DTYPE_BF16);
    assert_int_equal(plan_tensor_type(&head, int4), DTYPE_Q6_K);
    assert_int_equal(plan_tensor_type(&head, int8), DTYPE_Q8_0);
    // 4096/256 = 16 Q6_K blocks of 210 bytes per row.
    assert_int_equal(plan_tensor_bytes(NULL, &head, int4), 16ull * 210 * 128256);

    // A tied embedding table is the output head too: Q6_K, while an untied
    // one takes the target like llama.cpp's token_embd.
    model_tensor embd = tensor2("model.embed_tokens.weight", 4096, 128256, DTYPE_BF16);
    model_desc tied = {0};
    tied.tied_embeddings = true;
    assert_int_equal(plan_tensor_type(&embd, int4), DTYPE_Q4_K);
    assert_int_equal(plan_model_tensor_type(&tied, &embd, int4), DTYPE_Q6_K);

    plan_precision q5k;
    assert_int_equal(plan_precision_parse("q5_k", &q5k, NULL), RS_OK);
    w.ne[0] = 4096;
    assert_int_equal(plan_tensor_type(&w, q5k), DTYPE_Q5_K);
    w.ne[0] = 896;
    assert_int_equal(plan_tensor_type(&w, q5k), DTYPE_Q5_1); // llama.cpp's fallback

    model_tensor ints = tensor2("blk.0.something", 16, 16, DTYPE_I32);
    assert_int_equal(plan_tensor_type(&ints, int4), DTYPE_I32);
}

static void test_weights_bytes(void **state)
{
    (void)state;
    model_desc m = tiny_model();
    const uint64_t norm = 288 * 4;
    // int4: rows of 288 -> Q4_0 (9 blocks x 18 = 162 B); rows of 512 -> Q4_K
    // (2 x 144 = 288 B); the head's Q6_K falls back to Q8_0 (9 x 34 = 306 B).
    const uint64_t embd4 = 162ull * 1000, q4 = 162ull * 288, down4 = 288ull * 288;
    const uint64_t head4 = 306ull * 1000;
    assert_int_equal(plan_weights_bytes(&m, plan_precision_of(PLAN_PREC_INT4)),
                     embd4 + norm + q4 + down4 + q4 + norm + head4);
    // int8: everything 2-D is Q8_0 (306 B per row of 288, 16 x 34 = 544 per row of 512).
    assert_int_equal(plan_weights_bytes(&m, plan_precision_of(PLAN_PREC_INT8)),
                     306ull * 1000 + norm + 306ull * 288 + 544ull * 288 + 306ull * 288 + norm +
                         306ull * 1000);
    // stored: bf16 matrices, f32 norms.
    const uint64_t stored = 2ull * (288 * 1000 + 288 * 288 + 512 * 288 + 288 * 288 + 288 * 1000) +
                            2 * norm;
    assert_int_equal(plan_weights_bytes(&m, plan_precision_of(PLAN_PREC_STORED)), stored);
    assert_int_equal(plan_weights_bytes(&m, plan_precision_of(PLAN_PREC_F32)),
                     2 * stored - 2 * norm);

    plan_weights w;
    assert_int_equal(plan_weights_init(&w, &m, plan_precision_of(PLAN_PREC_INT4), NULL), RS_OK);
    assert_int_equal(w.layer[0], norm + q4 + down4);
    assert_int_equal(w.layer[1], q4);
    assert_int_equal(w.embd, embd4);
    assert_int_equal(w.output, norm + head4);
    assert_int_equal(w.output_head_tied, 0);
    assert_int_equal(plan_weights_range(&w, 1, 2, false, true), q4 + norm + head4);
    assert_int_equal(plan_weights_range(&w, 0, 1, true, false), embd4 + norm + q4 + down4);
    plan_weights_free(&w);
}

static void test_tied_split(void **state)
{
    (void)state;
    model_desc m = tiny_model();
    m.n_tensors = 6; // no output.weight: tied
    m.tied_embeddings = true;
    plan_weights w;
    assert_int_equal(plan_weights_init(&w, &m, plan_precision_of(PLAN_PREC_INT8), NULL), RS_OK);
    uint64_t embd = 306ull * 1000;
    assert_int_equal(w.embd, embd);
    assert_int_equal(w.output_head_tied, embd);
    assert_int_equal(w.total, plan_weights_range(&w, 0, 2, true, true));
    // On two devices the table sits on both: input side and output head.
    assert_int_equal(plan_weights_range(&w, 0, 1, true, false) +
                         plan_weights_range(&w, 1, 2, false, true),
                     w.total + embd);
    plan_weights_free(&w);
}

static void test_moe_active(void **state)
{
    (void)state;
    static model_tensor t[3];
    t[0] = tensor2("blk.0.ffn_up_exps.weight", 2048, 768, DTYPE_BF16);
    t[0].n_dims = 3;
    t[0].ne[2] = 128;
    t[0].n_elems = 2048ll * 768 * 128;
    t[1] = tensor2("blk.0.ffn_up_shexp.weight", 2048, 768, DTYPE_BF16);
    t[2] = tensor2("blk.0.ffn_gate_inp.weight", 2048, 128, DTYPE_BF16);
    model_desc m = {0};
    m.n_layer = 1;
    m.n_expert = 128;
    m.n_expert_used = 8;
    m.tensors = t;
    m.n_tensors = 3;
    plan_weights w;
    assert_int_equal(plan_weights_init(&w, &m, plan_precision_of(PLAN_PREC_STORED), NULL), RS_OK);
    uint64_t exps = 2048ull * 768 * 128 * 2, shexp = 2048ull * 768 * 2, router = 2048ull * 128 * 2;
    assert_int_equal(w.layer[0], exps + shexp + router);
    assert_int_equal(w.layer_active[0], exps / 16 + shexp + router);
    plan_weights_free(&w);
}

static void test_compute_bytes(void **state)
{
    (void)state;
    // Qwen2.5-0.5B shapes: 896 hidden, 14 heads, 2 KV heads of 64, FFN 4864,
    // vocab 151936; a 512-token chunk at 4096 context, one output row.
    model_desc m = {0};
    m.n_embd = 896;
    m.n_head = 14;
    m.n_head_kv = 2;
    m.head_dim = 64;
    m.n_ff = 4864;
    m.n_vocab = 151936;
    plan_compute c;
    plan_compute_bytes(&m, 512, 4096, 1, 0, &c);
    assert_int_equal(c.hidden, 2ull * 512 * 896 * 4);
    assert_int_equal(c.qkv, 512ull * (896 + 128 + 128) * 4);
    assert_int_equal(c.scores, 14ull * 512 * 1024 * 4);
    assert_int_equal(c.attn_out, 512ull * 896 * 4);
    assert_int_equal(c.ffn, 2ull * 512 * 4864 * 4);
    assert_int_equal(c.logits, 151936ull * 4);
    assert_int_equal(c.total, c.hidden + c.qkv + c.scores + c.attn_out + c.ffn + c.logits);
    // The CPU engine: one scores row of the whole context and one K/V row
    // per thread.
    plan_compute cpu;
    plan_compute_bytes(&m, 512, 4096, 1, 2, &cpu);
    assert_int_equal(cpu.scores, 2ull * (4096 + 2 * 64) * 4);
    assert_int_equal(cpu.total, c.total - c.scores + cpu.scores);
    // Qwen3-4B-like: q_dim (32 x 128) wider than the hidden size (2560):
    // the normed-input buffer also holds the attention output.
    model_desc q3 = m;
    q3.n_embd = 2560;
    q3.n_head = 32;
    q3.n_head_kv = 8;
    q3.head_dim = 128;
    plan_compute c3;
    plan_compute_bytes(&q3, 512, 4096, 1, 0, &c3);
    assert_int_equal(c3.hidden, 512ull * (2560 + 4096) * 4);
    // A context shorter than the tile and the chunk shrinks both.
    plan_compute_bytes(&m, 512, 256, 1, 0, &c);
    assert_int_equal(c.scores, 14ull * 256 * 256 * 4);

    // MoE (Qwen3-30B-A3B-like): 8 of 128 experts of width 768.
    m.n_ff = 6144;
    m.n_expert = 128;
    m.n_expert_used = 8;
    m.n_ff_expert = 768;
    plan_compute_bytes(&m, 512, 4096, 1, 0, &c);
    assert_int_equal(c.ffn, 2ull * 512 * 6144 * 4 + 512ull * 128 * 4);
}

// The GPU compute arena (plan/gpu_arena.h), piece by piece as
// src/engine/cuda/model.cu carves it, each rounded up to 256 bytes.
static void check_arena(const plan_gpu_arena *a, const uint64_t *want)
{
    uint64_t sum = 0;
    for (int i = 0; i < PLAN_GPU_N_PIECES; i++) {
        if (a->bytes[i] != want[i])
            fail_msg("%s: %llu, by hand %llu", plan_gpu_piece_name(i),
                     (unsigned long long)a->bytes[i], (unsigned long long)want[i]);
        sum += want[i];
    }
    assert_int_equal(a->total, sum);
}

static void test_gpu_arena(void **state)
{
    (void)state;
    // Qwen2.5-7B at int8 (Q8_0): 3584 hidden, 28 heads, 4 KV heads of 128,
    // FFN 18944, vocab 152064, 28 blocks; a 512-token chunk at 4096 context.
    plan_gpu_shape s7 = {.n_layer = 28, .n_embd = 3584, .n_head = 28, .n_head_kv = 4,
                         .head_dim = 128, .n_ff = 18944, .n_vocab = 152064, .n_ctx = 4096,
                         .n_batch = 512, .logits_rows = 1, .dequant = 1};
    const uint64_t want7[PLAN_GPU_N_PIECES] = {
        512ull * 3584 * 4,          // x
        512ull * 3584 * 4,          // xb: max(3584, 28 x 128)
        512ull * (3584 + 1024) * 4, // qkv
        512ull * 3584 * 4,          // att
        512ull * 2 * 18944 * 4,     // hb
        512ull * 18944 * 4,         // hb2
        152064ull * 4,              // logits: 608256, a multiple of 256
        512ull * 28 * 128 * 4,      // o_part: 512 x 28 rows > 28 x 64 splits
        512ull * 28 * 2 * 4,        // ml_part
        512ull * 18944 * 2,         // act (bf16)
        32ull << 20,                // deq
        2048,                       // tokens
        256,                        // pos
        100096,                     // mv: 18944 x 5 + 592 x 8 + 512 = 99968, rounded
        256,                        // ss: 58 floats
        256};                       // done: 28 counters
    plan_gpu_arena a;
    plan_gpu_arena_size(&s7, &a);
    check_arena(&a, want7);
    assert_int_equal(a.widest, 18944);
    assert_int_equal(a.n_split, 64); // splits of 64 keys
    assert_int_equal(plan_gpu_mv_scratch_bytes(18944), 99968);

    // Qwen2.5-0.5B at bf16: 896 hidden, 14 heads, 2 KV heads of 64, FFN
    // 4864, vocab 151936, 24 blocks: no dequantization scratch.
    plan_gpu_shape s05 = {.n_layer = 24, .n_embd = 896, .n_head = 14, .n_head_kv = 2,
                          .head_dim = 64, .n_ff = 4864, .n_vocab = 151936, .n_ctx = 4096,
                          .n_batch = 512, .logits_rows = 1, .dequant = 0};
    const uint64_t want05[PLAN_GPU_N_PIECES] = {
        512ull * 896 * 4, 512ull * 896 * 4, 512ull * (896 + 256) * 4, 512ull * 896 * 4,
        512ull * 2 * 4864 * 4, 512ull * 4864 * 4,
        151936ull * 4,                       // 607744 = 2374 x 256
        512ull * 14 * 64 * 4, 512ull * 14 * 2 * 4, 512ull * 4864 * 2,
        0, 2048, 256,
        26112,                               // 4864 x 5 + 152 x 8 + 512 = 26048, rounded
        256,                                 // ss: 50 floats
        256};                                // done: 14 counters
    plan_gpu_arena_size(&s05, &a);
    check_arena(&a, want05);

    // A long context: the decode split (14 x 2048 rows) outgrows the
    // chunk's (14 x 512). A chunk of 3 tokens at 100 (the caller caps the
    // chunk at the context): the small buffers round up to 256.
    s05.n_ctx = 131072;
    plan_gpu_arena_size(&s05, &a);
    assert_int_equal(a.n_split, 2048);
    assert_int_equal(a.bytes[PLAN_GPU_O_PART], 14ull * 2048 * 64 * 4);
    assert_int_equal(a.bytes[PLAN_GPU_ML_PART], 14ull * 2048 * 2 * 4);
    s05.n_ctx = 100;
    s05.n_batch = 3;
    s05.logits_rows = 0; // a part without the head
    plan_gpu_arena_size(&s05, &a);
    assert_int_equal(a.bytes[PLAN_GPU_X], 3ull * 896 * 4); // 42 x 256
    assert_int_equal(a.bytes[PLAN_GPU_LOGITS], 0);
    assert_int_equal(a.bytes[PLAN_GPU_TOKENS], 256);
    assert_int_equal(a.bytes[PLAN_GPU_O_PART], 3ull * 14 * 64 * 4);
    assert_int_equal(a.bytes[PLAN_GPU_ML_PART], 512); // 336 bytes, rounded
}

// plan_compute_gpu on real shapes: the plan's figure is the arena above,
// and a quantized precision adds exactly the dequantization scratch.
static void test_compute_gpu(void **state)
{
    (void)state;
    model_desc *m = NULL;
    rs_error err = {0};
    if (model_open("qwen2.5-7b", &m, &err) != RS_OK) fail_msg("%s", err.msg);
    plan_weights wb, w8;
    assert_int_equal(plan_weights_init(&wb, m, plan_precision_of(PLAN_PREC_BF16), &err), RS_OK);
    assert_int_equal(plan_weights_init(&w8, m, plan_precision_of(PLAN_PREC_INT8), &err), RS_OK);
    plan_gpu_arena ab, a8, ref, a;
    plan_compute_gpu(m, &wb, 0, 28, true, 512, 4096, 1, &ab);
    plan_compute_gpu(m, &w8, 0, 28, true, 512, 4096, 1, &a8);
    plan_gpu_shape s = {.n_layer = 28, .n_embd = 3584, .n_head = 28, .n_head_kv = 4,
                        .head_dim = 128, .n_ff = 18944, .n_vocab = 152064, .n_ctx = 4096,
                        .n_batch = 512, .logits_rows = 1, .dequant = 1};
    plan_gpu_arena_size(&s, &ref);
    assert_int_equal(a8.total, ref.total);
    assert_int_equal(a8.total - ab.total, PLAN_GPU_DEQ_SCRATCH_BYTES);
    assert_int_equal(ab.bytes[PLAN_GPU_DEQ], 0);
    // Half the blocks on each of two cards: the first holds no logits, and
    // the norms' sums of the 14 blocks fit one 256-byte slot either way.
    plan_gpu_arena p0, p1;
    plan_compute_gpu(m, &w8, 0, 14, false, 512, 4096, 1, &p0);
    plan_compute_gpu(m, &w8, 14, 28, true, 512, 4096, 1, &p1);
    assert_int_equal(p0.total, a8.total - 608256);
    assert_int_equal(p1.total, a8.total);
    // The engine's cap: a chunk never exceeds the context (run 6: 160 tokens).
    plan_compute_gpu(m, &w8, 0, 28, true, 512, 160, 1, &a8);
    s.n_ctx = s.n_batch = 160;
    plan_gpu_arena_size(&s, &ref);
    assert_int_equal(a8.total, ref.total);
    plan_weights_free(&wb);
    plan_weights_free(&w8);
    model_free(m);

    // Per block: a stored model with one Q8_0 block dequantizes only on the
    // card holding it; f32 matrices go through the scratch too (the GPU's
    // GEMMs take bf16/f16 only); the head decides for the card holding it.
    model_desc t = tiny_model();
    t.n_head = 4;
    t.head_dim = 72;
    t.n_head_kv = 4;
    t.n_ff = 512;
    t.n_vocab = 1000;
    tiny_tensors[4].type = DTYPE_Q8_0;
    plan_weights w;
    assert_int_equal(plan_weights_init(&w, &t, plan_precision_of(PLAN_PREC_STORED), &err), RS_OK);
    plan_compute_gpu(&t, &w, 0, 1, false, 64, 256, 1, &a);
    assert_int_equal(a.bytes[PLAN_GPU_DEQ], 0);
    plan_compute_gpu(&t, &w, 1, 2, true, 64, 256, 1, &a);
    assert_int_equal(a.bytes[PLAN_GPU_DEQ], PLAN_GPU_DEQ_SCRATCH_BYTES);
    plan_weights_free(&w);
    tiny_tensors[4].type = DTYPE_BF16;
    assert_int_equal(plan_weights_init(&w, &t, plan_precision_of(PLAN_PREC_F32), &err), RS_OK);
    plan_compute_gpu(&t, &w, 0, 1, false, 64, 256, 1, &a);
    assert_int_equal(a.bytes[PLAN_GPU_DEQ], PLAN_GPU_DEQ_SCRATCH_BYTES);
    plan_weights_free(&w);
    assert_int_equal(plan_weights_init(&w, &t, plan_precision_of(PLAN_PREC_INT8), &err), RS_OK);
    plan_compute_gpu(&t, &w, 2, 2, true, 64, 256, 1, &a); // the head alone
    assert_int_equal(a.bytes[PLAN_GPU_DEQ], PLAN_GPU_DEQ_SCRATCH_BYTES);
    plan_compute_gpu(&t, &w, 2, 2, false, 64, 256, 1, &a);
    assert_int_equal(a.bytes[PLAN_GPU_DEQ], 0);
    plan_weights_free(&w);
}

static void test_margins(void **state)
{
    (void)state;
    // 24 GiB free: 3% margin; 1 GiB free: the 256 MiB floor.
    assert_int_equal(plan_usable_gpu(24ull << 30), (24ull << 30) - (uint64_t)((24ull << 30) * 0.03));
    assert_int_equal(plan_usable_gpu(1ull << 30), 768ull << 20);
    assert_int_equal(plan_usable_ram(100ull << 20), 0);
    assert_int_equal(plan_seed_rule_bytes(7000000000ull, 2.0), 16800000000ull);
    assert_int_equal(plan_overhead_gpu(), PLAN_CUDA_CONTEXT_BYTES + PLAN_CUBLAS_WORKSPACE_BYTES);
    // The process plus 256 bytes per vocabulary entry (Qwen2.5: 151936).
    model_desc m = {0};
    m.n_vocab = 151936;
    assert_int_equal(plan_overhead_cpu(&m), (8ull << 20) + 151936ull * 256);
    assert_int_equal(plan_overhead_cpu(NULL), 8ull << 20);
}

// KV cache through the architecture rules (model_kv_bytes), per block range
// and for parallel sequences.
static void test_kv_gqa(void **state)
{
    (void)state;
    // Llama-3.1-8B: 32 blocks, 8 KV heads of 128: 2 x 8 x 128 x 2 B = 4 KiB
    // per token and block at f16, 128 KiB per token.
    model_desc m = {0};
    m.n_layer = 32;
    m.n_head = 32;
    m.n_head_kv = 8;
    m.head_dim = 128;
    assert_int_equal(plan_kv_bytes(&m, 8192, 1, DTYPE_F16), 8192ull * 131072);
    assert_int_equal(plan_kv_bytes(&m, 8192, 2, DTYPE_F16), 2ull << 30);
    assert_int_equal(plan_kv_bytes_range(&m, 0, 16, 8192, 2, DTYPE_F16), 1ull << 30);
    // q8_0: 1024 elements = 32 blocks of 34 bytes, for K and for V.
    assert_int_equal(plan_kv_bytes(&m, 1000, 1, DTYPE_Q8_0), 1000ull * 32 * 2 * 32 * 34);
    // q4_0: 32 blocks of 18 bytes.
    assert_int_equal(plan_kv_bytes(&m, 1000, 1, DTYPE_Q4_0), 1000ull * 32 * 2 * 32 * 18);
}

static void test_kv_swa(void **state)
{
    (void)state;
    // Gemma-2-9B-like: 42 blocks alternating sliding (window 4096) and
    // global, 8 KV heads of 256: 8 KiB per token and block.
    static uint8_t swa[42];
    for (int i = 0; i < 42; i++) swa[i] = i % 2 == 0;
    model_desc m = {0};
    m.n_layer = 42;
    m.n_head = 16;
    m.n_head_kv = 8;
    m.head_dim = 256;
    m.sliding_window = 4096;
    m.layer_is_swa = swa;
    assert_int_equal(plan_kv_bytes(&m, 8192, 1, DTYPE_F16), 8192ull * (21 * 8192 + 21 * 4096));
    // Blocks 1 (global) and 2 (sliding).
    assert_int_equal(plan_kv_bytes_range(&m, 1, 3, 8192, 1, DTYPE_F16), 8192ull * (8192 + 4096));
    // Below the window every block grows.
    assert_int_equal(plan_kv_bytes(&m, 1000, 1, DTYPE_F16), 8192ull * 42 * 1000);
    // The ranges of a split add up to the whole.
    assert_int_equal(plan_kv_bytes_range(&m, 0, 17, 8192, 3, DTYPE_F16) +
                         plan_kv_bytes_range(&m, 17, 42, 8192, 3, DTYPE_F16),
                     plan_kv_bytes(&m, 8192, 3, DTYPE_F16));
}

static void test_kv_mla_moe(void **state)
{
    (void)state;
    // DeepSeek-V3: 61 blocks caching the 512-wide latent and the 64 shared
    // rope dims per token: 576 x 2 B per block, whatever the 128 heads.
    model_desc m = {0};
    m.n_layer = 61;
    m.n_head = 128;
    m.n_head_kv = 128;
    m.head_dim = 192;
    m.kv_lora_rank = 512;
    m.qk_rope_head_dim = 64;
    m.qk_nope_head_dim = 128;
    m.v_head_dim = 128;
    assert_int_equal(plan_kv_bytes(&m, 4096, 1, DTYPE_F16), 61ull * 4096 * 1152);
    // Qwen3-30B-A3B (MoE): the experts do not change the cache: 48 blocks,
    // 4 KV heads of 128.
    model_desc q = {0};
    q.n_layer = 48;
    q.n_head = 32;
    q.n_head_kv = 4;
    q.head_dim = 128;
    q.n_expert = 128;
    q.n_expert_used = 8;
    assert_int_equal(plan_kv_bytes(&q, 32768, 1, DTYPE_F16), 32768ull * 48 * 2 * 4 * 128 * 2);
}

// plan_weights sizes a precision from groups of tensors of one class, type
// and shape (plan_classes_init); the sums must equal the plain per-tensor
// ones over the public rules, for every catalog model (DeepSeek-V3's
// 92,000 synthesized tensors with FP8 scales, MoE, tied heads, Gemma 3's
// vision tower) and every precision.
static void check_groups(const model_desc *m)
{
    const plan_precision ps[] = {
        plan_precision_of(PLAN_PREC_STORED), plan_precision_of(PLAN_PREC_F32),
        plan_precision_of(PLAN_PREC_BF16),   plan_precision_of(PLAN_PREC_F16),
        plan_precision_of(PLAN_PREC_INT8),   plan_precision_of(PLAN_PREC_INT4),
    };
    double used = m->n_expert > 0 && m->n_expert_used > 0
                      ? (double)m->n_expert_used / (double)m->n_expert
                      : 1.0;
    size_t nl = (size_t)(m->n_layer > 0 ? m->n_layer : 1);
    uint64_t *layer = calloc(nl, sizeof *layer), *active = calloc(nl, sizeof *active);
    assert_non_null(layer);
    assert_non_null(active);
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        memset(layer, 0, nl * sizeof *layer);
        memset(active, 0, nl * sizeof *active);
        uint64_t embd = 0, output = 0, total = 0;
        for (int64_t i = 0; i < m->n_tensors; i++) {
            const model_tensor *t = &m->tensors[i];
            int64_t il;
            plan_tensor_role role = plan_tensor_role_of(m, t, &il);
            size_t n = strlen(t->name);
            bool scale = (n >= 10 && strcmp(t->name + n - 10, "_scale_inv") == 0) ||
                         (n >= 13 && strcmp(t->name + n - 13, ".weight_scale") == 0);
            if (role == PLAN_ROLE_SKIP || (scale && ps[k].kind != PLAN_PREC_STORED)) continue;
            int64_t b = dtype_tensor_bytes(plan_model_tensor_type(m, t, ps[k]), t->ne[0], t->n_elems);
            uint64_t ub = b < 0 ? 0 : (uint64_t)b;
            total += ub;
            if (role == PLAN_ROLE_LAYER) {
                layer[il] += ub;
                active[il] += plan_tensor_is_routed_expert(t) ? (uint64_t)((double)ub * used) : ub;
            } else if (role == PLAN_ROLE_EMBD) {
                embd += ub;
            } else {
                output += ub;
            }
        }
        plan_weights w;
        assert_int_equal(plan_weights_init(&w, m, ps[k], NULL), RS_OK);
        if (w.total != total || w.embd != embd || w.output != output)
            fail_msg("%s at %s: total %llu/%llu, embd %llu/%llu, output %llu/%llu", m->name,
                     plan_precision_name(ps[k]), (unsigned long long)w.total,
                     (unsigned long long)total, (unsigned long long)w.embd,
                     (unsigned long long)embd, (unsigned long long)w.output,
                     (unsigned long long)output);
        for (int64_t i = 0; i < m->n_layer; i++)
            if (w.layer[i] != layer[i] || w.layer_active[i] != active[i])
                fail_msg("%s at %s: block %lld: %llu/%llu bytes, %llu/%llu active", m->name,
                         plan_precision_name(ps[k]), (long long)i,
                         (unsigned long long)w.layer[i], (unsigned long long)layer[i],
                         (unsigned long long)w.layer_active[i], (unsigned long long)active[i]);
        plan_weights_free(&w);
    }
    free(layer);
    free(active);
}

static void test_groups_match_tensors(void **state)
{
    (void)state;
    size_t n = catalog_count();
    assert_true(n >= 40);
    for (size_t i = 0; i < n; i++) {
        model_desc *m = NULL;
        rs_error err = {0};
        if (model_open(catalog_name(i), &m, &err) != RS_OK) fail_msg("%s", err.msg);
        check_groups(m);
        model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precision_parse), cmocka_unit_test(test_roles),
        cmocka_unit_test(test_tensor_types),    cmocka_unit_test(test_weights_bytes),
        cmocka_unit_test(test_tied_split),      cmocka_unit_test(test_moe_active),
        cmocka_unit_test(test_compute_bytes),   cmocka_unit_test(test_margins),
        cmocka_unit_test(test_gpu_arena),       cmocka_unit_test(test_compute_gpu),
        cmocka_unit_test(test_kv_gqa),          cmocka_unit_test(test_kv_swa),
        cmocka_unit_test(test_kv_mla_moe),      cmocka_unit_test(test_groups_match_tensors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
