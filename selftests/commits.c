// SPDX-License-Identifier: GPL-2.0
/*
 * commits: what strict mode does beyond the forks it lets through.
 *
 * The guest's CommitLimit is set with vm.overcommit_kbytes to its commit
 * plus HEAD_MB, and the module is synced to it.  Then:
 *  - in mode 0, a private writable map of SMALL_MB (mode 2 accepts it)
 *    leaves commits_would_fail alone and min_safe_limit_all within the
 *    limit; one of BIG_MB (mode 2 refuses it) adds one to
 *    commits_would_fail, lifts min_safe_limit_all above the limit, and
 *    the program shows in /proc/vforkacct/programs;
 *  - the same two maps replayed in mode 2: the kernel agrees;
 *  - in mode 2, a process holding HOLD_MB forks NFORK times: every fork
 *    fails with ENOMEM, and each is exactly one "refused" row (no pid,
 *    the model's verdict "fail", its time_ns taken while the holder
 *    forked), one count of refused, one trace event, and none in forks;
 *  - in mode 0, MAP_NORESERVE memory shows in summary's noreserve;
 *  - the walk of a forking parent's VMAs (at its first request; this
 *    process is walked, for it mapped MAP_NORESERVE memory) runs with
 *    preemption enabled: walk_atomic stays put over NWALK forks, which
 *    noreserve_walks counts; so does a
 *    vfork's sum of the system commit (at kernel_clone()), and walk_ns
 *    grows over NWALK vforks (it grows only when that sum ran there).
 * A guard process restores the sysctls however this program ends.
 */
#include <errno.h>
#include <signal.h>
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

#define HEAD_MB		320
#define SMALL_MB	1
#define BIG_MB		640
#define HOLD_MB		200
#define NFORK		3
#define NR_MB		96
#define NWALK		20
#define COMM		"vfa-commits"
#define TRACE		"/sys/kernel/tracing"

static long long orig_mode = -1, orig_ratio = -1, saved_limit = -1;
static int guard_fd = -1;

/* The boot clock, the module's time_ns clock. */
static unsigned long long boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void restore(void)
{
	char s[32];

	if (orig_mode >= 0)
		vm_sysctl_set("overcommit_memory", orig_mode);
	/* Writing the ratio also sets overcommit_kbytes back to 0. */
	if (orig_ratio >= 0)
		vm_sysctl_set("overcommit_ratio", orig_ratio);
	if (saved_limit >= 0) {
		snprintf(s, sizeof(s), "%lld", saved_limit);
		vfa_param("limit_kb", s);
	}
}

static void start_guard(void)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		signal(SIGTERM, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		while (read(p[0], &c, 1) > 0)
			;
		restore();
		_exit(0);
	}
	close(p[0]);
	if (pid > 0)
		guard_fd = p[1];
	else
		close(p[1]);
}

/* CommitLimit := commit + HEAD_MB; the module judges against it. */
static bool set_limit(void)
{
	long long want = meminfo_kb("Committed_AS") + (HEAD_MB << 10);
	char s[32];

	if (vm_sysctl_set("overcommit_kbytes", want) ||
	    meminfo_kb("CommitLimit") != want)
		return false;
	snprintf(s, sizeof(s), "%lld", want);
	if (vfa_param("limit_kb", s))
		return false;
	snprintf(s, sizeof(s), "%lld", vm_sysctl("admin_reserve_kbytes"));
	if (vfa_param("admin_reserve_kb", s))
		return false;
	snprintf(s, sizeof(s), "%lld", vm_sysctl("user_reserve_kbytes"));
	return !vfa_param("user_reserve_kb", s);
}

