// SPDX-License-Identifier: GPL-2.0
/*
 * vforkacct: the strict-overcommit model and its parameters.
 *
 * Mirrors __vm_enough_memory() in mode 2 (mm/util.c): a fork's charge is
 * added to the system commit, and the fork fails unless the result stays
 * below   limit - admin_reserve (unless CAP_SYS_ADMIN)
 *               - min(parent total_vm / 32, user_reserve).
 * The kernel's limit and reserves are not exported to modules, so they
 * are parameters, synced from /proc/meminfo and /proc/sys/vm by userspace.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bits.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/user_namespace.h>

#include "vforkacct.h"

#define KB_PER_PAGE	(PAGE_SIZE / 1024)
/* No real CommitLimit is anywhere near this (2^50 kB = 1 EiB). */
#define VFA_MAX_KB	BIT(50)

static unsigned long limit_kb;
static unsigned long admin_reserve_kb = 8192;
static unsigned long user_reserve_kb = 131072;

/*
 * kstrtoul() takes an optional trailing newline (what `echo` writes) and
 * refuses signs, blanks and trailing junk.  Every refusal is EINVAL, as the
 * interface promises, and leaves the old value.
 */
static int vfa_param_set_kb(const char *val, const struct kernel_param *kp)
{
	unsigned long v;

	if (kstrtoul(val, 10, &v) || v > VFA_MAX_KB) {
		pr_err("invalid value for %s (want kB, 0..%lu)\n",
		       kp->name, VFA_MAX_KB);
		return -EINVAL;
	}
	WRITE_ONCE(*(unsigned long *)kp->arg, v);
	return 0;
}

static const struct kernel_param_ops vfa_kb_ops = {
	.set = vfa_param_set_kb,
	.get = param_get_ulong,
};

module_param_cb(limit_kb, &vfa_kb_ops, &limit_kb, 0644);
MODULE_PARM_DESC(limit_kb, "CommitLimit to judge forks against, kB (0: estimate 50% of RAM)");
module_param_cb(admin_reserve_kb, &vfa_kb_ops, &admin_reserve_kb, 0644);
MODULE_PARM_DESC(admin_reserve_kb, "as vm.admin_reserve_kbytes (default 8192)");
module_param_cb(user_reserve_kb, &vfa_kb_ops, &user_reserve_kb, 0644);
MODULE_PARM_DESC(user_reserve_kb, "as vm.user_reserve_kbytes (default 131072)");

long vfa_limit_kb(bool *estimated)
{
	unsigned long v = READ_ONCE(limit_kb);

	*estimated = !v;
	if (!v)
		v = totalram_pages() / 2 * KB_PER_PAGE;
	return v;
}

unsigned long vfa_admin_reserve_kb(void)
{
	return READ_ONCE(admin_reserve_kb);
}

unsigned long vfa_user_reserve_kb(void)
{
	return READ_ONCE(user_reserve_kb);
}

/*
 * CAP_SYS_ADMIN as cap_vm_enough_memory() sees it: effective, in the
 * initial user namespace.  Not capable(): that would audit and set
 * PF_SUPERPRIV on the forking task.
 */
bool vfa_has_sys_admin(const struct cred *cred)
{
	return cred->user_ns == &init_user_ns &&
	       cap_raised(cred->cap_effective, CAP_SYS_ADMIN);
}

void vfa_judge(bool sys_admin, unsigned long parent_total_vm,
	       unsigned long charge_pages, unsigned long committed_pages,
	       struct vfa_judgement *j)
{
	bool estimated;
	long limit = vfa_limit_kb(&estimated) / KB_PER_PAGE;
	long reserve = min_t(long, parent_total_vm / 32,
			     vfa_user_reserve_kb() / KB_PER_PAGE);
	long after = committed_pages;

	if (!sys_admin)
		reserve += vfa_admin_reserve_kb() / KB_PER_PAGE;

	j->committed_kb = (after - (long)charge_pages) * KB_PER_PAGE;
	j->allowed_kb = (limit - reserve) * KB_PER_PAGE;
	/*
	 * The kernel checks after adding each VMA's pages; the last check,
	 * with the whole charge added, is the one that decides.  A fork with
	 * nothing to charge is never checked, so it cannot fail.
	 */
	if (charge_pages && after >= limit - reserve)
		j->verdict = VFA_FAIL;
	else
		j->verdict = VFA_OK;
	/* It passes once limit - reserve > after. */
	j->min_limit_kb = charge_pages ? (after + reserve + 1) * KB_PER_PAGE : 0;
}
