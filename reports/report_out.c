/* report_out.c - see report_out.h. */
#include "report_out.h"

#include <stdarg.h>
#include <string.h>

void tb_rout_md(tb_rout *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->md, fmt, ap);
    va_end(ap);
}

void tb_rout_html(tb_rout *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->html, fmt, ap);
    va_end(ap);
}

void tb_rout_html_text(tb_rout *o, const char *text)
{
    for (const char *p = text; *p; p++)
        switch (*p) {
        case '<': fputs("&lt;", o->html); break;
        case '>': fputs("&gt;", o->html); break;
        case '&': fputs("&amp;", o->html); break;
        case '"': fputs("&quot;", o->html); break;
        default: fputc(*p, o->html);
        }
}

static void md_cell(tb_rout *o, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            fputc('\\', o->md);
        fputc(*p == '\n' ? ' ' : *p, o->md);
    }
}

void tb_rout_heading(tb_rout *o, int level, const char *id, const char *text)
{
    tb_rout_md(o, "\n%.*s %s\n\n", level, "######", text);
    tb_rout_html(o, "<h%d id=\"%s\">", level, id);
    tb_rout_html_text(o, text);
    tb_rout_html(o, "</h%d>\n", level);
}

void tb_rout_para(tb_rout *o, const char *text)
{
    tb_rout_md(o, "%s\n\n", text);
    tb_rout_html(o, "<p>");
    tb_rout_html_text(o, text);
    tb_rout_html(o, "</p>\n");
}

void tb_rout_item(tb_rout *o, const char *text)
{
    if (!o->in_list)
        tb_rout_html(o, "<ul>\n");
    o->in_list = true;
    tb_rout_md(o, "- %s\n", text);
    tb_rout_html(o, "<li>");
    tb_rout_html_text(o, text);
    tb_rout_html(o, "</li>\n");
}

void tb_rout_list_end(tb_rout *o)
{
    if (o->in_list)
        tb_rout_html(o, "</ul>\n");
    o->in_list = false;
    tb_rout_md(o, "\n");
}

void tb_rout_table(tb_rout *o, int n, const char *const *header, const char *align)
{
    snprintf(o->align, sizeof o->align, "%s", align ? align : "");
    tb_rout_md(o, "|");
    for (int i = 0; i < n; i++) {
        tb_rout_md(o, " ");
        md_cell(o, header[i]);
        tb_rout_md(o, " |");
    }
    tb_rout_md(o, "\n|");
    for (int i = 0; i < n; i++)
        tb_rout_md(o, " %s |", i < (int)strlen(o->align) && o->align[i] == 'r' ? "---:" : "---");
    tb_rout_md(o, "\n");
    tb_rout_html(o, "<div class=\"scroll\"><table>\n<thead><tr>");
    for (int i = 0; i < n; i++) {
        tb_rout_html(o, "<th>");
        tb_rout_html_text(o, header[i]);
        tb_rout_html(o, "</th>");
    }
    tb_rout_html(o, "</tr></thead>\n<tbody>\n");
}

void tb_rout_row(tb_rout *o, int n, const char *const *cells)
{
    tb_rout_md(o, "|");
    tb_rout_html(o, "<tr>");
    for (int i = 0; i < n; i++) {
        tb_rout_md(o, " ");
        md_cell(o, cells[i]);
        tb_rout_md(o, " |");
        bool right = i < (int)strlen(o->align) && o->align[i] == 'r';
        tb_rout_html(o, right ? "<td class=\"num\">" : "<td>");
        tb_rout_html_text(o, cells[i]);
        tb_rout_html(o, "</td>");
    }
    tb_rout_md(o, "\n");
    tb_rout_html(o, "</tr>\n");
}

void tb_rout_table_end(tb_rout *o)
{
    tb_rout_md(o, "\n");
    tb_rout_html(o, "</tbody></table></div>\n");
}

void tb_rout_details(tb_rout *o, const char *summary)
{
    tb_rout_md(o, "\n### %s\n\n", summary);
    tb_rout_html(o, "<details><summary>");
    tb_rout_html_text(o, summary);
    tb_rout_html(o, "</summary>\n");
}

void tb_rout_details_end(tb_rout *o)
{
    tb_rout_html(o, "</details>\n");
}
