// SPDX-License-Identifier: GPL-2.0
/*
 * vfa_stall: a module that keeps preemption disabled on one CPU for
 * `seconds` (default 45) when loaded, so that the test suite can prove its
 * VM runner still fails a run with a real stall, however it has been
 * tuned to stay green on a busy host.  Never load it anywhere else.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/preempt.h>

static unsigned int seconds = 45;
module_param(seconds, uint, 0444);
MODULE_PARM_DESC(seconds, "How long to keep preemption disabled (s)");

static int __init vfa_stall_init(void)
{
	unsigned long start, end;

	pr_info("disabling preemption for %u s\n", seconds);
	preempt_disable();
	/*
	 * Spin on jiffies, the clock RCU's stall detector reads, not with
	 * mdelay(), which trusts the TSC rate calibrated at boot: a CI run saw
	 * no detector fire during mdelay()'s "30 s" (a calibration off under
	 * emulation on a loaded host is the likely cause).  The tick still
	 * runs (interrupts are on).
	 */
	start = jiffies;
	end = start + seconds * HZ;
	while (time_before(jiffies, end))
		cpu_relax();
	preempt_enable();
	pr_info("preemption enabled again after %u ms\n",
		jiffies_to_msecs(jiffies - start));
	return 0;
}

static void __exit vfa_stall_exit(void)
{
}

module_init(vfa_stall_init);
module_exit(vfa_stall_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Deliberate long preempt-off stall for the vforkacct runner self-test");
