// SPDX-License-Identifier: GPL-2.0
/*
 * charge: the charge logged for a fork is what the kernel charged it.
 *
 * First against the kernel itself: while a forked child sleeps, the rise
 * of Committed_AS (/proc/meminfo) caused by the fork equals the logged
 * charge_kB to the page, for a parent holding 0, 64 and 512 MiB.  Then
 * mapping by mapping: the difference between the charges of two
 * consecutive forks of this process, one before and one after a change to
 * its address space, is exactly what dup_mmap() charges for that change
 * (0 or the mapping's size), and each fork still matches Committed_AS.
 *
 * The charge is the whole address space of this process, so nothing here
 * may change it behind the test's back: large malloc()s are forced to
 * mmap (gone again once freed), the stack is grown before measuring, and
 * no thread is ever created (glibc keeps dead threads' stacks mapped).
 * Between the two Committed_AS readings the parent only makes syscalls.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define MAP_MB		64
#define MAP_KB		(MAP_MB * 1024L)
#define ATTEMPTS	5

/* One measured fork. */
struct meas {
	long charge_kb;		/* logged; -2 if no row was found */
	long long delta_kb;	/* rise of Committed_AS across the fork */
	int attempts;		/* forks made until they matched */
	bool matched;
};

/* Committed_AS without malloc or stdio (proc_kb reads onto the stack). */
static long long committed_as(void)
{
	return proc_kb("/proc/meminfo", "Committed_AS");
}

/*
 * Forks a child that blocks on a pipe, reads Committed_AS before the fork
 * and while the child sleeps, releases the child, and looks up the fork's
 * logged charge.  False if something could not be done at all.
 */
static bool fork_once(long *charge_kb, long long *delta_kb)
{
	long long before, after;
	struct vfa_row *rows, *r;
	int p[2], n, status;
	pid_t pid;
	char c = 0;

	if (pipe(p)) {
		ktap_info("pipe: %s", strerror(errno));
		return false;
	}
	before = committed_as();
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	after = committed_as();
	if (pid > 0 && write(p[1], &c, 1) != 1)
		kill(pid, SIGKILL);
	close(p[0]);
	close(p[1]);
	if (pid < 0) {
		ktap_info("fork: %s", strerror(errno));
		return false;
	}
	waitpid(pid, &status, 0);
	if (before < 0 || after < 0) {
		ktap_info("cannot read Committed_AS");
		return false;
	}
	*delta_kb = after - before;
	rows = vfa_forks(&n);
	r = rows ? vfa_find(rows, n, getpid(), pid) : NULL;
	*charge_kb = r ? r->charge_kb : -2;
	free(rows);
	if (!r)
		ktap_info("no forks row for %d -> %d", getpid(), pid);
	return r;
}

/*
 * One fork, repeated (up to ATTEMPTS forks) until the logged charge
 * equals the Committed_AS rise exactly; anything else running in the
 * guest could move Committed_AS in between, never the charge.
 */
static bool measure(const char *what, struct meas *m)
{
	memset(m, 0, sizeof(*m));
	while (m->attempts < ATTEMPTS) {
		m->attempts++;
		if (!fork_once(&m->charge_kb, &m->delta_kb))
			return false;
		if (m->charge_kb == m->delta_kb) {
			m->matched = true;
			break;
		}
		ktap_info("%s: attempt %d: charge %ld kB, Committed_AS rise %lld kB",
			  what, m->attempts, m->charge_kb, m->delta_kb);
	}
	ktap_info("%s: charge %ld kB, Committed_AS rise %lld kB, %s after %d fork(s)",
		  what, m->charge_kb, m->delta_kb,
		  m->matched ? "equal" : "NOT equal", m->attempts);
	return m->matched;
}

