/* perplexity.c - see perplexity.h. */
#include "perplexity.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_time.h"

const char *const tb_ppl_kld_labels[11] = {"Maximum", "99.9%", "99.0%", "95.0%", "90.0%", "Median",
                                            "10.0%", "5.0%", "1.0%", "0.1%", "Minimum"};

static const char magic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};

static int nv_of(int vocab)
{
    return 2 * ((vocab + 1) / 2) + 4;
}

double tb_ppl_base_bytes(int vocab, int ctx, int chunks)
{
    int scored = ctx - 1 - ctx / 2;
    return 8.0 + 12.0 + 4.0 * chunks * ctx + 2.0 * chunks * scored * nv_of(vocab);
}

/* The largest logit's index and value, and log(sum exp(l - max)). */
static double log_sum_exp(const float *l, int vocab, int *imax, float *max)
{
    float mx = l[0];
    int im = 0;
    for (int i = 1; i < vocab; i++)
        if (l[i] > mx) {
            mx = l[i];
            im = i;
        }
    double sum = 0;
    for (int i = 0; i < vocab; i++)
        sum += expf(l[i] - mx);
    *imax = im;
    *max = mx;
    return log(sum);
}

/* -log p(tok) under logits l */
static double nll_of(const float *l, int vocab, int tok)
{
    int imax;
    float max;
    double lse = log_sum_exp(l, vocab, &imax, &max);
    return (double)max + lse - l[tok];
}

/* One scored position as the base file stores it (nv uint16); returns its NLL. */
static double encode_row(const float *l, int vocab, int tok, uint16_t *row)
{
    int imax;
    float max, min = l[0];
    for (int i = 1; i < vocab; i++)
        min = l[i] < min ? l[i] : min;
    float lse = (float)log_sum_exp(l, vocab, &imax, &max);
    if (min < max - 16)
        min = max - 16;
    float scale = (max - min) / 65535.0f, min_log_prob = min - max - lse;
    memcpy(row, &scale, 4);
    memcpy(row + 2, &min_log_prob, 4);
    uint16_t *q = row + 4;
    memset(q, 0, (size_t)(nv_of(vocab) - 4) * sizeof *q);
    if (scale != 0) {
        float inv = 1 / scale;
        for (int i = 0; i < vocab; i++)
            q[i] = l[i] > min ? (uint16_t)nearbyintf(inv * (l[i] - min)) : 0;
    }
    return (double)max + lse - l[tok];
}

/* Sums over scored tokens for the KL statistics. */
typedef struct kl_sums {
    double nll, nll2, base, base2, cross, kld, kld2, dp, dp2;
    size_t same;
} kl_sums;

/* One scored position against its base row: adds to s, returns its KLD. */
static double compare_row(const float *l, int vocab, int tok, const uint16_t *row, kl_sums *s,
                          double *dp_out)
{
    int imax;
    float max, scale, min_log_prob;
    double lse = log_sum_exp(l, vocab, &imax, &max);
    memcpy(&scale, row, 4);
    memcpy(&min_log_prob, row + 2, 4);
    const uint16_t *q = row + 4;
    double nll = (double)max + lse - l[tok], nll_base = -((double)scale * q[tok] + min_log_prob);
    s->nll += nll;
    s->nll2 += nll * nll;
    s->base += nll_base;
    s->base2 += nll_base * nll_base;
    s->cross += nll * nll_base;
    double kld = 0, top = 0;
    int itop = -1;
    for (int i = 0; i < vocab; i++) {
        double lp = (double)scale * q[i] + min_log_prob;
        if (itop < 0 || lp > top) {
            top = lp;
            itop = i;
        }
        if (lp > -16) /* the base keeps only these */
            kld += exp(lp) * (lp - (l[i] - max - lse));
    }
    s->kld += kld;
    s->kld2 += kld * kld;
    s->same += itop == imax;
    double dp = exp(-nll) - exp(-nll_base);
    s->dp += dp;
    s->dp2 += dp * dp;
    *dp_out = dp;
    return kld;
}

