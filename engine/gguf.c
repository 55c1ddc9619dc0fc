/* gguf.c - see gguf.h. */
#include "gguf.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define MAX_KEY_BYTES 65536
#define MAX_STRING_BYTES (1ull << 30)

/* ---- GGML type sizes ---- */

typedef struct type_row {
    const char *name;
    int block;
    size_t bytes;
} type_row;

static const type_row upstream_types[] = {
    [0] = {"F32", 1, 4},          [1] = {"F16", 1, 2},          [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},       [6] = {"Q5_0", 32, 22},       [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},       [9] = {"Q8_1", 32, 36},       [10] = {"Q2_K", 256, 84},
    [11] = {"Q3_K", 256, 110},    [12] = {"Q4_K", 256, 144},    [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210},    [15] = {"Q8_K", 256, 292},    [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74},   [18] = {"IQ3_XXS", 256, 98},  [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},    [21] = {"IQ3_S", 256, 110},   [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136},  [24] = {"I8", 1, 1},          [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},         [27] = {"I64", 1, 8},         [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},    [30] = {"BF16", 1, 2},        [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},    [39] = {"MXFP4", 32, 17},
};

int tb_ggml_type_info(uint32_t type, bool bitnet, int *block, size_t *bytes, const char **name)
{
    if (bitnet && type >= 36 && type <= 39) {
        if (type == TB_GGML_I2_S) { /* 4 values per byte; the tensor adds 32 bytes */
            *block = 4;
            *bytes = 1;
            *name = "I2_S";
            return 1;
        }
        return 0; /* TL1/TL2: per-shape layouts bitnet.cpp generates; not readable */
    }
    if (type >= sizeof upstream_types / sizeof upstream_types[0] || !upstream_types[type].name)
        return 0;
    *block = upstream_types[type].block;
    *bytes = upstream_types[type].bytes;
    *name = upstream_types[type].name;
    return 1;
}

size_t tb_ggml_tensor_bytes(uint32_t type, bool bitnet, uint64_t n)
{
    int block;
    size_t bytes;
    const char *name;
    if (!tb_ggml_type_info(type, bitnet, &block, &bytes, &name) || n % (uint64_t)block)
        return 0;
    if (n / (uint64_t)block > SIZE_MAX / bytes / 2)
        return 0;
    size_t size = (size_t)(n / (uint64_t)block) * bytes;
    if (bitnet && type == TB_GGML_I2_S)
        size += 32; /* float scale + 28 pad bytes */
    return size;
}

/* ---- the reader ---- */

typedef struct cursor {
    const uint8_t *p;
    size_t size, pos;
    const char *name;
    tb_error *err;
} cursor;

