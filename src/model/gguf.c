#include "model/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/name_check.h"

// GGUF layout (v2/v3, little-endian): "GGUF", u32 version, u64 n_tensors,
// u64 n_kv, then n_kv x (string key, u32 type, value), then n_tensors x
// (string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset), padding
// to general.alignment (default 32), then the tensor data. A string is a u64
// length followed by that many bytes (no NUL).

#define GGUF_MAGIC             "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS          4

// The smallest encodings, used to reject absurd counts before allocating:
// a KV is at least key length (8) + type (4) + a 1-byte value; a tensor info
// is at least name length (8) + n_dims (4) + one ne (8) + type (4) + offset (8).
#define GGUF_MIN_KV_BYTES     13
#define GGUF_MIN_TENSOR_BYTES 32

// Far above any real file (the largest MoE GGUFs hold a few thousand tensors
// and under a hundred keys), low enough that a hostile count cannot make us
// allocate gigabytes before the first entry is read.
#define GGUF_MAX_TENSORS (1u << 20)
#define GGUF_MAX_KV      (1u << 20)

// A cursor over the buffer. Every read checks the bytes left first.
typedef struct gguf_reader {
    const uint8_t *data;
    uint64_t size;
    uint64_t pos;
} gguf_reader;

static uint64_t rd_left(const gguf_reader *r)
{
    return r->size - r->pos;
}

static uint64_t load_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static bool rd_uint(gguf_reader *r, int n, uint64_t *out)
{
    if (rd_left(r) < (uint64_t)n) return false;
    *out = load_le(r->data + r->pos, n);
    r->pos += (uint64_t)n;
    return true;
}