/* @b's charge minus @a's is @expect_kb (both forks measured fine). */
static bool diff_is(const char *what, const struct meas *a,
		    const struct meas *b, long expect_kb)
{
	long d = b->charge_kb - a->charge_kb;

	ktap_info("%s: charge difference %ld kB, expected %ld kB", what, d,
		  expect_kb);
	return d == expect_kb;
}

static void *map_or_die(size_t len, int prot, int flags, int fd)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);

	if (p == MAP_FAILED) {
		printf("# mmap %zu bytes (prot %#x flags %#x): %s\n", len,
		       prot, flags, strerror(errno));
		exit(1);
	}
	return p;
}

/* An unlinked MAP_MB MiB file on a tmpfs (never written: no pages). */
static int tmp_file(void)
{
	static const char * const dirs[] = { "/tmp", "/dev/shm" };
	char path[64];
	unsigned int i;
	int fd;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/vfa-charge-XXXXXX", dirs[i]);
		fd = mkstemp(path);
		if (fd < 0)
			continue;
		unlink(path);
		if (!ftruncate(fd, MAP_KB * 1024))
			return fd;
		close(fd);
	}
	printf("# cannot make a %d MiB temporary file\n", MAP_MB);
	exit(1);
}

static bool charge_matches_committed_as(size_t mb)
{
	char what[64];
	struct meas m;
	void *p = map_private(mb, true);
	bool ok;

	snprintf(what, sizeof(what), "parent holding %zu MiB", mb);
	ok = measure(what, &m);
	if (p)
		munmap(p, mb << 20);
	return ok;
}

static bool unchanged_process_same_charge(void)
{
	struct meas a, b;

	return (measure("first fork", &a) & measure("second fork", &b)) &&
	       diff_is("nothing changed", &a, &b, 0);
}

