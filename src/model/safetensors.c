#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "model/name_check.h"

// The safetensors dtype strings (case-sensitive, as the format writes them).
static const struct {
    const char *name;
    dtype type;
} st_dtypes[] = {
    {"F64", DTYPE_F64},   {"F32", DTYPE_F32},         {"F16", DTYPE_F16},
    {"BF16", DTYPE_BF16}, {"I64", DTYPE_I64},         {"I32", DTYPE_I32},
    {"I16", DTYPE_I16},   {"I8", DTYPE_I8},           {"U8", DTYPE_U8},
    {"BOOL", DTYPE_BOOL}, {"F8_E4M3", DTYPE_F8_E4M3}, {"F8_E5M2", DTYPE_F8_E5M2},
    {"U16", DTYPE_U16},   {"U32", DTYPE_U32},         {"U64", DTYPE_U64},
};

// Integers in the header must be exact in a double: beyond 2^53 cJSON has
// already rounded them, and no real file has a dimension or offset that big.
#define ST_MAX_EXACT 9007199254740992.0

void st_close(st_file *f)
{
    if (!f) return;
    if (f->tensors)
        for (int64_t i = 0; i < f->n_tensors; i++)
            free(f->tensors[i].name);
    free(f->tensors);
    free(f->path);
    free(f);
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    if (!f || !name) return NULL;
    for (int64_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

// A JSON number that is a non-negative integer below 2^53.
static bool json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j)) return false;
    double d = j->valuedouble;
    if (!(d >= 0) || d >= ST_MAX_EXACT || floor(d) != d) return false;
    *out = (uint64_t)d;
    return true;
}

static const char *json_kind(const cJSON *j)
{
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    return "invalid";
}

// Fills t from the header entry j; tn is the printable name for messages.
static rs_status read_tensor(const st_file *f, const cJSON *j, const char *tn, st_tensor *t,
                             rs_error *err)
{
    const char *path = f->path;
    uint64_t data_size = f->file_size - f->data_offset;
    if (!cJSON_IsObject(j))
        return rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\": entry is %s, expected an object",
                       path, tn, json_kind(j));

    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    if (!jd) return rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\": no \"dtype\"", path, tn);
    if (!cJSON_IsString(jd))
        return rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\": dtype is %s, expected a string", path,
                       tn, json_kind(jd));
    int ty = -1;
    for (size_t k = 0; k < sizeof st_dtypes / sizeof *st_dtypes; k++)
        if (strcmp(jd->valuestring, st_dtypes[k].name) == 0) ty = (int)st_dtypes[k].type;
    if (ty < 0) {
        char pb[512];
        return rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\": unknown dtype \"%s\"", path, tn,
                       name_printable(pb, sizeof pb, (const uint8_t *)jd->valuestring,
                                      strlen(jd->valuestring)));
    }
    t->type = (dtype)ty;

    const cJSON *js = cJSON_GetObjectItemCaseSensitive(j, "shape");
    if (!js) return rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\": no \"shape\"", path, tn);
    if (!cJSON_IsArray(js))
        return rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\": shape is %s, expected an array", path,
                       tn, json_kind(js));
    int nd = cJSON_GetArraySize(js);
    if (nd > ST_MAX_DIMS)
        return rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\": shape has %d dimensions (max %d)",
                       path, tn, nd, ST_MAX_DIMS);
    t->n_dims = nd;
    int64_t n = 1;
    int d = 0;
    for (const cJSON *e = js->child; e; e = e->next, d++) {
        uint64_t v;
        if (!json_uint(e, &v))
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: tensor \"%s\": shape[%d] is not a non-negative integer below 2^53",
                           path, tn, d);
        t->shape[d] = (int64_t)v;
        if (v != 0 && n > INT64_MAX / (int64_t)v)
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: tensor \"%s\": shape: the element count overflows at shape[%d]",
                           path, tn, d);
        n *= (int64_t)v;
    }
    t->n_elems = n;

    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
    if (!jo) return rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\": no \"data_offsets\"", path, tn);
    uint64_t b, e;
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || !json_uint(jo->child, &b) ||
        !json_uint(jo->child->next, &e))
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: tensor \"%s\": data_offsets is not [begin, end] of two non-negative "
                       "integers",
                       path, tn);
    if (b > e)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: tensor \"%s\": data_offsets [%" PRIu64 ", %" PRIu64
                       "] end before they begin",
                       path, tn, b, e);
    // Element sizes are at most 8 and n < 2^63, so compare without
    // overflowing: the byte size must equal the span exactly.
    uint64_t esz = (uint64_t)dtype_block_bytes(t->type);
    if ((uint64_t)n > (e - b) / esz || (uint64_t)n * esz != e - b)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: tensor \"%s\": data_offsets [%" PRIu64 ", %" PRIu64 ") hold %" PRIu64
                       " bytes, but shape x %s needs %" PRId64 " x %" PRIu64 " bytes",
                       path, tn, b, e, e - b, dtype_name(t->type), n, esz);
    if (e > data_size)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: tensor \"%s\": data_offsets [%" PRIu64 ", %" PRIu64
                       ") lie past the end of the data section (%" PRIu64
                       " bytes; the file has %" PRIu64 ")",
                       path, tn, b, e, data_size, f->file_size);
    t->begin = f->data_offset + b;
    t->end = f->data_offset + e;
    return RS_OK;
}

