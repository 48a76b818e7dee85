// SPDX-License-Identifier: GPL-2.0
/*
 * storm: a fork storm with concurrent readers and a writer, then an exact
 * accounting of a measured burst.
 *
 * 4 workers each do VFA_STORM_OPS (default 5000) mixed fork+_exit, vfork,
 * posix_spawn and fork+exec, while 2 readers loop over every file of
 * /proc/vforkacct (whole reads, 1-byte reads, seeks) and a writer changes
 * limit_kb and the reserves and writes reset now and then.  Afterwards a
 * reset and a burst of known size: the counters must equal exactly what
 * the burst did and the log's seq numbers must be consecutive.  Then the
 * same burst run by every worker at once, and rounds of children that
 * all exit at once right after a reset: the counters are per CPU, each
 * cleared by its CPU's first probe after a reset, and a probe that ran
 * preemptible (7.2 and 7.3 call tracepoint probes under SRCU-fast) could
 * lose a concurrent add, or clear one another probe made.  During
 * the storm a child eats memory until the OOM killer kills it, to show
 * that the module keeps working when the kernel runs out.  The runner
 * fails the run on any kernel warning.
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define WORKERS	4
/* Ops per worker in the concurrent burst: a multiple of 4. */
#define BURST	400
/*
 * Rounds of NCHILD children exiting at once after a reset: ROUNDS (10-25
 * s in the test VM), or as many as ROUNDS_S seconds allow, at least
 * ROUNDS_MIN (a KASAN or KCSAN kernel under emulation is far slower).
 */
#define ROUNDS		500
#define ROUNDS_S	150
#define ROUNDS_MIN	50
#define NCHILD	16

extern char **environ;

static const char * const files[] = {
	VFA_PROC "/summary", VFA_PROC "/forks", VFA_PROC "/tasks",
};

static const char *true_path;

