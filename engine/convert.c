/* convert.c - see convert.h. */
#include "convert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "gguf.h"
#include "model.h"

typedef enum { KEEP, PROJECTION, EMBEDDING } role;

typedef struct plan {
    const tb_gguf_tensor *src;
    role role;
    tb_format from, to;
    uint32_t type;              /* the output's GGML type */
} plan;

typedef struct job {
    const tb_gguf *g;
    plan *p;
    const tb_convert_opts *o;
    tb_convert_report *rep;
    float *scratch;
    size_t scratch_n;
} job;

static role role_of(const tb_gguf_tensor *t)
{
    if (t->n_dims != 2)
        return KEEP;
    if (!strcmp(t->name, "token_embd.weight") || !strcmp(t->name, "output.weight"))
        return EMBEDDING;
    size_t n = strlen(t->name);
    return !strncmp(t->name, "blk.", 4) && n > 7 && !strcmp(t->name + n - 7, ".weight")
               ? PROJECTION : KEEP;
}

static const struct { const char *name; tb_mix mix; tb_format base; } mixes[] = {
    {"q2_k_mix", TB_MIX_Q2_K, TB_FMT_Q2_K},     {"q3_k_s", TB_MIX_Q3_K_S, TB_FMT_Q3_K},
    {"q3_k_m", TB_MIX_Q3_K_M, TB_FMT_Q3_K},     {"q3_k_l", TB_MIX_Q3_K_L, TB_FMT_Q3_K},
    {"q4_k_s", TB_MIX_Q4_K_S, TB_FMT_Q4_K},     {"q4_k_m", TB_MIX_Q4_K_M, TB_FMT_Q4_K},
    {"q5_k_s", TB_MIX_Q5_K_S, TB_FMT_Q5_K},     {"q5_k_m", TB_MIX_Q5_K_M, TB_FMT_Q5_K},
};

bool tb_mix_parse(const char *name, tb_mix *mix, tb_format *base)
{
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++)
        if (!strcmp(name, mixes[i].name)) {
            *mix = mixes[i].mix;
            *base = mixes[i].base;
            return true;
        }
    return false;
}

/* llama.cpp's rule for the layers that get more bits in the _M mixes: the
 * first and last eighth, and every third layer between. */
static bool more_bits(int layer, int layers)
{
    return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

tb_format tb_mix_format(tb_mix mix, tb_format base, const char *tensor, int layer, int layers, int gqa)
{
    bool v = !strcmp(tensor, "attn_v.weight"), down = !strcmp(tensor, "ffn_down.weight");
    bool out = !strcmp(tensor, "attn_output.weight");
    switch (mix) {
    case TB_MIX_Q2_K:
        return v ? (gqa >= 4 ? TB_FMT_Q4_K : TB_FMT_Q3_K) : down || out ? TB_FMT_Q3_K : base;
    case TB_MIX_Q3_K_M:
        return v ? (layer < 2 ? TB_FMT_Q5_K : TB_FMT_Q4_K)
             : down ? (layer < layers / 16 ? TB_FMT_Q5_K : TB_FMT_Q4_K) : out ? TB_FMT_Q4_K : base;
    case TB_MIX_Q3_K_L:
        return v || down || out ? TB_FMT_Q5_K : base;
    case TB_MIX_Q4_K_S:
        return (v && layer < 4) || (down && layer < layers / 8) ? TB_FMT_Q5_K : base;
    case TB_MIX_Q4_K_M:
    case TB_MIX_Q5_K_M:
        return (v || down) && more_bits(layer, layers) ? TB_FMT_Q6_K : base;
    default:
        return base;
    }
}

/* Whether every nonzero value has one magnitude. */
static bool ternary_valued(const float *w, size_t n)
{
    float mag = 0;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(w[i]);
        if (a == 0)
            continue;
        if (mag == 0)
            mag = a;
        else if (a != mag)
            return false;
    }
    return true;
}

