// SPDX-License-Identifier: GPL-2.0
/*
 * vforkacct: instantiates the trace events of vforkacct_trace.h (the one
 * file with CREATE_TRACE_POINTS), and the names the events and /proc
 * share.
 */
#include "vforkacct.h"

#define CREATE_TRACE_POINTS
#include "vforkacct_trace.h"

static const char * const vfa_kinds[] = { "fork", "vfork", "vmclone" };
static const char * const vfa_verdicts[] = { "ok", "fail", "unknown" };
static const char * const vfa_outcomes[] = { "running", "exec", "exit", "refused" };

const char *vfa_kind_name(u8 kind)
{
	return kind < ARRAY_SIZE(vfa_kinds) ? vfa_kinds[kind] : "?";
}

const char *vfa_verdict_name(u8 verdict)
{
	return verdict < ARRAY_SIZE(vfa_verdicts) ? vfa_verdicts[verdict] : "?";
}

const char *vfa_outcome_name(u8 outcome)
{
	return outcome < ARRAY_SIZE(vfa_outcomes) ? vfa_outcomes[outcome] : "?";
}

void vfa_trace_fork(const struct vfa_record *r)
{
	trace_vforkacct_fork(r);
}

void vfa_trace_outcome(const struct vfa_record *r)
{
	trace_vforkacct_outcome(r);
}