// Element size of a fixed-size GGUF value type; 0 for STRING and ARRAY.
static int gguf_type_size(uint32_t t)
{
    switch (t) {
    case GGUF_TYPE_UINT8:
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_BOOL:
        return 1;
    case GGUF_TYPE_UINT16:
    case GGUF_TYPE_INT16:
        return 2;
    case GGUF_TYPE_UINT32:
    case GGUF_TYPE_INT32:
    case GGUF_TYPE_FLOAT32:
        return 4;
    case GGUF_TYPE_UINT64:
    case GGUF_TYPE_INT64:
    case GGUF_TYPE_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

static const char *gguf_type_name(uint32_t t)
{
    static const char *names[GGUF_TYPE_COUNT] = {
        "uint8", "int8",   "uint16", "int16",  "uint32", "int32",   "float32",
        "bool",  "string", "array",  "uint64", "int64",  "float64",
    };
    return t < GGUF_TYPE_COUNT ? names[t] : "?";
}

// Reads a string header: length, then checks the bytes are there. On
// success *s points into the buffer.
static bool rd_string(gguf_reader *r, const uint8_t **s, uint64_t *len)
{
    uint64_t n;
    if (!rd_uint(r, 8, &n)) return false;
    if (n > rd_left(r)) {
        r->pos -= 8;
        return false;
    }
    *s = r->data + r->pos;
    *len = n;
    r->pos += n;
    return true;
}

static char *dup_bytes(const uint8_t *s, uint64_t n)
{
    char *c = malloc((size_t)n + 1);
    if (!c) return NULL;
    memcpy(c, s, (size_t)n);
    c[n] = '\0';
    return c;
}

void gguf_close(gguf_file *f)
{
    if (!f) return;
    if (f->kv) {
        for (uint64_t i = 0; i < f->n_kv; i++) {
            free(f->kv[i].key);
            free(f->kv[i].str);
            free((void *)f->kv[i].arr_offsets);
        }
        free(f->kv);
    }
    if (f->tensors) {
        for (uint64_t i = 0; i < f->n_tensors; i++)
            free(f->tensors[i].name);
        free(f->tensors);
    }
    if (f->mapped && f->data) munmap((void *)f->data, (size_t)f->size);
    free(f->path);
    free(f);
}

// Describes why a string could not be read at r->pos (it was left at the
// length field).
static rs_status fail_string(const gguf_reader *r, rs_error *err, const char *path,
                             const char *what)
{
    if (rd_left(r) < 8)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: %s: truncated: string length at offset %" PRIu64
                       " past the end of the file (%" PRIu64 " bytes)",
                       path, what, r->pos, r->size);
    uint64_t n = load_le(r->data + r->pos, 8);
    return rs_fail(err, RS_ERR_INPUT,
                   "%s: %s: string length %" PRIu64 " at offset %" PRIu64
                   " runs past the end of the file (%" PRIu64 " bytes)",
                   path, what, n, r->pos, r->size);
}

static rs_status fail_truncated(const gguf_reader *r, rs_error *err, const char *path,
                                const char *what, const char *field)
{
    return rs_fail(err, RS_ERR_INPUT,
                   "%s: %s: truncated: %s at offset %" PRIu64 " past the end of the file (%" PRIu64
                   " bytes)",
                   path, what, field, r->pos, r->size);
}

// Reads one KV value of type t (not ARRAY-of-ARRAY: depth is limited to one).
static rs_status read_value(gguf_reader *r, gguf_kv *kv, uint32_t t, const char *path,
                            const char *what, rs_error *err)
{
    int sz = gguf_type_size(t);
    if (t == GGUF_TYPE_STRING) {
        const uint8_t *s;
        uint64_t n;
        if (!rd_string(r, &s, &n)) return fail_string(r, err, path, what);
        kv->str = dup_bytes(s, n);
        if (!kv->str) return rs_fail(err, RS_ERR_RUNTIME, "%s: %s: out of memory", path, what);
        kv->str_len = n;
        return RS_OK;
    }
    if (t == GGUF_TYPE_ARRAY) {
        uint64_t at, n;
        if (!rd_uint(r, 4, &at)) return fail_truncated(r, err, path, what, "array type");
        if (at == GGUF_TYPE_ARRAY)
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: %s: nested arrays are not supported (array of arrays at offset "
                           "%" PRIu64 ")",
                           path, what, r->pos - 4);
        if (at >= GGUF_TYPE_COUNT)
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: %s: unknown array element type %" PRIu64 " at offset %" PRIu64,
                           path, what, at, r->pos - 4);
        if (!rd_uint(r, 8, &n)) return fail_truncated(r, err, path, what, "array length");
        kv->arr_type = (gguf_type)at;
        kv->arr_n = n;
        if (at == GGUF_TYPE_STRING) {
            // Each string takes at least its 8-byte length field.
            if (n > rd_left(r) / 8)
                return rs_fail(err, RS_ERR_INPUT,
                               "%s: %s: array of %" PRIu64 " strings cannot fit in the %" PRIu64
                               " bytes left of the file",
                               path, what, n, rd_left(r));
            uint64_t *offs = malloc((size_t)(n ? n : 1) * sizeof *offs);
            if (!offs) return rs_fail(err, RS_ERR_RUNTIME, "%s: %s: out of memory", path, what);
            kv->arr_offsets = offs;
            for (uint64_t i = 0; i < n; i++) {
                offs[i] = r->pos;
                const uint8_t *s;
                uint64_t len;
                if (!rd_string(r, &s, &len)) {
                    char w[512];
                    snprintf(w, sizeof w, "%s: element %" PRIu64, what, i);
                    return fail_string(r, err, path, w);
                }
            }
            return RS_OK;
        }
        int esz = gguf_type_size((uint32_t)at);
        if (n > rd_left(r) / (uint64_t)esz)
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: %s: array of %" PRIu64 " %s values (%" PRIu64
                           " bytes each) runs past the end of the file (%" PRIu64 " bytes)",
                           path, what, n, gguf_type_name((uint32_t)at), (uint64_t)esz, r->size);
        kv->arr_data = r->data + r->pos;
        r->pos += n * (uint64_t)esz;
        if (at == GGUF_TYPE_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (kv->arr_data[i] > 1)
                    return rs_fail(err, RS_ERR_INPUT,
                                   "%s: %s: element %" PRIu64 " is a bool of value %u (not 0 or 1)",
                                   path, what, i, kv->arr_data[i]);
        return RS_OK;
    }
    if (sz == 0)
        return rs_fail(err, RS_ERR_INPUT, "%s: %s: unknown value type %" PRIu32, path, what, t);
    uint64_t v;
    if (!rd_uint(r, sz, &v)) return fail_truncated(r, err, path, what, "value");
    switch (t) {
    case GGUF_TYPE_UINT8:
    case GGUF_TYPE_UINT16:
    case GGUF_TYPE_UINT32:
    case GGUF_TYPE_UINT64:
        kv->v.u64 = v;
        break;
    case GGUF_TYPE_BOOL:
        if (v > 1)
            return rs_fail(err, RS_ERR_INPUT, "%s: %s: bool of value %" PRIu64 " (not 0 or 1)",
                           path, what, v);
        kv->v.u64 = v;
        break;
    case GGUF_TYPE_INT8:
        kv->v.i64 = (int8_t)(uint8_t)v;
        break;
    case GGUF_TYPE_INT16:
        kv->v.i64 = (int16_t)(uint16_t)v;
        break;
    case GGUF_TYPE_INT32:
        kv->v.i64 = (int32_t)(uint32_t)v;
        break;
    case GGUF_TYPE_INT64:
        kv->v.i64 = (int64_t)v;
        break;
    case GGUF_TYPE_FLOAT32: {
        uint32_t b = (uint32_t)v;
        float x;
        memcpy(&x, &b, 4);
        kv->v.f64 = x;
        break;
    }
    case GGUF_TYPE_FLOAT64:
        memcpy(&kv->v.f64, &v, 8);
        break;
    }
    return RS_OK;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Returns the first name that occurs twice, or NULL.
static const char *find_duplicate(char **names, uint64_t n, bool *oom)
{
    *oom = false;
    if (n < 2) return NULL;
    char **copy = malloc((size_t)n * sizeof *copy);
    if (!copy) {
        *oom = true;
        return NULL;
    }
    memcpy(copy, names, (size_t)n * sizeof *copy);
    qsort(copy, (size_t)n, sizeof *copy, cmp_str_ptr);
    const char *dup = NULL;
    for (uint64_t i = 1; i < n && !dup; i++)
        if (strcmp(copy[i - 1], copy[i]) == 0) dup = copy[i];
    free(copy);
    return dup;
}

static rs_status read_kvs(gguf_reader *r, gguf_file *f, rs_error *err)
{
    const char *path = f->path;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        gguf_kv *kv = &f->kv[i];
        char what[256];
        snprintf(what, sizeof what, "key #%" PRIu64, i);
        const uint8_t *s;
        uint64_t n;
        if (!rd_string(r, &s, &n)) return fail_string(r, err, path, what);
        char pb[512];
        if (n == 0) return rs_fail(err, RS_ERR_INPUT, "%s: %s: empty key", path, what);
        if (!name_valid(s, n))
            return rs_fail(err, RS_ERR_INPUT, "%s: key \"%s\": key is not valid UTF-8", path,
                           name_printable(pb, sizeof pb, s, n));
        kv->key = dup_bytes(s, n);
        if (!kv->key) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
        snprintf(what, sizeof what, "key \"%s\"", name_printable(pb, sizeof pb, s, n));
        uint64_t t;
        if (!rd_uint(r, 4, &t)) return fail_truncated(r, err, path, what, "value type");
        if (t >= GGUF_TYPE_COUNT)
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: %s: unknown value type %" PRIu64 " at offset %" PRIu64, path, what,
                           t, r->pos - 4);
        kv->type = (gguf_type)t;
        rs_status st = read_value(r, kv, (uint32_t)t, path, what, err);
        if (st != RS_OK) return st;
    }
    char **keys = malloc((size_t)(f->n_kv ? f->n_kv : 1) * sizeof *keys);
    if (!keys) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
    for (uint64_t i = 0; i < f->n_kv; i++)
        keys[i] = f->kv[i].key;
    bool oom;
    const char *dup = find_duplicate(keys, f->n_kv, &oom);
    rs_status st = RS_OK;
    if (oom)
        st = rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
    else if (dup) {
        char pb[512];
        st = rs_fail(err, RS_ERR_INPUT, "%s: key \"%s\": appears more than once", path,
                     name_printable(pb, sizeof pb, (const uint8_t *)dup, strlen(dup)));
    }
    free(keys);
    return st;
}

