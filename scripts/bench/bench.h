/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench.h: what the `make bench` programs share: a clock, order
 * statistics, a seeded shuffle, and full reads/writes on pipes.
 */
#ifndef VFA_BENCH_H
#define VFA_BENCH_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static inline void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static inline int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Sorts @v in place and returns its @pct-th percentile (nearest rank). */
static inline int64_t pctile(int64_t *v, int n, int pct)
{
	int rank;

	if (n <= 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_i64);
	rank = (n * pct + 99) / 100;	/* ceil(n * pct / 100) */
	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

/* The median: the mean of the two middle values when n is even. */
static inline double median(int64_t *v, int n)
{
	if (n <= 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_i64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static uint64_t rng_state __attribute__((unused)) = 0x9e3779b97f4a7c15ULL;

static inline uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static inline void shuffle(int *v, int n)
{
	int i, j, t;

	for (i = n - 1; i > 0; i--) {
		j = rng() % (i + 1);
		t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

static inline int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t r;

	while (len) {
		r = read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= r;
	}
	return 0;
}

static inline int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t r;

	while (len) {
		r = write(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= r;
	}
	return 0;
}

/*
 * Pins this process (and the children it will make) to one vCPU.  Under
 * TCG on a busy host, a fork or exec whose child wakes up an idle vCPU
 * waits for the host to schedule that vCPU's thread: milliseconds of
 * noise (seen: vfork+_exit 0.4 ms pinned, 7 ms not).  Pinned, the child
 * runs where its parent waits, and the other vCPU stays out of the way.
 */
/*
 * fork() for a worker process driven over two pipes.  In the child: 0,
 * with *cmd the end to read commands from and *res the end to write
 * results to, and every other descriptor above 2 closed, so that other
 * workers' pipes see EOF.  In the parent: the child's pid, with *cmd the
 * end to write commands to and *res the end to read results from.
 */
static inline pid_t fork_worker(int *cmd, int *res)
{
	int c[2], r[2], fd;
	pid_t pid;

	if (pipe2(c, O_CLOEXEC) || pipe2(r, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		for (fd = 3; fd < 1024; fd++)
			if (fd != c[0] && fd != r[1])
				close(fd);
		*cmd = c[0];
		*res = r[1];
		return 0;
	}
	close(c[0]);
	close(r[1]);
	*cmd = c[1];
	*res = r[0];
	return pid;
}

static inline void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity(cpu %d): %s", cpu, strerror(errno));
}

static inline double ms(double ns)
{
	return ns / 1e6;
}

#endif
