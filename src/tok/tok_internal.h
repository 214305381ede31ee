#ifndef RS_TOK_TOK_INTERNAL_H
#define RS_TOK_TOK_INTERNAL_H

// The tokenizer's insides, shared by the files of src/tok/ (loaders, the
// pre-tokenizer, the two merge algorithms, encode, decode). Not for use
// outside src/tok/.

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tok/tokenizer.h"

// ---- growable arrays and hash maps (tok_map.c) ----

// Open-addressing map from a byte string to an int32 (token ids). Keys are
// not copied: they must outlive the map (they point into token texts). A
// slot keeps the hash's high bits so most misses skip the key compare.
typedef struct tok_str_slot {
    const char *key; // NULL = empty slot
    uint32_t len;
    uint32_t tag; // high 32 bits of the hash
    int32_t val;
} tok_str_slot;

typedef struct tok_strmap {
    tok_str_slot *slots; // (cap)
    uint64_t cap;        // power of two
    uint64_t n;
} tok_strmap;

rs_status tok_strmap_init(tok_strmap *m, uint64_t expected);
void tok_strmap_free(tok_strmap *m);
// Inserts key -> val unless key is present (the first insert wins, as HF's
// vocab and llama.cpp's token_to_id do for duplicates). False on OOM.
bool tok_strmap_put(tok_strmap *m, const char *key, uint32_t len, int32_t val);
int32_t tok_strmap_get(const tok_strmap *m, const char *key, uint32_t len); // -1 if absent

// Map from a pair of ids to (rank, merged id): the BPE merges. One slot
// holds key and values together: a lookup touches one cache line.
typedef struct tok_pair_slot {
    uint64_t key; // (left << 32 | right) + 1; 0 = empty slot
    int32_t rank;
    int32_t merged;
} tok_pair_slot;

typedef struct tok_pairmap {
    tok_pair_slot *slots; // (cap)
    uint64_t cap;
    uint64_t n;
} tok_pairmap;

rs_status tok_pairmap_init(tok_pairmap *m, uint64_t expected);
void tok_pairmap_free(tok_pairmap *m);
bool tok_pairmap_put(tok_pairmap *m, int32_t left, int32_t right, int32_t rank, int32_t merged);
// Returns false if there is no merge of (left, right).
static inline bool tok_pairmap_get(const tok_pairmap *m, int32_t left, int32_t right, int32_t *rank,
                                   int32_t *merged)
{
    if (m->cap == 0) return false;
    uint64_t key = (((uint64_t)(uint32_t)left << 32) | (uint32_t)right) + 1;
    uint64_t h = key * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
    for (uint64_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const tok_pair_slot *sl = &m->slots[i];
        if (sl->key == key) {
            *rank = sl->rank;
            *merged = sl->merged;
            return true;
        }
        if (sl->key == 0) return false;
    }
}

uint64_t tok_hash_bytes(const char *s, size_t n);

// A growable int32 vector.
typedef struct tok_ids {
    int32_t *v;
    int64_t n, cap;
} tok_ids;
bool tok_ids_push(tok_ids *a, int32_t x);

// A growable byte buffer.
typedef struct tok_buf {
    char *v;
    size_t n, cap;
} tok_buf;
bool tok_buf_reserve(tok_buf *b, size_t extra);
bool tok_buf_append(tok_buf *b, const void *p, size_t n);

// ---- UTF-8 (tok_utf8.c) ----

// Length of the valid UTF-8 sequence at s[0, n), or 0 if it is invalid
// (overlong, surrogate, > U+10FFFF, truncated).
int tok_utf8_valid_len(const uint8_t *s, size_t n);
// Length of a UTF-8 char from its lead byte (1 for invalid leads).
static inline int tok_utf8_len(uint8_t c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? (c < 0xC0 ? 1 : 2) : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 1;
}
// Copies s into b replacing each maximal invalid subsequence with U+FFFD
// (the W3C/Unicode "maximal subpart" practice, as Python's "replace").
bool tok_utf8_sanitize(const char *s, size_t n, tok_buf *b);
// Bytes of the maximal subpart of an ill-formed sequence at s (>= 1): the
// longest prefix that could start a valid char. If it reaches the end of s
// and is shorter than its char, the sequence may just be incomplete.
size_t tok_utf8_maximal_subpart(const uint8_t *s, size_t n);
int tok_utf8_encode(uint32_t cp, char out[4]);
// Decodes one char of valid UTF-8 at s; returns its length.
int tok_utf8_decode(const char *s, uint32_t *cp);
// The GPT-2 byte <-> unicode map: byte b is shown as code point
// tok_byte_to_cp(b); the inverse is -1 for code points outside the map.
uint32_t tok_byte_to_cp(uint8_t b);
int tok_cp_to_byte(uint32_t cp);

