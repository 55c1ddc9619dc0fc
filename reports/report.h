/*
 * report.h - turns ternbench.result/1 documents into a report a person can
 * read: report.md, a self-contained report.html, and gnuplot plots (.dat and
 * .gp always; .png and .svg when gnuplot is installed). It reads only the
 * JSON: results from any machine can be reported.
 */
#ifndef TB_REPORT_H
#define TB_REPORT_H

#include <jansson.h>

#include "tb_error.h"

/* Checks that doc is a ternbench.result/1 document with what the report
 * reads; the error names the path inside it, e.g.
 * "runs[3].tokens_per_s.median: expected a number". */
int tb_result_validate(json_t *doc, tb_error *err);

/* Writes the report for doc into dir (which must exist). */
int tb_report_write(json_t *doc, const char *dir, tb_error *err);

#endif
