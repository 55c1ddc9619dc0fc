/* tools.h - external programs ternbench can use (gnuplot), found on PATH. */
#ifndef TB_TOOLS_H
#define TB_TOOLS_H

#include <stdbool.h>
#include <stddef.h>

/* Runs `prog --version` without a shell and copies its first output line
 * into version. Returns false (version = reason) when prog is not on PATH
 * or fails. */
bool tb_tool_version(const char *prog, char *version, size_t cap);

#endif
