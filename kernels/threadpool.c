/* threadpool.c - see threadpool.h. */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpu.h"
#include "tb_time.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ volatile("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

/* How long an idle worker keeps looking for work before it sleeps: long
 * enough to bridge the gap between two kernels of one forward pass, short
 * enough not to burn a core when idle (nor to count as load when idle power
 * is measured). */
#define SPIN_SECONDS 0.003

struct tb_pool {
    int threads;
    int pause_rounds;         /* PAUSE_ROUNDS, or 0 with more threads than usable CPUs */
    pthread_t *tid;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_uint gen;          /* bumped once per job */
    atomic_int finished;      /* workers done with the current job */
    atomic_bool quit;
    int n, grain;
    struct share {            /* one thread's unclaimed units, see run_share */
        _Alignas(64) _Atomic uint64_t units;
        double busy;          /* with sync timed: the seconds it spent in the job */
    } *shares;
    double *sync;             /* see tb_pool_time_sync */
    tb_task_fn fn;
    void *ctx;
    struct worker_arg {
        tb_pool *pool;
        int index;
        bool pin;
        atomic_int tid;       /* the worker's kernel thread id, once it runs */
    } *args;
    int caller_tid;
};

/* How a thread waits for another: PAUSE for some tens of microseconds (the
 * common case: the other thread is running and nearly done), then give the
 * CPU away with sched_yield() between looks. The yield matters when the pool
 * has more threads than the CPUs it may use (taskset, a container's quota, a
 * busy machine): the thread waited for may need this very CPU. With pure
 * spinning every wait lasted a scheduler time slice, and 2 threads on 1 CPU
 * decoded 240x slower than 1 thread. */
#define PAUSE_ROUNDS 4096

static void wait_turn(const tb_pool *p, int *rounds)
{
    if (++*rounds < p->pause_rounds)
        CPU_RELAX();
    else
        sched_yield();
}

/* A job is n indices in units of `grain` (every chunk boundary is a multiple
 * of grain). Thread i starts with the i-th contiguous slice of the units,
 * packed as begin << 32 | end in its share, and claims from the front: half
 * of what is left each time, so a one-token GEMV reads each thread's rows as
 * one forward stream (the hardware prefetcher restarts at every jump) in a
 * handful of calls. A thread that runs out takes the back half of the largest
 * share left. The caller and the worker of a 2-thread pool run at different
 * speeds (by ~6% on the development VM); a static split made the faster one
 * wait for the slower at every matrix. */
static uint64_t pack(uint32_t begin, uint32_t end)
{
    return (uint64_t)begin << 32 | end;
}

static uint32_t unit_begin(uint64_t u) { return (uint32_t)(u >> 32); }
static uint32_t unit_end(uint64_t u) { return (uint32_t)u; }

static void run_share(tb_pool *p, int self)
{
    _Atomic uint64_t *mine = &p->shares[self].units;
    for (;;) {
        uint64_t u = atomic_load_explicit(mine, memory_order_relaxed);
        uint32_t b = unit_begin(u), e = unit_end(u);
        if (b < e) {
            uint32_t take = (e - b + 1) / 2;
            if (!atomic_compare_exchange_weak_explicit(mine, &u, pack(b + take, e),
                                                      memory_order_relaxed, memory_order_relaxed))
                continue; /* a thief moved the end: look again */
            int begin = (int)b * p->grain, end = (int)(b + take) * p->grain;
            p->fn(p->ctx, begin, end < p->n ? end : p->n, self);
            continue;
        }
        /* Steal the back half of the largest share left. */
        int victim = -1;
        uint32_t most = 0;
        for (int i = 0; i < p->threads; i++) {
            uint64_t v = atomic_load_explicit(&p->shares[i].units, memory_order_relaxed);
            if (unit_end(v) - unit_begin(v) > most) { /* begin <= end always */
                most = unit_end(v) - unit_begin(v);
                victim = i;
            }
        }
        if (victim < 0)
            return;
        _Atomic uint64_t *theirs = &p->shares[victim].units;
        uint64_t v = atomic_load_explicit(theirs, memory_order_relaxed);
        uint32_t vb = unit_begin(v), ve = unit_end(v);
        if (vb >= ve)
            continue;
        uint32_t mid = vb + (ve - vb) / 2; /* the owner keeps the front half, rounded down */
        if (atomic_compare_exchange_strong_explicit(theirs, &v, pack(vb, mid),
                                                    memory_order_relaxed, memory_order_relaxed))
            atomic_store_explicit(mine, pack(mid, ve), memory_order_relaxed);
    }
}

