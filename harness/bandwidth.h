/*
 * bandwidth.h - the memory roofline: a read-only stream (the access pattern
 * of decoding, which reads weights and writes next to nothing) and, for
 * reference, a STREAM-style triad (a = b + s c), run on the same threads as
 * the kernels they are compared with. Arrays are far larger than the
 * last-level cache, so what is measured is DRAM bandwidth. Bytes: 8 per
 * element of the read stream; 3 x 8 per triad element as STREAM counts them
 * (two reads, one write; the write-allocate read is not counted, which is
 * why a read-only workload can run above 100 % of a triad roofline).
 */
#ifndef TB_BANDWIDTH_H
#define TB_BANDWIDTH_H

#include <stddef.h>

#include "threadpool.h"

typedef struct tb_bandwidth tb_bandwidth;

/* bytes_per_array: e.g. 128 MiB; three arrays are allocated and touched. */
int tb_bandwidth_new(size_t bytes_per_array, tb_bandwidth **out, tb_error *err);
void tb_bandwidth_free(tb_bandwidth *b);

/* Best of `reps` passes, in GB/s (1e9 bytes per second). */
double tb_bandwidth_triad(tb_bandwidth *b, tb_pool *pool, int reps);
double tb_bandwidth_read(tb_bandwidth *b, tb_pool *pool, int reps);

#endif
