// SPDX-License-Identifier: GPL-2.0
/*
 * crowd.c: more forks in flight at once than the module can follow.
 *
 * The module follows a fork's commit requests through a slot it holds from
 * kernel_clone()'s entry until the parent returns to user space: 1,024
 * slots.  A fork beyond them is not followed (commit_misses), and
 * task_newtask must charge it by itself, with preemption off: it walks a
 * child of at most 64 VMAs (a bounded cost, the exact charge), and logs a
 * bigger one with charge "-" and verdict "unknown" (walk_misses) rather
 * than walk it.
 *
 * To put 1,100 forks in flight at once, each of 1,100 worker processes
 * (half of them small, half with 100 VMAs more) forks with a userfaultfd
 * that asks for fork events: dup_mmap() then waits, inside copy_process(),
 * until its event is read, and no worker reads it until all of them are
 * waiting.  The workers set up first (their threads all made) and fork
 * together on a signal, so that commit_misses then counts only their
 * forks.  Each worker notes what its fork will be charged (from its own
 * smaps) for the rows to be checked against.  The children live until
 * every row is written, so that the system commit stays where it was
 * while the forks were logged: a walked row's commit before its fork plus
 * its charge is then that commit, not more.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define NWORK		1100	/* more than the module's 1,024 slots */
#define FOLLOWED	1024
#define EXTRA_VMAS	100	/* a "big" worker: beyond the walk's 64 */

static struct shared {
	int ready;			/* workers set up, waiting for go */
	int waiting;			/* workers whose fork is held */
	int forked;			/* workers whose fork returned */
	pid_t worker[NWORK], child[NWORK];
	long long expect_kb[NWORK];	/* its fork's charge, from smaps */
	int vmas[NWORK];
} *sh;

static int go[2];		/* closed by the test: workers fork */
static int release[2];		/* closed by the test: forks go on */
static int hold[2];		/* closed by the test: children exit */
static int uffd;

static int count_vmas(void)
{
	char buf[4096];
	int fd = open("/proc/self/maps", O_RDONLY), n = 0;
	ssize_t r;

	if (fd < 0)
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t k = 0; k < r; k++)
			n += buf[k] == '\n';
	close(fd);
	return n;
}

/* Reads the fork events: first only says one is there, then releases. */
static void *monitor(void *arg)
{
	struct pollfd p = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;
	char c;

	(void)arg;
	if (poll(&p, 1, -1) == 1)
		__atomic_add_fetch(&sh->waiting, 1, __ATOMIC_SEQ_CST);
	while (read(release[0], &c, 1) > 0)
		;
	/*
	 * The child's new userfaultfd is left open: closing it write-locks
	 * the child's mm, which could race with task_newtask's look at it
	 * (a lock miss, seen).  The worker's exit closes it.
	 */
	for (;;)
		if (poll(&p, 1, -1) == 1)
			(void)!read(uffd, &msg, sizeof(msg));
	return NULL;
}

