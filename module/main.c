// SPDX-License-Identifier: GPL-2.0
/*
 * vforkacct: which forks would strict overcommit break?
 *
 * Linux charges a forked child for its parent's whole private writable
 * address space; under vm.overcommit_memory=2 a big process's fork() then
 * fails even if the child would exec at once.  This module watches every
 * fork, computes exactly what the kernel charged, judges it against a
 * configurable strict limit, follows the child to its exec or exit, and
 * reports it all in /proc/vforkacct/.  It only observes: it never changes
 * what the kernel does.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>

#include "vforkacct.h"

static int __init vfa_init(void)
{
	int ret;

	ret = vfa_ledger_init();
	if (ret)
		return ret;
	/* Before procfs, gone after it: summary reads the set. */
	vfa_noreserve_init();
	ret = vfa_procfs_init();
	if (ret)
		goto err_noreserve;
	ret = vfa_commit_init();
	if (ret)
		goto err_procfs;
	ret = vfa_hooks_init();
	if (ret)
		goto err_commit;
	/* Every hook in place: whatever the scan misses, they see. */
	vfa_noreserve_scan();
	pr_info("loaded: log_size %u\n", vfa_log_size());
	return 0;

err_commit:
	vfa_commit_exit();
err_procfs:
	vfa_procfs_exit();
err_noreserve:
	vfa_noreserve_exit();
	vfa_ledger_exit();
	return ret;
}

static void __exit vfa_exit(void)
{
	vfa_hooks_exit();
	vfa_commit_exit();
	vfa_procfs_exit();
	vfa_noreserve_exit();
	vfa_ledger_exit();
	pr_info("unloaded\n");
}

module_init(vfa_init);
module_exit(vfa_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("vforkacct developers");
MODULE_DESCRIPTION("Predict which forks strict overcommit would refuse");
