#include "testutil.h"

#include <dirent.h>
#include <unistd.h>

#include "model/gguf.h"

// Tests of the GGUF reader: the real files in testdata, then malformed files
// built here byte by byte.

// ---- a tiny GGUF writer -------------------------------------------------

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_le(buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        uint8_t c = (uint8_t)(v >> (8 * i));
        put(b, &c, 1);
    }
}

static void put_str(buf *b, const char *s)
{
    put_le(b, strlen(s), 8);
    put(b, s, strlen(s));
}

// The small valid file and the ways a test may spoil it. Zero fields mean
// "as valid".
typedef struct mut {
    int version;          // 0: 3
    uint64_t n_kv;        // 0: the real count
    uint64_t n_tensors;   // 0: the real count
    const char *key0;     // name of the first key
    uint64_t arch_len;    // length field of general.architecture's value
    uint32_t align;       // general.alignment (0: 32)
    bool dup_key;         // the last key repeats the first
    bool nested_array;    // an array of arrays
    uint32_t bool_val;    // value of a bool key (0: 1)
    uint32_t bad_kv_type; // a value type
    const char *t1_name;  // name of the second tensor
    int t0_dims;          // n_dims of the first tensor
    int t0_type;          // type of the first tensor (0: F32; -1 given as 0 means F32)
    int64_t t1_ne0;       // ne[0] of the second tensor (Q8_0; 0: 32)
    uint64_t t1_off;      // relative offset of the second tensor (0: 32)
    bool t1_off_set;      // t1_off is meant even when 0
    uint64_t t0_ne1;      // ne[1] of the first tensor (0: 2)
} mut;

// Two tensors: "a" F32 [4, 2] at 0 (32 bytes), "b" Q8_0 [32] at 32 (34 bytes).
static buf build(const mut *m)
{
    buf b = {0};
    put(&b, "GGUF", 4);
    put_le(&b, m->version ? (uint64_t)m->version : 3, 4);
    put_le(&b, m->n_tensors ? m->n_tensors : 2, 8);
    int nkv = 7 + (m->dup_key ? 1 : 0) + (m->nested_array ? 1 : 0) + (m->bad_kv_type ? 1 : 0);
    put_le(&b, m->n_kv ? m->n_kv : (uint64_t)nkv, 8);

    put_str(&b, m->key0 ? m->key0 : "general.architecture");
    put_le(&b, GGUF_TYPE_STRING, 4);
    put_le(&b, m->arch_len ? m->arch_len : 5, 8);
    put(&b, "llama", 5);

    put_str(&b, "llama.block_count");
    put_le(&b, GGUF_TYPE_UINT32, 4);
    put_le(&b, 5, 4);

    put_str(&b, "general.alignment");
    put_le(&b, GGUF_TYPE_UINT32, 4);
    put_le(&b, m->align ? m->align : 32, 4);

    put_str(&b, "tokenizer.ggml.tokens");
    put_le(&b, GGUF_TYPE_ARRAY, 4);
    put_le(&b, GGUF_TYPE_STRING, 4);
    put_le(&b, 3, 8);
    put_str(&b, "<unk>");
    put_str(&b, "");
    put_str(&b, "h\xc3\xa9");

    put_str(&b, "tokenizer.ggml.scores");
    put_le(&b, GGUF_TYPE_ARRAY, 4);
    put_le(&b, GGUF_TYPE_FLOAT32, 4);
    put_le(&b, 2, 8);
    float sc[2] = {-1.5f, 2.0f};
    for (int i = 0; i < 2; i++) {
        uint32_t u;
        memcpy(&u, &sc[i], 4);
        put_le(&b, u, 4);
    }

    put_str(&b, "test.neg");
    put_le(&b, GGUF_TYPE_INT16, 4);
    put_le(&b, (uint16_t)-7, 2);

    put_str(&b, "test.flag");
    put_le(&b, GGUF_TYPE_BOOL, 4);
    put_le(&b, m->bool_val ? m->bool_val : 1, 1);

    if (m->dup_key) {
        put_str(&b, "llama.block_count");
        put_le(&b, GGUF_TYPE_UINT32, 4);
        put_le(&b, 6, 4);
    }
    if (m->nested_array) {
        put_str(&b, "test.nested");
        put_le(&b, GGUF_TYPE_ARRAY, 4);
        put_le(&b, GGUF_TYPE_ARRAY, 4);
        put_le(&b, 1, 8);
    }
    if (m->bad_kv_type) {
        put_str(&b, "test.bad");
        put_le(&b, m->bad_kv_type, 4);
        put_le(&b, 0, 8);
    }

    put_str(&b, "a");
    put_le(&b, m->t0_dims ? (uint64_t)m->t0_dims : 2, 4);
    int nd0 = m->t0_dims ? m->t0_dims : 2;
    for (int d = 0; d < nd0 && d < 8; d++)
        put_le(&b, d == 0 ? 4 : d == 1 ? (m->t0_ne1 ? m->t0_ne1 : 2) : 1, 8);
    put_le(&b, (uint64_t)m->t0_type, 4);
    put_le(&b, 0, 8);

    put_str(&b, m->t1_name ? m->t1_name : "b");
    put_le(&b, 1, 4);
    put_le(&b, m->t1_ne0 ? (uint64_t)m->t1_ne0 : 32, 8);
    put_le(&b, DTYPE_Q8_0, 4);
    put_le(&b, m->t1_off_set || m->t1_off ? m->t1_off : 32, 8);

    uint32_t align =
        m->align && (m->align & (m->align - 1)) == 0 && m->align < 4096 ? m->align : 32;
    while (b.n % align)
        put_le(&b, 0, 1);
    for (int i = 0; i < 32 + 34; i++)
        put_le(&b, (uint64_t)i, 1);
    return b;
}

