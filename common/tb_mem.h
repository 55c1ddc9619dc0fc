/*
 * tb_mem.h - allocations that a decoded token streams through.
 */
#ifndef TB_MEM_H
#define TB_MEM_H

#include <stddef.h>

/* bytes (uninitialised), freed with free(). From 2 MiB up the block is 2 MiB
 * aligned and asked for transparent huge pages (where the kernel's THP mode
 * is "madvise", as on Debian): weights and the KV cache are read end to end
 * for every token, and with 4 KiB pages the TLB misses cost the 2B4T i2_s
 * decode 8-12% (measured: 23.3 -> 26.2 t/s). NULL when out of memory. */
void *tb_alloc_streamed(size_t bytes);

#endif
