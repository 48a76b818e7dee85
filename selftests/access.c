// SPDX-License-Identifier: GPL-2.0
/*
 * access: forks, tasks and control open only with CAP_PERFMON or
 * CAP_SYS_ADMIN in the initial user namespace, whatever the mode bits
 * allow (root in a new user namespace passes them); a reader in a child
 * pid namespace sees only its namespace's forks and processes, with its
 * own pids, and cannot reset; summary stays open to all; the initial
 * namespace sees everything, numbered as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "vfa.h"

static const char * const priv_files[] = { "forks", "tasks", "control" };

/* open()'s errno for /proc/vforkacct/@name (0: it opened). */
static int open_errno(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), VFA_PROC "/%s", name);
	fd = open(path, strcmp(name, "control") ? O_RDONLY : O_WRONLY);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* Bit i set when priv_files[i] opened, bit 3 when summary did. */
static int open_mask(void)
{
	int i, mask = 0;

	for (i = 0; i < 3; i++)
		if (!open_errno(priv_files[i]))
			mask |= 1 << i;
	if (!open_errno("summary"))
		mask |= 8;
	return mask;
}

/* Runs @fn in a child; its exit status, or -1. */
static int in_child(int (*fn)(void))
{
	int st;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn() & 0xff);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static int write_str(const char *path, const char *s)
{
	return vfa_write(path, s, strlen(s));
}

/* Root of a new user namespace, mapped to uid 0 as `unshare -U -r` does. */
static int as_userns_root(void)
{
	if (unshare(CLONE_NEWUSER))
		return errno == EINVAL ? 0x20 : 0x80;	/* 0x20: no CONFIG_USER_NS */
	if (write_str("/proc/self/setgroups", "deny") ||
	    write_str("/proc/self/uid_map", "0 0 1") ||
	    write_str("/proc/self/gid_map", "0 0 1"))
		return 0x80;
	return open_mask();
}

/* Removes @caps from the effective set; 0 or -1. */
static int drop_caps(const int *caps, int n)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	int i;

	if (syscall(SYS_capget, &h, d))
		return -1;
	for (i = 0; i < n; i++)
		d[CAP_TO_INDEX(caps[i])].effective &= ~CAP_TO_MASK(caps[i]);
	return syscall(SYS_capset, &h, d) ? -1 : 0;
}

static int without_sys_admin(void)
{
	static const int c[] = { CAP_SYS_ADMIN };

	return drop_caps(c, 1) ? 0x80 : open_mask();
}

static int without_both(void)
{
	static const int c[] = { CAP_SYS_ADMIN, CAP_PERFMON };

	return drop_caps(c, 2) ? 0x80 : open_mask();
}

static void check_caps(void)
{
	int m;

	m = in_child(as_userns_root);
	ktap_info("root of a new user namespace: open mask %#x (want 0x8; 0x80: no user namespace)", m);
	if (m == 0x20)
		ktap_skip("userns_root_refused_forks_tasks_control",
			  "kernel without user namespaces (CONFIG_USER_NS)");
	else
		ktap_test(m == 8, "userns_root_refused_forks_tasks_control");
	m = in_child(without_sys_admin);
	ktap_info("CAP_PERFMON without CAP_SYS_ADMIN: open mask %#x (want 0xf)", m);
	ktap_test(m == 0xf, "cap_perfmon_alone_opens_everything");
	m = in_child(without_both);
	ktap_info("root without CAP_SYS_ADMIN and CAP_PERFMON: open mask %#x (want 0x8)", m);
	ktap_test(m == 8, "root_without_caps_refused_despite_mode_bits");
	ktap_test(open_mask() == 0xf, "initial_namespace_root_opens_everything");
}

#define KIDS 3

/*
 * The init (pid 1) of a new pid namespace: forks KIDS children, then
 * checks what forks and tasks show it.  Exit bits: 1 a row that is not
 * one of its children, 2 a child missing, 4 tasks shows other than
 * itself, 8 reset was not refused, 16 setup failed.
 */
static int ns_init(void)
{
	struct vfa_task *tasks;
	struct vfa_row *rows;
	pid_t kids[KIDS];
	int i, j, n, found = 0, bad = 0;

	for (i = 0; i < KIDS; i++) {
		kids[i] = fork_and_reap();
		if (kids[i] <= 0)
			return 16;
	}
	rows = vfa_forks(&n);
	if (!rows)
		return 16;
	for (i = 0; i < n; i++) {
		bool mine = rows[i].ppid == 1;

		for (j = 0; mine && j < KIDS; j++)
			if (rows[i].pid == kids[j])
				break;
		if (!mine || j == KIDS) {
			printf("# in the namespace: foreign row ppid %d pid %d\n",
			       rows[i].ppid, rows[i].pid);
			bad |= 1;
		} else {
			found++;
		}
	}
	if (found != KIDS)
		bad |= 2;
	tasks = vfa_tasks(&n);
	if (!tasks || n != 1 || tasks[0].pid != 1)
		bad |= 4;
	if (write_str(VFA_PROC "/control", "reset") != -EPERM)
		bad |= 8;
	return bad;
}

static void check_pid_namespace(void)
{
	struct vfa_row *rows;
	int st, n, i, host_rows = 0;
	pid_t init;

	/* A fork of the initial namespace, which the namespace must not see. */
	fork_and_reap();
	if (unshare(CLONE_NEWPID)) {
		ktap_skip("pid_namespace_sees_only_its_own_forks",
			  "unshare(CLONE_NEWPID) failed");
		ktap_skip("pid_namespace_sees_only_itself_in_tasks", "no namespace");
		ktap_skip("pid_namespace_cannot_reset", "no namespace");
		ktap_skip("initial_namespace_sees_namespace_forks_with_global_pids",
			  "no namespace");
		return;
	}
	init = fork();
	if (init == 0)
		_exit(ns_init());
	if (init < 0 || waitpid(init, &st, 0) != init || !WIFEXITED(st))
		st = 16 << 8;
	st = WEXITSTATUS(st);
	ktap_info("namespace init %d: status %#x", init, st);
	ktap_test(init > 0 && !(st & (1 | 2 | 16)),
		  "pid_namespace_sees_only_its_own_forks");
	ktap_test(init > 0 && !(st & (4 | 16)),
		  "pid_namespace_sees_only_itself_in_tasks");
	ktap_test(init > 0 && !(st & (8 | 16)), "pid_namespace_cannot_reset");

	rows = vfa_forks(&n);
	for (i = 0; rows && i < n; i++)
		host_rows += rows[i].ppid == init && rows[i].pid > KIDS + 1;
	ktap_info("initial namespace: %d rows forked by %d", host_rows, init);
	ktap_test(host_rows == KIDS,
		  "initial_namespace_sees_namespace_forks_with_global_pids");
	free(rows);
}

int main(void)
{
	vfa_require_module();
	ktap_plan(8);
	check_caps();
	check_pid_namespace();
	return ktap_finish();
}
