#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

// Encoding: added tokens are matched in the raw text first (leftmost,
// longest); the text between them goes through the normalizer, the
// pre-tokenizer and the model; BOS/EOS are added last.

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Calls word() on each piece of s cut before every ▁ run (see
// split_at_space), or on all of s.
static bool for_each_word(tokenizer *t, const char *s, size_t n,
                          bool (*word)(tokenizer *, const char *, size_t, tok_ids *), tok_ids *out)
{
    if (!t->split_at_space) return word(t, s, n, out);
    size_t start = 0;
    for (size_t i = 1; i + 3 <= n; i++) {
        if (memcmp(s + i, "\xE2\x96\x81", 3) == 0 &&
            !(i >= 3 && memcmp(s + i - 3, "\xE2\x96\x81", 3) == 0)) {
            if (!word(t, s + start, i - start, out)) return false;
            start = i;
            i += 2;
        }
    }
    return word(t, s + start, n - start, out);
}

static bool encode_text(tokenizer *t, const char *s, size_t n, bool first, tok_ids *out)
{
    if (n == 0) return true;
    if (t->model == TOK_MODEL_SPM_SCORE) {
        // llama.cpp: a space before text that starts the input or follows an
        // added token, then ' ' -> ▁.
        tok_buf *b = &t->norm_buf;
        b->n = 0;
        if (!tok_buf_reserve(b, n * 3 + 3)) return false;
        if (t->add_space_prefix) {
            memcpy(b->v, "\xE2\x96\x81", 3);
            b->n = 3;
        }
        for (size_t i = 0; i < n; i++) {
            if (s[i] == ' ') {
                memcpy(b->v + b->n, "\xE2\x96\x81", 3);
                b->n += 3;
            } else {
                b->v[b->n++] = s[i];
            }
        }
        return for_each_word(t, b->v, b->n, tok_spm_encode, out);
    }
    if (!tok_normalize(t, s, n, &t->norm_buf)) return false;
    int64_t ns = tok_pretokenize(t, &t->norm_buf, first);
    if (ns < 0) return false;
    const char *v = t->norm_buf.v;
    for (int64_t i = 0; i < ns; i++) {
        const tok_span sp = t->spans[i];
        bool ok = t->model == TOK_MODEL_WORDPIECE
                      ? tok_wordpiece_word(t, v + sp.start, sp.end - sp.start, out)
                      : for_each_word(t, v + sp.start, sp.end - sp.start, tok_bpe_word, out);
        if (!ok) return false;
    }
    return true;
}

rs_status tokenizer_encode(tokenizer *t, const char *text, size_t len, bool add_special,
                           bool parse_special, int32_t **ids, int64_t *n_ids, rs_error *err)
{
    *ids = NULL;
    *n_ids = 0;
    if (len > (size_t)UINT32_MAX / 4)
        return rs_fail(err, RS_ERR_INPUT, "tokenize: text of %zu bytes is too long (max %u)", len,
                       UINT32_MAX / 4);
    // Invalid UTF-8 -> U+FFFD (see tokenizer.h).
    const char *s = text;
    size_t n = len;
    for (size_t i = 0; i < len;) {
        if ((uint8_t)text[i] < 0x80) {
            i++;
            continue;
        }
        int l = tok_utf8_valid_len((const uint8_t *)text + i, len - i);
        if (!l) {
            if (!tok_utf8_sanitize(text, len, &t->sanitize_buf))
                return rs_fail(err, RS_ERR_RUNTIME, "tokenize: out of memory");
            s = t->sanitize_buf.v;
            n = t->sanitize_buf.n;
            break;
        }
        i += (size_t)l;
    }

    tok_ids out = {0};
    bool ok = true;
    if (add_special && t->add_bos && t->bos >= 0) ok = tok_ids_push(&out, t->bos);
    size_t seg = 0;
    bool first = true;
    for (size_t pos = 0; ok && pos < n;) {
        uint8_t c = (uint8_t)s[pos];
        const tok_added *hit = NULL;
        if (t->added_first[c]) {
            for (const int32_t *k = t->added_by_byte[c]; *k >= 0; k++) {
                const tok_added *a = &t->added[*k];
                const tok_token *tk = &t->tokens[a->id];
                if (a->special && !parse_special) continue;
                if (tk->text_len <= n - pos && memcmp(s + pos, tk->text, tk->text_len) == 0) {
                    hit = a;
                    break;
                }
            }
        }
        if (!hit) {
            pos++;
            continue;
        }
        size_t end = pos;
        if (hit->lstrip)
            while (end > seg && is_space(s[end - 1]))
                end--;
        ok = encode_text(t, s + seg, end - seg, first, &out) && tok_ids_push(&out, hit->id);
        pos += t->tokens[hit->id].text_len;
        if (hit->rstrip)
            while (pos < n && is_space(s[pos]))
                pos++;
        seg = pos;
        first = false;
    }
    if (ok) ok = encode_text(t, s + seg, n - seg, first, &out);
    if (ok && add_special && t->add_eos && t->eos >= 0) ok = tok_ids_push(&out, t->eos);
    if (!ok) {
        free(out.v);
        return rs_fail(err, RS_ERR_RUNTIME, "tokenize: out of memory");
    }
    if (!out.v) out.v = malloc(sizeof(int32_t)); // a valid pointer even for no ids
    *ids = out.v;
    *n_ids = out.n;
    return RS_OK;
}
