// SPDX-License-Identifier: GPL-2.0
/*
 * attribution: each fork record names who forked: the parent's effective
 * uid and its cgroup v2 id, which must equal the inode number of the
 * parent's cgroup directory (what cgroup2 and bpf show).  The summary
 * gives the wall-clock time of load and of the last reset.
 *
 * Forks from two cgroups made for the test, and as root and as nobody;
 * rows are matched on the children's pids.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

#define CG_ROOT "/sys/fs/cgroup"
#define NOBODY 65534

/* Mounts cgroup2 at CG_ROOT unless something is mounted there. */
static bool have_cgroup2(void)
{
	struct stat st;

	if (!stat(CG_ROOT "/cgroup.procs", &st))
		return true;
	if (mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL))
		return false;
	return !stat(CG_ROOT "/cgroup.procs", &st);
}

/*
 * Forks a child that moves itself into cgroup @dir (NULL: stays), drops
 * to @uid, forks a grandchild that exits, and reports its pid back
 * through a pipe.  Returns (child pid, grandchild pid) via @ppid/@pid.
 */
static bool fork_from(const char *dir, uid_t uid, pid_t *ppid, pid_t *pid)
{
	int fd[2], st;
	pid_t c;

	if (pipe(fd))
		return false;
	c = fork();
	if (c < 0)
		return false;
	if (c == 0) {
		char path[256], me[32];
		pid_t g;

		close(fd[0]);
		if (dir) {
			snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
			snprintf(me, sizeof(me), "%d\n", getpid());
			if (vfa_write(path, me, strlen(me)))
				_exit(2);
		}
		if (uid && (setgid(NOBODY) || setuid(uid)))
			_exit(3);
		g = fork();
		if (g == 0)
			_exit(0);
		if (g < 0 || write(fd[1], &g, sizeof(g)) != sizeof(g))
			_exit(4);
		waitpid(g, NULL, 0);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], pid, sizeof(*pid)) != sizeof(*pid))
		*pid = -1;
	close(fd[0]);
	waitpid(c, &st, 0);
	*ppid = c;
	return *pid > 0 && WIFEXITED(st) && !WEXITSTATUS(st);
}

static struct vfa_row *row_of(pid_t ppid, pid_t pid, struct vfa_row **rows)
{
	int n;

	*rows = vfa_forks(&n);
	return *rows ? vfa_find(*rows, n, ppid, pid) : NULL;
}

static void check_cgroups(void)
{
	static const char * const dirs[] = { CG_ROOT "/vfa-test-a", CG_ROOT "/vfa-test-b" };
	unsigned long long ino[2];
	struct vfa_row *rows, *r;
	pid_t ppid, pid;
	struct stat st;
	int i;

	for (i = 0; i < 2; i++) {
		char name[64];
		bool ok;

		snprintf(name, sizeof(name), "fork_in_cgroup_%c_records_its_id", 'a' + i);
		if ((mkdir(dirs[i], 0755) && errno != EEXIST) || stat(dirs[i], &st)) {
			ktap_test(false, name);
			continue;
		}
		ino[i] = st.st_ino;
		ok = fork_from(dirs[i], 0, &ppid, &pid);
		r = ok ? row_of(ppid, pid, &rows) : NULL;
		if (r)
			ktap_info("%s: inode %llu, record cgroup_id %llu", dirs[i],
				  ino[i], r->cgroup_id);
		ktap_test(r && r->cgroup_id == ino[i], name);
		if (ok)
			free(rows);
	}
	ktap_test(ino[0] != ino[1], "two_cgroups_have_two_ids");
	for (i = 0; i < 2; i++)
		rmdir(dirs[i]);
}

static void check_uids(void)
{
	struct vfa_row *rows, *r;
	pid_t ppid, pid;
	bool ok;

	ok = fork_from(NULL, 0, &ppid, &pid);
	r = ok ? row_of(ppid, pid, &rows) : NULL;
	ktap_test(r && r->uid == 0, "fork_by_root_records_uid_0");
	if (ok)
		free(rows);

	ok = fork_from(NULL, NOBODY, &ppid, &pid);
	r = ok ? row_of(ppid, pid, &rows) : NULL;
	if (r)
		ktap_info("fork by nobody: record uid %u", r->uid);
	ktap_test(r && r->uid == NOBODY, "fork_by_nobody_records_uid_65534");
	if (ok)
		free(rows);
}

#define TRACING "/sys/kernel/tracing"
#define EV TRACING "/events/vforkacct/vforkacct_fork/enable"

/* The vforkacct_fork trace event carries the same uid and cgroup_id. */
static void check_trace_event(void)
{
	char want[128], *buf, *line;
	struct vfa_row *rows, *r;
	pid_t ppid, pid;
	bool ok, seen = false;

	if (vfa_write(EV, "1", 1)) {
		ktap_skip("trace_event_carries_uid_and_cgroup_id",
			  "no tracefs at " TRACING);
		return;
	}
	ok = fork_from(NULL, NOBODY, &ppid, &pid);
	vfa_write(EV, "0", 1);
	r = ok ? row_of(ppid, pid, &rows) : NULL;
	buf = read_file(TRACING "/trace");
	if (r && buf) {
		snprintf(want, sizeof(want), "ppid=%d pid=%d ", ppid, pid);
		for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
			char tail[96];

			if (!strstr(line, want))
				continue;
			snprintf(tail, sizeof(tail), " uid=%u cgroup_id=%llu",
				 r->uid, r->cgroup_id);
			ktap_info("event: %s", strstr(line, "vforkacct_fork"));
			seen = strstr(line, tail) != NULL;
		}
	}
	ktap_test(seen, "trace_event_carries_uid_and_cgroup_id");
	free(buf);
	if (ok)
		free(rows);
}

static void check_times(void)
{
	long long now, load = vfa_summary("load_time"), reset;

	now = time(NULL);
	ktap_info("load_time %lld, now %lld", load, now);
	/* Loaded by the runner just before this test started. */
	ktap_test(load <= now && load > now - 600, "load_time_is_the_load");
	ktap_test(vfa_summary("reset_time") == load,
		  "reset_time_is_load_time_before_any_reset");
	sleep(2);
	vfa_reset();
	reset = vfa_summary("reset_time");
	ktap_test(reset >= load + 2 && reset <= time(NULL),
		  "reset_time_moves_on_reset");
	ktap_test(vfa_summary("load_time") == load,
		  "load_time_stays_on_reset");
}

int main(void)
{
	vfa_require_module();
	ktap_plan(10);
	check_uids();
	check_trace_event();
	if (have_cgroup2()) {
		check_cgroups();
	} else {
		ktap_skip("fork_in_cgroup_a_records_its_id", "cannot mount cgroup2 at " CG_ROOT);
		ktap_skip("fork_in_cgroup_b_records_its_id", "cannot mount cgroup2 at " CG_ROOT);
		ktap_skip("two_cgroups_have_two_ids", "cannot mount cgroup2 at " CG_ROOT);
	}
	check_times();
	return ktap_finish();
}
