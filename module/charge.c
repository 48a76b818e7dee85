// SPDX-License-Identifier: GPL-2.0
/*
 * vforkacct: what a fork is charged.
 *
 * dup_mmap() calls security_vm_enough_memory_mm() with the whole size of
 * every VM_ACCOUNT VMA it copies, and skips VM_DONTCOPY VMAs.  Walking the
 * new child's VMAs therefore gives the charge exactly; walking a live
 * process's VMAs gives its commit and what a fork of it would cost now.
 *
 * In modes 0 and 1 a MAP_NORESERVE mapping gets VM_NORESERVE and is never
 * accounted, not even when mprotect() makes it writable (glibc's thread
 * arenas).  Mode 2 ignores MAP_NORESERVE: such private writable memory
 * would be committed, and charged again by every fork.  Shared and
 * hugetlb mappings are not accounted in any mode, and MAP_DROPPABLE keeps
 * VM_NORESERVE in mode 2 too.  The caller holds the mm's mmap lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/string.h>

#include "compat.h"
#include "vforkacct.h"

/*
 * vma_pages(), read once: a stack VMA grows under the mmap lock taken for
 * reading (as /proc/vforkacct/tasks takes it), so its bounds can move.
 */
static unsigned long vfa_vma_pages(const struct vm_area_struct *vma)
{
	return (READ_ONCE(vma->vm_end) - READ_ONCE(vma->vm_start)) >>
	       PAGE_SHIFT;
}

void vfa_charge_walk(struct mm_struct *mm, struct vfa_charge *c)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;

	memset(c, 0, sizeof(*c));
	for_each_vma(vmi, vma) {
		vm_flags_t flags = vfa_vma_flags(vma);
		unsigned long pages = vfa_vma_pages(vma);

		if (flags & VM_ACCOUNT) {
			c->acct_pages += pages;
			if (!(flags & VM_DONTCOPY))
				c->fork_pages += pages;
		} else if ((flags & (VM_NORESERVE | VM_WRITE | VM_SHARED |
				     VM_HUGETLB | VFA_VM_DROPPABLE)) ==
			   (VM_NORESERVE | VM_WRITE)) {
			c->noreserve_pages += pages;
			if (!(flags & VM_DONTCOPY))
				c->noreserve_fork_pages += pages;
		}
	}
}

/*
 * Does @mm hold private MAP_NORESERVE memory that mode 2 would charge, now
 * or once mprotect() makes it writable?  Stops at the first such VMA.
 */
bool vfa_charge_has_noreserve(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;

	for_each_vma(vmi, vma)
		if ((vfa_vma_flags(vma) & (VM_NORESERVE | VM_ACCOUNT |
					   VM_SHARED | VM_HUGETLB |
					   VFA_VM_DROPPABLE)) == VM_NORESERVE)
			return true;
	return false;
}
