/* tb_file.c - see tb_file.h. */
#include "tb_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tb_file_read_text(const char *path, char *buf, size_t cap, tb_error *err)
{
    if (cap == 0)
        return tb_error_set(err, TB_EINVAL, "%s: no room to read into", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int code = (errno == EACCES || errno == EPERM) ? TB_EPERM : TB_EIO;
        return tb_error_set(err, code, "%s: %s", path, strerror(errno));
    }
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t got = read(fd, buf + len, cap - 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int code = (errno == EACCES || errno == EPERM) ? TB_EPERM : TB_EIO;
            int saved = errno;
            close(fd);
            return tb_error_set(err, code, "%s: %s", path, strerror(saved));
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    buf[len] = '\0';
    if (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    return (int)len;
}

int tb_file_read_all(const char *path, size_t max, char **out, size_t *len, tb_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tb_error_set(err, errno == EACCES ? TB_EPERM : TB_EIO, "%s: %s", path,
                            strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? TB_OK : tb_error_set(err, TB_ENOMEM, "%s: out of memory", path);
    for (size_t got; rc == TB_OK && (got = fread(buf + n, 1, cap - 1 - n, f)) > 0;) {
        n += got;
        if (n > max)
            rc = tb_error_set(err, TB_EINVAL, "%s: larger than %zu bytes", path, max);
        else if (n == cap - 1) {
            char *grown = realloc(buf, cap * 2);
            if (grown) {
                buf = grown;
                cap *= 2;
            } else {
                rc = tb_error_set(err, TB_ENOMEM, "%s: out of memory", path);
            }
        }
    }
    if (rc == TB_OK && ferror(f))
        rc = tb_error_set(err, TB_EIO, "%s: read error", path);
    fclose(f);
    if (rc != TB_OK) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return TB_OK;
}

int tb_file_read_u64(const char *path, uint64_t *out, tb_error *err)
{
    char text[64];
    int rc = tb_file_read_text(path, text, sizeof text, err);
    if (rc < 0)
        return rc;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || errno != 0 || *end != '\0')
        return tb_error_set(err, TB_EINVAL, "%s: expected an unsigned integer, found \"%.32s\"",
                            path, text);
    *out = (uint64_t)v;
    return TB_OK;
}

int tb_file_write_atomic(const char *path, const void *data, size_t n, tb_error *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return tb_error_set(err, TB_EINVAL, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return tb_error_set(err, TB_EIO, "cannot create %s: %s (is the directory writable?)",
                            tmp, strerror(errno));
    const char *p = data;
    size_t left = n;
    while (left > 0) {
        ssize_t put = write(fd, p, left);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0) {
            int saved = errno;
            close(fd);
            unlink(tmp);
            return tb_error_set(err, TB_EIO, "writing %s: %s", tmp, strerror(saved));
        }
        p += put;
        left -= (size_t)put;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int saved = errno;
        unlink(tmp);
        return tb_error_set(err, TB_EIO, "writing %s: %s", tmp, strerror(saved));
    }
    if (rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        return tb_error_set(err, TB_EIO, "renaming %s to %s: %s", tmp, path, strerror(saved));
    }
    return TB_OK;
}

int tb_path_join(char *buf, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    return (n < 0 || (size_t)n >= cap) ? TB_EINVAL : TB_OK;
}

void tb_file_tail(const char *path, char *buf, size_t cap)
{
    char *text = NULL;
    size_t len = 0;
    tb_error e;
    buf[0] = '\0';
    if (tb_file_read_all(path, 1 << 22, &text, &len, &e) != TB_OK)
        return;
    while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
        text[--len] = '\0';
    const char *start = len > cap - 1 ? text + len - (cap - 1) : text;
    snprintf(buf, cap, "%s", start);
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = ' ';
    free(text);
}
