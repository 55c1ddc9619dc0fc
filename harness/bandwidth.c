/* bandwidth.c - see bandwidth.h. */
#include "bandwidth.h"

#include <stdlib.h>
#include <string.h>

#include "tb_mem.h"
#include "tb_time.h"

struct tb_bandwidth {
    double *a, *b, *c;
    size_t n;
    double sums[256]; /* per-thread partial sums of the read test, kept so it is not elided */
};

int tb_bandwidth_new(size_t bytes_per_array, tb_bandwidth **out, tb_error *err)
{
    tb_bandwidth *bw = calloc(1, sizeof *bw);
    if (!bw)
        return tb_error_set(err, TB_ENOMEM, "out of memory");
    bw->n = bytes_per_array / (64 * 1024) * (64 * 1024) / sizeof(double); /* whole chunks */
    /* huge pages where the kernel grants them, as the engine's weights and
     * KV cache have: the probe's TLB misses must not lower the roofline */
    size_t bytes = bw->n * sizeof(double);
    void *pa = tb_alloc_streamed(bytes), *pb = tb_alloc_streamed(bytes), *pc = tb_alloc_streamed(bytes);
    if (!pa || !pb || !pc) {
        free(pa);
        free(pb);
        free(pc);
        free(bw);
        return tb_error_set(err, TB_ENOMEM, "out of memory for the bandwidth probe (3 x %zu MiB)",
                            bytes_per_array >> 20);
    }
    bw->a = pa;
    bw->b = pb;
    bw->c = pc;
    for (size_t i = 0; i < bw->n; i++) {
        bw->a[i] = 0;
        bw->b[i] = 1;
        bw->c[i] = 2;
    }
    *out = bw;
    return TB_OK;
}

void tb_bandwidth_free(tb_bandwidth *bw)
{
    if (!bw)
        return;
    free(bw->a);
    free(bw->b);
    free(bw->c);
    free(bw);
}

typedef struct job {
    tb_bandwidth *bw;
    size_t chunk;
} job;

static void triad_part(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    job *j = ctx;
    size_t lo = (size_t)begin * j->chunk, hi = (size_t)end * j->chunk;
    if (hi > j->bw->n)
        hi = j->bw->n;
    double *restrict a = j->bw->a;
    const double *restrict b = j->bw->b, *restrict c = j->bw->c;
    for (size_t i = lo; i < hi; i++)
        a[i] = b[i] + 3.0 * c[i];
}

/* Sums [lo, hi) of b (a multiple of 16 doubles apart) in vector registers,
 * as the decode kernels stream their weights: a core's read stream is what
 * is timed, not its adds (a scalar loop ran at half of DRAM's speed here). */
#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2"))) static double sum_avx2(const double *b, size_t lo, size_t hi)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = lo; i < hi; i += 16) {
        s0 = _mm256_add_pd(s0, _mm256_load_pd(b + i));
        s1 = _mm256_add_pd(s1, _mm256_load_pd(b + i + 4));
        s2 = _mm256_add_pd(s2, _mm256_load_pd(b + i + 8));
        s3 = _mm256_add_pd(s3, _mm256_load_pd(b + i + 12));
    }
    double o[4];
    _mm256_storeu_pd(o, _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
    return o[0] + o[1] + o[2] + o[3];
}
#elif defined(__aarch64__)
#include <arm_neon.h>
static double sum_neon(const double *b, size_t lo, size_t hi)
{
    float64x2_t s0 = vdupq_n_f64(0), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = lo; i < hi; i += 8) {
        s0 = vaddq_f64(s0, vld1q_f64(b + i));
        s1 = vaddq_f64(s1, vld1q_f64(b + i + 2));
        s2 = vaddq_f64(s2, vld1q_f64(b + i + 4));
        s3 = vaddq_f64(s3, vld1q_f64(b + i + 6));
    }
    return vaddvq_f64(vaddq_f64(vaddq_f64(s0, s1), vaddq_f64(s2, s3)));
}
#endif

static double sum_plain(const double *b, size_t lo, size_t hi)
{
    double s[8] = {0};
    for (size_t i = lo; i < hi; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] += b[i + k];
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

static double sum(const double *b, size_t lo, size_t hi)
{
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx2") ? sum_avx2(b, lo, hi) : sum_plain(b, lo, hi);
#elif defined(__aarch64__)
    return sum_neon(b, lo, hi);
#else
    return sum_plain(b, lo, hi);
#endif
}

/* Reads all three arrays (3 x 64 MiB: larger than any last-level cache a
 * guest is likely to sit on), chunk by chunk: chunk c of array c / per. */
static void read_part(void *ctx, int begin, int end, int thread)
{
    job *j = ctx;
    size_t per = j->bw->n / j->chunk; /* the arrays are whole chunks */
    const double *arrays[3] = {j->bw->a, j->bw->b, j->bw->c};
    double s = 0;
    for (int c = begin; c < end; c++) {
        size_t lo = (size_t)c % per * j->chunk;
        s += sum(arrays[(size_t)c / per], lo, lo + j->chunk);
    }
    j->bw->sums[thread & 255] += s;
}

static double run(tb_bandwidth *bw, tb_pool *pool, int reps, tb_task_fn fn, double bytes_per_elem,
                  int arrays)
{
    /* Chunks of 64 KiB, handed out dynamically like the kernels' rows. */
    job j = {bw, 8192};
    int nchunks = arrays * (int)((bw->n + j.chunk - 1) / j.chunk);
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = tb_now();
        tb_pool_for(pool, nchunks, 4, fn, &j);
        double dt = tb_now() - t0;
        double gbps = (double)bw->n * arrays * bytes_per_elem / dt / 1e9;
        if (gbps > best)
            best = gbps;
    }
    return best;
}

double tb_bandwidth_triad(tb_bandwidth *bw, tb_pool *pool, int reps)
{
    return run(bw, pool, reps, triad_part, 24.0, 1);
}

double tb_bandwidth_read(tb_bandwidth *bw, tb_pool *pool, int reps)
{
    return run(bw, pool, reps, read_part, 8.0, 3);
}
