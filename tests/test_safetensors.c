#include "testutil.h"

#include <unistd.h>

#include "model/safetensors.h"

// Tests of the safetensors header reader: a fixture written by the reference
// safetensors library (tools/make_safetensors_fixture.py), then malformed
// headers and file images built here.

static const char *fixture_path(char *buf, size_t n)
{
    const char *src = getenv("RIGHTSIZE_SOURCE");
    snprintf(buf, n, "%s/tests/fixtures/tiny.safetensors", src && *src ? src : "..");
    return buf;
}

static void test_fixture(void **state)
{
    (void)state;
    char path[4096];
    fixture_path(path, sizeof path);
    st_file *f = NULL;
    rs_error err = {0};
    if (st_open(path, &f, &err) != RS_OK) fail_msg("%s", err.msg);
    assert_int_equal(f->file_size, 795);
    assert_int_equal(f->header_len, 696);
    assert_int_equal(f->data_offset, 704);
    assert_int_equal(f->n_tensors, 10); // __metadata__ is not a tensor
    const st_tensor *t = st_find(f, "model.embed_tokens.weight");
    assert_non_null(t);
    assert_int_equal(t->type, DTYPE_BF16);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->shape[0], 4);
    assert_int_equal(t->shape[1], 3);
    assert_int_equal(t->n_elems, 12);
    assert_int_equal(t->begin, 704 + 48);
    assert_int_equal(t->end, 704 + 72);
    t = st_find(f, "step");
    assert_int_equal(t->type, DTYPE_I64);
    assert_int_equal(t->n_dims, 0);
    assert_int_equal(t->n_elems, 1);
    assert_int_equal(t->begin, 704);
    t = st_find(f, "empty");
    assert_int_equal(t->n_elems, 0);
    assert_int_equal(t->begin, t->end);
    assert_int_equal(st_find(f, "fp8")->type, DTYPE_F8_E4M3);
    assert_int_equal(st_find(f, "mask")->type, DTYPE_BOOL);
    assert_int_equal(st_find(f, "bytes")->type, DTYPE_U8);
    assert_int_equal(st_find(f, "w.f64")->type, DTYPE_F64);
    assert_int_equal(st_find(f, "mask")->end, f->file_size);
    assert_null(st_find(f, "__metadata__"));
    // The weights were not read: st_open reads 8 + header_len bytes only,
    // which the struct cannot show, but the values below are checked against
    // the bytes the reference writer put there.
    size_t n;
    uint8_t *img = (uint8_t *)test_slurp(path, &n);
    assert_non_null(img);
    const st_tensor *bias = st_find(f, "lm_head.bias"); // f16 0, 1, 2, 3
    assert_int_equal(img[bias->begin + 2], 0x00);
    assert_int_equal(img[bias->begin + 3], 0x3c); // f16 1.0 = 0x3c00
    st_close(f);

    // The same bytes through the in-memory entry point.
    assert_int_equal(st_parse_image("tiny", img, n, &f, &err), RS_OK);
    assert_int_equal(f->n_tensors, 10);
    st_close(f);
    // Every strict prefix of the header text is an error, never a crash.
    for (size_t k = 0; k < 696; k++) {
        char *h = malloc(k ? k : 1); // exact size so ASan sees any over-read
        memcpy(h, img + 8, k);
        f = (st_file *)1;
        if (st_parse_header("cut", h, k, 795, &f, &err) != RS_ERR_INPUT)
            fail_msg("prefix %zu parsed", k);
        assert_null(f);
        assert_non_null(strstr(err.msg, "cut: "));
        free(h);
    }
    // A file cut anywhere inside its data is an error too.
    for (size_t k = 0; k < n; k += 7) {
        f = (st_file *)1;
        if (st_parse_image("short", img, k, &f, &err) != RS_ERR_INPUT)
            fail_msg("file cut at %zu parsed", k);
    }
    free(img);
}

// Parses {header} as a file of file_size bytes and expects RS_ERR_INPUT with
// the name and both fragments in the message.
static void expect_fail_sz(const char *json, uint64_t file_size, const char *f1, const char *f2)
{
    st_file *f = (st_file *)1;
    rs_error err = {0};
    rs_status st = st_parse_header("bad.safetensors", json, strlen(json), file_size, &f, &err);
    if (st != RS_ERR_INPUT) fail_msg("expected RS_ERR_INPUT for %s, got %d", json, st);
    assert_null(f);
    if (!strstr(err.msg, "bad.safetensors: ") || (f1 && !strstr(err.msg, f1)) ||
        (f2 && !strstr(err.msg, f2)))
        fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err.msg, f1, f2 ? f2 : "");
    assert_null(strchr(err.msg, '\n'));
}

