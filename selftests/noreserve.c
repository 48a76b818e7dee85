// SPDX-License-Identifier: GPL-2.0
/*
 * noreserve: a fork's MAP_NORESERVE memory is found however its parent
 * came to hold it, and only forks of such parents are walked for it.
 *
 * Mode 2 would charge a fork for its parent's private MAP_NORESERVE
 * memory, which the kernel's own requests do not show; the module walks
 * the parent's VMAs for it only if the parent may hold some.  It learns
 * that three ways: the parent mapped such memory (any protection: glibc's
 * arenas are mapped PROT_NONE, then made writable), it was forked from
 * such a process, or it held the memory when the module was loaded.
 * Each way has its test here: the fork row's noreserve_kB must be the
 * mapping's size.  A process that never held any must not be walked
 * (summary noreserve_walks), and the module must forget a process when
 * its address space goes (noreserve_mms).  When more processes hold it
 * than the set has room for, every fork is walked until they are fewer;
 * then the set is rebuilt and must know the holders it could not take.
 *
 * The memory is held by "holder" children, so this process itself never
 * holds any.  In mode 2 the kernel ignores MAP_NORESERVE: those tests skip.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define NR_MB		64
#define NR_KB		(NR_MB * 1024L)

/* A child holding NR_MB of private MAP_NORESERVE memory, on command. */
struct holder {
	pid_t pid;
	int cmd;	/* write end: one command byte */
	int resp;	/* read end: a reply of two pids */
};

/* A fork in the holder's line: the row to look up. */
struct pair {
	pid_t ppid, pid;
};

static void write_all(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		_exit(3);
}

/* Forks a child that exits at once, and reaps it. */
static pid_t fork_exit(void)
{
	pid_t pid = fork();

	if (!pid)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return pid;
}

/*
 * The holder's loop.  'f': fork a child that exits; 'g': fork a child
 * that itself forks one that exits (the grandchild's row is the one
 * wanted); 'q': exit.  Each fork replies with the row's parent and child.
 */
static void holder_loop(int cmd, int resp)
{
	struct pair pr;
	int p[2];
	char c;

	while (read(cmd, &c, 1) == 1) {
		if (c == 'f') {
			pr.ppid = getpid();
			pr.pid = fork_exit();
		} else if (c == 'g') {
			if (pipe(p))
				_exit(3);
			pr.ppid = fork();
			if (!pr.ppid) {
				pid_t g = fork_exit();

				write_all(p[1], &g, sizeof(g));
				_exit(0);
			}
			if (pr.ppid < 0 || read(p[0], &pr.pid, sizeof(pr.pid)) !=
			    sizeof(pr.pid))
				_exit(3);
			waitpid(pr.ppid, NULL, 0);
			close(p[0]);
			close(p[1]);
		} else {
			break;
		}
		write_all(resp, &pr, sizeof(pr));
	}
	_exit(0);
}

/*
 * Starts a holder that maps NR_MB of private anonymous MAP_NORESERVE
 * memory: PROT_NONE, then made writable, as glibc does for an arena.
 * Replies once mapped.
 */
static bool holder_start(struct holder *h)
{
	int c[2], r[2];
	struct pair ready;

	if (pipe(c) || pipe(r))
		return false;
	h->pid = fork();
	if (h->pid < 0)
		return false;
	if (!h->pid) {
		void *m;
		int fd;

		/* Only its own pipes: other holders must see their EOF. */
		for (fd = 3; fd < 1024; fd++)
			if (fd != c[0] && fd != r[1])
				close(fd);
		m = mmap(NULL, NR_KB * 1024, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED ||
		    mprotect(m, NR_KB * 1024, PROT_READ | PROT_WRITE))
			_exit(3);
		ready.ppid = getpid();
		ready.pid = 0;
		write_all(r[1], &ready, sizeof(ready));
		holder_loop(c[0], r[1]);
	}
	close(c[0]);
	close(r[1]);
	h->cmd = c[1];
	h->resp = r[0];
	return read(h->resp, &ready, sizeof(ready)) == sizeof(ready);
}

