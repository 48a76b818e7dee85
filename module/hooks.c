// SPDX-License-Identifier: GPL-2.0
/*
 * vforkacct: the tracepoint probes.
 *
 * None of the scheduler's tracepoints is exported to modules, so they are
 * looked up by name with for_each_kernel_tracepoint().  A new task is
 * caught at task_newtask: it is the last step of copy_process(), after
 * the "no more failure paths" point, so the fork is certain, the child's
 * mm is complete and already charged, the child has not run, and the
 * clone flags (which alone tell vfork from a plain CLONE_VM clone) are at
 * hand.  The charge, the MAP_NORESERVE memory and the system commit
 * before the fork were gathered during dup_mmap(), and a CLONE_VM clone's
 * commit at kernel_clone() (commit.c), preemptibly, so the probe only
 * judges and logs the fork and starts following the child: O(1).  A fork
 * that asked for nothing is judged and logged by the parent's task_work,
 * which sums the commit preemptibly.  A fork that was not followed from
 * kernel_clone() is logged here, and walked only if it is small.
 * sched_process_fork fires later without the flags and would add
 * nothing.  Probes run with preemption disabled: they never sleep, and
 * the ledger's per-CPU counters and the MAP_NORESERVE set's
 * synchronize_rcu() rely on it.  6.1 and 6.12 call probes with it off;
 * 7.2 and 7.3 call them under SRCU-fast, preemptible (their
 * __DECLARE_TRACE), so each probe disables it itself (vfa_probe_enter()).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/rcupdate.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/tracepoint.h>
#include <trace/events/sched.h>
#include <trace/events/task.h>

#include "compat.h"
#include "vforkacct.h"

/*
 * The parent's side of a record that the caller zeroed: @current's ids,
 * the time (boot clock) @now, and the child's pid @tgid, as @pid numbered
 * in the parent's pid namespace (none for a fork the kernel refused).
 */
static void vfa_fill_parent(struct vfa_record *rec, pid_t tgid,
			    struct pid *pid, u64 now)
{
	struct pid_namespace *ns;

	rec->time_ns = now;
	rec->ppid = current->tgid;
	rec->pid = tgid;
	memcpy(rec->comm, current->comm, TASK_COMM_LEN);
	rec->comm[TASK_COMM_LEN - 1] = '\0';
	rec->uid = vfa_uid(current_euid());
	rcu_read_lock();
	rec->cgroup_id = vfa_task_cgroup_id(current);
	ns = task_active_pid_ns(current);
	if (ns != &init_pid_ns) {
		/* What a reader in the parent's namespace may see. */
		rec->ns_inum = ns->ns.inum;
		rec->ns_birth = vfa_pid_ns_birth(ns);
		rec->ns_ppid = task_tgid_nr_ns(current, ns);
		rec->ns_pid = pid ? pid_nr_ns(pid, ns) : 0;
	}
	rcu_read_unlock();
}

/*
 * Judges the fork @fr describes, as mode 2 would see it: the parent's
 * MAP_NORESERVE memory already committed, and the child's copy of it
 * charged on top (the child's is the parent's but for MADV_DONTFORK
 * ranges).  Fills the fork's part of @rec (vfa_fill_parent() first).
 */
static void vfa_judge_fork(const struct vfa_fork_result *fr, u8 kind,
			   enum vfa_miss miss, struct vfa_record *rec,
			   struct vfa_judgement *j)
{
	long charge = fr->charge_pages, nr = fr->noreserve_pages;
	long committed = fr->committed;
	struct mm_struct *mm = current->mm;
	bool admin;

	/*
	 * The kernel's own CAP_SYS_ADMIN decision (security modules can
	 * withhold it), when the fork asked for commit; else the same check
	 * the kernel makes, cap_vm_enough_memory()'s.
	 */
	admin = fr->asked ? fr->admin : vfa_has_sys_admin(current_cred());
	/* Summed now, it holds the charge already: the kernel made it. */
	if (committed < 0)
		committed = vfa_committed_pages() - charge;
	vfa_judge(admin, mm ? READ_ONCE(mm->total_vm) : 0, charge + nr,
		  committed + charge + 2 * nr, j);
	rec->kind = kind;
	rec->charge_kb = miss ? -1 : charge * (PAGE_SIZE / 1024);
	rec->noreserve_kb = miss ? -1 : nr * (PAGE_SIZE / 1024);
	rec->committed_kb = j->committed_kb - nr * (PAGE_SIZE / 1024);
	rec->allowed_kb = j->allowed_kb;
	rec->verdict = miss ? VFA_UNKNOWN : j->verdict;
	rec->outcome = VFA_RUNNING;
}

