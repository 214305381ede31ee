#include "testutil.h"

#include "tok/tok_internal.h"
#include "tok/tokenizer.h"

// Parity with Hugging Face `tokenizers` on 2,100 strings (English, CJK,
// Arabic, emoji with modifiers and ZWJ, code, numbers, whitespace runs,
// invalid UTF-8, special-token look-alikes) for every tokenizer in
// testdata/tokenizers. Fixtures: tests/fixtures/tok, made by
// tools/make_tok_fixtures.py. Checks encode (special tokens parsed and not),
// decode of the ids, add_special, and that stream decoding equals whole
// decoding with every chunk valid UTF-8.

static const char *fixture_dir(char *buf, size_t n)
{
    const char *src = getenv("RIGHTSIZE_SOURCE");
    snprintf(buf, n, "%s/tests/fixtures/tok", src && *src ? src : "..");
    return buf;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// Decodes hex s[0, n) into out (malloc'd); returns the byte count.
static size_t unhex(const char *s, size_t n, char **out)
{
    *out = malloc(n / 2 + 1);
    assert_non_null(*out);
    for (size_t i = 0; i + 1 < n; i += 2)
        (*out)[i / 2] = (char)(hexval(s[i]) * 16 + hexval(s[i + 1]));
    (*out)[n / 2] = 0;
    return n / 2;
}

// Parses space-separated ids from s[0, n).
static int64_t parse_ids(const char *s, size_t n, int32_t *ids, int64_t cap)
{
    int64_t k = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && s[i] == ' ')
            i++;
        if (i >= n) break;
        long v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            v = v * 10 + (s[i++] - '0');
        assert_true(k < cap);
        ids[k++] = (int32_t)v;
    }
    return k;
}

static bool ids_equal(const int32_t *a, int64_t na, const int32_t *b, int64_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof *a) == 0);
}

static bool valid_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        int l = tok_utf8_valid_len((const uint8_t *)s + i, n - i);
        if (!l) return false;
        i += (size_t)l;
    }
    return true;
}

static void print_ids(const char *label, const int32_t *v, int64_t n)
{
    fprintf(stderr, "    %s", label);
    for (int64_t i = 0; i < n && i < 40; i++)
        fprintf(stderr, " %d", v[i]);
    fprintf(stderr, "%s\n", n > 40 ? " ..." : "");
}

