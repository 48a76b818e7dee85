// SPDX-License-Identifier: GPL-2.0
/*
 * vforkacct: every commit request the kernel judges, and the forks it
 * refuses.
 *
 * Every commit request ends in __vm_enough_memory(): mmap, brk, mprotect
 * to writable, stack growth, exec, shmem, and dup_mmap()'s one request per
 * accounted VMA of a fork.  Its third argument is the kernel's own
 * CAP_SYS_ADMIN decision (security modules included).  No tracepoint is
 * there and the function is not exported, so a kretprobe attaches to it:
 * the entry handler judges the request with the model, the return handler
 * sees the kernel's answer.
 *
 * A fork's requests are told apart by a second kretprobe, on
 * copy_process(): while a task is inside copy_process() for a fork (no
 * CLONE_VM), it owns a slot of a small table, and its requests add up to
 * the fork's charge there instead of counting as requests of their own
 * (the fork is judged as one, at task_newtask).  If the kernel refuses one
 * of them, the fork is logged with outcome "refused".
 *
 * Both handlers run with preemption disabled on every commit of the
 * system: they take no lock, the counters are per CPU and summed at read
 * time, and finding the current task's slot is a few loads.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/hash.h>
#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/seqlock.h>
#include <linux/string.h>
#include <linux/uidgid.h>

#include "compat.h"
#include "vforkacct.h"

#define KB_PER_PAGE	(PAGE_SIZE / 1024)

/*
 * Tasks inside copy_process() for a fork.  A task claims a free slot near
 * its hash with cmpxchg and is the only writer of it until it leaves;
 * others only read the owner field.
 */
#define VFA_FORKING_BITS	10
#define VFA_FORKING_SLOTS	BIT(VFA_FORKING_BITS)
#define VFA_FORKING_PROBES	4

static struct task_struct *forking_task[VFA_FORKING_SLOTS];
static long forking_tried[VFA_FORKING_SLOTS];	/* pages asked so far */

/* Programs whose commit requests would fail, per CPU, merged at read. */
struct vfa_commit_cpu {
	seqcount_t seq;
	u64 commits;
	u64 would_fail;
	u64 min_safe_kb;
	struct vfa_program progs[VFA_PROGRAMS];
};

static DEFINE_PER_CPU(struct vfa_commit_cpu, vfa_commit_cpu);
/* Forks whose requests could not be told apart: the table was full. */
static atomic_long_t vfa_slot_misses;

/* What the entry handler leaves for the return handler. */
struct vfa_call {
	long pages;
	int slot;
	bool admin;
};

static int vfa_forking_find(void)
{
	unsigned int h = hash_ptr(current, VFA_FORKING_BITS);
	unsigned int i;

	for (i = 0; i < VFA_FORKING_PROBES; i++) {
		unsigned int s = (h + i) & (VFA_FORKING_SLOTS - 1);

		if (READ_ONCE(forking_task[s]) == current)
			return s;
	}
	return -1;
}

static int vfa_forking_claim(void)
{
	unsigned int h = hash_ptr(current, VFA_FORKING_BITS);
	unsigned int i;

	for (i = 0; i < VFA_FORKING_PROBES; i++) {
		unsigned int s = (h + i) & (VFA_FORKING_SLOTS - 1);

		if (!READ_ONCE(forking_task[s]) &&
		    !cmpxchg(&forking_task[s], NULL, current)) {
			forking_tried[s] = 0;
			return s;
		}
	}
	return -1;
}

/* copy_process(pid, trace, node, args): a fork starts unless CLONE_VM. */
static int vfa_copy_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	const struct kernel_clone_args *args =
		(void *)regs_get_kernel_argument(regs, 3);
	int *slot = (int *)ri->data;

	if ((current->flags & VFA_NOT_USER) || !current->mm ||
	    (args->flags & CLONE_VM))
		return 1;	/* no return handler needed */
	*slot = vfa_forking_claim();
	if (*slot < 0) {
		atomic_long_inc(&vfa_slot_misses);
		return 1;
	}
	return 0;
}

static int vfa_copy_return(struct kretprobe_instance *ri,
			   struct pt_regs *regs)
{
	int slot = *(int *)ri->data;