/* BitNet b1.58's absmean ternarisation, in place. */
static void ternarise(float *w, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += fabs(w[i]);
    float s = (float)(sum / (double)n);
    for (size_t i = 0; i < n; i++) {
        float q = s > 0 ? nearbyintf(w[i] / s) : 0;
        w[i] = (q > 1 ? 1 : q < -1 ? -1 : q) * s;
    }
}

static int fill(void *ctx, int i, uint8_t *dst, size_t size, tb_error *err)
{
    job *j = ctx;
    const plan *p = &j->p[i];
    const tb_gguf_tensor *t = p->src;
    if (p->role == KEEP) {
        memcpy(dst, t->data, size);
        return TB_OK;
    }
    int rows = (int)t->ne[1], k = (int)t->ne[0];
    size_t n = (size_t)rows * k;
    tb_matrix src;
    int rc = tb_matrix_init(&src, p->from, rows, k, t->data, t->size, err);
    if (rc != TB_OK)
        return tb_error_prefix(err, "%s: tensor %s", j->g->path, t->name);
    for (int r = 0; r < rows; r++)
        tb_format_get(p->from)->dequantize_row(&src, r, j->scratch + (size_t)r * k);
    if (tb_format_get(p->to)->ternary && !ternary_valued(j->scratch, n)) {
        if (!j->o->force)
            return tb_error_set(err, TB_EINVAL, "%s: tensor %s (%s) is not ternary-valued: "
                                "converting it to %s loses accuracy; add --force to ternarise it "
                                "with BitNet's absmean rule", j->g->path, t->name, t->type_name,
                                tb_format_get(p->to)->name);
        if (!j->rep->ternarised++)
            snprintf(j->rep->first_lossy, sizeof j->rep->first_lossy, "%s", t->name);
        ternarise(j->scratch, n);
    }
    return tb_format_quantize(p->to, j->scratch, rows, k, dst, tb_cpu_usable(NULL, 0), err);
}

/* Decides each tensor's fate; refuses up front what cannot be written. */
/* A mix's shape facts: layers and query heads per KV head, from the
 * architecture's metadata (1 layer and no GQA where the file lacks them). */
static void mix_shape(const tb_gguf *g, int *layers, int *gqa)
{
    char arch[64], key[128];
    uint32_t n = 1, heads = 1, kv = 1;
    tb_error ignore;
    *layers = 1;
    *gqa = 1;
    if (tb_gguf_get_str(g, "general.architecture", arch, sizeof arch, &ignore) != TB_OK)
        return;
    snprintf(key, sizeof key, "%s.block_count", arch);
    if (tb_gguf_get_u32(g, key, &n, &ignore) == TB_OK)
        *layers = (int)n;
    snprintf(key, sizeof key, "%s.attention.head_count", arch);
    tb_gguf_get_u32(g, key, &heads, &ignore);
    snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
    if (tb_gguf_get_u32(g, key, &kv, &ignore) != TB_OK)
        kv = heads;
    *gqa = kv ? (int)(heads / kv) : 1;
}

/* The format a tensor of role r goes to. */
static tb_format target(const tb_convert_opts *o, const tb_gguf_tensor *t, role r, bool tied,
                        int layers, int gqa)
{
    if (r == EMBEDDING) {
        if (o->embd_set)
            return o->embd;
        /* a mix: the output matrix in q6_k, an untied embedding in the base */
        return !strcmp(t->name, "output.weight") || tied ? TB_FMT_Q6_K : o->fmt;
    }
    int layer = atoi(t->name + 4);
    const char *rest = strchr(t->name + 4, '.');
    return tb_mix_format(o->mix, o->fmt, rest ? rest + 1 : "", layer, layers, gqa);
}

