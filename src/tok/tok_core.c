#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

// Building a tokenizer (shared by the tokenizer.json and GGUF loaders),
// freeing it, and the small accessors of tokenizer.h.

rs_status tok_alloc(const char *name, int32_t n_vocab, tokenizer **out, rs_error *err)
{
    *out = NULL;
    if (n_vocab <= 0 || n_vocab > (1 << 24))
        return rs_fail(err, RS_ERR_INPUT, "%s: vocabulary size %d is out of range [1, 2^24]", name,
                       n_vocab);
    tokenizer *t = calloc(1, sizeof *t);
    if (!t) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", name);
    t->name = strdup(name);
    t->n_vocab = n_vocab;
    t->tokens = calloc((size_t)n_vocab, sizeof *t->tokens);
    t->eog = calloc((size_t)n_vocab, 1);
    if (!t->name || !t->tokens || !t->eog) {
        tokenizer_free(t);
        return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", name);
    }
    t->bos = t->eos = t->eot = t->pad = t->unk_id = -1;
    for (int i = 0; i < 256; i++)
        t->byte_token[i] = -1;
    *out = t;
    return RS_OK;
}

rs_status tok_set_token(tokenizer *t, int32_t id, const char *text, size_t len, float score,
                        uint8_t type, rs_error *err)
{
    if (id < 0 || id >= t->n_vocab)
        return rs_fail(err, RS_ERR_INPUT, "%s: token id %d is outside the vocabulary [0, %d)",
                       t->name, id, t->n_vocab);
    if (len > (1u << 20))
        return rs_fail(err, RS_ERR_INPUT, "%s: token %d is %zu bytes long", t->name, id, len);
    tok_token *tk = &t->tokens[id];
    free(tk->text);
    if (tk->piece != tk->text) free(tk->piece);
    tk->piece = NULL;
    tk->text = malloc(len + 1);
    if (!tk->text) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", t->name);
    memcpy(tk->text, text, len);
    tk->text[len] = 0;
    tk->text_len = (uint32_t)len;
    tk->score = score;
    tk->type = type;
    return RS_OK;
}

rs_status tok_add_added(tokenizer *t, int32_t id, bool special, bool lstrip, bool rstrip,
                        rs_error *err)
{
    if (id < 0 || id >= t->n_vocab)
        return rs_fail(err, RS_ERR_INPUT, "%s: added token id %d is outside the vocabulary",
                       t->name, id);
    tok_added *a = realloc(t->added, (size_t)(t->n_added + 1) * sizeof *a);
    if (!a) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", t->name);
    t->added = a;
    a[t->n_added++] = (tok_added){.id = id, .special = special, .lstrip = lstrip, .rstrip = rstrip};
    return RS_OK;
}

void tok_added_flags(tokenizer *t, bool single_word, bool normalized)
{
    if (t->n_added > 0) {
        t->added[t->n_added - 1].single_word = single_word;
        t->added[t->n_added - 1].normalized = normalized;
    }
}

rs_status tok_compile(tokenizer *t, const char *pattern, size_t len, bool literal, pcre2_code **out,
                      rs_error *err)
{
    int ec;
    PCRE2_SIZE off;
    // The pattern comes from a file: PCRE2 checks its UTF-8 (matching skips
    // the check, on text already repaired).
    uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &ec, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return rs_fail(err, RS_ERR_INPUT, "%s: pre-tokenizer regex: %s at offset %zu", t->name,
                       (const char *)msg, (size_t)off);
    }
    // JIT makes the split several times faster; without it (no JIT on this
    // CPU) the interpreter gives the same matches.
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    *out = re;
    return RS_OK;
}

