// SPDX-License-Identifier: GPL-2.0
/*
 * vfa_warn: a module whose only job is to WARN when loaded, so that the
 * test suite can prove its VM runner fails a run whose kernel log holds a
 * warning.  Never load it anywhere else.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bug.h>
#include <linux/module.h>

static int __init vfa_warn_init(void)
{
	WARN(1, "deliberate warning to test the VM runner\n");
	return 0;
}

static void __exit vfa_warn_exit(void)
{
}

module_init(vfa_warn_init);
module_exit(vfa_warn_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Deliberate WARN for the vforkacct runner self-test");
