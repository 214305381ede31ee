#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

// Loading a tokenizer from GGUF metadata (tokenizer.ggml.*), as llama.cpp
// reads it. GGUF stores no pre-tokenizer description, only a name
// (tokenizer.ggml.pre); the table below maps each name to the regexes of
// the model's tokenizer.json, applied in order, each splitting the pieces
// of the previous one (HF "Split ... Isolated"). The lists follow
// llama.cpp's llama-vocab.cpp; where llama.cpp rewrote a regex for its own
// engine (case-insensitive groups), the original HF regex is used, since
// PCRE2 runs it as written.

#define GPT2_NO_WS "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define LLAMA3_RE                                                                                  \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "                     \
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_RE                                                                                   \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "                          \
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
// Han, CJK extension and Hangul blocks as DeepSeek's tokenizer.json lists them.
#define DEEPSEEK_CJK "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"
// DeepSeek LLM's letter class: the cased letters (Lu, Ll, Lt) of its
// Unicode version, as ranges.
#define DEEPSEEK_LETTERS                                                                           \
    "\\x{41}-\\x{5A}\\x{61}-\\x{7A}\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}"          \
    "\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}-"                \
    "\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}"          \
    "\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-"               \
    "\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-"                 \
    "\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-"                 \
    "\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-"                 \
    "\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-"         \
    "\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}"                  \
    "\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}"                 \
    "\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}"          \
    "\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}"                  \
    "\\x{2145}-\\x{2149}\\x{214E}\\x{2183}-\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-"                 \
    "\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}-\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-"                 \
    "\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-"                 \
    "\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-"                 \
    "\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-"          \
    "\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}"                    \
    "\\x{1E900}-\\x{1E943}"

typedef struct pre_entry {
    const char *names; // '|'-separated tokenizer.ggml.pre values
    const char *regex[6];
    bool ignore_merges;
    bool add_bos; // llama.cpp's default for this family when the file has no add_bos_token
} pre_entry;

