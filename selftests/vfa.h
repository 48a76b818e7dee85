/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfa.h: what every vforkacct selftest needs: read the files of /proc/vforkacct,
 * set parameters, reload the module, and read /proc/meminfo.
 */
#ifndef VFA_TEST_H
#define VFA_TEST_H

#include <stdbool.h>
#include <sys/types.h>

#define VFA_PROC	"/proc/vforkacct"
#define VFA_PARAMS	"/sys/module/vforkacct/parameters"

struct vfa_row {
	unsigned long long seq, time_ns;
	int ppid, pid;
	char comm[64];
	char kind[16];
	long charge_kb, committed_kb, allowed_kb;	/* -1 for "-" */
	char verdict[16];
	char outcome[16];
	long long life_us, faults;			/* -1 for "-" */
	char exec_comm[64];
	unsigned int uid;				/* parent's euid */
	unsigned long long cgroup_id;			/* parent's cgroup */
	long noreserve_kb, mode2_charge_kb;		/* -1 for "-" */
};

/* A summary field ("forks", "limit", ...); exits the test if missing. */
long long vfa_summary(const char *key);
/* All rows of forks; *n rows, caller frees.  NULL on error. */
struct vfa_row *vfa_forks(int *n);
/* The row of child pid @pid forked by @ppid, or NULL. */
struct vfa_row *vfa_find(struct vfa_row *rows, int n, int ppid, int pid);
/* Writes @val to @path; 0 or -errno. */
int vfa_write(const char *path, const char *val, size_t len);
int vfa_reset(void);
int vfa_param(const char *name, const char *val);
/* Reads a parameter; -1 on error. */
long long vfa_param_get(const char *name);
/* rmmod, then insmod with @params ("" for defaults); insmod's status. */
int vfa_reload(const char *params);
/* A /proc/meminfo field in kB, or -1. */
long long meminfo_kb(const char *key);
/* Reads a whole file into a malloc'd string; NULL and errno on error. */
char *read_file(const char *path);
/* Exits 4 (KSFT_SKIP) with a KTAP plan of 0 unless the module is loaded. */
void vfa_require_module(void);
/* Forks and waits for a child that does nothing but _exit(0). */
pid_t fork_and_reap(void);
/* The same with vfork(). */
pid_t vfork_and_reap(void);
/* Forks a child that blocks until *@wfd is closed; its pid, or -1. */
pid_t fork_sleeper(int *wfd);
/*
 * Forks @n children that block until the returned fd is closed (-1: no
 * pipe); pids[i] is -1 for a fork that failed.
 */
int fork_sleepers(pid_t *pids, int n);
/* Waits for each of @n children; a pid <= 0 is skipped. */
void reap_all(const pid_t *pids, int n);
/* Maps @mb MiB private writable anonymous memory; touch it if @dirty. */
void *map_private(size_t mb, bool dirty);

/* One line of /proc/vforkacct/tasks. */
struct vfa_task {
	int pid, ppid;
	char comm[64];
	long committed_kb, fork_charge_kb;
	char fork_now[16];
	long noreserve_kb, mode2_committed_kb, mode2_fork_charge_kb;
};

/*
 * All rows of tasks; *n rows, caller frees.  NULL (and the offending line
 * printed) if tasks cannot be read, the header is wrong or any line is
 * malformed.
 */
struct vfa_task *vfa_tasks(int *n);
/* The row of process @pid, or NULL. */
struct vfa_task *vfa_task_find(struct vfa_task *rows, int n, int pid);

/*
 * `key:` of a small /proc file (meminfo, self/status) in kB, or -1.  Reads
 * into a stack buffer: no malloc, so it does not move the caller's heap
 * (and with it VmSize and the commit) between a measurement and a fork.
 */
long long proc_kb(const char *path, const char *key);
/* /proc/sys/vm/@name as a number, or -1; set it: 0 or -errno. */
long long vm_sysctl(const char *name);
int vm_sysctl_set(const char *name, long long val);
/* Clears CAP_SYS_ADMIN from this thread's effective set; 0 or -errno. */
int drop_cap_sys_admin(void);
/* Whether CAP_SYS_ADMIN is in this thread's effective set. */
bool has_cap_sys_admin(void);
/*
 * What a fork of this process would be charged now, in kB, from the
 * kernel's own /proc/self/smaps: the VMAs with VmFlags "ac" (VM_ACCOUNT)
 * and without "dc" (VM_DONTCOPY).  No malloc (a static buffer); -1 on error.
 */
long long smaps_fork_charge_kb(void);

/*
 * A static do-nothing program copied to tmpfs: exec it instead of
 * /bin/true wherever a test execs often.  Exits the test if missing.
 */
const char *tiny_true(void);

/* Whether @prog is an executable in $PATH. */
bool find_in_path(const char *prog);

/* Up to @max_lines lines of @path, as KTAP comments. */
void print_file(const char *path, int max_lines);

/*
 * Runs bpftrace with @argv (argv[0] "bpftrace", NULL-terminated), its
 * stdout and stderr to the file @out; it dies with this test.  Its pid,
 * or -1.
 */
pid_t bpftrace_start(const char *out, char *const argv[]);

/* bpftrace takes 5-30 s to attach under TCG. */
#define BPFTRACE_READY_S	150
/*
 * How long bpftrace may take to exit after SIGINT: 0-4 s on an idle host,
 * but over 60 s once on 6.12-rt under TCG beside another guest (a missed
 * SIGINT, see bpftrace_stop(), noticed at its next event, fits).
 */
#define BPFTRACE_STOP_S		240
/* When to say SIGINT again to a bpftrace that missed it (bpftrace_stop). */
#define BPFTRACE_RESEND_S	5

/*
 * Waits up to BPFTRACE_READY_S for @ready (the end of the program's ready
 * line) in @out, the output of bpftrace @bt, which @what names in the
 * KTAP comments; false if bpftrace died first (its output is printed) or
 * took too long.
 */
bool bpftrace_wait_ready(pid_t bt, const char *out, const char *ready,
			 const char *what);

/*
 * SIGINT (bpftrace prints its maps), then wait, saying how long it took;
 * SIGINT again while it still polls as if it never had it (it can miss
 * one); SIGKILL after BPFTRACE_STOP_S.
 */
void bpftrace_stop(pid_t bt);

#endif