// The alignment comes from general.alignment when present.
static rs_status read_alignment(gguf_file *f, rs_error *err)
{
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *kv = gguf_find(f, "general.alignment");
    if (!kv) return RS_OK;
    if (kv->type != GGUF_TYPE_UINT32 && kv->type != GGUF_TYPE_UINT64 &&
        kv->type != GGUF_TYPE_UINT16 && kv->type != GGUF_TYPE_UINT8)
        return rs_fail(err, RS_ERR_INPUT, "%s: key \"general.alignment\": type %s, expected uint32",
                       f->path, gguf_type_name(kv->type));
    uint64_t a = kv->v.u64;
    // Beyond 1 GiB an alignment is surely corrupt, and capping it keeps the
    // padding arithmetic far from overflow.
    if (a == 0 || (a & (a - 1)) != 0 || a > (1ULL << 30))
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: key \"general.alignment\": %" PRIu64
                       " is not a power of two between 1 and 2^30",
                       f->path, a);
    f->alignment = a;
    return RS_OK;
}

static rs_status read_tensor_infos(gguf_reader *r, gguf_file *f, rs_error *err)
{
    const char *path = f->path;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor_info *ti = &f->tensors[i];
        char what[256], pb[512];
        snprintf(what, sizeof what, "tensor #%" PRIu64, i);
        const uint8_t *s;
        uint64_t n;
        if (!rd_string(r, &s, &n)) return fail_string(r, err, path, what);
        if (n == 0) return rs_fail(err, RS_ERR_INPUT, "%s: %s: empty name", path, what);
        if (!name_valid(s, n))
            return rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\": name is not valid UTF-8", path,
                           name_printable(pb, sizeof pb, s, n));
        ti->name = dup_bytes(s, n);
        if (!ti->name) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
        snprintf(what, sizeof what, "tensor \"%s\"", name_printable(pb, sizeof pb, s, n));

        uint64_t nd;
        if (!rd_uint(r, 4, &nd)) return fail_truncated(r, err, path, what, "n_dims");
        if (nd < 1 || nd > GGUF_MAX_DIMS)
            return rs_fail(err, RS_ERR_INPUT, "%s: %s: n_dims %" PRIu64 " is not between 1 and %d",
                           path, what, nd, GGUF_MAX_DIMS);
        ti->n_dims = (int)nd;
        int64_t n_elems = 1;
        for (int d = 0; d < 8; d++)
            ti->ne[d] = 1;
        for (int d = 0; d < (int)nd; d++) {
            uint64_t ne;
            if (!rd_uint(r, 8, &ne)) return fail_truncated(r, err, path, what, "dimension");
            if (ne > (uint64_t)INT64_MAX)
                return rs_fail(err, RS_ERR_INPUT,
                               "%s: %s: dimension %d is %" PRIu64 ", more than 2^63-1", path, what,
                               d, ne);
            ti->ne[d] = (int64_t)ne;
            if (ne != 0 && n_elems > INT64_MAX / (int64_t)ne)
                return rs_fail(err, RS_ERR_INPUT,
                               "%s: %s: the element count overflows (dimension %d is %" PRIu64 ")",
                               path, what, d, ne);
            n_elems *= (int64_t)ne;
        }
        ti->n_elems = n_elems;

        uint64_t t;
        if (!rd_uint(r, 4, &t)) return fail_truncated(r, err, path, what, "type");
        if (t >= DTYPE_GGML_COUNT || !dtype_valid((int)t))
            return rs_fail(err, RS_ERR_INPUT, "%s: %s: unknown ggml type %" PRIu64, path, what, t);
        ti->type = (dtype)t;
        int64_t nb = dtype_tensor_bytes(ti->type, ti->ne[0], n_elems);
        if (nb < 0)
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: %s: %s needs rows that are a multiple of %" PRId64
                           " elements, but ne[0] is %" PRId64 " (or the byte size overflows)",
                           path, what, dtype_name(ti->type), dtype_block_elems(ti->type),
                           ti->ne[0]);
        ti->nbytes = (uint64_t)nb;

        uint64_t off;
        if (!rd_uint(r, 8, &off)) return fail_truncated(r, err, path, what, "offset");
        // Keep the relative offset for now: the data section's start is
        // known only after the last tensor info.
        ti->offset = off;
    }
    return RS_OK;
}

