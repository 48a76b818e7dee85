// SPDX-License-Identifier: GPL-2.0
/*
 * vforkacct: every commit request the kernel judges, and the forks it
 * refuses.
 *
 * Every commit request ends in __vm_enough_memory(): mmap, brk, mprotect
 * to writable, stack growth, exec, shmem, and dup_mmap()'s one request per
 * accounted VMA of a fork.  Its third argument is the kernel's own
 * CAP_SYS_ADMIN decision (security modules included).  No tracepoint is
 * there and it is not exported, so an ftrace callback is attached to its
 * entry: far cheaper than a kprobe, which matters because a fork of a
 * process with 30,000 VMAs makes 30,000 requests.  On x86-64 its entry
 * calls the callback through a trampoline of ours (an ftrace direct
 * call), cheaper still than ftrace's own; if a BPF fentry program holds
 * the function's one direct call, ftrace's trampoline it is.
 *
 * A fork's requests are told apart by a second ftrace callback, on
 * kernel_clone(), once per fork: from there until the fork is over, the
 * task owns a slot of a small table, and its requests add up to the
 * fork's charge there instead of counting as requests of their own (the
 * fork is judged as one).  At a fork's first request, dup_mmap() holds
 * the parent's mmap lock: the system commit is summed there, preemptibly
 * (O(CPUs)), and if the parent may hold MAP_NORESERVE memory, which the
 * requests do not show (noreserve.c), its VMAs are walked there too.
 * task_newtask, with preemption off, then has all it needs: it judges
 * and logs the fork, O(1), and frees the slot.  A fork that fails after
 * asking for commit tears its child's mm down in the parent's context: a
 * third callback, on exit_mmap(), sees that and queues a task_work, which
 * runs as the task returns to user space: if the fork failed with ENOMEM,
 * the kernel refused it (the last request), and it is logged with
 * outcome "refused".  A clone that failed before asking leaves its slot
 * behind: the task's next clone takes it again, its next request in
 * another syscall or its exit frees it.  No return probe is needed, and
 * the common fork queues no task_work.
 *
 * The callback runs on every commit request of the system: it takes no
 * lock of its own, its counters are per CPU and summed at read time, and
 * finding the current task's slot is a few loads.
 *
 * A vfork, a posix_spawn or another CLONE_VM clone charges nothing and
 * makes no request, but its row shows the system commit at the fork: the
 * kernel_clone() callback reads it there as a plain request does (its
 * CPU's sum of this tick), preemptibly, into the clone's slot for its
 * task_work to take.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/ftrace.h>
#include <linux/hash.h>
#include <linux/jiffies.h>
#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/percpu.h>
#include <linux/percpu_counter.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/seqlock.h>
#include <linux/string.h>
#include <linux/task_work.h>
#include <linux/uidgid.h>
#include <asm/syscall.h>

#include "compat.h"
#include "vforkacct.h"

#define KB_PER_PAGE	(PAGE_SIZE / 1024)

/*
 * Tasks between kernel_clone() and the end of their fork or CLONE_VM
 * clone (not a thread).  A task claims a free slot near its hash with
 * cmpxchg and is the only writer of it until it frees it; others only
 * read the owner field.
 */
#define VFA_FORKING_BITS	10
#define VFA_FORKING_SLOTS	BIT(VFA_FORKING_BITS)
#define VFA_FORKING_PROBES	4

static struct vfa_forking {
	struct task_struct *task;	/* the owner, or NULL */
	/* What only the owner writes: its fork so far. */
	struct callback_head work;	/* frees the slot (vfa_clone_end) */
	bool queued;		/* ... queued: only it frees the slot */
	int nr;			/* the clone's syscall number */
	bool vm;		/* a CLONE_VM clone: no request, no charge */
	bool done;		/* task_newtask came: the fork succeeded, */
	struct vfa_pending pend;	/* ... and its record waits here */
	long tried;		/* pages asked for so far */
	bool admin;		/* ... with CAP_SYS_ADMIN, as the kernel saw */
	bool walked;		/* its MAP_NORESERVE memory known, at the first */
	bool nr_maybe;		/* ... the parent may hold some (noreserve.c) */
	long committed;		/* the system commit, at the first, or -1 */
	unsigned long noreserve_fork_pages;
	u64 walk_ticks;
} forking[VFA_FORKING_SLOTS];

