/*
 * bench_quality.c - `bench --quality TEXT|seeded`: what each model's format
 * costs in quality, measured after the speed runs (so that it disturbs none
 * of them) on the run's last thread count.
 *
 * Every one of ternbench's models scores the text as llama-perplexity does
 * (perplexity.h: chunks from an empty cache, the second half of each
 * scored). A model whose run also holds an f16 twin (its shapes and
 * vocabulary, f16 projections and lm_head) is compared with the twin
 * position by position: the twin writes llama-perplexity's base-logits file
 * once (in TMPDIR, removed afterwards) and every model of its shape reads
 * it, for the KL divergence, top-token agreement and PPL(Q)/PPL(f16).
 *
 * Models without a vocabulary (dummy:) score seeded ids. Their weights are
 * random, so their perplexity says nothing about language; the KL from their
 * f16 twin still measures how much the format changes the function.
 */
#include "bench_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "perplexity.h"

#define SEEDED_CHUNKS 4 /* chunks of seeded ids unless --quality-chunks says */

typedef struct qmodel {
    int *ids, n;              /* the tokens it scores (a model compared with its twin
                               * scores the twin's: they share the vocabulary) */
    int bos;                  /* opens each chunk; -1: none */
    bool seeded;
    int twin;                 /* the model whose logits are its base; -1: none */
    char why[600];            /* why it was not scored; "" when it was */
    char twin_why[400];       /* why there is no KL; "" when there is */
    bool scored, compared;
    tb_ppl_result r;
} qmodel;

int bench_quality_ctx(const tb_bench_opts *o)
{
    return o->quality_ctx ? (int)o->quality_ctx : 512;
}

static bool seeded_only(const tb_bench_opts *o)
{
    return o->quality && !strcmp(o->quality, "seeded");
}

static bool is_f16(const tb_model *m)
{
    return m->layers[0].wq.fmt == TB_FMT_F16 && m->lm_head.fmt == TB_FMT_F16;
}

static void tokens_of(const bench *b, int i, qmodel *q)
{
    const tb_bench_opts *o = b->o;
    const tb_model *m = b->models[i];
    q->bos = -1;
    q->seeded = seeded_only(o) || !m->gguf;
    if (!q->seeded) {
        tb_error err;
        if (bench_text_tokens(m, o->quality, "--quality", false, &q->ids, &q->n, &q->bos, &err) != TB_OK)
            snprintf(q->why, sizeof q->why, "%s", err.text);
        return;
    }
    q->n = (o->quality_chunks ? (int)o->quality_chunks : SEEDED_CHUNKS) * bench_quality_ctx(o);
    if (!(q->ids = malloc((size_t)q->n * sizeof *q->ids))) {
        snprintf(q->why, sizeof q->why, "out of memory for %d tokens", q->n);
        return;
    }
    tb_bench_tokens(q->ids, q->n, o->seed, b->min_vocab);
}

/* The first model of i's shape in f16 that scores the same kind of tokens. */
static int twin_of(const bench *b, const qmodel *q, int i)
{
    for (int j = 0; j < b->o->nmodels; j++)
        if (!q[j].why[0] && q[j].seeded == q[i].seeded && is_f16(b->models[j]) &&
            bench_same_shape(b->models[i], b->models[j]))
            return j;
    return -1;
}

/* The base file's size for twin j's run, and whether TMPDIR holds it. */
static bool base_fits(const bench *b, const qmodel *q, int j, const char *dir, char *why, size_t cap)
{
    int ctx = bench_quality_ctx(b->o), chunks = q[j].n / ctx, vocab = b->models[j]->cfg.vocab;
    if (b->o->quality_chunks && b->o->quality_chunks < chunks)
        chunks = (int)b->o->quality_chunks;
    double need = tb_ppl_base_bytes(vocab, ctx, chunks);
    struct statvfs fs;
    if (statvfs(dir, &fs) != 0 || need < 0.9 * (double)fs.f_bavail * (double)fs.f_frsize)
        return true; /* unknown: try, and say so if writing fails */
    snprintf(why, cap, "the f16 twin's logits would take %.1f GB in %s, which has %.1f GB free: "
             "set TMPDIR elsewhere or score fewer chunks (--quality-chunks)", need / 1e9, dir,
             (double)fs.f_bavail * (double)fs.f_frsize / 1e9);
    return false;
}

