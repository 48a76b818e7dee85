// SPDX-License-Identifier: GPL-2.0
/*
 * vforkacct: what a fork is charged.
 *
 * dup_mmap() calls security_vm_enough_memory_mm() with the whole size of
 * every VM_ACCOUNT VMA it copies, and skips VM_DONTCOPY VMAs.  Walking the
 * new child's VMAs therefore gives the charge exactly; walking a live
 * process's VMAs gives its commit and what a fork of it would cost now.
 * The caller holds the mm's mmap lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>

#include "compat.h"
#include "vforkacct.h"

void vfa_charge_walk(struct mm_struct *mm, struct vfa_charge *c)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;

	c->acct_pages = 0;
	c->fork_pages = 0;
	for_each_vma(vmi, vma) {
		vm_flags_t flags = vfa_vma_flags(vma);

		if (!(flags & VM_ACCOUNT))
			continue;
		c->acct_pages += vma_pages(vma);
		if (!(flags & VM_DONTCOPY))
			c->fork_pages += vma_pages(vma);
	}
}
