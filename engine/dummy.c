/* dummy.c - synthesised models; see dummy.h. */
#include "dummy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

const tb_preset tb_presets[] = {
    {"125M", 768, 3072, 11, 12, 12, 32002, TB_ARCH_BITNET},
    {"350M", 1024, 3072, 24, 16, 16, 32002, TB_ARCH_BITNET},
    {"700M", 1536, 4096, 24, 16, 16, 32002, TB_ARCH_BITNET},
    {"1B", 2048, 3584, 24, 32, 32, 32002, TB_ARCH_BITNET},
    {"1.5B", 1536, 9216, 28, 32, 32, 32002, TB_ARCH_BITNET},
    {"2.7B", 3072, 7680, 24, 32, 32, 32002, TB_ARCH_BITNET},
    {"3.8B", 3840, 8192, 24, 32, 32, 32002, TB_ARCH_BITNET},
    {"7B", 4096, 12032, 32, 32, 32, 32002, TB_ARCH_BITNET},
    {"13B", 5120, 13824, 40, 40, 40, 32002, TB_ARCH_BITNET},
    {"30B", 6656, 16384, 60, 52, 52, 32002, TB_ARCH_BITNET},
    {"70B", 8192, 24576, 80, 64, 64, 32002, TB_ARCH_BITNET},
    {"100B", 8192, 45568, 72, 64, 64, 32002, TB_ARCH_BITNET},
    {"2B4T", 2560, 6912, 30, 20, 5, 128256, TB_ARCH_BITNET_B158},
};
const int tb_preset_count = sizeof tb_presets / sizeof tb_presets[0];

const tb_preset *tb_preset_find(const char *name)
{
    for (int i = 0; i < tb_preset_count; i++)
        if (!strcmp(tb_presets[i].name, name))
            return &tb_presets[i];
    return NULL;
}

uint64_t tb_preset_bytes(const tb_preset *p, tb_format fmt)
{
    int hd = p->dim / p->heads, kv = p->kv_heads * hd;
    uint64_t layer = tb_format_bytes(fmt, p->dim, p->dim) * 2 + tb_format_bytes(fmt, kv, p->dim) * 2 +
                     tb_format_bytes(fmt, p->ffn, p->dim) * 2 + tb_format_bytes(fmt, p->dim, p->ffn);
    return layer * (uint64_t)p->layers + tb_format_bytes(TB_FMT_F16, p->vocab, p->dim);
}

/* splitmix64: one independent stream per tensor. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void *own(tb_model *m, size_t bytes, tb_error *err)
{
    void **grown = realloc(m->owned, (size_t)(m->n_owned + 1) * sizeof *grown);
    void *p = NULL;
    if (!grown || posix_memalign(&p, 64, bytes ? bytes : 64) != 0) {
        if (grown)
            m->owned = grown;
        tb_error_set(err, TB_ENOMEM, "out of memory (%zu bytes) building %s", bytes, m->name);
        return NULL;
    }
    m->owned = grown;
    m->owned[m->n_owned++] = p;
    return p;
}

/* A rows x k ternary matrix times an f16-exact scale, quantized into fmt. */
static int make_matrix(tb_model *m, tb_format fmt, int rows, int k, uint64_t seed, tb_matrix *w,
                       float *scratch, tb_error *err)
{
    uint64_t s = seed;
    float scale = (float)(16 + next(&s) % 16) / 64.0f; /* 0.25 .. 0.484, exact in f16 */
    size_t n = (size_t)rows * k;
    for (size_t i = 0; i < n; i += 39) {
        uint64_t r = next(&s) >> 1; /* 39 base-3 digits of a 63-bit number (3^39 < 2^63) */
        for (size_t j = 0; j < 39 && i + j < n; j++, r /= 3)
            scratch[i + j] = (float)((int)(r % 3) - 1) * scale;
    }
    size_t bytes = tb_format_bytes(fmt, rows, k);
    uint8_t *buf = own(m, bytes, err);
    if (!buf)
        return TB_ENOMEM;
    int rc = tb_format_get(fmt)->quantize(scratch, rows, k, buf, err);
    return rc == TB_OK ? tb_matrix_init(w, fmt, rows, k, buf, bytes, err) : rc;
}

static int make_embedding(tb_model *m, int vocab, int dim, uint64_t seed, tb_error *err)
{
    size_t bytes = tb_format_bytes(TB_FMT_F16, vocab, dim);
    tb_f16 *e = own(m, bytes, err);
    if (!e)
        return TB_ENOMEM;
    uint64_t s = seed;
    for (size_t i = 0; i < (size_t)vocab * dim; i += 4) {
        uint64_t r = next(&s); /* four 16-bit uniforms; an Irwin-Hall-ish bell, sd 0.02 */
        for (size_t j = 0; j < 4 && i + j < (size_t)vocab * dim; j++, r >>= 16) {
            float u = (float)(r & 0xffff) / 65536.0f - 0.5f;
            e[i + j] = tb_f32_to_f16(u * 0.0693f); /* uniform with sd 0.02 */
        }
    }
    m->lm_head = m->embd;
    return tb_matrix_init(&m->embd, TB_FMT_F16, vocab, dim, e, bytes, err);
}

static float *norm_weights(tb_model *m, int n, tb_error *err)
{
    float *w = own(m, (size_t)n * sizeof *w, err);
    for (int i = 0; w && i < n; i++)
        w[i] = 1.0f;
    return w;
}

