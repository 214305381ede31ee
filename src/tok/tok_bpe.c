#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

// BPE over one pre-tokenized word, as HF's BPE model and llama.cpp's BPE
// session do it: start from one symbol per byte (byte-level) or per char
// (▁-style, with <0xXX> byte fallback), then repeatedly apply the merge of
// lowest rank (leftmost on ties). A binary heap of candidate merges makes
// this O(n log n) in the word length; stale candidates are skipped when
// popped. Results for short words are cached.

typedef struct bpe_sym {
    int32_t id;
    int32_t prev, next; // linked list over live symbols; -1 at the ends
    uint32_t len;       // bytes covered; 0 = merged away
} bpe_sym;

typedef struct bpe_cand {
    int32_t rank;
    int32_t pos;    // left symbol
    int32_t merged; // expected result: stale if the pair changed since
} bpe_cand;

typedef struct bpe_scratch {
    bpe_sym *syms;  // (cap_syms)
    bpe_cand *heap; // (cap_heap)
    size_t cap_syms, cap_heap;
} bpe_scratch;

static bool cand_less(const bpe_cand *a, const bpe_cand *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(bpe_cand *h, size_t *n, bpe_cand c)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(&c, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static bpe_cand heap_pop(bpe_cand *h, size_t *n)
{
    bpe_cand top = h[0];
    bpe_cand last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const bpe_cand *best = &last;
        if (l < *n && cand_less(&h[l], best)) {
            m = l;
            best = &h[l];
        }
        if (r < *n && cand_less(&h[r], best)) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = last;
    return top;
}

static bpe_scratch *scratch(tokenizer *t, size_t n)
{
    bpe_scratch *s = t->bpe_scratch;
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return NULL;
        t->bpe_scratch = s;
    }
    // Byte fallback can turn one char into 4 symbols; every merge adds at
    // most 2 candidates.
    size_t need = n * 4 + 4;
    if (s->cap_syms < need) {
        free(s->syms);
        free(s->heap);
        s->syms = malloc(need * sizeof *s->syms);
        s->heap = malloc(need * 3 * sizeof *s->heap);
        s->cap_syms = s->syms && s->heap ? need : 0;
        s->cap_heap = s->cap_syms * 3;
        if (!s->cap_syms) return NULL;
    }
    return s;
}

static void try_pair(const tokenizer *t, bpe_sym *syms, int32_t left, bpe_cand *heap, size_t *nh)
{
    if (left < 0) return;
    int32_t right = syms[left].next;
    if (right < 0) return;
    int32_t rank, merged;
    if (tok_pairmap_get(&t->merges, syms[left].id, syms[right].id, &rank, &merged))
        heap_push(heap, nh, (bpe_cand){rank, left, merged});
}

// ---- word cache ----

static tok_cache_entry *cache_find(tokenizer *t, const char *w, uint32_t n, uint64_t h)
{
    for (uint64_t i = h & (t->cache_cap - 1);; i = (i + 1) & (t->cache_cap - 1)) {
        tok_cache_entry *e = &t->cache[i];
        if (!e->word) return e;
        if (e->word_len == n && memcmp(e->word, w, n) == 0) return e;
    }
}

enum { CACHE_CAP = 1 << 17, CACHE_MAX_WORD = 64 };

static void cache_put(tokenizer *t, const char *w, uint32_t n, uint64_t h, const int32_t *ids,
                      uint32_t n_ids)
{
    if (t->cache_n * 2 >= t->cache_cap)
        tok_cache_clear(t); // full: start over rather than track recency
    tok_cache_entry *e = cache_find(t, w, n, h);
    if (e->word) return;
    // One block: the ids, then the word's bytes.
    int32_t *blk = malloc(n_ids * sizeof(int32_t) + n + 1);
    if (!blk) return;
    memcpy(blk, ids, n_ids * sizeof(int32_t));
    e->ids = blk;
    e->word = (char *)(blk + n_ids);
    memcpy(e->word, w, n);
    e->word_len = n;
    e->n_ids = n_ids;
    t->cache_n++;
}

// ---- the merge loop ----

static bool bpe_merge(tokenizer *t, const char *w, size_t n, tok_ids *out)
{
    bpe_scratch *s = scratch(t, n);
    if (!s) return false;
    bpe_sym *syms = s->syms;
    int32_t ns = 0;
    if (t->byte_level) {
        for (size_t i = 0; i < n; i++) {
            int32_t id = t->byte_token[(uint8_t)w[i]];
            if (id < 0) id = t->unk_id;
            if (id < 0)
                continue; // a vocabulary without this byte: nothing to emit (as HF without unk)
            syms[ns] = (bpe_sym){id, ns - 1, ns + 1, 1};
            ns++;
        }
    } else {
        for (size_t i = 0; i < n;) {
            uint32_t l = (uint32_t)tok_utf8_len((uint8_t)w[i]);
            if (l > n - i) l = (uint32_t)(n - i);
            int32_t id = tok_strmap_get(&t->by_text, w + i, l);
            if (id >= 0) {
                syms[ns] = (bpe_sym){id, ns - 1, ns + 1, l};
                ns++;
            } else {
                bool all = t->byte_fallback;
                for (uint32_t k = 0; all && k < l; k++)
                    all = t->byte_token[(uint8_t)w[i + k]] >= 0;
                if (all) {
                    for (uint32_t k = 0; k < l; k++) {
                        syms[ns] = (bpe_sym){t->byte_token[(uint8_t)w[i + k]], ns - 1, ns + 1, 1};
                        ns++;
                    }
                } else if (t->unk_id >= 0) {
                    // fuse_unk: consecutive unknowns become one <unk>.
                    if (t->fuse_unk && ns > 0 && syms[ns - 1].id == t->unk_id)
                        syms[ns - 1].len += l;
                    else {
                        syms[ns] = (bpe_sym){t->unk_id, ns - 1, ns + 1, l};
                        ns++;
                    }
                }
            }
            i += l;
        }
    }
    if (ns == 0) return true;
    syms[ns - 1].next = -1;

    size_t nh = 0;
    for (int32_t i = 0; i + 1 < ns; i++)
        try_pair(t, syms, i, s->heap, &nh);
    while (nh) {
        bpe_cand c = heap_pop(s->heap, &nh);
        bpe_sym *l = &syms[c.pos];
        if (l->len == 0 || l->next < 0) continue;
        bpe_sym *r = &syms[l->next];
        int32_t rank, merged;
        if (!tok_pairmap_get(&t->merges, l->id, r->id, &rank, &merged) || merged != c.merged ||
            rank != c.rank)
            continue;
        l->id = merged;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (l->next >= 0) syms[l->next].prev = c.pos;
        try_pair(t, syms, l->prev, s->heap, &nh);
        try_pair(t, syms, c.pos, s->heap, &nh);
    }
    for (int32_t i = 0; i >= 0; i = syms[i].next)
        if (!tok_ids_push(out, syms[i].id)) return false;
    return true;
}

bool tok_bpe_word(tokenizer *t, const char *w, size_t n, tok_ids *out)
{
    if (n == 0) return true;
    if (t->ignore_merges) {
        // A word that is itself in the vocabulary is emitted whole (Llama 3).
        int32_t id;
        if (t->byte_level) {
            tok_buf *b = &t->word_buf;
            b->n = 0;
            if (!tok_buf_reserve(b, n * 2)) return false;
            for (size_t i = 0; i < n; i++) {
                char e[4];
                int l = tok_utf8_encode(tok_byte_to_cp((uint8_t)w[i]), e);
                memcpy(b->v + b->n, e, (size_t)l);
                b->n += (size_t)l;
            }
            id = tok_strmap_get(&t->by_text, b->v, (uint32_t)b->n);
        } else {
            id = tok_strmap_get(&t->by_text, w, (uint32_t)n);
        }
        if (id >= 0 && t->tokens[id].type != TOKENIZER_TOKEN_CONTROL &&
            t->tokens[id].type != TOKENIZER_TOKEN_USER_DEFINED)
            return tok_ids_push(out, id);
    }
    if (n > CACHE_MAX_WORD) return bpe_merge(t, w, n, out);
    if (!t->cache) {
        t->cache = calloc(CACHE_CAP, sizeof *t->cache);
        if (!t->cache) return bpe_merge(t, w, n, out);
        t->cache_cap = CACHE_CAP;
    }
    uint64_t h = tok_hash_bytes(w, n);
    tok_cache_entry *e = cache_find(t, w, (uint32_t)n, h);
    if (e->word) {
        for (uint32_t i = 0; i < e->n_ids; i++)
            if (!tok_ids_push(out, e->ids[i])) return false;
        return true;
    }
    int64_t before = out->n;
    if (!bpe_merge(t, w, n, out)) return false;
    if (out->n > before) // a word can give no ids (bytes missing from a broken vocabulary)
        cache_put(t, w, (uint32_t)n, h, out->v + before, (uint32_t)(out->n - before));
    return true;
}

void tok_bpe_scratch_free(void *p)
{
    bpe_scratch *s = p;
    if (!s) return;
    free(s->syms);
    free(s->heap);
    free(s);
}