/* Maps @mb private writable MB in a child: 0, or its errno. */
static int map_in_child(size_t mb)
{
	int st = 0;
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_NAME, COMM);
		_exit(mmap(NULL, mb << 20, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ?
		      errno : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/*
 * Our program's would_fail count and largest request, from programs; in
 * @others_wf, the would_fail count of every other program.
 */
static long long program_row(long long *largest_kb, long long *others_wf)
{
	char *s = read_file(VFA_PROC "/programs"), *line, *save = NULL;
	long long count = 0, n, l;
	char comm[64];
	unsigned int uid;

	*largest_kb = 0;
	*others_wf = 0;
	if (!s)
		return -1;
	line = strtok_r(s, "\n", &save);
	if (!line || strcmp(line, "comm uid would_fail largest_kB min_safe_kB"))
		count = -1;
	while (count >= 0 && (line = strtok_r(NULL, "\n", &save))) {
		if (sscanf(line, "%63s %u %lld %lld", comm, &uid, &n, &l) != 4) {
			count = -1;
			break;
		}
		if (!strcmp(comm, COMM) && uid == 0) {
			count += n;
			if (l > *largest_kb)
				*largest_kb = l;
		} else {
			*others_wf += n;
		}
	}
	free(s);
	return count;
}

static int trace_refused(pid_t ppid)
{
	char *s = read_file(TRACE "/trace"), *p, want[64];
	int n = 0;

	if (!s)
		return -1;
	snprintf(want, sizeof(want), "ppid=%d pid=0 ", ppid);
	for (p = s; (p = strstr(p, want)); p++)
		if (strstr(p, "outcome=refused") < strchr(p, '\n'))
			n++;
	free(s);
	return n;
}

/* A holder of HOLD_MB that forks NFORK times; how many got ENOMEM. */
static int refused_forks(pid_t *holder)
{
	int up[2], st = 0, n = 0;
	pid_t pid;

	if (pipe(up))
		return -1;
	pid = fork();
	if (pid == 0) {
		int i, enomem = 0;

		close(up[0]);
		if (mmap(NULL, (size_t)HOLD_MB << 20, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
			_exit(100);
		for (i = 0; i < NFORK; i++) {
			pid_t c = fork();

			if (c == 0)
				_exit(0);
			if (c > 0)
				waitpid(c, NULL, 0);
			else if (errno == ENOMEM)
				enomem++;
		}
		if (write(up[1], &enomem, sizeof(enomem)) != sizeof(enomem))
			_exit(101);
		_exit(0);
	}
	close(up[1]);
	*holder = pid;
	if (pid < 0 || read(up[0], &n, sizeof(n)) != sizeof(n))
		n = -1;
	close(up[0]);
	if (pid > 0)
		waitpid(pid, &st, 0);
	return n;
}

int main(void)
{
	long long limit, wf0, wf1, wf2, all1, all2, cm0, cm2, largest = 0;
	long long refused0 = 0, forks0 = 0, nr0, nr1, prog, wa0, wa1, wn0, wn1;
	long long nw0, nw1, others = 0;
	int small0, big0, small2, big2, enomem, rows = 0, agree = 0, n, i;
	unsigned long long t0 = 0, t1 = 0;
	int timed = 0;
	struct vfa_row *r;
	pid_t holder = -1;
	bool limit_ok, mode2 = false, traced;
	void *nr;

	vfa_require_module();
	if (geteuid() || !has_cap_sys_admin()) {
		printf("TAP version 13\n1..0 # SKIP needs root with CAP_SYS_ADMIN\n");
		return 4;
	}
	ktap_plan(14);
	orig_mode = vm_sysctl("overcommit_memory");
	orig_ratio = vm_sysctl("overcommit_ratio");
	saved_limit = vfa_param_get("limit_kb");
	atexit(restore);
	start_guard();
	if (orig_mode != 0)
		vm_sysctl_set("overcommit_memory", 0);

	limit_ok = guard_fd >= 0 && set_limit();
	limit = vfa_summary("limit");
	ktap_info("limit %lld kB (commit + %d MB), committed %lld kB",
		  limit, HEAD_MB, vfa_summary("committed"));

	/* Mode 0: the model judges two maps nobody refuses here. */
	vfa_reset();
	cm0 = vfa_summary("commits");
	wf0 = vfa_summary("commits_would_fail");
	small0 = map_in_child(SMALL_MB);
	wf1 = vfa_summary("commits_would_fail");
	all1 = vfa_summary("min_safe_limit_all");
	big0 = map_in_child(BIG_MB);
	wf2 = vfa_summary("commits_would_fail");
	all2 = vfa_summary("min_safe_limit_all");
	cm2 = vfa_summary("commits");
	prog = program_row(&largest, &others);
	ktap_info("mode 0: map %d MB -> %d, %d MB -> %d; commits %lld -> %lld; would_fail %lld -> %lld -> %lld; min_safe_limit_all %lld -> %lld kB; programs: %s would_fail %lld largest %lld kB, others would_fail %lld",
		  SMALL_MB, small0, BIG_MB, big0, cm0, cm2, wf0, wf1, wf2,
		  all1, all2, COMM, prog, largest, others);
	ktap_test(limit_ok && !small0 && cm2 >= cm0 + 2,
		  "commits_counts_each_request_judged");
	ktap_test(limit_ok && !small0 && wf1 == wf0 && all1 <= limit &&
		  all1 >= vfa_summary("min_safe_limit"),
		  "commit_mode2_accepts_leaves_would_fail_and_stays_within_limit");
	/*
	 * While the big map is held, any other process's request is above
	 * the limit too (the guest's own daemons, rarely): mode 2 would
	 * refuse it as well, so it counts.  Ours must count exactly once.
	 */
	ktap_test(limit_ok && !big0 && prog == 1 && wf2 >= wf1 + 1 &&
		  all2 > limit &&
		  all2 >= limit + ((BIG_MB - HEAD_MB) << 10),
		  "commit_mode2_refuses_counts_would_fail_and_raises_min_safe_limit_all");
	ktap_test(prog == 1 && largest == BIG_MB << 10,
		  "programs_names_the_program_whose_request_would_fail");

	/* The same two maps, and a holder's forks, in real strict mode. */
	small2 = big2 = enomem = -1;
	if (limit_ok && !vm_sysctl_set("overcommit_memory", 2)) {
		mode2 = true;
		small2 = map_in_child(SMALL_MB);
		big2 = map_in_child(BIG_MB);
		vfa_reset();
		refused0 = vfa_summary("refused");
		forks0 = vfa_summary("forks");
		vfa_write(TRACE "/events/vforkacct/vforkacct_fork/enable", "1", 1);
		t0 = boottime_ns();
		enomem = refused_forks(&holder);
		t1 = boottime_ns();
		vfa_write(TRACE "/events/vforkacct/vforkacct_fork/enable", "0", 1);
		vm_sysctl_set("overcommit_memory", 0);
	}
	ktap_info("mode 2: map %d MB -> %s, %d MB -> %s", SMALL_MB,
		  small2 ? strerror(small2) : "ok", BIG_MB,
		  big2 ? strerror(big2) : "ok");
	ktap_test(mode2 && small2 == 0 && big2 == ENOMEM,
		  "commit_verdicts_equal_real_strict_mode");

	r = vfa_forks(&n);
	for (i = 0; r && i < n; i++) {
		if (r[i].ppid != holder)
			continue;
		if (r[i].pid == -1 && !strcmp(r[i].outcome, "refused")) {
			rows++;
			agree += !strcmp(r[i].verdict, "fail") &&
				 !strcmp(r[i].kind, "fork") &&
				 r[i].charge_kb >= HOLD_MB << 10;
			timed += r[i].time_ns >= t0 && r[i].time_ns <= t1;
			ktap_info("refused row: seq %llu time_ns %llu charge %ld kB committed %ld kB allowed %ld kB verdict %s",
				  r[i].seq, r[i].time_ns, r[i].charge_kb,
				  r[i].committed_kb, r[i].allowed_kb,
				  r[i].verdict);
		}
	}
	free(r);
	traced = mode2 && trace_refused(holder) == NFORK;
	ktap_info("holder %d: %d of %d forks ENOMEM; refused %lld; rows %d (%d with verdict fail); forks %lld -> %lld",
		  holder, enomem, NFORK, vfa_summary("refused") - refused0,
		  rows, agree, forks0, vfa_summary("forks"));
	ktap_test(mode2 && enomem == NFORK && rows == NFORK &&
		  vfa_summary("refused") - refused0 == NFORK,
		  "each_enomem_fork_is_one_refused_row_and_count");
	ktap_test(mode2 && agree == NFORK,
		  "refused_rows_carry_the_tried_charge_and_model_verdict_fail");
	ktap_info("forks tried from %llu to %llu ns (boot clock): %d of %d rows in between",
		  t0, t1, timed, rows);
	ktap_test(mode2 && rows == NFORK && timed == NFORK,
		  "refused_rows_time_ns_is_while_the_holder_forked");
	/* The one fork that happened: the holder's own. */
	ktap_test(mode2 && vfa_summary("forks") == forks0 + 1,
		  "refused_forks_are_not_counted_in_forks");
	ktap_test(traced, "refused_fork_fires_the_fork_trace_event");
	restore();

	/* MAP_NORESERVE memory: in summary within the second. */
	nr0 = vfa_summary("noreserve");
	nr = mmap(NULL, (size_t)NR_MB << 20, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	sleep(2);
	nr1 = vfa_summary("noreserve");
	ktap_info("noreserve %lld -> %lld kB with %d MB mapped", nr0, nr1, NR_MB);
	ktap_test(nr != MAP_FAILED && nr1 - nr0 == NR_MB << 10,
		  "summary_noreserve_counts_map_noreserve_memory");
	if (nr != MAP_FAILED)
		munmap(nr, (size_t)NR_MB << 20);
	/*
	 * Each fork of ours asks for commit: its walk runs at the first, for
	 * this process has held MAP_NORESERVE memory (the module does not
	 * forget that before the process goes).
	 */
	wa0 = vfa_summary("walk_atomic");
	wn0 = vfa_summary("walk_ns");
	nw0 = vfa_summary("noreserve_walks");
	for (i = 0; i < NWALK; i++)
		fork_and_reap();
	wa1 = vfa_summary("walk_atomic");
	wn1 = vfa_summary("walk_ns");
	nw1 = vfa_summary("noreserve_walks");
	ktap_info("%d forks: walk_atomic %lld -> %lld, walk_ns %lld -> %lld, noreserve_walks %lld -> %lld",
		  NWALK, wa0, wa1, wn0, wn1, nw0, nw1);
	ktap_test(wa0 >= 0 && wa1 == wa0 && wn1 > wn0 && nw1 - nw0 == NWALK,
		  "fork_walk_runs_with_preemption_enabled");
	/* A vfork's sum, at its kernel_clone(): walk_ns grows only there. */
	wa0 = wa1;
	wn0 = wn1;
	for (i = 0; i < NWALK; i++)
		vfork_and_reap();
	wa1 = vfa_summary("walk_atomic");
	wn1 = vfa_summary("walk_ns");
	ktap_info("%d vforks: walk_atomic %lld -> %lld, walk_ns %lld -> %lld",
		  NWALK, wa0, wa1, wn0, wn1);
	ktap_test(wa1 == wa0 && wn1 > wn0,
		  "vfork_commit_sum_runs_at_kernel_clone_with_preemption_enabled");
	ktap_test(vm_sysctl("overcommit_memory") == orig_mode &&
		  vm_sysctl("overcommit_ratio") == orig_ratio &&
		  vm_sysctl("overcommit_kbytes") == 0,
		  "commits_sysctls_restored");
	return ktap_finish();
}
