/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vforkacct: declarations shared by the module's files.
 *
 * One file per concern: hooks.c (tracepoint probes), charge.c (what a fork
 * is charged), model.c (the strict-overcommit verdict and its parameters),
 * ledger.c (counters, the fork log ring and child tracking), commit.c
 * (every commit request, refused forks), noreserve.c (which processes may
 * hold MAP_NORESERVE memory), procfs.c (/proc/vforkacct/),
 * trace.c (trace events) and main.c (load, unload).
 */
#ifndef VFORKACCT_H
#define VFORKACCT_H

#include <linux/types.h>
#include <linux/highuid.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/time64.h>
#include <linux/uidgid.h>
#include <linux/sched/clock.h>

#include "compat.h"

struct mm_struct;
struct pid;
struct pid_namespace;
struct cred;

enum vfa_kind { VFA_FORK, VFA_VFORK, VFA_VMCLONE };
enum vfa_verdict { VFA_OK, VFA_FAIL, VFA_UNKNOWN };
enum vfa_outcome { VFA_RUNNING, VFA_EXEC, VFA_EXIT, VFA_REFUSED };

/* One line of /proc/vforkacct/forks. */
struct vfa_record {
	u64 seq;
	u64 time_ns;		/* boot-time clock at the fork */
	u64 life_us;		/* fork to exec/exit, once known */
	u64 faults;		/* child's min+maj faults at exec/exit */
	long charge_kb;		/* -1: unknown (see enum vfa_miss) */
	long committed_kb;	/* system commit before this fork's charge */
	long allowed_kb;	/* the model's threshold for this fork */
	long noreserve_kb;	/* MAP_NORESERVE memory mode 2 would charge */
	u64 cgroup_id;		/* the parent's cgroup v2 id, 0: unknown */
	u32 uid;		/* the parent's euid, initial user namespace */
	/* The parent's pid namespace, when not the initial one, and */
	u32 ns_inum;		/* ... its inode number (0: initial) */
	u64 ns_birth;		/* ... its init's start time: tells reuse */
	pid_t ns_ppid;		/* ... the pids as it numbers them */
	pid_t ns_pid;
	pid_t ppid;
	pid_t pid;
	u8 kind;
	u8 verdict;
	u8 outcome;
	char comm[TASK_COMM_LEN];
	char exec_comm[TASK_COMM_LEN];
};

/*
 * A followed clone from task_newtask until its parent's task_work writes
 * its record (ledger.c).  A child that execs or exits before that leaves
 * its outcome here.
 */
struct vfa_pending {
	struct pid *pid;	/* the child's, held until the record */
	pid_t tgid;
	u64 start_time;
	u64 fork_ns;
	u8 kind;
	bool tracked;		/* in the tracking table, waiting for it */
	bool ended;		/* it exec'd or exited first: */
	u8 outcome;
	u64 life_us;
	u64 faults;
	char exec_comm[TASK_COMM_LEN];
};

/* The counters of /proc/vforkacct/summary; see INTERFACE.md. */
struct vfa_counters {
	u64 forks;
	u64 vforks;
	u64 vm_clones;
	u64 threads;
	u64 would_fail;
	u64 would_fail_exec;
	u64 would_fail_exit;
	u64 exec_after_fork;
	u64 exit_without_exec;
	u64 charged_kb;
	u64 min_safe_limit_kb;
	u64 logged;
	u64 untracked;
	u64 refused;
	u64 lock_misses;
	u64 walk_misses;
	/* Per CPU in vfa_ticks(), in ns once summed (vfa_ledger_counters()). */
	u64 probe_ns;
	u64 probe_max_ns;
	u64 walk_ns;		/* preemptible work per fork (see README) */
	u64 noreserve_walks;	/* forks whose parent's VMAs were walked */
};

/* charge.c */
struct vfa_charge {
	unsigned long acct_pages;	/* VM_ACCOUNT pages: the mm's commit */
	unsigned long fork_pages;	/* ... a fork would copy and charge */
	/* MAP_NORESERVE memory that mode 2 would have accounted: */
	unsigned long noreserve_pages;		/* all of it */
	unsigned long noreserve_fork_pages;	/* ... that a fork copies */
};

void vfa_charge_walk(struct mm_struct *mm, struct vfa_charge *c);
bool vfa_charge_has_noreserve(struct mm_struct *mm);

/* noreserve.c */
void vfa_noreserve_init(void);
void vfa_noreserve_exit(void);
void vfa_noreserve_scan(void);
void vfa_noreserve_add(struct mm_struct *mm);
void vfa_noreserve_gone(struct mm_struct *mm);
bool vfa_noreserve_maybe(const struct mm_struct *mm);
long vfa_noreserve_mms(void);

/* model.c */
struct vfa_judgement {
	long committed_kb;	/* commit before the charge */
	long allowed_kb;
	long min_limit_kb;	/* smallest limit that lets this fork through */
	u8 verdict;
};

bool vfa_has_sys_admin(const struct cred *cred);

/*
 * from_kuid_munged(&init_user_ns, @uid) without its walk of the map: the
 * initial namespace maps every valid id to itself.
 */
static inline uid_t vfa_uid(kuid_t uid)
{
	return uid_valid(uid) ? __kuid_val(uid) : overflowuid;
}

void vfa_judge(bool sys_admin, unsigned long parent_total_vm,
	       unsigned long charge_pages, unsigned long committed_pages,
	       struct vfa_judgement *j);
long vfa_limit_kb(bool *estimated);
unsigned long vfa_admin_reserve_kb(void);
unsigned long vfa_user_reserve_kb(void);

