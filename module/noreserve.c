// SPDX-License-Identifier: GPL-2.0
/*
 * vforkacct: the address spaces that may hold MAP_NORESERVE memory.
 *
 * Mode 2 ignores MAP_NORESERVE, so it would charge a fork for the
 * parent's private MAP_NORESERVE memory too.  The kernel's own requests
 * do not show that memory: finding it means walking the parent's VMAs at
 * every fork, about as dear per VMA as a tenth of the fork's own copy.
 * Most processes never map any, so this set names the mms that may, and
 * only their forks are walked (commit.c).  An mm enters the set
 *  - when it maps private MAP_NORESERVE memory, of any protection (an
 *    ftrace callback at do_mmap()'s entry: glibc maps its thread arenas
 *    PROT_NONE and mprotect()s them writable later, with no request);
 *  - when it is forked from an mm in the set (task_newtask, before the
 *    child can run);
 *  - at load, when a scan of every process finds such a VMA;
 * and leaves it at its teardown (exit_mmap()).  Until the scan at load is
 * over, and if the set ever overflows, every fork is walked, as before.
 * An mm in the set wrongly costs a walk; one missing from it would have
 * its forks' noreserve_kB wrong, hence every way in is covered.
 *
 * Lookups take no lock, for an entry never moves.  An mm hashes to two
 * buckets of eight entries (a cache line each) and is added, with
 * cmpxchg, to the emptier.  An mm is added by the holder of its mmap lock
 * or by its forking parent, and removed by its teardown, after which
 * nobody adds it again; a duplicate (the scan and the fork of a new
 * child can race) is removed with it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>
#include <linux/hash.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/swab.h>

#include "compat.h"
#include "vforkacct.h"

#define VFA_NR_BITS	11
#define VFA_NR_WAYS	8

struct vfa_nr_bucket {
	struct mm_struct *mm[VFA_NR_WAYS];
} ____cacheline_aligned;

static struct vfa_nr_bucket *vfa_nr;
/* The set holds every mm that may hold the memory: the scan is over. */
static bool vfa_nr_exact;
/* An add found both buckets full: every fork is walked from then on. */
static bool vfa_nr_full;

static struct vfa_nr_bucket *notrace vfa_nr_bucket(const struct mm_struct *mm,
						   int which)
{
	unsigned long key = (unsigned long)mm;

	/* The second hash sees the address's other end. */
	if (which)
		key = ~swab64(key);
	return &vfa_nr[hash_long(key, VFA_NR_BITS)];
}

static bool notrace vfa_nr_has(const struct mm_struct *mm)
{
	int w, i;

	for (w = 0; w < 2; w++) {
		const struct vfa_nr_bucket *b = vfa_nr_bucket(mm, w);

		for (i = 0; i < VFA_NR_WAYS; i++)
			if (READ_ONCE(b->mm[i]) == mm)
				return true;
	}
	return false;
}

static int notrace vfa_nr_used(const struct vfa_nr_bucket *b)
{
	int i, n = 0;

	for (i = 0; i < VFA_NR_WAYS; i++)
		n += !!READ_ONCE(b->mm[i]);
	return n;
}

/* Adds @mm to the set; any context.  O(1): at most two cache lines. */
void notrace vfa_noreserve_add(struct mm_struct *mm)
{
	struct vfa_nr_bucket *b[2];
	int w, i;

	if (!vfa_nr || !mm || READ_ONCE(vfa_nr_full) || vfa_nr_has(mm))
		return;
	b[0] = vfa_nr_bucket(mm, 0);
	b[1] = vfa_nr_bucket(mm, 1);
	if (vfa_nr_used(b[1]) < vfa_nr_used(b[0]))
		swap(b[0], b[1]);
	for (w = 0; w < 2; w++) {
		for (i = 0; i < VFA_NR_WAYS; i++) {
			if (!READ_ONCE(b[w]->mm[i]) &&
			    !cmpxchg(&b[w]->mm[i], NULL, mm))
				return;
		}
	}
	WRITE_ONCE(vfa_nr_full, true);
	pr_warn_once("more than about %d processes hold MAP_NORESERVE memory: every fork's VMAs are walked from now on (reload to recover)\n",
		     VFA_NR_WAYS << VFA_NR_BITS);
}

/*
 * May @mm hold private MAP_NORESERVE memory?  Exact once the scan at load
 * is over: false means it holds none.  The caller holds @mm's mmap lock,
 * or @mm is its own and cannot change meanwhile.
 */
bool notrace vfa_noreserve_maybe(const struct mm_struct *mm)
{
	/* Pairs with the end of the scan: what it added is seen. */
	if (!smp_load_acquire(&vfa_nr_exact) || READ_ONCE(vfa_nr_full))
		return true;
	return vfa_nr_has(mm);
}