static void expect_fail(const char *json, const char *f1, const char *f2)
{
    expect_fail_sz(json, 8 + strlen(json) + 64, f1, f2);
}

static void expect_ok(const char *json, int64_t n_tensors)
{
    st_file *f = NULL;
    rs_error err = {0};
    if (st_parse_header("ok", json, strlen(json), 8 + strlen(json) + 64, &f, &err) != RS_OK)
        fail_msg("%s: %s", json, err.msg);
    assert_int_equal(f->n_tensors, n_tensors);
    st_close(f);
}

static void test_malformed_headers(void **state)
{
    (void)state;
    expect_ok("{}", 0);
    expect_ok("{\"__metadata__\":{}}  ", 0);
    expect_ok("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,8],\"data_offsets\":[0,64]}}", 1);
    expect_ok("{\"a\":{\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4]},"
              "\"b\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[4,8]},"
              "\"c\":{\"dtype\":\"U64\",\"shape\":[0],\"data_offsets\":[4,4]},"
              "\"d\":{\"dtype\":\"F8_E5M2\",\"shape\":[1],\"data_offsets\":[8,9]}}",
              4);

    expect_fail("{\"a\":", "invalid JSON", NULL);
    expect_fail("[1,2]", "header", "expected an object");
    expect_fail("{} x", "unexpected byte", NULL);
    expect_fail("{\"__metadata__\":[]}", "__metadata__", "expected an object");
    expect_fail("{\"__metadata__\":{\"k\":1}}", "__metadata__ \"k\"", "expected a string");
    expect_fail("{\"a\":1}", "tensor \"a\"", "expected an object");
    expect_fail("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "tensor \"a\"", "dtype");
    expect_fail("{\"a\":{\"dtype\":\"Q4_K\",\"shape\":[1],\"data_offsets\":[0,4]}}", "tensor \"a\"",
                "unknown dtype \"Q4_K\"");
    expect_fail("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "tensor \"a\"",
                "unknown dtype");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "tensor \"a\"", "shape");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "tensor \"a\"",
                "shape[0]");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
                "tensor \"a\"", "shape[0]");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}",
                "tensor \"a\"", "shape[0]");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,2,3,4,5,6,7,8,9],\"data_offsets\":[0,4]}}",
                "tensor \"a\"", "9 dimensions");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                "\"data_offsets\":[0,4]}}",
                "tensor \"a\"", "overflows");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}",
                "tensor \"a\"", "shape[0]");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", "tensor \"a\"", "data_offsets");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", "tensor \"a\"",
                "data_offsets");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", "tensor \"a\"",
                "end before they begin");
    // shape and byte size disagree
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "tensor \"a\"",
                "needs 2 x 4 bytes");
    expect_fail("{\"a\":{\"dtype\":\"BF16\",\"shape\":[4503599627370496,1024],"
                "\"data_offsets\":[0,0]}}",
                "tensor \"a\"", "needs");
    // outside the file
    expect_fail("{\"a\":{\"dtype\":\"U8\",\"shape\":[1000],\"data_offsets\":[0,1000]}}",
                "tensor \"a\"", "past the end of the data section");
    expect_fail("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[9007199254740990,"
                "9007199254740991]}}",
                "tensor \"a\"", "past the end");
    // overlapping
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                "tensor \"b\"", "overlaps tensor \"a\"");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                "tensor \"a\"", "more than once");
    // names
    expect_fail("{\"a\\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "tensor",
                NULL); // "\x" is not a JSON escape: invalid JSON
    expect_fail("{\"\xff\xfe\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                "tensor \"\\xff\\xfe\"", "not valid UTF-8");
    expect_fail("{\"\xed\xa0\x80\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                "tensor", "not valid UTF-8"); // an encoded surrogate
    expect_fail("{\"\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "tensor \"\"",
                "empty name");
    // header length
    expect_fail_sz("{}", 9, "header: length 2", "past the end of the file");
    expect_fail_sz("{}", 4, "header: length 2", "past the end of the file");
}

