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
    bw->n = bytes_per_array / sizeof(double);
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

static void read_part(void *ctx, int begin, int end, int thread)
{
    job *j = ctx;
    size_t lo = (size_t)begin * j->chunk, hi = (size_t)end * j->chunk;
    if (hi > j->bw->n)
        hi = j->bw->n;
    const double *b = j->bw->b;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = lo;
    for (; i + 4 <= hi; i += 4) {
        s0 += b[i];
        s1 += b[i + 1];
        s2 += b[i + 2];
        s3 += b[i + 3];
    }
    for (; i < hi; i++)
        s0 += b[i];
    j->bw->sums[thread & 255] += s0 + s1 + s2 + s3;
}

static double run(tb_bandwidth *bw, tb_pool *pool, int reps, tb_task_fn fn, double bytes_per_elem)
{
    /* Chunks of 64 KiB, handed out dynamically like the kernels' rows. */
    job j = {bw, 8192};
    int nchunks = (int)((bw->n + j.chunk - 1) / j.chunk);
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = tb_now();
        tb_pool_for(pool, nchunks, 4, fn, &j);
        double dt = tb_now() - t0;
        double gbps = (double)bw->n * bytes_per_elem / dt / 1e9;
        if (gbps > best)
            best = gbps;
    }
    return best;
}

double tb_bandwidth_triad(tb_bandwidth *bw, tb_pool *pool, int reps)
{
    return run(bw, pool, reps, triad_part, 24.0);
}

double tb_bandwidth_read(tb_bandwidth *bw, tb_pool *pool, int reps)
{
    return run(bw, pool, reps, read_part, 8.0);
}
