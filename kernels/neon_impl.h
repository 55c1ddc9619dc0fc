/*
 * neon_impl.h - what the aarch64 kernel files (gemm_neon.c, kquants_neon.c)
 * share: the SDOT attribute and its run-time check, and sixteen int8
 * products added to four int32 lanes with and without SDOT. Not a public
 * header.
 */
#ifndef TB_NEON_IMPL_H
#define TB_NEON_IMPL_H

#include <arm_neon.h>
#include <sys/auxv.h>

/* Functions with SDOT: compiled for +dotprod, called only where the CPU has it. */
#define DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))

static inline int has_dotprod(void)
{
    static int cached = -1;
    if (cached < 0)
        cached = (getauxval(AT_HWCAP) & (1ul << 20)) != 0; /* HWCAP_ASIMDDP */
    return cached;
}

/* 16 signed weights times 16 int8 activations, added to 4 int32 lanes. */
static inline int32x4_t dot16_plain(int32x4_t acc, int8x16_t w, int8x16_t q)
{
    int16x8_t lo = vmull_s8(vget_low_s8(w), vget_low_s8(q));
    int16x8_t hi = vmull_s8(vget_high_s8(w), vget_high_s8(q));
    return vpadalq_s16(vpadalq_s16(acc, lo), hi);
}

DOTPROD static inline int32x4_t dot16_sdot(int32x4_t acc, int8x16_t w, int8x16_t q)
{
    return vdotq_s32(acc, w, q);
}

#endif
