#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok/tok_internal.h"

// Encoding: added tokens are matched in the raw text first (leftmost,
// longest); the text between them goes through the normalizer, then
// "normalized" added tokens are matched in the normalized text, then the
// pre-tokenizer and the model run on what is left; BOS/EOS are added last.

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Letters, numbers and '_': what a single_word added token may not touch.
static bool is_word_cp(uint32_t c)
{
    if (c < 0x80)
        return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_';
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

// The added token that starts at s[pos] (the longest), or NULL. normalized
// picks the table of tokens matched in normalized text.
static const tok_added *match_added(const tokenizer *t, const char *s, size_t n, size_t pos,
                                    bool parse_special, bool normalized)
{
    uint8_t c = (uint8_t)s[pos];
    if (!(normalized ? t->norm_added_first[c] : t->added_first[c])) return NULL;
    for (const int32_t *k = normalized ? t->norm_added_by_byte[c] : t->added_by_byte[c]; *k >= 0;
         k++) {
        const tok_added *a = &t->added[*k];
        if (a->special && !parse_special) continue;
        const char *txt = normalized ? a->norm_text : t->tokens[a->id].text;
        uint32_t len = normalized ? a->norm_len : t->tokens[a->id].text_len;
        if (len > n - pos || memcmp(s + pos, txt, len) != 0) continue;
        if (a->single_word) {
            uint32_t cp;
            if (pos + len < n) {
                tok_utf8_decode(s + pos + len, &cp);
                if (is_word_cp(cp)) continue;
            }
            if (pos > 0) {
                size_t b = pos - 1;
                while (b > 0 && ((uint8_t)s[b] & 0xC0) == 0x80)
                    b--;
                tok_utf8_decode(s + b, &cp);
                if (is_word_cp(cp)) continue;
            }
        }
        return a;
    }
    return NULL;
}

// Splits s at added tokens (raw or normalized ones), calling piece() on the
// text between them and pushing each token's id.
static bool split_added(tokenizer *t, const char *s, size_t n, bool parse_special, bool normalized,
                        bool first,
                        bool (*piece)(tokenizer *, const char *, size_t, bool, bool, tok_ids *),
                        tok_ids *out)
{
    size_t seg = 0;
    for (size_t pos = 0; pos < n;) {
        const tok_added *hit = match_added(t, s, n, pos, parse_special, normalized);
        if (!hit) {
            pos++;
            continue;
        }
        size_t end = pos;
        if (hit->lstrip)
            while (end > seg && is_space(s[end - 1]))
                end--;
        if (!piece(t, s + seg, end - seg, first, parse_special, out) || !tok_ids_push(out, hit->id))
            return false;
        pos += normalized ? hit->norm_len : t->tokens[hit->id].text_len;
        if (hit->rstrip)
            while (pos < n && is_space(s[pos]))
                pos++;
        seg = pos;
        first = false;
    }
    return piece(t, s + seg, n - seg, first, parse_special, out);
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

// Pre-tokenizes normalized text and runs the model on each word.
static bool pretok_model(tokenizer *t, tok_buf *text, bool first, tok_ids *out)
{
    int64_t ns = tok_pretokenize(t, text, first);
    if (ns < 0) return false;
    const char *v = text->v;
    for (int64_t i = 0; i < ns; i++) {
        const tok_span sp = t->spans[i];
        bool ok = t->model == TOK_MODEL_WORDPIECE
                      ? tok_wordpiece_word(t, v + sp.start, sp.end - sp.start, out)
                      : for_each_word(t, v + sp.start, sp.end - sp.start, tok_bpe_word, out);
        if (!ok) return false;
    }
    return true;
}

static bool norm_piece(tokenizer *t, const char *s, size_t n, bool first, bool parse_special,
                       tok_ids *out)
{
    (void)parse_special;
    if (n == 0) return true;
    t->piece_buf.n = 0;
    return tok_buf_append(&t->piece_buf, s, n) && pretok_model(t, &t->piece_buf, first, out);
}

static bool encode_text(tokenizer *t, const char *s, size_t n, bool first, bool parse_special,
                        tok_ids *out)
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
    if (!t->has_norm_added) return pretok_model(t, &t->norm_buf, first, out);
    // Normalized added tokens split the normalized text; each piece is
    // pre-tokenized on its own (from a copy: pre-tokenizing may rewrite it).
    return split_added(t, t->norm_buf.v, t->norm_buf.n, parse_special, true, first, norm_piece,
                       out);
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
    ok = ok && split_added(t, s, n, parse_special, false, true, encode_text, &out);
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