static bool holder_fork(struct holder *h, char how, struct pair *pr)
{
	return write(h->cmd, &how, 1) == 1 &&
	       read(h->resp, pr, sizeof(*pr)) == sizeof(*pr) && pr->pid > 0;
}

static void holder_stop(struct holder *h)
{
	close(h->cmd);
	close(h->resp);
	waitpid(h->pid, NULL, 0);
}

/* The noreserve_kB of the row of @pr's fork; -2 if there is none. */
static long row_noreserve_kb(const struct pair *pr)
{
	struct vfa_row *rows, *r;
	long kb = -2;
	int n;

	rows = vfa_forks(&n);
	r = rows ? vfa_find(rows, n, pr->ppid, pr->pid) : NULL;
	if (r)
		kb = r->noreserve_kb;
	free(rows);
	return kb;
}

/* A holder's fork (@how: 'f' its child, 'g' its grandchild) shows it all. */
static bool fork_shows_noreserve(struct holder *h, char how, const char *what)
{
	long long walks = vfa_summary("noreserve_walks");
	struct pair pr;
	long kb;

	if (!holder_fork(h, how, &pr))
		return false;
	kb = row_noreserve_kb(&pr);
	walks = vfa_summary("noreserve_walks") - walks;
	ktap_info("%s: fork %d -> %d: noreserve_kB %ld (want %ld), %lld walk(s)",
		  what, pr.ppid, pr.pid, kb, NR_KB, walks);
	return kb == NR_KB && walks >= 1;
}

/* A new holder's fork (@how, as for fork_shows_noreserve()) shows it all. */
static bool new_holder_fork_shows(char how, const char *what)
{
	struct holder h;
	bool ok;

	if (!holder_start(&h))
		return false;
	ok = fork_shows_noreserve(&h, how, what);
	holder_stop(&h);
	return ok;
}

/* Held before the module was loaded: the scan at load must find it. */
static bool before_load(void)
{
	struct holder h;
	long long mms;
	bool ok;

	if (!holder_start(&h))
		return false;
	if (vfa_reload("")) {
		ktap_info("cannot reload the module");
		holder_stop(&h);
		return false;
	}
	mms = vfa_summary("noreserve_mms");
	ktap_info("after the reload: noreserve_mms %lld", mms);
	ok = mms >= 1 && fork_shows_noreserve(&h, 'f', "mapped before load");
	holder_stop(&h);
	return ok;
}

/* A process that never held any is not walked. */
static bool plain_not_walked(void)
{
	long long walks = vfa_summary("noreserve_walks");
	struct pair pr = { getpid(), fork_and_reap() };
	long kb = row_noreserve_kb(&pr);

	walks = vfa_summary("noreserve_walks") - walks;
	ktap_info("plain fork %d -> %d: noreserve_kB %ld, %lld walk(s), noreserve_mms %lld",
		  pr.ppid, pr.pid, kb, walks, vfa_summary("noreserve_mms"));
	return kb == 0 && walks == 0 && vfa_summary("noreserve_mms") >= 0;
}

/* noreserve_mms, once two readings a little apart agree. */
static long long mms_settled(void)
{
	long long a, b = vfa_summary("noreserve_mms");
	int i;

	for (i = 0; i < 50; i++) {
		usleep(20000);
		a = b;
		b = vfa_summary("noreserve_mms");
		if (a == b)
			break;
	}
	return b;
}

/* A holder's address space joins the set, and leaves it as it exits. */
static bool forgotten_at_exit(void)
{
	long long before = mms_settled(), held, after;
	struct holder h;

	if (!holder_start(&h))
		return false;
	held = mms_settled();
	holder_stop(&h);
	after = mms_settled();
	ktap_info("noreserve_mms %lld, %lld while held, %lld after exit",
		  before, held, after);
	return held == before + 1 && after == before;
}