static int fail(cursor *c, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(cursor *c, size_t at, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tb_error_set(c->err, TB_EINVAL, "%s: byte %zu: %s", c->name, at, msg);
}

static int need(cursor *c, size_t n, const char *what)
{
    if (c->size - c->pos < n)
        return fail(c, c->pos, "%s needs %zu bytes but the file ends after %zu (truncated file?)",
                    what, n, c->size - c->pos);
    return TB_OK;
}

static int rd_u32(cursor *c, uint32_t *v, const char *what)
{
    int rc = need(c, 4, what);
    if (rc == TB_OK) {
        memcpy(v, c->p + c->pos, 4);
        c->pos += 4;
    }
    return rc;
}

static int rd_u64(cursor *c, uint64_t *v, const char *what)
{
    int rc = need(c, 8, what);
    if (rc == TB_OK) {
        memcpy(v, c->p + c->pos, 8);
        c->pos += 8;
    }
    return rc;
}

static int rd_str(cursor *c, tb_gguf_str *s, uint64_t max, const char *what)
{
    uint64_t len;
    size_t at = c->pos;
    int rc = rd_u64(c, &len, what);
    if (rc != TB_OK)
        return rc;
    if (len > max || len > c->size - c->pos)
        return fail(c, at, "%s claims %llu bytes; %zu remain", what, (unsigned long long)len,
                    c->size - c->pos);
    s->ptr = (const char *)c->p + c->pos;
    s->len = len;
    c->pos += (size_t)len;
    return TB_OK;
}

static char *dup_str(tb_gguf_str s)
{
    char *d = malloc((size_t)s.len + 1);
    if (d) {
        memcpy(d, s.ptr, (size_t)s.len);
        d[s.len] = '\0';
    }
    return d;
}

static size_t scalar_size(uint32_t t)
{
    static const size_t sz[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < sizeof sz / sizeof sz[0] ? sz[t] : 0;
}

static const char *type_name(uint32_t t)
{
    static const char *const names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32",
                                        "float32", "bool", "string", "array", "uint64", "int64",
                                        "float64"};
    return t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

static int read_scalar(cursor *c, tb_gguf_kv *kv)
{
    size_t n = scalar_size(kv->type);
    int rc = need(c, n, kv->key);
    if (rc != TB_OK)
        return rc;
    const uint8_t *p = c->p + c->pos;
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
            float f32; uint64_t u64; int64_t i64; double f64; } u;
    memcpy(&u, p, n);
    switch (kv->type) {
    case TB_GGUF_UINT8: kv->v.u64 = u.u8; break;
    case TB_GGUF_BOOL:
        if (u.u8 > 1)
            return fail(c, c->pos, "%s: bool holds %u, not 0 or 1", kv->key, u.u8);
        kv->v.u64 = u.u8;
        break;
    case TB_GGUF_INT8: kv->v.i64 = u.i8; break;
    case TB_GGUF_UINT16: kv->v.u64 = u.u16; break;
    case TB_GGUF_INT16: kv->v.i64 = u.i16; break;
    case TB_GGUF_UINT32: kv->v.u64 = u.u32; break;
    case TB_GGUF_INT32: kv->v.i64 = u.i32; break;
    case TB_GGUF_FLOAT32: kv->v.f64 = u.f32; break;
    case TB_GGUF_UINT64: kv->v.u64 = u.u64; break;
    case TB_GGUF_INT64: kv->v.i64 = u.i64; break;
    case TB_GGUF_FLOAT64: kv->v.f64 = u.f64; break;
    default: break;
    }
    c->pos += n;
    return TB_OK;
}

static int read_value(cursor *c, tb_gguf_kv *kv)
{
    if (kv->type == TB_GGUF_STRING)
        return rd_str(c, &kv->v.str, MAX_STRING_BYTES, kv->key);
    if (kv->type != TB_GGUF_ARRAY)
        return read_scalar(c, kv);
    uint32_t et;
    size_t at = c->pos;
    int rc = rd_u32(c, &et, "array element type");
    if (rc == TB_OK)
        rc = rd_u64(c, &kv->arr_count, "array length");
    if (rc != TB_OK)
        return rc;
    kv->arr_type = (tb_gguf_type)et;
    kv->arr_data = c->p + c->pos;
    if (et == TB_GGUF_ARRAY)
        return fail(c, at, "%s: arrays of arrays are not supported", kv->key);
    if (et == TB_GGUF_STRING) {
        /* every string costs at least its 8-byte length */
        if (kv->arr_count > (c->size - c->pos) / 8)
            return fail(c, at, "%s: %llu strings cannot fit in the %zu bytes left", kv->key,
                        (unsigned long long)kv->arr_count, c->size - c->pos);
        for (uint64_t i = 0; i < kv->arr_count; i++) {
            tb_gguf_str s;
            if ((rc = rd_str(c, &s, MAX_STRING_BYTES, kv->key)) != TB_OK)
                return rc;
        }
    } else {
        size_t es = scalar_size(et);
        if (!es)
            return fail(c, at, "%s: array element type %u is not a GGUF type", kv->key, et);
        if (kv->arr_count > (c->size - c->pos) / es)
            return fail(c, at, "%s: %llu elements of %zu bytes cannot fit in the %zu bytes left",
                        kv->key, (unsigned long long)kv->arr_count, es, c->size - c->pos);
        c->pos += (size_t)kv->arr_count * es;
    }
    kv->arr_bytes = (size_t)(c->p + c->pos - kv->arr_data);
    return TB_OK;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* Finds a repeated name among n names (each at base + i * stride). */
static const char *find_duplicate(const void *base, size_t n, size_t stride)
{
    if (n < 2)
        return NULL;
    char ***idx = malloc(n * sizeof *idx);
    if (!idx)
        return NULL;
    for (size_t i = 0; i < n; i++)
        idx[i] = (char **)((const char *)base + i * stride);
    qsort(idx, n, sizeof *idx, cmp_str_ptr);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (strcmp(*idx[i - 1], *idx[i]) == 0)
            dup = *idx[i];
    free(idx);
    return dup;
}

static int cmp_offset(const void *a, const void *b)
{
    const tb_gguf_tensor *x = *(const tb_gguf_tensor *const *)a, *y = *(const tb_gguf_tensor *const *)b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

static bool is_bitnet_arch(const char *arch)
{
    return !strcmp(arch, "bitnet-b1.58") || !strcmp(arch, "bitnet-25") || !strcmp(arch, "bitnet");
}

static int parse_tensors(cursor *c, tb_gguf *g)
{
    int rc;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        tb_gguf_tensor *t = &g->tensors[i];
        size_t at = c->pos;
        tb_gguf_str name;
        uint32_t nd;
        if ((rc = rd_str(c, &name, 4096, "tensor name")) != TB_OK)
            return rc;
        if (!(t->name = dup_str(name)))
            return tb_error_set(c->err, TB_ENOMEM, "%s: out of memory", c->name);
        if ((rc = rd_u32(c, &nd, t->name)) != TB_OK)
            return rc;
        if (nd < 1 || nd > 4)
            return fail(c, at, "tensor %llu (%s): %u dimensions; GGUF tensors have 1 to 4",
                        (unsigned long long)i, t->name, nd);
        t->n_dims = (int)nd;
        uint64_t n = 1;
        for (int d = 0; d < 4; d++) {
            t->ne[d] = 1;
            if (d < (int)nd && (rc = rd_u64(c, &t->ne[d], t->name)) != TB_OK)
                return rc;
            if (t->ne[d] == 0 || t->ne[d] > (1ull << 40) || n > (1ull << 62) / t->ne[d])
                return fail(c, at, "tensor %s: dimension %d is %llu: zero or absurdly large", t->name,
                            d, (unsigned long long)t->ne[d]);
            n *= t->ne[d];
        }
        if ((rc = rd_u32(c, &t->type, t->name)) != TB_OK || (rc = rd_u64(c, &t->offset, t->name)) != TB_OK)
            return rc;
        int block;
        size_t bytes;
        /* Upstream llama.cpp has never written id 36 to a file (it named a
         * layout repacked in memory): a tensor of that type makes this a
         * file of bitnet.cpp's family whatever its architecture (its llama
         * files of Falcon3 and Llama3 1.58-bit models), where 36 is I2_S. */
        if (t->type == TB_GGML_I2_S && !g->bitnet_types) {
            for (uint64_t j = 0; j < i; j++)
                if (g->tensors[j].type > TB_GGML_I2_S)
                    return fail(c, at, "tensor %s: I2_S (bitnet.cpp's id 36) after tensor %s of "
                                "upstream type %u: a file mixing the two families", t->name,
                                g->tensors[j].name, g->tensors[j].type);
            g->bitnet_types = true;
        }
        if (!tb_ggml_type_info(t->type, g->bitnet_types, &block, &bytes, &t->type_name))
            return fail(c, at, "tensor %s: GGML type %u is not one this build knows%s", t->name,
                        t->type, g->bitnet_types && t->type >= 36
                                     ? " (bitnet.cpp's TL1/TL2 are per-shape layouts: convert the "
                                       "model to I2_S)"
                                     : "");
        if (t->ne[0] % (uint64_t)block)
            return fail(c, at, "tensor %s: row length %llu is not a multiple of %s's block of %d",
                        t->name, (unsigned long long)t->ne[0], t->type_name, block);
        t->size = tb_ggml_tensor_bytes(t->type, g->bitnet_types, n);
        if (!t->size)
            return fail(c, at, "tensor %s: %llu values do not fit %s", t->name,
                        (unsigned long long)n, t->type_name);
        if (t->offset % g->alignment)
            return fail(c, at, "tensor %s: data offset %llu is not a multiple of the alignment %zu",
                        t->name, (unsigned long long)t->offset, g->alignment);
    }
    return TB_OK;
}

static int check_data(cursor *c, tb_gguf *g)
{
    g->data_offset = (c->pos + g->alignment - 1) / g->alignment * g->alignment;
    if (g->data_offset > c->size && g->n_tensors > 0)
        return fail(c, c->pos, "the data section (at %zu) starts past the end of the file",
                    g->data_offset);
    size_t avail = c->size > g->data_offset ? c->size - g->data_offset : 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        tb_gguf_tensor *t = &g->tensors[i];
        if (t->offset > avail || t->size > avail - t->offset)
            return tb_error_set(c->err, TB_EINVAL,
                                "%s: tensor %s: its %zu bytes at data offset %llu run past the end "
                                "of the file (%zu data bytes; truncated file?)",
                                c->name, t->name, t->size, (unsigned long long)t->offset, avail);
        t->data = c->p + g->data_offset + t->offset;
    }
    const tb_gguf_tensor **by_off = malloc((size_t)g->n_tensors * sizeof *by_off + 1);
    if (!by_off)
        return tb_error_set(c->err, TB_ENOMEM, "%s: out of memory", c->name);
    for (uint64_t i = 0; i < g->n_tensors; i++)
        by_off[i] = &g->tensors[i];
    qsort(by_off, (size_t)g->n_tensors, sizeof *by_off, cmp_offset);
    int rc = TB_OK;
    for (uint64_t i = 1; i < g->n_tensors && rc == TB_OK; i++)
        if (by_off[i - 1]->offset + by_off[i - 1]->size > by_off[i]->offset)
            rc = tb_error_set(c->err, TB_EINVAL, "%s: tensors %s and %s overlap", c->name,
                              by_off[i - 1]->name, by_off[i]->name);
    free(by_off);
    return rc;
}

static int parse(cursor *c, tb_gguf *g)
{
    uint32_t magic;
    int rc;
    if ((rc = rd_u32(c, &magic, "magic")) != TB_OK)
        return rc;
    if (magic != GGUF_MAGIC)
        return fail(c, 0, "not a GGUF file (magic 0x%08x, expected \"GGUF\")", magic);
    if ((rc = rd_u32(c, &g->version, "version")) != TB_OK)
        return rc;
    if (g->version != 2 && g->version != 3)
        return fail(c, 4, "GGUF version %u; ternbench reads versions 2 and 3 (re-convert "
                    "older files with a current llama.cpp)", g->version);
    if ((rc = rd_u64(c, &g->n_tensors, "tensor count")) != TB_OK ||
        (rc = rd_u64(c, &g->n_kv, "metadata count")) != TB_OK)
        return rc;
    /* each key-value takes >= 13 bytes and each tensor info >= 33: the counts
     * cannot exceed what the file could hold */
    if (g->n_kv > (c->size - c->pos) / 13)
        return fail(c, 16, "metadata count %llu cannot fit in a %zu-byte file",
                    (unsigned long long)g->n_kv, c->size);
    if (g->n_tensors > (c->size - c->pos) / 33)
        return fail(c, 8, "tensor count %llu cannot fit in a %zu-byte file",
                    (unsigned long long)g->n_tensors, c->size);
    g->kv = calloc((size_t)g->n_kv + 1, sizeof *g->kv);
    g->tensors = calloc((size_t)g->n_tensors + 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors)
        return tb_error_set(c->err, TB_ENOMEM, "%s: out of memory", c->name);
    g->alignment = 32;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        tb_gguf_kv *kv = &g->kv[i];
        tb_gguf_str key;
        uint32_t type;
        size_t at = c->pos;
        if ((rc = rd_str(c, &key, MAX_KEY_BYTES, "metadata key")) != TB_OK)
            return rc;
        if (!(kv->key = dup_str(key)))
            return tb_error_set(c->err, TB_ENOMEM, "%s: out of memory", c->name);
        if ((rc = rd_u32(c, &type, kv->key)) != TB_OK)
            return rc;
        if (type > TB_GGUF_FLOAT64)
            return fail(c, at, "metadata %s: type %u is not a GGUF value type", kv->key, type);
        kv->type = (tb_gguf_type)type;
        if ((rc = read_value(c, kv)) != TB_OK)
            return rc;
        if (!strcmp(kv->key, "general.alignment")) {
            if (kv->type != TB_GGUF_UINT32 || kv->v.u64 == 0 || kv->v.u64 > 65536 ||
                (kv->v.u64 & (kv->v.u64 - 1)))
                return fail(c, at, "general.alignment must be a uint32 power of two up to 65536");
            g->alignment = (size_t)kv->v.u64;
        }
        if (!strcmp(kv->key, "general.architecture") && kv->type == TB_GGUF_STRING) {
            char arch[64];
            snprintf(arch, sizeof arch, "%.*s", (int)(kv->v.str.len < 63 ? kv->v.str.len : 63),
                     kv->v.str.ptr);
            g->bitnet_types = is_bitnet_arch(arch);
        }
    }
    const char *dup = find_duplicate(g->kv, (size_t)g->n_kv, sizeof *g->kv);
    if (dup)
        return tb_error_set(c->err, TB_EINVAL, "%s: metadata key %s appears twice", c->name, dup);
    if ((rc = parse_tensors(c, g)) != TB_OK)
        return rc;
    dup = find_duplicate(g->tensors, (size_t)g->n_tensors, sizeof *g->tensors);
    if (dup)
        return tb_error_set(c->err, TB_EINVAL, "%s: tensor %s appears twice", c->name, dup);
    return check_data(c, g);
}

