#include "testutil.h"

#include "model/gguf.h"
#include "tok/tokenizer.h"

// llama.cpp's tokenizer test vectors (vocab-tests/ggml-vocab-*.gguf.inp/.out,
// made by HF tokenizers with add_special=false): every vocabulary whose GGUF
// is present, plus Llama 3 and Qwen2 through their tokenizer.json (their
// GGUFs are too big to stage; same vocabularies, see PROVENANCE.md).

// Runs every vector of one vocabulary; returns the number of failures.
static int run_vectors(tokenizer *tok, const char *vocab, const char *inp_path,
                       const char *out_path)
{
    size_t ni, no;
    char *inp = test_slurp(inp_path, &ni), *out = test_slurp(out_path, &no);
    assert_non_null(inp);
    assert_non_null(out);
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t sl = strlen(sep);
    char *p = inp, *line = out;
    int total = 0, pass = 0;
    for (;;) {
        char *e = strstr(p, sep);
        if (!e) break;
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        int32_t *ids;
        int64_t n;
        rs_error err = {0};
        assert_int_equal(tokenizer_encode(tok, p, (size_t)(e - p), false, true, &ids, &n, &err),
                         RS_OK);
        // Compare with the expected line.
        char got[16384];
        size_t gl = 0;
        for (int64_t i = 0; i < n && gl + 16 < sizeof got; i++)
            gl += (size_t)snprintf(got + gl, sizeof got - gl, i ? " %d" : "%d", ids[i]);
        got[gl] = 0;
        const char *want = line;
        while (*want == ' ')
            want++;
        total++;
        if (strcmp(got, want) == 0)
            pass++;
        else
            fprintf(stderr, "  %s: vector %d \"%.*s\"\n    want %s\n    got  %s\n", vocab, total,
                    (int)(e - p > 60 ? 60 : e - p), p, want, got);
        free(ids);
        p = e + sl;
        line = nl + 1;
    }
    printf("%-16s %3d/%3d\n", vocab, pass, total);
    free(inp);
    free(out);
    return total - pass;
}

static const char *gguf_vocabs[] = {
    "llama-spm", "phi-3", "deepseek-llm", "deepseek-coder", "falcon",
    "gpt-2",     "mpt",   "starcoder",    "refact",         "bert-bge",
};

static void test_gguf_vectors(void **state)
{
    (void)state;
    char dir[4096], g[4200], i[4300], o[4300];
    TESTDATA_PATH(dir, "vocab-tests");
    int failures = 0;
    for (size_t k = 0; k < sizeof gguf_vocabs / sizeof gguf_vocabs[0]; k++) {
        snprintf(g, sizeof g, "%s/ggml-vocab-%s.gguf", dir, gguf_vocabs[k]);
        snprintf(i, sizeof i, "%s.inp", g);
        snprintf(o, sizeof o, "%s.out", g);
        gguf_file *f;
        rs_error err = {0};
        if (gguf_open(g, &f, &err) != RS_OK) fail_msg("%s", err.msg);
        tokenizer *tok;
        rs_status st = tokenizer_load_gguf(f, &tok, &err);
        gguf_close(f);
        if (st != RS_OK) fail_msg("%s", err.msg);
        failures += run_vectors(tok, gguf_vocabs[k], i, o);
        tokenizer_free(tok);
    }
    assert_int_equal(failures, 0);
}

static void test_json_vectors(void **state)
{
    (void)state;
    static const char *pairs[][2] = {{"llama3", "llama-bpe"}, {"qwen3", "qwen2"}};
    char dir[4096], tj[4200], i[4300], o[4300];
    TESTDATA_PATH(dir, "tokenizers");
    int failures = 0;
    for (int k = 0; k < 2; k++) {
        snprintf(tj, sizeof tj, "%s/%s", dir, pairs[k][0]);
        snprintf(i, sizeof i, "%s/../vocab-tests/ggml-vocab-%s.gguf.inp", dir, pairs[k][1]);
        snprintf(o, sizeof o, "%s/../vocab-tests/ggml-vocab-%s.gguf.out", dir, pairs[k][1]);
        tokenizer *tok;
        rs_error err = {0};
        if (tokenizer_load_hf(tj, &tok, &err) != RS_OK) fail_msg("%s", err.msg);
        char name[64];
        snprintf(name, sizeof name, "%s(json)", pairs[k][1]);
        failures += run_vectors(tok, name, i, o);
        tokenizer_free(tok);
    }
    assert_int_equal(failures, 0);
}

static tokenizer *load_gguf_tok(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", testdata_dir(), rel);
    gguf_file *f;
    tokenizer *tok;
    rs_error err = {0};
    if (gguf_open(path, &f, &err) != RS_OK) fail_msg("%s", err.msg);
    if (tokenizer_load_gguf(f, &tok, &err) != RS_OK) fail_msg("%s", err.msg);
    gguf_close(f);
    return tok;
}

