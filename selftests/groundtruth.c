// SPDX-License-Identifier: GPL-2.0
/*
 * groundtruth: the model's verdicts against what strict overcommit really
 * does, on this kernel.
 *
 * The module's limit and reserves are synced from /proc/meminfo's
 * CommitLimit and vm.{admin,user}_reserve_kbytes.  Then a fixed series of
 * forks runs twice, once in vm.overcommit_memory=0 (nothing fails; the
 * module's verdicts are recorded) and once in mode 2 with the same
 * CommitLimit (the kernel decides; which forks return ENOMEM is recorded).
 * Every verdict must equal reality.
 *
 * Each fork is made by a fresh "holder" process, as root or without
 * CAP_SYS_ADMIN in its effective set.  The holder measures, from the
 * kernel alone (smaps VmFlags "ac", VmSize, Committed_AS), what a fork of
 * it would be charged and the headroom
 *	allowed - committed,  allowed = CommitLimit - admin_reserve (no cap)
 *				- min(total_vm / 32, user_reserve)
 * and maps private writable memory M so that the fork's charge is the
 * wanted share of the headroom left after M itself is charged: 50, 90
 * and 97% must pass, 103, 110 and 150% must fail.  M is at most 60% of
 * the free commit, so the holder's own mmap fits in mode 2 too.  3% of the
 * headroom (about 15 MB here) is well clear of the error of the kernel's
 * approximate read of the commit (below num_online_cpus * batch, 4 MB per
 * CPU in mode 2 on this guest).
 *
 * Right before the holder forks, the runner also reads the model's
 * fork_now for it from /proc/vforkacct/tasks, in both modes.
 *
 * The series runs in two settings.  "default": the guest as booted, the
 * experiment as asked for.  There the reserves (8 MB admin, total_vm/32
 * about 16 MB) are no bigger than the 3% margin, so a model that got a
 * reserve wrong could still pass.  "bigres" makes every term of allowed
 * many times the margin: vm.admin_reserve_kbytes 128 MB, user_reserve 1 GB,
 * and each holder also reserves 3 GB of PROT_NONE address space (counted
 * in total_vm, never charged) marked MADV_DONTFORK, so total_vm/32 is
 * about 110 MB for the parent and 96 MB less for its child: a model that
 * ignored CAP_SYS_ADMIN, the user reserve, or took the child's total_vm,
 * would be wrong about the 97% or the 103% forks there.  Its
 * overcommit_ratio is 90 (CommitLimit 1.8 GB, nothing is ever touched) to
 * keep the headroom, and with it the 3% margin, large.
 *
 * Two more settings hold M the ways mode 0 does not commit: "arena" as
 * glibc makes a thread arena (mmap PROT_NONE with MAP_NORESERVE, then
 * mprotect RW) and "noreserve" (a private writable MAP_NORESERVE map).
 * Mode 2 ignores MAP_NORESERVE, so there M is committed and charged to the
 * fork just as in "default"; in mode 0 nothing of M is, and the model's
 * mode-2 projection must add it (noreserve_kB) to be right.
 *
 * Each mode 2 run lasts about a second, and only holders' children may
 * fail in it.  A guard process restores vm.overcommit_memory and the other
 * sysctls changed here when this program ends, however it ends (even
 * SIGKILL).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define NPCT	6
#define NCRED	2
#define NSET	4
static const int pcts[NPCT] = { 50, 90, 97, 103, 110, 150 };
static const char * const creds[NCRED] = { "root", "nocap" };
#define M0	0
#define M2	1
static const char * const modes[2] = { "mode 0", "mode 2" };

/* How the holder maps M. */
enum style {
	PLAIN,		/* private writable: committed in every mode */
	ARENA,		/* glibc's thread arenas: PROT_NONE + MAP_NORESERVE,
			 * then mprotect RW */
	NORESERVE,	/* private writable MAP_NORESERVE */
};