static void pin_to(int cpu)
{
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
#else
    (void)cpu;
#endif
}

static void *worker_main(void *arg)
{
    struct worker_arg *wa = arg;
    tb_pool *p = wa->pool;
    atomic_store(&wa->tid, (int)syscall(SYS_gettid));
    if (wa->pin)
        pin_to(wa->index);
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int rounds = 0;
        double since = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen) {
            wait_turn(p, &rounds);
            if (rounds < p->pause_rounds) /* the clock is read only once yielding */
                continue;
            if (since == 0)
                since = tb_now();
            if (tb_now() - since < SPIN_SECONDS)
                continue;
            pthread_mutex_lock(&p->lock);
            while ((g = atomic_load(&p->gen)) == seen)
                pthread_cond_wait(&p->wake, &p->lock);
            pthread_mutex_unlock(&p->lock);
            break;
        }
        seen = g;
        if (atomic_load(&p->quit))
            return NULL;
        double t0 = p->sync ? tb_now() : 0; /* set before the job was handed out */
        run_share(p, wa->index);
        if (p->sync)
            p->shares[wa->index].busy = tb_now() - t0;
        atomic_fetch_add_explicit(&p->finished, 1, memory_order_release);
    }
}

int tb_pool_create(int threads, bool pin, tb_pool **out, tb_error *err)
{
    if (threads < 1 || threads > 1024)
        return tb_error_set(err, TB_EINVAL, "thread count %d is outside 1..1024", threads);
    tb_pool *p = calloc(1, sizeof *p);
    if (!p)
        return tb_error_set(err, TB_ENOMEM, "out of memory for the thread pool");
    p->threads = threads;
    /* more threads than CPUs: every wait is for a thread that needs this CPU */
    p->pause_rounds = threads > tb_cpu_usable(NULL, 0) ? 0 : PAUSE_ROUNDS;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->tid = calloc((size_t)threads, sizeof *p->tid);
    p->args = calloc((size_t)threads, sizeof *p->args);
    p->shares = aligned_alloc(64, (size_t)threads * sizeof *p->shares);
    if (!p->tid || !p->args || !p->shares) {
        tb_pool_destroy(p);
        return tb_error_set(err, TB_ENOMEM, "out of memory for the thread pool");
    }
    p->caller_tid = (int)syscall(SYS_gettid);
    if (pin)
        pin_to(0);
    for (int i = 1; i < threads; i++) {
        p->args[i] = (struct worker_arg){p, i, pin, 0};
        if (pthread_create(&p->tid[i], NULL, worker_main, &p->args[i]) != 0) {
            p->threads = i;
            tb_pool_destroy(p);
            return tb_error_set(err, TB_EIO, "cannot start worker thread %d", i);
        }
    }
    *out = p;
    return TB_OK;
}

void tb_pool_destroy(tb_pool *p)
{
    if (!p)
        return;
    atomic_store(&p->quit, true);
    pthread_mutex_lock(&p->lock);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->threads; i++)
        if (p->tid && p->tid[i])
            pthread_join(p->tid[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p->tid);
    free(p->args);
    free(p->shares);
    free(p);
}

int tb_pool_threads(const tb_pool *p)
{
    return p->threads;
}

