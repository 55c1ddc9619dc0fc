/*
 * report_out.h - writing report.md and report.html side by side: the same
 * headings, paragraphs and tables go to both, escaped for each (a model's
 * file name is the user's text: '|' would break a markdown table, '<' an
 * HTML page). HTML-only parts (collapsible details, inline SVG) say so.
 */
#ifndef TB_REPORT_OUT_H
#define TB_REPORT_OUT_H

#include <stdbool.h>
#include <stdio.h>

typedef struct tb_rout {
    FILE *md, *html;
    bool in_list;              /* an HTML <ul> is open */
    char align[32];            /* the open table's columns: 'l' or 'r' */
} tb_rout;

void tb_rout_md(tb_rout *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tb_rout_html(tb_rout *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Text as it is, escaped for HTML (and, in tables, for markdown). */
void tb_rout_html_text(tb_rout *o, const char *text);

void tb_rout_heading(tb_rout *o, int level, const char *id, const char *text);
/* A paragraph of plain text (escaped for HTML). */
void tb_rout_para(tb_rout *o, const char *text);
/* A bulleted list item of plain text. */
void tb_rout_item(tb_rout *o, const char *text);
void tb_rout_list_end(tb_rout *o);

/* A table: begin with its header cells, rows, end. `align` per column, 'l'
 * or 'r' (NULL: all left). */
void tb_rout_table(tb_rout *o, int n, const char *const *header, const char *align);
void tb_rout_row(tb_rout *o, int n, const char *const *cells);
void tb_rout_table_end(tb_rout *o);

/* A collapsible section in HTML (<details>), a plain heading in markdown. */
void tb_rout_details(tb_rout *o, const char *summary);
void tb_rout_details_end(tb_rout *o);

#endif