/* The settings the series runs in; -1: as the guest has it. */
static const struct set {
	const char *name;	/* test names leave "default" out */
	long long ratio, admin_kbytes, user_kbytes;
	size_t pad_mb;		/* PROT_NONE, MADV_DONTFORK address space */
	enum style style;
} sets[NSET] = {
	{ "default", -1, -1, -1, 0, PLAIN },
	{ "arena", -1, -1, -1, 0, ARENA },
	{ "noreserve", -1, -1, -1, 0, NORESERVE },
	{ "bigres", 90, 131072, 1048576, 3072, PLAIN },
};

/* Arena style: address space reserved beyond M, never made writable. */
#define ARENA_SPARE_MB	64

/* The kernel's CommitLimit and reserves, kB; the module is synced to them. */
static long long limit_kb, admin_kb, user_kb;
static long long orig_mode = -1, orig_ratio = -1, orig_admin = -1, orig_user = -1;
static long long saved_limit, saved_admin, saved_user;
static int guard_fd = -1;
static pid_t guard_pid;

/* What the holder measured, just before its fork. */
struct ready {
	int err;		/* a setup step failed: its errno */
	long long map_kb;	/* M */
	long long charge_kb;	/* VM_ACCOUNT, not VM_DONTCOPY: the fork's charge */
	long long committed_kb;	/* Committed_AS */
	long long vmsize_kb;	/* total_vm */
	long long allowed_kb;
	long long demand_pm;	/* charge / (allowed - committed), per mille */
};

struct forked {
	pid_t child;
	int err;		/* errno of fork(), 0 if it worked */
};

/* One fork of the series, in one mode. */
struct obs {
	bool done;		/* the holder got as far as its fork */
	char why[96];		/* else why not */
	pid_t holder;
	struct ready rd;
	struct forked fk;
	char fork_now[16];	/* tasks, just before the fork */
	long tasks_charge_kb;
	long tasks_nr_kb;	/* tasks' noreserve_kB */
	bool have_row;
	struct vfa_row row;
};

static struct obs obs[NSET][2][NCRED][NPCT];
static bool synced[NSET];
static long long set_limit[NSET], set_admin[NSET], set_user[NSET], set_ratio[NSET];

/* ---- the holder: measures from the kernel, maps, forks ---- */

/* __vm_enough_memory()'s allowed, in kB, for a parent of this size. */
static long long allowed_for(bool nocap, long long vmsize_kb)
{
	long long t32 = vmsize_kb / 4 / 32, user = user_kb / 4;

	return (limit_kb / 4 - (nocap ? admin_kb / 4 : 0) -
		(t32 < user ? t32 : user)) * 4;
}

static long long per_mille(long long charge, long long headroom)
{
	return headroom > 0 ? charge * 1000 / headroom : 999999;
}

/*
 * Maps @len bytes of M.  In mode 2 every style is committed (MAP_NORESERVE
 * is ignored there), so the series' arithmetic is the same for all; in
 * mode 0 only PLAIN is, and the model must add the rest itself.
 */
static int map_m(enum style style, size_t len)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	void *p;

	switch (style) {
	case ARENA:
		p = mmap(NULL, len + ((size_t)ARENA_SPARE_MB << 20), PROT_NONE,
			 flags | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return -1;
		return len ? mprotect(p, len, PROT_READ | PROT_WRITE) : 0;
	case NORESERVE:
		flags |= MAP_NORESERVE;
		break;
	default:
		break;
	}
	if (!len)
		return 0;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	return p == MAP_FAILED ? -1 : 0;
}