int tb_model_dummy(const tb_preset *p, tb_format fmt, uint64_t seed, int threads, tb_isa isa,
                   int ctx_len, tb_kv_type kv, tb_model **out, tb_error *err)
{
    const tb_format_traits *tr = tb_format_get(fmt);
    if (p->dim % tr->block || p->ffn % tr->block || (tr->act != TB_ACT_F32 && tr->act != TB_ACT_Q8_0 &&
                                                      (p->dim % 128 || p->ffn % 128)))
        return tb_error_set(err, TB_EINVAL, "dummy:%s: its shapes (%d, %d) do not fit %s's blocks",
                            p->name, p->dim, p->ffn, tr->name);
    tb_cpu_info cpu;
    tb_cpu_detect(&cpu);
    uint64_t need = tb_preset_bytes(p, fmt);
    if (cpu.mem_available_bytes && need > cpu.mem_available_bytes / 10 * 9)
        return tb_error_set(err, TB_ENOTSUP, "dummy:%s:%s needs %.1f GB of weights but only %.1f GB "
                            "of memory is available: choose a smaller preset or a smaller format",
                            p->name, tr->name, (double)need / 1e9,
                            (double)cpu.mem_available_bytes / 1e9);
    tb_model *m = calloc(1, sizeof *m);
    if (!m)
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    snprintf(m->name, sizeof m->name, "dummy:%s:%s", p->name, tr->name);
    m->isa = isa;
    tb_config *c = &m->cfg;
    c->arch = p->arch;
    snprintf(c->arch_name, sizeof c->arch_name, "%s",
             p->arch == TB_ARCH_BITNET ? "bitnet" : "bitnet-b1.58");
    c->dim = p->dim;
    c->ffn = p->ffn;
    c->layers = p->layers;
    c->heads = p->heads;
    c->kv_heads = p->kv_heads;
    c->head_dim = p->dim / p->heads;
    c->vocab = p->vocab;
    c->ctx = ctx_len > 0 ? ctx_len : 4096;
    c->rope_base = p->arch == TB_ARCH_BITNET ? 10000.0f : 500000.0f;
    c->eps = 1e-5f;
    int kv_dim = c->kv_heads * c->head_dim;
    size_t big = (size_t)c->ffn * c->dim;
    float *scratch = malloc(big * sizeof *scratch);
    m->layers = calloc((size_t)c->layers, sizeof *m->layers);
    int rc = scratch && m->layers ? TB_OK : tb_error_set(err, TB_ENOMEM, "out of memory");
    uint64_t s = seed * 0x100000001b3ull + 1;
    if (rc == TB_OK)
        rc = make_embedding(m, c->vocab, c->dim, next(&s), err);
    if (rc == TB_OK && !(m->output_norm = norm_weights(m, c->dim, err)))
        rc = TB_ENOMEM;
    for (int l = 0; rc == TB_OK && l < c->layers; l++) {
        tb_layer *L = &m->layers[l];
        if (!(L->attn_norm = norm_weights(m, c->dim, err)) ||
            !(L->attn_sub_norm = norm_weights(m, c->dim, err)) ||
            !(L->ffn_norm = norm_weights(m, c->dim, err)) ||
            !(L->ffn_sub_norm = norm_weights(m, c->ffn, err))) {
            rc = TB_ENOMEM;
            break;
        }
        struct { tb_matrix *w; int rows, k; } mats[] = {
            {&L->wq, c->dim, c->dim}, {&L->wk, kv_dim, c->dim}, {&L->wv, kv_dim, c->dim},
            {&L->wo, c->dim, c->dim}, {&L->gate, c->ffn, c->dim}, {&L->up, c->ffn, c->dim},
            {&L->down, c->dim, c->ffn}};
        for (size_t i = 0; rc == TB_OK && i < sizeof mats / sizeof mats[0]; i++)
            rc = make_matrix(m, fmt, mats[i].rows, mats[i].k, next(&s), mats[i].w, scratch, err);
    }
    free(scratch);
    if (rc == TB_OK) {
        m->lm_head = m->embd;
        rc = tb_model_finish(m, threads, kv, err);
    }
    if (rc != TB_OK) {
        tb_model_free(m);
        return rc;
    }
    *out = m;
    return TB_OK;
}

int tb_model_open(const char *spec, int threads, tb_isa isa, int ctx_len, tb_kv_type kv,
                  tb_model **out, tb_error *err)
{
    if (strncmp(spec, "dummy:", 6) != 0)
        return tb_model_load(spec, threads, isa, ctx_len, kv, out, err);
    char preset[32] = "", format[16] = "i2_s";
    const char *p = spec + 6, *colon = strchr(p, ':');
    size_t plen = colon ? (size_t)(colon - p) : strlen(p);
    if (plen == 0 || plen >= sizeof preset || (colon && strlen(colon + 1) >= sizeof format))
        return tb_error_set(err, TB_EINVAL, "%s: expected dummy:PRESET[:FORMAT]", spec);
    memcpy(preset, p, plen);
    if (colon)
        snprintf(format, sizeof format, "%s", colon + 1);
    const tb_preset *pr = tb_preset_find(preset);
    if (!pr) {
        char list[256] = "";
        for (int i = 0; i < tb_preset_count; i++) {
            strcat(list, i ? ", " : "");
            strcat(list, tb_presets[i].name);
        }
        return tb_error_set(err, TB_EINVAL, "%s: unknown preset '%s' (known: %s)", spec, preset, list);
    }
    tb_format fmt;
    if (tb_format_parse(format, &fmt, err) != TB_OK)
        return tb_error_prefix(err, "%s", spec);
    return tb_model_dummy(pr, fmt, 1, threads, isa, ctx_len, kv, out, err);
}
