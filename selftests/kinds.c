// SPDX-License-Identifier: GPL-2.0
/*
 * kinds: every way of making a task lands in the right counter and, for
 * processes, in a log row naming the right parent and child.
 *
 * fork, clone3 (plain or CLONE_VFORK alone: both copy the mm) -> fork;
 * vfork, posix_spawn, clone(CLONE_VM|CLONE_VFORK) -> vfork;
 * clone(CLONE_VM) -> vmclone; pthread_create -> threads, never logged.
 * Rows are matched on this process's pid and the children's pids, so
 * anything else running in the guest cannot disturb the test.
 *
 * A CLONE_VM clone's row shows the system commit at the clone (summed at
 * kernel_clone(), then taken by task_newtask): between Committed_AS read
 * just before and just after, also right after a clone that failed in
 * copy_process() and 64 MiB more commit.  A failed clone frees the
 * module's slot as its task returns to user space, even if it then dies.
 */
#include <errno.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define N 5

extern char **environ;
static char stack[N][64 * 1024];

static int child_fn(void *arg)
{
	(void)arg;
	return 0;
}

static pid_t do_fork(int i)
{
	(void)i;
	return fork_and_reap();
}

static pid_t do_vfork(int i)
{
	(void)i;
	return vfork_and_reap();
}

static pid_t do_spawn(int i)
{
	char *argv[] = { "true", NULL };
	pid_t pid;

	(void)i;
	if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ))
		return -1;
	waitpid(pid, NULL, 0);
	return pid;
}

static pid_t do_clone(int i, int flags)
{
	pid_t pid = clone(child_fn, stack[i] + sizeof(stack[i]),
			  flags | SIGCHLD, NULL);

	if (pid > 0)
		waitpid(pid, NULL, 0);
	return pid;
}

static pid_t do_clone_vm(int i)
{
	return do_clone(i, CLONE_VM);
}

static pid_t do_clone_vm_vfork(int i)
{
	return do_clone(i, CLONE_VM | CLONE_VFORK);
}

static pid_t do_clone3(int i, uint64_t flags)
{
	struct clone_args args = { .flags = flags, .exit_signal = SIGCHLD };
	pid_t pid;

	(void)i;
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return pid;
}

static pid_t do_clone3_plain(int i)
{
	return do_clone3(i, 0);
}

static pid_t do_clone3_vfork(int i)
{
	return do_clone3(i, CLONE_VFORK);
}

static const struct kind_case {
	const char *name;
	pid_t (*make)(int i);
	const char *kind;	/* log row kind */
	const char *counter;	/* summary counter */
} cases[] = {
	{ "fork_is_fork", do_fork, "fork", "forks" },
	{ "vfork_is_vfork", do_vfork, "vfork", "vforks" },
	{ "posix_spawn_is_vfork", do_spawn, "vfork", "vforks" },
	{ "clone_vm_vfork_is_vfork", do_clone_vm_vfork, "vfork", "vforks" },
	{ "clone_vm_is_vmclone", do_clone_vm, "vmclone", "vm_clones" },
	{ "clone3_is_fork", do_clone3_plain, "fork", "forks" },
	{ "clone3_vfork_without_vm_is_fork", do_clone3_vfork, "fork", "forks" },
};

static bool check_case(const struct kind_case *c)
{
	long long before = vfa_summary(c->counter), after;
	pid_t pids[N];
	struct vfa_row *rows, *r;
	int i, n, ok = 1;

	for (i = 0; i < N; i++) {
		pids[i] = c->make(i);
		if (pids[i] <= 0) {
			ktap_info("%s: could not create child %d", c->name, i);
			return false;
		}
	}
	after = vfa_summary(c->counter);
	if (after - before != N) {
		ktap_info("%s: %s rose by %lld, expected %d", c->name,
			  c->counter, after - before, N);
		ok = 0;
	}
	rows = vfa_forks(&n);
	for (i = 0; i < N; i++) {
		r = vfa_find(rows, n, getpid(), pids[i]);
		if (!r) {
			ktap_info("%s: no row for child %d", c->name, pids[i]);
			ok = 0;
		} else if (strcmp(r->kind, c->kind)) {
			ktap_info("%s: child %d logged as %s", c->name,
				  pids[i], r->kind);
			ok = 0;
		} else if (strcmp(r->kind, "fork") && r->charge_kb != 0) {
			ktap_info("%s: CLONE_VM child charged %ld kB", c->name,
				  r->charge_kb);
			ok = 0;
		}
	}
	free(rows);
	return ok;
}

static void *thread_fn(void *arg)
{
	return arg;
}