/*
 * From the parent's task_work (commit.c), preemptible: the record of a
 * fork that asked for nothing, judged and written out of the probe.
 */
void vfa_log_followed(struct vfa_pending *p, const struct vfa_fork_result *fr)
{
	u64 start = vfa_ticks();
	struct vfa_record rec = {}, out;
	struct vfa_judgement j;
	bool ended;

	vfa_fill_parent(&rec, p->tgid, p->pid, p->fork_ns);
	vfa_judge_fork(fr, p->kind, VFA_MISS_NONE, &rec, &j);
	ended = vfa_ledger_pending(&rec, p, j.min_limit_kb, start, fr, &out);
	vfa_trace_fork(&rec);
	if (ended)
		vfa_trace_outcome(&out);
}

/*
 * From the parent's task_work (commit.c): the fork @fr describes failed
 * with ENOMEM after asking for commit, so its last request was refused
 * (see the README for what else could do that).  It is judged on the
 * commit before it, as summed at its first request, plus what it asked.
 */
void vfa_log_refused(const struct vfa_fork_result *fr)
{
	struct vfa_fork_result asked = *fr;
	struct vfa_record rec = {};
	struct vfa_judgement j;

	asked.noreserve_pages = 0;
	vfa_fill_parent(&rec, 0, NULL, ktime_get_boottime_ns());
	vfa_judge_fork(&asked, VFA_FORK, VFA_MISS_NONE, &rec, &j);
	rec.outcome = VFA_REFUSED;
	vfa_ledger_refused(&rec);
	vfa_trace_fork(&rec);
}

/*
 * The most VMAs task_newtask walks, with preemption off, for a fork that
 * was not followed (commit_misses): about 11 us under emulation (170 ns a
 * VMA).  A bigger child is logged unknown (walk_misses).
 */
#define VFA_PROBE_WALK_MAX	64

/*
 * Every probe's body runs between these.  Where the tracepoint already
 * disabled preemption they nest, a counter's increment and decrement.
 */
static __always_inline void vfa_probe_enter(void)
{
	preempt_disable_notrace();
}

static __always_inline void vfa_probe_leave(void)
{
	preempt_enable_notrace();
}

static void vfa_newtask(struct task_struct *child,
			VFA_CLONE_FLAGS_T clone_flags)
{
	/* The probe's own time (ledger.c); the fork's is the child's start. */
	u64 start = vfa_ticks();
	struct vfa_fork_result fr = { .committed = -1 };
	enum vfa_miss miss = VFA_MISS_NONE;
	struct vfa_record rec = {};
	struct vfa_judgement j;
	struct vfa_pending *p;
	struct vfa_charge c;
	enum vfa_take take;
	u8 kind;

	/* Kernel threads, io/vhost workers and usermode helpers (no mm). */
	if ((child->flags & VFA_NOT_USER) || !child->mm ||
	    (current->flags & VFA_NOT_USER) || !current->mm)
		return;

	if (clone_flags & CLONE_THREAD) {
		vfa_ledger_thread(start);
		return;
	}
	if (!(clone_flags & CLONE_VM))
		kind = VFA_FORK;
	else
		kind = clone_flags & CLONE_VFORK ? VFA_VFORK : VFA_VMCLONE;

	/*
	 * Followed from kernel_clone(): the charge and the commit are known
	 * already, so the fork is judged and logged here, O(1).  One that
	 * asked for nothing waits for the parent's task_work.
	 */
	take = vfa_forking_take(child, kind, &fr, &p);
	if (take == VFA_TAKE_LATER) {
		vfa_ledger_follow(child, p, start);
		return;
	}
	if (take == VFA_TAKE_NOW)
		goto log;

	/* Not followed (see commit_misses): logged here, at once. */
	if (kind == VFA_FORK && vfa_noreserve_maybe(current->mm))
		vfa_noreserve_add(child->mm);
	if (kind != VFA_FORK) {
		/* Charges nothing. */
	} else if (READ_ONCE(child->mm->map_count) > VFA_PROBE_WALK_MAX) {
		/* Too big to walk here with preemption off: unknown. */
		miss = VFA_MISS_WALK;
	} else if (mmap_read_trylock(child->mm)) {
		/*
		 * Small: walk the child, a bounded cost.  Only /proc readers
		 * of the new child (or a userfaultfd closed under it) could
		 * hold its lock; if one does, say so rather than guess.
		 */
		vfa_charge_walk(child->mm, &c);
		mmap_read_unlock(child->mm);
		fr.charge_pages = c.acct_pages;
		fr.noreserve_pages = c.noreserve_pages;
	} else {
		miss = VFA_MISS_LOCK;
	}
log:
	/* A new child leads its thread group: its pid is its tgid's. */
	vfa_fill_parent(&rec, child->tgid, task_pid(child),
			child->start_boottime);
	vfa_judge_fork(&fr, kind, miss, &rec, &j);
	vfa_ledger_fork(&rec, child, j.min_limit_kb, start,
			take == VFA_TAKE_NOW ? &fr : NULL, miss);
	vfa_trace_fork(&rec);
}