#define SMALL_SET	16	/* noreserve_size for the overflow test */
#define CROWD		40	/* holders that overflow it */

/* noreserve_mms, once the rebuild has run (up to 10 s); -1 if it has not. */
static long long mms_rebuilt(void)
{
	long long mms = -1;
	int i;

	for (i = 0; i < 100 && mms < 0; i++) {
		usleep(100000);
		mms = vfa_summary("noreserve_mms");
	}
	return mms;
}

/*
 * With a set of SMALL_SET entries: CROWD holders fill it; every fork is
 * then walked.  A late holder, which the full set could not take, maps
 * after them.  Once most of the crowd is gone, the set must be rebuilt:
 * a plain fork is walked no more, and the late holder's fork still shows
 * its memory, so the rebuild found it.
 */
static bool overflow_then_rebuilt(void)
{
	struct holder crowd[CROWD], late;
	long long full, mms, walks;
	bool ok = false;
	int n = 0;
	char p[64];

	snprintf(p, sizeof(p), "noreserve_size=%d", SMALL_SET);
	if (vfa_reload(p)) {
		ktap_info("cannot reload the module with %s", p);
		return false;
	}
	while (n < CROWD && holder_start(&crowd[n]))
		n++;
	full = vfa_summary("noreserve_mms");
	walks = vfa_summary("noreserve_walks");
	fork_and_reap();
	walks = vfa_summary("noreserve_walks") - walks;
	ktap_info("%d holders: noreserve_mms %lld; a plain fork: %lld walk(s)",
		  n, full, walks);
	if (n < CROWD || full != -1 || walks < 1 || !holder_start(&late))
		goto out;
	/* Leave 4 of the crowd: the set is a quarter free or more. */
	while (n > 4)
		holder_stop(&crowd[--n]);
	mms = mms_rebuilt();
	ktap_info("after %d holders left: noreserve_mms %lld", CROWD - n, mms);
	ok = mms >= n + 1 && plain_not_walked() &&
	     fork_shows_noreserve(&late, 'f', "mapped while the set was full");
	holder_stop(&late);
out:
	while (n > 0)
		holder_stop(&crowd[--n]);
	return vfa_reload("") == 0 && ok;
}

int main(void)
{
	const char *why = "MAP_NORESERVE is ignored in vm.overcommit_memory=2";
	long long mode;

	vfa_require_module();
	mode = vm_sysctl("overcommit_memory");
	ktap_plan(6);
	/* First, while this process has never made a holder. */
	ktap_test(plain_not_walked(), "fork_of_a_process_without_noreserve_is_not_walked");
	if (mode == 2) {
		ktap_skip("noreserve_mapped_prot_none_then_rw_is_in_the_fork_row", why);
		ktap_skip("noreserve_inherited_is_in_the_grandchild_fork_row", why);
		ktap_skip("noreserve_held_before_load_is_found_by_the_scan", why);
		ktap_skip("process_leaves_the_noreserve_set_at_exit", why);
		ktap_skip("noreserve_set_full_walks_every_fork_then_is_rebuilt", why);
		return ktap_finish();
	}
	ktap_test(new_holder_fork_shows('f', "mapped PROT_NONE, then RW"),
		  "noreserve_mapped_prot_none_then_rw_is_in_the_fork_row");
	ktap_test(new_holder_fork_shows('g', "the holder's child's fork"),
		  "noreserve_inherited_is_in_the_grandchild_fork_row");
	ktap_test(forgotten_at_exit(), "process_leaves_the_noreserve_set_at_exit");
	ktap_test(before_load(), "noreserve_held_before_load_is_found_by_the_scan");
	ktap_test(overflow_then_rebuilt(),
		  "noreserve_set_full_walks_every_fork_then_is_rebuilt");
	return ktap_finish();
}