// "<0xAB>" -> 0xAB, else -1.
static int byte_token_value(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

rs_status tok_add_norm(tokenizer *t, tok_norm nm, rs_error *err)
{
    tok_norm *p = realloc(t->norms, (size_t)(t->n_norms + 1) * sizeof *p);
    if (!p) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", t->name);
    t->norms = p;
    p[t->n_norms++] = nm;
    return RS_OK;
}

rs_status tok_add_pretok(tokenizer *t, tok_pretok pt, rs_error *err)
{
    tok_pretok *p = realloc(t->pretoks, (size_t)(t->n_pretoks + 1) * sizeof *p);
    if (!p) {
        pcre2_code_free(pt.re);
        free(pt.replacement);
        return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", t->name);
    }
    t->pretoks = p;
    p[t->n_pretoks++] = pt;
    return RS_OK;
}

void tok_piece_for(tokenizer *t, tok_token *tk)
{
    if (tk->piece && tk->piece != tk->text) free(tk->piece);
    tk->piece = tk->text;
    tk->piece_len = tk->text_len;
    bool plain = tk->type == TOKENIZER_TOKEN_NORMAL || tk->type == TOKENIZER_TOKEN_BYTE ||
                 tk->type == TOKENIZER_TOKEN_UNUSED;
    if (!plain) return;
    char *p = malloc(tk->text_len + 2);
    if (!p) return; // keep the text: a wrong piece is better than a crash, and OOM here is moot
    size_t n = 0;
    if (t->model == TOK_MODEL_WORDPIECE && !t->add_space_prefix) {
        // HF WordPiece decoding: "##x" continues a word, other tokens start
        // one after a space (the first space is stripped when decoding).
        if (t->wp_prefix_len && tk->text_len >= t->wp_prefix_len &&
            memcmp(tk->text, t->wp_prefix, t->wp_prefix_len) == 0) {
            n = tk->text_len - t->wp_prefix_len;
            memcpy(p, tk->text + t->wp_prefix_len, n);
        } else {
            p[0] = ' ';
            memcpy(p + 1, tk->text, tk->text_len);
            n = tk->text_len + 1;
        }
    } else if (t->byte_level) {
        for (uint32_t i = 0; i < tk->text_len;) {
            uint32_t cp;
            int l = tok_utf8_valid_len((const uint8_t *)tk->text + i, tk->text_len - i);
            int b = -1;
            if (l) {
                tok_utf8_decode(tk->text + i, &cp);
                b = tok_cp_to_byte(cp);
            }
            if (b < 0) { // not a byte-level string: HF's decoder keeps the raw text
                free(p);
                return;
            }
            p[n++] = (char)b;
            i += (uint32_t)l;
        }
    } else {
        int bv = tk->type == TOKENIZER_TOKEN_BYTE || t->byte_fallback
                     ? byte_token_value(tk->text, tk->text_len)
                     : -1;
        if (bv >= 0) {
            p[n++] = (char)bv;
        } else {
            for (uint32_t i = 0; i < tk->text_len;) {
                if (i + 3 <= tk->text_len && memcmp(tk->text + i, "\xE2\x96\x81", 3) == 0) {
                    p[n++] = ' ';
                    i += 3;
                } else {
                    p[n++] = tk->text[i++];
                }
            }
        }
    }
    p[n] = 0;
    tk->piece = p;
    tk->piece_len = (uint32_t)n;
}

static int added_cmp_len_desc(const void *a, const void *b, void *ctx)
{
    const tokenizer *t = ctx;
    const tok_added *x = &t->added[*(const int32_t *)a], *y = &t->added[*(const int32_t *)b];
    uint32_t lx = x->normalized ? x->norm_len : t->tokens[x->id].text_len;
    uint32_t ly = y->normalized ? y->norm_len : t->tokens[y->id].text_len;
    if (lx != ly) return lx > ly ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

// Text of tokens that end a turn in the vocabularies we know; the end-of-turn
// id comes from the file where the file names one (tokenizer.ggml.eot_token_id).
static const char *const eog_texts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "<|end_of_text|>",
    ("<\xEF\xBD\x9C"
     "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"), // DeepSeek's <｜end▁of▁sentence｜>
    "<|return|>",
    "<|call|>",
};

static bool utf8_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        int l = tok_utf8_valid_len((const uint8_t *)s + i, n - i);
        if (!l) return false;
        i += (size_t)l;
    }
    return true;
}