static int cmp_tensor_ptr_offset(const void *a, const void *b)
{
    const gguf_tensor_info *x = *(const gguf_tensor_info *const *)a;
    const gguf_tensor_info *y = *(const gguf_tensor_info *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

// Places each tensor in the data section and checks that it lies inside the
// file, is aligned, and overlaps no other tensor; also that names are unique.
static rs_status place_tensors(gguf_file *f, rs_error *err)
{
    const char *path = f->path;
    char pb[512];
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor_info *ti = &f->tensors[i];
        const char *nm = name_printable(pb, sizeof pb, (const uint8_t *)ti->name, strlen(ti->name));
        uint64_t rel = ti->offset;
        if (rel % f->alignment != 0)
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: tensor \"%s\": offset %" PRIu64
                           " is not a multiple of the alignment (%" PRIu64 ")",
                           path, nm, rel, f->alignment);
        if (rel > f->size || f->data_offset > f->size - rel ||
            ti->nbytes > f->size - rel - f->data_offset) {
            // Report in absolute offsets; they may not fit in 64 bits, so
            // say so rather than wrap.
            if (rel > UINT64_MAX - f->data_offset || ti->nbytes > UINT64_MAX - f->data_offset - rel)
                return rs_fail(err, RS_ERR_INPUT,
                               "%s: tensor \"%s\": data offset %" PRIu64 " + %" PRIu64
                               " bytes lies past the end of the file (%" PRIu64 " bytes)",
                               path, nm, rel, ti->nbytes, f->size);
            uint64_t a = f->data_offset + rel;
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: tensor \"%s\": data [%" PRIu64 ", %" PRIu64
                           ") lies past the end of the file (%" PRIu64 " bytes)",
                           path, nm, a, a + ti->nbytes, f->size);
        }
        ti->offset = f->data_offset + rel;
    }
    if (f->n_tensors < 2) return RS_OK;

    gguf_tensor_info **sorted = malloc((size_t)f->n_tensors * sizeof *sorted);
    if (!sorted) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
    for (uint64_t i = 0; i < f->n_tensors; i++)
        sorted[i] = &f->tensors[i];
    qsort(sorted, (size_t)f->n_tensors, sizeof *sorted, cmp_tensor_ptr_offset);
    rs_status st = RS_OK;
    for (uint64_t i = 1; i < f->n_tensors; i++) {
        const gguf_tensor_info *a = sorted[i - 1], *b = sorted[i];
        // Zero-byte tensors occupy nothing and cannot overlap.
        if (a->nbytes && b->nbytes && a->offset + a->nbytes > b->offset) {
            char pb2[512];
            st = rs_fail(err, RS_ERR_INPUT,
                         "%s: tensor \"%s\": data [%" PRIu64 ", %" PRIu64
                         ") overlaps tensor \"%s\" [%" PRIu64 ", %" PRIu64 ")",
                         path,
                         name_printable(pb, sizeof pb, (const uint8_t *)b->name, strlen(b->name)),
                         b->offset, b->offset + b->nbytes,
                         name_printable(pb2, sizeof pb2, (const uint8_t *)a->name, strlen(a->name)),
                         a->offset, a->offset + a->nbytes);
            break;
        }
    }
    free(sorted);
    if (st != RS_OK) return st;

    char **names = malloc((size_t)f->n_tensors * sizeof *names);
    if (!names) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
    for (uint64_t i = 0; i < f->n_tensors; i++)
        names[i] = f->tensors[i].name;
    bool oom;
    const char *dup = find_duplicate(names, f->n_tensors, &oom);
    if (oom)
        st = rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
    else if (dup)
        st = rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\": name appears more than once", path,
                     name_printable(pb, sizeof pb, (const uint8_t *)dup, strlen(dup)));
    free(names);
    return st;
}