/*
 * The kernel's vm_committed_as, the per-CPU counter behind Committed_AS.
 * vm_memory_committed() sums it under the counter's lock with interrupts
 * off: too dear for every commit request and fork of the system.  The
 * counter is not exported, but vm_memory_committed() hands it to
 * __percpu_counter_sum(): a kprobe there catches its address once, at
 * load.  NULL: not caught, vm_memory_committed() it is.
 */
static struct percpu_counter *vfa_committed_as;
static struct task_struct *vfa_catcher;

/*
 * Programs whose commit requests would fail, per CPU, merged at read.
 * Only its own CPU writes it; a reset bumps the epoch and each CPU clears
 * its own at its next request.
 */
struct vfa_commit_cpu {
	seqcount_t seq;
	u32 epoch;
	u64 commits;
	u64 would_fail;
	u64 min_safe_kb;
	struct vfa_program progs[VFA_PROGRAMS];
};

static DEFINE_PER_CPU(struct vfa_commit_cpu, vfa_commit_cpu);
static u32 vfa_commit_epoch;
/* Forks whose requests could not be told apart: the table was full. */
static atomic_long_t vfa_slot_misses;
/* Forks whose walk found preemption disabled (see vfa_commit_ops). */
static atomic_long_t vfa_walks_atomic;

/*
 * What a sum of the system commit saw: the counter's global part, one
 * CPU's own part and the sum, and the tick it began in.  Each CPU keeps
 * the last one it made for plain requests (vfa_commit_seen_pages()).
 */
struct vfa_commit_seen {
	unsigned long jiffies;
	s64 count;
	s32 local;
	long pages;
};

static DEFINE_PER_CPU(struct vfa_commit_seen, vfa_commit_seen);

/*
 * The system commit in pages, summed as __percpu_counter_sum() does but
 * without its lock: a request racing on another CPU may be in it or not,
 * as it may be either side of the lock.  A CPU whose part folds into the
 * global one meanwhile (count += part; part = 0) would be missed or
 * counted twice: then the global part has changed, and the sum is made
 * again (the fold writes both under its lock, with no order between them
 * for a reader without it: on arm64 this narrows the race, no more).
 * O(online CPUs) loads, no store.  @me: whose part goes in @seen.
 */
static long notrace vfa_commit_sum(struct percpu_counter *fbc, int me,
				   struct vfa_commit_seen *seen)
{
	int cpu, tries = 3;
	s64 count, sum;
	s32 part;

	seen->jiffies = READ_ONCE(jiffies);
	seen->local = 0;
	do {
		count = READ_ONCE(fbc->count);
		/* Each CPU's part read after the global one ... */
		smp_rmb();
		sum = count;
		/* A bit test per CPU: for_each_online_cpu()'s searches cost more. */
		for (cpu = 0; cpu < nr_cpu_ids; cpu++) {
			if (!cpu_online(cpu))
				continue;
			part = READ_ONCE(*per_cpu_ptr(fbc->counters, cpu));
			if (cpu == me)
				seen->local = part;
			sum += part;
		}
		/* ... and before it is read again. */
		smp_rmb();
	} while (READ_ONCE(fbc->count) != count && --tries);
	seen->count = count;
	seen->pages = max_t(s64, sum, 0);
	return seen->pages;
}

long notrace vfa_committed_pages(void)
{
	struct percpu_counter *fbc = READ_ONCE(vfa_committed_as);
	struct vfa_commit_seen seen;

	if (!fbc)
		return vm_memory_committed();
	return vfa_commit_sum(fbc, -1, &seen);
}

/*
 * The system commit for a plain request, O(1): the sum this CPU made in
 * this tick, if no CPU's part has folded into the global one since,
 * plus what this CPU's part has moved since (exact for this CPU).  Else
 * a new sum, which this CPU keeps.  What it can miss, for less than a
 * tick: what other CPUs committed or freed since, below the counter's
 * batch (README: "A plain request").  Preemptible; the cache is touched
 * with preemption off.
 */