static pid_t one_op(int op)
{
	char *argv[] = { "true", NULL };
	pid_t pid;

	switch (op % 4) {
	case 0:
		pid = fork();
		if (pid == 0)
			_exit(0);
		break;
	case 1:
		pid = vfork();
		if (pid == 0)
			_exit(0);
		break;
	case 2:
		if (posix_spawn(&pid, true_path, NULL, NULL, argv, environ))
			pid = -1;
		break;
	default:
		pid = fork();
		if (pid == 0) {
			execve(true_path, argv, environ);
			_exit(127);
		}
		break;
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return pid;
}

/*
 * A reset, then NCHILD children that all exit at once when the pipe
 * closes: how many exits are counted (NCHILD unless one was lost, or the
 * forks were not all counted either).
 */
static long long exits_after_reset(void)
{
	pid_t pids[NCHILD];
	int wfd;

	vfa_reset();
	wfd = fork_sleepers(pids, NCHILD);
	if (wfd < 0)
		return -1;
	close(wfd);
	reap_all(pids, NCHILD);
	if (vfa_summary("forks") != NCHILD)
		return -1;
	return vfa_summary("exit_without_exec");
}

static void worker(int ops, long *done)
{
	int i, ok = 0;

	for (i = 0; i < ops; i++)
		ok += one_op(i) > 0;
	*done = ok;
}

static void reader(volatile int *stop, long *reads)
{
	char buf[4096];
	unsigned int r = getpid();
	long n = 0;
	int fd, i;

	while (!*stop) {
		for (i = 0; i < 3; i++) {
			fd = open(files[i], O_RDONLY);
			if (fd < 0)
				continue;
			switch (rand_r(&r) % 3) {
			case 0:	/* all of it */
				while (read(fd, buf, sizeof(buf)) > 0)
					;
				break;
			case 1:	/* dd bs=1, a little */
				for (int k = 0; k < 300 && read(fd, buf, 1) == 1; k++)
					;
				break;
			default: /* seek around */
				lseek(fd, rand_r(&r) % 5000, SEEK_SET);
				if (read(fd, buf, 100) >= 0)
					lseek(fd, 0, SEEK_SET);
				if (read(fd, buf, 7) < 0)
					break;
				break;
			}
			close(fd);
			n++;
			/* leave the CPUs to the storm: it is what we test */
			usleep(2000);
		}
	}
	*reads = n;
}

/*
 * Maps and touches memory 32 MiB at a time until the OOM killer kills it;
 * oom_score_adj 1000 makes it the victim rather than a worker.  The alarm
 * ends it (and fails the test) should the OOM killer never come.  No huge
 * pages: clearing and compacting 2 MiB pages under memory pressure is a
 * long kernel path that, emulated on a busy host, trips the soft-lockup
 * detector (seen: 49 s in clear_page_rep); 4 KiB faults return to user
 * space every page.
 */
static void hog(void)
{
	size_t sz = 32 << 20;
	int fd = open("/proc/self/oom_score_adj", O_WRONLY);
	char *p;

	if (fd < 0 || write(fd, "1000", 4) != 4)
		_exit(2);
	close(fd);
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	alarm(600);
	for (;;) {
		p = mmap(NULL, sz, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(3);
		memset(p, 1, sz);
	}
}

/* The kernel's count of OOM kills, from /proc/vmstat; -1 if unreadable. */
static long long oom_kills(void)
{
	char *s = read_file("/proc/vmstat"), *p;
	long long n = -1;

	p = s ? strstr(s, "\noom_kill ") : NULL;
	if (p)
		n = atoll(p + 10);
	free(s);
	return n;
}

static void writer(volatile int *stop, long *writes)
{
	unsigned int r = 1;
	char v[32];
	long n = 0;

	while (!*stop) {
		snprintf(v, sizeof(v), "%u", 100000 + rand_r(&r) % 4000000);
		vfa_param("limit_kb", v);
		snprintf(v, sizeof(v), "%u", rand_r(&r) % 100000);
		vfa_param("admin_reserve_kb", v);
		snprintf(v, sizeof(v), "%u", rand_r(&r) % 300000);
		vfa_param("user_reserve_kb", v);
		if (++n % 10 == 0)
			vfa_reset();
		usleep(20000);
	}
	*writes = n;
}

int main(void)
{
	int ops = getenv("VFA_STORM_OPS") ? atoi(getenv("VFA_STORM_OPS")) : 5000;
	long *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	volatile int *stop = (volatile int *)&shared[500];
	long long overcommit = vm_sysctl("overcommit_memory"), ooms;
	pid_t w[WORKERS], rd[2], wr, hogpid;
	struct vfa_row *rows;
	long done = 0;
	time_t t0 = time(NULL);
	int i, n, ok, st;

	vfa_require_module();
	true_path = tiny_true();
	ktap_plan(6);
	/* The hog needs the overcommitting default mode to reach the OOM killer. */
	vm_sysctl_set("overcommit_memory", 0);
	ooms = oom_kills();
	for (i = 0; i < 2; i++)
		if ((rd[i] = fork()) == 0) {
			reader(stop, &shared[10 + i]);
			_exit(0);
		}
	if ((wr = fork()) == 0) {
		writer(stop, &shared[20]);
		_exit(0);
	}
	for (i = 0; i < WORKERS; i++)
		if ((w[i] = fork()) == 0) {
			worker(ops, &shared[i]);
			_exit(0);
		}
	if ((hogpid = fork()) == 0)
		hog();
	waitpid(hogpid, &st, 0);
	ktap_info("hog: %s %d; OOM kills %lld -> %lld",
		  WIFSIGNALED(st) ? "killed by signal" : "exited with",
		  WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
		  ooms, oom_kills());
	ktap_test(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && ooms >= 0 &&
		  oom_kills() > ooms, "oom_killer_fires_during_storm");
	vm_sysctl_set("overcommit_memory", overcommit);
	for (i = 0; i < WORKERS; i++) {
		waitpid(w[i], NULL, 0);
		done += shared[i];
	}
	*stop = 1;
	for (i = 0; i < 2; i++)
		waitpid(rd[i], NULL, 0);
	waitpid(wr, NULL, 0);
	ktap_info("storm: %ld of %d ops done in %ld s; reads %ld + %ld, param writes %ld",
		  done, WORKERS * ops, (long)(time(NULL) - t0), shared[10],
		  shared[11], shared[20]);
	ktap_test(done == WORKERS * ops && shared[10] > 0 && shared[11] > 0 &&
		  shared[20] > 0, "storm_with_readers_and_writer_completes");

	/* The measured burst: 25 of each op, alone. */
	vfa_param("limit_kb", "0");
	vfa_reset();
	for (i = 0; i < 100; i++)
		one_op(i);
	ktap_info("burst: forks %lld vforks %lld exec_after_fork %lld exit_without_exec %lld logged %lld",
		  vfa_summary("forks"), vfa_summary("vforks"),
		  vfa_summary("exec_after_fork"),
		  vfa_summary("exit_without_exec"), vfa_summary("logged"));
	ktap_test(vfa_summary("forks") == 50 && vfa_summary("vforks") == 50 &&
		  vfa_summary("vm_clones") == 0 &&
		  vfa_summary("exec_after_fork") == 25 &&
		  vfa_summary("exit_without_exec") == 25 &&
		  vfa_summary("logged") == 100 && vfa_summary("untracked") == 0,
		  "counters_equal_the_burst_after_reset");

	rows = vfa_forks(&n);
	ok = n == 100;
	for (i = 0; ok && i < n; i++)
		ok = rows[i].seq == (unsigned long long)i &&
		     rows[i].ppid == getpid();
	free(rows);
	ktap_test(ok, "log_seq_consecutive_after_reset");

	/* The burst again, in every worker at once: no add may be lost. */
	vfa_reset();
	for (i = 0; i < WORKERS; i++)
		if ((w[i] = fork()) == 0) {
			worker(BURST, &shared[i]);
			_exit(0);
		}
	for (i = 0, done = 0; i < WORKERS; i++) {
		waitpid(w[i], NULL, 0);
		done += shared[i];
	}
	ktap_info("%d workers at once: forks %lld vforks %lld exec_after_fork %lld exit_without_exec %lld logged %lld",
		  WORKERS, vfa_summary("forks"), vfa_summary("vforks"),
		  vfa_summary("exec_after_fork"),
		  vfa_summary("exit_without_exec"), vfa_summary("logged"));
	/* The workers themselves are forks that exit. */
	ktap_test(done == WORKERS * BURST &&
		  vfa_summary("forks") == WORKERS * (BURST / 2 + 1) &&
		  vfa_summary("vforks") == WORKERS * BURST / 2 &&
		  vfa_summary("exec_after_fork") == WORKERS * BURST / 4 &&
		  vfa_summary("exit_without_exec") == WORKERS * (BURST / 4 + 1) &&
		  vfa_summary("logged") == WORKERS * (BURST + 1) &&
		  vfa_summary("untracked") == 0,
		  "counters_equal_a_concurrent_burst");

	/* Bounded in time too: a debug kernel runs a round 20-50x slower. */
	t0 = time(NULL);
	for (i = 0, n = 0; i < ROUNDS && time(NULL) - t0 < ROUNDS_S; i++)
		n += exits_after_reset() == NCHILD;
	ktap_info("%d of %d rounds counted all %d exits (%ld s, %d planned)",
		  n, i, NCHILD, (long)(time(NULL) - t0), ROUNDS);
	ktap_test(n == i && i >= ROUNDS_MIN, "exits_racing_a_reset_all_counted");
	return ktap_finish();
}