// Parses m's file and expects RS_ERR_INPUT with a message holding the name
// and every one of the given fragments.
static void expect_fail(const mut *m, const char *frag1, const char *frag2)
{
    buf b = build(m);
    gguf_file *f = (gguf_file *)1;
    rs_error err = {0};
    rs_status st = gguf_parse(b.p, b.n, "bad.gguf", &f, &err);
    if (st != RS_ERR_INPUT)
        fail_msg("expected RS_ERR_INPUT for %s, got %d: %s", frag1, st, err.msg);
    assert_null(f);
    if (!strstr(err.msg, "bad.gguf") || (frag1 && !strstr(err.msg, frag1)) ||
        (frag2 && !strstr(err.msg, frag2)))
        fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err.msg, frag1, frag2 ? frag2 : "");
    assert_null(strchr(err.msg, '\n'));
    free(b.p);
}

static void test_small_valid(void **state)
{
    (void)state;
    mut m = {0};
    buf b = build(&m);
    gguf_file *f = NULL;
    rs_error err = {0};
    assert_int_equal(gguf_parse(b.p, b.n, "small.gguf", &f, &err), RS_OK);
    assert_int_equal(f->version, 3);
    assert_int_equal(f->n_kv, 7);
    assert_int_equal(f->n_tensors, 2);
    assert_int_equal(f->alignment, 32);
    assert_int_equal(f->data_offset % 32, 0);
    assert_int_equal(f->data_offset + 32 + 34, b.n);
    assert_string_equal(gguf_get_str(f, "general.architecture"), "llama");
    int64_t v;
    assert_true(gguf_get_int(f, "llama.block_count", &v));
    assert_int_equal(v, 5);
    assert_true(gguf_get_int(f, "test.neg", &v));
    assert_int_equal(v, -7);
    assert_true(gguf_get_int(f, "test.flag", &v));
    assert_int_equal(v, 1);
    assert_false(gguf_get_int(f, "general.architecture", &v));
    assert_false(gguf_get_int(f, "missing", &v));
    double d;
    assert_true(gguf_get_float(f, "llama.block_count", &d));
    assert_true(d == 5.0);
    const gguf_kv *tok = gguf_find(f, "tokenizer.ggml.tokens");
    assert_non_null(tok);
    assert_int_equal(tok->arr_type, GGUF_TYPE_STRING);
    assert_int_equal(tok->arr_n, 3);
    uint64_t len;
    const char *s = gguf_arr_str(f, tok, 0, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(s, "<unk>", 5);
    gguf_arr_str(f, tok, 1, &len);
    assert_int_equal(len, 0);
    s = gguf_arr_str(f, tok, 2, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "h\xc3\xa9", 3);
    assert_null(gguf_arr_str(f, tok, 3, &len));
    const gguf_kv *sc = gguf_find(f, "tokenizer.ggml.scores");
    assert_true(gguf_arr_float(sc, 0) == -1.5);
    assert_true(gguf_arr_float(sc, 1) == 2.0);
    assert_int_equal(gguf_arr_int(sc, 1), 2);

    assert_string_equal(f->tensors[0].name, "a");
    assert_int_equal(f->tensors[0].n_dims, 2);
    assert_int_equal(f->tensors[0].ne[0], 4);
    assert_int_equal(f->tensors[0].ne[1], 2);
    assert_int_equal(f->tensors[0].ne[2], 1);
    assert_int_equal(f->tensors[0].n_elems, 8);
    assert_int_equal(f->tensors[0].nbytes, 32);
    assert_int_equal(f->tensors[0].offset, f->data_offset);
    assert_int_equal(f->tensors[1].type, DTYPE_Q8_0);
    assert_int_equal(f->tensors[1].nbytes, 34);
    assert_int_equal(f->tensors[1].offset, f->data_offset + 32);
    assert_int_equal(f->data[f->tensors[1].offset], 32); // the bytes written after "a"'s 32
    gguf_close(f);

    // Version 2 has the same layout.
    free(b.p);
    m.version = 2;
    b = build(&m);
    assert_int_equal(gguf_parse(b.p, b.n, "v2.gguf", &f, &err), RS_OK);
    assert_int_equal(f->version, 2);
    gguf_close(f);
    free(b.p);
}

// Every strict prefix of a valid file is an error, never a crash.
static void test_every_prefix(void **state)
{
    (void)state;
    mut m = {0};
    buf b = build(&m);
    for (size_t n = 0; n < b.n; n++) {
        uint8_t *copy = malloc(n ? n : 1); // exact size so ASan sees any over-read
        memcpy(copy, b.p, n);
        gguf_file *f = (gguf_file *)1;
        rs_error err = {0};
        rs_status st = gguf_parse(copy, n, "cut.gguf", &f, &err);
        if (st != RS_ERR_INPUT) fail_msg("prefix %zu: status %d", n, st);
        assert_null(f);
        assert_non_null(strstr(err.msg, "cut.gguf: "));
        free(copy);
    }
    free(b.p);
}

static void test_malformed(void **state)
{
    (void)state;
    expect_fail(&(mut){.version = 1}, "GGUF version 1 is not supported", "re-convert");
    expect_fail(&(mut){.version = 4}, "GGUF version 4", NULL);
    expect_fail(&(mut){.version = 0x03000000}, "big-endian", NULL);
    expect_fail(&(mut){.n_kv = 1ULL << 62}, "metadata count 4611686018427387904", "absurd");
    expect_fail(&(mut){.n_tensors = 1ULL << 62}, "tensor count", "absurd");
    expect_fail(&(mut){.n_kv = 1000}, "metadata count 1000", "cannot fit");
    expect_fail(&(mut){.n_tensors = 1000}, "tensor count 1000", "cannot fit");
    expect_fail(&(mut){.n_kv = 20}, "key", NULL);
    expect_fail(&(mut){.arch_len = 1ULL << 60}, "key \"general.architecture\"",
                "string length 1152921504606846976");
    expect_fail(&(mut){.key0 = "gen\xff"}, "key \"gen\\xff\"", "not valid UTF-8");
    expect_fail(&(mut){.key0 = "gen\xc3"}, "key", "not valid UTF-8");
    expect_fail(&(mut){.key0 = ""}, "key #0", "empty key");
    expect_fail(&(mut){.dup_key = true}, "key \"llama.block_count\"", "more than once");
    expect_fail(&(mut){.nested_array = true}, "key \"test.nested\"", "nested arrays");
    expect_fail(&(mut){.bool_val = 2}, "key \"test.flag\"", "bool");
    expect_fail(&(mut){.bad_kv_type = 13}, "key \"test.bad\"", "unknown value type 13");
    expect_fail(&(mut){.align = 0x30}, "general.alignment", "power of two");
    expect_fail(&(mut){.align = 1u << 31}, "general.alignment", "power of two");
    expect_fail(&(mut){.t1_name = "a"}, "tensor \"a\"", "more than once");
    expect_fail(&(mut){.t1_name = "\x80x"}, "tensor \"\\x80x\"", "not valid UTF-8");
    expect_fail(&(mut){.t0_dims = 5}, "tensor \"a\"", "n_dims 5");
    expect_fail(&(mut){.t0_type = 4}, "tensor \"a\"", "unknown ggml type 4");
    expect_fail(&(mut){.t0_type = DTYPE_U8}, "tensor \"a\"", "unknown ggml type 64");
    expect_fail(&(mut){.t0_type = DTYPE_Q4_K}, "tensor \"a\"", "multiple of 256");
    expect_fail(&(mut){.t0_ne1 = 1ULL << 62}, "tensor \"a\"", "overflows");
    expect_fail(&(mut){.t0_ne1 = 1ULL << 63}, "tensor \"a\"", "dimension 1");
    expect_fail(&(mut){.t1_ne0 = 64}, "tensor \"b\"", "past the end of the file");
    expect_fail(&(mut){.t1_off = 1ULL << 40}, "tensor \"b\"", "past the end of the file");
    expect_fail(&(mut){.t1_off = UINT64_MAX - 31}, "tensor \"b\"", "past the end of the file");
    expect_fail(&(mut){.t1_off = 33}, "tensor \"b\"", "not a multiple of the alignment");
    expect_fail(&(mut){.t1_off_set = true, .t1_off = 0}, "tensor \"", "overlaps");
    // Not GGUF at all.
    gguf_file *f = (gguf_file *)1;
    rs_error err = {0};
    assert_int_equal(gguf_parse((const uint8_t *)"GGML", 4, "x.bin", &f, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "x.bin: not a GGUF file"));
    assert_int_equal(gguf_parse((const uint8_t *)"", 0, "empty", &f, &err), RS_ERR_INPUT);
}

static void test_stories(void **state)
{
    (void)state;
    char path[4096];
    TESTDATA_PATH(path, "models/stories260K/stories260K.gguf");
    gguf_file *f = NULL;
    rs_error err = {0};
    if (gguf_open(path, &f, &err) != RS_OK) fail_msg("%s", err.msg);
    assert_true(f->mapped);
    assert_int_equal(f->version, 3);
    assert_int_equal(f->n_tensors, 48);
    assert_int_equal(f->n_kv, 19);
    assert_int_equal(f->data_offset, 14176);
    assert_int_equal(f->alignment, 32);
    assert_int_equal(f->size, 1185376);
    uint64_t end = 0, total = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        assert_int_equal(f->tensors[i].type, DTYPE_F32);
        assert_int_equal(f->tensors[i].nbytes, (uint64_t)f->tensors[i].n_elems * 4);
        total += f->tensors[i].nbytes;
        if (f->tensors[i].offset + f->tensors[i].nbytes > end)
            end = f->tensors[i].offset + f->tensors[i].nbytes;
    }
    assert_int_equal(end, f->size); // header + alignment + tensors = file size
    assert_true(total > 1000000 && total <= f->size - f->data_offset); // padding between
    assert_string_equal(f->tensors[0].name, "token_embd.weight");
    assert_int_equal(f->tensors[0].ne[0], 64);
    assert_int_equal(f->tensors[0].ne[1], 512);
    assert_int_equal(f->tensors[0].offset, 14176);
    const gguf_tensor_info *norm = gguf_find_tensor(f, "output_norm.weight");
    assert_non_null(norm);
    assert_int_equal(norm->n_elems, 64);
    assert_null(gguf_find_tensor(f, "nope"));
    // RMSNorm weights of a trained model: finite and mostly positive.
    float w[64];
    memcpy(w, gguf_tensor_data(f, norm), sizeof w);
    int pos = 0;
    for (int i = 0; i < 64; i++)
        pos += w[i] > 0 && w[i] < 100;
    assert_true(pos > 48);
    int64_t v;
    assert_true(gguf_get_int(f, "llama.block_count", &v));
    assert_int_equal(v, 5);
    assert_true(gguf_get_int(f, "llama.attention.head_count_kv", &v));
    assert_int_equal(v, 4);
    assert_true(gguf_get_int(f, "tokenizer.ggml.padding_token_id", &v));
    assert_int_equal(v, 4294967295LL);
    double eps;
    assert_true(gguf_get_float(f, "llama.attention.layer_norm_rms_epsilon", &eps));
    assert_true(eps > 0.99e-5 && eps < 1.01e-5);
    assert_string_equal(gguf_get_str(f, "tokenizer.ggml.model"), "llama");
    assert_string_equal(gguf_get_str(f, "general.architecture"), "llama");
    const gguf_kv *tok = gguf_find(f, "tokenizer.ggml.tokens");
    assert_non_null(tok);
    assert_int_equal(tok->arr_n, 512);
    uint64_t len;
    const char *s = gguf_arr_str(f, tok, 0, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(s, "<unk>", 5);
    const gguf_kv *tt = gguf_find(f, "tokenizer.ggml.token_type");
    assert_int_equal(tt->arr_type, GGUF_TYPE_INT32);
    assert_int_equal(gguf_arr_int(tt, 0), 2); // UNKNOWN
    assert_null(gguf_find(f, "llama.rope.freq_base"));

    // Prefixes of the real file at a stride: each an error, never a crash.
    size_t size = (size_t)f->size;
    uint8_t *copy = malloc(size);
    memcpy(copy, f->data, size);
    gguf_close(f);
    for (size_t n = 0; n < size; n += n < 16384 ? 61 : 40009) {
        gguf_file *g = (gguf_file *)1;
        if (gguf_parse(copy, n, "stories-cut", &g, &err) != RS_ERR_INPUT)
            fail_msg("prefix %zu parsed", n);
        assert_null(g);
    }
    assert_int_equal(gguf_parse(copy, size, "stories-copy", &f, &err), RS_OK);
    assert_false(f->mapped);
    gguf_close(f);
    free(copy);
}

static void test_v1_rejected(void **state)
{
    (void)state;
    char path[4096];
    TESTDATA_PATH(path, "models/legacy-gguf-v1/tinyllamas-stories-260k-f32.gguf");
    gguf_file *f = (gguf_file *)1;
    rs_error err = {0};
    assert_int_equal(gguf_open(path, &f, &err), RS_ERR_INPUT);
    assert_null(f);
    char want[4200];
    snprintf(want, sizeof want,
             "%s: GGUF version 1 is not supported (only 2 and 3); re-convert with a current "
             "llama.cpp",
             path);
    assert_string_equal(err.msg, want);
}

static void test_vocab_only(void **state)
{
    (void)state;
    char dir[4096];
    TESTDATA_PATH(dir, "vocab-tests");
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 5, ".gguf") != 0) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        gguf_file *f = NULL;
        rs_error err = {0};
        if (gguf_open(path, &f, &err) != RS_OK) fail_msg("%s", err.msg);
        assert_int_equal(f->n_tensors, 0);
        assert_true(f->data_offset <= f->size);
        const gguf_kv *tok = gguf_find(f, "tokenizer.ggml.tokens");
        assert_non_null(tok);
        assert_int_equal(tok->arr_type, GGUF_TYPE_STRING);
        assert_true(tok->arr_n > 1000);
        uint64_t last_len;
        assert_non_null(gguf_arr_str(f, tok, tok->arr_n - 1, &last_len));
        assert_non_null(gguf_get_str(f, "tokenizer.ggml.model"));
        gguf_close(f);
        n++;
    }
    closedir(dp);
    assert_true(n >= 10);
}

