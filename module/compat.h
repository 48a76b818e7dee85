/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vforkacct: every kernel-version difference the module has to bridge,
 * in one place, so the other files read as plain kernel code.
 * Kbuild detects each difference in the kernel's own headers and passes
 * a -D flag.  Checked against Debian's 6.1, 6.12 (generic and PREEMPT_RT),
 * 7.2 and 7.3 (generic and PREEMPT_RT), amd64 and arm64.
 */
#ifndef VFORKACCT_COMPAT_H
#define VFORKACCT_COMPAT_H

#include <linux/cgroup.h>
#include <linux/ftrace.h>
#include <linux/mm.h>
#include <linux/mm_types.h>
#include <linux/sched.h>

/* 6.4 added PF_USER_WORKER (vhost workers); on older kernels nothing has it. */
#ifndef PF_USER_WORKER
#define PF_USER_WORKER 0
#endif

/* Tasks that are not user processes: never counted, never judged. */
#define VFA_NOT_USER (PF_KTHREAD | PF_IO_WORKER | PF_USER_WORKER)

/*
 * 6.16 moved sched_process_exit before exit_mm() and gave it a group_dead
 * argument: true for the thread whose exit ends the process (the one that
 * took signal->live to zero).  Older kernels fire after that decrement, so
 * reading signal->live there tells the same.  The probe's prototype must
 * match the tracepoint's exactly (hooks.c has the compiler check it).
 */
#ifdef VFA_EXIT_HAS_GROUP_DEAD
#define VFA_EXIT_PROBE_ARGS void *data, struct task_struct *p, bool group_dead
#define VFA_EXIT_GROUP_DEAD(p) (group_dead)
#else
#define VFA_EXIT_PROBE_ARGS void *data, struct task_struct *p
#define VFA_EXIT_GROUP_DEAD(p) (!atomic_read(&(p)->signal->live))
#endif

/* 6.18 widened task_newtask's clone_flags to u64 (the clone3 flags). */
#ifdef VFA_NEWTASK_U64_FLAGS
#define VFA_CLONE_FLAGS_T u64
#else
#define VFA_CLONE_FLAGS_T unsigned long
#endif

/*
 * Mainline is turning vma->vm_flags into a vma_flags_t bitmap; vm_flags
 * stays only as a "temporary" alias.  Every VMA flag test goes through
 * here, so the module keeps building when the alias goes.
 */
static inline vm_flags_t vfa_vma_flags(const struct vm_area_struct *vma)
{
#ifdef VFA_HAS_VMA_FLAGS_T
	return vma_flags_to_legacy(vma->flags);
#else
	return vma->vm_flags;
#endif
}

/* 6.11 added MAP_DROPPABLE (VM_DROPPABLE, VM_NONE where unsupported). */
#ifdef VM_DROPPABLE
#define VFA_VM_DROPPABLE VM_DROPPABLE
#else
#define VFA_VM_DROPPABLE VM_NONE
#endif

/*
 * The arguments of a function at its entry, in an ftrace callback: 6.12
 * added accessors (ftrace_regs became opaque); 6.1's x86 ftrace_regs is a
 * pt_regs with the argument registers filled in.
 */
#ifdef VFA_HAS_FTRACE_REGS_H
#define vfa_ftrace_arg(fregs, n) ftrace_regs_get_argument(fregs, n)
#else
#define vfa_ftrace_arg(fregs, n) regs_get_kernel_argument(&(fregs)->regs, n)
#endif

/*
 * The cgroup v2 id of @p's cgroup (what cgroup2's directory inode numbers
 * and bpf_get_current_cgroup_id() show), 0 without cgroups.  The caller
 * is in an RCU read-side section (a probe, preemption off).
 */
static inline u64 vfa_task_cgroup_id(struct task_struct *p)
{
#ifdef CONFIG_CGROUPS
	return cgroup_id(task_dfl_cgroup(p));
#else
	return 0;
#endif
}

/*
 * A counter the CPU reads in a few instructions, at a rate the kernel
 * knows (kHz, read at read time: x86 refines tsc_khz after boot), for
 * timing the module's own work (vfa_ticks() in vforkacct.h).  x86-64: the
 * TSC; arm64: the generic timer's count at CNTFRQ.  Rate 0: none.
 */
#if defined(CONFIG_X86_64)
#include <asm/tsc.h>
#define vfa_counter_read() rdtsc()
#define vfa_counter_khz() (boot_cpu_has(X86_FEATURE_TSC) ? tsc_khz : 0)
#elif defined(CONFIG_ARM64) && defined(CONFIG_ARM_ARCH_TIMER)
#include <asm/arch_timer.h>
#define vfa_counter_read() get_cycles()
#define vfa_counter_khz() (arch_timer_get_cntfrq() / 1000)
#else
#define vfa_counter_read() 0ULL
#define vfa_counter_khz() 0U
#endif

/*
 * x86-64 kernels with ftrace direct calls: a function's entry can call a
 * trampoline of the module's own, as it calls a BPF trampoline, instead
 * of ftrace's (commit.c).  6.5 renamed 6.1's ops-based API from
 * register_ftrace_direct_multi() and gave the unregister a free_filters
 * argument.  VFA_DIRECT_TRAMPOLINE(name, fn) defines name(): it keeps the
 * traced function's three argument registers across fn(them) and returns
 * into the traced function (endbr, call-depth accounting and return
 * thunk as the kernel's own samples/ftrace have them).
 */
#if defined(CONFIG_X86_64) && defined(CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS)
#define VFA_DIRECT 1
#include <asm/ibt.h>
#include <asm/linkage.h>
#include <asm/nospec-branch.h>

#ifndef CALL_DEPTH_ACCOUNT
#define CALL_DEPTH_ACCOUNT ""
#endif

#define VFA_DIRECT_TRAMPOLINE(name, fn)				\
	asm(".pushsection .text, \"ax\", @progbits\n"		\
	    ".type " #name ", @function\n"				\
	    ".globl " #name "\n"					\
	    #name ":\n"						\
	    ASM_ENDBR						\
	    "pushq %rbp\n"						\
	    "movq %rsp, %rbp\n"					\
	    CALL_DEPTH_ACCOUNT					\
	    "pushq %rdi\n"						\
	    "pushq %rsi\n"						\
	    "pushq %rdx\n"						\
	    "call " #fn "\n"					\
	    "popq %rdx\n"						\
	    "popq %rsi\n"						\
	    "popq %rdi\n"						\
	    "leave\n"						\
	    ASM_RET						\
	    ".size " #name ", .-" #name "\n"			\
	    ".popsection\n")

static inline int vfa_register_direct(struct ftrace_ops *ops,
				      unsigned long addr)
{
#ifdef VFA_DIRECT_MULTI
	return register_ftrace_direct_multi(ops, addr);
#else
	return register_ftrace_direct(ops, addr);
#endif
}

/* Also frees @ops's filter. */
static inline void vfa_unregister_direct(struct ftrace_ops *ops,
					 unsigned long addr)
{
#ifdef VFA_DIRECT_MULTI
	unregister_ftrace_direct_multi(ops, addr);
	ftrace_free_filter(ops);
#else
	unregister_ftrace_direct(ops, addr, true);
#endif
}
#endif

#endif /* VFORKACCT_COMPAT_H */