/*
 * The mms in the set, or -1: every fork is walked.  Counted at read time
 * (the whole set, 128 KiB), so that no add or removal shares a counter.
 */
long vfa_noreserve_mms(void)
{
	long n = 0;
	int i;

	/* As in vfa_noreserve_maybe(). */
	if (!smp_load_acquire(&vfa_nr_exact) || READ_ONCE(vfa_nr_full))
		return -1;
	for (i = 0; i < 1 << VFA_NR_BITS; i++)
		n += vfa_nr_used(&vfa_nr[i]);
	return n;
}

/* do_mmap(file, addr, len, prot, flags, ...), at its entry */
static void notrace vfa_nr_mmap(unsigned long ip, unsigned long parent_ip,
				struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	unsigned long flags = vfa_ftrace_arg(fregs, 4);

	/*
	 * Shared and droppable mappings are never charged; hugetlb is not
	 * either, and the walk leaves it out.
	 */
	if ((flags & MAP_NORESERVE) && (flags & MAP_TYPE) == MAP_PRIVATE)
		vfa_noreserve_add(current->mm);
}

/* exit_mmap(mm), at its entry: the mm is going; no one adds it again. */
static void notrace vfa_nr_exit_mmap(unsigned long ip, unsigned long parent_ip,
				     struct ftrace_ops *op,
				     struct ftrace_regs *fregs)
{
	struct mm_struct *mm = (void *)vfa_ftrace_arg(fregs, 0);
	int w, i;

	for (w = 0; w < 2; w++) {
		struct vfa_nr_bucket *b = vfa_nr_bucket(mm, w);

		for (i = 0; i < VFA_NR_WAYS; i++)
			if (READ_ONCE(b->mm[i]) == mm)
				WRITE_ONCE(b->mm[i], NULL);
	}
}

/* Alone on their functions, as in commit.c: no recursion wrapper. */
static struct ftrace_ops vfa_nr_mmap_ops = {
	.func = vfa_nr_mmap,
};

static struct ftrace_ops vfa_nr_exit_ops = {
	.func = vfa_nr_exit_mmap,
};

/*
 * At load, once every hook is in place: add each process's mm that holds
 * private MAP_NORESERVE memory already.  A process born meanwhile is
 * added by its fork (every fork adds its child until the scan is over)
 * or by its own mmap.  Preemptible, once.
 */
void vfa_noreserve_scan(void)
{
	struct task_struct *task;
	struct pid **pids;
	unsigned int n, i;
	bool exact;

	if (!vfa_nr)
		return;
	pids = vfa_collect_pids(NULL, &n);
	if (!pids) {
		pr_warn("no memory to scan for MAP_NORESERVE memory: every fork's VMAs are walked\n");
		return;
	}
	for (i = 0; i < n; i++) {
		struct mm_struct *mm = NULL;

		task = get_pid_task(pids[i], PIDTYPE_TGID);
		if (task) {
			mm = get_task_mm(task);
			put_task_struct(task);
		}
		/* insmod killed meanwhile: not exact, every fork walked. */
		if (mm && mmap_read_lock_killable(mm)) {
			mmput(mm);
			break;
		}
		if (mm) {
			if (vfa_charge_has_noreserve(mm))
				vfa_noreserve_add(mm);
			mmap_read_unlock(mm);
			mmput(mm);
		}
		cond_resched();
	}
	exact = i == n;
	for (i = 0; i < n; i++)
		put_pid(pids[i]);
	kvfree(pids);
	if (!exact) {
		pr_warn("scan for MAP_NORESERVE memory interrupted: every fork's VMAs are walked\n");
		return;
	}
	/* Pairs with vfa_noreserve_maybe(): the adds above come first. */
	smp_store_release(&vfa_nr_exact, true);
}

/*
 * Without the set (no memory, or a hook refused), every fork is walked:
 * the module works as before, only dearer.
 */
void vfa_noreserve_init(void)
{
	vfa_nr = kvcalloc(1 << VFA_NR_BITS, sizeof(*vfa_nr), GFP_KERNEL);
	if (!vfa_nr)
		goto err;
	/* Removal first: no entry outlives its mm. */
	if (vfa_hook(&vfa_nr_exit_ops, "exit_mmap"))
		goto err_free;
	if (vfa_hook(&vfa_nr_mmap_ops, "do_mmap"))
		goto err_exit;
	return;
err_exit:
	vfa_unhook(&vfa_nr_exit_ops);
err_free:
	kvfree(vfa_nr);
	vfa_nr = NULL;
err:
	pr_info("no MAP_NORESERVE set: every fork's VMAs are walked\n");
}

void vfa_noreserve_exit(void)
{
	if (!vfa_nr)
		return;
	vfa_unhook(&vfa_nr_mmap_ops);
	vfa_unhook(&vfa_nr_exit_ops);
	kvfree(vfa_nr);
	vfa_nr = NULL;
}
