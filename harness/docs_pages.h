/*
 * docs_pages.h - the pages of docs/commands/, compiled in
 * (cmake/embed_docs.cmake), so that `ternbench help CMD` prints the page the
 * docs folder shows.
 */
#ifndef TB_DOCS_PAGES_H
#define TB_DOCS_PAGES_H

typedef struct tb_doc_page {
    const char *name;          /* the file's name without .md */
    const char *text;
} tb_doc_page;

extern const tb_doc_page tb_doc_pages[];
extern const int tb_doc_page_count;

#endif
