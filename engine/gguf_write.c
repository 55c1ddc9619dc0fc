/* gguf_write.c - the GGUF writer; see gguf.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"

typedef struct wtensor {
    char *name;
    uint32_t type;
    int n_dims;
    uint64_t ne[4];
    size_t size, offset;
} wtensor;

struct tb_gguf_writer {
    size_t alignment;
    uint8_t *kv;          /* serialized key-values */
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    wtensor *t;
    int n_t, cap_t;
    size_t data_len;
    char error[512];      /* the first problem, reported by write */
};

tb_gguf_writer *tb_gguf_writer_new(size_t alignment)
{
    tb_gguf_writer *w = calloc(1, sizeof *w);
    if (w)
        w->alignment = alignment ? alignment : 32;
    return w;
}

void tb_gguf_writer_free(tb_gguf_writer *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->t);
    free(w->kv);
    free(w);
}

static void put(tb_gguf_writer *w, const void *p, size_t n)
{
    if (w->error[0])
        return;
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap * 2 : 4096;
        while (cap < w->kv_len + n)
            cap *= 2;
        uint8_t *grown = realloc(w->kv, cap);
        if (!grown) {
            snprintf(w->error, sizeof w->error, "out of memory for metadata");
            return;
        }
        w->kv = grown;
        w->kv_cap = cap;
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
}

