#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok/tok_internal.h"

// Normalizers (NFC, Prepend, Replace, ...) and pre-tokenizers (regex
// splits, Metaspace) as tokenizer.json describes them. A pre-tokenizer turns
// a segment of text into word spans; each word then goes to the model alone.

// True if every char of s is one NFC leaves alone whatever its neighbours:
// NFC-stable, combining class 0 and never the second char of a canonical
// composition (Latin to U+02FF, Greek/Cyrillic, CJK punctuation, kana, CJK
// ideographs, Hangul syllables, fullwidth forms; checked against Python's
// unicodedata by the author). Mixed text with marks takes the full path.
static bool nfc_stable(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = (uint8_t)s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        i += (size_t)tok_utf8_decode(s + i, &cp);
        if (cp <= 0x2FF || (cp >= 0x388 && cp <= 0x482) || (cp >= 0x48A && cp <= 0x52F) ||
            (cp >= 0x3000 && cp <= 0x3029) || (cp >= 0x3030 && cp <= 0x3098) ||
            (cp >= 0x309B && cp <= 0x30FF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
            (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xFF01 && cp <= 0xFFEF))
            continue;
        return false;
    }
    return true;
}

static bool unicode_form(const char *s, size_t n, utf8proc_option_t opt, tok_buf *out)
{
    if (opt == UTF8PROC_COMPOSE && nfc_stable(s, n)) return tok_buf_append(out, s, n);
    // Pure ASCII is unchanged by every normalization form.
    size_t i = 0;
    while (i < n && (uint8_t)s[i] < 0x80)
        i++;
    if (i == n) return tok_buf_append(out, s, n);
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t m =
        utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst, opt | UTF8PROC_STABLE);
    if (m < 0) return false;
    bool ok = tok_buf_append(out, dst, (size_t)m);
    free(dst);
    return ok;
}

static bool is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static bool is_ws(uint32_t c)
{
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return true;
    return utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_ZS;
}

// One normalizer step from in to out.
// moved: set when the step removed chars at the start of the text.
static bool norm_apply(const tok_norm *nm, const char *s, size_t n, tok_buf *out, bool *moved)
{
    out->n = 0;
    switch (nm->kind) {
    case TOK_NORM_NFC:
        return unicode_form(s, n, UTF8PROC_COMPOSE, out);
    case TOK_NORM_NFD:
        return unicode_form(s, n, UTF8PROC_DECOMPOSE, out);
    case TOK_NORM_NFKC:
        return unicode_form(s, n, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, out);
    case TOK_NORM_NFKD:
        return unicode_form(s, n, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, out);
    case TOK_NORM_PREPEND:
        if (n && !tok_buf_append(out, nm->str, nm->str_len)) return false;
        return tok_buf_append(out, s, n);
    case TOK_NORM_REPLACE:
        if (nm->re) {
            // Regex replace: every non-empty match becomes str2.
            pcre2_match_data *md = pcre2_match_data_create_from_pattern(nm->re, NULL);
            if (!md) return false;
            size_t pos = 0, last = 0;
            bool ok = true;
            while (ok && pos <= n) {
                int rc = pcre2_match(nm->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, md, NULL);
                if (rc < 0) break;
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                if (ov[1] == ov[0]) {
                    pos = ov[0] + (ov[0] < n ? (size_t)tok_utf8_len((uint8_t)s[ov[0]]) : 1);
                    continue;
                }
                ok = tok_buf_append(out, s + last, ov[0] - last) &&
                     tok_buf_append(out, nm->str2, nm->str2_len);
                last = pos = ov[1];
            }
            pcre2_match_data_free(md);
            return ok && tok_buf_append(out, s + last, n - last);
        } else {
            size_t last = 0;
            if (nm->str_len == 0) return tok_buf_append(out, s, n);
            for (size_t i = 0; i + nm->str_len <= n;) {
                if (memcmp(s + i, nm->str, nm->str_len) == 0) {
                    if (!tok_buf_append(out, s + last, i - last) ||
                        !tok_buf_append(out, nm->str2, nm->str2_len))
                        return false;
                    i += nm->str_len;
                    last = i;
                } else {
                    i++;
                }
            }
            return tok_buf_append(out, s + last, n - last);
        }
    case TOK_NORM_STRIP: {
        size_t a = 0, b = n;
        while (nm->left && a < b) {
            uint32_t c;
            int l = tok_utf8_decode(s + a, &c);
            if (!is_ws(c) && !utf8proc_category((utf8proc_int32_t)c)) break;
            if (!is_ws(c)) break;
            a += (size_t)l;
        }
        if (a > 0) *moved = true;
        while (nm->right && b > a) {
            size_t k = b - 1;
            while (k > a && ((uint8_t)s[k] & 0xC0) == 0x80)
                k--;
            uint32_t c;
            tok_utf8_decode(s + k, &c);
            if (!is_ws(c)) break;
            b = k;
        }
        return tok_buf_append(out, s + a, b - a);
    }
    case TOK_NORM_LOWERCASE:
    case TOK_NORM_STRIP_ACCENTS:
    case TOK_NORM_BERT: {
        bool lower = nm->kind == TOK_NORM_LOWERCASE || (nm->kind == TOK_NORM_BERT && nm->left);
        bool strip = nm->kind == TOK_NORM_STRIP_ACCENTS || (nm->kind == TOK_NORM_BERT && nm->right);
        tok_buf tmp = {0};
        const char *src = s;
        size_t sn = n;
        if (strip && nm->kind == TOK_NORM_BERT) {
            if (!unicode_form(s, n, UTF8PROC_DECOMPOSE, &tmp)) {
                free(tmp.v);
                return false;
            }
            src = tmp.v;
            sn = tmp.n;
        }
        bool ok = tok_buf_reserve(out, sn);
        for (size_t i = 0; ok && i < sn;) {
            uint32_t c;
            int l = tok_utf8_decode(src + i, &c);
            i += (size_t)l;
            utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
            if (nm->kind == TOK_NORM_BERT && nm->clean_text) {
                if (c == 0 || c == 0xFFFD) continue;
                if (c == '\t' || c == '\n' || c == '\r' || cat == UTF8PROC_CATEGORY_ZS) {
                    ok = tok_buf_append(out, " ", 1);
                    continue;
                }
                if (cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF) continue;
            }
            if (strip && cat == UTF8PROC_CATEGORY_MN) continue;
            if (lower) c = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
            char e[4];
            int el = tok_utf8_encode(c, e);
            bool cjk = nm->kind == TOK_NORM_BERT && nm->chinese && is_cjk(c);
            if (cjk) ok = ok && tok_buf_append(out, " ", 1);
            ok = ok && tok_buf_append(out, e, (size_t)el);
            if (cjk) ok = ok && tok_buf_append(out, " ", 1);
        }
        free(tmp.v);
        return ok;
    }
    }
    return false;
}