// ---- normalizers and pre-tokenizers (tok_pretok.c) ----

typedef enum tok_norm_kind {
    TOK_NORM_NFC,
    TOK_NORM_NFD,
    TOK_NORM_NFKC,
    TOK_NORM_NFKD,
    TOK_NORM_LOWERCASE,
    TOK_NORM_PREPEND,       // str: prepend unless empty
    TOK_NORM_REPLACE,       // literal str -> str2, or regex -> str2
    TOK_NORM_STRIP,         // left/right whitespace
    TOK_NORM_STRIP_ACCENTS, // remove combining marks (after NFD)
    TOK_NORM_BERT,          // clean text, chinese chars, strip accents, lowercase (flags)
} tok_norm_kind;

typedef struct tok_norm {
    tok_norm_kind kind;
    char *str, *str2;
    size_t str_len, str2_len;
    pcre2_code *re;           // REPLACE with a regex
    bool left, right;         // STRIP; BERT: left = lowercase, right = strip accents
    bool clean_text, chinese; // BERT
} tok_norm;

typedef enum tok_split_behavior {
    TOK_SPLIT_ISOLATED,
    TOK_SPLIT_REMOVED,
    TOK_SPLIT_MERGED_WITH_PREVIOUS,
    TOK_SPLIT_MERGED_WITH_NEXT,
    TOK_SPLIT_CONTIGUOUS,
} tok_split_behavior;

typedef enum tok_pretok_kind {
    TOK_PRETOK_SPLIT,       // regex (or literal) split with a behaviour
    TOK_PRETOK_METASPACE,   // ' ' -> ▁, optional prefix, optional split before ▁
    TOK_PRETOK_BYTE_PREFIX, // ByteLevel add_prefix_space: a leading ' ' on each segment
} tok_pretok_kind;

typedef struct tok_pretok {
    tok_pretok_kind kind;
    pcre2_code *re;
    tok_split_behavior behavior;
    bool invert;
    // METASPACE
    char *replacement;
    size_t replacement_len;
    int prepend; // 0 never, 1 always, 2 first segment only
    bool split;
} tok_pretok;

// A piece of text: [start, end) of the working buffer.
typedef struct tok_span {
    uint32_t start, end;
} tok_span;

// ---- the tokenizer ----

typedef struct tok_token {
    char *text;  // as in the vocabulary ("Ġthe", "▁the", "<0x0A>"), NUL-terminated
    char *piece; // decoded bytes (" the"), NUL-terminated
    uint32_t text_len, piece_len;
    float score;
    uint8_t type; // tokenizer_token_type
} tok_token;

// An added token matched in the text before the model runs: in the raw
// text, or (normalized, tokenizer.json "normalized": true with a normalizer)
// in the normalized text, as its normalized content.
typedef struct tok_added {
    int32_t id;
    bool special; // matched only with parse_special
    bool lstrip, rstrip;
    bool single_word; // only where no word char touches it
    bool normalized;
    char *norm_text; // normalized: the content after the normalizer
    uint32_t norm_len;
} tok_added;

typedef enum tok_model {
    TOK_MODEL_BPE,       // merges by rank over ids (HF BPE; GGUF gpt2)
    TOK_MODEL_SPM_SCORE, // merges by the merged token's score (GGUF llama)
    TOK_MODEL_WORDPIECE,
} tok_model;

// Word cache entry: a word's bytes -> its ids.
typedef struct tok_cache_entry {
    char *word; // NULL = empty slot
    uint32_t word_len;
    uint32_t n_ids;
    int32_t *ids;
} tok_cache_entry;

struct tokenizer {
    tokenizer_kind kind;
    tok_model model;
    char *name; // for messages

    int32_t n_vocab;
    tok_token *tokens;  // (n_vocab)
    tok_strmap by_text; // text -> id (every token)

    // BPE
    tok_pairmap merges;
    bool byte_level;         // ids of single bytes come from the GPT-2 map
    int32_t byte_token[256]; // byte-level: id of each byte's char; byte fallback: id of <0xXX>; -1
    bool byte_fallback;
    bool ignore_merges; // a word that is itself a token is emitted whole (Llama 3)
    bool fuse_unk;
    int32_t unk_id;