static void put_u32(tb_gguf_writer *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(tb_gguf_writer *w, uint64_t v) { put(w, &v, 8); }

static void put_str(tb_gguf_writer *w, const char *s)
{
    uint64_t n = strlen(s);
    put_u64(w, n);
    put(w, s, (size_t)n);
}

static void key(tb_gguf_writer *w, const char *k, tb_gguf_type type)
{
    put_str(w, k);
    put_u32(w, type);
    w->n_kv++;
}

void tb_gguf_writer_u32(tb_gguf_writer *w, const char *k, uint32_t v)
{
    key(w, k, TB_GGUF_UINT32);
    put_u32(w, v);
}

void tb_gguf_writer_f32(tb_gguf_writer *w, const char *k, float v)
{
    key(w, k, TB_GGUF_FLOAT32);
    put(w, &v, 4);
}

void tb_gguf_writer_bool(tb_gguf_writer *w, const char *k, bool v)
{
    uint8_t b = v;
    key(w, k, TB_GGUF_BOOL);
    put(w, &b, 1);
}

void tb_gguf_writer_str(tb_gguf_writer *w, const char *k, const char *v)
{
    key(w, k, TB_GGUF_STRING);
    put_str(w, v);
}

void tb_gguf_writer_arr(tb_gguf_writer *w, const char *k, tb_gguf_type type, const void *data,
                        uint64_t count)
{
    static const size_t sz[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if ((unsigned)type >= sizeof sz / sizeof sz[0] || !sz[type]) {
        if (!w->error[0])
            snprintf(w->error, sizeof w->error, "%s: array of type %d is not fixed-size", k, type);
        return;
    }
    key(w, k, TB_GGUF_ARRAY);
    put_u32(w, type);
    put_u64(w, count);
    put(w, data, (size_t)count * sz[type]);
}

void tb_gguf_writer_copy_kv(tb_gguf_writer *w, const tb_gguf_kv *kv)
{
    static const size_t sz[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    key(w, kv->key, kv->type);
    switch (kv->type) {
    case TB_GGUF_STRING:
        put_u64(w, kv->v.str.len);
        put(w, kv->v.str.ptr, (size_t)kv->v.str.len);
        break;
    case TB_GGUF_ARRAY: /* the elements as they lay in the source file */
        put_u32(w, kv->arr_type);
        put_u64(w, kv->arr_count);
        put(w, kv->arr_data, kv->arr_bytes);
        break;
    case TB_GGUF_FLOAT32: {
        float f = (float)kv->v.f64;
        put(w, &f, 4);
        break;
    }
    case TB_GGUF_FLOAT64: put(w, &kv->v.f64, 8); break;
    default: /* integers and bool: the low bytes, little-endian */
        if ((unsigned)kv->type < sizeof sz / sizeof sz[0])
            put(w, &kv->v.u64, sz[kv->type]);
        break;
    }
}

void tb_gguf_writer_arr_str(tb_gguf_writer *w, const char *k, const char *const *v, uint64_t count)
{
    key(w, k, TB_GGUF_ARRAY);
    put_u32(w, TB_GGUF_STRING);
    put_u64(w, count);
    for (uint64_t i = 0; i < count; i++)
        put_str(w, v[i]);
}

void tb_gguf_writer_tensor(tb_gguf_writer *w, const char *name, uint32_t type, bool bitnet,
                           int n_dims, const uint64_t *ne)
{
    if (w->error[0])
        return;
    uint64_t n = 1;
    for (int d = 0; d < n_dims; d++)
        n *= ne[d];
    size_t size = tb_ggml_tensor_bytes(type, bitnet, n);
    if (n_dims < 1 || n_dims > 4 || !size) {
        snprintf(w->error, sizeof w->error, "tensor %s: %d dimensions of type %u cannot be written",
                 name, n_dims, type);
        return;
    }
    if (w->n_t == w->cap_t) {
        int cap = w->cap_t ? w->cap_t * 2 : 64;
        wtensor *grown = realloc(w->t, (size_t)cap * sizeof *grown);
        if (!grown) {
            snprintf(w->error, sizeof w->error, "out of memory for tensors");
            return;
        }
        w->t = grown;
        w->cap_t = cap;
    }
    wtensor *t = &w->t[w->n_t++];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < 4; d++)
        t->ne[d] = d < n_dims ? ne[d] : 1;
    t->size = size;
    t->offset = (w->data_len + w->alignment - 1) / w->alignment * w->alignment;
    w->data_len = t->offset + size;
}

static int write_all(FILE *f, const void *p, size_t n, const char *path, tb_error *err)
{
    if (n && fwrite(p, 1, n, f) != n)
        return tb_error_set(err, TB_EIO, "writing %s: %s", path, strerror(errno));
    return TB_OK;
}

static int pad(FILE *f, size_t *pos, size_t alignment, const char *path, tb_error *err)
{
    static const uint8_t zeros[4096];
    size_t n = (alignment - *pos % alignment) % alignment;
    *pos += n;
    return write_all(f, zeros, n, path, err);
}

static int write_body(tb_gguf_writer *w, FILE *f, const char *tmp, tb_gguf_fill_fn fill,
                      void *ctx, tb_error *err)
{
    /* header: magic, version 3, counts, key-values, tensor infos */
    tb_gguf_writer hdr = {.alignment = w->alignment};
    put_u32(&hdr, 0x46554747u);
    put_u32(&hdr, 3);
    put_u64(&hdr, (uint64_t)w->n_t);
    put_u64(&hdr, w->n_kv + (w->alignment != 32));
    put(&hdr, w->kv, w->kv_len);
    if (w->alignment != 32) {
        put_str(&hdr, "general.alignment");
        put_u32(&hdr, TB_GGUF_UINT32);
        put_u32(&hdr, (uint32_t)w->alignment);
    }
    for (int i = 0; i < w->n_t; i++) {
        put_str(&hdr, w->t[i].name);
        put_u32(&hdr, (uint32_t)w->t[i].n_dims);
        for (int d = 0; d < w->t[i].n_dims; d++)
            put_u64(&hdr, w->t[i].ne[d]);
        put_u32(&hdr, w->t[i].type);
        put_u64(&hdr, w->t[i].offset);
    }
    int rc = hdr.error[0] ? tb_error_set(err, TB_ENOMEM, "%s: %s", tmp, hdr.error)
                          : write_all(f, hdr.kv, hdr.kv_len, tmp, err);
    size_t pos = hdr.kv_len;
    free(hdr.kv);
    if (rc == TB_OK)
        rc = pad(f, &pos, w->alignment, tmp, err);
    size_t base = pos;
    for (int i = 0; i < w->n_t && rc == TB_OK; i++) {
        rc = pad(f, &pos, w->alignment, tmp, err);
        if (rc != TB_OK || pos - base != w->t[i].offset)
            break;
        uint8_t *buf = malloc(w->t[i].size);
        if (!buf)
            return tb_error_set(err, TB_ENOMEM, "out of memory for tensor %s (%zu bytes)",
                                w->t[i].name, w->t[i].size);
        rc = fill(ctx, i, buf, w->t[i].size, err);
        if (rc == TB_OK)
            rc = write_all(f, buf, w->t[i].size, tmp, err);
        free(buf);
        pos += w->t[i].size;
    }
    return rc;
}

int tb_gguf_writer_write(tb_gguf_writer *w, const char *path, tb_gguf_fill_fn fill, void *ctx,
                         tb_error *err)
{
    if (w->error[0])
        return tb_error_set(err, TB_EINVAL, "%s: %s", path, w->error);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return tb_error_set(err, TB_EIO, "cannot create %s: %s", tmp, strerror(errno));
    int rc = write_body(w, f, tmp, fill, ctx, err);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = rc == TB_OK ? tb_error_set(err, TB_EIO, "writing %s: %s", tmp, strerror(errno)) : rc;
    fclose(f);
    if (rc == TB_OK && rename(tmp, path) != 0)
        rc = tb_error_set(err, TB_EIO, "renaming %s to %s: %s", tmp, path, strerror(errno));
    if (rc != TB_OK)
        unlink(tmp);
    return rc;
}
