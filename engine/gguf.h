/*
 * gguf.h - GGUF model files (versions 2 and 3): a validating reader over a
 * read-only mmap, and a writer.
 *
 * The reader treats every byte as hostile: each count, length, type, shape,
 * offset and size is checked against the bytes that remain before it is used,
 * so a truncated or forged file gets an error naming the field and its byte
 * offset, never a crash, a hang or an allocation the file size does not
 * justify. Tensor data is not copied: tb_gguf_tensor.data points into the map.
 *
 * GGML type ids 36-39 mean different things in bitnet.cpp's fork (I2_S, -,
 * TL1, TL2) and upstream (retired ARM repacks, MXFP4); the file's
 * general.architecture decides which family applies.
 */
#ifndef TB_GGUF_H
#define TB_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_error.h"

typedef enum tb_gguf_type {
    TB_GGUF_UINT8 = 0, TB_GGUF_INT8 = 1, TB_GGUF_UINT16 = 2, TB_GGUF_INT16 = 3,
    TB_GGUF_UINT32 = 4, TB_GGUF_INT32 = 5, TB_GGUF_FLOAT32 = 6, TB_GGUF_BOOL = 7,
    TB_GGUF_STRING = 8, TB_GGUF_ARRAY = 9, TB_GGUF_UINT64 = 10, TB_GGUF_INT64 = 11,
    TB_GGUF_FLOAT64 = 12,
} tb_gguf_type;

/* GGML tensor types ternbench knows the size of. */
enum {
    TB_GGML_F32 = 0, TB_GGML_F16 = 1, TB_GGML_Q4_0 = 2, TB_GGML_Q8_0 = 8, TB_GGML_Q2_K = 10,
    TB_GGML_Q3_K = 11, TB_GGML_Q4_K = 12, TB_GGML_Q5_K = 13, TB_GGML_Q6_K = 14, TB_GGML_IQ4_NL = 20,
    TB_GGML_IQ4_XS = 23,
    TB_GGML_BF16 = 30, TB_GGML_TQ1_0 = 34, TB_GGML_TQ2_0 = 35,
    TB_GGML_I2_S = 36, /* bitnet.cpp's fork only */
};

typedef struct tb_gguf_str {
    const char *ptr;   /* into the map; NOT NUL-terminated */
    uint64_t len;
} tb_gguf_str;

typedef struct tb_gguf_kv {
    char *key;                 /* owned, NUL-terminated */
    tb_gguf_type type;
    union {
        uint64_t u64;          /* every unsigned integer and bool */
        int64_t i64;           /* every signed integer */
        double f64;            /* float32 and float64 */
        tb_gguf_str str;
    } v;
    /* arrays: element type, count and the elements' first byte in the map
     * (strings: use tb_gguf_array_str to walk them) */
    tb_gguf_type arr_type;
    uint64_t arr_count;
    const uint8_t *arr_data;
    size_t arr_bytes;
} tb_gguf_kv;

typedef struct tb_gguf_tensor {
    char *name;                /* owned */
    int n_dims;
    uint64_t ne[4];            /* ne[0] is the row length (contiguous) */
    uint32_t type;             /* GGML type id */
    const char *type_name;
    uint64_t offset;           /* from the start of the data section */
    size_t size;               /* bytes, by the type's size rule */
    const uint8_t *data;
} tb_gguf_tensor;

typedef struct tb_gguf {
    char path[512];
    uint32_t version;
    uint64_t n_kv, n_tensors;
    tb_gguf_kv *kv;
    tb_gguf_tensor *tensors;
    size_t alignment;
    size_t data_offset;        /* where the data section starts */
    bool bitnet_types;         /* ids 36-39 read as bitnet.cpp's */
    const uint8_t *base;
    size_t size;
    void *map;                 /* NULL when parsing caller-owned memory */
} tb_gguf;

/* mmaps path read-only and parses it. */
int tb_gguf_open(const char *path, tb_gguf **out, tb_error *err);
/* Parses size bytes at buf (kept by the caller while the result lives);
 * name is used in messages. */
int tb_gguf_parse(const void *buf, size_t size, const char *name, tb_gguf **out, tb_error *err);
void tb_gguf_close(tb_gguf *g);

const tb_gguf_kv *tb_gguf_find(const tb_gguf *g, const char *key);
const tb_gguf_tensor *tb_gguf_tensor_find(const tb_gguf *g, const char *name);

/* Typed getters: TB_EINVAL with a message when the key is missing or has
 * another type (integers of any width are accepted where the value fits). */
int tb_gguf_get_u32(const tb_gguf *g, const char *key, uint32_t *out, tb_error *err);
int tb_gguf_get_f32(const tb_gguf *g, const char *key, float *out, tb_error *err);
int tb_gguf_get_str(const tb_gguf *g, const char *key, char *out, size_t cap, tb_error *err);

/* Walks a string array: *cursor starts at kv->arr_data; returns the next. */
tb_gguf_str tb_gguf_array_str(const tb_gguf_kv *kv, const uint8_t **cursor);

/* Size rule of a GGML type: values per block and bytes per block; 0 if unknown.
 * bitnet: use bitnet.cpp's meaning of ids 36-39. I2_S's tensor-level rule
 * (n/4 + 32 bytes) is in tb_ggml_tensor_bytes. */
int tb_ggml_type_info(uint32_t type, bool bitnet, int *block, size_t *bytes, const char **name);
/* Bytes of a tensor of n values; 0 if n does not fit the type's blocks. */
size_t tb_ggml_tensor_bytes(uint32_t type, bool bitnet, uint64_t n);

/* ---- writer ---- */

typedef struct tb_gguf_writer tb_gguf_writer;

tb_gguf_writer *tb_gguf_writer_new(size_t alignment);
void tb_gguf_writer_free(tb_gguf_writer *w);
/* Metadata; strings and arrays are copied. Errors are kept and reported by
 * tb_gguf_writer_write. */
void tb_gguf_writer_u32(tb_gguf_writer *w, const char *key, uint32_t v);
void tb_gguf_writer_f32(tb_gguf_writer *w, const char *key, float v);
void tb_gguf_writer_bool(tb_gguf_writer *w, const char *key, bool v);
void tb_gguf_writer_str(tb_gguf_writer *w, const char *key, const char *v);
void tb_gguf_writer_arr(tb_gguf_writer *w, const char *key, tb_gguf_type type,
                        const void *data, uint64_t count);          /* fixed-size elements */
void tb_gguf_writer_arr_str(tb_gguf_writer *w, const char *key, const char *const *v,
                            uint64_t count);
/* Copies a key-value parsed from another file (arrays byte for byte). */
void tb_gguf_writer_copy_kv(tb_gguf_writer *w, const tb_gguf_kv *kv);
/* Declares a tensor; its bytes come from fill() at write time. */
typedef int (*tb_gguf_fill_fn)(void *ctx, int tensor, uint8_t *dst, size_t size, tb_error *err);
void tb_gguf_writer_tensor(tb_gguf_writer *w, const char *name, uint32_t type, bool bitnet,
                           int n_dims, const uint64_t *ne);
/* Writes the file atomically (temporary file, then rename), asking fill() for
 * each tensor's bytes in order; one tensor's buffer at a time is held. */
int tb_gguf_writer_write(tb_gguf_writer *w, const char *path, tb_gguf_fill_fn fill, void *ctx,
                         tb_error *err);

#endif