rs_status tok_finish(tokenizer *t, rs_error *err)
{
    for (int32_t i = 0; i < t->n_vocab; i++) {
        if (!t->tokens[i].text) {
            // Holes in a tokenizer.json vocabulary: an empty unused token.
            rs_status st = tok_set_token(t, i, "", 0, 0.0f, TOKENIZER_TOKEN_UNUSED, err);
            if (st) return st;
        }
    }
    if (tok_strmap_init(&t->by_text, (uint64_t)t->n_vocab) != RS_OK)
        return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", t->name);
    // Inserted from the last id down with first-insert-wins: a text held by
    // two ids maps to the later one, as llama.cpp's token_to_id does.
    for (int32_t i = t->n_vocab - 1; i >= 0; i--) {
        tok_token *tk = &t->tokens[i];
        if (tk->type == TOKENIZER_TOKEN_UNUSED && tk->text_len == 0) continue;
        if (!tok_strmap_put(&t->by_text, tk->text, tk->text_len, i))
            return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", t->name);
    }
    for (int b = 0; b < 256; b++) {
        char s[8];
        size_t n;
        if (t->byte_level) {
            n = (size_t)tok_utf8_encode(tok_byte_to_cp((uint8_t)b), s);
        } else {
            snprintf(s, sizeof s, "<0x%02X>", b);
            n = 6;
        }
        t->byte_token[b] = tok_strmap_get(&t->by_text, s, (uint32_t)n);
    }
    for (int32_t i = 0; i < t->n_vocab; i++) {
        tok_token *tk = &t->tokens[i];
        if (!t->byte_level && t->byte_fallback && tk->type == TOKENIZER_TOKEN_NORMAL &&
            byte_token_value(tk->text, tk->text_len) >= 0)
            tk->type = TOKENIZER_TOKEN_BYTE;
        tok_piece_for(t, tk);
    }

    // Can ▁-style text be cut before each ▁ run? Only if no token (normal or
    // byte) has a ▁ after another char.
    t->split_at_space = !t->byte_level;
    for (int32_t i = 0; i < t->n_vocab && t->split_at_space; i++) {
        const tok_token *tk = &t->tokens[i];
        if (tk->type != TOKENIZER_TOKEN_NORMAL && tk->type != TOKENIZER_TOKEN_BYTE &&
            tk->type != TOKENIZER_TOKEN_UNUSED)
            continue;
        for (uint32_t k = 1; k + 3 <= tk->text_len; k++) {
            if (memcmp(tk->text + k, "\xE2\x96\x81", 3) == 0 &&
                !(k >= 3 && memcmp(tk->text + k - 3, "\xE2\x96\x81", 3) == 0)) {
                t->split_at_space = false;
                break;
            }
        }
    }

    // Added tokens: from GGUF token types where the loader gave none.
    if (!t->added) {
        for (int32_t i = 0; i < t->n_vocab; i++) {
            uint8_t ty = t->tokens[i].type;
            if (t->tokens[i].text_len == 0) continue;
            if (ty == TOKENIZER_TOKEN_CONTROL || ty == TOKENIZER_TOKEN_UNKNOWN ||
                ty == TOKENIZER_TOKEN_USER_DEFINED) {
                rs_status st =
                    tok_add_added(t, i, ty != TOKENIZER_TOKEN_USER_DEFINED, false, false, err);
                if (st) return st;
            }
        }
    }
    // A normalized added token is matched after the normalizer, as its
    // normalized content; without a normalizer that is the raw match.
    for (int i = 0; i < t->n_added; i++) {
        tok_added *a = &t->added[i];
        // Without a normalizer (or with content that is not UTF-8) the match
        // is the raw one.
        if (a->normalized &&
            (t->n_norms == 0 || !utf8_ok(t->tokens[a->id].text, t->tokens[a->id].text_len)))
            a->normalized = false;
        if (!a->normalized) continue;
        const tok_token *tk = &t->tokens[a->id];
        tok_buf nb = {0};
        if (!tok_normalize(t, tk->text, tk->text_len, &nb) || nb.n > UINT32_MAX) {
            free(nb.v);
            return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", t->name);
        }
        a->norm_text = nb.v ? nb.v : calloc(1, 1);
        a->norm_len = (uint32_t)nb.n;
        t->has_norm_added = true;
        if (!a->norm_text) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", t->name);
        // HF decodes such a token from its normalized content ("▁<t>" -> " <t>").
        tok_token tmp = {
            .text = a->norm_text, .text_len = a->norm_len, .type = TOKENIZER_TOKEN_NORMAL};
        tok_piece_for(t, &tmp);
        char *piece = tmp.piece;
        if (piece == tmp.text) {
            piece = malloc(a->norm_len + 1);
            if (!piece) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", t->name);
            memcpy(piece, a->norm_text, a->norm_len + 1);
        }
        tok_token *real = &t->tokens[a->id];
        if (real->piece != real->text) free(real->piece);
        real->piece = piece;
        real->piece_len = tmp.piece_len;
    }
    for (int pass = 0; pass < 2; pass++) {
        int32_t **table = pass ? t->norm_added_by_byte : t->added_by_byte;
        bool *first = pass ? t->norm_added_first : t->added_first;
        int count[256] = {0};
        for (int i = 0; i < t->n_added; i++) {
            const tok_added *a = &t->added[i];
            const char *txt = a->normalized ? a->norm_text : t->tokens[a->id].text;
            uint32_t len = a->normalized ? a->norm_len : t->tokens[a->id].text_len;
            if (len && a->normalized == (pass == 1)) count[(uint8_t)txt[0]]++;
        }
        for (int b = 0; b < 256; b++) {
            if (!count[b]) continue;
            table[b] = malloc((size_t)(count[b] + 1) * sizeof(int32_t));
            if (!table[b]) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", t->name);
            first[b] = true;
            int k = 0;
            for (int i = 0; i < t->n_added; i++) {
                const tok_added *a = &t->added[i];
                const char *txt = a->normalized ? a->norm_text : t->tokens[a->id].text;
                uint32_t len = a->normalized ? a->norm_len : t->tokens[a->id].text_len;
                if (len && a->normalized == (pass == 1) && (uint8_t)txt[0] == b) table[b][k++] = i;
            }
            qsort_r(table[b], (size_t)k, sizeof(int32_t), added_cmp_len_desc, t);
            table[b][k] = -1;
        }
    }
    return RS_OK;
}