	/* Our last use of forking_tried[slot] before the next owner's. */
	smp_store_release(&forking_task[slot], NULL);
	return 0;
}

/*
 * What the kernel has charged so far for the fork @current is making
 * (from task_newtask: the whole charge), or -1 if it was not followed.
 */
long vfa_forking_charge(void)
{
	int slot = vfa_forking_find();

	return slot < 0 ? -1 : forking_tried[slot];
}

static void vfa_note_program(struct vfa_commit_cpu *cc, long kb,
			     long min_kb)
{
	struct vfa_program *p, *victim = &cc->progs[0];
	uid_t uid = from_kuid_munged(&init_user_ns, current_euid());
	int i;

	for (i = 0; i < VFA_PROGRAMS; i++) {
		p = &cc->progs[i];
		if (!p->count || (p->uid == uid &&
				  !strncmp(p->comm, current->comm,
					   TASK_COMM_LEN)))
			break;
		if (p->count < victim->count)
			victim = p;
	}
	raw_write_seqcount_begin(&cc->seq);
	/* Full: the least seen program makes room (the totals stay). */
	if (i == VFA_PROGRAMS) {
		p = victim;
		p->count = 0;
	}
	if (!p->count) {
		memcpy(p->comm, current->comm, TASK_COMM_LEN);
		p->comm[TASK_COMM_LEN - 1] = '\0';
		p->uid = uid;
		p->largest_kb = 0;
		p->min_safe_kb = 0;
	}
	p->count++;
	p->largest_kb = max_t(u64, p->largest_kb, kb);
	p->min_safe_kb = max_t(u64, p->min_safe_kb, min_kb);
	raw_write_seqcount_end(&cc->seq);
}

/* __vm_enough_memory(mm, pages, cap_sys_admin) */
static int vfa_commit_entry(struct kretprobe_instance *ri,
			    struct pt_regs *regs)
{
	const struct mm_struct *mm = (void *)regs_get_kernel_argument(regs, 0);
	struct vfa_call *call = (struct vfa_call *)ri->data;
	struct vfa_commit_cpu *cc;
	struct vfa_judgement j;

	call->pages = regs_get_kernel_argument(regs, 1);
	call->admin = regs_get_kernel_argument(regs, 2);
	call->slot = vfa_forking_find();
	if (call->slot >= 0) {
		/* One VMA of a fork: judged with the whole fork. */
		forking_tried[call->slot] += call->pages;
		return 0;
	}
	if (call->pages <= 0 || (current->flags & VFA_NOT_USER))
		return 1;

	vfa_judge(call->admin, mm ? READ_ONCE(mm->total_vm) : 0, call->pages,
		  vm_memory_committed() + call->pages, &j);
	cc = this_cpu_ptr(&vfa_commit_cpu);
	WRITE_ONCE(cc->commits, cc->commits + 1);
	WRITE_ONCE(cc->min_safe_kb, max_t(u64, cc->min_safe_kb,
					  j.min_limit_kb));
	if (j.verdict == VFA_FAIL) {
		WRITE_ONCE(cc->would_fail, cc->would_fail + 1);
		vfa_note_program(cc, call->pages * KB_PER_PAGE,
				 j.min_limit_kb);
	}
	return 1;
}

/* Only a fork's requests get here: did the kernel refuse this one? */
static int vfa_commit_return(struct kretprobe_instance *ri,
			     struct pt_regs *regs)
{
	const struct vfa_call *call = (const struct vfa_call *)ri->data;
	long tried = forking_tried[call->slot];
	struct vfa_judgement j;
	struct vfa_record rec;
	long before;

	if (!regs_return_value(regs))
		return 0;
	/*
	 * The kernel has taken this request's pages back, the fork's earlier
	 * VMAs are still charged: the commit now is the commit before this
	 * request, which is what the model judges it on.
	 */
	before = vm_memory_committed();
	vfa_judge(call->admin, READ_ONCE(current->mm->total_vm), call->pages,
		  before + call->pages, &j);
	vfa_fill_parent(&rec, NULL);
	rec.kind = VFA_FORK;
	rec.outcome = VFA_REFUSED;
	rec.pid = 0;
	rec.charge_kb = tried * KB_PER_PAGE;
	rec.committed_kb = (before - (tried - call->pages)) * KB_PER_PAGE;
	rec.allowed_kb = j.allowed_kb;
	rec.verdict = j.verdict;
	vfa_ledger_refused(&rec);
	vfa_trace_fork(&rec);
	return 0;
}

