#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

// WordPiece (BERT): greedy longest match from the left; pieces after the
// first carry the continuation prefix ("##" in tokenizer.json). GGUF
// vocabularies converted by llama.cpp mark word starts with ▁ instead
// (add_space_prefix here) and store continuations bare. A word with any
// unmatched rest becomes a single [UNK].

bool tok_wordpiece_word(tokenizer *t, const char *w, size_t n, tok_ids *out)
{
    if (n == 0) return true;
    size_t chars = 0;
    for (size_t i = 0; i < n; i += (size_t)tok_utf8_len((uint8_t)w[i]))
        chars++;
    if ((int64_t)chars > t->wp_max_chars) return t->unk_id < 0 || tok_ids_push(out, t->unk_id);
    tok_buf *b = &t->word_buf;
    int64_t start_n = out->n;
    for (size_t i = 0; i < n;) {
        int32_t found = -1;
        size_t found_end = 0;
        // Try the longest candidate first, shrinking one char at a time.
        for (size_t end = n; end > i;) {
            b->n = 0;
            bool ok = true;
            if (i == 0 && t->add_space_prefix)
                ok = tok_buf_append(b, "\xE2\x96\x81", 3);
            else if (i > 0)
                ok = tok_buf_append(b, t->wp_prefix, t->wp_prefix_len);
            ok = ok && tok_buf_append(b, w + i, end - i);
            if (!ok) return false;
            int32_t id = tok_strmap_get(&t->by_text, b->v, (uint32_t)b->n);
            if (id >= 0) {
                found = id;
                found_end = end;
                break;
            }
            do
                end--;
            while (end > i && ((uint8_t)w[end] & 0xC0) == 0x80);
        }
        if (found < 0) {
            out->n = start_n;
            return t->unk_id < 0 || tok_ids_push(out, t->unk_id);
        }
        if (!tok_ids_push(out, found)) return false;
        i = found_end;
    }
    return true;
}