static void holder(const struct set *st, int pct, bool nocap, int up,
		   int down)
{
	struct forked fk = { 0 };
	struct ready rd = { 0 };
	long long b0, t0, s0, lo, hi;
	char c;

	if (guard_fd >= 0)
		close(guard_fd);
	if (nocap && (drop_cap_sys_admin() || has_cap_sys_admin())) {
		rd.err = EPERM;
		goto send;
	}
	if (st->pad_mb) {
		void *pad = mmap(NULL, st->pad_mb << 20, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				 -1, 0);

		if (pad == MAP_FAILED ||
		    madvise(pad, st->pad_mb << 20, MADV_DONTFORK)) {
			rd.err = errno;
			goto send;
		}
	}
	b0 = smaps_fork_charge_kb();
	t0 = proc_kb("/proc/self/status", "VmSize");
	s0 = proc_kb("/proc/meminfo", "Committed_AS");
	if (b0 < 0 || t0 < 0 || s0 < 0) {
		rd.err = EIO;
		goto send;
	}
	/* The arena's PROT_NONE spare counts in total_vm, so in the reserve. */
	if (st->style == ARENA)
		t0 += ARENA_SPARE_MB << 10;
	/*
	 * The smallest M (pages) whose fork demand reaches pct% of the
	 * headroom left once M is mapped: demand grows with M, headroom
	 * shrinks, and at M = the whole free commit the headroom is gone.
	 */
	lo = 0;
	hi = (limit_kb - s0) / 4;
	while (lo < hi) {
		long long m = (lo + hi) / 2 * 4;
		long long head = allowed_for(nocap, t0 + m) - (s0 + m);

		if ((b0 + m) * 100 >= pct * head)
			hi = m / 4;
		else
			lo = m / 4 + 1;
	}
	rd.map_kb = lo * 4;
	if (map_m(st->style, rd.map_kb << 10)) {
		rd.err = errno;
		goto send;
	}
	/* Measured again with M in place: no allocation from here on. */
	rd.charge_kb = smaps_fork_charge_kb();
	rd.vmsize_kb = proc_kb("/proc/self/status", "VmSize");
	rd.committed_kb = proc_kb("/proc/meminfo", "Committed_AS");
	rd.allowed_kb = allowed_for(nocap, rd.vmsize_kb);
	rd.demand_pm = per_mille(rd.charge_kb, rd.allowed_kb - rd.committed_kb);
send:
	if (write(up, &rd, sizeof(rd)) != sizeof(rd) || rd.err)
		_exit(0);
	if (read(down, &c, 1) != 1)
		_exit(0);
	fk.child = fork();
	if (fk.child == 0)
		_exit(0);
	fk.err = fk.child < 0 ? errno : 0;
	if (fk.child > 0)
		waitpid(fk.child, NULL, 0);
	if (write(up, &fk, sizeof(fk)) != sizeof(fk))
		_exit(1);
	_exit(0);
}

/* ---- the runner ---- */