// Every value type, scalar and array, read back through the accessors.
static void test_all_types(void **state)
{
    (void)state;
    buf b = {0};
    put(&b, "GGUF", 4);
    put_le(&b, 3, 4);
    put_le(&b, 0, 8);  // no tensors
    put_le(&b, 14, 8); // 12 scalars + 2 arrays
    static const struct {
        const char *key;
        gguf_type t;
        uint64_t bits;
        int size;
    } sc[] = {
        {"u8", GGUF_TYPE_UINT8, 200, 1},
        {"i8", GGUF_TYPE_INT8, 0x80, 1}, // -128
        {"u16", GGUF_TYPE_UINT16, 65535, 2},
        {"i16", GGUF_TYPE_INT16, 0x8000, 2},
        {"u32", GGUF_TYPE_UINT32, 4000000000u, 4},
        {"i32", GGUF_TYPE_INT32, 0xffffffffu, 4},   // -1
        {"f32", GGUF_TYPE_FLOAT32, 0x3fc00000u, 4}, // 1.5
        {"bool", GGUF_TYPE_BOOL, 0, 1},
        {"u64", GGUF_TYPE_UINT64, 0xffffffffffffffffull, 8},
        {"i64", GGUF_TYPE_INT64, 0x8000000000000000ull, 8},
        {"f64", GGUF_TYPE_FLOAT64, 0xc004000000000000ull, 8}, // -2.5
        {"u64small", GGUF_TYPE_UINT64, 42, 8},
    };
    for (size_t i = 0; i < sizeof sc / sizeof *sc; i++) {
        put_str(&b, sc[i].key);
        put_le(&b, sc[i].t, 4);
        put_le(&b, sc[i].bits, sc[i].size);
    }
    put_str(&b, "arr.i16");
    put_le(&b, GGUF_TYPE_ARRAY, 4);
    put_le(&b, GGUF_TYPE_INT16, 4);
    put_le(&b, 3, 8);
    put_le(&b, (uint16_t)-300, 2);
    put_le(&b, 7, 2);
    put_le(&b, 0x7fff, 2);
    put_str(&b, "arr.f64");
    put_le(&b, GGUF_TYPE_ARRAY, 4);
    put_le(&b, GGUF_TYPE_FLOAT64, 4);
    put_le(&b, 1, 8);
    put_le(&b, 0x4059000000000000ull, 8); // 100.0
    gguf_file *f = NULL;
    rs_error err = {0};
    // Without padding after the header: legal for a file without tensors.
    if (gguf_parse(b.p, b.n, "types.gguf", &f, &err) != RS_OK) fail_msg("%s", err.msg);
    assert_int_equal(f->data_offset, b.n);
    int64_t v;
    double d;
    assert_true(gguf_get_int(f, "u8", &v) && v == 200);
    assert_true(gguf_get_int(f, "i8", &v) && v == -128);
    assert_true(gguf_get_int(f, "u16", &v) && v == 65535);
    assert_true(gguf_get_int(f, "i16", &v) && v == -32768);
    assert_true(gguf_get_int(f, "u32", &v) && v == 4000000000LL);
    assert_true(gguf_get_int(f, "i32", &v) && v == -1);
    assert_false(gguf_get_int(f, "f32", &v));
    assert_true(gguf_get_float(f, "f32", &d) && d == 1.5);
    assert_true(gguf_get_int(f, "bool", &v) && v == 0);
    assert_false(gguf_get_int(f, "u64", &v)); // does not fit int64
    assert_true(gguf_get_float(f, "u64", &d) && d > 1.8e19);
    assert_true(gguf_get_int(f, "i64", &v) && v == INT64_MIN);
    assert_true(gguf_get_float(f, "f64", &d) && d == -2.5);
    assert_true(gguf_get_int(f, "u64small", &v) && v == 42);
    assert_null(gguf_get_str(f, "u8"));
    const gguf_kv *a = gguf_find(f, "arr.i16");
    assert_int_equal(a->arr_n, 3);
    assert_int_equal(gguf_arr_int(a, 0), -300);
    assert_int_equal(gguf_arr_int(a, 2), 32767);
    assert_true(gguf_arr_float(a, 1) == 7.0);
    a = gguf_find(f, "arr.f64");
    assert_true(gguf_arr_float(a, 0) == 100.0);
    assert_int_equal(gguf_arr_int(a, 0), 100);
    assert_null(gguf_arr_str(f, a, 0, NULL)); // not a string array
    gguf_close(f);
    free(b.p);
}

