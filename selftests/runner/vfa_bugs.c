// SPDX-License-Identifier: GPL-2.0
/*
 * vfa_bugs: a module that, when loaded, commits the one bug its "bug"
 * parameter names, so that `make check-debug` can prove the debug kernel
 * catches each kind of bug the vforkacct module must never have: a leak
 * (kmemleak), a use after free (KASAN), sleeping while atomic
 * (DEBUG_ATOMIC_SLEEP), a lock order inversion (lockdep) and freeing an
 * armed timer (DEBUG_OBJECTS).  Never load it anywhere else.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timer.h>

static char *bug = "";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "The bug to commit: leak, uaf, sleep, lockorder or timer");

static DEFINE_SPINLOCK(spin);
static DEFINE_MUTEX(mutex_a);
static DEFINE_MUTEX(mutex_b);

static void timer_fn(struct timer_list *t)
{
}

static int __init vfa_bugs_init(void)
{
	struct timer_list *timer;
	char *p;

	if (!strcmp(bug, "leak")) {
		/* The only pointer to it is lost when this function returns. */
		p = kmalloc(256, GFP_KERNEL);
		if (!p)
			return -ENOMEM;
		memset(p, 0x5a, 256);
	} else if (!strcmp(bug, "uaf")) {
		p = kmalloc(64, GFP_KERNEL);
		kfree(p);
		OPTIMIZER_HIDE_VAR(p);
		pr_info("read after free: %d\n", READ_ONCE(p[8]));
	} else if (!strcmp(bug, "sleep")) {
		/* A GFP_KERNEL allocation may sleep: not under a spinlock. */
		spin_lock(&spin);
		p = kmalloc(64, GFP_KERNEL);
		spin_unlock(&spin);
		kfree(p);
	} else if (!strcmp(bug, "lockorder")) {
		/* One thread, so no deadlock: lockdep still sees A->B, B->A. */
		mutex_lock(&mutex_a);
		mutex_lock(&mutex_b);
		mutex_unlock(&mutex_b);
		mutex_unlock(&mutex_a);
		mutex_lock(&mutex_b);
		mutex_lock(&mutex_a);
		mutex_unlock(&mutex_a);
		mutex_unlock(&mutex_b);
	} else if (!strcmp(bug, "timer")) {
		timer = kmalloc(sizeof(*timer), GFP_KERNEL);
		if (!timer)
			return -ENOMEM;
		timer_setup(timer, timer_fn, 0);
		mod_timer(timer, jiffies + 100 * HZ);
		kfree(timer);	/* armed: debugobjects disarms it and complains */
	} else {
		pr_err("unknown bug '%s'\n", bug);
		return -EINVAL;
	}
	return 0;
}

static void __exit vfa_bugs_exit(void)
{
}

module_init(vfa_bugs_init);
module_exit(vfa_bugs_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Deliberate bugs for the debug kernel's self-test");
