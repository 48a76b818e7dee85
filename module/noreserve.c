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
 * over, every fork is walked, as before.  An mm in the set wrongly costs
 * a walk; one missing from it would have its forks' noreserve_kB wrong,
 * hence every way in is covered.
 *
 * The set holds noreserve_size mms.  An add that finds no room marks it
 * full: every fork is walked from then on, and a work item watches the
 * set drain as mms go; once a quarter of it is free, the set is rebuilt
 * the way it was built at load (every fork walked and its child added
 * meanwhile, then a scan), for the adds it dropped while full.
 *
 * Lookups take no lock, for an entry never moves.  An mm hashes to two
 * buckets of eight entries (a cache line each) and is added, with
 * cmpxchg, to the emptier.  Each bucket counts its entries, raised before
 * an entry is stored and lowered after it is cleared: most buckets are
 * empty, so most lookups (one at every fork, one at every teardown) read
 * two counts and no entry.  An mm is added by the holder of its mmap lock
 * or by its forking parent, and removed by its teardown, after which
 * nobody adds it again; a duplicate (the scan and the fork of a new
 * child can race) is removed with it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>
#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/swab.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "vforkacct.h"

#define VFA_NR_WAYS	8

struct vfa_nr_bucket {
	struct mm_struct *mm[VFA_NR_WAYS];
} ____cacheline_aligned;

/* Rounded up to a power of two buckets of VFA_NR_WAYS, at load. */
static unsigned int noreserve_size = 16384;
module_param_cb(noreserve_size, &vfa_size_ops, &noreserve_size, 0444);
MODULE_PARM_DESC(noreserve_size, "processes known to hold MAP_NORESERVE memory at once (16..1048576, load time only)");

static struct vfa_nr_bucket *vfa_nr;
/* Per bucket, its entries in use, or about to be (see above). */
static atomic_t *vfa_nr_fill;
static unsigned int vfa_nr_bits;	/* log2 of the number of buckets */
/* The set holds every mm that may hold the memory: the scan is over. */
static bool vfa_nr_exact;
/* The callback at do_mmap() is in place: adds are taken. */
static bool vfa_nr_hooked;
/* An add found both buckets full: every fork is walked until rebuilt. */
static bool vfa_nr_full;
/* One scan at a time: at load, or a rebuild after the set was full. */
static DEFINE_MUTEX(vfa_nr_mutex);
static void vfa_nr_rebuild(struct work_struct *work);
static DECLARE_DELAYED_WORK(vfa_nr_rebuild_work, vfa_nr_rebuild);

static unsigned int notrace vfa_nr_index(const struct mm_struct *mm,
					 int which)
{
	unsigned long key = (unsigned long)mm;

	/* The second hash sees the address's other end. */
	if (which)
		key = ~swab64(key);
	return hash_long(key, vfa_nr_bits);
}

