// SPDX-License-Identifier: GPL-2.0
/*
 * plainsum: the system commit a plain commit request is judged on.
 *
 * A plain request (mmap, brk, a tmpfs page...) may come once per page, so
 * the module does not sum every CPU's part of Committed_AS for each: a CPU
 * reuses its last sum within one tick, corrected by its own part, and
 * sums again at the next tick or as soon as any CPU's part folds into the
 * counter's global one.  What it can miss, for under a tick, is what
 * other CPUs committed below the counter's batch.  Each case here, in
 * mode 0 with this process pinned to CPU 0: reset, read Committed_AS (C),
 * make one request on CPU 0 (this CPU's sum), commit HOLD_MB or more
 * somewhere, then request PROBE_MB on CPU 0 (on CPU 0, all three in one
 * mprotect()).  min_safe_limit_all, the
 * largest commit + request + reserve judged since the reset, must then
 * hold C + the hold + PROBE_MB (a probe that missed the hold is that
 * much short) and be no more than Committed_AS at the end plus a reserve
 * (nothing counted twice):
 *  - the hold made on CPU 0, in the tick of CPU 0's sum: seen at once;
 *  - the hold larger than the counter's batch (it folds CPU 0's part into
 *    the global one), in that tick: seen at once;
 *  - the hold made on CPU 1, below the batch, and the probe two ticks
 *    later: seen.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define HOLD_MB		64
#define PROBE_MB	128
#define SLACK_MB	16
#define TRIES		20
/* Two ticks and more at any HZ of 100 and up. */
#define TICKS_US	50000

static bool pin(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return !sched_setaffinity(0, sizeof(one), &one);
}

