#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tok/tok_internal.h"

// Loading a Hugging Face tokenizer.json (+ tokenizer_config.json and
// generation_config.json when they sit beside it). Every component the file
// names is either implemented or refused with an error: an unknown
// normalizer silently skipped would give wrong ids.

static const char gpt2_regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
// HF's is_punc: ASCII punctuation or a Unicode P* char.
static const char punct_regex[] = "[\\p{P}!-/:-@\\[-`{-~]";

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *get_str(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool get_bool(const cJSON *o, const char *k, bool def)
{
    const cJSON *v = get(o, k);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

// A special token in tokenizer_config.json: "text" or {"content": "text"}.
static const char *token_content(const cJSON *v)
{
    if (cJSON_IsString(v)) return v->valuestring;
    return get_str(v, "content");
}

static bool utf8_str(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        int l = tok_utf8_valid_len((const uint8_t *)s + i, n - i);
        if (!l) return false;
        i += (size_t)l;
    }
    return true;
}

// A copy of a string the normalizer inserts into text; NULL (no error set)
// if it is not UTF-8, since the text must stay valid for PCRE2.
static char *dupn(const char *s, size_t *len)
{
    if (!utf8_str(s)) return NULL;
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    if (len) *len = n;
    return p;
}

// A pattern object: {"String": "..."} or {"Regex": "..."}.
static rs_status pattern_compile(tokenizer *t, const cJSON *pat, const char *where, pcre2_code **re,
                                 rs_error *err)
{
    const char *s = get_str(pat, "Regex");
    bool literal = false;
    if (!s) {
        s = get_str(pat, "String");
        literal = true;
    }
    if (!s)
        return rs_fail(err, RS_ERR_INPUT, "%s: field \"%s.pattern\": neither String nor Regex",
                       t->name, where);
    return tok_compile(t, s, strlen(s), literal, re, err);
}

static rs_status parse_normalizer(tokenizer *t, const cJSON *n, rs_error *err)
{
    if (!n || cJSON_IsNull(n)) return RS_OK;
    const char *type = get_str(n, "type");
    if (!type) return rs_fail(err, RS_ERR_INPUT, "%s: field \"normalizer.type\": missing", t->name);
    tok_norm nm = {0};
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *arr = get(n, "normalizers"), *it;
        cJSON_ArrayForEach(it, arr)
        {
            rs_status st = parse_normalizer(t, it, err);
            if (st) return st;
        }
        return RS_OK;
    } else if (strcmp(type, "NFC") == 0) {
        nm.kind = TOK_NORM_NFC;
    } else if (strcmp(type, "NFD") == 0) {
        nm.kind = TOK_NORM_NFD;
    } else if (strcmp(type, "NFKC") == 0) {
        nm.kind = TOK_NORM_NFKC;
    } else if (strcmp(type, "NFKD") == 0) {
        nm.kind = TOK_NORM_NFKD;
    } else if (strcmp(type, "Lowercase") == 0) {
        nm.kind = TOK_NORM_LOWERCASE;
    } else if (strcmp(type, "StripAccents") == 0) {
        nm.kind = TOK_NORM_STRIP_ACCENTS;
    } else if (strcmp(type, "Strip") == 0) {
        nm.kind = TOK_NORM_STRIP;
        nm.left = get_bool(n, "strip_left", true);
        nm.right = get_bool(n, "strip_right", true);
    } else if (strcmp(type, "Prepend") == 0) {
        const char *p = get_str(n, "prepend");
        if (!p)
            return rs_fail(err, RS_ERR_INPUT, "%s: field \"normalizer.prepend\": missing", t->name);
        nm.kind = TOK_NORM_PREPEND;
        nm.str = dupn(p, &nm.str_len);
    } else if (strcmp(type, "Replace") == 0) {
        const char *content = get_str(n, "content");
        const cJSON *pat = get(n, "pattern");
        if (!content || !pat)
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: field \"normalizer.Replace\": needs pattern and content", t->name);
        nm.kind = TOK_NORM_REPLACE;
        nm.str2 = dupn(content, &nm.str2_len);
        const char *lit = get_str(pat, "String");
        if (lit) {
            nm.str = dupn(lit, &nm.str_len);
        } else {
            rs_status st = pattern_compile(t, pat, "normalizer", &nm.re, err);
            if (st) {
                free(nm.str2);
                return st;
            }
        }
    } else if (strcmp(type, "BertNormalizer") == 0) {
        nm.kind = TOK_NORM_BERT;
        nm.clean_text = get_bool(n, "clean_text", true);
        nm.chinese = get_bool(n, "handle_chinese_chars", true);
        nm.left = get_bool(n, "lowercase", true);
        const cJSON *sa = get(n, "strip_accents");
        nm.right = cJSON_IsBool(sa) ? cJSON_IsTrue(sa) : nm.left; // null: follows lowercase
    } else {
        return rs_fail(err, RS_ERR_INPUT, "%s: field \"normalizer.type\": \"%s\" is not supported",
                       t->name, type);
    }
    if ((nm.kind == TOK_NORM_PREPEND && !nm.str) || (nm.kind == TOK_NORM_REPLACE && !nm.str2)) {
        free(nm.str);
        free(nm.str2);
        pcre2_code_free(nm.re);
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: field \"normalizer\": a %s string is not valid UTF-8", t->name, type);
    }
    return tok_add_norm(t, nm, err);
}

