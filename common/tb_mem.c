/* tb_mem.c - see tb_mem.h. */
#include "tb_mem.h"

#include <stdlib.h>
#include <sys/mman.h>

void *tb_alloc_streamed(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    size_t align = bytes >= huge ? huge : 64;
    void *p = NULL;
    if (posix_memalign(&p, align, bytes ? bytes : 64) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (align == huge) /* advice only: without THP the pages stay small */
        madvise(p, (bytes + huge - 1) / huge * huge, MADV_HUGEPAGE);
#endif
    return p;
}
