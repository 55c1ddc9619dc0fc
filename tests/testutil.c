/* testutil.c - see testutil.h. */
#include "testutil.h"

#include <fcntl.h>
#include <stdbool.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void tb_assert_double_equal(double a, double b, double eps, const char *file, int line)
{
    double d = a > b ? a - b : b - a;
    if (!(d <= eps))
    {
        print_error("%.17g != %.17g (tolerance %g)\n", a, b, eps);
        _fail(file, line);
    }
}

static char *slurp_fd(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    lseek(fd, 0, SEEK_SET);
    for (ssize_t got; (got = read(fd, buf + len, cap - len - 1)) > 0;) {
        len += (size_t)got;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    return buf;
}

void tb_run(tb_run_result *r, char *const argv[], char *const env_extra[])
{
    char out_path[] = "/tmp/tb_out_XXXXXX", err_path[] = "/tmp/tb_err_XXXXXX";
    int out = mkstemp(out_path), err = mkstemp(err_path);
    assert_true(out >= 0 && err >= 0);
    unlink(out_path);
    unlink(err_path);

    size_t n = 0, extra = 0;
    while (environ[n])
        n++;
    while (env_extra && env_extra[extra])
        extra++;
    char **env = calloc(n + extra + 1, sizeof *env);
    assert_non_null(env);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) { /* the extra entries replace same-named ones */
        bool replaced = false;
        for (size_t j = 0; j < extra && !replaced; j++) {
            size_t len = strcspn(env_extra[j], "=");
            replaced = strncmp(environ[i], env_extra[j], len + 1) == 0;
        }
        if (!replaced)
            env[m++] = environ[i];
    }
    for (size_t j = 0; j < extra; j++)
        env[m++] = env_extra[j];

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out, 1);
    posix_spawn_file_actions_adddup2(&fa, err, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    assert_int_equal(rc, 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r->out = slurp_fd(out);
    r->err = slurp_fd(err);
    close(out);
    close(err);
}

void tb_run_free(tb_run_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

tb_run_result tb_run_ternbench(char *const env_extra[], const char *cmd, ...)
{
#ifdef TB_BINARY
    char *argv[40] = {TB_BINARY, (char *)cmd};
    int n = 2;
    va_list ap;
    va_start(ap, cmd);
    for (const char *a = va_arg(ap, const char *); a && n < 39; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    tb_run_result r;
    tb_run(&r, argv, env_extra);
    return r;
#else
    (void)env_extra;
    (void)cmd;
    fail_msg("this build has no ternbench binary");
    return (tb_run_result){0};
#endif
}

char *tb_tmpdir(void)
{
    char *path = strdup("/tmp/tb_test_XXXXXX");
    assert_non_null(path);
    assert_non_null(mkdtemp(path));
    return path;
}

static void mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    }
}

void tb_write(const char *root, const char *relpath, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, relpath);
    mkdirs(path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tb_rmtree(const char *root)
{
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
