/*
 * tiles.h - the loop every SIMD kernel file uses to cover an output range
 * with register tiles of R rows x T tokens. Inside a kernel function with
 * parameters (w, a, y, ldy, r0, r1), TILED(RM, TM, TILE) calls
 * TILE(r, t, R, T) with R, T compile-time constants: full RM x TM tiles
 * first, then the row and token edges with smaller ones; ROW_LANES is the
 * loop of the GEMMs that keep one row per vector lane.
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

/* The row-per-lane GEMMs' loop (q_gemm_lanes in each SIMD file): for every
 * whole group of ROWS rows from r (advanced past them; the caller finishes
 * the rest) and every stretch of STRETCH of the nb blocks, PACK(r, b, i) lays
 * block b of the group out as the stretch's i-th, then TOKENS(r, t, b0, b1,
 * T) runs the tokens over the packed stretch in tiles of TM, then one by one.
 * A stretch keeps the packed rows in L2 while every token passes over them;
 * later stretches add to what the first stored in y. */
#define ROW_LANES(r, ROWS, STRETCH, nb, TM, PACK, TOKENS)                           \
    for (; (r) + (ROWS) <= r1; (r) += (ROWS))                                       \
        for (int b0_ = 0; b0_ < (nb); b0_ += (STRETCH)) {                           \
            int b1_ = b0_ + (STRETCH) < (nb) ? b0_ + (STRETCH) : (nb);              \
            for (int b_ = b0_; b_ < b1_; b_++)                                      \
                PACK(r, b_, b_ - b0_);                                              \
            int t_ = 0;                                                             \
            for (; t_ + (TM) <= a->n; t_ += (TM))                                   \
                TOKENS(r, t_, b0_, b1_, TM);                                        \
            for (; t_ < a->n; t_++)                                                 \
                TOKENS(r, t_, b0_, b1_, 1);                                         \
        }

/* The staged prompt kernels' loop (t1_67 in t167_avx512.c and gemm_avx2.c):
 * for every group of ROWS rows from r0 (r1 - r0 a multiple of ROWS),
 * STAGE(r) decodes them once into the kernel's buffer, then TILE(r, t, T)
 * runs the tokens over it in tiles of TM (at most 4), the last a->n % TM
 * tokens as one tile. */
#define STAGED(ROWS, TM, STAGE, TILE)                                               \
    for (int r_ = r0; r_ < r1; r_ += (ROWS)) {                                      \
        STAGE(r_);                                                                  \
        int t_ = 0;                                                                 \
        for (; t_ + (TM) <= a->n; t_ += (TM))                                       \
            TILE(r_, t_, TM);                                                       \
        switch (a->n - t_) {                                                        \
        case 3: TILE(r_, t_, 3); break;                                             \
        case 2: TILE(r_, t_, 2); break;                                             \
        case 1: TILE(r_, t_, 1); break;                                             \
        }                                                                           \
    }

#endif
