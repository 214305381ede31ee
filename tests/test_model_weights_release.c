// model_weights_release_blocks: the host copy of weights that a GPU holds is
// given back (resident memory drops by their bytes, pointers are NULL), and
// the blocks that stay on the CPU still compute the same logits, as the
// engine runs them after a partial offload (forward_config.layer_first).
// The model is a random-weight Llama written here as an HF folder (f32
// safetensors), large enough for the drop to be measured: loaded in place
// (file-mapped) and converted to Q8_0 (heap).
#include "testutil.h"

#include <malloc.h>
#include <math.h>

#include <cjson/cJSON.h>

#include "engine/cpu/threadpool.h"
#include "engine/forward.h"
#include "engine/model_weights.h"
#include "model/model.h"
#include "model/model_priv.h"

// AddressSanitizer keeps freed memory in quarantine: the resident drop of
// freed heap is only checked without it.
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_RETURNS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_RETURNS 0
#endif
#endif
#ifndef HEAP_RETURNS
#define HEAP_RETURNS 1
#endif

#define N_LAYER 4
#define N_TOK   6

static const char *config_json(bool tied)
{
    return tied ? "{\"model_type\": \"llama\", \"hidden_size\": 384, \"intermediate_size\": 1024,"
                  " \"num_hidden_layers\": 4, \"num_attention_heads\": 6, \"num_key_value_heads\": "
                  "2,"
                  " \"vocab_size\": 1024, \"max_position_embeddings\": 64, \"torch_dtype\": "
                  "\"float32\", \"rms_norm_eps\": 1e-5, \"tie_word_embeddings\": true}"
                : "{\"model_type\": \"llama\", \"hidden_size\": 384, \"intermediate_size\": 1024,"
                  " \"num_hidden_layers\": 4, \"num_attention_heads\": 6, \"num_key_value_heads\": "
                  "2,"
                  " \"vocab_size\": 1024, \"max_position_embeddings\": 64, \"torch_dtype\": "
                  "\"float32\", \"rms_norm_eps\": 1e-5, \"tie_word_embeddings\": false}";
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float rnd(void) // uniform in [-1, 1)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) & 0xffffff) / (float)(1 << 23) - 1.0f;
}

// Writes DIR/config.json and DIR/model.safetensors with random f32 weights
// (norms 1) for the tensors the architecture rules list.
static void write_model(const char *dir, bool tied)
{
    const char *config = config_json(tied);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(config, f);
    fclose(f);

    model_desc syn;
    model_desc_init(&syn);
    rs_error err = {0};
    if (hf_config_parse("config.json", config, strlen(config), &syn, &err) != RS_OK ||
        arch_synthesize(&syn, &err) != RS_OK)
        fail_msg("%s", err.msg);
    arch_finish(&syn);
    cJSON *h = cJSON_CreateObject();
    uint64_t off = 0;
    for (int64_t i = 0; i < syn.n_tensors; i++) {
        const model_tensor *t = &syn.tensors[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "dtype", "F32");
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        for (int d = t->n_dims - 1; d >= 0; d--)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->ne[d]));
        cJSON *offs = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + 4 * (uint64_t)t->n_elems)));
        off += 4 * (uint64_t)t->n_elems;
        cJSON_AddItemToObject(h, t->name, o);
    }
    char *json = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(json, 1, len, f);
    for (size_t i = len; i < padded; i++)
        fputc(' ', f);
    for (int64_t i = 0; i < syn.n_tensors; i++) {
        const model_tensor *t = &syn.tensors[i];
        bool norm = t->n_dims == 1;
        // Scaled so that activations stay O(1) through the blocks.
        float scale = 1.0f / sqrtf((float)t->ne[0]);
        for (int64_t k = 0; k < t->n_elems; k++) {
            float v = norm ? 1.0f : rnd() * scale;
            fwrite(&v, 4, 1, f);
        }
    }
    fclose(f);
    free(json);
    model_desc_clear(&syn);
}

static uint64_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    unsigned long long size = 0, res = 0;
    assert_int_equal(fscanf(f, "%llu %llu", &size, &res), 2);
    fclose(f);
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

typedef struct runner {
    forward_config cfg;
    kv_cache kv;
    run_state s;
} runner;

