#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

// SentencePiece-style BPE as llama.cpp runs it on GGUF "llama" vocabularies:
// start from one symbol per UTF-8 char, repeatedly merge the adjacent pair
// whose concatenation is a token of highest score (leftmost on ties), then
// emit each symbol's token, or its bytes as <0xXX> tokens when the symbol is
// not a token. A heap keeps it O(n log n); stale pairs are recognised by
// their length no longer matching.

typedef struct spm_sym {
    uint32_t start, len; // bytes of the text; len 0 = merged away
    int32_t prev, next;
} spm_sym;

typedef struct spm_pair {
    float score;
    int32_t left, right;
    uint32_t size;
} spm_pair;

static bool pair_better(const spm_pair *a, const spm_pair *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void push(spm_pair *h, size_t *n, spm_pair p)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t q = (i - 1) / 2;
        if (!pair_better(&p, &h[q])) break;
        h[i] = h[q];
        i = q;
    }
    h[i] = p;
}

static spm_pair pop(spm_pair *h, size_t *n)
{
    spm_pair top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const spm_pair *best = &last;
        if (l < *n && pair_better(&h[l], best)) {
            m = l;
            best = &h[l];
        }
        if (r < *n && pair_better(&h[r], best)) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = last;
    return top;
}

static void try_pair(const tokenizer *t, const char *s, spm_sym *syms, int32_t left, spm_pair *h,
                     size_t *nh)
{
    if (left < 0 || syms[left].next < 0) return;
    int32_t right = syms[left].next;
    uint32_t size = syms[left].len + syms[right].len;
    int32_t id = tok_strmap_get(&t->by_text, s + syms[left].start, size);
    if (id < 0) return;
    push(h, nh, (spm_pair){t->tokens[id].score, left, right, size});
}

bool tok_spm_encode(tokenizer *t, const char *s, size_t n, tok_ids *out)
{
    if (n == 0) return true;
    spm_sym *syms = malloc(n * sizeof *syms);
    spm_pair *heap = malloc((3 * n + 1) * sizeof *heap);
    if (!syms || !heap) {
        free(syms);
        free(heap);
        return false;
    }
    int32_t ns = 0;
    for (size_t i = 0; i < n;) {
        uint32_t l = (uint32_t)tok_utf8_len((uint8_t)s[i]);
        if (l > n - i) l = (uint32_t)(n - i);
        syms[ns] = (spm_sym){(uint32_t)i, l, ns - 1, ns + 1};
        ns++;
        i += l;
    }
    syms[ns - 1].next = -1;
    size_t nh = 0;
    for (int32_t i = 0; i + 1 < ns; i++)
        try_pair(t, s, syms, i, heap, &nh);
    while (nh) {
        spm_pair p = pop(heap, &nh);
        spm_sym *l = &syms[p.left], *r = &syms[p.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != p.size) continue;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) syms[r->next].prev = p.left;
        try_pair(t, s, syms, l->prev, heap, &nh);
        try_pair(t, s, syms, p.left, heap, &nh);
    }
    bool ok = true;
    for (int32_t i = 0; ok && i >= 0; i = syms[i].next) {
        int32_t id = tok_strmap_get(&t->by_text, s + syms[i].start, syms[i].len);
        if (id >= 0) {
            ok = tok_ids_push(out, id);
            continue;
        }
        for (uint32_t k = 0; ok && k < syms[i].len; k++) {
            int32_t b = t->byte_token[(uint8_t)s[syms[i].start + k]];
            if (b < 0) b = t->unk_id;
            if (b >= 0) ok = tok_ids_push(out, b);
        }
    }
    free(syms);
    free(heap);
    return ok;
}
