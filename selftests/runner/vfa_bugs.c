// SPDX-License-Identifier: GPL-2.0
/*
 * vfa_bugs: a module that, when loaded, commits the one bug its "bug"
 * parameter names, so that `make check-debug` can prove the debug kernel
 * catches each kind of bug the vforkacct module must never have: a leak
 * (kmemleak), a use after free (KASAN), sleeping while atomic
 * (DEBUG_ATOMIC_SLEEP), a lock order inversion (lockdep), freeing an
 * armed timer (DEBUG_OBJECTS) and a data race (KCSAN).  Never load it
 * anywhere else.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timer.h>

static char *bug = "";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "The bug to commit: leak, uaf, sleep, lockorder, timer or race");

static DEFINE_SPINLOCK(spin);
static DEFINE_MUTEX(mutex_a);
static DEFINE_MUTEX(mutex_b);

static void timer_fn(struct timer_list *t)
{
}

/* Both sides update it with plain accesses: a data race. */
static int racy;

static int racer_fn(void *unused)
{
	while (!kthread_should_stop()) {
		racy++;
		cond_resched();
	}
	return 0;
}

/* Races with a kthread for 2 s, on the other CPU when there is one. */
static int vfa_race(void)
{
	struct task_struct *t = kthread_run(racer_fn, NULL, "vfa_racer");
	unsigned long end = jiffies + 2 * HZ;

	if (IS_ERR(t))
		return PTR_ERR(t);
	while (time_before(jiffies, end)) {
		racy++;
		cond_resched();
	}
	kthread_stop(t);
	return 0;
}

static int __init vfa_bugs_init(void)
{
	struct timer_list *timer;
	int ret = 0;
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
	} else if (!strcmp(bug, "race")) {
		ret = vfa_race();
	} else {
		pr_err("unknown bug '%s'\n", bug);
		return -EINVAL;
	}
	return ret;
}

static void __exit vfa_bugs_exit(void)
{
}

module_init(vfa_bugs_init);
module_exit(vfa_bugs_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Deliberate bugs for the debug kernel's self-test");
