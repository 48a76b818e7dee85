// SPDX-License-Identifier: GPL-2.0
/*
 * crowd.c: more forks in flight at once than the module can follow.
 *
 * The module follows a fork's commit requests through a slot it holds from
 * copy_process()'s entry to its end: 1,024 slots, and as many instances of
 * its kretprobe.  A fork beyond them is not followed (commit_misses), and
 * task_newtask must charge it by itself, with preemption off: it walks a
 * child of at most 64 VMAs (a bounded cost, the exact charge), and logs a
 * bigger one with charge "-" and verdict "unknown" (walk_misses) rather
 * than walk it.
 *
 * To put 1,100 forks in flight at once, each of 1,100 worker processes
 * forks with a userfaultfd that asks for fork events: dup_mmap() then
 * waits, inside copy_process(), until its event is read, and no worker
 * reads it until all of them are waiting.  Each worker notes what its fork
 * will be charged (from its own smaps) for the rows to be checked against.
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
	int waiting;			/* workers whose fork is held */
	pid_t worker[NWORK], child[NWORK];
	long long expect_kb[NWORK];	/* its fork's charge, from smaps */
	int vmas[NWORK];
} *sh;

static int release[2];		/* closed by the test: workers go on */
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

/* A worker: its fork waits in copy_process() until the release. */
static void worker(int i, bool big)
{
	long page = sysconf(_SC_PAGESIZE);
	pthread_attr_t attr;
	pthread_t t;
	pid_t pid;
	int k;

	close(release[1]);
	if (big) {
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
	pid = fork();
	if (pid == 0)
		_exit(0);
	sh->child[i] = pid;
	if (pid > 0)
		waitpid(pid, NULL, 0);
	_exit(pid > 0 ? 0 : 5);
}

struct crowd {
	int started, held;	/* workers made; forks held at once */
	int found, exact, unknown, other;
	long long misses, walk_misses, lock_misses;
};

/* NWORK workers, their forks all held at once, then released. */
static void crowd(bool big, struct crowd *c)
{
	long long m0, w0, l0;
	struct vfa_row *rows, *r;
	int i, n, st;
	time_t end;

	memset(c, 0, sizeof(*c));
	memset(sh, 0, sizeof(*sh));
	vfa_reset();
	m0 = vfa_summary("commit_misses");
	w0 = vfa_summary("walk_misses");
	l0 = vfa_summary("lock_misses");
	if (pipe(release))
		return;
	for (i = 0; i < NWORK; i++) {
		pid_t pid = fork();

		if (pid == 0)
			worker(i, big);
		if (pid < 0)
			break;
		sh->worker[i] = pid;
		c->started++;
	}
	close(release[0]);
	end = time(NULL) + 300;
	while (__atomic_load_n(&sh->waiting, __ATOMIC_SEQ_CST) < c->started &&
	       time(NULL) < end)
		usleep(100000);
	c->held = __atomic_load_n(&sh->waiting, __ATOMIC_SEQ_CST);
	close(release[1]);
	for (i = 0; i < c->started; i++)
		waitpid(sh->worker[i], &st, 0);
	c->misses = vfa_summary("commit_misses") - m0;
	c->walk_misses = vfa_summary("walk_misses") - w0;
	c->lock_misses = vfa_summary("lock_misses") - l0;

	rows = vfa_forks(&n);
	for (i = 0; rows && i < c->started; i++) {
		r = vfa_find(rows, n, sh->worker[i], sh->child[i]);
		if (!r)
			continue;
		c->found++;
		if (r->charge_kb == sh->expect_kb[i] &&
		    strcmp(r->verdict, "unknown"))
			c->exact++;
		else if (r->charge_kb == -1 && !strcmp(r->verdict, "unknown"))
			c->unknown++;
		else if (c->other++ < 3)
			ktap_info("worker %d: charge %ld kB, expected %lld, verdict %s",
				  sh->worker[i], r->charge_kb,
				  sh->expect_kb[i], r->verdict);
	}
	free(rows);
	ktap_info("%s workers (%d-%d VMAs): %d made, %d forks held at once; rows %d: %d exact, %d unknown, %d other; commit_misses +%lld, walk_misses +%lld, lock_misses +%lld",
		  big ? "big" : "small", sh->vmas[0], sh->vmas[c->started - 1],
		  c->started, c->held, c->found, c->exact, c->unknown,
		  c->other, c->misses, c->walk_misses, c->lock_misses);
}

int main(void)
{
	struct crowd s, b;
	int fd;

	vfa_require_module();
	ktap_plan(4);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = uffd_for_forks();
	if (sh == MAP_FAILED || fd < 0) {
		ktap_info("userfaultfd with fork events: %s", strerror(errno));
		ktap_skip("crowd_of_forks_overflows_the_fork_table",
			  "no userfaultfd with fork events");
		ktap_skip("small_forks_beyond_the_table_are_walked_exactly",
			  "no userfaultfd with fork events");
		ktap_skip("big_forks_beyond_the_table_are_logged_unknown",
			  "no userfaultfd with fork events");
		ktap_skip("walk_misses_counts_the_unknown_forks",
			  "no userfaultfd with fork events");
		return ktap_finish();
	}
	close(fd);

	crowd(false, &s);
	ktap_test(s.started == NWORK && s.held == NWORK &&
		  s.misses >= NWORK - FOLLOWED,
		  "crowd_of_forks_overflows_the_fork_table");
	ktap_test(s.started == NWORK && sh->vmas[0] <= 64 &&
		  s.exact == NWORK && s.walk_misses == 0,
		  "small_forks_beyond_the_table_are_walked_exactly");

	crowd(true, &b);
	ktap_test(b.started == NWORK && b.held == NWORK && sh->vmas[0] > 64 &&
		  b.found == NWORK && b.unknown >= NWORK - FOLLOWED &&
		  b.exact + b.unknown == NWORK,
		  "big_forks_beyond_the_table_are_logged_unknown");
	ktap_test(b.walk_misses == b.unknown && b.lock_misses == 0,
		  "walk_misses_counts_the_unknown_forks");
	return ktap_finish();
}
