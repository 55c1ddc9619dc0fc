/*
 * cmd_kernels.c - `ternbench kernels`: a micro-benchmark of the GEMV/GEMM
 * kernels per format, ISA and shape, each beside the memory roofline.
 *
 * GEMV (one token) is memory-bound: its figure of merit is weight bytes per
 * second as a fraction of the bandwidth a read-only stream reaches on the
 * same threads (the access a GEMV makes: a STREAM triad also writes, and
 * counted at STREAM's 24 bytes per element it understates what reading
 * alone gets), probed right before and after each measurement because this
 * class of machine drifts within minutes. So that GEMV reads memory and not
 * cache, the matrix is replicated until the copies exceed 256 MB and the
 * calls cycle through them. Beside it, the same kernel on as many of the
 * rows as fit half of each thread's L2 gives its rate when memory costs
 * nothing: below the probe, the kernel, not the memory, bounds the GEMV.
 * GEMM (a batch of tokens) is compute-bound: its figure is GOP/s (2 * m * k
 * * batch operations per call). A row that lost more than 5 % of its time to
 * the hypervisor or to other threads is timed again, at most three more
 * times, and still disturbed, it says so and its bound is withheld.
 *
 * What is timed: the kernel over all rows, split across the thread pool.
 * Not timed: quantizing the activations (done once per token by the engine
 * and measured there).
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bandwidth.h"
#include "cli.h"
#include "counters.h"
#include "cpu.h"
#include "formats.h"
#include "machine.h"
#include "stats.h"
#include "tb_file.h"
#include "tb_mem.h"
#include "tb_time.h"
#include "threadpool.h"

enum { MAX_SHAPES = 16, GEMV_FOOTPRINT = 256 << 20, RETRIES = 3 };
#define MAX_LOST 0.05 /* a row may lose this share of its time to others (bench's default) */

typedef struct shape { int m, k; } shape;

typedef struct kopts {
    bool fmt_on[TB_FMT_COUNT];
    const char *isa;            /* NULL: the selected one; "all": every supported */
    long threads;
    shape shapes[MAX_SHAPES];
    int nshapes;
    long batch;
    bool do_gemv, do_gemm;
    double min_time;
    bool json, pin;
} kopts;

static void help(void)
{
    printf("usage: ternbench kernels [options]\n\n"
           "Times the GEMV (decode) and GEMM (prompt) kernels per format, ISA and shape, with\n"
           "weight GB/s, GOP/s and the fraction of the memory roofline: a read-only stream\n"
           "probed on the same threads before and after each row.\n\n"
           "  --format F,...    formats (default: all of them)\n"
           "  --isa I           scalar | avx2 | avx512 | neon | all (default: the best available)\n"
           "  -t, --threads T   threads (default: the CPUs this process may use)\n"
           "  --shape MxK,...   shapes (default: BitNet-b1.58-2B-4T's 2560x2560, 640x2560,\n"
           "                    6912x2560, 2560x6912 and lm_head 128256x2560)\n"
           "  --batch N         tokens per GEMM (default 128)\n"
           "  --op OP           gemv | gemm | both (default both)\n"
           "  --min-time S      seconds per measurement (default 0.3; at least 5 calls)\n"
           "  --pin             pin thread i to CPU i\n"
           "  --json            print one JSON document on stdout instead of the table\n"
           "  -h, --help        this text\n");
}

static int parse_shapes(const char *text, kopts *o)
{
    o->nshapes = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *x = strchr(tok, 'x');
        char *end1, *end2;
        long m = x ? strtol(tok, &end1, 10) : 0, k = x ? strtol(x + 1, &end2, 10) : 0;
        if (!x || end1 != x || *end2 || m < 1 || k < 1 || m > 1 << 20 || k > 1 << 16)
            return tb_cli_usage_error("kernels", "--shape: '%s' is not MxK (e.g. 2560x6912, "
                                                 "M <= 1048576, K <= 65536)", tok);
        if (o->nshapes == MAX_SHAPES)
            return tb_cli_usage_error("kernels", "--shape: at most %d shapes", MAX_SHAPES);
        o->shapes[o->nshapes++] = (shape){(int)m, (int)k};
    }
    return o->nshapes ? TB_EXIT_OK : tb_cli_usage_error("kernels", "--shape: no shape given");
}