/* Scores model i: plainly (base NULL), writing the base file, or against it. */
static void score(bench *b, int i, qmodel *q, const char *base, bool kld)
{
    tb_ppl_opts po = {.ctx = bench_quality_ctx(b->o), .chunks = (int)b->o->quality_chunks,
                      .bos = q->bos, .base_path = base, .kld = kld};
    fprintf(stderr, "ternbench bench: quality of %s (%s)...\n", b->models[i]->name,
            kld ? "against its f16 twin" : base ? "the f16 twin" : "perplexity");
    tb_error err;
    if (tb_perplexity(b->models[i], kld ? NULL : q->ids, q->n, &po, &q->r, &err) != TB_OK) {
        if (kld) { /* the twin's file failed this model: say so, and score it alone */
            snprintf(q->twin_why, sizeof q->twin_why, "%s", err.text);
            score(b, i, q, NULL, false);
            return;
        }
        snprintf(q->why, sizeof q->why, "%s", err.text);
        return;
    }
    q->scored = true;
    q->compared = kld;
}

static json_t *estimate(double x, double err)
{
    return json_pack("{s:f, s:f}", "estimate", x, "stderr", err);
}

static json_t *quality_json(const bench *b, int i, const qmodel *q)
{
    const tb_model *m = b->models[i];
    json_t *j = json_pack("{s:s, s:s, s:s}", "model", m->name, "format", bench_model_format(m),
                          "embd_format", tb_format_get(m->lm_head.fmt)->name);
    if (!q->scored) {
        json_object_set_new(j, "unavailable", json_string(q->why));
        return j;
    }
    const tb_ppl_result *r = &q->r;
    json_object_set_new(j, "source", json_string(q->seeded ? "seeded" : "text"));
    json_object_set_new(j, "text", q->seeded ? json_null() : json_string(b->o->quality));
    json_object_set_new(j, "threads", json_integer(b->threads));
    json_object_set_new(j, "ctx", json_integer(r->ctx));
    json_object_set_new(j, "chunks", json_integer(r->chunks));
    json_object_set_new(j, "scored", json_integer(r->count));
    json_object_set_new(j, "seconds", json_real(r->seconds));
    json_object_set_new(j, "ppl", estimate(r->ppl, r->ppl_err));
    if (!q->compared) {
        json_object_set_new(j, "base_model", q->twin == i ? json_string(m->name) : json_null());
        json_object_set_new(j, "kl", json_null());
        json_object_set_new(j, "kl_unavailable",
                            json_string(q->twin == i ? "it is the f16 twin the others are compared with"
                                        : q->twin_why[0] ? q->twin_why
                                                         : "no f16 model of its shapes and vocabulary ran "
                                                           "beside it (add one to -m)"));
        return j;
    }
    json_t *pct = json_object();
    for (int k = 0; k < 11; k++)
        json_object_set_new(pct, tb_ppl_kld_labels[k], json_real(r->kld_pct[k]));
    double ratio = exp(r->ln_ratio);
    json_object_set_new(j, "base_model", json_string(b->models[q->twin]->name));
    json_object_set_new(
        j, "kl",
        json_pack("{s:o, s:o, s:o, s:{s:f, s:f, s:o}, s:o, s:{s:f, s:f, s:f}}", "ppl_base",
                  estimate(r->ppl_base, r->ppl_base_err), "ppl_ratio", estimate(ratio, ratio * r->ln_ratio_err),
                  "ln_ppl_ratio", estimate(r->ln_ratio, r->ln_ratio_err), "kld", "mean", r->kld,
                  "stderr", r->kld_err, "percentiles", pct, "same_top",
                  estimate(r->same_top, r->same_top_err), "delta_p", "mean", r->dp_mean, "stderr",
                  r->dp_mean_err, "rms", r->dp_rms));
    return j;
}