static int uffd_for_forks(void)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_EVENT_FORK };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	long page = sysconf(_SC_PAGESIZE);
	void *p;
	int fd;

	fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	p = mmap(NULL, page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	reg.range.start = (unsigned long)p;
	reg.range.len = page;
	if (p == MAP_FAILED || ioctl(fd, UFFDIO_API, &api) ||
	    ioctl(fd, UFFDIO_REGISTER, &reg)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A worker: set up, it waits for the go, then forks; its fork waits in
 * copy_process() until the release.  Odd workers are big.
 */
static void worker(int i)
{
	long page = sysconf(_SC_PAGESIZE);
	pthread_attr_t attr;
	pthread_t t;
	pid_t pid;
	char c;
	int k;

	close(go[1]);
	close(release[1]);
	close(hold[1]);
	if (i % 2) {
		/* Every other page read-only: EXTRA_VMAS more VMAs. */
		char *p = mmap(NULL, 2 * EXTRA_VMAS * page,
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			_exit(2);
		for (k = 0; k < EXTRA_VMAS; k++)
			mprotect(p + (2 * k + 1) * page, page, PROT_READ);
	}
	uffd = uffd_for_forks();
	if (uffd < 0)
		_exit(3);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	if (pthread_create(&t, &attr, monitor, NULL))
		_exit(4);
	sh->vmas[i] = count_vmas();
	sh->expect_kb[i] = smaps_fork_charge_kb();
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (read(go[0], &c, 1) > 0)
		;
	pid = fork();
	if (pid == 0) {
		while (read(hold[0], &c, 1) > 0)
			;
		_exit(0);
	}
	sh->child[i] = pid;
	__atomic_add_fetch(&sh->forked, 1, __ATOMIC_SEQ_CST);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	_exit(pid > 0 ? 0 : 5);
}

/* Waits up to 300 s for *@n to reach @want; what it reached. */
static int wait_for(int *n, int want)
{
	time_t end = time(NULL) + 300;

	while (__atomic_load_n(n, __ATOMIC_SEQ_CST) < want && time(NULL) < end)
		usleep(100000);
	return __atomic_load_n(n, __ATOMIC_SEQ_CST);
}

int main(void)
{
	int i, n, st, fd, started = 0, ready, held;
	int small = 0, small_exact = 0, big = 0, big_exact = 0, unknown = 0;
	int vmas_small = 0, vmas_big = 0;
	long long m0, w0, l0, misses, walk, lock, commit_kb;
	int commit_rows = 0, commit_right = 0;
	struct vfa_row *rows, *r;

	vfa_require_module();
	ktap_plan(5);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = uffd_for_forks();
	if (sh == MAP_FAILED || fd < 0 || pipe(go) || pipe(release) ||
	    pipe(hold)) {
		const char *why = "no userfaultfd with fork events";

		ktap_info("userfaultfd with fork events: %s", strerror(errno));
		ktap_skip("crowd_of_forks_overflows_the_fork_table", why);
		ktap_skip("small_forks_beyond_the_table_are_walked_exactly",
			  why);
		ktap_skip("big_forks_beyond_the_table_are_logged_unknown", why);
		ktap_skip("walk_misses_counts_the_unknown_forks", why);
		ktap_skip("no_row_counts_its_own_charge_in_its_commit", why);
		return ktap_finish();
	}
	close(fd);
	vfa_reset();

	for (i = 0; i < NWORK; i++) {
		pid_t pid = fork();

		if (pid == 0)
			worker(i);
		if (pid < 0)
			break;
		sh->worker[i] = pid;
		started++;
	}
	close(go[0]);
	close(release[0]);
	ready = wait_for(&sh->ready, started);
	/* Every thread made: from here on, only the workers' forks. */
	m0 = vfa_summary("commit_misses");
	w0 = vfa_summary("walk_misses");
	l0 = vfa_summary("lock_misses");
	close(go[1]);
	held = wait_for(&sh->waiting, started);
	close(release[1]);
	/* Every fork logged, every child alive: the commit holds still. */
	wait_for(&sh->forked, started);
	commit_kb = meminfo_kb("Committed_AS");
	rows = vfa_forks(&n);
	close(hold[1]);
	for (i = 0; i < started; i++)
		waitpid(sh->worker[i], &st, 0);
	misses = vfa_summary("commit_misses") - m0;
	walk = vfa_summary("walk_misses") - w0;
	lock = vfa_summary("lock_misses") - l0;

	for (i = 0; rows && i < started; i++) {
		bool exact, unk;

		r = vfa_find(rows, n, sh->worker[i], sh->child[i]);
		/*
		 * Commit before the fork plus its charge: at most the commit
		 * with every child charged.  A walked fork's commit is summed
		 * in the probe, after the kernel charged it: it must not
		 * count its charge twice (half a charge of slack).
		 */
		if (r && i % 2 == 0) {
			commit_rows++;
			commit_right += r->charge_kb > 0 &&
				r->committed_kb + r->charge_kb <=
				commit_kb + r->charge_kb / 2;
		}
		exact = r && r->charge_kb == sh->expect_kb[i] &&
			strcmp(r->verdict, "unknown");
		unk = r && r->charge_kb == -1 && !strcmp(r->verdict, "unknown");
		if (i % 2) {
			big++;
			big_exact += exact;
			unknown += unk;
			vmas_big = sh->vmas[i];
		} else {
			small++;
			small_exact += exact;
			vmas_small = sh->vmas[i];
		}
		if (!exact && !(unk && i % 2))
			ktap_info("worker %d: row %s, charge %ld kB, expected %lld, verdict %s",
				  sh->worker[i], r ? "found" : "missing",
				  r ? r->charge_kb : 0, sh->expect_kb[i],
				  r ? r->verdict : "-");
	}
	free(rows);
	ktap_info("%d workers made, %d ready, %d forks held at once; commit_misses +%lld, walk_misses +%lld, lock_misses +%lld",
		  started, ready, held, misses, walk, lock);
	ktap_info("small (%d VMAs): %d rows exact of %d; big (%d VMAs): %d exact, %d unknown of %d",
		  vmas_small, small_exact, small, vmas_big, big_exact, unknown,
		  big);

	ktap_test(started == NWORK && held == NWORK &&
		  misses >= NWORK - FOLLOWED,
		  "crowd_of_forks_overflows_the_fork_table");
	/* The misses that are not walk_misses are small forks, walked. */
	ktap_test(started == NWORK && vmas_small <= 64 &&
		  small_exact == small && misses - walk >= 1,
		  "small_forks_beyond_the_table_are_walked_exactly");
	ktap_test(started == NWORK && vmas_big > 64 && unknown >= 1 &&
		  big_exact + unknown == big,
		  "big_forks_beyond_the_table_are_logged_unknown");
	ktap_test(walk == unknown && lock == 0,
		  "walk_misses_counts_the_unknown_forks");
	ktap_info("Committed_AS with every child charged: %lld kB; small rows within it: %d of %d",
		  commit_kb, commit_right, commit_rows);
	ktap_test(started == NWORK && commit_rows > 0 && commit_right == commit_rows,
		  "no_row_counts_its_own_charge_in_its_commit");
	return ktap_finish();
}