static void run_parity(const char *name)
{
    char tdir[4096], fdir[2048], path[4200];
    char rel[256];
    snprintf(rel, sizeof rel, "tokenizers/%s", name);
    TESTDATA_PATH(tdir, rel);
    fixture_dir(fdir, sizeof fdir);
    tokenizer *tok;
    rs_error err = {0};
    if (tokenizer_load_hf(tdir, &tok, &err) != RS_OK) fail_msg("%s", err.msg);

    size_t nc, ni;
    snprintf(path, sizeof path, "%s/corpus.hex", fdir);
    char *corpus = test_slurp(path, &nc);
    snprintf(path, sizeof path, "%s/%s.ids", fdir, name);
    char *idf = test_slurp(path, &ni);
    if (!corpus || !idf) fail_msg("fixtures missing in %s (run tools/make_tok_fixtures.py)", fdir);

    // Header: what add_special adds around the ids.
    char *line = idf;
    char *nl = strchr(line, '\n');
    assert_non_null(nl);
    int32_t pre[8], suf[8];
    int64_t npre = 0, nsuf = 0;
    {
        char *p = strstr(line, "prefix="), *s = strstr(line, "suffix=");
        assert_true(p && s && p < nl && s < nl);
        for (char *c = p + 7; c < s; c++)
            if (*c == ',') *c = ' ';
        for (char *c = s + 7; c < nl; c++)
            if (*c == ',') *c = ' ';
        npre = parse_ids(p + 7, (size_t)(s - p - 7), pre, 8);
        nsuf = parse_ids(s + 7, (size_t)(nl - s - 7), suf, 8);
    }
    line = nl + 1;

    static int32_t want[1 << 16], want2[1 << 16];
    int total = 0, enc_ok = 0, dec_ok = 0, raw_ok = 0, stream_ok = 0, skip_ok = 0, shown = 0;
    char *cl = corpus;
    while (*cl) {
        char *cnl = strchr(cl, '\n');
        char *inl = strchr(line, '\n');
        assert_non_null(cnl);
        assert_non_null(inl);
        char *text;
        size_t tl = unhex(cl, (size_t)(cnl - cl), &text);
        char *t1 = strchr(line, '\t');
        char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        char *t3 = t2 ? strchr(t2 + 1, '\t') : NULL;
        assert_true(t1 && t2 && t3 && t3 < inl);
        int64_t nw = parse_ids(line, (size_t)(t1 - line), want, 1 << 16);
        total++;

        int32_t *ids;
        int64_t n;
        assert_int_equal(tokenizer_encode(tok, text, tl, false, true, &ids, &n, &err), RS_OK);
        bool e_ok = ids_equal(ids, n, want, nw);
        enc_ok += e_ok;
        if (!e_ok && shown++ < 5) {
            fprintf(stderr, "  %s: string %d (%zu bytes) \"%.*s\"\n", name, total, tl,
                    (int)(tl > 60 ? 60 : tl), text);
            print_ids("want", want, nw);
            print_ids("got ", ids, n);
        }

        // Decode of the reference ids: HF's text, or the text itself ("=").
        char *dec;
        size_t dl;
        assert_int_equal(
            tokenizer_decode(tok, want, nw, TOKENIZER_DECODE_STRIP_LEADING, &dec, &dl, &err),
            RS_OK);
        char *expect;
        size_t el;
        tok_buf san = {0};
        if (t2 - t1 - 1 == 1 && t1[1] == '=') {
            assert_true(tok_utf8_sanitize(text, tl, &san));
            expect = san.v ? san.v : (char *)"";
            el = san.n;
        } else {
            el = unhex(t1 + 1, (size_t)(t2 - t1 - 1), &expect);
        }
        bool d_ok = dl == el && memcmp(dec, expect, el) == 0;
        dec_ok += d_ok;
        if (!d_ok && shown++ < 5)
            fprintf(stderr, "  %s: decode of string %d: want \"%.*s\" got \"%.*s\"\n", name, total,
                    (int)el, expect, (int)dl, dec);

        // Stream decode: same bytes, each chunk valid UTF-8.
        tokenizer_decoder d;
        tokenizer_decoder_init(&d, tok, TOKENIZER_DECODE_STRIP_LEADING);
        tok_buf acc = {0};
        bool chunks_valid = true;
        for (int64_t i = 0; i < nw; i++) {
            size_t m;
            const char *p = tokenizer_decoder_feed(&d, want[i], &m);
            chunks_valid = chunks_valid && valid_utf8(p, m);
            assert_true(tok_buf_append(&acc, p, m));
        }
        size_t m;
        const char *p = tokenizer_decoder_flush(&d, &m);
        assert_true(tok_buf_append(&acc, p, m));
        tokenizer_decoder_free(&d);
        stream_ok += chunks_valid && acc.n == dl && (dl == 0 || memcmp(acc.v, dec, dl) == 0);

        // Special tokens as plain text.
        int64_t nw2 = nw;
        const int32_t *w2 = want;
        if (!(t3 - t2 - 1 == 1 && t2[1] == '=')) {
            nw2 = parse_ids(t2 + 1, (size_t)(t3 - t2 - 1), want2, 1 << 16);
            w2 = want2;
        }
        int32_t *ids2;
        int64_t n2;
        assert_int_equal(tokenizer_encode(tok, text, tl, false, false, &ids2, &n2, &err), RS_OK);
        bool r_ok = ids_equal(ids2, n2, w2, nw2);
        raw_ok += r_ok;
        if (!r_ok && shown++ < 5) {
            fprintf(stderr, "  %s: no-parse-special string %d \"%.*s\"\n", name, total,
                    (int)(tl > 60 ? 60 : tl), text);
            print_ids("want", w2, nw2);
            print_ids("got ", ids2, n2);
        }

        // Decode skipping special tokens.
        char *dec_skip;
        size_t dsl;
        assert_int_equal(
            tokenizer_decode(tok, want, nw,
                             TOKENIZER_DECODE_STRIP_LEADING | TOKENIZER_DECODE_SKIP_SPECIAL,
                             &dec_skip, &dsl, &err),
            RS_OK);
        char *es = dec;
        size_t esl = dl;
        if (!(inl - t3 - 1 == 1 && t3[1] == '=')) esl = unhex(t3 + 1, (size_t)(inl - t3 - 1), &es);
        bool s_ok = dsl == esl && memcmp(dec_skip, es, esl) == 0;
        skip_ok += s_ok;
        if (!s_ok && shown++ < 5)
            fprintf(stderr, "  %s: skip-special decode of string %d: want \"%.*s\" got \"%.*s\"\n",
                    name, total, (int)esl, es, (int)dsl, dec_skip);
        if (es != dec) free(es);
        free(dec_skip);

        free(ids);
        free(ids2);
        free(dec);
        free(acc.v);
        if (san.v)
            free(san.v);
        else if (expect != (char *)"")
            free(expect);
        free(text);
        cl = cnl + 1;
        line = inl + 1;
    }

    // add_special: prefix + ids("x") + suffix, as HF.
    int32_t *a, *b;
    int64_t na, nb;
    assert_int_equal(tokenizer_encode(tok, "x", 1, false, true, &a, &na, &err), RS_OK);
    assert_int_equal(tokenizer_encode(tok, "x", 1, true, true, &b, &nb, &err), RS_OK);
    assert_int_equal(nb, npre + na + nsuf);
    for (int64_t i = 0; i < npre; i++)
        assert_int_equal(b[i], pre[i]);
    for (int64_t i = 0; i < na; i++)
        assert_int_equal(b[npre + i], a[i]);
    for (int64_t i = 0; i < nsuf; i++)
        assert_int_equal(b[npre + na + i], suf[i]);
    free(a);
    free(b);

    printf("%-16s encode %d/%d  decode %d/%d  no-parse-special %d/%d  stream %d/%d  "
           "skip-special decode %d/%d\n",
           name, enc_ok, total, dec_ok, total, raw_ok, total, stream_ok, total, skip_ok, total);
    free(corpus);
    free(idf);
    tokenizer_free(tok);
    assert_int_equal(enc_ok, total);
    assert_int_equal(dec_ok, total);
    assert_int_equal(raw_ok, total);
    assert_int_equal(stream_ok, total);
    assert_int_equal(skip_ok, total);
}

