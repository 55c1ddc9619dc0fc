/*
 * tiles.h - the loop every SIMD kernel file uses to cover an output range
 * with register tiles of R rows x T tokens. Inside a kernel function with
 * parameters (w, a, y, ldy, r0, r1), TILED(RM, TM, TILE) calls
 * TILE(r, t, R, T) with R, T compile-time constants: full RM x TM tiles
 * first, then the row and token edges with smaller ones.
 */
#ifndef TB_TILES_H
#define TB_TILES_H

#define INLINE static inline __attribute__((always_inline))

/* Runs TILE(r, t, R, T) over rows [r0, r1) and all tokens with tiles of RM x TM,
 * finishing the edges with smaller tiles. */
#define TILED(RM, TM, TILE)                                                         \
    do {                                                                            \
        int t_ = 0;                                                                 \
        for (; t_ + (TM) <= a->n; t_ += (TM)) {                                     \
            int r_ = r0;                                                            \
            for (; r_ + (RM) <= r1; r_ += (RM))                                     \
                TILE(r_, t_, RM, TM);                                               \
            for (; r_ < r1; r_++)                                                   \
                TILE(r_, t_, 1, TM);                                                \
        }                                                                           \
        for (; t_ < a->n; t_++) {                                                   \
            int r_ = r0;                                                            \
            for (; r_ + (RM) <= r1; r_ += (RM))                                     \
                TILE(r_, t_, RM, 1);                                                \
            for (; r_ < r1; r_++)                                                   \
                TILE(r_, t_, 1, 1);                                                 \
        }                                                                           \
    } while (0)

#endif
