/* tb_error.c - see tb_error.h. */
#include "tb_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int tb_error_set(tb_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->text, sizeof err->text, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int tb_error_prefix(tb_error *err, const char *fmt, ...)
{
    if (!err)
        return TB_EINVAL;
    char head[256], old[sizeof err->text];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->text, sizeof old);
    snprintf(err->text, sizeof err->text, "%s: %s", head, old);
    return err->code;
}

void tb_error_clear(tb_error *err)
{
    if (err) {
        err->code = TB_OK;
        err->text[0] = '\0';
    }
}