static rs_status split_step(tokenizer *t, const char *re, bool literal, tok_split_behavior b,
                            bool invert, rs_error *err)
{
    tok_pretok pt = {.kind = TOK_PRETOK_SPLIT, .behavior = b, .invert = invert};
    rs_status st = tok_compile(t, re, strlen(re), literal, &pt.re, err);
    if (st) return st;
    return tok_add_pretok(t, pt, err);
}

static bool parse_behavior(const char *s, tok_split_behavior *b)
{
    static const struct {
        const char *name;
        tok_split_behavior b;
    } tab[] = {
        {"Isolated", TOK_SPLIT_ISOLATED},
        {"Removed", TOK_SPLIT_REMOVED},
        {"MergedWithPrevious", TOK_SPLIT_MERGED_WITH_PREVIOUS},
        {"MergedWithNext", TOK_SPLIT_MERGED_WITH_NEXT},
        {"Contiguous", TOK_SPLIT_CONTIGUOUS},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        if (strcmp(s, tab[i].name) == 0) {
            *b = tab[i].b;
            return true;
        }
    }
    return false;
}

static rs_status parse_pretokenizer(tokenizer *t, const cJSON *n, rs_error *err)
{
    if (!n || cJSON_IsNull(n)) return RS_OK;
    const char *type = get_str(n, "type");
    if (!type)
        return rs_fail(err, RS_ERR_INPUT, "%s: field \"pre_tokenizer.type\": missing", t->name);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *it;
        cJSON_ArrayForEach(it, get(n, "pretokenizers"))
        {
            rs_status st = parse_pretokenizer(t, it, err);
            if (st) return st;
        }
        return RS_OK;
    }
    if (strcmp(type, "Split") == 0) {
        tok_split_behavior b;
        const char *bs = get_str(n, "behavior");
        if (!bs || !parse_behavior(bs, &b))
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: field \"pre_tokenizer.behavior\": \"%s\" is not supported", t->name,
                           bs ? bs : "(missing)");
        tok_pretok pt = {
            .kind = TOK_PRETOK_SPLIT, .behavior = b, .invert = get_bool(n, "invert", false)};
        rs_status st = pattern_compile(t, get(n, "pattern"), "pre_tokenizer", &pt.re, err);
        if (st) return st;
        return tok_add_pretok(t, pt, err);
    }
    if (strcmp(type, "ByteLevel") == 0) {
        t->byte_level = true;
        if (get_bool(n, "add_prefix_space", false)) {
            if (t->n_pretoks > 0)
                return rs_fail(err, RS_ERR_INPUT,
                               "%s: pre_tokenizer ByteLevel with add_prefix_space after another "
                               "pre-tokenizer is not supported",
                               t->name);
            rs_status st = tok_add_pretok(t, (tok_pretok){.kind = TOK_PRETOK_BYTE_PREFIX}, err);
            if (st) return st;
        }
        if (get_bool(n, "use_regex", true))
            return split_step(t, gpt2_regex, false, TOK_SPLIT_ISOLATED, false, err);
        return RS_OK;
    }
    if (strcmp(type, "Digits") == 0)
        return split_step(t, get_bool(n, "individual_digits", false) ? "\\p{N}" : "\\p{N}+", false,
                          TOK_SPLIT_ISOLATED, false, err);
    if (strcmp(type, "Punctuation") == 0) {
        tok_split_behavior b = TOK_SPLIT_ISOLATED;
        const char *bs = get_str(n, "behavior");
        if (bs && !parse_behavior(bs, &b))
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: field \"pre_tokenizer.behavior\": \"%s\" is not supported", t->name,
                           bs);
        return split_step(t, punct_regex, false, b, false, err);
    }
    if (strcmp(type, "Whitespace") == 0)
        return split_step(t, "\\w+|[^\\w\\s]+", false, TOK_SPLIT_REMOVED, true, err);
    if (strcmp(type, "WhitespaceSplit") == 0)
        return split_step(t, "\\s+", false, TOK_SPLIT_REMOVED, false, err);
    if (strcmp(type, "BertPreTokenizer") == 0) {
        rs_status st = split_step(t, "\\s+", false, TOK_SPLIT_REMOVED, false, err);
        return st ? st : split_step(t, punct_regex, false, TOK_SPLIT_ISOLATED, false, err);
    }
    if (strcmp(type, "Metaspace") == 0) {
        if (t->n_pretoks > 0)
            return rs_fail(
                err, RS_ERR_INPUT,
                "%s: pre_tokenizer Metaspace after another pre-tokenizer is not supported",
                t->name);
        const char *rep = get_str(n, "replacement");
        tok_pretok pt = {.kind = TOK_PRETOK_METASPACE, .split = get_bool(n, "split", true)};
        pt.replacement = dupn(rep ? rep : "\xE2\x96\x81", &pt.replacement_len);
        const char *scheme = get_str(n, "prepend_scheme");
        if (scheme)
            pt.prepend = strcmp(scheme, "always") == 0 ? 1 : strcmp(scheme, "first") == 0 ? 2 : 0;
        else
            pt.prepend = get_bool(n, "add_prefix_space", true) ? 1 : 0;
        if (!pt.replacement)
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: field \"pre_tokenizer.replacement\": not valid UTF-8", t->name);
        if (pt.split) {
            pt.behavior = TOK_SPLIT_MERGED_WITH_NEXT;
            rs_status st = tok_compile(t, pt.replacement, pt.replacement_len, true, &pt.re, err);
            if (st) {
                free(pt.replacement);
                return st;
            }
        }
        return tok_add_pretok(t, pt, err);
    }
    return rs_fail(err, RS_ERR_INPUT, "%s: field \"pre_tokenizer.type\": \"%s\" is not supported",
                   t->name, type);
}