static rs_status parse_into(gguf_file *f, rs_error *err)
{
    const char *path = f->path;
    gguf_reader r = {f->data, f->size, 0};
    if (f->size < 4 || memcmp(f->data, GGUF_MAGIC, 4) != 0) {
        char pb[64];
        return rs_fail(err, RS_ERR_INPUT, "%s: not a GGUF file (magic \"%s\", expected \"GGUF\")",
                       path, name_printable(pb, sizeof pb, f->data, f->size < 4 ? f->size : 4));
    }
    r.pos = 4;
    uint64_t version;
    if (!rd_uint(&r, 4, &version)) return fail_truncated(&r, err, path, "header", "version");
    f->version = (uint32_t)version;
    if (version == 1)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: GGUF version 1 is not supported (only 2 and 3); re-convert with a "
                       "current llama.cpp",
                       path);
    if (version != 2 && version != 3) {
        // A big-endian GGUF stores the version byte-swapped.
        if (version == 0x02000000 || version == 0x03000000)
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: big-endian GGUF files are not supported (version field %#" PRIx64
                           ")",
                           path, version);
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: GGUF version %" PRIu64 " is not supported (only 2 and 3)", path,
                       version);
    }
    uint64_t nt, nkv;
    if (!rd_uint(&r, 8, &nt)) return fail_truncated(&r, err, path, "header", "tensor count");
    if (!rd_uint(&r, 8, &nkv)) return fail_truncated(&r, err, path, "header", "metadata count");
    uint64_t left = rd_left(&r);
    if (nkv > GGUF_MAX_KV)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: header: metadata count %" PRIu64 " is absurd (limit %u)", path, nkv,
                       GGUF_MAX_KV);
    if (nt > GGUF_MAX_TENSORS)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: header: tensor count %" PRIu64 " is absurd (limit %u)", path, nt,
                       GGUF_MAX_TENSORS);
    if (nkv > left / GGUF_MIN_KV_BYTES)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: header: metadata count %" PRIu64 " cannot fit in the %" PRIu64
                       " bytes left of the file",
                       path, nkv, left);
    if (nt > (left - nkv * GGUF_MIN_KV_BYTES) / GGUF_MIN_TENSOR_BYTES)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: header: tensor count %" PRIu64 " cannot fit in the %" PRIu64
                       " bytes left of the file",
                       path, nt, left);

    f->kv = calloc((size_t)(nkv ? nkv : 1), sizeof *f->kv);
    f->tensors = calloc((size_t)(nt ? nt : 1), sizeof *f->tensors);
    if (!f->kv || !f->tensors) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
    f->n_kv = nkv;
    f->n_tensors = nt;

    rs_status st = read_kvs(&r, f, err);
    if (st != RS_OK) return st;
    st = read_alignment(f, err);
    if (st != RS_OK) return st;
    st = read_tensor_infos(&r, f, err);
    if (st != RS_OK) return st;

    // The data section starts at the next multiple of the alignment. A file
    // without tensors (vocab-only) may end before that padding.
    uint64_t pad = (f->alignment - r.pos % f->alignment) % f->alignment;
    f->data_offset = r.pos + pad;
    if (f->n_tensors == 0 && f->data_offset > f->size) f->data_offset = f->size;
    return place_tensors(f, err);
}