void tok_finish_specials(tokenizer *t)
{
    // End of generation: eos, eot and the end-of-turn control tokens.
    if (t->eot < 0) {
        for (size_t k = 0; k < sizeof eog_texts / sizeof eog_texts[0] && t->eot < 0; k++) {
            int32_t id = tok_strmap_get(&t->by_text, eog_texts[k], (uint32_t)strlen(eog_texts[k]));
            if (id >= 0 && t->tokens[id].type != TOKENIZER_TOKEN_NORMAL &&
                strcmp(eog_texts[k], "<|endoftext|>") != 0 &&
                strcmp(eog_texts[k], "<|end_of_text|>") != 0)
                t->eot = id;
        }
    }
    for (size_t k = 0; k < sizeof eog_texts / sizeof eog_texts[0]; k++) {
        int32_t id = tok_strmap_get(&t->by_text, eog_texts[k], (uint32_t)strlen(eog_texts[k]));
        if (id >= 0 && t->tokens[id].type == TOKENIZER_TOKEN_CONTROL) t->eog[id] = 1;
    }
    if (t->eos >= 0) t->eog[t->eos] = 1;
    if (t->eot >= 0) t->eog[t->eot] = 1;
}

void tok_cache_clear(tokenizer *t)
{
    if (!t->cache) return;
    for (uint64_t i = 0; i < t->cache_cap; i++) {
        free(t->cache[i].ids); // the word lives in the same block
        t->cache[i] = (tok_cache_entry){0};
    }
    t->cache_n = 0;
}

