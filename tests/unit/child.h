/*
 * child.h - for tests that talk to a helper server (a python or node
 * script): start it, read the port it prints on its first line (a bounded
 * poll, never a fixed sleep), and stop it.
 */
#ifndef TESTS_CHILD_H
#define TESTS_CHILD_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CHILD_START_MS 30000 /* bound on the wait for the port line */

/* Starts argv[0] (searched on PATH); returns its pid and port, or -1. */
static inline pid_t child_start(char *const argv[], int *port)
{
	posix_spawn_file_actions_t fa;
	char line[32];
	size_t n = 0;
	int fds[2], waited = 0;
	pid_t pid;

	if (pipe(fds))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ)) {
		posix_spawn_file_actions_destroy(&fa);
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	while (n < sizeof(line) - 1 && waited < CHILD_START_MS) {
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, 100) == 0) {
			waited += 100;
			continue;
		}
		r = read(fds[0], line + n, 1);
		if (r <= 0)
			break;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	close(fds[0]);
	*port = atoi(line);
	if (*port <= 0 || *port > 65535) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

static inline void child_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

#endif