/* mean and standard error of a sum and sum of squares over n */
static void mean_err(double sum, double sum2, size_t n, double *mean, double *err)
{
    *mean = sum / (double)n;
    double var = sum2 / (double)n - *mean * *mean;
    *err = n > 1 && var > 0 ? sqrt(var / (double)(n - 1)) : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reads the base file's header and tokens; leaves f at the first row. */
static int read_base(FILE *f, const char *path, const tb_model *m, int *ctx, int *chunks, int **tokens,
                     tb_error *err)
{
    char got[8];
    uint32_t c;
    int32_t vocab, nchunk;
    if (fread(got, 1, 8, f) != 8 || memcmp(got, magic, 8))
        return tb_error_set(err, TB_EINVAL, "%s: not a llama-perplexity logits file (it does not start "
                            "with \"_logits_\"): make one with --kl-divergence-base FILE and no "
                            "--kl-divergence", path);
    if (fread(&c, 4, 1, f) != 1 || fread(&vocab, 4, 1, f) != 1 || fread(&nchunk, 4, 1, f) != 1)
        return tb_error_set(err, TB_EINVAL, "%s: truncated header (n_ctx, n_vocab, n_chunk)", path);
    if (c < 4 || c > (uint32_t)m->cfg.ctx)
        return tb_error_set(err, TB_EINVAL, "%s: n_ctx %u is outside 4..%d (the model's context)",
                            path, c, m->cfg.ctx);
    if (vocab != m->cfg.vocab)
        return tb_error_set(err, TB_EINVAL, "%s: n_vocab %d, but %s has %d tokens: the base must "
                            "come from a model with the same vocabulary", path, vocab, m->name,
                            m->cfg.vocab);
    if (nchunk < 1 || nchunk > 1000000)
        return tb_error_set(err, TB_EINVAL, "%s: n_chunk %d is outside 1..1000000", path, nchunk);
    size_t n = (size_t)nchunk * c;
    *tokens = malloc(n * sizeof **tokens);
    if (!*tokens)
        return tb_error_set(err, TB_ENOMEM, "out of memory for %zu tokens of %s", n, path);
    if (fread(*tokens, sizeof **tokens, n, f) != n)
        return tb_error_set(err, TB_EINVAL, "%s: truncated: %d chunks of %u tokens announced", path,
                            nchunk, c);
    for (size_t i = 0; i < n; i++)
        if ((*tokens)[i] < 0 || (*tokens)[i] >= vocab)
            return tb_error_set(err, TB_EINVAL, "%s: token %zu is %d, outside the vocabulary", path,
                                i, (*tokens)[i]);
    *ctx = (int)c;
    *chunks = nchunk;
    return TB_OK;
}

/* The logits of positions first..ctx-1 of one chunk into logits (row
 * j - first for position j), in batches: the lm_head runs for those only. */
static int run_chunk(tb_model *m, const int *chunk, int ctx, int batch, int bos, int first,
                     float *logits, tb_error *err)
{
    tb_model_reset(m);
    int *ids = malloc((size_t)batch * sizeof *ids);
    if (!ids)
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    for (int at = 0; at < ctx; at += batch) {
        int nb = ctx - at < batch ? ctx - at : batch;
        memcpy(ids, chunk + at, (size_t)nb * sizeof *ids);
        if (at == 0 && bos >= 0)
            ids[0] = bos;
        int from = first > at ? (first - at < nb ? first - at : nb) : 0; /* of this batch */
        float *out = from < nb ? logits + (size_t)(at + from - first) * m->cfg.vocab : logits;
        if (tb_model_forward_from(m, ids, nb, from, out) != TB_OK) {
            free(ids);
            return tb_error_set(err, TB_EINVAL, "the forward pass refused %d tokens at %d", nb, at);
        }
    }
    free(ids);
    return TB_OK;
}

int tb_perplexity(tb_model *m, const int *tokens, int n, const tb_ppl_opts *o, tb_ppl_result *r,
                  tb_error *err)
{
    memset(r, 0, sizeof *r);
    int vocab = m->cfg.vocab, ctx = o->ctx ? o->ctx : 512, chunks = 0, nv = nv_of(vocab);
    int *own = NULL, rc = TB_OK;
    FILE *base = NULL;
    char tmp[4200] = "";
    if (o->kld) {
        if (!(base = fopen(o->base_path, "rb")))
            return tb_error_set(err, TB_EINVAL, "%s: cannot open the base logits file", o->base_path);
        int file_ctx = 0;
        rc = read_base(base, o->base_path, m, &file_ctx, &chunks, &own, err);
        if (rc == TB_OK && o->ctx && o->ctx != file_ctx)
            rc = tb_error_set(err, TB_EINVAL, "-c %d, but %s was made with n_ctx %d: leave -c out",
                              o->ctx, o->base_path, file_ctx);
        if (rc != TB_OK) {
            fclose(base);
            free(own);
            return rc;
        }
        ctx = file_ctx;
        tokens = own;
        n = chunks * ctx;
    } else {
        if (ctx < 4 || ctx > m->cfg.ctx)
            return tb_error_set(err, TB_EINVAL, "context %d is outside 4..%d (the model's)", ctx,
                                m->cfg.ctx);
        if (n < 2 * ctx)
            return tb_error_set(err, TB_EINVAL, "the text is %d tokens: a context of %d needs at "
                                "least %d (two chunks)", n, ctx, 2 * ctx);
        chunks = n / ctx;
    }
    if (o->chunks > 0 && o->chunks < chunks)
        chunks = o->chunks;
    int batch = o->batch > 0 && o->batch < ctx ? o->batch : ctx, first = ctx / 2, per = ctx - 1 - first;
    float *logits = malloc((size_t)(ctx - first) * vocab * sizeof *logits);
    uint16_t *rows = malloc((size_t)per * nv * sizeof *rows);
    double *klds = o->kld ? malloc((size_t)chunks * per * sizeof *klds) : NULL;
    if (!logits || !rows || (o->kld && !klds))
        rc = tb_error_set(err, TB_ENOMEM, "out of memory for %d x %d logits", ctx, vocab);
    if (rc == TB_OK)
        rc = tb_model_set_batch(m, batch, err);
    if (rc == TB_OK && o->base_path && !o->kld) { /* write beside, rename when whole */
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", o->base_path, (long)getpid());
        int32_t head[3] = {ctx, vocab, chunks};
        if (!(base = fopen(tmp, "wb")) || fwrite(magic, 1, 8, base) != 8 || fwrite(head, 4, 3, base) != 3 ||
            fwrite(tokens, sizeof *tokens, (size_t)chunks * ctx, base) != (size_t)chunks * ctx)
            rc = tb_error_set(err, TB_EIO, "%s: cannot write the base logits file", o->base_path);
    }
    double t0 = tb_now(), nll = 0, nll2 = 0;
    kl_sums s = {0};
    for (int c = 0; rc == TB_OK && c < chunks; c++) {
        const int *chunk = tokens + (size_t)c * ctx;
        rc = run_chunk(m, chunk, ctx, batch, o->bos, first, logits, err);
        for (int j = first; rc == TB_OK && j < ctx - 1; j++) {
            const float *l = logits + (size_t)(j - first) * vocab;
            uint16_t *row = rows + (size_t)(j - first) * nv;
            if (o->kld) {
                if (fread(row, sizeof *row, (size_t)nv, base) != (size_t)nv) {
                    rc = tb_error_set(err, TB_EINVAL, "%s: truncated at chunk %d of %d", o->base_path,
                                      c + 1, chunks);
                    break;
                }
                double dp;
                klds[(size_t)c * per + (j - first)] = compare_row(l, vocab, chunk[j + 1], row, &s, &dp);
                continue;
            }
            double v = o->base_path ? encode_row(l, vocab, chunk[j + 1], row) : nll_of(l, vocab, chunk[j + 1]);
            nll += v;
            nll2 += v * v;
        }
        if (rc == TB_OK && base && !o->kld &&
            fwrite(rows, sizeof *rows, (size_t)per * nv, base) != (size_t)per * nv)
            rc = tb_error_set(err, TB_EIO, "%s: cannot write the base logits file", o->base_path);
        r->count += per;
        if (rc == TB_OK && o->progress) {
            fprintf(o->progress, "[%d]%.4f,", c + 1, exp((o->kld ? s.nll : nll) / r->count));
            fflush(o->progress);
        }
    }
    r->seconds = tb_now() - t0;
    r->chunks = chunks;
    r->ctx = ctx;
    if (o->progress && rc == TB_OK)
        fputc('\n', o->progress);
    if (base && fclose(base) != 0 && rc == TB_OK)
        rc = tb_error_set(err, TB_EIO, "%s: cannot write the base logits file", o->base_path);
    if (tmp[0]) {
        if (rc == TB_OK && rename(tmp, o->base_path) != 0)
            rc = tb_error_set(err, TB_EIO, "%s: cannot write the base logits file", o->base_path);
        if (rc != TB_OK)
            unlink(tmp);
    }
    if (rc == TB_OK) {
        size_t k = (size_t)r->count;
        double mean;
        if (o->kld) {
            nll = s.nll;
            nll2 = s.nll2;
        }
        mean_err(nll, nll2, k, &mean, &r->ppl_err);
        r->ppl = exp(mean);
        r->ppl_err *= r->ppl;
        if (o->kld) {
            double mb, eb, cov = s.cross / (double)k - mean * (s.base / (double)k);
            mean_err(s.base, s.base2, k, &mb, &eb);
            r->ppl_base = exp(mb);
            r->ppl_base_err = eb * r->ppl_base;
            r->ln_ratio = mean - mb;
            double var = (r->ppl_err / r->ppl) * (r->ppl_err / r->ppl) + eb * eb -
                         2 * cov / (double)(k > 1 ? k - 1 : 1);
            r->ln_ratio_err = var > 0 ? sqrt(var) : 0;
            mean_err(s.kld, s.kld2, k, &r->kld, &r->kld_err);
            qsort(klds, k, sizeof *klds, cmp_double);
            static const double at[11] = {1, 0.999, 0.99, 0.95, 0.90, 0.5, 0.10, 0.05, 0.01, 0.001, 0};
            for (int i = 0; i < 11; i++)
                r->kld_pct[i] = klds[(size_t)(at[i] * (double)(k - 1) + 0.5)];
            r->same_top = (double)s.same / (double)k;
            r->same_top_err = k > 1 ? sqrt(r->same_top * (1 - r->same_top) / (double)(k - 1)) : 0;
            mean_err(s.dp, s.dp2, k, &r->dp_mean, &r->dp_mean_err);
            r->dp_rms = sqrt(s.dp2 / (double)k);
        }
    }
    free(logits);
    free(rows);
    free(klds);
    free(own);
    return rc;
}