static int make_plan(const tb_gguf *g, const tb_convert_opts *o, plan *p, size_t *scratch_n,
                     tb_error *err)
{
    uint32_t type;
    if (tb_format_file_type(o->fmt, g->bitnet_types, &type, err) != TB_OK)
        return tb_error_prefix(err, "%s", g->path);
    if (o->embd_set && (tb_embd_format_check(o->embd, err) != TB_OK ||
                        tb_format_file_type(o->embd, g->bitnet_types, &type, err) != TB_OK))
        return tb_error_prefix(err, "--embd-format %s", tb_format_get(o->embd)->name);
    int layers, gqa;
    mix_shape(g, &layers, &gqa);
    bool tied = !tb_gguf_tensor_find(g, "output.weight");
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const tb_gguf_tensor *t = &g->tensors[i];
        p[i] = (plan){t, role_of(t), TB_FMT_F32, TB_FMT_F32, t->type};
        if (p[i].role == EMBEDDING && !o->embd_set && o->mix == TB_MIX_NONE)
            p[i].role = KEEP;
        if (p[i].role == KEEP)
            continue;
        if (!tb_ggml_type_format(t->type, g->bitnet_types, &p[i].from))
            return tb_error_set(err, TB_EINVAL, "%s: tensor %s is %s, which ternbench cannot read "
                                "(it reads " TB_READABLE_TYPES ")", g->path,
                                t->name, t->type_name);
        p[i].to = target(o, t, p[i].role, tied, layers, gqa);
        if (tb_format_file_type(p[i].to, g->bitnet_types, &p[i].type, err) != TB_OK)
            return tb_error_prefix(err, "%s: tensor %s", g->path, t->name);
        const tb_format_traits *tr = tb_format_get(p[i].to);
        bool int8 = tr->act != TB_ACT_F32 && tr->act != TB_ACT_Q8_0;
        if (t->ne[0] % (uint64_t)tr->block || (int8 && t->ne[0] % 128))
            return tb_error_set(err, TB_EINVAL, "%s: tensor %s has rows of %llu values, which %s's "
                                "blocks of %d do not divide", g->path, t->name,
                                (unsigned long long)t->ne[0], tr->name, int8 ? 128 : tr->block);
        size_t n = (size_t)(t->ne[0] * t->ne[1]);
        if (n > *scratch_n)
            *scratch_n = n;
    }
    return TB_OK;
}

int tb_convert(const char *in, const char *out, const tb_convert_opts *o, tb_convert_report *rep,
               tb_error *err)
{
    memset(rep, 0, sizeof *rep);
    tb_gguf *g;
    int rc = tb_gguf_open(in, &g, err);
    if (rc != TB_OK)
        return rc;
    plan *p = calloc(g->n_tensors + 1, sizeof *p);
    size_t scratch_n = 0;
    rc = p ? make_plan(g, o, p, &scratch_n, err) : tb_error_set(err, TB_ENOMEM, "out of memory");
    job j = {g, p, o, rep, NULL, scratch_n};
    if (rc == TB_OK && scratch_n && !(j.scratch = malloc(scratch_n * sizeof *j.scratch)))
        rc = tb_error_set(err, TB_ENOMEM, "out of memory for a tensor of %zu values", scratch_n);
    tb_gguf_writer *w = rc == TB_OK ? tb_gguf_writer_new(g->alignment) : NULL;
    if (rc == TB_OK && !w)
        rc = tb_error_set(err, TB_ENOMEM, "out of memory");
    for (uint64_t i = 0; rc == TB_OK && i < g->n_kv; i++) {
        const char *key = g->kv[i].key;
        if (strcmp(key, "general.alignment") && strcmp(key, "general.file_type"))
            tb_gguf_writer_copy_kv(w, &g->kv[i]);
    }
    for (uint64_t i = 0; rc == TB_OK && i < g->n_tensors; i++) {
        const tb_gguf_tensor *t = p[i].src;
        tb_gguf_writer_tensor(w, t->name, p[i].type, g->bitnet_types, t->n_dims, t->ne);
        rep->bytes_in += (double)t->size;
        rep->bytes_out += (double)tb_ggml_tensor_bytes(p[i].type, g->bitnet_types,
                                                      t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        if (p[i].role == KEEP)
            rep->copied++;
        else
            rep->converted++;
    }
    if (rc == TB_OK)
        rc = tb_gguf_writer_write(w, out, fill, &j, err);
    tb_gguf_writer_free(w);
    free(j.scratch);
    free(p);
    tb_gguf_close(g);
    return rc;
}