void tokenizer_free(tokenizer *t)
{
    if (!t) return;
    if (t->tokens) {
        for (int32_t i = 0; i < t->n_vocab; i++) {
            if (t->tokens[i].piece != t->tokens[i].text) free(t->tokens[i].piece);
            free(t->tokens[i].text);
        }
    }
    free(t->tokens);
    tok_strmap_free(&t->by_text);
    tok_pairmap_free(&t->merges);
    for (int i = 0; i < t->n_norms; i++) {
        free(t->norms[i].str);
        free(t->norms[i].str2);
        pcre2_code_free(t->norms[i].re);
    }
    free(t->norms);
    for (int i = 0; i < t->n_pretoks; i++) {
        pcre2_code_free(t->pretoks[i].re);
        free(t->pretoks[i].replacement);
    }
    free(t->pretoks);
    for (int i = 0; i < t->n_added; i++)
        free(t->added[i].norm_text);
    free(t->added);
    for (int b = 0; b < 256; b++) {
        free(t->added_by_byte[b]);
        free(t->norm_added_by_byte[b]);
    }
    free(t->eog);
    free(t->wp_prefix);
    free(t->norm_buf.v);
    free(t->norm_buf2.v);
    free(t->sanitize_buf.v);
    free(t->word_buf.v);
    free(t->piece_buf.v);
    free(t->spans);
    free(t->spans2);
    pcre2_match_data_free(t->md);
    tok_bpe_scratch_free(t->bpe_scratch);
    tok_cache_clear(t);
    free(t->cache);
    free(t->name);
    free(t);
}

tokenizer_kind tokenizer_get_kind(const tokenizer *t)
{
    return t->kind;
}
int32_t tokenizer_vocab_size(const tokenizer *t)
{
    return t->n_vocab;
}
int32_t tokenizer_bos(const tokenizer *t)
{
    return t->bos;
}
int32_t tokenizer_eos(const tokenizer *t)
{
    return t->eos;
}
int32_t tokenizer_eot(const tokenizer *t)
{
    return t->eot;
}
int32_t tokenizer_pad(const tokenizer *t)
{
    return t->pad;
}
int32_t tokenizer_unk(const tokenizer *t)
{
    return t->unk_id;
}
bool tokenizer_add_bos(const tokenizer *t)
{
    return t->add_bos && t->bos >= 0;
}
bool tokenizer_add_eos(const tokenizer *t)
{
    return t->add_eos && t->eos >= 0;
}

bool tokenizer_is_eog(const tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab && t->eog[id];
}

bool tokenizer_is_control(const tokenizer *t, int32_t id)
{
    if (id < 0 || id >= t->n_vocab) return false;
    uint8_t ty = t->tokens[id].type;
    return ty == TOKENIZER_TOKEN_CONTROL || ty == TOKENIZER_TOKEN_UNKNOWN ||
           ty == TOKENIZER_TOKEN_UNUSED;
}

tokenizer_token_type tokenizer_token_type_of(const tokenizer *t, int32_t id)
{
    if (id < 0 || id >= t->n_vocab) return TOKENIZER_TOKEN_UNUSED;
    return (tokenizer_token_type)t->tokens[id].type;
}

int32_t tokenizer_find(const tokenizer *t, const char *text, size_t len)
{
    if (len > UINT32_MAX) return -1;
    return tok_strmap_get(&t->by_text, text, (uint32_t)len);
}

const char *tokenizer_token_piece(const tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || id >= t->n_vocab) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->tokens[id].piece_len;
    return t->tokens[id].piece;
}

const char *tokenizer_token_text(const tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || id >= t->n_vocab) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->tokens[id].text_len;
    return t->tokens[id].text;
}