static struct kretprobe vfa_copy_probe = {
	.kp.symbol_name = "copy_process",
	.entry_handler = vfa_copy_entry,
	.handler = vfa_copy_return,
	.data_size = sizeof(int),
	/* A fork can sleep in copy_process: room for many at once. */
	.maxactive = VFA_FORKING_SLOTS,
};

static struct kretprobe vfa_commit_probe = {
	.kp.symbol_name = "__vm_enough_memory",
	.entry_handler = vfa_commit_entry,
	.handler = vfa_commit_return,
	.data_size = sizeof(struct vfa_call),
};

void vfa_commit_stats(struct vfa_commit_stats *s)
{
	int cpu;

	memset(s, 0, sizeof(*s));
	for_each_possible_cpu(cpu) {
		const struct vfa_commit_cpu *cc = per_cpu_ptr(&vfa_commit_cpu,
							      cpu);

		s->commits += READ_ONCE(cc->commits);
		s->would_fail += READ_ONCE(cc->would_fail);
		s->min_safe_kb = max_t(u64, s->min_safe_kb,
				       READ_ONCE(cc->min_safe_kb));
	}
	s->misses = vfa_commit_probe.nmissed + vfa_copy_probe.nmissed +
		    atomic_long_read(&vfa_slot_misses);
}

/*
 * Calls @fn on each program of each CPU's table; the same program can come
 * from several CPUs (the reader adds them up).
 */
void vfa_commit_programs(void (*fn)(const struct vfa_program *p, void *arg),
			 void *arg)
{
	struct vfa_program copy[VFA_PROGRAMS];
	unsigned int start;
	int cpu, i;

	for_each_possible_cpu(cpu) {
		struct vfa_commit_cpu *cc = per_cpu_ptr(&vfa_commit_cpu, cpu);

		do {
			start = read_seqcount_begin(&cc->seq);
			memcpy(copy, cc->progs, sizeof(copy));
		} while (read_seqcount_retry(&cc->seq, start));
		for (i = 0; i < VFA_PROGRAMS; i++)
			if (copy[i].count)
				fn(&copy[i], arg);
	}
}

/* Racing requests on other CPUs may survive a reset by one count. */
void vfa_commit_reset(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct vfa_commit_cpu *cc = per_cpu_ptr(&vfa_commit_cpu, cpu);

		raw_write_seqcount_begin(&cc->seq);
		WRITE_ONCE(cc->commits, 0);
		WRITE_ONCE(cc->would_fail, 0);
		WRITE_ONCE(cc->min_safe_kb, 0);
		memset(cc->progs, 0, sizeof(cc->progs));
		raw_write_seqcount_end(&cc->seq);
	}
}

int vfa_commit_init(void)
{
	int cpu, ret;

	for_each_possible_cpu(cpu)
		seqcount_init(&per_cpu_ptr(&vfa_commit_cpu, cpu)->seq);
	/* Preemptible kernels can be preempted inside: more than one a CPU. */
	vfa_commit_probe.maxactive = max(64U, 4 * num_possible_cpus());
	ret = register_kretprobe(&vfa_commit_probe);
	if (ret) {
		pr_err("cannot attach a kretprobe to __vm_enough_memory: %d\n",
		       ret);
		return ret;
	}
	ret = register_kretprobe(&vfa_copy_probe);
	if (ret) {
		pr_err("cannot attach a kretprobe to copy_process: %d\n", ret);
		unregister_kretprobe(&vfa_commit_probe);
		return ret;
	}
	return 0;
}

void vfa_commit_exit(void)
{
	unregister_kretprobe(&vfa_copy_probe);
	unregister_kretprobe(&vfa_commit_probe);
}
