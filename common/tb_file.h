/*
 * tb_file.h - small, careful file helpers shared by every module.
 *
 * sysfs and procfs files are short text files that may vanish, be
 * unreadable or hold garbage; these helpers read them without surprises.
 * Results are written atomically: to a temporary file beside the target,
 * then renamed, so a crash never leaves half a document behind.
 */
#ifndef TB_FILE_H
#define TB_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "tb_error.h"

/* Reads at most cap-1 bytes of path into buf, NUL-terminates it and strips
 * one trailing newline. Returns the length, or a negative TB_E* status:
 * TB_EPERM when the file exists but may not be read, TB_EIO otherwise. */
int tb_file_read_text(const char *path, char *buf, size_t cap, tb_error *err);

/* Reads a whole regular file (at most max bytes) into a NUL-terminated buffer
 * the caller frees; *len excludes the NUL. */
int tb_file_read_all(const char *path, size_t max, char **out, size_t *len, tb_error *err);

/* The end of a text file (a log) on one line, for an error message: its last
 * cap-1 bytes, trailing blanks dropped and newlines as spaces; "" when the
 * file cannot be read. */
void tb_file_tail(const char *path, char *buf, size_t cap);

/* Reads a file holding one unsigned decimal integer (sysfs style). */
int tb_file_read_u64(const char *path, uint64_t *out, tb_error *err);

/* Writes n bytes to path through path.tmp.PID and rename(2). */
int tb_file_write_atomic(const char *path, const void *data, size_t n, tb_error *err);

/* snprintf into buf of cap bytes; returns 0, or TB_EINVAL if it did not fit. */
int tb_path_join(char *buf, size_t cap, const char *dir, const char *name);

#endif
