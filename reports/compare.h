/*
 * compare.h - two result documents side by side: `ternbench compare` prints
 * every configuration's change with a 95 % interval, `ternbench gate` turns
 * it into an exit status for CI, `ternbench merge` combines documents from
 * several machines. Reads JSON only.
 *
 * What is compared, preferring quantities that survive a change of machine:
 *   - each comparison's speedup (ternary over baseline, from the paired
 *     repetitions of one run), always;
 *   - each run's tokens/s, only when both documents come from the same
 *     machine (same CPU model, core count, memory and host name).
 * The change is new / base; its 95 % interval comes from a seeded bootstrap
 * of the two sample sets. A regression is "clear" when the whole interval
 * lies below 1 - max_regression.
 */
#ifndef TB_COMPARE_H
#define TB_COMPARE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "tb_error.h"

typedef struct tb_compare_summary {
    int compared;        /* configurations found in both documents */
    int regressions;     /* clearly worse than the threshold allows */
    int improvements;    /* clearly better by more than the threshold */
    bool same_machine;
} tb_compare_summary;

/* Prints one line per configuration to out (a markdown table). ratios_only:
 * never compare absolute tokens/s, even on the same machine (for CI on
 * machines whose memory bandwidth drifts). */
int tb_compare_docs(json_t *base, json_t *cur, double max_regression, bool ratios_only, FILE *out,
                    tb_compare_summary *sum, tb_error *err);

/* Combines documents: runs and comparisons concatenated, each run and
 * comparison keeping its machine (a "machine" member added); the top-level
 * machine lists them all. Steals nothing. */
json_t *tb_merge_docs(json_t *const *docs, int n, tb_error *err);

#endif
