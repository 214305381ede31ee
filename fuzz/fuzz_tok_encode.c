// Fuzzes encode and decode of arbitrary bytes (invalid UTF-8 included) with
// two tiny tokenizers: byte-level BPE and ▁-style BPE with byte fallback.
// The first input byte picks the tokenizer and the flags. Checks: no crash,
// no leak, decode output is valid UTF-8, and byte-level round trips the
// (U+FFFD-repaired) input exactly.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"
#include "tok/tokenizer.h"
#include "tok_tiny.h"

static tokenizer *toks[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char *j[2] = {tiny_byte_level_json(), tiny_spm_json()};
    for (int i = 0; i < 2; i++) {
        rs_error err = {0};
        if (!j[i] || tokenizer_load_hf_json(j[i], strlen(j[i]), NULL, 0, "tiny", &toks[i], &err))
            abort();
        free(j[i]);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    uint8_t sel = data[0];
    tokenizer *t = toks[sel & 1];
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    int32_t *ids;
    int64_t nid;
    rs_error err = {0};
    if (tokenizer_encode(t, text, n, (sel & 2) != 0, (sel & 4) != 0, &ids, &nid, &err)) abort();
    for (int64_t i = 0; i < nid; i++)
        if (ids[i] < 0 || ids[i] >= tokenizer_vocab_size(t)) abort();
    char *out;
    size_t ol;
    if (tokenizer_decode(t, ids, nid, TOKENIZER_DECODE_STRIP_LEADING, &out, &ol, &err)) abort();
    for (size_t i = 0; i < ol;) {
        int l = tok_utf8_valid_len((const uint8_t *)out + i, ol - i);
        if (!l) abort();
        i += (size_t)l;
    }
    if ((sel & 1) == 0 && (sel & 2) == 0) {
        // Byte-level keeps every byte: decode(encode(x)) == repaired x, except
        // that NFC may recompose.
        tok_buf fixed = {0};
        if (!tok_utf8_sanitize(text, n, &fixed)) abort();
        bool ascii = true;
        for (size_t i = 0; i < n; i++)
            ascii = ascii && (uint8_t)text[i] < 0x80 && !memchr(text, '<', n);
        if (ascii && (fixed.n != ol || memcmp(fixed.v, out, ol) != 0)) abort();
        free(fixed.v);
    }
    free(out);
    free(ids);
    return 0;
}