// A tensor of 4 GiB + 64 in a sparse file: 64-bit offsets, and gguf_open
// maps the file without reading the weights.
static void test_large_sparse(void **state)
{
    (void)state;
    buf b = {0};
    put(&b, "GGUF", 4);
    put_le(&b, 3, 4);
    put_le(&b, 2, 8);
    put_le(&b, 0, 8);
    put_str(&b, "small");
    put_le(&b, 1, 4);
    put_le(&b, 16, 8);
    put_le(&b, DTYPE_F32, 4);
    put_le(&b, 0, 8);
    put_str(&b, "huge");
    put_le(&b, 2, 4);
    put_le(&b, 4096, 8);
    put_le(&b, 262144, 8); // 4096 x 262144 x 4 bytes = 4 GiB
    put_le(&b, DTYPE_F32, 4);
    put_le(&b, 64, 8);
    while (b.n % 32)
        put_le(&b, 0, 1);
    uint64_t data_off = b.n, size = data_off + 64 + (4ULL << 30);
    char path[4096];
    test_write_file(path, sizeof path, "sparse.gguf", b.p, b.n);
    if (truncate(path, (off_t)size) != 0) skip();
    gguf_file *f = NULL;
    rs_error err = {0};
    if (gguf_open(path, &f, &err) != RS_OK) fail_msg("%s", err.msg);
    assert_int_equal(f->size, size);
    assert_int_equal(f->tensors[1].nbytes, 4ULL << 30);
    assert_int_equal(f->tensors[1].offset, data_off + 64);
    assert_int_equal(f->tensors[1].offset + f->tensors[1].nbytes, size);
    gguf_close(f);
    // One byte short: the message gives the exact range and the file size.
    assert_int_equal(truncate(path, (off_t)(size - 1)), 0);
    assert_int_equal(gguf_open(path, &f, &err), RS_ERR_INPUT);
    char want[256];
    snprintf(want, sizeof want,
             "tensor \"huge\": data [%llu, %llu) lies past the end of the file (%llu bytes)",
             (unsigned long long)(data_off + 64), (unsigned long long)size,
             (unsigned long long)(size - 1));
    if (!strstr(err.msg, want)) fail_msg("%s", err.msg);
    unlink(path);
    free(b.p);
}