static long notrace vfa_commit_seen_pages(void)
{
	struct percpu_counter *fbc = READ_ONCE(vfa_committed_as);
	struct vfa_commit_seen *s, fresh;
	long pages = -1;
	int cpu;
	s32 part;

	if (!fbc)
		return vm_memory_committed();
	preempt_disable_notrace();
	s = this_cpu_ptr(&vfa_commit_seen);
	cpu = smp_processor_id();
	/* The same tick.  (A CPU's first request sums: s->jiffies is 0.) */
	if (s->jiffies && !time_after(READ_ONCE(jiffies), s->jiffies) &&
	    s->count == READ_ONCE(fbc->count)) {
		part = READ_ONCE(*this_cpu_ptr(fbc->counters));
		pages = max_t(s64, s->pages + (s64)part - s->local, 0);
	}
	preempt_enable_notrace();
	if (pages >= 0)
		return pages;
	pages = vfa_commit_sum(fbc, cpu, &fresh);
	preempt_disable_notrace();
	/* Kept only where its own part was read: else the next one sums. */
	if (smp_processor_id() == cpu)
		*this_cpu_ptr(&vfa_commit_seen) = fresh;
	preempt_enable_notrace();
	return pages;
}

static int vfa_catches;

static int vfa_catch_pre(struct kprobe *kp, struct pt_regs *regs)
{
	if (current == vfa_catcher) {
		vfa_committed_as = (void *)regs_get_kernel_argument(regs, 0);
		vfa_catches++;
	}
	return 0;
}

/*
 * Catches vm_committed_as; checks it against the kernel's own sum.
 * Interrupts stay off around the call: else a context switch into the
 * catcher may drop a dead mm, whose rss counters __mmdrop() sums too
 * (seen: a freed counter caught, and read later).  Exactly one catch.
 */
static void vfa_catch_committed_as(void)
{
	struct kprobe kp = {
		.symbol_name = "__percpu_counter_sum",
		.pre_handler = vfa_catch_pre,
	};
	unsigned long flags;
	long ours, theirs;
	int tries;

	if (register_kprobe(&kp)) {
		pr_info("commit read with vm_memory_committed() (no kprobe on __percpu_counter_sum)\n");
		return;
	}
	local_irq_save(flags);
	vfa_catcher = current;
	theirs = vm_memory_committed();
	vfa_catcher = NULL;
	local_irq_restore(flags);
	unregister_kprobe(&kp);
	if (vfa_catches != 1) {
		pr_info("commit read with vm_memory_committed() (%d counters caught)\n",
			vfa_catches);
		vfa_committed_as = NULL;
		return;
	}
	/* Other CPUs' commits move it meanwhile: a few tries, 1/16 apart. */
	for (tries = 0; tries < 3; tries++) {
		local_irq_save(flags);
		ours = vfa_committed_pages();
		theirs = vm_memory_committed();
		local_irq_restore(flags);
		if (theirs > 0 && abs(ours - theirs) <= theirs / 16)
			return;
	}
	pr_info("commit read with vm_memory_committed() (caught %ld pages, want %ld)\n",
		ours, theirs);
	vfa_committed_as = NULL;
}

static int notrace vfa_forking_find(void)
{
	unsigned int h = hash_ptr(current, VFA_FORKING_BITS);
	unsigned int i;

	for (i = 0; i < VFA_FORKING_PROBES; i++) {
		unsigned int s = (h + i) & (VFA_FORKING_SLOTS - 1);

		if (READ_ONCE(forking[s].task) == current)
			return s;
	}
	return -1;
}

static void notrace vfa_forking_release(struct vfa_forking *f)
{
	/* The owner's last use of its slot before the next owner's. */
	smp_store_release(&f->task, NULL);
}

static void notrace vfa_forking_result(const struct vfa_forking *f,
				       struct vfa_fork_result *fr)
{
	*fr = (struct vfa_fork_result) {
		.charge_pages = f->tried,
		.noreserve_pages = f->walked ? f->noreserve_fork_pages : 0,
		.walk_ticks = f->walk_ticks,
		.committed = f->committed,
		.noreserve_walked = f->walked && f->nr_maybe,
		.asked = f->tried > 0,
		.admin = f->admin,
	};
}

static int notrace vfa_forking_claim(void)
{
	unsigned int h = hash_ptr(current, VFA_FORKING_BITS);
	unsigned int i;

	for (i = 0; i < VFA_FORKING_PROBES; i++) {
		unsigned int s = (h + i) & (VFA_FORKING_SLOTS - 1);

		if (!READ_ONCE(forking[s].task) &&
		    !cmpxchg(&forking[s].task, NULL, current))
			return s;
	}
	return -1;
}

/*
 * The task_work of a clone's slot, as its task returns to user space (or
 * exits): preemptible.  A clone that task_newtask left to it has its
 * record written here, out of the probe.  A fork that task_newtask did
 * not see failed; the clone syscall's return value, still in the task's
 * registers, tells whether with ENOMEM.  Then the slot is free.
 */
