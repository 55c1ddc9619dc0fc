/*
 * threadpool.h - persistent workers and a parallel-for over index ranges.
 *
 * The calling thread works too, so a pool of N threads starts N-1 workers.
 * A parallel-for gives each thread one contiguous slice of the index range,
 * which it works through front to back; a thread that finishes early takes
 * the back half of the largest slice left (a core slowed by a noisy
 * neighbour ends up with less). Waiting threads spin briefly, then yield
 * their CPU between looks (at once when the pool has more threads than the
 * CPUs the process may use); idle workers sleep on a condition variable after
 * a few milliseconds. Nothing is allocated per call.
 */
#ifndef TB_THREADPOOL_H
#define TB_THREADPOOL_H

#include <stdbool.h>

#include "formats.h"
#include "tb_error.h"

typedef struct tb_pool tb_pool;

/* fn processes indices [begin, end) on thread number `thread` (0 = caller). */
typedef void (*tb_task_fn)(void *ctx, int begin, int end, int thread);

/* pin: bind thread i to online CPU i (ignored where that fails). */
int tb_pool_create(int threads, bool pin, tb_pool **out, tb_error *err);
void tb_pool_destroy(tb_pool *p);
int tb_pool_threads(const tb_pool *p);

/* The kernel thread ids of the pool's threads (the creating thread first),
 * for per-thread hardware counters; returns how many were written. */
int tb_pool_tids(tb_pool *p, int *tids, int cap);

/* Timing of the pool's synchronisation, for profiles. While sync is set,
 * each parallel-for adds to *sync the part of its wall time that lies
 * outside the busiest thread's work: handing the job out, waking the
 * workers, and seeing the last one finish. NULL turns it off. Call between
 * parallel-fors, from the pool's creating thread. */
void tb_pool_time_sync(tb_pool *p, double *sync);

/* fn over [0, n) in chunks whose bounds are multiples of grain (or n). */
void tb_pool_for(tb_pool *p, int n, int grain, tb_task_fn fn, void *ctx);

/* y (a->n x w->rows, token-major) = w x a, rows split across the pool. */
void tb_pool_gemm(tb_pool *p, tb_gemm_fn fn, const tb_matrix *w, const tb_act *a, float *y);

enum { TB_POOL_GEMM_MAX = 4 };

/* n (at most TB_POOL_GEMM_MAX) products y[i] = w[i] x a[i] in one
 * parallel-for over all their rows (q, k and v; gate and up): the pool's
 * fork and join once instead of n times. Each row as tb_pool_gemm computes it. */
void tb_pool_gemm_n(tb_pool *p, int n, const tb_gemm_fn *fn, const tb_matrix *const *w,
                    const tb_act *const *a, float *const *y);

#endif