static void test_qwen3(void **state)
{
    (void)state;
    run_parity("qwen3");
}

static void test_llama3(void **state)
{
    (void)state;
    run_parity("llama3");
}

static void test_mistral(void **state)
{
    (void)state;
    run_parity("mistral-7b-v0.1");
}

// A 4-byte char split over byte tokens: nothing comes out until the last
// byte, then the whole char; an unfinished char at the end is one U+FFFD.
static void test_stream_split_char(void **state)
{
    (void)state;
    char dir[4096];
    TESTDATA_PATH(dir, "tokenizers/mistral-7b-v0.1");
    tokenizer *tok;
    rs_error err = {0};
    assert_int_equal(tokenizer_load_hf(dir, &tok, &err), RS_OK);
    int32_t *ids;
    int64_t n;
    const char *llama = "\xF0\x9F\xA6\x99"; // U+1F999 is not in the vocabulary: 4 byte tokens
    assert_int_equal(tokenizer_encode(tok, llama, 4, false, true, &ids, &n, &err), RS_OK);
    assert_int_equal(n, 5); // ▁ then <0xF0> <0x9F> <0xA6> <0x99>
    tokenizer_decoder d;
    tokenizer_decoder_init(&d, tok, 0);
    size_t m;
    const char *p = tokenizer_decoder_feed(&d, ids[0], &m);
    assert_int_equal(m, 1);
    assert_memory_equal(p, " ", 1);
    for (int i = 1; i < 4; i++) {
        tokenizer_decoder_feed(&d, ids[i], &m);
        assert_int_equal(m, 0); // held: incomplete
    }
    p = tokenizer_decoder_feed(&d, ids[4], &m);
    assert_int_equal(m, 4);
    assert_memory_equal(p, llama, 4);
    // Cut off: the first two bytes, then end of stream.
    tokenizer_decoder_feed(&d, ids[1], &m);
    tokenizer_decoder_feed(&d, ids[2], &m);
    assert_int_equal(m, 0);
    p = tokenizer_decoder_flush(&d, &m);
    assert_int_equal(m, 3);
    assert_memory_equal(p, "\xEF\xBF\xBD", 3);
    // A stray continuation byte is replaced at once.
    p = tokenizer_decoder_feed(&d, ids[2], &m);
    assert_int_equal(m, 3);
    assert_memory_equal(p, "\xEF\xBF\xBD", 3);
    tokenizer_decoder_free(&d);
    free(ids);

    // Byte-level: in Qwen3, U+2003E (after 你好) comes as 3 tokens that cut
    // its 4 bytes 1+2+1.
    tokenizer_free(tok);
    TESTDATA_PATH(dir, "tokenizers/qwen3");
    assert_int_equal(tokenizer_load_hf(dir, &tok, &err), RS_OK);
    const char *s = "\xE4\xBD\xA0\xE5\xA5\xBD\xF0\xA0\x80\xBE";
    assert_int_equal(tokenizer_encode(tok, s, strlen(s), false, true, &ids, &n, &err), RS_OK);
    assert_true(n >= 2);
    tokenizer_decoder_init(&d, tok, 0);
    tok_buf acc = {0};
    int empty = 0;
    for (int64_t i = 0; i < n; i++) {
        p = tokenizer_decoder_feed(&d, ids[i], &m);
        assert_true(valid_utf8(p, m));
        empty += m == 0;
        assert_true(tok_buf_append(&acc, p, m));
    }
    assert_true(empty > 0); // some token ended mid-character
    assert_int_equal(acc.n, strlen(s));
    assert_memory_equal(acc.v, s, acc.n);
    tokenizer_decoder_free(&d);
    free(acc.v);
    free(ids);
    tokenizer_free(tok);
}