static void vfa_clone_end(struct callback_head *work)
{
	struct vfa_forking *f = container_of(work, struct vfa_forking, work);
	struct vfa_fork_result fr;

	vfa_forking_result(f, &fr);
	if (f->done) {
		vfa_log_followed(&f->pend, &fr);
		put_pid(f->pend.pid);
	} else if (!f->vm && f->tried > 0 &&
		   syscall_get_return_value(current, task_pt_regs(current)) ==
		   -ENOMEM && current->mm) {
		vfa_log_refused(&fr);
	}
	WRITE_ONCE(f->queued, false);
	vfa_forking_release(f);
}

/*
 * Has the slot's task_work free it, as its owner returns to user space.
 * Fails only for a task past exit_task_work(): never in a syscall.
 */
static bool notrace vfa_forking_queue(struct vfa_forking *f)
{
	if (f->queued)
		return true;
	init_task_work(&f->work, vfa_clone_end);
	/* Seen by the unload's drain once the hooks are gone. */
	WRITE_ONCE(f->queued, true);
	if (!task_work_add(current, &f->work, TWA_RESUME))
		return true;
	WRITE_ONCE(f->queued, false);
	return false;
}

/*
 * kernel_clone(args), at its entry: a fork or a CLONE_VM clone starts.
 * Claim a slot (the one a failed clone of the task left, if any); a
 * CLONE_VM clone's system commit is read here, preemptibly.
 */
static void notrace vfa_clone_entry(unsigned long ip, unsigned long parent_ip,
				    struct ftrace_ops *op,
				    struct ftrace_regs *fregs)
{
	const struct kernel_clone_args *args = (void *)vfa_ftrace_arg(fregs, 0);
	struct vfa_forking *f;
	bool vm = args->flags & CLONE_VM;
	u64 start;
	int slot;

	if ((args->flags & CLONE_THREAD) || (current->flags & VFA_NOT_USER) ||
	    !current->mm)
		return;
	/* The slot a failed clone of the task left, if any. */
	slot = vfa_forking_find();
	if (slot < 0)
		slot = vfa_forking_claim();
	if (slot < 0 || forking[slot].queued)
		goto miss;
	f = &forking[slot];
	f->nr = syscall_get_nr(current, task_pt_regs(current));
	f->vm = vm;
	f->done = false;
	f->tried = 0;
	f->walked = false;
	/* Until its first request says otherwise (noreserve.c). */
	f->nr_maybe = true;
	f->walk_ticks = 0;
	f->committed = -1;
	if (vm) {
		start = vfa_ticks();
		if (IS_ENABLED(CONFIG_PREEMPT_COUNT) && !preemptible())
			atomic_long_inc(&vfa_walks_atomic);
		/* Only shown, never judged: a plain request's view will do. */
		f->committed = vfa_commit_seen_pages();
		f->walk_ticks = vfa_ticks_since(start);
	}
	return;
miss:
	/* A CLONE_VM clone loses nothing: task_newtask sums for it. */
	if (!vm)
		atomic_long_inc(&vfa_slot_misses);
}

/*
 * From task_newtask, with preemption off: the clone @current is making
 * succeeded.  If it was followed from kernel_clone(), its slot holds what
 * the kernel charged and the system commit before it: they go to @fr,
 * the slot is free, and the caller logs the clone (VFA_TAKE_NOW).  A
 * fork that asked for nothing has no commit summed yet: its record waits
 * for the slot's task_work, which sums it preemptibly (VFA_TAKE_LATER),
 * and *@pend is where the child's part of it goes.  VFA_TAKE_NONE if the
 * clone was not followed (the table was full): the caller logs it as it
 * can.
 */
enum vfa_take vfa_forking_take(struct task_struct *child, u8 kind,
			       struct vfa_fork_result *fr,
			       struct vfa_pending **pend)
{
	int slot = vfa_forking_find();
	struct vfa_forking *f;
	struct vfa_pending *p;