bool tok_normalize(tokenizer *t, const char *s, size_t n, tok_buf *out)
{
    t->norm_moved_start = false;
    if (t->n_norms == 0) {
        out->n = 0;
        return tok_buf_append(out, s, n);
    }
    // Ping-pong between out and norm_buf2.
    const char *src = s;
    size_t sn = n;
    tok_buf *bufs[2] = {out, &t->norm_buf2};
    int k = t->n_norms % 2 == 1 ? 0 : 1; // the last step must land in out
    for (int i = 0; i < t->n_norms; i++) {
        tok_buf *dst = bufs[k];
        if (!norm_apply(&t->norms[i], src, sn, dst, &t->norm_moved_start)) return false;
        src = dst->v;
        sn = dst->n;
        k ^= 1;
    }
    return true;
}

static bool spans_reserve(tok_span **v, size_t *cap, size_t need)
{
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    tok_span *p = realloc(*v, c * sizeof *p);
    if (!p) return false;
    *v = p;
    *cap = c;
    return true;
}

#define PUSH_SPAN(a, b)                                                                            \
    do {                                                                                           \
        if (!spans_reserve(&t->spans2, &t->spans2_cap, n_out + 1)) return -1;                      \
        t->spans2[n_out++] = (tok_span){(uint32_t)(a), (uint32_t)(b)};                             \
    } while (0)

