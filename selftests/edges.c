// SPDX-License-Identifier: GPL-2.0
/*
 * edges: the corners of a fork's life.  A parent with 30,000 VMAs (the
 * probe's walk stays exact; its time is reported), /proc/vforkacct/tasks
 * read while 3,000 processes exist (completes; the runner fails the run on
 * a soft lockup), and a child SIGKILLed before it ever ran.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static struct vfa_row row_of(pid_t pid)
{
	struct vfa_row *rows, *r, out;
	int n;

	memset(&out, 0, sizeof(out));
	out.charge_kb = -2;
	rows = vfa_forks(&n);
	r = vfa_find(rows, n, getpid(), pid);
	if (r)
		out = *r;
	free(rows);
	return out;
}

static bool many_vmas(void)
{
	const int nvma = 30000;
	long page = sysconf(_SC_PAGESIZE);
	char *base = mmap(NULL, nvma * page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long long c0, c1, before_max;
	struct vfa_row r;
	double t;
	int i, wfd = -1;
	pid_t pid;

	if (base == MAP_FAILED)
		return false;
	/* Every other page read-only: 30,000 VMAs that cannot merge. */
	for (i = 1; i < nvma; i += 2)
		mprotect(base + i * page, page, PROT_READ);
	vfa_reset();
	before_max = vfa_summary("probe_max_ns");
	c0 = meminfo_kb("Committed_AS");
	t = now();
	pid = fork_sleeper(&wfd);
	t = now() - t;
	c1 = meminfo_kb("Committed_AS");
	r = row_of(pid);
	close(wfd);
	waitpid(pid, NULL, 0);
	ktap_info("30000 VMAs: fork took %.1f ms, probe max %.1f us (was %.1f), charge %ld kB, Committed_AS rose %lld kB",
		  t * 1e3, vfa_summary("probe_max_ns") / 1e3, before_max / 1e3,
		  r.charge_kb, c1 - c0);
	munmap(base, nvma * page);
	/* The probe must not take longer than the fork it observes. */
	return r.charge_kb == c1 - c0 &&
	       vfa_summary("probe_max_ns") < t * 1e9;
}

static bool tasks_3000(void)
{
	const int nproc = 3000;
	pid_t *pids = calloc(nproc, sizeof(pid_t));
	int wfd, i, n = 0, rows = 0;
	char *s, *q;
	double t;

	if (!pids || (wfd = fork_sleepers(pids, nproc)) < 0)
		return false;
	for (i = 0; i < nproc; i++)
		n += pids[i] > 0;
	t = now();
	s = read_file(VFA_PROC "/tasks");
	t = now() - t;
	for (q = s; q && (q = strchr(q, '\n')); q++)
		rows++;
	close(wfd);
	reap_all(pids, nproc);
	free(s);
	free(pids);
	ktap_info("tasks with %d extra processes: %d lines in %.2f s", n, rows, t);
	return n == nproc && rows > nproc;
}

static bool killed_before_run(void)
{
	long long exits = vfa_summary("exit_without_exec");
	struct vfa_row r;
	cpu_set_t one;
	int status;
	pid_t pid;

	/*
	 * On one CPU, with the parent running on after fork, the child is
	 * only queued when the parent kills it.
	 */
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	CPU_SET(1, &one);
	sched_setaffinity(0, sizeof(one), &one);
	r = row_of(pid);
	ktap_info("child killed at birth: outcome %s, signal %d", r.outcome,
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return !strcmp(r.outcome, "exit") &&
	       vfa_summary("exit_without_exec") == exits + 1;
}

int main(void)
{
	vfa_require_module();
	ktap_plan(3);
	ktap_test(many_vmas(), "fork_with_30000_vmas_charged_exactly");
	ktap_test(tasks_3000(), "tasks_read_with_3000_processes");
	ktap_test(killed_before_run(), "child_killed_before_running_is_exit");
	return ktap_finish();
}
