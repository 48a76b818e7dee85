// SPDX-License-Identifier: GPL-2.0
/*
 * tracking: a prefork server's long-lived children must not leave later
 * children untracked.  With the module's defaults, NLIVE children are
 * made and stay alive (as a prefork server's workers do, never exec'ing);
 * then one more child is forked: it must be followed to its exit, with
 * untracked still 0, and so must every one of the NLIVE.
 *
 * The NLIVE are clone(CLONE_VM) children (logged as vmclone), not forks:
 * 20,000 fork children would need 1.5 GB or more of kernel memory (page
 * tables, stacks) in the test VM's 2 GB, and the OOM killer; a vmclone
 * child costs a task and a kernel stack.  The tracking table takes every
 * logged child alike, whatever its kind.  kernel.threads-max is raised
 * for the run if it is below what NLIVE needs, and restored.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define NLIVE		20000
#define STACK		16384

static int pipe_fds[2];

/*
 * A long-lived child: waits for the pipe to close.  Raw syscalls only:
 * the children share the parent's memory, and nothing else is safe there.
 */
static int live_child(void *arg)
{
	char c;

	(void)arg;
	syscall(SYS_close, pipe_fds[1]);
	syscall(SYS_read, pipe_fds[0], &c, 1);
	syscall(SYS_exit, 0);
	return 0;
}
#define THREADS_MAX	"/proc/sys/kernel/threads-max"

static long long read_ll(const char *path)
{
	char *s = read_file(path);
	long long v = s ? atoll(s) : -1;

	free(s);
	return v;
}

static void write_ll(const char *path, long long v)
{
	char s[32];

	snprintf(s, sizeof(s), "%lld\n", v);
	vfa_write(path, s, strlen(s));
}

/* The outcome of child @pid's row: "exit" once followed to its end. */
static void row_of(pid_t pid, char *outcome, size_t len)
{
	struct vfa_row *rows, *r;
	int n;

	snprintf(outcome, len, "none");
	rows = vfa_forks(&n);
	r = rows ? vfa_find(rows, n, getpid(), pid) : NULL;
	if (r)
		snprintf(outcome, len, "%s", r->outcome);
	free(rows);
}

/*
 * Our vmclone children's rows still in the log (the newest, born while
 * thousands of others lived), and how many of them were closed at exit.
 */
static long long exited_rows(long long *shown)
{
	struct vfa_row *rows;
	long long n_exit = 0;
	int n, i;

	*shown = 0;
	rows = vfa_forks(&n);
	for (i = 0; rows && i < n; i++) {
		if (rows[i].ppid != getpid() || strcmp(rows[i].kind, "vmclone"))
			continue;
		++*shown;
		n_exit += !strcmp(rows[i].outcome, "exit");
	}
	free(rows);
	return n_exit;
}

int main(void)
{
	long long tmax, untracked, live_exits, shown;
	pid_t *pids, last;
	int i, made = 0, st;
	char after[16], *stacks;

	vfa_require_module();
	if (geteuid()) {
		printf("TAP version 13\n1..0 # SKIP needs root (kernel.threads-max)\n");
		return 4;
	}
	/* The defaults: log_size 4096, so only the last rows are shown. */
	if (vfa_reload("")) {
		printf("# cannot reload the module with its defaults\n");
		return 1;
	}
	ktap_plan(3);
	tmax = read_ll(THREADS_MAX);
	if (tmax >= 0 && tmax < 2 * NLIVE)
		write_ll(THREADS_MAX, 2 * NLIVE);
	pids = calloc(NLIVE, sizeof(*pids));
	stacks = mmap(NULL, (size_t)NLIVE * STACK, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!pids || stacks == MAP_FAILED || pipe(pipe_fds))
		return 1;
	/* Binds syscall() before children that share our memory use it. */
	syscall(SYS_getpid);
	vfa_reset();
	for (i = 0; i < NLIVE; i++) {
		pids[i] = clone(live_child, stacks + (size_t)(i + 1) * STACK,
				CLONE_VM | SIGCHLD, NULL);
		if (pids[i] < 0) {
			ktap_info("clone %d of %d: %s", i + 1, NLIVE, strerror(errno));
			break;
		}
		made++;
	}
	close(pipe_fds[0]);
	/* One more child, born while NLIVE others are followed: it exits. */
	last = fork();
	if (last == 0)
		_exit(0);
	if (last > 0)
		waitpid(last, &st, 0);
	row_of(last, after, sizeof(after));
	untracked = vfa_summary("untracked");
	ktap_info("%d live children, then one fork: its row %s; untracked %lld",
		  made, after, untracked);
	ktap_test(made == NLIVE, "twenty_thousand_live_children_made");
	ktap_test(made == NLIVE && last > 0 && !strcmp(after, "exit") &&
		  untracked == 0,
		  "child_after_twenty_thousand_live_ones_is_tracked");

	close(pipe_fds[1]);
	for (i = 0; i < made; i++)
		waitpid(pids[i], NULL, 0);
	live_exits = exited_rows(&shown);
	ktap_info("after they all exit: %lld of their %lld rows still in the log say exit; untracked %lld",
		  live_exits, shown, vfa_summary("untracked"));
	ktap_test(made == NLIVE && shown >= 4000 && live_exits == shown &&
		  vfa_summary("untracked") == 0,
		  "every_live_child_followed_to_its_exit");
	if (tmax >= 0 && tmax < 2 * NLIVE)
		write_ll(THREADS_MAX, tmax);
	free(pids);
	return ktap_finish();
}