static void test_open_errors(void **state)
{
    (void)state;
    gguf_file *f = (gguf_file *)1;
    rs_error err = {0};
    assert_int_equal(gguf_open("/nonexistent/x.gguf", &f, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "/nonexistent/x.gguf: cannot open"));
    char path[4096];
    test_write_file(path, sizeof path, "short.gguf", "GGUF\3\0\0\0", 8);
    assert_int_equal(gguf_open(path, &f, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "short.gguf"));
    assert_int_equal(gguf_open(test_tmpdir(), &f, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "not a regular file"));
    gguf_close(NULL);
}

// The fuzz seeds (tools/make_fuzz_seeds.py) are valid files, except v1.
static void test_fuzz_seeds(void **state)
{
    (void)state;
    const char *src = getenv("RIGHTSIZE_SOURCE");
    static const char *names[] = {"v3_two_tensors.gguf", "v2_q4k.gguf", "vocab_only.gguf",
                                  "v1.gguf"};
    for (int i = 0; i < 4; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/fuzz/corpus/fuzz_gguf/%s", src && *src ? src : "..",
                 names[i]);
        gguf_file *f = NULL;
        rs_error err = {0};
        rs_status st = gguf_open(path, &f, &err);
        if (st != (i == 3 ? RS_ERR_INPUT : RS_OK)) fail_msg("%s: %s", names[i], err.msg);
        gguf_close(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_valid), cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_malformed),   cmocka_unit_test(test_stories),
        cmocka_unit_test(test_v1_rejected), cmocka_unit_test(test_vocab_only),
        cmocka_unit_test(test_open_errors), cmocka_unit_test(test_fuzz_seeds),
        cmocka_unit_test(test_all_types),   cmocka_unit_test(test_large_sparse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