// Splits each span by a regex, keeping pieces as the behaviour says.
static int64_t split_spans(tokenizer *t, const tok_pretok *p, const char *text, size_t n_in)
{
    size_t n_out = 0;
    if (!t->md) {
        t->md = pcre2_match_data_create(32, NULL);
        if (!t->md) return -1;
    }
    for (size_t si = 0; si < n_in; si++) {
        uint32_t s0 = t->spans[si].start, s1 = t->spans[si].end;
        const char *subj = text + s0;
        size_t len = s1 - s0, pos = 0, last = 0;
        // Pieces are emitted as (start, end, is_delimiter); merged per behaviour.
        int64_t open_start = -1; // MERGED_WITH_NEXT: a delimiter waiting for its next piece
        bool prev_delim = false; // CONTIGUOUS: the last emitted piece was a delimiter
        while (pos <= len) {
            int rc = pcre2_jit_match(p->re, (PCRE2_SPTR)subj, len, pos, 0, t->md, NULL);
            if (rc == PCRE2_ERROR_JIT_BADOPTION)
                rc =
                    pcre2_match(p->re, (PCRE2_SPTR)subj, len, pos, PCRE2_NO_UTF_CHECK, t->md, NULL);
            size_t m0 = len, m1 = len;
            if (rc >= 0) {
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->md);
                m0 = ov[0];
                m1 = ov[1];
                if (m1 == m0) { // empty match: not a piece, step over one char
                    if (m0 >= len)
                        rc = -1, m0 = m1 = len;
                    else {
                        pos = m0 + (size_t)tok_utf8_len((uint8_t)subj[m0]);
                        continue;
                    }
                }
            }
            // [last, m0) is a gap, [m0, m1) a match.
            for (int part = 0; part < 2; part++) {
                size_t a = part == 0 ? last : m0, b = part == 0 ? m0 : m1;
                if (a >= b) continue;
                bool delim = (part == 1) != p->invert;
                switch (p->behavior) {
                case TOK_SPLIT_ISOLATED:
                    PUSH_SPAN(s0 + a, s0 + b);
                    break;
                case TOK_SPLIT_REMOVED:
                    if (!delim) PUSH_SPAN(s0 + a, s0 + b);
                    break;
                case TOK_SPLIT_MERGED_WITH_PREVIOUS:
                    if (delim && n_out > 0 && t->spans2[n_out - 1].end == s0 + a &&
                        t->spans2[n_out - 1].start >= s0)
                        t->spans2[n_out - 1].end = (uint32_t)(s0 + b);
                    else
                        PUSH_SPAN(s0 + a, s0 + b);
                    break;
                case TOK_SPLIT_MERGED_WITH_NEXT:
                    if (delim) {
                        if (open_start >= 0) PUSH_SPAN(open_start, s0 + a);
                        open_start = s0 + a;
                    } else if (open_start >= 0) {
                        PUSH_SPAN(open_start, s0 + b);
                        open_start = -1;
                    } else {
                        PUSH_SPAN(s0 + a, s0 + b);
                    }
                    break;
                case TOK_SPLIT_CONTIGUOUS:
                    if (delim && prev_delim && n_out > 0 && t->spans2[n_out - 1].end == s0 + a)
                        t->spans2[n_out - 1].end = (uint32_t)(s0 + b);
                    else
                        PUSH_SPAN(s0 + a, s0 + b);
                    prev_delim = delim;
                    break;
                }
            }
            if (rc < 0) break;
            last = pos = m1;
        }
        if (open_start >= 0) PUSH_SPAN(open_start, s1);
    }
    return (int64_t)n_out;
}

int64_t tok_pretokenize(tokenizer *t, tok_buf *text, bool first_segment)
{
    if (!spans_reserve(&t->spans, &t->spans_cap, 1)) return -1;
    size_t n = 1;
    t->spans[0] = (tok_span){0, (uint32_t)text->n};
    for (int i = 0; i < t->n_pretoks; i++) {
        const tok_pretok *p = &t->pretoks[i];
        if (p->kind == TOK_PRETOK_BYTE_PREFIX) {
            // Only ever the first step (the loader checks): one span, the text.
            if (text->n && text->v[0] != ' ') {
                if (!tok_buf_reserve(text, 1)) return -1;
                memmove(text->v + 1, text->v, text->n + 1);
                text->v[0] = ' ';
                text->n++;
            }
            t->spans[0] = (tok_span){0, (uint32_t)text->n};
            continue;
        }
        if (p->kind == TOK_PRETOK_METASPACE) {
            // Rewrite ' ' -> replacement, prepend one, then split before each.
            tok_buf *o = &t->word_buf;
            o->n = 0;
            bool pre =
                p->prepend == 1 || (p->prepend == 2 && first_segment && !t->norm_moved_start);
            if (pre && text->n &&
                !(text->n >= p->replacement_len &&
                  memcmp(text->v, p->replacement, p->replacement_len) == 0))
                if (!tok_buf_append(o, p->replacement, p->replacement_len)) return -1;
            for (size_t k = 0; k < text->n; k++) {
                bool ok = text->v[k] == ' ' ? tok_buf_append(o, p->replacement, p->replacement_len)
                                            : tok_buf_append(o, text->v + k, 1);
                if (!ok) return -1;
            }
            text->n = 0;
            if (!tok_buf_append(text, o->v, o->n)) return -1;
            n = 1;
            t->spans[0] = (tok_span){0, (uint32_t)text->n};
            if (!p->split) continue;
        }
        if (!p->re) continue;
        int64_t m = split_spans(t, p, text->v, n);
        if (m < 0) return -1;
        tok_span *sw = t->spans;
        size_t swc = t->spans_cap;
        t->spans = t->spans2;
        t->spans_cap = t->spans2_cap;
        t->spans2 = sw;
        t->spans2_cap = swc;
        n = (size_t)m;
    }
    return (int64_t)n;
}