static void *map_mb(size_t mb)
{
	void *p = mmap(NULL, mb << 20, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * A child pinned to CPU 1 that maps @mb when told, says so, and holds it
 * until told to go.  Its pid, or -1.
 */
static pid_t holder(size_t mb, int *go, int *done)
{
	int down[2], up[2];
	pid_t pid;
	char c;

	if (pipe(down) || pipe(up))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		if (!pin(1) || read(down[0], &c, 1) != 1)
			_exit(1);
		c = map_mb(mb) ? 'y' : 'n';
		if (write(up[1], &c, 1) != 1)
			_exit(1);
		while (read(down[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	*go = down[1];
	*done = up[0];
	return pid;
}

struct seen {
	long long c0, c_end, got, ticks_ns;
};

/* The kernel's clock as of its last tick. */
static long long coarse_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/*
 * On CPU 0, in one syscall: three private read-only regions of 1 MB,
 * @hold_mb and PROBE_MB, in that order, made writable by one mprotect(),
 * which asks for each in turn (their flags differ, so none merge): the
 * first request uses this CPU's sum of the tick, the hold is committed,
 * then the probe.  One syscall is quick enough to fit in a tick even on
 * the debug kernels, where three mmap() calls are not.
 */
static bool run_here(size_t hold_mb, struct seen *s)
{
	size_t a = 1 << 20, b = hold_mb << 20, c = (size_t)PROBE_MB << 20;
	bool ok = false;
	char *p;

	p = mmap(NULL, a + b + c, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return false;
	if (madvise(p + a, b, MADV_DONTFORK) ||
	    madvise(p + a + b, c, MADV_DONTDUMP) || vfa_reset())
		goto out;
	s->c0 = meminfo_kb("Committed_AS");
	s->ticks_ns = coarse_ns();
	if (mprotect(p, a + b + c, PROT_READ | PROT_WRITE))
		goto out;
	s->ticks_ns = coarse_ns() - s->ticks_ns;
	s->got = vfa_summary("min_safe_limit_all");
	s->c_end = meminfo_kb("Committed_AS");
	ok = s->c0 > 0 && s->c_end > 0 && s->got > 0;
out:
	munmap(p, a + b + c);
	return ok;
}

/*
 * @hold_mb committed by a child on CPU 1, after a request here, then
 * PROBE_MB requested here, after @wait_us.
 */
static bool run_cpu1(size_t hold_mb, unsigned int wait_us, struct seen *s)
{
	void *prime = NULL, *probe;
	int go = -1, done = -1, st;
	bool ok = false;
	char c = 0;
	pid_t pid;

	pid = holder(hold_mb, &go, &done);
	if (pid < 0)
		return false;
	if (vfa_reset())
		goto out;
	s->c0 = meminfo_kb("Committed_AS");
	/* This CPU sums here. */
	s->ticks_ns = coarse_ns();
	prime = map_mb(1);
	if (!prime)
		goto out;
	if (write(go, "m", 1) != 1 || read(done, &c, 1) != 1 || c != 'y')
		goto out;
	usleep(wait_us);
	probe = map_mb(PROBE_MB);
	s->ticks_ns = coarse_ns() - s->ticks_ns;
	if (!probe)
		goto out;
	s->got = vfa_summary("min_safe_limit_all");
	s->c_end = meminfo_kb("Committed_AS");
	munmap(probe, (size_t)PROBE_MB << 20);
	ok = s->c0 > 0 && s->c_end > 0 && s->got > 0;
out:
	if (prime)
		munmap(prime, 1 << 20);
	close(go);
	close(done);
	waitpid(pid, &st, 0);
	return ok;
}

/*
 * Runs a case and checks its bounds.  @at_once: the probe must come in
 * the tick of this CPU's sum, to show what the sum kept saw; as a tick
 * may come between them, up to TRIES runs, each in bounds, until one is
 * within a tick (as the coarse clock, which moves at each tick, says).
 */
static void check(const char *name, size_t hold_mb, bool cpu1,
		  unsigned int wait_us, bool at_once)
{
	/* The largest reserve a request here may add (admin: the user's). */
	long long reserve = vm_sysctl("user_reserve_kbytes");
	bool ok = true, one_tick = false;
	long long lo, hi;
	struct seen s = { 0 };
	int i;

	for (i = 0; i < TRIES && ok && !one_tick; i++) {
		if (!(cpu1 ? run_cpu1(hold_mb, wait_us, &s) :
		      run_here(hold_mb, &s))) {
			ktap_info("%s: the case did not run", name);
			ok = false;
			break;
		}
		lo = s.c0 + ((long long)(hold_mb + PROBE_MB - SLACK_MB) << 10);
		hi = s.c_end + reserve + (SLACK_MB << 10);
		one_tick = !at_once || !s.ticks_ns;
		ok = s.got >= lo && s.got <= hi;
		ktap_info("%s: hold %zu MB on CPU %d, probe %d MB after %u us (ticks: %lld ns): Committed_AS %lld -> %lld kB, min_safe_limit_all %lld kB, want [%lld, %lld]",
			  name, hold_mb, cpu1, PROBE_MB, wait_us, s.ticks_ns,
			  s.c0, s.c_end, s.got, lo, hi);
	}
	if (ok && !one_tick)
		ktap_info("%s: no run of %d came within one tick", name, TRIES);
	ktap_test(ok && one_tick, name);
}

int main(void)
{
	long long mem = meminfo_kb("MemTotal");

	vfa_require_module();
	if (geteuid() || !has_cap_sys_admin()) {
		printf("TAP version 13\n1..0 # SKIP needs root with CAP_SYS_ADMIN\n");
		return 4;
	}
	if (vm_sysctl("overcommit_memory") != 0) {
		printf("TAP version 13\n1..0 # SKIP needs vm.overcommit_memory=0 (the counter's batch of modes 0 and 1)\n");
		return 4;
	}
	ktap_plan(3);
	if (!pin(0)) {
		ktap_info("cannot pin to CPU 0: %s", strerror(errno));
		return 1;
	}
	check("own_cpus_commit_is_seen_at_once", HOLD_MB, false, 0, true);
	/*
	 * The batch of modes 0 and 1 is a quarter of memory per CPU (at
	 * most), and a CPU's part lies within a batch either side of 0:
	 * half of all memory and more folds this CPU's part.
	 */
	check("a_fold_is_seen_at_once", (size_t)(mem >> 11) + HOLD_MB, false,
	      0, true);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		ktap_skip("another_cpus_commit_is_seen_after_a_tick",
			  "needs 2 online CPUs");
	else
		check("another_cpus_commit_is_seen_after_a_tick", HOLD_MB,
		      true, TICKS_US, false);
	return ktap_finish();
}
