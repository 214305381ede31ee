#ifndef RS_TOK_TOKENIZER_H
#define RS_TOK_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/gguf.h"
#include "util/error.h"

// Text <-> token ids, exact against the reference implementations:
// Hugging Face `tokenizers` for tokenizer.json, llama.cpp for GGUF
// `tokenizer.ggml.*` metadata.
//
// Input text is UTF-8. Invalid UTF-8 has a defined meaning: every maximal
// invalid subsequence is replaced by U+FFFD before tokenizing (what Python's
// bytes.decode("utf-8", "replace") does), so the result equals HF on the
// Python string that decode produces.
//
// A tokenizer is read-only after loading except for its word cache and
// scratch buffers: do not call tokenizer_encode on one tokenizer from two
// threads at once (load one per thread instead).

typedef struct tokenizer tokenizer;

typedef enum tokenizer_kind {
    TOKENIZER_KIND_BPE = 0,       // byte-level BPE (GPT-2 family), or tokenizer.json BPE with ▁
    TOKENIZER_KIND_SPM = 1,       // SentencePiece-style merges by score (GGUF "llama")
    TOKENIZER_KIND_WORDPIECE = 2, // BERT WordPiece (GGUF "bert")
} tokenizer_kind;

// Token types, as in GGUF tokenizer.ggml.token_type.
typedef enum tokenizer_token_type {
    TOKENIZER_TOKEN_NORMAL = 1,
    TOKENIZER_TOKEN_UNKNOWN = 2,
    TOKENIZER_TOKEN_CONTROL = 3,      // special: matched in text only with parse_special
    TOKENIZER_TOKEN_USER_DEFINED = 4, // added, not special: always matched before BPE
    TOKENIZER_TOKEN_UNUSED = 5,
    TOKENIZER_TOKEN_BYTE = 6, // <0xXX> byte fallback
} tokenizer_token_type;

// path: a folder holding tokenizer.json (and optionally tokenizer_config.json,
// generation_config.json), or the tokenizer.json file itself.
rs_status tokenizer_load_hf(const char *path, tokenizer **out, rs_error *err);
// The same from memory (config_json may be NULL); name is used in messages.
rs_status tokenizer_load_hf_json(const char *json, size_t json_len, const char *config_json,
                                 size_t config_len, const char *name, tokenizer **out,
                                 rs_error *err);
// From GGUF metadata (tokenizer.ggml.model/tokens/scores/token_type/merges/pre
// and the special ids). The tokenizer copies what it needs: f may be closed
// afterwards.
rs_status tokenizer_load_gguf(const gguf_file *f, tokenizer **out, rs_error *err);
void tokenizer_free(tokenizer *t);

tokenizer_kind tokenizer_get_kind(const tokenizer *t);
int32_t tokenizer_vocab_size(const tokenizer *t);

// Special ids read from the files; -1 where the file names none.
int32_t tokenizer_bos(const tokenizer *t);
int32_t tokenizer_eos(const tokenizer *t);
int32_t tokenizer_eot(const tokenizer *t); // end of turn (<|im_end|>, <|eot_id|>, ...)
int32_t tokenizer_pad(const tokenizer *t);
int32_t tokenizer_unk(const tokenizer *t);
// Whether encoding with add_special adds BOS / EOS (tokenizer.json
// post_processor, tokenizer_config.json add_bos_token,
// tokenizer.ggml.add_bos_token).
bool tokenizer_add_bos(const tokenizer *t);
bool tokenizer_add_eos(const tokenizer *t);
// True for ids that end generation: eos, eot and the other end-of-turn
// control tokens the vocabulary holds (generation_config.json eos ids too).
bool tokenizer_is_eog(const tokenizer *t, int32_t id);
// Control/unknown/unused tokens (not printed when decoding with skip_special).
bool tokenizer_is_control(const tokenizer *t, int32_t id);
tokenizer_token_type tokenizer_token_type_of(const tokenizer *t, int32_t id);

// The id of the token whose vocabulary text is exactly text[0, len)
// (e.g. "<|im_end|>", "Ġthe"), or -1.
int32_t tokenizer_find(const tokenizer *t, const char *text, size_t len);

// Encodes text[0, len). add_special: add BOS/EOS as the tokenizer says.
// parse_special: special-token text ("<|im_end|>") becomes its id; without
// it, special tokens are tokenized as plain text (non-special added tokens
// are always matched). *ids is malloc'd (free() it); *n its length.
rs_status tokenizer_encode(tokenizer *t, const char *text, size_t len, bool add_special,
                           bool parse_special, int32_t **ids, int64_t *n, rs_error *err);

// The bytes a token stands for, after byte-level or ▁/<0xXX> decoding
// ("Ġthe" -> " the", "▁the" -> " the", "<0x0A>" -> "\n"); control tokens
// give their text. NUL-terminated, but may hold NULs: use *len. NULL for an
// id out of range.
const char *tokenizer_token_piece(const tokenizer *t, int32_t id, size_t *len);
// The token's text as stored in the vocabulary ("Ġthe").
const char *tokenizer_token_text(const tokenizer *t, int32_t id, size_t *len);

// Stream decoding: feed ids one at a time, get the bytes that are complete.
// Bytes ending mid UTF-8 sequence are held until the sequence completes, so
// the output is always valid UTF-8 (invalid bytes come out as U+FFFD, as in
// HF's lossy decode).
enum {
    TOKENIZER_DECODE_SKIP_SPECIAL = 1,  // control tokens produce nothing
    TOKENIZER_DECODE_STRIP_LEADING = 2, // apply the tokenizer's leading-space rule (SPM: the
                                        // first space of the stream is dropped, as HF decode)
};

typedef struct tokenizer_decoder {
    const tokenizer *tok;
    int flags;
    bool at_start;   // nothing emitted yet (for STRIP_LEADING)
    uint8_t held[4]; // an incomplete UTF-8 sequence
    int n_held;
    char *out; // (cap) output of the last feed, owned
    size_t cap;
} tokenizer_decoder;

void tokenizer_decoder_init(tokenizer_decoder *d, const tokenizer *t, int flags);
void tokenizer_decoder_free(tokenizer_decoder *d);
// Returns the newly complete bytes (valid until the next call) and their
// length in *len; *len may be 0. Ids out of range produce nothing.
const char *tokenizer_decoder_feed(tokenizer_decoder *d, int32_t id, size_t *len);
// End of stream: held bytes come out as U+FFFD.
const char *tokenizer_decoder_flush(tokenizer_decoder *d, size_t *len);

// Decodes a whole sequence (what HF tokenizer.decode gives):
// *out is malloc'd and NUL-terminated, *len its length.
rs_status tokenizer_decode(const tokenizer *t, const int32_t *ids, int64_t n, int flags, char **out,
                           size_t *len, rs_error *err);

#endif
