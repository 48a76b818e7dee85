// SPDX-License-Identifier: GPL-2.0
/*
 * forkloop N [fork|vfork]: N times fork (or vfork), _exit in the child, reap;
 * prints the median latency of one fork+_exit+waitpid (or vfork+...).
 * For scripts/bench/cpus, which shows it beside the module's probe time:
 * emulation slows a fork itself as vCPUs are added, and the two ratios
 * are read together.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int i, n = argc > 1 ? atoi(argv[1]) : 1000;
	int use_vfork = argc > 2 && !strcmp(argv[2], "vfork");
	long long *d, t;

	if (n < 1)
		return 2;
	d = malloc(n * sizeof(*d));
	if (!d)
		return 1;
	for (i = 0; i < n; i++) {
		pid_t pid;

		t = now_ns();
		pid = use_vfork ? vfork() : fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0)
			return 1;
		waitpid(pid, NULL, 0);
		d[i] = now_ns() - t;
	}
	qsort(d, n, sizeof(*d), cmp);
	printf("fork_median_ns: %lld\n", d[n / 2]);
	return 0;
}
