// SPDX-License-Identifier: GPL-2.0
/*
 * tasks: /proc/vforkacct/tasks lists every user process (no kernel
 * thread) with its parent and comm, its accountable memory, what a fork
 * of it would be charged now, and the model's verdict for such a fork;
 * and it stays readable while processes come and go.
 *
 * This process's own row is read before and after changing its address
 * space; large malloc()s are forced to mmap so that reading the file does
 * not leave the heap changed, and no thread is ever created (glibc keeps
 * dead threads' stacks mapped, and they are charged).
 */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define MAP_MB		64
#define MAP_KB		(MAP_MB * 1024L)
#define PF_KTHREAD	0x00200000
#define CAP_SYS_ADMIN	21
#define CHURN		200
#define MIN_READS	5

/* This process's row now; false (and said why) if it is missing. */
static bool my_row(struct vfa_task *out)
{
	struct vfa_task *rows, *t;
	int n;

	rows = vfa_tasks(&n);
	if (!rows)
		return false;
	t = vfa_task_find(rows, n, getpid());
	if (t)
		*out = *t;
	else
		ktap_info("tasks has no row for pid %d", getpid());
	free(rows);
	return t;
}

static bool lists_self(void)
{
	char *comm = read_file("/proc/self/comm");
	struct vfa_task me;
	bool ok;

	if (!comm || !my_row(&me)) {
		free(comm);
		return false;
	}
	comm[strcspn(comm, "\n")] = '\0';
	ktap_info("own row: pid %d ppid %d comm %s (expected ppid %d comm %s)",
		  me.pid, me.ppid, me.comm, getppid(), comm);
	ok = me.ppid == getppid() && !strcmp(me.comm, comm);
	free(comm);
	return ok;
}

static bool lists_init(void)
{
	struct vfa_task *rows, *t;
	bool ok;
	int n;

	rows = vfa_tasks(&n);
	if (!rows)
		return false;
	t = vfa_task_find(rows, n, 1);
	if (t)
		ktap_info("pid 1: ppid %d comm %s", t->ppid, t->comm);
	else
		ktap_info("tasks has no row for pid 1");
	ok = t && t->ppid == 0;
	free(rows);
	return ok;
}

/* PF_KTHREAD in /proc/PID/stat's flags (field 9); false if unreadable. */
static bool is_kthread(int pid)
{
	char path[64], *s, *p;
	unsigned long flags = 0;
	bool kthread = false;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	s = read_file(path);
	if (!s)
		return false;
	p = strrchr(s, ')');	/* comm may hold blanks and parentheses */
	if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) == 1)
		kthread = flags & PF_KTHREAD;
	free(s);
	return kthread;
}

static bool omits_kernel_threads(void)
{
	struct vfa_task *rows;
	struct dirent *de;
	int n, kthreads = 0, listed = 0;
	DIR *d;

	rows = vfa_tasks(&n);
	if (!rows)
		return false;
	d = opendir("/proc");
	if (!d) {
		free(rows);
		return false;
	}
	while ((de = readdir(d))) {
		int pid = atoi(de->d_name);

		if (pid <= 0 || !is_kthread(pid))
			continue;
		kthreads++;
		if (vfa_task_find(rows, n, pid)) {
			ktap_info("kernel thread %d is listed", pid);
			listed++;
		}
	}
	closedir(d);
	ktap_info("%d rows, %d kernel threads in /proc, %d of them listed; pid 2 %s",
		  n, kthreads, listed,
		  vfa_task_find(rows, n, 2) ? "listed" : "absent");
	if (vfa_task_find(rows, n, 2))
		listed++;
	free(rows);
	return kthreads > 0 && !listed;
}

/*
 * Maps MAP_MB MiB (with @advice unless 0) and returns how this process's
 * committed_kB and fork_charge_kB moved.  The mapping is left in place.
 */
