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

/* Readers shared by everything that reads result documents (and peers' JSON). */

/* o[k] as a string; "" when it is missing or not a string. */
const char *tb_json_str(json_t *o, const char *k);

/* Copies up to cap numbers of the array arr into x (other elements are
 * skipped) and returns how many. */
int tb_json_numbers(json_t *arr, double *x, int cap);

/* The run in the array runs with this model, test and thread count, or NULL. */
json_t *tb_result_find_run(json_t *runs, const char *model, const char *test, json_int_t threads);

/* Checks that doc is a ternbench.result/1 document with what the report
 * reads; the error names the path inside it, e.g.
 * "runs[3].tokens_per_s.median: expected a number". */
int tb_result_validate(json_t *doc, tb_error *err);

/* Writes the report for doc into dir (which must exist). */
int tb_report_write(json_t *doc, const char *dir, tb_error *err);

#endif