static int cmp_begin(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_name(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static const char *tname(char *pb, size_t n, const st_tensor *t)
{
    return name_printable(pb, n, (const uint8_t *)t->name, strlen(t->name));
}

// No two tensors share bytes, and no name occurs twice.
static rs_status check_layout(st_file *f, rs_error *err)
{
    if (f->n_tensors < 2) return RS_OK;
    st_tensor **s = malloc((size_t)f->n_tensors * sizeof *s);
    if (!s) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", f->path);
    for (int64_t i = 0; i < f->n_tensors; i++)
        s[i] = &f->tensors[i];
    rs_status st = RS_OK;
    char p1[512], p2[512];
    qsort(s, (size_t)f->n_tensors, sizeof *s, cmp_name);
    for (int64_t i = 1; i < f->n_tensors && st == RS_OK; i++)
        if (strcmp(s[i - 1]->name, s[i]->name) == 0)
            st = rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\": name appears more than once",
                         f->path, tname(p1, sizeof p1, s[i]));
    qsort(s, (size_t)f->n_tensors, sizeof *s, cmp_begin);
    // Zero-byte tensors occupy nothing and cannot overlap.
    const st_tensor *prev = NULL;
    for (int64_t i = 0; i < f->n_tensors && st == RS_OK; i++) {
        const st_tensor *t = s[i];
        if (t->begin == t->end) continue;
        if (prev && prev->end > t->begin)
            st = rs_fail(err, RS_ERR_INPUT,
                         "%s: tensor \"%s\": data [%" PRIu64 ", %" PRIu64
                         ") overlaps tensor \"%s\" [%" PRIu64 ", %" PRIu64 ")",
                         f->path, tname(p1, sizeof p1, t), t->begin, t->end,
                         tname(p2, sizeof p2, prev), prev->begin, prev->end);
        prev = t;
    }
    free(s);
    return st;
}

static rs_status parse_json(st_file *f, const char *json, uint64_t json_len, rs_error *err)
{
    const char *path = f->path;
    // cJSON wants a NUL-terminated string; copy, so that the caller's buffer
    // (a fuzzer's, say) need not be.
    char *text = malloc((size_t)json_len + 1);
    if (!text) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
    memcpy(text, json, (size_t)json_len);
    text[json_len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)json_len, &end, false);
    if (!root) {
        uint64_t at = end && end >= text ? (uint64_t)(end - text) : 0;
        free(text);
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: header: invalid JSON near byte %" PRIu64 " of %" PRIu64, path, at,
                       json_len);
    }
    // The format pads the header with spaces; anything else after the JSON
    // value is an error.
    uint64_t tail = end ? (uint64_t)(end - text) : json_len;
    for (uint64_t i = tail; i < json_len; i++) {
        char c = text[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            cJSON_Delete(root);
            free(text);
            return rs_fail(err, RS_ERR_INPUT,
                           "%s: header: unexpected byte 0x%02x after the JSON object at byte "
                           "%" PRIu64,
                           path, (unsigned char)c, i);
        }
    }
    free(text);
    rs_status st = RS_OK;
    if (!cJSON_IsObject(root)) {
        st = rs_fail(err, RS_ERR_INPUT, "%s: header: JSON is %s, expected an object", path,
                     json_kind(root));
        goto done;
    }
    int64_t n = 0;
    for (const cJSON *e = root->child; e; e = e->next)
        if (!e->string || strcmp(e->string, "__metadata__") != 0) n++;
    f->tensors = calloc((size_t)(n ? n : 1), sizeof *f->tensors);
    if (!f->tensors) {
        st = rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
        goto done;
    }
    for (const cJSON *e = root->child; e; e = e->next) {
        char pb[512];
        const char *key = e->string ? e->string : "";
        size_t klen = strlen(key);
        const char *tn = name_printable(pb, sizeof pb, (const uint8_t *)key, klen);
        if (strcmp(key, "__metadata__") == 0) {
            if (!cJSON_IsObject(e)) {
                st = rs_fail(err, RS_ERR_INPUT, "%s: __metadata__ is %s, expected an object", path,
                             json_kind(e));
                goto done;
            }
            for (const cJSON *m = e->child; m; m = m->next)
                if (!cJSON_IsString(m)) {
                    char mb[512];
                    const char *mk = m->string ? m->string : "";
                    st = rs_fail(err, RS_ERR_INPUT,
                                 "%s: __metadata__ \"%s\": value is %s, expected a string", path,
                                 name_printable(mb, sizeof mb, (const uint8_t *)mk, strlen(mk)),
                                 json_kind(m));
                    goto done;
                }
            continue;
        }
        if (klen == 0) {
            st = rs_fail(err, RS_ERR_INPUT, "%s: tensor \"\": empty name", path);
            goto done;
        }
        if (!name_valid((const uint8_t *)key, klen)) {
            st = rs_fail(err, RS_ERR_INPUT, "%s: tensor \"%s\": name is not valid UTF-8", path, tn);
            goto done;
        }
        st_tensor *t = &f->tensors[f->n_tensors];
        t->name = strdup(key);
        if (!t->name) {
            st = rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", path);
            goto done;
        }
        f->n_tensors++;
        st = read_tensor(f, e, tn, t, err);
        if (st != RS_OK) goto done;
    }
    st = check_layout(f, err);