static const pre_entry pre_table[] = {
    {"llama3|llama-v3|llama-bpe|falcon3|falcon-h1|dbrx|smaug-bpe|chatglm-bpe|pixtral",
     {LLAMA3_RE},
     true,
     true},
    {"qwen2|stablelm2|hunyuan|deepseek-r1-qwen|megrez|grok-2", {QWEN2_RE}, false, false},
    {"deepseek-llm",
     {"[\\r\\n]", "\\s?[" DEEPSEEK_LETTERS "]+",
      "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
      "\\s+$", DEEPSEEK_CJK, "\\p{N}+"},
     false,
     false},
    {"deepseek-coder",
     {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", DEEPSEEK_CJK, "\\p{N}"},
     false,
     false},
    {"deepseek-v3|hunyuan-dense",
     {"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
      "[!\"#$%&'()*+,\\-./"
      ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
      "?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     false,
     false},
    {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2_NO_WS, "[0-9][0-9][0-9]"}, false, false},
    {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b",
     {"\\p{N}", GPT2_NO_WS},
     false,
     false},
    {"gpt-2|mpt|olmo|jais|trillion|granite-docling|phi-2|roberta-bpe|jina-es|jina-de|gigachat|"
     "jina-v1-en|jina-v2-es|jina-v2-de|jina-v2-code|bloom|poro-chat|gpt3-finnish|viking",
     {GPT2_NO_WS},
     false,
     false},
    {"tekken",
     {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^"
      "\\r\\n\\p{L}"
      "\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     false,
     false},
    {"gpt-4o|minimax-m2",
     {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?"
      "i:'s|'t|"
      "'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{"
      "Lm}\\p{Lo}"
      "\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|"
      "\\s+(?!\\S)|\\s+"},
     false,
     false},
    {"seed-coder",
     {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| "
      "?[^\\s\\p{L}\\p{N}\\r\\n]+|"
      "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     false,
     false},
};

// llama.cpp's regexes for a file without a known pre-tokenizer name.
static const pre_entry pre_default = {
    "default",
    {"[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_NO_WS, "\\p{N}+", "[0-9][0-9][0-9]"},
    false,
    false,
};

static bool name_in(const char *names, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = names; *p;) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == n && memcmp(p, name, n) == 0) return true;
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

static const pre_entry *pre_find(const char *name)
{
    if (!name) return &pre_default;
    for (size_t i = 0; i < sizeof pre_table / sizeof pre_table[0]; i++)
        if (name_in(pre_table[i].names, name)) return &pre_table[i];
    return NULL;
}

// GGUF has no lstrip/rstrip flags; llama.cpp sets them by model name. For
// Phi-3 (as its tokenizer.json says) the special tokens swallow the
// whitespace after them, except <unk>, <s> and <|endoftext|>.
static void phi3_rstrip(tokenizer *t, const char *model_name)
{
    if (!model_name) return;
    char lower[256];
    size_t n = strlen(model_name);
    if (n >= sizeof lower) n = sizeof lower - 1;
    for (size_t i = 0; i < n; i++)
        lower[i] = (char)(model_name[i] >= 'A' && model_name[i] <= 'Z' ? model_name[i] + 32
                                                                       : model_name[i]);
    lower[n] = 0;
    if (!strstr(lower, "phi-3") && !strstr(lower, "phi3")) return;
    for (int i = 0; i < t->n_added; i++) {
        const char *text = t->tokens[t->added[i].id].text;
        t->added[i].rstrip = strcmp(text, "<unk>") != 0 && strcmp(text, "<s>") != 0 &&
                             strcmp(text, "<|endoftext|>") != 0;
    }
}

static int32_t get_id(const gguf_file *f, const char *key, int32_t n_vocab)
{
    int64_t v;
    if (!gguf_get_int(f, key, &v) || v < 0 || v >= n_vocab) return -1;
    return (int32_t)v;
}

rs_status tokenizer_load_gguf(const gguf_file *f, tokenizer **out, rs_error *err)
{
    *out = NULL;
    const char *name = f->path ? f->path : "gguf";
    const char *model = gguf_get_str(f, "tokenizer.ggml.model");
    if (!model)
        return rs_fail(err, RS_ERR_INPUT, "%s: field \"tokenizer.ggml.model\": missing", name);
    tok_model m;
    if (strcmp(model, "gpt2") == 0)
        m = TOK_MODEL_BPE;
    else if (strcmp(model, "llama") == 0)
        m = TOK_MODEL_SPM_SCORE;
    else if (strcmp(model, "bert") == 0)
        m = TOK_MODEL_WORDPIECE;
    else
        return rs_fail(
            err, RS_ERR_INPUT,
            "%s: field \"tokenizer.ggml.model\": \"%s\" is not supported (gpt2, llama, bert)", name,
            model);
    const gguf_kv *toks = gguf_find(f, "tokenizer.ggml.tokens");
    if (!toks || toks->type != GGUF_TYPE_ARRAY || toks->arr_type != GGUF_TYPE_STRING)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: field \"tokenizer.ggml.tokens\": missing or not a string array", name);
    if (toks->arr_n == 0 || toks->arr_n > (1u << 24))
        return rs_fail(err, RS_ERR_INPUT, "%s: field \"tokenizer.ggml.tokens\": %llu tokens", name,
                       (unsigned long long)toks->arr_n);
    int32_t n = (int32_t)toks->arr_n;
    const gguf_kv *scores = gguf_find(f, "tokenizer.ggml.scores");
    const gguf_kv *types = gguf_find(f, "tokenizer.ggml.token_type");
    if (scores &&
        (scores->type != GGUF_TYPE_ARRAY || scores->arr_n != (uint64_t)n ||
         (scores->arr_type != GGUF_TYPE_FLOAT32 && scores->arr_type != GGUF_TYPE_FLOAT64)))
        return rs_fail(err, RS_ERR_INPUT, "%s: field \"tokenizer.ggml.scores\": not %d floats",
                       name, n);
    if (types && (types->type != GGUF_TYPE_ARRAY || types->arr_n != (uint64_t)n ||
                  types->arr_type == GGUF_TYPE_STRING || types->arr_type == GGUF_TYPE_ARRAY ||
                  types->arr_type == GGUF_TYPE_FLOAT32 || types->arr_type == GGUF_TYPE_FLOAT64))
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: field \"tokenizer.ggml.token_type\": not %d integers", name, n);
    const char *pre_name = gguf_get_str(f, "tokenizer.ggml.pre");
    const pre_entry *pre = NULL;
    if (m == TOK_MODEL_BPE) {
        pre = pre_find(pre_name && strcmp(pre_name, "default") != 0 ? pre_name : NULL);
        if (!pre)
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: field \"tokenizer.ggml.pre\": pre-tokenizer \"%s\" is not known",
                           name, pre_name);
    }

    tokenizer *t;
    rs_status st = tok_alloc(name, n, &t, err);
    if (st) return st;
    t->model = m;
    t->kind = m == TOK_MODEL_BPE         ? TOKENIZER_KIND_BPE
              : m == TOK_MODEL_SPM_SCORE ? TOKENIZER_KIND_SPM
                                         : TOKENIZER_KIND_WORDPIECE;
    t->byte_level = m == TOK_MODEL_BPE;
    t->byte_fallback = m == TOK_MODEL_SPM_SCORE;
    for (int32_t i = 0; i < n; i++) {
        uint64_t len;
        const char *s = gguf_arr_str(f, toks, (uint64_t)i, &len);
        if (!s) {
            st = rs_fail(err, RS_ERR_INPUT, "%s: field \"tokenizer.ggml.tokens\"[%d]: unreadable",
                         name, i);
            goto fail;
        }
        float score = scores ? (float)gguf_arr_float(scores, (uint64_t)i) : 0.0f;
        int64_t ty = types ? gguf_arr_int(types, (uint64_t)i) : TOKENIZER_TOKEN_NORMAL;
        if (ty < TOKENIZER_TOKEN_NORMAL || ty > TOKENIZER_TOKEN_BYTE)
            ty = TOKENIZER_TOKEN_NORMAL; // type 0 (undefined) in old files
        if ((st = tok_set_token(t, i, s, (size_t)len, score, (uint8_t)ty, err))) goto fail;
    }

    int64_t v;
    if (m == TOK_MODEL_SPM_SCORE) {
        t->add_space_prefix =
            gguf_get_int(f, "tokenizer.ggml.add_space_prefix", &v) ? v != 0 : true;
        t->strip_leading_space = t->add_space_prefix;
        t->add_bos = true;
    } else if (m == TOK_MODEL_WORDPIECE) {
        t->add_space_prefix = true; // llama.cpp's BERT vocabularies mark word starts with ▁
        t->wp_prefix = calloc(1, 1);
        t->wp_max_chars = 100;
        t->add_bos = t->add_eos = true;
        if (!t->wp_prefix) {
            st = rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", name);
            goto fail;
        }
        // BERT's normalizer (lowercase, strip accents, split CJK) and
        // pre-tokenizer (whitespace removed, punctuation isolated), as HF
        // runs them for uncased BERT vocabularies.
        tok_norm nm = {.kind = TOK_NORM_BERT,
                       .clean_text = true,
                       .chinese = true,
                       .left = true,
                       .right = true};
        if ((st = tok_add_norm(t, nm, err))) goto fail;
        static const char *const bert_re[2] = {"\\s+", "[\\p{P}!-/:-@\\[-`{-~]"};
        for (int i = 0; i < 2; i++) {
            tok_pretok pt = {.kind = TOK_PRETOK_SPLIT,
                             .behavior = i == 0 ? TOK_SPLIT_REMOVED : TOK_SPLIT_ISOLATED};
            if ((st = tok_compile(t, bert_re[i], strlen(bert_re[i]), false, &pt.re, err)) ||
                (st = tok_add_pretok(t, pt, err)))
                goto fail;
        }
    } else {
        t->ignore_merges = pre->ignore_merges;
        t->add_bos = pre->add_bos;
        for (int i = 0; i < 6 && pre->regex[i]; i++) {
            tok_pretok pt = {.kind = TOK_PRETOK_SPLIT, .behavior = TOK_SPLIT_ISOLATED};
            if ((st = tok_compile(t, pre->regex[i], strlen(pre->regex[i]), false, &pt.re, err)))
                goto fail;
            if ((st = tok_add_pretok(t, pt, err))) goto fail;
        }
    }
    if ((st = tok_finish(t, err))) goto fail;
    phi3_rstrip(t, gguf_get_str(f, "general.name"));

    if (m == TOK_MODEL_BPE) {
        const gguf_kv *merges = gguf_find(f, "tokenizer.ggml.merges");
        if (!merges || merges->type != GGUF_TYPE_ARRAY || merges->arr_type != GGUF_TYPE_STRING) {
            st = rs_fail(err, RS_ERR_INPUT,
                         "%s: field \"tokenizer.ggml.merges\": missing or not strings", name);
            goto fail;
        }
        if (tok_pairmap_init(&t->merges, merges->arr_n ? merges->arr_n : 1) != RS_OK) {
            st = rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", name);
            goto fail;
        }
        tok_buf cat = {0};
        for (uint64_t i = 0; i < merges->arr_n && i < INT32_MAX; i++) {
            uint64_t len;
            const char *s = gguf_arr_str(f, merges, i, &len);
            // "a b": split at the first space; a merge token can itself be a
            // space-free string only, so the first space is the separator.
            const char *sp = s ? memchr(s, ' ', (size_t)len) : NULL;
            if (!sp) {
                free(cat.v);
                st = rs_fail(err, RS_ERR_INPUT,
                             "%s: field \"tokenizer.ggml.merges\"[%llu]: not \"a b\"", name,
                             (unsigned long long)i);
                goto fail;
            }
            uint32_t la = (uint32_t)(sp - s), lb = (uint32_t)(len - la - 1);
            int32_t ia = tok_strmap_get(&t->by_text, s, la);
            int32_t ib = tok_strmap_get(&t->by_text, sp + 1, lb);
            cat.n = 0;
            if (!tok_buf_append(&cat, s, la) || !tok_buf_append(&cat, sp + 1, lb)) {
                free(cat.v);
                st = rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", name);
                goto fail;
            }
            int32_t im = tok_strmap_get(&t->by_text, cat.v, (uint32_t)cat.n);
            if (ia >= 0 && ib >= 0 && im >= 0 &&
                !tok_pairmap_put(&t->merges, ia, ib, (int32_t)i, im)) {
                free(cat.v);
                st = rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", name);
                goto fail;
            }
        }
        free(cat.v);
    }

    t->bos = get_id(f, "tokenizer.ggml.bos_token_id", n);
    t->eos = get_id(f, "tokenizer.ggml.eos_token_id", n);
    t->eot = get_id(f, "tokenizer.ggml.eot_token_id", n);
    t->pad = get_id(f, "tokenizer.ggml.padding_token_id", n);
    t->unk_id = get_id(f, "tokenizer.ggml.unknown_token_id", n);
    if (m == TOK_MODEL_WORDPIECE) {
        t->bos = get_id(f, "tokenizer.ggml.cls_token_id", n);
        t->eos = get_id(f, "tokenizer.ggml.seperator_token_id", n);
    }
    if (gguf_get_int(f, "tokenizer.ggml.add_bos_token", &v)) t->add_bos = v != 0;
    if (gguf_get_int(f, "tokenizer.ggml.add_eos_token", &v)) t->add_eos = v != 0;
    tok_finish_specials(t);
    *out = t;
    return RS_OK;
fail:
    tokenizer_free(t);
    return st;
}
