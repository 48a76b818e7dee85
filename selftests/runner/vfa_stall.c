// SPDX-License-Identifier: GPL-2.0
/*
 * vfa_stall: a module that keeps preemption disabled on one CPU for
 * `seconds` (default 30) when loaded, so that the test suite can prove its
 * VM runner still fails a run with a real stall, however it has been
 * tuned to stay green on a busy host.  Never load it anywhere else.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/module.h>
#include <linux/preempt.h>

static unsigned int seconds = 30;
module_param(seconds, uint, 0444);
MODULE_PARM_DESC(seconds, "How long to keep preemption disabled (s)");

static int __init vfa_stall_init(void)
{
	unsigned int i;

	pr_info("disabling preemption for %u s\n", seconds);
	preempt_disable();
	/* mdelay() spins on the clock: no scheduling point in between. */
	for (i = 0; i < seconds * 10; i++)
		mdelay(100);
	preempt_enable();
	pr_info("preemption enabled again\n");
	return 0;
}

static void __exit vfa_stall_exit(void)
{
}

module_init(vfa_stall_init);
module_exit(vfa_stall_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Deliberate long preempt-off stall for the vforkacct runner self-test");