    // SPM
    // No token holds a ▁ right after another char, so no merge can cross the
    // start of a ▁ run: text may be cut there into words (for the word cache
    // and short merge heaps) with the same result as merging it whole.
    bool split_at_space;
    bool add_space_prefix; // GGUF llama: ' ' before the text and after added tokens

    // WordPiece
    char *wp_prefix; // "##"
    size_t wp_prefix_len;
    int32_t wp_max_chars;

    tok_norm *norms;
    int n_norms;
    tok_pretok *pretoks;
    int n_pretoks;

    // Added tokens, longest first per first byte.
    tok_added *added;
    int n_added;
    int32_t *added_by_byte[256]; // indices into added, -1 terminated; NULL if none
    bool added_first[256];
    int32_t *norm_added_by_byte[256]; // the same for normalized added tokens
    bool norm_added_first[256];
    bool has_norm_added;

    // Decoding
    bool strip_leading_space; // HF Strip/Metaspace decoder: drop the first ' '
    // The normalizer removed the segment's first chars (Strip): HF's Metaspace
    // "first" then sees an offset other than 0 and does not prepend.
    bool norm_moved_start;

    int32_t bos, eos, eot, pad;
    bool add_bos, add_eos;
    uint8_t *eog; // (n_vocab) 1 = ends generation

    // Scratch (encode is single-threaded per tokenizer).
    tok_buf norm_buf, norm_buf2, sanitize_buf, word_buf, piece_buf;
    tok_span *spans, *spans2;
    size_t spans_cap, spans2_cap;
    pcre2_match_data *md;
    void *bpe_scratch; // tok_bpe.c state
    size_t bpe_scratch_size;

    tok_cache_entry *cache; // (cache_cap)
    uint64_t cache_cap, cache_n;
};

// tok_core.c: allocation helpers used by the loaders
rs_status tok_alloc(const char *name, int32_t n_vocab, tokenizer **out, rs_error *err);
// Sets tokens[id] from text, computing the piece; the strings are copied.
rs_status tok_set_token(tokenizer *t, int32_t id, const char *text, size_t len, float score,
                        uint8_t type, rs_error *err);
// After all tokens are set: builds by_text, byte tables, added-token tables,
// end-of-generation set. added may be NULL (then CONTROL/USER_DEFINED/UNKNOWN
// tokens are the added tokens, as llama.cpp does for GGUF).
rs_status tok_finish(tokenizer *t, rs_error *err);
// After the special ids are set: finds eot if unset, fills the eog set.
void tok_finish_specials(tokenizer *t);
rs_status tok_add_added(tokenizer *t, int32_t id, bool special, bool lstrip, bool rstrip,
                        rs_error *err);
// tokenizer.json flags of the added token just added.
void tok_added_flags(tokenizer *t, bool single_word, bool normalized);
rs_status tok_compile(tokenizer *t, const char *pattern, size_t len, bool literal, pcre2_code **out,
                      rs_error *err);
void tok_piece_for(tokenizer *t, tok_token *tk);
// Append a normalizer / pre-tokenizer step (taking ownership of its strings
// and regex, freed on failure too).
rs_status tok_add_norm(tokenizer *t, tok_norm nm, rs_error *err);
rs_status tok_add_pretok(tokenizer *t, tok_pretok pt, rs_error *err);

// tok_pretok.c
// Normalizes s[0, n) into out (replacing its contents).
bool tok_normalize(tokenizer *t, const char *s, size_t n, tok_buf *out);
// Splits text into word spans (in *spans, count returned); first_segment
// tells Metaspace "first" prepending. May rewrite text (Metaspace), so text
// is a tok_buf. Returns -1 on OOM.
int64_t tok_pretokenize(tokenizer *t, tok_buf *text, bool first_segment);

// tok_bpe.c: appends the ids of one pre-tokenized word.
bool tok_bpe_word(tokenizer *t, const char *w, size_t n, tok_ids *out);
// tok_spm.c
bool tok_spm_encode(tokenizer *t, const char *s, size_t n, tok_ids *out);
// tok_wordpiece.c
bool tok_wordpiece_word(tokenizer *t, const char *w, size_t n, tok_ids *out);

void tok_cache_clear(tokenizer *t);
void tok_bpe_scratch_free(void *scratch);

#endif