static bool row_moves(int advice, long *d_committed, long *d_charge,
		      void **map)
{
	struct vfa_task a, b;

	if (!my_row(&a))
		return false;
	*map = map_private(MAP_MB, false);
	if (advice && madvise(*map, MAP_KB * 1024, advice)) {
		ktap_info("madvise: %s", strerror(errno));
		return false;
	}
	if (!my_row(&b))
		return false;
	*d_committed = b.committed_kb - a.committed_kb;
	*d_charge = b.fork_charge_kb - a.fork_charge_kb;
	ktap_info("%s %d MiB: committed %ld -> %ld kB (%+ld), fork_charge %ld -> %ld kB (%+ld)",
		  advice ? "MADV_DONTFORK" : "private writable", MAP_MB,
		  a.committed_kb, b.committed_kb, *d_committed,
		  a.fork_charge_kb, b.fork_charge_kb, *d_charge);
	return true;
}

static void private_mapping_rises(void)
{
	long dc = 0, df = 0;
	void *p = NULL;
	bool ok = row_moves(0, &dc, &df, &p);

	ktap_test(ok && dc == MAP_KB, "committed_rises_by_private_mapping");
	ktap_test(ok && df == MAP_KB, "fork_charge_rises_by_private_mapping");
	if (p)
		munmap(p, MAP_KB * 1024);
}

static bool dontfork_only_committed(void)
{
	long dc = 0, df = 0;
	void *p = NULL;
	bool ok = row_moves(MADV_DONTFORK, &dc, &df, &p);

	if (p)
		munmap(p, MAP_KB * 1024);
	return ok && dc == MAP_KB && df == 0;
}

/* fork_charge_kB just before a fork is what that fork is logged as. */
static bool fork_charge_is_logged_charge(void)
{
	void *p = map_private(MAP_MB, false);
	struct vfa_row *rows, *r;
	struct vfa_task me;
	bool ok = false;
	pid_t pid;
	int n;

	if (my_row(&me)) {
		pid = fork_and_reap();
		rows = vfa_forks(&n);
		r = rows ? vfa_find(rows, n, getpid(), pid) : NULL;
		ktap_info("fork_charge %ld kB, then fork %d logged charge %ld kB",
			  me.fork_charge_kb, pid, r ? r->charge_kb : -2L);
		ok = r && r->charge_kb == me.fork_charge_kb;
		free(rows);
	}
	munmap(p, MAP_KB * 1024);
	return ok;
}

/*
 * A child's committed_kB is what the kernel unaccounts when its mm goes:
 * the drop of Committed_AS across its exit.  It inherits a NORESERVE and
 * a MAP_SHARED mapping, neither of which it is accountable for.
 */