static void run_case(int si, int mode, int ci, int pi)
{
	struct obs *o = &obs[si][mode][ci][pi];
	struct vfa_task *tasks, *t;
	struct vfa_row *rows, *r;
	int up[2], down[2], n;

	memset(o, 0, sizeof(*o));
	strcpy(o->fork_now, "-");
	if (pipe(up) || pipe(down)) {
		snprintf(o->why, sizeof(o->why), "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	o->holder = fork();
	if (o->holder == 0) {
		close(up[0]);
		close(down[1]);
		holder(&sets[si], pcts[pi], ci == 1, up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	if (o->holder < 0) {
		snprintf(o->why, sizeof(o->why), "fork of the holder: %s",
			 strerror(errno));
	} else if (read(up[0], &o->rd, sizeof(o->rd)) != sizeof(o->rd)) {
		snprintf(o->why, sizeof(o->why), "holder died");
	} else if (o->rd.err) {
		snprintf(o->why, sizeof(o->why), "holder setup (map %lld kB): %s",
			 o->rd.map_kb, strerror(o->rd.err));
	} else {
		tasks = vfa_tasks(&n);
		t = tasks ? vfa_task_find(tasks, n, o->holder) : NULL;
		if (t) {
			snprintf(o->fork_now, sizeof(o->fork_now), "%s", t->fork_now);
			o->tasks_charge_kb = t->fork_charge_kb;
			o->tasks_nr_kb = t->noreserve_kb;
		}
		free(tasks);
		if (write(down[1], "g", 1) != 1 ||
		    read(up[0], &o->fk, sizeof(o->fk)) != sizeof(o->fk))
			snprintf(o->why, sizeof(o->why), "holder died at its fork");
		else
			o->done = true;
	}
	close(up[0]);
	close(down[1]);
	if (o->holder > 0)
		waitpid(o->holder, NULL, 0);
	if (!o->done || o->fk.child <= 0)
		return;
	rows = vfa_forks(&n);
	r = rows ? vfa_find(rows, n, o->holder, o->fk.child) : NULL;
	if (r) {
		o->row = *r;
		o->have_row = true;
	}
	free(rows);
}

static void run_series(int si, int mode)
{
	int ci, pi;

	for (ci = 0; ci < NCRED; ci++)
		for (pi = 0; pi < NPCT; pi++)
			run_case(si, mode, ci, pi);
}

static void restore_sysctls(void)
{
	if (orig_mode >= 0)
		vm_sysctl_set("overcommit_memory", orig_mode);
	if (orig_ratio >= 0)
		vm_sysctl_set("overcommit_ratio", orig_ratio);
	if (orig_admin >= 0)
		vm_sysctl_set("admin_reserve_kbytes", orig_admin);
	if (orig_user >= 0)
		vm_sysctl_set("user_reserve_kbytes", orig_user);
}

static bool sysctls_restored(void)
{
	return vm_sysctl("overcommit_memory") == orig_mode &&
	       vm_sysctl("overcommit_ratio") == orig_ratio &&
	       vm_sysctl("admin_reserve_kbytes") == orig_admin &&
	       vm_sysctl("user_reserve_kbytes") == orig_user;
}

/* Restores the sysctls when the runner is gone, whatever killed it. */
static void start_guard(void)
{
	int p[2];
	char c;

	if (pipe(p))
		return;
	fflush(stdout);
	guard_pid = fork();
	if (guard_pid == 0) {
		close(p[1]);
		signal(SIGTERM, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		while (read(p[0], &c, 1) > 0)
			;
		restore_sysctls();
		_exit(0);
	}
	close(p[0]);
	if (guard_pid < 0)
		close(p[1]);
	else
		guard_fd = p[1];
}

static void stop_guard(void)
{
	if (guard_fd < 0)
		return;
	close(guard_fd);
	guard_fd = -1;
	waitpid(guard_pid, NULL, 0);
}

static void restore(void)
{
	char s[32];

	restore_sysctls();
	stop_guard();
	snprintf(s, sizeof(s), "%lld", saved_limit);
	vfa_param("limit_kb", s);
	snprintf(s, sizeof(s), "%lld", saved_admin);
	vfa_param("admin_reserve_kb", s);
	snprintf(s, sizeof(s), "%lld", saved_user);
	vfa_param("user_reserve_kb", s);
}

static bool set_kb(const char *name, long long kb)
{
	char s[32];

	snprintf(s, sizeof(s), "%lld", kb);
	return !vfa_param(name, s);
}

/*
 * Applies set @si's reserves to the guest, then syncs the module from
 * what the kernel says its limit and reserves are.
 */
static bool sync_params(int si)
{
	const struct set *st = &sets[si];
	char *s;
	bool ok;

	if ((st->ratio >= 0 && vm_sysctl_set("overcommit_ratio", st->ratio)) ||
	    (st->admin_kbytes >= 0 &&
	     vm_sysctl_set("admin_reserve_kbytes", st->admin_kbytes)) ||
	    (st->user_kbytes >= 0 &&
	     vm_sysctl_set("user_reserve_kbytes", st->user_kbytes)))
		return false;
	limit_kb = meminfo_kb("CommitLimit");
	admin_kb = vm_sysctl("admin_reserve_kbytes");
	user_kb = vm_sysctl("user_reserve_kbytes");
	set_limit[si] = limit_kb;
	set_admin[si] = admin_kb;
	set_user[si] = user_kb;
	set_ratio[si] = vm_sysctl("overcommit_ratio");
	if (limit_kb <= 0 || admin_kb < 0 || user_kb < 0 ||
	    !set_kb("limit_kb", limit_kb) || !set_kb("admin_reserve_kb", admin_kb) ||
	    !set_kb("user_reserve_kb", user_kb))
		return false;
	s = read_file(VFA_PROC "/summary");
	ok = s && strstr(s, "limit_source:") && !strstr(s, "estimate");
	free(s);
	return ok && vfa_summary("limit") == limit_kb &&
	       vfa_summary("admin_reserve") == admin_kb &&
	       vfa_summary("user_reserve") == user_kb;
}

/* ---- the verdicts ---- */

/* "ok", "ENOMEM", "E<n>" or "-": what fork() really did. */
static const char *real_of(const struct obs *o, char *buf, size_t len)
{
	if (!o->done)
		return "-";
	if (!o->fk.err)
		return "ok";
	if (o->fk.err == ENOMEM)
		return "ENOMEM";
	snprintf(buf, len, "E%d", o->fk.err);
	return buf;
}

/* The real result a verdict predicts. */
static const char *predicts(const char *verdict)
{
	if (!strcmp(verdict, "ok"))
		return "ok";
	if (!strcmp(verdict, "fail"))
		return "ENOMEM";
	return "?";
}

static bool row_matches(int si, int ci, int pi)
{
	const struct obs *o0 = &obs[si][M0][ci][pi], *o2 = &obs[si][M2][ci][pi];
	char buf[16];
	const char *real = real_of(o2, buf, sizeof(buf));

	if (!o0->done || !o0->have_row || !o2->done)
		return false;
	if (strcmp(real, "ok") && strcmp(real, "ENOMEM"))
		return false;
	/* The model's verdicts: logged in mode 0, and fork_now in both. */
	if (strcmp(predicts(o0->row.verdict), real) ||
	    strcmp(predicts(o0->fork_now), real) ||
	    strcmp(predicts(o2->fork_now), real))
		return false;
	/* A fork that really happened in mode 2 is logged, and as ok. */
	if (!o2->fk.err && (!o2->have_row || strcmp(o2->row.verdict, "ok")))
		return false;
	return true;
}

/* As mode 2 would see it: MAP_NORESERVE memory committed and charged. */
static long long row_demand_pm(const struct vfa_row *r)
{
	return per_mille(r->mode2_charge_kb,
			 r->allowed_kb - r->committed_kb - r->noreserve_kb);
}

static void print_table(int si)
{
	int ci, pi, m;

	ktap_info("groundtruth %s: CommitLimit %lld kB (overcommit_ratio %lld), admin_reserve %lld kB, user_reserve %lld kB, PROT_NONE DONTFORK pad %zu MB",
		  sets[si].name, set_limit[si], set_ratio[si], set_admin[si],
		  set_user[si], sets[si].pad_mb);
	ktap_info("demand: fork charge / (allowed - committed before the fork); model: the module's verdict, logged row / fork_now in tasks");
	ktap_info("%-11s | %-45s | %-24s |", "", "vm.overcommit_memory=0: the model",
		  "=2: the kernel");
	ktap_info("%-5s %-5s | %9s %9s %8s %-16s | %7s %-6s %-9s | %s",
		  "want", "cred", "map_kB", "charge_kB", "demand",
		  "model", "demand", "real", "fork_now", "match");
	for (ci = 0; ci < NCRED; ci++) {
		for (pi = 0; pi < NPCT; pi++) {
			const struct obs *o0 = &obs[si][M0][ci][pi];
			const struct obs *o2 = &obs[si][M2][ci][pi];
			char d0[16] = "-", d2[16] = "-", v0[24], buf[16];

			if (o0->have_row)
				snprintf(d0, sizeof(d0), "%.1f%%",
					 row_demand_pm(&o0->row) / 10.0);
			if (o2->done)
				snprintf(d2, sizeof(d2), "%.1f%%",
					 o2->rd.demand_pm / 10.0);
			snprintf(v0, sizeof(v0), "%s/%s",
				 o0->have_row ? o0->row.verdict : "-",
				 o0->fork_now);
			ktap_info("%4d%% %-5s | %9lld %9lld %8s %-16s | %7s %-6s %-9s | %s",
				  pcts[pi], creds[ci], o0->rd.map_kb,
				  o0->have_row ? (long long)o0->row.charge_kb : -1,
				  d0, v0, d2, real_of(o2, buf, sizeof(buf)),
				  o2->fork_now, row_matches(si, ci, pi) ? "yes" : "NO");
		}
	}
	for (m = 0; m < 2; m++)
		for (ci = 0; ci < NCRED; ci++)
			for (pi = 0; pi < NPCT; pi++)
				if (!obs[si][m][ci][pi].done)
					ktap_info("%s %s %s %d%%: %s", sets[si].name,
						  modes[m], creds[ci], pcts[pi],
						  obs[si][m][ci][pi].why);
}

/* The model's inputs in mode 0 equal the kernel's own numbers. */
static bool inputs_match(void)
{
	int si, ci, pi, bad = 0;

	for (si = 0; si < NSET; si++) {
		for (ci = 0; ci < NCRED; ci++) {
			for (pi = 0; pi < NPCT; pi++) {
				const struct obs *o = &obs[si][M0][ci][pi];

				if (!o->have_row) {
					bad++;
					continue;
				}
				long long nr = sets[si].style == PLAIN ?
					0 : o->rd.map_kb;

				if (o->row.charge_kb == o->rd.charge_kb &&
				    o->tasks_charge_kb == o->rd.charge_kb &&
				    o->row.allowed_kb == o->rd.allowed_kb &&
				    o->row.noreserve_kb == nr &&
				    o->row.mode2_charge_kb == o->rd.charge_kb + nr &&
				    o->tasks_nr_kb == nr)
					continue;
				ktap_info("%s %s %d%%: charge row %ld tasks %ld smaps %lld; allowed row %ld kernel %lld; noreserve row %ld tasks %ld want %lld; mode2_charge row %ld",
					  sets[si].name, creds[ci], pcts[pi],
					  o->row.charge_kb, o->tasks_charge_kb,
					  o->rd.charge_kb, o->row.allowed_kb,
					  o->rd.allowed_kb, o->row.noreserve_kb,
					  o->tasks_nr_kb, nr,
					  o->row.mode2_charge_kb);
				bad++;
			}
		}
	}
	return !bad;
}

/*
 * The error bound of percpu_counter_read_positive(&vm_committed_as) in
 * mode 2: num_online_cpus * vm_committed_as_batch, the batch being
 * max(totalram pages / present CPUs / 256, 2 * CPUs, 32) pages.  kB.
 */
static long long read_error_kb(void)
{
	long long cpus = sysconf(_SC_NPROCESSORS_CONF);
	long long online = sysconf(_SC_NPROCESSORS_ONLN);
	long long batch = meminfo_kb("MemTotal") / 4 / cpus / 256;

	if (batch < 2 * cpus)
		batch = 2 * cpus;
	if (batch < 32)
		batch = 32;
	return online * batch * 4;
}

/*
 * The series really probes both sides of the boundary, at the wanted
 * demand, and the forks nearest to it are further from it than the error
 * of the kernel's approximate read.
 */
static bool straddles(void)
{
	long long err = read_error_kb(), closest = -1;
	int si, ci, pi, bad = 0;

	for (si = 0; si < NSET; si++) {
		for (ci = 0; ci < NCRED; ci++) {
			for (pi = 0; pi < NPCT; pi++) {
				const struct obs *o = &obs[si][M2][ci][pi];
				const char *want = pcts[pi] < 100 ? "ok" : "ENOMEM";
				long long off = o->rd.demand_pm - pcts[pi] * 10;
				long long head = o->rd.allowed_kb - o->rd.committed_kb;
				long long gap = o->rd.charge_kb - head;
				char buf[16];

				if (gap < 0)
					gap = -gap;
				if (o->done && (closest < 0 || gap < closest))
					closest = gap;
				if (o->done && gap > err && off >= -5 && off <= 5 &&
				    !strcmp(real_of(o, buf, sizeof(buf)), want))
					continue;
				ktap_info("%s %s %d%%: demand %lld per mille, %lld kB from the boundary, real %s (want %s)",
					  sets[si].name, creds[ci], pcts[pi],
					  o->rd.demand_pm, gap,
					  real_of(o, buf, sizeof(buf)), want);
				bad++;
			}
		}
	}
	ktap_info("closest fork to the boundary: %lld kB; approximate read error below %lld kB",
		  closest, err);
	return !bad;
}

int main(void)
{
	bool strict_ok = true;
	int si, ci, pi, all = 1;
	char name[96];

	vfa_require_module();
	if (geteuid() || !has_cap_sys_admin()) {
		printf("TAP version 13\n1..0 # SKIP needs root with CAP_SYS_ADMIN\n");
		return 4;
	}
	orig_mode = vm_sysctl("overcommit_memory");
	orig_ratio = vm_sysctl("overcommit_ratio");
	orig_admin = vm_sysctl("admin_reserve_kbytes");
	orig_user = vm_sysctl("user_reserve_kbytes");
	saved_limit = vfa_param_get("limit_kb");
	saved_admin = vfa_param_get("admin_reserve_kb");
	saved_user = vfa_param_get("user_reserve_kb");
	atexit(restore);
	ktap_plan(NSET * (1 + NCRED * NPCT) + 4);
	start_guard();
	if (guard_fd < 0) {
		ktap_info("cannot start the guard process: no strict runs");
		strict_ok = false;
	}
	if (orig_mode != 0 && vm_sysctl_set("overcommit_memory", 0))
		ktap_info("cannot set vm.overcommit_memory=0");

	for (si = 0; si < NSET; si++) {
		long long committed, limit2 = -1;

		synced[si] = sync_params(si);
		/* Mode 0: nothing fails; the module judges. */
		run_series(si, M0);
		/* Mode 2, only if the guest's own commit leaves it room. */
		committed = meminfo_kb("Committed_AS");
		if (synced[si] && guard_fd >= 0 && committed < limit_kb / 4 &&
		    !vm_sysctl_set("overcommit_memory", 2)) {
			limit2 = meminfo_kb("CommitLimit");
			if (limit2 == limit_kb)
				run_series(si, M2);
			if (vm_sysctl_set("overcommit_memory", 0))
				strict_ok = false;
		}
		if (limit2 != limit_kb) {
			ktap_info("%s: no strict run (committed %lld kB, CommitLimit %lld kB, in mode 2 %lld kB)",
				  sets[si].name, committed, limit_kb, limit2);
			strict_ok = false;
		}
	}
	restore_sysctls();
	stop_guard();
	strict_ok = strict_ok && sysctls_restored();

	for (si = 0; si < NSET; si++) {
		print_table(si);
		snprintf(name, sizeof(name), "groundtruth_%s_params_synced_from_kernel",
			 sets[si].name);
		ktap_test(synced[si], name);
		for (ci = 0; ci < NCRED; ci++) {
			for (pi = 0; pi < NPCT; pi++) {
				snprintf(name, sizeof(name), "groundtruth_%s%s%s_%dpct",
					 si ? sets[si].name : "", si ? "_" : "",
					 creds[ci], pcts[pi]);
				all &= ktap_test(row_matches(si, ci, pi), name);
			}
		}
	}
	ktap_test(all, "groundtruth_every_verdict_equals_reality");
	ktap_test(straddles(), "groundtruth_series_straddles_the_boundary");
	ktap_test(inputs_match(), "groundtruth_model_inputs_equal_kernel_numbers");
	ktap_test(strict_ok, "groundtruth_sysctls_restored");
	return ktap_finish();
}