int tb_gguf_parse(const void *buf, size_t size, const char *name, tb_gguf **out, tb_error *err)
{
    tb_gguf *g = calloc(1, sizeof *g);
    if (!g)
        return tb_error_set(err, TB_ENOMEM, "%s: out of memory", name);
    snprintf(g->path, sizeof g->path, "%s", name);
    g->base = buf;
    g->size = size;
    cursor c = {buf, size, 0, g->path, err};
    int rc = parse(&c, g);
    if (rc != TB_OK) {
        tb_gguf_close(g);
        return rc;
    }
    *out = g;
    return TB_OK;
}

int tb_gguf_open(const char *path, tb_gguf **out, tb_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tb_error_set(err, errno == ENOENT ? TB_EINVAL : TB_EIO, "%s: %s", path,
                            strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tb_error_set(err, TB_EINVAL, "%s: not a regular file", path);
    }
    if (st.st_size < 24) {
        close(fd);
        return tb_error_set(err, TB_EINVAL, "%s: %lld bytes is too short for a GGUF header (24)",
                            path, (long long)st.st_size);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return tb_error_set(err, TB_EIO, "%s: mmap: %s", path, strerror(errno));
    int rc = tb_gguf_parse(map, (size_t)st.st_size, path, out, err);
    if (rc != TB_OK) {
        munmap(map, (size_t)st.st_size);
        return rc;
    }
    (*out)->map = map;
    return TB_OK;
}

void tb_gguf_close(tb_gguf *g)
{
    if (!g)
        return;
    for (uint64_t i = 0; g->kv && i < g->n_kv; i++)
        free(g->kv[i].key);
    for (uint64_t i = 0; g->tensors && i < g->n_tensors; i++)
        free(g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    if (g->map)
        munmap(g->map, g->size);
    free(g);
}

const tb_gguf_kv *tb_gguf_find(const tb_gguf *g, const char *key)
{
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (!strcmp(g->kv[i].key, key))
            return &g->kv[i];
    return NULL;
}

const tb_gguf_tensor *tb_gguf_tensor_find(const tb_gguf *g, const char *name)
{
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i].name, name))
            return &g->tensors[i];
    return NULL;
}