// The decoder only decides whether a leading space is dropped and whether
// tokens are byte-level; pieces are computed per token.
static void parse_decoder(tokenizer *t, const cJSON *d)
{
    const char *type = get_str(d, "type");
    if (!type) return;
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *it;
        cJSON_ArrayForEach(it, get(d, "decoders")) parse_decoder(t, it);
    } else if (strcmp(type, "ByteLevel") == 0) {
        t->byte_level = true;
    } else if (strcmp(type, "Strip") == 0) {
        const char *c = get_str(d, "content");
        const cJSON *start = get(d, "start");
        if (c && strcmp(c, " ") == 0 && cJSON_IsNumber(start) && start->valuedouble >= 1)
            t->strip_leading_space = true;
    } else if (strcmp(type, "Metaspace") == 0) {
        const char *scheme = get_str(d, "prepend_scheme");
        if (scheme ? strcmp(scheme, "never") != 0 : get_bool(d, "add_prefix_space", true))
            t->strip_leading_space = true;
    }
}

// BOS/EOS added by add_special: TemplateProcessing's "single" template, or
// BertProcessing/RobertaProcessing.
static void parse_post_processor(tokenizer *t, const cJSON *p, bool *have_template)
{
    const char *type = get_str(p, "type");
    if (!type) return;
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *it;
        cJSON_ArrayForEach(it, get(p, "processors")) parse_post_processor(t, it, have_template);
    } else if (strcmp(type, "TemplateProcessing") == 0) {
        *have_template = true;
        const cJSON *single = get(p, "single");
        int n = cJSON_GetArraySize(single);
        t->add_bos = t->add_eos = false;
        for (int i = 0; i < n; i++) {
            const cJSON *sp = get(cJSON_GetArrayItem(single, i), "SpecialToken");
            if (!sp) continue;
            const char *name = get_str(sp, "id");
            const cJSON *ids = get(get(get(p, "special_tokens"), name ? name : ""), "ids");
            const cJSON *id0 = cJSON_GetArrayItem(ids, 0);
            int32_t id = cJSON_IsNumber(id0) ? (int32_t)id0->valuedouble : -1;
            if (id < 0 || id >= t->n_vocab) continue;
            if (i == 0) {
                t->add_bos = true;
                t->bos = id;
            } else if (i == n - 1) {
                t->add_eos = true;
                t->eos = id;
            }
        }
    } else if (strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0) {
        *have_template = true;
        const cJSON *cls = cJSON_GetArrayItem(get(p, "cls"), 1);
        const cJSON *sep = cJSON_GetArrayItem(get(p, "sep"), 1);
        if (cJSON_IsNumber(cls) && cls->valuedouble >= 0 && cls->valuedouble < t->n_vocab) {
            t->bos = (int32_t)cls->valuedouble;
            t->add_bos = true;
        }
        if (cJSON_IsNumber(sep) && sep->valuedouble >= 0 && sep->valuedouble < t->n_vocab) {
            t->eos = (int32_t)sep->valuedouble;
            t->add_eos = true;
        }
    }
}