static void vfa_probe_newtask(void *data, struct task_struct *child,
			      VFA_CLONE_FLAGS_T clone_flags)
{
	vfa_probe_enter();
	vfa_newtask(child, clone_flags);
	vfa_probe_leave();
}

/*
 * The outcome's record: vfa_ledger_outcome() fills what its trace event
 * reads, if it returns true.  Not zeroed first (the kernel's stack
 * initialisation would), as these probes run at every exec and exit.
 */
static void vfa_probe_exec(void *data, struct task_struct *p, pid_t old_pid,
			   struct linux_binprm *bprm)
{
	struct vfa_record rec __uninitialized;

	vfa_probe_enter();
	if (vfa_ledger_outcome(p, VFA_EXEC, &rec))
		vfa_trace_outcome(&rec);
	vfa_probe_leave();
}

static void vfa_probe_exit(VFA_EXIT_PROBE_ARGS)
{
	struct vfa_record rec __uninitialized;

	vfa_probe_enter();
	/* A slot that a failed clone of the thread left (commit.c). */
	vfa_forking_exit();
	/* Fires once per thread: only the last one ends the process. */
	if (VFA_EXIT_GROUP_DEAD(p) && vfa_ledger_outcome(p, VFA_EXIT, &rec))
		vfa_trace_outcome(&rec);
	vfa_probe_leave();
}

/*
 * Probes are registered through a void *, which would hide a probe whose
 * prototype no longer matches its tracepoint (6.18 changed task_newtask's):
 * on kCFI or 32-bit kernels that breaks at run time.  Have the compiler
 * compare each probe with the kernel's own register_trace_<name>().
 */
#define VFA_CHECK_PROBE(name, probe)					\
	static_assert(__same_type(register_trace_##name,		\
				  int (typeof(probe) *, void *)),	\
		      "vforkacct: " #probe "() does not match the prototype of tracepoint " \
		      #name " in this kernel's headers")

VFA_CHECK_PROBE(sched_process_exec, vfa_probe_exec);
VFA_CHECK_PROBE(sched_process_exit, vfa_probe_exit);
VFA_CHECK_PROBE(task_newtask, vfa_probe_newtask);

/* The tracepoints the module needs; all are required. */
static struct vfa_hook {
	const char *name;
	void *probe;
	struct tracepoint *tp;
	bool registered;
} vfa_hooks[] = {
	/* Outcome hooks first, so every child logged can be followed. */
	{ .name = "sched_process_exec", .probe = vfa_probe_exec },
	{ .name = "sched_process_exit", .probe = vfa_probe_exit },
	{ .name = "task_newtask", .probe = vfa_probe_newtask },
};

static void vfa_find_tracepoint(struct tracepoint *tp, void *priv)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(vfa_hooks); i++)
		if (!strcmp(tp->name, vfa_hooks[i].name))
			vfa_hooks[i].tp = tp;
}

void vfa_hooks_exit(void)
{
	int i;

	for (i = ARRAY_SIZE(vfa_hooks) - 1; i >= 0; i--) {
		if (!vfa_hooks[i].registered)
			continue;
		tracepoint_probe_unregister(vfa_hooks[i].tp,
					    vfa_hooks[i].probe, NULL);
		vfa_hooks[i].registered = false;
	}
	/* No probe may still be running when the ledger is freed. */
	tracepoint_synchronize_unregister();
}

int vfa_hooks_init(void)
{
	int i, ret;

	for_each_kernel_tracepoint(vfa_find_tracepoint, NULL);
	for (i = 0; i < ARRAY_SIZE(vfa_hooks); i++) {
		if (!vfa_hooks[i].tp) {
			pr_err("required tracepoint %s not found in this kernel\n",
			       vfa_hooks[i].name);
			return -ENOENT;
		}
	}
	for (i = 0; i < ARRAY_SIZE(vfa_hooks); i++) {
		ret = tracepoint_probe_register(vfa_hooks[i].tp,
						vfa_hooks[i].probe, NULL);
		if (ret) {
			pr_err("cannot attach to tracepoint %s: %d\n",
			       vfa_hooks[i].name, ret);
			vfa_hooks_exit();
			return ret;
		}
		vfa_hooks[i].registered = true;
	}
	return 0;
}
