/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vforkacct: the module's own trace events, for perf, trace-cmd and
 * bpftrace (tracepoint:vforkacct:*).  vforkacct_fork fires once per
 * logged record, vforkacct_outcome when a followed child execs or exits.
 * While nobody listens they cost a static-key branch.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vforkacct

#if !defined(VFORKACCT_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define VFORKACCT_TRACE_H

#include <linux/string.h>
#include <linux/tracepoint.h>

#include "vforkacct.h"

TRACE_EVENT(vforkacct_fork,
	    TP_PROTO(const struct vfa_record *r),
	    TP_ARGS(r),
	    TP_STRUCT__entry(__field(u64, seq)
			     __field(pid_t, ppid)
			     __field(pid_t, pid)
			     __array(char, comm, TASK_COMM_LEN)
			     __array(char, kind, VFA_STR_LEN)
			     __field(long, charge_kb)
			     __field(long, committed_kb)
			     __field(long, allowed_kb)
			     __array(char, verdict, VFA_STR_LEN)
			     __field(u32, uid)
			     __field(u64, cgroup_id)
			     __array(char, outcome, VFA_STR_LEN)
			     __field(long, noreserve_kb)
			     __field(u64, time_ns)),
	    TP_fast_assign(__entry->seq = r->seq;
			   __entry->ppid = r->ppid;
			   __entry->pid = r->pid;
			   memcpy(__entry->comm, r->comm, TASK_COMM_LEN);
			   vfa_trace_str(__entry->kind,
					 vfa_kind_name(r->kind));
			   __entry->charge_kb = r->charge_kb;
			   __entry->committed_kb = r->committed_kb;
			   __entry->allowed_kb = r->allowed_kb;
			   vfa_trace_str(__entry->verdict,
					 vfa_verdict_name(r->verdict));
			   __entry->uid = r->uid;
			   __entry->cgroup_id = r->cgroup_id;
			   vfa_trace_str(__entry->outcome,
					 vfa_outcome_name(r->outcome));
			   __entry->noreserve_kb = r->noreserve_kb;
			   __entry->time_ns = r->time_ns),
	    TP_printk("seq=%llu ppid=%d pid=%d comm=%s kind=%s charge_kb=%ld committed_kb=%ld allowed_kb=%ld verdict=%s uid=%u cgroup_id=%llu outcome=%s noreserve_kb=%ld time_ns=%llu",
		      __entry->seq, __entry->ppid, __entry->pid,
		      __entry->comm, __entry->kind, __entry->charge_kb,
		      __entry->committed_kb, __entry->allowed_kb,
		      __entry->verdict, __entry->uid, __entry->cgroup_id,
		      __entry->outcome, __entry->noreserve_kb,
		      __entry->time_ns)
);

TRACE_EVENT(vforkacct_outcome,
	    TP_PROTO(const struct vfa_record *r),
	    TP_ARGS(r),
	    TP_STRUCT__entry(__field(u64, seq)
			     __field(pid_t, pid)
			     __array(char, outcome, VFA_STR_LEN)
			     __field(u64, life_us)
			     __field(u64, faults)
			     __array(char, exec_comm, TASK_COMM_LEN)),
	    TP_fast_assign(__entry->seq = r->seq;
			   __entry->pid = r->pid;
			   vfa_trace_str(__entry->outcome,
					 vfa_outcome_name(r->outcome));
			   __entry->life_us = r->life_us;
			   __entry->faults = r->faults;
			   memcpy(__entry->exec_comm, r->exec_comm,
				  TASK_COMM_LEN)),
	    TP_printk("seq=%llu pid=%d outcome=%s life_us=%llu faults=%llu exec_comm=%s",
		      __entry->seq, __entry->pid, __entry->outcome,
		      __entry->life_us, __entry->faults, __entry->exec_comm)
);

#endif /* VFORKACCT_TRACE_H */

/* Out of tree: tell define_trace.h where this header lives. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE vforkacct_trace
#include <trace/define_trace.h>