// Special ids and add_bos come from the files (values read with gguf-py).
static void test_gguf_specials(void **state)
{
    (void)state;
    char dir[4096];
    TESTDATA_PATH(dir, "vocab-tests");
    TESTDATA_PATH(dir, "models/stories260K/stories260K.gguf");
    struct {
        const char *rel;
        int32_t bos, eos;
        bool add_bos;
        tokenizer_kind kind;
    } cases[] = {
        {"vocab-tests/ggml-vocab-llama-spm.gguf", 1, 2, true, TOKENIZER_KIND_SPM},
        {"vocab-tests/ggml-vocab-phi-3.gguf", 1, 32000, true, TOKENIZER_KIND_SPM},
        {"vocab-tests/ggml-vocab-gpt-2.gguf", 50256, 50256, false, TOKENIZER_KIND_BPE},
        {"vocab-tests/ggml-vocab-deepseek-coder.gguf", 32013, 32014, true, TOKENIZER_KIND_BPE},
        // No add_bos_token key: llama.cpp's default for SPM is to add BOS.
        {"models/stories260K/stories260K.gguf", 1, 2, true, TOKENIZER_KIND_SPM},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tokenizer *tok = load_gguf_tok(cases[i].rel);
        assert_int_equal(tokenizer_bos(tok), cases[i].bos);
        assert_int_equal(tokenizer_eos(tok), cases[i].eos);
        assert_int_equal(tokenizer_add_bos(tok), cases[i].add_bos);
        assert_int_equal(tokenizer_get_kind(tok), cases[i].kind);
        assert_true(tokenizer_is_eog(tok, cases[i].eos));
        int32_t *a, *b;
        int64_t na, nb;
        rs_error err = {0};
        assert_int_equal(tokenizer_encode(tok, "Hello", 5, false, true, &a, &na, &err), RS_OK);
        assert_int_equal(tokenizer_encode(tok, "Hello", 5, true, true, &b, &nb, &err), RS_OK);
        assert_int_equal(nb, na + (cases[i].add_bos ? 1 : 0));
        if (cases[i].add_bos) assert_int_equal(b[0], cases[i].bos);
        char *out;
        size_t ol;
        assert_int_equal(
            tokenizer_decode(tok, a, na, TOKENIZER_DECODE_STRIP_LEADING, &out, &ol, &err), RS_OK);
        assert_string_equal(out, "Hello");
        free(out);
        free(a);
        free(b);
        tokenizer_free(tok);
    }
    // Phi-3: <|end|> is an end-of-turn control token of the vocabulary.
    tokenizer *tok = load_gguf_tok("vocab-tests/ggml-vocab-phi-3.gguf");
    int32_t end = tokenizer_find(tok, "<|end|>", 7);
    assert_true(end >= 0);
    assert_true(tokenizer_is_eog(tok, end));
    assert_false(tokenizer_is_eog(tok, tokenizer_find(tok, "\xE2\x96\x81Hello", 8)));
    // Phi-3's special tokens eat the newline after them (rstrip, as in its
    // tokenizer.json; llama.cpp sets it by model name), <s> does not.
    const char *chat = "<|user|>\nHi<|end|>\n<|assistant|>";
    int32_t *ids;
    int64_t n;
    rs_error err = {0};
    assert_int_equal(tokenizer_encode(tok, chat, strlen(chat), false, true, &ids, &n, &err), RS_OK);
    assert_int_equal(n, 4);
    assert_int_equal(ids[0], 32010);
    assert_int_equal(ids[1], 6324); // ▁Hi
    assert_int_equal(ids[2], 32007);
    assert_int_equal(ids[3], 32001);
    free(ids);
    assert_int_equal(tokenizer_encode(tok, "<s>\nA", 5, false, true, &ids, &n, &err), RS_OK);
    assert_true(n >= 2 && ids[0] == 1 &&
                ids[1] != tokenizer_find(tok,
                                         "\xE2\x96\x81"
                                         "A",
                                         4));
    free(ids);
    tokenizer_free(tok);
}

// stories260K's greedy continuation of BOS (PROVENANCE.md, from a
// plain-Python forward pass) decodes to the text given there.
static void test_stories_decode(void **state)
{
    (void)state;
    char dir[4096];
    TESTDATA_PATH(dir, "models/stories260K/stories260K.gguf");
    tokenizer *tok = load_gguf_tok("models/stories260K/stories260K.gguf");
    static const int32_t ids[] = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298,
                                  315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
                                  410, 408, 419, 292, 411, 322, 265, 282, 295, 433,
                                  426, 385, 328, 432, 358, 394, 261, 370, 432, 352};
    char *out;
    size_t n;
    rs_error err = {0};
    assert_int_equal(tokenizer_decode(tok, ids, 40, 0, &out, &n, &err), RS_OK);
    assert_string_equal(out, " Once upon a time, there was a little girl named Lily. She loved to "
                             "play outside in the park. One day, she saw a big, r");
    free(out);
    tokenizer_free(tok);
}

// A GGUF whose tokenizer.ggml.pre is unknown is refused, not guessed.
static void test_gguf_errors(void **state)
{
    (void)state;
    tokenizer *tok;
    rs_error err = {0};
    char dir[4096];
    TESTDATA_PATH(dir, "vocab-tests/ggml-vocab-gpt-2.gguf");
    gguf_file *f;
    assert_int_equal(gguf_open(dir, &f, &err), RS_OK);
    // Point the pre name at something unknown by editing the parsed value.
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (strcmp(f->kv[i].key, "tokenizer.ggml.pre") == 0) f->kv[i].str[0] = 'X';
    assert_int_equal(tokenizer_load_gguf(f, &tok, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "tokenizer.ggml.pre"));
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (strcmp(f->kv[i].key, "tokenizer.ggml.model") == 0) f->kv[i].str[0] = 'X';
    assert_int_equal(tokenizer_load_gguf(f, &tok, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "tokenizer.ggml.model"));
    gguf_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_vectors),   cmocka_unit_test(test_gguf_vectors),
        cmocka_unit_test(test_gguf_specials),  cmocka_unit_test(test_gguf_errors),
        cmocka_unit_test(test_stories_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