static bool shared_file_not_charged(void)
{
	struct meas a, b;
	int fd = tmp_file();
	void *p;
	bool ok;

	ok = measure("before MAP_SHARED file", &a);
	p = map_or_die(MAP_KB * 1024, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	ok &= measure("with MAP_SHARED file", &b);
	ok = ok && diff_is("MAP_SHARED file", &a, &b, 0);
	munmap(p, MAP_KB * 1024);
	close(fd);
	return ok;
}

static bool shared_anon_not_charged(void)
{
	struct meas a, b;
	void *p;
	bool ok;

	ok = measure("before MAP_SHARED|MAP_ANONYMOUS", &a);
	p = map_or_die(MAP_KB * 1024, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1);
	ok &= measure("with MAP_SHARED|MAP_ANONYMOUS", &b);
	ok = ok && diff_is("MAP_SHARED|MAP_ANONYMOUS", &a, &b, 0);
	munmap(p, MAP_KB * 1024);
	return ok;
}

static bool private_file_charged(void)
{
	struct meas a, b;
	int fd = tmp_file();
	void *p;
	bool ok;

	ok = measure("before MAP_PRIVATE file", &a);
	p = map_or_die(MAP_KB * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
	ok &= measure("with MAP_PRIVATE writable file", &b);
	ok = ok && diff_is("MAP_PRIVATE writable file", &a, &b, MAP_KB);
	munmap(p, MAP_KB * 1024);
	close(fd);
	return ok;
}

static int overcommit_mode(void)
{
	char *s = read_file("/proc/sys/vm/overcommit_memory");
	int mode = s ? atoi(s) : -1;

	free(s);
	return mode;
}

static void noreserve_not_charged(const char *name)
{
	struct meas a, b;
	int mode = overcommit_mode();
	void *p;
	bool ok;

	if (mode != 0 && mode != 1) {
		ktap_skip(name, "MAP_NORESERVE is ignored in vm.overcommit_memory=2");
		return;
	}
	ok = measure("before MAP_NORESERVE", &a);
	p = map_or_die(MAP_KB * 1024, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
	ok &= measure("with MAP_NORESERVE", &b);
	ok = ok && diff_is("MAP_NORESERVE", &a, &b, 0);
	munmap(p, MAP_KB * 1024);
	ktap_test(ok, name);
}

static void *madvise_or_die(void *p, int advice, const char *name)
{
	if (madvise(p, MAP_KB * 1024, advice)) {
		printf("# madvise(%s): %s\n", name, strerror(errno));
		exit(1);
	}
	return p;
}

static bool dontfork_then_dofork(void)
{
	struct meas a, b, c;
	void *p;
	bool ok;

	ok = measure("before MADV_DONTFORK", &a);
	p = map_private(MAP_MB, false);
	madvise_or_die(p, MADV_DONTFORK, "MADV_DONTFORK");
	ok &= measure("with MADV_DONTFORK", &b);
	madvise_or_die(p, MADV_DOFORK, "MADV_DOFORK");
	ok &= measure("after MADV_DOFORK", &c);
	ok = ok && (diff_is("MADV_DONTFORK", &a, &b, 0) &
		    diff_is("MADV_DOFORK", &b, &c, MAP_KB));
	munmap(p, MAP_KB * 1024);
	return ok;
}

static bool readonly_then_writable(void)
{
	struct meas a, b, c;
	void *p;
	bool ok;

	ok = measure("before read-only mapping", &a);
	p = map_or_die(MAP_KB * 1024, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1);
	ok &= measure("with read-only mapping", &b);
	if (mprotect(p, MAP_KB * 1024, PROT_READ | PROT_WRITE)) {
		printf("# mprotect: %s\n", strerror(errno));
		exit(1);
	}
	ok &= measure("after mprotect writable", &c);
	ok = ok && (diff_is("read-only", &a, &b, 0) &
		    diff_is("mprotect writable", &b, &c, MAP_KB));
	munmap(p, MAP_KB * 1024);
	return ok;
}

static bool wipeonfork_charged(void)
{
	struct meas a, b;
	void *p;
	bool ok;

	ok = measure("before MADV_WIPEONFORK", &a);
	p = map_private(MAP_MB, false);
	madvise_or_die(p, MADV_WIPEONFORK, "MADV_WIPEONFORK");
	ok &= measure("with MADV_WIPEONFORK", &b);
	ok = ok && diff_is("MADV_WIPEONFORK", &a, &b, MAP_KB);
	munmap(p, MAP_KB * 1024);
	return ok;
}

int main(void)
{
	struct meas warm;

	vfa_require_module();
	/*
	 * Every malloc() of 16 KiB or more is its own mmap, unmapped on
	 * free(): reading the log leaves the heap, hence the charge, as it
	 * was.  Fixing the threshold also stops glibc from raising it.
	 */
	mallopt(M_MMAP_THRESHOLD, 16384);
	ktap_plan(11);
	/* Grows the stack and the heap to what measuring needs. */
	if (!fork_once(&warm.charge_kb, &warm.delta_kb))
		ktap_info("warm-up fork failed");

	ktap_test(charge_matches_committed_as(0),
		  "charge_equals_committed_as_rise_0mib");
	ktap_test(charge_matches_committed_as(64),
		  "charge_equals_committed_as_rise_64mib");
	ktap_test(charge_matches_committed_as(512),
		  "charge_equals_committed_as_rise_512mib");
	ktap_test(unchanged_process_same_charge(),
		  "unchanged_process_charged_the_same");
	ktap_test(shared_file_not_charged(), "map_shared_file_not_charged");
	ktap_test(shared_anon_not_charged(), "map_shared_anonymous_not_charged");
	ktap_test(private_file_charged(), "map_private_writable_file_charged");
	noreserve_not_charged("map_noreserve_not_charged_in_mode_0");
	ktap_test(dontfork_then_dofork(),
		  "madv_dontfork_not_charged_dofork_charged_again");
	ktap_test(readonly_then_writable(),
		  "readonly_not_charged_until_mprotect_writable");
	ktap_test(wipeonfork_charged(), "madv_wipeonfork_still_charged");
	return ktap_finish();
}
