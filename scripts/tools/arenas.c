// SPDX-License-Identifier: GPL-2.0
/*
 * arenas: a multi-threaded program whose memory lives in glibc's thread
 * arenas, and one fork of it.  For experiment (d) (scripts/experiments/
 * d-arenas) and anyone who wants to see the MAP_NORESERVE gap.
 *
 * NTHREADS threads each malloc MIB MiB in 32 KiB blocks (below the mmap
 * threshold, so from the thread's own arena: glibc maps each arena heap
 * PROT_NONE with MAP_NORESERVE and mprotects it RW as it grows) and
 * write it.  Then the main thread forks a child that waits, and prints
 *   arena_kb=<heap RW kB> before_kb=<Committed_AS> after_kb=<...> child=<pid>
 * with Committed_AS just before the fork and with the child alive, and
 * lets the child exit.  Usage: arenas [NTHREADS [MIB]]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static long mib = 16;
static pthread_barrier_t filled, done;

static long meminfo_kb(const char *key)
{
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

static void *worker(void *arg)
{
	long i, n = mib * 32;

	(void)arg;
	for (i = 0; i < n; i++) {
		char *p = malloc(32 << 10);

		if (!p)
			exit(1);
		memset(p, 1, 32 << 10);
	}
	pthread_barrier_wait(&filled);
	pthread_barrier_wait(&done);	/* the arena stays until the fork */
	return NULL;
}

/* Read-write heap mappings of the arenas: "[anon]" rw-p of 64 MiB heaps. */
static long arena_rw_kb(void)
{
	char line[512];
	long kb = 0;
	FILE *f = fopen("/proc/self/smaps", "r");
	int in_nr = 0;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		char perm[8];

		if (sscanf(line, "%lx-%lx %7s", &a, &b, perm) == 3)
			in_nr = !strcmp(perm, "rw-p") ? (int)((b - a) >> 10) : 0;
		else if (!strncmp(line, "VmFlags:", 8) && in_nr &&
			 strstr(line, " nr"))
			kb += in_nr;
	}
	if (f)
		fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	int nthreads = argc > 1 ? atoi(argv[1]) : 8, i, p[2];
	pthread_t t[64];
	long before, after;
	pid_t child;
	char c;

	if (argc > 2)
		mib = atol(argv[2]);
	if (nthreads < 1 || nthreads > 64 || mib < 1 || pipe(p))
		return 2;
	pthread_barrier_init(&filled, NULL, nthreads + 1);
	pthread_barrier_init(&done, NULL, nthreads + 1);
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&t[i], NULL, worker, NULL))
			return 1;
	pthread_barrier_wait(&filled);

	before = meminfo_kb("Committed_AS");
	fflush(stdout);
	child = fork();
	if (child == 0) {
		close(p[1]);
		(void)!read(p[0], &c, 1);
		_exit(0);
	}
	if (child < 0) {
		printf("arena_kb=%ld before_kb=%ld fork=ENOMEM\n", arena_rw_kb(),
		       before);
		return 0;
	}
	after = meminfo_kb("Committed_AS");
	printf("arena_kb=%ld before_kb=%ld after_kb=%ld child=%d\n",
	       arena_rw_kb(), before, after, child);
	fflush(stdout);
	close(p[1]);
	waitpid(child, NULL, 0);
	pthread_barrier_wait(&done);
	for (i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	return 0;
}
