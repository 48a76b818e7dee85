// SPDX-License-Identifier: GPL-2.0
/*
 * forkmark N: N times fork, _exit in the child, reap; between two calls
 * of vfa_mark(), whose address scripts/bench/insnprof gives its QEMU
 * plugin, so that the plugin's counts cover the loop and nothing else of
 * this process.  forkmark N plain: N times mmap and munmap one private
 * writable page instead, one plain commit request each; forkmark N vfork:
 * N times vfork, _exit in the child, reap (its own function: a vfork
 * child may not return from the function that called vfork()).  The
 * parent maps a few small regions first: about 10 VMAs, 8 of them
 * charged, as the overhead bench's smallest parent.  Built static and
 * non-PIE, so that the marker's address is fixed.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((noinline, used)) void vfa_mark(void)
{
	__asm__ volatile("" ::: "memory");
}

static void map_unmap(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || munmap(p, 4096))
		exit(1);
}

static void vfork_and_reap(void)
{
	pid_t pid = vfork();

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void fork_and_reap(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000, i;
	void (*step)(void) = fork_and_reap;
	char *p;

	if (argc > 2 && !strcmp(argv[2], "plain"))
		step = map_unmap;
	if (argc > 2 && !strcmp(argv[2], "vfork"))
		step = vfork_and_reap;

	for (i = 0; i < 3; i++) {
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return 1;
		p[0] = 1;
		mmap(p + 8192, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	}
	/* Warm up: the first forks fault in what every later one shares. */
	for (i = 0; i < 50; i++)
		step();
	vfa_mark();
	for (i = 0; i < n; i++)
		step();
	vfa_mark();
	return 0;
}
