// SPDX-License-Identifier: GPL-2.0
/*
 * bigparent: a process holding MIB MiB of private writable memory starts
 * a tiny program three ways: fork+exec, vfork+exec and posix_spawn.
 * Under strict overcommit only the first needs the memory twice.
 *
 * Usage: bigparent MIB [program]    (program defaults to /bin/true)
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void report(const char *how, pid_t pid, int err)
{
	int status = 0;

	if (pid < 0) {
		printf("  %-12s failed: %s\n", how, strerror(err));
		return;
	}
	waitpid(pid, &status, 0);
	printf("  %-12s child %d exit %d\n", how, pid, WEXITSTATUS(status));
}

int main(int argc, char **argv)
{
	const char *prog = argc > 2 ? argv[2] : "/bin/true";
	char *args[] = { (char *)prog, NULL };
	size_t mib;
	char *mem;
	pid_t pid;
	int err;

	if (argc < 2 || (mib = strtoul(argv[1], NULL, 10)) == 0) {
		fprintf(stderr, "usage: %s MIB [program]\n", argv[0]);
		return 2;
	}
	mem = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(mem, 1, mib << 20);
	printf("bigparent %d holds %zu MiB, starts %s three ways:\n",
	       getpid(), mib, prog);
	fflush(stdout);

	pid = fork();
	if (pid == 0) {
		execv(prog, args);
		_exit(127);
	}
	err = errno;
	report("fork+exec", pid, err);

	pid = vfork();
	if (pid == 0) {
		execv(prog, args);
		_exit(127);
	}
	err = errno;
	report("vfork+exec", pid, err);

	err = posix_spawn(&pid, prog, NULL, NULL, args, environ);
	report("posix_spawn", err ? -1 : pid, err);
	return 0;
}