static void print_table(const bench *b, FILE *out, const qmodel *q)
{
    const tb_bench_opts *o = b->o;
    if (seeded_only(o))
        fprintf(out, "\nquality: seeded ids (seed %ld)", o->seed);
    else
        fprintf(out, "\nquality: %s as each model's vocabulary reads it (seeded ids for models "
                "without one)", o->quality);
    fprintf(out, ", chunks of %d tokens from an empty cache, the second half of each scored "
            "(llama-perplexity's method), %ld thread%s; KL: against the f16 twin's log-"
            "probabilities at the same positions\n\n"
            "| model | scored | PPL | PPL / PPL(f16) | mean KLD | 99%% KLD | same top p |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            bench_quality_ctx(o), b->threads, b->threads == 1 ? "" : "s");
    bool seeded = false;
    for (int i = 0; i < o->nmodels; i++) {
        const tb_ppl_result *r = &q[i].r;
        if (!q[i].scored) {
            fprintf(out, "| %s | - | not scored: %s | | | | |\n", b->models[i]->name, q[i].why);
            continue;
        }
        seeded |= q[i].seeded;
        fprintf(out, "| %s | %d | %.4g ± %.2g |", b->models[i]->name, r->count, r->ppl, r->ppl_err);
        if (q[i].compared)
            fprintf(out, " %.4f ± %.4f | %.6f | %.6f | %.2f %% |\n", exp(r->ln_ratio),
                    exp(r->ln_ratio) * r->ln_ratio_err, r->kld, r->kld_pct[2], 100 * r->same_top);
        else
            fprintf(out, " %s | | | |\n", q[i].twin == i ? "(the f16 twin)" : "-");
    }
    if (seeded)
        fprintf(out, "\nquality: seeded ids through random weights: their PPL is no measure of "
                "language; the KL from the f16 twin measures how far each format moves the "
                "function from f16\n");
    for (int i = 0; i < o->nmodels; i++)
        if (q[i].scored && !q[i].compared && q[i].twin != i && q[i].twin_why[0])
            fprintf(out, "quality: %s: no KL: %s\n", b->models[i]->name, q[i].twin_why);
}

void bench_quality(bench *b, FILE *out, tb_bench_doc *doc)
{
    const tb_bench_opts *o = b->o;
    int nm = o->nmodels;
    qmodel *q = calloc((size_t)nm, sizeof *q);
    if (!q) {
        fprintf(stderr, "ternbench bench: warning: quality not measured: out of memory\n");
        return;
    }
    for (int i = 0; i < nm; i++)
        tokens_of(b, i, &q[i]);
    for (int i = 0; i < nm; i++)
        q[i].twin = q[i].why[0] ? -1 : twin_of(b, q, i);
    const char *tmp = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
    /* each twin writes its file, the models of its shape read it, it goes */
    for (int j = 0; j < nm; j++) {
        if (q[j].twin != j)
            continue;
        char path[4096], why[400] = "";
        snprintf(path, sizeof path, "%s/ternbench-quality-%ld-%d.logits", tmp, (long)getpid(), j);
        bool fits = base_fits(b, q, j, tmp, why, sizeof why);
        score(b, j, &q[j], fits ? path : NULL, false);
        for (int i = 0; i < nm; i++) {
            if (i == j || q[i].twin != j)
                continue;
            if (!q[j].scored || !fits) {
                snprintf(q[i].twin_why, sizeof q[i].twin_why, "%s",
                         fits ? "its f16 twin could not be scored" : why);
                score(b, i, &q[i], NULL, false);
            } else {
                score(b, i, &q[i], path, true);
            }
        }
        unlink(path);
    }
    for (int i = 0; i < nm; i++)
        if (q[i].twin < 0 && !q[i].why[0])
            score(b, i, &q[i], NULL, false);
    print_table(b, out, q);
    for (int i = 0; i < nm; i++) {
        json_array_append_new(doc->quality, quality_json(b, i, &q[i]));
        free(q[i].ids);
    }
    free(q);
}