	if (slot < 0)
		return VFA_TAKE_NONE;
	f = &forking[slot];
	/* Its requests are over; the task_work will not log it refused. */
	f->done = true;
	/* Its child may hold copies: in the set before it can run. */
	if (kind == VFA_FORK && f->nr_maybe)
		vfa_noreserve_add(child->mm);
	if (f->committed >= 0 && !f->queued) {
		vfa_forking_result(f, fr);
		vfa_forking_release(f);
		return VFA_TAKE_NOW;
	}
	if (!vfa_forking_queue(f)) {
		vfa_forking_release(f);
		return VFA_TAKE_NONE;
	}
	p = &f->pend;
	/* The child may be reaped before its record: hold its pid. */
	p->pid = get_pid(task_pid(child));
	p->tgid = child->tgid;
	p->start_time = child->start_time;
	p->fork_ns = child->start_boottime;
	p->kind = kind;
	p->tracked = false;
	p->ended = false;
	*pend = p;
	return VFA_TAKE_LATER;
}

/*
 * From the sched_process_exit probe, for every thread: a clone that
 * failed before it asked for commit left its slot behind.  A queued slot
 * is freed by its task_work, which exit_task_work() runs later.
 */
void notrace vfa_forking_exit(void)
{
	int slot = vfa_forking_find();

	if (slot >= 0 && !forking[slot].queued)
		vfa_forking_release(&forking[slot]);
}

/*
 * An mm torn down by a task that has another (see vfa_exit_mmap()): if
 * the task is forking, its fork failed after dup_mm() and this is the
 * child's.  If the fork asked for commit, the kernel may have refused it:
 * the task_work looks at the syscall's return value.  Else the slot is
 * free.
 */
static noinline void notrace vfa_forking_gone(void)
{
	int slot = vfa_forking_find();
	struct vfa_forking *f;

	if (slot < 0)
		return;
	f = &forking[slot];
	if (f->done || f->vm || f->queued)
		return;
	if (!f->tried || !vfa_forking_queue(f))
		vfa_forking_release(f);
}

/*
 * exit_mmap(mm), at its entry, in any context that may sleep: the mm goes
 * (noreserve.c forgets it), and if the task tearing it down uses another,
 * it may be a failed fork's child.  A task that exits has none by then.
 */
static void notrace vfa_exit_mmap(unsigned long ip, unsigned long parent_ip,
				  struct ftrace_ops *op,
				  struct ftrace_regs *fregs)
{
	struct mm_struct *mm = (void *)vfa_ftrace_arg(fregs, 0);

	vfa_noreserve_gone(mm);
	if (current->mm && current->mm != mm)
		vfa_forking_gone();
}

/* How many slots wait for their task_work. */
static int vfa_forking_busy(void)
{
	int s, n = 0;

	for (s = 0; s < VFA_FORKING_SLOTS; s++) {
		/* Pairs with vfa_forking_release(): its last use. */
		n += smp_load_acquire(&forking[s].task) &&
		     READ_ONCE(forking[s].queued);
	}
	return n;
}

/*
 * At unload, once no hook is left to queue one: wait until every queued
 * task_work has run, for its function is ours.  Only a failed fork, or
 * one that asked for nothing, queues one, and it runs as the task returns
 * to user space: if that takes long, say so every ten seconds.  Then no
 * task may still be in vfa_clone_end()'s last instructions.  Slots that
 * failed clones left behind hold no task_work: they go with the module.
 */
static void vfa_forking_drain(void)
{
	unsigned long next = jiffies + 10 * HZ;
	int n;

	while ((n = vfa_forking_busy())) {
		if (time_after(jiffies, next)) {
			pr_info("unload waits for %d clones in flight to return to user space\n",
				n);
			next = jiffies + 10 * HZ;
		}
		msleep(20);
	}
	synchronize_rcu_tasks();
}

/*
 * At a fork's first request, dup_mmap() holds the parent's mmap lock for
 * writing and is about to copy its VMAs: if the parent may hold
 * MAP_NORESERVE memory, which the kernel's requests do not show, walk them
 * there, where the walk is preemptible and sees exactly what is copied.
 * The set of noreserve.c says which parents may: most hold none, and
 * their forks are not walked.  (A fork with no accounted VMA makes no
 * request: it is taken to have none, and its child joins the set.)
 * Sum the system commit there too, before the fork's first page is added:
 * the fork is judged on it plus its whole charge, and task_newtask, which
 * runs with preemption off, need not walk every CPU's counter.  Then
 * count the request (@pages).  Out of line: the callback's fast path,
 * every later request, needs no stack frame.
 */
