/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vforkacct: every kernel-version difference the module has to bridge,
 * in one place, so the other files read as plain kernel code.
 * Checked against Debian bookworm's 6.1 and 6.12 (generic and PREEMPT_RT).
 */
#ifndef VFORKACCT_COMPAT_H
#define VFORKACCT_COMPAT_H

#include <linux/sched.h>

/* 6.4 added PF_USER_WORKER (vhost workers); on older kernels nothing has it. */
#ifndef PF_USER_WORKER
#define PF_USER_WORKER 0
#endif

/* Tasks that are not user processes: never counted, never judged. */
#define VFA_NOT_USER (PF_KTHREAD | PF_IO_WORKER | PF_USER_WORKER)

/*
 * 6.16 moved sched_process_exit before exit_mm() and gave it a group_dead
 * argument.  The probe's prototype must match the tracepoint's exactly;
 * Kbuild looks for the argument in the kernel's headers.
 */
#ifdef VFA_EXIT_HAS_GROUP_DEAD
#define VFA_EXIT_PROBE_ARGS void *data, struct task_struct *p, bool group_dead
#else
#define VFA_EXIT_PROBE_ARGS void *data, struct task_struct *p
#endif

#endif /* VFORKACCT_COMPAT_H */