static void runner_init(runner *r, const model_desc *m, const model_weights *w)
{
    memset(r, 0, sizeof *r);
    forward_config *c = &r->cfg;
    c->n_layer = m->n_layer;
    c->n_embd = m->n_embd;
    c->n_head = m->n_head;
    c->n_head_kv = m->n_head_kv;
    c->head_dim = m->head_dim;
    c->n_ff = m->n_ff;
    c->n_vocab = m->n_vocab;
    c->rope_dim = m->rope_dim > 0 ? m->rope_dim : m->head_dim;
    c->norm_eps = (float)m->norm_eps;
    rs_error err = {0};
    assert_int_equal(kv_cache_init(&r->kv, c, 16, DTYPE_F32, &err), RS_OK);
    assert_int_equal(run_state_init(&r->s, c, N_TOK, 16, 2, false, &err), RS_OK);
    c->rope_attn_factor = rope_inv_freq(m, w->rope_factors, r->s.inv_freq);
}

static void runner_free(runner *r)
{
    kv_cache_free(&r->kv);
    run_state_free(&r->s);
}

static const int32_t tokens[N_TOK] = {3, 141, 59, 265, 358, 979};

static uint64_t matrix_bytes(const weight *x)
{
    return (uint64_t)dtype_tensor_bytes(x->type, x->n_in, x->n_in * x->n_out);
}

// Loads at a precision, runs the whole model, then the first `gpu` blocks
// alone (their residual stream is what a GPU hands to the CPU), releases
// them with the embedding, and runs the rest from that stream: the same
// logits, and the process's resident memory down by the released bytes.
static void check(bool tied, const char *precision, int64_t gpu)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", test_tmpdir(), tied ? "tied" : "untied");
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        mkdir(dir, 0755);
        write_model(dir, tied);
    }
    model_desc *m = NULL;
    rs_error err = {0};
    if (model_open(dir, &m, &err) != RS_OK) fail_msg("%s", err.msg);
    thread_pool *pool = thread_pool_init(2);
    assert_non_null(pool);
    weights_load_options wo = {.precision = plan_precision_of(PLAN_PREC_STORED)};
    assert_int_equal(plan_precision_parse(precision, &wo.precision, &err), RS_OK);
    model_weights w;
    if (model_weights_load(m, &wo, pool, &w, &err) != RS_OK) fail_msg("%s", err.msg);
    assert_true(w.bytes_total > 0);
    const bool mapped = w.bytes_converted < w.bytes_total / 2;
    assert_true(mapped == (strcmp(precision, "stored") == 0));

    runner r;
    runner_init(&r, m, &w);
    const int64_t V = m->n_vocab, D = m->n_embd;
    float *want = malloc((size_t)V * sizeof *want), *x = malloc((size_t)(N_TOK * D) * sizeof *x);
    assert_non_null(want);
    assert_non_null(x);
    forward_batch(&r.cfg, &w, &r.kv, &r.s, pool, tokens, N_TOK, 0); // reads every weight
    memcpy(want, r.s.logits + r.s.last_row * V, (size_t)V * sizeof *want);

    forward_config first = r.cfg;
    first.n_layer = gpu;
    r.s.skip_logits = true;
    forward_batch(&first, &w, &r.kv, &r.s, pool, tokens, N_TOK, 0);
    r.s.skip_logits = false;
    memcpy(x, r.s.x, (size_t)(N_TOK * D) * sizeof *x);

    // What the release must give back: the blocks' matrices and vectors,
    // the embedding unless it is tied to the head the CPU still runs.
    uint64_t expect = 0;
    for (int64_t l = 0; l < gpu; l++) {
        const layer_weights *L = &w.layers[l];
        const weight *ms[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < 7; i++)
            expect += matrix_bytes(ms[i]);
        expect += 2 * (uint64_t)D * sizeof(float); // attn_norm, ffn_norm
    }
    if (!tied) expect += matrix_bytes(&w.tok_embd);
    const void *head_before = w.output.data;
    const float *norm_before = w.out_norm;

    // A forward pass reads a few rows of the embedding: read it all, so that
    // every byte to release is resident.
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < matrix_bytes(&w.tok_embd); i += 512)
        sink ^= ((const uint8_t *)w.tok_embd.data)[i];
    (void)sink;
    malloc_trim(0);
    uint64_t before = resident_bytes();
    uint64_t got = model_weights_release_blocks(&w, 0, gpu, true, false);
    uint64_t after = resident_bytes();
    uint64_t drop = before > after ? before - after : 0;
    fprintf(stderr, "  %-6s %-6s %s: released %llu bytes (expected %llu), resident -%llu\n",
            tied ? "tied" : "untied", precision, mapped ? "mapped" : "converted",
            (unsigned long long)got, (unsigned long long)expect, (unsigned long long)drop);
    assert_int_equal(got, expect);
    assert_int_equal(w.bytes_released, expect);
    // Resident memory drops by the bytes, less the partial pages at the
    // ends of mapped tensors and of heap chunks (a few per tensor).
    uint64_t slack = (uint64_t)(gpu * 9 + 2) * 2 * 4096 + expect / 20;
    if (mapped || HEAP_RETURNS) assert_true(drop + slack >= expect);
    assert_true(drop <= expect + (2u << 20));

    for (int64_t l = 0; l < gpu; l++) {
        assert_null(w.layers[l].wq.data);
        assert_null(w.layers[l].w_down.data);
        assert_null(w.layers[l].attn_norm);
        assert_null(w.layers[l].ffn_norm);
    }
    assert_null(w.tok_embd.data);
    for (int64_t l = gpu; l < N_LAYER; l++) {
        assert_non_null(w.layers[l].wq.data);
        assert_non_null(w.layers[l].ffn_norm);
    }
    assert_ptr_equal(w.output.data, head_before); // tied or not, the CPU's head stays
    assert_ptr_equal(w.out_norm, norm_before);

    // The CPU's share from the stream the first blocks left: same logits.
    forward_config rest = r.cfg;
    rest.layer_first = gpu;
    memcpy(r.s.x, x, (size_t)(N_TOK * D) * sizeof *x);
    forward_batch(&rest, &w, &r.kv, &r.s, pool, tokens, N_TOK, 0);
    double maxd = 0, maxv = 0;
    for (int64_t i = 0; i < V; i++) {
        maxd = fmax(maxd, fabs((double)r.s.logits[r.s.last_row * V + i] - want[i]));
        maxv = fmax(maxv, fabs((double)want[i]));
    }
    assert_true(maxv > 0);
    assert_true(maxd <= 1e-6 * maxv);

    // The head and the rest: everything is gone, the tied table once.
    uint64_t rest_bytes = w.bytes_total - w.bytes_released;
    uint64_t got2 = model_weights_release_blocks(&w, gpu, N_LAYER - gpu, true, true);
    assert_int_equal(got2, rest_bytes);
    assert_null(w.output.data);
    assert_null(w.out_norm);
    assert_int_equal(w.bytes_released, w.bytes_total);

    free(want);
    free(x);
    runner_free(&r);
    model_weights_free(&w);
    thread_pool_free(pool);
    model_free(m);
}