static rs_status parse_merges(tokenizer *t, const cJSON *merges, rs_error *err)
{
    int n = cJSON_GetArraySize(merges);
    if (tok_pairmap_init(&t->merges, (uint64_t)(n > 0 ? n : 1)) != RS_OK)
        return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", t->name);
    tok_buf cat = {0};
    int rank = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, merges)
    {
        const char *a, *b;
        size_t la, lb;
        if (cJSON_IsString(m)) {
            // "a b": split at the first space (tokens hold no plain spaces).
            a = m->valuestring;
            const char *sp = strchr(a, ' ');
            if (!sp) {
                free(cat.v);
                return rs_fail(err, RS_ERR_INPUT,
                               "%s: field \"model.merges\"[%d]: \"%s\" is not \"a b\"", t->name,
                               rank, a);
            }
            la = (size_t)(sp - a);
            b = sp + 1;
            lb = strlen(b);
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 &&
                   cJSON_IsString(cJSON_GetArrayItem(m, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(m, 1))) {
            a = cJSON_GetArrayItem(m, 0)->valuestring;
            b = cJSON_GetArrayItem(m, 1)->valuestring;
            la = strlen(a);
            lb = strlen(b);
        } else {
            free(cat.v);
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: field \"model.merges\"[%d]: not a string or a pair", t->name, rank);
        }
        int32_t ia = tok_strmap_get(&t->by_text, a, (uint32_t)la);
        int32_t ib = tok_strmap_get(&t->by_text, b, (uint32_t)lb);
        cat.n = 0;
        if (!tok_buf_append(&cat, a, la) || !tok_buf_append(&cat, b, lb)) {
            free(cat.v);
            return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", t->name);
        }
        int32_t im = tok_strmap_get(&t->by_text, cat.v, (uint32_t)cat.n);
        // HF refuses merges whose parts or result are not tokens; they could
        // never apply, so skipping them gives the same ids.
        if (ia >= 0 && ib >= 0 && im >= 0 && !tok_pairmap_put(&t->merges, ia, ib, rank, im)) {
            free(cat.v);
            return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", t->name);
        }
        rank++;
    }
    free(cat.v);
    return RS_OK;
}

static int32_t find_content(const tokenizer *t, const char *s)
{
    return s ? tok_strmap_get(&t->by_text, s, (uint32_t)strlen(s)) : -1;
}

