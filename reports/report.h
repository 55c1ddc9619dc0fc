/*
 * report.h - turns result documents into a report a person can read at a
 * glance: report.md, a self-contained report.html (inline SVG charts, no
 * external requests), and gnuplot plots (.dat and .gp always; .png and .svg
 * when gnuplot is installed). It reads only the JSON: results from any
 * machine, or many merged, can be reported.
 *
 * The order of the page: the answer (one paragraph and one table per
 * machine and model size: the published speedup, the measured one with its
 * interval, the verdict, and ternary against the strongest baseline), the
 * runs the machine disturbed, the charts, then the details (collapsible in
 * HTML): every speedup, tokens/s, energy, the machines, and what was not
 * measured.
 */
#ifndef TB_REPORT_H
#define TB_REPORT_H

#include <jansson.h>

#include "results.h"
#include "tb_error.h"

/* Writes the report for doc into dir (which must exist). */
int tb_report_write(json_t *doc, const char *dir, tb_error *err);

#endif