int tb_pool_tids(tb_pool *p, int *tids, int cap)
{
    int n = 0;
    if (cap > 0)
        tids[n++] = p->caller_tid;
    for (int i = 1; i < p->threads && n < cap; i++) {
        int t;
        while ((t = atomic_load(&p->args[i].tid)) == 0) /* a worker that has not started yet */
            sched_yield();
        tids[n++] = t;
    }
    return n;
}

void tb_pool_time_sync(tb_pool *p, double *sync)
{
    p->sync = sync;
}

void tb_pool_for(tb_pool *p, int n, int grain, tb_task_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (grain < 1)
        grain = 1;
    if (p->threads == 1 || n <= grain) {
        fn(ctx, 0, n, 0);
        return;
    }
    double start = p->sync ? tb_now() : 0;
    p->n = n;
    p->grain = grain;
    p->fn = fn;
    p->ctx = ctx;
    uint64_t units = ((uint64_t)n + (uint64_t)grain - 1) / (uint64_t)grain;
    for (int i = 0; i < p->threads; i++)
        atomic_store_explicit(&p->shares[i].units,
                              pack((uint32_t)(units * (uint64_t)i / (uint64_t)p->threads),
                                   (uint32_t)(units * (uint64_t)(i + 1) / (uint64_t)p->threads)),
                              memory_order_relaxed);
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    pthread_mutex_lock(&p->lock);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    double t0 = p->sync ? tb_now() : 0;
    run_share(p, 0);
    if (p->sync)
        p->shares[0].busy = tb_now() - t0;
    int rounds = 0;
    while (atomic_load_explicit(&p->finished, memory_order_acquire) < p->threads - 1)
        wait_turn(p, &rounds);
    if (p->sync) {
        double busiest = 0;
        for (int i = 0; i < p->threads; i++)
            busiest = p->shares[i].busy > busiest ? p->shares[i].busy : busiest;
        *p->sync += tb_now() - start - busiest;
    }
}

typedef struct gemm_job {
    tb_gemm_fn fn;
    const tb_matrix *w;
    const tb_act *a;
    float *y;
} gemm_job;

static void gemm_chunk(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    gemm_job *j = ctx;
    j->fn(j->w, j->a, j->y, j->w->rows, begin, end);
}

/* Several products as one range of 32-row chunks: product i holds chunks
 * [first[i], first[i + 1]). */
typedef struct gemm_set {
    int n;
    gemm_job job[TB_POOL_GEMM_MAX];
    int first[TB_POOL_GEMM_MAX + 1];
} gemm_set;

static void gemm_set_chunk(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const gemm_set *s = ctx;
    for (int i = 0; i < s->n; i++) {
        int b = begin > s->first[i] ? begin : s->first[i];
        int e = end < s->first[i + 1] ? end : s->first[i + 1];
        if (b >= e)
            continue;
        const gemm_job *j = &s->job[i];
        int r1 = (e - s->first[i]) * 32;
        j->fn(j->w, j->a, j->y, j->w->rows, (b - s->first[i]) * 32, r1 < j->w->rows ? r1 : j->w->rows);
    }
}

void tb_pool_gemm_n(tb_pool *p, int n, const tb_gemm_fn *fn, const tb_matrix *const *w,
                    const tb_act *const *a, float *const *y)
{
    gemm_set s = {.n = n < TB_POOL_GEMM_MAX ? n : TB_POOL_GEMM_MAX};
    for (int i = 0; i < s.n; i++) {
        s.job[i] = (gemm_job){fn[i], w[i], a[i], y[i]};
        s.first[i + 1] = s.first[i] + (w[i]->rows + 31) / 32;
    }
    tb_pool_for(p, s.first[s.n], 1, gemm_set_chunk, &s);
}

void tb_pool_gemm(tb_pool *p, tb_gemm_fn fn, const tb_matrix *w, const tb_act *a, float *y)
{
    /* Chunks in multiples of 32 rows: whole register tiles of every kernel,
     * and whole tl2 tiles. */
    gemm_job job = {fn, w, a, y};
    tb_pool_for(p, w->rows, 32, gemm_chunk, &job);
}
