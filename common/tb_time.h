/* tb_time.h - the one clock ternbench measures with: CLOCK_MONOTONIC seconds. */
#ifndef TB_TIME_H
#define TB_TIME_H

#include <time.h>

static inline double tb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