// The message for invalid JSON names the header; the test above accepts
// any message with "tensor" for the \x case, so check it precisely here.
static void test_invalid_json_message(void **state)
{
    (void)state;
    st_file *f = NULL;
    rs_error err = {0};
    const char *j = "{\"a\": {\"dtype\": \"F32\",, }}";
    assert_int_equal(st_parse_header("m.safetensors", j, strlen(j), 1000, &f, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "m.safetensors: header: invalid JSON near byte"));
}

static void test_open_images(void **state)
{
    (void)state;
    char path[4096];
    st_file *f = (st_file *)1;
    rs_error err = {0};

    // Length 2^60: past the end and past the 100 MB limit, rejected before
    // any allocation.
    uint8_t img[16] = {0, 0, 0, 0, 0, 0, 0, 0x10, '{', '}'};
    test_write_file(path, sizeof path, "huge.safetensors", img, 10);
    assert_int_equal(st_open(path, &f, &err), RS_ERR_INPUT);
    assert_null(f);
    assert_non_null(strstr(err.msg, "huge.safetensors: header: length 1152921504606846976"));

    // Length 3 but only 2 header bytes.
    uint8_t img2[10] = {3, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    test_write_file(path, sizeof path, "cut.safetensors", img2, 10);
    assert_int_equal(st_open(path, &f, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "cut.safetensors: header: length 3 runs past the end"));

    test_write_file(path, sizeof path, "tiny.safetensors", img2, 5);
    assert_int_equal(st_open(path, &f, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "too short"));

    // A valid empty file: length 2, "{}".
    uint8_t img3[10] = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    test_write_file(path, sizeof path, "empty.safetensors", img3, 10);
    assert_int_equal(st_open(path, &f, &err), RS_OK);
    assert_int_equal(f->n_tensors, 0);
    assert_int_equal(f->data_offset, 10);
    st_close(f);

    assert_int_equal(st_open("/nonexistent/a.safetensors", &f, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "/nonexistent/a.safetensors: cannot open"));
    assert_int_equal(st_open(test_tmpdir(), &f, &err), RS_ERR_INPUT);
    st_close(NULL);
}

// A 6 GiB sparse file: 64-bit offsets, and st_open reads only the header.
static void test_large_sparse(void **state)
{
    (void)state;
    const char *json = "{\"embed\":{\"dtype\":\"BF16\",\"shape\":[151936,8192],"
                       "\"data_offsets\":[0,2489319424]},"
                       "\"lm_head\":{\"dtype\":\"F32\",\"shape\":[262144,4096],"
                       "\"data_offsets\":[2489319424,6784286720]}}";
    size_t jl = strlen(json);
    uint8_t *img = malloc(8 + jl);
    for (int i = 0; i < 8; i++)
        img[i] = (uint8_t)((uint64_t)jl >> (8 * i));
    memcpy(img + 8, json, jl);
    char path[4096];
    test_write_file(path, sizeof path, "sparse.safetensors", img, 8 + jl);
    uint64_t size = 8 + jl + 6784286720ULL;
    if (truncate(path, (off_t)size) != 0) skip();
    st_file *f = NULL;
    rs_error err = {0};
    if (st_open(path, &f, &err) != RS_OK) fail_msg("%s", err.msg);
    assert_int_equal(f->n_tensors, 2);
    assert_int_equal(st_find(f, "lm_head")->end, size);
    assert_int_equal(st_find(f, "lm_head")->n_elems, 262144LL * 4096);
    st_close(f);
    assert_int_equal(truncate(path, (off_t)(size - 2)), 0);
    assert_int_equal(st_open(path, &f, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "tensor \"lm_head\": data_offsets [2489319424, 6784286720) "
                                    "lie past the end of the data section"));
    unlink(path);
    free(img);
}

// The fuzz seeds (tools/make_fuzz_seeds.py) are valid files.
static void test_fuzz_seeds(void **state)
{
    (void)state;
    const char *src = getenv("RIGHTSIZE_SOURCE");
    static const char *names[] = {"two.safetensors", "kinds.safetensors", "empty.safetensors"};
    for (int i = 0; i < 3; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/fuzz/corpus/fuzz_safetensors/%s", src && *src ? src : "..",
                 names[i]);
        st_file *f = NULL;
        rs_error err = {0};
        if (st_open(path, &f, &err) != RS_OK) fail_msg("%s", err.msg);
        st_close(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_invalid_json_message),
        cmocka_unit_test(test_open_images),
        cmocka_unit_test(test_large_sparse),
        cmocka_unit_test(test_fuzz_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
