/*
 * testutil.h - helpers shared by the cmocka tests: run the ternbench
 * binary and capture what it says, and build fake file trees (sysfs, /dev)
 * in a temporary directory.
 */
#ifndef TB_TESTUTIL_H
#define TB_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* cmocka 1.1.5 (Debian 12) has no assert_double_equal: |a - b| <= eps. */
#ifndef assert_double_equal
void tb_assert_double_equal(double a, double b, double eps, const char *file, int line);
#define assert_double_equal(a, b, eps) tb_assert_double_equal((a), (b), (eps), __FILE__, __LINE__)
#endif

typedef struct tb_run_result {
    int status;      /* exit status, or 128+signal when killed */
    char *out;       /* everything written to stdout, NUL-terminated */
    char *err;       /* everything written to stderr */
} tb_run_result;

/* Runs argv (argv[0] a path) with extra environment entries "K=V" (NULL-terminated
 * list, may be NULL), waits and captures its output. */
void tb_run(tb_run_result *r, char *const argv[], char *const env_extra[]);
void tb_run_free(tb_run_result *r);

/* Runs `ternbench CMD ARGS...` (the list NULL-terminated) with env_extra. */
tb_run_result tb_run_ternbench(char *const env_extra[], const char *cmd, ...);

/* Makes a fresh temporary directory; returns its path (malloc'd: free it). */
char *tb_tmpdir(void);
/* Writes text to root/relpath, creating the directories on the way. */
void tb_write(const char *root, const char *relpath, const char *text);
/* Removes a tree made by tb_tmpdir. */
void tb_rmtree(const char *root);

#endif
