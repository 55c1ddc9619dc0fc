/* sampling.c - see sampling.h. */
#include "sampling.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct cand {
    float logit;
    int id;
} cand;

struct tb_sampling {
    tb_sampling_params p;
    int vocab;
    cand *c;                    /* vocab candidates */
    float *adj;                 /* logits after the penalty */
    int *hist;                  /* ring of the last repeat_last_n tokens */
    unsigned char *mark;        /* vocab flags: penalised this step */
    int hist_n, hist_at;
    uint64_t rng;
};

tb_sampling_params tb_sampling_defaults(void)
{
    return (tb_sampling_params){.temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
                               .repeat_penalty = 1.0f, .repeat_last_n = 64, .seed = 0};
}

int tb_sampling_new(const tb_sampling_params *p, int vocab, tb_sampling **out, tb_error *err)
{
    if (!(p->temperature >= 0) || p->temperature > 100)
        return tb_error_set(err, TB_EINVAL, "temperature %g is outside 0..100", p->temperature);
    if (p->top_k < 0)
        return tb_error_set(err, TB_EINVAL, "top-k %d is negative (0 turns it off)", p->top_k);
    if (!(p->top_p > 0 && p->top_p <= 1))
        return tb_error_set(err, TB_EINVAL, "top-p %g is outside (0, 1] (1 turns it off)", p->top_p);
    if (!(p->min_p >= 0 && p->min_p < 1))
        return tb_error_set(err, TB_EINVAL, "min-p %g is outside [0, 1) (0 turns it off)", p->min_p);
    if (!(p->repeat_penalty > 0) || p->repeat_penalty > 100)
        return tb_error_set(err, TB_EINVAL, "repeat penalty %g is outside (0, 100] (1 turns it "
                            "off)", p->repeat_penalty);
    if (p->repeat_last_n < 0 || p->repeat_last_n > (1 << 20))
        return tb_error_set(err, TB_EINVAL, "repeat-last-n %d is outside 0..1048576",
                            p->repeat_last_n);
    tb_sampling *s = calloc(1, sizeof *s);
    if (!s)
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    s->p = *p;
    s->vocab = vocab;
    s->c = malloc((size_t)vocab * sizeof *s->c);
    s->adj = malloc((size_t)vocab * sizeof *s->adj);
    s->hist = malloc((size_t)(p->repeat_last_n + 1) * sizeof *s->hist);
    s->mark = calloc((size_t)vocab, 1);
    s->rng = p->seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
    if (!s->c || !s->adj || !s->hist || !s->mark) {
        tb_sampling_free(s);
        return tb_error_set(err, TB_ENOMEM, "out of memory for a vocabulary of %d", vocab);
    }
    *out = s;
    return TB_OK;
}

void tb_sampling_free(tb_sampling *s)
{
    if (!s)
        return;
    free(s->c);
    free(s->adj);
    free(s->hist);
    free(s->mark);
    free(s);
}

void tb_sampling_accept(tb_sampling *s, int token)
{
    if (s->p.repeat_last_n == 0)
        return;
    s->hist[s->hist_at] = token;
    s->hist_at = (s->hist_at + 1) % s->p.repeat_last_n;
    if (s->hist_n < s->p.repeat_last_n)
        s->hist_n++;
}

static double uniform(uint64_t *st) /* splitmix64 -> [0, 1) */
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static bool better(const cand *a, const cand *b) /* higher logit, then lower id */
{
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cmp_cand(const void *a, const void *b)
{
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

/* The k best of n candidates, best first, in c[0..k): a min-heap of k. */
static void top_k(cand *c, int n, int k)
{
    for (int i = 0; i < n; i++) {
        int len = i < k ? i + 1 : k;
        cand x = c[i];
        if (i >= k) {
            if (!better(&x, &c[0]))
                continue;
            /* replace the worst (the root) and sift down */
            int j = 0;
            for (;;) {
                int ch = 2 * j + 1;
                if (ch >= len)
                    break;
                if (ch + 1 < len && better(&c[ch], &c[ch + 1]))
                    ch++;
                if (!better(&x, &c[ch]))
                    break;
                c[j] = c[ch];
                j = ch;
            }
            c[j] = x;
        } else { /* sift up: the worst at the root */
            int j = i;
            while (j && better(&c[(j - 1) / 2], &x)) {
                c[j] = c[(j - 1) / 2];
                j = (j - 1) / 2;
            }
            c[j] = x;
        }
    }
    qsort(c, (size_t)k, sizeof *c, cmp_cand);
}

int tb_sampling_sample(tb_sampling *s, const float *logits)
{
    int n = s->vocab;
    const float *l = logits;
    if (s->p.repeat_penalty != 1.0f && s->hist_n) {
        memcpy(s->adj, logits, (size_t)n * sizeof *s->adj);
        for (int i = 0; i < s->hist_n; i++) { /* each token once, however often it came */
            int t = s->hist[i];
            if (t < 0 || t >= n || s->mark[t])
                continue;
            s->mark[t] = 1;
            s->adj[t] = s->adj[t] > 0 ? s->adj[t] / s->p.repeat_penalty
                                      : s->adj[t] * s->p.repeat_penalty;
        }
        for (int i = 0; i < s->hist_n; i++)
            if (s->hist[i] >= 0 && s->hist[i] < n)
                s->mark[s->hist[i]] = 0;
        l = s->adj;
    }
    if (s->p.temperature <= 0) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (l[i] > l[best])
                best = i;
        return best;
    }
    for (int i = 0; i < n; i++)
        s->c[i] = (cand){l[i], i};
    int k = s->p.top_k > 0 && s->p.top_k < n ? s->p.top_k : n;
    if (k < n)
        top_k(s->c, n, k);
    else
        qsort(s->c, (size_t)n, sizeof *s->c, cmp_cand);
    /* probabilities without temperature for top-p and min-p (llama.cpp's order) */
    double sum = 0, max = s->c[0].logit;
    for (int i = 0; i < k; i++)
        sum += exp(s->c[i].logit - max);
    if (s->p.top_p < 1) {
        double cum = 0;
        for (int i = 0; i < k; i++) {
            cum += exp(s->c[i].logit - max) / sum;
            if (cum >= s->p.top_p) {
                k = i + 1;
                break;
            }
        }
    }
    if (s->p.min_p > 0) {
        double floor_logit = max + log(s->p.min_p); /* p_i >= min_p * p_max */
        int keep = 1;
        while (keep < k && s->c[keep].logit >= floor_logit)
            keep++;
        k = keep;
    }
    double total = 0;
    for (int i = 0; i < k; i++)
        total += exp((s->c[i].logit - max) / s->p.temperature);
    double r = uniform(&s->rng) * total, acc = 0;
    for (int i = 0; i < k; i++) {
        acc += exp((s->c[i].logit - max) / s->p.temperature);
        if (r < acc)
            return s->c[i].id;
    }
    return s->c[k - 1].id;
}
