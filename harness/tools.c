/* tools.c - see tools.h. */
#include "tools.h"

#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

bool tb_tool_version(const char *prog, char *version, size_t cap)
{
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(version, cap, "cannot create a pipe");
        return false;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char *argv[] = {(char *)prog, "--version", NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(version, cap, "%s not found on PATH", prog);
        return false;
    }
    char buf[256];
    size_t len = 0;
    for (ssize_t got; len + 1 < sizeof buf && (got = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0;)
        len += (size_t)got;
    buf[len] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    buf[strcspn(buf, "\n")] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(version, cap, "%s --version failed", prog);
        return false;
    }
    snprintf(version, cap, "%s", buf);
    return true;
}