static bool committed_is_exit_drop(void)
{
	size_t len = MAP_KB * 1024;
	void *priv = map_private(MAP_MB, false);
	void *nores = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void *shared = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long long before = 0, after = 0;
	struct vfa_task *rows, *t;
	bool ok = false;
	int attempt, n;

	for (attempt = 1; attempt <= 5 && !ok; attempt++) {
		long committed = -1;
		int p[2];
		pid_t pid;
		char c = 0;

		if (nores == MAP_FAILED || shared == MAP_FAILED || pipe(p))
			break;
		pid = fork();
		if (pid == 0) {
			close(p[1]);
			while (read(p[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
		rows = vfa_tasks(&n);
		t = rows ? vfa_task_find(rows, n, pid) : NULL;
		if (t)
			committed = t->committed_kb;
		free(rows);
		before = meminfo_kb("Committed_AS");
		if (pid > 0 && write(p[1], &c, 1) != 1)
			kill(pid, SIGKILL);
		close(p[0]);
		close(p[1]);
		if (pid < 0)
			break;
		waitpid(pid, NULL, 0);
		after = meminfo_kb("Committed_AS");
		ktap_info("attempt %d: child %d committed %ld kB, Committed_AS dropped %lld kB at its exit",
			  attempt, pid, committed, before - after);
		ok = committed >= 0 && before - after == committed;
	}
	if (shared != MAP_FAILED)
		munmap(shared, len);
	if (nores != MAP_FAILED)
		munmap(nores, len);
	munmap(priv, len);
	return ok;
}

/* A field of /proc/self/status as a number in @base; 0 if missing. */
static unsigned long long self_status(const char *key, int base)
{
	char *s = read_file("/proc/self/status"), *p;
	unsigned long long v = 0;
	size_t klen = strlen(key);

	for (p = s; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, klen) && p[klen] == ':') {
			v = strtoull(p + klen + 1, NULL, base);
			break;
		}
	}
	free(s);
	return v;
}

static bool set_limit(long long kb)
{
	char val[32];
	int ret;

	snprintf(val, sizeof(val), "%lld", kb);
	ret = vfa_param("limit_kb", val);
	if (ret)
		ktap_info("limit_kb=%s: %s", val, strerror(-ret));
	return !ret;
}

/* fork_now of this process's row with limit_kb set to @limit_kb. */
static bool fork_now_is(long long limit_kb, const char *expect)
{
	struct vfa_task me;

	if (!set_limit(limit_kb) || !my_row(&me))
		return false;
	ktap_info("limit_kb %lld: committed %ld kB, fork_charge %ld kB, fork_now %s (expected %s)",
		  limit_kb, me.committed_kb, me.fork_charge_kb, me.fork_now,
		  expect);
	return !strcmp(me.fork_now, expect);
}

/*
 * The model: a fork fails unless Committed_AS + its charge stays below
 * limit - admin reserve (unless CAP_SYS_ADMIN) - min(VmSize/32, user
 * reserve).  Far from that threshold on both sides, then 2 MiB from it
 * (Committed_AS is exact and this guest is quiet; the margin absorbs
 * VmSize/32 rounding and reading /proc while measuring).
 */
static void fork_now_verdicts(void)
{
	long long old = vfa_param_get("limit_kb");
	long long committed, vmsize, reserve, threshold;
	void *p = map_private(2 * MAP_MB, false);
	const long long margin = 2048;
	struct vfa_task me;
	/* CAP_SYS_ADMIN in the effective set: no admin reserve. */
	bool admin = self_status("CapEff", 16) & (1ULL << CAP_SYS_ADMIN);

	ktap_test(fork_now_is(1024, "fail"), "fork_now_fail_with_limit_far_below");
	ktap_test(fork_now_is(1LL << 40, "ok"), "fork_now_ok_with_huge_limit");

	if (!my_row(&me)) {
		ktap_test(false, "fork_now_fail_just_below_threshold");
		ktap_test(false, "fork_now_ok_just_above_threshold");
		goto out;
	}
	committed = meminfo_kb("Committed_AS");
	vmsize = self_status("VmSize", 10);
	reserve = vmsize / 32;
	if (reserve > vfa_param_get("user_reserve_kb"))
		reserve = vfa_param_get("user_reserve_kb");
	if (!admin)
		reserve += vfa_param_get("admin_reserve_kb");
	threshold = committed + me.fork_charge_kb + reserve;
	ktap_info("Committed_AS %lld kB + fork_charge %ld kB + reserve %lld kB (VmSize %lld kB, %s) = %lld kB",
		  committed, me.fork_charge_kb, reserve, vmsize,
		  admin ? "CAP_SYS_ADMIN" : "no CAP_SYS_ADMIN", threshold);
	ktap_test(fork_now_is(threshold - margin, "fail"),
		  "fork_now_fail_just_below_threshold");
	ktap_test(fork_now_is(threshold + margin, "ok"),
		  "fork_now_ok_just_above_threshold");
out:
	if (old >= 0)
		set_limit(old);
	munmap(p, 2 * MAP_MB << 20);
}

/* One read of tasks under churn: parses and makes sense. */
static bool sane_read(int read_no, pid_t spawner, int *churn_rows)
{
	struct vfa_task *rows;
	bool ok = true, self = false;
	int i, j, n;

	rows = vfa_tasks(&n);
	if (!rows) {
		ktap_info("read %d: tasks did not parse", read_no);
		return false;
	}
	for (i = 0; i < n; i++) {
		struct vfa_task *t = &rows[i];

		self |= t->pid == getpid();
		if (t->ppid == spawner)
			(*churn_rows)++;
		if (t->pid <= 0 || t->ppid < 0 || t->committed_kb < 0 ||
		    t->fork_charge_kb < 0 ||
		    t->fork_charge_kb > t->committed_kb ||
		    (strcmp(t->fork_now, "ok") && strcmp(t->fork_now, "fail"))) {
			ktap_info("read %d: odd row %d %d %s %ld %ld %s", read_no,
				  t->pid, t->ppid, t->comm, t->committed_kb,
				  t->fork_charge_kb, t->fork_now);
			ok = false;
		}
		for (j = 0; j < i; j++)
			if (rows[j].pid == t->pid) {
				ktap_info("read %d: pid %d listed twice",
					  read_no, t->pid);
				ok = false;
			}
	}
	if (!self) {
		ktap_info("read %d: own pid missing", read_no);
		ok = false;
	}
	free(rows);
	return ok;
}

/*
 * A spawner forks CHURN children that live 0..9 ms each, reaping them
 * as it goes, while this process reads tasks over and over (at least
 * MIN_READS times, and until the spawner is done).
 */
static bool consistent_under_churn(void)
{
	int reads = 0, bad = 0, churn_rows = 0, status, i;
	pid_t spawner = fork();
	bool done = false;

	if (spawner < 0)
		return false;
	if (spawner == 0) {
		for (i = 0; i < CHURN; i++) {
			pid_t c = fork();

			if (c == 0) {
				usleep((i % 10) * 1000);
				_exit(0);
			}
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		}
		while (wait(NULL) > 0)
			;
		_exit(0);
	}
	while (!done || reads < MIN_READS) {
		if (!sane_read(++reads, spawner, &churn_rows))
			bad++;
		if (!done && waitpid(spawner, &status, WNOHANG) == spawner)
			done = true;
		if (reads >= 10000)
			break;
	}
	if (!done) {
		kill(spawner, SIGKILL);
		waitpid(spawner, &status, 0);
	}
	ktap_info("%d reads while %d children came and went: %d bad, %d rows of churning children seen",
		  reads, CHURN, bad, churn_rows);
	return done && !bad && reads >= MIN_READS && churn_rows > 0;
}

static bool mode_0400(void)
{
	struct stat st;

	if (stat(VFA_PROC "/tasks", &st)) {
		ktap_info("stat: %s", strerror(errno));
		return false;
	}
	ktap_info("tasks mode %04o", st.st_mode & 07777);
	return (st.st_mode & 07777) == 0400;
}

int main(void)
{
	vfa_require_module();
	/* Reading tasks must not leave the heap (charged) any bigger. */
	mallopt(M_MMAP_THRESHOLD, 16384);
	ktap_plan(14);
	ktap_test(lists_self(), "lists_self_with_ppid_and_comm");
	ktap_test(lists_init(), "lists_init_with_ppid_0");
	ktap_test(omits_kernel_threads(), "omits_kernel_threads");
	private_mapping_rises();
	ktap_test(dontfork_only_committed(),
		  "dontfork_raises_committed_not_fork_charge");
	ktap_test(fork_charge_is_logged_charge(),
		  "fork_charge_equals_charge_of_next_fork");
	ktap_test(committed_is_exit_drop(),
		  "committed_equals_committed_as_drop_at_exit");
	fork_now_verdicts();
	ktap_test(consistent_under_churn(), "readable_and_consistent_under_churn");
	ktap_test(mode_0400(), "tasks_mode_0400");
	return ktap_finish();
}