// Small tokenizer.json files (the fuzz seeds) exercising the components the
// three real tokenizers do not: Metaspace, Digits, Punctuation, WordPiece,
// BertNormalizer, ByteLevel add_prefix_space, RobertaProcessing, lstrip and
// rstrip added tokens. Expected ids and decodes from HF (tiny.ids).
static void test_tiny_tokenizers(void **state)
{
    (void)state;
    char fdir[2048], path[4200], cur[256] = "";
    fixture_dir(fdir, sizeof fdir);
    snprintf(path, sizeof path, "%s/tiny.ids", fdir);
    size_t n;
    char *all = test_slurp(path, &n);
    assert_non_null(all);
    tokenizer *tok = NULL;
    int total = 0, ok = 0;
    static int32_t want[4096];
    for (char *line = all; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        char *f[5];
        f[0] = line;
        for (int i = 1; i < 5; i++) {
            f[i] = strchr(f[i - 1], '\t');
            assert_non_null(f[i]);
            *f[i]++ = 0;
        }
        if (strcmp(cur, f[0]) != 0) {
            tokenizer_free(tok);
            const char *src = getenv("RIGHTSIZE_SOURCE");
            snprintf(path, sizeof path, "%s/fuzz/corpus/fuzz_tokenizer_json/%s",
                     src && *src ? src : "..", f[0]);
            rs_error err = {0};
            if (tokenizer_load_hf(path, &tok, &err) != RS_OK) fail_msg("%s", err.msg);
            snprintf(cur, sizeof cur, "%s", f[0]);
        }
        char *text;
        size_t tl = unhex(f[1], strlen(f[1]), &text);
        bool good = true;
        for (int special = 0; special < 2; special++) {
            int64_t nw = parse_ids(f[2 + special], strlen(f[2 + special]), want, 4096);
            int32_t *ids;
            int64_t ni;
            rs_error err = {0};
            assert_int_equal(tokenizer_encode(tok, text, tl, special, true, &ids, &ni, &err),
                             RS_OK);
            if (!ids_equal(ids, ni, want, nw)) {
                good = false;
                fprintf(stderr, "  %s add_special=%d \"%s\"\n", f[0], special, text);
                print_ids("want", want, nw);
                print_ids("got ", ids, ni);
            }
            free(ids);
            if (special == 0) {
                char *dec, *expect;
                size_t dl;
                size_t el = unhex(f[4], strlen(f[4]), &expect);
                assert_int_equal(tokenizer_decode(tok, want, nw, TOKENIZER_DECODE_STRIP_LEADING,
                                                  &dec, &dl, &err),
                                 RS_OK);
                // HF's WordPiece decoder also removes spaces before
                // punctuation ("cleanup"); rightsize does not (BERT vocabularies
                // are not used to generate text), so only ids count there.
                bool wordpiece = tokenizer_get_kind(tok) == TOKENIZER_KIND_WORDPIECE;
                if (!wordpiece && (dl != el || memcmp(dec, expect, el) != 0)) {
                    good = false;
                    fprintf(stderr, "  %s decode \"%s\": want \"%s\" got \"%s\"\n", f[0], text,
                            expect, dec);
                }
                free(dec);
                free(expect);
            }
        }
        total++;
        ok += good;
        free(text);
        line = nl + 1;
    }
    tokenizer_free(tok);
    free(all);
    printf("tiny tokenizers  %d/%d\n", ok, total);
    assert_int_equal(ok, total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qwen3),           cmocka_unit_test(test_llama3),
        cmocka_unit_test(test_mistral),         cmocka_unit_test(test_stream_split_char),
        cmocka_unit_test(test_tiny_tokenizers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