static bool check_threads(void)
{
	long long before = vfa_summary("threads"), forks = vfa_summary("forks");
	long long logged = vfa_summary("logged");
	pthread_t t[N];
	int i;

	for (i = 0; i < N; i++)
		if (pthread_create(&t[i], NULL, thread_fn, NULL))
			return false;
	for (i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	if (vfa_summary("threads") - before != N) {
		ktap_info("threads rose by %lld, expected %d",
			  vfa_summary("threads") - before, N);
		return false;
	}
	if (vfa_summary("logged") != logged || vfa_summary("forks") != forks) {
		ktap_info("threads were logged or counted as forks");
		return false;
	}
	return true;
}

/* Committed_AS moves by a page now and then in a quiet guest. */
#define COMMIT_SLACK_KB	1024

/*
 * One clone made by @make: its row's committed_kB lies between
 * Committed_AS just before and just after.  Returns that figure, or -1.
 */
static long clone_commit(const char *what, pid_t (*make)(int))
{
	long long before = meminfo_kb("Committed_AS"), after;
	struct vfa_row *rows, *r;
	long got = -1;
	pid_t pid;
	int n;

	pid = make(0);
	after = meminfo_kb("Committed_AS");
	rows = vfa_forks(&n);
	r = pid > 0 && rows ? vfa_find(rows, n, getpid(), pid) : NULL;
	if (r)
		got = r->committed_kb;
	free(rows);
	ktap_info("%s: Committed_AS %lld .. %lld kB, row committed_kB %ld",
		  what, before, after, got);
	if (!r || before < 0 || got < before - COMMIT_SLACK_KB ||
	    got > after + COMMIT_SLACK_KB)
		return -1;
	return got;
}

static bool check_clone_commit(void)
{
	return clone_commit("vfork", do_vfork) >= 0 &&
	       clone_commit("posix_spawn", do_spawn) >= 0 &&
	       clone_commit("clone_vm", do_clone_vm) >= 0 &&
	       clone_commit("clone_vm_vfork", do_clone_vm_vfork) >= 0;
}

/*
 * After a CLONE_VM clone that copy_process() refuses (EINVAL: CLONE_NEWNS
 * with CLONE_FS) after kernel_clone() began, the next clone must show the
 * commit at its own time, 64 MiB later.
 */
static bool check_commit_after_failed_clone(void)
{
	size_t len = 64 << 20;
	long first, second;
	long rc;
	void *p;

	first = clone_commit("vfork before", do_vfork);
	rc = syscall(SYS_clone, CLONE_VM | CLONE_VFORK | CLONE_NEWNS |
		     CLONE_FS | SIGCHLD, 0, NULL, NULL, 0);
	if (rc == 0)
		_exit(0);
	ktap_info("clone(CLONE_VM|CLONE_NEWNS|CLONE_FS): %ld (%s)", rc,
		  rc < 0 ? strerror(errno) : "created");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	second = clone_commit("vfork after", do_vfork);
	if (p != MAP_FAILED)
		munmap(p, len);
	return rc < 0 && errno == EINVAL && p != MAP_FAILED && first >= 0 &&
	       second >= first + (long)(len >> 10) - COMMIT_SLACK_KB;
}

/*
 * A clone that copy_process() refuses must not keep the module's slot
 * once its task is back in user space: 1,100 processes (more than the
 * 1,024 slots) each make a fork and a CLONE_VM clone that fail (EINVAL:
 * CLONE_NEWNS with CLONE_FS), then exit.  Were their slots left taken, the
 * table would be full, and the forks after them would not be followed:
 * commit_misses would rise.
 */
static bool check_failed_clones_free_their_slots(void)
{
	long long misses0 = vfa_summary("commit_misses"), misses1;
	int i, bad = 0, status;
	pid_t pid;

	for (i = 0; i < 1100; i++) {
		pid = fork();
		if (pid == 0) {
			long a = syscall(SYS_clone, CLONE_NEWNS | CLONE_FS |
					 SIGCHLD, 0, NULL, NULL, 0);
			int ea = errno;
			long b = syscall(SYS_clone, CLONE_VM | CLONE_VFORK |
					 CLONE_NEWNS | CLONE_FS | SIGCHLD,
					 0, NULL, NULL, 0);

			if (a == 0 || b == 0)
				_exit(0);
			_exit(a < 0 && ea == EINVAL && b < 0 && errno == EINVAL ?
			      0 : 1);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	}
	for (i = 0; i < 200; i++)
		bad += fork_and_reap() <= 0;
	misses1 = vfa_summary("commit_misses");
	ktap_info("1100 tasks with failed clones, then 200 forks: %d went wrong, commit_misses %lld -> %lld",
		  bad, misses0, misses1);
	return !bad && misses0 >= 0 && misses1 == misses0;
}

int main(void)
{
	unsigned int i;

	vfa_require_module();
	ktap_plan(sizeof(cases) / sizeof(cases[0]) + 4);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ktap_test(check_case(&cases[i]), cases[i].name);
	ktap_test(check_threads(), "pthread_create_is_thread_not_logged");
	ktap_test(check_clone_commit(), "clone_vm_rows_show_the_commit_at_the_clone");
	ktap_test(check_commit_after_failed_clone(),
		  "clone_vm_commit_is_fresh_after_a_failed_clone");
	ktap_test(check_failed_clones_free_their_slots(),
		  "failed_clones_of_dead_tasks_leave_no_slot_taken");
	return ktap_finish();
}
