/*
 * claims.h - what bitnet.cpp published (arXiv 2410.16144 and its README):
 * tokens/s of llama.cpp fp16 and bitnet.cpp ternary on dummy models, read off
 * the published charts, and the energy claims. The report sets every
 * measured figure beside these.
 */
#ifndef TB_CLAIMS_H
#define TB_CLAIMS_H

typedef struct tb_claim {
    const char *size;          /* the model size as the paper names it */
    const char *preset;        /* the dummy preset with its shapes (paper 2.5B = preset 2.7B) */
    double params_b;           /* billions of parameters, for the x axis */
    double arm_fp16, arm_ternary, arm_speedup;   /* Apple M2 Ultra; 0 = not published */
    double x86_fp16, x86_ternary, x86_speedup;   /* Intel i7-13700H; 0 = not published */
} tb_claim;

extern const tb_claim tb_claims[];
extern const int tb_claim_count;

/* The published row for a dummy preset's name (see dummy.h), or NULL. */
const tb_claim *tb_claim_find(const char *preset);

/* The published bands. */
#define TB_CLAIM_X86_SPEEDUP_MIN 2.37
#define TB_CLAIM_X86_SPEEDUP_MAX 6.17
#define TB_CLAIM_ARM_SPEEDUP_MIN 1.37
#define TB_CLAIM_ARM_SPEEDUP_MAX 5.07
#define TB_CLAIM_X86_ENERGY_MIN 0.719   /* fraction of energy saved */
#define TB_CLAIM_X86_ENERGY_MAX 0.822
#define TB_CLAIM_ARM_ENERGY_MIN 0.554
#define TB_CLAIM_ARM_ENERGY_MAX 0.700

#endif