static bool notrace vfa_nr_has(const struct mm_struct *mm)
{
	unsigned int b;
	int w, i;

	for (w = 0; w < 2; w++) {
		b = vfa_nr_index(mm, w);
		if (!atomic_read(&vfa_nr_fill[b]))
			continue;
		for (i = 0; i < VFA_NR_WAYS; i++)
			if (READ_ONCE(vfa_nr[b].mm[i]) == mm)
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
	unsigned int b[2];
	int w, i;

	/* Not before the do_mmap() callback: the scan after it sees them. */
	if (!vfa_nr || !mm || !READ_ONCE(vfa_nr_hooked) ||
	    READ_ONCE(vfa_nr_full) || vfa_nr_has(mm))
		return;
	b[0] = vfa_nr_index(mm, 0);
	b[1] = vfa_nr_index(mm, 1);
	if (atomic_read(&vfa_nr_fill[b[1]]) < atomic_read(&vfa_nr_fill[b[0]]))
		swap(b[0], b[1]);
	for (w = 0; w < 2; w++) {
		struct vfa_nr_bucket *bk = &vfa_nr[b[w]];

		/* Counted before it can be seen; uncounted if no room. */
		atomic_inc(&vfa_nr_fill[b[w]]);
		for (i = 0; i < VFA_NR_WAYS; i++) {
			if (!READ_ONCE(bk->mm[i]) &&
			    !cmpxchg(&bk->mm[i], NULL, mm))
				return;
		}
		atomic_dec(&vfa_nr_fill[b[w]]);
	}
	/* The first to find it full says so, and has it rebuilt later. */
	if (!xchg(&vfa_nr_full, true)) {
		pr_warn_ratelimited("more than about %u processes hold MAP_NORESERVE memory (noreserve_size): every fork's VMAs are walked until they are fewer\n",
				    VFA_NR_WAYS << vfa_nr_bits);
		queue_delayed_work(system_unbound_wq, &vfa_nr_rebuild_work,
				   HZ);
	}
}

/*
 * May @mm hold private MAP_NORESERVE memory?  Exact once the scan at load
 * is over: false means it holds none.  The caller holds @mm's mmap lock,
 * or @mm is its own and cannot change meanwhile.
 */
bool notrace vfa_noreserve_maybe(const struct mm_struct *mm)
{
	/*
	 * Full first: a rebuild clears it after clearing exact, so one who
	 * sees it cleared sees exact cleared too, until the scan ends.
	 * Exact pairs with the end of a scan: what it added is seen.
	 */
	if (smp_load_acquire(&vfa_nr_full) || !smp_load_acquire(&vfa_nr_exact))
		return true;
	return vfa_nr_has(mm);
}

/*
 * The entries in use, counted over the whole set (128 KiB by default), so
 * that no add or removal shares a counter.  Read time and the rebuild only.
 */
static unsigned int vfa_nr_count(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < 1 << vfa_nr_bits; i++)
		n += vfa_nr_used(&vfa_nr[i]);
	return n;
}