static const tb_gguf_kv *need_key(const tb_gguf *g, const char *key, tb_error *err)
{
    const tb_gguf_kv *kv = tb_gguf_find(g, key);
    if (!kv)
        tb_error_set(err, TB_EINVAL, "%s: metadata %s is missing", g->path, key);
    return kv;
}

int tb_gguf_get_u32(const tb_gguf *g, const char *key, uint32_t *out, tb_error *err)
{
    const tb_gguf_kv *kv = need_key(g, key, err);
    if (!kv)
        return TB_EINVAL;
    bool is_unsigned = kv->type == TB_GGUF_UINT8 || kv->type == TB_GGUF_UINT16 ||
                       kv->type == TB_GGUF_UINT32 || kv->type == TB_GGUF_UINT64;
    bool is_signed = kv->type == TB_GGUF_INT8 || kv->type == TB_GGUF_INT16 ||
                     kv->type == TB_GGUF_INT32 || kv->type == TB_GGUF_INT64;
    if (is_unsigned && kv->v.u64 <= UINT32_MAX)
        *out = (uint32_t)kv->v.u64;
    else if (is_signed && kv->v.i64 >= 0 && kv->v.i64 <= (int64_t)UINT32_MAX)
        *out = (uint32_t)kv->v.i64;
    else
        return tb_error_set(err, TB_EINVAL, "%s: metadata %s is a %s, expected an unsigned "
                            "integer below 2^32", g->path, key, type_name(kv->type));
    return TB_OK;
}