/* ledger.c */
/*
 * The clock of the module's own time (probe_ns, probe_max_ns, walk_ns):
 * the CPU's counter where it has one of known rate (compat.h), a few
 * instructions a read against about forty for the boot clock; else
 * local_clock().  In ticks, converted to ns when read.
 */
extern bool vfa_ticks_hw;

static __always_inline u64 vfa_ticks(void)
{
	return likely(vfa_ticks_hw) ? vfa_counter_read() : local_clock();
}

/* Ticks since @start, 0 if the task moved to a CPU whose count is behind. */
static __always_inline u64 vfa_ticks_since(u64 start)
{
	s64 d = vfa_ticks() - start;

	return d > 0 ? d : 0;
}

int vfa_ledger_init(void);
void vfa_ledger_exit(void);
unsigned int vfa_log_size(void);
/* A load-time count parameter, VFA_LOG_MIN..VFA_LOG_MAX. */
extern const struct kernel_param_ops vfa_size_ops;
void vfa_ledger_thread(u64 probe_start);
/* Why a fork's charge is unknown (charge -1, verdict unknown). */
enum vfa_miss { VFA_MISS_NONE, VFA_MISS_LOCK, VFA_MISS_WALK };
struct vfa_fork_result;
void vfa_ledger_fork(struct vfa_record *rec, struct task_struct *child,
		     u64 min_limit_kb, u64 probe_start,
		     const struct vfa_fork_result *fr, enum vfa_miss miss);
void vfa_ledger_follow(struct task_struct *child, struct vfa_pending *p,
		       u64 probe_start);
bool vfa_ledger_pending(struct vfa_record *rec, struct vfa_pending *p,
			u64 min_limit_kb, u64 work_start,
			const struct vfa_fork_result *fr, struct vfa_record *out);
bool vfa_ledger_outcome(struct task_struct *p, u8 outcome,
			struct vfa_record *rec);
void vfa_ledger_refused(struct vfa_record *rec);
void vfa_ledger_reset(void);
void vfa_ledger_counters(struct vfa_counters *c);
void vfa_ledger_times(time64_t *load_time, time64_t *reset_time);
bool vfa_ledger_read(u64 *seq, struct vfa_record *rec);

/* commit.c */
#define VFA_PROGRAMS	8	/* per CPU */

/* A program whose commit requests strict mode would refuse. */
struct vfa_program {
	char comm[TASK_COMM_LEN];
	u32 uid;
	u64 count;		/* requests that would fail */
	u64 largest_kb;		/* the largest of them */
	u64 min_safe_kb;	/* CommitLimit that would let them all pass */
};

struct vfa_commit_stats {
	u64 commits;		/* requests judged, forks' not included */
	u64 would_fail;
	u64 min_safe_kb;
	u64 misses;		/* requests or forks that went unseen */
	u64 walks_atomic;	/* fork walks or sums run with preemption off */
};

int vfa_commit_init(void);
void vfa_commit_exit(void);
/* A fork as the kernel's own requests showed it. */
struct vfa_fork_result {
	unsigned long charge_pages;
	unsigned long noreserve_pages;	/* the child's MAP_NORESERVE memory */
	u64 walk_ticks;			/* preemptible time at its first request */
	long committed;			/* the system commit before it, or -1 */
	bool noreserve_walked;		/* the parent's VMAs walked for it */
	bool asked;			/* it made a request, so that: */
	bool admin;			/* ... CAP_SYS_ADMIN, as the kernel saw */
};

struct ftrace_ops;
int vfa_hook(struct ftrace_ops *ops, const char *func);
void vfa_unhook(struct ftrace_ops *ops);
/* commit.c's direct-call trampoline, in asm (compat.h) */
void vfa_commit_tramp(void);
enum vfa_take { VFA_TAKE_NONE, VFA_TAKE_NOW, VFA_TAKE_LATER };
enum vfa_take vfa_forking_take(struct task_struct *child, u8 kind,
			       struct vfa_fork_result *fr,
			       struct vfa_pending **pend);
void vfa_forking_exit(void);
long vfa_committed_pages(void);
void vfa_commit_stats(struct vfa_commit_stats *s);
void vfa_commit_programs(void (*fn)(const struct vfa_program *p, void *arg),
			 void *arg);
void vfa_commit_reset(void);

/* trace.c; kind, verdict, outcome are short strings so bpftrace prints them */
#define VFA_STR_LEN 8

static inline void vfa_trace_str(char *dst, const char *src)
{
	strscpy(dst, src, VFA_STR_LEN);
}

const char *vfa_kind_name(u8 kind);
const char *vfa_verdict_name(u8 verdict);
const char *vfa_outcome_name(u8 outcome);
void vfa_trace_fork(const struct vfa_record *r);
void vfa_trace_outcome(const struct vfa_record *r);

/*
 * A pid namespace's identity for the fork log: its inode number, and the
 * start time of its init, which a later namespace reusing the number
 * cannot share.  The caller is in an RCU read-side section.
 */
u64 vfa_pid_ns_birth(struct pid_namespace *ns);

/* hooks.c */
void vfa_log_followed(struct vfa_pending *p, const struct vfa_fork_result *fr);
void vfa_log_refused(const struct vfa_fork_result *fr);
int vfa_hooks_init(void);
void vfa_hooks_exit(void);

/* procfs.c */
struct pid **vfa_collect_pids(struct pid_namespace *ns, unsigned int *n);
int vfa_procfs_init(void);
void vfa_procfs_exit(void);

#endif /* VFORKACCT_H */