static rs_status load_json(const cJSON *root, const cJSON *config, const cJSON *gen,
                           const char *name, tokenizer **out, rs_error *err)
{
    *out = NULL;
    const cJSON *model = get(root, "model");
    if (!cJSON_IsObject(model))
        return rs_fail(err, RS_ERR_INPUT, "%s: field \"model\": missing", name);
    const char *mtype = get_str(model, "type");
    bool wordpiece = mtype && strcmp(mtype, "WordPiece") == 0;
    if (mtype && strcmp(mtype, "BPE") != 0 && !wordpiece)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: field \"model.type\": \"%s\" is not supported (BPE, WordPiece)", name,
                       mtype);
    const cJSON *vocab = get(model, "vocab");
    if (!cJSON_IsObject(vocab))
        return rs_fail(err, RS_ERR_INPUT, "%s: field \"model.vocab\": not an object", name);
    const cJSON *added = get(root, "added_tokens");

    // The vocabulary size: one past the largest id.
    double max_id = -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab)
    {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= (1 << 24) ||
            it->valuedouble != (double)(int32_t)it->valuedouble)
            return rs_fail(err, RS_ERR_INPUT, "%s: field \"model.vocab\": \"%s\" has a bad id",
                           name, it->string);
        if (it->valuedouble > max_id) max_id = it->valuedouble;
    }
    cJSON_ArrayForEach(it, added)
    {
        const cJSON *id = get(it, "id");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= (1 << 24) ||
            !get_str(it, "content"))
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: field \"added_tokens\": an entry lacks id or content", name);
        if (id->valuedouble > max_id) max_id = id->valuedouble;
    }
    tokenizer *t;
    rs_status st = tok_alloc(name, (int32_t)max_id + 1, &t, err);
    if (st) return st;
    t->kind = wordpiece ? TOKENIZER_KIND_WORDPIECE : TOKENIZER_KIND_BPE;
    t->model = wordpiece ? TOK_MODEL_WORDPIECE : TOK_MODEL_BPE;
    cJSON_ArrayForEach(it, vocab)
    {
        st = tok_set_token(t, (int32_t)it->valuedouble, it->string, strlen(it->string), 0.0f,
                           TOKENIZER_TOKEN_NORMAL, err);
        if (st) goto fail;
    }
    cJSON_ArrayForEach(it, added)
    {
        int32_t id = (int32_t)get(it, "id")->valuedouble;
        const char *content = get_str(it, "content");
        bool special = get_bool(it, "special", false);
        st = tok_set_token(t, id, content, strlen(content), 0.0f,
                           special ? TOKENIZER_TOKEN_CONTROL : TOKENIZER_TOKEN_USER_DEFINED, err);
        if (!st)
            st = tok_add_added(t, id, special, get_bool(it, "lstrip", false),
                               get_bool(it, "rstrip", false), err);
        if (!st)
            tok_added_flags(t, get_bool(it, "single_word", false),
                            get_bool(it, "normalized", false));
        if (st) goto fail;
    }

    t->byte_fallback = get_bool(model, "byte_fallback", false);
    t->ignore_merges = get_bool(model, "ignore_merges", false);
    t->fuse_unk = get_bool(model, "fuse_unk", false);
    const char *csp = get_str(model, "continuing_subword_prefix");
    const char *eow = get_str(model, "end_of_word_suffix");
    if (!wordpiece && ((csp && *csp) || (eow && *eow))) {
        st = rs_fail(err, RS_ERR_INPUT,
                     "%s: field \"model.continuing_subword_prefix\"/\"end_of_word_suffix\": "
                     "not supported for BPE",
                     name);
        goto fail;
    }
    if ((st = parse_normalizer(t, get(root, "normalizer"), err))) goto fail;
    if ((st = parse_pretokenizer(t, get(root, "pre_tokenizer"), err))) goto fail;
    parse_decoder(t, get(root, "decoder"));
    if (wordpiece) {
        const char *pfx = csp ? csp : "##";
        t->wp_prefix = dupn(pfx, &t->wp_prefix_len);
        const cJSON *mx = get(model, "max_input_chars_per_word");
        t->wp_max_chars = cJSON_IsNumber(mx) ? (int32_t)mx->valuedouble : 100;
        t->strip_leading_space = true;
        if (!t->wp_prefix) {
            st = rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", name);
            goto fail;
        }
    }
    if ((st = tok_finish(t, err))) goto fail;
    t->unk_id = find_content(t, get_str(model, "unk_token"));
    if (!wordpiece && (st = parse_merges(t, get(model, "merges"), err))) goto fail;

    bool have_template = false;
    parse_post_processor(t, get(root, "post_processor"), &have_template);
    if (config) {
        int32_t id;
        if ((id = find_content(t, token_content(get(config, "bos_token")))) >= 0) t->bos = id;
        if ((id = find_content(t, token_content(get(config, "eos_token")))) >= 0) t->eos = id;
        if ((id = find_content(t, token_content(get(config, "pad_token")))) >= 0) t->pad = id;
        if ((id = find_content(t, token_content(get(config, "unk_token")))) >= 0 && t->unk_id < 0)
            t->unk_id = id;
        if (!have_template) {
            t->add_bos = get_bool(config, "add_bos_token", false);
            t->add_eos = get_bool(config, "add_eos_token", false);
        }
    }
    if (gen) {
        const cJSON *e = get(gen, "eos_token_id");
        if (cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble < t->n_vocab) {
            t->eog[(int32_t)e->valuedouble] = 1;
            if (t->eos < 0) t->eos = (int32_t)e->valuedouble;
        }
        cJSON_ArrayForEach(it, (cJSON_IsArray(e) ? e : NULL))
        {
            if (cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble < t->n_vocab)
                t->eog[(int32_t)it->valuedouble] = 1;
        }
    }
    tok_finish_specials(t);
    *out = t;
    return RS_OK;
