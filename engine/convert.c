/* convert.c - see convert.h. */
#include "convert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    return tb_format_get(p->to)->quantize(j->scratch, rows, k, dst, err);
}

/* Decides each tensor's fate; refuses up front what cannot be written. */
static int make_plan(const tb_gguf *g, const tb_convert_opts *o, plan *p, size_t *scratch_n,
                     tb_error *err)
{
    uint32_t type, embd_type = 0;
    if (tb_format_file_type(o->fmt, g->bitnet_types, &type, err) != TB_OK)
        return tb_error_prefix(err, "%s", g->path);
    if (o->embd_set && (tb_embd_format_check(o->embd, err) != TB_OK ||
                        tb_format_file_type(o->embd, g->bitnet_types, &embd_type, err) != TB_OK))
        return tb_error_prefix(err, "--embd-format %s", tb_format_get(o->embd)->name);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const tb_gguf_tensor *t = &g->tensors[i];
        p[i] = (plan){t, role_of(t), TB_FMT_F32, TB_FMT_F32, t->type};
        if (p[i].role == EMBEDDING && !o->embd_set)
            p[i].role = KEEP;
        if (p[i].role == KEEP)
            continue;
        if (!tb_ggml_type_format(t->type, g->bitnet_types, &p[i].from))
            return tb_error_set(err, TB_EINVAL, "%s: tensor %s is %s, which ternbench cannot read "
                                "(it reads " TB_READABLE_TYPES ")", g->path,
                                t->name, t->type_name);
        p[i].to = p[i].role == PROJECTION ? o->fmt : o->embd;
        p[i].type = p[i].role == PROJECTION ? type : embd_type;
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