/* The mms in the set, or -1: every fork is walked. */
long vfa_noreserve_mms(void)
{
	/* As in vfa_noreserve_maybe(). */
	if (smp_load_acquire(&vfa_nr_full) || !smp_load_acquire(&vfa_nr_exact))
		return -1;
	return vfa_nr_count();
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

/*
 * From commit.c's callback at exit_mmap()'s entry: @mm is going, and no
 * one adds it again.
 */
void notrace vfa_noreserve_gone(struct mm_struct *mm)
{
	unsigned int b;
	int w, i;

	if (!vfa_nr)
		return;
	for (w = 0; w < 2; w++) {
		b = vfa_nr_index(mm, w);
		if (!atomic_read(&vfa_nr_fill[b]))
			continue;
		for (i = 0; i < VFA_NR_WAYS; i++) {
			if (READ_ONCE(vfa_nr[b].mm[i]) != mm)
				continue;
			WRITE_ONCE(vfa_nr[b].mm[i], NULL);
			/* Uncounted once it cannot be seen. */
			atomic_dec(&vfa_nr_fill[b]);
		}
	}
}

/* Alone on its function, as in commit.c: no recursion wrapper. */
static struct ftrace_ops vfa_nr_mmap_ops = {
	.func = vfa_nr_mmap,
};

/*
 * Adds each process's mm that holds private MAP_NORESERVE memory already;
 * exact once it has seen them all.  A process born meanwhile is added by
 * its fork (every fork adds its child until the scan is over) or by its
 * own mmap.  Preemptible; under vfa_nr_mutex.  False if interrupted (no
 * memory, or insmod killed).
 */
static bool vfa_nr_scan(void)
{
	struct task_struct *task;
	struct pid **pids;
	unsigned int n, i;
	bool exact;

	pids = vfa_collect_pids(NULL, &n);
	if (!pids) {
		pr_warn_ratelimited("no memory to scan for MAP_NORESERVE memory: every fork's VMAs are walked meanwhile\n");
		return false;
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
	if (!exact)
		return false;
	/* Pairs with vfa_noreserve_maybe(): the adds above come first. */
	smp_store_release(&vfa_nr_exact, true);
	return true;
}

/*
 * At load, once every other hook is in place (the removal at exit_mmap()
 * is commit.c's): the callback at do_mmap() goes in, then the scan, and
 * whatever the scan misses, the hooks see.  Interrupted, it is done again
 * by the rebuild work.  Without the callback, every fork is walked.
 */
void vfa_noreserve_scan(void)
{
	bool exact;

	if (!vfa_nr)
		return;
	if (vfa_hook(&vfa_nr_mmap_ops, "do_mmap")) {
		pr_info("no MAP_NORESERVE set: every fork's VMAs are walked\n");
		return;
	}
	WRITE_ONCE(vfa_nr_hooked, true);
	mutex_lock(&vfa_nr_mutex);
	exact = vfa_nr_scan();
	mutex_unlock(&vfa_nr_mutex);
	if (!exact)
		queue_delayed_work(system_unbound_wq, &vfa_nr_rebuild_work, 0);
}

/*
 * The set was full, so some adds were dropped: once a quarter of it is
 * free again (its mms going one by one at their teardown), build it again
 * as at load.  Until then, look again every second: 128 KiB read, by
 * default, and only while the set is full.
 */
static void vfa_nr_rebuild(struct work_struct *work)
{
	unsigned int used = vfa_nr_count(), slots = VFA_NR_WAYS << vfa_nr_bits;

	if (used > slots - slots / 4) {
		queue_delayed_work(system_unbound_wq, &vfa_nr_rebuild_work, HZ);
		return;
	}
	mutex_lock(&vfa_nr_mutex);
	/* Every fork walked, and its child added, as at load; then... */
	WRITE_ONCE(vfa_nr_exact, false);
	/* ... adds again (pairs with vfa_noreserve_maybe()). */
	smp_store_release(&vfa_nr_full, false);
	/*
	 * An add that saw the set full dropped its mm.  A fork's add is in
	 * task_newtask, preemption off: once those are over, the child is
	 * among the processes the scan will see.  A do_mmap() add holds the
	 * mm's mmap lock, which the scan takes.
	 */
	synchronize_rcu();
	if (vfa_nr_scan())
		pr_info("MAP_NORESERVE set rebuilt: %u of %u entries were in use\n",
			used, slots);
	else	/* Out of memory for the list of processes: again later. */
		queue_delayed_work(system_unbound_wq, &vfa_nr_rebuild_work, HZ);
	mutex_unlock(&vfa_nr_mutex);
}

/*
 * The set, before any hook: without it (no memory, or the callback at
 * do_mmap() refused), every fork is walked: the module works as before,
 * only dearer.
 */
void vfa_noreserve_init(void)
{
	/* Two buckets at least: an mm has two to choose from. */
	vfa_nr_bits = max(ilog2(roundup_pow_of_two(noreserve_size) /
				VFA_NR_WAYS), 1);
	vfa_nr = kvcalloc(1 << vfa_nr_bits, sizeof(*vfa_nr), GFP_KERNEL);
	vfa_nr_fill = kvcalloc(1 << vfa_nr_bits, sizeof(*vfa_nr_fill),
			       GFP_KERNEL);
	if (vfa_nr && vfa_nr_fill)
		return;
	kvfree(vfa_nr_fill);
	kvfree(vfa_nr);
	vfa_nr = NULL;
	pr_info("no MAP_NORESERVE set: every fork's VMAs are walked\n");
}

/* After commit.c's hooks are gone: no removal comes any more. */
void vfa_noreserve_exit(void)
{
	if (!vfa_nr)
		return;
	if (vfa_nr_hooked)
		vfa_unhook(&vfa_nr_mmap_ops);
	vfa_nr_hooked = false;
	/* No add is left to queue it again: the probes went first. */
	cancel_delayed_work_sync(&vfa_nr_rebuild_work);
	kvfree(vfa_nr_fill);
	kvfree(vfa_nr);
	vfa_nr = NULL;
}