done:
    cJSON_Delete(root);
    return st;
}

rs_status st_parse_header(const char *name, const char *json, uint64_t json_len, uint64_t file_size,
                          st_file **out, rs_error *err)
{
    *out = NULL;
    if (!name) name = "(buffer)";
    if (json_len > ST_MAX_HEADER_SIZE)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: header: length %" PRIu64 " is more than the limit of %llu bytes", name,
                       json_len, ST_MAX_HEADER_SIZE);
    if (file_size < 8 || json_len > file_size - 8)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: header: length %" PRIu64 " runs past the end of the file (%" PRIu64
                       " bytes)",
                       name, json_len, file_size);
    st_file *f = calloc(1, sizeof *f);
    if (!f) return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", name);
    f->path = strdup(name);
    if (!f->path) {
        free(f);
        return rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory", name);
    }
    f->file_size = file_size;
    f->header_len = json_len;
    f->data_offset = 8 + json_len;
    rs_status st = parse_json(f, json, json_len, err);
    if (st != RS_OK) {
        st_close(f);
        return st;
    }
    *out = f;
    return RS_OK;
}

static uint64_t load_u64_le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static rs_status fail_short(const char *name, uint64_t size, rs_error *err)
{
    return rs_fail(err, RS_ERR_INPUT,
                   "%s: header: file of %" PRIu64
                   " bytes is too short for a safetensors header length (8 bytes)",
                   name, size);
}

rs_status st_parse_image(const char *name, const uint8_t *data, uint64_t size, st_file **out,
                         rs_error *err)
{
    *out = NULL;
    if (!name) name = "(buffer)";
    if (size < 8) return fail_short(name, size, err);
    // st_parse_header checks the length against the size before reading.
    uint64_t len = load_u64_le(data);
    if (len > ST_MAX_HEADER_SIZE || len > size - 8)
        return st_parse_header(name, "", len, size, out, err);
    return st_parse_header(name, (const char *)data + 8, len, size, out, err);
}

// Reads exactly n bytes at off; false with errno set (0 for end of file).
static bool pread_full(int fd, void *buf, size_t n, off_t off)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = pread(fd, p, n, off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) errno = 0;
            return false;
        }
        p += k;
        n -= (size_t)k;
        off += k;
    }
    return true;
}

rs_status st_open(const char *path, st_file **out, rs_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rs_fail(err, errno == ENOENT || errno == EACCES ? RS_ERR_INPUT : RS_ERR_RUNTIME,
                       "%s: cannot open: %s", path, strerror(errno));
    rs_status st = RS_OK;
    char *json = NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = rs_fail(err, RS_ERR_RUNTIME, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = rs_fail(err, RS_ERR_INPUT, "%s: not a regular file", path);
        goto done;
    }
    uint64_t size = (uint64_t)sb.st_size;
    uint8_t lenb[8];
    if (size < 8) {
        st = fail_short(path, size, err);
        goto done;
    }
    if (!pread_full(fd, lenb, 8, 0)) {
        st = rs_fail(err, RS_ERR_RUNTIME, "%s: cannot read: %s", path,
                     errno ? strerror(errno) : "file shrank");
        goto done;
    }
    uint64_t len = load_u64_le(lenb);
    // Check the length before allocating for it (st_parse_header fails on
    // these lengths before it reads the text).
    if (len > ST_MAX_HEADER_SIZE || len > size - 8) {
        st = st_parse_header(path, "", len, size, out, err);
        goto done;
    }
    json = malloc((size_t)len + 1);
    if (!json) {
        st = rs_fail(err, RS_ERR_RUNTIME, "%s: out of memory for a %" PRIu64 "-byte header", path,
                     len);
        goto done;
    }
    if (!pread_full(fd, json, (size_t)len, 8)) {
        st = rs_fail(err, RS_ERR_RUNTIME, "%s: cannot read the header: %s", path,
                     errno ? strerror(errno) : "file shrank");
        goto done;
    }
    st = st_parse_header(path, json, len, size, out, err);
done:
    free(json);
    close(fd);
    return st;
}
