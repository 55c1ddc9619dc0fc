/*
 * tb_error.h - the error report every fallible ternbench function fills.
 *
 * Functions that can fail return an int status (0 on success, a negative
 * TB_E* code on failure) and, when given a tb_error, write a message meant
 * for a person into it: what went wrong, where (file, field, offset) and,
 * where one exists, how to fix it.  Modelled on jansson's json_error_t: the
 * caller owns the struct, passing NULL means "I do not want the text".
 */
#ifndef TB_ERROR_H
#define TB_ERROR_H

#include <stddef.h>

enum {
    TB_OK = 0,
    TB_EINVAL = -1,   /* bad input from a user or a file */
    TB_EIO = -2,      /* the operating system refused (open, read, mmap) */
    TB_ENOMEM = -3,   /* allocation failed */
    TB_ENOTSUP = -4,  /* this machine or build lacks the feature */
    TB_EPERM = -5,    /* permission denied; the message names the fix */
};

typedef struct tb_error {
    int code;         /* the TB_E* status that was returned */
    char text[1024];  /* one or more sentences, no trailing newline */
} tb_error;

/* Formats the message into err (if not NULL) and returns code, so a
 * failing function can end with `return tb_error_set(err, TB_EINVAL, ...)`. */
int tb_error_set(tb_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to an existing message, for callers that add where
 * the failure happened (e.g. the file name) on the way up. Returns err->code. */
int tb_error_prefix(tb_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void tb_error_clear(tb_error *err);

#endif