static int parse_formats(const char *text, kopts *o)
{
    memset(o->fmt_on, 0, sizeof o->fmt_on);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        tb_format f;
        tb_error err;
        if (tb_format_parse(tok, &f, &err) != TB_OK)
            return tb_cli_usage_error("kernels", "--format: %s", err.text);
        o->fmt_on[f] = true;
    }
    return TB_EXIT_OK;
}

static int parse(int argc, char **argv, kopts *o)
{
    enum { O_FMT = 256, O_ISA, O_SHAPE, O_BATCH, O_OP, O_MIN, O_PIN, O_JSON };
    static const struct option opts[] = {
        {"format", required_argument, NULL, O_FMT}, {"isa", required_argument, NULL, O_ISA},
        {"threads", required_argument, NULL, 't'}, {"shape", required_argument, NULL, O_SHAPE},
        {"batch", required_argument, NULL, O_BATCH}, {"op", required_argument, NULL, O_OP},
        {"min-time", required_argument, NULL, O_MIN}, {"pin", no_argument, NULL, O_PIN},
        {"json", no_argument, NULL, O_JSON}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int rc = TB_EXIT_OK;
    opterr = 0;
    optind = 1;
    for (int c; rc == TB_EXIT_OK && (c = getopt_long(argc, argv, ":t:h", opts, NULL)) != -1;) {
        switch (c) {
        case O_FMT: rc = parse_formats(optarg, o); break;
        case O_ISA: o->isa = optarg; break;
        case 't': rc = tb_cli_parse_int("kernels", "--threads", optarg, 1, 1024, &o->threads); break;
        case O_SHAPE: rc = parse_shapes(optarg, o); break;
        case O_BATCH: rc = tb_cli_parse_int("kernels", "--batch", optarg, 2, 4096, &o->batch); break;
        case O_OP:
            o->do_gemv = !strcmp(optarg, "gemv") || !strcmp(optarg, "both");
            o->do_gemm = !strcmp(optarg, "gemm") || !strcmp(optarg, "both");
            if (!o->do_gemv && !o->do_gemm)
                rc = tb_cli_usage_error("kernels", "--op: '%s' is not gemv, gemm or both", optarg);
            break;
        case O_MIN: rc = tb_cli_parse_double("kernels", "--min-time", optarg, 0.001, 60, &o->min_time); break;
        case O_PIN: o->pin = true; break;
        case O_JSON: o->json = true; break;
        case 'h': help(); return -1;
        default: return tb_cli_bad_option("kernels", argv, optind, optopt, c);
        }
    }
    if (rc == TB_EXIT_OK && optind < argc)
        rc = tb_cli_usage_error("kernels", "unexpected argument '%s'", argv[optind]);
    return rc;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double rnd_unit(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

typedef struct measurement {
    double seconds;    /* median per call */
    double gbps, gops, bw, fraction;
    double cached_gbps; /* GEMV: the rate on rows held in L2; 0 for GEMM */
    double lost;        /* the share of its time others took (tb_usage_lost_share) */
    int calls, tries;
    bool disturbed;     /* lost > MAX_LOST in every try: the last one is kept */
} measurement;

/* The median seconds per call of fn over the copies, calling until min_time. */
static double time_calls(tb_pool *pool, tb_gemm_fn fn, tb_matrix *copies, int ncopies,
                         const tb_act *a, float *y, double min_time, int *calls)
{
    tb_pool_gemm(pool, fn, &copies[0], a, y); /* warm-up */
    enum { MAX_CALLS = 100000 };
    static double times[MAX_CALLS];
    int n = 0;
    double start = tb_now();
    while (n < MAX_CALLS && (n < 5 || tb_now() - start < min_time)) {
        double t0 = tb_now();
        tb_pool_gemm(pool, fn, &copies[n % ncopies], a, y);
        times[n++] = tb_now() - t0;
    }
    *calls = n;
    return tb_median(times, n);
}

/* Times fn over the copies until min_time, with read-stream probes on both sides. */
static measurement measure(tb_pool *pool, tb_bandwidth *bw, tb_gemm_fn fn, tb_matrix *copies,
                           int ncopies, const tb_act *a, float *y, double min_time, size_t wbytes)
{
    measurement m = {0};
    double bw_before = tb_bandwidth_read(bw, pool, 2);
    m.seconds = time_calls(pool, fn, copies, ncopies, a, y, min_time, &m.calls);
    double bw_after = tb_bandwidth_read(bw, pool, 2);
    m.bw = 0.5 * (bw_before + bw_after);
    const tb_matrix *w = &copies[0];
    m.gbps = (double)wbytes / m.seconds / 1e9;
    m.gops = 2.0 * w->rows * (double)w->k * a->n / m.seconds / 1e9;
    m.fraction = m.gbps / m.bw;
    return m;
}

/* This CPU's L2 per core from sysfs (the first unified or data cache of
 * level 2); 512 KiB where sysfs does not say. */
static size_t l2_bytes(void)
{
    for (int i = 0; i < 8; i++) {
        char path[96], text[32];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        if (tb_file_read_text(path, text, sizeof text, NULL) < 0)
            break;
        if (atoi(text) != 2)
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        char *end;
        long kib = tb_file_read_text(path, text, sizeof text, NULL) < 0 ? 0 : strtol(text, &end, 10);
        if (kib > 0 && *end == 'K')
            return (size_t)kib << 10;
        if (kib > 0 && *end == 'M')
            return (size_t)kib << 20;
    }
    return 512u << 10;
}

/* The GEMV's rate with memory out of the way: the first rows of w, as many
 * as fit half of each thread's L2 (l2 bytes; whole tiles of 32 rows, the
 * largest any format lays out), called until they stay there. */
static double cached_gbps(tb_pool *pool, size_t l2, tb_gemm_fn fn, const tb_matrix *w,
                          const tb_act *a, float *y, double min_time, size_t wbytes)
{
    double row = (double)wbytes / w->rows;
    int fit = (int)((double)tb_pool_threads(pool) * (double)(l2 / 2) / row) / 32 * 32;
    tb_matrix part = *w;
    part.rows = fit < 32 ? (w->rows < 32 ? w->rows : 32) : fit < w->rows ? fit : w->rows;
    int calls;
    double s = time_calls(pool, fn, &part, 1, a, y, min_time, &calls);
    return row * part.rows / s / 1e9;
}

typedef struct fj_ctx { int dummy; } fj_ctx;

static void nothing(void *ctx, int begin, int end, int thread)
{
    (void)ctx;
    (void)begin;
    (void)end;
    (void)thread;
}

/* Median fork/join cost of an empty parallel-for, in microseconds. */
static double fork_join_us(tb_pool *pool)
{
    double t[2000];
    fj_ctx c;
    for (int i = 0; i < 2000; i++) {
        double t0 = tb_now();
        tb_pool_for(pool, tb_pool_threads(pool), 1, nothing, &c);
        t[i] = tb_now() - t0;
    }
    return tb_median(t, 2000) * 1e6;
}

/* Everything one `kernels` run holds. */
typedef struct krun {
    const kopts *o;
    tb_machine mach;
    tb_isa isas[TB_ISA_COUNT];
    int nisa;
    tb_pool *pool;
    tb_bandwidth *bw;
    json_t *results;
    int *tids, ntids;          /* the pool's threads, whose waits for a CPU count as lost */
    size_t l2;                 /* bytes of L2 per core (l2_bytes) */
    double bw_sum;
    int bw_n, disturbed;
    bool interleaved;          /* some i2_s row ran on interleaved rows */
} krun;

/* The ISAs to time: the selected one, every one the CPU runs, or --isa's. */
static int choose_isas(krun *k)
{
    const char *isa = k->o->isa;
    if (!isa) {
        k->isas[k->nisa++] = k->mach.isa;
    } else if (!strcmp(isa, "all")) {
        for (int i = 0; i < TB_ISA_COUNT; i++)
            if (tb_isa_supported((tb_isa)i, k->mach.cpu.features))
                k->isas[k->nisa++] = (tb_isa)i;
    } else {
        tb_error err;
        if (tb_isa_select(k->mach.cpu.features, isa, &k->isas[0], &err) != TB_OK)
            return tb_cli_usage_error("kernels", "--isa: %s", err.text + strlen("TERNBENCH_ISA="));
        k->nisa = 1;
    }
    return TB_EXIT_OK;
}

/* What bounds a GEMV: the kernel where its rate on cached rows is below the
 * memory's read stream, else the memory; withheld for a disturbed row. */
static const char *bound(const measurement *r)
{
    if (r->disturbed)
        return "disturbed";
    return r->cached_gbps <= 0 ? "-" : r->cached_gbps < r->bw ? "kernel" : "memory";
}

/* A row's figures (GEMV: with its rate from L2), timed again while the
 * machine took more than MAX_LOST of a try's time from the pool's threads. */
static measurement measure_row(krun *k, tb_gemm_fn fn, tb_matrix *copies, int ncopies,
                               const tb_act *a, float *y, size_t wbytes, bool gemv)
{
    measurement r;
    for (int t = 0;; t++) {
        tb_usage u0, u1;
        tb_usage_now(&u0, k->tids, k->ntids);
        double t0 = tb_now();
        r = measure(k->pool, k->bw, fn, copies, ncopies, a, y, k->o->min_time, wbytes);
        if (gemv)
            r.cached_gbps = cached_gbps(k->pool, k->l2, fn, &copies[0], a, y, k->o->min_time, wbytes);
        tb_usage_now(&u1, k->tids, k->ntids);
        r.lost = tb_usage_lost_share(&u0, &u1, tb_now() - t0, k->ntids, k->mach.cpu.logical_cpus);
        r.tries = t + 1;
        r.disturbed = r.lost > MAX_LOST;
        if (!r.disturbed || t == RETRIES)
            break;
    }
    k->disturbed += r.disturbed;
    return r;
}

static void print_row(const krun *k, const char *fmt, tb_isa used, const char *op, int m, int kk,
                      const tb_act *a, const measurement *r)
{
    if (!k->o->json) {
        char cached[16] = "-";
        if (r->cached_gbps > 0)
            snprintf(cached, sizeof cached, "%.1f", r->cached_gbps);
        printf("| %-6s | %-6s | %s | %6d | %5d | %5d | %9.3f | %6.1f | %6.1f | %7.1f%% | %7s | %-9s |\n",
               fmt, tb_isa_name(used), op, m, kk, a->n, r->seconds * 1e3, r->gbps, r->gops,
               100 * r->fraction, cached, bound(r));
        fflush(stdout);
    }
}

static json_t *row_json(const krun *k, const char *fmt, tb_isa used, const char *op, int interleave,
                        int m, int kk, const tb_act *a, const measurement *r, size_t wbytes)
{
    json_t *row = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:I, s:i}",
                            "format", fmt, "isa", tb_isa_name(used), "op", op, "interleave", interleave,
                            "m", m, "k", kk, "batch", a->n, "threads", (int)k->o->threads, "seconds",
                            r->seconds, "gbps", r->gbps, "gops", r->gops, "roofline_fraction", r->fraction,
                            "bandwidth_gbps", r->bw, "weight_bytes", (json_int_t)wbytes, "calls", r->calls);
    if (r->cached_gbps > 0) {
        json_object_set_new(row, "cached_gbps", json_real(r->cached_gbps));
        if (!r->disturbed)
            json_object_set_new(row, "bound", json_string(bound(r)));
    }
    json_object_set_new(row, "lost_share", json_real(r->lost));
    json_object_set_new(row, "tries", json_integer(r->tries));
    json_object_set_new(row, "disturbed", json_boolean(r->disturbed));
    return row;
}

/* Times format f on an m x kk shape on every ISA chosen (each variant once:
 * an ISA without its own kernel falls back to one already timed). */
static int time_format(krun *k, tb_format f, int m, int kk, const float *src, const float *x, float *y)
{
    const kopts *o = k->o;
    const tb_format_traits *tr = tb_format_get(f);
    tb_error err;
    size_t wbytes = tb_format_bytes(f, m, kk);
    int ncopies = o->do_gemv ? (int)((GEMV_FOOTPRINT + wbytes - 1) / wbytes) : 1;
    uint8_t *buf = tb_alloc_streamed(wbytes * (size_t)ncopies); /* as the engine holds weights */
    tb_matrix *copies = calloc((size_t)ncopies, sizeof *copies);
    tb_act a1 = {0}, an = {0};
    bool ok = buf && copies && tb_act_alloc(&a1, tr->act, 1, kk, &err) == TB_OK &&
              tb_act_alloc(&an, tr->act, (int)o->batch, kk, &err) == TB_OK;
    if (ok) {
        tr->quantize(src, m, kk, buf, &err);
        for (int c = 0; c < ncopies; c++) {
            if (c)
                memcpy(buf + (size_t)c * wbytes, buf, wbytes);
            tb_matrix_init(&copies[c], f, m, kk, buf + (size_t)c * wbytes, wbytes, &err);
        }
        tb_act_quantize(&a1, x, 1);
        tb_act_quantize(&an, x, (int)o->batch);
    }
    tb_isa done[TB_ISA_COUNT];
    int ndone = 0;
    for (int i = 0; i < k->nisa && ok; i++) {
        tb_isa used;
        tb_gemm_fn fn = tb_gemm_select(f, k->isas[i], &used);
        bool dup = false;
        for (int d = 0; d < ndone; d++)
            dup |= done[d] == used;
        if (dup)
            continue;
        done[ndone++] = used;
        /* as the engine lays the rows out for this ISA (the ISAs come in
         * ascending order, and every kernel reads either layout) */
        for (int c = 0; c < ncopies && tb_matrix_preferred_interleave(&copies[c], used); c++)
            if (tb_i2s_interleave(&copies[c], (uint8_t *)copies[c].data, &err) != TB_OK)
                break;
        k->interleaved |= copies[0].interleave != 0;
        for (int op = 0; op < 2; op++) {
            if ((op == 0 && !o->do_gemv) || (op == 1 && !o->do_gemm))
                continue;
            const tb_act *a = op == 0 ? &a1 : &an;
            measurement r = measure_row(k, fn, copies, op == 0 ? ncopies : 1, a, y, wbytes, op == 0);
            k->bw_sum += r.bw;
            k->bw_n++;
            const char *opname = op == 0 ? "gemv" : "gemm";
            print_row(k, tr->name, used, opname, m, kk, a, &r);
            json_array_append_new(k->results, row_json(k, tr->name, used, opname, copies[0].interleave,
                                                       m, kk, a, &r, wbytes));
        }
    }
    if (!ok)
        fprintf(stderr, "ternbench kernels: out of memory for %s %dx%d\n", tr->name, m, kk);
    tb_act_free(&a1);
    tb_act_free(&an);
    free(copies);
    free(buf);
    return ok ? TB_EXIT_OK : TB_EXIT_USAGE;
}

/* One shape: ternary weights (scale 0.5, exact in every format, as the dummy
 * models' baseline twins hold) and normal activations, every format on it. */
static int time_shape(krun *k, int m, int kk)
{
    const kopts *o = k->o;
    size_t nval = (size_t)m * kk;
    int nx = (int)o->batch;
    float *src = malloc(nval * sizeof *src), *x = malloc((size_t)nx * kk * sizeof *x);
    float *y = malloc((size_t)nx * m * sizeof *y);
    int rc = src && x && y ? TB_EXIT_OK : TB_EXIT_USAGE;
    if (rc != TB_EXIT_OK)
        fprintf(stderr, "ternbench kernels: out of memory for shape %dx%d\n", m, kk);
    for (size_t i = 0; rc == TB_EXIT_OK && i < nval; i++)
        src[i] = (float)((int)(rnd_unit() * 3) - 1) * 0.5f;
    for (size_t i = 0; rc == TB_EXIT_OK && i < (size_t)nx * kk; i++)
        x[i] = (float)(rnd_unit() * 2 - 1);
    for (int f = 0; f < TB_FMT_COUNT && rc == TB_EXIT_OK; f++) {
        const tb_format_traits *tr = tb_format_get((tb_format)f);
        if (!o->fmt_on[f])
            continue;
        if (kk % tr->block || (tr->act == TB_ACT_I8 && kk % 128)) {
            fprintf(stderr, "ternbench kernels: %s skipped for %dx%d: k must be a multiple of %d\n",
                    tr->name, m, kk, tr->act == TB_ACT_I8 && tr->block < 128 ? 128 : tr->block);
            continue;
        }
        rc = time_format(k, (tb_format)f, m, kk, src, x, y);
    }
    free(src);
    free(x);
    free(y);
    return rc;
}

static void finish(krun *k, double triad, double readbw, double fj)
{
    double mean = k->bw_n ? k->bw_sum / k->bw_n : readbw;
    if (k->o->json) {
        json_t *doc = json_pack("{s:s, s:s, s:s, s:i, s:f, s:f, s:f, s:f, s:i, s:O}", "schema",
                                "ternbench.kernels/1", "cpu", k->mach.cpu.model, "isa_selected",
                                tb_isa_name(k->mach.isa), "threads", (int)k->o->threads,
                                "bandwidth_gbps", mean, "bandwidth_start_gbps", triad,
                                "bandwidth_read_gbps", readbw, "pool_fork_join_us", fj,
                                "rows_disturbed", k->disturbed, "results", k->results);
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(doc);
        return;
    }
    printf("\nroofline = weight GB/s / the read-only stream's GB/s probed just before and "
           "after each row (mean %.1f GB/s).\n"
           "L2 GB/s = the same GEMV on as many of its rows as fit half of each thread's L2 "
           "(%zu KiB): the kernel's rate when memory costs nothing. bound = kernel where that is "
           "below the probe (a faster memory would not speed it up), else memory.\n", mean,
           k->l2 >> 10);
    if (k->disturbed)
        printf("disturbed: %d row%s lost more than %.0f %% of the time to the hypervisor or to "
               "other threads in each of %d tries: the last try's figures are shown, and no bound.\n",
               k->disturbed, k->disturbed == 1 ? "" : "s", 100 * MAX_LOST, RETRIES + 1);
    if (k->interleaved)
        printf("i2_s on avx2/avx512: rows interleaved in fours, as the engine lays them out "
               "for those ISAs at load (tb_i2s_interleave).\n");
}

/* The walk: options -> ISAs -> the pool and the bandwidth probe -> every
 * shape, format and ISA -> the table or the document. */
int tb_cmd_kernels(int argc, char **argv)
{
    kopts o = {.threads = tb_cpu_usable(NULL, 0), .batch = 128, .do_gemv = true,
               .do_gemm = true, .min_time = 0.3,
               .shapes = {{2560, 2560}, {640, 2560}, {6912, 2560}, {2560, 6912}, {128256, 2560}},
               .nshapes = 5};
    for (int f = 0; f < TB_FMT_COUNT; f++)
        o.fmt_on[f] = true;
    int rc = parse(argc, argv, &o);
    if (rc < 0)
        return TB_EXIT_OK;
    if (rc != TB_EXIT_OK)
        return rc;
    krun k = {.o = &o, .l2 = l2_bytes()};
    if (tb_machine_probe_for("kernels", &k.mach) != 0)
        return TB_EXIT_USAGE;
    if ((rc = choose_isas(&k)) != TB_EXIT_OK)
        return rc;
    tb_error err;
    if (tb_pool_create((int)o.threads, o.pin, &k.pool, &err) != TB_OK ||
        tb_bandwidth_new(64u << 20, &k.bw, &err) != TB_OK) {
        fprintf(stderr, "ternbench kernels: %s\n", err.text);
        tb_pool_destroy(k.pool);
        return TB_EXIT_USAGE;
    }
    k.tids = malloc(sizeof *k.tids * (size_t)o.threads);
    k.ntids = k.tids ? tb_pool_tids(k.pool, k.tids, (int)o.threads) : 0;
    double triad = tb_bandwidth_triad(k.bw, k.pool, 5), readbw = tb_bandwidth_read(k.bw, k.pool, 5);
    double fj = fork_join_us(k.pool);
    if (!o.json)
        printf("ternbench kernels: %s, %ld thread%s%s; STREAM triad %.1f GB/s, read %.1f GB/s; "
               "pool fork/join %.2f us\n\n"
               "| format | isa    | op   |      m |     k | batch |   time ms |   GB/s |  GOP/s | roofline | L2 GB/s | bound     |\n"
               "| ------ | ------ | ---- | -----: | ----: | ----: | --------: | -----: | -----: | -------: | ------: | --------- |\n",
               k.mach.cpu.model, o.threads, o.threads == 1 ? "" : "s", o.pin ? " pinned" : "", triad,
               readbw, fj);
    fflush(stdout);
    k.results = json_array();
    for (int s = 0; s < o.nshapes && rc == TB_EXIT_OK; s++)
        rc = time_shape(&k, o.shapes[s].m, o.shapes[s].k);
    if (rc == TB_EXIT_OK)
        finish(&k, triad, readbw, fj);
    json_decref(k.results);
    free(k.tids);
    tb_bandwidth_free(k.bw);
    tb_pool_destroy(k.pool);
    return rc;
}