static void test_release_mapped(void **state)
{
    (void)state;
    check(false, "stored", 2);
    check(true, "stored", 1);
}

static void test_release_converted(void **state)
{
    (void)state;
    check(false, "int8", 2);
    check(true, "int8", 3);
}

// The host KV cache of a partial offload holds the CPU's blocks only.
static void test_kv_cpu_share(void **state)
{
    (void)state;
    forward_config c = {.n_layer = 4, .n_embd = 64, .n_head = 4, .n_head_kv = 2, .head_dim = 16};
    kv_cache all, part;
    rs_error err = {0};
    assert_int_equal(kv_cache_init(&all, &c, 32, DTYPE_F16, &err), RS_OK);
    c.layer_first = 3;
    assert_int_equal(kv_cache_init(&part, &c, 32, DTYPE_F16, &err), RS_OK);
    assert_int_equal(part.bytes * 4, all.bytes);
    assert_int_equal(part.rows[0], 32); // known for every layer (rewind reads it)
    kv_cache_free(&part);
    // Every block on GPUs: nothing here, but a valid cache.
    c.layer_first = 4;
    assert_int_equal(kv_cache_init(&part, &c, 32, DTYPE_F16, &err), RS_OK);
    assert_int_equal(part.bytes, 0);
    assert_non_null(part.k);
    kv_cache_free(&all);
    kv_cache_free(&part);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_mapped),
        cmocka_unit_test(test_release_converted),
        cmocka_unit_test(test_kv_cpu_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