static rs_status parse_common(gguf_file *f, gguf_file **out, rs_error *err)
{
    rs_status st = parse_into(f, err);
    if (st != RS_OK) {
        gguf_close(f);
        return st;
    }
    *out = f;
    return RS_OK;
}

rs_status gguf_parse(const uint8_t *data, uint64_t size, const char *name, gguf_file **out,
                     rs_error *err)
{
    *out = NULL;
    gguf_file *f = calloc(1, sizeof *f);
    if (!name) name = "(buffer)";
    if (!f) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", name);
    f->path = strdup(name);
    if (!f->path) {
        free(f);
        return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", name);
    }
    f->data = data;
    f->size = size;
    return parse_common(f, out, err);
}

rs_status gguf_open(const char *path, gguf_file **out, rs_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rs_fail(err, errno == ENOENT || errno == EACCES ? RS_ERR_INPUT : RS_ERR_RUNTIME,
                       "%s: cannot open: %s", path, strerror(errno));
    struct stat stt;
    if (fstat(fd, &stt) != 0) {
        int e = errno;
        close(fd);
        return rs_fail(err, RS_ERR_RUNTIME, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(stt.st_mode)) {
        close(fd);
        return rs_fail(err, RS_ERR_INPUT, "%s: not a regular file", path);
    }
    if (stt.st_size < 24) {
        close(fd);
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: header: file of %lld bytes is too short for a GGUF header (24 bytes)",
                       path, (long long)stt.st_size);
    }
    void *map = mmap(NULL, (size_t)stt.st_size, PROT_READ, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED)
        return rs_fail(err, RS_ERR_RUNTIME, "%s: cannot map: %s", path, strerror(e));
    gguf_file *f = calloc(1, sizeof *f);
    if (f) f->path = strdup(path);
    if (!f || !f->path) {
        free(f);
        munmap(map, (size_t)stt.st_size);
        return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
    }
    f->data = map;
    f->size = (uint64_t)stt.st_size;
    f->mapped = true;
    return parse_common(f, out, err);
}

const gguf_kv *gguf_find(const gguf_file *f, const char *key)
{
    if (!f || !key) return NULL;
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (f->kv[i].key && strcmp(f->kv[i].key, key) == 0) return &f->kv[i];
    return NULL;
}