int tb_gguf_get_f32(const tb_gguf *g, const char *key, float *out, tb_error *err)
{
    const tb_gguf_kv *kv = need_key(g, key, err);
    if (!kv)
        return TB_EINVAL;
    if (kv->type != TB_GGUF_FLOAT32 && kv->type != TB_GGUF_FLOAT64)
        return tb_error_set(err, TB_EINVAL, "%s: metadata %s is a %s, expected a float", g->path,
                            key, type_name(kv->type));
    *out = (float)kv->v.f64;
    return TB_OK;
}

int tb_gguf_get_str(const tb_gguf *g, const char *key, char *out, size_t cap, tb_error *err)
{
    const tb_gguf_kv *kv = need_key(g, key, err);
    if (!kv)
        return TB_EINVAL;
    if (kv->type != TB_GGUF_STRING)
        return tb_error_set(err, TB_EINVAL, "%s: metadata %s is a %s, expected a string", g->path,
                            key, type_name(kv->type));
    if (kv->v.str.len >= cap)
        return tb_error_set(err, TB_EINVAL, "%s: metadata %s is %llu bytes long (at most %zu)",
                            g->path, key, (unsigned long long)kv->v.str.len, cap - 1);
    memcpy(out, kv->v.str.ptr, (size_t)kv->v.str.len);
    out[kv->v.str.len] = '\0';
    return TB_OK;
}

tb_gguf_str tb_gguf_array_str(const tb_gguf_kv *kv, const uint8_t **cursor_p)
{
    /* the parser has checked every length: no bounds to re-check here */
    uint64_t len;
    memcpy(&len, *cursor_p, 8);
    tb_gguf_str s = {(const char *)*cursor_p + 8, len};
    *cursor_p += 8 + len;
    (void)kv;
    return s;
}