fail:
    tokenizer_free(t);
    return st;
}

static cJSON *parse_or_null(const char *s, size_t n)
{
    return s ? cJSON_ParseWithLength(s, n) : NULL;
}

rs_status tokenizer_load_hf_json(const char *json, size_t json_len, const char *config_json,
                                 size_t config_len, const char *name, tokenizer **out,
                                 rs_error *err)
{
    *out = NULL;
    cJSON *root = cJSON_ParseWithLength(json, json_len);
    if (!root) {
        const char *e = cJSON_GetErrorPtr();
        size_t off = e && e >= json && e <= json + json_len ? (size_t)(e - json) : 0;
        return rs_fail(err, RS_ERR_INPUT, "%s: not valid JSON (near byte %zu)", name, off);
    }
    cJSON *config = parse_or_null(config_json, config_len);
    rs_status st = load_json(root, config, NULL, name, out, err);
    cJSON_Delete(root);
    cJSON_Delete(config);
    return st;
}

static char *read_file(const char *path, size_t *len, rs_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        rs_fail(err, RS_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
                return NULL;
            }
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        rs_fail(err, RS_ERR_RUNTIME, "%s: read error", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

rs_status tokenizer_load_hf(const char *path, tokenizer **out, rs_error *err)
{
    *out = NULL;
    char dir[4096], file[4200], side[4200];
    struct stat st_;
    if (stat(path, &st_) != 0) return rs_fail(err, RS_ERR_INPUT, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st_.st_mode)) {
        snprintf(dir, sizeof dir, "%s", path);
        snprintf(file, sizeof file, "%s/tokenizer.json", path);
    } else {
        snprintf(file, sizeof file, "%s", path);
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(dir, sizeof dir, ".");
    }
    size_t n;
    char *json = read_file(file, &n, err);
    if (!json) return err ? err->status : RS_ERR_INPUT;
    cJSON *root = cJSON_ParseWithLength(json, n);
    free(json);
    if (!root) return rs_fail(err, RS_ERR_INPUT, "%s: not valid JSON", file);
    cJSON *aux[2] = {NULL, NULL};
    const char *names[2] = {"tokenizer_config.json", "generation_config.json"};
    for (int i = 0; i < 2; i++) {
        snprintf(side, sizeof side, "%s/%s", dir, names[i]);
        if (stat(side, &st_) != 0) continue;
        char *s = read_file(side, &n, err);
        if (!s) {
            cJSON_Delete(root);
            cJSON_Delete(aux[0]);
            return err ? err->status : RS_ERR_INPUT;
        }
        aux[i] = cJSON_ParseWithLength(s, n);
        free(s);
        if (!aux[i]) {
            cJSON_Delete(root);
            cJSON_Delete(aux[0]);
            return rs_fail(err, RS_ERR_INPUT, "%s: not valid JSON", side);
        }
    }
    rs_status st = load_json(root, aux[0], aux[1], file, out, err);
    cJSON_Delete(root);
    cJSON_Delete(aux[0]);
    cJSON_Delete(aux[1]);
    return st;
}