static noinline void vfa_forking_first(struct vfa_forking *f,
				       struct mm_struct *mm, long pages,
				       bool admin)
{
	u64 start = vfa_ticks();
	struct vfa_charge c;

	if (IS_ENABLED(CONFIG_PREEMPT_COUNT) && !preemptible())
		atomic_long_inc(&vfa_walks_atomic);
	f->committed = vfa_committed_pages();
	if (mm == current->mm) {
		/* Most processes hold none: no walk (noreserve.c). */
		f->nr_maybe = vfa_noreserve_maybe(mm);
		f->noreserve_fork_pages = 0;
		if (f->nr_maybe) {
			vfa_charge_walk(mm, &c);
			f->noreserve_fork_pages = c.noreserve_fork_pages;
		}
		f->walked = true;
	}
	f->walk_ticks = vfa_ticks_since(start);
	f->tried = pages;
	f->admin = admin;
}

static void notrace vfa_note_program(struct vfa_commit_cpu *cc, long kb,
				     long min_kb)
{
	struct vfa_program *p, *victim = &cc->progs[0];
	uid_t uid = vfa_uid(current_euid());
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

/* This CPU's table, cleared at its first use since a reset. */
static struct vfa_commit_cpu *notrace vfa_commit_here(void)
{
	struct vfa_commit_cpu *cc = this_cpu_ptr(&vfa_commit_cpu);
	u32 e = READ_ONCE(vfa_commit_epoch);

	if (unlikely(cc->epoch != e)) {
		raw_write_seqcount_begin(&cc->seq);
		WRITE_ONCE(cc->commits, 0);
		WRITE_ONCE(cc->would_fail, 0);
		WRITE_ONCE(cc->min_safe_kb, 0);
		memset(cc->progs, 0, sizeof(cc->progs));
		raw_write_seqcount_end(&cc->seq);
		/* Readers that see the epoch see the table cleared. */
		smp_store_release(&cc->epoch, e);
	}
	return cc;
}

/*
 * A request that is not a fork's: judged on its own, into this CPU's
 * table.  Out of line, so that a fork's requests, one per accounted VMA,
 * pay for no stack frame of its.
 */
static noinline void notrace vfa_commit_plain(unsigned long ip,
					      unsigned long parent_ip,
					      struct mm_struct *mm, long pages,
					      bool admin)
{
	struct vfa_commit_cpu *cc;
	struct vfa_judgement j;
	int bit;

	/* Preemptible: a new sum (once a tick) stays out of the atomic part. */
	vfa_judge(admin, mm ? READ_ONCE(mm->total_vm) : 0, pages,
		  vfa_commit_seen_pages() + pages, &j);

	/* Also disables preemption: the per-CPU counters below need it. */
	bit = ftrace_test_recursion_trylock(ip, parent_ip);
	if (bit < 0)
		return;
	cc = vfa_commit_here();
	WRITE_ONCE(cc->commits, cc->commits + 1);
	WRITE_ONCE(cc->min_safe_kb, max_t(u64, cc->min_safe_kb,
					  j.min_limit_kb));
	if (j.verdict == VFA_FAIL) {
		WRITE_ONCE(cc->would_fail, cc->would_fail + 1);
		vfa_note_program(cc, pages * KB_PER_PAGE, j.min_limit_kb);
	}
	ftrace_test_recursion_unlock(bit);
}

/*
 * Per CPU, the slot of the fork whose request it saw last: a fork's later
 * requests find their slot with one load, not a hash probe.  Only a hint:
 * the slot is the caller's only if its owner is (a task owns one slot at
 * most, and only it writes what the fast path reads there).
 */
static DEFINE_PER_CPU(struct vfa_forking *, vfa_forking_hint);

/* A request that is not a fork's later one (see vfa_commit_request()). */
static noinline void notrace vfa_commit_slow(unsigned long ip,
					     unsigned long parent_ip,
					     struct mm_struct *mm, long pages,
					     bool admin)
{
	struct vfa_forking *f;
	int slot;

	if (current->flags & VFA_NOT_USER)
		return;
	slot = vfa_forking_find();
	if (slot < 0)
		goto plain;
	f = &forking[slot];
	if (f->vm || f->done)
		goto plain;
	/* Left by a clone that failed before it asked: not this one's. */
	if (syscall_get_nr(current, task_pt_regs(current)) != f->nr) {
		if (!f->queued)
			vfa_forking_release(f);
		goto plain;
	}
	/* One VMA of a fork: judged with the whole fork. */
	this_cpu_write(vfa_forking_hint, f);
	if (!f->tried) {
		vfa_forking_first(f, mm, pages, admin);
		return;
	}
	f->tried += pages;
	return;
plain:
	vfa_commit_plain(ip, parent_ip, mm, pages, admin);
}

/*
 * __vm_enough_memory(mm, pages, cap_sys_admin), at its entry.  A fork
 * makes one request per accounted VMA, so this is the module's only work
 * that grows with the parent's size: a fork's later requests (its slot
 * is this CPU's hint, already counting) are a few loads and two stores.
 */
static __always_inline void vfa_commit_request(unsigned long ip,
					       unsigned long parent_ip,
					       struct mm_struct *mm,
					       long pages, bool admin)
{
	struct vfa_forking *f = this_cpu_read(vfa_forking_hint);

	/*
	 * tried > 0: neither a CLONE_VM clone's slot nor a fresh one.  A
	 * fork's requests come from dup_mmap(), one per VMA (pages > 0),
	 * and the kernel's CAP_SYS_ADMIN decision, taken from the task's
	 * credentials, is the same for each: kept from the first.
	 */
	if (likely(f && READ_ONCE(f->task) == current && f->tried > 0 &&
		   !f->done)) {
		f->tried += pages;
		return;
	}
	if (pages > 0)
		vfa_commit_slow(ip, parent_ip, mm, pages, admin);
}

static void notrace vfa_commit_entry(unsigned long ip, unsigned long parent_ip,
				     struct ftrace_ops *op,
				     struct ftrace_regs *fregs)
{
	vfa_commit_request(ip, parent_ip, (void *)vfa_ftrace_arg(fregs, 0),
			   vfa_ftrace_arg(fregs, 1), vfa_ftrace_arg(fregs, 2));
}

/*
 * No FTRACE_OPS_FL_RECURSION: with it, ftrace would wrap the callback in
 * its recursion lock, which disables preemption, and a fork's walk would
 * run non-preemptible (measured: cyclictest's worst case doubled on
 * PREEMPT_RT beside a 65,000-VMA parent).  Alone on the function, it is
 * called straight from the traced context; it guards its per-CPU part
 * itself.  (Another tracer on __vm_enough_memory() puts ftrace in list
 * mode, which disables preemption anyway: see walk_atomic.)
 */
static struct ftrace_ops vfa_commit_ops = {
	.func = vfa_commit_entry,
};

#ifdef VFA_DIRECT
/*
 * Where the kernel has ftrace direct calls (x86-64), the function's entry
 * calls vfa_commit_tramp instead, as it calls a BPF trampoline: it saves
 * the three argument registers and calls this, with none of ftrace's
 * trampoline around it (the register file saved and restored, the ops
 * looked up), which cost more than the callback itself.  Preemptible, as
 * the callback above.
 */
static void __used notrace vfa_commit_direct(struct mm_struct *mm, long pages,
					     int cap_sys_admin)
{
	vfa_commit_request(_THIS_IP_, _RET_IP_, mm, pages, cap_sys_admin);
}

VFA_DIRECT_TRAMPOLINE(vfa_commit_tramp, vfa_commit_direct);

static struct ftrace_ops vfa_commit_direct_ops;
static bool vfa_commit_is_direct;
#endif

/* The same, alone on kernel_clone(): its sum is preemptible too. */
static struct ftrace_ops vfa_clone_ops = {
	.func = vfa_clone_entry,
};

/* And on exit_mmap(): it may queue a task_work, which may sleep. */
static struct ftrace_ops vfa_exit_mmap_ops = {
	.func = vfa_exit_mmap,
};

void vfa_commit_stats(struct vfa_commit_stats *s)
{
	int cpu;

	u32 e = READ_ONCE(vfa_commit_epoch);

	memset(s, 0, sizeof(*s));
	for_each_possible_cpu(cpu) {
		const struct vfa_commit_cpu *cc = per_cpu_ptr(&vfa_commit_cpu,
							      cpu);

		/* Pairs with vfa_commit_here(): cleared before marked. */
		if (smp_load_acquire(&cc->epoch) != e)
			continue;	/* nothing since the reset */
		s->commits += READ_ONCE(cc->commits);
		s->would_fail += READ_ONCE(cc->would_fail);
		s->min_safe_kb = max_t(u64, s->min_safe_kb,
				       READ_ONCE(cc->min_safe_kb));
	}
	s->walks_atomic = atomic_long_read(&vfa_walks_atomic);
	s->misses = atomic_long_read(&vfa_slot_misses);
}

/*
 * Calls @fn on each program of each CPU's table; the same program can come
 * from several CPUs (the reader adds them up).
 */
void vfa_commit_programs(void (*fn)(const struct vfa_program *p, void *arg),
			 void *arg)
{
	u32 e = READ_ONCE(vfa_commit_epoch);
	struct vfa_program copy[VFA_PROGRAMS];
	unsigned int start;
	int cpu, i;

	for_each_possible_cpu(cpu) {
		struct vfa_commit_cpu *cc = per_cpu_ptr(&vfa_commit_cpu, cpu);

		/* As in vfa_commit_stats(). */
		if (smp_load_acquire(&cc->epoch) != e)
			continue;
		do {
			start = read_seqcount_begin(&cc->seq);
			memcpy(copy, cc->progs, sizeof(copy));
		} while (read_seqcount_retry(&cc->seq, start));
		for (i = 0; i < VFA_PROGRAMS; i++)
			if (copy[i].count)
				fn(&copy[i], arg);
	}
}

/* O(1): each CPU clears its own table at its next request. */
void vfa_commit_reset(void)
{
	WRITE_ONCE(vfa_commit_epoch, vfa_commit_epoch + 1);
}

/* An ftrace callback, alone on @func (see vfa_commit_ops); noreserve.c too. */
int vfa_hook(struct ftrace_ops *ops, const char *func)
{
	int ret;

	ret = ftrace_set_filter(ops, (unsigned char *)func, strlen(func), 0);
	if (!ret)
		ret = register_ftrace_function(ops);
	if (ret) {
		pr_err("cannot attach an ftrace callback to %s: %d\n", func,
		       ret);
		ftrace_free_filter(ops);
	}
	return ret;
}

void vfa_unhook(struct ftrace_ops *ops)
{
	unregister_ftrace_function(ops);
	ftrace_free_filter(ops);
}

/*
 * The commit callback: called directly where the kernel can, else through
 * ftrace's trampoline.  The direct call fails if another one is there
 * already (a BPF fentry program on __vm_enough_memory()).
 */
static int vfa_commit_hook(void)
{
#ifdef VFA_DIRECT
	static const char fn[] = "__vm_enough_memory";
	int ret;

	ret = ftrace_set_filter(&vfa_commit_direct_ops, (unsigned char *)fn,
				strlen(fn), 0);
	if (!ret)
		ret = vfa_register_direct(&vfa_commit_direct_ops,
					  (unsigned long)vfa_commit_tramp);
	if (!ret) {
		vfa_commit_is_direct = true;
		return 0;
	}
	ftrace_free_filter(&vfa_commit_direct_ops);
	pr_info("no direct call to the commit callback (%d): through ftrace's trampoline\n",
		ret);
#endif
	return vfa_hook(&vfa_commit_ops, "__vm_enough_memory");
}

static void vfa_commit_unhook(void)
{
#ifdef VFA_DIRECT
	if (vfa_commit_is_direct) {
		vfa_unregister_direct(&vfa_commit_direct_ops,
				      (unsigned long)vfa_commit_tramp);
		vfa_commit_is_direct = false;
		return;
	}
#endif
	vfa_unhook(&vfa_commit_ops);
}

int vfa_commit_init(void)
{
	int cpu, ret;

	for_each_possible_cpu(cpu)
		seqcount_init(&per_cpu_ptr(&vfa_commit_cpu, cpu)->seq);
	vfa_catch_committed_as();
	/*
	 * Failed forks seen before any slot is claimed, so that none is left
	 * to a later syscall; fork slots before requests, so that no fork's
	 * request passes for a plain one.
	 */
	ret = vfa_hook(&vfa_exit_mmap_ops, "exit_mmap");
	if (ret)
		return ret;
	ret = vfa_hook(&vfa_clone_ops, "kernel_clone");
	if (ret)
		goto err_exit_mmap;
	ret = vfa_commit_hook();
	if (ret)
		goto err_clone;
	return 0;
err_clone:
	vfa_unhook(&vfa_clone_ops);
err_exit_mmap:
	vfa_unhook(&vfa_exit_mmap_ops);
	vfa_forking_drain();
	return ret;
}

/* After the tracepoint probes: task_newtask may queue a task_work too. */
void vfa_commit_exit(void)
{
	vfa_commit_unhook();
	vfa_unhook(&vfa_clone_ops);
	vfa_unhook(&vfa_exit_mmap_ops);
	vfa_forking_drain();
}