const gguf_tensor_info *gguf_find_tensor(const gguf_file *f, const char *name)
{
    if (!f || !name) return NULL;
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const void *gguf_tensor_data(const gguf_file *f, const gguf_tensor_info *t)
{
    return f && t ? f->data + t->offset : NULL;
}

static bool type_is_unsigned(gguf_type t)
{
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 ||
           t == GGUF_TYPE_UINT64 || t == GGUF_TYPE_BOOL;
}

static bool type_is_signed(gguf_type t)
{
    return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 ||
           t == GGUF_TYPE_INT64;
}

bool gguf_get_int(const gguf_file *f, const char *key, int64_t *out)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return false;
    if (type_is_signed(kv->type)) {
        *out = kv->v.i64;
        return true;
    }
    if (type_is_unsigned(kv->type) && kv->v.u64 <= (uint64_t)INT64_MAX) {
        *out = (int64_t)kv->v.u64;
        return true;
    }
    return false;
}

bool gguf_get_float(const gguf_file *f, const char *key, double *out)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return false;
    if (kv->type == GGUF_TYPE_FLOAT32 || kv->type == GGUF_TYPE_FLOAT64) {
        *out = kv->v.f64;
        return true;
    }
    if (type_is_signed(kv->type)) {
        *out = (double)kv->v.i64;
        return true;
    }
    if (type_is_unsigned(kv->type)) {
        *out = (double)kv->v.u64;
        return true;
    }
    return false;
}

const char *gguf_get_str(const gguf_file *f, const char *key)
{
    const gguf_kv *kv = gguf_find(f, key);
    return kv && kv->type == GGUF_TYPE_STRING ? kv->str : NULL;
}

// Reads element i of a numeric array as raw little-endian bits.
static uint64_t arr_raw(const gguf_kv *kv, uint64_t i, int *size)
{
    *size = gguf_type_size(kv->arr_type);
    if (kv->type != GGUF_TYPE_ARRAY || !kv->arr_data || *size == 0 || i >= kv->arr_n) return 0;
    return load_le(kv->arr_data + i * (uint64_t)*size, *size);
}

int64_t gguf_arr_int(const gguf_kv *kv, uint64_t i)
{
    int sz;
    uint64_t v = arr_raw(kv, i, &sz);
    if (sz == 0) return 0;
    switch (kv->arr_type) {
    case GGUF_TYPE_INT8:
        return (int8_t)(uint8_t)v;
    case GGUF_TYPE_INT16:
        return (int16_t)(uint16_t)v;
    case GGUF_TYPE_INT32:
        return (int32_t)(uint32_t)v;
    case GGUF_TYPE_FLOAT32:
    case GGUF_TYPE_FLOAT64: {
        double d = gguf_arr_float(kv, i);
        // Out-of-range floats would be undefined to convert; clamp them.
        if (!(d > -9.2e18)) return d != d ? 0 : INT64_MIN;
        if (d > 9.2e18) return INT64_MAX;
        return (int64_t)d;
    }
    default:
        return (int64_t)v;
    }
}

double gguf_arr_float(const gguf_kv *kv, uint64_t i)
{
    int sz;
    uint64_t v = arr_raw(kv, i, &sz);
    if (sz == 0) return 0;
    switch (kv->arr_type) {
    case GGUF_TYPE_FLOAT32: {
        uint32_t b = (uint32_t)v;
        float x;
        memcpy(&x, &b, 4);
        return x;
    }
    case GGUF_TYPE_FLOAT64: {
        double x;
        memcpy(&x, &v, 8);
        return x;
    }
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_INT16:
    case GGUF_TYPE_INT32:
    case GGUF_TYPE_INT64:
        return (double)gguf_arr_int(kv, i);
    default:
        return (double)v;
    }
}

const char *gguf_arr_str(const gguf_file *f, const gguf_kv *kv, uint64_t i, uint64_t *len)
{
    if (!f || !kv || kv->type != GGUF_TYPE_ARRAY || kv->arr_type != GGUF_TYPE_STRING ||
        !kv->arr_offsets || i >= kv->arr_n) {
        if (len) *len = 0;
        return NULL;
    }
    uint64_t off = kv->arr_offsets[i];
    uint64_t n = load_le(f->data + off, 8);
    if (len) *len = n;
    return (const char *)(f->data + off + 8);
}
