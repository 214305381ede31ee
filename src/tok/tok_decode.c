#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

// Decoding ids to text, one token at a time: a piece may end in the middle
// of a UTF-8 char (byte-level and <0xXX> tokens split chars), so incomplete
// sequences are held until the next token completes them.

void tokenizer_decoder_init(tokenizer_decoder *d, const tokenizer *t, int flags)
{
    memset(d, 0, sizeof *d);
    d->tok = t;
    d->flags = flags;
    d->at_start = true;
}

void tokenizer_decoder_free(tokenizer_decoder *d)
{
    free(d->out);
    d->out = NULL;
    d->cap = 0;
}

static bool reserve(tokenizer_decoder *d, size_t need)
{
    if (need <= d->cap) return true;
    size_t cap = d->cap ? d->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(d->out, cap);
    if (!p) return false;
    d->out = p;
    d->cap = cap;
    return true;
}

// Appends valid UTF-8 from held + bytes, holding a trailing incomplete
// sequence; invalid bytes become U+FFFD.
static size_t emit(tokenizer_decoder *d, const uint8_t *b, size_t n)
{
    size_t total = (size_t)d->n_held + n;
    if (!reserve(d, total * 3 + 4)) return 0;
    uint8_t *in = malloc(total ? total : 1);
    if (!in) return 0;
    memcpy(in, d->held, (size_t)d->n_held);
    memcpy(in + d->n_held, b, n);
    d->n_held = 0;
    size_t o = 0;
    for (size_t i = 0; i < total;) {
        if (in[i] < 0x80) {
            d->out[o++] = (char)in[i++];
            continue;
        }
        int l = tok_utf8_valid_len(in + i, total - i);
        if (l) {
            memcpy(d->out + o, in + i, (size_t)l);
            o += (size_t)l;
            i += (size_t)l;
            continue;
        }
        // Invalid here. A valid prefix cut off by the end is held for the
        // next token; anything else is one U+FFFD per maximal subpart.
        size_t sub = tok_utf8_maximal_subpart(in + i, total - i);
        if (i + sub == total && in[i] >= 0xC2 && in[i] <= 0xF4 &&
            sub < (size_t)tok_utf8_len(in[i])) {
            memcpy(d->held, in + i, sub);
            d->n_held = (int)sub;
            break;
        }
        memcpy(d->out + o, "\xEF\xBF\xBD", 3);
        o += 3;
        i += sub;
    }
    free(in);
    return o;
}

const char *tokenizer_decoder_feed(tokenizer_decoder *d, int32_t id, size_t *len)
{
    *len = 0;
    const tokenizer *t = d->tok;
    if (id < 0 || id >= t->n_vocab || !reserve(d, 1)) return d->out ? d->out : "";
    if ((d->flags & TOKENIZER_DECODE_SKIP_SPECIAL) && tokenizer_is_control(t, id)) return d->out;
    const tok_token *tk = &t->tokens[id];
    const uint8_t *p = (const uint8_t *)tk->piece;
    size_t n = tk->piece_len;
    if (d->at_start && (d->flags & TOKENIZER_DECODE_STRIP_LEADING) && t->strip_leading_space &&
        n > 0 && p[0] == ' ') {
        p++;
        n--;
    }
    if (tk->piece_len) d->at_start = false;
    *len = emit(d, p, n);
    return d->out;
}

const char *tokenizer_decoder_flush(tokenizer_decoder *d, size_t *len)
{
    *len = 0;
    if (!reserve(d, 16)) return "";
    size_t o = 0;
    if (d->n_held) { // an incomplete char at the end is one maximal subpart
        memcpy(d->out + o, "\xEF\xBF\xBD", 3);
        o += 3;
    }
    d->n_held = 0;
    *len = o;
    return d->out;
}

rs_status tokenizer_decode(const tokenizer *t, const int32_t *ids, int64_t n, int flags, char **out,
                           size_t *len, rs_error *err)
{
    *out = NULL;
    *len = 0;
    tokenizer_decoder d;
    tokenizer_decoder_init(&d, t, flags);
    tok_buf b = {0};
    bool ok = tok_buf_reserve(&b, 16);
    for (int64_t i = 0; ok && i < n; i++) {
        size_t m;
        const char *p = tokenizer_decoder_feed(&d, ids[i], &m);
        ok = tok_buf_append(&b, p, m);
    }
    size_t m;
    const char *p = tokenizer_decoder_flush(&d, &m);
    ok = ok && tok_buf_append(&b, p, m);
    tokenizer_decoder_free(&d);
    if (!ok) {
        free(b.v);
        return rs_fail(err, RS_ERR_RUNTIME, "decode: out of memory");
    }
    *out = b.v;
    *len = b.n;
    return RS_OK;
}
