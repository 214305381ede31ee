#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

// Hash maps and growable arrays for the tokenizer. Open addressing with
// linear probing at load factor <= 1/2: lookups are the hot path of BPE.

uint64_t tok_hash_bytes(const char *s, size_t n)
{
    // FNV-1a, then a final mix so that the low bits are usable as an index.
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    return h;
}

static uint64_t cap_for(uint64_t expected)
{
    uint64_t cap = 16;
    while (cap < expected * 2 + 1)
        cap <<= 1;
    return cap;
}

rs_status tok_strmap_init(tok_strmap *m, uint64_t expected)
{
    memset(m, 0, sizeof *m);
    m->cap = cap_for(expected);
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        m->cap = 0;
        return RS_ERR_RUNTIME;
    }
    return RS_OK;
}

void tok_strmap_free(tok_strmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static bool strmap_grow(tok_strmap *m)
{
    tok_strmap bigger;
    if (tok_strmap_init(&bigger, m->cap) != RS_OK) return false;
    for (uint64_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            tok_strmap_put(&bigger, m->slots[i].key, m->slots[i].len, m->slots[i].val);
    tok_strmap_free(m);
    *m = bigger;
    return true;
}

bool tok_strmap_put(tok_strmap *m, const char *key, uint32_t len, int32_t val)
{
    if ((m->n + 1) * 2 > m->cap && !strmap_grow(m)) return false;
    uint64_t h = tok_hash_bytes(key, len);
    uint32_t tag = (uint32_t)(h >> 32);
    for (uint64_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        tok_str_slot *sl = &m->slots[i];
        if (!sl->key) {
            *sl = (tok_str_slot){key, len, tag, val};
            m->n++;
            return true;
        }
        if (sl->tag == tag && sl->len == len && memcmp(sl->key, key, len) == 0) return true;
    }
}

int32_t tok_strmap_get(const tok_strmap *m, const char *key, uint32_t len)
{
    if (m->cap == 0) return -1;
    uint64_t h = tok_hash_bytes(key, len);
    uint32_t tag = (uint32_t)(h >> 32);
    for (uint64_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const tok_str_slot *sl = &m->slots[i];
        if (!sl->key) return -1;
        if (sl->tag == tag && sl->len == len && memcmp(sl->key, key, len) == 0) return sl->val;
    }
}

rs_status tok_pairmap_init(tok_pairmap *m, uint64_t expected)
{
    memset(m, 0, sizeof *m);
    m->cap = cap_for(expected);
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        m->cap = 0;
        return RS_ERR_RUNTIME;
    }
    return RS_OK;
}

void tok_pairmap_free(tok_pairmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static bool pairmap_grow(tok_pairmap *m)
{
    tok_pairmap bigger;
    if (tok_pairmap_init(&bigger, m->cap) != RS_OK) return false;
    for (uint64_t i = 0; i < m->cap; i++) {
        const tok_pair_slot *sl = &m->slots[i];
        if (sl->key) {
            uint64_t k = sl->key - 1;
            tok_pairmap_put(&bigger, (int32_t)(k >> 32), (int32_t)(uint32_t)k, sl->rank,
                            sl->merged);
        }
    }
    tok_pairmap_free(m);
    *m = bigger;
    return true;
}

bool tok_pairmap_put(tok_pairmap *m, int32_t left, int32_t right, int32_t rank, int32_t merged)
{
    if ((m->n + 1) * 2 > m->cap && !pairmap_grow(m)) return false;
    uint64_t key = (((uint64_t)(uint32_t)left << 32) | (uint32_t)right) + 1;
    uint64_t h = key * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
    for (uint64_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        tok_pair_slot *sl = &m->slots[i];
        if (sl->key == 0) {
            *sl = (tok_pair_slot){key, rank, merged};
            m->n++;
            return true;
        }
        if (sl->key == key) return true; // the first (lowest-rank) merge of a pair wins, as in HF
    }
}

bool tok_ids_push(tok_ids *a, int32_t x)
{
    if (a->n == a->cap) {
        int64_t cap = a->cap ? a->cap * 2 : 64;
        int32_t *v = realloc(a->v, (size_t)cap * sizeof *v);
        if (!v) return false;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return true;
}

bool tok_buf_reserve(tok_buf *b, size_t extra)
{
    if (b->n + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra + 1) {
        if (cap > SIZE_MAX / 2) return false;
        cap *= 2;
    }
    char *v = realloc(b->v, cap);
    if (!v) return false;
    b->v = v;
    b->cap = cap;
    return true;
}

bool tok_buf_append(tok_buf *b, const void *p, size_t n)
{
    if (!tok_buf_reserve(b, n)) return false;
    if (n) memcpy(b->v + b->n, p, n);
    b->n += n;
    b->v[b->n] = 0;
    return true;
}
